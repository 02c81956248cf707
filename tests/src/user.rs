//! The unprivileged test users: created with useradd, their subordinate
//! ranges read back from /etc/subuid and /etc/subgid (Debian's useradd
//! allocates one by itself; we add one only when it did not), removed with
//! userdel. Runs as root in the test binary.

use crate::process;
use burrow_shared::ids::IdRange;
use burrow_shared::subid::{self, SubidEntry};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const SUBUID_FILE: &str = "/etc/subuid";
pub const SUBGID_FILE: &str = "/etc/subgid";

/// The size of the range we add when useradd allocated none.
const ADDED_RANGE: u32 = 65536;

#[derive(Debug, Clone)]
pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// This user's /etc/subuid entries, in file order.
    pub subuid: Vec<IdRange>,
    /// This user's /etc/subgid entries, in file order.
    pub subgid: Vec<IdRange>,
}

/// Runs a command through `process::run`, so that the orphan check of a
/// concurrent scenario knows it.
fn command_ok(cmd: &mut Command) -> io::Result<()> {
    let out = process::run(cmd, None)?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{cmd:?}: {}: {}",
            out.status,
            out.stderr.trim()
        )));
    }
    Ok(())
}

/// An id, both as uid and as gid, that names nobody in the password and
/// group databases (4000000000 and up): a caller NSS knows nothing of.
pub fn unnamed_id() -> Option<u32> {
    // SAFETY: getpwuid and getgrgid return a pointer into a static buffer,
    // which is only compared with null here.
    let unnamed = |id: u32| unsafe { libc::getpwuid(id).is_null() && libc::getgrgid(id).is_null() };
    (4_000_000_000..4_000_001_000).find(|&id| unnamed(id))
}

/// The entries of a subid file (an absent file has none).
pub fn read_subid_file(path: &str) -> io::Result<Vec<SubidEntry>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io::Error::other(format!("{path}: {e}"))),
    };
    subid::read_lines(text.as_bytes(), subid::parse_line)?.map_err(|e| io::Error::other(format!("{path}: {e}")))
}

fn ranges_of(entries: &[SubidEntry], name: &str, uid: u32) -> Vec<IdRange> {
    let uid = uid.to_string();
    entries
        .iter()
        .filter(|e| e.owner == name || e.owner == uid)
        .map(|e| e.range)
        .collect()
}

/// (uid, gid) from /etc/passwd.
fn passwd_ids(name: &str) -> io::Result<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() >= 4 && fields[0] == name)
        .and_then(|fields| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
        .ok_or_else(|| io::Error::other(format!("{name} is not in /etc/passwd after useradd")))
}

/// A free range `START-END` (inclusive, as usermod takes it), above every
/// range in either file.
fn free_range() -> io::Result<(u32, u32)> {
    let mut end = 100_000u64;
    for path in [SUBUID_FILE, SUBGID_FILE] {
        for entry in read_subid_file(path)? {
            end = end.max(u64::from(entry.range.end()));
        }
    }
    let start = end.div_ceil(u64::from(ADDED_RANGE)) * u64::from(ADDED_RANGE);
    let last = start + u64::from(ADDED_RANGE) - 1;
    if last >= u64::from(u32::MAX) {
        return Err(io::Error::other("no free subordinate id range left"));
    }
    Ok((start as u32, last as u32))
}

impl TestUser {
    /// Creates the user `name` with its home at `home` (which must not
    /// exist). With `subordinate_ids`, makes sure it has a range in both
    /// files; without, makes sure it has none.
    pub fn create(name: &str, home: &Path, subordinate_ids: bool) -> io::Result<TestUser> {
        let mut useradd = Command::new("useradd");
        useradd
            .arg("--create-home")
            .arg("--home-dir")
            .arg(home)
            .args(["--shell", "/bin/sh", "--user-group"]);
        if !subordinate_ids {
            useradd.args(["-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0"]);
        }
        command_ok(useradd.arg(name))?;
        let mut user = TestUser {
            name: name.to_owned(),
            uid: 0,
            gid: 0,
            home: home.to_owned(),
            subuid: Vec::new(),
            subgid: Vec::new(),
        };
        // From here on, a failure must remove the user again.
        match user.finish_create(subordinate_ids) {
            Ok(()) => Ok(user),
            Err(e) => {
                let _ = user.delete();
                Err(e)
            }
        }
    }

    fn finish_create(&mut self, subordinate_ids: bool) -> io::Result<()> {
        (self.uid, self.gid) = passwd_ids(&self.name)?;
        self.reread_subids()?;
        if subordinate_ids && (self.subuid.is_empty() || self.subgid.is_empty()) {
            let (start, last) = free_range()?;
            let range = format!("{start}-{last}");
            let mut usermod = Command::new("usermod");
            if self.subuid.is_empty() {
                usermod.args(["--add-subuids", &range]);
            }
            if self.subgid.is_empty() {
                usermod.args(["--add-subgids", &range]);
            }
            command_ok(usermod.arg(&self.name))?;
            self.reread_subids()?;
        }
        if !subordinate_ids && (!self.subuid.is_empty() || !self.subgid.is_empty()) {
            let mut usermod = Command::new("usermod");
            for r in &self.subuid {
                usermod.args(["--del-subuids", &format!("{}-{}", r.start(), r.end() - 1)]);
            }
            for r in &self.subgid {
                usermod.args(["--del-subgids", &format!("{}-{}", r.start(), r.end() - 1)]);
            }
            command_ok(usermod.arg(&self.name))?;
            self.reread_subids()?;
        }
        let has = !self.subuid.is_empty() && !self.subgid.is_empty();
        let has_none = self.subuid.is_empty() && self.subgid.is_empty();
        if (subordinate_ids && !has) || (!subordinate_ids && !has_none) {
            return Err(io::Error::other(format!(
                "{}: subordinate ranges are {:?} / {:?} after setup",
                self.name, self.subuid, self.subgid
            )));
        }
        Ok(())
    }

    fn reread_subids(&mut self) -> io::Result<()> {
        self.subuid = ranges_of(&read_subid_file(SUBUID_FILE)?, &self.name, self.uid);
        self.subgid = ranges_of(&read_subid_file(SUBGID_FILE)?, &self.name, self.uid);
        Ok(())
    }

    /// The first /etc/subuid range (the one the runner's default map uses).
    pub fn first_subuid(&self) -> IdRange {
        self.subuid[0]
    }

    pub fn first_subgid(&self) -> IdRange {
        self.subgid[0]
    }

    /// Removes the user, its home and (userdel does this) its subid
    /// entries; checks that the entries are gone.
    pub fn delete(&self) -> io::Result<()> {
        let out = process::run(Command::new("userdel").arg("--remove").arg(&self.name), None)?;
        // 12: the home could not be removed; anything else non-zero: the user
        // is still there.
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "userdel --remove {}: {}: {}",
                self.name,
                out.status,
                out.stderr.trim()
            )));
        }
        let mut left = Vec::new();
        for path in [SUBUID_FILE, SUBGID_FILE] {
            if !ranges_of(&read_subid_file(path)?, &self.name, self.uid).is_empty() {
                left.push(path);
            }
        }
        if !left.is_empty() {
            return Err(io::Error::other(format!(
                "userdel left {}'s entries in {}",
                self.name,
                left.join(" and ")
            )));
        }
        Ok(())
    }
}
