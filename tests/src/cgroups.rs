//! The cgroup hierarchies as the test process finds them, and the helper's
//! cgroup policy the cgroup scenarios share. Runs as root in the test binary.
//!
//! - `Layout`: every cgroup hierarchy mounted here (from /proc/self/mountinfo),
//!   the test process's own cgroup in each (from /proc/self/cgroup), and which
//!   of them burrow-helper delegates in: each v1 one whose controllers are all
//!   among memory, pids, cpu, cpuacct, freezer, and the cgroup2 one unless
//!   memory, pids and cpu are all bound to v1 hierarchies (there the helper
//!   delegates in the cgroup2 one too for `cgroup-init`). Worked out
//!   here independently of the helper's own code, so that the scenarios can
//!   assert where it must (and must not) create cgroups. The CI machine is
//!   hybrid (v1 controllers, a cgroup2 tree with only hugetlb, where the
//!   helper delegates nothing); modern hosts are pure cgroup2:
//!   `Layout::describe` says which ran.
//! - `Policy`, one per test binary (`harness::main_with_cgroup_policy`): the
//!   cgroup file the helper was built to read (`CGROUP_FILE`, in root's
//!   /run/burrow-tests, which it claims like `netns::Policy`), granting the
//!   test user `nest` (below its own cgroup, which is the test process's: the
//!   scenarios create cgroups nowhere else) with the ceilings below. Every
//!   scenario holds the policy lock, shared, or exclusively when it changes the
//!   file or needs the delegated cgroups to itself (`Policy::exclusive`).
//!   Teardown removes, as root, every cgroup left below the test user's
//!   delegated cgroups `OWN/burrow-UID` and then those (reporting leftovers
//!   as problems), and the directory. A test binary with both policies
//!   (the attack scenarios) shares the directory the network policy made.

use crate::fixture::Fixture;
use crate::netns::{self, POLICY_DIR};
use crate::user::TestUser;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread;
use std::time::{Duration, Instant};

/// The helper's `BURROW_CGROUP_FILE` in the fixture's builds.
pub const CGROUP_FILE: &str = "/run/burrow-tests/cgroup";

/// The ceilings the policy puts on the test user's delegated cgroups.
pub const PIDS_CEILING: u64 = 1000;
pub const MEMORY_CEILING: u64 = 1 << 30;

/// The v2 controllers the helper enables below the delegated cgroup.
pub use burrow_shared::cgroup_policy::V2_CONTROLLERS as DELEGATED_V2;
/// The v1 controllers a hierarchy may have (all of them) to be delegated,
/// and the v1 mount options that are not controllers: the helper's lists.
use burrow_shared::cgroup_policy::{V1_CONTROLLERS as DELEGATED_V1, V1_OPTIONS};

/// A rmdir of a cgroup whose last tasks are still exiting fails with EBUSY
/// for a moment; this long is plenty.
const RMDIR_LIMIT: Duration = Duration::from_secs(10);

/// The cgroup file the fixture writes: someone else's rule first, then the
/// test user's (the scenarios rely on these ceilings).
pub fn policy_text(user: &TestUser) -> String {
    format!(
        "# Written by burrow's integration tests (tests/src/cgroups.rs); removed when they end.\n\
         root nest pids.max=1\n\
         {} nest pids.max={PIDS_CEILING} memory.max={}M   # the test user\n",
        user.name,
        MEMORY_CEILING >> 20
    )
}

/// One cgroup hierarchy.
#[derive(Clone, Debug)]
pub struct Hierarchy {
    /// The mount point, as mountinfo shows it.
    pub mount: PathBuf,
    pub v2: bool,
    /// v1: the mount's controllers, sorted (a named hierarchy has `name=X`).
    pub controllers: Vec<String>,
    /// The test process's own cgroup here, as /proc/self/cgroup shows it.
    pub own_path: String,
    /// ... and as a directory.
    pub own: PathBuf,
    /// burrow-helper delegates in this hierarchy.
    pub delegated: bool,
}

impl Hierarchy {
    /// The cgroup the helper delegates to `uid` here (`nest`): OWN/burrow-UID.
    pub fn delegated_dir(&self, uid: u32) -> PathBuf {
        self.own.join(format!("burrow-{uid}"))
    }

    /// As /proc/PID/cgroup shows the cgroup `dir` of this hierarchy.
    pub fn cgroup_path(&self, dir: &Path) -> Option<String> {
        let below = dir.strip_prefix(&self.own).ok()?;
        let own = self.own_path.trim_end_matches('/');
        Some(format!("{own}/{}", below.display()))
    }

