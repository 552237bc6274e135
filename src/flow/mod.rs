//! flow: decoded TCP and UDP packets in; finished connections out.
//!
//! Keeps a table keyed by the canonical 5-tuple and the virtual network the packets came
//! through ([`Encap::network`]: a VXLAN or Geneve VNI, a GRE key; nothing for plain traffic).
//! Each flow has two sides (side 0 sent the flow's first packet); the client is the SYN sender
//! when a SYN was seen, else whoever the application layer says (the ClientHello sender). Per
//! side it runs a [`HalfStream`] and hands the ordered bytes to the flow's application state `A`
//! (the TLS stage) for as long as it asks for them; afterwards the flow only counts packets and
//! bytes and records FIN and RST.
//!
//! Kept per flow for later diagnoses: the SYN, SYN-ACK and the ACK that completes the
//! three-way handshake, every RST and FIN (capped), each with time, direction, TTL or hop
//! limit, IP ID, window, seq/ack and TCP options; the RTT estimate.
//!
//! Memory is bounded: a table holds at most its cap of open flows (the longest idle are evicted
//! first), and about its byte budget in them (counted by [`Flow::cost`] whenever a flow can
//! have grown; past it the oldest open flows are finished, [`EndReason::Shed`]), and
//! [`FlowTable::sweep`] finishes flows idle for [`IDLE_TIMEOUT_NS`] of capture time (sooner
//! once closed). Finished flows are handed out as they finish, in no particular order:
//! putting them back in first-packet order is the driver's job, as is deciding when to sweep
//! (so that every table of a sharded capture sweeps at the same moments). It does not look at
//! payload bytes.

pub mod reassembly;
#[cfg(test)]
mod tests;

use crate::capture::Timestamp;
use crate::flow::reassembly::{Delivery, HalfStream, Origin, Seq};
use crate::net::fragments::GaveUp;
use crate::net::{
    flags, Encap, IcmpError, IcmpKind, IpFacts, Packet, TcpOptions, TcpSegment, Transport,
    UdpDatagram,
};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

/// Flows open at once, over all the tables of one input, before the longest-idle ones are
/// evicted. A capture's flows are spread over a fixed number of tables by a hash of their
/// addresses, each with its share of this cap ([`FlowTable::with_cap`]), so which flows are
/// evicted does not depend on how many workers share the tables.
pub const MAX_OPEN_FLOWS: usize = 100_000;
/// A flow with no packet for this long (capture time) is finished.
pub const IDLE_TIMEOUT_NS: i64 = 300 * 1_000_000_000;
/// A flow that saw RST, or FIN both ways, is finished this long after its last packet: long
/// enough to see the packets that race an injected RST (they come within a round trip or
/// two of it) and the last ACKs and retransmitted FINs, as Zeek's `tcp_close_delay` and
/// `tcp_reset_delay` (5 s each). Later packets are still known as the connection's and
/// counted apart ([`TableStats::after_close`]). On a busy capture every connection closed in
/// this window waits in memory, so it is not longer than it needs to be.
pub const CLOSED_TIMEOUT_NS: i64 = 5 * 1_000_000_000;
/// RST and FIN packets kept per flow.
pub const MAX_CONTROL_EVENTS: usize = 16;

/// Finished connections held back, to keep the output in first-packet order, before the open
/// flows they wait behind are finished early ([`EndReason::Forced`]). The driver applies it;
/// it is here, beside the other limits on flows, for the diagnosis to quote.
pub const MAX_WAITING: usize = 100_000;

/// What a flow costs the table beside its own size: its slot, its key in the map and in the
/// open list, the allocator's rounding.
const FLOW_OVERHEAD: usize = 160;

/// Packets kept per flow, from the first, while its handshake is going on: the facts an
/// injection diagnosis compares (TTL, IP ID, timestamps, seq/ack, timing, what came after a RST).
pub const MAX_TIMELINE: usize = 48;

/// What the application layer on top of a flow does with its bytes.
pub trait FlowApp {
    /// What every flow of one run shares, read-only: built once per run and handed to the
    /// table, which builds each flow's state from it.
    type Context;
    /// The state of a new flow.
    fn new(context: &Self::Context) -> Self;
    /// Ordered bytes (or a gap) of one side.
    fn deliver(&mut self, side: usize, delivery: Delivery<'_>);
    /// Whether this side still wants its bytes at all.
    fn wants_data(&self, side: usize) -> bool;
    /// Whether out-of-order bytes of this side are still worth buffering.
    fn wants_buffering(&self, side: usize) -> bool;
    /// The side the application saw acting as the client (ClientHello sender), if any.
    fn client_side(&self) -> Option<usize>;
    /// One UDP datagram of one side.
    fn datagram(&mut self, side: usize, payload: &[u8], origin: Origin);
    /// The handshake is over (neither side wants buffering any more): give back the room
    /// kept for it. The flow may wait minutes of capture time for its end.
    fn settle(&mut self) {}
    /// Heap bytes this state holds, about: what the table's memory budget counts.
    fn heap_bytes(&self) -> usize {
        0
    }
}

/// One TCP packet's facts, kept for SYN, SYN-ACK, RST and FIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpEvent {
    pub frame: u64,
    pub ts: Timestamp,
    /// Sending side (0 = the side that sent the flow's first packet).
    pub side: usize,
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    pub ip: IpFacts,
    pub options: TcpOptions,
    pub payload_len: u32,
}

