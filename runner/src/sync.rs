//! Typed barriers between the runner's parent and the container's child, on a
//! SOCK_SEQPACKET socketpair (close-on-exec). Both ends run as the calling
//! user; each wait names the one message it takes, and anything else is an
//! error naming what was expected and what came. After runc's
//! libcontainer/sync.go and youki's process/channel.rs.
//!
//! ```text
//!  parent (start/parent.rs)                child (child/mod.rs)
//!   clone3 -------------------------------> starts in the new namespaces
//!                                            unshare(CLONE_NEWNET)
//!   wait_unshared <---------- Unshared ----  (only with a network namespace
//!                 <---------- Failed ------   of its own; or it failed)
//!   helper: maps, cgroup, veths
//!   Configure ---------------------------->  wait_configure (EOF: the parent
//!                                              died; exit quietly)
//!                                            setup, confinement
//!   wait_ready    <---------- Ready -------
//!                 <---------- Failed ------  (setup failed at a Step)
//!                                            execve
//!   wait_exec     <---------- EOF ---------  (exec'd: the socket is close-on-exec)
//!                 <---------- Failed ------  (execve failed: Step::Exec)
//! ```
//!
//! The child exits after sending Failed. EOF anywhere else means the peer
//! is gone: the child died, and the parent reports how it ended; only
//! after Ready does it mean "exec'd". A message may carry one fd (SCM_RIGHTS:
//! `send_fd`, `wait_fd`), for the pty master and the console socket to
//! come; a message with an fd it should not have, or without the one it
//! should, is an error, and the fds it brought are closed.
//!
//! Wire format, one datagram per message, the tag byte first (`Tag`):
//! `Configure FLAG [PATH NUL]...`, `Ready`, `Failed STEP ERRNO(i32 le)
//! DETAIL...`, `Unshared`, `Fd` (with the fd).

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::sys::socket::recv_with_fds;
use nix::sys::socket::{AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, send, sendmsg, socketpair};

/// Longest detail text carried in a Failed message.
const MAX_DETAIL: usize = 1024;
/// Longest message: a Configure's cgroup paths (a few hundred bytes each).
const MAX_MESSAGE: usize = 8192;

/// An enum of wire bytes and names, each written once: `from_byte` and
/// `name` are generated from the same lines (a byte given twice does not
/// compile). New values get new bytes; none is renumbered.
macro_rules! wire_enum {
    ($(#[$meta:meta])* pub enum $enum:ident { $($variant:ident = $byte:literal, $name:literal;)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $enum {
            $($variant = $byte,)*
        }

        impl $enum {
            fn from_byte(byte: u8) -> Option<$enum> {
                match byte {
                    $($byte => Some($enum::$variant),)*
                    _ => None,
                }
            }

            pub fn name(self) -> &'static str {
                match self {
                    $($enum::$variant => $name,)*
                }
            }
        }
    };
}

wire_enum! {
    /// Where in the child's start sequence something failed. Only `Exec`
    /// (the execve itself) decides 126 or 127; every other step is a setup
    /// failure (start/parent.rs `setup_error`).
    pub enum Step {
        Identity = 1, "identity";
        ParentDeath = 2, "parent-death-signal";
        CgroupNamespace = 3, "cgroup-namespace";
        Hostname = 4, "hostname";
        Network = 5, "network";
        Mount = 6, "mount";
        PivotRoot = 7, "pivot-root";
        Cwd = 8, "cwd";
        Exec = 9, "exec";
        Dumpable = 10, "dumpable";
        MaskedPaths = 11, "masked-paths";
        Rlimits = 12, "rlimits";
        Capabilities = 13, "capabilities";
        NoNewPrivileges = 14, "no-new-privileges";
        Landlock = 15, "landlock";
        Seccomp = 16, "seccomp";
        Sysctl = 17, "sysctl";
        NetworkNamespace = 18, "network-namespace";
        Cgroup = 19, "cgroup";
        Session = 20, "session";
        Signals = 21, "signals";
        Fds = 22, "fds";
        Terminal = 23, "terminal";
        Init = 24, "init";
    }
}

