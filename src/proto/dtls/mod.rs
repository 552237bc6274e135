//! dtls: the UDP datagrams of one DTLS conversation in; the same handshake [`Event`]s the TCP
//! path gives out.
//!
//! DTLS 1.0 (RFC 4347) and 1.2 (RFC 6347) put TLS records in datagrams, one or more records per
//! datagram and none spanning two (RFC 6347 §4.1.1), with an explicit epoch and sequence number
//! in a 13-byte header, and add a 12-byte header to every handshake message so that a message
//! can be cut into fragments (§4.2.3) that arrive out of order, overlap, or arrive twice. This
//! module walks the records of each datagram, puts each handshake message back together by
//! `message_seq` from the bytes that arrived (never a buffer of the length a fragment claims;
//! at most [`MAX_BUFFERED`] bytes held per direction), and hands the
//! complete body to the TLS parsers: a ClientHello with its cookie removed (§4.2.1) to
//! [`tls::parse_client_hello`], a ServerHello to [`tls::parse_server_hello`], a Certificate to
//! tls-parser. A message_seq that was already delivered is a retransmission and is dropped; a
//! ClientHello sent again after a HelloVerifyRequest has a new message_seq and is reported
//! again (the second one carries the cookie and is the one the server answers).
//!
//! DTLS 1.3 (RFC 9147) is read as far as it is visible: its epoch-0 ClientHello, ServerHello
//! and HelloRetryRequest use the same plaintext header; everything after ServerHello travels in
//! the unified header (first byte `001CSLEE`, §4), which is only noted as the start of
//! encryption.
//!
//! A direction is *encrypted* from its first record with an epoch above 0 (or its first
//! unified-header record); [`DtlsConn::done`] says when both are, or a fatal alert ended the
//! handshake. Feeding datagrams after that is cheap (record headers only, nothing buffered) and
//! still reports encrypted alerts. With a key log's master secret (a [`Session`]), the
//! records of epoch 1 are opened with the key block's keys, their sequence number being the
//! header's epoch and sequence: alerts and the Finished messages become events. The module
//! does not follow later epochs (renegotiation), does not judge certificates,
//! does not decide who is client (the caller does: the sender of the first ClientHello) and
//! does not split one 5-tuple into several conversations. It never panics on any input.

use crate::flow::reassembly::Origin;
use crate::proto::der;
use crate::proto::pieces::Pieces;
use crate::proto::tls::decrypt::{DirKeys, Session};
use crate::proto::tls::{self, content, hs, CertificateRequest, Event, Located, MAX_EVENTS};
use std::collections::BTreeSet;
use tls_parser::{
    parse_tls_handshake_certificaterequest, parse_tls_handshake_msg_certificate,
    TlsMessageHandshake,
};

/// DTLS version numbers (the one's complement of the TLS ones, RFC 6347 §4.1).
pub mod version {
    pub const DTLS_1_0: u16 = 0xfeff;
    pub const DTLS_1_2: u16 = 0xfefd;
    /// Only in supported_versions: DTLS 1.3 records say 1.2 (RFC 9147 §5.3).
    pub const DTLS_1_3: u16 = 0xfefc;
}

/// RFC 9146: a DTLS 1.2 record with a connection ID, whose length the record does not say, so
/// the rest of the datagram is opaque.
pub const CONTENT_TLS12_CID: u8 = 25;
/// RFC 9147 §7: the ACK content type of DTLS 1.3.
pub const CONTENT_ACK: u8 = 26;

/// HelloVerifyRequest (RFC 6347 §4.2.1): the server asks for a cookie.
pub const HELLO_VERIFY_REQUEST: u8 = 3;

/// DTLSPlaintext header: type, version, epoch, 48-bit sequence number, length.
const RECORD_HEADER: usize = 13;
/// Handshake header: type, length, message_seq, fragment_offset, fragment_length.
const HANDSHAKE_HEADER: usize = 12;

