//! Verifies the target of idmap and cgroup: the caller's /proc/PID directory
//! fd (and holds the namespace-fd checks veth shares). Runs in burrow-helper
//! as the caller's uid with no effective capabilities.
//! Untrusted: the fd (any fd at all), the process behind it, and its
//! namespace. Everything goes through `*at` calls on the verified fd, which
//! pins the process: once it exits, lookups fail instead of reaching a
//! process that reused its pid.

use crate::error::Error;
use crate::identity::Caller;
use crate::sys;
use burrow_shared::ids::{IdKind, parse_decimal_u32};
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};

/// No file the helper reads below /proc/PID is near this long.
const MAX_PROC_FILE: u64 = 64 * 1024;

const NOT_CHILD: &str = "idmap: target's user namespace is not a child of the initial user namespace";

/// The target process is gone (or a zombie): `op` names the operation.
pub fn exited(op: &str) -> Error {
    Error::refused(format!("{op}: target process has exited"))
}

pub struct Target {
    dir: BorrowedFd<'static>,
    /// The operation, as messages name it.
    op: &'static str,
    /// (st_dev, st_ino) of the verified user namespace (idmap).
    userns: (u64, u64),
    /// The pid, as field 1 of the target's `stat`.
    pub pid: u32,
}

/// Checks, in order: the fd is open, is a directory on the helper's own
/// procfs, its process is alive and all its uids are the caller's; then
/// reads its pid.
pub fn open(op: &'static str, fd: RawFd, fd_open: bool, caller_uid: u32) -> Result<Target, Error> {
    if !fd_open {
        return Err(Error::refused(format!("{op}: target fd {fd} is not open")));
    }
    let dir = sys::borrow_fd(fd);
    let on_procfs = sys::fs_magic(dir).is_ok_and(|magic| magic == sys::PROC_SUPER_MAGIC);
    let st = sys::fstat(dir)
        .ok()
        .filter(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR);
    let Some(st) = st.filter(|_| on_procfs) else {
        return Err(Error::refused(format!(
            "{op}: target fd {fd} is not a /proc/PID directory"
        )));
    };
    // The pid read below names the fd's process only in the pid namespace of
    // the fd's procfs, and a caller can mount a procfs of a pid namespace of
    // its own, where the numbers differ: only the helper's own /proc counts,
    // once shown to be of the helper's pid namespace, the one a seize and a
    // cgroup.procs write read pids in.
    if st.st_dev != own_procfs(op)? {
        return Err(Error::refused(format!(
            "{op}: target fd {fd} is on another procfs than the helper's /proc"
        )));
    }
    let mut target = Target {
        dir,
        op,
        userns: (0, 0),
        pid: 0,
    };
    target.check_status(caller_uid)?;
    let stat = target.read(c"stat")?;
    let pid = stat.split(' ').next().and_then(parse_decimal_u32);
    target.pid = pid.ok_or_else(|| Error::os(format!("{op}: reading stat"), "no pid in field 1"))?;
    Ok(target)
}

/// The device of the helper's /proc, checked to be of the helper's own pid
/// namespace: NSpid in /proc/self/status lists a pid for each namespace from
/// the procfs's own down to the process's, so one field means the same one.
fn own_procfs(op: &str) -> Result<u64, Error> {
    let failed = |e| Error::os(format!("{op}: reading /proc/self/status"), e);
    let status = sys::openat(None, c"/proc/self/status", libc::O_RDONLY).map_err(failed)?;
    let dev = sys::fstat(status.as_fd()).map_err(failed)?.st_dev;
    let status = sys::read_text(status, MAX_PROC_FILE).map_err(failed)?;
    let nspid = status.lines().find_map(|line| line.strip_prefix("NSpid:"));
    if nspid.is_none_or(|pids| pids.split_whitespace().count() != 1) {
        return Err(failed(io::Error::other("/proc is not of the helper's pid namespace")));
    }
    Ok(dev)
}

