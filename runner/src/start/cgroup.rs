//! The container's own cgroup (runner, unprivileged). burrow-helper hands the
//! caller a delegated cgroup per hierarchy with a fresh leaf below it, and
//! puts the child in the cgroup2 leaf (cgroup v2 forbids the caller that
//! first move); the child moves itself into the v1 leaves (`join`), which
//! spares the kernel an RCU grace period per start. Here the runner writes
//! the container's limits into the leaves, sweeps leaves that a killed
//! burrow left behind, and removes the leaves when the container is gone.
//!
//! The leaf's ceilings come from the delegated cgroup above it, whose limit
//! files stay root's: the kernel applies the smaller of the two.
//!
//! When neither limits nor a parent are asked for, the runner reads root's
//! policy (world-readable) first and skips the helper when no rule can name
//! the caller: the helper would refuse, and checks everything itself anyway.

use crate::error::{Error, Result};
use crate::files;
use crate::start::helper_client::{self, Pending};
use crate::start::idmap::Caller;
use crate::start::spawn;
use crate::sys::random;
use burrow_shared::cgroup_policy::{self, CGROUP_FILE};
use burrow_shared::subid;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use oci_spec::runtime::LinuxResources;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Prefix of the leaves burrow names (`c<pid>-<random>`), so stale ones can
/// be told from cgroups the user made by hand.
const LEAF_PREFIX: &str = "c";

/// The container's leaves, one per cgroup hierarchy.
pub struct Cgroup {
    leaves: Vec<PathBuf>,
}

/// A fresh leaf name for the child `pid`.
pub fn leaf_name(pid: libc::pid_t) -> String {
    let mut random = [0u8; 4];
    // If it fails, the zero suffix only makes a name clash (a clear error) likelier.
    let _ = random::fill(&mut random);
    format!("{LEAF_PREFIX}{pid}-{:08x}", u32::from_ne_bytes(random))
}

/// The child's placement, started by `start`.
pub struct Placing {
    name: String,
    how: How,
    /// Its init needs a cgroup of its own to boot (systemd): say so, if it
    /// gets none.
    needed: bool,
}

enum How {
    /// Already, by the clone, in a leaf of a cgroup v2 subtree the caller
    /// owns (`prepare_own`).
    Own,
    /// Nowhere: no limits or parent were asked for, and the policy has no
    /// rule for the caller (the reason).
    Skipped(String),
    /// By the helper: running, or it could not be started.
    Helper(Result<Pending>),
}

/// In a cgroup v2 subtree the caller already owns (see
/// `subtree_owned_by_caller`), makes the container's leaf before the clone,
/// records it in `placed`, and returns an fd on it for clone3 to start the
/// child there (CLONE_INTO_CGROUP): moving a process into a cgroup costs
/// the kernel an RCU grace period (milliseconds, tens on a quiet host),
/// starting it there does not. The leaf is named after the runner, whose
/// life bounds the leaf's use. None elsewhere: `start` places the child.
pub fn prepare_own(parent: Option<&str>, placed: &mut Option<Cgroup>) -> Result<Option<OwnedFd>> {
    let Some(subtree) = subtree_owned_by_caller() else {
        return Ok(None);
    };
    let name = leaf_name(std::process::id() as libc::pid_t);
    // SECURITY: no helper: the caller's own steps, in cgroups it owns; the
    // kernel checks each one, and the clone's placement as a move.
    let leaf = make_leaf(&subtree, parent, &name)?;
    *placed = Some(Cgroup {
        leaves: vec![leaf.clone()],
    });
    let fd = nix::fcntl::open(
        &leaf,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::os(format!("opening the cgroup {}", leaf.display()), e))?;
    Ok(Some(fd))
}

/// Starts placing the child `pid` (behind `proc_dir`) in a leaf of its own,
/// unless the clone did (`own`): by the helper in a delegated cgroup.
/// `wanted`: limits or a parent were asked for, which need the cgroup; if
/// not, a policy without a rule for the caller means no helper call.
/// `for_init`: the container mounts its own cgroup2 tree at /sys/fs/cgroup
/// for an init that manages cgroups (systemd), so the helper's request is
/// `cgroup-init`, with a cgroup2 leaf even on a hybrid host.
/// `needed`: without a cgroup, the container's init will not boot.
pub fn start(
    proc_dir: BorrowedFd,
    pid: libc::pid_t,
    caller: &Caller,
    (wanted, own, for_init): (bool, bool, bool),
    needed: bool,
) -> Placing {
    let name = leaf_name(pid);
    let how = if own {
        How::Own
    } else if let Some(reason) = (!wanted).then(|| no_rule_for(caller)).flatten() {
        How::Skipped(reason)
    } else {
        How::Helper(helper_client::spawn_cgroup(proc_dir, &name, for_init))
    };
    Placing { name, how, needed }
}

