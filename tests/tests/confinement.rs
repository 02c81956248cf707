//! burrow-helper's self-confinement (helper/src/confine.rs), seen from
//! outside. The veth operation is caught while it waits for the caller's
//! lock, which the scenario holds as root: by then the helper has confined
//! itself, and /proc/PID shows it (no_new_privs, seccomp filters, no
//! capability but the one permitted, entries owned by root as for any
//! non-dumpable process), and the test user cannot open its memory or
//! environment. `burrow-helper --version` says whether Landlock is enforced,
//! compared with the kernel's own answer. The helper runs as the test user
//! in a network namespace the scenario creates (`netns::TestNet`); each
//! scenario's comment names the checks it guards.

use burrow_shared::exit;
use burrow_tests::attack;
use burrow_tests::fixture::Fixture;
use burrow_tests::harness::{self, Scenario, Suite};
use burrow_tests::netns::{BRIDGE, TestNet};
use burrow_tests::process::{self, Output};
use burrow_tests::{Failed, ensure, ensure_eq};
use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::process::{ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const SCENARIOS: &[(&str, Scenario)] =
    burrow_tests::scenarios![helper_version_reports_landlock, veth_helper_is_confined_while_it_works,];

/// How long the helper may take to reach the lock.
const LOCK_WAIT_LIMIT: Duration = Duration::from_secs(20);

fn main() -> ExitCode {
    harness::main(Suite {
        packages: &["burrow-helper"],
        network: true,
        scenarios: SCENARIOS,
    })
}

fn run(cmd: &mut std::process::Command) -> Output {
    process::run(cmd, None).expect("run a command")
}

/// The kernel's Landlock ABI version, or the errno of the query (ENOSYS:
/// not built in; EOPNOTSUPP: not enabled at boot).
fn landlock_abi() -> Result<i64, i32> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: the version query takes no ruleset attribute (NULL, 0).
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    match abi {
        1.. => Ok(abi),
        _ => Err(io::Error::last_os_error().raw_os_error().unwrap_or(0)),
    }
}

/// Guards `--version` (helper/src/main.rs) and `confine::landlock_report`:
/// the version, then the Landlock line the kernel's own answer calls for
/// (here: ABI 7, enforced), whoever runs it.
fn helper_version_reports_landlock(f: &Fixture) -> Result<(), Failed> {
    let landlock = match landlock_abi() {
        Ok(abi) => format!("landlock: ABI {abi}, enforced"),
        Err(libc::EOPNOTSUPP) => "landlock: not enforced (this kernel has it disabled)".to_owned(),
        Err(_) => "landlock: not enforced (this kernel does not have it)".to_owned(),
    };
    let expected = format!("burrow-helper {}\n{landlock}\n", env!("CARGO_PKG_VERSION"));
    for helper in [&f.helper, &f.helper_unprivileged] {
        let out = run(f.as_user(helper).arg("--version"));
        ensure_eq!(
            (out.code(), out.stdout.as_str(), out.stderr.as_str()),
            (exit::OK, expected.as_str(), ""),
            "{} --version: exit code, stdout and stderr",
            helper.display()
        );
    }
    Ok(())
}

/// Waits until `pid` (our child) blocks in flock(2), as /proc/PID/syscall
/// (root may read it) shows; fails if it exits first or takes too long.
fn wait_in_flock(pid: u32) -> Result<(), Failed> {
    let deadline = Instant::now() + LOCK_WAIT_LIMIT;
    loop {
        let syscall = fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        if syscall.split_whitespace().next() == Some(&libc::SYS_flock.to_string()) {
            return Ok(());
        }
        let state = process::proc_stat(pid).map(|s| s.state).unwrap_or('X');
        ensure!(
            !matches!(state, 'Z' | 'X'),
            "the helper exited before waiting for the lock"
        );
        ensure!(
            Instant::now() < deadline,
            "the helper did not wait for the lock within {}s",
            LOCK_WAIT_LIMIT.as_secs()
        );
        thread::sleep(Duration::from_millis(2));
    }
}

