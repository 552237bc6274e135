//! path: a connection's TCP facts in; what the network between the ends did to its packets,
//! out: which bytes never reached the other end (the peer's ACKs say which did), whether the
//! lost ones were the large ones only (a path-MTU black hole), and what ICMP errors said.
//!
//! These are small functions over plain facts ([`Tcp`]), unit-tested without a pcap. They see
//! only the first packets of a connection (its timeline, [`crate::flow::MAX_TIMELINE`]), which
//! is where a handshake lives; they say nothing about bulk transfers.

use super::forensics::Tcp;
use crate::capture::Timestamp;
use crate::flow::reassembly::Seq;
use crate::flow::{IcmpEvent, TcpEvent};
use crate::ids::{FindingId, Severity};
use crate::net::{flags, IcmpKind, Unreachable};
use crate::record::Finding;
use crate::text::secs;

/// Transmissions of one segment that no ACK from the other end ever covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unacked {
    pub seq: u32,
    /// The first transmission's length.
    pub len: u32,
    /// The shortest transmission's length (a stack may send more or less with a
    /// retransmission).
    pub min_len: u32,
    /// Times it was sent (1 + retransmissions).
    pub sent: u32,
    pub frames: Vec<u64>,
    pub first: Timestamp,
    pub last: Timestamp,
}

impl Unacked {
    /// "974 bytes at seq 1, sent 7 times over 7.96 s (frames 102, 131, …), never acknowledged".
    pub fn describe(&self, isn: Option<u32>) -> String {
        let frames: Vec<String> = self.frames.iter().take(8).map(u64::to_string).collect();
        let more = if self.frames.len() > 8 { ", …" } else { "" };
        let seq = isn.map_or(self.seq, |i| self.seq.wrapping_sub(i));
        format!(
            "{} bytes at relative seq {seq}, sent {} times over {} s (frames {}{more}), never acknowledged",
            self.len,
            self.sent,
            secs(self.last.0.saturating_sub(self.first.0)),
            frames.join(", ")
        )
    }
}

/// A segment is unacknowledged when the other end's highest ACK does not reach past its first
/// byte (RFC 9293 §3.4: an ACK acknowledges every byte before it).
pub(super) fn never_acked(e: &TcpEvent, acked: Option<u32>) -> bool {
    acked.is_none_or(|a| !Seq(e.seq).is_before(Seq(a)))
}

pub(super) fn is_data(e: &TcpEvent) -> bool {
    e.payload_len > 0 && e.flags & flags::RST == 0
}

/// The lowest data segment `side` sent that the other end never acknowledged, with how often
/// it was sent.
pub fn unacked(tcp: &Tcp<'_>, side: usize) -> Option<Unacked> {
    let acked = tcp.acked.get(side).copied().flatten();
    let lost: Vec<&TcpEvent> = tcp
        .timeline
        .iter()
        .filter(|e| e.side == side && is_data(e) && never_acked(e, acked))
        .collect();
    let lowest = lost
        .iter()
        .min_by(|a, b| Seq(a.seq).diff(Seq(b.seq)).cmp(&0))?
        .seq;
    let copies: Vec<&&TcpEvent> = lost.iter().filter(|e| e.seq == lowest).collect();
    let (first, last) = (copies.first()?, copies.last()?);
    Some(Unacked {
        seq: lowest,
        len: first.payload_len,
        min_len: copies.iter().map(|e| e.payload_len).min().unwrap_or(0),
        sent: copies.len() as u32,
        frames: copies.iter().map(|e| e.frame).collect(),
        first: first.ts,
        last: last.ts,
    })
}

/// Segments at least this long count as full-size for a path-MTU black hole: every common
/// path MTU less its headers is above it, a ClientHello in one small segment is below it.
pub const FULL_SIZE: u32 = 1200;

/// A path-MTU black hole: `side`'s full-size segments were never acknowledged, though smaller
/// ones were (RFC 4821 §1: the ICMP that should shrink them is lost or filtered). The largest
/// acknowledged segment and the lost one.
pub fn mtu_black_hole(tcp: &Tcp<'_>, side: usize, lost: &Unacked) -> Option<(u32, u32)> {
    if lost.min_len < FULL_SIZE || lost.sent < 2 {
        return None;
    }
    let acked = tcp.acked.get(side).copied().flatten();
    let largest_acked = tcp
        .timeline
        .iter()
        .filter(|e| e.side == side && is_data(e) && !never_acked(e, acked))
        .map(|e| e.payload_len)
        .max()?;
    (largest_acked < lost.min_len).then_some((largest_acked, lost.min_len))
}

