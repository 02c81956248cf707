//! The veth operation: a veth pair whose host end sits on an allowed bridge in
//! the helper's network namespace and whose peer is created directly in the
//! caller's target network namespace. Runs in burrow-helper: the lock file is
//! opened as root, everything else as the caller's uid with only
//! CAP_NET_ADMIN permitted, effective only around the netlink calls that
//! need it. Untrusted: the netns fd and the bridge name (argv). Trusted: the
//! caller's real ids and groups, root's usernet file once `policy_file` has
//! checked it, and the kernel's answers.
//!
//! 1. As root: open (create) root's lock file `{STATE_DIR}/usernet-{uid}.lock`,
//!    record the caller's supplementary groups; then drop privilege and
//!    confine (`confine`: no_new_privs, Landlock, seccomp).
//! 2. `verify_target`: the fd is an open network namespace, not the helper's
//!    own, owned by a user namespace the caller owns; the helper's own
//!    network namespace is owned by the initial user namespace.
//! 3. `check`: the caller's allowance on the bridge in usernet (none: refused
//!    before the bridge is looked up); then, under the lock, the bridge exists
//!    and is a bridge, and the caller's live veths on it are fewer.
//! 4. `apply`: create the pair (peer in the target, both at the bridge's
//!    MTU), set the host end's alias, then attach it and bring it up; any
//!    failure after the creation deletes the pair.

use crate::error::Error;
use crate::identity::{self, Caller};
use crate::netlink::Netlink;
use crate::{confine, policy_file, privilege, sys, target};
use burrow_shared::request::VethRequest;
use burrow_shared::usernet::{self, UsernetRule};
use caps::Capability::CAP_NET_ADMIN;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage::{DelLink, GetLink, GetNsId, NewLink, SetLink};
use netlink_packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

pub const USERNET_FILE: &str = match option_env!("BURROW_USERNET_FILE") {
    Some(path) => path,
    None => "/etc/burrow/usernet",
};
pub const STATE_DIR: &str = match option_env!("BURROW_STATE_DIR") {
    Some(path) => path,
    None => "/run/burrow",
};

/// Random names are tried this often when one already exists.
const NAME_TRIES: u32 = 8;
/// At the quota, the count is read again this often, this long apart: the
/// pair of a container that has just ended counts until its namespace's last
/// reference goes, some milliseconds after its last process (a socket closed
/// in it is freed after an RCU grace period).
const QUOTA_TRIES: u32 = 100;
const QUOTA_POLL: std::time::Duration = std::time::Duration::from_millis(3);

/// The bridge as the kernel described it under the lock.
struct Bridge {
    index: u32,
    mtu: u32,
}

/// The operation, from the still-privileged helper to the success line.
pub fn run(request: &VethRequest, fd_open: bool, mut caller: Caller) -> Result<String, Error> {
    // 1.
    let lock = policy_file::open_lock(STATE_DIR, caller.uid)?;
    let supplementary = identity::supplementary_groups("veth")?;
    privilege::drop_to(&caller, &[CAP_NET_ADMIN])?;
    caller.look_up_name()?;
    let groups = identity::group_names(caller.gid, &supplementary)?;
    confine::confine(confine::Operation::Veth)?;
    // 2.
    let target = verify_target(request.netns_fd, fd_open, &caller)?;
    // 3.
    let rules = policy_file::read(USERNET_FILE, usernet::parse_line)?;
    // SECURITY: the kernel judges link changes by the socket opener's
    // capabilities too; CAP_NET_ADMIN is effective only while opening it.
    let mut netlink = privilege::with_effective(&[CAP_NET_ADMIN], || {
        Netlink::open().map_err(|e| Error::os("veth: opening a netlink socket", e))
    })?;
    let bridge = check(request, &caller, &groups, &rules, |allowance| {
        let bridge = find_bridge(&mut netlink, &request.bridge)?;
        // The lock serialises the caller's helpers from the count to the alias.
        sys::lock_exclusive(lock.as_fd()).map_err(|e| Error::os("veth: locking the caller's lock file", e))?;
        let mut count = count_veths(&mut netlink, &bridge, caller.uid)?;
        for _ in 0..QUOTA_TRIES {
            if count < allowance {
                break;
            }
            std::thread::sleep(QUOTA_POLL);
            count = count_veths(&mut netlink, &bridge, caller.uid)?;
        }
        Ok((count, bridge))
    })?;
    // 4.
    let (host, peer) = apply(&mut netlink, &bridge, target, caller.uid)?;
    Ok(format!("ok veth host={host} peer={peer} bridge={}", request.bridge))
}