    /// The line of this hierarchy in /proc/PID/cgroup text, if exactly one.
    pub fn path_in(&self, proc_cgroup: &str) -> Option<String> {
        let mut found = proc_cgroup.lines().filter_map(|line| {
            let mut fields = line.splitn(3, ':');
            let (id, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
            let mut listed: Vec<&str> = controllers.split(',').filter(|c| !c.is_empty()).collect();
            listed.sort_unstable();
            let mine = match self.v2 {
                true => id == "0" && listed.is_empty(),
                false => id != "0" && listed == self.controllers,
            };
            mine.then(|| path.to_owned())
        });
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    pub fn describe(&self) -> String {
        match self.v2 {
            true => format!("cgroup2 at {}", self.mount.display()),
            false => format!("v1 {} at {}", self.controllers.join(","), self.mount.display()),
        }
    }
}

/// The hierarchies mounted here (see the module doc).
#[derive(Clone, Debug)]
pub struct Layout {
    pub hierarchies: Vec<Hierarchy>,
}

impl Layout {
    pub fn read() -> io::Result<Layout> {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo")?;
        let own = fs::read_to_string("/proc/self/cgroup")?;
        Layout::parse(&mountinfo, &own).map_err(io::Error::other)
    }

    fn parse(mountinfo: &str, own: &str) -> Result<Layout, String> {
        let mut hierarchies: Vec<Hierarchy> = Vec::new();
        let mut devices: Vec<&str> = Vec::new();
        for line in mountinfo.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let Some(dash) = fields.iter().position(|&f| f == "-") else {
                continue;
            };
            let (Some(&fstype), Some(&options)) = (fields.get(dash + 1), fields.get(dash + 3)) else {
                continue;
            };
            if !matches!(fstype, "cgroup" | "cgroup2") || dash < 6 || devices.contains(&fields[2]) {
                continue;
            }
            devices.push(fields[2]);
            let v2 = fstype == "cgroup2";
            let mut controllers: Vec<String> = match v2 {
                true => Vec::new(),
                false => options
                    .split(',')
                    .filter(|o| !V1_OPTIONS.contains(o) && !o.starts_with("release_agent="))
                    .map(str::to_owned)
                    .collect(),
            };
            controllers.sort();
            let delegated =
                v2 || !controllers.is_empty() && controllers.iter().all(|c| DELEGATED_V1.contains(&c.as_str()));
            let mut hierarchy = Hierarchy {
                mount: PathBuf::from(fields[4]),
                v2,
                controllers,
                own_path: String::new(),
                own: PathBuf::new(),
                delegated,
            };
            let own_path = hierarchy
                .path_in(own)
                .ok_or_else(|| format!("/proc/self/cgroup has no single line for {}", hierarchy.describe()))?;
            let root = fields[3].trim_end_matches('/');
            let below = own_path
                .strip_prefix(root)
                .filter(|rest| rest.is_empty() || rest.starts_with('/'))
                .ok_or_else(|| {
                    format!(
                        "the test process's cgroup {own_path} is outside {}",
                        hierarchy.describe()
                    )
                })?;
            hierarchy.own = match below.trim_start_matches('/') {
                "" => hierarchy.mount.clone(),
                below => hierarchy.mount.join(below),
            };
            hierarchy.own_path = own_path;
            hierarchies.push(hierarchy);
        }
        // A cgroup2 tree that can hold none of these is not delegated.
        let bound_to_v1 = |c: &&str| hierarchies.iter().any(|h| h.controllers.iter().any(|b| b == c));
        if DELEGATED_V2.iter().all(bound_to_v1) {
            hierarchies
                .iter_mut()
                .filter(|h| h.v2)
                .for_each(|h| h.delegated = false);
        }
        Ok(Layout { hierarchies })
    }

    /// The hierarchies the helper delegates in, in mountinfo order.
    pub fn delegated(&self) -> impl Iterator<Item = &Hierarchy> {
        self.hierarchies.iter().filter(|h| h.delegated)
    }

    pub fn v2(&self) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| h.v2)
    }

    /// The hierarchy where a container's `controller` limit goes, if the
    /// delegated cgroup can have it: a v1 hierarchy with that controller, or
    /// cgroup2 when the test process's own cgroup passes it to its children
    /// (`nest` makes the delegated cgroup a child of that cgroup).
    pub fn controller(&self, controller: &str) -> Option<&Hierarchy> {
        self.delegated().find(|h| match h.v2 {
            false => h.controllers.iter().any(|c| c == controller),
            true => {
                DELEGATED_V2.contains(&controller)
                    && fs::read_to_string(h.own.join("cgroup.subtree_control"))
                        .is_ok_and(|enabled| enabled.split_whitespace().any(|c| c == controller))
            }
        })
    }

    /// What kind of host this is, for the test output.
    pub fn describe(&self) -> String {
        let v1 = self.hierarchies.iter().filter(|h| !h.v2 && h.delegated).count();
        let kind = match (self.v2().is_some(), v1 > 0) {
            (true, true) => "hybrid (cgroup v1 controllers and a cgroup2 tree)",
            (true, false) => "pure cgroup2",
            (false, true) => "cgroup v1 only",
            (false, false) => "no delegable cgroup hierarchy",
        };
        let list: Vec<String> = self.delegated().map(Hierarchy::describe).collect();
        format!("{kind}: {}", list.join("; "))
    }

    /// Every directory below `uid`'s delegated cgroups in every hierarchy
    /// (with its owner), to compare before and after a refusal.
    pub fn snapshot(&self, uid: u32) -> BTreeMap<PathBuf, (u32, u32)> {
        let mut found = BTreeMap::new();
        for hierarchy in &self.hierarchies {
            collect_dirs(&hierarchy.delegated_dir(uid), &mut found);
        }
        found
    }

    /// Removes `uid`'s delegated cgroups in every hierarchy and everything
    /// below them (deepest first, retrying while tasks exit). Returns the
    /// problems: a cgroup below one of them (left behind by a scenario), one
    /// in a hierarchy the helper must not touch, one that would not go.
    pub fn remove_delegated(&self, uid: u32) -> Vec<String> {
        let mut problems = Vec::new();
        for hierarchy in &self.hierarchies {
            let delegated = hierarchy.delegated_dir(uid);
            let mut dirs = BTreeMap::new();
            collect_dirs(&delegated, &mut dirs);
            if dirs.is_empty() {
                continue;
            }
            // A hybrid host's cgroup2 tree is delegated in for an init only
            // (`cgroup-init`): allowed there, never in another hierarchy.
            if !hierarchy.delegated && !hierarchy.v2 {
                problems.push(format!(
                    "{} exists, in a hierarchy the helper must never delegate in",
                    delegated.display()
                ));
            }
            // Reverse order: children before their parents.
            for dir in dirs.keys().rev() {
                if dir != &delegated {
                    let tasks = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                    problems.push(format!(
                        "left behind: the cgroup {} (tasks: {:?})",
                        dir.display(),
                        tasks.trim()
                    ));
                }
                if let Err(e) = rmdir_cgroup(dir) {
                    problems.push(format!("removing the cgroup {}: {e}", dir.display()));
                }
            }
        }
        problems
    }
}

