//! The runner, `T/bin/burrow run`, started as the unprivileged test user
//! (stdin from /dev/null unless a scenario pipes it), with the helper
//! installed setuid root beside it and the busybox rootfs from the fixture.
//! Each scenario asserts what the user sees: the container's own output,
//! exit statuses, files on the host, and exactly one `burrow: ` line on
//! stderr for every error. After every scenario the harness checks that
//! nothing was left running.

use burrow_shared::ids::{IdMapping, parse_map_file};
use burrow_shared::subid;
use burrow_tests::ensure_ran;
use burrow_tests::fixture::{Fixture, kill_processes_of};
use burrow_tests::harness::{self, Scenario, Suite};
use burrow_tests::process::run_to_end as run;
use burrow_tests::process::{self, Output};
use burrow_tests::user::{SUBUID_FILE, TestUser, read_subid_file, unnamed_id};
use burrow_tests::{Failed, ensure, ensure_eq};
use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

const SCENARIOS: &[(&str, Scenario)] = burrow_tests::scenarios![
    container_runs_as_root_inside,
    container_maps_own_id_and_subordinate_range,
    container_custom_maps,
    container_for_caller_without_names,
    container_command_is_pid_1,
    container_sees_only_its_own_processes,
    container_hostname,
    container_root_is_the_rootfs,
    container_network_has_only_lo,
    container_has_minimal_dev_and_read_only_sys,
    container_bind_mount_maps_owner,
    container_bind_read_only_refuses_writes,
    container_read_only_rootfs,
    container_tmpfs_is_writable,
    container_tmpfs_options,
    container_podman_spellings,
    container_runs_as_another_user,
    unshare_runs_as_root_of_the_default_maps,
    unshare_unpacks_an_image_as_its_ids,
    container_warns_of_an_unmapped_rootfs,
    container_default_rootfs,
    container_environment_is_exactly_documented,
    container_cwd,
    container_exit_statuses,
    container_forwards_signals,
    container_signals_stay_inside,
    container_gets_the_terminals_interrupt,
    container_stops_and_continues_as_a_job,
    container_pipes_stdin,
    container_inherits_only_stdio,
    container_setup_errors,
    container_refuses_symlinked_mount_points,
    container_reports_helper_refusal,
    container_without_subordinate_ids,
];

fn main() -> ExitCode {
    harness::main(Suite {
        packages: &["burrow", "burrow-helper"],
        network: false,
        scenarios: SCENARIOS,
    })
}

/// The container's PATH, as documented.
const CONTAINER_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn text(path: &Path) -> &str {
    path.to_str().expect("fixture paths are UTF-8")
}

/// `burrow run --rootfs ROOT ARGS...` as the test user.
fn in_rootfs(f: &Fixture, root: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--rootfs", text(root)];
    all.extend_from_slice(args);
    run(f.burrow_run(&all))
}

/// `burrow run --rootfs T/rootfs ARGS...` as the test user.
fn burrow(f: &Fixture, args: &[&str]) -> Output {
    in_rootfs(f, &f.rootfs, args)
}

/// Exit `code`, nothing on stdout, exactly one line on stderr, starting
/// `burrow: `.
fn ensure_burrow_error(out: &Output, code: i32, what: &str) -> Result<(), Failed> {
    let lines = out.stderr_lines();
    ensure!(
        out.code() == code && out.stdout.is_empty() && lines.len() == 1 && lines[0].starts_with("burrow: "),
        "{what}: expected exit {code}, no stdout and one `burrow: ` line on stderr; found {out}"
    );
    Ok(())
}

fn m(ns: u32, host: u32, count: u32) -> IdMapping {
    IdMapping::new(ns, host, count).expect("a valid mapping")
}

