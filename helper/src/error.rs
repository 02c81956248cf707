//! The helper's one error: the line it prints and its exit code. Used by
//! every stage of burrow-helper; makes no calls. Each message is written
//! where the failure is found. Untrusted: the values messages print (ids,
//! the fd number, the bridge name, the leaf name, the caller's login name,
//! cgroup paths) come from argv, the target, the password database or the
//! kernel, and are printed as numbers or with Display, never Debug (a bridge
//! name is a valid interface name, a leaf name is `[A-Za-z0-9_-]`, and a
//! cgroup path is printed only once shown free of whitespace and control
//! characters, or as mountinfo escapes it: one line each).

use burrow_shared::exit;
use std::fmt::{self, Display};

#[derive(Debug)]
pub struct Error {
    code: i32,
    line: String,
}

impl Error {
    fn new(code: i32, line: String) -> Error {
        Error { code, line }
    }

    /// The command line is malformed (64).
    pub fn usage(why: impl Display) -> Error {
        Error::new(exit::USAGE, why.to_string())
    }

    /// Policy refuses the request; nothing was changed (77).
    pub fn refused(why: impl Display) -> Error {
        Error::new(exit::REFUSED, why.to_string())
    }

    /// A policy or state file (or a directory above it) is missing, unsafe
    /// or malformed (78).
    pub fn policy(path: impl Display, why: impl Display) -> Error {
        Error::new(exit::POLICY_FILE, format!("{path}: {why}"))
    }

    /// A system call failed (71): what the helper was doing, and why.
    pub fn os(doing: impl Display, why: impl Display) -> Error {
        Error::new(exit::OS_ERROR, format!("{doing}: {why}"))
    }

    pub fn exit_code(&self) -> i32 {
        self.code
    }
}

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line)
    }
}
