//! Id ranges and uid/gid mappings. Pure code, run by both the runner
//! (unprivileged, to build a request) and the helper (setuid root, to check
//! one). Every value here may come from an attacker: arithmetic is checked,
//! nothing panics.
//!
//! Ids are named by side: `ns_start` is the first id inside the container's
//! user namespace, `host_start` the first id it stands for on the host.
//! Ranges are half-open and print as `[start-end)`.

use std::fmt;

/// The kernel's limit on lines in one uid_map or gid_map write.
pub const MAX_MAP_LINES: usize = 340;

/// The kernel's limit on the size of that one write: it refuses a write of
/// `PAGE_SIZE` bytes or more with EINVAL. 4095 is the smallest such limit (4 KiB
/// pages); 340 lines of large ids do not fit in it.
pub const MAX_MAP_BYTES: usize = 4095;

/// Ids are 32-bit; `u32::MAX` is `(uid_t)-1`, "no id", so a range ends at
/// most there (exclusive). The kernel refuses an extent whose end wraps.
pub const ID_END_MAX: u64 = u32::MAX as u64;

/// A non-empty half-open range of ids `[start, start + count)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct IdRange {
    start: u32,
    count: u32,
}

impl IdRange {
    /// A range, or `None` when `count` is 0 or the end passes `ID_END_MAX`.
    pub fn new(start: u32, count: u32) -> Option<IdRange> {
        if count == 0 || u64::from(start) + u64::from(count) > ID_END_MAX {
            return None;
        }
        Some(IdRange { start, count })
    }

    pub fn start(self) -> u32 {
        self.start
    }

    pub fn count(self) -> u32 {
        self.count
    }

    /// One past the last id; always `<= ID_END_MAX`, so it fits in a `u32`.
    pub fn end(self) -> u32 {
        // Cannot overflow: `new` checked start + count <= u32::MAX.
        self.start + self.count
    }

    pub fn contains_range(self, other: IdRange) -> bool {
        self.start <= other.start && other.end() <= self.end()
    }

    pub fn overlaps(self, other: IdRange) -> bool {
        self.start < other.end() && other.start < self.end()
    }

    pub fn contains(self, id: u32) -> bool {
        self.start <= id && id < self.end()
    }
}

impl fmt::Display for IdRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}-{})", self.start, self.end())
    }
}

/// Which kind of id a mapping is for; names the map file and the policy file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    Uid,
    Gid,
}

impl IdKind {
    pub fn name(self) -> &'static str {
        match self {
            IdKind::Uid => "uid",
            IdKind::Gid => "gid",
        }
    }

    /// The file below /proc/PID that holds this kind's map.
    pub fn map_file(self) -> &'static str {
        match self {
            IdKind::Uid => "uid_map",
            IdKind::Gid => "gid_map",
        }
    }
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One line of a uid_map or gid_map: `count` ids from `ns_start` inside the
/// namespace stand for the ids from `host_start` outside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMapping {
    ns: IdRange,
    host: IdRange,
}

impl IdMapping {
    /// A mapping, or `None` when `count` is 0 or either side's end passes
    /// `ID_END_MAX`.
    pub fn new(ns_start: u32, host_start: u32, count: u32) -> Option<IdMapping> {
        Some(IdMapping {
            ns: IdRange::new(ns_start, count)?,
            host: IdRange::new(host_start, count)?,
        })
    }

    pub fn ns(self) -> IdRange {
        self.ns
    }

    pub fn host(self) -> IdRange {
        self.host
    }

    pub fn count(self) -> u32 {
        self.ns.count
    }

    /// Parses `NS:HOST:COUNT` (decimal, as `--uidmap` and the helper take it).
    pub fn parse(text: &str) -> Result<IdMapping, MappingSyntaxError> {
        let err = |why| MappingSyntaxError {
            text: text.to_owned(),
            why,
        };
        let mut fields = text.split(':');
        let (Some(ns), Some(host), Some(count), None) = (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(err("expected NS:HOST:COUNT"));
        };
        let number = |field: &str| parse_decimal_u32(field).ok_or(err("not a decimal id"));
        let (ns_start, host_start, count) = (number(ns)?, number(host)?, number(count)?);
        if count == 0 {
            return Err(err("count must be at least 1"));
        }
        IdMapping::new(ns_start, host_start, count).ok_or(err("range passes the largest id"))
    }

    /// The `NS:HOST:COUNT` form `parse` reads.
    pub fn to_arg(self) -> String {
        format!("{}:{}:{}", self.ns.start, self.host.start, self.count())
    }
}

