//! `burrow-bench worker`: runs as the benchmark user, started by the
//! orchestrator in the benchmark's network namespace and cgroups. It reads one
//! JSON request per line on stdin and answers one JSON line on stdout; every
//! time it reports is measured here, around the spawn and wait of one
//! command, so the orchestrator's own scheduling never enters a figure.
//!
//! The first line is the configuration: `commands` (argv lists the requests
//! refer to by index), `helper`, `uid`, `gid`, `subuid`/`subgid` (`[start,
//! count]`), `bridge` and `scratch` (a directory of the user's for stderr).

use crate::sys;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, Read, Seek, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

struct Config {
    commands: Vec<Vec<String>>,
    helper: PathBuf,
    uid: u32,
    gid: u32,
    subuid: (u64, u64),
    subgid: (u64, u64),
    bridge: String,
    scratch: PathBuf,
}

fn parse_config(v: &Value) -> Option<Config> {
    let pair = |v: &Value| Some((v.get(0)?.as_u64()?, v.get(1)?.as_u64()?));
    Some(Config {
        commands: v["commands"]
            .as_array()?
            .iter()
            .map(|c| {
                c.as_array()
                    .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
            })
            .collect::<Option<_>>()?,
        helper: PathBuf::from(v["helper"].as_str()?),
        uid: v["uid"].as_u64()? as u32,
        gid: v["gid"].as_u64()? as u32,
        subuid: pair(&v["subuid"])?,
        subgid: pair(&v["subgid"])?,
        bridge: v["bridge"].as_str()?.to_owned(),
        scratch: PathBuf::from(v["scratch"].as_str()?),
    })
}

