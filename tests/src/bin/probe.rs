//! The probe: a tiny static program the integration tests run inside
//! containers (as /bin/probe) and on the host (as a harmless target process).
//! It prints what it sees in a form the tests assert exactly. std only, plus
//! a handful of libc declarations; it runs unprivileged (as the container's
//! root at most) and trusts nothing but its argv.
//!
//! ```text
//! probe create-as UID GID PATH   setgroups([]) if permitted, setresgid, setresuid, create PATH
//! probe fds                      the open fd numbers, space-separated
//! probe pids                     the numeric entries of /proc, space-separated
//! probe hold                     print "ready", then wait for EOF on stdin
//! probe segv                     die of SIGSEGV by a real fault (no core file)
//! probe exit N                   exit with status N
//! ```
//!
//! Each test suite's own probes are in a section of their own below.
//!
//! Errors: one line `probe: ...` on stderr, exit 1; usage errors exit 2.

use std::ffi::{c_int, c_uint};
use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::process::ExitCode;

type Uid = c_uint;
type Gid = c_uint;

#[repr(C)]
struct Rlimit {
    cur: u64,
    max: u64,
}

const F_GETFD: c_int = 1;
const RLIMIT_CORE: c_int = 4;

unsafe extern "C" {
    fn setgroups(size: usize, list: *const Gid) -> c_int;
    fn setresgid(rgid: Gid, egid: Gid, sgid: Gid) -> c_int;
    fn setresuid(ruid: Uid, euid: Uid, suid: Uid) -> c_int;
    fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
    fn setrlimit(resource: c_int, limit: *const Rlimit) -> c_int;
}

fn fail(what: impl std::fmt::Display) -> ExitCode {
    eprintln!("probe: {what}");
    ExitCode::from(1)
}

fn usage() -> ExitCode {
    eprintln!("probe: usage: probe create-as UID GID PATH | fds | pids | hold | segv | exit N");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["create-as", uid, gid, path] => match (uid.parse(), gid.parse()) {
            (Ok(uid), Ok(gid)) => create_as(uid, gid, path),
            _ => usage(),
        },
        ["fds"] => fds(),
        ["pids"] => pids(),
        ["hold"] => hold(),
        ["segv"] => segv(),
        ["exit", n] => match n.parse::<u8>() {
            Ok(n) => ExitCode::from(n),
            Err(_) => usage(),
        },
        [command, rest @ ..] if hardening::COMMANDS.contains(command) => hardening::run(command, rest),
        [command, rest @ ..] if cgroup::COMMANDS.contains(command) => cgroup::run(command, rest),
        [command, rest @ ..] if attack::COMMANDS.contains(command) => attack::run(command, rest),
        _ => usage(),
    }
}

fn create_as(uid: Uid, gid: Gid, path: &str) -> ExitCode {
    // SAFETY: plain syscalls with valid arguments (an empty group list).
    unsafe {
        // Not permitted when setgroups is "deny": then there is nothing to drop.
        let _ = setgroups(0, std::ptr::null());
        if setresgid(gid, gid, gid) != 0 {
            return fail(format!("setresgid {gid}: {}", io::Error::last_os_error()));
        }
        if setresuid(uid, uid, uid) != 0 {
            return fail(format!("setresuid {uid}: {}", io::Error::last_os_error()));
        }
    }
    match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(_) => {
            println!("created {path}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("create {path}: {e}")),
    }
}

/// Asks the kernel about each fd number rather than listing /proc/self/fd,
/// which would show the fd of the listing itself.
fn fds() -> ExitCode {
    let open: Vec<String> = (0..4096)
        // SAFETY: F_GETFD only reads the fd's flags.
        .filter(|&fd| unsafe { fcntl(fd, F_GETFD) } != -1)
        .map(|fd| fd.to_string())
        .collect();
    println!("{}", open.join(" "));
    ExitCode::SUCCESS
}

fn pids() -> ExitCode {
    let entries = match std::fs::read_dir("/proc") {
        Ok(entries) => entries,
        Err(e) => return fail(format!("read /proc: {e}")),
    };
    let mut pids: Vec<u32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    println!("{}", pids.join(" "));
    ExitCode::SUCCESS
}

fn hold() -> ExitCode {
    let mut stdout = io::stdout();
    if writeln!(stdout, "ready").and_then(|()| stdout.flush()).is_err() {
        return fail("cannot write to stdout");
    }
    let mut sink = Vec::new();
    match io::stdin().read_to_end(&mut sink) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => fail(format!("read stdin: {e}")),
    }
}

