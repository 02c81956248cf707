//! /etc/subuid and /etc/subgid: who may map which host ids. Pure code, run by
//! the helper (setuid root) on the root-owned policy files, and by the runner
//! to choose its default mapping. The file text is trusted only after the
//! helper has checked the file's owner and mode; parsing never panics.
//!
//! Format, as shadow's newuidmap reads it: one `OWNER:START:COUNT` per line,
//! where OWNER is a user name or a numeric uid. Blank lines and lines starting
//! with `#` are skipped; any other malformed line makes the whole file bad, so
//! that a typo never silently grants or withholds ids.

use crate::ids::{IdRange, parse_decimal_u32};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubidEntry {
    pub owner: String,
    pub range: IdRange,
}

#[derive(Debug, PartialEq, Eq)]
pub struct SubidSyntaxError {
    /// 1-based line number.
    pub line: usize,
    pub why: &'static str,
}

impl fmt::Display for SubidSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.why)
    }
}

impl std::error::Error for SubidSyntaxError {}

pub fn parse(text: &str) -> Result<Vec<SubidEntry>, SubidSyntaxError> {
    let mut entries = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let err = |why| SubidSyntaxError { line: index + 1, why };
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split(':');
        let (Some(owner), Some(start), Some(count), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(err("expected OWNER:START:COUNT"));
        };
        if owner.is_empty() {
            return Err(err("empty owner"));
        }
        let (Some(start), Some(count)) = (parse_decimal_u32(start), parse_decimal_u32(count)) else {
            return Err(err("START and COUNT must be decimal numbers"));
        };
        let range = IdRange::new(start, count).ok_or(err("COUNT is 0 or the range passes the largest id"))?;
        entries.push(SubidEntry {
            owner: owner.to_owned(),
            range,
        });
    }
    Ok(entries)
}

/// The ranges granted to the user `name` with uid `uid`: entries whose owner
/// is the name or the uid in decimal, sorted, with overlapping and adjacent
/// entries merged so that a request may span them.
pub fn granted(entries: &[SubidEntry], name: &str, uid: u32) -> Vec<IdRange> {
    let uid_text = uid.to_string();
    let mut ranges: Vec<IdRange> = entries
        .iter()
        .filter(|e| e.owner == name || e.owner == uid_text)
        .map(|e| e.range)
        .collect();
    ranges.sort();
    let mut merged: Vec<IdRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last) if range.start() <= last.end() => {
                let end = last.end().max(range.end());
                // Cannot fail: both ends are valid and last.start() < end.
                *last = IdRange::new(last.start(), end - last.start()).unwrap_or(*last);
            }
            _ => merged.push(range),
        }
    }
    merged
}

