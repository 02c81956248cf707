//! Typed barriers between the runner's parent and the container's child, on a
//! SOCK_SEQPACKET socketpair (close-on-exec). Both ends run as the calling
//! user; each side checks that what it received is the step it expected.
//!
//! Wire format, one datagram per message:
//! `1 FLAGS [PATH NUL]...` Configure, `2` Ready, `3 STEP ERRNO(i32 le)
//! DETAIL...` Failed, `4` Unshared.
//! EOF means the peer is gone; only after Ready does it mean "exec'd".

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, recv, send, socketpair};

/// Longest detail text carried in a Failed message.
const MAX_DETAIL: usize = 1024;
/// Longest message: a Configure's cgroup paths (a few hundred bytes each).
const MAX_MESSAGE: usize = 8192;

/// Where in the child's start sequence something failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Identity = 1,
    ParentDeath,
    CgroupNamespace,
    Hostname,
    Network,
    Mount,
    PivotRoot,
    Cwd,
    Exec,
    Dumpable,
    MaskedPaths,
    Rlimits,
    Capabilities,
    NoNewPrivileges,
    Landlock,
    Seccomp,
    Sysctl,
    NetworkNamespace,
    Cgroup,
    Session,
}

impl Step {
    const ALL: [Step; 20] = [
        Step::Identity,
        Step::ParentDeath,
        Step::CgroupNamespace,
        Step::Hostname,
        Step::Network,
        Step::Mount,
        Step::PivotRoot,
        Step::Cwd,
        Step::Exec,
        Step::Dumpable,
        Step::MaskedPaths,
        Step::Rlimits,
        Step::Capabilities,
        Step::NoNewPrivileges,
        Step::Landlock,
        Step::Seccomp,
        Step::Sysctl,
        Step::NetworkNamespace,
        Step::Cgroup,
        Step::Session,
    ];

    fn from_byte(byte: u8) -> Option<Step> {
        Step::ALL.into_iter().find(|step| *step as u8 == byte)
    }

    pub fn name(self) -> &'static str {
        match self {
            Step::Identity => "identity",
            Step::ParentDeath => "parent-death-signal",
            Step::CgroupNamespace => "cgroup-namespace",
            Step::Hostname => "hostname",
            Step::Network => "network",
            Step::Mount => "mount",
            Step::PivotRoot => "pivot-root",
            Step::Cwd => "cwd",
            Step::Exec => "exec",
            Step::Dumpable => "dumpable",
            Step::MaskedPaths => "masked-paths",
            Step::Rlimits => "rlimits",
            Step::Capabilities => "capabilities",
            Step::NoNewPrivileges => "no-new-privileges",
            Step::Landlock => "landlock",
            Step::Seccomp => "seccomp",
            Step::Sysctl => "sysctl",
            Step::NetworkNamespace => "network-namespace",
            Step::Cgroup => "cgroup",
            Step::Session => "session",
        }
    }
}

/// A failure in the child: the step, what it was doing, and the errno it
/// got (0 when no system call failed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub step: Step,
    pub errno: i32,
    pub detail: String,
}

impl Failure {
    pub fn os(step: Step, detail: impl Into<String>, error: &io::Error) -> Failure {
        Failure {
            step,
            errno: error.raw_os_error().unwrap_or(0),
            detail: detail.into(),
        }
    }

    pub fn io_error(&self) -> Option<io::Error> {
        (self.errno != 0).then(|| io::Error::from_raw_os_error(self.errno))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.io_error() {
            Some(error) => write!(f, "{}: {error}", self.detail),
            None => f.write_str(&self.detail),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Parent to child: maps are written; configure the container, after
    /// moving into each cgroup v1 leaf in `join` (cgroup.rs `to_join`).
    Configure {
        setgroups_allowed: bool,
        join: Vec<PathBuf>,
    },
    /// Child to parent: configured; exec comes next.
    Ready,
    /// Child to parent: setup or exec failed.
    Failed(Failure),
    /// Child to parent: its own network namespace exists (it makes it
    /// after the clone; see child.rs).
    Unshared,
}

impl Message {
    fn name(&self) -> &'static str {
        match self {
            Message::Configure { .. } => "configure",
            Message::Ready => "ready",
            Message::Failed(_) => "failed",
            Message::Unshared => "unshared",
        }
    }

    fn encode(&self) -> Vec<u8> {
        match self {
            Message::Configure {
                setgroups_allowed,
                join,
            } => {
                let mut bytes = vec![1, u8::from(*setgroups_allowed)];
                for path in join {
                    bytes.extend_from_slice(path.as_os_str().as_bytes());
                    bytes.push(0);
                }
                bytes
            }
            Message::Ready => vec![2],
            Message::Unshared => vec![4],
            Message::Failed(failure) => {
                let mut bytes = vec![3, failure.step as u8];
                bytes.extend_from_slice(&failure.errno.to_le_bytes());
                let mut end = failure.detail.len().min(MAX_DETAIL);
                while !failure.detail.is_char_boundary(end) {
                    end -= 1;
                }
                bytes.extend_from_slice(&failure.detail.as_bytes()[..end]);
                bytes
            }
        }
    }

    fn decode(bytes: &[u8]) -> Option<Message> {
        match bytes {
            [1, flag @ (0 | 1), paths @ ..] if paths.last().is_none_or(|&b| b == 0) => Some(Message::Configure {
                setgroups_allowed: *flag == 1,
                join: paths
                    .split(|&b| b == 0)
                    .filter(|p| !p.is_empty())
                    .map(|p| PathBuf::from(OsStr::from_bytes(p)))
                    .collect(),
            }),
            [2] => Some(Message::Ready),
            [4] => Some(Message::Unshared),
            [3, step, e0, e1, e2, e3, detail @ ..] => Some(Message::Failed(Failure {
                step: Step::from_byte(*step)?,
                errno: i32::from_le_bytes([*e0, *e1, *e2, *e3]),
                detail: String::from_utf8_lossy(detail).into_owned(),
            })),
            _ => None,
        }
    }
}

/// One end of the sync socket.
pub struct Channel(OwnedFd);

/// Why a wait did not get the message it expected.
#[derive(Debug)]
pub enum WaitError {
    /// The peer closed its end (died, or exec'd).
    Eof,
    /// The peer sent something else than expected.
    Unexpected {
        expected: &'static str,
        got: Message,
    },
    Io(io::Error),
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitError::Eof => f.write_str("the other side closed the sync socket"),
            WaitError::Unexpected { expected, got } => {
                write!(f, "expected {expected}, got {}", got.name())
            }
            WaitError::Io(e) => write!(f, "sync socket: {e}"),
        }
    }
}