/// The checks on the netns fd, and on the namespace the host end goes to.
fn verify_target(fd: RawFd, fd_open: bool, caller: &Caller) -> Result<BorrowedFd<'static>, Error> {
    if !fd_open {
        return Err(Error::refused(format!("veth: target fd {fd} is not open")));
    }
    let ns = sys::borrow_fd(fd);
    if !target::is_namespace(ns, libc::CLONE_NEWNET) {
        return Err(Error::refused(format!(
            "veth: target fd {fd} is not a network namespace"
        )));
    }
    let (reading, reading_own) = (
        "veth: reading the target network namespace",
        "veth: reading /proc/self/ns/net",
    );
    let own_net = target::open_own_ns(c"/proc/self/ns/net", "veth")?;
    if target::dev_ino(ns, reading)? == target::dev_ino(own_net.as_fd(), reading_own)? {
        return Err(Error::refused("veth: target network namespace is the host's"));
    }
    // The check lxc-user-nic lacked (CVE-2017-5985): the caller must own the
    // user namespace that owns the network namespace.
    let userns = sys::ns_related(ns, libc::NS_GET_USERNS).map_err(|e| Error::os(reading, e))?;
    let owner = sys::ns_owner_uid(userns.as_fd()).map_err(|e| Error::os(reading, e))?;
    if owner != caller.uid {
        return Err(Error::refused(format!(
            "veth: target network namespace belongs to a user namespace owned by uid {owner}, \
             not by the caller (uid {})",
            caller.uid
        )));
    }
    let own_owner = sys::ns_related(own_net.as_fd(), libc::NS_GET_USERNS).map_err(|e| Error::os(reading_own, e))?;
    let own_user = target::open_own_ns(c"/proc/self/ns/user", "veth")?;
    if target::dev_ino(own_owner.as_fd(), reading_own)? != target::dev_ino(own_user.as_fd(), reading_own)? {
        return Err(Error::refused(
            "veth: the caller's network namespace is not owned by the initial user namespace",
        ));
    }
    Ok(ns)
}

/// The policy decision. The allowance comes first (deny-first: without one,
/// `live` is never called and the bridge never looked up); `live`, given the
/// allowance, then looks the bridge up and counts the caller's live veths on
/// it, under the lock.
pub fn check<T>(
    request: &VethRequest,
    caller: &Caller,
    groups: &[String],
    rules: &[UsernetRule],
    live: impl FnOnce(u32) -> Result<(u32, T), Error>,
) -> Result<T, Error> {
    let (user, bridge) = (caller.display_name(), request.bridge.clone());
    let allowance = usernet::allowance(rules, &caller.subid_owner(), caller.uid, groups, &bridge);
    if allowance == 0 {
        return Err(Error::refused(format!(
            "veth: {user} may not create veths on {bridge} (no entry in {USERNET_FILE})"
        )));
    }
    let (count, found) = live(allowance)?;
    if count >= allowance {
        return Err(Error::refused(format!(
            "veth: {user} has {count} of {allowance} veths allowed on {bridge} by {USERNET_FILE}"
        )));
    }
    Ok(found)
}

/// The alias that marks a host end as one of `uid`'s veths.
fn alias(uid: u32) -> LinkAttribute {
    LinkAttribute::IfAlias(format!("burrow uid={uid}"))
}

/// A link message with these attributes.
fn link(attributes: impl IntoIterator<Item = LinkAttribute>) -> LinkMessage {
    let mut link = LinkMessage::default();
    link.attributes.extend(attributes);
    link
}

fn name(name: &str) -> LinkAttribute {
    LinkAttribute::IfName(name.to_owned())
}

fn find_bridge(netlink: &mut Netlink, bridge: &str) -> Result<Bridge, Error> {
    let no_bridge = |bridge| Error::refused(format!("veth: bridge {bridge} does not exist"));
    let links = match netlink.request(GetLink(link([name(bridge)])), 0) {
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => return Err(no_bridge(bridge)),
        result => result.map_err(|e| Error::os(format!("veth: looking up {bridge}"), e))?,
    };
    // The kernel also finds a link by an alternative name: only its own name counts.
    let Some(found) = links.iter().find(|l| l.attributes.contains(&name(bridge))) else {
        return Err(no_bridge(bridge));
    };
    let (attributes, kind) = (&found.attributes, LinkInfo::Kind(InfoKind::Bridge));
    if !attributes
        .iter()
        .any(|a| matches!(a, LinkAttribute::LinkInfo(i) if i.contains(&kind)))
    {
        return Err(Error::refused(format!("veth: {bridge} is not a bridge")));
    }
    let Some(&LinkAttribute::Mtu(mtu)) = attributes.iter().find(|a| matches!(a, LinkAttribute::Mtu(_))) else {
        return Err(Error::os(format!("veth: looking up {bridge}"), "no MTU in the reply"));
    };
    let index = found.header.index;
    Ok(Bridge { index, mtu })
}

