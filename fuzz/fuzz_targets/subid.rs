//! /etc/subuid and /etc/subgid as the helper reads them (`subid::read_lines`
//! with `parse_line`, any bytes: line-length cap, UTF-8 and syntax per line),
//! then what the helper does with the entries: `parse_line_of` (keep only an
//! owner's entries), `granted` (merge an owner's ranges) and `covers`.
#![no_main]

use burrow_shared::ids::IdRange;
use burrow_shared::subid::{self, MAX_LINE_BYTES, SubidEntry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let entries = match subid::read_lines(data, subid::parse_line).expect("reading bytes in memory cannot fail") {
        Ok(entries) => entries,
        Err(e) => {
            // The bad line is one of the file's.
            let lines = data.split(|&b| b == b'\n').count();
            assert!(e.line >= 1 && e.line <= lines, "{e} of {lines} lines");
            return;
        }
    };
    // Accepted: every line fits the cap.
    assert!(data.split(|&b| b == b'\n').all(|l| l.len() <= MAX_LINE_BYTES));
    // Every entry prints back as a line that reads back to itself.
    let printed: String = entries
        .iter()
        .map(|e| format!("{}:{}:{}\n", e.owner, e.range.start(), e.range.count()))
        .collect();
    assert_eq!(
        subid::read_lines(printed.as_bytes(), subid::parse_line).ok(),
        Some(Ok(entries.clone()))
    );
    // A few owners (bounded, so that a big file stays fast to run).
    for entry in entries.iter().take(8) {
        let uid = entry.owner.parse().unwrap_or(u32::MAX);
        check_granted(&entries, &entry.owner, uid);
        // Reading only the owner's entries (as the helper does) grants the
        // same ranges, and keeps no one else's.
        let mine = subid::read_lines(data, subid::parse_line_of(entry.owner.clone(), uid)).expect("in memory");
        let mine = mine.expect("the same bytes read well above");
        assert_eq!(
            subid::granted(&mine, &entry.owner, uid),
            subid::granted(&entries, &entry.owner, uid)
        );
        assert!(
            mine.iter()
                .all(|e| e.owner == entry.owner || e.owner == uid.to_string())
        );
    }
});

fn check_granted(entries: &[SubidEntry], name: &str, uid: u32) {
    let granted = subid::granted(entries, name, uid);
    // Sorted, disjoint and not even adjacent: each range is a maximal run.
    for pair in granted.windows(2) {
        assert!(pair[0].end() < pair[1].start(), "{granted:?}");
    }
    let mine: Vec<IdRange> = entries
        .iter()
        .filter(|e| e.owner == name || e.owner == uid.to_string())
        .map(|e| e.range)
        .collect();
    // Each of the owner's entries is covered; each merged range starts and
    // ends where one of them does (nothing is granted beyond the entries).
    for range in &mine {
        assert!(subid::covers(&granted, *range), "{range} not covered by {granted:?}");
    }
    for g in &granted {
        assert!(mine.iter().any(|r| r.start() == g.start()), "{g} starts nowhere");
        assert!(mine.iter().any(|r| r.end() == g.end()), "{g} ends nowhere");
    }
    // Other users' entries are not covered unless they overlap the owner's.
    for e in entries {
        if subid::covers(&granted, e.range) {
            assert!(
                mine.iter().any(|r| r.overlaps(e.range)),
                "{} granted to {name}",
                e.range
            );
        }
    }
}
