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
//! The parts: `packet` cuts a datagram into long-header packets, `crypto` derives the Initial
//! keys and opens a packet (and checks a Retry's tag), `frames` walks the decrypted frames and
//! puts CRYPTO data back in order; this file holds [`QuicConn`], the state of one attempt that
//! ties them together.
//!
//! With a key log's handshake traffic secrets (a [`Session`]), it also opens the Handshake
//! packet space with keys from those secrets (same labels, the ServerHello's suite), and reads
//! its CRYPTO data like TLS 1.3's protected handshake: EncryptedExtensions, the certificates,
//! CertificateVerify, Finished; a CONNECTION_CLOSE there with a crypto error is a decrypted
//! alert. It then follows the connection until both Finished messages (or a close).
//!
//! It does not decrypt 1-RTT packets, does not read short-header packets, and does not follow
//! connection migration. It never panics on any input: every length is checked, every buffer
//! has a named cap.

use crate::flow::reassembly::Origin;
use crate::proto::tls::decrypt::Session;
use crate::proto::tls::{self, Event, Located};
use crate::text::hex;

mod crypto;
mod frames;
mod packet;

use crypto::{flavor, initial_key_material, open_packet, retry_tag_ok, DirKeys, Flavor, KeySet};
use frames::{initial_frames, CryptoStream, InitialFrame};
pub use packet::{is_initial, looks_like_quic};
use packet::{split_packet, LongHeader, Split};

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
    /// The Handshake packet space of each side (client, server), opened with a key log.
    handshake: [Side; 2],
    /// Its keys, once the ServerHello and the secrets were there.
    handshake_keys: [Option<DirKeys>; 2],
    /// Secrets were found: the Handshake space is followed until both Finished (or a close).
    handshake_wanted: bool,
    handshake_asked: bool,
    finished: [bool; 2],
}

impl QuicConn {
    /// One UDP datagram; `from_client` says the direction (the sender of the first Initial is
    /// the client).
    pub fn datagram(&mut self, from_client: bool, payload: &[u8], origin: Origin) {
        self.datagram_keyed(from_client, payload, origin, None);
    }