fn entries(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .expect("list a directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

fn owner(path: &Path) -> Option<(u32, u32)> {
    fs::symlink_metadata(path).ok().map(|meta| (meta.uid(), meta.gid()))
}

// ---------------------------------------------------------------------------
// Scenarios

fn container_runs_as_root_inside(f: &Fixture) -> Result<(), Failed> {
    ensure_ran(&burrow(f, &["--", "id", "-u"]), "0\n", "id -u")?;
    ensure_ran(&burrow(f, &["--", "id", "-g"]), "0\n", "id -g")
}

fn container_maps_own_id_and_subordinate_range(f: &Fixture) -> Result<(), Failed> {
    let (subuid, subgid) = (f.user.first_subuid(), f.user.first_subgid());
    for (file, own, sub) in [("uid_map", f.user.uid, subuid), ("gid_map", f.user.gid, subgid)] {
        let out = burrow(f, &["--", "cat", &format!("/proc/self/{file}")]);
        ensure!(out.code() == 0 && out.stderr.is_empty(), "cat {file}: {out}");
        let map = parse_map_file(&out.stdout).ok_or_else(|| format!("{file} does not parse: {:?}", out.stdout))?;
        ensure_eq!(
            map,
            vec![m(0, own, 1), m(1, sub.start(), sub.count().min(65536))],
            "{file} inside"
        );
    }
    Ok(())
}

/// A caller whose uid and gid name nobody (glibc's NSS then asks every
/// source nsswitch.conf lists, loading their modules: a statically linked
/// burrow died of SIGSEGV here): no subordinate ids can be granted to it by
/// name, so only its own ids are mapped, with the notice.
fn container_for_caller_without_names(f: &Fixture) -> Result<(), Failed> {
    let id = unnamed_id().ok_or("no unnamed id")?;
    // Its own rootfs: the test user's would draw the unmapped-rootfs warning.
    let root = f.fresh_rootfs();
    burrow_tests::rootfs::chown_tree(&root, id, id).expect("chown the rootfs");
    let mut cmd = Command::new(&f.burrow);
    cmd.args(["run", "--rootfs"])
        .arg(&root)
        .args(["--", "cat", "/proc/self/uid_map"])
        .uid(id)
        .gid(id)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir("/");
    process::die_with_parent(&mut cmd);
    let out = run(cmd);
    let notice = format!(
        "burrow: no subordinate uids or gids for you in /etc/subuid and /etc/subgid: \
         only your own uid {id} and gid {id} are mapped (as 0)\n"
    );
    ensure_eq!(
        (out.code(), out.stderr.as_str()),
        (0, notice.as_str()),
        "exit code and stderr"
    );
    ensure_eq!(parse_map_file(&out.stdout), Some(vec![m(0, id, 1)]), "uid_map inside");
    Ok(())
}

fn container_custom_maps(f: &Fixture) -> Result<(), Failed> {
    let (u, g) = (f.user.uid, f.user.gid);
    let uidmap = format!("0:{u}:1");
    let gidmap = format!("0:{g}:1");
    for file in ["uid_map", "gid_map"] {
        let path = format!("/proc/self/{file}");
        let out = burrow(f, &["--uidmap", &uidmap, "--gidmap", &gidmap, "--", "cat", &path]);
        ensure!(out.code() == 0 && out.stderr.is_empty(), "cat {file}: {out}");
        let own = if file == "uid_map" { u } else { g };
        ensure_eq!(parse_map_file(&out.stdout), Some(vec![m(0, own, 1)]), "{file} inside");
    }
    Ok(())
}

fn container_command_is_pid_1(f: &Fixture) -> Result<(), Failed> {
    ensure_ran(&burrow(f, &["--", "sh", "-c", "echo $$"]), "1\n", "echo $$")
}

fn container_sees_only_its_own_processes(f: &Fixture) -> Result<(), Failed> {
    ensure_ran(&burrow(f, &["--", "/bin/probe", "pids"]), "1\n", "probe pids")?;
    let out = burrow(f, &["--", "ps", "-o", "pid,comm"]);
    ensure!(out.code() == 0 && out.stderr.is_empty(), "ps: {out}");
    let rows: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    ensure_eq!(rows, vec![vec!["1", "ps"]], "ps inside");
    Ok(())
}

fn container_hostname(f: &Fixture) -> Result<(), Failed> {
    ensure_ran(&burrow(f, &["--", "hostname"]), "burrow\n", "default hostname")?;
    ensure_ran(
        &burrow(f, &["--hostname", "box", "--", "hostname"]),
        "box\n",
        "--hostname box",
    )
}

fn container_root_is_the_rootfs(f: &Fixture) -> Result<(), Failed> {
    let root = f.fresh_rootfs();
    let before = entries(&root);
    ensure!(!before.contains("home"), "the test rootfs must not have /home");
    let out = in_rootfs(f, &root, &["--", "ls", "-1a", "/"]);
    ensure!(out.code() == 0 && out.stderr.is_empty(), "ls -1a /: {out}");
    let inside: BTreeSet<String> = out.stdout.lines().map(str::to_owned).collect();
    let mut expected = before.clone();
    expected.extend([".".to_owned(), "..".to_owned()]);
    ensure_eq!(inside, expected, "ls -1a / inside");
    ensure_eq!(entries(&root), before, "the rootfs's entries on the host after the run");

    // The host's /home is not there.
    let out = in_rootfs(f, &root, &["--", "ls", "/home"]);
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (1, "", "ls: /home: No such file or directory\n"),
        "ls /home"
    );

    // Nor is any other host file: a marker next to the rootfs is not found
    // anywhere (while /bin/probe is, so the search works).
    let marker = f.scratch("host-marker");
    fs::write(&marker, "").expect("create the marker");
    let name = marker.file_name().expect("a name").to_str().expect("UTF-8");
    let find = [
        "find", "/", "-path", "/proc", "-prune", "-o", "-path", "/sys", "-prune", "-o",
    ];
    let mut args = vec!["--"];
    args.extend(find);
    args.extend(["(", "-name", name, "-o", "-name", "probe", ")", "-print"]);
    ensure_ran(&in_rootfs(f, &root, &args), "/bin/probe\n", "find the host marker")
}

fn container_network_has_only_lo(f: &Fixture) -> Result<(), Failed> {
    let out = burrow(f, &["--", "cat", "/proc/net/dev"]);
    ensure!(out.code() == 0 && out.stderr.is_empty(), "cat /proc/net/dev: {out}");
    let names: Vec<&str> = out
        .stdout
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    ensure_eq!(names, vec!["lo"], "interfaces in /proc/net/dev");

    let out = burrow(f, &["--", "ip", "link", "show"]);
    ensure!(out.code() == 0 && out.stderr.is_empty(), "ip link show: {out}");
    // "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 ..."
    let links: Vec<(&str, &str)> = out
        .stdout
        .lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| {
            let mut fields = l.split(": ");
            let _index = fields.next()?;
            Some((fields.next()?, fields.next()?))
        })
        .collect();
    ensure!(
        links.len() == 1 && links[0].0 == "lo",
        "ip link shows more or other than lo: {:?}",
        out.stdout
    );
    let flags = links[0].1.split(['<', '>']).nth(1).unwrap_or("");
    ensure!(
        flags.split(',').any(|flag| flag == "UP"),
        "lo is not up: {:?}",
        out.stdout
    );
    Ok(())
}

