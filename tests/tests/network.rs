//! Networking: burrow-helper's veth operation called directly, and `burrow
//! run --net ...`, all as the unprivileged test user, each scenario inside a
//! network namespace of its own that it creates as root (`netns::TestNet`:
//! `lo`, the bridge brtest0 with 10.203.0.1/24 and fd03::1/64, and the
//! bridges the scenario names). Every address used is in that namespace;
//! pings are bounded (`-c 1 -W 2`). The helper reads the fixture's usernet
//! file (`netns::usernet_text`: a bridge name, and an allowance, per kind of
//! scenario).
//!
//! Targets of direct helper calls are processes the scenarios start (the
//! probe's `hold` under `unshare --net`, `netns::Holder`); the helper gets
//! an fd on their network namespace as fd 3. Each refusal is asserted by
//! its exit code and exact stderr line, and by the links of the test
//! namespace and of the target's namespace being what they were before (for
//! burrow's refusals, once the kernel has deleted the veth pairs of the
//! container's namespace: burrow does not wait for that). Each negative
//! scenario's comment names the check it guards.

use burrow_shared::exit;
use burrow_tests::ensure_ran;
use burrow_tests::fixture::Fixture;
use burrow_tests::harness::{self, Scenario, Suite};
use burrow_tests::netns::{
    BRIDGE, BRIDGE_MTU, BRIDGE_V4, BRIDGE_V6, Holder, NETNS_GONE_LIMIT, POLICY_DIR, STATE_DIR, TestNet, USERNET_FILE,
};
use burrow_tests::process::run_to_end as run;
use burrow_tests::process::{self, Output};
use burrow_tests::{Failed, ensure, ensure_eq};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const SCENARIOS: &[(&str, Scenario)] = burrow_tests::scenarios![
    veth_refuses_without_usernet_entry,
    veth_refuses_over_quota,
    veth_refuses_missing_bridge,
    veth_refuses_non_bridge,
    veth_refuses_foreign_netns,
    veth_refuses_host_netns,
    veth_refuses_non_netns_fd,
    veth_refuses_writable_usernet,
    veth_refuses_malformed_usernet,
    veth_refuses_unsafe_state_dir,
    veth_refuses_caller_netns_not_initial,
    veth_refuses_not_privileged,
    veth_usage_errors,
    veth_quota_is_race_free,
    veth_slot_freed_when_container_exits,
    veth_creates_pair_on_bridge,
    veth_allowance_by_group_and_uid,
    network_containers_talk_over_the_bridge,
    network_ipv6,
    network_interface_configuration,
    network_dns_writes_resolv_conf,
    network_veth_gone_after_exit,
    network_quota_exits_then_starts_in_pairs,
    network_quota_back_to_back_beside_one,
    network_quota_never_exceeded_by_parallel_starters,
    network_reports_helper_refusal,
    network_setup_failure_leaves_nothing,
    network_none_has_only_lo,
    network_host_sees_the_namespace,
    network_bad_options,
];

fn main() -> ExitCode {
    harness::main(Suite {
        packages: &["burrow", "burrow-helper"],
        network: true,
        scenarios: SCENARIOS,
    })
}

// ---------------------------------------------------------------------------
// Calling the helper and burrow

fn user_ids(f: &Fixture) -> Option<(u32, u32)> {
    Some((f.user.uid, f.user.gid))
}

/// `HELPER veth --netns-fd 3 --bridge BRIDGE` as the test user in `net`,
/// with `target` as fd 3.
fn veth_command(net: &TestNet, helper: &Path, target: Option<&File>, bridge: &str) -> Command {
    let mut cmd = net.as_user(helper);
    cmd.args(["veth", "--netns-fd", "3", "--bridge", bridge]);
    if let Some(target) = target {
        process::pass_fd(&mut cmd, target.as_raw_fd(), 3);
    }
    cmd
}

fn veth(f: &Fixture, net: &TestNet, target: Option<&File>, bridge: &str) -> Output {
    run(veth_command(net, &f.helper, target, bridge))
}

/// The helper's success: exit 0, nothing on stderr, and exactly
/// `ok veth host=bhHEX peer=bcHEX bridge=BRIDGE` (12 lowercase hex digits,
/// the same in both names). Returns (host, peer).
fn ensure_created(out: &Output, bridge: &str) -> Result<(String, String), Failed> {
    ensure!(
        out.code() == exit::OK && out.stderr.is_empty(),
        "the helper failed on {bridge}: {out}"
    );
    let line = out.stdout.strip_suffix('\n').unwrap_or_default();
    let fields: Vec<&str> = line.split(' ').collect();
    let hex = fields
        .get(2)
        .and_then(|f| f.strip_prefix("host=bh"))
        .unwrap_or_default();
    let expected = format!("ok veth host=bh{hex} peer=bc{hex} bridge={bridge}\n");
    ensure!(
        hex.len() == 12 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "the helper's names are not bh/bc and 12 lowercase hex digits: {:?}",
        out.stdout
    );
    ensure_eq!(out.stdout, expected, "the helper's success line");
    Ok((format!("bh{hex}"), format!("bc{hex}")))
}

/// Exit `code`, exactly `line` on stderr, nothing on stdout.
fn ensure_refused(out: &Output, code: i32, line: &str) -> Result<(), Failed> {
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (code, "", format!("{line}\n").as_str()),
        "exit code, stdout and stderr"
    );
    Ok(())
}

/// Runs `cmd` (a helper or burrow) and expects a refusal: exit `code`,
/// exactly `line`, and no link added to or removed from `net` or, if
/// given, `holder`'s namespace.
fn ensure_refusal(net: &TestNet, holder: Option<&Holder>, cmd: Command, code: i32, line: &str) -> Result<(), Failed> {
    let before = (net.link_names()?, holder.map(Holder::link_names).transpose()?);
    let what = format!("{cmd:?}");
    let out = run(cmd);
    ensure_refused(&out, code, line).map_err(|e| Failed::from(format!("{what}: {}", e.message().unwrap_or(""))))?;
    let after = (net.link_names()?, holder.map(Holder::link_names).transpose()?);
    ensure_eq!(
        after,
        before,
        "links in the test namespace and the target's after the refusal"
    );
    Ok(())
}

