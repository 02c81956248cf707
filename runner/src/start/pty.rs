//! The caller's side of a container's terminal (runner, as the calling
//! user): the caller's terminal in raw mode while the container has a pty
//! of its own, the relay between the two, and the window size. Untrusted:
//! the master fd the child sends (checked to be a pty master before use)
//! and the bytes from the container, which reach the caller's stdout as
//! they are, as any program's output on a terminal does.

use crate::sys::{fd, tty};
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags};
use nix::sys::termios::{self, LocalFlags, SetArg, SpecialCharacterIndices, Termios};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// The caller's terminal in raw mode (cfmakeraw: no echo, no line editing,
/// no signals from ^C or ^Z: every byte goes to the container's terminal),
/// restored as it was when this is dropped. burrow handles every signal
/// that would end it but SIGKILL, and returns through the drop on each.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Raw mode on stdin when it is a terminal; `None` when it is not.
    pub fn enter() -> io::Result<Option<RawMode>> {
        if !nix::unistd::isatty(stdin_fd()).unwrap_or(false) {
            return Ok(None);
        }
        let saved = termios::tcgetattr(stdin_fd())?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin_fd(), SetArg::TCSANOW, &raw)?;
        Ok(Some(RawMode { saved }))
    }

    /// Puts the caller's terminal back as it was, for a while (burrow
    /// stopped as a job) or for good.
    pub fn restore(&self) {
        let _ = termios::tcsetattr(stdin_fd(), SetArg::TCSADRAIN, &self.saved);
    }

    /// Raw mode again, after `restore`.
    pub fn resume(&self) {
        let mut raw = self.saved.clone();
        termios::cfmakeraw(&mut raw);
        let _ = termios::tcsetattr(stdin_fd(), SetArg::TCSANOW, &raw);
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        self.restore();
    }
}

/// The relay between the container's pty master and the caller's stdio:
/// the master's output to stdout, always; stdin to the master with `-i`.
pub struct Relay {
    master: OwnedFd,
    /// A slave fd of burrow's own, never read: while the container's
    /// processes have none open (an init that closes and reopens its
    /// console, a getty's vhangup) the master would read EIO, and output
    /// written after a reopen would be lost.
    _slave: OwnedFd,
    /// Still reading stdin (`-i`, and no end of file yet).
    input: bool,
    /// The master still has a slave open somewhere.
    open: bool,
    /// Output still reaches stdout (no EPIPE yet); discarded otherwise, so
    /// that the container never blocks on a full pty.
    output: bool,
    /// Input read from stdin that the master has not taken yet.
    pending: Vec<u8>,
}

/// What one read takes at most.
const CHUNK: usize = 16 * 1024;

impl Relay {
    /// Takes the master the child sent, after checking that it is one (a
    /// child that sent another fd is refused); sets it non-blocking and
    /// gives it the caller's window size.
    pub fn new(master: OwnedFd, interactive: bool) -> io::Result<Relay> {
        tty::pty_number(master.as_fd())
            .map_err(|e| io::Error::new(e.kind(), format!("the container's terminal is not a pty master: {e}")))?;
        let flags = OFlag::from_bits_retain(fcntl(master.as_fd(), FcntlArg::F_GETFL)?);
        fcntl(master.as_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
        let relay = Relay {
            _slave: tty::open_peer(master.as_fd())?,
            master,
            input: interactive,
            open: true,
            output: true,
            pending: Vec::new(),
        };
        relay.resize();
        Ok(relay)
    }

    /// Copies the caller's window size to the container's terminal, whose
    /// foreground job the kernel then sends SIGWINCH. A caller without a
    /// terminal has no size to give.
    pub fn resize(&self) {
        let size = tty::window_size(stdin_fd()).or_else(|_| tty::window_size(stdout_fd()));
        if let Ok(size) = size {
            let _ = tty::set_window_size(self.master.as_fd(), &size);
        }
    }

    /// The fds to poll: the master (for output, and for input while some
    /// waits), and stdin while input is relayed and none waits.
    pub fn poll_fds(&self) -> Vec<PollFd<'_>> {
        let mut fds = Vec::with_capacity(2);
        if self.open {
            let mut events = PollFlags::POLLIN;
            if !self.pending.is_empty() {
                events |= PollFlags::POLLOUT;
            }
            fds.push(PollFd::new(self.master.as_fd(), events));
        }
        if self.input && self.pending.is_empty() {
            fds.push(PollFd::new(stdin_fd(), PollFlags::POLLIN));
        }
        fds
    }

