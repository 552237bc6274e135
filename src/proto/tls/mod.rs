//! tls: the ordered bytes of one TCP direction in; TLS handshake events out.
//!
//! This is the record layer tls-parser does not have: it sniffs whether the bytes are TLS
//! (content type 0x14–0x18, version 0x03xx) or an SSLv2-compatible ClientHello, cuts records
//! out of the stream without copying when a record lies inside one chunk, buffers a record or a
//! handshake message only when it spans chunks (capped by [`MAX_RECORD`] and
//! [`MAX_HANDSHAKE_MESSAGE`]), reassembles handshake messages across records, and hands each
//! complete message body to tls-parser. Extensions are walked here as raw TLVs, in wire order,
//! GREASE kept, and each one parsed on its own by tls-parser so one bad extension cannot
//! truncate the list.
//!
//! A direction is *done* once the handshake is over for it (first encrypted record; for the
//! server of a TLS 1.3 connection, right after ServerHello): from then on it only follows record
//! headers to spot encrypted alerts, and buffers nothing. Bytes that are not TLS (a plaintext
//! protocol before STARTTLS, a connection picked up mid-record, bytes after a gap) are scanned
//! at chunk starts for a record header, for at most [`MAX_SNIFF_BYTES`].
//!
//! The parts: `record` holds [`Direction`], the record layer and message reassembly; `hello`
//! the ClientHello and ServerHello parsers, which quic and dtls use too; this file the types,
//! code points and caps they share.
//!
//! With a key log, `decrypt` gives a direction the keys of its protected records, and the
//! handshake messages, alerts and certificates inside them become events like the clear ones.
//!
//! It does not decide who is client or server (both directions run the same parser), and does
//! not judge certificates: it passes their DER on.

use crate::capture::Timestamp;
pub use crate::proto::der::Der;

pub mod decrypt;
mod hello;
mod record;

pub use hello::{
    negotiated_suite, parse_client_hello, parse_encrypted_extensions, parse_server_hello,
    parse_tls13_certificate_request, server_key_exchange,
};
pub(crate) use record::Mode;
pub use record::{looks_like_record_start, protected_message_event, Direction, RecordHeader};

/// Largest TLS record accepted: 2^14 plaintext + 2048 expansion (RFC 5246 §6.2.3), plus
/// slack for implementations that overshoot.
pub const MAX_RECORD: usize = (1 << 14) + 2048 + 256;
/// Largest handshake message buffered (certificate chains are the big ones).
pub const MAX_HANDSHAKE_MESSAGE: usize = 256 * 1024;
/// Bytes of non-TLS data scanned for a record header before the direction is given up.
pub const MAX_SNIFF_BYTES: u64 = 64 * 1024;
/// Bytes of a plaintext conversation before TLS (STARTTLS and friends) kept per direction.
pub const MAX_PLAINTEXT: usize = 4096;
/// Chunks of that conversation whose frame is remembered.
pub const MAX_PLAINTEXT_CHUNKS: usize = 64;

/// Where a chunk of the plaintext conversation starts in [`Direction::plaintext`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaintextChunk {
    pub frame: u64,
    pub ts: Timestamp,
    pub offset: usize,
}

/// Handshake events kept per direction (renegotiation loops, garbage that looks like TLS).
pub const MAX_EVENTS: usize = 256;

/// RFC 8446 §4.1.3: the random of a HelloRetryRequest.
pub const HRR_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

pub mod content {
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    pub const ALERT: u8 = 21;
    pub const HANDSHAKE: u8 = 22;
    pub const APPLICATION_DATA: u8 = 23;
    pub const HEARTBEAT: u8 = 24;
}

pub mod hs {
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const CERTIFICATE: u8 = 11;
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    pub const CERTIFICATE_REQUEST: u8 = 13;
    pub const CERTIFICATE_STATUS: u8 = 22;
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    pub const CERTIFICATE_VERIFY: u8 = 15;
    pub const FINISHED: u8 = 20;
}

/// A parsed ClientHello. Code points are kept as sent (GREASE included).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHello {
    pub legacy_version: u16,
    pub random: Vec<u8>,
    pub session_id: Vec<u8>,
    pub cipher_suites: Vec<u16>,
    pub compression_methods: Vec<u8>,
    /// Extension types in wire order.
    pub extensions: Vec<u16>,
    pub sni: Option<String>,
    /// ALPN protocol names, as lossy UTF-8.
    pub alpn: Vec<String>,
    /// The first ALPN protocol name's bytes as sent (JA4 reads them; `alpn` is lossy).
    pub alpn_first: Option<Vec<u8>>,
    pub supported_versions: Vec<u16>,
    pub supported_groups: Vec<u16>,
    pub ec_point_formats: Vec<u8>,
    pub signature_algorithms: Vec<u16>,
    pub key_share_groups: Vec<u16>,
    pub psk: bool,
    pub early_data: bool,
    /// encrypted_client_hello (0xfe0d) present.
    pub ech: bool,
    /// Sent in the SSLv2-compatible format (RFC 5246 Appendix E.2).
    pub sslv2: bool,
    /// SSLv2 CIPHER-SPECs (3 bytes each) of an SSLv2-format hello.
    pub sslv2_cipher_specs: Vec<u32>,
    /// Extensions that did not parse (type, reason).
    pub bad_extensions: Vec<u16>,
}

