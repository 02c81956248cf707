//! One fixture per test binary: fresh release binaries, a temporary
//! directory the test user can traverse, the test user with its
//! subordinate ranges, the helper installed setuid root, and the busybox
//! rootfs. Runs as root; `teardown` undoes all of it and reports anything
//! a test left behind.
//!
//! Layout of the temporary directory T (mode 0755, below /tmp):
//!
//! ```text
//! T/bin/burrow                      0755 root   (the runner finds the helper relative to itself)
//! T/bin/probe                       0755 root   (static; a harmless target process on the host)
//! T/libexec/burrow/burrow-helper    4755 root
//! T/nosuid/burrow-helper            0755 root   (the same binary without the setuid bit)
//! T/rootfs/                         the busybox rootfs, owned by the test user
//! T/home/                           the test user's home
//! T/<name>-<n>                      per-test scratch paths
//! ```
//!
//! For the network scenarios (`Suite::network`) also the helper's usernet
//! file and state directory below /run/burrow-tests, and a network namespace
//! per scenario (`netns`). For the cgroup scenarios
//! (`harness::main_with_cgroup_policy`) the helper's cgroup file there, and
//! at teardown the removal of the test user's delegated cgroups (`cgroups`).

use crate::binaries;
use crate::cgroups;
use crate::netns;
use crate::process::{self, die_with_parent};
use crate::rootfs;
use crate::user::TestUser;
use std::ffi::{CStr, CString, OsStr};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// PATH for processes the tests start as the test user.
pub const USER_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";

pub struct Fixture {
    /// The temporary directory T.
    pub dir: PathBuf,
    pub user: TestUser,
    pub burrow: PathBuf,
    pub helper: PathBuf,
    pub helper_unprivileged: PathBuf,
    pub probe: PathBuf,
    pub rootfs: PathBuf,
    /// The usernet policy and the network namespaces, for network scenarios.
    pub network: Option<netns::Policy>,
    /// The cgroup policy and the cgroup layout, for cgroup scenarios.
    pub cgroup: Option<cgroups::Policy>,
    counter: AtomicU32,
}

fn mkdtemp(template: &str) -> io::Result<PathBuf> {
    let mut bytes = CString::new(template).expect("no NUL").into_bytes_with_nul();
    // SAFETY: a writable NUL-terminated template ending in XXXXXX.
    let ptr = unsafe { libc::mkdtemp(bytes.as_mut_ptr().cast()) };
    if ptr.is_null() {
        return Err(io::Error::last_os_error());
    }
    let path = CStr::from_bytes_with_nul(&bytes).expect("mkdtemp keeps the NUL");
    Ok(PathBuf::from(OsStr::from_bytes(path.to_bytes())))
}

