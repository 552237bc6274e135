//! record: the ordered bytes of one TCP direction in; that direction's handshake [`Event`]s
//! out, kept in its [`Direction`].
//!
//! This is the record layer. It sniffs chunk starts for a record header (or an SSLv2-format
//! hello), cuts records out of the stream, buffering one only when it spans chunks (capped by
//! [`MAX_RECORD`]), puts handshake messages back together across records (capped by
//! [`MAX_HANDSHAKE_MESSAGE`]), and turns each whole message into an [`Event`]: hellos through
//! the parsers of `hello`, certificates and certificate requests through tls-parser. It keeps
//! the plaintext a direction sent before TLS (at most [`MAX_PLAINTEXT`] bytes) for the
//! STARTTLS stage. Once a direction is done it reads record headers only, to spot encrypted
//! alerts, and buffers nothing.
//!
//! Every read of the input is checked (`get`, slice patterns), every buffer it grows is
//! bounded, and a direction keeps at most [`MAX_EVENTS`] events (the last one then says the
//! rest were dropped).
//!
//! With a [`Session`] (a key log had secrets to look in), a done direction reads its protected
//! records whole until its handshake is over (and afterwards those that may be alerts), opens
//! them with the keys `decrypt` gives, and reads what is inside like clear text: handshake
//! messages (TLS 1.3's EncryptedExtensions, Certificate, CertificateRequest,
//! CertificateVerify, Finished; renegotiation hellos) and alerts. Records it cannot open are
//! followed by their headers as without keys; when the first one already fails, it says so
//! once. It does not decide who is client or server, and does not parse hello bodies itself.

use super::decrypt::{DirKeys, Session};
use super::hello::{
    negotiated_suite, parse_sslv2_client_hello, parse_sslv2_server_hello, server_key_exchange,
};
use super::{
    content, hs, is_tls13_version, parse_client_hello, parse_encrypted_extensions,
    parse_server_hello, parse_tls13_certificate_request, CertificateRequest, EncryptedExtensions,
    Event, Located, PlaintextChunk, MAX_EVENTS, MAX_HANDSHAKE_MESSAGE, MAX_PLAINTEXT,
    MAX_PLAINTEXT_CHUNKS, MAX_RECORD, MAX_SNIFF_BYTES,
};
use crate::flow::reassembly::Origin;
use crate::proto::der::{self, Der};
use tls_parser::{
    parse_tls_handshake_certificaterequest, parse_tls_handshake_msg_certificate,
    TlsMessageHandshake,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Looking for the first record header at chunk starts.
    Sniff,
    /// Inside TLS records, plaintext handshake still going.
    Records,
    /// Handshake over for this direction: following record headers only.
    Done,
    /// Inside an SSLv2-format record that spans chunks.
    SslV2,
    /// Record sync lost after the handshake, or gave up: ignore the rest.
    Off,
}

/// The last record header seen in this direction (for alert-sized encrypted records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecordHeader {
    pub content_type: u8,
    pub length: u16,
    pub frame: u64,
}

/// After its handshake, a TLS 1.3 direction opens only records this short: an alert is 2
/// bytes, its content type 1 and the tag 16, and some padding is allowed.
const MAX_TLS13_ALERT_RECORD: usize = 64;

/// One direction's decryption state.
#[derive(Debug)]
struct Crypt {
    keys: DirKeys,
    /// Records opened.
    opened: u64,
    /// This direction's Finished was read: from now on only what may be an alert is opened.
    handshake_over: bool,
    /// [`Event::ApplicationPhase`] was reported.
    went_on: bool,
}

impl Crypt {
    /// Whether a protected record with this header is read whole and opened.
    fn wants(&self, content_type: u8, len: usize) -> bool {
        if !self.handshake_over || self.keys.needs_every_record() {
            return true;
        }
        if self.keys.is_tls13() {
            len <= MAX_TLS13_ALERT_RECORD && content_type != content::CHANGE_CIPHER_SPEC
        } else {
            // Alerts, renegotiation hellos, and the CCS that changes the keys.
            matches!(
                content_type,
                content::ALERT | content::HANDSHAKE | content::CHANGE_CIPHER_SPEC
            )
        }
    }
}