/// Largest DTLS record accepted: 2^14 plaintext + 2048 expansion (RFC 6347 §4.1.1.1).
pub const MAX_RECORD: usize = (1 << 14) + 2048;
/// Handshake bytes buffered per direction for messages still missing fragments.
pub const MAX_BUFFERED: usize = 64 * 1024;
/// Handshake messages being reassembled at once per direction.
pub const MAX_PENDING_MESSAGES: usize = 16;
/// Disjoint byte ranges held for one message (a fragment flood cannot make the merge slow).
pub const MAX_RANGES: usize = 256;
/// Distinct message_seq values remembered per direction; past this the direction gives up.
pub const MAX_MESSAGES: usize = 256;
/// Records walked in one datagram.
pub const MAX_RECORDS_PER_DATAGRAM: usize = 64;
/// Datagrams of a direction that were not DTLS before the direction gives up.
pub const MAX_BAD_DATAGRAMS: u32 = 8;
/// Highest epoch believed in a plaintext-looking header when sniffing: epochs only grow on
/// renegotiation and key updates.
const MAX_SNIFF_EPOCH: u16 = 0x0fff;

fn is_dtls_version(v: u16) -> bool {
    matches!(v, version::DTLS_1_0 | version::DTLS_1_2 | version::DTLS_1_3)
}

/// The fixed fields of a DTLSPlaintext record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RecordHeader {
    content_type: u8,
    version: u16,
    epoch: u16,
    /// Epoch and 48-bit sequence number: the record's sequence number for its MAC or AEAD.
    seq: u64,
    length: usize,
}

fn record_header(b: &[u8]) -> Option<RecordHeader> {
    let [ct, v1, v2, e1, e2, s @ .., l1, l2] = b.get(..RECORD_HEADER)? else {
        return None;
    };
    let mut seq = [0u8; 8];
    seq.get_mut(..2)?.copy_from_slice(&[*e1, *e2]);
    seq.get_mut(2..)?.copy_from_slice(s);
    Some(RecordHeader {
        content_type: *ct,
        version: u16::from_be_bytes([*v1, *v2]),
        epoch: u16::from_be_bytes([*e1, *e2]),
        seq: u64::from_be_bytes(seq),
        length: usize::from(u16::from_be_bytes([*l1, *l2])),
    })
}

/// The fixed fields of a DTLS handshake header (RFC 6347 §4.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HandshakeHeader {
    msg_type: u8,
    length: usize,
    message_seq: u16,
    fragment_offset: usize,
    fragment_length: usize,
}

fn u24(a: u8, b: u8, c: u8) -> usize {
    u32::from_be_bytes([0, a, b, c]) as usize
}

fn handshake_header(b: &[u8]) -> Option<HandshakeHeader> {
    let [t, l1, l2, l3, s1, s2, o1, o2, o3, f1, f2, f3, ..] = b else {
        return None;
    };
    Some(HandshakeHeader {
        msg_type: *t,
        length: u24(*l1, *l2, *l3),
        message_seq: u16::from_be_bytes([*s1, *s2]),
        fragment_offset: u24(*o1, *o2, *o3),
        fragment_length: u24(*f1, *f2, *f3),
    })
}

/// Does this UDP payload start with a plausible DTLS record? Content type 20–25, version
/// 0xfeff / 0xfefd / 0xfefc, a modest epoch, and a length that fits the datagram (records never
/// span datagrams, RFC 6347 §4.1.1). An epoch-0 record must look like what it says: a
/// handshake fragment inside its message, a 1-byte ChangeCipherSpec, a 2-byte alert.
pub fn looks_like_dtls(payload: &[u8]) -> bool {
    let Some(h) = record_header(payload) else {
        return false;
    };
    if !(content::CHANGE_CIPHER_SPEC..=CONTENT_TLS12_CID).contains(&h.content_type)
        || !is_dtls_version(h.version)
        || h.epoch > MAX_SNIFF_EPOCH
        || h.length == 0
        || h.length > MAX_RECORD
    {
        return false;
    }
    let Some(body) = payload.get(RECORD_HEADER..RECORD_HEADER + h.length) else {
        return false;
    };
    if h.epoch > 0 {
        return true;
    }
    match h.content_type {
        content::HANDSHAKE => match handshake_header(body) {
            Some(m) => {
                matches!(m.msg_type, 0..=4 | 11..=16 | 20..=24)
                    && m.fragment_offset + m.fragment_length <= m.length
                    && HANDSHAKE_HEADER + m.fragment_length <= body.len()
            }
            None => false,
        },
        content::CHANGE_CIPHER_SPEC => body == [1],
        content::ALERT => matches!(body, [1 | 2, _]),
        // Application data and heartbeats are never sent in epoch 0.
        _ => false,
    }
}

