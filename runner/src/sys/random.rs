//! getrandom(2) (runner), for names that should not clash.

use std::io;

/// Fills `buffer` from the kernel's random pool (getrandom, flags 0);
/// returns how many bytes it wrote.
pub fn fill(buffer: &mut [u8]) -> io::Result<usize> {
    // SAFETY: getrandom writes at most buffer.len() bytes into buffer.
    let ret = unsafe { libc::getrandom(buffer.as_mut_ptr().cast(), buffer.len(), 0) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret as usize)
}
