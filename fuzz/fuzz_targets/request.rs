//! burrow-helper's command line (`request::parse`): the input is argv without
//! argv[0], one word per NUL-separated piece, any bytes (execve passes bytes,
//! not UTF-8). Whatever parses must name only fds the helper may hold, carry
//! values of the right shape, and print back (`to_args`) to the same request.
#![no_main]

use burrow_shared::cgroup_policy::valid_name;
use burrow_shared::ids::check_map;
use burrow_shared::request::{self, MAX_TARGET_FD, Request, valid_ifname};
use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

fuzz_target!(|data: &[u8]| {
    let args: Vec<OsString> = match data {
        [] => Vec::new(),
        _ => data
            .split(|&b| b == 0)
            .map(|w| OsString::from_vec(w.to_vec()))
            .collect(),
    };
    let Ok(request) = request::parse(&args) else {
        return;
    };
    assert!(request.fds().iter().all(|fd| (3..=MAX_TARGET_FD).contains(fd)));
    let words = match &request {
        Request::Idmap(r) => {
            assert!(!r.uid.is_empty() || !r.gid.is_empty());
            // The helper checks each map next; that must not panic either.
            let _ = (check_map(&r.uid), check_map(&r.gid));
            r.to_args()
        }
        Request::Veth(r) => {
            assert!(valid_ifname(&r.bridge));
            r.to_args()
        }
        Request::Cgroup(r) => {
            assert!(valid_name(&r.name));
            r.to_args()
        }
    };
    let words: Vec<OsString> = words.into_iter().map(OsString::from).collect();
    assert_eq!(request::parse(&words), Ok(request));
});
