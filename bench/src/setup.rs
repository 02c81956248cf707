//! What the benchmark makes before it measures, as the integration tests do
//! (tests/src/{user,rootfs,netns,fixture}.rs), each piece recorded in
//! `cleanup` as soon as it exists:
//!
//! - POLICY_DIR (/run/burrow-bench, root's, 0755): the usernet, cgroup,
//!   subuid and subgid policy files and state directory the benchmark's
//!   helper build reads (`bench/run` compiles these paths in: not below
//!   /tmp, which the helper refuses as writable by others); the subid files
//!   hold the user's first ranges (from /etc/subuid and /etc/subgid), alone
//!   or, for one row of the helper table, after 200,000 other users';
//! - T = /tmp/burrow-bench-XXXXXX: T/bin/burrow, T/libexec/burrow/burrow-helper
//!   (setuid root), T/bin/burrow-bench, the busybox rootfs T/rootfs, the OCI
//!   bundles and lxc config of the peers, the user's home;
//! - a user `bbench<pid>` with subordinate ids, and a group `bbench<pid>cg`
//!   that the cgroup policy names (`@group nest ...`): the worker that starts
//!   the cgroup variants has it as a supplementary group, the others do not,
//!   so `burrow` alone runs as after install.sh (no cgroup policy);
//! - a network namespace `burrowbench<pid>` with `lo` and the bridge brbench0;
//! - a cgroup `burrow-bench-<pid>` below the benchmark's own cgroup in each
//!   hierarchy the helper uses; the workers live there, so `nest` puts the
//!   user's delegated cgroups below it.

use crate::cleanup;
use crate::sys;
use serde_json::{Value, json};
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const POLICY_DIR: &str = "/run/burrow-bench";
const OWNER_FILE: &str = "/run/burrow-bench/owner";
pub const BRIDGE: &str = "brbench0";
pub const BRIDGE_ADDR: &str = "10.213.0.1/24";
pub const CONTAINER_ADDR: &str = "10.213.0.2/24";
/// Veths the user may have on the bridge at once.
const VETH_ALLOWANCE: u32 = 32;
/// Root's ceilings on the user's delegated cgroup.
const CGROUP_CEILINGS: &str = "memory.max=2G pids.max=4096";
const USER_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";

pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// The first subordinate ranges, (start, count).
    pub subuid: (u64, u64),
    pub subgid: (u64, u64),
}

/// A cgroup hierarchy the helper uses, and the benchmark's cgroup in it.
pub struct Hierarchy {
    pub mount_point: PathBuf,
    pub v2: bool,
    pub bench: PathBuf,
}

pub struct Setup {
    pub dir: PathBuf,
    pub user: User,
    /// The cgroup policy's group: (name, gid).
    pub cg_group: (String, u32),
    pub burrow: PathBuf,
    pub helper: PathBuf,
    pub bench_exe: PathBuf,
    pub rootfs: PathBuf,
    pub netns: String,
    pub hierarchies: Vec<Hierarchy>,
    /// cgroup2 mount points crun must not see (a cgroup-hybrid host).
    pub hybrid_cgroup2: Vec<PathBuf>,
    pub scratch: PathBuf,
}

fn context<T>(what: impl std::fmt::Display, r: io::Result<T>) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

fn mkdir(path: &Path, mode: u32, owner: Option<(u32, u32)>) -> io::Result<()> {
    fs::create_dir_all(path)?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

fn install(src: &Path, dst: &Path, mode: u32) -> io::Result<()> {
    fs::copy(src, dst)?;
    std::os::unix::fs::chown(dst, Some(0), Some(0))?;
    // After the chown, which clears set-id bits.
    fs::set_permissions(dst, fs::Permissions::from_mode(mode))
}

fn write_as(path: &Path, text: &str, mode: u32, owner: (u32, u32)) -> io::Result<()> {
    fs::write(path, text)?;
    std::os::unix::fs::chown(path, Some(owner.0), Some(owner.1))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// Root-owned and not writable by group or others, as the helper demands of
/// every directory above its policy files.
fn check_root_only(path: &str) -> Result<(), String> {
    let meta = context(path, fs::metadata(path))?;
    if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(format!("{path} must be root's and not writable by group or others"));
    }
    Ok(())
}

fn policy_dir() -> Result<(), String> {
    check_root_only("/")?;
    check_root_only("/run")?;
    if Path::new(POLICY_DIR).exists() {
        let owner: Option<u32> = fs::read_to_string(OWNER_FILE).ok().and_then(|s| s.trim().parse().ok());
        if let Some(pid) = owner.filter(|pid| sys::comm(*pid) == "burrow-bench") {
            return Err(format!(
                "{POLICY_DIR} belongs to the benchmark running as pid {pid}: one at a time"
            ));
        }
        context(
            format!("removing the stale {POLICY_DIR}"),
            fs::remove_dir_all(POLICY_DIR),
        )?;
    }
    context(POLICY_DIR, fs::create_dir(POLICY_DIR))?;
    cleanup::record(|c| c.dirs.push(PathBuf::from(POLICY_DIR)));
    context(
        POLICY_DIR,
        fs::set_permissions(POLICY_DIR, fs::Permissions::from_mode(0o755)),
    )?;
    context(OWNER_FILE, fs::write(OWNER_FILE, format!("{}\n", std::process::id())))
}

/// `name:start:count` entries of a subid file for `name` or `uid`.
fn subid_ranges(path: &str, name: &str, uid: u32) -> Vec<(u64, u64)> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut f = line.trim().split(':');
            let (owner, start, count) = (f.next()?, f.next()?.parse().ok()?, f.next()?.parse().ok()?);
            (owner == name || owner == uid.to_string()).then_some((start, count))
        })
        .collect()
}

