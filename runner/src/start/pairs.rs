//! The end of a container's veth pairs (runner, host side, unprivileged:
//! only reads the kernel's link and namespace-id tables).
//!
//! The kernel deletes a pair when the container's network namespace ends,
//! in the background and up to tens of milliseconds after the container's
//! last process. The helper stops counting a pair against the user's quota
//! as soon as nothing can enter that namespace again (helper veth.rs
//! `peer_netns_alive`), but the last references go some milliseconds after
//! the last process: a socket closed in the container is freed only after
//! an RCU grace period. burrow waits for that before it returns, so that the
//! next start within quota, right after, is never refused.

use crate::netlink::Netlink;
use netlink_packet_route::RouteNetlinkMessage::{GetLink, GetNsId, NewLink};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
use std::io;
use std::thread;
use std::time::{Duration, Instant};

/// Longer than any grace period seen here; a namespace still in use after it
/// (held open by another of the user's processes, say) still counts.
const LIMIT: Duration = Duration::from_secs(2);
const POLL: Duration = Duration::from_millis(1);

/// Waits, at most `LIMIT`, until no host end in `hosts` counts any more.
/// Best effort: an error ends the wait, since the container has ended anyway.
pub fn wait_released(hosts: &[String]) {
    if hosts.is_empty() {
        return;
    }
    let Ok(mut netlink) = Netlink::open() else { return };
    let deadline = Instant::now() + LIMIT;
    for host in hosts {
        while counts(&mut netlink, host).unwrap_or(false) && Instant::now() < deadline {
            thread::sleep(POLL);
        }
    }
}

/// Whether the helper would still count `host`: it exists, and its peer's
/// namespace id still resolves (the helper's rule, read the same way; a
/// host end without a peer namespace id cannot be one of burrow's).
fn counts(netlink: &mut Netlink, host: &str) -> io::Result<bool> {
    let mut query = LinkMessage::default();
    query.attributes.push(LinkAttribute::IfName(host.to_owned()));
    let link = match netlink.query(GetLink(query)) {
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => return Ok(false),
        result => result?,
    };
    let id = link.iter().find_map(|reply| match reply {
        NewLink(link) => link.attributes.iter().find_map(|a| match a {
            LinkAttribute::LinkNetNsId(id) => Some(*id),
            _ => None,
        }),
        _ => None,
    });
    match id {
        None | Some(..0) => Ok(false),
        Some(id) => {
            let mut query = NsidMessage::default();
            query.attributes.push(NsidAttribute::Id(id));
            match netlink.query(GetNsId(query)) {
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
                result => result.map(|_| true),
            }
        }
    }
}
