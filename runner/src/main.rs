//! `burrow`, the unprivileged runner: parses the command line, hands it to
//! the front end (cli/run.rs: the container as an OCI spec, then the start
//! sequence of start/ and child/) and reports one error line or passes the
//! container's exit status through.

// No std runtime start-up (`main` below is the C entry point): it costs some
// 0.09 ms per exec (a poll of fds 0-2, a read of /proc/self/maps and a
// sigaltstack mapping for its stack-overflow handler). `main` takes over
// what burrow relies on (`open_stdio`, `ignore_sigpipe`); argv still comes
// from std::env::args_os (glibc hands it to std's .init_array hook), and
// every path ends in std::process::exit, which flushes stdout. Lost: the
// stack-overflow message (a plain SIGSEGV now) and the thread name `main` in
// panic messages.
#![cfg_attr(not(test), no_main)]
// Every `unsafe` of the runner is in sys/, each with its SAFETY comment.
#![deny(unsafe_code)]

mod child;
mod cli;
mod confine;
mod error;
mod files;
mod layout;
mod log_stderr;
mod netlink;
mod spec;
mod start;
mod state;
mod status;
mod sync;
#[allow(unsafe_code)]
mod sys;

use child::fds;
use clap::{CommandFactory, FromArgMatches};
use cli::net;
use cli::{Cli, Command};
use error::Error;
use nix::fcntl::OFlag;
use nix::sys::signal::Signal;
use nix::sys::stat::Mode;
use std::io;
use std::os::fd::IntoRawFd;

// The C entry point must keep its symbol name; nothing else is exported.
#[allow(unsafe_code)]
#[cfg_attr(not(test), unsafe(no_mangle))]
extern "C" fn main(argc: libc::c_int, argv: *const *mut std::ffi::c_char) -> libc::c_int {
    // SAFETY: the C runtime's own argc and argv, which live as long as the
    // process (child/init.rs overwrites the strings for the container's view).
    unsafe { sys::argv::record(argc, argv) };
    // Before anything else: std's start-up as burrow relies on it, then no fd
    // burrow inherited reaches the helper or the container unless asked for
    // (--preserve-fds).
    let started = open_stdio()
        .map_err(|e| ("opening /dev/null on a closed fd 0, 1 or 2", e))
        .and_then(|()| ignore_sigpipe().map_err(|e| ("ignoring SIGPIPE", e)))
        .and_then(|()| fds::mark_inherited_cloexec().map_err(|e| ("marking inherited fds close-on-exec", e)));
    if let Err((doing, e)) = started {
        eprintln!("burrow: {doing}: {e}");
        std::process::exit(status::FAILED);
    }
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|matches| Ok((Cli::from_arg_matches(&matches)?, matches)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => std::process::exit(report_usage(e)),
    };
    log_stderr::init(cli.log_level.filter());
    let result = match (cli.command, matches.subcommand()) {
        (Command::Run(args), Some(("run", run_matches))) => net::from_matches(run_matches)
            .map_err(Error::Usage)
            .and_then(|network| cli::run::run(&args, network)),
        (Command::Unshare(args), _) => cli::unshare::run(&args),
        (Command::Ps { all, format }, _) => cli::lifecycle::ps(all, format == "json"),
        (Command::Inspect { names }, _) => cli::lifecycle::inspect(&names),
        (Command::Stop { time, name }, _) => cli::lifecycle::stop(&name, time),
        (Command::Kill { signal, name }, _) => cli::lifecycle::kill(&name, signal),
        (Command::Rm { force, names }, _) => cli::lifecycle::rm(&names, force),
        (Command::Wait { name }, _) => cli::lifecycle::wait(&name),
        (Command::Logs { follow, tail, name }, _) => cli::lifecycle::logs(&name, follow, tail),
        (Command::Completion { shell }, _) => cli::docs::completion(shell),
        (Command::GenerateMan { dir }, _) => cli::docs::man_pages(&dir),
        _ => Err(Error::usage("unknown command (see burrow --help)")),
    };
    let code = result.unwrap_or_else(|e| {
        eprintln!("burrow: {e:#}");
        e.exit_status()
    });
    std::process::exit(code)
}

/// Opens /dev/null (read-write, inheritable, as std's runtime does) on each
/// closed fd of 0, 1 and 2: otherwise a file burrow opens could land on one,
/// get its messages and reach the container as its stdio.
fn open_stdio() -> io::Result<()> {
    for fd in 0..3 {
        // open returns the lowest free fd, `fd` itself, since all below it
        // are open; it stays open (into_raw_fd), and inheritable.
        if !sys::fd::is_open(fd) {
            let _ = nix::fcntl::open("/dev/null", OFlag::O_RDWR, Mode::empty())?.into_raw_fd();
        }
    }
    Ok(())
}

/// A write to a closed pipe fails with EPIPE, which burrow reports, rather
/// than killing it, as in every Rust program (SIGPIPE is reset to its
/// default for the helper and the container's command).
fn ignore_sigpipe() -> io::Result<()> {
    sys::signal::ignore(Signal::SIGPIPE).map_err(io::Error::from)
}

/// Prints a command-line error as one line (help and version as clap does)
/// and returns the exit status.
fn report_usage(error: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = error.print();
            0
        }
        // `burrow` alone: the help, on stderr, as a usage error.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            status::FAILED
        }
        _ => {
            // clap's text is several lines (message, tip, usage); keep the message.
            let text = error.to_string();
            let message = text
                .split("\n\n")
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            eprintln!("burrow: {message} (see burrow --help)");
            status::FAILED
        }
    }
}
