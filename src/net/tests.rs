//! Unit tests of the net stage: every link type, VLAN stacks, IPv4 options and IPv6 extension
//! headers, fragments, TCP options, UDP lengths, snap-length cuts, the flow hash, the fast TCP
//! path against etherparse's slicers on the shared corpus, and tables of malformed and cut
//! frames. Frames are built byte by byte here, so each test says exactly what it feeds in.

use super::ip::{plain_tcp, sliced_ip, Step};
use super::*;
use std::net::{Ipv4Addr, Ipv6Addr};

mod tunnels;

const CLIENT4: [u8; 4] = [192, 0, 2, 1];
const SERVER4: [u8; 4] = [198, 51, 100, 7];
const CLIENT6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const SERVER6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const DF: u16 = 0x4000;
const MF: u16 = 0x2000;
const PAYLOAD: &[u8] = b"\x16\x03\x01\x00\x05hello";
/// NOP NOP Timestamps(TSval 111, TSecr 222).
const TS_OPTIONS: &[u8] = &[1, 1, 8, 10, 0, 0, 0, 111, 0, 0, 0, 222];

struct Tcp<'a> {
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &'a [u8],
    payload: &'a [u8],
}

fn sample_tcp() -> Tcp<'static> {
    Tcp {
        src_port: 51000,
        dst_port: 443,
        seq: 0x0102_0304,
        ack: 0xa0b0_c0d0,
        flags: flags::PSH | flags::ACK,
        window: 502,
        options: TS_OPTIONS,
        payload: PAYLOAD,
    }
}

fn tcp_bytes(t: &Tcp<'_>) -> Vec<u8> {
    let mut options = t.options.to_vec();
    while options.len() % 4 != 0 {
        options.push(0);
    }
    let data_offset = u8::try_from((20 + options.len()) / 4).unwrap();
    let mut v = Vec::new();
    v.extend(t.src_port.to_be_bytes());
    v.extend(t.dst_port.to_be_bytes());
    v.extend(t.seq.to_be_bytes());
    v.extend(t.ack.to_be_bytes());
    v.push(data_offset << 4);
    v.push(t.flags);
    v.extend(t.window.to_be_bytes());
    v.extend([0, 0, 0, 0]); // checksum, urgent pointer
    v.extend(options);
    v.extend(t.payload);
    v
}

fn udp_bytes(src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(src_port.to_be_bytes());
    v.extend(dst_port.to_be_bytes());
    v.extend(u16::try_from(8 + payload.len()).unwrap().to_be_bytes());
    v.extend([0, 0]);
    v.extend(payload);
    v
}

fn ipv4_bytes(proto: u8, id: u16, frag: u16, options: &[u8], payload: &[u8]) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let header_len = 20 + options.len();
    let mut v = vec![0x40 | u8::try_from(header_len / 4).unwrap(), 0];
    v.extend(
        u16::try_from(header_len + payload.len())
            .unwrap()
            .to_be_bytes(),
    );
    v.extend(id.to_be_bytes());
    v.extend(frag.to_be_bytes());
    v.extend([64, proto, 0, 0]);
    v.extend(CLIENT4);
    v.extend(SERVER4);
    v.extend(options);
    v.extend(payload);
    v
}

fn ipv6_bytes(next_header: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend(u16::try_from(payload.len()).unwrap().to_be_bytes());
    v.extend([next_header, 57]);
    v.extend(CLIENT6);
    v.extend(SERVER6);
    v.extend(payload);
    v
}

fn ethernet(ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    v.extend(ether_type.to_be_bytes());
    v.extend(payload);
    v
}

fn vlan_tag(id: u16, ether_type: u16) -> Vec<u8> {
    let mut v = id.to_be_bytes().to_vec();
    v.extend(ether_type.to_be_bytes());
    v
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn sample_ipv4() -> Vec<u8> {
    ipv4_bytes(PROTO_TCP, 0x1234, DF, &[], &tcp_bytes(&sample_tcp()))
}

fn sample_ipv6() -> Vec<u8> {
    ipv6_bytes(PROTO_TCP, &tcp_bytes(&sample_tcp()))
}

fn tcp_of<'a>(p: &Packet<'a>) -> TcpSegment<'a> {
    match p.transport {
        Transport::Tcp(t) => t,
        other => panic!("expected TCP, got {other:?}"),
    }
}

fn udp_of<'a>(p: &Packet<'a>) -> UdpDatagram<'a> {
    match p.transport {
        Transport::Udp(u) => u,
        other => panic!("expected UDP, got {other:?}"),
    }
}

