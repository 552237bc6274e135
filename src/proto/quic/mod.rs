//! quic: the UDP datagrams of one QUIC connection attempt in; the TLS ClientHello and
//! ServerHello it carried out, as the same [`Event`]s the TCP path gives.
//!
//! QUIC carries the TLS handshake in CRYPTO frames instead of records, and protects even its
//! first packets: but the Initial keys are derived from the Destination Connection ID of the
//! client's first Initial and a salt fixed per version (RFC 9001 §5.2), so anyone on the path
//! can remove them. This module walks the coalesced long-header packets of each datagram
//! (RFC 9000 §12.2), derives the Initial keys with ring's HKDF, removes header protection
//! (RFC 9001 §5.4), decrypts with AES-128-GCM (§5.3), walks the frames, puts the CRYPTO data of
//! each direction back in order in a small capped buffer, and hands each complete handshake
//! message to [`tls::parse_client_hello`] / [`tls::parse_server_hello`].
//!
//! Versions: QUIC v1 (RFC 9000/9001), v2 (RFC 9369: other salt, labels and packet type bits),
//! and the IETF drafts 23–34 still seen in old captures. It follows a Retry (new keys from the
//! Retry's Source Connection ID, integrity tag checked for v1 and v2) and records a Version
//! Negotiation.
//!
//! A [`QuicConn`] follows *one* connection attempt: a client Initial whose Destination
//! Connection ID belongs to none of the IDs this attempt used, and that opens with the keys of
//! its own DCID rather than this attempt's, is another connection on the same 5-tuple and is
//! ignored (counted in [`QuicConn::other_connection_packets`]); the caller can ask
//! [`QuicConn::is_other_connection`] first and start a new `QuicConn` for it.
//!
//! It does not decrypt Handshake or 1-RTT packets (their keys are not derivable from the
//! wire), does not read short-header packets, and does not follow connection migration. It
//! never panics on any input: every length is checked, every buffer has a named cap.

use crate::flow::reassembly::Origin;
use crate::proto::tls::{self, Event, Located};
use crate::text::hex;
use ring::aead::{self, quic as hp};
use ring::hkdf;

/// QUIC version numbers this module knows by name.
pub mod version {
    /// A Version Negotiation packet (RFC 9000 §17.2.1).
    pub const NEGOTIATION: u32 = 0;
    /// RFC 9000.
    pub const V1: u32 = 0x0000_0001;
    /// RFC 9369.
    pub const V2: u32 = 0x6b33_43cf;
    /// draft-ietf-quic-transport-23 … -34 are 0xff000017 … 0xff000022.
    pub const DRAFT_23: u32 = 0xff00_0017;
    pub const DRAFT_29: u32 = 0xff00_001d;
    pub const DRAFT_34: u32 = 0xff00_0022;
}

/// Bytes of CRYPTO data kept per direction. A ClientHello with a post-quantum key share and
/// ECH is a few KiB; anything past this cap is dropped and reported once.
pub const MAX_CRYPTO_BYTES: usize = 64 * 1024;
/// Disjoint received ranges tracked per CRYPTO stream; fragments that would open more holes
/// are dropped (and reported once, like the byte cap).
pub const MAX_CRYPTO_RANGES: usize = 64;
/// Packets walked in one datagram (a datagram coalesces at most one packet per space in
/// practice; the cap bounds a crafted one of zero-length packets).
pub const MAX_COALESCED: usize = 16;
/// Versions kept from a Version Negotiation packet.
pub const MAX_OFFERED_VERSIONS: usize = 64;
/// Bytes of a CONNECTION_CLOSE reason phrase kept.
pub const MAX_CLOSE_REASON: usize = 256;
/// Initial key sets kept per connection attempt (original DCID, Retry DCID, a second version).
const MAX_KEY_SETS: usize = 4;
/// Longest connection ID of QUIC v1/v2 (RFC 9000 §17.2).
const MAX_CID_LEN: usize = 20;
/// Header protection samples 16 bytes starting 4 bytes after the packet number (RFC 9001 §5.4.2).
const SAMPLE_LEN: usize = 16;
/// AEAD tag length of AES-128-GCM.
const TAG_LEN: usize = 16;

const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
/// draft-ietf-quic-tls-29 … -32.
const SALT_DRAFT_29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];
/// draft-ietf-quic-tls-23 … -28.
const SALT_DRAFT_23: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65,
    0xbe, 0xf9, 0xf5, 0x02,
];

/// Retry integrity key and nonce, RFC 9001 §5.8.
const RETRY_V1: ([u8; 16], [u8; 12]) = (
    [
        0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8,
        0x4e,
    ],
    [
        0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb,
    ],
);
/// Retry integrity key and nonce, RFC 9369 §3.3.3.
const RETRY_V2: ([u8; 16], [u8; 12]) = (
    [
        0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2, 0x60, 0xfb, 0xcb, 0xce, 0xad, 0x7c, 0xcc,
        0x92,
    ],
    [
        0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c, 0x6d, 0x99, 0x90, 0xef, 0xb0, 0x4a,
    ],
);

/// What differs between versions for Initial and Retry packets.
#[derive(Debug, Clone, Copy)]
struct Flavor {
    salt: &'static [u8; 20],
    /// HKDF labels for key, iv and hp.
    labels: [&'static [u8]; 3],
    /// Long-header type bits (after `>> 4 & 3`) of Initial and Retry.
    initial_type: u8,
    retry_type: u8,
    /// Retry integrity key and nonce; None where the drafts' values are not checked here.
    retry_integrity: Option<&'static ([u8; 16], [u8; 12])>,
}

const V1_LABELS: [&[u8]; 3] = [b"quic key", b"quic iv", b"quic hp"];

fn flavor(v: u32) -> Option<Flavor> {
    let v1 = |salt, retry_integrity| Flavor {
        salt,
        labels: V1_LABELS,
        initial_type: 0,
        retry_type: 3,
        retry_integrity,
    };
    match v {
        version::V1 => Some(v1(&SALT_V1, Some(&RETRY_V1))),
        // RFC 9369 §3.2: Initial 0b01, 0-RTT 0b10, Handshake 0b11, Retry 0b00.
        version::V2 => Some(Flavor {
            salt: &SALT_V2,
            labels: [b"quicv2 key", b"quicv2 iv", b"quicv2 hp"],
            initial_type: 1,
            retry_type: 0,
            retry_integrity: Some(&RETRY_V2),
        }),
        // The drafts' Retry tags (or, before draft 25, the ODCID field) are not checked: a
        // Retry of a draft version is taken as it comes.
        0xff00_0017..=0xff00_001c => Some(v1(&SALT_DRAFT_23, None)),
        0xff00_001d..=0xff00_0020 => Some(v1(&SALT_DRAFT_29, None)),
        // Drafts 33 and 34 already use the final salt.
        0xff00_0021..=version::DRAFT_34 => Some(v1(&SALT_V1, None)),
        _ => None,
    }
}

/// A variable-length integer (RFC 9000 §16) and the bytes after it.
fn varint(b: &[u8]) -> Option<(u64, &[u8])> {
    let (&first, rest) = b.split_first()?;
    let (more, rest) = rest.split_at_checked((1usize << (first >> 6)) - 1)?;
    let v = more
        .iter()
        .fold(u64::from(first & 0x3f), |v, &x| (v << 8) | u64::from(x));
    Some((v, rest))
}

fn varint_len(b: &[u8]) -> Option<(usize, &[u8])> {
    let (v, rest) = varint(b)?;
    Some((usize::try_from(v).ok()?, rest))
}

/// The version-independent part of a long header (RFC 8999 §5.1).
#[derive(Debug, Clone, Copy)]
struct LongHeader<'a> {
    first: u8,
    version: u32,
    dcid: &'a [u8],
    scid: &'a [u8],
    /// Everything after the Source Connection ID.
    rest: &'a [u8],
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
enum Split<'a> {
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
        bytes: &'a [u8],
        pn_offset: usize,
    },
}

/// Cuts the first long-header packet off `rest` (RFC 9000 §17.2, §12.2).
fn split_packet(rest: &[u8]) -> Split<'_> {
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
            bytes,
            pn_offset,
        },
        None => Split::Truncated { initial },
    }
}

/// Key, IV and header protection key of one direction, as bytes (RFC 9001 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyMaterial {
    key: [u8; 16],
    iv: [u8; 12],
    hp: [u8; 16],
}

/// An HKDF output length for ring.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label with an empty context (RFC 8446 §7.1).
fn expand_label(prk: &hkdf::Prk, label: &[u8], out: &mut [u8]) -> Option<()> {
    let len = u16::try_from(out.len()).ok()?.to_be_bytes();
    let label_len = [u8::try_from(6 + label.len()).ok()?];
    let info: [&[u8]; 5] = [&len, &label_len, b"tls13 ", label, &[0]];
    prk.expand(&info, Len(out.len())).ok()?.fill(out).ok()
}

