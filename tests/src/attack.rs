//! Pieces of the attack scenarios (tests/tests/attacks.rs) that other suites
//! may share: catching the helper while it runs (blocked on a full pipe or
//! in a system call, until the scenario lets it go on), what root sees of a
//! running process (its system call, its fds), root's hold on a caller's veth
//! lock, and a shared object that leaves a mark if anything loads it. Runs
//! as root in the test binary.

use crate::netns::STATE_DIR;
use crate::process::{self, Output, Spawned};
use crate::{Failed, ensure};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a process may take to reach the point where it blocks.
pub const CATCH_LIMIT: Duration = Duration::from_secs(20);

/// A pipe whose buffer (one page) is full: a write to it blocks until the
/// read end is drained.
pub struct FullPipe {
    read: File,
    write: Option<File>,
    filler: usize,
}

fn set_blocking(file: &File, blocking: bool) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on a pipe end we own.
    unsafe {
        let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
        let flags = if blocking {
            flags & !libc::O_NONBLOCK
        } else {
            flags | libc::O_NONBLOCK
        };
        if flags < 0 || libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

impl FullPipe {
    pub fn new() -> io::Result<FullPipe> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 fills two fds, owned by the Files below.
        let (read, mut write) = unsafe {
            if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
                return Err(io::Error::last_os_error());
            }
            (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1]))
        };
        // SAFETY: F_SETPIPE_SZ on our own pipe (the kernel rounds up to a page).
        unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETPIPE_SZ, 4096) };
        set_blocking(&write, false)?;
        let mut filler = 0;
        loop {
            match write.write(&[b'.'; 512]) {
                Ok(n) => filler += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        set_blocking(&write, true)?;
        Ok(FullPipe {
            read,
            write: Some(write),
            filler,
        })
    }

    /// The write end, for a child's stdout or stderr (ours is then closed
    /// once the Command is dropped).
    pub fn stdio(&mut self) -> Stdio {
        self.write.take().map_or_else(Stdio::null, Stdio::from)
    }

    /// Reads until every writer is gone; returns what came after the filler.
    pub fn drain(mut self) -> io::Result<String> {
        drop(self.write.take());
        let mut all = Vec::new();
        self.read.read_to_end(&mut all)?;
        Ok(String::from_utf8_lossy(all.get(self.filler..).unwrap_or_default()).into_owned())
    }
}

/// The system call `pid` is blocked in, and its first argument, from
/// /proc/PID/syscall (`None` while it runs or is not in a system call).
pub fn syscall_of(pid: u32) -> Option<(i64, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/syscall")).ok()?;
    let mut fields = text.split_whitespace();
    let number = fields.next()?.parse().ok()?;
    let arg0 = u64::from_str_radix(fields.next()?.trim_start_matches("0x"), 16).ok()?;
    Some((number, arg0))
}