/// Asserts the fields of `sample_tcp()` inside `sample_ipv4()` or `sample_ipv6()`.
fn assert_sample(p: &Packet<'_>, version: u8) {
    let t = tcp_of(p);
    assert_eq!((t.src_port, t.dst_port), (51000, 443));
    assert_eq!((t.seq, t.ack), (0x0102_0304, 0xa0b0_c0d0));
    assert_eq!(t.flags, flags::PSH | flags::ACK);
    assert_eq!(t.window, 502);
    assert_eq!(t.options.timestamps, Some((111, 222)));
    assert_eq!(t.payload, PAYLOAD);
    assert_eq!(p.payload_missing, 0);
    assert_eq!(p.ip.version, version);
    if version == 4 {
        assert_eq!(p.src, IpAddr::from(Ipv4Addr::from(CLIENT4)));
        assert_eq!(p.dst, IpAddr::from(Ipv4Addr::from(SERVER4)));
        assert_eq!(
            p.ip,
            IpFacts {
                version: 4,
                ttl: 64,
                ip_id: Some(0x1234),
                dont_fragment: true
            }
        );
    } else {
        assert_eq!(p.src, IpAddr::from(Ipv6Addr::from(CLIENT6)));
        assert_eq!(p.dst, IpAddr::from(Ipv6Addr::from(SERVER6)));
        assert_eq!(
            p.ip,
            IpFacts {
                version: 6,
                ttl: 57,
                ip_id: None,
                dont_fragment: false
            }
        );
    }
}

#[test]
fn ethernet_ipv4_tcp_frame_yields_ports_seq_ack_flags_timestamps_and_payload() {
    let frame = ethernet(0x0800, &sample_ipv4());
    assert_sample(&decode(1, &frame).unwrap(), 4);
}

#[test]
fn ethernet_ipv6_tcp_frame_yields_ports_seq_ack_flags_timestamps_and_payload() {
    let frame = ethernet(0x86dd, &sample_ipv6());
    assert_sample(&decode(1, &frame).unwrap(), 6);
}

#[test]
fn syn_options_mss_sack_permitted_timestamps_and_window_scale_are_parsed() {
    // Linux's SYN layout: MSS, SACK permitted, timestamps, NOP, window scale.
    let options = [
        2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 1, 3, 3, 7,
    ];
    let syn = Tcp {
        flags: flags::SYN | flags::ECE | flags::CWR,
        ack: 0,
        options: &options,
        payload: &[],
        ..sample_tcp()
    };
    let frame = ethernet(0x0800, &ipv4_bytes(PROTO_TCP, 1, DF, &[], &tcp_bytes(&syn)));
    let t = tcp_of(&decode(1, &frame).unwrap());
    assert_eq!(t.flags, flags::SYN | flags::ECE | flags::CWR);
    assert_eq!(
        t.options,
        TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamps: Some((0xdead_beef, 0)),
        }
    );
    assert!(t.payload.is_empty());
}

#[test]
fn malformed_tcp_options_keep_what_was_parsed_and_never_fail_the_packet() {
    let cases: &[(&str, &[u8], TcpOptions)] = &[
        (
            "unknown kind is skipped by its length",
            &[30, 4, 0xaa, 0xbb, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2],
            TcpOptions {
                timestamps: Some((1, 2)),
                ..TcpOptions::default()
            },
        ),
        (
            "length 0 stops parsing",
            &[2, 4, 0x05, 0xb4, 30, 0, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2],
            TcpOptions {
                mss: Some(1460),
                ..TcpOptions::default()
            },
        ),
        (
            "length past the header stops parsing",
            &[3, 3, 9, 8, 40, 1, 2],
            TcpOptions {
                window_scale: Some(9),
                ..TcpOptions::default()
            },
        ),
        (
            "known kind with the wrong length is ignored",
            &[2, 3, 5, 4, 2],
            TcpOptions {
                sack_permitted: true,
                ..TcpOptions::default()
            },
        ),
        (
            "end of option list stops parsing",
            &[0, 0, 2, 4, 0x05, 0xb4],
            TcpOptions::default(),
        ),
        (
            "kind without a length byte",
            &[1, 1, 1, 2],
            TcpOptions::default(),
        ),
    ];
    for (what, options, want) in cases {
        let seg = Tcp {
            options,
            ..sample_tcp()
        };
        let frame = ethernet(0x0800, &ipv4_bytes(PROTO_TCP, 1, 0, &[], &tcp_bytes(&seg)));
        let t = tcp_of(&decode(1, &frame).unwrap_or_else(|e| panic!("{what}: {e:?}")));
        assert_eq!(t.options, *want, "{what}");
        assert_eq!(t.payload, PAYLOAD, "{what}");
    }
}

#[test]
fn single_802_1q_tag_is_followed_to_the_ip_packet() {
    let frame = ethernet(0x8100, &concat(&[&vlan_tag(100, 0x0800), &sample_ipv4()]));
    assert_sample(&decode(1, &frame).unwrap(), 4);
}

#[test]
fn qinq_service_and_customer_tags_are_followed_to_the_ip_packet() {
    let frame = ethernet(
        0x88a8,
        &concat(&[&vlan_tag(10, 0x8100), &vlan_tag(20, 0x86dd), &sample_ipv6()]),
    );
    assert_sample(&decode(1, &frame).unwrap(), 6);
    let frame = ethernet(
        0x9100,
        &concat(&[
            &vlan_tag(10, 0x88a8),
            &vlan_tag(20, 0x8100),
            &vlan_tag(30, 0x0800),
            &sample_ipv4(),
        ]),
    );
    assert_sample(&decode(1, &frame).unwrap(), 4);
}

