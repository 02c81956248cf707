//! How a container meets its user and how it ends (cli/session.rs,
//! start/pty.rs, start/supervise.rs, child/terminal.rs, child/init.rs), as
//! the unprivileged test user: a terminal of its own driven through a real
//! one (tmux, whose server the scenario starts and ends), burrow's init,
//! the stop signal and its timeout, real-time signals, and a system
//! container's halt and reboot with busybox init. Each asserts what the
//! user sees on the screen, the exit status, and the caller's terminal
//! settings before, during and after.

use burrow_tests::fixture::Fixture;
use burrow_tests::harness::{self, Scenario, Suite};
use burrow_tests::process::{self, Output, Spawned};
use burrow_tests::{Failed, ensure, ensure_eq};
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const SCENARIOS: &[(&str, Scenario)] = burrow_tests::scenarios![
    terminal_session_through_tmux,
    terminal_restored_when_burrow_is_killed,
    terminal_without_input,
    init_passes_the_terminals_interrupt,
    init_passes_sigterm_and_reaps_orphans,
    init_shows_nothing_of_the_host,
    stop_timeout_kills_what_ignores_sigterm,
    realtime_signals_reach_pid_1,
    system_container_gets_tmpfs_and_sys_boot,
    busybox_init_halts_on_sigterm,
    system_container_halts_when_its_terminal_hangs_up,
    busybox_init_reboots_once_then_powers_off,
    no_reboot_ends_at_a_reboot,
];

fn main() -> ExitCode {
    harness::main(Suite {
        packages: &["burrow", "burrow-helper"],
        network: false,
        scenarios: SCENARIOS,
    })
}

/// Long enough for any start or screen update here.
const DEADLINE: Duration = Duration::from_secs(20);

fn text(path: &Path) -> &str {
    path.to_str().expect("fixture paths are UTF-8")
}

/// Whether `check` holds within DEADLINE.
fn within_deadline(check: impl FnMut() -> bool) -> bool {
    process::within(DEADLINE, check)
}

/// A tmux server of the test user's, in the foreground (`-D`), so that it
/// stays the scenario's own child: ended with kill-server and reaped when
/// dropped. One window of 100x30 runs `command` (bash -c).
struct Tmux<'a> {
    f: &'a Fixture,
    socket: PathBuf,
    server: Option<Spawned>,
}

