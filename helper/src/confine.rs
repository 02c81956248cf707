//! Self-confinement: what burrow-helper does, after `privilege::drop_to` and
//! the NSS lookups, before it touches anything the caller controls (the
//! target fd, the policy decision). Runs as the caller's uid with only the
//! operation's capabilities permitted and none effective. Untrusted: nothing
//! (fixed paths, and cgroup mount points from the kernel's mountinfo).
//!
//! 1. `no_new_privs`: Landlock and seccomp need it without CAP_SYS_ADMIN (the
//!    helper never execs anyway). The helper stays non-dumpable: hygiene and
//!    `drop_to` cleared it, and no allowlist below has `prctl`.
//! 2. Landlock, best effort, where the operation allows it (below): the
//!    ruleset handles every right the landlock crate knows (all file-system
//!    rights, TCP bind and connect, signal and abstract-socket scoping; the
//!    kernel drops what it does not know) and grants only the rules below, on
//!    inodes opened then by fixed path. A path missing or of the wrong kind
//!    gets no rule, so the operation's own open fails as it always did.
//!    Without Landlock in the kernel (ENOSYS, or EOPNOTSUPP when not enabled
//!    at boot) the helper runs on without it, as `--version` says; any other
//!    failure is exit 71.
//! 3. seccomp, mandatory: a filter that kills the process on the forbidden
//!    calls, then the operation's allowlist, where anything else fails with
//!    EPERM (the kernel applies the stricter). A failure to build or install
//!    either is exit 71, before any work.
//!
//! A process under Landlock may not ptrace, or open the /proc/PID/ns files
//! of, any process outside its sandbox (the kernel's "ptrace restrictions"),
//! and the caller's target is always outside. So idmap, which opens the
//! target's `ns/user` in `target::verify` and again just before the writes,
//! gets no Landlock; cgroup gets it only after `Target::hold` has seized the
//! target (`landlock_cgroup`, before every cgroup is opened or created);
//! veth gets it in `confine`.
//!
//! Per operation: the capabilities `drop_to` left permitted; what Landlock
//! grants; the system calls allowed besides COMMON (below).
//! - idmap: CAP_SETUID, CAP_SETGID (+ CAP_SETFCAP for root mapping host uid
//!   0); no Landlock; `ioctl` NS_GET_NSTYPE, NS_GET_PARENT, NS_GET_OWNER_UID.
//! - veth: CAP_NET_ADMIN; read USERNET_FILE; `ioctl` NS_GET_NSTYPE,
//!   NS_GET_USERNS, NS_GET_OWNER_UID; `socket` AF_NETLINK, SOCK_RAW,
//!   NETLINK_ROUTE; `sendto`, `recvfrom`, `flock`, `getrandom`,
//!   `clock_nanosleep` (the wait at the quota).
//! - cgroup: CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_SETUID; read files below /proc
//!   and /sys/kernel/cgroup/delegate, and below each cgroup mount point make
//!   and remove directories, read and write files; `mkdirat`, `unlinkat`
//!   AT_REMOVEDIR, `fchownat`, `setfsuid`, `fcntl` F_DUPFD_CLOEXEC, `ptrace`
//!   PTRACE_SEIZE without options, the three `landlock_*` calls.
//!
//! COMMON: `read`, `write`, `close`, `openat` without O_CREAT, `newfstatat`,
//! `fstatfs`, `capget`, `capset`, `sigaltstack` and `munmap` (std's exit),
//! `exit_group`. These lists are the calls the kernel's syscall tracepoints
//! saw confined helpers make in every scenario of the helper, network and
//! cgroup suites (successes, refusals, error lines) and in a panic, and
//! nothing else but, for the allocator (a policy file is read line by line,
//! but usernet and cgroup rules are all kept), `brk` and `mmap` without
//! PROT_EXEC, which no scenario needed (either one is enough for glibc's
//! malloc). Killed
//! in every operation: `execve`, `execveat`, `fork`, `vfork`, `clone`,
//! `clone3`, `ptrace` (cgroup: any request but PTRACE_SEIZE),
//! `process_vm_readv`, `process_vm_writev`, `keyctl`, `personality`.

