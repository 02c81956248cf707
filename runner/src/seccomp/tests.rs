//! seccomp.rs's one program against the stack of filters it stands for,
//! built the straightforward way with seccompiler and combined as the
//! kernel combines filters, on the default profile and on random ones.

use super::*;
use crate::bpf;
use crate::seccomp_profile::{self, Context};
use caps::Capability;
use oci_spec::runtime::{LinuxSeccompArgBuilder, LinuxSeccompBuilder, LinuxSyscallBuilder};
use seccompiler::{SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule};

const I386: u32 = 0x4000_0003;

/// The stack itself: one seccompiler filter per layer, and the guard.
fn reference(seccomp: &LinuxSeccomp) -> Vec<Vec<sock_filter>> {
    let to_seccompiler = |action: Action| match action {
        Action::KillProcess => SeccompAction::KillProcess,
        Action::KillThread => SeccompAction::KillThread,
        Action::Trap => SeccompAction::Trap,
        Action::Errno(errno) => SeccompAction::Errno(errno),
        Action::Trace(data) => SeccompAction::Trace(data),
        Action::Log => SeccompAction::Log,
        Action::Allow => SeccompAction::Allow,
    };
    let rules_of = |rules: &Rules| -> BTreeMap<i64, Vec<SeccompRule>> {
        let rule = |conditions: &Vec<Condition>| {
            let conditions = conditions
                .iter()
                .map(|c| {
                    let op = match c.op {
                        Op::Eq => SeccompCmpOp::Eq,
                        Op::Ne => SeccompCmpOp::Ne,
                        Op::Lt => SeccompCmpOp::Lt,
                        Op::Le => SeccompCmpOp::Le,
                        Op::Gt => SeccompCmpOp::Gt,
                        Op::Ge => SeccompCmpOp::Ge,
                        Op::MaskedEq(mask) => SeccompCmpOp::MaskedEq(mask),
                    };
                    SeccompCondition::new(c.arg as u8, SeccompCmpArgLen::Qword, op, c.value).unwrap()
                })
                .collect();
            SeccompRule::new(conditions).unwrap()
        };
        let chain = |m: &Match| match m {
            Match::Always => Vec::new(),
            Match::AnyOf(lists) => lists.iter().map(rule).collect(),
        };
        rules.iter().map(|(&n, m)| (i64::from(n), chain(m))).collect()
    };
    let (filters, default, highest) = stack(seccomp).unwrap();
    let mut programs: Vec<Vec<sock_filter>> = filters
        .iter()
        .map(|f| {
            let filter = SeccompFilter::new(
                rules_of(&f.rules),
                to_seccompiler(f.otherwise),
                to_seccompiler(f.matched),
                seccompiler::TargetArch::x86_64,
            )
            .unwrap();
            let program: seccompiler::BpfProgram = filter.try_into().unwrap();
            let convert = |i: &seccompiler::sock_filter| sock_filter {
                code: i.code,
                jt: i.jt,
                jf: i.jf,
                k: i.k,
            };
            program.iter().map(convert).collect()
        })
        .collect();
    let denies = !matches!(default, Action::Allow | Action::Log);
    programs.push(reference_guard(highest.filter(|_| denies)));
    programs
}

/// The guard as a filter of its own, by hand.
fn reference_guard(enosys_above: Option<u32>) -> Vec<sock_filter> {
    let mut asm = Assembler::default();
    let kill = asm.label();
    asm.load(ARCH);
    asm.jump(Compare::Eq, AUDIT_ARCH_X86_64, Target::Next, Target::To(kill));
    asm.load(NR);
    asm.jump(Compare::Ge, X32_SYSCALL_BIT, Target::To(kill), Target::Next);
    if let Some(highest) = enosys_above {
        let allow = asm.label();
        asm.jump(Compare::Gt, highest, Target::Next, Target::To(allow));
        asm.ret(Action::Errno(libc::ENOSYS as u32).ret());
        asm.mark(allow);
    }
    asm.ret(libc::SECCOMP_RET_ALLOW);
    asm.mark(kill);
    asm.ret(libc::SECCOMP_RET_KILL_PROCESS);
    asm.finish().unwrap()
}

/// The kernel's seccomp_run_filters: from the last filter installed to the
/// first, a result replaces the one kept only if its action is more severe.
fn run_stack(programs: &[Vec<sock_filter>], data: &[u8; 64]) -> u32 {
    let action = |ret: u32| (ret & libc::SECCOMP_RET_ACTION_FULL) as i32;
    let mut kept = libc::SECCOMP_RET_ALLOW;
    for program in programs.iter().rev() {
        let ret = bpf::run(program, data);
        if action(ret) < action(kept) {
            kept = ret;
        }
    }
    kept
}