impl<'a> Tmux<'a> {
    fn start(f: &'a Fixture, dir: &Path, command: &str) -> Result<Tmux<'a>, Failed> {
        let socket = dir.join("tmux.sock");
        let mut server = f.as_user("tmux");
        server.args(["-D", "-f", "/dev/null", "-S", text(&socket)]);
        server.stdout(Stdio::null()).stderr(Stdio::null());
        let mut tmux = Tmux {
            f,
            socket,
            server: None,
        };
        tmux.server = Some(process::spawn(&mut server).map_err(|e| format!("starting tmux: {e}"))?);
        ensure!(
            within_deadline(|| tmux.socket.exists()),
            "the tmux server made no socket"
        );
        // The screen stays once the command has ended, for what it said last.
        tmux.run(&["set-option", "-g", "remain-on-exit", "on"])?;
        // bash, which goes on after a command that handled ^C (dash would
        // die of it before it writes the command's status).
        tmux.run(&["new-session", "-d", "-x", "100", "-y", "30", "bash", "-c", command])?;
        Ok(tmux)
    }

    fn client(&self, args: &[&str]) -> Command {
        let mut cmd = self.f.as_user("tmux");
        cmd.args(["-f", "/dev/null", "-S", text(&self.socket)]).args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Result<String, Failed> {
        let out = process::run(&mut self.client(args), None).map_err(|e| format!("tmux {args:?}: {e}"))?;
        ensure!(out.code() == 0, "tmux {args:?}: {out}");
        Ok(out.stdout)
    }

    /// Types `keys` literally, then Enter.
    fn line(&self, keys: &str) -> Result<(), Failed> {
        self.run(&["send-keys", "-l", keys])?;
        self.run(&["send-keys", "Enter"]).map(drop)
    }

    /// Presses one key (tmux's name for it, such as C-c).
    fn key(&self, key: &str) -> Result<(), Failed> {
        self.run(&["send-keys", key]).map(drop)
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-J"]).unwrap_or_default()
    }

    /// Waits for `wanted` on the screen.
    fn wait_for(&self, wanted: &str) -> Result<(), Failed> {
        if within_deadline(|| self.screen().contains(wanted)) {
            return Ok(());
        }
        Err(format!("{wanted:?} did not appear on the screen:\n{}", self.screen()).into())
    }

    /// The pane's terminal, the caller's terminal of the scenario.
    fn pane_tty(&self) -> Result<PathBuf, Failed> {
        Ok(PathBuf::from(
            self.run(&["display-message", "-p", "#{pane_tty}"])?.trim(),
        ))
    }
}

impl Drop for Tmux<'_> {
    /// Ends the server; a pane's process that outlives it (the server
    /// hangs panes up and exits without waiting) is reparented to the test
    /// binary, which reaps it here.
    fn drop(&mut self) {
        let panes = self.run(&["list-panes", "-a", "-F", "#{pane_pid}"]).unwrap_or_default();
        let panes: Vec<u32> = panes.lines().filter_map(|pid| pid.trim().parse().ok()).collect();
        panes.iter().for_each(|&pid| process::expect_orphan(pid));
        let _ = process::run(&mut self.client(&["kill-server"]), None);
        if let Some(server) = self.server.take() {
            let _ = server.output(None);
        }
        for pid in panes {
            let _ = process::reap_expected_orphan(pid);
        }
    }
}

/// Whether the terminal at `tty` is in raw mode (no line editing, no
/// echo, no signal keys), as `cfmakeraw` leaves it.
fn is_raw(tty: &Path) -> Result<bool, Failed> {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(tty)
        .map_err(|e| format!("opening {}: {e}", tty.display()))?;
    // SAFETY: termios is plain data (all-zero is valid), written by
    // tcgetattr on an fd that is open for the call.
    let (got, modes) = unsafe {
        let mut modes: libc::termios = std::mem::zeroed();
        (libc::tcgetattr(file.as_raw_fd(), &mut modes), modes)
    };
    if got != 0 {
        return Err(format!("tcgetattr {}: {}", tty.display(), std::io::Error::last_os_error()).into());
    }
    Ok(modes.c_lflag & (libc::ICANON | libc::ECHO | libc::ISIG) == 0)
}

/// The one process of the test user named `comm` whose command line has
/// `needle`.
fn the_process(f: &Fixture, comm: &str, needle: &str) -> Result<u32, Failed> {
    let mut found = Vec::new();
    let seen = within_deadline(|| {
        found = process::processes_of(f.user.uid, needle);
        found.retain(|&pid| process::proc_stat(pid).is_ok_and(|stat| stat.comm == comm));
        found.len() == 1
    });
    ensure!(
        seen,
        "expected one {comm} with {needle:?} in its command line, found {found:?}"
    );
    Ok(found[0])
}

fn state(pid: u32) -> char {
    process::proc_stat(pid).map_or('?', |stat| stat.state)
}

/// The file `path`'s text once it has a whole line.
fn wait_for_file(path: &Path) -> Result<String, Failed> {
    let mut text = String::new();
    let written = within_deadline(|| {
        text = fs::read_to_string(path).unwrap_or_default();
        text.ends_with('\n')
    });
    ensure!(written, "{} was not written", path.display());
    Ok(text)
}

/// The shell line that runs burrow with `args` on the pane's terminal, its
/// status into D/status, the terminal's settings before and after it into
/// D/before and D/after (stty -g).
fn around_burrow(f: &Fixture, dir: &Path, args: &str) -> String {
    let d = text(dir);
    format!(
        "stty -g > {d}/before; {burrow} run --rootfs {root} {args}; echo $? > {d}/status; stty -g > {d}/after",
        burrow = text(&f.burrow),
        root = text(&f.rootfs),
    )
}

/// `-it`, driven as a user types: the prompt of a shell on a terminal of
/// its own (its own devpts: /dev/pts/0), the caller's terminal raw
/// meanwhile; ^C ends a foreground sleep and the shell goes on; ^Z stops
/// it as a job of the container's shell, `fg` continues it; a resize of the
/// caller's window reaches `stty size`; `exit 7` is burrow's status; the
/// caller's terminal is as it was. Without the relay nothing appears;
/// without raw mode ^C and ^Z would hit burrow, not the container's shell;
/// without the resize `stty size` stays 30 100.
fn terminal_session_through_tmux(f: &Fixture) -> Result<(), Failed> {
    let dir = f.user_dir("tty", 0o755);
    let tmux = Tmux::start(f, &dir, &around_burrow(f, &dir, "--hostname session -it -- /bin/sh"))?;
    tmux.wait_for("/ # ")?;
    ensure!(
        is_raw(&tmux.pane_tty()?)?,
        "the caller's terminal is not raw while -it runs"
    );
    tmux.line("tty; stty size")?;
    tmux.wait_for("/dev/pts/0\n30 100")?;

    tmux.line("sleep 1001")?;
    the_process(f, "sleep", "sleep 1001")?;
    tmux.key("C-c")?;
    tmux.line("echo after-$((6*7))")?;
    tmux.wait_for("after-42")?;

    tmux.line("sleep 1002")?;
    let sleep = the_process(f, "sleep", "sleep 1002")?;
    tmux.key("C-z")?;
    tmux.wait_for("Stopped")?;
    ensure!(within_deadline(|| state(sleep) == 'T'), "^Z: sleep is {}", state(sleep));
    tmux.line("fg")?;
    ensure!(within_deadline(|| state(sleep) == 'S'), "fg: sleep is {}", state(sleep));
    tmux.key("C-c")?;
    tmux.line("echo fg-$((2+3))")?;
    tmux.wait_for("fg-5")?;

    tmux.run(&["resize-window", "-x", "80", "-y", "20"])?;
    tmux.line("stty size")?;
    tmux.wait_for("20 80")?;

    tmux.line("exit 7")?;
    ensure_eq!(
        wait_for_file(&dir.join("status"))?,
        "7\n",
        "burrow's status after exit 7"
    );
    ensure_eq!(
        wait_for_file(&dir.join("after"))?,
        wait_for_file(&dir.join("before"))?,
        "the caller's terminal settings after burrow"
    );
    Ok(())
}

/// burrow killed (SIGTERM) while the container's shell waits at its prompt:
/// the shell, pid 1, ignores SIGTERM, so after the stop timeout burrow
/// kills it (137), and the caller's terminal is back as it was.
fn terminal_restored_when_burrow_is_killed(f: &Fixture) -> Result<(), Failed> {
    let dir = f.user_dir("tty-killed", 0o755);
    let args = "--hostname killed-at-prompt --stop-timeout 1 -it -- /bin/sh";
    let tmux = Tmux::start(f, &dir, &around_burrow(f, &dir, args))?;
    tmux.wait_for("/ # ")?;
    ensure!(
        is_raw(&tmux.pane_tty()?)?,
        "the caller's terminal is not raw while -it runs"
    );
    let burrow = the_process(f, "burrow", "killed-at-prompt")?;
    process::signal_process_of(burrow, f.user.uid, libc::SIGTERM).map_err(|e| format!("SIGTERM to burrow: {e}"))?;
    ensure_eq!(wait_for_file(&dir.join("status"))?, "137\n", "burrow's status");
    ensure_eq!(
        wait_for_file(&dir.join("after"))?,
        wait_for_file(&dir.join("before"))?,
        "the caller's terminal settings after burrow was killed"
    );
    tmux.wait_for("did not stop within 1s: killing it")
}

/// `-t` without `-i`, with burrow's stdio pipes: the container still has a
/// terminal (tty names it; its output has the terminal's CR LF), stdin is
/// not relayed, and the status passes through.
fn terminal_without_input(f: &Fixture) -> Result<(), Failed> {
    let mut cmd = f.burrow_in_rootfs(&["-t", "--", "sh", "-c", "tty; test -t 0 && echo stdin-is-a-tty; exit 3"]);
    let out = process::run(&mut cmd, Some(b"not for the container\n")).expect("run burrow");
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (3, "/dev/pts/0\r\nstdin-is-a-tty\r\n", ""),
        "burrow run -t"
    );
    Ok(())
}