/// Waits (up to NETNS_GONE_LIMIT) until the test namespace's links are
/// `before` again: burrow does not wait for its containers' veth pairs to
/// go; the kernel deletes each
/// when the container's network namespace has ended, shortly after burrow
/// returns.
fn ensure_links_return(net: &TestNet, before: &BTreeSet<String>, what: &str) -> Result<(), Failed> {
    let deadline = Instant::now() + NETNS_GONE_LIMIT;
    loop {
        let links = net.link_names()?;
        if links == *before {
            return Ok(());
        }
        if Instant::now() > deadline {
            ensure_eq!(
                links,
                *before,
                "{what}, {}s after burrow returned",
                NETNS_GONE_LIMIT.as_secs()
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// burrow, as the test user, refused with exit `code` and exactly `line`;
/// then any veth it had made goes with the container's namespace.
fn ensure_burrow_refusal(net: &TestNet, cmd: Command, code: i32, line: &str) -> Result<(), Failed> {
    let before = net.link_names()?;
    let what = format!("{cmd:?}");
    let out = run(cmd);
    ensure_refused(&out, code, line).map_err(|e| Failed::from(format!("{what}: {}", e.message().unwrap_or(""))))?;
    ensure_links_return(net, &before, "links in the test namespace after the refusal")
}

/// The helper, as the test user, on `holder`'s namespace: a refusal.
fn ensure_veth_refusal(
    f: &Fixture,
    net: &TestNet,
    holder: &Holder,
    bridge: &str,
    code: i32,
    line: &str,
) -> Result<(), Failed> {
    let cmd = veth_command(net, &f.helper, Some(&holder.netns), bridge);
    ensure_refusal(net, Some(holder), cmd, code, line)
}

fn no_entry(f: &Fixture, bridge: &str) -> String {
    format!(
        "burrow-helper: veth: {} may not create veths on {bridge} (no entry in {USERNET_FILE})",
        f.user.name
    )
}

fn over_quota(f: &Fixture, count: u32, allowance: u32, bridge: &str) -> String {
    format!(
        "burrow-helper: veth: {} has {count} of {allowance} veths allowed on {bridge} by {USERNET_FILE}",
        f.user.name
    )
}

fn lo_only() -> BTreeSet<String> {
    ["lo".to_owned()].into()
}

/// A shell fragment: prints `reached ADDR` if one ping reaches ADDR.
fn ping(address: &str) -> String {
    format!("ping -c 1 -W 2 {address} >/dev/null && echo reached {address}")
}

/// The interface names in /proc/net/dev output.
fn proc_net_dev_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|name| name.trim().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------
// The helper's refusals

/// Guards the deny-first allowance check (veth.rs `check`, allowance 0): a
/// bridge the test user has no rule for is refused even though it exists
/// and another user has a rule for it; a bridge that does not exist gets
/// the same answer, not "does not exist", since policy comes before the
/// bridge is looked up.
fn veth_refuses_without_usernet_entry(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &["brnone"])?;
    let holder = net.holder(user_ids(f))?;
    for bridge in ["brnone", "brabsent"] {
        ensure_veth_refusal(f, &net, &holder, bridge, exit::REFUSED, &no_entry(f, bridge))?;
    }
    ensure_eq!(holder.link_names()?, lo_only(), "links in the target's namespace");
    Ok(())
}

/// Guards the quota check (veth.rs `check` with `count_veths`): with an
/// allowance of 1 on brquota, the second veth is refused while the first
/// lives.
fn veth_refuses_over_quota(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &["brquota"])?;
    let holder = net.holder(user_ids(f))?;
    let (host, peer) = ensure_created(&veth(f, &net, Some(&holder.netns), "brquota"), "brquota")?;
    ensure_veth_refusal(
        f,
        &net,
        &holder,
        "brquota",
        exit::REFUSED,
        &over_quota(f, 1, 1, "brquota"),
    )?;
    // A fresh target does not reset the count: it is the caller's, per bridge.
    let other = net.holder(user_ids(f))?;
    ensure_veth_refusal(
        f,
        &net,
        &other,
        "brquota",
        exit::REFUSED,
        &over_quota(f, 1, 1, "brquota"),
    )?;
    ensure!(
        net.link_names()?.contains(&host),
        "the first veth's host end {host} is gone"
    );
    ensure_eq!(
        holder.link_names()?,
        ["lo".to_owned(), peer].into(),
        "links in the first target's namespace"
    );
    Ok(())
}

/// Guards `find_bridge`'s lookup: a bridge the user has a rule for but that
/// does not exist is refused, and so is one that exists only as another
/// bridge's alternative name (the kernel would find that bridge by it).
fn veth_refuses_missing_bridge(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &["brquota"])?;
    net.ip(&["link", "property", "add", "dev", "brquota", "altname", "braltname"])?;
    let holder = net.holder(user_ids(f))?;
    for bridge in ["brmissing", "braltname"] {
        let line = format!("burrow-helper: veth: bridge {bridge} does not exist");
        ensure_veth_refusal(f, &net, &holder, bridge, exit::REFUSED, &line)?;
    }
    Ok(())
}

/// Guards `find_bridge`'s kind check (IFLA_LINKINFO kind "bridge"): a link
/// the user has a rule for that is a veth, not a bridge, is refused.
fn veth_refuses_non_bridge(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &[])?;
    net.ip(&[
        "link",
        "add",
        "notbridge0",
        "up",
        "type",
        "veth",
        "peer",
        "name",
        "notbridge1",
    ])?;
    let holder = net.holder(user_ids(f))?;
    let line = "burrow-helper: veth: notbridge0 is not a bridge";
    ensure_veth_refusal(f, &net, &holder, "notbridge0", exit::REFUSED, line)
}

/// Guards `verify_target`'s ownership check (NS_GET_USERNS, then
/// NS_GET_OWNER_UID; CVE-2017-5985): a network namespace root made (owned
/// by the initial user namespace), and one in a user namespace of another
/// uid (nobody's), are refused though the caller holds an fd on them.
fn veth_refuses_foreign_netns(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &[])?;
    let uid = f.user.uid;
    for (ids, owner) in [(None, 0), (Some((65534, 65534)), 65534)] {
        let holder = net.holder(ids)?;
        let line = format!(
            "burrow-helper: veth: target network namespace belongs to a user namespace owned by uid {owner}, \
             not by the caller (uid {uid})"
        );
        ensure_veth_refusal(f, &net, &holder, BRIDGE, exit::REFUSED, &line)?;
        ensure_eq!(holder.link_names()?, lo_only(), "links in the foreign namespace");
    }
    Ok(())
}