/// A handshake message whose fragments are still arriving.
#[derive(Debug)]
struct Pending {
    message_seq: u16,
    msg_type: u8,
    /// The message body's length, as its fragments claim.
    length: usize,
    /// The fragments' bytes that arrived: only those are held, whatever the length claims.
    pieces: Pieces,
}
/// The DTLS state of one direction.
#[derive(Debug, Default)]
struct Side {
    pending: Vec<Pending>,
    /// Bytes held in `pending` (bytes that arrived, not the lengths they claim).
    buffered: usize,
    /// message_seq values delivered (or abandoned): later copies are retransmissions.
    finished: BTreeSet<u16>,
    /// EncryptionStarted was reported.
    encrypted: bool,
    /// Too much that was not DTLS, or a cap that leaves nothing to learn.
    gave_up: bool,
    bad_datagrams: u32,
    events_dropped: bool,
    /// Keys for epoch 1, once asked for at the first protected record.
    keys: Option<Box<DirKeys>>,
    keys_asked: bool,
    /// Protected records opened.
    opened: u64,
}

/// State of one DTLS conversation on a UDP 5-tuple (both directions).
#[derive(Debug, Default)]
pub struct DtlsConn {
    pub client_events: Vec<Located>,
    pub server_events: Vec<Located>,
    /// Records walked, both directions.
    pub records: u64,
    /// HelloVerifyRequests the server sent (RFC 6347 §4.2.1).
    pub hello_verify_requests: u32,
    /// Handshake fragments that repeated a message already delivered.
    pub retransmitted_fragments: u64,
    /// A plaintext fatal alert was seen: the handshake is over.
    pub fatal_alert: bool,
    client: Side,
    server: Side,
}

/// One direction while a datagram is walked: its state and where its events go.
struct Dir<'a> {
    side: &'a mut Side,
    events: &'a mut Vec<Located>,
    origin: Origin,
    from_client: bool,
    session: Option<&'a mut Session>,
}

impl Dir<'_> {
    fn push(&mut self, event: Event) {
        if self.events.len() >= MAX_EVENTS {
            // One note past the cap says that the rest was dropped.
            if !self.side.events_dropped {
                self.side.events_dropped = true;
                self.events.push(Located {
                    frame: self.origin.frame,
                    ts: self.origin.ts,
                    event: Event::Malformed(format!(
                        "more than {MAX_EVENTS} handshake events; the rest are dropped"
                    )),
                });
            }
            self.side.gave_up = true;
            return;
        }
        self.events.push(Located {
            frame: self.origin.frame,
            ts: self.origin.ts,
            event,
        });
    }
}

impl DtlsConn {
    /// One UDP datagram; `from_client` says the direction (the sender of the first ClientHello
    /// is the client). Walks every record in it.
    pub fn datagram(&mut self, from_client: bool, payload: &[u8], origin: Origin) {
        self.datagram_keyed(from_client, payload, origin, None);
    }

    /// [`DtlsConn::datagram`], with the connection's decryption facts when secrets are known.
    pub fn datagram_keyed(
        &mut self,
        from_client: bool,
        payload: &[u8],
        origin: Origin,
        session: Option<&mut Session>,
    ) {
        let (side, events) = if from_client {
            (&mut self.client, &mut self.client_events)
        } else {
            (&mut self.server, &mut self.server_events)
        };
        let mut dir = Dir {
            side,
            events,
            origin,
            from_client,
            session,
        };
        let mut rest = payload;
        for index in 0..MAX_RECORDS_PER_DATAGRAM {
            if rest.is_empty() {
                return;
            }
            match walk_record(&mut dir, rest, index == 0) {
                Step::Next(tail, r) => {
                    self.records += 1;
                    self.hello_verify_requests += r.hello_verify_requests;
                    self.retransmitted_fragments += r.retransmitted_fragments;
                    self.fatal_alert |= r.fatal_alert;
                    rest = tail;
                }
                Step::Stop(r) => {
                    self.records += u64::from(r.counted);
                    self.fatal_alert |= r.fatal_alert;
                    return;
                }
            }
        }
    }

    /// Heap bytes held, about: the connection, its events and the fragments waiting.
    pub fn heap_bytes(&self) -> usize {
        let events = self.client_events.capacity() + self.server_events.capacity();
        std::mem::size_of::<Self>()
            + events * std::mem::size_of::<Located>()
            + self.client.buffered
            + self.server.buffered
    }

