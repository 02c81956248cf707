//! Trusted reading of root's policy files (/etc/subuid, /etc/subgid,
//! /etc/burrow/usernet), and root's per-uid lock files below the state
//! directory (/run/burrow). Policy files are read as the caller's uid with no
//! effective capabilities; the lock file is opened (created if needed) while
//! the helper is still root. Paths are fixed at compile time. A file is
//! trusted only once it and every directory above it are shown to be root's
//! alone: walked from `/` one component at a time without following
//! symlinks, each directory root-owned and not writable by group or others,
//! the file a regular file with the same owner and mode rule, read line by
//! line (each line capped, every line checked, only the caller's entries of
//! /etc/subuid and /etc/subgid kept). The state directory and a lock file
//! must moreover be neither readable nor writable by group or others.

use crate::error::Error;
use crate::sys;
use burrow_shared::subid;
use std::ffi::CString;
use std::fs::File;
use std::io::BufReader;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

const DIR_FLAGS: libc::c_int = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW;
/// The mode bits no policy file or directory above one may have.
const WRITABLE: u32 = 0o022;
/// The mode bits the state directory and its lock files may not have.
const ACCESSIBLE: u32 = 0o077;

/// Reads a policy file line by line (`subid::read_lines`), parsing each line
/// with `parse` (`subid::parse_line_of`, `usernet::parse_line`,
/// `cgroup_policy::parse_line`).
pub fn read<T>(path: &'static str, parse: impl FnMut(&str) -> subid::Parsed<T>) -> Result<Vec<T>, Error> {
    let (parents, file_name) = path.rsplit_once('/').unwrap_or(("", path));
    let dir = open_dir(parents)?;
    // O_NONBLOCK: a FIFO planted here must not hang the helper before fstat.
    let file_flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK;
    let file = open_checked(dir.as_fd(), file_name, path.to_owned(), file_flags, WRITABLE)?;
    subid::read_lines(BufReader::new(File::from(file)), parse)
        .map_err(|e| io_error(path, "cannot read", e))?
        .map_err(|e| Error::policy(path, e))
}

/// Opens (as root, creating it and its directory `dir` if missing)
/// `{dir}/usernet-{uid}.lock`, for the caller of that uid to flock later.
pub fn open_lock(dir: &'static str, uid: u32) -> Result<OwnedFd, Error> {
    let (parents, dir_name) = dir.rsplit_once('/').unwrap_or(("", dir));
    let parent = open_dir(parents)?;
    let c_name = CString::new(dir_name).map_err(|e| io_error(dir, "cannot create", e))?;
    // SECURITY: the caller's gid is still the effective one: new state files
    // get group root instead (drop_to sets every gid to the caller's later).
    sys::set_egid(0).map_err(|e| io_error(dir, "cannot create", e))?;
    // SECURITY: creates root's own directory, mode 0700, below directories
    // just shown to be root's alone; an existing one is checked below.
    match sys::mkdirat(parent.as_fd(), &c_name, 0o700) {
        Err(e) if e.raw_os_error() != Some(libc::EEXIST) => return Err(io_error(dir, "cannot create", e)),
        _ => {}
    }
    let dir_fd = open_checked(parent.as_fd(), dir_name, dir.to_owned(), DIR_FLAGS, ACCESSIBLE)?;
    let name = format!("usernet-{uid}.lock");
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY;
    // SECURITY: creates (mode 0600) or opens root's lock file in root's 0700
    // directory, following no symlink; its name comes from the real uid only.
    open_checked(dir_fd.as_fd(), &name, format!("{dir}/{name}"), flags, ACCESSIBLE)
}

/// Walks from `/` to the directory `path`, checking each component.
fn open_dir(path: &str) -> Result<OwnedFd, Error> {
    let root = sys::openat(None, c"/", DIR_FLAGS).map_err(|e| io_error("/", "cannot open", e))?;
    check_fd(&root, "/".to_owned(), DIR_FLAGS, WRITABLE)?;
    let mut walked = String::new();
    let mut dir = root;
    for name in path.split('/').filter(|c| !c.is_empty()) {
        walked = format!("{walked}/{name}");
        dir = open_checked(dir.as_fd(), name, walked.clone(), DIR_FLAGS, WRITABLE)?;
    }
    Ok(dir)
}