/// The TLS parser of one direction.
#[derive(Debug)]
pub struct Direction {
    pub(crate) mode: Mode,
    /// Bytes of a record (header included) that spans chunks.
    record_buf: Vec<u8>,
    /// Bytes of a handshake message that spans records.
    hs_buf: Vec<u8>,
    /// Bytes to skip of a record whose body is not buffered (Done mode).
    skip: usize,
    /// ChangeCipherSpec seen: later records are encrypted unless they parse as plaintext
    /// handshake (TLS 1.3 middlebox-compatibility CCS, RFC 8446 Appendix D.4).
    ccs: bool,
    /// This direction is a TLS 1.3 server past its ServerHello.
    tls13_server: bool,
    /// A ClientHello in this direction offered TLS 1.3, or this direction sent a
    /// HelloRetryRequest: a CCS here may be the middlebox-compatibility one.
    offered_tls13: bool,
    sniffed: u64,
    /// EncryptionStarted was reported.
    encryption_reported: bool,
    /// Whether any TLS record was seen.
    pub saw_tls: bool,
    /// The first bytes of a conversation that was not TLS (yet), up to [`MAX_PLAINTEXT`].
    pub plaintext: Vec<u8>,
    pub plaintext_chunks: Vec<PlaintextChunk>,
    pub records: u64,
    pub last_record: Option<RecordHeader>,
    pub events: Vec<Located>,
    events_dropped: bool,
    /// This direction sent a ClientHello (true) or a ServerHello (false).
    role: Option<bool>,
    /// Keys were asked for at the first protected record.
    keys_asked: bool,
    crypt: Option<Box<Crypt>>,
    /// Bytes of the certificates in `events`, for [`Direction::heap_bytes`].
    cert_bytes: usize,
}

impl Default for Direction {
    fn default() -> Self {
        Direction {
            mode: Mode::Sniff,
            record_buf: Vec::new(),
            hs_buf: Vec::new(),
            skip: 0,
            ccs: false,
            tls13_server: false,
            offered_tls13: false,
            sniffed: 0,
            encryption_reported: false,
            saw_tls: false,
            plaintext: Vec::new(),
            plaintext_chunks: Vec::new(),
            records: 0,
            last_record: None,
            events: Vec::new(),
            events_dropped: false,
            role: None,
            keys_asked: false,
            crypt: None,
            cert_bytes: 0,
        }
    }
}

/// Is this the start of a TLS record (or an SSLv2-compatible ClientHello)? Needs 5+ bytes for a
/// firm answer; with fewer, answers from what is there.
pub fn looks_like_record_start(b: &[u8]) -> bool {
    match b {
        [ct, 3, minor, rest @ ..]
            if (content::CHANGE_CIPHER_SPEC..=content::HEARTBEAT).contains(ct) && *minor <= 4 =>
        {
            match rest {
                [h, l, more @ ..] => {
                    let len = usize::from(u16::from_be_bytes([*h, *l]));
                    if len == 0 || len > MAX_RECORD {
                        return false;
                    }
                    // A handshake record must start with a known handshake type.
                    match (ct, more.first()) {
                        (&content::HANDSHAKE, Some(t)) => {
                            matches!(t, 0..=4 | 8 | 11..=16 | 20..=24 | 67)
                        }
                        // A plaintext alert, or an encrypted one (a stream seen from its middle).
                        (&content::ALERT, Some(l)) => {
                            (len == 2 && (*l == 1 || *l == 2)) || len >= MIN_ENCRYPTED_ALERT
                        }
                        (&content::CHANGE_CIPHER_SPEC, _) => len == 1,
                        _ => true,
                    }
                }
                _ => true,
            }
        }
        _ => is_sslv2_record(b),
    }
}

/// The shortest encrypted alert: 2 bytes of alert and an AEAD tag of 16 (RFC 5246 §6.2.3.3,
/// RFC 8446 §5.2); a plaintext alert record holds 2-byte alerts, in practice one.
const MIN_ENCRYPTED_ALERT: usize = 18;

/// SSLv2 CLIENT-HELLO or SERVER-HELLO header (2-byte length with the high bit set).
fn is_sslv2_record(b: &[u8]) -> bool {
    is_sslv2_client_hello(b) || matches!(b, [h, _, 4, 0 | 1, _, 0, 2, ..] if h & 0x80 != 0)
}

/// SSLv2-compatible ClientHello header: 2-byte length with the high bit set, msg type 1,
/// version 0x0002 or 0x03xx (RFC 5246 Appendix E.2).
fn is_sslv2_client_hello(b: &[u8]) -> bool {
    match b {
        [h, _, 1, maj, min, ..] => {
            h & 0x80 != 0 && ((*maj == 3 && *min <= 4) || (*maj == 0 && *min == 2))
        }
        _ => false,
    }
}

impl Direction {
    pub fn new() -> Self {
        Self::default()
    }

    /// True once the handshake is over for this direction (or the bytes are not TLS).
    pub fn done(&self) -> bool {
        matches!(self.mode, Mode::Done | Mode::Off)
    }