/// `dir` and the directories below it (none if it does not exist).
fn collect_dirs(dir: &Path, found: &mut BTreeMap<PathBuf, (u32, u32)>) {
    let Ok(meta) = fs::symlink_metadata(dir) else { return };
    if !meta.is_dir() {
        return;
    }
    found.insert(dir.to_owned(), (meta.uid(), meta.gid()));
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_dirs(&entry.path(), found);
        }
    }
}

/// rmdir of one cgroup (as root), retried while its last tasks exit.
pub fn rmdir_cgroup(dir: &Path) -> io::Result<()> {
    let deadline = Instant::now() + RMDIR_LIMIT;
    loop {
        match fs::remove_dir(dir) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            result => return result,
        }
    }
}

/// Root's, not writable by group or others (what the helper demands of every
/// directory above its policy file).
fn check_root_only(path: &str) -> Result<(), String> {
    let meta = fs::metadata(path).map_err(|e| format!("{path}: {e}"))?;
    if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{path} must be root's and not writable by group or others for the helper to trust {CGROUP_FILE}"
        ));
    }
    Ok(())
}

/// The cgroup policy of one test binary (see the module doc).
pub struct Policy {
    pub layout: Layout,
    /// The cgroup file as setup wrote it, and as it is restored.
    pub text: String,
    uid: u32,
    lock: RwLock<()>,
}

/// A scenario's share of the policy: the file stays as setup wrote it.
pub struct Shared<'p>(#[allow(dead_code)] RwLockReadGuard<'p, ()>);

