//! The host side of the start sequence (runner, as the calling user): the
//! clone, the helper runs, the barriers with the child, supervision and
//! cleanup. `parent` is the sequence; the others are its pieces.

pub mod cgroup;
pub mod helper_client;
pub mod host;
pub mod idmap;
pub mod monitor;
pub mod output;
pub mod parent;
pub mod pty;
pub mod spawn;
pub mod supervise;
pub mod unshare;
