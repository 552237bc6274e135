//! capture: a path, `-` or a reader in; `Frame<'a>`s out.
//!
//! INTERFACE ONLY (implementation pending).
use crate::error::Error;
use std::path::PathBuf;

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

/// Reads every frame of `input` in file order and hands each to `on_frame`.
///
/// Files are memory-mapped; `-` and compressed inputs are streamed through a bounded buffer.
/// A truncated capture keeps every frame before the cut and reports the cut in the summary.
pub fn read(input: &Input, on_frame: &mut dyn FnMut(&Frame<'_>)) -> Result<CaptureSummary, Error> {
    let _ = (input, on_frame);
    unimplemented!("pending")
}
