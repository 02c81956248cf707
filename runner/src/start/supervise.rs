//! Supervision of the running container (runner, unprivileged): pass
//! signals on to it, relay its terminal, stop it on request, wait for it,
//! and turn its end into burrow's status. Untrusted: the container, whose
//! processes may signal whatever they reach, and its terminal's output.
//!
//! The container runs in a session of its own (child.rs calls setsid
//! before exec), after bubblewrap's `--new-session`, with its own pty as
//! its controlling terminal (`-t`) or none. So nothing in it reaches beyond
//! its pid namespace: kill(0) reaches only its own process group, never the
//! script that ran burrow, a pipeline's other commands or burrow; and the
//! kernel refuses it the caller's terminal's job control (TIOCSPGRP) and
//! TIOCSTI, which need that terminal as the controlling one. A process
//! group of its own in burrow's session (setpgid) would leave it both, and
//! runc and crun without a terminal keep the container in the caller's
//! process group even. The terminal's signals therefore reach burrow alone,
//! in the caller's foreground job, and burrow passes on every signal it
//! can catch (`Signals`; with `-it` the caller's terminal is raw and its
//! keys reach the container's pty as bytes instead):
//!
//! - SIGTERM is the request to stop: the container's stop signal goes to
//!   its pid 1 (SIGTERM, or a system container's halt signal), then, if it
//!   has not ended after the stop timeout, SIGKILL, as `podman stop` and
//!   `lxc-stop` do. A pid 1 without a handler ignores SIGTERM, so without
//!   `--init` the timeout is what ends such a command. For a system
//!   container, ^C and a hangup of the terminal (SIGINT and SIGHUP from the
//!   terminal) are the same request.
//! - another signal the terminal sent (si_code SI_KERNEL: ^C, ^\, a
//!   resize, a hangup) to the container's process group, as the terminal
//!   sends one to a foreground job: the command an interactive shell runs
//!   gets ^C too (with `--init` that group is the init alone, which passes
//!   it to the command's group);
//! - a signal a process sent (kill), real-time ones included, to the
//!   container's pid 1;
//! - SIGWINCH with a pty of its own: the caller's new size to that pty,
//!   whose foreground job the kernel signals;
//! - SIGTSTP (^Z, or kill -TSTP) stops the container's process group with
//!   SIGSTOP (SIGTSTP's default action does nothing in its group, which is
//!   orphaned; with `--init`, SIGTSTP to the init, which does the same for
//!   the command's group), then burrow itself, by SIGTSTP's default
//!   action, with the caller's terminal restored, so that the caller's
//!   shell sees a stopped job; once burrow is continued (fg, bg) it
//!   continues the container. In an orphaned process group the kernel
//!   discards burrow's stop, as for any job there, and the container goes
//!   on.
//!
//! Not caught, so never passed on: SIGKILL and SIGSTOP (they cannot be),
//! SIGCHLD (the pidfd says when pid 1 ends), SIGCONT, SIGTTIN and SIGTTOU
//! (burrow's own job control), and the signals of burrow's own faults and
//! limits (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT,
//! SIGPIPE, SIGPROF, SIGVTALRM, SIGXCPU, SIGXFSZ).
//!
//! Without a terminal of its own, the container gets no SIGTTIN or SIGTTOU:
//! it reads a terminal on its stdin even while burrow is a background job,
//! and a shell in it has no job control of its own.

use crate::start::output::Output;
use crate::start::pty::{RawMode, Relay};
use crate::start::spawn::{Child, send_signal};
use crate::sys::process::{self, Exit};
use crate::sys::signal::kill;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, raise, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd, siginfo};
use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// The signals burrow does not catch (module doc); it catches the rest.
const NOT_CAUGHT: [Signal; 16] = [
    Signal::SIGCHLD,
    Signal::SIGCONT,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGFPE,
    Signal::SIGILL,
    Signal::SIGTRAP,
    Signal::SIGSYS,
    Signal::SIGABRT,
    Signal::SIGPIPE,
    Signal::SIGPROF,
    Signal::SIGVTALRM,
    Signal::SIGXCPU,
    Signal::SIGXFSZ,
];