/// Opens one component and checks what was opened (not the name: the fd).
/// `shown` is the path up to this component, as messages name it.
fn open_checked(
    dir: BorrowedFd,
    name: &str,
    shown: String,
    flags: libc::c_int,
    forbidden: u32,
) -> Result<OwnedFd, Error> {
    let c_name = CString::new(name).map_err(|e| io_error(&shown, "cannot open", e))?;
    let fd = sys::openat(Some(dir), &c_name, flags).map_err(|e| io_error(&shown, "cannot open", e))?;
    check_fd(&fd, shown, flags, forbidden)?;
    Ok(fd)
}

fn check_fd(fd: &OwnedFd, shown: String, flags: libc::c_int, forbidden: u32) -> Result<(), Error> {
    let st = sys::fstat(fd.as_fd()).map_err(|e| io_error(&shown, "cannot open", e))?;
    let want = if flags & libc::O_DIRECTORY != 0 {
        libc::S_IFDIR
    } else {
        libc::S_IFREG
    };
    check_owner_and_mode(shown, st.st_mode, st.st_uid, want, forbidden)
}

fn io_error(path: &str, doing: &'static str, why: impl std::fmt::Display) -> Error {
    Error::policy(path, format!("{doing}: {why}"))
}

/// The rule for a policy file or state file and each directory above it.
pub fn check_owner_and_mode(shown: String, mode: u32, uid: u32, want: u32, forbidden: u32) -> Result<(), Error> {
    if mode & libc::S_IFMT != want {
        Err(Error::policy(shown, "not a regular file"))
    } else if uid != 0 {
        Err(Error::policy(shown, "not owned by root"))
    } else if mode & WRITABLE != 0 {
        Err(Error::policy(shown, "writable by group or others"))
    } else if mode & forbidden != 0 {
        Err(Error::policy(shown, "accessible by group or others"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_and_mode_rule() {
        let check = |mode, uid, want| {
            check_owner_and_mode("/etc/subuid".into(), mode, uid, want, WRITABLE).map_err(|e| e.to_string())
        };
        assert_eq!(check(libc::S_IFREG | 0o644, 0, libc::S_IFREG), Ok(()));
        assert_eq!(check(libc::S_IFDIR | 0o755, 0, libc::S_IFDIR), Ok(()));
        assert_eq!(
            check(libc::S_IFREG | 0o644, 1000, libc::S_IFREG),
            Err("/etc/subuid: not owned by root".into())
        );
        for mode in [0o664, 0o646, 0o666] {
            let e = Err("/etc/subuid: writable by group or others".into());
            assert_eq!(check(libc::S_IFREG | mode, 0, libc::S_IFREG), e);
        }
        assert_eq!(
            check(libc::S_IFDIR | 0o1777, 0, libc::S_IFDIR),
            Err("/etc/subuid: writable by group or others".into())
        );
        assert_eq!(
            check(libc::S_IFIFO | 0o644, 0, libc::S_IFREG),
            Err("/etc/subuid: not a regular file".into())
        );
        assert_eq!(
            check(libc::S_IFDIR | 0o755, 0, libc::S_IFREG),
            Err("/etc/subuid: not a regular file".into())
        );
        // The state directory and lock files: no access at all for others.
        let state = |mode, uid, want| {
            check_owner_and_mode("/run/burrow".into(), mode, uid, want, ACCESSIBLE).map_err(|e| e.to_string())
        };
        assert_eq!(state(libc::S_IFDIR | 0o700, 0, libc::S_IFDIR), Ok(()));
        assert_eq!(state(libc::S_IFREG | 0o600, 0, libc::S_IFREG), Ok(()));
        for mode in [0o755, 0o710, 0o701] {
            let e = Err("/run/burrow: accessible by group or others".into());
            assert_eq!(state(libc::S_IFDIR | mode, 0, libc::S_IFDIR), e);
        }
        assert_eq!(
            state(libc::S_IFDIR | 0o770, 0, libc::S_IFDIR),
            Err("/run/burrow: writable by group or others".into())
        );
        assert_eq!(
            state(libc::S_IFDIR | 0o700, 1000, libc::S_IFDIR),
            Err("/run/burrow: not owned by root".into())
        );
        assert_eq!(
            state(libc::S_IFLNK | 0o777, 0, libc::S_IFDIR),
            Err("/run/burrow: not a regular file".into())
        );
    }
}