    /// [`QuicConn::datagram`], with the connection's decryption facts when secrets are known.
    pub fn datagram_keyed(
        &mut self,
        from_client: bool,
        payload: &[u8],
        origin: Origin,
        mut session: Option<&mut Session>,
    ) {
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
                    handshake,
                    bytes,
                    pn_offset,
                } => {
                    if initial {
                        self.initial(
                            from_client,
                            &h,
                            bytes,
                            pn_offset,
                            origin,
                            session.as_deref_mut(),
                        );
                    } else if handshake {
                        self.handshake_packet(from_client, bytes, pn_offset, origin);
                    }
                    rest = rest.get(bytes.len()..).unwrap_or_default();
                }
            }
        }
    }

    /// Heap bytes held, about: the connection, its events and the CRYPTO bytes waiting.
    pub fn heap_bytes(&self) -> usize {
        let events = self.client_events.capacity() + self.server_events.capacity();
        std::mem::size_of::<Self>()
            + events * std::mem::size_of::<Located>()
            + self.client.crypto.pieces.held()
            + self.server.crypto.pieces.held()
    }

    /// True once both hellos were found (or there is nothing more to learn): the caller stops
    /// feeding.
    pub fn done(&self) -> bool {
        let handshake_open = self.handshake_wanted && self.finished != [true, true];
        (self.client_hello && self.server_hello && !handshake_open)
            || self.connection_close.is_some()
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
                ..
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
        session: Option<&mut Session>,
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
        self.payload(from_client, pn, &plain, origin, h.version, session);
    }

    /// The decrypted payload of Initial packet `pn` from one side: its CRYPTO frames into that
    /// side's stream, the handshake messages they complete and any CONNECTION_CLOSE into events.
    /// Public for the fuzz target, whose mutated packets would almost never decrypt.
    #[doc(hidden)]
    pub fn initial_payload(&mut self, from_client: bool, pn: u64, plain: &[u8], origin: Origin) {
        let version = self.version.unwrap_or(version::V1);
        self.payload(from_client, pn, plain, origin, version, None);
    }

    /// [`QuicConn::initial_payload`] of a packet of `version`; with the connection's
    /// decryption facts, the ServerHello it completes asks for the Handshake keys.
    fn payload(
        &mut self,
        from_client: bool,
        pn: u64,
        plain: &[u8],
        origin: Origin,
        version: u32,
        mut session: Option<&mut Session>,
    ) {
        let (frames, problem) = initial_frames(plain);
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
                } => self.on_close(from_client, code, frame_type, reason, origin, false),
            }
        }
        if let Some(p) = problem {
            self.push(
                from_client,
                origin,
                Event::Malformed(format!("QUIC Initial packet {pn}: {p}")),
            );
        }
        self.drain_messages(from_client, capped, origin, session.as_deref_mut());
        if let (Some(s), true, false) = (session, self.server_hello, self.handshake_asked) {
            self.handshake_keys(s, version, from_client, origin);
        }
    }

    /// The Handshake space keys of both sides, from the key logs' secrets.
    fn handshake_keys(&mut self, s: &mut Session, version: u32, from_client: bool, origin: Origin) {
        self.handshake_asked = true;
        let Some(f) = flavor(version) else {
            return;
        };
        let keys = [true, false].map(|client| {
            s.handshake_secret(client)
                .and_then(|(suite, secret)| DirKeys::from_secret(&f, suite, &secret))
        });
        if keys.iter().any(Option::is_some) {
            self.handshake_keys = keys;
            self.handshake_wanted = true;
        } else if s.source.is_some() {
            self.push(
                from_client,
                origin,
                Event::KeysDoNotDecrypt(
                    "the key log has secrets for this connection, but no handshake traffic \
                     secret, or its cipher suite is not one this build decrypts"
                        .into(),
                ),
            );
        }
    }

    /// One Handshake packet, opened when the key logs gave its side's keys.
    fn handshake_packet(
        &mut self,
        from_client: bool,
        packet: &[u8],
        pn_offset: usize,
        origin: Origin,
    ) {
        let i = usize::from(!from_client);
        let (Some(Some(keys)), Some(side)) = (self.handshake_keys.get(i), self.handshake.get(i))
        else {
            return;
        };
        match open_packet(keys, packet, pn_offset, side.largest_pn) {
            None => {
                let first = !side.decrypted && !side.reported_failure;
                if let Some(side) = self.handshake.get_mut(i) {
                    side.reported_failure = true;
                    if !side.decrypted {
                        // Nothing will open: stop waiting for this side's Finished.
                        if let Some(done) = self.finished.get_mut(i) {
                            *done = true;
                        }
                    }
                }
                if first {
                    self.push(
                        from_client,
                        origin,
                        Event::KeysDoNotDecrypt(
                            "a QUIC Handshake packet does not open with the key log's \
                             handshake traffic secret for this connection"
                                .into(),
                        ),
                    );
                }
            }
            Some((pn, plain)) => {
                let (frames, problem) = initial_frames(&plain);
                let mut capped = false;
                if let Some(side) = self.handshake.get_mut(i) {
                    side.decrypted = true;
                    side.largest_pn = Some(side.largest_pn.map_or(pn, |l| l.max(pn)));
                    for frame in &frames {
                        if let InitialFrame::Crypto { offset, data } = frame {
                            capped |= !side.crypto.insert(*offset, data);
                        }
                    }
                }
                for frame in frames {
                    if let InitialFrame::Close {
                        code,
                        frame_type,
                        reason,
                    } = frame
                    {
                        self.on_close(from_client, code, frame_type, reason, origin, true);
                    }
                }
                if let Some(p) = problem {
                    self.push(
                        from_client,
                        origin,
                        Event::Malformed(format!("QUIC Handshake packet {pn}: {p}")),
                    );
                }
                self.drain_handshake(i, from_client, capped, origin);
            }
        }
    }

    /// The complete messages of a side's Handshake-space CRYPTO stream.
    fn drain_handshake(&mut self, i: usize, from_client: bool, capped: bool, origin: Origin) {
        let mut found = Vec::new();
        if let Some(side) = self.handshake.get_mut(i) {
            while let Some((ty, body)) = side.crypto.next_message() {
                found.push((ty, tls::protected_message_event(ty, body, true)));
            }
            if (capped || side.crypto.message_exceeds_cap()) && !side.crypto.capped {
                side.crypto.capped = true;
                found.push((
                    0,
                    Event::Malformed(format!(
                        "QUIC Handshake CRYPTO data past the {MAX_CRYPTO_BYTES}-byte cap was dropped"
                    )),
                ));
            }
        }
        for (ty, event) in found {
            if ty == tls::hs::FINISHED {
                if let Some(done) = self.finished.get_mut(i) {
                    *done = true;
                }
            }
            self.push(from_client, origin, event);
        }
    }

    /// The client's first Initial of this attempt (or a fresh one after Version Negotiation).
    fn start(&mut self, h: &LongHeader<'_>) {
        self.version = Some(h.version);
        self.client_dcid = h.dcid.to_vec();
        self.client_scid = h.scid.to_vec();
        self.key_dcid = Some(h.dcid.to_vec());
        self.client = Side::default();
    }

    fn drain_messages(
        &mut self,
        from_client: bool,
        capped: bool,
        origin: Origin,
        mut session: Option<&mut Session>,
    ) {
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
                        Ok(ch) => {
                            if let Some(s) = session.as_deref_mut() {
                                s.client_hello(&ch);
                            }
                            Event::ClientHello(Box::new(ch))
                        }
                        Err(e) => Event::Malformed(format!("QUIC ClientHello: {e}")),
                    },
                    (false, tls::hs::SERVER_HELLO) => match tls::parse_server_hello(body) {
                        Ok(sh) => {
                            if let Some(s) = session.as_deref_mut() {
                                s.server_hello(&sh);
                            }
                            Event::ServerHello(Box::new(sh))
                        }
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
        decrypted: bool,
    ) {
        // CRYPTO_ERROR 0x0100–0x01ff carries a TLS alert (RFC 9001 §4.8).
        if frame_type.is_some() && (0x0100..=0x01ff).contains(&code) {
            let description = u8::try_from(code - 0x0100).ok();
            let event = match description {
                Some(description) if decrypted => Event::DecryptedAlert {
                    level: 2,
                    description,
                },
                _ => Event::Alert {
                    level: Some(2),
                    description,
                    encrypted: false,
                },
            };
            self.push(from_client, origin, event);
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

#[cfg(test)]
mod tests;
