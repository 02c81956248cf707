//! The cgroup operation: in each cgroup hierarchy, a cgroup delegated to the
//! caller (`BASE/burrow-UID`, BASE being root's WHERE from /etc/burrow/cgroup,
//! or for `nest` the caller's own cgroup) with root's ceilings on it, and a
//! fresh leaf below it for the target process. Runs in
//! burrow-helper: the groups are read as root, everything else as the
//! caller's uid with CAP_CHOWN, CAP_DAC_OVERRIDE and CAP_SETUID permitted,
//! each effective only around the calls that need it. Untrusted: the target
//! fd and the leaf name (argv), the target process, and the cgroup paths in
//! /proc/PID/cgroup (a cgroup name may hold any byte but `/`). Trusted: the
//! caller's real ids and groups, root's policy file once `policy_file` has
//! checked it, and the kernel (mountinfo, statfs magic, its delegate list).
//!
//! 1. As root: record the caller's supplementary groups; then drop privilege
//!    and confine (`confine`: no_new_privs and seccomp).
//! 2. `target::open`: the /proc/PID fd is open, on procfs, its process alive
//!    and all four of its uids the caller's.
//! 3. The first rule naming the caller; none: refused, before any cgroup is
//!    looked at.
//! 4. `plan`: the hierarchies (`cgroup_policy::cgroup_mounts`); in each, the
//!    helper's own cgroup, which must be the target's too, and BASE, both
//!    below the mount's root; the leaf paths, free of whitespace.
//! 5. If a cgroup2 leaf is planned, `Target::hold`: the target's pid stays
//!    its own until the helper exits. Then Landlock
//!    (`confine::landlock_cgroup`: a sandboxed process may not seize one
//!    outside its sandbox), before any cgroup file is touched.
//! 6. `apply`: in every hierarchy, open the mount point (walked from `/`:
//!    cgroupfs magic, the device mountinfo names) and walk from it to BASE
//!    and the own cgroup. Then in each: D = BASE/burrow-UID, created as
//!    fsuid 0 if missing; D's ceilings and (v2) its children's controllers;
//!    D and its delegated files chowned to the caller; L = D/NAME created as
//!    fsuid 0, L and its allowlisted files chowned. Then the target is moved
//!    into each cgroup2 L and its status read again. Into a v1 L the caller
//!    moves its process itself (the runner's child writes 0 to L's `tasks`,
//!    which is the caller's): cgroup v1 lets the owner of that file do so,
//!    and a thread that moves itself spares the kernel the RCU grace period
//!    (milliseconds) that any move by pid costs. On any failure the target
//!    goes back to its own cgroup and each L this run created is removed (D
//!    stays: it is empty and reused).

use crate::error::Error;
use crate::identity::{self, Caller};
use crate::target::{self, Target};
use crate::{confine, policy_file, privilege, sys};
use burrow_shared::cgroup_policy::{self, CGROUP_FILE, Ceilings, CgroupMount, Place, V2_CONTROLLERS, is_denied};
use burrow_shared::request::CgroupRequest;
use caps::Capability::{CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_SETUID};
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};

const DIR_FLAGS: libc::c_int = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW;
/// The kernel tables read by fixed path are read up to this size.
const MAX_TABLE: u64 = 4 << 20;

/// Besides the directories themselves, the caller gets: of D, the kernel's
/// delegate list (v2) or `V1_DELEGATED`; of L, the delegate list and
/// `V2_LEAF` (v2) or `V1_LEAF`. Never any other file, so never a ceiling of D.
const V2_LEAF: &str = "cgroup.kill memory.max memory.swap.max pids.max cpu.max cpu.weight memory.oom.group";
const V1_DELEGATED: &str = "tasks cgroup.procs";
const V1_LEAF: &str = "tasks cgroup.procs memory.limit_in_bytes memory.memsw.limit_in_bytes pids.max \
                       cpu.cfs_quota_us cpu.cfs_period_us cpu.shares freezer.state";

