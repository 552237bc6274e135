//! judge: one finished flow with its TLS events in; one connection record, with a verdict and
//! findings, out.
//!
//! Decides who is client and server, picks the first handshake's hellos and certificates (later
//! ones are listed, not lost), and gathers the connection's facts into plain structs. From
//! them, small functions each give one thing: the certificate checks of the x509 stage
//! ([`certs`]), the other findings ([`findings`]), the verdict ([`verdict`], an ordered list
//! of rules) and, for a handshake cut by a RST or FIN, who sent it ([`forensics`], weighted
//! signals). None of them reads another's text.
//!
//! The record is plain data ([`crate::record`]); the report stage decides how it is printed.
//! Nothing here reads the wall clock.

pub mod certs;
pub mod findings;
pub mod forensics;
mod parts;
pub mod path;
pub mod verdict;

use crate::capture::Timestamp;
use crate::flow::Flow;
use crate::ids::{Side, Transport, VerdictId};
use crate::proto::codepoints::alert_name;
use crate::proto::conversation::{Conversation, Datagrams};
use crate::proto::der::Der;
use crate::proto::fingerprint;
use crate::proto::starttls;
use crate::proto::tls::{self, ClientHello, EncryptedExtensions, Event, ServerHello};
use crate::record::{
    AlertOut, ClientHelloOut, Connection, DecryptedOut, EndpointOut, Finding, ServerHelloOut,
};
use crate::text::rfc3339;
use crate::x509::chain::TrustStore;
use crate::x509::CertInfo;
pub use certs::{ChainCache, Later};
use findings::{Negotiated, Quality, SideQuality, WireProblem};
use forensics::Tcp;
use parts::who;
use std::sync::Arc;
use verdict::{Facts, NotTls};

/// Ports where TLS is expected from the first byte: a connection to one of them is reported
/// even when no TLS was seen.
pub const TLS_PORTS: &[u16] = &[
    261, 443, 448, 465, 563, 614, 636, 853, 989, 990, 992, 993, 994, 995, 2083, 2087, 2096, 3269,
    4433, 5061, 5223, 5986, 6443, 6697, 8443, 8883, 9443,
];

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
    /// Keep failed handshakes' first packets for the ladder diagrams.
    pub ladders: bool,
    /// Chain verdicts this worker already computed.
    pub chains: std::cell::RefCell<certs::ChainCache>,
    /// Certificates this worker already described.
    pub certs: std::cell::RefCell<certs::CertCache>,
    /// Fingerprints of hellos this worker already saw.
    pub fingerprints: std::cell::RefCell<fingerprint::Cache>,
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

/// A hello with where and when it was seen.
struct Hello<'a, T> {
    frame: u64,
    ts: Timestamp,
    msg: &'a T,
}

/// A side's first Certificate message: DER, frame, time.
#[derive(Clone, Copy)]
struct CertMsg<'a> {
    ders: &'a [Der],
    frame: u64,
    ts: Timestamp,
}

