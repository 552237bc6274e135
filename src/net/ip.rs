//! net::ip: the network and transport layers. Takes the bytes of an IPv4 or IPv6 packet and
//! the version the link layer announced, if any; gives the addresses, the IP facts, the TCP
//! or UDP header fields and the payload — or a fragment with its offset and id, or the tunnel
//! inside (IP-in-IP, 6in4, 4in6, GRE, and the UDP tunnels on their ports, read by `tunnel`) —
//! or why it cannot.
//!
//! Guarantees: never panics, never allocates, never copies payload bytes. Plain TCP is read
//! directly (`plain_tcp`) and gives exactly what etherparse's lax slicers give (`sliced_ip`,
//! which reads every other layout); the payload is bounded by the IP and sane UDP lengths, and
//! bytes those lengths promise beyond the capture are counted as missing. Unknown or malformed
//! TCP options never fail a packet.
//!
//! Deliberately not done: fragment reassembly (`fragments` does it over many packets),
//! checksum verification, and transports other than TCP and UDP.

use super::tunnel::{self, Encap, Layer, Next, Tunnel};
use super::{Fragment, IpFacts, Packet, Skip, TcpOptions, TcpSegment, Transport, UdpDatagram};
use etherparse::err::ip::LaxHeaderSliceError;
use etherparse::{IpNumber, LaxIpSlice, TcpSlice, UdpHeaderSlice};
use std::net::IpAddr;

/// What an IP packet held: a packet for the flows, or a tunnel's inside to decode next.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step<'a> {
    Done(Packet<'a>),
    Inner(Next<'a>),
}

/// Decodes an IP packet; `expected` is the version the link layer announced, if any. Tunnel
/// layers it strips are added to `encap`.
pub(super) fn ip<'a>(
    data: &'a [u8],
    expected: Option<u8>,
    encap: &mut Encap,
) -> Result<Step<'a>, Skip> {
    match plain_tcp(data, expected) {
        Some(p) => Ok(Step::Done(p)),
        None => sliced_ip(data, expected, encap),
    }
}

/// The common case read directly: TCP in IPv4 without options or IPv6 without extension
/// headers, not fragmented, the IP length within what was captured, a sound TCP header.
/// `None` for anything else, which [`sliced_ip`] decodes. Wraps etherparse where it falls
/// short: its lax slicers check and describe every layout a frame can have, which costs
/// several hundred instructions a packet, more than the rest of the analysis of a bulk
/// packet. The result is exactly [`sliced_ip`]'s (tests compare the two on every corpus frame
/// and on mutated ones). Headers are taken as fixed-size arrays (`first_chunk`), so the
/// constant indexes into them are checked when this compiles. Inlined: the packet is built
/// where it is returned, not moved there.
#[inline(always)]
pub(super) fn plain_tcp(data: &[u8], expected: Option<u8>) -> Option<Packet<'_>> {
    let version = data.first()? >> 4;
    if expected.is_some_and(|e| e != version) {
        return None;
    }
    let (src, dst, ip, segment) = match version {
        4 => {
            let header = data.first_chunk::<20>()?;
            let total = usize::from(u16::from_be_bytes([header[2], header[3]]));
            let fragmenting = u16::from_be_bytes([header[6], header[7]]) & 0x3fff != 0;
            if header[0] != 0x45 || header[9] != 6 || fragmenting || total < 20 {
                return None;
            }
            let ip = IpFacts {
                version: 4,
                ttl: header[8],
                ip_id: Some(u16::from_be_bytes([header[4], header[5]])),
                dont_fragment: header[6] & 0x40 != 0,
            };
            let src = IpAddr::from([header[12], header[13], header[14], header[15]]);
            let dst = IpAddr::from([header[16], header[17], header[18], header[19]]);
            (src, dst, ip, data.get(20..total)?)
        }
        6 => {
            let header = data.first_chunk::<40>()?;
            let length = usize::from(u16::from_be_bytes([header[4], header[5]]));
            if header[6] != 6 || length == 0 {
                return None;
            }
            let ip = IpFacts {
                version: 6,
                ttl: header[7],
                ip_id: None,
                dont_fragment: false,
            };
            let addr = |at: usize| {
                let b: [u8; 16] = header.get(at..at + 16)?.try_into().ok()?;
                Some(IpAddr::from(b))
            };
            (addr(8)?, addr(24)?, ip, data.get(40..40 + length)?)
        }
        _ => return None,
    };
    let offset = usize::from(segment.get(12)? >> 4) * 4;
    let header = segment.first_chunk::<20>()?;
    if offset < 20 {
        return None;
    }
    let segment = TcpSegment {
        src_port: u16::from_be_bytes([header[0], header[1]]),
        dst_port: u16::from_be_bytes([header[2], header[3]]),
        seq: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
        ack: u32::from_be_bytes([header[8], header[9], header[10], header[11]]),
        flags: header[13],
        window: u16::from_be_bytes([header[14], header[15]]),
        options: tcp_options(segment.get(20..offset)?),
        payload: segment.get(offset..)?,
    };
    Some(Packet {
        src,
        dst,
        ip,
        transport: Transport::Tcp(segment),
        payload_missing: 0,
        encap: Encap::default(),
    })
}

