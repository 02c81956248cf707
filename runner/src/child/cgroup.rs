//! The container's side of its cgroup (runner's child, still the calling
//! user): joining the v1 leaves the helper made for it.

use std::io;
use std::path::Path;

/// In the child, before it changes its ids: moves itself into the v1 `leaf`
/// by writing 0 to its `tasks`, which the caller owns. A thread moving
/// itself is the one move cgroup v1 makes without its global threadgroup
/// lock, whose write side waits an RCU grace period (5 to 10 ms here). The
/// child has a single thread, so this moves the whole process.
pub fn join(leaf: &Path) -> io::Result<()> {
    std::fs::write(leaf.join("tasks"), "0")
}
