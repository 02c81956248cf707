//! The command line (runner, unprivileged): the front end of `burrow run`,
//! and the only room that knows clap and the options' names. The clap types
//! are here, each value checked for shape; run.rs turns them into the
//! container's OCI spec and starts it.

pub mod confinement;
pub mod detach;
pub mod docs;
pub mod lifecycle;
pub mod limits;
pub mod net;
pub mod resources;
pub mod run;
pub mod security;
pub mod session;
pub mod unshare;

use crate::cli::net::NetMode;
use crate::cli::resources::ResourceArgs;
use crate::cli::security::SecurityArgs;
use crate::cli::session::SessionArgs;
use burrow_shared::ids::IdMapping;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "burrow",
    version,
    about = "Start Linux containers as an ordinary user",
    after_help = exit_statuses()
)]
pub struct Cli {
    /// How much burrow says on stderr
    #[arg(long, value_enum, default_value_t = LogLevel::Warn, global = true)]
    pub log_level: LogLevel,

    #[command(subcommand)]
    pub command: Command,
}

/// The exit statuses, for `burrow --help`.
fn exit_statuses() -> String {
    use crate::status::{FAILED, NOT_EXECUTABLE, NOT_FOUND};
    format!(
        "Exit status of `burrow run`: the command's own; 128+N if it died of signal N; \
         {FAILED} if burrow failed; {NOT_EXECUTABLE} if the command cannot be executed; {NOT_FOUND} if it was not found."
    )
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a command in a new container
    Run(Box<RunArgs>),

    /// Run CMD as root of a new user namespace with your default maps (container
    /// root = you, ids 1.. = your subordinate ids) and nothing else isolated, as
    /// `podman unshare`: e.g. `burrow unshare tar -xpf image.tar -C DIR` unpacks an
    /// image owned by the ids its containers map
    Unshare(UnshareArgs),

    /// List the containers `run -d` started (running ones; -a: all)
    Ps {
        /// Also the stopped ones
        #[arg(short, long)]
        all: bool,
        /// table (default) or json
        #[arg(long, value_name = "FORMAT", default_value = "table", value_parser = ["table", "json"])]
        format: String,
    },

    /// Print containers' state as JSON: the OCI state (id, status, pid, created,
    /// annotations) and burrow's (name, rootfs, command, exit status)
    Inspect {
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },

    /// Stop a container: its stop signal (as --stop-signal chose it at run), then
    /// SIGKILL after SECS
    Stop {
        /// Seconds before SIGKILL [default: the run's --stop-timeout]
        #[arg(short = 't', long = "time", value_name = "SECS")]
        time: Option<u64>,
        #[arg(value_name = "NAME")]
        name: String,
    },

    /// Send a signal to a container's pid 1
    Kill {
        /// A name (KILL, TERM, RTMIN+3) or a number
        #[arg(short, long, value_name = "SIGNAL", default_value = "KILL", value_parser = session::signal_number)]
        signal: i32,
        #[arg(value_name = "NAME")]
        name: String,
    },

    /// Remove stopped containers (their record and log); -f kills a running one first
    Rm {
        #[arg(short, long)]
        force: bool,
        #[arg(required = true, value_name = "NAME")]
        names: Vec<String>,
    },

    /// Wait for a container to stop, then print its exit status
    Wait {
        #[arg(value_name = "NAME")]
        name: String,
    },

    /// Print a container's output (its log keeps the newest MiB)
    Logs {
        /// Go on printing until the container stops
        #[arg(short, long)]
        follow: bool,
        /// Only the last N lines
        #[arg(long, value_name = "N")]
        tail: Option<usize>,
        #[arg(value_name = "NAME")]
        name: String,
    },

    /// Print burrow's completion script for SHELL (install.sh installs the bash, zsh
    /// and fish ones); e.g. `source <(burrow completion bash)`
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Write burrow's man pages into DIR (install.sh runs it)
    #[command(hide = true)]
    GenerateMan {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

impl LogLevel {
    pub fn filter(self) -> log::LevelFilter {
        match self {
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
        }
    }
}

#[derive(Args, Debug)]
#[command(
    about = "Run a command in a new container",
    long_about = "Run CMD as root in new user, pid, mount, uts, ipc, network and cgroup \
                  namespaces. Container root is your own uid; container ids 1..N are your \
                  subordinate ids from /etc/subuid and /etc/subgid, mapped by burrow-helper."
)]
pub struct RunArgs {
    /// Root filesystem directory [default: a tmpfs with the host's /usr, /bin, /sbin,
    /// /lib, /lib64 and /etc bound read-only, and a tmpfs /tmp]
    #[arg(long, value_name = "DIR")]
    pub rootfs: Option<PathBuf>,

