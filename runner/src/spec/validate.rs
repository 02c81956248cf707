//! What the start sequence can apply of a spec (pure). Every spec is
//! checked here before anything starts (start/parent.rs `run`): a field
//! burrow would ignore is refused with one line naming it, as is a value it
//! cannot use, and burrow's annotations are decoded strictly. `UNSUPPORTED`
//! is the one list of refused fields, for a `features` command to print.

use crate::error::{Error, Result};
use crate::spec::annotations::Extensions;
use crate::spec::defaults::NAMESPACES;
use crate::spec::valid_hostname;
use burrow_shared::ids::IdKind;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

/// A field of the OCI runtime spec that burrow does not apply.
pub struct Unsupported {
    /// The field, as config.json names it.
    #[allow(dead_code, reason = "for the `features` command, which is to print it")]
    pub field: &'static str,
    /// What burrow does instead, or why it refuses it.
    pub why: &'static str,
    /// Where `spec` sets it, if it does (the field with its index).
    set: fn(&Spec) -> Option<String>,
}

/// The options a bind mount may have: the child applies each as a mount
/// attribute or recursion (child/rootfs.rs `parse_options`, whose test
/// checks this list), or they are its defaults already.
pub const BIND_OPTIONS: &[&str] = &[
    "ro",
    "nosuid",
    "nodev",
    "noexec",
    "strictatime",
    "noatime",
    "rbind",
    "bind",
    "rw",
    "relatime",
    "private",
    "rprivate",
    "suid",
    "dev",
    "exec",
];

/// `Some(field)` when `set`.
fn when(set: bool, field: &str) -> Option<String> {
    set.then(|| field.to_owned())
}

