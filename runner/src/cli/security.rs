//! The command line's confinement options (runner, unprivileged). Parsing
//! only: each value is checked for shape here, and turned into the spec's
//! capabilities, no_new_privs, rlimits, seccomp, masked paths and burrow
//! annotations in `security.rs`.

use crate::child::fds;
use crate::confine::capabilities::CapArg;
use crate::confine::rlimits::Ulimit;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Default)]
pub struct SecurityArgs {
    /// Give the container a capability beyond the default set (e.g. NET_RAW), or ALL; repeatable
    #[arg(long = "cap-add", value_name = "CAP", value_parser = CapArg::parse)]
    pub cap_add: Vec<CapArg>,

    /// Take a capability from the container (e.g. CHOWN), or ALL; repeatable
    #[arg(long = "cap-drop", value_name = "CAP", value_parser = CapArg::parse)]
    pub cap_drop: Vec<CapArg>,

    /// no-new-privileges=false (allow setuid binaries to gain privileges), or unmask=PATH[:PATH...]
    /// or unmask=ALL (undo the masking or read-only mount of those /proc and /sys paths); repeatable
    #[arg(long = "security-opt", value_name = "OPT", value_parser = SecurityOpt::parse)]
    pub security_opt: Vec<SecurityOpt>,

    /// seccomp profile in the OCI/docker JSON format, or `unconfined` for none
    /// [default: burrow's, docker's allow list; see the README]
    #[arg(long = "seccomp-profile", value_name = "FILE")]
    pub seccomp_profile: Option<PathBuf>,

    /// Confine the container with Landlock to its root and its mounts (read-only binds read-only)
    #[arg(long)]
    pub landlock: bool,

    /// A resource limit, e.g. nofile=1024:4096 or core=0 (default: your own limits); repeatable
    #[arg(long = "ulimit", value_name = "NAME=SOFT[:HARD]", value_parser = Ulimit::parse)]
    pub ulimit: Vec<Ulimit>,

    /// Pass burrow's fds 3 to 3+N-1 into the container as they are
    #[arg(long = "preserve-fds", value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=1024))]
    pub preserve_fds: u32,

    /// Read environment variables from FILE (KEY=VALUE lines, # comments); --env wins; repeatable
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
}

/// A `--security-opt` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecurityOpt {
    NoNewPrivileges(bool),
    /// Paths to unmask; `None` for ALL.
    Unmask(Option<Vec<PathBuf>>),
}

impl SecurityOpt {
    pub fn parse(text: &str) -> Result<SecurityOpt, String> {
        let (key, value) = match text.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (text, None),
        };
        match (key, value) {
            ("no-new-privileges", None | Some("true")) => Ok(SecurityOpt::NoNewPrivileges(true)),
            ("no-new-privileges", Some("false")) => Ok(SecurityOpt::NoNewPrivileges(false)),
            ("no-new-privileges", Some(other)) => Err(format!("no-new-privileges={other}: expected true or false")),
            ("unmask", Some("ALL")) => Ok(SecurityOpt::Unmask(None)),
            ("unmask", Some(paths)) if !paths.is_empty() => {
                let paths: Vec<PathBuf> = paths.split(':').map(PathBuf::from).collect();
                match paths.iter().find(|p| !p.is_absolute()) {
                    Some(bad) => Err(format!(
                        "unmask: {:?} is not an absolute path",
                        bad.display().to_string()
                    )),
                    None => Ok(SecurityOpt::Unmask(Some(paths))),
                }
            }
            _ => Err(format!(
                "unknown security option {text:?} (no-new-privileges[=true|false], unmask=PATH[:PATH...], unmask=ALL)"
            )),
        }
    }
}

/// Checks (fds.rs step 2) that fds 3 to 3+count-1 are open.
pub fn check_preserved(count: u32) -> Result<(), String> {
    for fd in fds::FIRST..fds::FIRST + count {
        if !crate::sys::fd::is_open(fd as libc::c_int) {
            return Err(format!("bad --preserve-fds {count}: fd {fd} is not open"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_opts() {
        assert_eq!(
            SecurityOpt::parse("no-new-privileges"),
            Ok(SecurityOpt::NoNewPrivileges(true))
        );
        assert_eq!(
            SecurityOpt::parse("no-new-privileges=false"),
            Ok(SecurityOpt::NoNewPrivileges(false))
        );
        assert_eq!(SecurityOpt::parse("unmask=ALL"), Ok(SecurityOpt::Unmask(None)));
        assert_eq!(
            SecurityOpt::parse("unmask=/proc/keys:/proc/sys"),
            Ok(SecurityOpt::Unmask(Some(vec!["/proc/keys".into(), "/proc/sys".into()])))
        );
        assert_eq!(
            SecurityOpt::parse("unmask=proc").unwrap_err(),
            "unmask: \"proc\" is not an absolute path"
        );
        assert_eq!(
            SecurityOpt::parse("no-new-privileges=maybe").unwrap_err(),
            "no-new-privileges=maybe: expected true or false"
        );
        assert_eq!(
            SecurityOpt::parse("label=disable").unwrap_err(),
            "unknown security option \"label=disable\" (no-new-privileges[=true|false], unmask=PATH[:PATH...], \
             unmask=ALL)"
        );
    }
}
