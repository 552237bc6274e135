//! decrypt: a connection's hellos and the run's secrets in; each direction's record keys out,
//! and with them protected records opened into their content type and plaintext.
//!
//! [`Session`] is what both directions of one connection share: the ClientHello's random
//! (the key logs' index), whether early data and encrypt-then-MAC were offered, and the
//! ServerHello's version, suite and random. When a direction meets its first protected record
//! it asks for its [`DirKeys`]: TLS 1.3 traffic keys from the handshake, early and first
//! application secrets (RFC 8446 §7.3), or for TLS ≤ 1.2 and DTLS its half of the key block
//! from the master secret. The secrets are looked up once per connection, and only
//! connections that reach a protected record hold any key material.
//!
//! TLS 1.3 keys change at points this layer sees only once it has decrypted them (the
//! Finished), or not at all (a server that rejected early data); so a record that does not
//! open under the current keys is tried under the next ones, and they take over when it
//! opens. It does not reassemble handshake messages or judge what it opened (that is
//! `record`), and does not follow KeyUpdate or renegotiated keys: records after them stay
//! closed.

use super::{content, is_tls13_version, ClientHello, ServerHello};
use crate::keys::{KeySource, KeyStore, Secrets};
use crate::proto::crypto::{self, Aead, RecordKeys, Tls12Params};
use std::sync::Arc;

/// The ServerHello facts keys depend on.
#[derive(Debug, Clone)]
struct ServerFacts {
    version: u16,
    suite: u16,
    random: Vec<u8>,
    encrypt_then_mac: bool,
}

/// What both directions of one connection share for decryption.
#[derive(Debug)]
pub struct Session {
    store: Arc<KeyStore>,
    client_random: Option<Vec<u8>>,
    early_data: bool,
    client_etm: bool,
    server: Option<ServerFacts>,
    looked_up: bool,
    secrets: Option<Secrets>,
    /// Where this connection's secrets came from, once looked up and found.
    pub source: Option<KeySource>,
}

impl Session {
    pub fn new(store: Arc<KeyStore>) -> Session {
        Session {
            store,
            client_random: None,
            early_data: false,
            client_etm: false,
            server: None,
            looked_up: false,
            secrets: None,
            source: None,
        }
    }

    /// The first ClientHello gives the random (a second one, after a HelloRetryRequest,
    /// repeats it).
    pub fn client_hello(&mut self, ch: &ClientHello) {
        if self.client_random.is_none() && ch.random.len() == 32 {
            self.client_random = Some(ch.random.clone());
            self.early_data = ch.early_data;
            self.client_etm = ch.extensions.contains(&EXT_ENCRYPT_THEN_MAC);
        }
    }

    /// The ServerHello that answered (a HelloRetryRequest does not).
    pub fn server_hello(&mut self, sh: &ServerHello) {
        if !sh.hello_retry_request && self.server.is_none() {
            self.server = Some(ServerFacts {
                version: sh.version,
                suite: sh.cipher_suite,
                random: sh.random.clone(),
                encrypt_then_mac: sh.extensions.contains(&EXT_ENCRYPT_THEN_MAC),
            });
        }
    }

    /// Whether the ServerHello chose TLS 1.3.
    pub fn is_tls13(&self) -> bool {
        self.server
            .as_ref()
            .is_some_and(|s| is_tls13_version(s.version))
    }

    fn secrets(&mut self) -> Option<&Secrets> {
        if !self.looked_up {
            self.looked_up = true;
            if let Some((s, source)) = self
                .client_random
                .as_deref()
                .and_then(|r| self.store.lookup(r))
            {
                self.secrets = Some(s);
                self.source = Some(source);
            }
        }
        self.secrets.as_ref()
    }

    /// QUIC: the suite and the client's (or server's) handshake traffic secret, for the keys
    /// of the Handshake packet space.
    pub fn handshake_secret(&mut self, client: bool) -> Option<(u16, Vec<u8>)> {
        let suite = self.server.as_ref()?.suite;
        let s = self.secrets()?;
        let secret = if client {
            s.client_handshake.clone()
        } else {
            s.server_handshake.clone()
        };
        Some((suite, secret?))
    }