pub const UNSUPPORTED: &[Unsupported] = &[
    Unsupported {
        field: "process.consoleSize",
        why: "a size is for the container's terminal, and process.terminal is not set",
        set: |s| {
            let process = s.process().as_ref()?;
            when(
                process.console_size().is_some() && process.terminal() != Some(true),
                "process.consoleSize",
            )
        },
    },
    Unsupported {
        field: "process.apparmorProfile",
        why: "burrow applies no AppArmor profile",
        set: |s| {
            when(
                s.process().as_ref()?.apparmor_profile().is_some(),
                "process.apparmorProfile",
            )
        },
    },
    Unsupported {
        field: "process.selinuxLabel",
        why: "burrow applies no SELinux label",
        set: |s| when(s.process().as_ref()?.selinux_label().is_some(), "process.selinuxLabel"),
    },
    Unsupported {
        field: "process.oomScoreAdj",
        why: "burrow does not set the OOM score",
        set: |s| when(s.process().as_ref()?.oom_score_adj().is_some(), "process.oomScoreAdj"),
    },
    Unsupported {
        field: "process.ioPriority",
        why: "burrow does not set the I/O priority",
        set: |s| when(s.process().as_ref()?.io_priority().is_some(), "process.ioPriority"),
    },
    Unsupported {
        field: "process.scheduler",
        why: "burrow does not set the scheduling policy",
        set: |s| when(s.process().as_ref()?.scheduler().is_some(), "process.scheduler"),
    },
    Unsupported {
        field: "process.execCPUAffinity",
        why: "burrow does not set the CPU affinity",
        set: |s| {
            when(
                s.process().as_ref()?.exec_cpu_affinity().is_some(),
                "process.execCPUAffinity",
            )
        },
    },
    Unsupported {
        field: "process.commandLine",
        why: "a Windows field: burrow runs process.args",
        set: |s| when(s.process().as_ref()?.command_line().is_some(), "process.commandLine"),
    },
    Unsupported {
        field: "hooks",
        why: "burrow runs no hooks",
        set: |s| when(s.hooks().is_some(), "hooks"),
    },
    Unsupported {
        field: "domainname",
        why: "burrow sets the host name only",
        set: |s| when(s.domainname().is_some(), "domainname"),
    },
    Unsupported {
        field: "linux.namespaces[].path",
        why: "burrow makes new namespaces and joins none",
        set: |s| {
            let namespaces = s.linux().as_ref()?.namespaces().as_ref()?;
            let i = namespaces.iter().position(|ns| ns.path().is_some())?;
            Some(format!("linux.namespaces[{i}].path"))
        },
    },
    Unsupported {
        field: "linux.namespaces[].type",
        why: "burrow makes user, pid, mount, uts, ipc, network and cgroup namespaces only",
        set: |s| {
            let namespaces = s.linux().as_ref()?.namespaces().as_ref()?;
            let i = namespaces.iter().position(|ns| !NAMESPACES.contains(&ns.typ()))?;
            Some(format!("linux.namespaces[{i}].type"))
        },
    },
    Unsupported {
        field: "linux.devices",
        why: "burrow binds the host's /dev/null, zero, full, random, urandom and tty; it makes no device nodes",
        set: |s| {
            when(
                s.linux().as_ref()?.devices().iter().flatten().next().is_some(),
                "linux.devices",
            )
        },
    },
    Unsupported {
        field: "linux.rootfsPropagation",
        why: "every mount of the container is private",
        set: |s| {
            when(
                s.linux().as_ref()?.rootfs_propagation().is_some(),
                "linux.rootfsPropagation",
            )
        },
    },
    Unsupported {
        field: "linux.mountLabel",
        why: "burrow applies no SELinux label",
        set: |s| when(s.linux().as_ref()?.mount_label().is_some(), "linux.mountLabel"),
    },
    Unsupported {
        field: "linux.intelRdt",
        why: "burrow does not use resctrl",
        set: |s| when(s.linux().as_ref()?.intel_rdt().is_some(), "linux.intelRdt"),
    },
    Unsupported {
        field: "linux.memoryPolicy",
        why: "burrow does not set a NUMA policy",
        set: |s| when(s.linux().as_ref()?.memory_policy().is_some(), "linux.memoryPolicy"),
    },
    Unsupported {
        field: "linux.personality",
        why: "burrow does not set the execution domain",
        set: |s| when(s.linux().as_ref()?.personality().is_some(), "linux.personality"),
    },
    Unsupported {
        field: "linux.timeOffsets",
        why: "burrow makes no time namespace",
        set: |s| when(s.linux().as_ref()?.time_offsets().is_some(), "linux.timeOffsets"),
    },
    Unsupported {
        field: "linux.netDevices",
        why: "burrow moves no host interface; a veth comes from run.burrow.net.N",
        set: |s| when(s.linux().as_ref()?.net_devices().is_some(), "linux.netDevices"),
    },
    Unsupported {
        field: "linux.seccomp.flags, listenerPath, listenerMetadata",
        why: "burrow installs the filter with no flags and no notification listener",
        set: |s| {
            let seccomp = s.linux().as_ref()?.seccomp().as_ref()?;
            when(seccomp.flags().iter().flatten().next().is_some(), "linux.seccomp.flags")
                .or_else(|| when(seccomp.listener_path().is_some(), "linux.seccomp.listenerPath"))
                .or_else(|| when(seccomp.listener_metadata().is_some(), "linux.seccomp.listenerMetadata"))
        },
    },
    Unsupported {
        field: "linux.resources.devices, blockIO, hugepageLimits, network, rdma",
        why: "burrow writes memory, swap, pids and cpu limits only",
        set: |s| {
            let r = s.linux().as_ref()?.resources().as_ref()?;
            when(r.devices().iter().flatten().next().is_some(), "linux.resources.devices")
                .or_else(|| when(r.block_io().is_some(), "linux.resources.blockIO"))
                .or_else(|| when(r.hugepage_limits().is_some(), "linux.resources.hugepageLimits"))
                .or_else(|| when(r.network().is_some(), "linux.resources.network"))
                .or_else(|| when(r.rdma().is_some(), "linux.resources.rdma"))
        },
    },
    Unsupported {
        field: "linux.resources.memory (but limit and swap)",
        why: "burrow writes the memory limit and memory plus swap (with a limit) only",
        set: |s| {
            let m = s.linux().as_ref()?.resources().as_ref()?.memory().as_ref()?;
            let field = |name: &str| format!("linux.resources.memory.{name}");
            when(m.swap().is_some() && m.limit().is_none(), &field("swap"))
                .or_else(|| when(m.reservation().is_some(), &field("reservation")))
                .or_else(|| when(m.kernel().is_some(), &field("kernel")))
                .or_else(|| when(m.kernel_tcp().is_some(), &field("kernelTCP")))
                .or_else(|| when(m.swappiness().is_some(), &field("swappiness")))
                .or_else(|| when(m.disable_oom_killer().is_some(), &field("disableOOMKiller")))
                .or_else(|| when(m.use_hierarchy().is_some(), &field("useHierarchy")))
                .or_else(|| when(m.check_before_update().is_some(), &field("checkBeforeUpdate")))
        },
    },
    Unsupported {
        field: "linux.resources.cpu (but quota with period, shares with unified cpu.weight)",
        why: "burrow writes a CFS quota with its period, and a weight as both cpu.shares (v1) and unified \
              cpu.weight (v2)",
        set: |s| {
            let r = s.linux().as_ref()?.resources().as_ref()?;
            let weight = r.unified().as_ref().is_some_and(|u| u.contains_key("cpu.weight"));
            let Some(cpu) = r.cpu() else {
                return when(weight, "linux.resources.unified.cpu.weight");
            };
            let field = |name: &str| format!("linux.resources.cpu.{name}");
            when(cpu.quota().is_some() != cpu.period().is_some(), &field("quota"))
                .or_else(|| when(cpu.shares().is_some() != weight, &field("shares")))
                .or_else(|| when(cpu.idle().is_some(), &field("idle")))
                .or_else(|| when(cpu.burst().is_some(), &field("burst")))
                .or_else(|| when(cpu.realtime_runtime().is_some(), &field("realtimeRuntime")))
                .or_else(|| when(cpu.realtime_period().is_some(), &field("realtimePeriod")))
                .or_else(|| when(cpu.cpus().is_some(), &field("cpus")))
                .or_else(|| when(cpu.mems().is_some(), &field("mems")))
        },
    },
    Unsupported {
        field: "linux.resources.unified (but cpu.weight)",
        why: "burrow writes cpu.weight only",
        set: |s| {
            let unified = s.linux().as_ref()?.resources().as_ref()?.unified().as_ref()?;
            let mut keys: Vec<&String> = unified.keys().filter(|k| *k != "cpu.weight").collect();
            keys.sort();
            Some(format!("linux.resources.unified.{}", keys.first()?))
        },
    },
    Unsupported {
        field: "mounts[].uidMappings, gidMappings",
        why: "burrow makes no id-mapped mounts",
        set: |s| {
            let mounts = s.mounts().as_ref()?;
            let i = mounts
                .iter()
                .position(|m| m.uid_mappings().is_some() || m.gid_mappings().is_some())?;
            Some(format!("mounts[{i}].uidMappings"))
        },
    },
    Unsupported {
        field: "solaris, windows, vm, zos",
        why: "burrow starts Linux containers",
        set: |s| {
            when(s.solaris().is_some(), "solaris")
                .or_else(|| when(s.windows().is_some(), "windows"))
                .or_else(|| when(s.vm().is_some(), "vm"))
                .or_else(|| when(s.zos().is_some(), "zos"))
        },
    },
];

