//! `burrow run -d` (runner, as the calling user): the container gets a name
//! and a record (state/), and a monitor: burrow itself, forked into a
//! session of its own with its stdio on the container's log, which starts
//! and supervises the container as a foreground burrow does (start/), then
//! records how it ended. The command that ran `burrow run -d` waits until
//! the container's command has been exec'd, prints its id and exits 0; a
//! start that fails is reported as the foreground one is (status 125 to
//! 127), and its name and record are removed again.

use crate::cli::{Restart, RunArgs};
use crate::error::{Error, Result};
use crate::start::idmap::Caller;
use crate::start::monitor;
use crate::start::output::Output;
use crate::start::parent::{self, Detached, Foreground, Lifetime};
use crate::state::record::{Process, Record, STOPPING, Status, now};
use crate::state::{self, Root};
use nix::fcntl::OFlag;
use oci_spec::runtime::Spec;
use std::cell::RefCell;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// What the monitor tells the command that started it, one line: `ok`, or
/// `failed STATUS MESSAGE`.
const OK: &str = "ok";

pub fn run(args: &RunArgs, spec: &Spec, caller: &Caller, settings: Foreground) -> Result<i32> {
    if args.session.tty || args.session.interactive {
        return Err(Error::usage(
            "-d with -t or -i: a detached container's terminal needs `burrow attach`, which burrow does not have yet",
        ));
    }
    let root = Root::open()?;
    let id = monitor::new_id().map_err(|e| Error::os("making a container id", e))?;
    let name = args.name.clone().unwrap_or_else(|| id[..12].to_owned());
    if !state::valid_name(&name) {
        return Err(Error::usage(format!(
            "bad --name {name:?}: use 1 to 64 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
        )));
    }
    let dir = root.create(&name)?;
    let record = Record {
        id: id.clone(),
        name,
        status: Status::Creating,
        init: None,
        monitor: None,
        rootfs: spec.root().as_ref().map(|r| r.path().display().to_string()),
        command: spec
            .process()
            .as_ref()
            .and_then(|p| p.args().clone())
            .unwrap_or_default(),
        created: now(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        stop_signal: settings.stop_signal,
        stop_timeout: settings.stop_timeout.as_secs(),
        exit_status: None,
        finished: None,
        restart: restart_text(args.restart),
        restarts: 0,
    };
    let started = record
        .write(&dir)
        .and_then(|()| start_monitor(spec, caller, (settings, args.restart), &dir, record));
    match started {
        Ok(0) => {
            if let Some(pidfile) = &args.pidfile {
                let pid = Record::read(&dir)?.init.map_or(0, |p| p.pid);
                fs::write(pidfile, format!("{pid}\n"))
                    .map_err(|e| Error::os(format!("writing --pidfile {}", pidfile.display()), e))?;
            }
            println!("{id}");
            Ok(0)
        }
        other => {
            let _ = fs::remove_dir_all(&dir);
            other
        }
    }
}

/// Forks the monitor and waits for its word: 0 once the container runs, or
/// the status of a start that failed (its message printed here).
fn start_monitor(
    spec: &Spec,
    caller: &Caller,
    settings: (Foreground, Restart),
    dir: &Path,
    record: Record,
) -> Result<i32> {
    // Read too: the monitor keeps its newest part under the cap (output.rs).
    let log = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .mode(0o600)
        .open(dir.join("log"))
        .map_err(|e| Error::os(format!("creating {}", dir.join("log").display()), e))?;
    let (word_read, word_write) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::os("creating a pipe", e))?;
    let parent = std::process::id();
    match monitor::fork(&log) {
        // In the fork, whose set-up failed: the command that started it
        // reads no word and says so.
        Err(_) if std::process::id() != parent => std::process::exit(crate::status::FAILED),
        Err(e) => Err(Error::os("starting the monitor", e)),
        Ok(None) => {
            drop(word_read);
            let status = supervise(spec, caller, settings, (dir, record), (log, File::from(word_write)));
            std::process::exit(status)
        }
        Ok(Some(monitor)) => {
            drop(word_write);
            let mut word = String::new();
            let _ = File::from(word_read).read_to_string(&mut word);
            let word = word.trim_end();
            if word == OK {
                return Ok(0);
            }
            // It ends right after saying why: reaped here, not left to init.
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(monitor), None);
            let (status, message) = word
                .strip_prefix("failed ")
                .and_then(|rest| rest.split_once(' '))
                .and_then(|(status, message)| Some((status.parse().ok()?, message.to_owned())))
                .unwrap_or((
                    crate::status::FAILED,
                    "the monitor ended before the container started".to_owned(),
                ));
            eprintln!("burrow: {message}");
            Ok(status)
        }
    }
}

