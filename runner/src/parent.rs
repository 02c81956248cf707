//! The runner's side of the start sequence (unprivileged; calls the setuid
//! helper for what needs host privilege). After lxc's lxc_spawn.
//!
//! 1. Make the sync socketpair; block the forwarded signals.
//! 2. clone3 into the spec's namespaces; the child continues in child::run.
//! 3. Open the child's /proc/PID directory: the child cannot be reaped (we
//!    are its parent and have not waited), so the fd names it for sure.
//! 4. Write its uid/gid maps (idmap.rs); have the helper delegate a cgroup
//!    and put the child in a leaf of it, with its limits (cgroup.rs); have
//!    the helper make each veth,
//!    its peer directly in the child's network namespace, and write the
//!    peers' names into the netpipe.
//! 5. CONFIGURE; wait for READY or the child's FAILED.
//! 6. Wait for exec: EOF on the close-on-exec socket means exec'd; FAILED
//!    means exec failed.
//! 7. Supervise it; its status is burrow's.
//!
//! If anything fails after the clone, the child is killed and reaped. Either
//! way, the veths made for it are deleted before burrow exits (cleanup.rs).

use crate::cgroup::{self, Cgroup};
use crate::child;
use crate::cleanup;
use crate::error::{Context, Error, Result};
use crate::helper_client;
use crate::idmap::{self, Caller};
use crate::net;
use crate::spawn::{self, Child};
use crate::spec;
use crate::supervise::{self, Signals};
use crate::sync::{Channel, Failure, Message, Step, WaitError};
use burrow_shared::ids::IdKind;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};

pub fn run(spec: &Spec, caller: &Caller) -> Result<i32> {
    let (parent_end, child_end) = Channel::pair().context(|| "creating the sync socket".to_owned())?;
    let (netpipe_read, netpipe_write) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).context(|| "creating the netpipe".to_owned())?;
    let signals = Signals::block().context(|| "blocking signals".to_owned())?;
    let child = match spawn::clone_child(clone_flags(spec)).context(|| "starting the container process".to_owned())? {
        None => {
            drop((parent_end, netpipe_write));
            child::run(spec, child_end, netpipe_read, &signals.original_mask)
        }
        Some(child) => child,
    };
    drop((child_end, netpipe_read));
    let mut interfaces_made = None;
    let mut cgroup = None;
    let made = (&mut interfaces_made, &mut cgroup);
    let result = match start(spec, caller, &child, &parent_end, netpipe_write, made) {
        Ok(()) => {
            drop(parent_end);
            supervise::wait(&child, &signals).context(|| "supervising the container".to_owned())
        }
        Err(error) => {
            let _ = spawn::send_signal(&child.pidfd, libc::SIGKILL);
            let _ = supervise::reap(&child);
            Err(error)
        }
    };
    if let Some(namespaces) = interfaces_made {
        cleanup::remove_interfaces(&namespaces);
    }
    if let Some(cgroup) = cgroup {
        cgroup.remove();
    }
    result
}

/// The CLONE_NEW* flags for the spec's namespaces. The cgroup namespace is
/// left to the child, which unshares it once it is in its own cgroup.
fn clone_flags(spec: &Spec) -> u64 {
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    namespaces
        .iter()
        .filter(|ns| ns.typ() != LinuxNamespaceType::Cgroup)
        // The enum's values are the CLONE_NEW* bits themselves.
        .fold(0, |flags, ns| flags | ns.typ() as u64)
}

/// Steps 3 to 6. What is made for the container on the host is recorded in
/// `made` as soon as it exists, for cleanup: its namespaces once the helper
/// has made a veth there (so they outlive the container), and its cgroup.
fn start(
    spec: &Spec,
    caller: &Caller,
    child: &Child,
    channel: &Channel,
    netpipe: OwnedFd,
    (interfaces_made, cgroup_made): (&mut Option<cleanup::Namespaces>, &mut Option<Cgroup>),
) -> Result<()> {
    let proc_dir = nix::fcntl::open(
        format!("/proc/{}", child.pid).as_str(),
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .context(|| format!("opening /proc/{}", child.pid))?;
    let uid_map = spec::id_map(spec, IdKind::Uid);
    let gid_map = spec::id_map(spec, IdKind::Gid);
    let setgroups_allowed = idmap::write_maps(proc_dir.as_fd(), caller, &uid_map, &gid_map)?;
    let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    // oci-spec fills in a default resources section: only limits count.
    let resources = resources.filter(|r| r.memory().is_some() || r.pids().is_some() || r.cpu().is_some());
    let cgroup_parent = cgroup_parent(spec);
    cgroup::place(
        proc_dir.as_fd(),
        child.pid,
        resources,
        cgroup_parent.as_deref(),
        cgroup_made,
    )?;

    let interfaces = net::interfaces(spec.annotations().as_ref());
    let mut peers = String::new();
    if !interfaces.is_empty() {
        let namespaces = interfaces_made.insert(cleanup::Namespaces::open(proc_dir.as_fd())?);
        for interface in &interfaces {
            let peer = helper_client::veth(namespaces.net.as_fd(), &interface.bridge)?;
            peers.push_str(&peer);
            peers.push('\n');
        }
    }
    std::fs::File::from(netpipe)
        .write_all(peers.as_bytes())
        .context(|| "writing the netpipe".to_owned())?;

    channel
        .send(&Message::Configure { setgroups_allowed })
        .context(|| "sending configure to the container process".to_owned())?;
    match channel.expect("ready") {
        Ok(_) => {}
        Err(WaitError::Unexpected {
            got: Message::Failed(failure),
            ..
        }) => return Err(setup_error(failure)),
        Err(error) => return Err(lost_child(child, error)),
    }
    match channel.recv() {
        Ok(None) => Ok(()),
        Ok(Some(Message::Failed(failure))) => Err(setup_error(failure)),
        Ok(Some(other)) => Err(lost_child(
            child,
            WaitError::Unexpected {
                expected: "exec",
                got: other,
            },
        )),
        Err(error) => Err(lost_child(child, error)),
    }
}

/// `--cgroup-parent`, carried as the spec's relative `linux.cgroupsPath`.
fn cgroup_parent(spec: &Spec) -> Option<String> {
    let path = spec.linux().as_ref()?.cgroups_path().as_ref()?;
    path.to_str().map(str::to_owned)
}

fn setup_error(failure: Failure) -> Error {
    match (failure.step, failure.io_error()) {
        (Step::Exec, Some(e)) if e.raw_os_error() == Some(libc::ENOENT) => Error::NotFound {
            command: failure.detail,
        },
        (Step::Exec, Some(source)) => Error::NotExecutable {
            command: failure.detail,
            source,
        },
        (step, _) => Error::Setup {
            step: step.name().to_owned(),
            message: failure.to_string(),
        },
    }
}

/// The child broke the protocol or died without saying why: report how it ended.
fn lost_child(child: &Child, error: WaitError) -> Error {
    let how = match error {
        WaitError::Eof => match supervise::reap(child) {
            Ok(status) if status > 128 => format!("the container process was killed by signal {}", status - 128),
            Ok(status) => format!("the container process exited with status {status}"),
            Err(e) => format!("the container process died ({e})"),
        },
        other => other.to_string(),
    };
    Error::Setup {
        step: "start".to_owned(),
        message: how,
    }
}
