//! packet: the bytes of one UDP datagram in; the long-header packets coalesced in it out, one
//! at a time: each one's header fields, whether it is an Initial, and where its packet number
//! starts.
//!
//! It reads the version-independent long header (RFC 8999 §5.1), then, for a version
//! [`flavor`] knows, the token and length fields (RFC 9000 §17.2) that say where the packet
//! ends, so the caller can walk a datagram packet by packet (§12.2). A Version Negotiation or a
//! Retry has no length field and fills the rest of the datagram; it is handed back as such. It
//! also answers the two cheap questions asked of a datagram before anything is kept: does it
//! look like QUIC, and does it start with an Initial.
//!
//! Every length is checked against the bytes: a length that runs past the datagram gives
//! `Split::Truncated`, never a panic. It does not remove header protection or decrypt (that is
//! `crypto`), does not read short-header packets (their length is not on the wire, so the walk
//! ends there), and reads nothing of an unknown version past the version-independent header.

use super::crypto::{flavor, Flavor};
use super::{version, MAX_CID_LEN};

/// A variable-length integer (RFC 9000 §16) and the bytes after it.
pub(super) fn varint(b: &[u8]) -> Option<(u64, &[u8])> {
    let (&first, rest) = b.split_first()?;
    let (more, rest) = rest.split_at_checked((1usize << (first >> 6)) - 1)?;
    let v = more
        .iter()
        .fold(u64::from(first & 0x3f), |v, &x| (v << 8) | u64::from(x));
    Some((v, rest))
}

pub(super) fn varint_len(b: &[u8]) -> Option<(usize, &[u8])> {
    let (v, rest) = varint(b)?;
    Some((usize::try_from(v).ok()?, rest))
}

/// The version-independent part of a long header (RFC 8999 §5.1).
#[derive(Debug, Clone, Copy)]
pub(super) struct LongHeader<'a> {
    first: u8,
    pub(super) version: u32,
    pub(super) dcid: &'a [u8],
    pub(super) scid: &'a [u8],
    /// Everything after the Source Connection ID.
    pub(super) rest: &'a [u8],
}

fn long_header(p: &[u8]) -> Option<LongHeader<'_>> {
    let [first, v0, v1, v2, v3, dcid_len, rest @ ..] = p else {
        return None;
    };
    if first & 0x80 == 0 {
        return None;
    }
    let (dcid, rest) = rest.split_at_checked(usize::from(*dcid_len))?;
    let (&scid_len, rest) = rest.split_first()?;
    let (scid, rest) = rest.split_at_checked(usize::from(scid_len))?;
    Some(LongHeader {
        first: *first,
        version: u32::from_be_bytes([*v0, *v1, *v2, *v3]),
        dcid,
        scid,
        rest,
    })
}

/// Cheap check on a UDP payload: a QUIC long-header packet of a known version (connection IDs
/// of at most 20 bytes), or a Version Negotiation packet listing whole versions.
pub fn looks_like_quic(payload: &[u8]) -> bool {
    let Some(h) = long_header(payload) else {
        return false;
    };
    if h.version == version::NEGOTIATION {
        return !h.rest.is_empty() && h.rest.len() % 4 == 0;
    }
    flavor(h.version).is_some() && h.dcid.len() <= MAX_CID_LEN && h.scid.len() <= MAX_CID_LEN
}

/// True when the datagram starts with an Initial packet (of a known version): the sender of the
/// first one is the client.
pub fn is_initial(payload: &[u8]) -> bool {
    long_header(payload)
        .is_some_and(|h| flavor(h.version).is_some_and(|f| (h.first >> 4) & 3 == f.initial_type))
}

/// What starts a (rest of a) datagram.
pub(super) enum Split<'a> {
    /// A short header, padding, an unknown version or a malformed header: nothing more to read.
    End,
    Negotiation(LongHeader<'a>),
    /// A Retry: it fills the rest of the datagram.
    Retry(LongHeader<'a>, Flavor),
    /// A packet whose length field runs past the datagram (snap length, or garbage).
    Truncated {
        initial: bool,
    },
    /// One whole packet (`bytes`), its packet number at `pn_offset`.
    Packet {
        h: LongHeader<'a>,
        initial: bool,
        /// A Handshake packet (its keys come only from a key log).
        handshake: bool,
        bytes: &'a [u8],
        pn_offset: usize,
    },
}

/// Cuts the first long-header packet off `rest` (RFC 9000 §17.2, §12.2).
pub(super) fn split_packet(rest: &[u8]) -> Split<'_> {
    let Some(h) = long_header(rest) else {
        return Split::End;
    };
    if h.version == version::NEGOTIATION {
        return Split::Negotiation(h);
    }
    // An unknown version's packet length cannot be read.
    let Some(f) = flavor(h.version) else {
        return Split::End;
    };
    if h.dcid.len() > MAX_CID_LEN || h.scid.len() > MAX_CID_LEN {
        return Split::End;
    }
    let ty = (h.first >> 4) & 3;
    if ty == f.retry_type {
        return Split::Retry(h, f);
    }
    let initial = ty == f.initial_type;
    let mut r = h.rest;
    if initial {
        let Some((token_len, after_len)) = varint_len(r) else {
            return Split::Truncated { initial };
        };
        let Some(after_token) = after_len.get(token_len..) else {
            return Split::Truncated { initial };
        };
        r = after_token;
    }
    let Some((length, after)) = varint_len(r) else {
        return Split::Truncated { initial };
    };
    let pn_offset = rest.len() - after.len();
    match pn_offset.checked_add(length).and_then(|n| rest.get(..n)) {
        Some(bytes) => Split::Packet {
            h,
            initial,
            handshake: ty == f.handshake_type,
            bytes,
            pn_offset,
        },
        None => Split::Truncated { initial },
    }
}
