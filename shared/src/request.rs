//! The helper's command line: the one wire format between the runner, which
//! builds it with `to_args`, and burrow-helper, which parses it with `parse`.
//! In the helper every argument is attacker-controlled: parsing is strict,
//! bounded, and never panics. Policy is not checked here, only shape.
//!
//! ```text
//! burrow-helper idmap --proc-fd FD [--uid NS:HOST:COUNT]... [--gid NS:HOST:COUNT]...
//! burrow-helper veth --netns-fd FD --bridge BRIDGE
//! burrow-helper cgroup --proc-fd FD --name NAME
//! ```
//!
//! FD is inherited from the caller: for idmap and cgroup an open directory
//! `/proc/PID` of the target process, for veth an nsfs fd on the target's
//! network namespace. The helper never opens a path the caller names; NAME is
//! one cgroup name component (`cgroup_policy::valid_name`).

use crate::cgroup_policy::valid_name;
use crate::ids::{IdKind, IdMapping, MAX_MAP_LINES, parse_decimal_u32};
use std::ffi::OsString;
use std::fmt;
use std::os::fd::RawFd;

pub const USAGE: &str = "usage: burrow-helper idmap --proc-fd FD [--uid NS:HOST:COUNT]... [--gid NS:HOST:COUNT]...
       burrow-helper veth --netns-fd FD --bridge BRIDGE
       burrow-helper cgroup --proc-fd FD --name NAME";

/// Inherited fds the helper accepts: never stdio, and below a small bound.
pub const MAX_TARGET_FD: RawFd = 1023;

/// Longer than any valid argument; a longer one is refused unread.
const MAX_ARG_LEN: usize = 64;
/// The operation, `--proc-fd FD`, and 340 lines of each map as option pairs.
const MAX_ARGS: usize = 3 + 4 * MAX_MAP_LINES;

#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    Idmap(IdmapRequest),
    Veth(VethRequest),
    Cgroup(CgroupRequest),
}

#[derive(Debug, PartialEq, Eq)]
pub struct IdmapRequest {
    pub proc_fd: RawFd,
    pub uid: Vec<IdMapping>,
    pub gid: Vec<IdMapping>,
}

impl IdmapRequest {
    pub fn map(&self, kind: IdKind) -> &[IdMapping] {
        match kind {
            IdKind::Uid => &self.uid,
            IdKind::Gid => &self.gid,
        }
    }

