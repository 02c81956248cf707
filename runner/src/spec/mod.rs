//! The container's one description, an OCI runtime spec, and what burrow
//! knows about it (pure: no clap, no file system, no system calls). Front
//! ends build it (cli/run.rs) or will read it; `validate` refuses what the
//! start sequence cannot apply; the parent reads its namespaces and id
//! maps, the child its root, mounts, hostname and process. What OCI cannot
//! say is an annotation under `run.burrow.` (annotations.rs); the defaults
//! a front end fills in are in defaults.rs.

pub mod annotations;
pub mod defaults;
pub mod validate;

use burrow_shared::ids::{IdKind, IdMapping};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

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

/// Whether the container mounts its cgroup2 tree at /sys/fs/cgroup (a
/// system container's, for an init that manages cgroups): then it needs a
/// cgroup2 leaf of its own, even on a hybrid host.
pub fn mounts_own_cgroup2(spec: &Spec) -> bool {
    spec.mounts().iter().flatten().any(|m| {
        m.destination() == std::path::Path::new("/sys/fs/cgroup")
            && matches!(m.typ().as_deref(), Some("cgroup2" | "cgroup"))
    })
}

/// Whether the container gets a terminal of its own (`process.terminal`).
pub fn has_terminal(spec: &Spec) -> bool {
    spec.process().as_ref().and_then(|p| p.terminal()) == Some(true)
}

/// A host name burrow sets: 1 to 64 letters, digits, '-' or '.'.
pub fn valid_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBuilder, LinuxIdMappingBuilder, LinuxNamespaceBuilder, SpecBuilder};

    #[test]
    fn accessors() {
        let mapping = |ns: u32, host: u32, count: u32| {
            LinuxIdMappingBuilder::default()
                .container_id(ns)
                .host_id(host)
                .size(count)
                .build()
                .unwrap()
        };
        let user = LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::User)
            .build()
            .unwrap();
        let linux = LinuxBuilder::default()
            .namespaces(vec![user])
            .uid_mappings(vec![mapping(0, 1000, 1), mapping(1, 100000, 65536)])
            .gid_mappings(vec![mapping(0, 1000, 1)])
            .build()
            .unwrap();
        let spec = SpecBuilder::default().linux(linux).build().unwrap();
        assert_eq!(
            id_map(&spec, IdKind::Uid),
            [
                IdMapping::new(0, 1000, 1).unwrap(),
                IdMapping::new(1, 100000, 65536).unwrap()
            ]
        );
        assert_eq!(id_map(&spec, IdKind::Gid), [IdMapping::new(0, 1000, 1).unwrap()]);
        assert!(has_namespace(&spec, LinuxNamespaceType::User));
        assert!(!has_namespace(&spec, LinuxNamespaceType::Network));
        let mut bare = spec.clone();
        bare.set_linux(None);
        assert!(id_map(&bare, IdKind::Uid).is_empty() && !has_namespace(&bare, LinuxNamespaceType::User));
    }

    #[test]
    fn hostnames() {
        assert!(valid_hostname("burrow") && valid_hostname("a-b.c") && valid_hostname(&"x".repeat(64)));
        assert!(!valid_hostname("") && !valid_hostname("a b") && !valid_hostname(&"x".repeat(65)));
    }
}