/// /dev holds exactly the documented nodes and links, and they work; /proc
/// is a procfs of its own; /sys is read-only.
fn container_has_minimal_dev_and_read_only_sys(f: &Fixture) -> Result<(), Failed> {
    let out = burrow(f, &["--", "ls", "-1", "/dev"]);
    ensure!(out.code() == 0 && out.stderr.is_empty(), "ls /dev: {out}");
    let dev: BTreeSet<&str> = out.stdout.lines().collect();
    let expected: BTreeSet<&str> = [
        "null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm", "fd", "stdin", "stdout", "stderr",
    ]
    .into();
    ensure_eq!(dev, expected, "/dev");
    let script = "echo x > /dev/null && head -c 4 /dev/zero | od -An -tx1 && readlink /dev/fd && readlink /dev/stdin";
    ensure_ran(
        &burrow(f, &["--", "sh", "-c", script]),
        " 00 00 00 00\n/proc/self/fd\n/proc/self/fd/0\n",
        "/dev nodes",
    )?;

    let out = burrow(f, &["--", "cat", "/proc/mounts"]);
    ensure!(out.code() == 0 && out.stderr.is_empty(), "cat /proc/mounts: {out}");
    let mounts: Vec<Vec<&str>> = out.stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    let find = |dir: &str| mounts.iter().rev().find(|m| m.get(1) == Some(&dir)).cloned();
    let proc_mount = find("/proc").ok_or("no /proc mount")?;
    ensure_eq!(proc_mount.get(2), Some(&"proc"), "the filesystem at /proc");
    let sys = find("/sys").ok_or("no /sys mount")?;
    ensure!(
        sys.get(3).is_some_and(|o| o.split(',').any(|o| o == "ro")),
        "/sys is not read-only: {sys:?}"
    );
    let out = burrow(f, &["--", "touch", "/sys/x"]);
    ensure!(
        out.code() == 1 && out.stdout.is_empty() && !out.stderr.is_empty(),
        "touch /sys/x: {out}"
    );
    Ok(())
}

fn container_bind_mount_maps_owner(f: &Fixture) -> Result<(), Failed> {
    let dir = f.user_dir("bind", 0o777);
    let bind = format!("{}:/mnt", text(&dir));
    let (subuid, subgid) = (f.user.first_subuid(), f.user.first_subgid());
    let out = burrow(
        f,
        &[
            "--bind",
            &bind,
            "--",
            "/bin/probe",
            "create-as",
            "1000",
            "1000",
            "/mnt/by-1000",
        ],
    );
    ensure_ran(&out, "created /mnt/by-1000\n", "create a file as container uid 1000")?;
    ensure_eq!(
        owner(&dir.join("by-1000")),
        Some((subuid.start() + 999, subgid.start() + 999)),
        "owner on the host of a file made by container uid/gid 1000"
    );
    let out = burrow(
        f,
        &["--bind", &bind, "--", "/bin/probe", "create-as", "0", "0", "/mnt/by-0"],
    );
    ensure_ran(&out, "created /mnt/by-0\n", "create a file as container root")?;
    ensure_eq!(
        owner(&dir.join("by-0")),
        Some((f.user.uid, f.user.gid)),
        "owner on the host of a file made by container root"
    );
    Ok(())
}

fn container_bind_read_only_refuses_writes(f: &Fixture) -> Result<(), Failed> {
    let dir = f.user_dir("bind-ro", 0o755);
    // Writable without :ro ...
    let bind = format!("{}:/mnt", text(&dir));
    ensure_ran(
        &burrow(f, &["--bind", &bind, "--", "touch", "/mnt/rw"]),
        "",
        "touch on a read-write bind",
    )?;
    ensure!(
        dir.join("rw").exists(),
        "the file made through the read-write bind is not on the host"
    );
    // ... and not with it.
    let bind = format!("{}:/mnt:ro", text(&dir));
    let out = burrow(f, &["--bind", &bind, "--", "touch", "/mnt/ro"]);
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (1, "", "touch: /mnt/ro: Read-only file system\n"),
        "touch on a read-only bind"
    );
    ensure!(!dir.join("ro").exists(), "a file appeared through a read-only bind");
    Ok(())
}

fn container_read_only_rootfs(f: &Fixture) -> Result<(), Failed> {
    let root = f.fresh_rootfs();
    ensure_ran(&in_rootfs(f, &root, &["--", "touch", "/x"]), "", "touch /x")?;
    ensure!(root.join("x").exists(), "/x is not in the rootfs on the host");
    let out = in_rootfs(f, &root, &["--read-only", "--", "touch", "/y"]);
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (1, "", "touch: /y: Read-only file system\n"),
        "touch /y with --read-only"
    );
    ensure!(!root.join("y").exists(), "/y appeared in a read-only rootfs");
    // A tmpfs stays writable in a read-only rootfs.
    let out = in_rootfs(f, &root, &["--read-only", "--tmpfs", "/tmp", "--", "touch", "/tmp/z"]);
    ensure_ran(&out, "", "touch /tmp/z on a tmpfs in a read-only rootfs")?;
    ensure!(
        !root.join("tmp/z").exists(),
        "/tmp/z went to the rootfs, not to the tmpfs"
    );
    Ok(())
}

fn container_tmpfs_is_writable(f: &Fixture) -> Result<(), Failed> {
    let root = f.fresh_rootfs();
    let script = "echo hi > /scratch/f && cat /scratch/f && grep ' /scratch ' /proc/mounts";
    let out = in_rootfs(f, &root, &["--tmpfs", "/scratch", "--", "sh", "-c", script]);
    ensure!(out.code() == 0 && out.stderr.is_empty(), "write to a tmpfs: {out}");
    let lines = out.stdout_lines();
    ensure!(lines.len() == 2 && lines[0] == "hi", "write to a tmpfs: {out}");
    let mount: Vec<&str> = lines[1].split_whitespace().collect();
    ensure!(
        mount.get(1..3) == Some(&["/scratch", "tmpfs"][..]),
        "/scratch is not a tmpfs: {:?}",
        lines[1]
    );
    ensure!(!root.join("scratch/f").exists(), "the tmpfs file went to the rootfs");
    Ok(())
}

