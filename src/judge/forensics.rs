//! forensics: the TCP facts of a handshake cut by a RST or FIN in; who most likely sent it,
//! with scored evidence, out.
//!
//! A forged packet claims to come from one end (its addresses and ports say so) but was sent
//! by a device on the path. The signals compare the packet with what the claimed sender did
//! before, as seen from the same capture point (Weaver, Sommer, Paxson, "Detecting Forged TCP
//! Reset Packets", NDSS 2009; Clayton, Murdoch, Watson, "Ignoring the Great Firewall of China",
//! 2006; gfw.report on SNI-based RST injection):
//!
//! - timing: a RST from the far end sooner than one round trip after the ClientHello left;
//! - TTL / hop limit different from the claimed sender's earlier packets;
//! - IP ID out of the claimed sender's sequence;
//! - TCP timestamps: missing on a flow that uses them, or a TSval that does not continue the
//!   sender's clock;
//! - the race: the claimed sender goes on talking after its "RST";
//! - bursts: several RSTs with different seq/ack, RST and RST+ACK mixed;
//! - RSTs toward both ends;
//! - payload in a RST.
//!
//! Each signal is a small function over the cut's facts ([`Cut`]) that gives a weighted
//! [`Signal`] or nothing (positive weight: forged; negative: genuine). The cut is called
//! `middlebox` only when the score is high *and* at least two independent signals agree; a
//! genuine end's packet (same TTL, TSval continuing, IP ID in sequence) comes out as that end.
//! Known blind spots: an injector next to the server defeats timing and may copy the TTL; a
//! dropped ClientHello leaves no packet to judge (that is `no-server-response`).

use crate::capture::Timestamp;
use crate::flow::{Raced, TcpEvent};
use crate::ids::{Culprit, Side};
use crate::net::flags;
use crate::text::ms;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;

/// The forensic signals, in the order they are weighed and listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignalId {
    SoonerThanRtt,
    TimingConsistent,
    TtlMismatch,
    TtlMatch,
    IpIdInSequence,
    IpIdOutOfSequence,
    TimestampMissing,
    TimestampContinues,
    TimestampJumps,
    SenderAliveAfterRst,
    FinPayloadRaced,
    RstBurst,
    RstBothDirections,
    PayloadInRst,
}

impl SignalId {
    pub const ALL: &'static [SignalId] = &[
        SignalId::SoonerThanRtt,
        SignalId::TimingConsistent,
        SignalId::TtlMismatch,
        SignalId::TtlMatch,
        SignalId::IpIdInSequence,
        SignalId::IpIdOutOfSequence,
        SignalId::TimestampMissing,
        SignalId::TimestampContinues,
        SignalId::TimestampJumps,
        SignalId::SenderAliveAfterRst,
        SignalId::FinPayloadRaced,
        SignalId::RstBurst,
        SignalId::RstBothDirections,
        SignalId::PayloadInRst,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            SignalId::SoonerThanRtt => "sooner-than-rtt",
            SignalId::TimingConsistent => "timing-consistent",
            SignalId::TtlMismatch => "ttl-mismatch",
            SignalId::TtlMatch => "ttl-match",
            SignalId::IpIdInSequence => "ip-id-in-sequence",
            SignalId::IpIdOutOfSequence => "ip-id-out-of-sequence",
            SignalId::TimestampMissing => "timestamp-missing",
            SignalId::TimestampContinues => "timestamp-continues",
            SignalId::TimestampJumps => "timestamp-jumps",
            SignalId::SenderAliveAfterRst => "sender-alive-after-rst",
            SignalId::FinPayloadRaced => "fin-payload-raced",
            SignalId::RstBurst => "rst-burst",
            SignalId::RstBothDirections => "rst-both-directions",
            SignalId::PayloadInRst => "payload-in-rst",
        }
    }
}

impl fmt::Display for SignalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SignalId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One piece of evidence, with both sides of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signal {
    pub id: SignalId,
    /// Positive: points to a forged packet; negative: to the genuine end.
    pub weight: f64,
    /// The comparison in words, with its values.
    pub detail: String,
}

fn signal(id: SignalId, weight: f64, detail: String) -> Option<Signal> {
    Some(Signal { id, weight, detail })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    pub by: Culprit,
    pub confidence: f64,
    pub score: f64,
    pub signals: Vec<Signal>,
    /// The packet judged.
    pub frame: u64,
    /// Where the capture was taken, when the TTLs say so: evidence for the timing signals.
    pub capture_point: Option<String>,
}

