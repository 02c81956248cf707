//! The container's capabilities, as the spec's five sets say (the front end
//! fills them in: cli/security.rs). The child (root of its user namespace,
//! all capabilities in it until here) applies them. Untrusted input: the
//! capability names in the spec, checked against the caps crate's list.
//!
//! Defaults (spec/defaults.rs), as podman's: bounding = permitted = effective = CHOWN,
//! DAC_OVERRIDE, FOWNER, FSETID, KILL, NET_BIND_SERVICE, SETFCAP, SETGID,
//! SETPCAP, SETUID, SYS_CHROOT; inheritable and ambient empty. A non-empty
//! inheritable set would let a non-root process in the container gain file
//! capabilities on exec (CVE-2022-24769, fixed in moby and podman by
//! emptying it); root needs neither set, since exec as root takes its
//! capabilities from the bounding set.
//!
//! In the child, in this order: (1) drop everything outside the bounding set
//! from it, while CAP_SETPCAP is still held; then the command's ids
//! (identity.rs); (2) one capset(2) for
//! effective, permitted and inheritable; (3) clear the ambient set and raise
//! the spec's ambient capabilities last (they must be permitted and
//! inheritable by then). The writes are direct prctl/capset calls so that a
//! failure carries the kernel's errno; the caps crate names the capabilities.

use crate::sync::{Failure, Step};
use crate::sys::caps::capset;
use crate::sys::prctl;
use caps::Capability;
use caps::CapsHashSet;
use oci_spec::runtime::{Capabilities, LinuxCapabilities};
use std::io;
use std::str::FromStr;

/// A capability name as given: `CAP_NET_RAW`, `NET_RAW` or `net_raw`.
pub fn parse_name(text: &str) -> Result<Capability, String> {
    Capability::from_str(&caps::to_canonical(text)).map_err(|_| format!("unknown capability {text:?}"))
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

fn sets(capabilities: &LinuxCapabilities) -> Result<Sets, Failure> {
    Ok(Sets {
        bounding: from_oci(capabilities.bounding())?,
        effective: from_oci(capabilities.effective())?,
        permitted: from_oci(capabilities.permitted())?,
        inheritable: from_oci(capabilities.inheritable())?,
        ambient: from_oci(capabilities.ambient())?,
    })
}

/// Step (1): drops everything outside the spec's bounding set from it,
/// while CAP_SETPCAP is still effective (before the ids change).
pub fn apply_bounding(capabilities: &LinuxCapabilities) -> Result<(), Failure> {
    let sets = sets(capabilities)?;
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
    Ok(())
}

/// Steps (2) and (3): the effective, permitted and inheritable sets, then
/// the ambient one (after the ids change: identity.rs).
pub fn apply_sets(capabilities: &LinuxCapabilities) -> Result<(), Failure> {
    let sets = sets(capabilities)?;
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
    use crate::spec::defaults;
    use oci_spec::runtime::LinuxCapabilitiesBuilder;

    #[test]
    fn names_in_every_spelling() {
        assert_eq!(parse_name("CAP_NET_RAW"), Ok(Capability::CAP_NET_RAW));
        assert_eq!(parse_name("net_raw"), Ok(Capability::CAP_NET_RAW));
        assert_eq!(parse_name("NET_RAW"), Ok(Capability::CAP_NET_RAW));
        assert_eq!(parse_name("CAP_FOO"), Err("unknown capability \"CAP_FOO\"".to_owned()));
    }

    #[test]
    fn default_mask_is_podmans() {
        assert_eq!(mask(&defaults::CAPABILITIES.iter().copied().collect()), 0x8004_05fb);
    }

    #[test]
    fn spec_sets_round_trip() {
        let set: CapsHashSet = defaults::CAPABILITIES.iter().copied().collect();
        let oci: Capabilities = set
            .iter()
            .map(|c| serde_json::from_str(&format!("\"{c}\"")).unwrap())
            .collect();
        let spec = LinuxCapabilitiesBuilder::default()
            .bounding(oci.clone())
            .effective(oci)
            .inheritable(Capabilities::new())
            .build()
            .unwrap();
        assert_eq!(from_oci(spec.bounding()).unwrap(), set);
        assert_eq!(from_oci(spec.effective()).unwrap(), set);
        assert!(from_oci(spec.inheritable()).unwrap().is_empty());
        assert!(from_oci(&None).unwrap().is_empty());
    }
}
