//! crypto: a QUIC version and a Destination Connection ID in; the Initial keys of both
//! directions out, and with them one long-header packet opened (header protection removed,
//! packet number recovered, payload decrypted) or a Retry's integrity tag checked.
//!
//! Everything here is fixed by the specifications: the salt, HKDF labels and long-header type
//! bits of each known version ([`flavor`], which is also the list of versions this module
//! reads: v1, v2 and drafts 23–34), HKDF-Expand-Label (RFC 8446 §7.1) with ring's HKDF, the
//! Initial secrets (RFC 9001 §5.2), header protection (§5.4), AES-128-GCM (§5.3), packet
//! number recovery (RFC 9000 Appendix A.3) and the Retry Integrity Tag (RFC 9001 §5.8, RFC 9369
//! §3.3.3).
//!
//! With a key log, the same labels turn a TLS handshake traffic secret into the keys of the
//! Handshake packet space ([`DirKeys::from_secret`]), for the suite the ServerHello chose.
//!
//! No input makes it panic: a packet too short for the sample or the tag, or one that does not
//! authenticate, gives `None` (or `false` for a tag). It keeps no state (the connection caches
//! its key sets), does not find where packets start and end (that is `packet`), and does not
//! derive 1-RTT keys.

use super::{version, SAMPLE_LEN, TAG_LEN};
use crate::proto::crypto::{self as shared, expand_label};
use ring::aead::{self, quic as hp};
use ring::hkdf;

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
pub(super) const RETRY_V1: ([u8; 16], [u8; 12]) = (
    [
        0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8,
        0x4e,
    ],
    [
        0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb,
    ],
);
/// Retry integrity key and nonce, RFC 9369 §3.3.3.
pub(super) const RETRY_V2: ([u8; 16], [u8; 12]) = (
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
pub(super) struct Flavor {
    salt: &'static [u8; 20],
    /// HKDF labels for key, iv and hp.
    labels: [&'static [u8]; 3],
    /// Long-header type bits (after `>> 4 & 3`) of Initial and Retry.
    pub(super) initial_type: u8,
    pub(super) handshake_type: u8,
    pub(super) retry_type: u8,
    /// Retry integrity key and nonce; None where the drafts' values are not checked here.
    pub(super) retry_integrity: Option<&'static ([u8; 16], [u8; 12])>,
}

const V1_LABELS: [&[u8]; 3] = [b"quic key", b"quic iv", b"quic hp"];

pub(super) fn flavor(v: u32) -> Option<Flavor> {
    let v1 = |salt, retry_integrity| Flavor {
        salt,
        labels: V1_LABELS,
        initial_type: 0,
        handshake_type: 2,
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
            handshake_type: 3,
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

/// Key, IV and header protection key of one direction, as bytes (RFC 9001 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyMaterial {
    pub(super) key: [u8; 16],
    pub(super) iv: [u8; 12],
    pub(super) hp: [u8; 16],
}

/// Client and server Initial key material for a version and the client's DCID (RFC 9001 §5.2).
pub(super) fn initial_key_material(v: u32, dcid: &[u8]) -> Option<(KeyMaterial, KeyMaterial)> {
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
pub(super) struct DirKeys {
    pub(super) aead: aead::LessSafeKey,
    pub(super) iv: [u8; 12],
    pub(super) hp: hp::HeaderProtectionKey,
}

impl DirKeys {
    pub(super) fn new(m: &KeyMaterial) -> Option<Self> {
        Some(DirKeys {
            aead: aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &m.key).ok()?),
            iv: m.iv,
            hp: hp::HeaderProtectionKey::new(&hp::AES_128, &m.hp).ok()?,
        })
    }

    /// The keys of a packet space from a TLS traffic secret (RFC 9001 §5.1), for the AEAD of
    /// `suite`: AES-128/256-GCM or ChaCha20-Poly1305, the ones QUIC uses in practice.
    pub(super) fn from_secret(f: &Flavor, suite: u16, secret: &[u8]) -> Option<Self> {
        let (alg, hash) = shared::tls13_aead(suite)?;
        let (aead_alg, hp_alg) = match alg {
            shared::AeadAlg::Aes128Gcm => (&aead::AES_128_GCM, &hp::AES_128),
            shared::AeadAlg::Aes256Gcm => (&aead::AES_256_GCM, &hp::AES_256),
            shared::AeadAlg::ChaCha20Poly1305 => (&aead::CHACHA20_POLY1305, &hp::CHACHA20),
            _ => return None,
        };
        let [key_label, iv_label, hp_label] = f.labels;
        let key = shared::expand_secret(hash, secret, key_label, alg.key_len())?;
        let iv = shared::expand_secret(hash, secret, iv_label, 12)?
            .try_into()
            .ok()?;
        let hp_key = shared::expand_secret(hash, secret, hp_label, alg.key_len())?;
        Some(DirKeys {
            aead: aead::LessSafeKey::new(aead::UnboundKey::new(aead_alg, &key).ok()?),
            iv,
            hp: hp::HeaderProtectionKey::new(hp_alg, &hp_key).ok()?,
        })
    }
}

impl std::fmt::Debug for DirKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DirKeys(..)")
    }
}

/// The Initial keys of both directions for one (version, DCID).
pub(super) struct KeySet {
    pub(super) version: u32,
    pub(super) dcid: Vec<u8>,
    pub(super) client: DirKeys,
    pub(super) server: DirKeys,
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
pub(super) fn decode_packet_number(largest: Option<u64>, truncated: u64, bits: u32) -> u64 {
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
pub(super) fn open_packet(
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

/// The Retry Integrity Tag (RFC 9001 §5.8): AES-128-GCM over the Retry Pseudo-Packet.
pub(super) fn retry_tag_ok(key: &[u8; 16], nonce: &[u8; 12], odcid: &[u8], packet: &[u8]) -> bool {
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
