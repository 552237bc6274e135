//! reassembly: TCP segments of one direction in; the byte stream in order out.
//!
//! Takes segments with their sequence numbers as they arrive (out of order, retransmitted,
//! overlapping) and delivers the bytes in stream order to a sink, each chunk tagged with the
//! frame that completed it. In-order data is delivered straight from the frame (no copy); only
//! segments that arrive ahead of a hole are copied, into a per-direction store capped at
//! [`MAX_PENDING_BYTES`]. Holes that never fill are delivered as [`Delivery::Gap`] with the
//! number of missing bytes.
//!
//! Guarantees: every byte is delivered at most once; sequence numbers wrap (RFC 9293 §3.4
//! modular arithmetic through [`Seq`]); memory per direction never exceeds the cap. It does not
//! interpret the bytes and does not keep bytes already delivered, so an overlap that rewrites
//! delivered bytes can only be counted, not compared; overlaps among buffered segments are
//! compared byte for byte.

use crate::capture::Timestamp;
use std::collections::BTreeMap;

/// Bytes of out-of-order data buffered per direction before the oldest hole is given up.
pub const MAX_PENDING_BYTES: usize = 256 * 1024;
/// Out-of-order segments buffered per direction before the oldest hole is given up.
pub const MAX_PENDING_SEGMENTS: usize = 512;

/// A TCP sequence number: compare only through the wrapping methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Seq(pub u32);

impl Seq {
    /// Signed distance from `other` to `self` (positive when `self` is later), RFC 9293 §3.4.
    pub fn diff(self, other: Seq) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }
    pub fn plus(self, n: u32) -> Seq {
        Seq(self.0.wrapping_add(n))
    }
    pub fn is_before(self, other: Seq) -> bool {
        self.diff(other) < 0
    }
}

/// Where a chunk of stream bytes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Origin {
    pub frame: u64,
    pub ts: Timestamp,
}

/// What the sink receives, in stream order.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery<'a> {
    Data {
        bytes: &'a [u8],
        origin: Origin,
    },
    /// Bytes that never arrived (a capture drop, a one-sided capture, a cap hit).
    Gap {
        missing: u64,
    },
}

/// Counters a diagnosis can quote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub delivered: u64,
    /// Segments that carried only bytes already delivered or buffered.
    pub retransmissions: u64,
    /// Segments that arrived ahead of a hole.
    pub out_of_order: u64,
    /// Overlapping bytes whose content differed from what was buffered (first copy wins).
    pub overlap_conflicts: u64,
    /// Frame of the first conflicting overlap.
    pub first_conflict_frame: Option<u64>,
    pub gaps: u64,
    pub missing_bytes: u64,
    /// The out-of-order store hit its cap at least once.
    pub cap_hit: bool,
}

#[derive(Debug)]
struct Pending {
    bytes: Vec<u8>,
    origin: Origin,
}

/// One direction of a TCP connection.
#[derive(Debug, Default)]
pub struct HalfStream {
    /// Next sequence number expected; None until the first SYN or data segment.
    next: Option<Seq>,
    /// Segments ahead of `next`, keyed by their distance from `next` at insertion time
    /// re-based on every advance (see `rebase`): offsets are relative to `base`.
    pending: BTreeMap<u64, Pending>,
    /// Sequence number that offset 0 of `pending` stands for.
    base: Seq,
    pending_bytes: usize,
    /// When false, bytes are counted and the stream position followed, but nothing is buffered.
    buffering: bool,
    pub stats: StreamStats,
}

impl HalfStream {
    pub fn new() -> Self {
        HalfStream {
            buffering: true,
            ..Default::default()
        }
    }

    /// Sets the initial sequence number from a SYN: data starts at `isn + 1`.
    pub fn syn(&mut self, isn: Seq) {
        if self.next.is_none() {
            self.next = Some(isn.plus(1));
            self.base = isn.plus(1);
        }
    }

    /// The connection's ISN turned out to be `isn`, not `was` (the SYN-ACK the client
    /// acknowledged was not the first one seen): starts over from it, as long as the stream
    /// has not moved past `was`.
    pub fn resyn(&mut self, was: Seq, isn: Seq) {
        if self.pending.is_empty() && self.next == Some(was.plus(1)) {
            self.next = Some(isn.plus(1));
            self.base = isn.plus(1);
        }
    }

    /// Whether the stream has a position yet.
    pub fn started(&self) -> bool {
        self.next.is_some()
    }

    /// Bytes of out-of-order data held.
    pub fn buffered(&self) -> usize {
        self.pending_bytes
    }

