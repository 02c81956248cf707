//! Removing what a container leaves on the host (runner, unprivileged). A
//! veth pair dies with its network namespace, but that teardown is
//! asynchronous: to free the caller's quota slot before burrow exits, a
//! short-lived process joins the container's user and network namespaces
//! (which burrow holds open) and deletes the interfaces itself.

use crate::error::{Context, Result};
use crate::network;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::ForkResult;
use std::os::fd::{BorrowedFd, OwnedFd};

/// The container's user and network namespaces, held open.
pub struct Namespaces {
    user: OwnedFd,
    pub net: OwnedFd,
}

impl Namespaces {
    /// Opens them through the child's /proc/PID directory.
    pub fn open(proc_dir: BorrowedFd) -> Result<Namespaces> {
        let open = |name: &str| {
            nix::fcntl::openat(proc_dir, name, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
                .context(|| format!("opening the container's {name}"))
        };
        Ok(Namespaces {
            user: open("ns/user")?,
            net: open("ns/net")?,
        })
    }
}

/// Deletes every interface in the container's network namespace; a failure
/// is only a warning, since the kernel removes them with the namespace.
pub fn remove_interfaces(namespaces: &Namespaces) {
    // SAFETY: burrow is single-threaded, so the forked child may run any code.
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => {
            let joined = nix::sched::setns(&namespaces.user, CloneFlags::CLONE_NEWUSER)
                .and_then(|()| nix::sched::setns(&namespaces.net, CloneFlags::CLONE_NEWNET));
            let status = match joined
                .map_err(std::io::Error::from)
                .and_then(|()| network::remove_interfaces())
            {
                Ok(()) => 0,
                Err(e) => {
                    log::warn!("could not remove the container's interfaces: {e}");
                    1
                }
            };
            // SAFETY: ends the forked copy without running the parent's exit handlers.
            unsafe { libc::_exit(status) }
        }
        Ok(ForkResult::Parent { child }) => {
            while let Err(nix::errno::Errno::EINTR) | Ok(WaitStatus::StillAlive) = waitpid(child, None) {}
        }
        Err(e) => log::warn!("could not remove the container's interfaces: fork: {e}"),
    }
}
