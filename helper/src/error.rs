//! The helper's one error type: each failure's message (built here and
//! nowhere else) and its exit code. Used by every stage of burrow-helper;
//! makes no calls. Untrusted: the values it prints (ids, the fd number, the
//! bridge name, the leaf name, the caller's login name, cgroup paths) come
//! from argv, the target, the password database or the kernel, and are
//! printed as numbers or with Display, never Debug (a bridge name is a valid
//! interface name, a leaf name is `[A-Za-z0-9_-]`, and a cgroup path is
//! printed only once shown free of whitespace and control characters, or as
//! mountinfo escapes it: one line each).

use crate::cgroup::CGROUP_FILE;
use crate::veth::USERNET_FILE;
use burrow_shared::exit;
use burrow_shared::ids::{IdKind, IdMapping, MapError};
use burrow_shared::request::UsageError;
use burrow_shared::subid::SubidSyntaxError;
use std::fmt;
use std::os::fd::RawFd;

#[derive(Debug)]
pub enum Error {
    EmptyArgv,
    Usage(UsageError),
    NotPrivileged,
    /// A system call failed: what the helper was doing, and the errno text.
    Os(String, String),
    /// The operation (in each of these four), and the fd number.
    FdNotOpen(&'static str, RawFd),
    NotProcPidDir(&'static str, RawFd),
    TargetExited(&'static str),
    /// The target's uid, and the caller's.
    TargetUid(&'static str, u32, u32),
    TargetInInitialUserns,
    TargetNotChildOfInitialUserns,
    /// The owner of the target's user namespace, and the caller's uid.
    UsernsOwner(u32, u32),
    /// The caller's uid: it may not even open the target's ns/user.
    UsernsNotAccessible(u32),
    MapWritten(IdKind),
    BadMap(IdKind, MapError),
    HostZero(IdKind, IdMapping),
    /// The refused line, the caller's name, the policy file.
    NotGranted(IdKind, IdMapping, String, &'static str),
    /// The policy (or state) file or the parent directory that failed, what
    /// the helper was doing, and the errno text.
    PolicyIo(String, &'static str, String),
    PolicyNotRegular(String),
    PolicyNotRoot(String),
    PolicyWritable(String),
    PolicyTooLarge(&'static str, u64),
    PolicySyntax(&'static str, SubidSyntaxError),
    /// The state directory or a lock file is readable by group or others.
    StateAccessible(String),
    NotNetns(RawFd),
    HostNetns,
    /// The owner of the user namespace owning the target, and the caller's uid.
    NetnsOwner(u32, u32),
    OwnNetnsNotInitial,
    /// The caller's name, and the bridge.
    NoUsernetEntry(String, String),
    NoBridge(String),
    NotBridge(String),
    /// The caller's name, its live veths and its allowance, and the bridge.
    OverQuota(String, u32, u32, String),
    /// The caller's name.
    NoCgroupEntry(String),
    NoHierarchy,
    /// The cgroup path, and the mount point.
    CgroupMissing(String, String),
    /// The leaf's name.
    LeafExists(String),
    /// The mount point (these two), as mountinfo escapes it.
    CgroupPathWhitespace(String),
    TargetElsewhere(String),
}

impl Error {
    /// A failed system call, with the error it returned.
    pub fn os(doing: impl Into<String>, why: impl fmt::Display) -> Error {
        Error::Os(doing.into(), why.to_string())
    }

    pub fn exit_code(&self) -> i32 {
        use Error::*;
        match self {
            EmptyArgv | Usage(_) => exit::USAGE,
            NotPrivileged | Os(..) => exit::OS_ERROR,
            PolicyIo(..) | PolicyNotRegular(_) | PolicyNotRoot(_) | PolicyWritable(_) => exit::POLICY_FILE,
            PolicyTooLarge(..) | PolicySyntax(..) | StateAccessible(_) => exit::POLICY_FILE,
            _ => exit::REFUSED,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        let (initial, file) = ("the initial user namespace", USERNET_FILE);
        match self {
            EmptyArgv => write!(f, "refusing to run with an empty argument list"),
            Usage(e) => write!(f, "{e}"),
            NotPrivileged => write!(f, "not privileged: must be installed setuid root and run in {initial}"),
            Os(doing, why) => write!(f, "{doing}: {why}"),
            FdNotOpen(op, fd) => write!(f, "{op}: target fd {fd} is not open"),
            NotProcPidDir(op, fd) => write!(f, "{op}: target fd {fd} is not a /proc/PID directory"),
            TargetExited(op) => write!(f, "{op}: target process has exited"),
            TargetUid(op, target, caller) => {
                write!(
                    f,
                    "{op}: target process belongs to uid {target}, not to the caller (uid {caller})"
                )
            }
            TargetInInitialUserns => write!(f, "idmap: target process is in {initial}"),
            TargetNotChildOfInitialUserns => write!(f, "idmap: target's user namespace is not a child of {initial}"),
            UsernsOwner(owner, caller) => {
                write!(
                    f,
                    "idmap: target's user namespace is owned by uid {owner}, not by the caller (uid {caller})"
                )
            }
            UsernsNotAccessible(caller) => {
                write!(
                    f,
                    "idmap: target's user namespace is not accessible to the caller (uid {caller})"
                )
            }
            MapWritten(kind) => write!(f, "idmap: target's {kind} map is already written"),
            BadMap(kind, e) => write!(f, "idmap: bad {kind} map: {e}"),
            HostZero(kind, m) => write!(f, "idmap: {kind} range {m} maps host id 0, which only root may map"),
            NotGranted(kind, m, user, file) => write!(f, "idmap: {kind} range {m} is not granted to {user} by {file}"),
            PolicyIo(path, doing, why) => write!(f, "{path}: {doing}: {why}"),
            PolicyNotRegular(path) => write!(f, "{path}: not a regular file"),
            PolicyNotRoot(path) => write!(f, "{path}: not owned by root"),
            PolicyWritable(path) => write!(f, "{path}: writable by group or others"),
            PolicyTooLarge(path, max) => write!(f, "{path}: larger than {max} bytes"),
            PolicySyntax(path, e) => write!(f, "{path}: {e}"),
            StateAccessible(path) => write!(f, "{path}: accessible by group or others"),
            NotNetns(fd) => write!(f, "veth: target fd {fd} is not a network namespace"),
            HostNetns => write!(f, "veth: target network namespace is the host's"),
            NetnsOwner(owner, caller) => write!(
                f,
                "veth: target network namespace belongs to a user namespace owned by uid {owner}, \
                 not by the caller (uid {caller})"
            ),
            OwnNetnsNotInitial => write!(f, "veth: the caller's network namespace is not owned by {initial}"),
            NoUsernetEntry(user, bridge) => {
                write!(f, "veth: {user} may not create veths on {bridge} (no entry in {file})")
            }
            NoBridge(bridge) => write!(f, "veth: bridge {bridge} does not exist"),
            NotBridge(bridge) => write!(f, "veth: {bridge} is not a bridge"),
            OverQuota(user, count, allowance, bridge) => {
                write!(
                    f,
                    "veth: {user} has {count} of {allowance} veths allowed on {bridge} by {file}"
                )
            }
            NoCgroupEntry(user) => {
                write!(
                    f,
                    "cgroup: {user} may not have cgroups delegated (no entry in {CGROUP_FILE})"
                )
            }
            NoHierarchy => write!(f, "cgroup: no cgroup hierarchy is mounted"),
            CgroupMissing(path, mount) => write!(f, "cgroup: {path} does not exist in {mount}"),
            LeafExists(name) => write!(f, "cgroup: {name} already exists"),
            CgroupPathWhitespace(mount) => write!(f, "cgroup: a cgroup path in {mount} contains whitespace"),
            TargetElsewhere(mount) => write!(f, "cgroup: target process is not in the caller's cgroup in {mount}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    /// Every message as the spec's table words it, with its exit code.
    #[test]
    fn messages_match_the_contract() {
        let m = IdMapping::new(1, 165536, 65536).unwrap();
        let enoent = io::Error::from_raw_os_error(libc::ENOENT);
        let cases: Vec<(Error, i32, &str)> = vec![
            (Error::EmptyArgv, 64, "refusing to run with an empty argument list"),
            (
                Error::Usage(UsageError(
                    "idmap: bad id mapping \"0:1000:0\": count must be at least 1".into(),
                )),
                64,
                "idmap: bad id mapping \"0:1000:0\": count must be at least 1",
            ),
            (
                Error::NotPrivileged,
                71,
                "not privileged: must be installed setuid root and run in the initial user namespace",
            ),
            (Error::FdNotOpen("idmap", 3), 77, "idmap: target fd 3 is not open"),
            (
                Error::NotProcPidDir("idmap", 3),
                77,
                "idmap: target fd 3 is not a /proc/PID directory",
            ),
            (Error::TargetExited("idmap"), 77, "idmap: target process has exited"),
            (
                Error::TargetUid("idmap", 0, 1000),
                77,
                "idmap: target process belongs to uid 0, not to the caller (uid 1000)",
            ),
            (
                Error::TargetInInitialUserns,
                77,
                "idmap: target process is in the initial user namespace",
            ),
            (
                Error::TargetNotChildOfInitialUserns,
                77,
                "idmap: target's user namespace is not a child of the initial user namespace",
            ),
            (
                Error::UsernsOwner(1001, 1000),
                77,
                "idmap: target's user namespace is owned by uid 1001, not by the caller (uid 1000)",
            ),
            (
                Error::MapWritten(IdKind::Gid),
                77,
                "idmap: target's gid map is already written",
            ),
            (
                Error::BadMap(IdKind::Uid, MapError::TooManyLines(341)),
                77,
                "idmap: bad uid map: the map has 341 lines, more than the kernel's 340",
            ),
            (
                Error::HostZero(IdKind::Uid, IdMapping::new(0, 0, 1).unwrap()),
                77,
                "idmap: uid range [0-1) -> [0-1) maps host id 0, which only root may map",
            ),
            (
                Error::NotGranted(IdKind::Gid, m, "alice".into(), "/etc/subgid"),
                77,
                "idmap: gid range [1-65537) -> [165536-231072) is not granted to alice by /etc/subgid",
            ),
            (
                Error::PolicyIo("/etc/subuid".into(), "cannot open", enoent.to_string()),
                78,
                "/etc/subuid: cannot open: No such file or directory (os error 2)",
            ),
            (Error::PolicyNotRoot("/etc".into()), 78, "/etc: not owned by root"),
            (
                Error::PolicyWritable("/etc/subuid".into()),
                78,
                "/etc/subuid: writable by group or others",
            ),
            (
                Error::PolicyNotRegular("/etc/subuid".into()),
                78,
                "/etc/subuid: not a regular file",
            ),
            (
                Error::PolicySyntax(
                    "/etc/subuid",
                    SubidSyntaxError {
                        line: 3,
                        why: "expected OWNER:START:COUNT",
                    },
                ),
                78,
                "/etc/subuid: line 3: expected OWNER:START:COUNT",
            ),
            (Error::FdNotOpen("veth", 3), 77, "veth: target fd 3 is not open"),
            (Error::NotNetns(3), 77, "veth: target fd 3 is not a network namespace"),
            (Error::HostNetns, 77, "veth: target network namespace is the host's"),
            (
                Error::NetnsOwner(0, 1000),
                77,
                "veth: target network namespace belongs to a user namespace owned by uid 0, not by the caller (uid 1000)",
            ),
            (
                Error::OwnNetnsNotInitial,
                77,
                "veth: the caller's network namespace is not owned by the initial user namespace",
            ),
            (Error::NoBridge("br0".into()), 77, "veth: bridge br0 does not exist"),
            (Error::NotBridge("dummy0".into()), 77, "veth: dummy0 is not a bridge"),
            (
                Error::StateAccessible("/run/burrow".into()),
                78,
                "/run/burrow: accessible by group or others",
            ),
            (
                Error::PolicySyntax(
                    "/etc/burrow/usernet",
                    SubidSyntaxError {
                        line: 2,
                        why: "expected USER|@GROUP veth BRIDGE COUNT",
                    },
                ),
                78,
                "/etc/burrow/usernet: line 2: expected USER|@GROUP veth BRIDGE COUNT",
            ),
            (
                Error::os(
                    "veth: creating the veth pair",
                    io::Error::from_raw_os_error(libc::EPERM),
                ),
                71,
                "veth: creating the veth pair: Operation not permitted (os error 1)",
            ),
            (
                Error::os("idmap: writing uid_map", io::Error::from_raw_os_error(libc::EPERM)),
                71,
                "idmap: writing uid_map: Operation not permitted (os error 1)",
            ),
            (Error::FdNotOpen("cgroup", 3), 77, "cgroup: target fd 3 is not open"),
            (
                Error::NotProcPidDir("cgroup", 3),
                77,
                "cgroup: target fd 3 is not a /proc/PID directory",
            ),
            (Error::TargetExited("cgroup"), 77, "cgroup: target process has exited"),
            (
                Error::TargetUid("cgroup", 1001, 1000),
                77,
                "cgroup: target process belongs to uid 1001, not to the caller (uid 1000)",
            ),
            (Error::NoHierarchy, 77, "cgroup: no cgroup hierarchy is mounted"),
            (
                Error::CgroupMissing("/burrow".into(), "/sys/fs/cgroup/memory".into()),
                77,
                "cgroup: /burrow does not exist in /sys/fs/cgroup/memory",
            ),
            (Error::LeafExists("c-42".into()), 77, "cgroup: c-42 already exists"),
            (
                Error::CgroupPathWhitespace("/mnt/a\\040b".into()),
                77,
                "cgroup: a cgroup path in /mnt/a\\040b contains whitespace",
            ),
            (
                Error::TargetElsewhere("/sys/fs/cgroup/unified".into()),
                77,
                "cgroup: target process is not in the caller's cgroup in /sys/fs/cgroup/unified",
            ),
            (
                Error::PolicySyntax(
                    "/etc/burrow/cgroup",
                    SubidSyntaxError {
                        line: 4,
                        why: "a KEY is given twice",
                    },
                ),
                78,
                "/etc/burrow/cgroup: line 4: a KEY is given twice",
            ),
        ];
        for (error, code, text) in cases {
            assert_eq!((error.to_string().as_str(), error.exit_code()), (text, code));
        }
        let no_entry = Error::NoCgroupEntry("alice".into());
        assert_eq!(
            (no_entry.to_string(), no_entry.exit_code()),
            (
                format!("cgroup: alice may not have cgroups delegated (no entry in {CGROUP_FILE})"),
                77
            )
        );
    }
}
