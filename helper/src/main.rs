//! burrow-helper: burrow's setuid-root helper. Runs as root (setuid) and
//! treats its caller as hostile: argv, environment, fds, signals, umask and
//! the target are all untrusted. One request per exec:
//!
//! ```text
//! burrow-helper idmap --proc-fd FD [--uid NS:HOST:COUNT]... [--gid NS:HOST:COUNT]...
//! burrow-helper veth --netns-fd FD --bridge BRIDGE
//! burrow-helper cgroup --proc-fd FD --name NAME
//! ```
//!
//! 1. Hygiene (`hygiene`): panic hook (one fixed line, exit 70, no
//!    unwinding); fds 0-2 made valid; an empty argv (or argv[0]) refused;
//!    environment cleared; umask 022; not dumpable; signals default and
//!    all blocked (only SIGKILL can stop it half-way); resource limits checked.
//! 2. Parse argv (`request::parse`; `--help` alone prints the usage,
//!    `--version` alone the version and whether Landlock is enforced), then
//!    close every inherited fd above 2 except the target fd.
//! 3. Identity from the kernel's real ids (`identity`); prove privilege:
//!    euid 0 in the initial user namespace (`privilege::verify`).
//! 4. The operation (`idmap::run`, `veth::run`, `cgroup::run`), each in the same order:
//!    drop privilege to the caller's ids with only the capabilities it needs,
//!    confine itself (`confine`: no_new_privs, seccomp, and Landlock where the
//!    operation allows it), verify the target, check the request against
//!    root's policy (a pure `check`), apply, and return the one success line,
//!    printed here.
//!
//! Every failure prints one line on stderr and exits with its code (`error`).

// No std runtime start-up (`main` below is the C entry point): it costs some
// 0.09 ms per exec (a poll of fds 0-2, SIGPIPE ignored, a read of
// /proc/self/maps and a sigaltstack mapping for a stack-overflow handler),
// all of it code run as root before our hygiene, which does what matters of
// it itself: fds 0-2 made valid; every signal reset, std's SIGSEGV handler
// included, so a stack overflow was a plain SIGSEGV already (SIGPIPE is the
// caller's until then: only the empty-argv refusal writes before). argv still
// comes from std::env::args_os (glibc hands it to std's .init_array hook),
// and every path ends in std::process::exit, which flushes stdout.
#![cfg_attr(not(test), no_main)]
// Every `unsafe` of the helper is in sys.rs, each with its SAFETY comment.
#![deny(unsafe_code)]

mod cgroup;
mod confine;
mod error;
mod hygiene;
mod identity;
mod idmap;
mod netlink;
mod policy_file;
mod privilege;
#[allow(unsafe_code)]
mod sys;
mod target;
mod veth;

use burrow_shared::request::{self, Request};
use error::Error;
use std::ffi::OsString;
use std::io::Write;

// The C entry point keeps its symbol name.
#[allow(unsafe_code)]
#[cfg_attr(not(test), unsafe(no_mangle))]
extern "C" fn main() -> libc::c_int {
    hygiene::install_panic_hook();
    hygiene::make_stdio_valid();
    let args: Vec<OsString> = std::env::args_os().collect();
    let code = match run(&args) {
        Ok(()) => burrow_shared::exit::OK,
        Err(e) => {
            let _ = std::io::stderr().write_all(format!("burrow-helper: {e}\n").as_bytes());
            e.exit_code()
        }
    };
    std::process::exit(code);
}

fn run(args: &[OsString]) -> Result<(), Error> {
    // 1. Since Linux 5.18 the kernel turns an empty argv into [""], so an
    // empty argv[0] is refused as the same attack (pkexec CVE-2021-4034).
    let Some((_, args)) = args.split_first().filter(|(argv0, _)| !argv0.is_empty()) else {
        return Err(Error::usage("refusing to run with an empty argument list"));
    };
    hygiene::reset_inherited_state()?;

    // 2.
    if args == ["--help"] {
        let _ = writeln!(std::io::stdout(), "{}", request::USAGE);
        return Ok(());
    }
    if args == ["--version"] {
        let (version, landlock) = (env!("CARGO_PKG_VERSION"), confine::landlock_report()?);
        let _ = writeln!(std::io::stdout(), "burrow-helper {version}\n{landlock}");
        return Ok(());
    }
    let request = request::parse(args).map_err(Error::usage)?;
    hygiene::close_inherited_fds(&request.fds())?;
    // Recorded now: a later open (say by NSS) could land on a closed number.
    let target_fd_open = request.fds().iter().all(|&fd| sys::fd_is_open(fd));

    // 3.
    let caller = identity::Caller::from_real_ids();
    privilege::verify()?;

    // 4.
    let line = match &request {
        Request::Idmap(request) => idmap::run(request, target_fd_open, caller)?,
        Request::Veth(request) => veth::run(request, target_fd_open, caller)?,
        Request::Cgroup(request) => cgroup::run(request, target_fd_open, caller)?,
    };
    let _ = writeln!(std::io::stdout(), "{line}");
    Ok(())
}
