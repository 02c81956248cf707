//! The helper's one error type: each failure's message (built here and
//! nowhere else) and its exit code. Used by every stage of burrow-helper;
//! makes no calls. Untrusted: the values it prints (ids, the fd number, the
//! caller's login name) come from argv, the target or the password database,
//! and are printed as numbers or with Display, never Debug.

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
    Os {
        doing: String,
        why: String,
    },
    FdNotOpen(RawFd),
    NotProcPidDir(RawFd),
    TargetExited,
    TargetUid {
        target: u32,
        caller: u32,
    },
    TargetInInitialUserns,
    TargetNotChildOfInitialUserns,
    UsernsOwner {
        owner: u32,
        caller: u32,
    },
    MapWritten(IdKind),
    BadMap(IdKind, MapError),
    HostZero(IdKind, IdMapping),
    NotGranted {
        kind: IdKind,
        mapping: IdMapping,
        user: String,
        file: &'static str,
    },
    /// `path` is the policy file, or the parent directory that failed.
    PolicyIo {
        path: String,
        doing: &'static str,
        why: String,
    },
    PolicyNotRegular(String),
    PolicyNotRoot(String),
    PolicyWritable(String),
    PolicyTooLarge(&'static str, u64),
    PolicySyntax(&'static str, SubidSyntaxError),
}

impl Error {
    /// A failed system call, with the error it returned.
    pub fn os(doing: impl Into<String>, why: impl fmt::Display) -> Error {
        Error::Os {
            doing: doing.into(),
            why: why.to_string(),
        }
    }

    pub fn exit_code(&self) -> i32 {
        use Error::*;
        match self {
            EmptyArgv | Usage(_) => exit::USAGE,
            NotPrivileged | Os { .. } => exit::OS_ERROR,
            PolicyIo { .. } | PolicyNotRegular(_) | PolicyNotRoot(_) | PolicyWritable(_) => exit::POLICY_FILE,
            PolicyTooLarge(..) | PolicySyntax(..) => exit::POLICY_FILE,
            _ => exit::REFUSED,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        match self {
            EmptyArgv => write!(f, "refusing to run with an empty argument list"),
            Usage(e) => write!(f, "{e}"),
            NotPrivileged => write!(
                f,
                "not privileged: must be installed setuid root and run in the initial user namespace"
            ),
            Os { doing, why } => write!(f, "{doing}: {why}"),
            FdNotOpen(fd) => write!(f, "idmap: target fd {fd} is not open"),
            NotProcPidDir(fd) => write!(f, "idmap: target fd {fd} is not a /proc/PID directory"),
            TargetExited => write!(f, "idmap: target process has exited"),
            TargetUid { target, caller } => {
                write!(
                    f,
                    "idmap: target process belongs to uid {target}, not to the caller (uid {caller})"
                )
            }
            TargetInInitialUserns => write!(f, "idmap: target process is in the initial user namespace"),
            TargetNotChildOfInitialUserns => {
                write!(
                    f,
                    "idmap: target's user namespace is not a child of the initial user namespace"
                )
            }
            UsernsOwner { owner, caller } => write!(
                f,
                "idmap: target's user namespace is owned by uid {owner}, not by the caller (uid {caller})"
            ),
            MapWritten(kind) => write!(f, "idmap: target's {kind} map is already written"),
            BadMap(kind, e) => write!(f, "idmap: bad {kind} map: {e}"),
            HostZero(kind, m) => write!(f, "idmap: {kind} range {m} maps host id 0, which only root may map"),
            NotGranted {
                kind,
                mapping,
                user,
                file,
            } => {
                write!(f, "idmap: {kind} range {mapping} is not granted to {user} by {file}")
            }
            PolicyIo { path, doing, why } => write!(f, "{path}: {doing}: {why}"),
            PolicyNotRegular(path) => write!(f, "{path}: not a regular file"),
            PolicyNotRoot(path) => write!(f, "{path}: not owned by root"),
            PolicyWritable(path) => write!(f, "{path}: writable by group or others"),
            PolicyTooLarge(path, max) => write!(f, "{path}: larger than {max} bytes"),
            PolicySyntax(path, e) => write!(f, "{path}: {e}"),
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
            (Error::FdNotOpen(3), 77, "idmap: target fd 3 is not open"),
            (
                Error::NotProcPidDir(3),
                77,
                "idmap: target fd 3 is not a /proc/PID directory",
            ),
            (Error::TargetExited, 77, "idmap: target process has exited"),
            (
                Error::TargetUid {
                    target: 0,
                    caller: 1000,
                },
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
                Error::UsernsOwner {
                    owner: 1001,
                    caller: 1000,
                },
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
                Error::NotGranted {
                    kind: IdKind::Gid,
                    mapping: m,
                    user: "alice".into(),
                    file: "/etc/subgid",
                },
                77,
                "idmap: gid range [1-65537) -> [165536-231072) is not granted to alice by /etc/subgid",
            ),
            (
                Error::PolicyIo {
                    path: "/etc/subuid".into(),
                    doing: "cannot open",
                    why: enoent.to_string(),
                },
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
            (
                Error::os("idmap: writing uid_map", io::Error::from_raw_os_error(libc::EPERM)),
                71,
                "idmap: writing uid_map: Operation not permitted (os error 1)",
            ),
        ];
        for (error, code, text) in cases {
            assert_eq!((error.to_string().as_str(), error.exit_code()), (text, code));
        }
    }
}