/// si_code of a signal the kernel sent: a terminal's ^C, ^\, resize or hangup.
const SI_KERNEL: i32 = 0x80;

/// The signals burrow catches, blocked from before the clone (so none is
/// lost while the container starts) and read from a signalfd.
pub struct Signals {
    fd: SignalFd,
    /// The mask before blocking, which the child restores before exec.
    pub original_mask: SigSet,
}

/// The mask burrow started with, from the first `Signals::block`: the
/// signals stay blocked from then on (a signal that comes between two starts
/// of a restarted container waits for the next one's signalfd), so a later
/// call would find them blocked already and must not take that for the
/// mask the container's command should get.
static ORIGINAL_MASK: std::sync::OnceLock<SigSet> = std::sync::OnceLock::new();

impl Signals {
    pub fn block() -> io::Result<Signals> {
        let mut set = SigSet::all();
        NOT_CAUGHT.iter().for_each(|s| set.remove(*s));
        let mut before = SigSet::empty();
        sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut before))?;
        let original_mask = *ORIGINAL_MASK.get_or_init(|| before);
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
        Ok(Signals { fd, original_mask })
    }
}

/// How burrow supervises this container (from `parent::Foreground`).
pub struct Supervision<'a> {
    /// Sent to pid 1 on a request to stop (module doc).
    pub stop_signal: libc::c_int,
    /// Then SIGKILL after this.
    pub stop_timeout: Duration,
    /// burrow's init is pid 1 (`--init`).
    pub init: bool,
    /// A system container: ^C and a hangup from the terminal stop it too.
    pub system: bool,
    /// The container's terminal, when it has one.
    pub relay: Option<Relay>,
    /// The caller's terminal in raw mode, when it is.
    pub raw: Option<&'a RawMode>,
    /// A detached container's output, drained into its log.
    pub output: Option<&'a std::cell::RefCell<Output>>,
}

/// How the container's pid 1 ended, and so the container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ended {
    /// burrow's status for it: its exit code, or 128+N when signal N killed it.
    pub status: i32,
    /// The signal that killed it, if one did.
    pub signal: Option<libc::c_int>,
}

