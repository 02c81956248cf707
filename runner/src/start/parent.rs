//! The runner's side of the start sequence (unprivileged; calls the setuid
//! helper for what needs host privilege). After lxc's lxc_spawn.
//!
//! Its steps, which the code names:
//!
//! - prepare: make the sync socketpair; block the forwarded signals. In a
//!   cgroup v2 subtree the caller owns, make the container's leaf
//!   (cgroup.rs `prepare_own`), for the clone to start the child in.
//! - clone: clone3 into the spec's namespaces but the network one, which
//!   the child makes itself meanwhile (Unshared); the child continues in
//!   child::run.
//! - pin: open the child's /proc/PID directory: the child cannot be reaped
//!   (we are its parent and have not waited), so the fd names it for sure.
//! - host setup: start every helper run the container needs at once, so
//!   that they proceed side by side: its uid/gid maps (idmap.rs), a
//!   delegated cgroup with a leaf for the child in it (cgroup.rs), and, once
//!   the child says Unshared, each veth with its peer made directly in the
//!   child's network namespace. Then wait for all of them, and report the
//!   first failure in that order; write the limits into the leaves and the
//!   peers' names into the netpipe.
//! - configure: send Configure, naming the cgroup v1 leaves the child joins
//!   itself; wait for Ready or the child's Failed (sync.rs has the diagram).
//!   With a terminal, the pty's master comes first (an fd over the
//!   socket), checked to be one, and gets the caller's window size.
//! - exec: wait for exec: EOF on the close-on-exec socket means exec'd;
//!   Failed means exec failed.
//! - supervise: pass signals on, relay the terminal, wait for pid 1; its
//!   status is burrow's (supervise.rs). A system container that rebooted
//!   starts again from prepare.
//!
//! If anything fails after the clone, the child is killed and reaped. Either
//! way its cgroup leaves are removed before burrow exits. Its veths are not
//! waited for: the kernel deletes a pair when the container's network
//! namespace ends, in the background, and the helper no longer counts a
//! pair whose namespace has no reference left (and, at the quota, waits a
//! moment for one that has just ended).

use crate::child;
use crate::error::{Context, Error, Result};
use crate::spec;
use crate::spec::annotations::Extensions;
use crate::spec::validate;
use crate::start::cgroup::{self, Cgroup};
use crate::start::helper_client;
use crate::start::idmap::{self, Caller};
use crate::start::output::Output;
use crate::start::pty::{RawMode, Relay};
use crate::start::spawn::{self, Child};
use crate::start::supervise::{self, Ended, Signals, Supervision};
use crate::sync::{Channel, Failure, Message, Step, WaitError};
use burrow_shared::ids::IdKind;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::cell::RefCell;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

/// Who owns the container once it runs, chosen by the front end: what the
/// start sequence does after exec, and whether the container dies with
/// burrow. An OCI engine's subreaper (`create`, then `start`) is the
/// lifetime the OCI work adds (DESIGN.md, "Lifetimes of a container").
#[derive(Clone, Copy)]
pub enum Lifetime<'a> {
    /// `burrow run`: burrow is the init's parent, supervises it, passes its
    /// status through and cleans up on every path; the init dies with it.
    Foreground(Foreground),
    /// `burrow run -d`: burrow's monitor (a burrow in a session of its own,
    /// cli/detach.rs) is the init's parent and supervises it as above.
    Detached(Detached<'a>),
}

/// A detached container's ends, which its monitor holds.
#[derive(Clone, Copy)]
pub struct Detached<'a> {
    pub settings: Foreground,
    /// The container's stdout and stderr (its stdin is /dev/null): the
    /// write end of the pipe `output` drains into its log.
    pub stdio: BorrowedFd<'a>,
    pub output: &'a RefCell<Output>,
    /// Told pid 1's pid once it has exec'd, each time it starts.
    pub started: &'a dyn Fn(libc::pid_t),
}

impl Lifetime<'_> {
    fn settings(&self) -> Foreground {
        match self {
            Lifetime::Foreground(settings) | Lifetime::Detached(Detached { settings, .. }) => *settings,
        }
    }
}

