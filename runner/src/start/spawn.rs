//! clone3 into new namespaces (runner, unprivileged, single-threaded until
//! here). The child is a copy of the runner that continues in `child::run`;
//! the parent gets its pid and a pidfd, which names it without pid reuse.
//! The system calls are in sys/process.rs.

use crate::sys::process;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Returned by `clone_child` in the parent.
pub struct Child {
    pub pid: libc::pid_t,
    pub pidfd: OwnedFd,
}

/// Forks into the namespaces in `flags` (CLONE_NEW* bits), and into the
/// cgroup `cgroup` (a directory fd) when given. Returns `Ok(None)` in the
/// child and `Ok(Some(child))` in the parent.
pub fn clone_child(flags: u64, cgroup: Option<BorrowedFd>) -> io::Result<Option<Child>> {
    Ok(process::clone3(flags, cgroup)?.map(|(pid, pidfd)| Child { pid, pidfd }))
}

impl Child {
    /// The child's /proc/PID directory: it cannot be reaped (we are its
    /// parent and have not waited), so the fd names it for sure.
    pub fn proc_dir(&self) -> io::Result<OwnedFd> {
        let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
        Ok(nix::fcntl::open(
            format!("/proc/{}", self.pid).as_str(),
            flags,
            Mode::empty(),
        )?)
    }
}

/// Sends `signal` to the process behind `pidfd`; a process that is already
/// gone is not an error.
pub fn send_signal(pidfd: &OwnedFd, signal: libc::c_int) -> io::Result<()> {
    match process::pidfd_send_signal(pidfd.as_fd(), signal) {
        Err(error) if error.raw_os_error() != Some(libc::ESRCH) => Err(error),
        _ => Ok(()),
    }
}

/// A pidfd for `pid` (pidfd_open).
pub fn open_pidfd(pid: libc::pid_t) -> io::Result<OwnedFd> {
    process::pidfd_open(pid)
}