/// Guards `verify_target`'s own-namespace check (dev/ino against
/// /proc/self/ns/net): the namespace the helper runs in, where the host
/// ends go, is refused as a target (here the test namespace, by the fd root
/// opened and by the one the caller opened itself).
fn veth_refuses_host_netns(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &[])?;
    let line = "burrow-helper: veth: target network namespace is the host's";
    let cmd = veth_command(&net, &f.helper, Some(net.file()), BRIDGE);
    ensure_refusal(&net, None, cmd, exit::REFUSED, line)?;
    // The caller's own /proc/self/ns/net, opened by a shell as the test user.
    let mut cmd = net.as_user("sh");
    cmd.arg("-c")
        .arg(r#"exec "$0" veth --netns-fd 3 --bridge brtest0 3</proc/self/ns/net"#)
        .arg(&f.helper);
    ensure_refusal(&net, None, cmd, exit::REFUSED, line)
}

/// Guards `verify_target`'s fd checks (fd open, recorded in main.rs; nsfs
/// magic and NS_GET_NSTYPE in `target::is_namespace`): a regular file, a
/// directory, a /proc/PID directory, another kind of namespace (the
/// target's user namespace), and no fd at all.
fn veth_refuses_non_netns_fd(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &[])?;
    let holder = net.holder(user_ids(f))?;
    let line = "burrow-helper: veth: target fd 3 is not a network namespace";
    let open_dir = |path: &Path| OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY).open(path);
    let fds = [
        ("a regular file", File::open(&f.probe)),
        ("a directory", open_dir(&f.dir)),
        (
            "a /proc/PID directory",
            open_dir(Path::new(&format!("/proc/{}", holder.pid))),
        ),
        ("a user namespace", File::open(format!("/proc/{}/ns/user", holder.pid))),
    ];
    for (what, fd) in fds {
        let fd = fd.map_err(|e| format!("opening {what}: {e}"))?;
        let cmd = veth_command(&net, &f.helper, Some(&fd), BRIDGE);
        ensure_refusal(&net, Some(&holder), cmd, exit::REFUSED, line)?;
    }
    let cmd = veth_command(&net, &f.helper, None, BRIDGE);
    let line = "burrow-helper: veth: target fd 3 is not open";
    ensure_refusal(&net, Some(&holder), cmd, exit::REFUSED, line)
}

/// Guards the trusted read of the usernet file (policy_file.rs `read`,
/// `open_dir`, `check_owner_and_mode`; exit 78): the file writable by its
/// group or by others, owned by the test user, a symlink (to a good copy),
/// missing, and its directory writable by its group. After each, the policy
/// is restored, and finally a request succeeds (so the refusals were the
/// modes', not the setup's).
fn veth_refuses_writable_usernet(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::exclusive(f, &[])?;
    let holder = net.holder(user_ids(f))?;
    let chmod = |path: &str, mode: u32| fs::set_permissions(path, fs::Permissions::from_mode(mode));
    let (u, g) = (f.user.uid, f.user.gid);
    let real = format!("{POLICY_DIR}/usernet.real");
    type Change<'a> = Box<dyn Fn() -> std::io::Result<()> + 'a>;
    let cases: Vec<(&str, Change, String)> = vec![
        (
            "group-writable",
            Box::new(|| chmod(USERNET_FILE, 0o664)),
            format!("burrow-helper: {USERNET_FILE}: writable by group or others"),
        ),
        (
            "writable by others",
            Box::new(|| chmod(USERNET_FILE, 0o646)),
            format!("burrow-helper: {USERNET_FILE}: writable by group or others"),
        ),
        (
            "owned by the test user",
            Box::new(|| std::os::unix::fs::chown(USERNET_FILE, Some(u), Some(g))),
            format!("burrow-helper: {USERNET_FILE}: not owned by root"),
        ),
        (
            "a symlink",
            Box::new(|| {
                fs::rename(USERNET_FILE, &real)?;
                std::os::unix::fs::symlink(&real, USERNET_FILE)
            }),
            format!(
                "burrow-helper: {USERNET_FILE}: cannot open: Too many levels of symbolic links (os error {})",
                libc::ELOOP
            ),
        ),
        (
            "missing",
            Box::new(|| fs::remove_file(USERNET_FILE)),
            format!(
                "burrow-helper: {USERNET_FILE}: cannot open: No such file or directory (os error {})",
                libc::ENOENT
            ),
        ),
        (
            "in a group-writable directory",
            Box::new(|| chmod(POLICY_DIR, 0o775)),
            format!("burrow-helper: {POLICY_DIR}: writable by group or others"),
        ),
    ];
    for (what, change, line) in cases {
        change().map_err(|e| format!("making the usernet file {what}: {e}"))?;
        let result = ensure_veth_refusal(f, &net, &holder, BRIDGE, exit::POLICY_FILE, &line);
        let _ = fs::remove_file(&real);
        net.restore_policy()?;
        result.map_err(|e| format!("usernet file {what}: {}", e.message().unwrap_or("")))?;
    }
    ensure_created(&veth(f, &net, Some(&holder.netns), BRIDGE), BRIDGE)?;
    Ok(())
}

/// Guards the usernet parser (shared/src/usernet.rs `parse`, exit 78): any
/// malformed line makes the whole file bad, naming the line, even after a
/// valid rule for the very bridge asked for.
fn veth_refuses_malformed_usernet(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::exclusive(f, &[])?;
    let holder = net.holder(user_ids(f))?;
    let name = &f.user.name;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            format!("{name} veth brtest0 1\nthree fields only\n").into_bytes(),
            "line 2: expected USER|@GROUP veth BRIDGE COUNT",
        ),
        (
            format!("{name} veth brtest0 1001\n").into_bytes(),
            "line 1: COUNT must be a decimal number from 0 to 1000",
        ),
        (
            format!("{name} veth brtest0 -1\n").into_bytes(),
            "line 1: COUNT must be a decimal number from 0 to 1000",
        ),
        (
            format!("# comment\n\n{name} vlan brtest0 1\n").into_bytes(),
            "line 3: the second field must be \"veth\"",
        ),
        (
            format!("{name} veth br/test 1\n").into_bytes(),
            "line 1: BRIDGE is not a valid interface name",
        ),
        (b"@ veth brtest0 1\n".to_vec(), "line 1: empty group name"),
        (
            [format!("{name} veth brtest0 1\n").as_bytes(), b"\xff veth brtest0 1\n"].concat(),
            "line 2: not valid UTF-8",
        ),
    ];
    for (text, why) in cases {
        fs::write(USERNET_FILE, &text).map_err(|e| format!("writing {USERNET_FILE}: {e}"))?;
        let line = format!("burrow-helper: {USERNET_FILE}: {why}");
        let result = ensure_veth_refusal(f, &net, &holder, BRIDGE, exit::POLICY_FILE, &line);
        net.restore_policy()?;
        result?;
    }
    ensure_created(&veth(f, &net, Some(&holder.netns), BRIDGE), BRIDGE)?;
    Ok(())
}

