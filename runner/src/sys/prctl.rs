//! The prctl(2) options nix has no safe function for (runner's child): the
//! Yama ptracer exception, and the bounding and ambient capability sets.
//! nix's `set_dumpable`, `set_no_new_privs` and `set_pdeathsig` cover the
//! rest.

use std::io;

/// prctl with integer arguments only: the result, or the errno.
fn prctl(option: libc::c_int, arg2: libc::c_ulong, arg3: libc::c_ulong) -> io::Result<libc::c_int> {
    // SAFETY: these options take plain integers; the kernel reads or writes
    // no memory of ours.
    let ret = unsafe { libc::prctl(option, arg2, arg3, 0 as libc::c_ulong, 0 as libc::c_ulong) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret)
}

/// PR_SET_PTRACER: lets any process ptrace this one under Yama's
/// ptrace_scope 1 (`any`), or withdraws that exception. Fails with EINVAL
/// without Yama.
pub fn set_ptracer_any(any: bool) -> io::Result<()> {
    let ptracer = if any { libc::PR_SET_PTRACER_ANY } else { 0 };
    prctl(libc::PR_SET_PTRACER, ptracer, 0).map(drop)
}

/// PR_CAPBSET_READ: whether capability `index` is in the bounding set; an
/// error (EINVAL) past the last capability the kernel knows.
pub fn bounding_set_has(index: u8) -> io::Result<bool> {
    prctl(libc::PR_CAPBSET_READ, index.into(), 0).map(|present| present == 1)
}

/// PR_CAPBSET_DROP: removes capability `index` from the bounding set.
pub fn drop_from_bounding_set(index: u8) -> io::Result<()> {
    prctl(libc::PR_CAPBSET_DROP, index.into(), 0).map(drop)
}

/// PR_CAP_AMBIENT_CLEAR_ALL: empties the ambient set.
pub fn clear_ambient_set() -> io::Result<()> {
    prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0).map(drop)
}

/// PR_CAP_AMBIENT_RAISE: adds capability `index` to the ambient set.
pub fn raise_ambient(index: u8) -> io::Result<()> {
    prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
        index.into(),
    )
    .map(drop)
}
