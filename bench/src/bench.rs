//! The orchestrator (root): sets up (setup.rs), starts the workers, and runs
//! the phases in turn: start-to-exit latency, helper operations, throughput,
//! memory, leak check. Then prints the table and writes the JSON (report.rs).
//!
//! Workers, each `burrow-bench worker` as the benchmark user in the
//! benchmark's network namespace and cgroups:
//! - `plain`: no supplementary group, so no cgroup policy (as after install.sh);
//! - `cg`: with the group the cgroup policy names (`nest`);
//! - `crun`: like `plain`, in a private mount namespace without the cgroup2
//!   mount on a cgroup-hybrid host, which crun refuses otherwise.

use crate::cleanup;
use crate::report::{self, Report};
use crate::setup::{self, Setup};
use crate::stats;
use crate::sys;
use serde_json::{Value, json};
use std::ffi::CString;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Options {
    pub runs: usize,
    pub warmup: usize,
    pub json: Option<PathBuf>,
    pub throughput_secs: f64,
    pub leak_starts: u64,
    pub helper_runs: usize,
    pub burrow: PathBuf,
    pub helper: PathBuf,
    pub revision: String,
    pub quick: bool,
}

type Res<T> = Result<T, String>;

fn interrupted_error() -> String {
    "interrupted".to_owned()
}

