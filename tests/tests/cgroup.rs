//! Cgroups: burrow-helper's cgroup operation called directly, and `burrow run
//! --memory/--memory-swap/--pids-limit/--cpus/--cpu-weight`, all as the
//! unprivileged test user. The helper reads the fixture's cgroup file
//! (`cgroups::policy_text`: `nest` for the test user, with ceilings), so
//! every cgroup it makes is below the test process's own cgroups: D =
//! OWN/burrow-UID in each delegated hierarchy, and leaves L below D. The
//! scenarios never move or change a cgroup or process they did not create;
//! what they make they remove, and the fixture's teardown removes every D as
//! root and reports any leaf left behind.
//!
//! The CI machine is cgroup-hybrid (v1 memory, pids, cpu... and a cgroup2
//! tree with only hugetlb); on a pure cgroup2 host `nest` gives D no
//! controllers (the test process's own cgroup holds processes), so limits
//! are refused there. Where a check depends on the layout, the scenario
//! asserts what that layout must do and says on stderr which one ran.
//!
//! Targets of direct helper calls are processes the scenarios start (the
//! probe's `hold`, usually under `unshare --user`); the helper gets an fd on
//! /proc/PID as fd 3. Leaves of direct calls are named `t...` (the runner's
//! sweep only removes `c*-*`). Each refusal is asserted by its exit code and
//! exact stderr line, and by nothing having been created or moved. Each
//! negative scenario's comment names the check it guards.

use burrow_shared::exit;
use burrow_tests::cgroups::{
    self, CGROUP_FILE, DELEGATED_V2, Hierarchy, Layout, MEMORY_CEILING, PIDS_CEILING, cgroup2_only_view,
};
use burrow_tests::ensure_ran;
use burrow_tests::fixture::{Fixture, kill_processes_of};
use burrow_tests::harness::{self, Scenario, Suite};
use burrow_tests::netns::POLICY_DIR;
use burrow_tests::process::run_to_end as run;
use burrow_tests::process::{self, Output, Spawned};
use burrow_tests::target::Target;
use burrow_tests::user::TestUser;
use burrow_tests::{Failed, ensure, ensure_eq};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const SCENARIOS: &[(&str, Scenario)] = burrow_tests::scenarios![
    cgroup_refuses_without_policy_entry,
    cgroup_rule_by_group_or_uid_without_limits,
    cgroup_refuses_other_users_target,
    cgroup_refuses_exited_target,
    cgroup_refuses_non_procfs_fd,
    cgroup_refuses_target_in_another_cgroup,
    cgroup_refuses_bad_name,
    cgroup_refuses_writable_policy,
    cgroup_refuses_malformed_policy,
    cgroup_rolls_back_on_existing_leaf,
    cgroup_delegates_v1_and_v2,
    cgroup_delegates_in_cgroup2_alone,
    cgroup_init_adds_the_cgroup2_leaf,
    cgroup_init_refusals,
    cgroup_never_touches_release_agent,
    cgroup_user_cannot_raise_ceiling,
    cgroup_user_cannot_move_container_out,
    cgroup_ceiling_binds_the_container,
    cgroup_pids_limit,
    cgroup_memory_limit_oom,
    cgroup_limits_written_exactly,
    cgroup_namespace_shows_root,
    cgroup_leaf_removed_after_exit,
    cgroup_leaf_swept_after_runner_killed,
    cgroup_parent_groups_containers,
    cgroup_uses_subtree_the_caller_owns,
    cgroup_failed_start_leaves_no_cgroup,
    cgroup_concurrent_starts,
    systemd_boots_halts_and_reboots,
    systemd_boots_on_a_pure_cgroup2_host,
];

fn main() -> ExitCode {
    harness::main_with_cgroup_policy(Suite {
        packages: &["burrow", "burrow-helper"],
        network: false,
        scenarios: SCENARIOS,
    })
}

// ---------------------------------------------------------------------------
// The layout and the policy

fn policy(f: &Fixture) -> &cgroups::Policy {
    f.cgroup.as_ref().expect("the suite runs with main_with_cgroup_policy")
}

fn layout(f: &Fixture) -> &Layout {
    &policy(f).layout
}

/// Says on stderr what a scenario checked on this host's layout.
fn note(scenario: &str, what: impl std::fmt::Display) {
    eprintln!("burrow-tests: {scenario}: {what}");
}

/// A leaf name no other scenario uses (`t` + what + a number: never swept).
fn leaf_name(what: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("t{what}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The leaves the helper must report for `name`, in mountinfo order.
fn expected_leaves(f: &Fixture, uid: u32, name: &str) -> Vec<PathBuf> {
    layout(f).delegated().map(|h| h.delegated_dir(uid).join(name)).collect()
}

fn ok_line(leaves: &[PathBuf]) -> String {
    let shown: Vec<String> = leaves.iter().map(|l| l.display().to_string()).collect();
    format!("ok cgroup {}\n", shown.join(" "))
}

/// Fails if `name` is a cgroup below `uid`'s delegated cgroup anywhere
/// (checked for a name that is one plain path component; of any other, the
/// helper could not make a leaf of that name).
fn ensure_no_leaf(f: &Fixture, uid: u32, name: &str) -> Result<(), Failed> {
    let mut components = Path::new(name).components();
    let plain = matches!(components.next(), Some(std::path::Component::Normal(_))) && components.next().is_none();
    if !plain || name.contains('/') {
        return Ok(());
    }
    for h in &layout(f).hierarchies {
        let leaf = h.delegated_dir(uid).join(name);
        ensure!(!leaf.is_dir(), "{} was created", leaf.display());
    }
    Ok(())
}

/// The runner's refusal when a limit's controller is not delegated.
fn missing_controller(controller: &str) -> String {
    format!(
        "burrow: the {controller} controller is not available in the cgroup delegated to you \
         (an administrator enables it for /etc/burrow/cgroup's WHERE)\n"
    )
}

/// The runner's refusal of limits the helper would not delegate for.
fn limits_refused(helper_line: &str) -> String {
    format!(
        "burrow: resource limits need a delegated cgroup: helper cgroup failed: {helper_line} \
         (an administrator grants one in /etc/burrow/cgroup)\n"
    )
}

fn read(path: &Path) -> Result<String, Failed> {
    fs::read_to_string(path).map_err(|e| Failed::from(format!("reading {}: {e}", path.display())))
}

// ---------------------------------------------------------------------------
// Processes

/// Exit `code`, exactly `line` on stderr, nothing on stdout.
fn ensure_refused(out: &Output, code: i32, line: &str) -> Result<(), Failed> {
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (code, "", format!("{line}\n").as_str()),
        "exit code, stdout and stderr"
    );
    Ok(())
}

/// `burrow-helper cgroup --proc-fd 3 --name NAME` as `user`, with `fd` as fd 3.
fn helper_as(f: &Fixture, user: &TestUser, fd: Option<&File>, name: &str) -> Output {
    helper_op_as(f, user, "cgroup", fd, name)
}

/// `helper_as` with the operation `op` (cgroup or cgroup-init).
fn helper_op_as(f: &Fixture, user: &TestUser, op: &str, fd: Option<&File>, name: &str) -> Output {
    let mut cmd = f.as_other(user, &f.helper);
    cmd.args([op, "--proc-fd", "3", "--name", name]);
    if let Some(fd) = fd {
        process::pass_fd(&mut cmd, fd.as_raw_fd(), 3);
    }
    run(cmd)
}

fn helper(f: &Fixture, target: &Target, name: &str) -> Output {
    helper_as(f, &f.user, Some(&target.proc_dir), name)
}

/// A request the helper carried out: a target of the test user, moved into
/// `leaves`. Dropping it ends the target and removes the leaves (as root),
/// so that a failing scenario leaves nothing behind either.
struct Delegation {
    target: Option<Target>,
    leaves: Vec<PathBuf>,
}

impl Delegation {
    /// Asks for the leaf `name` for a fresh target; expects exactly the
    /// helper's success line naming the leaves.
    fn request(f: &Fixture, name: &str) -> Result<Delegation, Failed> {
        let target = Target::user_ns(f, &f.user)?;
        let out = helper(f, &target, name);
        let delegation = Delegation {
            target: Some(target),
            leaves: expected_leaves(f, f.user.uid, name),
        };
        ensure_eq!(
            (out.code(), out.stdout.as_str(), out.stderr.as_str()),
            (exit::OK, ok_line(&delegation.leaves).as_str(), ""),
            "the helper's output for --name {name}"
        );
        Ok(delegation)
    }

    fn target(&self) -> &Target {
        self.target.as_ref().expect("the target runs")
    }

    /// Ends the target, leaving the leaves empty.
    fn end_target(&mut self) -> Result<(), Failed> {
        self.target.take().map_or(Ok(()), Target::end)
    }
}

impl Drop for Delegation {
    fn drop(&mut self) {
        if let Some(target) = self.target.take() {
            let _ = target.process.kill_and_reap();
        }
        for leaf in &self.leaves {
            if let Err(e) = cgroups::rmdir_cgroup(leaf) {
                eprintln!("burrow-tests: removing the cgroup {}: {e}", leaf.display());
            }
        }
    }
}

/// Calls the helper on a fresh target of the test user; expects a refusal,
/// the target where it was, and no leaf `name` anywhere.
fn ensure_helper_refuses(f: &Fixture, name: &str, code: i32, line: &str) -> Result<(), Failed> {
    let target = Target::user_ns(f, &f.user)?;
    let before = target.read("cgroup")?;
    let out = helper(f, &target, name);
    ensure_refused(&out, code, line).map_err(|e| format!("helper --name {name:?}: {}", e.message().unwrap_or("")))?;
    ensure_eq!(target.read("cgroup")?, before, "the target's cgroups after the refusal");
    ensure_no_leaf(f, f.user.uid, name)?;
    target.end()
}

/// `burrow run --rootfs T/rootfs ARGS...` as `user`.
fn burrow_as(f: &Fixture, user: &TestUser, args: &[&str]) -> Command {
    let mut cmd = f.as_other(user, &f.burrow);
    cmd.arg("run").arg("--rootfs").arg(&f.rootfs).args(args);
    cmd
}

/// `burrow run --rootfs ROOT ARGS...` as `user`, ROOT a copy of the rootfs
/// of `user`'s own (the test user's would draw the warning of a rootfs the
/// container does not map).
fn burrow_as_in_own_rootfs(f: &Fixture, user: &TestUser, args: &[&str]) -> Command {
    let root = f.fresh_rootfs();
    burrow_tests::rootfs::chown_tree(&root, user.uid, user.gid).expect("chown the rootfs");
    let mut cmd = f.as_other(user, &f.burrow);
    cmd.arg("run").arg("--rootfs").arg(&root).args(args);
    cmd
}

/// `burrow run --rootfs T/rootfs ARGS...` as the test user, to completion.
fn burrow(f: &Fixture, args: &[&str]) -> Output {
    run(burrow_as(f, &f.user, args))
}

/// A pidfd on a process we did not start (a container's), opened while it
/// is listed in a cgroup we watch; tells whether it has exited.
struct Pidfd {
    pid: u32,
    fd: OwnedFd,
}

impl Pidfd {
    fn open(pid: u32) -> Option<Pidfd> {
        // SAFETY: pidfd_open with no flags; the fd is owned below.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        (raw >= 0).then(|| Pidfd {
            pid,
            // SAFETY: a fresh fd from pidfd_open.
            fd: unsafe { OwnedFd::from_raw_fd(raw as RawFd) },
        })
    }

    /// A pidfd polls readable once its process has exited.
    fn exited(&self) -> bool {
        let mut poll = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one live pollfd, without waiting.
        unsafe { libc::poll(&mut poll, 1, 0) == 1 }
    }
}

