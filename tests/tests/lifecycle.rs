//! Containers that outlive one command (cli/detach.rs, cli/lifecycle.rs,
//! state/), as the unprivileged test user, each scenario with a state
//! directory of its own ($XDG_RUNTIME_DIR): `burrow run -d`, `ps`,
//! `inspect`, `logs`, `stop`, `kill`, `wait`, `rm`, their refusals with their
//! exact lines, the monitor's death, names taken at once. A monitor outlives
//! the `burrow run -d` that started it and is reparented to the test binary
//! (a subreaper): the suite runs one scenario at a time, and each scenario
//! claims and reaps its monitors.

use burrow_tests::fixture::Fixture;
use burrow_tests::harness::{self, Scenario, Suite};
use burrow_tests::process::{self, Output};
use burrow_tests::{Failed, ensure, ensure_eq};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::thread;
use std::time::{Duration, Instant};

const SCENARIOS: &[(&str, Scenario)] = burrow_tests::scenarios![
    detached_run_ps_logs_stop_wait_rm,
    stop_kills_after_its_timeout,
    kill_sends_the_signal_asked_for,
    refusals_name_what_is_wrong,
    failed_start_leaves_nothing,
    one_name_one_container,
    killed_monitor_takes_its_container,
    pidfile_and_inspect_name_pid_1,
    log_keeps_the_newest_part,
    restart_policies,
];

fn main() -> ExitCode {
    harness::main_serial(Suite {
        packages: &["burrow", "burrow-helper"],
        network: false,
        scenarios: SCENARIOS,
    })
}

fn text(path: &Path) -> &str {
    path.to_str().expect("fixture paths are UTF-8")
}

/// The test user's burrow with the state directory `state`.
struct User<'a> {
    f: &'a Fixture,
    state: PathBuf,
}

impl<'a> User<'a> {
    fn new(f: &'a Fixture) -> User<'a> {
        User {
            f,
            state: f.user_dir("xdg", 0o700),
        }
    }

    fn burrow(&self, args: &[&str]) -> Command {
        let mut cmd = self.f.as_user(&self.f.burrow);
        cmd.env("XDG_RUNTIME_DIR", &self.state).args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        process::run(&mut self.burrow(args), None).expect("run burrow")
    }

    /// `burrow run -d --name NAME --rootfs T/rootfs ARGS`: its id, once
    /// exec'd; the monitor claimed for this scenario.
    fn detach(&self, name: &str, args: &[&str]) -> Result<String, Failed> {
        let mut all = vec!["run", "-d", "--name", name, "--rootfs", text(&self.f.rootfs)];
        all.extend_from_slice(args);
        let out = self.run(&all);
        let id = out.stdout.trim().to_owned();
        ensure!(
            out.code() == 0 && out.stderr.is_empty() && id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "burrow run -d: expected exit 0 and the container's id; found {out}"
        );
        process::expect_orphan(self.monitor(name)?);
        Ok(id)
    }

    fn record(&self, name: &str) -> String {
        fs::read_to_string(self.state.join("burrow").join(name).join("state.json")).unwrap_or_default()
    }

    /// The pid of `which` ("monitor" or "init") in NAME's record.
    fn pid_of(&self, name: &str, which: &str) -> Option<u32> {
        let record = self.record(name);
        let after = &record[record.find(&format!("\"{which}\": {{"))?..];
        let pid = &after[after.find("\"pid\":")? + 6..];
        pid.trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    }

    fn monitor(&self, name: &str) -> Result<u32, Failed> {
        self.pid_of(name, "monitor")
            .ok_or_else(|| format!("no monitor in the record of {name}: {}", self.record(name)).into())
    }

    /// Waits for NAME's monitor to end and reaps it.
    fn reap_monitor(&self, monitor: u32) -> Result<(), Failed> {
        process::reap_expected_orphan(monitor)
            .map(drop)
            .map_err(|e| format!("reaping the monitor {monitor}: {e}").into())
    }
}

/// Exactly `stdout`, nothing on stderr, exit 0.
fn ensure_said(out: &Output, stdout: &str, what: &str) -> Result<(), Failed> {
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (0, stdout, ""),
        "{what}"
    );
    Ok(())
}

/// Exit 125 and exactly the line `burrow: LINE` on stderr.
fn ensure_refused(out: &Output, line: &str, what: &str) -> Result<(), Failed> {
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (125, "", format!("burrow: {line}\n").as_str()),
        "{what}"
    );
    Ok(())
}

const HANDLES_TERM: &str = "echo hello; trap 'echo bye; exit 3' TERM; while :; do sleep 0.1; done";

