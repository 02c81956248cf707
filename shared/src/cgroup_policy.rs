//! /etc/burrow/cgroup, and the kernel's cgroup tables the helper reads
//! (/proc/self/mountinfo, /proc/PID/cgroup). Pure code, run by the helper
//! (setuid root, as the caller's uid): the policy text is trusted only after
//! the helper has checked the file's owner and mode; /proc/PID/cgroup of a
//! process in a cgroup the caller named may hold a forged line (a cgroup name
//! may contain a newline), so a hierarchy named twice is refused. Parsing
//! never panics.
//!
//! Policy format: one rule a line, `USER|@GROUP|* WHERE [KEY=VALUE ...]`,
//! fields separated by whitespace, `#` starts a comment, blank lines skipped.
//! WHERE is `nest` (below the caller's own cgroup) or an absolute cgroup path
//! (not `/`). The keys are the ceilings written on the caller's delegated
//! cgroup: `pids.max`, `memory.max`, `memory.swap.max`, `cpu.max`, `cpu.weight`.
//! Any malformed line makes the whole file bad, so that a typo never silently
//! grants or withholds a cgroup.

use crate::usernet::owner_matches;

/// Root's cgroup policy: /etc/burrow/cgroup, or the file the build names
/// (`BURROW_CGROUP_FILE`: for tests and benchmarks; fixed at compile time,
/// never read from the environment), the same for the helper and the runner.
pub const CGROUP_FILE: &str = match option_env!("BURROW_CGROUP_FILE") {
    Some(path) => path,
    None => "/etc/burrow/cgroup",
};

/// The v1 files a delegation must never create, chown or write: root's
/// `release_agent` (in a hierarchy's root cgroup) runs a program as root, and
/// `notify_on_release` makes the kernel run it (CVE-2022-0492).
pub const DENIED: [&str; 2] = ["release_agent", "notify_on_release"];

/// The v1 controllers a hierarchy may have to be delegated (all of them).
pub const V1_CONTROLLERS: [&str; 5] = ["memory", "pids", "cpu", "cpuacct", "freezer"];
/// The v2 controllers enabled for the delegated cgroup's children, if available.
pub const V2_CONTROLLERS: [&str; 3] = ["memory", "pids", "cpu"];
/// v1 mount options that are not controllers (`name=` and `release_agent=` aside).
pub const V1_OPTIONS: [&str; 7] = [
    "rw",
    "ro",
    "noprefix",
    "clone_children",
    "xattr",
    "cpuset_v2_mode",
    "favordynmods",
];

/// The kernel's limits: pids.max below PID_MAX_LIMIT + 1; a CFS period of
/// 1 ms to 1 s, a quota of at least 1 ms and below 2^44 µs.
const PIDS_MAX: u64 = 4 * 1024 * 1024;
const CPU_PERIOD: (u64, u64) = (1000, 1_000_000);
const CPU_QUOTA: (u64, u64) = (1000, (1 << 44) - 1);
const DEFAULT_PERIOD: u64 = 100_000;

pub fn is_denied(name: &str) -> bool {
    DENIED.contains(&name)
}

