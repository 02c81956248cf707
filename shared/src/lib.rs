//! Code shared by the runner `burrow` (unprivileged) and the setuid helper
//! `burrow-helper`: parsing and checking only. Nothing here makes a system
//! call, so all of it is unit-tested without root; in the helper, every input
//! to it is untrusted.
#![forbid(unsafe_code)]

pub mod cgroup_policy;
pub mod exit;
pub mod ids;
pub mod request;
pub mod subid;
pub mod usernet;
