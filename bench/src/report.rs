//! The printed table and the JSON file: the same figures in both.

use crate::bench::{HelperOp, Options, Throughput, Variant};
use crate::stats::{self, Summary};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;

pub struct Report {
    pub runs: usize,
    pub warmup: usize,
    pub helper_runs: usize,
    pub throughput_secs: f64,
    pub quick: bool,
    pub revision: String,
    pub machine: Value,
    pub setup: Value,
    pub variants: Vec<Variant>,
    pub helper_ops: Vec<HelperOp>,
    pub throughput: Vec<Throughput>,
    pub memory: Value,
    pub leak: Value,
}

impl Report {
    pub fn new(o: &Options) -> Report {
        Report {
            runs: o.runs,
            warmup: o.warmup,
            helper_runs: o.helper_runs,
            throughput_secs: o.throughput_secs,
            quick: o.quick,
            revision: o.revision.clone(),
            machine: Value::Null,
            setup: Value::Null,
            variants: Vec::new(),
            helper_ops: Vec::new(),
            throughput: Vec::new(),
            memory: Value::Null,
            leak: Value::Null,
        }
    }

    fn bwrap(&self) -> Option<&Variant> {
        self.variants
            .iter()
            .find(|v| v.key == "bwrap" && v.unavailable.is_none())
    }
}

fn measured(v: &Variant) -> Vec<f64> {
    v.samples.iter().flatten().copied().collect()
}

/// (summary, median of paired ratios to bwrap, ratio of medians).
fn variant_figures(r: &Report, v: &Variant) -> (Option<Summary>, Option<f64>, Option<f64>) {
    let summary = stats::summarize(&measured(v));
    let bwrap = r.bwrap();
    let paired = bwrap.and_then(|b| stats::paired_ratio(&v.samples, &b.samples));
    let of_medians = bwrap
        .and_then(|b| stats::median(&measured(b)))
        .zip(summary)
        .map(|(b, s)| s.median / b);
    (summary, paired, of_medians)
}

/// A figure (milliseconds, a ratio) to two places, or `-`.
fn figure(x: Option<f64>) -> String {
    x.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into())
}

fn kib(v: &Value) -> String {
    v.as_u64().map(|k| format!("{k} KiB")).unwrap_or_else(|| "-".into())
}