/// What the TLS events of both sides said, gathered in one pass.
#[derive(Default)]
struct Seen<'a> {
    client_hellos: Vec<Hello<'a, ClientHello>>,
    server_hellos: Vec<Hello<'a, ServerHello>>,
    server_certs: Option<CertMsg<'a>>,
    client_certs: Option<CertMsg<'a>>,
    stapled: Option<&'a [u8]>,
    /// The server's first ChangeCipherSpec.
    server_ccs: Option<u64>,
    alerts: Vec<AlertOut>,
    kx_group: Option<u16>,
    /// The server's DHE group: its ServerKeyExchange frame and the prime's size in bits.
    dh: Option<(u64, u32)>,
    cert_request: Option<u64>,
    /// Each side's first encrypted record: frame and length (client, server).
    encrypted: [Option<(u64, u16)>; 2],
    /// Bytes that are not TLS and records that do not parse, client's first, in event order.
    problems: Vec<(u64, Side, Problem<'a>)>,
    /// What the key log's keys opened (client, server): anything at all, and the details.
    opened: [bool; 2],
    decrypted: DecryptedOut,
    /// Why given keys did not open a side's records: frame, side, reason.
    keys_failed: Vec<(u64, Side, &'a str)>,
    /// With keys: each side's first record after its Finished that was not an alert.
    went_on: [Option<u64>; 2],
}

enum Problem<'a> {
    NotTls(&'a [u8]),
    Malformed(&'a str),
}

impl<'a> Seen<'a> {
    fn gather(flow: &'a Flow<Conversation>, client: usize) -> Seen<'a> {
        let mut s = Seen::default();
        for side in [client, 1 - client] {
            let from = who(side, client);
            for e in &flow.app.dirs[side].events {
                s.event(from, e);
            }
        }
        s.client_hellos.sort_by_key(|h| h.frame);
        s.server_hellos.sort_by_key(|h| h.frame);
        s.alerts.sort_by_key(|a| a.frame);
        s
    }

    fn event(&mut self, from: Side, e: &'a tls::Located) {
        let server = from == Side::Server;
        match &e.event {
            Event::ClientHello(ch) => self.client_hellos.push(Hello {
                frame: e.frame,
                ts: e.ts,
                msg: ch,
            }),
            Event::ServerHello(sh) => self.server_hellos.push(Hello {
                frame: e.frame,
                ts: e.ts,
                msg: sh,
            }),
            Event::Certificate(ders) => {
                let slot = if server {
                    &mut self.server_certs
                } else {
                    &mut self.client_certs
                };
                slot.get_or_insert(CertMsg {
                    ders,
                    frame: e.frame,
                    ts: e.ts,
                });
            }
            Event::CertificateStatus {
                status_type: 1,
                response,
            } if server => {
                self.stapled.get_or_insert(response);
            }
            Event::ChangeCipherSpec if server => {
                self.server_ccs.get_or_insert(e.frame);
            }
            Event::CertificateRequest(_) if server => {
                self.cert_request.get_or_insert(e.frame);
            }
            Event::ServerKeyExchange { group, dh_bits } => {
                self.kx_group = self.kx_group.or(*group);
                if let Some(bits) = dh_bits.filter(|_| server) {
                    self.dh.get_or_insert((e.frame, bits));
                }
            }
            Event::Alert {
                level,
                description,
                encrypted,
            } => self.alerts.push(AlertOut {
                frame: e.frame,
                from,
                level: *level,
                description: *description,
                description_name: description.and_then(alert_name),
                encrypted: *encrypted,
                decrypted: false,
            }),
            Event::DecryptedAlert { level, description } => {
                self.opened[usize::from(server)] = true;
                self.alerts.push(AlertOut {
                    frame: e.frame,
                    from,
                    level: Some(*level),
                    description: Some(*description),
                    description_name: alert_name(*description),
                    encrypted: true,
                    decrypted: true,
                });
            }
            Event::EncryptedExtensions(ee) if server => {
                let EncryptedExtensions { extensions, alpn } = &**ee;
                self.opened[1] = true;
                let d = &mut self.decrypted;
                if d.encrypted_extensions.is_none() {
                    d.server_name_acknowledged = extensions.contains(&0);
                    d.early_data_accepted = extensions.contains(&42);
                    d.encrypted_extensions = Some(extensions.clone());
                    d.alpn = alpn.clone();
                }
            }
            Event::CertificateVerify { scheme } => {
                self.opened[usize::from(server)] = true;
                let slot = if server {
                    &mut self.decrypted.server_signature_scheme
                } else {
                    &mut self.decrypted.client_signature_scheme
                };
                slot.get_or_insert(*scheme);
            }
            // Finished is never sent in the clear: seen, it was decrypted.
            Event::Handshake(tls::hs::FINISHED) => {
                self.opened[usize::from(server)] = true;
                if server {
                    self.decrypted.server_finished = true;
                } else {
                    self.decrypted.client_finished = true;
                }
            }
            Event::KeysDoNotDecrypt(why) => self.keys_failed.push((e.frame, from, why)),
            Event::ApplicationPhase => {
                self.went_on[usize::from(server)].get_or_insert(e.frame);
            }
            Event::EncryptionStarted { length, .. } => {
                self.encrypted[usize::from(server)].get_or_insert((e.frame, *length));
            }
            Event::NotTls(head) => self.problems.push((e.frame, from, Problem::NotTls(head))),
            Event::Malformed(what) => self
                .problems
                .push((e.frame, from, Problem::Malformed(what))),
            Event::Handshake(_)
            | Event::ChangeCipherSpec
            | Event::CertificateStatus { .. }
            | Event::CertificateRequest(_)
            | Event::EncryptedExtensions(_) => {}
        }
    }

    /// The ServerHello that answered (not a HelloRetryRequest).
    fn final_server_hello(&self) -> Option<&Hello<'a, ServerHello>> {
        self.server_hellos
            .iter()
            .find(|s| !s.msg.hello_retry_request)
    }
}

/// The plaintext before TLS, when there was any: a STARTTLS-style upgrade, or else the
/// protocol it looks like.
fn plaintext_phase(
    flow: &Flow<Conversation>,
    client: usize,
) -> (Option<starttls::Upgrade>, Option<&'static str>) {
    let dirs = &flow.app.dirs;
    let (c, s) = (&dirs[client], &dirs[1 - client]);
    if c.plaintext.is_empty() && s.plaintext.is_empty() {
        return (None, None);
    }
    match starttls::detect(plaintext_side(c), plaintext_side(s)) {
        Some(up) => (Some(up), None),
        None => (None, starttls::protocol_guess(&c.plaintext, &s.plaintext)),
    }
}

/// The frame by which both sides had sent protected records: the handshake is over. Unless a
/// fatal alert the keys opened says otherwise: without keys a protected record may be anything
/// (TLS 1.3's client Certificate and Finished, then the server's certificate_required); with
/// them the alert is the story, unless the handshake had completed before it: TLS ≤ 1.2 once
/// both Finished were read (`tls12_finished`; a refused renegotiation comes later), TLS 1.3
/// once both sides went on past their Finished (`went_on`), the server only accepting the
/// client at the client's Finished.
fn handshake_over(
    encrypted: [Option<(u64, u16)>; 2],
    went_on: [Option<u64>; 2],
    tls12_finished: bool,
    fatal: Option<&AlertOut>,
) -> Option<u64> {
    let [Some(a), Some(b)] = encrypted else {
        return None;
    };
    let completed_before =
        |frame: u64| tls12_finished || went_on.iter().all(|w| w.is_some_and(|w| w < frame));
    (!fatal.is_some_and(|f| f.decrypted && !completed_before(f.frame))).then_some(a.0.max(b.0))
}

/// TLS 1.3: the client's only encrypted record after the server's flight is alert-sized: its
/// frame.
fn tls13_rejection(
    flow: &Flow<Conversation>,
    client: usize,
    sh: Option<&ServerHello>,
    client_encrypted: Option<(u64, u16)>,
) -> Option<u64> {
    if !sh.is_some_and(|s| tls::is_tls13_version(s.version)) {
        return None;
    }
    let (frame, len) = client_encrypted?;
    let last = flow.app.dirs[client].last_record?;
    (findings::alert_sized(len)
        && last.frame == frame
        && last.content_type == tls::content::APPLICATION_DATA)
        .then_some(frame)
}

fn side_quality(s: &crate::flow::Side) -> SideQuality {
    let st = &s.stream.stats;
    SideQuality {
        packets: s.packets,
        missing_bytes: st.missing_bytes,
        gaps: st.gaps,
        cap_hit: st.cap_hit,
        overlap_conflicts: st.overlap_conflicts,
        first_conflict_frame: st.first_conflict_frame,
        snaplen_missing: s.payload_missing,
    }
}

/// The TCP facts of a flow, for the verdict and the forensics.
fn tcp_facts(flow: &Flow<Conversation>, client: usize) -> Tcp<'_> {
    Tcp {
        client,
        syn: flow.syn(),
        syn_ack: flow.syn_ack(),
        handshake_ack: flow.handshake_ack(),
        rtt_ns: flow.rtt_ns(),
        timeline: &flow.timeline,
        resets: &flow.resets,
        fins: &flow.fins,
        first: [flow.first(0), flow.first(1)],
        acked: [flow.sides[0].acked_by_peer, flow.sides[1].acked_by_peer],
        raced: [flow.sides[0].raced, flow.sides[1].raced],
    }
}

/// Problems with the bytes each side sent, with the frame; a plaintext upgrade explains the
/// bytes that are not TLS, and otherwise the protocol they look like is named.
fn wire_problems<'a>(
    seen: &Seen<'a>,
    upgraded: bool,
    looks_like: Option<&'static str>,
) -> Vec<(u64, WireProblem<'a>)> {
    seen.problems
        .iter()
        .filter_map(|&(frame, side, ref p)| match *p {
            Problem::NotTls(head) => (!upgraded).then_some((
                frame,
                WireProblem::NotTls(NotTls {
                    side,
                    frame,
                    head,
                    looks_like,
                }),
            )),
            Problem::Malformed(what) => Some((frame, WireProblem::Malformed(side, what))),
        })
        .collect()
}