/// A leaf NAME, or one component of a WHERE path: 1 to 64 of
/// `[A-Za-z0-9_-]` (so never a kernel file name such as `cgroup.procs`),
/// and never a deny-listed name.
pub fn valid_name(name: &str) -> bool {
    let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    (1..=64).contains(&name.len()) && name.bytes().all(ok) && !is_denied(name)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// Below the caller's own cgroup in each hierarchy.
    Nest,
    /// An absolute cgroup path, the same in every hierarchy.
    Path(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Max,
    Value(u64),
}

/// The ceilings of one rule; `None` leaves the kernel's default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ceilings {
    pub pids_max: Option<Limit>,
    /// Bytes.
    pub memory_max: Option<Limit>,
    pub memory_swap_max: Option<Limit>,
    /// Quota and period in microseconds.
    pub cpu_max: Option<(Limit, u64)>,
    pub cpu_weight: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupRule {
    /// A user name or uid, `@` and a group name or gid, or `*`.
    pub owner: String,
    pub place: Place,
    pub ceilings: Ceilings,
}

/// One line of the file: its rule, or `None` for a blank or comment line.
pub fn parse_line(line: &str) -> crate::subid::Parsed<CgroupRule> {
    let mut fields = line.split('#').next().unwrap_or("").split_whitespace();
    let Some(owner) = fields.next() else { return Ok(None) };
    let place = match fields.next() {
        None => return Err("expected USER|@GROUP|* WHERE [KEY=VALUE ...]"),
        Some("nest") => Place::Nest,
        // "/" is refused too: its one component, "", is no valid name.
        Some(path) if path.strip_prefix('/').is_some_and(|p| p.split('/').all(valid_name)) => {
            Place::Path(path.to_owned())
        }
        Some(_) => return Err("WHERE must be nest or an absolute cgroup path other than /"),
    };
    if owner == "@" {
        return Err("empty group name");
    }
    let mut ceilings = Ceilings::default();
    for pair in fields {
        let (key, value) = pair.split_once('=').ok_or("expected KEY=VALUE")?;
        ceilings.set(key, value)?;
    }
    Ok(Some(CgroupRule {
        owner: owner.to_owned(),
        place,
        ceilings,
    }))
}

impl Ceilings {
    fn set(&mut self, key: &str, value: &str) -> Result<(), &'static str> {
        let bytes_why = "memory.max and memory.swap.max must be max or bytes with an optional K, M, G or T suffix";
        let (first, why) = match key {
            "pids.max" => (
                fill(
                    &mut self.pids_max,
                    limit(value, |v| decimal(v).filter(|&n| n <= PIDS_MAX)),
                ),
                "pids.max must be max or a number from 0 to 4194304",
            ),
            "memory.max" => (fill(&mut self.memory_max, limit(value, bytes)), bytes_why),
            "memory.swap.max" => (fill(&mut self.memory_swap_max, limit(value, bytes)), bytes_why),
            "cpu.max" => (
                fill(&mut self.cpu_max, cpu_max(value)),
                "cpu.max must be max or QUOTA[/PERIOD] in microseconds (quota at least 1000, period 1000 to 1000000)",
            ),
            "cpu.weight" => (
                fill(&mut self.cpu_weight, decimal(value).filter(|w| (1..=10000).contains(w))),
                "cpu.weight must be a number from 1 to 10000",
            ),
            _ => return Err("unknown KEY (expected pids.max, memory.max, memory.swap.max, cpu.max or cpu.weight)"),
        };
        match first {
            None => Err(why),
            Some(false) => Err("a KEY is given twice"),
            Some(true) => Ok(()),
        }
    }

    /// The files to write on the delegated cgroup, in order, with their
    /// values: v2 names as in the policy, or their v1 translations. A file
    /// missing from a hierarchy (its controller is not there) is skipped by
    /// the helper.
    pub fn writes(&self, v2: bool) -> Vec<(&'static str, String)> {
        let show = |limit: Limit, max: &str| match limit {
            Limit::Max => max.to_owned(),
            Limit::Value(n) => n.to_string(),
        };
        let mut writes = Vec::new();
        let (max, memory, swap) = match v2 {
            true => ("max", "memory.max", "memory.swap.max"),
            false => ("-1", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes"),
        };
        if let Some(n) = self.memory_max {
            writes.push((memory, show(n, max)));
        }
        if let Some(s) = self.memory_swap_max {
            // v1 limits memory and swap together: memory.max + swap.
            let memsw = match (self.memory_max, s) {
                (Some(Limit::Value(m)), Limit::Value(s)) => m.checked_add(s).map_or(Limit::Max, Limit::Value),
                _ => Limit::Max,
            };
            writes.push((swap, show(if v2 { s } else { memsw }, max)));
        }
        if let Some(n) = self.pids_max {
            writes.push(("pids.max", show(n, "max")));
        }
        match (self.cpu_max, v2) {
            (Some((quota, period)), true) => writes.push(("cpu.max", format!("{} {period}", show(quota, "max")))),
            (Some((quota, period)), false) => {
                writes.push(("cpu.cfs_period_us", period.to_string()));
                writes.push(("cpu.cfs_quota_us", show(quota, "-1")));
            }
            _ => {}
        }
        match (self.cpu_weight, v2) {
            (Some(weight), true) => writes.push(("cpu.weight", weight.to_string())),
            (Some(weight), false) => writes.push(("cpu.shares", (weight * 1024 / 100).max(2).to_string())),
            _ => {}
        }
        writes
    }
}

/// Fills an empty slot: `None` for a bad value, `Some(false)` for a second one.
fn fill<T>(slot: &mut Option<T>, value: Option<T>) -> Option<bool> {
    let first = slot.is_none();
    *slot = Some(value?);
    Some(first)
}

fn decimal(text: &str) -> Option<u64> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

fn limit(text: &str, value: impl Fn(&str) -> Option<u64>) -> Option<Limit> {
    if text == "max" {
        Some(Limit::Max)
    } else {
        value(text).map(Limit::Value)
    }
}

/// Bytes with an optional binary suffix K, M, G or T.
fn bytes(text: &str) -> Option<u64> {
    let shift = ["K", "M", "G", "T"].iter().position(|s| text.ends_with(s));
    let digits = &text[..text.len() - usize::from(shift.is_some())];
    decimal(digits)?.checked_mul(1u64 << (10 * shift.map_or(0, |i| i + 1)))
}

fn cpu_max(text: &str) -> Option<(Limit, u64)> {
    if text == "max" {
        return Some((Limit::Max, DEFAULT_PERIOD));
    }
    let (quota, period) = text.split_once('/').unwrap_or((text, "100000"));
    let within = |(low, high): (u64, u64)| move |n: &u64| (low..=high).contains(n);
    let quota = decimal(quota).filter(within(CPU_QUOTA))?;
    Some((Limit::Value(quota), decimal(period).filter(within(CPU_PERIOD))?))
}

/// The first rule naming the caller: by login name or uid, by one of its
/// groups (name or gid, as `usernet::allowance` matches them), or `*`.
pub fn find<'a>(rules: &'a [CgroupRule], user: &str, uid: u32, groups: &[String]) -> Option<&'a CgroupRule> {
    rules
        .iter()
        .find(|r| r.owner == "*" || owner_matches(&r.owner, user, uid, groups))
}

