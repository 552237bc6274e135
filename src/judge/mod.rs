//! diagnose: one finished flow with its TLS events in; one connection record, with a verdict
//! and findings, out.
//!
//! Decides who is client and server, picks the first handshake's hellos and certificates (later
//! ones are listed, not lost), describes the certificates through the x509 stage, and names
//! what happened: a verdict from a closed list and findings with stable kebab-case ids, each
//! with a severity, the frames that show it and a plain-language message.
//!
//! The record is plain data (`serde::Serialize`); the report stage decides how it is printed.
//! Nothing here reads the wall clock.

use crate::capture::Timestamp;
use crate::text::{hex, ms, printable, rfc3339};
mod certs;
pub mod forensics;

use crate::flow::{EndReason, Flow, TcpEvent};
use crate::net::flags;
use crate::proto::conversation::{Conversation, Datagrams};
use crate::proto::fingerprint;
use crate::proto::starttls;
use crate::proto::tls::{self, ClientHello, Event, ServerHello};
use crate::x509::chain::TrustStore;
use crate::x509::CertInfo;
pub use certs::{ChainCache, Later};
use forensics::Culprit;
use serde::Serialize;
use std::net::IpAddr;

/// Ports where TLS is expected from the first byte: a connection to one of them is reported
/// even when no TLS was seen.
pub const TLS_PORTS: &[u16] = &[
    261, 443, 448, 465, 563, 614, 636, 853, 989, 990, 992, 993, 994, 995, 2083, 2087, 2096, 3269,
    4433, 5061, 5223, 5986, 6443, 6697, 8443, 8883, 9443,
];

/// How bad a finding is; `--fail-on` compares against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Info,
    Low,
    Medium,
    High,
}

/// One thing worth knowing about a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Finding {
    /// Stable kebab-case id.
    pub id: &'static str,
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
    /// Whose certificates a chain finding is about: "server" or "client".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<&'static str>,
    /// For validity judged at `--now` or `--at`: that moment; absent when judged at capture time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
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
    pub from: &'static str,
    pub level: Option<u8>,
    pub description: Option<u8>,
    pub description_name: Option<&'static str>,
    pub encrypted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TcpPacketOut {
    pub frame: u64,
    pub time: String,
    pub from: &'static str,
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
    pub id: &'static str,
    /// For a handshake cut by RST/FIN: who most likely did it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// The verdict in plain words.
    pub summary: String,
}

/// One connection, as the JSON contract in the README describes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Connection {
    pub capture: String,
    pub transport: &'static str,
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
    pub server_certificates: Vec<CertInfo>,
    pub client_certificates: Vec<CertInfo>,
    pub alerts: Vec<AlertOut>,
    /// ServerKeyExchange named group (TLS ≤ 1.2 ECDHE).
    pub key_exchange_group: Option<u16>,
    /// QUIC connection facts (UDP connections carrying QUIC).
    pub quic: Option<QuicOut>,
    /// The plaintext upgrade before TLS (STARTTLS, SSLRequest, …).
    pub starttls: Option<starttls::Upgrade>,
    pub tcp: TcpOut,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
}

/// Facts about the input that reach every connection it holds.
#[derive(Debug)]
pub struct CaptureFacts {
    pub name: String,
    /// The capture ended in the middle of a record.
    pub truncated: Option<String>,
    /// Where certificate chains are anchored.
    pub trust: std::sync::Arc<TrustStore>,
    /// A second moment to judge validity at.
    pub later: Option<Later>,
    /// Chain verdicts this worker already computed.
    pub chains: std::cell::RefCell<certs::ChainCache>,
    /// Certificates this worker already described.
    pub certs: std::cell::RefCell<certs::CertCache>,
    /// Fingerprints of hellos this worker already saw.
    pub fingerprints: std::cell::RefCell<fingerprint::Cache>,
}

pub fn version_name(v: u16) -> &'static str {
    match v {
        0x0002 => "SSL 2.0",
        0x0300 => "SSL 3.0",
        0x0301 => "TLS 1.0",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        v if v >> 8 == 0x7f => "TLS 1.3 (draft)",
        _ => "unknown",
    }
}

/// RFC 8446 §6 / RFC 5246 §7.2 alert descriptions.
pub fn alert_name(d: u8) -> Option<&'static str> {
    Some(match d {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return None,
    })
}

