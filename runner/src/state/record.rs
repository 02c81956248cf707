//! A container's record, `state.json`: the OCI state's fields (id, status,
//! pid, rootfs, created, annotations) and burrow's (name, its monitor, how
//! it ended). Written whole to a temporary file and renamed into place, so
//! a reader sees the old record or the new one, never half of one.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs;
use std::path::Path;

pub const FILE: &str = "state.json";

/// Where a container is in its life, as `burrow ps` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Its monitor is starting it.
    Creating,
    Running,
    Stopped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Running => "running",
            Status::Stopped => "stopped",
        }
    }
}

/// A process named for sure: its pid and its start time (field 22 of
/// /proc/PID/stat, in clock ticks since boot), which a reused pid does not
/// share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    pub pid: i32,
    pub start_time: u64,
}

impl Process {
    /// The live process `pid` as it is now; `None` if it is gone.
    pub fn of(pid: i32) -> Option<Process> {
        state_and_start(pid).map(|(_, start_time)| Process { pid, start_time })
    }

    /// Whether this very process still runs (a zombie counts as ended).
    pub fn is_alive(&self) -> bool {
        state_and_start(self.pid).is_some_and(|(state, start)| state != "Z" && start == self.start_time)
    }
}

/// Fields 3 (the state letter) and 22 (the start time) of /proc/PID/stat,
/// read after the command name, which may hold spaces and parentheses.
fn state_and_start(pid: i32) -> Option<(String, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some((fields.first()?.to_string(), fields.get(19)?.parse().ok()?))
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub name: String,
    pub status: Status,
    /// The container's pid 1, once it has exec'd.
    pub init: Option<Process>,
    /// The burrow that supervises it.
    pub monitor: Option<Process>,
    /// The rootfs directory, or none for the default root.
    pub rootfs: Option<String>,
    pub command: Vec<String>,
    /// Seconds since the epoch.
    pub created: u64,
    pub annotations: HashMap<String, String>,
    /// What `burrow stop` sends pid 1 first, and how long it waits.
    pub stop_signal: i32,
    pub stop_timeout: u64,
    /// burrow's status for the end of pid 1 (128+N for signal N), once known.
    pub exit_status: Option<i32>,
    pub finished: Option<u64>,
    /// `--restart`'s policy, as given (`no`, `on-failure[:N]`, `always`).
    #[serde(default)]
    pub restart: String,
    /// How often the monitor has started it again.
    #[serde(default)]
    pub restarts: u32,
}

/// The file whose presence tells the monitor not to start the container
/// again: `stop`, `kill` and `rm -f` make it. A file of its own, so that the
/// monitor's next write of the record cannot lose it.
pub const STOPPING: &str = "stopping";

impl Record {
    pub fn read(dir: &Path) -> Result<Record> {
        let path = dir.join(FILE);
        let text = fs::read_to_string(&path).map_err(|e| Error::os(format!("reading {}", path.display()), e))?;
        serde_json::from_str(&text).map_err(|e| Error::config(format!("{}: {e}", path.display())))
    }

    /// Writes the record (a temporary file renamed over the old one).
    pub fn write(&self, dir: &Path) -> Result<()> {
        let (path, temporary) = (dir.join(FILE), dir.join(format!(".{FILE}.new")));
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::config(e.to_string()))?;
        fs::write(&temporary, text + "\n")
            .and_then(|()| fs::rename(&temporary, &path))
            .map_err(|e| Error::os(format!("writing {}", path.display()), e))
    }

    /// The status, with a stale `running` (its monitor gone without saying
    /// how it ended: killed) seen as stopped.
    pub fn current_status(&self) -> Status {
        match (self.status, self.monitor) {
            (Status::Running | Status::Creating, Some(monitor)) if !monitor.is_alive() => Status::Stopped,
            (status, _) => status,
        }
    }
}

/// Seconds since the epoch, now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_liveness() {
        assert!(crate::state::valid_name("web-1.a_b"));
        for bad in ["", ".x", "-x", "a/b", "a b", &"x".repeat(65)] {
            assert!(!crate::state::valid_name(bad), "{bad:?}");
        }
        let me = Process::of(std::process::id() as i32).unwrap();
        assert!(me.is_alive());
        let reused = Process {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!reused.is_alive(), "a pid with another start time is another process");
    }
}