    /// Moves what is ready after a poll of `poll_fds`, whose results are
    /// `ready` (in the same order).
    pub fn on_ready(&mut self, ready: &[bool]) -> io::Result<()> {
        let mut ready = ready.iter();
        if self.open && *ready.next().unwrap_or(&false) {
            self.read_master()?;
            self.write_master()?;
        }
        if self.input && self.pending.is_empty() && *ready.next().unwrap_or(&false) {
            self.read_stdin()?;
            self.write_master()?;
        }
        Ok(())
    }

    /// Reads what the container's processes wrote before they ended: the
    /// output they left in the pty reaches stdout before burrow exits.
    pub fn drain(&mut self) {
        let _ = self.read_master();
    }

    /// The master's output to stdout, until it would block; EIO means the
    /// last slave was closed (not while burrow holds one, but a hangup of
    /// the whole terminal ends it too).
    fn read_master(&mut self) -> io::Result<()> {
        let mut buffer = [0u8; CHUNK];
        loop {
            match nix::unistd::read(&self.master, &mut buffer) {
                Ok(0) | Err(Errno::EIO) => {
                    self.open = false;
                    return Ok(());
                }
                Ok(n) => self.write_stdout(&buffer[..n]),
                Err(Errno::EAGAIN) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn write_stdout(&mut self, mut bytes: &[u8]) {
        while self.output && !bytes.is_empty() {
            match nix::unistd::write(stdout_fd(), bytes) {
                Ok(n) => bytes = &bytes[n..],
                Err(Errno::EINTR) => continue,
                // A stdout that another process made non-blocking.
                Err(Errno::EAGAIN) => wait_writable(stdout_fd()),
                Err(_) => self.output = false,
            }
        }
    }

    /// One read of stdin; at its end, the end-of-file character to a
    /// terminal in canonical mode (a shell there sees ^D, as util-linux's
    /// script does), and no more reads.
    fn read_stdin(&mut self) -> io::Result<()> {
        let mut buffer = [0u8; CHUNK];
        match nix::unistd::read(stdin_fd(), &mut buffer) {
            Ok(0) => {
                self.input = false;
                let canonical = termios::tcgetattr(self.master.as_fd())
                    .ok()
                    .filter(|modes| modes.local_flags.contains(LocalFlags::ICANON));
                if let Some(modes) = canonical {
                    self.pending
                        .push(modes.control_chars[SpecialCharacterIndices::VEOF as usize]);
                }
                Ok(())
            }
            Ok(n) => {
                self.pending.extend_from_slice(&buffer[..n]);
                Ok(())
            }
            Err(Errno::EINTR | Errno::EAGAIN) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Pending input to the master, as much as it takes now.
    fn write_master(&mut self) -> io::Result<()> {
        while self.open && !self.pending.is_empty() {
            match nix::unistd::write(&self.master, &self.pending) {
                Ok(n) => drop(self.pending.drain(..n)),
                Err(Errno::EAGAIN) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(Errno::EIO) => self.open = false,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

fn stdin_fd() -> BorrowedFd<'static> {
    fd::stdio(libc::STDIN_FILENO)
}

fn stdout_fd() -> BorrowedFd<'static> {
    fd::stdio(libc::STDOUT_FILENO)
}

fn wait_writable(fd: BorrowedFd) {
    let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
    let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE);
}
