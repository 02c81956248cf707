//! Process hygiene, the first thing burrow-helper does. Runs setuid root
//! (euid 0, full capabilities), before any input is interpreted. Untrusted:
//! all the state the caller carried across execve — open and closed fds,
//! environment, signal dispositions and mask, umask, argv.

use crate::error::Error;
use crate::sys;
use burrow_shared::exit;
use std::io::Write;
use std::os::fd::RawFd;

/// A panic prints this one fixed line and exits 70 without unwinding: no
/// panic message (it could carry attacker-chosen text), no destructor.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|_| {
        let _ = std::io::stderr().write_all(b"burrow-helper: internal error\n");
        sys::exit_now(exit::INTERNAL);
    }));
}

/// Makes fds 0, 1 and 2 valid, so that no file the helper opens later lands
/// on a stdio number where a stray write or read would reach it.
pub fn make_stdio_valid() {
    for fd in 0..3 {
        // open returns the lowest free fd: `fd`, since all below it are open.
        if !sys::fd_is_open(fd) && sys::open_dev_null().ok() != Some(fd) {
            sys::exit_now(exit::OS_ERROR);
        }
    }
}

/// Empty environment, umask 022, not dumpable (so the caller cannot ptrace
/// the helper or read its memory once it runs as the caller's uid), default
/// signal dispositions, nothing blocked.
pub fn reset_inherited_state() -> Result<(), Error> {
    // SECURITY: only removes inherited state; PR_SET_DUMPABLE 0 keeps
    // /proc/self of the helper root-owned and unptraceable (bubblewrap
    // CVE-2016-8659 was a dumpable privileged process).
    sys::clear_env_umask_undumpable().map_err(|e| Error::os("resetting the process state", e))?;
    sys::reset_signals().map_err(|e| Error::os("resetting signals", e))
}

/// Closes every fd above stderr except `keep` (the fds the request names).
pub fn close_inherited_fds(keep: &[RawFd]) -> Result<(), Error> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter_map(|&fd| u32::try_from(fd).ok())
        .filter(|&fd| fd >= 3)
        .collect();
    keep.sort_unstable();
    keep.push(u32::MAX);
    let mut first = 3;
    for kept in keep {
        if kept > first {
            sys::close_range(first, kept - 1).map_err(|e| Error::os("closing inherited fds", e))?;
        }
        first = kept.saturating_add(1);
    }
    Ok(())
}
