//! net::fragments: IP fragments in (as [`decode`](super::decode) gives them, in capture order,
//! with their frame number and time); whole datagrams out, rebuilt as IP packets for
//! [`decode_reassembled`](super::decode_reassembled), and the datagrams that never completed.
//!
//! A datagram is keyed as RFC 791 §3.2 and RFC 8200 §4.5 say (addresses, identification, and
//! for IPv4 the protocol) plus the virtual network its fragments came through
//! ([`Encap::network`]). Overlaps follow one policy, first copy wins: bytes already held are
//! never replaced, and a later fragment whose bytes at the same offsets differ is noted as a
//! conflict (Linux, and RFC 5722 for IPv6, drop such a datagram whole; keeping the first copy
//! lets the analysis go on, and the conflict says that a receiver may have seen something else).
//! A last fragment that contradicts the datagram's known end makes the datagram inconsistent:
//! it is given up, as Linux does.
//!
//! Bounded, with every allocation driven by bytes seen: a datagram keeps the bytes of its
//! fragments as they came (not a buffer sized by an offset field) and rebuilds the payload
//! only once every byte is there. Caps: [`MAX_DATAGRAM`] payload bytes per datagram,
//! [`MAX_PIECES`] pieces per datagram, [`MAX_HELD_BYTES`] held over all datagrams (counted by
//! allocated capacity, piece records included) and [`MAX_DATAGRAMS`] in progress; past a cap
//! the oldest datagram is given up. A datagram whose first fragment came [`TIMEOUT_NS`] of
//! capture time ago is given up (Linux's and Zeek's 30 s), checked when capture time enters a
//! new second ([`Reassembler::tick`]).
//!
//! Everything depends only on the fragments, their order and capture times, so the same
//! capture gives the same datagrams however its flows are spread over workers.
//!
//! Deliberately not done: checksum checks, the IPv4 options of later fragments, the IPv6
//! extension headers before the Fragment header (the rebuilt packet keeps only the fixed
//! header: the analysis needs addresses, hop limit and the transport).
//!
//! etherparse has a defragmenter (`etherparse::defrag`), but it sizes its buffer by the
//! fragment offsets (a single fragment at offset 65,000 allocates 65 KB), lets the last copy of
//! overlapping bytes win without telling, and says itself that its pool is not safe against
//! memory exhaustion; hence this module.

use super::{decode_reassembled, Encap, Fragment, Packet, Transport};
use crate::capture::Timestamp;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Payload bytes of one datagram (the IPv4 total length and IPv6 payload length are 16 bits).
pub const MAX_DATAGRAM: usize = 65_535;
/// Pieces kept per datagram: 64 KiB in fragments of 576-byte links is 120 pieces.
pub const MAX_PIECES: usize = 1024;
/// Bytes held for all datagrams in progress (Linux's `ipfrag_high_thresh` default, 4 MiB).
pub const MAX_HELD_BYTES: usize = 4 << 20;
/// Datagrams in progress at once.
pub const MAX_DATAGRAMS: usize = 4096;
/// Capture time after its first fragment that a datagram is given up (Linux's `ipfrag_time`).
pub const TIMEOUT_NS: i64 = 30 * 1_000_000_000;
/// Reassembled datagrams whose own payload is a fragment again (a fragmented tunnel packet
/// carrying a fragment) are reassembled again, this many levels deep at most.
pub const MAX_NESTING: usize = 2;

/// Bytes charged per datagram for its entry (key, facts, map slot), on top of its buffers.
const ENTRY_COST: usize = 192;

const NS_PER_SEC: i64 = 1_000_000_000;

/// What identifies one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    /// IPv4 only (RFC 791); 0 for IPv6, whose key has no protocol (RFC 8200 §4.5).
    protocol: u8,
    network: u64,
}

/// A run of bytes of the payload, held in `Datagram::data` at `at`.
#[derive(Debug, Clone, Copy)]
struct Piece {
    start: u16,
    len: u16,
    at: u32,
}

impl Piece {
    fn end(&self) -> usize {
        usize::from(self.start) + usize::from(self.len)
    }
}