/// A packet a flow keeps by name (its SYN, each side's first packet, …). Most are in the
/// timeline too, so only their place there is kept (a closed flow waits seconds of capture
/// time before it is judged, and thousands may wait at once); the others are copied.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kept {
    No,
    /// Index in [`Flow::timeline`], which only ever grows.
    At(u8),
    Own(Box<TcpEvent>),
}

/// An ICMP error about one of a flow's packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpEvent {
    pub frame: u64,
    pub ts: Timestamp,
    /// Who sent the error (a router, or the destination host).
    pub router: IpAddr,
    pub kind: IcmpKind,
    /// Whose packet it answers.
    pub side: usize,
    /// The quoted TCP sequence number.
    pub seq: Option<u32>,
    /// The quoted packet's TTL or hop limit where it was dropped.
    pub ttl: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

/// One direction of a flow.
#[derive(Debug)]
pub struct Side {
    pub endpoint: Endpoint,
    pub stream: HalfStream,
    pub packets: u64,
    pub payload_bytes: u64,
    /// Payload bytes the snap length cut off.
    pub payload_missing: u64,
    /// Facts of this side's first packet (TTL baseline when there is no SYN/SYN-ACK):
    /// [`Flow::first`].
    first: Kept,
    /// Last frame this side sent.
    pub last_frame: u64,
    /// First frame in which this side sent payload.
    pub first_data_frame: Option<u64>,
    /// The highest sequence number of this side's that the other side acknowledged (its
    /// highest ACK field): which of this side's bytes are known to have reached the other end.
    pub acked_by_peer: Option<u32>,
    /// One past the highest sequence number this side used (SYN and FIN count one).
    pub seq_end: Option<u32>,
    /// The payload of a FIN that opened this direction, not yet delivered (boxed: rare, and
    /// every flow carries the slot).
    held: Option<Box<Held>>,
    /// That payload was raced: other bytes came at its sequence numbers after it.
    pub raced: Option<Raced>,
}

/// Payload of a FIN held back from the stream.
#[derive(Debug)]
struct Held {
    seq: u32,
    bytes: Vec<u8>,
    origin: Origin,
}

/// A FIN's payload that the same end's later data contradicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raced {
    pub fin_frame: u64,
    pub fin_len: u32,
    /// The first packet with other bytes at the same sequence numbers.
    pub real_frame: u64,
}

/// Hands a held FIN payload to the stream, as if it had just arrived.
fn release<A: FlowApp>(held: &Held, stream: &mut HalfStream, app: &mut A, side: usize) {
    if app.wants_data(side) {
        stream.segment(Seq(held.seq), &held.bytes, held.origin, &mut |d| {
            app.deliver(side, d)
        });
    }
}

/// Bytes of a FIN's payload held back per side (a block page fits).
const MAX_HELD_BYTES: usize = 4096;

impl Side {
    fn new(endpoint: Endpoint) -> Self {
        Side {
            endpoint,
            stream: HalfStream::new(),
            packets: 0,
            payload_bytes: 0,
            payload_missing: 0,
            first: Kept::No,
            last_frame: 0,
            first_data_frame: None,
            acked_by_peer: None,
            seq_end: None,
            held: None,
            raced: None,
        }
    }
}

/// Why a flow was finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Idle or closed long enough.
    Timeout,
    /// A new connection (SYN) reused the 5-tuple.
    Reused,
    /// The table was full.
    Evicted,
    /// Too many finished flows waited behind this one to be reported in first-packet order.
    Forced,
    /// The flows of its table held more than their share of the run's memory budget
    /// (`--max-memory`); the oldest were finished first.
    Shed,
    /// End of the capture.
    EndOfCapture,
}

/// What IP reassembly said about a flow's fragmented datagrams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fragmented {
    /// Datagrams rebuilt from fragments.
    pub datagrams: u32,
    /// Of those, the ones whose fragments overlapped with different bytes (the first copy was
    /// kept); the frame of the first such fragment.
    pub conflicts: u32,
    pub first_conflict: Option<u64>,
    /// Datagrams given up; the first one's first frame and why.
    pub lost: u32,
    pub first_lost: Option<(u64, GaveUp)>,
}

/// What reassembly tells a flow about one of its datagrams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentNote {
    /// A rebuilt datagram (just handed to [`FlowTable::packet`]), and the frame of its first
    /// conflicting fragment if any.
    Whole { conflict: Option<u64> },
    /// A datagram given up: the frame of its first fragment, and why.
    Lost { frame: u64, why: GaveUp },
}

