//! verdict: the facts of one connection in; what happened to its handshake, out.
//!
//! The verdict is the first of a short ordered list of rules ([`RULES`]) that holds. Each rule
//! is a small function over plain [`Facts`] (hellos, alerts, the TCP timeline, what the
//! certificate checks found) that decides or passes; none reads a finding's text. A rule may
//! add the finding that explains its verdict (a cut with its scored evidence, a version
//! mismatch). Who cut a handshake is the forensics module's question.

use super::findings;
use super::forensics::{self, Cut, Tcp};
use super::path;
use crate::capture::Timestamp;
use crate::flow::{IcmpEvent, TcpEvent};
use crate::ids::{Culprit, FindingId, Severity, Side, VerdictId};
use crate::net::flags;
use crate::proto::codepoints::{alert_name, version_name};
use crate::proto::fingerprint;
use crate::proto::tls::{ClientHello, ServerHello};
use crate::record::{AlertOut, Finding, Verdict};
use crate::text::printable;

/// What to do when the client rejected certificates the capture cannot show.
pub(super) const CHECK_CHAIN: &str = "check the chain the server sends (`openssl s_client -showcerts`): a missing intermediate, an expired or mismatched certificate, or a root the client does not trust";

/// Bytes one side sent where TLS was expected.
#[derive(Debug, Clone, Copy)]
pub struct NotTls<'a> {
    pub side: Side,
    /// The frame that carried them.
    pub frame: u64,
    /// The first bytes.
    pub head: &'a [u8],
    /// The protocol the plaintext looks like, when it looks like one.
    pub looks_like: Option<&'static str>,
}

impl NotTls<'_> {
    /// The `not-tls` finding's message, which is also the `not-tls` verdict's summary.
    pub fn message(&self) -> String {
        let base = format!(
            "the {} sent bytes that are not TLS: {}",
            self.side,
            printable(self.head)
        );
        match self.looks_like {
            Some(p) => format!("{base} (it looks like {p})"),
            None => base,
        }
    }
}

/// The facts a verdict is decided on.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub udp: bool,
    /// The first ClientHello: its frame, time and contents.
    pub client_hello: Option<(u64, Timestamp, &'a ClientHello)>,
    /// The ServerHello that answered (not a HelloRetryRequest).
    pub server_hello: Option<(u64, &'a ServerHello)>,
    /// Both sides encrypt: the frame where the later one started.
    pub handshake_over: Option<u64>,
    /// TLS 1.3: the client answered the server's flight with one alert-sized encrypted record.
    pub tls13_rejection: Option<u64>,
    /// The first fatal alert.
    pub fatal: Option<&'a AlertOut>,
    /// The first bytes that were not TLS, from either side (none when a STARTTLS-style
    /// upgrade explains the plaintext).
    pub not_tls: Option<NotTls<'a>>,
    /// The server sent bytes that are not TLS.
    pub server_not_tls: bool,
    /// The most telling problem with the server's chain at capture time, when one can explain
    /// a rejection.
    pub chain_cause: Option<&'a Finding>,
    /// TLS 1.3 hid the server's certificates (no resumption).
    pub certificate_hidden: bool,
    pub tcp: Tcp<'a>,
    /// The first frame in which the server sent payload.
    pub server_first_data: Option<u64>,
    pub server_payload_bytes: u64,
    /// The capture starts inside the connection (TCP without SYN or SYN-ACK).
    pub mid_stream: bool,
    /// The capture lacks packets: one side silent, mid-stream, bytes missing, or cut short.
    pub lacking: bool,
    /// ICMP errors about the connection's packets.
    pub icmp: &'a [IcmpEvent],
    /// The server's DHE group: its ServerKeyExchange frame and the prime's size in bits.
    pub dh: Option<(u64, u32)>,
}

impl Facts<'_> {
    /// The first ICMP error that says the client's packets did not get through (not a mere
    /// "too big", which the sender recovers from).
    fn client_packet_rejected(&self) -> Option<&IcmpEvent> {
        self.icmp.iter().find(|e| {
            e.side == self.tcp.client && !matches!(e.kind, crate::net::IcmpKind::TooBig { .. })
        })
    }

    /// "; the client's packet expired in transit …", when an ICMP error says so.
    fn icmp_note(&self) -> String {
        self.client_packet_rejected()
            .map(|e| {
                format!(
                    "; the client's packet {}",
                    path::icmp_said(e, self.tcp.timeline)
                )
            })
            .unwrap_or_default()
    }

    /// The SYN got no SYN-ACK but a RST from the server, or an ICMP unreachable: why, in
    /// words, and the frames of the SYN and the answer.
    fn syn_refused(&self, before: u64) -> Option<(String, [u64; 2])> {
        let syn = self.tcp.syn.filter(|_| self.tcp.syn_ack.is_none())?;
        let server = 1 - self.tcp.client;
        let rst = self
            .tcp
            .resets
            .iter()
            .find(|r| r.side == server && r.frame < before);
        if let Some(r) = rst {
            return Some((
                "the server refused the TCP connection (RST to the SYN)".into(),
                [syn.frame, r.frame],
            ));
        }
        let e = self.client_packet_rejected().filter(|e| {
            e.frame < before && matches!(e.kind, crate::net::IcmpKind::Unreachable(_))
        })?;
        Some((
            format!(
                "the TCP connection was refused: the SYN {}",
                path::icmp_said(e, self.tcp.timeline)
            ),
            [syn.frame, e.frame],
        ))
    }
}

/// A verdict, and the finding that explains it when the findings do not already.
pub type Decision = (Verdict, Option<Finding>);