/// Guards the state directory and lock file checks (policy_file.rs
/// `open_lock`, `check_owner_and_mode` with no access for group or others;
/// exit 78): the directory readable or writable by its group or owned by
/// the test user, the caller's lock file readable by its group or a symlink
/// (to a root-only file). A first request creates both; after each change
/// the policy is restored (the helper makes them afresh), and finally a
/// request succeeds.
fn veth_refuses_unsafe_state_dir(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::exclusive(f, &[])?;
    let holder = net.holder(user_ids(f))?;
    let chmod = |path: &str, mode: u32| fs::set_permissions(path, fs::Permissions::from_mode(mode));
    let (u, g) = (f.user.uid, f.user.gid);
    let lock = format!("{STATE_DIR}/usernet-{u}.lock");
    let elsewhere = format!("{POLICY_DIR}/elsewhere.lock");
    type Change<'a> = Box<dyn Fn() -> std::io::Result<()> + 'a>;
    let cases: Vec<(&str, Change, String)> = vec![
        (
            "state directory readable by its group",
            Box::new(|| chmod(STATE_DIR, 0o750)),
            format!("burrow-helper: {STATE_DIR}: accessible by group or others"),
        ),
        (
            "state directory writable by its group",
            Box::new(|| chmod(STATE_DIR, 0o770)),
            format!("burrow-helper: {STATE_DIR}: writable by group or others"),
        ),
        (
            "state directory owned by the test user",
            Box::new(|| std::os::unix::fs::chown(STATE_DIR, Some(u), Some(g))),
            format!("burrow-helper: {STATE_DIR}: not owned by root"),
        ),
        (
            "lock file readable by its group",
            Box::new(|| chmod(&lock, 0o640)),
            format!("burrow-helper: {lock}: accessible by group or others"),
        ),
        (
            "lock file a symlink",
            Box::new(|| {
                fs::write(&elsewhere, "")?;
                chmod(&elsewhere, 0o600)?;
                fs::remove_file(&lock)?;
                std::os::unix::fs::symlink(&elsewhere, &lock)
            }),
            format!(
                "burrow-helper: {lock}: cannot open: Too many levels of symbolic links (os error {})",
                libc::ELOOP
            ),
        ),
    ];
    for (what, change, line) in cases {
        // Any request, even a refused one, makes the directory and lock file.
        ensure_refused(
            &veth(f, &net, Some(&holder.netns), "brabsent"),
            exit::REFUSED,
            &no_entry(f, "brabsent"),
        )?;
        change().map_err(|e| format!("making the {what}: {e}"))?;
        let result = ensure_veth_refusal(f, &net, &holder, BRIDGE, exit::POLICY_FILE, &line);
        let _ = fs::remove_file(&elsewhere);
        net.restore_policy()?;
        result.map_err(|e| format!("{what}: {}", e.message().unwrap_or("")))?;
    }
    ensure_created(&veth(f, &net, Some(&holder.netns), BRIDGE), BRIDGE)?;
    Ok(())
}

/// Guards `verify_target`'s check of the helper's own network namespace
/// (NS_GET_USERNS of /proc/self/ns/net against /proc/self/ns/user): the
/// test user's helper started (by root) in a network namespace of the test
/// user's own user namespace, where it would put the host end, is refused
/// though its target is the test user's too.
fn veth_refuses_caller_netns_not_initial(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &[])?;
    let (caller_ns, target) = (net.holder(user_ids(f))?, net.holder(user_ids(f))?);
    let mut cmd = net.command_in(&caller_ns.netns, &f.helper, user_ids(f));
    cmd.args(["veth", "--netns-fd", "3", "--bridge", BRIDGE]);
    process::pass_fd(&mut cmd, target.netns.as_raw_fd(), 3);
    let line = "burrow-helper: veth: the caller's network namespace is not owned by the initial user namespace";
    let before = caller_ns.link_names()?;
    ensure_refusal(&net, Some(&target), cmd, exit::REFUSED, line)?;
    ensure_eq!(caller_ns.link_names()?, before, "links in the caller's namespace");
    Ok(())
}

/// Guards `privilege::verify` for veth: the helper without its setuid bit
/// refuses (exit 71) before touching anything.
fn veth_refuses_not_privileged(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &[])?;
    let holder = net.holder(user_ids(f))?;
    let line = "burrow-helper: not privileged: must be installed setuid root and run in the initial user namespace";
    let cmd = veth_command(&net, &f.helper_unprivileged, Some(&holder.netns), BRIDGE);
    ensure_refusal(&net, Some(&holder), cmd, exit::OS_ERROR, line)
}

