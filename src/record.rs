//! record: one connection as the JSON contract in the README describes it, and its parts.
//!
//! Plain data (`serde::Serialize`), built by the judge stage and printed by the report stage;
//! nothing here decides anything.

pub use crate::ids::{Culprit, FindingId, KeySource, Severity, Side, Transport, VerdictId};
use crate::proto::starttls;
use crate::x509::CertInfo;
use serde::Serialize;
use std::net::IpAddr;
use std::sync::Arc;

/// One thing worth knowing about a connection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub id: FindingId,
    pub severity: Severity,
    /// What was seen and what to do, in one or two sentences.
    pub message: String,
    /// Frames that show it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<u64>,
    /// The facts behind it, each with both sides of a comparison.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// What to check or fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
    /// Whose certificates a chain finding is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<Side>,
    /// For validity judged at `--now` or `--at`: that moment; absent when judged at capture time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// For a chain finding: the wire indexes of the certificates it concerns (not in JSON: the
    /// evidence says it in words), so that a drawing can put it on their cards.
    #[serde(skip)]
    pub certs: Vec<usize>,
}

impl Finding {
    /// A finding with its id's usual severity and nothing but the message.
    pub fn new(id: FindingId, message: impl Into<String>) -> Finding {
        Finding {
            id,
            severity: id.severity(),
            message: message.into(),
            frames: Vec::new(),
            evidence: Vec::new(),
            advice: None,
            side: None,
            when: None,
            certs: Vec::new(),
        }
    }

    /// The frame that shows it.
    pub fn frame(mut self, frame: u64) -> Finding {
        self.frames.push(frame);
        self
    }

    pub fn frames(mut self, frames: impl IntoIterator<Item = u64>) -> Finding {
        self.frames.extend(frames);
        self
    }

    pub fn evidence(mut self, evidence: Vec<String>) -> Finding {
        self.evidence = evidence;
        self
    }

    pub fn advice(mut self, advice: impl Into<String>) -> Finding {
        self.advice = Some(advice.into());
        self
    }

    pub fn side(mut self, side: Side) -> Finding {
        self.side = Some(side);
        self
    }

    /// Another severity than the id's usual one, for what this finding saw.
    pub fn severity(mut self, severity: Severity) -> Finding {
        self.severity = severity;
        self
    }
}

impl Verdict {
    /// A verdict that names no culprit.
    pub fn new(id: VerdictId, summary: impl Into<String>) -> Verdict {
        Verdict {
            id,
            by: None,
            confidence: None,
            summary: summary.into(),
            frames: Vec::new(),
        }
    }

