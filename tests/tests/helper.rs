//! burrow-helper, called directly as the unprivileged test user, installed
//! setuid root in the fixture's temporary directory. Targets are processes
//! the tests start themselves (the static probe holding still, usually in a
//! fresh user namespace made by unshare(1)); the helper gets an fd on
//! /proc/PID as fd 3. Each refusal is asserted by its exit code and exact
//! stderr line (the contract's table), and by the target's maps being
//! untouched afterwards.

use burrow_shared::exit;
use burrow_shared::ids::{IdMapping, IdRange, parse_map_file};
use burrow_shared::request::USAGE;
use burrow_shared::subid;
use burrow_tests::attack::build_marker_library;
use burrow_tests::fixture::Fixture;
use burrow_tests::harness::{self, Scenario, Suite};
use burrow_tests::process::run_to_end as run;
use burrow_tests::process::{self, Output};
use burrow_tests::target::Target;
use burrow_tests::user::{SUBGID_FILE, SUBUID_FILE, read_subid_file, unnamed_id};
use burrow_tests::{Failed, ensure, ensure_eq};
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

const SCENARIOS: &[(&str, Scenario)] = burrow_tests::scenarios![
    helper_maps_subordinate_ranges,
    helper_refuses_range_outside_subuid,
    helper_refuses_overlap,
    helper_refuses_overflow,
    helper_refuses_341_lines,
    helper_refuses_count_zero,
    helper_refuses_host_id_0,
    helper_refuses_other_users_target,
    helper_refuses_initial_userns_target,
    helper_refuses_nested_userns_target,
    helper_refuses_userns_owned_by_another,
    helper_refuses_already_mapped_target,
    helper_refuses_exited_target,
    helper_refuses_non_procfs_fd,
    helper_refuses_unopened_fd,
    helper_refuses_argc_0,
    helper_survives_closed_stdio,
    helper_ignores_hostile_environment,
    helper_refuses_not_privileged,
    helper_handles_caller_without_names,
    helper_usage_errors,
    helper_reads_big_subid_files,
    helper_refuses_overlong_subid_line,
    runner_default_map_from_big_subid_files,
];

fn main() -> ExitCode {
    harness::main(Suite {
        packages: &["burrow-helper", "burrow"],
        network: false,
        scenarios: SCENARIOS,
    })
}

// ---------------------------------------------------------------------------
// Targets

/// What the idmap scenarios read of a target (`burrow_tests::target`).
trait MapFiles {
    fn map(&self, kind: &str) -> String;
    fn uid_map(&self) -> Vec<IdMapping>;
    fn gid_map(&self) -> Vec<IdMapping>;
    fn setgroups(&self) -> String;
    fn state(&self) -> (String, String, String);
    fn ensure_untouched(&self) -> Result<(), Failed>;
}

impl MapFiles for Target {
    fn map(&self, kind: &str) -> String {
        fs::read_to_string(format!("/proc/{}/{kind}", self.pid)).expect("read a map file")
    }

    fn uid_map(&self) -> Vec<IdMapping> {
        parse_map_file(&self.map("uid_map")).expect("parse uid_map")
    }

    fn gid_map(&self) -> Vec<IdMapping> {
        parse_map_file(&self.map("gid_map")).expect("parse gid_map")
    }

    fn setgroups(&self) -> String {
        self.map("setgroups")
    }

    /// uid_map, gid_map and setgroups, to compare before and after.
    fn state(&self) -> (String, String, String) {
        (self.map("uid_map"), self.map("gid_map"), self.setgroups())
    }

    /// Fails unless nothing was ever written to the target.
    fn ensure_untouched(&self) -> Result<(), Failed> {
        ensure_eq!(
            self.state(),
            (String::new(), String::new(), "allow\n".to_owned()),
            "the target's maps"
        );
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Calling the helper

fn m(ns: u32, host: u32, count: u32) -> IdMapping {
    IdMapping::new(ns, host, count).expect("a valid mapping")
}

/// `idmap --proc-fd 3` plus `--uid`/`--gid` options.
fn idmap_args(uid: &[IdMapping], gid: &[IdMapping]) -> Vec<String> {
    let mut args = vec!["idmap".to_owned(), "--proc-fd".to_owned(), "3".to_owned()];
    for (option, map) in [("--uid", uid), ("--gid", gid)] {
        for mapping in map {
            args.push(option.to_owned());
            args.push(mapping.to_arg());
        }
    }
    args
}

/// The helper at `helper`, as the test user, with `fd` as its fd 3.
fn helper_command(f: &Fixture, helper: &Path, fd: Option<&File>, args: &[String]) -> Command {
    let mut cmd = f.as_user(helper);
    cmd.args(args);
    if let Some(fd) = fd {
        process::pass_fd(&mut cmd, fd.as_raw_fd(), 3);
    }
    cmd
}

fn helper(f: &Fixture, target: &Target, args: &[String]) -> Output {
    run(helper_command(f, &f.helper, Some(&target.proc_dir), args))
}

fn ensure_ok(out: &Output, stdout: &str) -> Result<(), Failed> {
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (exit::OK, stdout, ""),
        "exit code, stdout and stderr"
    );
    Ok(())
}

/// Exit `code`, exactly `line` on stderr, nothing on stdout.
fn ensure_refused(out: &Output, code: i32, line: &str) -> Result<(), Failed> {
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (code, "", format!("{line}\n").as_str()),
        "exit code, stdout and stderr"
    );
    Ok(())
}

