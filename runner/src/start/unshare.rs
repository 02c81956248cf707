//! `burrow unshare`'s host side (runner, unprivileged): a child in a new
//! user namespace and nothing else, its uid and gid maps written by the
//! helper (idmap.rs), then the command runs as root of that namespace and
//! burrow supervises it as it does a container (supervise.rs), as `podman
//! unshare` and `lxc-usernsexec` do. Untrusted: nothing beyond the
//! caller's own command.

use crate::child;
use crate::error::{Context, Result};
use crate::start::idmap::{self, Caller};
use crate::start::parent;
use crate::start::spawn;
use crate::start::supervise::{self, Signals, Supervision};
use crate::sync::{Channel, Message};
use burrow_shared::ids::IdMapping;
use std::os::fd::AsFd;
use std::time::Duration;

/// Runs `command` as root of a new user namespace with these maps; its
/// status is burrow's.
pub fn run(command: &[String], caller: &Caller, uid_map: &[IdMapping], gid_map: &[IdMapping]) -> Result<i32> {
    let (parent_end, child_end) = Channel::pair().context(|| "creating the sync socket".to_owned())?;
    let signals = Signals::block().context(|| "blocking signals".to_owned())?;
    let clone = spawn::clone_child(libc::CLONE_NEWUSER as u64, None);
    let child = match clone.context(|| "starting the command's process".to_owned())? {
        None => {
            drop(parent_end);
            child::unshare::run(command, child_end, &signals.original_mask)
        }
        Some(child) => child,
    };
    drop(child_end);
    let started = (|| {
        let proc_dir = child.proc_dir().context(|| format!("opening /proc/{}", child.pid))?;
        let setgroups_allowed = idmap::start_maps(proc_dir.as_fd(), caller, uid_map, gid_map)
            .and_then(|maps| maps.finish(proc_dir.as_fd()))?;
        parent_end
            .send(&Message::Configure {
                setgroups_allowed,
                join: Vec::new(),
            })
            .context(|| "sending configure to the command's process".to_owned())?;
        parent::answer(&child, parent_end.wait_exec())
    })();
    if let Err(error) = started {
        let _ = spawn::send_signal(&child.pidfd, libc::SIGKILL);
        let _ = supervise::reap(&child);
        return Err(error);
    }
    drop(parent_end);
    let mut how = Supervision {
        stop_signal: libc::SIGTERM,
        stop_timeout: Duration::from_secs(10),
        init: false,
        system: false,
        relay: None,
        raw: None,
        output: None,
    };
    let ended = supervise::wait(&child, &signals, &mut how).context(|| "supervising the command".to_owned())?;
    Ok(ended.status)
}