/// The exit status as a shell reports it: the code, or 128 + the signal.
pub fn status_code(status: ExitStatus) -> i32 {
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// /dev/null and a stderr file for the commands one thread starts.
struct Sink {
    null: File,
    err: File,
}

impl Sink {
    fn new(scratch: &Path, name: &str) -> io::Result<Sink> {
        Ok(Sink {
            null: OpenOptions::new().read(true).write(true).open("/dev/null")?,
            err: OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(scratch.join(format!("{name}.stderr")))?,
        })
    }

    /// A command with stdin and stdout on /dev/null and stderr in the file,
    /// emptied first.
    fn command(&mut self, argv: &[String]) -> io::Result<Command> {
        self.err.set_len(0)?;
        self.err.rewind()?;
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(self.null.try_clone()?)
            .stdout(self.null.try_clone()?)
            .stderr(self.err.try_clone()?);
        Ok(cmd)
    }

    fn last_error(&mut self) -> String {
        let mut text = String::new();
        let _ = self.err.rewind();
        let _ = (&self.err).take(1 << 16).read_to_string(&mut text);
        sys::last_line(&text)
    }
}

/// One start-to-exit.
struct Run {
    /// Wall time from before the spawn to the reaping.
    ns: u64,
    /// User + system CPU time of the process and every descendant it reaped
    /// (wait4's rusage); kernel work done later by kworkers is not in it.
    cpu_ns: u64,
    status: i32,
    /// stderr's last line on failure.
    error: Option<String>,
}

fn wait4(pid: libc::pid_t) -> io::Result<(i32, libc::rusage)> {
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid out-value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid out-pointers; pid is our unreaped child.
        if unsafe { libc::wait4(pid, &mut status, 0, &mut usage) } >= 0 {
            return Ok((status, usage));
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

fn cpu_ns(usage: &libc::rusage) -> u64 {
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn run_once(sink: &mut Sink, argv: &[String]) -> Run {
    let failed = |error: String| Run {
        ns: 0,
        cpu_ns: 0,
        status: -1,
        error: Some(error),
    };
    let mut cmd = match sink.command(argv) {
        Ok(cmd) => cmd,
        Err(e) => return failed(format!("preparing {}: {e}", argv[0])),
    };
    let start = Instant::now();
    // Reaped with wait4, for its rusage; std's Child is never waited on.
    let waited = cmd.spawn().and_then(|child| wait4(child.id() as libc::pid_t));
    let ns = start.elapsed().as_nanos() as u64;
    drop(cmd);
    match waited {
        Ok((raw, usage)) => {
            let status = status_code(ExitStatus::from_raw(raw));
            let error = (status != 0).then(|| {
                let line = sink.last_error();
                if line.is_empty() {
                    format!("exit status {status}")
                } else {
                    line
                }
            });
            Run {
                ns,
                cpu_ns: cpu_ns(&usage),
                status,
                error,
            }
        }
        Err(e) => failed(format!("cannot start {}: {e}", argv[0])),
    }
}

/// A process of the user's that blocks until dropped, in new namespaces
/// (`flags`), as a target for the helper. Forked from this single-threaded
/// worker; the child makes only raw system calls.
struct Holder {
    pid: libc::pid_t,
    _release: OwnedFd,
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds has room for the two descriptors.
    sys::check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 returned two new descriptors we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

impl Holder {
    fn start(flags: libc::c_int) -> io::Result<Holder> {
        let (ready_r, ready_w) = pipe()?;
        let (release_r, release_w) = pipe()?;
        // SAFETY: the worker is single-threaded here (throughput threads are
        // joined); the child only makes async-signal-safe system calls.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            // SAFETY: raw system calls on descriptors this process holds.
            unsafe {
                // Dies with the worker, and holds neither the worker's
                // stdout (the orchestrator waits for its end) nor the
                // release pipe's write end (it waits for that end to close).
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                libc::close(0);
                libc::close(1);
                libc::close(ready_r.as_raw_fd());
                libc::close(release_w.as_raw_fd());
                if flags != 0 && libc::unshare(flags) != 0 {
                    libc::_exit(1);
                }
                let byte = b'r';
                libc::write(ready_w.as_raw_fd(), (&raw const byte).cast(), 1);
                let mut buf = 0u8;
                libc::read(release_r.as_raw_fd(), (&raw mut buf).cast(), 1);
                libc::_exit(0);
            }
        }
        drop((ready_w, release_r));
        let holder = Holder {
            pid,
            _release: release_w,
        };
        let mut byte = [0u8];
        if File::from(ready_r).read(&mut byte)? != 1 {
            return Err(io::Error::other("the target process could not unshare its namespaces"));
        }
        Ok(holder)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        // SAFETY: our own unreaped child, so the pid is still its.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

fn open_fd(path: &str, flags: libc::c_int) -> io::Result<OwnedFd> {
    let c = sys::cstring(Path::new(path))?;
    // SAFETY: a valid C string; the result is a new descriptor we own.
    let fd = sys::check(unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) })?;
    // SAFETY: just opened.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// One helper exec: its time, whether it exited 0, its first stdout line
/// and its last stderr line.
struct HelperRun {
    ns: u64,
    success: bool,
    line: String,
    error: String,
}

impl HelperRun {
    /// Its `ok ...` line, or why there is none.
    fn ok_line(&self) -> Result<&str, String> {
        if self.success && self.line.starts_with("ok ") {
            Ok(&self.line)
        } else {
            Err(self.error.clone())
        }
    }
}

/// Runs the helper as the runner does (fork, the target fd as fd 3, stdout
/// and stderr read to the end).
fn call_helper(helper: &Path, args: &[String], target: Option<RawFd>) -> HelperRun {
    let mut cmd = Command::new(helper);
    cmd.args(args).stdin(Stdio::null());
    // SAFETY: dup2 and fcntl are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(fd) = target {
                let ret = if fd == 3 {
                    libc::fcntl(3, libc::F_SETFD, 0)
                } else {
                    libc::dup2(fd, 3)
                };
                if ret < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let out = cmd.output();
    let ns = start.elapsed().as_nanos() as u64;
    match out {
        Ok(out) => HelperRun {
            ns,
            success: out.status.success(),
            line: String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_owned(),
            error: format!(
                "{}: {}",
                out.status,
                sys::last_line(&String::from_utf8_lossy(&out.stderr))
            ),
        },
        Err(e) => HelperRun {
            ns,
            success: false,
            line: String::new(),
            error: format!("cannot start {}: {e}", helper.display()),
        },
    }
}

fn outcome(run: &HelperRun) -> Value {
    let r = run.ok_line();
    json!({"ns": run.ns, "ok": r.is_ok(), "error": r.err()})
}

fn helper_op(cfg: &Config, kind: &str, serial: u64) -> Value {
    let (uid, gid) = (cfg.uid, cfg.gid);
    let result = (|| -> Result<Value, String> {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match kind {
            "exec" => {
                // --help prints the usage, not an `ok` line: success is exit 0.
                let run = call_helper(&cfg.helper, &strings(&["--help"]), None);
                Ok(json!({"ns": run.ns, "ok": run.success, "error": (!run.success).then_some(run.error)}))
            }
            "idmap" => {
                let holder = Holder::start(libc::CLONE_NEWUSER).map_err(|e| e.to_string())?;
                let fd = open_fd(&format!("/proc/{}", holder.pid), libc::O_DIRECTORY | libc::O_RDONLY)
                    .map_err(|e| e.to_string())?;
                let mut args = strings(&["idmap", "--proc-fd", "3", "--uid"]);
                args.push(format!("0:{uid}:1"));
                args.push("--uid".into());
                args.push(format!("1:{}:{}", cfg.subuid.0, cfg.subuid.1));
                args.push("--gid".into());
                args.push(format!("0:{gid}:1"));
                args.push("--gid".into());
                args.push(format!("1:{}:{}", cfg.subgid.0, cfg.subgid.1));
                Ok(outcome(&call_helper(&cfg.helper, &args, Some(fd.as_raw_fd()))))
            }
            "veth" => {
                let holder = Holder::start(libc::CLONE_NEWUSER | libc::CLONE_NEWNET).map_err(|e| e.to_string())?;
                let fd = open_fd(&format!("/proc/{}/ns/net", holder.pid), libc::O_RDONLY).map_err(|e| e.to_string())?;
                let args = strings(&["veth", "--netns-fd", "3", "--bridge", &cfg.bridge]);
                let run = call_helper(&cfg.helper, &args, Some(fd.as_raw_fd()));
                drop(fd);
                let host = run
                    .ok_line()
                    .ok()
                    .and_then(|line| line.split_whitespace().find_map(|f| f.strip_prefix("host=")))
                    .map(str::to_owned);
                // The pair dies with the holder's namespace; the kernel does
                // that asynchronously: time it, and wait for it, so that the
                // quota and the next measurement start clean.
                drop(holder);
                let gone_start = Instant::now();
                let mut teardown = Value::Null;
                if let Some(host) = host {
                    while gone_start.elapsed() < Duration::from_secs(10) {
                        let names = sys::interfaces_in(&fs::read_to_string("/proc/self/net/dev").unwrap_or_default())
                            .unwrap_or_default();
                        if !names.contains(&host) {
                            teardown = json!(gone_start.elapsed().as_nanos() as u64);
                            break;
                        }
                        std::thread::sleep(Duration::from_micros(500));
                    }
                }
                let mut reply = outcome(&run);
                reply["teardown_ns"] = teardown;
                Ok(reply)
            }
            "cgroup" => {
                let holder = Holder::start(0).map_err(|e| e.to_string())?;
                let fd = open_fd(&format!("/proc/{}", holder.pid), libc::O_DIRECTORY | libc::O_RDONLY)
                    .map_err(|e| e.to_string())?;
                let name = format!("bench{}-{serial}", std::process::id());
                let args = strings(&["cgroup", "--proc-fd", "3", "--name", &name]);
                let run = call_helper(&cfg.helper, &args, Some(fd.as_raw_fd()));
                drop((fd, holder));
                let mut reply = outcome(&run);
                if let Ok(line) = run.ok_line() {
                    for leaf in line.split_whitespace().skip(2) {
                        if let Err(e) = remove_cgroup(Path::new(leaf)) {
                            reply["ok"] = json!(false);
                            reply["error"] = json!(format!("removing {leaf}: {e}"));
                        }
                    }
                }
                Ok(reply)
            }
            other => Err(format!("unknown helper operation {other}")),
        }
    })();
    result.unwrap_or_else(|e| json!({"ns": 0, "ok": false, "error": e}))
}

/// rmdir, retried briefly: a cgroup stays busy for a moment after its last
/// process exits.
pub fn remove_cgroup(path: &Path) -> io::Result<()> {
    let start = Instant::now();
    loop {
        match fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if start.elapsed() > Duration::from_secs(2) => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

fn throughput(cfg: &Config, argv: &[String], threads: usize, secs: f64) -> Value {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let results: Vec<(u64, u64, Vec<u64>, Option<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let (mut ok, mut failed, mut samples, mut first_error) = (0u64, 0u64, Vec::new(), None);
                    let mut sink = match Sink::new(&cfg.scratch, &format!("throughput-{t}")) {
                        Ok(sink) => sink,
                        Err(e) => return (0, 1, samples, Some(e.to_string())),
                    };
                    while Instant::now() < deadline {
                        let run = run_once(&mut sink, argv);
                        if run.status == 0 {
                            ok += 1;
                            samples.push(run.ns);
                        } else {
                            failed += 1;
                            first_error = first_error.or(run.error);
                        }
                    }
                    (ok, failed, samples, first_error)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a starter thread panicked"))
            .collect()
    });
    let elapsed = start.elapsed().as_nanos() as u64;
    let ok: u64 = results.iter().map(|r| r.0).sum();
    let failed: u64 = results.iter().map(|r| r.1).sum();
    let samples: Vec<f64> = results.iter().flat_map(|r| r.2.iter().map(|&ns| ns as f64)).collect();
    let first_error = results.iter().find_map(|r| r.3.clone());
    json!({"ok": ok, "failed": failed, "elapsed_ns": elapsed, "first_error": first_error,
           "median_ns": crate::stats::median(&samples)})
}

pub fn main() -> ! {
    let code = match serve() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("burrow-bench worker: {e}");
            1
        }
    };
    std::process::exit(code)
}

fn serve() -> io::Result<()> {
    let stdin = io::stdin();
    let mut lines = stdin.lock().lines();
    let mut out = io::stdout().lock();
    let first = lines
        .next()
        .ok_or_else(|| io::Error::other("no configuration line"))??;
    let cfg = serde_json::from_str(&first)
        .ok()
        .as_ref()
        .and_then(parse_config)
        .ok_or_else(|| io::Error::other("bad configuration line"))?;
    let mut sink = Sink::new(&cfg.scratch, "run")?;
    let mut background: HashMap<u32, (Child, Instant)> = HashMap::new();
    let mut serial = 0u64;
    for line in lines {
        let request: Value = serde_json::from_str(&line?).map_err(io::Error::other)?;
        let command = |v: &Value| -> io::Result<&Vec<String>> {
            v.as_u64()
                .and_then(|i| cfg.commands.get(i as usize))
                .ok_or_else(|| io::Error::other("bad command index"))
        };
        let reply = match request["op"].as_str().unwrap_or("") {
            "run" => {
                let run = run_once(&mut sink, command(&request["cmd"])?);
                json!({"ns": run.ns, "cpu_ns": run.cpu_ns, "status": run.status, "error": run.error})
            }
            "loop" => {
                let argv = command(&request["cmd"])?;
                let count = request["count"].as_u64().unwrap_or(0);
                let (mut samples, mut failed, mut first_error) = (Vec::new(), 0u64, None);
                let start = Instant::now();
                for _ in 0..count {
                    let run = run_once(&mut sink, argv);
                    if run.status == 0 {
                        samples.push(run.ns);
                    } else {
                        failed += 1;
                        first_error = first_error.or(run.error);
                    }
                }
                json!({"samples_ns": samples, "failed": failed, "first_error": first_error,
                       "elapsed_ns": start.elapsed().as_nanos() as u64})
            }
            "throughput" => {
                let argv = command(&request["cmd"])?;
                let threads = request["threads"].as_u64().unwrap_or(1) as usize;
                throughput(&cfg, argv, threads, request["secs"].as_f64().unwrap_or(1.0))
            }
            "helper" => {
                serial += 1;
                helper_op(&cfg, request["kind"].as_str().unwrap_or(""), serial)
            }
            "spawn" => {
                let argv = command(&request["cmd"])?;
                let mut cmd = sink.command(argv)?;
                let start = Instant::now();
                match cmd.spawn() {
                    Ok(child) => {
                        let pid = child.id();
                        background.insert(pid, (child, start));
                        json!({"pid": pid})
                    }
                    Err(e) => json!({"error": format!("cannot start {}: {e}", argv[0])}),
                }
            }
            "wait" => {
                let pid = request["pid"].as_u64().unwrap_or(0) as u32;
                match background.remove(&pid) {
                    Some((mut child, start)) => {
                        let status = child.wait().map(status_code).unwrap_or(-1);
                        let error = (status != 0).then(|| sink.last_error());
                        json!({"status": status, "ns": start.elapsed().as_nanos() as u64, "error": error})
                    }
                    None => json!({"error": format!("no background process {pid}")}),
                }
            }
            "quit" => break,
            other => json!({"error": format!("unknown request {other:?}")}),
        };
        writeln!(out, "{reply}")?;
        out.flush()?;
    }
    Ok(())
}