/// The whole life: run -d prints the id; ps lists it running; logs has its
/// output; stop sends SIGTERM, which it handles (exit 3); wait prints 3;
/// ps -a says exited (3); rm removes it, and then nothing knows it.
fn detached_run_ps_logs_stop_wait_rm(f: &Fixture) -> Result<(), Failed> {
    let user = User::new(f);
    let id = user.detach("web", &["--", "sh", "-c", HANDLES_TERM])?;
    let monitor = user.monitor("web")?;
    let ps = user.run(&["ps"]);
    ensure!(
        ps.code() == 0
            && ps
                .stdout
                .lines()
                .nth(1)
                .is_some_and(|l| l.starts_with(&id[..12]) && l.contains(" web ") && l.contains("running")),
        "burrow ps: {ps}"
    );
    ensure!(
        process::within(Duration::from_secs(10), || user.run(&["logs", "web"]).stdout
            == "hello\n"),
        "burrow logs web: {}",
        user.run(&["logs", "web"])
    );
    ensure_said(&user.run(&["stop", "web"]), "web\n", "burrow stop web")?;
    ensure_said(&user.run(&["wait", "web"]), "3\n", "burrow wait web")?;
    user.reap_monitor(monitor)?;
    ensure_said(
        &user.run(&["logs", "--tail", "1", "web"]),
        "bye\n",
        "burrow logs --tail 1 web",
    )?;
    let ps = user.run(&["ps", "-a"]);
    ensure!(ps.stdout.contains("exited (3)"), "burrow ps -a after the stop: {ps}");
    ensure_said(
        &user.run(&["ps"]),
        "CONTAINER ID  NAME                STATUS          CREATED       COMMAND\n",
        "burrow ps (running only)",
    )?;
    ensure_said(&user.run(&["rm", "web"]), "web\n", "burrow rm web")?;
    ensure_refused(
        &user.run(&["inspect", "web"]),
        "container \"web\" does not exist",
        "inspect after rm",
    )?;
    ensure!(
        fs::read_dir(user.state.join("burrow")).map_or(0, |d| d.count()) == 0,
        "the state directory still has entries after rm"
    );
    Ok(())
}

/// `stop -t 1` of a container that ignores SIGTERM: SIGKILL after a second;
/// its status 137.
fn stop_kills_after_its_timeout(f: &Fixture) -> Result<(), Failed> {
    let user = User::new(f);
    user.detach(
        "stubborn",
        &["--", "sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"],
    )?;
    let monitor = user.monitor("stubborn")?;
    let asked = Instant::now();
    ensure_said(
        &user.run(&["stop", "-t", "1", "stubborn"]),
        "stubborn\n",
        "burrow stop -t 1",
    )?;
    ensure!(
        asked.elapsed() >= Duration::from_secs(1),
        "stop did not wait its second: {:?}",
        asked.elapsed()
    );
    ensure_said(&user.run(&["wait", "stubborn"]), "137\n", "burrow wait")?;
    user.reap_monitor(monitor)?;
    ensure_said(&user.run(&["rm", "stubborn"]), "stubborn\n", "burrow rm")
}

/// `kill -s USR1` reaches pid 1's trap (exit 10); the default is SIGKILL.
fn kill_sends_the_signal_asked_for(f: &Fixture) -> Result<(), Failed> {
    let user = User::new(f);
    user.detach(
        "k1",
        &["--", "sh", "-c", "trap 'exit 10' USR1; while :; do sleep 0.1; done"],
    )?;
    let monitor = user.monitor("k1")?;
    ensure_said(&user.run(&["kill", "-s", "USR1", "k1"]), "k1\n", "burrow kill -s USR1")?;
    ensure_said(&user.run(&["wait", "k1"]), "10\n", "after USR1")?;
    user.reap_monitor(monitor)?;
    user.detach("k2", &["--", "sleep", "1000"])?;
    let monitor = user.monitor("k2")?;
    ensure_said(&user.run(&["kill", "k2"]), "k2\n", "burrow kill")?;
    ensure_said(&user.run(&["wait", "k2"]), "137\n", "after the default SIGKILL")?;
    user.reap_monitor(monitor)?;
    ensure_said(&user.run(&["rm", "k1", "k2"]), "k1\nk2\n", "burrow rm k1 k2")
}

