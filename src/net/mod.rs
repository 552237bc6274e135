//! wire: one captured frame in (its LINKTYPE and bytes); the IP facts, the TCP or UDP header
//! fields and a payload slice borrowed from the frame out.
//!
//! Link layers: Ethernet (any number of 802.1Q / 802.1ad tags up to [`MAX_VLAN_TAGS`]), Linux
//! SLL and SLL2, raw IP, BSD null/loopback, OpenBSD loop and PPP. IPv4 (with options and AH) and
//! IPv6 (with extension headers) are sliced by `etherparse`'s lax slicers, so a frame cut by the
//! snap length still yields the captured part of its payload and says how much is missing.
//!
//! Guarantees: never panics, never allocates, never copies payload bytes; the payload is bounded
//! by the IP (and sane UDP) length fields, so Ethernet padding and trailers never leak into it.
//! Every frame that yields no packet says why ([`Skip`]), which the caller counts.
//!
//! Tunnels are followed to the innermost packet (MPLS, PPPoE, GRE and ERSPAN, VXLAN, Geneve,
//! GTP-U, IP-in-IP, 6in4, 4in6, 6in6; see `tunnel`), each layer noted in the packet's
//! [`Encap`], at most [`MAX_ENCAP`] of them. An IP fragment is given as it is
//! ([`Transport::Fragment`]); [`fragments`] puts fragments back together, and
//! [`decode_reassembled`] decodes what it rebuilt like any packet.
//!
//! Deliberately not done here: checksum verification (offloaded checksums are wrong in most
//! host captures).
//!
//! Layout: this file holds the public types, [`decode`] (which dispatches on the LINKTYPE and
//! follows the layers in one bounded loop) and [`packet_hash`]; `link` follows link-layer
//! headers (Ethernet and VLAN tags, Linux SLL and SLL2, BSD loopback, PPP) to the IP header;
//! `ip` decodes IPv4 and IPv6 and the TCP or UDP header inside, TCP options included; `tunnel`
//! reads the tunnel headers; `fragments` reassembles IP datagrams (the one part of the stage
//! that keeps state and copies bytes, within its caps).

pub mod fragments;
mod icmp;
mod ip;
mod link;
#[cfg(test)]
mod tests;
mod tunnel;

pub use icmp::{IcmpError, IcmpKind, Quoted, Unreachable};
pub use link::MAX_VLAN_TAGS;
pub use tunnel::{port, Encap, Layer, Tunnel, MAX_ENCAP};

use etherparse::Ethernet2Slice;
use ip::{ip, Step};
use link::{address_family, be16, ether_type, linktype, ppp, SLL2_LEN, SLL_LEN};
use std::net::IpAddr;
use tunnel::Next;

/// TCP flag bits as on the wire (low byte of the flags field).
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    /// ECN-Echo (RFC 3168).
    pub const ECE: u8 = 0x40;
    /// Congestion Window Reduced (RFC 3168).
    pub const CWR: u8 = 0x80;
}

/// Facts of the IP header that later diagnoses need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpFacts {
    /// 4 or 6.
    pub version: u8,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// IPv4 identification; None for IPv6.
    pub ip_id: Option<u16>,
    /// IPv4 DF bit; always false for IPv6.
    pub dont_fragment: bool,
}

/// TCP options that diagnoses use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// (TSval, TSecr)
    pub timestamps: Option<(u32, u32)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    /// Low 8 flag bits, see [`flags`].
    pub flags: u8,
    pub window: u16,
    pub options: TcpOptions,
    /// Payload as captured (may be shorter than the segment when the snap length cut it:
    /// see `Packet::payload_missing`).
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

