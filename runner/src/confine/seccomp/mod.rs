//! The container's seccomp filter: compiled from the spec's `linux.seccomp`
//! into one classic BPF program (in the runner, to report errors before
//! anything starts, and in the child while the parent calls the helper;
//! burrow's default profile ahead of time, in seccomp/precompiled.rs),
//! and installed by the child as the last step before exec. Input: the
//! spec, built from a profile that profile.rs has already checked.
//!
//! A profile means what this stack of filters would mean, as the kernel
//! combines filters (the most severe result wins: kill process, kill
//! thread, trap, errno, trace, log, allow; of two results with the same
//! action, the later filter's):
//!
//! 1. The default filter (when the default action is not allow): every
//!    system call a rule names is allowed here (under that rule's argument
//!    conditions), everything else gets the default action.
//! 2. One filter per rule whose action is not allow, in the profile's
//!    order: what the rule matches gets its action, the rest is allowed.
//! 3. The guard: a foreign architecture (i386 `int 0x80`) or an x32 system
//!    call (number with bit 30 set, other than -1) kills the process,
//!    whatever the profile says, since burrow filters x86_64 only.
//!
//! So where rules overlap, the most severe action wins, and the later of two
//! errno rules. When the default action denies, a number above every number
//! the profile names gets ENOSYS instead of the stack's result (even a kill
//! default's), as with runc, whose stub comes first in its one filter: so a
//! kernel's new system calls look absent and libc falls back. -1, which a
//! tracer sets to skip a call, is such a number.
//!
//! Installing the stack itself would cost the kernel a check and a JIT
//! compilation per filter at every start, and every system call of the
//! container a linear scan of each (1,600 instructions for the default
//! profile). Instead `compile` works out, for each system call number,
//! which filter's result the kernel would keep, and emits one program: the
//! guard's architecture and x32 checks, a binary search on the number, and
//! at each leaf the result, or the argument tests that decide it. The unit
//! tests compare it with the stack, built with seccompiler.

pub mod bpf;
pub mod profile;
pub mod syscalls;

use crate::confine::seccomp::bpf::{Assembler, Compare, Label, Target, sock_filter};
use crate::sync::{Failure, Step};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator, LinuxSyscall};
use std::collections::{BTreeMap, BTreeSet};
use syscalls::Lookup;

mod precompiled;

/// A compiled filter.
pub type Program = Vec<sock_filter>;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// Bit 30 marks the x32 ABI's system calls, which arrive as AUDIT_ARCH_X86_64.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// Offsets in `struct seccomp_data`: nr, arch, args[0]; args are 64-bit,
/// little-endian.
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARGS: u32 = 16;
/// The kernel's limit on a filter's length (BPF_MAXINSNS).
const MAX_INSTRUCTIONS: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    KillProcess,
    KillThread,
    Trap,
    Errno(u32),
    Trace(u32),
    Log,
    Allow,
}

impl Action {
    /// The filter's return value; data beyond 16 bits is cut off, as the
    /// kernel would.
    fn ret(self) -> u32 {
        match self {
            Action::KillProcess => libc::SECCOMP_RET_KILL_PROCESS,
            Action::KillThread => libc::SECCOMP_RET_KILL_THREAD,
            Action::Trap => libc::SECCOMP_RET_TRAP,
            Action::Errno(errno) => libc::SECCOMP_RET_ERRNO | (errno & libc::SECCOMP_RET_DATA),
            Action::Trace(data) => libc::SECCOMP_RET_TRACE | (data & libc::SECCOMP_RET_DATA),
            Action::Log => libc::SECCOMP_RET_LOG,
            Action::Allow => libc::SECCOMP_RET_ALLOW,
        }
    }

    /// The kernel keeps the result with the lowest value of this
    /// (seccomp_run_filters compares the action bits as a signed number).
    fn severity(self) -> i32 {
        (self.ret() & libc::SECCOMP_RET_ACTION_FULL) as i32
    }
}