/// What an ICMP error said about a packet, in words: "expired in transit 3 hops out (router
/// 198.108.11.10)".
pub fn icmp_said(e: &IcmpEvent, timeline: &[TcpEvent]) -> String {
    let router = e.router;
    match e.kind {
        IcmpKind::TimeExceeded => {
            // The TTL the sender gave the packet is how many hops it got: when the capture is
            // at the sender, the quoted sequence number finds it.
            let sent_ttl = timeline
                .iter()
                .find(|p| p.side == e.side && Some(p.seq) == e.seq && p.payload_len > 0)
                .map(|p| p.ip.ttl);
            match sent_ttl {
                Some(ttl) => format!("expired in transit {ttl} hop(s) out (ICMP time exceeded from {router}; it was sent with TTL {ttl})"),
                None => format!("expired in transit (ICMP time exceeded from {router})"),
            }
        }
        IcmpKind::Unreachable(why) => {
            let why = match why {
                Unreachable::Prohibited => "administratively prohibited: a firewall rejected it",
                Unreachable::Port => "port unreachable: nothing listens there",
                Unreachable::Host => "host unreachable",
                Unreachable::Network => "network unreachable",
                Unreachable::Other(_) => "unreachable",
            };
            format!("was rejected by {router} with ICMP destination unreachable ({why})")
        }
        IcmpKind::TooBig { mtu } => {
            format!("was too big for the path: {router} said the next hop's MTU is {mtu}")
        }
    }
}

