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
//!
//! Layout: this file holds the public types and the entry points. `input` opens files and
//! streams stdin and compressed inputs; `map` holds the module's only unsafe code (the file
//! map and a prefetch hint); `parser` is the format state machine, with the units of each
//! format in `pcap` and `pcapng`; `walker` walks a mapped capture in chunks and guesses where a
//! chunk's first unit starts.

mod input;
mod map;
mod parser;
mod pcap;
mod pcapng;
#[cfg(test)]
mod tests;
mod walker;

pub use input::{captures_in, captures_in_noting, Walk};
pub use walker::Walker;

use crate::error::Error;
use input::{read_file, read_mapped, read_stream, Compression};
use map::map_file;
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

/// Interfaces kept per pcapng section. Real captures describe a few dozen; a file of nothing
/// but Interface Description Blocks (20 bytes each, compressing to almost nothing) would
/// otherwise grow the table without end. Later interfaces are ignored, with a problem, and the
/// packets that name them are skipped.
pub const MAX_INTERFACES: usize = 4096;

/// At most this many entries in [`CaptureSummary::problems`] (the last says how many were left
/// out).
pub const MAX_PROBLEMS: usize = 100;

/// Reads every frame of `input` in file order and hands each to `on_frame`.
///
/// Files are memory-mapped; `-` and compressed inputs are streamed through a bounded buffer.
/// A truncated capture keeps every frame before the cut and reports the cut in the summary.
pub fn read(input: &Input, on_frame: &mut dyn FnMut(&Frame<'_>)) -> Result<CaptureSummary, Error> {
    read_keyed(input, None, on_frame)
}

/// Where the TLS key logs a capture carries (pcapng Decryption Secrets Blocks) go.
pub trait SecretsSink: Sync + std::fmt::Debug {
    fn secrets(&self, key_log: &[u8]);
}

/// [`read`], handing the key logs of Decryption Secrets Blocks that come before the first
/// packet to `secrets` as they are read.
pub fn read_keyed(
    input: &Input,
    secrets: Option<&dyn SecretsSink>,
    on_frame: &mut dyn FnMut(&Frame<'_>),
) -> Result<CaptureSummary, Error> {
    match input {
        Input::Stdin => {
            let stdin = std::io::stdin();
            let mut lock = stdin.lock();
            read_stream(Path::new("-"), &mut lock, secrets, on_frame)
        }
        Input::Path(path) => read_file(path, secrets, on_frame),
    }
}

/// Reads `inputs` one after the other as one capture (the files of a rotated capture, in
/// order): frames are numbered, and their offsets counted, on across the files, as if they had
/// been concatenated (`mergecap -a`). The summary is the first file's format and compression,
/// the totals, and each file's problems and cut, named by file. The first input that is not
/// a capture ends the read with its error.
pub fn read_joined(
    inputs: &[Input],
    secrets: Option<&dyn SecretsSink>,
    on_frame: &mut dyn FnMut(&Frame<'_>),
) -> Result<CaptureSummary, Error> {
    let mut total = CaptureSummary::default();
    let mut cuts = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let (frames, bytes) = (total.frames, total.bytes);
        let one = read_keyed(input, secrets, &mut |f| {
            on_frame(&Frame {
                number: f.number.saturating_add(frames),
                offset: f.offset.saturating_add(bytes),
                ..*f
            })
        })?;
        if i == 0 {
            total.format = one.format;
            total.compression = one.compression;
        }
        total.frames = total.frames.saturating_add(one.frames);
        total.bytes = total.bytes.saturating_add(one.bytes);
        let name = input.name();
        cuts.extend(one.truncated.map(|t| format!("{name}: {t}")));
        for p in one.problems {
            if total.problems.len() < MAX_PROBLEMS {
                total.problems.push(format!("{name}: {p}"));
            }
        }
    }
    total.truncated = (!cuts.is_empty()).then(|| cuts.join("; "));
    Ok(total)
}

/// The key logs of every Decryption Secrets Block of a plain pcapng capture held in memory,
/// read before its packets (so that readers walking it in chunks, side by side, know the
/// secrets a later block carries as a walk from the start would). A pcap has none.
pub fn secrets_in(bytes: &[u8], secrets: &dyn SecretsSink) {
    if bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        pcapng::secrets_in(bytes, secrets);
    }
}

/// Reads an in-memory capture (plain, or compressed as [`read`] accepts); `name` is used in
/// errors. Plain captures are parsed in place: frames borrow from `bytes`.
pub fn read_bytes(
    name: &str,
    bytes: &[u8],
    on_frame: &mut dyn FnMut(&Frame<'_>),
) -> Result<CaptureSummary, Error> {
    read_mapped(Path::new(name), bytes, None, on_frame)
}

/// [`read_bytes`] with a sink for the capture's secrets, as [`read_keyed`].
pub fn read_bytes_keyed(
    name: &str,
    bytes: &[u8],
    secrets: Option<&dyn SecretsSink>,
    on_frame: &mut dyn FnMut(&Frame<'_>),
) -> Result<CaptureSummary, Error> {
    read_mapped(Path::new(name), bytes, secrets, on_frame)
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

/// Whether `bytes` start like a gzip, zstd or xz stream (read by streaming, not in place).
pub fn is_compressed(bytes: &[u8]) -> bool {
    Compression::sniff(bytes).is_some()
}
