//! The busybox rootfs the containers run in: Debian's static busybox with a
//! symlink per applet, minimal /etc/passwd and /etc/group, an empty
//! /etc/resolv.conf (the mount point for `--dns`), the static probe at
//! /bin/probe, and the empty mount points. Deliberately no /home: the
//! tests check that the host's /home is unreachable. Built as root, then
//! handed to the test user, as a rootfs a user unpacked would be.

use crate::binaries::is_static;
use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Top-level directories (and their modes) of the rootfs.
pub const DIRS: &[(&str, u32)] = &[
    ("bin", 0o755),
    ("etc", 0o755),
    ("dev", 0o755),
    ("proc", 0o555),
    ("sys", 0o555),
    ("tmp", 0o1777),
    ("mnt", 0o755),
    ("root", 0o700),
];

/// A regular file without execute permission, for the 126 exit status.
pub const NOEXEC: &str = "noexec";

/// Debian's busybox-static, which must really be static.
pub fn find_busybox() -> io::Result<PathBuf> {
    for path in ["/bin/busybox", "/usr/bin/busybox"] {
        let path = Path::new(path);
        if path.exists() {
            if !is_static(path)? {
                return Err(io::Error::other(format!(
                    "{} is not static: install busybox-static",
                    path.display()
                )));
            }
            return Ok(path.to_owned());
        }
    }
    Err(io::Error::other("no busybox: apt-get install busybox-static"))
}

fn applets(busybox: &Path) -> io::Result<Vec<String>> {
    let out = Command::new(busybox).arg("--list").output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{} --list: {}",
            busybox.display(),
            out.status
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|name| !name.is_empty() && !name.contains('/') && *name != "busybox")
        .map(str::to_owned)
        .collect())
}

fn install(src: &Path, dst: &Path, mode: u32) -> io::Result<()> {
    fs::copy(src, dst)?;
    fs::set_permissions(dst, fs::Permissions::from_mode(mode))
}

fn write(path: &Path, text: &str, mode: u32) -> io::Result<()> {
    fs::write(path, text)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// Builds the rootfs at `root` (which must not exist) and gives it to
/// `uid:gid`.
pub fn build(root: &Path, busybox: &Path, probe: &Path, uid: u32, gid: u32) -> io::Result<()> {
    fs::create_dir(root)?;
    fs::set_permissions(root, fs::Permissions::from_mode(0o755))?;
    for (dir, mode) in DIRS {
        let path = root.join(dir);
        fs::create_dir(&path)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(*mode))?;
    }
    let bin = root.join("bin");
    install(busybox, &bin.join("busybox"), 0o755)?;
    for applet in applets(busybox)? {
        symlink("busybox", bin.join(applet))?;
    }
    install(probe, &bin.join("probe"), 0o755)?;
    let etc = root.join("etc");
    write(
        &etc.join("passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        0o644,
    )?;
    write(&etc.join("group"), "root:x:0:\nnogroup:x:65534:\n", 0o644)?;
    // Empty: the mount point `--dns` binds its own resolv.conf over.
    write(&etc.join("resolv.conf"), "", 0o644)?;
    write(&root.join(NOEXEC), "#!/bin/sh\necho must not run\n", 0o644)?;
    chown_tree(root, uid, gid)
}

/// Gives the tree at `path`, owned by host ids as an image unpacked by
/// root is, to a container's maps: id 0 to `own`, id N to `sub` + N - 1
/// (the default maps), uids and gids each. Hard links are shifted once;
/// set-id bits, which chown clears, are put back.
pub fn shift_tree(path: &Path, own: (u32, u32), sub: (u32, u32)) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let shift = |id: u32, own: u32, sub: u32| if id == 0 { own } else { sub + id - 1 };
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![path.to_owned()];
    while let Some(entry) = stack.pop() {
        let meta = fs::symlink_metadata(&entry)?;
        if meta.is_dir() {
            for child in fs::read_dir(&entry)? {
                stack.push(child?.path());
            }
        }
        if meta.nlink() > 1 && !meta.is_dir() && !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        std::os::unix::fs::lchown(
            &entry,
            Some(shift(meta.uid(), own.0, sub.0)),
            Some(shift(meta.gid(), own.1, sub.1)),
        )?;
        if !meta.file_type().is_symlink() && meta.mode() & 0o6000 != 0 {
            fs::set_permissions(&entry, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        }
    }
    Ok(())
}

/// lchown every entry below and including `path`.
pub fn chown_tree(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    if fs::symlink_metadata(path)?.is_dir() {
        for entry in fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    // chown clears set-id bits; the rootfs has none, but keep modes exact.
    Ok(())
}

/// Copies a tree: directories, regular files and symlinks, with modes and
/// owners.
pub fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::symlink_metadata(src)?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        symlink(fs::read_link(src)?, dst)?;
    } else if kind.is_dir() {
        fs::create_dir(dst)?;
        for entry in fs::read_dir(src)? {
            let entry = entry?;
            copy_tree(&entry.path(), &dst.join(entry.file_name()))?;
        }
    } else if kind.is_file() {
        fs::copy(src, dst)?;
    } else {
        return Err(io::Error::other(format!(
            "{}: not a file, directory or symlink",
            src.display()
        )));
    }
    std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()))?;
    if !kind.is_symlink() {
        fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    Ok(())
}