/// `--tmpfs DST:OPTIONS`, as podman's: the size and mode asked for, burrow's
/// nosuid and nodev kept unless undone; an unknown option starts nothing.
fn container_tmpfs_options(f: &Fixture) -> Result<(), Failed> {
    let script = "stat -c %a /t; grep ' /t ' /proc/mounts";
    let out = burrow(f, &["--tmpfs", "/t:size=64k,mode=700,noexec", "--", "sh", "-c", script]);
    ensure!(out.code() == 0 && out.stderr.is_empty(), "--tmpfs with options: {out}");
    let lines = out.stdout_lines();
    ensure!(lines.len() == 2 && lines[0] == "700", "the tmpfs's mode: {out}");
    let options: Vec<&str> = lines[1]
        .split_whitespace()
        .nth(3)
        .unwrap_or_default()
        .split(',')
        .collect();
    for wanted in ["nosuid", "nodev", "noexec", "size=64k", "mode=700"] {
        ensure!(
            options.contains(&wanted),
            "{wanted} missing from the tmpfs's options {options:?}"
        );
    }
    let out = burrow(f, &["--tmpfs", "/t:suid", "--", "grep", " /t ", "/proc/mounts"]);
    ensure!(
        out.code() == 0 && !out.stdout.contains("nosuid"),
        "--tmpfs /t:suid still nosuid: {out}"
    );
    let out = burrow(f, &["--tmpfs", "/t:size=1q", "--", "true"]);
    ensure_burrow_error(&out, 125, "--tmpfs /t:size=1q")?;
    ensure!(
        out.stderr.contains("bad tmpfs option \"size=1q\""),
        "the error names the option: {out}"
    );
    Ok(())
}

/// podman's short forms and names mean the same here (-e, -w, -v,
/// --volume, --workdir, --network, --rm accepted); a mistyped option is
/// named with the nearest real one, and not said to come after CMD.
fn container_podman_spellings(f: &Fixture) -> Result<(), Failed> {
    let dir = f.user_dir("spellings", 0o755);
    fs::write(dir.join("f"), "bound\n").expect("write the bind source");
    let bind = format!("{}:/mnt:ro", text(&dir));
    let script = "echo $A; pwd; cat /mnt/f; ip -o link | wc -l";
    let args = [
        "--rm",
        "-e",
        "A=1",
        "-w",
        "/tmp",
        "-v",
        &bind,
        "--network",
        "none",
        "--",
        "sh",
        "-c",
        script,
    ];
    ensure_ran(
        &burrow(f, &args),
        "1\n/tmp\nbound\n1\n",
        "-e, -w, -v, --network none, --rm",
    )?;
    let args = ["--volume", &bind, "--workdir", "/mnt", "--", "cat", "f"];
    ensure_ran(&burrow(f, &args), "bound\n", "--volume, --workdir")?;
    let out = burrow(f, &["--hostnme", "x", "--", "true"]);
    ensure_burrow_error(&out, 125, "--hostnme")?;
    ensure_eq!(
        out.stderr,
        "burrow: unknown option --hostnme (did you mean --hostname?)\n",
        "a mistyped option"
    );
    Ok(())
}

/// `-u UID[:GID]`: the command runs as those ids of the container, with no
/// capabilities (as podman's non-root users); the files it makes are the
/// mapped subordinate ids' on the host; an id the maps do not hold is
/// refused before anything starts.
fn container_runs_as_another_user(f: &Fixture) -> Result<(), Failed> {
    let script = "id -u; id -g; grep -E '^Cap(Eff|Prm)' /proc/self/status; touch /tmp/x; stat -c %u:%g /tmp/x";
    let root = f.fresh_rootfs();
    let out = in_rootfs(f, &root, &["-u", "1000:1001", "--", "sh", "-c", script]);
    ensure_ran(
        &out,
        "1000\n1001\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n1000:1001\n",
        "-u 1000:1001",
    )?;
    let (subuid, subgid) = (f.user.first_subuid(), f.user.first_subgid());
    ensure_eq!(
        owner(&root.join("tmp/x")),
        Some((subuid.start() + 999, subgid.start() + 1000)),
        "the host owner of a file made as 1000:1001"
    );
    let out = burrow(f, &["-u", "70000", "--", "true"]);
    ensure_burrow_error(&out, 125, "-u 70000")?;
    ensure!(
        out.stderr.contains("process.user.uid: 70000 is not mapped"),
        "the error names the id: {out}"
    );
    Ok(())
}

/// `burrow unshare CMD`: root of a user namespace with the default maps
/// (own id as 0, the first subordinate range from 1), in the caller's own
/// mount namespace (the caller's files are there), with CMD's status.
fn unshare_runs_as_root_of_the_default_maps(f: &Fixture) -> Result<(), Failed> {
    let (subuid, subgid) = (f.user.first_subuid(), f.user.first_subgid());
    let script = format!(
        "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; test -x {}",
        text(&f.burrow)
    );
    let mut cmd = f.as_user(&f.burrow);
    cmd.args(["unshare", "sh", "-c", &script]);
    let out = run(cmd);
    let map = |own: u32, sub: u32| format!("{:>10} {:>10} {:>10}\n{:>10} {:>10} {:>10}\n", 0, own, 1, 1, sub, 65536);
    let expected = format!(
        "0\n0\n{}{}",
        map(f.user.uid, subuid.start()),
        map(f.user.gid, subgid.start())
    );
    ensure_ran(&out, &expected, "burrow unshare")?;
    let mut cmd = f.as_user(&f.burrow);
    cmd.args(["unshare", "sh", "-c", "exit 4"]);
    ensure_eq!(run(cmd).code(), 4, "burrow unshare's status");
    Ok(())
}