/// One finding per ICMP error about the connection's packets (the first of each kind).
pub fn icmp_findings(icmp: &[IcmpEvent], timeline: &[TcpEvent], client: usize) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    for e in icmp {
        let (id, severity) = match e.kind {
            IcmpKind::TimeExceeded => (FindingId::IcmpTimeExceeded, Severity::Medium),
            IcmpKind::Unreachable(Unreachable::Prohibited) => {
                (FindingId::IcmpUnreachable, Severity::High)
            }
            IcmpKind::Unreachable(_) => (FindingId::IcmpUnreachable, Severity::Medium),
            IcmpKind::TooBig { .. } => (FindingId::IcmpTooBig, Severity::Low),
        };
        if out.iter().any(|f| f.id == id) {
            continue;
        }
        let whose = super::parts::who(e.side, client);
        let advice = match e.kind {
            IcmpKind::TimeExceeded => "a packet sent with a small TTL (a traceroute) or a routing loop: check the route and the sender's TTL",
            IcmpKind::Unreachable(_) => "the device that sent the ICMP error refused the packet: check its filtering rules for this address and port",
            IcmpKind::TooBig { .. } => "normal path-MTU discovery when the sender then sends smaller segments; if it does not, clamp the MSS",
        };
        out.push(
            Finding::new(
                id,
                format!("the {whose}'s packet {}", icmp_said(e, timeline)),
            )
            .severity(severity)
            .frame(e.frame)
            .advice(advice),
        );
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::judge::forensics::tests::{ev, handshake, tcp};

    fn data(frame: u64, side: usize, ms: i64, seq: u32, len: u32) -> TcpEvent {
        let mut e = ev(frame, side, ms, flags::ACK | flags::PSH);
        e.seq = seq;
        e.payload_len = len;
        e
    }

    /// The client's ClientHello in two segments: the first is acknowledged, the second is
    /// sent `copies` times and never is.
    fn second_segment_lost(copies: i64) -> Vec<TcpEvent> {
        let mut t = handshake();
        t.pop();
        t.push(data(4, 0, 42, 1001, 500));
        for k in 0..copies {
            t.push(data(5 + k as u64, 0, 43 + 200 * k, 1501, 700));
        }
        t
    }

    #[test]
    fn a_segment_retransmitted_and_never_acknowledged_is_unacked_with_its_count() {
        let t = second_segment_lost(7);
        let mut facts = tcp(&t, &[]);
        facts.acked = [Some(1501), None];
        let u = unacked(&facts, 0).expect("the second segment is lost");
        assert_eq!((u.seq, u.len, u.sent), (1501, 700, 7));
        assert_eq!(u.frames.first(), Some(&5));
        assert!(
            u.describe(Some(1000))
                .contains("relative seq 501, sent 7 times over 1.2 s"),
            "{}",
            u.describe(Some(1000))
        );
    }

    #[test]
    fn acknowledged_data_is_not_unacked() {
        let t = second_segment_lost(3);
        let mut facts = tcp(&t, &[]);
        facts.acked = [Some(2201), None];
        assert_eq!(unacked(&facts, 0), None);
        // An ACK of the first byte only does not cover the segment that starts there.
        facts.acked = [Some(1501), None];
        assert!(unacked(&facts, 0).is_some());
    }

    #[test]
    fn without_any_ack_every_data_segment_is_unacked() {
        let t = second_segment_lost(1);
        let facts = tcp(&t, &[]);
        assert_eq!(unacked(&facts, 0).map(|u| u.seq), Some(1001));
    }

    #[test]
    fn rst_payload_is_not_data() {
        let mut t = handshake();
        t.pop();
        let mut rst = data(4, 0, 42, 1001, 6);
        rst.flags = flags::RST | flags::ACK;
        t.push(rst);
        assert_eq!(unacked(&tcp(&t, &[]), 0), None);
    }

    #[test]
    fn only_full_size_segments_lost_while_small_ones_pass_is_an_mtu_black_hole() {
        let mut t = handshake();
        t.pop();
        t.push(data(4, 0, 42, 1001, 300));
        t.push(data(5, 0, 43, 1301, 1448));
        t.push(data(6, 0, 243, 1301, 1448));
        let mut facts = tcp(&t, &[]);
        facts.acked = [Some(1301), None];
        let lost = unacked(&facts, 0).expect("lost");
        assert_eq!(mtu_black_hole(&facts, 0, &lost), Some((300, 1448)));
        // A small lost segment is no MTU problem.
        let t = second_segment_lost(3);
        let mut facts = tcp(&t, &[]);
        facts.acked = [Some(1501), None];
        let lost = unacked(&facts, 0).expect("lost");
        assert_eq!(mtu_black_hole(&facts, 0, &lost), None);
        // Nor is a small segment lost again and again, then resent with more data behind it.
        let mut t = second_segment_lost(3);
        t.push(data(9, 0, 900, 1501, 1400));
        let mut facts = tcp(&t, &[]);
        facts.acked = [Some(1501), None];
        let lost = unacked(&facts, 0).expect("lost");
        assert_eq!((lost.len, lost.min_len, lost.sent), (700, 700, 4));
        assert_eq!(mtu_black_hole(&facts, 0, &lost), None);
    }

    /// An ICMP error in `frame` from 198.51.100.7 about the client's packet with `seq`.
    pub(crate) fn icmp_at(frame: u64, kind: IcmpKind, seq: u32) -> IcmpEvent {
        IcmpEvent {
            frame,
            ts: Timestamp(frame as i64 * 1_000_000),
            router: "198.51.100.7".parse().expect("an address"),
            kind,
            side: 0,
            seq: Some(seq),
            ttl: 1,
        }
    }

    fn icmp(kind: IcmpKind, seq: u32) -> IcmpEvent {
        icmp_at(9, kind, seq)
    }

    #[test]
    fn a_time_exceeded_names_the_hop_from_the_ttl_the_hello_was_sent_with() {
        let mut t = handshake();
        t[3].seq = 1001;
        t[3].ip.ttl = 3;
        let f = icmp_findings(&[icmp(IcmpKind::TimeExceeded, 1001)], &t, 0);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].id, FindingId::IcmpTimeExceeded);
        assert!(
            f[0].message.contains("expired in transit 3 hop(s) out"),
            "{}",
            f[0].message
        );
        assert!(f[0].message.contains("198.51.100.7"));
        // A quote of a packet the capture did not see still says what happened.
        let f = icmp_findings(&[icmp(IcmpKind::TimeExceeded, 77)], &t, 0);
        assert!(f[0]
            .message
            .ends_with("expired in transit (ICMP time exceeded from 198.51.100.7)"));
    }

    #[test]
    fn an_administrative_reject_is_high_and_repeats_are_one_finding() {
        let t = handshake();
        let reject = icmp(IcmpKind::Unreachable(Unreachable::Prohibited), 1);
        let f = icmp_findings(&[reject, reject], &t, 0);
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].id, f[0].severity),
            (FindingId::IcmpUnreachable, Severity::High)
        );
        assert!(f[0].message.contains("a firewall rejected it"));
        let port = icmp(IcmpKind::Unreachable(Unreachable::Port), 1);
        assert_eq!(icmp_findings(&[port], &t, 0)[0].severity, Severity::Medium);
        let big = icmp(IcmpKind::TooBig { mtu: 1400 }, 1);
        assert_eq!(icmp_findings(&[big], &t, 0)[0].id, FindingId::IcmpTooBig);
        assert!(icmp_findings(&[], &t, 0).is_empty());
    }
}
