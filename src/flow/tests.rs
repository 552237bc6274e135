//! Unit tests of the flow table: connection identity (ISNs, SYN-ACKs, packets after the
//! close), what counts as stream data (RST and FIN payloads), ACK coverage and ICMP matching,
//! with a recording application and packets built here.

use super::*;
use crate::net::{IcmpError, IcmpKind, Quoted, Unreachable};
use std::net::Ipv4Addr;

/// Records what each side delivered.
#[derive(Default)]
struct Recorder {
    bytes: [Vec<u8>; 2],
}

impl FlowApp for Recorder {
    type Context = ();
    fn new(_: &()) -> Self {
        Recorder::default()
    }
    fn deliver(&mut self, side: usize, delivery: Delivery<'_>) {
        if let Delivery::Data { bytes, .. } = delivery {
            self.bytes[side].extend_from_slice(bytes);
        }
    }
    fn wants_data(&self, _: usize) -> bool {
        true
    }
    fn wants_buffering(&self, _: usize) -> bool {
        true
    }
    fn client_side(&self) -> Option<usize> {
        None
    }
    fn datagram(&mut self, _: usize, _: &[u8], _: Origin) {}
}

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const ISN_C: u32 = 1000;
const ISN_S: u32 = 5000;

/// Feeds packets to a table, frame numbers from 1, one millisecond apart.
struct Lab {
    table: FlowTable<Recorder>,
    frame: u64,
}

impl Lab {
    fn new() -> Lab {
        Lab {
            table: FlowTable::new(Arc::new(())),
            frame: 0,
        }
    }

    fn at(&mut self, ms: i64) -> (u64, Timestamp) {
        self.frame += 1;
        (self.frame, Timestamp(ms * 1_000_000))
    }

    fn tcp(&mut self, ms: i64, from_client: bool, flags: u8, seq: u32, ack: u32, payload: &[u8]) {
        let (src, dst, sp, dp) = if from_client {
            (CLIENT, SERVER, 40000, 443)
        } else {
            (SERVER, CLIENT, 443, 40000)
        };
        let pkt = Packet {
            src: src.into(),
            dst: dst.into(),
            ip: IpFacts {
                version: 4,
                ttl: 64,
                ip_id: None,
                dont_fragment: true,
            },
            transport: Transport::Tcp(TcpSegment {
                src_port: sp,
                dst_port: dp,
                seq,
                ack,
                flags,
                window: 500,
                options: TcpOptions::default(),
                payload,
            }),
            payload_missing: 0,
            encap: Default::default(),
        };
        let (frame, ts) = self.at(ms);
        self.table.packet(&pkt, frame, ts);
    }

    /// SYN, SYN-ACK, ACK.
    fn handshake(&mut self) {
        self.tcp(0, true, flags::SYN, ISN_C, 0, b"");
        self.tcp(40, false, flags::SYN | flags::ACK, ISN_S, ISN_C + 1, b"");
        self.tcp(41, true, flags::ACK, ISN_C + 1, ISN_S + 1, b"");
    }

    #[allow(clippy::vec_box)] // reason: the table hands out boxed flows; unboxing them here would copy each
    fn finish(mut self) -> Vec<Box<Flow<Recorder>>> {
        let mut out = Vec::new();
        self.table.finish_all(&mut |f| out.push(f));
        out.sort_by_key(|f| f.first_frame);
        out
    }
}

const ACK_PSH: u8 = flags::ACK | flags::PSH;

#[test]
fn a_rsts_payload_is_evidence_not_stream_data() {
    let mut lab = Lab::new();
    lab.handshake();
    lab.tcp(42, true, ACK_PSH, ISN_C + 1, ISN_S + 1, b"hello");
    lab.tcp(
        45,
        false,
        flags::RST | flags::ACK,
        ISN_S + 1,
        ISN_C + 6,
        &[0; 6],
    );
    let flows = lab.finish();
    assert_eq!(flows.len(), 1);
    let f = &flows[0];
    assert!(f.app.bytes[1].is_empty(), "{:?}", f.app.bytes[1]);
    assert_eq!(f.resets.first().map(|e| e.payload_len), Some(6));
    assert_eq!(
        (f.sides[1].payload_bytes, f.sides[1].first_data_frame),
        (0, None)
    );
    assert_eq!(f.resets.len(), 1);
}

