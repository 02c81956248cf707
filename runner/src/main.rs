//! `burrow`, the unprivileged runner: parses the command line, describes the
//! container as an OCI spec, starts it (parent.rs / child.rs) and reports one
//! error line or passes the container's exit status through.

mod bpf;
mod capabilities;
mod cgroup;
mod child;
mod cli;
mod cli_resources;
mod cli_security;
mod confine;
mod error;
mod exec;
mod fds;
mod helper_client;
mod idmap;
mod landlock_rules;
mod log_stderr;
mod masked_paths;
mod mount_api;
mod net;
mod netlink;
mod network;
mod parent;
mod resources;
mod rlimits;
mod rootfs;
mod seccomp;
mod seccomp_profile;
mod security;
mod spawn;
mod spec;
mod supervise;
mod sync;
mod syscalls;

use burrow_shared::ids::{IdKind, check_map};
use clap::{CommandFactory, FromArgMatches};
use cli::{Cli, Command, RunArgs};
use error::{Error, Result, status};
use idmap::Caller;
use net::{Interface, NetMode};

fn main() {
    // Before anything else: no fd burrow inherited reaches the helper or the
    // container unless asked for (--preserve-fds).
    if let Err(e) = fds::mark_inherited_cloexec() {
        eprintln!("burrow: marking inherited fds close-on-exec: {e}");
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
            .and_then(|network| run(&args, network)),
        _ => Err(Error::usage("unknown command (see burrow --help)")),
    };
    let code = result.unwrap_or_else(|e| {
        eprintln!("burrow: {e}");
        e.exit_status()
    });
    std::process::exit(code)
}

fn run(args: &RunArgs, network: (NetMode, Vec<Interface>)) -> Result<i32> {
    let caller = Caller::current();
    let mut without_subids = Vec::new();
    let mut maps = Vec::new();
    for (given, kind) in [(&args.uidmap, IdKind::Uid), (&args.gidmap, IdKind::Gid)] {
        let map = if given.is_empty() {
            let (map, has_subids) = idmap::default_map(kind, &caller)?;
            if !has_subids {
                without_subids.push(kind);
            }
            map
        } else {
            given.clone()
        };
        check_map(&map).map_err(|e| Error::usage(format!("bad --{kind}map: {e}")))?;
        maps.push(map);
    }
    let spec = spec::from_run_args(args, &maps[0], &maps[1], &network)?;
    if !without_subids.is_empty() {
        log::warn!("{}", idmap::no_subordinate_ids_notice(&caller, &without_subids));
    }
    parent::run(&spec, &caller)
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