/// Pidfds on the processes listed in the cgroup.procs of each of `leaves`.
fn tasks_of(leaves: &[PathBuf]) -> Result<Vec<Pidfd>, Failed> {
    let mut pids = BTreeSet::new();
    for leaf in leaves {
        for line in read(&leaf.join("cgroup.procs"))?.lines() {
            pids.insert(line.trim().parse::<u32>().map_err(|e| format!("{line:?}: {e}"))?);
        }
    }
    Ok(pids.into_iter().filter_map(Pidfd::open).collect())
}

/// Waits (a few seconds at most) until every process in `tasks` has exited.
fn ensure_all_exited(tasks: &[Pidfd], what: &str) -> Result<(), Failed> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while tasks.iter().any(|t| !t.exited()) {
        if Instant::now() > deadline {
            let alive: Vec<u32> = tasks.iter().filter(|t| !t.exited()).map(|t| t.pid).collect();
            return Err(format!("{what}: the container's processes {alive:?} are still running").into());
        }
        thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// The one child of `parent` (the container's init, once burrow has
/// started it and the helper has exited).
fn only_child(parent: u32) -> Result<u32, Failed> {
    let children: Vec<u32> = process::all_pids()
        .into_iter()
        .filter(|&pid| process::proc_stat(pid).is_ok_and(|s| s.ppid == parent))
        .collect();
    match children.as_slice() {
        [child] => Ok(*child),
        _ => Err(format!("burrow {parent} has the children {children:?}, expected one").into()),
    }
}

/// A container started by burrow, stopped at its "ready" line.
struct Running {
    burrow: Spawned,
    /// The container's init, as the host sees it.
    pid: u32,
    /// What it printed before "ready".
    lines: Vec<String>,
    /// Its leaf in each delegated hierarchy (`c<pid>-<8 hex digits>`).
    leaves: Vec<PathBuf>,
}

impl Running {
    /// `burrow run --rootfs T/rootfs ARGS...` as the test user, whose
    /// container prints `ready` once set up and waits for EOF on stdin.
    fn start(f: &Fixture, args: &[&str]) -> Result<Running, Failed> {
        let mut cmd = burrow_as(f, &f.user, args);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut burrow = process::spawn(&mut cmd).map_err(|e| format!("starting burrow: {e}"))?;
        let mut lines = Vec::new();
        loop {
            let line = burrow
                .read_line()
                .map_err(|e| format!("reading burrow's stdout: {e}"))?;
            match line.as_str() {
                "ready\n" => break,
                "" => {
                    let out = burrow.output(None).map_err(|e| format!("waiting for burrow: {e}"))?;
                    return Err(format!("burrow {args:?} ended before its container was ready: {out}").into());
                }
                _ => lines.push(line.trim_end_matches('\n').to_owned()),
            }
        }
        let pid = only_child(burrow.pid)?;
        let parent = args
            .iter()
            .position(|&a| a == "--cgroup-parent")
            .and_then(|i| args.get(i + 1).copied());
        let leaves = container_leaves(f, pid, parent)?;
        Ok(Running {
            burrow,
            pid,
            lines,
            leaves,
        })
    }

    /// The leaf in `hierarchy`.
    fn leaf(&self, f: &Fixture, hierarchy: &Hierarchy) -> PathBuf {
        let index = layout(f)
            .delegated()
            .position(|h| h.mount == hierarchy.mount)
            .expect("a delegated hierarchy");
        self.leaves[index].clone()
    }

    /// Ends the container (EOF on its stdin); returns burrow's output, after
    /// checking that every leaf is gone.
    fn finish(self) -> Result<Output, Failed> {
        let out = self
            .burrow
            .output(None)
            .map_err(|e| format!("waiting for burrow: {e}"))?;
        for leaf in &self.leaves {
            ensure!(
                !leaf.exists(),
                "the container's cgroup {} is still there after burrow exited ({out})",
                leaf.display()
            );
        }
        Ok(out)
    }
}

/// The container `pid`'s cgroup in each delegated hierarchy, which must be a
/// fresh leaf `c<pid>-<8 hex>` of the test user's delegated cgroup there
/// (of its `parent` below that, with --cgroup-parent).
fn container_leaves(f: &Fixture, pid: u32, parent: Option<&str>) -> Result<Vec<PathBuf>, Failed> {
    let text = read(Path::new(&format!("/proc/{pid}/cgroup")))?;
    let uid = f.user.uid;
    let mut leaves = Vec::new();
    let mut names = BTreeSet::new();
    for h in layout(f).delegated() {
        let path = h
            .path_in(&text)
            .ok_or_else(|| format!("/proc/{pid}/cgroup has no line for {}: {text:?}", h.describe()))?;
        let name = path.rsplit('/').next().unwrap_or_default().to_owned();
        let above = match parent {
            Some(parent) => h.delegated_dir(uid).join(parent),
            None => h.delegated_dir(uid),
        };
        let leaf = above.join(&name);
        let digits = name.strip_prefix(&format!("c{pid}-")).unwrap_or_default();
        ensure!(
            h.cgroup_path(&leaf).as_deref() == Some(path.as_str())
                && digits.len() == 8
                && digits.bytes().all(|b| b.is_ascii_hexdigit()),
            "the container {pid} is in {path} in {}, not in a leaf c{pid}-XXXXXXXX of {}",
            h.describe(),
            above.display()
        );
        names.insert(name);
        leaves.push(leaf);
    }
    ensure!(names.len() <= 1, "the container's leaves differ in name: {names:?}");
    Ok(leaves)
}

/// A test user without a cgroup rule, for the duration of `scenario`; then
/// its processes are killed, any cgroup delegated to it is a failure (and
/// removed), and it is deleted.
fn with_other_user(f: &Fixture, scenario: impl FnOnce(&TestUser) -> Result<(), Failed>) -> Result<(), Failed> {
    let name = format!("burrowc{}", std::process::id());
    let user = TestUser::create(&name, &f.scratch("home"), true).map_err(|e| format!("creating {name}: {e}"))?;
    let result = scenario(&user);
    let leftovers = kill_processes_of(user.uid);
    let created: Vec<String> = layout(f)
        .hierarchies
        .iter()
        .map(|h| h.delegated_dir(user.uid))
        .filter(|d| d.exists())
        .map(|d| d.display().to_string())
        .collect();
    let delegated = layout(f).remove_delegated(user.uid);
    let deleted = user.delete();
    result?;
    ensure!(leftovers.is_empty(), "processes of {name} left running: {leftovers:?}");
    ensure!(
        delegated.is_empty() && created.is_empty(),
        "cgroups were delegated to {name}, who has no rule: {delegated:?} {created:?}"
    );
    deleted.map_err(|e| Failed::from(e.to_string()))
}

/// A cgroup a scenario creates itself (as root, below the test process's
/// own cgroup); removed when dropped, once its processes are gone.
struct OwnCgroup(PathBuf);

impl OwnCgroup {
    fn create(path: PathBuf) -> Result<OwnCgroup, Failed> {
        fs::create_dir(&path).map_err(|e| format!("creating the cgroup {}: {e}", path.display()))?;
        Ok(OwnCgroup(path))
    }
}

impl Drop for OwnCgroup {
    fn drop(&mut self) {
        if let Err(e) = cgroups::rmdir_cgroup(&self.0) {
            eprintln!("burrow-tests: removing the cgroup {}: {e}", self.0.display());
        }
    }
}

/// `probe write PATH VALUE` as the test user on the host.
fn write_as_user(f: &Fixture, path: &Path, value: &str) -> Output {
    let mut cmd = f.as_user(&f.probe);
    cmd.arg("write").arg(path).arg(value);
    run(cmd)
}

/// The user's write to `path` fails with EACCES.
fn ensure_user_cannot_write(f: &Fixture, path: &Path, value: &str) -> Result<(), Failed> {
    let out = write_as_user(f, path, value);
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (
            1,
            "",
            format!("probe: write {}: Permission denied (os error 13)\n", path.display()).as_str()
        ),
        "the test user writing {value:?} to {}",
        path.display()
    );
    Ok(())
}

/// Whether the host has swap: a memory limit alone then swaps instead of
/// killing, unless memory plus swap is limited too.
fn has_swap() -> bool {
    fs::read_to_string("/proc/swaps").is_ok_and(|text| text.lines().count() > 1)
}

// ---------------------------------------------------------------------------
// Refusals

/// Guards deny-first (cgroup invariant 5): a user without a rule in the
/// cgroup file is refused before anything is created, asking the helper
/// itself or through burrow with a limit; without limits, burrow runs the
/// container without a cgroup of its own and says so at --log-level info.
fn cgroup_refuses_without_policy_entry(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    with_other_user(f, |user| {
        let refusal = format!(
            "cgroup: {} may not have cgroups delegated (no entry in {CGROUP_FILE})",
            user.name
        );
        let target = Target::user_ns(f, user)?;
        let before = target.read("cgroup")?;
        let name = leaf_name("nopolicy");
        let out = helper_as(f, user, Some(&target.proc_dir), &name);
        ensure_refused(&out, exit::REFUSED, &format!("burrow-helper: {refusal}"))?;
        ensure_eq!(target.read("cgroup")?, before, "the target's cgroups");
        target.end()?;

        let out = run(burrow_as_in_own_rootfs(f, user, &["--pids-limit", "20", "--", "true"]));
        ensure_eq!(
            (out.code(), out.stdout.as_str(), out.stderr.as_str()),
            (125, "", limits_refused(&refusal.replacen("cgroup: ", "", 1)).as_str()),
            "burrow --pids-limit 20 without a rule"
        );

        // Without limits, burrow reads the policy itself and does not ask
        // the helper, which would refuse.
        let args = ["--log-level", "info", "--", "cat", "/proc/self/cgroup"];
        let out = run(burrow_as_in_own_rootfs(f, user, &args));
        let info = format!(
            "burrow: info: running without a cgroup of its own ({})\n",
            refusal.replacen("cgroup: ", "", 1)
        );
        ensure_eq!(
            (out.code(), out.stderr.as_str()),
            (0, info.as_str()),
            "burrow --log-level info without a rule or limits: {out}"
        );
        ensure!(
            out.stdout.lines().all(|l| l.ends_with(":/")),
            "/proc/self/cgroup inside: {:?}",
            out.stdout
        );
        let created = layout(f).snapshot(user.uid);
        ensure!(created.is_empty(), "cgroups of {}: {created:?}", user.name);
        Ok(())
    })
}

