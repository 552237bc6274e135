//! Link, IP and TCP/UDP/ICMP decoding of one frame of any link type.
//!
//! Oracles: the payload is borrowed from the frame (never copied, never past its end), and the
//! flow hash is the same for both directions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsmortem::net::{self, Packet, Transport};

fn inside(outer: &[u8], inner: &[u8]) -> bool {
    let o = outer.as_ptr_range();
    let i = inner.as_ptr_range();
    inner.is_empty() || (o.start <= i.start && i.end <= o.end)
}

/// The same packet sent the other way.
fn reversed<'a>(p: &Packet<'a>) -> Packet<'a> {
    let transport = match p.transport {
        Transport::Tcp(mut t) => {
            std::mem::swap(&mut t.src_port, &mut t.dst_port);
            Transport::Tcp(t)
        }
        Transport::Udp(mut u) => {
            std::mem::swap(&mut u.src_port, &mut u.dst_port);
            Transport::Udp(u)
        }
        other @ (Transport::Icmp(_) | Transport::Fragment(_)) => other,
    };
    Packet {
        src: p.dst,
        dst: p.src,
        transport,
        ..*p
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((link_type, frame)) = tlsmortem_fuzz::frame(data) else {
        return;
    };
    let Ok(p) = net::decode(link_type, frame) else {
        return;
    };
    let payload = match p.transport {
        Transport::Tcp(t) => t.payload,
        Transport::Udp(u) => u.payload,
        Transport::Fragment(f) => f.payload,
        Transport::Icmp(_) => &[],
    };
    assert!(
        inside(frame, payload),
        "payload not borrowed from the frame"
    );
    let back = reversed(&p);
    if !matches!(p.transport, Transport::Icmp(_)) {
        assert_eq!(
            net::packet_hash(&p),
            net::packet_hash(&back),
            "flow hash differs by direction"
        );
    }
});