    /// Host name inside the container
    #[arg(long, value_name = "NAME", default_value = "burrow")]
    pub hostname: String,

    /// Bind-mount host path SRC at DST in the container (`:ro` for read-only); repeatable
    #[arg(short = 'v', long = "bind", visible_alias = "volume", value_name = "SRC:DST[:ro]", value_parser = BindSpec::parse)]
    pub binds: Vec<BindSpec>,

    /// Mount a fresh tmpfs at DST, with podman's OPTIONS (comma-separated: size=SIZE,
    /// mode=OCTAL, nr_inodes=N, uid=N, gid=N, ro, noexec, exec, nosuid, suid, nodev, dev,
    /// noatime) [default: nosuid,nodev,mode=1777]; repeatable
    #[arg(long = "tmpfs", value_name = "DST[:OPTIONS]", value_parser = TmpfsSpec::parse)]
    pub tmpfs: Vec<TmpfsSpec>,

    /// Set an environment variable in the container; repeatable
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE", value_parser = env_var)]
    pub env: Vec<String>,

    /// Working directory of the command inside the container
    #[arg(short = 'w', long, visible_alias = "workdir", value_name = "DIR", default_value = "/", value_parser = container_path)]
    pub cwd: PathBuf,

    /// Run the command as UID (and GID) of the container, which its maps must hold;
    /// a uid other than 0 gets no capabilities, as with podman [default: 0:0]
    #[arg(short = 'u', long, value_name = "UID[:GID]", value_parser = user_ids)]
    pub user: Option<(u32, u32)>,

    /// Accepted for podman's habit: a container leaves nothing behind when it ends anyway
    /// (one started with -d keeps its record until `burrow rm`)
    #[arg(long)]
    pub rm: bool,

    /// Run in the background: print the container's id once CMD has been exec'd, and
    /// let a monitor (burrow in its own session) supervise it; see `burrow ps`, `stop`,
    /// `logs`, `rm`
    #[arg(short = 'd', long)]
    pub detach: bool,

    /// With -d: the container's name, unique among yours [default: its id's first 12 digits]
    #[arg(long, value_name = "NAME", requires = "detach")]
    pub name: Option<String>,

    /// With -d: start it again when it ends: no, on-failure[:N] (a status other than 0,
    /// at most N times), always; waiting 0.1 s, then twice as long each time, up to 10 s;
    /// never after `burrow stop`, `kill` or `rm -f`
    #[arg(long, value_name = "POLICY", default_value = "no", value_parser = Restart::parse, requires = "detach")]
    pub restart: Restart,

    /// With -d: write the container's pid 1 (in your pid namespace) to FILE
    #[arg(long, value_name = "FILE", requires = "detach")]
    pub pidfile: Option<PathBuf>,

    #[command(flatten)]
    pub maps: MapArgs,

    /// Mount the container's root read-only
    #[arg(long)]
    pub read_only: bool,

    /// Network: none (a private namespace with only lo), host (share yours), or
    /// bridge:BRIDGE (a veth on BRIDGE, as /etc/burrow/usernet allows; repeatable)
    #[arg(long = "net", visible_alias = "network", value_name = "MODE", value_parser = NetMode::parse)]
    pub net: Vec<NetMode>,

    /// An address for the interface of the --net bridge: before it (IPv4 or IPv6); repeatable
    #[arg(long = "ip", value_name = "ADDR/PREFIX")]
    pub ip: Vec<String>,

    /// Default route via this address for the interface of the --net bridge: before it
    #[arg(long = "gateway", value_name = "ADDR")]
    pub gateway: Vec<String>,

    /// MAC address of the interface of the --net bridge: before it
    #[arg(long = "mac", value_name = "MAC")]
    pub mac: Vec<String>,

    /// MTU of the interface of the --net bridge: before it [default: the bridge's]
    #[arg(long = "mtu", value_name = "N")]
    pub mtu: Vec<String>,

    /// Name of the interface of the --net bridge: before it [default: eth0, eth1, ...]
    #[arg(long = "net-name", value_name = "NAME")]
    pub net_name: Vec<String>,