/// Decodes an IP packet of any layout with etherparse's lax slicers.
pub(super) fn sliced_ip<'a>(
    data: &'a [u8],
    expected: Option<u8>,
    encap: &mut Encap,
) -> Result<Step<'a>, Skip> {
    let version = data.first().map(|b| b >> 4);
    if let (Some(expected), Some(version)) = (expected, version) {
        if expected != version {
            return Err(Skip::Malformed("ip version"));
        }
    }
    let (slice, ext_err) = LaxIpSlice::from_slice(data).map_err(|e| match e {
        LaxHeaderSliceError::Len(_) => Skip::Malformed("ip header"),
        LaxHeaderSliceError::Content(_) => match version {
            Some(4 | 6) => Skip::Malformed("ip header"),
            _ => Skip::NotIp,
        },
    })?;
    // The length the IP header promises, to tell snap-length cuts from padding: the lax slicer
    // already cuts the payload at this length when more was captured (Ethernet padding, FCS).
    let (facts, promised, fragment) = match &slice {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let fragment = h.is_fragmenting_payload().then(|| Fragment {
                id: u32::from(h.identification()),
                offset: h.fragments_offset().byte_offset(),
                more: h.more_fragments(),
                protocol: h.protocol().0,
                payload: v4.payload().payload,
            });
            let facts = IpFacts {
                version: 4,
                ttl: h.ttl(),
                ip_id: Some(h.identification()),
                dont_fragment: h.dont_fragment(),
            };
            // A total length below the header length (0 under TCP segmentation offload) makes
            // the slicer fall back to the captured length; then nothing is known to be missing.
            (facts, usize::from(h.total_len()), fragment)
        }
        LaxIpSlice::Ipv6(v6) => {
            // An atomic fragment (offset 0, M=0; RFC 6946) does not count as fragmenting. The
            // slicer reads the bytes after a Fragment header as more extension headers, which
            // in a fragment other than the first they are not: the header is found here.
            let fragment = if v6.payload().fragmented || ext_err.is_some() {
                v6_fragment(data)
            } else {
                None
            };
            let h = v6.header();
            let facts = IpFacts {
                version: 6,
                ttl: h.hop_limit(),
                ip_id: None,
                dont_fragment: false,
            };
            // Payload length 0 is a jumbogram (RFC 2675) or an offloaded packet: use what is
            // there.
            let promised = match h.payload_length() {
                0 => 0,
                n => 40 + usize::from(n),
            };
            (facts, promised, fragment)
        }
    };
    let ip_missing = promised.saturating_sub(data.len());
    let payload = slice.payload();
    let v4 = facts.version == 4;
    let (transport, missing) = if let Some(fragment) = fragment {
        (Transport::Fragment(fragment), ip_missing)
    } else if ext_err.is_some() {
        return Err(Skip::Malformed("ip extension header"));
    } else {
        match payload.ip_number {
            IpNumber::TCP => tcp(payload.payload, ip_missing)?,
            IpNumber::UDP => {
                let (datagram, missing) = udp(payload.payload, ip_missing)?;
                if let Some(next) = tunnel::udp(datagram.dst_port, datagram.payload, encap)? {
                    return Ok(Step::Inner(next));
                }
                (Transport::Udp(datagram), missing)
            }
            IpNumber::ICMP => (Transport::Icmp(super::icmp::v4(payload.payload)?), 0),
            IpNumber::IPV6_ICMP => (Transport::Icmp(super::icmp::v6(payload.payload)?), 0),
            IpNumber::IPV4 | IpNumber::IPV6 => {
                let inner = if payload.ip_number == IpNumber::IPV4 {
                    4
                } else {
                    6
                };
                let kind = match (v4, inner) {
                    (true, 4) => Tunnel::IpIp,
                    (true, _) => Tunnel::SixInFour,
                    (false, 4) => Tunnel::FourInSix,
                    (false, _) => Tunnel::SixInSix,
                };
                encap.push(Layer::new(kind, 0))?;
                return Ok(Step::Inner(Next::Ip(payload.payload, Some(inner))));
            }
            IpNumber::GRE => return tunnel::gre(payload.payload, encap).map(Step::Inner),
            _ => return Err(Skip::OtherTransport),
        }
    };
    Ok(Step::Done(Packet {
        src: slice.source_addr(),
        dst: slice.destination_addr(),
        ip: facts,
        transport,
        payload_missing: u32::try_from(missing).unwrap_or(u32::MAX),
        encap: Encap::default(),
    }))
}

