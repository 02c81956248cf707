//! Supervision of the running container (runner, unprivileged): pass
//! signals on to it, wait for it, and turn its end into burrow's status.
//! Untrusted: the container, whose processes may signal whatever they reach.
//!
//! The container runs in a session of its own, without a controlling
//! terminal (child.rs calls setsid before exec), after bubblewrap's
//! `--new-session`. So nothing in it reaches beyond its pid namespace:
//! kill(0) reaches only its own process group, never the script that ran
//! burrow, a pipeline's other commands or burrow; and the kernel refuses it
//! the caller's terminal's job control (TIOCSPGRP) and TIOCSTI, which need
//! a controlling terminal. A process group of its own in burrow's session
//! (setpgid) would leave it both, and runc and crun without a terminal keep
//! the container in the caller's process group even. The terminal's signals
//! therefore reach burrow alone, in the caller's foreground job, and burrow
//! passes them on:
//!
//! - a signal the terminal sent (si_code SI_KERNEL: ^C, ^\, a resize, a
//!   hangup) to the container's process group, as the terminal sends one to
//!   a foreground job: the command an interactive shell runs gets ^C too;
//! - a signal a process sent (kill) to the container's pid 1;
//! - SIGTSTP (^Z, or kill -TSTP) stops the container's process group with
//!   SIGSTOP (SIGTSTP's default action does nothing in its group, which is
//!   orphaned), then burrow itself, by SIGTSTP's default action, so that
//!   the caller's shell sees a stopped job; once burrow is continued (fg,
//!   bg) it continues the container. In an orphaned process group the
//!   kernel discards burrow's stop, as for any job there, and the container
//!   goes on.
//!
//! Without a controlling terminal, the container gets no SIGTTIN or SIGTTOU:
//! it reads a terminal on its stdin even while burrow is a background job,
//! and a shell in it has no job control of its own.

use crate::start::spawn::{Child, send_signal};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, killpg, raise, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd, siginfo};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;
use std::io;
use std::os::fd::AsFd;

/// Signals burrow passes on to the container, besides SIGTSTP.
const FORWARDED: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// si_code of a signal the kernel sent: a terminal's ^C, ^\, resize or hangup.
const SI_KERNEL: i32 = 0x80;

/// The forwarded signals and SIGTSTP, blocked from before the clone (so
/// none is lost while the container starts) and read from a signalfd.
pub struct Signals {
    fd: SignalFd,
    /// The mask before blocking, which the child restores before exec.
    pub original_mask: SigSet,
}

impl Signals {
    pub fn block() -> io::Result<Signals> {
        let mut set = SigSet::empty();
        FORWARDED.iter().for_each(|s| set.add(*s));
        set.add(Signal::SIGTSTP);
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
                pass_on(child, &info)?;
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

/// Passes one signal burrow received on to the container (module doc).
fn pass_on(child: &Child, info: &siginfo) -> io::Result<()> {
    let signal = Signal::try_from(info.ssi_signo as libc::c_int)?;
    match signal {
        Signal::SIGTSTP => stop_as_a_job(child),
        _ if info.ssi_code == SI_KERNEL => signal_group(child, signal),
        _ => send_signal(&child.pidfd, signal as libc::c_int),
    }
}

/// Sends `signal` to the container's process group, which its pid 1 leads
/// (a session leader's group has its id, its pid in burrow's namespace).
fn signal_group(child: &Child, signal: Signal) -> io::Result<()> {
    // SECURITY: the group holds the container's processes only. Its leader
    // is burrow's child, not reaped yet, so no other process has its pid,
    // and only a process of its session, which no process outside the
    // container is in, can join the group.
    match killpg(Pid::from_raw(child.pid), signal) {
        Ok(()) | Err(Errno::ESRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// SIGTSTP: stops the container, then burrow, as a shell job stops, and
/// continues the container once burrow goes on.
fn stop_as_a_job(child: &Child) -> io::Result<()> {
    signal_group(child, Signal::SIGSTOP)?;
    let tstp = SigSet::from(Signal::SIGTSTP);
    // Raised while blocked, then unblocked: its default action stops burrow
    // on the way out of sigprocmask, or, in an orphaned process group (which
    // nothing would continue), the kernel discards it.
    raise(Signal::SIGTSTP)?;
    sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&tstp), None)?;
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&tstp), None)?;
    signal_group(child, Signal::SIGCONT)
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