struct Worker {
    name: &'static str,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    fn start(
        s: &Setup,
        name: &'static str,
        groups: Vec<u32>,
        hide: &[PathBuf],
        commands: &[Vec<String>],
    ) -> Res<Worker> {
        let netns_path = format!("/run/netns/{}", s.netns);
        let netns = std::fs::File::open(&netns_path).map_err(|e| format!("{netns_path}: {e}"))?;
        let netfd = netns.as_raw_fd();
        let procs: Vec<CString> = s
            .cgroup_procs()
            .iter()
            .map(|p| sys::cstring(p))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let hide: Vec<CString> = hide
            .iter()
            .map(|p| sys::cstring(p))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let (uid, gid) = s.owner();
        // SAFETY: getpid takes nothing.
        let parent = unsafe { libc::getpid() };
        let mut cmd = Command::new(&s.bench_exe);
        cmd.arg("worker")
            .env_clear()
            .envs(s.user_env())
            .current_dir(&s.user.home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // SAFETY: only async-signal-safe system calls on values prepared
        // before the fork; `netns` stays open until spawn returns.
        unsafe {
            cmd.pre_exec(move || {
                let fail = || Err(std::io::Error::last_os_error());
                if libc::setns(netfd, libc::CLONE_NEWNET) != 0 {
                    return fail();
                }
                for path in &procs {
                    let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                    if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                        return fail();
                    }
                    libc::close(fd);
                }
                if !hide.is_empty() {
                    if libc::unshare(libc::CLONE_NEWNS) != 0
                        || libc::mount(
                            std::ptr::null(),
                            c"/".as_ptr(),
                            std::ptr::null(),
                            libc::MS_REC | libc::MS_PRIVATE,
                            std::ptr::null(),
                        ) != 0
                    {
                        return fail();
                    }
                    for point in &hide {
                        if libc::umount2(point.as_ptr(), libc::MNT_DETACH) != 0 {
                            return fail();
                        }
                    }
                }
                if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                    || libc::setresgid(gid, gid, gid) != 0
                    || libc::setresuid(uid, uid, uid) != 0
                    || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0
                {
                    return fail();
                }
                if libc::getppid() != parent {
                    return Err(std::io::Error::other("the benchmark ended"));
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| format!("starting the {name} worker: {e}"))?;
        drop(netns);
        cleanup::record_child(child.id());
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut worker = Worker {
            name,
            child,
            stdin,
            stdout,
        };
        let config = json!({
            "commands": commands,
            "helper": s.helper.display().to_string(),
            "uid": uid, "gid": gid,
            "subuid": [s.user.subuid.0, s.user.subuid.1],
            "subgid": [s.user.subgid.0, s.user.subgid.1],
            "bridge": setup::BRIDGE,
            "scratch": s.scratch.join(name).display().to_string(),
        });
        std::fs::create_dir(s.scratch.join(name)).map_err(|e| format!("scratch: {e}"))?;
        std::os::unix::fs::chown(s.scratch.join(name), Some(uid), Some(gid)).map_err(|e| format!("scratch: {e}"))?;
        worker.send(&config)?;
        Ok(worker)
    }

    fn send(&mut self, v: &Value) -> Res<()> {
        writeln!(self.stdin, "{v}")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| self.lost(e.to_string()))
    }

    fn lost(&self, why: String) -> String {
        if cleanup::interrupted() {
            interrupted_error()
        } else {
            format!("the {} worker went away ({why})", self.name)
        }
    }

    fn call(&mut self, v: Value) -> Res<Value> {
        if cleanup::interrupted() {
            return Err(interrupted_error());
        }
        self.send(&v)?;
        let mut line = String::new();
        match self.stdout.read_line(&mut line) {
            Ok(0) => Err(self.lost("end of file".into())),
            Ok(_) => serde_json::from_str(&line).map_err(|e| format!("the {} worker said {line:?}: {e}", self.name)),
            Err(e) => Err(self.lost(e.to_string())),
        }
    }

    fn quit(mut self) {
        let _ = self.send(&json!({"op": "quit"}));
        let _ = self.child.wait();
    }
}

#[derive(Clone, Copy, PartialEq)]
enum W {
    Plain = 0,
    Cg = 1,
    Crun = 2,
}

/// One start-to-exit variant of the latency table.
pub struct Variant {
    pub key: &'static str,
    pub label: String,
    worker: W,
    cmd: usize,
    pub argv: Vec<String>,
    pub unavailable: Option<String>,
    pub samples: Vec<Option<f64>>,
    /// CPU time of each counted run, ms.
    pub cpu: Vec<f64>,
    pub failures: usize,
    pub first_error: Option<String>,
}

/// Commands per worker, by index.
#[derive(Default)]
struct Commands([Vec<Vec<String>>; 3]);

impl Commands {
    fn add(&mut self, w: W, argv: Vec<String>) -> usize {
        self.0[w as usize].push(argv);
        self.0[w as usize].len() - 1
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn found(program: &str) -> bool {
    std::env::var("PATH")
        .unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into())
        .split(':')
        .any(|d| Path::new(d).join(program).is_file())
}

fn first_line_of(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).stdin(Stdio::null()).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    text.lines().next().map(|l| l.trim().to_owned())
}

fn burrow_argv(s: &Setup, extra: &[&str], command: &[&str]) -> Vec<String> {
    let mut argv = vec![
        s.burrow.display().to_string(),
        "run".into(),
        "--rootfs".into(),
        s.rootfs.display().to_string(),
    ];
    argv.extend(strings(extra));
    argv.push("--".into());
    argv.extend(strings(command));
    argv
}

const VETH: [&str; 4] = ["--net", "bridge:brbench0", "--ip", setup::CONTAINER_ADDR];
const LIMITS: [&str; 6] = ["--memory", "256M", "--pids-limit", "512", "--cpus", "1"];

pub fn run(o: &Options) -> Res<Report> {
    let mut report = Report::new(o);
    report.machine = machine();
    eprintln!("burrow-bench: setting up (user, rootfs, setuid helper, network namespace, cgroups, bundles)");
    let s = Setup::new(&o.burrow, &o.helper)?;
    let rootfs = s.rootfs.display().to_string();
    let mut cmds = Commands::default();
    let mut variants: Vec<Variant> = Vec::new();
    let mut add =
        |cmds: &mut Commands, key: &'static str, label: &str, w: W, argv: Vec<String>, unavailable: Option<String>| {
            let cmd = cmds.add(w, argv.clone());
            variants.push(Variant {
                key,
                label: label.to_owned(),
                worker: w,
                cmd,
                argv,
                unavailable,
                samples: Vec::new(),
                cpu: Vec::new(),
                failures: 0,
                first_error: None,
            });
        };
    let missing = |p: &str| (!found(p)).then(|| format!("{p} is not installed"));
    let veth_limits: Vec<&str> = VETH.iter().chain(LIMITS.iter()).copied().collect();
    add(
        &mut cmds,
        "burrow",
        "burrow",
        W::Plain,
        burrow_argv(&s, &[], &["/bin/true"]),
        None,
    );
    add(
        &mut cmds,
        "burrow_tty",
        "burrow -t (a pty of its own, relayed)",
        W::Plain,
        burrow_argv(&s, &["-t"], &["/bin/true"]),
        None,
    );
    add(
        &mut cmds,
        "burrow_init",
        "burrow --init (its init as pid 1)",
        W::Plain,
        burrow_argv(&s, &["--init"], &["/bin/true"]),
        None,
    );
    add(
        &mut cmds,
        "burrow_veth",
        "burrow + veth on a bridge",
        W::Plain,
        burrow_argv(&s, &VETH, &["/bin/true"]),
        None,
    );
    add(
        &mut cmds,
        "burrow_cgroup_limits",
        "burrow + cgroup limits",
        W::Cg,
        burrow_argv(&s, &LIMITS, &["/bin/true"]),
        None,
    );
    add(
        &mut cmds,
        "burrow_cgroup_delegated",
        "burrow, cgroup policy, no limits",
        W::Cg,
        burrow_argv(&s, &[], &["/bin/true"]),
        None,
    );
    add(
        &mut cmds,
        "bwrap",
        "bwrap --unshare-all",
        W::Plain,
        strings(&[
            "bwrap",
            "--unshare-all",
            "--bind",
            &rootfs,
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "/bin/true",
        ]),
        missing("bwrap"),
    );
    for tool in ["crun", "runc"] {
        let (key, label, w) = match tool {
            "crun" => (
                "crun",
                if s.hybrid_cgroup2.is_empty() {
                    "crun (rootless)"
                } else {
                    "crun (rootless, cgroup2 hidden)"
                },
                W::Crun,
            ),
            _ => ("runc", "runc (rootless)", W::Plain),
        };
        let (argv, unavailable) = match missing(tool) {
            Some(why) => (vec![tool.to_owned()], Some(why)),
            None => match s.oci_bundle(tool) {
                Ok(bundle) => {
                    let state = s.dir.join("state").join(tool).display().to_string();
                    (
                        strings(&[
                            tool,
                            "--root",
                            &state,
                            "run",
                            "--bundle",
                            &bundle.display().to_string(),
                            "bench",
                        ]),
                        None,
                    )
                }
                Err(e) => (vec![tool.to_owned()], Some(format!("making its bundle: {e}"))),
            },
        };
        add(&mut cmds, key, label, w, argv, unavailable);
    }
    let (argv, unavailable) = match missing("lxc-execute") {
        Some(why) => (vec!["lxc-execute".to_owned()], Some(why)),
        None => match s.lxc_config() {
            Ok(lxcpath) => {
                let p = lxcpath.display().to_string();
                let config = lxcpath.join("config").display().to_string();
                (
                    strings(&["lxc-execute", "-P", &p, "-n", "bench", "-f", &config, "--", "/bin/true"]),
                    None,
                )
            }
            Err(e) => (vec!["lxc-execute".to_owned()], Some(e)),
        },
    };
    add(
        &mut cmds,
        "lxc",
        "lxc-execute (unprivileged)",
        W::Plain,
        argv,
        unavailable,
    );
    let unshare = [
        "unshare",
        "--user",
        "--map-root-user",
        "--pid",
        "--fork",
        "--mount",
        "--net",
        "--uts",
        "--ipc",
        "--root",
        &rootfs,
        "/bin/true",
    ];
    add(
        &mut cmds,
        "unshare",
        "unshare, 6 namespaces (floor)",
        W::Plain,
        strings(&unshare),
        missing("unshare"),
    );
    let mut full_map = strings(&unshare);
    full_map.splice(3..3, strings(&["--map-users=auto", "--map-groups=auto"]));
    add(
        &mut cmds,
        "unshare_subids",
        "unshare + newuidmap/newgidmap",
        W::Plain,
        full_map,
        missing("newuidmap"),
    );

    // Commands for the other phases.
    let sleep_default = cmds.add(W::Plain, burrow_argv(&s, &[], &["/bin/sleep", "1"]));
    let sleep_full = cmds.add(W::Cg, burrow_argv(&s, &veth_limits, &["/bin/sleep", "1"]));
    let true_full = cmds.add(W::Cg, burrow_argv(&s, &veth_limits, &["/bin/true"]));

    let hide = s.hybrid_cgroup2.clone();
    let cg_gid = s.cg_group.1;
    let mut workers = vec![
        Worker::start(&s, "plain", vec![], &[], &cmds.0[0])?,
        Worker::start(&s, "cg", vec![cg_gid], &[], &cmds.0[1])?,
    ];
    if !cmds.0[2].is_empty() {
        workers.push(Worker::start(&s, "crun", vec![], &hide, &cmds.0[2])?);
    }

    // Probe: a variant that fails twice is reported, not measured.
    for v in variants.iter_mut().filter(|v| v.unavailable.is_none()) {
        let mut reason = None;
        for _ in 0..2 {
            let r = workers[v.worker as usize].call(json!({"op": "run", "cmd": v.cmd}))?;
            if r["status"].as_i64() == Some(0) {
                reason = None;
                break;
            }
            reason = Some(r["error"].as_str().unwrap_or("failed").to_owned());
        }
        if let Some(reason) = reason {
            eprintln!("burrow-bench: {} does not run here: {reason}", v.label);
            v.unavailable = Some(reason);
        }
    }

    latency(o, &mut workers, &mut variants)?;
    report.helper_ops = helper_ops(o, &s, &mut workers[W::Cg as usize])?;
    report.throughput = throughput(o, &mut workers, &variants)?;
    report.memory = memory(&s, &mut workers, sleep_default, sleep_full)?;
    report.leak = leak_check(o, &s, &mut workers[W::Cg as usize], sleep_full, true_full)?;
    report.variants = variants;
    report.setup = json!({
        "user": s.user.name, "subuid": [s.user.subuid.0, s.user.subuid.1],
        "netns": s.netns, "bridge": setup::BRIDGE,
        "cgroups": s.hierarchies.iter().map(|h| json!({"mount": h.mount_point.display().to_string(), "v2": h.v2, "bench": h.bench.display().to_string()})).collect::<Vec<_>>(),
        "cgroup2_hidden_for_crun": s.hybrid_cgroup2.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "cgroup_policy": format!("@{} nest", s.cg_group.0),
    });
    for w in workers {
        w.quit();
    }
    report.machine["loadavg_end"] = json!(loadavg());
    Ok(report)
}

