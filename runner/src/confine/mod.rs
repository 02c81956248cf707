//! The container's confinement, applied by the runner's child after
//! pivot_root and chdir, as the last steps before exec (child.rs's step 8).
//! Input: the spec, already checked by the runner.
//!
//! With no_new_privs (the default), as late as possible and seccomp last:
//! rlimits, the bounding set, the command's ids, the other capability sets
//! (rlimits.rs, capabilities.rs, identity.rs), no_new_privs, Landlock
//! (landlock.rs), seccomp (seccomp/).
//!
//! Without it, Landlock and seccomp need CAP_SYS_ADMIN in the container's
//! namespace, which the ids and capability steps may drop: as runc does,
//! they come first, and the filter must then allow the id and capability
//! calls (setresuid, setgroups, capset, prctl), as the default profile
//! does: rlimits, the bounding set, Landlock, seccomp, the ids, the other
//! capability sets.
//!
//! Either way the filter must allow what the child still does after it:
//! sendto (READY on the sync socket) and execve. The filter is compiled
//! (`compile_seccomp`, before CONFIGURE) and the exec prepared before any of
//! this, so nothing after the filter allocates on the way to a successful
//! exec.

pub mod capabilities;
pub mod identity;
pub mod landlock;
pub mod rlimits;
pub mod seccomp;

use crate::sync::{Failure, Step};
use oci_spec::runtime::{Process, Spec};
use seccomp::Program;
use std::io;

/// Makes the child non-dumpable until exec: its /proc entries become
/// root's and it cannot be ptraced, from inside the container or out.
/// Called once the parent no longer needs them (after CONFIGURE); execve
/// makes the container's program dumpable again.
pub fn set_non_dumpable() -> Result<(), Failure> {
    nix::sys::prctl::set_dumpable(false)
        .map_err(|e| Failure::os(Step::Dumpable, "PR_SET_DUMPABLE 0", &io::Error::from(e)))
}

/// The spec's sysctls, written while the child still holds every
/// capability in its namespaces and before /proc/sys becomes read-only (the
/// values land in the child's own namespaces, through any /proc).
pub fn apply_sysctls(spec: &Spec) -> Result<(), Failure> {
    let sysctls = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref());
    for (key, value) in sysctls.into_iter().flatten() {
        if key.contains("..") || key.contains('/') {
            let detail = format!("bad sysctl name {key:?}");
            return Err(Failure::os(
                Step::Sysctl,
                detail,
                &io::Error::from_raw_os_error(libc::EINVAL),
            ));
        }
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        std::fs::write(&path, value).map_err(|e| Failure::os(Step::Sysctl, format!("writing {path}"), &e))?;
    }
    Ok(())
}

fn set_no_new_privs() -> Result<(), Failure> {
    nix::sys::prctl::set_no_new_privs()
        .map_err(|e| Failure::os(Step::NoNewPrivileges, "PR_SET_NO_NEW_PRIVS", &io::Error::from(e)))
}

/// The spec's seccomp filter, if it has one. Pure computation: the child
/// does it while it waits for CONFIGURE; burrow's default profile, for the
/// default capabilities, was compiled ahead of time (seccomp/precompiled.rs).
/// The runner compiled a profile file before the clone, and the default
/// profile always compiles, so this fails only if memory runs out.
pub fn compile_seccomp(spec: &Spec) -> Result<Option<Program>, Failure> {
    let Some(profile) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    seccomp::program(profile).map(Some).map_err(|e| Failure {
        step: Step::Seccomp,
        errno: libc::EINVAL,
        detail: e,
    })
}

/// Applies `process`'s confinement to the calling process, with `filter` as
/// `compile_seccomp` returned it, and Landlock on `landlock`'s trees when
/// given (`landlock::trees` of the spec, when its `run.burrow.landlock`,
/// which the caller decoded, asks for it). It takes the process, not the
/// spec, so that a process joining a running container can pass its own.
/// `setgroups_allowed`: the container's gid map allows setgroups.
pub fn apply(
    process: Option<&Process>,
    landlock: Option<&[landlock::Tree]>,
    filter: Result<Option<Program>, Failure>,
    setgroups_allowed: bool,
) -> Result<(), Failure> {
    let no_new_privs = process.and_then(|p| p.no_new_privileges()).unwrap_or(false);
    let filter = filter?;
    let sets = process.and_then(|p| p.capabilities().as_ref());
    // The ids, then the sets that the id change would otherwise clear.
    let capabilities = || {
        if let Some(user) = process.map(|p| p.user()) {
            identity::apply(user, setgroups_allowed)?;
        }
        sets.map_or(Ok(()), capabilities::apply_sets)
    };

    if let Some(limits) = process.and_then(|p| p.rlimits().as_ref()) {
        rlimits::apply(limits)?;
    }
    if let Some(sets) = sets {
        capabilities::apply_bounding(sets)?;
    }
    if no_new_privs {
        capabilities()?;
        set_no_new_privs()?;
    }
    if let Some(trees) = landlock {
        landlock::apply(trees)?;
    }
    if let Some(filter) = &filter {
        seccomp::install(filter)?;
    }
    if !no_new_privs {
        capabilities()?;
    }
    Ok(())
}
