//! Trusted reading of root's policy files (/etc/subuid, /etc/subgid). Runs in
//! burrow-helper as the caller's uid with no effective capabilities. The path
//! is fixed at compile time; the file's text is trusted only once the file
//! and every directory above it are shown to be root's alone: walked from `/`
//! one component at a time without following symlinks, each directory
//! root-owned and not writable by group or others, the file a regular file
//! with the same owner and mode rule, read with a size cap.

use crate::error::Error;
use crate::sys;
use burrow_shared::subid::{self, SubidEntry, SubidSyntaxError};
use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

pub const MAX_POLICY_BYTES: u64 = 1 << 20;

/// Reads and parses a subordinate-id file.
pub fn read_subid(path: &'static str) -> Result<Vec<SubidEntry>, Error> {
    let bytes = read_trusted(path)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let bad = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..bad].iter().filter(|&&b| b == b'\n').count();
        Error::PolicySyntax(
            path,
            SubidSyntaxError {
                line,
                why: "not valid UTF-8",
            },
        )
    })?;
    subid::parse(&text).map_err(|e| Error::PolicySyntax(path, e))
}

fn read_trusted(path: &'static str) -> Result<Vec<u8>, Error> {
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let Some((file_name, parents)) = components.split_last() else {
        return Err(Error::PolicyNotRegular(path.to_owned()));
    };
    let dir_flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW;
    let mut dir = open_checked(None, "/", "/".to_owned(), dir_flags)?;
    let mut walked = String::new();
    for name in parents {
        walked = format!("{walked}/{name}");
        dir = open_checked(Some(dir.as_fd()), name, walked.clone(), dir_flags)?;
    }
    // O_NONBLOCK: a FIFO planted here must not hang the helper before fstat.
    let file_flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK;
    let file = open_checked(Some(dir.as_fd()), file_name, path.to_owned(), file_flags)?;
    let mut bytes = Vec::new();
    File::from(file)
        .take(MAX_POLICY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::PolicyIo {
            path: path.to_owned(),
            doing: "cannot read",
            why: e.to_string(),
        })?;
    if bytes.len() as u64 > MAX_POLICY_BYTES {
        return Err(Error::PolicyTooLarge(path, MAX_POLICY_BYTES));
    }
    Ok(bytes)
}

/// Opens one component and checks what was opened (not the name: the fd).
/// `shown` is the path up to this component, as messages name it.
fn open_checked(dir: Option<BorrowedFd>, name: &str, shown: String, flags: libc::c_int) -> Result<OwnedFd, Error> {
    let cannot_open = |why: String| Error::PolicyIo {
        path: shown.clone(),
        doing: "cannot open",
        why,
    };
    let c_name = CString::new(name).map_err(|e| cannot_open(e.to_string()))?;
    let fd = sys::openat(dir, &c_name, flags).map_err(|e| cannot_open(e.to_string()))?;
    let st = sys::fstat(fd.as_fd()).map_err(|e| cannot_open(e.to_string()))?;
    let want = if flags & libc::O_DIRECTORY != 0 {
        libc::S_IFDIR
    } else {
        libc::S_IFREG
    };
    check_owner_and_mode(shown, st.st_mode, st.st_uid, want)?;
    Ok(fd)
}

/// The rule for the policy file and each directory above it.
pub fn check_owner_and_mode(shown: String, mode: u32, uid: u32, want: u32) -> Result<(), Error> {
    if mode & libc::S_IFMT != want {
        Err(Error::PolicyNotRegular(shown))
    } else if uid != 0 {
        Err(Error::PolicyNotRoot(shown))
    } else if mode & 0o022 != 0 {
        Err(Error::PolicyWritable(shown))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_and_mode_rule() {
        let check =
            |mode, uid, want| check_owner_and_mode("/etc/subuid".into(), mode, uid, want).map_err(|e| e.to_string());
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
    }
}