/// Calls the helper on a fresh unmapped target; expects a refusal and an
/// untouched target.
fn ensure_refusal(f: &Fixture, args: &[String], code: i32, line: &str) -> Result<(), Failed> {
    let target = Target::user_ns(f, &f.user)?;
    let out = helper(f, &target, args);
    ensure_refused(&out, code, line)
        .map_err(|e| Failed::from(format!("helper {args:?}: {}", e.message().unwrap_or(""))))?;
    target.ensure_untouched()
}

struct Ids {
    uid: u32,
    gid: u32,
    /// The first subordinate ranges (what the runner maps by default).
    subuid: IdRange,
    subgid: IdRange,
}

fn ids(f: &Fixture) -> Ids {
    Ids {
        uid: f.user.uid,
        gid: f.user.gid,
        subuid: f.user.first_subuid(),
        subgid: f.user.first_subgid(),
    }
}

/// The merged range granted to the user that contains `first` (the user's
/// entries may be adjacent, and the helper may map across them).
fn granted_range(f: &Fixture, file: &str, first: IdRange) -> IdRange {
    let entries = read_subid_file(file).expect("read a subid file");
    subid::granted(&entries, &f.user.name, f.user.uid)
        .into_iter()
        .find(|r| r.contains_range(first))
        .expect("the user's range is granted")
}

fn capped(range: IdRange) -> u32 {
    range.count().min(65536)
}

// ---------------------------------------------------------------------------
// Scenarios

fn helper_maps_subordinate_ranges(f: &Fixture) -> Result<(), Failed> {
    let ids = ids(f);
    let uid_map = vec![m(0, ids.uid, 1), m(1, ids.subuid.start(), capped(ids.subuid))];
    let gid_map = vec![m(0, ids.gid, 1), m(1, ids.subgid.start(), capped(ids.subgid))];

    // Own ids and subordinate ranges: setgroups stays allowed.
    let target = Target::user_ns(f, &f.user)?;
    let out = helper(f, &target, &idmap_args(&uid_map, &gid_map));
    ensure_ok(
        &out,
        &format!("ok idmap pid={} uid=2 gid=2 setgroups=allow\n", target.pid),
    )?;
    ensure_eq!(target.uid_map(), uid_map, "uid_map read back");
    ensure_eq!(target.gid_map(), gid_map, "gid_map read back");
    ensure_eq!(target.setgroups(), "allow\n", "setgroups");

    // Only the caller's own ids: setgroups is denied first.
    let target = Target::user_ns(f, &f.user)?;
    let (uid_map, gid_map) = (vec![m(0, ids.uid, 1)], vec![m(0, ids.gid, 1)]);
    let out = helper(f, &target, &idmap_args(&uid_map, &gid_map));
    ensure_ok(
        &out,
        &format!("ok idmap pid={} uid=1 gid=1 setgroups=deny\n", target.pid),
    )?;
    ensure_eq!(target.uid_map(), uid_map, "uid_map read back");
    ensure_eq!(target.gid_map(), gid_map, "gid_map read back");
    ensure_eq!(target.setgroups(), "deny\n", "setgroups");

    // No gid map at all: setgroups is left alone.
    let target = Target::user_ns(f, &f.user)?;
    let out = helper(f, &target, &idmap_args(&uid_map, &[]));
    ensure_ok(
        &out,
        &format!("ok idmap pid={} uid=1 gid=0 setgroups=unchanged\n", target.pid),
    )?;
    ensure_eq!(target.uid_map(), uid_map, "uid_map read back");
    ensure_eq!(target.map("gid_map"), "", "gid_map");
    ensure_eq!(target.setgroups(), "allow\n", "setgroups");
    Ok(())
}

fn helper_refuses_range_outside_subuid(f: &Fixture) -> Result<(), Failed> {
    let ids = ids(f);
    let name = &f.user.name;
    // One id past the end of the granted range.
    let granted = granted_range(f, SUBUID_FILE, ids.subuid);
    let outside = m(1, granted.start() + 1, granted.count());
    let args = idmap_args(&[m(0, ids.uid, 1), outside], &[m(0, ids.gid, 1)]);
    ensure_refusal(
        f,
        &args,
        exit::REFUSED,
        &format!("burrow-helper: idmap: uid range {outside} is not granted to {name} by {SUBUID_FILE}"),
    )?;
    // Exactly one id past the end.
    let past_end = m(1, granted.end(), 1);
    let args = idmap_args(&[past_end], &[]);
    ensure_refusal(
        f,
        &args,
        exit::REFUSED,
        &format!("burrow-helper: idmap: uid range {past_end} is not granted to {name} by {SUBUID_FILE}"),
    )?;
    // The same for gids, with a valid uid map (nothing may be written).
    let granted = granted_range(f, SUBGID_FILE, ids.subgid);
    let outside = m(1, granted.start() + 1, granted.count());
    let args = idmap_args(&[m(0, ids.uid, 1)], &[m(0, ids.gid, 1), outside]);
    ensure_refusal(
        f,
        &args,
        exit::REFUSED,
        &format!("burrow-helper: idmap: gid range {outside} is not granted to {name} by {SUBGID_FILE}"),
    )?;
    // Another user's id, with count 1, is not "the caller's own id".
    let args = idmap_args(&[m(0, 1, 1)], &[]);
    ensure_refusal(
        f,
        &args,
        exit::REFUSED,
        &format!("burrow-helper: idmap: uid range [0-1) -> [1-2) is not granted to {name} by {SUBUID_FILE}"),
    )
}

