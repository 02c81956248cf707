//! Masked and read-only paths, as runc applies the spec's
//! `linux.maskedPaths` and `linux.readonlyPaths` (runner's child, root in
//! its own user and mount namespaces, before pivot_root). Paths are resolved
//! inside the new root like every mount target; a path the kernel does not
//! have is skipped, but one that is or lies below a symlink is an error: it
//! is the kernel's own path in a fresh /proc or /sys, where a symlink would
//! move the mask onto something else and leave the path itself open. A masked directory gets an empty read-only tmpfs over it,
//! a masked file a read-only bind of /dev/null (reads are empty); a
//! read-only path is bound onto itself read-only, nosuid, nodev, noexec.
//! The default lists are in spec/defaults.rs.

use crate::child::rootfs::symlink_failure;
use crate::sync::{Failure, Step};
use crate::sys::mount::{
    MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, attach, clone_fd, clone_tree,
    new_filesystem, open_in_root_no_symlinks, set_attributes,
};
use oci_spec::runtime::Spec;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

const ATTRS: u64 = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;

fn fail(detail: String) -> impl FnOnce(io::Error) -> Failure {
    move |e| Failure::os(Step::MaskedPaths, detail, &e)
}

/// The target inside `root`, or None when it does not exist; `what` is
/// what it is opened for.
fn target(root: BorrowedFd, path: &Path, what: &str) -> Result<Option<OwnedFd>, Failure> {
    match open_in_root_no_symlinks(root, path) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err(symlink_failure(Step::MaskedPaths, what, root, path)),
        Err(e) => Err(fail(format!("opening {}", path.display()))(e)),
    }
}

fn is_dir(fd: BorrowedFd) -> io::Result<bool> {
    let stat = nix::sys::stat::fstat(fd)?;
    Ok(stat.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

fn paths(list: &Option<Vec<String>>) -> Vec<PathBuf> {
    list.iter().flatten().map(PathBuf::from).collect()
}

/// Applies the spec's masked and read-only paths under `root`.
pub fn apply(root: BorrowedFd, spec: &Spec) -> Result<(), Failure> {
    let Some(linux) = spec.linux().as_ref() else {
        return Ok(());
    };
    for path in paths(linux.readonly_paths()) {
        let what = || format!("making {} read-only", path.display());
        let Some(fd) = target(root, &path, &what())? else {
            continue;
        };
        let tree = clone_fd(fd.as_fd(), true).map_err(fail(what()))?;
        set_attributes(tree.as_fd(), ATTRS, true).map_err(fail(what()))?;
        attach(tree.as_fd(), fd.as_fd()).map_err(fail(what()))?;
    }
    for path in paths(linux.masked_paths()) {
        let what = || format!("masking {}", path.display());
        let Some(fd) = target(root, &path, &what())? else {
            continue;
        };
        let cover = if is_dir(fd.as_fd()).map_err(fail(what()))? {
            new_filesystem("tmpfs", "tmpfs", &["size=4k", "mode=555"], ATTRS).map_err(fail(what()))?
        } else {
            let null = clone_tree(None, Path::new("/dev/null"), false).map_err(fail(what()))?;
            // Not nodev: /dev/null must still open, to read as empty.
            let attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC;
            set_attributes(null.as_fd(), attrs, false).map_err(fail(what()))?;
            null
        };
        attach(cover.as_fd(), fd.as_fd()).map_err(fail(what()))?;
    }
    Ok(())
}
