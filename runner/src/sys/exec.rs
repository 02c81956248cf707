//! execve(2) with arguments built beforehand (runner's child): after the
//! seccomp filter, the child allocates nothing on the way to exec, so the
//! pointer arrays execve takes are made before it.

use std::ffi::{CStr, CString};
use std::io;

/// Strings, and the NULL-terminated array of pointers to them that execve
/// takes (argv or envp). The strings' bytes live on the heap, so the
/// pointers stay valid while the value lives, wherever it moves.
pub struct CStringArray {
    _strings: Vec<CString>,
    pointers: Vec<*const libc::c_char>,
}

impl CStringArray {
    pub fn new(strings: Vec<CString>) -> CStringArray {
        let pointers = strings
            .iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect();
        CStringArray {
            _strings: strings,
            pointers,
        }
    }
}

/// execve `path` with `argv` and `envp`; returns only on failure, with the
/// errno.
pub fn execve(path: &CStr, argv: &CStringArray, envp: &CStringArray) -> io::Error {
    // SAFETY: the path, argv and envp are NUL-terminated strings in
    // NULL-terminated arrays that outlive the call; execve returns only on
    // failure.
    unsafe { libc::execve(path.as_ptr(), argv.pointers.as_ptr(), envp.pointers.as_ptr()) };
    io::Error::last_os_error()
}