fn helper_refuses_overlap(f: &Fixture) -> Result<(), Failed> {
    let ids = ids(f);
    let (s, g) = (ids.subuid.start(), ids.subgid.start());
    ensure!(
        ids.subuid.count() >= 110 && ids.subgid.count() >= 110,
        "subordinate ranges too small"
    );
    // Inside the namespace.
    let args = idmap_args(&[m(0, ids.uid, 1), m(1, s, 10), m(5, s + 100, 10)], &[]);
    let line = format!(
        "burrow-helper: idmap: bad uid map: [1-11) -> [{s}-{}) and [5-15) -> [{}-{}) overlap inside the namespace",
        s + 10,
        s + 100,
        s + 110
    );
    ensure_refusal(f, &args, exit::REFUSED, &line)?;
    // On the host (gid map; the uid map is fine and must not be written).
    let args = idmap_args(&[m(0, ids.uid, 1)], &[m(0, ids.gid, 1), m(1, g, 10), m(100, g + 5, 10)]);
    let line = format!(
        "burrow-helper: idmap: bad gid map: [1-11) -> [{g}-{}) and [100-110) -> [{}-{}) overlap on the host",
        g + 10,
        g + 5,
        g + 15
    );
    ensure_refusal(f, &args, exit::REFUSED, &line)?;
    // The caller's own id twice.
    let u = ids.uid;
    let args = idmap_args(&[m(0, u, 1), m(1, u, 1)], &[]);
    let line = format!(
        "burrow-helper: idmap: bad uid map: [0-1) -> [{u}-{}) and [1-2) -> [{u}-{}) overlap on the host",
        u + 1,
        u + 1
    );
    ensure_refusal(f, &args, exit::REFUSED, &line)
}

fn helper_refuses_overflow(f: &Fixture) -> Result<(), Failed> {
    for mapping in ["0:4294967295:1", "4294967295:0:1", "1:4294967294:2", "0:0:4294967296"] {
        let args: Vec<String> = ["idmap", "--proc-fd", "3", "--uid", mapping].map(String::from).to_vec();
        let why = if mapping.ends_with(":4294967296") {
            "not a decimal id"
        } else {
            "range passes the largest id"
        };
        let line = format!("burrow-helper: idmap: bad id mapping \"{mapping}\": {why}");
        ensure_refusal(f, &args, exit::USAGE, &line)?;
    }
    Ok(())
}

fn helper_refuses_341_lines(f: &Fixture) -> Result<(), Failed> {
    let ids = ids(f);
    ensure!(
        ids.subuid.count() >= 341,
        "the test user's subuid range is smaller than 341"
    );
    let uid_map: Vec<_> = (0..341).map(|i| m(i, ids.subuid.start() + i, 1)).collect();
    let line = "burrow-helper: idmap: bad uid map: the map has 341 lines, more than the kernel's 340";
    ensure_refusal(f, &idmap_args(&uid_map, &[]), exit::REFUSED, line)
}

fn helper_refuses_count_zero(f: &Fixture) -> Result<(), Failed> {
    let uid = f.user.uid;
    let args: Vec<String> = vec![
        "idmap".into(),
        "--proc-fd".into(),
        "3".into(),
        "--uid".into(),
        format!("0:{uid}:0"),
    ];
    let line = format!("burrow-helper: idmap: bad id mapping \"0:{uid}:0\": count must be at least 1");
    ensure_refusal(f, &args, exit::USAGE, &line)?;
    let gid = f.user.gid;
    let args: Vec<String> = vec![
        "idmap".into(),
        "--proc-fd".into(),
        "3".into(),
        "--gid".into(),
        format!("1:{gid}:0"),
    ];
    let line = format!("burrow-helper: idmap: bad id mapping \"1:{gid}:0\": count must be at least 1");
    ensure_refusal(f, &args, exit::USAGE, &line)
}

fn helper_refuses_host_id_0(f: &Fixture) -> Result<(), Failed> {
    let ids = ids(f);
    let args = idmap_args(&[m(0, 0, 1)], &[]);
    let line = "burrow-helper: idmap: uid range [0-1) -> [0-1) maps host id 0, which only root may map";
    ensure_refusal(f, &args, exit::REFUSED, line)?;
    let args = idmap_args(&[m(0, ids.uid, 1)], &[m(0, ids.gid, 1), m(5, 0, 10)]);
    let line = "burrow-helper: idmap: gid range [5-15) -> [0-10) maps host id 0, which only root may map";
    ensure_refusal(f, &args, exit::REFUSED, line)
}

