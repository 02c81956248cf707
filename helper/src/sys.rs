//! Thin wrappers around the system calls std does not offer. Runs in
//! burrow-helper at every stage (setuid root first, later the caller's uid with
//! the operation's capabilities permitted). The only module with `unsafe`:
//! each wrapper passes plain values to one call and returns the errno it got.
//! Untrusted: the fd numbers (the target fd is the caller's); paths here are
//! constants or components of the compile-time policy and state paths.

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

/// The supplementary groups of the process.
pub fn getgroups() -> io::Result<Vec<u32>> {
    let mut groups = vec![0; 65536];
    // SAFETY: the buffer holds NGROUPS_MAX (65536) entries and its length is passed.
    let n = check(unsafe { libc::getgroups(groups.len() as libc::c_int, groups.as_mut_ptr()) })?;
    groups.truncate(n as usize);
    Ok(groups)
}

/// The login name of `uid` in the password database, `None` if it has none.
pub fn passwd_name(uid: u32) -> io::Result<Option<Vec<u8>>> {
    // SAFETY: zeroed passwd is a valid out-value; buf is valid for `len`
    // bytes during the call; a non-null result means pw_name points to a
    // NUL-terminated string in buf, copied out before buf changes.
    name_lookup(|buf, len| unsafe {
        let mut entry: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = ptr::null_mut();
        let ret = libc::getpwuid_r(uid, &mut entry, buf, len, &mut result);
        let found = ret == 0 && !result.is_null() && !entry.pw_name.is_null();
        (ret, found.then(|| CStr::from_ptr(entry.pw_name).to_bytes().to_vec()))
    })
}

/// The name of group `gid` in the group database, `None` if it has none.
pub fn group_name(gid: u32) -> io::Result<Option<Vec<u8>>> {
    // SAFETY: as for passwd_name, with getgrgid_r, a group entry and gr_name.
    name_lookup(|buf, len| unsafe {
        let mut entry: libc::group = std::mem::zeroed();
        let mut result: *mut libc::group = ptr::null_mut();
        let ret = libc::getgrgid_r(gid, &mut entry, buf, len, &mut result);
        let found = ret == 0 && !result.is_null() && !entry.gr_name.is_null();
        (ret, found.then(|| CStr::from_ptr(entry.gr_name).to_bytes().to_vec()))
    })
}

