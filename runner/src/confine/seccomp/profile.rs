//! seccomp profiles in the OCI / docker JSON format (runner, unprivileged;
//! pure). A profile file is untrusted input: it is parsed strictly (unknown
//! fields are errors, so a misspelt `syscalls` cannot silently allow
//! everything), every error names the field and, for syntax, the line, and
//! the result is the spec's `linux.seccomp` for this container: docker's
//! `includes`/`excludes` (capabilities, architectures, minimum kernel) are
//! decided here against the container's capabilities, and names of other
//! architectures' system calls are dropped.
//!
//! The default profile (`default.json`) is in the same format and
//! goes through the same code.

use crate::confine::capabilities;
use crate::confine::seccomp::syscalls::{self, Lookup};
use caps::CapsHashSet;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder, LinuxSeccompOperator,
    LinuxSyscall, LinuxSyscallBuilder,
};
use serde::Deserialize;

/// burrow's default profile.
pub const DEFAULT_PROFILE: &str = include_str!("default.json");

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Profile {
    default_action: LinuxSeccompAction,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Option<Vec<Arch>>,
    #[serde(default)]
    arch_map: Option<Vec<ArchMap>>,
    #[serde(default)]
    flags: Option<Vec<String>>,
    #[serde(default)]
    listener_path: Option<String>,
    #[serde(default)]
    listener_metadata: Option<String>,
    #[serde(default)]
    syscalls: Option<Vec<Syscall>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ArchMap {
    #[allow(dead_code)]
    architecture: Arch,
    #[serde(default)]
    #[allow(dead_code)]
    sub_architectures: Option<Vec<Arch>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Syscall {
    #[serde(default)]
    names: Option<Vec<String>>,
    /// The older docker format's single name.
    #[serde(default)]
    name: Option<String>,
    action: LinuxSeccompAction,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<Arg>>,
    #[serde(default)]
    #[allow(dead_code)]
    comment: Option<String>,
    #[serde(default)]
    includes: Option<Condition>,
    #[serde(default)]
    excludes: Option<Condition>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Arg {
    index: usize,
    value: u64,
    #[serde(default)]
    value_two: Option<u64>,
    op: LinuxSeccompOperator,
}

/// docker's `includes` / `excludes`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Condition {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// What an `includes`/`excludes` is decided against.
pub struct Context<'a> {
    /// The container's bounding set.
    pub capabilities: &'a CapsHashSet,
    /// The running kernel's (major, minor).
    pub kernel: (u32, u32),
}

/// docker's names for this architecture.
const NATIVE_ARCHES: &[&str] = &["amd64", "x86_64"];

/// The running kernel's version, from uname.
pub fn kernel_version() -> (u32, u32) {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    parse_version(&release).unwrap_or((0, 0))
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Parses `text` (the file `source`, for messages) into the spec's seccomp
/// section for a container in `context`.
pub fn parse(text: &str, context: &Context) -> Result<LinuxSeccomp, String> {
    let deserializer = &mut serde_json::Deserializer::from_str(text);
    let profile: Profile = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        }
    })?;
    resolve(profile, context)
}

fn check_action(action: LinuxSeccompAction, field: &str) -> Result<(), String> {
    match action {
        LinuxSeccompAction::ScmpActNotify => Err(format!(
            "{field}: SCMP_ACT_NOTIFY is not supported (burrow has no seccomp agent)"
        )),
        _ => Ok(()),
    }
}

fn resolve(profile: Profile, context: &Context) -> Result<LinuxSeccomp, String> {
    check_action(profile.default_action, "defaultAction")?;
    if let Some(flag) = profile.flags.iter().flatten().next() {
        return Err(format!("flags: {flag} is not supported"));
    }
    if profile.listener_path.is_some() || profile.listener_metadata.is_some() {
        return Err("listenerPath: seccomp notification is not supported".to_owned());
    }
    // Architectures and archMap only widen a filter to 32-bit system calls,
    // which burrow never allows (see seccomp.rs): they are checked for
    // syntax and otherwise have no effect.
    let _ = (&profile.architectures, &profile.arch_map);
    let mut rules = Vec::new();
    for (index, syscall) in profile.syscalls.into_iter().flatten().enumerate() {
        let field = format!("syscalls[{index}]");
        if let Some(rule) = resolve_syscall(syscall, &field, context)? {
            rules.push(rule);
        }
    }
    let mut seccomp = LinuxSeccompBuilder::default()
        .default_action(profile.default_action)
        .architectures(vec![Arch::ScmpArchX86_64])
        .syscalls(rules);
    if let Some(errno) = profile.default_errno_ret {
        seccomp = seccomp.default_errno_ret(errno);
    }
    seccomp.build().map_err(|e| e.to_string())
}

