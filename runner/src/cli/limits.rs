//! Resource limits (runner, unprivileged; pure): from the command line to the
//! spec's `linux.resources` (start/cgroup.rs writes them into the container's
//! cgroup).

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

    #[test]
    fn no_options_no_resources() {
        assert!(from_args(&ResourceArgs::default()).unwrap().is_none());
    }

    #[test]
    fn resources_of_the_options() {
        let r = from_args(&args(Some(32 << 20), Some(64 << 20), Some(20), Some(0.5), Some(200)))
            .unwrap()
            .unwrap();
        let memory = r.memory().as_ref().unwrap();
        assert_eq!((memory.limit(), memory.swap()), (Some(32 << 20), Some(64 << 20)));
        assert_eq!(r.pids().as_ref().unwrap().limit(), 20);
        let cpu = r.cpu().as_ref().unwrap();
        assert_eq!(
            (cpu.quota(), cpu.period(), cpu.shares()),
            (Some(50000), Some(100000), Some(2048))
        );
        assert_eq!(r.unified().as_ref().unwrap()["cpu.weight"], "200");
        let unlimited_swap = from_args(&args(Some(1 << 20), Some(-1), None, None, None))
            .unwrap()
            .unwrap();
        assert_eq!(unlimited_swap.memory().as_ref().unwrap().swap(), Some(-1));
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
