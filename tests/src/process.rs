//! Starting, watching and ending the processes the tests start. Runs in the
//! test binary, as root; the processes it starts usually run as the test
//! user.
//!
//! 1. Every spawn goes through `spawn`, which records the pid while holding
//!    the registry lock, and opens a pidfd on it: signals go through the
//!    pidfd, so they can never reach a recycled pid.
//! 2. The test binary is a child subreaper (`become_subreaper`): anything a
//!    process we started leaves running is reparented to us, and `orphans`
//!    finds it as a child that is not in the registry.
//! 3. Output is collected with poll(2) on the pipes and the pidfd: once the
//!    process has exited, the pipes are drained without waiting for EOF (a
//!    process it left behind may hold them open; the orphan check reports
//!    it). Nothing asserts on durations, but a process still running after
//!    `HANG_LIMIT` is killed, so that a broken build fails instead of
//!    stalling CI.

use std::collections::HashSet;
use std::ffi::CString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// A process still running after this long is hung: it is killed and the
/// test fails. Generous: the slowest scenario takes well under a second.
pub const HANG_LIMIT: Duration = Duration::from_secs(120);

/// Pids we spawned and have not reaped yet.
static SPAWNED: Mutex<Option<HashSet<u32>>> = Mutex::new(None);

fn registry() -> std::sync::MutexGuard<'static, Option<HashSet<u32>>> {
    SPAWNED.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Makes orphans of our descendants ours (see the module doc).
