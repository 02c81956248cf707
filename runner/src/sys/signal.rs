//! Signal dispositions without handler code (runner and its child): nix's
//! `signal` is `unsafe` because a handler may be, and SIG_IGN and SIG_DFL
//! install none.

use nix::sys::signal::{SigHandler, Signal};

/// Ignores `signal` (SIG_IGN).
pub fn ignore(signal: Signal) -> nix::Result<()> {
    // SAFETY: SIG_IGN installs no handler code.
    unsafe { nix::sys::signal::signal(signal, SigHandler::SigIgn) }.map(drop)
}

/// Restores the default disposition of `signal` (SIG_DFL).
pub fn set_default(signal: Signal) -> nix::Result<()> {
    // SAFETY: resetting a disposition to SIG_DFL installs no handler.
    unsafe { nix::sys::signal::signal(signal, SigHandler::SigDfl) }.map(drop)
}