/// The operation, from the still-privileged helper to the success line.
pub fn run(request: &CgroupRequest, fd_open: bool, mut caller: Caller) -> Result<String, Error> {
    // 1.
    let supplementary = identity::supplementary_groups("cgroup")?;
    privilege::drop_to(&caller, &[CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_SETUID])?;
    caller.look_up_name()?;
    let groups = identity::group_names(caller.gid, &supplementary)?;
    confine::confine(confine::Operation::Cgroup)?;
    // 2.
    let target = target::open("cgroup", request.proc_fd, fd_open, caller.uid)?;
    // 3.
    let rules = policy_file::read(CGROUP_FILE, cgroup_policy::parse_line)?;
    let rule = cgroup_policy::find(&rules, &caller.subid_owner(), caller.uid, &groups).ok_or_else(|| {
        Error::refused(format!(
            "cgroup: {} may not have cgroups delegated (no entry in {CGROUP_FILE})",
            caller.display_name()
        ))
    })?;
    // 4.
    let mounts = cgroup_policy::cgroup_mounts(&read_table(c"/proc/self/mountinfo")?, request.for_init);
    let own = read_table(c"/proc/self/cgroup")?;
    let plans = plan(
        &mounts,
        &own,
        &target.read(c"cgroup")?,
        &rule.place,
        caller.uid,
        &request.name,
    )?;
    // 5.
    if plans.iter().any(|p| p.mount.v2) {
        target.hold(caller.uid)?;
    }
    confine::landlock_cgroup(&mounts)?;
    // 6.
    apply(&plans, &rule.ceilings, &target, caller.uid, &request.name)?;
    let leaves: Vec<&str> = plans.iter().map(|p| p.leaf.as_str()).collect();
    Ok(format!("ok cgroup {}", leaves.join(" ")))
}

/// One hierarchy, checked but not yet opened.
#[derive(Debug)]
struct Plan<'a> {
    mount: &'a CgroupMount,
    /// The helper's own cgroup and BASE: as cgroup paths, and as components
    /// below the mount's root.
    own_path: &'a str,
    own: Vec<&'a str>,
    base_path: &'a str,
    base: Vec<&'a str>,
    /// L's path, as printed.
    leaf: String,
}

/// The pure part of step 4: `own` and `target` are the helper's and the
/// target's /proc/PID/cgroup.
fn plan<'a>(
    mounts: &'a [CgroupMount],
    own: &'a str,
    target: &str,
    place: &'a Place,
    uid: u32,
    name: &str,
) -> Result<Vec<Plan<'a>>, Error> {
    if mounts.is_empty() {
        return Err(Error::refused("cgroup: no cgroup hierarchy is mounted"));
    }
    let bad = |text: &str| text.contains(|c: char| c.is_whitespace() || c.is_control());
    let mut plans = Vec::new();
    for mount in mounts {
        let Some(own_path) = cgroup_policy::cgroup_path(own, mount) else {
            let why = format!("no single line for the hierarchy mounted on {}", mount.point);
            return Err(Error::os("cgroup: reading /proc/self/cgroup", why));
        };
        if cgroup_policy::cgroup_path(target, mount) != Some(own_path) {
            return Err(Error::refused(format!(
                "cgroup: target process is not in the caller's cgroup in {}",
                mount.point
            )));
        }
        // The kernel escapes whitespace in a mount point as `\040` and such.
        if bad(own_path) || bad(&mount.point) || mount.point.contains('\\') {
            return Err(Error::refused(format!(
                "cgroup: a cgroup path in {} contains whitespace",
                mount.point
            )));
        }
        let base_path = match place {
            Place::Nest => own_path,
            Place::Path(path) => path,
        };
        let below =
            |path: &'a str| cgroup_policy::below_root(path, &mount.root).ok_or_else(|| missing(path, &mount.point));
        let (own, base) = (below(own_path)?, below(base_path)?);
        let base_shown: String = base.iter().map(|c| format!("/{c}")).collect();
        let leaf = format!("{}{base_shown}/burrow-{uid}/{name}", mount.point);
        plans.push(Plan {
            mount,
            own_path,
            own,
            base_path,
            base,
            leaf,
        });
    }
    Ok(plans)
}

/// A leaf this run created: its parent D, the L directory once opened, and
/// the helper's own cgroup, where the target goes back on failure.
struct Leaf {
    own: OwnedFd,
    d: OwnedFd,
    dir: Option<OwnedFd>,
    path: String,
    v2: bool,
    moved: bool,
}