/// Client and server Initial key material for a version and the client's DCID (RFC 9001 §5.2).
fn initial_key_material(v: u32, dcid: &[u8]) -> Option<(KeyMaterial, KeyMaterial)> {
    let f = flavor(v)?;
    let initial = hkdf::Salt::new(hkdf::HKDF_SHA256, f.salt).extract(dcid);
    let side = |label: &[u8]| -> Option<KeyMaterial> {
        let mut secret = [0u8; 32];
        expand_label(&initial, label, &mut secret)?;
        let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, &secret);
        let [key_label, iv_label, hp_label] = f.labels;
        let mut m = KeyMaterial {
            key: [0; 16],
            iv: [0; 12],
            hp: [0; 16],
        };
        expand_label(&prk, key_label, &mut m.key)?;
        expand_label(&prk, iv_label, &mut m.iv)?;
        expand_label(&prk, hp_label, &mut m.hp)?;
        Some(m)
    };
    Some((side(b"client in")?, side(b"server in")?))
}

/// Ready-to-use keys of one direction.
struct DirKeys {
    aead: aead::LessSafeKey,
    iv: [u8; 12],
    hp: hp::HeaderProtectionKey,
}

impl DirKeys {
    fn new(m: &KeyMaterial) -> Option<Self> {
        Some(DirKeys {
            aead: aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &m.key).ok()?),
            iv: m.iv,
            hp: hp::HeaderProtectionKey::new(&hp::AES_128, &m.hp).ok()?,
        })
    }
}

/// The Initial keys of both directions for one (version, DCID).
struct KeySet {
    version: u32,
    dcid: Vec<u8>,
    client: DirKeys,
    server: DirKeys,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("version", &self.version)
            .field("dcid", &self.dcid)
            .finish_non_exhaustive()
    }
}

/// RFC 9000 Appendix A.3: the full packet number nearest to the next one expected.
fn decode_packet_number(largest: Option<u64>, truncated: u64, bits: u32) -> u64 {
    let expected = largest.map_or(0, |l| l.saturating_add(1));
    let win = 1u64 << bits;
    let hwin = win / 2;
    let candidate = (expected & !(win - 1)) | truncated;
    if candidate.saturating_add(hwin) <= expected && candidate < (1u64 << 62).saturating_sub(win) {
        candidate + win
    } else if candidate > expected.saturating_add(hwin) && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

/// Removes header protection and decrypts one long-header packet (`packet` is exactly the
/// packet, `pn_offset` where its packet number starts). Returns the packet number and the
/// plaintext payload.
fn open_packet(
    keys: &DirKeys,
    packet: &[u8],
    pn_offset: usize,
    largest: Option<u64>,
) -> Option<(u64, Vec<u8>)> {
    let sample_at = pn_offset.checked_add(4)?;
    let sample = packet.get(sample_at..sample_at.checked_add(SAMPLE_LEN)?)?;
    let mask = keys.hp.new_mask(sample).ok()?;
    let mut buf = packet.to_vec();
    let first = buf.first_mut()?;
    // Long header: the low 4 bits are protected (RFC 9001 §5.4.1).
    *first ^= mask[0] & 0x0f;
    let pn_len = usize::from(*first & 0x03) + 1;
    let mut truncated = 0u64;
    for (i, m) in mask.iter().skip(1).take(pn_len).enumerate() {
        let b = buf.get_mut(pn_offset + i)?;
        *b ^= m;
        truncated = (truncated << 8) | u64::from(*b);
    }
    let pn = decode_packet_number(largest, truncated, 8 * pn_len as u32);
    let mut nonce = keys.iv;
    for (n, p) in nonce.iter_mut().rev().zip(pn.to_le_bytes()) {
        *n ^= p;
    }
    let (header, body) = buf.split_at_mut_checked(pn_offset + pn_len)?;
    if body.len() < TAG_LEN {
        return None;
    }
    let plain = keys
        .aead
        .open_in_place(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(&*header),
            body,
        )
        .ok()?;
    Some((pn, plain.to_vec()))
}

/// A frame of an Initial packet that matters here.
#[derive(Debug, Clone, PartialEq, Eq)]
enum InitialFrame<'a> {
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
fn initial_frames(mut rest: &[u8]) -> (Vec<InitialFrame<'_>>, Option<&'static str>) {
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
struct CryptoStream {
    /// Stream bytes [0, buf.len()); only the `have` ranges are real.
    buf: Vec<u8>,
    /// Received ranges [start, end), sorted, merged.
    have: Vec<(usize, usize)>,
    /// Bytes already handed to the message parser.
    consumed: usize,
    /// A cap was hit (reported once).
    capped: bool,
}

impl CryptoStream {
    /// Stores a fragment; the first copy of a byte wins. Returns false when a cap dropped data.
    fn insert(&mut self, offset: u64, data: &[u8]) -> bool {
        let Ok(start) = usize::try_from(offset) else {
            return false;
        };
        let end = start.saturating_add(data.len());
        let kept_end = end.min(MAX_CRYPTO_BYTES);
        let whole = kept_end == end;
        if start >= kept_end {
            return whole;
        }
        let touches = self.have.iter().any(|&(s, e)| s <= kept_end && start <= e);
        if !touches && self.have.len() >= MAX_CRYPTO_RANGES {
            return false;
        }
        if self.buf.len() < kept_end {
            self.buf.resize(kept_end, 0);
        }
        // Copy into the holes only.
        let mut at = start;
        for &(s, e) in self
            .have
            .iter()
            .chain(std::iter::once(&(kept_end, kept_end)))
        {
            if e <= at {
                continue;
            }
            let hole_end = s.min(kept_end);
            if at < hole_end {
                if let (Some(dst), Some(src)) = (
                    self.buf.get_mut(at..hole_end),
                    data.get(at - start..hole_end - start),
                ) {
                    dst.copy_from_slice(src);
                }
            }
            at = at.max(e);
            if at >= kept_end {
                break;
            }
        }
        // Merge [start, kept_end) into the sorted range list.
        let (mut s, mut e) = (start, kept_end);
        self.have.retain(|&(a, b)| {
            if a <= e && s <= b {
                s = s.min(a);
                e = e.max(b);
                false
            } else {
                true
            }
        });
        let pos = self.have.partition_point(|&(a, _)| a < s);
        self.have.insert(pos, (s, e));
        whole
    }

    /// Bytes available in order from the start of the stream.
    fn contiguous(&self) -> usize {
        match self.have.first() {
            Some(&(0, e)) => e,
            _ => 0,
        }
    }

    /// The next complete handshake message (type, body), if it has arrived.
    fn next_message(&mut self) -> Option<(u8, &[u8])> {
        let start = self.consumed;
        let avail = self.buf.get(start..self.contiguous())?;
        let [ty, a, b, c, ..] = *avail else {
            return None;
        };
        let len = u32::from_be_bytes([0, a, b, c]) as usize;
        let end = start.checked_add(4)?.checked_add(len)?;
        if end > self.contiguous() {
            return None;
        }
        self.consumed = end;
        Some((ty, self.buf.get(start + 4..end)?))
    }

    /// A message has started that can never complete under [`MAX_CRYPTO_BYTES`].
    fn message_exceeds_cap(&self) -> bool {
        let Some([_, a, b, c]) = self.buf.get(self.consumed..self.consumed + 4) else {
            return false;
        };
        self.contiguous() >= self.consumed + 4
            && self.consumed + 4 + u32::from_be_bytes([0, *a, *b, *c]) as usize > MAX_CRYPTO_BYTES
    }
}

/// One side's receive state.
#[derive(Debug, Default)]
struct Side {
    crypto: CryptoStream,
    largest_pn: Option<u64>,
    /// An Initial of this side has decrypted.
    decrypted: bool,
    /// A decryption failure was reported.
    reported_failure: bool,
}

/// A CONNECTION_CLOSE seen in an Initial packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionClose {
    pub frame: u64,
    pub from_client: bool,
    /// Transport error code (0x0100–0x01ff: a TLS alert, RFC 9001 §4.8) or application code.
    pub code: u64,
    /// The frame type that caused a transport error; None for an application close (0x1d).
    pub frame_type: Option<u64>,
    pub reason: String,
}

/// Where the keys of a client Initial come from, judged by its Destination Connection ID.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ClientDcid {
    /// One of this attempt's IDs: decrypt with keys from this DCID.
    Known(Vec<u8>),
    /// The first Initial (or a fresh start after Version Negotiation / nothing decrypted yet).
    Start,
    /// Another connection on the same 5-tuple.
    Other,
}