/// One TCP connection as seen.
#[derive(Debug)]
pub struct Flow<A> {
    /// Frame number of the first packet: the output order.
    pub first_frame: u64,
    pub start: Timestamp,
    pub last: Timestamp,
    pub sides: [Side; 2],
    syn: Kept,
    syn_ack: Kept,
    /// A SYN-ACK with another ISN than `syn_ack`'s, which the client did not acknowledge.
    pub other_syn_ack: Option<Box<TcpEvent>>,
    /// The client's first ACK after the SYN-ACK (completes the three-way handshake).
    handshake_ack: Kept,
    pub resets: Vec<TcpEvent>,
    pub fins: Vec<TcpEvent>,
    /// Every packet from the first, while the handshake is open, up to [`MAX_TIMELINE`].
    pub timeline: Vec<TcpEvent>,
    /// ICMP errors about this flow's packets (capped like RSTs and FINs).
    pub icmp: Vec<IcmpEvent>,
    /// RST/FIN packets beyond the cap.
    pub control_dropped: u64,
    pub end: EndReason,
    /// A UDP flow (datagrams go to [`FlowApp::datagram`]).
    pub udp: bool,
    /// The tunnels the first packet came through (empty for plain traffic).
    pub encap: Encap,
    /// Boxed: rare, and every flow carries the slot.
    pub fragmented: Option<Box<Fragmented>>,
    pub app: A,
    closed: bool,
}

impl<A: FlowApp> Flow<A> {
    fn new(first_frame: u64, ts: Timestamp, a: Endpoint, b: Endpoint, app: A) -> Self {
        Flow {
            first_frame,
            start: ts,
            last: ts,
            sides: [Side::new(a), Side::new(b)],
            syn: Kept::No,
            syn_ack: Kept::No,
            other_syn_ack: None,
            handshake_ack: Kept::No,
            resets: Vec::new(),
            fins: Vec::new(),
            timeline: Vec::new(),
            icmp: Vec::new(),
            control_dropped: 0,
            end: EndReason::EndOfCapture,
            udp: false,
            encap: Encap::default(),
            fragmented: None,
            app,
            closed: false,
        }
    }

    fn kept<'a>(&'a self, k: &'a Kept) -> Option<&'a TcpEvent> {
        match k {
            Kept::No => None,
            Kept::At(i) => self.timeline.get(usize::from(*i)),
            Kept::Own(ev) => Some(ev),
        }
    }

    /// How to keep `ev`, a packet just handled: where it is in the timeline, or a copy.
    fn keep(&self, ev: &TcpEvent) -> Kept {
        match self.timeline.last() {
            Some(last) if last == ev => Kept::At((self.timeline.len() - 1) as u8),
            _ => Kept::Own(Box::new(*ev)),
        }
    }

    /// The client's SYN (the first one).
    pub fn syn(&self) -> Option<&TcpEvent> {
        self.kept(&self.syn)
    }

    /// The SYN-ACK the client acknowledged (or the first one seen).
    pub fn syn_ack(&self) -> Option<&TcpEvent> {
        self.kept(&self.syn_ack)
    }

    /// The client's first ACK after the SYN-ACK (completes the three-way handshake).
    pub fn handshake_ack(&self) -> Option<&TcpEvent> {
        self.kept(&self.handshake_ack)
    }

    /// Side `side`'s first packet.
    pub fn first(&self, side: usize) -> Option<&TcpEvent> {
        self.kept(&self.sides.get(side)?.first)
    }

    /// The client side: SYN sender, else SYN-ACK receiver, else the application's view.
    pub fn client_side(&self) -> Option<usize> {
        if let Some(s) = self.syn() {
            return Some(s.side);
        }
        if let Some(s) = self.syn_ack() {
            return Some(1 - s.side);
        }
        self.app.client_side()
    }

    /// SYN → ACK of the three-way handshake in milliseconds: about one RTT wherever the capture
    /// was taken (at the client SYN→SYN-ACK carries it, at the server SYN-ACK→ACK does).
    pub fn rtt_ns(&self) -> Option<i64> {
        let (syn, ack) = (self.syn()?, self.handshake_ack()?);
        Some(ack.ts.0.saturating_sub(syn.ts.0))
    }

