//! /etc/burrow/usernet (`usernet::parse_line`, through `subid::read_lines`)
//! and `allowance`. Only UTF-8 input: `read_lines` refuses a line that is
//! not before parsing it (the subid target fuzzes that part).
#![no_main]

use burrow_shared::request::valid_ifname;
use burrow_shared::usernet::{self, MAX_COUNT, UsernetRule};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rules) = parse(text) else {
        return;
    };
    for rule in &rules {
        assert!(rule.count <= MAX_COUNT && valid_ifname(&rule.bridge));
        assert!(!rule.owner.is_empty() && rule.owner != "@");
        assert!(!rule.owner.contains(|c: char| c == '#' || c.is_whitespace()));
    }
    // Every rule prints back as a line that parses to itself.
    let printed: String = rules
        .iter()
        .map(|r| format!("{} veth {} {}\n", r.owner, r.bridge, r.count))
        .collect();
    assert_eq!(parse(&printed).as_ref(), Ok(&rules));
    // Each rule's owner gets at least that rule's count on its bridge.
    for rule in rules.iter().take(8) {
        let (user, groups) = match rule.owner.strip_prefix('@') {
            Some(group) => ("", vec![group.to_owned()]),
            None => (rule.owner.as_str(), Vec::new()),
        };
        let uid = user.parse().unwrap_or(u32::MAX);
        assert!(usernet::allowance(&rules, user, uid, &groups, &rule.bridge) >= rule.count);
    }
});

/// The file as the helper reads it, line by line.
fn parse(text: &str) -> burrow_shared::subid::Lines<UsernetRule> {
    burrow_shared::subid::read_lines(text.as_bytes(), usernet::parse_line).expect("reading bytes in memory cannot fail")
}
