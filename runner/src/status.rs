//! burrow's own exit statuses (the container's own status passes through),
//! written once: for burrow's errors (error.rs), the child that could not
//! report its failure (child/mod.rs) and `burrow --help` (cli/mod.rs).

/// burrow failed before the command ran.
pub const FAILED: i32 = 125;
/// The command exists but could not be executed.
pub const NOT_EXECUTABLE: i32 = 126;
/// The command was not found.
pub const NOT_FOUND: i32 = 127;
