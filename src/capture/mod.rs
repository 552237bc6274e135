//! capture: a path, `-` or an in-memory buffer in; `Frame<'a>`s out, in file order.
//!
//! Takes a pcap (little- or big-endian, micro- or nanosecond, "modified"/Kuznetzov) or pcapng
//! capture (any number of sections and interfaces, either byte order per section), plain or
//! gzip-compressed (zstd and xz behind the `zstd` / `xz` features). Gives every captured frame
//! with a 1-based number, a nanosecond timestamp, the interface's link type and the captured
//! bytes. Plain files are memory-mapped and frames borrow from the map; stdin and compressed
//! inputs are streamed through one buffer that grows only to hold the largest block (capped at
//! [`MAX_BLOCK_LEN`]), so memory does not grow with the file.
//!
//! Guarantees: never panics on any input; a capture that ends in the middle of a record keeps
//! every frame before the cut and says so once in [`CaptureSummary::truncated`]; a malformed
//! pcapng block whose length is sound is skipped and listed in [`CaptureSummary::problems`].
//! Only a wrong magic, an empty input or an I/O failure before any byte is read is an
//! [`Error`].
//!
//! Deliberately not done: decoding link layers (that is `wire`), reading pcapng options other
//! than `if_tsresol` / `if_tsoffset`, honouring the pcap `thiszone` field (always 0 in practice;
//! Wireshark ignores it too), and reading other capture formats (snoop, NetMon, ERF).

use crate::error::Error;
use pcap_parser::pcapng::{Block, InterfaceDescriptionBlock};
use pcap_parser::{LegacyPcapBlock, PcapError};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where packets come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Path(PathBuf),
    Stdin,
}

impl Input {
    /// The name used in output (`capture` key) and in error messages: the path as given, or `-`.
    pub fn name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Stdin => "-".to_string(),
        }
    }
}

/// Capture time: nanoseconds since the Unix epoch (may be negative for pre-1970 captures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

/// One captured frame, borrowed from the mapped file or the read buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based frame number in this input, as Wireshark numbers them.
    pub number: u64,
    pub ts: Timestamp,
    /// LINKTYPE_* value of the interface the frame was captured on.
    pub link_type: u32,
    /// Length on the wire; `data.len()` is the captured length.
    pub orig_len: u32,
    pub data: &'a [u8],
    /// Byte offset of the frame's record or block in the (decompressed) capture.
    pub offset: u64,
}

/// Container format detected from the magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    PcapNg,
}

/// What reading one input found, besides frames.
#[derive(Debug, Clone, Default)]
pub struct CaptureSummary {
    pub format: Option<Format>,
    /// gzip / zstd / xz when the input was compressed.
    pub compression: Option<&'static str>,
    pub frames: u64,
    /// Bytes of the (decompressed) capture consumed.
    pub bytes: u64,
    /// Set when the capture ends in the middle of a block or record: what was cut, where.
    pub truncated: Option<String>,
    /// Blocks or records that could not be parsed and were skipped (with a reason each, capped).
    pub problems: Vec<String>,
}

/// Largest captured length accepted in a pcap record. Wireshark's limit for ordinary link types
/// (WTAP_MAX_PACKET_SIZE_STANDARD); a larger value means the record header is garbage, and as
/// pcap records carry no other framing, reading stops there.
pub const MAX_CAPLEN: u32 = 256 * 1024;

/// Largest pcapng block accepted. Also the most the streaming buffer grows to.
pub const MAX_BLOCK_LEN: usize = 64 * 1024 * 1024;

/// Initial size of the streaming buffer.
const INITIAL_BUFFER: usize = 1024 * 1024;

/// At most this many entries in [`CaptureSummary::problems`] (the last says how many were left
/// out).
pub const MAX_PROBLEMS: usize = 100;

