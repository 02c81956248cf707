//! The container's network, configured from inside (runner's child, root in
//! its own user and network namespaces). `lo` comes up (an ioctl); each
//! veth peer the helper created here is renamed and given its MAC, MTU,
//! addresses and default route over rtnetlink — no `ip` binary, since the
//! rootfs may have none.

use crate::netlink::{CREATE, Netlink};
use crate::spec::annotations::Interface;
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use nix::sys::socket::{AddressFamily as SocketFamily, SockFlag, SockType};
use std::io;
use std::net::IpAddr;
use std::os::fd::AsFd;

/// Brings `lo` up and configures each interface; `peers` are the names the
/// helper gave them here, in the same order.
pub fn configure(interfaces: &[Interface], peers: &[String]) -> Result<(), (String, io::Error)> {
    let at = |what: &str| {
        let what = what.to_owned();
        move |e: io::Error| (what, e)
    };
    loopback_up().map_err(at("bringing up lo"))?;
    if interfaces.is_empty() {
        return Ok(());
    }
    let mut netlink = Netlink::open().map_err(at("opening rtnetlink"))?;
    let links = netlink.links().map_err(at("listing interfaces"))?;
    let index_of = |name: &str| {
        links
            .iter()
            .find(|link| {
                link.attributes
                    .iter()
                    .any(|a| matches!(a, LinkAttribute::IfName(n) if n == name))
            })
            .map(|link| link.header.index)
    };
    for (interface, peer) in interfaces.iter().zip(peers) {
        let name = &interface.name;
        let index = index_of(peer).ok_or_else(|| {
            (
                format!("finding {peer} for {name}"),
                io::Error::from(io::ErrorKind::NotFound),
            )
        })?;
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.attributes.push(LinkAttribute::IfName(name.clone()));
        if let Some(mac) = interface.mac {
            link.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        if let Some(mtu) = interface.mtu {
            link.attributes.push(LinkAttribute::Mtu(mtu));
        }
        netlink
            .request(RouteNetlinkMessage::SetLink(link), 0)
            .map_err(at(&format!("renaming {peer} to {name}")))?;
        for &(address, prefix) in &interface.addresses {
            add_address(&mut netlink, index, address, prefix)
                .map_err(at(&format!("adding {address}/{prefix} to {name}")))?;
        }
        set_up(&mut netlink, index).map_err(at(&format!("bringing up {name}")))?;
        for &gateway in &interface.gateways {
            add_default_route(&mut netlink, index, gateway)
                .map_err(at(&format!("adding the default route via {gateway} on {name}")))?;
        }
    }
    Ok(())
}

/// `lo` up, through SIOCSIFFLAGS on a datagram socket that is never bound.
/// Not over rtnetlink: the kernel frees a closed netlink socket, and drops
/// its hold on the network namespace, only after an RCU grace period (some
/// milliseconds), which would keep the namespace of a short-lived container
/// (and the veth pairs in it, counted against the caller's quota) alive
/// after burrow has returned. The only netlink socket is the one for veths.
fn loopback_up() -> io::Result<()> {
    let socket = nix::sys::socket::socket(SocketFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)?;
    crate::sys::net::set_up(socket.as_fd(), "lo")
}

fn set_up(netlink: &mut Netlink, index: u32) -> io::Result<()> {
    let mut link = LinkMessage::default();
    link.header.index = index;
    link.header.flags = LinkFlags::Up;
    link.header.change_mask = LinkFlags::Up;
    netlink.request(RouteNetlinkMessage::SetLink(link), 0)
}

fn family(address: IpAddr) -> AddressFamily {
    if address.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    }
}

fn add_address(netlink: &mut Netlink, index: u32, address: IpAddr, prefix: u8) -> io::Result<()> {
    let mut message = AddressMessage::default();
    message.header.family = family(address);
    message.header.prefix_len = prefix;
    message.header.index = index;
    message.attributes.push(AddressAttribute::Local(address));
    message.attributes.push(AddressAttribute::Address(address));
    if address.is_ipv6() {
        // Usable at once: no duplicate address detection on a private link.
        message.attributes.push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    netlink.request(RouteNetlinkMessage::NewAddress(message), CREATE)
}

fn add_default_route(netlink: &mut Netlink, index: u32, gateway: IpAddr) -> io::Result<()> {
    let mut route = RouteMessage::default();
    route.header.address_family = family(gateway);
    route.header.table = RouteHeader::RT_TABLE_MAIN;
    route.header.protocol = RouteProtocol::Boot;
    route.header.kind = RouteType::Unicast;
    route
        .attributes
        .push(RouteAttribute::Gateway(RouteAddress::from(gateway)));
    route.attributes.push(RouteAttribute::Oif(index));
    netlink.request(RouteNetlinkMessage::NewRoute(route), CREATE)
}