    /// True once both directions are encrypted (or gave up), or a fatal alert ended the
    /// handshake: nothing more of the handshake can be learnt and the caller may stop feeding.
    pub fn done(&self) -> bool {
        let over = |s: &Side| s.encrypted || s.gave_up;
        self.fatal_alert || (over(&self.client) && over(&self.server))
    }
}

/// What one record changed besides the direction's events.
#[derive(Debug, Default, Clone, Copy)]
struct RecordFacts {
    hello_verify_requests: u32,
    retransmitted_fragments: u64,
    fatal_alert: bool,
}

/// After a record: the bytes after it, or the end of the datagram.
enum Step<'a> {
    Next(&'a [u8], RecordFacts),
    Stop(StopFacts),
}

#[derive(Debug, Default, Clone, Copy)]
struct StopFacts {
    /// The record that stopped the walk was a record (an opaque one).
    counted: bool,
    fatal_alert: bool,
}

/// Walks one record at the start of `data`.
fn walk_record<'a>(dir: &mut Dir<'_>, data: &'a [u8], first: bool) -> Step<'a> {
    let Some(&b0) = data.first() else {
        return Step::Stop(StopFacts::default());
    };
    // RFC 9147 §4: DTLSCiphertext unified header, 001CSLEE.
    if b0 & 0xe0 == 0x20 {
        return unified_record(dir, data);
    }
    let Some(h) = record_header(data).filter(|h| {
        (content::CHANGE_CIPHER_SPEC..=CONTENT_ACK).contains(&h.content_type)
            && is_dtls_version(h.version)
    }) else {
        not_dtls(dir, first, "not a DTLS record header");
        return Step::Stop(StopFacts::default());
    };
    if h.content_type == CONTENT_TLS12_CID {
        // The connection ID's length is not on the wire (RFC 9146 §4): the rest is opaque.
        encryption_started(dir, h.content_type, h.length);
        return Step::Stop(StopFacts {
            counted: true,
            fatal_alert: false,
        });
    }
    let Some(body) = data.get(RECORD_HEADER..RECORD_HEADER + h.length) else {
        dir.push(Event::Malformed(format!(
            "DTLS record of {} bytes, {} in the datagram",
            h.length,
            data.len().saturating_sub(RECORD_HEADER)
        )));
        return Step::Stop(StopFacts::default());
    };
    let tail = data.get(RECORD_HEADER + h.length..).unwrap_or_default();
    dir.side.bad_datagrams = 0;
    let mut facts = RecordFacts::default();
    if h.epoch > 0 {
        encryption_started(dir, h.content_type, h.length);
        match open(dir, &h, body) {
            Some(plain) => opened(dir, h.content_type, &plain, &mut facts),
            None if h.content_type == content::ALERT => dir.push(Event::ENCRYPTED_ALERT),
            None => {}
        }
        return Step::Next(tail, facts);
    }
    match h.content_type {
        content::CHANGE_CIPHER_SPEC => dir.push(Event::ChangeCipherSpec),
        content::ALERT => {
            for pair in body.chunks(2) {
                match pair {
                    [level, desc] => {
                        facts.fatal_alert |= *level == 2;
                        dir.push(Event::Alert {
                            level: Some(*level),
                            description: Some(*desc),
                            encrypted: false,
                        })
                    }
                    _ => dir.push(Event::Malformed("alert record with an odd length".into())),
                }
            }
        }
        content::HANDSHAKE => handshake_record(dir, body, &mut facts),
        // Epoch-0 application data, heartbeats and plaintext ACKs tell nothing about the
        // handshake.
        _ => {}
    }
    Step::Next(tail, facts)
}

