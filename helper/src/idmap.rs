//! The idmap operation: `check` (pure policy, unit-tested without root) and
//! `apply` (the only privileged writes). Runs in burrow-helper as the caller's
//! uid; `apply` raises CAP_SETUID or CAP_SETGID only around one map file each.
//! Untrusted: the requested mappings (argv) and the target (verified by
//! `target`). Trusted: the caller's real ids, and the policy files once
//! `policy_file` has checked them. Confined by seccomp from before the
//! target is verified, without Landlock (which would forbid opening the
//! target's `ns/user`: see `confine`).

use crate::error::Error;
use crate::identity::Caller;
use crate::target::{self, Target};
use crate::{confine, policy_file, privilege, sys};
use burrow_shared::ids::{IdKind, IdMapping, check_map, render_map};
use burrow_shared::request::IdmapRequest;
use burrow_shared::subid::{self, SubidEntry};
use caps::Capability;
use std::ffi::CStr;
use std::fmt;
use std::os::fd::OwnedFd;

/// The operation, from the still-privileged helper to the success line:
/// drop to the caller with CAP_SETUID/CAP_SETGID permitted, verify the
/// target, check the request against /etc/subuid and /etc/subgid (reading a
/// file only when needed), write the maps.
pub fn run(request: &IdmapRequest, target_fd_open: bool, mut caller: Caller) -> Result<String, Error> {
    let uid_caps = uid_map_caps(request, &caller);
    let mut permitted = uid_caps.clone();
    permitted.push(Capability::CAP_SETGID);
    privilege::drop_to(&caller, &permitted)?;
    caller.look_up_name()?;
    confine::confine(confine::Operation::Idmap)?;

    let kinds: Vec<IdKind> = [IdKind::Uid, IdKind::Gid]
        .into_iter()
        .filter(|&k| !request.map(k).is_empty())
        .collect();
    let target = target::verify(request.proc_fd, target_fd_open, &caller, &kinds)?;

    let mine = subid::parse_line_of(caller.subid_owner(), caller.uid);
    let mut load = |kind| policy_file::read(subid::path(kind), &mine);
    let setgroups = check(request, &caller, &mut load)?;

    apply(&target, request, setgroups, &uid_caps)?;
    let (pid, uids, gids) = (target.pid, request.uid.len(), request.gid.len());
    Ok(format!(
        "ok idmap pid={pid} uid={uids} gid={gids} setgroups={setgroups}"
    ))
}

/// What happens to /proc/PID/setgroups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setgroups {
    /// Written `deny` before gid_map: the gid map is only the caller's own
    /// gid, which must not let the namespace drop the caller's supplementary
    /// groups (shadow CVE-2018-7169).
    Deny,
    /// Left as `allow`: /etc/subgid granted at least one gid line.
    Allow,
    /// No gid map requested.
    Unchanged,
}

impl fmt::Display for Setgroups {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Setgroups::Deny => "deny",
            Setgroups::Allow => "allow",
            Setgroups::Unchanged => "unchanged",
        })
    }
}

/// The capabilities the uid_map write needs: CAP_SETUID, and CAP_SETFCAP
/// when the map has host uid 0 (the kernel asks the opener for it; `check`
/// refuses host id 0 to everyone but root).
pub fn uid_map_caps(request: &IdmapRequest, caller: &Caller) -> Vec<Capability> {
    let mut needed = vec![Capability::CAP_SETUID];
    if caller.uid == 0 && request.uid.iter().any(|m| m.host().start() == 0) {
        needed.push(Capability::CAP_SETFCAP);
    }
    needed
}

/// Reads a kind's policy file, keeping the caller's entries.
pub type Load<'a> = dyn FnMut(IdKind) -> Result<Vec<SubidEntry>, Error> + 'a;

/// Checks the whole request against policy before anything is written.
/// `load` reads a kind's policy file; it is called only when some line of
/// that kind is not the caller's own id with count 1.
pub fn check(request: &IdmapRequest, caller: &Caller, load: &mut Load) -> Result<Setgroups, Error> {
    let mut setgroups = Setgroups::Unchanged;
    for kind in [IdKind::Uid, IdKind::Gid] {
        let map = request.map(kind);
        if map.is_empty() {
            continue;
        }
        let used_grants = check_kind(kind, map, caller, load)?;
        if kind == IdKind::Gid {
            setgroups = if used_grants { Setgroups::Allow } else { Setgroups::Deny };
        }
    }
    Ok(setgroups)
}

