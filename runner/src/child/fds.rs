//! File descriptors (runner and its child). Only 0, 1 and 2 reach the
//! container, plus fds 3 to 3+N-1 with `--preserve-fds N` (as runc and
//! podman do): an inherited directory fd would be a host path inside the
//! container (runc's CVE-2024-21626), and no fd of burrow's own (its sync
//! socket, the /proc or namespace fds it holds) may be reachable either.
//!
//! - At start (runner, `mark_inherited_cloexec`): mark every inherited fd
//!   above stderr close-on-exec, so none reaches the helper or anything
//!   else burrow runs.
//! - Building the spec (cli/security.rs `check_preserved`): the fds to
//!   preserve must be open now, so that none of burrow's own later fds can
//!   take one of their numbers.
//! - Before exec (child, `prepare_for_exec`): everything from 3+N up
//!   close-on-exec, and 3 to 3+N-1 inheritable again.

use crate::sync::{Failure, Step};
use crate::sys::fd::{self, mark_cloexec_from};
use oci_spec::runtime::Spec;
use std::io;

/// Annotation holding N of `--preserve-fds N`.
pub const PRESERVE_ANNOTATION: &str = "run.burrow.preserve-fds";

pub const FIRST: u32 = 3;

/// At start, before burrow opens anything: no inherited fd above stderr
/// reaches what burrow runs.
pub fn mark_inherited_cloexec() -> io::Result<()> {
    mark_cloexec_from(FIRST)
}

pub fn preserved(spec: &Spec) -> u32 {
    spec.annotations()
        .as_ref()
        .and_then(|a| a.get(PRESERVE_ANNOTATION))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// In the child, before exec: only the preserved fds stay inheritable. A
/// failure is a setup failure (`Step::Fds`), not the command's.
pub fn prepare_for_exec(spec: &Spec) -> Result<(), Failure> {
    let count = preserved(spec);
    mark_cloexec_from(FIRST + count).map_err(|e| Failure::os(Step::Fds, "marking fds close-on-exec", &e))?;
    for fd in FIRST..FIRST + count {
        fd::clear_cloexec(fd as libc::c_int)
            .map_err(|error| Failure::os(Step::Fds, format!("keeping fd {fd} open"), &error))?;
    }
    Ok(())
}
