//! The container's side of the start sequence (runner's child). It starts as
//! the calling user in new namespaces and becomes root of its own user
//! namespace once the parent has written the maps. Untrusted input: the
//! rootfs content. Every failure goes back to the parent as a typed Failure.
//!
//! 1. Make the network namespace (unshare; the clone made the others) and
//!    say so (UNSHARED), and compile the seccomp filter: work done on the
//!    other CPU while the parent starts the helper. Wait for CONFIGURE
//!    (EOF: the parent died, so exit quietly). Until then the child stays
//!    dumpable, and open to PTRACE_SEIZE under Yama:
//!    the helper needs its /proc entries, and holds it while moving it.
//!    Then, still as the calling user, it moves itself into the cgroup v1
//!    leaves CONFIGURE names (cgroup.rs `join`), and becomes non-dumpable
//!    until exec (confine.rs).
//! 2. Leave burrow's session and process group (setsid): a session of its
//!    own, without a controlling terminal (supervise.rs says why). Become
//!    root of the namespace: setresgid/setresuid(0), and setgroups([]) when
//!    the namespace allows it.
//! 3. PR_SET_PDEATHSIG(SIGKILL), set after the id change (which clears it),
//!    then check the parent still holds its end of the socket: this closes
//!    the race with a parent that died before the signal was armed.
//! 4. unshare(CLONE_NEWCGROUP), so the container's cgroup is its `/`.
//! 5. Host name; read the veth peers' names from the netpipe; in the
//!    container's own network namespace, `lo` up and each interface
//!    configured (network.rs).
//!    Then the spec's sysctls (confine.rs), before /proc/sys is read-only.
//! 6. The filesystem tree, with the masked and read-only paths, and
//!    pivot_root (rootfs.rs, masked_paths.rs), then the cwd. With
//!    `process.terminal`, a pty of the container's own devpts: its master
//!    to the parent (FD), its slave the controlling terminal, stdio and
//!    /dev/console (terminal.rs).
//! 7. Mark every fd above stderr close-on-exec but the preserved ones
//!    (fds.rs), restore the signal mask and SIGPIPE, and prepare the exec
//!    (exec.rs): nothing is allocated after the seccomp filter.
//! 8. Confinement (confine/): rlimits, the bounding set (dropped while
//!    CAP_SETPCAP is still held), the command's ids (process.user, with
//!    PR_SET_KEEPCAPS), the other capability sets (ambient last),
//!    no_new_privs, Landlock, and seccomp as the very last step. Without
//!    no_new_privs, Landlock and seccomp come before the ids and the
//!    capability sets, since they need CAP_SYS_ADMIN.
//! 9. Send READY, exec. If exec fails, send FAILED(exec). With `--init`
//!    (run.burrow.init), fork first: pid 1 stays as the container's init
//!    (init.rs) and the forked process execs the command.

pub mod cgroup;
pub mod exec;
pub mod fds;
pub mod init;
pub mod masked_paths;
pub mod network;
pub mod rootfs;
pub mod terminal;
pub mod unshare;

use crate::confine;
use crate::confine::seccomp::Program;
use crate::files;
use crate::spec;
use crate::spec::annotations::{Extensions, check_interface_name};
use crate::status;
use crate::sync::{Channel, Failure, Message, Step};
use crate::sys::{prctl, process, signal};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::PathBuf;

/// More than the netpipe ever carries (names of at most 15 bytes).
const NETPIPE_MAX: u64 = 4096;