fn flag_string(f: u8) -> String {
    let names = [
        (flags::SYN, "SYN"),
        (flags::ACK, "ACK"),
        (flags::FIN, "FIN"),
        (flags::RST, "RST"),
        (flags::PSH, "PSH"),
        (flags::URG, "URG"),
    ];
    names
        .iter()
        .filter(|(b, _)| f & b != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join("+")
}

fn ch_out(
    frame: u64,
    ch: &ClientHello,
    transport: fingerprint::Transport,
    fingerprints: &mut fingerprint::Cache,
) -> ClientHelloOut {
    let (ja3, ja4) = fingerprints.client(ch, transport);
    ClientHelloOut {
        frame,
        sni: ch.sni.clone(),
        alpn: ch.alpn.clone(),
        legacy_version: ch.legacy_version,
        cipher_suites: ch.cipher_suites.clone(),
        supported_versions: ch.supported_versions.clone(),
        extensions: ch.extensions.clone(),
        supported_groups: ch.supported_groups.clone(),
        ec_point_formats: ch.ec_point_formats.clone(),
        signature_algorithms: ch.signature_algorithms.clone(),
        key_share_groups: ch.key_share_groups.clone(),
        compression_methods: ch.compression_methods.clone(),
        session_id_length: ch.session_id.len(),
        psk: ch.psk,
        early_data: ch.early_data,
        ech: ch.ech,
        sslv2: ch.sslv2,
        sslv2_cipher_specs: ch.sslv2_cipher_specs.clone(),
        ja3: ja3.as_ref().map(|j| j.md5.clone()),
        ja3_full: ja3.map(|j| j.full),
        ja4,
    }
}

fn sh_out(frame: u64, sh: &ServerHello, fingerprints: &mut fingerprint::Cache) -> ServerHelloOut {
    let ja3s = fingerprints.server(sh);
    ServerHelloOut {
        frame,
        version: sh.version,
        version_name: version_name(sh.version),
        legacy_version: sh.legacy_version,
        cipher_suite: sh.cipher_suite,
        cipher_suite_name: tls_parser::TlsCipherSuiteID(sh.cipher_suite)
            .get_ciphersuite()
            .map(|c| c.name),
        alpn: sh.alpn.clone(),
        extensions: sh.extensions.clone(),
        key_share_group: sh.key_share_group,
        compression_method: sh.compression_method,
        session_id_length: sh.session_id.len(),
        hello_retry_request: sh.hello_retry_request,
        ja3s: ja3s.as_ref().map(|j| j.md5.clone()),
        ja3s_full: ja3s.map(|j| j.full),
    }
}

struct Ctx<'a> {
    flow: &'a Flow<Conversation>,
    client: usize,
}

impl Ctx<'_> {
    fn who(&self, side: usize) -> &'static str {
        if side == self.client {
            "client"
        } else {
            "server"
        }
    }

    fn packet(&self, e: &TcpEvent) -> TcpPacketOut {
        TcpPacketOut {
            frame: e.frame,
            time: rfc3339(e.ts),
            from: self.who(e.side),
            flags: flag_string(e.flags),
            seq: e.seq,
            ack: e.ack,
            window: e.window,
            ttl: e.ip.ttl,
            ip_id: e.ip.ip_id,
            tsval: e.options.timestamps.map(|t| t.0),
            tsecr: e.options.timestamps.map(|t| t.1),
            payload_len: e.payload_len,
        }
    }

    fn events(&self, side: usize) -> &[tls::Located] {
        &self.flow.app.dirs[side].events
    }
}

/// Picks the client side when the flow itself cannot tell: a well-known TLS port, or the
/// lower port, is the server.
fn guess_client(flow: &Flow<Conversation>) -> usize {
    if let Some(c) = flow.client_side() {
        return c;
    }
    let p0 = flow.sides[0].endpoint.port;
    let p1 = flow.sides[1].endpoint.port;
    match (TLS_PORTS.contains(&p0), TLS_PORTS.contains(&p1)) {
        (true, false) => 1,
        (false, true) => 0,
        _ => usize::from(p0 < p1 && p0 < 1024),
    }
}

/// Whether this flow belongs in the output without `--all-flows`.
pub fn is_interesting(flow: &Flow<Conversation>) -> bool {
    if flow.udp {
        return matches!(flow.app.udp, Datagrams::Quic { .. })
            || flow.app.dirs.iter().any(|d| d.saw_tls);
    }
    let c = guess_client(flow);
    if flow.app.dirs.iter().any(|d| d.saw_tls)
        || TLS_PORTS.contains(&flow.sides[1 - c].endpoint.port)
    {
        return true;
    }
    // A plaintext dialogue that asked for TLS (STARTTLS refused, or accepted and abandoned).
    let d = &flow.app.dirs;
    !d[c].plaintext.is_empty()
        && starttls::detect(plaintext_side(&d[c]), plaintext_side(&d[1 - c])).is_some()
}

fn plaintext_side(d: &crate::proto::tls::Direction) -> starttls::Side<'_> {
    starttls::Side {
        bytes: &d.plaintext,
        chunks: &d.plaintext_chunks,
        saw_tls: d.saw_tls,
    }
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

fn quic_out(flow: &Flow<Conversation>) -> Option<QuicOut> {
    match &flow.app.udp {
        Datagrams::Quic {
            conn,
            other_connections,
            ..
        } => Some(QuicOut {
            version: conn.version,
            dcid: hex(&conn.client_dcid),
            client_scid: hex(&conn.client_scid),
            server_scid: hex(&conn.server_scid),
            retry: conn.retry,
            version_negotiation: conn.version_negotiation.clone(),
            other_connection_packets: *other_connections,
        }),
        _ => None,
    }
}