/// `burrow unshare tar -xpf`: an image's files owned by container ids 0
/// and 5:6 land owned by the caller and by subordinate ids 4 and 5 past
/// the first; a device node cannot be made in a user namespace, which tar
/// says, and everything else is unpacked.
fn unshare_unpacks_an_image_as_its_ids(f: &Fixture) -> Result<(), Failed> {
    let staging = f.scratch("image");
    fs::create_dir_all(staging.join("dev")).expect("mkdir");
    fs::write(staging.join("a"), "a\n").expect("write");
    fs::write(staging.join("b"), "b\n").expect("write");
    std::os::unix::fs::chown(staging.join("b"), Some(5), Some(6)).expect("chown");
    let node = std::ffi::CString::new(text(&staging.join("dev/null"))).expect("no NUL");
    // SAFETY: mknod with a NUL-terminated path and plain integers.
    let made = unsafe { libc::mknod(node.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    ensure!(made == 0, "mknod: {}", std::io::Error::last_os_error());
    let tarball = f.scratch("image.tar");
    let tar = run({
        let mut cmd = Command::new("tar");
        cmd.args(["--numeric-owner", "-cf", text(&tarball), "-C", text(&staging), "."]);
        cmd
    });
    ensure!(tar.code() == 0, "making the image: {tar}");
    fs::set_permissions(&tarball, fs::Permissions::from_mode(0o644)).expect("chmod");
    let dest = f.user_dir("unpacked", 0o755);
    let mut cmd = f.as_user(&f.burrow);
    cmd.args([
        "unshare",
        "tar",
        "--numeric-owner",
        "-xpf",
        text(&tarball),
        "-C",
        text(&dest),
    ]);
    let out = run(cmd);
    ensure!(
        out.code() == 2 && out.stderr.contains("dev/null: Cannot mknod: Operation not permitted"),
        "tar in burrow unshare: {out}"
    );
    let (subuid, subgid) = (f.user.first_subuid(), f.user.first_subgid());
    ensure_eq!(
        owner(&dest.join("a")),
        Some((f.user.uid, f.user.gid)),
        "the owner of a (0:0)"
    );
    ensure_eq!(
        owner(&dest.join("b")),
        Some((subuid.start() + 4, subgid.start() + 5)),
        "the owner of b (5:6)"
    );
    ensure!(!dest.join("dev/null").exists(), "a device node was made");
    Ok(())
}

/// A rootfs whose root the container does not map: one warning that says
/// so and how to fix it, before whatever then fails.
fn container_warns_of_an_unmapped_rootfs(f: &Fixture) -> Result<(), Failed> {
    let root = f.fresh_rootfs();
    burrow_tests::rootfs::chown_tree(&root, 0, 0).expect("chown the rootfs to root");
    let out = in_rootfs(f, &root, &["--", "true"]);
    let first = out.stderr_lines().first().copied().unwrap_or_default().to_owned();
    ensure!(
        first.starts_with(&format!(
            "burrow: --rootfs {}: its root is owned by uid 0, which the container does not map",
            text(&root)
        )) && first.contains("burrow unshare tar -xpf"),
        "the warning: {out}"
    );
    Ok(())
}

/// No --rootfs: the host's programs under a fresh root, and still no /home.
fn container_default_rootfs(f: &Fixture) -> Result<(), Failed> {
    let out = run(f.burrow_run(&["--", "sh", "-c", "echo ok"]));
    ensure_ran(&out, "ok\n", "sh -c 'echo ok' in the default rootfs")?;
    let out = run(f.burrow_run(&["--", "ls", "/home"]));
    ensure!(
        out.code() == 2 && out.stdout.is_empty() && out.stderr.contains("No such file or directory"),
        "ls /home in the default rootfs: {out}"
    );
    Ok(())
}

fn container_environment_is_exactly_documented(f: &Fixture) -> Result<(), Failed> {
    let sorted = |text: &str| -> Vec<String> {
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines.sort();
        lines
    };
    let mut cmd = f.burrow_run(&["--rootfs", text(&f.rootfs), "--env", "A=b", "--", "env"]);
    cmd.env("TERM", "xterm-burrow-test").env("LEAK", "host secret");
    let out = run(cmd);
    ensure!(out.code() == 0 && out.stderr.is_empty(), "env: {out}");
    let expected = [
        CONTAINER_PATH,
        "HOME=/root",
        "TERM=xterm-burrow-test",
        "container=burrow",
        "A=b",
    ];
    ensure_eq!(
        sorted(&out.stdout),
        sorted(&expected.join("\n")),
        "the environment with TERM set"
    );

    let out = burrow(f, &["--", "env"]);
    ensure!(out.code() == 0 && out.stderr.is_empty(), "env: {out}");
    let expected = [CONTAINER_PATH, "HOME=/root", "container=burrow"];
    ensure_eq!(
        sorted(&out.stdout),
        sorted(&expected.join("\n")),
        "the environment without TERM"
    );
    Ok(())
}

fn container_cwd(f: &Fixture) -> Result<(), Failed> {
    ensure_ran(&burrow(f, &["--", "pwd"]), "/\n", "default cwd")?;
    ensure_ran(&burrow(f, &["--cwd", "/tmp", "--", "pwd"]), "/tmp\n", "--cwd /tmp")
}

fn container_exit_statuses(f: &Fixture) -> Result<(), Failed> {
    for (script, code) in [("exit 0", 0), ("exit 3", 3)] {
        let out = burrow(f, &["--", "sh", "-c", script]);
        ensure_eq!(
            (out.code(), out.stdout.as_str(), out.stderr.as_str()),
            (code, "", ""),
            "sh -c '{script}'"
        );
    }
    let out = burrow(f, &["--", "/bin/probe", "exit", "255"]);
    ensure_eq!(out.code(), 255, "probe exit 255: {out}");

    let out = burrow(f, &["--", "/bin/probe", "segv"]);
    ensure_eq!(
        (out.code(), out.stdout.as_str()),
        (128 + libc::SIGSEGV, ""),
        "probe segv: {out}"
    );

    let noexec = format!("/{}", burrow_tests::rootfs::NOEXEC);
    ensure_burrow_error(&burrow(f, &["--", &noexec]), 126, "a file without execute permission")?;
    ensure_burrow_error(&burrow(f, &["--", "/nonexistent"]), 127, "a missing path")?;
    ensure_burrow_error(&burrow(f, &["--", "no-such-command"]), 127, "a command not on PATH")?;
    ensure_burrow_error(
        &burrow(f, &["--no-such-option", "--", "true"]),
        125,
        "an unknown option",
    )
}

/// burrow forwards signals to the container's pid 1, which handles them.
fn container_forwards_signals(f: &Fixture) -> Result<(), Failed> {
    for (signal, name, code) in [
        (libc::SIGTERM, "TERM", 42),
        (libc::SIGINT, "INT", 43),
        (libc::SIGUSR1, "USR1", 44),
    ] {
        let script = format!("trap 'exit {code}' {name}; echo ready; while :; do sleep 0.1; done");
        let mut cmd = f.burrow_in_rootfs(&["--", "sh", "-c", &script]);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut burrow = process::spawn(&mut cmd).expect("start burrow");
        let line = burrow.read_line().expect("read burrow's stdout");
        ensure_eq!(line, "ready\n", "the container's first line");
        burrow.signal(signal).expect("signal burrow");
        let out = burrow.output(None).expect("wait for burrow");
        ensure_eq!(
            (out.code(), out.stdout.as_str(), out.stderr.as_str()),
            (code, "", ""),
            "after SIG{name}"
        );
    }
    Ok(())
}

/// Long enough for any start here; a scenario that waits longer fails.
const DEADLINE: Duration = Duration::from_secs(20);

/// Whether `check` holds within DEADLINE.
fn within_deadline(check: impl FnMut() -> bool) -> bool {
    process::within(DEADLINE, check)
}

/// The state letter of `pid` in /proc/PID/stat ('?' when it is gone).
fn state(pid: u32) -> char {
    process::proc_stat(pid).map_or('?', |stat| stat.state)
}

/// Whether our unreaped child `pid` has exited (a zombie) within DEADLINE.
fn exits_within_deadline(pid: u32) -> bool {
    within_deadline(|| state(pid) == 'Z')
}

/// The container's pid 1: burrow's one child once the container runs.
fn container_init(burrow: u32) -> Result<u32, Failed> {
    let children = process::children_of(burrow);
    match children[..] {
        [init] => Ok(init),
        _ => Err(format!("burrow {burrow} has children {children:?}, expected one").into()),
    }
}

/// Sends `signal` to the process group our child `leader` leads.
fn signal_group(leader: u32, signal: libc::c_int) -> Result<(), Failed> {
    // SAFETY: kill with plain integers; `leader` is our unreaped child, made
    // a group leader at spawn, so the group is the one it leads.
    if unsafe { libc::kill(-(leader as libc::pid_t), signal) } != 0 {
        return Err(format!("signalling process group {leader}: {}", std::io::Error::last_os_error()).into());
    }
    Ok(())
}

/// Guards child.rs's setsid (issue 13, finding 2): the container leaves
/// burrow's session and process group, so kill(0) in it reaches nothing
/// outside its pid namespace. A shell in a process group of its own, as a
/// script running burrow is, traps USR1 and keeps a sibling `sleep` in its
/// group; the container sends USR1, then STOP, to its own process group and
/// exits 7. Without setsid the trap fires, the sleep dies of USR1, and the
/// shell and burrow stop, until the deadline fails the scenario.
fn container_signals_stay_inside(f: &Fixture) -> Result<(), Failed> {
    let script = r#"trap 'echo trapped USR1' USR1
sleep 1000 &
sibling=$!
"$0" run --rootfs "$1" -- sh -c 'kill -USR1 0; kill -STOP 0; exit 7'
echo "burrow exited $?"
awk '/^State:/ { print "sibling", $2 }' /proc/$sibling/status
exec 2>/dev/null
kill $sibling
wait $sibling
exit 0"#;
    let mut cmd = f.as_user("/bin/sh");
    cmd.args(["-c", script, text(&f.burrow), text(&f.rootfs)]);
    // Not the test binary's group, which a broken burrow would let the
    // container stop.
    cmd.process_group(0).stdout(Stdio::piped()).stderr(Stdio::piped());
    let shell = process::spawn(&mut cmd).expect("start the shell");
    if !exits_within_deadline(shell.pid) {
        let stopped: Vec<u32> = process::all_pids()
            .into_iter()
            .filter(|&pid| process::proc_stat(pid).is_ok_and(|stat| stat.state == 'T'))
            .filter(|&pid| process::proc_real_uid(pid).ok() == Some(f.user.uid))
            .collect();
        return Err(format!(
            "the shell running burrow did not finish; stopped processes of the test user: {stopped:?}"
        )
        .into());
    }
    let out = shell.output(None).expect("reap the shell");
    ensure_ran(
        &out,
        "burrow exited 7\nsibling S\n",
        "the shell around burrow: no trap, a sibling still sleeping, burrow's status",
    )?;
    Ok(())
}

/// Guards supervise.rs `pass_on` for the terminal's signals (SI_KERNEL):
/// with the container in a session of its own, ^C on burrow's terminal
/// reaches only burrow's process group, and burrow must pass it on to the
/// container's. burrow leads a new session on a new pty, as a login shell
/// would, with the pty as its stdin; ^C is typed on the pty's master.
/// Skipping the kernel's signals, as burrow did while the container was in
/// its process group, leaves the container running until the deadline.
fn container_gets_the_terminals_interrupt(f: &Fixture) -> Result<(), Failed> {
    let (master, slave) = process::open_pty().map_err(|e| format!("opening a pty: {e}"))?;
    let script = "trap 'exit 42' INT; echo ready; while :; do sleep 0.1; done";
    let mut cmd = f.burrow_in_rootfs(&["--", "sh", "-c", script]);
    process::lead_session_on(&mut cmd, slave);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut burrow = process::spawn(&mut cmd).expect("start burrow");
    ensure_eq!(
        burrow.read_line().expect("read burrow's stdout"),
        "ready\n",
        "the container's first line"
    );
    // The pty's default line discipline turns ^C into SIGINT to its
    // foreground process group: burrow's.
    // Kept open until burrow is reaped: closing it would hang the pty up,
    // another signal for burrow to pass on.
    let mut master = std::fs::File::from(master);
    master.write_all(b"\x03").expect("type ^C");
    ensure!(
        exits_within_deadline(burrow.pid),
        "burrow still runs after ^C on its terminal"
    );
    let out = burrow.output(None).expect("wait for burrow");
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (42, "", ""),
        "after ^C on burrow's terminal"
    );
    drop(master);
    Ok(())
}

/// Guards supervise.rs `stop_as_a_job`: SIGTSTP to burrow's process group,
/// as a terminal's ^Z or a shell's `kill -TSTP %1` sends it, stops the
/// container and burrow, as a shell job; SIGCONT to the group, as `fg`
/// sends it, continues both; then SIGINT to the group, as a terminal's ^C
/// would (here from a process: burrow passes it to pid 1), ends the
/// container with its trap's status. Without stop_as_a_job, burrow either
/// stops alone (SIGTSTP not caught) or not at all (passed to pid 1, which
/// has no handler).
fn container_stops_and_continues_as_a_job(f: &Fixture) -> Result<(), Failed> {
    let script = "trap 'exit 42' INT; echo ready; while :; do sleep 0.1; done";
    let mut cmd = f.burrow_in_rootfs(&["--", "sh", "-c", script]);
    // A group of its own in the test's session, as a shell job's: not an
    // orphaned one, where the kernel would not stop burrow.
    cmd.process_group(0).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut burrow = process::spawn(&mut cmd).expect("start burrow");
    ensure_eq!(
        burrow.read_line().expect("read burrow's stdout"),
        "ready\n",
        "the container's first line"
    );
    let init = container_init(burrow.pid)?;
    signal_group(burrow.pid, libc::SIGTSTP)?;
    ensure!(
        within_deadline(|| state(burrow.pid) == 'T' && state(init) == 'T'),
        "after SIGTSTP: burrow {}, the container's pid 1 {} (expected both stopped, T)",
        state(burrow.pid),
        state(init)
    );
    signal_group(burrow.pid, libc::SIGCONT)?;
    ensure!(
        within_deadline(|| state(burrow.pid) != 'T' && state(init) != 'T'),
        "after SIGCONT: burrow {}, the container's pid 1 {} (expected both running again)",
        state(burrow.pid),
        state(init)
    );
    signal_group(burrow.pid, libc::SIGINT)?;
    ensure!(exits_within_deadline(burrow.pid), "burrow still runs after SIGINT");
    let out = burrow.output(None).expect("wait for burrow");
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (42, "", ""),
        "after SIGTSTP, SIGCONT and SIGINT to burrow's process group"
    );
    Ok(())
}

