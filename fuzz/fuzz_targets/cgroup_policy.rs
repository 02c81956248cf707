//! /etc/burrow/cgroup (`cgroup_policy::parse_line`, through
//! `subid::read_lines`), `find` and the ceilings' file writes
//! (`Ceilings::writes`). Only UTF-8 input: `read_lines` refuses a line that
//! is not before parsing it (the subid target fuzzes that part).
#![no_main]

use burrow_shared::cgroup_policy::{self, CgroupRule, Limit, Place, is_denied, valid_name};
use libfuzzer_sys::fuzz_target;

/// Every file `Ceilings::writes` may name, v2 and v1.
const FILES: [&str; 10] = [
    "memory.max",
    "memory.swap.max",
    "pids.max",
    "cpu.max",
    "cpu.weight",
    "memory.limit_in_bytes",
    "memory.memsw.limit_in_bytes",
    "cpu.cfs_period_us",
    "cpu.cfs_quota_us",
    "cpu.shares",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rules) = parse(text) else {
        return;
    };
    for rule in &rules {
        assert!(!rule.owner.is_empty() && rule.owner != "@");
        if let Place::Path(path) = &rule.place {
            let below = path.strip_prefix('/').expect("WHERE is absolute");
            assert!(below.split('/').all(valid_name), "{path:?}");
        }
        for v2 in [true, false] {
            for (file, value) in rule.ceilings.writes(v2) {
                assert!(FILES.contains(&file) && !is_denied(file), "{file}");
                assert!(!value.is_empty() && !value.contains(['\n', '\0']), "{file}={value:?}");
            }
        }
    }
    // Every rule prints back as a line that parses to itself.
    let printed: String = rules.iter().map(print).collect();
    assert_eq!(parse(&printed).as_ref(), Ok(&rules), "{printed}");
    // The first rule naming an owner is the one `find` returns.
    for (i, rule) in rules.iter().enumerate().take(8) {
        let (user, groups) = match rule.owner.strip_prefix('@') {
            Some(group) => ("", vec![group.to_owned()]),
            None => (rule.owner.as_str(), Vec::new()),
        };
        let uid = user.parse().unwrap_or(u32::MAX);
        let found = cgroup_policy::find(&rules, user, uid, &groups).expect("a rule names the owner");
        assert!(rules[..=i].iter().any(|r| std::ptr::eq(r, found)));
    }
});

fn print(rule: &CgroupRule) -> String {
    let limit = |l: Limit| match l {
        Limit::Max => "max".to_owned(),
        Limit::Value(n) => n.to_string(),
    };
    let c = &rule.ceilings;
    let mut line = rule.owner.clone();
    match &rule.place {
        Place::Nest => line += " nest",
        Place::Path(path) => line += &format!(" {path}"),
    }
    if let Some(l) = c.pids_max {
        line += &format!(" pids.max={}", limit(l));
    }
    if let Some(l) = c.memory_max {
        line += &format!(" memory.max={}", limit(l));
    }
    if let Some(l) = c.memory_swap_max {
        line += &format!(" memory.swap.max={}", limit(l));
    }
    match c.cpu_max {
        Some((Limit::Max, _)) => line += " cpu.max=max",
        Some((Limit::Value(q), p)) => line += &format!(" cpu.max={q}/{p}"),
        None => {}
    }
    if let Some(w) = c.cpu_weight {
        line += &format!(" cpu.weight={w}");
    }
    line + "\n"
}

/// The file as the helper reads it, line by line.
fn parse(text: &str) -> burrow_shared::subid::Lines<CgroupRule> {
    burrow_shared::subid::read_lines(text.as_bytes(), cgroup_policy::parse_line)
        .expect("reading bytes in memory cannot fail")
}
