//! burrow's init for `--init` (runner's child, pid 1 of the container,
//! after the whole confinement: seccomp, capabilities and no_new_privs
//! apply to it as to the command). Rather than exec a separate program
//! (tini, catatonit), pid 1 stays in the runner's code, already loaded:
//! nothing is added to the container's filesystem and the start costs one
//! fork. It is non-dumpable (confine.rs set it before the pivot, and it
//! never execs), so the container's root can neither ptrace it nor read its
//! memory through /proc: its memory is the host's mm, whose user namespace
//! is the caller's, not the container's. Its argument area is overwritten
//! (sys/argv.rs), so /proc/1/cmdline, which everyone may read, says
//! `burrow-init`, not burrow's command line.
//!
//! The command runs in a process group of its own (as a shell runs a
//! job), the terminal's foreground one with `-t`. Pid 1 blocks every
//! signal and takes them one at a time (sigwaitinfo): SIGCHLD reaps every
//! child that ended, orphans included, until the command ends, whose
//! status is pid 1's exit status (128+N for signal N); a stop signal
//! (SIGTSTP, SIGTTIN, SIGTTOU) stops the command's group with SIGSTOP
//! (nothing else would: the group is orphaned); every other signal is
//! passed on to the command's group.

use crate::status;
use crate::sync::{Channel, Failure, Step};
use crate::sys::{argv, fd, process, signal, tty};
use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
use nix::unistd::Pid;
use std::io;
use std::os::fd::AsFd;

/// What `fork_command` gives back when the fork failed: the channel, to
/// report it on.
pub type Unforked = (Channel, Failure);

/// Forks the command's process, which returns here with the channel (then
/// execs); pid 1 closes its copy of the channel, so that the runner's wait
/// for exec still ends at the command's exec, and every other fd above
/// stderr, and supervises: it never returns. `mask`: the command's signal mask; `terminal`: stdin is the
/// container's pty.
pub fn fork_command(channel: Channel, mask: &SigSet, terminal: bool) -> Result<Channel, Unforked> {
    let all = SigSet::all();
    let forked = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&all), None)
        .map_err(io::Error::from)
        .and_then(|()| process::fork());
    match forked {
        Err(e) => Err((channel, Failure::os(Step::Init, "fork", &e))),
        Ok(None) => match enter_own_group(terminal).and_then(|()| Ok(mask.thread_set_mask()?)) {
            Ok(()) => Ok(channel),
            Err(e) => Err((channel, Failure::os(Step::Init, "starting the command", &e))),
        },
        Ok(Some(command)) => {
            drop(channel);
            // It never execs: no fd of burrow's (its monitor's pipes, a
            // preserved fd) stays open in it for the container's life.
            let _ = fd::close_from(3);
            // The container reads /proc/1/cmdline: not burrow's command line.
            argv::set_title("burrow-init");
            // Also here, so that the group exists before the first signal
            // is passed on, whichever process runs first.
            let _ = nix::unistd::setpgid(Pid::from_raw(command), Pid::from_raw(command));
            supervise(command, &all)
        }
    }
}

/// The command's own process group; with a terminal, its foreground one
/// (SIGTTOU, which tcsetpgrp raises in a background group, is blocked).
fn enter_own_group(terminal: bool) -> io::Result<()> {
    nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0))?;
    if terminal {
        tty::set_foreground(std::io::stdin().as_fd(), nix::unistd::getpid().as_raw())?;
    }
    Ok(())
}

/// Pid 1's loop (module doc); allocates nothing.
fn supervise(command: libc::pid_t, all: &SigSet) -> ! {
    loop {
        let Ok(received) = signal::wait(all) else {
            process::exit_now(status::FAILED)
        };
        match received {
            libc::SIGCHLD => {
                if let Some(status) = reap(command) {
                    process::exit_now(status)
                }
            }
            libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => pass_on(command, libc::SIGSTOP),
            other => pass_on(command, other),
        }
    }
}

/// Reaps every child that has ended; the command's status if it was one.
fn reap(command: libc::pid_t) -> Option<i32> {
    while let Ok(Some((pid, wait_status))) = process::reap_any() {
        if pid != command {
            continue;
        }
        return Some(match libc::WIFSIGNALED(wait_status) {
            true => 128 + libc::WTERMSIG(wait_status),
            false => libc::WEXITSTATUS(wait_status),
        });
    }
    None
}

/// Sends `signal` to the command's group, or to the command alone if it
/// has left it.
fn pass_on(command: libc::pid_t, signal: libc::c_int) {
    if signal::kill(-command, signal).is_err() {
        let _ = signal::kill(command, signal);
    }
}