/// Score at or above which (with two independent positive signals) the cut is forged.
const FORGED_SCORE: f64 = 3.0;
/// A round trip shorter than this says nothing about where a packet came from.
const MIN_USEFUL_RTT_NS: i64 = 2_000_000;

/// What the TCP layer of one connection says, as plain facts: enough to judge a cut.
#[derive(Debug, Clone, Copy)]
pub struct Tcp<'a> {
    /// The client's side index in the events (`TcpEvent::side`).
    pub client: usize,
    pub syn: Option<&'a TcpEvent>,
    pub syn_ack: Option<&'a TcpEvent>,
    /// The ACK that completed the three-way handshake.
    pub handshake_ack: Option<&'a TcpEvent>,
    /// SYN to handshake-completing ACK.
    pub rtt_ns: Option<i64>,
    /// The first packets of the connection, in capture order.
    pub timeline: &'a [TcpEvent],
    pub resets: &'a [TcpEvent],
    pub fins: &'a [TcpEvent],
    /// Each side's first packet (by side index).
    pub first: [Option<&'a TcpEvent>; 2],
    /// By side index: the other end's highest ACK, i.e. how far that side's bytes are known to
    /// have arrived.
    pub acked: [Option<u32>; 2],
    /// By side index: a FIN's payload that this side's later data contradicted.
    pub raced: [Option<Raced>; 2],
}

impl Tcp<'_> {
    pub fn who(&self, side: usize) -> Side {
        super::parts::who(side, self.client)
    }
}

/// The facts one cut is judged on.
#[derive(Debug, Clone)]
pub struct Cut<'a> {
    pub packet: &'a TcpEvent,
    /// The side the packet claims to come from.
    pub claimed: Side,
    /// When the ClientHello left.
    pub client_hello: Timestamp,
    pub tcp: Tcp<'a>,
    /// The claimed sender's earlier packets (not RSTs), in capture order.
    pub before: Vec<&'a TcpEvent>,
    /// The claimed sender's packet to compare with: its last before the cut, else its first.
    pub baseline: Option<&'a TcpEvent>,
    /// The capture was taken near the client (from the TTLs, else because SYN → SYN-ACK
    /// holds the round trip).
    pub near_client: bool,
    /// Where the TTLs say the capture was taken: the end, its TTL and the other end's.
    pub point: Option<(Side, u8, u8)>,
    /// The round trip, from the three-way handshake.
    pub rtt_ns: Option<i64>,
}

impl<'a> Cut<'a> {
    /// The facts of `packet`, the RST or FIN that ended a handshake whose ClientHello left at
    /// `client_hello`.
    pub fn new(tcp: Tcp<'a>, packet: &'a TcpEvent, client_hello: Timestamp) -> Cut<'a> {
        let side = packet.side;
        let before: Vec<&TcpEvent> = tcp
            .timeline
            .iter()
            .filter(|e| e.side == side && e.frame < packet.frame && e.flags & flags::RST == 0)
            .collect();
        let first = tcp.first.get(side).copied().flatten();
        let baseline = before
            .last()
            .copied()
            .or(first.filter(|e| e.frame < packet.frame));
        // Where the capture was taken: from the TTLs when one end's are unrouted, else near
        // the client when SYN → SYN-ACK holds the round trip.
        let point = capture_point(&tcp);
        let near_client = match (point, tcp.syn, tcp.syn_ack, tcp.handshake_ack) {
            (Some((at, _, _)), ..) => at == Side::Client,
            (None, Some(s), Some(sa), Some(a)) => {
                sa.ts.0.saturating_sub(s.ts.0) > a.ts.0.saturating_sub(sa.ts.0)
            }
            (None, Some(_), Some(_), None) => true,
            _ => false,
        };
        let rtt_ns = tcp.rtt_ns.or_else(|| match (tcp.syn, tcp.syn_ack) {
            (Some(s), Some(sa)) => Some(sa.ts.0.saturating_sub(s.ts.0)),
            _ => None,
        });
        Cut {
            packet,
            claimed: tcp.who(side),
            client_hello,
            tcp,
            before,
            baseline,
            near_client,
            point,
            rtt_ns,
        }
    }

    fn is_rst(&self) -> bool {
        self.packet.flags & flags::RST != 0
    }
}