/// A free 65536-id range above every range in either file.
fn free_range() -> (u64, u64) {
    let mut end = 100_000u64;
    for path in ["/etc/subuid", "/etc/subgid"] {
        for line in fs::read_to_string(path).unwrap_or_default().lines() {
            let f: Vec<&str> = line.trim().split(':').collect();
            if let [_, start, count] = f[..] {
                if let (Ok(s), Ok(c)) = (start.parse::<u64>(), count.parse::<u64>()) {
                    end = end.max(s + c);
                }
            }
        }
    }
    let start = end.div_ceil(65536) * 65536;
    (start, start + 65535)
}

fn passwd_ids(name: &str) -> Option<(u32, u32)> {
    fs::read_to_string("/etc/passwd").ok()?.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 4 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

fn group_gid(name: &str) -> Option<u32> {
    fs::read_to_string("/etc/group").ok()?.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 3 && f[0] == name).then(|| f[2].parse().ok())?
    })
}

fn create_user(dir: &Path) -> Result<(User, (String, u32)), String> {
    let name = format!("bbench{}", std::process::id());
    let home = dir.join("home");
    sys::run_ok(
        Command::new("useradd")
            .arg("--create-home")
            .arg("--home-dir")
            .arg(&home)
            .args(["--shell", "/bin/sh", "--user-group", &name]),
    )
    .map_err(|e| format!("creating the benchmark user: {e}"))?;
    let (uid, gid) = passwd_ids(&name).ok_or_else(|| format!("{name} is not in /etc/passwd after useradd"))?;
    cleanup::record(|c| c.user = Some((name.clone(), uid)));
    // Debian's useradd allocates a range by itself; add one only if it did not.
    let mut subuid = subid_ranges("/etc/subuid", &name, uid);
    let mut subgid = subid_ranges("/etc/subgid", &name, uid);
    if subuid.is_empty() || subgid.is_empty() {
        let (start, last) = free_range();
        let range = format!("{start}-{last}");
        let mut usermod = Command::new("usermod");
        if subuid.is_empty() {
            usermod.args(["--add-subuids", &range]);
        }
        if subgid.is_empty() {
            usermod.args(["--add-subgids", &range]);
        }
        sys::run_ok(usermod.arg(&name)).map_err(|e| format!("giving {name} subordinate ids: {e}"))?;
        subuid = subid_ranges("/etc/subuid", &name, uid);
        subgid = subid_ranges("/etc/subgid", &name, uid);
    }
    let (Some(&su), Some(&sg)) = (subuid.first(), subgid.first()) else {
        return Err(format!("{name} has no subordinate ids after usermod"));
    };
    let cg_name = format!("{name}cg");
    sys::run_ok(Command::new("groupadd").arg(&cg_name)).map_err(|e| format!("creating the group {cg_name}: {e}"))?;
    cleanup::record(|c| c.group = Some(cg_name.clone()));
    let cg_gid = group_gid(&cg_name).ok_or_else(|| format!("{cg_name} is not in /etc/group"))?;
    // As burrow's default map: container ids 1..N are the first N (<= 65536).
    let cap = |(start, count): (u64, u64)| (start, count.min(65536));
    Ok((
        User {
            name,
            uid,
            gid,
            home,
            subuid: cap(su),
            subgid: cap(sg),
        },
        (cg_name, cg_gid),
    ))
}