/// A cgroup hierarchy as /proc/self/mountinfo lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupMount {
    /// `MAJOR:MINOR` of the file system: one per hierarchy.
    pub dev: String,
    /// The cgroup path mounted (`/` unless a subtree is bind-mounted).
    pub root: String,
    /// The mount point, escaped as the kernel prints it (`\040` for a space).
    pub point: String,
    pub v2: bool,
    /// v1 only, sorted.
    pub controllers: Vec<String>,
}

impl CgroupMount {
    /// Whether a cgroup of this hierarchy can have `file`: on v1 only the
    /// core files (no dot, or `cgroup.`) and its own controllers' files
    /// exist; on v2 a controller's files appear wherever it is enabled.
    pub fn may_have(&self, file: &str) -> bool {
        match file.split_once('.') {
            Some((prefix, _)) if !self.v2 => prefix == "cgroup" || self.controllers.iter().any(|c| c == prefix),
            _ => true,
        }
    }
}

/// The hierarchies to delegate in, in mountinfo order: each v1 one whose
/// controllers are all among `V1_CONTROLLERS` (never a named hierarchy), and
/// the cgroup2 one unless every one of `V2_CONTROLLERS` is bound to a v1
/// hierarchy and `for_init` is false. That is a hybrid host, whose cgroup2
/// tree can hold none of them (systemd keeps it to track processes): a leaf
/// there limits nothing, and moving a process into a cgroup2 leaf costs the
/// kernel an RCU grace period (milliseconds) at every start; but an init
/// that manages cgroups (systemd) needs a cgroup2 tree of its own
/// (`for_init`, the `cgroup-init` request). A hierarchy mounted twice counts
/// once. Lines that are not well formed are not cgroup mounts the helper
/// understands.
pub fn cgroup_mounts(mountinfo: &str, for_init: bool) -> Vec<CgroupMount> {
    let mut mounts: Vec<CgroupMount> = Vec::new();
    // Every controller bound to a v1 hierarchy, delegated there or not.
    let mut on_v1: Vec<String> = Vec::new();
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(dash) = fields.iter().skip(6).position(|&f| f == "-").map(|i| i + 6) else {
            continue;
        };
        let (Some(&fstype), Some(&options)) = (fields.get(dash + 1), fields.get(dash + 3)) else {
            continue;
        };
        let mut controllers: Vec<String> = options
            .split(',')
            .filter(|o| !V1_OPTIONS.contains(o) && !o.starts_with("release_agent="))
            .map(str::to_owned)
            .collect();
        controllers.sort();
        let v2 = fstype == "cgroup2";
        if fstype == "cgroup" {
            on_v1.extend(controllers.iter().cloned());
        }
        let eligible = v2
            || fstype == "cgroup"
                && !controllers.is_empty()
                && controllers.iter().all(|c| V1_CONTROLLERS.contains(&c.as_str()));
        if eligible && !mounts.iter().any(|m| m.dev == fields[2]) {
            mounts.push(CgroupMount {
                dev: fields[2].to_owned(),
                root: fields[3].to_owned(),
                point: fields[4].to_owned(),
                v2,
                controllers: if v2 { Vec::new() } else { controllers },
            });
        }
    }
    if !for_init && V2_CONTROLLERS.iter().all(|c| on_v1.iter().any(|bound| bound == c)) {
        mounts.retain(|m| !m.v2);
    }
    mounts
}