impl Placing {
    /// Finishes the placement: the leaves are recorded in `placed` as soon
    /// as they exist, for the caller to remove whatever fails next; the
    /// child moves below `parent` if one is given; then `resources` are
    /// written there. Without delegation the container runs without a
    /// cgroup of its own, unless limits or a parent were asked for.
    pub fn finish(
        self,
        pid: libc::pid_t,
        resources: Option<&LinuxResources>,
        parent: Option<&str>,
        placed: &mut Option<Cgroup>,
    ) -> Result<()> {
        let name = self.name;
        let without = |reason: String| match self.needed {
            true => log::warn!("running without a cgroup of its own ({reason}): systemd will not boot without one"),
            false => log::info!("running without a cgroup of its own ({reason})"),
        };
        let pending = match self.how {
            How::Own => {
                return match placed {
                    Some(cgroup) => cgroup.finish(resources),
                    None => Ok(()),
                };
            }
            How::Skipped(reason) => {
                without(reason);
                return Ok(());
            }
            How::Helper(pending) => pending,
        };
        let reply = pending.and_then(Pending::wait);
        let leaves = match reply.and_then(|line| helper_client::cgroup_leaves(&line)) {
            Ok(leaves) => leaves,
            Err(error) if resources.is_none() && parent.is_none() => {
                without(format!("{error:#}"));
                return Ok(());
            }
            Err(error) => {
                return Err(Error::config(format!(
                    "resource limits need a delegated cgroup: {error:#} (an administrator grants one in /etc/burrow/cgroup)"
                )));
            }
        };
        let cgroup = placed.insert(Cgroup { leaves });
        if let Some(parent) = parent {
            cgroup.move_below(parent, &name, pid)?;
        }
        cgroup.finish(resources)
    }
}

/// Why the helper would refuse the caller a cgroup, when root's policy
/// (world-readable) says so for sure: there is none, or no rule names the
/// caller (as the helper matches them: login name or uid, and the real
/// and supplementary groups by name or gid). None: ask the helper, which
/// checks everything itself and explains any other refusal.
fn no_rule_for(caller: &Caller) -> Option<String> {
    let file = match std::fs::File::open(CGROUP_FILE) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Some(format!("there is no {CGROUP_FILE}")),
        result => result.ok()?,
    };
    let rules = subid::read_lines(io::BufReader::new(file), cgroup_policy::parse_line)
        .ok()?
        .ok()?;
    let user = caller.name.clone().unwrap_or_else(|| caller.uid.to_string());
    let groups = if rules.iter().any(|rule| rule.owner.starts_with('@')) {
        group_names(caller.gid)?
    } else {
        Vec::new()
    };
    if cgroup_policy::find(&rules, &user, caller.uid, &groups).is_some() {
        return None;
    }
    let shown = caller.name.clone().unwrap_or_else(|| format!("uid {}", caller.uid));
    Some(format!(
        "{shown} may not have cgroups delegated (no entry in {CGROUP_FILE})"
    ))
}

/// The caller's real and supplementary groups, each by gid and by name
/// where the group database has one; None if a lookup fails.
fn group_names(real_gid: u32) -> Option<Vec<String>> {
    let supplementary = nix::unistd::getgroups().ok()?;
    let mut names = Vec::new();
    for gid in std::iter::once(nix::unistd::Gid::from_raw(real_gid)).chain(supplementary) {
        names.extend(nix::unistd::Group::from_gid(gid).ok()?.map(|group| group.name));
        names.push(gid.as_raw().to_string());
    }
    Some(names)
}

/// Makes the leaf `delegated[/parent]/name` in a cgroup the caller owns and
/// moves the child `pid` into it. The child is burrow's own unreaped child,
/// so its pid cannot name another process. On cgroup v2, a new PARENT passes
/// on to its children the controllers `delegated` passes on to it.
fn enter_new_leaf(delegated: &Path, parent: Option<&str>, name: &str, pid: libc::pid_t) -> Result<PathBuf> {
    let leaf = make_leaf(delegated, parent, name)?;
    std::fs::write(leaf.join("cgroup.procs"), pid.to_string())
        .map_err(|e| Error::os(format!("moving the container into {}", leaf.display()), e))?;
    Ok(leaf)
}