type Rule = fn(&Facts<'_>) -> Option<Decision>;

/// The rules, in order: the first that decides gives the verdict.
pub const RULES: &[Rule] = &[
    tls13_rejected,
    udp,
    complete,
    refused_before_hello,
    weak_dh_refused,
    not_tls_answer,
    dropped_on_path,
    cut,
    chain_rejected,
    mismatch,
    hidden_chain_rejected,
    alert,
    no_server_response,
    connection_refused,
    not_tls_only,
    syn_unanswered,
    no_client_hello,
    inconclusive,
];

/// The verdict on one connection.
pub fn decide(f: &Facts<'_>) -> Decision {
    RULES.iter().find_map(|rule| rule(f)).unwrap_or_else(|| {
        let ch = f.client_hello.map(|c| c.0);
        plain(
            VerdictId::Incomplete,
            "the handshake started but did not finish within the capture",
            ch.into_iter().chain(f.server_hello.map(|s| s.0)),
        )
    })
}

/// A verdict that needs no finding of its own, with the frames that show it.
fn plain(
    id: VerdictId,
    summary: impl Into<String>,
    frames: impl IntoIterator<Item = u64>,
) -> Decision {
    (Verdict::new(id, summary).frames(frames), None)
}

fn tls13_rejected(f: &Facts<'_>) -> Option<Decision> {
    let frame = f.tls13_rejection?;
    Some(plain(
        VerdictId::ClientRejectedLikely,
        "the client most likely rejected the server's certificate: it sent one alert-sized encrypted record and stopped",
        [frame],
    ))
}

/// QUIC and DTLS: no TCP to read; the hellos and alerts say what happened.
fn udp(f: &Facts<'_>) -> Option<Decision> {
    if !f.udp {
        return None;
    }
    Some(match (f.fatal, f.client_hello, f.server_hello) {
        (Some(a), _, _) => plain(VerdictId::Alert, alert_summary(a), [a.frame]),
        (None, Some(ch), Some(sh)) => plain(
            VerdictId::Complete,
            "the server answered the ClientHello; the rest of the handshake is encrypted",
            [ch.0, sh.0],
        ),
        (None, Some(ch), None) => plain(
            VerdictId::NoServerResponse,
            "the ClientHello got no ServerHello in the capture",
            [ch.0],
        ),
        (None, None, _) => plain(
            VerdictId::Incomplete,
            "no ClientHello was seen on this flow",
            [],
        ),
    })
}

fn complete(f: &Facts<'_>) -> Option<Decision> {
    let (ch, sh, over) = (f.client_hello?, f.server_hello?, f.handshake_over?);
    Some(plain(
        VerdictId::Complete,
        "the handshake completed and both sides sent encrypted data",
        [ch.0, sh.0, over],
    ))
}

/// The server answered the ClientHello, but not in TLS: that is the story, not the reset
/// after it.
fn not_tls_answer(f: &Facts<'_>) -> Option<Decision> {
    f.client_hello?;
    if f.server_hello.is_some() || !f.server_not_tls {
        return None;
    }
    let n = f.not_tls?;
    Some(plain(VerdictId::NotTls, n.message(), [n.frame]))
}

/// The client's first FIN after the ClientHello, while the handshake was open: it gave up.
fn client_gave_up<'a>(f: &Facts<'a>, ch_frame: u64) -> Option<&'a TcpEvent> {
    let open = |e: &&TcpEvent| e.frame > ch_frame && f.handshake_over.is_none_or(|d| e.frame < d);
    f.tcp
        .fins
        .iter()
        .filter(|e| e.side == f.tcp.client)
        .filter(open)
        .min_by_key(|e| e.frame)
}

/// The packet that cut an open handshake: the first RST after the ClientHello while the
/// handshake was open, or a server FIN before the server said anything. Alerts and RSTs after
/// it are its echoes, and so is anything after the client's own FIN: the end that closed first
/// ended the handshake, the other only answered (RFC 9293 §3.6).
fn the_cut<'a>(f: &Facts<'a>, ch_frame: u64) -> Option<&'a TcpEvent> {
    let server = 1 - f.tcp.client;
    let open = |e: &&TcpEvent| e.frame > ch_frame && f.handshake_over.is_none_or(|d| e.frame < d);
    let rst = f.tcp.resets.iter().filter(open).min_by_key(|r| r.frame);
    let server_fin = f
        .tcp
        .fins
        .iter()
        .filter(open)
        .filter(|r| r.side == server && !server_spoke_before(f, r.frame))
        .min_by_key(|r| r.frame);
    let gave_up = client_gave_up(f, ch_frame).map_or(u64::MAX, |e| e.frame);
    [rst, server_fin]
        .into_iter()
        .flatten()
        .filter(|e| e.frame < gave_up)
        .min_by_key(|e| e.frame)
}

/// The server refused the SYN with a RST; a ClientHello sent into the dead connection (a
/// raw-socket client does that) changes nothing.
fn refused_before_hello(f: &Facts<'_>) -> Option<Decision> {
    let (ch_frame, _, _) = f.client_hello?;
    let (why, frames) = f.syn_refused(ch_frame)?;
    Some(plain(
        VerdictId::ConnectionRefused,
        format!("{why}; the ClientHello sent after it went nowhere"),
        frames.into_iter().chain([ch_frame]),
    ))
}

