//! The container's filesystem tree (runner's child: root in its own user and
//! mount namespaces, so nothing here reaches the host's mount table). The
//! rootfs content is untrusted: every mount target is resolved inside the
//! new root (openat2 RESOLVE_IN_ROOT), never through a host path.
//!
//! 1. Make every mount private, so nothing propagates to or from the host.
//! 2. Clone every bind source first, before anything could cover it.
//! 3. Make the root: a clone of the rootfs directory attached onto itself, or
//!    a fresh tmpfs attached at /tmp (the default root).
//! 4. Mount each spec mount in order on its target inside the root, creating
//!    a missing target directory (or file, for a file bind). A kernel
//!    filesystem's mount point (proc, sysfs, devpts, mqueue, cgroup) and
//!    anything at /dev must not be or lie below a symlink in the rootfs
//!    (runc refuses a symlink for proc and sysfs): an image with
//!    `/proc -> /` would otherwise get proc somewhere else, and every masked
//!    /proc path would be skipped as missing. Binds and other mounts follow
//!    a symlink, inside the root, as docker's do.
//! 5. Add the /dev links; mask and make read-only the spec's masked and
//!    read-only paths (masked_paths.rs); make the root read-only if asked.
//! 6. pivot_root into the root and detach the old root: no host path stays
//!    reachable.

use crate::spec::annotations::Extensions;
use crate::sync::{Failure, Step};
use crate::sys::mount::{
    MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, attach, clone_tree, new_filesystem,
    open_in_root, open_in_root_no_symlinks, open_link_in_root, set_attributes,
};
use nix::fcntl::{OFlag, openat};
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, mkdirat};
use oci_spec::runtime::{Mount, Spec};
use std::io::{self, Write};
use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// Filesystems whose mount point must be free of symlinks (see step 4).
const KERNEL_FILESYSTEMS: &[&str] = &["proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2"];

/// Where the default tmpfs root is attached until pivot_root (as bubblewrap
/// does); bind sources are cloned before it is covered.
const TMPFS_ROOT_STAGE: &str = "/tmp";

/// The links runtimes add to a fresh /dev.
const DEV_LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

fn fail(detail: impl Into<String>) -> impl FnOnce(io::Error) -> Failure {
    let detail = detail.into();
    move |e| Failure::os(Step::Mount, detail, &e)
}

/// Builds the tree for `spec` (with its `extensions`: a tmpfs root, a
/// resolv.conf) and pivots into it. On return the process's root and cwd
/// are the container's `/`.
pub fn build(spec: &Spec, extensions: &Extensions) -> Result<(), Failure> {
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| fail("making mounts private")(e.into()))?;

    let mounts: &[Mount] = spec.mounts().as_deref().unwrap_or_default();
    let sources = mounts.iter().map(clone_bind_source).collect::<Result<Vec<_>, _>>()?;
    let root = make_root(spec, extensions.root_tmpfs)?;

    let mut dev_is_tmpfs = false;
    for (mount, source) in mounts.iter().zip(sources) {
        mount_one(root.as_fd(), mount, source)?;
        if mount.destination() == Path::new("/dev") {
            dev_is_tmpfs = mount.typ().as_deref() == Some("tmpfs");
        }
    }
    if dev_is_tmpfs {
        add_dev_links(root.as_fd())?;
    }
    if !extensions.dns.is_empty() {
        mount_resolv_conf(root.as_fd(), &resolv_conf(&extensions.dns))?;
    }
    crate::child::masked_paths::apply(root.as_fd(), spec)?;
    if spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false) {
        set_attributes(root.as_fd(), MOUNT_ATTR_RDONLY, false).map_err(fail("making the root read-only"))?;
    }
    pivot_into(root.as_fd())
}

/// Mount options split into mount attributes, recursion, and filesystem
/// options (`key` or `key=value`) for a new filesystem.
struct Options<'a> {
    attrs: u64,
    recursive: bool,
    data: Vec<&'a str>,
}