/// Makes the empty leaf `delegated[/parent]/name` (see `enter_new_leaf`).
fn make_leaf(delegated: &Path, parent: Option<&str>, name: &str) -> Result<PathBuf> {
    let os = |what: &str, path: &Path| {
        let what = format!("{what} {}", path.display());
        move |e: io::Error| Error::os(what, e)
    };
    let mut dir = delegated.to_path_buf();
    if let Some(parent) = parent {
        dir.push(parent);
        match std::fs::create_dir(&dir) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            result => result.map_err(os("creating the cgroup", &dir))?,
        }
        if is_cgroup2(&dir) {
            let control = delegated.join("cgroup.subtree_control");
            let enabled = files::read_capped(&control, files::KERNEL_TABLE_MAX).map_err(os("reading", &control))?;
            let wanted: Vec<String> = enabled.split_whitespace().map(|c| format!("+{c}")).collect();
            if !wanted.is_empty() {
                let control = dir.join("cgroup.subtree_control");
                std::fs::write(&control, wanted.join(" ")).map_err(os("enabling controllers in", &control))?;
            }
        }
    }
    let leaf = dir.join(name);
    std::fs::create_dir(&leaf).map_err(os("creating the cgroup", &leaf))?;
    Ok(leaf)
}

/// The cgroup v2 subtree the caller already owns — systemd's user@UID.service
/// with Delegate=yes — on a host whose controllers are all on cgroup2: the
/// topmost ancestor of burrow's own cgroup whose directory and cgroup.procs
/// are the caller's. There burrow places its containers itself.
fn subtree_owned_by_caller() -> Option<PathBuf> {
    let own = files::read_capped(Path::new("/proc/self/cgroup"), files::KERNEL_TABLE_MAX).ok()?;
    // The cgroup2 root is never the caller's (`owned_ancestor`): then there is
    // no need for mountinfo, the costlier table (some 0.1 ms a start).
    if own.lines().any(|line| line == "0::/") {
        return None;
    }
    let mountinfo = files::read_capped(Path::new("/proc/self/mountinfo"), files::KERNEL_TABLE_MAX).ok()?;
    let mounts = cgroup_policy::cgroup_mounts(&mountinfo, false);
    // Controllers on cgroup v1 (a hybrid host) are the helper's to delegate.
    if mounts.iter().any(|m| !m.v2) {
        return None;
    }
    let v2 = mounts.iter().find(|m| m.root == "/" && !m.point.contains('\\'))?;
    let path = cgroup_policy::cgroup_path(&own, v2)?;
    owned_ancestor(Path::new(&v2.point), path, nix::unistd::getuid().as_raw())
}

/// The topmost directory on the way from `mount`/`path` up to (not including)
/// `mount` that, with its cgroup.procs, is owned by `uid`; `None` if burrow's
/// own cgroup is not.
fn owned_ancestor(mount: &Path, path: &str, uid: u32) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let owned = |dir: &Path| {
        [dir.to_path_buf(), dir.join("cgroup.procs")]
            .iter()
            .all(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.uid() == uid))
    };
    if path.split('/').any(|part| part == "..") {
        return None;
    }
    let mut dir = mount.join(path.trim_start_matches('/'));
    if dir == mount || !owned(&dir) {
        return None;
    }
    while let Some(parent) = dir.parent().filter(|p| *p != mount && p.starts_with(mount) && owned(p)) {
        dir = parent.to_path_buf();
    }
    Some(dir)
}