/// Whether `wanted` lies entirely inside one of the merged `granted` ranges.
pub fn covers(granted: &[IdRange], wanted: IdRange) -> bool {
    granted.iter().any(|g| g.contains_range(wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u32, count: u32) -> IdRange {
        IdRange::new(start, count).unwrap()
    }

    #[test]
    fn parses_shadow_format() {
        let text = "alice:100000:65536\n\n# comment\n1001:200000:10\n";
        let entries = parse(text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].owner, "alice");
        assert_eq!(entries[0].range, r(100000, 65536));
        assert_eq!(entries[1].owner, "1001");
    }

    #[test]
    fn malformed_lines_name_their_number() {
        for (text, line) in [
            ("alice:1:2\nbob:1\n", 2),
            (":1:2\n", 1),
            ("a:1:2:3\n", 1),
            ("a:x:2\n", 1),
            ("a:1:-2\n", 1),
            ("a:1:0\n", 1),
            ("a:4294967295:1\n", 1),
            ("ok:1:1\n\n#c\nbad\n", 4),
        ] {
            assert_eq!(parse(text).unwrap_err().line, line, "{text:?}");
        }
    }

    #[test]
    fn granted_by_name_or_uid_and_merged() {
        let entries = parse("alice:100:10\nbob:110:10\n1000:110:10\nalice:120:5\nalice:200:5\n").unwrap();
        assert_eq!(granted(&entries, "alice", 1000), vec![r(100, 25), r(200, 5)]);
        assert_eq!(granted(&entries, "bob", 1001), vec![r(110, 10)]);
        assert_eq!(granted(&entries, "carol", 1002), vec![]);
        // A name that looks like someone else's uid grants nothing extra.
        assert_eq!(granted(&entries, "1000", 5), vec![r(110, 10)]);
    }

    #[test]
    fn overlapping_entries_merge() {
        let entries = parse("a:100:50\na:120:10\na:140:20\n").unwrap();
        assert_eq!(granted(&entries, "a", 1), vec![r(100, 60)]);
    }

    #[test]
    fn covers_at_the_edges() {
        let g = vec![r(100, 25), r(200, 5)];
        assert!(covers(&g, r(100, 25)));
        assert!(covers(&g, r(124, 1)));
        assert!(!covers(&g, r(99, 1)));
        assert!(!covers(&g, r(125, 1)));
        assert!(!covers(&g, r(120, 10)));
        // Spanning two granted ranges with a hole between them is refused.
        assert!(!covers(&g, r(100, 105)));
        assert!(!covers(&[], r(0, 1)));
    }

    // Property tests (generator in `ids::testgen`).
    use crate::ids::testgen::{Gen, cases};

    const OWNERS: [&str; 4] = ["alice", "1000", "bob", "1001"];

    fn random_entries(g: &mut Gen, range: impl Fn(&mut Gen) -> IdRange) -> Vec<SubidEntry> {
        (0..g.below(8))
            .map(|_| SubidEntry {
                owner: OWNERS[g.below(4) as usize].to_owned(),
                range: range(g),
            })
            .collect()
    }

    /// The union of `ranges` as sorted, disjoint, non-adjacent `[start, end)`
    /// pairs, computed in u64.
    fn union(mut ranges: Vec<IdRange>) -> Vec<(u64, u64)> {
        ranges.sort();
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for r in ranges {
            let (start, end) = (u64::from(r.start()), u64::from(r.end()));
            match runs.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => runs.push((start, end)),
            }
        }
        runs
    }

    fn alices(entries: &[SubidEntry]) -> Vec<IdRange> {
        let mine = entries.iter().filter(|e| e.owner == "alice" || e.owner == "1000");
        mine.map(|e| e.range).collect()
    }

    #[test]
    fn property_granted_is_the_union_of_the_callers_entries() {
        for case in 0..cases() {
            let mut g = Gen::new(case);
            // Anywhere in the id space, the top included.
            let entries = random_entries(&mut g, |g| g.range(1 << 10));
            let merged = granted(&entries, "alice", 1000);
            let runs: Vec<(u64, u64)> = merged
                .iter()
                .map(|r| (u64::from(r.start()), u64::from(r.end())))
                .collect();
            assert_eq!(runs, union(alices(&entries)), "case {case}: {entries:?}");
            // The result does not depend on the order of the file's lines.
            let mut shuffled = entries.clone();
            g.shuffle(&mut shuffled);
            assert_eq!(granted(&shuffled, "alice", 1000), merged, "case {case}");
        }
    }

    #[test]
    fn property_covers_exactly_the_callers_ids() {
        for case in 0..cases() {
            let mut g = Gen::new(case);
            // Brute force over ids 0..40: an id is the caller's if one of
            // its entries holds it; a range is covered if all its ids are.
            let entries = random_entries(&mut g, |g| g.small_range(40));
            let merged = granted(&entries, "alice", 1000);
            let mine = alices(&entries);
            let owned = |id: u32| mine.iter().any(|r| r.contains(id));
            for _ in 0..8 {
                let wanted = g.small_range(40);
                let all = (wanted.start()..wanted.end()).all(owned);
                assert_eq!(covers(&merged, wanted), all, "case {case}: {wanted} of {entries:?}");
            }
        }
    }

    #[test]
    fn property_parse_reads_what_was_written() {
        for case in 0..cases() {
            let mut g = Gen::new(case);
            let entries = random_entries(&mut g, |g| g.range(1 << 20));
            let mut text = String::new();
            let mut lines = Vec::new();
            for e in &entries {
                if g.one_in(4) {
                    text += ["\n", "# alice:0:1\n", "  \n"][g.below(3) as usize];
                }
                text += &format!("{}:{}:{}\n", e.owner, e.range.start(), e.range.count());
                lines.push(text.lines().count());
            }
            assert_eq!(parse(&text).as_ref(), Ok(&entries), "case {case}: {text:?}");
            // Spoiling one entry's line makes the file bad, naming that line.
            if entries.is_empty() {
                continue;
            }
            let (line, how) = (lines[g.below(lines.len() as u64) as usize], g.below(4));
            let spoil = |l: &str| match how {
                0 => format!("{l}:1"),
                1 => format!("{l}x"),
                2 => l.replacen(':', "", 1),
                _ => format!(":{l}"),
            };
            let spoiled: Vec<String> = text
                .lines()
                .enumerate()
                .map(|(i, l)| if i + 1 == line { spoil(l) } else { l.to_owned() })
                .collect();
            let spoiled = spoiled.join("\n");
            assert_eq!(
                parse(&spoiled).map_err(|e| e.line),
                Err(line),
                "case {case}: {spoiled:?}"
            );
        }
    }
}