/// The server offered a DH group under 1024 bits and the client ended the handshake after it:
/// with a fatal alert, a RST or a FIN. That group is the cause, whatever the certificates say
/// (OpenSSL 3 refuses it at its default security level).
fn weak_dh_refused(f: &Facts<'_>) -> Option<Decision> {
    let (ske, bits) = f.dh.filter(|&(_, bits)| bits < findings::MIN_DH_BITS)?;
    let client = f.tcp.client;
    let open = |frame: u64| frame > ske && f.handshake_over.is_none_or(|d| frame < d);
    let (how, end) = if let Some(a) = f.fatal.filter(|a| a.from == Side::Client && open(a.frame)) {
        (
            format!(
                "with a fatal {} alert",
                a.description_name.unwrap_or("unknown")
            ),
            a.frame,
        )
    } else if let Some(e) = f
        .tcp
        .resets
        .iter()
        .chain(f.tcp.fins)
        .filter(|e| e.side == client && open(e.frame))
        .min_by_key(|e| e.frame)
    {
        let kind = if e.flags & flags::RST != 0 {
            "RST"
        } else {
            "FIN"
        };
        (
            format!("by closing the connection ({kind} in frame {})", e.frame),
            e.frame,
        )
    } else {
        return None;
    };
    Some(plain(
        VerdictId::WeakDh,
        format!("the client refused the server's {bits}-bit Diffie-Hellman group {how}: configure a group of 2048 bits or more, or ECDHE"),
        [ske, end],
    ))
}

/// Transmissions of a segment, at least, before its loss says more than a slow ACK.
const DROPPED_AFTER_SENDS: u32 = 3;

/// The ClientHello never reached the server: the server's ACKs never covered the segment that
/// carried it, though it was sent again and again, and the server sent nothing. A device on the
/// path that drops instead of resetting (DPI that reads the SNI) leaves exactly this; so does a
/// path-MTU black hole, when only the full-size segments are lost.
fn dropped_on_path(f: &Facts<'_>) -> Option<Decision> {
    let (ch_frame, ch_ts, _) = f.client_hello?;
    if f.server_hello.is_some() || f.server_payload_bytes > 0 {
        return None;
    }
    let client = f.tcp.client;
    let lost = path::unacked(&f.tcp, client).filter(|u| u.sent >= DROPPED_AFTER_SENDS)?;
    // A RST while the segment was still being sent is a cut, judged as such.
    let last_send = lost.frames.last().copied().unwrap_or(ch_frame);
    if f.tcp
        .resets
        .iter()
        .any(|r| r.frame > ch_frame && r.frame < last_send)
    {
        return None;
    }
    let isn = f.tcp.syn.map(|s| s.seq);
    let acked = f.tcp.acked.get(client).copied().flatten();
    let mut evidence = vec![format!("the client's segment: {}", lost.describe(isn))];
    let partly = acked.zip(isn).is_some_and(|(a, i)| a.wrapping_sub(i) > 1);
    if let Some(a) = acked {
        let rel = isn.map_or(a, |i| a.wrapping_sub(i));
        evidence.push(format!(
            "the server acknowledged the client's bytes up to relative seq {rel}{}",
            if partly {
                " (part of the ClientHello arrived)"
            } else {
                " (the SYN only)"
            }
        ));
    }
    let server = 1 - client;
    if let Some(fin) = f
        .tcp
        .fins
        .iter()
        .find(|e| e.side == server && e.frame > ch_frame)
    {
        evidence.push(format!(
            "the server's FIN (frame {}) {} s after the ClientHello closes a connection that never got its ClientHello: a handshake timeout, not a refusal",
            fin.frame,
            crate::text::secs(fin.ts.0 - ch_ts.0)
        ));
    }
    let frames = lost.frames.clone();
    let (finding, verdict) = match path::mtu_black_hole(&f.tcp, client, &lost) {
        Some((small, big)) => {
            evidence.push(format!(
                "the largest segment acknowledged had {small} bytes; the lost one has {big}"
            ));
            let summary = format!("only the full-size segments of the ClientHello were lost on the path ({big} bytes lost, {small} acknowledged): a path-MTU black hole");
            (
                Finding::new(FindingId::PathMtuBlackHole, summary.clone())
                    .advice("lower the MTU or clamp the MSS on the client's path (e.g. iptables TCPMSS --clamp-mss-to-pmtu), and let ICMP fragmentation-needed through")
                    .severity(Severity::High),
                Verdict::new(VerdictId::DroppedOnPath, summary),
            )
        }
        None => {
            // An ICMP rejection of the segment says the same out loud.
            let rejected = f
                .client_packet_rejected()
                .filter(|e| matches!(e.kind, crate::net::IcmpKind::Unreachable(_)));
            let summary = match rejected {
                Some(e) => format!(
                    "the ClientHello was rejected on the path: it {}; sent {} times, never acknowledged by the server, which sent nothing",
                    path::icmp_said(e, f.tcp.timeline),
                    lost.sent
                ),
                None => format!(
                    "the ClientHello was dropped on the path: sent {} times, never acknowledged by the server, which sent nothing",
                    lost.sent
                ),
            };
            let confidence = if rejected.is_some() {
                0.95
            } else if partly {
                0.9
            } else {
                0.75
            };
            (
                Finding::new(FindingId::ClientHelloDropped, summary.clone())
                    .advice("a device between client and server drops the ClientHello (DPI reading the SNI drops rather than resets); compare with another name or path, or with ECH, to confirm")
                    .severity(Severity::High),
                Verdict {
                    by: Some(Culprit::Middlebox),
                    confidence: Some(confidence),
                    ..Verdict::new(VerdictId::DroppedOnPath, summary)
                },
            )
        }
    };
    let verdict = verdict.frames([ch_frame].into_iter().chain(frames.iter().copied()));
    Some((verdict, Some(finding.frames(frames).evidence(evidence))))
}

fn server_spoke_before(f: &Facts<'_>, frame: u64) -> bool {
    f.server_first_data.is_some_and(|d| d < frame)
}

