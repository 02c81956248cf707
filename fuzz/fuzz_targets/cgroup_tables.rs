//! The kernel's cgroup tables as the helper parses them: /proc/self/mountinfo
//! (`cgroup_mounts`, for `cgroup` and `cgroup-init`), then /proc/PID/cgroup (`cgroup_path`; a cgroup name may
//! hold a newline, so the caller controls its lines) and `below_root`. The
//! input is the mountinfo text, a NUL byte, then the cgroup file's text.
#![no_main]

use burrow_shared::cgroup_policy::{V1_CONTROLLERS, below_root, cgroup_mounts, cgroup_path};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (mountinfo, cgroup) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &data[..0]),
    };
    let (Ok(mountinfo), Ok(cgroup)) = (std::str::from_utf8(mountinfo), std::str::from_utf8(cgroup)) else {
        return;
    };
    let mounts = cgroup_mounts(mountinfo, false);
    // For an init, the same hierarchies, and perhaps cgroup2 ones besides.
    let for_init = cgroup_mounts(mountinfo, true);
    assert!(mounts.iter().all(|m| for_init.contains(m)));
    assert!(for_init.iter().all(|m| mounts.contains(m) || m.v2));
    for (i, mount) in mounts.iter().enumerate() {
        // One mount per hierarchy; only the controllers the helper delegates.
        assert!(mounts[..i].iter().all(|m| m.dev != mount.dev));
        if mount.v2 {
            assert!(mount.controllers.is_empty());
        } else {
            assert!(!mount.controllers.is_empty() && mount.controllers.is_sorted());
            assert!(mount.controllers.iter().all(|c| V1_CONTROLLERS.contains(&c.as_str())));
        }
        for field in [&mount.dev, &mount.root, &mount.point] {
            assert!(!field.contains([' ', '\n']), "{field:?}");
        }
        // A path is found only in a well-formed table (every line
        // `ID:CONTROLLERS:PATH`), and it is one line's end.
        let Some(path) = cgroup_path(cgroup, mount) else {
            continue;
        };
        assert!(cgroup.lines().all(|l| l.matches(':').count() >= 2), "{cgroup:?}");
        assert!(!path.contains('\n') && cgroup.lines().any(|l| l.ends_with(path)));
        // Below the mount's root: plain components only, and the mount's
        // root followed by them is the path again.
        let Some(parts) = below_root(path, &mount.root) else {
            continue;
        };
        assert!(
            parts.iter().all(|p| !matches!(*p, "" | "." | "..") && !p.contains('/')),
            "{parts:?}"
        );
        assert!(path.ends_with(&parts.join("/")) && path.starts_with(mount.root.trim_end_matches('/')));
    }
});
