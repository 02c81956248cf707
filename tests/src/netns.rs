//! Network namespaces for the network scenarios, and the helper's usernet
//! policy they share. Runs as root in the test binary; the processes it
//! starts in a namespace run as the test user unless a scenario asks for
//! other ids.
//!
//! - `Policy`, one per test binary (`Suite::network`): /run/burrow-tests,
//!   root's directory (0755) holding the usernet file the helper was built
//!   to read (`USERNET_FILE`) and its state directory (`STATE_DIR`, which the
//!   helper creates itself). The usernet file (`usernet_text`) gives each
//!   kind of scenario a bridge name with the allowance it needs (counts never
//!   mix: each scenario's veths are in its own namespace). The scenarios
//!   that change the file, its directory or the state directory hold the
//!   policy lock exclusively (`TestNet::exclusive`); every other one shares
//!   it for as long as its namespace lives.
//! - `TestNet`, one per scenario: a network namespace `burrowt<pid>n<k>` made
//!   with `ip netns add`, with `lo` up, the bridge `brtest0` (10.203.0.1/24,
//!   fd03::1/64, MTU 1450) and whatever other bridges the scenario names.
//!   Processes join it with setns(2) before their ids change, so burrow and
//!   the helper run as the test user inside it and the host ends of veths
//!   land there. No traffic leaves it: every address the scenarios use is in
//!   it. Dropping it deletes it; teardown deletes any left behind and fails.
//! - `Link`: what `ip -o -d link show` says about an interface.

use crate::Failed;
use crate::fixture::Fixture;
use crate::process::{self, Output, Spawned, die_with_parent};
use crate::user::TestUser;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Root's directory for the helper's policy and state while tests run. Not
/// below /tmp: the helper refuses a policy file below a directory others
/// may write to.
pub const POLICY_DIR: &str = "/run/burrow-tests";
/// The helper's `BURROW_USERNET_FILE` in the fixture's builds.
pub const USERNET_FILE: &str = "/run/burrow-tests/usernet";
/// The helper's `BURROW_STATE_DIR` in the fixture's builds.
pub const STATE_DIR: &str = "/run/burrow-tests/state";
/// Records the pid of the test binary that owns POLICY_DIR.
pub(crate) const OWNER_FILE: &str = "/run/burrow-tests/owner";

/// The bridge every test namespace has.
pub const BRIDGE: &str = "brtest0";
pub const BRIDGE_V4: &str = "10.203.0.1";
pub const BRIDGE_V6: &str = "fd03::1";
/// Not the default 1500, so that "the bridge's MTU" is seen to be copied.
pub const BRIDGE_MTU: u32 = 1450;

/// An upper bound for the kernel to finish tearing down a network
/// namespace nobody uses any more (asynchronous, usually milliseconds).
pub const NETNS_GONE_LIMIT: Duration = Duration::from_secs(10);

/// The usernet file the fixture writes: a bridge per kind of scenario, each
/// with its own allowance (the scenarios rely on these numbers).
pub fn usernet_text(user: &TestUser, group: &str) -> String {
    let (name, uid) = (&user.name, user.uid);
    format!(
        "# Written by burrow's integration tests (tests/src/netns.rs); removed when they end.\n\
         {name} veth brtest0 4\n\
         {name} veth brquota 1     # veth_refuses_over_quota\n\
         {name} veth brrace 2      # veth_quota_is_race_free\n\
         {name} veth brslot 1      # veth_slot_freed_when_container_exits\n\
         {name} veth brseq 2       # network_veth_gone_after_exit\n\
         {name} veth brpairs 2     # network_quota_exits_then_starts_in_pairs\n\
         {name} veth brloop 2      # network_quota_back_to_back_beside_one\n\
         {name} veth brpar 2       # network_quota_never_exceeded_by_parallel_starters\n\
         {name} veth brmissing 1   # no such link\n\
         {name} veth braltname 1   # only an alternative name of a bridge\n\
         {name} veth notbridge0 1  # a link that is not a bridge\n\
         @{group} veth brgroup 1   # by the test user's group\n\
         {uid} veth bruid 1        # by the test user's uid\n\
         \n\
         root veth brnone 4        # someone else's rule: the test user has none on brnone\n"
    )
}

fn failed(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Failed {
    Failed::from(format!("{what}: {e}"))
}

/// The name of the group `gid`, from /etc/group.
fn group_name(gid: u32) -> io::Result<String> {
    fs::read_to_string("/etc/group")?
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() >= 3 && fields[2] == gid.to_string())
        .map(|fields| fields[0].to_owned())
        .ok_or_else(|| io::Error::other(format!("gid {gid} is not in /etc/group")))
}