    /// True while the direction still wants stream bytes buffered by reassembly.
    /// Heap bytes held, about: buffers, events and the certificates in them.
    pub fn heap_bytes(&self) -> usize {
        self.record_buf.capacity()
            + self.hs_buf.capacity()
            + self.plaintext.capacity()
            + self.plaintext_chunks.capacity() * std::mem::size_of::<PlaintextChunk>()
            + self.events.capacity() * std::mem::size_of::<Located>()
            + self.cert_bytes
    }

    /// Gives back the room grown while the handshake went on; what is held stays.
    pub fn settle(&mut self) {
        self.record_buf.shrink_to_fit();
        self.hs_buf.shrink_to_fit();
        self.plaintext.shrink_to_fit();
        self.plaintext_chunks.shrink_to_fit();
        self.events.shrink_to_fit();
    }

    pub fn wants_reassembly(&self) -> bool {
        matches!(self.mode, Mode::Sniff | Mode::Records | Mode::SslV2)
    }

    /// True while a done direction may still decrypt its handshake (keys not asked for yet,
    /// or given and the handshake not over): its bytes are wanted in order, like before.
    pub fn decrypting_handshake(&self) -> bool {
        self.mode == Mode::Done
            && match &self.crypt {
                None => !self.keys_asked,
                Some(c) => !c.handshake_over,
            }
    }

    /// Bytes went missing: record sync is lost.
    pub fn gap(&mut self) {
        self.record_buf.clear();
        self.hs_buf.clear();
        self.skip = 0;
        self.mode = match self.mode {
            Mode::Records | Mode::Sniff | Mode::SslV2 => Mode::Sniff,
            Mode::Done | Mode::Off => Mode::Off,
        };
    }

    /// Feeds the next chunk of the stream.
    pub fn feed(&mut self, data: &[u8], origin: Origin) {
        self.feed_keyed(data, origin, None);
    }

    /// Feeds the next chunk of the stream; `session` when secrets may open its records.
    pub fn feed_keyed(
        &mut self,
        mut data: &[u8],
        origin: Origin,
        mut session: Option<&mut Session>,
    ) {
        while !data.is_empty() {
            match self.mode {
                Mode::Off => return,
                Mode::Sniff => {
                    // An SSLv2-format hello only ever opens a conversation: after TLS records
                    // such bytes are no record start (read as one, they failed the record
                    // header check and came straight back here, without end).
                    let sslv2 = is_sslv2_record(data);
                    if looks_like_record_start(data) && !(sslv2 && self.saw_tls) {
                        self.mode = Mode::Records;
                        if sslv2 {
                            data = self.sslv2_record(data, origin, session.as_deref_mut());
                        }
                        continue;
                    }
                    if self.sniffed == 0 && !self.saw_tls {
                        let head = data.get(..data.len().min(16)).unwrap_or_default().to_vec();
                        self.push(origin, Event::NotTls(head));
                    }
                    if !self.saw_tls && self.plaintext.len() < MAX_PLAINTEXT {
                        let room = MAX_PLAINTEXT - self.plaintext.len();
                        if self.plaintext_chunks.len() < MAX_PLAINTEXT_CHUNKS {
                            self.plaintext_chunks.push(PlaintextChunk {
                                frame: origin.frame,
                                ts: origin.ts,
                                offset: self.plaintext.len(),
                            });
                        }
                        self.plaintext.extend_from_slice(
                            data.get(..room.min(data.len())).unwrap_or_default(),
                        );
                    }
                    self.sniffed += data.len() as u64;
                    if self.sniffed > MAX_SNIFF_BYTES {
                        self.mode = Mode::Off;
                    }
                    return;
                }
                Mode::Records | Mode::Done => {
                    data = self.records(data, origin, session.as_deref_mut());
                }
                Mode::SslV2 => {
                    data = self.sslv2_record(data, origin, session.as_deref_mut());
                }
            }
        }
    }

    fn push(&mut self, origin: Origin, event: Event) {
        if self.events.len() < MAX_EVENTS {
            if let Event::Certificate(certs) = &event {
                self.cert_bytes += certs.iter().map(|d| d.len() + 24).sum::<usize>();
            }
            self.events.push(Located {
                frame: origin.frame,
                ts: origin.ts,
                event,
            });
        } else if !self.events_dropped {
            self.events_dropped = true;
            if let Some(last) = self.events.last_mut() {
                last.event = Event::Malformed(format!(
                    "more than {MAX_EVENTS} handshake events; the rest were not kept"
                ));
            }
        }
    }