/// Each refusal is one line, exit 125, and changes nothing.
fn refusals_name_what_is_wrong(f: &Fixture) -> Result<(), Failed> {
    let user = User::new(f);
    for command in [
        &["stop", "nosuch"][..],
        &["kill", "nosuch"],
        &["rm", "nosuch"],
        &["wait", "nosuch"],
        &["logs", "nosuch"],
        &["inspect", "nosuch"],
    ] {
        ensure_refused(
            &user.run(command),
            "container \"nosuch\" does not exist",
            &format!("burrow {command:?}"),
        )?;
    }
    user.detach("busy", &["--", "sleep", "1000"])?;
    let monitor = user.monitor("busy")?;
    let root = text(&f.rootfs);
    ensure_refused(
        &user.run(&["run", "-d", "--name", "busy", "--rootfs", root, "--", "true"]),
        "the name \"busy\" is already in use by a container (burrow rm busy frees it)",
        "a second --name busy",
    )?;
    ensure_refused(
        &user.run(&["rm", "busy"]),
        "container busy is running: stop it first, or use rm -f",
        "rm of a running container",
    )?;
    ensure_refused(
        &user.run(&["run", "-d", "-t", "--rootfs", root, "--", "true"]),
        "-d with -t or -i: a detached container's terminal needs `burrow attach`, which burrow does not have yet",
        "run -d -t",
    )?;
    ensure_refused(
        &user.run(&["run", "-d", "--name", "-x", "--rootfs", root, "--", "true"]),
        "bad --name \"-x\": use 1 to 64 letters, digits, '_', '.' or '-', not starting with '.' or '-'",
        "a bad name",
    )?;
    let out = user.run(&["run", "--name", "x", "--rootfs", root, "--", "true"]);
    ensure!(
        out.code() == 125 && out.stderr.contains("--detach"),
        "--name without -d: {out}"
    );
    ensure_said(
        &user.run(&["rm", "-f", "busy"]),
        "busy\n",
        "rm -f of a running container",
    )?;
    user.reap_monitor(monitor)?;
    ensure_refused(
        &user.run(&["kill", "busy"]),
        "container \"busy\" does not exist",
        "kill after rm -f",
    )
}

/// A start that fails says why as the foreground one does (127 here), and
/// leaves no name or record behind.
fn failed_start_leaves_nothing(f: &Fixture) -> Result<(), Failed> {
    let user = User::new(f);
    let out = user.run(&[
        "run",
        "-d",
        "--name",
        "broken",
        "--rootfs",
        text(&f.rootfs),
        "--",
        "nosuchcommand",
    ]);
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (127, "", "burrow: nosuchcommand: command not found\n"),
        "burrow run -d of a missing command"
    );
    ensure!(
        !user.state.join("burrow/broken").exists(),
        "the failed container's directory is still there"
    );
    Ok(())
}

/// Eight `run -d --name same` at once: exactly one container.
fn one_name_one_container(f: &Fixture) -> Result<(), Failed> {
    let user = User::new(f);
    let root = text(&f.rootfs).to_owned();
    let starts: Vec<_> = (0..8)
        .map(|_| {
            let mut cmd = user.burrow(&["run", "-d", "--name", "same", "--rootfs", &root, "--", "sleep", "1000"]);
            thread::spawn(move || process::run(&mut cmd, None).expect("run burrow"))
        })
        .collect();
    let outs: Vec<Output> = starts.into_iter().map(|t| t.join().expect("a starter")).collect();
    let won = outs.iter().filter(|o| o.code() == 0).count();
    ensure_eq!(won, 1, "starters that got the name: {outs:?}");
    let monitor = user.monitor("same")?;
    process::expect_orphan(monitor);
    ensure!(
        outs.iter()
            .filter(|o| o.code() != 0)
            .all(|o| o.stderr.contains("is already in use")),
        "the losers' errors: {outs:?}"
    );
    ensure_said(&user.run(&["rm", "-f", "same"]), "same\n", "rm -f same")?;
    user.reap_monitor(monitor)
}

/// SIGKILL to the monitor takes the container with it (as a foreground
/// burrow's death does); the record then reads stopped, its status unknown.
fn killed_monitor_takes_its_container(f: &Fixture) -> Result<(), Failed> {
    let user = User::new(f);
    user.detach("orphan", &["--", "sleep", "1000"])?;
    let monitor = user.monitor("orphan")?;
    let init = user.pid_of("orphan", "init").ok_or("no init in the record")?;
    // Its parent gone, pid 1 ends as an orphan of the test binary too.
    process::expect_orphan(init);
    process::signal_process_of(monitor, f.user.uid, libc::SIGKILL).map_err(|e| format!("killing the monitor: {e}"))?;
    user.reap_monitor(monitor)?;
    ensure!(
        process::within(Duration::from_secs(10), || process::proc_stat(init)
            .is_ok_and(|s| s.state == 'Z')),
        "the container's pid 1 {init} outlived its monitor"
    );
    process::reap_expected_orphan(init)
        .map_err(|e| format!("reaping pid 1 {init}, which should have died with its monitor: {e}"))?;
    let ps = user.run(&["ps", "-a"]);
    ensure!(
        ps.stdout.contains(" stopped "),
        "burrow ps -a after the monitor's death: {ps}"
    );
    ensure_refused(
        &user.run(&["wait", "orphan"]),
        "the exit status of orphan is unknown: its monitor was killed",
        "wait",
    )?;
    ensure_said(&user.run(&["rm", "orphan"]), "orphan\n", "rm of the stale record")
}

