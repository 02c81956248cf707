//! `burrow run`'s resource-limit options (runner, unprivileged; parsing
//! only). They become the spec's `linux.resources` (limits.rs), written
//! into the container's own cgroup below the one burrow-helper delegates.

use clap::Args;

#[derive(Args, Debug, Default)]
pub struct ResourceArgs {
    /// Memory limit, in bytes or with a K, M, G or T suffix (powers of 1024)
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory: Option<u64>,

    /// Memory plus swap limit (like docker's), or -1 for unlimited swap; needs --memory
    #[arg(long, value_name = "SIZE", value_parser = parse_swap, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,

    /// Most tasks (processes and threads) the container may have at once
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub pids_limit: Option<u32>,

    /// CPU time, in CPUs (0.5 = half of one CPU)
    #[arg(long, value_name = "FLOAT", value_parser = parse_cpus)]
    pub cpus: Option<f64>,

    /// Relative CPU weight, 1 to 10000 (default 100)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub cpu_weight: Option<u32>,

    /// Put the container's cgroup below NAME in the cgroup delegated to you
    /// (created if missing, and kept), e.g. to share limits between containers
    #[arg(long, value_name = "NAME", value_parser = parse_cgroup_name)]
    pub cgroup_parent: Option<String>,
}

fn parse_cgroup_name(text: &str) -> Result<String, String> {
    if burrow_shared::cgroup_policy::valid_name(text) {
        Ok(text.to_owned())
    } else {
        Err("expected 1 to 64 letters, digits, '_' or '-'".to_owned())
    }
}

impl ResourceArgs {
    pub fn any(&self) -> bool {
        self.memory.is_some()
            || self.memory_swap.is_some()
            || self.pids_limit.is_some()
            || self.cpus.is_some()
            || self.cpu_weight.is_some()
    }
}

/// Bytes, with an optional K, M, G or T suffix (case-insensitive, powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let (digits, shift) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("unknown size suffix {c:?} (K, M, G or T)")),
            };
            (&text[..i], shift)
        }
        _ => (text, 0),
    };
    let number: u64 = match digits {
        "" => None,
        d if d.bytes().all(|b| b.is_ascii_digit()) => d.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| "expected a number of bytes, like 512M".to_owned())?;
    match number.checked_mul(1 << shift) {
        Some(0) | None => Err("must be at least 1 byte and at most 2^64-1".to_owned()),
        Some(bytes) => Ok(bytes),
    }
}

fn parse_swap(text: &str) -> Result<i64, String> {
    if text == "-1" {
        return Ok(-1);
    }
    let bytes = parse_size(text)?;
    i64::try_from(bytes).map_err(|_| "too large".to_owned())
}

fn parse_cpus(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(cpus) if cpus.is_finite() && (0.01..=4096.0).contains(&cpus) => Ok(cpus),
        _ => Err("expected a number of CPUs from 0.01 to 4096, like 0.5".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("32M"), Ok(32 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("2T"), Ok(2 << 40));
        let bad = ["", "M", "0", "1.5G", "-1", "1X", "99999999999999999999", "16777216T"];
        let (number, range) = (
            "expected a number of bytes, like 512M",
            "must be at least 1 byte and at most 2^64-1",
        );
        let suffix = "unknown size suffix 'X' (K, M, G or T)";
        assert_eq!(
            bad.map(|bad| parse_size(bad).unwrap_err()),
            [number, number, range, number, number, suffix, number, range]
        );
        assert_eq!(parse_swap("-1"), Ok(-1));
        assert_eq!(parse_cpus("0.5"), Ok(0.5));
        assert_eq!(
            ["0", "nan", "inf"].map(|bad| parse_cpus(bad).unwrap_err()),
            ["expected a number of CPUs from 0.01 to 4096, like 0.5"; 3]
        );
        assert_eq!(parse_cgroup_name("web-1"), Ok("web-1".to_owned()));
        let bad = ["", "a/b", "..", "cgroup.procs", "release_agent", &"x".repeat(65)];
        assert_eq!(
            bad.map(|bad| parse_cgroup_name(bad).unwrap_err()),
            ["expected 1 to 64 letters, digits, '_' or '-'"; 6]
        );
    }
}