/// Guards the runner's own reading of the policy (cgroup.rs `no_rule_for`,
/// which skips the helper without limits when no rule names the caller): it
/// matches rules as the helper does, so a rule for the test user's group (by
/// name or gid) or for its uid still gives a container without limits its
/// leaves.
fn cgroup_rule_by_group_or_uid_without_limits(f: &Fixture) -> Result<(), Failed> {
    let policy = policy(f).exclusive();
    // useradd --user-group: the user's own group has the user's name.
    let owners = [
        format!("@{}", f.user.name),
        format!("@{}", f.user.gid),
        f.user.uid.to_string(),
    ];
    for owner in owners {
        let text =
            cgroups::policy_text(&f.user).replace(&format!("\n{} nest", f.user.name), &format!("\n{owner} nest"));
        ensure!(
            text.contains(&format!("\n{owner} nest")),
            "no rule for {owner} in {text:?}"
        );
        policy.write(&text).map_err(|e| format!("writing the policy: {e}"))?;
        let container = Running::start(f, &["--", "sh", "-c", "echo ready; read x; exit 0"])
            .map_err(|e| format!("with the rule `{owner} nest`: {}", e.message().unwrap_or("")))?;
        let out = container.finish()?;
        ensure_eq!(
            (out.code(), out.stdout.as_str(), out.stderr.as_str()),
            (0, "", ""),
            "the container with the rule `{owner} nest`"
        );
    }
    Ok(())
}

/// Guards the target check (cgroup invariant 3): root's process is not the
/// caller's, so it is neither held nor moved, and nothing is created.
fn cgroup_refuses_other_users_target(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    let mut cmd = Command::new(&f.probe);
    cmd.arg("hold").env_clear().current_dir("/");
    process::die_with_parent(&mut cmd);
    let target = Target::start(cmd)?;
    let before = target.read("cgroup")?;
    let name = leaf_name("rootstarget");
    let out = helper(f, &target, &name);
    let line = format!(
        "burrow-helper: cgroup: target process belongs to uid 0, not to the caller (uid {})",
        f.user.uid
    );
    ensure_refused(&out, exit::REFUSED, &line)?;
    ensure_eq!(target.read("cgroup")?, before, "root's process's cgroups");
    ensure_no_leaf(f, f.user.uid, &name)?;
    target.end()
}

/// Guards the liveness check (cgroup invariant 3): a reaped target's fd
/// names no process, and nothing is created.
fn cgroup_refuses_exited_target(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    let Target { process, proc_dir, .. } = Target::user_ns(f, &f.user)?;
    process.kill_and_reap().map_err(|e| format!("ending the target: {e}"))?;
    let name = leaf_name("exited");
    let out = helper_as(f, &f.user, Some(&proc_dir), &name);
    ensure_refused(&out, exit::REFUSED, "burrow-helper: cgroup: target process has exited")?;
    ensure_no_leaf(f, f.user.uid, &name)
}

/// Guards the target fd checks (cgroup invariant 3): a directory that is not
/// on procfs, a procfs file, and an fd that is not open are all refused.
fn cgroup_refuses_non_procfs_fd(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    let line = "burrow-helper: cgroup: target fd 3 is not a /proc/PID directory";
    let dir = f.user_dir("not-proc", 0o755);
    let fd = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(&dir)
        .expect("open a directory");
    let name = leaf_name("notproc");
    ensure_refused(&helper_as(f, &f.user, Some(&fd), &name), exit::REFUSED, line)?;
    let target = Target::user_ns(f, &f.user)?;
    let before = target.read("cgroup")?;
    let status = File::open(format!("/proc/{}/status", target.pid)).expect("open /proc/PID/status");
    ensure_refused(&helper_as(f, &f.user, Some(&status), &name), exit::REFUSED, line)?;
    ensure_eq!(target.read("cgroup")?, before, "the target's cgroups");
    ensure_refused(
        &helper_as(f, &f.user, None, &name),
        exit::REFUSED,
        "burrow-helper: cgroup: target fd 3 is not open",
    )?;
    ensure_no_leaf(f, f.user.uid, &name)?;
    target.end()
}

/// Guards cgroup invariant 7: the helper moves a process only out of its own
/// cgroup (the caller's), never out of one root put it in. Here root (the
/// test) put the user's process into a cgroup of the test's own.
fn cgroup_refuses_target_in_another_cgroup(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    let hierarchy = layout(f).delegated().last().ok_or("no delegated hierarchy")?.clone();
    let elsewhere = OwnCgroup::create(hierarchy.own.join(format!("burrowt{}-elsewhere", std::process::id())))?;
    let target = Target::user_ns(f, &f.user)?;
    fs::write(elsewhere.0.join("cgroup.procs"), target.pid.to_string())
        .map_err(|e| format!("moving our target into {}: {e}", elsewhere.0.display()))?;
    let before = target.read("cgroup")?;
    let name = leaf_name("elsewhere");
    let out = helper(f, &target, &name);
    let line = format!(
        "burrow-helper: cgroup: target process is not in the caller's cgroup in {}",
        hierarchy.mount.display()
    );
    ensure_refused(&out, exit::REFUSED, &line)?;
    ensure_eq!(target.read("cgroup")?, before, "the target's cgroups");
    ensure_no_leaf(f, f.user.uid, &name)?;
    note(
        "cgroup_refuses_target_in_another_cgroup",
        format!("target moved by root in {}", hierarchy.describe()),
    );
    target.end()
}

/// Guards NAME validation (cgroup invariant 1): one component of
/// `[A-Za-z0-9_-]`, 1 to 64 bytes, never a kernel file name or a
/// deny-listed one.
fn cgroup_refuses_bad_name(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    let long = "x".repeat(65);
    for name in [
        "",
        ".",
        "..",
        "../escape",
        "a/b",
        "a.b",
        ".hidden",
        "cgroup.procs",
        "tasks.",
        "release_agent",
        "notify_on_release",
        "a b",
        "a\nb",
        "é",
    ] {
        let line = format!("burrow-helper: cgroup: bad name {name:?}");
        ensure_helper_refuses(f, name, exit::USAGE, &line)?;
    }
    // 65 bytes: over the helper's bound on every argument.
    ensure_helper_refuses(
        f,
        &long,
        exit::USAGE,
        "burrow-helper: argument 5 is longer than 64 bytes",
    )?;
    // 64 bytes is still a good name.
    Delegation::request(f, &format!("t{}", "y".repeat(63))).map(drop)
}

/// Guards the policy file checks (cgroup invariant 4, idmap invariant 16):
/// a cgroup file writable by others, or not root's, or reached through an
/// unsafe directory or a symlink, or missing, is refused with exit 78 and
/// nothing created, whether the helper or burrow (with a limit) asks.
fn cgroup_refuses_writable_policy(f: &Fixture) -> Result<(), Failed> {
    let policy = policy(f).exclusive();
    let uid = f.user.uid;
    let before = layout(f).snapshot(uid);
    let file = Path::new(CGROUP_FILE);
    let writable = format!("{CGROUP_FILE}: writable by group or others");
    type Break<'a> = Box<dyn Fn() -> std::io::Result<()> + 'a>;
    let cases: Vec<(&str, Break, String)> = vec![
        (
            "mode 0666",
            Box::new(|| fs::set_permissions(file, fs::Permissions::from_mode(0o666))),
            writable.clone(),
        ),
        (
            "mode 0664",
            Box::new(|| fs::set_permissions(file, fs::Permissions::from_mode(0o664))),
            writable.clone(),
        ),
        (
            "owned by the test user",
            Box::new(|| std::os::unix::fs::chown(file, Some(uid), None)),
            format!("{CGROUP_FILE}: not owned by root"),
        ),
        (
            "its directory mode 0777",
            Box::new(|| fs::set_permissions(POLICY_DIR, fs::Permissions::from_mode(0o777))),
            format!("{POLICY_DIR}: writable by group or others"),
        ),
        (
            "a symlink to a good file",
            Box::new(|| {
                let real = format!("{POLICY_DIR}/cgroup.real");
                fs::rename(file, &real)?;
                std::os::unix::fs::symlink(&real, file)
            }),
            format!("{CGROUP_FILE}: cannot open: Too many levels of symbolic links (os error 40)"),
        ),
        (
            "missing",
            Box::new(|| fs::remove_file(file)),
            format!("{CGROUP_FILE}: cannot open: No such file or directory (os error 2)"),
        ),
    ];
    for (what, break_it, line) in cases {
        break_it().map_err(|e| format!("{what}: {e}"))?;
        ensure_helper_refuses(
            f,
            &leaf_name("unsafe"),
            exit::POLICY_FILE,
            &format!("burrow-helper: {line}"),
        )
        .map_err(|e| format!("{what}: {}", e.message().unwrap_or("")))?;
        let out = burrow(f, &["--memory", "32M", "--", "true"]);
        ensure_eq!(
            (out.code(), out.stdout.as_str(), out.stderr.as_str()),
            (125, "", limits_refused(&line).as_str()),
            "{what}: burrow --memory 32M"
        );
        let _ = fs::remove_file(format!("{POLICY_DIR}/cgroup.real"));
        policy.restore().map_err(|e| format!("restoring the policy: {e}"))?;
    }
    ensure_eq!(layout(f).snapshot(uid), before, "the test user's cgroups");
    Ok(())
}

/// Guards the policy parser (cgroup invariant 4): any malformed line, even
/// one after the caller's own rule, refuses the whole file with its line
/// number, and nothing is created.
fn cgroup_refuses_malformed_policy(f: &Fixture) -> Result<(), Failed> {
    let policy = policy(f).exclusive();
    let uid = f.user.uid;
    let before = layout(f).snapshot(uid);
    let name = &f.user.name;
    let place = "WHERE must be nest or an absolute cgroup path other than /";
    let key = "unknown KEY (expected pids.max, memory.max, memory.swap.max, cpu.max or cpu.weight)";
    let cases = [
        (
            format!("{name} nest pids.max=lots\n"),
            1,
            "pids.max must be max or a number from 0 to 4194304",
        ),
        (format!("# comment\n\n{name} /\n"), 3, place),
        (
            format!("{name} nest\nbogus\n"),
            2,
            "expected USER|@GROUP|* WHERE [KEY=VALUE ...]",
        ),
        (format!("root nest\n{name} nest memory.high=1G\n"), 2, key),
        (format!("{name} nest release_agent=/tmp/x\n"), 1, key),
        (format!("{name} /burrow/../escape\n"), 1, place),
        (
            format!("{name} nest cpu.max=500\n"),
            1,
            "cpu.max must be max or QUOTA[/PERIOD] in microseconds (quota at least 1000, period 1000 to 1000000)",
        ),
        (
            format!("{name} nest pids.max=1 pids.max=2\n"),
            1,
            "a KEY is given twice",
        ),
    ];
    for (text, number, why) in &cases {
        policy.write(text).map_err(|e| format!("writing the policy: {e}"))?;
        let line = format!("{CGROUP_FILE}: line {number}: {why}");
        ensure_helper_refuses(
            f,
            &leaf_name("malformed"),
            exit::POLICY_FILE,
            &format!("burrow-helper: {line}"),
        )
        .map_err(|e| format!("{text:?}: {}", e.message().unwrap_or("")))?;
    }
    // burrow with a limit: the runner's refusal, with the helper's reason.
    let (text, number, why) = &cases[2];
    policy.write(text).map_err(|e| format!("writing the policy: {e}"))?;
    let out = burrow(f, &["--cpus", "0.5", "--", "true"]);
    let line = format!("{CGROUP_FILE}: line {number}: {why}");
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (125, "", limits_refused(&line).as_str()),
        "burrow --cpus 0.5 with a malformed policy"
    );
    ensure_eq!(layout(f).snapshot(uid), before, "the test user's cgroups");
    Ok(())
}

