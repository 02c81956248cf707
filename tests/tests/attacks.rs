//! Attacks on burrow-helper: one scenario per attack class of issue #6
//! ("Setuid hygiene") and per historical advisory against a comparable
//! setuid helper that no other suite covers yet. The attacker is the
//! unprivileged test user, calling the helper (installed setuid root in the
//! fixture's temporary directory) with everything an execve lets it choose:
//! argv and environment byte for byte, inherited fds, rlimits, signals, and
//! its own processes as targets. Root (the test) sets up, watches (the
//! targets' maps, links, cgroups and fds, /proc of the running helper) and
//! catches the helper while it runs (`attack::Caught`: blocked writing to a
//! full pipe, or waiting for the caller's veth lock, which root holds).
//!
//! Every scenario asserts the exact refusal (exit code and the one stderr
//! line) or the exact success, and that nothing changed on the host. Each
//! one's comment names the check it guards (file `function`), and a
//! scenario named after an advisory says how that advisory worked.
//! Covered elsewhere, so not repeated here: argc 0 with an empty
//! environment (helper.rs `helper_refuses_argc_0`), closed stdio
//! (`helper_survives_closed_stdio`), a helper without its setuid bit and one
//! run inside a user namespace (`helper_refuses_not_privileged`,
//! network.rs `veth_refuses_not_privileged`), lxc-user-nic CVE-2017-5985
//! (network.rs `veth_refuses_foreign_netns`), cgroup CVE-2022-0492 (cgroup.rs
//! `cgroup_never_touches_release_agent`), and targets of another user
//! (helper.rs `helper_refuses_other_users_target`,
//! `helper_refuses_userns_owned_by_another`, cgroup.rs
//! `cgroup_refuses_other_users_target`).
//!
//! The suite sets up both the usernet and the cgroup policy, so it runs
//! alone, like the network and cgroup suites.

use burrow_shared::exit;
use burrow_shared::ids::{IdMapping, parse_map_file};
use burrow_shared::request::USAGE;
use burrow_tests::attack::{self, Caught, build_marker_library, fd_flags, fd_table, root_file};
use burrow_tests::cgroups::{self, cgroup2_only_view};
use burrow_tests::fixture::{Fixture, USER_PATH};
use burrow_tests::harness::{self, Scenario, Suite};
use burrow_tests::netns::{BRIDGE, Holder, TestNet, USERNET_FILE};
use burrow_tests::process::run_to_end as run;
use burrow_tests::process::{self, Output};
use burrow_tests::target::{Target, open_proc_dir};
use burrow_tests::user::SUBUID_FILE;
use burrow_tests::{Failed, ensure, ensure_eq};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

const SCENARIOS: &[(&str, Scenario)] = burrow_tests::scenarios![
    attack_environment_changes_nothing,
    attack_argv_edge_cases,
    attack_thousand_inherited_fds,
    attack_hostile_rlimits,
    attack_signal_storms,
    attack_cannot_trace_or_read_helper,
    attack_fails_closed_when_not_privileged,
    attack_cve_2016_8659_helper_not_dumpable,
    attack_cve_2018_6556_fd_never_read,
    attack_cve_2018_7169_setgroups_denied,
    attack_cve_2021_4034_argc_0_env_as_argv,
    attack_cve_2022_31214_setuid_process_as_target,
    attack_cve_2022_47952_no_existence_oracle,
    attack_cve_2024_21626_no_fd_leaks,
    attack_foreign_procfs_names_another_process,
];

fn main() -> ExitCode {
    harness::main_with_cgroup_policy(Suite {
        packages: &["burrow-helper"],
        network: true,
        scenarios: SCENARIOS,
    })
}

// ---------------------------------------------------------------------------
// Targets and outcomes

/// What the attack scenarios read of a target (`burrow_tests::target`).
trait Inspect {
    fn map_files(&self) -> Result<(String, String, String), Failed>;
    fn maps(&self, f: &Fixture) -> Result<Maps, Failed>;
    fn fds(&self) -> Result<BTreeMap<RawFd, String>, Failed>;
}

impl Inspect for Target {
    /// uid_map, gid_map and setgroups, as the kernel shows them.
    fn map_files(&self) -> Result<(String, String, String), Failed> {
        Ok((self.read("uid_map")?, self.read("gid_map")?, self.read("setgroups")?))
    }

    /// What an idmap request for the caller's own ids (`own_ids`) left.
    fn maps(&self, f: &Fixture) -> Result<Maps, Failed> {
        let (uid_map, gid_map, setgroups) = self.map_files()?;
        let own = |id| IdMapping::new(0, id, 1).map(|m| vec![m]);
        Ok(if uid_map.is_empty() && gid_map.is_empty() && setgroups == "allow\n" {
            Maps::Untouched
        } else if parse_map_file(&uid_map) == own(f.user.uid)
            && parse_map_file(&gid_map) == own(f.user.gid)
            && setgroups == "deny\n"
        {
            Maps::Complete
        } else {
            Maps::Partial(uid_map, gid_map, setgroups)
        })
    }

    fn fds(&self) -> Result<BTreeMap<RawFd, String>, Failed> {
        fd_table(self.pid).map_err(|e| Failed::from(format!("the fds of {}: {e}", self.pid)))
    }
}

/// The state of an idmap target: never written, written as asked
/// (setgroups `deny`, both maps), or anything in between.
#[derive(Debug, PartialEq, Eq)]
enum Maps {
    Untouched,
    Complete,
    Partial(String, String, String),
}

/// idmap of the caller's own uid and gid only: three writes (setgroups
/// `deny`, gid_map, uid_map), so the most room for a half-done state.
fn own_ids(f: &Fixture) -> Vec<String> {
    let (u, g) = (f.user.uid, f.user.gid);
    [
        "idmap",
        "--proc-fd",
        "3",
        "--uid",
        &format!("0:{u}:1"),
        "--gid",
        &format!("0:{g}:1"),
    ]
    .map(str::to_owned)
    .to_vec()
}

fn ok_idmap(target: &Target) -> String {
    format!("ok idmap pid={} uid=1 gid=1 setgroups=deny\n", target.pid)
}

/// The helper as the test user, with `fd` as its fd 3 and `args`.
fn helper_command<S: AsRef<OsStr>>(f: &Fixture, fd: Option<&File>, args: &[S]) -> Command {
    let mut cmd = f.as_user(&f.helper);
    cmd.args(args);
    if let Some(fd) = fd {
        process::pass_fd(&mut cmd, fd.as_raw_fd(), 3);
    }
    cmd
}

fn ensure_output(out: &Output, code: i32, stdout: &str, stderr: &str, what: &str) -> Result<(), Failed> {
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (code, stdout, stderr),
        "{what}: exit code, stdout and stderr"
    );
    Ok(())
}

/// Exit `code`, exactly `line` on stderr, nothing on stdout.
fn ensure_refused(out: &Output, code: i32, line: &str, what: &str) -> Result<(), Failed> {
    ensure_output(out, code, "", &format!("{line}\n"), what)
}

/// Runs `cmd` on `target`; expects exactly `line` (exit `code`) and the
/// target's maps untouched.
fn ensure_idmap_refusal(target: &Target, f: &Fixture, cmd: Command, code: i32, line: &str) -> Result<(), Failed> {
    let what = format!("{cmd:?}");
    ensure_refused(&run(cmd), code, line, &what)?;
    ensure_eq!(target.maps(f)?, Maps::Untouched, "the target's maps after {what}");
    Ok(())
}

fn user_ids(f: &Fixture) -> Option<(u32, u32)> {
    Some((f.user.uid, f.user.gid))
}

/// The test user sends `signal` (a name `kill` knows) to `pid`.
fn user_kill(f: &Fixture, signal: &str, pid: u32) -> Result<(), Failed> {
    let mut cmd = f.as_user("kill");
    cmd.arg(format!("-{signal}")).arg(pid.to_string());
    ensure_output(&run(cmd), 0, "", "", &format!("kill -{signal} {pid} as the test user"))
}

// ---------------------------------------------------------------------------
// veth and cgroup requests

fn veth_command(f: &Fixture, net: &TestNet, fd: Option<&File>, bridge: &str) -> Command {
    let mut cmd = net.as_user(&f.helper);
    cmd.args(["veth", "--netns-fd", "3", "--bridge", bridge]);
    if let Some(fd) = fd {
        process::pass_fd(&mut cmd, fd.as_raw_fd(), 3);
    }
    cmd
}

fn no_usernet_entry(f: &Fixture, bridge: &str) -> String {
    format!(
        "burrow-helper: veth: {} may not create veths on {bridge} (no entry in {USERNET_FILE})",
        f.user.name
    )
}

/// Runs `cmd` (a veth request); expects exactly `line` (exit `code`) and no
/// link added or removed in `net` or in `holder`'s namespace.
fn ensure_veth_refusal(net: &TestNet, holder: &Holder, cmd: Command, code: i32, line: &str) -> Result<(), Failed> {
    let before = (net.link_names()?, holder.link_names()?);
    let what = format!("{cmd:?}");
    ensure_refused(&run(cmd), code, line, &what)?;
    ensure_eq!(
        (net.link_names()?, holder.link_names()?),
        before,
        "the links after {what}"
    );
    Ok(())
}

/// The veth helper's success: `ok veth host=bhX peer=bcX bridge=BRIDGE`;
/// returns the host end's name.
fn veth_created(out: &Output, bridge: &str) -> Result<String, Failed> {
    let hex = out
        .stdout
        .strip_prefix("ok veth host=bh")
        .and_then(|rest| rest.get(..12))
        .unwrap_or_default();
    let expected = format!("ok veth host=bh{hex} peer=bc{hex} bridge={bridge}\n");
    ensure!(
        hex.len() == 12 && out.code() == exit::OK && out.stdout == expected && out.stderr.is_empty(),
        "the veth helper did not succeed on {bridge}: {out}"
    );
    Ok(format!("bh{hex}"))
}

fn cgroup_policy(f: &Fixture) -> &cgroups::Policy {
    f.cgroup.as_ref().expect("the suite sets up the cgroup policy")
}