/// `--init`: ^C on the caller's terminal reaches the command behind the
/// init (130), where a `sleep` as pid 1 would ignore it.
fn init_passes_the_terminals_interrupt(f: &Fixture) -> Result<(), Failed> {
    let dir = f.user_dir("init-intr", 0o755);
    let tmux = Tmux::start(f, &dir, &around_burrow(f, &dir, "--init -- sleep 1003"))?;
    the_process(f, "sleep", "sleep 1003")?;
    tmux.key("C-c")?;
    ensure_eq!(wait_for_file(&dir.join("status"))?, "130\n", "burrow's status after ^C");
    Ok(())
}

/// `--init`: an orphan the command leaves is reaped by the init (no
/// zombie in the container), and SIGTERM to burrow ends the command, a
/// shell without a trap, with SIGTERM (143).
fn init_passes_sigterm_and_reaps_orphans(f: &Fixture) -> Result<(), Failed> {
    let script = "sh -c 'sleep 0.1 &'; sleep 0.5; \
                  grep -l '^State:.*Z' /proc/[0-9]*/status | wc -l; echo ready; sleep 1000";
    let mut cmd = f.burrow_in_rootfs(&["--init", "--", "sh", "-c", script]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut burrow = process::spawn(&mut cmd).expect("start burrow");
    ensure_eq!(burrow.read_line().expect("read"), "0\n", "zombies in the container");
    ensure_eq!(
        burrow.read_line().expect("read"),
        "ready\n",
        "the container's second line"
    );
    burrow.signal(libc::SIGTERM).expect("signal burrow");
    let out = burrow.output(None).expect("wait for burrow");
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (143, "", ""),
        "after SIGTERM"
    );
    Ok(())
}

