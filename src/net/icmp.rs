//! icmp: an ICMPv4 or ICMPv6 error in; what it says (time exceeded, destination unreachable
//! and why, fragmentation needed / packet too big with the MTU) and the header of the packet it
//! answers, out: the quoted addresses, ports and TCP sequence number are what match it to its
//! connection (RFC 792, RFC 4443 §2.4: an error quotes as much of the offending packet as fits,
//! at least its IP header and first 8 bytes).
//!
//! etherparse classifies the ICMP message; the quoted header is read with its lax IP slicer,
//! since a quote is cut short by design. Informational messages (echo, neighbour discovery)
//! and errors about anything but TCP or UDP are not errors this tool can match: they are
//! skipped like any other transport.

use super::Skip;
use etherparse::LaxIpSlice;
use etherparse::{icmpv4, icmpv6, Icmpv4Slice, Icmpv4Type, Icmpv6Slice, Icmpv6Type, IpNumber};
use std::net::IpAddr;

/// What an ICMP error says about the packet it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpKind {
    /// The packet's TTL or hop limit ran out in transit.
    TimeExceeded,
    /// Destination unreachable, with why.
    Unreachable(Unreachable),
    /// The packet was too big for the next hop and could not be fragmented: the hop's MTU.
    TooBig { mtu: u32 },
}

/// Why a destination was unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// A filter refused it (administratively prohibited, or a reject route).
    Prohibited,
    Port,
    Host,
    Network,
    /// Any other code, as sent.
    Other(u8),
}

/// The header of the packet an ICMP error answers, as quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub udp: bool,
    pub src_port: u16,
    pub dst_port: u16,
    /// TCP only.
    pub seq: Option<u32>,
    /// TTL or hop limit the packet had when the router quoted it.
    pub ttl: u8,
}

/// An ICMP error about a TCP or UDP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpError {
    pub kind: IcmpKind,
    pub quoted: Quoted,
}

/// An ICMPv4 message; `Err(Skip::OtherTransport)` unless it is an error about TCP or UDP.
pub(super) fn v4(data: &[u8]) -> Result<IcmpError, Skip> {
    let icmp = Icmpv4Slice::from_slice(data).map_err(|_| Skip::Malformed("icmp header"))?;
    use icmpv4::DestUnreachableHeader as D;
    let kind = match icmp.icmp_type() {
        Icmpv4Type::TimeExceeded(_) => IcmpKind::TimeExceeded,
        Icmpv4Type::DestinationUnreachable(h) => match h {
            D::FragmentationNeeded { next_hop_mtu } => IcmpKind::TooBig {
                mtu: u32::from(next_hop_mtu),
            },
            D::NetworkProhibited | D::HostProhibited | D::FilterProhibited => {
                IcmpKind::Unreachable(Unreachable::Prohibited)
            }
            D::Port => IcmpKind::Unreachable(Unreachable::Port),
            D::Host | D::HostUnknown => IcmpKind::Unreachable(Unreachable::Host),
            D::Network | D::NetworkUnknown => IcmpKind::Unreachable(Unreachable::Network),
            _ => IcmpKind::Unreachable(Unreachable::Other(icmp.code_u8())),
        },
        _ => return Err(Skip::OtherTransport),
    };
    Ok(IcmpError {
        kind,
        quoted: quoted(icmp.payload())?,
    })
}

/// An ICMPv6 message; `Err(Skip::OtherTransport)` unless it is an error about TCP or UDP.
pub(super) fn v6(data: &[u8]) -> Result<IcmpError, Skip> {
    let icmp = Icmpv6Slice::from_slice(data).map_err(|_| Skip::Malformed("icmp header"))?;
    use icmpv6::DestUnreachableCode as D;
    let kind = match icmp.icmp_type() {
        Icmpv6Type::TimeExceeded(_) => IcmpKind::TimeExceeded,
        Icmpv6Type::PacketTooBig { mtu } => IcmpKind::TooBig { mtu },
        Icmpv6Type::DestinationUnreachable(code) => IcmpKind::Unreachable(match code {
            D::Prohibited | D::SourceAddressFailedPolicy | D::RejectRoute => {
                Unreachable::Prohibited
            }
            D::Port => Unreachable::Port,
            D::Address => Unreachable::Host,
            D::NoRoute | D::BeyondScope => Unreachable::Network,
        }),
        _ => return Err(Skip::OtherTransport),
    };
    Ok(IcmpError {
        kind,
        quoted: quoted(icmp.payload())?,
    })
}

/// The quoted packet's IP header and first transport bytes.
fn quoted(data: &[u8]) -> Result<Quoted, Skip> {
    let (ip, _) = LaxIpSlice::from_slice(data).map_err(|_| Skip::Malformed("icmp quote"))?;
    let ttl = match &ip {
        LaxIpSlice::Ipv4(v4) => v4.header().ttl(),
        LaxIpSlice::Ipv6(v6) => v6.header().hop_limit(),
    };
    let payload = ip.payload();
    let udp = match payload.ip_number {
        IpNumber::TCP => false,
        IpNumber::UDP => true,
        _ => return Err(Skip::OtherTransport),
    };
    let b = payload.payload;
    let port = |at: usize| {
        b.get(at..at + 2)
            .and_then(|p| <[u8; 2]>::try_from(p).ok())
            .map(u16::from_be_bytes)
            .ok_or(Skip::Malformed("icmp quote"))
    };
    let seq = b
        .get(4..8)
        .filter(|_| !udp)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(u32::from_be_bytes);
    Ok(Quoted {
        src: ip.source_addr(),
        dst: ip.destination_addr(),
        udp,
        src_port: port(0)?,
        dst_port: port(2)?,
        seq,
        ttl,
    })
}