fn parse_options(mount: &Mount) -> Options<'_> {
    let mut options = Options {
        attrs: 0,
        recursive: false,
        data: Vec::new(),
    };
    for option in mount.options().as_deref().unwrap_or_default() {
        match option.as_str() {
            "ro" => options.attrs |= MOUNT_ATTR_RDONLY,
            "nosuid" => options.attrs |= MOUNT_ATTR_NOSUID,
            "nodev" => options.attrs |= MOUNT_ATTR_NODEV,
            "noexec" => options.attrs |= MOUNT_ATTR_NOEXEC,
            "strictatime" => options.attrs |= libc::MOUNT_ATTR_STRICTATIME,
            "noatime" => options.attrs |= libc::MOUNT_ATTR_NOATIME,
            "rbind" => options.recursive = true,
            // Already the defaults here: every mount is private and read-write.
            "bind" | "rw" | "relatime" | "private" | "rprivate" | "suid" | "dev" | "exec" => {}
            other => options.data.push(other),
        }
    }
    options
}

fn is_bind(mount: &Mount) -> bool {
    mount.typ().as_deref() == Some("bind")
}

/// For a bind mount, a detached clone of its source with its attributes set.
fn clone_bind_source(mount: &Mount) -> Result<Option<OwnedFd>, Failure> {
    if !is_bind(mount) {
        return Ok(None);
    }
    let source = mount.source().as_deref().unwrap_or(Path::new(""));
    let options = parse_options(mount);
    if let Some(unknown) = options.data.first() {
        let detail = format!("bind {}: unknown option {unknown:?}", source.display());
        return Err(Failure {
            step: Step::Mount,
            errno: libc::EINVAL,
            detail,
        });
    }
    let tree = clone_tree(None, source, options.recursive).map_err(fail(format!("cloning {}", source.display())))?;
    if options.attrs != 0 {
        set_attributes(tree.as_fd(), options.attrs, options.recursive)
            .map_err(fail(format!("setting options on {}", source.display())))?;
    }
    Ok(Some(tree))
}

fn make_root(spec: &Spec, tmpfs: bool) -> Result<OwnedFd, Failure> {
    let (root, stage) = if tmpfs {
        let tmpfs = new_filesystem("tmpfs", "tmpfs", &["mode=755"], 0).map_err(fail("creating the tmpfs root"))?;
        (tmpfs, PathBuf::from(TMPFS_ROOT_STAGE))
    } else {
        let path = spec.root().as_ref().map(|r| r.path().clone()).unwrap_or_default();
        let tree = clone_tree(None, &path, true).map_err(fail(format!("cloning rootfs {}", path.display())))?;
        (tree, path)
    };
    let target = nix::fcntl::open(
        &stage,
        OFlag::O_PATH | OFlag::O_CLOEXEC | OFlag::O_DIRECTORY,
        Mode::empty(),
    )
    .map_err(|e| fail(format!("opening {}", stage.display()))(e.into()))?;
    attach(root.as_fd(), target.as_fd()).map_err(fail(format!("attaching the root at {}", stage.display())))?;
    Ok(root)
}

fn mount_one(root: BorrowedFd, mount: &Mount, source: Option<OwnedFd>) -> Result<(), Failure> {
    let destination = mount.destination();
    let typ = mount.typ().as_deref().unwrap_or("none");
    let what = format!("{typ} on {}", destination.display());
    let tree = match source {
        Some(tree) => tree,
        None => new_mount(mount, typ).map_err(fail(format!("mounting {what}")))?,
    };
    let source_is_file = is_bind(mount)
        && mount
            .source()
            .as_deref()
            .is_some_and(|s| s.metadata().is_ok_and(|m| !m.is_dir()));
    let no_symlinks = needs_no_symlinks(mount, typ);
    let target = make_target(root, destination, source_is_file, no_symlinks).map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) if no_symlinks => {
            symlink_failure(Step::Mount, &format!("mounting {what}"), root, destination)
        }
        _ => fail(format!("creating mount point {}", destination.display()))(e),
    })?;
    attach(tree.as_fd(), target.as_fd()).map_err(fail(format!("mounting {what}")))
}