#[test]
fn more_vlan_tags_than_the_cap_make_the_frame_malformed() {
    let mut inner = Vec::new();
    for _ in 0..=MAX_VLAN_TAGS {
        inner.extend(vlan_tag(1, 0x8100));
    }
    inner.extend(sample_ipv4());
    assert_eq!(
        decode(1, &ethernet(0x8100, &inner)).unwrap_err(),
        Skip::Malformed("too many vlan tags")
    );
}

#[test]
fn sll_frame_yields_tcp_segment_with_its_payload() {
    // packet type 0 (to us), ARPHRD_ETHER 1, address length 6, address, protocol.
    let mut frame = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
    frame.extend(sample_ipv4());
    assert_sample(&decode(113, &frame).unwrap(), 4);
    // ARPHRD_NONE (tun device), IPv6.
    let mut frame = vec![0, 4, 0xff, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x86, 0xdd];
    frame.extend(sample_ipv6());
    assert_sample(&decode(113, &frame).unwrap(), 6);
}

#[test]
fn sll_frame_with_a_vlan_protocol_is_followed_through_the_tag() {
    let mut frame = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x81, 0x00];
    frame.extend(vlan_tag(7, 0x0800));
    frame.extend(sample_ipv4());
    assert_sample(&decode(113, &frame).unwrap(), 4);
}

#[test]
fn sll2_frame_yields_tcp_segment_with_its_payload() {
    // protocol, reserved, interface index 3, ARPHRD_ETHER, packet type 4 (outgoing),
    // address length 6, address padded to 8.
    let mut frame = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0,
    ];
    frame.extend(sample_ipv4());
    assert_sample(&decode(276, &frame).unwrap(), 4);
    let mut frame = vec![
        0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0,
    ];
    frame.extend(sample_ipv6());
    assert_sample(&decode(276, &frame).unwrap(), 6);
}

#[test]
fn raw_ip_link_types_take_the_version_from_the_first_nibble() {
    for link_type in [12, 14, 101] {
        assert_sample(&decode(link_type, &sample_ipv4()).unwrap(), 4);
        assert_sample(&decode(link_type, &sample_ipv6()).unwrap(), 6);
    }
    assert_sample(&decode(228, &sample_ipv4()).unwrap(), 4);
    assert_sample(&decode(229, &sample_ipv6()).unwrap(), 6);
}

#[test]
fn version_specific_link_types_reject_the_other_ip_version() {
    assert_eq!(
        decode(228, &sample_ipv6()).unwrap_err(),
        Skip::Malformed("ip version")
    );
    assert_eq!(
        decode(229, &sample_ipv4()).unwrap_err(),
        Skip::Malformed("ip version")
    );
    assert_eq!(
        decode(1, &ethernet(0x0800, &sample_ipv6())).unwrap_err(),
        Skip::Malformed("ip version")
    );
}

#[test]
fn null_loopback_accepts_the_family_in_either_byte_order() {
    let cases: &[([u8; 4], Vec<u8>, u8)] = &[
        ([2, 0, 0, 0], sample_ipv4(), 4),
        ([0, 0, 0, 2], sample_ipv4(), 4),
        ([30, 0, 0, 0], sample_ipv6(), 6),
        ([0, 0, 0, 30], sample_ipv6(), 6),
        ([24, 0, 0, 0], sample_ipv6(), 6),
        ([0, 0, 0, 24], sample_ipv6(), 6),
        ([28, 0, 0, 0], sample_ipv6(), 6),
        ([10, 0, 0, 0], sample_ipv6(), 6),
    ];
    for (family, ip, version) in cases {
        let frame = concat(&[family, ip]);
        assert_sample(&decode(0, &frame).unwrap(), *version);
    }
    assert_eq!(
        decode(0, &concat(&[&[7, 0, 0, 0], &sample_ipv4()])).unwrap_err(),
        Skip::NotIp
    );
}

#[test]
fn loop_link_type_reads_the_family_in_network_byte_order() {
    assert_sample(
        &decode(108, &concat(&[&[0, 0, 0, 2], &sample_ipv4()])).unwrap(),
        4,
    );
    assert_sample(
        &decode(108, &concat(&[&[0, 0, 0, 24], &sample_ipv6()])).unwrap(),
        6,
    );
    assert_eq!(
        decode(108, &concat(&[&[2, 0, 0, 0], &sample_ipv4()])).unwrap_err(),
        Skip::NotIp
    );
}