/// Guards `request::parse_veth` (exit 64): missing or repeated options, a
/// bad fd number, bridge names that are no interface names, an option of
/// the other operation; each with a valid target as fd 3.
fn veth_usage_errors(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &[])?;
    let holder = net.holder(user_ids(f))?;
    let cases: &[(&[&str], &str)] = &[
        (&["veth"], "veth: --netns-fd is required"),
        (&["veth", "--netns-fd", "3"], "veth: --bridge is required"),
        (&["veth", "--bridge", BRIDGE], "veth: --netns-fd is required"),
        (
            &["veth", "--netns-fd", "2", "--bridge", BRIDGE],
            "veth: --netns-fd \"2\" is not a descriptor from 3 to 1023",
        ),
        (
            &["veth", "--netns-fd", "3", "--bridge", BRIDGE, "--bridge", BRIDGE],
            "veth: --bridge given twice",
        ),
        (
            &["veth", "--netns-fd", "3", "--bridge", "br/test"],
            "veth: bad bridge name \"br/test\"",
        ),
        (
            &["veth", "--netns-fd", "3", "--bridge", "br-0123456789abc"],
            "veth: bad bridge name \"br-0123456789abc\"",
        ),
        (
            &["veth", "--netns-fd", "3", "--bridge", BRIDGE, "--proc-fd", "3"],
            "veth: unknown option \"--proc-fd\"",
        ),
    ];
    for (args, line) in cases {
        let mut cmd = net.as_user(&f.helper);
        cmd.args(*args);
        process::pass_fd(&mut cmd, holder.netns.as_raw_fd(), 3);
        ensure_refusal(&net, Some(&holder), cmd, exit::USAGE, &format!("burrow-helper: {line}"))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The helper's successes

/// Guards the per-uid lock around count, create and alias (veth.rs `run`,
/// `policy_file::open_lock`): five helpers started at once against an
/// allowance of 2 create exactly 2 veths; the other 3 are refused, each
/// seeing both.
fn veth_quota_is_race_free(f: &Fixture) -> Result<(), Failed> {
    const RACERS: usize = 5;
    const ALLOWANCE: usize = 2;
    let net = TestNet::new(f, &["brrace"])?;
    let holder = net.holder(user_ids(f))?;
    let before = net.link_names()?;
    let mut racing = Vec::new();
    for _ in 0..RACERS {
        let mut cmd = veth_command(&net, &f.helper, Some(&holder.netns), "brrace");
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        racing.push(process::spawn(&mut cmd).map_err(|e| format!("starting a helper: {e}"))?);
    }
    let mut outs = Vec::new();
    for helper in racing {
        outs.push(helper.output(None).map_err(|e| format!("waiting for a helper: {e}"))?);
    }
    let (won, lost): (Vec<&Output>, Vec<&Output>) = outs.iter().partition(|out| out.code() == exit::OK);
    ensure!(
        won.len() == ALLOWANCE,
        "{} of {RACERS} racing helpers succeeded against an allowance of {ALLOWANCE}: {outs:?}",
        won.len()
    );
    let mut hosts = BTreeSet::new();
    let mut peers = lo_only();
    for out in won {
        let (host, peer) = ensure_created(out, "brrace")?;
        hosts.insert(host);
        peers.insert(peer);
    }
    for out in lost {
        ensure_refused(out, exit::REFUSED, &over_quota(f, 2, 2, "brrace"))?;
    }
    let on_bridge: BTreeSet<String> = net
        .links()?
        .into_iter()
        .filter(|l| l.master.as_deref() == Some("brrace"))
        .map(|l| l.name)
        .collect();
    ensure_eq!(on_bridge, hosts, "the links on brrace");
    let new: BTreeSet<String> = net.link_names()?.difference(&before).cloned().collect();
    ensure_eq!(new, hosts, "the links added to the test namespace");
    ensure_eq!(holder.link_names()?, peers, "the links in the target's namespace");
    Ok(())
}

/// Guards the live count (veth.rs `count_veths`: links on the bridge with
/// the caller's alias, read from the kernel): with an allowance of 1, a
/// second target is refused while the first holds its veth; once the first
/// target's namespace ends, its veth goes with it and the second succeeds.
fn veth_slot_freed_when_container_exits(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &["brslot"])?;
    let first = net.holder(user_ids(f))?;
    let second = net.holder(user_ids(f))?;
    let (host, _) = ensure_created(&veth(f, &net, Some(&first.netns), "brslot"), "brslot")?;
    ensure_veth_refusal(
        f,
        &net,
        &second,
        "brslot",
        exit::REFUSED,
        &over_quota(f, 1, 1, "brslot"),
    )?;
    first.end()?;
    net.wait_until_gone(&host)?;
    let (_, peer) = ensure_created(&veth(f, &net, Some(&second.netns), "brslot"), "brslot")?;
    ensure_eq!(
        second.link_names()?,
        ["lo".to_owned(), peer].into(),
        "links in the second target's namespace"
    );
    Ok(())
}

/// The pair as SECURITY.md describes it: the host end in the helper's
/// namespace, a veth, on the bridge, up, with the alias `burrow uid=U` and
/// the bridge's MTU; the peer in the target's namespace, a veth with the
/// same MTU, down, on no bridge; nothing else added anywhere.
fn veth_creates_pair_on_bridge(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &[])?;
    let holder = net.holder(user_ids(f))?;
    let before = net.link_names()?;
    let (host, peer) = ensure_created(&veth(f, &net, Some(&holder.netns), BRIDGE), BRIDGE)?;
    let links = net.links()?;
    let new: BTreeSet<&str> = links
        .iter()
        .map(|l| l.name.as_str())
        .filter(|name| !before.contains(*name))
        .collect();
    ensure_eq!(new, [host.as_str()].into(), "links added to the test namespace");
    let link = links.iter().find(|l| l.name == host).ok_or("no host end")?;
    let alias = format!("burrow uid={}", f.user.uid);
    ensure_eq!(
        (
            link.kind(),
            link.master.as_deref(),
            link.is_up(),
            link.alias.as_deref(),
            link.mtu
        ),
        (Some("veth"), Some(BRIDGE), true, Some(alias.as_str()), BRIDGE_MTU),
        "the host end's kind, master, up, alias and MTU ({link:?})"
    );
    let inside = holder.links()?;
    let names: BTreeSet<&str> = inside.iter().map(|l| l.name.as_str()).collect();
    ensure_eq!(names, ["lo", peer.as_str()].into(), "links in the target's namespace");
    let link = inside.iter().find(|l| l.name == peer).ok_or("no peer")?;
    ensure_eq!(
        (link.kind(), link.master.as_deref(), link.is_up(), link.mtu),
        (Some("veth"), None, false, BRIDGE_MTU),
        "the peer's kind, master, up and MTU ({link:?})"
    );
    Ok(())
}

/// Allowances by group (`@GROUP`: the caller's real gid, by name) and by
/// numeric uid count as the user's own (usernet.rs `allowance`, the groups
/// recorded in veth.rs `run`): one veth each, and not a second.
fn veth_allowance_by_group_and_uid(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &["brgroup", "bruid"])?;
    let holder = net.holder(user_ids(f))?;
    for bridge in ["brgroup", "bruid"] {
        ensure_created(&veth(f, &net, Some(&holder.netns), bridge), bridge)?;
        ensure_veth_refusal(f, &net, &holder, bridge, exit::REFUSED, &over_quota(f, 1, 1, bridge))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// burrow run --net

/// `--net bridge:brtest0 --ip ADDR/24` and the rest.
fn on_bridge<'a>(address: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    // busybox ping run as root insists on a raw socket, and CAP_NET_RAW is
    // not in the default capability set (the ICMP datagram sockets that
    // ping_group_range allows are tested in hardening.rs).
    let mut args = vec!["--cap-add", "NET_RAW", "--net", "bridge:brtest0", "--ip", address];
    args.extend_from_slice(rest);
    args
}

