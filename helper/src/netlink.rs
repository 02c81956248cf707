//! A minimal synchronous rtnetlink client for the veth operation: one
//! NETLINK_ROUTE socket, one request at a time, messages built and parsed by
//! netlink-packet-route. Runs in burrow-helper as the caller's uid; the caller
//! (`veth`) makes CAP_NET_ADMIN effective around opening the socket and
//! around each request that changes a link. Untrusted: nothing; the replies
//! come from the kernel and are still parsed strictly (bounded buffer, every
//! length checked by the crate, only replies to the request just sent).

use crate::sys;
use netlink_packet_core::{NLM_F_ACK, NLM_F_DUMP_INTR, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::LinkMessage;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

/// Larger than any datagram the kernel sends for these requests (dump
/// datagrams are at most 32 KiB); a larger one is an error, never cut.
const RECEIVE_BUFFER: usize = 64 * 1024;

pub struct Netlink {
    socket: OwnedFd,
    sequence: u32,
}

impl Netlink {
    pub fn open() -> io::Result<Netlink> {
        let socket = sys::netlink_socket()?;
        Ok(Netlink { socket, sequence: 0 })
    }

    /// Sends `message` with NLM_F_REQUEST, NLM_F_ACK and `flags`, and returns
    /// the links of its reply, read up to its acknowledgement (an error
    /// number is returned as the error) or, for a dump, NLMSG_DONE. A dump
    /// the kernel marks inconsistent (links changed under it) is an error of
    /// kind `Interrupted`, never a partial list.
    pub fn request(&mut self, message: RouteNetlinkMessage, flags: u16) -> io::Result<Vec<LinkMessage>> {
        self.sequence += 1;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.sequence;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let mut bytes = vec![0; packet.buffer_len()];
        packet.serialize(&mut bytes);
        sys::send(self.socket.as_fd(), &bytes)?;

        let (mut links, mut interrupted) = (Vec::new(), false);
        let mut buffer = vec![0; RECEIVE_BUFFER];
        loop {
            let received = sys::recv(self.socket.as_fd(), &mut buffer)?;
            let mut rest = &buffer[..received];
            while !rest.is_empty() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(rest).map_err(io::Error::other)?;
                // The crate checked 16 <= length <= rest.len(); messages are 4-byte aligned.
                rest = &rest[(reply.header.length as usize).next_multiple_of(4).min(rest.len())..];
                if reply.header.sequence_number != self.sequence {
                    return Err(io::Error::other("a reply to another request"));
                }
                interrupted |= reply.header.flags & NLM_F_DUMP_INTR != 0;
                match reply.payload {
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) => links.push(link),
                    // The answer to GetNsId: that it came is all the caller asks.
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNsId(_)) => {}
                    NetlinkPayload::Error(e) if e.code.is_none() => return Ok(links),
                    NetlinkPayload::Error(e) => return Err(e.to_io()),
                    NetlinkPayload::Done(_) if interrupted => return Err(io::ErrorKind::Interrupted.into()),
                    NetlinkPayload::Done(done) if done.code == 0 => return Ok(links),
                    NetlinkPayload::Done(done) => return Err(io::Error::from_raw_os_error(done.code.saturating_abs())),
                    _ => return Err(io::Error::other("an unexpected reply")),
                }
            }
        }
    }
}