/// A real fault: pid 1 of a pid namespace ignores a SIGSEGV it sends itself
/// with the default action, but not one raised by the CPU.
fn segv() -> ExitCode {
    let no_core = Rlimit { cur: 0, max: 0 };
    // SAFETY: setrlimit reads the struct; the store goes to an address in the
    // never-mapped first page (aligned and non-null, so it is a plain store),
    // which is exactly the fault this subcommand exists to cause.
    unsafe {
        setrlimit(RLIMIT_CORE, &no_core);
        std::ptr::write_volatile(16 as *mut u64, 1);
    }
    fail("still alive after the fault")
}

// ---------------------------------------------------------------------------
// Hardening probes, for tests/tests/hardening.rs (begin). x86_64 only.
//
// ```text
// probe try ITEM...              run each ITEM in this process, in order, and print
//                                "ITEM: ok" or "ITEM: <error>" for each; ITEMs:
//   keyctl add_key request_key bpf perf_event_open userfaultfd   (arguments the kernel refuses
//                                otherwise, so that only seccomp gives EPERM)
//   clone3 (NULL args)  clone-user  unshare-user  unshare-mount  personality=N
//   tiocsti tioclinux           (on a new pty made the controlling terminal)
//   tiocsti-high                 TIOCSTI with bits above the 32 the kernel reads set
//   x32  int80                   getpid through the x32 and the i386 entry points
//   write-at=FD/NAME  read-at=FD/NAME  list-at=FD  mount-tmpfs=PATH
//   icmp-socket  raw-socket      socket(AF_INET, SOCK_DGRAM or SOCK_RAW, IPPROTO_ICMP)
//   vsock-socket vsock-socket-high  socket(AF_VSOCK, SOCK_STREAM, 0); -high with bits
//                                above the 32 the kernel reads set in the family
// probe run-as UID GID PROG [ARG...]   setgroups([]) if permitted, setresgid, setresuid, execv
// probe ids                      "uid R E S" of this process
// ```
mod hardening {
    use std::ffi::{CString, c_char, c_int, c_long, c_uint, c_ulong, c_void};
    use std::io;
    use std::process::ExitCode;

    pub const COMMANDS: &[&str] = &["try", "run-as", "ids"];

    const SYS_IOCTL: c_long = 16;
    const SYS_GETPID: c_long = 39;
    const SYS_SOCKET: c_long = 41;
    const SYS_CLONE: c_long = 56;
    const SYS_PERSONALITY: c_long = 135;
    const SYS_MOUNT: c_long = 165;
    const SYS_ADD_KEY: c_long = 248;
    const SYS_REQUEST_KEY: c_long = 249;
    const SYS_KEYCTL: c_long = 250;
    const SYS_UNSHARE: c_long = 272;
    const SYS_PERF_EVENT_OPEN: c_long = 298;
    const SYS_BPF: c_long = 321;
    const SYS_USERFAULTFD: c_long = 323;
    const SYS_CLONE3: c_long = 435;
    const X32_SYSCALL_BIT: c_long = 0x4000_0000;
    const CLONE_NEWNS: c_long = 0x0002_0000;
    const CLONE_NEWUSER: c_long = 0x1000_0000;
    const SIGCHLD: c_long = 17;
    const TIOCSTI: c_ulong = 0x5412;
    const TIOCLINUX: c_ulong = 0x541c;
    const TIOCGPTN: c_ulong = 0x8004_5430;
    const TIOCSPTLCK: c_ulong = 0x4004_5431;
    const O_RDONLY: c_int = 0;
    const O_WRONLY: c_int = 1;
    const O_RDWR: c_int = 2;
    const O_CREAT: c_int = 0o100;
    const O_EXCL: c_int = 0o200;
    const O_DIRECTORY: c_int = 0o200000;
    const O_CLOEXEC: c_int = 0o2000000;

