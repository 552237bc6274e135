//! capture::parser: the format state machine shared by every way of reading. Takes a window of
//! bytes that starts at a unit boundary (the magic, a pcap record, a pcapng block) and whether
//! more input may come; gives one step: a unit handled, more bytes needed, or the end.
//!
//! Guarantees: never panics and never reads past the window; a cut or corrupt unit ends the
//! walk with one message in the summary, and only a wrong magic or an empty input is an
//! [`Error`]. The frame count, byte position and problem cap are kept here, so every format
//! reports them the same way.
//!
//! Deliberately not done: reading the units themselves (`pcap` and `pcapng` do, as more
//! methods of [`Parser`]), and any I/O: drivers own the buffer and feed it.

use super::pcap::PcapLayout;
use super::pcapng::Interface;
use super::{CaptureSummary, Format, Frame, Timestamp, MAX_PROBLEMS};
use crate::error::Error;
use pcap_parser::PcapError;
use std::path::Path;

pub(super) fn not_a_capture(path: &Path, what: String, hint: &'static str) -> Error {
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
pub(super) enum Step {
    /// A unit (file header, record, block) was handled: skip this many bytes.
    Advance(usize),
    /// This many bytes, counted from the start of the window, are needed to go on.
    /// Only returned when more input may come.
    Need(usize),
    /// Nothing more to read: end of input, truncation or corruption (already recorded).
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Start,
    Pcap(PcapLayout),
    PcapNg,
    Stopped,
}

/// The format state machine. Each step looks at a window that starts at a unit boundary and
/// either handles one unit or says how many bytes it needs; drivers for mapped and streamed
/// input feed it.
#[derive(Debug, Clone)]
pub(super) struct Parser<'p> {
    pub(super) path: &'p Path,
    pub(super) kind: Kind,
    /// pcapng: byte order of the current section.
    pub(super) big_endian: bool,
    /// pcapng: interfaces of the current section, by interface id (at most
    /// [`MAX_INTERFACES`](super::MAX_INTERFACES)).
    pub(super) interfaces: Vec<Interface>,
    /// pcapng: the current section described more interfaces than the cap (said once).
    pub(super) interfaces_capped: bool,
    /// Timestamp of the previous frame, for Simple Packet Blocks (which carry none).
    pub(super) last_ts: Timestamp,
    /// This parser emitted a frame (so `last_ts` is its own).
    pub(super) own_ts: bool,
    /// A Simple Packet Block took `last_ts` from before this parser's first frame.
    pub(super) leaned_on_last_ts: bool,
    pub(super) problems_left_out: u64,
    pub(super) summary: CaptureSummary,
    /// Where the key logs of Decryption Secrets Blocks go (streamed input).
    pub(super) secrets: Option<&'p dyn super::SecretsSink>,
}

impl<'p> Parser<'p> {
    pub(super) fn new(path: &'p Path) -> Parser<'p> {
        Parser {
            path,
            kind: Kind::Start,
            big_endian: false,
            interfaces: Vec::new(),
            interfaces_capped: false,
            last_ts: Timestamp(0),
            own_ts: false,
            leaned_on_last_ts: false,
            problems_left_out: 0,
            summary: CaptureSummary::default(),
            secrets: None,
        }
    }

    /// "byte offset N", where the next unit starts, for messages.
    pub(super) fn position(&self) -> String {
        format!("byte offset {}", self.summary.bytes)
    }

    pub(super) fn problem(&mut self, what: String) {
        if self.summary.problems.len() < MAX_PROBLEMS.saturating_sub(1) {
            self.summary.problems.push(what);
        } else {
            self.problems_left_out = self.problems_left_out.saturating_add(1);
        }
    }

    /// Records why reading ended early (once) and stops.
    pub(super) fn stop(&mut self, why: String) {
        if self.summary.truncated.is_none() {
            self.summary.truncated = Some(why);
        }
        self.kind = Kind::Stopped;
    }

    /// The input ends inside a unit of which `present` bytes exist.
    pub(super) fn cut(&mut self, why: String, present: usize) -> Step {
        self.stop(why);
        self.summary.bytes = self.summary.bytes.saturating_add(present as u64);
        Step::Done
    }

    pub(super) fn advance(&mut self, n: usize) -> Step {
        self.summary.bytes = self.summary.bytes.saturating_add(n as u64);
        Step::Advance(n)
    }

    pub(super) fn finish(mut self) -> CaptureSummary {
        if self.problems_left_out > 0 {
            self.summary.problems.push(format!(
                "{} more problems not listed",
                self.problems_left_out
            ));
        }
        self.summary
    }

    pub(super) fn emit<'a>(
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
    pub(super) fn step<'a>(
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
}

pub(super) fn u32_at(buf: &[u8], offset: usize, big_endian: bool) -> Option<u32> {
    let bytes = *buf.get(offset..)?.first_chunk::<4>()?;
    Some(if big_endian {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    })
}

pub(super) fn u16_at(buf: &[u8], offset: usize, big_endian: bool) -> Option<u16> {
    let bytes = *buf.get(offset..)?.first_chunk::<2>()?;
    Some(if big_endian {
        u16::from_be_bytes(bytes)
    } else {
        u16::from_le_bytes(bytes)
    })
}

/// A short reason for a pcap-parser error, without dumping the input it carries.
pub(super) fn nom_reason(e: &pcap_parser::nom::Err<PcapError<&[u8]>>) -> String {
    match e {
        pcap_parser::nom::Err::Incomplete(_) => "a field runs past the end of the block".into(),
        pcap_parser::nom::Err::Error(pe) | pcap_parser::nom::Err::Failure(pe) => match pe {
            PcapError::NomError(_, kind) => format!("{} check failed", kind.description()),
            PcapError::HeaderNotRecognized => "header not recognized".into(),
            other => format!("{:?}", other.to_owned_vec()),
        },
    }
}
