//! A small synchronous rtnetlink client (runner: used by the child, root in
//! the container's network namespace). Every
//! request asks for an ACK and every reply is checked; a dump is read to
//! NLMSG_DONE. Replies come from the kernel, but are parsed defensively.

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkBuffer, NetlinkHeader, NetlinkMessage,
    NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::LinkMessage;
use nix::sys::socket::{AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto, socket};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

/// Flags for a request that creates something that must not exist yet.
pub const CREATE: u16 = NLM_F_CREATE | NLM_F_EXCL;

pub struct Netlink {
    fd: OwnedFd,
    sequence: u32,
}

impl Netlink {
    pub fn open() -> io::Result<Netlink> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )?;
        Ok(Netlink { fd, sequence: 0 })
    }

    /// Sends one request and waits for its ACK.
    pub fn request(&mut self, message: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.send(message, NLM_F_REQUEST | NLM_F_ACK | flags)?;
        self.receive(|_| Ok(()))
    }

    /// Every link in the namespace.
    pub fn links(&mut self) -> io::Result<Vec<LinkMessage>> {
        self.send(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_REQUEST | NLM_F_DUMP,
        )?;
        let mut links = Vec::new();
        self.receive(|message| {
            if let RouteNetlinkMessage::NewLink(link) = message {
                links.push(link);
            }
            Ok(())
        })?;
        Ok(links)
    }

    fn send(&mut self, message: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.sequence += 1;
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.sequence;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message));
        packet.finalize();
        let mut bytes = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut bytes);
        let kernel = NetlinkAddr::new(0, 0);
        let sent = sendto(self.fd.as_raw_fd(), &bytes, &kernel, MsgFlags::empty())?;
        if sent != bytes.len() {
            return Err(io::Error::other("short netlink send"));
        }
        Ok(())
    }

    /// Reads replies to the last request until its ACK, error or NLMSG_DONE,
    /// handing each data message to `each`.
    fn receive(&mut self, mut each: impl FnMut(RouteNetlinkMessage) -> io::Result<()>) -> io::Result<()> {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let length = recv(self.fd.as_raw_fd(), &mut buffer, MsgFlags::empty())?;
            let mut rest = &buffer[..length];
            while !rest.is_empty() {
                let size = NetlinkBuffer::new_checked(rest).map_err(malformed)?.length() as usize;
                let size = size.clamp(1, rest.len());
                let message = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rest[..size]).map_err(malformed)?;
                // Messages are 4-byte aligned within a datagram.
                rest = &rest[size.next_multiple_of(4).min(rest.len())..];
                if message.header.sequence_number != self.sequence {
                    continue;
                }
                match message.payload {
                    NetlinkPayload::Error(error) if error.code.is_some() => return Err(error.to_io()),
                    NetlinkPayload::Error(_) | NetlinkPayload::Done(_) => return Ok(()),
                    NetlinkPayload::InnerMessage(inner) => each(inner)?,
                    _ => {}
                }
            }
        }
    }
}

fn malformed(error: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("malformed netlink reply: {error}"))
}
