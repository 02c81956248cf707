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

/// kill(2) with a raw signal number (nix's `Signal` has no real-time
/// signals): `pid` negative names a process group.
pub fn kill(pid: libc::pid_t, signal: libc::c_int) -> std::io::Result<()> {
    // SAFETY: plain call with two integers.
    match unsafe { libc::kill(pid, signal) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// sigwaitinfo: waits for one signal of `set` (which must be blocked) and
/// returns its number, real-time signals included.
pub fn wait(set: &nix::sys::signal::SigSet) -> std::io::Result<libc::c_int> {
    loop {
        // SAFETY: the set lives across the call; no siginfo is asked for.
        match unsafe { libc::sigwaitinfo(set.as_ref(), std::ptr::null_mut()) } {
            -1 if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => continue,
            -1 => return Err(std::io::Error::last_os_error()),
            signal => return Ok(signal),
        }
    }
}