    /// The helper's arguments (without argv[0]) for this request.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec!["idmap".to_owned(), "--proc-fd".to_owned(), self.proc_fd.to_string()];
        for kind in [IdKind::Uid, IdKind::Gid] {
            for mapping in self.map(kind) {
                args.push(format!("--{}", kind.name()));
                args.push(mapping.to_arg());
            }
        }
        args
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct VethRequest {
    pub netns_fd: RawFd,
    /// A valid interface name (`valid_ifname`); policy is checked by the helper.
    pub bridge: String,
}

impl VethRequest {
    /// The helper's arguments (without argv[0]) for this request.
    pub fn to_args(&self) -> Vec<String> {
        let fd = self.netns_fd.to_string();
        ["veth", "--netns-fd", &fd, "--bridge", &self.bridge]
            .map(str::to_owned)
            .to_vec()
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct CgroupRequest {
    pub proc_fd: RawFd,
    /// The leaf's name, a valid cgroup name (`cgroup_policy::valid_name`).
    pub name: String,
    /// `cgroup-init`: for a container whose init manages cgroups (systemd),
    /// a leaf in the cgroup2 hierarchy too where it holds no controller (a
    /// hybrid host: `cgroup_policy::cgroup_mounts`).
    pub for_init: bool,
}

impl CgroupRequest {
    /// The helper's arguments (without argv[0]) for this request.
    pub fn to_args(&self) -> Vec<String> {
        let (fd, op) = (
            self.proc_fd.to_string(),
            ["cgroup", "cgroup-init"][usize::from(self.for_init)],
        );
        [op, "--proc-fd", &fd, "--name", &self.name].map(str::to_owned).to_vec()
    }
}

/// Whether the kernel would accept `name` as an interface name (its
/// `dev_valid_name`): 1 to 15 bytes, not `.` or `..`, no `/`, `:` or
/// whitespace. Control characters (NUL among them) are refused as well, so
/// that a name always prints as part of one line.
pub fn valid_ifname(name: &str) -> bool {
    let bad = |c: char| c == '/' || c == ':' || c.is_whitespace() || c.is_control();
    (1..16).contains(&name.len()) && !matches!(name, "." | "..") && !name.contains(bad)
}

impl Request {
    /// The inherited fds the request names: the helper keeps these open and
    /// closes every other fd above stderr.
    pub fn fds(&self) -> Vec<RawFd> {
        match self {
            Request::Idmap(r) => vec![r.proc_fd],
            Request::Veth(r) => vec![r.netns_fd],
            Request::Cgroup(r) => vec![r.proc_fd],
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage(message: impl Into<String>) -> UsageError {
    UsageError(message.into())
}

/// Parses the helper's arguments (argv without argv[0]). Every option takes
/// exactly one value: the next word, whatever it looks like (a value such as
/// "--help" is a value, not an option). `--uid` and `--gid` may repeat; any
/// other option is given once, and a second one is refused before its value
/// is parsed.
pub fn parse(args: &[OsString]) -> Result<Request, UsageError> {
    if args.len() > MAX_ARGS {
        return Err(usage(format!(
            "too many arguments ({}, at most {MAX_ARGS})",
            args.len()
        )));
    }
    let mut words = Vec::with_capacity(args.len());
    for (i, arg) in args.iter().enumerate() {
        if arg.len() > MAX_ARG_LEN {
            return Err(usage(format!("argument {} is longer than {MAX_ARG_LEN} bytes", i + 1)));
        }
        let word = arg
            .to_str()
            .ok_or_else(|| usage(format!("argument {} is not valid UTF-8", i + 1)));
        words.push(word?);
    }
    let (&op, options) = words.split_first().ok_or_else(|| usage("no operation given"))?;
    // The fd option, and the value option with what its refusal calls the value.
    let (fd_option, value_option, what, valid): (_, _, _, fn(&str) -> bool) = match op {
        "idmap" => ("--proc-fd", "", "", |_| false),
        "veth" => ("--netns-fd", "--bridge", "bridge name", valid_ifname),
        "cgroup" | "cgroup-init" => ("--proc-fd", "--name", "name", valid_name),
        other => return Err(usage(format!("unknown operation {other:?}"))),
    };
    let (mut fd, mut value, mut uid, mut gid) = (None, None, Vec::new(), Vec::new());
    let mut rest = options.iter();
    while let Some(&option) = rest.next() {
        let maps = op == "idmap" && (option == "--uid" || option == "--gid");
        if !(maps || option == fd_option || (!value_option.is_empty() && option == value_option)) {
            return Err(usage(format!("{op}: unknown option {option:?}")));
        }
        let &word = rest
            .next()
            .ok_or_else(|| usage(format!("{op}: {option} needs a value")))?;
        let once = |given: bool| match given {
            true => Err(usage(format!("{op}: {option} given twice"))),
            false => Ok(()),
        };
        match option {
            "--uid" => uid.push(parse_mapping(word)?),
            "--gid" => gid.push(parse_mapping(word)?),
            _ if option == fd_option => {
                once(fd.is_some())?;
                fd = Some(parse_fd(op, option, word)?);
            }
            _ => {
                once(value.is_some())?;
                let bad = || usage(format!("{op}: bad {what} {word:?}"));
                value = Some(valid(word).then(|| word.to_owned()).ok_or_else(bad)?);
            }
        }
    }
    let required = |option: &str| usage(format!("{op}: {option} is required"));
    let fd = fd.ok_or_else(|| required(fd_option))?;
    if op == "idmap" {
        return match uid.is_empty() && gid.is_empty() {
            true => Err(usage("idmap: nothing to map (no --uid or --gid)")),
            false => Ok(Request::Idmap(IdmapRequest { proc_fd: fd, uid, gid })),
        };
    }
    let value = value.ok_or_else(|| required(value_option))?;
    Ok(match op {
        "veth" => Request::Veth(VethRequest {
            netns_fd: fd,
            bridge: value,
        }),
        _ => Request::Cgroup(CgroupRequest {
            proc_fd: fd,
            name: value,
            for_init: op == "cgroup-init",
        }),
    })
}

fn parse_fd(op: &str, option: &str, value: &str) -> Result<RawFd, UsageError> {
    match parse_decimal_u32(value) {
        Some(fd) if (3..=MAX_TARGET_FD as u32).contains(&fd) => Ok(fd as RawFd),
        _ => Err(usage(format!(
            "{op}: {option} {value:?} is not a descriptor from 3 to {MAX_TARGET_FD}"
        ))),
    }
}

fn parse_mapping(value: &str) -> Result<IdMapping, UsageError> {
    IdMapping::parse(value).map_err(|e| usage(format!("idmap: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn m(ns: u32, host: u32, count: u32) -> IdMapping {
        IdMapping::new(ns, host, count).unwrap()
    }

    #[test]
    fn round_trip() {
        let request = IdmapRequest {
            proc_fd: 3,
            uid: vec![m(0, 1000, 1), m(1, 165536, 65536)],
            gid: vec![m(0, 1000, 1)],
        };
        let words = request.to_args();
        assert_eq!(
            words,
            [
                "idmap",
                "--proc-fd",
                "3",
                "--uid",
                "0:1000:1",
                "--uid",
                "1:165536:65536",
                "--gid",
                "0:1000:1"
            ]
        );
        let parsed = parse(&words.iter().map(OsString::from).collect::<Vec<_>>()).unwrap();
        assert_eq!(parsed, Request::Idmap(request));
        assert_eq!(parsed.fds(), vec![3]);
        // One kind alone is a request too.
        for (option, uid, gid) in [
            ("--uid", vec![m(0, 1000, 1)], vec![]),
            ("--gid", vec![], vec![m(0, 1000, 1)]),
        ] {
            let parsed = parse(&args(&["idmap", "--proc-fd", "3", option, "0:1000:1"]));
            assert_eq!(parsed, Ok(Request::Idmap(IdmapRequest { proc_fd: 3, uid, gid })));
        }
    }

    #[test]
    fn refusals_name_the_problem() {
        let cases: &[(&[&str], &str)] = &[
            (&[], "no operation given"),
            (&["vet"], "unknown operation \"vet\""),
            (&["idmap"], "idmap: --proc-fd is required"),
            (
                &["idmap", "--proc-fd", "3"],
                "idmap: nothing to map (no --uid or --gid)",
            ),
            (&["idmap", "--proc-fd"], "idmap: --proc-fd needs a value"),
            (&["idmap", "--proc-fd", "2", "--uid", "0:1:1"], "not a descriptor"),
            (&["idmap", "--proc-fd", "1024", "--uid", "0:1:1"], "not a descriptor"),
            (&["idmap", "--proc-fd", "-3", "--uid", "0:1:1"], "not a descriptor"),
            (
                &["idmap", "--proc-fd", "3", "--proc-fd", "4", "--uid", "0:1:1"],
                "given twice",
            ),
            (
                &["idmap", "--proc-fd", "3", "--uid", "0:1:0"],
                "count must be at least 1",
            ),
            (
                &["idmap", "--proc-fd", "3", "--uid", "--help"],
                "bad id mapping \"--help\"",
            ),
            (&["idmap", "--help"], "idmap: unknown option \"--help\""),
            (
                &["idmap", "--proc-fd", "3", "--bogus", "x"],
                "unknown option \"--bogus\"",
            ),
            (&["idmap", "--proc-fd", "3", "", "x"], "idmap: unknown option \"\""),
            (
                &["veth", "--netns-fd", "3", "--name", "br0"],
                "veth: unknown option \"--name\"",
            ),
            (
                &["cgroup", "--proc-fd", "3", "--bridge", "x"],
                "cgroup: unknown option \"--bridge\"",
            ),
        ];
        for (words, expected) in cases {
            let err = parse(&args(words)).unwrap_err().0;
            assert!(err.contains(expected), "{words:?}: {err:?} lacks {expected:?}");
        }
    }

    #[test]
    fn option_looking_values_are_values() {
        // The word after an option is its value, even when it looks like one.
        let err = parse(&args(&["idmap", "--proc-fd", "--uid", "0:1:1"])).unwrap_err().0;
        assert_eq!(err, "idmap: --proc-fd \"--uid\" is not a descriptor from 3 to 1023");
    }

    #[test]
    fn bounds_are_checked_before_parsing() {
        let long = "1".repeat(65);
        let err = parse(&args(&["idmap", "--proc-fd", &long])).unwrap_err().0;
        assert_eq!(err, "argument 3 is longer than 64 bytes");
        let many = vec![OsString::from("--uid"); MAX_ARGS + 1];
        assert_eq!(
            parse(&many).unwrap_err().to_string(),
            "too many arguments (1364, at most 1363)"
        );
        use std::os::unix::ffi::OsStringExt;
        let bad = vec![OsString::from("idmap"), OsString::from_vec(vec![0xff])];
        assert_eq!(parse(&bad).unwrap_err().0, "argument 2 is not valid UTF-8");
    }

    #[test]
    fn a_full_map_of_each_kind_fits() {
        let mut words = vec!["idmap".to_owned(), "--proc-fd".to_owned(), "3".to_owned()];
        for kind in ["--uid", "--gid"] {
            for i in 0..MAX_MAP_LINES {
                words.push(kind.to_owned());
                words.push(format!("{i}:{}:1", 100000 + i));
            }
        }
        let Ok(Request::Idmap(r)) = parse(&words.iter().map(OsString::from).collect::<Vec<_>>()) else {
            panic!("a full map of each kind was refused");
        };
        assert_eq!((r.uid.len(), r.gid.len()), (MAX_MAP_LINES, MAX_MAP_LINES));
    }

    fn veth(netns_fd: RawFd, bridge: &str) -> Request {
        Request::Veth(VethRequest {
            netns_fd,
            bridge: bridge.into(),
        })
    }

    #[test]
    fn veth_round_trip() {
        let request = VethRequest {
            netns_fd: 3,
            bridge: "brv0".into(),
        };
        let words = request.to_args();
        assert_eq!(words, ["veth", "--netns-fd", "3", "--bridge", "brv0"]);
        let parsed = parse(&words.iter().map(OsString::from).collect::<Vec<_>>()).unwrap();
        assert!(matches!(parsed, Request::Veth(_)) && parsed.fds() == [3]);
        assert_eq!(parsed, Request::Veth(request));
        // Either order; the bridge name may be exactly 15 bytes, or look like an option.
        let reordered = parse(&args(&["veth", "--bridge", "br-0123456789ab", "--netns-fd", "1023"]));
        assert_eq!(reordered, Ok(veth(1023, "br-0123456789ab")));
        assert_eq!(
            parse(&args(&["veth", "--netns-fd", "3", "--bridge", "--help"])),
            Ok(veth(3, "--help"))
        );
    }

    #[test]
    fn veth_refusals() {
        let cases: &[(&[&str], &str)] = &[
            (&["veth"], "veth: --netns-fd is required"),
            (&["veth", "--netns-fd", "3"], "veth: --bridge is required"),
            (&["veth", "--bridge", "br0"], "veth: --netns-fd is required"),
            (&["veth", "--netns-fd"], "veth: --netns-fd needs a value"),
            (&["veth", "--netns-fd", "3", "--bridge"], "veth: --bridge needs a value"),
            (&["veth", "--help"], "veth: unknown option \"--help\""),
            (&["veth", "--proc-fd", "3"], "veth: unknown option \"--proc-fd\""),
            (
                &["veth", "--netns-fd", "2", "--bridge", "br0"],
                "veth: --netns-fd \"2\" is not a descriptor from 3 to 1023",
            ),
            (
                &["veth", "--netns-fd", "3", "--netns-fd", "3", "--bridge", "br0"],
                "veth: --netns-fd given twice",
            ),
            (
                &["veth", "--netns-fd", "3", "--bridge", "br0", "--bridge", "br0"],
                "veth: --bridge given twice",
            ),
            (
                &["veth", "--netns-fd", "3", "--bridge", "br-0123456789abc"],
                "veth: bad bridge name \"br-0123456789abc\"",
            ),
            (
                &["veth", "--netns-fd", "3", "--bridge", ""],
                "veth: bad bridge name \"\"",
            ),
            (
                &["veth", "--netns-fd", "3", "--bridge", ".."],
                "veth: bad bridge name \"..\"",
            ),
            (
                &["veth", "--netns-fd", "3", "--bridge", "a/b"],
                "veth: bad bridge name \"a/b\"",
            ),
            (
                &["veth", "--netns-fd", "3", "--bridge", "br0\nok"],
                "veth: bad bridge name \"br0\\nok\"",
            ),
        ];
        for (words, expected) in cases {
            assert_eq!(parse(&args(words)).unwrap_err().0, *expected, "{words:?}");
            // cgroup-init is checked exactly as cgroup.
            let init: Vec<&str> = words
                .iter()
                .map(|w| if *w == "cgroup" { "cgroup-init" } else { w })
                .collect();
            let expected = expected.replacen("cgroup:", "cgroup-init:", 1);
            assert_eq!(parse(&args(&init)).unwrap_err().0, expected, "{init:?}");
        }
        assert_eq!(
            parse(&args(&["cgroup-systemd"])).unwrap_err().0,
            "unknown operation \"cgroup-systemd\""
        );
    }

    #[test]
    fn cgroup_round_trip() {
        for (for_init, op) in [(false, "cgroup"), (true, "cgroup-init")] {
            let request = CgroupRequest {
                proc_fd: 3,
                name: "c42-0badf00d".into(),
                for_init,
            };
            let words = request.to_args();
            assert_eq!(words, [op, "--proc-fd", "3", "--name", "c42-0badf00d"]);
            let parsed = parse(&words.iter().map(OsString::from).collect::<Vec<_>>()).unwrap();
            assert!(matches!(parsed, Request::Cgroup(_)) && parsed.fds() == [3]);
            assert_eq!(parsed, Request::Cgroup(request));
        }
        // A value that looks like an option is a value (and a valid name).
        let dashes = parse(&args(&["cgroup", "--proc-fd", "3", "--name", "--help"]));
        assert!(matches!(dashes, Ok(Request::Cgroup(CgroupRequest { name, .. })) if name == "--help"));
        let name64 = "n".repeat(64);
        let reordered = parse(&args(&["cgroup", "--name", &name64, "--proc-fd", "1023"]));
        assert_eq!(
            reordered,
            Ok(Request::Cgroup(CgroupRequest {
                proc_fd: 1023,
                name: name64,
                for_init: false,
            }))
        );
    }

    #[test]
    fn cgroup_refusals() {
        let cases: &[(&[&str], &str)] = &[
            (&["cgroup"], "cgroup: --proc-fd is required"),
            (&["cgroup", "--proc-fd", "3"], "cgroup: --name is required"),
            (&["cgroup", "--name", "c1"], "cgroup: --proc-fd is required"),
            (&["cgroup", "--proc-fd", "3", "--name"], "cgroup: --name needs a value"),
            (&["cgroup", "--netns-fd", "3"], "cgroup: unknown option \"--netns-fd\""),
            (
                &["cgroup", "--proc-fd", "0", "--name", "c1"],
                "cgroup: --proc-fd \"0\" is not a descriptor from 3 to 1023",
            ),
            (
                &["cgroup", "--proc-fd", "3", "--name", "a", "--name", "b"],
                "cgroup: --name given twice",
            ),
            (&["cgroup", "--proc-fd", "3", "--name", ".."], "cgroup: bad name \"..\""),
            (&["cgroup", "--proc-fd", "3", "--name", ""], "cgroup: bad name \"\""),
            (
                &["cgroup", "--proc-fd", "3", "--name", "a/b"],
                "cgroup: bad name \"a/b\"",
            ),
            (
                &["cgroup", "--proc-fd", "3", "--name", "cgroup.procs"],
                "cgroup: bad name \"cgroup.procs\"",
            ),
            (
                &["cgroup", "--proc-fd", "3", "--name", "release_agent"],
                "cgroup: bad name \"release_agent\"",
            ),
            (
                &["cgroup", "--proc-fd", "3", "--name", "notify_on_release"],
                "cgroup: bad name \"notify_on_release\"",
            ),
            (
                &["cgroup", "--proc-fd", "3", "--name", "a\nb"],
                "cgroup: bad name \"a\\nb\"",
            ),
            (
                &["cgroup", "--proc-fd", "3", "--name", &"x".repeat(65)],
                "argument 5 is longer than 64 bytes",
            ),
        ];
        for (words, expected) in cases {
            assert_eq!(parse(&args(words)).unwrap_err().0, *expected, "{words:?}");
        }
    }

    #[test]
    fn interface_names() {
        for good in [
            "br0",
            "a",
            ".a",
            "...",
            "br-0123456789ab",
            "bridge\u{e9}",
            "-",
            "--help",
        ] {
            assert!(valid_ifname(good), "{good:?}");
        }
        // 15 bytes is the kernel's limit: a two-byte character may not pass it.
        assert!(valid_ifname("br-0123456789\u{e9}") && !valid_ifname("br-0123456789a\u{e9}"));
        let bad = [
            "",
            ".",
            "..",
            "br-0123456789abc",
            "a/b",
            "a:1",
            "a b",
            "a\tb",
            "a\nb",
            "a\0b",
            "a\u{1b}b",
        ];
        for bad in bad.into_iter().chain(["a\u{a0}b", "/", ":"]) {
            assert!(!valid_ifname(bad), "{bad:?}");
        }
    }
}