/// A progress counter on a terminal; elsewhere only its last value.
fn progress(what: &str, done: usize, total: usize) {
    // SAFETY: isatty takes a plain fd.
    if unsafe { libc::isatty(2) } == 1 {
        eprint!("\rburrow-bench: {what} {done}/{total}   ");
        if done == total {
            eprintln!();
        }
    } else if done == total {
        eprintln!("burrow-bench: {what} {done}/{total}");
    }
}

fn latency(o: &Options, workers: &mut [Worker], variants: &mut [Variant]) -> Res<()> {
    let live: Vec<usize> = (0..variants.len())
        .filter(|&i| variants[i].unavailable.is_none())
        .collect();
    for &i in &live {
        variants[i].samples = vec![None; o.runs];
    }
    let rounds = o.warmup + o.runs;
    for round in 0..rounds {
        // Rotated each round, so that no variant always follows the same one
        // (a veth's asynchronous teardown in the kernel, say).
        for j in 0..live.len() {
            let v = &mut variants[live[(round + j) % live.len()]];
            let r = workers[v.worker as usize].call(json!({"op": "run", "cmd": v.cmd}))?;
            if round < o.warmup {
                continue;
            }
            if r["status"].as_i64() == Some(0) {
                v.samples[round - o.warmup] = r["ns"].as_f64().map(|ns| ns / 1e6);
                v.cpu.extend(r["cpu_ns"].as_f64().map(|ns| ns / 1e6));
            } else {
                v.failures += 1;
                v.first_error = v.first_error.take().or(r["error"].as_str().map(str::to_owned));
            }
        }
        progress("start-to-exit rounds", round + 1, rounds);
    }
    Ok(())
}

