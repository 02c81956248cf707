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
        assert!(IdMapping::parse("0:4294967294:1").is_ok());
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
        assert_eq!(
            MapError::TooLong(5780).to_string(),
            "the map is 5780 bytes long, more than the kernel's 4095"
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
}
