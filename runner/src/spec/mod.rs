//! The container's one description: an OCI runtime spec built from the
//! command line (runner, unprivileged). The parent reads its namespaces and
//! id maps; the child reads its root, mounts, hostname and process.
//! What OCI cannot say is an annotation under `run.burrow.`.

use crate::child::exec::DEFAULT_PATH;
use crate::cli::RunArgs;
use crate::cli::limits;
use crate::cli::net::{self, Interface, NetMode};
use crate::error::{Context, Error, Result};
use burrow_shared::ids::{IdKind, IdMapping};
use oci_spec::runtime::{
    LinuxBuilder, LinuxIdMapping, LinuxIdMappingBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, Mount,
    MountBuilder, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Annotation saying the root is a fresh tmpfs (`root.path` is then unused).
pub const ROOT_TMPFS: &str = "run.burrow.root-tmpfs";

/// Host directories bound read-only into the default (tmpfs) root.
const HOST_ROOT_DIRS: &[&str] = &["/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc"];

/// Device nodes bound from the host: a user namespace cannot mknod them.
const HOST_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

/// The namespaces every container gets, in the order they are listed.
const NAMESPACES: &[LinuxNamespaceType] = &[
    LinuxNamespaceType::User,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Mount,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Cgroup,
];

/// Builds the spec for `burrow run`, with the id maps already chosen.
pub fn from_run_args(
    args: &RunArgs,
    uid_map: &[IdMapping],
    gid_map: &[IdMapping],
    (net_mode, interfaces): &(NetMode, Vec<Interface>),
) -> Result<Spec> {
    check_hostname(&args.hostname)?;
    args.check_command().map_err(Error::Usage)?;
    let command = args
        .command
        .iter()
        .map(|arg| {
            arg.to_str()
                .map(str::to_owned)
                .ok_or_else(|| Error::usage(format!("command argument {arg:?} is not valid UTF-8")))
        })
        .collect::<Result<Vec<_>>>()?;

    let mut annotations = HashMap::new();
    net::annotate(&mut annotations, interfaces, &args.dns);
    let root_path = match &args.rootfs {
        Some(dir) => rootfs_dir(dir)?,
        None => {
            annotations.insert(ROOT_TMPFS.to_owned(), "true".to_owned());
            PathBuf::from("/")
        }
    };

    let mut mounts = Vec::new();
    if args.rootfs.is_none() {
        for dir in HOST_ROOT_DIRS.iter().filter(|dir| Path::new(dir).exists()) {
            mounts.push(bind(Path::new(dir), Path::new(dir), true)?);
        }
    }
    mounts.extend(system_mounts(gid_map)?);
    if args.rootfs.is_none() {
        // The default root has no /tmp of its own; programs expect one.
        mounts.push(mount(
            "tmpfs",
            Path::new("/tmp"),
            "tmpfs",
            &["nosuid", "nodev", "mode=1777"],
        )?);
    }
    for b in &args.binds {
        let source = std::fs::canonicalize(&b.source).context(|| format!("bad --bind {}", b.source.display()))?;
        mounts.push(bind(&source, &b.destination, b.read_only)?);
    }
    for destination in &args.tmpfs {
        mounts.push(mount("tmpfs", destination, "tmpfs", &["nosuid", "nodev", "mode=1777"])?);
    }

    let process = ProcessBuilder::default()
        .args(command)
        .env(environment(&crate::cli::confinement::extra_env(args)?))
        .cwd(&args.cwd)
        .user(UserBuilder::default().uid(0u32).gid(0u32).build().map_err(invalid)?)
        .build()
        .map_err(invalid)?;
    let namespaces = NAMESPACES
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
        // Relative: below the cgroup delegated to the caller (cgroup.rs).
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
                .path(root_path)
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
        // Capabilities, no_new_privs, rlimits, seccomp, masked paths (security.rs).
        .and_then(|mut spec| crate::cli::confinement::configure(&mut spec, &args.security).map(|()| spec))
}

/// The id map of one kind, back from the spec.
pub fn id_map(spec: &Spec, kind: IdKind) -> Vec<IdMapping> {
    let linux = spec.linux().as_ref();
    let map = match kind {
        IdKind::Uid => linux.and_then(|l| l.uid_mappings().as_ref()),
        IdKind::Gid => linux.and_then(|l| l.gid_mappings().as_ref()),
    };
    map.into_iter()
        .flatten()
        .filter_map(|m| IdMapping::new(m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Whether the spec asks for a namespace of this type.
pub fn has_namespace(spec: &Spec, typ: LinuxNamespaceType) -> bool {
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
    namespaces.into_iter().flatten().any(|ns| ns.typ() == typ)
}

pub fn root_is_tmpfs(spec: &Spec) -> bool {
    spec.annotations().as_ref().is_some_and(|a| a.contains_key(ROOT_TMPFS))
}

fn rootfs_dir(dir: &Path) -> Result<PathBuf> {
    let path = std::fs::canonicalize(dir).context(|| format!("bad --rootfs {}", dir.display()))?;
    if !path.is_dir() {
        return Err(Error::usage(format!("bad --rootfs {}: not a directory", dir.display())));
    }
    Ok(path)
}

/// /proc, /dev (tmpfs with host device binds, devpts, shm) and /sys, as
/// runc's rootless defaults.
fn system_mounts(gid_map: &[IdMapping]) -> Result<Vec<Mount>> {
    let mut mounts = vec![
        mount("proc", Path::new("/proc"), "proc", &["nosuid", "nodev", "noexec"])?,
        mount(
            "tmpfs",
            Path::new("/dev"),
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        )?,
    ];
    let mut devpts = vec!["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"];
    // The tty group (gid 5) owns new ptys where it exists in the container.
    if gid_map.iter().any(|m| m.ns().contains(5)) {
        devpts.push("gid=5");
    }
    mounts.push(mount("devpts", Path::new("/dev/pts"), "devpts", &devpts)?);
    mounts.push(mount(
        "shm",
        Path::new("/dev/shm"),
        "tmpfs",
        &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    )?);
    for device in HOST_DEVICES.iter().filter(|d| Path::new(d).exists()) {
        mounts.push(bind(Path::new(device), Path::new(device), false)?);
    }
    mounts.push(mount(
        "sysfs",
        Path::new("/sys"),
        "sysfs",
        &["nosuid", "noexec", "nodev", "ro"],
    )?);
    Ok(mounts)
}

fn environment(extra: &[String]) -> Vec<String> {
    let mut env = vec![format!("PATH={DEFAULT_PATH}"), "HOME=/root".to_owned()];
    if let Ok(term) = std::env::var("TERM") {
        env.push(format!("TERM={term}"));
    }
    env.push("container=burrow".to_owned());
    // A later --env replaces an earlier value of the same key.
    for var in extra {
        let key = var.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(var.clone());
    }
    env
}

fn check_hostname(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if valid {
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

/// oci-spec's builders refused a value: the spec burrow built is invalid.
fn invalid(e: oci_spec::OciSpecError) -> Error {
    Error::config_from("invalid container spec", e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn run_args(args: &[&str]) -> RunArgs {
        let mut argv = vec!["burrow", "run"];
        argv.extend_from_slice(args);
        let Command::Run(run) = Cli::try_parse_from(argv).unwrap().command;
        run
    }

    #[test]
    fn default_root_is_tmpfs_with_host_dirs() {
        let map = [IdMapping::new(0, 1000, 1).unwrap()];
        let spec = from_run_args(&run_args(&["sh"]), &map, &map, &(NetMode::None, vec![])).unwrap();
        assert!(root_is_tmpfs(&spec));
        let mounts = spec.mounts().as_ref().unwrap();
        assert!(mounts.iter().any(|m| m.destination() == Path::new("/usr")));
        // gid 5 is not mapped: devpts must not ask for it.
        let devpts = mounts
            .iter()
            .find(|m| m.destination() == Path::new("/dev/pts"))
            .unwrap();
        assert!(!devpts.options().as_ref().unwrap().iter().any(|o| o == "gid=5"));
        assert_eq!(id_map(&spec, IdKind::Uid), map);
    }

    #[test]
    fn environment_is_exact_and_env_overrides() {
        let env = environment(&["A=1".to_owned(), "HOME=/home/x".to_owned(), "A=2".to_owned()]);
        let expected_term = std::env::var("TERM").ok().map(|t| format!("TERM={t}"));
        let mut expected = vec![format!("PATH={DEFAULT_PATH}")];
        expected.extend(expected_term);
        expected.extend([
            "container=burrow".to_owned(),
            "HOME=/home/x".to_owned(),
            "A=2".to_owned(),
        ]);
        assert_eq!(env, expected);
    }

    #[test]
    fn bad_inputs_are_usage_errors() {
        let map = [IdMapping::new(0, 1000, 1).unwrap()];
        let err = |args: &[&str]| {
            let none = (NetMode::None, vec![]);
            let error = from_run_args(&run_args(args), &map, &map, &none).unwrap_err();
            format!("{error:#}")
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