    /// Cuts records from `data`; returns what is left when the mode changes.
    fn records<'a>(
        &mut self,
        mut data: &'a [u8],
        origin: Origin,
        mut s: Option<&mut Session>,
    ) -> &'a [u8] {
        loop {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = data.get(n..).unwrap_or_default();
            }
            if data.is_empty() {
                return data;
            }
            if !self.record_buf.is_empty() || data.len() < 5 {
                // Complete the buffered record (or header) first.
                let have = self.record_buf.len();
                let need = if have >= 5 {
                    5 + record_len(&self.record_buf)
                } else {
                    5
                };
                let take = (need - have).min(data.len());
                self.record_buf
                    .extend_from_slice(data.get(..take).unwrap_or_default());
                data = data.get(take..).unwrap_or_default();
                // The header has just completed (checked once: a record of length 0 is
                // complete with it, and checking its header again made no progress, for ever).
                if have < 5 && self.record_buf.len() == 5 {
                    if !self.header_ok(origin) {
                        return data;
                    }
                    if self.mode == Mode::Done && !self.follows(&self.record_buf, s.is_some()) {
                        // Only the header matters now; skip the body without buffering.
                        let buf = std::mem::take(&mut self.record_buf);
                        self.skip = record_len(&buf);
                        self.note_record(&buf, origin);
                        continue;
                    }
                }
                if self.record_buf.len() >= 5
                    && self.record_buf.len() == 5 + record_len(&self.record_buf)
                {
                    let rec = std::mem::take(&mut self.record_buf);
                    self.record(&rec, origin, s.as_deref_mut());
                    if self.mode != Mode::Records && self.mode != Mode::Done {
                        return data;
                    }
                }
                continue;
            }
            // Whole header in `data`.
            let len = record_len(data);
            if !self.header_ok_bytes(data, origin) {
                return data;
            }
            if self.mode == Mode::Done && !self.follows(data, s.is_some()) {
                self.note_record(data, origin);
                let n = (5 + len).min(data.len());
                self.skip = 5 + len - n;
                data = data.get(n..).unwrap_or_default();
                continue;
            }
            match data.get(..5 + len) {
                Some(rec) => {
                    self.record(rec, origin, s.as_deref_mut());
                    data = data.get(5 + len..).unwrap_or_default();
                    if self.mode != Mode::Records && self.mode != Mode::Done {
                        return data;
                    }
                }
                None => {
                    self.record_buf.extend_from_slice(data);
                    return &[];
                }
            }
        }
    }

    fn header_ok(&mut self, origin: Origin) -> bool {
        let buf = std::mem::take(&mut self.record_buf);
        let ok = self.header_ok_bytes(&buf, origin);
        if ok {
            self.record_buf = buf;
        }
        ok
    }

    /// Validates a record header; on failure loses sync (and says so once).
    fn header_ok_bytes(&mut self, h: &[u8], origin: Origin) -> bool {
        let ok = matches!(h, [ct, 3, minor, ..] if (content::CHANGE_CIPHER_SPEC..=content::HEARTBEAT).contains(ct) && *minor <= 4)
            && record_len(h) <= MAX_RECORD;
        if !ok {
            let head: Vec<String> = h.iter().take(5).map(|b| format!("{b:02x}")).collect();
            if self.mode == Mode::Done {
                self.mode = Mode::Off;
            } else {
                self.push(
                    origin,
                    Event::Malformed(format!("not a TLS record header: {}", head.join(" "))),
                );
                self.mode = Mode::Sniff;
            }
            self.record_buf.clear();
        }
        ok
    }

    /// Done mode: whether a record with this header is read whole, to be opened.
    fn follows(&self, h: &[u8], keyed: bool) -> bool {
        let (ct, len) = (h.first().copied().unwrap_or(0), record_len(h));
        match &self.crypt {
            Some(c) => c.wants(ct, len),
            None => keyed && !self.keys_asked,
        }
    }

    /// Done mode: only the record header is looked at.
    fn note_record(&mut self, h: &[u8], origin: Origin) {
        let (ct, len) = (h.first().copied().unwrap_or(0), record_len(h) as u16);
        if let Some(c) = &mut self.crypt {
            c.keys.skipped(ct, &[]);
            // Not followed, so not an alert: application data or a ticket.
            if c.handshake_over && !c.went_on && ct != content::CHANGE_CIPHER_SPEC {
                c.went_on = true;
                self.push(origin, Event::ApplicationPhase);
            }
        }
        self.records += 1;
        self.last_record = Some(RecordHeader {
            content_type: ct,
            length: len,
            frame: origin.frame,
        });
        if !self.encryption_reported && ct != content::CHANGE_CIPHER_SPEC {
            // A TLS 1.3 server's first record after ServerHello.
            self.encryption_reported = true;
            self.push(
                origin,
                Event::EncryptionStarted {
                    content_type: ct,
                    length: len,
                },
            );
        }
        if ct == content::ALERT {
            self.push(origin, Event::ENCRYPTED_ALERT);
        }
    }

    /// One complete record, header included.
    fn record(&mut self, rec: &[u8], origin: Origin, s: Option<&mut Session>) {
        let ct = rec.first().copied().unwrap_or(0);
        let body = rec.get(5..).unwrap_or_default();
        self.saw_tls = true;
        self.records += 1;
        self.last_record = Some(RecordHeader {
            content_type: ct,
            length: body.len() as u16,
            frame: origin.frame,
        });
        if self.mode == Mode::Done {
            self.protected(rec, origin, s);
            return;
        }
        let encrypted = self.tls13_server
            || ct == content::APPLICATION_DATA
            || (ct == content::ALERT && body.len() >= MIN_ENCRYPTED_ALERT)
            || (self.ccs
                && !(ct == content::HANDSHAKE && self.offered_tls13 && plaintext_handshake(body)));
        if encrypted && ct != content::CHANGE_CIPHER_SPEC {
            self.hs_buf.clear();
            self.mode = Mode::Done;
            self.protected(rec, origin, s);
            return;
        }
        match ct {
            content::CHANGE_CIPHER_SPEC => {
                self.ccs = true;
                self.push(origin, Event::ChangeCipherSpec);
            }
            content::ALERT => {
                for pair in body.chunks(2) {
                    match pair {
                        [level, desc] => self.push(
                            origin,
                            Event::Alert {
                                level: Some(*level),
                                description: Some(*desc),
                                encrypted: false,
                            },
                        ),
                        _ => self.push(
                            origin,
                            Event::Malformed("alert record with an odd length".into()),
                        ),
                    }
                }
            }
            content::HANDSHAKE => self.handshake_fragment(body, origin, s),
            _ => {}
        }
    }

    /// A whole protected record: reported, and opened when there are keys.
    fn protected(&mut self, rec: &[u8], origin: Origin, s: Option<&mut Session>) {
        let ct = rec.first().copied().unwrap_or(0);
        let (header, body) = rec.split_at(rec.len().min(5));
        if !self.encryption_reported && ct != content::CHANGE_CIPHER_SPEC {
            self.encryption_reported = true;
            self.push(
                origin,
                Event::EncryptionStarted {
                    content_type: ct,
                    length: body.len() as u16,
                },
            );
        }
        if let (Some(s), None, false) = (s, &self.crypt, self.keys_asked) {
            self.keys_asked = true;
            if let Some(client) = self.role {
                self.crypt = s.keys_for(client).map(|keys| {
                    Box::new(Crypt {
                        keys,
                        opened: 0,
                        handshake_over: false,
                        went_on: false,
                    })
                });
                if self.crypt.is_none() && s.source.is_some() {
                    let who = if client { "client" } else { "server" };
                    self.push(
                        origin,
                        Event::KeysDoNotDecrypt(format!(
                            "the key log has secrets for this connection, but not those the \
                             {who}'s records need, or their cipher suite is not one this build \
                             decrypts"
                        )),
                    );
                }
            }
        }
        let Some(c) = self.crypt.as_mut() else {
            if ct == content::ALERT {
                self.push(origin, Event::ENCRYPTED_ALERT);
            }
            return;
        };
        if ct == content::CHANGE_CIPHER_SPEC && c.keys.is_tls13() {
            return;
        }
        match c.keys.open(header, body) {
            Some((inner, plain)) => {
                c.opened += 1;
                let went_on = c.handshake_over && !c.went_on && inner != content::ALERT;
                c.went_on |= went_on;
                if went_on {
                    self.push(origin, Event::ApplicationPhase);
                }
                self.opened(inner, &plain, origin);
            }
            None => {
                let first = c.opened == 0;
                self.crypt = None;
                if first {
                    self.push(
                        origin,
                        Event::KeysDoNotDecrypt(format!(
                            "the first protected record ({} bytes) does not open with the key \
                             log's secrets for this connection",
                            body.len()
                        )),
                    );
                }
                if ct == content::ALERT {
                    self.push(origin, Event::ENCRYPTED_ALERT);
                }
            }
        }
    }

    /// The content of an opened record.
    fn opened(&mut self, content_type: u8, plain: &[u8], origin: Origin) {
        match content_type {
            content::ALERT => {
                for pair in plain.chunks(2) {
                    if let [level, description] = pair {
                        self.push(
                            origin,
                            Event::DecryptedAlert {
                                level: *level,
                                description: *description,
                            },
                        );
                    }
                }
            }
            content::HANDSHAKE => {
                if self.hs_buf.len() + plain.len() > MAX_HANDSHAKE_MESSAGE + MAX_RECORD {
                    self.hs_buf.clear();
                    self.push(
                        origin,
                        Event::Malformed(format!(
                            "decrypted handshake message exceeds the {MAX_HANDSHAKE_MESSAGE}-byte cap"
                        )),
                    );
                    return;
                }
                self.hs_buf.extend_from_slice(plain);
                while let [_, a, b, c, ..] = self.hs_buf[..] {
                    let need = 4 + u32::from_be_bytes([0, a, b, c]) as usize;
                    if need > MAX_HANDSHAKE_MESSAGE {
                        self.hs_buf.clear();
                        self.push(
                            origin,
                            Event::Malformed(format!(
                                "decrypted handshake message of {need} bytes exceeds the \
                                 {MAX_HANDSHAKE_MESSAGE}-byte cap"
                            )),
                        );
                        return;
                    }
                    if self.hs_buf.len() < need {
                        return;
                    }
                    let msg: Vec<u8> = self.hs_buf.drain(..need).collect();
                    self.decrypted_message(&msg, origin);
                }
            }
            // A renegotiation's ChangeCipherSpec: the keys change to ones not followed here.
            content::CHANGE_CIPHER_SPEC => self.crypt = None,
            _ => {}
        }
    }

    /// One handshake message read from protected records.
    fn decrypted_message(&mut self, msg: &[u8], origin: Origin) {
        let t = msg.first().copied().unwrap_or(0);
        let body = msg.get(4..).unwrap_or_default();
        let tls13 = self.crypt.as_ref().is_some_and(|c| c.keys.is_tls13());
        if t == hs::FINISHED {
            if let Some(c) = self.crypt.as_mut() {
                c.keys.finished();
                c.handshake_over = true;
            }
        }
        self.push(origin, protected_message_event(t, body, tls13));
    }

    fn handshake_fragment(&mut self, mut body: &[u8], origin: Origin, mut s: Option<&mut Session>) {
        // A message begun in an earlier record: complete its header, then its body. A loop,
        // not recursion: a header that completes exactly at a record's end must wait for the
        // next record, not call itself with nothing.
        while !self.hs_buf.is_empty() {
            if body.is_empty() {
                return;
            }
            let have = self.hs_buf.len();
            let need = if have >= 4 {
                4 + hs_len(&self.hs_buf)
            } else {
                4
            };
            if need > MAX_HANDSHAKE_MESSAGE {
                self.push(origin, Event::Malformed(format!("handshake message of {need} bytes exceeds the {MAX_HANDSHAKE_MESSAGE}-byte cap")));
                self.hs_buf.clear();
                return;
            }
            let take = need.saturating_sub(have).min(body.len());
            self.hs_buf
                .extend_from_slice(body.get(..take).unwrap_or_default());
            body = body.get(take..).unwrap_or_default();
            if self.hs_buf.len() >= 4 && self.hs_buf.len() == 4 + hs_len(&self.hs_buf) {
                let msg = std::mem::take(&mut self.hs_buf);
                self.message(&msg, origin, s.as_deref_mut());
            }
        }
        while !body.is_empty() {
            if self.mode != Mode::Records {
                return;
            }
            match body.get(..4).map(hs_len) {
                Some(len) => match body.get(..4 + len) {
                    Some(msg) => {
                        self.message(msg, origin, s.as_deref_mut());
                        body = body.get(4 + len..).unwrap_or_default();
                    }
                    None => {
                        if 4 + len > MAX_HANDSHAKE_MESSAGE {
                            self.push(origin, Event::Malformed(format!("handshake message of {} bytes exceeds the {MAX_HANDSHAKE_MESSAGE}-byte cap", 4 + len)));
                            return;
                        }
                        self.hs_buf.extend_from_slice(body);
                        return;
                    }
                },
                None => {
                    self.hs_buf.extend_from_slice(body);
                    return;
                }
            }
        }
    }

    /// One complete handshake message (4-byte header included).
    fn message(&mut self, msg: &[u8], origin: Origin, s: Option<&mut Session>) {
        let t = msg.first().copied().unwrap_or(0);
        let body = msg.get(4..).unwrap_or_default();
        let event = match t {
            hs::CLIENT_HELLO => match parse_client_hello(body) {
                Ok(ch) => {
                    self.offered_tls13 |=
                        ch.supported_versions.iter().any(|&v| is_tls13_version(v))
                            || is_tls13_version(ch.legacy_version);
                    self.role.get_or_insert(true);
                    if let Some(s) = s {
                        s.client_hello(&ch);
                    }
                    Event::ClientHello(Box::new(ch))
                }
                Err(e) => Event::Malformed(format!("ClientHello: {e}")),
            },
            hs::SERVER_HELLO => match parse_server_hello(body) {
                Ok(sh) => {
                    if sh.is_tls13() && !sh.hello_retry_request {
                        self.tls13_server = true;
                    }
                    // After a HelloRetryRequest the server may send a compatibility CCS and
                    // then its real ServerHello in the clear (RFC 8446 Appendix D.4).
                    self.offered_tls13 |= sh.hello_retry_request;
                    self.role.get_or_insert(false);
                    if let Some(s) = s {
                        s.server_hello(&sh);
                    }
                    Event::ServerHello(Box::new(sh))
                }
                Err(e) => Event::Malformed(format!("ServerHello: {e}")),
            },
            hs::CERTIFICATE => certificate_event(body, false),
            hs::CERTIFICATE_REQUEST => certificate_request_event(body),
            hs::CERTIFICATE_STATUS => match body {
                [status_type, a, b, c, rest @ ..] => {
                    let len = u32::from_be_bytes([0, *a, *b, *c]) as usize;
                    Event::CertificateStatus {
                        status_type: *status_type,
                        response: rest.get(..len).unwrap_or(rest).to_vec(),
                    }
                }
                _ => Event::Malformed("CertificateStatus too short".into()),
            },
            hs::SERVER_KEY_EXCHANGE => server_key_exchange(body, negotiated_suite(&self.events)),
            other => Event::Handshake(other),
        };
        self.push(origin, event);
        if self.tls13_server {
            // RFC 8446 §2: everything after ServerHello is encrypted.
            self.hs_buf.clear();
            self.mode = Mode::Done;
        }
    }

    /// An SSLv2-format record at the start of the stream: a CLIENT-HELLO (the SSLv2-compatible
    /// ClientHello of RFC 5246 Appendix E.2) or an SSLv2 SERVER-HELLO. Buffers it when it spans
    /// chunks; returns the bytes after it.
    fn sslv2_record<'a>(
        &mut self,
        data: &'a [u8],
        origin: Origin,
        s: Option<&mut Session>,
    ) -> &'a [u8] {
        let take = {
            let have = self.record_buf.len();
            let mut head = self.record_buf.clone();
            head.extend_from_slice(data.get(..2usize.saturating_sub(have)).unwrap_or_default());
            let len = match head.as_slice() {
                [h, l, ..] => 2 + usize::from(u16::from_be_bytes([h & 0x7f, *l])),
                _ => 2,
            };
            (len - have.min(len)).min(data.len())
        };
        self.record_buf
            .extend_from_slice(data.get(..take).unwrap_or_default());
        let rest = data.get(take..).unwrap_or_default();
        let complete = match self.record_buf.as_slice() {
            [h, l, ..] => {
                self.record_buf.len() == 2 + usize::from(u16::from_be_bytes([h & 0x7f, *l]))
            }
            _ => false,
        };
        if !complete {
            self.mode = Mode::SslV2;
            return rest;
        }
        let rec = std::mem::take(&mut self.record_buf);
        let msg = rec.get(2..).unwrap_or_default();
        self.saw_tls = true;
        self.records += 1;
        self.mode = Mode::Records;
        match msg.first() {
            Some(1) => match parse_sslv2_client_hello(msg) {
                Some(ch) => {
                    self.role.get_or_insert(true);
                    if let Some(s) = s {
                        s.client_hello(&ch);
                    }
                    if ch.legacy_version == 0x0002 {
                        // Pure SSLv2: what follows is SSLv2 too, and encrypted.
                        self.mode = Mode::Off;
                    }
                    self.push(origin, Event::ClientHello(Box::new(ch)))
                }
                None => self.push(
                    origin,
                    Event::Malformed("SSLv2-format ClientHello does not parse".into()),
                ),
            },
            _ => {
                match parse_sslv2_server_hello(msg) {
                    Some((sh, cert)) => {
                        self.push(origin, Event::ServerHello(Box::new(sh)));
                        if let Some(cert) = cert {
                            self.push(origin, Event::Certificate(vec![der::share(&cert)]));
                        }
                    }
                    None => self.push(
                        origin,
                        Event::Malformed("SSLv2 SERVER-HELLO does not parse".into()),
                    ),
                }
                self.mode = Mode::Off;
            }
        }
        rest
    }
}