/// Two containers on brtest0 reach the bridge's address and each other,
/// and a TCP connection (busybox nc) carries data both ways. A listens and
/// says "ready" once its socket is listening; B pings, connects, and waits
/// on its stdin while A pings it back.
fn network_containers_talk_over_the_bridge(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &[])?;
    let before = net.link_names()?;
    let (a, b) = ("10.203.0.2", "10.203.0.3");
    let listener = format!(
        "echo from-a | timeout 10 nc -l -p 5000 & \
         while ! netstat -ltn | grep -q ':5000 '; do usleep 10000; done; \
         echo ready; wait; {}",
        ping(b)
    );
    let mut cmd = net.burrow(&on_bridge("10.203.0.2/24", &["--", "sh", "-c", &listener]));
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut first = process::spawn(&mut cmd).map_err(|e| format!("starting A: {e}"))?;
    let line = first.read_line().map_err(|e| format!("reading A's stdout: {e}"))?;
    if line != "ready\n" {
        let out = first.output(None).map_err(|e| format!("waiting for A: {e}"))?;
        return Err(format!("A did not get ready: {line:?}, then {out}").into());
    }
    let client = format!(
        "{} && {} && echo from-b | timeout 10 nc {a} 5000; read -t 10 line || true",
        ping(BRIDGE_V4),
        ping(a)
    );
    let mut cmd = net.burrow(&on_bridge("10.203.0.3/24", &["--", "sh", "-c", &client]));
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let second = process::spawn(&mut cmd).map_err(|e| format!("starting B: {e}"))?;
    let out_a = first.output(None).map_err(|e| format!("waiting for A: {e}"))?;
    let out_b = second.output(Some(b"")).map_err(|e| format!("waiting for B: {e}"))?;
    ensure_ran(&out_b, &format!("reached {BRIDGE_V4}\nreached {a}\nfrom-a\n"), "B")?;
    ensure_ran(&out_a, &format!("from-b\nreached {b}\n"), "A")?;
    ensure_links_return(&net, &before, "links in the test namespace after both exited")
}

/// An IPv6 address on the interface reaches the bridge's IPv6 address.
fn network_ipv6(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &[])?;
    let script = ping(BRIDGE_V6);
    let out = run(net.burrow(&on_bridge("fd03::2/64", &["--", "sh", "-c", &script])));
    ensure_ran(&out, &format!("reached {BRIDGE_V6}\n"), "ping the bridge over IPv6")
}

/// Inside, as configured: eth0 with the requested addresses, MAC and MTU,
/// up; a second interface named by --net-name, at the bridge's MTU by
/// default; lo up; default routes via the --gateway addresses.
fn network_interface_configuration(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &[])?;
    let mac = "02:42:0a:cb:00:05";
    let script = "cd /sys/class/net && for i in *; do echo link $i $(cat $i/address $i/mtu $i/flags); done; \
                  ip -o addr; ip -4 route; ip -6 route";
    let args = on_bridge(
        "10.203.0.5/24",
        &[
            "--ip",
            "fd03::5/64",
            "--gateway",
            BRIDGE_V4,
            "--gateway",
            BRIDGE_V6,
            "--mac",
            mac,
            "--mtu",
            "1400",
            "--net",
            "bridge:brtest0",
            "--net-name",
            "uplink",
            "--ip",
            "10.203.0.6/24",
            "--",
            "sh",
            "-c",
            script,
        ],
    );
    let out = run(net.burrow(&args));
    ensure!(out.code() == 0 && out.stderr.is_empty(), "the container failed: {out}");
    let lines: Vec<Vec<&str>> = out.stdout.lines().map(|l| l.split_whitespace().collect()).collect();

    // "link NAME MAC MTU FLAGS"
    let mut links = BTreeMap::new();
    for fields in lines.iter().filter(|l| l.first() == Some(&"link")) {
        let [_, name, address, mtu, flags] = fields[..] else {
            return Err(format!("unexpected line {fields:?}").into());
        };
        let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16).map_err(|e| format!("{flags}: {e}"))?;
        links.insert(name, (address, mtu, flags & libc::IFF_UP as u32 != 0));
    }
    let uplink_mtu = BRIDGE_MTU.to_string();
    let expected: BTreeMap<&str, (&str, &str, bool)> = [
        ("lo", ("00:00:00:00:00:00", "65536", true)),
        ("eth0", (mac, "1400", true)),
    ]
    .into();
    let uplink = links.remove("uplink").ok_or("no interface uplink")?;
    ensure_eq!(links, expected, "lo and eth0 (address, MTU, up)");
    ensure_eq!((uplink.1, uplink.2), (uplink_mtu.as_str(), true), "uplink (MTU, up)");

    // "2: eth0    inet 10.203.0.5/24 scope global eth0\ ..."; link-local addresses aside.
    let addresses: BTreeSet<(&str, &str, &str)> = lines
        .iter()
        .filter(|l| matches!(l.get(2), Some(&"inet") | Some(&"inet6")))
        .map(|l| (l[1], l[2], l[3]))
        .filter(|(_, _, address)| !address.starts_with("fe80:"))
        .collect();
    let expected: BTreeSet<(&str, &str, &str)> = [
        ("lo", "inet", "127.0.0.1/8"),
        ("lo", "inet6", "::1/128"),
        ("eth0", "inet", "10.203.0.5/24"),
        ("eth0", "inet6", "fd03::5/64"),
        ("uplink", "inet", "10.203.0.6/24"),
    ]
    .into();
    ensure_eq!(addresses, expected, "addresses");

    let defaults: BTreeSet<Vec<&str>> = lines
        .iter()
        .filter(|l| l.first() == Some(&"default"))
        .map(|l| l[..l.len().min(5)].to_vec())
        .collect();
    let expected: BTreeSet<Vec<&str>> = [
        vec!["default", "via", BRIDGE_V4, "dev", "eth0"],
        vec!["default", "via", BRIDGE_V6, "dev", "eth0"],
    ]
    .into();
    ensure_eq!(defaults, expected, "default routes");
    Ok(())
}

/// --dns: the container's /etc/resolv.conf names the servers, over the
/// rootfs's own file, which stays as it was (empty).
fn network_dns_writes_resolv_conf(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &[])?;
    let host_file = f.rootfs.join("etc/resolv.conf");
    let out = run(net.burrow(&["--dns", BRIDGE_V4, "--dns", BRIDGE_V6, "--", "cat", "/etc/resolv.conf"]));
    ensure_ran(
        &out,
        &format!("nameserver {BRIDGE_V4}\nnameserver {BRIDGE_V6}\n"),
        "/etc/resolv.conf with --dns",
    )?;
    ensure_ran(
        &run(net.burrow(&["--", "cat", "/etc/resolv.conf"])),
        "",
        "/etc/resolv.conf without --dns",
    )?;
    ensure_eq!(
        fs::read_to_string(&host_file).map_err(|e| format!("{}: {e}", host_file.display()))?,
        "",
        "the rootfs's resolv.conf on the host"
    );
    Ok(())
}

