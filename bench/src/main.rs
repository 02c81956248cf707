//! burrow-bench: burrow's start-up benchmark against bubblewrap, crun, runc,
//! lxc-execute and unshare(1), measured side by side on one machine. Run it
//! through `sudo bench/run`, which installs the peers and builds burrow first.
//!
//! ```text
//! burrow-bench --burrow PATH --helper PATH [--runs N] [--warmup N] [--quick]
//!              [--json FILE] [--throughput-seconds S] [--leak-starts N]
//!              [--helper-runs N] [--revision TEXT]
//! burrow-bench worker       (internal: the benchmark user's side)
//! burrow-bench trace JSON   (internal: one ptrace-followed start, as root)
//! ```
//!
//! These are figures, not tests: nothing here asserts a time.

mod bench;
mod cleanup;
mod report;
mod setup;
mod stats;
mod sys;
mod trace;
mod worker;

use std::path::PathBuf;

const USAGE: &str = "usage: sudo bench/run [--runs N] [--warmup N] [--quick] [--json FILE]
                      [--throughput-seconds S] [--leak-starts N] [--helper-runs N]
  --runs N                counted start-to-exit runs per variant (default 100, --quick 30; at least 30)
  --warmup N              warm-up rounds before counting (default 5, --quick 3)
  --quick                 fewer runs, 2 s per throughput level, 200 leak-check starts
  --json FILE             also write the figures as JSON to FILE
  --throughput-seconds S  seconds per variant and throughput level, in 5 interleaved windows (default 10, --quick 2)
  --leak-starts N         sequential starts in the leak check (default 1000, --quick 200)
  --helper-runs N         runs of each helper operation (default: --runs)";

fn parse(args: &[String]) -> Result<bench::Options, String> {
    let mut quick = false;
    let mut runs = None;
    let mut warmup = None;
    let mut json = None;
    let mut secs = None;
    let mut leak = None;
    let mut helper_runs = None;
    let mut burrow = None;
    let mut helper = None;
    let mut revision = String::from("(unknown revision)");
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        if flag == "--quick" {
            quick = true;
            i += 1;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let value = args.get(i + 1).ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|_| format!("{flag}: not a number: {v}"));
        match flag {
            "--runs" => runs = Some(number(value)? as usize),
            "--warmup" => warmup = Some(number(value)? as usize),
            "--json" => json = Some(PathBuf::from(value)),
            "--throughput-seconds" => {
                secs = Some(
                    value
                        .parse::<f64>()
                        .map_err(|_| format!("{flag}: not a number: {value}"))?,
                )
            }
            "--leak-starts" => leak = Some(number(value)?),
            "--helper-runs" => helper_runs = Some(number(value)? as usize),
            "--burrow" => burrow = Some(PathBuf::from(value)),
            "--helper" => helper = Some(PathBuf::from(value)),
            "--revision" => revision = value.clone(),
            _ => return Err(format!("unknown option {flag}")),
        }
        i += 2;
    }
    let runs = runs.unwrap_or(if quick { 30 } else { 100 });
    if runs < 30 {
        return Err(format!("--runs {runs}: at least 30 counted runs per variant"));
    }
    Ok(bench::Options {
        runs,
        warmup: warmup.unwrap_or(if quick { 3 } else { 5 }),
        json,
        throughput_secs: secs.unwrap_or(if quick { 2.0 } else { 10.0 }),
        leak_starts: leak.unwrap_or(if quick { 200 } else { 1000 }),
        helper_runs: helper_runs.unwrap_or(runs).max(1),
        burrow: burrow.ok_or("--burrow PATH is required (bench/run passes it)")?,
        helper: helper.ok_or("--helper PATH is required (bench/run passes it)")?,
        revision,
        quick,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("worker") => worker::main(),
        Some("trace") => trace::main(args.get(1).map(String::as_str).unwrap_or("")),
        _ => {}
    }
    // SAFETY: geteuid takes nothing.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("burrow-bench: must run as root (it creates a user and installs a setuid helper): sudo bench/run");
        std::process::exit(1);
    }
    let options = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("burrow-bench: {e}\n{USAGE}");
            std::process::exit(64);
        }
    };
    std::process::exit(bench::main(options));
}
