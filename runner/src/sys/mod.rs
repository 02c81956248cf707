//! The runner's thin wrappers around system calls that nix does not cover,
//! or covers only as `unsafe`. Every `unsafe` of the runner lives here, each
//! with its SAFETY comment; the crate root denies `unsafe_code` elsewhere.
//! Each wrapper is safe to call with any argument: it checks its results
//! and owns the memory the kernel reads or writes.

pub mod argv;
pub mod caps;
pub mod exec;
pub mod fd;
pub mod landlock;
pub mod mount;
pub mod net;
pub mod prctl;
pub mod process;
pub mod random;
pub mod seccomp;
pub mod signal;
pub mod socket;
pub mod tty;
