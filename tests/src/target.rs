//! Helper targets: a process of the tests' holding still (the probe's
//! `hold`: it prints "ready", then waits for EOF on stdin), with an fd on its
//! /proc/PID directory, as the runner hands one to the helper. Shared by the
//! helper, cgroup and attack scenarios; runs in the test binaries as root.

use crate::Failed;
use crate::fixture::Fixture;
use crate::process::{self, Spawned};
use crate::user::TestUser;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Command, Stdio};

pub struct Target {
    pub process: Spawned,
    pub pid: u32,
    pub proc_dir: File,
}

/// An fd on /proc/PID, as the runner opens it for the helper.
pub fn open_proc_dir(pid: u32) -> Result<File, Failed> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(format!("/proc/{pid}"))
        .map_err(|e| Failed::from(format!("opening /proc/{pid}: {e}")))
}

impl Target {
    /// Starts `cmd` (which must end by running `probe hold`) and waits for
    /// its "ready".
    pub fn start(mut cmd: Command) -> Result<Target, Failed> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut process = process::spawn(&mut cmd).map_err(|e| format!("starting {cmd:?}: {e}"))?;
        let line = process.read_line().map_err(|e| format!("reading from {cmd:?}: {e}"))?;
        crate::ensure_eq!(line, "ready\n", "the target {cmd:?} did not start");
        Target::held(process)
    }

    /// A target from a process that has said "ready" and now holds still.
    pub fn held(process: Spawned) -> Result<Target, Failed> {
        let pid = process.pid;
        let proc_dir = open_proc_dir(pid)?;
        Ok(Target { process, pid, proc_dir })
    }

    /// `user`'s process in a fresh user namespace without maps: what the
    /// runner's container child looks like to the helper.
    pub fn user_ns(f: &Fixture, user: &TestUser) -> Result<Target, Failed> {
        let mut cmd = f.as_other(user, "unshare");
        cmd.args(["--user", "--"]).arg(&f.probe).arg("hold");
        Target::start(cmd)
    }

    /// A file below its /proc/PID.
    pub fn read(&self, file: &str) -> Result<String, Failed> {
        fs::read_to_string(format!("/proc/{}/{file}", self.pid))
            .map_err(|e| Failed::from(format!("reading /proc/{}/{file}: {e}", self.pid)))
    }

    pub fn end(self) -> Result<(), Failed> {
        self.process
            .kill_and_reap()
            .map(drop)
            .map_err(|e| Failed::from(format!("ending the target: {e}")))
    }
}
