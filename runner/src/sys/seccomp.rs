//! seccomp(2) (runner's child): installs a compiled filter on the calling
//! thread.

use std::io;

/// seccomp SECCOMP_SET_MODE_FILTER with `program`. Without no_new_privs
/// this needs CAP_SYS_ADMIN in the caller's user namespace. A program
/// longer than a filter can be (u16 instructions) is EINVAL.
pub fn set_mode_filter(program: &[libc::sock_filter]) -> io::Result<()> {
    let len = u16::try_from(program.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let fprog = libc::sock_fprog {
        len,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: fprog points to `program`, which outlives the call; the
    // kernel copies the filter and does not write through the pointer.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &fprog as *const libc::sock_fprog,
        )
    };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// For tests: one of the system calls that take no arguments and change
/// nothing (getpid, getppid and the get*id calls), with `arg` as its first
/// argument register, for a filter to look at. Any other `nr` is EINVAL.
#[cfg(test)]
pub fn call_harmless(nr: libc::c_long, arg: u64) -> io::Result<libc::c_long> {
    const HARMLESS: [libc::c_long; 6] = [
        libc::SYS_getpid,
        libc::SYS_getppid,
        libc::SYS_getuid,
        libc::SYS_getgid,
        libc::SYS_geteuid,
        libc::SYS_getegid,
    ];
    if !HARMLESS.contains(&nr) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: each of these calls ignores its arguments and changes nothing.
    let ret = unsafe { libc::syscall(nr, arg) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret)
}