/// The policy to one scenario alone; dropping it restores the file.
pub struct Exclusive<'p> {
    policy: &'p Policy,
    _guard: RwLockWriteGuard<'p, ()>,
}

impl Policy {
    /// Reads the layout, makes sure `user` has no delegated cgroup yet (one
    /// left by an earlier run is not ours to remove), and creates POLICY_DIR
    /// with the cgroup file. A directory left by a test run that no longer
    /// runs is replaced; one of a running test binary is an error.
    pub fn setup(user: &TestUser) -> Result<Policy, String> {
        let layout = Layout::read().map_err(|e| format!("reading the cgroup layout: {e}"))?;
        if let Some(stale) = layout.snapshot(user.uid).keys().next() {
            return Err(format!(
                "{} exists already (left by an earlier run for uid {}?): remove it with rmdir first",
                stale.display(),
                user.uid
            ));
        }
        check_root_only("/")?;
        check_root_only("/run")?;
        // This test binary's own network policy (set up first) already made it.
        let ours = netns::live_owner() == Some(std::process::id());
        if Path::new(POLICY_DIR).exists() && !ours {
            if let Some(pid) = netns::live_owner() {
                return Err(format!(
                    "{POLICY_DIR} belongs to the test process {pid}: run one network or cgroup test binary at a time"
                ));
            }
            fs::remove_dir_all(POLICY_DIR).map_err(|e| format!("removing the stale {POLICY_DIR}: {e}"))?;
        }
        let policy = Policy {
            layout,
            text: policy_text(user),
            uid: user.uid,
            lock: RwLock::new(()),
        };
        let made = (|| {
            if !ours {
                fs::create_dir(POLICY_DIR)?;
                fs::set_permissions(POLICY_DIR, fs::Permissions::from_mode(0o755))?;
                fs::write(netns::OWNER_FILE, format!("{}\n", std::process::id()))?;
            }
            policy.restore()
        })();
        match made {
            Ok(()) => Ok(policy),
            Err(e) => {
                if !ours {
                    let _ = fs::remove_dir_all(POLICY_DIR);
                }
                Err(format!("creating {POLICY_DIR}: {e}"))
            }
        }
    }

    /// Writes the cgroup file and the modes and owners of it and of
    /// POLICY_DIR as setup made them.
    fn restore(&self) -> io::Result<()> {
        std::os::unix::fs::chown(POLICY_DIR, Some(0), Some(0))?;
        fs::set_permissions(POLICY_DIR, fs::Permissions::from_mode(0o755))?;
        write_root_file(CGROUP_FILE, &self.text)
    }

    pub fn shared(&self) -> Shared<'_> {
        Shared(self.lock.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn exclusive(&self) -> Exclusive<'_> {
        Exclusive {
            policy: self,
            _guard: self.lock.write().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Removes the test user's cgroups (see `Layout::remove_delegated`) and
    /// POLICY_DIR; returns the problems. Call once the user's processes are
    /// gone.
    pub fn teardown(&self) -> Vec<String> {
        let mut problems = self.layout.remove_delegated(self.uid);
        // Gone already when the network policy shared it (its teardown runs first).
        match fs::remove_dir_all(POLICY_DIR) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => problems.push(format!("removing {POLICY_DIR}: {e}")),
            _ => {}
        }
        problems
    }
}

/// Replaces whatever is at `path` with a root-owned 0644 file holding `text`.
fn write_root_file(path: &str, text: &str) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    fs::write(path, text)?;
    std::os::unix::fs::chown(path, Some(0), Some(0))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644))
}

impl Exclusive<'_> {
    /// Replaces the cgroup file with `text` (root's, 0644).
    pub fn write(&self, text: &str) -> io::Result<()> {
        write_root_file(CGROUP_FILE, text)
    }

    /// Puts the file and POLICY_DIR back as setup made them.
    pub fn restore(&self) -> io::Result<()> {
        self.policy.restore()
    }
}

impl Drop for Exclusive<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.policy.restore() {
            eprintln!("burrow-tests: restoring the cgroup policy: {e}");
        }
    }
}

