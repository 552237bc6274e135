//! crypto: secrets in; record and packet keys out, and protected bytes opened with them.
//!
//! The one place where keys are derived and records are decrypted, for TLS, DTLS and QUIC:
//! HKDF-Expand-Label (RFC 8446 §7.1) for TLS 1.3 traffic keys and QUIC packet keys (Initial,
//! and Handshake from a key log); the TLS PRF (RFC 5246 §5, and RFC 2246 §5's MD5/SHA-1 PRF
//! for TLS 1.0/1.1) for the TLS ≤ 1.2 key block; and the record protections found in real
//! captures: AES-GCM and ChaCha20-Poly1305 (ring), AES-CCM and CCM_8 (RustCrypto `ccm`, which
//! ring lacks), and CBC with HMAC-SHA1/SHA-256/SHA-384, MAC-then-encrypt or encrypt-then-MAC
//! (RustCrypto `cbc` with `aes`/`des`; the HMACs are ring's).
//!
//! Which suite uses what comes from tls-parser's cipher suite table ([`suite`]); where that
//! table is short (it does not tell CCM from CCM_8, and gives ChaCha20 a 128-bit key) it is
//! corrected here.
//!
//! No input makes it panic: a record too short for its IV, tag or MAC, a bad pad or a tag
//! that does not verify gives `None`. It keeps no state between calls except the TLS 1.0 CBC
//! IV chain, which its caller owns ([`RecordKeys::cbc_iv`]).

use aes::{Aes128, Aes256};
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use ccm::aead::{AeadInPlace, KeyInit};
use ccm::consts::{U12, U16, U8};
use ring::{aead, hkdf, hmac};
use tls_parser::{TlsCipherEnc, TlsCipherEncMode, TlsCipherMac, TlsCipherSuite, TlsPRF};

/// The hash of a TLS 1.3 suite's HKDF or a TLS 1.2 suite's PRF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
}

impl Hash {
    fn hkdf(self) -> hkdf::Algorithm {
        match self {
            Hash::Sha256 => hkdf::HKDF_SHA256,
            Hash::Sha384 => hkdf::HKDF_SHA384,
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Hash::Sha256 => hmac::HMAC_SHA256,
            Hash::Sha384 => hmac::HMAC_SHA384,
        }
    }
}

/// An AEAD algorithm of a TLS or QUIC suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeadAlg {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
    Aes128Ccm,
    Aes128Ccm8,
    Aes256Ccm,
    Aes256Ccm8,
}

impl AeadAlg {
    pub fn key_len(self) -> usize {
        match self {
            AeadAlg::Aes128Gcm | AeadAlg::Aes128Ccm | AeadAlg::Aes128Ccm8 => 16,
            _ => 32,
        }
    }

    pub fn tag_len(self) -> usize {
        match self {
            AeadAlg::Aes128Ccm8 | AeadAlg::Aes256Ccm8 => 8,
            _ => 16,
        }
    }
}

/// The MAC of a CBC suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mac {
    Sha1,
    Sha256,
    Sha384,
}

impl Mac {
    fn len(self) -> usize {
        match self {
            Mac::Sha1 => 20,
            Mac::Sha256 => 32,
            Mac::Sha384 => 48,
        }
    }

    fn algorithm(self) -> hmac::Algorithm {
        match self {
            Mac::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Mac::Sha256 => hmac::HMAC_SHA256,
            Mac::Sha384 => hmac::HMAC_SHA384,
        }
    }
}

/// The block cipher of a CBC suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    Aes128,
    Aes256,
    TripleDes,
}

impl Block {
    fn key_len(self) -> usize {
        match self {
            Block::Aes128 => 16,
            Block::Aes256 => 32,
            Block::TripleDes => 24,
        }
    }

    fn block_len(self) -> usize {
        match self {
            Block::TripleDes => 8,
            _ => 16,
        }
    }
}

/// How a TLS ≤ 1.2 suite protects its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protection {
    /// AEAD: GCM and CCM take a 4-byte implicit IV and an 8-byte explicit nonce per record;
    /// ChaCha20-Poly1305 a 12-byte IV and no explicit nonce (RFC 5288, 6655, 7905).
    Aead(AeadAlg),
    Cbc(Block, Mac),
}