#[test]
fn ppp_with_and_without_address_control_and_compressed_protocol_decodes_ip() {
    let cases: &[(&[u8], Vec<u8>, u8)] = &[
        (&[0xff, 0x03, 0x00, 0x21], sample_ipv4(), 4),
        (&[0x00, 0x21], sample_ipv4(), 4),
        (&[0x21], sample_ipv4(), 4),
        (&[0xff, 0x03, 0x21], sample_ipv4(), 4),
        (&[0xff, 0x03, 0x00, 0x57], sample_ipv6(), 6),
        (&[0x00, 0x57], sample_ipv6(), 6),
        (&[0x57], sample_ipv6(), 6),
    ];
    for link_type in [9, 50] {
        for (header, ip, version) in cases {
            let frame = concat(&[header, ip]);
            assert_sample(&decode(link_type, &frame).unwrap(), *version);
        }
    }
    // Cisco HDLC framing inside LINKTYPE_PPP_HDLC.
    let frame = concat(&[&[0x0f, 0x00, 0x08, 0x00], &sample_ipv4()]);
    assert_sample(&decode(50, &frame).unwrap(), 4);
}

#[test]
fn ppp_control_protocols_are_not_ip() {
    // LCP configure-request.
    let frame = [0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4];
    assert_eq!(decode(9, &frame).unwrap_err(), Skip::NotIp);
}

#[test]
fn ipv6_extension_headers_before_tcp_are_walked() {
    const HOP_BY_HOP: u8 = 0;
    const ROUTING: u8 = 43;
    const DEST_OPTS: u8 = 60;
    const AUTH: u8 = 51;
    // Hop-by-hop with a PadN option, then destination options likewise.
    let hop = [DEST_OPTS, 0, 1, 4, 0, 0, 0, 0];
    let dest = [PROTO_TCP, 0, 1, 4, 0, 0, 0, 0];
    let frame = ethernet(
        0x86dd,
        &ipv6_bytes(
            HOP_BY_HOP,
            &concat(&[&hop, &dest, &tcp_bytes(&sample_tcp())]),
        ),
    );
    assert_sample(&decode(1, &frame).unwrap(), 6);
    // Hop-by-hop, routing (type 0, no segments left), AH with a 12-byte ICV.
    let hop = [ROUTING, 0, 1, 4, 0, 0, 0, 0];
    let routing = [AUTH, 0, 0, 0, 0, 0, 0, 0];
    let mut auth = vec![PROTO_TCP, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 9];
    auth.extend([0xab; 12]);
    let ip = ipv6_bytes(
        HOP_BY_HOP,
        &concat(&[&hop, &routing, &auth, &tcp_bytes(&sample_tcp())]),
    );
    assert_sample(&decode(229, &ip).unwrap(), 6);
}

#[test]
fn ipv4_options_are_skipped_before_tcp() {
    // Router alert, then NOP padding to a 4-byte boundary.
    let options = [0x94, 4, 0, 0, 1, 1, 1, 0];
    let ip = ipv4_bytes(PROTO_TCP, 0x1234, DF, &options, &tcp_bytes(&sample_tcp()));
    assert_sample(&decode(1, &ethernet(0x0800, &ip)).unwrap(), 4);
}

#[test]
fn ethernet_padding_is_not_part_of_the_payload() {
    let ack = Tcp {
        options: &[],
        payload: b"x",
        ..sample_tcp()
    };
    let mut frame = ethernet(0x0800, &ipv4_bytes(PROTO_TCP, 1, DF, &[], &tcp_bytes(&ack)));
    frame.resize(60, 0);
    frame.extend([0xde, 0xad, 0xbe, 0xef]); // a frame check sequence
    let p = decode(1, &frame).unwrap();
    assert_eq!(tcp_of(&p).payload, b"x");
    assert_eq!(p.payload_missing, 0);

    let mut frame = ethernet(0x86dd, &ipv6_bytes(PROTO_UDP, &udp_bytes(53, 5353, b"q")));
    frame.resize(100, 0);
    assert_eq!(udp_of(&decode(1, &frame).unwrap()).payload, b"q");
}

#[test]
fn snaplen_cut_tcp_payload_keeps_the_captured_part_and_counts_the_rest_missing() {
    let big = Tcp {
        payload: &[0x17; 1000],
        ..sample_tcp()
    };
    for ip in [
        ipv4_bytes(PROTO_TCP, 1, DF, &[], &tcp_bytes(&big)),
        ipv6_bytes(PROTO_TCP, &tcp_bytes(&big)),
    ] {
        let header_len = ip.len() - 1000;
        let frame = ethernet(if ip[0] >> 4 == 4 { 0x0800 } else { 0x86dd }, &ip);
        let cut = &frame[..14 + header_len + 100];
        let p = decode(1, cut).unwrap();
        let t = tcp_of(&p);
        assert_eq!(t.payload, &[0x17; 100][..]);
        assert_eq!(p.payload_missing, 900);
        assert_eq!(t.options.timestamps, Some((111, 222)));
    }
}

#[test]
fn snaplen_cut_inside_the_tcp_header_is_malformed() {
    let frame = ethernet(0x0800, &sample_ipv4());
    // Ethernet 14 + IPv4 20 + 20 of the 32-byte TCP header.
    assert_eq!(
        decode(1, &frame[..54]).unwrap_err(),
        Skip::Malformed("tcp header")
    );
}

