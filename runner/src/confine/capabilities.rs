//! The container's capabilities. The runner (unprivileged) turns
//! `--cap-add`/`--cap-drop` into the spec's five sets; the child (root of its
//! user namespace, all capabilities in it until here) applies them. Untrusted
//! input: capability names on the command line, checked against the caps
//! crate's list.
//!
//! Defaults, as podman's: bounding = permitted = effective = CHOWN,
//! DAC_OVERRIDE, FOWNER, FSETID, KILL, NET_BIND_SERVICE, SETFCAP, SETGID,
//! SETPCAP, SETUID, SYS_CHROOT; inheritable and ambient empty. A non-empty
//! inheritable set would let a non-root process in the container gain file
//! capabilities on exec (CVE-2022-24769, fixed in moby and podman by
//! emptying it); root needs neither set, since exec as root takes its
//! capabilities from the bounding set.
//!
//! In the child, in this order: (1) drop everything outside the bounding set
//! from it, while CAP_SETPCAP is still held; (2) one capset(2) for
//! effective, permitted and inheritable; (3) clear the ambient set and raise
//! the spec's ambient capabilities last (they must be permitted and
//! inheritable by then). The writes are direct prctl/capset calls so that a
//! failure carries the kernel's errno; the caps crate names the capabilities.

use crate::sync::{Failure, Step};
use crate::sys::caps::capset;
use crate::sys::prctl;
use caps::Capability;
use caps::CapsHashSet;
use oci_spec::runtime::{Capabilities, LinuxCapabilities, LinuxCapabilitiesBuilder};
use std::io;
use std::str::FromStr;

/// podman's default set (containers.conf `default_capabilities`).
pub const DEFAULT: &[Capability] = &[
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FOWNER,
    Capability::CAP_FSETID,
    Capability::CAP_KILL,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETGID,
    Capability::CAP_SETPCAP,
    Capability::CAP_SETUID,
    Capability::CAP_SYS_CHROOT,
];

/// A capability name as given: `CAP_NET_RAW`, `NET_RAW` or `net_raw`.
pub fn parse_name(text: &str) -> Result<Capability, String> {
    Capability::from_str(&caps::to_canonical(text)).map_err(|_| format!("unknown capability {text:?}"))
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
        DEFAULT.iter().copied().collect()
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

/// The five sets, as caps-crate values, back from the spec.
struct Sets {
    bounding: CapsHashSet,
    effective: CapsHashSet,
    permitted: CapsHashSet,
    inheritable: CapsHashSet,
    ambient: CapsHashSet,
}

fn from_oci(set: &Option<Capabilities>) -> Result<CapsHashSet, Failure> {
    set.iter()
        .flatten()
        .map(|c| {
            parse_name(&c.to_string()).map_err(|e| Failure {
                step: Step::Capabilities,
                errno: libc::EINVAL,
                detail: e,
            })
        })
        .collect()
}

fn mask(set: &CapsHashSet) -> u64 {
    set.iter().fold(0, |mask, c| mask | c.bitmask())
}

fn failure(what: impl Into<String>, error: &io::Error) -> Failure {
    Failure::os(Step::Capabilities, what, error)
}

/// Applies the spec's sets to the calling (child) process; see the module doc.
pub fn apply(capabilities: &LinuxCapabilities) -> Result<(), Failure> {
    let sets = Sets {
        bounding: from_oci(capabilities.bounding())?,
        effective: from_oci(capabilities.effective())?,
        permitted: from_oci(capabilities.permitted())?,
        inheritable: from_oci(capabilities.inheritable())?,
        ambient: from_oci(capabilities.ambient())?,
    };
    // Every capability the kernel knows, whether or not the caps crate does.
    for index in 0..64 {
        let Ok(present) = prctl::bounding_set_has(index) else {
            break; // EINVAL: past the last capability of this kernel
        };
        if present && sets.bounding.iter().all(|c| c.index() != index) {
            prctl::drop_from_bounding_set(index)
                .map_err(|e| failure(format!("dropping capability {index} from the bounding set"), &e))?;
        }
    }
    let (effective, permitted, inheritable) = (mask(&sets.effective), mask(&sets.permitted), mask(&sets.inheritable));
    capset(effective, permitted, inheritable).map_err(|e| {
        let what = format!("capset(effective {effective:#x}, permitted {permitted:#x}, inheritable {inheritable:#x})");
        failure(what, &e)
    })?;
    prctl::clear_ambient_set().map_err(|e| failure("clearing the ambient set", &e))?;
    for cap in &sets.ambient {
        prctl::raise_ambient(cap.index()).map_err(|e| failure(format!("raising {cap} in the ambient set"), &e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_41() -> CapsHashSet {
        caps::all().into_iter().collect()
    }

    #[test]
    fn names_in_every_spelling() {
        assert_eq!(parse_name("CAP_NET_RAW"), Ok(Capability::CAP_NET_RAW));
        assert_eq!(parse_name("net_raw"), Ok(Capability::CAP_NET_RAW));
        assert_eq!(parse_name("NET_RAW"), Ok(Capability::CAP_NET_RAW));
        assert_eq!(parse_name("CAP_FOO"), Err("unknown capability \"CAP_FOO\"".to_owned()));
        assert_eq!(CapArg::parse("all"), Ok(CapArg::All));
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
        assert_eq!(set.len(), DEFAULT.len());
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
        let old_kernel: CapsHashSet = DEFAULT.iter().copied().collect();
        assert_eq!(
            resolve(&[one(Capability::CAP_BPF)], &[], &old_kernel).unwrap_err(),
            "CAP_BPF is not supported by this kernel"
        );
    }

    #[test]
    fn spec_sets_round_trip() {
        let set = resolve(&[], &[], &all_41()).unwrap();
        let spec = to_spec(&set).unwrap();
        assert_eq!(from_oci(spec.bounding()).unwrap(), set);
        assert_eq!(from_oci(spec.effective()).unwrap(), set);
        assert!(from_oci(spec.inheritable()).unwrap().is_empty());
        assert!(from_oci(spec.ambient()).unwrap().is_empty());
    }
}