pub struct HelperOp {
    pub kind: &'static str,
    pub label: &'static str,
    pub samples_ms: Vec<f64>,
    pub failures: usize,
    pub first_error: Option<String>,
}

/// Users before the benchmark user's entry in the big subid files' row: a
/// shared host's /etc/subuid of several MB (issue 13).
pub const BIG_SUBID_USERS: u32 = 200_000;

fn helper_ops(o: &Options, s: &Setup, w: &mut Worker) -> Res<Vec<HelperOp>> {
    let kinds = [
        ("exec", "setuid exec only (--help)"),
        ("idmap", "idmap (own id + 65536 subordinate ids)"),
        ("veth", "veth (peer made in the target netns)"),
        ("cgroup", "cgroup (nest: delegate, leaf; moves into cgroup2 only)"),
    ];
    let op = |kind, label| HelperOp {
        kind,
        label,
        samples_ms: Vec::new(),
        failures: 0,
        first_error: None,
    };
    let mut ops: Vec<HelperOp> = kinds.iter().map(|&(kind, label)| op(kind, label)).collect();
    let mut teardown = op("veth_teardown", "veth pair gone after its netns ends (kernel, async)");
    let mut big = op("idmap_big_subid", "idmap, 200,000-user subuid and subgid, caller last");
    let warmup = 2;
    let rounds = warmup + o.helper_runs;
    for round in 0..rounds {
        for op in ops.iter_mut() {
            let r = w.call(json!({"op": "helper", "kind": op.kind}))?;
            record(op, &r, round >= warmup);
            if let Some(ns) = r["teardown_ns"].as_f64().filter(|_| round >= warmup) {
                teardown.samples_ms.push(ns / 1e6);
            }
        }
        progress("helper operation rounds", round + 1, rounds);
    }
    // The same idmap with the big files in place, then the small ones again.
    s.write_subid_files(BIG_SUBID_USERS)?;
    let result = (0..rounds).try_for_each(|round| {
        let r = w.call(json!({"op": "helper", "kind": "idmap"}))?;
        record(&mut big, &r, round >= warmup);
        progress("idmap rounds with big subid files", round + 1, rounds);
        Ok::<(), String>(())
    });
    s.write_subid_files(0)?;
    result?;
    ops.insert(2, big);
    ops.push(teardown);
    Ok(ops)
}