/// Links whose master is the bridge and whose alias is the caller's, except
/// those whose peer's network namespace has no user left: a veth dies with
/// its network namespace, so the count is never stale, and a container that
/// has exited frees its slot at once, though the kernel deletes its pair in
/// the background up to tens of milliseconds later.
fn count_veths(netlink: &mut Netlink, bridge: &Bridge, uid: u32) -> Result<u32, Error> {
    let (master, alias) = (LinkAttribute::Controller(bridge.index), alias(uid));
    let doing = "veth: counting the caller's veths";
    for _ in 0..NAME_TRIES {
        // The kernel filters the dump by master too.
        match netlink.request(GetLink(link([master.clone()])), NLM_F_DUMP) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::os(doing, e)),
            Ok(links) => {
                let mut count = 0u32;
                for l in links
                    .iter()
                    .filter(|l| l.attributes.contains(&master) && l.attributes.contains(&alias))
                {
                    count += u32::from(peer_netns_alive(netlink, &l.attributes).map_err(|e| Error::os(doing, e))?);
                }
                return Ok(count);
            }
        }
    }
    Err(Error::os(doing, "the list of links kept changing"))
}

/// Whether a host end's peer namespace still has a reference. The host end
/// names the peer's namespace by its id here; none: the peer is here (the
/// caller cannot move one into the helper's namespace: that needs
/// CAP_NET_ADMIN over it). The kernel resolves an id (RTM_GETNSID) only
/// while its namespace has a reference, and answers ENOENT once it has none
/// (the pair is then deleted without help, and nothing can enter the
/// namespace again) and for -1, NETNSA_NSID_NOT_ASSIGNED, which it reports
/// while it tears the namespace down.
fn peer_netns_alive(netlink: &mut Netlink, attributes: &[LinkAttribute]) -> io::Result<bool> {
    let Some(&LinkAttribute::LinkNetNsId(id)) = attributes.iter().find(|a| matches!(a, LinkAttribute::LinkNetNsId(_)))
    else {
        return Ok(true);
    };
    let mut query = NsidMessage::default();
    query.attributes.push(NsidAttribute::Id(id));
    match netlink.request(GetNsId(query), 0) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        result => result.map(|_| true),
    }
}

/// Creates the pair and finishes the host end, with CAP_NET_ADMIN effective
/// throughout; on any failure after the creation, deletes the pair and
/// reports the failure.
fn apply(netlink: &mut Netlink, bridge: &Bridge, target: BorrowedFd, uid: u32) -> Result<(String, String), Error> {
    privilege::with_effective(&[CAP_NET_ADMIN], || {
        let (host, peer) = create_pair(netlink, bridge, target)?;
        let mut attach = link([name(&host), LinkAttribute::Controller(bridge.index)]);
        (attach.header.flags, attach.header.change_mask) = (LinkFlags::Up, LinkFlags::Up);
        let shown = &host;
        let failed = |what: &'static str| move |e: io::Error| Error::os(format!("veth: {what} {shown}"), e);
        // SECURITY: the alias is set before the host end joins the bridge,
        // in a request of its own: a helper killed in between leaves a link
        // that is on no bridge (and dies with the target), never an
        // uncounted one on it. Then the bridge check() approved, and up.
        let finished = netlink
            .request(SetLink(link([name(&host), alias(uid)])), 0)
            .map_err(failed("setting the alias of"))
            .and_then(|_| netlink.request(SetLink(attach), 0).map_err(failed("attaching")));
        if let Err(e) = finished {
            // SECURITY: deletes only the link this run has just created, by
            // the name it chose; no delete operation is exposed to callers.
            let _ = netlink.request(DelLink(link([name(&host)])), 0);
            return Err(e);
        }
        Ok((host, peer))
    })
}