/// State of one QUIC connection attempt seen on a UDP 5-tuple (both directions).
#[derive(Debug, Default)]
pub struct QuicConn {
    /// The version of the client's Initial, or the server's when it switched (RFC 9368).
    pub version: Option<u32>,
    /// The original Destination Connection ID: the one of the client's first Initial.
    pub client_dcid: Vec<u8>,
    pub client_scid: Vec<u8>,
    pub server_scid: Vec<u8>,
    /// The server sent a Retry (that verified, for v1 and v2).
    pub retry: bool,
    /// The Source Connection ID of the Retry: the client's next DCID, and the key source.
    pub retry_scid: Option<Vec<u8>>,
    /// Versions a Version Negotiation packet offered.
    pub version_negotiation: Option<Vec<u32>>,
    pub client_events: Vec<Located>,
    pub server_events: Vec<Located>,
    /// The first CONNECTION_CLOSE seen in an Initial.
    pub connection_close: Option<ConnectionClose>,
    /// Initial packets that did not decrypt with this attempt's keys.
    pub undecryptable_packets: u64,
    /// Client Initials of another connection attempt on the same 5-tuple, ignored.
    pub other_connection_packets: u64,
    client: Side,
    server: Side,
    /// DCID the Initial keys derive from (original DCID, or the Retry's SCID).
    key_dcid: Option<Vec<u8>>,
    keys: Vec<KeySet>,
    client_hello: bool,
    /// A ServerHello that is not a HelloRetryRequest.
    server_hello: bool,
}

impl QuicConn {
    /// One UDP datagram; `from_client` says the direction (the sender of the first Initial is
    /// the client).
    pub fn datagram(&mut self, from_client: bool, payload: &[u8], origin: Origin) {
        let mut rest = payload;
        for _ in 0..MAX_COALESCED {
            match split_packet(rest) {
                Split::End => return,
                Split::Negotiation(h) => {
                    if !from_client {
                        self.version_negotiation(&h);
                    }
                    return;
                }
                Split::Retry(h, f) => {
                    if !from_client {
                        self.on_retry(&h, f, rest, origin);
                    }
                    return;
                }
                Split::Truncated { initial } => {
                    self.undecryptable_packets += u64::from(initial);
                    return;
                }
                Split::Packet {
                    h,
                    initial,
                    bytes,
                    pn_offset,
                } => {
                    if initial {
                        self.initial(from_client, &h, bytes, pn_offset, origin);
                    }
                    rest = rest.get(bytes.len()..).unwrap_or_default();
                }
            }
        }
    }

    /// True once both hellos were found (or there is nothing more to learn): the caller stops
    /// feeding.
    pub fn done(&self) -> bool {
        (self.client_hello && self.server_hello) || self.connection_close.is_some()
    }

    /// True when the datagram starts with a client Initial of a different connection attempt
    /// (a Destination Connection ID this attempt never used, and the packet decrypts with the
    /// keys of its own DCID, not with this attempt's): the caller may follow it with a new
    /// `QuicConn`. `datagram` ignores such packets.
    pub fn is_other_connection(&self, from_client: bool, payload: &[u8]) -> bool {
        match split_packet(payload) {
            Split::Packet {
                h,
                initial: true,
                bytes,
                pn_offset,
            } if from_client => {
                self.classify_client_initial(&h, bytes, pn_offset) == ClientDcid::Other
            }
            _ => false,
        }
    }

    fn classify_client_initial(
        &self,
        h: &LongHeader<'_>,
        packet: &[u8],
        pn_offset: usize,
    ) -> ClientDcid {
        let dcid = h.dcid;
        let Some(key_dcid) = &self.key_dcid else {
            return ClientDcid::Start;
        };
        if dcid == key_dcid.as_slice()
            || dcid == self.client_dcid.as_slice()
            || self.retry_scid.as_deref() == Some(dcid)
        {
            // Before and after a Retry, a packet's keys come from the DCID it carries.
            ClientDcid::Known(dcid.to_vec())
        } else if !self.server_scid.is_empty() && dcid == self.server_scid.as_slice() {
            // After the server's first Initial the client addresses the server's SCID but keeps
            // the Initial keys (RFC 9000 §7.2, RFC 9001 §5.2).
            ClientDcid::Known(key_dcid.clone())
        } else if !self.client.decrypted
            || (self.version_negotiation.is_some() && !self.client_hello)
        {
            // Nothing learned yet, or a new attempt after Version Negotiation (RFC 9000 §6.2).
            ClientDcid::Start
        } else {
            // An unknown DCID. It may be the server's SCID of a server Initial the capture
            // missed (then this attempt's keys open it), another connection (then its own DCID's
            // keys do), or neither: only the second is another connection. Rare, so the keys
            // are derived on the spot rather than cached.
            let opens = |key_source: &[u8]| {
                initial_key_material(h.version, key_source)
                    .and_then(|(c, _)| DirKeys::new(&c))
                    .and_then(|k| open_packet(&k, packet, pn_offset, self.client.largest_pn))
                    .is_some()
            };
            if !opens(key_dcid) && opens(dcid) {
                ClientDcid::Other
            } else {
                ClientDcid::Known(key_dcid.clone())
            }
        }
    }

    fn key_set(&mut self, v: u32, dcid: &[u8]) -> Option<&KeySet> {
        let pos = match self
            .keys
            .iter()
            .position(|k| k.version == v && k.dcid == dcid)
        {
            Some(p) => p,
            None => {
                let (c, s) = initial_key_material(v, dcid)?;
                if self.keys.len() >= MAX_KEY_SETS {
                    self.keys.remove(0);
                }
                self.keys.push(KeySet {
                    version: v,
                    dcid: dcid.to_vec(),
                    client: DirKeys::new(&c)?,
                    server: DirKeys::new(&s)?,
                });
                self.keys.len() - 1
            }
        };
        self.keys.get(pos)
    }

    fn initial(
        &mut self,
        from_client: bool,
        h: &LongHeader<'_>,
        packet: &[u8],
        pn_offset: usize,
        origin: Origin,
    ) {
        let key_dcid = if from_client {
            match self.classify_client_initial(h, packet, pn_offset) {
                ClientDcid::Known(d) => d,
                ClientDcid::Start => {
                    self.start(h);
                    h.dcid.to_vec()
                }
                ClientDcid::Other => {
                    self.other_connection_packets += 1;
                    return;
                }
            }
        } else {
            let Some(d) = self.key_dcid.clone() else {
                // No client Initial seen: the keys are not derivable.
                self.undecryptable_packets += 1;
                return;
            };
            // The server addresses the client's SCID; anything else answers another attempt.
            if h.dcid != self.client_scid.as_slice()
                || (!self.server_scid.is_empty() && h.scid != self.server_scid.as_slice())
            {
                self.other_connection_packets += 1;
                return;
            }
            d
        };
        let largest = if from_client {
            self.client.largest_pn
        } else {
            self.server.largest_pn
        };
        let opened = self.key_set(h.version, &key_dcid).and_then(|k| {
            let keys = if from_client { &k.client } else { &k.server };
            open_packet(keys, packet, pn_offset, largest)
        });
        let Some((pn, plain)) = opened else {
            self.undecryptable_packets += 1;
            let side = if from_client {
                &mut self.client
            } else {
                &mut self.server
            };
            if !side.reported_failure {
                side.reported_failure = true;
                let who = if from_client { "client" } else { "server" };
                self.push(
                    from_client,
                    origin,
                    Event::Malformed(format!(
                        "QUIC {who} Initial packet does not decrypt with the Initial keys of DCID {}",
                        hex(&key_dcid)
                    )),
                );
            }
            return;
        };
        if from_client {
            self.client.decrypted = true;
            self.client.largest_pn = Some(largest.map_or(pn, |l| l.max(pn)));
            if self.version.is_none() {
                self.version = Some(h.version);
            }
        } else {
            self.server.decrypted = true;
            self.server.largest_pn = Some(largest.map_or(pn, |l| l.max(pn)));
            if self.server_scid.is_empty() {
                self.server_scid = h.scid.to_vec();
            }
            // A server may answer in another compatible version (RFC 9368).
            self.version = Some(h.version);
        }
        let (frames, problem) = initial_frames(&plain);
        let mut capped = false;
        for frame in frames {
            match frame {
                InitialFrame::Crypto { offset, data } => {
                    let side = if from_client {
                        &mut self.client
                    } else {
                        &mut self.server
                    };
                    capped |= !side.crypto.insert(offset, data);
                }
                InitialFrame::Close {
                    code,
                    frame_type,
                    reason,
                } => self.on_close(from_client, code, frame_type, reason, origin),
            }
        }
        if let Some(p) = problem {
            self.push(
                from_client,
                origin,
                Event::Malformed(format!("QUIC Initial packet {pn}: {p}")),
            );
        }
        self.drain_messages(from_client, capped, origin);
    }

    /// The client's first Initial of this attempt (or a fresh one after Version Negotiation).
    fn start(&mut self, h: &LongHeader<'_>) {
        self.version = Some(h.version);
        self.client_dcid = h.dcid.to_vec();
        self.client_scid = h.scid.to_vec();
        self.key_dcid = Some(h.dcid.to_vec());
        self.client = Side::default();
    }

