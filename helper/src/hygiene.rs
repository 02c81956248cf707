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
/// signal dispositions, every signal blocked (a caller's SIGTERM cannot stop
/// the helper between two writes); then the caller's resource limits
/// are checked (`check_limits`).
pub fn reset_inherited_state() -> Result<(), Error> {
    // SECURITY: only removes inherited state; PR_SET_DUMPABLE 0 keeps
    // /proc/self of the helper root-owned and unptraceable (bubblewrap
    // CVE-2016-8659 was a dumpable privileged process).
    sys::clear_env_umask_undumpable().map_err(|e| Error::os("resetting the process state", e))?;
    sys::reset_signals().map_err(|e| Error::os("resetting signals", e))?;
    check_limits()
}

/// The soft limits the helper needs at least, as /proc/self/limits names
/// them: many times what any operation uses (at most 24 fds, for cgroup
/// with six hierarchies; some 5 MiB of address space; a 16 KiB stack), so
/// that no operation can run out half-way.
const MIN_LIMITS: [(&str, &str, u64); 4] = [
    ("Max open files", "RLIMIT_NOFILE", 64),
    ("Max address space", "RLIMIT_AS", 64 << 20),
    ("Max data size", "RLIMIT_DATA", 32 << 20),
    ("Max stack size", "RLIMIT_STACK", 256 << 10),
];

/// Refuses to start work under resource limits too small to finish it: a
/// limit hit half-way (EMFILE, a failed allocation, a stack overflow)
/// would stop an operation at a random point, some of them killing the
/// helper without its roll-back. Reads the kernel's own account of the
/// limits (the caller chose them across execve).
fn check_limits() -> Result<(), Error> {
    let text = std::fs::read_to_string("/proc/self/limits").map_err(|e| Error::os("checking resource limits", e))?;
    check_limits_text(&text)
}

/// `check_limits` on the text of /proc/self/limits.
fn check_limits_text(text: &str) -> Result<(), Error> {
    let doing = "checking resource limits";
    for (label, name, min) in MIN_LIMITS {
        let soft = text
            .lines()
            .find_map(|line| line.strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next());
        match soft.map(|soft| (soft, soft.parse::<u64>())) {
            Some(("unlimited", _)) => {}
            Some((_, Ok(soft))) if soft >= min => {}
            Some((_, Ok(soft))) => {
                return Err(Error::os(
                    doing,
                    format!("{name} is {soft}, below the {min} the helper needs"),
                ));
            }
            _ => return Err(Error::os(doing, format!("no soft {name} in /proc/self/limits"))),
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: &str = "Limit                     Soft Limit           Hard Limit           Units     \n\
        Max cpu time              unlimited            unlimited            seconds   \n\
        Max data size             unlimited            unlimited            bytes     \n\
        Max stack size            8388608              unlimited            bytes     \n\
        Max open files            1024                 524288               files     \n\
        Max address space         unlimited            unlimited            bytes     \n";

    fn check(text: &str) -> Result<(), (String, i32)> {
        check_limits_text(text).map_err(|e| (e.to_string(), e.exit_code()))
    }

    #[test]
    fn limits_floors() {
        assert_eq!(check(LIMITS), Ok(()));
        let at_floor = LIMITS.replace("8388608 ", "262144  ").replace("1024 ", "64   ");
        assert_eq!(check(&at_floor), Ok(()));
        let refused = |from: &str, to: &str| check(&LIMITS.replace(from, to)).unwrap_err();
        assert_eq!(
            refused("8388608 ", "262143  "),
            (
                "checking resource limits: RLIMIT_STACK is 262143, below the 262144 the helper needs".into(),
                71
            )
        );
        assert_eq!(
            refused("1024 ", "3    "),
            (
                "checking resource limits: RLIMIT_NOFILE is 3, below the 64 the helper needs".into(),
                71
            )
        );
        let tight_as = "Max address space         4194304              unlimited            bytes";
        assert_eq!(
            refused(
                "Max address space         unlimited            unlimited            bytes",
                tight_as
            )
            .0,
            "checking resource limits: RLIMIT_AS is 4194304, below the 67108864 the helper needs"
        );
        assert_eq!(
            refused(
                "Max data size             unlimited",
                "Max data size             65536    "
            )
            .0,
            "checking resource limits: RLIMIT_DATA is 65536, below the 33554432 the helper needs"
        );
        assert_eq!(
            refused("Max open files ", "Max open fds ").0,
            "checking resource limits: no soft RLIMIT_NOFILE in /proc/self/limits"
        );
    }
}