/// One kind's map: its shape, then host id 0, then each line's grant. Returns
/// whether some line needed the policy file.
fn check_kind(kind: IdKind, map: &[IdMapping], caller: &Caller, load: &mut Load) -> Result<bool, Error> {
    check_map(map).map_err(|e| Error::refused(format!("idmap: bad {kind} map: {e}")))?;
    match map.iter().find(|m| m.host().start() == 0) {
        Some(&m) if caller.uid != 0 => {
            return Err(Error::refused(format!(
                "idmap: {kind} range {m} maps host id 0, which only root may map"
            )));
        }
        _ => {}
    }
    let own_id = if kind == IdKind::Uid { caller.uid } else { caller.gid };
    let mut granted = None;
    for &m in map.iter().filter(|m| !(m.count() == 1 && m.host().start() == own_id)) {
        let ranges = match &granted {
            Some(ranges) => ranges,
            None => granted.insert(subid::granted(&load(kind)?, &caller.subid_owner(), caller.uid)),
        };
        if !subid::covers(ranges, m.host()) {
            let (user, file) = (caller.display_name(), subid::path(kind));
            return Err(Error::refused(format!(
                "idmap: {kind} range {m} is not granted to {user} by {file}"
            )));
        }
    }
    Ok(granted.is_some())
}

/// Writes what `check` approved: `deny` to setgroups if asked, then gid_map,
/// then uid_map, each in one write(2). All files are opened first and the
/// target's namespace re-checked, so a target that moved writes nothing.
pub fn apply(
    target: &Target,
    request: &IdmapRequest,
    setgroups: Setgroups,
    uid_caps: &[Capability],
) -> Result<(), Error> {
    // SECURITY: setgroups needs no capability (the kernel asks only that the
    // opener own the namespace); `deny` only removes a right.
    let setgroups_file = match setgroups {
        Setgroups::Deny => Some(target.open_for_write(c"setgroups")?),
        _ => None,
    };
    let gid_caps = [Capability::CAP_SETGID];
    let gid_map = open_map(target, c"gid_map", &request.gid, &gid_caps)?;
    let uid_map = open_map(target, c"uid_map", &request.uid, uid_caps)?;
    // SECURITY: closes the window between target::verify and the opens: the
    // files belong to the namespace that was verified, or nothing is written.
    target.recheck_userns()?;

    if let Some(file) = setgroups_file {
        // SECURITY: no capability effective; written before gid_map, as the
        // kernel requires (shadow CVE-2018-7169).
        write_once(file, c"setgroups", "deny")?;
    }
    if let Some((file, name, text)) = gid_map {
        // SECURITY: text is the gid map check() approved; CAP_SETGID is
        // effective only for this write, which the kernel limits further to
        // the target's namespace (write-once, owned by the caller).
        privilege::with_effective(&gid_caps, || write_once(file, name, &text))?;
    }
    if let Some((file, name, text)) = uid_map {
        // SECURITY: as for gid_map, with CAP_SETUID (and CAP_SETFCAP for a
        // root caller mapping host uid 0).
        privilege::with_effective(uid_caps, || write_once(file, name, &text))?;
    }
    Ok(())
}

/// Opens a map file for a non-empty map, with its rendered text.
fn open_map<'a>(
    target: &Target,
    name: &'a CStr,
    map: &[IdMapping],
    caps: &[Capability],
) -> Result<Option<(OwnedFd, &'a CStr, String)>, Error> {
    if map.is_empty() {
        return Ok(None);
    }
    // SECURITY: the kernel judges a map write by the opener's credentials as
    // well as the writer's; the one capability this map needs is effective
    // only while opening it, as the caller's uid.
    let file = privilege::with_effective(caps, || target.open_for_write(name))?;
    Ok(Some((file, name, render_map(map))))
}