#[derive(Debug)]
struct Datagram {
    /// Age order, for the timeout and the caps.
    serial: u64,
    first_ts: Timestamp,
    first_frame: u64,
    /// The fragment at offset 0: its TTL or hop limit, and the frame it came in.
    head: Option<(u8, u64)>,
    protocol: u8,
    encap: Encap,
    /// Fragment data in arrival order, overlaps left out.
    data: Vec<u8>,
    /// Sorted by `start`, never overlapping.
    pieces: Vec<Piece>,
    /// One past the last byte, once the last fragment (M = 0) came.
    end: Option<usize>,
    fragments: u32,
    /// Frame of the first fragment whose overlapping bytes differed from those held.
    conflict: Option<u64>,
}

impl Datagram {
    fn cost(&self) -> usize {
        ENTRY_COST + self.data.capacity() + self.pieces.capacity() * std::mem::size_of::<Piece>()
    }

    fn complete(&self) -> bool {
        let Some(end) = self.end else { return false };
        let mut reached = 0;
        for p in &self.pieces {
            if usize::from(p.start) > reached {
                return false;
            }
            reached = reached.max(p.end());
        }
        reached >= end
    }

    /// The payload bytes from offset 0 on, as far as they run without a hole.
    fn contiguous(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for p in &self.pieces {
            if usize::from(p.start) != out.len() {
                break;
            }
            let at = p.at as usize;
            out.extend_from_slice(
                self.data
                    .get(at..at + usize::from(p.len))
                    .unwrap_or_default(),
            );
        }
        out
    }

    /// Adds one fragment's bytes at `offset`, keeping what is held (first copy wins). Returns
    /// whether the overlapping bytes differed.
    fn insert(&mut self, offset: usize, bytes: &[u8]) -> Result<bool, Fault> {
        let end = offset + bytes.len();
        if end > MAX_DATAGRAM {
            return Err(Fault::TooBig);
        }
        let mut conflict = false;
        let mut cursor = offset;
        let mut new_pieces: Vec<(usize, usize)> = Vec::new();
        for p in &self.pieces {
            if cursor >= end {
                break;
            }
            let (ps, pe) = (usize::from(p.start), p.end());
            if pe <= cursor {
                continue;
            }
            if ps > cursor {
                new_pieces.push((cursor, ps.min(end)));
            }
            // Compare the overlap with what is held.
            let (os, oe) = (ps.max(cursor), pe.min(end));
            if os < oe {
                let held_at = p.at as usize + (os - ps);
                let held = self.data.get(held_at..held_at + (oe - os));
                let theirs = bytes.get(os - offset..oe - offset);
                conflict |= held != theirs;
            }
            cursor = cursor.max(pe);
        }
        if cursor < end {
            new_pieces.push((cursor, end));
        }
        if self.pieces.len() + new_pieces.len() > MAX_PIECES {
            return Err(Fault::TooManyPieces);
        }
        for (s, e) in new_pieces {
            let at = u32::try_from(self.data.len()).map_err(|_| Fault::TooBig)?;
            self.data
                .extend_from_slice(bytes.get(s - offset..e - offset).unwrap_or_default());
            let piece = Piece {
                start: u16::try_from(s).map_err(|_| Fault::TooBig)?,
                len: u16::try_from(e - s).map_err(|_| Fault::TooBig)?,
                at,
            };
            let i = self.pieces.partition_point(|p| usize::from(p.start) < s);
            self.pieces.insert(i, piece);
        }
        Ok(conflict)
    }