/// How `burrow run` supervises its container (cli/session.rs fills it in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Foreground {
    /// With a terminal of its own: relay stdin to it, the caller's
    /// terminal in raw mode meanwhile (`-i`).
    pub interactive: bool,
    /// A system container: its init's end by SIGINT is a halt, by SIGHUP
    /// a reboot (the kernel's reboot(2) in a pid namespace), as lxc-start.
    pub system: bool,
    /// Its init is systemd, which needs a cgroup of its own to boot: burrow
    /// warns when it can get none.
    pub systemd: bool,
    /// A reboot starts the container again (no `--no-reboot`).
    pub reboot: bool,
    /// What burrow sends pid 1 when asked to stop (SIGTERM to burrow).
    pub stop_signal: libc::c_int,
    /// Then SIGKILL after this.
    pub stop_timeout: Duration,
}

impl Lifetime<'_> {
    /// Whether the init gets SIGKILL when burrow dies (PR_SET_PDEATHSIG):
    /// a monitor killed takes its container with it.
    fn dies_with_burrow(self) -> bool {
        match self {
            Lifetime::Foreground(_) | Lifetime::Detached(_) => true,
        }
    }
}

/// What comes after the container's pid 1 ended.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Exit(i32),
    StartAgain,
}

/// Starts the container `spec` describes, owned as `lifetime` says; for the
/// foreground, supervises it, and its status is burrow's (a system
/// container that rebooted is started again, with the same spec). The spec
/// is validated first (spec/validate.rs): nothing starts for a spec with a
/// field burrow cannot apply or a malformed annotation.
pub fn run(spec: &Spec, caller: &Caller, lifetime: Lifetime) -> Result<i32> {
    let extensions = validate::validate(spec)?;
    let foreground = lifetime.settings();
    let signals = Signals::block().context(|| "blocking signals".to_owned())?;
    // Once for every start, so that a reboot does not flash the terminal;
    // restored when this returns, on every path (burrow catches every
    // signal that would end it but SIGKILL).
    let raw = match spec::has_terminal(spec) && foreground.interactive {
        true => RawMode::enter().context(|| "putting your terminal in raw mode".to_owned())?,
        false => None,
    };
    loop {
        let mut cgroup = None;
        let result = run_with(
            (spec, &extensions),
            caller,
            lifetime,
            (&signals, raw.as_ref()),
            &mut cgroup,
        );
        if let Some(cgroup) = cgroup {
            cgroup.remove();
        }
        match after(&foreground, result?) {
            Next::Exit(status) => return Ok(status),
            Next::StartAgain => continue,
        }
    }
}

/// How burrow treats the end of pid 1: as lxc-start for a system container.
fn after(foreground: &Foreground, ended: Ended) -> Next {
    match (foreground.system, ended.signal) {
        (true, Some(libc::SIGINT)) => {
            log::info!("the container halted");
            Next::Exit(0)
        }
        (true, Some(libc::SIGHUP)) if foreground.reboot => {
            log::info!("the container rebooted: starting it again");
            Next::StartAgain
        }
        (true, Some(libc::SIGHUP)) => {
            log::info!("the container rebooted, and --no-reboot ends it");
            Next::Exit(0)
        }
        _ => Next::Exit(ended.status),
    }
}