#[test]
fn snaplen_cut_udp_payload_counts_the_rest_missing() {
    let ip = ipv4_bytes(PROTO_UDP, 1, 0, &[], &udp_bytes(4433, 443, &[7; 300]));
    let p = decode(228, &ip[..20 + 8 + 50]).unwrap();
    assert_eq!(udp_of(&p).payload, &[7; 50][..]);
    assert_eq!(p.payload_missing, 250);
}

fn fragment_of<'a>(p: &Packet<'a>) -> Fragment<'a> {
    match p.transport {
        Transport::Fragment(f) => f,
        other => panic!("expected a fragment, got {other:?}"),
    }
}

#[test]
fn ipv4_fragments_are_given_with_offset_flag_id_and_protocol() {
    let tcp = tcp_bytes(&sample_tcp());
    for (frag, offset, more) in [(MF, 0, true), (185, 1480, false), (MF | 185, 1480, true)] {
        let ip = ipv4_bytes(PROTO_TCP, 0x4321, frag, &[], &tcp);
        let p = decode(228, &ip).unwrap();
        let f = fragment_of(&p);
        assert_eq!(
            (f.offset, f.more, f.id, f.protocol),
            (offset, more, 0x4321, PROTO_TCP)
        );
        assert_eq!(f.payload, &tcp[..]);
        assert_eq!(p.src, IpAddr::from(CLIENT4));
    }
    // DF alone is no fragment.
    assert!(decode(228, &ipv4_bytes(PROTO_TCP, 1, DF, &[], &tcp))
        .is_ok_and(|p| matches!(p.transport, Transport::Tcp(_))));
}

#[test]
fn ipv6_fragment_header_gives_a_fragment_unless_it_is_an_atomic_fragment() {
    const FRAGMENT: u8 = 44;
    const DEST_OPTIONS: u8 = 60;
    let tcp = tcp_bytes(&sample_tcp());
    let first = [PROTO_TCP, 0, 0x00, 0x01, 0, 0, 0, 42]; // offset 0, M=1
    let later = [PROTO_TCP, 0, 0x05, 0x00, 0, 0, 0, 42]; // offset 160 × 8 bytes, M=0
    let atomic = [PROTO_TCP, 0, 0x00, 0x00, 0, 0, 0, 42]; // offset 0, M=0
    for (header, offset, more) in [(first, 0, true), (later, 1280, false)] {
        let ip = ipv6_bytes(FRAGMENT, &concat(&[&header, &tcp]));
        let p = decode(229, &ip).unwrap();
        let f = fragment_of(&p);
        assert_eq!(
            (f.offset, f.more, f.id, f.protocol),
            (offset, more, 42, PROTO_TCP)
        );
        assert_eq!(f.payload, &tcp[..]);
    }
    let ip = ipv6_bytes(FRAGMENT, &concat(&[&atomic, &tcp]));
    assert_sample(&decode(229, &ip).unwrap(), 6);
    // A later fragment whose next header names destination options: its data are not parsed
    // as that header (they are the middle of the datagram).
    let later_opts = [DEST_OPTIONS, 0, 0x05, 0x00, 0, 0, 0, 43];
    let ip = ipv6_bytes(FRAGMENT, &concat(&[&later_opts, &[0xff; 24]]));
    let f = fragment_of(&decode(229, &ip).unwrap());
    assert_eq!(
        (f.offset, f.protocol, f.payload.len()),
        (1280, DEST_OPTIONS, 24)
    );
    // Behind a destination options header that comes before it.
    let opts = [FRAGMENT, 0, 1, 4, 0, 0, 0, 0];
    let ip = ipv6_bytes(DEST_OPTIONS, &concat(&[&opts, &later, &tcp]));
    let f = fragment_of(&decode(229, &ip).unwrap());
    assert_eq!((f.offset, f.id), (1280, 42));
}

#[test]
fn udp_datagram_yields_ports_and_payload() {
    let frame = ethernet(
        0x0800,
        &ipv4_bytes(PROTO_UDP, 9, 0, &[], &udp_bytes(4433, 443, b"quic")),
    );
    let p = decode(1, &frame).unwrap();
    let u = udp_of(&p);
    assert_eq!((u.src_port, u.dst_port), (4433, 443));
    assert_eq!(u.payload, b"quic");
    assert_eq!(p.ip.ip_id, Some(9));
    assert!(!p.ip.dont_fragment);
}