    /// The rebuilt IP packet: a plain header (IPv4 without options, IPv6 without extension
    /// headers) in front of the whole payload.
    fn rebuild(&self, key: &Key, payload: &[u8]) -> Vec<u8> {
        let (ttl, _) = self.head.unwrap_or((64, 0));
        let mut out = Vec::with_capacity(40 + payload.len());
        match (key.src, key.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let total = u16::try_from(20 + payload.len()).unwrap_or(u16::MAX);
                let id = (key.id as u16).to_be_bytes();
                out.extend_from_slice(&[0x45, 0]);
                out.extend_from_slice(&total.to_be_bytes());
                out.extend_from_slice(&[id[0], id[1], 0, 0, ttl, self.protocol, 0, 0]);
                out.extend_from_slice(&s.octets());
                out.extend_from_slice(&d.octets());
            }
            (s, d) => {
                let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
                out.extend_from_slice(&[0x60, 0, 0, 0]);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&[self.protocol, ttl]);
                for a in [s, d] {
                    out.extend_from_slice(&match a {
                        IpAddr::V6(a) => a.octets(),
                        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
                    });
                }
            }
        }
        out.extend_from_slice(payload);
        out
    }
}

/// Why a fragment could not be added to its datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    TooBig,
    TooManyPieces,
    Inconsistent,
}

/// Why a datagram was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaveUp {
    /// Its first fragment came [`TIMEOUT_NS`] ago.
    Timeout,
    /// The capture ended first.
    EndOfCapture,
    /// Held bytes or datagrams in progress reached their cap, and it was the oldest.
    Cap,
    /// Its fragments reach past [`MAX_DATAGRAM`] bytes or number more than [`MAX_PIECES`].
    TooBig,
    /// A last fragment contradicted its known end.
    Inconsistent,
}

impl GaveUp {
    pub const fn as_str(self) -> &'static str {
        match self {
            GaveUp::Timeout => "fragments missing after 30 s",
            GaveUp::EndOfCapture => "fragments missing at the end of the capture",
            GaveUp::Cap => "the reassembly cap was reached",
            GaveUp::TooBig => "its fragments reach past 65,535 bytes",
            GaveUp::Inconsistent => "its fragments disagree about where it ends",
        }
    }
}

/// A datagram rebuilt from its fragments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whole {
    /// The IP packet (for [`decode_reassembled`](super::decode_reassembled)).
    pub bytes: Vec<u8>,
    pub encap: Encap,
    pub fragments: u32,
    /// Frame of the first fragment whose overlapping bytes differed from the first copy's.
    pub conflict: Option<u64>,
}

impl Whole {
    pub fn packet(&self) -> Result<Packet<'_>, super::Skip> {
        decode_reassembled(&self.bytes, self.encap)
    }
}

/// A datagram given up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lost {
    pub why: GaveUp,
    /// Frame of its first fragment, and of its offset-0 fragment when that came.
    pub first_frame: u64,
    pub head_frame: Option<u64>,
    pub fragments: u32,
    /// Payload bytes seen, and the datagram's length when the last fragment told it.
    pub bytes_seen: usize,
    pub length: Option<usize>,
    pub conflict: Option<u64>,
    /// The offset-0 fragment's bytes as an IP packet, when it came: enough to find the flow
    /// by its ports.
    pub head: Option<Vec<u8>>,
    pub encap: Encap,
}

impl Lost {
    /// The packet made of what came from offset 0 on, if its transport header is there.
    pub fn packet(&self) -> Option<Packet<'_>> {
        let p = decode_reassembled(self.head.as_deref()?, self.encap).ok()?;
        matches!(p.transport, Transport::Tcp(_) | Transport::Udp(_)).then_some(p)
    }
}

/// What reassembly hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Whole(Whole),
    Lost(Lost),
}

/// Counts over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FragmentStats {
    pub fragments: u64,
    pub reassembled: u64,
    /// Datagrams given up, by any reason.
    pub lost: u64,
    /// Datagrams given up for a cap (held bytes, datagrams, size, pieces).
    pub capped: u64,
    pub conflicts: u64,
    /// Reassembled datagrams that were fragments again past [`MAX_NESTING`].
    pub too_nested: u64,
    /// Datagrams given up that could not be put on a connection: their first fragment never
    /// came or held no TCP/UDP header, or their connection was not open (the engine counts
    /// these).
    pub unattributed: u64,
    /// Peak of held bytes.
    pub peak_bytes: usize,
}