use crate::error::Error;
use crate::{sys, veth};
use burrow_shared::cgroup_policy::CgroupMount;
use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, LandlockStatus, PathBeneath,
    RestrictionStatus, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetError, RulesetStatus, Scope,
};
use seccompiler::SeccompCmpArgLen::{Dword, Qword};
use seccompiler::SeccompCmpOp::{Eq, MaskedEq, Ne};
use seccompiler::{
    BackendError, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule,
};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};

/// The newest ABI the landlock crate knows: in best-effort mode the kernel
/// gets every right of it that it knows itself.
const NEWEST_ABI: ABI = ABI::V10;

/// A Landlock rule: an O_PATH fd, and what is allowed below it.
type Rule = (OwnedFd, BitFlags<AccessFs>);

/// The operation about to run.
#[derive(Clone, Copy)]
pub enum Operation {
    Idmap,
    Veth,
    Cgroup,
}

/// Steps 1 to 3 of the module doc (Landlock: veth only).
pub fn confine(op: Operation) -> Result<(), Error> {
    // Both filters are built before anything is applied.
    let filters = seccomp_filters(&op).map_err(|e| Error::os("confining: building the seccomp filters", e))?;
    set_no_new_privs()?;
    if let Operation::Veth = op {
        restrict(vec![rule_fd(veth::USERNET_FILE, None, read())])?;
    }
    for filter in &filters {
        // SECURITY: only restricts; the kill filter goes first, so that the
        // allowlist (which has neither prctl nor seccomp) can be installed.
        seccompiler::apply_filter(filter).map_err(|e| Error::os("confining: installing a seccomp filter", e))?;
    }
    Ok(())
}

/// cgroup's Landlock (see the module doc), once the target is held: the
/// policy file was read, so files below /proc, the delegate list, and the
/// hierarchies mountinfo names.
pub fn landlock_cgroup(mounts: &[CgroupMount]) -> Result<(), Error> {
    let tree = AccessFs::MakeDir | AccessFs::RemoveDir | AccessFs::ReadFile | AccessFs::WriteFile;
    let magic = [sys::CGROUP_SUPER_MAGIC, sys::CGROUP2_SUPER_MAGIC];
    let mut rules = vec![rule_fd("/proc", Some(&[sys::PROC_SUPER_MAGIC]), read())];
    rules.push(rule_fd("/sys/kernel/cgroup/delegate", None, read()));
    rules.extend(mounts.iter().map(|m| rule_fd(&m.point, Some(&magic), tree)));
    restrict(rules).map(drop)
}

/// The Landlock line of `--version`: an empty ruleset of the same kind is
/// enforced on this (exiting) process, and the outcome reported.
pub fn landlock_report() -> Result<String, Error> {
    set_no_new_privs()?;
    Ok(match restrict(Vec::new())? {
        LandlockStatus::Available {
            effective_abi,
            kernel_abi,
        } => {
            format!("landlock: ABI {}, enforced", kernel_abi.unwrap_or(effective_abi as i32))
        }
        LandlockStatus::NotEnabled => "landlock: not enforced (this kernel has it disabled)".to_owned(),
        LandlockStatus::NotImplemented => "landlock: not enforced (this kernel does not have it)".to_owned(),
    })
}

/// Landlock with `rules` (a `None` is a path that got no rule). A kernel
/// without Landlock is accepted; one that has it must enforce the ruleset.
fn restrict(rules: Vec<Option<Rule>>) -> Result<LandlockStatus, Error> {
    let status = landlock(rules.into_iter().flatten().collect()).map_err(|e| Error::os("confining: landlock", e))?;
    match (status.landlock, status.ruleset) {
        (LandlockStatus::Available { .. }, RulesetStatus::NotEnforced) => Err(Error::os(
            "confining: landlock",
            "the kernel has it but did not enforce the ruleset",
        )),
        (landlock, _) => Ok(landlock),
    }
}

fn set_no_new_privs() -> Result<(), Error> {
    // SECURITY: only removes the right to gain privilege through execve.
    sys::set_no_new_privs().map_err(|e| Error::os("confining: setting no_new_privs", e))
}