/// Checks `spec` before anything starts, and returns burrow's annotations
/// decoded: the first field burrow cannot apply is a config error naming it.
/// `process.user`'s ids must be mapped in the container's user namespace,
/// where the child takes them (confine/identity.rs): the kernel would
/// refuse an unmapped one with a bare EINVAL.
fn check_user(spec: &Spec) -> Result<()> {
    let Some(user) = spec.process().as_ref().map(|p| p.user()) else {
        return Ok(());
    };
    let gids = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| ("process.user.additionalGids", *g));
    let ids = [("process.user.uid", user.uid())]
        .into_iter()
        .map(|(f, id)| (f, IdKind::Uid, id));
    let ids = ids.chain(
        [("process.user.gid", user.gid())]
            .into_iter()
            .chain(gids)
            .map(|(f, id)| (f, IdKind::Gid, id)),
    );
    for (field, kind, id) in ids {
        let map = crate::spec::id_map(spec, kind);
        if !map.is_empty() && !map.iter().any(|m| m.ns().contains(id)) {
            let maps = match kind {
                IdKind::Uid => "linux.uidMappings",
                IdKind::Gid => "linux.gidMappings",
            };
            return Err(Error::config(format!(
                "{field}: {id} is not mapped in the container's user namespace ({maps})"
            )));
        }
    }
    Ok(())
}

