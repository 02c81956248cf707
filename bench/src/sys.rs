//! Small system-call wrappers and /proc readers shared by the orchestrator,
//! the workers and the tracer.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

pub fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::other(format!("{path:?} holds a NUL")))
}

/// mkdtemp(3) with a template ending in XXXXXX.
pub fn mkdtemp(template: &str) -> io::Result<PathBuf> {
    let mut bytes = CString::new(template).map_err(io::Error::other)?.into_bytes_with_nul();
    // SAFETY: a writable NUL-terminated template.
    if unsafe { libc::mkdtemp(bytes.as_mut_ptr().cast()) }.is_null() {
        return Err(io::Error::last_os_error());
    }
    bytes.pop();
    Ok(PathBuf::from(
        <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(bytes),
    ))
}

/// Every pid in /proc.
pub fn all_pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// A `Key:` line of /proc/PID/status, its first field.
pub fn status_field(pid: u32, key: &str) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
}

/// A `kB` field of /proc/PID/status (VmHWM, VmRSS, ...).
pub fn status_kb(pid: u32, key: &str) -> Option<u64> {
    status_field(pid, key)?.parse().ok()
}

pub fn real_uid(pid: u32) -> Option<u32> {
    status_field(pid, "Uid")?.parse().ok()
}

/// The parent pid, from /proc/PID/stat (after the command name's `)`).
pub fn parent_pid(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
}

pub fn comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// Sends SIGKILL through a pidfd, after checking (on the pidfd's process)
/// that `still_ours` holds, so that a recycled pid is never signalled.
pub fn kill_checked(pid: u32, still_ours: impl Fn(u32) -> bool) -> bool {
    // SAFETY: pidfd_open and pidfd_send_signal take plain values; the pidfd is closed here.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) as libc::c_int;
        if pidfd < 0 {
            return false;
        }
        let killed = still_ours(pid)
            && libc::syscall(
                libc::SYS_pidfd_send_signal,
                pidfd,
                libc::SIGKILL,
                std::ptr::null::<u8>(),
                0,
            ) == 0;
        libc::close(pidfd);
        killed
    }
}

/// Whether `pid` is a live process (not a zombie) whose real uid is `uid`.
fn live_process_of(pid: u32, uid: u32) -> bool {
    real_uid(pid) == Some(uid) && status_field(pid, "State").is_some_and(|s| s != "Z")
}

/// Kills every live process whose real uid is `uid`; returns how many.
pub fn kill_processes_of(uid: u32) -> usize {
    all_pids()
        .into_iter()
        .filter(|&pid| live_process_of(pid, uid))
        .filter(|&pid| kill_checked(pid, |p| live_process_of(p, uid)))
        .count()
}

/// Live processes (not zombies) whose real uid is `uid`.
pub fn processes_of(uid: u32) -> usize {
    all_pids().into_iter().filter(|&pid| live_process_of(pid, uid)).count()
}

/// The number of entries of a directory (None if it cannot be read).
pub fn count_entries(path: &Path) -> Option<usize> {
    Some(fs::read_dir(path).ok()?.count())
}

/// Directories below `root` (not counting `root`), recursively.
pub fn count_subdirs(root: &Path) -> usize {
    let Ok(entries) = fs::read_dir(root) else { return 0 };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| 1 + count_subdirs(&e.path()))
        .sum()
}

/// Files and directories below `root` (not counting `root`), recursively.
pub fn count_tree(root: &Path) -> usize {
    let Ok(entries) = fs::read_dir(root) else { return 0 };
    entries
        .filter_map(Result::ok)
        .map(|e| {
            1 + if e.file_type().is_ok_and(|t| t.is_dir()) {
                count_tree(&e.path())
            } else {
                0
            }
        })
        .sum()
}

/// The interface names in the network namespace of `pid`, from /proc/PID/net/dev.
pub fn interfaces_of(pid: u32) -> io::Result<Vec<String>> {
    interfaces_in(&fs::read_to_string(format!("/proc/{pid}/net/dev"))?)
}

pub fn interfaces_in(net_dev: &str) -> io::Result<Vec<String>> {
    Ok(net_dev
        .lines()
        .skip(2)
        .filter_map(|line| Some(line.split_once(':')?.0.trim().to_owned()))
        .collect())
}

/// Runs a command, failing with its stderr unless it succeeds.
pub fn run_ok(cmd: &mut std::process::Command) -> io::Result<String> {
    let out = cmd.stdin(std::process::Stdio::null()).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{cmd:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The last non-empty line of a text, for one-line failure reasons.
pub fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_owned()
}
