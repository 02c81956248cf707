//! /etc/subuid and /etc/subgid: who may map which host ids. Pure code, run by
//! the helper (setuid root) on the root-owned policy files, and by the runner
//! to choose its default mapping. The file text is trusted only after the
//! helper has checked the file's owner and mode; parsing never panics.
//!
//! Format, as shadow's newuidmap reads it: one `OWNER:START:COUNT` per line,
//! where OWNER is a user name or a numeric uid. Blank lines and lines starting
//! with `#` are skipped; any other malformed line makes the whole file bad, so
//! that a typo never silently grants or withholds ids.
//!
//! Also the one reader of every policy file (`read_lines`): line by line, in
//! memory bounded by one line and the entries kept, so that /etc/subuid may
//! be of any size (shadow's newuidmap reads any size too). It reads from the
//! caller's reader: nothing here opens a file.

use crate::ids::{IdKind, IdRange, parse_decimal_u32};
use std::fmt;
use std::io::{self, BufRead};

/// The longest line a policy file may have, its newline aside (a subid line
/// is a login name and two numbers).
pub const MAX_LINE_BYTES: usize = 4096;

/// The policy file of a kind: /etc/subuid or /etc/subgid, or the file the
/// build names (`BURROW_SUBUID_FILE`, `BURROW_SUBGID_FILE`: for tests and
/// benchmarks; fixed at compile time, never read from the environment), the
/// same for the helper and the runner.
pub fn path(kind: IdKind) -> &'static str {
    match kind {
        IdKind::Uid => option_env!("BURROW_SUBUID_FILE").unwrap_or("/etc/subuid"),
        IdKind::Gid => option_env!("BURROW_SUBGID_FILE").unwrap_or("/etc/subgid"),
    }
}

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

/// What a policy file's line holds: an item, nothing (`None`), or why it is bad.
pub type Parsed<T> = Result<Option<T>, &'static str>;
/// A policy file's items, or its first bad line.
pub type Lines<T> = Result<Vec<T>, SubidSyntaxError>;

/// Reads a policy file from `reader` one line at a time: each line must be
/// at most MAX_LINE_BYTES long, valid UTF-8 and accepted by `parse`, which
/// returns the line's item, or `None` for a line without one (blank, a
/// comment, or an entry that does not concern the caller). Lines end at `\n`
/// or `\r\n`, the last one maybe at the end of the file (as `str::lines`).
/// The outer error is the reader's, the inner one the first bad line's.
pub fn read_lines<T>(reader: impl BufRead, mut parse: impl FnMut(&str) -> Parsed<T>) -> io::Result<Lines<T>> {
    let (mut items, mut bytes, mut reader) = (Vec::new(), Vec::new(), reader.take(0));
    for number in 1.. {
        let err = |why| Ok(Err(SubidSyntaxError { line: number, why }));
        bytes.clear();
        // One byte past the longest line: a line without its newline by then is too long.
        reader.set_limit(MAX_LINE_BYTES as u64 + 1);
        if reader.read_until(b'\n', &mut bytes)? == 0 {
            break;
        }
        let line = match bytes.strip_suffix(b"\n") {
            Some(line) => line.strip_suffix(b"\r").unwrap_or(line),
            None if bytes.len() > MAX_LINE_BYTES => return err("longer than 4096 bytes"),
            None => &bytes,
        };
        match std::str::from_utf8(line).map(&mut parse) {
            Ok(Ok(item)) => items.extend(item),
            Ok(Err(why)) => return err(why),
            Err(_) => return err("not valid UTF-8"),
        }
    }
    Ok(Ok(items))
}

/// One line of /etc/subuid or /etc/subgid: its entry, or `None` for a blank
/// or comment line.
pub fn parse_line(line: &str) -> Parsed<SubidEntry> {
    if line.trim().is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut fields = line.split(':');
    let (Some(owner), Some(start), Some(count), None) = (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err("expected OWNER:START:COUNT");
    };
    if owner.is_empty() {
        return Err("empty owner");
    }
    let (Some(start), Some(count)) = (parse_decimal_u32(start), parse_decimal_u32(count)) else {
        return Err("START and COUNT must be decimal numbers");
    };
    let range = IdRange::new(start, count).ok_or("COUNT is 0 or the range passes the largest id")?;
    Ok(Some(SubidEntry {
        owner: owner.to_owned(),
        range,
    }))
}