#[test]
fn udp_length_zero_or_contradicting_the_ip_length_falls_back_to_the_ip_payload() {
    for bogus in [0u16, 3, 2000] {
        let mut udp = udp_bytes(53, 53, b"answer");
        udp[4..6].copy_from_slice(&bogus.to_be_bytes());
        let ip = ipv6_bytes(PROTO_UDP, &udp);
        let p = decode(229, &ip).unwrap();
        assert_eq!(udp_of(&p).payload, b"answer", "udp length {bogus}");
        assert_eq!(p.payload_missing, 0);
    }
    // A UDP length shorter than the IP payload bounds the payload.
    let mut udp = udp_bytes(53, 53, b"answer");
    udp[4..6].copy_from_slice(&10u16.to_be_bytes());
    let ip = ipv6_bytes(PROTO_UDP, &udp);
    let p = decode(229, &ip).unwrap();
    assert_eq!(udp_of(&p).payload, b"an");
}

#[test]
fn arp_frame_is_not_ip() {
    let arp = [
        0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 192, 0, 2, 7,
    ];
    assert_eq!(decode(1, &ethernet(0x0806, &arp)).unwrap_err(), Skip::NotIp);
}

#[test]
fn icmp_and_icmpv6_are_other_transports() {
    let echo = [8, 0, 0, 0, 0, 1, 0, 1];
    let v4 = ipv4_bytes(1, 1, 0, &[], &echo);
    assert_eq!(decode(228, &v4).unwrap_err(), Skip::OtherTransport);
    let v6 = ipv6_bytes(58, &[128, 0, 0, 0, 0, 1, 0, 1]);
    assert_eq!(decode(229, &v6).unwrap_err(), Skip::OtherTransport);
    // ESP after an IPv6 header.
    let esp = ipv6_bytes(50, &[0, 0, 0, 1, 0, 0, 0, 1, 9, 9]);
    assert_eq!(decode(229, &esp).unwrap_err(), Skip::OtherTransport);
}

#[test]
fn unknown_link_type_is_unsupported() {
    let frame = ethernet(0x0800, &sample_ipv4());
    assert_eq!(
        decode(147, &frame).unwrap_err(),
        Skip::UnsupportedLinkType(147)
    );
}

/// One valid frame for every supported link type.
fn valid_frames() -> Vec<(u32, Vec<u8>)> {
    let sll = [0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
    let sll2 = [
        0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0,
    ];
    let mut ext6 = vec![60, 0, 1, 4, 0, 0, 0, 0, PROTO_TCP, 0, 1, 4, 0, 0, 0, 0];
    ext6.extend(tcp_bytes(&sample_tcp()));
    vec![
        (1, ethernet(0x0800, &sample_ipv4())),
        (
            1,
            ethernet(
                0x88a8,
                &concat(&[&vlan_tag(1, 0x8100), &vlan_tag(2, 0x86dd), &sample_ipv6()]),
            ),
        ),
        (
            1,
            ethernet(
                0x0800,
                &ipv4_bytes(PROTO_UDP, 1, 0, &[], &udp_bytes(1, 2, b"abc")),
            ),
        ),
        (113, concat(&[&sll, &sample_ipv4()])),
        (276, concat(&[&sll2, &sample_ipv6()])),
        (
            101,
            ipv4_bytes(PROTO_TCP, 1, 0, &[0x94, 4, 0, 0], &tcp_bytes(&sample_tcp())),
        ),
        (229, ipv6_bytes(0, &ext6)),
        (0, concat(&[&[30, 0, 0, 0], &sample_ipv6()])),
        (108, concat(&[&[0, 0, 0, 2], &sample_ipv4()])),
        (9, concat(&[&[0xff, 0x03, 0x00, 0x21], &sample_ipv4()])),
        (50, concat(&[&[0x57], &sample_ipv6()])),
    ]
}

#[test]
fn a_packet_and_its_answer_hash_alike_and_other_flows_mostly_do_not() {
    let mut seen = std::collections::HashSet::new();
    for (link_type, frame) in valid_frames() {
        let p = decode(link_type, &frame).expect("valid frame");
        let back = Packet {
            src: p.dst,
            dst: p.src,
            transport: match p.transport {
                Transport::Tcp(t) => Transport::Tcp(TcpSegment {
                    src_port: t.dst_port,
                    dst_port: t.src_port,
                    ..t
                }),
                Transport::Udp(u) => Transport::Udp(UdpDatagram {
                    src_port: u.dst_port,
                    dst_port: u.src_port,
                    ..u
                }),
                other => other,
            },
            ..p
        };
        assert_eq!(packet_hash(&back), packet_hash(&p), "link type {link_type}");
        seen.insert(packet_hash(&p));
    }
    // Ports differing by one, addresses differing in one bit: different hashes.
    for port in 0..1000u16 {
        let p = Packet {
            transport: Transport::Udp(UdpDatagram {
                src_port: 40000 + port,
                dst_port: 53,
                payload: &[],
            }),
            ..decode(
                101,
                &ipv4_bytes(PROTO_UDP, 1, 0, &[], &udp_bytes(1, 2, b"")),
            )
            .expect("udp")
        };
        seen.insert(packet_hash(&p));
    }
    assert!(seen.len() > 1000, "{} distinct hashes", seen.len());
}

/// The IP packet inside a frame of one of the test link types, if it has one.
fn ip_part(link_type: u32, frame: &[u8]) -> Option<(&[u8], Option<u8>)> {
    match link_type {
        1 => match frame.get(12..14)? {
            [0x08, 0x00] => Some((frame.get(14..)?, Some(4))),
            [0x86, 0xdd] => Some((frame.get(14..)?, Some(6))),
            _ => None,
        },
        101 | 12 | 14 => Some((frame, None)),
        113 => Some((frame.get(16..)?, None)),
        276 => Some((frame.get(20..)?, None)),
        _ => None,
    }
}

/// The fast path either declines or says what etherparse's slicers say.
fn assert_fast_path_agrees(data: &[u8], expected: Option<u8>, what: &str) -> bool {
    match plain_tcp(data, expected) {
        Some(fast) => {
            let sliced = sliced_ip(data, expected, &mut Encap::default());
            assert_eq!(Ok(Step::Done(fast)), sliced, "{what}");
            true
        }
        None => false,
    }
}

#[test]
fn the_direct_tcp_path_gives_what_the_slicers_give_on_every_corpus_frame_and_mutations() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let (mut taken, mut seen) = (0u64, 0u64);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for sub in ["ja4", "suricata-verify", "zeek"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(bytes) = std::fs::read(e.path()) else {
                continue;
            };
            let _ = crate::capture::read_bytes("corpus", &bytes, &mut |f| {
                let Some((ip, expected)) = ip_part(f.link_type, f.data) else {
                    return;
                };
                seen += 1;
                let what = format!("{} frame {}", e.path().display(), f.number);
                taken += u64::from(assert_fast_path_agrees(ip, expected, &what));
                // The same packet with a byte of its IP or TCP header changed, and cut.
                let mut m = ip.to_vec();
                for _ in 0..4 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let at = (x as usize >> 8) % m.len().clamp(1, 80);
                    if let Some(b) = m.get_mut(at) {
                        *b = (x >> 32) as u8;
                    }
                    assert_fast_path_agrees(&m, expected, &what);
                    let cut = (x as usize >> 40) % (m.len() + 1);
                    assert_fast_path_agrees(&m[..cut], expected, &what);
                }
            });
        }
    }
    // Most corpus traffic is plain TCP: the fast path must be the common one.
    assert!(
        seen > 5_000 && taken * 2 > seen,
        "{taken} of {seen} frames took the fast path"
    );
}