/// Guards the end of a container's veth pair (the kernel deletes it with
/// the container's network namespace; burrow does not wait for that) and
/// the live count (helper veth.rs `count_veths`): with an allowance of 2 on
/// brseq, three containers in a row all get their eth0, and each one's
/// host end goes soon after burrow returns.
fn network_veth_gone_after_exit(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &["brseq"])?;
    let before = net.link_names()?;
    for i in 1..=3 {
        let out = run(net.burrow(&["--net", "bridge:brseq", "--", "ls", "/sys/class/net"]));
        ensure_ran(&out, "eth0\nlo\n", &format!("container {i} of 3"))?;
        let what = format!("links in the test namespace after container {i} exited");
        ensure_links_return(&net, &before, &what)?;
    }
    Ok(())
}

/// Rounds of the quota sequences below (the review's sequences refused 19
/// of 40 starts, and 13 of 30).
const QUOTA_ROUNDS: usize = 100;

/// `count` containers `burrow run --net bridge:BRIDGE -- ARGS` started at
/// once; their outputs.
fn start_together(net: &TestNet, bridge: &str, count: usize, args: &[&str]) -> Result<Vec<Output>, Failed> {
    let network = format!("bridge:{bridge}");
    let mut running = Vec::new();
    for _ in 0..count {
        let mut cmd = net.burrow(&[&["--net", network.as_str(), "--"][..], args].concat());
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        running.push(process::spawn(&mut cmd).map_err(|e| format!("starting burrow: {e}"))?);
    }
    running
        .into_iter()
        .map(|c| {
            c.output(None)
                .map_err(|e| Failed::from(format!("waiting for burrow: {e}")))
        })
        .collect()
}

/// Guards the live count's treatment of exited containers (helper veth.rs
/// `run`: at the quota the count is read again a while, and
/// `peer_netns_alive`: a pair whose namespace has no reference left is not
/// counted, though the kernel deletes it only later): with an allowance of
/// 2, two containers exit together and two start at once, round after
/// round, and no start is ever refused (without the wait, round 13 was).
fn network_quota_exits_then_starts_in_pairs(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &["brpairs"])?;
    for round in 1..=QUOTA_ROUNDS {
        for out in start_together(&net, "brpairs", 2, &["true"])? {
            ensure_ran(&out, "", &format!("round {round} of {QUOTA_ROUNDS}, two at once"))?;
        }
    }
    Ok(())
}

/// The same check: with an allowance of 2, one container keeps running
/// while others run one after the other beside it, and none is refused.
fn network_quota_back_to_back_beside_one(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &["brloop"])?;
    let mut long = net.burrow(&["--net", "bridge:brloop", "--", "sh", "-c", "echo up; read line"]);
    long.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut long = process::spawn(&mut long).map_err(|e| format!("starting burrow: {e}"))?;
    let up = long
        .read_line()
        .map_err(|e| format!("reading from the long container: {e}"))?;
    ensure_eq!(up, "up\n", "the long container's first line");
    for i in 1..=QUOTA_ROUNDS {
        let out = run(net.burrow(&["--net", "bridge:brloop", "--", "true"]));
        ensure_ran(&out, "", &format!("container {i} of {QUOTA_ROUNDS} beside a long one"))?;
    }
    let out = long
        .output(Some(b"\n"))
        .map_err(|e| format!("ending the long container: {e}"))?;
    ensure_ran(&out, "", "the long container")
}

/// The number of network namespaces, other than `net`'s, with a link
/// besides lo, among the processes of `uid` whose parent is in `net` (the
/// containers of burrows started there, not the other scenarios'): the
/// pairs of containers alive at one moment (a pair is the only link a
/// container's namespace gets).
/// The scan of /proc takes a while, so a namespace counts only if its
/// process is still in it when the scan is over: then each was alive before
/// that moment and after it, so at it.
fn live_pairs(uid: u32, net: &TestNet) -> usize {
    let own = net.netns_link();
    let ns_of = |pid: u32| fs::read_link(format!("/proc/{pid}/ns/net")).ok();
    let mut seen = BTreeMap::new();
    for pid in process::all_pids() {
        if process::proc_real_uid(pid).ok() != Some(uid) {
            continue;
        }
        let Some(ns) = ns_of(pid) else { continue };
        if Some(&ns) == own.as_ref() || seen.contains_key(&ns) {
            continue;
        }
        let parent = process::proc_stat(pid).ok().map(|stat| stat.ppid);
        if parent.and_then(ns_of) != own {
            continue;
        }
        let dev = fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
        // Two header lines, then one line per link.
        if dev.lines().skip(2).any(|l| !l.trim_start().starts_with("lo:")) {
            seen.insert(ns, pid);
        }
    }
    seen.into_iter()
        .filter(|(ns, pid)| ns_of(*pid).as_ref() == Some(ns))
        .count()
}

/// Guards that no user gets more live pairs than granted (helper veth.rs
/// `count_veths` under the lock, and `peer_netns_alive`, which must never
/// leave out a pair whose namespace is in use): 8 starters in a loop
/// against an allowance of 2, while root counts the containers' namespaces
/// that hold a pair, over and over; never more than 2, and every refusal
/// the quota's line.
fn network_quota_never_exceeded_by_parallel_starters(f: &Fixture) -> Result<(), Failed> {
    const STARTERS: usize = 8;
    const STARTS: usize = 12;
    let net = TestNet::new(f, &["brpar"])?;
    let done = std::sync::atomic::AtomicBool::new(false);
    let (most, outs) = thread::scope(|scope| {
        let counter = scope.spawn(|| {
            let (mut most, mut samples) = (0, 0);
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                most = most.max(live_pairs(f.user.uid, &net));
                samples += 1;
            }
            (most, samples)
        });
        let starters: Vec<_> = (0..STARTERS)
            .map(|_| {
                scope.spawn(|| {
                    let mut outs = Vec::new();
                    for _ in 0..STARTS {
                        outs.extend(start_together(&net, "brpar", 1, &["sleep", "0.05"])?);
                    }
                    Ok::<_, Failed>(outs)
                })
            })
            .collect();
        let outs: Vec<Result<Vec<Output>, Failed>> =
            starters.into_iter().map(|s| s.join().expect("a starter")).collect();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (counter.join().expect("the counter"), outs)
    });
    let refusal = over_quota(f, 2, 2, "brpar").replacen("burrow-helper: veth: ", "burrow: helper veth failed: ", 1);
    let mut ran = 0;
    for out in outs.into_iter().collect::<Result<Vec<_>, _>>()?.into_iter().flatten() {
        if out.code() == 0 {
            ensure_ran(&out, "", "a parallel starter's container")?;
            ran += 1;
        } else {
            ensure_eq!(
                (out.code(), out.stderr.as_str()),
                (125, format!("{refusal}\n").as_str()),
                "a refused start ({out})"
            );
        }
    }
    ensure!(most.0 <= 2, "{} live pairs at once against an allowance of 2", most.0);
    ensure!(ran >= 2 && most.1 > 0, "{ran} containers ran, {} samples", most.1);
    Ok(())
}

