//! A minimal `log` backend (runner): one `burrow: ...` line per record on
//! stderr, warnings and errors unprefixed, info and debug marked as such.

use log::{Level, LevelFilter, Log, Metadata, Record};

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        match record.level() {
            Level::Error | Level::Warn => eprintln!("burrow: {}", record.args()),
            level => eprintln!("burrow: {}: {}", level.as_str().to_lowercase(), record.args()),
        }
    }

    fn flush(&self) {}
}

pub fn init(level: LevelFilter) {
    static LOGGER: Stderr = Stderr;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}
