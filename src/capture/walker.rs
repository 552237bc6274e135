//! capture::walker: reading a mapped capture in chunks, several at a time. Takes the bytes of
//! a plain capture and a byte range; gives the frames of the units that start in the range,
//! and a guess at where a unit starts when the walk of the chunk before has not ended yet.
//!
//! Guarantees: the guess is only ever a speed-up. [`Walker::continues`] says whether a chunk
//! walked from a guessed state was read as one walk from the start would have read it, so a
//! driver that walks again when it was not gets exactly the frames, numbers and messages of
//! one walk.
//!
//! Deliberately not done: deciding how to cut a capture into chunks or running the walks side
//! by side (the engine does), and walking compressed or streamed input, which has no offsets
//! to jump to.

use super::parser::{u32_at, Kind, Parser, Step};
use super::pcap::PcapLayout;
use super::{CaptureSummary, Frame, MAX_BLOCK_LEN, MAX_CAPLEN};
use crate::error::Error;
use std::path::Path;

/// A walk over part of an in-memory (mapped) capture, for reading it in chunks, several at a
/// time: the format state it reads units with (pcap layout; pcapng byte order and interfaces)
/// and what it found. A chunk is the units (records, blocks) that *start* in a byte range.
///
/// A chunk after the first can be walked before the walk of the chunks before it has ended:
/// it starts from a guessed state ([`Walker::template`], or the last state known) at a guessed
/// boundary ([`Walker::resync`]). The guess is only ever a speed-up: once the chunk before is
/// done, [`Walker::continues`] says whether the guess was right, and the driver walks the
/// chunk again from the true boundary and state when it was not — so a chunked read gives
/// exactly the frames, numbers and messages of one walk from the start.
#[derive(Debug, Clone)]
pub struct Walker<'p> {
    parser: Parser<'p>,
    /// The frame count this walk started from.
    base: u64,
}

/// Records checked in a row before a guessed boundary is believed.
const RESYNC_RUN: usize = 6;

/// pcap records whose timestamps lie further apart than this are not taken for neighbours
/// when guessing a boundary.
const RESYNC_MAX_GAP_SECS: u32 = 86_400;

impl<'p> Walker<'p> {
    /// A walker at the start of a capture; `path` names it in messages.
    pub fn new(path: &'p Path) -> Self {
        Walker {
            parser: Parser::new(path),
            base: 0,
        }
    }

    /// The state the leading units of `bytes` set (the pcap file header; a pcapng section
    /// header and the interface blocks that follow it), to guess the state of later chunks
    /// with. Its summary is empty. An error when `bytes` is not a capture.
    pub fn template(path: &'p Path, bytes: &[u8]) -> Result<Self, Error> {
        let mut w = Walker::new(path);
        let mut pos = 0usize;
        loop {
            let p = &mut w.parser;
            let leading = match p.kind {
                Kind::Start => true,
                Kind::PcapNg => {
                    let head = bytes.get(pos..pos.saturating_add(4));
                    head == Some(&[0x0a, 0x0d, 0x0d, 0x0a][..])
                        || u32_at(bytes, pos, p.big_endian) == Some(pcap_parser::IDB_MAGIC)
                }
                Kind::Pcap(_) | Kind::Stopped => false,
            };
            if !leading {
                break;
            }
            let rest = bytes.get(pos..).unwrap_or_default();
            match p.step(rest, true, &mut |_| {})? {
                Step::Advance(n) => pos = pos.saturating_add(n),
                Step::Need(_) | Step::Done => break,
            }
        }
        Ok(w.successor(0))
    }

    /// A walker that goes on from where this one ended: the same format state, an empty
    /// summary whose frame count starts at `frames` (its position is where [`Walker::walk`]
    /// starts).
    pub fn successor(&self, frames: u64) -> Self {
        let mut p = self.parser.clone();
        p.own_ts = false;
        p.leaned_on_last_ts = false;
        p.problems_left_out = 0;
        p.summary = CaptureSummary {
            format: p.summary.format,
            frames,
            ..CaptureSummary::default()
        };
        Walker {
            parser: p,
            base: frames,
        }
    }

    /// Walks the units that start in `from..until` (or until the walk stops), handing out
    /// their frames; returns the offset where the next unit starts. Frame numbers count on
    /// from the walker's frame count. At the end of `bytes` a cut unit is recorded as a
    /// truncation, as [`read`](super::read) does.
    pub fn walk<'a>(
        &mut self,
        bytes: &'a [u8],
        from: usize,
        until: usize,
        on_frame: &mut dyn FnMut(&Frame<'a>),
    ) -> Result<usize, Error> {
        let p = &mut self.parser;
        let mut pos = from;
        p.summary.bytes = from as u64;
        // A fresh walker reads the magic even of an empty input, to say it is not a capture.
        while pos < until || p.kind == Kind::Start {
            let rest = bytes.get(pos..).unwrap_or_default();
            match p.step(rest, true, on_frame)? {
                Step::Advance(n) => pos = pos.saturating_add(n),
                // At end of input the parser never asks for more; it records the cut instead.
                Step::Need(_) | Step::Done => break,
            }
        }
        Ok(pos)
    }

    /// The first offset in `from..until` where, in this walker's format state, a run of
    /// plausible records or blocks starts; `None` when there is none (or the format has no
    /// units yet). A guess, checked later by [`Walker::continues`].
    pub fn resync(&self, bytes: &[u8], from: usize, until: usize) -> Option<usize> {
        let until = until.min(bytes.len());
        match self.parser.kind {
            Kind::Pcap(layout) => (from..until).find(|&at| plausible_pcap_run(bytes, at, layout)),
            Kind::PcapNg => {
                let be = self.parser.big_endian;
                // Blocks are multiples of 4 bytes from the start of the file.
                (from.next_multiple_of(4)..until)
                    .step_by(4)
                    .find(|&at| plausible_pcapng_run(bytes, at, be))
            }
            Kind::Start | Kind::Stopped => None,
        }
    }

