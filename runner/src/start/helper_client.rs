//! Calling burrow-helper (runner, unprivileged). The helper is found at
//! $BURROW_HELPER or next to burrow's own install; its one stdout line is
//! success, its one stderr line is the reason for a refusal, and its exit
//! status is always checked.
//!
//! Each operation is started (`spawn_*`) before any is waited for, so that
//! the helper's runs for one container (idmap, cgroup, each veth) proceed
//! side by side; each one checks its own request as if it were alone. They
//! are started with posix_spawn, which does not copy the runner's memory as
//! fork would.

use crate::error::{Context, Error, Result};
use burrow_shared::ids::IdMapping;
use burrow_shared::request::{CgroupRequest, IdmapRequest, VethRequest};
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;

/// The fd number the target (a /proc/PID directory or a network namespace)
/// gets in the helper.
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

/// A helper run that has started.
pub struct Pending {
    operation: &'static str,
    path: PathBuf,
    pid: libc::pid_t,
    stdout: File,
    stderr: File,
}

/// Starts the helper writing the child's maps.
pub fn spawn_idmap(proc_dir: BorrowedFd, uid: &[IdMapping], gid: &[IdMapping]) -> Result<Pending> {
    let request = IdmapRequest {
        proc_fd: TARGET_FD,
        uid: uid.to_vec(),
        gid: gid.to_vec(),
    };
    spawn("idmap", &request.to_args(), proc_dir)
}

/// Starts the helper creating a veth pair on `bridge`, its peer in the
/// network namespace `netns`; `veth_peer` reads the peer's name there from
/// its reply.
pub fn spawn_veth(netns: BorrowedFd, bridge: &str) -> Result<Pending> {
    let request = VethRequest {
        netns_fd: TARGET_FD,
        bridge: bridge.to_owned(),
    };
    spawn("veth", &request.to_args(), netns)
}

pub fn veth_peer(line: &str) -> Result<String> {
    let peer = line.split_whitespace().find_map(|field| field.strip_prefix("peer="));
    peer.map(str::to_owned).ok_or_else(|| Error::Helper {
        operation: "veth",
        message: format!("unexpected reply {line:?}"),
    })
}

/// Starts the helper delegating a cgroup to the caller in each hierarchy
/// and moving the child behind `proc_dir` into a new leaf `name`;
/// `cgroup_leaves` reads the leaves from its reply.
pub fn spawn_cgroup(proc_dir: BorrowedFd, name: &str, for_init: bool) -> Result<Pending> {
    let request = CgroupRequest {
        proc_fd: TARGET_FD,
        name: name.to_owned(),
        for_init,
    };
    spawn("cgroup", &request.to_args(), proc_dir)
}

pub fn cgroup_leaves(line: &str) -> Result<Vec<PathBuf>> {
    let leaves: Vec<PathBuf> = line.split_whitespace().skip(2).map(PathBuf::from).collect();
    if leaves.is_empty() || leaves.iter().any(|leaf| !leaf.is_absolute()) {
        return Err(Error::Helper {
            operation: "cgroup",
            message: format!("unexpected reply {line:?}"),
        });
    }
    Ok(leaves)
}

/// One string of the helper's argv or envp (its path, a value from the
/// spec, an environment entry): one with a NUL byte cannot be passed.
fn cstring(bytes: &[u8]) -> Result<CString> {
    CString::new(bytes).map_err(|_| Error::config(format!("{:?} contains a NUL byte", OsStr::from_bytes(bytes))))
}