/// Builds the connection record of a finished flow.
pub fn connection(flow: &Flow<Conversation>, capture: &CaptureFacts) -> Connection {
    let client = guess_client(flow);
    let server = 1 - client;
    let cx = Ctx { flow, client };
    let mut findings = Vec::new();

    let mut chs = Vec::new();
    let mut shs = Vec::new();
    // The first Certificate message of each side: DER, frame, time.
    let mut server_certs: Option<(&[Vec<u8>], u64, Timestamp)> = None;
    let mut client_certs: Option<(&[Vec<u8>], u64, Timestamp)> = None;
    let mut stapled: Option<&[u8]> = None;
    let mut ccs = [None, None];
    let mut encrypted_len = [None, None];
    let mut alerts = Vec::new();
    let mut kx_group = None;
    let mut cert_request = None;
    let mut encrypted = [None, None];
    for side in [client, server] {
        for e in cx.events(side) {
            match &e.event {
                Event::ClientHello(ch) => chs.push((e.frame, side, ch.as_ref(), e.ts)),
                Event::ServerHello(sh) => shs.push((e.frame, side, sh.as_ref(), e.ts)),
                Event::Certificate(ders) => {
                    let slot = if side == server {
                        &mut server_certs
                    } else {
                        &mut client_certs
                    };
                    slot.get_or_insert((ders.as_slice(), e.frame, e.ts));
                }
                Event::CertificateStatus {
                    status_type: 1,
                    response,
                } if side == server => {
                    stapled.get_or_insert(response.as_slice());
                }
                Event::ChangeCipherSpec => {
                    ccs[usize::from(side == server)].get_or_insert(e.frame);
                }
                Event::CertificateRequest { .. } if side == server => {
                    cert_request.get_or_insert(e.frame);
                }
                Event::ServerKeyExchange { group } => kx_group = kx_group.or(*group),
                Event::Alert {
                    level,
                    description,
                    encrypted,
                } => alerts.push(AlertOut {
                    frame: e.frame,
                    from: cx.who(side),
                    level: *level,
                    description: *description,
                    description_name: description.and_then(alert_name),
                    encrypted: *encrypted,
                }),
                Event::EncryptionStarted { length, .. } => {
                    encrypted[usize::from(side == server)].get_or_insert(e.frame);
                    encrypted_len[usize::from(side == server)].get_or_insert(*length);
                }
                Event::NotTls(head) => findings.push(Finding {
                    id: "not-tls",
                    severity: Severity::Medium,
                    message: format!(
                        "the {} sent bytes that are not TLS: {}",
                        cx.who(side),
                        printable(head)
                    ),
                    frames: vec![e.frame],
                    ..Default::default()
                }),
                Event::Malformed(what) => findings.push(Finding {
                    id: "tls-malformed",
                    severity: Severity::Low,
                    message: format!(
                        "{} sent a TLS record or message that does not parse: {what}",
                        cx.who(side)
                    ),
                    frames: vec![e.frame],
                    ..Default::default()
                }),
                Event::Handshake(_)
                | Event::CertificateStatus { .. }
                | Event::CertificateRequest { .. } => {}
            }
        }
    }
    chs.sort_by_key(|c| c.0);
    shs.sort_by_key(|s| s.0);
    alerts.sort_by_key(|a| a.frame);
    // A ClientHello from the server side (or a ServerHello from the client side) would mean the
    // sides are mixed up; those stay in the "more" lists rather than being lost.
    let fp_transport = match flow.app.udp {
        Datagrams::Quic { .. } => fingerprint::Transport::Quic,
        Datagrams::Dtls { .. } => fingerprint::Transport::Dtls,
        _ => fingerprint::Transport::Tcp,
    };
    let fingerprints = &mut *capture.fingerprints.borrow_mut();
    let mut ch_iter = chs
        .iter()
        .map(|(f, _, ch, _)| ch_out(*f, ch, fp_transport, fingerprints));
    let client_hello = ch_iter.next();
    let more_client_hellos: Vec<_> = ch_iter.collect();
    let mut sh_iter = shs.iter().map(|(f, _, sh, _)| sh_out(*f, sh, fingerprints));
    let server_hello = sh_iter.next();
    let more_server_hellos: Vec<_> = sh_iter.collect();

    let infos = |c: Option<(&[Vec<u8>], u64, Timestamp)>| -> Vec<CertInfo> {
        let mut cache = capture.certs.borrow_mut();
        c.map(|(ders, _, _)| ders.iter().map(|d| cache.describe(d)).collect())
            .unwrap_or_default()
    };
    let mut server_certificates = infos(server_certs);
    let mut client_certificates = infos(client_certs);
    for c in server_certificates.iter().chain(&client_certificates) {
        if let Some(err) = &c.parse_error {
            findings.push(Finding {
                id: "certificate-unparsable",
                severity: Severity::Low,
                message: format!("certificate {} does not parse: {err}", c.sha256),
                ..Default::default()
            });
        }
    }
    let sni = chs.first().and_then(|c| c.2.sni.as_deref());
    let final_sh = shs.iter().find(|s| !s.2.hello_retry_request);
    if let Some((ders, frame, ts)) = server_certs {
        let sent = certs::Sent {
            ders,
            frame,
            at: ts.0.div_euclid(1_000_000_000),
            server: true,
            host: sni,
            stapled,
        };
        certs::judge_chain(
            &sent,
            &capture.trust,
            &capture.chains,
            capture.later.as_ref(),
            &mut server_certificates,
            &mut findings,
        );
    }
    if let Some((ders, frame, ts)) = client_certs {
        if ders.is_empty() {
            findings.push(Finding {
                id: "client-certificate-missing",
                severity: Severity::Medium,
                message: "the server asked for a client certificate and the client sent none (empty Certificate)".into(),
                frames: vec![frame],
                advice: Some("configure the client with a certificate and key the server accepts, or make client certificates optional on the server".into()),
                side: Some("client"),
                ..Default::default()
            });
        } else {
            let sent = certs::Sent {
                ders,
                frame,
                at: ts.0.div_euclid(1_000_000_000),
                server: false,
                host: None,
                stapled: None,
            };
            certs::judge_chain(
                &sent,
                &capture.trust,
                &capture.chains,
                capture.later.as_ref(),
                &mut client_certificates,
                &mut findings,
            );
        }
    }
    if let Some((sh_frame, _, sh, _)) = final_sh {
        let v = sh.version;
        if v <= 0x0302 {
            findings.push(Finding {
                id: "deprecated-version",
                severity: Severity::Medium,
                message: format!(
                    "{} was negotiated; it is deprecated (RFC 8996)",
                    version_name(v)
                ),
                frames: vec![*sh_frame],
                advice: Some(
                    "enable TLS 1.2 and 1.3 on both ends and disable older versions".into(),
                ),
                ..Default::default()
            });
        }
        let tls13 = crate::proto::tls::is_tls13_version(v);
        let resumed = if tls13 {
            sh.extensions.contains(&41)
        } else {
            server_certs.is_none() && ccs[1].is_some() && !sh.session_id.is_empty()
        };
        if resumed {
            findings.push(Finding {
                id: "resumed",
                severity: Severity::Info,
                message: "an abbreviated (resumed) handshake: the server sent no certificate, so there is none to judge on this connection".into(),
                frames: vec![*sh_frame],
                ..Default::default()
            });
        } else if tls13 && server_certs.is_none() {
            findings.push(Finding {
                id: "certificate-not-visible",
                severity: Severity::Info,
                message: "TLS 1.3 encrypts the certificates: they cannot be judged from the capture".into(),
                frames: vec![*sh_frame],
                advice: Some("to check the chain, connect with `openssl s_client -showcerts` or capture with the session keys".into()),
                ..Default::default()
            });
        }
    }
    let starttls = plaintext_phase(&cx, &mut findings);
    let tcp = tcp_out(&cx);
    capture_quality(&cx, capture, &mut findings);
    if let Some(sh) = shs.iter().find(|s| s.2.hello_retry_request) {
        findings.push(Finding {
            id: "hello-retry-request",
            severity: Severity::Info,
            message:
                "the server asked the client to retry with another key share (HelloRetryRequest)"
                    .into(),
            frames: vec![sh.0],
            ..Default::default()
        });
    }
    if let Some(f) = cert_request {
        findings.push(Finding {
            id: "client-certificate-requested",
            severity: Severity::Info,
            message: "the server asked for a client certificate (CertificateRequest)".into(),
            frames: vec![f],
            ..Default::default()
        });
    }

    let client_rejected_13 = tls13_rejection(&cx, final_sh.map(|s| s.2), encrypted, encrypted_len);
    if let Some(frame) = client_rejected_13 {
        findings.push(Finding {
            id: "client-rejected-likely",
            severity: Severity::High,
            message: "the client answered the server's encrypted flight with one alert-sized encrypted record and nothing else: it most likely rejected the server's certificate (TLS 1.3 hides which)".into(),
            frames: vec![frame],
            advice: Some(CHECK_CHAIN.into()),
            side: Some("server"),
            ..Default::default()
        });
    }
    let (verdict, explained) = verdict(&cx, &chs, &shs, &alerts, encrypted, &findings);
    findings.extend(explained);
    let s = &flow.sides;
    Connection {
        capture: capture.name.clone(),
        transport: if flow.udp { "udp" } else { "tcp" },
        quic: quic_out(flow),
        starttls,
        client: EndpointOut {
            ip: s[client].endpoint.ip,
            port: s[client].endpoint.port,
        },
        server: EndpointOut {
            ip: s[server].endpoint.ip,
            port: s[server].endpoint.port,
        },
        start: rfc3339(flow.start),
        end: rfc3339(flow.last),
        first_frame: flow.first_frame,
        client_hello,
        server_hello,
        more_client_hellos,
        more_server_hellos,
        server_certificates,
        client_certificates,
        alerts,
        key_exchange_group: kx_group,
        tcp,
        verdict,
        findings,
    }
}