/// Root-owned, not writable by group or others (what the helper demands of
/// every directory above its policy files).
fn check_root_only(path: &str) -> Result<(), String> {
    let meta = fs::metadata(path).map_err(|e| format!("{path}: {e}"))?;
    if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{path} must be root's and not writable by group or others for the helper to trust {USERNET_FILE}"
        ));
    }
    Ok(())
}

/// The pid recorded in OWNER_FILE, if that process still runs.
pub(crate) fn live_owner() -> Option<u32> {
    let pid: u32 = fs::read_to_string(OWNER_FILE).ok()?.trim().parse().ok()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

/// Prefix of the names of this test binary's network namespaces.
fn netns_prefix() -> String {
    format!("burrowt{}n", std::process::id())
}

fn ip_command() -> Command {
    let mut cmd = Command::new("ip");
    cmd.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null());
    cmd
}

fn run_ok(cmd: &mut Command, input: Option<&[u8]>) -> Result<Output, Failed> {
    let out = process::run(cmd, input).map_err(|e| failed(format!("{cmd:?}"), e))?;
    if !out.status.success() {
        return Err(Failed::from(format!("{cmd:?}: {out}")));
    }
    Ok(out)
}

/// The usernet policy and the namespaces of one test binary.
pub struct Policy {
    /// The usernet file as setup wrote it, and as it is restored.
    pub usernet: String,
    /// Shared by scenarios that read the usernet file, exclusive for those
    /// that change it.
    lock: RwLock<()>,
    next_netns: AtomicU32,
}

impl Policy {
    /// Creates POLICY_DIR with the usernet file for `user`. A directory left
    /// by a test run that no longer runs is replaced; one of a running test
    /// binary is an error.
    pub fn setup(user: &TestUser) -> Result<Policy, String> {
        check_root_only("/")?;
        check_root_only("/run")?;
        if Path::new(POLICY_DIR).exists() {
            if let Some(pid) = live_owner() {
                return Err(format!(
                    "{POLICY_DIR} belongs to the test process {pid}: run one network test binary at a time"
                ));
            }
            fs::remove_dir_all(POLICY_DIR).map_err(|e| format!("removing the stale {POLICY_DIR}: {e}"))?;
        }
        let group = group_name(user.gid).map_err(|e| format!("the test user's group: {e}"))?;
        let policy = Policy {
            usernet: usernet_text(user, &group),
            lock: RwLock::new(()),
            next_netns: AtomicU32::new(0),
        };
        let made = (|| {
            fs::create_dir(POLICY_DIR)?;
            fs::set_permissions(POLICY_DIR, fs::Permissions::from_mode(0o755))?;
            fs::write(OWNER_FILE, format!("{}\n", std::process::id()))?;
            policy.restore()
        })();
        match made {
            Ok(()) => Ok(policy),
            Err(e) => {
                let _ = fs::remove_dir_all(POLICY_DIR);
                Err(format!("creating {POLICY_DIR}: {e}"))
            }
        }
    }

    /// Writes the usernet file and the modes and owners of it and of
    /// POLICY_DIR as setup made them, and removes the state directory.
    fn restore(&self) -> io::Result<()> {
        std::os::unix::fs::chown(POLICY_DIR, Some(0), Some(0))?;
        fs::set_permissions(POLICY_DIR, fs::Permissions::from_mode(0o755))?;
        // The helper makes the state directory and lock files again as it
        // needs them (nothing else runs while the policy is held alone).
        match fs::remove_dir_all(STATE_DIR) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        // Whatever is there now (a symlink, say) goes; a new file is written.
        match fs::remove_file(USERNET_FILE) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        fs::write(USERNET_FILE, &self.usernet)?;
        std::os::unix::fs::chown(USERNET_FILE, Some(0), Some(0))?;
        fs::set_permissions(USERNET_FILE, fs::Permissions::from_mode(0o644))
    }

    /// Deletes the namespaces scenarios left behind (each is a problem) and
    /// POLICY_DIR; returns the problems.
    pub fn teardown(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let prefix = netns_prefix();
        let names: Vec<String> = fs::read_dir("/run/netns")
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|name| name.starts_with(&prefix))
                    .collect()
            })
            .unwrap_or_default();
        for name in names {
            let deleted = run_ok(ip_command().args(["netns", "delete", &name]), None);
            problems.push(match deleted {
                Ok(_) => format!("network namespace {name} was left behind (deleted now)"),
                Err(e) => format!(
                    "network namespace {name} was left behind: {}",
                    e.message().unwrap_or("")
                ),
            });
        }
        if let Err(e) = fs::remove_dir_all(POLICY_DIR) {
            problems.push(format!("removing {POLICY_DIR}: {e}"));
        }
        problems
    }
}