impl FragmentStats {
    pub fn add(&mut self, o: &FragmentStats) {
        self.fragments += o.fragments;
        self.reassembled += o.reassembled;
        self.lost += o.lost;
        self.capped += o.capped;
        self.conflicts += o.conflicts;
        self.too_nested += o.too_nested;
        self.unattributed += o.unattributed;
        self.peak_bytes = self.peak_bytes.max(o.peak_bytes);
    }
}

/// The datagrams in progress of one capture.
#[derive(Debug, Default)]
pub struct Reassembler {
    map: FxHashMap<Key, Datagram>,
    /// Keys by age.
    age: BTreeMap<u64, Key>,
    serial: u64,
    held: usize,
    /// The latest second of capture time seen by [`Reassembler::tick`].
    second: Option<i64>,
    pub stats: FragmentStats,
}

impl Reassembler {
    /// Whether any datagram is in progress (nothing to do for plain traffic otherwise).
    pub fn is_idle(&self) -> bool {
        self.map.is_empty()
    }

    /// Capture time reached `ts`: when it enters a new second, the datagrams whose first
    /// fragment is [`TIMEOUT_NS`] older are given up.
    pub fn tick(&mut self, ts: Timestamp, out: &mut dyn FnMut(Event)) {
        let second = ts.0.div_euclid(NS_PER_SEC);
        if self.second.is_some_and(|s| second <= s) {
            return;
        }
        self.second = Some(second);
        while let Some((_, key)) = self.age.first_key_value() {
            let key = *key;
            let expired = self
                .map
                .get(&key)
                .is_none_or(|d| ts.0.saturating_sub(d.first_ts.0) > TIMEOUT_NS);
            if !expired {
                break;
            }
            self.give_up(&key, GaveUp::Timeout, out);
        }
    }

    /// One fragment (`pkt.transport` is `frag`) of frame `frame`. Datagrams it completes, and
    /// those given up to make room, go to `out`; a completed datagram whose packet is a
    /// fragment again is reassembled again (up to [`MAX_NESTING`] levels).
    pub fn fragment(
        &mut self,
        pkt: &Packet<'_>,
        frag: &Fragment<'_>,
        frame: u64,
        ts: Timestamp,
        out: &mut dyn FnMut(Event),
    ) {
        let mut whole = self.add(pkt, frag, frame, ts, out);
        for _ in 0..MAX_NESTING {
            let Some(w) = whole.take() else { return };
            match w.packet() {
                Ok(inner) => match inner.transport {
                    Transport::Fragment(f) => {
                        whole = self.add(&inner, &f, frame, ts, out);
                        continue;
                    }
                    _ => {
                        self.stats.reassembled += 1;
                        out(Event::Whole(w));
                        return;
                    }
                },
                // Decoding it fails for the owner as well, which counts why.
                Err(_) => {
                    self.stats.reassembled += 1;
                    out(Event::Whole(w));
                    return;
                }
            }
        }
        if whole.is_some() {
            self.stats.too_nested += 1;
        }
    }

    /// End of the capture: every datagram in progress is given up, oldest first.
    pub fn finish(&mut self, out: &mut dyn FnMut(Event)) {
        while self.give_up_oldest(GaveUp::EndOfCapture, out) {}
    }

