//! `burrow unshare` (runner, unprivileged): CMD as root of a user namespace
//! with the caller's default maps (or `--uidmap`, `--gidmap`) and nothing
//! else isolated, as `podman unshare` and `lxc-usernsexec`: to unpack an
//! image owned by the ids a container will map, or to look at one.

use crate::cli::UnshareArgs;
use crate::cli::run::id_maps;
use crate::error::{Error, Result};
use crate::start::idmap::{self, Caller};
use crate::start::unshare;

pub fn run(args: &UnshareArgs) -> Result<i32> {
    let command = args.command.words("unshare").map_err(Error::Usage)?;
    let caller = Caller::current();
    let ([uid_map, gid_map], without_subids) = id_maps(&caller, &args.maps)?;
    if !without_subids.is_empty() {
        log::warn!("{}", idmap::no_subordinate_ids_notice(&caller, &without_subids));
    }
    unshare::run(&command, &caller, &uid_map, &gid_map)
}
