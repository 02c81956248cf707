//! The command line's confinement options (runner, unprivileged): each
//! value is checked for shape here; `--cap-add`/`--cap-drop` become the
//! spec's capability sets and `--ulimit` its rlimits (the caller's own
//! limits with the options applied); confinement.rs writes them and the
//! rest into the spec. Untrusted input: the option values.

use crate::confine::capabilities::parse_name;
use crate::confine::rlimits::{LIMITS, show};
use crate::spec::annotations::FIRST_PRESERVED_FD;
use crate::spec::defaults;
use crate::start::host;
use caps::{Capability, CapsHashSet};
use clap::Args;
use nix::sys::resource::{Resource, getrlimit};
use oci_spec::runtime::{Capabilities, LinuxCapabilities, LinuxCapabilitiesBuilder, PosixRlimit, PosixRlimitBuilder};
use std::io;
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

/// Checks that fds 3 to 3+count-1 are open now, so that none of burrow's
/// own later fds can take one of their numbers (child/fds.rs).
pub fn check_preserved(count: u32) -> Result<(), String> {
    match host::first_closed_fd(FIRST_PRESERVED_FD..FIRST_PRESERVED_FD + count) {
        Some(fd) => Err(format!("bad --preserve-fds {count}: fd {fd} is not open")),
        None => Ok(()),
    }
}

/// A `--cap-add`/`--cap-drop` value: a capability or ALL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CapArg {
    All,
    One(Capability),
}

impl CapArg {
    pub fn parse(text: &str) -> Result<CapArg, String> {
        if text.eq_ignore_ascii_case("all") {
            Ok(CapArg::All)
        } else {
            parse_name(text).map(CapArg::One)
        }
    }
}

/// The capabilities this kernel knows (those whose bounding bit it reports).
pub fn supported() -> CapsHashSet {
    caps::runtime::thread_all_supported()
}

/// The container's capabilities from the defaults and the options: ALL in
/// `--cap-drop` starts from none, ALL in `--cap-add` from every capability
/// the kernel supports; then the named ones are added and dropped.
pub fn resolve(add: &[CapArg], drop: &[CapArg], supported: &CapsHashSet) -> Result<CapsHashSet, String> {
    let add_all = add.contains(&CapArg::All);
    let drop_all = drop.contains(&CapArg::All);
    if add_all && drop_all {
        return Err("--cap-add ALL and --cap-drop ALL contradict each other".to_owned());
    }
    let named = |list: &[CapArg]| -> CapsHashSet {
        list.iter()
            .filter_map(|c| match c {
                CapArg::One(cap) => Some(*cap),
                CapArg::All => None,
            })
            .collect()
    };
    let (added, dropped) = (named(add), named(drop));
    if let Some(both) = sorted(&added).into_iter().find(|c| dropped.contains(c)) {
        return Err(format!("{both} is both in --cap-add and in --cap-drop"));
    }
    if let Some(unsupported) = sorted(&added).into_iter().find(|c| !supported.contains(c)) {
        return Err(format!("{unsupported} is not supported by this kernel"));
    }
    let mut set: CapsHashSet = if drop_all {
        CapsHashSet::new()
    } else if add_all {
        supported.clone()
    } else {
        defaults::CAPABILITIES.iter().copied().collect()
    };
    set.extend(added);
    set.retain(|c| !dropped.contains(c));
    Ok(set)
}

/// In kernel order, for stable messages.
fn sorted(set: &CapsHashSet) -> Vec<Capability> {
    let mut list: Vec<Capability> = set.iter().copied().collect();
    list.sort_by_key(|c| c.index());
    list
}

fn oci_set(set: &CapsHashSet) -> Result<Capabilities, String> {
    set.iter()
        .map(|c| {
            let text = format!("\"{c}\"");
            serde_json::from_str(&text).map_err(|e| format!("capability {c}: {e}"))
        })
        .collect()
}

/// The spec's five sets for a container whose root holds `set`.
pub fn to_spec(set: &CapsHashSet) -> Result<LinuxCapabilities, String> {
    let full = oci_set(set)?;
    LinuxCapabilitiesBuilder::default()
        .bounding(full.clone())
        .permitted(full.clone())
        .effective(full)
        .inheritable(Capabilities::new())
        .ambient(Capabilities::new())
        .build()
        .map_err(|e| e.to_string())
}