fn own_ids_args(f: &Fixture) -> Vec<String> {
    idmap_args(&[m(0, f.user.uid, 1)], &[m(0, f.user.gid, 1)])
}

/// root's process in root's own new user namespace.
fn helper_refuses_other_users_target(f: &Fixture) -> Result<(), Failed> {
    let mut cmd = Command::new("unshare");
    cmd.args(["--user", "--"])
        .arg(&f.probe)
        .arg("hold")
        .env_clear()
        .current_dir("/");
    process::die_with_parent(&mut cmd);
    let target = Target::start(cmd)?;
    let out = helper(f, &target, &own_ids_args(f));
    let line = format!(
        "burrow-helper: idmap: target process belongs to uid 0, not to the caller (uid {})",
        f.user.uid
    );
    ensure_refused(&out, exit::REFUSED, &line)?;
    target.ensure_untouched()
}

/// The test user's own process, but in the initial user namespace.
fn helper_refuses_initial_userns_target(f: &Fixture) -> Result<(), Failed> {
    let mut cmd = f.as_user(&f.probe);
    cmd.arg("hold");
    let target = Target::start(cmd)?;
    let before = target.state();
    let out = helper(f, &target, &own_ids_args(f));
    ensure_refused(
        &out,
        exit::REFUSED,
        "burrow-helper: idmap: target process is in the initial user namespace",
    )?;
    ensure_eq!(target.state(), before, "the target's maps");
    ensure_eq!(
        target.map("uid_map").split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "4294967295"],
        "uid_map"
    );
    Ok(())
}

/// The test user's process two user namespaces deep.
fn helper_refuses_nested_userns_target(f: &Fixture) -> Result<(), Failed> {
    let mut cmd = f.as_user("unshare");
    cmd.args(["--user", "--map-root-user", "--", "unshare", "--user", "--"])
        .arg(&f.probe)
        .arg("hold");
    let target = Target::start(cmd)?;
    // setgroups is "deny" already, inherited from the outer namespace.
    let before = target.state();
    let out = helper(f, &target, &own_ids_args(f));
    let line = "burrow-helper: idmap: target's user namespace is not a child of the initial user namespace";
    ensure_refused(&out, exit::REFUSED, line)?;
    ensure_eq!(target.state(), before, "the target's maps");
    ensure_eq!(
        (before.0.as_str(), before.1.as_str()),
        ("", ""),
        "the target's maps before"
    );
    Ok(())
}

/// A process of the test user (uid U) in a user namespace that root made
/// and mapped (0 -> 0 and U -> U), which then switched to U.
fn helper_refuses_userns_owned_by_another(f: &Fixture) -> Result<(), Failed> {
    let (u, g) = (f.user.uid, f.user.gid);
    let mut cmd = Command::new("unshare");
    let script = format!(
        "echo unshared; read go; exec setpriv --reuid {u} --regid {g} --clear-groups -- {} hold",
        f.probe.display()
    );
    cmd.args(["--user", "--", "sh", "-c", &script])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir("/");
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    process::die_with_parent(&mut cmd);
    let mut process = process::spawn(&mut cmd).expect("start the target");
    ensure_eq!(
        process.read_line().expect("read"),
        "unshared\n",
        "the target's first line"
    );
    for (file, own) in [("uid_map", u), ("gid_map", g)] {
        // One write(2), as the kernel requires.
        fs::write(
            format!("/proc/{}/{file}", process.pid),
            format!("0 0 1\n{own} {own} 1\n"),
        )
        .expect("write a map as root");
    }
    let mut stdin = process.take_stdin().expect("piped stdin");
    std::io::Write::write_all(&mut stdin, b"go\n").expect("tell the target to go on");
    ensure_eq!(
        process.read_line().expect("read"),
        "ready\n",
        "the target's second line"
    );
    let target = Target::held(process)?;
    let before = target.state();
    let out = helper(f, &target, &own_ids_args(f));
    // The kernel refuses the (dropped) helper a look at a namespace the caller
    // does not own: target::verify turns that into this refusal, ahead of its
    // NS_GET_OWNER_UID check.
    let line = format!("burrow-helper: idmap: target's user namespace is not accessible to the caller (uid {u})");
    ensure_refused(&out, exit::REFUSED, &line)?;
    ensure_eq!(target.state(), before, "the target's maps");
    drop(stdin);
    Ok(())
}

fn helper_refuses_already_mapped_target(f: &Fixture) -> Result<(), Failed> {
    let ids = ids(f);
    let target = Target::user_ns(f, &f.user)?;
    let first = idmap_args(&[m(0, ids.uid, 1)], &[]);
    ensure_ok(
        &helper(f, &target, &first),
        &format!("ok idmap pid={} uid=1 gid=0 setgroups=unchanged\n", target.pid),
    )?;
    let before = target.state();
    let out = helper(f, &target, &idmap_args(&[m(0, ids.uid, 1)], &[m(0, ids.gid, 1)]));
    ensure_refused(
        &out,
        exit::REFUSED,
        "burrow-helper: idmap: target's uid map is already written",
    )?;
    ensure_eq!(target.state(), before, "the target's maps");

    let target = Target::user_ns(f, &f.user)?;
    let first = idmap_args(&[], &[m(0, ids.gid, 1)]);
    ensure_ok(
        &helper(f, &target, &first),
        &format!("ok idmap pid={} uid=0 gid=1 setgroups=deny\n", target.pid),
    )?;
    let before = target.state();
    let out = helper(f, &target, &idmap_args(&[m(0, ids.uid, 1)], &[m(0, ids.gid, 1)]));
    ensure_refused(
        &out,
        exit::REFUSED,
        "burrow-helper: idmap: target's gid map is already written",
    )?;
    ensure_eq!(target.state(), before, "the target's maps");
    Ok(())
}