    fn control(&mut self, ev: TcpEvent) {
        let f = ev.flags;
        if f & flags::SYN != 0 {
            if f & flags::ACK == 0 {
                if self.syn == Kept::No {
                    self.syn = self.keep(&ev);
                }
            } else if self.syn_ack().is_none_or(|sa| sa.seq == ev.seq) {
                if self.syn_ack == Kept::No {
                    self.syn_ack = self.keep(&ev);
                }
            } else {
                // Another SYN-ACK with another ISN (an injected one, or a server answering a
                // retransmitted SYN after a restart): the one the client acknowledges is the
                // connection's (RFC 9293 §3.5).
                self.other_syn_ack.get_or_insert_with(|| Box::new(ev));
            }
        } else if f & flags::ACK != 0
            && self.handshake_ack == Kept::No
            && self.syn().is_some_and(|s| s.side == ev.side)
        {
            let acks = |sa: &TcpEvent| ev.ack == sa.seq.wrapping_add(1);
            if self.syn_ack().is_some_and(acks) {
                self.handshake_ack = self.keep(&ev);
            } else if let Some(other) = self.other_syn_ack.as_deref().copied().filter(acks) {
                let was = self.syn_ack().copied();
                self.syn_ack = Kept::Own(Box::new(other));
                if let Some(first) = was {
                    self.other_syn_ack = Some(Box::new(first));
                    self.sides[other.side]
                        .stream
                        .resyn(Seq(first.seq), Seq(other.seq));
                }
                self.handshake_ack = self.keep(&ev);
            }
        }
        if f & (flags::RST | flags::FIN) != 0 {
            let list = if f & flags::RST != 0 {
                &mut self.resets
            } else {
                &mut self.fins
            };
            if list.len() < MAX_CONTROL_EVENTS {
                // Grown one at a time: most flows keep one or two, and a closed flow waits
                // seconds of capture time with them (a doubling Vec would hold four).
                list.reserve_exact(1);
                list.push(ev);
            } else {
                self.control_dropped += 1;
            }
            let fin_both =
                self.fins.iter().any(|e| e.side == 0) && self.fins.iter().any(|e| e.side == 1);
            self.closed = !self.resets.is_empty() || fin_both;
        }
    }

    fn segment(&mut self, side: usize, seg: &TcpSegment<'_>, origin: Origin, missing: u32) {
        if seg.flags & flags::ACK != 0 {
            let peer = &mut self.sides[1 - side];
            if peer
                .acked_by_peer
                .is_none_or(|a| Seq(a).is_before(Seq(seg.ack)))
            {
                peer.acked_by_peer = Some(seg.ack);
            }
        }
        let s = &mut self.sides[side];
        s.packets += 1;
        s.last_frame = origin.frame;
        let used = seg.payload.len() as u32 + u32::from(seg.flags & (flags::SYN | flags::FIN) != 0);
        let end = seg.seq.wrapping_add(used);
        if seg.flags & flags::RST == 0 && s.seq_end.is_none_or(|e| Seq(e).is_before(Seq(end))) {
            s.seq_end = Some(end);
        }
        if seg.flags & flags::RST != 0 {
            // RFC 9293 §3.5.3 lets a RST carry diagnostic text, never stream data; injectors put
            // block pages or filler there. It is evidence about the RST (its event keeps the
            // length), kept out of the stream.
            return;
        }
        s.payload_bytes += seg.payload.len() as u64;
        s.payload_missing += u64::from(missing);
        if seg.flags & flags::SYN != 0 {
            s.stream.syn(Seq(seg.seq));
        }
        if seg.payload.is_empty() {
            return;
        }
        let opens_stream = s.first_data_frame.is_none();
        s.first_data_frame.get_or_insert(origin.frame);
        // Data on a SYN (TCP Fast Open) starts at ISN + 1.
        let seq = if seg.flags & flags::SYN != 0 {
            Seq(seg.seq).plus(1)
        } else {
            Seq(seg.seq)
        };
        if let Some(held) = s.held.take() {
            // The held bytes at this segment's sequence numbers, against the segment's own.
            let off = Seq(seg.seq).diff(Seq(held.seq));
            let held_here = usize::try_from(off)
                .ok()
                .and_then(|o| held.bytes.get(o..))
                .filter(|h| !h.is_empty());
            let differ = held_here.is_some_and(|h| {
                let n = h.len().min(seg.payload.len());
                h.get(..n) != seg.payload.get(..n)
            });
            if differ {
                // Other bytes at the sequence numbers the FIN's payload claimed: the FIN was
                // not this end's (an injector's block page raced by the real answer).
                s.raced = Some(Raced {
                    fin_frame: held.origin.frame,
                    fin_len: held.bytes.len() as u32,
                    real_frame: origin.frame,
                });
            } else {
                release(&held, &mut s.stream, &mut self.app, side);
            }
        }
        let app = &mut self.app;
        // Data on a FIN that opens a direction while the handshake is open and is not TLS is
        // held back: a genuine end's last words are delivered when the flow ends, an
        // injector's block page is dropped when the real answer takes its sequence numbers.
        if seg.flags & flags::FIN != 0
            && opens_stream
            && app.wants_buffering(side)
            && !crate::proto::tls::looks_like_record_start(seg.payload)
        {
            let keep = seg.payload.len().min(MAX_HELD_BYTES);
            s.held = Some(Box::new(Held {
                seq: seq.0,
                bytes: seg.payload.get(..keep).unwrap_or_default().to_vec(),
                origin,
            }));
            return;
        }
        if app.wants_data(side) {
            if !app.wants_buffering(side) {
                s.stream.stop_buffering();
            }
            s.stream
                .segment(seq, seg.payload, origin, &mut |d| app.deliver(side, d));
            let end = seq.plus(seg.payload.len() as u32);
            s.stream
                .snapped(end, missing, &mut |d| app.deliver(side, d));
        }
    }