/// Runs the child side for `spec`, whose annotations the parent decoded
/// into `extensions` (spec/validate.rs); with `dies_with_parent` (the
/// parent's lifetime says so), the child dies with its parent. Never returns.
pub fn run(
    spec: &Spec,
    extensions: &Extensions,
    (channel, netpipe): (Channel, OwnedFd),
    signal_mask: &SigSet,
    dies_with_parent: bool,
    stdio: Option<BorrowedFd>,
) -> ! {
    // A detached container's stdio, before anything can fail and report.
    if let Some(output) = stdio {
        if own_stdio(output).is_err() {
            exit(status::FAILED);
        }
    }
    // Under Yama's ptrace_scope 1, only an ancestor may ptrace; the helper,
    // a sibling, holds this process with PTRACE_SEIZE while it moves it into
    // a cgroup. The exception ends with dumpability after CONFIGURE. Without
    // Yama, prctl fails with EINVAL and nothing changes.
    let _ = prctl::set_ptracer_any(true);
    if spec::has_namespace(spec, LinuxNamespaceType::Network) {
        unshare_network(&channel);
    }
    // Pure work done while the parent calls the helper, on the other CPU.
    let seccomp = confine::compile_seccomp(spec);
    let (setgroups_allowed, join) = match channel.wait_configure() {
        Ok(configure) => configure,
        // The parent is gone or confused: it reports its own error.
        Err(_) => exit(status::FAILED),
    };
    let configured = join_cgroups(&join).and_then(|()| {
        let setup = Setup {
            channel: &channel,
            netpipe,
            setgroups_allowed,
            signal_mask,
            seccomp,
            dies_with_parent,
        };
        configure(spec, extensions, setup)
    });
    let (channel, error) = match configured {
        Ok(command) => {
            if channel.send(&Message::Ready).is_err() {
                exit(status::FAILED);
            }
            let forked = match extensions.init {
                true => init::fork_command(channel, signal_mask, spec::has_terminal(spec)),
                false => Ok(channel),
            };
            match forked {
                Ok(channel) => {
                    let error = command.exec();
                    (channel, Failure::os(Step::Exec, command_name(spec), &error))
                }
                Err(unforked) => unforked,
            }
        }
        Err(failure) => (channel, failure),
    };
    let _ = channel.send(&Message::Failed(error));
    exit(status::FAILED)
}

/// stdin from /dev/null, stdout and stderr to `output`.
fn own_stdio(output: BorrowedFd) -> nix::Result<()> {
    let null = nix::fcntl::open("/dev/null", nix::fcntl::OFlag::O_RDONLY, nix::sys::stat::Mode::empty())?;
    nix::unistd::dup2_stdin(&null)?;
    nix::unistd::dup2_stdout(output)?;
    nix::unistd::dup2_stderr(output)
}

/// Makes the container's network namespace (the costliest one: clone3
/// leaves it to the child, so that it is made while the parent starts the
/// helper) and tells the parent, which waits for it before it gives the
/// helper the namespace for a veth.
fn unshare_network(channel: &Channel) {
    let message = match nix::sched::unshare(CloneFlags::CLONE_NEWNET) {
        Ok(()) => Message::Unshared,
        Err(e) => Message::Failed(Failure::os(Step::NetworkNamespace, "unshare", &io::Error::from(e))),
    };
    let failed = matches!(message, Message::Failed(_));
    if channel.send(&message).is_err() || failed {
        exit(status::FAILED);
    }
}

/// Moves into the container's cgroup v1 leaves, as the calling user (who
/// owns them), before anything else: see `cgroup::join`.
fn join_cgroups(leaves: &[PathBuf]) -> Result<(), Failure> {
    for leaf in leaves {
        cgroup::join(leaf).map_err(|e| Failure::os(Step::Cgroup, format!("joining {}", leaf.display()), &e))?;
    }
    Ok(())
}

fn command_name(spec: &Spec) -> String {
    let args = spec.process().as_ref().and_then(|p| p.args().as_ref());
    args.and_then(|a| a.first()).cloned().unwrap_or_default()
}

/// Ends the child; `status::FAILED` where it could not report its failure
/// (the parent then reports how the child ended).
fn exit(status: i32) -> ! {
    // _exit ends this forked copy without running the parent's atexit
    // handlers or flushing its copied stdio buffers.
    process::exit_now(status)
}

fn os(step: Step, detail: &str) -> impl FnOnce(nix::Error) -> Failure {
    let detail = detail.to_owned();
    move |e| Failure::os(step, detail, &io::Error::from(e))
}

/// Root of the new user namespace: uid and gid 0 (from the maps the helper
/// wrote), no supplementary groups where the gid map allows setgroups.
pub fn become_root(setgroups_allowed: bool) -> Result<(), Failure> {
    let (root_uid, root_gid) = (Uid::from_raw(0), Gid::from_raw(0));
    nix::unistd::setresgid(root_gid, root_gid, root_gid).map_err(os(Step::Identity, "setresgid(0)"))?;
    nix::unistd::setresuid(root_uid, root_uid, root_uid).map_err(os(Step::Identity, "setresuid(0)"))?;
    if setgroups_allowed {
        nix::unistd::setgroups(&[]).map_err(os(Step::Identity, "setgroups([])"))?;
    }
    Ok(())
}

/// The signal state the command starts with: the mask burrow started with,
/// and SIGPIPE's default action (Rust ignores SIGPIPE in its own processes;
/// the command must not inherit that).
pub fn restore_signals(signal_mask: &SigSet) -> Result<(), Failure> {
    signal::set_default(Signal::SIGPIPE).map_err(os(Step::Signals, "resetting SIGPIPE"))?;
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(signal_mask), None)
        .map_err(os(Step::Signals, "restoring the signal mask"))
}