/// Passes signals on and relays the terminal until pid 1 ends; returns how.
pub fn wait(child: &Child, signals: &Signals, how: &mut Supervision) -> io::Result<Ended> {
    let mut kill_at: Option<Instant> = None;
    loop {
        let timeout = match kill_at {
            None => PollTimeout::NONE,
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now()).as_millis() + 1;
                PollTimeout::try_from(left.min(60_000) as i32).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut output = how.output.map(|o| o.borrow_mut());
        let mut fds = vec![
            PollFd::new(child.pidfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(signals.fd.as_fd(), PollFlags::POLLIN),
        ];
        let output_fd = output.as_ref().and_then(|o| o.poll_fd());
        let output_ready = output_fd.is_some().then_some(fds.len());
        fds.extend(output_fd);
        let relay_from = fds.len();
        fds.extend(how.relay.as_ref().map(Relay::poll_fds).unwrap_or_default());
        match poll(&mut fds, timeout) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds.iter().map(|fd| fd.any().unwrap_or(false)).collect();
        drop(fds);
        if let (Some(output), Some(at)) = (output.as_mut(), output_ready) {
            if ready[at] || ready[0] {
                output.drain()?;
            }
        }
        drop(output);
        if ready[1] {
            while let Some(info) = signals.fd.read_signal()? {
                pass_on(child, &info, how, &mut kill_at)?;
            }
        }
        if let Some(relay) = how.relay.as_mut() {
            relay.on_ready(&ready[relay_from..])?;
        }
        if ready[0] {
            if let Some(relay) = how.relay.as_mut() {
                relay.drain();
            }
            let ended = reap_ended(child)?;
            if ended.signal == Some(libc::SIGSYS) {
                // On x86_64 the kernel raises SIGSYS only for seccomp (a
                // filter's kill or trap: burrow's, or one the container
                // installed itself).
                log::error!("the container was killed by seccomp (SIGSYS)");
            }
            return Ok(ended);
        }
        if kill_at.is_some_and(|at| Instant::now() >= at) {
            if let Some(raw) = how.raw {
                raw.restore();
            }
            log::warn!("the container did not stop within {:?}: killing it", how.stop_timeout);
            send_signal(&child.pidfd, libc::SIGKILL)?;
            kill_at = None;
        }
    }
}

/// Passes one signal burrow received on to the container (module doc).
fn pass_on(child: &Child, info: &siginfo, how: &mut Supervision, kill_at: &mut Option<Instant>) -> io::Result<()> {
    let signal = info.ssi_signo as libc::c_int;
    let from_terminal = info.ssi_code == SI_KERNEL;
    match signal {
        libc::SIGTSTP => stop_as_a_job(child, how),
        libc::SIGWINCH if how.relay.is_some() => {
            how.relay.as_ref().map(Relay::resize);
            Ok(())
        }
        libc::SIGTERM => stop(child, how, kill_at),
        // An init takes SIGINT as ctrl-alt-del (a reboot) and SIGHUP as
        // "reload": from the terminal, both mean the user wants it gone.
        libc::SIGINT | libc::SIGHUP if from_terminal && how.system => stop(child, how, kill_at),
        _ if from_terminal => signal_group(child, signal),
        _ => send_signal(&child.pidfd, signal),
    }
}

/// A request to stop: the stop signal to pid 1, and SIGKILL armed for
/// after the timeout (a second request does not move it).
fn stop(child: &Child, how: &Supervision, kill_at: &mut Option<Instant>) -> io::Result<()> {
    if kill_at.is_none() {
        *kill_at = Some(Instant::now() + how.stop_timeout);
    }
    send_signal(&child.pidfd, how.stop_signal)
}

/// Sends `signal` to the container's process group, which its pid 1 leads
/// (a session leader's group has its id, its pid in burrow's namespace).
fn signal_group(child: &Child, signal: libc::c_int) -> io::Result<()> {
    // SECURITY: the group holds the container's processes only. Its leader
    // is burrow's child, not reaped yet, so no other process has its pid,
    // and only a process of its session, which no process outside the
    // container is in, can join the group.
    match kill(-child.pid, signal) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        other => other,
    }
}

/// SIGTSTP: stops the container, then burrow, as a shell job stops, and
/// continues the container once burrow goes on.
fn stop_as_a_job(child: &Child, how: &Supervision) -> io::Result<()> {
    match how.init {
        true => send_signal(&child.pidfd, libc::SIGTSTP)?,
        false => signal_group(child, libc::SIGSTOP)?,
    }
    if let Some(raw) = how.raw {
        raw.restore();
    }
    let tstp = SigSet::from(Signal::SIGTSTP);
    // Raised while blocked, then unblocked: its default action stops burrow
    // on the way out of sigprocmask, or, in an orphaned process group (which
    // nothing would continue), the kernel discards it.
    raise(Signal::SIGTSTP)?;
    sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&tstp), None)?;
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&tstp), None)?;
    if let Some(raw) = how.raw {
        raw.resume();
    }
    if let Some(relay) = &how.relay {
        relay.resize();
    }
    match how.init {
        true => send_signal(&child.pidfd, libc::SIGCONT),
        false => signal_group(child, libc::SIGCONT),
    }
}

/// Waits for the child to end and returns burrow's status for it.
pub fn reap(child: &Child) -> io::Result<i32> {
    reap_ended(child).map(|ended| ended.status)
}

fn reap_ended(child: &Child) -> io::Result<Ended> {
    Ok(match process::wait_pidfd(child.pidfd.as_fd())? {
        Exit::Code(code) => Ended {
            status: code,
            signal: None,
        },
        Exit::Signal(signal) => Ended {
            status: 128 + signal,
            signal: Some(signal),
        },
    })
}