fn tcp_out(cx: &Ctx<'_>) -> TcpOut {
    let f = cx.flow;
    let (c, s) = (&f.sides[cx.client], &f.sides[1 - cx.client]);
    let syn_to_sa = match (f.syn, f.syn_ack) {
        (Some(a), Some(b)) => Some(ms(b.ts.0 - a.ts.0)),
        _ => None,
    };
    let sa_to_ack = match (f.syn_ack, f.handshake_ack) {
        (Some(a), Some(b)) => Some(ms(b.ts.0 - a.ts.0)),
        _ => None,
    };
    TcpOut {
        syn: f.syn.is_some(),
        syn_ack: f.syn_ack.is_some(),
        rtt_ms: f.rtt_ns().map(ms),
        syn_to_syn_ack_ms: syn_to_sa,
        syn_ack_to_ack_ms: sa_to_ack,
        client_syn: f.syn.as_ref().map(|e| cx.packet(e)),
        server_syn_ack: f.syn_ack.as_ref().map(|e| cx.packet(e)),
        resets: f.resets.iter().map(|e| cx.packet(e)).collect(),
        fins: f.fins.iter().map(|e| cx.packet(e)).collect(),
        client_packets: c.packets,
        server_packets: s.packets,
        client_bytes: c.payload_bytes,
        server_bytes: s.payload_bytes,
        missing_bytes: c.stream.stats.missing_bytes + s.stream.stats.missing_bytes,
        retransmissions: c.stream.stats.retransmissions + s.stream.stats.retransmissions,
        out_of_order: c.stream.stats.out_of_order + s.stream.stats.out_of_order,
    }
}