/// Whether `condition` holds for this container.
fn holds(condition: &Condition, field: &str, context: &Context) -> Result<Vec<bool>, String> {
    let mut results = Vec::new();
    if let Some(caps) = &condition.caps {
        for (index, name) in caps.iter().enumerate() {
            let cap = capabilities::parse_name(name).map_err(|e| format!("{field}.caps[{index}]: {e}"))?;
            results.push(context.capabilities.contains(&cap));
        }
    }
    if let Some(arches) = &condition.arches {
        results.push(arches.iter().any(|a| NATIVE_ARCHES.contains(&a.as_str())));
    }
    if let Some(version) = &condition.min_kernel {
        let wanted =
            parse_version(version).ok_or_else(|| format!("{field}.minKernel: {version:?} is not a version"))?;
        results.push(context.kernel >= wanted);
    }
    Ok(results)
}

fn resolve_syscall(syscall: Syscall, field: &str, context: &Context) -> Result<Option<LinuxSyscall>, String> {
    check_action(syscall.action, &format!("{field}.action"))?;
    // docker: every `includes` must hold, no `excludes` may.
    if let Some(includes) = &syscall.includes {
        if holds(includes, &format!("{field}.includes"), context)?.contains(&false) {
            return Ok(None);
        }
    }
    if let Some(excludes) = &syscall.excludes {
        let excludes = holds(excludes, &format!("{field}.excludes"), context)?;
        // caps: any held capability excludes; arches: the native one excludes.
        if excludes.contains(&true) {
            return Ok(None);
        }
    }
    let (names, names_field) = match (syscall.names, syscall.name) {
        (Some(names), None) => (names, "names"),
        (None, Some(name)) => (vec![name], "name"),
        (Some(_), Some(_)) => return Err(format!("{field}: both names and name")),
        (None, None) => return Err(format!("{field}: no names")),
    };
    if names.is_empty() {
        return Err(format!("{field}.names: empty"));
    }
    let mut native = Vec::new();
    for (index, name) in names.into_iter().enumerate() {
        match syscalls::lookup(&name) {
            Lookup::Number(_) => native.push(name),
            Lookup::OtherArchitecture => {}
            Lookup::Unknown => {
                let at = if names_field == "name" {
                    format!("{field}.name")
                } else {
                    format!("{field}.names[{index}]")
                };
                return Err(format!("{at}: unknown system call {name:?}"));
            }
        }
    }
    let mut args = Vec::new();
    for (index, arg) in syscall.args.into_iter().flatten().enumerate() {
        if arg.index > 5 {
            return Err(format!(
                "{field}.args[{index}].index: {} is not an argument index (0 to 5)",
                arg.index
            ));
        }
        let mut builder = LinuxSeccompArgBuilder::default()
            .index(arg.index)
            .value(arg.value)
            .op(arg.op);
        if let Some(two) = arg.value_two {
            builder = builder.value_two(two);
        }
        args.push(builder.build().map_err(|e| e.to_string())?);
    }
    if native.is_empty() {
        return Ok(None);
    }
    let mut rule = LinuxSyscallBuilder::default().names(native).action(syscall.action);
    if let Some(errno) = syscall.errno_ret {
        rule = rule.errno_ret(errno);
    }
    if !args.is_empty() {
        rule = rule.args(args);
    }
    rule.build().map(Some).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::defaults;
    use caps::Capability;

    fn context(caps: &[Capability]) -> (CapsHashSet, (u32, u32)) {
        (caps.iter().copied().collect(), (6, 18))
    }

    fn parse_with(text: &str, caps: &[Capability]) -> Result<LinuxSeccomp, String> {
        let (set, kernel) = context(caps);
        parse(
            text,
            &Context {
                capabilities: &set,
                kernel,
            },
        )
    }

    fn names(seccomp: &LinuxSeccomp) -> Vec<String> {
        seccomp
            .syscalls()
            .iter()
            .flatten()
            .flat_map(|s| s.names().clone())
            .collect()
    }

    #[test]
    fn default_profile_parses_and_depends_on_capabilities() {
        let plain = parse_with(DEFAULT_PROFILE, defaults::CAPABILITIES).unwrap();
        assert_eq!(plain.default_action(), LinuxSeccompAction::ScmpActErrno);
        let allowed = names(&plain);
        for denied in [
            "keyctl",
            "add_key",
            "request_key",
            "bpf",
            "perf_event_open",
            "kexec_load",
            "kexec_file_load",
            "open_by_handle_at",
            "init_module",
            "finit_module",
            "delete_module",
            "userfaultfd",
            "unshare",
            "setns",
            "mount",
        ] {
            assert!(!allowed.contains(&denied.to_owned()), "{denied} is allowed by default");
        }
        assert!(allowed.contains(&"chroot".to_owned()));
        let mut admin = defaults::CAPABILITIES.to_vec();
        admin.push(Capability::CAP_SYS_ADMIN);
        let enosys = |seccomp: &LinuxSeccomp| -> Vec<String> {
            let rules = seccomp.syscalls().iter().flatten();
            rules
                .filter(|s| s.errno_ret() == Some(38))
                .flat_map(|s| s.names().clone())
                .collect()
        };
        assert_eq!(enosys(&plain), ["clone3"]);
        let with_admin = parse_with(DEFAULT_PROFILE, &admin).unwrap();
        assert!(names(&with_admin).contains(&"unshare".to_owned()));
        assert!(
            enosys(&with_admin).is_empty(),
            "clone3 gets ENOSYS only without SYS_ADMIN"
        );
    }

    #[test]
    fn docker_format_with_other_architectures() {
        let text = r#"{
            "defaultAction": "SCMP_ACT_ERRNO",
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
            "syscalls": [
                {"names": ["read", "chown32"], "action": "SCMP_ACT_ALLOW", "comment": "x"},
                {"names": ["cacheflush"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm"]}},
                {"name": "write", "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
                {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                 "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}
            ]
        }"#;
        let seccomp = parse_with(text, &[]).unwrap();
        assert_eq!(names(&seccomp), ["read", "write", "personality"]);
        let last = &seccomp.syscalls().as_ref().unwrap()[2];
        assert_eq!(last.errno_ret(), Some(38));
        assert_eq!(last.args().as_ref().unwrap()[0].value(), 8);
    }

    #[test]
    fn errors_name_the_field_and_line() {
        let cases = [
            (
                "{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n \"syscals\": []}",
                "syscals: unknown field `syscals`, expected one of `defaultAction`, `defaultErrnoRet`, \
                 `architectures`, `archMap`, `flags`, `listenerPath`, `listenerMetadata`, `syscalls` at line 2 column 10",
            ),
            (
                "{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n \"syscalls\": [{\"names\": [\"read\"],\n \
                 \"action\": \"SCMP_ACT_FOO\"}]}",
                "syscalls[0].action: unknown variant `SCMP_ACT_FOO`, expected one of `SCMP_ACT_KILL`, \
                 `SCMP_ACT_KILL_THREAD`, `SCMP_ACT_KILL_PROCESS`, `SCMP_ACT_TRAP`, `SCMP_ACT_ERRNO`, \
                 `SCMP_ACT_NOTIFY`, `SCMP_ACT_TRACE`, `SCMP_ACT_LOG`, `SCMP_ACT_ALLOW` at line 3 column 25",
            ),
            (
                "{\"syscalls\": []}",
                "missing field `defaultAction` at line 1 column 16",
            ),
            (
                "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\", \"frobnicate\"], \
                 \"action\": \"SCMP_ACT_ERRNO\"}]}",
                "syscalls[0].names[1]: unknown system call \"frobnicate\"",
            ),
            (
                "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \
                 \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 6, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                "syscalls[0].args[0].index: 6 is not an argument index (0 to 5)",
            ),
            (
                "{\"defaultAction\": \"SCMP_ACT_NOTIFY\"}",
                "defaultAction: SCMP_ACT_NOTIFY is not supported (burrow has no seccomp agent)",
            ),
            (
                "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"], \
                 \"action\": \"SCMP_ACT_ERRNO\", \"excludes\": {\"caps\": [\"CAP_NOPE\"]}}]}",
                "syscalls[0].excludes.caps[0]: unknown capability \"CAP_NOPE\"",
            ),
            (
                "{\"defaultAction\": ",
                "defaultAction: EOF while parsing a value at line 1 column 18",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(parse_with(text, &[]).unwrap_err(), message, "{text}");
        }
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("6.18.44-fc-v857"), Some((6, 18)));
        assert_eq!(parse_version("4.8"), Some((4, 8)));
        assert_eq!(parse_version("x"), None);
    }
}