    fn drain_messages(&mut self, from_client: bool, capped: bool, origin: Origin) {
        let mut found = Vec::new();
        {
            let side = if from_client {
                &mut self.client
            } else {
                &mut self.server
            };
            while let Some((ty, body)) = side.crypto.next_message() {
                let event = match (from_client, ty) {
                    (true, tls::hs::CLIENT_HELLO) => match tls::parse_client_hello(body) {
                        Ok(ch) => Event::ClientHello(Box::new(ch)),
                        Err(e) => Event::Malformed(format!("QUIC ClientHello: {e}")),
                    },
                    (false, tls::hs::SERVER_HELLO) => match tls::parse_server_hello(body) {
                        Ok(sh) => Event::ServerHello(Box::new(sh)),
                        Err(e) => Event::Malformed(format!("QUIC ServerHello: {e}")),
                    },
                    (_, t) => Event::Handshake(t),
                };
                found.push(event);
            }
            let over = (capped || side.crypto.message_exceeds_cap()) && !side.crypto.capped;
            if over {
                side.crypto.capped = true;
                found.push(Event::Malformed(format!(
                    "QUIC CRYPTO data past the {MAX_CRYPTO_BYTES}-byte cap (or in more than \
                     {MAX_CRYPTO_RANGES} pieces) was dropped"
                )));
            }
        }
        for event in found {
            match &event {
                Event::ClientHello(_) => self.client_hello = true,
                Event::ServerHello(sh) if !sh.hello_retry_request => self.server_hello = true,
                _ => {}
            }
            self.push(from_client, origin, event);
        }
    }

    fn on_close(
        &mut self,
        from_client: bool,
        code: u64,
        frame_type: Option<u64>,
        reason: &[u8],
        origin: Origin,
    ) {
        // CRYPTO_ERROR 0x0100–0x01ff carries a TLS alert (RFC 9001 §4.8).
        if frame_type.is_some() && (0x0100..=0x01ff).contains(&code) {
            self.push(
                from_client,
                origin,
                Event::Alert {
                    level: Some(2),
                    description: u8::try_from(code - 0x0100).ok(),
                    encrypted: false,
                },
            );
        }
        if self.connection_close.is_none() {
            self.connection_close = Some(ConnectionClose {
                frame: origin.frame,
                from_client,
                code,
                frame_type,
                reason: String::from_utf8_lossy(reason.get(..MAX_CLOSE_REASON).unwrap_or(reason))
                    .into_owned(),
            });
        }
    }

    fn version_negotiation(&mut self, h: &LongHeader<'_>) {
        // It answers the client's Initial: DCID = the client's SCID (RFC 9000 §17.2.1). When that
        // Initial was in a version this parser does not know, the echo is all there is: take
        // the client's connection IDs from it.
        match self.key_dcid {
            None if self.client_scid.is_empty() && self.client_dcid.is_empty() => {
                self.client_scid = h.dcid.to_vec();
                self.client_dcid = h.scid.to_vec();
            }
            Some(_) if h.dcid == self.client_scid.as_slice() => {}
            _ => return,
        }
        let versions = h
            .rest
            .chunks_exact(4)
            .filter_map(|c| <[u8; 4]>::try_from(c).ok())
            .map(u32::from_be_bytes)
            .take(MAX_OFFERED_VERSIONS)
            .collect();
        self.version_negotiation = Some(versions);
    }

    fn on_retry(&mut self, h: &LongHeader<'_>, f: Flavor, packet: &[u8], origin: Origin) {
        // A client accepts one Retry, addressed to it (RFC 9000 §17.2.5.2).
        let Some(odcid) = self.key_dcid.clone() else {
            return;
        };
        if self.retry || self.server.decrypted || h.dcid != self.client_scid.as_slice() {
            return;
        }
        if let Some((key, nonce)) = f.retry_integrity {
            if !retry_tag_ok(key, nonce, &odcid, packet) {
                self.push(
                    false,
                    origin,
                    Event::Malformed("QUIC Retry integrity tag does not verify".into()),
                );
                return;
            }
        }
        self.retry = true;
        self.retry_scid = Some(h.scid.to_vec());
        self.key_dcid = Some(h.scid.to_vec());
    }

    fn push(&mut self, from_client: bool, origin: Origin, event: Event) {
        let events = if from_client {
            &mut self.client_events
        } else {
            &mut self.server_events
        };
        if events.len() < tls::MAX_EVENTS {
            events.push(Located {
                frame: origin.frame,
                ts: origin.ts,
                event,
            });
        }
    }
}