    /// The handshake just ended: what was grown for it shrinks to what it holds (a flow
    /// then waits, often for minutes of capture time, with its facts only).
    fn settle(&mut self) {
        self.timeline.shrink_to_fit();
        self.resets.shrink_to_fit();
        self.fins.shrink_to_fit();
        self.app.settle();
    }

    /// Bytes this flow holds, about: the flow itself, its table entry, what it grew (packet
    /// lists, out-of-order data, a held FIN payload) and its application state.
    pub fn cost(&self) -> usize {
        let event = std::mem::size_of::<TcpEvent>();
        let lists = self.timeline.capacity() + self.resets.capacity() + self.fins.capacity();
        let held: usize = self
            .sides
            .iter()
            .map(|s| s.stream.buffered() + s.held.as_ref().map_or(0, |h| h.bytes.capacity()))
            .sum();
        FLOW_OVERHEAD
            + std::mem::size_of::<Self>()
            + lists * event
            + self.icmp.capacity() * std::mem::size_of::<IcmpEvent>()
            + held
            + self.app.heap_bytes()
    }

    /// Delivers what reassembly still holds (holes become gaps).
    fn flush(&mut self) {
        let app = &mut self.app;
        for (i, s) in self.sides.iter_mut().enumerate() {
            if let Some(held) = s.held.take() {
                release(&held, &mut s.stream, app, i);
            }
            if app.wants_data(i) {
                s.stream.flush(&mut |d| app.deliver(i, d));
            }
        }
    }
}

/// Canonical 5-tuple: the lower endpoint first. Endpoints are packed into plain integers
/// (address, then port and family) so that comparing and hashing them is a few instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    lo: (u128, u32),
    hi: (u128, u32),
    udp: bool,
    /// [`Encap::network`] of the packets.
    network: u64,
}

fn packed(e: Endpoint) -> (u128, u32) {
    match e.ip {
        IpAddr::V4(a) => (u128::from(u32::from(a)), u32::from(e.port)),
        IpAddr::V6(a) => (u128::from(a), u32::from(e.port) | 1 << 16),
    }
}

fn endpoints(src: IpAddr, src_port: u16, dst: IpAddr, dst_port: u16) -> (Endpoint, Endpoint) {
    (
        Endpoint {
            ip: src,
            port: src_port,
        },
        Endpoint {
            ip: dst,
            port: dst_port,
        },
    )
}

fn key_of(a: Endpoint, b: Endpoint, udp: bool, network: u64) -> (Key, bool) {
    let (a, b) = (packed(a), packed(b));
    if a <= b {
        (
            Key {
                lo: a,
                hi: b,
                udp,
                network,
            },
            false,
        )
    } else {
        (
            Key {
                lo: b,
                hi: a,
                udp,
                network,
            },
            true,
        )
    }
}

/// Counters over the whole table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableStats {
    pub flows: u64,
    /// Packets that came after their connection had closed and been reported.
    pub after_close: u64,
    /// ICMP errors about packets of no open flow.
    pub icmp_unmatched: u64,
    pub evicted: u64,
    pub forced: u64,
    /// Flows finished early because the table held more than its memory budget.
    pub shed: u64,
    pub peak_open: usize,
    /// The most bytes the table's open flows held at once ([`Flow::cost`]).
    pub peak_bytes: usize,
}

struct Slot<A> {
    /// Boxed so that finishing a flow hands out a pointer, not a kilobyte struct.
    flow: Box<Flow<A>>,
    key: Key,
    /// Whether `key.lo` is side 0.
    lo_is_side0: bool,
    /// What the flow cost when last counted ([`Flow::cost`]).
    cost: usize,
}

/// The flow table.
pub struct FlowTable<A: FlowApp> {
    /// The run's context every new flow's application state is built from.
    context: Arc<A::Context>,
    map: FxHashMap<Key, usize>,
    /// Flows live boxed in their slots: growing the table moves pointers, not flows.
    slots: Vec<Option<Slot<A>>>,
    /// This table's cap on open flows.
    max_open: usize,
    /// This table's share of the run's memory budget, and what its open flows hold.
    max_bytes: usize,
    bytes: usize,
    free: Vec<usize>,
    /// Open flows by first frame: the oldest bounds what can be reported in order.
    open: BTreeMap<u64, usize>,
    /// The flow looked up last: runs of packets of one flow (a bulk transfer and its ACKs)
    /// skip the hash lookup.
    recent: Option<(Key, usize)>,
    /// Finished flows not yet handed out.
    done: Vec<Box<Flow<A>>>,
    /// Connections that closed and were finished, by key: their late packets are theirs.
    closed: FxHashMap<Key, Closed>,
    pub stats: TableStats,
}

/// What is kept of a closed connection once it was finished, to recognise its late packets
/// (retransmissions, a late FIN) until a new SYN with a new ISN starts another connection.
#[derive(Debug, Clone, Copy)]
struct Closed {
    /// The last packet's time, this one's included.
    last: Timestamp,
    /// The client's ISN, when its SYN was seen.
    syn_isn: Option<u32>,
    /// One past the highest sequence number each end used, by which endpoint of the key
    /// (`lo`, `hi`).
    seq_end: [Option<u32>; 2],
}