/// Initial TTLs of common stacks: a packet captured with one of them has not been routed yet.
const INITIAL_TTLS: [u8; 3] = [64, 128, 255];

/// Where the capture was taken, from the TTLs: an end whose packets arrive with an initial
/// TTL (64, 128, 255) was not a hop away, when the other end's were. `None` when both or
/// neither look local (loopback, a lab, or a path that rewrites TTLs).
pub fn capture_point(tcp: &Tcp<'_>) -> Option<(Side, u8, u8)> {
    let ttl = |side: usize| {
        let first = tcp.first.get(side).copied().flatten()?;
        Some(first.ip.ttl)
    };
    let (c, s) = (ttl(tcp.client)?, ttl(1 - tcp.client)?);
    match (INITIAL_TTLS.contains(&c), INITIAL_TTLS.contains(&s)) {
        (true, false) => Some((Side::Client, c, s)),
        (false, true) => Some((Side::Server, s, c)),
        _ => None,
    }
}

/// The signals, each a function of the cut's facts, in the order they are listed.
const SIGNALS: &[fn(&Cut<'_>) -> Option<Signal>] = &[
    timing,
    ttl,
    ip_id,
    timestamps,
    sender_alive_after_rst,
    fin_payload_raced,
    rst_burst,
    rst_both_directions,
    payload_in_rst,
];

/// Judges a cut.
pub fn judge(cut: &Cut<'_>) -> Judgement {
    let signals: Vec<Signal> = SIGNALS.iter().filter_map(|s| s(cut)).collect();
    let (by, score, confidence) = culprit(&signals, cut.claimed);
    let capture_point = cut.point.map(|(at, here, there)| {
        format!(
            "the capture was taken at the {at}: its packets carry TTL {here}, unrouted, the {}'s arrive with {there}",
            at.other()
        )
    });
    Judgement {
        by,
        confidence,
        score,
        signals,
        frame: cut.packet.frame,
        capture_point,
    }
}

/// Who sent the cut, from its signals: the culprit, the score and the confidence.
pub fn culprit(signals: &[Signal], claimed: Side) -> (Culprit, f64, f64) {
    let score: f64 = signals.iter().map(|s| s.weight).sum();
    let positive = signals.iter().filter(|s| s.weight > 0.0).count();
    let has = |id: SignalId| signals.iter().any(|s| s.id == id);
    let strong_positive = signals.iter().any(|s| s.weight >= 2.0);
    let by = if score >= FORGED_SCORE && positive >= 2 {
        Culprit::Middlebox
    } else if (score <= 0.0 && signals.iter().any(|s| s.weight < 0.0))
        || (has(SignalId::TtlMatch) && !strong_positive && !has(SignalId::SoonerThanRtt))
    {
        // Same path length as the end it claims to be, and nothing strong against it: a host
        // firewall's reject or the application itself.
        Culprit::from(claimed)
    } else {
        Culprit::Unknown
    };
    let confidence = match by {
        Culprit::Unknown => 0.0,
        // 1 - e^(-|score|/3): 3 points ≈ 0.63, 6 ≈ 0.86, 9 ≈ 0.95.
        _ => ((1.0 - (-score.abs() / 3.0).exp()) * 100.0).round() / 100.0,
    };
    (by, score, confidence)
}

/// Timing: a packet from the far end cannot arrive sooner than a round trip after ours left.
fn timing(c: &Cut<'_>) -> Option<Signal> {
    let rtt = c.rtt_ns?;
    let far_end = if c.near_client {
        Side::Server
    } else {
        Side::Client
    };
    if c.claimed != far_end || c.claimed != Side::Server || rtt < MIN_USEFUL_RTT_NS {
        return None;
    }
    // Capture times are whatever the file says: saturating, never overflowing.
    let since_ch = c.packet.ts.0.saturating_sub(c.client_hello.0);
    let detail = || {
        format!(
            "arrived {} ms after the ClientHello; the round trip is {} ms",
            ms(since_ch),
            ms(rtt)
        )
    };
    if since_ch.saturating_mul(2) < rtt {
        signal(SignalId::SoonerThanRtt, 2.0, detail())
    } else if since_ch.saturating_mul(10) >= rtt.saturating_mul(8) {
        signal(SignalId::TimingConsistent, -0.5, detail())
    } else {
        None
    }
}

/// TTL / hop limit against the claimed sender's earlier packets.
fn ttl(c: &Cut<'_>) -> Option<Signal> {
    let b = c.baseline?;
    let cut = c.packet;
    let diff = i16::from(cut.ip.ttl) - i16::from(b.ip.ttl);
    let who = c.claimed;
    if diff != 0 {
        // From one capture point, one host's packets arrive with one TTL: even a difference
        // of one hop means another sender (or a route change, hence the lower weight).
        signal(
            SignalId::TtlMismatch,
            if diff.abs() >= 2 { 2.0 } else { 1.5 },
            format!(
                "TTL {}, the {who}'s earlier packet (frame {}) had {}",
                cut.ip.ttl, b.frame, b.ip.ttl
            ),
        )
    } else {
        signal(
            SignalId::TtlMatch,
            -1.5,
            format!(
                "TTL {} as the {who}'s earlier packet (frame {}, TTL {})",
                cut.ip.ttl, b.frame, b.ip.ttl
            ),
        )
    }
}

/// IP ID against the sender's sequence (IPv4).
fn ip_id(c: &Cut<'_>) -> Option<Signal> {
    let b = c.baseline?;
    let (id, prev) = (c.packet.ip.ip_id?, b.ip.ip_id?);
    let ahead = id.wrapping_sub(prev);
    let ids_used = c.before.iter().any(|e| e.ip.ip_id.is_some_and(|x| x != 0));
    let who = c.claimed;
    if ids_used && ahead > 0 && ahead <= 64 {
        signal(
            SignalId::IpIdInSequence,
            -1.0,
            format!("IP ID {id} follows the {who}'s {prev}"),
        )
    } else if ids_used && (ahead == 0 || ahead > 64)
        || (!ids_used && id != 0 && prev == 0 && c.before.len() >= 2)
    {
        signal(
            SignalId::IpIdOutOfSequence,
            1.0,
            format!("IP ID {id}; the {who}'s last was {prev}"),
        )
    } else {
        None
    }
}

/// TCP timestamps, where the flow uses them (the claimed sender sent TSval before).
fn timestamps(c: &Cut<'_>) -> Option<Signal> {
    let b = c.baseline?;
    let (prev_ts, _) = b.options.timestamps?;
    let who = c.claimed;
    let Some((tsval, _)) = c.packet.options.timestamps else {
        return signal(
            SignalId::TimestampMissing,
            1.0,
            format!("no TCP timestamp option, though the {who} sent them (TSval {prev_ts})"),
        );
    };
    let elapsed_ms = c.packet.ts.0.saturating_sub(b.ts.0).max(0) / 1_000_000;
    let step = tsval.wrapping_sub(prev_ts);
    // Clocks tick at 1–1000 Hz (RFC 7323 §5.4): allow a generous window.
    if step < 0x8000_0000 && i64::from(step) <= elapsed_ms.saturating_mul(2).saturating_add(1000) {
        signal(
            SignalId::TimestampContinues,
            -1.5,
            format!("TSval {tsval} continues the {who}'s {prev_ts}"),
        )
    } else {
        signal(
            SignalId::TimestampJumps,
            2.0,
            format!("TSval {tsval} does not continue the {who}'s {prev_ts}"),
        )
    }
}

/// The race: the claimed sender keeps talking after its RST.
fn sender_alive_after_rst(c: &Cut<'_>) -> Option<Signal> {
    if !c.is_rst() {
        return None;
    }
    let side = c.packet.side;
    let after = c
        .tcp
        .timeline
        .iter()
        .find(|e| e.side == side && e.frame > c.packet.frame && e.flags & flags::RST == 0)?;
    signal(
        SignalId::SenderAliveAfterRst,
        3.0,
        format!(
            "the {} went on after the RST: frame {} ({} bytes, {})",
            c.claimed,
            after.frame,
            after.payload_len,
            kind(after.flags)
        ),
    )
}

/// The race, for a FIN with payload (a block page): the claimed sender's later data put other
/// bytes at the sequence numbers that payload claimed.
fn fin_payload_raced(c: &Cut<'_>) -> Option<Signal> {
    let r = c.tcp.raced.get(c.packet.side).copied().flatten()?;
    if r.fin_frame != c.packet.frame {
        return None;
    }
    signal(
        SignalId::FinPayloadRaced,
        3.0,
        format!(
            "the {}'s data in frame {} put other bytes at the sequence numbers of the FIN's {} payload bytes",
            c.claimed, r.real_frame, r.fin_len
        ),
    )
}

/// Bursts: several RSTs from the claimed sender's address that no one host would send.
fn rst_burst(c: &Cut<'_>) -> Option<Signal> {
    if !c.is_rst() {
        return None;
    }
    let rsts: Vec<&TcpEvent> = c
        .tcp
        .resets
        .iter()
        .filter(|e| e.frame >= c.packet.frame && e.side == c.packet.side)
        .collect();
    if rsts.len() < 2 {
        return None;
    }
    let seqs: BTreeSet<u32> = rsts.iter().map(|e| e.seq).collect();
    let kinds: BTreeSet<u8> = rsts
        .iter()
        .map(|e| e.flags & (flags::RST | flags::ACK))
        .collect();
    if seqs.len() < 2 && kinds.len() < 2 {
        return None;
    }
    signal(
        SignalId::RstBurst,
        2.0,
        format!(
            "{} RSTs from the {}'s address with {} different sequence numbers{}",
            rsts.len(),
            c.claimed,
            seqs.len(),
            if kinds.len() > 1 {
                ", RST and RST+ACK mixed"
            } else {
                ""
            }
        ),
    )
}

/// Both ends reset within a moment, back to back: nobody resets its own and the peer's side at
/// once. A reset that answers the claimed sender's later packets (the client resetting a
/// ServerHello that arrived after the forged RST) does not count.
fn rst_both_directions(c: &Cut<'_>) -> Option<Signal> {
    if !c.is_rst() {
        return None;
    }
    let cut = c.packet;
    let answered = |other: &TcpEvent| {
        c.tcp.timeline.iter().any(|e| {
            e.side == cut.side
                && e.flags & flags::RST == 0
                && e.frame > cut.frame.min(other.frame)
                && e.frame < cut.frame.max(other.frame)
        })
    };
    let other = c.tcp.resets.iter().find(|e| {
        e.side != cut.side && e.ts.0.abs_diff(cut.ts.0) < 1_000_000_000 && !answered(e)
    })?;
    signal(
        SignalId::RstBothDirections,
        2.0,
        format!(
            "RSTs toward both ends: frames {} and {}",
            cut.frame, other.frame
        ),
    )
}

/// A RST (or FIN) that carries payload.
fn payload_in_rst(c: &Cut<'_>) -> Option<Signal> {
    (c.packet.payload_len > 0).then(|| Signal {
        id: SignalId::PayloadInRst,
        weight: 1.0,
        detail: format!(
            "the {} carries {} payload bytes",
            kind(c.packet.flags),
            c.packet.payload_len
        ),
    })
}

fn kind(f: u8) -> &'static str {
    match (
        f & flags::RST != 0,
        f & flags::FIN != 0,
        f & flags::ACK != 0,
    ) {
        (true, _, true) => "RST+ACK",
        (true, _, false) => "RST",
        (false, true, _) => "FIN",
        _ => "packet",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::net::{IpFacts, TcpOptions};

    /// A packet of `side` (0 = client here) at `ms` milliseconds.
    pub(crate) fn ev(frame: u64, side: usize, ms: i64, flags: u8) -> TcpEvent {
        TcpEvent {
            frame,
            ts: Timestamp(ms * 1_000_000),
            side,
            flags,
            seq: 1000,
            ack: 1,
            window: 502,
            ip: IpFacts {
                version: 4,
                ttl: if side == 0 { 64 } else { 52 },
                ip_id: None,
                dont_fragment: true,
            },
            options: TcpOptions::default(),
            payload_len: 0,
        }
    }

    /// A client-side capture of a three-way handshake with a 40 ms round trip: SYN at 0,
    /// SYN-ACK at 40, ACK at 41, ClientHello at 42 (frames 1–4).
    pub(crate) fn handshake() -> Vec<TcpEvent> {
        let mut ch = ev(4, 0, 42, flags::ACK | flags::PSH);
        ch.payload_len = 517;
        vec![
            ev(1, 0, 0, flags::SYN),
            ev(2, 1, 40, flags::SYN | flags::ACK),
            ev(3, 0, 41, flags::ACK),
            ch,
        ]
    }

    pub(crate) fn tcp<'a>(timeline: &'a [TcpEvent], resets: &'a [TcpEvent]) -> Tcp<'a> {
        let by_frame = |f: u64| timeline.iter().find(|e| e.frame == f);
        Tcp {
            client: 0,
            syn: by_frame(1),
            syn_ack: by_frame(2),
            handshake_ack: by_frame(3),
            rtt_ns: Some(41_000_000),
            timeline,
            resets,
            fins: &[],
            first: [by_frame(1), by_frame(2)],
            acked: [None, None],
            raced: [None, None],
        }
    }

    fn ids(j: &Judgement) -> Vec<SignalId> {
        j.signals.iter().map(|s| s.id).collect()
    }

    fn judged(timeline: &[TcpEvent], cut: TcpEvent) -> Judgement {
        let resets: Vec<TcpEvent> = timeline
            .iter()
            .filter(|e| e.flags & flags::RST != 0)
            .copied()
            .collect();
        let t = tcp(timeline, &resets);
        let packet = timeline
            .iter()
            .find(|e| e.frame == cut.frame)
            .unwrap_or(&cut);
        judge(&Cut::new(t, packet, Timestamp(42_000_000)))
    }

    #[test]
    fn an_early_rst_with_another_ttl_is_a_middlebox() {
        let mut t = handshake();
        let mut rst = ev(5, 1, 45, flags::RST | flags::ACK);
        rst.ip.ttl = 240;
        t.push(rst);
        let j = judged(&t, rst);
        assert_eq!(ids(&j), [SignalId::SoonerThanRtt, SignalId::TtlMismatch]);
        assert_eq!(j.by, Culprit::Middlebox);
        assert!(j.confidence > 0.6, "{}", j.confidence);
    }

    #[test]
    fn a_rst_a_round_trip_later_with_the_servers_ttl_is_the_server() {
        let mut t = handshake();
        let rst = ev(5, 1, 84, flags::RST | flags::ACK);
        t.push(rst);
        let j = judged(&t, rst);
        assert_eq!(ids(&j), [SignalId::TimingConsistent, SignalId::TtlMatch]);
        assert_eq!(j.by, Culprit::Server);
    }

    #[test]
    fn timing_says_nothing_on_a_loopback_round_trip_or_about_the_near_end() {
        let mut t = handshake();
        for e in &mut t {
            e.ts = Timestamp(e.ts.0 / 100);
        }
        let rst = ev(5, 1, 0, flags::RST);
        t.push(rst);
        let resets = [rst];
        let mut c = Cut::new(tcp(&t, &resets), &rst, Timestamp(420_000));
        c.rtt_ns = Some(410_000);
        assert!(timing(&c).is_none(), "a 0.4 ms round trip");
        c.rtt_ns = Some(40_000_000);
        c.claimed = Side::Client;
        assert!(timing(&c).is_none(), "the client is the near end");
    }

    #[test]
    fn a_ttl_one_hop_off_weighs_less_than_two() {
        let t = handshake();
        let mut rst = ev(5, 1, 84, flags::RST);
        rst.ip.ttl = 53;
        let c = Cut::new(tcp(&t, &[]), &rst, Timestamp(42_000_000));
        assert_eq!(ttl(&c).map(|s| s.weight), Some(1.5));
        rst.ip.ttl = 60;
        let c = Cut::new(tcp(&t, &[]), &rst, Timestamp(42_000_000));
        assert_eq!(ttl(&c).map(|s| s.weight), Some(2.0));
    }

    #[test]
    fn ip_ids_in_and_out_of_the_senders_sequence() {
        let mut t = handshake();
        t[1].ip.ip_id = Some(100);
        let mut rst = ev(5, 1, 84, flags::RST);
        rst.ip.ip_id = Some(101);
        let c = Cut::new(tcp(&t, &[]), &rst, Timestamp(42_000_000));
        assert_eq!(ip_id(&c).map(|s| s.id), Some(SignalId::IpIdInSequence));
        rst.ip.ip_id = Some(30_000);
        let c = Cut::new(tcp(&t, &[]), &rst, Timestamp(42_000_000));
        assert_eq!(ip_id(&c).map(|s| s.id), Some(SignalId::IpIdOutOfSequence));
        rst.ip.ip_id = None;
        let c = Cut::new(tcp(&t, &[]), &rst, Timestamp(42_000_000));
        assert!(ip_id(&c).is_none(), "IPv6 has no IP ID");
    }

    #[test]
    fn timestamps_missing_jumping_or_continuing() {
        let mut t = handshake();
        t[1].options.timestamps = Some((5000, 1));
        let mut rst = ev(5, 1, 84, flags::RST);
        let judge_ts = |rst: &TcpEvent| {
            timestamps(&Cut::new(tcp(&t, &[]), rst, Timestamp(42_000_000))).map(|s| s.id)
        };
        assert_eq!(judge_ts(&rst), Some(SignalId::TimestampMissing));
        rst.options.timestamps = Some((5044, 1));
        assert_eq!(judge_ts(&rst), Some(SignalId::TimestampContinues));
        rst.options.timestamps = Some((900_000, 0));
        assert_eq!(judge_ts(&rst), Some(SignalId::TimestampJumps));
        rst.options.timestamps = Some((4000, 0));
        assert_eq!(judge_ts(&rst), Some(SignalId::TimestampJumps), "backwards");
    }

    #[test]
    fn no_timestamp_signal_when_the_sender_never_used_them() {
        let t = handshake();
        let rst = ev(5, 1, 84, flags::RST);
        assert!(timestamps(&Cut::new(tcp(&t, &[]), &rst, Timestamp(42_000_000))).is_none());
    }

    #[test]
    fn the_claimed_sender_answering_after_its_rst_is_the_race() {
        let mut t = handshake();
        let rst = ev(5, 1, 45, flags::RST);
        let mut sh = ev(6, 1, 84, flags::ACK | flags::PSH);
        sh.payload_len = 1400;
        t.extend([rst, sh]);
        let resets = [rst];
        let c = Cut::new(tcp(&t, &resets), &rst, Timestamp(42_000_000));
        let s = sender_alive_after_rst(&c);
        assert_eq!(s.as_ref().map(|s| s.weight), Some(3.0));
        assert!(s.is_some_and(|s| s.detail.contains("frame 6 (1400 bytes")));
        // A FIN is no RST: the sender may well go on after it.
        let fin = ev(5, 1, 45, flags::FIN | flags::ACK);
        let c = Cut::new(tcp(&t, &[]), &fin, Timestamp(42_000_000));
        assert!(sender_alive_after_rst(&c).is_none());
    }

    #[test]
    fn a_burst_needs_two_rsts_that_differ() {
        let t = handshake();
        let a = ev(5, 1, 45, flags::RST);
        let mut b = ev(6, 1, 45, flags::RST);
        let burst = |resets: &[TcpEvent]| {
            rst_burst(&Cut::new(tcp(&t, resets), &a, Timestamp(42_000_000))).is_some()
        };
        assert!(!burst(&[a]), "one RST");
        assert!(!burst(&[a, b]), "two identical RSTs");
        b.seq = 99_999;
        assert!(burst(&[a, b]), "different sequence numbers");
        b.seq = a.seq;
        b.flags = flags::RST | flags::ACK;
        assert!(burst(&[a, b]), "RST and RST+ACK mixed");
    }

    #[test]
    fn rsts_both_ways_count_unless_one_answers_later_packets() {
        let mut t = handshake();
        let forged = ev(5, 1, 45, flags::RST);
        let client_rst = ev(6, 0, 45, flags::RST);
        let resets = [forged, client_rst];
        let c = Cut::new(tcp(&t, &resets), &forged, Timestamp(42_000_000));
        assert!(rst_both_directions(&c).is_some());
        // The server's real answer arrives between the two: the client's RST answers it.
        let mut sh = ev(6, 1, 84, flags::ACK | flags::PSH);
        sh.payload_len = 1400;
        let client_rst = ev(7, 0, 85, flags::RST);
        t.extend([forged, sh]);
        let resets = [forged, client_rst];
        let c = Cut::new(tcp(&t, &resets), &forged, Timestamp(42_000_000));
        assert!(rst_both_directions(&c).is_none());
    }

    #[test]
    fn payload_in_a_rst_is_a_signal_and_an_empty_one_is_not() {
        let t = handshake();
        let mut rst = ev(5, 1, 45, flags::RST | flags::ACK);
        let c = Cut::new(tcp(&t, &[]), &rst, Timestamp(42_000_000));
        assert!(payload_in_rst(&c).is_none());
        rst.payload_len = 6;
        let c = Cut::new(tcp(&t, &[]), &rst, Timestamp(42_000_000));
        assert_eq!(
            payload_in_rst(&c).map(|s| s.detail),
            Some("the RST+ACK carries 6 payload bytes".to_string())
        );
    }

    fn s(id: SignalId, weight: f64) -> Signal {
        Signal {
            id,
            weight,
            detail: String::new(),
        }
    }

    #[test]
    fn one_strong_signal_alone_is_not_enough_for_a_middlebox() {
        let (by, _, _) = culprit(&[s(SignalId::SenderAliveAfterRst, 3.0)], Side::Server);
        assert_eq!(by, Culprit::Unknown);
        let (by, score, c) = culprit(
            &[
                s(SignalId::SenderAliveAfterRst, 3.0),
                s(SignalId::PayloadInRst, 1.0),
            ],
            Side::Server,
        );
        assert_eq!((by, score, c), (Culprit::Middlebox, 4.0, 0.74));
    }

    #[test]
    fn a_matching_ttl_names_the_claimed_end_unless_something_strong_disagrees() {
        let (by, _, _) = culprit(
            &[s(SignalId::TtlMatch, -1.5), s(SignalId::PayloadInRst, 1.0)],
            Side::Client,
        );
        assert_eq!(by, Culprit::Client);
        let (by, _, _) = culprit(
            &[s(SignalId::TtlMatch, -1.5), s(SignalId::RstBurst, 2.0)],
            Side::Server,
        );
        assert_eq!(by, Culprit::Unknown);
        let (by, _, c) = culprit(&[], Side::Server);
        assert_eq!((by, c), (Culprit::Unknown, 0.0));
    }

    #[test]
    fn the_readme_table_names_every_signal_and_no_other() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).unwrap_or_default();
        let start = readme
            .find("| signal |")
            .expect("README.md has the table of signals");
        let table: String = readme
            .get(start..)
            .unwrap_or_default()
            .lines()
            .take_while(|l| l.starts_with('|'))
            .map(|l| l.split('|').nth(1).unwrap_or_default().to_string() + "\n")
            .collect();
        let named: Vec<&str> = table
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|w| !w.contains(' '))
            .collect();
        for id in SignalId::ALL {
            assert!(named.contains(&id.as_str()), "README.md's table lacks {id}");
        }
        for word in named {
            assert!(
                SignalId::ALL.iter().any(|id| id.as_str() == word),
                "README.md's table names {word:?}, which SignalId does not have"
            );
        }
    }

    #[test]
    fn an_unrouted_ttl_at_one_end_only_says_where_the_capture_was_taken() {
        let t = handshake();
        assert_eq!(
            capture_point(&tcp(&t, &[])),
            Some((Side::Client, 64, 52)),
            "the client's SYN left with 64, the server's answer came 12 hops"
        );
        let mut t = handshake();
        t[1].ip.ttl = 64;
        assert_eq!(capture_point(&tcp(&t, &[])), None, "loopback: both local");
        t[0].ip.ttl = 57;
        assert_eq!(capture_point(&tcp(&t, &[])), Some((Side::Server, 64, 57)));
    }

    #[test]
    fn a_fin_whose_payload_the_sender_contradicts_is_raced_and_other_fins_are_not() {
        let mut t = handshake();
        let mut fin = ev(5, 1, 45, flags::FIN | flags::PSH | flags::ACK);
        fin.payload_len = 40;
        t.push(fin);
        let mut facts = tcp(&t, &[]);
        let c = Cut::new(facts, &fin, Timestamp(42_000_000));
        assert!(fin_payload_raced(&c).is_none());
        facts.raced = [
            None,
            Some(Raced {
                fin_frame: 5,
                fin_len: 40,
                real_frame: 6,
            }),
        ];
        let j = judge(&Cut::new(facts, &fin, Timestamp(42_000_000)));
        assert!(j
            .signals
            .iter()
            .any(|s| s.id == SignalId::FinPayloadRaced && s.weight == 3.0));
        assert_eq!(j.by, Culprit::Middlebox);
        // Another FIN of the same side is not the raced one.
        let mut later = fin;
        later.frame = 9;
        assert!(fin_payload_raced(&Cut::new(facts, &later, Timestamp(42_000_000))).is_none());
    }
}