/// One fragment of an IP datagram (RFC 791 §3.2, RFC 8200 §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// IPv4 identification or IPv6 fragment identification.
    pub id: u32,
    /// Where its data goes in the datagram's payload, in bytes.
    pub offset: u16,
    /// More fragments follow (M flag).
    pub more: bool,
    /// The datagram's protocol (IPv4) or the Fragment header's next header (IPv6).
    pub protocol: u8,
    /// The fragment's data as captured (`Packet::payload_missing` says what the capture lacks).
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport<'a> {
    Tcp(TcpSegment<'a>),
    Udp(UdpDatagram<'a>),
    /// An ICMP error about a TCP or UDP packet (the packet's own addresses are the router's
    /// and the host it writes to).
    Icmp(IcmpError),
    /// A piece of a fragmented datagram, for [`fragments`].
    Fragment(Fragment<'a>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ip: IpFacts,
    pub transport: Transport<'a>,
    /// Payload bytes the IP/TCP/UDP lengths promise but the capture does not hold (snap length).
    pub payload_missing: u32,
    /// The tunnels the packet came through, outermost first (empty for plain traffic).
    pub encap: Encap,
}

/// Why a frame produced no packet. Counted per kind by the caller; never fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// Not IPv4/IPv6 (ARP, LLDP, …).
    NotIp,
    /// IP, but neither TCP nor UDP (ICMP, ESP, …).
    OtherTransport,
    /// A link type this build does not decode.
    UnsupportedLinkType(u32),
    /// Tunnels nested deeper than [`MAX_ENCAP`] layers.
    TooDeep,
    /// Headers that are cut short or contradict themselves.
    Malformed(&'static str),
}

/// Decodes one frame of the given LINKTYPE, through its tunnels.
pub fn decode(link_type: u32, data: &[u8]) -> Result<Packet<'_>, Skip> {
    let next = match link_type {
        linktype::ETHERNET => {
            let eth = Ethernet2Slice::from_slice_without_fcs(data)
                .map_err(|_| Skip::Malformed("link header"))?;
            let payload = eth.payload();
            Next::Ether(payload.ether_type.0, payload.payload)
        }
        linktype::LINUX_SLL => {
            // Parsed by hand rather than with etherparse's LinuxSllSlice, which rejects ARPHRD
            // types it does not know (tun devices, ARPHRD_NONE) although the protocol field is
            // an EtherType for all of them that carry IP.
            let (header, rest) = data
                .split_at_checked(SLL_LEN)
                .ok_or(Skip::Malformed("link header"))?;
            Next::Ether(be16(header, 14), rest)
        }
        linktype::LINUX_SLL2 => {
            // etherparse has no SLL2. Layout (20 bytes): protocol type u16 BE at 0, reserved 2,
            // interface index 4, ARPHRD type 2, packet type 1, address length 1, address 8.
            let (header, rest) = data
                .split_at_checked(SLL2_LEN)
                .ok_or(Skip::Malformed("link header"))?;
            Next::Ether(be16(header, 0), rest)
        }
        linktype::RAW_DLT_12 | linktype::RAW_DLT_14 | linktype::RAW => Next::Ip(data, None),
        linktype::IPV4 => Next::Ip(data, Some(4)),
        linktype::IPV6 => Next::Ip(data, Some(6)),
        linktype::NULL => {
            // The family is in the capturing host's byte order, which the file does not record;
            // every AF_ value is below 256, so whichever order gives a small number is the one.
            let (family, rest) = data
                .split_first_chunk::<4>()
                .ok_or(Skip::Malformed("link header"))?;
            let le = u32::from_le_bytes(*family);
            let family = if le < 0x100 {
                le
            } else {
                u32::from_be_bytes(*family)
            };
            address_family(family, rest)?
        }
        linktype::LOOP => {
            let (family, rest) = data
                .split_first_chunk::<4>()
                .ok_or(Skip::Malformed("link header"))?;
            address_family(u32::from_be_bytes(*family), rest)?
        }
        linktype::PPP | linktype::PPP_HDLC => ppp(data)?,
        other => return Err(Skip::UnsupportedLinkType(other)),
    };
    // Plain TCP, nearly every packet of a capture, is read without the tunnel loop, which
    // moves the packet (and its room for layers) through every step.
    let plain = match next {
        Next::Ether(tunnel::ethertype::IPV4, data) => ip::plain_tcp(data, Some(4)),
        Next::Ether(tunnel::ethertype::IPV6, data) => ip::plain_tcp(data, Some(6)),
        Next::Ip(data, version) => ip::plain_tcp(data, version),
        _ => None,
    };
    match plain {
        Some(p) => Ok(p),
        None => follow(next, Encap::default()),
    }
}

/// Decodes an IP datagram that [`fragments`] rebuilt, `encap` being the tunnels its fragments
/// came through.
pub fn decode_reassembled(data: &[u8], encap: Encap) -> Result<Packet<'_>, Skip> {
    follow(Next::Ip(data, None), encap)
}

/// Follows layers from `next` to a packet. Every turn of the loop strips a header, and every
/// tunnel header adds a layer to `encap`, which holds at most [`MAX_ENCAP`]; the loop's own
/// bound (a link layer, an IP header and an Ethernet frame per layer, and one more) is only a
/// second guard.
fn follow(mut next: Next<'_>, mut encap: Encap) -> Result<Packet<'_>, Skip> {
    for _ in 0..=4 * (MAX_ENCAP + 1) {
        next = match next {
            Next::Ip(data, version) => match ip(data, version, &mut encap)? {
                Step::Done(mut p) => {
                    p.encap = encap;
                    return Ok(p);
                }
                Step::Inner(next) => next,
            },
            Next::Ether(ty, data) => ether_type(ty, data, &mut encap)?,
            Next::Frame(data) => {
                let eth = Ethernet2Slice::from_slice_without_fcs(data)
                    .map_err(|_| Skip::Malformed("inner ethernet header"))?;
                let payload = eth.payload();
                Next::Ether(payload.ether_type.0, payload.payload)
            }
            Next::Ppp(data) => ppp(data)?,
        };
    }
    Err(Skip::TooDeep)
}

/// A hash of the flow a packet belongs to, the same for both directions: what spreads flows
/// over tables and workers.
pub fn packet_hash(p: &Packet<'_>) -> u64 {
    let word = |ip: IpAddr| match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    };
    let (src, sp, dst, dp) = match p.transport {
        Transport::Tcp(t) => (p.src, t.src_port, p.dst, t.dst_port),
        Transport::Udp(u) => (p.src, u.src_port, p.dst, u.dst_port),
        // An ICMP error belongs with the flow of the packet it quotes.
        Transport::Icmp(e) => (
            e.quoted.src,
            e.quoted.src_port,
            e.quoted.dst,
            e.quoted.dst_port,
        ),
        // Fragments are put together before they reach a flow table; by addresses meanwhile.
        Transport::Fragment(_) => (p.src, 0, p.dst, 0),
    };
    symmetric_hash(word(src), sp, word(dst), dp)
}

/// Each (address, port) folded into a word, the lower word first, mixed by multiplication
/// (the top bits are the best mixed).
fn symmetric_hash(a: u128, ap: u16, b: u128, bp: u16) -> u64 {
    let word = |addr: u128, port: u16| {
        ((addr as u64) ^ ((addr >> 64) as u64).rotate_left(17)).rotate_left(16) ^ u64::from(port)
    };
    let (x, y) = (word(a, ap), word(b, bp));
    let (lo, hi) = if x <= y { (x, y) } else { (y, x) };
    (lo.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ hi).wrapping_mul(0xff51_afd7_ed55_8ccd)
}
