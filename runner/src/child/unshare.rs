//! The child of `burrow unshare` (runner's child, in a new user namespace
//! only): it waits for its maps, becomes root of the namespace, and execs
//! the command with burrow's environment, fds and everything else as they
//! are. Nothing is confined: the namespace holds only the caller's own and
//! subordinate ids, so its root can do no more on the host than they can.

use crate::child::{self, exec};
use crate::status;
use crate::sync::{Channel, Failure, Message, Step};
use crate::sys::process;
use nix::sys::signal::{SigSet, Signal};
use std::io;

/// Never returns: execs `command`, or reports why not on `channel` and exits.
pub fn run(command: &[String], channel: Channel, signal_mask: &SigSet) -> ! {
    let failure = match become_root(&channel, signal_mask) {
        Ok(()) => match exec::prepare(command, &environment()) {
            Ok(prepared) => Failure::os(
                Step::Exec,
                command.first().cloned().unwrap_or_default(),
                &prepared.exec(),
            ),
            Err(e) => Failure::os(Step::Exec, command.first().cloned().unwrap_or_default(), &e),
        },
        Err(failure) => failure,
    };
    let _ = channel.send(&Message::Failed(failure));
    process::exit_now(status::FAILED)
}

fn become_root(channel: &Channel, signal_mask: &SigSet) -> Result<(), Failure> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(|e| Failure::os(Step::ParentDeath, "PR_SET_PDEATHSIG", &io::Error::from(e)))?;
    let Ok((setgroups_allowed, _)) = channel.wait_configure() else {
        // The parent is gone or confused: it reports its own error.
        process::exit_now(status::FAILED)
    };
    child::become_root(setgroups_allowed)?;
    child::restore_signals(signal_mask)
}

/// burrow's own environment, as the command gets it (a variable that is
/// not UTF-8 has its invalid bytes replaced).
fn environment() -> Vec<String> {
    std::env::vars_os()
        .map(|(key, value)| format!("{}={}", key.to_string_lossy(), value.to_string_lossy()))
        .collect()
}