/// `--ulimit NAME=SOFT[:HARD]`; HARD defaults to SOFT; `unlimited` or -1
/// for no limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ulimit {
    pub name: &'static str,
    pub soft: u64,
    pub hard: u64,
}

fn names() -> String {
    LIMITS.iter().map(|(n, _, _)| *n).collect::<Vec<_>>().join(", ")
}

fn value(text: &str) -> Result<u64, String> {
    match text {
        "unlimited" | "-1" => Ok(libc::RLIM_INFINITY),
        _ => text
            .parse()
            .map_err(|_| format!("{text:?} is not a number (or unlimited)")),
    }
}

impl Ulimit {
    pub fn parse(text: &str) -> Result<Ulimit, String> {
        let (name, values) = text
            .split_once('=')
            .ok_or_else(|| "expected NAME=SOFT[:HARD]".to_owned())?;
        let Some(&(name, _, _)) = LIMITS.iter().find(|(n, _, _)| *n == name) else {
            return Err(format!("unknown limit {name:?} (one of {})", names()));
        };
        let (soft, hard) = match values.split_once(':') {
            Some((soft, hard)) => (value(soft)?, value(hard)?),
            None => (value(values)?, value(values)?),
        };
        if soft > hard {
            return Err(format!("the soft limit of {name} is above its hard limit"));
        }
        Ok(Ulimit { name, soft, hard })
    }
}

/// The container's limits: the caller's own with `ulimits` applied. A hard
/// limit above the caller's needs privilege on the host: refused here.
pub fn for_container(ulimits: &[Ulimit]) -> Result<Vec<PosixRlimit>, String> {
    with_own_limits(ulimits, own_limit)
}

