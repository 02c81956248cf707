//! clone3 into new namespaces (runner, unprivileged, single-threaded until
//! here). The child is a copy of the runner that continues in `child::run`;
//! the parent gets its pid and a pidfd, which names it without pid reuse.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Returned by `clone_child` in the parent.
pub struct Child {
    pub pid: libc::pid_t,
    pub pidfd: OwnedFd,
}

/// CLONE_INTO_CGROUP, which libc declares as an overflowing c_int.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Forks into the namespaces in `flags` (CLONE_NEW* bits), and into the
/// cgroup `cgroup` (a directory fd) when given. Returns `Ok(None)` in the
/// child and `Ok(Some(child))` in the parent.
pub fn clone_child(flags: u64, cgroup: Option<BorrowedFd>) -> io::Result<Option<Child>> {
    let mut pidfd: RawFd = -1;
    // SAFETY: clone_args is plain data; all-zero is a valid value.
    let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
    args.flags = flags | libc::CLONE_PIDFD as u64;
    args.pidfd = &mut pidfd as *mut RawFd as u64;
    args.exit_signal = libc::SIGCHLD as u64;
    if let Some(cgroup) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = cgroup.as_raw_fd() as u64;
    }
    // SAFETY: without CLONE_VM or a stack, clone3 behaves like fork: the
    // child gets a copy of this single-threaded process. args and pidfd live
    // across the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut libc::clone_args,
            std::mem::size_of::<libc::clone_args>(),
        )
    };
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        pid => Ok(Some(Child {
            pid: pid as libc::pid_t,
            // SAFETY: CLONE_PIDFD stored a new fd that nothing else owns.
            pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
        })),
    }
}

/// Sends `signal` to the process behind `pidfd`; a process that is already
/// gone is not an error.
pub fn send_signal(pidfd: &OwnedFd, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: pidfd is a valid pidfd; no siginfo is passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if ret < 0 {
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::ESRCH) {
            return Err(error);
        }
    }
    Ok(())
}

/// A pidfd for `pid` (pidfd_open).
pub fn open_pidfd(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the result is checked before use.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pidfd_open returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