pub fn become_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Occupies fds 3..=9 (with close-on-exec /dev/null) so that std's
/// internal pipes and our own files never land on the small numbers the
/// tests hand to children with `pass_fd`. Call while single-threaded.
pub fn reserve_low_fds() -> io::Result<()> {
    // std opens with O_CLOEXEC. If this lands in the range itself, it stays.
    let null = OwnedFd::from(fs::File::open("/dev/null")?);
    for fd in 3..=9 {
        // SAFETY: F_GETFD only inspects `fd`.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
            // SAFETY: dup3 onto a free fd number; the new fd is ours forever.
            if unsafe { libc::dup3(null.as_raw_fd(), fd, libc::O_CLOEXEC) } == -1 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    if null.as_raw_fd() <= 9 {
        std::mem::forget(null);
    }
    Ok(())
}

/// Makes `src` (opened by the test, close-on-exec) the child's fd `dst`.
pub fn pass_fd(cmd: &mut Command, src: RawFd, dst: RawFd) {
    assert!(src > 9 && dst <= 9, "pass_fd({src}, {dst}): see reserve_low_fds");
    // SAFETY: dup2 is async-signal-safe; `src` stays open in the parent
    // until spawn returns (the caller holds it).
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(src, dst) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Kills the child when the thread that spawned it dies (the test binary
/// crashing): nothing of ours outlives a test run.
pub fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe. Runs after the uid change, which
    // would otherwise clear the setting.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Replaces the exec with `execve(path, [], [])`: no argv[0] at all.
pub fn exec_with_empty_argv(cmd: &mut Command, path: &std::path::Path) {
    let path = CString::new(path.as_os_str().as_bytes()).expect("no NUL in a path");
    // SAFETY: execve is async-signal-safe; both arrays are NULL-terminated
    // and live in the closure, which lives until the exec.
    unsafe {
        cmd.pre_exec(move || {
            let argv: [*const libc::c_char; 1] = [std::ptr::null()];
            let envp: [*const libc::c_char; 1] = [std::ptr::null()];
            libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
            Err(io::Error::last_os_error())
        });
    }
}

/// Replaces the exec with `execve(path, argv, envp)`, byte for byte: an
/// empty argv, arguments that are not UTF-8, environment entries without
/// `=` (none may hold a NUL). Register it after every other `pre_exec`:
/// the ones after it never run.
pub fn exec_with(cmd: &mut Command, path: &std::path::Path, argv: &[&[u8]], envp: &[&[u8]]) {
    let path = CString::new(path.as_os_str().as_bytes()).expect("no NUL in a path");
    let strings = |list: &[&[u8]]| -> Vec<CString> {
        list.iter()
            .map(|s| CString::new(*s).expect("no NUL in an execve string"))
            .collect()
    };
    let (argv, envp) = (strings(argv), strings(envp));
    // NULL-terminated pointer arrays, made here because the child must not
    // allocate. They point into the strings' heap buffers, which stay where
    // they are when the vectors move into the closure.
    let pointers = |list: &[CString]| -> Vec<usize> {
        list.iter()
            .map(|s| s.as_ptr() as usize)
            .chain(std::iter::once(0))
            .collect()
    };
    let (argv_pointers, envp_pointers) = (pointers(&argv), pointers(&envp));
    // SAFETY: execve is async-signal-safe; the arrays and the strings they
    // point to live in the closure, which lives until the exec.
    unsafe {
        cmd.pre_exec(move || {
            let _strings = (&argv, &envp);
            libc::execve(
                path.as_ptr(),
                argv_pointers.as_ptr().cast(),
                envp_pointers.as_ptr().cast(),
            );
            Err(io::Error::last_os_error())
        });
    }
}

/// Closes stdin, stdout and stderr just before the exec.
pub fn close_stdio(cmd: &mut Command) {
    // SAFETY: close is async-signal-safe; std's own error pipe is above 9.
    unsafe {
        cmd.pre_exec(|| {
            for fd in 0..=2 {
                libc::close(fd);
            }
            Ok(())
        });
    }
}

/// What a finished process did.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The exit code, or `128 + N` when it died of signal N (as a shell says).
    pub fn code(&self) -> i32 {
        match (self.status.code(), self.status.signal()) {
            (Some(code), _) => code,
            (None, Some(signal)) => 128 + signal,
            (None, None) => -1,
        }
    }

    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, stdout {:?}, stderr {:?}", self.status, self.stdout, self.stderr)
    }
}

/// A process we started and will reap.
pub struct Spawned {
    child: Option<Child>,
    pidfd: OwnedFd,
    pub pid: u32,
    description: String,
    /// Read from stdout, not yet returned by `read_line`.
    out: Vec<u8>,
    err: Vec<u8>,
    exited: bool,
    hung: bool,
}

/// Starts `cmd`, recording it in the registry (see the module doc).
pub fn spawn(cmd: &mut Command) -> io::Result<Spawned> {
    let description = format!("{cmd:?}");
    let mut registry = registry();
    let child = cmd.spawn()?;
    let pid = child.id();
    registry.get_or_insert_with(HashSet::new).insert(pid);
    drop(registry);
    // SAFETY: pidfd_open on our own unreaped child: the pid cannot have been
    // recycled.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if raw < 0 {
        let err = io::Error::last_os_error();
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        forget_pid(pid);
        return Err(err);
    }
    // SAFETY: a fresh fd from pidfd_open, owned by nobody else.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw as RawFd) };
    Ok(Spawned {
        child: Some(child),
        pidfd,
        pid,
        description,
        out: Vec::new(),
        err: Vec::new(),
        exited: false,
        hung: false,
    })
}

fn forget_pid(pid: u32) {
    if let Some(set) = registry().as_mut() {
        set.remove(&pid);
    }
}