    fn add(
        &mut self,
        pkt: &Packet<'_>,
        frag: &Fragment<'_>,
        frame: u64,
        ts: Timestamp,
        out: &mut dyn FnMut(Event),
    ) -> Option<Whole> {
        self.stats.fragments += 1;
        let v4 = pkt.ip.version == 4;
        let key = Key {
            src: pkt.src,
            dst: pkt.dst,
            id: frag.id,
            protocol: if v4 { frag.protocol } else { 0 },
            network: pkt.encap.network(),
        };
        if !self.map.contains_key(&key) {
            while self.map.len() >= MAX_DATAGRAMS {
                if !self.give_up_oldest(GaveUp::Cap, out) {
                    break;
                }
            }
            self.serial += 1;
            self.age.insert(self.serial, key);
            self.held += ENTRY_COST;
            self.map.insert(
                key,
                Datagram {
                    serial: self.serial,
                    first_ts: ts,
                    first_frame: frame,
                    head: None,
                    protocol: frag.protocol,
                    encap: pkt.encap,
                    data: Vec::new(),
                    pieces: Vec::new(),
                    end: None,
                    fragments: 0,
                    conflict: None,
                },
            );
        }
        let d = self.map.get_mut(&key)?;
        let before = d.cost();
        let offset = usize::from(frag.offset);
        let result = add_to(d, frag, offset, frame, pkt);
        self.held += d.cost().saturating_sub(before);
        if let Err(fault) = result {
            let why = match fault {
                Fault::TooBig | Fault::TooManyPieces => GaveUp::TooBig,
                Fault::Inconsistent => GaveUp::Inconsistent,
            };
            self.give_up(&key, why, out);
            return None;
        }
        if d.complete() {
            let d = self.remove(&key)?;
            if d.conflict.is_some() {
                self.stats.conflicts += 1;
            }
            let payload = d.contiguous();
            let end = d.end.unwrap_or(payload.len()).min(payload.len());
            return Some(Whole {
                bytes: d.rebuild(&key, payload.get(..end).unwrap_or_default()),
                encap: d.encap,
                fragments: d.fragments,
                conflict: d.conflict,
            });
        }
        while self.held > MAX_HELD_BYTES {
            if !self.give_up_oldest(GaveUp::Cap, out) {
                break;
            }
        }
        self.stats.peak_bytes = self.stats.peak_bytes.max(self.held);
        None
    }

    fn remove(&mut self, key: &Key) -> Option<Datagram> {
        let d = self.map.remove(key)?;
        self.age.remove(&d.serial);
        self.held = self.held.saturating_sub(d.cost());
        Some(d)
    }

    fn give_up_oldest(&mut self, why: GaveUp, out: &mut dyn FnMut(Event)) -> bool {
        let Some((_, key)) = self.age.first_key_value() else {
            return false;
        };
        let key = *key;
        self.give_up(&key, why, out);
        true
    }

    fn give_up(&mut self, key: &Key, why: GaveUp, out: &mut dyn FnMut(Event)) {
        let Some(d) = self.remove(key) else {
            self.age.retain(|_, k| k != key);
            return;
        };
        self.stats.lost += 1;
        if matches!(why, GaveUp::Cap | GaveUp::TooBig) {
            self.stats.capped += 1;
        }
        if d.conflict.is_some() {
            self.stats.conflicts += 1;
        }
        let head = d.head.map(|_| d.rebuild(key, &d.contiguous()));
        out(Event::Lost(Lost {
            why,
            first_frame: d.first_frame,
            head_frame: d.head.map(|(_, f)| f),
            fragments: d.fragments,
            bytes_seen: d.pieces.iter().map(|p| usize::from(p.len)).sum(),
            length: d.end,
            conflict: d.conflict,
            head,
            encap: d.encap,
        }));
    }
}

/// Adds fragment `frag` (payload offset `offset`) to `d`.
fn add_to(
    d: &mut Datagram,
    frag: &Fragment<'_>,
    offset: usize,
    frame: u64,
    pkt: &Packet<'_>,
) -> Result<(), Fault> {
    d.fragments += 1;
    let end = offset + frag.payload.len();
    // A last fragment fixes the end; one that disagrees with it, or data past it, makes the
    // datagram inconsistent (RFC 791 gives no way to tell which is right).
    let known_end = d.end.or(d.pieces.last().map(Piece::end));
    if !frag.more && pkt.payload_missing == 0 {
        if d.end.is_some_and(|e| e != end) || known_end.is_some_and(|e| e > end) {
            return Err(Fault::Inconsistent);
        }
        d.end = Some(end);
    } else if d.end.is_some_and(|e| end > e) {
        return Err(Fault::Inconsistent);
    }
    if offset == 0 && d.head.is_none() {
        d.head = Some((pkt.ip.ttl, frame));
    }
    if d.insert(offset, frag.payload)? && d.conflict.is_none() {
        d.conflict = Some(frame);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