/// How far behind (or ahead of) a closed connection's last sequence number a late packet may
/// be and still belong to it.
const LATE_WINDOW_BEHIND: u32 = 1 << 24;
const LATE_WINDOW_AHEAD: u32 = 1 << 16;

impl<A: FlowApp> FlowTable<A> {
    /// A table with the whole [`MAX_OPEN_FLOWS`] cap.
    pub fn new(context: Arc<A::Context>) -> Self {
        Self::with_cap(MAX_OPEN_FLOWS, context)
    }

    /// A table holding at most `max_open` open flows.
    pub fn with_cap(max_open: usize, context: Arc<A::Context>) -> Self {
        Self::with_limits(max_open, usize::MAX, context)
    }

    /// A table holding at most `max_open` open flows and, about, `max_bytes` in them: past
    /// that the oldest open flows are finished ([`EndReason::Shed`]).
    pub fn with_limits(max_open: usize, max_bytes: usize, context: Arc<A::Context>) -> Self {
        FlowTable {
            context,
            map: FxHashMap::default(),
            slots: Vec::new(),
            max_open: max_open.max(1),
            max_bytes,
            bytes: 0,
            free: Vec::new(),
            open: BTreeMap::new(),
            recent: None,
            done: Vec::new(),
            closed: FxHashMap::default(),
            stats: TableStats::default(),
        }
    }

    /// Flows open now.
    pub fn open_flows(&self) -> usize {
        self.map.len()
    }

    /// First frame of the oldest open flow: every flow reported later starts after it.
    pub fn oldest_open(&self) -> Option<u64> {
        self.open.first_key_value().map(|(&k, _)| k)
    }

    /// Takes one decoded packet.
    pub fn packet(&mut self, pkt: &Packet<'_>, frame: u64, ts: Timestamp) {
        let seg = match pkt.transport {
            Transport::Tcp(seg) => seg,
            Transport::Udp(d) => return self.datagram(pkt, &d, frame, ts),
            Transport::Icmp(e) => return self.icmp(pkt, &e, frame, ts),
            // Reassembled before they reach a table (`net::fragments`).
            Transport::Fragment(_) => return,
        };
        let (src, dst) = endpoints(pkt.src, seg.src_port, pkt.dst, seg.dst_port);
        let (key, swapped) = key_of(src, dst, false, pkt.encap.network());
        let is_syn = seg.flags & (flags::SYN | flags::ACK) == flags::SYN;
        let mut slot_idx = self.find(&key);
        if let (Some(i), true) = (slot_idx, is_syn) {
            // A SYN with a new ISN, or on a closed flow whose SYN was not seen, starts a new
            // connection; one with the flow's own ISN is a retransmission (RFC 9293 §3.4).
            if let Some(Some(slot)) = self.slots.get(i) {
                let f = &slot.flow;
                let same_isn = f.syn().map(|s| s.seq == seg.seq);
                if same_isn == Some(false) || (f.closed && same_isn.is_none()) {
                    self.finish(i, EndReason::Reused);
                    slot_idx = None;
                }
            }
        }
        let i = match slot_idx {
            Some(i) => i,
            None => {
                if self.after_close(&key, swapped, &seg, ts) {
                    return;
                }
                self.open_flow(key, src, dst, swapped, frame, ts, &pkt.encap)
            }
        };
        let Some(Some(slot)) = self.slots.get_mut(i) else {
            return;
        };
        let lo_is_side0 = slot.lo_is_side0;
        let side = usize::from(swapped == lo_is_side0);
        let flow = &mut slot.flow;
        flow.last = ts;
        let ev = TcpEvent {
            frame,
            ts,
            side,
            flags: seg.flags,
            seq: seg.seq,
            ack: seg.ack,
            window: seg.window,
            ip: pkt.ip,
            options: seg.options,
            payload_len: seg.payload.len() as u32,
        };
        let handshake_open = flow.app.wants_buffering(0) || flow.app.wants_buffering(1);
        if handshake_open && flow.timeline.len() < MAX_TIMELINE {
            flow.timeline.push(ev);
        }
        if flow.sides[side].first == Kept::No {
            flow.sides[side].first = flow.keep(&ev);
        }
        if seg.flags & (flags::SYN | flags::RST | flags::FIN) != 0 || flow.handshake_ack == Kept::No
        {
            flow.control(ev);
        }
        flow.segment(side, &seg, Origin { frame, ts }, pkt.payload_missing);
        if handshake_open && !(flow.app.wants_buffering(0) || flow.app.wants_buffering(1)) {
            flow.settle();
        }
        // Only a flow whose handshake is open, or that kept a control packet, can have grown.
        if handshake_open || seg.flags & (flags::RST | flags::FIN) != 0 {
            self.recount(i);
        }
    }