/// What the running helper `pid` looks like from outside (see the
/// scenario), as root reads /proc/PID and as the test user opens it.
fn ensure_confined(f: &Fixture, pid: u32) -> Result<(), Failed> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("status: {e}"))?;
    let field = |key: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
            .map_or_else(|| "(missing)".to_owned(), |value| value.trim().to_owned())
    };
    let keys = [
        "Uid",
        "NoNewPrivs",
        "Seccomp",
        "CapInh",
        "CapPrm",
        "CapEff",
        "CapBnd",
        "CapAmb",
    ];
    let uid = f.user.uid;
    const CAP_NET_ADMIN: u32 = 12;
    let cap_net_admin = format!("{:016x}", 1u64 << CAP_NET_ADMIN);
    let none = "0000000000000000";
    ensure_eq!(
        keys.map(field),
        [
            format!("{uid}\t{uid}\t{uid}\t{uid}"),
            "1".to_owned(),
            "2".to_owned(),
            none.to_owned(),
            cap_net_admin,
            none.to_owned(),
            none.to_owned(),
            none.to_owned(),
        ],
        "the running helper's {keys:?}"
    );
    // The kill filter and the allowlist (more if the test itself runs under seccomp).
    let filters: u32 = field("Seccomp_filters").parse().unwrap_or(0);
    ensure!(
        filters >= 2,
        "the running helper has {filters} seccomp filters, fewer than its kill filter and allowlist"
    );

    // The owner tells a non-dumpable helper apart: the opens below would
    // fail for a dumpable one too, whose permitted capabilities the test
    // user lacks (the kernel's ptrace access rule).
    for name in ["mem", "environ"] {
        let path = format!("/proc/{pid}/{name}");
        let owner = fs::metadata(&path).map_err(|e| format!("{path}: {e}"))?.uid();
        ensure_eq!(owner, 0, "the owner of {path} (root's: the helper is not dumpable)");
        let out = run(f.as_user("cat").arg(&path));
        ensure_eq!(
            (out.code(), out.stdout.as_str(), out.stderr.as_str()),
            (1, "", format!("cat: {path}: Permission denied\n").as_str()),
            "the test user's cat {path}"
        );
    }
    Ok(())
}

/// Guards confine.rs `confine` (no_new_privs, both seccomp filters) as veth
/// runs it, and privilege.rs `drop_to` (all four uids the caller's, no
/// capability but CAP_NET_ADMIN permitted and none effective, empty bounding,
/// inheritable and ambient sets, not dumpable): the helper, caught waiting
/// for the lock after its policy checks, shows all of it in /proc/PID; the
/// test user cannot open its mem or environ; released, it makes the veth.
fn veth_helper_is_confined_while_it_works(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &[])?;
    let holder = net.holder(Some((f.user.uid, f.user.gid)))?;
    let lock = attack::hold_veth_lock(f.user.uid).map_err(|e| format!("holding the veth lock: {e}"))?;
    let mut cmd = net.as_user(&f.helper);
    cmd.args(["veth", "--netns-fd", "3", "--bridge", BRIDGE]);
    process::pass_fd(&mut cmd, holder.netns.as_raw_fd(), 3);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let helper = process::spawn(&mut cmd).map_err(|e| format!("starting the helper: {e}"))?;
    let seen = wait_in_flock(helper.pid).and_then(|()| ensure_confined(f, helper.pid));
    drop(lock);
    let out = helper
        .output(None)
        .map_err(|e| format!("waiting for the helper: {e}"))?;
    seen?;
    ensure!(
        out.code() == exit::OK && out.stderr.is_empty(),
        "the helper failed once released: {out}"
    );
    let peer = out
        .stdout
        .split_whitespace()
        .find_map(|field| field.strip_prefix("peer="))
        .unwrap_or_default()
        .to_owned();
    ensure_eq!(
        holder.link_names()?,
        ["lo".to_owned(), peer].into(),
        "links in the target's namespace ({out})"
    );
    holder.end()
}