/// The PRF of a TLS ≤ 1.2 connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prf {
    /// TLS 1.0 and 1.1: P_MD5 XOR P_SHA-1.
    Md5Sha1,
    Tls12(Hash),
}

/// What a cipher suite needs to be decrypted here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suite {
    pub protection: Protection,
    /// TLS 1.3: the HKDF hash; TLS 1.2: the PRF hash.
    pub hash: Hash,
}

/// The suite's protection, when this module can open its records.
pub fn suite(id: u16) -> Option<Suite> {
    let s = TlsCipherSuite::from_id(id)?;
    let hash = match s.prf {
        TlsPRF::Sha384 => Hash::Sha384,
        TlsPRF::Default | TlsPRF::Sha256 => Hash::Sha256,
        _ => return None,
    };
    // tls-parser's table gives CCM and CCM_8 the same MAC size; the name tells them apart.
    let short_tag = s.name.ends_with("_8") || s.name.ends_with("_8_SHA256");
    let protection = match (s.enc, s.enc_mode, s.enc_size) {
        (TlsCipherEnc::Aes, TlsCipherEncMode::Gcm, 128) => Protection::Aead(AeadAlg::Aes128Gcm),
        (TlsCipherEnc::Aes, TlsCipherEncMode::Gcm, 256) => Protection::Aead(AeadAlg::Aes256Gcm),
        (TlsCipherEnc::Aes, TlsCipherEncMode::Ccm, 128) => Protection::Aead(if short_tag {
            AeadAlg::Aes128Ccm8
        } else {
            AeadAlg::Aes128Ccm
        }),
        (TlsCipherEnc::Aes, TlsCipherEncMode::Ccm, 256) => Protection::Aead(if short_tag {
            AeadAlg::Aes256Ccm8
        } else {
            AeadAlg::Aes256Ccm
        }),
        // The table lists a 128-bit key for ChaCha20; its key is 256 bits (RFC 7905).
        (TlsCipherEnc::Chacha20_Poly1305, _, _) => Protection::Aead(AeadAlg::ChaCha20Poly1305),
        (enc, TlsCipherEncMode::Cbc, size) => {
            let block = match (enc, size) {
                (TlsCipherEnc::Aes, 128) => Block::Aes128,
                (TlsCipherEnc::Aes, 256) => Block::Aes256,
                (TlsCipherEnc::TripleDes, _) => Block::TripleDes,
                _ => return None,
            };
            let mac = match s.mac {
                TlsCipherMac::HmacSha1 => Mac::Sha1,
                TlsCipherMac::HmacSha256 => Mac::Sha256,
                TlsCipherMac::HmacSha384 => Mac::Sha384,
                _ => return None,
            };
            Protection::Cbc(block, mac)
        }
        _ => return None,
    };
    Some(Suite { protection, hash })
}

/// An HKDF output length for ring.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label with an empty context (RFC 8446 §7.1).
pub fn expand_label(prk: &hkdf::Prk, label: &[u8], out: &mut [u8]) -> Option<()> {
    let len = u16::try_from(out.len()).ok()?.to_be_bytes();
    let label_len = [u8::try_from(6 + label.len()).ok()?];
    let info: [&[u8]; 5] = [&len, &label_len, b"tls13 ", label, &[0]];
    prk.expand(&info, Len(out.len())).ok()?.fill(out).ok()
}

/// HKDF-Expand-Label of a secret given as bytes (a key log's).
pub fn expand_secret(hash: Hash, secret: &[u8], label: &[u8], len: usize) -> Option<Vec<u8>> {
    let prk = hkdf::Prk::new_less_safe(hash.hkdf(), secret);
    let mut out = vec![0u8; len];
    expand_label(&prk, label, &mut out)?;
    Some(out)
}

/// An AEAD key ready to open.
pub enum Aead {
    Ring(Box<aead::LessSafeKey>),
    Aes128Ccm(Box<ccm::Ccm<Aes128, U16, U12>>),
    Aes128Ccm8(Box<ccm::Ccm<Aes128, U8, U12>>),
    Aes256Ccm(Box<ccm::Ccm<Aes256, U16, U12>>),
    Aes256Ccm8(Box<ccm::Ccm<Aes256, U8, U12>>),
}