pub fn table(r: &Report) -> String {
    let mut t = String::new();
    let m = &r.machine;
    let _ = writeln!(
        t,
        "\nburrow-bench on {} CPUs ({}), Linux {}; burrow {}",
        m["cpus"],
        m["cpu"].as_str().unwrap_or("?"),
        m["kernel"].as_str().unwrap_or("?"),
        r.revision
    );
    let busy = m["loadavg_start"].as_f64().unwrap_or(0.0) > m["cpus"].as_f64().unwrap_or(1.0) / 2.0;
    let _ = writeln!(
        t,
        "1-minute load average before the benchmark: {}{}",
        m["loadavg_start"]
            .as_f64()
            .map(|l| format!("{l:.2}"))
            .unwrap_or_else(|| "?".into()),
        if busy {
            " (the machine was busy: expect noisier figures)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        t,
        "\nStart-to-exit of /bin/true in a busybox rootfs, as an unprivileged user, in ms\n\
         ({} counted runs per variant after {} warm-up rounds, interleaved, order rotated each round)\n",
        r.runs, r.warmup
    );
    let _ = writeln!(
        t,
        "{:<36} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6}",
        "variant", "min", "median", "p90", "×bwrap", "CPU", "failed"
    );
    for v in &r.variants {
        if v.unavailable.is_some() {
            continue;
        }
        let (s, paired, _) = variant_figures(r, v);
        let _ = writeln!(
            t,
            "{:<36} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6}",
            v.label,
            figure(s.map(|s| s.min)),
            figure(s.map(|s| s.median)),
            figure(s.map(|s| s.p90)),
            figure(paired),
            figure(stats::median(&v.cpu)),
            v.failures
        );
    }
    let _ = writeln!(
        t,
        "×bwrap: the median, over rounds, of this variant's run divided by bwrap's run in the same round.\n\
         CPU: median user + system time of the whole process tree (kernel work left to kworkers, such as a\n\
         network namespace's teardown, is not in it)."
    );
    for v in r.variants.iter().filter(|v| v.unavailable.is_some()) {
        let _ = writeln!(
            t,
            "not measured: {}: {}",
            v.label,
            v.unavailable.as_deref().unwrap_or("")
        );
    }
    for v in r.variants.iter().filter(|v| v.failures > 0) {
        let _ = writeln!(
            t,
            "{} failed {} times, first: {}",
            v.label,
            v.failures,
            v.first_error.as_deref().unwrap_or("?")
        );
    }

    let _ = writeln!(
        t,
        "\nThroughput: N concurrent starters for {} s each, in {} windows interleaved with the other variant's",
        r.throughput_secs,
        crate::bench::WINDOWS
    );
    let _ = writeln!(
        t,
        "{:<36} {:>8} {:>12} {:>7} {:>8} {:>10}",
        "variant", "starters", "containers/s", "×bwrap", "failed", "median ms"
    );
    for x in &r.throughput {
        let _ = writeln!(
            t,
            "{:<36} {:>8} {:>12.1} {:>7} {:>8} {:>10}",
            x.label,
            x.starters,
            x.per_second,
            figure(x.x_bwrap),
            x.failed,
            figure(x.median_ms)
        );
        if let Some(e) = &x.first_error {
            let _ = writeln!(t, "    first failure: {e}");
        }
    }

    let _ = writeln!(
        t,
        "\nburrow-helper operations, called directly by the user as the runner does, in ms ({} runs each)",
        r.helper_runs
    );
    let _ = writeln!(
        t,
        "{:<52} {:>7} {:>7} {:>7} {:>6}",
        "operation", "min", "median", "p90", "failed"
    );
    for op in &r.helper_ops {
        let s = stats::summarize(&op.samples_ms);
        let _ = writeln!(
            t,
            "{:<52} {:>7} {:>7} {:>7} {:>6}",
            op.label,
            figure(s.map(|s| s.min)),
            figure(s.map(|s| s.median)),
            figure(s.map(|s| s.p90)),
            op.failures
        );
        if let Some(e) = &op.first_error {
            let _ = writeln!(t, "    first failure: {e}");
        }
    }

    let mem = &r.memory;
    let _ = writeln!(t, "\nMemory (peak resident set, VmHWM)");
    for (key, label) in [
        ("burrow", "burrow"),
        ("burrow_veth_cgroup_limits", "burrow + veth + cgroup limits"),
    ] {
        let s = &mem["runner_supervising"][key];
        let _ = writeln!(
            t,
            "runner supervising `sleep 1`, {label}: {} (VmRSS {}, {} fds{})",
            kib(&s["vmhwm_kb"]),
            kib(&s["vmrss_kb"]),
            s["fds"],
            if s["supervising"].as_bool() == Some(true) {
                ""
            } else {
                "; NOT seen supervising"
            }
        );
        let _ = writeln!(
            t,
            "runner, peak over its whole run (ptrace, at exit), {label}: {}",
            kib(&mem["runner_peak_traced_kb"][key])
        );
    }
    for (op, hwm) in mem["helper_peak_traced_kb"].as_object().into_iter().flatten() {
        let _ = writeln!(t, "burrow-helper {op} (ptrace, at exit): {}", kib(hwm));
    }

    let _ = writeln!(
        t,
        "\nCPU time of one start by process, in ms (median of 5 ptrace-followed /bin/true starts; schedstat, rusage)"
    );
    for (key, label) in [
        ("burrow", "burrow"),
        ("burrow_veth_cgroup_limits", "burrow + veth + cgroup limits"),
    ] {
        let parts: Vec<String> = mem["cpu_by_process"][key]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                format!(
                    "{} {}",
                    p["process"].as_str().unwrap_or("?"),
                    figure(p["median_ms"].as_f64())
                )
            })
            .collect();
        let _ = writeln!(t, "{label}: {}", parts.join(", "));
    }

    let l = &r.leak;
    let _ = writeln!(
        t,
        "\nLeak check: {} sequential starts of burrow + veth + cgroup limits: {} failed, {:.1} s, median {} ms",
        l["starts"],
        l["failed"],
        l["seconds"].as_f64().unwrap_or(0.0),
        figure(l["median_ms"].as_f64())
    );
    let _ = writeln!(t, "{:<44} {:>8} {:>8}", "counted", "before", "after");
    for (key, label) in [
        ("runner_fds", "runner's open fds (while supervising)"),
        ("veths", "veths in the benchmark's netns"),
        ("cgroups", "cgroups below the benchmark's cgroups"),
        ("user_processes", "processes of the benchmark user"),
        ("cgroup_processes", "processes in the benchmark's cgroups"),
        ("state_files", "files in the helper's state directory"),
    ] {
        let _ = writeln!(
            t,
            "{:<44} {:>8} {:>8}",
            label,
            l["before"][key].to_string(),
            l["after"][key].to_string()
        );
    }
    let _ = writeln!(
        t,
        "{}",
        if l["equal"].as_bool() == Some(true) {
            "no leaks: every count is the same after as before".to_owned()
        } else {
            format!("LEAKS: {}", l["leaks"])
        }
    );
    if let Some(e) = l["first_error"].as_str() {
        let _ = writeln!(t, "first failure: {e}");
    }
    t
}