    /// A nameserver for the container's /etc/resolv.conf (mounted over the rootfs's own); repeatable
    #[arg(long = "dns", value_name = "ADDR")]
    pub dns: Vec<std::net::IpAddr>,

    #[command(flatten)]
    pub resources: ResourceArgs,

    #[command(flatten)]
    pub security: SecurityArgs,

    #[command(flatten)]
    pub session: SessionArgs,

    #[command(flatten)]
    pub command: CommandArgs,
}

/// `--uidmap` and `--gidmap`, of `burrow run` and `burrow unshare`.
#[derive(Args, Debug)]
pub struct MapArgs {
    /// Map container uids NS.. to host uids HOST.. (COUNT ids); replaces the default uid map; repeatable
    #[arg(long = "uidmap", value_name = "NS:HOST:COUNT", value_parser = id_mapping)]
    pub uidmap: Vec<IdMapping>,

    /// Map container gids NS.. to host gids HOST.. (COUNT ids); replaces the default gid map; repeatable
    #[arg(long = "gidmap", value_name = "NS:HOST:COUNT", value_parser = id_mapping)]
    pub gidmap: Vec<IdMapping>,
}

#[derive(Args, Debug)]
pub struct UnshareArgs {
    #[command(flatten)]
    pub maps: MapArgs,

    #[command(flatten)]
    pub command: CommandArgs,
}

/// CMD and its arguments, of `burrow run` and `burrow unshare`.
#[derive(Args, Debug)]
pub struct CommandArgs {
    /// The command and its arguments
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<OsString>,
}

impl CommandArgs {
    /// The words of CMD, of the subcommand `subcommand`. clap's trailing CMD
    /// also swallows an unknown option in its place, and no command starts
    /// with '-': that is reported as the option it is.
    pub fn words(&self, subcommand: &str) -> Result<Vec<String>, String> {
        if let Some(word) = self
            .command
            .first()
            .and_then(|c| c.to_str())
            .filter(|w| w.starts_with('-'))
        {
            return Err(unknown_option(subcommand, word));
        }
        self.command
            .iter()
            .map(|arg| {
                arg.to_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("command argument {arg:?} is not valid UTF-8"))
            })
            .collect()
    }
}

/// The error for an unknown option, with the nearest of `subcommand`'s long
/// options when one is near (a typo), as clap suggests them elsewhere.
fn unknown_option(subcommand: &str, word: &str) -> String {
    use clap::CommandFactory;
    let name = word.split_once('=').map_or(word, |(name, _)| name);
    let typed = name.trim_start_matches('-');
    let cli = Cli::command();
    let longs: Vec<String> = cli
        .find_subcommand(subcommand)
        .into_iter()
        .flat_map(|run| run.get_arguments())
        .flat_map(|arg| arg.get_long_and_visible_aliases().unwrap_or_default())
        .map(str::to_owned)
        .collect();
    let nearest = longs
        .iter()
        .map(|long| (edit_distance(typed, long), long))
        .filter(|(distance, long)| *distance <= 2.max(long.len() / 4))
        .min();
    match nearest {
        Some((_, long)) => format!("unknown option {name} (did you mean --{long}?)"),
        None => format!("unknown option {name}"),
    }
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substituted = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substituted.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// `--bind SRC:DST[:ro|:rw]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindSpec {
    pub source: PathBuf,
    pub destination: PathBuf,
    pub read_only: bool,
}

impl BindSpec {
    pub fn parse(text: &str) -> Result<BindSpec, String> {
        let fields: Vec<&str> = text.split(':').collect();
        let (source, destination, read_only) = match fields[..] {
            [source, destination] => (source, destination, false),
            [source, destination, "ro"] => (source, destination, true),
            [source, destination, "rw"] => (source, destination, false),
            [_, _, option] => return Err(format!("unknown bind option {option:?} (ro or rw)")),
            _ => return Err("expected SRC:DST[:ro]".to_owned()),
        };
        if source.is_empty() {
            return Err("empty source".to_owned());
        }
        Ok(BindSpec {
            source: PathBuf::from(source),
            destination: container_path(destination)?,
            read_only,
        })
    }
}