fn helper_refuses_exited_target(f: &Fixture) -> Result<(), Failed> {
    let target = Target::user_ns(f, &f.user)?;
    let Target { process, proc_dir, .. } = target;
    process.kill_and_reap().expect("kill and reap the target");
    let out = run(helper_command(f, &f.helper, Some(&proc_dir), &own_ids_args(f)));
    ensure_refused(&out, exit::REFUSED, "burrow-helper: idmap: target process has exited")
}

fn helper_refuses_non_procfs_fd(f: &Fixture) -> Result<(), Failed> {
    let line = "burrow-helper: idmap: target fd 3 is not a /proc/PID directory";
    // A directory below /tmp, owned by the test user.
    let dir = f.user_dir("not-proc", 0o755);
    let fd = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(&dir)
        .expect("open a directory");
    let out = run(helper_command(f, &f.helper, Some(&fd), &own_ids_args(f)));
    ensure_refused(&out, exit::REFUSED, line)?;
    // On procfs, but a file rather than a /proc/PID directory.
    let target = Target::user_ns(f, &f.user)?;
    let status = File::open(format!("/proc/{}/status", target.pid)).expect("open /proc/PID/status");
    let out = run(helper_command(f, &f.helper, Some(&status), &own_ids_args(f)));
    ensure_refused(&out, exit::REFUSED, line)?;
    target.ensure_untouched()
}

fn helper_refuses_unopened_fd(f: &Fixture) -> Result<(), Failed> {
    let out = run(helper_command(f, &f.helper, None, &own_ids_args(f)));
    ensure_refused(&out, exit::REFUSED, "burrow-helper: idmap: target fd 3 is not open")
}

/// execve with an empty argv. (Since Linux 5.18 the kernel then supplies
/// an empty argv[0], so the helper sees `[""]`: that must count as empty.)
fn helper_refuses_argc_0(f: &Fixture) -> Result<(), Failed> {
    let target = Target::user_ns(f, &f.user)?;
    let mut cmd = helper_command(f, &f.helper, Some(&target.proc_dir), &[]);
    process::exec_with_empty_argv(&mut cmd, &f.helper);
    let out = run(cmd);
    ensure_refused(
        &out,
        exit::USAGE,
        "burrow-helper: refusing to run with an empty argument list",
    )?;
    target.ensure_untouched()
}

fn helper_survives_closed_stdio(f: &Fixture) -> Result<(), Failed> {
    let ids = ids(f);
    let policy_before = (fs::read(SUBUID_FILE).ok(), fs::read(SUBGID_FILE).ok());

    // A valid request is carried out.
    let uid_map = vec![m(0, ids.uid, 1), m(1, ids.subuid.start(), capped(ids.subuid))];
    let gid_map = vec![m(0, ids.gid, 1), m(1, ids.subgid.start(), capped(ids.subgid))];
    let target = Target::user_ns(f, &f.user)?;
    let mut cmd = helper_command(f, &f.helper, Some(&target.proc_dir), &idmap_args(&uid_map, &gid_map));
    process::close_stdio(&mut cmd);
    let out = run(cmd);
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (exit::OK, "", ""),
        "closed stdio, valid request"
    );
    ensure_eq!(target.uid_map(), uid_map, "uid_map read back");
    ensure_eq!(target.gid_map(), gid_map, "gid_map read back");

    // A refusal (which reads /etc/subuid, perhaps as fd 0, 1 or 2) writes
    // nothing anywhere.
    let granted = granted_range(f, SUBUID_FILE, ids.subuid);
    let args = idmap_args(
        &[m(0, ids.uid, 1), m(1, granted.start() + 1, granted.count())],
        &[m(0, ids.gid, 1)],
    );
    let target = Target::user_ns(f, &f.user)?;
    let mut cmd = helper_command(f, &f.helper, Some(&target.proc_dir), &args);
    process::close_stdio(&mut cmd);
    let out = run(cmd);
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (exit::REFUSED, "", ""),
        "closed stdio, refused request"
    );
    target.ensure_untouched()?;
    let policy_after = (fs::read(SUBUID_FILE).ok(), fs::read(SUBGID_FILE).ok());
    ensure!(policy_after == policy_before, "{SUBUID_FILE} or {SUBGID_FILE} changed");
    Ok(())
}