fn record_len(h: &[u8]) -> usize {
    match h {
        [_, _, _, a, b, ..] => usize::from(u16::from_be_bytes([*a, *b])),
        _ => 0,
    }
}

fn hs_len(h: &[u8]) -> usize {
    match h {
        [_, a, b, c, ..] => u32::from_be_bytes([0, *a, *b, *c]) as usize,
        _ => 0,
    }
}

/// A record body that is exactly one or more whole handshake messages of plausible types:
/// after a TLS 1.3 compatibility CCS this is still plaintext (a second ClientHello).
fn plaintext_handshake(mut body: &[u8]) -> bool {
    if body.is_empty() {
        return false;
    }
    while let [t, a, b, c, rest @ ..] = body {
        let len = u32::from_be_bytes([0, *a, *b, *c]) as usize;
        if !matches!(t, 1 | 2) || rest.len() < len {
            return false;
        }
        body = rest.get(len..).unwrap_or_default();
    }
    body.is_empty()
}

/// A Certificate message: the TLS ≤ 1.2 layout first, or TLS 1.3's (with `tls13`, the other
/// way round).
fn certificate_event(body: &[u8], tls13: bool) -> Event {
    let tls12 = || match parse_tls_handshake_msg_certificate(body) {
        Ok((_, TlsMessageHandshake::Certificate(c))) => {
            Some(c.cert_chain.iter().map(|c| der::share(c.data)).collect())
        }
        _ => None,
    };
    let certs = if tls13 {
        parse_tls13_certificate(body).or_else(tls12)
    } else {
        tls12().or_else(|| parse_tls13_certificate(body))
    };
    match certs {
        Some(certs) => Event::Certificate(certs),
        None => Event::Malformed("Certificate message does not parse".into()),
    }
}

