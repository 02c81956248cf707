//! The process's own argument area (runner), kept from the C entry point so
//! that the container's init (child/init.rs) can overwrite it, as
//! setproctitle does: /proc/1/cmdline is readable by every process in the
//! container and would show burrow's command line (the rootfs's host path,
//! every option).

use std::ffi::c_char;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

static START: AtomicPtr<c_char> = AtomicPtr::new(std::ptr::null_mut());
static LEN: AtomicUsize = AtomicUsize::new(0);

/// Records the argument strings' area: from argv[0] to the end of the last
/// argument that follows the one before it directly (the kernel lays them
/// out so; the area ends at the first one that does not).
///
/// # Safety
/// `argv` must be the `argc` NUL-terminated strings the C runtime passed
/// to `main`, alive and unmoved for the rest of the process.
pub unsafe fn record(argc: libc::c_int, argv: *const *mut c_char) {
    if argc < 1 || argv.is_null() {
        return;
    }
    // SAFETY: the caller's contract: argc valid pointers to C strings.
    unsafe {
        let start = *argv;
        let mut end = start;
        for i in 0..argc as usize {
            let arg = *argv.add(i);
            if arg != end {
                break;
            }
            end = arg.add(libc::strlen(arg) + 1);
        }
        START.store(start, Ordering::Relaxed);
        LEN.store(end.offset_from(start) as usize, Ordering::Relaxed);
    }
}

/// Replaces the recorded area with `title` (cut to fit), the rest NULs, so
/// that /proc/self/cmdline reads `title`. Allocates nothing and makes no
/// system call.
pub fn set_title(title: &str) {
    let (start, len) = (START.load(Ordering::Relaxed), LEN.load(Ordering::Relaxed));
    if start.is_null() || len == 0 {
        return;
    }
    let shown = title.len().min(len - 1);
    // SAFETY: `record` found `len` bytes of argument strings at `start`,
    // which stay mapped and writable (the initial stack) for the process's
    // life; nothing else refers to them after std copied argv at start-up.
    unsafe {
        std::ptr::write_bytes(start, 0, len);
        std::ptr::copy_nonoverlapping(title.as_ptr().cast::<c_char>(), start, shown);
    }
}
