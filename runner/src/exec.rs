//! The last step of the child: find the command in the container's PATH and
//! execve it (runner's child, inside the container root). Returns only on
//! failure, with the errno that decides burrow's status: ENOENT means "not
//! found" (127), anything else "cannot execute" (126).

use std::ffi::CString;
use std::io;

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub fn exec(args: &[String], env: &[String]) -> io::Error {
    let to_c = |s: &String| CString::new(s.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL));
    let (argv, envp) = match (
        args.iter().map(to_c).collect::<io::Result<Vec<_>>>(),
        env.iter().map(to_c).collect::<io::Result<Vec<_>>>(),
    ) {
        (Ok(argv), Ok(envp)) => (argv, envp),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let Some(command) = args.first() else {
        return io::Error::from_raw_os_error(libc::ENOENT);
    };
    if command.contains('/') {
        return execve(&argv[0], &argv, &envp);
    }
    let path = env
        .iter()
        .find_map(|var| var.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    // As execvp: try each directory; remember a permission error, but keep
    // looking in case a later directory holds an executable one.
    let mut denied = None;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let Ok(candidate) = CString::new(format!("{dir}/{command}")) else {
            continue;
        };
        let error = execve(&candidate, &argv, &envp);
        match error.raw_os_error() {
            Some(libc::ENOENT | libc::ENOTDIR) => {}
            Some(libc::EACCES) => denied = Some(error),
            _ => return error,
        }
    }
    denied.unwrap_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
}

fn execve(path: &CString, argv: &[CString], envp: &[CString]) -> io::Error {
    let argv_ptrs: Vec<*const libc::c_char> = argv
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp_ptrs: Vec<*const libc::c_char> = envp
        .iter()
        .map(|e| e.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    // SAFETY: path, argv and envp are NUL-terminated strings in NULL-terminated
    // arrays that outlive the call; execve returns only on failure.
    unsafe { libc::execve(path.as_ptr(), argv_ptrs.as_ptr(), envp_ptrs.as_ptr()) };
    io::Error::last_os_error()
}