/// The Retry Integrity Tag (RFC 9001 §5.8): AES-128-GCM over the Retry Pseudo-Packet.
fn retry_tag_ok(key: &[u8; 16], nonce: &[u8; 12], odcid: &[u8], packet: &[u8]) -> bool {
    let Some(body_len) = packet.len().checked_sub(TAG_LEN) else {
        return false;
    };
    let (body, tag) = packet.split_at(body_len);
    let Ok(odcid_len) = u8::try_from(odcid.len()) else {
        return false;
    };
    let mut pseudo = Vec::with_capacity(1 + odcid.len() + body.len());
    pseudo.push(odcid_len);
    pseudo.extend_from_slice(odcid);
    pseudo.extend_from_slice(body);
    let Ok(unbound) = aead::UnboundKey::new(&aead::AES_128_GCM, key) else {
        return false;
    };
    aead::LessSafeKey::new(unbound)
        .seal_in_place_separate_tag(
            aead::Nonce::assume_unique_for_key(*nonce),
            aead::Aad::from(pseudo.as_slice()),
            &mut [],
        )
        .is_ok_and(|t| t.as_ref() == tag)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Timestamp;
    use std::collections::HashMap;
    use std::net::IpAddr;
    use std::path::Path;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    fn origin(frame: u64) -> Origin {
        Origin {
            frame,
            ts: Timestamp(0),
        }
    }

    const DCID: &str = "8394c8f03e515708";

    /// RFC 9001 Appendix A.2, the protected client Initial (1200 bytes).
    const A2_CLIENT_INITIAL: &str = "
        c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11
        d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399
        1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c
        8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212
        30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5
        457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208
        4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec
        4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3
        485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db
        059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c
        7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8
        9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556
        be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74
        68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a
        c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00
        f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632
        291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964
        25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd
        14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff
        ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198
        e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd
        c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73
        203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f
        cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e
        fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade
        a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047
        90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2
        162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4
        40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0
        6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e
        8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0
        be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400
        54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab
        760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9
        f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4
        056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064
        7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241
        e221af44860018ab0856972e194cd934";

    /// RFC 9001 Appendix A.3, the protected server Initial.
    const A3_SERVER_INITIAL: &str = "
        cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a
        5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3
        dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84
        022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4
        2158407dd074ee";

    /// RFC 9001 Appendix A.4, a Retry answering the A.2 Initial.
    const A4_RETRY: &str =
        "ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba";

    /// RFC 9369 Appendix A.2, the v2 client Initial.
    const V2_CLIENT_INITIAL: &str = "
        d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485
        dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04
        9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d
        250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a
        12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500
        cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68
        18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33
        12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3
        d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd
        6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520
        bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045
        636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f
        ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12
        16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5
        4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4
        fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b
        8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7
        14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9
        9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91
        abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd
        80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db
        848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18
        d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15
        c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc
        7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61
        f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710
        10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b
        3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e
        06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce
        8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1
        34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1
        e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd
        5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3
        8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89
        d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53
        6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19
        9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b
        a18b2faa745b6fe189cf772a9f84cbfc";

    /// RFC 9369 Appendix A.3, the v2 server Initial.
    const V2_SERVER_INITIAL: &str = "
        dc6b3343cf0008f067a5502a4262b5004075d92faaf16f05d8a4398c47089698
        baeea26b91eb761d9b89237bbf87263017915358230035f7fd3945d88965cf17
        f9af6e16886c61bfc703106fbaf3cb4cfa52382dd16a393e42757507698075b2
        c984c707f0a0812d8cd5a6881eaf21ceda98f4bd23f6fe1a3e2c43edd9ce7ca8
        4bed8521e2e140";

    /// RFC 9369 Appendix A.4.
    const V2_RETRY: &str =
        "cf6b3343cf0008f067a5502a4262b5746f6b656ec8646ce8bfe33952d955543665dcc7b6";

    fn client_hello(events: &[Located]) -> Option<(&tls::ClientHello, u64)> {
        events.iter().find_map(|e| match &e.event {
            Event::ClientHello(ch) => Some((&**ch, e.frame)),
            _ => None,
        })
    }

    fn server_hello(events: &[Located]) -> Option<(&tls::ServerHello, u64)> {
        events.iter().find_map(|e| match &e.event {
            Event::ServerHello(sh) => Some((&**sh, e.frame)),
            _ => None,
        })
    }

    fn assert_rfc_client_hello(conn: &QuicConn) {
        let (ch, frame) = client_hello(&conn.client_events).expect("a ClientHello");
        assert_eq!(frame, 1);
        assert_eq!(ch.legacy_version, 0x0303);
        assert_eq!(ch.cipher_suites, vec![0x1301, 0x1302]);
        assert_eq!(ch.sni.as_deref(), Some("example.com"));
        assert_eq!(ch.alpn, vec!["alpn".to_string()]);
        assert_eq!(ch.supported_versions, vec![0x0304]);
        assert_eq!(ch.key_share_groups, vec![0x001d]);
        // quic_transport_parameters (57) is kept as an extension like any other.
        assert!(ch.extensions.contains(&57), "{:?}", ch.extensions);
    }

    #[test]
    fn rfc9001_a1_initial_keys_are_derived_from_the_client_dcid() {
        let (c, s) = initial_key_material(version::V1, &unhex(DCID)).unwrap();
        assert_eq!(c.key.to_vec(), unhex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(c.iv.to_vec(), unhex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(c.hp.to_vec(), unhex("9f50449e04a0e810283a1e9933adedd2"));
        assert_eq!(s.key.to_vec(), unhex("cf3a5331653c364c88f0f379b6067e37"));
        assert_eq!(s.iv.to_vec(), unhex("0ac1493ca1905853b0bba03e"));
        assert_eq!(s.hp.to_vec(), unhex("c206b8d9b9f0f37644430b490eeaa314"));
    }

    #[test]
    fn rfc9369_v2_initial_keys_use_the_v2_salt_and_labels() {
        let (c, s) = initial_key_material(version::V2, &unhex(DCID)).unwrap();
        assert_eq!(c.key.to_vec(), unhex("8b1a0bc121284290a29e0971b5cd045d"));
        assert_eq!(c.iv.to_vec(), unhex("91f73e2351d8fa91660e909f"));
        assert_eq!(c.hp.to_vec(), unhex("45b95e15235d6f45a6b19cbcb0294ba9"));
        assert_eq!(s.key.to_vec(), unhex("82db637861d55e1d011f19ea71d5d2a7"));
        assert_eq!(s.iv.to_vec(), unhex("dd13c276499c0249d3310652"));
        assert_eq!(s.hp.to_vec(), unhex("edf6d05c83121201b436e16877593c3a"));
    }

    #[test]
    fn rfc9001_a2_client_initial_decrypts_to_the_example_client_hello() {
        let packet = unhex(A2_CLIENT_INITIAL);
        assert_eq!(packet.len(), 1200);
        assert!(looks_like_quic(&packet));
        assert!(is_initial(&packet));
        let mut conn = QuicConn::default();
        conn.datagram(true, &packet, origin(1));
        assert_eq!(conn.version, Some(version::V1));
        assert_eq!(conn.client_dcid, unhex(DCID));
        assert!(conn.client_scid.is_empty());
        assert_eq!(conn.client.largest_pn, Some(2));
        assert_rfc_client_hello(&conn);
        assert!(!conn.done());
    }

    #[test]
    fn rfc9001_a3_server_initial_gives_a_server_hello_with_cipher_0x1301() {
        let mut conn = QuicConn::default();
        conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(1));
        conn.datagram(false, &unhex(A3_SERVER_INITIAL), origin(2));
        let (sh, frame) = server_hello(&conn.server_events).expect("a ServerHello");
        assert_eq!(frame, 2);
        assert_eq!(sh.cipher_suite, 0x1301);
        assert_eq!(sh.version, 0x0304);
        assert_eq!(sh.key_share_group, Some(0x001d));
        assert_eq!(conn.server_scid, unhex("f067a5502a4262b5"));
        assert_eq!(conn.server.largest_pn, Some(1));
        assert!(conn.done());
    }

    #[test]
    fn rfc9369_v2_client_and_server_initials_decrypt() {
        let client = unhex(V2_CLIENT_INITIAL);
        assert_eq!(client.len(), 1200);
        assert!(is_initial(&client));
        let mut conn = QuicConn::default();
        conn.datagram(true, &client, origin(1));
        assert_eq!(conn.version, Some(version::V2));
        assert_rfc_client_hello(&conn);
        conn.datagram(false, &unhex(V2_SERVER_INITIAL), origin(2));
        let (sh, _) = server_hello(&conn.server_events).expect("a ServerHello");
        assert_eq!(sh.cipher_suite, 0x1301);
        assert!(conn.done());
    }

    #[test]
    fn retry_integrity_tags_of_rfc9001_and_rfc9369_verify() {
        let odcid = unhex(DCID);
        assert!(retry_tag_ok(
            &RETRY_V1.0,
            &RETRY_V1.1,
            &odcid,
            &unhex(A4_RETRY)
        ));
        assert!(retry_tag_ok(
            &RETRY_V2.0,
            &RETRY_V2.1,
            &odcid,
            &unhex(V2_RETRY)
        ));
        let mut bad = unhex(A4_RETRY);
        if let Some(b) = bad.get_mut(20) {
            *b ^= 1;
        }
        assert!(!retry_tag_ok(&RETRY_V1.0, &RETRY_V1.1, &odcid, &bad));
        assert!(!retry_tag_ok(&RETRY_V1.0, &RETRY_V1.1, &odcid, &[0; 10]));
    }

    #[test]
    fn rfc_retry_is_recorded_and_a_forged_one_is_not() {
        let mut conn = QuicConn::default();
        conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(1));
        let mut forged = unhex(A4_RETRY);
        if let Some(b) = forged.last_mut() {
            *b ^= 1;
        }
        conn.datagram(false, &forged, origin(2));
        assert!(!conn.retry);
        assert!(matches!(
            conn.server_events.last().map(|e| &e.event),
            Some(Event::Malformed(_))
        ));
        conn.datagram(false, &unhex(A4_RETRY), origin(3));
        assert!(conn.retry);
        assert_eq!(conn.retry_scid, Some(unhex("f067a5502a4262b5")));
        // The client keeps its original DCID as the record of the attempt.
        assert_eq!(conn.client_dcid, unhex(DCID));
    }

    // ---- A sealer for synthetic packets (the inverse of `open_packet`). ----

    fn enc_varint(v: u64) -> Vec<u8> {
        match v {
            0..=63 => vec![v as u8],
            64..=16383 => (0x4000 | v as u16).to_be_bytes().to_vec(),
            _ => (0x8000_0000 | v as u32).to_be_bytes().to_vec(),
        }
    }

    fn crypto(offset: u64, data: &[u8]) -> Vec<u8> {
        let mut f = vec![0x06];
        f.extend(enc_varint(offset));
        f.extend(enc_varint(data.len() as u64));
        f.extend_from_slice(data);
        f
    }

    struct Seal<'a> {
        version: u32,
        key_dcid: &'a [u8],
        from_client: bool,
        dcid: &'a [u8],
        scid: &'a [u8],
        pn: u64,
    }

    impl Seal<'_> {
        fn initial(&self, payload: &[u8]) -> Vec<u8> {
            let f = flavor(self.version).unwrap();
            let (c, s) = initial_key_material(self.version, self.key_dcid).unwrap();
            let keys = DirKeys::new(if self.from_client { &c } else { &s }).unwrap();
            let mut payload = payload.to_vec();
            // Enough bytes for the header protection sample.
            payload.resize(payload.len().max(20), 0);
            let mut p = vec![0xc0 | (f.initial_type << 4) | 0x03];
            p.extend(self.version.to_be_bytes());
            p.push(self.dcid.len() as u8);
            p.extend_from_slice(self.dcid);
            p.push(self.scid.len() as u8);
            p.extend_from_slice(self.scid);
            p.push(0); // token length
            p.extend((0x4000u16 | (4 + payload.len() + TAG_LEN) as u16).to_be_bytes());
            let pn_offset = p.len();
            p.extend((self.pn as u32).to_be_bytes());
            let mut nonce = keys.iv;
            for (n, b) in nonce.iter_mut().rev().zip(self.pn.to_le_bytes()) {
                *n ^= b;
            }
            let tag = keys
                .aead
                .seal_in_place_separate_tag(
                    aead::Nonce::assume_unique_for_key(nonce),
                    aead::Aad::from(p.clone()),
                    &mut payload,
                )
                .unwrap();
            p.extend(payload);
            p.extend_from_slice(tag.as_ref());
            let mask = keys
                .hp
                .new_mask(&p[pn_offset + 4..pn_offset + 4 + SAMPLE_LEN])
                .unwrap();
            p[0] ^= mask[0] & 0x0f;
            for i in 0..4 {
                p[pn_offset + i] ^= mask[1 + i];
            }
            p
        }
    }

    /// The ClientHello of RFC 9001 A.2 as a handshake message (type, length, body).
    fn rfc_client_hello_message() -> Vec<u8> {
        let mut conn = QuicConn::default();
        conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(1));
        conn.client.crypto.buf[..conn.client.crypto.contiguous()].to_vec()
    }

    fn rfc_server_hello_message() -> Vec<u8> {
        let mut conn = QuicConn::default();
        conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(1));
        conn.datagram(false, &unhex(A3_SERVER_INITIAL), origin(2));
        conn.server.crypto.buf[..conn.server.crypto.contiguous()].to_vec()
    }

    #[test]
    fn sealer_reproduces_the_rfc_client_initial() {
        // The synthetic tests below are only as good as the sealer: check it against A.2.
        let a2 = unhex(A2_CLIENT_INITIAL);
        let dcid = unhex(DCID);
        let mut conn = QuicConn::default();
        conn.datagram(true, &a2, origin(1));
        let sealed = Seal {
            version: version::V1,
            key_dcid: &dcid,
            from_client: true,
            dcid: &dcid,
            scid: &[],
            pn: 2,
        }
        .initial(&crypto(0, &rfc_client_hello_message()));
        let mut again = QuicConn::default();
        again.datagram(true, &sealed, origin(1));
        assert_rfc_client_hello(&again);
    }

    #[test]
    fn client_hello_split_across_packets_out_of_order_with_overlap_is_reassembled() {
        let msg = rfc_client_hello_message();
        let dcid = unhex("0102030405060708");
        let seal = |pn, payload: &[u8]| {
            Seal {
                version: version::V1,
                key_dcid: &dcid,
                from_client: true,
                dcid: &dcid,
                scid: b"cli",
                pn,
            }
            .initial(payload)
        };
        // Three pieces: the back first, then the front, then the middle overlapping both;
        // PING, PADDING and an ACK with ECN counts between the frames.
        let mut p1 = vec![0x01, 0x00, 0x00];
        p1.extend(crypto(150, &msg[150..]));
        let mut p2 = vec![0x03, 0x05, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x02, 0x03];
        p2.extend(crypto(0, &msg[..100]));
        let p3 = crypto(90, &msg[90..160]);
        let mut conn = QuicConn::default();
        conn.datagram(true, &seal(0, &p1), origin(1));
        conn.datagram(true, &seal(1, &p2), origin(2));
        assert!(client_hello(&conn.client_events).is_none());
        conn.datagram(true, &seal(2, &p3), origin(3));
        let (ch, frame) = client_hello(&conn.client_events).expect("reassembled");
        assert_eq!(frame, 3, "the frame that completed the message");
        assert_eq!(ch.sni.as_deref(), Some("example.com"));
        assert_eq!(conn.client_scid, b"cli".to_vec());
        assert!(conn.client_events.len() == 1, "{:?}", conn.client_events);
    }

    #[test]
    fn coalesced_initial_and_handshake_packets_are_walked_and_short_headers_stop() {
        let mut conn = QuicConn::default();
        conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(1));
        // Server datagram: Initial, then a Handshake packet (type 2, opaque), then a short
        // header packet; all coalesced.
        let mut d = unhex(A3_SERVER_INITIAL);
        let mut hs = vec![0xe0, 0, 0, 0, 1, 0, 8];
        hs.extend(unhex("f067a5502a4262b5"));
        hs.extend([0x40, 30]);
        hs.extend([0xaa; 30]);
        d.extend(hs);
        d.extend([0x40, 1, 2, 3, 4, 5]);
        conn.datagram(false, &d, origin(2));
        assert!(server_hello(&conn.server_events).is_some());
        assert_eq!(conn.undecryptable_packets, 0);
    }

    #[test]
    fn a_second_connection_on_the_same_five_tuple_is_not_mixed_in() {
        let msg = rfc_client_hello_message();
        let d1 = unhex("1111111111111111");
        let d2 = unhex("2222222222222222");
        let mk = |dcid: &[u8], pn| {
            Seal {
                version: version::V1,
                key_dcid: dcid,
                from_client: true,
                dcid,
                scid: b"c",
                pn,
            }
            .initial(&crypto(0, &msg))
        };
        let mut conn = QuicConn::default();
        conn.datagram(true, &mk(&d1, 0), origin(1));
        let second = mk(&d2, 0);
        assert!(conn.is_other_connection(true, &second));
        assert!(!conn.is_other_connection(true, &mk(&d1, 1)));
        conn.datagram(true, &second, origin(2));
        assert_eq!(conn.other_connection_packets, 1);
        assert_eq!(conn.client_dcid, d1);
        assert_eq!(conn.client_events.len(), 1);
    }

    #[test]
    fn after_a_retry_both_sides_use_keys_from_the_retry_scid() {
        let msg = rfc_client_hello_message();
        let sh = rfc_server_hello_message();
        let odcid = unhex(DCID);
        let new = unhex("f067a5502a4262b5");
        let mut conn = QuicConn::default();
        // The first Initial is lost before the capture saw its end; only the header matters.
        let first = Seal {
            version: version::V1,
            key_dcid: &odcid,
            from_client: true,
            dcid: &odcid,
            scid: &[],
            pn: 0,
        }
        .initial(&crypto(0, &msg[..50]));
        conn.datagram(true, &first, origin(1));
        conn.datagram(false, &unhex(A4_RETRY), origin(2));
        assert!(conn.retry);
        let second = Seal {
            version: version::V1,
            key_dcid: &new,
            from_client: true,
            dcid: &new,
            scid: &[],
            pn: 1,
        }
        .initial(&crypto(0, &msg));
        conn.datagram(true, &second, origin(3));
        assert_eq!(client_hello(&conn.client_events).map(|c| c.1), Some(3));
        let server = Seal {
            version: version::V1,
            key_dcid: &new,
            from_client: false,
            dcid: &[],
            scid: b"srv",
            pn: 0,
        }
        .initial(&crypto(0, &sh));
        conn.datagram(false, &server, origin(4));
        assert_eq!(server_hello(&conn.server_events).map(|s| s.1), Some(4));
        assert_eq!(conn.server_scid, b"srv".to_vec());
        assert_eq!(conn.client_dcid, odcid);
        assert!(conn.done());
    }

    #[test]
    fn client_initials_addressed_to_the_server_scid_keep_the_original_keys() {
        let odcid = unhex(DCID);
        let mut conn = QuicConn::default();
        conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(1));
        conn.datagram(false, &unhex(A3_SERVER_INITIAL), origin(2));
        let ack_only = Seal {
            version: version::V1,
            key_dcid: &odcid,
            from_client: true,
            dcid: &unhex("f067a5502a4262b5"),
            scid: &[],
            pn: 3,
        }
        .initial(&[0x02, 0x01, 0x00, 0x00, 0x01]);
        assert!(!conn.is_other_connection(true, &ack_only));
        conn.datagram(true, &ack_only, origin(3));
        assert_eq!(conn.undecryptable_packets, 0);
        assert_eq!(conn.client.largest_pn, Some(3));
    }

    #[test]
    fn client_initial_to_a_server_scid_the_capture_missed_is_still_this_connection() {
        let odcid = unhex(DCID);
        let mut conn = QuicConn::default();
        conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(1));
        // The server's Initial (SCID "unseen!") was not captured; the client's next Initial
        // addresses that SCID with the original keys.
        let ack = Seal {
            version: version::V1,
            key_dcid: &odcid,
            from_client: true,
            dcid: b"unseen!",
            scid: &[],
            pn: 3,
        }
        .initial(&[0x02, 0x00, 0x00, 0x00, 0x00]);
        assert!(!conn.is_other_connection(true, &ack));
        conn.datagram(true, &ack, origin(2));
        assert_eq!(conn.other_connection_packets, 0);
        assert_eq!(conn.undecryptable_packets, 0);
        assert_eq!(conn.client.largest_pn, Some(3));
    }

    #[test]
    fn version_negotiation_is_recorded_and_a_new_attempt_starts_over() {
        let mut conn = QuicConn::default();
        // A client Initial of a version the server does not speak but this module does.
        let d = unhex("0a0b0c0d");
        let draft = Seal {
            version: version::DRAFT_29,
            key_dcid: &d,
            from_client: true,
            dcid: &d,
            scid: b"cc",
            pn: 0,
        }
        .initial(&[0x01]);
        conn.datagram(true, &draft, origin(1));
        let mut vn = vec![0x80, 0, 0, 0, 0, 2, b'c', b'c', 4];
        vn.extend(&d);
        vn.extend(1u32.to_be_bytes());
        vn.extend(version::V2.to_be_bytes());
        assert!(looks_like_quic(&vn));
        conn.datagram(false, &vn, origin(2));
        assert_eq!(
            conn.version_negotiation,
            Some(vec![version::V1, version::V2])
        );
        conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(3));
        assert_eq!(conn.client_dcid, unhex(DCID));
        assert_eq!(conn.version, Some(version::V1));
        assert!(client_hello(&conn.client_events).is_some());
    }

    #[test]
    fn draft_29_initials_decrypt_with_the_draft_salt() {
        let msg = rfc_client_hello_message();
        let d = unhex(DCID);
        let p = Seal {
            version: version::DRAFT_29,
            key_dcid: &d,
            from_client: true,
            dcid: &d,
            scid: &[],
            pn: 0,
        }
        .initial(&crypto(0, &msg));
        // The draft-29 salt gives other keys than v1's.
        let (v1, _) = initial_key_material(version::V1, &d).unwrap();
        let (d29, _) = initial_key_material(version::DRAFT_29, &d).unwrap();
        assert_ne!(v1, d29);
        let mut conn = QuicConn::default();
        conn.datagram(true, &p, origin(1));
        assert!(client_hello(&conn.client_events).is_some());
        assert_eq!(conn.version, Some(version::DRAFT_29));
    }

    #[test]
    fn connection_close_with_a_crypto_error_becomes_an_alert() {
        let d = unhex(DCID);
        let mut conn = QuicConn::default();
        conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(1));
        let mut close = vec![0x1c];
        close.extend(enc_varint(0x0128)); // handshake_failure
        close.extend([0x06, 0x03]);
        close.extend(b"bad");
        let p = Seal {
            version: version::V1,
            key_dcid: &d,
            from_client: false,
            dcid: &[],
            scid: b"s",
            pn: 0,
        }
        .initial(&close);
        conn.datagram(false, &p, origin(2));
        let c = conn.connection_close.clone().expect("a close");
        assert_eq!(
            (c.code, c.frame_type, c.reason.as_str()),
            (0x128, Some(6), "bad")
        );
        assert!(conn.server_events.iter().any(|e| e.event
            == Event::Alert {
                level: Some(2),
                description: Some(0x28),
                encrypted: false
            }));
        assert!(conn.done());
    }

    #[test]
    fn server_initial_without_a_client_initial_is_counted_not_decrypted() {
        let mut conn = QuicConn::default();
        conn.datagram(false, &unhex(A3_SERVER_INITIAL), origin(1));
        assert_eq!(conn.undecryptable_packets, 1);
        assert!(conn.server_events.is_empty());
    }

    #[test]
    fn header_protection_failure_is_reported_once() {
        let mut conn = QuicConn::default();
        let mut p = unhex(A2_CLIENT_INITIAL);
        p[40] ^= 0x55;
        conn.datagram(true, &p, origin(1));
        conn.datagram(true, &p, origin(2));
        assert_eq!(conn.undecryptable_packets, 2);
        assert_eq!(conn.client_events.len(), 1);
        assert!(matches!(conn.client_events[0].event, Event::Malformed(_)));
        // Nothing decrypted yet: the real packet still starts the attempt.
        conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(3));
        assert!(client_hello(&conn.client_events).is_some());
    }

    #[test]
    fn truncated_packets_at_every_length_do_not_panic() {
        for packet in [
            unhex(A2_CLIENT_INITIAL),
            unhex(A3_SERVER_INITIAL),
            unhex(A4_RETRY),
            unhex(V2_CLIENT_INITIAL),
        ] {
            for n in 0..=packet.len() {
                let cut = &packet[..n];
                let _ = looks_like_quic(cut);
                let _ = is_initial(cut);
                let mut conn = QuicConn::default();
                conn.datagram(true, &unhex(A2_CLIENT_INITIAL), origin(1));
                conn.datagram(true, cut, origin(2));
                conn.datagram(false, cut, origin(3));
                let mut fresh = QuicConn::default();
                fresh.datagram(true, cut, origin(1));
                if n < packet.len() && n > 0 && packet == unhex(A2_CLIENT_INITIAL) {
                    assert!(client_hello(&fresh.client_events).is_none());
                }
            }
        }
    }

    #[test]
    fn garbage_and_bit_flips_do_not_panic() {
        // A small xorshift generator: deterministic, no dependency.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let base = unhex(A2_CLIENT_INITIAL);
        for _ in 0..2000 {
            let mut p = base.clone();
            let flips = next() % 4 + 1;
            for _ in 0..flips {
                let i = (next() % p.len() as u64) as usize;
                p[i] ^= 1 << (next() % 8);
            }
            let mut conn = QuicConn::default();
            conn.datagram(true, &p, origin(1));
            conn.datagram(false, &p, origin(2));
        }
        for len in [0usize, 1, 5, 6, 7, 30, 100, 1300] {
            for _ in 0..50 {
                let mut p: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                if let Some(b) = p.first_mut() {
                    *b |= 0x80;
                }
                if p.len() > 5 && next() % 2 == 0 {
                    p[1..5].copy_from_slice(&1u32.to_be_bytes());
                }
                let _ = looks_like_quic(&p);
                let mut conn = QuicConn::default();
                conn.datagram(true, &p, origin(1));
                conn.datagram(false, &p, origin(2));
            }
        }
        // Frame walker on garbage plaintext.
        for _ in 0..2000 {
            let p: Vec<u8> = (0..(next() % 64)).map(|_| next() as u8).collect();
            let _ = initial_frames(&p);
        }
    }

    #[test]
    fn frame_walker_skips_ack_with_ecn_and_stops_at_frames_not_allowed_in_initials() {
        let mut p = vec![0x00, 0x00, 0x01];
        // ACK with ECN: largest 5, delay 0, 1 range, first 1, gap 0, len 1, ECN 1 2 3.
        p.extend([0x03, 0x05, 0x00, 0x01, 0x01, 0x00, 0x01, 0x01, 0x02, 0x03]);
        p.extend(crypto(7, b"abc"));
        p.push(0x08); // STREAM: not in an Initial.
        p.extend(crypto(0, b"zzz"));
        let (frames, problem) = initial_frames(&p);
        assert_eq!(
            frames,
            vec![InitialFrame::Crypto {
                offset: 7,
                data: b"abc"
            }]
        );
        assert_eq!(problem, Some("frame type not allowed in an Initial packet"));
        // A CRYPTO frame longer than the packet.
        let (frames, problem) = initial_frames(&[0x06, 0x00, 0x10, 0x61]);
        assert!(frames.is_empty());
        assert_eq!(problem, Some("CRYPTO frame longer than the packet"));
        // An ACK claiming 2^62 ranges ends with the bytes.
        let (_, problem) = initial_frames(&[
            0x02, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00,
        ]);
        assert_eq!(problem, Some("ACK frame cut short"));
    }

    #[test]
    fn varints_of_every_length_decode() {
        // RFC 9000 Appendix A.1 examples.
        assert_eq!(
            varint(&unhex("c2197c5eff14e88c")),
            Some((151_288_809_941_952_652, &[][..]))
        );
        assert_eq!(varint(&unhex("9d7f3e7d")), Some((494_878_333, &[][..])));
        assert_eq!(varint(&unhex("7bbd")), Some((15_293, &[][..])));
        assert_eq!(varint(&unhex("25")), Some((37, &[][..])));
        assert_eq!(varint(&unhex("4025")), Some((37, &[][..])));
        assert_eq!(varint(&unhex("c2197c")), None);
        assert_eq!(varint(&[]), None);
    }

    #[test]
    fn packet_numbers_decode_as_rfc9000_appendix_a3() {
        assert_eq!(
            decode_packet_number(Some(0xa82f30ea), 0x9b32, 16),
            0xa82f9b32
        );
        assert_eq!(decode_packet_number(None, 2, 32), 2);
        assert_eq!(decode_packet_number(Some(0xff), 0x01, 8), 0x101);
        // Nonsense input must not overflow.
        let _ = decode_packet_number(Some(u64::MAX), 0, 8);
    }

    #[test]
    fn crypto_stream_front_middle_back_overlap_and_caps() {
        let msg: Vec<u8> = [1u8, 0, 0, 6].iter().copied().chain(*b"abcdef").collect();
        let mut s = CryptoStream::default();
        assert!(s.insert(8, &msg[8..]));
        assert!(s.insert(0, &msg[..3]));
        assert_eq!(s.next_message(), None);
        // Overlapping retransmit with other bytes: the first copy wins.
        assert!(s.insert(2, b"\x00\x06XXXX"));
        let (ty, body) = s.next_message().expect("complete");
        assert_eq!((ty, body), (1, &b"XXXXef"[..]));
        let mut s = CryptoStream::default();
        assert!(s.insert(0, &msg[..3]));
        assert!(s.insert(3, &msg[3..8]));
        assert!(s.insert(5, &msg[5..]));
        assert_eq!(s.next_message(), Some((1, &b"abcdef"[..])));
        assert_eq!(s.next_message(), None);
        // Data past the byte cap is dropped.
        let mut s = CryptoStream::default();
        assert!(!s.insert(MAX_CRYPTO_BYTES as u64 - 2, b"abcd"));
        assert!(!s.insert(u64::MAX, b"a"));
        assert_eq!(s.buf.len(), MAX_CRYPTO_BYTES);
        // Too many holes.
        let mut s = CryptoStream::default();
        for i in 0..MAX_CRYPTO_RANGES as u64 {
            assert!(s.insert(10 + 3 * i, b"x"));
        }
        assert!(!s.insert(5000, b"x"));
        assert!(s.insert(0, &[0u8; 400]), "filling holes is always allowed");
        assert_eq!(s.have, vec![(0, 400)]);
        // A message announcing more than the cap can ever hold.
        let mut s = CryptoStream::default();
        s.insert(0, &[1, 0xff, 0xff, 0xff, 0]);
        assert!(s.message_exceeds_cap());
    }

    #[test]
    fn crypto_stream_matches_a_naive_model_under_random_fragments() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..300 {
            let len = (next() % 3000 + 10) as usize;
            let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let mut s = CryptoStream::default();
            let mut model = vec![None::<u8>; len];
            for _ in 0..40 {
                let a = (next() % len as u64) as usize;
                let b = (a + (next() % 200) as usize + 1).min(len);
                if s.insert(a as u64, &data[a..b]) {
                    for i in a..b {
                        model[i].get_or_insert(data[i]);
                    }
                } else {
                    assert!(s.have.len() >= MAX_CRYPTO_RANGES);
                }
            }
            let prefix = model.iter().take_while(|b| b.is_some()).count();
            assert_eq!(s.contiguous(), prefix);
            assert_eq!(&s.buf[..prefix], &data[..prefix]);
            let covered: usize = s.have.iter().map(|(a, b)| b - a).sum();
            assert_eq!(covered, model.iter().filter(|b| b.is_some()).count());
        }
    }

    // ---- The shared corpus, against tshark 4.0.17. ----

    type Key = (IpAddr, u16, IpAddr, u16);

    struct Tracked {
        client: (IpAddr, u16),
        conn: QuicConn,
    }

    /// Runs every UDP datagram of a capture through `QuicConn`s the way the pipeline does:
    /// per canonical 5-tuple, the sender of the first Initial is the client, a client Initial
    /// of another connection starts a new `QuicConn`, and a done one is fed no more.
    fn quic_connections(bytes: &[u8]) -> Vec<Tracked> {
        let mut by_tuple: HashMap<Key, Vec<usize>> = HashMap::new();
        let mut all: Vec<Tracked> = Vec::new();
        let _ = crate::capture::read_bytes("corpus", bytes, &mut |frame| {
            let Ok(pkt) = crate::net::decode(frame.link_type, frame.data) else {
                return;
            };
            let crate::net::Transport::Udp(udp) = pkt.transport else {
                return;
            };
            let a = (pkt.src, udp.src_port);
            let b = (pkt.dst, udp.dst_port);
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let key = (lo.0, lo.1, hi.0, hi.1);
            let o = Origin {
                frame: frame.number,
                ts: frame.ts,
            };
            let list = by_tuple.entry(key).or_default();
            let current = list.last().copied();
            let start_new = match current {
                None => is_initial(udp.payload),
                Some(i) => {
                    let t = &all[i];
                    t.conn.is_other_connection(t.client == a, udp.payload)
                }
            };
            if start_new {
                list.push(all.len());
                all.push(Tracked {
                    client: a,
                    conn: QuicConn::default(),
                });
            }
            if let Some(&i) = list.last() {
                let t = &mut all[i];
                if !t.conn.done() {
                    let from_client = t.client == a;
                    t.conn.datagram(from_client, udp.payload, o);
                }
            }
        });
        all
    }

    fn hexnum(v: &serde_json::Value) -> Option<u64> {
        match v {
            serde_json::Value::String(s) => {
                u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()
            }
            serde_json::Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    fn grease(v: u64) -> bool {
        v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
    }

    #[test]
    fn quic_captures_of_the_corpus_agree_with_tshark() {
        let corpus = Path::new("../shared/corpus");
        assert!(corpus.is_dir(), "the shared corpus is missing");
        let mut checks = 0usize;
        let mut mismatches: Vec<String> = Vec::new();
        let mut streams = 0usize;
        let (mut retries, mut undecryptable, mut other) = (0usize, 0u64, 0u64);
        let mut versions = std::collections::BTreeSet::new();
        let mut expected_files: Vec<_> = std::fs::read_dir(corpus)
            .unwrap()
            .flatten()
            .filter_map(|d| std::fs::read_dir(d.path().join("expected")).ok())
            .flat_map(|rd| rd.flatten().map(|e| e.path()))
            .collect();
        expected_files.sort();
        for ef in expected_files {
            let exp: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&ef).unwrap()).unwrap();
            let wanted: Vec<&serde_json::Value> = exp["expected"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["tool"].as_str().is_some_and(|t| t.starts_with("tshark")))
                .flat_map(|e| e["streams"].as_array().into_iter().flatten())
                .filter(|s| s["protocols"][0] == "quic")
                .filter(|s| !s["client_hellos"][0]["via"].is_null())
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let cap = corpus.join(exp["capture"].as_str().unwrap());
            let conns = quic_connections(&std::fs::read(&cap).unwrap());
            for t in &conns {
                retries += usize::from(t.conn.retry);
                undecryptable += t.conn.undecryptable_packets;
                other += t.conn.other_connection_packets;
                versions.insert(t.conn.version);
            }
            let name = exp["capture"].as_str().unwrap_or_default();
            if name.contains("retry") {
                assert!(
                    conns.iter().any(|t| t.conn.retry),
                    "{name}: no Retry followed"
                );
            }
            if name.contains("quicv2") {
                assert!(
                    conns.iter().any(|t| t.conn.version == Some(version::V2)),
                    "{name}"
                );
            }
            for s in wanted {
                streams += 1;
                let client: (IpAddr, u16) = (
                    s["client_ip"].as_str().unwrap().parse().unwrap(),
                    s["client_port"].as_u64().unwrap() as u16,
                );
                let where_ = format!(
                    "{} [{}:{}]",
                    exp["capture"].as_str().unwrap(),
                    client.0,
                    client.1
                );
                let mut check = |field: &str, good: bool, want: String, got: String| {
                    checks += 1;
                    if !good {
                        mismatches.push(format!("{where_}: {field}: expected {want}, got {got}"));
                    }
                };
                let found = conns.iter().find(|t| t.client == client);
                let ch = found
                    .and_then(|t| client_hello(&t.conn.client_events))
                    .map(|c| c.0);
                let want = &s["client_hellos"][0];
                check(
                    "connection+client_hello",
                    ch.is_some(),
                    "present".into(),
                    "absent".into(),
                );
                let Some(ch) = ch else {
                    continue;
                };
                let wsni = want["sni"].as_str().map(str::to_string);
                check(
                    "sni",
                    ch.sni == wsni,
                    format!("{wsni:?}"),
                    format!("{:?}", ch.sni),
                );
                let walpn: Vec<String> = want["alpn"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.as_str().map(str::to_string))
                    .collect();
                check(
                    "alpn",
                    ch.alpn == walpn,
                    format!("{walpn:?}"),
                    format!("{:?}", ch.alpn),
                );
                let wcs: Vec<u64> = want["cipher_suites"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(hexnum)
                    .collect();
                let gcs: Vec<u64> = ch.cipher_suites.iter().map(|&c| u64::from(c)).collect();
                check(
                    "cipher_suites",
                    gcs == wcs,
                    format!("{wcs:?}"),
                    format!("{gcs:?}"),
                );
                let mut wsv: Vec<u64> = want["supported_versions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(hexnum)
                    .filter(|&v| !grease(v))
                    .collect();
                wsv.sort();
                let mut gsv: Vec<u64> = ch
                    .supported_versions
                    .iter()
                    .map(|&v| u64::from(v))
                    .filter(|&v| !grease(v))
                    .collect();
                gsv.sort();
                check(
                    "supported_versions",
                    gsv == wsv,
                    format!("{wsv:?}"),
                    format!("{gsv:?}"),
                );
                let Some(ws) = s["server_hellos"].as_array().and_then(|a| a.first()) else {
                    continue;
                };
                if ws["hello_retry_request"].as_bool() == Some(true) {
                    continue;
                }
                let sh = found
                    .and_then(|t| server_hello(&t.conn.server_events))
                    .map(|s| s.0);
                let wver =
                    hexnum(&ws["selected_version"]).or_else(|| hexnum(&ws["legacy_version"]));
                let wcs = hexnum(&ws["cipher_suite"]);
                check(
                    "server_version",
                    sh.map(|s| u64::from(s.version)) == wver,
                    format!("{wver:?}"),
                    format!("{:?}", sh.map(|s| s.version)),
                );
                check(
                    "server_cipher",
                    sh.map(|s| u64::from(s.cipher_suite)) == wcs,
                    format!("{wcs:?}"),
                    format!("{:?}", sh.map(|s| s.cipher_suite)),
                );
            }
        }
        println!(
            "quic corpus: {}/{checks} checks agree over {streams} tshark QUIC streams",
            checks - mismatches.len()
        );
        println!(
            "quic corpus: versions {versions:x?}, {retries} Retry followed, {undecryptable} \
             Initials undecryptable, {other} Initials of other connections"
        );
        assert!(streams > 0);
        assert!(mismatches.is_empty(), "{mismatches:#?}");
    }
}
