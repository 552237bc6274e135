//! net::link: link-layer headers. Takes a link-layer type field (an EtherType, a BSD address
//! family) and the bytes after it, or a whole PPP frame; gives what comes next (an IP packet,
//! or an MPLS or PPPoE payload for `tunnel`), or why there is nothing to decode. Also names
//! the LINKTYPE values and the Linux SLL header lengths that [`decode`](super::decode)
//! dispatches on.
//!
//! Guarantees: never panics and never allocates; every length is checked before it is read,
//! and at most [`MAX_VLAN_TAGS`] VLAN tags in a row are followed, so a frame of repeated tags
//! costs bounded work.
//!
//! Deliberately not done: link types not listed in `linktype`; choosing the link layer by
//! LINKTYPE is `decode`'s job, following the tunnels `tunnel`'s.

use super::tunnel::{self, ethertype, Encap, Next};
use super::Skip;
use etherparse::SingleVlanSlice;

/// LINKTYPE values (tcpdump.org/linktypes.html) this module decodes.
pub(super) mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    pub const PPP: u32 = 9;
    /// LINKTYPE_RAW as DLT 12 on most systems, DLT 14 on OpenBSD.
    pub const RAW_DLT_12: u32 = 12;
    pub const RAW_DLT_14: u32 = 14;
    pub const PPP_HDLC: u32 = 50;
    pub const RAW: u32 = 101;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
}

/// VLAN tags followed before a frame is declared malformed; real networks stack two, rarely
/// three. The cap bounds the work an adversarial frame of repeated tags can cause.
pub const MAX_VLAN_TAGS: usize = 4;

/// Linux cooked capture v1 header length (protocol type at offset 14).
pub(super) const SLL_LEN: usize = 16;
/// Linux cooked capture v2 header length (protocol type at offset 0).
pub(super) const SLL2_LEN: usize = 20;

/// Big-endian u16 at `at`; 0 when out of range (callers pass headers of checked length).
pub(super) fn be16(bytes: &[u8], at: usize) -> u16 {
    match bytes.get(at..).and_then(|b| b.first_chunk::<2>()) {
        Some(b) => u16::from_be_bytes(*b),
        None => 0,
    }
}

/// Follows VLAN tags to an IP header, an MPLS label stack or a PPPoE session header.
pub(super) fn ether_type<'a>(
    mut ty: u16,
    mut data: &'a [u8],
    encap: &mut Encap,
) -> Result<Next<'a>, Skip> {
    for _ in 0..=MAX_VLAN_TAGS {
        match ty {
            ethertype::IPV4 => return Ok(Next::Ip(data, Some(4))),
            ethertype::IPV6 => return Ok(Next::Ip(data, Some(6))),
            ethertype::MPLS | ethertype::MPLS_MULTICAST => return tunnel::mpls(data, encap),
            ethertype::PPPOE_SESSION => return tunnel::pppoe(data, encap),
            ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD => {
                let tag =
                    SingleVlanSlice::from_slice(data).map_err(|_| Skip::Malformed("vlan tag"))?;
                ty = tag.ether_type().0;
                data = tag.payload_slice();
            }
            _ => return Err(Skip::NotIp),
        }
    }
    Err(Skip::Malformed("too many vlan tags"))
}

/// BSD loopback families: AF_INET is 2 everywhere; AF_INET6 is 10 on Linux, 24 on
/// NetBSD/OpenBSD, 28 on FreeBSD/DragonFly and 30 on macOS.
pub(super) fn address_family(family: u32, rest: &[u8]) -> Result<Next<'_>, Skip> {
    match family {
        2 => Ok(Next::Ip(rest, Some(4))),
        10 | 24 | 28 | 30 => Ok(Next::Ip(rest, Some(6))),
        _ => Err(Skip::NotIp),
    }
}

/// PPP (RFC 1661) with or without the RFC 1662 HDLC address/control bytes 0xff 0x03, and with
/// a 1- or 2-byte protocol field (protocol field compression, RFC 1661 §6.5: a protocol whose
/// first byte is odd is one byte long). Cisco HDLC framing (0x0f/0x8f, 0x00, EtherType), which
/// LINKTYPE_PPP_HDLC may also carry, is accepted too. PPPoE's PPP frames have neither.
pub(super) fn ppp(data: &[u8]) -> Result<Next<'_>, Skip> {
    let data = match data {
        [0xff, 0x03, rest @ ..] => rest,
        [0x0f | 0x8f, 0x00, rest @ ..] => {
            let (ty, rest) = rest
                .split_first_chunk::<2>()
                .ok_or(Skip::Malformed("link header"))?;
            return Ok(Next::Ether(u16::from_be_bytes(*ty), rest));
        }
        _ => data,
    };
    let (protocol, rest) = match data {
        [p, rest @ ..] if p & 1 == 1 => (u16::from(*p), rest),
        [hi, lo, rest @ ..] => (u16::from_be_bytes([*hi, *lo]), rest),
        _ => return Err(Skip::Malformed("link header")),
    };
    match protocol {
        0x0021 => Ok(Next::Ip(rest, Some(4))),
        0x0057 => Ok(Next::Ip(rest, Some(6))),
        _ => Err(Skip::NotIp),
    }
}
