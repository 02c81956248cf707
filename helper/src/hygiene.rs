//! Process hygiene, the first thing burrow-helper does. Runs setuid root
//! (euid 0, full capabilities), before any input is interpreted. Untrusted:
//! all the state the caller carried across execve — open and closed fds,
//! environment, signal dispositions and mask, umask, argv.

use crate::error::Error;
use crate::sys;
use burrow_shared::exit;
use nix::sys::resource::{Resource, getrlimit};
use std::io::{self, Write};
use std::os::fd::RawFd;

/// A panic prints this one fixed line and exits 70 without unwinding: no
/// panic message (it could carry attacker-chosen text), no destructor.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|_| {
        let _ = std::io::stderr().write_all(b"burrow-helper: internal error\n");
        sys::exit_now(exit::INTERNAL);
    }));
}

/// Makes fds 0, 1 and 2 valid, so that no file the helper opens later lands
/// on a stdio number where a stray write or read would reach it.
pub fn make_stdio_valid() {
    for fd in 0..3 {
        // open returns the lowest free fd: `fd`, since all below it are open.
        if !sys::fd_is_open(fd) && sys::open_dev_null().ok() != Some(fd) {
            sys::exit_now(exit::OS_ERROR);
        }
    }
}

/// Empty environment, umask 022, not dumpable (so the caller cannot ptrace
/// the helper or read its memory once it runs as the caller's uid), default
/// signal dispositions, every signal blocked (a caller's SIGTERM cannot stop
/// the helper between two writes); then the caller's resource limits
/// are checked (`check_limits`).
pub fn reset_inherited_state() -> Result<(), Error> {
    // SECURITY: only removes inherited state; PR_SET_DUMPABLE 0 keeps
    // /proc/self of the helper root-owned and unptraceable (bubblewrap
    // CVE-2016-8659 was a dumpable privileged process).
    sys::clear_env_umask_undumpable().map_err(|e| Error::os("resetting the process state", e))?;
    sys::reset_signals().map_err(|e| Error::os("resetting signals", e))?;
    check_limits()
}

/// The soft limits the helper needs at least: many times what any operation
/// uses (at most 24 fds, for cgroup with six hierarchies; some 5 MiB of
/// address space; a 16 KiB stack), so that no operation can run out half-way.
const MIN_LIMITS: [(Resource, &str, u64); 4] = [
    (Resource::RLIMIT_NOFILE, "RLIMIT_NOFILE", 64),
    (Resource::RLIMIT_AS, "RLIMIT_AS", 64 << 20),
    (Resource::RLIMIT_DATA, "RLIMIT_DATA", 32 << 20),
    (Resource::RLIMIT_STACK, "RLIMIT_STACK", 256 << 10),
];

/// Refuses to start work under resource limits too small to finish it: a
/// limit hit half-way (EMFILE, a failed allocation, a stack overflow)
/// would stop an operation at a random point, some of them killing the
/// helper without its roll-back. The caller chose the limits across execve;
/// unlimited is RLIM_INFINITY, the largest value.
fn check_limits() -> Result<(), Error> {
    let doing = "checking resource limits";
    for (resource, name, min) in MIN_LIMITS {
        let (soft, _) = getrlimit(resource).map_err(|e| Error::os(doing, io::Error::from(e)))?;
        if soft < min {
            return Err(Error::os(
                doing,
                format!("{name} is {soft}, below the {min} the helper needs"),
            ));
        }
    }
    Ok(())
}

/// Closes every fd above stderr except `keep` (the fds the request names).
pub fn close_inherited_fds(keep: &[RawFd]) -> Result<(), Error> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter_map(|&fd| u32::try_from(fd).ok())
        .filter(|&fd| fd >= 3)
        .collect();
    keep.sort_unstable();
    keep.push(u32::MAX);
    let mut first = 3;
    for kept in keep {
        if kept > first {
            sys::close_range(first, kept - 1).map_err(|e| Error::os("closing inherited fds", e))?;
        }
        first = kept.saturating_add(1);
    }
    Ok(())
}