/// The hellos as the record shows them, with their fingerprints: the first of each, and the
/// later ones. A ClientHello from the server side (or a ServerHello from the client side)
/// would mean the sides are mixed up; those stay in the "more" lists rather than being lost.
struct HellosOut {
    client: Option<ClientHelloOut>,
    more_client: Vec<ClientHelloOut>,
    server: Option<ServerHelloOut>,
    more_server: Vec<ServerHelloOut>,
}

fn hellos_out(seen: &Seen<'_>, flow: &Flow<Conversation>, capture: &CaptureFacts) -> HellosOut {
    let fp_transport = match flow.app.udp {
        Datagrams::Quic { .. } => fingerprint::Transport::Quic,
        Datagrams::Dtls { .. } => fingerprint::Transport::Dtls,
        _ => fingerprint::Transport::Tcp,
    };
    let fingerprints = &mut *capture.fingerprints.borrow_mut();
    // One list after the other: each borrows the fingerprint cache while it is walked.
    let mut chs = seen
        .client_hellos
        .iter()
        .map(|h| parts::ch_out(h.frame, h.msg, fp_transport, fingerprints));
    let (client, more_client) = (chs.next(), chs.collect());
    let mut shs = seen
        .server_hellos
        .iter()
        .map(|h| parts::sh_out(h.frame, h.msg, fingerprints));
    let (server, more_server) = (shs.next(), shs.collect());
    HellosOut {
        client,
        more_client,
        server,
        more_server,
    }
}