/// One helper call's reply: a sample or a failure, once warmed up.
fn record(op: &mut HelperOp, r: &Value, counted: bool) {
    if !counted {
        return;
    }
    if r["ok"].as_bool() == Some(true) {
        op.samples_ms.push(r["ns"].as_f64().unwrap_or(0.0) / 1e6);
    } else {
        op.failures += 1;
        op.first_error = op.first_error.take().or(r["error"].as_str().map(str::to_owned));
    }
}

pub struct Throughput {
    pub key: &'static str,
    pub label: String,
    pub starters: usize,
    pub ok: u64,
    pub failed: u64,
    pub seconds: f64,
    pub per_second: f64,
    /// Containers/s in each window, in order.
    pub window_rates: Vec<f64>,
    /// The median, over windows, of this variant's rate divided by bwrap's
    /// in the same window.
    pub x_bwrap: Option<f64>,
    pub median_ms: Option<f64>,
    pub first_error: Option<String>,
}

/// Each variant's throughput time at a level is cut into this many windows,
/// interleaved with the other variant's (order alternating): a machine that
/// slows down for a while then weighs on both alike, as in the start-to-exit
/// rounds.
pub const WINDOWS: usize = 5;

fn throughput(o: &Options, workers: &mut [Worker], variants: &[Variant]) -> Res<Vec<Throughput>> {
    let mut out = Vec::new();
    let chosen: Vec<&Variant> = variants
        .iter()
        .filter(|v| ["burrow", "bwrap"].contains(&v.key) && v.unavailable.is_none())
        .collect();
    let total = 3 * WINDOWS * chosen.len();
    let mut done = 0;
    for starters in [1usize, 2, 8] {
        let mut level: Vec<Throughput> = chosen
            .iter()
            .map(|v| Throughput {
                key: v.key,
                label: v.label.clone(),
                starters,
                ok: 0,
                failed: 0,
                seconds: 0.0,
                per_second: 0.0,
                window_rates: Vec::new(),
                x_bwrap: None,
                median_ms: None,
                first_error: None,
            })
            .collect();
        let mut medians: Vec<Vec<f64>> = vec![Vec::new(); chosen.len()];
        for window in 0..WINDOWS {
            let mut order: Vec<usize> = (0..chosen.len()).collect();
            if window % 2 == 1 {
                order.reverse();
            }
            for i in order {
                let v = chosen[i];
                let r = workers[v.worker as usize].call(json!({
                    "op": "throughput", "cmd": v.cmd, "threads": starters, "secs": o.throughput_secs / WINDOWS as f64
                }))?;
                let x = &mut level[i];
                let ok = r["ok"].as_u64().unwrap_or(0);
                let seconds = r["elapsed_ns"].as_f64().unwrap_or(1.0) / 1e9;
                x.ok += ok;
                x.failed += r["failed"].as_u64().unwrap_or(0);
                x.seconds += seconds;
                x.window_rates.push(ok as f64 / seconds);
                medians[i].extend(r["median_ns"].as_f64().map(|ns| ns / 1e6));
                if x.first_error.is_none() {
                    x.first_error = r["first_error"].as_str().map(str::to_owned);
                }
                done += 1;
                progress("throughput windows", done, total);
            }
        }
        let bwrap = level
            .iter()
            .position(|x| x.key == "bwrap")
            .map(|i| level[i].window_rates.clone());
        for (x, medians) in level.iter_mut().zip(&medians) {
            x.per_second = x.ok as f64 / x.seconds;
            x.median_ms = stats::median(medians);
            let some = |rates: &[f64]| rates.iter().copied().map(Some).collect::<Vec<_>>();
            x.x_bwrap = bwrap
                .as_ref()
                .and_then(|b| stats::paired_ratio(&some(&x.window_rates), &some(b)));
        }
        out.extend(level);
    }
    Ok(out)
}

