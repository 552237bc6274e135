//! frames: the decrypted payload of one Initial packet in; its CRYPTO and CONNECTION_CLOSE
//! frames out, and the CRYPTO data of one direction put back in order, message by message.
//!
//! The walk follows RFC 9000 §19: PADDING, PING and ACK are skipped, CRYPTO and
//! CONNECTION_CLOSE are returned, and any other frame type, not allowed in an Initial (§12.4,
//! Table 3), ends the walk with a reason, as does a frame cut short. [`CryptoStream`] keeps one
//! direction's CRYPTO bytes by offset (the first copy of a byte wins, so overlaps and
//! retransmissions are harmless) and hands out each handshake message, type and body, once it
//! is complete from the start of the stream.
//!
//! A stream keeps the bytes of offsets below [`MAX_CRYPTO_BYTES`] in at most
//! [`MAX_CRYPTO_RANGES`] disjoint ranges, only those that arrived (a frame far into the stream
//! holds its own bytes, not the hole before it), and says when a cap dropped data; no input
//! makes it panic. It does not parse the
//! handshake messages (the connection hands them to the tls hello parsers) and sees no frame
//! of a Handshake or 1-RTT packet, which are never decrypted here.

use super::packet::{varint, varint_len};
use super::{MAX_CRYPTO_BYTES, MAX_CRYPTO_RANGES};
use crate::proto::pieces::Pieces;

/// A frame of an Initial packet that matters here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum InitialFrame<'a> {
    Crypto {
        offset: u64,
        data: &'a [u8],
    },
    /// CONNECTION_CLOSE: 0x1c (transport, with the offending frame type) or 0x1d (application).
    Close {
        code: u64,
        frame_type: Option<u64>,
        reason: &'a [u8],
    },
}

/// Walks the frames of a decrypted Initial payload (RFC 9000 §19). PADDING, PING and ACK are
/// skipped; CRYPTO and CONNECTION_CLOSE are returned. Any other frame type is not allowed in an
/// Initial (RFC 9000 §12.4, Table 3) and ends the walk, as does a cut-short frame: the reason
/// comes back with the frames read so far.
pub(super) fn initial_frames(mut rest: &[u8]) -> (Vec<InitialFrame<'_>>, Option<&'static str>) {
    let mut out = Vec::new();
    let problem = loop {
        let Some((ty, r)) = varint(rest) else {
            break None;
        };
        match ty {
            0x00 => {
                let zeros = r.iter().take_while(|&&b| b == 0).count();
                rest = r.get(zeros..).unwrap_or_default();
            }
            0x01 => rest = r,
            0x02 | 0x03 => match skip_ack(r, ty == 0x03) {
                Some(r) => rest = r,
                None => break Some("ACK frame cut short"),
            },
            0x06 => {
                let Some((offset, r)) = varint(r) else {
                    break Some("CRYPTO frame cut short");
                };
                let Some((len, r)) = varint_len(r) else {
                    break Some("CRYPTO frame cut short");
                };
                let Some((data, r)) = r.split_at_checked(len) else {
                    break Some("CRYPTO frame longer than the packet");
                };
                out.push(InitialFrame::Crypto { offset, data });
                rest = r;
            }
            0x1c | 0x1d => {
                let close = (|| {
                    let (code, r) = varint(r)?;
                    let (frame_type, r) = if ty == 0x1c {
                        let (t, r) = varint(r)?;
                        (Some(t), r)
                    } else {
                        (None, r)
                    };
                    let (len, r) = varint_len(r)?;
                    let (reason, r) = r.split_at_checked(len)?;
                    Some((
                        InitialFrame::Close {
                            code,
                            frame_type,
                            reason,
                        },
                        r,
                    ))
                })();
                let Some((frame, r)) = close else {
                    break Some("CONNECTION_CLOSE frame cut short");
                };
                out.push(frame);
                rest = r;
            }
            _ => break Some("frame type not allowed in an Initial packet"),
        }
    };
    (out, problem)
}

/// Skips an ACK frame's fields after the type (RFC 9000 §19.3).
fn skip_ack(r: &[u8], ecn: bool) -> Option<&[u8]> {
    let (_largest, r) = varint(r)?;
    let (_delay, r) = varint(r)?;
    let (count, r) = varint(r)?;
    let (_first_range, mut r) = varint(r)?;
    // Each range takes at least two bytes, so the loop ends when the bytes do.
    for _ in 0..count {
        let (_gap, rr) = varint(r)?;
        let (_len, rr) = varint(rr)?;
        r = rr;
    }
    if ecn {
        for _ in 0..3 {
            r = varint(r)?.1;
        }
    }
    Some(r)
}

/// The CRYPTO data of one direction in one packet number space, put back in order.
#[derive(Debug, Default)]
pub(super) struct CryptoStream {
    /// The bytes that arrived, by stream offset: only what came is held, however far into
    /// the stream a frame says it sits.
    pub(super) pieces: Pieces,
    /// Bytes already handed to the message parser.
    consumed: usize,
    /// A cap was hit (reported once).
    pub(super) capped: bool,
}

impl CryptoStream {
    /// Stores a fragment; the first copy of a byte wins. Returns false when a cap dropped data.
    pub(super) fn insert(&mut self, offset: u64, data: &[u8]) -> bool {
        let Ok(start) = usize::try_from(offset) else {
            return false;
        };
        let end = start.saturating_add(data.len());
        let kept_end = end.min(MAX_CRYPTO_BYTES);
        let whole = kept_end == end;
        if start >= kept_end {
            return whole;
        }
        let kept = data.get(..kept_end - start).unwrap_or_default();
        // A range that touches a piece joins it; only a new island adds one.
        if self.pieces.count() >= MAX_CRYPTO_RANGES && !self.pieces.touches(start, kept_end) {
            return false;
        }
        self.pieces.insert(start, kept);
        whole
    }

    /// Bytes available in order from the start of the stream.
    #[cfg(test)]
    pub(super) fn contiguous(&self) -> usize {
        self.pieces.prefix().len()
    }

    /// The next complete handshake message (type, body), if it has arrived.
    pub(super) fn next_message(&mut self) -> Option<(u8, &[u8])> {
        let start = self.consumed;
        let avail = self.pieces.prefix().get(start..)?;
        let [ty, a, b, c, ..] = *avail else {
            return None;
        };
        let len = u32::from_be_bytes([0, a, b, c]) as usize;
        let body = avail.get(4..4usize.checked_add(len)?)?;
        self.consumed = start + 4 + len;
        Some((ty, body))
    }

    /// A message has started that can never complete under [`MAX_CRYPTO_BYTES`].
    pub(super) fn message_exceeds_cap(&self) -> bool {
        let Some([_, a, b, c]) = self.pieces.prefix().get(self.consumed..self.consumed + 4) else {
            return false;
        };
        self.consumed + 4 + u32::from_be_bytes([0, *a, *b, *c]) as usize > MAX_CRYPTO_BYTES
    }
}
