//! /etc/burrow/usernet: who may create how many veths on which bridge. Pure
//! code, run by the helper (setuid root, as the caller's uid) on the
//! root-owned policy file, whose text is trusted only after the helper has
//! checked the file's owner and mode; parsing never panics.
//!
//! Format, as lxc's `lxc-usernet`: one rule a line, `USER|@GROUP veth BRIDGE
//! COUNT`, fields separated by whitespace. USER is a login name or a numeric
//! uid, GROUP a group name or a numeric gid. `#` starts a comment, on its own
//! line or after the fields; blank lines are skipped. Any other malformed line
//! makes the whole file bad, so that a typo never silently grants or
//! withholds a veth.

use crate::ids::parse_decimal_u32;
use crate::request::valid_ifname;

/// The largest COUNT one rule may grant.
pub const MAX_COUNT: u32 = 1000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsernetRule {
    /// A user name or uid, or `@` and a group name or gid.
    pub owner: String,
    pub bridge: String,
    pub count: u32,
}

/// One line of the file: its rule, or `None` for a blank or comment line.
pub fn parse_line(line: &str) -> crate::subid::Parsed<UsernetRule> {
    let fields: Vec<&str> = line.split('#').next().unwrap_or("").split_whitespace().collect();
    let [owner, kind, bridge, count] = fields[..] else {
        if fields.is_empty() {
            return Ok(None);
        }
        return Err("expected USER|@GROUP veth BRIDGE COUNT");
    };
    if owner == "@" {
        return Err("empty group name");
    }
    if kind != "veth" {
        return Err("the second field must be \"veth\"");
    }
    if !valid_ifname(bridge) {
        return Err("BRIDGE is not a valid interface name");
    }
    let Some(count) = parse_decimal_u32(count).filter(|&c| c <= MAX_COUNT) else {
        return Err("COUNT must be a decimal number from 0 to 1000");
    };
    Ok(Some(UsernetRule {
        owner: owner.to_owned(),
        bridge: bridge.to_owned(),
        count,
    }))
}

/// How many veths on `bridge` the rules grant the user `user` (a login name,
/// or the uid in decimal when it has none) with uid `uid` and the group
/// names `groups` (each group by name and by gid in decimal): the sum of the
/// COUNT of every matching rule, saturating.
pub fn allowance(rules: &[UsernetRule], user: &str, uid: u32, groups: &[String], bridge: &str) -> u32 {
    rules
        .iter()
        .filter(|r| r.bridge == bridge && owner_matches(&r.owner, user, uid, groups))
        .fold(0, |sum: u32, r| sum.saturating_add(r.count))
}