#[test]
fn a_syn_retransmitted_with_the_same_isn_is_the_same_connection() {
    let mut lab = Lab::new();
    lab.tcp(0, true, flags::SYN, ISN_C, 0, b"");
    lab.tcp(3000, true, flags::SYN, ISN_C, 0, b"");
    lab.tcp(3040, false, flags::SYN | flags::ACK, ISN_S, ISN_C + 1, b"");
    assert_eq!(lab.finish().len(), 1);
    // A new ISN is a new connection.
    let mut lab = Lab::new();
    lab.tcp(0, true, flags::SYN, ISN_C, 0, b"");
    lab.tcp(3000, true, flags::SYN, ISN_C + 77_777, 0, b"");
    let flows = lab.finish();
    assert_eq!(flows.len(), 2);
    assert_eq!(flows[0].end, EndReason::Reused);
}

#[test]
fn the_syn_ack_the_client_acknowledges_is_the_connections() {
    let mut lab = Lab::new();
    lab.tcp(0, true, flags::SYN, ISN_C, 0, b"");
    // A forged SYN-ACK first, with another ISN; then the real one, which the client ACKs.
    lab.tcp(5, false, flags::SYN | flags::ACK, 9_999_999, ISN_C + 1, b"");
    lab.tcp(40, false, flags::SYN | flags::ACK, ISN_S, ISN_C + 1, b"");
    lab.tcp(41, true, flags::ACK, ISN_C + 1, ISN_S + 1, b"");
    lab.tcp(90, false, ACK_PSH, ISN_S + 1, ISN_C + 1, b"server hello");
    let flows = lab.finish();
    let f = &flows[0];
    assert_eq!(f.syn_ack().map(|e| e.seq), Some(ISN_S));
    assert_eq!(f.other_syn_ack.as_ref().map(|e| e.seq), Some(9_999_999));
    assert_eq!(f.handshake_ack().map(|e| e.frame), Some(4));
    assert_eq!(
        f.app.bytes[1], b"server hello",
        "the server's stream starts at its real ISN"
    );
}

#[test]
fn packets_after_a_closed_connection_was_reported_stay_with_it_until_a_new_isn() {
    let mut lab = Lab::new();
    lab.handshake();
    lab.tcp(
        100,
        false,
        flags::FIN | flags::ACK,
        ISN_S + 1,
        ISN_C + 1,
        b"",
    );
    lab.tcp(
        101,
        true,
        flags::FIN | flags::ACK,
        ISN_C + 1,
        ISN_S + 2,
        b"",
    );
    // Closed: swept after CLOSED_TIMEOUT_NS.
    lab.table.sweep(Timestamp(60_000_000_000));
    let mut done = Vec::new();
    lab.table.drain_finished(&mut |f| done.push(f));
    assert_eq!(done.len(), 1);
    // A late retransmission of the client's FIN, and of its SYN: the same connection.
    lab.tcp(
        65_000,
        true,
        flags::FIN | flags::ACK,
        ISN_C + 1,
        ISN_S + 2,
        b"",
    );
    lab.tcp(66_000, true, flags::SYN, ISN_C, 0, b"");
    assert_eq!(lab.table.stats.after_close, 2);
    assert_eq!(lab.table.open_flows(), 0);
    // A new SYN with a new ISN opens a new connection.
    lab.tcp(67_000, true, flags::SYN, ISN_C + 500_000, 0, b"");
    assert_eq!(lab.table.open_flows(), 1);
    // Far from the old sequence space, a segment is another connection seen mid-stream.
    let mut lab2 = Lab::new();
    lab2.handshake();
    lab2.tcp(100, false, flags::RST, ISN_S + 1, 0, b"");
    lab2.table.sweep(Timestamp(60_000_000_000));
    lab2.tcp(65_000, true, ACK_PSH, ISN_C + 0x4000_0000, 1, b"x");
    assert_eq!(lab2.table.open_flows(), 1);
}