/// `for_container`, with the caller's own limits from `own_limit`.
fn with_own_limits(
    ulimits: &[Ulimit],
    own_limit: impl Fn(Resource) -> io::Result<(u64, u64)>,
) -> Result<Vec<PosixRlimit>, String> {
    let mut limits = Vec::new();
    for &(name, typ, resource) in LIMITS {
        let (own_soft, own_hard) = own_limit(resource).map_err(|e| format!("reading your {name} limit: {e}"))?;
        let (soft, hard) = match ulimits.iter().rev().find(|u| u.name == name) {
            Some(u) if u.hard > own_hard => {
                return Err(format!(
                    "bad --ulimit {name}: the hard limit {} is above your own ({})",
                    show(u.hard),
                    show(own_hard)
                ));
            }
            Some(u) => (u.soft, u.hard),
            None => (own_soft, own_hard),
        };
        limits.push(
            PosixRlimitBuilder::default()
                .typ(typ)
                .soft(soft)
                .hard(hard)
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(limits)
}

fn own_limit(resource: Resource) -> io::Result<(u64, u64)> {
    getrlimit(resource).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::PosixRlimitType;

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

    fn all_41() -> CapsHashSet {
        caps::all().into_iter().collect()
    }

    fn mask(set: &CapsHashSet) -> u64 {
        set.iter().fold(0, |mask, c| mask | c.bitmask())
    }

    #[test]
    fn cap_args() {
        assert_eq!(CapArg::parse("all"), Ok(CapArg::All));
        assert_eq!(CapArg::parse("net_raw"), Ok(CapArg::One(Capability::CAP_NET_RAW)));
    }

    #[test]
    fn default_mask_is_podmans() {
        let set = resolve(&[], &[], &all_41()).unwrap();
        assert_eq!(mask(&set), 0x8004_05fb);
    }

    #[test]
    fn add_and_drop() {
        let supported = all_41();
        let one = |c| CapArg::One(c);
        let set = resolve(
            &[one(Capability::CAP_NET_RAW)],
            &[one(Capability::CAP_KILL)],
            &supported,
        )
        .unwrap();
        assert!(set.contains(&Capability::CAP_NET_RAW) && !set.contains(&Capability::CAP_KILL));
        assert_eq!(set.len(), defaults::CAPABILITIES.len());
        let set = resolve(&[one(Capability::CAP_KILL)], &[CapArg::All], &supported).unwrap();
        assert_eq!(set, CapsHashSet::from([Capability::CAP_KILL]));
        let set = resolve(&[CapArg::All], &[one(Capability::CAP_SYS_ADMIN)], &supported).unwrap();
        assert_eq!(set.len(), 40);
        assert_eq!(
            resolve(&[one(Capability::CAP_KILL)], &[one(Capability::CAP_KILL)], &supported).unwrap_err(),
            "CAP_KILL is both in --cap-add and in --cap-drop"
        );
        assert_eq!(
            resolve(&[CapArg::All], &[CapArg::All], &supported).unwrap_err(),
            "--cap-add ALL and --cap-drop ALL contradict each other"
        );
        let old_kernel: CapsHashSet = defaults::CAPABILITIES.iter().copied().collect();
        assert_eq!(
            resolve(&[one(Capability::CAP_BPF)], &[], &old_kernel).unwrap_err(),
            "CAP_BPF is not supported by this kernel"
        );
    }

    #[test]
    fn spec_sets() {
        let set = resolve(&[], &[], &all_41()).unwrap();
        let spec = to_spec(&set).unwrap();
        let names = |list: &Option<Capabilities>| -> CapsHashSet {
            list.iter()
                .flatten()
                .map(|c| parse_name(&c.to_string()).unwrap())
                .collect()
        };
        assert_eq!(names(spec.bounding()), set);
        assert_eq!(names(spec.effective()), set);
        assert_eq!(names(spec.permitted()), set);
        assert!(names(spec.inheritable()).is_empty());
        assert!(names(spec.ambient()).is_empty());
    }

    #[test]
    fn ulimit_syntax() {
        assert_eq!(
            Ulimit::parse("nofile=100:200"),
            Ok(Ulimit {
                name: "nofile",
                soft: 100,
                hard: 200
            })
        );
        assert_eq!(Ulimit::parse("core=0").map(|u| (u.soft, u.hard)), Ok((0, 0)));
        assert_eq!(
            Ulimit::parse("stack=unlimited").map(|u| u.hard),
            Ok(libc::RLIM_INFINITY)
        );
        assert_eq!(
            Ulimit::parse("nofile=200:100").unwrap_err(),
            "the soft limit of nofile is above its hard limit"
        );
        assert!(
            Ulimit::parse("bogus=1")
                .unwrap_err()
                .starts_with("unknown limit \"bogus\" (one of as, core")
        );
        assert_eq!(Ulimit::parse("nofile").unwrap_err(), "expected NAME=SOFT[:HARD]");
        assert_eq!(
            Ulimit::parse("nofile=x").unwrap_err(),
            "\"x\" is not a number (or unlimited)"
        );
    }

    #[test]
    fn container_limits_are_own_with_overrides() {
        let limits = for_container(&[Ulimit::parse("core=0").unwrap()]).unwrap();
        assert_eq!(limits.len(), LIMITS.len());
        let core = limits.iter().find(|l| l.typ() == PosixRlimitType::RlimitCore).unwrap();
        assert_eq!((core.soft(), core.hard()), (0, 0));
        let (soft, hard) = own_limit(Resource::RLIMIT_NOFILE).unwrap();
        let nofile = limits
            .iter()
            .find(|l| l.typ() == PosixRlimitType::RlimitNofile)
            .unwrap();
        assert_eq!((nofile.soft(), nofile.hard()), (soft, hard));
    }

    /// On every host, whatever its own limits: limits as if the caller's
    /// nofile were 1024:4096 and every other one unlimited.
    #[test]
    fn a_hard_limit_above_the_callers_is_refused() {
        let own = |resource| match resource {
            Resource::RLIMIT_NOFILE => Ok((1024, 4096)),
            _ => Ok((libc::RLIM_INFINITY, libc::RLIM_INFINITY)),
        };
        let too_high = Ulimit::parse("nofile=4097").unwrap();
        assert_eq!(
            with_own_limits(&[too_high], own).unwrap_err(),
            "bad --ulimit nofile: the hard limit 4097 is above your own (4096)"
        );
        let at_own = with_own_limits(&[Ulimit::parse("nofile=100:4096").unwrap()], own).unwrap();
        let nofile = at_own
            .iter()
            .find(|l| l.typ() == PosixRlimitType::RlimitNofile)
            .unwrap();
        assert_eq!((nofile.soft(), nofile.hard()), (100, 4096));
        let unlimited = |_| Ok((libc::RLIM_INFINITY, libc::RLIM_INFINITY));
        let any = with_own_limits(&[Ulimit::parse("nofile=unlimited").unwrap()], unlimited).unwrap();
        assert_eq!(any.len(), LIMITS.len());
        let failing = |_| Err(io::Error::from_raw_os_error(libc::EPERM));
        assert_eq!(
            with_own_limits(&[], failing).unwrap_err(),
            "reading your as limit: Operation not permitted (os error 1)"
        );
    }
}