    unsafe extern "C" {
        fn syscall(number: c_long, ...) -> c_long;
        fn open(path: *const c_char, flags: c_int, ...) -> c_int;
        fn openat(dir: c_int, path: *const c_char, flags: c_int, ...) -> c_int;
        fn read(fd: c_int, buf: *mut c_void, count: usize) -> isize;
        fn close(fd: c_int) -> c_int;
        fn setsid() -> c_int;
        fn getsid(pid: c_int) -> c_int;
        fn getpid() -> c_int;
        fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
        fn _exit(status: c_int) -> !;
        fn execv(path: *const c_char, argv: *const *const c_char) -> c_int;
        fn getresuid(ruid: *mut c_uint, euid: *mut c_uint, suid: *mut c_uint) -> c_int;
    }

    pub fn run(command: &str, rest: &[&str]) -> ExitCode {
        match (command, rest) {
            ("try", items) if !items.is_empty() => {
                for item in items {
                    let result = try_item(item).map_or_else(|e| e.to_string(), |()| "ok".to_owned());
                    println!("{item}: {result}");
                }
                ExitCode::SUCCESS
            }
            ("run-as", [uid, gid, program, args @ ..]) => match (uid.parse(), gid.parse()) {
                (Ok(uid), Ok(gid)) => run_as(uid, gid, program, args),
                _ => super::usage(),
            },
            ("ids", []) => {
                let (mut r, mut e, mut s) = (0, 0, 0);
                // SAFETY: getresuid writes three uids.
                unsafe { getresuid(&mut r, &mut e, &mut s) };
                println!("uid {r} {e} {s}");
                ExitCode::SUCCESS
            }
            _ => super::usage(),
        }
    }

