//! burrow-helper: burrow's setuid-root helper. Runs as root (setuid) and
//! treats its caller as hostile: argv, environment, fds, signals, umask and
//! the target process are all untrusted. One request per exec:
//!
//! ```text
//! burrow-helper idmap --proc-fd FD [--uid NS:HOST:COUNT]... [--gid NS:HOST:COUNT]...
//! ```
//!
//! 1. Hygiene (`hygiene`): panic hook (one fixed line, exit 70, no
//!    unwinding); fds 0-2 made valid; an empty argv (or argv[0]) refused;
//!    environment cleared; umask 022; not dumpable; signals default and
//!    unblocked.
//! 2. Parse argv (`request::parse`; `--help` alone prints the usage), then
//!    close every inherited fd above 2 except the target fd.
//! 3. Identity from the kernel's real ids (`identity`); prove privilege:
//!    euid 0 in the initial user namespace (`privilege::verify`).
//! 4. Drop privilege (`privilege::drop_to`): the caller's uid and gid, no
//!    groups, only CAP_SETUID/CAP_SETGID permitted, none effective; then look
//!    up the caller's login name.
//! 5. Verify the target fd (`target::verify`).
//! 6. Check the whole request against /etc/subuid and /etc/subgid
//!    (`idmap::check`, reading `policy_file`s only when needed).
//! 7. Apply (`idmap::apply`) and print the one success line.
//!
//! Every failure prints one line on stderr and exits with its code (`error`).

mod error;
mod hygiene;
mod identity;
mod idmap;
mod policy_file;
mod privilege;
mod sys;
mod target;

use burrow_shared::ids::IdKind;
use burrow_shared::request::{self, Request};
use error::Error;
use std::ffi::OsString;
use std::io::Write;

fn main() {
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
        return Err(Error::EmptyArgv);
    };
    hygiene::reset_inherited_state()?;

    // 2.
    if args == ["--help"] {
        let _ = writeln!(std::io::stdout(), "{}", request::USAGE);
        return Ok(());
    }
    let request = request::parse(args).map_err(Error::Usage)?;
    hygiene::close_inherited_fds(&request.fds())?;
    let Request::Idmap(request) = request;
    // Recorded now: a later open (say by NSS) could land on a closed number.
    let target_fd_open = sys::fd_is_open(request.proc_fd);

    // 3.
    let mut caller = identity::Caller::from_real_ids();
    privilege::verify()?;

    // 4.
    let uid_caps = idmap::uid_map_caps(&request, &caller);
    let mut permitted = uid_caps.clone();
    permitted.push(caps::Capability::CAP_SETGID);
    privilege::drop_to(&caller, &permitted)?;
    caller.look_up_name()?;

    // 5.
    let kinds: Vec<IdKind> = [IdKind::Uid, IdKind::Gid]
        .into_iter()
        .filter(|&k| !request.map(k).is_empty())
        .collect();
    let target = target::verify(request.proc_fd, target_fd_open, &caller, &kinds)?;

    // 6.
    let mut load = |kind| policy_file::read_subid(idmap::policy_file(kind));
    let setgroups = idmap::check(&request, &caller, &mut load)?;

    // 7.
    idmap::apply(&target, &request, setgroups, &uid_caps)?;
    let (pid, uids, gids) = (target.pid, request.uid.len(), request.gid.len());
    let _ = writeln!(
        std::io::stdout(),
        "ok idmap pid={pid} uid={uids} gid={gids} setgroups={setgroups}"
    );
    Ok(())
}
