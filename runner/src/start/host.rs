//! What a front end asks about this host before it builds a spec (runner,
//! as the calling user): facts about burrow's own process, read through
//! sys/, so that the front ends need no system call of their own.

use crate::sys::fd;

/// The first of the fds `fds` that is not open in this process, if any.
pub fn first_closed_fd(mut fds: std::ops::Range<u32>) -> Option<u32> {
    fds.find(|&n| !fd::is_open(n as libc::c_int))
}