    fn check(ret: c_long) -> io::Result<c_long> {
        if ret < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(ret)
        }
    }

    fn c(text: &str) -> io::Result<CString> {
        CString::new(text).map_err(|_| io::Error::from_raw_os_error(22))
    }

    /// `FD/NAME` of write-at and read-at.
    fn fd_and_name(arg: &str) -> io::Result<(c_int, CString)> {
        let (fd, name) = arg
            .split_once('/')
            .ok_or_else(|| io::Error::other("expected FD/NAME"))?;
        Ok((fd.parse().map_err(|_| io::Error::other("bad fd"))?, c(name)?))
    }

    fn try_item(item: &str) -> io::Result<()> {
        let (name, arg) = item.split_once('=').map_or((item, ""), |(n, a)| (n, a));
        let null = std::ptr::null::<c_void>();
        // SAFETY: all below are system calls with integer arguments, NULL
        // pointers the kernel checks, or pointers to live local values.
        unsafe {
            match name {
                "keyctl" => check(syscall(SYS_KEYCTL, 9999 as c_long)).map(drop),
                "add_key" => check(syscall(SYS_ADD_KEY, null, null, null, 0usize, 0 as c_long)).map(drop),
                "request_key" => check(syscall(SYS_REQUEST_KEY, null, null, null, 0 as c_long)).map(drop),
                "bpf" => check(syscall(SYS_BPF, 9999 as c_long, null, 0 as c_long)).map(drop),
                "perf_event_open" => check(syscall(
                    SYS_PERF_EVENT_OPEN,
                    null,
                    0 as c_long,
                    -1 as c_long,
                    -1 as c_long,
                    0 as c_long,
                ))
                .map(drop),
                "userfaultfd" => check(syscall(SYS_USERFAULTFD, 0xffff as c_long)).map(drop),
                "clone3" => check(syscall(SYS_CLONE3, null, 0usize)).map(drop),
                "clone-user" => {
                    let pid = check(syscall(
                        SYS_CLONE,
                        CLONE_NEWUSER | SIGCHLD,
                        0 as c_long,
                        0 as c_long,
                        0 as c_long,
                        0 as c_long,
                    ))?;
                    if pid == 0 {
                        _exit(0);
                    }
                    waitpid(pid as c_int, std::ptr::null_mut(), 0);
                    Ok(())
                }
                "unshare-user" => check(syscall(SYS_UNSHARE, CLONE_NEWUSER)).map(drop),
                "unshare-mount" => check(syscall(SYS_UNSHARE, CLONE_NEWNS)).map(drop),
                "personality" => {
                    let persona: c_long = arg.parse().map_err(|_| io::Error::other("bad persona"))?;
                    check(syscall(SYS_PERSONALITY, persona)).map(drop)
                }
                "tiocsti" | "tiocsti-high" | "tioclinux" => {
                    let tty = controlling_pty()?;
                    let byte: u8 = if name == "tioclinux" { 7 } else { b'x' };
                    let request = match name {
                        "tiocsti" => TIOCSTI,
                        "tiocsti-high" => TIOCSTI | (1 << 32),
                        _ => TIOCLINUX,
                    };
                    let result = check(syscall(SYS_IOCTL, tty as c_long, request, &byte as *const u8));
                    close(tty);
                    result.map(drop)
                }
                "icmp-socket" | "raw-socket" => {
                    let (af_inet, dgram, raw, icmp) = (2 as c_long, 2 as c_long, 3 as c_long, 1 as c_long);
                    let kind = if name == "raw-socket" { raw } else { dgram };
                    let fd = check(syscall(SYS_SOCKET, af_inet, kind, icmp))?;
                    close(fd as c_int);
                    Ok(())
                }
                "vsock-socket" | "vsock-socket-high" => {
                    let af_vsock: c_long = if name == "vsock-socket" { 40 } else { 40 | (1 << 32) };
                    let fd = check(syscall(SYS_SOCKET, af_vsock, 1 as c_long, 0 as c_long))?;
                    close(fd as c_int);
                    Ok(())
                }
                "x32" => check(syscall(X32_SYSCALL_BIT | SYS_GETPID)).map(drop),
                "int80" => {
                    let mut eax: i64 = 20; // i386 getpid
                    std::arch::asm!("int 0x80", inout("rax") eax);
                    check(eax as c_long).map(drop)
                }
                "write-at" => {
                    let (dir, file) = fd_and_name(arg)?;
                    let fd =
                        check(openat(dir, file.as_ptr(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) as c_long)?;
                    close(fd as c_int);
                    Ok(())
                }
                "read-at" => {
                    let (dir, file) = fd_and_name(arg)?;
                    let fd = check(openat(dir, file.as_ptr(), O_RDONLY | O_CLOEXEC) as c_long)?;
                    let mut buffer = [0u8; 64];
                    let result = check(read(fd as c_int, buffer.as_mut_ptr().cast(), buffer.len()) as c_long);
                    close(fd as c_int);
                    result.map(drop)
                }
                "list-at" => {
                    let dir: c_int = arg.parse().map_err(|_| io::Error::other("bad fd"))?;
                    let fd = check(openat(dir, c".".as_ptr(), O_RDONLY | O_DIRECTORY | O_CLOEXEC) as c_long)?;
                    close(fd as c_int);
                    Ok(())
                }
                "mount-tmpfs" => {
                    let target = c(arg)?;
                    check(syscall(
                        SYS_MOUNT,
                        c"tmpfs".as_ptr(),
                        target.as_ptr(),
                        c"tmpfs".as_ptr(),
                        0 as c_long,
                        null,
                    ))
                    .map(drop)
                }
                _ => Err(io::Error::other("unknown item")),
            }
        }
    }

    /// A new pty whose slave becomes this process's controlling terminal
    /// (TIOCSTI needs that, or CAP_SYS_ADMIN of the host).
    unsafe fn controlling_pty() -> io::Result<c_int> {
        // SAFETY: plain calls on fds this function opens.
        unsafe {
            // burrow starts the container in a session of its own, with
            // no terminal: as its pid 1 the probe leads it already.
            if getsid(0) != getpid() {
                check(setsid() as c_long)?;
            }
            let master = check(open(c"/dev/ptmx".as_ptr(), O_RDWR | O_CLOEXEC) as c_long)? as c_int;
            let unlock: c_int = 0;
            let mut number: c_uint = 0;
            check(syscall(
                SYS_IOCTL,
                master as c_long,
                TIOCSPTLCK,
                &unlock as *const c_int,
            ))?;
            check(syscall(
                SYS_IOCTL,
                master as c_long,
                TIOCGPTN,
                &mut number as *mut c_uint,
            ))?;
            let path = c(&format!("/dev/pts/{number}"))?;
            // Without O_NOCTTY: a session leader's first tty becomes its terminal.
            let slave = check(open(path.as_ptr(), O_RDWR | O_CLOEXEC) as c_long)? as c_int;
            // The master stays open (leaked on purpose) for the slave to work.
            Ok(slave)
        }
    }

    fn run_as(uid: c_uint, gid: c_uint, program: &str, args: &[&str]) -> ExitCode {
        // SAFETY: plain syscalls with valid arguments (an empty group list).
        unsafe {
            // Not permitted when setgroups is "deny": then there is nothing to drop.
            let _ = super::setgroups(0, std::ptr::null());
            if super::setresgid(gid, gid, gid) != 0 || super::setresuid(uid, uid, uid) != 0 {
                return super::fail(format!("becoming {uid}:{gid}: {}", io::Error::last_os_error()));
            }
        }
        let Ok(path) = c(program) else { return super::usage() };
        let argv: Vec<CString> = std::iter::once(program)
            .chain(args.iter().copied())
            .filter_map(|a| c(a).ok())
            .collect();
        let mut pointers: Vec<*const c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        pointers.push(std::ptr::null());
        // SAFETY: NUL-terminated strings in a NULL-terminated array, alive across the call.
        unsafe { execv(path.as_ptr(), pointers.as_ptr()) };
        super::fail(format!("execv {program}: {}", io::Error::last_os_error()))
    }
}
// Hardening probes (end).