/// idmap's target: `open`, then it sits in a user namespace that is a
/// direct child of the helper's own and owned by the caller, and the maps
/// about to be written are still empty.
pub fn verify(fd: RawFd, fd_open: bool, caller: &Caller, kinds: &[IdKind]) -> Result<Target, Error> {
    let mut target = open("idmap", fd, fd_open, caller.uid)?;
    // The kernel lets only those who may ptrace the target open its ns/user:
    // a namespace the caller cannot even look at is not the caller's to map.
    let ns = match sys::openat(Some(target.dir), c"ns/user", libc::O_RDONLY) {
        Err(e) if matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => {
            return Err(Error::refused(format!(
                "idmap: target's user namespace is not accessible to the caller (uid {})",
                caller.uid
            )));
        }
        result => result.map_err(|e| target.read_error(c"ns/user", e))?,
    };
    if !is_namespace(ns.as_fd(), libc::CLONE_NEWUSER) {
        return Err(Error::refused(format!(
            "idmap: target fd {fd} is not a /proc/PID directory"
        )));
    }
    let parent = match sys::ns_related(ns.as_fd(), libc::NS_GET_PARENT) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            return Err(Error::refused("idmap: target process is in the initial user namespace"));
        }
        result => result.map_err(|e| Error::os("idmap: reading ns/user", e))?,
    };
    let own = open_own_ns(c"/proc/self/ns/user", "idmap")?;
    if dev_ino(parent.as_fd(), "idmap: reading ns/user")? != dev_ino(own.as_fd(), "idmap: reading /proc/self/ns/user")?
    {
        return Err(Error::refused(NOT_CHILD));
    }
    let owner = sys::ns_owner_uid(ns.as_fd()).map_err(|e| Error::os("idmap: reading ns/user", e))?;
    if owner != caller.uid {
        return Err(Error::refused(format!(
            "idmap: target's user namespace is owned by uid {owner}, not by the caller (uid {})",
            caller.uid
        )));
    }
    for &kind in kinds {
        let name = if kind == IdKind::Uid { c"uid_map" } else { c"gid_map" };
        if !target.read(name)?.trim().is_empty() {
            return Err(Error::refused(format!("idmap: target's {kind} map is already written")));
        }
    }
    target.userns = dev_ino(ns.as_fd(), "idmap: reading ns/user")?;
    Ok(target)
}

impl Target {
    /// Opens a file below the target's directory (names are constants here).
    fn open(&self, name: &CStr, flags: libc::c_int) -> Result<OwnedFd, Error> {
        sys::openat(Some(self.dir), name, flags).map_err(|e| self.read_error(name, e))
    }

    pub fn read(&self, name: &CStr) -> Result<String, Error> {
        sys::read_text(self.open(name, libc::O_RDONLY)?, MAX_PROC_FILE).map_err(|e| self.read_error(name, e))
    }

    /// Reads /proc/PID/status (again): alive, and all four uids the caller's.
    pub fn check_status(&self, caller_uid: u32) -> Result<(), Error> {
        check_status(&self.read(c"status")?, caller_uid, self.op)
    }

    /// Keeps the target's pid its own until the helper exits, for writes that
    /// name the target by pid (cgroup.procs): a zombie that a tracer holds
    /// cannot be reaped by its parent, so the pid cannot be reused. Seized
    /// as the caller, with no capability: the kernel allows it only on a
    /// process the caller could trace itself. The status read after the
    /// seize proves the seized process is the target: its pid was never free
    /// since `open`.
    pub fn hold(&self, caller_uid: u32) -> Result<(), Error> {
        // SECURITY: no capability is effective; the tracee keeps running,
        // and is released when the helper exits.
        sys::ptrace_seize(self.pid).map_err(|e| match e.raw_os_error() {
            Some(libc::ESRCH) => exited(self.op),
            _ => Error::os(format!("{}: holding the target process", self.op), e),
        })?;
        self.check_status(caller_uid)
    }

    /// Opens `name` (`uid_map`, `gid_map` or `setgroups`) for the one write.
    pub fn open_for_write(&self, name: &CStr) -> Result<OwnedFd, Error> {
        // SECURITY: opened as the caller's uid, so the file's own permission
        // check is the caller's; only `*at` on the verified fd.
        sys::openat(Some(self.dir), name, libc::O_WRONLY)
            .map_err(|e| Error::os(format!("idmap: writing {}", name.to_string_lossy()), e))
    }

    /// Confirms the target is still in the verified user namespace. Call after
    /// opening the map files: a process can only leave its user namespace for
    /// a descendant and never come back, so a match means every file opened
    /// before belongs to the verified namespace.
    pub fn recheck_userns(&self) -> Result<(), Error> {
        let ns = self.open(c"ns/user", libc::O_RDONLY)?;
        if dev_ino(ns.as_fd(), "idmap: reading ns/user")? != self.userns {
            return Err(Error::refused(NOT_CHILD));
        }
        Ok(())
    }