/// Restricts the process to `rules`, handling everything else.
fn landlock(rules: Vec<Rule>) -> Result<RestrictionStatus, RulesetError> {
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(NEWEST_ABI))?
        .handle_access(AccessNet::from_all(NEWEST_ABI))?
        .scope(Scope::from_all(NEWEST_ABI))?
        .create()?
        .no_new_privs(false);
    for (fd, access) in rules {
        ruleset = ruleset.add_rule(PathBeneath::new(fd, access))?;
    }
    // SECURITY: only restricts (no_new_privs is set by confine itself).
    ruleset.restrict_self()
}

fn read() -> BitFlags<AccessFs> {
    AccessFs::ReadFile.into()
}

/// A rule granting `access` below `path` (an O_PATH fd): a regular file
/// (`dir_magic` None), or a directory on a file system with one of those
/// magic numbers. Anything else (missing, a symlink, another kind) gets none.
fn rule_fd(path: &str, dir_magic: Option<&[sys::FsType]>, access: BitFlags<AccessFs>) -> Option<Rule> {
    let flags = libc::O_PATH | libc::O_NOFOLLOW;
    let fd = sys::openat(None, &CString::new(path).ok()?, flags).ok()?;
    let kind = sys::fstat(fd.as_fd()).ok()?.st_mode & libc::S_IFMT;
    let fits = match dir_magic {
        None => kind == libc::S_IFREG,
        Some(magic) => kind == libc::S_IFDIR && sys::fs_magic(fd.as_fd()).is_ok_and(|m| magic.contains(&m)),
    };
    fits.then_some((fd, access))
}

type Rules = BTreeMap<i64, Vec<SeccompRule>>;
/// A condition: argument index, width (Dword: an int, as the kernel reads
/// it), comparison, value.
type Arg = (u8, SeccompCmpArgLen, SeccompCmpOp, u64);

/// One rule: all of `conditions`.
fn rule(conditions: &[Arg]) -> Result<SeccompRule, BackendError> {
    let conditions = conditions
        .iter()
        .map(|(index, len, op, value)| SeccompCondition::new(*index, len.clone(), op.clone(), *value))
        .collect::<Result<_, _>>()?;
    SeccompRule::new(conditions)
}

/// The kill filter, then the allowlist.
fn seccomp_filters(op: &Operation) -> Result<Vec<BpfProgram>, BackendError> {
    let arch = std::env::consts::ARCH.try_into()?;
    let kill = SeccompFilter::new(forbidden(op)?, SeccompAction::Allow, SeccompAction::KillProcess, arch)?;
    let allow = SeccompFilter::new(
        allowed(op)?,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        arch,
    )?;
    Ok(vec![kill.try_into()?, allow.try_into()?])
}

/// Killed in every operation; so is `ptrace` (see `forbidden`).
#[rustfmt::skip]
const KILLED: &[i64] = &[
    libc::SYS_execve, libc::SYS_execveat, libc::SYS_clone, libc::SYS_clone3, libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev, libc::SYS_keyctl, libc::SYS_personality,
    #[cfg(target_arch = "x86_64")] libc::SYS_fork,
    #[cfg(target_arch = "x86_64")] libc::SYS_vfork,
];
/// Allowed without conditions: in every operation (COMMON), and in one.
#[rustfmt::skip]
const COMMON: &[i64] = &[
    libc::SYS_read, libc::SYS_write, libc::SYS_close, libc::SYS_newfstatat, libc::SYS_fstatfs, libc::SYS_capget,
    libc::SYS_capset, libc::SYS_sigaltstack, libc::SYS_munmap, libc::SYS_exit_group, libc::SYS_brk,
];
#[rustfmt::skip]
const VETH: &[i64] =
    &[libc::SYS_sendto, libc::SYS_recvfrom, libc::SYS_flock, libc::SYS_getrandom, libc::SYS_clock_nanosleep];
/// Landlock comes late in cgroup (see the module doc): its calls only restrict.
#[rustfmt::skip]
const CGROUP: &[i64] = &[
    libc::SYS_mkdirat, libc::SYS_fchownat, libc::SYS_setfsuid,
    libc::SYS_landlock_create_ruleset, libc::SYS_landlock_add_rule, libc::SYS_landlock_restrict_self,
];

fn unconditional(numbers: &[i64]) -> Rules {
    numbers.iter().map(|&nr| (nr, Vec::new())).collect()
}