/// Opens a protected DTLS 1.0/1.2 record of epoch 1 when the key logs have its secret.
fn open(dir: &mut Dir<'_>, h: &RecordHeader, body: &[u8]) -> Option<Vec<u8>> {
    if let (Some(s), false) = (dir.session.as_deref_mut(), dir.side.keys_asked) {
        dir.side.keys_asked = true;
        dir.side.keys = s.keys_for(dir.from_client).map(Box::new);
        if dir.side.keys.is_none() && s.source.is_some() {
            dir.push(Event::KeysDoNotDecrypt(
                "the key log has secrets for this connection, but its cipher suite is not one \
                 this build decrypts"
                    .into(),
            ));
        }
    }
    if h.epoch != 1 {
        return None;
    }
    let keys = dir.side.keys.as_mut()?;
    match keys.open_dtls(h.seq, h.content_type, h.version, body) {
        Some(plain) => {
            dir.side.opened += 1;
            Some(plain)
        }
        None => {
            dir.side.keys = None;
            if dir.side.opened == 0 {
                dir.push(Event::KeysDoNotDecrypt(format!(
                    "the first protected record ({} bytes) does not open with the key log's \
                     secrets for this connection",
                    body.len()
                )));
            }
            None
        }
    }
}

/// The content of an opened record: alerts, and the handshake messages of epoch 1 (the
/// Finished; a renegotiation's hellos are only named).
fn opened(dir: &mut Dir<'_>, content_type: u8, plain: &[u8], facts: &mut RecordFacts) {
    match content_type {
        content::ALERT => {
            for pair in plain.chunks(2) {
                if let [level, description] = pair {
                    facts.fatal_alert |= *level == 2;
                    dir.push(Event::DecryptedAlert {
                        level: *level,
                        description: *description,
                    });
                }
            }
        }
        content::HANDSHAKE => {
            let mut body = plain;
            while let Some(m) = handshake_header(body) {
                dir.push(Event::Handshake(m.msg_type));
                body = body
                    .get(HANDSHAKE_HEADER + m.fragment_length..)
                    .unwrap_or_default();
            }
        }
        _ => {}
    }
}

/// A DTLS 1.3 DTLSCiphertext record (RFC 9147 §4): header `001CSLEE`, then the connection
/// ID (length not on the wire), an 8- or 16-bit sequence number, and a 16-bit length when L is
/// set (else the record runs to the end of the datagram).
fn unified_record<'a>(dir: &mut Dir<'_>, data: &'a [u8]) -> Step<'a> {
    let Some(&b0) = data.first() else {
        return Step::Stop(StopFacts::default());
    };
    let cid = b0 & 0x10 != 0;
    let seq_len = if b0 & 0x08 != 0 { 2 } else { 1 };
    let has_len = b0 & 0x04 != 0;
    let stop = StopFacts {
        counted: true,
        fatal_alert: false,
    };
    if cid || !has_len {
        let len = data.len().saturating_sub(1 + seq_len);
        encryption_started(
            dir,
            content::APPLICATION_DATA,
            len.min(usize::from(u16::MAX)),
        );
        return Step::Stop(stop);
    }
    let header = 1 + seq_len + 2;
    let len = match data.get(1 + seq_len..header) {
        Some([a, b]) => usize::from(u16::from_be_bytes([*a, *b])),
        _ => {
            dir.push(Event::Malformed("DTLS 1.3 record header truncated".into()));
            return Step::Stop(StopFacts::default());
        }
    };
    encryption_started(dir, content::APPLICATION_DATA, len);
    match data.get(header + len..) {
        Some(tail) => Step::Next(tail, RecordFacts::default()),
        None => {
            dir.push(Event::Malformed(format!(
                "DTLS 1.3 record of {len} bytes, {} in the datagram",
                data.len().saturating_sub(header)
            )));
            Step::Stop(stop)
        }
    }
}

/// The first encrypted record of a direction. For a unified header the content type is
/// hidden; it is reported as application data (23).
fn encryption_started(dir: &mut Dir<'_>, content_type: u8, length: usize) {
    dir.side.pending.clear();
    dir.side.buffered = 0;
    if !dir.side.encrypted {
        dir.side.encrypted = true;
        dir.push(Event::EncryptionStarted {
            content_type,
            length: u16::try_from(length).unwrap_or(u16::MAX),
        });
    }
}

/// A datagram (or the rest of one) that is not DTLS: reported once per datagram; enough of
/// them and the direction gives up.
fn not_dtls(dir: &mut Dir<'_>, first: bool, why: &str) {
    if dir.side.gave_up {
        return;
    }
    if first {
        dir.side.bad_datagrams += 1;
    }
    if dir.side.bad_datagrams >= MAX_BAD_DATAGRAMS {
        dir.side.gave_up = true;
        dir.push(Event::Malformed(format!(
            "{MAX_BAD_DATAGRAMS} datagrams in a row were not DTLS; giving up on this direction"
        )));
    } else {
        dir.push(Event::Malformed(why.to_string()));
    }
}