/// `--init`: the container's processes see pid 1 as `burrow-init`, not
/// burrow's command line (the rootfs's host path, the options), and cannot
/// read its environment, memory or executable (it is non-dumpable).
fn init_shows_nothing_of_the_host(f: &Fixture) -> Result<(), Failed> {
    let script = "cat /proc/1/cmdline; echo; for f in environ mem exe; do \
                  if cat /proc/1/$f >/dev/null 2>&1; then echo $f readable; fi; done";
    let mut cmd = f.burrow_in_rootfs(&["--init", "--", "sh", "-c", script]);
    let out = process::run(&mut cmd, None).expect("run burrow");
    ensure_eq!(
        (out.code(), out.stdout.replace('\0', ""), out.stderr.as_str()),
        (0, "burrow-init\n".to_owned(), ""),
        "pid 1 as the container sees it"
    );
    Ok(())
}

/// A pid 1 that ignores SIGTERM is killed after `--stop-timeout`, with
/// one line saying so.
fn stop_timeout_kills_what_ignores_sigterm(f: &Fixture) -> Result<(), Failed> {
    let mut cmd = f.burrow_in_rootfs(&[
        "--stop-timeout",
        "1",
        "--",
        "sh",
        "-c",
        "trap '' TERM; echo ready; sleep 1000",
    ]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut burrow = process::spawn(&mut cmd).expect("start burrow");
    ensure_eq!(
        burrow.read_line().expect("read"),
        "ready\n",
        "the container's first line"
    );
    let asked = Instant::now();
    burrow.signal(libc::SIGTERM).expect("signal burrow");
    let out = burrow.output(None).expect("wait for burrow");
    ensure!(
        asked.elapsed() >= Duration::from_secs(1),
        "burrow killed the container before its stop timeout"
    );
    ensure_eq!(
        (out.code(), out.stderr.as_str()),
        (137, "burrow: the container did not stop within 1s: killing it\n"),
        "after SIGTERM to a container that ignores it"
    );
    Ok(())
}

/// SIGRTMIN+3, lxc's halt signal for systemd, reaches pid 1 (burrow used to
/// die of it, 165).
fn realtime_signals_reach_pid_1(f: &Fixture) -> Result<(), Failed> {
    let rtmin3 = libc::SIGRTMIN() + 3;
    let script = format!("trap 'exit 9' {rtmin3}; echo ready; while :; do sleep 0.1; done");
    let mut cmd = f.burrow_in_rootfs(&["--", "sh", "-c", &script]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut burrow = process::spawn(&mut cmd).expect("start burrow");
    ensure_eq!(
        burrow.read_line().expect("read"),
        "ready\n",
        "the container's first line"
    );
    burrow.signal(rtmin3).expect("signal burrow");
    let out = burrow.output(None).expect("wait for burrow");
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (9, "", ""),
        "after SIGRTMIN+3"
    );
    Ok(())
}

/// A rootfs whose /sbin/init is busybox's, with `inittab`.
fn busybox_system(f: &Fixture, inittab: &str) -> PathBuf {
    let root = f.fresh_rootfs();
    for dir in ["sbin", "var"] {
        fs::create_dir(root.join(dir)).expect("mkdir");
    }
    symlink("/bin/busybox", root.join("sbin/init")).expect("link /sbin/init");
    fs::write(root.join("etc/inittab"), inittab).expect("write inittab");
    burrow_tests::rootfs::chown_tree(&root, f.user.uid, f.user.gid).expect("chown the rootfs");
    root
}

fn boot(f: &Fixture, root: &Path, args: &[&str]) -> Command {
    let mut cmd = f.burrow_run(&["--log-level", "info", "--rootfs", text(root)]);
    cmd.args(args).arg("/sbin/init");
    cmd
}

fn info_lines(out: &Output) -> Vec<&str> {
    out.stderr_lines()
        .into_iter()
        .filter(|line| line.starts_with("burrow: ") && !line.contains("cgroup"))
        .collect()
}

/// `--boot`: tmpfs on /run, /run/lock and /tmp, as lxc gives a system
/// container, and CAP_SYS_BOOT (bit 22) beside the default set, unless
/// dropped.
fn system_container_gets_tmpfs_and_sys_boot(f: &Fixture) -> Result<(), Failed> {
    let root = f.fresh_rootfs();
    let script = "grep -E ' /(run|run/lock|tmp) ' /proc/mounts | cut -d' ' -f2,3; grep CapEff /proc/self/status";
    let out = process::run(
        &mut f.burrow_run(&["--rootfs", text(&root), "--boot", "--", "sh", "-c", script]),
        None,
    )
    .expect("run burrow");
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (
            0,
            "/run tmpfs\n/run/lock tmpfs\n/tmp tmpfs\nCapEff:\t00000000804405fb\n",
            ""
        ),
        "a system container's mounts and capabilities"
    );
    let out = process::run(
        &mut f.burrow_run(&[
            "--rootfs",
            text(&root),
            "--boot",
            "--cap-drop",
            "SYS_BOOT",
            "--",
            "grep",
            "CapEff",
            "/proc/self/status",
        ]),
        None,
    )
    .expect("run burrow");
    ensure_eq!(out.stdout, "CapEff:\t00000000800405fb\n", "--cap-drop SYS_BOOT: {out}");
    Ok(())
}