/// Step 6, with its roll-back.
fn apply(plans: &[Plan], ceilings: &Ceilings, target: &Target, uid: u32, name: &str) -> Result<(), Error> {
    let delegated = match plans.iter().any(|p| p.mount.v2) {
        true => read_table(c"/sys/kernel/cgroup/delegate")?,
        false => String::new(),
    };
    let delegated: Vec<&str> = delegated.split_whitespace().collect();
    // Every BASE is found before anything is created anywhere.
    let dirs = plans.iter().map(open_dirs).collect::<Result<Vec<_>, _>>()?;
    let mut leaves = Vec::new();
    let pid = target.pid.to_string();
    let result = plans
        .iter()
        .zip(dirs)
        .try_for_each(|(plan, dirs)| delegate(plan, dirs, ceilings, &delegated, uid, name, &mut leaves))
        .and_then(|()| {
            for leaf in &mut leaves {
                if let Some(dir) = leaf.dir.as_ref().filter(|_| leaf.v2) {
                    move_to(dir, &pid, format!("cgroup: moving the target into {}", leaf.path))?;
                    leaf.moved = true;
                }
            }
            target.check_status(uid)
        });
    if result.is_err() {
        let name = CString::new(name).unwrap_or_default();
        for leaf in leaves.iter().rev() {
            if leaf.moved {
                let _ = move_to(&leaf.own, &pid, String::new());
            }
            // SECURITY: no capability (the caller owns D); only the leaves
            // this run created, by the name it validated.
            let _ = sys::rmdir_at(leaf.d.as_fd(), &name);
        }
    }
    result
}

/// A hierarchy's mount point, then the helper's own cgroup and BASE in it.
fn open_dirs(plan: &Plan) -> Result<(OwnedFd, OwnedFd), Error> {
    let mount = plan.mount;
    let opening = |path: &str| {
        let (path, point) = (path.to_owned(), mount.point.clone());
        move |e: io::Error| match e.raw_os_error() {
            Some(libc::ENOENT) => missing(&path, &point),
            _ => Error::os(format!("cgroup: opening {path} in {point}"), e),
        }
    };
    let root = open_mount(mount).map_err(|e| Error::os(format!("cgroup: opening {}", mount.point), e))?;
    let own = walk(&root, &plan.own, mount).map_err(opening(plan.own_path))?;
    Ok((own, walk(&root, &plan.base, mount).map_err(opening(plan.base_path))?))
}

/// Steps 1 to 4 of the contract in one hierarchy: D, its ceilings, D handed
/// over, L created and handed over (and recorded in `leaves`).
fn delegate(
    plan: &Plan,
    (own, base): (OwnedFd, OwnedFd),
    ceilings: &Ceilings,
    delegated: &[&str],
    uid: u32,
    name: &str,
    leaves: &mut Vec<Leaf>,
) -> Result<(), Error> {
    let (mount, v2) = (plan.mount, plan.mount.v2);
    let (d_name, d_path) = (format!("burrow-{uid}"), &plan.leaf[..plan.leaf.len() - name.len() - 1]);
    let failed = |doing: &str, path: &str| {
        let doing = format!("cgroup: {doing} {path}");
        move |e: io::Error| Error::os(doing, e)
    };

    // 1. D, idempotent.
    // SECURITY: fsuid 0 (and CAP_DAC_OVERRIDE: BASE may be a 0555 root or the
    // caller's) for one mkdirat of the name the helper composed, in BASE as
    // walked from the verified mount: D and its ceiling files are root's.
    privilege::as_root_creator(uid, || match mkdir(&base, &d_name) {
        Err(e) if e.raw_os_error() != Some(libc::EEXIST) => Err(failed("creating", d_path)(e)),
        _ => Ok(()),
    })?;
    let d = walk(&base, &[&d_name], mount).map_err(failed("opening", d_path))?;
    // 2.
    // SECURITY: CAP_DAC_OVERRIDE for writes to root's files of D only: the
    // rule's ceilings, and the controllers D has for its children.
    privilege::with_effective(&[CAP_DAC_OVERRIDE], || {
        let writes: Vec<_> = ceilings
            .writes(v2)
            .into_iter()
            .filter(|(f, _)| mount.may_have(f))
            .collect();
        write_ceilings(&d, &writes, d_path)?;
        if v2 {
            enable_controllers(&d).map_err(failed("enabling controllers in", d_path))?;
        }
        Ok(())
    })?;
    // 3.
    let files: Vec<&str> = if v2 {
        delegated.to_vec()
    } else {
        V1_DELEGATED.split(' ').collect()
    };
    chown_all(&d, &files, mount, uid, d_path)?;
    // 4.
    // SECURITY: as for D, one mkdirat of the validated NAME in D (which the
    // caller may own by now): L's other files stay root's.
    privilege::as_root_creator(uid, || match mkdir(&d, name) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            Err(Error::refused(format!("cgroup: {name} already exists")))
        }
        result => result.map_err(failed("creating", &plan.leaf)),
    })?;
    let path = plan.leaf.clone();
    let leaf = walk(&d, &[name], mount).map_err(failed("opening", &path));
    leaves.push(Leaf {
        own,
        d,
        dir: None,
        path,
        v2,
        moved: false,
    });
    let leaf = leaf?;
    let files: Vec<&str> = match v2 {
        true => delegated.iter().copied().chain(V2_LEAF.split(' ')).collect(),
        false => V1_LEAF.split_whitespace().collect(),
    };
    chown_all(&leaf, &files, mount, uid, &plan.leaf)?;
    if let Some(last) = leaves.last_mut() {
        last.dir = Some(leaf);
    }
    Ok(())
}

