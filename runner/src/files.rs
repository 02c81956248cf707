//! Reading a file on the user's behalf (runner, unprivileged): every file
//! and pipe the runner reads goes through `read_capped` or
//! `read_capped_from`, so that none, whatever it is (`/dev/zero`, a huge
//! file, a pipe that never ends), makes burrow read until memory runs out.
//! The exceptions are root's policy files (/etc/subuid, /etc/subgid and
//! /etc/burrow/cgroup), which are read line by line with a cap on each line
//! (`burrow_shared::subid::read_lines`), as the helper reads them.
//! Untrusted: the path and the content.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// A file a user names: `--env-file`, `--seccomp-profile`.
pub const USER_FILE_MAX: u64 = 1 << 20;
/// The kernel's tables about burrow and its container (/proc/self/mountinfo,
/// cgroup files): long on a busy host, but not without end.
pub const KERNEL_TABLE_MAX: u64 = 4 << 20;

/// The text of the file at `path`, at most `cap` bytes: a larger file is an
/// error, `larger than CAP bytes` (kind FileTooLarge), after reading no more
/// than one byte past the cap.
pub fn read_capped(path: &Path, cap: u64) -> io::Result<String> {
    read_capped_from(File::open(path)?, cap)
}

/// `read_capped` for a file already open (one opened relative to a
/// directory fd).
pub fn read_capped_from(file: impl Read, cap: u64) -> io::Result<String> {
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("larger than {cap} bytes"),
        ));
    }
    String::from_utf8(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps() {
        assert_eq!(read_capped_from(&b"abc"[..], 3).unwrap(), "abc");
        let error = read_capped_from(&b"abcd"[..], 3).unwrap_err();
        assert_eq!(
            (error.kind(), error.to_string()),
            (io::ErrorKind::FileTooLarge, "larger than 3 bytes".to_owned())
        );
        // An endless file stops at the cap.
        let error = read_capped(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert_eq!(error.to_string(), "larger than 1048576 bytes");
        assert_eq!(
            read_capped_from(&b"\xff"[..], 3).unwrap_err().to_string(),
            "not valid UTF-8"
        );
    }
}
