//! The container's terminal (runner's child, root of its namespaces, after
//! pivot_root): a pty opened in the container's own devpts instance, so
//! that its number, its /dev/pts entry and its job control are the
//! container's and nothing of the caller's terminal is reachable from
//! inside (no TIOCSTI into it, no TIOCSPGRP on it). The master goes to the
//! runner over the sync socket (SCM_RIGHTS), which relays it or hands it
//! to an engine's console socket; the slave becomes the controlling
//! terminal of the container's session, its stdio and its /dev/console.

use crate::child::rootfs;
use crate::sync::{Channel, Failure, Step};
use crate::sys::tty;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use oci_spec::runtime::Spec;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

fn failed(detail: &'static str) -> impl FnOnce(io::Error) -> Failure {
    move |e| Failure::os(Step::Terminal, detail, &e)
}

/// Opens the pty, sends its master to the runner and makes the slave the
/// session's controlling terminal, stdio and /dev/console. The child is a
/// session leader (setsid) already.
pub fn set_up(spec: &Spec, channel: &Channel) -> Result<(), Failure> {
    // /dev/ptmx is the link to pts/ptmx that rootfs.rs made in the
    // container's fresh /dev, so this is the container's devpts instance.
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let master =
        nix::fcntl::open("/dev/ptmx", flags, Mode::empty()).map_err(|e| failed("opening /dev/ptmx")(e.into()))?;
    tty::unlock(master.as_fd()).map_err(failed("unlocking the pty"))?;
    let slave = tty::open_peer(master.as_fd()).map_err(failed("opening the pty's slave"))?;
    if let Some(size) = spec.process().as_ref().and_then(|p| p.console_size()) {
        let size = tty::WindowSize {
            ws_row: size.height().try_into().unwrap_or(u16::MAX),
            ws_col: size.width().try_into().unwrap_or(u16::MAX),
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        tty::set_window_size(slave.as_fd(), &size).map_err(failed("setting the terminal's size"))?;
    }
    rootfs::bind_console(slave.as_fd())?;
    channel
        .send_fd(master.as_fd())
        .map_err(failed("sending the pty to burrow"))?;
    drop(master);
    tty::set_controlling(slave.as_fd()).map_err(failed("making the pty the controlling terminal"))?;
    become_stdio(slave)
}

/// Puts `tty` on fds 0, 1 and 2 (inheritable: dup2 clears close-on-exec),
/// then closes it.
fn become_stdio(tty: OwnedFd) -> Result<(), Failure> {
    let on_stdio = nix::unistd::dup2_stdin(tty.as_fd())
        .and_then(|()| nix::unistd::dup2_stdout(tty.as_fd()))
        .and_then(|()| nix::unistd::dup2_stderr(tty.as_fd()));
    on_stdio.map_err(|e| failed("putting the pty on stdio")(e.into()))
}