/// A parsed ServerHello (or HelloRetryRequest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerHello {
    pub legacy_version: u16,
    /// The negotiated version: supported_versions when present, else the legacy version.
    pub version: u16,
    pub random: Vec<u8>,
    pub session_id: Vec<u8>,
    pub cipher_suite: u16,
    pub compression_method: u8,
    pub extensions: Vec<u16>,
    pub alpn: Option<String>,
    pub key_share_group: Option<u16>,
    pub hello_retry_request: bool,
    pub bad_extensions: Vec<u16>,
    /// An SSLv2 SERVER-HELLO: its 3-byte CIPHER-SPECs.
    pub sslv2_cipher_specs: Vec<u32>,
}

impl ServerHello {
    /// TLS 1.3 (final or a draft) selected: everything after this message is encrypted.
    pub fn is_tls13(&self) -> bool {
        is_tls13_version(self.version)
    }
}

/// 0x0304 or a draft (0x7fXX, or Facebook's 0xfbXX experiments).
pub fn is_tls13_version(v: u16) -> bool {
    v == 0x0304 || v >> 8 == 0x7f || v >> 8 == 0xfb
}

/// Something the handshake showed, with the frame that completed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    ClientHello(Box<ClientHello>),
    ServerHello(Box<ServerHello>),
    /// Certificate message (TLS ≤ 1.2, or anything sent before encryption): DER, wire order.
    Certificate(Vec<Der>),
    /// Boxed, like the other rare variants with lists: every event is as large as the largest
    /// variant, and a connection keeps a dozen events while it waits to be judged.
    CertificateRequest(Box<CertificateRequest>),
    /// CertificateStatus: status_type (1 = OCSP) and the response DER.
    CertificateStatus {
        status_type: u8,
        response: Vec<u8>,
    },
    /// ServerKeyExchange: the named group for ECDHE (RFC 8422 §5.4); for DHE the size of the
    /// prime in bits.
    ServerKeyExchange {
        group: Option<u16>,
        dh_bits: Option<u32>,
    },
    /// Any other plaintext handshake message, by type.
    Handshake(u8),
    ChangeCipherSpec,
    /// A plaintext alert (level, description), or an encrypted one (both None).
    Alert {
        level: Option<u8>,
        description: Option<u8>,
        encrypted: bool,
    },
    /// An alert read from a protected record with the key log's keys.
    DecryptedAlert {
        level: u8,
        description: u8,
    },
    /// EncryptedExtensions (TLS 1.3, decrypted): extension types in wire order, the ALPN
    /// protocol chosen.
    EncryptedExtensions(Box<EncryptedExtensions>),
    /// CertificateVerify (decrypted): the signature scheme.
    CertificateVerify {
        scheme: u16,
    },
    /// With keys: this direction's first record after its Finished that is not an alert
    /// (application data, a session ticket): its handshake was over and it went on.
    ApplicationPhase,
    /// Secrets for this connection were given, but its protected records do not open with
    /// them (or need what this build cannot do): why.
    KeysDoNotDecrypt(String),
    /// The first encrypted record of this direction: its content type and length.
    EncryptionStarted {
        content_type: u8,
        length: u16,
    },
    /// Bytes that are not TLS; the first few of them.
    NotTls(Vec<u8>),
    /// A record or message that does not parse, or a cap that was hit.
    Malformed(String),
}

impl Event {
    /// An alert record that could not be read (sent after encryption started).
    pub const ENCRYPTED_ALERT: Event = Event::Alert {
        level: None,
        description: None,
        encrypted: true,
    };
}

/// A CertificateRequest's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRequest {
    pub cert_types: Vec<u8>,
    /// Distinguished names of acceptable CAs, DER.
    pub ca_names: Vec<Vec<u8>>,
}

/// EncryptedExtensions' contents (TLS 1.3, decrypted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedExtensions {
    /// Extension types in wire order.
    pub extensions: Vec<u16>,
    /// The ALPN protocol chosen.
    pub alpn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub frame: u64,
    pub ts: Timestamp,
    pub event: Event,
}

#[cfg(test)]
mod tests;