/// Opens a mount point from `/` one component at a time, following no
/// symlink, and checks it is the cgroup file system mountinfo named.
fn open_mount(mount: &CgroupMount) -> io::Result<OwnedFd> {
    let root = sys::openat(None, c"/", DIR_FLAGS)?;
    let parts: Vec<&str> = mount.point.split('/').filter(|p| !p.is_empty()).collect();
    let dir = parts.iter().try_fold(root, |dir, part| {
        sys::openat(Some(dir.as_fd()), &component(part)?, DIR_FLAGS)
    })?;
    check_on(&dir, mount)?;
    Ok(dir)
}

/// Walks from `from` down `parts`, each a directory on the same cgroup mount.
fn walk(from: &OwnedFd, parts: &[&str], mount: &CgroupMount) -> io::Result<OwnedFd> {
    parts.iter().try_fold(from.try_clone()?, |dir, part| {
        let next = sys::openat(Some(dir.as_fd()), &component(part)?, DIR_FLAGS)?;
        check_on(&next, mount)?;
        Ok(next)
    })
}

/// A directory of `mount`'s hierarchy: cgroupfs magic (v1 or v2, as
/// mountinfo said) and the file system's device, so never another mount.
fn check_on(fd: &OwnedFd, mount: &CgroupMount) -> io::Result<()> {
    let magic = if mount.v2 {
        sys::CGROUP2_SUPER_MAGIC
    } else {
        sys::CGROUP_SUPER_MAGIC
    };
    let st = sys::fstat(fd.as_fd())?;
    let dev = format!("{}:{}", libc::major(st.st_dev), libc::minor(st.st_dev));
    match sys::fs_magic(fd.as_fd())? == magic && dev == mount.dev && st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        true => Ok(()),
        false => Err(io::Error::other(format!(
            "not a directory of the hierarchy mounted on {}",
            mount.point
        ))),
    }
}

fn missing(path: &str, mount_point: &str) -> Error {
    Error::refused(format!("cgroup: {path} does not exist in {mount_point}"))
}

/// One path component: never empty, `.`, `..`, or holding `/` or NUL.
fn component(name: &str) -> io::Result<CString> {
    match name {
        "" | "." | ".." => Err(io::Error::other(format!("bad path component {name:?}"))),
        _ if name.contains('/') => Err(io::Error::other(format!("bad path component {name:?}"))),
        _ => CString::new(name).map_err(io::Error::other),
    }
}

/// A file name of a cgroup to chown or write: one component, and never one
/// on the deny-list (checked before every chown and write, CVE-2022-0492).
fn file_name(name: &str) -> io::Result<CString> {
    if is_denied(name) {
        return Err(io::Error::other(format!("refusing to touch {name} (CVE-2022-0492)")));
    }
    component(name)
}

fn mkdir(dir: &OwnedFd, name: &str) -> io::Result<()> {
    sys::mkdirat(dir.as_fd(), &component(name)?, 0o755)
}

/// One write(2) of `value` to `dir/name`.
fn write_file(dir: &OwnedFd, name: &str, value: &str) -> io::Result<()> {
    let flags = libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_NOCTTY;
    sys::write_once(sys::openat(Some(dir.as_fd()), &file_name(name)?, flags)?, value)
}