/// `--pidfile` holds pid 1's pid, which `inspect` says too.
fn pidfile_and_inspect_name_pid_1(f: &Fixture) -> Result<(), Failed> {
    let user = User::new(f);
    let pidfile = user.state.join("pid");
    user.detach("p", &["--pidfile", text(&pidfile), "--", "sleep", "1000"])?;
    let monitor = user.monitor("p")?;
    let pid = fs::read_to_string(&pidfile).unwrap_or_default();
    let init = user.pid_of("p", "init").ok_or("no init in the record")?;
    ensure_eq!(pid, format!("{init}\n"), "the pid file");
    ensure_eq!(
        process::proc_stat(init).map(|s| s.comm).unwrap_or_default(),
        "sleep",
        "the process the pid file names"
    );
    let inspect = user.run(&["inspect", "p"]);
    ensure!(
        inspect.stdout.contains(&format!("\"pid\": {init},")) && inspect.stdout.contains("\"status\": \"running\""),
        "burrow inspect p: {inspect}"
    );
    ensure_said(&user.run(&["rm", "-f", "p"]), "p\n", "rm -f")?;
    user.reap_monitor(monitor)
}

/// The log keeps the newest part under its cap (1 MiB): some 1.4 MB of
/// lines leave the last one, and less than the cap.
fn log_keeps_the_newest_part(f: &Fixture) -> Result<(), Failed> {
    let user = User::new(f);
    let script = "i=0; while [ $i -lt 40000 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done";
    user.detach("chatty", &["--", "sh", "-c", script])?;
    let monitor = user.monitor("chatty")?;
    ensure_said(&user.run(&["wait", "chatty"]), "0\n", "burrow wait")?;
    user.reap_monitor(monitor)?;
    let log = fs::metadata(user.state.join("burrow/chatty/log")).map_or(0, |m| m.len());
    ensure!(log > 0 && log <= 1 << 20, "the log's size: {log}");
    ensure_said(
        &user.run(&["logs", "--tail", "1", "chatty"]),
        "line-39999-xxxxxxxxxxxxxxxxxxxxxxxx\n",
        "the newest line",
    )?;
    ensure_said(&user.run(&["rm", "chatty"]), "chatty\n", "rm")
}

/// `--restart on-failure:2`: a command that fails runs three times in all,
/// and the record says 2 restarts and its last status; `--restart always`
/// starts an ended command again until `burrow stop`, after which it stays
/// stopped.
fn restart_policies(f: &Fixture) -> Result<(), Failed> {
    let user = User::new(f);
    user.detach(
        "flaky",
        &["--restart", "on-failure:2", "--", "sh", "-c", "echo run; exit 4"],
    )?;
    let monitor = user.monitor("flaky")?;
    ensure_said(&user.run(&["wait", "flaky"]), "4\n", "burrow wait")?;
    user.reap_monitor(monitor)?;
    ensure_said(&user.run(&["logs", "flaky"]), "run\nrun\nrun\n", "three runs")?;
    let inspect = user.run(&["inspect", "flaky"]);
    ensure!(
        inspect.stdout.contains("\"restarts\": 2") && inspect.stdout.contains("\"restart\": \"on-failure:2\""),
        "burrow inspect flaky: {inspect}"
    );
    // Each run prints its blocked signals: none, the first time as later.
    let script = "grep SigBlk /proc/self/status; sleep 0.05";
    user.detach("again", &["--restart", "always", "--", "sh", "-c", script])?;
    let monitor = user.monitor("again")?;
    let runs_seen = || user.run(&["logs", "again"]).stdout.lines().count();
    ensure!(
        process::within(Duration::from_secs(20), || runs_seen() >= 3),
        "--restart always: {}",
        user.run(&["logs", "again"])
    );
    let logs = user.run(&["logs", "again"]).stdout;
    ensure!(
        logs.lines().all(|l| l == "SigBlk:\t0000000000000000"),
        "the runs' blocked signals:\n{logs}"
    );
    ensure_said(&user.run(&["stop", "again"]), "again\n", "burrow stop")?;
    user.reap_monitor(monitor)?;
    let runs = user.run(&["logs", "again"]).stdout.lines().count();
    thread::sleep(Duration::from_millis(300));
    ensure_eq!(
        user.run(&["logs", "again"]).stdout.lines().count(),
        runs,
        "runs after the stop"
    );
    let out = user.run(&[
        "run",
        "-d",
        "--restart",
        "sometimes",
        "--rootfs",
        text(&f.rootfs),
        "--",
        "true",
    ]);
    ensure!(
        out.code() == 125 && out.stderr.contains("expected no, on-failure[:N] or always"),
        "a bad policy: {out}"
    );
    ensure_said(&user.run(&["rm", "flaky", "again"]), "flaky\nagain\n", "rm")
}