fn helper_ignores_hostile_environment(f: &Fixture) -> Result<(), Failed> {
    let ids = ids(f);
    let dir = f.user_dir("hostile", 0o755);
    let marker = dir.join("marker");
    let preload = dir.join("preload.so");
    let libdir = dir.join("lib");
    fs::create_dir(&libdir).expect("mkdir");
    build_marker_library(&dir, &preload, &marker)?;
    // Shadows the helper's one library, libc.so.6, if LD_LIBRARY_PATH is honoured.
    build_marker_library(&dir, &libdir.join("libc.so.6"), &marker)?;
    // Policy files granting the user everything, if the helper read paths
    // from its environment.
    let everything = format!("{}:1:4000000000\n", f.user.name);
    let (fake_subuid, fake_subgid) = (dir.join("subuid"), dir.join("subgid"));
    fs::write(&fake_subuid, &everything).expect("write");
    fs::write(&fake_subgid, &everything).expect("write");

    // Controls: the tricks work on ordinary programs.
    let mut control = f.as_user("/bin/true");
    control.env("LD_PRELOAD", &preload);
    let out = run(control);
    ensure!(
        out.status.success() && marker.exists(),
        "control: LD_PRELOAD did not run the constructor: {out}"
    );
    fs::remove_file(&marker).expect("remove the marker");
    let mut control = f.as_user(&f.helper_unprivileged);
    control.arg("--help").env("LD_LIBRARY_PATH", &libdir);
    let out = run(control);
    // The loader takes the fake libc.so.6 and names it, then gives up (it
    // lacks glibc's symbols): exit 127.
    ensure!(
        out.code() == 127 && out.stderr.contains(&*libdir.join("libc.so.6").to_string_lossy()),
        "control: LD_LIBRARY_PATH did not load the fake libc.so.6 into a non-setuid copy: {out}"
    );
    let _ = fs::remove_file(&marker);

    let hostile = |cmd: &mut Command| {
        cmd.env("LD_PRELOAD", &preload)
            .env("LD_LIBRARY_PATH", &libdir)
            .env("BIG", "x".repeat(100 * 1024))
            .env("RUST_BACKTRACE", "full")
            .env("RUST_LOG", "trace")
            .env("MALLOC_CHECK_", "3")
            .env("BURROW_SUBUID_FILE", &fake_subuid)
            .env("BURROW_SUBGID_FILE", &fake_subgid);
    };

    // A valid request succeeds normally.
    let uid_map = vec![m(0, ids.uid, 1), m(1, ids.subuid.start(), capped(ids.subuid))];
    let gid_map = vec![m(0, ids.gid, 1), m(1, ids.subgid.start(), capped(ids.subgid))];
    let target = Target::user_ns(f, &f.user)?;
    let mut cmd = helper_command(f, &f.helper, Some(&target.proc_dir), &idmap_args(&uid_map, &gid_map));
    hostile(&mut cmd);
    let out = run(cmd);
    ensure_ok(
        &out,
        &format!("ok idmap pid={} uid=2 gid=2 setgroups=allow\n", target.pid),
    )?;
    ensure!(
        !marker.exists(),
        "the helper ran code from LD_PRELOAD or LD_LIBRARY_PATH"
    );
    ensure_eq!(target.uid_map(), uid_map, "uid_map read back");
    ensure_eq!(target.gid_map(), gid_map, "gid_map read back");

    // The policy comes from /etc/subuid, not from the environment.
    let granted = granted_range(f, SUBUID_FILE, ids.subuid);
    let outside = m(1, granted.end(), 1);
    let target = Target::user_ns(f, &f.user)?;
    let mut cmd = helper_command(
        f,
        &f.helper,
        Some(&target.proc_dir),
        &idmap_args(&[m(0, ids.uid, 1), outside], &[]),
    );
    hostile(&mut cmd);
    let out = run(cmd);
    let line = format!(
        "burrow-helper: idmap: uid range {outside} is not granted to {} by {SUBUID_FILE}",
        f.user.name
    );
    ensure_refused(&out, exit::REFUSED, &line)?;
    ensure!(
        !marker.exists(),
        "the helper ran code from LD_PRELOAD or LD_LIBRARY_PATH"
    );
    target.ensure_untouched()
}

fn helper_refuses_not_privileged(f: &Fixture) -> Result<(), Failed> {
    let line = "burrow-helper: not privileged: must be installed setuid root and run in the initial user namespace";
    // Installed without the setuid bit.
    let target = Target::user_ns(f, &f.user)?;
    let out = run(helper_command(
        f,
        &f.helper_unprivileged,
        Some(&target.proc_dir),
        &own_ids_args(f),
    ));
    ensure_refused(&out, exit::OS_ERROR, line)?;
    target.ensure_untouched()?;
    // Setuid, but run inside a user namespace where the caller is root.
    let target = Target::user_ns(f, &f.user)?;
    let mut cmd = f.as_user("unshare");
    cmd.args(["--user", "--map-root-user", "--"])
        .arg(&f.helper)
        .args(own_ids_args(f));
    process::pass_fd(&mut cmd, target.proc_dir.as_raw_fd(), 3);
    let out = run(cmd);
    ensure_refused(&out, exit::OS_ERROR, line)?;
    target.ensure_untouched()
}