/// One RTM_NEWLINK: host end `bh{hex}` here, peer `bc{hex}` created directly
/// in the target namespace (no move), both at the bridge's MTU, down, on no
/// bridge. `hex` is 12 random digits; an existing name is retried.
fn create_pair(netlink: &mut Netlink, bridge: &Bridge, target: BorrowedFd) -> Result<(String, String), Error> {
    let mut tries = 1;
    loop {
        let mut random = [0u8; 6];
        sys::random(&mut random).map_err(|e| Error::os("veth: choosing a name", e))?;
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let (host, peer) = (format!("bh{hex}"), format!("bc{hex}"));
        let mtu = LinkAttribute::Mtu(bridge.mtu);
        let peer_link = link([name(&peer), mtu.clone(), LinkAttribute::NetNsFd(target.as_raw_fd())]);
        let veth = LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_link)));
        let info = LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Veth), veth]);
        // SECURITY: creates one pair whose names the helper chose, whose host
        // end is on no bridge yet, and whose peer goes into the namespace
        // verify_target checked the caller owns (the kernel checks
        // CAP_NET_ADMIN over it as well); check() approved one more veth.
        match netlink.request(NewLink(link([name(&host), mtu, info])), NLM_F_CREATE | NLM_F_EXCL) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) && tries < NAME_TRIES => tries += 1,
            Err(e) => return Err(Error::os("veth: creating the veth pair", e)),
            Ok(_) => return Ok((host, peer)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burrow_shared::subid;

    fn alice() -> Caller {
        Caller {
            uid: 1000,
            gid: 1000,
            name: Some("alice".into()),
        }
    }

    const USERNET: &str = "alice veth br0 2\n@staff veth br1 1\n1000 veth br2 1\nbob veth br3 5\nalice veth br4 0\n";

    /// Runs check on bridge `bridge` with `count` live veths; returns the
    /// outcome and whether the bridge was looked up.
    fn run(caller: &Caller, groups: &[&str], bridge: &str, count: u32) -> (Result<(), String>, bool) {
        let request = VethRequest {
            netns_fd: 3,
            bridge: bridge.into(),
        };
        let groups: Vec<String> = groups.iter().map(|&g| g.to_owned()).collect();
        let rules = subid::read_lines(USERNET.as_bytes(), usernet::parse_line)
            .unwrap()
            .unwrap();
        let mut looked_up = false;
        let live = |_| {
            looked_up = true;
            Ok((count, ()))
        };
        let result = check(&request, caller, &groups, &rules, live).map_err(|e| e.to_string());
        (result, looked_up)
    }

    #[test]
    fn deny_first() {
        let file = USERNET_FILE;
        for (caller, bridge) in [(alice(), "br3"), (alice(), "br9"), (alice(), "br1"), (alice(), "br4")] {
            assert_eq!(
                run(&caller, &["alice", "1000"], bridge, 0),
                (
                    Err(format!(
                        "veth: alice may not create veths on {bridge} (no entry in {file})"
                    )),
                    false
                )
            );
        }
        let nameless = Caller { name: None, ..alice() };
        assert_eq!(
            run(&nameless, &[], "br0", 0).0,
            Err(format!(
                "veth: uid 1000 may not create veths on br0 (no entry in {file})"
            ))
        );
    }

    #[test]
    fn quota() {
        assert_eq!(run(&alice(), &[], "br0", 0), (Ok(()), true));
        assert_eq!(run(&alice(), &[], "br0", 1), (Ok(()), true));
        let file = USERNET_FILE;
        for count in [2, 3, u32::MAX] {
            assert_eq!(
                run(&alice(), &[], "br0", count),
                (
                    Err(format!("veth: alice has {count} of 2 veths allowed on br0 by {file}")),
                    true
                )
            );
        }
        // By group, and by numeric uid for a caller with or without a name.
        assert_eq!(run(&alice(), &["staff"], "br1", 0).0, Ok(()));
        assert_eq!(
            run(&alice(), &["staff"], "br1", 1).0,
            Err(format!("veth: alice has 1 of 1 veths allowed on br1 by {file}"))
        );
        assert_eq!(run(&alice(), &[], "br2", 0).0, Ok(()));
        assert_eq!(run(&Caller { name: None, ..alice() }, &[], "br2", 0).0, Ok(()));
    }

    #[test]
    fn errors_from_the_bridge_lookup_pass_through() {
        let request = VethRequest {
            netns_fd: 3,
            bridge: "br0".into(),
        };
        let rules = subid::read_lines(USERNET.as_bytes(), usernet::parse_line)
            .unwrap()
            .unwrap();
        let live = |_| -> Result<(u32, ()), Error> { Err(Error::refused("veth: br0 is not a bridge")) };
        let e = check(&request, &alice(), &[], &rules, live).unwrap_err();
        assert_eq!((e.to_string(), e.exit_code()), ("veth: br0 is not a bridge".into(), 77));
    }
}