/// Both sides' certificates as sent, described and judged.
struct Certificates {
    server: Vec<Arc<CertInfo>>,
    client: Vec<Arc<CertInfo>>,
    /// Index in the findings of the server chain's most telling problem.
    chain_cause: Option<usize>,
}

/// Describes and judges the certificates each side sent, adding their findings.
fn certificates(
    seen: &Seen<'_>,
    capture: &CaptureFacts,
    findings: &mut Vec<Finding>,
) -> Certificates {
    let infos = |c: Option<CertMsg<'_>>| -> Vec<Arc<CertInfo>> {
        let mut cache = capture.certs.borrow_mut();
        c.map(|m| m.ders.iter().map(|d| cache.describe(d)).collect())
            .unwrap_or_default()
    };
    let server = infos(seen.server_certs);
    let client = infos(seen.client_certs);
    for c in server.iter().chain(&client) {
        if let Some(err) = &c.parse_error {
            findings.push(findings::certificate_unparsable(&c.sha256, err));
        }
    }
    let judge_chain =
        |m: CertMsg<'_>, side: Side, infos: &[Arc<CertInfo>], findings: &mut Vec<Finding>| {
            let server = side == Side::Server;
            let sent = certs::Sent {
                ders: m.ders,
                frame: m.frame,
                at: m.ts.0.div_euclid(1_000_000_000),
                side,
                host: seen
                    .client_hellos
                    .first()
                    .and_then(|c| c.msg.sni.as_deref())
                    .filter(|_| server),
                stapled: seen.stapled.filter(|_| server),
            };
            certs::judge_chain(
                &sent,
                &capture.trust,
                &capture.chains,
                capture.later.as_ref(),
                infos,
                findings,
            );
        };
    let chain_start = findings.len();
    if let Some(m) = seen.server_certs {
        judge_chain(m, Side::Server, &server, findings);
    }
    let chain_cause = certs::rejection_cause(findings.get(chain_start..).unwrap_or_default())
        .map(|i| chain_start + i);
    if let Some(m) = seen.client_certs {
        if m.ders.is_empty() {
            findings.push(findings::client_certificate_missing(m.frame));
        } else {
            judge_chain(m, Side::Client, &client, findings);
        }
    }
    Certificates {
        server,
        client,
        chain_cause,
    }
}

