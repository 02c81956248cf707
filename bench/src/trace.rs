//! `burrow-bench trace JSON`: runs as root, started by the orchestrator. Forks
//! one command (a burrow start) as the benchmark user, in the benchmark's
//! network namespace and cgroups, and follows it and the processes it forks
//! with ptrace, only to stop each one as it exits and read its VmHWM (the
//! peak resident set of its memory since its last exec) from
//! /proc/PID/status, and its CPU time from /proc/PID/schedstat: the runner's
//! own over its whole life, and each helper's; the runner's rusage gives the
//! whole tree's CPU time. Prints one JSON line.
//!
//! The tracer is root, so the setuid helper still runs as root when exec'd
//! under it (PTRACE_TRACEME is called before the ids change, so the kernel
//! records root as the tracer's credentials). The container's own process
//! (recognised by its new user namespace) is detached at once: the helper's
//! cgroup operation must be able to ptrace-seize it, and nothing else is
//! wanted from it.

use crate::sys;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::ffi::CString;
use std::fs;
use std::io;
use std::ptr;

struct Plan {
    argv: Vec<CString>,
    envp: Vec<CString>,
    cwd: CString,
    netns: CString,
    cgroup_procs: Vec<CString>,
    uid: u32,
    gid: u32,
    groups: Vec<libc::gid_t>,
}

fn cstr(v: &Value) -> io::Result<CString> {
    CString::new(v.as_str().ok_or_else(|| io::Error::other("expected a string"))?).map_err(io::Error::other)
}

fn parse(arg: &str) -> io::Result<Plan> {
    let v: Value = serde_json::from_str(arg).map_err(io::Error::other)?;
    let list = |key: &str| -> io::Result<Vec<CString>> {
        v[key]
            .as_array()
            .ok_or_else(|| io::Error::other(format!("no {key}")))?
            .iter()
            .map(cstr)
            .collect()
    };
    let num = |key: &str| {
        v[key]
            .as_u64()
            .map(|n| n as u32)
            .ok_or_else(|| io::Error::other(format!("no {key}")))
    };
    Ok(Plan {
        argv: list("argv")?,
        envp: list("env")?,
        cwd: cstr(&v["cwd"])?,
        netns: cstr(&v["netns"])?,
        cgroup_procs: list("cgroup_procs")?,
        uid: num("uid")?,
        gid: num("gid")?,
        groups: v["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g.as_u64())
            .map(|g| g as u32)
            .collect(),
    })
}

fn nul_terminated(list: &[CString]) -> Vec<*const libc::c_char> {
    list.iter().map(|c| c.as_ptr()).chain([ptr::null()]).collect()
}

/// The child: joins the namespace and cgroups as root, asks to be traced,
/// becomes the user, stops, and execs. Raw system calls only (after fork).
unsafe fn child(plan: &Plan, netns: libc::c_int, argv: &[*const libc::c_char], envp: &[*const libc::c_char]) -> ! {
    // SAFETY: raw system calls on values prepared before the fork.
    unsafe {
        if libc::setns(netns, libc::CLONE_NEWNET) != 0 {
            libc::_exit(120);
        }
        for path in &plan.cgroup_procs {
            let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                libc::_exit(121);
            }
            libc::close(fd);
        }
        if libc::ptrace(
            libc::PTRACE_TRACEME,
            0,
            ptr::null_mut::<libc::c_void>(),
            ptr::null_mut::<libc::c_void>(),
        ) != 0
            || libc::setgroups(plan.groups.len(), plan.groups.as_ptr()) != 0
            || libc::setresgid(plan.gid, plan.gid, plan.gid) != 0
            || libc::setresuid(plan.uid, plan.uid, plan.uid) != 0
            || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0
            || libc::chdir(plan.cwd.as_ptr()) != 0
        {
            libc::_exit(122);
        }
        libc::raise(libc::SIGSTOP);
        libc::execve(argv[0], argv.as_ptr(), envp.as_ptr());
        libc::_exit(127)
    }
}

fn ptrace(request: libc::c_uint, pid: libc::pid_t, data: usize) -> libc::c_long {
    // SAFETY: the requests used here take a pid and a plain value.
    unsafe { libc::ptrace(request, pid, ptr::null_mut::<libc::c_void>(), data as *mut libc::c_void) }
}

fn wait(pid: libc::pid_t) -> io::Result<(libc::pid_t, libc::c_int)> {
    wait_usage(pid).map(|(pid, status, _)| (pid, status))
}