    /// Whether this walker, which started a chunk (at the right offset) from the guessed state
    /// `start`, read it as a walk going on from `before` (the true end of the chunks before)
    /// would have: same format state, and nothing it found depends on what it could not know —
    /// the frame numbers in a truncation message, the timestamp a Simple Packet Block inherits.
    /// (Problem messages name byte offsets, which it knows.)
    pub fn continues(&self, start: &Walker<'_>, before: &Walker<'_>) -> bool {
        let (a, b) = (&start.parser, &before.parser);
        let p = &self.parser;
        a.kind == b.kind
            && a.big_endian == b.big_endian
            && a.interfaces == b.interfaces
            && !p.leaned_on_last_ts
            && p.summary.truncated.is_none()
    }

    /// Whether the walk stopped for good (corruption or the end of a cut file).
    pub fn stopped(&self) -> bool {
        self.parser.kind == Kind::Stopped
    }

    /// What the walk found so far.
    pub fn summary(&self) -> &CaptureSummary {
        &self.parser.summary
    }

    /// Adds what `next`, the walk of the chunk that follows, found; takes on its state.
    pub fn absorb(&mut self, next: Walker<'p>) {
        let p = &mut self.parser;
        let n = next.parser;
        let walked = n.summary.frames.saturating_sub(next.base);
        for problem in n.summary.problems {
            p.problem(problem);
        }
        p.problems_left_out = p.problems_left_out.saturating_add(n.problems_left_out);
        if p.summary.truncated.is_none() {
            p.summary.truncated = n.summary.truncated;
        }
        p.summary.frames = p.summary.frames.saturating_add(walked);
        p.summary.bytes = n.summary.bytes;
        p.summary.format = p.summary.format.or(n.summary.format);
        p.kind = n.kind;
        p.big_endian = n.big_endian;
        p.interfaces = n.interfaces;
        p.interfaces_capped = n.interfaces_capped;
        p.last_ts = n.last_ts;
    }

    /// The summary of the whole walk.
    pub fn finish(self) -> CaptureSummary {
        self.parser.finish()
    }
}

/// Whether `RESYNC_RUN` pcap records in a row, starting at `at`, have sound headers: a
/// sub-second field below one second, an original length from 1 to [`MAX_CAPLEN`], a captured
/// length not above it, and timestamps within a day of each other. The run may end at the end
/// of the input.
fn plausible_pcap_run(bytes: &[u8], at: usize, layout: PcapLayout) -> bool {
    let be = layout.big_endian;
    let frac_limit: u32 = if layout.nanosecond {
        1_000_000_000
    } else {
        1_000_000
    };
    let mut pos = at;
    let mut first_secs = None;
    for _ in 0..RESYNC_RUN {
        if pos == bytes.len() {
            return true;
        }
        let fields = (|| {
            Some((
                u32_at(bytes, pos, be)?,
                u32_at(bytes, pos + 4, be)?,
                u32_at(bytes, pos + 8, be)?,
                u32_at(bytes, pos + 12, be)?,
            ))
        })();
        let Some((secs, frac, caplen, origlen)) = fields else {
            return false;
        };
        let near = first_secs.is_none_or(|f: u32| f.abs_diff(secs) <= RESYNC_MAX_GAP_SECS);
        // No packet is 0 bytes long on the wire, nor longer than MAX_CAPLEN in practice: the
        // first rule keeps runs of zeros (padding) from looking like records, the second the
        // fields of a real record read 4 or 8 bytes off (whose "original length" is packet
        // bytes).
        let sizes_ok = (1..=MAX_CAPLEN).contains(&origlen) && caplen <= origlen;
        if frac >= frac_limit || !sizes_ok || !near {
            return false;
        }
        first_secs.get_or_insert(secs);
        pos = pos
            .saturating_add(layout.record_header_len())
            .saturating_add(caplen as usize);
        if pos > bytes.len() {
            // A record cut by the end of the file.
            return true;
        }
    }
    true
}

/// Whether `RESYNC_RUN` pcapng blocks in a row, starting at `at`, look sound: a known block
/// type, a length that is a multiple of 4 within [`MAX_BLOCK_LEN`], and the same length in the
/// block's trailer. The run may end at the end of the input.
fn plausible_pcapng_run(bytes: &[u8], at: usize, big_endian: bool) -> bool {
    const KNOWN: [u32; 13] = [
        0x0a0d_0d0a, // section header
        1,           // interface description
        2,           // obsolete packet
        3,           // simple packet
        4,           // name resolution
        5,           // interface statistics
        6,           // enhanced packet
        7,           // IRIG timestamp
        8,           // ARINC 429
        9,           // systemd journal export
        0x0a,        // decryption secrets
        0x0bad,      // custom, copiable
        0x4000_0bad, // custom, not copiable
    ];
    let mut pos = at;
    for _ in 0..RESYNC_RUN {
        if pos == bytes.len() {
            return true;
        }
        let (Some(ty), Some(len)) = (
            u32_at(bytes, pos, big_endian),
            u32_at(bytes, pos + 4, big_endian),
        ) else {
            return false;
        };
        let len_ok = len >= 12 && len % 4 == 0 && (len as usize) <= MAX_BLOCK_LEN;
        if !len_ok || !KNOWN.contains(&ty) {
            return false;
        }
        let end = pos.saturating_add(len as usize);
        if end > bytes.len() {
            return true;
        }
        if u32_at(bytes, end - 4, big_endian) != Some(len) {
            return false;
        }
        pos = end;
    }
    true
}
