//! Receiving one datagram with the fds passed along with it (SCM_RIGHTS),
//! each owned as soon as the kernel installs it (runner and its child: the
//! peer is the other side of the start sequence, so untrusted only as far
//! as a confused peer goes). nix's `recvmsg` would leave the fds that did
//! fit in the buffer unowned, and so leaked, when more were sent.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Most fds taken from one datagram; the kernel closes any beyond them and
/// says so (MSG_CTRUNC).
pub const MAX_FDS: usize = 2;

/// Bytes of control data for MAX_FDS fds: CMSG_SPACE(MAX_FDS * 4), which
/// is 24 on 64-bit Linux, rounded up to whole `u64`s for its alignment.
const CONTROL_WORDS: usize = 4;

pub struct Received {
    /// The datagram's length, even when it was longer than the buffer
    /// (MSG_TRUNC); 0 at EOF.
    pub length: usize,
    /// Every fd that came with it, close-on-exec.
    pub fds: Vec<OwnedFd>,
    /// More fds came than MAX_FDS: the kernel closed the rest.
    pub fds_truncated: bool,
}

/// recvmsg(2) of one datagram into `buffer`, with MSG_TRUNC (the real
/// length of a longer one) and MSG_CMSG_CLOEXEC (no fd received reaches an
/// exec unless marked inheritable), again on EINTR.
pub fn recv_with_fds(socket: BorrowedFd, buffer: &mut [u8]) -> io::Result<Received> {
    let mut control = [0u64; CONTROL_WORDS];
    // SAFETY: CMSG_SPACE only computes a size.
    let control_len = unsafe { libc::CMSG_SPACE((MAX_FDS * size_of::<libc::c_int>()) as libc::c_uint) } as usize;
    assert!(
        control_len <= size_of_val(&control),
        "the control buffer holds MAX_FDS fds"
    );
    let mut iov = libc::iovec {
        iov_base: buffer.as_mut_ptr().cast(),
        iov_len: buffer.len(),
    };
    // SAFETY: an all-zero msghdr is valid: no name, no iovec, no control data.
    let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
    header.msg_iov = &mut iov;
    header.msg_iovlen = 1;
    header.msg_control = control.as_mut_ptr().cast();
    header.msg_controllen = control_len;
    let length = loop {
        // SAFETY: `header` points at `iov` (which points at `buffer`) and at
        // `control`, each alive and writable for the length given.
        let received = unsafe {
            libc::recvmsg(
                socket.as_raw_fd(),
                &mut header,
                libc::MSG_TRUNC | libc::MSG_CMSG_CLOEXEC,
            )
        };
        if received >= 0 {
            break received as usize;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    };
    let mut fds = Vec::new();
    // SAFETY: the kernel wrote well-formed control messages into `control`
    // and set msg_controllen to their length; CMSG_FIRSTHDR and CMSG_NXTHDR
    // return only headers within it, or NULL.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&header) };
    while !cmsg.is_null() {
        // SAFETY: `cmsg` is a header within `control` (above).
        let (level, typ, len) = unsafe { ((*cmsg).cmsg_level, (*cmsg).cmsg_type, (*cmsg).cmsg_len) };
        if level == libc::SOL_SOCKET && typ == libc::SCM_RIGHTS {
            // SAFETY: CMSG_LEN only computes a size.
            let count = (len - unsafe { libc::CMSG_LEN(0) } as usize) / size_of::<libc::c_int>();
            // SAFETY: the data of an SCM_RIGHTS message is `count` ints, in `control`.
            let data = unsafe { libc::CMSG_DATA(cmsg) }.cast::<libc::c_int>();
            for index in 0..count {
                // SAFETY: `index` < `count` (above); the kernel installed
                // each of these fds for this call, and nothing else owns it.
                fds.push(unsafe { OwnedFd::from_raw_fd(data.add(index).read_unaligned()) });
            }
        }
        // SAFETY: as for CMSG_FIRSTHDR.
        cmsg = unsafe { libc::CMSG_NXTHDR(&header, cmsg) };
    }
    Ok(Received {
        length,
        fds,
        fds_truncated: header.msg_flags & libc::MSG_CTRUNC != 0,
    })
}