/// What the negotiated version says (deprecated, resumed, chain hidden), from the ServerHello
/// that answered.
fn negotiated(seen: &Seen<'_>) -> Option<Negotiated> {
    let sh = seen.final_server_hello()?;
    let v = sh.msg.version;
    let tls13 = tls::is_tls13_version(v);
    let resumed = if tls13 {
        sh.msg.extensions.contains(&41)
    } else {
        seen.server_certs.is_none() && seen.server_ccs.is_some() && !sh.msg.session_id.is_empty()
    };
    Some(Negotiated {
        frame: sh.frame,
        version: v,
        resumed,
        certificate_hidden: !resumed && tls13 && seen.server_certs.is_none(),
    })
}

/// What the capture of this flow lacked.
fn quality<'a>(flow: &Flow<Conversation>, client: usize, capture: &'a CaptureFacts) -> Quality<'a> {
    Quality {
        udp: flow.udp,
        no_tcp_handshake: flow.syn().is_none() && flow.syn_ack().is_none(),
        first_frame: flow.first_frame,
        client: side_quality(&flow.sides[client]),
        server: side_quality(&flow.sides[1 - client]),
        end: flow.end,
        truncated: capture.truncated.as_deref(),
        fragmented: flow.fragmented.as_deref().copied().unwrap_or_default(),
    }
}