fn is_cgroup2(path: &Path) -> bool {
    nix::sys::statfs::statfs(path).is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

impl Cgroup {
    /// Once the child is in its leaves: sweep stale siblings, write limits.
    fn finish(&self, resources: Option<&LinuxResources>) -> Result<()> {
        for leaf in &self.leaves {
            sweep_stale_siblings(leaf);
        }
        match resources {
            Some(resources) => self.write_limits(resources),
            None => Ok(()),
        }
    }

    /// The v1 leaves, which the child joins itself (`join`).
    pub fn to_join(&self) -> Vec<PathBuf> {
        self.leaves.iter().filter(|leaf| !is_cgroup2(leaf)).cloned().collect()
    }

    /// `linux.cgroupsPath` PARENT: the child's leaves become D/PARENT/NAME, which the
    /// caller may make since it owns D: it is moved there from the helper's
    /// cgroup2 leaf D/NAME, and will join the v1 ones; the helper's leaves
    /// are removed.
    fn move_below(&mut self, parent: &str, name: &str, pid: libc::pid_t) -> Result<()> {
        for leaf in &mut self.leaves {
            let Some(delegated) = leaf.parent().map(Path::to_path_buf) else {
                continue;
            };
            let new_leaf = match is_cgroup2(leaf) {
                true => enter_new_leaf(&delegated, Some(parent), name, pid)?,
                false => make_leaf(&delegated, Some(parent), name)?,
            };
            std::fs::remove_dir(&*leaf).map_err(|e| Error::os(format!("removing {}", leaf.display()), e))?;
            *leaf = new_leaf;
        }
        Ok(())
    }

    /// Writes each limit into every leaf that has its file; a limit no
    /// hierarchy can hold is an error naming the missing controller.
    fn write_limits(&self, resources: &LinuxResources) -> Result<()> {
        // (field, controller, file) of each limit a leaf lacked; the fields
        // and controllers some leaf did have.
        let mut missing = Vec::new();
        let (mut written, mut controllers) = (Vec::new(), Vec::new());
        for leaf in &self.leaves {
            for limit in limit_files(resources, is_cgroup2(leaf)) {
                let path = leaf.join(limit.file);
                if !path.exists() {
                    missing.push((limit.field, limit.controller, limit.file));
                    continue;
                }
                std::fs::write(&path, &limit.value).map_err(|e| {
                    let what = format!("writing {} to {}", limit.value, path.display());
                    match e.raw_os_error() {
                        // cgroup v1 refuses a value above the delegated cgroup's own.
                        Some(libc::EINVAL) => Error::os_with_hint(
                            what,
                            e,
                            format!("is {} above the ceiling root set in /etc/burrow/cgroup?", limit.field),
                        ),
                        _ => Error::os(what, e),
                    }
                })?;
                written.push(limit.field);
                controllers.push(limit.controller);
            }
        }
        match missing.into_iter().find(|(field, ..)| !written.contains(field)) {
            None => Ok(()),
            Some((field, controller, file)) if controllers.contains(&controller) => Err(Error::config(format!(
                "{field} cannot be applied: the cgroup delegated to you has no {file} \
                 (memory plus swap needs the kernel's swap accounting)"
            ))),
            Some((_, controller, _)) => Err(Error::config(format!(
                "the {controller} controller is not available in the cgroup delegated to you \
                 (an administrator enables it for /etc/burrow/cgroup's WHERE)"
            ))),
        }
    }

    /// Removes the leaves once the container is gone. Its pid namespace died
    /// with its pid 1, so normally they are empty; anything still inside is
    /// killed first.
    pub fn remove(self) {
        for leaf in &self.leaves {
            if let Err(e) = remove_leaf(leaf) {
                log::warn!("could not remove the container's cgroup {}: {e}", leaf.display());
            }
        }
    }
}

/// The spec's fields a limit comes from, as config.json names them.
const MEMORY: &str = "linux.resources.memory.limit";
const SWAP: &str = "linux.resources.memory.swap";
const PIDS: &str = "linux.resources.pids.limit";
const CPU_QUOTA: &str = "linux.resources.cpu.quota";
/// The CPU weight: cpu.shares on cgroup v1, unified cpu.weight on v2 (the
/// spec has both, spec/validate.rs); one setting, so one name: a leaf of
/// either version holding it is enough.
const WEIGHT: &str = "linux.resources.cpu.shares";

/// One limit as a cgroup file: the spec's field that asked for it, the
/// controller it needs, the file, the value.
#[derive(Debug, PartialEq, Eq)]
struct LimitFile {
    field: &'static str,
    controller: &'static str,
    file: &'static str,
    value: String,
}

fn limit(field: &'static str, file: &'static str, value: impl ToString) -> LimitFile {
    let controller = file.split('.').next().unwrap_or(file);
    LimitFile {
        field,
        controller,
        file,
        value: value.to_string(),
    }
}

/// The files holding `resources` in a cgroup of that version, in the order
/// they must be written (v1: the memory limit before memory+swap, the CFS
/// period before the quota).
fn limit_files(resources: &LinuxResources, v2: bool) -> Vec<LimitFile> {
    let mut files = Vec::new();
    if let Some(memory) = resources.memory() {
        if let Some(bytes) = memory.limit() {
            files.push(limit(
                MEMORY,
                if v2 { "memory.max" } else { "memory.limit_in_bytes" },
                bytes,
            ));
            match (memory.swap(), v2) {
                (Some(-1), true) => files.push(limit(SWAP, "memory.swap.max", "max")),
                (Some(-1), false) => files.push(limit(SWAP, "memory.memsw.limit_in_bytes", -1)),
                // v2 limits swap alone; the option (like v1) means memory plus swap.
                (Some(total), true) => files.push(limit(SWAP, "memory.swap.max", total - bytes)),
                (Some(total), false) => files.push(limit(SWAP, "memory.memsw.limit_in_bytes", total)),
                (None, _) => {}
            }
        }
    }
    if let Some(pids) = resources.pids() {
        files.push(limit(PIDS, "pids.max", pids.limit()));
    }
    if let Some(cpu) = resources.cpu() {
        if let (Some(quota), Some(period)) = (cpu.quota(), cpu.period()) {
            if v2 {
                files.push(limit(CPU_QUOTA, "cpu.max", format!("{quota} {period}")));
            } else {
                files.push(limit(CPU_QUOTA, "cpu.cfs_period_us", period));
                files.push(limit(CPU_QUOTA, "cpu.cfs_quota_us", quota));
            }
        }
        match (
            v2,
            resources.unified().as_ref().and_then(|u| u.get("cpu.weight")),
            cpu.shares(),
        ) {
            (true, Some(weight), _) => files.push(limit(WEIGHT, "cpu.weight", weight)),
            (false, _, Some(shares)) => files.push(limit(WEIGHT, "cpu.shares", shares)),
            _ => {}
        }
    }
    files
}

fn remove_leaf(leaf: &Path) -> io::Result<()> {
    match remove_tree(leaf) {
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
        // Another burrow of this user swept it first (sweep_stale_siblings).
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        result => return result,
    }
    kill_all(leaf)?;
    // The killed tasks leave the cgroup as they exit; give them a moment.
    let mut delay = std::time::Duration::from_millis(1);
    for _ in 0..10 {
        match remove_tree(leaf) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => std::thread::sleep(delay),
            result => return result,
        }
        delay *= 2;
    }
    remove_tree(leaf)
}

