//! Processes by pidfd (runner): clone3 with CLONE_PIDFD, pidfd_open,
//! pidfd_send_signal, and the child's _exit.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// CLONE_INTO_CGROUP, which libc declares as an overflowing c_int.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// clone3 without CLONE_VM or a stack, as fork, into the namespaces in
/// `flags` (CLONE_NEW* bits) and into the cgroup `cgroup` (a directory fd)
/// when given, with CLONE_PIDFD. Returns `Ok(None)` in the child and the
/// child's pid and pidfd in the parent. The runner calls it while it is
/// single-threaded (it starts no threads), as a fork needs.
pub fn clone3(flags: u64, cgroup: Option<BorrowedFd>) -> io::Result<Option<(libc::pid_t, OwnedFd)>> {
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
        // SAFETY: CLONE_PIDFD stored a new fd that nothing else owns.
        pid => Ok(Some((pid as libc::pid_t, unsafe { OwnedFd::from_raw_fd(pidfd) }))),
    }
}

/// pidfd_send_signal: sends `signal` to the process behind `pidfd`.
pub fn pidfd_send_signal(pidfd: BorrowedFd, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: pidfd is a valid fd; no siginfo is passed.
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
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// pidfd_open: a pidfd for `pid`.
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the result is checked before use.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pidfd_open returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// _exit: ends a forked copy of the runner without running the parent's
/// atexit handlers or flushing its copied stdio buffers.
pub fn exit_now(status: i32) -> ! {
    // SAFETY: _exit takes an integer and does not return.
    unsafe { libc::_exit(status) }
}

/// fork: `Ok(None)` in the child, its pid in the parent. Called by the
/// container's init (child/init.rs) and for a detached container's monitor
/// (cli/detach.rs), both single-threaded, as a fork needs.
pub fn fork() -> io::Result<Option<libc::pid_t>> {
    // SAFETY: the calling process has one thread, so the child's copy is
    // consistent; the child only makes system calls and execs or _exits.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        pid => Ok(Some(pid)),
    }
}

/// waitpid(-1, WNOHANG): a child that has ended, with its raw wait status;
/// `Ok(None)` while none has (or there is none). Raw, because nix's
/// `WaitStatus` cannot hold a real-time signal.
pub fn reap_any() -> io::Result<Option<(libc::pid_t, libc::c_int)>> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: status lives across the call.
        match unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) } {
            -1 => match io::Error::last_os_error() {
                e if e.raw_os_error() == Some(libc::EINTR) => continue,
                e if e.raw_os_error() == Some(libc::ECHILD) => return Ok(None),
                e => return Err(e),
            },
            0 => return Ok(None),
            pid => return Ok(Some((pid, status))),
        }
    }
}

/// How a process ended: its exit code, or the signal that killed it (a raw
/// number: nix's `WaitStatus` cannot hold a real-time signal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(libc::c_int),
}

/// waitid(P_PIDFD, WEXITED): waits for the child behind `pidfd` to end and
/// reaps it.
pub fn wait_pidfd(pidfd: BorrowedFd) -> io::Result<Exit> {
    loop {
        // SAFETY: siginfo_t is plain data; all-zero is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: info lives across the call; pidfd is a valid fd.
        let ret = unsafe { libc::waitid(libc::P_PIDFD, pidfd.as_raw_fd() as libc::id_t, &mut info, libc::WEXITED) };
        if ret < 0 {
            match io::Error::last_os_error() {
                e if e.raw_os_error() == Some(libc::EINTR) => continue,
                e => return Err(e),
            }
        }
        // SAFETY: waitid filled in a SIGCHLD siginfo, whose si_status is set.
        let status = unsafe { info.si_status() };
        return Ok(match info.si_code {
            libc::CLD_EXITED => Exit::Code(status),
            _ => Exit::Signal(status),
        });
    }
}