    /// Counts flow `i`'s cost again; past the table's budget, sheds the oldest flows.
    fn recount(&mut self, i: usize) {
        let Some(Some(slot)) = self.slots.get_mut(i) else {
            return;
        };
        let cost = slot.flow.cost();
        self.bytes = (self.bytes + cost).saturating_sub(slot.cost);
        slot.cost = cost;
        self.stats.peak_bytes = self.stats.peak_bytes.max(self.bytes);
        if self.bytes > self.max_bytes {
            self.shed();
        }
    }

    /// The table holds more than its budget: finishes the oldest open flows until it holds
    /// seven eighths of it.
    fn shed(&mut self) {
        let target = self.max_bytes / 8 * 7;
        while self.bytes > target {
            let Some((_, &i)) = self.open.first_key_value() else {
                break;
            };
            self.stats.shed += 1;
            self.finish(i, EndReason::Shed);
        }
    }

    /// Whether this packet, on a 5-tuple with no open flow, belongs to a connection that closed
    /// and was already reported: a retransmission or a late FIN in its sequence space, or its
    /// SYN again. It is then counted, not made into a connection of its own.
    fn after_close(
        &mut self,
        key: &Key,
        swapped: bool,
        seg: &TcpSegment<'_>,
        ts: Timestamp,
    ) -> bool {
        let Some(c) = self.closed.get_mut(key) else {
            return false;
        };
        let syn = seg.flags & flags::SYN != 0;
        let belongs = if syn {
            seg.flags & flags::ACK == 0 && c.syn_isn == Some(seg.seq)
        } else {
            // `swapped`: the sender is the key's `hi` endpoint.
            c.seq_end[usize::from(swapped)].is_some_and(|end| {
                let behind = end.wrapping_sub(seg.seq);
                let ahead = seg.seq.wrapping_sub(end);
                behind <= LATE_WINDOW_BEHIND || ahead <= LATE_WINDOW_AHEAD
            })
        };
        if belongs {
            c.last = ts;
            self.stats.after_close += 1;
        } else if syn {
            self.closed.remove(key);
        }
        belongs
    }

    fn find(&mut self, key: &Key) -> Option<usize> {
        if let Some((k, i)) = self.recent {
            if k == *key {
                return Some(i);
            }
        }
        let i = self.map.get(key).copied()?;
        self.recent = Some((*key, i));
        Some(i)
    }

    /// An ICMP error: kept with the flow of the packet it quotes, when that flow is open.
    fn icmp(&mut self, pkt: &Packet<'_>, e: &IcmpError, frame: u64, ts: Timestamp) {
        let q = &e.quoted;
        let (src, dst) = endpoints(q.src, q.src_port, q.dst, q.dst_port);
        let (key, swapped) = key_of(src, dst, q.udp, pkt.encap.network());
        let Some(i) = self.find(&key) else {
            self.stats.icmp_unmatched += 1;
            return;
        };
        let Some(Some(slot)) = self.slots.get_mut(i) else {
            return;
        };
        let side = usize::from(swapped == slot.lo_is_side0);
        let flow = &mut slot.flow;
        if flow.icmp.len() < MAX_CONTROL_EVENTS {
            flow.icmp.push(IcmpEvent {
                frame,
                ts,
                router: pkt.src,
                kind: e.kind,
                side,
                seq: q.seq,
                ttl: q.ttl,
            });
        }
    }

    /// A UDP datagram: the application looks for QUIC or DTLS in it.
    fn datagram(&mut self, pkt: &Packet<'_>, d: &UdpDatagram<'_>, frame: u64, ts: Timestamp) {
        let (src, dst) = endpoints(pkt.src, d.src_port, pkt.dst, d.dst_port);
        let (key, swapped) = key_of(src, dst, true, pkt.encap.network());
        let i = match self.find(&key) {
            Some(i) => i,
            None => self.open_flow(key, src, dst, swapped, frame, ts, &pkt.encap),
        };
        let Some(Some(slot)) = self.slots.get_mut(i) else {
            return;
        };
        let side = usize::from(swapped == slot.lo_is_side0);
        let flow = &mut slot.flow;
        flow.udp = true;
        flow.last = ts;
        let s = &mut flow.sides[side];
        s.packets += 1;
        s.last_frame = frame;
        s.payload_bytes += d.payload.len() as u64;
        s.payload_missing += u64::from(pkt.payload_missing);
        s.first_data_frame.get_or_insert(frame);
        if flow.app.wants_data(side) {
            flow.app.datagram(side, d.payload, Origin { frame, ts });
            self.recount(i);
        }
    }