fn action(action: LinuxSeccompAction, errno: Option<u32>) -> Result<Action, String> {
    // The kernel keeps 16 bits of a filter's data and returns at most 4095
    // as an errno: a larger errnoRet would silently mean something else.
    if let Some(errno) = errno.filter(|&errno| errno > MAX_ERRNO) {
        return Err(format!(
            "errnoRet {errno} is above {MAX_ERRNO}, the largest errno there is"
        ));
    }
    Ok(match action {
        LinuxSeccompAction::ScmpActAllow => Action::Allow,
        LinuxSeccompAction::ScmpActErrno => Action::Errno(errno.unwrap_or(libc::EPERM as u32)),
        // OCI's SCMP_ACT_KILL is libseccomp's: the thread.
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => Action::KillThread,
        LinuxSeccompAction::ScmpActKillProcess => Action::KillProcess,
        LinuxSeccompAction::ScmpActTrap => Action::Trap,
        LinuxSeccompAction::ScmpActTrace => Action::Trace(errno.unwrap_or(libc::EPERM as u32)),
        LinuxSeccompAction::ScmpActLog => Action::Log,
        LinuxSeccompAction::ScmpActNotify => return Err("SCMP_ACT_NOTIFY is not supported".to_owned()),
    })
}

/// The largest errno the kernel returns from a system call (MAX_ERRNO).
const MAX_ERRNO: u32 = 4095;

/// A comparison of a 64-bit argument (unsigned), as libseccomp's.
#[derive(Clone, Copy, Debug)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `(arg & mask) == value & mask`.
    MaskedEq(u64),
}

#[derive(Clone, Copy, Debug)]
struct Condition {
    arg: u32,
    op: Op,
    value: u64,
}

/// When one filter's rules for one system call match: always, or when all
/// conditions of any one of the lists hold (each list is non-empty).
#[derive(Clone, Debug)]
enum Match {
    Always,
    AnyOf(Vec<Vec<Condition>>),
}

/// Rules per system call number.
type Rules = BTreeMap<u32, Match>;

/// One filter of the stack (module doc): what its rules match gets
/// `matched`, every other call `otherwise`.
struct Filter {
    rules: Rules,
    matched: Action,
    otherwise: Action,
}

/// One rule of the profile: its system calls and its conditions (empty:
/// unconditional).
fn rule_of(syscall: &LinuxSyscall) -> Result<(Vec<u32>, Vec<Condition>), String> {
    let mut numbers = Vec::new();
    for name in syscall.names() {
        match syscalls::lookup(name) {
            Lookup::Number(number) => numbers.push(u32::try_from(number).map_err(|e| e.to_string())?),
            Lookup::OtherArchitecture => {}
            Lookup::Unknown => return Err(format!("unknown system call {name:?}")),
        }
    }
    let mut conditions = Vec::new();
    for arg in syscall.args().iter().flatten() {
        let (op, value) = match arg.op() {
            LinuxSeccompOperator::ScmpCmpNe => (Op::Ne, arg.value()),
            LinuxSeccompOperator::ScmpCmpLt => (Op::Lt, arg.value()),
            LinuxSeccompOperator::ScmpCmpLe => (Op::Le, arg.value()),
            LinuxSeccompOperator::ScmpCmpEq => (Op::Eq, arg.value()),
            LinuxSeccompOperator::ScmpCmpGe => (Op::Ge, arg.value()),
            LinuxSeccompOperator::ScmpCmpGt => (Op::Gt, arg.value()),
            // libseccomp's order: value is the mask, valueTwo the datum.
            LinuxSeccompOperator::ScmpCmpMaskedEq => (Op::MaskedEq(arg.value()), arg.value_two().unwrap_or(0)),
        };
        let index = u32::try_from(arg.index())
            .ok()
            .filter(|&i| i < 6)
            .ok_or_else(|| format!("argument index {}", arg.index()))?;
        conditions.push(Condition { arg: index, op, value });
    }
    Ok((numbers, conditions))
}

