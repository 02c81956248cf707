//! The runner's thin wrappers around system calls that nix does not cover
//! (every `unsafe` of the runner is to live here, each with its SAFETY
//! comment).

pub mod mount;