/// Guards the runner's report of a helper refusal (helper_client.rs, exit
/// 125, the helper's line without its prefix) and its cleanup: the first
/// interface's veth, made while the second was refused, goes with the
/// container's namespace.
fn network_reports_helper_refusal(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &["brnone"])?;
    let line = format!(
        "burrow: helper veth failed: {} may not create veths on brnone (no entry in {USERNET_FILE})",
        f.user.name
    );
    let cmd = net.burrow(&["--net", "bridge:brtest0", "--net", "bridge:brnone", "--", "true"]);
    ensure_burrow_refusal(&net, cmd, 125, &line)
}

/// Guards the report of a failure inside the container's network setup
/// (network.rs `configure`, via the sync socket; exit 125), after which the
/// veth the helper had made goes with the container's namespace: the same
/// address twice.
fn network_setup_failure_leaves_nothing(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &[])?;
    let line = format!(
        "burrow: container setup failed at network: adding 10.203.0.7/24 to eth0: File exists (os error {})",
        libc::EEXIST
    );
    let cmd = net.burrow(&on_bridge("10.203.0.7/24", &["--ip", "10.203.0.7/24", "--", "true"]));
    ensure_burrow_refusal(&net, cmd, 125, &line)
}

/// `--net none` (and no --net) gives a namespace with only lo, up; nothing
/// appears in the test namespace.
fn network_none_has_only_lo(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &[])?;
    let before = net.link_names()?;
    let script = "ls /sys/class/net; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags";
    for args in [
        &["--net", "none", "--", "sh", "-c", script][..],
        &["--", "sh", "-c", script],
    ] {
        let out = run(net.burrow(args));
        // lo's operstate is "unknown" even when up; IFF_UP|IFF_LOOPBACK is 0x9.
        ensure_ran(&out, "lo\nunknown\n0x9\n", &format!("{args:?}"))?;
    }
    ensure_eq!(net.link_names()?, before, "links in the test namespace");
    Ok(())
}

/// `--net host` shares the caller's network namespace: the container sees
/// exactly the test namespace's links.
fn network_host_sees_the_namespace(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &[])?;
    let out = run(net.burrow(&["--net", "host", "--", "cat", "/proc/net/dev"]));
    ensure!(out.code() == 0 && out.stderr.is_empty(), "cat /proc/net/dev: {out}");
    let expected: BTreeSet<String> = ["lo".to_owned(), BRIDGE.to_owned()].into();
    ensure_eq!(net.link_names()?, expected, "links in the test namespace");
    ensure_eq!(proc_net_dev_names(&out.stdout), expected, "interfaces with --net host");
    Ok(())
}

/// Guards the runner's network option checks (net.rs `from_matches`,
/// `NetMode::parse`): each bad combination is one line and exit 125 before
/// anything starts (no helper call: no link appears, though each names a
/// bridge the user may use).
fn network_bad_options(f: &Fixture) -> Result<(), Failed> {
    let net = TestNet::new(f, &[])?;
    let cases: &[(&[&str], &str)] = &[
        (
            &["--ip", "10.203.0.2/24", "--net", "bridge:brtest0"],
            "--ip must follow the --net bridge:BRIDGE it configures",
        ),
        (
            &["--net", "bridge:brtest0", "--net", "host"],
            "--net host cannot be combined with another --net",
        ),
        (
            &["--net", "bridge:brtest0", "--ip", "10.203.0.2"],
            "bad --ip \"10.203.0.2\": expected ADDRESS/PREFIX",
        ),
        (
            &["--net", "bridge:brtest0", "--ip", "10.203.0.2/33"],
            "bad --ip \"10.203.0.2/33\": prefix must be 0 to 32",
        ),
        (
            &["--net", "bridge:brtest0", "--mtu", "9"],
            "bad --mtu \"9\": must be 68 to 65535",
        ),
        (
            &["--net", "bridge:brtest0", "--mtu", "1400", "--mtu", "1500"],
            "--mtu given twice for brtest0",
        ),
        (
            &["--net", "bridge:brtest0", "--mac", "01:00:00:00:00:01"],
            "bad --mac \"01:00:00:00:00:01\": a multicast address cannot be an interface's",
        ),
        (
            &[
                "--net",
                "bridge:brtest0",
                "--ip",
                "10.203.0.2/24",
                "--gateway",
                BRIDGE_V6,
            ],
            "--gateway fd03::1 needs an IPv6 --ip on eth0",
        ),
        (
            &[
                "--net",
                "bridge:brtest0",
                "--net-name",
                "up0",
                "--net",
                "bridge:brtest0",
                "--net-name",
                "up0",
            ],
            "interface name up0 is used twice",
        ),
        (
            &["--net", "bridge:brtest0", "--mac", "00:00:00:00:00:00"],
            "bad --mac \"00:00:00:00:00:00\": the all-zero address cannot be an interface's",
        ),
        (
            &[
                "--net",
                "bridge:brtest0",
                "--ip",
                "10.203.0.2/24",
                "--gateway",
                "10.203.0.1",
                "--net",
                "bridge:brtest0",
                "--ip",
                "10.203.0.3/24",
                "--gateway",
                "10.203.0.1",
            ],
            "--gateway 10.203.0.1: only one default route per address family",
        ),
        (
            &["--net", "bridge:br/test"],
            "invalid value 'bridge:br/test' for '--net <MODE>': \"br/test\" is not a valid interface name \
             (see burrow --help)",
        ),
    ];
    for (args, line) in cases {
        let mut all = args.to_vec();
        all.extend(["--", "true"]);
        ensure_refusal(&net, None, net.burrow(&all), 125, &format!("burrow: {line}"))?;
    }
    Ok(())
}