// ---------------------------------------------------------------------------
// Cgroup probes, for tests/tests/cgroup.rs (begin).
//
// ```text
// probe forks N              fork up to N children that wait; print "forked K of N" (and
//                            ": ERROR" when a fork failed), then "tasks T" (the numeric
//                            entries of /proc) and "ready"; at EOF on stdin kill and reap them
// probe alloc MIB            allocate MIB mebibytes, write to every page, print "allocated MIB MiB"
// probe write PATH VALUE     open the existing PATH for writing and write VALUE in one
//                            write(2); print "ok" (errors: "probe: write PATH: ...", exit 1)
// ```
mod cgroup {
    use std::ffi::c_int;
    use std::fs::OpenOptions;
    use std::io::{self, Read, Write};
    use std::process::ExitCode;

    pub const COMMANDS: &[&str] = &["forks", "alloc", "write"];

    const SIGKILL: c_int = 9;

    unsafe extern "C" {
        fn fork() -> c_int;
        fn pause() -> c_int;
        fn kill(pid: c_int, signal: c_int) -> c_int;
        fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
        fn _exit(status: c_int) -> !;
    }

    pub fn run(command: &str, rest: &[&str]) -> ExitCode {
        match (command, rest) {
            ("forks", [n]) => n.parse().map_or_else(|_| super::usage(), forks),
            ("alloc", [mib]) => mib.parse().map_or_else(|_| super::usage(), alloc),
            ("write", [path, value]) => write(path, value),
            _ => super::usage(),
        }
    }

