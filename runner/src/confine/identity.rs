//! The command's ids (`process.user`: uid, gid, additionalGids, umask),
//! taken by the runner's child after the bounding set is dropped and before
//! the other capability sets are written, as runc does: with
//! PR_SET_KEEPCAPS across setresuid, so that the permitted set survives the
//! change to a uid other than 0 and capset can then give the command what
//! the spec says (for `burrow run --user`, nothing: cli/session.rs). Input:
//! the spec, whose ids the runner checked to be mapped in the container's
//! user namespace (spec/validate.rs).

use crate::sync::{Failure, Step};
use nix::sys::stat::{Mode, umask};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::User;
use std::io;

fn failed(what: &str) -> impl FnOnce(nix::Error) -> Failure + '_ {
    move |e| Failure::os(Step::Identity, what, &io::Error::from(e))
}

/// Takes `user`'s ids; `setgroups_allowed`: the gid map allows setgroups
/// (it is denied without subordinate gids, and then the additional gids
/// cannot be set).
pub fn apply(user: &User, setgroups_allowed: bool) -> Result<(), Failure> {
    if let Some(mask) = user.umask() {
        umask(Mode::from_bits_truncate(mask as libc::mode_t));
    }
    let additional: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    if user.uid() == 0 && user.gid() == 0 && additional.is_empty() {
        // The child is root of the container already (child.rs).
        return Ok(());
    }
    match (setgroups_allowed, additional.is_empty()) {
        (true, _) => nix::unistd::setgroups(&additional).map_err(failed("setgroups(process.user.additionalGids)"))?,
        (false, true) => {}
        (false, false) => {
            return Err(Failure {
                step: Step::Identity,
                errno: 0,
                detail: "process.user.additionalGids needs setgroups, which the container's user namespace denies \
                         (its gid map has no subordinate gids)"
                    .to_owned(),
            });
        }
    }
    let (uid, gid) = (Uid::from_raw(user.uid()), Gid::from_raw(user.gid()));
    nix::sys::prctl::set_keepcaps(true).map_err(failed("PR_SET_KEEPCAPS"))?;
    nix::unistd::setresgid(gid, gid, gid).map_err(failed("setresgid(process.user.gid)"))?;
    nix::unistd::setresuid(uid, uid, uid).map_err(failed("setresuid(process.user.uid)"))?;
    nix::sys::prctl::set_keepcaps(false).map_err(failed("PR_SET_KEEPCAPS"))
}