/// The cgroup path of `mount`'s hierarchy in /proc/PID/cgroup text (`0::PATH`
/// for v2, the line naming exactly its controllers for v1). `None` when no
/// line, or more than one, names it, or a line is malformed: a cgroup name
/// holding a newline can forge a line, never hide one.
pub fn cgroup_path<'a>(text: &'a str, mount: &CgroupMount) -> Option<&'a str> {
    let mut found = None;
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (fields.next(), fields.next(), fields.next()) else {
            return None;
        };
        let mut listed: Vec<&str> = controllers.split(',').filter(|c| !c.is_empty()).collect();
        listed.sort_unstable();
        let mine = match mount.v2 {
            true => id == "0" && listed.is_empty(),
            false => id != "0" && listed == mount.controllers,
        };
        if mine && found.replace(path).is_some() {
            return None;
        }
    }
    found
}

/// The components of cgroup path `path` below a mount of cgroup `root`;
/// `None` when the path is not absolute, is outside the mount, or has an
/// empty, `.` or `..` component (a process outside its cgroup namespace's
/// root shows one).
pub fn below_root<'a>(path: &'a str, root: &str) -> Option<Vec<&'a str>> {
    let (path, root) = (components(path)?, components(root)?);
    path.starts_with(&root).then(|| path[root.len()..].to_vec())
}

