//! The command line's options for how a container meets its user and how it
//! ends (runner, unprivileged): a terminal of its own, an init, a system
//! container's boot, its stop signal and reboot rule. Untrusted input: the
//! option values and, for the halt signal, the rootfs's /sbin/init link.

use crate::start::parent::Foreground;
use clap::Args;
use std::path::Path;
use std::time::Duration;

#[derive(Args, Debug, Default)]
pub struct SessionArgs {
    /// Give the container a terminal of its own: a pty of its own devpts, also its
    /// /dev/console, that burrow relays to yours (resizes included)
    #[arg(short = 't', long)]
    pub tty: bool,

    /// With -t, relay your input to the container's terminal, yours in raw mode
    /// until burrow ends (as podman's -it); without -t, stdin is always the container's own
    #[arg(short = 'i', long)]
    pub interactive: bool,

    /// Run a small init as pid 1 in front of CMD: it reaps every process, passes
    /// every signal burrow passes on to CMD's process group, and exits with CMD's status
    #[arg(long)]
    pub init: bool,

    /// Boot CMD as a system container's init (implied when CMD is /sbin/init,
    /// /lib/systemd/systemd or /usr/lib/systemd/systemd): see "System containers" in the README
    #[arg(long)]
    pub boot: bool,

    /// When a system container reboots, end burrow (exit 0) instead of starting it again
    #[arg(long)]
    pub no_reboot: bool,

    /// The signal burrow sends the container when it gets SIGTERM (a name, RTMIN+N
    /// or a number) [default: TERM; for a system container its init's halt signal:
    /// RTMIN+3 for systemd, USR2 for busybox, PWR for others]
    #[arg(long, value_name = "SIGNAL", value_parser = parse_signal)]
    pub stop_signal: Option<i32>,

    /// Seconds after the stop signal before burrow kills the container with SIGKILL
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub stop_timeout: u64,
}

/// The inits whose command makes a container a system container.
const INITS: &[&str] = &["/sbin/init", "/lib/systemd/systemd", "/usr/lib/systemd/systemd"];

impl SessionArgs {
    /// Whether the container boots an init (`--boot`, or the command is one).
    pub fn is_boot(&self, command: &[String]) -> bool {
        self.boot || command.first().is_some_and(|c| INITS.contains(&c.as_str()))
    }

    /// How `burrow run` supervises the container, for `command` in `rootfs`.
    pub fn foreground(&self, command: &[String], rootfs: Option<&Path>) -> Foreground {
        let system = self.is_boot(command);
        let init = init_name(command, rootfs);
        let stop_signal = self.stop_signal.unwrap_or_else(|| match system {
            true => halt_signal(&init),
            false => libc::SIGTERM,
        });
        Foreground {
            interactive: self.interactive,
            system,
            systemd: system && init.contains("systemd"),
            reboot: !self.no_reboot,
            stop_signal,
            stop_timeout: Duration::from_secs(self.stop_timeout),
        }
    }
}

/// The init a system container runs: the command or, for /sbin/init, the
/// link the rootfs has there (read, never followed: the rootfs is the
/// user's).
fn init_name(command: &[String], rootfs: Option<&Path>) -> String {
    let program = command.first().map(String::as_str).unwrap_or_default();
    let link = match (program, rootfs) {
        ("/sbin/init", Some(root)) => std::fs::read_link(root.join("sbin/init")).ok(),
        _ => None,
    };
    link.as_deref()
        .map_or(program.to_owned(), |link| link.to_string_lossy().into_owned())
}

/// A system container's halt signal, as lxc-stop chooses it: SIGRTMIN+3
/// for systemd, SIGUSR2 (poweroff) for busybox init, SIGPWR otherwise.
fn halt_signal(name: &str) -> i32 {
    if name.contains("systemd") {
        libc::SIGRTMIN() + 3
    } else if name.contains("busybox") {
        libc::SIGUSR2
    } else {
        libc::SIGPWR
    }
}