/// `parse_line`, keeping only the entries of the user `name` with uid `uid`
/// (by name or by the uid in decimal, as `granted` matches them).
pub fn parse_line_of(name: String, uid: u32) -> impl Fn(&str) -> Parsed<SubidEntry> {
    let uid = uid.to_string();
    move |line| Ok(parse_line(line)?.filter(|e| is_for(&e.owner, &name, &uid)))
}

/// The ranges granted to the user `name` with uid `uid`: entries whose owner
/// is the name or the uid in decimal, sorted, with overlapping and adjacent
/// entries merged so that a request may span them.
pub fn granted(entries: &[SubidEntry], name: &str, uid: u32) -> Vec<IdRange> {
    let uid = uid.to_string();
    let mut ranges: Vec<IdRange> = entries
        .iter()
        .filter(|e| is_for(&e.owner, name, &uid))
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

/// Whether a line's OWNER names the user `name` whose uid in decimal is `uid`.
fn is_for(owner: &str, name: &str, uid: &str) -> bool {
    owner == name || owner == uid
}

/// Whether `wanted` lies entirely inside one of the merged `granted` ranges.
pub fn covers(granted: &[IdRange], wanted: IdRange) -> bool {
    granted.iter().any(|g| g.contains_range(wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<SubidEntry>, SubidSyntaxError> {
        read_lines(text.as_bytes(), parse_line).unwrap()
    }

    #[test]
    fn paths_are_the_standard_files_unless_built_otherwise() {
        let uid = option_env!("BURROW_SUBUID_FILE").unwrap_or("/etc/subuid");
        let gid = option_env!("BURROW_SUBGID_FILE").unwrap_or("/etc/subgid");
        assert_eq!((path(IdKind::Uid), path(IdKind::Gid)), (uid, gid));
    }

    fn r(start: u32, count: u32) -> IdRange {
        IdRange::new(start, count).unwrap()
    }

    /// What the helper keeps of a file for alice (uid 1000).
    fn alices_lines(bytes: &[u8]) -> Lines<SubidEntry> {
        read_lines(bytes, parse_line_of("alice".into(), 1000)).unwrap()
    }

    fn bad_line(bytes: &[u8]) -> (usize, &'static str) {
        let e = alices_lines(bytes).unwrap_err();
        (e.line, e.why)
    }

    const LONG: &str = "longer than 4096 bytes";

    #[test]
    fn line_length_cap_at_the_edges() {
        assert_eq!(LONG, format!("longer than {MAX_LINE_BYTES} bytes"));
        // An entry of exactly MAX_LINE_BYTES, with and without its newline.
        let owner = "a".repeat(MAX_LINE_BYTES - ":1:2".len());
        let exact = format!("{owner}:1:2");
        assert_eq!(exact.len(), MAX_LINE_BYTES);
        for text in [
            format!("{exact}\n"),
            exact.clone(),
            format!("alice:5:5\n{exact}\nalice:9:1"),
        ] {
            let entries = parse(&text).unwrap();
            assert!(
                entries.iter().any(|e| e.owner == owner && e.range == r(1, 2)),
                "{}",
                text.len()
            );
        }
        // One byte over: refused, naming the line, wherever it is and whoever it is for.
        let over = format!("a{exact}");
        assert_eq!(bad_line(format!("{over}\n").as_bytes()), (1, LONG));
        assert_eq!(bad_line(over.as_bytes()), (1, LONG), "the last line, without a newline");
        assert_eq!(
            bad_line(format!("alice:1:1\n#\n{over}\nalice:2:2\n").as_bytes()),
            (3, LONG)
        );
        let comment = format!("#{}\n", "x".repeat(MAX_LINE_BYTES));
        assert_eq!(bad_line(format!("\n{comment}").as_bytes()), (2, LONG), "a comment too");
        assert_eq!(parse(&comment[1..]).unwrap_err().line, 1,);
        assert_eq!(
            parse(&comment.replacen('x', "", 1)),
            Ok(vec![]),
            "a comment of exactly the cap"
        );
        // A CR before the newline is a byte of the line.
        assert_eq!(parse(&format!("{exact}\r\n")).unwrap_err().why, LONG);
        // A line of any length is refused after MAX_LINE_BYTES + 1 bytes:
        // memory stays bounded even for an endless line.
        let endless = io::BufReader::new(io::repeat(b'x'));
        let e = read_lines(endless, parse_line).unwrap().unwrap_err();
        assert_eq!((e.line, e.why), (1, LONG));
    }

    #[test]
    fn keeps_only_the_callers_entries_and_checks_every_line() {
        let text = "bob:1:1\nalice:100:10\n# alice:0:1\n1000:200:5\n1001:300:5\nalice2:400:5\n";
        let mine = alices_lines(text.as_bytes()).unwrap();
        assert_eq!(mine, parse("alice:100:10\n1000:200:5\n").unwrap());
        assert_eq!(
            granted(&mine, "alice", 1000),
            granted(&parse(text).unwrap(), "alice", 1000)
        );
        // A malformed line anywhere refuses the file: after the caller's
        // entry, in someone else's entry, or as the last line.
        assert_eq!(bad_line(b"alice:100:10\nbob:1\n"), (2, "expected OWNER:START:COUNT"));
        assert_eq!(
            bad_line(b"alice:100:10\n\nbob:x:1"),
            (3, "START and COUNT must be decimal numbers")
        );
        assert_eq!(
            bad_line(b"bob:1:0\nalice:100:10\n"),
            (1, "COUNT is 0 or the range passes the largest id")
        );
        assert_eq!(bad_line(b"alice:100:10\n:1:1\n"), (2, "empty owner"));
    }

    #[test]
    fn line_endings_blank_and_comment_lines_as_str_lines() {
        let ok = |text: &str| parse(text).map(|e| e.len());
        assert_eq!(ok(""), Ok(0));
        assert_eq!(ok("\n\n\n"), Ok(0));
        assert_eq!(ok(" \t\n  \r\n#x\n# alice:bad\n"), Ok(0));
        assert_eq!(ok("a:1:2\r\nb:3:4\r\n"), Ok(2), "CRLF");
        assert_eq!(ok("a:1:2\nb:3:4"), Ok(2), "the last line without a newline");
        assert_eq!(
            ok("a:1:2\r"),
            Err(SubidSyntaxError {
                line: 1,
                why: "START and COUNT must be decimal numbers"
            }),
            "a CR without LF stays (str::lines)"
        );
        assert_eq!(ok("a:1:2\r\r\n").unwrap_err().line, 1, "only one CR is an ending");
        assert_eq!(ok("\r"), Ok(0), "a lone CR is blank");
        assert_eq!(ok(" #x\n").unwrap_err().line, 1, "a comment starts in the first column");
    }

    #[test]
    fn invalid_utf8_names_its_line() {
        let why = "not valid UTF-8";
        assert_eq!(bad_line(b"\xff\n"), (1, why));
        assert_eq!(bad_line(b"alice:1:1\n# caf\xc3\n"), (2, why), "in a comment");
        assert_eq!(
            bad_line(b"alice:1:1\n\nbob\xff:1:1\nalice:2:2\n"),
            (3, why),
            "in someone else's entry"
        );
        assert_eq!(
            bad_line(b"alice:1:1\n\xe2\x82"),
            (2, why),
            "the last line, cut inside a character"
        );
        // UTF-8 elsewhere is fine.
        assert_eq!(alices_lines("# café\nalice:1:1\n".as_bytes()).map(|e| e.len()), Ok(1));
    }

    #[test]
    fn read_errors_are_the_readers() {
        struct Failing;
        impl io::Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let reader = io::BufReader::new(io::Read::chain(&b"alice:1:1\n"[..], Failing));
        assert_eq!(read_lines(reader, parse_line).unwrap_err().to_string(), "disk on fire");
    }

    /// The parser before streaming (whole text, `str::lines`): for text
    /// within the line cap, `read_lines` must agree with it.
    fn whole_text_parse(text: &str) -> Result<Vec<SubidEntry>, SubidSyntaxError> {
        let mut entries = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line_number = index + 1;
            match parse_line(line) {
                Ok(entry) => entries.extend(entry),
                Err(why) => return Err(SubidSyntaxError { line: line_number, why }),
            }
        }
        Ok(entries)
    }

    #[test]
    fn property_streaming_agrees_with_the_whole_text_parser() {
        const PIECES: [&str; 12] = [
            "alice:1:2",
            "bob:3:4",
            "1000:5:6",
            "",
            " ",
            "#c",
            "x",
            "a:1:0",
            "\r",
            "\t",
            ":1:1",
            "é:1:1",
        ];
        for case in 0..cases() {
            let mut g = Gen::new(case);
            let mut text = String::new();
            for _ in 0..g.below(10) {
                text += PIECES[g.below(PIECES.len() as u64) as usize];
                text += ["\n", "\r\n", "\n"][g.below(3) as usize];
            }
            if g.one_in(2) {
                text.pop();
            }
            assert_eq!(parse(&text), whole_text_parse(&text), "case {case}: {text:?}");
        }
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
