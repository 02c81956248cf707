//! The container's seccomp filter: compiled from the spec's `linux.seccomp`
//! with the seccompiler crate (in the runner, once to report errors before
//! anything starts, and again in the child), and installed by the child as
//! the last step before exec. Input: the spec, built from a profile that
//! seccomp_profile.rs has already checked.
//!
//! seccompiler builds a filter with one action for what matches and one
//! for what does not, so a profile becomes a stack of filters. The kernel
//! runs them all and keeps the most severe result (kill, trap, errno,
//! trace, log, allow), and between two errno results the one of the filter
//! installed last. Installed in this order:
//!
//! 1. The default filter (when the default action is not allow): every
//!    system call a rule names is allowed here (under that rule's argument
//!    conditions), everything else gets the default action.
//! 2. One filter per other action, in the order the profile first uses it:
//!    what its rules match gets the action, the rest is allowed.
//! 3. The guard, hand-written because seccompiler compares numbers only for
//!    equality: a foreign architecture (i386 `int 0x80`) or an x32 system
//!    call (number with bit 30 set) kills the process, whatever the profile
//!    says, since burrow filters x86_64 only; and when the default action
//!    denies, a number above every number the profile names gets ENOSYS
//!    instead, as runc does, so that a kernel's new system calls look absent
//!    and libc falls back.
//!
//! So where rules overlap, the most severe action wins, and the later of two
//! errno rules.

use crate::sync::{Failure, Step};
use crate::syscalls::{self, Lookup};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator, LinuxSyscall};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    TargetArch, sock_filter,
};
use std::collections::BTreeMap;
use std::io;

/// Rules per system call number; an empty list is unconditional.
type Rules = BTreeMap<i64, Vec<SeccompRule>>;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// Bit 30 marks the x32 ABI's system calls, which arrive as AUDIT_ARCH_X86_64.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

fn action(action: LinuxSeccompAction, errno: Option<u32>) -> Result<SeccompAction, String> {
    Ok(match action {
        LinuxSeccompAction::ScmpActAllow => SeccompAction::Allow,
        LinuxSeccompAction::ScmpActErrno => SeccompAction::Errno(errno.unwrap_or(libc::EPERM as u32)),
        // OCI's SCMP_ACT_KILL is libseccomp's: the thread.
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => SeccompAction::KillThread,
        LinuxSeccompAction::ScmpActKillProcess => SeccompAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => SeccompAction::Trap,
        LinuxSeccompAction::ScmpActTrace => SeccompAction::Trace(errno.unwrap_or(libc::EPERM as u32)),
        LinuxSeccompAction::ScmpActLog => SeccompAction::Log,
        LinuxSeccompAction::ScmpActNotify => return Err("SCMP_ACT_NOTIFY is not supported".to_owned()),
    })
}

/// One rule of the profile: its system calls and the rule for each.
fn rule_of(syscall: &LinuxSyscall) -> Result<(Vec<i64>, Option<SeccompRule>), String> {
    let mut numbers = Vec::new();
    for name in syscall.names() {
        match syscalls::lookup(name) {
            Lookup::Number(number) => numbers.push(number),
            Lookup::OtherArchitecture => {}
            Lookup::Unknown => return Err(format!("unknown system call {name:?}")),
        }
    }
    let mut conditions = Vec::new();
    for arg in syscall.args().iter().flatten() {
        let (op, value) = match arg.op() {
            LinuxSeccompOperator::ScmpCmpNe => (SeccompCmpOp::Ne, arg.value()),
            LinuxSeccompOperator::ScmpCmpLt => (SeccompCmpOp::Lt, arg.value()),
            LinuxSeccompOperator::ScmpCmpLe => (SeccompCmpOp::Le, arg.value()),
            LinuxSeccompOperator::ScmpCmpEq => (SeccompCmpOp::Eq, arg.value()),
            LinuxSeccompOperator::ScmpCmpGe => (SeccompCmpOp::Ge, arg.value()),
            LinuxSeccompOperator::ScmpCmpGt => (SeccompCmpOp::Gt, arg.value()),
            // libseccomp's order: value is the mask, valueTwo the datum.
            LinuxSeccompOperator::ScmpCmpMaskedEq => {
                (SeccompCmpOp::MaskedEq(arg.value()), arg.value_two().unwrap_or(0))
            }
        };
        let index = u8::try_from(arg.index()).map_err(|_| format!("argument index {}", arg.index()))?;
        let condition = SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value).map_err(|e| e.to_string())?;
        conditions.push(condition);
    }
    let rule = if conditions.is_empty() {
        None
    } else {
        Some(SeccompRule::new(conditions).map_err(|e| e.to_string())?)
    };
    Ok((numbers, rule))
}

/// Adds `rule` (None: unconditional) for `number`; unconditional absorbs
/// any condition.
fn add(rules: &mut Rules, number: i64, rule: &Option<SeccompRule>) {
    match (rules.get_mut(&number), rule) {
        (Some(existing), _) if existing.is_empty() => {}
        (Some(existing), Some(rule)) => existing.push(rule.clone()),
        (Some(existing), None) => existing.clear(),
        (None, rule) => {
            rules.insert(number, rule.iter().cloned().collect());
        }
    }
}