    /// The keys of the client's (or the server's) records; None when the secrets, a hello or
    /// support for the suite is missing.
    pub fn keys_for(&mut self, client: bool) -> Option<DirKeys> {
        let server = self.server.clone()?;
        let random = self.client_random.clone()?;
        let early = self.early_data;
        let etm = self.client_etm && server.encrypt_then_mac;
        let secrets = self.secrets()?;
        if is_tls13_version(server.version) {
            let (alg, hash) = crypto::tls13_aead(server.suite)?;
            let keys =
                |s: &Option<Vec<u8>>| s.as_deref().and_then(|s| crypto::tls13_keys(alg, hash, s));
            let mut epochs = Vec::with_capacity(3);
            if client {
                if early {
                    epochs.push(keys(&secrets.client_early));
                }
                epochs.push(keys(&secrets.client_handshake));
                epochs.push(keys(&secrets.client_traffic0));
            } else {
                epochs.push(keys(&secrets.server_handshake));
                epochs.push(keys(&secrets.server_traffic0));
            }
            if epochs.iter().all(Option::is_none) {
                return None;
            }
            let at = epochs.iter().position(Option::is_some).unwrap_or(0);
            return Some(DirKeys::Tls13 { epochs, at, seq: 0 });
        }
        let (c, s) = crypto::tls12_keys(&Tls12Params {
            suite: crypto::suite(server.suite)?,
            version: server.version,
            master: secrets.master.as_deref()?,
            client_random: &random,
            server_random: &server.random,
            encrypt_then_mac: etm,
        })?;
        Some(DirKeys::Tls12 {
            keys: Box::new(if client { c } else { s }),
            seq: 0,
        })
    }
}

/// encrypt_then_mac (RFC 7366).
const EXT_ENCRYPT_THEN_MAC: u16 = 22;

/// One direction's record keys.
#[derive(Debug)]
pub enum DirKeys {
    /// The keys of each epoch in order (client: early, handshake, application; server:
    /// handshake, application), None where the key log lacks the secret.
    Tls13 {
        epochs: Vec<Option<(Aead, [u8; 12])>>,
        at: usize,
        seq: u64,
    },
    Tls12 {
        keys: Box<RecordKeys>,
        seq: u64,
    },
}

impl DirKeys {
    /// Opens a TLS record (`header` its 5 bytes): the content type and the plaintext.
    pub fn open(&mut self, header: &[u8], body: &[u8]) -> Option<(u8, Vec<u8>)> {
        match self {
            DirKeys::Tls13 { epochs, at, seq } => {
                let current = epochs
                    .get(*at)
                    .and_then(Option::as_ref)
                    .and_then(|(aead, iv)| crypto::open_tls13(aead, iv, *seq, header, body));
                if let Some(opened) = current {
                    *seq += 1;
                    return Some(opened);
                }
                // The next keys the record may be under (after a Finished this layer did not
                // read, or early data the server refused).
                let next = (*at + 1..epochs.len())
                    .find(|&i| epochs.get(i).is_some_and(Option::is_some))?;
                let (aead, iv) = epochs.get(next)?.as_ref()?;
                let opened = crypto::open_tls13(aead, iv, 0, header, body)?;
                *at = next;
                *seq = 1;
                Some(opened)
            }
            DirKeys::Tls12 { keys, seq } => {
                let (&ct, version) = (
                    header.first()?,
                    u16::from_be_bytes([*header.get(1)?, *header.get(2)?]),
                );
                let plain = keys.open(*seq, ct, version, body)?;
                *seq += 1;
                Some((ct, plain))
            }
        }
    }

    /// Opens a DTLS record: `seq` is its epoch and sequence number as the header gives them.
    pub fn open_dtls(
        &mut self,
        seq: u64,
        content_type: u8,
        version: u16,
        body: &[u8],
    ) -> Option<Vec<u8>> {
        match self {
            DirKeys::Tls12 { keys, .. } => keys.open(seq, content_type, version, body),
            DirKeys::Tls13 { .. } => None,
        }
    }

