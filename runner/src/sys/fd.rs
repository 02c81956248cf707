//! File descriptor flags by fd number (runner and its child): for the fds
//! burrow inherited, which it names by number because nothing owns them.

use std::io;
use std::os::fd::RawFd;

/// Whether `fd` is an open file descriptor (fcntl F_GETFD).
pub fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the flags of the fd number `fd`.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// Marks every fd from `first` up close-on-exec (close_range
/// CLOSE_RANGE_CLOEXEC).
pub fn mark_cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags on fds;
    // none is closed.
    if unsafe { libc::close_range(first, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC as libc::c_int) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Closes every fd from `first` up (close_range), in a process that owns
/// none of them any more: the container's init, a fork that never execs.
pub fn close_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range closes fd numbers; the caller holds no object
    // that still owns one of them (it only waits for signals after this).
    if unsafe { libc::close_range(first, libc::c_uint::MAX, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes `fd` inheritable across exec (clears FD_CLOEXEC, fcntl F_SETFD 0).
pub fn clear_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_SETFD on an fd number; clearing FD_CLOEXEC only.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// fd 0, 1 or 2 as a `BorrowedFd` for as long as the process lives: main
/// opens /dev/null on each that was closed, and nothing closes them after.
pub fn stdio(fd: RawFd) -> std::os::fd::BorrowedFd<'static> {
    assert!((0..=2).contains(&fd), "not a standard fd: {fd}");
    // SAFETY: fds 0 to 2 stay open for the life of the process (above).
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}