impl fmt::Display for IdMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.ns, self.host)
    }
}

/// A decimal number without sign, spaces or leading `+`, that fits in a
/// `u32` (`str::parse` alone would take `+5`).
pub fn parse_decimal_u32(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[derive(Debug, PartialEq, Eq)]
pub struct MappingSyntaxError {
    pub text: String,
    pub why: &'static str,
}

impl fmt::Display for MappingSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad id mapping {:?}: {}", self.text, self.why)
    }
}

impl std::error::Error for MappingSyntaxError {}

/// Why a set of mappings cannot be one map file.
#[derive(Debug, PartialEq, Eq)]
pub enum MapError {
    Empty,
    TooManyLines(usize),
    TooLong(usize),
    NsOverlap(IdMapping, IdMapping),
    HostOverlap(IdMapping, IdMapping),
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::Empty => write!(f, "the map is empty"),
            MapError::TooManyLines(n) => {
                write!(f, "the map has {n} lines, more than the kernel's {MAX_MAP_LINES}")
            }
            MapError::TooLong(n) => {
                write!(f, "the map is {n} bytes long, more than the kernel's {MAX_MAP_BYTES}")
            }
            MapError::NsOverlap(a, b) => {
                write!(f, "{a} and {b} overlap inside the namespace")
            }
            MapError::HostOverlap(a, b) => write!(f, "{a} and {b} overlap on the host"),
        }
    }
}

impl std::error::Error for MapError {}

/// Checks that `map` can be written as one map file: 1 to 340 lines, at most
/// `MAX_MAP_BYTES` once rendered, no two lines overlapping on either side.
/// (Each line's own count and overflow were checked when it was made.)
pub fn check_map(map: &[IdMapping]) -> Result<(), MapError> {
    if map.is_empty() {
        return Err(MapError::Empty);
    }
    if map.len() > MAX_MAP_LINES {
        return Err(MapError::TooManyLines(map.len()));
    }
    let bytes = render_map(map).len();
    if bytes > MAX_MAP_BYTES {
        return Err(MapError::TooLong(bytes));
    }
    // At most 340 lines: the quadratic scan is at most ~58,000 comparisons.
    for (i, a) in map.iter().enumerate() {
        for b in &map[i + 1..] {
            if a.ns.overlaps(b.ns) {
                return Err(MapError::NsOverlap(*a, *b));
            }
            if a.host.overlaps(b.host) {
                return Err(MapError::HostOverlap(*a, *b));
            }
        }
    }
    Ok(())
}

/// The text written to /proc/PID/uid_map or gid_map, in one write(2).
pub fn render_map(map: &[IdMapping]) -> String {
    map.iter()
        .map(|m| format!("{} {} {}\n", m.ns.start, m.host.start, m.count()))
        .collect()
}

/// Parses the text of a map file as the kernel prints it (whitespace-separated
/// `ns host count` per line); used to read back /proc/PID/uid_map.
pub fn parse_map_file(text: &str) -> Option<Vec<IdMapping>> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut fields = line.split_whitespace().map(parse_decimal_u32);
            match (fields.next(), fields.next(), fields.next(), fields.next()) {
                (Some(Some(ns)), Some(Some(host)), Some(Some(count)), None) => IdMapping::new(ns, host, count),
                _ => None,
            }
        })
        .collect()
}

/// A small generator for the property tests of the id algebra (here and in
/// `subid`), without a dependency: SplitMix64, seeded by the case number so
/// that a failure names the case to look at.
#[cfg(test)]
pub(crate) mod testgen {
    use super::{IdMapping, IdRange};