fn cut(f: &Facts<'_>) -> Option<Decision> {
    let (ch_frame, ch_ts, _) = f.client_hello?;
    let packet = the_cut(f, ch_frame)?;
    if f.fatal.is_some_and(|a| a.frame <= packet.frame) {
        return None;
    }
    let cut = Cut::new(f.tcp, packet, ch_ts);
    let j = forensics::judge(&cut);
    let is_rst = packet.flags & flags::RST != 0;
    let what = if is_rst { "a TCP RST" } else { "a FIN" };
    let when = if server_spoke_before(f, packet.frame) {
        "after the ClientHello, before the handshake finished"
    } else {
        "right after the ClientHello"
    };
    let claimed = f.tcp.who(packet.side);
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
    let (finding_id, verdict_id) = if is_rst {
        (
            FindingId::RstAfterClientHello,
            VerdictId::RstAfterClientHello,
        )
    } else {
        (
            FindingId::FinAfterClientHello,
            VerdictId::FinAfterClientHello,
        )
    };
    let mut evidence: Vec<String> = j
        .signals
        .iter()
        .map(|s| format!("{} ({:+}): {}", s.id, s.weight, s.detail))
        .collect();
    evidence.extend(j.capture_point.clone());
    evidence.push(format!("score {:+}; {} judged the sender", j.score, j.by));
    let finding = Finding::new(finding_id, summary.clone())
        .severity(severity)
        .frame(packet.frame)
        .evidence(evidence)
        .advice(advice);
    // The ClientHello, the cut, and the packet the cut was compared with.
    let shown = [ch_frame, packet.frame]
        .into_iter()
        .chain(cut.baseline.map(|b| b.frame));
    let verdict = Verdict {
        by: Some(j.by),
        confidence: (j.by != Culprit::Unknown).then_some(j.confidence),
        ..Verdict::new(verdict_id, summary)
    }
    .frames(shown);
    Some((verdict, Some(finding)))
}