fn capture_quality(cx: &Ctx<'_>, capture: &CaptureFacts, findings: &mut Vec<Finding>) {
    let f = cx.flow;
    let (c, s) = (&f.sides[cx.client], &f.sides[1 - cx.client]);
    if c.packets == 0 || s.packets == 0 {
        let silent = if c.packets == 0 { "client" } else { "server" };
        findings.push(Finding {
            id: "one-sided",
            severity: Severity::Info,
            message: format!("no packet from the {silent} was captured: either it never answered or the capture saw one direction only"),
            frames: vec![], ..Default::default() });
    }
    if !f.udp && f.syn.is_none() && f.syn_ack.is_none() {
        findings.push(Finding {
            id: "mid-stream",
            severity: Severity::Info,
            message: "the capture starts in the middle of this connection (no SYN or SYN-ACK seen)"
                .into(),
            frames: vec![f.first_frame],
            ..Default::default()
        });
    }
    for (side, who) in [(c, "client"), (s, "server")] {
        let st = &side.stream.stats;
        if st.missing_bytes > 0 {
            findings.push(Finding {
                id: "bytes-missing",
                severity: Severity::Low,
                message: format!("{} bytes from the {who} were never captured ({} gaps); anything in them is unknown", st.missing_bytes, st.gaps),
                frames: vec![], ..Default::default() });
        }
        if st.cap_hit {
            findings.push(Finding {
                id: "reassembly-cap",
                severity: Severity::Low,
                message: format!("out-of-order data from the {who} exceeded the reassembly cap ({} KiB); the oldest hole was given up", crate::flow::reassembly::MAX_PENDING_BYTES / 1024),
                frames: vec![], ..Default::default() });
        }
        if st.overlap_conflicts > 0 {
            findings.push(Finding {
                id: "overlap-conflict",
                severity: Severity::Medium,
                message: format!("the {who} retransmitted {} overlapping segment(s) with different bytes; the first copy was kept", st.overlap_conflicts),
                frames: st.first_conflict_frame.into_iter().collect(), ..Default::default() });
        }
        if side.payload_missing > 0 {
            findings.push(Finding {
                id: "snaplen-cut",
                severity: Severity::Low,
                message: format!(
                    "the capture's snap length cut {} payload bytes from the {who}",
                    side.payload_missing
                ),
                frames: vec![],
                ..Default::default()
            });
        }
    }
    match f.end {
        EndReason::Evicted | EndReason::Forced => {
            let why = if f.end == EndReason::Evicted {
                "the flow table was full".to_string()
            } else {
                format!("more than {} later connections were waiting behind this one to be reported in order", crate::flow::MAX_WAITING)
            };
            findings.push(Finding {
                id: "flow-evicted",
                severity: Severity::Low,
                message: format!("{why}, so this connection was reported before it ended; later packets may appear as a separate connection"),
                frames: vec![], ..Default::default() });
        }
        EndReason::EndOfCapture => {
            if let Some(t) = &capture.truncated {
                findings.push(Finding {
                    id: "truncated-capture",
                    severity: Severity::Low,
                    message: format!(
                        "the capture file is cut short ({t}); this connection may have gone on"
                    ),
                    frames: vec![],
                    ..Default::default()
                });
            }
        }
        EndReason::Timeout | EndReason::Reused => {}
    }
}

/// (frame, side, message, time)
type Hello<'a, T> = (u64, usize, &'a T, Timestamp);

