//! The container's confinement in its spec (runner, unprivileged): what
//! `--cap-add`, `--cap-drop`, `--security-opt`, `--seccomp-profile`,
//! `--landlock`, `--ulimit`, `--preserve-fds` and `--env-file` ask for,
//! checked before anything starts and written into the OCI spec
//! (process.capabilities, noNewPrivileges, rlimits; linux.seccomp,
//! maskedPaths, readonlyPaths); `--landlock` and `--preserve-fds` are
//! `run.burrow.` annotations, which run.rs writes. Untrusted input: the
//! option values and the files they name (a seccomp profile, an env file).
//! The child applies it all (confine/).

use crate::cli::RunArgs;
use crate::cli::security::{self, CapArg, SecurityArgs, SecurityOpt};
use crate::confine::landlock;
use crate::confine::seccomp;
use crate::confine::seccomp::profile::{self, Context};
use crate::error::{Error, Result};
use crate::files;
use crate::spec::defaults::{self, MASKED, READ_ONLY};
use caps::{Capability, CapsHashSet};
use oci_spec::runtime::{LinuxNamespaceType, LinuxSeccomp, Spec};
use std::io;
use std::path::{Path, PathBuf};

/// `--seccomp-profile unconfined`.
const UNCONFINED: &str = "unconfined";

/// Fills in the spec's confinement from the command line; `system`: a
/// system container (cli/session.rs).
pub fn configure(spec: &mut Spec, args: &SecurityArgs, system: bool) -> Result<()> {
    let mut caps = security::resolve(&args.cap_add, &args.cap_drop, &security::supported()).map_err(Error::Usage)?;
    // A system container's init halts and reboots with reboot(2), which in
    // a pid namespace of its own only ends that namespace's init (the
    // kernel kills it with SIGINT or SIGHUP): lxc keeps CAP_SYS_BOOT too.
    let dropped = |cap| {
        args.cap_drop
            .iter()
            .any(|c| *c == CapArg::All || *c == CapArg::One(cap))
    };
    if system && !dropped(Capability::CAP_SYS_BOOT) {
        caps.insert(Capability::CAP_SYS_BOOT);
    }
    let mut no_new_privileges = true;
    let mut unmask: Vec<PathBuf> = Vec::new();
    let mut unmask_all = false;
    for opt in &args.security_opt {
        match opt {
            SecurityOpt::NoNewPrivileges(value) => no_new_privileges = *value,
            SecurityOpt::Unmask(None) => unmask_all = true,
            SecurityOpt::Unmask(Some(paths)) => unmask.extend(paths.iter().cloned()),
        }
    }
    let (masked, read_only) = default_paths(&unmask, unmask_all)?;
    let rlimits = security::for_container(&args.ulimit).map_err(Error::Usage)?;
    let seccomp = seccomp_section(args.seccomp_profile.as_deref(), &caps)?;
    security::check_preserved(args.preserve_fds).map_err(Error::Usage)?;
    if args.landlock {
        // The kernel cannot give what the spec asks for.
        landlock::check_available().map_err(|why| Error::config(format!("--landlock: {why}")))?;
    }

    let invalid = |e: String| Error::config_from("invalid container spec", e);
    let mut process = spec.process().clone().unwrap_or_default();
    let mut sets = security::to_spec(&caps).map_err(invalid)?;
    if process.user().uid() != 0 {
        // As podman and docker: a user other than root gets no capabilities
        // (the bounding set still limits what a file capability can give).
        let none = || Some(Default::default());
        sets.set_effective(none());
        sets.set_permitted(none());
        sets.set_inheritable(none());
        sets.set_ambient(none());
    }
    process.set_capabilities(Some(sets));
    process.set_no_new_privileges(Some(no_new_privileges));
    process.set_rlimits(Some(rlimits));
    spec.set_process(Some(process));
    let mut linux = spec.linux().clone().unwrap_or_default();
    linux.set_seccomp(seccomp);
    linux.set_masked_paths(Some(masked));
    linux.set_readonly_paths(Some(read_only));
    if crate::spec::has_namespace(spec, LinuxNamespaceType::Network) {
        // Without CAP_NET_RAW, ping needs ICMP datagram sockets, which a new
        // network namespace allows to no group: allow them to container
        // root's, as podman does.
        let mut sysctl = linux.sysctl().clone().unwrap_or_default();
        sysctl.insert("net.ipv4.ping_group_range".to_owned(), "0 0".to_owned());
        linux.set_sysctl(Some(sysctl));
    }
    spec.set_linux(Some(linux));
    Ok(())
}