pub fn json(r: &Report) -> Value {
    let variants: Vec<Value> = r
        .variants
        .iter()
        .map(|v| {
            let (s, paired, of_medians) = variant_figures(r, v);
            json!({
                "key": v.key,
                "label": v.label,
                "argv": v.argv,
                "unavailable": v.unavailable,
                "runs": s.map(|s| s.n).unwrap_or(0),
                "failures": v.failures,
                "first_error": v.first_error,
                "min_ms": s.map(|s| s.min),
                "median_ms": s.map(|s| s.median),
                "p90_ms": s.map(|s| s.p90),
                "mean_ms": s.map(|s| s.mean),
                "ratio_to_bwrap_paired_median": paired,
                "ratio_to_bwrap_of_medians": of_medians,
                "cpu_median_ms": stats::median(&v.cpu),
                "samples_ms": v.samples,
                "cpu_samples_ms": v.cpu,
            })
        })
        .collect();
    let helper: Vec<Value> = r
        .helper_ops
        .iter()
        .map(|op| {
            let s = stats::summarize(&op.samples_ms);
            json!({
                "operation": op.kind, "label": op.label, "runs": op.samples_ms.len(),
                "failures": op.failures, "first_error": op.first_error,
                "min_ms": s.map(|s| s.min), "median_ms": s.map(|s| s.median), "p90_ms": s.map(|s| s.p90),
                "samples_ms": op.samples_ms,
            })
        })
        .collect();
    let throughput: Vec<Value> = r
        .throughput
        .iter()
        .map(|x| {
            json!({
                "key": x.key, "label": x.label, "starters": x.starters, "started": x.ok, "failed": x.failed,
                "seconds": x.seconds, "containers_per_second": x.per_second, "x_bwrap": x.x_bwrap,
                "window_containers_per_second": x.window_rates, "median_ms": x.median_ms,
                "first_error": x.first_error,
            })
        })
        .collect();
    json!({
        "burrow_revision": r.revision,
        "machine": r.machine,
        "config": {"runs": r.runs, "warmup_rounds": r.warmup, "helper_runs": r.helper_runs,
                   "throughput_seconds": r.throughput_secs, "quick": r.quick},
        "setup": r.setup,
        "start_to_exit": variants,
        "throughput": throughput,
        "helper_operations": helper,
        "memory": r.memory,
        "leak_check": r.leak,
    })
}

pub fn write_json(r: &Report, path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(
        path,
        serde_json::to_string_pretty(&json(r)).expect("a JSON value") + "\n",
    )?;
    // Under sudo, the file is the invoking user's.
    let id = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u32>().ok());
    if let (Some(uid), Some(gid)) = (id("SUDO_UID"), id("SUDO_GID")) {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    }
    Ok(())
}