/// A plaintext phase before TLS: a STARTTLS-style upgrade (reported as such, and the
/// `not-tls` findings it explains dropped), or a named protocol where TLS was expected.
fn plaintext_phase(cx: &Ctx<'_>, findings: &mut Vec<Finding>) -> Option<starttls::Upgrade> {
    let dirs = &cx.flow.app.dirs;
    let (c, s) = (&dirs[cx.client], &dirs[1 - cx.client]);
    if c.plaintext.is_empty() && s.plaintext.is_empty() {
        return None;
    }
    let Some(up) = starttls::detect(plaintext_side(c), plaintext_side(s)) else {
        if let Some(p) = starttls::protocol_guess(&c.plaintext, &s.plaintext) {
            for f in findings.iter_mut().filter(|f| f.id == "not-tls") {
                f.message = format!("{} (it looks like {p})", f.message);
                f.advice = Some(format!("the peer speaks {p} here, not TLS: check the port, or whether TLS is terminated elsewhere"));
            }
        }
        return None;
    };
    findings.retain(|f| f.id != "not-tls");
    let frames: Vec<u64> = up
        .command_frame
        .into_iter()
        .chain(up.accepted_frame)
        .collect();
    let p = up.protocol;
    if let Some(r) = &up.refused {
        findings.push(Finding {
            id: "starttls-refused",
            severity: Severity::Medium,
            message: format!("the client asked to upgrade {p} to TLS and the server refused: {r}"),
            frames,
            advice: Some(
                "enable TLS on the server (certificate and key configured for this service)".into(),
            ),
            ..Default::default()
        });
    } else if up.accepted_without_tls() {
        findings.push(Finding {
            id: "starttls-not-followed",
            severity: Severity::Medium,
            message: format!("the server agreed to upgrade {p} to TLS but no TLS handshake followed in the capture"),
            frames,
            advice: Some("check the client's TLS library and the server's TLS setup: one side gave up right after the upgrade".into()),
            ..Default::default()
        });
    } else {
        findings.push(Finding {
            id: "starttls",
            severity: Severity::Info,
            message: format!(
                "TLS started after a plaintext {p} phase (upgrade asked in frame {}, accepted in frame {})",
                up.command_frame.map_or("?".into(), |f| f.to_string()),
                up.accepted_frame.map_or("?".into(), |f| f.to_string())
            ),
            frames,
            ..Default::default()
        });
    }
    Some(up)
}

/// The versions a ClientHello offers, named: supported_versions without GREASE, else the
/// legacy version.
fn offered_versions(ch: &ClientHello) -> String {
    let listed: Vec<&str> = ch
        .supported_versions
        .iter()
        .filter(|v| !fingerprint::is_grease(**v))
        .map(|v| version_name(*v))
        .collect();
    if listed.is_empty() {
        format!("up to {}", version_name(ch.legacy_version))
    } else {
        listed.join(", ")
    }
}

/// A fatal alert that answers the hellos themselves: no common version (protocol_version) or
/// no common cipher suite or group (handshake_failure, insufficient_security, before any
/// ServerHello), as RFC 8446 §4.1.1 and RFC 5246 §7.4.1.3 prescribe.
fn mismatch(
    a: &AlertOut,
    ch: Option<&ClientHello>,
    sh: Option<&ServerHello>,
) -> Option<(Verdict, Option<Finding>)> {
    let ch = ch?;
    let (id, message, advice) = match (a.from, a.description?, sh) {
        ("server", 70, None) => (
            "version-mismatch",
            format!("the server refused every TLS version the client offered ({}) with a protocol_version alert", offered_versions(ch)),
            "enable a version both support: TLS 1.2 and 1.3 on the server, or update the client",
        ),
        ("client", 70, Some(sh)) => (
            "version-mismatch",
            format!("the client refused the version the server chose ({}) with a protocol_version alert", version_name(sh.version)),
            "enable a version both support: TLS 1.2 and 1.3 on the server, or update the client",
        ),
        ("server", d @ (40 | 71), None) => (
            "no-shared-cipher",
            format!(
                "the server answered the ClientHello ({} cipher suites, {} groups offered) with a {} alert before any ServerHello: it found no cipher suite or group in common",
                ch.cipher_suites.len(),
                ch.supported_groups.len(),
                alert_name(d).unwrap_or("fatal")
            ),
            "compare the server's cipher suites and groups with the client's (e.g. `openssl s_client -cipher`), and enable a modern common suite such as ECDHE-…-AES128-GCM",
        ),
        _ => return None,
    };
    let finding = Finding {
        id,
        severity: Severity::High,
        message: message.clone(),
        frames: vec![a.frame],
        evidence: vec![
            format!("client offered versions: {}", offered_versions(ch)),
            format!("client offered {} cipher suites", ch.cipher_suites.len()),
        ],
        advice: Some(advice.into()),
        ..Default::default()
    };
    Some((
        Verdict {
            id,
            by: None,
            confidence: None,
            summary: message,
        },
        Some(finding),
    ))
}

/// What to do when the client rejected certificates the capture cannot show.
const CHECK_CHAIN: &str = "check the chain the server sends (`openssl s_client -showcerts`): a missing intermediate, an expired or mismatched certificate, or a root the client does not trust";

/// QUIC and DTLS: no TCP to read; the hellos and alerts say what happened.
fn udp_verdict(client_hello: bool, server_hello: bool, fatal: Option<&AlertOut>) -> Verdict {
    let (id, summary) = match (fatal, client_hello, server_hello) {
        (Some(a), _, _) => (
            "alert",
            format!(
                "the {} ended the handshake with a fatal {} alert",
                a.from,
                a.description_name.unwrap_or("unknown")
            ),
        ),
        (None, true, true) => (
            "complete",
            "the server answered the ClientHello; the rest of the handshake is encrypted"
                .to_string(),
        ),
        (None, true, false) => (
            "no-server-response",
            "the ClientHello got no ServerHello in the capture".to_string(),
        ),
        (None, false, _) => (
            "incomplete",
            "no ClientHello was seen on this flow".to_string(),
        ),
    };
    Verdict {
        id,
        by: None,
        confidence: None,
        summary,
    }
}