/// `sh -c` running the shell commands `as_root`, then exec'ing `command` as
/// `user`, in a private mount namespace where every cgroup v1 hierarchy is
/// unmounted: the view of a pure cgroup2 host.
pub fn cgroup2_only_view(f: &Fixture, user: &TestUser, as_root: &str, command: &str) -> Command {
    let script = format!(
        "set -e; \
         awk '{{ for (i = 7; i <= NF; i++) if ($i == \"-\") {{ if ($(i+1) == \"cgroup\") print $5; break }} }}' \
           /proc/self/mountinfo | while read -r m; do umount -l \"$m\"; done; \
         {as_root} exec setpriv --reuid={} --regid={} --clear-groups {command}",
        user.uid, user.gid
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c", &script]);
    cmd.current_dir(&f.dir);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:3 - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 31 0:39 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpuacct,cpu
43 1 0:32 /jobs /mnt/memory rw - cgroup cgroup rw,memory
";
    const OWN: &str = "9:name=systemd:/\n4:memory:/jobs/7\n3:cpuset:/\n2:cpuacct,cpu:/\n1:cpu:/\n0::/\n";

    #[test]
    fn hybrid_layout() {
        let layout = Layout::parse(MOUNTINFO, OWN).unwrap();
        let summary: Vec<(String, bool, String, &str)> = layout
            .hierarchies
            .iter()
            .map(|h| {
                (
                    h.describe(),
                    h.delegated,
                    h.own.display().to_string(),
                    h.own_path.as_str(),
                )
            })
            .collect();
        let row = |d: &str, delegated, own: &str, path| (d.to_owned(), delegated, own.to_owned(), path);
        assert_eq!(
            summary,
            [
                row("v1 cpu at /sys/fs/cgroup/cpu", true, "/sys/fs/cgroup/cpu", "/"),
                row(
                    "v1 cpuset at /sys/fs/cgroup/cpuset",
                    false,
                    "/sys/fs/cgroup/cpuset",
                    "/"
                ),
                row(
                    "v1 memory at /sys/fs/cgroup/memory",
                    true,
                    "/sys/fs/cgroup/memory/jobs/7",
                    "/jobs/7"
                ),
                row(
                    "v1 name=systemd at /sys/fs/cgroup/systemd",
                    false,
                    "/sys/fs/cgroup/systemd",
                    "/"
                ),
                row("cgroup2 at /sys/fs/cgroup/unified", true, "/sys/fs/cgroup/unified", "/"),
                row(
                    "v1 cpu,cpuacct at /sys/fs/cgroup/cpu,cpuacct",
                    true,
                    "/sys/fs/cgroup/cpu,cpuacct",
                    "/"
                ),
            ]
        );
        let memory = &layout.hierarchies[2];
        assert_eq!(
            memory.delegated_dir(5),
            PathBuf::from("/sys/fs/cgroup/memory/jobs/7/burrow-5")
        );
        assert_eq!(
            memory.cgroup_path(Path::new("/sys/fs/cgroup/memory/jobs/7/burrow-5/c1-2")),
            Some("/jobs/7/burrow-5/c1-2".to_owned())
        );
        let root = &layout.hierarchies[0];
        assert_eq!(
            root.cgroup_path(Path::new("/sys/fs/cgroup/cpu/burrow-5")),
            Some("/burrow-5".to_owned())
        );
        // A forged second line for a hierarchy is no line at all.
        assert_eq!(memory.path_in("4:memory:/a\n4:memory:/b\n"), None);
        // With pids on v1 too (as on CI's host), cgroup2 is not delegated.
        let pids = "45 31 0:40 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n";
        let layout = Layout::parse(&format!("{MOUNTINFO}{pids}"), &format!("{OWN}8:pids:/\n")).unwrap();
        let delegated: Vec<String> = layout.delegated().map(Hierarchy::describe).collect();
        assert_eq!(
            delegated,
            [
                "v1 cpu at /sys/fs/cgroup/cpu",
                "v1 memory at /sys/fs/cgroup/memory",
                "v1 cpu,cpuacct at /sys/fs/cgroup/cpu,cpuacct",
                "v1 pids at /sys/fs/cgroup/pids"
            ]
        );
    }

    #[test]
    fn pure_v2_layout() {
        let mountinfo = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let layout = Layout::parse(mountinfo, "0::/user.slice/session-1.scope\n").unwrap();
        assert_eq!(layout.hierarchies.len(), 1);
        assert_eq!(
            layout.hierarchies[0].own,
            PathBuf::from("/sys/fs/cgroup/user.slice/session-1.scope")
        );
        assert!(layout.describe().starts_with("pure cgroup2: "));
        assert_eq!(
            Layout::parse(mountinfo, "1:cpu:/\n").unwrap_err(),
            "/proc/self/cgroup has no single line for cgroup2 at /sys/fs/cgroup"
        );
    }
}