#[test]
fn valid_frames_cut_at_every_length_decode_without_panicking() {
    for (link_type, frame) in valid_frames() {
        assert!(decode(link_type, &frame).is_ok(), "link type {link_type}");
        for len in 0..frame.len() {
            let _ = decode(link_type, &frame[..len]);
        }
    }
}

#[test]
fn valid_frames_with_any_byte_overwritten_decode_without_panicking() {
    for (link_type, frame) in valid_frames() {
        for at in 0..frame.len() {
            for value in [0x00, 0x01, 0x0f, 0x45, 0x7f, 0x80, 0xff] {
                let mut bad = frame.clone();
                bad[at] = value;
                let _ = decode(link_type, &bad);
            }
        }
    }
}

#[test]
fn malformed_inputs_are_skipped_with_a_reason() {
    let tcp = tcp_bytes(&sample_tcp());
    let mut short_offset = tcp.clone();
    short_offset[12] = 4 << 4;
    let mut offset_past_end = tcp_bytes(&Tcp {
        options: &[],
        payload: &[],
        ..sample_tcp()
    });
    offset_past_end[12] = 15 << 4;
    let mut ihl_too_small = sample_ipv4();
    ihl_too_small[0] = 0x44;
    let mut ihl_past_end = ipv4_bytes(PROTO_TCP, 1, 0, &[], &[]);
    ihl_past_end[0] = 0x4f;
    let truncated_ext = ipv6_bytes(0, &[PROTO_TCP, 3, 1, 4]);
    let hop_by_hop_not_first = ipv6_bytes(60, &[0, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0]);
    let cases: Vec<(&str, u32, Vec<u8>, Skip)> = vec![
        ("empty ethernet", 1, vec![], Skip::Malformed("link header")),
        (
            "13-byte ethernet",
            1,
            vec![0; 13],
            Skip::Malformed("link header"),
        ),
        (
            "ethernet header only",
            1,
            ethernet(0x0800, &[]),
            Skip::Malformed("ip header"),
        ),
        (
            "vlan tag cut short",
            1,
            ethernet(0x8100, &[0, 1, 8]),
            Skip::Malformed("vlan tag"),
        ),
        (
            "802.3 length field",
            1,
            ethernet(0x0040, &[0; 64]),
            Skip::NotIp,
        ),
        (
            "short sll",
            113,
            vec![0; 15],
            Skip::Malformed("link header"),
        ),
        (
            "short sll2",
            276,
            vec![0; 19],
            Skip::Malformed("link header"),
        ),
        (
            "short null",
            0,
            vec![2, 0, 0],
            Skip::Malformed("link header"),
        ),
        (
            "short loop",
            108,
            vec![0, 0],
            Skip::Malformed("link header"),
        ),
        (
            "empty ppp",
            9,
            vec![0xff, 0x03],
            Skip::Malformed("link header"),
        ),
        ("empty raw", 101, vec![], Skip::Malformed("ip header")),
        ("raw version 5", 101, vec![0x50; 40], Skip::NotIp),
        ("raw version 0", 12, vec![0; 40], Skip::NotIp),
        (
            "ipv4 ihl below 5",
            228,
            ihl_too_small,
            Skip::Malformed("ip header"),
        ),
        (
            "ipv4 ihl past the end",
            228,
            ihl_past_end,
            Skip::Malformed("ip header"),
        ),
        (
            "short ipv6 header",
            229,
            vec![0x60; 39],
            Skip::Malformed("ip header"),
        ),
        (
            "truncated ipv6 extension header",
            229,
            truncated_ext,
            Skip::Malformed("ip extension header"),
        ),
        (
            "hop-by-hop after another extension header",
            229,
            hop_by_hop_not_first,
            Skip::Malformed("ip extension header"),
        ),
        (
            "tcp data offset 4",
            228,
            ipv4_bytes(PROTO_TCP, 1, 0, &[], &short_offset),
            Skip::Malformed("tcp header"),
        ),
        (
            "tcp data offset past the segment",
            228,
            ipv4_bytes(PROTO_TCP, 1, 0, &[], &offset_past_end),
            Skip::Malformed("tcp header"),
        ),
        (
            "tcp header shorter than 20",
            228,
            ipv4_bytes(PROTO_TCP, 1, 0, &[], &tcp[..19]),
            Skip::Malformed("tcp header"),
        ),
        (
            "udp header shorter than 8",
            229,
            ipv6_bytes(PROTO_UDP, &[0, 53, 0, 53, 0, 8, 0]),
            Skip::Malformed("udp header"),
        ),
    ];
    for (what, link_type, frame, want) in cases {
        assert_eq!(decode(link_type, &frame).unwrap_err(), want, "{what}");
    }
}