/// Whether the mount point of `mount` (of type `typ`) must be free of
/// symlinks (see step 4).
fn needs_no_symlinks(mount: &Mount, typ: &str) -> bool {
    KERNEL_FILESYSTEMS.contains(&typ) || mount.destination().starts_with("/dev")
}

/// The failure for `path` inside `root`, which had to be free of symlinks
/// and was not (openat2 said ELOOP), while doing `what`. It names the first
/// component that is a symlink; looked up again for the message only.
pub fn symlink_failure(step: Step, what: &str, root: BorrowedFd, path: &Path) -> Failure {
    Failure {
        step,
        errno: 0,
        detail: format!("{what}: {} is a symlink", first_symlink(root, path).display()),
    }
}

/// The first component of `path`, from `/`, that is a symlink inside
/// `root`; `path` itself if none is (any more).
fn first_symlink(root: BorrowedFd, path: &Path) -> PathBuf {
    let mut prefix = PathBuf::from("/");
    for component in path.components().filter(|c| matches!(c, Component::Normal(_))) {
        prefix.push(component);
        let Ok(fd) = open_link_in_root(root, &prefix) else {
            break;
        };
        let is_link = nix::sys::stat::fstat(fd.as_fd()).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFLNK);
        if is_link {
            return prefix;
        }
    }
    path.to_owned()
}

/// A new filesystem for a non-bind mount. sysfs may be refused where the
/// network namespace is not the container's own: bind the host's read-only.
fn new_mount(mount: &Mount, typ: &str) -> io::Result<OwnedFd> {
    let options = parse_options(mount);
    let source = mount.source().as_deref().and_then(Path::to_str).unwrap_or(typ);
    match new_filesystem(typ, source, &options.data, options.attrs) {
        Err(e) if typ == "sysfs" && e.raw_os_error() == Some(libc::EPERM) => {
            let tree = clone_tree(None, Path::new("/sys"), true)?;
            set_attributes(tree.as_fd(), MOUNT_ATTR_RDONLY | options.attrs, true)?;
            Ok(tree)
        }
        result => result,
    }
}

/// An O_PATH fd on `destination` inside `root`, creating missing directories
/// (and the last component as an empty file when `file`); with
/// `no_symlinks`, ELOOP if any component is a symlink. Only the normal
/// components of `destination` count.
fn make_target(root: BorrowedFd, destination: &Path, file: bool, no_symlinks: bool) -> io::Result<OwnedFd> {
    let path: PathBuf = std::iter::once(Component::RootDir)
        .chain(destination.components().filter(|c| matches!(c, Component::Normal(_))))
        .collect();
    let open = match no_symlinks {
        true => open_in_root_no_symlinks,
        false => open_in_root,
    };
    make_path(root, &path, file, open)
}

/// `make_target` for a path of normal components below `/`: tries the path
/// itself first, then makes its parent the same way and creates the last
/// component in it, so a mount point whose parent exists costs one failed
/// lookup, one lookup of the parent and the creation.
fn make_path(root: BorrowedFd, path: &Path, file: bool, open: OpenInRoot) -> io::Result<OwnedFd> {
    match open(root, path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        result => return result,
    }
    // `/` always exists, so a missing path has a parent and a name.
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::ErrorKind::NotFound.into());
    };
    let parent = make_path(root, parent, false, open)?;
    if file {
        let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
        openat(parent.as_fd(), name, flags, Mode::from_bits_truncate(0o644))?;
    } else {
        mkdirat(parent.as_fd(), name, Mode::from_bits_truncate(0o755))?;
    }
    open(root, path)
}

/// `open_in_root` or `open_in_root_no_symlinks`.
type OpenInRoot = fn(BorrowedFd, &Path) -> io::Result<OwnedFd>;