/// Guards cgroup invariant 16: a leaf that already exists (here in the last
/// hierarchy) is refused after the earlier hierarchies' leaves were made;
/// those are removed again and the target is not moved.
fn cgroup_rolls_back_on_existing_leaf(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    let uid = f.user.uid;
    // A first request, so that every delegated cgroup exists.
    drop(Delegation::request(f, &leaf_name("first"))?);

    let name = leaf_name("exists");
    let last = layout(f).delegated().last().ok_or("no delegated hierarchy")?.clone();
    let existing = OwnCgroup::create(last.delegated_dir(uid).join(&name))?;
    let target = Target::user_ns(f, &f.user)?;
    let before = target.read("cgroup")?;
    let out = helper(f, &target, &name);
    ensure_refused(
        &out,
        exit::REFUSED,
        &format!("burrow-helper: cgroup: {name} already exists"),
    )?;
    ensure_eq!(target.read("cgroup")?, before, "the target's cgroups");
    for h in layout(f).delegated().filter(|h| h.mount != last.mount) {
        let leaf = h.delegated_dir(uid).join(&name);
        ensure!(!leaf.exists(), "{} was not rolled back", leaf.display());
    }
    ensure_eq!(
        read(&existing.0.join("cgroup.procs"))?,
        "",
        "the processes in the existing leaf"
    );
    target.end()
}

// ---------------------------------------------------------------------------
// Delegation

/// The kernel's list of files to delegate on cgroup v2.
fn v2_delegate_list() -> Vec<String> {
    fs::read_to_string("/sys/kernel/cgroup/delegate")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// The files of D (`leaf` false) or L the caller must own, by the contract.
fn delegated_files(h: &Hierarchy, leaf: bool) -> BTreeSet<String> {
    let listed: &[&str] = match (h.v2, leaf) {
        (true, false) => &[],
        (true, true) => &[
            "cgroup.kill",
            "memory.max",
            "memory.swap.max",
            "pids.max",
            "cpu.max",
            "cpu.weight",
            "memory.oom.group",
        ],
        (false, false) => &["tasks", "cgroup.procs"],
        (false, true) => &[
            "tasks",
            "cgroup.procs",
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
            "pids.max",
            "cpu.cfs_quota_us",
            "cpu.cfs_period_us",
            "cpu.shares",
            "freezer.state",
        ],
    };
    let mut files: BTreeSet<String> = listed.iter().map(|&s| s.to_owned()).collect();
    if h.v2 {
        files.extend(v2_delegate_list());
    }
    files
}

/// `dir` and each file in it are `uid`'s exactly when named in `users`,
/// else root's; all of them have the group `gid`.
fn ensure_owners(dir: &Path, users: &BTreeSet<String>, uid: u32, gid: u32) -> Result<(), Failed> {
    let owner = |path: &Path| fs::symlink_metadata(path).map(|m| (m.uid(), m.gid()));
    ensure_eq!(owner(dir).ok(), Some((uid, gid)), "the owner of {}", dir.display());
    let mut wrong = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| format!("listing {}: {e}", dir.display()))? {
        let entry = entry.map_err(|e| format!("listing {}: {e}", dir.display()))?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let expected = (if users.contains(&name) { uid } else { 0 }, gid);
        let found = owner(&entry.path()).map_err(|e| format!("{}: {e}", entry.path().display()))?;
        if found != expected {
            wrong.push(format!("{name}: {found:?}, expected {expected:?}"));
        }
    }
    ensure!(wrong.is_empty(), "owners in {}: {}", dir.display(), wrong.join("; "));
    Ok(())
}

/// The helper's success path, in every hierarchy (cgroup invariants 6, 10,
/// 11, 12, 15, 16): the leaves printed in mountinfo order, the target moved
/// into the cgroup2 one and left where it was in v1, D and L handed over
/// exactly as the contract lists (every other file root's), D's children
/// getting D's controllers (v2); a process of the user can then join the v1
/// leaves itself by writing 0 to their `tasks` (as the runner's child
/// does), and the user can remove the leaves.
fn cgroup_delegates_v1_and_v2(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    let uid = f.user.uid;
    let name = leaf_name("delegate");
    let mut delegation = Delegation::request(f, &name)?;
    let target = delegation.target();
    let after = target.read("cgroup")?;
    let mut v1_leaves = Vec::new();
    for (h, leaf) in layout(f).delegated().zip(&delegation.leaves) {
        ensure_handed_over(f, h, leaf)?;
        if h.v2 {
            ensure_moved_into(h, leaf, target, &after)?;
            continue;
        }
        ensure_eq!(
            (h.path_in(&after), read(&leaf.join("cgroup.procs"))?),
            (Some(h.own_path.clone()), String::new()),
            "the target's cgroup and {}/cgroup.procs (v1: the caller moves its own process)",
            leaf.display()
        );
        v1_leaves.push((h, leaf));
    }
    // A hybrid host's cgroup2 tree: never a leaf for `cgroup` (its D may
    // exist, made by `cgroup-init` for a system container).
    ensure!(
        layout(f)
            .hierarchies
            .iter()
            .filter(|h| !h.delegated)
            .all(|h| match h.v2 {
                true => !h.delegated_dir(uid).join(&name).exists(),
                false => !h.delegated_dir(uid).exists(),
            }),
        "a cgroup was delegated in a hierarchy the helper must not touch"
    );
    let mut join = f.as_user("sh");
    join.args([
        "-c",
        "for l; do echo 0 > \"$l/tasks\"; done; cat /proc/self/cgroup",
        "sh",
    ]);
    join.args(v1_leaves.iter().map(|(_, leaf)| leaf));
    let out = run(join);
    ensure!(out.status.success(), "joining the v1 leaves as the test user: {out}");
    for (h, leaf) in &v1_leaves {
        ensure_eq!(
            h.path_in(&out.stdout),
            h.cgroup_path(leaf),
            "the joining process's cgroup in {}",
            h.describe()
        );
    }
    note("cgroup_delegates_v1_and_v2", layout(f).describe());
    delegation.end_target()?;
    // The caller owns D: it removes its leaves itself (as the runner does).
    let mut rmdir = f.as_user("rmdir");
    rmdir.args(&delegation.leaves);
    let out = run(rmdir);
    ensure!(out.status.success(), "rmdir of the leaves as the test user: {out}");
    Ok(())
}

/// `cgroup-init`, for a system container's init: as `cgroup`, and on a
/// hybrid host also a leaf in the cgroup2 tree, which holds no controller,
/// with the target moved into it and D and L handed over as on a pure
/// cgroup2 host (cgroup invariant 20). Without it (plain `cgroup`, the
/// other scenarios) no cgroup2 cgroup is made there.
fn cgroup_init_adds_the_cgroup2_leaf(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    let uid = f.user.uid;
    let name = leaf_name("init");
    let layout = layout(f);
    let hierarchies: Vec<&Hierarchy> = layout.hierarchies.iter().filter(|h| h.delegated || h.v2).collect();
    let target = Target::user_ns(f, &f.user)?;
    let out = helper_op_as(f, &f.user, "cgroup-init", Some(&target.proc_dir), &name);
    let mut delegation = Delegation {
        target: Some(target),
        leaves: hierarchies.iter().map(|h| h.delegated_dir(uid).join(&name)).collect(),
    };
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (exit::OK, ok_line(&delegation.leaves).as_str(), ""),
        "the helper's output for cgroup-init --name {name}"
    );
    let after = delegation.target().read("cgroup")?;
    let v2 = hierarchies.iter().zip(&delegation.leaves).find(|(h, _)| h.v2);
    match v2 {
        Some((h, leaf)) => {
            ensure_handed_over(f, h, leaf)?;
            ensure_moved_into(h, leaf, delegation.target(), &after)?;
        }
        None => return harness::skip("no cgroup2 hierarchy is mounted here"),
    }
    note("cgroup_init_adds_the_cgroup2_leaf", layout.describe());
    delegation.end_target()?;
    Ok(())
}

/// `cgroup-init` is checked as `cgroup` is: no rule, no leaf; a bad name,
/// a usage error naming the operation.
fn cgroup_init_refusals(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    let target = Target::user_ns(f, &f.user)?;
    let out = helper_op_as(f, &f.user, "cgroup-init", Some(&target.proc_dir), "a/b");
    ensure_refused(&out, exit::USAGE, "burrow-helper: cgroup-init: bad name \"a/b\"")?;
    target.end()?;
    with_other_user(f, |user| {
        let target = Target::user_ns(f, user)?;
        let before = target.read("cgroup")?;
        let name = leaf_name("initnopolicy");
        let out = helper_op_as(f, user, "cgroup-init", Some(&target.proc_dir), &name);
        let refusal = format!(
            "burrow-helper: cgroup: {} may not have cgroups delegated (no entry in {CGROUP_FILE})",
            user.name
        );
        ensure_refused(&out, exit::REFUSED, &refusal)?;
        ensure_eq!(target.read("cgroup")?, before, "the target's cgroups");
        ensure_no_leaf(f, user.uid, &name)?;
        target.end()
    })
}

/// D and `leaf` handed over as the contract lists (invariants 12 and 15).
fn ensure_handed_over(f: &Fixture, h: &Hierarchy, leaf: &Path) -> Result<(), Failed> {
    let (uid, gid) = (f.user.uid, f.user.gid);
    let d = h.delegated_dir(uid);
    ensure_owners(&d, &delegated_files(h, false), uid, gid)?;
    ensure_owners(leaf, &delegated_files(h, true), uid, gid)?;
    if h.v2 {
        let offered = read(&d.join("cgroup.controllers"))?;
        let expected: Vec<&str> = offered
            .split_whitespace()
            .filter(|c| DELEGATED_V2.contains(c))
            .collect();
        let enabled = read(&d.join("cgroup.subtree_control"))?;
        ensure_eq!(
            enabled.split_whitespace().collect::<Vec<_>>(),
            expected,
            "{}/cgroup.subtree_control (D offers {offered:?})",
            d.display()
        );
    }
    Ok(())
}

