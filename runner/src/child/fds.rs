//! File descriptors (runner and its child). Only 0, 1 and 2 reach the
//! container, plus fds 3 to 3+N-1 with `run.burrow.preserve-fds` N (as runc and
//! podman do): an inherited directory fd would be a host path inside the
//! container (runc's CVE-2024-21626), and no fd of burrow's own (its sync
//! socket, the /proc or namespace fds it holds) may be reachable either.
//!
//! - At start (runner, `mark_inherited_cloexec`): mark every inherited fd
//!   above stderr close-on-exec, so none reaches the helper or anything
//!   else burrow runs.
//! - Building the spec (cli/security.rs `check_preserved`): the fds to
//!   preserve must be open now, so that none of burrow's own later fds can
//!   take one of their numbers; their count is the spec's
//!   `run.burrow.preserve-fds`.
//! - Before exec (child, `prepare_for_exec`): everything from 3+N up
//!   close-on-exec, and 3 to 3+N-1 inheritable again.

use crate::spec::annotations::FIRST_PRESERVED_FD as FIRST;
use crate::sync::{Failure, Step};
use crate::sys::fd::{self, mark_cloexec_from};
use std::io;

/// At start, before burrow opens anything: no inherited fd above stderr
/// reaches what burrow runs.
pub fn mark_inherited_cloexec() -> io::Result<()> {
    mark_cloexec_from(FIRST)
}

/// In the child, before exec: only fds 3 to 3+count-1 stay inheritable. A
/// failure is a setup failure (`Step::Fds`), not the command's.
pub fn prepare_for_exec(count: u32) -> Result<(), Failure> {
    mark_cloexec_from(FIRST + count).map_err(|e| Failure::os(Step::Fds, "marking fds close-on-exec", &e))?;
    for fd in FIRST..FIRST + count {
        fd::clear_cloexec(fd as libc::c_int)
            .map_err(|error| Failure::os(Step::Fds, format!("keeping fd {fd} open"), &error))?;
    }
    Ok(())
}
