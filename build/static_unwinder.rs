//! Build script of burrow and burrow-helper: links GCC's unwinder statically
//! (libgcc_eh.a) on Linux with glibc, so that neither binary needs
//! libgcc_s.so.1: one shared object less for the dynamic loader to find, map
//! and relocate in every process (some 0.09 ms per exec), and for the setuid
//! helper one library less loaded as root. Where the C compiler has no
//! libgcc_eh.a (or when cross-compiling), nothing is emitted and std links
//! libgcc_s as usual.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=../build/static_unwinder.rs");
    println!("cargo:rerun-if-env-changed=CC");
    let cfg = |name| env::var(format!("CARGO_CFG_TARGET_{name}")).unwrap_or_default();
    // `cc` is the host's compiler; a cross build's would need its own.
    if cfg("OS") != "linux" || cfg("ENV") != "gnu" || env::var("TARGET") != env::var("HOST") {
        return;
    }
    if let Some(archive) = libgcc_eh() {
        let dir = archive.parent().expect("an absolute file path has a parent");
        println!("cargo:rustc-link-search=native={}", dir.display());
        // whole-archive: the archive comes before std's rlibs on the link
        // line, and GNU ld (unlike rust-lld) takes from an archive only the
        // members that define symbols undefined so far, so std's _Unwind_*
        // calls would go to libgcc_s. Defined here, they leave libgcc_s
        // unused, and --as-needed (rustc's default) drops it from NEEDED.
        println!("cargo:rustc-link-lib=static:+whole-archive=gcc_eh");
    }
}

/// The path of libgcc_eh.a as `$CC` (else `cc`, which rustc links with)
/// reports it; `None` unless that is an existing absolute path (a file the
/// compiler does not find is echoed back as its bare name).
fn libgcc_eh() -> Option<PathBuf> {
    let cc = env::var_os("CC").unwrap_or_else(|| "cc".into());
    let out = Command::new(cc).arg("-print-file-name=libgcc_eh.a").output().ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim_end());
    (out.status.success() && path.is_absolute() && path.is_file()).then_some(path)
}
