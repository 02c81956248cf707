//! Calling burrow-helper (runner, unprivileged). The helper is found at
//! $BURROW_HELPER or next to burrow's own install; its one stdout line is
//! success, its one stderr line is the reason for a refusal, and its exit
//! status is always checked.

use crate::error::{Context, Error, Result};
use burrow_shared::ids::IdMapping;
use burrow_shared::request::{CgroupRequest, IdmapRequest, VethRequest};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The fd number the target's /proc/PID directory gets in the helper.
const TARGET_FD: i32 = 3;

fn helper_path() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("BURROW_HELPER") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().context(|| "finding burrow's own executable".to_owned())?;
    let prefix = exe
        .parent()
        .and_then(|bin| bin.parent())
        .unwrap_or(std::path::Path::new("/"));
    Ok(prefix.join("libexec/burrow/burrow-helper"))
}

/// Has the helper write the child's maps.
pub fn idmap(proc_dir: BorrowedFd, uid: &[IdMapping], gid: &[IdMapping]) -> Result<()> {
    let request = IdmapRequest {
        proc_fd: TARGET_FD,
        uid: uid.to_vec(),
        gid: gid.to_vec(),
    };
    run("idmap", &request.to_args(), proc_dir).map(drop)
}

/// Has the helper create a veth pair on `bridge`, its peer in the network
/// namespace `netns`; returns the peer's name there.
pub fn veth(netns: BorrowedFd, bridge: &str) -> Result<String> {
    let request = VethRequest {
        netns_fd: TARGET_FD,
        bridge: bridge.to_owned(),
    };
    let line = run("veth", &request.to_args(), netns)?;
    let peer = line.split_whitespace().find_map(|field| field.strip_prefix("peer="));
    peer.map(str::to_owned).ok_or_else(|| Error::Helper {
        operation: "veth",
        message: format!("unexpected reply {line:?}"),
    })
}

/// Has the helper delegate a cgroup to the caller in each hierarchy and move
/// the child behind `proc_dir` into a new leaf `name`; returns the leaves.
pub fn cgroup(proc_dir: BorrowedFd, name: &str) -> Result<Vec<PathBuf>> {
    let request = CgroupRequest {
        proc_fd: TARGET_FD,
        name: name.to_owned(),
    };
    let line = run("cgroup", &request.to_args(), proc_dir)?;
    let leaves: Vec<PathBuf> = line.split_whitespace().skip(2).map(PathBuf::from).collect();
    if leaves.is_empty() || leaves.iter().any(|leaf| !leaf.is_absolute()) {
        return Err(Error::Helper {
            operation: "cgroup",
            message: format!("unexpected reply {line:?}"),
        });
    }
    Ok(leaves)
}

/// Runs one helper operation on `target`; returns its success line.
fn run(operation: &'static str, args: &[String], target: BorrowedFd) -> Result<String> {
    let path = helper_path()?;
    let source_fd = target.as_raw_fd();
    let mut command = Command::new(&path);
    command.args(args).stdin(Stdio::null());
    // SAFETY: the closure only calls dup2/fcntl, which are async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            if source_fd == TARGET_FD {
                // dup2 onto itself would keep close-on-exec set.
                if libc::fcntl(TARGET_FD, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(source_fd, TARGET_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let output = command
        .output()
        .context(|| format!("cannot start the helper {}", path.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.success() && stdout.starts_with(&format!("ok {operation} ")) {
        return Ok(stdout.lines().next().unwrap_or_default().to_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let message = match stderr.lines().next() {
        Some(line) => {
            let line = line.strip_prefix("burrow-helper: ").unwrap_or(line);
            line.strip_prefix(&format!("{operation}: ")).unwrap_or(line).to_owned()
        }
        None => format!("{} ended with {} and said nothing", path.display(), output.status),
    };
    Err(Error::Helper { operation, message })
}