/// Waits until `pid` (our child) blocks in system call `number` (with
/// first argument `arg0`, if given); fails if it exits first or takes
/// longer than CATCH_LIMIT.
pub fn wait_in_syscall(pid: u32, number: i64, arg0: Option<u64>) -> Result<(), String> {
    let deadline = Instant::now() + CATCH_LIMIT;
    loop {
        if let Some((now, first)) = syscall_of(pid) {
            if now == number && arg0.is_none_or(|arg0| arg0 == first) {
                return Ok(());
            }
        }
        let state = process::proc_stat(pid).map(|s| s.state).unwrap_or('X');
        if matches!(state, 'Z' | 'X') {
            return Err(format!("process {pid} exited before blocking in system call {number}"));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "process {pid} did not block in system call {number} within {}s",
                CATCH_LIMIT.as_secs()
            ));
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// A process caught while it runs, blocked until `finish` lets it go on.
pub struct Caught {
    pub process: Spawned,
    pub pid: u32,
    /// The full pipe it writes to, and which of its fds that is.
    pipe: Option<(FullPipe, RawFd)>,
}

impl Caught {
    /// Spawns `cmd` with its fd `fd` (1 or 2) on a full pipe and the other
    /// one piped, and returns once it blocks writing there.
    pub fn writing(mut cmd: Command, fd: RawFd) -> Result<Caught, String> {
        let mut pipe = FullPipe::new().map_err(|e| format!("a full pipe: {e}"))?;
        match fd {
            1 => cmd.stdout(pipe.stdio()).stderr(Stdio::piped()),
            _ => cmd.stderr(pipe.stdio()).stdout(Stdio::piped()),
        };
        let caught = Caught::spawn(cmd, Some((pipe, fd)))?;
        wait_in_syscall(caught.pid, libc::SYS_write, Some(fd as u64))?;
        Ok(caught)
    }

    /// Spawns `cmd` (stdout and stderr piped) and returns once it blocks in
    /// system call `number` (with first argument `arg0`, if given).
    pub fn in_syscall(mut cmd: Command, number: i64, arg0: Option<u64>) -> Result<Caught, String> {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let caught = Caught::spawn(cmd, None)?;
        wait_in_syscall(caught.pid, number, arg0)?;
        Ok(caught)
    }

    fn spawn(mut cmd: Command, pipe: Option<(FullPipe, RawFd)>) -> Result<Caught, String> {
        let process = process::spawn(&mut cmd).map_err(|e| format!("starting {cmd:?}: {e}"))?;
        // Closes our copy of the pipe's write end.
        drop(cmd);
        let pid = process.pid;
        Ok(Caught { process, pid, pipe })
    }

    /// Lets it go on and waits for it; what it wrote to the full pipe
    /// (after the filler) is its stdout or stderr in the result.
    pub fn finish(self) -> io::Result<Output> {
        let written = match self.pipe {
            Some((pipe, fd)) => Some((pipe.drain()?, fd)),
            None => None,
        };
        let mut out = self.process.output(None)?;
        match written {
            Some((text, 1)) => out.stdout = text,
            Some((text, _)) => out.stderr = text,
            None => {}
        }
        Ok(out)
    }
}

/// The open fds of `pid` and what each refers to, as root reads them.
pub fn fd_table(pid: u32) -> io::Result<BTreeMap<RawFd, String>> {
    let mut table = BTreeMap::new();
    for entry in fs::read_dir(format!("/proc/{pid}/fd"))? {
        let entry = entry?;
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        // An fd closed since the listing is simply not there.
        if let Ok(target) = fs::read_link(entry.path()) {
            table.insert(fd, target.display().to_string());
        }
    }
    Ok(table)
}

/// The open flags of `pid`'s fd `fd` (the `flags:` line of its fdinfo).
pub fn fd_flags(pid: u32, fd: RawFd) -> io::Result<u32> {
    let text = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))?;
    text.lines()
        .find_map(|line| line.strip_prefix("flags:"))
        .and_then(|flags| u32::from_str_radix(flags.trim(), 8).ok())
        .ok_or_else(|| io::Error::other(format!("no flags in /proc/{pid}/fdinfo/{fd}")))
}

/// Root's hold on `uid`'s veth lock (`{STATE_DIR}/usernet-{uid}.lock`,
/// made as the helper makes it if missing): that uid's veth helpers wait
/// for it, after their policy checks, until the returned file is dropped.
pub fn hold_veth_lock(uid: u32) -> io::Result<File> {
    match fs::DirBuilder::new().mode(0o700).create(STATE_DIR) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(format!("{STATE_DIR}/usernet-{uid}.lock"))?;
    // SAFETY: flock on a file we own.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(lock)
}

/// The thread ids of `pid`, and the pids of its children (space-separated,
/// as /proc lists them): the helper never starts a thread or a process.
pub fn threads_and_children(pid: u32) -> io::Result<(Vec<String>, String)> {
    let mut threads: Vec<String> = fs::read_dir(format!("/proc/{pid}/task"))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    threads.sort();
    let children = fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))?;
    Ok((threads, children.trim().to_owned()))
}

/// An fd of a new file, `path`, holding `text`, root's with `mode`.
pub fn root_file(path: &Path, text: &str, mode: u32) -> io::Result<File> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    drop(file);
    File::open(path)
}

/// A pipe (read end, write end), both close-on-exec.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fds, owned below.
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}

/// A shared object whose constructor creates `marker`.
pub fn build_marker_library(source_dir: &Path, output: &Path, marker: &Path) -> Result<(), Failed> {
    let source = source_dir.join("marker.c");
    fs::write(
        &source,
        format!(
            "#include <fcntl.h>\n#include <unistd.h>\n\
             __attribute__((constructor)) static void mark(void) {{\n\
             int fd = open(\"{}\", O_WRONLY | O_CREAT, 0644);\n\
             if (fd >= 0) close(fd);\n}}\n",
            marker.display()
        ),
    )
    .expect("write marker.c");
    let mut cc = Command::new("cc");
    cc.args(["-shared", "-fPIC", "-o"]).arg(output).arg(&source);
    let out = process::run(&mut cc, None).expect("run cc");
    ensure!(out.status.success(), "cc failed: {out}");
    Ok(())
}