impl std::fmt::Debug for Aead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Aead(..)")
    }
}

impl Aead {
    pub fn new(alg: AeadAlg, key: &[u8]) -> Option<Aead> {
        let ring = |a: &'static aead::Algorithm| {
            aead::UnboundKey::new(a, key)
                .ok()
                .map(|k| Aead::Ring(Box::new(aead::LessSafeKey::new(k))))
        };
        match alg {
            AeadAlg::Aes128Gcm => ring(&aead::AES_128_GCM),
            AeadAlg::Aes256Gcm => ring(&aead::AES_256_GCM),
            AeadAlg::ChaCha20Poly1305 => ring(&aead::CHACHA20_POLY1305),
            AeadAlg::Aes128Ccm => ccm::Ccm::new_from_slice(key)
                .ok()
                .map(|k| Aead::Aes128Ccm(Box::new(k))),
            AeadAlg::Aes128Ccm8 => ccm::Ccm::new_from_slice(key)
                .ok()
                .map(|k| Aead::Aes128Ccm8(Box::new(k))),
            AeadAlg::Aes256Ccm => ccm::Ccm::new_from_slice(key)
                .ok()
                .map(|k| Aead::Aes256Ccm(Box::new(k))),
            AeadAlg::Aes256Ccm8 => ccm::Ccm::new_from_slice(key)
                .ok()
                .map(|k| Aead::Aes256Ccm8(Box::new(k))),
        }
    }

    /// Opens `sealed` (ciphertext then tag) in place; the plaintext's length on success.
    pub fn open(&self, nonce: [u8; 12], aad: &[u8], sealed: &mut [u8]) -> Option<usize> {
        fn rc<A: AeadInPlace>(
            k: &A,
            nonce: [u8; 12],
            aad: &[u8],
            sealed: &mut [u8],
            tag: usize,
        ) -> Option<usize> {
            let n = sealed.len().checked_sub(tag)?;
            let (body, t) = sealed.split_at_mut(n);
            k.decrypt_in_place_detached(
                ccm::aead::generic_array::GenericArray::from_slice(&nonce),
                aad,
                body,
                ccm::aead::generic_array::GenericArray::from_slice(t),
            )
            .ok()?;
            Some(n)
        }
        match self {
            Aead::Ring(k) => k
                .open_in_place(
                    aead::Nonce::assume_unique_for_key(nonce),
                    aead::Aad::from(aad),
                    sealed,
                )
                .ok()
                .map(|p| p.len()),
            Aead::Aes128Ccm(k) => rc(&**k, nonce, aad, sealed, 16),
            Aead::Aes128Ccm8(k) => rc(&**k, nonce, aad, sealed, 8),
            Aead::Aes256Ccm(k) => rc(&**k, nonce, aad, sealed, 16),
            Aead::Aes256Ccm8(k) => rc(&**k, nonce, aad, sealed, 8),
        }
    }
}

/// `iv` XOR the sequence number, left-padded (RFC 8446 §5.3, RFC 7905 §2, RFC 9001 §5.3).
pub fn xor_nonce(iv: &[u8; 12], seq: u64) -> [u8; 12] {
    let mut nonce = *iv;
    for (n, s) in nonce.iter_mut().rev().zip(seq.to_le_bytes()) {
        *n ^= s;
    }
    nonce
}

/// The keys of one direction of a TLS 1.3 connection (or a QUIC packet space) from its
/// traffic secret.
pub fn tls13_keys(alg: AeadAlg, hash: Hash, secret: &[u8]) -> Option<(Aead, [u8; 12])> {
    let key = expand_secret(hash, secret, b"key", alg.key_len())?;
    let iv: [u8; 12] = expand_secret(hash, secret, b"iv", 12)?.try_into().ok()?;
    Some((Aead::new(alg, &key)?, iv))
}

/// The AEAD of a TLS 1.3 suite.
pub fn tls13_aead(suite_id: u16) -> Option<(AeadAlg, Hash)> {
    let s = suite(suite_id)?;
    match s.protection {
        Protection::Aead(alg) => Some((alg, s.hash)),
        Protection::Cbc(..) => None,
    }
}

