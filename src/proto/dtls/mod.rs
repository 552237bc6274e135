//! dtls: the UDP datagrams of one DTLS conversation in; the same handshake [`Event`]s the TCP
//! path gives out.
//!
//! DTLS 1.0 (RFC 4347) and 1.2 (RFC 6347) put TLS records in datagrams, one or more records per
//! datagram and none spanning two (RFC 6347 §4.1.1), with an explicit epoch and sequence number
//! in a 13-byte header, and add a 12-byte header to every handshake message so that a message
//! can be cut into fragments (§4.2.3) that arrive out of order, overlap, or arrive twice. This
//! module walks the records of each datagram, puts each handshake message back together by
//! `message_seq` in a small buffer (capped by [`MAX_BUFFERED`] per direction), and hands the
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
//! still reports encrypted alerts. The module does not decrypt, does not judge certificates,
//! does not decide who is client (the caller does: the sender of the first ClientHello) and
//! does not split one 5-tuple into several conversations. It never panics on any input.

use crate::flow::reassembly::Origin;
use crate::proto::tls::{self, content, hs, Event, Located, MAX_EVENTS};
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
    length: usize,
}

fn record_header(b: &[u8]) -> Option<RecordHeader> {
    let [ct, v1, v2, e1, e2, _, _, _, _, _, _, l1, l2, ..] = b else {
        return None;
    };
    Some(RecordHeader {
        content_type: *ct,
        version: u16::from_be_bytes([*v1, *v2]),
        epoch: u16::from_be_bytes([*e1, *e2]),
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
    /// The whole message body, zero where no fragment arrived yet.
    buf: Vec<u8>,
    /// Sorted, disjoint, non-adjacent byte ranges of `buf` that arrived.
    have: Vec<(usize, usize)>,
}

impl Pending {
    /// Records `[start, end)`; returns false when the range list is full.
    fn cover(&mut self, start: usize, end: usize) -> bool {
        if start >= end {
            return true;
        }
        let mut merged = (start, end);
        let mut out = Vec::with_capacity(self.have.len() + 1);
        let mut placed = false;
        for &(a, b) in &self.have {
            if b < merged.0 {
                out.push((a, b));
            } else if a > merged.1 {
                if !placed {
                    out.push(merged);
                    placed = true;
                }
                out.push((a, b));
            } else {
                merged = (merged.0.min(a), merged.1.max(b));
            }
        }
        if !placed {
            out.push(merged);
        }
        if out.len() > MAX_RANGES {
            return false;
        }
        self.have = out;
        true
    }

    fn complete(&self) -> bool {
        self.buf.is_empty() || self.have.as_slice() == [(0, self.buf.len())]
    }
}

/// The DTLS state of one direction.
#[derive(Debug, Default)]
struct Side {
    pending: Vec<Pending>,
    /// Bytes held in `pending`.
    buffered: usize,
    /// message_seq values delivered (or abandoned): later copies are retransmissions.
    finished: BTreeSet<u16>,
    /// EncryptionStarted was reported.
    encrypted: bool,
    /// Too much that was not DTLS, or a cap that leaves nothing to learn.
    gave_up: bool,
    bad_datagrams: u32,
    events_dropped: bool,
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
        let (side, events) = if from_client {
            (&mut self.client, &mut self.client_events)
        } else {
            (&mut self.server, &mut self.server_events)
        };
        let mut dir = Dir {
            side,
            events,
            origin,
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
        if h.content_type == content::ALERT {
            dir.push(Event::ENCRYPTED_ALERT);
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
            .is_some_and(|p| p.msg_type == m.msg_type && p.buf.len() == m.length);
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
    let i = match at {
        Some(i) => i,
        None => {
            if dir.side.buffered + m.length > MAX_BUFFERED
                || dir.side.pending.len() >= MAX_PENDING_MESSAGES
            {
                finish(dir, m.message_seq);
                dir.push(Event::Malformed(format!(
                    "handshake message {} of {} bytes exceeds the {MAX_BUFFERED}-byte / \
                     {MAX_PENDING_MESSAGES}-message reassembly cap",
                    m.message_seq, m.length
                )));
                return;
            }
            dir.side.buffered += m.length;
            dir.side.pending.push(Pending {
                message_seq: m.message_seq,
                msg_type: m.msg_type,
                buf: vec![0; m.length],
                have: Vec::new(),
            });
            dir.side.pending.len() - 1
        }
    };
    let Some(p) = dir.side.pending.get_mut(i) else {
        return;
    };
    let end = m.fragment_offset + m.fragment_length;
    if let Some(dst) = p.buf.get_mut(m.fragment_offset..end) {
        dst.copy_from_slice(fragment);
    }
    if !p.cover(m.fragment_offset, end) {
        drop_pending(dir.side, i);
        finish(dir, m.message_seq);
        dir.push(Event::Malformed(format!(
            "handshake message {} came in more than {MAX_RANGES} disjoint pieces",
            m.message_seq
        )));
        return;
    }
    if p.complete() {
        let p = dir.side.pending.swap_remove(i);
        dir.side.buffered = dir.side.buffered.saturating_sub(p.buf.len());
        finish(dir, m.message_seq);
        message(dir, p.msg_type, &p.buf, facts);
    }
}

fn drop_pending(side: &mut Side, i: usize) {
    if i < side.pending.len() {
        let p = side.pending.swap_remove(i);
        side.buffered = side.buffered.saturating_sub(p.buf.len());
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
                Ok(ch) => Event::ClientHello(Box::new(ch)),
                Err(e) => Event::Malformed(format!("DTLS ClientHello: {e}")),
            }
        }
        hs::SERVER_HELLO => match tls::parse_server_hello(body) {
            Ok(sh) => Event::ServerHello(Box::new(sh)),
            Err(e) => Event::Malformed(format!("DTLS ServerHello: {e}")),
        },
        HELLO_VERIFY_REQUEST => {
            facts.hello_verify_requests += 1;
            Event::Handshake(HELLO_VERIFY_REQUEST)
        }
        hs::CERTIFICATE => match parse_tls_handshake_msg_certificate(body) {
            Ok((_, TlsMessageHandshake::Certificate(c))) => {
                Event::Certificate(c.cert_chain.iter().map(|c| c.data.to_vec()).collect())
            }
            _ => Event::Malformed("DTLS Certificate message does not parse".into()),
        },
        hs::CERTIFICATE_REQUEST => match parse_tls_handshake_certificaterequest(body) {
            Ok((_, cr)) => Event::CertificateRequest {
                cert_types: cr.cert_types.clone(),
                ca_names: cr.unparsed_ca.iter().map(|n| n.to_vec()).collect(),
            },
            Err(_) => Event::Malformed("DTLS CertificateRequest does not parse".into()),
        },
        hs::CERTIFICATE_STATUS => match body {
            [status_type, a, b, c, rest @ ..] => Event::CertificateStatus {
                status_type: *status_type,
                response: rest.get(..u24(*a, *b, *c)).unwrap_or(rest).to_vec(),
            },
            _ => Event::Malformed("DTLS CertificateStatus too short".into()),
        },
        hs::SERVER_KEY_EXCHANGE => Event::ServerKeyExchange {
            // ECParameters: curve_type 3 = named_curve, then the NamedGroup (RFC 8422 §5.4).
            group: match body {
                [3, a, b, ..] => Some(u16::from_be_bytes([*a, *b])),
                _ => None,
            },
        },
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
mod tests {
    use super::*;
    use crate::capture::Timestamp;
    use std::collections::HashMap;
    use std::net::IpAddr;
    use std::path::Path;

    fn origin(frame: u64) -> Origin {
        Origin {
            frame,
            ts: Timestamp(0),
        }
    }

    fn record(ct: u8, epoch: u16, seq: u64, body: &[u8]) -> Vec<u8> {
        let mut r = vec![ct, 0xfe, 0xfd];
        r.extend_from_slice(&epoch.to_be_bytes());
        r.extend_from_slice(&seq.to_be_bytes()[2..]);
        r.extend_from_slice(&(body.len() as u16).to_be_bytes());
        r.extend_from_slice(body);
        r
    }

    fn u24b(v: usize) -> [u8; 3] {
        let b = (v as u32).to_be_bytes();
        [b[1], b[2], b[3]]
    }

    /// A handshake fragment: header + `msg[off..off + len]`.
    fn fragment(t: u8, seq: u16, msg: &[u8], off: usize, len: usize) -> Vec<u8> {
        let mut f = vec![t];
        f.extend_from_slice(&u24b(msg.len()));
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&u24b(off));
        f.extend_from_slice(&u24b(len));
        f.extend_from_slice(&msg[off..off + len]);
        f
    }

    fn ext(t: u16, data: &[u8]) -> Vec<u8> {
        let mut e = t.to_be_bytes().to_vec();
        e.extend_from_slice(&(data.len() as u16).to_be_bytes());
        e.extend_from_slice(data);
        e
    }

    /// A DTLS ClientHello body with SNI, ALPN "webrtc" and supported_versions.
    fn client_hello_body(cookie: &[u8]) -> Vec<u8> {
        let mut b = vec![0xfe, 0xfd];
        b.extend_from_slice(&[7; 32]);
        b.push(0); // session id
        b.push(cookie.len() as u8);
        b.extend_from_slice(cookie);
        b.extend_from_slice(&[0, 4, 0x13, 0x01, 0xc0, 0x2b]);
        b.extend_from_slice(&[1, 0]);
        let name = b"dtls.example";
        let mut sni = ((name.len() + 3) as u16).to_be_bytes().to_vec();
        sni.push(0);
        sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
        sni.extend_from_slice(name);
        let mut exts = ext(0, &sni);
        exts.extend(ext(16, &[0, 7, 6, b'w', b'e', b'b', b'r', b't', b'c']));
        exts.extend(ext(43, &[4, 0xfe, 0xfc, 0xfe, 0xfd]));
        b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        b.extend(exts);
        b
    }

    fn server_hello_body() -> Vec<u8> {
        let mut b = vec![0xfe, 0xfd];
        b.extend_from_slice(&[9; 32]);
        b.push(0);
        b.extend_from_slice(&[0xc0, 0x2b, 0]);
        b.extend_from_slice(&[0, 0]);
        b
    }

    fn client_hellos(events: &[Located]) -> Vec<&tls::ClientHello> {
        events
            .iter()
            .filter_map(|e| match &e.event {
                Event::ClientHello(ch) => Some(&**ch),
                _ => None,
            })
            .collect()
    }

    fn malformed(events: &[Located]) -> Vec<&str> {
        events
            .iter()
            .filter_map(|e| match &e.event {
                Event::Malformed(m) => Some(m.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn whole_client_hello_in_one_record_parses_like_tls() {
        let body = client_hello_body(&[]);
        let dg = record(22, 0, 0, &fragment(1, 0, &body, 0, body.len()));
        assert!(looks_like_dtls(&dg));
        let mut c = DtlsConn::default();
        c.datagram(true, &dg, origin(1));
        let chs = client_hellos(&c.client_events);
        assert_eq!(chs.len(), 1, "{:?}", c.client_events);
        let ch = chs[0];
        assert_eq!(ch.legacy_version, 0xfefd);
        assert_eq!(ch.sni.as_deref(), Some("dtls.example"));
        assert_eq!(ch.alpn, ["webrtc"]);
        assert_eq!(ch.cipher_suites, [0x1301, 0xc02b]);
        assert_eq!(ch.supported_versions, [0xfefc, 0xfefd]);
        assert_eq!(ch.extensions, [0, 16, 43]);
        assert!(!c.done());
    }

    #[test]
    fn client_hello_in_three_fragments_out_of_order_is_reassembled() {
        let body = client_hello_body(&[]);
        let n = body.len();
        let (a, b) = (20, 50);
        let mut c = DtlsConn::default();
        c.datagram(
            true,
            &record(22, 0, 2, &fragment(1, 0, &body, b, n - b)),
            origin(1),
        );
        c.datagram(
            true,
            &record(22, 0, 0, &fragment(1, 0, &body, 0, a)),
            origin(2),
        );
        assert!(client_hellos(&c.client_events).is_empty());
        c.datagram(
            true,
            &record(22, 0, 1, &fragment(1, 0, &body, a, b - a)),
            origin(3),
        );
        let chs = client_hellos(&c.client_events);
        assert_eq!(chs.len(), 1);
        assert_eq!(chs[0].sni.as_deref(), Some("dtls.example"));
        assert_eq!(c.client_events[0].frame, 3);
        assert_eq!(c.client.buffered, 0);
        // A retransmitted fragment of the same message_seq is not a new ClientHello.
        c.datagram(
            true,
            &record(22, 0, 3, &fragment(1, 0, &body, 0, a)),
            origin(4),
        );
        assert_eq!(client_hellos(&c.client_events).len(), 1);
        assert_eq!(c.retransmitted_fragments, 1);
    }

    #[test]
    fn overlapping_and_duplicated_fragments_are_reassembled() {
        let body = client_hello_body(b"cookie");
        let n = body.len();
        let mut c = DtlsConn::default();
        for (i, (off, len)) in [(10, 30), (0, 15), (10, 30), (35, n - 35 - 5), (n - 10, 10)]
            .into_iter()
            .enumerate()
        {
            assert!(client_hellos(&c.client_events).is_empty());
            c.datagram(
                true,
                &record(22, 0, i as u64, &fragment(1, 0, &body, off, len)),
                origin(i as u64),
            );
        }
        let chs = client_hellos(&c.client_events);
        assert_eq!(chs.len(), 1, "{:?}", c.client_events);
        assert_eq!(chs[0].alpn, ["webrtc"]);
    }

    #[test]
    fn hello_verify_request_then_second_client_hello_reports_both() {
        let mut c = DtlsConn::default();
        let first = client_hello_body(&[]);
        c.datagram(
            true,
            &record(22, 0, 0, &fragment(1, 0, &first, 0, first.len())),
            origin(1),
        );
        let hvr = [0xfe, 0xff, 4, 1, 2, 3, 4];
        c.datagram(
            false,
            &record(22, 0, 0, &fragment(3, 0, &hvr, 0, hvr.len())),
            origin(2),
        );
        let second = client_hello_body(&[1, 2, 3, 4]);
        c.datagram(
            true,
            &record(22, 0, 1, &fragment(1, 1, &second, 0, second.len())),
            origin(3),
        );
        assert_eq!(c.hello_verify_requests, 1);
        assert_eq!(client_hellos(&c.client_events).len(), 2);
        assert!(c
            .server_events
            .iter()
            .any(|e| e.event == Event::Handshake(HELLO_VERIFY_REQUEST)));
    }

    #[test]
    fn several_records_per_datagram_and_epoch_one_records() {
        let sh = server_hello_body();
        let mut dg = record(22, 0, 1, &fragment(2, 1, &sh, 0, sh.len()));
        dg.extend(record(22, 0, 2, &fragment(14, 2, &[], 0, 0)));
        dg.extend(record(20, 0, 3, &[1]));
        dg.extend(record(22, 1, 0, &[0xaa; 40]));
        dg.extend(record(21, 1, 1, &[0xbb; 26]));
        let mut c = DtlsConn::default();
        c.datagram(false, &dg, origin(5));
        assert_eq!(c.records, 5);
        let kinds: Vec<_> = c.server_events.iter().map(|e| &e.event).collect();
        assert!(matches!(kinds[0], Event::ServerHello(s) if s.cipher_suite == 0xc02b));
        assert_eq!(kinds[1], &Event::Handshake(14));
        assert_eq!(kinds[2], &Event::ChangeCipherSpec);
        assert_eq!(
            kinds[3],
            &Event::EncryptionStarted {
                content_type: 22,
                length: 40
            }
        );
        assert_eq!(
            kinds[4],
            &Event::Alert {
                level: None,
                description: None,
                encrypted: true
            }
        );
        assert_eq!(kinds.len(), 5);
        assert!(!c.done());
        c.datagram(true, &record(23, 1, 5, &[0; 30]), origin(6));
        assert!(c.done());
    }

    #[test]
    fn plaintext_fatal_alert_ends_the_handshake() {
        let mut c = DtlsConn::default();
        c.datagram(false, &record(21, 0, 0, &[2, 40]), origin(1));
        assert_eq!(
            c.server_events[0].event,
            Event::Alert {
                level: Some(2),
                description: Some(40),
                encrypted: false
            }
        );
        assert!(c.done());
    }

    #[test]
    fn dtls13_unified_header_records_start_encryption() {
        let mut c = DtlsConn::default();
        // 0x2e: no CID, 16-bit sequence number, length present, epoch 2.
        let mut dg = vec![0x2e, 0, 1, 0, 3, 1, 2, 3];
        dg.extend([0x2f, 0, 2, 0, 2, 9, 9]);
        c.datagram(false, &dg, origin(1));
        assert_eq!(c.records, 2);
        assert_eq!(
            c.server_events,
            [Located {
                frame: 1,
                ts: Timestamp(0),
                event: Event::EncryptionStarted {
                    content_type: 23,
                    length: 3
                }
            }]
        );
    }

    #[test]
    fn certificate_message_gives_the_der_list() {
        let der = [0x30, 3, 1, 2, 3];
        let mut cert = u24b(3 + der.len()).to_vec();
        cert.extend_from_slice(&u24b(der.len()));
        cert.extend_from_slice(&der);
        let mut c = DtlsConn::default();
        c.datagram(
            false,
            &record(22, 0, 0, &fragment(11, 2, &cert, 0, cert.len())),
            origin(1),
        );
        assert_eq!(
            c.server_events[0].event,
            Event::Certificate(vec![der.to_vec()])
        );
    }

    #[test]
    fn sniffing_accepts_dtls_and_rejects_tls_dns_and_lies() {
        let body = client_hello_body(&[]);
        let ch = record(22, 0, 0, &fragment(1, 0, &body, 0, body.len()));
        assert!(looks_like_dtls(&ch));
        assert!(looks_like_dtls(&record(20, 0, 0, &[1])));
        assert!(looks_like_dtls(&record(23, 1, 0, &[0; 30])));
        assert!(
            !looks_like_dtls(&ch[..ch.len() - 1]),
            "record longer than datagram"
        );
        let mut tls = ch.clone();
        tls[1] = 3;
        tls[2] = 3;
        assert!(!looks_like_dtls(&tls));
        let mut bad_type = ch.clone();
        bad_type[0] = 27;
        assert!(!looks_like_dtls(&bad_type));
        assert!(
            !looks_like_dtls(&record(23, 0, 0, &[0; 30])),
            "epoch-0 app data"
        );
        assert!(
            !looks_like_dtls(&record(21, 0, 0, &[5, 0])),
            "alert level 5"
        );
        assert!(
            !looks_like_dtls(&record(
                22,
                0,
                0,
                &[1, 0, 0, 5, 0, 0, 0, 0, 3, 0, 0, 3, 1, 2, 3]
            )),
            "fragment past its message"
        );
        // A DNS query.
        assert!(!looks_like_dtls(&[
            0x27, 0x1a, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w'
        ]));
        assert!(!looks_like_dtls(&[]));
    }

    #[test]
    fn malformed_inputs_are_findings_not_panics() {
        let body = client_hello_body(&[]);
        let table: Vec<(&str, Vec<u8>)> = vec![
            ("garbage", vec![0x99; 40]),
            ("record longer than datagram", {
                let mut r = record(22, 0, 0, &fragment(1, 0, &body, 0, body.len()));
                r.truncate(r.len() - 3);
                r
            }),
            (
                "fragment longer than record",
                record(22, 0, 0, &[1, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 9, 1]),
            ),
            (
                "fragment past its message",
                record(22, 0, 0, &[1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 1, 2]),
            ),
            ("half a handshake header", record(22, 0, 0, &[1, 0, 0])),
            ("odd alert", record(21, 0, 0, &[2])),
            ("cookie longer than message", {
                let mut b = body.clone();
                b[35] = 200;
                record(22, 0, 0, &fragment(1, 0, &b, 0, b.len()))
            }),
            (
                "message beyond the cap",
                record(22, 0, 0, &[11, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0]),
            ),
        ];
        for (name, dg) in table {
            let mut c = DtlsConn::default();
            c.datagram(true, &dg, origin(1));
            assert!(
                !malformed(&c.client_events).is_empty(),
                "{name}: {:?}",
                c.client_events
            );
            assert!(client_hellos(&c.client_events).is_empty(), "{name}");
        }
    }

    #[test]
    fn non_dtls_datagrams_make_a_direction_give_up() {
        let mut c = DtlsConn::default();
        for i in 0..20 {
            c.datagram(true, &[0x99; 20], origin(i));
            c.datagram(false, &[0x99; 20], origin(i));
        }
        assert!(c.done());
        assert!(c.client_events.len() <= MAX_BAD_DATAGRAMS as usize);
    }

    #[test]
    fn buffering_is_capped_per_direction() {
        let mut c = DtlsConn::default();
        // Many large messages, each given only its first byte: nothing completes.
        for seq in 0..40u16 {
            let mut f = vec![11];
            f.extend_from_slice(&u24b(8000));
            f.extend_from_slice(&seq.to_be_bytes());
            f.extend_from_slice(&u24b(0));
            f.extend_from_slice(&u24b(1));
            f.push(0);
            c.datagram(false, &record(22, 0, u64::from(seq), &f), origin(1));
            assert!(c.server.buffered <= MAX_BUFFERED);
        }
        assert!(malformed(&c.server_events)
            .iter()
            .any(|m| m.contains("cap")));
    }

    #[test]
    fn events_are_capped_with_one_note() {
        let mut c = DtlsConn::default();
        for seq in 0..(MAX_EVENTS as u64 + 50) {
            c.datagram(false, &record(21, 0, seq, &[1, 0]), origin(seq));
        }
        assert_eq!(c.server_events.len(), MAX_EVENTS + 1);
        assert!(matches!(
            c.server_events.last().map(|e| &e.event),
            Some(Event::Malformed(m)) if m.contains("dropped")
        ));
    }

    #[test]
    fn truncated_datagrams_at_every_length_do_not_panic() {
        let ch = client_hello_body(b"abc");
        let sh = server_hello_body();
        let mut dg = record(22, 0, 0, &fragment(1, 0, &ch, 0, 40));
        dg.extend(record(22, 0, 1, &fragment(1, 0, &ch, 40, ch.len() - 40)));
        dg.extend(record(22, 0, 2, &fragment(2, 1, &sh, 0, sh.len())));
        dg.extend(record(21, 0, 3, &[1, 0]));
        dg.extend(record(20, 0, 4, &[1]));
        dg.extend(record(22, 1, 0, &[0; 20]));
        dg.extend([0x2e, 0, 1, 0, 2, 1, 2]);
        for cut in 0..=dg.len() {
            let mut c = DtlsConn::default();
            let _ = looks_like_dtls(&dg[..cut]);
            c.datagram(true, &dg[..cut], origin(1));
            c.datagram(false, &dg[..cut], origin(2));
            let _ = c.done();
            // Every cut inside the header of the first byte also as a bit-flipped copy.
            let mut flipped = dg.clone();
            if let Some(b) = flipped.get_mut(cut) {
                *b ^= 0xff;
            }
            c.datagram(true, &flipped, origin(3));
        }
        let mut c = DtlsConn::default();
        c.datagram(true, &dg, origin(1));
        assert_eq!(client_hellos(&c.client_events).len(), 1);
    }

    #[test]
    fn pending_ranges_merge_like_a_naive_model() {
        // Seeded xorshift: fragments of random offset/length until the model is full.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        for _ in 0..200 {
            let len = 1 + rnd(300);
            let mut p = Pending {
                message_seq: 0,
                msg_type: 1,
                buf: vec![0; len],
                have: Vec::new(),
            };
            let mut model = vec![false; len];
            while !model.iter().all(|&b| b) {
                let a = rnd(len);
                let b = a + rnd(len - a + 1);
                assert!(p.cover(a, b));
                model[a..b].iter_mut().for_each(|m| *m = true);
                let covered: usize = p.have.iter().map(|(a, b)| b - a).sum();
                assert_eq!(covered, model.iter().filter(|&&m| m).count());
                assert!(p.have.windows(2).all(|w| w[0].1 < w[1].0));
                assert_eq!(p.complete(), model.iter().all(|&m| m));
            }
        }
    }

    // ---- The shared corpus, against tshark 4.0.17. ----

    type Key = (IpAddr, u16, IpAddr, u16);

    struct Tracked {
        client: (IpAddr, u16),
        conn: DtlsConn,
    }

    /// Runs every UDP datagram of a capture through `DtlsConn`s: per canonical 5-tuple, the
    /// sender of the first datagram that looks like a DTLS ClientHello is the client.
    fn dtls_connections(bytes: &[u8]) -> Vec<Tracked> {
        let mut by_tuple: HashMap<Key, usize> = HashMap::new();
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
            let i = match by_tuple.get(&key) {
                Some(&i) => i,
                None => {
                    let is_ch = looks_like_dtls(udp.payload)
                        && udp.payload.get(13) == Some(&hs::CLIENT_HELLO)
                        && udp.payload.first() == Some(&content::HANDSHAKE);
                    if !is_ch {
                        return;
                    }
                    by_tuple.insert(key, all.len());
                    all.push(Tracked {
                        client: a,
                        conn: DtlsConn::default(),
                    });
                    all.len() - 1
                }
            };
            let t = &mut all[i];
            // Fed past done() so that encrypted alerts are seen too.
            t.conn.datagram(t.client == a, udp.payload, o);
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

    #[test]
    fn dtls_captures_of_the_corpus_agree_with_tshark() {
        let corpus = Path::new("../shared/corpus");
        assert!(corpus.is_dir(), "the shared corpus is missing");
        let captures = [
            "ja4/dtls-udp.notest.cap",
            "zeek/tls__dtls1_0.pcap",
            "zeek/tls__dtls-sequence-number-jumps.pcap",
            "zeek/tls__dtls13-wolfssl.pcap",
        ];
        let mut checks = 0usize;
        let mut streams = 0usize;
        let mut mismatches: Vec<String> = Vec::new();
        for name in captures {
            let (dir, file) = name.split_once('/').unwrap();
            let ef = corpus
                .join(dir)
                .join("expected")
                .join(format!("{file}.json"));
            let exp: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&ef).unwrap()).unwrap();
            let conns = dtls_connections(&std::fs::read(corpus.join(name)).unwrap());
            let wanted: Vec<&serde_json::Value> = exp["expected"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["tool"].as_str().is_some_and(|t| t.starts_with("tshark")))
                .flat_map(|e| e["streams"].as_array().into_iter().flatten())
                .filter(|s| s["protocols"] == serde_json::json!(["dtls"]))
                .collect();
            assert!(!wanted.is_empty(), "{name}: no tshark DTLS stream");
            assert_eq!(conns.len(), wanted.len(), "{name}: conversations");
            for s in wanted {
                streams += 1;
                let client: (IpAddr, u16) = (
                    s["client_ip"].as_str().unwrap().parse().unwrap(),
                    s["client_port"].as_u64().unwrap() as u16,
                );
                let w = format!("{name} [{}:{}]", client.0, client.1);
                let mut check = |field: &str, good: bool, want: String, got: String| {
                    checks += 1;
                    if !good {
                        mismatches.push(format!("{w}: {field}: expected {want}, got {got}"));
                    }
                };
                let found = conns.iter().find(|t| t.client == client);
                check(
                    "connection",
                    found.is_some(),
                    "present".into(),
                    "absent".into(),
                );
                let Some(t) = found else { continue };
                let chs = client_hellos(&t.conn.client_events);
                let wchs = s["client_hellos"].as_array().cloned().unwrap_or_default();
                check(
                    "client_hello count",
                    chs.len() == wchs.len(),
                    wchs.len().to_string(),
                    chs.len().to_string(),
                );
                for (want, ch) in wchs.iter().zip(&chs) {
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
                        .collect();
                    wsv.sort();
                    let mut gsv: Vec<u64> = ch
                        .supported_versions
                        .iter()
                        .map(|&v| u64::from(v))
                        .collect();
                    gsv.sort();
                    check(
                        "supported_versions",
                        gsv == wsv,
                        format!("{wsv:?}"),
                        format!("{gsv:?}"),
                    );
                    let wext: Vec<u64> = want["extensions"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(hexnum)
                        .collect();
                    let gext: Vec<u64> = ch.extensions.iter().map(|&e| u64::from(e)).collect();
                    check(
                        "extensions",
                        gext == wext,
                        format!("{wext:?}"),
                        format!("{gext:?}"),
                    );
                    let wframe = want["frame"].as_u64();
                    let gframe = t
                        .conn
                        .client_events
                        .iter()
                        .find(|e| matches!(&e.event, Event::ClientHello(c) if std::ptr::eq(&**c, *ch)))
                        .map(|e| e.frame);
                    check(
                        "client_hello frame",
                        gframe == wframe,
                        format!("{wframe:?}"),
                        format!("{gframe:?}"),
                    );
                }
                let shs: Vec<(&tls::ServerHello, u64)> = t
                    .conn
                    .server_events
                    .iter()
                    .filter_map(|e| match &e.event {
                        Event::ServerHello(sh) => Some((&**sh, e.frame)),
                        _ => None,
                    })
                    .collect();
                let wshs = s["server_hellos"].as_array().cloned().unwrap_or_default();
                check(
                    "server_hello count",
                    shs.len() == wshs.len(),
                    wshs.len().to_string(),
                    shs.len().to_string(),
                );
                for (ws, (sh, frame)) in wshs.iter().zip(&shs) {
                    let wver =
                        hexnum(&ws["selected_version"]).or_else(|| hexnum(&ws["legacy_version"]));
                    check(
                        "server_version",
                        Some(u64::from(sh.version)) == wver,
                        format!("{wver:?}"),
                        format!("{:#x}", sh.version),
                    );
                    let wcs = hexnum(&ws["cipher_suite"]);
                    check(
                        "server_cipher",
                        Some(u64::from(sh.cipher_suite)) == wcs,
                        format!("{wcs:?}"),
                        format!("{:#x}", sh.cipher_suite),
                    );
                    let whrr = ws["hello_retry_request"].as_bool().unwrap_or(false);
                    check(
                        "hello_retry_request",
                        sh.hello_retry_request == whrr,
                        whrr.to_string(),
                        sh.hello_retry_request.to_string(),
                    );
                    check(
                        "server_hello frame",
                        ws["frame"].as_u64() == Some(*frame),
                        format!("{:?}", ws["frame"]),
                        frame.to_string(),
                    );
                }
                let wcerts: Vec<String> = s["server_certificates"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["sha256"].as_str().map(str::to_lowercase))
                    .collect();
                let gcerts: Vec<String> = t
                    .conn
                    .server_events
                    .iter()
                    .find_map(|e| match &e.event {
                        Event::Certificate(c) => {
                            Some(c.iter().map(|d| crate::x509::sha256_hex(d)).collect())
                        }
                        _ => None,
                    })
                    .unwrap_or_default();
                check(
                    "server_certificates",
                    gcerts == wcerts,
                    format!("{wcerts:?}"),
                    format!("{gcerts:?}"),
                );
                // Handshake messages tshark saw in the clear, by type and sender.
                let wmsgs: Vec<(String, u64)> = s["handshake_messages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| Some((m["from"].as_str()?.to_string(), m["type"].as_u64()?)))
                    .collect();
                let ty = |e: &Event| match e {
                    Event::ClientHello(_) => Some(1),
                    Event::ServerHello(_) => Some(2),
                    Event::Certificate(_) => Some(11),
                    Event::ServerKeyExchange { .. } => Some(12),
                    Event::CertificateRequest { .. } => Some(13),
                    Event::CertificateStatus { .. } => Some(22),
                    Event::Handshake(t) => Some(u64::from(*t)),
                    _ => None,
                };
                let mut gmsgs: Vec<(String, u64, u64)> = Vec::new();
                for (from, evs) in [
                    ("client", &t.conn.client_events),
                    ("server", &t.conn.server_events),
                ] {
                    for e in evs {
                        if let Some(n) = ty(&e.event) {
                            gmsgs.push((from.to_string(), e.frame, n));
                        }
                    }
                }
                gmsgs.sort_by_key(|m| m.1);
                let gmsgs: Vec<(String, u64)> = gmsgs.into_iter().map(|(f, _, t)| (f, t)).collect();
                check(
                    "handshake_messages",
                    gmsgs == wmsgs,
                    format!("{wmsgs:?}"),
                    format!("{gmsgs:?}"),
                );
                let wenc_alerts = s["alerts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|a| a["encrypted"].as_bool() == Some(true))
                    .count();
                let genc_alerts = t
                    .conn
                    .client_events
                    .iter()
                    .chain(&t.conn.server_events)
                    .filter(|e| {
                        matches!(
                            e.event,
                            Event::Alert {
                                encrypted: true,
                                ..
                            }
                        )
                    })
                    .count();
                check(
                    "encrypted alerts",
                    genc_alerts == wenc_alerts,
                    wenc_alerts.to_string(),
                    genc_alerts.to_string(),
                );
                check(
                    "no malformed",
                    malformed(&t.conn.client_events).is_empty()
                        && malformed(&t.conn.server_events).is_empty(),
                    "[]".into(),
                    format!(
                        "{:?} {:?}",
                        malformed(&t.conn.client_events),
                        malformed(&t.conn.server_events)
                    ),
                );
                // That capture ends after ServerHello: neither side ever encrypts.
                let wdone = !name.contains("sequence-number-jumps");
                check(
                    "done",
                    t.conn.done() == wdone,
                    wdone.to_string(),
                    t.conn.done().to_string(),
                );
            }
        }
        println!(
            "dtls corpus: {}/{checks} checks agree over {streams} tshark DTLS streams",
            checks - mismatches.len()
        );
        assert!(mismatches.is_empty(), "{mismatches:#?}");
    }
}
