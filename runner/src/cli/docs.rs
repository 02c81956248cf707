//! burrow's man pages and shell completions, generated from the clap
//! definitions themselves (clap_mangen, clap_complete), so that they say
//! what the command line does. install.sh installs both.

use crate::cli::Cli;
use crate::error::{Context, Result};
use clap::CommandFactory;
use std::path::Path;

/// Writes burrow's completion script for `shell` to stdout.
pub fn completion(shell: clap_complete::Shell) -> Result<i32> {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "burrow", &mut std::io::stdout());
    Ok(0)
}

/// Writes burrow.1 and burrow-SUBCOMMAND.1 for every visible subcommand
/// into `dir`.
pub fn man_pages(dir: &Path) -> Result<i32> {
    let command = Cli::command();
    let mut pages = vec![("burrow".to_owned(), command.clone())];
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("burrow-{}", sub.get_name());
        let page = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("burrow {}", sub.get_name()));
        pages.push((name, page));
    }
    for (name, page) in pages {
        let path = dir.join(format!("{name}.1"));
        let mut text = Vec::new();
        clap_mangen::Man::new(page)
            .render(&mut text)
            .context(|| format!("rendering {name}.1"))?;
        std::fs::write(&path, text).context(|| format!("writing {}", path.display()))?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_pages_and_completions_name_every_option() {
        let dir = std::env::temp_dir().join(format!("burrow-man-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        man_pages(&dir).unwrap();
        let run = std::fs::read_to_string(dir.join("burrow-run.1")).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        std::fs::remove_dir_all(&dir).unwrap();
        let mut expected: Vec<String> = Cli::command()
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| format!("burrow-{}.1", s.get_name()))
            .chain(["burrow.1".to_owned()])
            .collect();
        expected.sort();
        assert_eq!(names, expected);
        assert!(names.iter().any(|n| n == "burrow-unshare.1") && names.iter().any(|n| n == "burrow-stop.1"));
        assert!(run.contains("burrow run"), "the synopsis names the command as typed");
        let mut bash = Vec::new();
        clap_complete::generate(clap_complete::Shell::Bash, &mut Cli::command(), "burrow", &mut bash);
        let bash = String::from_utf8(bash).unwrap();
        let command = Cli::command();
        let run_command = command.find_subcommand("run").unwrap();
        for long in run_command.get_arguments().filter_map(|a| a.get_long()) {
            // roff escapes every '-'.
            assert!(
                run.contains(&format!("\\-\\-{}", long.replace('-', "\\-"))),
                "--{long} in burrow-run.1"
            );
            assert!(bash.contains(&format!("--{long}")), "--{long} in the bash completion");
        }
    }
}