/// Adds a rule with `conditions` (empty: unconditional) for `number`; an
/// unconditional rule absorbs every conditional one.
fn add(rules: &mut Rules, number: u32, conditions: &[Condition]) {
    match (rules.get_mut(&number), conditions.is_empty()) {
        (Some(Match::Always), _) => {}
        (Some(existing), true) => *existing = Match::Always,
        (Some(Match::AnyOf(lists)), false) => lists.push(conditions.to_vec()),
        (None, true) => {
            rules.insert(number, Match::Always);
        }
        (None, false) => {
            rules.insert(number, Match::AnyOf(vec![conditions.to_vec()]));
        }
    }
}

/// The filter stack of the module doc, and the highest number it names.
fn stack(seccomp: &LinuxSeccomp) -> Result<(Vec<Filter>, Action, Option<u32>), String> {
    let default = action(seccomp.default_action(), seccomp.default_errno_ret())?;
    let mut named = Rules::new();
    // A filter per rule, not per action: of two rules with the same action
    // and different data (errno, trace), the later one's must be the later
    // filter, even when the profile used the other's data first.
    let mut by_rule: Vec<(Action, Rules)> = Vec::new();
    for syscall in seccomp.syscalls().iter().flatten() {
        let act = action(syscall.action(), syscall.errno_ret())?;
        let (numbers, conditions) = rule_of(syscall).map_err(|e| format!("{:?}: {e}", syscall.names()))?;
        for &number in &numbers {
            add(&mut named, number, &conditions);
        }
        if act == Action::Allow {
            continue;
        }
        let mut rules = Rules::new();
        for &number in &numbers {
            add(&mut rules, number, &conditions);
        }
        by_rule.push((act, rules));
    }
    let highest = named.keys().next_back().copied();
    let mut filters = Vec::new();
    if default != Action::Allow {
        filters.push(Filter {
            rules: named,
            matched: Action::Allow,
            otherwise: default,
        });
    }
    // Even an action equal to the default needs its filter: the default
    // filter allows every system call a rule names.
    for (act, rules) in by_rule {
        filters.push(Filter {
            rules,
            matched: act,
            otherwise: Action::Allow,
        });
    }
    Ok((filters, default, highest))
}

/// What decides one system call number's result: the filters whose rules
/// for it have conditions are tested in turn (`filter`, and whether a
/// match or a mismatch returns `action`); when no test returns, `last`.
#[derive(Clone, Debug)]
struct Decision {
    tests: Vec<(usize, bool, Action)>,
    last: Action,
}

/// The decision for a number whose rules in each filter are `rules` (the
/// guard allows every number that gets this far).
fn decide(filters: &[Filter], rules: &[Option<&Match>]) -> Decision {
    let result = |index: usize, matched: bool| match matched {
        true => filters[index].matched,
        false => filters[index].otherwise,
    };
    if !rules.iter().any(|r| matches!(r, Some(Match::AnyOf(_)))) {
        // Every filter's result is fixed: the kernel's choice, from the
        // last filter to the first, replacing only with a more severe one.
        let mut kept = Action::Allow;
        for (index, rule) in rules.iter().enumerate().rev() {
            let candidate = result(index, rule.is_some());
            if candidate.severity() < kept.severity() {
                kept = candidate;
            }
        }
        return Decision {
            tests: Vec::new(),
            last: kept,
        };
    }
    // (filter, result, when: None always, Some(m) when the rules match == m).
    let mut results: Vec<(usize, Action, Option<bool>)> = Vec::new();
    for (index, rule) in rules.iter().enumerate() {
        match rule {
            None => results.push((index, result(index, false), None)),
            Some(Match::Always) => results.push((index, result(index, true), None)),
            Some(Match::AnyOf(_)) => {
                results.push((index, result(index, true), Some(true)));
                results.push((index, result(index, false), Some(false)));
            }
        }
    }
    results.push((filters.len(), Action::Allow, None));
    // The order in which the kernel would prefer them: the most severe
    // first, and of equal ones the later filter's.
    results.sort_by_key(|&(index, action, _)| (action.severity(), std::cmp::Reverse(index)));
    let mut known: BTreeMap<usize, bool> = BTreeMap::new();
    let mut tests = Vec::new();
    for (index, action, when) in results {
        let Some(when) = when else {
            return Decision::new(tests, action);
        };
        match known.get(&index) {
            Some(&matched) if matched == when => return Decision::new(tests, action),
            Some(_) => {}
            None => {
                tests.push((index, when, action));
                known.insert(index, !when);
            }
        }
    }
    unreachable!("the last result is unconditional")
}