    fn forks(wanted: usize) -> ExitCode {
        let mut children = Vec::new();
        let mut failure = None;
        while children.len() < wanted {
            // SAFETY: the child only calls pause and _exit, which are
            // async-signal-safe.
            match unsafe { fork() } {
                0 => loop {
                    // SAFETY: as above; it waits for the parent's SIGKILL.
                    unsafe { pause() };
                },
                -1 => {
                    failure = Some(io::Error::last_os_error());
                    break;
                }
                pid => children.push(pid),
            }
        }
        let forked = match &failure {
            None => format!("forked {} of {wanted}", children.len()),
            Some(e) => format!("forked {} of {wanted}: {e}", children.len()),
        };
        let tasks = std::fs::read_dir("/proc").map(|entries| {
            entries
                .filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.file_name().to_str().is_some_and(|n| n.parse::<u32>().is_ok()))
                })
                .count()
        });
        let mut stdout = io::stdout();
        let printed = match tasks {
            Ok(tasks) => writeln!(stdout, "{forked}\ntasks {tasks}\nready").and_then(|()| stdout.flush()),
            Err(e) => Err(e),
        };
        let mut sink = Vec::new();
        let waited = printed.and_then(|()| io::stdin().read_to_end(&mut sink));
        for &pid in &children {
            // SAFETY: kill and waitpid on this process's own unreaped children.
            unsafe {
                kill(pid, SIGKILL);
                waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
        match waited {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => super::fail(format!("forks: {e}")),
        }
    }

    fn alloc(mib: usize) -> ExitCode {
        let size = mib << 20;
        let mut memory = vec![0u8; size];
        // calloc'd pages are not there until written: write to each.
        for offset in (0..size).step_by(4096) {
            memory[offset] = 1;
        }
        std::hint::black_box(&memory);
        println!("allocated {mib} MiB");
        ExitCode::SUCCESS
    }

    fn write(path: &str, value: &str) -> ExitCode {
        let written =
            OpenOptions::new()
                .write(true)
                .open(path)
                .and_then(|mut file| match file.write(value.as_bytes())? {
                    n if n == value.len() => Ok(()),
                    n => Err(io::Error::other(format!("short write ({n} of {} bytes)", value.len()))),
                });
        match written {
            Ok(()) => {
                println!("ok");
                ExitCode::SUCCESS
            }
            Err(e) => super::fail(format!("write {path}: {e}")),
        }
    }
}
// Cgroup probes (end).

// ---------------------------------------------------------------------------
// Attack probes, for tests/tests/attacks.rs (begin). Linux, x86_64 or aarch64.
//
// ```text
// probe spy PID ITEM...          try to reach into the running process PID, as whoever runs
//                                the probe; print "ITEM: ok" or "ITEM: <error>" for each ITEM:
//   ptrace-attach ptrace-seize   PTRACE_ATTACH or PTRACE_SEIZE (an attach that works is undone)
//   mem environ                  open /proc/PID/mem, or read a byte of /proc/PID/environ
//   fd-list                      list /proc/PID/fd
//   vm-read                      process_vm_readv of one byte at address 0x10000
//   getfd=N                      pidfd_getfd of its fd N
// probe storm STEP,... PROG [ARG...]  run PROG and, until it exits, do the STEPs in turn, over
//                                and over: a signal name (STOP, CONT, TERM, ...) sends it to PROG
//                                through a pidfd, +N waits N microseconds; then print one line
//                                "storm: sent S, exit N" or "storm: sent S, signal N"
// probe userns-setgroups         unshare(CLONE_NEWUSER), print "ready", wait for a line on
//                                stdin, call setgroups([]) and print "setgroups: ok" or
//                                "setgroups: <error>", then wait for EOF on stdin
// ```
mod attack {
    use std::ffi::{c_int, c_long, c_void};
    use std::fs::{self, File};
    use std::io::{self, BufRead, Read, Write};
    use std::process::{Command, ExitCode, ExitStatus};
    use std::time::Duration;

    pub const COMMANDS: &[&str] = &["spy", "storm", "userns-setgroups"];

