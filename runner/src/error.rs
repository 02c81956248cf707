//! The runner's errors (unprivileged). Each error names the action and the
//! object, keeps the errno it actually got, and is printed once, at the top,
//! as one `burrow: ...` line; its kind decides burrow's exit status.

use std::fmt;
use std::io;

/// Exit statuses of burrow itself (the container's own status passes through).
pub mod status {
    /// burrow failed before the command ran.
    pub const FAILED: i32 = 125;
    /// The command exists but could not be executed.
    pub const NOT_EXECUTABLE: i32 = 126;
    /// The command was not found.
    pub const NOT_FOUND: i32 = 127;
}

#[derive(Debug)]
pub enum Error {
    /// A bad command line or container description.
    Usage(String),
    /// A system call in the runner failed: `what` names the action and object.
    Os { what: String, source: io::Error },
    /// The setuid helper refused or failed; `message` is its own stderr line.
    Helper { operation: &'static str, message: String },
    /// The container's child failed before exec, at `step`.
    Setup { step: String, message: String },
    /// The command could not be found in the container.
    NotFound { command: String },
    /// The command exists but could not be executed.
    NotExecutable { command: String, source: io::Error },
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage(message.into())
    }

    /// The OS error in `errno` (or the last one) while doing `what`.
    pub fn os(what: impl Into<String>, source: impl Into<io::Error>) -> Error {
        Error::Os {
            what: what.into(),
            source: source.into(),
        }
    }

    pub fn exit_status(&self) -> i32 {
        match self {
            Error::NotFound { .. } => status::NOT_FOUND,
            Error::NotExecutable { .. } => status::NOT_EXECUTABLE,
            _ => status::FAILED,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(message) => f.write_str(message),
            Error::Os { what, source } => write!(f, "{what}: {source}"),
            Error::Helper { operation, message } => {
                write!(f, "helper {operation} failed: {message}")
            }
            Error::Setup { step, message } => {
                write!(f, "container setup failed at {step}: {message}")
            }
            Error::NotFound { command } => write!(f, "{command}: command not found"),
            Error::NotExecutable { command, source } => {
                write!(f, "{command}: cannot execute: {source}")
            }
        }
    }
}

impl std::error::Error for Error {}

/// Adds the action and object to an OS error.
pub trait Context<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, Error>;
}

impl<T, E: Into<io::Error>> Context<T> for Result<T, E> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T, Error> {
        self.map_err(|e| Error::os(what(), e))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