fn program(filter: SeccompFilter) -> Result<BpfProgram, String> {
    BpfProgram::try_from(filter).map_err(|e| e.to_string())
}

/// The filters for `seccomp`, in the order they are installed.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Vec<BpfProgram>, String> {
    let default = action(seccomp.default_action(), seccomp.default_errno_ret())?;
    let mut named = Rules::new();
    let mut by_action: Vec<(SeccompAction, Rules)> = Vec::new();
    for syscall in seccomp.syscalls().iter().flatten() {
        let act = action(syscall.action(), syscall.errno_ret())?;
        let (numbers, rule) = rule_of(syscall).map_err(|e| format!("{:?}: {e}", syscall.names()))?;
        for &number in &numbers {
            add(&mut named, number, &rule);
        }
        if act == SeccompAction::Allow {
            continue;
        }
        let index = match by_action.iter().position(|(a, _)| *a == act) {
            Some(index) => index,
            None => {
                by_action.push((act.clone(), Rules::new()));
                by_action.len() - 1
            }
        };
        for &number in &numbers {
            add(&mut by_action[index].1, number, &rule);
        }
    }
    let highest_named = named.keys().next_back().copied().unwrap_or(-1);
    let default_denies = !matches!(default, SeccompAction::Allow | SeccompAction::Log);
    let mut programs = Vec::new();
    if default != SeccompAction::Allow {
        let filter = SeccompFilter::new(named, default.clone(), SeccompAction::Allow, TargetArch::x86_64)
            .map_err(|e| e.to_string())?;
        programs.push(program(filter)?);
    }
    for (act, rules) in by_action {
        // Even an action equal to the default needs its filter: the default
        // filter allows every system call a rule names.
        let filter =
            SeccompFilter::new(rules, SeccompAction::Allow, act, TargetArch::x86_64).map_err(|e| e.to_string())?;
        programs.push(program(filter)?);
    }
    programs.push(guard(default_denies.then_some(highest_named)));
    Ok(programs)
}

/// The guard (see the module doc); `enosys_above`: the highest number the
/// profile names, when the default action denies.
fn guard(enosys_above: Option<i64>) -> BpfProgram {
    const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
    const JGT_K: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
    const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let op = |code, jt, jf, k| sock_filter { code, jt, jf, k };
    // offsetof(struct seccomp_data, nr) and (…, arch).
    let (nr, arch) = (0, 4);
    let kill = libc::SECCOMP_RET_KILL_PROCESS;
    let mut program = vec![
        op(LD_W_ABS, 0, 0, arch),
        op(JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        op(RET_K, 0, 0, kill),
        op(LD_W_ABS, 0, 0, nr),
        op(JGE_K, 0, 1, X32_SYSCALL_BIT),
        op(RET_K, 0, 0, kill),
    ];
    if let Some(highest) = enosys_above {
        program.extend([
            op(JGT_K, 0, 1, highest as u32),
            op(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        ]);
    }
    program.push(op(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW));
    program
}

/// Installs `programs` in order on the calling (child) thread. Without
/// no_new_privs this needs CAP_SYS_ADMIN in the container's namespace
/// (see child.rs for when it is called).
pub fn install(programs: &[BpfProgram]) -> Result<(), Failure> {
    for (index, program) in programs.iter().enumerate() {
        let fprog = libc::sock_fprog {
            len: program.len() as u16,
            // seccompiler's sock_filter is #[repr(C)] with the kernel's layout.
            filter: program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: fprog points to `program`, which outlives the call; the
        // kernel copies the filter.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &fprog as *const libc::sock_fprog,
            )
        };
        if ret != 0 {
            let detail = format!("installing filter {} of {}", index + 1, programs.len());
            return Err(Failure::os(Step::Seccomp, detail, &io::Error::last_os_error()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp_profile::{self, Context};

    fn compile_text(text: &str) -> Result<Vec<BpfProgram>, String> {
        let caps = crate::capabilities::DEFAULT.iter().copied().collect();
        let context = Context {
            capabilities: &caps,
            kernel: (6, 18),
        };
        compile(&seccomp_profile::parse(text, &context)?)
    }

    #[test]
    fn default_profile_compiles_to_default_errno_and_guard() {
        let programs = compile_text(seccomp_profile::DEFAULT_PROFILE).unwrap();
        // default (EPERM), TIOCSTI/TIOCLINUX (EPERM: same as the default,
        // but it must be its own filter to win over the unconditional ioctl
        // allow), clone3 (ENOSYS), guard.
        assert_eq!(programs.len(), 4);
        assert!(programs.iter().all(|p| p.len() < 4096));
        let guard = programs.last().unwrap();
        assert_eq!(guard[guard.len() - 2].k, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32);
    }

    #[test]
    fn allow_default_has_no_default_filter_and_no_enosys() {
        let text = r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]}"#;
        let programs = compile_text(text).unwrap();
        assert_eq!(programs.len(), 3);
        assert_eq!(*programs.last().unwrap(), guard(None));
    }
}