    /// A record that was not opened: its sequence number is used up (and in TLS 1.0 its last
    /// block is the next IV). TLS 1.3's compatibility ChangeCipherSpec is not protected.
    pub fn skipped(&mut self, content_type: u8, last_block: &[u8]) {
        match self {
            DirKeys::Tls13 { seq, .. } => {
                if content_type != content::CHANGE_CIPHER_SPEC {
                    *seq += 1;
                }
            }
            DirKeys::Tls12 { keys, seq } => {
                *seq += 1;
                keys.skipped(last_block);
            }
        }
    }

    /// This direction's Finished was read: TLS 1.3 moves to the application keys.
    pub fn finished(&mut self) {
        if let DirKeys::Tls13 { epochs, at, seq } = self {
            let app = epochs.len() - 1;
            if *at < app {
                *at = app;
                *seq = 0;
            }
        }
    }

    /// TLS 1.0 CBC: the IV of a record is the last block of the one before, so every record
    /// must be read whole.
    pub fn needs_every_record(&self) -> bool {
        matches!(self, DirKeys::Tls12 { keys, .. } if keys.chain_block_len().is_some())
    }

    pub fn is_tls13(&self) -> bool {
        matches!(self, DirKeys::Tls13 { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyLog;

    fn session(log: &str) -> Session {
        let mut k = KeyLog::default();
        k.add_text(log.as_bytes());
        Session::new(Arc::new(KeyStore::new(Arc::new(k))))
    }

    #[test]
    fn keys_need_both_hellos_and_the_secrets() {
        let r = [9u8; 32];
        let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
        let mut s = session(&format!(
            "SERVER_HANDSHAKE_TRAFFIC_SECRET {hex} {}\n",
            "01".repeat(32)
        ));
        let ch = ClientHello {
            random: r.to_vec(),
            ..Default::default()
        };
        let sh = ServerHello {
            version: 0x0304,
            cipher_suite: 0x1301,
            random: vec![1; 32],
            ..Default::default()
        };
        assert!(s.keys_for(false).is_none(), "no hellos yet");
        s.client_hello(&ch);
        s.server_hello(&sh);
        assert!(s.keys_for(false).is_some_and(|k| k.is_tls13()));
        assert_eq!(s.source, Some(KeySource::Keylog));
        // The client's secrets are not in the log.
        assert!(s.keys_for(true).is_none());
    }

    /// A record sealed under the next epoch's keys opens and moves the direction on.
    #[test]
    fn tls13_moves_to_the_next_keys_when_a_record_opens_only_there() {
        let (alg, hash) = crypto::tls13_aead(0x1301).unwrap();
        let hs = crypto::tls13_keys(alg, hash, &[1; 32]).unwrap();
        let app_secret = [2u8; 32];
        let app = crypto::tls13_keys(alg, hash, &app_secret).unwrap();
        // Seal "alert close_notify" under the application keys with ring directly.
        let key = crypto::expand_secret(hash, &app_secret, b"key", 16).unwrap();
        let iv: [u8; 12] = crypto::expand_secret(hash, &app_secret, b"iv", 12)
            .unwrap()
            .try_into()
            .unwrap();
        let sealing = ring::aead::LessSafeKey::new(
            ring::aead::UnboundKey::new(&ring::aead::AES_128_GCM, &key).unwrap(),
        );
        let mut body = vec![1u8, 0, content::ALERT];
        let header = [23u8, 3, 3, 0, 19];
        sealing
            .seal_in_place_append_tag(
                ring::aead::Nonce::assume_unique_for_key(crypto::xor_nonce(&iv, 0)),
                ring::aead::Aad::from(header),
                &mut body,
            )
            .unwrap();
        let mut k = DirKeys::Tls13 {
            epochs: vec![Some(hs), Some(app)],
            at: 0,
            seq: 0,
        };
        assert_eq!(k.open(&header, &body), Some((content::ALERT, vec![1, 0])));
        assert!(matches!(k, DirKeys::Tls13 { at: 1, seq: 1, .. }));
        // The same record again is under a used sequence number: it does not open.
        assert_eq!(k.open(&header, &body), None);
    }
}
