//! `burrow run` (runner, unprivileged): the command line turned into the
//! container's OCI spec, then the start sequence. This is where the front
//! end looks at the host for the spec (the rootfs and bind sources that
//! exist, the host's devices and directories for the default root, $TERM,
//! the caller's limits, env files, Landlock): a spec from elsewhere arrives
//! resolved and is not probed this way.

use crate::cli::limits;
use crate::cli::net::NetMode;
use crate::cli::{MapArgs, RunArgs};
use crate::error::{Context, Error, Result};
use crate::spec::annotations::{Extensions, Interface};
use crate::spec::defaults::{self, SystemMount};
use crate::start::idmap::{self, Caller};
use crate::start::parent::{self, Lifetime};
use burrow_shared::ids::{IdKind, IdMapping, check_map};
use oci_spec::runtime::{
    LinuxBuilder, LinuxIdMapping, LinuxIdMappingBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, Mount,
    MountBuilder, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Runs the container `args` describe: the id maps (the caller's
/// subordinate ids unless given), the spec, the start sequence.
pub fn run(args: &RunArgs, network: (NetMode, Vec<Interface>)) -> Result<i32> {
    let caller = Caller::current();
    let (maps, without_subids) = id_maps(&caller, &args.maps)?;
    let spec = to_spec(args, &maps[0], &maps[1], &network)?;
    if !without_subids.is_empty() {
        log::warn!("{}", idmap::no_subordinate_ids_notice(&caller, &without_subids));
    }
    let command = spec
        .process()
        .as_ref()
        .and_then(|p| p.args().clone())
        .unwrap_or_default();
    let foreground = args.session.foreground(&command, args.rootfs.as_deref());
    match args.detach {
        true => crate::cli::detach::run(args, &spec, &caller, foreground),
        false => parent::run(&spec, &caller, Lifetime::Foreground(foreground)),
    }
}

/// The uid and gid maps: the given ones (`--uidmap`, `--gidmap`), or the
/// caller's defaults; and the kinds for which the caller has no
/// subordinate ids, for the notice.
pub fn id_maps(caller: &Caller, given: &MapArgs) -> Result<([Vec<IdMapping>; 2], Vec<IdKind>)> {
    let mut without_subids = Vec::new();
    let mut maps: [Vec<IdMapping>; 2] = Default::default();
    let (uidmap, gidmap) = (&given.uidmap, &given.gidmap);
    for (i, (given, kind)) in [(uidmap, IdKind::Uid), (gidmap, IdKind::Gid)].into_iter().enumerate() {
        let map = if given.is_empty() {
            let (map, has_subids) = idmap::default_map(kind, caller)?;
            if !has_subids {
                without_subids.push(kind);
            }
            map
        } else {
            given.to_vec()
        };
        check_map(&map).map_err(|e| Error::usage(format!("bad --{kind}map: {e}")))?;
        maps[i] = map;
    }
    Ok((maps, without_subids))
}

/// What the host has, as far as the spec for `burrow run` depends on it.
struct Host {
    /// Of `defaults::HOST_ROOT_DIRS`, the directories that exist.
    root_dirs: Vec<&'static str>,
    /// Of `defaults::HOST_DEVICES`, the devices that exist.
    devices: Vec<&'static str>,
    /// The caller's $TERM.
    term: Option<String>,
}

impl Host {
    /// Looks at the host; at its root directories only for the default
    /// root (`default_root`).
    fn probe(default_root: bool) -> Host {
        let existing = |list: &[&'static str]| list.iter().copied().filter(|p| Path::new(p).exists()).collect();
        Host {
            root_dirs: if default_root {
                existing(defaults::HOST_ROOT_DIRS)
            } else {
                Vec::new()
            },
            devices: existing(defaults::HOST_DEVICES),
            term: std::env::var("TERM").ok(),
        }
    }
}

/// What `burrow run` resolved on the host, in the order it reports errors.
struct Resolved {
    command: Vec<String>,
    /// The rootfs directory, or None for the default (tmpfs) root.
    root_path: Option<PathBuf>,
    /// The `--bind` mounts, their sources canonical.
    binds: Vec<Mount>,
    /// `--env-file`s and `--env`s.
    extra_env: Vec<String>,
}

/// Builds the spec for `burrow run`, with the id maps already chosen.
pub fn to_spec(
    args: &RunArgs,
    uid_map: &[IdMapping],
    gid_map: &[IdMapping],
    network: &(NetMode, Vec<Interface>),
) -> Result<Spec> {
    check_hostname(&args.hostname)?;
    let command = args.command.words("run").map_err(Error::Usage)?;
    let root_path = match &args.rootfs {
        Some(dir) => Some(rootfs_dir(dir)?),
        None => None,
    };
    if let Some(notice) = root_path.as_deref().and_then(|root| unmapped_owner(root, uid_map)) {
        log::warn!("{notice}");
    }
    let mut binds = Vec::new();
    for b in &args.binds {
        let source = std::fs::canonicalize(&b.source).context(|| format!("bad --bind {}", b.source.display()))?;
        binds.push(bind(&source, &b.destination, b.read_only)?);
    }
    let resolved = Resolved {
        command,
        root_path,
        binds,
        extra_env: crate::cli::confinement::extra_env(args)?,
    };
    let host = Host::probe(resolved.root_path.is_none());
    build(args, resolved, &host, (uid_map, gid_map), network)
}

/// The spec from the arguments and what was found on the host; then its
/// confinement (confinement.rs, which probes the host for it).
fn build(
    args: &RunArgs,
    resolved: Resolved,
    host: &Host,
    (uid_map, gid_map): (&[IdMapping], &[IdMapping]),
    (net_mode, interfaces): &(NetMode, Vec<Interface>),
) -> Result<Spec> {
    let Resolved {
        command,
        root_path,
        binds,
        extra_env,
    } = resolved;
    let system = args.session.is_boot(&command);
    let extensions = Extensions {
        root_tmpfs: root_path.is_none(),
        interfaces: interfaces.clone(),
        dns: args.dns.clone(),
        landlock: args.security.landlock,
        preserve_fds: args.security.preserve_fds,
        init: args.session.init,
    };
    let mut annotations = HashMap::new();
    extensions.encode(&mut annotations);

    let mut mounts = Vec::new();
    if root_path.is_none() {
        for dir in &host.root_dirs {
            mounts.push(bind(Path::new(dir), Path::new(dir), true)?);
        }
    }
    mounts.extend(system_mounts(gid_map, &host.devices)?);
    let own_tmpfs = |dir: &str| args.tmpfs.iter().any(|t| t.destination == Path::new(dir));
    if system {
        // As lxc-start gives a system container, and systemd expects: its
        // runtime state on fresh tmpfs, never in the image.
        for (dir, options) in defaults::SYSTEM_TMPFS {
            if !own_tmpfs(dir) {
                mounts.push(mount("tmpfs", Path::new(dir), "tmpfs", options)?);
            }
        }
        // The container's own cgroup2 tree, through its cgroup namespace,
        // for an init that manages cgroups (systemd).
        let (source, destination, typ, options) = defaults::SYSTEM_CGROUP;
        mounts.push(mount(source, Path::new(destination), typ, options)?);
    } else if root_path.is_none() {
        // The default root has no /tmp of its own; programs expect one.
        mounts.push(mount("tmpfs", Path::new("/tmp"), "tmpfs", defaults::TMPFS_OPTIONS)?);
    }
    mounts.extend(binds);
    for tmpfs in &args.tmpfs {
        let options: Vec<&str> = tmpfs.options.iter().map(String::as_str).collect();
        mounts.push(mount("tmpfs", &tmpfs.destination, "tmpfs", &options)?);
    }

    let process = ProcessBuilder::default()
        .terminal(args.session.tty)
        .args(command)
        .env(defaults::environment(host.term.as_deref(), &extra_env))
        .cwd(&args.cwd)
        .user({
            let (uid, gid) = args.user.unwrap_or((0, 0));
            UserBuilder::default().uid(uid).gid(gid).build().map_err(invalid)?
        })
        .build()
        .map_err(invalid)?;
    let namespaces = defaults::NAMESPACES
        .iter()
        // --net host: no network namespace of its own.
        .filter(|&&typ| !(typ == LinuxNamespaceType::Network && *net_mode == NetMode::Host))
        .map(|&typ| LinuxNamespaceBuilder::default().typ(typ).build().map_err(invalid))
        .collect::<Result<Vec<_>>>()?;
    let mut linux = LinuxBuilder::default();
    if let Some(resources) = limits::from_args(&args.resources)? {
        linux = linux.resources(resources);
    }
    if let Some(parent) = &args.resources.cgroup_parent {
        // Relative: below the cgroup delegated to the caller (start/cgroup.rs).
        linux = linux.cgroups_path(parent);
    }
    let linux = linux
        .namespaces(namespaces)
        .uid_mappings(oci_map(uid_map)?)
        .gid_mappings(oci_map(gid_map)?)
        .build()
        .map_err(invalid)?;
    SpecBuilder::default()
        .version("1.2.0")
        .root(
            RootBuilder::default()
                .path(root_path.unwrap_or_else(|| PathBuf::from("/")))
                .readonly(args.read_only)
                .build()
                .map_err(invalid)?,
        )
        .hostname(args.hostname.clone())
        .mounts(mounts)
        .process(process)
        .linux(linux)
        .annotations(annotations)
        .build()
        .map_err(invalid)
        // Capabilities, no_new_privs, rlimits, seccomp, masked paths (confinement.rs).
        .and_then(|mut spec| crate::cli::confinement::configure(&mut spec, &args.security, system).map(|()| spec))
}

fn rootfs_dir(dir: &Path) -> Result<PathBuf> {
    let path = std::fs::canonicalize(dir).context(|| format!("bad --rootfs {}", dir.display()))?;
    if !path.is_dir() {
        return Err(Error::usage(format!("bad --rootfs {}: not a directory", dir.display())));
    }
    Ok(path)
}

/// The notice for a rootfs whose root directory is owned by a uid the
/// container does not map: inside, all of it would show as nobody's and be
/// read-only even for the container's root.
fn unmapped_owner(root: &Path, uid_map: &[IdMapping]) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(root).ok()?.uid();
    if uid_map.iter().any(|m| m.host().contains(owner)) {
        return None;
    }
    Some(format!(
        "--rootfs {}: its root is owned by uid {owner}, which the container does not map, so inside it \
         shows as nobody's and is read-only; unpack the image with `burrow unshare tar -xpf IMAGE.tar -C DIR` \
         (or chown it to yourself)",
        root.display()
    ))
}

/// /proc, /dev (tmpfs with the host's `devices` bound, devpts, shm) and /sys.
fn system_mounts(gid_map: &[IdMapping], devices: &[&str]) -> Result<Vec<Mount>> {
    let system = |(source, destination, typ, options): &SystemMount, extra: Option<&str>| {
        let mut options = options.to_vec();
        options.extend(extra);
        mount(source, Path::new(destination), typ, &options)
    };
    let (tty_gid, tty_option) = defaults::DEVPTS_TTY_GROUP;
    let tty_group = gid_map.iter().any(|m| m.ns().contains(tty_gid));
    let mut mounts = Vec::new();
    for entry in defaults::SYSTEM_MOUNTS {
        let extra = (entry.2 == "devpts" && tty_group).then_some(tty_option);
        mounts.push(system(entry, extra)?);
    }
    for device in devices {
        mounts.push(bind(Path::new(device), Path::new(device), false)?);
    }
    mounts.push(system(&defaults::SYSFS, None)?);
    Ok(mounts)
}

fn check_hostname(name: &str) -> Result<()> {
    if crate::spec::valid_hostname(name) {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "bad --hostname {name:?}: use 1 to 64 letters, digits, '-' or '.'"
        )))
    }
}