/// Debian's static busybox with a symlink per applet, minimal /etc/passwd
/// and /etc/group and the empty mount points, owned by the user.
fn build_rootfs(root: &Path, owner: (u32, u32)) -> Result<(), String> {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .ok_or("no busybox: apt-get install busybox-static")?;
    let list = sys::run_ok(Command::new(busybox).arg("--list")).map_err(|e| e.to_string())?;
    let r = (|| -> io::Result<()> {
        fs::create_dir(root)?;
        for dir in ["bin", "etc", "dev", "proc", "sys", "tmp", "mnt", "root"] {
            fs::create_dir(root.join(dir))?;
        }
        fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777))?;
        fs::set_permissions(root.join("root"), fs::Permissions::from_mode(0o700))?;
        fs::copy(busybox, root.join("bin/busybox"))?;
        for applet in list.lines().map(str::trim) {
            if !applet.is_empty() && !applet.contains('/') && applet != "busybox" {
                symlink("busybox", root.join("bin").join(applet))?;
            }
        }
        fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")?;
        fs::write(root.join("etc/group"), "root:x:0:\n")?;
        fs::write(root.join("etc/resolv.conf"), "")?;
        chown_tree(root, owner)
    })();
    context("building the busybox rootfs", r)
}

fn chown_tree(path: &Path, (uid, gid): (u32, u32)) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    if fs::symlink_metadata(path)?.is_dir() {
        for entry in fs::read_dir(path)? {
            chown_tree(&entry?.path(), (uid, gid))?;
        }
    }
    Ok(())
}

fn network_namespace() -> Result<String, String> {
    let name = format!("burrowbench{}", std::process::id());
    sys::run_ok(Command::new("ip").args(["netns", "add", &name])).map_err(|e| e.to_string())?;
    cleanup::record(|c| c.netns = Some(name.clone()));
    let batch = format!(
        "link set lo up\nlink add {BRIDGE} type bridge\naddr add {BRIDGE_ADDR} dev {BRIDGE}\nlink set {BRIDGE} up\n"
    );
    let mut ip = Command::new("ip");
    ip.args(["-n", &name, "-batch", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null());
    let mut child = context("ip -batch", ip.spawn())?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("piped");
        context("ip -batch", stdin.write_all(batch.as_bytes()))?;
    }
    let status = context("ip -batch", child.wait())?;
    if !status.success() {
        return Err(format!("setting up the bridge in {name}: ip -batch: {status}"));
    }
    Ok(name)
}

/// v1 controllers the helper delegates (burrow_shared::cgroup_policy).
const V1_CONTROLLERS: [&str; 5] = ["memory", "pids", "cpu", "cpuacct", "freezer"];

/// The benchmark's cgroup in each hierarchy the helper uses (cgroup2, and
/// the v1 hierarchies of its controllers), below our own cgroup there; and
/// the cgroup2 mount points if the host is cgroup-hybrid.
fn cgroups() -> Result<(Vec<Hierarchy>, Vec<PathBuf>), String> {
    let mountinfo = context("/proc/self/mountinfo", fs::read_to_string("/proc/self/mountinfo"))?;
    let own = context("/proc/self/cgroup", fs::read_to_string("/proc/self/cgroup"))?;
    let mut hierarchies = Vec::new();
    let mut seen = Vec::new();
    let mut v2_points = Vec::new();
    let mut has_v1 = false;
    for line in mountinfo.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let Some(dash) = f.iter().position(|&x| x == "-") else {
            continue;
        };
        let (Some(&fstype), Some(&options)) = (f.get(dash + 1), f.get(dash + 3)) else {
            continue;
        };
        let (dev, root, point) = (f[2], f[3], f[4]);
        let v2 = fstype == "cgroup2";
        let mut controllers: Vec<&str> = options.split(',').filter(|o| V1_CONTROLLERS.contains(o)).collect();
        controllers.sort_unstable();
        if fstype == "cgroup" && !controllers.is_empty() {
            has_v1 = true;
        }
        let eligible = v2
            || fstype == "cgroup"
                && !controllers.is_empty()
                && options.split(',').all(|o| {
                    V1_CONTROLLERS.contains(&o) || ["rw", "ro", "relatime", "nosuid", "nodev", "noexec"].contains(&o)
                });
        if !eligible || seen.contains(&dev) {
            continue;
        }
        seen.push(dev);
        if v2 {
            v2_points.push(PathBuf::from(point));
        }
        // Our path in this hierarchy, from /proc/self/cgroup.
        let path = own.lines().find_map(|l| {
            let mut p = l.splitn(3, ':');
            let (id, list, path) = (p.next()?, p.next()?, p.next()?);
            let mut listed: Vec<&str> = list.split(',').filter(|c| !c.is_empty()).collect();
            listed.sort_unstable();
            let mine = if v2 {
                id == "0" && listed.is_empty()
            } else {
                listed == controllers
            };
            mine.then_some(path)
        });
        let Some(path) = path else { continue };
        let relative = path.strip_prefix(root).unwrap_or(path).trim_start_matches('/');
        let own_dir = Path::new(point).join(relative);
        let bench = own_dir.join(format!("burrow-bench-{}", std::process::id()));
        context(format!("creating {}", bench.display()), fs::create_dir(&bench))?;
        cleanup::record(|c| c.cgroups.push(bench.clone()));
        hierarchies.push(Hierarchy {
            mount_point: PathBuf::from(point),
            v2,
            bench,
        });
    }
    let hybrid = if has_v1 { v2_points } else { Vec::new() };
    Ok((hierarchies, hybrid))
}

