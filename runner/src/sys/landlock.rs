//! Landlock's version query (runner): whether this kernel enforces it.

use std::io;

/// landlock_create_ruleset with LANDLOCK_CREATE_RULESET_VERSION: the
/// kernel's Landlock ABI version (1 and up), or the errno (EOPNOTSUPP when
/// Landlock is built in but not enabled, ENOSYS when absent).
pub fn abi_version() -> io::Result<i64> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: the version query takes no ruleset attribute (NULL, 0).
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if abi < 1 {
        return Err(io::Error::last_os_error());
    }
    Ok(abi)
}
