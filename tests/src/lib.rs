//! burrow's integration test fixture: everything the scenarios in
//! tests/*.rs share. Runs in the test binaries, as root; the processes under
//! test run as an unprivileged test user the fixture creates.
//!
//! - `harness`: one setup and one teardown per test binary (libtest-mimic).
//! - `fixture`: the temporary install, the test user, the rootfs.
//! - `binaries`: nested release builds of burrow, the helper and the probe.
//! - `netns`: per-scenario network namespaces and the usernet policy.
//! - `cgroups`: the cgroup layout and the cgroup policy.
//! - `attack`: catching the helper while it runs, for the attack scenarios.
//! - `target`: a process holding still, with an fd on its /proc/PID, for
//!   the helper to act on.
//! - `user`, `rootfs`, `process`: the pieces.
//!
//! The probe (src/bin/probe.rs) is the small static program the scenarios
//! run inside containers.
//!
//! Running: `sudo tests/run` (everything, as CI does), or as root
//! `cargo test -p burrow-tests --test helper` / `--test container` /
//! `--test network` / `--test cgroup` / `--test attacks`, with the usual
//! filters (`-- helper_refuses --exact ...`, `--test-threads N`; the
//! default is 4). Not root: the integration tests are reported as
//! ignored, or fail when CI is set. A scenario that can check nothing on a
//! host (no cgroup2 hierarchy, say) ends with `harness::skip(reason)`:
//! ignored with its reason, never passed, and a failure when CI is set. Each test binary
//! builds fresh release binaries into target/integration and
//! target/integration-probe, creates the user `burrowt<pid>` and a directory
//! /tmp/burrow-tests-XXXXXX, and removes both at the end; the network tests
//! also create /run/burrow-tests and network namespaces `burrowt<pid>n<k>`
//! (so only one network test binary runs at a time); the cgroup tests
//! create /run/burrow-tests too, and cgroups `burrow-<uid>` below the test
//! process's own cgroups (removed at the end); the attack tests do both.
//! A run killed from outside (SIGKILL) leaves them behind; the next network
//! run replaces a stale /run/burrow-tests.

pub mod attack;
pub mod binaries;
pub mod cgroups;
pub mod fixture;
pub mod harness;
pub mod netns;
pub mod process;
pub mod rootfs;
pub mod target;
pub mod user;

pub use libtest_mimic::Failed;

/// The table of a test binary's scenarios, each named by its function:
/// `scenarios![helper_refuses_argc_0, ...]`.
#[macro_export]
macro_rules! scenarios {
    ($($scenario:ident),* $(,)?) => {
        &[$((stringify!($scenario), $scenario as $crate::harness::Scenario)),*]
    };
}

/// Fails the scenario with a formatted message unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::Failed::from(format!($($msg)+)));
        }
    };
}

/// Exit 0, exactly `stdout`, nothing on stderr; `what` names the run.
pub fn ensure_ran(out: &process::Output, stdout: &str, what: &str) -> Result<(), Failed> {
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (0, stdout, ""),
        "{what}: exit code, stdout and stderr"
    );
    Ok(())
}

/// Fails the scenario unless `left == right`, showing both and a context.
#[macro_export]
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($msg:tt)+) => {
        match (&$left, &$right) {
            (left, right) => {
                if left != right {
                    return Err($crate::Failed::from(format!(
                        "{}\n  expected: {:?}\n     found: {:?}",
                        format!($($msg)+),
                        right,
                        left
                    )));
                }
            }
        }
    };
}