/// A leaf name no other request uses.
fn leaf_name(what: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("a{what}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The leaves the cgroup helper makes for `name`, in mountinfo order.
fn leaves(f: &Fixture, name: &str) -> Vec<PathBuf> {
    cgroup_policy(f)
        .layout
        .delegated()
        .map(|h| h.delegated_dir(f.user.uid).join(name))
        .collect()
}

fn ok_cgroup(f: &Fixture, name: &str) -> String {
    let shown: Vec<String> = leaves(f, name).iter().map(|l| l.display().to_string()).collect();
    format!("ok cgroup {}\n", shown.join(" "))
}

fn cgroup_command(f: &Fixture, fd: Option<&File>, name: &str) -> Command {
    helper_command(f, fd, &["cgroup", "--proc-fd", "3", "--name", name])
}

/// Fails if a leaf `name` exists in any hierarchy.
fn ensure_no_leaf(f: &Fixture, name: &str) -> Result<(), Failed> {
    for leaf in leaves(f, name) {
        ensure!(!leaf.exists(), "{} was left behind", leaf.display());
    }
    Ok(())
}

/// Ends `target` (so that its leaves empty) and removes the leaves `name`.
fn remove_leaves(f: &Fixture, target: Target, name: &str) -> Result<(), Failed> {
    target.end()?;
    for leaf in leaves(f, name) {
        cgroups::rmdir_cgroup(&leaf).map_err(|e| format!("removing {}: {e}", leaf.display()))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Catching the helper while it runs

/// The moments at which the scenarios catch the running helper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Moment {
    /// `--help`, blocked printing the usage: still euid 0 (before the drop).
    Help,
    /// idmap, blocked printing its success line: the caller's uids, with
    /// CAP_SETUID and CAP_SETGID permitted.
    IdmapDone,
    /// veth, waiting for the caller's lock (root holds it): the caller's
    /// uids, CAP_NET_ADMIN permitted, its netlink socket open.
    VethWaiting,
    /// cgroup, blocked printing its success line: the caller's uids,
    /// CAP_CHOWN, CAP_DAC_OVERRIDE and CAP_SETUID permitted, the target held
    /// if a cgroup2 leaf was made.
    CgroupDone,
}

const MOMENTS: [Moment; 4] = [Moment::Help, Moment::IdmapDone, Moment::VethWaiting, Moment::CgroupDone];

/// The helper as a scenario catches it.
struct Running {
    pid: u32,
}

/// What the caught helper did once let go on.
struct Finished {
    out: Output,
    /// Its target's fds (as root reads them) before the helper started and
    /// after it ended (empty for `--help`, which has no target).
    target_fds: (BTreeMap<RawFd, String>, BTreeMap<RawFd, String>),
    /// Its success line, as it prints it when it finishes normally.
    expected: String,
    /// Its working directory: the test user's, empty when it started.
    cwd: PathBuf,
}

/// Catches the helper at `moment`, runs `during` on it, lets it go on and
/// waits for it; then removes what it made.
fn catch_at(
    f: &Fixture,
    moment: Moment,
    during: impl FnOnce(&Running) -> Result<(), Failed>,
) -> Result<Finished, Failed> {
    let cwd = f.user_dir("cwd", 0o755);
    let caught = |mut cmd: Command| -> Result<Caught, Failed> {
        cmd.current_dir(&cwd);
        // What a caller after a core dump of the helper would do.
        Limit {
            name: "RLIMIT_CORE",
            resource: libc::RLIMIT_CORE,
            value: libc::RLIM_INFINITY,
        }
        .on(&mut cmd);
        match moment {
            Moment::VethWaiting => Caught::in_syscall(cmd, libc::SYS_flock, None),
            _ => Caught::writing(cmd, 1),
        }
        .map_err(Failed::from)
    };
    let running = |pid| Running { pid };
    match moment {
        Moment::Help => {
            let caught = caught(helper_command(f, None, &["--help"]))?;
            let during = during(&running(caught.pid));
            let out = caught.finish().map_err(|e| format!("letting the helper go on: {e}"))?;
            during?;
            let expected = format!("{USAGE}\n");
            let none = BTreeMap::new();
            Ok(Finished {
                out,
                target_fds: (none.clone(), none),
                expected,
                cwd,
            })
        }
        Moment::IdmapDone => {
            let target = Target::user_ns(f, &f.user)?;
            let before = target.fds()?;
            let caught = caught(helper_command(f, Some(&target.proc_dir), &own_ids(f)))?;
            let during = during(&running(caught.pid));
            let out = caught.finish().map_err(|e| format!("letting the helper go on: {e}"))?;
            during?;
            ensure_eq!(target.maps(f)?, Maps::Complete, "the target's maps");
            Ok(Finished {
                expected: ok_idmap(&target),
                target_fds: (before, target.fds()?),
                out,
                cwd,
            })
        }
        Moment::VethWaiting => {
            let net = TestNet::new(f, &[])?;
            let holder = net.holder(user_ids(f))?;
            let before = fd_table(holder.pid).map_err(|e| format!("the holder's fds: {e}"))?;
            let lock = attack::hold_veth_lock(f.user.uid).map_err(|e| format!("holding the veth lock: {e}"))?;
            let caught = caught(veth_command(f, &net, Some(&holder.netns), BRIDGE))?;
            let during = during(&running(caught.pid));
            drop(lock);
            let out = caught.finish().map_err(|e| format!("letting the helper go on: {e}"))?;
            during?;
            // The names are random: its own line, once shown well formed
            // (none if it did not finish).
            let expected = match out.code() {
                exit::OK => veth_created(&out, BRIDGE).map(|_| out.stdout.clone())?,
                _ => String::new(),
            };
            let after = fd_table(holder.pid).map_err(|e| format!("the holder's fds: {e}"))?;
            Ok(Finished {
                out,
                target_fds: (before, after),
                expected,
                cwd,
            })
        }
        Moment::CgroupDone => {
            let _policy = cgroup_policy(f).shared();
            let name = leaf_name("caught");
            let target = Target::user_ns(f, &f.user)?;
            let before = target.fds()?;
            let caught = caught(cgroup_command(f, Some(&target.proc_dir), &name))?;
            let during = during(&running(caught.pid));
            let out = caught.finish().map_err(|e| format!("letting the helper go on: {e}"));
            let after = target.fds();
            remove_leaves(f, target, &name)?;
            let (out, after) = (out?, after?);
            during?;
            Ok(Finished {
                out,
                target_fds: (before, after),
                expected: ok_cgroup(f, &name),
                cwd,
            })
        }
    }
}

/// The caught helper finished as it would have without being caught.
fn ensure_finished_normally(finished: &Finished, moment: Moment) -> Result<(), Failed> {
    let what = format!("the helper caught at {moment:?}, let go on");
    ensure_output(&finished.out, exit::OK, &finished.expected, "", &what)
}

/// `probe spy PID ITEMS...` as the test user: one line per item.
fn spy(f: &Fixture, pid: u32, items: &[String]) -> Result<Vec<String>, Failed> {
    let mut cmd = f.as_user(&f.probe);
    cmd.arg("spy").arg(pid.to_string()).args(items);
    let out = run(cmd);
    ensure!(out.code() == 0 && out.stderr.is_empty(), "probe spy failed: {out}");
    Ok(out.stdout.lines().map(str::to_owned).collect())
}

const EPERM: &str = "Operation not permitted (os error 1)";
const EACCES: &str = "Permission denied (os error 13)";

// ---------------------------------------------------------------------------
// Environment and argv

/// Builds the traps a hostile environment points at, in `dir` (the test
/// user's): `preload.so` (a marker library), `lib/libc.so.6` (the same,
/// under the name of the one library the helper loads), `gconv/` (a gconv module
/// PWNKIT that is the marker library, as in the pkexec exploit), and policy
/// files granting the test user everything. Anything that loads one of the
/// libraries creates `dir/marker`.
fn build_traps(f: &Fixture, dir: &Path) -> Result<(), Failed> {
    let marker = dir.join("marker");
    let write = |path: PathBuf, text: &str| fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()));
    for sub in ["lib", "gconv"] {
        fs::create_dir(dir.join(sub)).map_err(|e| format!("mkdir {sub}: {e}"))?;
    }
    build_marker_library(dir, &dir.join("preload.so"), &marker)?;
    build_marker_library(dir, &dir.join("lib/libc.so.6"), &marker)?;
    build_marker_library(dir, &dir.join("gconv/pwnkit.so"), &marker)?;
    write(
        dir.join("gconv/gconv-modules"),
        "module UTF-8// PWNKIT// pwnkit 1\nmodule PWNKIT// UTF-8// pwnkit 1\n",
    )?;
    let everything = format!("{}:1:4000000000\n", f.user.name);
    write(dir.join("subuid"), &everything)?;
    write(dir.join("subgid"), &everything)?;
    write(dir.join("usernet"), &format!("{} veth brnone 4\n", f.user.name))?;
    write(dir.join("cgroup"), &format!("{} nest\n", f.user.name))?;
    // Controls: the traps work on programs that are not setuid.
    let mut control = f.as_user("/bin/true");
    control.env("LD_PRELOAD", dir.join("preload.so"));
    let out = run(control);
    ensure!(
        out.status.success() && marker.exists(),
        "control: LD_PRELOAD did not load the marker library: {out}"
    );
    fs::remove_file(&marker).map_err(|e| format!("removing the marker: {e}"))?;
    let mut control = f.as_user("iconv");
    control
        .args(["-f", "UTF-8", "-t", "PWNKIT"])
        .env("GCONV_PATH", dir.join("gconv"));
    let out = process::run(&mut control, Some(b"x")).map_err(|e| format!("iconv: {e}"))?;
    ensure!(
        marker.exists(),
        "control: GCONV_PATH did not load the gconv module: {out}"
    );
    fs::remove_file(&marker).map_err(|e| format!("removing the marker: {e}"))?;
    Ok(())
}

/// The hostile environment: every variable the dynamic loader, glibc, Rust
/// and a careless helper might read, pointed at `dir`'s traps, malformed
/// entries, a huge one and a great many.
fn hostile_environment(dir: &Path) -> Vec<Vec<u8>> {
    let d = dir.display();
    let mut env: Vec<String> = vec![
        format!("LD_PRELOAD={d}/preload.so"),
        format!("LD_LIBRARY_PATH={d}/lib"),
        format!("LD_AUDIT={d}/preload.so"),
        "LD_DEBUG=all".into(),
        format!("LD_DEBUG_OUTPUT={d}/ld-debug"),
        "LD_SHOW_AUXV=1".into(),
        "LD_BIND_NOW=1".into(),
        format!("LD_PROFILE_OUTPUT={d}"),
        "GLIBC_TUNABLES=glibc.malloc.check=3:glibc.malloc.mmap_threshold=1:glibc.rtld.nns=1".into(),
        // The shape of CVE-2023-4911 (Looney Tunables).
        format!(
            "GLIBC_TUNABLES=glibc.malloc.mxfast=glibc.malloc.mxfast={}",
            "A".repeat(4000)
        ),
        format!("GCONV_PATH={d}/gconv"),
        "CHARSET=PWNKIT".into(),
        "LANG=PWNKIT".into(),
        format!("LC_ALL=../../../../..{d}/locale"),
        "LANGUAGE=de:fr".into(),
        format!("LOCPATH={d}"),
        format!("NLSPATH={d}/%N"),
        format!("TZ=:{d}/tz"),
        format!("TZDIR={d}"),
        "RUST_LOG=trace".into(),
        "RUST_BACKTRACE=full".into(),
        "RUST_LIB_BACKTRACE=1".into(),
        "RUST_MIN_STACK=1".into(),
        "MALLOC_CHECK_=3".into(),
        "MALLOC_PERTURB_=85".into(),
        "MALLOC_ARENA_MAX=1".into(),
        format!("BURROW_SUBUID_FILE={d}/subuid"),
        format!("BURROW_SUBGID_FILE={d}/subgid"),
        format!("BURROW_USERNET_FILE={d}/usernet"),
        format!("BURROW_CGROUP_FILE={d}/cgroup"),
        format!("BURROW_STATE_DIR={d}"),
        "USER=root".into(),
        "LOGNAME=root".into(),
        "HOME=/root".into(),
        format!("PATH={d}"),
        format!("TMPDIR={d}"),
        format!("HOSTALIASES={d}/hosts"),
        "RES_OPTIONS=debug".into(),
        // Malformed: no `=`, empty, no name; and words of a request.
        "NOEQUALS".into(),
        String::new(),
        "=value".into(),
        "idmap".into(),
        "--help".into(),
    ];
    // Huge: 1.4 MiB in entries just below the kernel's 128 KiB per string.
    env.extend((0..12).map(|i| format!("BIG{i}={}", "x".repeat(120_000))));
    // Many: 5000 small ones.
    env.extend((0..5000).map(|i| format!("V{i}=1")));
    env.into_iter().map(String::into_bytes).collect()
}

/// Runs the helper from `cmd` (its `pre_exec`s set up) with argv `args` and
/// the environment `envp`, byte for byte.
fn with_environment(f: &Fixture, mut cmd: Command, args: &[String], envp: &[Vec<u8>]) -> Output {
    let helper = f.helper.as_os_str().as_bytes().to_vec();
    let argv: Vec<&[u8]> = std::iter::once(helper.as_slice())
        .chain(args.iter().map(|a| a.as_bytes()))
        .collect();
    let envp: Vec<&[u8]> = envp.iter().map(Vec::as_slice).collect();
    process::exec_with(&mut cmd, &f.helper, &argv, &envp);
    run(cmd)
}

/// Guards the helper's immunity to its environment: the dynamic loader's
/// secure mode for a setuid program (AT_SECURE: LD_*, GCONV_PATH,
/// GLIBC_TUNABLES, LOCPATH, ... dropped before main), and in the helper
/// hygiene.rs `reset_inherited_state` (clearenv before anything is
/// parsed), the compile-time policy paths (`option_env!` in
/// shared/src/subid.rs, veth.rs, cgroup.rs) and identity.rs
/// `Caller::from_real_ids` (never USER or
/// LOGNAME). A successful idmap request, a refused one and a refused veth
/// request give, under the hostile environment, exactly the output of a
/// clean one (each on a fresh target), load no trap, and write the same maps.
fn attack_environment_changes_nothing(f: &Fixture) -> Result<(), Failed> {
    let dir = f.user_dir("env", 0o755);
    build_traps(f, &dir)?;
    let hostile = hostile_environment(&dir);
    let clean = vec![b"PATH=/usr/bin:/bin".to_vec()];
    let (u, g) = (f.user.uid, f.user.gid);
    let (subuid, subgid) = (f.user.first_subuid(), f.user.first_subgid());
    let granted = [
        format!("--uid=0:{u}:1"),
        format!("--uid=1:{}:{}", subuid.start(), subuid.count().min(65536)),
        format!("--gid=0:{g}:1"),
        format!("--gid=1:{}:{}", subgid.start(), subgid.count().min(65536)),
    ];
    let m = |ns, host, count: u32| IdMapping::new(ns, host, count.min(65536)).expect("a valid mapping");
    let want_uid = vec![m(0, u, 1), m(1, subuid.start(), subuid.count())];
    let want_gid = vec![m(0, g, 1), m(1, subgid.start(), subgid.count())];
    let split = |option: &str| -> Vec<String> {
        let (name, value) = option.split_once('=').expect("an option=value");
        vec![name.to_owned(), value.to_owned()]
    };
    let mut full = vec!["idmap".to_owned(), "--proc-fd".to_owned(), "3".to_owned()];
    full.extend(granted.iter().flat_map(|o| split(o)));
    // One id past everything /etc/subuid grants the user (the trap grants it).
    let outside = IdMapping::new(1, 4_000_000_000, 1).expect("a valid mapping");
    let mut refused = own_ids(f);
    refused.extend(["--uid".to_owned(), outside.to_arg()]);
    let not_granted = format!(
        "burrow-helper: idmap: uid range {outside} is not granted to {} by {SUBUID_FILE}\n",
        f.user.name
    );
    let net = TestNet::new(f, &["brnone"])?;
    let holder = net.holder(user_ids(f))?;
    for (name, envp) in [("clean", &clean), ("hostile", &hostile)] {
        let target = Target::user_ns(f, &f.user)?;
        let out = with_environment(
            f,
            helper_command(f, Some(&target.proc_dir), &[] as &[&str]),
            &full,
            envp,
        );
        let ok = format!("ok idmap pid={} uid=2 gid=2 setgroups=allow\n", target.pid);
        ensure_output(
            &out,
            exit::OK,
            &ok,
            "",
            &format!("a granted request, {name} environment"),
        )?;
        let (uid_map, gid_map, setgroups) = target.map_files()?;
        ensure_eq!(
            (parse_map_file(&uid_map), parse_map_file(&gid_map), setgroups.as_str()),
            (Some(want_uid.clone()), Some(want_gid.clone()), "allow\n"),
            "the maps written, {name} environment"
        );

        let target = Target::user_ns(f, &f.user)?;
        let out = with_environment(
            f,
            helper_command(f, Some(&target.proc_dir), &[] as &[&str]),
            &refused,
            envp,
        );
        ensure_output(
            &out,
            exit::REFUSED,
            "",
            &not_granted,
            &format!("a refused request, {name} environment"),
        )?;
        ensure_eq!(
            target.maps(f)?,
            Maps::Untouched,
            "the target's maps, {name} environment"
        );

        let before = (net.link_names()?, holder.link_names()?);
        let args: Vec<String> = ["veth", "--netns-fd", "3", "--bridge", "brnone"]
            .map(str::to_owned)
            .to_vec();
        let mut cmd = net.as_user(&f.helper);
        process::pass_fd(&mut cmd, holder.netns.as_raw_fd(), 3);
        let out = with_environment(f, cmd, &args, envp);
        let line = format!("{}\n", no_usernet_entry(f, "brnone"));
        ensure_output(
            &out,
            exit::REFUSED,
            "",
            &line,
            &format!("a refused veth request, {name} environment"),
        )?;
        ensure_eq!(
            (net.link_names()?, holder.link_names()?),
            before,
            "the links, {name} environment"
        );
    }
    // The one variable that still shows: glibc's loader honours LD_PROFILE
    // for a setuid program, writing to /var/profile/LIB.profile if root made
    // that file and otherwise saying on stderr that it cannot; before main,
    // so beyond the helper's reach (a known limit in SECURITY.md).
    let profile = "/var/profile/libc.so.6.profile";
    ensure!(
        !Path::new(profile).exists(),
        "{profile} exists: the loader would write to it"
    );
    let target = Target::user_ns(f, &f.user)?;
    let mut envp = hostile.clone();
    envp.push(b"LD_PROFILE=libc.so.6".to_vec());
    let out = with_environment(
        f,
        helper_command(f, Some(&target.proc_dir), &[] as &[&str]),
        &refused,
        &envp,
    );
    let loader = format!("{profile}: cannot open file: No such file or directory\n");
    ensure_output(
        &out,
        exit::REFUSED,
        "",
        &format!("{loader}{not_granted}"),
        "with LD_PROFILE",
    )?;
    ensure_eq!(target.maps(f)?, Maps::Untouched, "the target's maps, with LD_PROFILE");
    let left: Vec<String> = fs::read_dir(&dir)
        .map_err(|e| format!("listing {}: {e}", dir.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name == "marker" || name.starts_with("ld-debug") || name.starts_with("gmon"))
        .collect();
    ensure_eq!(
        left,
        Vec::<String>::new(),
        "files the traps leave when something falls in"
    );
    Ok(())
}

/// Guards shared/src/request.rs `parse` (argument count and length bounds,
/// UTF-8, an unknown option refused, `for_each_option` taking the next word
/// as the value whatever it looks like) and main.rs `run` (`--help` counts
/// only alone): each request is refused with its exact line and the target
/// (maps, links) is untouched; option-looking bridge names are bridge names.
fn attack_argv_edge_cases(f: &Fixture) -> Result<(), Failed> {
    let (u, g) = (f.user.uid, f.user.gid);
    let own = format!("0:{u}:1");
    fn bytes<'a>(words: &[&'a [u8]]) -> Vec<&'a OsStr> {
        words.iter().map(|w| OsStr::from_bytes(w)).collect()
    }
    let huge = format!("{own}{}", "0".repeat(131_071 - own.len()));
    let mut many: Vec<&[u8]> = vec![b"idmap", b"--proc-fd", b"3"];
    for _ in 0..49_998 {
        many.extend([b"--uid".as_slice(), own.as_bytes()]);
    }
    let gid = format!("0:{g}:1");
    let cases: Vec<(Vec<&OsStr>, i32, String)> = vec![
        (
            bytes(&[b"idm\xffap", b"--proc-fd", b"3", b"--uid", own.as_bytes()]),
            exit::USAGE,
            "argument 1 is not valid UTF-8".into(),
        ),
        (
            bytes(&[b"idmap", b"--proc-fd", b"3", b"--uid", b"0:\xff\xfe:1"]),
            exit::USAGE,
            "argument 5 is not valid UTF-8".into(),
        ),
        (
            bytes(&[
                b"idmap",
                b"--proc-fd",
                b"3",
                b"--gid",
                gid.as_bytes(),
                b"--uid",
                huge.as_bytes(),
            ]),
            exit::USAGE,
            "argument 7 is longer than 64 bytes".into(),
        ),
        (
            bytes(&many),
            exit::USAGE,
            format!("too many arguments ({}, at most 1363)", many.len()),
        ),
        (
            bytes(&[b"idmap", b"--proc-fd", b"--uid", own.as_bytes()]),
            exit::USAGE,
            "idmap: --proc-fd \"--uid\" is not a descriptor from 3 to 1023".into(),
        ),
        (
            bytes(&[b"idmap", b"--proc-fd", b"3", b"--help", b"--uid", own.as_bytes()]),
            exit::USAGE,
            "idmap: unknown option \"--help\"".into(),
        ),
        (
            bytes(&[b"idmap", b"--proc-fd", b"3", b"--uid", b"--help"]),
            exit::USAGE,
            "idmap: bad id mapping \"--help\": expected NS:HOST:COUNT".into(),
        ),
        (
            bytes(&[b"idmap", b"--help"]),
            exit::USAGE,
            "idmap: unknown option \"--help\"".into(),
        ),
        (
            bytes(&[b"--help", b"idmap", b"--proc-fd", b"3", b"--uid", own.as_bytes()]),
            exit::USAGE,
            "unknown operation \"--help\"".into(),
        ),
        (
            bytes(&[b"--help", b"--help"]),
            exit::USAGE,
            "unknown operation \"--help\"".into(),
        ),
    ];
    let target = Target::user_ns(f, &f.user)?;
    for (args, code, line) in cases {
        let cmd = helper_command(f, Some(&target.proc_dir), &args);
        ensure_idmap_refusal(&target, f, cmd, code, &format!("burrow-helper: {line}"))?;
    }
    // A bridge may be called `--help` or `--netns-fd`: the test user has no
    // rule for such a bridge, so the refusal is policy's, not the parser's.
    let net = TestNet::new(f, &[])?;
    let holder = net.holder(user_ids(f))?;
    for args in [
        ["veth", "--netns-fd", "3", "--bridge", "--help"],
        ["veth", "--bridge", "--netns-fd", "--netns-fd", "3"],
    ] {
        let bridge = if args[1] == "--bridge" { args[2] } else { args[4] };
        let mut cmd = net.as_user(&f.helper);
        cmd.args(args);
        process::pass_fd(&mut cmd, holder.netns.as_raw_fd(), 3);
        ensure_veth_refusal(&net, &holder, cmd, exit::REFUSED, &no_usernet_entry(f, bridge))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// fds

/// Guards hygiene.rs `close_inherited_fds` (every fd above 2 but the target
/// closed right after parsing) and shared/src/request.rs `parse_fd` (fds up
/// to 1023): the test user hands the helper a thousand open fds (its
/// /dev/null stdin, and a root-only file root opened) and the target as fd
/// 1023. Caught printing its success line, the helper holds fds 0, 1, 2 and
/// 1023 and nothing else; let go on, it finishes normally. `--proc-fd 1024`
/// is refused.
fn attack_thousand_inherited_fds(f: &Fixture) -> Result<(), Failed> {
    let secret_path = f.scratch("secret");
    let secret = root_file(&secret_path, "root's secret\n", 0o600).map_err(|e| format!("a root-only file: {e}"))?;
    let target = Target::user_ns(f, &f.user)?;
    let mut args = own_ids(f);
    args[2] = "1023".into();
    let mut cmd = helper_command(f, None, &args);
    let (target_fd, secret_fd) = (target.proc_dir.as_raw_fd(), secret.as_raw_fd());
    // SAFETY: dup2 only (async-signal-safe), from fds the parent keeps open
    // until the spawn returns; the copies are not close-on-exec.
    unsafe {
        cmd.pre_exec(move || {
            for (from, to) in [(target_fd, 1023), (secret_fd, 1022)] {
                if libc::dup2(from, to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for fd in 10..1010 {
                if libc::dup2(if fd % 2 == 0 { 0 } else { 1022 }, fd) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let caught = Caught::writing(cmd, 1)?;
    let fds = fd_table(caught.pid).map_err(|e| format!("the helper's fds: {e}"));
    let out = caught.finish().map_err(|e| format!("letting the helper go on: {e}"))?;
    let fds: Vec<RawFd> = fds?.into_keys().collect();
    ensure_eq!(
        fds,
        vec![0, 1, 2, 1023],
        "the fds of the helper caught printing its success line"
    );
    ensure_output(
        &out,
        exit::OK,
        &ok_idmap(&target),
        "",
        "the helper with a thousand inherited fds",
    )?;
    ensure_eq!(target.maps(f)?, Maps::Complete, "the target's maps");

    let target = Target::user_ns(f, &f.user)?;
    let mut args = own_ids(f);
    args[2] = "1024".into();
    let cmd = helper_command(f, Some(&target.proc_dir), &args);
    let line = "burrow-helper: idmap: --proc-fd \"1024\" is not a descriptor from 3 to 1023";
    ensure_idmap_refusal(&target, f, cmd, exit::USAGE, line)
}

// ---------------------------------------------------------------------------
// rlimits

/// A limit the caller sets before it runs the helper.
#[derive(Clone, Copy, Debug)]
struct Limit {
    name: &'static str,
    resource: libc::__rlimit_resource_t,
    value: u64,
}

impl Limit {
    fn on(self, cmd: &mut Command) {
        let limit = libc::rlimit {
            rlim_cur: self.value,
            rlim_max: self.value,
        };
        // SAFETY: setrlimit is async-signal-safe; lowering a limit (or a
        // soft one up to the hard one) needs no privilege.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setrlimit(self.resource, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

/// What a run under a limit did, judged from outside.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Succeeded: exactly its success line, and the work is complete.
    Done,
    /// Refused with this one line (exit 71, or 78 when opening a policy or
    /// state path failed); nothing was done.
    Refused(String),
    /// Ended without the helper's one-line refusal (the kernel, the dynamic
    /// loader or the Rust runtime gave up: a nonzero exit or a signal, with
    /// stderr as it was); nothing was done.
    Died(String),
}

/// Judges one run: `done` and `untouched` say what the target looks like
/// after it. Anything half-done, or a success without its line, fails.
fn judge(out: &Output, ok: &str, done: bool, untouched: bool, what: &str) -> Result<Outcome, Failed> {
    let one_line = out.stderr.lines().count() == 1 && out.stderr.ends_with('\n');
    match out.code() {
        exit::OK if done && out.stdout == ok && out.stderr.is_empty() => Ok(Outcome::Done),
        exit::OS_ERROR | exit::POLICY_FILE
            if untouched && out.stdout.is_empty() && one_line && out.stderr.starts_with("burrow-helper: ") =>
        {
            Ok(Outcome::Refused(out.stderr.trim_end().to_owned()))
        }
        code if code != exit::OK && untouched && !out.stderr.starts_with("burrow-helper: ") => {
            Ok(Outcome::Died(format!("{}: {}", out.status, out.stderr.trim_end())))
        }
        _ => Err(Failed::from(format!(
            "{what}: neither done nor cleanly refused (target {}): {out}",
            match (done, untouched) {
                (true, _) => "done",
                (_, true) => "untouched",
                _ => "half-done",
            }
        ))),
    }
}

/// The floors of hygiene.rs `MIN_LIMITS` (resource, its name, the least
/// soft limit the helper starts work under), and the limits swept below
/// each: from far too low to one below the floor.
fn sweeps() -> Vec<(Vec<Limit>, u64)> {
    let (kib, mib) = (1 << 10, 1 << 20);
    let sweep = |name, resource, floor: u64, below: Vec<u64>| {
        let values = below.into_iter().chain([floor - 1, floor]);
        let limits = values.map(|value| Limit { name, resource, value }).collect();
        (limits, floor)
    };
    vec![
        sweep(
            "RLIMIT_NOFILE",
            libc::RLIMIT_NOFILE,
            64,
            vec![3, 4, 5, 6, 8, 9, 12, 16, 24, 32],
        ),
        sweep(
            "RLIMIT_AS",
            libc::RLIMIT_AS,
            64 * mib,
            (1..=16).map(|i| i * 512 * kib).chain([16 * mib, 32 * mib]).collect(),
        ),
        sweep(
            "RLIMIT_DATA",
            libc::RLIMIT_DATA,
            32 * mib,
            vec![64 * kib, 128 * kib, 256 * kib, 512 * kib, mib, 4 * mib, 16 * mib],
        ),
        sweep(
            "RLIMIT_STACK",
            libc::RLIMIT_STACK,
            256 * kib,
            vec![4 * kib, 8 * kib, 12 * kib, 16 * kib, 32 * kib, 64 * kib, 128 * kib],
        ),
    ]
}

/// The refusal of a limit below its floor.
fn below_floor(limit: Limit, floor: u64) -> Outcome {
    Outcome::Refused(format!(
        "burrow-helper: checking resource limits: {} is {}, below the {floor} the helper needs",
        limit.name, limit.value
    ))
}

/// Checks a sweep's outcomes (each already judged done or not, never
/// half-done): below the floor, the helper either never got going or
/// refused with the floor's line, and so it did just below the floor; at
/// the floor it succeeded.
fn ensure_floor(outcomes: &[(Limit, Outcome)], floor: u64, what: &str) -> Result<(), Failed> {
    for (limit, outcome) in outcomes {
        let refused = below_floor(*limit, floor);
        let expected = match limit.value {
            value if value >= floor => *outcome == Outcome::Done,
            value if value == floor - 1 => *outcome == refused,
            _ => *outcome == refused || matches!(outcome, Outcome::Died(_)),
        };
        ensure!(expected, "{what} at {}: {outcome:?}", limit.value);
    }
    Ok(())
}

/// idmap under `limit`, on a fresh target.
fn idmap_under(f: &Fixture, limit: Limit) -> Result<Outcome, Failed> {
    let target = Target::user_ns(f, &f.user)?;
    let mut cmd = helper_command(f, Some(&target.proc_dir), &own_ids(f));
    limit.on(&mut cmd);
    let out = run(cmd);
    let maps = target.maps(f)?;
    let what = format!("idmap under {limit:?}");
    judge(
        &out,
        &ok_idmap(&target),
        maps == Maps::Complete,
        maps == Maps::Untouched,
        &what,
    )
}

/// veth under `limit`, on a fresh namespace holder in `net`.
fn veth_under(f: &Fixture, net: &TestNet, limit: Limit) -> Result<Outcome, Failed> {
    let holder = net.holder(user_ids(f))?;
    let before = net.link_names()?;
    let mut cmd = veth_command(f, net, Some(&holder.netns), BRIDGE);
    limit.on(&mut cmd);
    let out = run(cmd);
    let (after, peers) = (net.link_names()?, holder.link_names()?);
    let what = format!("veth under {limit:?}");
    let untouched = after == before && peers.len() == 1;
    let host = (out.code() == exit::OK)
        .then(|| veth_created(&out, BRIDGE))
        .transpose()?;
    let done = host
        .as_ref()
        .is_some_and(|h| after.contains(h) && after.len() == before.len() + 1 && peers.len() == 2);
    let outcome = judge(&out, &out.stdout, done, untouched, &what)?;
    holder.end()?;
    if let Some(host) = host {
        net.wait_until_gone(&host)?;
    }
    Ok(outcome)
}

/// cgroup under `limit`, on a fresh target.
fn cgroup_under(f: &Fixture, limit: Limit) -> Result<Outcome, Failed> {
    let name = leaf_name("limit");
    let target = Target::user_ns(f, &f.user)?;
    let before = target.read("cgroup")?;
    let mut cmd = cgroup_command(f, Some(&target.proc_dir), &name);
    limit.on(&mut cmd);
    let out = run(cmd);
    let made = leaves(f, &name).iter().filter(|l| l.exists()).count();
    let moved = target.read("cgroup")? != before;
    // The helper moves the target into a cgroup2 leaf only (v1: the caller does).
    let moves = cgroup_policy(f).layout.delegated().any(|h| h.v2);
    let done = made == leaves(f, &name).len() && moved == moves;
    let untouched = made == 0 && !moved;
    let outcome = judge(
        &out,
        &ok_cgroup(f, &name),
        done,
        untouched,
        &format!("cgroup under {limit:?}"),
    );
    match made {
        0 => target.end()?,
        _ => remove_leaves(f, target, &name)?,
    }
    outcome
}

/// Guards hygiene.rs `check_limits` (work starts only under soft limits of
/// fds, address space, data and stack far above what any operation uses,
/// so none runs out half-way; below them, one line and exit 71). For each
/// of RLIMIT_NOFILE (3 and 4 among them), RLIMIT_AS, RLIMIT_DATA and
/// RLIMIT_STACK, from far too low to the floor, every run of idmap, veth and
/// cgroup is either done exactly or changed nothing: below the floor the
/// kernel, the loader or the Rust runtime gave up before the helper's main,
/// or the helper refused with the floor's line (it always does just below
/// the floor); at the floor it succeeds. RLIMIT_FSIZE 0 changes nothing with
/// pipes; with regular files as stdout and stderr it can only cost the
/// final line (the maps are written either way).
fn attack_hostile_rlimits(f: &Fixture) -> Result<(), Failed> {
    let _policy = cgroup_policy(f).shared();
    let net = TestNet::new(f, &[])?;
    let mut died = Vec::new();
    for (sweep, floor) in sweeps() {
        let name = sweep[0].name;
        for op in ["idmap", "veth", "cgroup"] {
            let mut outcomes = Vec::new();
            for &limit in &sweep {
                let outcome = match op {
                    "idmap" => idmap_under(f, limit)?,
                    "veth" => veth_under(f, &net, limit)?,
                    _ => cgroup_under(f, limit)?,
                };
                if let Outcome::Died(how) = &outcome {
                    died.push(format!("{op} {name}={}: {how}", limit.value));
                }
                outcomes.push((limit, outcome));
            }
            ensure_floor(&outcomes, floor, &format!("{op} under {name}"))?;
        }
    }
    // What ended the helper before it could refuse, for the record.
    for line in &died {
        eprintln!("burrow-tests: attack_hostile_rlimits: {}", line.replace('\n', " | "));
    }

    // RLIMIT_FSIZE 0: no file the helper writes is a regular file but its
    // output, when the caller makes it one.
    let fsize = Limit {
        name: "RLIMIT_FSIZE",
        resource: libc::RLIMIT_FSIZE,
        value: 0,
    };
    ensure_eq!(idmap_under(f, fsize)?, Outcome::Done, "idmap under RLIMIT_FSIZE 0");
    let target = Target::user_ns(f, &f.user)?;
    let (stdout_path, stderr_path) = (f.scratch("stdout"), f.scratch("stderr"));
    let file = |path: &Path| File::create(path).map_err(|e| format!("{}: {e}", path.display()));
    let mut cmd = helper_command(f, Some(&target.proc_dir), &own_ids(f));
    cmd.stdout(file(&stdout_path)?).stderr(file(&stderr_path)?);
    fsize.on(&mut cmd);
    let out = process::spawn(&mut cmd)
        .and_then(|p| p.output(None))
        .map_err(|e| format!("running the helper: {e}"))?;
    ensure_eq!(
        target.maps(f)?,
        Maps::Complete,
        "the maps under RLIMIT_FSIZE 0, output to files"
    );
    ensure!(
        out.status.success() || out.status.signal() == Some(libc::SIGXFSZ),
        "under RLIMIT_FSIZE 0 with output to files: {out}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// Signals

/// Runs the helper (`own_ids`) on `target`, traced by this thread from its
/// exec on; stops it at the first system-call boundary after its `nth`
/// change to the target's map files (setgroups, gid_map, uid_map, in that
/// order); there the test user sends it SIGTERM, and it is let go.
fn sigterm_after_change(f: &Fixture, target: &Target, nth: usize) -> Result<Output, Failed> {
    let mut cmd = f.user_environment(&f.user, &f.helper);
    cmd.args(own_ids(f)).stdout(Stdio::piped()).stderr(Stdio::piped());
    let (uid, gid) = (f.user.uid, f.user.gid);
    // SAFETY: plain system calls. PTRACE_TRACEME comes while still root: the
    // kernel honours the setuid bit under a tracer only if the credentials
    // recorded at TRACEME could trace the result; then the test user's ids.
    unsafe {
        cmd.pre_exec(move || {
            if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) != 0
                || libc::setgroups(0, std::ptr::null()) != 0
                || libc::setresgid(gid, gid, gid) != 0
                || libc::setresuid(uid, uid, uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    process::die_with_parent(&mut cmd);
    process::pass_fd(&mut cmd, target.proc_dir.as_raw_fd(), 3);
    let helper = process::spawn(&mut cmd).map_err(|e| format!("starting the traced helper: {e}"))?;
    let pid = helper.pid as libc::pid_t;
    step_to_change(pid, target, nth)?;
    let killed = user_kill(f, "TERM", helper.pid);
    // SAFETY: detaching our own tracee, which is in a ptrace-stop.
    unsafe { libc::ptrace(libc::PTRACE_DETACH, pid, 0, 0) };
    let out = helper
        .output(None)
        .map_err(|e| format!("waiting for the helper: {e}"))?;
    killed?;
    Ok(out)
}

/// Steps the tracee `pid` from system call to system call (passing its
/// signals on) until `nth` changes of `target`'s map files are seen.
fn step_to_change(pid: libc::pid_t, target: &Target, nth: usize) -> Result<(), Failed> {
    let wait = || -> Result<i32, Failed> {
        let mut status = 0;
        // SAFETY: waitpid on our own tracee.
        let ret = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
        ensure!(ret == pid, "waitpid: {}", std::io::Error::last_os_error());
        ensure!(
            libc::WIFSTOPPED(status),
            "the traced helper ended before its change {nth} (status {status:#x})"
        );
        Ok(status)
    };
    let first = wait()?;
    ensure!(
        libc::WSTOPSIG(first) == libc::SIGTRAP,
        "the traced helper did not stop at its exec"
    );
    // SAFETY: ptrace requests on our own stopped tracee.
    unsafe {
        let options = libc::PTRACE_O_TRACESYSGOOD | libc::PTRACE_O_EXITKILL;
        libc::ptrace(libc::PTRACE_SETOPTIONS, pid, 0, options);
    }
    let mut last = target.map_files()?;
    let (mut changes, mut signal) = (0, 0);
    loop {
        // SAFETY: as above.
        unsafe { libc::ptrace(libc::PTRACE_SYSCALL, pid, 0, signal) };
        let status = wait()?;
        signal = 0;
        if libc::WSTOPSIG(status) != libc::SIGTRAP | 0x80 {
            signal = libc::WSTOPSIG(status);
            continue;
        }
        let now = target.map_files()?;
        if now != last {
            (changes, last) = (changes + 1, now);
            if changes == nth {
                return Ok(());
            }
        }
    }
}

/// Guards hygiene.rs `reset_inherited_state` (sys.rs `reset_signals`: the
/// signal dispositions and mask the helper runs with) and the order of
/// idmap.rs `apply`. The caller may signal its helper at any moment (it
/// runs with the caller's uids after the drop, and with its real uid
/// before). SIGSTOP/SIGCONT storms only delay it: it finishes exactly as
/// without them. Storms with SIGTERM, starting at moments spread over the
/// helper's run, leave the target's maps either complete or untouched. And
/// a SIGTERM right after the first and after the second of the three writes
/// (positioned by root tracing the helper) must not leave a half-written
/// target either.
fn attack_signal_storms(f: &Fixture) -> Result<(), Failed> {
    let storm = |target: &Target, steps: &str| -> Output {
        let mut cmd = f.as_user(&f.probe);
        cmd.args(["storm", steps]).arg(&f.helper).args(own_ids(f));
        process::pass_fd(&mut cmd, target.proc_dir.as_raw_fd(), 3);
        run(cmd)
    };
    for _ in 0..5 {
        let target = Target::user_ns(f, &f.user)?;
        let out = storm(&target, "STOP,+200,CONT,+100");
        let (helper, last) = out.stdout.rsplit_once("storm: ").unwrap_or_default();
        ensure!(
            helper == ok_idmap(&target) && last.ends_with(", exit 0\n") && out.stderr.is_empty(),
            "a SIGSTOP/SIGCONT storm: {out}"
        );
        ensure_eq!(
            target.maps(f)?,
            Maps::Complete,
            "the maps after a SIGSTOP/SIGCONT storm"
        );
    }
    let mut half_done = Vec::new();
    for i in 0..20 {
        let target = Target::user_ns(f, &f.user)?;
        let out = storm(&target, &format!("+{},STOP,+50,CONT,TERM", i * 150));
        let maps = target.maps(f)?;
        if !matches!(maps, Maps::Untouched | Maps::Complete) {
            half_done.push(format!("a storm from {} µs on: {maps:?} ({out})", i * 150));
        }
    }
    for nth in [1, 2] {
        let target = Target::user_ns(f, &f.user)?;
        let out = sigterm_after_change(f, &target, nth)?;
        let maps = target.maps(f)?;
        if !matches!(maps, Maps::Untouched | Maps::Complete) {
            half_done.push(format!("a SIGTERM right after write {nth} of 3: {maps:?} ({out})"));
        }
    }
    ensure!(
        half_done.is_empty(),
        "the caller's SIGTERM left targets half-done:\n  {}",
        half_done.join("\n  ")
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// The running helper

/// Guards hygiene.rs `reset_inherited_state` and privilege.rs `drop_to`
/// (PR_SET_DUMPABLE 0, again after the uid change), with the kernel's
/// ptrace access checks they feed (same uids, dumpable, capabilities a
/// subset of the caller's): caught at each moment, before and after the
/// drop, the helper cannot be attached to or seized by the test user, its
/// memory and environment cannot be opened or read (/proc/PID/mem, environ,
/// process_vm_readv), nor its fd directory listed.
fn attack_cannot_trace_or_read_helper(f: &Fixture) -> Result<(), Failed> {
    let items: Vec<String> = ["ptrace-attach", "ptrace-seize", "mem", "environ", "fd-list", "vm-read"]
        .map(str::to_owned)
        .to_vec();
    let expected: Vec<String> = [
        ("ptrace-attach", EPERM),
        ("ptrace-seize", EPERM),
        ("mem", EACCES),
        ("environ", EACCES),
        ("fd-list", EACCES),
        ("vm-read", EPERM),
    ]
    .map(|(item, why)| format!("{item}: {why}"))
    .to_vec();
    for moment in MOMENTS {
        let finished = catch_at(f, moment, |running| {
            let seen = spy(f, running.pid, &items)?;
            ensure_eq!(seen, expected, "the test user reaching into the helper at {moment:?}");
            Ok(())
        })?;
        ensure_finished_normally(&finished, moment)?;
    }
    Ok(())
}

/// Guards privilege.rs `verify` (euid 0 and the initial user namespace's
/// uid_map, else exit 71 before anything is touched): the setuid bit
/// ignored because of no_new_privs, or because the helper sits on a nosuid
/// mount. The control (the same mount without nosuid) succeeds, so the
/// refusal is nosuid's. A run inside a user namespace and a helper without
/// its setuid bit are helper.rs `helper_refuses_not_privileged`.
fn attack_fails_closed_when_not_privileged(f: &Fixture) -> Result<(), Failed> {
    let line = "burrow-helper: not privileged: must be installed setuid root and run in the initial user namespace";
    let target = Target::user_ns(f, &f.user)?;
    let mut cmd = helper_command(f, Some(&target.proc_dir), &own_ids(f));
    // SAFETY: prctl with plain values.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    ensure_idmap_refusal(&target, f, cmd, exit::OS_ERROR, line)?;

    for (options, nosuid) in [("nosuid,mode=755", true), ("mode=755", false)] {
        let mount = f.scratch("mnt");
        fs::create_dir(&mount).map_err(|e| format!("mkdir {}: {e}", mount.display()))?;
        let target = Target::user_ns(f, &f.user)?;
        // In a mount namespace of its own, which ends with the helper.
        let script = "mount -t tmpfs -o \"$1\" tmpfs \"$2\" && cp \"$3\" \"$2/helper\" && chmod 4755 \"$2/helper\" \
                      && h=\"$2/helper\" && uid=$4 && gid=$5 && shift 5 \
                      && exec setpriv --reuid \"$uid\" --regid \"$gid\" --clear-groups \"$h\" \"$@\"";
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            script,
            "sh",
            options,
        ])
        .arg(&mount)
        .arg(&f.helper)
        .args([f.user.uid.to_string(), f.user.gid.to_string()])
        .args(own_ids(f))
        .env_clear()
        .env("PATH", USER_PATH)
        .current_dir("/");
        process::pass_fd(&mut cmd, target.proc_dir.as_raw_fd(), 3);
        process::die_with_parent(&mut cmd);
        match nosuid {
            true => ensure_idmap_refusal(&target, f, cmd, exit::OS_ERROR, line)?,
            false => {
                ensure_output(
                    &run(cmd),
                    exit::OK,
                    &ok_idmap(&target),
                    "",
                    "the control, without nosuid",
                )?;
                ensure_eq!(target.maps(f)?, Maps::Complete, "the control's maps");
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Advisories

/// bubblewrap CVE-2016-8659: a privileged process that stayed dumpable
/// could be reached by its unprivileged user. Guards hygiene.rs
/// `reset_inherited_state` and privilege.rs `drop_to` (PR_SET_DUMPABLE 0
/// first thing and again after the uid change; never 1). At each moment,
/// before and after the drop: /proc/PID of the running helper and its
/// `fd`, `environ`, `mem` and `status` are root's, not the caller's; and
/// with RLIMIT_CORE unlimited (the caller's own choice, as for every caught
/// helper), a SIGQUIT from the test user kills it without a core dump (none
/// reported, no file in its working directory), or, should the helper block
/// the signal, does nothing.
fn attack_cve_2016_8659_helper_not_dumpable(f: &Fixture) -> Result<(), Failed> {
    for moment in MOMENTS {
        let finished = catch_at(f, moment, |running| {
            // Not /proc/PID itself: the kernel gives that directory the
            // effective ids whatever the dumpable flag says.
            for entry in ["/fd", "/environ", "/mem", "/status"] {
                let path = format!("/proc/{}{entry}", running.pid);
                let meta = fs::symlink_metadata(&path).map_err(|e| format!("{path}: {e}"))?;
                ensure_eq!((meta.uid(), meta.gid()), (0, 0), "the owner of {path} at {moment:?}");
            }
            Ok(())
        })?;
        ensure_finished_normally(&finished, moment)?;

        let finished = catch_at(f, moment, |running| user_kill(f, "QUIT", running.pid))?;
        // Killed without a core, or (with SIGQUIT blocked) not at all.
        let out = &finished.out;
        let unaffected = out.code() == exit::OK && out.stdout == finished.expected;
        ensure!(
            (out.status.signal() == Some(libc::SIGQUIT) || unaffected) && !out.status.core_dumped(),
            "the helper at {moment:?} after the test user's SIGQUIT: {out}"
        );
        let left: Vec<PathBuf> = fs::read_dir(&finished.cwd)
            .map_err(|e| format!("listing {}: {e}", finished.cwd.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        ensure_eq!(
            left,
            Vec::<PathBuf>::new(),
            "files in the working directory of the helper at {moment:?}"
        );
    }
    Ok(())
}

/// lxc-user-nic CVE-2018-6556: its delete path opened, as root, a path the
/// caller named (with the side effects of opening special files). Guards
/// target.rs `open` (fstatfs and fstat of the fd before anything is read
/// through it) and veth.rs `verify_target` (`target::is_namespace`: nsfs
/// magic before any ioctl): the helper opens nothing the caller names, and
/// an fd the caller hands over that is a FIFO or a pipe holding data, or a
/// root-only file root opened, is refused without being read (the data is
/// still there, the file offset still 0) or waited on.
fn attack_cve_2018_6556_fd_never_read(f: &Fixture) -> Result<(), Failed> {
    let _policy = cgroup_policy(f).shared();
    let net = TestNet::new(f, &[])?;
    let holder = net.holder(user_ids(f))?;
    let fifo = f.scratch("fifo");
    let c_fifo = std::ffi::CString::new(fifo.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    // SAFETY: mkfifo with a NUL-terminated path.
    ensure!(unsafe { libc::mkfifo(c_fifo.as_ptr(), 0o600) } == 0, "mkfifo failed");
    let secret_path = f.scratch("secret");
    let data = b"data in the pipe";
    for op in ["idmap", "veth", "cgroup"] {
        // O_RDWR: opening a FIFO so never waits for a writer.
        let mut fifo = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .map_err(|e| format!("opening the FIFO: {e}"))?;
        fifo.write_all(data).map_err(|e| format!("writing to the FIFO: {e}"))?;
        let (pipe_read, pipe_write) = attack::pipe().map_err(|e| format!("a pipe: {e}"))?;
        File::from(pipe_write.try_clone().map_err(|e| e.to_string())?)
            .write_all(data)
            .map_err(|e| format!("writing to the pipe: {e}"))?;
        let path = secret_path.with_extension(op);
        let secret = root_file(&path, "root's secret\n", 0o600).map_err(|e| format!("a root-only file: {e}"))?;
        let pipe_read = File::from(pipe_read);
        for (what, fd) in [("a FIFO", &fifo), ("a pipe", &pipe_read), ("a root-only file", &secret)] {
            let context = format!("{op} with {what} as its target");
            match op {
                "idmap" => {
                    let cmd = helper_command(f, Some(fd), &own_ids(f));
                    let line = "burrow-helper: idmap: target fd 3 is not a /proc/PID directory";
                    ensure_refused(&run(cmd), exit::REFUSED, line, &context)?;
                }
                "veth" => {
                    let line = "burrow-helper: veth: target fd 3 is not a network namespace";
                    ensure_veth_refusal(
                        &net,
                        &holder,
                        veth_command(f, &net, Some(fd), BRIDGE),
                        exit::REFUSED,
                        line,
                    )?;
                }
                _ => {
                    let name = leaf_name("fd");
                    let line = "burrow-helper: cgroup: target fd 3 is not a /proc/PID directory";
                    ensure_refused(&run(cgroup_command(f, Some(fd), &name)), exit::REFUSED, line, &context)?;
                    ensure_no_leaf(f, &name)?;
                }
            }
        }
        // SAFETY: lseek on our own fd, changing nothing.
        let offset = unsafe { libc::lseek(secret.as_raw_fd(), 0, libc::SEEK_CUR) };
        ensure_eq!(offset, 0, "the root-only file's offset after {op}");
        for (what, mut file) in [("FIFO", fifo), ("pipe", pipe_read)] {
            let mut left = vec![0u8; data.len()];
            file.read_exact(&mut left)
                .map_err(|e| format!("reading the {what} back: {e}"))?;
            ensure_eq!(left, data.to_vec(), "what is left in the {what} after {op}");
        }
    }
    Ok(())
}

/// shadow CVE-2018-7169: newgidmap let a user map its own gid without
/// setting setgroups to `deny`, so the new namespace could drop its
/// supplementary groups and escape permissions that deny them. Guards
/// idmap.rs `check` and `apply` (`deny` written before a gid map that is
/// only the caller's own gid). A process of the test user with a
/// supplementary group unshares a user namespace; after the helper maps its
/// own ids, the process's setgroups([]) fails and it keeps the group. The
/// control (a gid map /etc/subgid grants, which leaves setgroups `allow`,
/// as shadow does) shows the same process can drop it otherwise.
fn attack_cve_2018_7169_setgroups_denied(f: &Fixture) -> Result<(), Failed> {
    let (u, g) = (f.user.uid, f.user.gid);
    let subgid = f.user.first_subgid();
    let gid_full = [
        format!("0:{g}:1"),
        format!("1:{}:{}", subgid.start(), subgid.count().min(65536)),
    ];
    let cases = [
        (own_ids(f), "deny", EPERM, "65534"),
        (
            vec![
                "idmap".into(),
                "--proc-fd".into(),
                "3".into(),
                "--uid".into(),
                format!("0:{u}:1"),
                "--gid".into(),
                gid_full[0].clone(),
                "--gid".into(),
                gid_full[1].clone(),
            ],
            "allow",
            "ok",
            "",
        ),
    ];
    for (args, setgroups, result, groups) in cases {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid",
            &u.to_string(),
            "--regid",
            &g.to_string(),
            "--groups",
            "65534",
            "--",
        ])
        .arg(&f.probe)
        .arg("userns-setgroups")
        .env_clear()
        .env("PATH", USER_PATH)
        .current_dir("/");
        process::die_with_parent(&mut cmd);
        let mut target = Target::start(cmd)?;
        let gids = args.iter().filter(|a| *a == "--gid").count();
        let ok = format!("ok idmap pid={} uid=1 gid={gids} setgroups={setgroups}\n", target.pid);
        ensure_output(
            &run(helper_command(f, Some(&target.proc_dir), &args)),
            exit::OK,
            &ok,
            "",
            "idmap",
        )?;
        let mut stdin = target.process.take_stdin().ok_or("the target's stdin")?;
        stdin
            .write_all(b"go\n")
            .map_err(|e| format!("telling the target to go on: {e}"))?;
        let line = target
            .process
            .read_line()
            .map_err(|e| format!("reading the target: {e}"))?;
        ensure_eq!(
            line,
            format!("setgroups: {result}\n"),
            "setgroups([]) in the namespace ({setgroups})"
        );
        let status = target.read("status")?;
        let kept = status
            .lines()
            .find_map(|l| l.strip_prefix("Groups:"))
            .unwrap_or_default();
        ensure_eq!(kept.trim(), groups, "the target's supplementary groups ({setgroups})");
        drop(stdin);
    }
    Ok(())
}

/// pkexec CVE-2021-4034: with argc 0, pkexec read argv[1] past the end of
/// argv, which is envp[0], and wrote back into the environment. Guards
/// main.rs `run` (an empty argv, or the `[""]` the kernel has substituted
/// since 5.18, is refused before anything else) and hygiene.rs
/// `reset_inherited_state`: argv empty and an environment that spells a
/// valid request word by word (and the exploit's GCONV_PATH and CHARSET
/// entries) is refused with exit 64, the target untouched, no trap loaded.
fn attack_cve_2021_4034_argc_0_env_as_argv(f: &Fixture) -> Result<(), Failed> {
    let dir = f.user_dir("pwnkit", 0o755);
    build_traps(f, &dir)?;
    let target = Target::user_ns(f, &f.user)?;
    let mut envp: Vec<Vec<u8>> = own_ids(f).into_iter().map(String::into_bytes).collect();
    envp.extend([
        format!("GCONV_PATH={}/gconv", dir.display()).into_bytes(),
        b"CHARSET=PWNKIT".to_vec(),
        b"SHELL=pwnkit".to_vec(),
    ]);
    let envp: Vec<&[u8]> = envp.iter().map(Vec::as_slice).collect();
    let mut cmd = helper_command(f, Some(&target.proc_dir), &[] as &[&str]);
    process::exec_with(&mut cmd, &f.helper, &[], &envp);
    let line = "burrow-helper: refusing to run with an empty argument list";
    ensure_idmap_refusal(&target, f, cmd, exit::USAGE, line)?;
    ensure!(!dir.join("marker").exists(), "the helper loaded the gconv module");
    Ok(())
}

/// firejail CVE-2022-31214: `firejail --join` trusted a process the user
/// controlled as if it were one of its sandboxes. Guards target.rs
/// `check_status` (all four uids of the target, real, effective, saved and
/// file system, must be the caller's): the target is a process the test
/// user started itself but that runs setuid root (the helper, caught
/// printing its usage), and idmap and cgroup refuse it, leaving its
/// cgroups and everything else alone.
fn attack_cve_2022_31214_setuid_process_as_target(f: &Fixture) -> Result<(), Failed> {
    let _policy = cgroup_policy(f).shared();
    let u = f.user.uid;
    let name = leaf_name("setuid");
    let finished = catch_at(f, Moment::Help, |running| {
        let fd = open_proc_dir(running.pid)?;
        let cgroup_before = fs::read_to_string(format!("/proc/{}/cgroup", running.pid)).map_err(|e| e.to_string())?;
        // cgroup first: moved into the caller's cgroup, a setuid process
        // could be frozen, killed or starved by the caller.
        let out = run(cgroup_command(f, Some(&fd), &name));
        let line = format!("burrow-helper: cgroup: target process belongs to uid 0, not to the caller (uid {u})");
        ensure_refused(&out, exit::REFUSED, &line, "cgroup on a setuid process of the caller")?;
        let out = run(helper_command(f, Some(&fd), &own_ids(f)));
        let line = format!("burrow-helper: idmap: target process belongs to uid 0, not to the caller (uid {u})");
        ensure_refused(&out, exit::REFUSED, &line, "idmap on a setuid process of the caller")?;
        let cgroup_after = fs::read_to_string(format!("/proc/{}/cgroup", running.pid)).map_err(|e| e.to_string())?;
        ensure_eq!(cgroup_after, cgroup_before, "the setuid process's cgroups");
        ensure_no_leaf(f, &name)
    })?;
    ensure_finished_normally(&finished, Moment::Help)
}

/// lxc-user-nic CVE-2022-47952: the fix for CVE-2018-6556 still answered
/// differently for a missing path and for one that was not a network
/// namespace, an existence oracle in protected directories. Guards
/// target.rs `open` (one refusal for any fd that is not a /proc/PID
/// directory) and `target::is_namespace` (one for any fd that is not a
/// network namespace): the caller can only hand over fds, and whatever
/// they are (files it may or may not read, a root-only directory, an
/// O_PATH fd below one, devices, sockets, pipes, a pidfd, other
/// namespaces), each operation gives one and the same line.
fn attack_cve_2022_47952_no_existence_oracle(f: &Fixture) -> Result<(), Failed> {
    let _policy = cgroup_policy(f).shared();
    let net = TestNet::new(f, &[])?;
    let holder = net.holder(user_ids(f))?;
    let private = f.scratch("private");
    fs::create_dir(&private).map_err(|e| format!("mkdir: {e}"))?;
    fs::set_permissions(&private, std::os::unix::fs::PermissionsExt::from_mode(0o700)).map_err(|e| e.to_string())?;
    let inside = root_file(&private.join("exists"), "x\n", 0o600).map_err(|e| e.to_string())?;
    drop(inside);
    let open_dir = |path: &Path| OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY).open(path);
    let o_path = |path: &Path| OpenOptions::new().read(true).custom_flags(libc::O_PATH).open(path);
    let (socket, _peer) = std::os::unix::net::UnixStream::pair().map_err(|e| e.to_string())?;
    let (pipe_read, _pipe_write) = attack::pipe().map_err(|e| e.to_string())?;
    // SAFETY: pidfd_open of a process of ours.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, holder.pid as libc::pid_t, 0) };
    ensure!(pidfd >= 0, "pidfd_open failed");
    // SAFETY: a fresh fd owned by nobody else.
    let pidfd = File::from(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(pidfd as RawFd) });
    let mut fds: Vec<(&str, File)> = vec![
        (
            "a file the caller may read",
            File::open(&f.probe).map_err(|e| e.to_string())?,
        ),
        (
            "a root-only file",
            File::open(private.join("exists")).map_err(|e| e.to_string())?,
        ),
        ("a root-only directory", open_dir(&private).map_err(|e| e.to_string())?),
        (
            "an O_PATH fd below it",
            o_path(&private.join("exists")).map_err(|e| e.to_string())?,
        ),
        ("/dev/null", File::open("/dev/null").map_err(|e| e.to_string())?),
        ("a socket", File::from(OwnedFd::from(socket))),
        ("a pipe", File::from(pipe_read)),
        ("a pidfd", pidfd),
        (
            "a mount namespace",
            File::open("/proc/self/ns/mnt").map_err(|e| e.to_string())?,
        ),
    ];
    let (idmap_line, veth_line, cgroup_line) = (
        "burrow-helper: idmap: target fd 3 is not a /proc/PID directory",
        "burrow-helper: veth: target fd 3 is not a network namespace",
        "burrow-helper: cgroup: target fd 3 is not a /proc/PID directory",
    );
    let target = Target::user_ns(f, &f.user)?;
    for (what, fd) in &fds {
        ensure_idmap_refusal(
            &target,
            f,
            helper_command(f, Some(fd), &own_ids(f)),
            exit::REFUSED,
            idmap_line,
        )
        .map_err(|e| format!("idmap, {what}: {}", e.message().unwrap_or("")))?;
        let name = leaf_name("oracle");
        ensure_refused(
            &run(cgroup_command(f, Some(fd), &name)),
            exit::REFUSED,
            cgroup_line,
            what,
        )?;
        ensure_no_leaf(f, &name)?;
    }
    fds.push(("a /proc/PID directory", open_proc_dir(holder.pid)?));
    fds.push((
        "a user namespace",
        File::open(format!("/proc/{}/ns/user", holder.pid)).map_err(|e| e.to_string())?,
    ));
    for (what, fd) in &fds {
        ensure_veth_refusal(
            &net,
            &holder,
            veth_command(f, &net, Some(fd), BRIDGE),
            exit::REFUSED,
            veth_line,
        )
        .map_err(|e| format!("veth, {what}: {}", e.message().unwrap_or("")))?;
    }
    Ok(())
}

/// runc CVE-2024-21626: runc leaked an fd of the host's cgroup tree into
/// the container's process. Guards hygiene.rs `close_inherited_fds`, sys.rs
/// `openat` and `netlink_socket` (every fd the helper opens is
/// close-on-exec, and it never execs or forks) and the non-dumpable helper
/// (pidfd_getfd needs the ptrace access the caller lacks). Caught at work
/// (idmap, veth, cgroup), the helper has one thread and no child; every fd
/// it holds above 2 is the target's or close-on-exec; the test user can
/// take none of them with pidfd_getfd; and the target's own fd table is
/// the same after the helper as before it.
fn attack_cve_2024_21626_no_fd_leaks(f: &Fixture) -> Result<(), Failed> {
    for moment in [Moment::IdmapDone, Moment::VethWaiting, Moment::CgroupDone] {
        let finished = catch_at(f, moment, |running| {
            let pid = running.pid;
            let (threads, children) =
                attack::threads_and_children(pid).map_err(|e| format!("the helper's threads: {e}"))?;
            ensure_eq!(
                (threads, children.as_str()),
                (vec![pid.to_string()], ""),
                "the helper's threads and children at {moment:?}"
            );
            let fds = fd_table(pid).map_err(|e| format!("the helper's fds: {e}"))?;
            for &fd in fds.keys().filter(|&&fd| fd > 3) {
                let flags = fd_flags(pid, fd).map_err(|e| format!("fdinfo {fd}: {e}"))?;
                ensure!(
                    flags & libc::O_CLOEXEC as u32 != 0,
                    "fd {fd} ({}) of the helper at {moment:?} is not close-on-exec",
                    fds[&fd]
                );
            }
            let items: Vec<String> = fds.keys().map(|fd| format!("getfd={fd}")).collect();
            let expected: Vec<String> = items.iter().map(|i| format!("{i}: {EPERM}")).collect();
            ensure_eq!(
                spy(f, pid, &items)?,
                expected,
                "the test user taking the helper's fds at {moment:?}"
            );
            Ok(())
        })?;
        ensure_finished_normally(&finished, moment)?;
        ensure_eq!(
            finished.target_fds.1,
            finished.target_fds.0,
            "the target's fds after the helper at {moment:?}"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Another procfs

/// The test user's process at number `pid` in a pid namespace of its own,
/// with that namespace's procfs on /proc of its own mount namespace (the
/// namespace's last pid set to `pid - 1` just before the fork, which root of
/// a user namespace may do); the `/proc/PID` directory of that procfs, as
/// the test user itself could open it through /proc/S/root.
struct Foreign {
    /// unshare, which kills the namespace's init when it ends.
    holder: Option<Target>,
    /// The namespace's init, the host's pid of the `sh` in it.
    init: u32,
    dir: File,
    path: String,
}

impl Foreign {
    fn start(f: &Fixture, pid: u32) -> Result<Foreign, Failed> {
        let mut cmd = f.as_user("unshare");
        // The parentheses fork (a last command would be exec'd as pid 1).
        let script = format!(
            "echo {} > /proc/sys/kernel/ns_last_pid && ({} hold); :",
            pid - 1,
            f.probe.display()
        );
        cmd.args([
            "--user",
            "--map-root-user",
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
        ]);
        cmd.args(["sh", "-c", &script]);
        let holder = Target::start(cmd)?;
        let children = holder.read(&format!("task/{}/children", holder.pid))?;
        let init: u32 = children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_default();
        // Orphaned when unshare ends, and killed by it (--kill-child).
        process::expect_orphan(init);
        let path = format!("/proc/{init}/root/proc/{pid}");
        let cmdline = fs::read(format!("{path}/cmdline")).unwrap_or_default();
        ensure!(
            cmdline.ends_with(b"\0hold\0"),
            "no probe at {pid} in the test user's pid namespace ({path}/cmdline: {cmdline:?})"
        );
        let dir = File::open(&path).map_err(|e| format!("opening {path}: {e}"))?;
        let holder = Some(holder);
        Ok(Foreign {
            holder,
            init,
            dir,
            path,
        })
    }
}

/// Ends the namespace on every path, a failed scenario's too.
impl Drop for Foreign {
    fn drop(&mut self) {
        if let Some(holder) = self.holder.take() {
            let _ = holder.end();
        }
        let _ = process::reap_expected_orphan(self.init);
    }
}

/// Guards target.rs `open` (the fd must be a directory of the helper's own
/// /proc, and that /proc of the helper's own pid namespace). The test user
/// mounts a procfs of a pid namespace of its own and hands over its
/// /proc/H, H being the host's number of a process of its own (the victim)
/// that root has put into a cgroup2 jail: without the check, cgroup read the
/// pid H through the fd, seized and moved the victim, and its roll-back put
/// it into the caller's cgroup (moves by pid happen in cgroup2 alone, so
/// also with the v1 hierarchies hidden, as on a pure cgroup2 host). Every
/// operation refuses with one line; the victim stays in its cgroups, the
/// foreign process's maps stay as they were, and no leaf or link is made.
fn attack_foreign_procfs_names_another_process(f: &Fixture) -> Result<(), Failed> {
    let _policy = cgroup_policy(f).shared();
    let net = TestNet::new(f, &[])?;
    let mut victim_cmd = f.as_user(&f.probe);
    victim_cmd.arg("hold");
    let victim = Target::start(victim_cmd)?;
    let jail = cgroup_policy(f)
        .layout
        .v2()
        .map(|v2| v2.own.join(format!("burrow-jail-{}", victim.pid)));
    if let Some(jail) = &jail {
        fs::create_dir(jail).map_err(|e| format!("creating {}: {e}", jail.display()))?;
    }
    let result = jail
        .as_ref()
        .map_or(Ok(()), |jail| {
            fs::write(jail.join("cgroup.procs"), victim.pid.to_string())
                .map_err(|e| Failed::from(format!("moving the victim into {}: {e}", jail.display())))
        })
        .and_then(|()| foreign_procfs_refused(f, &net, &victim));
    victim.end()?;
    if let Some(jail) = &jail {
        cgroups::rmdir_cgroup(jail).map_err(|e| format!("removing {}: {e}", jail.display()))?;
    }
    result
}

fn foreign_procfs_refused(f: &Fixture, net: &TestNet, victim: &Target) -> Result<(), Failed> {
    let foreign = Foreign::start(f, victim.pid)?;
    let uid_map = format!("{}/uid_map", foreign.path);
    let (cgroups_before, maps_before) = (victim.read("cgroup")?, fs::read_to_string(&uid_map).ok());
    let refusal = |op: &str| format!("burrow-helper: {op}: target fd 3 is on another procfs than the helper's /proc");
    let out = run(helper_command(f, Some(&foreign.dir), &own_ids(f)));
    ensure_refused(&out, exit::REFUSED, &refusal("idmap"), "idmap on another procfs")?;
    let name = leaf_name("foreign");
    let out = run(cgroup_command(f, Some(&foreign.dir), &name));
    ensure_refused(&out, exit::REFUSED, &refusal("cgroup"), "cgroup on another procfs")?;
    if let Some(v2) = cgroup_policy(f).layout.v2() {
        let helper = format!("{} cgroup --proc-fd 3 --name {name}", f.helper.display());
        let mut cmd = cgroup2_only_view(f, &f.user, "", &helper);
        process::pass_fd(&mut cmd, foreign.dir.as_raw_fd(), 3);
        let out = run(cmd);
        ensure_eq!(
            victim.read("cgroup")?,
            cgroups_before,
            "the victim's cgroups, cgroup2 alone"
        );
        ensure_refused(
            &out,
            exit::REFUSED,
            &refusal("cgroup"),
            "cgroup on another procfs, cgroup2 alone",
        )?;
        let leaf = v2.delegated_dir(f.user.uid).join(&name);
        ensure!(!leaf.exists(), "{} was left behind", leaf.display());
    }
    let links = net.link_names()?;
    let out = run(veth_command(f, net, Some(&foreign.dir), BRIDGE));
    let line = "burrow-helper: veth: target fd 3 is not a network namespace";
    ensure_refused(&out, exit::REFUSED, line, "veth on another procfs's /proc/PID")?;
    ensure_eq!(net.link_names()?, links, "the links after veth on another procfs");
    ensure_eq!(victim.read("cgroup")?, cgroups_before, "the victim's cgroups");
    ensure_eq!(
        fs::read_to_string(&uid_map).ok(),
        maps_before,
        "the foreign process's uid map"
    );
    ensure_no_leaf(f, &name)
}