fn forbidden(op: &Operation) -> Result<Rules, BackendError> {
    let mut rules = unconditional(KILLED);
    let ptrace = match op {
        Operation::Cgroup => vec![rule(&[(0, Qword, Ne, libc::PTRACE_SEIZE as u64)])?],
        _ => Vec::new(),
    };
    rules.insert(libc::SYS_ptrace, ptrace);
    Ok(rules)
}

fn allowed(op: &Operation) -> Result<Rules, BackendError> {
    use libc::*;
    let mut rules = unconditional(COMMON);
    rules.insert(SYS_mmap, vec![rule(&[(2, Dword, MaskedEq(PROT_EXEC as u64), 0)])?]);
    rules.insert(SYS_openat, vec![rule(&[(2, Dword, MaskedEq(O_CREAT as u64), 0)])?]);
    #[allow(clippy::unnecessary_cast)] // Ioctl's type differs between C libraries
    let ioctl = |requests: &[Ioctl]| -> Result<Vec<SeccompRule>, BackendError> {
        requests.iter().map(|&r| rule(&[(1, Dword, Eq, r as u64)])).collect()
    };
    match op {
        Operation::Idmap => {
            rules.insert(SYS_ioctl, ioctl(&[NS_GET_NSTYPE, NS_GET_PARENT, NS_GET_OWNER_UID])?);
        }
        Operation::Veth => {
            rules.extend(unconditional(VETH));
            rules.insert(SYS_ioctl, ioctl(&[NS_GET_NSTYPE, NS_GET_USERNS, NS_GET_OWNER_UID])?);
            let kind = (SOCK_RAW | SOCK_CLOEXEC) as u64;
            let netlink = [
                (0, Dword, Eq, AF_NETLINK as u64),
                (1, Dword, Eq, kind),
                (2, Dword, Eq, NETLINK_ROUTE as u64),
            ];
            rules.insert(SYS_socket, vec![rule(&netlink)?]);
        }
        Operation::Cgroup => {
            rules.extend(unconditional(CGROUP));
            rules.insert(SYS_unlinkat, vec![rule(&[(2, Dword, Eq, AT_REMOVEDIR as u64)])?]);
            rules.insert(SYS_fcntl, vec![rule(&[(1, Dword, Eq, F_DUPFD_CLOEXEC as u64)])?]);
            let seize = [(0, Qword, Eq, PTRACE_SEIZE as u64), (3, Qword, Eq, 0)];
            rules.insert(SYS_ptrace, vec![rule(&seize)?]);
        }
    }
    Ok(rules)
}