fn p_hash(alg: hmac::Algorithm, secret: &[u8], label_seed: &[u8], out: &mut [u8]) {
    let key = hmac::Key::new(alg, secret);
    let mut a = hmac::sign(&key, label_seed);
    let mut done = 0;
    while done < out.len() {
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(a.as_ref());
        ctx.update(label_seed);
        let block = ctx.sign();
        for (o, b) in out.iter_mut().skip(done).zip(block.as_ref()) {
            *o ^= b;
        }
        done += block.as_ref().len();
        a = hmac::sign(&key, a.as_ref());
    }
}

/// P_MD5 for the TLS 1.0/1.1 PRF: ring has no HMAC-MD5, so RustCrypto's `hmac` does it.
fn p_md5(secret: &[u8], label_seed: &[u8], out: &mut [u8]) {
    use ::hmac::Mac as _;
    type HmacMd5 = ::hmac::Hmac<md5::Md5>;
    let mac = |data: &[&[u8]]| -> Vec<u8> {
        let Ok(mut m) = <HmacMd5 as ::hmac::Mac>::new_from_slice(secret) else {
            return Vec::new();
        };
        for d in data {
            m.update(d);
        }
        m.finalize().into_bytes().to_vec()
    };
    let mut a = mac(&[label_seed]);
    let mut done = 0;
    while done < out.len() && !a.is_empty() {
        let block = mac(&[&a, label_seed]);
        for (o, b) in out.iter_mut().skip(done).zip(&block) {
            *o ^= b;
        }
        done += block.len();
        a = mac(&[&a]);
    }
}

/// The TLS PRF (RFC 5246 §5; RFC 2246 §5 for TLS 1.0/1.1).
pub fn prf(prf: Prf, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let label_seed = [label, seed].concat();
    match prf {
        Prf::Tls12(h) => p_hash(h.hmac(), secret, &label_seed, &mut out),
        Prf::Md5Sha1 => {
            let half = secret.len().div_ceil(2);
            let s1 = secret.get(..half).unwrap_or_default();
            let s2 = secret.get(secret.len() - half..).unwrap_or_default();
            p_md5(s1, &label_seed, &mut out);
            p_hash(
                hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
                s2,
                &label_seed,
                &mut out,
            );
        }
    }
    out
}

/// The keys of one direction of a TLS ≤ 1.2 (or DTLS) connection, from its key block.
pub struct RecordKeys {
    pub protection: Protection,
    mac_key: Vec<u8>,
    key: Vec<u8>,
    aead: Option<Aead>,
    /// GCM/CCM: the 4-byte implicit part; ChaCha20: the 12-byte IV; CBC in TLS 1.0: the IV of
    /// the next record (the last ciphertext block of the one before).
    pub cbc_iv: Vec<u8>,
    /// TLS 1.0: the CBC IV is chained, not sent.
    pub chained_iv: bool,
    /// Encrypt-then-MAC (RFC 7366) was negotiated.
    pub encrypt_then_mac: bool,
}

impl std::fmt::Debug for RecordKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordKeys")
            .field("protection", &self.protection)
            .finish_non_exhaustive()
    }
}

/// What a TLS ≤ 1.2 connection's keys derive from.
#[derive(Debug, Clone, Copy)]
pub struct Tls12Params<'a> {
    pub suite: Suite,
    /// TLS 1.0 (0x0301) and DTLS 1.0 chain CBC IVs and use the MD5/SHA-1 PRF with TLS 1.1.
    pub version: u16,
    pub master: &'a [u8],
    pub client_random: &'a [u8],
    pub server_random: &'a [u8],
    pub encrypt_then_mac: bool,
}