fn data(arch: u32, nr: u32, args: [u64; 6]) -> [u8; 64] {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, arg) in args.iter().enumerate() {
        let at = ARGS as usize + 8 * i;
        data[at..at + 8].copy_from_slice(&arg.to_le_bytes());
    }
    data
}

/// xorshift64*: reproducible test inputs without a dependency.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Argument values around every value the profile compares with.
fn interesting_values(filters: &[Filter]) -> Vec<u64> {
    let mut values = vec![0, 1, 0xffff_ffff, 0x1_0000_0000, u64::MAX, 1 << 63];
    for filter in filters {
        for m in filter.rules.values() {
            let Match::AnyOf(lists) = m else { continue };
            for c in lists.iter().flatten() {
                let mask = match c.op {
                    Op::MaskedEq(mask) => mask,
                    _ => u64::MAX,
                };
                for v in [c.value, c.value & mask, c.value | !mask] {
                    values.extend([v, v.wrapping_sub(1), v.wrapping_add(1), v ^ (1 << 32), v ^ 1 << 63]);
                }
            }
        }
    }
    values
}

/// Compares the two on every number up to past the highest named one (and
/// a few far beyond), both architectures, with `samples` argument vectors
/// per number built from the interesting values.
fn assert_same(seccomp: &LinuxSeccomp, random: &mut Random, samples: usize) -> (usize, usize) {
    let program = compile(seccomp).unwrap();
    let stack = reference(seccomp);
    let (filters, _, highest) = super::stack(seccomp).unwrap();
    let values = interesting_values(&filters);
    let top = highest.unwrap_or(0) + 3;
    let numbers = (0..=top).chain([500, 1023, 0x3fff_ffff, 0x4000_0000, 0x4000_0001, u32::MAX]);
    let mut checked = 0;
    for nr in numbers {
        for arch in [AUDIT_ARCH_X86_64, I386] {
            for _ in 0..samples {
                let args = [(); 6].map(|()| random.pick(&values));
                let input = data(arch, nr, args);
                assert_eq!(
                    bpf::run(&program, &input),
                    run_stack(&stack, &input),
                    "nr {nr}, arch {arch:#x}, args {args:x?}"
                );
                checked += 1;
            }
        }
    }
    (checked, program.len())
}

fn default_profile(capabilities: &[Capability]) -> LinuxSeccomp {
    let caps = capabilities.iter().copied().collect();
    let context = Context {
        capabilities: &caps,
        kernel: (6, 18),
    };
    seccomp_profile::parse(seccomp_profile::DEFAULT_PROFILE, &context).unwrap()
}

#[test]
fn default_profile_means_what_its_filter_stack_means() {
    let mut random = Random(0x5eed);
    let mut admin = crate::capabilities::DEFAULT.to_vec();
    admin.push(Capability::CAP_SYS_ADMIN);
    let all: Vec<Capability> = caps::all().into_iter().collect();
    for capabilities in [crate::capabilities::DEFAULT, &admin, &all, &[]] {
        let seccomp = default_profile(capabilities);
        let (checked, length) = assert_same(&seccomp, &mut random, 40);
        assert!(checked > 30_000);
        // One short program instead of four filters, 1,600 instructions
        // for the first alone.
        assert!(length < 400, "{length} instructions");
    }
}