/// Starts one helper operation on `target`, with stdin from /dev/null, its
/// stdout and stderr piped to us, `target` as fd 3 and no other fd of ours
/// (all are close-on-exec), burrow's environment, an empty signal mask and
/// SIGPIPE at its default.
fn spawn(operation: &'static str, args: &[String], target: BorrowedFd) -> Result<Pending> {
    let path = helper_path()?;
    let starting = || format!("cannot start the helper {}", path.display());
    let mut argv = vec![cstring(path.as_os_str().as_bytes())?];
    for arg in args {
        argv.push(cstring(arg.as_bytes())?);
    }
    let mut envp = Vec::new();
    for (key, value) in std::env::vars_os() {
        envp.push(cstring(&[key.as_bytes(), b"=", value.as_bytes()].concat())?);
    }
    let null = nix::fcntl::open("/dev/null", OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()).context(starting)?;
    let (stdout, stdout_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context(starting)?;
    let (stderr, stderr_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context(starting)?;
    // dup2 of fd 3 onto itself would leave it close-on-exec: use a copy.
    let copy = match target.as_raw_fd() {
        TARGET_FD => Some(target.try_clone_to_owned().context(starting)?),
        _ => None,
    };
    let source = copy.as_ref().map_or(target.as_raw_fd(), |c| c.as_raw_fd());
    let mut actions = PosixSpawnFileActions::init().context(starting)?;
    // 0 to 2 are always open (main.rs `open_stdio` opens /dev/null for any
    // that is not), so the pipes and `source` are above them.
    for (from, to) in [
        (null.as_raw_fd(), 0),
        (stdout_w.as_raw_fd(), 1),
        (stderr_w.as_raw_fd(), 2),
        (source, TARGET_FD),
    ] {
        actions.add_dup2(from, to).context(starting)?;
    }
    let mut attributes = PosixSpawnAttr::init().context(starting)?;
    attributes
        .set_flags(PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF)
        .context(starting)?;
    attributes.set_sigmask(&SigSet::empty()).context(starting)?;
    // Rust ignores SIGPIPE in its own processes; the helper must not inherit that.
    attributes
        .set_sigdefault(&SigSet::from(Signal::SIGPIPE))
        .context(starting)?;
    let pid = posix_spawn(argv[0].as_c_str(), &actions, &attributes, &argv, &envp).context(starting)?;
    Ok(Pending {
        operation,
        path,
        pid: pid.as_raw(),
        stdout: File::from(stdout),
        stderr: File::from(stderr),
    })
}

impl Pending {
    /// Waits for the helper to end; returns its success line.
    pub fn wait(self) -> Result<String> {
        let Pending {
            operation,
            path,
            pid,
            stdout,
            stderr,
        } = self;
        let (output, errors) = read_both(stdout, stderr);
        let status = loop {
            match nix::sys::wait::waitpid(Pid::from_raw(pid), None) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(Error::os(format!("waiting for the helper {}", path.display()), e)),
                Ok(WaitStatus::Exited(_, code)) => break std::process::ExitStatus::from_raw(code << 8),
                Ok(WaitStatus::Signaled(_, signal, _)) => break std::process::ExitStatus::from_raw(signal as i32),
                Ok(_) => continue,
            }
        };
        let stdout = String::from_utf8_lossy(&output);
        if status.success() && stdout.starts_with(&format!("ok {operation} ")) {
            return Ok(stdout.lines().next().unwrap_or_default().to_owned());
        }
        let stderr = String::from_utf8_lossy(&errors);
        let message = match stderr.lines().next() {
            Some(line) => {
                let line = line.strip_prefix("burrow-helper: ").unwrap_or(line);
                line.strip_prefix(&format!("{operation}: ")).unwrap_or(line).to_owned()
            }
            None => format!("{} ended with {status} and said nothing", path.display()),
        };
        Err(Error::Helper { operation, message })
    }
}

/// Far more than the helper writes (one line, or its usage text): past it,
/// a pipe is still read to its end, and the rest dropped.
const MAX_OUTPUT: usize = 64 * 1024;

/// What the helper writes to both pipes (at most MAX_OUTPUT bytes of each),
/// until it closes them. A read error ends that pipe's output early; the
/// exit status still decides.
fn read_both(stdout: File, stderr: File) -> (Vec<u8>, Vec<u8>) {
    let mut pipes = [(Some(stdout), Vec::new()), (Some(stderr), Vec::new())];
    loop {
        // Only the open ones: a closed pipe would report POLLHUP at once.
        let open: Vec<usize> = (0..pipes.len()).filter(|&i| pipes[i].0.is_some()).collect();
        let mut fds: Vec<PollFd> = open
            .iter()
            .filter_map(|&i| pipes[i].0.as_ref())
            .map(|file| PollFd::new(file.as_fd(), PollFlags::POLLIN))
            .collect();
        if fds.is_empty() {
            break;
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds.iter().map(|fd| fd.any().unwrap_or(false)).collect();
        drop(fds);
        for (&i, ready) in open.iter().zip(ready) {
            let (file, output) = &mut pipes[i];
            let mut buffer = [0u8; 4096];
            match file.as_mut().filter(|_| ready).map(|f| f.read(&mut buffer)) {
                None => {}
                Some(Ok(0) | Err(_)) => *file = None,
                Some(Ok(n)) => output.extend_from_slice(&buffer[..n.min(MAX_OUTPUT - output.len())]),
            }
        }
    }
    let [(_, output), (_, errors)] = pipes;
    (output, errors)
}
