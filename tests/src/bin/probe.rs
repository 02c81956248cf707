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