/// waitpid with the rusage of what was waited for (wait4).
fn wait_usage(pid: libc::pid_t) -> io::Result<(libc::pid_t, libc::c_int, libc::rusage)> {
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid out-value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid out-pointers.
        let got = unsafe { libc::wait4(pid, &mut status, libc::__WALL, &mut usage) };
        if got >= 0 {
            return Ok((got, status, usage));
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

fn user_ns(pid: libc::pid_t) -> String {
    fs::read_link(format!("/proc/{pid}/ns/user"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn run(plan: &Plan) -> io::Result<Value> {
    let netns = sys::cstring(std::path::Path::new(plan.netns.to_str().map_err(io::Error::other)?))?;
    // SAFETY: a valid C string; closed by exit.
    let netns = sys::check(unsafe { libc::open(netns.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) })?;
    let (argv, envp) = (nul_terminated(&plan.argv), nul_terminated(&plan.envp));
    // SAFETY: this process is single-threaded; the child only makes raw calls.
    let root = unsafe { libc::fork() };
    if root < 0 {
        return Err(io::Error::last_os_error());
    }
    if root == 0 {
        // SAFETY: see `child`.
        unsafe { child(plan, netns, &argv, &envp) }
    }
    let (_, status) = wait(root)?;
    if !libc::WIFSTOPPED(status) {
        return Err(io::Error::other(format!(
            "the traced process did not start (wait status {status:#x})"
        )));
    }
    let options = libc::PTRACE_O_TRACEFORK
        | libc::PTRACE_O_TRACEVFORK
        | libc::PTRACE_O_TRACECLONE
        | libc::PTRACE_O_TRACEEXEC
        | libc::PTRACE_O_TRACEEXIT
        | libc::PTRACE_O_EXITKILL;
    if ptrace(libc::PTRACE_SETOPTIONS, root, options as usize) != 0 {
        return Err(io::Error::last_os_error());
    }
    let own_userns = user_ns(root);
    let mut known: HashSet<libc::pid_t> = HashSet::from([root]);
    let mut processes = Vec::new();
    let mut detached = 0;
    let mut root_status = None;
    let mut tree_cpu_ns = None;
    ptrace(libc::PTRACE_CONT, root, 0);

    // A new tracee's first stop: follow it, or detach it if it is the
    // container (a new user namespace).
    let mut adopt = |pid: libc::pid_t, known: &mut HashSet<libc::pid_t>| {
        known.insert(pid);
        if user_ns(pid) != own_userns {
            ptrace(libc::PTRACE_DETACH, pid, 0);
            detached += 1;
        } else {
            ptrace(libc::PTRACE_CONT, pid, 0);
        }
    };
    loop {
        let (pid, status, usage) = match wait_usage(-1) {
            Ok(got) => got,
            Err(e) if e.raw_os_error() == Some(libc::ECHILD) => break,
            Err(e) => return Err(e),
        };
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            if pid == root {
                // The runner and every descendant it reaped.
                let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
                tree_cpu_ns = Some(tv(usage.ru_utime) + tv(usage.ru_stime));
                root_status = Some(if libc::WIFEXITED(status) {
                    libc::WEXITSTATUS(status)
                } else {
                    128 + libc::WTERMSIG(status)
                });
            }
            continue;
        }
        if !libc::WIFSTOPPED(status) {
            continue;
        }
        if !known.contains(&pid) {
            adopt(pid, &mut known);
            continue;
        }
        let sig = libc::WSTOPSIG(status);
        let event = status >> 16;
        if sig != libc::SIGTRAP || event == 0 {
            // A signal for the tracee: deliver it.
            ptrace(
                libc::PTRACE_CONT,
                pid,
                if sig == libc::SIGTRAP { 0 } else { sig as usize },
            );
            continue;
        }
        match event {
            libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK | libc::PTRACE_EVENT_CLONE => {
                let mut new: libc::c_ulong = 0;
                // SAFETY: GETEVENTMSG writes one c_ulong.
                unsafe { libc::ptrace(libc::PTRACE_GETEVENTMSG, pid, ptr::null_mut::<libc::c_void>(), &mut new) };
                let new = new as libc::pid_t;
                if new > 0 && !known.contains(&new) {
                    // Decide before the parent runs on: the parent may hand
                    // the new process to the helper right away.
                    if wait(new).is_ok() {
                        adopt(new, &mut known);
                    }
                }
            }
            libc::PTRACE_EVENT_EXIT => {
                let is_thread = sys::status_field(pid as u32, "Tgid").is_some_and(|t| t != pid.to_string());
                if !is_thread {
                    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                    let argv: Vec<String> = cmdline
                        .split(|&b| b == 0)
                        .filter(|a| !a.is_empty())
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect();
                    processes.push(json!({
                        "pid": pid,
                        "root": pid == root,
                        "comm": sys::comm(pid as u32),
                        "argv": argv,
                        "vmhwm_kb": sys::status_kb(pid as u32, "VmHWM"),
                        // Its time on a CPU so far, in ns (schedstat's first field).
                        "cpu_ns": fs::read_to_string(format!("/proc/{pid}/schedstat"))
                            .ok()
                            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok()),
                    }));
                }
            }
            _ => {}
        }
        ptrace(libc::PTRACE_CONT, pid, 0);
    }
    Ok(json!({"status": root_status, "tree_cpu_ns": tree_cpu_ns, "processes": processes, "detached": detached}))
}

pub fn main(arg: &str) -> ! {
    let result = parse(arg).and_then(|plan| run(&plan));
    match result {
        Ok(v) => {
            println!("{v}");
            std::process::exit(0)
        }
        Err(e) => {
            println!("{}", json!({"error": e.to_string()}));
            std::process::exit(1)
        }
    }
}
