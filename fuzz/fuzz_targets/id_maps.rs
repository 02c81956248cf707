//! The range checks: `IdMapping::parse` (each `--uid`/`--gid` value),
//! `check_map` (a whole uid_map or gid_map before it is written), `render_map`
//! and `parse_map_file` (the kernel's map text, read back).
//!
//! Input: the whole of it, if UTF-8, is the text for the first and the last;
//! then its byte 0 picks a right shift for the numbers (so that small ids,
//! and so overlaps, are easy to reach) and each 12 bytes after it are one
//! mapping for `check_map` (NS, HOST, COUNT as little-endian u32s).
#![no_main]

use burrow_shared::ids::{IdMapping, MAX_MAP_BYTES, MAX_MAP_LINES, MapError, check_map, parse_map_file, render_map};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_text(text);
    }
    let Some((&shift, rest)) = data.split_first() else {
        return;
    };
    let number = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) >> (shift % 32);
    let map: Vec<IdMapping> = rest
        .chunks_exact(12)
        .filter_map(|c| IdMapping::new(number(&c[0..4]), number(&c[4..8]), number(&c[8..12])))
        .collect();
    check(&map);
});

/// `IdMapping::parse` on each line, `parse_map_file` on the whole.
fn check_text(text: &str) {
    for line in text.lines() {
        if let Ok(m) = IdMapping::parse(line) {
            assert!(m.count() >= 1 && m.ns().count() == m.host().count());
            assert_eq!(IdMapping::parse(&m.to_arg()), Ok(m));
        }
    }
    if let Some(map) = parse_map_file(text) {
        assert_eq!(parse_map_file(&render_map(&map)).as_ref(), Some(&map));
        let _ = check_map(&map);
    }
}

/// `check_map` against a plain oracle: sort each side by start and look at
/// neighbours (an overlap between any two implies one between neighbours).
fn check(map: &[IdMapping]) {
    let result = check_map(map);
    let bytes = render_map(map).len();
    let overlap = |side: fn(&IdMapping) -> (u32, u32)| {
        let mut ranges: Vec<(u32, u32)> = map.iter().map(side).collect();
        ranges.sort();
        ranges.windows(2).any(|w| w[1].0 < w[0].1)
    };
    let ns = overlap(|m| (m.ns().start(), m.ns().end()));
    let host = overlap(|m| (m.host().start(), m.host().end()));
    match result {
        Ok(()) => {
            assert!(!map.is_empty() && map.len() <= MAX_MAP_LINES && bytes <= MAX_MAP_BYTES);
            assert!(!ns && !host, "{map:?} passed with an overlap");
            assert_eq!(parse_map_file(&render_map(map)).as_deref(), Some(map));
        }
        Err(MapError::Empty) => assert!(map.is_empty()),
        Err(MapError::TooManyLines(n)) => assert!(n == map.len() && n > MAX_MAP_LINES),
        Err(MapError::TooLong(n)) => assert!(n == bytes && n > MAX_MAP_BYTES),
        Err(MapError::NsOverlap(a, b)) => assert!(ns && a.ns().overlaps(b.ns())),
        Err(MapError::HostOverlap(a, b)) => assert!(host && a.host().overlaps(b.host())),
    }
}
