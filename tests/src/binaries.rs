//! Fresh binaries for the integration tests: a nested `cargo build --release`
//! of burrow and burrow-helper, and a static build of the probe, each into
//! its own target directory below the workspace's target/ (so the outer
//! cargo's build lock does not matter). Runs as root in the test binary.

use crate::cgroups;
use crate::netns;
use std::env;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root: the parent of this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

fn cargo() -> OsString {
    env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// A nested cargo that is not steered by the outer build's environment:
/// target dir, flags and the helper's compile-time policy paths are ours.
/// The subordinate id files stay the real /etc/subuid and /etc/subgid (the
/// test users get real entries); the usernet file and the state directory
/// are the fixture's own (see `netns`), and so is the cgroup policy (see
/// `cgroups`: the real /etc/burrow/cgroup is never read), in every build, so
/// that all test binaries share one build of the helper.
fn nested_cargo(target_dir: &Path) -> Command {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(workspace_root());
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "BURROW_SUBUID_FILE",
        "BURROW_SUBGID_FILE",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("BURROW_USERNET_FILE", netns::USERNET_FILE)
        .env("BURROW_STATE_DIR", netns::STATE_DIR)
        .env("BURROW_CGROUP_FILE", cgroups::CGROUP_FILE);
    cmd.args(["build", "--release", "--quiet", "--target-dir"])
        .arg(target_dir);
    cmd
}

fn run_build(cmd: &mut Command) -> io::Result<()> {
    eprintln!("burrow-tests: {cmd:?}");
    let status = cmd.status()?;
    if !status.success() {
        return Err(io::Error::other(format!("{cmd:?}: {status}")));
    }
    Ok(())
}

/// Builds the given packages (e.g. `burrow`, `burrow-helper`) in release
/// mode; returns the directory holding their executables.
pub fn build_release(packages: &[&str]) -> io::Result<PathBuf> {
    let target_dir = workspace_root().join("target").join("integration");
    let mut cmd = nested_cargo(&target_dir);
    for package in packages {
        cmd.args(["-p", package]);
    }
    run_build(&mut cmd)?;
    Ok(target_dir.join("release"))
}

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> io::Result<String> {
    let out = Command::new(env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .arg("-vV")
        .output()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .ok_or_else(|| io::Error::other("rustc -vV printed no host: line"))
}

/// Builds the probe as a static executable and returns its path.
pub fn build_probe() -> io::Result<PathBuf> {
    let triple = host_triple()?;
    let target_dir = workspace_root().join("target").join("integration-probe");
    let mut cmd = nested_cargo(&target_dir);
    cmd.args(["-p", "burrow-tests", "--bin", "probe", "--target", &triple])
        .env("RUSTFLAGS", "-C target-feature=+crt-static");
    run_build(&mut cmd)?;
    let probe = target_dir.join(&triple).join("release").join("probe");
    if !is_static(&probe)? {
        return Err(io::Error::other(format!("{} is not static", probe.display())));
    }
    Ok(probe)
}

/// Whether an ELF64 little-endian executable has no program interpreter
/// (PT_INTERP), i.e. runs without a dynamic loader, as in a busybox rootfs.
pub fn is_static(path: &Path) -> io::Result<bool> {
    let bytes = fs::read(path)?;
    let bad = || io::Error::other(format!("{}: not an ELF64 little-endian file", path.display()));
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        return Err(bad());
    }
    let u16_at = |at: usize| u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize;
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().map_err(|_| bad())?) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    const PT_INTERP: u32 = 3;
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        let p_type = bytes.get(at..at + 4).ok_or_else(bad)?;
        if u32::from_le_bytes(p_type.try_into().map_err(|_| bad())?) == PT_INTERP {
            return Ok(false);
        }
    }
    Ok(true)
}