impl Decision {
    /// Drops trailing tests that return what falling through returns anyway.
    fn new(mut tests: Vec<(usize, bool, Action)>, last: Action) -> Decision {
        while tests.last().is_some_and(|&(_, _, action)| action.ret() == last.ret()) {
            tests.pop();
        }
        Decision { tests, last }
    }

    fn fixed(&self) -> Option<u32> {
        self.tests.is_empty().then(|| self.last.ret())
    }
}

pub use precompiled::default_section;

/// The program for `seccomp`: burrow's default profile's is compiled ahead
/// of time (precompiled.rs), any other now.
pub fn program(seccomp: &LinuxSeccomp) -> Result<Program, String> {
    precompiled::lookup(seccomp).map_or_else(|| compile(seccomp), Ok)
}

/// The filters for `seccomp`, as one program.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Program, String> {
    let (filters, default, highest) = stack(seccomp)?;
    let default_denies = !matches!(default, Action::Allow | Action::Log);
    let enosys_above = highest.filter(|_| default_denies);
    // Each named number's rules in each filter.
    let mut named: BTreeMap<u32, Vec<Option<&Match>>> = BTreeMap::new();
    for (index, filter) in filters.iter().enumerate() {
        for (&number, rule) in &filter.rules {
            named.entry(number).or_insert_with(|| vec![None; filters.len()])[index] = Some(rule);
        }
    }
    // Ranges of numbers decided alike: each named number on its own, and
    // the unnamed ones between and above them.
    let unnamed = vec![None; filters.len()];
    let mut starts: BTreeSet<u32> = [0].into();
    for &number in named.keys() {
        starts.extend([number, number + 1]);
    }
    starts.extend(enosys_above.map(|highest| highest + 1));
    let mut ranges: Vec<(u32, Decision)> = Vec::new();
    for start in starts.into_iter().filter(|&s| s < X32_SYSCALL_BIT) {
        let rules = named.get(&start).unwrap_or(&unnamed);
        let decision = match enosys_above {
            Some(highest) if start > highest => Decision {
                tests: Vec::new(),
                last: Action::Errno(libc::ENOSYS as u32),
            },
            _ => decide(&filters, rules),
        };
        match (ranges.last(), decision.fixed()) {
            (Some((_, previous)), Some(ret)) if previous.fixed() == Some(ret) => {}
            _ => ranges.push((start, decision)),
        }
    }
    let mut asm = Assembler::default();
    let (kill, numbers) = (asm.label(), asm.label());
    asm.load(ARCH);
    asm.jump(Compare::Eq, AUDIT_ARCH_X86_64, Target::Next, Target::To(kill));
    asm.load(NR);
    // -1 is no x32 call: the search puts it above every named number.
    asm.jump(Compare::Eq, u32::MAX, Target::To(numbers), Target::Next);
    asm.jump(Compare::Ge, X32_SYSCALL_BIT, Target::To(kill), Target::Next);
    asm.mark(numbers);
    search(&mut asm, &filters, &ranges);
    asm.mark(kill);
    asm.ret(libc::SECCOMP_RET_KILL_PROCESS);
    let program = asm.finish()?;
    if program.len() > MAX_INSTRUCTIONS {
        return Err(format!(
            "the filter needs {} instructions, more than the kernel's {MAX_INSTRUCTIONS}",
            program.len()
        ));
    }
    Ok(program)
}

/// A binary search for the number (in the accumulator) among `ranges`
/// (first number, decision), then the decision. A range with tests holds
/// one number only.
fn search(asm: &mut Assembler, filters: &[Filter], ranges: &[(u32, Decision)]) {
    if let [(number, decision)] = ranges {
        return emit_decision(asm, filters, decision, *number);
    }
    let middle = ranges.len() / 2;
    let upper = asm.label();
    asm.jump(Compare::Ge, ranges[middle].0, Target::To(upper), Target::Next);
    search(asm, filters, &ranges[..middle]);
    asm.mark(upper);
    search(asm, filters, &ranges[middle..]);
}