/// `burrow run /sbin/init` with busybox init, no capability added:
/// SIGTERM to burrow sends busybox's halt signal (SIGUSR2), busybox powers
/// off (reboot(2), which ends the namespace's init with SIGINT), and burrow
/// says the container halted and exits 0, within the deadline.
fn busybox_init_halts_on_sigterm(f: &Fixture) -> Result<(), Failed> {
    let root = busybox_system(f, "::sysinit:/bin/echo booted\n::respawn:/bin/sleep 1004\n");
    let mut cmd = boot(f, &root, &[]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut burrow = process::spawn(&mut cmd).expect("start burrow");
    ensure_eq!(burrow.read_line().expect("read"), "booted\n", "the init's first line");
    the_process(f, "sleep", "sleep 1004")?;
    burrow.signal(libc::SIGTERM).expect("signal burrow");
    let asked = Instant::now();
    let out = burrow.output(None).expect("wait for burrow");
    ensure!(
        asked.elapsed() < Duration::from_secs(10),
        "halting took {:?}",
        asked.elapsed()
    );
    ensure_eq!(out.code(), 0, "burrow's status after the halt: {out}");
    ensure_eq!(
        info_lines(&out),
        vec!["burrow: info: the container halted"],
        "burrow's lines: {out}"
    );
    ensure!(
        out.stderr.contains("Requesting system poweroff"),
        "busybox did not power off: {out}"
    );
    Ok(())
}

/// burrow leads a session on a pty, as a login shell would; the pty is
/// closed (its master: a terminal window closed): the kernel hangs it up and
/// sends SIGHUP to burrow, which, for a system container, is a request to
/// stop (busybox's halt signal), not a signal to pass on (an init takes it
/// as "reload"): the container halts, burrow exits 0.
fn system_container_halts_when_its_terminal_hangs_up(f: &Fixture) -> Result<(), Failed> {
    let root = busybox_system(f, "::sysinit:/bin/echo booted\n::respawn:/bin/sleep 1005\n");
    let (master, slave) = process::open_pty().map_err(|e| format!("opening a pty: {e}"))?;
    let mut cmd = boot(f, &root, &[]);
    process::lead_session_on(&mut cmd, slave);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut burrow = process::spawn(&mut cmd).expect("start burrow");
    ensure_eq!(burrow.read_line().expect("read"), "booted\n", "the init's first line");
    the_process(f, "sleep", "sleep 1005")?;
    drop(master);
    let out = burrow.output(None).expect("wait for burrow");
    ensure_eq!(out.code(), 0, "burrow's status after the hangup: {out}");
    ensure_eq!(
        info_lines(&out),
        vec!["burrow: info: the container halted"],
        "burrow's lines: {out}"
    );
    Ok(())
}

/// A reboot inside (busybox's `reboot`: reboot(2) ends the init with SIGHUP)
/// starts the container again in place; the second boot's `poweroff` ends
/// it. The boots are counted in the rootfs.
const REBOOT_ONCE: &str = "::sysinit:/bin/sh -c 'echo boot >> /var/boots'\n\
    ::once:/bin/sh -c 'if [ $(wc -l < /var/boots) -lt 2 ]; then reboot; else poweroff; fi'\n";

fn busybox_init_reboots_once_then_powers_off(f: &Fixture) -> Result<(), Failed> {
    let root = busybox_system(f, REBOOT_ONCE);
    let out = process::run(&mut boot(f, &root, &[]), None).expect("run burrow");
    ensure_eq!(out.code(), 0, "burrow's status: {out}");
    ensure_eq!(
        info_lines(&out),
        vec![
            "burrow: info: the container rebooted: starting it again",
            "burrow: info: the container halted"
        ],
        "burrow's lines: {out}"
    );
    ensure_eq!(
        fs::read_to_string(root.join("var/boots")).unwrap_or_default(),
        "boot\nboot\n",
        "boots"
    );
    Ok(())
}

/// `--no-reboot`: the first reboot ends burrow, with status 0.
fn no_reboot_ends_at_a_reboot(f: &Fixture) -> Result<(), Failed> {
    let root = busybox_system(f, REBOOT_ONCE);
    let out = process::run(&mut boot(f, &root, &["--no-reboot"]), None).expect("run burrow");
    ensure_eq!(out.code(), 0, "burrow's status: {out}");
    ensure_eq!(
        info_lines(&out),
        vec!["burrow: info: the container rebooted, and --no-reboot ends it"],
        "burrow's lines: {out}"
    );
    ensure_eq!(
        fs::read_to_string(root.join("var/boots")).unwrap_or_default(),
        "boot\n",
        "boots"
    );
    Ok(())
}
