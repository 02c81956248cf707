//! The runner's errors (unprivileged). Each error names the action and the
//! object and keeps the real error under it as its `source()` (the errno it
//! actually got, a parser's or oci-spec's error); it is printed once, at the
//! top, as one `burrow: ...` line with its chain of sources (`{:#}`, as
//! anyhow does); its kind decides burrow's exit status.

use crate::status;
use std::fmt;
use std::io;

/// An error below one of burrow's, kept for the chain.
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One variant per kind of failure (STYLE.md, habit 5).
#[derive(Debug)]
pub enum Error {
    /// A bad command line.
    Usage(String),
    /// A configuration that is malformed or cannot be applied here: root's
    /// policy files (/etc/subuid, /etc/burrow/cgroup) or the container's spec.
    Config { what: String, source: Option<Source> },
    /// An object named by the caller does not exist (a container).
    NotFound { what: String },
    /// An object is not in the state the operation needs (a running
    /// container, for `rm` without `-f`).
    WrongState { what: String },
    /// The setuid helper refused or failed; `message` is its own stderr line.
    Helper { operation: &'static str, message: String },
    /// The container's child failed before exec, at `step`, doing `detail`.
    Setup {
        step: &'static str,
        detail: String,
        source: Option<io::Error>,
    },
    /// A system call in the runner failed: `what` names the action and
    /// object; `hint`, when there is one, says what to check, after the chain.
    Os {
        what: String,
        source: io::Error,
        hint: Option<String>,
    },
    /// The command could not be found in the container.
    CommandNotFound { command: String },
    /// The command exists but could not be executed.
    NotExecutable { command: String, source: io::Error },
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage(message.into())
    }

    /// A configuration error that is all in `what`.
    pub fn config(what: impl Into<String>) -> Error {
        Error::Config {
            what: what.into(),
            source: None,
        }
    }

    /// A configuration error found by `source` (a parser, oci-spec's
    /// builders, the kernel refusing a value) while reading or applying `what`.
    pub fn config_from(what: impl Into<String>, source: impl Into<Source>) -> Error {
        Error::Config {
            what: what.into(),
            source: Some(source.into()),
        }
    }

    /// The OS error in `errno` (or the last one) while doing `what`.
    pub fn os(what: impl Into<String>, source: impl Into<io::Error>) -> Error {
        Error::Os {
            what: what.into(),
            source: source.into(),
            hint: None,
        }
    }

    /// As `os`, with a hint printed after the source.
    pub fn os_with_hint(what: impl Into<String>, source: io::Error, hint: impl Into<String>) -> Error {
        Error::Os {
            what: what.into(),
            source,
            hint: Some(hint.into()),
        }
    }

    pub fn exit_status(&self) -> i32 {
        match self {
            Error::CommandNotFound { .. } => status::NOT_FOUND,
            Error::NotExecutable { .. } => status::NOT_EXECUTABLE,
            Error::Usage(_)
            | Error::Config { .. }
            | Error::NotFound { .. }
            | Error::WrongState { .. }
            | Error::Helper { .. }
            | Error::Setup { .. }
            | Error::Os { .. } => status::FAILED,
        }
    }
}

/// The error's own text; with `{:#}`, followed by each of its sources, as
/// `what: source: source's source`.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(message) => f.write_str(message)?,
            Error::Config { what, .. } | Error::Os { what, .. } => f.write_str(what)?,
            Error::NotFound { what } => write!(f, "{what} does not exist")?,
            Error::WrongState { what } => f.write_str(what)?,
            Error::Helper { operation, message } => write!(f, "helper {operation} failed: {message}")?,
            Error::Setup { step, detail, .. } => write!(f, "container setup failed at {step}: {detail}")?,
            Error::CommandNotFound { command } => write!(f, "{command}: command not found")?,
            Error::NotExecutable { command, .. } => write!(f, "{command}: cannot execute")?,
        }
        if f.alternate() {
            let mut source = std::error::Error::source(self);
            while let Some(error) = source {
                write!(f, ": {error}")?;
                source = error.source();
            }
            if let Error::Os { hint: Some(hint), .. } = self {
                write!(f, "; {hint}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config { source, .. } => source.as_deref().map(|e| e as _),
            Error::Setup { source, .. } => source.as_ref().map(|e| e as _),
            Error::Os { source, .. } | Error::NotExecutable { source, .. } => Some(source),
            Error::Usage(_)
            | Error::NotFound { .. }
            | Error::WrongState { .. }
            | Error::Helper { .. }
            | Error::CommandNotFound { .. } => None,
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_is_printed_once_with_the_sources() {
        let enoent = || io::Error::from_raw_os_error(libc::ENOENT);
        let os = Error::os("opening /x", enoent());
        assert_eq!(os.to_string(), "opening /x");
        assert_eq!(format!("{os:#}"), "opening /x: No such file or directory (os error 2)");
        assert_eq!(
            std::error::Error::source(&os).unwrap().to_string(),
            enoent().to_string()
        );
        let config = Error::config_from("/etc/subuid", "line 2: bad count");
        assert_eq!(format!("{config:#}"), "/etc/subuid: line 2: bad count");
        assert_eq!(format!("{:#}", Error::config("no rule")), "no rule");
        let setup = Error::Setup {
            step: "pivot-root",
            detail: "pivot_root to /x".to_owned(),
            source: Some(enoent()),
        };
        assert_eq!(
            format!("{setup:#}"),
            "container setup failed at pivot-root: pivot_root to /x: No such file or directory (os error 2)"
        );
        let cannot = Error::NotExecutable {
            command: "/x".to_owned(),
            source: io::Error::from_raw_os_error(libc::EACCES),
        };
        assert_eq!(
            format!("{cannot:#}"),
            "/x: cannot execute: Permission denied (os error 13)"
        );
        assert_eq!(cannot.exit_status(), status::NOT_EXECUTABLE);
        let missing = Error::CommandNotFound {
            command: "x".to_owned(),
        };
        assert_eq!(
            (format!("{missing:#}").as_str(), missing.exit_status()),
            ("x: command not found", 127)
        );
        assert_eq!(Error::usage("bad").exit_status(), status::FAILED);
    }
}