/// Client and server write keys from the master secret (RFC 5246 §6.3).
pub fn tls12_keys(p: &Tls12Params<'_>) -> Option<(RecordKeys, RecordKeys)> {
    let prf_kind = match p.version {
        0x0301 | 0x0302 | 0xfeff => Prf::Md5Sha1,
        _ => Prf::Tls12(p.suite.hash),
    };
    let (mac_len, key_len, iv_len) = match p.suite.protection {
        Protection::Aead(AeadAlg::ChaCha20Poly1305) => (0, 32, 12),
        Protection::Aead(alg) => (0, alg.key_len(), 4),
        Protection::Cbc(block, mac) => (mac.len(), block.key_len(), block.block_len()),
    };
    let seed = [p.server_random, p.client_random].concat();
    let block = prf(
        prf_kind,
        p.master,
        b"key expansion",
        &seed,
        2 * (mac_len + key_len + iv_len),
    );
    let part = |at: usize, len: usize| block.get(at..at + len).map(<[u8]>::to_vec);
    let side = |i: usize| -> Option<RecordKeys> {
        let mac_key = part(i * mac_len, mac_len)?;
        let key = part(2 * mac_len + i * key_len, key_len)?;
        let iv = part(2 * (mac_len + key_len) + i * iv_len, iv_len)?;
        let aead = match p.suite.protection {
            Protection::Aead(alg) => Some(Aead::new(alg, &key)?),
            Protection::Cbc(..) => None,
        };
        Some(RecordKeys {
            protection: p.suite.protection,
            mac_key,
            key,
            aead,
            cbc_iv: iv,
            // TLS 1.1 and DTLS send an explicit IV with every record.
            chained_iv: p.version == 0x0301,
            encrypt_then_mac: p.encrypt_then_mac
                && matches!(p.suite.protection, Protection::Cbc(..)),
        })
    };
    Some((side(0)?, side(1)?))
}

/// The additional data of a TLS ≤ 1.2 record (RFC 5246 §6.2.3.3): sequence number (DTLS:
/// epoch and sequence), type, version, length.
fn aad(seq: u64, content_type: u8, version: u16, len: usize) -> Option<[u8; 13]> {
    let len = u16::try_from(len).ok()?;
    let mut a = [0u8; 13];
    a[..8].copy_from_slice(&seq.to_be_bytes());
    a[8] = content_type;
    a[9..11].copy_from_slice(&version.to_be_bytes());
    a[11..].copy_from_slice(&len.to_be_bytes());
    Some(a)
}

fn cbc_decrypt(block: Block, key: &[u8], iv: &[u8], buf: &mut [u8]) -> Option<()> {
    use cbc::cipher::block_padding::NoPadding;
    match block {
        Block::Aes128 => cbc::Decryptor::<Aes128>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_mut::<NoPadding>(buf)
            .ok()
            .map(|_| ()),
        Block::Aes256 => cbc::Decryptor::<Aes256>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_mut::<NoPadding>(buf)
            .ok()
            .map(|_| ()),
        Block::TripleDes => cbc::Decryptor::<des::TdesEde3>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded_mut::<NoPadding>(buf)
            .ok()
            .map(|_| ()),
    }
}

impl RecordKeys {
    /// Opens one TLS ≤ 1.2 record body (`seq` is the 64-bit sequence number, or DTLS's
    /// epoch and sequence); the plaintext, or None when it does not authenticate.
    pub fn open(
        &mut self,
        seq: u64,
        content_type: u8,
        version: u16,
        body: &[u8],
    ) -> Option<Vec<u8>> {
        match self.protection {
            Protection::Aead(alg) => {
                let aead = self.aead.as_ref()?;
                let (nonce, sealed) = if alg == AeadAlg::ChaCha20Poly1305 {
                    let iv: [u8; 12] = self.cbc_iv.as_slice().try_into().ok()?;
                    (xor_nonce(&iv, seq), body)
                } else {
                    let (explicit, sealed) = body.split_at_checked(8)?;
                    let mut n = [0u8; 12];
                    n.get_mut(..4)?.copy_from_slice(self.cbc_iv.get(..4)?);
                    n.get_mut(4..)?.copy_from_slice(explicit);
                    (n, sealed)
                };
                let plain_len = sealed.len().checked_sub(alg.tag_len())?;
                let a = aad(seq, content_type, version, plain_len)?;
                let mut buf = sealed.to_vec();
                let n = aead.open(nonce, &a, &mut buf)?;
                buf.truncate(n);
                Some(buf)
            }
            Protection::Cbc(block, mac) => {
                self.open_cbc(block, mac, seq, content_type, version, body)
            }
        }
    }