/// An absolute path inside the container, without `..` (mount targets are
/// resolved inside the root anyway; `..` is refused so the user sees it).
fn container_path(text: &str) -> Result<PathBuf, String> {
    if !text.starts_with('/') {
        return Err(format!("{text:?} is not an absolute path"));
    }
    if text.split('/').any(|part| part == "..") {
        return Err(format!("{text:?} contains \"..\""));
    }
    if text.contains('\0') {
        return Err("path contains a NUL byte".to_owned());
    }
    Ok(PathBuf::from(text))
}

/// `--restart`: when a detached container's monitor starts it again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Restart {
    #[default]
    No,
    /// After a status other than 0; at most N times if given.
    OnFailure(Option<u32>),
    Always,
}

impl Restart {
    pub fn parse(text: &str) -> Result<Restart, String> {
        match text.split_once(':') {
            None if text == "no" => Ok(Restart::No),
            None if text == "always" => Ok(Restart::Always),
            None if text == "on-failure" => Ok(Restart::OnFailure(None)),
            Some(("on-failure", n)) => n
                .parse()
                .map(|n| Restart::OnFailure(Some(n)))
                .map_err(|_| format!("{n:?} is not a count (on-failure:N)")),
            _ => Err("expected no, on-failure[:N] or always".to_owned()),
        }
    }

    /// Whether to start it again after it ended with `status`, `done` times so far.
    pub fn again(self, status: i32, done: u32) -> bool {
        match self {
            Restart::No => false,
            Restart::Always => true,
            Restart::OnFailure(most) => status != 0 && most.is_none_or(|most| done < most),
        }
    }
}

/// `--tmpfs DST[:OPTIONS]`: the destination and the mount options, burrow's
/// defaults (nosuid, nodev, mode=1777) where OPTIONS do not say otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TmpfsSpec {
    pub destination: PathBuf,
    pub options: Vec<String>,
}

impl TmpfsSpec {
    pub fn parse(text: &str) -> Result<TmpfsSpec, String> {
        let (destination, given) = text.split_once(':').unwrap_or((text, ""));
        let mut options: Vec<String> = ["nosuid", "nodev", "mode=1777"].map(str::to_owned).into();
        for option in given.split(',').filter(|o| !o.is_empty()) {
            let (key, value) = option.split_once('=').unwrap_or((option, ""));
            let valid = match key {
                "size" | "nr_inodes" => size_value(value, key == "size"),
                "mode" => value.len() <= 4 && !value.is_empty() && value.chars().all(|c| c.is_digit(8)),
                "uid" | "gid" => value.parse::<u32>().is_ok(),
                "ro" | "rw" | "noexec" | "exec" | "nosuid" | "suid" | "nodev" | "dev" | "noatime" => value.is_empty(),
                _ => return Err(format!("unknown tmpfs option {option:?}")),
            };
            if !valid {
                return Err(format!("bad tmpfs option {option:?}"));
            }
            // The last word wins: suid undoes nosuid, a mode replaces the mode.
            let opposite = |o: &str| match o {
                "suid" => "nosuid",
                "nosuid" => "suid",
                "dev" => "nodev",
                "nodev" => "dev",
                "exec" => "noexec",
                "noexec" => "exec",
                "ro" => "rw",
                "rw" => "ro",
                _ => "",
            };
            options.retain(|o| o != opposite(key) && o.split_once('=').is_none_or(|(k, _)| k != key));
            options.push(option.to_owned());
        }
        Ok(TmpfsSpec {
            destination: container_path(destination)?,
            options,
        })
    }
}

/// A tmpfs size: digits with an optional k, m or g suffix (or %, for size).
fn size_value(value: &str, percent: bool) -> bool {
    let digits = value.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G']);
    let digits = match percent {
        true => digits.strip_suffix('%').unwrap_or(digits),
        false => digits,
    };
    value.len() - digits.len() <= 1 && !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
}

/// `--user UID[:GID]`, numbers (no name: the image's /etc/passwd is not read).
fn user_ids(text: &str) -> Result<(u32, u32), String> {
    let number = |n: &str| {
        n.parse::<u32>()
            .map_err(|_| format!("{n:?} is not a number (UID[:GID], numeric ids)"))
    };
    match text.split_once(':') {
        Some((uid, gid)) => Ok((number(uid)?, number(gid)?)),
        None => Ok((number(text)?, 0)),
    }
}

fn env_var(text: &str) -> Result<String, String> {
    match text.split_once('=') {
        Some((key, _)) if !key.is_empty() && !text.contains('\0') => Ok(text.to_owned()),
        _ => Err("expected KEY=VALUE with a non-empty KEY".to_owned()),
    }
}

