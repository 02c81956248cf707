//! Landlock (`run.burrow.landlock`): defence in depth against a mount-namespace escape or a
//! leaked host fd (runner's child, after pivot_root; the runner only checks
//! that the kernel has Landlock). Rules are on inodes, not on mount points:
//! the container's root directory (read-write, or read-only with
//! `root.readonly`) and each mount in the spec, bind sources with their own
//! mode (read-only binds read-only). Whatever path leads to a file outside
//! those trees (a directory fd from the host, a /proc magic link, another
//! mount namespace) is refused with EACCES, and a process under Landlock
//! cannot mount or unmount anything. Handled rights: every filesystem
//! right of ABI 7 (the newest this was tested on), best effort below it;
//! a kernel without Landlock is an error, never a silent no-op.

use crate::sync::{Failure, Step};
use crate::sys::mount::open_in_root;
use ::landlock::{
    ABI, Access, AccessFs, BitFlags, CompatLevel, Compatible, PathBeneath, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetStatus,
};
use oci_spec::runtime::Spec;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

const TESTED_ABI: ABI = ABI::V7;

/// Checks, in the runner, that the kernel enforces Landlock; the error
/// says why not.
pub fn check_available() -> Result<(), String> {
    if let Err(error) = crate::sys::landlock::abi_version() {
        let why = match error.raw_os_error() {
            Some(libc::EOPNOTSUPP) => "Landlock is disabled on this kernel (it is not in the boot lsm= list)",
            _ => "this kernel does not support Landlock",
        };
        return Err(format!("{why}: {error}"));
    }
    Ok(())
}

/// A tree the container may use, and whether it may write there.
pub type Tree = (PathBuf, bool);

/// The trees of a container's spec: its root and each of its mounts.
pub fn trees(spec: &Spec) -> Vec<Tree> {
    let root_writable = !spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false);
    let mut trees = vec![(PathBuf::from("/"), root_writable)];
    for mount in spec.mounts().iter().flatten() {
        let read_only = mount.options().iter().flatten().any(|o| o == "ro");
        trees.push((mount.destination().clone(), !read_only));
    }
    trees
}

/// The errno inside a landlock error, when a system call failed.
fn errno_of(error: &(dyn std::error::Error + 'static)) -> i32 {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return io.raw_os_error().unwrap_or(0);
        }
        source = e.source();
    }
    0
}

fn failure(what: &str, error: impl std::error::Error + 'static) -> Failure {
    Failure {
        step: Step::Landlock,
        errno: errno_of(&error),
        detail: format!("{what}: {error}"),
    }
}

/// Restricts the calling (child) process. no_new_privs is confine.rs's
/// business: it is set already, or deliberately not (then the child still
/// holds CAP_SYS_ADMIN here, which Landlock accepts instead).
pub fn apply(trees: &[Tree]) -> Result<(), Failure> {
    let all = AccessFs::from_all(TESTED_ABI);
    let read = AccessFs::from_read(TESTED_ABI);
    let file = AccessFs::from_file(TESTED_ABI);
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)
        .and_then(Ruleset::create)
        .map_err(|e| failure("creating the ruleset", e))?;
    let root = open_in_root_dir().map_err(|e| Failure::os(Step::Landlock, "opening /", &e))?;
    for (path, writable) in trees {
        let fd = open_in_root(root.as_fd(), path)
            .map_err(|e| Failure::os(Step::Landlock, format!("opening {}", path.display()), &e))?;
        let is_dir = nix::sys::stat::fstat(&fd)
            .map(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR)
            .map_err(|e| Failure::os(Step::Landlock, format!("stat {}", path.display()), &e.into()))?;
        let mut access: BitFlags<AccessFs> = if *writable { all } else { read };
        if !is_dir {
            access &= file;
        }
        ruleset = ruleset
            .add_rule(PathBeneath::new(fd, access))
            .map_err(|e| failure(&format!("allowing {}", path.display()), e))?;
    }
    let status = ruleset
        .no_new_privs(false)
        .restrict_self()
        .map_err(|e| failure("restricting the container", e))?;
    if status.ruleset == RulesetStatus::NotEnforced {
        return Err(Failure {
            step: Step::Landlock,
            errno: libc::EOPNOTSUPP,
            detail: "this kernel does not enforce Landlock".to_owned(),
        });
    }
    Ok(())
}

fn open_in_root_dir() -> io::Result<std::os::fd::OwnedFd> {
    use nix::fcntl::OFlag;
    nix::fcntl::open(
        Path::new("/"),
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(io::Error::from)
}