wire_enum! {
    /// The kind of a message: its first byte on the wire.
    pub enum Tag {
        Configure = 1, "configure";
        Ready = 2, "ready";
        Failed = 3, "failed";
        Unshared = 4, "unshared";
        Fd = 5, "fd";
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
    /// moving into each cgroup v1 leaf in `join` (start/cgroup.rs `to_join`).
    Configure {
        setgroups_allowed: bool,
        join: Vec<PathBuf>,
    },
    /// Child to parent: configured; exec comes next.
    Ready,
    /// Child to parent: setup or exec failed.
    Failed(Failure),
    /// Child to parent: its own network namespace exists (it makes it
    /// after the clone; see child/mod.rs `unshare_network`).
    Unshared,
}

impl Message {
    pub fn tag(&self) -> Tag {
        match self {
            Message::Configure { .. } => Tag::Configure,
            Message::Ready => Tag::Ready,
            Message::Failed(_) => Tag::Failed,
            Message::Unshared => Tag::Unshared,
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut bytes = vec![self.tag() as u8];
        match self {
            Message::Configure {
                setgroups_allowed,
                join,
            } => {
                bytes.push(u8::from(*setgroups_allowed));
                for path in join {
                    bytes.extend_from_slice(path.as_os_str().as_bytes());
                    bytes.push(0);
                }
            }
            Message::Ready | Message::Unshared => {}
            Message::Failed(failure) => {
                bytes.push(failure.step as u8);
                bytes.extend_from_slice(&failure.errno.to_le_bytes());
                let mut end = failure.detail.len().min(MAX_DETAIL);
                while !failure.detail.is_char_boundary(end) {
                    end -= 1;
                }
                bytes.extend_from_slice(&failure.detail.as_bytes()[..end]);
            }
        }
        bytes
    }

    /// A message without an fd from its tag and the bytes after it.
    fn decode(tag: Tag, body: &[u8]) -> Option<Message> {
        match (tag, body) {
            (Tag::Configure, [flag @ (0 | 1), paths @ ..]) if paths.last().is_none_or(|&b| b == 0) => {
                Some(Message::Configure {
                    setgroups_allowed: *flag == 1,
                    join: paths
                        .split(|&b| b == 0)
                        .filter(|p| !p.is_empty())
                        .map(|p| PathBuf::from(OsStr::from_bytes(p)))
                        .collect(),
                })
            }
            (Tag::Ready, []) => Some(Message::Ready),
            (Tag::Unshared, []) => Some(Message::Unshared),
            (Tag::Failed, [step, e0, e1, e2, e3, detail @ ..]) => Some(Message::Failed(Failure {
                step: Step::from_byte(*step)?,
                errno: i32::from_le_bytes([*e0, *e1, *e2, *e3]),
                detail: String::from_utf8_lossy(detail).into_owned(),
            })),
            _ => None,
        }
    }
}

/// What one datagram brought.
#[derive(Debug)]
enum Received {
    Message(Message),
    Fd(OwnedFd),
}

impl Received {
    fn tag(&self) -> Tag {
        match self {
            Received::Message(message) => message.tag(),
            Received::Fd(_) => Tag::Fd,
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
    /// The child sent Failed instead.
    Failed(Failure),
    /// The peer sent another message than the one expected (`expected`:
    /// a tag's name, or "exec" for the EOF after Ready).
    Unexpected {
        expected: &'static str,
        got: Tag,
    },
    Io(io::Error),
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitError::Eof => f.write_str("the other side closed the sync socket"),
            WaitError::Failed(failure) => write!(f, "failed at {}: {failure}", failure.step.name()),
            WaitError::Unexpected { expected, got } => write!(f, "expected {expected}, got {}", got.name()),
            WaitError::Io(e) => write!(f, "sync socket: {e}"),
        }
    }
}

fn protocol_error(what: &str) -> WaitError {
    WaitError::Io(io::Error::other(format!("{what} on the sync socket")))
}

impl Channel {
    pub fn pair() -> io::Result<(Channel, Channel)> {
        let (a, b) = socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)?;
        Ok((Channel(a), Channel(b)))
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
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

    /// Passes `fd` to the peer (SCM_RIGHTS), which takes it with `wait_fd`.
    pub fn send_fd(&self, fd: BorrowedFd) -> io::Result<()> {
        let tag = [Tag::Fd as u8];
        let fds = [fd.as_raw_fd()];
        let sent = sendmsg::<()>(
            self.0.as_raw_fd(),
            &[IoSlice::new(&tag)],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        )?;
        if sent != tag.len() {
            return Err(io::Error::other("short write on the sync socket"));
        }
        Ok(())
    }

    /// The next datagram; `Ok(None)` at EOF. An fd where none is due, or
    /// none where one is, is an error (and closed).
    fn receive(&self) -> Result<Option<Received>, WaitError> {
        let mut buffer = [0u8; MAX_MESSAGE + 1];
        let mut received = recv_with_fds(self.fd(), &mut buffer).map_err(WaitError::Io)?;
        if received.length == 0 && received.fds.is_empty() {
            return Ok(None);
        }
        if received.length > MAX_MESSAGE {
            return Err(protocol_error("oversized message"));
        }
        if received.fds_truncated || received.fds.len() > 1 {
            return Err(protocol_error("more than one fd in a message"));
        }
        let tag = buffer
            .first()
            .filter(|_| received.length > 0)
            .and_then(|&b| Tag::from_byte(b));
        match (tag, received.fds.pop()) {
            (Some(Tag::Fd), Some(fd)) if received.length == 1 => Ok(Some(Received::Fd(fd))),
            (Some(Tag::Fd), None) => Err(protocol_error("an fd message without its fd")),
            (Some(tag), None) => Message::decode(tag, &buffer[1..received.length])
                .map(|message| Some(Received::Message(message)))
                .ok_or_else(|| protocol_error("malformed message")),
            (Some(Tag::Fd), Some(_)) | (None, _) => Err(protocol_error("malformed message")),
            (Some(_), Some(_)) => Err(protocol_error("unexpected fd in a message")),
        }
    }

    /// The next message, which must carry no fd; `Ok(None)` at EOF.
    pub fn recv(&self) -> Result<Option<Message>, WaitError> {
        match self.receive()? {
            None => Ok(None),
            Some(Received::Message(message)) => Ok(Some(message)),
            Some(Received::Fd(_)) => Err(protocol_error("unexpected fd in a message")),
        }
    }

    /// The next message, which must be `expected`; the child's Failed is
    /// `WaitError::Failed`.
    fn expect(&self, expected: Tag) -> Result<Received, WaitError> {
        match self.receive()? {
            None => Err(WaitError::Eof),
            Some(received) if received.tag() == expected => Ok(received),
            Some(Received::Message(Message::Failed(failure))) => Err(WaitError::Failed(failure)),
            Some(other) => Err(WaitError::Unexpected {
                expected: expected.name(),
                got: other.tag(),
            }),
        }
    }

    /// Child: waits for Configure; returns whether setgroups is allowed and
    /// the cgroup v1 leaves to join.
    pub fn wait_configure(&self) -> Result<(bool, Vec<PathBuf>), WaitError> {
        match self.expect(Tag::Configure)? {
            Received::Message(Message::Configure {
                setgroups_allowed,
                join,
            }) => Ok((setgroups_allowed, join)),
            other => Err(WaitError::Unexpected {
                expected: Tag::Configure.name(),
                got: other.tag(),
            }),
        }
    }

    /// Parent: waits for the child's own network namespace.
    pub fn wait_unshared(&self) -> Result<(), WaitError> {
        self.expect(Tag::Unshared).map(drop)
    }

    /// Parent: waits for the child to be configured, exec next.
    pub fn wait_ready(&self) -> Result<(), WaitError> {
        self.expect(Tag::Ready).map(drop)
    }

    /// Parent, after Ready: EOF means the child exec'd; Failed, that exec
    /// failed.
    pub fn wait_exec(&self) -> Result<(), WaitError> {
        match self.recv()? {
            None => Ok(()),
            Some(Message::Failed(failure)) => Err(WaitError::Failed(failure)),
            Some(other) => Err(WaitError::Unexpected {
                expected: "exec",
                got: other.tag(),
            }),
        }
    }

    /// Waits for an fd passed with `send_fd` (close-on-exec).
    pub fn wait_fd(&self) -> Result<OwnedFd, WaitError> {
        match self.expect(Tag::Fd)? {
            Received::Fd(fd) => Ok(fd),
            Received::Message(message) => Err(WaitError::Unexpected {
                expected: Tag::Fd.name(),
                got: message.tag(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn send_raw(channel: &Channel, bytes: &[u8], fds: &[BorrowedFd]) {
        let raw: Vec<_> = fds.iter().map(|fd| fd.as_raw_fd()).collect();
        let control = [ControlMessage::ScmRights(&raw)];
        let control: &[ControlMessage] = if fds.is_empty() { &[] } else { &control };
        sendmsg::<()>(
            channel.0.as_raw_fd(),
            &[IoSlice::new(bytes)],
            control,
            MsgFlags::empty(),
            None,
        )
        .unwrap();
    }

    fn pipe() -> (std::fs::File, std::fs::File) {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        (read.into(), write.into())
    }

    /// Whether every write end of the pipe is closed: a read sees EOF.
    fn closed(mut read: std::fs::File) -> bool {
        let mut rest = Vec::new();
        read.read_to_end(&mut rest).unwrap() == 0
    }

    fn message(error: WaitError) -> String {
        error.to_string()
    }

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
        assert!(matches!(b.wait_ready(), Err(WaitError::Eof)));
    }

    #[test]
    fn each_wait_takes_its_message_and_reports_failed() {
        let (a, b) = Channel::pair().unwrap();
        a.send(&Message::Unshared).unwrap();
        b.wait_unshared().unwrap();
        a.send(&Message::Ready).unwrap();
        b.wait_ready().unwrap();
        b.send(&Message::Configure {
            setgroups_allowed: true,
            join: vec!["/a".into()],
        })
        .unwrap();
        assert_eq!(a.wait_configure().unwrap(), (true, vec![PathBuf::from("/a")]));
        let failure = Failure {
            step: Step::Signals,
            errno: libc::EINVAL,
            detail: "restoring the signal mask".to_owned(),
        };
        a.send(&Message::Failed(failure.clone())).unwrap();
        assert!(matches!(b.wait_ready(), Err(WaitError::Failed(f)) if f == failure));
        a.send(&Message::Failed(failure.clone())).unwrap();
        assert_eq!(
            message(b.wait_exec().unwrap_err()),
            "failed at signals: restoring the signal mask: Invalid argument (os error 22)"
        );
        a.send(&Message::Unshared).unwrap();
        assert_eq!(message(b.wait_exec().unwrap_err()), "expected exec, got unshared");
        drop(a);
        b.wait_exec().unwrap();
    }

    #[test]
    fn steps_and_tags_have_one_byte_and_name_each() {
        assert_eq!(Step::from_byte(Step::Init as u8), Some(Step::Init));
        assert_eq!(
            (Step::Exec.name(), Step::from_byte(0), Step::from_byte(25)),
            ("exec", None, None)
        );
        assert_eq!(Tag::from_byte(Tag::Fd as u8).map(Tag::name), Some("fd"));
    }

    #[test]
    fn unexpected_and_malformed_messages_are_errors() {
        let (a, b) = Channel::pair().unwrap();
        a.send(&Message::Ready).unwrap();
        let err = b.wait_configure().unwrap_err();
        assert_eq!(err.to_string(), "expected configure, got ready");
        nix::sys::socket::send(a.0.as_raw_fd(), &[9, 9], MsgFlags::empty()).unwrap();
        assert_eq!(
            b.recv().unwrap_err().to_string(),
            "sync socket: malformed message on the sync socket"
        );
        nix::sys::socket::send(a.0.as_raw_fd(), &[3, 200, 0, 0, 0, 0], MsgFlags::empty()).unwrap();
        assert_eq!(
            message(b.recv().unwrap_err()),
            "sync socket: malformed message on the sync socket"
        );
        // A Configure path must end in NUL.
        nix::sys::socket::send(a.0.as_raw_fd(), b"\x01\x00/sys", MsgFlags::empty()).unwrap();
        assert_eq!(
            message(b.recv().unwrap_err()),
            "sync socket: malformed message on the sync socket"
        );
        // Ready carries nothing more.
        nix::sys::socket::send(a.0.as_raw_fd(), &[2, 0], MsgFlags::empty()).unwrap();
        assert_eq!(
            message(b.wait_ready().unwrap_err()),
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
            message(b.recv().unwrap_err()),
            "sync socket: oversized message on the sync socket"
        );
    }

    #[test]
    fn an_fd_passes_and_is_close_on_exec() {
        let (a, b) = Channel::pair().unwrap();
        let (mut read, write) = pipe();
        a.send_fd(write.as_fd()).unwrap();
        drop(write);
        let passed = b.wait_fd().unwrap();
        let flags = nix::fcntl::fcntl(&passed, nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        std::fs::File::from(passed).write_all(b"through").unwrap();
        let mut text = String::new();
        read.read_to_string(&mut text).unwrap();
        assert_eq!(text, "through");
    }

    #[test]
    fn an_fd_where_none_is_due_is_an_error_and_closed() {
        let (a, b) = Channel::pair().unwrap();
        // An fd message where Ready is due.
        let (read, write) = pipe();
        a.send_fd(write.as_fd()).unwrap();
        drop(write);
        assert_eq!(message(b.wait_ready().unwrap_err()), "expected ready, got fd");
        assert!(closed(read));
        // An fd message where any plain message is due.
        let (read, write) = pipe();
        a.send_fd(write.as_fd()).unwrap();
        drop(write);
        assert_eq!(
            message(b.recv().unwrap_err()),
            "sync socket: unexpected fd in a message on the sync socket"
        );
        assert!(closed(read));
        // Ready with an fd attached.
        let (read, write) = pipe();
        send_raw(&a, &[Tag::Ready as u8], &[write.as_fd()]);
        drop(write);
        assert_eq!(
            message(b.wait_ready().unwrap_err()),
            "sync socket: unexpected fd in a message on the sync socket"
        );
        assert!(closed(read));
        // Two fds, or more than the receiver has room for.
        for count in [2, 3] {
            let (read, write) = pipe();
            send_raw(&a, &[Tag::Fd as u8], &vec![write.as_fd(); count]);
            drop(write);
            assert_eq!(
                message(b.wait_fd().unwrap_err()),
                "sync socket: more than one fd in a message on the sync socket"
            );
            assert!(closed(read));
        }
        // An fd message with more than its tag.
        let (read, write) = pipe();
        send_raw(&a, &[Tag::Fd as u8, 0], &[write.as_fd()]);
        drop(write);
        assert_eq!(
            message(b.wait_fd().unwrap_err()),
            "sync socket: malformed message on the sync socket"
        );
        assert!(closed(read));
    }

    #[test]
    fn an_fd_message_without_its_fd_is_an_error() {
        let (a, b) = Channel::pair().unwrap();
        send_raw(&a, &[Tag::Fd as u8], &[]);
        assert_eq!(
            message(b.wait_fd().unwrap_err()),
            "sync socket: an fd message without its fd on the sync socket"
        );
        a.send(&Message::Ready).unwrap();
        assert_eq!(message(b.wait_fd().unwrap_err()), "expected fd, got ready");
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
        let Some(Message::Failed(f)) = Message::decode(Tag::Failed, &bytes[1..]) else {
            panic!()
        };
        assert_eq!(f.detail.len(), MAX_DETAIL);
    }
}