/// A runner started in the background, sampled after 0.5 s while its
/// container sleeps: VmHWM, VmRSS, open fds, and whether it has a child.
fn sample_runner(w: &mut Worker, cmd: usize) -> Res<Value> {
    let r = w.call(json!({"op": "spawn", "cmd": cmd}))?;
    let pid = r["pid"]
        .as_u64()
        .ok_or_else(|| format!("starting a sleeping container: {r}"))? as u32;
    std::thread::sleep(Duration::from_millis(500));
    let supervising = sys::all_pids()
        .into_iter()
        .any(|p| sys::parent_pid(p) == Some(pid) && sys::comm(p) == "sleep");
    let sample = json!({
        "vmhwm_kb": sys::status_kb(pid, "VmHWM"),
        "vmrss_kb": sys::status_kb(pid, "VmRSS"),
        "fds": sys::count_entries(Path::new(&format!("/proc/{pid}/fd"))),
        "supervising": supervising,
    });
    let done = w.call(json!({"op": "wait", "pid": pid}))?;
    let mut sample = sample;
    sample["status"] = done["status"].clone();
    sample["error"] = done["error"].clone();
    Ok(sample)
}

/// One start followed by `burrow-bench trace` (root, ptrace): VmHWM of the
/// runner and of each helper exec at their exits.
fn trace(s: &Setup, argv: &[String], groups: &[u32]) -> Res<Value> {
    let plan = json!({
        "argv": argv,
        "env": s.user_env().iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "cwd": s.user.home.display().to_string(),
        "netns": format!("/run/netns/{}", s.netns),
        "cgroup_procs": s.cgroup_procs().iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "uid": s.user.uid, "gid": s.user.gid, "groups": groups,
    });
    let mut cmd = Command::new(&s.bench_exe);
    cmd.arg("trace")
        .arg(plan.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    // SAFETY: prctl takes plain values.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|e| format!("starting the tracer: {e}"))?;
    cleanup::record_child(child.id());
    let out = child.wait_with_output().map_err(|e| format!("the tracer: {e}"))?;
    if cleanup::interrupted() {
        return Err(interrupted_error());
    }
    let v: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("the tracer said {:?}: {e}", String::from_utf8_lossy(&out.stdout)))?;
    if let Some(e) = v["error"].as_str() {
        return Err(format!("tracing a start: {e}"));
    }
    Ok(v)
}