    /// Stops buffering: pending data is dropped and later out-of-order data is only counted.
    pub fn stop_buffering(&mut self) {
        self.buffering = false;
        self.pending.clear();
        self.pending_bytes = 0;
    }

    /// Takes one segment's payload. `seq` is the sequence number of its first payload byte.
    pub fn segment<'a>(
        &mut self,
        seq: Seq,
        payload: &'a [u8],
        origin: Origin,
        sink: &mut dyn FnMut(Delivery<'_>),
    ) {
        if payload.is_empty() {
            return;
        }
        let next = match self.next {
            Some(n) => n,
            None => {
                // Picked up mid-stream (or the SYN was not captured): start here.
                self.next = Some(seq);
                self.base = seq;
                seq
            }
        };
        let len = payload.len() as u32;
        let d = seq.diff(next);
        if d <= 0 {
            let skip = d.unsigned_abs();
            if skip >= len {
                self.stats.retransmissions += 1;
                return;
            }
            let fresh = payload.get(skip as usize..).unwrap_or_default();
            self.deliver(fresh, origin, sink);
            self.drain(sink);
        } else if !self.buffering {
            // Not buffering: the hole will never be filled; jump over it.
            self.stats.out_of_order += 1;
            self.gap(u64::from(d.unsigned_abs()), sink);
            self.deliver(payload, origin, sink);
        } else {
            self.stats.out_of_order += 1;
            self.store(seq, payload, origin);
            while self.pending_bytes > MAX_PENDING_BYTES
                || self.pending.len() > MAX_PENDING_SEGMENTS
            {
                self.stats.cap_hit = true;
                self.skip_first_hole(sink);
            }
        }
    }