/// Every step, prepare to supervise; the container's cgroup, once made, is
/// recorded in `cgroup`.
fn run_with(
    (spec, extensions): (&Spec, &Extensions),
    caller: &Caller,
    lifetime: Lifetime,
    (signals, raw): (&Signals, Option<&RawMode>),
    cgroup: &mut Option<Cgroup>,
) -> Result<Ended> {
    let foreground = lifetime.settings();
    let detached = match lifetime {
        Lifetime::Detached(detached) => Some(detached),
        Lifetime::Foreground(_) => None,
    };
    let (parent_end, child_end) = Channel::pair().context(|| "creating the sync socket".to_owned())?;
    let (netpipe_read, netpipe_write) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).context(|| "creating the netpipe".to_owned())?;
    let own_leaf = cgroup::prepare_own(cgroup_parent(spec).as_deref(), cgroup)?;
    let flags = clone_flags(spec);
    let clone = spawn::clone_child(flags, own_leaf.as_ref().map(|leaf| leaf.as_fd()));
    let child = match clone.context(|| "starting the container process".to_owned())? {
        None => {
            drop((parent_end, netpipe_write, own_leaf));
            let dies_with_burrow = lifetime.dies_with_burrow();
            child::run(
                spec,
                extensions,
                (child_end, netpipe_read),
                &signals.original_mask,
                dies_with_burrow,
                detached.map(|d| d.stdio),
            )
        }
        Some(child) => child,
    };
    drop((child_end, netpipe_read));
    let placed = own_leaf.is_some();
    drop(own_leaf);
    match start(
        (spec, extensions),
        (caller, foreground.interactive, foreground.systemd),
        &child,
        &parent_end,
        netpipe_write,
        (cgroup, placed),
    ) {
        Ok(relay) => {
            drop(parent_end);
            if let Some(detached) = detached {
                (detached.started)(child.pid);
            }
            let mut how = Supervision {
                stop_signal: foreground.stop_signal,
                stop_timeout: foreground.stop_timeout,
                init: extensions.init,
                system: foreground.system,
                relay,
                raw,
                output: detached.map(|d| d.output),
            };
            supervise::wait(&child, signals, &mut how).context(|| "supervising the container".to_owned())
        }
        Err(error) => {
            let _ = spawn::send_signal(&child.pidfd, libc::SIGKILL);
            let _ = supervise::reap(&child);
            Err(error)
        }
    }
}

/// The CLONE_NEW* flags for the spec's namespaces. The cgroup namespace is
/// left to the child, which unshares it once it is in its own cgroup, and
/// so is the network namespace, which it makes while we start the helper.
fn clone_flags(spec: &Spec) -> u64 {
    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    namespaces
        .iter()
        .filter(|ns| !matches!(ns.typ(), LinuxNamespaceType::Cgroup | LinuxNamespaceType::Network))
        // The enum's values are the CLONE_NEW* bits themselves.
        .fold(0, |flags, ns| flags | ns.typ() as u64)
}

/// The steps pin, host setup, configure and exec. The container's cgroup
/// is recorded in `cgroup_made` as soon as it exists, for removal;
/// `placed`: the clone started the child in it already. Returns the relay
/// of the container's terminal, when it has one (`interactive`: with stdin;
/// `systemd`: its init needs a cgroup of its own).
fn start(
    (spec, extensions): (&Spec, &Extensions),
    (caller, interactive, systemd): (&Caller, bool, bool),
    child: &Child,
    channel: &Channel,
    netpipe: OwnedFd,
    (cgroup_made, placed): (&mut Option<Cgroup>, bool),
) -> Result<Option<Relay>> {
    let proc_dir = child.proc_dir().context(|| format!("opening /proc/{}", child.pid))?;
    let uid_map = spec::id_map(spec, IdKind::Uid);
    let gid_map = spec::id_map(spec, IdKind::Gid);
    let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    // oci-spec fills in a default resources section: only limits count.
    let resources = resources.filter(|r| r.memory().is_some() || r.pids().is_some() || r.cpu().is_some());
    let cgroup_parent = cgroup_parent(spec);
    let interfaces = &extensions.interfaces;

    // Host setup: start everything, then wait for everything before any
    // failure is reported, so that no helper outlives this and every leaf
    // made is recorded.
    let maps = idmap::start_maps(proc_dir.as_fd(), caller, &uid_map, &gid_map);
    let wanted = resources.is_some() || cgroup_parent.is_some();
    let for_init = spec::mounts_own_cgroup2(spec);
    let placing = cgroup::start(proc_dir.as_fd(), child.pid, caller, (wanted, placed, for_init), systemd);
    let unshared = match spec::has_namespace(spec, LinuxNamespaceType::Network) {
        true => wait_unshared(channel, child),
        false => Ok(()),
    };
    let veths: Vec<Result<helper_client::Pending>> = if interfaces.is_empty() || unshared.is_err() {
        Vec::new()
    } else {
        // Held only while the helper runs start: each gets its own copy.
        match open_netns(proc_dir.as_fd()) {
            Ok(netns) => interfaces
                .iter()
                .map(|interface| helper_client::spawn_veth(netns.as_fd(), &interface.bridge))
                .collect(),
            Err(error) => vec![Err(error)],
        }
    };
    let setgroups_allowed = maps.and_then(|maps| maps.finish(proc_dir.as_fd()));
    let placed = placing.finish(child.pid, resources, cgroup_parent.as_deref(), cgroup_made);
    let peers: Vec<Result<String>> = veths
        .into_iter()
        .map(|pending| {
            pending
                .and_then(|p| p.wait())
                .and_then(|line| helper_client::veth_peer(&line))
        })
        .collect();
    unshared?;
    let setgroups_allowed = setgroups_allowed?;
    placed?;
    let mut names = String::new();
    for peer in peers {
        names.push_str(&peer?);
        names.push('\n');
    }
    std::fs::File::from(netpipe)
        .write_all(names.as_bytes())
        .context(|| "writing the netpipe".to_owned())?;

    let join = cgroup_made.as_ref().map(Cgroup::to_join).unwrap_or_default();
    channel
        .send(&Message::Configure {
            setgroups_allowed,
            join,
        })
        .context(|| "sending configure to the container process".to_owned())?;
    // The pty's master comes before Ready (child/terminal.rs); it gets the
    // caller's window size before the command runs.
    let relay = match spec::has_terminal(spec) {
        true => {
            let master = answer(child, channel.wait_fd())?;
            Some(Relay::new(master, interactive).context(|| "taking the container's terminal".to_owned())?)
        }
        false => None,
    };
    answer(child, channel.wait_ready())?;
    answer(child, channel.wait_exec())?;
    Ok(relay)
}