fn emit_decision(asm: &mut Assembler, filters: &[Filter], decision: &Decision, number: u32) {
    for &(index, when, action) in &decision.tests {
        let Some(Match::AnyOf(lists)) = filters[index].rules.get(&number) else {
            unreachable!("only conditional rules are tested")
        };
        emit_test(asm, lists, when, action);
    }
    asm.ret(decision.last.ret());
}

/// Returns `action` if any of `lists` holds (`when`) or none does (`!when`);
/// otherwise goes on after this code.
fn emit_test(asm: &mut Assembler, lists: &[Vec<Condition>], when: bool, action: Action) {
    let (matched, unmatched) = (asm.label(), asm.label());
    for (index, conditions) in lists.iter().enumerate() {
        let last = index + 1 == lists.len();
        let next = if last { unmatched } else { asm.label() };
        for condition in conditions {
            emit_condition(asm, condition, next);
        }
        if !last || !when {
            asm.goto(matched);
        }
        if !last {
            asm.mark(next);
        }
    }
    if when {
        asm.mark(matched);
        asm.ret(action.ret());
        asm.mark(unmatched);
    } else {
        asm.mark(unmatched);
        asm.ret(action.ret());
        asm.mark(matched);
    }
}

/// Goes on after this code if `condition` holds, to `fail` if not. The
/// argument's upper half decides unless it equals the value's.
fn emit_condition(asm: &mut Assembler, condition: &Condition, fail: Label) {
    let (low, high) = (ARGS + 8 * condition.arg, ARGS + 8 * condition.arg + 4);
    let split = |value: u64| ((value >> 32) as u32, value as u32);
    let (value_high, value_low) = split(condition.value);
    let (fail, pass) = (Target::To(fail), asm.label());
    let next = Target::Next;
    match condition.op {
        Op::Eq => {
            asm.load(high);
            asm.jump(Compare::Eq, value_high, next, fail);
            asm.load(low);
            asm.jump(Compare::Eq, value_low, next, fail);
        }
        Op::Ne => {
            asm.load(high);
            asm.jump(Compare::Eq, value_high, next, Target::To(pass));
            asm.load(low);
            asm.jump(Compare::Eq, value_low, fail, next);
        }
        Op::Gt | Op::Ge => {
            asm.load(high);
            asm.jump(Compare::Gt, value_high, Target::To(pass), next);
            asm.jump(Compare::Eq, value_high, next, fail);
            asm.load(low);
            let compare = if matches!(condition.op, Op::Gt) {
                Compare::Gt
            } else {
                Compare::Ge
            };
            asm.jump(compare, value_low, next, fail);
        }
        // Lt is !Ge, Le is !Gt.
        Op::Lt | Op::Le => {
            asm.load(high);
            asm.jump(Compare::Gt, value_high, fail, next);
            asm.jump(Compare::Eq, value_high, next, Target::To(pass));
            asm.load(low);
            let compare = if matches!(condition.op, Op::Le) {
                Compare::Gt
            } else {
                Compare::Ge
            };
            asm.jump(compare, value_low, fail, next);
        }
        Op::MaskedEq(mask) => {
            let (mask_high, mask_low) = split(mask);
            let (datum_high, datum_low) = split(condition.value & mask);
            asm.load(high);
            asm.and(mask_high);
            asm.jump(Compare::Eq, datum_high, next, fail);
            asm.load(low);
            asm.and(mask_low);
            asm.jump(Compare::Eq, datum_low, next, fail);
        }
    }
    asm.mark(pass);
}

/// Installs `program` on the calling (child) thread. Without no_new_privs
/// this needs CAP_SYS_ADMIN in the container's namespace (see child.rs for
/// when it is called).
pub fn install(program: &Program) -> Result<(), Failure> {
    crate::sys::seccomp::set_mode_filter(program)
        .map_err(|error| Failure::os(Step::Seccomp, "installing the filter", &error))
}

#[cfg(test)]
mod tests;