    /// Delivers whatever is buffered, declaring the holes before it as gaps. Called when the
    /// connection ends or the capture does.
    pub fn flush(&mut self, sink: &mut dyn FnMut(Delivery<'_>)) {
        while !self.pending.is_empty() {
            self.skip_first_hole(sink);
        }
    }

    /// A segment ending at `captured_end` lost its last `missing` bytes to the snap length: if
    /// the stream stands right there, declare them a gap now instead of waiting for a hole
    /// that can never fill.
    pub fn snapped(&mut self, captured_end: Seq, missing: u32, sink: &mut dyn FnMut(Delivery<'_>)) {
        if missing > 0 && self.next == Some(captured_end) {
            self.gap(u64::from(missing), sink);
            self.drain(sink);
        }
    }

    fn offset_of(&self, seq: Seq) -> u64 {
        u64::from(seq.0.wrapping_sub(self.base.0))
    }

    fn store(&mut self, seq: Seq, payload: &[u8], origin: Origin) {
        let before = self.pending_bytes;
        let mut start = self.offset_of(seq);
        let mut data = payload;
        // Trim against buffered neighbours so stored segments never overlap; compare the
        // overlapping bytes (RFC 9293 leaves the choice open; first copy wins, as in most stacks).
        if let Some((&pstart, prev)) = self.pending.range(..=start).next_back() {
            let pend = pstart + prev.bytes.len() as u64;
            if pend > start {
                let overlap = (pend - start).min(data.len() as u64) as usize;
                let old = prev
                    .bytes
                    .get((start - pstart) as usize..)
                    .unwrap_or_default();
                if old.get(..overlap) != data.get(..overlap) {
                    self.note_conflict(origin);
                }
                data = data.get(overlap..).unwrap_or_default();
                start += overlap as u64;
            }
        }
        while !data.is_empty() {
            let end = start + data.len() as u64;
            let next_start = self.pending.range(start..end).next().map(|(&s, _)| s);
            match next_start {
                None => {
                    self.insert(start, data, origin);
                    break;
                }
                Some(ns) => {
                    let head = (ns - start) as usize;
                    if head > 0 {
                        self.insert(start, data.get(..head).unwrap_or_default(), origin);
                    }
                    let existing_len = self.pending.get(&ns).map_or(0, |p| p.bytes.len());
                    let overlap = existing_len.min(data.len().saturating_sub(head));
                    if let Some(p) = self.pending.get(&ns) {
                        let theirs = p.bytes.get(..overlap).unwrap_or_default();
                        let ours = data.get(head..head + overlap).unwrap_or_default();
                        if theirs != ours {
                            self.note_conflict(origin);
                        }
                    }
                    data = data.get(head + overlap..).unwrap_or_default();
                    start = ns + existing_len as u64;
                }
            }
        }
        if self.pending_bytes == before {
            // Fully covered by what was already buffered.
            self.stats.retransmissions += 1;
        }
    }

    fn insert(&mut self, start: u64, data: &[u8], origin: Origin) {
        if data.is_empty() {
            return;
        }
        self.pending_bytes += data.len();
        self.pending.insert(
            start,
            Pending {
                bytes: data.to_vec(),
                origin,
            },
        );
    }

    fn note_conflict(&mut self, origin: Origin) {
        self.stats.overlap_conflicts += 1;
        self.stats.first_conflict_frame.get_or_insert(origin.frame);
    }

    fn deliver(&mut self, bytes: &[u8], origin: Origin, sink: &mut dyn FnMut(Delivery<'_>)) {
        if let Some(n) = self.next {
            self.next = Some(n.plus(bytes.len() as u32));
        }
        self.stats.delivered += bytes.len() as u64;
        sink(Delivery::Data { bytes, origin });
    }

    fn gap(&mut self, missing: u64, sink: &mut dyn FnMut(Delivery<'_>)) {
        if let Some(n) = self.next {
            self.next = Some(n.plus(missing as u32));
        }
        self.stats.gaps += 1;
        self.stats.missing_bytes += missing;
        sink(Delivery::Gap { missing });
    }

    /// Delivers buffered segments that now start at or before `next`.
    fn drain(&mut self, sink: &mut dyn FnMut(Delivery<'_>)) {
        while let Some(next) = self.next {
            let cur = self.offset_of(next);
            let Some(entry) = self.pending.first_entry() else {
                break;
            };
            let start = *entry.key();
            if start > cur {
                break;
            }
            let p = entry.remove();
            self.pending_bytes -= p.bytes.len();
            let skip = (cur - start) as usize;
            if skip < p.bytes.len() {
                let fresh = p.bytes.get(skip..).unwrap_or_default();
                self.deliver(fresh, p.origin, sink);
            } else {
                self.stats.retransmissions += 1;
            }
        }
        self.rebase();
    }

    /// Gives up the hole before the first buffered segment and delivers from there.
    fn skip_first_hole(&mut self, sink: &mut dyn FnMut(Delivery<'_>)) {
        let (Some(next), Some((&start, _))) = (self.next, self.pending.first_key_value()) else {
            return;
        };
        let cur = self.offset_of(next);
        if start > cur {
            self.gap(start - cur, sink);
        }
        self.drain(sink);
    }

    /// Keeps offsets small: once nothing is pending, offsets restart at `next`.
    fn rebase(&mut self) {
        if self.pending.is_empty() {
            if let Some(n) = self.next {
                self.base = n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(segments: &[(u32, &[u8])], isn: Option<u32>) -> (Vec<u8>, Vec<u64>, HalfStream) {
        let mut s = HalfStream::new();
        if let Some(i) = isn {
            s.syn(Seq(i));
        }
        let mut out = Vec::new();
        let mut gaps = Vec::new();
        for (i, (seq, data)) in segments.iter().enumerate() {
            s.segment(
                Seq(*seq),
                data,
                Origin {
                    frame: i as u64 + 1,
                    ts: Timestamp(0),
                },
                &mut |d| match d {
                    Delivery::Data { bytes, .. } => out.extend_from_slice(bytes),
                    Delivery::Gap { missing } => gaps.push(missing),
                },
            );
        }
        s.flush(&mut |d| match d {
            Delivery::Data { bytes, .. } => out.extend_from_slice(bytes),
            Delivery::Gap { missing } => gaps.push(missing),
        });
        (out, gaps, s)
    }

    #[test]
    fn in_order_segments_are_delivered_as_is() {
        let (out, gaps, s) = run(&[(101, b"hello "), (107, b"world")], Some(100));
        assert_eq!(out, b"hello world");
        assert!(gaps.is_empty());
        assert_eq!(s.stats.delivered, 11);
    }

    #[test]
    fn segments_arriving_back_middle_front_are_reordered() {
        let (out, gaps, s) = run(&[(7, b"ghi"), (4, b"def"), (1, b"abc")], Some(0));
        assert_eq!(out, b"abcdefghi");
        assert!(gaps.is_empty());
        assert_eq!(s.stats.out_of_order, 2);
    }

    #[test]
    fn retransmission_is_counted_and_not_delivered_twice() {
        let (out, _, s) = run(&[(1, b"abc"), (1, b"abc"), (4, b"def")], Some(0));
        assert_eq!(out, b"abcdef");
        assert_eq!(s.stats.retransmissions, 1);
    }

    #[test]
    fn partial_overlap_delivers_only_new_bytes() {
        let (out, _, _) = run(&[(1, b"abcd"), (3, b"cdef")], Some(0));
        assert_eq!(out, b"abcdef");
    }

    #[test]
    fn conflicting_overlap_in_buffered_data_is_reported_and_first_copy_wins() {
        let (out, _, s) = run(&[(5, b"EFGH"), (7, b"xyIJ"), (1, b"ABCD")], Some(0));
        assert_eq!(out, b"ABCDEFGHIJ");
        assert_eq!(s.stats.overlap_conflicts, 1);
        assert_eq!(s.stats.first_conflict_frame, Some(2));
    }

    #[test]
    fn sequence_numbers_wrap_around() {
        let isn = u32::MAX - 2;
        let (out, gaps, _) = run(&[(u32::MAX - 1, b"ab"), (0, b"cd"), (2, b"ef")], Some(isn));
        assert_eq!(out, b"abcdef");
        assert!(gaps.is_empty());
        let (out, _, _) = run(&[(0, b"cd"), (u32::MAX - 1, b"ab")], Some(isn));
        assert_eq!(out, b"abcd");
    }

    #[test]
    fn a_hole_that_never_fills_becomes_a_gap_at_flush() {
        let (out, gaps, s) = run(&[(1, b"abc"), (10, b"xyz")], Some(0));
        assert_eq!(out, b"abcxyz");
        assert_eq!(gaps, vec![6]);
        assert_eq!(s.stats.missing_bytes, 6);
    }

    #[test]
    fn mid_stream_pickup_starts_at_the_first_segment() {
        let (out, _, _) = run(&[(5000, b"abc"), (5003, b"def")], None);
        assert_eq!(out, b"abcdef");
    }

    #[test]
    fn pending_store_is_capped_and_gives_up_the_hole() {
        let mut s = HalfStream::new();
        s.syn(Seq(0));
        let chunk = vec![7u8; 1000];
        let mut gaps = 0;
        let mut delivered = 0usize;
        for i in 0..(MAX_PENDING_BYTES / 1000 + 10) as u32 {
            s.segment(
                Seq(1001 + i * 1000),
                &chunk,
                Origin::default(),
                &mut |d| match d {
                    Delivery::Gap { .. } => gaps += 1,
                    Delivery::Data { bytes, .. } => delivered += bytes.len(),
                },
            );
            assert!(s.pending_bytes <= MAX_PENDING_BYTES);
        }
        assert!(s.stats.cap_hit);
        assert_eq!(gaps, 1);
        assert!(delivered > 0);
    }

    #[test]
    fn not_buffering_jumps_holes_without_storing() {
        let mut s = HalfStream::new();
        s.syn(Seq(0));
        s.stop_buffering();
        let mut got = Vec::new();
        s.segment(Seq(11), b"later", Origin::default(), &mut |d| {
            got.push(format!("{d:?}"))
        });
        assert_eq!(got.len(), 2);
        assert!(s.pending.is_empty());
    }

    /// A seeded random permutation with duplicates and overlaps against the naive model: the
    /// delivered stream must equal the original bytes.
    #[test]
    fn random_reordering_with_overlaps_matches_the_naive_model() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for round in 0..200 {
            let total = 200 + rnd(2000) as usize;
            let data: Vec<u8> = (0..total).map(|i| (i * 31 + round) as u8).collect();
            let isn = rnd(u64::from(u32::MAX)) as u32;
            let mut segs = Vec::new();
            let mut pos = 0usize;
            while pos < total {
                let len = 1 + rnd(300) as usize;
                let end = (pos + len).min(total);
                segs.push((pos, end));
                // sometimes an overlapping copy
                if rnd(4) == 0 {
                    let s2 = pos.saturating_sub(rnd(50) as usize);
                    segs.push((s2, (end + rnd(50) as usize).min(total)));
                }
                pos = end;
            }
            for i in (1..segs.len()).rev() {
                let j = rnd(i as u64 + 1) as usize;
                segs.swap(i, j);
            }
            let owned: Vec<(u32, Vec<u8>)> = segs
                .iter()
                .map(|&(a, b)| {
                    (
                        isn.wrapping_add(1).wrapping_add(a as u32),
                        data[a..b].to_vec(),
                    )
                })
                .collect();
            let refs: Vec<(u32, &[u8])> = owned.iter().map(|(s, d)| (*s, d.as_slice())).collect();
            let (out, gaps, s) = run(&refs, Some(isn));
            assert!(gaps.is_empty(), "round {round}");
            assert_eq!(out, data, "round {round}");
            assert_eq!(s.stats.overlap_conflicts, 0);
        }
    }
}