fn pidfd_signal(pidfd: RawFd, signal: i32) -> io::Result<()> {
    // SAFETY: pidfd_send_signal with a NULL siginfo.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd, signal, std::ptr::null::<u8>(), 0) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads what `pipe` has now; drops it at EOF. With `drain`, reads until
/// the pipe is empty without waiting for more.
fn read_pipe<R: Read + AsRawFd>(pipe: &mut Option<R>, buf: &mut Vec<u8>, drain: bool) -> io::Result<()> {
    let Some(reader) = pipe.as_mut() else { return Ok(()) };
    if drain {
        // SAFETY: fcntl on a pipe we own.
        unsafe {
            let flags = libc::fcntl(reader.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(reader.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
    let mut chunk = [0u8; 8192];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => {
                *pipe = None;
                return Ok(());
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if !drain {
            return Ok(());
        }
    }
}

impl Spawned {
    pub fn signal(&self, signal: i32) -> io::Result<()> {
        pidfd_signal(self.pidfd.as_raw_fd(), signal)
    }

    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.as_mut()?.stdin.take()
    }

    /// Collects stdout and stderr (those that are piped) until the process
    /// exits, or, with `until_line`, until stdout holds a whole line. Once
    /// the process has exited, what it wrote is all in the pipes: they are
    /// drained without waiting for EOF, which something it left behind could
    /// hold off forever. A process running past `HANG_LIMIT` is killed.
    fn pump(&mut self, until_line: bool) -> io::Result<()> {
        let deadline = Instant::now() + HANG_LIMIT;
        let child = self.child.as_mut().expect("not reaped yet");
        loop {
            let have_line = until_line && self.out.contains(&b'\n');
            if self.exited || have_line {
                break;
            }
            let mut fds = vec![libc::pollfd {
                fd: self.pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            for fd in [
                child.stdout.as_ref().map(AsRawFd::as_raw_fd),
                child.stderr.as_ref().map(AsRawFd::as_raw_fd),
            ]
            .into_iter()
            .flatten()
            {
                fds.push(libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let timeout = if self.hung {
                -1
            } else {
                left.as_millis().min(i32::MAX as u128) as i32
            };
            // SAFETY: poll on a live array of pollfds.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if n == 0 {
                // The watchdog: nothing here is timed, but nothing may hang CI.
                self.hung = true;
                pidfd_signal(self.pidfd.as_raw_fd(), libc::SIGKILL)?;
                continue;
            }
            let ready = |fd: Option<RawFd>| fds.iter().any(|p| Some(p.fd) == fd && p.revents != 0);
            if ready(child.stdout.as_ref().map(AsRawFd::as_raw_fd)) {
                read_pipe(&mut child.stdout, &mut self.out, false)?;
            }
            if ready(child.stderr.as_ref().map(AsRawFd::as_raw_fd)) {
                read_pipe(&mut child.stderr, &mut self.err, false)?;
            }
            if fds[0].revents != 0 {
                self.exited = true;
                read_pipe(&mut child.stdout, &mut self.out, true)?;
                read_pipe(&mut child.stderr, &mut self.err, true)?;
            }
        }
        if self.hung {
            return Err(io::Error::other(format!(
                "{} hung: killed after {}s",
                self.description,
                HANG_LIMIT.as_secs()
            )));
        }
        Ok(())
    }

    /// Reads one line from the child's stdout (which must be piped), e.g.
    /// the "ready" a process prints once it is set up; what it printed
    /// before exiting if it exits first. The rest of stdout is still
    /// collected by `output`.
    pub fn read_line(&mut self) -> io::Result<String> {
        self.pump(true)?;
        let end = self
            .out
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.out.len(), |i| i + 1);
        let line: Vec<u8> = self.out.drain(..end).collect();
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    /// Writes `input` to stdin (if piped; then closes it), collects stdout
    /// and stderr and reaps the process.
    pub fn output(mut self, input: Option<&[u8]>) -> io::Result<Output> {
        let stdin = self.take_stdin();
        let writer = thread::spawn({
            let input = input.map(<[u8]>::to_vec);
            move || {
                if let (Some(mut stdin), Some(input)) = (stdin, input) {
                    // A child that exits without reading its input is not our error.
                    let _ = stdin.write_all(&input);
                }
            }
        });
        let pumped = self.pump(false);
        let mut child = self.child.take().expect("not reaped yet");
        let status = child.wait();
        forget_pid(self.pid);
        // Not joined: the input fits in the pipe, and should something the
        // process left behind hold stdin open unread, the writer may block.
        drop(writer);
        pumped?;
        Ok(Output {
            status: status?,
            stdout: String::from_utf8_lossy(&self.out).into_owned(),
            stderr: String::from_utf8_lossy(&self.err).into_owned(),
        })
    }

    /// SIGKILL and reap; returns the status.
    pub fn kill_and_reap(mut self) -> io::Result<ExitStatus> {
        let mut child = self.child.take().expect("not reaped yet");
        let _ = self.signal(libc::SIGKILL);
        let status = child.wait();
        forget_pid(self.pid);
        status
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = pidfd_signal(self.pidfd.as_raw_fd(), libc::SIGKILL);
            let _ = child.wait();
            forget_pid(self.pid);
        }
    }
}

/// Runs `cmd` to completion (`run` without input); a command that cannot
/// be started at all fails the scenario's thread, with the command named.
pub fn run_to_end(mut cmd: Command) -> Output {
    run(&mut cmd, None).unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

/// Runs `cmd` to completion (stdin as configured on it unless `input` is
/// given, then piped), capturing stdout and stderr.
pub fn run(cmd: &mut Command, input: Option<&[u8]>) -> io::Result<Output> {
    if input.is_some() {
        cmd.stdin(Stdio::piped());
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    spawn(cmd)?.output(input)
}

/// One line of /proc/PID/stat, the fields the tests use.
#[derive(Debug, Clone)]
pub struct ProcStat {
    pub pid: u32,
    pub comm: String,
    pub state: char,
    pub ppid: u32,
}

pub fn proc_stat(pid: u32) -> io::Result<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat(pid, &text).ok_or_else(|| io::Error::other(format!("malformed /proc/{pid}/stat: {text:?}")))
}

/// The comm field may hold spaces and parentheses: it ends at the last `)`.
fn parse_stat(pid: u32, text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let mut rest = text.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some(ProcStat { pid, comm, state, ppid })
}

/// The real uid of a process (first field of `Uid:` in /proc/PID/status).
pub fn proc_real_uid(pid: u32) -> io::Result<u32> {
    let text = fs::read_to_string(format!("/proc/{pid}/status"))?;
    text.lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|uids| uids.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no Uid: line in /proc/{pid}/status")))
}

pub fn all_pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// A new pty: (master, slave), neither our controlling terminal.
pub fn open_pty() -> io::Result<(OwnedFd, OwnedFd)> {
    let last = io::Error::last_os_error;
    // SAFETY: plain calls; each fd is owned as soon as it exists, and the
    // name buffer is NUL-terminated by ptsname_r.
    unsafe {
        let raw = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        if raw < 0 {
            return Err(last());
        }
        let master = OwnedFd::from_raw_fd(raw);
        if libc::grantpt(raw) != 0 || libc::unlockpt(raw) != 0 {
            return Err(last());
        }
        let mut name = [0 as libc::c_char; 64];
        let error = libc::ptsname_r(raw, name.as_mut_ptr(), name.len());
        if error != 0 {
            return Err(io::Error::from_raw_os_error(error));
        }
        let slave = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        if slave < 0 {
            return Err(last());
        }
        Ok((master, OwnedFd::from_raw_fd(slave)))
    }
}

/// Makes `cmd` lead a new session whose controlling terminal is the pty
/// `slave`, also its stdin, as a login shell on that terminal would.
pub fn lead_session_on(cmd: &mut Command, slave: OwnedFd) {
    cmd.stdin(Stdio::from(slave));
    // SAFETY: setsid and ioctl are async-signal-safe; fd 0 is the pty's
    // slave (std set up stdin before this runs), opened for reading and
    // writing, which TIOCSCTTY needs.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Whether `check` holds within `limit`, looking every 10 ms.
pub fn within(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if check() {
            return true;
        }
        thread::sleep(Duration::from_millis(10));
    }
    false
}

/// The processes whose parent is `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|&child| proc_stat(child).is_ok_and(|stat| stat.ppid == pid))
        .collect()
}

/// Sends `signal` to `pid` through a pidfd, once its real uid is checked
/// to be `uid` (a process a scenario started as its test user, deeper
/// than its own child): a recycled pid is never signalled.
pub fn signal_process_of(pid: u32, uid: u32, signal: i32) -> io::Result<()> {
    // SAFETY: pidfd_open with plain integers; the fd is owned at once.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pidfd_open returned a new fd that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw as RawFd) };
    if proc_real_uid(pid)? != uid {
        return Err(io::Error::other(format!("pid {pid} is not the test user's")));
    }
    pidfd_signal(pidfd.as_raw_fd(), signal)
}

/// The pids of `uid`'s processes whose command line has `needle` in it.
pub fn processes_of(uid: u32, needle: &str) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|&pid| proc_real_uid(pid).ok() == Some(uid))
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|line| String::from_utf8_lossy(&line).replace('\0', " ").contains(needle))
        })
        .collect()
}

/// Records `pid`, a descendant that a scenario is about to orphan on
/// purpose (a container whose burrow it kills): the orphan checks then leave
/// it alone, and the scenario reaps it with `reap_expected_orphan`.
pub fn expect_orphan(pid: u32) {
    registry().get_or_insert_with(HashSet::new).insert(pid);
}

/// Waits for `pid`, recorded with `expect_orphan` and since reparented to
/// the test binary, and forgets it; returns its wait status.
pub fn reap_expected_orphan(pid: u32) -> io::Result<i32> {
    let mut status = 0;
    // SAFETY: waitpid on a child of ours that nothing else reaps (the orphan
    // checks skip recorded pids).
    let rc = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
    let result = if rc == pid as libc::pid_t {
        Ok(status)
    } else {
        Err(io::Error::last_os_error())
    };
    forget_pid(pid);
    result
}

/// Processes reparented to the test binary that it did not start itself:
/// something a started process left behind. Each is killed (it is our
/// child, so its pid cannot be recycled before we reap it) and reaped, and
/// described in the returned list.
pub fn reap_orphans() -> Vec<String> {
    let me = std::process::id();
    // Holding the lock keeps a concurrent spawn from looking like an orphan.
    let registry = registry();
    let mut found = Vec::new();
    for pid in all_pids() {
        let Ok(stat) = proc_stat(pid) else { continue };
        if stat.ppid != me || registry.as_ref().is_some_and(|set| set.contains(&pid)) {
            continue;
        }
        found.push(format!("pid {pid} ({}, state {})", stat.comm, stat.state));
        // SAFETY: kill and waitpid on our own unreaped child.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
            libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), 0);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_a_hostile_comm() {
        let stat = parse_stat(7, "7 (a) S 99 (b) R 5 7 7 0 -1\n").unwrap();
        assert_eq!((stat.comm.as_str(), stat.state, stat.ppid), ("a) S 99 (b", 'R', 5));
        assert!(parse_stat(7, "7 (x S 1").is_none());
        assert!(parse_stat(7, "7 (x) S").is_none());
    }

    #[test]
    fn own_stat_and_uid() {
        let me = std::process::id();
        let stat = proc_stat(me).unwrap();
        assert_eq!(stat.pid, me);
        assert_eq!(stat.ppid, std::os::unix::process::parent_id());
        // SAFETY: getuid takes no arguments and cannot fail.
        assert_eq!(proc_real_uid(me).unwrap(), unsafe { libc::getuid() });
    }

    #[test]
    fn exit_codes_as_a_shell_reports_them() {
        let out = run(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]), None).unwrap();
        assert_eq!(
            (out.code(), out.stdout.as_str(), out.stderr.as_str()),
            (3, "out\n", "err\n")
        );
        let out = run(Command::new("sh").args(["-c", "kill -TERM $$"]), None).unwrap();
        assert_eq!(out.code(), 128 + libc::SIGTERM);
    }

    #[test]
    fn output_does_not_wait_for_a_leftover_holding_stdout() {
        // The sleep keeps stdout open for a minute; sh prints its pid and exits.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 60 & echo $!"]).stdin(Stdio::null());
        let out = run(&mut cmd, None).unwrap();
        let pid: u32 = out.stdout.trim().parse().unwrap();
        // End the sleep we started (it may not have exec'd sleep yet).
        // SAFETY: pidfd_open, then signal through the pidfd.
        unsafe {
            let pidfd = libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0);
            assert!(pidfd >= 0, "the leftover {pid} is gone already");
            pidfd_signal(pidfd as RawFd, libc::SIGKILL).unwrap();
            libc::close(pidfd as libc::c_int);
        }
        assert_eq!(out.code(), 0);
    }
}