/// TLS 1.3: the client's only encrypted record after the server's flight is alert-sized
/// (2-byte alert + content type + 16-byte tag = 19, more with padding; under the 53 bytes of
/// the smallest Finished): the frame.
fn tls13_rejection(
    cx: &Ctx<'_>,
    sh: Option<&ServerHello>,
    encrypted: [Option<u64>; 2],
    len: [Option<u16>; 2],
) -> Option<u64> {
    if !sh.is_some_and(|s| crate::proto::tls::is_tls13_version(s.version)) {
        return None;
    }
    let (frame, len) = (encrypted[0]?, len[0]?);
    let last = cx.flow.app.dirs[cx.client].last_record?;
    // A Finished is at least 32 + 4 + 1 + 16 = 53 bytes: anything shorter is not one.
    (len < 53
        && last.frame == frame
        && last.content_type == crate::proto::tls::content::APPLICATION_DATA)
        .then_some(frame)
}

/// A handshake cut by `cut` (a RST, or the server's FIN) after the ClientHello sent at `ch_ts`.
fn cut_verdict(
    cx: &Ctx<'_>,
    cut: &TcpEvent,
    ch_ts: Timestamp,
    server_had_answered: bool,
) -> (Verdict, Option<Finding>) {
    let is_rst = cut.flags & flags::RST != 0;
    let j = forensics::judge(cx.flow, cx.client, ch_ts, cut);
    let what = if is_rst { "a TCP RST" } else { "a FIN" };
    let when = if server_had_answered {
        "after the ClientHello, before the handshake finished"
    } else {
        "right after the ClientHello"
    };
    let claimed = cx.who(cut.side);
    let (summary, severity, advice) = match j.by {
        Culprit::Middlebox => (
            format!("{what} forged by a device on the path cut the handshake {when} (it claims to come from the {claimed})"),
            Severity::High,
            "a device between client and server reads the ClientHello (the SNI) and resets the connection: the name is blocked on this path. On a Chinese cloud host check the domain's ICP filing (备案); elsewhere check firewalls, IPS and national filtering on the path; the server configuration is not the cause",
        ),
        Culprit::Server => (
            format!("the server itself ended the connection with {what} {when}"),
            Severity::Medium,
            "the server (or a firewall on its host) refused this handshake: check its TLS configuration for this SNI, its SNI-based rules and its logs",
        ),
        Culprit::Client => (
            format!("the client ended the connection with {what} {when}"),
            Severity::Medium,
            "the client gave up on the handshake: check the client's logs (timeouts, certificate or protocol errors)",
        ),
        Culprit::Unknown => (
            format!("{what} (claiming to come from the {claimed}) cut the handshake {when}; the capture does not show who sent it"),
            Severity::Medium,
            "capture at both ends, or at the client with the full TCP handshake, to tell a forged reset from the server's own",
        ),
    };
    let id = if is_rst {
        "rst-after-client-hello"
    } else {
        "fin-after-client-hello"
    };
    let mut evidence: Vec<String> = j
        .signals
        .iter()
        .map(|s| format!("{} ({:+}): {}", s.id, s.weight, s.detail))
        .collect();
    evidence.push(format!(
        "score {:+}; {} judged the sender",
        j.score,
        j.by.as_str()
    ));
    let finding = Finding {
        id,
        severity,
        message: summary.clone(),
        frames: vec![cut.frame],
        evidence,
        advice: Some(advice.to_string()),
        ..Default::default()
    };
    let verdict = Verdict {
        id,
        by: Some(j.by.as_str()),
        confidence: (j.by != Culprit::Unknown).then_some(j.confidence),
        summary,
    };
    (verdict, Some(finding))
}