fn mkdir(path: &Path, mode: u32) -> io::Result<()> {
    fs::create_dir_all(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

fn install(src: &Path, dst: &Path, mode: u32) -> io::Result<()> {
    if let Some(parent) = dst.parent() {
        mkdir(parent, 0o755)?;
    }
    fs::copy(src, dst)?;
    std::os::unix::fs::chown(dst, Some(0), Some(0))?;
    // After the chown, which clears set-id bits.
    fs::set_permissions(dst, fs::Permissions::from_mode(mode))
}

fn context<T>(what: &str, result: io::Result<T>) -> Result<T, String> {
    result.map_err(|e| format!("{what}: {e}"))
}

impl Fixture {
    /// Builds `packages` (and the probe) and sets everything up, with the
    /// usernet policy when `network` is set and the cgroup policy when
    /// `cgroup` is. On an error, whatever was already made is removed again.
    pub fn setup(packages: &[&str], network: bool, cgroup: bool) -> Result<Fixture, String> {
        let release = context("building burrow", binaries::build_release(packages))?;
        let probe = context("building the probe", binaries::build_probe())?;
        let busybox = context("busybox", rootfs::find_busybox())?;
        let dir = context("creating the temporary directory", mkdtemp("/tmp/burrow-tests-XXXXXX"))?;
        let user = match context("permissions of the temporary directory", mkdir(&dir, 0o755)).and_then(|()| {
            let name = format!("burrowt{}", std::process::id());
            context(
                "creating the test user",
                TestUser::create(&name, &dir.join("home"), true),
            )
        }) {
            Ok(user) => user,
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let mut fixture = Fixture {
            burrow: dir.join("bin/burrow"),
            helper: dir.join("libexec/burrow/burrow-helper"),
            helper_unprivileged: dir.join("nosuid/burrow-helper"),
            probe: dir.join("bin/probe"),
            rootfs: dir.join("rootfs"),
            dir,
            user,
            network: None,
            cgroup: None,
            counter: AtomicU32::new(0),
        };
        let populated = fixture.populate(&release, &probe, &busybox, packages).and_then(|()| {
            if network {
                fixture.network = Some(netns::Policy::setup(&fixture.user)?);
            }
            if cgroup {
                fixture.cgroup = Some(cgroups::Policy::setup(&fixture.user)?);
            }
            Ok(())
        });
        match populated {
            Ok(()) => Ok(fixture),
            Err(e) => {
                let _ = fixture.teardown();
                Err(e)
            }
        }
    }

    fn populate(&self, release: &Path, probe: &Path, busybox: &Path, packages: &[&str]) -> Result<(), String> {
        if packages.contains(&"burrow") {
            context(
                "installing burrow",
                install(&release.join("burrow"), &self.burrow, 0o755),
            )?;
        }
        if packages.contains(&"burrow-helper") {
            let built = release.join("burrow-helper");
            context("installing the helper", install(&built, &self.helper, 0o4755))?;
            context(
                "installing the helper",
                install(&built, &self.helper_unprivileged, 0o755),
            )?;
        }
        context("installing the probe", install(probe, &self.probe, 0o755))?;
        context(
            "building the rootfs",
            rootfs::build(&self.rootfs, busybox, probe, self.user.uid, self.user.gid),
        )
    }

    /// Removes everything `setup` made. Fails (listing them) if processes
    /// of the test user were still running or something could not be
    /// removed.
    pub fn teardown(self) -> Result<(), String> {
        let mut problems = Vec::new();
        let orphans = process::reap_orphans();
        if !orphans.is_empty() {
            problems.push(format!("left behind: {}", orphans.join(", ")));
        }
        let leftovers = kill_processes_of(self.user.uid);
        if !leftovers.is_empty() {
            problems.push(format!(
                "processes of {} still running: {}",
                self.user.name,
                leftovers.join(", ")
            ));
        }
        if let Some(network) = &self.network {
            problems.extend(network.teardown());
        }
        if let Some(cgroup) = &self.cgroup {
            // After the kill above: removing a cgroup waits for its tasks to exit.
            problems.extend(cgroup.teardown());
        }
        if let Err(e) = self.user.delete() {
            problems.push(e.to_string());
        }
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            problems.push(format!("removing {}: {e}", self.dir.display()));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// A path in T that nothing uses yet (not created).
    pub fn scratch(&self, what: &str) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.dir.join(format!("{what}-{n}"))
    }

    /// A new directory in T owned by the test user, with `mode`.
    pub fn user_dir(&self, what: &str, mode: u32) -> PathBuf {
        let path = self.scratch(what);
        fs::create_dir(&path).expect("create a scratch directory");
        std::os::unix::fs::chown(&path, Some(self.user.uid), Some(self.user.gid)).expect("chown");
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }

    /// A private copy of the rootfs, for tests that write to it or whose
    /// assertions must not see other tests' writes.
    pub fn fresh_rootfs(&self) -> PathBuf {
        let path = self.scratch("rootfs");
        rootfs::copy_tree(&self.rootfs, &path).expect("copy the rootfs");
        path
    }

    /// A command with `user`'s minimal environment, cwd T and stdin from
    /// /dev/null, whose ids are not changed yet (see `as_other`).
    pub fn user_environment(&self, user: &TestUser, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", USER_PATH)
            .env("HOME", &user.home)
            .env("USER", &user.name)
            .env("LOGNAME", &user.name)
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        cmd
    }

    /// A command that runs as `user`, with a minimal environment, cwd T,
    /// stdin from /dev/null, killed if the test binary dies.
    pub fn as_other(&self, user: &TestUser, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = self.user_environment(user, program);
        cmd.uid(user.uid).gid(user.gid);
        die_with_parent(&mut cmd);
        cmd
    }

    /// A command that runs as the test user (see `as_other`).
    pub fn as_user(&self, program: impl AsRef<OsStr>) -> Command {
        self.as_other(&self.user, program)
    }

    /// `T/bin/burrow run ARGS...` as the test user.
    pub fn burrow_run<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = self.as_user(&self.burrow);
        cmd.arg("run").args(args);
        cmd
    }

    /// `burrow run --rootfs T/rootfs ARGS...` as the test user.
    pub fn burrow_in_rootfs<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = self.burrow_run(&["--rootfs"]);
        cmd.arg(&self.rootfs).args(args);
        cmd
    }
}

/// Kills (through a pidfd) every process whose real uid is `uid`; returns
/// their descriptions. Only ever called for our own test users.
pub fn kill_processes_of(uid: u32) -> Vec<String> {
    let mut found = Vec::new();
    for pid in process::all_pids() {
        if process::proc_real_uid(pid).ok() != Some(uid) {
            continue;
        }
        let comm = process::proc_stat(pid).map(|s| s.comm).unwrap_or_default();
        // SAFETY: pidfd_open, then signal through the pidfd after checking
        // the uid again, so a recycled pid is never signalled.
        unsafe {
            let pidfd = libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0);
            if pidfd < 0 {
                continue;
            }
            if process::proc_real_uid(pid).ok() == Some(uid) {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    pidfd,
                    libc::SIGKILL,
                    std::ptr::null::<u8>(),
                    0,
                );
                found.push(format!("pid {pid} ({comm})"));
            }
            libc::close(pidfd as libc::c_int);
        }
    }
    found
}