/// A signal burrow may pass on and stop with: `signal_number`, but not
/// SIGKILL or SIGSTOP, which nothing can catch (burrow sends SIGKILL itself
/// after the stop timeout).
pub fn parse_signal(text: &str) -> Result<i32, String> {
    match signal_number(text)? {
        libc::SIGKILL | libc::SIGSTOP => Err(format!(
            "{text:?} cannot be caught: give a signal the container can handle (SIGKILL comes after the timeout)"
        )),
        number => Ok(number),
    }
}

/// A signal by name (with or without SIG, any case), RTMIN+N, RTMAX-N, or
/// number: 1 to 31 and the real-time ones (32 and 33 are the C library's
/// own; 0 is no signal).
pub fn signal_number(text: &str) -> Result<i32, String> {
    let bad = || format!("unknown signal {text:?} (a name such as TERM, RTMIN+3, or a number)");
    let name = text.trim_start_matches("SIG");
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    let number = if let Ok(n) = name.parse::<i32>() {
        n
    } else if let Some(offset) = name.strip_prefix("RTMIN") {
        min + offset.strip_prefix('+').map_or(Ok(0), str::parse).map_err(|_| bad())?
    } else if let Some(offset) = name.strip_prefix("RTMAX") {
        max - offset.strip_prefix('-').map_or(Ok(0), str::parse).map_err(|_| bad())?
    } else {
        let upper = format!("SIG{}", name.to_ascii_uppercase());
        nix::sys::signal::Signal::iterator()
            .find(|s| s.as_str() == upper)
            .map(|s| s as i32)
            .ok_or_else(bad)?
    };
    if (1..32).contains(&number) || (min..=max).contains(&number) {
        Ok(number)
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("TERM"), Ok(libc::SIGTERM));
        assert_eq!(parse_signal("SIGPWR"), Ok(libc::SIGPWR));
        assert_eq!(parse_signal("usr2"), Ok(libc::SIGUSR2));
        assert_eq!(parse_signal("RTMIN+3"), Ok(libc::SIGRTMIN() + 3));
        assert_eq!(parse_signal("SIGRTMAX-1"), Ok(libc::SIGRTMAX() - 1));
        assert_eq!(parse_signal("15"), Ok(15));
        for bad in ["KILL", "9", "STOP", "0", "32", "RTMIN+99", "NOPE", "RTMIN+x", ""] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
        assert_eq!(signal_number("KILL"), Ok(libc::SIGKILL));
        assert_eq!(signal_number("9"), Ok(9));
        assert!(signal_number("32").is_err() && signal_number("0").is_err());
    }

    #[test]
    fn system_containers_and_their_halt_signal() {
        let args = SessionArgs::default();
        let command = |c: &str| vec![c.to_owned()];
        assert!(args.is_boot(&command("/sbin/init")));
        assert!(args.is_boot(&command("/lib/systemd/systemd")));
        assert!(!args.is_boot(&command("init")));
        assert!(!args.is_boot(&command("/bin/sh")));
        let boot = SessionArgs {
            boot: true,
            ..SessionArgs::default()
        };
        assert!(boot.is_boot(&command("/bin/sh")));

        let root = std::env::temp_dir().join(format!("burrow-halt-{}", std::process::id()));
        std::fs::create_dir_all(root.join("sbin")).unwrap();
        let halt = |target: &str| {
            let _ = std::fs::remove_file(root.join("sbin/init"));
            std::os::unix::fs::symlink(target, root.join("sbin/init")).unwrap();
            args.foreground(&command("/sbin/init"), Some(&root)).stop_signal
        };
        assert_eq!(halt("/lib/systemd/systemd"), libc::SIGRTMIN() + 3);
        assert_eq!(halt("/bin/busybox"), libc::SIGUSR2);
        assert_eq!(halt("/sbin/sysvinit"), libc::SIGPWR);
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(
            args.foreground(&command("/lib/systemd/systemd"), None).stop_signal,
            libc::SIGRTMIN() + 3
        );
        assert_eq!(args.foreground(&command("/bin/sh"), None).stop_signal, libc::SIGTERM);
    }
}