fn add_dev_links(root: BorrowedFd) -> Result<(), Failure> {
    let dev = open_in_root(root, Path::new("/dev")).map_err(fail("opening /dev"))?;
    for (name, target) in DEV_LINKS {
        nix::unistd::symlinkat(*target, dev.as_fd(), *name)
            .map_err(|e| fail(format!("linking /dev/{name}"))(e.into()))?;
    }
    Ok(())
}

/// The contents of /etc/resolv.conf for these nameservers.
fn resolv_conf(servers: &[IpAddr]) -> String {
    servers.iter().map(|server| format!("nameserver {server}\n")).collect()
}

/// `run.burrow.dns`: a resolv.conf on a private tmpfs, bound over the rootfs's own so
/// the image on disk is never written.
fn mount_resolv_conf(root: BorrowedFd, text: &str) -> Result<(), Failure> {
    let tmpfs = new_filesystem(
        "tmpfs",
        "tmpfs",
        &["mode=755", "size=16k"],
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
    )
    .map_err(fail("creating a tmpfs for resolv.conf"))?;
    let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC;
    let file = openat(tmpfs.as_fd(), "resolv.conf", flags, Mode::from_bits_truncate(0o644))
        .map_err(|e| fail("writing resolv.conf")(e.into()))?;
    std::fs::File::from(file)
        .write_all(text.as_bytes())
        .map_err(fail("writing resolv.conf"))?;
    let source =
        clone_tree(Some(tmpfs.as_fd()), Path::new("resolv.conf"), false).map_err(fail("cloning resolv.conf"))?;
    let target = make_target(root, Path::new("/etc/resolv.conf"), true, false)
        .map_err(fail("creating mount point /etc/resolv.conf"))?;
    attach(source.as_fd(), target.as_fd()).map_err(fail("mounting resolv.conf"))
}

/// Binds the terminal `tty` onto /dev/console, after pivot_root, as lxc and
/// runc do: an init writes its messages there and a getty runs on it.
/// /dev/console must not be or lie below a symlink (step 4).
pub fn bind_console(tty: BorrowedFd) -> Result<(), Failure> {
    let root = nix::fcntl::open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| fail("opening /")(e.into()))?;
    let console = Path::new("/dev/console");
    let target = make_target(root.as_fd(), console, true, true).map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => symlink_failure(Step::Mount, "mount point", root.as_fd(), console),
        _ => fail("creating /dev/console")(e),
    })?;
    let source = crate::sys::mount::clone_fd(tty, false).map_err(fail("cloning the terminal"))?;
    attach(source.as_fd(), target.as_fd()).map_err(fail("mounting the terminal on /dev/console"))
}

fn pivot_into(root: BorrowedFd) -> Result<(), Failure> {
    let pivot = |detail: &str| {
        let detail = detail.to_owned();
        move |e: nix::Error| Failure::os(Step::PivotRoot, detail, &e.into())
    };
    nix::unistd::fchdir(root).map_err(pivot("entering the new root"))?;
    // With "." as both, the old root ends up stacked on the new one, and
    // detaching "." then leaves only the new root (no put_old directory).
    nix::unistd::pivot_root(".", ".").map_err(pivot("pivot_root"))?;
    nix::mount::umount2(".", MntFlags::MNT_DETACH).map_err(pivot("detaching the old root"))?;
    nix::unistd::chdir("/").map_err(pivot("entering /"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::validate::BIND_OPTIONS;
    use oci_spec::runtime::MountBuilder;

    #[test]
    fn bind_options_the_validator_allows_are_applied() {
        for option in BIND_OPTIONS {
            let mount = MountBuilder::default()
                .destination("/x")
                .typ("bind")
                .options(vec![option.to_string()])
                .build()
                .unwrap();
            assert!(parse_options(&mount).data.is_empty(), "{option}");
        }
    }

    #[test]
    fn resolv_conf_from_dns() {
        let servers = ["10.0.0.1".parse().unwrap(), "fd00::1".parse().unwrap()];
        assert_eq!(resolv_conf(&servers), "nameserver 10.0.0.1\nnameserver fd00::1\n");
    }
}
