//! Resource limits (runner, unprivileged; pure): from the command line to the
//! spec's `linux.resources`, and from there to the files of a cgroup v1 or v2
//! directory that hold them.

use crate::cli::resources::ResourceArgs;
use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder};
use std::collections::HashMap;

/// The CFS period burrow uses for --cpus, in microseconds.
const CPU_PERIOD_US: u64 = 100_000;

/// The `linux.resources` for the options, or `None` when none was given.
pub fn from_args(args: &ResourceArgs) -> Result<Option<LinuxResources>> {
    if !args.any() {
        return Ok(None);
    }
    let invalid = |e: oci_spec::OciSpecError| Error::config_from("invalid resources", e);
    let mut resources = LinuxResourcesBuilder::default();
    if args.memory.is_some() || args.memory_swap.is_some() {
        let memory = args
            .memory
            .ok_or_else(|| Error::usage("--memory-swap needs --memory"))?;
        let memory = i64::try_from(memory).map_err(|_| Error::usage("--memory is too large"))?;
        let mut builder = LinuxMemoryBuilder::default().limit(memory);
        if let Some(swap) = args.memory_swap {
            if swap != -1 && swap < memory {
                return Err(Error::usage(
                    "--memory-swap (memory plus swap) must be at least --memory",
                ));
            }
            builder = builder.swap(swap);
        }
        resources = resources.memory(builder.build().map_err(invalid)?);
    }
    if let Some(pids) = args.pids_limit {
        resources = resources.pids(
            LinuxPidsBuilder::default()
                .limit(i64::from(pids))
                .build()
                .map_err(invalid)?,
        );
    }
    if args.cpus.is_some() || args.cpu_weight.is_some() {
        let mut cpu = LinuxCpuBuilder::default();
        if let Some(cpus) = args.cpus {
            cpu = cpu
                .quota((cpus * CPU_PERIOD_US as f64).round() as i64)
                .period(CPU_PERIOD_US);
        }
        if let Some(weight) = args.cpu_weight {
            // cgroup v1 shares: weight 100 (the default) is 1024 shares.
            cpu = cpu.shares((u64::from(weight) * 1024 / 100).max(2));
            resources = resources.unified(HashMap::from([("cpu.weight".to_owned(), weight.to_string())]));
        }
        resources = resources.cpu(cpu.build().map_err(invalid)?);
    }
    resources.build().map(Some).map_err(invalid)
}

/// One limit as a cgroup file: the option that asked for it, the controller
/// it needs, the file, the value.
#[derive(Debug, PartialEq, Eq)]
pub struct LimitFile {
    pub option: &'static str,
    pub controller: &'static str,
    pub file: &'static str,
    pub value: String,
}

fn limit(option: &'static str, file: &'static str, value: impl ToString) -> LimitFile {
    let controller = file.split('.').next().unwrap_or(file);
    LimitFile {
        option,
        controller,
        file,
        value: value.to_string(),
    }
}

/// The files holding `resources` in a cgroup of that version, in the order
/// they must be written (v1: the memory limit before memory+swap, the CFS
/// period before the quota).
pub fn limit_files(resources: &LinuxResources, v2: bool) -> Vec<LimitFile> {
    let mut files = Vec::new();
    if let Some(memory) = resources.memory() {
        if let Some(bytes) = memory.limit() {
            files.push(limit(
                "--memory",
                if v2 { "memory.max" } else { "memory.limit_in_bytes" },
                bytes,
            ));
            match (memory.swap(), v2) {
                (Some(-1), true) => files.push(limit("--memory-swap", "memory.swap.max", "max")),
                (Some(-1), false) => files.push(limit("--memory-swap", "memory.memsw.limit_in_bytes", -1)),
                // v2 limits swap alone; the option (like v1) means memory plus swap.
                (Some(total), true) => files.push(limit("--memory-swap", "memory.swap.max", total - bytes)),
                (Some(total), false) => files.push(limit("--memory-swap", "memory.memsw.limit_in_bytes", total)),
                (None, _) => {}
            }
        }
    }
    if let Some(pids) = resources.pids() {
        files.push(limit("--pids-limit", "pids.max", pids.limit()));
    }
    if let Some(cpu) = resources.cpu() {
        if let (Some(quota), Some(period)) = (cpu.quota(), cpu.period()) {
            if v2 {
                files.push(limit("--cpus", "cpu.max", format!("{quota} {period}")));
            } else {
                files.push(limit("--cpus", "cpu.cfs_period_us", period));
                files.push(limit("--cpus", "cpu.cfs_quota_us", quota));
            }
        }
        match (
            v2,
            resources.unified().as_ref().and_then(|u| u.get("cpu.weight")),
            cpu.shares(),
        ) {
            (true, Some(weight), _) => files.push(limit("--cpu-weight", "cpu.weight", weight)),
            (false, _, Some(shares)) => files.push(limit("--cpu-weight", "cpu.shares", shares)),
            _ => {}
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(
        memory: Option<u64>,
        swap: Option<i64>,
        pids: Option<u32>,
        cpus: Option<f64>,
        weight: Option<u32>,
    ) -> ResourceArgs {
        ResourceArgs {
            memory,
            memory_swap: swap,
            pids_limit: pids,
            cpus,
            cpu_weight: weight,
            cgroup_parent: None,
        }
    }

    fn files(resources: &LinuxResources, v2: bool) -> Vec<(&'static str, String)> {
        limit_files(resources, v2)
            .into_iter()
            .map(|f| (f.file, f.value))
            .collect()
    }

    #[test]
    fn no_options_no_resources() {
        assert!(from_args(&ResourceArgs::default()).unwrap().is_none());
    }

    #[test]
    fn v1_and_v2_files() {
        let r = from_args(&args(Some(32 << 20), Some(64 << 20), Some(20), Some(0.5), Some(200)))
            .unwrap()
            .unwrap();
        assert_eq!(
            files(&r, true),
            [
                ("memory.max", "33554432".to_owned()),
                ("memory.swap.max", "33554432".to_owned()),
                ("pids.max", "20".to_owned()),
                ("cpu.max", "50000 100000".to_owned()),
                ("cpu.weight", "200".to_owned()),
            ]
        );
        assert_eq!(
            files(&r, false),
            [
                ("memory.limit_in_bytes", "33554432".to_owned()),
                ("memory.memsw.limit_in_bytes", "67108864".to_owned()),
                ("pids.max", "20".to_owned()),
                ("cpu.cfs_period_us", "100000".to_owned()),
                ("cpu.cfs_quota_us", "50000".to_owned()),
                ("cpu.shares", "2048".to_owned()),
            ]
        );
        let unlimited_swap = from_args(&args(Some(1 << 20), Some(-1), None, None, None))
            .unwrap()
            .unwrap();
        assert_eq!(files(&unlimited_swap, true)[1], ("memory.swap.max", "max".to_owned()));
    }

    #[test]
    fn refusals() {
        let err = |a| from_args(&a).unwrap_err().to_string();
        assert_eq!(
            err(args(None, Some(1 << 20), None, None, None)),
            "--memory-swap needs --memory"
        );
        assert_eq!(
            err(args(Some(2 << 20), Some(1 << 20), None, None, None)),
            "--memory-swap (memory plus swap) must be at least --memory"
        );
    }
}