    const PTRACE_ATTACH: c_int = 16;
    const PTRACE_DETACH: c_int = 17;
    const PTRACE_SEIZE: c_int = 0x4206;
    const WALL: c_int = 0x4000_0000;
    const CLONE_NEWUSER: c_int = 0x1000_0000;
    // The same number on every architecture (the unified syscall table).
    const SYS_PIDFD_SEND_SIGNAL: c_long = 424;
    const SYS_PIDFD_OPEN: c_long = 434;
    const SYS_PIDFD_GETFD: c_long = 438;
    const SIGNALS: &[(&str, c_int)] = &[
        ("HUP", 1),
        ("INT", 2),
        ("QUIT", 3),
        ("KILL", 9),
        ("TERM", 15),
        ("CONT", 18),
        ("STOP", 19),
    ];

    #[repr(C)]
    struct Iovec {
        base: *mut c_void,
        len: usize,
    }

    unsafe extern "C" {
        fn syscall(number: c_long, ...) -> c_long;
        fn ptrace(request: c_int, pid: c_int, addr: *mut c_void, data: *mut c_void) -> c_long;
        fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
        fn close(fd: c_int) -> c_int;
        fn unshare(flags: c_int) -> c_int;
        fn process_vm_readv(
            pid: c_int,
            local: *const Iovec,
            local_count: usize,
            remote: *const Iovec,
            remote_count: usize,
            flags: usize,
        ) -> isize;
    }

    pub fn run(command: &str, rest: &[&str]) -> ExitCode {
        match (command, rest) {
            ("spy", [pid, items @ ..]) if !items.is_empty() => match pid.parse() {
                Ok(pid) => {
                    for item in items {
                        let result = spy(pid, item).map_or_else(|e| e.to_string(), |()| "ok".to_owned());
                        println!("{item}: {result}");
                    }
                    ExitCode::SUCCESS
                }
                Err(_) => super::usage(),
            },
            ("storm", [steps, program, args @ ..]) => match steps.split(',').map(step).collect::<Option<Vec<Step>>>() {
                Some(steps) => storm(&steps, program, args),
                None => super::usage(),
            },
            ("userns-setgroups", []) => userns_setgroups(),
            _ => super::usage(),
        }
    }