/// Waits for the child to have made its network namespace.
fn wait_unshared(channel: &Channel, child: &Child) -> Result<()> {
    answer(child, channel.wait_unshared())
}

/// The child's answer at a barrier: the failure it reported, or how it
/// broke the protocol or died.
pub fn answer<T>(child: &Child, waited: std::result::Result<T, WaitError>) -> Result<T> {
    match waited {
        Ok(value) => Ok(value),
        Err(WaitError::Failed(failure)) => Err(setup_error(failure)),
        Err(error) => Err(lost_child(child, error)),
    }
}

/// The child's network namespace, through its /proc/PID directory.
fn open_netns(proc_dir: BorrowedFd) -> Result<OwnedFd> {
    nix::fcntl::openat(proc_dir, "ns/net", OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .context(|| "opening the container's ns/net".to_owned())
}

/// The spec's `linux.cgroupsPath`: a name below the delegated cgroup.
fn cgroup_parent(spec: &Spec) -> Option<String> {
    let path = spec.linux().as_ref()?.cgroups_path().as_ref()?;
    path.to_str().map(str::to_owned)
}

fn setup_error(failure: Failure) -> Error {
    match (failure.step, failure.io_error()) {
        (Step::Exec, Some(e)) if e.raw_os_error() == Some(libc::ENOENT) => Error::CommandNotFound {
            command: failure.detail,
        },
        (Step::Exec, Some(source)) => Error::NotExecutable {
            command: failure.detail,
            source,
        },
        (step, source) => Error::Setup {
            step: step.name(),
            detail: failure.detail,
            source,
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
        step: "start",
        detail: how,
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(step: Step, errno: i32, detail: &str) -> Failure {
        Failure {
            step,
            errno,
            detail: detail.to_owned(),
        }
    }

    #[test]
    fn only_the_execve_itself_gives_126_or_127() {
        let shown = |f| {
            let error = setup_error(f);
            (format!("{error:#}"), error.exit_status())
        };
        assert_eq!(
            shown(failure(Step::Exec, libc::ENOENT, "nosuch")),
            ("nosuch: command not found".to_owned(), 127)
        );
        assert_eq!(
            shown(failure(Step::Exec, libc::EACCES, "/etc")),
            ("/etc: cannot execute: Permission denied (os error 13)".to_owned(), 126)
        );
        assert_eq!(
            shown(failure(Step::Signals, libc::EINVAL, "restoring the signal mask")),
            (
                "container setup failed at signals: restoring the signal mask: Invalid argument (os error 22)"
                    .to_owned(),
                125
            )
        );
        assert_eq!(
            shown(failure(Step::Fds, libc::EBADF, "keeping fd 3 open")),
            (
                "container setup failed at fds: keeping fd 3 open: Bad file descriptor (os error 9)".to_owned(),
                125
            )
        );
        assert_eq!(
            shown(failure(Step::Mount, 0, "/x is a symlink")),
            ("container setup failed at mount: /x is a symlink".to_owned(), 125)
        );
    }
}