/// One write(2) of the whole text; a short write is an error.
fn write_once(file: OwnedFd, name: &CStr, text: &str) -> Result<(), Error> {
    sys::write_once(file, text).map_err(|e| Error::os(format!("idmap: writing {}", name.to_string_lossy()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burrow_shared::ids::MAX_MAP_LINES;

    fn m(ns: u32, host: u32, count: u32) -> IdMapping {
        IdMapping::new(ns, host, count).unwrap()
    }

    fn alice() -> Caller {
        Caller {
            uid: 1000,
            gid: 1000,
            name: Some("alice".into()),
        }
    }

    const SUBUID: &str = "alice:100000:65536\nbob:165536:65536\n1000:300000:10\nalice:300010:10\nalice:2000:400\n";

    /// Runs check with SUBUID as both policy files; returns the outcome and
    /// which files were read.
    fn run(uid: Vec<IdMapping>, gid: Vec<IdMapping>, caller: &Caller) -> (Result<Setgroups, String>, Vec<IdKind>) {
        let request = IdmapRequest { proc_fd: 3, uid, gid };
        let mut loaded = Vec::new();
        let mut load = |kind| {
            loaded.push(kind);
            Ok(subid::read_lines(SUBUID.as_bytes(), subid::parse_line)
                .unwrap()
                .unwrap())
        };
        let result = check(&request, caller, &mut load).map_err(|e| e.to_string());
        (result, loaded)
    }

    #[test]
    fn own_id_needs_no_policy_file() {
        assert_eq!(
            run(vec![m(0, 1000, 1)], vec![m(0, 1000, 1)], &alice()),
            (Ok(Setgroups::Deny), vec![])
        );
        assert_eq!(
            run(vec![m(5, 1000, 1)], vec![], &alice()),
            (Ok(Setgroups::Unchanged), vec![])
        );
        // The own id is the uid for uid_map and the gid for gid_map.
        let carol = Caller { gid: 1001, ..alice() };
        assert_eq!(
            run(vec![m(0, 1000, 1)], vec![m(0, 1001, 1)], &carol),
            (Ok(Setgroups::Deny), vec![])
        );
        assert_eq!(
            run(vec![], vec![m(0, 1000, 1)], &carol).0.unwrap_err(),
            "idmap: gid range [0-1) -> [1000-1001) is not granted to alice by /etc/subgid"
        );
        // Own id with count 2 is no longer "own id": it needs a grant.
        let (result, loaded) = run(vec![m(0, 1000, 2)], vec![], &alice());
        assert_eq!(loaded, vec![IdKind::Uid]);
        assert_eq!(
            result.unwrap_err(),
            "idmap: uid range [0-2) -> [1000-1002) is not granted to alice by /etc/subuid"
        );
    }

    #[test]
    fn subordinate_ranges_by_name_and_by_uid() {
        let full = vec![m(0, 1000, 1), m(1, 100000, 65536)];
        assert_eq!(
            run(full.clone(), full.clone(), &alice()),
            (Ok(Setgroups::Allow), vec![IdKind::Uid, IdKind::Gid])
        );
        // Granted by numeric uid only (300000:10), with and without a name.
        assert_eq!(
            run(vec![m(0, 300000, 10)], vec![], &alice()).0,
            Ok(Setgroups::Unchanged)
        );
        let nameless = Caller { name: None, ..alice() };
        assert_eq!(
            run(vec![m(0, 300000, 10)], vec![], &nameless).0,
            Ok(Setgroups::Unchanged)
        );
        assert_eq!(
            run(vec![m(0, 100000, 1)], vec![], &nameless).0.unwrap_err(),
            "idmap: uid range [0-1) -> [100000-100001) is not granted to uid 1000 by /etc/subuid"
        );
        // Adjacent entries (one by uid, one by name) merge and may be spanned.
        assert_eq!(
            run(vec![m(0, 300000, 20)], vec![], &alice()).0,
            Ok(Setgroups::Unchanged)
        );
        // Someone else's range.
        assert!(
            run(vec![m(0, 165536, 1)], vec![], &alice())
                .0
                .unwrap_err()
                .contains("is not granted to alice")
        );
    }

    #[test]
    fn range_edges() {
        let ok = |host, count| run(vec![m(0, host, count)], vec![], &alice()).0.is_ok();
        assert!(ok(100000, 65536) && ok(165535, 1) && ok(100000, 1));
        assert!(!ok(99999, 1), "one id before the range");
        assert!(!ok(165536, 1), "one id beyond the range");
        assert!(!ok(100000, 65537), "one id too many");
        assert!(!ok(300000, 21), "one id beyond the merged range");
        // Several lines: each must be granted; the first refused is named.
        let (result, _) = run(vec![m(0, 100000, 10), m(10, 165536, 1)], vec![], &alice());
        assert_eq!(
            result.unwrap_err(),
            "idmap: uid range [10-11) -> [165536-165537) is not granted to alice by /etc/subuid"
        );
    }

    #[test]
    fn host_id_0() {
        let (result, loaded) = run(vec![m(0, 0, 1)], vec![], &alice());
        assert_eq!(
            result.unwrap_err(),
            "idmap: uid range [0-1) -> [0-1) maps host id 0, which only root may map"
        );
        assert_eq!(loaded, vec![], "refused before reading the policy file");
        let (result, _) = run(vec![], vec![m(0, 1000, 1), m(1, 0, 5)], &alice());
        assert_eq!(
            result.unwrap_err(),
            "idmap: gid range [1-6) -> [0-5) maps host id 0, which only root may map"
        );
        // Root may map host id 0 as its own id; wider ranges still need a grant.
        let root = Caller {
            uid: 0,
            gid: 0,
            name: Some("root".into()),
        };
        assert_eq!(
            run(vec![m(0, 0, 1)], vec![m(0, 0, 1)], &root),
            (Ok(Setgroups::Deny), vec![])
        );
        assert!(
            run(vec![m(0, 0, 2)], vec![], &root)
                .0
                .unwrap_err()
                .contains("is not granted to root by /etc/subuid")
        );
        let request = IdmapRequest {
            proc_fd: 3,
            uid: vec![m(0, 0, 1)],
            gid: vec![],
        };
        assert_eq!(
            uid_map_caps(&request, &root),
            [Capability::CAP_SETUID, Capability::CAP_SETFCAP]
        );
        assert_eq!(uid_map_caps(&request, &alice()), [Capability::CAP_SETUID]);
    }

    #[test]
    fn map_shape_comes_first() {
        let (result, loaded) = run(vec![m(0, 100000, 10), m(5, 100010, 10)], vec![], &alice());
        assert_eq!(
            result.unwrap_err(),
            "idmap: bad uid map: [0-10) -> [100000-100010) and [5-15) -> [100010-100020) overlap inside the namespace"
        );
        assert_eq!(loaded, vec![]);
        let too_many: Vec<_> = (0..=MAX_MAP_LINES as u32).map(|i| m(i, 100000 + i, 1)).collect();
        let (result, _) = run(vec![], too_many, &alice());
        assert_eq!(
            result.unwrap_err(),
            "idmap: bad gid map: the map has 341 lines, more than the kernel's 340"
        );
        // 340 lines that fit in one write are checked line by line; 340
        // lines of longer ids do not fit in the kernel's one-page write.
        let full: Vec<_> = (0..MAX_MAP_LINES as u32).map(|i| m(i, 2000 + i, 1)).collect();
        assert_eq!(run(full, vec![], &alice()).0, Ok(Setgroups::Unchanged));
        let long: Vec<_> = (0..MAX_MAP_LINES as u32).map(|i| m(i, 100000 + i, 1)).collect();
        let (result, _) = run(long, vec![], &alice());
        assert_eq!(
            result.unwrap_err(),
            "idmap: bad uid map: the map is 4310 bytes long, more than the kernel's 4095"
        );
        // The uid map is checked entirely before the gid map.
        let (result, _) = run(vec![m(0, 0, 1)], vec![m(0, 1, 1), m(0, 2, 1)], &alice());
        assert!(result.unwrap_err().starts_with("idmap: uid range"));
    }

    #[test]
    fn setgroups_decision() {
        let own = vec![m(0, 1000, 1)];
        assert_eq!(run(own.clone(), vec![], &alice()).0, Ok(Setgroups::Unchanged));
        assert_eq!(run(vec![], own.clone(), &alice()).0, Ok(Setgroups::Deny));
        assert_eq!(
            run(vec![], vec![m(0, 1000, 1), m(1, 100000, 1)], &alice()).0,
            Ok(Setgroups::Allow)
        );
        // A granted range without the own gid also allows setgroups.
        assert_eq!(run(vec![], vec![m(0, 100000, 1)], &alice()).0, Ok(Setgroups::Allow));
        assert_eq!(Setgroups::Deny.to_string(), "deny");
    }
}