/// A caller whose uid and gid name nobody: glibc's NSS then asks every
/// source nsswitch.conf lists, loading their modules (a statically linked
/// helper died of SIGSEGV here). The helper names the caller by number and
/// refuses with its one line; the cgroup operation looks up the caller's
/// name and groups before it opens the target, which is not the caller's.
fn helper_handles_caller_without_names(f: &Fixture) -> Result<(), Failed> {
    let id = unnamed_id().ok_or("no unnamed id")?;
    let mut cmd = f.as_user(&f.probe);
    cmd.arg("hold");
    let target = Target::start(cmd)?;
    let mut cmd = Command::new(&f.helper);
    cmd.args(["cgroup", "--proc-fd", "3", "--name", "c1"])
        .uid(id)
        .gid(id)
        .env_clear()
        .current_dir("/");
    process::pass_fd(&mut cmd, target.proc_dir.as_raw_fd(), 3);
    let out = run(cmd);
    let line = format!(
        "burrow-helper: cgroup: target process belongs to uid {}, not to the caller (uid {id})",
        f.user.uid
    );
    ensure_refused(&out, exit::REFUSED, &line)
}

fn helper_usage_errors(f: &Fixture) -> Result<(), Failed> {
    let uid = f.user.uid;
    let cases: Vec<(Vec<String>, String)> = vec![
        (vec![], "burrow-helper: no operation given".into()),
        (
            vec!["mount".into()],
            "burrow-helper: unknown operation \"mount\"".into(),
        ),
        (
            vec![
                "idmap".into(),
                "--proc-fd".into(),
                "2".into(),
                "--uid".into(),
                format!("0:{uid}:1"),
            ],
            "burrow-helper: idmap: --proc-fd \"2\" is not a descriptor from 3 to 1023".into(),
        ),
        (
            vec![
                "idmap".into(),
                "--proc-fd".into(),
                "fd".into(),
                "--uid".into(),
                format!("0:{uid}:1"),
            ],
            "burrow-helper: idmap: --proc-fd \"fd\" is not a descriptor from 3 to 1023".into(),
        ),
        (
            vec!["idmap".into(), "--proc-fd".into(), "3".into()],
            "burrow-helper: idmap: nothing to map (no --uid or --gid)".into(),
        ),
        (
            vec!["idmap".into(), "--uid".into(), format!("0:{uid}:1")],
            "burrow-helper: idmap: --proc-fd is required".into(),
        ),
    ];
    for (args, line) in cases {
        ensure_refusal(f, &args, exit::USAGE, &line)?;
    }
    // --help alone is not an error.
    let out = run(helper_command(f, &f.helper, None, &["--help".to_owned()]));
    ensure_ok(&out, &format!("{USAGE}\n"))
}

// ---------------------------------------------------------------------------
// Big subordinate id files (issue 13, finding 6)

/// Users in the big subid files: a host of some 40,000 users had files
/// above the 1 MiB the helper once read; these are several MB.
const BIG_USERS: u32 = 200_000;
/// The test user's entries in the big files: ranges it has in neither of the
/// real files, so that a success shows the big file was read.
const BIG_SUBUID: (u32, u32) = (2_000_000_000, 65536);
const BIG_SUBGID: (u32, u32) = (2_100_000_000, 65536);

/// Writes `text` to a new root-owned 0644 file in T (what the helper trusts).
fn root_file(f: &Fixture, what: &str, text: &str) -> PathBuf {
    let path = f.scratch(what);
    fs::write(&path, text).expect("write a policy file");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
    path
}

/// A subid file of BIG_USERS other users (with a comment of exactly the
/// line cap among them), then the test user's entry `(start, count)` last.
fn big_subid_file(f: &Fixture, what: &str, (start, count): (u32, u32)) -> PathBuf {
    let mut text = String::with_capacity(BIG_USERS as usize * 28);
    for i in 0..BIG_USERS {
        text += &format!("user{i:06}:{}:1000\n", 3_000_000_000 + i * 1000);
        if i == BIG_USERS / 2 {
            text += &format!("#{}\n", "x".repeat(subid::MAX_LINE_BYTES - 1));
        }
    }
    text += &format!("{}:{start}:{count}\n", f.user.name);
    assert!(text.len() > 4 << 20, "{} bytes", text.len());
    root_file(f, what, &text)
}

/// `program` as the test user in a private mount namespace where
/// /etc/subuid and /etc/subgid are bind mounts of `subuid` and `subgid`:
/// the host's files, and every other process's view of them, stay as they
/// are. The mount namespace is root's (made before the ids change), so the
/// setuid helper runs as it would on the host.
fn with_subid_files(f: &Fixture, program: &Path, subuid: &Path, subgid: &Path) -> Command {
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).expect("no NUL in a path");
    let (subuid, subgid) = (c(subuid), c(subgid));
    let files = (c(Path::new(SUBUID_FILE)), c(Path::new(SUBGID_FILE)));
    let (uid, gid) = (f.user.uid, f.user.gid);
    let mut cmd = f.user_environment(&f.user, program);
    // SAFETY: only system calls (async-signal-safe) on memory allocated
    // before the fork; the ids change last, as Command's own uid() would.
    unsafe {
        cmd.pre_exec(move || {
            let ok = |r: libc::c_int| {
                if r == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            };
            let none = std::ptr::null();
            ok(libc::unshare(libc::CLONE_NEWNS))?;
            ok(libc::mount(
                none,
                c"/".as_ptr(),
                none,
                libc::MS_REC | libc::MS_PRIVATE,
                none.cast(),
            ))?;
            for (source, target) in [(&subuid, &files.0), (&subgid, &files.1)] {
                ok(libc::mount(
                    source.as_ptr(),
                    target.as_ptr(),
                    none,
                    libc::MS_BIND,
                    none.cast(),
                ))?;
            }
            ok(libc::setgroups(0, std::ptr::null()))?;
            ok(libc::setresgid(gid, gid, gid))?;
            ok(libc::setresuid(uid, uid, uid))
        });
    }
    process::die_with_parent(&mut cmd);
    cmd
}

