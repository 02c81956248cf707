//! The system calls burrow-helper makes beyond std: nix's safe wrappers where
//! nix has them, and `unsafe` libc calls (this is the only module with any)
//! for the rest. Runs in burrow-helper at every stage (setuid root first,
//! later the caller's uid with the operation's capabilities permitted). Each
//! function returns `io::Error`, so every failure prints as std prints an
//! errno. Untrusted: the fd numbers (the target fd is the caller's); paths
//! here are constants or components of the compile-time policy and state paths.

use nix::fcntl::{AT_FDCWD, AtFlags, OFlag};
use nix::sys::signal::{SigSet, SigmaskHow, sigprocmask};
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Group, Uid, UnlinkatFlags, User};
use std::ffi::CStr;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;

pub use nix::sys::statfs::{CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, FsType, NSFS_MAGIC, PROC_SUPER_MAGIC};

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
    Ok(std::os::fd::IntoRawFd::into_raw_fd(openat(
        None,
        c"/dev/null",
        libc::O_RDWR,
    )?))
}

/// Clears the environment, sets umask 022, and makes the process
/// non-dumpable. The helper is single-threaded, so clearenv races nothing.
pub fn clear_env_umask_undumpable() -> io::Result<()> {
    // SAFETY: clearenv takes no argument; no thread reads the environment concurrently.
    check(unsafe { libc::clearenv() })?;
    nix::sys::stat::umask(Mode::from_bits_truncate(0o022));
    set_undumpable()
}

pub fn set_undumpable() -> io::Result<()> {
    Ok(nix::sys::prctl::set_dumpable(false)?)
}

/// Every catchable signal to SIG_DFL, and every signal blocked: a signal the
/// caller sends (SIGTERM between two map writes, say) stays pending and is
/// discarded at exit, so only SIGKILL can end the helper half-way. Faults the
/// helper itself causes are still delivered (the kernel forces them).
pub fn reset_signals() -> io::Result<()> {
    // SAFETY: a zeroed sigaction is a valid value; SIG_DFL installs no
    // handler code. sigaction fails with EINVAL only for glibc's two reserved
    // real-time signals, whose dispositions glibc manages itself.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        for signal in (1..=libc::SIGRTMAX()).filter(|&s| s != libc::SIGKILL && s != libc::SIGSTOP) {
            libc::sigaction(signal, &action, ptr::null_mut());
        }
    }
    Ok(sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::all()), None)?)
}

/// Closes fds `first..=last`.
pub fn close_range(first: u32, last: u32) -> io::Result<()> {
    // SAFETY: closes fds only; nothing in the helper holds one of them yet.
    check(unsafe { libc::close_range(first, last, 0) }).map(drop)
}

/// The real, effective and saved uid, and the same for the gid.
pub fn getresuid_getresgid() -> ([u32; 3], [u32; 3]) {
    // Neither call can fail on Linux; if one did, no id would be 0 or the caller's.
    let u = nix::unistd::getresuid().map_or([u32::MAX; 3], |u| [u.real, u.effective, u.saved].map(Uid::as_raw));
    let g = nix::unistd::getresgid().map_or([u32::MAX; 3], |g| [g.real, g.effective, g.saved].map(Gid::as_raw));
    (u, g)
}

/// The supplementary groups of the process.
pub fn getgroups() -> io::Result<Vec<u32>> {
    Ok(nix::unistd::getgroups()?.into_iter().map(Gid::as_raw).collect())
}

/// The login name of `uid` in the password database, `None` if it has none
/// (or if the name is not UTF-8, which nix would have replaced lossily).
pub fn passwd_name(uid: u32) -> io::Result<Option<String>> {
    Ok(User::from_uid(Uid::from_raw(uid))?
        .map(|u| u.name)
        .filter(|n| !n.contains('\u{fffd}')))
}

/// The name of group `gid` in the group database, as `passwd_name`.
pub fn group_name(gid: u32) -> io::Result<Option<String>> {
    Ok(Group::from_gid(Gid::from_raw(gid))?
        .map(|g| g.name)
        .filter(|n| !n.contains('\u{fffd}')))
}

/// setgroups([]), setresgid(gid, gid, gid), setresuid(uid, uid, uid).
pub fn become_ids(uid: u32, gid: u32) -> io::Result<()> {
    let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
    nix::unistd::setgroups(&[])?;
    nix::unistd::setresgid(gid, gid, gid)?;
    Ok(nix::unistd::setresuid(uid, uid, uid)?)
}