fn bind(source: &Path, destination: &Path, read_only: bool) -> Result<Mount> {
    let options: &[&str] = if read_only { &["rbind", "ro"] } else { &["rbind"] };
    mount_with_source(source, destination, "bind", options)
}

fn mount(source: &str, destination: &Path, typ: &str, options: &[&str]) -> Result<Mount> {
    mount_with_source(Path::new(source), destination, typ, options)
}

fn mount_with_source(source: &Path, destination: &Path, typ: &str, options: &[&str]) -> Result<Mount> {
    MountBuilder::default()
        .destination(destination)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(invalid)
}

fn oci_map(map: &[IdMapping]) -> Result<Vec<LinuxIdMapping>> {
    map.iter()
        .map(|m| {
            LinuxIdMappingBuilder::default()
                .container_id(m.ns().start())
                .host_id(m.host().start())
                .size(m.count())
                .build()
                .map_err(invalid)
        })
        .collect()
}

fn invalid(e: oci_spec::OciSpecError) -> Error {
    Error::config_from("invalid container spec", e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use crate::spec::{self, validate};
    use clap::Parser;

    fn run_args(args: &[&str]) -> RunArgs {
        let mut argv = vec!["burrow", "run"];
        argv.extend_from_slice(args);
        let Command::Run(run) = Cli::try_parse_from(argv).unwrap().command else {
            panic!("not run")
        };
        *run
    }

    /// A host with every default directory and device, and no $TERM.
    fn full_host() -> Host {
        Host {
            root_dirs: defaults::HOST_ROOT_DIRS.to_vec(),
            devices: defaults::HOST_DEVICES.to_vec(),
            term: None,
        }
    }

    fn built(args: &[&str], gid_map: &[IdMapping]) -> Spec {
        let args = run_args(args);
        let map = [IdMapping::new(0, 1000, 1).unwrap()];
        let resolved = Resolved {
            command: vec!["sh".to_owned()],
            root_path: None,
            binds: vec![],
            extra_env: args.env.clone(),
        };
        let none = (NetMode::None, vec![]);
        build(&args, resolved, &full_host(), (&map, gid_map), &none).unwrap()
    }

    #[test]
    fn default_root_is_tmpfs_with_host_dirs() {
        let map = [IdMapping::new(0, 1000, 1).unwrap()];
        let spec = built(&["sh"], &map);
        assert!(validate::validate(&spec).unwrap().root_tmpfs);
        let mounts = spec.mounts().as_ref().unwrap();
        assert!(mounts.iter().any(|m| m.destination() == Path::new("/usr")));
        // gid 5 is not mapped: devpts must not ask for it.
        let devpts = |spec: &Spec| {
            let mounts = spec.mounts().clone().unwrap();
            let devpts = mounts.into_iter().find(|m| m.destination() == Path::new("/dev/pts"));
            devpts.unwrap().options().clone().unwrap()
        };
        assert!(!devpts(&spec).iter().any(|o| o == "gid=5"));
        assert_eq!(spec::id_map(&spec, IdKind::Uid), map);
        let mapped = [
            IdMapping::new(0, 1000, 1).unwrap(),
            IdMapping::new(1, 100000, 65536).unwrap(),
        ];
        assert!(devpts(&built(&["sh"], &mapped)).iter().any(|o| o == "gid=5"));
    }

    #[test]
    fn the_default_spec_passes_validation() {
        let map = [IdMapping::new(0, 1000, 1).unwrap()];
        let specs = [
            built(&["sh"], &map),
            built(&["--preserve-fds", "0", "--dns", "10.0.0.1", "--read-only", "sh"], &map),
            built(
                &[
                    "--memory",
                    "32M",
                    "--memory-swap",
                    "64M",
                    "--cpus",
                    "0.5",
                    "--cpu-weight",
                    "200",
                    "sh",
                ],
                &map,
            ),
            built(
                &["--pids-limit", "20", "--cgroup-parent", "web", "--cap-add", "ALL", "sh"],
                &map,
            ),
            built(
                &[
                    "--security-opt",
                    "no-new-privileges=false",
                    "--seccomp-profile",
                    "unconfined",
                    "sh",
                ],
                &map,
            ),
        ];
        for spec in &specs {
            if let Err(e) = validate::validate(spec) {
                panic!("{e}");
            }
        }
    }

    #[test]
    fn bad_inputs_are_usage_errors() {
        let map = [IdMapping::new(0, 1000, 1).unwrap()];
        let err = |args: &[&str]| {
            let none = (NetMode::None, vec![]);
            // `{:#}`: the error with its sources, as burrow prints it.
            format!("{:#}", to_spec(&run_args(args), &map, &map, &none).unwrap_err())
        };
        assert_eq!(
            err(&["--hostname", "a b", "sh"]),
            "bad --hostname \"a b\": use 1 to 64 letters, digits, '-' or '.'"
        );
        assert_eq!(
            err(&["--rootfs", "/nonexistent/x", "sh"]),
            "bad --rootfs /nonexistent/x: No such file or directory (os error 2)"
        );
        assert_eq!(
            err(&["--bind", "/nonexistent/y:/y", "sh"]),
            "bad --bind /nonexistent/y: No such file or directory (os error 2)"
        );
    }
}