    /// The packets that show it: sorted, each once.
    pub fn frames(mut self, frames: impl IntoIterator<Item = u64>) -> Verdict {
        self.frames.extend(frames);
        self.frames.sort_unstable();
        self.frames.dedup();
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointOut {
    pub ip: IpAddr,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientHelloOut {
    pub frame: u64,
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    pub legacy_version: u16,
    pub cipher_suites: Vec<u16>,
    pub supported_versions: Vec<u16>,
    pub extensions: Vec<u16>,
    pub supported_groups: Vec<u16>,
    pub ec_point_formats: Vec<u8>,
    pub signature_algorithms: Vec<u16>,
    pub key_share_groups: Vec<u16>,
    pub compression_methods: Vec<u8>,
    pub session_id_length: usize,
    pub psk: bool,
    pub early_data: bool,
    pub ech: bool,
    pub sslv2: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sslv2_cipher_specs: Vec<u32>,
    /// JA3 (tshark convention: GREASE left out); absent for SSLv2-format hellos.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3_full: Option<String>,
    pub ja4: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerHelloOut {
    pub frame: u64,
    pub version: u16,
    pub version_name: &'static str,
    pub legacy_version: u16,
    pub cipher_suite: u16,
    pub cipher_suite_name: Option<&'static str>,
    pub alpn: Option<String>,
    pub extensions: Vec<u16>,
    pub key_share_group: Option<u16>,
    pub compression_method: u8,
    pub session_id_length: usize,
    pub hello_retry_request: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3s: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja3s_full: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertOut {
    pub frame: u64,
    pub from: Side,
    pub level: Option<u8>,
    pub description: Option<u8>,
    pub description_name: Option<&'static str>,
    pub encrypted: bool,
    /// Read from a protected record with the key log's keys.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub decrypted: bool,
}

/// What the key log's keys showed inside the protected handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct DecryptedOut {
    /// TLS 1.3 EncryptedExtensions: extension types in wire order.
    pub encrypted_extensions: Option<Vec<u16>>,
    /// The ALPN protocol the server chose, from EncryptedExtensions.
    pub alpn: Option<String>,
    /// The server acknowledged the SNI (an empty server_name in EncryptedExtensions).
    pub server_name_acknowledged: bool,
    /// The server accepted early data (early_data in EncryptedExtensions).
    pub early_data_accepted: bool,
    /// CertificateVerify signature schemes.
    pub server_signature_scheme: Option<u16>,
    pub client_signature_scheme: Option<u16>,
    /// Finished messages read.
    pub client_finished: bool,
    pub server_finished: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TcpPacketOut {
    pub frame: u64,
    pub time: String,
    pub from: Side,
    pub flags: String,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    pub ttl: u8,
    pub ip_id: Option<u16>,
    pub tsval: Option<u32>,
    pub tsecr: Option<u32>,
    pub payload_len: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TcpOut {
    pub syn: bool,
    pub syn_ack: bool,
    /// SYN → handshake-completing ACK, about one round trip wherever the capture was taken.
    pub rtt_ms: Option<f64>,
    pub syn_to_syn_ack_ms: Option<f64>,
    pub syn_ack_to_ack_ms: Option<f64>,
    pub client_syn: Option<TcpPacketOut>,
    pub server_syn_ack: Option<TcpPacketOut>,
    pub resets: Vec<TcpPacketOut>,
    pub fins: Vec<TcpPacketOut>,
    pub client_packets: u64,
    pub server_packets: u64,
    pub client_bytes: u64,
    pub server_bytes: u64,
    pub missing_bytes: u64,
    pub retransmissions: u64,
    pub out_of_order: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub id: VerdictId,
    /// For a handshake cut by RST/FIN: who most likely did it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<Culprit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// The verdict in plain words.
    pub summary: String,
    /// The packets that show it, in capture order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<u64>,
}

/// One connection, as the JSON contract in the README describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Connection {
    pub capture: String,
    pub transport: Transport,
    /// How the connection was carried, outermost tunnel first (`vxlan:42`, `gre`, `mpls:16`,
    /// …); left out for plain traffic.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encapsulation: Vec<String>,
    pub client: EndpointOut,
    pub server: EndpointOut,
    pub start: String,
    pub end: String,
    pub first_frame: u64,
    pub client_hello: Option<ClientHelloOut>,
    pub server_hello: Option<ServerHelloOut>,
    /// Later hellos on the same connection (after HelloRetryRequest, renegotiation in clear).
    pub more_client_hellos: Vec<ClientHelloOut>,
    pub more_server_hellos: Vec<ServerHelloOut>,
    pub server_certificates: Vec<Arc<CertInfo>>,
    pub client_certificates: Vec<Arc<CertInfo>>,
    pub alerts: Vec<AlertOut>,
    /// Where the secrets that opened its protected records came from; null without.
    pub keys: Option<KeySource>,
    /// What those keys showed; absent when nothing was decrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decrypted: Option<DecryptedOut>,
    /// ServerKeyExchange named group (TLS ≤ 1.2 ECDHE).
    pub key_exchange_group: Option<u16>,
    /// QUIC connection facts (UDP connections carrying QUIC).
    pub quic: Option<QuicOut>,
    /// The plaintext upgrade before TLS (STARTTLS, SSLRequest, …).
    pub starttls: Option<starttls::Upgrade>,
    pub tcp: TcpOut,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    /// Capture time of the first and the last packet, in nanoseconds since the Unix epoch (not
    /// in JSON: `start` and `end` say it there), for drawings over capture time.
    #[serde(skip)]
    pub span_ns: (i64, i64),
    /// A failed handshake's first packets, for the ladder diagrams (not in JSON). Present only
    /// when [`crate::Config::ladders`] asks for them and the handshake did not complete.
    #[serde(skip)]
    pub ladder: Option<Box<Ladder>>,
}

/// The first packets of a connection as a ladder diagram draws them, in capture order: the
/// packets kept while its handshake was open, at most [`crate::flow::MAX_TIMELINE`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ladder {
    pub packets: Vec<LadderPacket>,
    /// The list reached its cap: later packets of the handshake are not in it.
    pub cut_short: bool,
    /// Where the capture was taken, when the TTLs say so: that end, its TTL (unrouted) and the
    /// TTL the other end's packets arrive with.
    pub capture_point: Option<(Side, u8, u8)>,
}

/// One TCP packet of a [`Ladder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LadderPacket {
    pub frame: u64,
    /// Capture time, nanoseconds since the Unix epoch.
    pub ns: i64,
    pub from: Side,
    /// TCP flags as in the JSON packets: `SYN+ACK`, `PSH+ACK`, …
    pub flags: String,
    /// Sequence number relative to the sender's first (its ISN when the SYN was seen).
    pub seq: u32,
    /// Acknowledgement number relative to the other end's first sequence number; `None` when
    /// the ACK flag is not set.
    pub ack: Option<u32>,
    pub payload_len: u32,
    pub ttl: u8,
    pub ip_id: Option<u16>,
    pub window: u16,
    /// The TLS messages and records this packet completed, named: `ClientHello`, `Alert
    /// (fatal, handshake_failure)`, `encrypted records`, …
    pub messages: Vec<String>,
    /// Its payload repeats bytes its sender had already sent.
    pub retransmission: bool,
    /// Its payload comes before bytes its sender had already sent, without repeating them.
    pub out_of_order: bool,
    /// Data the other end never acknowledged.
    pub unacked: bool,
}

/// The QUIC facts of a UDP connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuicOut {
    pub version: Option<u32>,
    /// The client's original Destination Connection ID (hex): the Initial keys come from it.
    pub dcid: String,
    pub client_scid: String,
    pub server_scid: String,
    pub retry: bool,
    pub version_negotiation: Option<Vec<u32>>,
    /// Packets of later connections on the same 5-tuple, not analysed.
    pub other_connection_packets: u64,
}
