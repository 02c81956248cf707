//! Pseudo-terminal ioctls (runner and its child): nix wraps termios
//! safely, but these only through its `unsafe` ioctl macros.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// A terminal's size, as TIOCGWINSZ and TIOCSWINSZ carry it.
pub type WindowSize = libc::winsize;

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// TIOCSPTLCK(0): unlocks the slave of the master `master`, as unlockpt.
pub fn unlock(master: BorrowedFd) -> io::Result<()> {
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int, which lives across the call.
    check(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) }).map(drop)
}

/// TIOCGPTPEER: opens the slave of `master` through the master itself, in
/// the devpts instance the master belongs to, without a path lookup that a
/// name planted in /dev/pts could redirect.
pub fn open_peer(master: BorrowedFd) -> io::Result<OwnedFd> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes the open flags by value and returns a new fd.
    let fd = check(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) })?;
    // SAFETY: the ioctl returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// TIOCGPTN: the number N of the slave /dev/pts/N of `master`; it fails on
/// anything but a pty master, which is how the runner checks the fd the
/// child hands it.
pub fn pty_number(master: BorrowedFd) -> io::Result<u32> {
    let mut number: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int, which lives across the call.
    check(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut number) })?;
    Ok(number)
}

/// TIOCSCTTY: makes the terminal `tty` the controlling terminal of the
/// calling session leader (never stealing one from another session: 0).
pub fn set_controlling(tty: BorrowedFd) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an int by value.
    check(unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSCTTY, 0) }).map(drop)
}

/// TIOCGWINSZ: the size of the terminal `tty`.
pub fn window_size(tty: BorrowedFd) -> io::Result<WindowSize> {
    // SAFETY: winsize is plain data; all-zero is a valid value.
    let mut size: WindowSize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize, which lives across the call.
    check(unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCGWINSZ, &mut size) })?;
    Ok(size)
}

/// TIOCSWINSZ: sets the size of the terminal `tty` (the kernel then sends
/// SIGWINCH to its foreground process group).
pub fn set_window_size(tty: BorrowedFd, size: &WindowSize) -> io::Result<()> {
    // SAFETY: TIOCSWINSZ reads one winsize, which lives across the call.
    check(unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCSWINSZ, size) }).map(drop)
}

/// tcsetpgrp: makes process group `group` the foreground one of `tty`.
pub fn set_foreground(tty: BorrowedFd, group: libc::pid_t) -> io::Result<()> {
    // SAFETY: plain call with an fd and an integer.
    check(unsafe { libc::tcsetpgrp(tty.as_raw_fd(), group) }).map(drop)
}