/// A TLS ≤ 1.2 CertificateRequest.
fn certificate_request_event(body: &[u8]) -> Event {
    match parse_tls_handshake_certificaterequest(body) {
        Ok((_, cr)) => Event::CertificateRequest(Box::new(CertificateRequest {
            cert_types: cr.cert_types.clone(),
            ca_names: cr.unparsed_ca.iter().map(|n| n.to_vec()).collect(),
        })),
        Err(_) => Event::Malformed("CertificateRequest does not parse".into()),
    }
}

/// TLS 1.3 Certificate (RFC 8446 §4.4.2): request context, then entries with extensions.
/// Seen in plaintext only in odd captures (drafts, decrypted traces).
fn parse_tls13_certificate(body: &[u8]) -> Option<Vec<Der>> {
    let (&ctx_len, rest) = body.split_first()?;
    let rest = rest.get(usize::from(ctx_len)..)?;
    let [a, b, c, entries @ ..] = rest else {
        return None;
    };
    if u32::from_be_bytes([0, *a, *b, *c]) as usize != entries.len() {
        return None;
    }
    let mut list: &[u8] = entries;
    let mut certs = Vec::new();
    while let [a, b, c, tail @ ..] = list {
        let len = u32::from_be_bytes([0, *a, *b, *c]) as usize;
        certs.push(der::share(tail.get(..len)?));
        let [e1, e2, tail @ ..] = tail.get(len..)? else {
            return None;
        };
        list = tail.get(usize::from(u16::from_be_bytes([*e1, *e2]))..)?;
    }
    Some(certs)
}