enum PolicyGuard<'f> {
    Shared(#[allow(dead_code)] RwLockReadGuard<'f, ()>),
    Exclusive(#[allow(dead_code)] RwLockWriteGuard<'f, ()>),
}

/// One scenario's network namespace (see the module doc).
pub struct TestNet<'f> {
    pub name: String,
    f: &'f Fixture,
    policy: &'f Policy,
    /// /run/netns/NAME: the namespace itself.
    netns: Option<File>,
    guard: PolicyGuard<'f>,
}

impl<'f> TestNet<'f> {
    /// A namespace with `lo`, brtest0 and the bridges `bridges` (up, without
    /// addresses), sharing the usernet policy with other scenarios.
    pub fn new(f: &'f Fixture, bridges: &[&str]) -> Result<TestNet<'f>, Failed> {
        let policy = f.network.as_ref().ok_or("the suite does not set `network`")?;
        let guard = PolicyGuard::Shared(policy.lock.read().unwrap_or_else(PoisonError::into_inner));
        TestNet::make(f, policy, guard, bridges)
    }

    /// The same, holding the usernet policy alone: the scenario may change
    /// the file, POLICY_DIR and the state directory (`restore_policy` puts
    /// them back, and so does dropping the namespace).
    pub fn exclusive(f: &'f Fixture, bridges: &[&str]) -> Result<TestNet<'f>, Failed> {
        let policy = f.network.as_ref().ok_or("the suite does not set `network`")?;
        let guard = PolicyGuard::Exclusive(policy.lock.write().unwrap_or_else(PoisonError::into_inner));
        TestNet::make(f, policy, guard, bridges)
    }

    fn make(
        f: &'f Fixture,
        policy: &'f Policy,
        guard: PolicyGuard<'f>,
        bridges: &[&str],
    ) -> Result<TestNet<'f>, Failed> {
        let name = format!(
            "{}{}",
            netns_prefix(),
            policy.next_netns.fetch_add(1, Ordering::Relaxed)
        );
        run_ok(ip_command().args(["netns", "add", &name]), None)?;
        let mut net = TestNet {
            name,
            f,
            policy,
            netns: None,
            guard,
        };
        // From here on, dropping `net` deletes the namespace.
        let path = format!("/run/netns/{}", net.name);
        net.netns = Some(File::open(&path).map_err(|e| failed(&path, e))?);
        let mut batch = format!(
            "link set lo up\n\
             link add {BRIDGE} type bridge\n\
             link set {BRIDGE} mtu {BRIDGE_MTU}\n\
             addr add {BRIDGE_V4}/24 dev {BRIDGE}\n\
             addr add {BRIDGE_V6}/64 dev {BRIDGE} nodad\n\
             link set {BRIDGE} up\n"
        );
        for bridge in bridges {
            batch.push_str(&format!("link add {bridge} type bridge\nlink set {bridge} up\n"));
        }
        run_ok(
            ip_command().args(["-n", &net.name, "-batch", "-"]),
            Some(batch.as_bytes()),
        )?;
        Ok(net)
    }

    /// The namespace itself (an nsfs fd opened by root).
    pub fn file(&self) -> &File {
        self.netns.as_ref().expect("made in `make`")
    }

    /// `ip -n NAME ARGS...` as root; fails unless it succeeds.
    pub fn ip(&self, args: &[&str]) -> Result<Output, Failed> {
        run_ok(ip_command().args(["-n", &self.name]).args(args), None)
    }

    /// The links in the namespace.
    pub fn links(&self) -> Result<Vec<Link>, Failed> {
        let out = self.ip(&["-o", "-d", "link", "show"])?;
        Ok(parse_links(&out.stdout))
    }

    pub fn link_names(&self) -> Result<BTreeSet<String>, Failed> {
        Ok(self.links()?.into_iter().map(|l| l.name).collect())
    }

    /// The namespace as /proc/PID/ns/net links name it: `net:[INODE]`.
    pub fn netns_link(&self) -> Option<PathBuf> {
        let ino = self.netns.as_ref()?.metadata().ok()?.ino();
        Some(PathBuf::from(format!("net:[{ino}]")))
    }

    /// A command started in the namespace, with the test user's environment
    /// (`Fixture::user_environment`), as `ids` (uid, gid) with no
    /// supplementary groups, or as root when `ids` is None; killed if the
    /// test binary dies.
    pub fn command(&self, program: impl AsRef<OsStr>, ids: Option<(u32, u32)>) -> Command {
        self.command_in(self.file(), program, ids)
    }

    /// The same, started in the network namespace `netns` instead (which
    /// must stay open until the command is spawned).
    pub fn command_in(&self, netns: &File, program: impl AsRef<OsStr>, ids: Option<(u32, u32)>) -> Command {
        let mut cmd = self.f.user_environment(&self.f.user, program);
        let netns = netns.as_raw_fd();
        // SAFETY: setns, setgroups, setresgid and setresuid are
        // async-signal-safe system calls; `netns` stays open in the parent
        // until spawn returns (the caller holds it). Runs before die_with_parent's
        // closure, since a change of ids clears the parent-death signal.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setns(netns, libc::CLONE_NEWNET) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if let Some((uid, gid)) = ids {
                    if libc::setgroups(0, std::ptr::null()) != 0
                        || libc::setresgid(gid, gid, gid) != 0
                        || libc::setresuid(uid, uid, uid) != 0
                    {
                        return Err(io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        die_with_parent(&mut cmd);
        cmd
    }

    /// A command run by the test user in the namespace.
    pub fn as_user(&self, program: impl AsRef<OsStr>) -> Command {
        self.command(program, Some((self.f.user.uid, self.f.user.gid)))
    }

    /// `burrow run --rootfs T/rootfs ARGS...` as the test user in the namespace.
    pub fn burrow(&self, args: &[&str]) -> Command {
        let mut cmd = self.as_user(&self.f.burrow);
        cmd.args(["run", "--rootfs"]).arg(&self.f.rootfs).args(args);
        cmd
    }

    /// A process holding a network namespace of its own, started in this
    /// one: as `ids` in a new user namespace too, or as root (`None`) in
    /// only a new network namespace.
    pub fn holder(&self, ids: Option<(u32, u32)>) -> Result<Holder, Failed> {
        let mut cmd = self.command("unshare", ids);
        if ids.is_some() {
            cmd.arg("--user");
        }
        cmd.args(["--net", "--"]).arg(&self.f.probe).arg("hold");
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut process = process::spawn(&mut cmd).map_err(|e| failed("starting a namespace holder", e))?;
        let line = process
            .read_line()
            .map_err(|e| failed("reading the holder's stdout", e))?;
        if line != "ready\n" {
            return Err(Failed::from(format!("the holder {cmd:?} did not start: {line:?}")));
        }
        // unshare exec'd the probe: the pid is the same.
        let pid = process.pid;
        let path = format!("/proc/{pid}/ns/net");
        let netns = File::open(&path).map_err(|e| failed(&path, e))?;
        Ok(Holder { process, pid, netns })
    }

    /// Puts the usernet file and POLICY_DIR back as setup made them.
    pub fn restore_policy(&self) -> Result<(), Failed> {
        assert!(
            matches!(self.guard, PolicyGuard::Exclusive(_)),
            "changing the policy needs TestNet::exclusive"
        );
        self.policy
            .restore()
            .map_err(|e| failed("restoring the usernet policy", e))
    }

    /// Waits (up to NETNS_GONE_LIMIT) until no link here is called `name`.
    pub fn wait_until_gone(&self, name: &str) -> Result<(), Failed> {
        let deadline = Instant::now() + NETNS_GONE_LIMIT;
        while self.link_names()?.contains(name) {
            if Instant::now() > deadline {
                return Err(Failed::from(format!(
                    "{name} still exists {}s after its peer's namespace ended",
                    NETNS_GONE_LIMIT.as_secs()
                )));
            }
            thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for TestNet<'_> {
    fn drop(&mut self) {
        if matches!(self.guard, PolicyGuard::Exclusive(_)) {
            if let Err(e) = self.policy.restore() {
                eprintln!("burrow-tests: restoring the usernet policy: {e}");
            }
        }
        // Teardown finds and reports a namespace this fails to delete.
        if let Err(e) = run_ok(ip_command().args(["netns", "delete", &self.name]), None) {
            eprintln!("burrow-tests: {}", e.message().unwrap_or(""));
        }
    }
}

/// A process (the probe's `hold`) in a network namespace of its own.
pub struct Holder {
    pub process: Spawned,
    pub pid: u32,
    /// Its network namespace, opened by root.
    pub netns: File,
}

impl Holder {
    /// The links in its namespace.
    pub fn links(&self) -> Result<Vec<Link>, Failed> {
        let pid = self.pid.to_string();
        let mut cmd = Command::new("nsenter");
        cmd.args(["--target", &pid, "--net", "--", "ip", "-o", "-d", "link", "show"])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null());
        Ok(parse_links(&run_ok(&mut cmd, None)?.stdout))
    }

    pub fn link_names(&self) -> Result<BTreeSet<String>, Failed> {
        Ok(self.links()?.into_iter().map(|l| l.name).collect())
    }

    /// Ends the process (and so, once the fd is closed too, its namespace).
    pub fn end(self) -> Result<(), Failed> {
        let Holder { process, netns, .. } = self;
        drop(netns);
        process
            .kill_and_reap()
            .map(drop)
            .map_err(|e| failed("ending the holder", e))
    }
}

/// One line of `ip -o -d link show`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub name: String,
    /// Between `<` and `>`: UP, LOWER_UP, ...
    pub flags: Vec<String>,
    pub mtu: u32,
    pub master: Option<String>,
    pub alias: Option<String>,
    /// The further lines `ip -o` joined with a backslash, trimmed: the
    /// `link/ether ...` line, then the kind (`veth`, `bridge ...`), ...
    pub details: Vec<String>,
}

impl Link {
    pub fn is_up(&self) -> bool {
        self.flags.iter().any(|f| f == "UP")
    }

    /// The link's kind: the first word of the first detail line after
    /// `link/...` that is not an alias, an alternative name or a port's
    /// settings.
    pub fn kind(&self) -> Option<&str> {
        self.details
            .iter()
            .skip(1)
            .filter_map(|d| d.split_whitespace().next())
            .find(|word| !matches!(*word, "alias" | "altname") && !word.ends_with("_slave"))
    }
}

/// Parses `ip -o -d link show`: one interface a line, e.g.
/// `13: bh0123@if2: <BROADCAST,UP> mtu 1450 qdisc noqueue master brtest0 state UP ...\    link/ether ...\    veth \    alias burrow uid=1002`.
pub fn parse_links(text: &str) -> Vec<Link> {
    text.lines().filter_map(parse_link).collect()
}

fn parse_link(line: &str) -> Option<Link> {
    let mut parts = line.split('\\').map(str::trim);
    let head = parts.next()?;
    let details: Vec<String> = parts.filter(|p| !p.is_empty()).map(str::to_owned).collect();
    let mut words = head.split_whitespace();
    let _index = words.next()?;
    let name = words.next()?.trim_end_matches(':');
    let name = name.split('@').next()?.to_owned();
    let flags = words.next()?.trim_start_matches('<').trim_end_matches('>');
    let flags = flags.split(',').filter(|f| !f.is_empty()).map(str::to_owned).collect();
    let rest: Vec<&str> = words.collect();
    let after = |key: &str| rest.windows(2).find(|w| w[0] == key).map(|w| w[1]);
    let alias = details.iter().find_map(|d| d.strip_prefix("alias ")).map(str::to_owned);
    Some(Link {
        name,
        flags,
        mtu: after("mtu")?.parse().ok()?,
        master: after("master").map(str::to_owned),
        alias,
        details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_as_ip_prints_them() {
        let text = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00 promiscuity 0 \n\
            2: brtest0: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1450 qdisc noqueue state DOWN mode DEFAULT group default qlen 1000\\    link/ether 2a:44:7f:7d:ff:a0 brd ff:ff:ff:ff:ff:ff promiscuity 0 \\    bridge forward_delay 1500 hello_time 200 \\    altname brother \n\
            13: bh0250fdccc991@if2: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1450 qdisc noqueue master brtest0 state LOWERLAYERDOWN mode DEFAULT group default qlen 1000\\    link/ether f6:39:10:82:59:75 brd ff:ff:ff:ff:ff:ff link-netnsid 0 promiscuity 1 \\    veth \\    bridge_slave state disabled priority 32 \\    alias burrow uid=1002\n";
        let links = parse_links(text);
        let summary: Vec<_> = links
            .iter()
            .map(|l| {
                (
                    l.name.as_str(),
                    l.mtu,
                    l.is_up(),
                    l.master.as_deref(),
                    l.alias.as_deref(),
                    l.kind(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("lo", 65536, true, None, None, None),
                ("brtest0", 1450, true, None, None, Some("bridge")),
                (
                    "bh0250fdccc991",
                    1450,
                    true,
                    Some("brtest0"),
                    Some("burrow uid=1002"),
                    Some("veth")
                ),
            ]
        );
        assert!(links[1].details.contains(&"altname brother".to_owned()));
        let down = parse_links("7: brnone: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN\n");
        assert_eq!((down[0].name.as_str(), down[0].is_up()), ("brnone", false));
    }
}