    #[allow(clippy::too_many_arguments)] // reason: the new flow's key and first packet's facts
    fn open_flow(
        &mut self,
        key: Key,
        src: Endpoint,
        dst: Endpoint,
        swapped: bool,
        frame: u64,
        ts: Timestamp,
        encap: &Encap,
    ) -> usize {
        if self.map.len() >= self.max_open {
            self.evict_idle();
        }
        let mut flow = Box::new(Flow::new(frame, ts, src, dst, A::new(&self.context)));
        flow.encap = *encap;
        let cost = flow.cost();
        self.bytes += cost;
        let slot = Slot {
            flow,
            key,
            lo_is_side0: !swapped,
            cost,
        };
        let i = match self.free.pop() {
            Some(i) => {
                if let Some(s) = self.slots.get_mut(i) {
                    *s = Some(slot);
                }
                i
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        self.map.insert(key, i);
        self.recent = Some((key, i));
        self.open.insert(frame, i);
        self.stats.flows += 1;
        self.stats.peak_open = self.stats.peak_open.max(self.map.len());
        i
    }

    fn finish(&mut self, i: usize, reason: EndReason) {
        let Some(slot) = self.slots.get_mut(i).and_then(Option::take) else {
            return;
        };
        self.free.push(i);
        self.bytes = self.bytes.saturating_sub(slot.cost);
        self.map.remove(&slot.key);
        if self.recent.is_some_and(|(k, _)| k == slot.key) {
            self.recent = None;
        }
        let mut flow = slot.flow;
        self.open.remove(&flow.first_frame);
        if flow.closed && !flow.udp && self.closed.len() < self.max_open {
            let lo = usize::from(!slot.lo_is_side0);
            self.closed.insert(
                slot.key,
                Closed {
                    last: flow.last,
                    syn_isn: flow.syn().map(|s| s.seq),
                    seq_end: [flow.sides[lo].seq_end, flow.sides[1 - lo].seq_end],
                },
            );
        }
        flow.end = reason;
        flow.flush();
        self.done.push(flow);
    }

    /// What reassembly says about a datagram of the flow of `pkt` (a rebuilt datagram, or what
    /// came of a lost one from offset 0 on). False when no such flow is open.
    pub fn fragment_note(&mut self, pkt: &Packet<'_>, note: FragmentNote) -> bool {
        let (src, dst, udp) = match pkt.transport {
            Transport::Tcp(t) => (t.src_port, t.dst_port, false),
            Transport::Udp(u) => (u.src_port, u.dst_port, true),
            Transport::Icmp(_) | Transport::Fragment(_) => return false,
        };
        let (src, dst) = endpoints(pkt.src, src, pkt.dst, dst);
        let (key, _) = key_of(src, dst, udp, pkt.encap.network());
        let Some(i) = self.find(&key) else {
            return false;
        };
        let Some(Some(slot)) = self.slots.get_mut(i) else {
            return false;
        };
        let f = slot.flow.fragmented.get_or_insert_with(Box::default);
        match note {
            FragmentNote::Whole { conflict } => {
                f.datagrams += 1;
                if let Some(frame) = conflict {
                    f.conflicts += 1;
                    f.first_conflict.get_or_insert(frame);
                }
            }
            FragmentNote::Lost { frame, why } => {
                f.lost += 1;
                f.first_lost.get_or_insert((frame, why));
            }
        }
        true
    }

    /// Finishes the flows idle too long at capture time `now`.
    pub fn sweep(&mut self, now: Timestamp) {
        let expired: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let f = &s.as_ref()?.flow;
                let limit = if f.closed {
                    CLOSED_TIMEOUT_NS
                } else {
                    IDLE_TIMEOUT_NS
                };
                (now.0.saturating_sub(f.last.0) > limit).then_some(i)
            })
            .collect();
        for i in expired {
            self.finish(i, EndReason::Timeout);
        }
        self.closed
            .retain(|_, c| now.0.saturating_sub(c.last.0) <= IDLE_TIMEOUT_NS);
    }

    /// The table is full: finish the eighth of flows that have been idle longest, the oldest
    /// first among those idle as long (a flood of packets with one timestamp): every flow
    /// reported waits behind the oldest open one, so finishing it lets them out.
    fn evict_idle(&mut self) {
        let mut idle: Vec<(i64, u64, usize)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let f = &s.as_ref()?.flow;
                Some((f.last.0, f.first_frame, i))
            })
            .collect();
        let n = (idle.len() / 8).max(1);
        if n < idle.len() {
            idle.select_nth_unstable(n);
        }
        for &(_, _, i) in idle.iter().take(n) {
            self.stats.evicted += 1;
            self.finish(i, EndReason::Evicted);
        }
    }

    /// Finishes every open flow whose first packet came before `frame`, so that the flows
    /// waiting behind them can be reported.
    pub fn force_before(&mut self, frame: u64) {
        let old: Vec<usize> = self.open.range(..frame).map(|(_, &i)| i).collect();
        for i in old {
            self.stats.forced += 1;
            self.finish(i, EndReason::Forced);
        }
    }

    /// Hands out the flows finished so far.
    pub fn drain_finished(&mut self, out: &mut dyn FnMut(Box<Flow<A>>)) {
        for f in self.done.drain(..) {
            out(f);
        }
    }

    /// End of input: finishes everything and hands it all out.
    pub fn finish_all(&mut self, out: &mut dyn FnMut(Box<Flow<A>>)) {
        let open: Vec<usize> = self.open.values().copied().collect();
        for i in open {
            self.finish(i, EndReason::EndOfCapture);
        }
        self.drain_finished(out);
    }
}