fn verdict(
    cx: &Ctx<'_>,
    chs: &[Hello<'_, ClientHello>],
    shs: &[Hello<'_, ServerHello>],
    alerts: &[AlertOut],
    encrypted: [Option<u64>; 2],
    findings: &[Finding],
) -> (Verdict, Option<Finding>) {
    let f = cx.flow;
    let v = |id: &'static str, summary: String| Verdict {
        id,
        by: None,
        confidence: None,
        summary,
    };
    let server = 1 - cx.client;
    let first_ch = chs.first().map(|c| (c.0, c.3));
    let fatal = alerts.iter().find(|a| a.level == Some(2));
    let final_sh = shs.iter().find(|s| !s.2.hello_retry_request);
    let handshake_over = match encrypted {
        [Some(a), Some(b)] => Some(a.max(b)),
        _ => None,
    };
    if findings.iter().any(|x| x.id == "client-rejected-likely") {
        return (
            v(
                "client-rejected-likely",
                "the client most likely rejected the server's certificate: it sent one alert-sized encrypted record and stopped".into(),
            ),
            None,
        );
    }
    if f.udp {
        return (
            udp_verdict(first_ch.is_some(), final_sh.is_some(), fatal),
            None,
        );
    }
    if first_ch.is_some() && final_sh.is_some() && handshake_over.is_some() {
        return (
            v(
                "complete",
                "the handshake completed and both sides sent encrypted data".into(),
            ),
            None,
        );
    }
    if let Some((ch_frame, ch_ts)) = first_ch {
        // The cut: the first RST after the ClientHello while the handshake was open, or a
        // server FIN before the server said anything. Alerts and RSTs after it are its echoes.
        let server_spoke_before =
            |frame: u64| f.sides[server].first_data_frame.is_some_and(|d| d < frame);
        let rst = f
            .resets
            .iter()
            .filter(|r| r.frame > ch_frame && handshake_over.is_none_or(|d| r.frame < d))
            .min_by_key(|r| r.frame);
        let server_fin = f
            .fins
            .iter()
            .filter(|r| r.frame > ch_frame && r.side == server && !server_spoke_before(r.frame))
            .min_by_key(|r| r.frame);
        // The server answered, but not in TLS: that is the story, not the reset after it.
        let server_not_tls = cx
            .events(server)
            .iter()
            .any(|e| matches!(e.event, Event::NotTls(_)));
        if final_sh.is_none() && server_not_tls {
            if let Some(x) = findings.iter().find(|x| x.id == "not-tls") {
                return (v("not-tls", x.message.clone()), None);
            }
        }
        let cut = [rst, server_fin]
            .into_iter()
            .flatten()
            .min_by_key(|e| e.frame);
        if let Some(cut) = cut.filter(|c| fatal.is_none_or(|a| a.frame > c.frame)) {
            return cut_verdict(cx, cut, ch_ts, server_spoke_before(cut.frame));
        }
    }
    if let Some(a) = fatal {
        let name = a.description_name.unwrap_or("unknown");
        if a.from == "client" {
            // Base the cause on the certificates; the alert only confirms it (OpenSSL sends
            // unknown_ca, GnuTLS bad_certificate, Java certificate_unknown for the same chain).
            let cause = certs::REJECTION_CAUSES.iter().find_map(|id| {
                findings
                    .iter()
                    .find(|x| x.id == *id && x.side == Some("server") && x.when.is_none())
            });
            if let Some(c) = cause {
                let fix = c.advice.as_deref().unwrap_or_default();
                return (
                    v(c.id, format!("the client rejected the server's certificate chain ({name} alert): {} — {fix}", c.message)),
                    None,
                );
            }
        }
        if let Some(found) = mismatch(a, chs.first().map(|c| c.2), final_sh.map(|s| s.2)) {
            return found;
        }
        let certificate_alert = matches!(a.description, Some(42..=46 | 48));
        if a.from == "client"
            && certificate_alert
            && findings.iter().any(|x| x.id == "certificate-not-visible")
        {
            // TLS 1.3 with the certificates encrypted: the alert says the client rejected them.
            let finding = Finding {
                id: "client-rejected-likely",
                severity: Severity::High,
                message: format!("the client rejected the server's certificate with a {name} alert; TLS 1.3 hides the certificates, so the reason cannot be read from the capture"),
                frames: vec![a.frame],
                advice: Some(CHECK_CHAIN.into()),
                side: Some("server"),
                ..Default::default()
            };
            return (
                v(
                    "client-rejected-likely",
                    format!("the client rejected the server's certificate ({name} alert)"),
                ),
                Some(finding),
            );
        }
        return (
            v(
                "alert",
                format!(
                    "the {} ended the handshake with a fatal {name} alert",
                    a.from
                ),
            ),
            None,
        );
    }
    if first_ch.is_some() {
        if final_sh.is_none() && f.sides[server].payload_bytes == 0 {
            return (
                v(
                    "no-server-response",
                    "the ClientHello got no TLS answer from the server".into(),
                ),
                None,
            );
        }
    } else {
        if f.syn.is_some() && f.syn_ack.is_none() && f.resets.iter().any(|r| r.side == server) {
            return (
                v(
                    "connection-refused",
                    "the server refused the TCP connection (RST to the SYN)".into(),
                ),
                None,
            );
        }
        if let Some(x) = findings.iter().find(|x| x.id == "not-tls") {
            return (v("not-tls", x.message.clone()), None);
        }
        if f.syn.is_some() && f.syn_ack.is_none() {
            return (
                v("no-server-response", "the SYN got no answer".into()),
                None,
            );
        }
        if !findings.iter().any(|x| x.id == "mid-stream") {
            return (
                v(
                    "no-client-hello",
                    "the TCP connection opened but no ClientHello was sent".into(),
                ),
                None,
            );
        }
    }
    let lacking = findings.iter().any(|x| {
        matches!(
            x.id,
            "one-sided" | "mid-stream" | "bytes-missing" | "truncated-capture"
        )
    });
    if lacking {
        return (
            v(
                "inconclusive",
                "the capture lacks the packets to say how the handshake ended".into(),
            ),
            None,
        );
    }
    (
        v(
            "incomplete",
            "the handshake started but did not finish within the capture".into(),
        ),
        None,
    )
}