/// The Fragment header of an IPv6 packet that has one with a non-zero offset or the M flag
/// (RFC 8200 §4.5), found by following the extension headers before it (hop-by-hop, routing,
/// destination options, AH; RFC 8200 §4.1 orders them so); the fragment's data is what
/// follows it, bounded by the payload length.
fn v6_fragment(data: &[u8]) -> Option<Fragment<'_>> {
    const HOP_BY_HOP: u8 = 0;
    const ROUTING: u8 = 43;
    const FRAGMENT: u8 = 44;
    const AUTH: u8 = 51;
    const DEST_OPTIONS: u8 = 60;
    let header = data.first_chunk::<40>()?;
    let length = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let mut next = header[6];
    let end = if length == 0 { data.len() } else { 40 + length };
    let mut rest = data.get(40..end).or_else(|| data.get(40..))?;
    // Each header is at least 8 bytes, so this ends within the packet.
    loop {
        let len = match next {
            HOP_BY_HOP | ROUTING | DEST_OPTIONS => (usize::from(*rest.get(1)?) + 1) * 8,
            AUTH => (usize::from(*rest.get(1)?) + 2) * 4,
            FRAGMENT => {
                let (f, payload) = rest.split_first_chunk::<8>()?;
                let offset_flags = u16::from_be_bytes([f[2], f[3]]);
                let (offset, more) = (offset_flags & !7, offset_flags & 1 != 0);
                if offset == 0 && !more {
                    return None;
                }
                return Some(Fragment {
                    id: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
                    offset,
                    more,
                    protocol: f[0],
                    payload,
                });
            }
            _ => return None,
        };
        next = *rest.first()?;
        rest = rest.get(len..)?;
    }
}

fn tcp(data: &[u8], ip_missing: usize) -> Result<(Transport<'_>, usize), Skip> {
    // Fails when the data offset is below 5 or points past the captured bytes.
    let tcp = TcpSlice::from_slice(data).map_err(|_| Skip::Malformed("tcp header"))?;
    let segment = TcpSegment {
        src_port: tcp.source_port(),
        dst_port: tcp.destination_port(),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: tcp.header_slice().get(13).copied().unwrap_or(0),
        window: tcp.window_size(),
        options: tcp_options(tcp.options()),
        payload: tcp.payload(),
    };
    // The whole header was captured, so every byte the IP length promises beyond the capture
    // is payload.
    Ok((Transport::Tcp(segment), ip_missing))
}

fn udp(data: &[u8], ip_missing: usize) -> Result<(UdpDatagram<'_>, usize), Skip> {
    const HEADER: usize = 8;
    let header = UdpHeaderSlice::from_slice(data).map_err(|_| Skip::Malformed("udp header"))?;
    let promised = data.len() + ip_missing;
    let length = usize::from(header.length());
    // The UDP length bounds the payload when it fits inside what IP promises; 0 (jumbograms,
    // RFC 2675) or a contradicting value leaves the IP payload length in charge.
    let (end, missing) = if (HEADER..=promised).contains(&length) {
        let end = length.min(data.len());
        (end, length - end)
    } else {
        (data.len(), ip_missing)
    };
    let datagram = UdpDatagram {
        src_port: header.source_port(),
        dst_port: header.destination_port(),
        payload: data.get(HEADER..end).unwrap_or_default(),
    };
    Ok((datagram, missing))
}

/// Parses the options area of a TCP header (RFC 9293 §3.1). Hand-written rather than
/// etherparse's iterator, which stops at the first option kind it does not know: unknown
/// options and known ones of the wrong size are skipped by their length field, and parsing
/// stops (keeping what was found) only at End of Option List or a length that cannot be right.
fn tcp_options(mut opts: &[u8]) -> TcpOptions {
    const EOL: u8 = 0;
    const NOP: u8 = 1;
    const MSS: u8 = 2;
    const WINDOW_SCALE: u8 = 3;
    const SACK_PERMITTED: u8 = 4;
    const TIMESTAMPS: u8 = 8;

    let mut out = TcpOptions::default();
    while let Some((&kind, rest)) = opts.split_first() {
        match kind {
            EOL => break,
            NOP => {
                opts = rest;
                continue;
            }
            _ => {}
        }
        let Some(&len) = rest.first() else { break };
        let len = usize::from(len);
        if len < 2 {
            break;
        }
        let Some((option, tail)) = opts.split_at_checked(len) else {
            break;
        };
        match (kind, option.get(2..).unwrap_or_default()) {
            (MSS, &[a, b]) => out.mss = Some(u16::from_be_bytes([a, b])),
            (WINDOW_SCALE, &[shift]) => out.window_scale = Some(shift),
            (SACK_PERMITTED, &[]) => out.sack_permitted = true,
            (TIMESTAMPS, &[a, b, c, d, e, f, g, h]) => {
                out.timestamps = Some((
                    u32::from_be_bytes([a, b, c, d]),
                    u32::from_be_bytes([e, f, g, h]),
                ));
            }
            _ => {}
        }
        opts = tail;
    }
    out
}