/// Writes the ceilings on D (CAP_DAC_OVERRIDE is effective: D's files are
/// root's). A file missing here belongs to a controller this hierarchy lacks
/// and is skipped; one the kernel refuses (EINVAL) is tried again after the
/// others, since v1 keeps memory.limit_in_bytes <= memory.memsw.limit_in_bytes
/// and a new pair may need the other order.
fn write_ceilings(d: &OwnedFd, writes: &[(&str, String)], d_path: &str) -> Result<(), Error> {
    let failed = |file: &str| {
        let doing = format!("cgroup: writing {d_path}/{file}");
        move |e| Error::os(doing, e)
    };
    let mut retry = Vec::new();
    for (file, value) in writes {
        // SECURITY: names from `Ceilings::writes`, checked against the deny-list.
        match write_file(d, file, value) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => retry.push((file, value)),
            result => result.map_err(failed(file))?,
        }
    }
    for (file, value) in retry {
        write_file(d, file, value).map_err(failed(file))?;
    }
    Ok(())
}

/// Enables in D's cgroup.subtree_control what D's cgroup.controllers offers
/// of `V2_CONTROLLERS` (none is fine).
fn enable_controllers(d: &OwnedFd) -> io::Result<()> {
    let file = sys::openat(
        Some(d.as_fd()),
        c"cgroup.controllers",
        libc::O_RDONLY | libc::O_NOFOLLOW,
    )?;
    let available = sys::read_text(file, MAX_TABLE)?;
    let enable: Vec<String> = available
        .split_whitespace()
        .filter(|c| V2_CONTROLLERS.contains(c))
        .map(|c| format!("+{c}"))
        .collect();
    match enable.is_empty() {
        // SECURITY: only controllers D already has, for D's children.
        false => write_file(d, "cgroup.subtree_control", &enable.join(" ")),
        true => Ok(()),
    }
}

/// Gives the caller `dir` itself and those of `files` that exist in it.
fn chown_all(dir: &OwnedFd, files: &[&str], mount: &CgroupMount, uid: u32, shown: &str) -> Result<(), Error> {
    let failed = |file: &str| {
        let doing = format!("cgroup: changing the owner of {shown}{file}");
        move |e| Error::os(doing, e)
    };
    privilege::with_effective(&[CAP_CHOWN], || {
        // SECURITY: the directory (by its verified fd) and only the files
        // named by the kernel's delegate list or the allowlists above, each
        // checked against the deny-list; owner the caller, group unchanged.
        sys::chown_at(dir.as_fd(), c"", uid).map_err(failed(""))?;
        // Not one of this hierarchy's: no such file (no lookup for nothing).
        for file in files.iter().filter(|f| mount.may_have(f)) {
            match file_name(file).and_then(|name| sys::chown_at(dir.as_fd(), &name, uid)) {
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                result => result.map_err(failed(&format!("/{file}")))?,
            }
        }
        Ok(())
    })
}

/// Writes the held target's pid to `dir`/cgroup.procs.
fn move_to(dir: &OwnedFd, pid: &str, doing: String) -> Result<(), Error> {
    // SECURITY: the pid is the target's (held by `Target::hold`, so never
    // reused), whose cgroup `plan` showed to be the helper's own; `dir` is
    // the new cgroup2 L or, on failure, that own cgroup. cgroup v2 judges a
    // move by the opener's right to write the common ancestor's
    // cgroup.procs, which CAP_DAC_OVERRIDE grants.
    privilege::with_effective(&[CAP_DAC_OVERRIDE], || {
        write_file(dir, "cgroup.procs", pid).map_err(|e| Error::os(doing, e))
    })
}

