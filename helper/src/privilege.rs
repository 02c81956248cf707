//! The helper's own privilege: proving it is setuid root in the initial user
//! namespace, dropping to the caller's uid and gid with only the capabilities
//! the request needs, and raising them only around the calls that need them
//! (a map file's open and write; a netlink socket's creation and requests;
//! a cgroup's creation, writes and chowns, with fsuid 0 for the creation).
//! Runs in burrow-helper, first as root, then as the caller. Untrusted:
//! nothing read here comes from the caller except its real ids.

use crate::error::Error;
use crate::identity::Caller;
use crate::sys;
use burrow_shared::ids::{IdMapping, parse_map_file};
use caps::{CapSet, Capability, CapsHashSet};

/// Fails closed unless the effective uid is 0 and the helper sees the
/// initial user namespace's identity map: a setuid bit ignored because of a
/// nosuid mount or no_new_privs, or a run inside a user namespace, all stop
/// here.
pub fn verify() -> Result<(), Error> {
    let identity = IdMapping::new(0, 0, u32::MAX);
    let uid_map = std::fs::read_to_string("/proc/self/uid_map").ok();
    let in_initial_userns = uid_map.is_some_and(|text| parse_map_file(&text) == identity.map(|m| vec![m]));
    if sys::getresuid_getresgid().0[1] != 0 || !in_initial_userns {
        return Err(Error::os(
            "not privileged",
            "must be installed setuid root and run in the initial user namespace",
        ));
    }
    Ok(())
}

fn failed(doing: &'static str) -> impl Fn(caps::errors::CapsError) -> Error {
    move |e| Error::os(doing, e)
}

/// Becomes the caller (real, effective and saved uid and gid; no
/// supplementary groups) keeping only `permitted` in the permitted set, with
/// empty effective, inheritable, ambient and bounding sets.
pub fn drop_to(caller: &Caller, permitted: &[Capability]) -> Result<(), Error> {
    let permitted: CapsHashSet = permitted.iter().copied().collect();
    let doing = "dropping privileges";
    // SECURITY: only removes: an empty bounding set and no ambient or
    // inheritable capabilities, so nothing can be regained (the helper never
    // execs anyway).
    caps::clear(None, CapSet::Bounding).map_err(failed(doing))?;
    caps::clear(None, CapSet::Ambient).map_err(failed(doing))?;
    caps::clear(None, CapSet::Inheritable).map_err(failed(doing))?;
    caps::securebits::set_keepcaps(true).map_err(failed(doing))?;
    // SECURITY: sets every uid and gid to the caller's real ones and drops all
    // supplementary groups: from here every /proc access and every DAC check
    // is the caller's own, and the kernel sees the map opener's euid as the
    // caller's (it must own the target namespace), as shadow's newuidmap does.
    sys::become_ids(caller.uid, caller.gid).map_err(|e| Error::os(doing, e))?;
    caps::clear(None, CapSet::Effective).map_err(failed(doing))?;
    // SECURITY: permitted shrinks to the operation's capabilities (idmap:
    // CAP_SETUID and CAP_SETGID, plus CAP_SETFCAP for a root caller mapping
    // host uid 0; veth: CAP_NET_ADMIN; cgroup: CAP_CHOWN, CAP_DAC_OVERRIDE,
    // CAP_SETUID); none is effective.
    caps::set(None, CapSet::Permitted, &permitted).map_err(failed(doing))?;
    caps::securebits::set_keepcaps(false).map_err(failed(doing))?;
    // SECURITY: the uid change reset dumpability to fs.suid_dumpable, which
    // may be 1: make sure the caller still cannot ptrace the helper.
    sys::set_undumpable().map_err(|e| Error::os(doing, e))?;

    let ids_now = sys::getresuid_getresgid();
    let effective = caps::read(None, CapSet::Effective).map_err(failed(doing))?;
    let now_permitted = caps::read(None, CapSet::Permitted).map_err(failed(doing))?;
    if ids_now != ([caller.uid; 3], [caller.gid; 3]) || !effective.is_empty() || now_permitted != permitted {
        return Err(Error::os(doing, "the credentials did not change as requested"));
    }
    Ok(())
}

/// Runs `f` with exactly `needed` effective, then empties the effective set
/// again, whatever `f` returned.
pub fn with_effective<T>(needed: &[Capability], f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    let needed: CapsHashSet = needed.iter().copied().collect();
    // SECURITY: raises only capabilities already in the permitted set chosen
    // by drop_to; every caller of with_effective opens or writes one map file
    // whose content idmap::check has approved, or opens the netlink socket or
    // creates and finishes (or deletes) the one veth pair veth::check approved,
    // or creates, writes or chowns, by name, files of the cgroups the rule
    // cgroup::run found grants (the deny-list checked first), or sets the fsuid.
    caps::set(None, CapSet::Effective, &needed).map_err(failed("raising capabilities"))?;
    let result = f();
    caps::clear(None, CapSet::Effective).map_err(failed("lowering capabilities"))?;
    result
}

/// Runs `f` with fsuid 0 and exactly CAP_DAC_OVERRIDE effective, then goes
/// back to the caller's fsuid: cgroupfs gives a new cgroup, and every file in
/// it, the creator's fsuid as owner, and the ceiling files must stay root's.
pub fn as_root_creator<T>(caller_uid: u32, f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    set_fsuid(0)?;
    let result = with_effective(&[Capability::CAP_DAC_OVERRIDE], f);
    set_fsuid(caller_uid)?;
    result
}

fn set_fsuid(uid: u32) -> Result<(), Error> {
    // SECURITY: CAP_SETUID is effective for this one call, which changes only
    // the uid the kernel uses for file access and creation (its fixup raises
    // or drops the permitted file capabilities with it; with_effective then
    // empties the effective set); the result is read back.
    with_effective(&[Capability::CAP_SETUID], || {
        sys::set_fsuid(uid).map_err(|e| Error::os("changing the file-system uid", e))
    })
}