fn restart_text(restart: Restart) -> String {
    match restart {
        Restart::No => "no".to_owned(),
        Restart::Always => "always".to_owned(),
        Restart::OnFailure(None) => "on-failure".to_owned(),
        Restart::OnFailure(Some(most)) => format!("on-failure:{most}"),
    }
}

/// The longest wait before a restart.
const MOST_BACK_OFF: Duration = Duration::from_secs(10);

/// The monitor, once forked (start/monitor.rs): starts the container, says
/// so (or why not) on `word`, supervises it, starts it again as `restart`
/// says, records its end. Returns the monitor's own exit status.
fn supervise(
    spec: &Spec,
    caller: &Caller,
    (settings, restart): (Foreground, Restart),
    (dir, record): (&Path, Record),
    (log, word): (File, File),
) -> i32 {
    let pipe = nix::unistd::pipe2(OFlag::O_CLOEXEC);
    let (Ok((output_read, output_write)), Ok(appender)) = (pipe, log.try_clone()) else {
        return crate::status::FAILED;
    };
    let Ok(output) = Output::new(output_read, appender) else {
        return crate::status::FAILED;
    };
    let output = RefCell::new(output);
    let record = RefCell::new(record);
    let word = RefCell::new(Some(word));
    let started = |pid: libc::pid_t| {
        let mut record = record.borrow_mut();
        record.status = Status::Running;
        record.init = Process::of(pid);
        record.monitor = Process::of(std::process::id() as i32);
        if let Err(e) = lock_and_write(dir, &record) {
            log::warn!("{e:#}");
        }
        if let Some(mut word) = word.borrow_mut().take() {
            let _ = writeln!(word, "{OK}");
        }
    };
    let detached = Detached {
        settings,
        stdio: output_write.as_fd(),
        output: &output,
        started: &started,
    };
    let mut back_off = Duration::from_millis(100);
    let result = loop {
        let result = parent::run(spec, caller, Lifetime::Detached(detached));
        if let Some(mut word) = word.borrow_mut().take() {
            // The container never ran: the command that started it says why.
            let (status, message) = match &result {
                Ok(status) => (*status, "the container ended before it started".to_owned()),
                Err(e) => (e.exit_status(), format!("{e:#}")),
            };
            let _ = writeln!(word, "failed {status} {}", message.replace('\n', " "));
            return status;
        }
        let restarts = record.borrow().restarts;
        match result {
            Ok(status) if restart.again(status, restarts) && !stop_asked(dir, back_off) => {
                log::info!("the container ended with status {status}: starting it again (--restart)");
                let mut record = record.borrow_mut();
                record.restarts += 1;
                record.exit_status = Some(status);
                back_off = (back_off * 2).min(MOST_BACK_OFF);
            }
            result => break result,
        }
    };
    let mut record = record.borrow_mut();
    record.status = Status::Stopped;
    record.finished = Some(now());
    match result {
        Ok(status) => record.exit_status = Some(status),
        Err(e) => log::error!("{e:#}"),
    }
    match lock_and_write(dir, &record) {
        Ok(()) => 0,
        Err(e) => {
            log::error!("{e:#}");
            crate::status::FAILED
        }
    }
}

/// Waits `back_off`, looking for a request to stop (`STOPPING`) meanwhile;
/// whether one came.
fn stop_asked(dir: &Path, back_off: Duration) -> bool {
    let end = Instant::now() + back_off;
    loop {
        if dir.join(STOPPING).exists() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn lock_and_write(dir: &Path, record: &Record) -> Result<()> {
    let _lock = state::lock(dir)?;
    record.write(dir)
}
