//! Resource limits: the child sets exactly the spec's `process.rlimits`
//! (the front end writes every limit there, cli/security.rs), so no limit
//! burrow might raise for itself reaches the container by accident.

use crate::sync::{Failure, Step};
use nix::sys::resource::{Resource, setrlimit};
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};
use std::io;

/// The limits, by the names docker and podman give them.
pub const LIMITS: &[(&str, PosixRlimitType, Resource)] = &[
    ("as", PosixRlimitType::RlimitAs, Resource::RLIMIT_AS),
    ("core", PosixRlimitType::RlimitCore, Resource::RLIMIT_CORE),
    ("cpu", PosixRlimitType::RlimitCpu, Resource::RLIMIT_CPU),
    ("data", PosixRlimitType::RlimitData, Resource::RLIMIT_DATA),
    ("fsize", PosixRlimitType::RlimitFsize, Resource::RLIMIT_FSIZE),
    ("locks", PosixRlimitType::RlimitLocks, Resource::RLIMIT_LOCKS),
    ("memlock", PosixRlimitType::RlimitMemlock, Resource::RLIMIT_MEMLOCK),
    ("msgqueue", PosixRlimitType::RlimitMsgqueue, Resource::RLIMIT_MSGQUEUE),
    ("nice", PosixRlimitType::RlimitNice, Resource::RLIMIT_NICE),
    ("nofile", PosixRlimitType::RlimitNofile, Resource::RLIMIT_NOFILE),
    ("nproc", PosixRlimitType::RlimitNproc, Resource::RLIMIT_NPROC),
    ("rss", PosixRlimitType::RlimitRss, Resource::RLIMIT_RSS),
    ("rtprio", PosixRlimitType::RlimitRtprio, Resource::RLIMIT_RTPRIO),
    ("rttime", PosixRlimitType::RlimitRttime, Resource::RLIMIT_RTTIME),
    (
        "sigpending",
        PosixRlimitType::RlimitSigpending,
        Resource::RLIMIT_SIGPENDING,
    ),
    ("stack", PosixRlimitType::RlimitStack, Resource::RLIMIT_STACK),
];

/// A limit's value for a message: a number or `unlimited`.
pub fn show(value: u64) -> String {
    if value == libc::RLIM_INFINITY {
        "unlimited".to_owned()
    } else {
        value.to_string()
    }
}

/// Sets the spec's limits on the calling (child) process.
pub fn apply(limits: &[PosixRlimit]) -> Result<(), Failure> {
    for limit in limits {
        let Some(&(name, _, resource)) = LIMITS.iter().find(|(_, t, _)| *t == limit.typ()) else {
            return Err(Failure {
                step: Step::Rlimits,
                errno: libc::EINVAL,
                detail: format!("unknown limit {:?}", limit.typ()),
            });
        };
        if let Err(error) = setrlimit(resource, limit.soft(), limit.hard()) {
            let detail = format!("setting {name} to {}:{}", show(limit.soft()), show(limit.hard()));
            return Err(Failure::os(Step::Rlimits, detail, &io::Error::from(error)));
        }
    }
    Ok(())
}
