//! Containers that outlive one command (runner, as the calling user): the
//! user's state directory, one directory per container named by its
//! container name, and its record (record.rs). The state is the user's own:
//! the helper never reads it. Untrusted: nothing beyond the user's own
//! files; the checks here keep another user from planting a directory or a
//! symlink where burrow keeps the state.
//!
//! The root is `$XDG_RUNTIME_DIR/burrow`, or, without that variable,
//! `/tmp/burrow-UID`: created 0700 if missing, then required to be a
//! directory (not a symlink) owned by the user and open to no one else.
//! A container's directory `ROOT/NAME` is made with one mkdir, so of two
//! `burrow run --name NAME` at once exactly one wins; it holds `state.json`
//! (written whole, then renamed into place), `log` (the container's output,
//! capped, for `burrow logs`) and `lock` (flock, so that commands on one
//! container take turns).

pub mod record;

use crate::error::{Error, Result};
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The user's state root, checked.
pub struct Root {
    path: PathBuf,
}

/// A container name: 1 to 64 of `[A-Za-z0-9_.-]`, not starting with `.` or `-`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with(['.', '-'])
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

impl Root {
    /// Opens the root, making it if missing (see the module doc).
    pub fn open() -> Result<Root> {
        let uid = nix::unistd::getuid().as_raw();
        let path = match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
            Some(dir) => PathBuf::from(dir).join("burrow"),
            None => PathBuf::from(format!("/tmp/burrow-{uid}")),
        };
        match fs::DirBuilder::new().mode(0o700).create(&path) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                return Err(Error::os(format!("creating the state directory {}", path.display()), e));
            }
            _ => {}
        }
        let meta = fs::symlink_metadata(&path)
            .map_err(|e| Error::os(format!("reading the state directory {}", path.display()), e))?;
        // SECURITY: someone else's directory, or a symlink planted in /tmp,
        // would give another user the container's records and log.
        if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
            return Err(Error::config(format!(
                "the state directory {} is not a directory of yours that only you may use (0700)",
                path.display()
            )));
        }
        Ok(Root { path })
    }

    /// The directory of container `name` (not checked to exist).
    pub fn container(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Makes the directory of a new container `name`: an error if the name
    /// is taken.
    pub fn create(&self, name: &str) -> Result<PathBuf> {
        let dir = self.container(name);
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(Error::usage(format!(
                "the name {name:?} is already in use by a container (burrow rm {name} frees it)"
            ))),
            Err(e) => Err(Error::os(format!("creating {}", dir.display()), e)),
        }
    }

    /// The names of every container, sorted.
    pub fn names(&self) -> Result<Vec<String>> {
        let entries = fs::read_dir(&self.path).map_err(|e| Error::os(format!("reading {}", self.path.display()), e))?;
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| valid_name(name))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Finds a container by its name or by a prefix of its id.
    pub fn find(&self, wanted: &str) -> Result<String> {
        if valid_name(wanted) && self.container(wanted).join(record::FILE).exists() {
            return Ok(wanted.to_owned());
        }
        let mut by_id = Vec::new();
        for name in self.names()? {
            if let Ok(record) = record::Record::read(&self.container(&name)) {
                if !wanted.is_empty() && record.id.starts_with(wanted) {
                    by_id.push(name);
                }
            }
        }
        match by_id.len() {
            1 => Ok(by_id.remove(0)),
            0 => Err(Error::NotFound {
                what: format!("container {wanted:?}"),
            }),
            _ => Err(Error::usage(format!(
                "{wanted} names more than one container: give more of its id"
            ))),
        }
    }
}

/// An exclusive flock on a container's `lock`, held until dropped.
pub struct Lock {
    _locked: nix::fcntl::Flock<File>,
}

/// Takes the container's lock, waiting for another command to finish.
pub fn lock(dir: &Path) -> Result<Lock> {
    let path = dir.join("lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::os(format!("opening {}", path.display()), e))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map(|locked| Lock { _locked: locked })
        .map_err(|(_, e)| Error::os(format!("locking {}", path.display()), e))
}