/// Reads a kernel table by its fixed path.
fn read_table(path: &CStr) -> Result<String, Error> {
    let failed = |e| Error::os(format!("cgroup: reading {}", path.to_string_lossy()), e);
    sys::read_text(sys::openat(None, path, libc::O_RDONLY).map_err(failed)?, MAX_TABLE).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";
    const OWN: &str = "9:name=systemd:/\n4:memory:/jobs/42\n1:cpu:/\n0::/\n";

    fn run(own: &str, target: &str, place: Place) -> Result<Vec<String>, String> {
        let mounts = cgroup_policy::cgroup_mounts(MOUNTINFO, false);
        let plans = plan(&mounts, own, target, &place, 1000, "c-1").map_err(|e| e.to_string())?;
        Ok(plans.into_iter().map(|p| p.leaf).collect())
    }

    #[test]
    fn leaves_below_own_cgroup_or_where() {
        assert_eq!(
            run(OWN, OWN, Place::Nest),
            Ok(vec![
                "/sys/fs/cgroup/cpu/burrow-1000/c-1".to_owned(),
                "/sys/fs/cgroup/memory/jobs/42/burrow-1000/c-1".to_owned(),
                "/sys/fs/cgroup/unified/burrow-1000/c-1".to_owned(),
            ])
        );
        let leaves = run(OWN, OWN, Place::Path("/burrow".into())).unwrap();
        assert!(leaves.iter().all(|leaf| leaf.ends_with("/burrow/burrow-1000/c-1")));
        let mounts = cgroup_policy::cgroup_mounts(MOUNTINFO, false);
        let plans = plan(&mounts, OWN, OWN, &Place::Nest, 7, "x").unwrap();
        assert_eq!(
            (plans[1].own.clone(), plans[1].base.clone()),
            (vec!["jobs", "42"], vec!["jobs", "42"])
        );
        assert_eq!(plans[0].own, Vec::<&str>::new());
    }

    #[test]
    fn refusals() {
        let mounts: Vec<CgroupMount> = Vec::new();
        let none = plan(&mounts, OWN, OWN, &Place::Nest, 1000, "c-1").unwrap_err();
        assert_eq!(
            (none.to_string(), none.exit_code()),
            ("cgroup: no cgroup hierarchy is mounted".into(), 77)
        );
        // The target must be where the helper is, in every hierarchy.
        let elsewhere = OWN.replace("0::/", "0::/jail");
        assert_eq!(
            run(OWN, &elsewhere, Place::Nest),
            Err("cgroup: target process is not in the caller's cgroup in /sys/fs/cgroup/unified".into())
        );
        assert_eq!(
            run(OWN, "", Place::Nest),
            Err("cgroup: target process is not in the caller's cgroup in /sys/fs/cgroup/cpu".into())
        );
        // A forged second memory line makes the helper's own table unusable.
        let forged = OWN.replace("4:memory:/jobs/42", "4:memory:/jobs/42/burrow-1000/x\n4:memory:/");
        assert_eq!(
            run(&forged, &forged, Place::Nest),
            Err(
                "cgroup: reading /proc/self/cgroup: no single line for the hierarchy mounted on \
                 /sys/fs/cgroup/memory"
                    .into()
            )
        );
        let spaced = OWN.replace("/jobs/42", "/jobs/4 2");
        assert_eq!(
            run(&spaced, &spaced, Place::Nest),
            Err("cgroup: a cgroup path in /sys/fs/cgroup/memory contains whitespace".into())
        );
        let escaped = "41 31 0:38 / /mnt/a\\040b rw - cgroup2 cgroup2 rw\n";
        let mounts = cgroup_policy::cgroup_mounts(escaped, false);
        assert_eq!(
            plan(&mounts, "0::/\n", "0::/\n", &Place::Nest, 1, "c")
                .unwrap_err()
                .to_string(),
            "cgroup: a cgroup path in /mnt/a\\040b contains whitespace"
        );
        // Outside the mounted subtree, or outside the cgroup namespace's root.
        let subtree = "41 31 0:38 /sub /u rw - cgroup2 cgroup2 rw\n";
        let mounts = cgroup_policy::cgroup_mounts(subtree, false);
        assert_eq!(
            plan(&mounts, "0::/other\n", "0::/other\n", &Place::Nest, 1, "c")
                .unwrap_err()
                .to_string(),
            "cgroup: /other does not exist in /u"
        );
        let plans = plan(&mounts, "0::/sub/a\n", "0::/sub/a\n", &Place::Nest, 1, "c").unwrap();
        assert_eq!(plans[0].leaf, "/u/a/burrow-1/c");
        let outside = "0::/../..\n";
        assert_eq!(
            plan(
                &cgroup_policy::cgroup_mounts(MOUNTINFO, false)[2..],
                outside,
                outside,
                &Place::Nest,
                1,
                "c"
            )
            .unwrap_err()
            .to_string(),
            "cgroup: /../.. does not exist in /sys/fs/cgroup/unified"
        );
    }

    #[test]
    fn deny_list_guards_every_chown_and_write() {
        for name in ["release_agent", "notify_on_release"] {
            assert!(file_name(name).unwrap_err().to_string().contains("CVE-2022-0492"));
        }
        for name in ["", ".", "..", "a/b", "../release_agent", "a\0b"] {
            assert!(file_name(name).is_err(), "{name:?}");
        }
        // No allowlisted file is deny-listed.
        for name in [V2_LEAF, V1_DELEGATED, V1_LEAF]
            .iter()
            .flat_map(|list| list.split_whitespace())
        {
            assert!(file_name(name).is_ok(), "{name}");
        }
    }
}
