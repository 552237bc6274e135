//! net::ip: the network and transport layers. Takes the bytes of an IPv4 or IPv6 packet and
//! the version the link layer announced, if any; gives the addresses, the IP facts, the TCP
//! or UDP header fields and the payload, or why it cannot.
//!
//! Guarantees: never panics, never allocates, never copies payload bytes. Plain TCP is read
//! directly (`plain_tcp`) and gives exactly what etherparse's lax slicers give (`sliced_ip`,
//! which reads every other layout); the payload is bounded by the IP and sane UDP lengths, and
//! bytes those lengths promise beyond the capture are counted as missing. Unknown or malformed
//! TCP options never fail a packet.
//!
//! Deliberately not done: fragment reassembly (fragments are skipped), checksum verification,
//! and transports other than TCP and UDP.

use super::{IpFacts, Packet, Skip, TcpOptions, TcpSegment, Transport, UdpDatagram};
use etherparse::err::ip::LaxHeaderSliceError;
use etherparse::{IpNumber, LaxIpSlice, TcpSlice, UdpHeaderSlice};
use std::net::IpAddr;

/// Decodes an IP packet; `expected` is the version the link layer announced, if any.
pub(super) fn ip(data: &[u8], expected: Option<u8>) -> Result<Packet<'_>, Skip> {
    match plain_tcp(data, expected) {
        Some(p) => Ok(p),
        None => sliced_ip(data, expected),
    }
}

/// The common case read directly: TCP in IPv4 without options or IPv6 without extension
/// headers, not fragmented, the IP length within what was captured, a sound TCP header.
/// `None` for anything else, which [`sliced_ip`] decodes. Wraps etherparse where it falls
/// short: its lax slicers check and describe every layout a frame can have, which costs
/// several hundred instructions a packet, more than the rest of the analysis of a bulk
/// packet. The result is exactly [`sliced_ip`]'s (tests compare the two on every corpus frame
/// and on mutated ones). Headers are taken as fixed-size arrays (`first_chunk`), so the
/// constant indexes into them are checked when this compiles.
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
    })
}

/// Decodes an IP packet of any layout with etherparse's lax slicers.
pub(super) fn sliced_ip(data: &[u8], expected: Option<u8>) -> Result<Packet<'_>, Skip> {
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
    let (facts, promised) = match &slice {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            if h.is_fragmenting_payload() {
                return Err(Skip::Ipv4Fragment);
            }
            let facts = IpFacts {
                version: 4,
                ttl: h.ttl(),
                ip_id: Some(h.identification()),
                dont_fragment: h.dont_fragment(),
            };
            // A total length below the header length (0 under TCP segmentation offload) makes
            // the slicer fall back to the captured length; then nothing is known to be missing.
            (facts, usize::from(h.total_len()))
        }
        LaxIpSlice::Ipv6(v6) => {
            // An atomic fragment (offset 0, M=0; RFC 6946) does not count as fragmenting.
            if v6.payload().fragmented {
                return Err(Skip::Ipv6Fragment);
            }
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
            (facts, promised)
        }
    };
    if ext_err.is_some() {
        return Err(Skip::Malformed("ip extension header"));
    }
    let ip_missing = promised.saturating_sub(data.len());
    let payload = slice.payload();
    let (transport, missing) = match payload.ip_number {
        IpNumber::TCP => tcp(payload.payload, ip_missing)?,
        IpNumber::UDP => udp(payload.payload, ip_missing)?,
        IpNumber::ICMP => (Transport::Icmp(super::icmp::v4(payload.payload)?), 0),
        IpNumber::IPV6_ICMP => (Transport::Icmp(super::icmp::v6(payload.payload)?), 0),
        _ => return Err(Skip::OtherTransport),
    };
    Ok(Packet {
        src: slice.source_addr(),
        dst: slice.destination_addr(),
        ip: facts,
        transport,
        payload_missing: u32::try_from(missing).unwrap_or(u32::MAX),
    })
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

fn udp(data: &[u8], ip_missing: usize) -> Result<(Transport<'_>, usize), Skip> {
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
    Ok((Transport::Udp(datagram), missing))
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
