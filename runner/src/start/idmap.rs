//! The container's uid and gid maps (runner, unprivileged): the default
//! choice, and writing them for the child — through burrow-helper, or
//! directly where the kernel lets an unprivileged user map its own id.

use crate::error::{Context, Error, Result};
use crate::start::helper_client::{self, Pending};
use burrow_shared::ids::{IdKind, IdMapping, IdRange};
use burrow_shared::subid;
use std::io::Write;
use std::os::fd::BorrowedFd;

/// The most subordinate ids a default map uses (as podman does).
const DEFAULT_SUBID_COUNT: u32 = 65536;

/// Who runs burrow: real ids, and the login name when there is one.
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
    pub name: Option<String>,
}

impl Caller {
    pub fn current() -> Caller {
        let uid = nix::unistd::getuid();
        let name = nix::unistd::User::from_uid(uid).ok().flatten().map(|u| u.name);
        Caller {
            uid: uid.as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            name,
        }
    }

    pub fn own_id(&self, kind: IdKind) -> u32 {
        match kind {
            IdKind::Uid => self.uid,
            IdKind::Gid => self.gid,
        }
    }

    fn is_root(&self) -> bool {
        self.uid == 0
    }
}

/// Container id 0 is the caller's own id; ids 1..N are the first N ids of
/// the caller's first subordinate range (N capped at 65536). Without a
/// range, only 0 is mapped: the second value is then false.
pub fn default_map(kind: IdKind, caller: &Caller) -> Result<(Vec<IdMapping>, bool)> {
    let own = caller.own_id(kind);
    let mut map = vec![IdMapping::new(0, own, 1).ok_or_else(|| Error::config(format!("cannot map own {kind} {own}")))?];
    let range = first_subordinate_range(kind, caller)?;
    if let Some(range) = range {
        map.extend(IdMapping::new(1, range.start(), range.count().min(DEFAULT_SUBID_COUNT)));
    }
    Ok((map, range.is_some()))
}

/// The one-line notice for a caller without subordinate ids of `kinds`.
pub fn no_subordinate_ids_notice(caller: &Caller, kinds: &[IdKind]) -> String {
    let names: Vec<_> = kinds.iter().map(|k| format!("{k}s")).collect();
    let files: Vec<_> = kinds.iter().map(|k| subid::path(*k)).collect();
    let own: Vec<_> = kinds.iter().map(|k| format!("{k} {}", caller.own_id(*k))).collect();
    format!(
        "no subordinate {} for {} in {}: only your own {} mapped (as 0)",
        names.join(" or "),
        caller.name.as_deref().unwrap_or("you"),
        files.join(" and "),
        if own.len() == 1 {
            format!("{} is", own[0])
        } else {
            format!("{} are", own.join(" and "))
        },
    )
}

/// The caller's first subordinate range in the kind's policy file, read line
/// by line as the helper reads it (`subid::read_lines`), keeping only the
/// caller's entries; none if the file is missing.
fn first_subordinate_range(kind: IdKind, caller: &Caller) -> Result<Option<IdRange>> {
    let path = subid::path(kind);
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::os(format!("reading {path}"), e)),
    };
    let name = caller.name.clone().unwrap_or_default();
    // Both files name their owners by login name or uid (never gid), as the
    // helper and shadow match them.
    let mine = subid::parse_line_of(name.clone(), caller.uid);
    let entries = subid::read_lines(std::io::BufReader::new(file), mine)
        .map_err(|e| Error::os(format!("reading {path}"), e))?
        .map_err(|e| Error::config_from(path, e))?;
    Ok(subid::granted(&entries, &name, caller.uid).first().copied())
}

/// Whether `map` is only the caller's own id, which needs no privilege.
fn own_id_only(map: &[IdMapping], own: u32) -> bool {
    matches!(map, [m] if m.count() == 1 && m.host().start() == own)
}

/// The child's maps being written: already, or by the helper.
pub enum Writing {
    Done,
    Helper(Pending),
}

/// Starts writing both maps of the child behind `proc_dir` (its /proc/PID
/// directory): directly where the kernel lets the caller (done on return),
/// else through the helper (running on return; see `Writing::finish`).
pub fn start_maps(
    proc_dir: BorrowedFd,
    caller: &Caller,
    uid_map: &[IdMapping],
    gid_map: &[IdMapping],
) -> Result<Writing> {
    let direct = caller.is_root() || (own_id_only(uid_map, caller.uid) && own_id_only(gid_map, caller.gid));
    if !direct {
        return helper_client::spawn_idmap(proc_dir, uid_map, gid_map).map(Writing::Helper);
    }
    if !caller.is_root() {
        // The kernel requires this before an unprivileged gid_map.
        write_proc_file(proc_dir, "setgroups", b"deny")?;
    }
    for (kind, map) in [(IdKind::Gid, gid_map), (IdKind::Uid, uid_map)] {
        write_proc_file(
            proc_dir,
            kind.map_file(),
            burrow_shared::ids::render_map(map).as_bytes(),
        )?;
    }
    Ok(Writing::Done)
}

impl Writing {
    /// Waits until the maps are written. Returns whether setgroups is
    /// allowed in the namespace.
    pub fn finish(self, proc_dir: BorrowedFd) -> Result<bool> {
        if let Writing::Helper(pending) = self {
            pending.wait()?;
        }
        // The kernel's word on whether the helper (or we) denied setgroups.
        let setgroups = read_proc_file(proc_dir, "setgroups")?;
        Ok(setgroups.trim() == "allow")
    }
}

fn open_proc_file(proc_dir: BorrowedFd, name: &str, flags: nix::fcntl::OFlag) -> Result<std::fs::File> {
    let fd = nix::fcntl::openat(
        proc_dir,
        name,
        flags | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .context(|| format!("opening the container's {name}"))?;
    Ok(std::fs::File::from(fd))
}

fn write_proc_file(proc_dir: BorrowedFd, name: &str, content: &[u8]) -> Result<()> {
    let mut file = open_proc_file(proc_dir, name, nix::fcntl::OFlag::O_WRONLY)?;
    // One write(2): map files take the whole map at once.
    let written = file
        .write(content)
        .context(|| format!("writing the container's {name}"))?;
    if written != content.len() {
        return Err(Error::os(
            format!("writing the container's {name}"),
            std::io::Error::other("short write"),
        ));
    }
    Ok(())
}

fn read_proc_file(proc_dir: BorrowedFd, name: &str) -> Result<String> {
    let file = open_proc_file(proc_dir, name, nix::fcntl::OFlag::O_RDONLY)?;
    crate::files::read_capped_from(file, crate::files::KERNEL_TABLE_MAX)
        .context(|| format!("reading the container's {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_id_only_is_exactly_one_own_id() {
        let m = |ns, host, count| IdMapping::new(ns, host, count).unwrap();
        assert!(own_id_only(&[m(0, 1000, 1)], 1000));
        assert!(own_id_only(&[m(5, 1000, 1)], 1000));
        assert!(!own_id_only(&[m(0, 1000, 2)], 1000));
        assert!(!own_id_only(&[m(0, 1001, 1)], 1000));
        assert!(!own_id_only(&[m(0, 1000, 1), m(1, 100000, 10)], 1000));
    }
}
