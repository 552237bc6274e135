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

    /// The first such error when it is a destination unreachable: the packet was refused.
    fn client_packet_refused(&self) -> Option<&IcmpEvent> {
        self.client_packet_rejected()
            .filter(|e| matches!(e.kind, crate::net::IcmpKind::Unreachable(_)))
    }

    /// Whether `frame` came after `after` while the handshake was still open (before both
    /// sides encrypted).
    fn open_after(&self, after: u64, frame: u64) -> bool {
        frame > after && self.handshake_over.is_none_or(|d| frame < d)
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
        let e = self.client_packet_refused().filter(|e| e.frame < before)?;
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
        // A chain the client rejected is the cause (QUIC's chain is seen with a key log).
        (Some(a), _, _) => chain_rejected(f)
            .unwrap_or_else(|| plain(VerdictId::Alert, alert_summary(a), [a.frame])),
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
    f.tcp
        .fins
        .iter()
        .filter(|e| e.side == f.tcp.client && f.open_after(ch_frame, e.frame))
        .min_by_key(|e| e.frame)
}

/// The packet that cut an open handshake: the first RST after the ClientHello while the
/// handshake was open, or a server FIN before the server said anything. Alerts and RSTs after
/// it are its echoes, and so is anything after the client's own FIN: the end that closed first
/// ended the handshake, the other only answered (RFC 9293 §3.6).
fn the_cut<'a>(f: &Facts<'a>, ch_frame: u64) -> Option<&'a TcpEvent> {
    let server = 1 - f.tcp.client;
    let open = |e: &&TcpEvent| f.open_after(ch_frame, e.frame);
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
    let open = |frame: u64| f.open_after(ske, frame);
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
            crate::text::secs(fin.ts.0.saturating_sub(ch_ts.0))
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
            let rejected = f.client_packet_refused();
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
            crate::text::secs(fin.ts.0.saturating_sub(ch_ts.0)),
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
mod tests;
