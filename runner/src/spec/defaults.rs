//! The defaults of a container, in one place (pure): what `burrow run`
//! writes into a spec when no option says otherwise, and what a later
//! `spec` command prints. Nothing here looks at the host: the front end
//! keeps the entries that exist on it.

use caps::Capability;
use oci_spec::runtime::LinuxNamespaceType;

/// Host directories bound read-only into the default (tmpfs) root.
pub const HOST_ROOT_DIRS: &[&str] = &["/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc"];

/// Device nodes bound from the host: a user namespace cannot mknod them.
pub const HOST_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

/// The namespaces every container gets, in the order they are listed.
pub const NAMESPACES: &[LinuxNamespaceType] = &[
    LinuxNamespaceType::User,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Mount,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Cgroup,
];

/// A mount of a kernel filesystem or tmpfs: source, destination, type, options.
pub type SystemMount = (&'static str, &'static str, &'static str, &'static [&'static str]);

/// /proc and /dev, before the host's devices are bound into /dev (runc's
/// rootless defaults).
pub const SYSTEM_MOUNTS: &[SystemMount] = &[
    ("proc", "/proc", "proc", &["nosuid", "nodev", "noexec"]),
    (
        "tmpfs",
        "/dev",
        "tmpfs",
        &["nosuid", "strictatime", "mode=755", "size=65536k"],
    ),
    (
        "devpts",
        "/dev/pts",
        "devpts",
        &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
    ),
    (
        "shm",
        "/dev/shm",
        "tmpfs",
        &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    ),
];

/// The devpts option added where gid 5 (the tty group, owner of new ptys)
/// is mapped in the container.
pub const DEVPTS_TTY_GROUP: (u32, &str) = (5, "gid=5");

/// /sys, after the devices.
pub const SYSFS: SystemMount = ("sysfs", "/sys", "sysfs", &["nosuid", "noexec", "nodev", "ro"]);

/// The default root's /tmp (it has none of its own; programs expect one),
/// and every tmpfs the front end adds.
pub const TMPFS_OPTIONS: &[&str] = &["nosuid", "nodev", "mode=1777"];

/// A system container's tmpfs mounts (cli/session.rs), in mount order, as
/// systemd mounts them on a host: /run, /run/lock, /tmp.
pub const SYSTEM_TMPFS: &[(&str, &[&str])] = &[
    ("/run", &["nosuid", "nodev", "mode=755"]),
    ("/run/lock", &["nosuid", "nodev", "noexec", "mode=1777"]),
    ("/tmp", TMPFS_OPTIONS),
];

/// A system container's cgroup2 mount (source, destination, type,
/// options): its own cgroup, the root of its cgroup namespace.
pub const SYSTEM_CGROUP: (&str, &str, &str, &[&str]) =
    ("cgroup2", "/sys/fs/cgroup", "cgroup2", &["nosuid", "nodev", "noexec"]);

/// The command's PATH, and the search path when the environment has none.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The default environment, in order: PATH, HOME, the caller's TERM if it
/// has one (`term`), `container=burrow`; then `extra` (a later value of a
/// key replaces an earlier one).
pub fn environment(term: Option<&str>, extra: &[String]) -> Vec<String> {
    let mut env = vec![format!("PATH={PATH}"), "HOME=/root".to_owned()];
    if let Some(term) = term {
        env.push(format!("TERM={term}"));
    }
    env.push("container=burrow".to_owned());
    for var in extra {
        let key = var.split('=').next().unwrap_or_default();
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(var.clone());
    }
    env
}

/// podman's default capability set (containers.conf `default_capabilities`);
/// see confine/capabilities.rs for why inheritable and ambient stay empty.
pub const CAPABILITIES: &[Capability] = &[
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

/// Masked by default (`linux.maskedPaths`): kernel and hardware details a
/// container has no use for (runc's, moby's and podman's lists together).
pub const MASKED: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/dev/block",
    "/sys/devices/virtual/powercap",
    "/sys/firmware",
    "/sys/fs/selinux",
];

/// Read-only by default (`linux.readonlyPaths`): the kernel's knobs.
pub const READ_ONLY: &[&str] = &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_is_exact_and_env_overrides() {
        let extra = ["A=1".to_owned(), "HOME=/home/x".to_owned(), "A=2".to_owned()];
        assert_eq!(
            environment(Some("xterm"), &extra),
            [
                format!("PATH={PATH}"),
                "TERM=xterm".to_owned(),
                "container=burrow".to_owned(),
                "HOME=/home/x".to_owned(),
                "A=2".to_owned(),
            ]
        );
        assert_eq!(
            environment(None, &[]),
            [
                format!("PATH={PATH}"),
                "HOME=/root".to_owned(),
                "container=burrow".to_owned()
            ]
        );
    }
}
