//! Interface flags by ioctl (runner's child): SIOCGIFFLAGS, SIOCSIFFLAGS.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Sets IFF_UP on the interface `name` (at most 15 bytes, else EINVAL)
/// through `socket`, any socket of the interface's network namespace.
pub fn set_up(socket: BorrowedFd, name: &str) -> io::Result<()> {
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= request.ifr_name.len() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    for (slot, byte) in request.ifr_name.iter_mut().zip(name.bytes()) {
        *slot = byte as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS read and write the ifreq, which
    // lives across both calls and whose name is NUL-terminated;
    // ifru_flags is the union field they use.
    unsafe {
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) < 0 {
            return Err(io::Error::last_os_error());
        }
        request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
