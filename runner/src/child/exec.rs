//! The last step of the child: find the command in the container's PATH and
//! execve it (runner's child, inside the container root). Returns only on
//! failure, with the errno that decides burrow's status: ENOENT means "not
//! found" (127), anything else "cannot execute" (126).

use crate::spec::defaults;
use crate::sys::exec::{CStringArray, execve};
use std::ffi::CString;
use std::io;

/// The command, with everything execve needs computed beforehand: after
/// the seccomp filter, the child allocates nothing on the way to exec.
pub struct Prepared {
    /// Each path to try, in order (the command itself when it has a '/').
    candidates: Vec<CString>,
    /// Whether the candidates come from a PATH search.
    searched: bool,
    argv: CStringArray,
    envp: CStringArray,
}

pub fn prepare(args: &[String], env: &[String]) -> io::Result<Prepared> {
    let to_c = |s: &String| CString::new(s.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL));
    let argv = args.iter().map(to_c).collect::<io::Result<Vec<_>>>()?;
    let envp = env.iter().map(to_c).collect::<io::Result<Vec<_>>>()?;
    let Some(command) = args.first() else {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    };
    let searched = !command.contains('/');
    let candidates = if !searched {
        vec![argv[0].clone()]
    } else {
        let path = env
            .iter()
            .find_map(|var| var.strip_prefix("PATH="))
            .unwrap_or(defaults::PATH);
        path.split(':')
            .map(|dir| if dir.is_empty() { "." } else { dir })
            .filter_map(|dir| CString::new(format!("{dir}/{command}")).ok())
            .collect()
    };
    Ok(Prepared {
        candidates,
        searched,
        argv: CStringArray::new(argv),
        envp: CStringArray::new(envp),
    })
}

impl Prepared {
    /// As execvp: try each candidate; remember a permission error, but keep
    /// looking in case a later directory holds an executable one.
    pub fn exec(&self) -> io::Error {
        let mut denied = None;
        for candidate in &self.candidates {
            let error = execve(candidate, &self.argv, &self.envp);
            match error.raw_os_error() {
                Some(libc::ENOENT | libc::ENOTDIR) if self.searched => {}
                Some(libc::EACCES) if self.searched => denied = Some(error),
                _ => return error,
            }
        }
        denied.unwrap_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
    }
}