/// A handshake message read from protected records (TLS or DTLS records, QUIC's Handshake
/// packet space): TLS 1.3's EncryptedExtensions, Certificate, CertificateRequest,
/// CertificateVerify and Finished; the hellos of a TLS ≤ 1.2 renegotiation.
pub fn protected_message_event(t: u8, body: &[u8], tls13: bool) -> Event {
    match t {
        hs::ENCRYPTED_EXTENSIONS => match parse_encrypted_extensions(body) {
            Some((extensions, alpn)) => {
                Event::EncryptedExtensions(Box::new(EncryptedExtensions { extensions, alpn }))
            }
            None => Event::Malformed("EncryptedExtensions does not parse".into()),
        },
        hs::CERTIFICATE => certificate_event(body, tls13),
        hs::CERTIFICATE_REQUEST if tls13 => match parse_tls13_certificate_request(body) {
            Some(ca_names) => Event::CertificateRequest(Box::new(CertificateRequest {
                cert_types: Vec::new(),
                ca_names,
            })),
            None => Event::Malformed("CertificateRequest does not parse".into()),
        },
        hs::CERTIFICATE_REQUEST => certificate_request_event(body),
        hs::CERTIFICATE_VERIFY => match body {
            [a, b, ..] => Event::CertificateVerify {
                scheme: u16::from_be_bytes([*a, *b]),
            },
            _ => Event::Malformed("CertificateVerify too short".into()),
        },
        // Renegotiation (TLS ≤ 1.2): its hellos, under the current keys.
        hs::CLIENT_HELLO if !tls13 => match parse_client_hello(body) {
            Ok(ch) => Event::ClientHello(Box::new(ch)),
            Err(e) => Event::Malformed(format!("ClientHello: {e}")),
        },
        hs::SERVER_HELLO if !tls13 => match parse_server_hello(body) {
            Ok(sh) => Event::ServerHello(Box::new(sh)),
            Err(e) => Event::Malformed(format!("ServerHello: {e}")),
        },
        other => Event::Handshake(other),
    }
}