/// The target (whose /proc/PID/cgroup reads `after`) alone in the cgroup2 `leaf`.
fn ensure_moved_into(h: &Hierarchy, leaf: &Path, target: &Target, after: &str) -> Result<(), Failed> {
    ensure_eq!(
        h.path_in(after),
        h.cgroup_path(leaf),
        "the target's cgroup in {}",
        h.describe()
    );
    ensure_eq!(
        read(&leaf.join("cgroup.procs"))?,
        format!("{}\n", target.pid),
        "{}/cgroup.procs",
        leaf.display()
    );
    Ok(())
}

/// The helper's cgroup2 path on a hybrid host, where it delegates nothing in
/// cgroup2 (see `Layout`): called in a private mount namespace where the v1
/// hierarchies are unmounted, the helper sees the cgroup2 tree alone, as on
/// a pure cgroup2 host, and must delegate there: one leaf, the target moved
/// into it, D and L handed over (cgroup invariants 6, 11, 12, 15).
fn cgroup_delegates_in_cgroup2_alone(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    let Some(v2) = layout(f).v2() else {
        return harness::skip("no cgroup2 hierarchy here");
    };
    let name = leaf_name("v2");
    let leaf = v2.delegated_dir(f.user.uid).join(&name);
    let target = Target::user_ns(f, &f.user)?;
    let helper = format!("{} cgroup --proc-fd 3 --name {name}", f.helper.display());
    let mut cmd = cgroup2_only_view(f, &f.user, "", &helper);
    process::pass_fd(&mut cmd, target.proc_dir.as_raw_fd(), 3);
    let delegation = Delegation {
        target: Some(target),
        leaves: vec![leaf.clone()],
    };
    let out = run(cmd);
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (exit::OK, ok_line(&delegation.leaves).as_str(), ""),
        "the helper's output with the v1 hierarchies hidden"
    );
    let target = delegation.target();
    let result =
        ensure_moved_into(v2, &leaf, target, &target.read("cgroup")?).and_then(|()| ensure_handed_over(f, v2, &leaf));
    drop(delegation);
    // D too, where the helper delegates nothing in the host's own view (the
    // teardown insists on that); elsewhere the other scenarios share it.
    if !v2.delegated {
        let d = v2.delegated_dir(f.user.uid);
        cgroups::rmdir_cgroup(&d).map_err(|e| format!("removing {}: {e}", d.display()))?;
    }
    note(
        "cgroup_delegates_in_cgroup2_alone",
        format!("delegated in {}", v2.describe()),
    );
    result
}

/// A file's owner, mode, times and contents, to tell whether it was touched.
#[derive(Debug, PartialEq, Eq)]
struct FileState {
    owner: (u32, u32),
    mode: u32,
    mtime: (i64, i64),
    ctime: (i64, i64),
    contents: String,
}

fn file_state(path: &Path) -> Option<FileState> {
    let meta = fs::symlink_metadata(path).ok()?;
    Some(FileState {
        owner: (meta.uid(), meta.gid()),
        mode: meta.mode(),
        mtime: (meta.mtime(), meta.mtime_nsec()),
        ctime: (meta.ctime(), meta.ctime_nsec()),
        contents: fs::read_to_string(path).unwrap_or_default(),
    })
}

/// Guards the CVE-2022-0492 deny-list (cgroup invariants 8 and 14): the
/// helper never creates, chowns or writes `release_agent` or
/// `notify_on_release`: the hierarchy roots' release agents and the own
/// cgroups' flags are untouched, D's and L's flags are the kernel's
/// (root's, inherited) and the user cannot write them; cgroup2 has neither.
fn cgroup_never_touches_release_agent(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    let (uid, gid) = (f.user.uid, f.user.gid);
    let watched: Vec<PathBuf> = layout(f)
        .hierarchies
        .iter()
        .flat_map(|h| [h.mount.join("release_agent"), h.own.join("notify_on_release")])
        .collect();
    let before: BTreeMap<&PathBuf, _> = watched.iter().map(|p| (p, file_state(p))).collect();
    let name = leaf_name("agent");
    let delegation = Delegation::request(f, &name)?;
    let after: BTreeMap<&PathBuf, _> = watched.iter().map(|p| (p, file_state(p))).collect();
    ensure_eq!(after, before, "release_agent and notify_on_release above D");
    let mut v1 = 0;
    for h in layout(f).delegated() {
        let (d, leaf) = (h.delegated_dir(uid), h.delegated_dir(uid).join(&name));
        for dir in [&d, &leaf] {
            ensure!(
                !dir.join("release_agent").exists(),
                "{}/release_agent exists",
                dir.display()
            );
            let flag = dir.join("notify_on_release");
            if h.v2 {
                ensure!(!flag.exists(), "{} exists on cgroup2", flag.display());
                continue;
            }
            let inherited = read(&h.own.join("notify_on_release"))?;
            let meta = fs::metadata(&flag).map_err(|e| format!("{}: {e}", flag.display()))?;
            ensure_eq!(
                (meta.uid(), meta.gid(), meta.mode() & 0o7777, read(&flag)?),
                (0, gid, 0o644, inherited),
                "owner, mode and value of {}",
                flag.display()
            );
            // A chown, even a no-op one, would have moved its ctime alone.
            ensure_eq!(
                (meta.mtime(), meta.mtime_nsec()),
                (meta.ctime(), meta.ctime_nsec()),
                "mtime and ctime of {}",
                flag.display()
            );
            ensure_user_cannot_write(f, &flag, "1")?;
        }
        v1 += usize::from(!h.v2);
    }
    note(
        "cgroup_never_touches_release_agent",
        format!(
            "{v1} v1 hierarchies checked{}",
            if layout(f).delegated().any(|h| h.v2) {
                ", and cgroup2 has neither file"
            } else {
                ""
            }
        ),
    );
    drop(delegation);
    Ok(())
}

/// A ceiling's file in D where the layout has its controller, the rule's
/// value, and what means "no limit" there.
fn ceiling_file(f: &Fixture, controller: &str) -> Option<(PathBuf, String, &'static str)> {
    let h = layout(f).controller(controller)?;
    let (file, value, unlimited) = match (controller, h.v2) {
        ("memory", false) => ("memory.limit_in_bytes", MEMORY_CEILING, "-1"),
        ("memory", true) => ("memory.max", MEMORY_CEILING, "max"),
        _ => ("pids.max", PIDS_CEILING, "max"),
    };
    Some((h.delegated_dir(f.user.uid).join(file), value.to_string(), unlimited))
}

/// Guards cgroup invariants 12 and 13: D carries exactly the rule's
/// ceilings, in files that stay root's, so the user cannot raise them
/// (EACCES), while its own leaf's limit files are its to write.
fn cgroup_user_cannot_raise_ceiling(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    let name = leaf_name("ceiling");
    let delegation = Delegation::request(f, &name)?;
    for controller in ["memory", "pids"] {
        let Some((file, value, raised)) = ceiling_file(f, controller) else {
            // Then no delegated cgroup has the file at all.
            let files: &[&str] = match controller {
                "memory" => &["memory.max", "memory.limit_in_bytes"],
                _ => &["pids.max"],
            };
            for h in layout(f).delegated() {
                let d = h.delegated_dir(f.user.uid);
                for file in files {
                    ensure!(
                        !d.join(file).exists(),
                        "{}/{file} exists, but the layout has no delegable {controller} controller",
                        d.display()
                    );
                }
            }
            note(
                "cgroup_user_cannot_raise_ceiling",
                format!("no {controller} controller delegable with nest here: no ceiling file to raise"),
            );
            continue;
        };
        ensure_eq!(read(&file)?, format!("{value}\n"), "the ceiling {}", file.display());
        ensure_user_cannot_write(f, &file, raised)?;
        ensure_eq!(
            read(&file)?,
            format!("{value}\n"),
            "the ceiling {} after",
            file.display()
        );
        let own = file
            .parent()
            .expect("in D")
            .join(&name)
            .join(file.file_name().expect("a name"));
        let out = write_as_user(f, &own, raised);
        ensure_eq!(
            (out.code(), out.stdout.as_str(), out.stderr.as_str()),
            (0, "ok\n", ""),
            "the test user writing its own leaf's {}",
            own.display()
        );
        note(
            "cgroup_user_cannot_raise_ceiling",
            format!("{controller} ceiling checked in {}", file.display()),
        );
    }
    drop(delegation);
    Ok(())
}