impl Channel {
    pub fn pair() -> io::Result<(Channel, Channel)> {
        let (a, b) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)?;
        Ok((Channel(a), Channel(b)))
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.0.as_fd()
    }

    pub fn send(&self, message: &Message) -> io::Result<()> {
        let bytes = message.encode();
        if bytes.len() > MAX_MESSAGE {
            return Err(io::Error::other("message too long for the sync socket"));
        }
        let sent = send(self.0.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL)?;
        if sent != bytes.len() {
            return Err(io::Error::other("short write on the sync socket"));
        }
        Ok(())
    }

    /// The next message; `Ok(None)` at EOF.
    pub fn recv(&self) -> Result<Option<Message>, WaitError> {
        let mut buffer = [0u8; MAX_MESSAGE + 1];
        let length = loop {
            match recv(self.0.as_raw_fd(), &mut buffer, MsgFlags::MSG_TRUNC) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(WaitError::Io(e.into())),
                Ok(length) => break length,
            }
        };
        if length == 0 {
            return Ok(None);
        }
        if length > MAX_MESSAGE {
            return Err(WaitError::Io(io::Error::other("oversized message on the sync socket")));
        }
        Message::decode(&buffer[..length])
            .map(Some)
            .ok_or_else(|| WaitError::Io(io::Error::other("malformed message on the sync socket")))
    }

    /// Waits for exactly `expected`, or returns what came instead.
    pub fn expect(&self, expected: &'static str) -> Result<Message, WaitError> {
        match self.recv()? {
            None => Err(WaitError::Eof),
            Some(message) if message.name() == expected => Ok(message),
            Some(got) => Err(WaitError::Unexpected { expected, got }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let (a, b) = Channel::pair().unwrap();
        let failure = Failure {
            step: Step::PivotRoot,
            errno: 2,
            detail: "pivot_root to /x".to_owned(),
        };
        for message in [
            Message::Configure {
                setgroups_allowed: true,
                join: Vec::new(),
            },
            Message::Configure {
                setgroups_allowed: false,
                join: vec!["/sys/fs/cgroup/pids/burrow-1000/c1-0a".into(), "/m/c1-0a".into()],
            },
            Message::Ready,
            Message::Failed(failure.clone()),
            Message::Unshared,
        ] {
            a.send(&message).unwrap();
            assert_eq!(b.recv().unwrap(), Some(message));
        }
        assert_eq!(
            failure.to_string(),
            "pivot_root to /x: No such file or directory (os error 2)"
        );
        drop(a);
        assert!(matches!(b.expect("ready"), Err(WaitError::Eof)));
    }

    #[test]
    fn unexpected_and_malformed_messages_are_errors() {
        let (a, b) = Channel::pair().unwrap();
        a.send(&Message::Ready).unwrap();
        let err = b.expect("configure").unwrap_err();
        assert_eq!(err.to_string(), "expected configure, got ready");
        nix::sys::socket::send(a.0.as_raw_fd(), &[9, 9], MsgFlags::empty()).unwrap();
        assert_eq!(
            b.recv().unwrap_err().to_string(),
            "sync socket: malformed message on the sync socket"
        );
        nix::sys::socket::send(a.0.as_raw_fd(), &[3, 200, 0, 0, 0, 0], MsgFlags::empty()).unwrap();
        assert_eq!(
            b.recv().unwrap_err().to_string(),
            "sync socket: malformed message on the sync socket"
        );
        // A Configure path must end in NUL.
        nix::sys::socket::send(a.0.as_raw_fd(), b"\x01\x00/sys", MsgFlags::empty()).unwrap();
        assert_eq!(
            b.recv().unwrap_err().to_string(),
            "sync socket: malformed message on the sync socket"
        );
        let too_long = Message::Configure {
            setgroups_allowed: true,
            join: vec!["/x".repeat(MAX_MESSAGE / 2).into()],
        };
        assert_eq!(
            a.send(&too_long).unwrap_err().to_string(),
            "message too long for the sync socket"
        );
        let huge = vec![3u8; MAX_MESSAGE + 10];
        nix::sys::socket::send(a.0.as_raw_fd(), &huge, MsgFlags::empty()).unwrap();
        assert_eq!(
            b.recv().unwrap_err().to_string(),
            "sync socket: oversized message on the sync socket"
        );
    }

    #[test]
    fn long_details_are_capped_on_a_char_boundary() {
        let detail = "é".repeat(MAX_DETAIL);
        let bytes = Message::Failed(Failure {
            step: Step::Exec,
            errno: 0,
            detail,
        })
        .encode();
        assert!(bytes.len() <= MAX_MESSAGE);
        let Some(Message::Failed(f)) = Message::decode(&bytes) else {
            panic!()
        };
        assert_eq!(f.detail.len(), MAX_DETAIL);
    }
}