    /// Cases per property: `BURROW_PROPTEST_CASES`, or 2,000.
    pub fn cases() -> u64 {
        std::env::var("BURROW_PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(2000)
    }

    pub struct Gen(u64);

    impl Gen {
        pub fn new(case: u64) -> Gen {
            Gen(case.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x6275_7272_6f77)
        }

        pub fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        /// A number below `n` (which is not 0).
        pub fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        pub fn one_in(&mut self, n: u64) -> bool {
            self.below(n) == 0
        }

        /// An id: mostly below `small` (so that ranges meet), else near the
        /// top of the id space or anywhere.
        pub fn id(&mut self, small: u32) -> u32 {
            match self.below(8) {
                0 => u32::MAX - self.below(u64::from(small) + 1) as u32,
                1 => self.next() as u32,
                _ => self.below(u64::from(small)) as u32,
            }
        }

        /// A valid range, mostly of at most `small` ids, sometimes up to the
        /// end of the id space.
        pub fn range(&mut self, small: u32) -> IdRange {
            let start = self.id(small).min(u32::MAX - 1);
            let room = u64::from(u32::MAX - start);
            let count = match self.one_in(16) {
                true => room,
                false => 1 + self.below(room.min(u64::from(small))),
            };
            IdRange::new(start, count as u32).expect("count fits in room")
        }

        /// A valid mapping whose sides are ranges as `range` makes them.
        pub fn mapping(&mut self, small: u32) -> IdMapping {
            let (ns, host) = (self.range(small), self.range(small));
            IdMapping::new(ns.start(), host.start(), ns.count().min(host.count())).expect("both sides fit")
        }

        /// A valid range of ids below `universe` (at least 2).
        pub fn small_range(&mut self, universe: u32) -> IdRange {
            let start = self.below(u64::from(universe) - 1) as u32;
            let count = 1 + self.below(u64::from(universe - start)) as u32;
            IdRange::new(start, count).expect("small")
        }

        pub fn shuffle<T>(&mut self, items: &mut [T]) {
            for i in (1..items.len()).rev() {
                items.swap(i, self.below(i as u64 + 1) as usize);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(ns: u32, host: u32, count: u32) -> IdMapping {
        IdMapping::new(ns, host, count).unwrap()
    }

    #[test]
    fn range_edges() {
        assert_eq!(IdRange::new(0, 0), None);
        assert_eq!(IdRange::new(5, 1).unwrap().end(), 6);
        // The last valid id is u32::MAX - 1: a range may end at u32::MAX.
        assert_eq!(IdRange::new(u32::MAX - 1, 1).unwrap().end(), u32::MAX);
        assert_eq!(IdRange::new(u32::MAX, 1), None);
        assert_eq!(IdRange::new(u32::MAX - 10, 11), None);
        assert_eq!(IdRange::new(0, u32::MAX).unwrap().end(), u32::MAX);
        assert_eq!(IdRange::new(1, u32::MAX), None);
    }

    #[test]
    fn range_relations_are_half_open() {
        let r = IdRange::new(100, 10).unwrap();
        assert!(r.contains(100) && r.contains(109));
        assert!(!r.contains(99) && !r.contains(110));
        assert!(!r.overlaps(IdRange::new(110, 5).unwrap()));
        assert!(!r.overlaps(IdRange::new(90, 10).unwrap()));
        assert!(r.overlaps(IdRange::new(109, 5).unwrap()));
        assert!(r.overlaps(IdRange::new(90, 11).unwrap()));
        assert!(r.contains_range(IdRange::new(100, 10).unwrap()));
        assert!(!r.contains_range(IdRange::new(100, 11).unwrap()));
        assert!(!r.contains_range(IdRange::new(99, 2).unwrap()));
        assert_eq!(r.to_string(), "[100-110)");
    }

    #[test]
    fn parse_mapping() {
        assert_eq!(IdMapping::parse("0:1000:1"), Ok(m(0, 1000, 1)));
        assert_eq!(m(0, 200000, 65536).to_string(), "[0-65536) -> [200000-265536)");
        assert_eq!(IdMapping::parse(&m(1, 165536, 65536).to_arg()), Ok(m(1, 165536, 65536)));
        for bad in [
            "",
            "0:1",
            "0:1:2:3",
            "a:1:1",
            "-1:1:1",
            "+1:1:1",
            " 1:1:1",
            "1:1:0",
            "4294967296:0:1",
            "0:4294967295:1",
            "4294967295:0:1",
            "1:0:4294967295",
        ] {
            assert!(IdMapping::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert_eq!(IdMapping::parse("1:1:0").unwrap_err().why, "count must be at least 1");
        IdMapping::parse("0:4294967294:1").unwrap();
    }

    #[test]
    fn check_map_rules() {
        assert_eq!(check_map(&[]), Err(MapError::Empty));
        assert_eq!(check_map(&[m(0, 1000, 1), m(1, 100000, 65536)]), Ok(()));
        // Adjacent is fine on both sides; one id of overlap is not.
        assert_eq!(check_map(&[m(0, 10, 5), m(5, 15, 5)]), Ok(()));
        assert_eq!(
            check_map(&[m(0, 10, 5), m(4, 100, 5)]),
            Err(MapError::NsOverlap(m(0, 10, 5), m(4, 100, 5)))
        );
        assert_eq!(
            check_map(&[m(0, 10, 5), m(100, 14, 5)]),
            Err(MapError::HostOverlap(m(0, 10, 5), m(100, 14, 5)))
        );
        let full: Vec<_> = (0..340).map(|i| m(i, 1000 + i, 1)).collect();
        assert_eq!(check_map(&full), Ok(()));
        let over: Vec<_> = (0..341).map(|i| m(i, 1000 + i, 1)).collect();
        assert_eq!(check_map(&over), Err(MapError::TooManyLines(341)));
        // 340 lines of large ids pass the line limit but not the byte limit.
        let long: Vec<_> = (0..340).map(|i| m(100000 + i, 1000000 + i, 1)).collect();
        assert_eq!(check_map(&long), Err(MapError::TooLong(340 * 17)));
        // Exactly the kernel's 4095 bytes pass: 170 lines of 24 bytes, one of 15.
        let mut exact: Vec<_> = (0..170).map(|i| m(1_000_000_000 + i, 1_000_000_000 + i, 1)).collect();
        exact.push(m(3000, 3000, 1234));
        assert_eq!((render_map(&exact).len(), check_map(&exact)), (4095, Ok(())));
        assert_eq!(
            MapError::TooLong(5780).to_string(),
            "the map is 5780 bytes long, more than the kernel's 4095"
        );
    }

    #[test]
    fn kinds_name_their_files() {
        assert_eq!(
            (IdKind::Uid.to_string(), IdKind::Uid.map_file()),
            ("uid".into(), "uid_map")
        );
        assert_eq!(
            (IdKind::Gid.to_string(), IdKind::Gid.map_file()),
            ("gid".into(), "gid_map")
        );
    }

    #[test]
    fn render_and_read_back() {
        let map = [m(0, 1000, 1), m(1, 165536, 65536)];
        let text = render_map(&map);
        assert_eq!(text, "0 1000 1\n1 165536 65536\n");
        let kernel_style = "         0       1000          1\n         1     165536      65536\n";
        assert_eq!(parse_map_file(kernel_style), Some(map.to_vec()));
        assert_eq!(parse_map_file(&text), Some(map.to_vec()));
        assert_eq!(parse_map_file(""), Some(vec![]));
        assert_eq!(parse_map_file("0 1"), None);
    }

    // Property tests: random cases from `testgen`, each checked against a
    // plain definition (brute force over a small id space, or u64 arithmetic).
    use super::testgen::{Gen, cases};

    fn ids(range: IdRange) -> std::ops::Range<u32> {
        range.start()..range.end()
    }

    #[test]
    fn property_ranges_are_exactly_the_valid_ones() {
        for case in 0..cases() {
            let mut g = Gen::new(case);
            let (start, count) = (g.id(64), g.id(64));
            let valid = count > 0 && u64::from(start) + u64::from(count) <= ID_END_MAX;
            let range = IdRange::new(start, count);
            assert_eq!(range.is_some(), valid, "case {case}: {start} {count}");
            if let Some(r) = range {
                assert_eq!(
                    (r.start(), r.count(), u64::from(r.end())),
                    (start, count, u64::from(start) + u64::from(count))
                );
                assert!(r.contains(start) && r.contains(r.end() - 1) && !r.contains(r.end()));
                assert!(start == 0 || !r.contains(start - 1));
            }
        }
    }

    #[test]
    fn property_range_relations_match_their_definitions() {
        for case in 0..cases() {
            let mut g = Gen::new(case);
            // Brute force over ids 0..40.
            let (a, b) = (g.small_range(40), g.small_range(40));
            let shared = ids(a).any(|id| b.contains(id));
            assert_eq!(a.overlaps(b), shared, "case {case}: {a} {b}");
            assert_eq!(
                a.contains_range(b),
                ids(b).all(|id| a.contains(id)),
                "case {case}: {a} {b}"
            );
            // Anywhere in the id space, against u64 arithmetic.
            let (a, b) = (g.range(1 << 20), g.range(1 << 20));
            let (a0, a1, b0, b1) = (a.start() as u64, a.end() as u64, b.start() as u64, b.end() as u64);
            assert_eq!(a.overlaps(b), a0.max(b0) < a1.min(b1), "case {case}: {a} {b}");
            assert_eq!(a.contains_range(b), a0 <= b0 && b1 <= a1, "case {case}: {a} {b}");
            assert_eq!(a.overlaps(b), b.overlaps(a));
            assert!(a.overlaps(a) && a.contains_range(a));
            assert!(!a.contains_range(b) || a.overlaps(b));
            assert_eq!(a.contains_range(b) && b.contains_range(a), a == b);
        }
    }

    #[test]
    fn property_mapping_parse_matches_its_definition() {
        for case in 0..cases() {
            let mut g = Gen::new(case);
            let number = |g: &mut Gen| match g.below(4) {
                0 => u64::from(u32::MAX) + g.below(3),
                _ => u64::from(g.id(1 << 16)),
            };
            let (ns, host, count) = (number(&mut g), number(&mut g), number(&mut g));
            let fits = |start: u64| start + count <= ID_END_MAX;
            let valid = count > 0 && fits(ns) && fits(host);
            let text = format!("{ns}:{host}:{count}");
            let parsed = IdMapping::parse(&text);
            assert_eq!(parsed.is_ok(), valid, "case {case}: {text}");
            if let Ok(m) = parsed {
                assert_eq!(
                    (m.ns().start(), m.host().start(), m.count()),
                    (ns as u32, host as u32, count as u32)
                );
                assert_eq!(m.to_arg(), text);
            }
            // Any change of shape is refused.
            let spoiled = match g.below(5) {
                0 => format!("{text}:1"),
                1 => format!(" {text}"),
                2 => format!("+{text}"),
                3 => text.replacen(':', "::", 1),
                _ => text.replacen(':', " ", 1),
            };
            assert!(IdMapping::parse(&spoiled).is_err(), "case {case}: {spoiled:?}");
        }
    }

    /// `check_map`'s answer by definition: ids shared by two lines (first pair
    /// in order, the namespace side before the host side), over a small id space.
    fn check_map_oracle(map: &[IdMapping]) -> Result<(), MapError> {
        for (i, a) in map.iter().enumerate() {
            for b in &map[i + 1..] {
                if ids(a.ns()).any(|id| b.ns().contains(id)) {
                    return Err(MapError::NsOverlap(*a, *b));
                }
                if ids(a.host()).any(|id| b.host().contains(id)) {
                    return Err(MapError::HostOverlap(*a, *b));
                }
            }
        }
        match map.is_empty() {
            true => Err(MapError::Empty),
            false => Ok(()),
        }
    }

    #[test]
    fn property_check_map_refuses_exactly_the_overlaps() {
        for case in 0..cases() {
            let mut g = Gen::new(case);
            let mut map: Vec<IdMapping> = (0..g.below(7))
                .map(|_| {
                    let (ns, host) = (g.small_range(48), g.small_range(48));
                    IdMapping::new(ns.start(), host.start(), ns.count().min(host.count())).unwrap()
                })
                .collect();
            assert_eq!(check_map(&map), check_map_oracle(&map), "case {case}: {map:?}");
            // Whether a map passes does not depend on the order of its lines.
            let ok = check_map(&map).is_ok();
            g.shuffle(&mut map);
            assert_eq!(check_map(&map).is_ok(), ok, "case {case}: {map:?}");
        }
    }

    #[test]
    fn property_check_map_limits() {
        for case in 0..cases() / 10 {
            let mut g = Gen::new(case);
            // Disjoint lines: line i holds ids [i * step, i * step + count).
            let (lines, step) = (g.below(MAX_MAP_LINES as u64 + 6) as u32, 1 + g.below(1 << 12) as u32);
            let (host_base, count) = (g.below(1 << 24) as u32, 1 + g.below(u64::from(step)) as u32);
            let map: Vec<IdMapping> = (0..lines)
                .map(|i| IdMapping::new(i * step, host_base + i * step, count).unwrap())
                .collect();
            let bytes = render_map(&map).len();
            let expected = match map.len() {
                0 => Err(MapError::Empty),
                n if n > MAX_MAP_LINES => Err(MapError::TooManyLines(n)),
                _ if bytes > MAX_MAP_BYTES => Err(MapError::TooLong(bytes)),
                _ => Ok(()),
            };
            assert_eq!(check_map(&map), expected, "case {case}: {lines} lines, step {step}");
        }
    }

    #[test]
    fn property_rendered_maps_read_back() {
        for case in 0..cases() {
            let mut g = Gen::new(case);
            let map: Vec<IdMapping> = (0..g.below(6)).map(|_| g.mapping(1 << 20)).collect();
            let text = render_map(&map);
            assert_eq!(parse_map_file(&text).as_ref(), Some(&map), "case {case}: {text:?}");
            // As the kernel prints it: right-aligned in columns of 10.
            let kernel: String = map
                .iter()
                .map(|m| format!("{:>10} {:>10} {:>10}\n", m.ns().start(), m.host().start(), m.count()))
                .collect();
            assert_eq!(parse_map_file(&kernel), Some(map), "case {case}: {kernel:?}");
        }
    }
}