/// Guards the delegation boundary: the cgroups above D stay root's, so the
/// user cannot move its container out of the delegated subtree (EACCES),
/// in any hierarchy.
fn cgroup_user_cannot_move_container_out(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    let container = Running::start(f, &["--", "/bin/probe", "hold"])?;
    let pid = container.pid.to_string();
    let before = read(Path::new(&format!("/proc/{pid}/cgroup")))?;
    for h in layout(f).delegated() {
        let mut outside = vec![h.own.join("cgroup.procs"), h.mount.join("cgroup.procs")];
        if !h.v2 {
            outside.push(h.own.join("tasks"));
        }
        outside.dedup();
        for file in outside {
            ensure_user_cannot_write(f, &file, &pid)?;
        }
    }
    ensure_eq!(
        read(Path::new(&format!("/proc/{pid}/cgroup")))?,
        before,
        "the container's cgroups"
    );
    let out = container.finish()?;
    ensure_ran(&out, "", "the container")?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Limits

/// Runs `probe forks 40` with `--pids-limit`; expects it to stop at `max`
/// tasks (the container's own and D's limit, the smaller), checked inside
/// and in the kernel's counter; the container still exits cleanly.
fn ensure_fork_limit(f: &Fixture, scenario: &str, limit: u32, max: u32) -> Result<(), Failed> {
    let limit_arg = limit.to_string();
    let args = ["--pids-limit", limit_arg.as_str(), "--", "/bin/probe", "forks", "40"];
    let Some(h) = layout(f).controller("pids") else {
        let out = burrow(f, &args);
        ensure_eq!(
            (out.code(), out.stdout.as_str(), out.stderr.as_str()),
            (125, "", missing_controller("pids").as_str()),
            "--pids-limit without a delegable pids controller"
        );
        note(
            scenario,
            "no pids controller delegable with nest here: the refusal was asserted",
        );
        return Ok(());
    };
    let container = Running::start(f, &args)?;
    ensure_eq!(
        container.lines,
        [
            format!(
                "forked {} of 40: Resource temporarily unavailable (os error 11)",
                max - 1
            ),
            format!("tasks {max}")
        ],
        "the fork loop inside"
    );
    let leaf = container.leaf(f, h);
    ensure_eq!(
        (read(&leaf.join("pids.max"))?, read(&leaf.join("pids.current"))?),
        (format!("{limit}\n"), format!("{max}\n")),
        "{}/pids.max and pids.current",
        leaf.display()
    );
    let out = container.finish()?;
    ensure_ran(&out, "", "the container after the fork loop")?;
    note(scenario, format!("pids limited in {}", h.describe()));
    Ok(())
}

fn cgroup_pids_limit(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    ensure_fork_limit(f, "cgroup_pids_limit", 20, 20)
}

/// Guards the ceiling (cgroup invariant 13, and the kernel taking the
/// smallest limit along the path): with D's pids.max at 10, a container
/// asking for 20 still gets at most 10 tasks.
fn cgroup_ceiling_binds_the_container(f: &Fixture) -> Result<(), Failed> {
    let policy = policy(f).exclusive();
    let text = format!(
        "{} nest pids.max=10 memory.max={}M\n",
        f.user.name,
        MEMORY_CEILING >> 20
    );
    policy.write(&text).map_err(|e| format!("writing the policy: {e}"))?;
    ensure_fork_limit(f, "cgroup_ceiling_binds_the_container", 20, 10)
}

/// `--memory 32M`: a process touching 64 MiB is OOM-killed and burrow exits
/// 137; with 128M the same process completes (so the limit is what kills).
fn cgroup_memory_limit_oom(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    let scenario = "cgroup_memory_limit_oom";
    let swap = has_swap();
    let limited = |memory: &'static str| {
        let mut args = vec!["--memory", memory];
        if swap {
            args.extend(["--memory-swap", memory]);
        }
        args.extend(["--", "/bin/probe", "alloc", "64"]);
        args
    };
    let Some(h) = layout(f).controller("memory") else {
        let out = burrow(f, &limited("32M"));
        ensure_eq!(
            (out.code(), out.stdout.as_str(), out.stderr.as_str()),
            (125, "", missing_controller("memory").as_str()),
            "--memory without a delegable memory controller"
        );
        note(
            scenario,
            "no memory controller delegable with nest here: the refusal was asserted",
        );
        return Ok(());
    };
    let out = burrow(f, &limited("32M"));
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (128 + libc::SIGKILL, "", ""),
        "probe alloc 64 with --memory 32M"
    );
    let out = burrow(f, &limited("128M"));
    ensure_ran(&out, "allocated 64 MiB\n", "probe alloc 64 with --memory 128M")?;
    note(
        scenario,
        format!(
            "memory limited in {}{}",
            h.describe(),
            if swap {
                " (with --memory-swap: the host has swap)"
            } else {
                ""
            }
        ),
    );
    Ok(())
}

/// The container's limits are written into its leaves exactly (`--cpus` as
/// the CFS quota over a 100 ms period, v1 or v2), for every controller the
/// layout delegates; a limit whose controller it does not is refused.
fn cgroup_limits_written_exactly(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    let scenario = "cgroup_limits_written_exactly";
    type Files = &'static [(&'static str, &'static str)];
    // (controller, options, v1 files, v2 files)
    let cases: [(&str, &[&str], Files, Files); 4] = [
        (
            "cpu",
            &["--cpus", "0.5", "--cpu-weight", "200"],
            &[
                ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "50000"),
                ("cpu.shares", "2048"),
            ],
            &[("cpu.max", "50000 100000"), ("cpu.weight", "200")],
        ),
        (
            "cpu",
            &["--cpus", "1.5"],
            &[("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", "150000")],
            &[("cpu.max", "150000 100000")],
        ),
        (
            "memory",
            &["--memory", "48M"],
            &[("memory.limit_in_bytes", "50331648")],
            &[("memory.max", "50331648")],
        ),
        (
            "pids",
            &["--pids-limit", "30"],
            &[("pids.max", "30")],
            &[("pids.max", "30")],
        ),
    ];
    for (controller, options, v1, v2) in cases {
        let mut args = options.to_vec();
        args.extend(["--", "/bin/probe", "hold"]);
        let Some(h) = layout(f).controller(controller) else {
            let out = burrow(f, &args);
            ensure_eq!(
                (out.code(), out.stdout.as_str(), out.stderr.as_str()),
                (125, "", missing_controller(controller).as_str()),
                "{options:?} without a delegable {controller} controller"
            );
            note(
                scenario,
                format!("{options:?}: no {controller} controller here, refusal asserted"),
            );
            continue;
        };
        let container = Running::start(f, &args)?;
        let leaf = container.leaf(f, h);
        for (file, value) in if h.v2 { v2 } else { v1 } {
            ensure_eq!(
                read(&leaf.join(file))?,
                format!("{value}\n"),
                "{options:?}: {}/{file}",
                leaf.display()
            );
        }
        let out = container.finish()?;
        ensure_eq!(
            (out.code(), out.stdout.as_str(), out.stderr.as_str()),
            (0, "", ""),
            "{options:?}: the container"
        );
        note(scenario, format!("{options:?} checked in {}", h.describe()));
    }
    // Memory plus swap, where the kernel accounts swap.
    if let Some(h) = layout(f).controller("memory") {
        let file = if h.v2 {
            "memory.swap.max"
        } else {
            "memory.memsw.limit_in_bytes"
        };
        let value = if h.v2 { "16777216" } else { "67108864" };
        let args = ["--memory", "48M", "--memory-swap", "64M", "--", "/bin/probe", "hold"];
        let container = Running::start(f, &args)?;
        let leaf = container.leaf(f, h);
        if leaf.join(file).exists() {
            ensure_eq!(
                read(&leaf.join(file))?,
                format!("{value}\n"),
                "--memory-swap 64M: {}/{file}",
                leaf.display()
            );
            note(scenario, format!("--memory-swap checked in {}/{file}", h.describe()));
        } else {
            note(
                scenario,
                format!("no {file} here (no swap accounting): --memory-swap not checked"),
            );
        }
        let out = container.finish()?;
        ensure_ran(&out, "", "--memory-swap 64M: the container")?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The container's cgroup, and its end

/// The container unshares its cgroup namespace once it is in its leaves:
/// /proc/self/cgroup inside shows `/` for every hierarchy (`0::/` for
/// cgroup2), while the host sees the leaves, cgroup2's included.
fn cgroup_namespace_shows_root(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    let script = "cat /proc/self/cgroup; echo ready; read x; exit 0";
    let container = Running::start(f, &["--", "sh", "-c", script])?;
    let host = read(Path::new(&format!("/proc/{}/cgroup", container.pid)))?;
    ensure_eq!(
        container.lines.len(),
        host.lines().count(),
        "lines of /proc/self/cgroup inside ({:?}) and on the host ({host:?})",
        container.lines
    );
    for line in &container.lines {
        ensure!(line.ends_with(":/"), "/proc/self/cgroup inside: {:?}", container.lines);
    }
    if let Some(v2) = layout(f).delegated().find(|h| h.v2) {
        ensure!(
            container.lines.iter().any(|l| l == "0::/"),
            "no 0::/ inside: {:?}",
            container.lines
        );
        let leaf = container.leaf(f, v2);
        ensure_eq!(
            read(&leaf.join("cgroup.procs"))?,
            format!("{}\n", container.pid),
            "{}/cgroup.procs",
            leaf.display()
        );
        let owner = fs::metadata(leaf.join("cgroup.procs")).map(|m| m.uid()).ok();
        ensure_eq!(owner, Some(f.user.uid), "the owner of {}/cgroup.procs", leaf.display());
        note(
            "cgroup_namespace_shows_root",
            format!("0::/ inside, {} on the host", leaf.display()),
        );
    }
    let out = container.finish()?;
    ensure_ran(&out, "", "the container")?;
    Ok(())
}

/// After the container exits, normally, by its own fault's signal, or
/// SIGKILLed from the host, burrow has killed whatever was left in its
/// cgroup and removed its leaves before exiting.
fn cgroup_leaf_removed_after_exit(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    let cases = [
        ("exit 3", false, 3),
        ("exec /bin/probe segv", false, 128 + libc::SIGSEGV),
        ("exit 0", true, 128 + libc::SIGKILL),
    ];
    for (end, kill_init, code) in cases {
        let what = if kill_init { "SIGKILL from the host" } else { end };
        let script = format!("sleep 1000 & sleep 1000 & echo ready; read x; {end}");
        let container = Running::start(f, &["--", "sh", "-c", &script])?;
        let tasks = tasks_of(&container.leaves)?;
        ensure_eq!(tasks.len(), 3, "{what}: the container's processes (sh and two sleeps)");
        if kill_init {
            let init = tasks
                .iter()
                .find(|t| t.pid == container.pid)
                .ok_or("the container's init is not in its leaves")?;
            // SAFETY: pidfd_send_signal with a NULL siginfo, on a pidfd of ours.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    init.fd.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<u8>(),
                    0,
                )
            };
            ensure!(
                rc == 0,
                "SIGKILL to the container's init: {}",
                std::io::Error::last_os_error()
            );
        }
        let out = container.finish()?;
        ensure_eq!(
            (out.code(), out.stdout.as_str()),
            (code, ""),
            "{what}: burrow's exit status and output ({out})"
        );
        ensure_all_exited(&tasks, what)?;
    }
    Ok(())
}

/// When burrow itself is SIGKILLed, the container dies with it (the
/// parent-death signal) and its leaves stay behind, empty; the user's next
/// start sweeps them, but not a running container's leaves nor cgroups not
/// named like burrow's.
fn cgroup_leaf_swept_after_runner_killed(f: &Fixture) -> Result<(), Failed> {
    // Alone: no other start may sweep before the assertions.
    let _policy = policy(f).exclusive();
    let uid = f.user.uid;
    let running = Running::start(f, &["--", "/bin/probe", "hold"])?;
    // Nothing but a signal ends this container (its stdin closes with burrow).
    let killed = Running::start(f, &["--", "sh", "-c", "sleep 1000 & echo ready; exec sleep 1000"])?;
    let tasks = tasks_of(&killed.leaves)?;
    ensure_eq!(tasks.len(), 2, "the container's processes (two sleeps)");
    let Running {
        burrow: runner,
        pid,
        leaves: stale,
        ..
    } = killed;
    // Its init is reparented to the test binary when burrow dies.
    process::expect_orphan(pid);
    let status = runner.kill_and_reap().map_err(|e| format!("killing burrow: {e}"))?;
    let reaped = process::reap_expected_orphan(pid);
    ensure_all_exited(&tasks, "after burrow was killed")?;
    let init = reaped.map_err(|e| format!("reaping the container's init {pid}: {e}"))?;
    ensure!(
        libc::WIFSIGNALED(init) && libc::WTERMSIG(init) == libc::SIGKILL,
        "burrow {status}; its container's init ended with wait status {init:#x}, not SIGKILL"
    );
    for leaf in &stale {
        ensure_eq!(
            read(&leaf.join("cgroup.procs"))?,
            "",
            "the stale leaf {}",
            leaf.display()
        );
    }
    // Cgroups of the user's own that are not burrow's leaves.
    let d = layout(f)
        .delegated()
        .next()
        .ok_or("no delegated hierarchy")?
        .delegated_dir(uid);
    let keep = [d.join("keep-1"), d.join("ckeep")];
    let mut mkdir = f.as_user("mkdir");
    mkdir.args(&keep);
    let out = run(mkdir);
    ensure!(out.status.success(), "mkdir as the test user: {out}");

    let out = burrow(f, &["--", "true"]);
    ensure_ran(&out, "", "the next start")?;
    for leaf in &stale {
        ensure!(!leaf.exists(), "the stale leaf {} was not swept", leaf.display());
    }
    let kept: Vec<bool> = keep.iter().map(|k| k.is_dir()).collect();
    let mut rmdir = f.as_user("rmdir");
    rmdir.args(&keep);
    let removed = run(rmdir);
    ensure_eq!(kept, [true, true], "the user's own cgroups after the sweep");
    ensure!(removed.status.success(), "rmdir as the test user: {removed}");
    for leaf in &running.leaves {
        ensure!(
            leaf.is_dir(),
            "the running container's leaf {} was swept",
            leaf.display()
        );
    }
    let out = running.finish()?;
    ensure_ran(&out, "", "the container that kept running")?;
    Ok(())
}