/// The client's fatal alert, and the chain explains it. The cause comes from the certificates;
/// the alert only confirms it (OpenSSL sends unknown_ca, GnuTLS bad_certificate, Java
/// certificate_unknown for the same chain).
fn chain_rejected(f: &Facts<'_>) -> Option<Decision> {
    let a = f.fatal.filter(|a| a.from == Side::Client)?;
    let c = f.chain_cause?;
    let fix = c.advice.as_deref().unwrap_or_default();
    Some(plain(
        VerdictId::Rejected(c.id),
        format!(
            "the client rejected the server's certificate chain ({} alert): {} — {fix}",
            a.description_name.unwrap_or("unknown"),
            c.message
        ),
        c.frames.iter().copied().chain([a.frame]),
    ))
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
fn mismatch(f: &Facts<'_>) -> Option<Decision> {
    let a = f.fatal?;
    let (_, _, ch) = f.client_hello?;
    const BOTH_VERSIONS: &str =
        "enable a version both support: TLS 1.2 and 1.3 on the server, or update the client";
    let (finding_id, verdict_id, message, advice) = match (a.from, a.description?, f.server_hello)
    {
        (Side::Server, 70, None) => (
            FindingId::VersionMismatch,
            VerdictId::VersionMismatch,
            format!("the server refused every TLS version the client offered ({}) with a protocol_version alert", offered_versions(ch)),
            BOTH_VERSIONS,
        ),
        (Side::Client, 70, Some((_, sh))) => (
            FindingId::VersionMismatch,
            VerdictId::VersionMismatch,
            format!("the client refused the version the server chose ({}) with a protocol_version alert", version_name(sh.version)),
            BOTH_VERSIONS,
        ),
        (Side::Server, d @ (40 | 71), None) => (
            FindingId::NoSharedCipher,
            VerdictId::NoSharedCipher,
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
    let finding = Finding::new(finding_id, message.clone())
        .frame(a.frame)
        .evidence(vec![
            format!("client offered versions: {}", offered_versions(ch)),
            format!("client offered {} cipher suites", ch.cipher_suites.len()),
        ])
        .advice(advice);
    let verdict = Verdict::new(verdict_id, message).frames([f.client_hello?.0, a.frame]);
    Some((verdict, Some(finding)))
}

/// TLS 1.3 with the certificates encrypted: the client's certificate alert says it rejected
/// them.
fn hidden_chain_rejected(f: &Facts<'_>) -> Option<Decision> {
    let a = f.fatal.filter(|a| a.from == Side::Client)?;
    if !matches!(a.description, Some(42..=46 | 48)) || !f.certificate_hidden {
        return None;
    }
    let name = a.description_name.unwrap_or("unknown");
    let finding = Finding::new(
        FindingId::ClientRejectedLikely,
        format!("the client rejected the server's certificate with a {name} alert; TLS 1.3 hides the certificates, so the reason cannot be read from the capture"),
    )
    .frame(a.frame)
    .advice(CHECK_CHAIN)
    .side(Side::Server);
    Some((
        Verdict::new(
            VerdictId::ClientRejectedLikely,
            format!("the client rejected the server's certificate ({name} alert)"),
        )
        .frames([a.frame]),
        Some(finding),
    ))
}

fn alert_summary(a: &AlertOut) -> String {
    format!(
        "the {} ended the handshake with a fatal {} alert",
        a.from,
        a.description_name.unwrap_or("unknown")
    )
}

fn alert(f: &Facts<'_>) -> Option<Decision> {
    f.fatal
        .map(|a| plain(VerdictId::Alert, alert_summary(a), [a.frame]))
}

fn no_server_response(f: &Facts<'_>) -> Option<Decision> {
    let (ch_frame, ch_ts, _) = f.client_hello?;
    if f.server_hello.is_some() || f.server_payload_bytes > 0 {
        return None;
    }
    let summary = match client_gave_up(f, ch_frame) {
        Some(fin) => format!(
            "the ClientHello got no TLS answer from the server; the client gave up after {} s (FIN in frame {})",
            crate::text::secs(fin.ts.0 - ch_ts.0),
            fin.frame
        ),
        None => "the ClientHello got no TLS answer from the server".to_string(),
    };
    let gave_up = client_gave_up(f, ch_frame).map(|e| e.frame);
    let icmp = f.client_packet_rejected().map(|e| e.frame);
    Some(plain(
        VerdictId::NoServerResponse,
        summary + &f.icmp_note(),
        [ch_frame].into_iter().chain(icmp).chain(gave_up),
    ))
}

/// The connection was opened but no ClientHello came: the rules below it only judge that.
fn before_hello<'f, 'a>(f: &'f Facts<'a>) -> Option<&'f Facts<'a>> {
    f.client_hello.is_none().then_some(f)
}

fn connection_refused(f: &Facts<'_>) -> Option<Decision> {
    let (why, frames) = before_hello(f)?.syn_refused(u64::MAX)?;
    Some(plain(VerdictId::ConnectionRefused, why, frames))
}

fn not_tls_only(f: &Facts<'_>) -> Option<Decision> {
    let n = before_hello(f)?.not_tls?;
    Some(plain(VerdictId::NotTls, n.message(), [n.frame]))
}

fn syn_unanswered(f: &Facts<'_>) -> Option<Decision> {
    let f = before_hello(f)?;
    let syn = f.tcp.syn.filter(|_| f.tcp.syn_ack.is_none())?;
    let icmp = f.client_packet_rejected().map(|e| e.frame);
    Some(plain(
        VerdictId::NoServerResponse,
        format!("the SYN got no answer{}", f.icmp_note()),
        [syn.frame].into_iter().chain(icmp),
    ))
}

fn no_client_hello(f: &Facts<'_>) -> Option<Decision> {
    let f = before_hello(f)?;
    let handshake = [f.tcp.syn, f.tcp.syn_ack, f.tcp.handshake_ack];
    (!f.mid_stream).then(|| {
        plain(
            VerdictId::NoClientHello,
            "the TCP connection opened but no ClientHello was sent",
            handshake.into_iter().flatten().map(|e| e.frame),
        )
    })
}

fn inconclusive(f: &Facts<'_>) -> Option<Decision> {
    f.lacking.then(|| {
        plain(
            VerdictId::Inconclusive,
            "the capture lacks the packets to say how the handshake ended",
            f.client_hello.map(|c| c.0),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::forensics::tests::{ev, handshake, tcp};
    use crate::judge::path::tests::icmp_at;

    fn hello() -> ClientHello {
        ClientHello {
            legacy_version: 0x0303,
            supported_versions: vec![0x0a0a, 0x0304, 0x0303],
            cipher_suites: vec![0x1301, 0x1302, 0xc02f],
            supported_groups: vec![29, 23],
            ..ClientHello::default()
        }
    }

    fn server_hello(version: u16) -> ServerHello {
        ServerHello {
            version,
            ..ServerHello::default()
        }
    }

    fn alert_from(from: Side, frame: u64, description: u8) -> AlertOut {
        AlertOut {
            frame,
            from,
            level: Some(2),
            description: Some(description),
            description_name: alert_name(description),
            encrypted: false,
        }
    }

    /// A TCP connection, seen at the client, whose ClientHello (frame 4) got nothing yet.
    fn facts<'a>(timeline: &'a [TcpEvent], ch: &'a ClientHello) -> Facts<'a> {
        Facts {
            udp: false,
            client_hello: Some((4, Timestamp(42_000_000), ch)),
            server_hello: None,
            handshake_over: None,
            tls13_rejection: None,
            fatal: None,
            not_tls: None,
            server_not_tls: false,
            chain_cause: None,
            certificate_hidden: false,
            tcp: tcp(timeline, &[]),
            server_first_data: None,
            server_payload_bytes: 0,
            mid_stream: false,
            lacking: false,
            icmp: &[],
            dh: None,
        }
    }

    fn id(d: &Decision) -> VerdictId {
        d.0.id
    }

    #[test]
    fn hellos_and_encryption_both_ways_are_complete() {
        let (t, ch, sh) = (handshake(), hello(), server_hello(0x0304));
        let mut f = facts(&t, &ch);
        f.server_hello = Some((6, &sh));
        assert_eq!(complete(&f), None, "no encrypted data yet");
        f.handshake_over = Some(9);
        let (v, _) = decide(&f);
        assert_eq!((v.id, v.frames), (VerdictId::Complete, vec![4, 6, 9]));
        f.client_hello = None;
        assert_eq!(complete(&f), None, "no ClientHello");
    }

    #[test]
    fn a_forged_rst_after_the_client_hello_is_a_cut_by_a_middlebox() {
        let mut t = handshake();
        let mut rst = ev(5, 1, 45, flags::RST | flags::ACK);
        rst.ip.ttl = 240;
        t.push(rst);
        let ch = hello();
        let resets = [rst];
        let mut f = facts(&t, &ch);
        f.tcp.resets = &resets;
        let (v, finding) = decide(&f);
        assert_eq!(
            (v.id, v.by),
            (VerdictId::RstAfterClientHello, Some(Culprit::Middlebox))
        );
        // The ClientHello, the cut, and the server's SYN-ACK it was compared with.
        assert_eq!(v.frames, vec![2, 4, 5]);
        let finding = finding.expect("the cut's finding");
        assert_eq!(
            (finding.id, finding.severity, finding.frames),
            (FindingId::RstAfterClientHello, Severity::High, vec![5])
        );
        assert!(finding
            .evidence
            .iter()
            .any(|e| e.starts_with("ttl-mismatch")));
    }

    #[test]
    fn a_rst_after_encryption_started_both_ways_is_no_cut() {
        let mut t = handshake();
        let rst = ev(9, 1, 200, flags::RST);
        t.push(rst);
        let ch = hello();
        let resets = [rst];
        let mut f = facts(&t, &ch);
        f.tcp.resets = &resets;
        f.handshake_over = Some(8);
        assert_eq!(cut(&f), None);
    }

    #[test]
    fn a_server_fin_counts_only_before_the_server_spoke() {
        let mut t = handshake();
        let fin = ev(6, 1, 90, flags::FIN | flags::ACK);
        t.push(fin);
        let ch = hello();
        let fins = [fin];
        let mut f = facts(&t, &ch);
        f.tcp.fins = &fins;
        assert_eq!(
            cut(&f).map(|d| d.0.id),
            Some(VerdictId::FinAfterClientHello)
        );
        f.server_first_data = Some(5);
        assert_eq!(
            cut(&f),
            None,
            "the server had answered: its FIN closes, it does not cut"
        );
    }

    #[test]
    fn an_alert_before_the_cut_is_judged_instead_of_the_cut() {
        let mut t = handshake();
        let rst = ev(6, 1, 90, flags::RST);
        t.push(rst);
        let ch = hello();
        let resets = [rst];
        let a = alert_from(Side::Server, 5, 40);
        let mut f = facts(&t, &ch);
        f.tcp.resets = &resets;
        f.fatal = Some(&a);
        assert_eq!(cut(&f), None);
        assert_eq!(id(&decide(&f)), VerdictId::NoSharedCipher);
    }

    #[test]
    fn the_client_alert_names_the_chains_most_telling_problem() {
        let t = handshake();
        let ch = hello();
        let a = alert_from(Side::Client, 7, 48);
        let cause = Finding::new(FindingId::IncompleteChain, "server chain: gap").advice("fix");
        let mut f = facts(&t, &ch);
        f.fatal = Some(&a);
        assert_eq!(chain_rejected(&f), None, "no cause in the chain");
        f.chain_cause = Some(&cause);
        let (v, extra) = decide(&f);
        assert_eq!(v.id, VerdictId::Rejected(FindingId::IncompleteChain));
        assert!(v.summary.contains("unknown_ca alert"), "{}", v.summary);
        assert!(extra.is_none(), "the chain finding is already there");
        let server_alert = alert_from(Side::Server, 7, 48);
        f.fatal = Some(&server_alert);
        assert_eq!(
            chain_rejected(&f),
            None,
            "only the client rejects a server chain"
        );
    }

    #[test]
    fn protocol_version_alerts_are_version_mismatches_from_either_side() {
        let t = handshake();
        let ch = hello();
        let sh = server_hello(0x0301);
        let mut f = facts(&t, &ch);
        let server = alert_from(Side::Server, 5, 70);
        f.fatal = Some(&server);
        let (v, finding) = decide(&f);
        assert_eq!(v.id, VerdictId::VersionMismatch);
        assert!(v.summary.contains("TLS 1.3, TLS 1.2"), "{}", v.summary);
        assert_eq!(finding.map(|x| x.frames), Some(vec![5]));
        let client = alert_from(Side::Client, 6, 70);
        f.fatal = Some(&client);
        f.server_hello = Some((6, &sh));
        assert!(decide(&f).0.summary.contains("TLS 1.0"));
        // A server's protocol_version after its own ServerHello is no mismatch of hellos.
        f.fatal = Some(&server);
        assert_eq!(mismatch(&f), None);
    }

    #[test]
    fn a_certificate_alert_under_tls13_is_a_likely_rejection_only_when_the_chain_was_hidden() {
        let t = handshake();
        let ch = hello();
        let a = alert_from(Side::Client, 8, 42);
        let mut f = facts(&t, &ch);
        f.fatal = Some(&a);
        assert_eq!(id(&decide(&f)), VerdictId::Alert);
        f.certificate_hidden = true;
        let (v, finding) = decide(&f);
        assert_eq!(v.id, VerdictId::ClientRejectedLikely);
        assert_eq!(finding.and_then(|x| x.side), Some(Side::Server));
        let other = alert_from(Side::Client, 8, 80);
        f.fatal = Some(&other);
        assert_eq!(
            id(&decide(&f)),
            VerdictId::Alert,
            "internal_error is no certificate alert"
        );
    }

    #[test]
    fn an_alert_sized_last_record_under_tls13_wins_over_everything() {
        let t = handshake();
        let ch = hello();
        let a = alert_from(Side::Server, 5, 40);
        let mut f = facts(&t, &ch);
        f.fatal = Some(&a);
        f.tls13_rejection = Some(9);
        assert_eq!(id(&decide(&f)), VerdictId::ClientRejectedLikely);
    }

    #[test]
    fn udp_flows_are_judged_by_hellos_and_alerts_alone() {
        let t = handshake();
        let ch = hello();
        let sh = server_hello(0x0304);
        let mut f = facts(&t, &ch);
        f.udp = true;
        assert_eq!(id(&decide(&f)), VerdictId::NoServerResponse);
        f.server_hello = Some((6, &sh));
        assert_eq!(id(&decide(&f)), VerdictId::Complete);
        let a = alert_from(Side::Client, 5, 48);
        f.fatal = Some(&a);
        assert_eq!(id(&decide(&f)), VerdictId::Alert);
        f.fatal = None;
        f.client_hello = None;
        assert_eq!(id(&decide(&f)), VerdictId::Incomplete);
    }

    #[test]
    fn a_server_that_answers_in_plaintext_is_not_tls_even_when_a_rst_follows() {
        let mut t = handshake();
        let rst = ev(6, 1, 90, flags::RST);
        t.push(rst);
        let ch = hello();
        let resets = [rst];
        let mut f = facts(&t, &ch);
        f.tcp.resets = &resets;
        f.server_not_tls = true;
        f.not_tls = Some(NotTls {
            side: Side::Server,
            frame: 6,
            head: b"HTTP/1.1 400",
            looks_like: Some("HTTP"),
        });
        let (v, _) = decide(&f);
        assert_eq!(v.id, VerdictId::NotTls);
        assert!(v.summary.ends_with("(it looks like HTTP)"), "{}", v.summary);
    }

    #[test]
    fn a_silent_server_is_no_server_response_and_a_talking_one_is_incomplete() {
        let t = handshake();
        let ch = hello();
        let mut f = facts(&t, &ch);
        assert_eq!(id(&decide(&f)), VerdictId::NoServerResponse);
        f.server_payload_bytes = 100;
        assert_eq!(id(&decide(&f)), VerdictId::Incomplete);
        f.lacking = true;
        assert_eq!(id(&decide(&f)), VerdictId::Inconclusive);
    }

    #[test]
    fn without_a_client_hello_the_tcp_handshake_is_judged() {
        let syn = [ev(1, 0, 0, flags::SYN)];
        let refused = [
            ev(1, 0, 0, flags::SYN),
            ev(2, 1, 40, flags::RST | flags::ACK),
        ];
        let ch = hello();
        let mut f = facts(&syn, &ch);
        f.client_hello = None;
        assert_eq!(id(&decide(&f)), VerdictId::NoServerResponse);
        assert_eq!(decide(&f).0.summary, "the SYN got no answer");
        let resets = [refused[1]];
        let mut f = facts(&refused, &ch);
        f.client_hello = None;
        f.tcp.syn_ack = None;
        f.tcp.resets = &resets;
        assert_eq!(id(&decide(&f)), VerdictId::ConnectionRefused);
        let t = handshake();
        let mut f = facts(&t, &ch);
        f.client_hello = None;
        assert_eq!(id(&decide(&f)), VerdictId::NoClientHello);
        f.mid_stream = true;
        assert_eq!(id(&decide(&f)), VerdictId::Incomplete);
        f.lacking = true;
        assert_eq!(id(&decide(&f)), VerdictId::Inconclusive);
    }

    #[test]
    fn the_rules_that_need_a_client_hello_pass_without_one_and_vice_versa() {
        let t = handshake();
        let ch = hello();
        let mut f = facts(&t, &ch);
        assert_eq!(no_client_hello(&f), None);
        assert_eq!(syn_unanswered(&f), None);
        f.client_hello = None;
        assert_eq!(no_server_response(&f), None);
        assert_eq!(cut(&f), None);
        assert_eq!(mismatch(&f), None);
    }

    /// The client's ClientHello (frame 4, 517 bytes at seq 1001) sent `copies` more times,
    /// 200 ms apart, with no answer.
    fn unanswered_hello(copies: u64) -> Vec<TcpEvent> {
        let mut t = handshake();
        t[3].seq = 1001;
        for k in 0..copies {
            let mut again = t[3];
            again.frame = 5 + k;
            again.ts = Timestamp(t[3].ts.0 + 200_000_000 * (k as i64 + 1));
            t.push(again);
        }
        t
    }

    #[test]
    fn a_client_hello_sent_three_times_and_never_acknowledged_was_dropped_on_the_path() {
        let t = unanswered_hello(2);
        let ch = hello();
        let mut f = facts(&t, &ch);
        f.tcp.acked = [Some(1001), None];
        let (v, finding) = decide(&f);
        assert_eq!(
            (v.id, v.by),
            (VerdictId::DroppedOnPath, Some(Culprit::Middlebox))
        );
        let finding = finding.expect("the drop's finding");
        assert_eq!(finding.id, FindingId::ClientHelloDropped);
        assert_eq!(finding.frames, vec![4, 5, 6]);
        assert!(
            finding.evidence[0].contains("sent 3 times"),
            "{:?}",
            finding.evidence
        );
    }

    #[test]
    fn a_client_hello_sent_twice_or_acknowledged_is_not_dropped() {
        let ch = hello();
        let t = unanswered_hello(1);
        let mut f = facts(&t, &ch);
        f.tcp.acked = [Some(1001), None];
        assert_eq!(dropped_on_path(&f), None, "one retransmission says little");
        let t = unanswered_hello(4);
        let mut f = facts(&t, &ch);
        f.tcp.acked = [Some(1518), None];
        assert_eq!(
            dropped_on_path(&f),
            None,
            "the server acknowledged it: a silent server"
        );
        assert_eq!(id(&decide(&f)), VerdictId::NoServerResponse);
        f.tcp.acked = [Some(1001), None];
        f.server_payload_bytes = 50;
        assert_eq!(dropped_on_path(&f), None, "the server answered");
    }

    #[test]
    fn the_servers_fin_after_it_timed_out_is_no_refusal_when_the_hello_was_lost() {
        let mut t = unanswered_hello(3);
        let fin = ev(20, 1, 15_000, flags::FIN | flags::ACK);
        t.push(fin);
        let ch = hello();
        let fins = [fin];
        let mut f = facts(&t, &ch);
        f.tcp.fins = &fins;
        f.tcp.acked = [Some(1001), None];
        let (v, finding) = decide(&f);
        assert_eq!(v.id, VerdictId::DroppedOnPath);
        assert!(finding.is_some_and(|x| x.evidence.iter().any(|e| e.contains("handshake timeout"))));
    }

    #[test]
    fn the_servers_fin_that_answers_the_clients_is_no_cut() {
        let mut t = handshake();
        let client_fin = ev(5, 0, 1042, flags::FIN | flags::ACK);
        let server_fin = ev(6, 1, 1082, flags::FIN | flags::ACK);
        t.extend([client_fin, server_fin]);
        let ch = hello();
        let fins = [client_fin, server_fin];
        let mut f = facts(&t, &ch);
        f.tcp.fins = &fins;
        assert_eq!(cut(&f), None);
        let (v, _) = decide(&f);
        assert_eq!(v.id, VerdictId::NoServerResponse);
        assert!(
            v.summary
                .ends_with("the client gave up after 1 s (FIN in frame 5)"),
            "{}",
            v.summary
        );
        // The server's FIN first is a cut.
        let mut early = server_fin;
        early.frame = 5;
        let mut late = client_fin;
        late.frame = 6;
        let both = [early, late];
        f.tcp.fins = &both;
        assert_eq!(
            cut(&f).map(|d| d.0.id),
            Some(VerdictId::FinAfterClientHello)
        );
    }

    #[test]
    fn a_syn_refused_before_a_raw_client_sent_its_hello_is_connection_refused() {
        let mut t = vec![
            ev(1, 0, 0, flags::SYN),
            ev(2, 1, 40, flags::RST | flags::ACK),
        ];
        let mut ch_packet = ev(3, 0, 50, flags::ACK | flags::PSH);
        ch_packet.payload_len = 517;
        t.push(ch_packet);
        let ch = hello();
        let resets = [t[1]];
        let mut f = facts(&t, &ch);
        f.client_hello = Some((3, Timestamp(50_000_000), &ch));
        f.tcp.syn_ack = None;
        f.tcp.resets = &resets;
        assert_eq!(id(&decide(&f)), VerdictId::ConnectionRefused);
        // A RST after the hello is a cut, not a refusal.
        f.client_hello = Some((1, Timestamp(0), &ch));
        assert_eq!(refused_before_hello(&f), None);
    }

    #[test]
    fn a_syn_rejected_by_an_icmp_unreachable_is_connection_refused_and_names_the_router() {
        use crate::net::{IcmpKind, Unreachable};
        let t = [ev(1, 0, 0, flags::SYN)];
        let ch = hello();
        let icmp = [icmp_at(
            2,
            IcmpKind::Unreachable(Unreachable::Prohibited),
            1000,
        )];
        let mut f = facts(&t, &ch);
        f.client_hello = None;
        f.tcp.syn_ack = None;
        f.icmp = &icmp;
        let (v, _) = decide(&f);
        assert_eq!(v.id, VerdictId::ConnectionRefused);
        assert!(
            v.summary.contains("198.51.100.7") && v.summary.contains("a firewall rejected it"),
            "{}",
            v.summary
        );
        // A "too big" is path-MTU discovery, not a refusal.
        let icmp = [icmp_at(2, IcmpKind::TooBig { mtu: 1400 }, 1000)];
        f.icmp = &icmp;
        assert_eq!(id(&decide(&f)), VerdictId::NoServerResponse);
    }

    #[test]
    fn an_expired_hello_says_so_in_the_no_answer_verdict() {
        use crate::net::IcmpKind;
        let mut t = handshake();
        t[3].ip.ttl = 2;
        let ch = hello();
        let icmp = [icmp_at(5, IcmpKind::TimeExceeded, t[3].seq)];
        let mut f = facts(&t, &ch);
        f.icmp = &icmp;
        let (v, _) = decide(&f);
        assert_eq!(v.id, VerdictId::NoServerResponse);
        assert!(v.summary.ends_with("expired in transit 2 hop(s) out (ICMP time exceeded from 198.51.100.7; it was sent with TTL 2)"), "{}", v.summary);
    }

    #[test]
    fn a_client_that_refuses_a_512_bit_dh_group_is_judged_on_the_group_not_the_chain() {
        let t = handshake();
        let ch = hello();
        let sh = server_hello(0x0303);
        let a = alert_from(Side::Client, 8, 71);
        let cause = Finding::new(FindingId::SelfSigned, "server chain: self-signed");
        let mut f = facts(&t, &ch);
        f.server_hello = Some((6, &sh));
        f.fatal = Some(&a);
        f.chain_cause = Some(&cause);
        f.dh = Some((6, 512));
        let (v, _) = decide(&f);
        assert_eq!(v.id, VerdictId::WeakDh);
        assert!(
            v.summary.contains("512-bit") && v.summary.contains("insufficient_security"),
            "{}",
            v.summary
        );
        // A 2048-bit group is no cause: the chain is.
        f.dh = Some((6, 2048));
        assert_eq!(id(&decide(&f)), VerdictId::Rejected(FindingId::SelfSigned));
        // An alert before the ServerKeyExchange does not answer it.
        f.dh = Some((9, 512));
        assert_eq!(weak_dh_refused(&f), None);
    }

    #[test]
    fn a_client_that_closes_after_a_small_dh_group_refused_it() {
        let mut t = handshake();
        let fin = ev(9, 0, 90, flags::FIN | flags::ACK);
        t.push(fin);
        let ch = hello();
        let fins = [fin];
        let mut f = facts(&t, &ch);
        f.tcp.fins = &fins;
        f.server_payload_bytes = 2000;
        f.server_first_data = Some(6);
        f.dh = Some((6, 768));
        let (v, _) = decide(&f);
        assert_eq!(v.id, VerdictId::WeakDh);
        assert!(v.summary.contains("FIN in frame 9"), "{}", v.summary);
        f.tcp.fins = &[];
        assert_eq!(weak_dh_refused(&f), None, "the client did not end it");
    }

    #[test]
    fn a_hello_rejected_by_icmp_each_time_it_was_sent_was_rejected_on_the_path() {
        use crate::net::{IcmpKind, Unreachable};
        let t = unanswered_hello(2);
        let ch = hello();
        let icmp = [icmp_at(
            5,
            IcmpKind::Unreachable(Unreachable::Prohibited),
            1001,
        )];
        let mut f = facts(&t, &ch);
        f.tcp.acked = [Some(1001), None];
        f.icmp = &icmp;
        let (v, _) = decide(&f);
        assert_eq!(
            (v.id, v.by, v.confidence),
            (
                VerdictId::DroppedOnPath,
                Some(Culprit::Middlebox),
                Some(0.95)
            )
        );
        assert!(
            v.summary.starts_with(
                "the ClientHello was rejected on the path: it was rejected by 198.51.100.7"
            ),
            "{}",
            v.summary
        );
    }
}
