//! The custom test harness shared by the integration test binaries (built
//! on libtest-mimic): one fixture setup before the scenarios and one
//! teardown after them, whatever happened in between. Runs as root.
//!
//! Not root: with CI set every scenario fails (CI must run them all);
//! without it they are reported as ignored, saying that they need root.

use crate::fixture::Fixture;
use crate::process;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::process::ExitCode;
use std::sync::Arc;

pub type Scenario = fn(&Fixture) -> Result<(), Failed>;

pub struct Suite {
    /// The workspace packages whose binaries the scenarios run.
    pub packages: &'static [&'static str],
    /// The scenarios make network namespaces and call the helper's veth:
    /// the fixture writes the usernet policy (`netns::Policy`).
    pub network: bool,
    pub scenarios: &'static [(&'static str, Scenario)],
}

/// Scenarios running at once, unless `--test-threads` says otherwise: they
/// are independent, but a small fixed number keeps runs alike.
const DEFAULT_THREADS: usize = 4;

const NEEDS_ROOT: &str = "needs root: run `sudo tests/run`";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn trials(suite: &Suite, make: impl Fn(&'static str, Scenario) -> Trial) -> Vec<Trial> {
    suite
        .scenarios
        .iter()
        .map(|&(name, scenario)| make(name, scenario))
        .collect()
}

thread_local! {
    /// Why the scenario running on this thread could check nothing here.
    static SKIPPED: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Ends a scenario that cannot check anything on this host (`return
/// harness::skip(…)`): it is reported as ignored, with `reason`, never as
/// passed; with CI set it fails instead, since CI must run every scenario.
pub fn skip(reason: impl std::fmt::Display) -> Result<(), Failed> {
    if in_ci() {
        return Err(format!("cannot run on this host: {reason} (CI is set: not skipping)").into());
    }
    SKIPPED.with(|skipped| *skipped.borrow_mut() = Some(reason.to_string()));
    Ok(())
}

/// Runs one scenario, then checks that it left no process behind.
fn run_scenario(fixture: &Fixture, scenario: Scenario) -> Result<Completion, Failed> {
    let result = scenario(fixture);
    let orphans = process::reap_orphans();
    result?;
    if !orphans.is_empty() {
        return Err(format!("left behind (reparented to the test binary): {}", orphans.join(", ")).into());
    }
    Ok(match SKIPPED.with(|skipped| skipped.borrow_mut().take()) {
        Some(reason) => Completion::ignored_with(reason),
        None => Completion::Completed,
    })
}

pub fn main(suite: Suite) -> ExitCode {
    run_suite(suite, false, DEFAULT_THREADS)
}

/// `main` for scenarios whose processes outlive the command that started
/// them (a detached container's monitor, reparented to the test binary,
/// a subreaper): one at a time, so that no other scenario's orphan check
/// meets a monitor before its own scenario has claimed it.
pub fn main_serial(suite: Suite) -> ExitCode {
    run_suite(suite, false, 1)
}

/// `main` for scenarios that delegate cgroups: the fixture also writes the
/// helper's cgroup policy, and its teardown removes the test user's
/// delegated cgroups (`cgroups::Policy`).
pub fn main_with_cgroup_policy(suite: Suite) -> ExitCode {
    run_suite(suite, true, DEFAULT_THREADS)
}

fn run_suite(suite: Suite, cgroup: bool, threads: usize) -> ExitCode {
    let mut args = Arguments::from_args();
    args.test_threads = args.test_threads.or(Some(threads));

    let placeholder = |name: &'static str, _| Trial::test(name, || Ok(()));
    let will_run = trials(&suite, placeholder)
        .iter()
        .any(|t| !args.is_filtered_out(t) && !args.is_ignored(t));
    if args.list || !will_run {
        return libtest_mimic::run(&args, trials(&suite, placeholder)).exit_code();
    }

    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        if in_ci() {
            let fail = |name: &'static str, _| {
                Trial::test(name, || Err(format!("{NEEDS_ROOT} (CI is set: not skipping)").into()))
            };
            return libtest_mimic::run(&args, trials(&suite, fail)).exit_code();
        }
        eprintln!("burrow-tests: integration tests {NEEDS_ROOT}; reporting them as ignored");
        let ignore = |name: &'static str, _| Trial::ignorable_test(name, || Ok(Completion::ignored_with(NEEDS_ROOT)));
        return libtest_mimic::run(&args, trials(&suite, ignore)).exit_code();
    }

    // Still single-threaded here.
    let setup = process::reserve_low_fds()
        .and_then(|()| process::become_subreaper())
        .map_err(|e| format!("preparing the test process: {e}"))
        .and_then(|()| Fixture::setup(suite.packages, suite.network, cgroup));
    let fixture = match setup {
        Ok(fixture) => Arc::new(fixture),
        Err(e) => {
            eprintln!("burrow-tests: fixture setup failed: {e}");
            let fail = |name: &'static str, _| {
                Trial::test(
                    name,
                    || Err("fixture setup failed (the reason is printed above)".into()),
                )
            };
            return libtest_mimic::run(&args, trials(&suite, fail)).exit_code();
        }
    };

    let run = |name: &'static str, scenario: Scenario| {
        let fixture = Arc::clone(&fixture);
        Trial::ignorable_test(name, move || run_scenario(&fixture, scenario))
    };
    let conclusion = libtest_mimic::run(&args, trials(&suite, run));

    let teardown = match Arc::try_unwrap(fixture) {
        Ok(fixture) => fixture.teardown(),
        Err(_) => Err("a scenario still holds the fixture".to_owned()),
    };
    match teardown {
        Ok(()) => conclusion.exit_code(),
        Err(e) => {
            eprintln!("burrow-tests: teardown failed: {e}");
            ExitCode::from(101)
        }
    }
}