/// Starts of one user's containers may overlap: each container gets its own
/// leaves. A start sweeps the user's empty `c*-*` leaves; a leaf another
/// start's helper has just made is empty too, until that helper moves its
/// container in, and must not be swept from under it. (Without limits a
/// start that lost its cgroup runs anyway and says so at --log-level info.)
fn cgroup_concurrent_starts(f: &Fixture) -> Result<(), Failed> {
    // Alone: its starts' sweeps would reach the other scenarios' starts.
    let _policy = policy(f).exclusive();
    const STARTS_AT_ONCE: usize = 8;
    for round in 1..=5 {
        let mut started = Vec::new();
        for _ in 0..STARTS_AT_ONCE {
            let mut cmd = burrow_as(f, &f.user, &["--log-level", "info", "--", "true"]);
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            started.push(process::spawn(&mut cmd).map_err(|e| format!("starting burrow: {e}"))?);
        }
        let mut failed = 0;
        let mut lines = BTreeSet::new();
        for burrow in started {
            let out = burrow.output(None).map_err(|e| format!("waiting for burrow: {e}"))?;
            if out.code() != 0 || !out.stdout.is_empty() || !out.stderr.is_empty() {
                failed += 1;
                // One of each kind: the leaf names differ.
                lines.extend(
                    out.stderr
                        .lines()
                        .map(|l| l.split(" /sys/").next().unwrap_or(l).to_owned()),
                );
            }
        }
        ensure!(
            failed == 0,
            "round {round}: {failed} of {STARTS_AT_ONCE} concurrent starts went wrong; they said (paths cut): {lines:#?}"
        );
        for h in layout(f).delegated() {
            let d = h.delegated_dir(f.user.uid);
            let left: Vec<_> = fs::read_dir(&d)
                .map_err(|e| format!("listing {}: {e}", d.display()))?
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name())
                .collect();
            ensure!(left.is_empty(), "round {round}: left in {}: {left:?}", d.display());
        }
    }
    Ok(())
}

/// `--cgroup-parent NAME` puts each container's leaf below D/NAME, which the
/// runner creates (the user owns D) and keeps; the helper's own leaf for the
/// container is gone, and so is the container's leaf once it exits.
fn cgroup_parent_groups_containers(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    let uid = f.user.uid;
    let parent = leaf_name("group");
    // Removed (as root) whatever happens; the user removes them first below.
    let _groups: Vec<OwnCgroup> = layout(f)
        .delegated()
        .map(|h| OwnCgroup(h.delegated_dir(uid).join(&parent)))
        .collect();
    let args = ["--cgroup-parent", parent.as_str(), "--", "/bin/probe", "hold"];
    let first = Running::start(f, &args)?;
    let second = Running::start(f, &args)?;
    for container in [&first, &second] {
        for (h, leaf) in layout(f).delegated().zip(&container.leaves) {
            let helpers = h.delegated_dir(uid).join(leaf.file_name().expect("a leaf name"));
            ensure!(
                !helpers.exists(),
                "the helper's leaf {} is still there",
                helpers.display()
            );
        }
    }
    for container in [first, second] {
        let out = container.finish()?;
        ensure_ran(&out, "", "a container below --cgroup-parent")?;
    }
    let groups: Vec<PathBuf> = layout(f)
        .delegated()
        .map(|h| h.delegated_dir(uid).join(&parent))
        .collect();
    for group in &groups {
        let owner = fs::metadata(group).map(|m| m.uid()).ok();
        ensure_eq!(owner, Some(uid), "the owner of the kept {}", group.display());
    }
    let mut rmdir = f.as_user("rmdir");
    rmdir.args(&groups);
    let out = run(rmdir);
    ensure!(out.status.success(), "rmdir of the parents as the test user: {out}");
    let out = burrow(f, &["--cgroup-parent", "../up", "--", "true"]);
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (
            125,
            "",
            "burrow: invalid value '../up' for '--cgroup-parent <NAME>': expected 1 to 64 letters, digits, '_' \
             or '-' (see burrow --help)\n"
        ),
        "--cgroup-parent ../up"
    );
    Ok(())
}

/// A start that fails after the helper made the container's leaves reports
/// one error and leaves no cgroup behind. With D's CFS quota at half a CPU,
/// cgroup v1 refuses a container quota of one CPU (EINVAL); cgroup v2
/// accepts it (the smaller applies); without a delegable cpu controller the
/// runner refuses the limit.
fn cgroup_failed_start_leaves_no_cgroup(f: &Fixture) -> Result<(), Failed> {
    let scenario = "cgroup_failed_start_leaves_no_cgroup";
    // Alone: the test user's delegated cgroups must show only this start.
    let policy = policy(f).exclusive();
    let text = format!(
        "{} nest cpu.max=50000 pids.max={PIDS_CEILING} memory.max={}M\n",
        f.user.name,
        MEMORY_CEILING >> 20
    );
    policy.write(&text).map_err(|e| format!("writing the policy: {e}"))?;
    let uid = f.user.uid;
    let before = layout(f).snapshot(uid);
    let out = burrow(f, &["--cpus", "1", "--", "true"]);
    match layout(f).controller("cpu") {
        Some(h) if !h.v2 => {
            let lines = out.stderr_lines();
            ensure!(
                out.code() == 125
                    && out.stdout.is_empty()
                    && lines.len() == 1
                    && lines[0].starts_with("burrow: writing 100000 to ")
                    && lines[0].ends_with(
                        "/cpu.cfs_quota_us: Invalid argument (os error 22); \
                         is linux.resources.cpu.quota above the ceiling root set in /etc/burrow/cgroup?"
                    ),
                "--cpus 1 below a quota of 0.5: expected exit 125 and one `burrow: writing 100000 to \
                 .../cpu.cfs_quota_us: Invalid argument` line; found {out}"
            );
            note(scenario, format!("v1 refused the quota in {}", h.describe()));
        }
        Some(h) => {
            ensure_ran(&out, "", "--cpus 1 below a quota of 0.5 on cgroup2")?;
            note(
                scenario,
                format!("cgroup2 accepted the quota in {}: no failure to check", h.describe()),
            );
        }
        None => {
            ensure_eq!(
                (out.code(), out.stdout.as_str(), out.stderr.as_str()),
                (125, "", missing_controller("cpu").as_str()),
                "--cpus 1 without a delegable cpu controller"
            );
            note(
                scenario,
                "no cpu controller delegable with nest here: the runner refused the limit",
            );
        }
    }
    let mut after = layout(f).snapshot(uid);
    let delegated: BTreeSet<PathBuf> = layout(f).hierarchies.iter().map(|h| h.delegated_dir(uid)).collect();
    // D itself may be new (made by this start); nothing below it may be.
    after.retain(|dir, _| !delegated.contains(dir) && !before.contains_key(dir));
    // Removed here, so that only this scenario reports them.
    for dir in after.keys().rev() {
        let _ = cgroups::rmdir_cgroup(dir);
    }
    ensure!(
        after.is_empty(),
        "the failed start ({}) left the cgroups {:?}",
        out.stderr.trim_end(),
        after.keys().collect::<Vec<_>>()
    );
    Ok(())
}