/// The handshake fragments of one epoch-0 record (several may share a record).
fn handshake_record(dir: &mut Dir<'_>, mut body: &[u8], facts: &mut RecordFacts) {
    while !body.is_empty() {
        let Some(m) = handshake_header(body) else {
            dir.push(Event::Malformed(
                "handshake fragment header truncated".into(),
            ));
            return;
        };
        let end = HANDSHAKE_HEADER + m.fragment_length;
        let Some(fragment) = body.get(HANDSHAKE_HEADER..end) else {
            dir.push(Event::Malformed(format!(
                "handshake fragment of {} bytes, {} in the record",
                m.fragment_length,
                body.len().saturating_sub(HANDSHAKE_HEADER)
            )));
            return;
        };
        body = body.get(end..).unwrap_or_default();
        fragment_in(dir, m, fragment, facts);
    }
}

/// One handshake fragment: delivered at once when it is the whole message, else buffered
/// until the message_seq's fragments cover it.
fn fragment_in(dir: &mut Dir<'_>, m: HandshakeHeader, fragment: &[u8], facts: &mut RecordFacts) {
    if m.fragment_offset + m.fragment_length > m.length {
        dir.push(Event::Malformed(format!(
            "handshake fragment {}+{} outside its {}-byte message",
            m.fragment_offset, m.fragment_length, m.length
        )));
        return;
    }
    if dir.side.finished.contains(&m.message_seq) {
        facts.retransmitted_fragments += 1;
        return;
    }
    if dir.side.gave_up {
        return;
    }
    let at = dir
        .side
        .pending
        .iter()
        .position(|p| p.message_seq == m.message_seq);
    // A fragment that disagrees with the others on type or length: follow the newer one.
    if let Some(i) = at {
        let agrees = dir
            .side
            .pending
            .get(i)
            .is_some_and(|p| p.msg_type == m.msg_type && p.length == m.length);
        if !agrees {
            drop_pending(dir.side, i);
            dir.push(Event::Malformed(format!(
                "fragments of handshake message {} disagree on type or length",
                m.message_seq
            )));
            return fragment_in(dir, m, fragment, facts);
        }
    }
    if at.is_none() && m.fragment_offset == 0 && m.fragment_length == m.length {
        finish(dir, m.message_seq);
        message(dir, m.msg_type, fragment, facts);
        return;
    }
    // Only bytes that arrive are held; a message that could never fit is not started.
    if dir.side.buffered + m.fragment_length > MAX_BUFFERED
        || m.length > MAX_BUFFERED
        || (at.is_none() && dir.side.pending.len() >= MAX_PENDING_MESSAGES)
    {
        if let Some(i) = at {
            drop_pending(dir.side, i);
        }
        finish(dir, m.message_seq);
        dir.push(Event::Malformed(format!(
            "handshake message {} of {} bytes exceeds the {MAX_BUFFERED}-byte / \
             {MAX_PENDING_MESSAGES}-message reassembly cap",
            m.message_seq, m.length
        )));
        return;
    }
    let i = match at {
        Some(i) => i,
        None => {
            dir.side.pending.push(Pending {
                message_seq: m.message_seq,
                msg_type: m.msg_type,
                length: m.length,
                pieces: Pieces::default(),
            });
            dir.side.pending.len() - 1
        }
    };
    let Some(p) = dir.side.pending.get_mut(i) else {
        return;
    };
    dir.side.buffered += p.pieces.insert(m.fragment_offset, fragment);
    if p.pieces.count() > MAX_RANGES {
        drop_pending(dir.side, i);
        finish(dir, m.message_seq);
        dir.push(Event::Malformed(format!(
            "handshake message {} came in more than {MAX_RANGES} disjoint pieces",
            m.message_seq
        )));
        return;
    }
    if p.pieces.whole(p.length).is_some() {
        let p = dir.side.pending.swap_remove(i);
        dir.side.buffered = dir.side.buffered.saturating_sub(p.pieces.held());
        finish(dir, m.message_seq);
        message(
            dir,
            p.msg_type,
            p.pieces.whole(p.length).unwrap_or_default(),
            facts,
        );
    }
}