fn components(path: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = match path.strip_prefix('/')? {
        "" => Vec::new(),
        rest => rest.split('/').collect(),
    };
    parts.iter().all(|c| !matches!(*c, "" | "." | "..")).then_some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subid::{SubidSyntaxError, read_lines};

    fn parse(text: &str) -> Result<Vec<CgroupRule>, SubidSyntaxError> {
        read_lines(text.as_bytes(), parse_line).unwrap()
    }

    fn rule(owner: &str, place: Place, ceilings: Ceilings) -> CgroupRule {
        CgroupRule {
            owner: owner.into(),
            place,
            ceilings,
        }
    }

    #[test]
    fn names() {
        for good in ["c-42", "a", "A_b-9", "c1234-0badf00d", &"x".repeat(64)] {
            assert!(valid_name(good), "{good:?}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "cgroup.procs",
            "a/b",
            "a b",
            "a\nb",
            "é",
            "tasks.",
            &"x".repeat(65),
            "release_agent",
            "notify_on_release",
        ] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn deny_list() {
        assert!(is_denied("release_agent") && is_denied("notify_on_release"));
        assert!(!is_denied("tasks") && !is_denied("cgroup.procs") && !is_denied("release_agent2"));
        // No ceiling ever names a deny-listed file.
        let all = parse("* nest pids.max=1 memory.max=1 memory.swap.max=1 cpu.max=1000 cpu.weight=1").unwrap();
        for v2 in [true, false] {
            assert!(all[0].ceilings.writes(v2).iter().all(|(file, _)| !is_denied(file)));
        }
    }

    #[test]
    fn parses_rules() {
        let text = "# who gets what\n\nalice nest pids.max=4096 memory.max=8G\n  @staff\t/burrow/users # c\n\
                    * /a/b-c/d_e cpu.max=50000 cpu.weight=100 memory.swap.max=max\n1001 nest pids.max=max\n";
        let ceilings = Ceilings {
            pids_max: Some(Limit::Value(4096)),
            memory_max: Some(Limit::Value(8 << 30)),
            ..Ceilings::default()
        };
        let star = Ceilings {
            cpu_max: Some((Limit::Value(50000), 100000)),
            cpu_weight: Some(100),
            memory_swap_max: Some(Limit::Max),
            ..Ceilings::default()
        };
        let max = Ceilings {
            pids_max: Some(Limit::Max),
            ..Ceilings::default()
        };
        assert_eq!(
            parse(text),
            Ok(vec![
                rule("alice", Place::Nest, ceilings),
                rule("@staff", Place::Path("/burrow/users".into()), Ceilings::default()),
                rule("*", Place::Path("/a/b-c/d_e".into()), star),
                rule("1001", Place::Nest, max),
            ])
        );
        assert_eq!(parse(""), Ok(vec![]));
        let value = |pair: &str| parse(&format!("a nest {pair}")).map(|r| r[0].ceilings.clone());
        let memory = |n| Ceilings {
            memory_max: Some(Limit::Value(n)),
            ..Ceilings::default()
        };
        assert_eq!(value("memory.max=0"), Ok(memory(0)));
        assert_eq!(value("memory.max=1K"), Ok(memory(1024)));
        assert_eq!(value("memory.max=32M"), Ok(memory(32 << 20)));
        assert_eq!(value("memory.max=2T"), Ok(memory(2 << 40)));
        assert_eq!(value("memory.max=18446744073709551615"), Ok(memory(u64::MAX)));
        let cpu = |q, p| Ceilings {
            cpu_max: Some((q, p)),
            ..Ceilings::default()
        };
        assert_eq!(value("cpu.max=max"), Ok(cpu(Limit::Max, 100000)));
        assert_eq!(value("cpu.max=1000/1000"), Ok(cpu(Limit::Value(1000), 1000)));
        assert_eq!(value("cpu.max=200000/1000000"), Ok(cpu(Limit::Value(200000), 1000000)));
        assert_eq!(value("pids.max=4194304").unwrap().pids_max, Some(Limit::Value(4194304)));
        assert_eq!(value("cpu.weight=10000").unwrap().cpu_weight, Some(10000));
    }

    #[test]
    fn malformed_lines_name_their_number_and_why() {
        let shape = "expected USER|@GROUP|* WHERE [KEY=VALUE ...]";
        let place = "WHERE must be nest or an absolute cgroup path other than /";
        let bytes = "memory.max and memory.swap.max must be max or bytes with an optional K, M, G or T suffix";
        let pids = "pids.max must be max or a number from 0 to 4194304";
        let cpu = "cpu.max must be max or QUOTA[/PERIOD] in microseconds (quota at least 1000, period 1000 to 1000000)";
        let weight = "cpu.weight must be a number from 1 to 10000";
        let key = "unknown KEY (expected pids.max, memory.max, memory.swap.max, cpu.max or cpu.weight)";
        for (text, line, why) in [
            ("alice\n", 1, shape),
            ("ok nest\n\n# c\nalice # nest\n", 4, shape),
            ("@ nest\n", 1, "empty group name"),
            ("alice /\n", 1, place),
            ("alice burrow\n", 1, place),
            ("alice //burrow\n", 1, place),
            ("alice /burrow/\n", 1, place),
            ("alice /burrow/../x\n", 1, place),
            ("alice /a.b\n", 1, place),
            ("alice /release_agent\n", 1, place),
            ("alice NEST\n", 1, place),
            ("alice nest pids.max\n", 1, "expected KEY=VALUE"),
            ("alice nest tasks=1\n", 1, key),
            ("alice nest memory.high=1\n", 1, key),
            ("alice nest memory.max=1k\n", 1, bytes),
            ("alice nest memory.max=1P\n", 1, bytes),
            ("alice nest memory.max=-1\n", 1, bytes),
            ("alice nest memory.max=M\n", 1, bytes),
            ("alice nest memory.max=\n", 1, bytes),
            ("alice nest memory.swap.max=16777216T\n", 1, bytes),
            ("alice nest memory.max=18446744073709551616\n", 1, bytes),
            ("alice nest pids.max=4194305\n", 1, pids),
            ("alice nest pids.max=+1\n", 1, pids),
            ("alice nest cpu.max=999\n", 1, cpu),
            ("alice nest cpu.max=1000/999\n", 1, cpu),
            ("alice nest cpu.max=1000/1000001\n", 1, cpu),
            ("alice nest cpu.max=17592186044416\n", 1, cpu),
            ("alice nest cpu.max=max/100000\n", 1, cpu),
            ("alice nest cpu.max=1000 100000\n", 1, "expected KEY=VALUE"),
            ("alice nest cpu.weight=0\n", 1, weight),
            ("alice nest cpu.weight=10001\n", 1, weight),
            ("a nest\nalice nest pids.max=1 pids.max=2\n", 2, "a KEY is given twice"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!((e.line, e.why), (line, why), "{text:?}");
        }
        assert_eq!(
            parse("x\n").unwrap_err().to_string(),
            "line 1: expected USER|@GROUP|* WHERE [KEY=VALUE ...]"
        );
    }

    #[test]
    fn first_matching_rule_wins() {
        let rules =
            parse("bob nest pids.max=1\n@staff nest pids.max=2\n1000 /u pids.max=3\nalice nest\n* /all\n").unwrap();
        let pick = |user: &str, uid, groups: &[&str]| {
            let groups: Vec<String> = groups.iter().map(|&g| g.to_owned()).collect();
            find(&rules, user, uid, &groups).map(|r| r.ceilings.pids_max)
        };
        assert_eq!(pick("alice", 1000, &["staff", "50"]), Some(Some(Limit::Value(2))));
        assert_eq!(pick("alice", 1000, &["users"]), Some(Some(Limit::Value(3))));
        assert_eq!(pick("alice", 1001, &[]), Some(None));
        assert_eq!(pick("bob", 1002, &["staff"]), Some(Some(Limit::Value(1))));
        assert_eq!(
            find(&rules, "carol", 7, &[]).map(|r| &r.place),
            Some(&Place::Path("/all".into()))
        );
        let no_star = parse("bob nest\n@staff nest\n").unwrap();
        assert_eq!(find(&no_star, "alice", 1000, &["users".into()]), None);
        // A group rule does not match a user of that name.
        assert_eq!(find(&no_star, "staff", 5, &[]), None);
    }

    #[test]
    fn v1_translations() {
        let all = |text: &str, v2| parse(&format!("* nest {text}")).unwrap()[0].ceilings.writes(v2);
        let owned = |pairs: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
            pairs.iter().map(|&(f, v)| (f, v.to_owned())).collect()
        };
        let text = "cpu.weight=100 cpu.max=50000 pids.max=20 memory.swap.max=1G memory.max=32M";
        assert_eq!(
            all(text, true),
            owned(&[
                ("memory.max", "33554432"),
                ("memory.swap.max", "1073741824"),
                ("pids.max", "20"),
                ("cpu.max", "50000 100000"),
                ("cpu.weight", "100"),
            ])
        );
        assert_eq!(
            all(text, false),
            owned(&[
                ("memory.limit_in_bytes", "33554432"),
                ("memory.memsw.limit_in_bytes", "1107296256"),
                ("pids.max", "20"),
                ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "50000"),
                ("cpu.shares", "1024"),
            ])
        );
        let text = "memory.max=max memory.swap.max=1G pids.max=max cpu.max=max cpu.weight=1";
        assert_eq!(
            all(text, false),
            owned(&[
                ("memory.limit_in_bytes", "-1"),
                ("memory.memsw.limit_in_bytes", "-1"),
                ("pids.max", "max"),
                ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "-1"),
                ("cpu.shares", "10"),
            ])
        );
        assert_eq!(
            all(text, true)[3..],
            owned(&[("cpu.max", "max 100000"), ("cpu.weight", "1")])
        );
        // Swap without memory is unlimited memory+swap on v1; a sum past
        // u64 is unlimited; shares are at least 2 and at most 102400.
        assert_eq!(
            all("memory.swap.max=1G", false),
            owned(&[("memory.memsw.limit_in_bytes", "-1")])
        );
        assert_eq!(
            all("memory.max=16777215T memory.swap.max=16777215T", false)[1],
            ("memory.memsw.limit_in_bytes", "-1".to_owned())
        );
        assert_eq!(all("cpu.weight=10000", false), owned(&[("cpu.shares", "102400")]));
        assert_eq!(all("cpu.weight=2", false), owned(&[("cpu.shares", "20")]));
        assert_eq!(
            all("cpu.max=1000/1000000", false)[0],
            ("cpu.cfs_period_us", "1000000".to_owned())
        );
        assert!(all("", false).is_empty() && all("", true).is_empty());
    }

    const MOUNTINFO: &str = "\
22 1 0:21 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:7 - cgroup cgroup rw,memory,release_agent=/x
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/net rw,relatime - cgroup cgroup rw,net_cls,net_prio
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 31 0:39 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpuacct,cpu,noprefix
43 31 0:40 / /sys/fs/cgroup/mixed rw,relatime - cgroup cgroup rw,memory,devices
44 31 0:41 / /sys/fs/cgroup/newer rw,relatime - cgroup cgroup rw,freezer,unknown_option
45 1 0:32 /sub /mnt/memory\\040copy rw - cgroup cgroup rw,memory
46 1 0:42 / /broken - cgroup cgroup
47 31 0:43 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer
";

    fn mount(dev: &str, point: &str, controllers: &[&str]) -> CgroupMount {
        CgroupMount {
            dev: dev.into(),
            root: "/".into(),
            point: point.into(),
            v2: controllers.is_empty(),
            controllers: controllers.iter().map(|&c| c.to_owned()).collect(),
        }
    }

    #[test]
    fn selects_hierarchies() {
        assert_eq!(
            cgroup_mounts(MOUNTINFO, false),
            vec![
                mount("0:29", "/sys/fs/cgroup/cpu", &["cpu"]),
                mount("0:30", "/sys/fs/cgroup/cpuacct", &["cpuacct"]),
                mount("0:32", "/sys/fs/cgroup/memory", &["memory"]),
                mount("0:36", "/sys/fs/cgroup/pids", &["pids"]),
                mount("0:39", "/sys/fs/cgroup/cpu,cpuacct", &["cpu", "cpuacct"]),
                mount("0:43", "/sys/fs/cgroup/freezer", &["freezer"]),
            ]
        );
        assert_eq!(
            cgroup_mounts("45 1 0:32 /sub /mnt/m\\040c rw - cgroup cgroup rw,memory\n", false)[0].root,
            "/sub"
        );
        assert!(cgroup_mounts("", false).is_empty());
        // cgroup2 counts while it can hold one of V2_CONTROLLERS: here pids.
        let no_pids: String = MOUNTINFO
            .lines()
            .filter(|l| !l.contains("pids"))
            .map(|l| l.to_owned() + "\n")
            .collect();
        let v2: Vec<String> = cgroup_mounts(&no_pids, false)
            .into_iter()
            .filter(|m| m.v2)
            .map(|m| m.point)
            .collect();
        assert_eq!(v2, ["/sys/fs/cgroup/unified"]);
        // Bound to v1 with a controller the helper never delegates: still on v1.
        let mixed = MOUNTINFO.replace("rw,pids", "rw,pids,devices");
        assert!(
            cgroup_mounts(&mixed, false)
                .iter()
                .all(|m| !m.v2 && m.controllers != ["devices", "pids"])
        );
        let pure = "41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(cgroup_mounts(pure, false), vec![mount("0:38", "/sys/fs/cgroup", &[])]);
        assert_eq!(cgroup_mounts(pure, true), cgroup_mounts(pure, false));
        // For an init (cgroup-init), the hybrid host's cgroup2 tree too, once.
        let for_init = cgroup_mounts(MOUNTINFO, true);
        let v2: Vec<&str> = for_init.iter().filter(|m| m.v2).map(|m| m.point.as_str()).collect();
        assert_eq!(v2, ["/sys/fs/cgroup/unified"]);
        assert_eq!(for_init.len(), cgroup_mounts(MOUNTINFO, false).len() + 1);
    }

    #[test]
    fn files_a_hierarchy_may_have() {
        let cpu = mount("0:39", "/c", &["cpu", "cpuacct"]);
        for file in ["tasks", "cgroup.procs", "cpu.shares", "cpuacct.usage"] {
            assert!(cpu.may_have(file), "{file}");
        }
        for file in ["memory.limit_in_bytes", "pids.max", "freezer.state", "cpuset.cpus"] {
            assert!(!cpu.may_have(file), "{file}");
        }
        assert!(mount("0:38", "/u", &[]).may_have("memory.max"));
    }

    const PROC_CGROUP: &str =
        "9:name=systemd:/\n8:pids:/user/1000\n4:memory:/process_api/45f4\n2:cpuacct,cpu:/\n0::/a b\n";

    #[test]
    fn finds_own_cgroup() {
        let path = |m: &CgroupMount| cgroup_path(PROC_CGROUP, m);
        assert_eq!(path(&mount("0:36", "/p", &["pids"])), Some("/user/1000"));
        assert_eq!(path(&mount("0:32", "/m", &["memory"])), Some("/process_api/45f4"));
        assert_eq!(path(&mount("0:39", "/c", &["cpu", "cpuacct"])), Some("/"));
        assert_eq!(path(&mount("0:38", "/u", &[])), Some("/a b"));
        assert_eq!(path(&mount("0:29", "/c", &["cpu"])), None);
        assert_eq!(path(&mount("0:43", "/f", &["freezer"])), None);
        // A cgroup named "x\n4:memory:/" forges a second memory line; the
        // hierarchy is then named twice and refused, as is a malformed line.
        let forged = "4:memory:/process_api/burrow-1000/x\n4:memory:/\n0::/\n";
        assert_eq!(cgroup_path(forged, &mount("0:32", "/m", &["memory"])), None);
        assert_eq!(cgroup_path(forged, &mount("0:38", "/u", &[])), Some("/"));
        assert_eq!(cgroup_path("0::/\n0::/x\n", &mount("0:38", "/u", &[])), None);
        assert_eq!(cgroup_path("0::/\ngarbage\n", &mount("0:38", "/u", &[])), None);
        // A line of no hierarchy here (v1 numbers, no controller) is no v2 line.
        assert_eq!(cgroup_path("9::/x\n0::/\n", &mount("0:38", "/u", &[])), Some("/"));
        // A path may itself hold a colon.
        assert_eq!(cgroup_path("0::/a:b\n", &mount("0:38", "/u", &[])), Some("/a:b"));
    }

    #[test]
    fn paths_below_a_mount_root() {
        assert_eq!(below_root("/", "/"), Some(vec![]));
        assert_eq!(below_root("/a/b", "/"), Some(vec!["a", "b"]));
        assert_eq!(below_root("/a/b", "/a"), Some(vec!["b"]));
        assert_eq!(below_root("/a", "/a"), Some(vec![]));
        assert_eq!(below_root("/ab", "/a"), None);
        assert_eq!(below_root("/", "/a"), None);
        for bad in ["", "a/b", "/a//b", "/a/", "/a/../b", "/../..", "/."] {
            assert_eq!(below_root(bad, "/"), None, "{bad:?}");
        }
        assert_eq!(below_root("/a", "/x/../a"), None);
    }
}