/// Where the caller already owns a cgroup2 subtree (systemd's Delegate=yes)
/// on a host whose controllers are all on cgroup2, burrow places the
/// container there itself, without the helper (runner/src/cgroup.rs
/// `subtree_owned_by_caller`, `prepare_own`: the clone starts it in its
/// leaf). Made here by hand, below the test's own cgroup2 cgroup:
/// OWN/tdeleg-N owned by the user, burrow started in its child `runner`, in
/// a private mount namespace where the v1 hierarchies are unmounted. While
/// the container runs, it is the only process in one leaf of grp, and
/// burrow alone in `runner`. With `--cgroup-parent grp` the container's
/// parent cgroup outlives it: it must be OWN/tdeleg-N/grp (the caller's
/// subtree), not below the helper's OWN/tdeleg-N/runner/burrow-UID.
fn cgroup_uses_subtree_the_caller_owns(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).shared();
    let Some(v2) = layout(f).v2() else {
        return harness::skip("no cgroup2 hierarchy: nothing to own");
    };
    let subtree = v2.own.join(leaf_name("deleg"));
    let runner = subtree.join("runner");
    let (uid, gid) = (f.user.uid, f.user.gid);
    let chown = |path: &Path| {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
            .map_err(|e| Failed::from(format!("chown {}: {e}", path.display())))
    };
    for dir in [&subtree, &runner] {
        fs::create_dir(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        // What systemd hands over with Delegate=yes.
        for file in ["", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"] {
            chown(&dir.join(file))?;
        }
    }
    let burrow = format!(
        "{} run --rootfs {} --cgroup-parent grp -- sh -c 'grep ^0:: /proc/self/cgroup; echo ready; read x; exit 0'",
        f.burrow.display(),
        f.rootfs.display()
    );
    let into_runner = format!("echo $$ > {};", runner.join("cgroup.procs").display());
    let mut cmd = cgroup2_only_view(f, &f.user, &into_runner, &burrow);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let parent = subtree.join("grp");
    let helpers = runner.join(format!("burrow-{uid}"));
    let result = (|| {
        let mut burrow = process::spawn(&mut cmd).map_err(|e| format!("starting burrow: {e}"))?;
        let mut lines = String::new();
        while !lines.ends_with("ready\n") {
            let line = burrow
                .read_line()
                .map_err(|e| format!("reading burrow's stdout: {e}"))?;
            if line.is_empty() {
                let out = burrow.output(None).map_err(|e| format!("waiting for burrow: {e}"))?;
                return Err(format!("burrow ended before its container was ready: {lines:?}, then {out}").into());
            }
            lines.push_str(&line);
        }
        // burrow itself (the unshare shell exec'd into it) alone in `runner`;
        // the container, started in its leaf, alone there.
        let procs = |dir: &Path| read(&dir.join("cgroup.procs")).map(|t| t.lines().count());
        let leaves: Vec<PathBuf> = fs::read_dir(&parent)
            .map_err(|e| format!("{}: {e}", parent.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        let placement = (
            procs(&runner)?,
            leaves.len(),
            leaves.first().map(|l| procs(l)).transpose()?,
        );
        let out = burrow
            .output(Some(b""))
            .map_err(|e| format!("waiting for burrow: {e}"))?;
        ensure_eq!(
            placement,
            (1, 1, Some(1)),
            "processes in runner, leaves of grp, processes in the leaf"
        );
        ensure_eq!(
            (out.code(), lines.as_str(), out.stdout.as_str(), out.stderr.as_str()),
            (0, "0::/\nready\n", "", ""),
            "burrow in a cgroup2 subtree the user owns"
        );
        ensure!(
            parent.is_dir(),
            "no {}: the container was not placed in the caller's subtree",
            parent.display()
        );
        ensure!(!helpers.exists(), "{} exists: the helper was called", helpers.display());
        let owner = fs::metadata(&parent).map(|m| m.uid()).ok();
        ensure_eq!(owner, Some(uid), "the owner of {}", parent.display());
        let leaves: Vec<_> = fs::read_dir(&parent)
            .map_err(|e| format!("{e}"))?
            .flatten()
            .filter(|e| e.path().is_dir())
            .collect();
        ensure!(leaves.is_empty(), "the container's leaf outlived it: {leaves:?}");
        Ok(())
    })();
    // Whatever a failure left below the subtree (say the helper's D), deepest first.
    let mut dirs = vec![subtree.clone()];
    let mut i = 0;
    while i < dirs.len() {
        let below = fs::read_dir(&dirs[i]).into_iter().flatten().flatten();
        dirs.extend(below.map(|e| e.path()).filter(|p| p.is_dir()));
        i += 1;
    }
    for dir in dirs.iter().rev() {
        let _ = cgroups::rmdir_cgroup(dir);
    }
    note(
        "cgroup_uses_subtree_the_caller_owns",
        format!("placed below {}", subtree.display()),
    );
    result
}

// ---------------------------------------------------------------------------
// System containers: a debootstrapped Debian 12 with systemd (issue 15)

/// The Debian 12 image that tests/debian-image made (named by
/// $BURROW_TEST_DEBIAN, which tests/run sets), copied for one scenario and
/// given to the test user's ids as `burrow unshare tar -x` would; `None`
/// (the scenario skipped) without one.
fn debian_rootfs(f: &Fixture) -> Result<Option<PathBuf>, Failed> {
    let Some(image) = std::env::var_os("BURROW_TEST_DEBIAN") else {
        harness::skip("no Debian image: $BURROW_TEST_DEBIAN is unset (tests/run makes one with tests/debian-image)")?;
        return Ok(None);
    };
    let root = f.scratch("debian");
    let copy = run({
        let mut cmd = Command::new("cp");
        cmd.arg("-a").arg("--").arg(&image).arg(&root);
        cmd
    });
    ensure!(copy.code() == 0, "copying the Debian image: {copy}");
    let (subuid, subgid) = (f.user.first_subuid(), f.user.first_subgid());
    burrow_tests::rootfs::shift_tree(&root, (f.user.uid, f.user.gid), (subuid.start(), subgid.start()))
        .map_err(|e| format!("giving the image to the test user's ids: {e}"))?;
    Ok(Some(root))
}

/// What a booted Debian's getty prints on the console, before its prompt.
const GETTY_BANNER: &str = "Debian GNU/Linux 12 burrow console";

/// Reads the console (burrow's stdout, `-t`) until the getty's banner:
/// systemd started the console getty; an ended burrow fails.
fn wait_for_getty(burrow: &mut Spawned, seen: &mut String) -> Result<(), Failed> {
    loop {
        let line = burrow.read_line().map_err(|e| format!("reading the console: {e}"))?;
        if line.is_empty() {
            return Err(format!("burrow ended before a login prompt; the console said:\n{seen}").into());
        }
        seen.push_str(&line);
        if line.contains(GETTY_BANNER) {
            return Ok(());
        }
    }
}

/// `systemctl ARGS` inside the container whose burrow is `burrow`, as the
/// test user (the owner of its user namespace) with nsenter.
fn systemctl(f: &Fixture, burrow: u32, args: &[&str]) -> Result<Output, Failed> {
    let init = container_init(burrow)?;
    let mut cmd = f.as_user("nsenter");
    cmd.args(["-t", &init.to_string(), "-U", "-m", "-p", "--", "systemctl"])
        .args(args);
    Ok(run(cmd))
}

/// The container's pid 1: burrow's one child.
fn container_init(burrow: u32) -> Result<u32, Failed> {
    let mut children = Vec::new();
    let found = process::within(Duration::from_secs(20), || {
        children = process::children_of(burrow);
        children.len() == 1
    });
    ensure!(found, "burrow {burrow} has children {children:?}, expected one");
    Ok(children[0])
}

/// Boots `cmd` (a `burrow run -t ... /sbin/init`), waits for the getty and
/// for `systemctl is-system-running --wait` to say running.
fn boot_to_running(f: &Fixture, cmd: &mut Command, console: &mut String) -> Result<Spawned, Failed> {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut burrow = process::spawn(cmd).expect("start burrow");
    wait_for_getty(&mut burrow, console)?;
    let state = systemctl(f, burrow.pid, &["is-system-running", "--wait"])?;
    ensure_eq!(
        (state.stdout.trim(), state.code()),
        ("running", 0),
        "systemctl is-system-running inside: {state}\nthe console said:\n{console}"
    );
    Ok(burrow)
}

/// After a system container: no process of the test user, and nothing
/// below its delegated cgroups.
fn ensure_nothing_left(f: &Fixture) -> Result<(), Failed> {
    let uid = f.user.uid;
    ensure!(
        process::within(Duration::from_secs(10), || process::processes_of(uid, "").is_empty()),
        "processes of the test user left: {:?}",
        process::processes_of(uid, "")
    );
    let delegated: BTreeSet<PathBuf> = layout(f).hierarchies.iter().map(|h| h.delegated_dir(uid)).collect();
    let mut left = layout(f).snapshot(uid);
    left.retain(|dir, _| !delegated.contains(dir));
    ensure!(
        left.is_empty(),
        "cgroups left below the delegated ones: {:?}",
        left.keys().collect::<Vec<_>>()
    );
    Ok(())
}

fn systemd_args(root: &Path) -> Vec<String> {
    [
        "run",
        "--log-level",
        "info",
        "-t",
        "--rootfs",
        text(root),
        "--",
        "/sbin/init",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn text(path: &Path) -> &str {
    path.to_str().expect("fixture paths are UTF-8")
}

/// `burrow run -t --rootfs DEBIAN /sbin/init`, no capability added, on this
/// host's own cgroup layout (the CI host's is hybrid: the helper's
/// `cgroup-init` gives the container a cgroup2 leaf there): systemd boots
/// to `running` with a getty on the console; SIGTERM to burrow halts it
/// (SIGRTMIN+3) within 10 s, exit 0. Booted again, `systemctl reboot`
/// inside starts it again in place, once, and `systemctl poweroff` ends it.
/// Nothing is left: no process, no cgroup.
fn systemd_boots_halts_and_reboots(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).exclusive();
    if layout(f).v2().is_none() {
        return harness::skip("no cgroup2 hierarchy is mounted here: systemd needs one");
    }
    let Some(root) = debian_rootfs(f)? else {
        return Ok(());
    };
    let mut console = String::new();
    let mut cmd = f.as_user(&f.burrow);
    cmd.args(systemd_args(&root));
    let burrow = boot_to_running(f, &mut cmd, &mut console)?;
    burrow.signal(libc::SIGTERM).expect("signal burrow");
    let asked = Instant::now();
    let out = burrow.output(None).expect("wait for burrow");
    ensure!(
        asked.elapsed() < Duration::from_secs(10),
        "the halt took {:?}",
        asked.elapsed()
    );
    ensure_eq!(out.code(), 0, "burrow's status after SIGTERM: {out}");
    ensure!(
        out.stderr.contains("burrow: info: the container halted"),
        "burrow's lines: {out}"
    );
    // SIGRTMIN+3 is systemd's halt.target, as lxc-stop sends it.
    ensure!(out.stdout.contains("Halting system"), "systemd did not halt: {out}");
    ensure_nothing_left(f)?;

    let mut console = String::new();
    let mut cmd = f.as_user(&f.burrow);
    cmd.args(systemd_args(&root));
    let mut burrow = boot_to_running(f, &mut cmd, &mut console)?;
    let first = container_init(burrow.pid)?;
    systemctl(f, burrow.pid, &["reboot"])?;
    wait_for_getty(&mut burrow, &mut console)?;
    ensure!(
        container_init(burrow.pid)? != first,
        "the container's init is the same after a reboot"
    );
    let state = systemctl(f, burrow.pid, &["is-system-running", "--wait"])?;
    ensure_eq!(state.stdout.trim(), "running", "after the reboot: {state}");
    systemctl(f, burrow.pid, &["poweroff"])?;
    let out = burrow.output(None).expect("wait for burrow");
    ensure_eq!(out.code(), 0, "burrow's status after poweroff: {out}");
    ensure!(
        out.stderr
            .contains("burrow: info: the container rebooted: starting it again")
            && out.stderr.contains("burrow: info: the container halted"),
        "burrow's lines: {out}"
    );
    note("systemd_boots_halts_and_reboots", layout(f).describe());
    ensure_nothing_left(f)
}

/// The same Debian on the view of a pure cgroup2 host (every v1 hierarchy
/// unmounted in a private mount namespace): systemd boots to `running`,
/// `systemctl poweroff` inside ends it, exit 0, nothing left.
fn systemd_boots_on_a_pure_cgroup2_host(f: &Fixture) -> Result<(), Failed> {
    let _policy = policy(f).exclusive();
    if layout(f).v2().is_none() {
        return harness::skip("no cgroup2 hierarchy is mounted here");
    }
    let Some(root) = debian_rootfs(f)? else {
        return Ok(());
    };
    let command = format!("{} {}", text(&f.burrow), systemd_args(&root).join(" "));
    let mut cmd = cgroup2_only_view(f, &f.user, "", &command);
    let mut console = String::new();
    let burrow = boot_to_running(f, &mut cmd, &mut console)?;
    systemctl(f, burrow.pid, &["poweroff"])?;
    let out = burrow.output(None).expect("wait for burrow");
    ensure_eq!(out.code(), 0, "burrow's status after poweroff: {out}");
    ensure!(
        out.stderr.contains("burrow: info: the container halted"),
        "burrow's lines: {out}"
    );
    ensure_nothing_left(f)
}