    /// ESRCH or ENOENT below /proc/PID: the process is gone (the fd pins its
    /// pid, so a new process with the same number is never reached).
    fn read_error(&self, name: &CStr, e: io::Error) -> Error {
        match e.raw_os_error() {
            Some(libc::ESRCH | libc::ENOENT) => exited(self.op),
            _ => Error::os(format!("{}: reading {}", self.op, name.to_string_lossy()), e),
        }
    }
}

/// A namespace's identity (or any file's); `doing` names it in an error.
pub fn dev_ino(fd: BorrowedFd, doing: &str) -> Result<(u64, u64), Error> {
    let st = sys::fstat(fd).map_err(|e| Error::os(doing, e))?;
    Ok((st.st_dev, st.st_ino))
}

/// Whether `fd` is a namespace of type `kind` (a CLONE_NEW* flag): the
/// filesystem magic first, since the ioctl number means something else on
/// another kind of fd.
pub fn is_namespace(fd: BorrowedFd, kind: libc::c_int) -> bool {
    sys::fs_magic(fd).is_ok_and(|magic| magic == sys::NSFS_MAGIC) && sys::ns_type(fd).is_ok_and(|t| t == kind)
}

/// Opens one of the helper's own namespaces (`/proc/self/ns/...`).
pub fn open_own_ns(path: &CStr, op: &str) -> Result<OwnedFd, Error> {
    let doing = || format!("{op}: reading {}", path.to_string_lossy());
    sys::openat(None, path, libc::O_RDONLY).map_err(|e| Error::os(doing(), e))
}

/// Checks /proc/PID/status: not a zombie, and all four `Uid:` fields (real,
/// effective, saved, filesystem) equal to the caller's uid.
pub fn check_status(status: &str, caller_uid: u32, op: &'static str) -> Result<(), Error> {
    let field = |key: &str| status.lines().find_map(|line| line.strip_prefix(key));
    if field("State:").is_some_and(|state| state.trim_start().starts_with(['Z', 'X'])) {
        return Err(exited(op));
    }
    let uids: Option<Vec<u32>> = field("Uid:").and_then(|v| v.split_whitespace().map(parse_decimal_u32).collect());
    match uids.as_deref() {
        Some(uids @ [_, _, _, _]) => match uids.iter().find(|&&uid| uid != caller_uid) {
            Some(&target) => Err(Error::refused(format!(
                "{op}: target process belongs to uid {target}, not to the caller (uid {caller_uid})"
            ))),
            None => Ok(()),
        },
        _ => Err(Error::os(format!("{op}: reading status"), "no valid Uid line")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str =
        "Name:\tsleep\nState:\tS (sleeping)\nTgid:\t42\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\n";

    #[test]
    fn status_uid_fields() {
        check_status(STATUS, 1000, "idmap").unwrap();
        let message = |status: &str, uid| check_status(status, uid, "idmap").unwrap_err().to_string();
        assert_eq!(
            message(STATUS, 1001),
            "idmap: target process belongs to uid 1000, not to the caller (uid 1001)"
        );
        // The first differing field is named: here the saved uid.
        let saved = STATUS.replace("Uid:\t1000\t1000\t1000\t1000", "Uid:\t1000\t1000\t0\t1000");
        assert!(message(&saved, 1000).contains("belongs to uid 0,"));
        let fsuid = STATUS.replace("Uid:\t1000\t1000\t1000\t1000", "Uid:\t1000\t1000\t1000\t5");
        assert!(message(&fsuid, 1000).contains("belongs to uid 5,"));
        for bad in [
            "Uid:\t1000\t1000\t1000",
            "Uid:\t1000\t1000\t1000\t1000\t1000",
            "Uid:\t1000 x 1000 1000",
            "",
        ] {
            let status = STATUS.replace("Uid:\t1000\t1000\t1000\t1000", bad);
            assert_eq!(message(&status, 1000), "idmap: reading status: no valid Uid line");
        }
        let zombie = STATUS.replace("S (sleeping)", "Z (zombie)");
        assert_eq!(message(&zombie, 1000), "idmap: target process has exited");
        // cgroup shares the checks, under its own name.
        assert_eq!(
            check_status(STATUS, 7, "cgroup").unwrap_err().to_string(),
            "cgroup: target process belongs to uid 1000, not to the caller (uid 7)"
        );
        assert_eq!(
            check_status(&zombie, 1000, "cgroup").unwrap_err().to_string(),
            "cgroup: target process has exited"
        );
    }
}