/// Reads every frame of `input` in file order and hands each to `on_frame`.
///
/// Files are memory-mapped; `-` and compressed inputs are streamed through a bounded buffer.
/// A truncated capture keeps every frame before the cut and reports the cut in the summary.
pub fn read(input: &Input, on_frame: &mut dyn FnMut(&Frame<'_>)) -> Result<CaptureSummary, Error> {
    match input {
        Input::Stdin => {
            let stdin = std::io::stdin();
            let mut lock = stdin.lock();
            read_stream(Path::new("-"), &mut lock, on_frame)
        }
        Input::Path(path) => read_file(path, on_frame),
    }
}

/// Reads an in-memory capture (plain, or compressed as [`read`] accepts); `name` is used in
/// errors. Plain captures are parsed in place: frames borrow from `bytes`.
pub fn read_bytes(
    name: &str,
    bytes: &[u8],
    on_frame: &mut dyn FnMut(&Frame<'_>),
) -> Result<CaptureSummary, Error> {
    read_mapped(Path::new(name), bytes, on_frame)
}

fn read_file(path: &Path, on_frame: &mut dyn FnMut(&Frame<'_>)) -> Result<CaptureSummary, Error> {
    let open_err = |source| Error::Open {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(open_err)?;
    let meta = file.metadata().map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    // Pipes, FIFOs and character devices (`<(zcat x.pcap)`, /dev/stdin) report length 0 and
    // cannot be mapped: stream them.
    if !meta.is_file() {
        return read_stream(path, &mut file, on_frame);
    }
    // Mapping 0 bytes fails on some platforms; an empty file is not a capture anyway.
    if meta.len() == 0 {
        return Err(not_a_capture(path, "empty file".to_string(), ""));
    }
    match map_file(&file) {
        Ok(map) => read_mapped(path, &map, on_frame),
        // Some filesystems cannot be mapped; reading is slower but works everywhere.
        Err(_) => read_stream(path, &mut file, on_frame),
    }
}

/// Maps `input` when it is a plain (uncompressed) regular file, so that several workers can
/// each walk it with [`read_bytes`]; `None` when it must be streamed (stdin, pipes, compressed
/// or unmappable files) — [`read`] handles those.
pub fn map_plain(input: &Input) -> Result<Option<memmap2::Mmap>, Error> {
    let Input::Path(path) = input else {
        return Ok(None);
    };
    let file = std::fs::File::open(path).map_err(|source| Error::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let regular = file.metadata().is_ok_and(|m| m.is_file() && m.len() > 0);
    if !regular {
        return Ok(None);
    }
    match map_file(&file) {
        Ok(map) if Compression::sniff(&map).is_none() => Ok(Some(map)),
        _ => Ok(None),
    }
}

#[allow(unsafe_code)] // memmap2 has no safe constructor; with `prefetch`, the only unsafe in the crate.
fn map_file(file: &std::fs::File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the map is read-only and lives no longer than this read. If another process
    // truncates or rewrites the file while we read it, we may see changed bytes or take SIGBUS;
    // the parser tolerates any bytes, and the signal risk is the one ripgrep and every
    // mmap-based reader accept for read-only analysis of files the user points us at.
    unsafe { memmap2::Mmap::map(file) }
}

/// Asks the CPU to start loading the cache line holding `buf[at]`, if there is one. Walking a
/// capture is a chain of dependent loads (each record header says where the next one is),
/// and on a large file nearly every one misses the cache; hinting the next header while the
/// current frame is analysed overlaps the two. A hint only: it never faults, reads nothing
/// into the program and changes no result.
#[inline]
fn prefetch(buf: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(b) = buf.get(at) {
        // SAFETY: PREFETCHT0 has no architectural effect (no fault, no visible state); the
        // address is in bounds of `buf` anyway. SSE is part of the x86_64 baseline.
        #[allow(unsafe_code)]
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                std::ptr::from_ref(b).cast(),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (buf, at);
}

/// Whether `bytes` start like a gzip, zstd or xz stream (read by streaming, not in place).
pub fn is_compressed(bytes: &[u8]) -> bool {
    Compression::sniff(bytes).is_some()
}

/// Compression recognized by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    Gzip,
    Zstd,
    Xz,
}

impl Compression {
    fn sniff(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if head.starts_with(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) {
            Some(Compression::Xz)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
        }
    }

    /// Wraps `r` in a decoder, or says which feature would have one.
    fn decoder<'r>(self, path: &Path, r: Box<dyn Read + 'r>) -> Result<Box<dyn Read + 'r>, Error> {
        match self {
            // Multi-member: `cat a.pcap.gz b.gz` and pigz output are several gzip members.
            Compression::Gzip => Ok(Box::new(flate2::read::MultiGzDecoder::new(r))),
            #[cfg(feature = "zstd")]
            Compression::Zstd => zstd::stream::read::Decoder::new(r)
                .map(|d| Box::new(d) as Box<dyn Read + 'r>)
                .map_err(|source| Error::Read {
                    path: path.to_path_buf(),
                    source,
                }),
            #[cfg(feature = "xz")]
            Compression::Xz => Ok(Box::new(xz2::read::XzDecoder::new_multi_decoder(r))),
            #[allow(unreachable_patterns)] // reachable when a compression feature is off
            other => Err(Error::Unsupported {
                path: path.to_path_buf(),
                what: format!(
                    "{}-compressed capture; this build cannot decompress it (rebuild with \
                     `--features {}`, or decompress it first)",
                    other.name(),
                    other.name()
                ),
            }),
        }
    }
}

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
    /// truncation, as [`read`] does.
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

/// Parses `bytes` in place, or streams it through a decoder when it is compressed.
fn read_mapped(
    path: &Path,
    bytes: &[u8],
    on_frame: &mut dyn FnMut(&Frame<'_>),
) -> Result<CaptureSummary, Error> {
    if let Some(c) = Compression::sniff(bytes) {
        let mut decoded = c.decoder(path, Box::new(bytes))?;
        let mut summary = stream_plain(path, &mut decoded, on_frame)?;
        summary.compression = Some(c.name());
        return Ok(summary);
    }
    let mut walker = Walker::new(path);
    walker.walk(bytes, 0, bytes.len(), on_frame)?;
    Ok(walker.finish())
}

/// Streams a reader: sniffs compression from the first bytes, then parses.
fn read_stream(
    path: &Path,
    reader: &mut dyn Read,
    on_frame: &mut dyn FnMut(&Frame<'_>),
) -> Result<CaptureSummary, Error> {
    // Sniff without consuming: read up to 6 bytes, then put them back in front of the reader.
    let mut head = [0u8; 6];
    let mut got = 0usize;
    while let Some(space) = head.get_mut(got..).filter(|s| !s.is_empty()) {
        match reader.read(space) {
            Ok(0) => break,
            Ok(n) => got = got.saturating_add(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(Error::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
    let head = head.get(..got).unwrap_or_default();
    let chained: Box<dyn Read + '_> = Box::new(head.chain(reader));
    match Compression::sniff(head) {
        Some(c) => {
            let mut decoded = c.decoder(path, chained)?;
            let mut summary = stream_plain(path, &mut decoded, on_frame)?;
            summary.compression = Some(c.name());
            Ok(summary)
        }
        None => stream_plain(path, &mut { chained }, on_frame),
    }
}

/// Parses an uncompressed capture from a reader through one buffer that starts at
/// [`INITIAL_BUFFER`] and grows only to hold the largest block, up to [`MAX_BLOCK_LEN`].
fn stream_plain(
    path: &Path,
    reader: &mut dyn Read,
    on_frame: &mut dyn FnMut(&Frame<'_>),
) -> Result<CaptureSummary, Error> {
    let mut parser = Parser::new(path);
    let mut buf: Vec<u8> = Vec::new();
    let (mut start, mut end) = (0usize, 0usize);
    let mut read_total = 0u64;
    let mut eof = false;
    loop {
        let window = buf.get(start..end).unwrap_or_default();
        let need = match parser.step(window, eof, on_frame)? {
            Step::Advance(n) => {
                start = start.saturating_add(n).min(end);
                continue;
            }
            Step::Done => break,
            Step::Need(need) => need,
        };
        if need > MAX_BLOCK_LEN {
            parser.stop(format!(
                "{}: a block of {need} bytes is larger than the {} MiB limit; stopped reading \
                 there (corrupt length field?)",
                parser.position(),
                MAX_BLOCK_LEN >> 20
            ));
            break;
        }
        // Keep the unread tail at the front, then grow (never shrink) to hold `need` bytes.
        buf.copy_within(start..end, 0);
        end = end.saturating_sub(start);
        start = 0;
        let want = need
            .next_power_of_two()
            .clamp(INITIAL_BUFFER, MAX_BLOCK_LEN);
        if buf.len() < want {
            buf.resize(want, 0);
        }
        // Read until the step can go on: a live pipe (`tcpdump -w - | tlsmortem -`) delivers
        // frames as they come, so do not wait for a full buffer.
        while end < need && !eof {
            let Some(space) = buf.get_mut(end..) else {
                break;
            };
            match reader.read(space) {
                Ok(0) => eof = true,
                Ok(n) => {
                    end = end.saturating_add(n);
                    read_total = read_total.saturating_add(n as u64);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) if read_total == 0 => {
                    return Err(Error::Read {
                        path: path.to_path_buf(),
                        source,
                    })
                }
                Err(e) => {
                    // A damaged compressed stream or an I/O error after some data: keep what
                    // was read, like any other truncation.
                    let tail = end.saturating_sub(start);
                    parser.stop(format!(
                        "input ends with a read error after {read_total} bytes ({e}); \
                         {tail} unparsed bytes before it"
                    ));
                    parser.summary.bytes = parser.summary.bytes.saturating_add(tail as u64);
                    return Ok(parser.finish());
                }
            }
        }
    }
    Ok(parser.finish())
}

fn not_a_capture(path: &Path, what: String, hint: &'static str) -> Error {
    Error::NotACapture {
        path: path.to_path_buf(),
        what,
        hint,
    }
}

/// Describes the first bytes of a non-capture for the error, with a hint when they are
/// recognizable.
fn describe_magic(head: &[u8]) -> (String, &'static str) {
    let shown = head.get(..8).unwrap_or(head);
    let hex: Vec<String> = shown.iter().map(|b| format!("{b:02x}")).collect();
    let text: String = shown
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect();
    let what = format!("starts with {} \"{text}\"", hex.join(" "));
    let hint = if head.starts_with(b"PK\x03\x04") {
        "; it is a zip archive: unzip it first"
    } else if head.starts_with(b"BZh") {
        "; it is bzip2-compressed: decompress it first"
    } else if head.starts_with(b"snoop\0") || head.starts_with(b"GMBU") || head.starts_with(b"RTSS")
    {
        "; it looks like a snoop or NetMon capture: convert it with `editcap -F pcapng`"
    } else if shown
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        "; it looks like text (a capture exported as text, or an HTML error page?)"
    } else {
        ""
    };
    (what, hint)
}

/// What one parser step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A unit (file header, record, block) was handled: skip this many bytes.
    Advance(usize),
    /// This many bytes, counted from the start of the window, are needed to go on.
    /// Only returned when more input may come.
    Need(usize),
    /// Nothing more to read: end of input, truncation or corruption (already recorded).
    Done,
}

/// Layout of a pcap file, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PcapLayout {
    big_endian: bool,
    nanosecond: bool,
    /// Kuznetzov's "modified" pcap: 8 more bytes (ifindex, protocol, pkt_type, pad) per record.
    modified: bool,
    link_type: u32,
}

impl PcapLayout {
    fn record_header_len(self) -> usize {
        if self.modified {
            24
        } else {
            16
        }
    }
}

/// One pcapng interface (IDB) of the current section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Interface {
    link_type: u32,
    /// 0 means no limit.
    snaplen: u32,
    /// Timestamp units per second (if_tsresol).
    units_per_sec: u64,
    /// Seconds added to every timestamp (if_tsoffset).
    offset_secs: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Start,
    Pcap(PcapLayout),
    PcapNg,
    Stopped,
}

/// The format state machine. Each step looks at a window that starts at a unit boundary and
/// either handles one unit or says how many bytes it needs; drivers for mapped and streamed
/// input feed it.
#[derive(Debug, Clone)]
struct Parser<'p> {
    path: &'p Path,
    kind: Kind,
    /// pcapng: byte order of the current section.
    big_endian: bool,
    /// pcapng: interfaces of the current section, by interface id.
    interfaces: Vec<Interface>,
    /// Timestamp of the previous frame, for Simple Packet Blocks (which carry none).
    last_ts: Timestamp,
    /// This parser emitted a frame (so `last_ts` is its own).
    own_ts: bool,
    /// A Simple Packet Block took `last_ts` from before this parser's first frame.
    leaned_on_last_ts: bool,
    problems_left_out: u64,
    summary: CaptureSummary,
}

impl<'p> Parser<'p> {
    fn new(path: &'p Path) -> Parser<'p> {
        Parser {
            path,
            kind: Kind::Start,
            big_endian: false,
            interfaces: Vec::new(),
            last_ts: Timestamp(0),
            own_ts: false,
            leaned_on_last_ts: false,
            problems_left_out: 0,
            summary: CaptureSummary::default(),
        }
    }

    /// "byte offset N", where the next unit starts, for messages.
    fn position(&self) -> String {
        format!("byte offset {}", self.summary.bytes)
    }

    fn problem(&mut self, what: String) {
        if self.summary.problems.len() < MAX_PROBLEMS.saturating_sub(1) {
            self.summary.problems.push(what);
        } else {
            self.problems_left_out = self.problems_left_out.saturating_add(1);
        }
    }

    /// Records why reading ended early (once) and stops.
    fn stop(&mut self, why: String) {
        if self.summary.truncated.is_none() {
            self.summary.truncated = Some(why);
        }
        self.kind = Kind::Stopped;
    }

    /// The input ends inside a unit of which `present` bytes exist.
    fn cut(&mut self, why: String, present: usize) -> Step {
        self.stop(why);
        self.summary.bytes = self.summary.bytes.saturating_add(present as u64);
        Step::Done
    }

    fn advance(&mut self, n: usize) -> Step {
        self.summary.bytes = self.summary.bytes.saturating_add(n as u64);
        Step::Advance(n)
    }

    fn finish(mut self) -> CaptureSummary {
        if self.problems_left_out > 0 {
            self.summary.problems.push(format!(
                "{} more problems not listed",
                self.problems_left_out
            ));
        }
        self.summary
    }

    fn emit<'a>(
        &mut self,
        ts: Timestamp,
        link_type: u32,
        orig_len: u32,
        data: &'a [u8],
        on_frame: &mut dyn FnMut(&Frame<'a>),
    ) {
        self.summary.frames = self.summary.frames.saturating_add(1);
        self.last_ts = ts;
        self.own_ts = true;
        on_frame(&Frame {
            number: self.summary.frames,
            ts,
            link_type,
            orig_len,
            data,
            offset: self.summary.bytes,
        });
    }

    /// Handles one unit at the start of `buf`. `at_eof`: `buf` is all the input there is.
    fn step<'a>(
        &mut self,
        buf: &'a [u8],
        at_eof: bool,
        on_frame: &mut dyn FnMut(&Frame<'a>),
    ) -> Result<Step, Error> {
        match self.kind {
            Kind::Start => self.step_start(buf, at_eof),
            Kind::Pcap(layout) => Ok(self.step_pcap(layout, buf, at_eof, on_frame)),
            Kind::PcapNg => Ok(self.step_pcapng(buf, at_eof, on_frame)),
            Kind::Stopped => Ok(Step::Done),
        }
    }

    /// Magic bytes: pick the format, and for pcap read the 24-byte file header.
    fn step_start(&mut self, buf: &[u8], at_eof: bool) -> Result<Step, Error> {
        let Some(magic) = buf.first_chunk::<4>() else {
            if !at_eof {
                return Ok(Step::Need(4));
            }
            if buf.is_empty() {
                return Err(not_a_capture(self.path, "empty file".to_string(), ""));
            }
            let (what, _) = describe_magic(buf);
            return Err(not_a_capture(
                self.path,
                format!("only {} bytes; {what}", buf.len()),
                "",
            ));
        };
        // pcap magics as they appear in the file; "swapped" means big-endian fields.
        let (big_endian, nanosecond, modified) = match magic {
            [0x0a, 0x0d, 0x0d, 0x0a] => {
                // The SHB is an ordinary block for step_pcapng, which sets the byte order.
                self.summary.format = Some(Format::PcapNg);
                self.kind = Kind::PcapNg;
                return Ok(Step::Advance(0));
            }
            [0xd4, 0xc3, 0xb2, 0xa1] => (false, false, false),
            [0xa1, 0xb2, 0xc3, 0xd4] => (true, false, false),
            [0x4d, 0x3c, 0xb2, 0xa1] => (false, true, false),
            [0xa1, 0xb2, 0x3c, 0x4d] => (true, true, false),
            [0x34, 0xcd, 0xb2, 0xa1] => (false, false, true),
            [0xa1, 0xb2, 0xcd, 0x34] => (true, false, true),
            _ => {
                let (what, hint) = describe_magic(buf);
                return Err(not_a_capture(self.path, what, hint));
            }
        };
        self.summary.format = Some(Format::Pcap);
        let Some(header) = buf.first_chunk::<24>() else {
            if !at_eof {
                return Ok(Step::Need(24));
            }
            return Ok(self.cut(
                format!(
                    "file header: 24 bytes needed, only {} present; no frames",
                    buf.len()
                ),
                buf.len(),
            ));
        };
        // pcap-parser does not know the byte-swapped "modified" magic: present the header to
        // it as an ordinary big-endian one (same layout, only the record headers differ).
        let mut header = *header;
        if big_endian && modified {
            if let Some(m) = header.first_chunk_mut::<4>() {
                *m = [0xa1, 0xb2, 0xc3, 0xd4];
            }
        }
        let link_type = match pcap_parser::parse_pcap_header(&header) {
            // libpcap's LT_LINKTYPE(): the upper 16 bits may carry FCS-length flags.
            Ok((_, h)) => u32::from_ne_bytes(h.network.0.to_ne_bytes()) & 0xffff,
            Err(e) => {
                return Ok(self.cut(
                    format!("file header unreadable ({})", nom_reason(&e)),
                    buf.len(),
                ))
            }
        };
        self.kind = Kind::Pcap(PcapLayout {
            big_endian,
            nanosecond,
            modified,
            link_type,
        });
        Ok(self.advance(24))
    }

    /// One pcap record. pcap-parser's slice and streaming readers read every record as
    /// little-endian whatever the file header says, so we drive its per-record parsers
    /// (parse_pcap_frame / _be / _modified) ourselves, on a slice we know holds the whole
    /// record (so its "incomplete" can only mean a cut file, never "read more").
    fn step_pcap<'a>(
        &mut self,
        layout: PcapLayout,
        buf: &'a [u8],
        at_eof: bool,
        on_frame: &mut dyn FnMut(&Frame<'a>),
    ) -> Step {
        if buf.is_empty() {
            return if at_eof { Step::Done } else { Step::Need(1) };
        }
        let number = self.summary.frames.saturating_add(1);
        let hdr_len = layout.record_header_len();
        let Some(caplen) = u32_at(buf, 8, layout.big_endian).filter(|_| buf.len() >= hdr_len)
        else {
            if !at_eof {
                return Step::Need(hdr_len);
            }
            return self.cut(
                format!(
                    "frame {number} at {}: record header cut after {} of {hdr_len} bytes",
                    self.position(),
                    buf.len()
                ),
                buf.len(),
            );
        };
        if caplen > MAX_CAPLEN {
            self.stop(format!(
                "frame {number} at {}: record header says {caplen} captured bytes, more than \
                 the {} KiB any capture tool writes; corrupt record, stopped reading there",
                self.position(),
                MAX_CAPLEN / 1024
            ));
            return Step::Done;
        }
        // caplen <= MAX_CAPLEN, so this cannot overflow.
        let total = hdr_len.saturating_add(caplen as usize);
        // The next record's header (and the packet headers after it) will be wanted as soon
        // as this frame is handled: start fetching them now.
        prefetch(buf, total);
        prefetch(buf, total + 64);
        prefetch(buf, 2 * total);
        let Some(record) = buf.get(..total) else {
            if !at_eof {
                return Step::Need(total);
            }
            return self.cut(
                format!(
                    "frame {number} at {}: record header says {caplen} bytes, only {} present",
                    self.position(),
                    buf.len().saturating_sub(hdr_len)
                ),
                buf.len(),
            );
        };
        let parsed = match (layout.modified, layout.big_endian) {
            (false, false) => pcap_parser::parse_pcap_frame(record),
            (false, true) => pcap_parser::parse_pcap_frame_be(record),
            (true, false) => pcap_parser::parse_pcap_frame_modified(record),
            // No pcap-parser function for big-endian modified records: same fields, read here.
            (true, true) => Ok((&[][..], modified_be_record(record, caplen))),
        };
        let block = match parsed {
            Ok((_, block)) => block,
            Err(e) => {
                self.stop(format!(
                    "frame {number} at {}: record unreadable ({}); stopped reading there",
                    self.position(),
                    nom_reason(&e)
                ));
                return Step::Done;
            }
        };
        let frac_ns = if layout.nanosecond {
            i64::from(block.ts_usec)
        } else {
            i64::from(block.ts_usec).saturating_mul(1_000)
        };
        // Seconds are unsigned in the file, as libpcap and Wireshark read them.
        let ts = i64::from(block.ts_sec)
            .saturating_mul(1_000_000_000)
            .saturating_add(frac_ns);
        self.emit(
            Timestamp(ts),
            layout.link_type,
            block.origlen,
            block.data,
            on_frame,
        );
        self.advance(total)
    }

    /// One pcapng block. We check the block's length and presence ourselves, then hand exactly
    /// that block to pcap-parser's parse_block_le / parse_block_be, so a parse error means a
    /// malformed block (skipped, listed in problems) and never "read more".
    fn step_pcapng<'a>(
        &mut self,
        buf: &'a [u8],
        at_eof: bool,
        on_frame: &mut dyn FnMut(&Frame<'a>),
    ) -> Step {
        if buf.is_empty() {
            return if at_eof { Step::Done } else { Step::Need(1) };
        }
        // Type, length, and for an SHB the byte-order magic: 12 bytes, also the smallest block.
        let Some(head) = buf.first_chunk::<12>() else {
            if !at_eof {
                return Step::Need(12);
            }
            return self.cut(
                format!(
                    "block at {}: block header cut after {} of 12 bytes",
                    self.position(),
                    buf.len()
                ),
                buf.len(),
            );
        };
        let is_shb = head.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]);
        let big_endian = if is_shb {
            // A new section may switch byte order: the SHB's byte-order magic says which.
            match head.get(8..12) {
                Some([0x4d, 0x3c, 0x2b, 0x1a]) => false,
                Some([0x1a, 0x2b, 0x3c, 0x4d]) => true,
                _ => {
                    self.stop(format!(
                        "section header at {} has no valid byte-order magic; stopped reading there",
                        self.position()
                    ));
                    return Step::Done;
                }
            }
        } else {
            self.big_endian
        };
        let block_type = u32_at(buf, 0, big_endian).unwrap_or_default();
        let block_len = u32_at(buf, 4, big_endian).unwrap_or_default();
        if block_len < 12 || block_len % 4 != 0 {
            // Without a sound length there is no way to find the next block.
            self.stop(format!(
                "block at {} (type {block_type:#x}) says it is {block_len} bytes long, which is \
                 impossible (at least 12, a multiple of 4); corrupt, stopped reading there",
                self.position()
            ));
            return Step::Done;
        }
        let len = usize::try_from(block_len).unwrap_or(usize::MAX);
        if len > MAX_BLOCK_LEN {
            self.stop(format!(
                "block at {} (type {block_type:#x}) says it is {block_len} bytes long, more than \
                 the {} MiB limit; corrupt length field? stopped reading there",
                self.position(),
                MAX_BLOCK_LEN >> 20
            ));
            return Step::Done;
        }
        let Some(block) = buf.get(..len) else {
            if !at_eof {
                return Step::Need(len);
            }
            let number = self.summary.frames.saturating_add(1);
            return self.cut(
                format!(
                    "block at {} (type {block_type:#x}, before frame {number}): block header \
                     says {block_len} bytes, only {} present",
                    self.position(),
                    buf.len()
                ),
                buf.len(),
            );
        };
        if is_shb {
            // Each section starts with no interfaces (even if its SHB turns out malformed).
            self.big_endian = big_endian;
            self.interfaces.clear();
        }
        let parsed = if big_endian {
            pcap_parser::parse_block_be(block)
        } else {
            pcap_parser::parse_block_le(block)
        };
        match parsed {
            Ok((_, parsed)) => self.handle_block(parsed, block_type, on_frame),
            Err(e) => {
                let what = format!(
                    "block at {} (type {block_type:#x}, {block_len} bytes) is malformed ({}); \
                     skipped",
                    self.position(),
                    nom_reason(&e)
                );
                if block_type == pcap_parser::IDB_MAGIC {
                    // Keep interface ids in step with the file: later packets name them by
                    // position. Wireshark gives up here; we keep going with Ethernet.
                    self.interfaces.push(Interface {
                        link_type: 1,
                        snaplen: 0,
                        units_per_sec: 1_000_000,
                        offset_secs: 0,
                    });
                }
                self.problem(what);
            }
        }
        self.advance(len)
    }

    fn handle_block<'a>(
        &mut self,
        block: Block<'a>,
        block_type: u32,
        on_frame: &mut dyn FnMut(&Frame<'a>),
    ) {
        match block {
            Block::InterfaceDescription(idb) => {
                let interface = self.interface(&idb);
                self.interfaces.push(interface);
            }
            Block::EnhancedPacket(epb) => {
                let Some(iface) = self.packet_interface(epb.if_id, "enhanced packet") else {
                    return;
                };
                let caplen = usize::try_from(epb.caplen).unwrap_or(usize::MAX);
                // pcap-parser checked that the padded data holds caplen bytes.
                let data = epb.data.get(..caplen).unwrap_or(epb.data);
                let ts = iface.timestamp(epb.ts_high, epb.ts_low);
                self.emit(ts, iface.link_type, epb.origlen, data, on_frame);
            }
            Block::SimplePacket(spb) => {
                // An SPB belongs to interface 0 and carries no length but the original one:
                // captured = min(original, snaplen, what the block holds).
                let Some(iface) = self.packet_interface(0, "simple packet") else {
                    return;
                };
                let mut caplen = usize::try_from(spb.origlen).unwrap_or(usize::MAX);
                if iface.snaplen != 0 {
                    caplen = caplen.min(usize::try_from(iface.snaplen).unwrap_or(usize::MAX));
                }
                let data = spb.data.get(..caplen).unwrap_or(spb.data);
                // No timestamp in an SPB: reuse the previous frame's so time stays monotonic.
                self.leaned_on_last_ts |= !self.own_ts;
                let ts = self.last_ts;
                self.emit(ts, iface.link_type, spb.origlen, data, on_frame);
            }
            Block::Unknown(unknown) if block_type == OBSOLETE_PACKET_BLOCK => {
                self.obsolete_packet(unknown.data, on_frame);
            }
            // SHB state was set before parsing; name resolution, statistics, decryption
            // secrets, journal, process and custom blocks carry no frames.
            _ => {}
        }
    }

    fn interface(&mut self, idb: &InterfaceDescriptionBlock<'_>) -> Interface {
        let id = self.interfaces.len();
        let mut units_per_sec = 1_000_000;
        let mut offset_secs = 0i64;
        // Read the options ourselves: pcap-parser 0.17 reads if_tsoffset as little-endian in
        // big-endian sections and rejects every power-of-two if_tsresol.
        let mut seen_resol = false;
        let mut seen_offset = false;
        for opt in &idb.options {
            let value = opt.as_bytes().unwrap_or_default();
            match opt.code.0 {
                9 if !seen_resol => {
                    seen_resol = true;
                    match value.first().copied().and_then(ts_units_per_sec) {
                        Some(units) => units_per_sec = units,
                        None => self.problem(format!(
                            "interface {id}: if_tsresol {value:02x?} cannot be represented; \
                             assuming microseconds"
                        )),
                    }
                }
                14 if !seen_offset => {
                    seen_offset = true;
                    match value.first_chunk::<8>() {
                        Some(b) if self.big_endian => offset_secs = i64::from_be_bytes(*b),
                        Some(b) => offset_secs = i64::from_le_bytes(*b),
                        None => self.problem(format!(
                            "interface {id}: if_tsoffset is {} bytes, not 8; ignored",
                            value.len()
                        )),
                    }
                }
                _ => {}
            }
        }
        Interface {
            link_type: u32::from(u16::try_from(idb.linktype.0 & 0xffff).unwrap_or_default()),
            snaplen: idb.snaplen,
            units_per_sec,
            offset_secs,
        }
    }

    /// The interface a packet block names, or a problem when the section has no such interface.
    fn packet_interface(&mut self, id: u32, what: &str) -> Option<Interface> {
        let found = usize::try_from(id)
            .ok()
            .and_then(|i| self.interfaces.get(i))
            .copied();
        if found.is_none() {
            self.problem(format!(
                "{what} block at {} names interface {id}, but this section describes {}; skipped",
                self.position(),
                self.interfaces.len()
            ));
        }
        found
    }

    /// Obsolete Packet Block (type 2, pcapng drafts before EPB): interface id (u16), drops
    /// (u16), timestamp high and low, captured length, original length, data, options.
    fn obsolete_packet<'a>(&mut self, body: &'a [u8], on_frame: &mut dyn FnMut(&Frame<'a>)) {
        let be = self.big_endian;
        let fields = (|| {
            let if_id = u16_at(body, 0, be)?;
            let ts_high = u32_at(body, 4, be)?;
            let ts_low = u32_at(body, 8, be)?;
            let caplen = u32_at(body, 12, be)?;
            let orig_len = u32_at(body, 16, be)?;
            let end = 20usize.checked_add(usize::try_from(caplen).ok()?)?;
            let data = body.get(20..end)?;
            Some((if_id, ts_high, ts_low, orig_len, data))
        })();
        let Some((if_id, ts_high, ts_low, orig_len, data)) = fields else {
            self.problem(format!(
                "packet block at {} is malformed (captured length past the block end); skipped",
                self.position()
            ));
            return;
        };
        let Some(iface) = self.packet_interface(u32::from(if_id), "packet") else {
            return;
        };
        let ts = iface.timestamp(ts_high, ts_low);
        self.emit(ts, iface.link_type, orig_len, data, on_frame);
    }
}

/// Block type of the obsolete Packet Block.
const OBSOLETE_PACKET_BLOCK: u32 = 2;

impl Interface {
    /// Converts a 64-bit pcapng timestamp in this interface's units to epoch nanoseconds,
    /// saturating at the ends of the `i64` range.
    fn timestamp(&self, high: u32, low: u32) -> Timestamp {
        let ticks = (u64::from(high) << 32) | u64::from(low);
        // u64 ticks * 10^9 fits in i128 (< 2^94); units_per_sec is never 0.
        let ns = i128::from(ticks) * 1_000_000_000 / i128::from(self.units_per_sec.max(1))
            + i128::from(self.offset_secs) * 1_000_000_000;
        Timestamp(i64::try_from(ns).unwrap_or(if ns < 0 { i64::MIN } else { i64::MAX }))
    }
}

/// if_tsresol: high bit clear, 10^-n seconds; high bit set, 2^-n. `None` when the units per
/// second do not fit in a u64.
fn ts_units_per_sec(resol: u8) -> Option<u64> {
    let n = u32::from(resol & 0x7f);
    if resol & 0x80 == 0 {
        10u64.checked_pow(n)
    } else {
        1u64.checked_shl(n).filter(|_| n < 64)
    }
}

fn u32_at(buf: &[u8], offset: usize, big_endian: bool) -> Option<u32> {
    let bytes = *buf.get(offset..)?.first_chunk::<4>()?;
    Some(if big_endian {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    })
}

fn u16_at(buf: &[u8], offset: usize, big_endian: bool) -> Option<u16> {
    let bytes = *buf.get(offset..)?.first_chunk::<2>()?;
    Some(if big_endian {
        u16::from_be_bytes(bytes)
    } else {
        u16::from_le_bytes(bytes)
    })
}

/// A big-endian "modified" pcap record (24-byte header); `record` holds header and data.
fn modified_be_record(record: &[u8], caplen: u32) -> LegacyPcapBlock<'_> {
    LegacyPcapBlock {
        ts_sec: u32_at(record, 0, true).unwrap_or_default(),
        ts_usec: u32_at(record, 4, true).unwrap_or_default(),
        caplen,
        origlen: u32_at(record, 12, true).unwrap_or_default(),
        data: record.get(24..).unwrap_or_default(),
    }
}

/// A short reason for a pcap-parser error, without dumping the input it carries.
fn nom_reason(e: &pcap_parser::nom::Err<PcapError<&[u8]>>) -> String {
    match e {
        pcap_parser::nom::Err::Incomplete(_) => "a field runs past the end of the block".into(),
        pcap_parser::nom::Err::Error(pe) | pcap_parser::nom::Err::Failure(pe) => match pe {
            PcapError::NomError(_, kind) => format!("{} check failed", kind.description()),
            PcapError::HeaderNotRecognized => "header not recognized".into(),
            other => format!("{:?}", other.to_owned_vec()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A frame copied out of the callback.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Got {
        number: u64,
        ts: i64,
        link_type: u32,
        orig_len: u32,
        data: Vec<u8>,
    }

    fn collect(bytes: &[u8]) -> (Result<CaptureSummary, Error>, Vec<Got>) {
        let mut got = Vec::new();
        let result = read_bytes("test", bytes, &mut |f| got.push(copy(f)));
        (result, got)
    }

    fn copy(f: &Frame<'_>) -> Got {
        Got {
            number: f.number,
            ts: f.ts.0,
            link_type: f.link_type,
            orig_len: f.orig_len,
            data: f.data.to_vec(),
        }
    }

    /// Streams `bytes` through a reader that hands out at most `chunk` bytes per read.
    fn collect_streamed(bytes: &[u8], chunk: usize) -> (Result<CaptureSummary, Error>, Vec<Got>) {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(self.1).min(out.len());
                let (now, later) = self.0.split_at(n);
                out[..n].copy_from_slice(now);
                self.0 = later;
                Ok(n)
            }
        }
        let mut got = Vec::new();
        let result = read_stream(Path::new("test"), &mut Trickle(bytes, chunk), &mut |f| {
            got.push(copy(f))
        });
        (result, got)
    }

    fn put16(v: &mut Vec<u8>, x: u16, be: bool) {
        v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
    }

    fn put32(v: &mut Vec<u8>, x: u32, be: bool) {
        v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
    }

    #[derive(Clone, Copy)]
    struct PcapKind {
        be: bool,
        nano: bool,
        modified: bool,
    }

    const LE_MICRO: PcapKind = PcapKind {
        be: false,
        nano: false,
        modified: false,
    };

    /// A pcap file; each record is (seconds, fraction, original length, data).
    fn pcap(kind: PcapKind, link_type: u32, records: &[(u32, u32, u32, &[u8])]) -> Vec<u8> {
        let magic = match (kind.modified, kind.nano) {
            (true, _) => 0xa1b2_cd34,
            (false, true) => 0xa1b2_3c4d,
            (false, false) => 0xa1b2_c3d4,
        };
        let mut v = Vec::new();
        put32(&mut v, magic, kind.be);
        put16(&mut v, 2, kind.be);
        put16(&mut v, 4, kind.be);
        put32(&mut v, 0, kind.be); // thiszone
        put32(&mut v, 0, kind.be); // sigfigs
        put32(&mut v, 65535, kind.be);
        put32(&mut v, link_type, kind.be);
        for &(sec, frac, orig_len, data) in records {
            put32(&mut v, sec, kind.be);
            put32(&mut v, frac, kind.be);
            put32(&mut v, data.len() as u32, kind.be);
            put32(&mut v, orig_len, kind.be);
            if kind.modified {
                v.extend_from_slice(&[0, 0, 0, 7, 0x08, 0x00, 0, 0]); // ifindex, proto, type
            }
            v.extend_from_slice(data);
        }
        v
    }

    fn pad4(v: &mut Vec<u8>) {
        while v.len() % 4 != 0 {
            v.push(0);
        }
    }

    fn block(be: bool, block_type: u32, body: &[u8]) -> Vec<u8> {
        let mut body = body.to_vec();
        pad4(&mut body);
        let len = 12 + body.len() as u32;
        let mut v = Vec::new();
        put32(&mut v, block_type, be);
        put32(&mut v, len, be);
        v.extend_from_slice(&body);
        put32(&mut v, len, be);
        v
    }

    fn shb(be: bool) -> Vec<u8> {
        let mut b = Vec::new();
        put32(&mut b, 0x1a2b_3c4d, be);
        put16(&mut b, 1, be);
        put16(&mut b, 0, be);
        b.extend_from_slice(&[0xff; 8]); // section length: unknown
        block(be, 0x0a0d_0d0a, &b)
    }

    fn idb(be: bool, link_type: u16, snaplen: u32, options: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut b = Vec::new();
        put16(&mut b, link_type, be);
        put16(&mut b, 0, be);
        put32(&mut b, snaplen, be);
        for (code, value) in options {
            put16(&mut b, *code, be);
            put16(&mut b, value.len() as u16, be);
            b.extend_from_slice(value);
            pad4(&mut b);
        }
        if !options.is_empty() {
            b.extend_from_slice(&[0; 4]); // opt_endofopt
        }
        block(be, 1, &b)
    }

    fn epb(be: bool, if_id: u32, ticks: u64, orig_len: u32, data: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        put32(&mut b, if_id, be);
        put32(&mut b, (ticks >> 32) as u32, be);
        put32(&mut b, ticks as u32, be);
        put32(&mut b, data.len() as u32, be);
        put32(&mut b, orig_len, be);
        b.extend_from_slice(data);
        block(be, 6, &b)
    }

    fn spb(be: bool, orig_len: u32, data: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        put32(&mut b, orig_len, be);
        b.extend_from_slice(data);
        block(be, 3, &b)
    }

    fn obsolete_pb(be: bool, if_id: u16, ticks: u64, data: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        put16(&mut b, if_id, be);
        put16(&mut b, 0, be); // drops
        put32(&mut b, (ticks >> 32) as u32, be);
        put32(&mut b, ticks as u32, be);
        put32(&mut b, data.len() as u32, be);
        put32(&mut b, data.len() as u32, be);
        b.extend_from_slice(data);
        block(be, 2, &b)
    }

    const EPB_NS_TICKS: u64 = 1_700_000_000_123_456_789;
    /// 1_700_000_000.5 s in 2^-20 s units.
    const POW2_TICKS: u64 = (1_700_000_000u64 << 20) + (1 << 19);

    /// Two sections: little-endian with two interfaces (Ethernet at 10^-9 s, raw IP at 2^-20 s
    /// with a 100 s offset, snaplen 4 on interface 0), then big-endian with one Linux SLL
    /// interface at the default microseconds and a -10 s offset.
    fn two_section_pcapng() -> Vec<u8> {
        let mut v = shb(false);
        v.extend(idb(false, 1, 4, &[(9, vec![9])]));
        v.extend(idb(
            false,
            101,
            65535,
            &[(9, vec![0x80 | 20]), (14, 100i64.to_le_bytes().to_vec())],
        ));
        v.extend(epb(false, 0, EPB_NS_TICKS, 60, &[1, 2, 3, 4, 5]));
        v.extend(epb(false, 1, POW2_TICKS, 3, &[6, 7, 8]));
        v.extend(block(false, 0x99, &[0xde, 0xad, 0xbe, 0xef])); // unknown block type
        v.extend(spb(false, 6, &[9, 9, 9, 9, 9, 9]));
        v.extend(obsolete_pb(false, 1, POW2_TICKS + (1 << 20), &[0xaa, 0xbb]));
        v.extend(shb(true));
        v.extend(idb(true, 113, 0, &[(14, (-10i64).to_be_bytes().to_vec())]));
        v.extend(block(true, 0x0000_000a, &[0; 16])); // decryption secrets: skipped
        v.extend(epb(
            true,
            0,
            1_000_000_000_000_001,
            4,
            &[0xc0, 0xff, 0xee, 0x00],
        ));
        v.extend(epb(true, 1, 5, 1, &[0x01])); // interface 1 belonged to the first section
        v
    }

    fn two_section_expected() -> Vec<Got> {
        vec![
            Got {
                number: 1,
                ts: 1_700_000_000_123_456_789,
                link_type: 1,
                orig_len: 60,
                data: vec![1, 2, 3, 4, 5],
            },
            Got {
                number: 2,
                ts: 1_700_000_100_500_000_000,
                link_type: 101,
                orig_len: 3,
                data: vec![6, 7, 8],
            },
            Got {
                number: 3,
                ts: 1_700_000_100_500_000_000, // SPB: previous frame's time
                link_type: 1,
                orig_len: 6,
                data: vec![9, 9, 9, 9], // min(orig 6, snaplen 4, block 8)
            },
            Got {
                number: 4,
                ts: 1_700_000_101_500_000_000,
                link_type: 101,
                orig_len: 2,
                data: vec![0xaa, 0xbb],
            },
            Got {
                number: 5,
                ts: 1_000_000_000_000_001_000 - 10_000_000_000,
                link_type: 113,
                orig_len: 4,
                data: vec![0xc0, 0xff, 0xee, 0x00],
            },
        ]
    }

    fn two_record_pcap() -> Vec<u8> {
        pcap(
            LE_MICRO,
            1,
            &[
                (1_600_000_000, 123_456, 100, &[1, 2, 3]),
                (1_600_000_001, 999_999, 4, &[4, 5, 6, 7]),
            ],
        )
    }

    #[test]
    fn little_endian_microsecond_pcap_yields_every_frame_in_order() {
        let (result, got) = collect(&two_record_pcap());
        let summary = result.unwrap();
        assert_eq!(summary.format, Some(Format::Pcap));
        assert_eq!(summary.compression, None);
        assert_eq!(summary.frames, 2);
        assert_eq!(summary.bytes, 24 + 16 + 3 + 16 + 4);
        assert_eq!(summary.truncated, None);
        assert!(summary.problems.is_empty());
        assert_eq!(
            got,
            vec![
                Got {
                    number: 1,
                    ts: 1_600_000_000_123_456_000,
                    link_type: 1,
                    orig_len: 100,
                    data: vec![1, 2, 3]
                },
                Got {
                    number: 2,
                    ts: 1_600_000_001_999_999_000,
                    link_type: 1,
                    orig_len: 4,
                    data: vec![4, 5, 6, 7]
                },
            ]
        );
    }

    #[test]
    fn big_endian_nanosecond_pcap_yields_exact_timestamps() {
        let kind = PcapKind {
            be: true,
            nano: true,
            modified: false,
        };
        let bytes = pcap(kind, 105, &[(1_600_000_000, 123_456_789, 2, &[0xab, 0xcd])]);
        let (result, got) = collect(&bytes);
        assert_eq!(result.unwrap().frames, 1);
        assert_eq!(
            got,
            vec![Got {
                number: 1,
                ts: 1_600_000_000_123_456_789,
                link_type: 105,
                orig_len: 2,
                data: vec![0xab, 0xcd]
            }]
        );
    }

    #[test]
    fn every_pcap_byte_order_and_resolution_decodes_the_same_frames() {
        for be in [false, true] {
            for (nano, modified) in [(false, false), (true, false), (false, true)] {
                let kind = PcapKind { be, nano, modified };
                let frac = if nano { 7_000 } else { 7 };
                let bytes = pcap(kind, 113, &[(42, frac, 9, &[1, 2]), (43, 0, 1, &[3])]);
                let (result, got) = collect(&bytes);
                let summary = result.unwrap();
                assert_eq!(summary.frames, 2, "be={be} nano={nano} modified={modified}");
                assert_eq!(got[0].ts, 42_000_007_000);
                assert_eq!(got[0].orig_len, 9);
                assert_eq!(got[0].data, vec![1, 2]);
                assert_eq!(got[1].ts, 43_000_000_000);
                assert_eq!(got[1].data, vec![3]);
                assert!(got.iter().all(|g| g.link_type == 113));
            }
        }
    }

    #[test]
    fn pcap_link_type_drops_the_fcs_flag_bits() {
        let bytes = pcap(LE_MICRO, 0x0400_0001, &[(1, 0, 1, &[0])]);
        let (_, got) = collect(&bytes);
        assert_eq!(got[0].link_type, 1);
    }

    #[test]
    fn pcapng_with_two_sections_of_different_byte_order_yields_exact_frames() {
        let (result, got) = collect(&two_section_pcapng());
        let summary = result.unwrap();
        assert_eq!(got, two_section_expected());
        assert_eq!(summary.format, Some(Format::PcapNg));
        assert_eq!(summary.frames, 5);
        assert_eq!(summary.truncated, None);
        assert_eq!(summary.bytes, two_section_pcapng().len() as u64);
        assert_eq!(summary.problems.len(), 1, "{:?}", summary.problems);
        assert!(summary.problems[0].contains("interface 1"));
    }

    #[test]
    fn pcapng_frames_borrow_from_the_input_without_copying() {
        let bytes = two_section_pcapng();
        let range = bytes.as_ptr_range();
        let mut inside = 0;
        read_bytes("test", &bytes, &mut |f| {
            assert!(range.contains(&f.data.as_ptr()));
            inside += 1;
        })
        .unwrap();
        assert_eq!(inside, 5);
    }

    #[test]
    fn streamed_input_in_tiny_reads_matches_the_mapped_parse() {
        for bytes in [two_section_pcapng(), two_record_pcap()] {
            for chunk in [1, 3, 7, 64, 1 << 20] {
                let (mapped, want) = collect(&bytes);
                let (streamed, got) = collect_streamed(&bytes, chunk);
                assert_eq!(got, want, "chunk {chunk}");
                assert_eq!(streamed.unwrap().bytes, mapped.unwrap().bytes);
            }
        }
    }

    #[test]
    fn pcapng_block_larger_than_the_initial_buffer_is_streamed_and_skipped() {
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, 0, &[]));
        bytes.extend(block(false, 0x99, &vec![0x55; 3 * INITIAL_BUFFER]));
        bytes.extend(epb(false, 0, 1, 1, &[7]));
        let (result, got) = collect_streamed(&bytes, 1 << 16);
        let summary = result.unwrap();
        assert_eq!(summary.truncated, None);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].data, vec![7]);
    }

    #[test]
    fn pcapng_block_length_over_the_cap_stops_with_frames_before_kept() {
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, 0, &[]));
        bytes.extend(epb(false, 0, 1, 1, &[7]));
        let mut huge = Vec::new();
        put32(&mut huge, 0x99, false);
        put32(&mut huge, 100 << 20, false);
        put32(&mut huge, 0, false);
        bytes.extend(huge);
        for (result, got) in [collect(&bytes), collect_streamed(&bytes, 4096)] {
            let summary = result.unwrap();
            assert_eq!(got.len(), 1);
            assert!(summary.truncated.unwrap().contains("MiB limit"));
        }
    }

    #[test]
    fn pcapng_block_length_not_a_multiple_of_four_is_corruption() {
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, 0, &[]));
        bytes.extend(epb(false, 0, 1, 1, &[7]));
        let mut bad = epb(false, 0, 2, 1, &[8]);
        bad[4] = 0x21;
        bytes.extend(bad);
        let (result, got) = collect(&bytes);
        assert_eq!(got.len(), 1);
        assert!(result.unwrap().truncated.unwrap().contains("impossible"));
    }

    #[test]
    fn malformed_enhanced_packet_block_is_skipped_and_reading_goes_on() {
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, 0, &[]));
        let mut bad = epb(false, 0, 1, 4, &[1, 2, 3, 4]);
        bad[20] = 200; // captured length 200 in a 36-byte block
        bytes.extend(bad);
        bytes.extend(epb(false, 0, 2, 1, &[9]));
        let (result, got) = collect(&bytes);
        let summary = result.unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].number, 1);
        assert_eq!(got[0].data, vec![9]);
        assert_eq!(summary.truncated, None);
        assert_eq!(summary.problems.len(), 1);
        assert!(summary.problems[0].contains("malformed"));
    }

    #[test]
    fn problems_list_is_capped() {
        let mut bytes = shb(false);
        for _ in 0..250 {
            bytes.extend(epb(false, 3, 1, 1, &[1])); // no such interface
        }
        let (result, got) = collect(&bytes);
        let summary = result.unwrap();
        assert!(got.is_empty());
        assert_eq!(summary.problems.len(), MAX_PROBLEMS);
        assert_eq!(
            summary.problems.last().unwrap(),
            "151 more problems not listed"
        );
    }

    #[test]
    fn pcap_cut_in_a_record_header_keeps_the_frames_before() {
        let full = two_record_pcap();
        let cut = &full[..24 + 16 + 3 + 10];
        let (result, got) = collect(cut);
        let summary = result.unwrap();
        assert_eq!(got.len(), 1);
        let why = summary.truncated.unwrap();
        assert!(why.contains("frame 2"), "{why}");
        assert!(
            why.contains("record header cut after 10 of 16 bytes"),
            "{why}"
        );
        assert_eq!(summary.bytes, cut.len() as u64);
    }

    #[test]
    fn pcap_cut_in_a_record_body_keeps_the_frames_before() {
        let full = two_record_pcap();
        let (result, got) = collect(&full[..full.len() - 1]);
        let summary = result.unwrap();
        assert_eq!(got.len(), 1);
        let why = summary.truncated.unwrap();
        assert!(why.contains("frame 2"), "{why}");
        assert!(why.contains("says 4 bytes, only 3 present"), "{why}");
    }

    #[test]
    fn pcap_record_with_an_absurd_captured_length_stops_reading() {
        let mut bytes = two_record_pcap();
        let second = 24 + 16 + 3;
        bytes[second + 8..second + 12].copy_from_slice(&300_000u32.to_le_bytes());
        let (result, got) = collect(&bytes);
        let summary = result.unwrap();
        assert_eq!(got.len(), 1);
        let why = summary.truncated.unwrap();
        assert!(why.contains("300000 captured bytes"), "{why}");
        assert!(why.contains("corrupt"), "{why}");
    }

    #[test]
    fn pcap_with_only_part_of_the_file_header_is_truncated_not_an_error() {
        let (result, got) = collect(&two_record_pcap()[..10]);
        let summary = result.unwrap();
        assert!(got.is_empty());
        assert_eq!(summary.format, Some(Format::Pcap));
        assert!(summary.truncated.unwrap().contains("file header"));
    }

    #[test]
    fn garbage_magic_is_not_a_capture() {
        let (result, got) = collect(b"<!DOCTYPE html><html>");
        assert!(got.is_empty());
        match result {
            Err(Error::NotACapture { what, hint, .. }) => {
                assert!(what.contains("3c 21 44 4f"), "{what}");
                assert!(hint.contains("text"), "{hint}");
            }
            other => panic!("expected NotACapture, got {other:?}"),
        }
        match collect(&[0x00, 0x01, 0x02, 0x03, 0x04]).0 {
            Err(Error::NotACapture { hint, .. }) => assert_eq!(hint, ""),
            other => panic!("expected NotACapture, got {other:?}"),
        }
    }

    #[test]
    fn empty_input_is_not_a_capture() {
        for (result, _) in [collect(&[]), collect_streamed(&[], 1)] {
            match result {
                Err(Error::NotACapture { what, .. }) => assert_eq!(what, "empty file"),
                other => panic!("expected NotACapture, got {other:?}"),
            }
        }
    }

    #[test]
    fn empty_file_on_disk_is_not_a_capture() {
        let path =
            std::env::temp_dir().join(format!("tlsmortem-empty-{}.pcap", std::process::id()));
        std::fs::write(&path, b"").unwrap();
        let result = read(&Input::Path(path.clone()), &mut |_| {});
        std::fs::remove_file(&path).unwrap();
        assert!(
            matches!(result, Err(Error::NotACapture { .. })),
            "{result:?}"
        );
    }

    #[test]
    fn file_on_disk_is_mapped_and_read() {
        let path =
            std::env::temp_dir().join(format!("tlsmortem-two-{}.pcapng", std::process::id()));
        std::fs::write(&path, two_section_pcapng()).unwrap();
        let mut got = Vec::new();
        let result = read(&Input::Path(path.clone()), &mut |f| got.push(copy(f)));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(result.unwrap().frames, 5);
        assert_eq!(got, two_section_expected());
    }

    #[test]
    fn missing_file_is_an_open_error() {
        let result = read(&Input::Path("/nonexistent/x.pcap".into()), &mut |_| {});
        assert!(matches!(result, Err(Error::Open { .. })), "{result:?}");
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn gzip_compressed_pcap_is_decompressed_while_streaming() {
        let plain = two_section_pcapng();
        let (result, got) = collect(&gzip(&plain));
        let summary = result.unwrap();
        assert_eq!(summary.compression, Some("gzip"));
        assert_eq!(summary.bytes, plain.len() as u64);
        assert_eq!(got, two_section_expected());
        let (streamed, got) = collect_streamed(&gzip(&plain), 5);
        assert_eq!(streamed.unwrap().compression, Some("gzip"));
        assert_eq!(got, two_section_expected());
    }

    #[test]
    fn concatenated_gzip_members_are_read_as_one_capture() {
        let plain = two_record_pcap();
        let (a, b) = plain.split_at(30);
        let mut both = gzip(a);
        both.extend(gzip(b));
        let (result, got) = collect(&both);
        assert_eq!(result.unwrap().frames, 2);
        assert_eq!(got[1].data, vec![4, 5, 6, 7]);
    }

    #[test]
    fn cut_gzip_stream_keeps_the_frames_before_the_cut() {
        let mut plain = two_record_pcap();
        for _ in 0..200 {
            plain.extend_from_within(24..24 + 16 + 3);
        }
        let gz = gzip(&plain);
        let (result, got) = collect(&gz[..gz.len() * 3 / 4]);
        let summary = result.unwrap();
        assert!(summary.truncated.is_some());
        assert!(!got.is_empty());
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, g)| g.number == i as u64 + 1));
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_compressed_pcapng_is_decompressed_while_streaming() {
        let packed = zstd::encode_all(&two_section_pcapng()[..], 3).unwrap();
        let (result, got) = collect(&packed);
        assert_eq!(result.unwrap().compression, Some("zstd"));
        assert_eq!(got, two_section_expected());
    }

    #[cfg(feature = "xz")]
    #[test]
    fn xz_compressed_pcapng_is_decompressed_while_streaming() {
        let mut enc = xz2::write::XzEncoder::new(Vec::new(), 6);
        enc.write_all(&two_section_pcapng()).unwrap();
        let (result, got) = collect(&enc.finish().unwrap());
        assert_eq!(result.unwrap().compression, Some("xz"));
        assert_eq!(got, two_section_expected());
    }

    #[cfg(not(feature = "zstd"))]
    #[test]
    fn zstd_input_without_the_feature_names_the_feature() {
        match collect(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]).0 {
            Err(Error::Unsupported { what, .. }) => assert!(what.contains("--features zstd")),
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    #[cfg(not(feature = "xz"))]
    #[test]
    fn xz_input_without_the_feature_names_the_feature() {
        match collect(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0]).0 {
            Err(Error::Unsupported { what, .. }) => assert!(what.contains("--features xz")),
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    #[test]
    fn pcapng_timestamps_saturate_instead_of_overflowing() {
        let mut bytes = shb(false);
        bytes.extend(idb(
            false,
            1,
            0,
            &[(9, vec![0]), (14, i64::MAX.to_le_bytes().to_vec())],
        ));
        bytes.extend(epb(false, 0, u64::MAX, 1, &[1]));
        bytes.extend(idb(
            false,
            1,
            0,
            &[(9, vec![0]), (14, i64::MIN.to_le_bytes().to_vec())],
        ));
        bytes.extend(epb(false, 1, 0, 1, &[1]));
        let (_, got) = collect(&bytes);
        assert_eq!(got[0].ts, i64::MAX);
        assert_eq!(got[1].ts, i64::MIN);
    }

    #[test]
    fn unrepresentable_tsresol_falls_back_to_microseconds_with_a_problem() {
        let mut bytes = shb(false);
        bytes.extend(idb(false, 1, 0, &[(9, vec![20])]));
        bytes.extend(epb(false, 0, 1_500_000, 1, &[1]));
        let (result, got) = collect(&bytes);
        assert_eq!(got[0].ts, 1_500_000_000);
        assert_eq!(result.unwrap().problems.len(), 1);
    }

    #[test]
    fn tsresol_units_cover_decimal_and_power_of_two() {
        assert_eq!(ts_units_per_sec(6), Some(1_000_000));
        assert_eq!(ts_units_per_sec(9), Some(1_000_000_000));
        assert_eq!(ts_units_per_sec(19), Some(10_000_000_000_000_000_000));
        assert_eq!(ts_units_per_sec(20), None);
        assert_eq!(ts_units_per_sec(0x80 | 20), Some(1 << 20));
        assert_eq!(ts_units_per_sec(0x80 | 63), Some(1 << 63));
        assert_eq!(ts_units_per_sec(0x80 | 64), None);
        assert_eq!(ts_units_per_sec(0xff), None);
    }

    /// Frames wholly inside the first `n` bytes, given where each unit ends.
    fn frames_before(ends: &[(usize, bool)], n: usize) -> usize {
        ends.iter()
            .filter(|&&(end, is_frame)| is_frame && end <= n)
            .count()
    }

    /// (end offset, carries a frame) for each unit of `two_section_pcapng()`.
    fn two_section_units() -> Vec<(usize, bool)> {
        let parts: Vec<(Vec<u8>, bool)> = vec![
            (shb(false), false),
            (idb(false, 1, 4, &[(9, vec![9])]), false),
            (
                idb(
                    false,
                    101,
                    65535,
                    &[(9, vec![0x80 | 20]), (14, 100i64.to_le_bytes().to_vec())],
                ),
                false,
            ),
            (epb(false, 0, EPB_NS_TICKS, 60, &[1, 2, 3, 4, 5]), true),
            (epb(false, 1, POW2_TICKS, 3, &[6, 7, 8]), true),
            (block(false, 0x99, &[0xde, 0xad, 0xbe, 0xef]), false),
            (spb(false, 6, &[9, 9, 9, 9, 9, 9]), true),
            (
                obsolete_pb(false, 1, POW2_TICKS + (1 << 20), &[0xaa, 0xbb]),
                true,
            ),
            (shb(true), false),
            (
                idb(true, 113, 0, &[(14, (-10i64).to_be_bytes().to_vec())]),
                false,
            ),
            (block(true, 0x0000_000a, &[0; 16]), false),
            (
                epb(true, 0, 1_000_000_000_000_001, 4, &[0xc0, 0xff, 0xee, 0x00]),
                true,
            ),
            (epb(true, 1, 5, 1, &[0x01]), false),
        ];
        let mut end = 0;
        parts
            .into_iter()
            .map(|(p, frame)| {
                end += p.len();
                (end, frame)
            })
            .collect()
    }

    #[test]
    fn capture_cut_at_every_length_keeps_the_frames_before_the_cut() {
        let ng = two_section_pcapng();
        let ng_units = two_section_units();
        assert_eq!(ng_units.last().unwrap().0, ng.len());
        let pc = two_record_pcap();
        let pc_units = vec![(24, false), (24 + 19, true), (pc.len(), true)];
        for (full, units) in [(&ng, &ng_units), (&pc, &pc_units)] {
            for n in 0..full.len() {
                let (result, got) = collect(&full[..n]);
                let (streamed, got_streamed) = collect_streamed(&full[..n], 5);
                assert_eq!(got, got_streamed, "cut at {n}");
                if n < 4 {
                    assert!(result.is_err() && streamed.is_err(), "cut at {n}");
                    continue;
                }
                let summary = result.unwrap();
                assert_eq!(got.len(), frames_before(units, n), "cut at {n}");
                assert_eq!(summary.frames, got.len() as u64);
                let at_boundary = units.iter().any(|&(end, _)| end == n);
                assert_eq!(summary.truncated.is_some(), !at_boundary, "cut at {n}");
                assert_eq!(summary.bytes, n as u64, "cut at {n}");
            }
        }
    }

    #[test]
    fn malformed_inputs_never_panic() {
        let base = two_section_pcapng();
        let pc = two_record_pcap();
        // Flip every byte of both captures, one at a time, to a few bad values.
        for full in [&base, &pc] {
            for i in 0..full.len() {
                for v in [0x00, 0xff, 0x7f, 0x80] {
                    let mut bad = full.clone();
                    bad[i] = v;
                    let _ = collect(&bad);
                }
            }
        }
        let table: &[&[u8]] = &[
            &[0x0a, 0x0d, 0x0d, 0x0a],
            &[
                0x0a, 0x0d, 0x0d, 0x0a, 0xff, 0xff, 0xff, 0xff, 0x4d, 0x3c, 0x2b, 0x1a,
            ],
            &[
                0x0a, 0x0d, 0x0d, 0x0a, 0x0c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a,
            ],
            &[0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0, 0, 0, 0],
            &[0xd4, 0xc3, 0xb2, 0xa1],
            &[0x1f, 0x8b],
            &[0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff, 0xde, 0xad],
        ];
        for input in table {
            let _ = collect(input);
            let _ = collect_streamed(input, 1);
        }
    }

    /// Compares frame counts with `capinfos -c` on the shared corpus; run with
    /// `cargo test --lib capture -- --ignored`.
    #[test]
    #[ignore = "needs the shared corpus and capinfos"]
    fn frame_counts_match_capinfos_on_the_corpus() {
        let Ok(dirs) = std::fs::read_dir("/work/shared/corpus") else {
            return;
        };
        let mut checked = 0;
        for dir in dirs.flatten() {
            let Ok(files) = std::fs::read_dir(dir.path()) else {
                continue;
            };
            for file in files.flatten() {
                let path = file.path();
                let name = path.display().to_string();
                if !(name.ends_with(".pcap") || name.ends_with(".pcapng") || name.ends_with(".cap"))
                {
                    continue;
                }
                let out = std::process::Command::new("capinfos")
                    .args(["-c", "-M", "-T", "-r"])
                    .arg(&path)
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&out.stdout);
                let want: u64 = text
                    .split('\t')
                    .nth(1)
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(u64::MAX);
                let summary = read(&Input::Path(path.clone()), &mut |_| {}).unwrap();
                eprintln!(
                    "{name}: ours {} capinfos {want} truncated {:?} problems {:?}",
                    summary.frames, summary.truncated, summary.problems
                );
                assert_eq!(summary.frames, want, "{name}");
                checked += 1;
            }
        }
        assert!(checked > 0);
    }
}