/// Builds the connection record of a finished flow: gathers the facts, emits the findings in
/// the README's order, decides the verdict.
pub fn connection(flow: &Flow<Conversation>, capture: &CaptureFacts) -> Connection {
    let client = guess_client(flow);
    let server = 1 - client;
    let seen = Seen::gather(flow, client);
    let (upgrade, looks_like) = plaintext_phase(flow, client);
    let problems = wire_problems(&seen, upgrade.is_some(), looks_like);
    let mut findings = findings::wire_problems(&problems);
    let hellos = hellos_out(&seen, flow, capture);
    let certs = certificates(&seen, capture, &mut findings);
    let negotiated = negotiated(&seen);
    findings.extend(negotiated.map(findings::negotiated).unwrap_or_default());
    findings.extend(upgrade.as_ref().map(findings::starttls));
    let quality = quality(flow, client, capture);
    findings.extend(findings::capture_quality(&quality));
    findings.extend(path::icmp_findings(&flow.icmp, &flow.timeline, client));
    if let Some(hrr) = seen
        .server_hellos
        .iter()
        .find(|s| s.msg.hello_retry_request)
    {
        findings.push(findings::hello_retry_request(hrr.frame));
    }
    findings.extend(
        seen.cert_request
            .map(findings::client_certificate_requested),
    );
    findings.extend(
        seen.dh
            .and_then(|(frame, bits)| findings::weak_dh(frame, bits)),
    );
    findings.extend(
        seen.keys_failed
            .iter()
            .map(|&(frame, side, why)| findings::keys_do_not_decrypt(frame, side, why)),
    );
    let final_sh = seen.final_server_hello().map(|h| h.msg);
    // Once the client's records were opened, what they said is known, not guessed.
    let tls13_rejection =
        tls13_rejection(flow, client, final_sh, seen.encrypted[0]).filter(|_| !seen.opened[0]);
    findings.extend(tls13_rejection.map(findings::client_rejected_likely));
    let fatal = seen.alerts.iter().find(|a| a.level == Some(2));

    let ss = &flow.sides[server];
    let facts = Facts {
        udp: flow.udp,
        client_hello: seen.client_hellos.first().map(|h| (h.frame, h.ts, h.msg)),
        server_hello: seen.final_server_hello().map(|h| (h.frame, h.msg)),
        handshake_over: handshake_over(
            seen.encrypted,
            seen.went_on,
            !final_sh.is_some_and(tls::ServerHello::is_tls13)
                && seen.decrypted.client_finished
                && seen.decrypted.server_finished,
            fatal,
        ),
        tls13_rejection,
        fatal,
        not_tls: problems.iter().find_map(|(_, p)| match p {
            WireProblem::NotTls(n) => Some(*n),
            WireProblem::Malformed(..) => None,
        }),
        server_not_tls: seen
            .problems
            .iter()
            .any(|(_, side, p)| *side == Side::Server && matches!(p, Problem::NotTls(_))),
        chain_cause: certs.chain_cause.and_then(|i| findings.get(i)),
        certificate_hidden: negotiated.is_some_and(|n| n.certificate_hidden),
        tcp: tcp_facts(flow, client),
        server_first_data: ss.first_data_frame,
        server_payload_bytes: ss.payload_bytes,
        mid_stream: quality.mid_stream(),
        lacking: quality.lacking(),
        icmp: &flow.icmp,
        dh: seen.dh,
    };
    let (verdict, explained) = verdict::decide(&facts);
    let ladder = (capture.ladders && verdict.id != VerdictId::Complete).then(|| {
        Box::new(parts::ladder(
            flow,
            client,
            forensics::capture_point(&facts.tcp),
        ))
    });
    findings.extend(explained);
    let endpoint = |s: &crate::flow::Side| EndpointOut {
        ip: s.endpoint.ip,
        port: s.endpoint.port,
    };
    Connection {
        capture: capture.name.clone(),
        transport: if flow.udp {
            Transport::Udp
        } else {
            Transport::Tcp
        },
        encapsulation: flow.encap.layers().map(|l| l.to_string()).collect(),
        quic: parts::quic_out(flow),
        starttls: upgrade,
        client: endpoint(&flow.sides[client]),
        server: endpoint(ss),
        start: rfc3339(flow.start),
        end: rfc3339(flow.last),
        first_frame: flow.first_frame,
        client_hello: hellos.client,
        server_hello: hellos.server,
        more_client_hellos: hellos.more_client,
        more_server_hellos: hellos.more_server,
        server_certificates: certs.server,
        client_certificates: certs.client,
        keys: flow.app.key_source(),
        decrypted: (seen.opened != [false, false]).then_some(seen.decrypted),
        alerts: seen.alerts,
        key_exchange_group: seen.kx_group,
        tcp: parts::tcp_out(flow, client),
        verdict,
        findings,
        span_ns: (flow.start.0, flow.last.0),
        ladder,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fatal(frame: u64, decrypted: bool) -> AlertOut {
        AlertOut {
            frame,
            from: Side::Client,
            level: Some(2),
            description: Some(48),
            description_name: alert_name(48),
            encrypted: true,
            decrypted,
        }
    }

    #[test]
    fn a_decrypted_fatal_alert_is_no_completion() {
        let both = [Some((7, 19)), Some((5, 900))];
        let none = [None, None];
        assert_eq!(handshake_over(both, none, false, None), Some(7));
        // The client's first protected record was the alert the keys opened.
        assert_eq!(
            handshake_over(both, none, false, Some(&fatal(7, true))),
            None
        );
        // Not opened: only its size was known, the rules of the clear text apply.
        assert_eq!(
            handshake_over(both, none, false, Some(&fatal(7, false))),
            Some(7)
        );
        // After both sides' first protected records (a TLS 1.3 server's certificate_required
        // follows the client's Finished), but before the server went on: still the story.
        assert_eq!(
            handshake_over(both, [Some(9), None], false, Some(&fatal(40, true))),
            None
        );
        assert_eq!(
            handshake_over(both, [Some(9), Some(41)], false, Some(&fatal(40, true))),
            None
        );
        // Both sides exchanged data first (a refused renegotiation): it had completed.
        assert_eq!(
            handshake_over(both, [Some(9), Some(10)], false, Some(&fatal(40, true))),
            Some(7)
        );
        // TLS 1.2 with both Finished read: complete, whatever came after.
        assert_eq!(
            handshake_over(both, none, true, Some(&fatal(40, true))),
            Some(7)
        );
        assert_eq!(
            handshake_over([Some((7, 19)), None], none, false, None),
            None
        );
    }
}
