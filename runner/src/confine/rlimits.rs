//! Resource limits. The runner (unprivileged) writes every limit the
//! container gets into the spec's `process.rlimits`: the caller's own, as
//! burrow found them, with each `--ulimit` applied. The child sets exactly
//! those, so no limit burrow might raise for itself reaches the container by
//! accident. Untrusted input: `--ulimit NAME=SOFT[:HARD]`.

use crate::sync::{Failure, Step};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use oci_spec::runtime::{PosixRlimit, PosixRlimitBuilder, PosixRlimitType};
use std::io;

/// The limits, by their `--ulimit` names (as docker and podman name them).
const LIMITS: &[(&str, PosixRlimitType, Resource)] = &[
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

/// `--ulimit NAME=SOFT[:HARD]`; HARD defaults to SOFT; `unlimited` or -1
/// for no limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ulimit {
    pub name: &'static str,
    pub soft: u64,
    pub hard: u64,
}

fn names() -> String {
    LIMITS.iter().map(|(n, _, _)| *n).collect::<Vec<_>>().join(", ")
}

fn value(text: &str) -> Result<u64, String> {
    match text {
        "unlimited" | "-1" => Ok(libc::RLIM_INFINITY),
        _ => text
            .parse()
            .map_err(|_| format!("{text:?} is not a number (or unlimited)")),
    }
}

impl Ulimit {
    pub fn parse(text: &str) -> Result<Ulimit, String> {
        let (name, values) = text
            .split_once('=')
            .ok_or_else(|| "expected NAME=SOFT[:HARD]".to_owned())?;
        let Some(&(name, _, _)) = LIMITS.iter().find(|(n, _, _)| *n == name) else {
            return Err(format!("unknown limit {name:?} (one of {})", names()));
        };
        let (soft, hard) = match values.split_once(':') {
            Some((soft, hard)) => (value(soft)?, value(hard)?),
            None => (value(values)?, value(values)?),
        };
        if soft > hard {
            return Err(format!("the soft limit of {name} is above its hard limit"));
        }
        Ok(Ulimit { name, soft, hard })
    }
}

fn show(value: u64) -> String {
    if value == libc::RLIM_INFINITY {
        "unlimited".to_owned()
    } else {
        value.to_string()
    }
}

/// The container's limits: the caller's own with `ulimits` applied. A hard
/// limit above the caller's needs privilege on the host: refused here.
pub fn for_container(ulimits: &[Ulimit]) -> Result<Vec<PosixRlimit>, String> {
    with_own_limits(ulimits, own_limit)
}

/// `for_container`, with the caller's own limits from `own_limit`.
fn with_own_limits(
    ulimits: &[Ulimit],
    own_limit: impl Fn(Resource) -> io::Result<(u64, u64)>,
) -> Result<Vec<PosixRlimit>, String> {
    let mut limits = Vec::new();
    for &(name, typ, resource) in LIMITS {
        let (own_soft, own_hard) = own_limit(resource).map_err(|e| format!("reading your {name} limit: {e}"))?;
        let (soft, hard) = match ulimits.iter().rev().find(|u| u.name == name) {
            Some(u) if u.hard > own_hard => {
                return Err(format!(
                    "bad --ulimit {name}: the hard limit {} is above your own ({})",
                    show(u.hard),
                    show(own_hard)
                ));
            }
            Some(u) => (u.soft, u.hard),
            None => (own_soft, own_hard),
        };
        limits.push(
            PosixRlimitBuilder::default()
                .typ(typ)
                .soft(soft)
                .hard(hard)
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(limits)
}

fn own_limit(resource: Resource) -> io::Result<(u64, u64)> {
    getrlimit(resource).map_err(io::Error::from)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulimit_syntax() {
        assert_eq!(
            Ulimit::parse("nofile=100:200"),
            Ok(Ulimit {
                name: "nofile",
                soft: 100,
                hard: 200
            })
        );
        assert_eq!(Ulimit::parse("core=0").map(|u| (u.soft, u.hard)), Ok((0, 0)));
        assert_eq!(
            Ulimit::parse("stack=unlimited").map(|u| u.hard),
            Ok(libc::RLIM_INFINITY)
        );
        assert_eq!(
            Ulimit::parse("nofile=200:100").unwrap_err(),
            "the soft limit of nofile is above its hard limit"
        );
        assert!(
            Ulimit::parse("bogus=1")
                .unwrap_err()
                .starts_with("unknown limit \"bogus\" (one of as, core")
        );
        assert_eq!(Ulimit::parse("nofile").unwrap_err(), "expected NAME=SOFT[:HARD]");
        assert_eq!(
            Ulimit::parse("nofile=x").unwrap_err(),
            "\"x\" is not a number (or unlimited)"
        );
    }

    #[test]
    fn container_limits_are_own_with_overrides() {
        let limits = for_container(&[Ulimit::parse("core=0").unwrap()]).unwrap();
        assert_eq!(limits.len(), LIMITS.len());
        let core = limits.iter().find(|l| l.typ() == PosixRlimitType::RlimitCore).unwrap();
        assert_eq!((core.soft(), core.hard()), (0, 0));
        let (soft, hard) = own_limit(Resource::RLIMIT_NOFILE).unwrap();
        let nofile = limits
            .iter()
            .find(|l| l.typ() == PosixRlimitType::RlimitNofile)
            .unwrap();
        assert_eq!((nofile.soft(), nofile.hard()), (soft, hard));
    }

    /// On every host, whatever its own limits: limits as if the caller's
    /// nofile were 1024:4096 and every other one unlimited.
    #[test]
    fn a_hard_limit_above_the_callers_is_refused() {
        let own = |resource| match resource {
            Resource::RLIMIT_NOFILE => Ok((1024, 4096)),
            _ => Ok((libc::RLIM_INFINITY, libc::RLIM_INFINITY)),
        };
        let too_high = Ulimit::parse("nofile=4097").unwrap();
        assert_eq!(
            with_own_limits(&[too_high], own).unwrap_err(),
            "bad --ulimit nofile: the hard limit 4097 is above your own (4096)"
        );
        let at_own = with_own_limits(&[Ulimit::parse("nofile=100:4096").unwrap()], own).unwrap();
        let nofile = at_own
            .iter()
            .find(|l| l.typ() == PosixRlimitType::RlimitNofile)
            .unwrap();
        assert_eq!((nofile.soft(), nofile.hard()), (100, 4096));
        let unlimited = |_| Ok((libc::RLIM_INFINITY, libc::RLIM_INFINITY));
        let any = with_own_limits(&[Ulimit::parse("nofile=unlimited").unwrap()], unlimited).unwrap();
        assert_eq!(any.len(), LIMITS.len());
        let failing = |_| Err(io::Error::from_raw_os_error(libc::EPERM));
        assert_eq!(
            with_own_limits(&[], failing).unwrap_err(),
            "reading your as limit: Operation not permitted (os error 1)"
        );
    }
}