/// Runs a reentrant NSS lookup with a buffer growing up to 1 MiB; `lookup`
/// returns the error number and the name found.
fn name_lookup(
    lookup: impl Fn(*mut libc::c_char, usize) -> (libc::c_int, Option<Vec<u8>>),
) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 1024];
    loop {
        match lookup(buf.as_mut_ptr().cast(), buf.len()) {
            (0, name) => return Ok(name),
            (libc::ERANGE, _) if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            (errno, _) => return Err(io::Error::from_raw_os_error(errno)),
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
/// A file created with O_CREAT (only the helper's lock file) gets mode 0600.
pub fn openat(dir: Option<BorrowedFd>, path: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    let dir = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    // SAFETY: path is NUL-terminated; the new fd is owned by the OwnedFd only.
    let fd = check(unsafe { libc::openat(dir, path.as_ptr(), flags | libc::O_CLOEXEC, 0o600 as libc::c_uint) })?;
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
pub const CGROUP_SUPER_MAGIC: i64 = 0x27_e0eb;
pub const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

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

/// NS_GET_PARENT (on a user namespace: its parent) or NS_GET_USERNS (on any
/// namespace: the user namespace owning it): a new fd for that namespace.
pub fn ns_related(ns: BorrowedFd, request: libc::Ioctl) -> io::Result<OwnedFd> {
    // SAFETY: both ioctls take no argument and return a new fd.
    let fd = check(unsafe { libc::ioctl(ns.as_raw_fd(), request) })?;
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

pub fn mkdirat(dir: BorrowedFd, name: &CStr, mode: libc::mode_t) -> io::Result<()> {
    // SAFETY: name is NUL-terminated; dir is a valid fd.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) }).map(drop)
}

/// unlinkat(AT_REMOVEDIR): removes the empty directory (or cgroup) `name`.
pub fn rmdir_at(dir: BorrowedFd, name: &CStr) -> io::Result<()> {
    // SAFETY: name is NUL-terminated; dir is a valid fd.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), libc::AT_REMOVEDIR) }).map(drop)
}

/// fchownat(2) to owner `uid`, group unchanged, following no symlink; an
/// empty `name` changes `dir` itself (AT_EMPTY_PATH).
pub fn chown_at(dir: BorrowedFd, name: &CStr, uid: u32) -> io::Result<()> {
    let flags = if name.is_empty() {
        libc::AT_EMPTY_PATH
    } else {
        libc::AT_SYMLINK_NOFOLLOW
    };
    // SAFETY: name is NUL-terminated; dir is a valid fd; gid -1 means unchanged.
    check(unsafe { libc::fchownat(dir.as_raw_fd(), name.as_ptr(), uid, u32::MAX, flags) }).map(drop)
}

/// setfsuid(2), read back: setfsuid(-1) changes nothing and returns the
/// current fsuid (setfsuid itself reports no error).
pub fn set_fsuid(uid: u32) -> io::Result<()> {
    // SAFETY: plain-value calls; -1 is never a valid uid.
    let now = unsafe {
        libc::setfsuid(uid);
        libc::setfsuid(u32::MAX)
    } as u32;
    (now == uid)
        .then_some(())
        .ok_or_else(|| io::Error::other(format!("the fsuid is {now}, not {uid}")))
}

/// PTRACE_SEIZE with no options: the tracee keeps running; the helper never
/// waits for it, and its exit detaches it.
pub fn ptrace_seize(pid: u32) -> io::Result<()> {
    let none = ptr::null_mut::<libc::c_void>();
    // SAFETY: PTRACE_SEIZE takes a pid, an ignored address and an options word (none).
    let ret = unsafe { libc::ptrace(libc::PTRACE_SEIZE, pid as libc::pid_t, none, none) };
    check(if ret < 0 { -1 } else { 0 }).map(drop)
}

/// flock(LOCK_EX), waiting for the lock.
pub fn lock_exclusive(fd: BorrowedFd) -> io::Result<()> {
    // SAFETY: plain-value call on a valid fd.
    check(unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX) }).map(drop)
}

/// A byte count returned by a call, or the errno it set.
fn check_size(n: isize) -> io::Result<usize> {
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Fills `buf` from getrandom(2).
pub fn random(buf: &mut [u8]) -> io::Result<()> {
    // SAFETY: buf is valid for writes of its length.
    let n = check_size(unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) })?;
    (n == buf.len())
        .then_some(())
        .ok_or_else(|| io::Error::other("short read"))
}

/// setegid(2): the helper's state files are created with group root.
pub fn set_egid(gid: u32) -> io::Result<()> {
    // SAFETY: plain-value call.
    check(unsafe { libc::setegid(gid) }).map(drop)
}

/// A NETLINK_ROUTE socket. The kernel judges its requests by the opener's
/// capabilities as well as the sender's.
pub fn netlink_socket() -> io::Result<OwnedFd> {
    let kind = libc::SOCK_RAW | libc::SOCK_CLOEXEC;
    // SAFETY: plain-value call; the new fd is owned by the OwnedFd only.
    let fd = check(unsafe { libc::socket(libc::AF_NETLINK, kind, libc::NETLINK_ROUTE) })?;
    // SAFETY: fd was just returned by socket and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// send(2) of one whole datagram.
pub fn send(fd: BorrowedFd, buf: &[u8]) -> io::Result<()> {
    // SAFETY: buf is valid for reads of its length.
    let n = check_size(unsafe { libc::send(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), 0) })?;
    (n == buf.len())
        .then_some(())
        .ok_or_else(|| io::Error::other("short send"))
}

/// recv(2) of one datagram into `buf`; one longer than `buf` is an error,
/// never silently cut short (MSG_TRUNC makes netlink report its full length).
pub fn recv(fd: BorrowedFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for writes of its length.
    let n = check_size(unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_TRUNC) })?;
    (n <= buf.len())
        .then_some(n)
        .ok_or_else(|| io::Error::other(format!("a reply of {n} bytes overflows the buffer")))
}
