//! The runner's rooms and what each may import (reviews/runner-layout.md,
//! "What each room may depend on"), checked by a unit test over the source:
//! every `crate::ROOM` a file names must be allowed for the file's room.
//! The test only reads the runner's own source files.
//!
//! Where the layout differs from the review's proposal, and why:
//! - `sync.rs` (the socket, `Step` and `Failure`), `status.rs` (the exit
//!   statuses), `netlink.rs` and `files.rs` (capped reads) stay at the top:
//!   both sides of the start sequence use them, and the review's rule that
//!   child/ never imports start/ leaves no room below either side.
//! - cli/ has `security.rs` (the security options and their parsing),
//!   `confinement.rs` (those options turned into the spec's process and
//!   Linux fields), `limits.rs` (the resource options turned into
//!   `linux.resources`) and `resources.rs` (their clap types): today's files
//!   kept apart rather than merged, so that the move changed no logic.
//! - start/host.rs answers the front ends' questions about burrow's own
//!   process (an fd open?), so that cli/ needs nothing from sys/.
//! - The helper's reply lines (`ok idmap …`) stay written in helper/ and
//!   parsed in start/helper_client.rs: moving them into shared/ would add
//!   some 30 lines to what the helper compiles, whose ceiling is 2,400.

/// Rooms, and the rooms each may use. `main.rs` may use every room. The
/// small modules at the top (`error`, `files`, `log_stderr`, `netlink`,
/// `status`, `sync`) are used on both sides of the start sequence: `sync` is the
/// socket between the host side and the child, with the child's `Failure`.
/// `confine` takes the spec's values as arguments; it may name
/// `spec::defaults` (its tests resolve the default profile for the default
/// capabilities), never the annotations (`NARROW`).
#[cfg(test)]
const ALLOWED: &[(&str, &[&str])] = &[
    (
        "cli",
        &[
            "spec",
            "start",
            "state",
            "confine",
            "error",
            "files",
            "log_stderr",
            "status",
        ],
    ),
    ("spec", &["error"]),
    ("state", &["error"]),
    ("start", &["spec", "child", "sync", "sys", "error", "files", "netlink"]),
    (
        "child",
        &["spec", "confine", "sync", "sys", "files", "netlink", "status"],
    ),
    ("confine", &["spec", "sync", "sys", "files"]),
    ("sys", &[]),
    ("sync", &["sys"]),
    ("error", &["sync", "status"]),
    ("status", &[]),
    ("files", &[]),
    ("log_stderr", &[]),
    ("netlink", &[]),
];

/// Allowed edges that are allowed only to one module of the room used:
/// (from, to, the only path below `crate::` that `from` may name in `to`).
#[cfg(test)]
const NARROW: &[(&str, &str, &str)] = &[("confine", "spec", "spec::defaults")];

/// Edges the layout does not allow yet, each to be removed by the code move
/// that makes it unnecessary (the test fails once one is gone, so that this
/// list only shrinks). None is left.
#[cfg(test)]
const PENDING: &[(&str, &str)] = &[];

#[cfg(test)]
mod tests {
    use super::{ALLOWED, NARROW, PENDING};
    use std::collections::BTreeSet;
    use std::fs;
    use std::path::{Path, PathBuf};

    fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).expect("the runner's source directory") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }

    /// The room of a file: its folder below src/, or its own name there.
    fn room(src: &Path, file: &Path) -> String {
        let relative = file.strip_prefix(src).expect("a file below src/");
        let first = relative.components().next().expect("a path").as_os_str();
        first.to_string_lossy().trim_end_matches(".rs").to_owned()
    }

    /// Every path `crate::NAME[::NAME...]` in `text`, outside `//` comments,
    /// without `crate::`.
    fn paths(text: &str) -> BTreeSet<String> {
        let code = text.lines().map(|l| l.split("//").next().unwrap_or(""));
        let mut found = BTreeSet::new();
        for line in code {
            for (at, _) in line.match_indices("crate::") {
                let path: String = line[at + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_' || *c == ':')
                    .collect();
                let path = path.trim_end_matches(':');
                if !path.is_empty() {
                    found.insert(path.to_owned());
                }
            }
        }
        found
    }

    /// Every `crate::NAME` in `text`, outside `//` comments.
    fn imports(text: &str) -> BTreeSet<String> {
        paths(text)
            .iter()
            .map(|path| path.split("::").next().unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn rooms_import_only_what_the_layout_allows() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        let (mut edges, mut unknown) = (BTreeSet::new(), Vec::new());
        for file in &files {
            let from = room(&src, file);
            // main may use every room; this file names rooms in its test.
            if from == "main" || from == "layout" {
                continue;
            }
            let Some((_, allowed)) = ALLOWED.iter().find(|(r, _)| *r == from) else {
                unknown.push(file.display().to_string());
                continue;
            };
            let text = fs::read_to_string(file).expect("a source file");
            for to in imports(&text) {
                if to != from && !allowed.contains(&to.as_str()) {
                    edges.insert((from.clone(), to, file.display().to_string()));
                }
            }
            for path in paths(&text) {
                let to = path.split("::").next().unwrap_or_default();
                let narrow = NARROW.iter().find(|(f, t, _)| *f == from && *t == to);
                if narrow.is_some_and(|(_, _, only)| path != *only && !path.starts_with(&format!("{only}::"))) {
                    edges.insert((from.clone(), path.clone(), file.display().to_string()));
                }
            }
        }
        assert!(unknown.is_empty(), "files in no room of the layout: {unknown:?}");
        let found: BTreeSet<(&str, &str)> = edges.iter().map(|(f, t, _)| (f.as_str(), t.as_str())).collect();
        let forbidden: Vec<_> = edges
            .iter()
            .filter(|(f, t, _)| !PENDING.contains(&(f.as_str(), t.as_str())))
            .collect();
        assert!(forbidden.is_empty(), "imports the layout does not allow: {forbidden:?}");
        let gone: Vec<_> = PENDING.iter().filter(|edge| !found.contains(edge)).collect();
        assert!(gone.is_empty(), "no longer imported: remove from PENDING: {gone:?}");
    }

    #[test]
    fn imports_are_read_from_code_only() {
        let text = "use crate::spec::{self, x};\n// crate::child is only named\nlet a = crate::sys::mount::f();";
        let names: Vec<String> = imports(text).into_iter().collect();
        assert_eq!(names, ["spec", "sys"]);
        let paths: Vec<String> = paths(text).into_iter().collect();
        assert_eq!(paths, ["spec", "sys::mount::f"]);
    }
}