// The probes are raw system calls, each run in a forked child that exits.
#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use super::*;
    use libc::*;

    /// How `probe`, run in a forked child under `op`'s two filters, ended:
    /// its exit code (the errno it saw, or 0), or `Err(signal)`.
    fn under_filters(op: Operation, probe: fn() -> c_long) -> Result<i32, i32> {
        let filters = seccomp_filters(&op).expect("the filters build");
        // SAFETY: the child makes system calls only (seccompiler's
        // apply_filter allocates nothing on success) and leaves with _exit.
        unsafe {
            match fork() {
                0 => {
                    // No core file from the kills below.
                    setrlimit(
                        RLIMIT_CORE,
                        &rlimit {
                            rlim_cur: 0,
                            rlim_max: 0,
                        },
                    );
                    let installed = filters.iter().all(|f| seccompiler::apply_filter(f).is_ok());
                    _exit(if installed { probe() as c_int } else { 255 })
                }
                -1 => panic!("fork failed"),
                pid => {
                    let mut status = 0;
                    assert_eq!(waitpid(pid, &mut status, 0), pid);
                    match WIFEXITED(status) {
                        true => Ok(WEXITSTATUS(status)),
                        false => Err(WTERMSIG(status)),
                    }
                }
            }
        }
    }

    /// The errno of a failed call, or 0.
    fn errno_of(ret: c_long) -> c_long {
        match ret {
            0.. => 0,
            _ => std::io::Error::last_os_error().raw_os_error().unwrap_or(-1) as c_long,
        }
    }

    #[test]
    fn forbidden_calls_kill_the_process() {
        // SAFETY: a constant path and NULL argv and envp (allowed on Linux);
        // if not killed, the child becomes /bin/true, which exits.
        let execve = || unsafe { syscall(SYS_execve, c"/bin/true".as_ptr(), 0, 0) };
        // No such pid: a call seccomp lets through fails with ESRCH.
        // SAFETY: integer arguments only; no process has that pid.
        let attach = || unsafe { syscall(SYS_ptrace, PTRACE_ATTACH, i32::MAX, 0, 0) };
        // SAFETY: as above.
        let seize = || unsafe { syscall(SYS_ptrace, PTRACE_SEIZE, i32::MAX, 0, 0) };
        // SAFETY: NULL arguments of size 0 are refused (EINVAL) before any fork.
        let clone3 = || unsafe { syscall(SYS_clone3, 0, 0) };
        for op in [Operation::Idmap, Operation::Veth, Operation::Cgroup] {
            for probe in [execve, attach, clone3] {
                assert_eq!(under_filters(op, probe), Err(SIGSYS));
            }
        }
        assert_eq!(under_filters(Operation::Veth, seize), Err(SIGSYS));
        // SAFETY: integer arguments only; no process has that pid.
        let seize_errno = || errno_of(unsafe { syscall(SYS_ptrace, PTRACE_SEIZE, i32::MAX, 0, 0) });
        assert_eq!(under_filters(Operation::Cgroup, seize_errno), Ok(ESRCH));
    }

    #[test]
    fn anything_else_fails_with_eperm() {
        // SAFETY: getpid takes no arguments and changes nothing.
        let getpid = || errno_of(unsafe { syscall(SYS_getpid) });
        // SAFETY: a constant NUL-terminated path, in a directory that does not exist.
        let create = || errno_of(unsafe { syscall(SYS_openat, AT_FDCWD, c"/nonexistent/x".as_ptr(), O_CREAT, 0o600) });
        // SAFETY: as above.
        let open = || errno_of(unsafe { syscall(SYS_openat, AT_FDCWD, c"/nonexistent/x".as_ptr(), O_RDONLY) });
        let exec_map = || {
            // SAFETY: a new anonymous mapping at an address the kernel picks;
            // no existing memory changes.
            errno_of(unsafe {
                syscall(
                    SYS_mmap,
                    0,
                    4096,
                    PROT_READ | PROT_EXEC,
                    MAP_PRIVATE | MAP_ANONYMOUS,
                    -1,
                    0,
                )
            })
        };
        // SAFETY: integer arguments only; the new fd ends with the child.
        let inet = || errno_of(unsafe { syscall(SYS_socket, AF_INET, SOCK_STREAM, 0) });
        // SAFETY: as above.
        let netlink = || errno_of(unsafe { syscall(SYS_socket, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE) });
        // SAFETY: an invalid fd (EBADF); NS_GET_PARENT takes no argument.
        let parent = || errno_of(unsafe { syscall(SYS_ioctl, -1, NS_GET_PARENT) });
        // SAFETY: integer arguments only.
        let prctl_ = || errno_of(unsafe { syscall(SYS_prctl, PR_SET_DUMPABLE, 1, 0, 0, 0) });
        for op in [Operation::Idmap, Operation::Veth, Operation::Cgroup] {
            for probe in [getpid, create, exec_map, inet, prctl_] {
                assert_eq!(under_filters(op, probe), Ok(EPERM));
            }
            assert_eq!(under_filters(op, open), Ok(ENOENT));
        }
        assert_eq!(under_filters(Operation::Veth, netlink), Ok(0));
        // The allocator gets the memory the helper needs (a policy line is at
        // most 4096 bytes; usernet and cgroup rules are kept whole), and more.
        let grow = || {
            let mut buffer = vec![1u8; 1 << 20];
            buffer.resize(8 << 20, 2);
            c_long::from(buffer[(8 << 20) - 1] != 2)
        };
        for op in [Operation::Idmap, Operation::Veth, Operation::Cgroup] {
            assert_eq!(under_filters(op, grow), Ok(0));
        }
        assert_eq!(under_filters(Operation::Idmap, netlink), Ok(EPERM));
        // The argument decides: an nsfs request idmap uses reaches the kernel.
        assert_eq!(under_filters(Operation::Idmap, parent), Ok(EBADF));
        assert_eq!(under_filters(Operation::Veth, parent), Ok(EPERM));
    }
}
