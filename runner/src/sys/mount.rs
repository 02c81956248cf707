//! Thin wrappers over the kernel's fd-based mount API and openat2 (runner's
//! child, root in its own user and mount namespaces). Mount targets are
//! named by fds resolved inside the container root, never by host paths, so
//! a symlink in an untrusted rootfs cannot redirect a mount. All of the
//! runner's mount-related `unsafe` lives here.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub use libc::{MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY};

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn fd_result(ret: libc::c_long) -> io::Result<OwnedFd> {
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the syscall returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

fn unit_result(ret: libc::c_long) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A detached copy of the mount tree at `path` (open_tree OPEN_TREE_CLONE),
/// with all submounts when `recursive`; a relative `path` is looked up in
/// `dir` when given.
pub fn clone_tree(dir: Option<BorrowedFd>, path: &Path, recursive: bool) -> io::Result<OwnedFd> {
    let dir = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
    let path = cstring(path)?;
    let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: path is a valid NUL-terminated string; the flags are plain integers.
    fd_result(unsafe { libc::syscall(libc::SYS_open_tree, dir, path.as_ptr(), flags) })
}

/// A detached copy of the mount tree at the object `fd` names (open_tree
/// with AT_EMPTY_PATH), with all submounts when `recursive`.
pub fn clone_fd(fd: BorrowedFd, recursive: bool) -> io::Result<OwnedFd> {
    let mut flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC | libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: "" with AT_EMPTY_PATH names the fd itself; the flags are plain integers.
    fd_result(unsafe { libc::syscall(libc::SYS_open_tree, fd.as_raw_fd(), c"".as_ptr(), flags) })
}

/// A new, detached filesystem instance of `fstype` (fsopen, fsconfig,
/// fsmount). `options` are `key` flags or `key=value` strings.
pub fn new_filesystem(fstype: &str, source: &str, options: &[&str], attrs: u64) -> io::Result<OwnedFd> {
    let name = CString::new(fstype).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: name is a valid NUL-terminated string.
    let context = fd_result(unsafe { libc::syscall(libc::SYS_fsopen, name.as_ptr(), libc::FSOPEN_CLOEXEC) })?;
    configure(&context, "source", Some(source))?;
    for option in options {
        match option.split_once('=') {
            Some((key, value)) => configure(&context, key, Some(value))?,
            None => configure(&context, option, None)?,
        }
    }
    // SAFETY: context is a valid fs context fd; no pointers are passed.
    unit_result(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            context.as_raw_fd(),
            libc::FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    })
    .map_err(|e| with_context(e, &format!("creating {fstype}")))?;
    // SAFETY: context is a valid, created fs context fd.
    fd_result(unsafe { libc::syscall(libc::SYS_fsmount, context.as_raw_fd(), libc::FSMOUNT_CLOEXEC, attrs) })
}

fn configure(context: &OwnedFd, key: &str, value: Option<&str>) -> io::Result<()> {
    let invalid = |_| io::Error::from_raw_os_error(libc::EINVAL);
    let key_c = CString::new(key).map_err(invalid)?;
    let value_c = value.map(CString::new).transpose().map_err(invalid)?;
    let (command, value_ptr) = match &value_c {
        Some(v) => (libc::FSCONFIG_SET_STRING, v.as_ptr()),
        None => (libc::FSCONFIG_SET_FLAG, std::ptr::null()),
    };
    // SAFETY: key and value are valid NUL-terminated strings (or null for a flag).
    unit_result(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            context.as_raw_fd(),
            command,
            key_c.as_ptr(),
            value_ptr,
            0,
        )
    })
    .map_err(|e| {
        with_context(
            e,
            &format!("option {}", value.map_or(key.to_owned(), |v| format!("{key}={v}"))),
        )
    })
}

fn with_context(error: io::Error, what: &str) -> io::Error {
    io::Error::new(error.kind(), format!("{what}: {error}"))
}

/// Sets (and clears) mount attributes on the mount `mount`, and on its
/// submounts when `recursive` (mount_setattr).
pub fn set_attributes(mount: BorrowedFd, set: u64, recursive: bool) -> io::Result<()> {
    let mut attr = libc::mount_attr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: "" with AT_EMPTY_PATH names the fd itself; attr is a valid struct of the size passed.
    unit_result(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            mount.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &mut attr as *mut libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    })
}

/// Attaches the detached mount `mount` on top of the object `target` names.
pub fn attach(mount: BorrowedFd, target: BorrowedFd) -> io::Result<()> {
    // SAFETY: both paths are "" with the *_EMPTY_PATH flags, naming the fds themselves.
    unit_result(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            mount.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
        )
    })
}

/// Opens `path` as an O_PATH fd, resolved as if `root` were `/`: `..` and
/// absolute symlinks cannot leave it, and magic /proc links are refused.
pub fn open_in_root(root: BorrowedFd, path: &Path) -> io::Result<OwnedFd> {
    open_in_root_with(root, path, 0, libc::RESOLVE_NO_MAGICLINKS)
}

/// As `open_in_root`, but refusing any symlink on the way, the last
/// component's too: ELOOP.
pub fn open_in_root_no_symlinks(root: BorrowedFd, path: &Path) -> io::Result<OwnedFd> {
    open_in_root_with(root, path, 0, libc::RESOLVE_NO_SYMLINKS)
}

/// An O_PATH fd on `path` itself inside `root`, a symlink's own if it is
/// one (O_NOFOLLOW), with no symlink followed on the way.
pub fn open_link_in_root(root: BorrowedFd, path: &Path) -> io::Result<OwnedFd> {
    open_in_root_with(root, path, libc::O_NOFOLLOW, libc::RESOLVE_NO_SYMLINKS)
}

fn open_in_root_with(root: BorrowedFd, path: &Path, flags: libc::c_int, resolve: u64) -> io::Result<OwnedFd> {
    let path = cstring(path)?;
    let mut how: libc::open_how = {
        // SAFETY: open_how is plain data; all-zero is a valid value.
        unsafe { std::mem::zeroed() }
    };
    how.flags = (libc::O_PATH | libc::O_CLOEXEC | flags) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | resolve;
    // SAFETY: path is NUL-terminated; how is a valid open_how of the size passed.
    fd_result(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    })
}
