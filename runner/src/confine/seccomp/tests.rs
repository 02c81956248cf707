//! seccomp.rs's one program against the stack of filters it stands for,
//! built the straightforward way with seccompiler and combined as the
//! kernel combines filters, on the default profile and on random ones.

use super::*;
use crate::confine::seccomp::bpf;
use crate::confine::seccomp::profile::{self, Context};
use caps::Capability;
use oci_spec::runtime::{LinuxSeccompArgBuilder, LinuxSeccompBuilder, LinuxSyscallBuilder};
use seccompiler::{SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule};

const I386: u32 = 0x4000_0003;

/// Opcodes for the hand-written parts of the reference.
const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGT_K: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
const JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

fn op(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The stack itself: one seccompiler filter per layer, and the guard; when
/// the default denies, runc's ENOSYS stub before the default filter, in the
/// same program, as runc puts it before libseccomp's.
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
    if let Some(highest) = highest.filter(|_| denies) {
        let stub = [
            op(LD_W_ABS, 0, 0, NR),
            op(JGT_K, 0, 1, highest),
            op(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
        ];
        programs[0].splice(0..0, stub);
    }
    programs.push(reference_guard());
    programs
}

/// The guard as a filter of its own, by hand.
fn reference_guard() -> Vec<sock_filter> {
    let kill = libc::SECCOMP_RET_KILL_PROCESS;
    vec![
        op(LD_W_ABS, 0, 0, ARCH),
        op(JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        op(RET_K, 0, 0, kill),
        op(LD_W_ABS, 0, 0, NR),
        op(JGE_K, 0, 2, X32_SYSCALL_BIT),
        // x32, or -1: a call a tracer skips.
        op(JEQ_K, 1, 0, u32::MAX),
        op(RET_K, 0, 0, kill),
        op(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ]
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
                    values.extend([v ^ 1 << 63, v ^ 1 << 31]);
                    // Each half equal, one below and one above the value's,
                    // with and without carries between them.
                    for high in [-1i64, 0, 1] {
                        for low in [-1i64, 0, 1] {
                            let high = ((v >> 32) as u32).wrapping_add_signed(high as i32);
                            let low = (v as u32).wrapping_add_signed(low as i32);
                            values.push(u64::from(high) << 32 | u64::from(low));
                        }
                    }
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

/// burrow's default profile as the runner resolves it for `capabilities`.
pub(super) fn default_profile(capabilities: &[Capability]) -> LinuxSeccomp {
    let caps = capabilities.iter().copied().collect();
    let context = Context {
        capabilities: &caps,
        kernel: (6, 18),
    };
    profile::parse(profile::DEFAULT_PROFILE, &context).unwrap()
}

#[test]
fn default_profile_means_what_its_filter_stack_means() {
    let mut random = Random(0x5eed);
    let mut admin = crate::spec::defaults::CAPABILITIES.to_vec();
    admin.push(Capability::CAP_SYS_ADMIN);
    let all: Vec<Capability> = caps::all().into_iter().collect();
    for capabilities in [crate::spec::defaults::CAPABILITIES, &admin, &all, &[]] {
        let seccomp = default_profile(capabilities);
        let (checked, length) = assert_same(&seccomp, &mut random, 40);
        assert!(checked > 30_000);
        // One short program instead of four filters, 1,600 instructions
        // for the first alone.
        assert!(length < 400, "{length} instructions");
    }
}

/// A random profile of up to `rules` rules, each naming up to `per_rule` of
/// `names` with up to `conditions` argument conditions.
fn random_profile(
    random: &mut Random,
    names: &[&str],
    rules: usize,
    per_rule: usize,
    conditions: usize,
) -> LinuxSeccomp {
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
    let values = [
        0,
        1,
        8,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_ffff,
        0x1_0000_0000,
        0x1_0000_0008,
        0x1_ffff_ffff,
        0xffff_ffff_0000_0000,
        u64::MAX,
        0xff00,
    ];
    // 0 makes a call return 0 without running; 70000 is cut to 16 bits.
    let errnos: [Option<u32>; 6] = [None, Some(1), Some(38), Some(13), Some(0), Some(4095)];
    let mut syscalls = Vec::new();
    for _ in 0..random.below(rules) + 1 {
        let count = random.below(per_rule) + 1;
        let chosen: Vec<String> = (0..count).map(|_| random.pick(names).to_owned()).collect();
        let mut rule = LinuxSyscallBuilder::default()
            .names(chosen)
            .action(random.pick(&actions));
        if let Some(errno) = random.pick(&errnos) {
            rule = rule.errno_ret(errno);
        }
        let args: Vec<_> = (0..random.below(conditions + 1))
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
    seccomp.build().unwrap()
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
    let mut random = Random(0x0b5e_55ed);
    for _ in 0..300 {
        let seccomp = random_profile(&mut random, &names, 8, 3, 2);
        assert_same(&seccomp, &mut random, 12);
    }
}

#[test]
fn large_random_profiles_mean_what_their_filter_stacks_mean() {
    // Programs of thousands of instructions: long jumps in the search and
    // inside the argument tests.
    let default = default_profile(&[]);
    let names: Vec<&str> = default
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|s| s.names())
        .map(String::as_str)
        .collect();
    let mut random = Random(0x1a_26e);
    let mut lengths = Vec::new();
    for _ in 0..12 {
        let seccomp = random_profile(&mut random, &names[..120], 24, 40, 3);
        if compile(&seccomp).is_ok() {
            lengths.push(assert_same(&seccomp, &mut random, 24).1);
        }
    }
    assert!(lengths.iter().filter(|&&l| l > 1000).count() >= 3, "{lengths:?}");
}

#[test]
fn default_profile_denies_with_eperm_and_enosys_above_its_numbers() {
    let seccomp = default_profile(crate::spec::defaults::CAPABILITIES);
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
    // TIOCSTI and TIOCLINUX are refused, other ioctls are not, whatever
    // the upper 32 bits, which the kernel does not read.
    for high in [0, 1 << 32, 0xffff_ffff_0000_0000] {
        let ioctl = |request: u64| run(AUDIT_ARCH_X86_64, number("ioctl"), [0, high | request, 0, 0, 0, 0]);
        assert_eq!(
            (ioctl(0x5412), ioctl(0x541c), ioctl(0x5413)),
            (eperm, eperm, allow),
            "{high:#x}"
        );
    }
    assert_eq!(run(AUDIT_ARCH_X86_64, -1, zero), enosys);
    // AF_VSOCK sockets are refused.
    assert_eq!(run(AUDIT_ARCH_X86_64, number("socket"), [40, 1, 0, 0, 0, 0]), eperm);
    // The kernel reads the family as an int: high bits do not hide AF_VSOCK.
    assert_eq!(
        run(AUDIT_ARCH_X86_64, number("socket"), [0x1_0000_0028, 1, 0, 0, 0, 0]),
        eperm
    );
    assert_eq!(
        run(AUDIT_ARCH_X86_64, number("socket"), [0x1_0000_0002, 1, 0, 0, 0, 0]),
        allow
    );
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

/// A profile of `rules` (names, action, errnoRet) without conditions.
fn profile(default: LinuxSeccompAction, rules: &[(&[&str], LinuxSeccompAction, Option<u32>)]) -> LinuxSeccomp {
    let syscalls = rules
        .iter()
        .map(|&(names, action, errno)| {
            let mut rule = LinuxSyscallBuilder::default()
                .names(names.iter().map(|&n| n.to_owned()).collect::<Vec<_>>())
                .action(action);
            if let Some(errno) = errno {
                rule = rule.errno_ret(errno);
            }
            rule.build().unwrap()
        })
        .collect::<Vec<_>>();
    LinuxSeccompBuilder::default()
        .default_action(default)
        .syscalls(syscalls)
        .build()
        .unwrap()
}

fn errno(errno: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | errno as u32
}

#[test]
fn the_later_of_two_errno_rules_wins() {
    // The errno of the later rule for read, although the profile uses
    // EACCES first (for write).
    let seccomp = profile(
        LinuxSeccompAction::ScmpActAllow,
        &[
            (&["write"], LinuxSeccompAction::ScmpActErrno, Some(13)),
            (&["read"], LinuxSeccompAction::ScmpActErrno, Some(38)),
            (&["read"], LinuxSeccompAction::ScmpActErrno, Some(13)),
        ],
    );
    let program = compile(&seccomp).unwrap();
    let run = |nr| bpf::run(&program, &data(AUDIT_ARCH_X86_64, nr, [0; 6]));
    assert_eq!((run(0), run(1)), (errno(libc::EACCES), errno(libc::EACCES)));
}

#[test]
fn numbers_above_the_named_ones_get_enosys_whatever_the_default_denies_with() {
    let allow_read_and_write = [
        (&["read"][..], LinuxSeccompAction::ScmpActAllow, None),
        (&["write"][..], LinuxSeccompAction::ScmpActAllow, None),
    ];
    for (default, denial) in [
        (LinuxSeccompAction::ScmpActKillProcess, libc::SECCOMP_RET_KILL_PROCESS),
        (LinuxSeccompAction::ScmpActKill, libc::SECCOMP_RET_KILL_THREAD),
        (LinuxSeccompAction::ScmpActTrap, libc::SECCOMP_RET_TRAP),
        (LinuxSeccompAction::ScmpActErrno, errno(libc::EPERM)),
    ] {
        let program = compile(&profile(default, &allow_read_and_write)).unwrap();
        let run = |nr| bpf::run(&program, &data(AUDIT_ARCH_X86_64, nr, [0; 6]));
        assert_eq!(run(1), libc::SECCOMP_RET_ALLOW, "{default:?}");
        assert_eq!(
            (run(2), run(435)),
            (errno(libc::ENOSYS), errno(libc::ENOSYS)),
            "{default:?}"
        );
        // Below the highest named number, the default applies.
        let program = compile(&profile(
            default,
            &[(&["clone3"], LinuxSeccompAction::ScmpActAllow, None)],
        ))
        .unwrap();
        let run = |nr| bpf::run(&program, &data(AUDIT_ARCH_X86_64, nr, [0; 6]));
        assert_eq!((run(0), run(436)), (denial, errno(libc::ENOSYS)), "{default:?}");
    }
}

#[test]
fn number_minus_one_is_no_x32_call() {
    // A tracer skips a system call by setting its number to -1, and seccomp
    // then sees -1 (strace's fault injection does this): it is a number
    // above every named one, not a reason to kill.
    let kill = libc::SECCOMP_RET_KILL_PROCESS;
    for (default, minus_one) in [
        (LinuxSeccompAction::ScmpActErrno, errno(libc::ENOSYS)),
        (LinuxSeccompAction::ScmpActKillProcess, errno(libc::ENOSYS)),
        (LinuxSeccompAction::ScmpActAllow, libc::SECCOMP_RET_ALLOW),
    ] {
        let seccomp = profile(default, &[(&["read"], LinuxSeccompAction::ScmpActAllow, None)]);
        let program = compile(&seccomp).unwrap();
        let run = |arch, nr| bpf::run(&program, &data(arch, nr, [0; 6]));
        assert_eq!(run(AUDIT_ARCH_X86_64, u32::MAX), minus_one, "{default:?}");
        for x32 in [X32_SYSCALL_BIT, X32_SYSCALL_BIT | 1, u32::MAX - 1] {
            assert_eq!(run(AUDIT_ARCH_X86_64, x32), kill, "{default:?} {x32:#x}");
        }
        assert_eq!(run(I386, u32::MAX), kill, "{default:?}");
    }
}

/// A profile whose program is long (near the kernel's limit) and needs long
/// jumps: `rules` errno rules per harmless system call, each matching one
/// value of argument 0 and returning its own errno.
fn long_profile(calls: &[&str], rules: usize) -> LinuxSeccomp {
    let mut syscalls = Vec::new();
    for (call, name) in calls.iter().enumerate() {
        for rule in 0..rules {
            let magic = 0xdead_beef_0000_0000 | (call * rules + rule) as u64;
            let arg = LinuxSeccompArgBuilder::default()
                .index(0usize)
                .value(magic)
                .op(LinuxSeccompOperator::ScmpCmpEq)
                .build()
                .unwrap();
            let rule = LinuxSyscallBuilder::default()
                .names(vec![name.to_string()])
                .action(LinuxSeccompAction::ScmpActErrno)
                .errno_ret((1000 + call * rules + rule) as u32)
                .args(vec![arg])
                .build()
                .unwrap();
            syscalls.push(rule);
        }
    }
    LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActAllow)
        .syscalls(syscalls)
        .build()
        .unwrap()
}

#[test]
fn the_kernel_accepts_a_long_program_and_agrees_with_the_interpreter() {
    const CALLS: [(&str, i64); 6] = [
        ("getppid", libc::SYS_getppid),
        ("getpid", libc::SYS_getpid),
        ("getuid", libc::SYS_getuid),
        ("getgid", libc::SYS_getgid),
        ("geteuid", libc::SYS_geteuid),
        ("getegid", libc::SYS_getegid),
    ];
    const RULES: usize = 120;
    let names = CALLS.map(|(name, _)| name);
    let program = compile(&long_profile(&names, RULES)).unwrap();
    assert!(program.len() > 3600, "{} instructions", program.len());
    let ja = (libc::BPF_JMP | libc::BPF_JA) as u16;
    assert!(program.iter().any(|i| i.code == ja && i.k > 255), "no long jump");
    // What each call returns with argument 0 set to each rule's value (and
    // to 0): the errno, or 0 when allowed.
    let inputs: Vec<(i64, u64)> = (0..CALLS.len())
        .flat_map(|call| [0, 1, RULES / 2, RULES - 1].map(|rule| (call, (call * RULES + rule) as u64)))
        .flat_map(|(call, rule)| [(CALLS[call].1, 0xdead_beef_0000_0000 | rule), (CALLS[call].1, rule)])
        .collect();
    let expected: Vec<i32> = inputs
        .iter()
        .map(|&(nr, arg)| {
            let ret = bpf::run(&program, &data(AUDIT_ARCH_X86_64, nr as u32, [arg, 0, 0, 0, 0, 0]));
            if ret == libc::SECCOMP_RET_ALLOW {
                0
            } else {
                (ret & libc::SECCOMP_RET_DATA) as i32
            }
        })
        .collect();
    assert_eq!(expected.iter().filter(|&&e| e != 0).count(), inputs.len() / 2);
    // SECURITY: the filter is installed on a thread of its own (filters and
    // no_new_privs belong to the thread), which exits after the calls.
    let kernel = std::thread::spawn(move || {
        nix::sys::prctl::set_no_new_privs().unwrap();
        install(&program).unwrap();
        let outcome = |&(nr, arg): &(i64, u64)| match crate::sys::seccomp::call_harmless(nr, arg) {
            Ok(_) => 0,
            Err(error) => error.raw_os_error().unwrap(),
        };
        inputs.iter().map(outcome).collect::<Vec<i32>>()
    });
    assert_eq!(kernel.join().unwrap(), expected);
}

#[test]
fn a_program_beyond_the_kernels_limit_is_a_clear_error() {
    let error = compile(&long_profile(&["getppid", "getpid", "getuid", "getgid"], 220)).unwrap_err();
    let count: usize = error
        .strip_prefix("the filter needs ")
        .and_then(|rest| rest.strip_suffix(" instructions, more than the kernel's 4096"))
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("{error}"));
    assert!(count > MAX_INSTRUCTIONS, "{error}");
    // The limit is the kernel's: it takes a program of that length, and
    // refuses one instruction more.
    let installs = |length: usize| {
        let program = vec![op(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW); length];
        // SECURITY: on a thread of its own, as in the test above.
        std::thread::spawn(move || {
            nix::sys::prctl::set_no_new_privs().unwrap();
            install(&program).map_err(|failure| failure.errno)
        })
        .join()
        .unwrap()
    };
    assert_eq!(
        (installs(MAX_INSTRUCTIONS), installs(MAX_INSTRUCTIONS + 1)),
        (Ok(()), Err(libc::EINVAL))
    );
}

#[test]
fn an_errno_above_4095_is_refused() {
    let over = profile(
        LinuxSeccompAction::ScmpActErrno,
        &[(&["read"], LinuxSeccompAction::ScmpActErrno, Some(4096))],
    );
    let error = compile(&over).err();
    assert_eq!(
        error.as_deref(),
        Some("errnoRet 4096 is above 4095, the largest errno there is")
    );
    let default = LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActErrno)
        .default_errno_ret(70_000u32)
        .build()
        .unwrap();
    assert_eq!(
        compile(&default).unwrap_err(),
        "errnoRet 70000 is above 4095, the largest errno there is"
    );
    let at = profile(
        LinuxSeccompAction::ScmpActErrno,
        &[(&["read"], LinuxSeccompAction::ScmpActErrno, Some(4095))],
    );
    compile(&at).unwrap();
}
