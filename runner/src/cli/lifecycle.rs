//! `burrow ps`, `inspect`, `stop`, `kill`, `rm`, `wait` and `logs` (runner,
//! as the calling user): the containers `burrow run -d` started, by their
//! records (state/). A container's pid 1 is signalled only as the process
//! its record names, pid and start time, through a pidfd taken after the
//! check: a reused pid is never hit. A record whose monitor is gone (killed)
//! reads as stopped, its exit status unknown; the container went with it.

use crate::error::{Error, Result};
use crate::start::spawn;
use crate::state::record::{Record, STOPPING, Status, now};
use crate::state::{self, Root};
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Long enough for a monitor between two starts (--restart's longest
/// back-off) to notice a stop and record it.
const MOST_RESTART_WAIT: Duration = Duration::from_secs(15);

/// How often the commands that wait look again.
const POLL: Duration = Duration::from_millis(20);

fn find(root: &Root, name: &str) -> Result<(PathBuf, Record)> {
    let name = root.find(name)?;
    let dir = root.container(&name);
    let record = Record::read(&dir)?;
    Ok((dir, record))
}

/// `burrow ps [-a] [--format json]`.
pub fn ps(all: bool, json: bool) -> Result<i32> {
    let root = Root::open()?;
    let mut records = Vec::new();
    for name in root.names()? {
        if let Ok(record) = Record::read(&root.container(&name)) {
            if all || record.current_status() != Status::Stopped {
                records.push(record);
            }
        }
    }
    records.sort_by_key(|r| r.created);
    if json {
        let shown: Vec<serde_json::Value> = records.iter().map(inspected).collect();
        println!("{}", serde_json::to_string_pretty(&shown).unwrap_or_default());
        return Ok(0);
    }
    println!(
        "{:<14}{:<20}{:<16}{:<14}COMMAND",
        "CONTAINER ID", "NAME", "STATUS", "CREATED"
    );
    for record in &records {
        println!(
            "{:<14}{:<20}{:<16}{:<14}{}",
            &record.id[..12.min(record.id.len())],
            record.name,
            status_text(record),
            ago(record.created),
            record.command.join(" ")
        );
    }
    Ok(0)
}

fn status_text(record: &Record) -> String {
    match (record.current_status(), record.exit_status) {
        (Status::Stopped, Some(status)) => format!("exited ({status})"),
        (Status::Stopped, None) => "stopped".to_owned(),
        (status, _) => status.name().to_owned(),
    }
}

fn ago(then: u64) -> String {
    let seconds = now().saturating_sub(then);
    match seconds {
        0..60 => format!("{seconds}s ago"),
        60..3600 => format!("{}m ago", seconds / 60),
        3600..86400 => format!("{}h ago", seconds / 3600),
        _ => format!("{}d ago", seconds / 86400),
    }
}

/// The OCI state's fields, and burrow's.
fn inspected(record: &Record) -> serde_json::Value {
    let status = record.current_status();
    let pid = record.init.filter(|_| status == Status::Running).map_or(0, |p| p.pid);
    serde_json::json!({
        "ociVersion": "1.2.0",
        "id": record.id,
        "name": record.name,
        "status": status.name(),
        "pid": pid,
        "rootfs": record.rootfs,
        "created": record.created,
        "annotations": record.annotations,
        "command": record.command,
        "exitStatus": record.exit_status,
        "finished": record.finished,
        "restart": record.restart,
        "restarts": record.restarts,
    })
}

/// `burrow inspect NAME...`: a JSON array, one object each.
pub fn inspect(names: &[String]) -> Result<i32> {
    let root = Root::open()?;
    let mut shown = Vec::new();
    for name in names {
        shown.push(inspected(&find(&root, name)?.1));
    }
    println!("{}", serde_json::to_string_pretty(&shown).unwrap_or_default());
    Ok(0)
}

/// Tells the monitor not to start the container again (`--restart`).
fn ask_to_stay_stopped(dir: &std::path::Path) -> Result<()> {
    let path = dir.join(STOPPING);
    fs::write(&path, "").map_err(|e| Error::os(format!("writing {}", path.display()), e))
}

/// Sends `signal` to the container's pid 1, if it still runs; whether it did.
fn signal_init(record: &Record, signal: i32) -> Result<bool> {
    let Some(init) = record.init.filter(|_| record.current_status() == Status::Running) else {
        return Ok(false);
    };
    let Ok(pidfd) = spawn::open_pidfd(init.pid) else {
        return Ok(false);
    };
    // SECURITY: checked after the pidfd exists, which then names this very
    // process: a pid reused since the record was written is not ours.
    if !init.is_alive() {
        return Ok(false);
    }
    spawn::send_signal(&pidfd, signal).map_err(|e| Error::os(format!("signalling {}", record.name), e))?;
    Ok(true)
}

/// Waits until the record says stopped (or its monitor is gone).
fn stopped_within(dir: &std::path::Path, limit: Duration) -> Result<bool> {
    let end = Instant::now().checked_add(limit);
    loop {
        if Record::read(dir)?.current_status() == Status::Stopped {
            return Ok(true);
        }
        if end.is_some_and(|end| Instant::now() >= end) {
            return Ok(false);
        }
        std::thread::sleep(POLL);
    }
}

/// `burrow stop [-t SECS] NAME`: its stop signal, then SIGKILL after SECS
/// (default: the run's --stop-timeout).
pub fn stop(name: &str, timeout: Option<u64>) -> Result<i32> {
    let root = Root::open()?;
    let (dir, record) = find(&root, name)?;
    let timeout = Duration::from_secs(timeout.unwrap_or(record.stop_timeout));
    ask_to_stay_stopped(&dir)?;
    if signal_init(&record, record.stop_signal)? && !stopped_within(&dir, timeout)? {
        signal_init(&Record::read(&dir)?, libc::SIGKILL)?;
    }
    if !stopped_within(&dir, MOST_RESTART_WAIT)? {
        return Err(Error::WrongState {
            what: format!("container {} did not stop, even after SIGKILL", record.name),
        });
    }
    println!("{}", record.name);
    Ok(0)
}

/// `burrow kill [-s SIG] NAME`.
pub fn kill(name: &str, signal: i32) -> Result<i32> {
    let root = Root::open()?;
    let (dir, record) = find(&root, name)?;
    if record.current_status() == Status::Running {
        ask_to_stay_stopped(&dir)?;
    }
    if !signal_init(&record, signal)? {
        return Err(Error::WrongState {
            what: format!("container {} is not running", record.name),
        });
    }
    println!("{}", record.name);
    Ok(0)
}

/// `burrow rm [-f] NAME...`: a running one only with -f (killed first).
pub fn rm(names: &[String], force: bool) -> Result<i32> {
    let root = Root::open()?;
    for name in names {
        let (dir, record) = find(&root, name)?;
        if record.current_status() != Status::Stopped {
            if !force {
                return Err(Error::WrongState {
                    what: format!("container {} is running: stop it first, or use rm -f", record.name),
                });
            }
            ask_to_stay_stopped(&dir)?;
            signal_init(&record, libc::SIGKILL)?;
            if !stopped_within(&dir, MOST_RESTART_WAIT)? {
                return Err(Error::WrongState {
                    what: format!("container {} did not stop after SIGKILL", record.name),
                });
            }
        }
        let _lock = state::lock(&dir)?;
        fs::remove_dir_all(&dir).map_err(|e| Error::os(format!("removing {}", dir.display()), e))?;
        println!("{}", record.name);
    }
    Ok(0)
}

/// `burrow wait NAME`: once it has stopped, prints its exit status.
pub fn wait(name: &str) -> Result<i32> {
    let root = Root::open()?;
    let (dir, _) = find(&root, name)?;
    stopped_within(&dir, Duration::MAX)?;
    match Record::read(&dir)?.exit_status {
        Some(status) => {
            println!("{status}");
            Ok(0)
        }
        None => Err(Error::WrongState {
            what: format!("the exit status of {name} is unknown: its monitor was killed"),
        }),
    }
}

/// `burrow logs [-f] [--tail N] NAME`.
pub fn logs(name: &str, follow: bool, tail: Option<usize>) -> Result<i32> {
    let root = Root::open()?;
    let (dir, _) = find(&root, name)?;
    let path = dir.join("log");
    let mut file = fs::File::open(&path).map_err(|e| Error::os(format!("opening {}", path.display()), e))?;
    let mut text = Vec::new();
    file.read_to_end(&mut text)
        .map_err(|e| Error::os(format!("reading {}", path.display()), e))?;
    let start = match tail {
        Some(lines) => last_lines(&text, lines),
        None => 0,
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&text[start..]);
    let _ = out.flush();
    let mut at = text.len() as u64;
    if !follow {
        return Ok(0);
    }
    loop {
        let done = Record::read(&dir).map_or(true, |r| r.current_status() == Status::Stopped);
        let len = file.metadata().map_or(at, |m| m.len());
        // The log was capped (its oldest part dropped): go on from its start.
        if len < at {
            at = 0;
        }
        if len > at {
            let mut more = Vec::new();
            let read = file.seek(SeekFrom::Start(at)).and_then(|_| file.read_to_end(&mut more));
            if read.is_ok() {
                at += more.len() as u64;
                let _ = out.write_all(&more);
                let _ = out.flush();
            }
        } else if done {
            break;
        } else {
            std::thread::sleep(POLL);
        }
    }
    Ok(0)
}

/// Where the last `lines` lines of `text` begin.
fn last_lines(text: &[u8], lines: usize) -> usize {
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    let mut starts = body
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
        .rev();
    match lines {
        0 => text.len(),
        n => starts.nth(n - 1).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails() {
        let text = b"a\nb\nc\n";
        assert_eq!(&text[last_lines(text, 1)..], b"c\n");
        assert_eq!(&text[last_lines(text, 2)..], b"b\nc\n");
        assert_eq!(&text[last_lines(text, 9)..], b"a\nb\nc\n");
        assert_eq!(&text[last_lines(text, 0)..], b"");
        assert_eq!(&b"x"[last_lines(b"x", 1)..], b"x");
    }
}
