//! Everything the benchmark makes is recorded here the moment it exists, and
//! removed by `run` exactly once: at the end, on an error, on a panic (the
//! release profile aborts, so the panic hook calls it), or on SIGINT, SIGTERM,
//! SIGHUP or SIGQUIT (`signals`). Processes are only ever killed by pidfd
//! after checking that they are still ours (the benchmark user's, or in a
//! cgroup the benchmark made), never by name.

use crate::sys;
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Cleanup {
    /// pidfds of our own children (workers, the tracer).
    pub children: Vec<OwnedFd>,
    /// The benchmark user: (name, uid).
    pub user: Option<(String, u32)>,
    pub group: Option<String>,
    pub netns: Option<String>,
    /// The benchmark's cgroups, one per hierarchy.
    pub cgroups: Vec<PathBuf>,
    /// Removed recursively, in order.
    pub dirs: Vec<PathBuf>,
}

static CLEANUP: Mutex<Option<Cleanup>> = Mutex::new(None);
static DONE: AtomicBool = AtomicBool::new(false);
/// Held for the whole of `run`, so that a second caller waits for the first.
static RUNNING: Mutex<()> = Mutex::new(());
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Records something made.
pub fn record(f: impl FnOnce(&mut Cleanup)) {
    let mut guard = CLEANUP.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(Cleanup::default));
}

/// A pidfd for our child `pid`, recorded so that it can be killed.
pub fn record_child(pid: u32) {
    // SAFETY: pidfd_open takes plain values; our unreaped child's pid is its own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) } as libc::c_int;
    if fd >= 0 {
        // SAFETY: a new descriptor we own.
        record(|c| c.children.push(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) }));
    }
}

fn kill_children(children: &[OwnedFd]) {
    for fd in children {
        // SAFETY: a pidfd we own; a process already gone gives ESRCH.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<u8>(),
                0,
            );
        }
    }
}

/// Reaps the killed children (for up to 5 s), so that no zombie of the
/// benchmark user's outlives the benchmark.
fn reap_children(children: &[OwnedFd]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    for fd in children {
        loop {
            // SAFETY: waitid on a pidfd we own, into a zeroed siginfo.
            let (ret, pid) = unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                let ret = libc::waitid(
                    libc::P_PIDFD,
                    fd.as_raw_fd() as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOHANG,
                );
                (ret, info.si_pid())
            };
            // Reaped, or not our child (any more): done; still running: wait.
            if ret != 0 || pid != 0 || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Kills the recorded children only (the first reaction to a signal: the
/// main thread then sees its workers go and cleans up).
pub fn kill_recorded_children() {
    let guard = CLEANUP.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = guard.as_ref() {
        kill_children(&c.children);
    }
}

/// Whether /proc/PID/cgroup still names a cgroup below one of ours.
fn in_our_cgroups(pid: u32, marker: &str) -> bool {
    fs::read_to_string(format!("/proc/{pid}/cgroup")).is_ok_and(|text| text.contains(marker))
}

fn cgroup_dirs_deepest_first(root: &PathBuf, out: &mut Vec<PathBuf>) {
    if let Ok(entries) = fs::read_dir(root) {
        for entry in entries.filter_map(Result::ok) {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                cgroup_dirs_deepest_first(&entry.path(), out);
            }
        }
    }
    out.push(root.clone());
}

/// Removes everything recorded, once; returns the problems.
pub fn run() -> Vec<String> {
    let _running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
    if DONE.swap(true, Ordering::SeqCst) {
        return Vec::new();
    }
    let taken = CLEANUP.lock().unwrap_or_else(|e| e.into_inner()).take();
    let Some(c) = taken else { return Vec::new() };
    let mut problems = Vec::new();

    kill_children(&c.children);
    reap_children(&c.children);
    if let Some((_, uid)) = &c.user {
        let deadline = Instant::now() + Duration::from_secs(5);
        while sys::kill_processes_of(*uid) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if sys::processes_of(*uid) > 0 {
            problems.push(format!("processes of uid {uid} survived SIGKILL"));
        }
    }
    for root in &c.cgroups {
        let marker = root.file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned();
        let mut dirs = Vec::new();
        cgroup_dirs_deepest_first(root, &mut dirs);
        for dir in &dirs {
            let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<u32>().ok()) {
                sys::kill_checked(pid, |p| in_our_cgroups(p, &marker));
            }
        }
        for dir in &dirs {
            if let Err(e) = crate::worker::remove_cgroup(dir) {
                problems.push(format!("removing cgroup {}: {e}", dir.display()));
            }
        }
    }
    if let Some(netns) = &c.netns {
        if let Err(e) = sys::run_ok(Command::new("ip").args(["netns", "delete", netns])) {
            problems.push(e.to_string());
        }
    }
    if let Some((name, _)) = &c.user {
        if let Err(e) = sys::run_ok(Command::new("userdel").arg("--remove").arg(name)) {
            // 12: the home could not be removed; it is in our temp dir anyway.
            if !e.to_string().contains("exit status: 12") {
                problems.push(e.to_string());
            }
        }
    }
    if let Some(group) = &c.group {
        if let Err(e) = sys::run_ok(Command::new("groupdel").arg(group)) {
            problems.push(e.to_string());
        }
    }
    for dir in &c.dirs {
        match fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                problems.push(format!("removing {}: {e}", dir.display()))
            }
            _ => {}
        }
    }
    problems
}

/// Blocks the termination signals in this (still single-threaded) process
/// and starts the thread that waits for them. The first signal kills our
/// children, which makes the main thread fail and clean up; if it has not
/// within 20 s, or on a second signal, the thread cleans up and exits 130.
pub fn handle_signals() {
    // SAFETY: sigset operations on a local set; pthread_sigmask on this thread.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    std::thread::spawn(move || {
        let wait = move || {
            let mut sig = 0;
            // SAFETY: waits for one of the blocked signals in `set`.
            unsafe { libc::sigwait(&set, &mut sig) };
            sig
        };
        let sig = wait();
        INTERRUPTED.store(true, Ordering::SeqCst);
        eprintln!("\nburrow-bench: signal {sig}: stopping and cleaning up");
        kill_recorded_children();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(wait());
        });
        let _ = rx.recv_timeout(Duration::from_secs(20));
        for problem in run() {
            eprintln!("burrow-bench: cleanup: {problem}");
        }
        std::process::exit(130);
    });
}
