//! A detached container's monitor (runner, as the calling user): burrow
//! forked into a session of its own, stdin /dev/null and stdout and stderr
//! on the container's log, which then starts and supervises the container
//! (parent.rs, `Lifetime::Detached`). The records are the front end's
//! (cli/detach.rs): this is only the process.

use crate::sys::{process, random};
use std::fs::File;
use std::io;

/// Forks the monitor: `Ok(None)` in it (its session, stdio and cwd set),
/// its pid in the caller. burrow is single-threaded, as a fork needs.
pub fn fork(log: &File) -> io::Result<Option<libc::pid_t>> {
    let forked = process::fork()?;
    if forked.is_none() {
        nix::unistd::setsid()?;
        // Holds no directory of the caller's busy.
        std::env::set_current_dir("/")?;
        let null = File::open("/dev/null")?;
        nix::unistd::dup2_stdin(&null)?;
        nix::unistd::dup2_stdout(log)?;
        nix::unistd::dup2_stderr(log)?;
    }
    Ok(forked)
}

/// A new container id: 32 random bytes in hex, as podman's.
pub fn new_id() -> io::Result<String> {
    let mut bytes = [0u8; 32];
    random::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