fn container_pipes_stdin(f: &Fixture) -> Result<(), Failed> {
    let mut cmd = f.burrow_in_rootfs(&["--", "cat"]);
    let out = process::run(&mut cmd, Some(b"hi\n")).expect("run burrow");
    ensure_ran(&out, "hi\n", "cat with stdin from a pipe")
}

/// Neither burrow's own fds nor ones it inherited reach the container (an
/// inherited directory fd would be a host path).
fn container_inherits_only_stdio(f: &Fixture) -> Result<(), Failed> {
    ensure_ran(&burrow(f, &["--", "/bin/probe", "fds"]), "0 1 2\n", "fds inside")?;
    let host_dir = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(&f.dir)
        .expect("open T");
    let mut cmd = f.burrow_in_rootfs(&["--", "/bin/probe", "fds"]);
    process::pass_fd(&mut cmd, host_dir.as_raw_fd(), 5);
    ensure_ran(&run(cmd), "0 1 2\n", "fds inside when burrow inherited fd 5")
}

fn container_setup_errors(f: &Fixture) -> Result<(), Failed> {
    let missing = f.scratch("missing");
    let missing = text(&missing);
    let root = text(&f.rootfs);
    let missing_source = format!("{missing}:/mnt");
    let cases: &[(&str, Vec<&str>)] = &[
        ("a missing rootfs", vec!["--rootfs", missing, "--", "true"]),
        ("no command", vec!["--rootfs", root]),
        (
            "a bind with a missing source",
            vec!["--rootfs", root, "--bind", &missing_source, "--", "true"],
        ),
        (
            "a bind without a destination",
            vec!["--rootfs", root, "--bind", "/tmp", "--", "true"],
        ),
        (
            "a bind with a bad option",
            vec!["--rootfs", root, "--bind", "/tmp:/mnt:rx", "--", "true"],
        ),
    ];
    for (what, args) in cases {
        ensure_burrow_error(&run(f.burrow_run(args)), 125, what)?;
        let leftovers = process::reap_orphans();
        ensure!(leftovers.is_empty(), "{what}: left behind {leftovers:?}");
    }
    Ok(())
}