    fn open_cbc(
        &mut self,
        block: Block,
        mac: Mac,
        seq: u64,
        content_type: u8,
        version: u16,
        body: &[u8],
    ) -> Option<Vec<u8>> {
        let bl = block.block_len();
        let key = hmac::Key::new(mac.algorithm(), &self.mac_key);
        let (body, etm_tag) = if self.encrypt_then_mac {
            let (b, t) = body.split_at_checked(body.len().checked_sub(mac.len())?)?;
            let a = aad(seq, content_type, version, b.len())?;
            hmac::verify(&key, &[&a[..], b].concat(), t).ok()?;
            (b, true)
        } else {
            (body, false)
        };
        let (iv, cipher) = if self.chained_iv {
            (self.cbc_iv.clone(), body)
        } else {
            let (iv, c) = body.split_at_checked(bl)?;
            (iv.to_vec(), c)
        };
        if cipher.is_empty() || cipher.len() % bl != 0 {
            return None;
        }
        let next_iv = cipher.get(cipher.len() - bl..)?.to_vec();
        let mut buf = cipher.to_vec();
        cbc_decrypt(block, &self.key, &iv, &mut buf)?;
        let pad = usize::from(*buf.last()?);
        let unpadded = buf.len().checked_sub(pad + 1)?;
        if buf.get(unpadded..)?.iter().any(|&b| usize::from(b) != pad) {
            return None;
        }
        buf.truncate(unpadded);
        if !etm_tag {
            let content_len = buf.len().checked_sub(mac.len())?;
            let (content, tag) = buf.split_at(content_len);
            let a = aad(seq, content_type, version, content_len)?;
            hmac::verify(&key, &[&a[..], content].concat(), tag).ok()?;
            buf.truncate(content_len);
        }
        if self.chained_iv {
            self.cbc_iv = next_iv;
        }
        Some(buf)
    }

    /// TLS 1.0 CBC: a record that was not opened still sets the next record's IV.
    pub fn skipped(&mut self, last_block: &[u8]) {
        if self.chained_iv {
            if let Protection::Cbc(block, _) = self.protection {
                if last_block.len() == block.block_len() {
                    self.cbc_iv = last_block.to_vec();
                }
            }
        }
    }

    /// The CBC block length when this direction needs the last block of records it skips.
    pub fn chain_block_len(&self) -> Option<usize> {
        match self.protection {
            Protection::Cbc(block, _) if self.chained_iv => Some(block.block_len()),
            _ => None,
        }
    }
}