/// The leaf and the cgroups below it.
fn remove_tree(leaf: &Path) -> io::Result<()> {
    remove_children(leaf)?;
    std::fs::remove_dir(leaf)
}

/// Removes the cgroups a container made below its leaf (an init such as
/// systemd makes its own tree there), deepest first, without recursion:
/// the container chose their depth. Each must be empty by now (pid 1 has
/// ended, and with it the container's pid namespace); one that is not
/// makes the leaf's own removal fail and say so.
fn remove_children(leaf: &Path) -> io::Result<()> {
    let mut found = Vec::new();
    let mut pending = vec![leaf.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                pending.push(entry.path());
                found.push(entry.path());
            }
        }
    }
    for dir in found.iter().rev() {
        match std::fs::remove_dir(dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Kills every task in `leaf`: cgroup.kill on v2; on v1, each listed process
/// through a pidfd taken while it is still listed, so a reused pid is never hit.
fn kill_all(leaf: &Path) -> io::Result<()> {
    let kill_file = leaf.join("cgroup.kill");
    if kill_file.exists() {
        return std::fs::write(kill_file, "1");
    }
    let members = || -> io::Result<Vec<libc::pid_t>> {
        let procs = files::read_capped(&leaf.join("cgroup.procs"), files::KERNEL_TABLE_MAX)?;
        Ok(procs.lines().filter_map(|line| line.trim().parse().ok()).collect())
    };
    for pid in members()? {
        let Ok(pidfd) = spawn::open_pidfd(pid) else { continue };
        if members()?.contains(&pid) {
            spawn::send_signal(&pidfd, libc::SIGKILL)?;
        }
    }
    Ok(())
}

/// Removes empty leaves that an earlier burrow, killed before it could clean
/// up, left in the same delegated cgroup: those named after a container
/// process (`c<pid>-...`) that no longer exists. A leaf whose process is
/// alive may be another start's, just made and not yet filled; rmdir fails
/// anyway on a cgroup with tasks or children.
fn sweep_stale_siblings(leaf: &Path) {
    let (Some(delegated), Some(own)) = (leaf.parent(), leaf.file_name()) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(delegated) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(leaf_pid) else {
            continue;
        };
        let gone = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) == Err(nix::errno::Errno::ESRCH);
        if gone && name != own && entry.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

/// The container pid in a leaf name burrow made (`leaf_name`).
fn leaf_pid(name: &str) -> Option<libc::pid_t> {
    let (pid, random) = name.strip_prefix(LEAF_PREFIX)?.split_once('-')?;
    let valid = random.len() == 8 && random.bytes().all(|b| b.is_ascii_hexdigit());
    valid
        .then(|| burrow_shared::ids::parse_decimal_u32(pid)?.try_into().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder};
    use std::collections::HashMap;

    #[test]
    fn owned_ancestor_is_the_topmost_owned_one() {
        let dir = std::env::temp_dir().join(format!("burrow-owned-{}", std::process::id()));
        let leaf = dir.join("a/b/c");
        std::fs::create_dir_all(&leaf).unwrap();
        for d in ["a", "a/b", "a/b/c"] {
            std::fs::write(dir.join(d).join("cgroup.procs"), "").unwrap();
        }
        let me = nix::unistd::getuid().as_raw();
        assert_eq!(owned_ancestor(&dir, "/a/b/c", me), Some(dir.join("a")));
        assert_eq!(owned_ancestor(&dir, "/a/b/c", me + 1), None);
        assert_eq!(owned_ancestor(&dir, "/", me), None);
        assert_eq!(owned_ancestor(&dir, "/a/../a", me), None);
        std::fs::remove_file(dir.join("a/cgroup.procs")).unwrap();
        // a's cgroup.procs is not the caller's (here: missing): b is the top.
        assert_eq!(owned_ancestor(&dir, "/a/b/c", me), Some(dir.join("a/b")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn files(resources: &LinuxResources, v2: bool) -> Vec<(&'static str, String)> {
        limit_files(resources, v2)
            .into_iter()
            .map(|f| (f.file, f.value))
            .collect()
    }

    #[test]
    fn v1_and_v2_files() {
        let memory = LinuxMemoryBuilder::default()
            .limit(32 << 20)
            .swap(64 << 20)
            .build()
            .unwrap();
        let cpu = LinuxCpuBuilder::default()
            .quota(50000)
            .period(100000u64)
            .shares(2048u64)
            .build()
            .unwrap();
        let r = LinuxResourcesBuilder::default()
            .memory(memory)
            .pids(LinuxPidsBuilder::default().limit(20).build().unwrap())
            .cpu(cpu)
            .unified(HashMap::from([("cpu.weight".to_owned(), "200".to_owned())]))
            .build()
            .unwrap();
        assert_eq!(
            files(&r, true),
            [
                ("memory.max", "33554432".to_owned()),
                ("memory.swap.max", "33554432".to_owned()),
                ("pids.max", "20".to_owned()),
                ("cpu.max", "50000 100000".to_owned()),
                ("cpu.weight", "200".to_owned()),
            ]
        );
        assert_eq!(
            files(&r, false),
            [
                ("memory.limit_in_bytes", "33554432".to_owned()),
                ("memory.memsw.limit_in_bytes", "67108864".to_owned()),
                ("pids.max", "20".to_owned()),
                ("cpu.cfs_period_us", "100000".to_owned()),
                ("cpu.cfs_quota_us", "50000".to_owned()),
                ("cpu.shares", "2048".to_owned()),
            ]
        );
        let fields: Vec<&str> = limit_files(&r, true).iter().map(|f| f.field).collect();
        assert_eq!(fields, [MEMORY, SWAP, PIDS, CPU_QUOTA, WEIGHT]);
        let unlimited = LinuxMemoryBuilder::default().limit(1 << 20).swap(-1).build().unwrap();
        let unlimited_swap = LinuxResourcesBuilder::default().memory(unlimited).build().unwrap();
        assert_eq!(files(&unlimited_swap, true)[1], ("memory.swap.max", "max".to_owned()));
    }

    #[test]
    fn leaf_names_carry_their_pid() {
        let name = leaf_name(4242);
        assert_eq!(leaf_pid(&name), Some(4242));
        for other in [
            "c12",
            "c12-xyz",
            "c-0000abcd",
            "cx-0000abcd",
            "web",
            "c12-0000abcde",
            "c99999999999-0000abcd",
        ] {
            assert_eq!(leaf_pid(other), None, "{other}");
        }
    }
}
