//! /etc/subuid and /etc/subgid (`subid::parse`), then what the helper does
//! with the entries: `granted` (merge an owner's ranges) and `covers`. The
//! helper refuses a file that is not UTF-8 before parsing, so only UTF-8
//! input is parsed here.
#![no_main]

use burrow_shared::ids::IdRange;
use burrow_shared::subid::{self, SubidEntry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(entries) = subid::parse(text) else {
        return;
    };
    // Every entry prints back as a line that parses to itself.
    let printed: String = entries
        .iter()
        .map(|e| format!("{}:{}:{}\n", e.owner, e.range.start(), e.range.count()))
        .collect();
    assert_eq!(subid::parse(&printed).as_ref(), Ok(&entries));
    // A few owners (bounded, so that a big file stays fast to run).
    for entry in entries.iter().take(8) {
        let uid = entry.owner.parse().unwrap_or(u32::MAX);
        check_granted(&entries, &entry.owner, uid);
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