/// What a process of a traced start was.
enum Traced<'a> {
    Runner,
    /// A helper exec, with its operation.
    Helper(&'a str),
    /// Another fork of the runner.
    Fork,
}

fn traced_as(p: &Value) -> Traced<'_> {
    let arg = |i: usize| p["argv"].get(i).and_then(Value::as_str);
    if p["root"].as_bool() == Some(true) {
        Traced::Runner
    } else if arg(0).is_some_and(|a| a.ends_with("burrow-helper")) {
        Traced::Helper(arg(1).unwrap_or("?"))
    } else {
        Traced::Fork
    }
}

/// The CPU time of one traced start, by process: the runner itself, each
/// helper exec (by operation), the runner's other forks, and the container's
/// process (the runner's whole tree, from its rusage, less all the others).
fn cpu_by_process(t: &Value) -> Vec<(String, f64)> {
    let mut parts: Vec<(String, f64)> = Vec::new();
    let mut traced = 0.0;
    for p in t["processes"].as_array().into_iter().flatten() {
        let ms = p["cpu_ns"].as_f64().unwrap_or(0.0) / 1e6;
        traced += ms;
        let name = match traced_as(p) {
            Traced::Runner => "runner".to_owned(),
            Traced::Helper(op) => format!("helper {op}"),
            Traced::Fork => "runner's other forks".to_owned(),
        };
        match parts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, total)) => *total += ms,
            None => parts.push((name, ms)),
        }
    }
    if let Some(tree) = t["tree_cpu_ns"].as_f64() {
        parts.push(("container process".to_owned(), (tree / 1e6 - traced).max(0.0)));
        parts.push(("whole tree".to_owned(), tree / 1e6));
    }
    parts
}

fn memory(s: &Setup, workers: &mut [Worker], sleep_default: usize, sleep_full: usize) -> Res<Value> {
    eprintln!("burrow-bench: memory and CPU by process (sampled and ptrace-followed starts)");
    let default = sample_runner(&mut workers[W::Plain as usize], sleep_default)?;
    let full = sample_runner(&mut workers[W::Cg as usize], sleep_full)?;
    let veth_limits: Vec<&str> = VETH.iter().chain(LIMITS.iter()).copied().collect();
    let mut runner_peak: [Option<u64>; 2] = [None, None];
    let mut helper_peak: std::collections::BTreeMap<String, u64> = Default::default();
    let mut cpu: [Vec<(String, Vec<f64>)>; 2] = Default::default();
    let mut traced = Vec::new();
    let cg = vec![s.cg_group.1];
    for (i, extra, groups) in [(0, &[][..], &vec![]), (1, &veth_limits[..], &cg)] {
        // Sleeping containers for the peaks, /bin/true for the CPU time.
        for command in [&["/bin/sleep", "1"][..]; 2].into_iter().chain([&["/bin/true"][..]; 5]) {
            let t = trace(s, &burrow_argv(s, extra, command), groups)?;
            for p in t["processes"].as_array().into_iter().flatten() {
                let hwm = p["vmhwm_kb"].as_u64();
                match traced_as(p) {
                    Traced::Runner => runner_peak[i] = runner_peak[i].max(hwm),
                    Traced::Helper(op) => {
                        let e = helper_peak.entry(op.to_owned()).or_default();
                        *e = (*e).max(hwm.unwrap_or(0));
                    }
                    Traced::Fork => {}
                }
            }
            if command[0] == "/bin/true" {
                for (name, ms) in cpu_by_process(&t) {
                    match cpu[i].iter_mut().find(|(n, _)| *n == name) {
                        Some((_, all)) => all.push(ms),
                        None => cpu[i].push((name, vec![ms])),
                    }
                }
            }
            traced.push(t);
        }
    }
    let medians = |parts: &[(String, Vec<f64>)]| -> Vec<Value> {
        parts
            .iter()
            .map(|(name, all)| json!({"process": name, "median_ms": stats::median(all), "runs": all.len()}))
            .collect()
    };
    Ok(json!({
        "runner_supervising": {"burrow": default, "burrow_veth_cgroup_limits": full},
        "runner_peak_traced_kb": {"burrow": runner_peak[0], "burrow_veth_cgroup_limits": runner_peak[1]},
        "helper_peak_traced_kb": helper_peak,
        "cpu_by_process": {"burrow": medians(&cpu[0]), "burrow_veth_cgroup_limits": medians(&cpu[1])},
        "traces": traced,
    }))
}