/// Opens a TLS 1.3 record (`header` is its 5-byte header, the additional data): the inner
/// content type and the content, padding removed (RFC 8446 §5.2, §5.4).
pub fn open_tls13(
    aead: &Aead,
    iv: &[u8; 12],
    seq: u64,
    header: &[u8],
    body: &[u8],
) -> Option<(u8, Vec<u8>)> {
    let mut buf = body.to_vec();
    let n = aead.open(xor_nonce(iv, seq), header, &mut buf)?;
    buf.truncate(n);
    while buf.last() == Some(&0) {
        buf.pop();
    }
    let ct = buf.pop()?;
    Some((ct, buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8448 §3: the server handshake traffic secret gives this key and IV.
    #[test]
    fn tls13_keys_match_rfc8448() {
        let secret = unhex(
            "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59
             d3 91 ad 38",
        );
        assert_eq!(
            expand_secret(Hash::Sha256, &secret, b"key", 16).unwrap(),
            unhex("3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc")
        );
        assert_eq!(
            expand_secret(Hash::Sha256, &secret, b"iv", 12).unwrap(),
            unhex("5d 31 3e b2 67 12 76 ee 13 00 0b 30")
        );
    }

    /// RFC 5246's PRF with SHA-256: the published test vector (IETF TLS WG mailing list,
    /// "TLS 1.2 PRF test vectors", also used by Go's crypto/tls tests).
    #[test]
    fn prf_sha256_test_vector() {
        let secret = unhex("9b be 43 6b a9 40 f0 17 b1 76 52 84 9a 71 db 35");
        let seed = unhex("a0 ba 9f 93 6c da 31 18 27 a6 f7 96 ff d5 19 8c");
        let out = prf(Prf::Tls12(Hash::Sha256), &secret, b"test label", &seed, 100);
        assert_eq!(
            out.get(..16).unwrap(),
            unhex("e3 f2 29 ba 72 7b e1 7b 8d 12 26 20 55 7c d4 53").as_slice()
        );
    }

    #[test]
    fn suites_from_the_table() {
        let aead = |id| suite(id).map(|s| s.protection);
        assert_eq!(aead(0xc02f), Some(Protection::Aead(AeadAlg::Aes128Gcm)));
        assert_eq!(suite(0x00a9).map(|s| s.hash), Some(Hash::Sha384));
        assert_eq!(aead(0xc0a8), Some(Protection::Aead(AeadAlg::Aes128Ccm8)));
        assert_eq!(aead(0xc0ad), Some(Protection::Aead(AeadAlg::Aes256Ccm)));
        assert_eq!(aead(0x1305), Some(Protection::Aead(AeadAlg::Aes128Ccm8)));
        assert_eq!(
            aead(0xcca8),
            Some(Protection::Aead(AeadAlg::ChaCha20Poly1305))
        );
        assert_eq!(
            aead(0xc013),
            Some(Protection::Cbc(Block::Aes128, Mac::Sha1))
        );
        assert_eq!(
            aead(0x003d),
            Some(Protection::Cbc(Block::Aes256, Mac::Sha256))
        );
        assert_eq!(
            aead(0x000a),
            Some(Protection::Cbc(Block::TripleDes, Mac::Sha1))
        );
        assert_eq!(aead(0x0005), None); // RC4
    }

    /// A record sealed with ring and one sealed by CBC-then-MAC by hand open again, and a
    /// flipped byte makes each fail.
    #[test]
    fn tls12_records_open_and_fail_when_changed() {
        let master = [7u8; 48];
        let (cr, sr) = ([1u8; 32], [2u8; 32]);
        let p = |id| Tls12Params {
            suite: suite(id).unwrap(),
            version: 0x0303,
            master: &master,
            client_random: &cr,
            server_random: &sr,
            encrypt_then_mac: false,
        };
        // GCM: seal with ring under the same derived key and implicit IV.
        let (mut c, _) = tls12_keys(&p(0xc02f)).unwrap();
        let kb = prf(
            Prf::Tls12(Hash::Sha256),
            &master,
            b"key expansion",
            &[sr, cr].concat(),
            40,
        );
        let key =
            aead::LessSafeKey::new(aead::UnboundKey::new(&aead::AES_128_GCM, &kb[..16]).unwrap());
        let explicit = [0, 0, 0, 0, 0, 0, 0, 9];
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&kb[32..36]);
        nonce[4..].copy_from_slice(&explicit);
        let mut msg = vec![1u8, 0];
        let a = aad(3, 21, 0x0303, 2).unwrap();
        key.seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(a),
            &mut msg,
        )
        .unwrap();
        let body = [&explicit[..], &msg].concat();
        assert_eq!(c.open(3, 21, 0x0303, &body), Some(vec![1, 0]));
        assert_eq!(c.open(4, 21, 0x0303, &body), None);
        // CBC, MAC-then-encrypt, AES-128, HMAC-SHA1.
        let (mut c, _) = tls12_keys(&p(0xc013)).unwrap();
        let kb = prf(
            Prf::Tls12(Hash::Sha256),
            &master,
            b"key expansion",
            &[sr, cr].concat(),
            2 * (20 + 16 + 16),
        );
        let (mac_key, enc_key) = (&kb[..20], &kb[40..56]);
        let content = b"\x02\x28".to_vec();
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, mac_key),
            &[&aad(0, 21, 0x0303, 2).unwrap()[..], &content].concat(),
        );
        let mut plain = [&content[..], tag.as_ref()].concat();
        let pad = 16 - (plain.len() + 1) % 16;
        plain.extend(std::iter::repeat_n(pad as u8, pad + 1));
        let iv = [5u8; 16];
        use cbc::cipher::BlockEncryptMut;
        let n = plain.len();
        cbc::Encryptor::<Aes128>::new_from_slices(enc_key, &iv)
            .unwrap()
            .encrypt_padded_mut::<cbc::cipher::block_padding::NoPadding>(&mut plain, n)
            .unwrap();
        let mut body = [&iv[..], &plain].concat();
        assert_eq!(c.open(0, 21, 0x0303, &body), Some(content));
        let last = body.len() - 1;
        body[last] ^= 1;
        assert_eq!(c.open(0, 21, 0x0303, &body), None);
    }
}