fn id_mapping(text: &str) -> Result<IdMapping, String> {
    IdMapping::parse(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    #[test]
    fn restart_policies() {
        assert_eq!(Restart::parse("no"), Ok(Restart::No));
        assert_eq!(Restart::parse("always"), Ok(Restart::Always));
        assert_eq!(Restart::parse("on-failure"), Ok(Restart::OnFailure(None)));
        assert_eq!(Restart::parse("on-failure:3"), Ok(Restart::OnFailure(Some(3))));
        assert!(Restart::parse("on-failure:x").is_err() && Restart::parse("sometimes").is_err());
        assert!(!Restart::No.again(1, 0) && Restart::Always.again(0, 99));
        let twice = Restart::OnFailure(Some(2));
        assert!(twice.again(1, 0) && twice.again(1, 1) && !twice.again(1, 2) && !twice.again(0, 0));
    }

    #[test]
    fn bind_specs() {
        assert_eq!(
            BindSpec::parse("/a:/b:ro"),
            Ok(BindSpec {
                source: "/a".into(),
                destination: "/b".into(),
                read_only: true
            })
        );
        assert!(!BindSpec::parse("rel:/b").unwrap().read_only);
        assert!(!BindSpec::parse("/a:/b:rw").unwrap().read_only);
        assert_eq!(BindSpec::parse("/a").unwrap_err(), "expected SRC:DST[:ro]");
        assert_eq!(
            BindSpec::parse("/a:/b:x").unwrap_err(),
            "unknown bind option \"x\" (ro or rw)"
        );
        assert_eq!(BindSpec::parse("/a:b").unwrap_err(), "\"b\" is not an absolute path");
        assert_eq!(
            BindSpec::parse("/a:/b/../c").unwrap_err(),
            "\"/b/../c\" contains \"..\""
        );
        assert_eq!(BindSpec::parse(":/b").unwrap_err(), "empty source");
    }

    #[test]
    fn command_line() {
        let cli = Cli::try_parse_from(["burrow", "run", "--env", "A=1", "--", "sh", "-c", "x"]).unwrap();
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.command.command, ["sh", "-c", "x"]);
        assert_eq!(run.env, ["A=1"]);
        // Options after CMD belong to CMD.
        let cli = Cli::try_parse_from(["burrow", "run", "ls", "--rootfs", "x"]).unwrap();
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.command.command, ["ls", "--rootfs", "x"]);
        assert!(run.rootfs.is_none());
        let first_line = |error: clap::Error| (error.kind(), error.to_string().lines().next().map(str::to_owned));
        assert_eq!(
            first_line(Cli::try_parse_from(["burrow", "run"]).unwrap_err()),
            (
                ErrorKind::MissingRequiredArgument,
                Some("error: the following required arguments were not provided:".to_owned())
            )
        );
        // clap takes an unknown option in CMD's place as CMD: refuse it.
        let cli = Cli::try_parse_from(["burrow", "run", "--bogus"]).unwrap();
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.command.words("run").unwrap_err(), "unknown option --bogus");
        let typo = |word: &str| {
            let Command::Run(run) = Cli::try_parse_from(["burrow", "run", word, "sh"]).unwrap().command else {
                panic!("not run")
            };
            run.command.words("run").unwrap_err()
        };
        assert_eq!(typo("--hostnme"), "unknown option --hostnme (did you mean --hostname?)");
        assert_eq!(
            typo("--netwrk=none"),
            "unknown option --netwrk (did you mean --network?)"
        );
        assert_eq!(
            typo("--read-onyl"),
            "unknown option --read-onyl (did you mean --read-only?)"
        );
        let Command::Unshare(unshare) = Cli::try_parse_from(["burrow", "unshare", "--uidmpa", "0:1:1", "sh"])
            .unwrap()
            .command
        else {
            panic!("not unshare")
        };
        assert_eq!(
            unshare.command.words("unshare").unwrap_err(),
            "unknown option --uidmpa (did you mean --uidmap?)"
        );
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            first_line(Cli::try_parse_from(["burrow", "run", "--env", "=x", "sh"]).unwrap_err()),
            (
                ErrorKind::ValueValidation,
                Some(
                    "error: invalid value '=x' for '--env <KEY=VALUE>': expected KEY=VALUE with a non-empty KEY"
                        .to_owned()
                )
            )
        );
    }
}
