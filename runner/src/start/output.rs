//! A detached container's output (runner, its monitor): the container's
//! stdout and stderr are the write end of a pipe whose read end the monitor
//! drains into the container's log file, which it keeps under a size cap by
//! dropping the oldest part (the newest half stays). Untrusted: the bytes,
//! stored as they are, and their amount, which the cap bounds.

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, OwnedFd};

/// The most the log file holds; past it, the newest half is kept.
pub const CAP: u64 = 1 << 20;

pub struct Output {
    pipe: OwnedFd,
    file: File,
    open: bool,
}

impl Output {
    /// Drains `pipe` (the read end) into `file` (opened for appending).
    pub fn new(pipe: OwnedFd, file: File) -> io::Result<Output> {
        let flags = OFlag::from_bits_retain(fcntl(pipe.as_fd(), FcntlArg::F_GETFL)?);
        fcntl(pipe.as_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
        Ok(Output { pipe, file, open: true })
    }

    pub fn poll_fd(&self) -> Option<PollFd<'_>> {
        self.open.then(|| PollFd::new(self.pipe.as_fd(), PollFlags::POLLIN))
    }

    /// Moves what the pipe holds into the file, until it would block.
    pub fn drain(&mut self) -> io::Result<()> {
        let mut buffer = [0u8; 16 * 1024];
        while self.open {
            match nix::unistd::read(&self.pipe, &mut buffer) {
                Ok(0) => self.open = false,
                Ok(n) => {
                    self.file.write_all(&buffer[..n])?;
                    self.cap()?;
                }
                Err(Errno::EAGAIN) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Keeps the file under CAP: its newest half, from a line's start.
    fn cap(&mut self) -> io::Result<()> {
        let len = self.file.metadata()?.len();
        if len <= CAP {
            return Ok(());
        }
        let mut tail = Vec::with_capacity((CAP / 2) as usize);
        let mut reader = self.file.try_clone()?;
        reader.seek(SeekFrom::Start(len - CAP / 2))?;
        reader.read_to_end(&mut tail)?;
        let from = tail.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
        self.file.set_len(0)?;
        // O_APPEND: the writes go to the (new) end.
        self.file.write_all(&tail[from..])
    }
}