/// The caller's fd as a borrowed fd. Call only with an fd that `fd_is_open`
/// reported open after the inherited fds were closed; the helper never closes it.
pub fn borrow_fd(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: per the contract above, the fd stays open until the process exits.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// openat(2) with O_CLOEXEC; `None` means relative to the cwd (used only with
/// absolute paths). A file created with O_CREAT (only the helper's lock
/// file) gets mode 0600.
pub fn openat(dir: Option<BorrowedFd>, path: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    let flags = OFlag::from_bits_retain(flags) | OFlag::O_CLOEXEC;
    Ok(nix::fcntl::openat(
        dir.unwrap_or(AT_FDCWD),
        path,
        flags,
        Mode::S_IRUSR | Mode::S_IWUSR,
    )?)
}

/// Reads the file `fd` opened, up to `cap` bytes (no file the helper reads
/// this way is near its cap: past it, the text is cut).
pub fn read_text(fd: OwnedFd, cap: u64) -> io::Result<String> {
    let mut text = String::new();
    std::fs::File::from(fd).take(cap).read_to_string(&mut text)?;
    Ok(text)
}

/// One write(2) of all of `text` to the file `fd` opened: a map or cgroup
/// file takes its value in one write, so a short write is an error.
pub fn write_once(fd: OwnedFd, text: &str) -> io::Result<()> {
    match std::fs::File::from(fd).write(text.as_bytes())? {
        n if n == text.len() => Ok(()),
        n => Err(io::Error::other(format!("short write ({n} of {} bytes)", text.len()))),
    }
}

pub fn fstat(fd: BorrowedFd) -> io::Result<libc::stat> {
    Ok(nix::sys::stat::fstat(fd)?)
}

/// The filesystem magic number (`f_type`) of the filesystem holding `fd`.
pub fn fs_magic(fd: BorrowedFd) -> io::Result<FsType> {
    Ok(nix::sys::statfs::fstatfs(fd)?.filesystem_type())
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
    Ok(nix::sys::stat::mkdirat(dir, name, Mode::from_bits_truncate(mode))?)
}

/// unlinkat(AT_REMOVEDIR): removes the empty directory (or cgroup) `name`.
pub fn rmdir_at(dir: BorrowedFd, name: &CStr) -> io::Result<()> {
    Ok(nix::unistd::unlinkat(dir, name, UnlinkatFlags::RemoveDir)?)
}

/// fchownat(2) to owner `uid`, group unchanged, following no symlink; an
/// empty `name` changes `dir` itself (AT_EMPTY_PATH).
pub fn chown_at(dir: BorrowedFd, name: &CStr, uid: u32) -> io::Result<()> {
    let flags = if name.is_empty() {
        AtFlags::AT_EMPTY_PATH
    } else {
        AtFlags::AT_SYMLINK_NOFOLLOW
    };
    Ok(nix::unistd::fchownat(dir, name, Some(Uid::from_raw(uid)), None, flags)?)
}

/// setfsuid(2), read back: setfsuid(-1) changes nothing and returns the
/// current fsuid (setfsuid itself reports no error).
pub fn set_fsuid(uid: u32) -> io::Result<()> {
    nix::unistd::setfsuid(Uid::from_raw(uid));
    let now = nix::unistd::setfsuid(Uid::from_raw(u32::MAX)).as_raw();
    (now == uid)
        .then_some(())
        .ok_or_else(|| io::Error::other(format!("the fsuid is {now}, not {uid}")))
}

/// PTRACE_SEIZE with no options: the tracee keeps running; the helper never
/// waits for it, and its exit detaches it.
pub fn ptrace_seize(pid: u32) -> io::Result<()> {
    let pid = nix::unistd::Pid::from_raw(pid as libc::pid_t);
    Ok(nix::sys::ptrace::seize(pid, nix::sys::ptrace::Options::empty())?)
}

/// flock(LOCK_EX), waiting for the lock; it is held until the fd closes
/// (when the helper exits).
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
    Ok(nix::unistd::setegid(Gid::from_raw(gid))?)
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

/// PR_SET_NO_NEW_PRIVS 1 (for Landlock and seccomp without CAP_SYS_ADMIN).
pub fn set_no_new_privs() -> io::Result<()> {
    Ok(nix::sys::prctl::set_no_new_privs()?)
}