fn counters(s: &Setup, w: &mut Worker, sleep_full: usize) -> Res<Value> {
    let runner = sample_runner(w, sleep_full)?;
    let veths = settled_veths(w.child.id())?;
    Ok(json!({
        "runner_fds": runner["fds"],
        "veths": veths,
        "cgroups": s.cgroup_count(),
        "user_processes": sys::processes_of(s.user.uid),
        "cgroup_processes": s.processes_in_cgroups(),
        "state_files": s.state_files(),
    }))
}

/// The veths in the benchmark's network namespace once the kernel's
/// background deletions are done: burrow does not wait for a pair to go (the
/// kernel deletes it with the container's network namespace, some 10 to 30
/// ms after the last start, as the helper's `veth pair gone` line shows). A
/// leaked pair is still there after 5 s.
fn settled_veths(pid: u32) -> Res<usize> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let veths = sys::interfaces_of(pid)
            .map_err(|e| format!("interfaces in the benchmark namespace: {e}"))?
            .into_iter()
            .filter(|n| n != "lo" && n != setup::BRIDGE)
            .count();
        if veths == 0 || Instant::now() >= deadline {
            return Ok(veths);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn leak_check(o: &Options, s: &Setup, w: &mut Worker, sleep_full: usize, true_full: usize) -> Res<Value> {
    let before = counters(s, w, sleep_full)?;
    eprintln!(
        "burrow-bench: leak check: {} sequential starts of burrow + veth + cgroup limits",
        o.leak_starts
    );
    let start = Instant::now();
    let r = w.call(json!({"op": "loop", "cmd": true_full, "count": o.leak_starts}))?;
    let seconds = start.elapsed().as_secs_f64();
    let after = counters(s, w, sleep_full)?;
    let samples: Vec<f64> = r["samples_ns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .map(|ns| ns / 1e6)
        .collect();
    let summary = stats::summarize(&samples);
    let leaks: Vec<String> = before
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| after[k.as_str()] != **v)
        .map(|(k, v)| format!("{k}: {v} -> {}", after[k.as_str()]))
        .collect();
    Ok(json!({
        "starts": o.leak_starts,
        "failed": r["failed"],
        "first_error": r["first_error"],
        "seconds": seconds,
        "median_ms": summary.map(|s| s.median),
        "before": before,
        "after": after,
        "leaks": leaks,
        "equal": leaks.is_empty(),
    }))
}

/// The 1-minute load average: other work on the machine shows up as noise.
fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        });
    let versions: serde_json::Map<String, Value> = [
        ("bwrap", vec!["--version"]),
        ("crun", vec!["--version"]),
        ("runc", vec!["--version"]),
        ("lxc-execute", vec!["--version"]),
        ("unshare", vec!["--version"]),
    ]
    .into_iter()
    .map(|(p, a)| (p.to_owned(), json!(first_line_of(p, &a))))
    .collect();
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "loadavg_start": loadavg(),
        "versions": versions,
    })
}

/// The whole benchmark: returns the process exit status.
pub fn main(o: Options) -> i32 {
    cleanup::handle_signals();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        for problem in cleanup::run() {
            eprintln!("burrow-bench: cleanup: {problem}");
        }
    }));
    let result = run(&o);
    eprintln!("burrow-bench: cleaning up");
    let problems = cleanup::run();
    for problem in &problems {
        eprintln!("burrow-bench: cleanup: {problem}");
    }
    match result {
        Ok(r) => {
            print!("{}", report::table(&r));
            if let Some(path) = &o.json {
                match report::write_json(&r, path) {
                    Ok(()) => eprintln!("burrow-bench: wrote {}", path.display()),
                    Err(e) => {
                        eprintln!("burrow-bench: writing {}: {e}", path.display());
                        return 1;
                    }
                }
            }
            if problems.is_empty() { 0 } else { 1 }
        }
        Err(_) if cleanup::interrupted() => 130,
        Err(e) => {
            eprintln!("burrow-bench: {e}");
            1
        }
    }
}
