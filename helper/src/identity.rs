//! Who the caller is. Runs in burrow-helper: the real ids (and, for veth and
//! cgroup, the groups) are read while it is still setuid root, the login and
//! group names after it dropped to the caller's uid. Trusted: only the
//! kernel's real uid/gid and groups, and root's password and group
//! databases; never argv, the environment (USER, LOGNAME), or anything about
//! the target.

use crate::error::Error;
use crate::sys;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
    /// The login name; `None` when the password database has no entry, in
    /// which case subordinate ranges are matched by numeric uid only.
    pub name: Option<String>,
}

impl Caller {
    /// The real uid and gid: who ran the helper, whatever the setuid bit did.
    pub fn from_real_ids() -> Caller {
        let (uids, gids) = sys::getresuid_getresgid();
        Caller {
            uid: uids[0],
            gid: gids[0],
            name: None,
        }
    }

    /// Looks up the login name of the real uid. A name that is not UTF-8
    /// cannot match a subid owner, so it counts as no name.
    pub fn look_up_name(&mut self) -> Result<(), Error> {
        let name = sys::passwd_name(self.uid)
            .map_err(|e| Error::os(format!("looking up uid {} in the password database", self.uid), e))?;
        self.name = name;
        Ok(())
    }

    /// The OWNER to match in /etc/subuid and /etc/subgid, and the USER in
    /// /etc/burrow/usernet and /etc/burrow/cgroup; the numeric uid matches
    /// too (`subid::granted`, `usernet::owner_matches`).
    pub fn subid_owner(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.uid.to_string())
    }

    /// How messages name the caller.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| format!("uid {}", self.uid))
    }
}

/// The caller's supplementary groups, as it had them at exec. Call while
/// still root: `privilege::drop_to` empties them.
pub fn supplementary_groups(op: &str) -> Result<Vec<u32>, Error> {
    sys::getgroups().map_err(|e| Error::os(format!("{op}: reading the caller's groups"), e))
}

/// The caller's groups as usernet and the cgroup policy match them: the real gid and every
/// supplementary group (as the caller had them at exec, recorded before the
/// drop), each by gid in decimal and by name when the group database has one.
pub fn group_names(real_gid: u32, supplementary: &[u32]) -> Result<Vec<String>, Error> {
    let mut names = Vec::new();
    for &gid in std::iter::once(&real_gid).chain(supplementary) {
        let name =
            sys::group_name(gid).map_err(|e| Error::os(format!("looking up gid {gid} in the group database"), e))?;
        names.extend(name);
        names.push(gid.to_string());
    }
    Ok(names)
}