/// Whether a rule's `USER` or `@GROUP` names the caller: its login name or
/// uid, or one of its groups (by name or gid). Shared with /etc/burrow/cgroup.
pub fn owner_matches(owner: &str, user: &str, uid: u32, groups: &[String]) -> bool {
    match owner.strip_prefix('@') {
        Some(group) => groups.iter().any(|g| g == group),
        None => owner == user || owner == uid.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subid::{SubidSyntaxError, read_lines};

    fn parse(text: &str) -> Result<Vec<UsernetRule>, SubidSyntaxError> {
        read_lines(text.as_bytes(), parse_line).unwrap()
    }

    fn rule(owner: &str, bridge: &str, count: u32) -> UsernetRule {
        UsernetRule {
            owner: owner.into(),
            bridge: bridge.into(),
            count,
        }
    }

    #[test]
    fn parses_lxc_usernet_format() {
        let text =
            "# who may do what\n\nalice veth br0 2\n  @staff\tveth  lxcbr0 10 # comment\n1001 veth br0 0\n\t\n#\n";
        assert_eq!(
            parse(text),
            Ok(vec![
                rule("alice", "br0", 2),
                rule("@staff", "lxcbr0", 10),
                rule("1001", "br0", 0)
            ])
        );
        assert_eq!(parse(""), Ok(vec![]));
        assert_eq!(parse("alice veth br0 1000#max"), Ok(vec![rule("alice", "br0", 1000)]));
        assert_eq!(parse("a veth br0 1\r\n"), Ok(vec![rule("a", "br0", 1)]));
    }

    #[test]
    fn malformed_lines_name_their_number_and_why() {
        let shape = "expected USER|@GROUP veth BRIDGE COUNT";
        let count = "COUNT must be a decimal number from 0 to 1000";
        let ifname = "BRIDGE is not a valid interface name";
        for (text, line, why) in [
            ("alice veth br0\n", 1, shape),
            ("alice veth br0 1 2\n", 1, shape),
            ("alice\n", 1, shape),
            ("ok veth br0 1\n\n# c\nalice veth br0 1 # x\nalice br0 1\n", 5, shape),
            ("alice veth br0 # 1\n", 1, shape),
            ("@ veth br0 1\n", 1, "empty group name"),
            ("alice vlan br0 1\n", 1, "the second field must be \"veth\""),
            ("alice VETH br0 1\n", 1, "the second field must be \"veth\""),
            ("alice veth br0 1001\n", 1, count),
            ("alice veth br0 -1\n", 1, count),
            ("alice veth br0 +1\n", 1, count),
            ("alice veth br0 0x1\n", 1, count),
            ("alice veth br0 99999999999\n", 1, count),
            ("a veth br0 1\nalice veth br0 one\n", 2, count),
            ("alice veth br-0123456789abc 1\n", 1, ifname),
            ("alice veth a/b 1\n", 1, ifname),
            ("alice veth .. 1\n", 1, ifname),
            ("alice veth a:b 1\n", 1, ifname),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!((e.line, e.why), (line, why), "{text:?}");
        }
        assert_eq!(
            parse("x\n").unwrap_err().to_string(),
            "line 1: expected USER|@GROUP veth BRIDGE COUNT"
        );
    }

    #[test]
    fn allowance_by_user_uid_and_group() {
        let rules = parse(
            "alice veth br0 2\n1000 veth br0 1\n@staff veth br0 4\n@1000 veth br0 8\n\
             bob veth br0 16\nalice veth br1 32\n@staff veth br1 64\n",
        )
        .unwrap();
        let groups = |names: &[&str]| names.iter().map(|&g| g.to_owned()).collect::<Vec<_>>();
        // By name (2) plus by numeric uid (1).
        assert_eq!(allowance(&rules, "alice", 1000, &[], "br0"), 3);
        // A caller without a name matches by uid only.
        assert_eq!(allowance(&rules, "1000", 1000, &[], "br0"), 1);
        // Groups by name and by gid; other bridges are ignored.
        assert_eq!(allowance(&rules, "alice", 1000, &groups(&["staff", "1000"]), "br0"), 15);
        assert_eq!(allowance(&rules, "alice", 1000, &groups(&["staff"]), "br1"), 96);
        assert_eq!(allowance(&rules, "carol", 1002, &groups(&["users", "100"]), "br0"), 0);
        assert_eq!(allowance(&rules, "bob", 1001, &[], "br0"), 16);
        assert_eq!(allowance(&rules, "bob", 1001, &[], "br2"), 0);
        // A group rule does not match a user of that name, nor the reverse.
        assert_eq!(allowance(&rules, "staff", 5, &groups(&["alice", "bob"]), "br0"), 0);
        // Bridge names are matched exactly.
        assert_eq!(allowance(&rules, "alice", 1000, &[], "BR0"), 0);
        assert_eq!(allowance(&[], "alice", 1000, &[], "br0"), 0);
    }

    #[test]
    fn allowance_saturates() {
        let rules = vec![
            rule("alice", "br0", u32::MAX),
            rule("alice", "br0", 1),
            rule("@g", "br0", 5),
        ];
        assert_eq!(allowance(&rules, "alice", 1, &["g".into()], "br0"), u32::MAX);
        let many = "alice veth br0 1000\n".repeat(5000);
        assert_eq!(allowance(&parse(&many).unwrap(), "alice", 1, &[], "br0"), 5_000_000);
    }
}
