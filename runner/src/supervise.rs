//! Supervision of the running container (runner, unprivileged): forward
//! signals to its pid 1, wait for it, and turn its end into burrow's status.

use crate::spawn::{Child, send_signal};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use std::io;
use std::os::fd::AsFd;

/// Signals burrow passes on to the container's pid 1.
const FORWARDED: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// si_code of a signal the kernel sent, e.g. a terminal's ^C or resize.
const SI_KERNEL: i32 = 0x80;

/// The forwarded signals, blocked from before the clone (so none is lost
/// while the container starts) and read from a signalfd.
pub struct Signals {
    fd: SignalFd,
    /// The mask before blocking, which the child restores before exec.
    pub original_mask: SigSet,
}

impl Signals {
    pub fn block() -> io::Result<Signals> {
        let mut set = SigSet::empty();
        FORWARDED.iter().for_each(|s| set.add(*s));
        let mut original_mask = SigSet::empty();
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut original_mask))?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
        Ok(Signals { fd, original_mask })
    }
}

/// Forwards signals until the child exits; returns its status as burrow's:
/// its exit code, or 128+N when signal N killed it.
pub fn wait(child: &Child, signals: &Signals) -> io::Result<i32> {
    loop {
        let mut fds = [
            PollFd::new(child.pidfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(signals.fd.as_fd(), PollFlags::POLLIN),
        ];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        if fds[1].any().unwrap_or(false) {
            while let Some(info) = signals.fd.read_signal()? {
                // The kernel sends terminal signals to the whole foreground
                // process group, which the container's process is part of:
                // it already has them.
                if info.ssi_code != SI_KERNEL {
                    send_signal(&child.pidfd, info.ssi_signo as libc::c_int)?;
                }
            }
        }
        if fds[0].any().unwrap_or(false) {
            let (status, signal) = reap_with_signal(child)?;
            if signal == Some(Signal::SIGSYS) {
                // On x86_64 the kernel raises SIGSYS only for seccomp (a
                // filter's kill or trap: burrow's, or one the container
                // installed itself).
                log::error!("the container was killed by seccomp (SIGSYS)");
            }
            return Ok(status);
        }
    }
}

/// Waits for the child to end and returns burrow's status for it.
pub fn reap(child: &Child) -> io::Result<i32> {
    reap_with_signal(child).map(|(status, _)| status)
}

/// As `reap`, and the signal that killed it, if one did.
fn reap_with_signal(child: &Child) -> io::Result<(i32, Option<Signal>)> {
    loop {
        match waitid(Id::PIDFd(child.pidfd.as_fd()), WaitPidFlag::WEXITED) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(WaitStatus::Exited(_, code)) => return Ok((code, None)),
            Ok(WaitStatus::Signaled(_, signal, _)) => return Ok((128 + signal as i32, Some(signal))),
            Ok(_) => continue,
        }
    }
}