/// An ICMPv4 error of `icmp_type`/`code` (with `rest`, the 4 bytes after the checksum) that
/// quotes the first 28 bytes of `sample_ipv4()`, sent by a router at 10.9.9.9.
fn icmp_error(icmp_type: u8, code: u8, rest: [u8; 4]) -> Vec<u8> {
    let quoted = sample_ipv4();
    let mut icmp = vec![icmp_type, code, 0, 0];
    icmp.extend(rest);
    icmp.extend(
        quoted
            .get(..28)
            .expect("a 20-byte IP header and 8 bytes of TCP"),
    );
    let mut ip = ipv4_bytes(1, 7, 0, &[], &icmp);
    ip[12..16].copy_from_slice(&[10, 9, 9, 9]);
    ip
}

#[test]
fn icmp_errors_quote_the_packet_they_answer_and_hash_with_its_flow() {
    let bytes = sample_ipv4();
    let original = decode(linktype::RAW, &bytes).expect("valid");
    let t = tcp_of(&original);
    for (icmp_type, code, rest, kind) in [
        (11, 0, [0; 4], IcmpKind::TimeExceeded),
        (
            3,
            13,
            [0; 4],
            IcmpKind::Unreachable(Unreachable::Prohibited),
        ),
        (3, 3, [0; 4], IcmpKind::Unreachable(Unreachable::Port)),
        (3, 4, [0, 0, 0x05, 0x78], IcmpKind::TooBig { mtu: 1400 }),
    ] {
        let bytes = icmp_error(icmp_type, code, rest);
        let p = decode(linktype::RAW, &bytes).expect("an ICMP error");
        let Transport::Icmp(e) = p.transport else {
            panic!("type {icmp_type} code {code}: {p:?}");
        };
        assert_eq!(e.kind, kind);
        assert_eq!(
            (
                e.quoted.src,
                e.quoted.dst,
                e.quoted.src_port,
                e.quoted.dst_port,
                e.quoted.seq
            ),
            (
                original.src,
                original.dst,
                t.src_port,
                t.dst_port,
                Some(t.seq)
            )
        );
        assert!(!e.quoted.udp);
        assert_eq!(packet_hash(&p), packet_hash(&original));
    }
}

#[test]
fn icmp_that_is_no_error_or_quotes_too_little_is_skipped() {
    let echo = ipv4_bytes(1, 7, 0, &[], &[8, 0, 0, 0, 0, 1, 0, 1]);
    assert_eq!(decode(linktype::RAW, &echo), Err(Skip::OtherTransport));
    let mut short = icmp_error(11, 0, [0; 4]);
    short.truncate(short.len() - 6);
    // The IP total length still promises the full quote: fix it to what is left.
    let len = u16::try_from(short.len()).expect("small");
    short[2..4].copy_from_slice(&len.to_be_bytes());
    assert!(matches!(
        decode(linktype::RAW, &short),
        Err(Skip::Malformed(_))
    ));
}