/// Guards rootfs.rs `needs_no_symlinks` and masked_paths.rs `target`
/// (issue 13, finding 5): a mount point burrow makes itself, or a masked
/// path, that is a symlink is refused with one line naming it, and nothing
/// is left behind. Each image is a copy of the busybox rootfs with one
/// directory replaced by a symlink; the masked path is a symlink in a
/// directory bound over /sys/fs. Without the checks, the mount or the mask
/// follows the symlink inside the root and the container starts.
fn container_refuses_symlinked_mount_points(f: &Fixture) -> Result<(), Failed> {
    let cases = [
        ("proc", "/", "mount: mounting proc on /proc: /proc is a symlink"),
        ("dev", "/tmp", "mount: mounting tmpfs on /dev: /dev is a symlink"),
        ("sys", "/", "mount: mounting sysfs on /sys: /sys is a symlink"),
    ];
    for (dir, target, message) in cases {
        let root = f.fresh_rootfs();
        let path = root.join(dir);
        fs::remove_dir(&path).expect("remove the directory");
        std::os::unix::fs::symlink(target, &path).expect("make the symlink");
        std::os::unix::fs::lchown(&path, Some(f.user.uid), Some(f.user.gid)).expect("chown the symlink");
        let out = in_rootfs(f, &root, &["--", "true"]);
        let line = format!("burrow: container setup failed at {message}\n");
        ensure_eq!(
            (out.code(), out.stdout.as_str(), out.stderr.as_str()),
            (125, "", line.as_str()),
            "/{dir} -> {target} in the rootfs"
        );
        let leftovers = process::reap_orphans();
        ensure!(leftovers.is_empty(), "/{dir} -> {target}: left behind {leftovers:?}");
        fs::remove_dir_all(&root).expect("remove the rootfs copy");
    }

    let fs_dir = f.user_dir("sys-fs", 0o755);
    let link = fs_dir.join("selinux");
    std::os::unix::fs::symlink("/etc", &link).expect("make the symlink");
    std::os::unix::fs::lchown(&link, Some(f.user.uid), Some(f.user.gid)).expect("chown the symlink");
    let bind = format!("{}:/sys/fs", text(&fs_dir));
    let out = burrow(f, &["--bind", &bind, "--", "true"]);
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (
            125,
            "",
            "burrow: container setup failed at masked-paths: masking /sys/fs/selinux: /sys/fs/selinux is a symlink\n"
        ),
        "a masked path that is a symlink"
    );
    let leftovers = process::reap_orphans();
    ensure!(
        leftovers.is_empty(),
        "a symlinked masked path: left behind {leftovers:?}"
    );
    Ok(())
}