    fn check(ret: c_long) -> io::Result<c_long> {
        if ret < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(ret)
        }
    }

    fn pidfd_open(pid: c_int) -> io::Result<c_int> {
        // SAFETY: pidfd_open takes a pid and flags.
        check(unsafe { syscall(SYS_PIDFD_OPEN, pid as c_long, 0 as c_long) }).map(|fd| fd as c_int)
    }

    fn spy(pid: c_int, item: &str) -> io::Result<()> {
        let null = std::ptr::null_mut::<c_void>();
        match item.split_once('=') {
            None if item == "ptrace-attach" => {
                // SAFETY: ptrace with plain values; an attach that worked is
                // waited for (its SIGSTOP) and undone.
                unsafe {
                    check(ptrace(PTRACE_ATTACH, pid, null, null))?;
                    let mut status = 0;
                    waitpid(pid, &mut status, WALL);
                    ptrace(PTRACE_DETACH, pid, null, null);
                }
                Ok(())
            }
            // SAFETY: ptrace with plain values (a seize that worked ends when the probe exits).
            None if item == "ptrace-seize" => check(unsafe { ptrace(PTRACE_SEIZE, pid, null, null) }).map(drop),
            None if item == "mem" => File::open(format!("/proc/{pid}/mem")).map(drop),
            None if item == "environ" => File::open(format!("/proc/{pid}/environ"))?
                .read(&mut [0u8; 1])
                .map(drop),
            None if item == "fd-list" => fs::read_dir(format!("/proc/{pid}/fd")).map(drop),
            None if item == "vm-read" => {
                let mut byte = 0u8;
                let local = Iovec {
                    base: (&mut byte as *mut u8).cast(),
                    len: 1,
                };
                let remote = Iovec {
                    base: 0x10000 as *mut c_void,
                    len: 1,
                };
                // SAFETY: one iovec each way; the local one points to `byte`.
                check(unsafe { process_vm_readv(pid, &local, 1, &remote, 1, 0) } as c_long).map(drop)
            }
            Some(("getfd", fd)) => {
                let fd: c_int = fd.parse().map_err(|_| io::Error::other("bad fd"))?;
                let pidfd = pidfd_open(pid)?;
                // SAFETY: pidfd_getfd on our own pidfd; a stolen fd is closed again.
                unsafe {
                    let result = check(syscall(SYS_PIDFD_GETFD, pidfd as c_long, fd as c_long, 0 as c_long));
                    if let Ok(stolen) = result {
                        close(stolen as c_int);
                    }
                    close(pidfd);
                    result.map(drop)
                }
            }
            _ => Err(io::Error::other("unknown item")),
        }
    }

    enum Step {
        Signal(c_int),
        Pause(Duration),
    }

    fn step(text: &str) -> Option<Step> {
        match text.strip_prefix('+') {
            Some(micros) => micros.parse().ok().map(|n| Step::Pause(Duration::from_micros(n))),
            None => SIGNALS
                .iter()
                .find(|(name, _)| *name == text)
                .map(|&(_, signal)| Step::Signal(signal)),
        }
    }

    fn storm(steps: &[Step], program: &str, args: &[&str]) -> ExitCode {
        let mut child = match Command::new(program).args(args).spawn() {
            Ok(child) => child,
            Err(e) => return super::fail(format!("storm: starting {program}: {e}")),
        };
        let pidfd = match pidfd_open(child.id() as c_int) {
            Ok(pidfd) => pidfd,
            Err(e) => return super::fail(format!("storm: pidfd_open: {e}")),
        };
        let mut sent = 0u64;
        let status: io::Result<ExitStatus> = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) => {}
                Err(e) => break Err(e),
            }
            for step in steps {
                match step {
                    Step::Pause(pause) => std::thread::sleep(*pause),
                    Step::Signal(signal) => {
                        let null = std::ptr::null::<c_void>();
                        // SAFETY: a signal through our own pidfd, no siginfo.
                        let ret =
                            unsafe { syscall(SYS_PIDFD_SEND_SIGNAL, pidfd as c_long, *signal as c_long, null, 0) };
                        sent += u64::from(ret == 0);
                    }
                }
            }
        };
        // SAFETY: closes our own pidfd.
        unsafe { close(pidfd) };
        use std::os::unix::process::ExitStatusExt;
        match status {
            Ok(status) => {
                let ended = match (status.code(), status.signal()) {
                    (Some(code), _) => format!("exit {code}"),
                    (None, Some(signal)) => format!("signal {signal}"),
                    (None, None) => "unknown".to_owned(),
                };
                println!("storm: sent {sent}, {ended}");
                ExitCode::SUCCESS
            }
            Err(e) => super::fail(format!("storm: waiting for {program}: {e}")),
        }
    }

    fn userns_setgroups() -> ExitCode {
        // SAFETY: unshare with a flag; the probe is single-threaded.
        if unsafe { unshare(CLONE_NEWUSER) } != 0 {
            return super::fail(format!("unshare: {}", io::Error::last_os_error()));
        }
        let mut stdout = io::stdout();
        let mut line = String::new();
        let ready = writeln!(stdout, "ready").and_then(|()| stdout.flush());
        if ready.and_then(|()| io::stdin().lock().read_line(&mut line)).is_err() {
            return super::fail("userns-setgroups: stdin or stdout");
        }
        // SAFETY: an empty group list.
        let result = match unsafe { super::setgroups(0, std::ptr::null()) } {
            0 => "ok".to_owned(),
            _ => io::Error::last_os_error().to_string(),
        };
        let mut sink = Vec::new();
        match writeln!(stdout, "setgroups: {result}")
            .and_then(|()| stdout.flush())
            .and_then(|()| io::stdin().read_to_end(&mut sink))
        {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => super::fail(format!("userns-setgroups: {e}")),
        }
    }
}
// Attack probes (end).