impl Setup {
    /// Everything but the peers' bundles. `burrow`, `helper`: the benchmark's
    /// release build (its helper compiled with POLICY_DIR's paths).
    pub fn new(burrow: &Path, helper: &Path) -> Result<Setup, String> {
        policy_dir()?;
        let dir = context(
            "creating the temporary directory",
            sys::mkdtemp("/tmp/burrow-bench-XXXXXX"),
        )?;
        cleanup::record(|c| c.dirs.insert(0, dir.clone()));
        context(
            "temporary directory",
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)),
        )?;
        let (user, cg_group) = create_user(&dir)?;
        let owner = (user.uid, user.gid);

        let setup = Setup {
            burrow: dir.join("bin/burrow"),
            helper: dir.join("libexec/burrow/burrow-helper"),
            bench_exe: dir.join("bin/burrow-bench"),
            rootfs: dir.join("rootfs"),
            scratch: dir.join("scratch"),
            netns: String::new(),
            hierarchies: Vec::new(),
            hybrid_cgroup2: Vec::new(),
            dir,
            user,
            cg_group,
        };
        let installed = (|| -> io::Result<()> {
            mkdir(&setup.dir.join("bin"), 0o755, None)?;
            mkdir(&setup.dir.join("libexec/burrow"), 0o755, None)?;
            install(burrow, &setup.burrow, 0o755)?;
            install(helper, &setup.helper, 0o4755)?;
            install(&std::env::current_exe()?, &setup.bench_exe, 0o755)?;
            mkdir(&setup.scratch, 0o755, Some(owner))?;
            mkdir(&setup.dir.join("xdg"), 0o700, Some(owner))
        })();
        context("installing burrow, its helper and the benchmark", installed)?;
        build_rootfs(&setup.rootfs, owner)?;
        let usernet = format!(
            "# burrow-bench (bench/): removed when it ends\n{} veth {BRIDGE} {VETH_ALLOWANCE}\n",
            setup.user.name
        );
        let cgroup = format!(
            "# burrow-bench (bench/): removed when it ends\n@{} nest {CGROUP_CEILINGS}\n",
            setup.cg_group.0
        );
        context(
            "usernet policy",
            write_as(&Path::new(POLICY_DIR).join("usernet"), &usernet, 0o644, (0, 0)),
        )?;
        context(
            "cgroup policy",
            write_as(&Path::new(POLICY_DIR).join("cgroup"), &cgroup, 0o644, (0, 0)),
        )?;
        setup.write_subid_files(0)?;
        let netns = network_namespace()?;
        let (hierarchies, hybrid_cgroup2) = cgroups()?;
        Ok(Setup {
            netns,
            hierarchies,
            hybrid_cgroup2,
            ..setup
        })
    }

    /// POLICY_DIR/subuid and POLICY_DIR/subgid: `other_users` entries of
    /// other users (1000 ids each, none the user's), then the user's first
    /// range, last, as the helper's worst case.
    pub fn write_subid_files(&self, other_users: u32) -> Result<(), String> {
        for (file, (start, count)) in [("subuid", self.user.subuid), ("subgid", self.user.subgid)] {
            let mut text = String::with_capacity(other_users as usize * 28 + 64);
            for i in 0..u64::from(other_users) {
                text += &format!("other{i:06}:{}:1000\n", 3_000_000_000 + i * 1000);
            }
            text += &format!("{}:{start}:{count}\n", self.user.name);
            let path = Path::new(POLICY_DIR).join(file);
            context(path.display(), write_as(&path, &text, 0o644, (0, 0)))?;
        }
        Ok(())
    }

    pub fn owner(&self) -> (u32, u32) {
        (self.user.uid, self.user.gid)
    }

    /// The environment the user's processes get.
    pub fn user_env(&self) -> Vec<(String, String)> {
        vec![
            ("PATH".into(), USER_PATH.into()),
            ("HOME".into(), self.user.home.display().to_string()),
            ("USER".into(), self.user.name.clone()),
            ("LOGNAME".into(), self.user.name.clone()),
            ("XDG_RUNTIME_DIR".into(), self.dir.join("xdg").display().to_string()),
        ]
    }

    /// `cgroup.procs` of the benchmark's cgroups.
    pub fn cgroup_procs(&self) -> Vec<PathBuf> {
        self.hierarchies.iter().map(|h| h.bench.join("cgroup.procs")).collect()
    }

    /// A command run as the user (no supplementary groups), cwd `dir`.
    fn as_user(&self, program: &str, dir: &Path) -> Command {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .envs(self.user_env())
            .current_dir(dir)
            .uid(self.user.uid)
            .gid(self.user.gid);
        cmd
    }

    /// An OCI bundle for `tool` (crun or runc): its own `spec --rootless`,
    /// run as the user, with /bin/true in the busybox rootfs and no terminal.
    pub fn oci_bundle(&self, tool: &str) -> Result<PathBuf, String> {
        let bundle = self.dir.join("oci").join(tool);
        context(bundle.display(), mkdir(&bundle, 0o755, Some(self.owner())))?;
        context(
            "state directory",
            mkdir(&self.dir.join("state").join(tool), 0o700, Some(self.owner())),
        )?;
        sys::run_ok(self.as_user(tool, &bundle).args(["spec", "--rootless"])).map_err(|e| e.to_string())?;
        let path = bundle.join("config.json");
        let mut config: Value = serde_json::from_str(&context(path.display(), fs::read_to_string(&path))?)
            .map_err(|e| format!("{tool} spec: {e}"))?;
        config["process"]["args"] = json!(["/bin/true"]);
        config["process"]["terminal"] = json!(false);
        config["root"]["path"] = json!(self.rootfs.display().to_string());
        config["hostname"] = json!("bench");
        let text = serde_json::to_string_pretty(&config).expect("a JSON value");
        context(path.display(), write_as(&path, &text, 0o644, self.owner()))?;
        Ok(bundle)
    }

    /// An unprivileged lxc container config: the same maps as burrow's default
    /// (0 = the user, 1..N = the first N subordinate ids), no network device.
    pub fn lxc_config(&self) -> Result<PathBuf, String> {
        let lxcpath = self.dir.join("lxc");
        context(lxcpath.display(), mkdir(&lxcpath, 0o755, Some(self.owner())))?;
        let u = &self.user;
        let config = format!(
            "lxc.idmap = u 0 {} 1\nlxc.idmap = g 0 {} 1\nlxc.idmap = u 1 {} {}\nlxc.idmap = g 1 {} {}\n\
             lxc.rootfs.path = dir:{}\nlxc.uts.name = bench\nlxc.net.0.type = empty\n\
             lxc.mount.auto = proc:mixed sys:ro\n",
            u.uid,
            u.gid,
            u.subuid.0,
            u.subuid.1,
            u.subgid.0,
            u.subgid.1,
            self.rootfs.display()
        );
        let path = lxcpath.join("config");
        context(path.display(), write_as(&path, &config, 0o644, self.owner()))?;
        Ok(lxcpath)
    }

    pub fn state_files(&self) -> usize {
        sys::count_tree(&Path::new(POLICY_DIR).join("state"))
    }

    /// Cgroups below the benchmark's own, in all hierarchies.
    pub fn cgroup_count(&self) -> usize {
        self.hierarchies.iter().map(|h| sys::count_subdirs(&h.bench)).sum()
    }

    /// Processes in the benchmark's cgroups (any hierarchy, counted once).
    pub fn processes_in_cgroups(&self) -> usize {
        let mut pids: Vec<u32> = self
            .hierarchies
            .iter()
            .flat_map(|h| {
                let mut dirs = Vec::new();
                collect_dirs(&h.bench, &mut dirs);
                dirs
            })
            .flat_map(|d| {
                fs::read_to_string(d.join("cgroup.procs"))
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<u32>>()
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids.len()
    }
}

fn collect_dirs(root: &Path, out: &mut Vec<PathBuf>) {
    out.push(root.to_owned());
    if let Ok(entries) = fs::read_dir(root) {
        for e in entries.filter_map(Result::ok) {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                collect_dirs(&e.path(), out);
            }
        }
    }
}
