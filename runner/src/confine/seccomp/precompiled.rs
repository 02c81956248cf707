//! burrow's default profile, compiled ahead of time: compiling it took the
//! child some 0.2 ms of CPU at every start, for the same program each time.
//!
//! `compile` reads nothing but the spec's seccomp section, so the program
//! is kept with the section it was compiled from, and used for a section
//! equal to it in every field. That section is what profile.rs
//! makes of the default profile for the default capabilities: adding or
//! dropping a capability the profile names in `includes`/`excludes`
//! (`--cap-add SYS_ADMIN`, `--cap-drop SYS_CHROOT`), or another profile,
//! makes another section, which the child compiles as before.
//!
//! The test below fails when the files are not what the default profile
//! compiles to; `BURROW_BLESS=1 cargo test -p burrow seccomp::precompiled`
//! writes them.

use super::Program;
use crate::confine::seccomp::bpf::sock_filter;
use oci_spec::runtime::LinuxSeccomp;
use std::io;

/// The section, as serde_json writes it, and a newline.
const SECTION: &[u8] = include_bytes!("default_section.json");
/// The program, as the kernel's `struct sock_filter` array, little-endian.
const PROGRAM: &[u8] = include_bytes!("default.bpf");

/// The section of burrow's default profile for the default capabilities,
/// as stored: the profile has no `minKernel` rule, so it is the same on every
/// kernel, and reading it costs the runner a third of resolving the profile
/// (some 0.1 ms less a start).
pub fn default_section() -> Option<LinuxSeccomp> {
    serde_json::from_slice(SECTION).ok()
}

/// The precompiled program, if `seccomp` is the section it was compiled from.
pub fn lookup(seccomp: &LinuxSeccomp) -> Option<Program> {
    is_section(seccomp).then(decode)
}

/// Compares `seccomp`'s serialization with SECTION as it is written: no
/// allocation, and the first difference ends it.
fn is_section(seccomp: &LinuxSeccomp) -> bool {
    let mut rest = Rest(SECTION);
    serde_json::to_writer(&mut rest, seccomp).is_ok() && rest.0 == b"\n"
}

/// What is left of SECTION to compare.
struct Rest(&'static [u8]);

impl io::Write for Rest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let rest = self.0.strip_prefix(buf).ok_or(io::ErrorKind::InvalidData)?;
        self.0 = rest;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn decode() -> Program {
    let decode = |i: &[u8]| sock_filter {
        code: u16::from_le_bytes([i[0], i[1]]),
        jt: i[2],
        jf: i[3],
        k: u32::from_le_bytes([i[4], i[5], i[6], i[7]]),
    };
    PROGRAM.chunks_exact(8).map(decode).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::confine::seccomp::compile;
    use crate::confine::seccomp::profile;
    use crate::confine::seccomp::tests::default_profile;
    use crate::spec::defaults;
    use caps::Capability;

    fn encode(program: &[sock_filter]) -> Vec<u8> {
        let encode = |i: &sock_filter| {
            let mut bytes = i.code.to_le_bytes().to_vec();
            bytes.extend([i.jt, i.jf]);
            bytes.extend(i.k.to_le_bytes());
            bytes
        };
        program.iter().flat_map(encode).collect()
    }

    #[test]
    fn the_files_are_what_the_default_profile_compiles_to() {
        let section = default_profile(defaults::CAPABILITIES);
        let mut json = serde_json::to_vec(&section).unwrap();
        json.push(b'\n');
        let program = encode(&compile(&section).unwrap());
        if std::env::var_os("BURROW_BLESS").is_some() {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/confine/seccomp");
            std::fs::write(dir.join("default_section.json"), &json).unwrap();
            std::fs::write(dir.join("default.bpf"), &program).unwrap();
            return;
        }
        assert!(
            SECTION == json && PROGRAM == program,
            "runner/src/confine/seccomp/default_section.json and default.bpf are not what the default profile \
             compiles to: write them with BURROW_BLESS=1 cargo test -p burrow seccomp::precompiled, and review the diff"
        );
        assert_eq!(lookup(&section).map(|p| encode(&p)), Some(program));
        // The runner takes the stored section for the default profile and
        // capabilities on any kernel: it must be the profile's, and kernel-free.
        assert!(!profile::DEFAULT_PROFILE.contains("minKernel"));
        assert_eq!(super::default_section(), Some(section));
    }

    #[test]
    fn other_sections_are_compiled() {
        let without = |cap| {
            defaults::CAPABILITIES
                .iter()
                .copied()
                .filter(|&c| c != cap)
                .collect::<Vec<_>>()
        };
        let mut admin = defaults::CAPABILITIES.to_vec();
        admin.push(Capability::CAP_SYS_ADMIN);
        for caps in [admin, without(Capability::CAP_SYS_CHROOT), Vec::new()] {
            assert!(lookup(&default_profile(&caps)).is_none(), "{caps:?}");
        }
        // A capability the profile does not name makes the same section.
        let mut section = default_profile(defaults::CAPABILITIES);
        assert_eq!(default_profile(&without(Capability::CAP_CHOWN)), section);
        // A difference no capability makes: one errno.
        let mut syscalls = section.syscalls().clone().unwrap();
        let last = syscalls.last_mut().unwrap();
        last.set_errno_ret(Some(last.errno_ret().unwrap_or(1) + 1));
        section.set_syscalls(Some(syscalls));
        assert!(lookup(&section).is_none());
    }
}