/// A ranged idmap with /etc/subuid and /etc/subgid of 200,000 users each
/// (several MB, the caller's entry last) succeeds, and the maps are the
/// granted ranges. Before the fix: `/etc/subuid: larger than 1048576 bytes`.
fn helper_reads_big_subid_files(f: &Fixture) -> Result<(), Failed> {
    let ids = ids(f);
    let subuid = big_subid_file(f, "subuid-big", BIG_SUBUID);
    let subgid = big_subid_file(f, "subgid-big", BIG_SUBGID);
    let uid_map = vec![m(0, ids.uid, 1), m(1, BIG_SUBUID.0, BIG_SUBUID.1)];
    let gid_map = vec![m(0, ids.gid, 1), m(1, BIG_SUBGID.0, BIG_SUBGID.1)];
    let target = Target::user_ns(f, &f.user)?;
    let mut cmd = with_subid_files(f, &f.helper, &subuid, &subgid);
    cmd.args(idmap_args(&uid_map, &gid_map));
    process::pass_fd(&mut cmd, target.proc_dir.as_raw_fd(), 3);
    let out = run(cmd);
    ensure_ok(
        &out,
        &format!("ok idmap pid={} uid=2 gid=2 setgroups=allow\n", target.pid),
    )?;
    ensure_eq!(target.uid_map(), uid_map, "uid_map read back");
    ensure_eq!(target.gid_map(), gid_map, "gid_map read back");
    // Control: the real files do not grant these ranges.
    let target = Target::user_ns(f, &f.user)?;
    let line = format!(
        "burrow-helper: idmap: uid range {} is not granted to {} by {SUBUID_FILE}",
        uid_map[1], f.user.name
    );
    ensure_refused(
        &helper(f, &target, &idmap_args(&uid_map, &gid_map)),
        exit::REFUSED,
        &line,
    )?;
    target.ensure_untouched()
}

/// A line one byte longer than the cap, after the caller's entry, refuses
/// the file with its line number; nothing is written.
fn helper_refuses_overlong_subid_line(f: &Fixture) -> Result<(), Failed> {
    let ids = ids(f);
    let (start, count) = BIG_SUBUID;
    let text = format!(
        "{}:{start}:{count}\n#{}\nbob:1:1\n",
        f.user.name,
        "x".repeat(subid::MAX_LINE_BYTES)
    );
    let subuid = root_file(f, "subuid-long", &text);
    let subgid = root_file(f, "subgid-long", &format!("{}:{start}:{count}\n", f.user.name));
    let target = Target::user_ns(f, &f.user)?;
    let mut cmd = with_subid_files(f, &f.helper, &subuid, &subgid);
    cmd.args(idmap_args(&[m(0, ids.uid, 1), m(1, start, count)], &[]));
    process::pass_fd(&mut cmd, target.proc_dir.as_raw_fd(), 3);
    let line = format!("burrow-helper: {SUBUID_FILE}: line 2: longer than 4096 bytes");
    ensure_refused(&run(cmd), exit::POLICY_FILE, &line)?;
    target.ensure_untouched()
}

/// `burrow run` with the default map, under the same big files: the runner
/// picks the caller's range from them (read as the helper reads them) and
/// the helper grants it.
fn runner_default_map_from_big_subid_files(f: &Fixture) -> Result<(), Failed> {
    let ids = ids(f);
    let subuid = big_subid_file(f, "subuid-big", BIG_SUBUID);
    let subgid = big_subid_file(f, "subgid-big", BIG_SUBGID);
    let mut cmd = with_subid_files(f, &f.burrow, &subuid, &subgid);
    cmd.arg("run")
        .arg("--rootfs")
        .arg(&f.rootfs)
        .args(["--", "cat", "/proc/self/uid_map", "/proc/self/gid_map"]);
    let out = run(cmd);
    ensure_eq!(
        (out.code(), out.stderr.as_str()),
        (exit::OK, ""),
        "burrow run: exit code and stderr"
    );
    let maps = parse_map_file(&out.stdout).ok_or_else(|| format!("maps do not parse: {:?}", out.stdout))?;
    ensure_eq!(
        maps,
        vec![
            m(0, ids.uid, 1),
            m(1, BIG_SUBUID.0, BIG_SUBUID.1),
            m(0, ids.gid, 1),
            m(1, BIG_SUBGID.0, BIG_SUBGID.1)
        ],
        "the container's uid_map and gid_map"
    );
    Ok(())
}