/// The veth peers' names, one a line, as the parent wrote them into the
/// netpipe before closing it (after lxc's netpipe).
fn read_netpipe(netpipe: OwnedFd) -> Result<Vec<String>, Failure> {
    let text =
        files::read_capped_from(std::fs::File::from(netpipe), NETPIPE_MAX).map_err(|e| match e.raw_os_error() {
            Some(_) => Failure::os(Step::Network, "reading the netpipe", &e),
            None => Failure {
                step: Step::Network,
                errno: 0,
                detail: format!("reading the netpipe: {e}"),
            },
        })?;
    let names: Vec<String> = text.lines().map(str::to_owned).collect();
    if let Some(bad) = names.iter().find(|name| check_interface_name(name).is_err()) {
        return Err(Failure {
            step: Step::Network,
            errno: 0,
            detail: format!("bad interface name {bad:?} in the netpipe"),
        });
    }
    Ok(names)
}

/// What `configure` needs besides the spec.
struct Setup<'a> {
    channel: &'a Channel,
    netpipe: OwnedFd,
    setgroups_allowed: bool,
    signal_mask: &'a SigSet,
    seccomp: Result<Option<Program>, Failure>,
    dies_with_parent: bool,
}

fn configure(spec: &Spec, extensions: &Extensions, setup: Setup) -> Result<exec::Prepared, Failure> {
    let Setup {
        channel,
        netpipe,
        setgroups_allowed,
        signal_mask,
        seccomp,
        dies_with_parent,
    } = setup;
    confine::set_non_dumpable()?;
    // Withdraws the ptrace exception.
    let _ = prctl::set_ptracer_any(false);
    // Before exec, so that nothing the image runs can signal burrow's
    // process group (kill(0)) or reach the caller's terminal.
    nix::unistd::setsid().map_err(os(Step::Session, "setsid"))?;
    become_root(setgroups_allowed)?;

    if dies_with_parent {
        nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(os(Step::ParentDeath, "PR_SET_PDEATHSIG"))?;
        // POLLHUP is reported whatever the events asked for.
        let mut fds = [PollFd::new(channel.fd(), PollFlags::empty())];
        poll(&mut fds, PollTimeout::ZERO).map_err(os(Step::ParentDeath, "polling the sync socket"))?;
        if fds[0].revents().is_some_and(|r| r.contains(PollFlags::POLLHUP)) {
            exit(status::FAILED);
        }
    }

    let namespaces = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    if namespaces.iter().any(|ns| ns.typ() == LinuxNamespaceType::Cgroup) {
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP).map_err(os(Step::CgroupNamespace, "unshare"))?;
    }
    if let Some(hostname) = spec.hostname() {
        nix::unistd::sethostname(hostname).map_err(os(Step::Hostname, "sethostname"))?;
    }
    let peers = read_netpipe(netpipe)?;
    if namespaces.iter().any(|ns| ns.typ() == LinuxNamespaceType::Network) {
        let interfaces = &extensions.interfaces;
        if peers.len() != interfaces.len() {
            let detail = format!(
                "expected {} interface names from burrow, got {}",
                interfaces.len(),
                peers.len()
            );
            return Err(Failure {
                step: Step::Network,
                errno: 0,
                detail,
            });
        }
        network::configure(interfaces, &peers).map_err(|(what, e)| Failure::os(Step::Network, what, &e))?;
    }
    confine::apply_sysctls(spec)?;

    rootfs::build(spec, extensions)?;
    let cwd = spec
        .process()
        .as_ref()
        .map(|p| p.cwd().clone())
        .unwrap_or_else(|| "/".into());
    nix::unistd::chdir(&cwd).map_err(os(Step::Cwd, &format!("chdir to {}", cwd.display())))?;
    if spec::has_terminal(spec) {
        terminal::set_up(spec, channel)?;
    }

    fds::prepare_for_exec(extensions.preserve_fds)?;
    restore_signals(signal_mask)?;

    let process = spec.process().as_ref();
    let args = process.and_then(|p| p.args().clone()).unwrap_or_default();
    let env = process.and_then(|p| p.env().clone()).unwrap_or_default();
    let command = exec::prepare(&args, &env).map_err(|e| Failure::os(Step::Exec, command_name(spec), &e))?;
    let trees = extensions.landlock.then(|| confine::landlock::trees(spec));
    confine::apply(process, trees.as_deref(), seccomp, setgroups_allowed)?;
    Ok(command)
}