fn drop_pending(side: &mut Side, i: usize) {
    if i < side.pending.len() {
        let p = side.pending.swap_remove(i);
        side.buffered = side.buffered.saturating_sub(p.pieces.held());
    }
}

/// Marks a message_seq as delivered; past [`MAX_MESSAGES`] the direction gives up.
fn finish(dir: &mut Dir<'_>, message_seq: u16) {
    if dir.side.finished.len() >= MAX_MESSAGES {
        if !dir.side.gave_up {
            dir.side.gave_up = true;
            dir.push(Event::Malformed(format!(
                "more than {MAX_MESSAGES} handshake messages; giving up on this direction"
            )));
        }
        return;
    }
    dir.side.finished.insert(message_seq);
}

/// One complete handshake message body (after the 12-byte header).
fn message(dir: &mut Dir<'_>, msg_type: u8, body: &[u8], facts: &mut RecordFacts) {
    let event = match msg_type {
        hs::CLIENT_HELLO => {
            match client_hello_tls_layout(body).and_then(|b| tls::parse_client_hello(&b)) {
                Ok(ch) => {
                    if let Some(s) = dir.session.as_deref_mut() {
                        s.client_hello(&ch);
                    }
                    Event::ClientHello(Box::new(ch))
                }
                Err(e) => Event::Malformed(format!("DTLS ClientHello: {e}")),
            }
        }
        hs::SERVER_HELLO => match tls::parse_server_hello(body) {
            Ok(sh) => {
                if let Some(s) = dir.session.as_deref_mut() {
                    s.server_hello(&sh);
                }
                Event::ServerHello(Box::new(sh))
            }
            Err(e) => Event::Malformed(format!("DTLS ServerHello: {e}")),
        },
        HELLO_VERIFY_REQUEST => {
            facts.hello_verify_requests += 1;
            Event::Handshake(HELLO_VERIFY_REQUEST)
        }
        hs::CERTIFICATE => match parse_tls_handshake_msg_certificate(body) {
            Ok((_, TlsMessageHandshake::Certificate(c))) => {
                Event::Certificate(c.cert_chain.iter().map(|c| der::share(c.data)).collect())
            }
            _ => Event::Malformed("DTLS Certificate message does not parse".into()),
        },
        hs::CERTIFICATE_REQUEST => match parse_tls_handshake_certificaterequest(body) {
            Ok((_, cr)) => Event::CertificateRequest(Box::new(CertificateRequest {
                cert_types: cr.cert_types.clone(),
                ca_names: cr.unparsed_ca.iter().map(|n| n.to_vec()).collect(),
            })),
            Err(_) => Event::Malformed("DTLS CertificateRequest does not parse".into()),
        },
        hs::CERTIFICATE_STATUS => match body {
            [status_type, a, b, c, rest @ ..] => Event::CertificateStatus {
                status_type: *status_type,
                response: rest.get(..u24(*a, *b, *c)).unwrap_or(rest).to_vec(),
            },
            _ => Event::Malformed("DTLS CertificateStatus too short".into()),
        },
        hs::SERVER_KEY_EXCHANGE => {
            tls::server_key_exchange(body, tls::negotiated_suite(dir.events))
        }
        other => Event::Handshake(other),
    };
    dir.push(event);
}

/// A DTLS ClientHello body rewritten in the TLS layout: the cookie that follows the session
/// id (RFC 6347 §4.2.1; RFC 9147 §5.3 keeps it as legacy_cookie) is cut out, so the TLS parser
/// and its extension walk serve both.
fn client_hello_tls_layout(body: &[u8]) -> Result<Vec<u8>, &'static str> {
    let (&sid_len, after) = body
        .get(34..)
        .and_then(<[u8]>::split_first)
        .ok_or("too short for the session id")?;
    let head_len = 35 + usize::from(sid_len);
    let head = body
        .get(..head_len)
        .ok_or("session id longer than the message")?;
    let (&cookie_len, after_sid) = after
        .get(usize::from(sid_len)..)
        .and_then(<[u8]>::split_first)
        .ok_or("too short for the cookie")?;
    let tail = after_sid
        .get(usize::from(cookie_len)..)
        .ok_or("cookie longer than the message")?;
    let mut out = Vec::with_capacity(head.len() + tail.len());
    out.extend_from_slice(head);
    out.extend_from_slice(tail);
    Ok(out)
}

#[cfg(test)]
mod tests;