/// A map the helper refuses: burrow reports the helper's reason, after
/// `burrow: helper idmap failed: ` (the helper's own `burrow-helper: idmap: `
/// prefix dropped, as in DESIGN.md's example).
fn container_reports_helper_refusal(f: &Fixture) -> Result<(), Failed> {
    let subuid = f.user.first_subuid();
    let entries = read_subid_file(SUBUID_FILE).expect("read /etc/subuid");
    let granted = subid::granted(&entries, &f.user.name, f.user.uid)
        .into_iter()
        .find(|r| r.contains_range(subuid))
        .expect("granted");
    let outside = m(1, granted.end(), 1);
    let uidmap = outside.to_arg();
    let own = format!("0:{}:1", f.user.uid);
    let out = burrow(f, &["--uidmap", &own, "--uidmap", &uidmap, "--", "true"]);
    let line = format!(
        "burrow: helper idmap failed: uid range {outside} is not granted to {} by {SUBUID_FILE}",
        f.user.name
    );
    ensure_eq!(
        (out.code(), out.stdout.as_str(), out.stderr.as_str()),
        (125, "", format!("{line}\n").as_str()),
        "a refused map"
    );
    Ok(())
}

/// A user without subordinate ranges gets only its own id, and a notice.
fn container_without_subordinate_ids(f: &Fixture) -> Result<(), Failed> {
    let name = format!("burrowu{}", std::process::id());
    let user = TestUser::create(&name, &f.scratch("home"), false).map_err(|e| format!("creating {name}: {e}"))?;
    let result = (|| {
        let root = f.fresh_rootfs();
        burrow_tests::rootfs::chown_tree(&root, user.uid, user.gid).expect("chown the rootfs");
        let mut cmd = f.as_other(&user, &f.burrow);
        cmd.args([
            "run",
            "--rootfs",
            text(&root),
            "--",
            "cat",
            "/proc/self/uid_map",
            "/proc/self/gid_map",
        ]);
        let out = run(cmd);
        let lines = out.stderr_lines();
        ensure!(
            out.code() == 0 && lines.len() == 1 && lines[0].starts_with("burrow: "),
            "expected exit 0 and a one-line notice on stderr: {out}"
        );
        let maps = parse_map_file(&out.stdout).ok_or_else(|| format!("maps do not parse: {:?}", out.stdout))?;
        ensure_eq!(
            maps,
            vec![m(0, user.uid, 1), m(0, user.gid, 1)],
            "uid_map and gid_map inside"
        );
        Ok(())
    })();
    let leftovers = kill_processes_of(user.uid);
    let deleted = user.delete();
    result?;
    ensure!(leftovers.is_empty(), "processes of {name} left running: {leftovers:?}");
    deleted.map_err(|e| Failed::from(e.to_string()))
}
