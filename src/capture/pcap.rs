//! capture::pcap: the units of a classic pcap file. Takes a window that starts at a record
//! header, with the layout the file header set (byte order, micro- or nanoseconds, the 8 more
//! bytes of Kuznetzov's "modified" records); gives the record's frame with an epoch-nanosecond
//! timestamp.
//!
//! Guarantees: a captured length above [`MAX_CAPLEN`] stops the walk (pcap records carry no
//! other framing, so nothing after garbage can be trusted); a cut record is a truncation that
//! keeps every frame before it.
//!
//! Deliberately not done: honouring the `thiszone` field, and checking the record's captured
//! length against the file's snap length.

use super::map::prefetch;
use super::parser::{nom_reason, u32_at, Parser, Step};
use super::{Frame, Timestamp, MAX_CAPLEN};
use pcap_parser::LegacyPcapBlock;

/// Layout of a pcap file, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PcapLayout {
    pub(super) big_endian: bool,
    pub(super) nanosecond: bool,
    /// Kuznetzov's "modified" pcap: 8 more bytes (ifindex, protocol, pkt_type, pad) per record.
    pub(super) modified: bool,
    pub(super) link_type: u32,
}

impl PcapLayout {
    pub(super) fn record_header_len(self) -> usize {
        if self.modified {
            24
        } else {
            16
        }
    }
}

impl Parser<'_> {
    /// One pcap record. pcap-parser's slice and streaming readers read every record as
    /// little-endian whatever the file header says, so we drive its per-record parsers
    /// (parse_pcap_frame / _be / _modified) ourselves, on a slice we know holds the whole
    /// record (so its "incomplete" can only mean a cut file, never "read more").
    pub(super) fn step_pcap<'a>(
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
