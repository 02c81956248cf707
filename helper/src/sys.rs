//! Thin wrappers around the system calls std does not offer. Runs in
//! burrow-helper at every stage (setuid root first, later the caller's uid with
//! CAP_SETUID/CAP_SETGID permitted). The only module with `unsafe`: each
//! wrapper passes plain values to one call and returns the errno it got.
//! Untrusted: the fd numbers (the target fd is the caller's); paths here are
//! constants or components of the compile-time policy paths.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Ends the process at once: no unwinding, no atexit handlers.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit takes a plain int and never returns.
    unsafe { libc::_exit(code) }
}

pub fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the flags of whatever fd number it is given.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// Opens /dev/null on the lowest free fd, which the caller keeps forever.
pub fn open_dev_null() -> io::Result<RawFd> {
    // SAFETY: a constant NUL-terminated path; the fd is deliberately not owned.
    check(unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) })
}

/// Clears the environment, sets umask 022, and makes the process
/// non-dumpable. The helper is single-threaded, so clearenv races nothing.
pub fn clear_env_umask_undumpable() -> io::Result<()> {
    // SAFETY: plain-value calls; no thread reads the environment concurrently.
    unsafe {
        check(libc::clearenv())?;
        libc::umask(0o022);
    }
    set_undumpable()
}

pub fn set_undumpable() -> io::Result<()> {
    // SAFETY: PR_SET_DUMPABLE takes plain integers.
    check(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) }).map(drop)
}

/// Every catchable signal to SIG_DFL, and an empty signal mask.
pub fn reset_signals() -> io::Result<()> {
    // SAFETY: zeroed sigaction/sigset_t are valid values; SIG_DFL installs no
    // handler code. sigaction fails with EINVAL only for glibc's two reserved
    // real-time signals, whose dispositions glibc manages itself.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut action.sa_mask);
        for signal in 1..=libc::SIGRTMAX() {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::sigaction(signal, &action, ptr::null_mut());
            }
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        check(libc::sigprocmask(libc::SIG_SETMASK, &none, ptr::null_mut())).map(drop)
    }
}

/// Closes fds `first..=last`.
pub fn close_range(first: u32, last: u32) -> io::Result<()> {
    // SAFETY: closes fds only; nothing in the helper holds one of them yet.
    check(unsafe { libc::close_range(first, last, 0) }).map(drop)
}

/// The real, effective and saved uid, and the same for the gid.
pub fn getresuid_getresgid() -> ([u32; 3], [u32; 3]) {
    let (mut u, mut g) = ([0; 3], [0; 3]);
    // SAFETY: six valid out-pointers; neither call can fail with them.
    unsafe {
        libc::getresuid(&mut u[0], &mut u[1], &mut u[2]);
        libc::getresgid(&mut g[0], &mut g[1], &mut g[2]);
    }
    (u, g)
}

/// The login name of `uid` in the password database, `None` if it has none.
pub fn passwd_name(uid: u32) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: zeroed passwd is a valid out-value; buf outlives the call and
        // its length is passed; the result pointer points into `entry`/`buf`.
        let (ret, name) = unsafe {
            let mut entry: libc::passwd = std::mem::zeroed();
            let mut result: *mut libc::passwd = ptr::null_mut();
            let ret = libc::getpwuid_r(uid, &mut entry, buf.as_mut_ptr().cast(), buf.len(), &mut result);
            let name = (ret == 0 && !result.is_null() && !entry.pw_name.is_null())
                .then(|| CStr::from_ptr(entry.pw_name).to_bytes().to_vec());
            (ret, name)
        };
        match ret {
            0 => return Ok(name),
            libc::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            errno => return Err(io::Error::from_raw_os_error(errno)),
        }
    }
}

/// setgroups([]), setresgid(gid, gid, gid), setresuid(uid, uid, uid).
pub fn become_ids(uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: plain-value calls; a null list with length 0 is allowed.
    unsafe {
        check(libc::setgroups(0, ptr::null()))?;
        check(libc::setresgid(gid, gid, gid))?;
        check(libc::setresuid(uid, uid, uid)).map(drop)
    }
}

/// The caller's fd as a borrowed fd. Call only with an fd that `fd_is_open`
/// reported open after the inherited fds were closed; the helper never closes it.
pub fn borrow_fd(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: per the contract above, the fd stays open until the process exits.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// openat(2); `None` means relative to the cwd (used only with absolute paths).
pub fn openat(dir: Option<BorrowedFd>, path: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    let dir = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: path is NUL-terminated; the new fd is owned by the OwnedFd only.
    let fd = check(unsafe { libc::openat(dir, path.as_ptr(), flags | libc::O_CLOEXEC) })?;
    // SAFETY: fd was just returned by openat and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn fstat(fd: BorrowedFd) -> io::Result<libc::stat> {
    // SAFETY: a zeroed stat is a valid out-value of the right size.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        check(libc::fstat(fd.as_raw_fd(), &mut st))?;
        Ok(st)
    }
}

/// Filesystem magic numbers (linux/magic.h), as `fs_magic` returns them.
pub const PROC_SUPER_MAGIC: i64 = 0x9fa0;
pub const NSFS_MAGIC: i64 = 0x6e73_6673;

/// The filesystem magic number (`f_type`) of the filesystem holding `fd`.
pub fn fs_magic(fd: BorrowedFd) -> io::Result<i64> {
    // SAFETY: a zeroed statfs is a valid out-value of the right size.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        check(libc::fstatfs(fd.as_raw_fd(), &mut st))?;
        #[allow(clippy::unnecessary_cast)] // f_type's type differs between architectures
        Ok(st.f_type as i64)
    }
}

/// NS_GET_NSTYPE on an nsfs fd. Call only on an fd checked to be on nsfs:
/// the same ioctl number means something else elsewhere.
pub fn ns_type(ns: BorrowedFd) -> io::Result<libc::c_int> {
    // SAFETY: NS_GET_NSTYPE takes no argument and returns an int.
    check(unsafe { libc::ioctl(ns.as_raw_fd(), libc::NS_GET_NSTYPE) })
}

/// NS_GET_PARENT on a user-namespace fd: a new fd for its parent namespace.
pub fn ns_parent(ns: BorrowedFd) -> io::Result<OwnedFd> {
    // SAFETY: NS_GET_PARENT takes no argument and returns a new fd.
    let fd = check(unsafe { libc::ioctl(ns.as_raw_fd(), libc::NS_GET_PARENT) })?;
    // SAFETY: fd was just returned by the ioctl and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// NS_GET_OWNER_UID on a user-namespace fd.
pub fn ns_owner_uid(ns: BorrowedFd) -> io::Result<u32> {
    let mut uid: libc::uid_t = 0;
    // SAFETY: NS_GET_OWNER_UID writes one uid_t through the valid pointer.
    check(unsafe { libc::ioctl(ns.as_raw_fd(), libc::NS_GET_OWNER_UID, &mut uid) })?;
    Ok(uid)
}