#[test]
fn a_fins_payload_raced_by_other_bytes_at_its_sequence_numbers_is_dropped() {
    let mut lab = Lab::new();
    lab.handshake();
    lab.tcp(42, true, ACK_PSH, ISN_C + 1, ISN_S + 1, b"client hello");
    lab.tcp(
        44,
        false,
        flags::FIN | ACK_PSH,
        ISN_S + 1,
        ISN_C + 13,
        b"HTTP/1.1 403 blocked",
    );
    lab.tcp(
        80,
        false,
        ACK_PSH,
        ISN_S + 1,
        ISN_C + 13,
        b"\x16\x03\x03\x00\x02ok",
    );
    let flows = lab.finish();
    let f = &flows[0];
    assert_eq!(f.app.bytes[1], b"\x16\x03\x03\x00\x02ok");
    assert_eq!(
        f.sides[1].raced,
        Some(Raced {
            fin_frame: 5,
            fin_len: 20,
            real_frame: 6
        })
    );
}

#[test]
fn a_fins_payload_that_nothing_contradicts_is_the_ends_last_words() {
    let mut lab = Lab::new();
    lab.handshake();
    lab.tcp(42, true, ACK_PSH, ISN_C + 1, ISN_S + 1, b"client hello");
    lab.tcp(
        80,
        false,
        flags::FIN | ACK_PSH,
        ISN_S + 1,
        ISN_C + 13,
        b"HTTP/1.1 400 Bad",
    );
    // Its retransmission, same bytes, is no race.
    lab.tcp(
        300,
        false,
        flags::FIN | ACK_PSH,
        ISN_S + 1,
        ISN_C + 13,
        b"HTTP/1.1 400 Bad",
    );
    let flows = lab.finish();
    let f = &flows[0];
    assert_eq!(f.app.bytes[1], b"HTTP/1.1 400 Bad");
    assert_eq!(f.sides[1].raced, None);
}

#[test]
fn each_side_keeps_the_highest_ack_the_other_sent() {
    let mut lab = Lab::new();
    lab.handshake();
    lab.tcp(42, true, ACK_PSH, ISN_C + 1, ISN_S + 1, b"0123456789");
    lab.tcp(80, false, flags::ACK, ISN_S + 1, ISN_C + 11, b"");
    // An old ACK arriving late does not move it back.
    lab.tcp(81, false, flags::ACK, ISN_S + 1, ISN_C + 1, b"");
    let flows = lab.finish();
    assert_eq!(flows[0].sides[0].acked_by_peer, Some(ISN_C + 11));
    assert_eq!(flows[0].sides[1].acked_by_peer, Some(ISN_S + 1));
}

#[test]
fn an_icmp_error_joins_the_flow_of_the_packet_it_quotes() {
    let mut lab = Lab::new();
    lab.handshake();
    let router: IpAddr = Ipv4Addr::new(192, 0, 2, 1).into();
    let icmp = |src_port| Packet {
        src: router,
        dst: CLIENT.into(),
        ip: IpFacts {
            version: 4,
            ttl: 250,
            ip_id: Some(1),
            dont_fragment: false,
        },
        transport: Transport::Icmp(IcmpError {
            kind: IcmpKind::Unreachable(Unreachable::Prohibited),
            quoted: Quoted {
                src: CLIENT.into(),
                dst: SERVER.into(),
                udp: false,
                src_port,
                dst_port: 443,
                seq: Some(ISN_C + 1),
                ttl: 3,
            },
        }),
        payload_missing: 0,
        encap: Default::default(),
    };
    lab.table.packet(&icmp(40000), 9, Timestamp(50_000_000));
    lab.table.packet(&icmp(40001), 10, Timestamp(50_000_000));
    assert_eq!(lab.table.stats.icmp_unmatched, 1);
    let flows = lab.finish();
    let e = flows[0].icmp.first().copied().expect("matched");
    assert_eq!(
        (e.frame, e.side, e.router, e.seq),
        (9, 0, router, Some(ISN_C + 1))
    );
}

#[test]
fn a_copy_of_a_fins_payload_tail_is_no_race() {
    let mut lab = Lab::new();
    lab.handshake();
    lab.tcp(42, true, ACK_PSH, ISN_C + 1, ISN_S + 1, b"client hello");
    let fin = flags::FIN | ACK_PSH;
    lab.tcp(80, false, fin, ISN_S + 1, ISN_C + 13, b"HTTP/1.1 400 Bad");
    lab.tcp(300, false, fin, ISN_S + 10, ISN_C + 13, b"400 Bad");
    let flows = lab.finish();
    let f = &flows[0];
    assert_eq!(f.sides[1].raced, None);
    assert_eq!(f.app.bytes[1], b"HTTP/1.1 400 Bad");
}
