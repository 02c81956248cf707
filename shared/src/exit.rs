//! burrow-helper's exit statuses (sysexits.h numbers), one per kind of
//! failure, so the runner and tests can tell a refusal from a broken policy
//! file or an OS error. SECURITY.md lists the same table.

/// The request was carried out.
pub const OK: i32 = 0;
/// The command line is malformed (EX_USAGE).
pub const USAGE: i32 = 64;
/// An unexpected internal failure, such as a panic (EX_SOFTWARE).
pub const INTERNAL: i32 = 70;
/// A system call failed (EX_OSERR).
pub const OS_ERROR: i32 = 71;
/// Policy refuses the request: nothing was changed (EX_NOPERM).
pub const REFUSED: i32 = 77;
/// A policy file is missing, unsafe (owner, mode) or malformed (EX_CONFIG).
pub const POLICY_FILE: i32 = 78;