#[test]
fn random_profiles_mean_what_their_filter_stacks_mean() {
    let names = [
        "read",
        "write",
        "open",
        "close",
        "ioctl",
        "socket",
        "personality",
        "clone",
        "getpid",
        "mmap",
    ];
    let actions = [
        LinuxSeccompAction::ScmpActAllow,
        LinuxSeccompAction::ScmpActErrno,
        LinuxSeccompAction::ScmpActKill,
        LinuxSeccompAction::ScmpActKillProcess,
        LinuxSeccompAction::ScmpActTrap,
        LinuxSeccompAction::ScmpActTrace,
        LinuxSeccompAction::ScmpActLog,
    ];
    let ops = [
        LinuxSeccompOperator::ScmpCmpNe,
        LinuxSeccompOperator::ScmpCmpLt,
        LinuxSeccompOperator::ScmpCmpLe,
        LinuxSeccompOperator::ScmpCmpEq,
        LinuxSeccompOperator::ScmpCmpGe,
        LinuxSeccompOperator::ScmpCmpGt,
        LinuxSeccompOperator::ScmpCmpMaskedEq,
    ];
    let values = [0, 1, 8, 0xffff_ffff, 0x1_0000_0000, 0x1_0000_0008, u64::MAX, 0xff00];
    let errnos: [Option<u32>; 4] = [None, Some(1), Some(38), Some(13)];
    let mut random = Random(0x0b5e_55ed);
    for _ in 0..300 {
        let mut syscalls = Vec::new();
        for _ in 0..random.below(8) + 1 {
            let count = random.below(3) + 1;
            let chosen: Vec<String> = (0..count).map(|_| random.pick(&names).to_owned()).collect();
            let mut rule = LinuxSyscallBuilder::default()
                .names(chosen)
                .action(random.pick(&actions));
            if let Some(errno) = random.pick(&errnos) {
                rule = rule.errno_ret(errno);
            }
            let args: Vec<_> = (0..random.below(3))
                .map(|_| {
                    LinuxSeccompArgBuilder::default()
                        .index(random.below(3))
                        .value(random.pick(&values))
                        .value_two(random.pick(&values))
                        .op(random.pick(&ops))
                        .build()
                        .unwrap()
                })
                .collect();
            if !args.is_empty() {
                rule = rule.args(args);
            }
            syscalls.push(rule.build().unwrap());
        }
        let mut seccomp = LinuxSeccompBuilder::default()
            .default_action(random.pick(&actions))
            .syscalls(syscalls);
        if let Some(errno) = random.pick(&errnos) {
            seccomp = seccomp.default_errno_ret(errno);
        }
        assert_same(&seccomp.build().unwrap(), &mut random, 12);
    }
}

#[test]
fn default_profile_denies_with_eperm_and_enosys_above_its_numbers() {
    let seccomp = default_profile(crate::capabilities::DEFAULT);
    let program = compile(&seccomp).unwrap();
    let run = |arch, nr: i64, args| bpf::run(&program, &data(arch, nr as u32, args));
    let number = |name| match syscalls::lookup(name) {
        Lookup::Number(n) => n,
        _ => panic!("{name}"),
    };
    let eperm = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    let enosys = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    let allow = libc::SECCOMP_RET_ALLOW;
    let zero = [0; 6];
    assert_eq!(run(AUDIT_ARCH_X86_64, number("read"), zero), allow);
    assert_eq!(run(AUDIT_ARCH_X86_64, number("mount"), zero), eperm);
    assert_eq!(run(AUDIT_ARCH_X86_64, number("clone3"), zero), enosys);
    assert_eq!(run(AUDIT_ARCH_X86_64, 1000, zero), enosys);
    // TIOCSTI is refused, other ioctls are not.
    assert_eq!(run(AUDIT_ARCH_X86_64, number("ioctl"), [0, 0x5412, 0, 0, 0, 0]), eperm);
    assert_eq!(run(AUDIT_ARCH_X86_64, number("ioctl"), [0, 0x5413, 0, 0, 0, 0]), allow);
    // AF_VSOCK sockets are refused.
    assert_eq!(run(AUDIT_ARCH_X86_64, number("socket"), [40, 1, 0, 0, 0, 0]), eperm);
    assert_eq!(run(AUDIT_ARCH_X86_64, number("socket"), [2, 1, 0, 0, 0, 0]), allow);
    let kill = libc::SECCOMP_RET_KILL_PROCESS;
    assert_eq!(run(I386, number("read"), zero), kill);
    assert_eq!(run(AUDIT_ARCH_X86_64, 0x4000_0000, zero), kill);
}

#[test]
fn allow_default_has_no_enosys() {
    let seccomp = LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActAllow)
        .syscalls(vec![
            LinuxSyscallBuilder::default()
                .names(vec!["getppid".to_owned()])
                .action(LinuxSeccompAction::ScmpActKillProcess)
                .build()
                .unwrap(),
        ])
        .build()
        .unwrap();
    let program = compile(&seccomp).unwrap();
    assert_eq!(
        bpf::run(&program, &data(AUDIT_ARCH_X86_64, 1000, [0; 6])),
        libc::SECCOMP_RET_ALLOW
    );
    assert_eq!(
        bpf::run(&program, &data(AUDIT_ARCH_X86_64, 110, [0; 6])),
        libc::SECCOMP_RET_KILL_PROCESS
    );
}