/// The default masked and read-only paths without the unmasked ones.
fn default_paths(unmask: &[PathBuf], all: bool) -> Result<(Vec<String>, Vec<String>)> {
    let known = |p: &Path| MASKED.iter().chain(READ_ONLY).any(|m| Path::new(m) == p);
    if let Some(unknown) = unmask.iter().find(|p| !known(p)) {
        return Err(Error::usage(format!(
            "bad --security-opt unmask={}: not a masked or read-only path (see burrow --help and the README)",
            unknown.display()
        )));
    }
    let keep = |list: &[&str]| -> Vec<String> {
        list.iter()
            .filter(|p| !all && !unmask.iter().any(|u| u == Path::new(p)))
            .map(|p| p.to_string())
            .collect()
    };
    Ok((keep(MASKED), keep(READ_ONLY)))
}

/// The spec's seccomp section: burrow's default, a profile file, or none.
fn seccomp_section(profile: Option<&Path>, caps: &CapsHashSet) -> Result<Option<LinuxSeccomp>> {
    // The default profile for the default capabilities: stored, as the
    // profile resolves for them (seccomp/precompiled.rs).
    if profile.is_none() && *caps == defaults::CAPABILITIES.iter().copied().collect() {
        if let Some(section) = seccomp::default_section() {
            return Ok(Some(section));
        }
    }
    let (text, source) = match profile {
        Some(path) if path == Path::new(UNCONFINED) => return Ok(None),
        Some(path) => {
            let text = read_option_file("--seccomp-profile", path)?;
            (text, format!("bad --seccomp-profile {}", path.display()))
        }
        None => (
            profile::DEFAULT_PROFILE.to_owned(),
            "the default seccomp profile".to_owned(),
        ),
    };
    let context = Context {
        capabilities: caps,
        kernel: profile::kernel_version(),
    };
    let seccomp = profile::parse(&text, &context).map_err(|e| Error::config_from(&source, e))?;
    // Compile a profile file once here, so that a filter the kernel would
    // refuse as too large is reported before anything starts. The default
    // profile always compiles to a small filter, whatever the capabilities
    // (seccomp's unit tests), so only the child compiles it, while the
    // helper runs.
    if profile.is_some() {
        seccomp::compile(&seccomp).map_err(|e| Error::config_from(source, e))?;
    }
    Ok(Some(seccomp))
}

/// The environment after the defaults: each `--env-file` in order, then
/// each `--env` (a later value of a key replaces an earlier one).
pub fn extra_env(args: &RunArgs) -> Result<Vec<String>> {
    let mut env = Vec::new();
    for path in &args.security.env_file {
        let text = read_option_file("--env-file", path)?;
        env.extend(
            parse_env_file(&text).map_err(|e| Error::config_from(format!("bad --env-file {}", path.display()), e))?,
        );
    }
    env.extend(args.env.iter().cloned());
    Ok(env)
}

/// The text of the file `path` that `option` names, at most
/// `files::USER_FILE_MAX` bytes.
fn read_option_file(option: &str, path: &Path) -> Result<String> {
    files::read_capped(path, files::USER_FILE_MAX).map_err(|e| {
        let what = format!("reading {option} {}", path.display());
        match e.kind() {
            // The file is there but is not one burrow takes.
            io::ErrorKind::FileTooLarge | io::ErrorKind::InvalidData => Error::config_from(what, e),
            _ => Error::os(what, e),
        }
    })
}

/// `KEY=VALUE` lines; blank lines and lines starting with `#` are skipped.
/// The value is taken as it is (no quotes, no expansion).
fn parse_env_file(text: &str) -> std::result::Result<Vec<String>, String> {
    let mut env = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((key, _)) if !key.is_empty() && !key.contains(char::is_whitespace) && !line.contains('\0') => {
                env.push(line.to_owned())
            }
            _ => return Err(format!("line {}: expected KEY=VALUE", index + 1)),
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files() {
        assert_eq!(
            parse_env_file("A=1\n\n# comment\nB=x y\n  # indented\nC=\n").unwrap(),
            ["A=1", "B=x y", "C="]
        );
        assert_eq!(
            parse_env_file("A=1\nnonsense\n").unwrap_err(),
            "line 2: expected KEY=VALUE"
        );
        assert_eq!(parse_env_file("=1\n").unwrap_err(), "line 1: expected KEY=VALUE");
    }

    #[test]
    fn unmasking() {
        let (masked, read_only) = default_paths(&["/proc/keys".into(), "/proc/sys".into()], false).unwrap();
        assert!(!masked.contains(&"/proc/keys".to_owned()) && masked.contains(&"/proc/kcore".to_owned()));
        assert!(!read_only.contains(&"/proc/sys".to_owned()) && read_only.contains(&"/proc/fs".to_owned()));
        let (masked, read_only) = default_paths(&[], true).unwrap();
        assert!(masked.is_empty() && read_only.is_empty());
        assert_eq!(
            default_paths(&["/etc".into()], false).unwrap_err().to_string(),
            "bad --security-opt unmask=/etc: not a masked or read-only path (see burrow --help and the README)"
        );
    }
}
