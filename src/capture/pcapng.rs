//! capture::pcapng: the blocks of a pcapng file. Takes a window that starts at a block, with
//! the byte order and interfaces of the current section; gives the frames of Enhanced, Simple
//! and obsolete Packet Blocks, and keeps the section state (byte order, interfaces with their
//! `if_tsresol` and `if_tsoffset`) up to date.
//!
//! Guarantees: a block whose length is sound but whose body is not is skipped and listed in
//! the problems, and reading goes on; a section keeps at most [`MAX_INTERFACES`] interfaces
//! (later ones are ignored, with a problem); a block length that cannot be right (below 12, not a
//! multiple of 4, over [`MAX_BLOCK_LEN`]) stops the walk. Timestamps saturate instead of
//! overflowing.
//!
//! The TLS key logs of Decryption Secrets Blocks go to the parser's secrets sink as they are
//! read; [`secrets_in`] finds all of a capture held in memory before it is read, so that
//! every reader of it (one walk, or chunks side by side) knows the same secrets for every
//! packet.
//!
//! Deliberately not done: options other than `if_tsresol` / `if_tsoffset`, name resolution,
//! statistics, decryption secrets of other protocols (skipped), and the section length
//! field.

use super::parser::{nom_reason, u16_at, u32_at, Parser, Step};
use super::{Frame, Timestamp, MAX_BLOCK_LEN, MAX_INTERFACES};
use pcap_parser::pcapng::{Block, InterfaceDescriptionBlock, SecretsType};

/// One pcapng interface (IDB) of the current section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Interface {
    link_type: u32,
    /// 0 means no limit.
    snaplen: u32,
    /// Timestamp units per second (if_tsresol).
    units_per_sec: u64,
    /// Seconds added to every timestamp (if_tsoffset).
    offset_secs: i64,
}

/// The secrets of a Decryption Secrets Block: pcap-parser gives them with their padding.
fn dsb_text<'a>(dsb: &pcap_parser::pcapng::DecryptionSecretsBlock<'a>) -> &'a [u8] {
    let len = usize::try_from(dsb.secrets_len).unwrap_or(usize::MAX);
    dsb.data.get(..len).unwrap_or(dsb.data)
}

/// Hands the TLS key log of every Decryption Secrets Block of a pcapng held in memory to
/// `sink`, walking block headers only; stops where a block length cannot be right (the reader
/// will say so).
pub(super) fn secrets_in(bytes: &[u8], sink: &dyn super::SecretsSink) {
    const SHB: u32 = 0x0a0d_0d0a;
    const DSB: u32 = 0x0000_000a;
    let mut big_endian = false;
    let mut pos = 0usize;
    while let Some(head) = bytes.get(pos..pos.saturating_add(12)) {
        if u32_at(head, 0, false) == Some(SHB) {
            // The byte-order magic says how this section is written.
            big_endian = head.get(8..12) == Some(&[0x1a, 0x2b, 0x3c, 0x4d][..]);
        }
        let (Some(kind), Some(len)) = (u32_at(head, 0, big_endian), u32_at(head, 4, big_endian))
        else {
            return;
        };
        let len = len as usize;
        if len < 12 || len % 4 != 0 || len > MAX_BLOCK_LEN {
            return;
        }
        let Some(block) = bytes.get(pos..pos + len) else {
            return;
        };
        if kind == DSB {
            let parsed = if big_endian {
                pcap_parser::pcapng::parse_block_be(block)
            } else {
                pcap_parser::pcapng::parse_block_le(block)
            };
            if let Ok((_, Block::DecryptionSecrets(dsb))) = parsed {
                if dsb.secrets_type == SecretsType::TlsKeyLog {
                    sink.secrets(dsb_text(&dsb));
                }
            }
        }
        pos += len;
    }
}

impl Parser<'_> {
    /// One pcapng block. We check the block's length and presence ourselves, then hand exactly
    /// that block to pcap-parser's parse_block_le / parse_block_be, so a parse error means a
    /// malformed block (skipped, listed in problems) and never "read more".
    pub(super) fn step_pcapng<'a>(
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
            self.interfaces_capped = false;
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
                    self.add_interface(Interface::ETHERNET);
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
            // Past the cap the block's options are not even read (each could add a problem).
            Block::InterfaceDescription(_) if self.interfaces.len() >= MAX_INTERFACES => {
                self.add_interface(Interface::ETHERNET);
            }
            Block::InterfaceDescription(idb) => {
                let interface = self.interface(&idb);
                self.add_interface(interface);
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
            // A TLS key log (secrets type "TLSK"), for a streamed capture (a mapped one is
            // scanned for them before it is read: [`secrets_in`]).
            Block::DecryptionSecrets(dsb) if dsb.secrets_type == SecretsType::TlsKeyLog => {
                if let Some(sink) = self.secrets {
                    sink.secrets(dsb_text(&dsb));
                }
            }
            // SHB state was set before parsing; name resolution, statistics, decryption
            // secrets, journal, process and custom blocks carry no frames.
            _ => {}
        }
    }

    /// Appends an interface to the section's table, up to [`MAX_INTERFACES`].
    fn add_interface(&mut self, interface: Interface) {
        if self.interfaces.len() < MAX_INTERFACES {
            self.interfaces.push(interface);
        } else if !self.interfaces_capped {
            self.interfaces_capped = true;
            self.problem(format!(
                "interface description block at {}: this section already describes \
                 {MAX_INTERFACES} interfaces, the most kept; later interfaces are ignored and \
                 the packets that name them skipped (a flood of interface blocks?)",
                self.position()
            ));
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
    /// Ethernet, no snap length, microseconds: what a malformed description stands for.
    const ETHERNET: Interface = Interface {
        link_type: 1,
        snaplen: 0,
        units_per_sec: 1_000_000,
        offset_secs: 0,
    };

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
pub(super) fn ts_units_per_sec(resol: u8) -> Option<u64> {
    let n = u32::from(resol & 0x7f);
    if resol & 0x80 == 0 {
        10u64.checked_pow(n)
    } else {
        1u64.checked_shl(n).filter(|_| n < 64)
    }
}