pub fn validate(spec: &Spec) -> Result<Extensions> {
    if spec.version().split('.').next() != Some("1") {
        return Err(Error::config(format!(
            "ociVersion {:?}: burrow supports version 1 of the OCI runtime spec",
            spec.version()
        )));
    }
    for rule in UNSUPPORTED {
        if let Some(place) = (rule.set)(spec) {
            return Err(Error::config(format!("{place} is not supported: {}", rule.why)));
        }
    }
    check_user(spec)?;
    if let Some(name) = spec.hostname().as_deref().filter(|name| !valid_hostname(name)) {
        return Err(Error::config(format!(
            "hostname {name:?}: use 1 to 64 letters, digits, '-' or '.'"
        )));
    }
    if spec.hostname().is_some() && !crate::spec::has_namespace(spec, LinuxNamespaceType::Uts) {
        return Err(Error::config(
            "hostname: burrow sets it in a uts namespace of the container's own, which linux.namespaces lacks",
        ));
    }
    for (i, mount) in spec.mounts().iter().flatten().enumerate() {
        let bind = mount.typ().as_deref() == Some("bind");
        let options = mount.options().iter().flatten();
        if let Some(unknown) = options.filter(|_| bind).find(|o| !BIND_OPTIONS.contains(&o.as_str())) {
            return Err(Error::config(format!(
                "mounts[{i}].options: {unknown:?} is not an option of a bind mount (one of {})",
                BIND_OPTIONS.join(", ")
            )));
        }
    }
    let linux = spec.linux().as_ref();
    let mut sysctl: Vec<&String> = linux
        .and_then(|l| l.sysctl().as_ref())
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .collect();
    sysctl.sort();
    if let Some(key) = sysctl
        .into_iter()
        .find(|key| key.is_empty() || key.contains("..") || key.contains('/'))
    {
        return Err(Error::config(format!("linux.sysctl: bad name {key:?}")));
    }
    if let Some(path) = linux.and_then(|l| l.cgroups_path().as_ref()) {
        let valid = path.to_str().is_some_and(burrow_shared::cgroup_policy::valid_name);
        if !valid {
            return Err(Error::config(format!(
                "linux.cgroupsPath {:?}: burrow takes the name of a cgroup below the one delegated to you \
                 (1 to 64 letters, digits, '_' or '-')",
                path.display().to_string()
            )));
        }
    }
    Extensions::decode(spec.annotations().as_ref()).map_err(|e| Error::config(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        HooksBuilder, LinuxBuilder, LinuxCpuBuilder, LinuxMemoryBuilder, LinuxNamespaceBuilder, LinuxResourcesBuilder,
        MountBuilder, ProcessBuilder, SpecBuilder, UserBuilder,
    };
    use std::collections::HashMap;

    /// A spec as `burrow run` writes one: the defaults of the builders,
    /// without the example namespaces, mounts and masks oci-spec adds.
    fn spec() -> Spec {
        let namespaces = NAMESPACES
            .iter()
            .map(|&typ| LinuxNamespaceBuilder::default().typ(typ).build().unwrap())
            .collect::<Vec<_>>();
        let linux = LinuxBuilder::default().namespaces(namespaces).build().unwrap();
        let process = ProcessBuilder::default()
            .args(vec!["sh".to_owned()])
            .user(UserBuilder::default().uid(0u32).gid(0u32).build().unwrap())
            .build()
            .unwrap();
        SpecBuilder::default()
            .version("1.2.0")
            .hostname("burrow")
            .process(process)
            .linux(linux)
            .build()
            .unwrap()
    }

    fn refusal(change: impl FnOnce(&mut Spec)) -> String {
        let mut spec = spec();
        change(&mut spec);
        validate(&spec).unwrap_err().to_string()
    }

    fn process(spec: &mut Spec, change: impl FnOnce(&mut oci_spec::runtime::Process)) {
        let mut process = spec.process().clone().unwrap();
        change(&mut process);
        spec.set_process(Some(process));
    }

    fn linux(spec: &mut Spec, change: impl FnOnce(&mut oci_spec::runtime::Linux)) {
        let mut linux = spec.linux().clone().unwrap();
        change(&mut linux);
        spec.set_linux(Some(linux));
    }

    #[test]
    fn burrows_own_spec_passes() {
        assert_eq!(validate(&spec()).unwrap(), Extensions::default());
    }

    #[test]
    fn the_users_ids_must_be_mapped() {
        let user = |uid: u32, gid: u32, gids: Vec<u32>| {
            let mut user = UserBuilder::default().uid(uid).gid(gid).build().unwrap();
            user.set_additional_gids(Some(gids));
            user
        };
        let maps = |s: &mut Spec| {
            linux(s, |l| {
                let map = |c: u32, h: u32, n: u32| {
                    oci_spec::runtime::LinuxIdMappingBuilder::default()
                        .container_id(c)
                        .host_id(h)
                        .size(n)
                        .build()
                        .unwrap()
                };
                l.set_uid_mappings(Some(vec![map(0, 1000, 1), map(1, 100000, 999)]));
                l.set_gid_mappings(Some(vec![map(0, 1000, 1), map(1, 100000, 9)]));
            })
        };
        let with = |u: oci_spec::runtime::User| {
            let mut s = spec();
            maps(&mut s);
            process(&mut s, |p| {
                p.set_user(u);
            });
            validate(&s).map(drop).map_err(|e| e.to_string())
        };
        assert_eq!(with(user(999, 9, vec![0, 5])), Ok(()));
        assert_eq!(
            with(user(1000, 0, vec![])),
            Err(
                "process.user.uid: 1000 is not mapped in the container's user namespace (linux.uidMappings)".to_owned()
            )
        );
        assert_eq!(
            with(user(0, 10, vec![])),
            Err("process.user.gid: 10 is not mapped in the container's user namespace (linux.gidMappings)".to_owned())
        );
        assert_eq!(
            with(user(0, 0, vec![3, 12])),
            Err(
                "process.user.additionalGids: 12 is not mapped in the container's user namespace (linux.gidMappings)"
                    .to_owned()
            )
        );
    }

    #[test]
    fn unapplied_fields_are_refused_by_name() {
        assert_eq!(
            refusal(|s| process(s, |p| {
                p.set_console_size(Some(oci_spec::runtime::Box::default()));
            })),
            "process.consoleSize is not supported: a size is for the container's terminal, and process.terminal is not set"
        );
        assert!(
            refusal(|s| process(s, |p| {
                p.set_apparmor_profile(Some("x".into()));
            }))
            .starts_with("process.apparmorProfile is not")
        );
        assert!(
            refusal(|s| process(s, |p| {
                p.set_oom_score_adj(Some(100));
            }))
            .starts_with("process.oomScoreAdj is not")
        );
        assert_eq!(
            refusal(|s| {
                s.set_hooks(Some(HooksBuilder::default().build().unwrap()));
            }),
            "hooks is not supported: burrow runs no hooks"
        );
        assert_eq!(
            refusal(|s| linux(s, |l| {
                let mut namespaces = l.namespaces().clone().unwrap();
                namespaces[5].set_path(Some("/proc/1/ns/net".into()));
                l.set_namespaces(Some(namespaces));
            })),
            "linux.namespaces[5].path is not supported: burrow makes new namespaces and joins none"
        );
        assert!(
            refusal(|s| linux(s, |l| {
                l.set_rootfs_propagation(Some("shared".into()));
            }))
            .starts_with("linux.rootfsPropagation is not")
        );
        assert!(
            refusal(|s| linux(s, |l| {
                l.set_devices(Some(vec![Default::default()]));
            }))
            .starts_with("linux.devices is not")
        );
        let swap_alone = LinuxMemoryBuilder::default().swap(1 << 20).build().unwrap();
        let resources = LinuxResourcesBuilder::default().memory(swap_alone).build().unwrap();
        assert!(
            refusal(|s| linux(s, |l| {
                l.set_resources(Some(resources));
            }))
            .starts_with("linux.resources.memory.swap is not")
        );
        let shares = LinuxCpuBuilder::default().shares(1024u64).build().unwrap();
        let resources = LinuxResourcesBuilder::default().cpu(shares).build().unwrap();
        assert!(
            refusal(|s| linux(s, |l| {
                l.set_resources(Some(resources));
            }))
            .starts_with("linux.resources.cpu.shares is not")
        );
        let unified = HashMap::from([("memory.high".to_owned(), "1M".to_owned())]);
        let resources = LinuxResourcesBuilder::default().unified(unified).build().unwrap();
        assert!(
            refusal(|s| linux(s, |l| {
                l.set_resources(Some(resources));
            }))
            .starts_with("linux.resources.unified.memory.high is not")
        );
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        assert_eq!(
            refusal(|s| {
                s.set_version("2.0.0".into());
            }),
            "ociVersion \"2.0.0\": burrow supports version 1 of the OCI runtime spec"
        );
        assert_eq!(
            refusal(|s| {
                s.set_hostname(Some("a b".into()));
            }),
            "hostname \"a b\": use 1 to 64 letters, digits, '-' or '.'"
        );
        assert_eq!(
            refusal(|s| linux(s, |l| {
                let mut namespaces = l.namespaces().clone().unwrap();
                namespaces.retain(|ns| ns.typ() != LinuxNamespaceType::Uts);
                l.set_namespaces(Some(namespaces));
            })),
            "hostname: burrow sets it in a uts namespace of the container's own, which linux.namespaces lacks"
        );
        let bind = MountBuilder::default()
            .destination("/x")
            .typ("bind")
            .source("/y")
            .options(vec!["rbind".to_owned(), "size=1k".to_owned()])
            .build()
            .unwrap();
        assert_eq!(
            refusal(|s| {
                s.set_mounts(Some(vec![bind]));
            }),
            "mounts[0].options: \"size=1k\" is not an option of a bind mount (one of ro, nosuid, nodev, noexec, \
             strictatime, noatime, rbind, bind, rw, relatime, private, rprivate, suid, dev, exec)"
        );
        assert_eq!(
            refusal(|s| linux(s, |l| {
                l.set_sysctl(Some(HashMap::from([("../x".into(), "1".into())])));
            })),
            "linux.sysctl: bad name \"../x\""
        );
        assert_eq!(
            refusal(|s| linux(s, |l| {
                l.set_cgroups_path(Some("/user.slice/x".into()));
            })),
            "linux.cgroupsPath \"/user.slice/x\": burrow takes the name of a cgroup below the one delegated to you \
             (1 to 64 letters, digits, '_' or '-')"
        );
        assert_eq!(
            refusal(|s| {
                s.set_annotations(Some(HashMap::from([("run.burrow.landlock".into(), "yes".into())])));
            }),
            "annotation run.burrow.landlock: expected \"true\" or \"false\", found \"yes\""
        );
    }
}
