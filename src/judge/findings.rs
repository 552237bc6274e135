//! findings: the facts of one connection in; the findings that are not about its certificate
//! chains and not its verdict's own, out: what the handshake showed (bytes that are not TLS,
//! a deprecated version, resumption, TLS 1.3 hiding the chain, a plaintext upgrade) and what
//! the capture lacks.
//!
//! Each emitter is a small function over plain facts that returns its findings; the caller
//! keeps the README's order. Messages say what was seen and, where it helps, what to do.

use super::verdict::{NotTls, CHECK_CHAIN};
use crate::flow::reassembly::MAX_PENDING_BYTES;
use crate::flow::{EndReason, Fragmented, MAX_WAITING};
use crate::ids::{FindingId, Severity, Side};
use crate::net::fragments::MAX_HELD_BYTES;
use crate::proto::codepoints::version_name;
use crate::proto::starttls::Upgrade;
use crate::record::Finding;

/// A problem with the TLS bytes one side sent, in the order it was met.
#[derive(Debug, Clone, Copy)]
pub enum WireProblem<'a> {
    NotTls(NotTls<'a>),
    /// A record or message that does not parse: what was wrong.
    Malformed(Side, &'a str),
}

/// `not-tls` and `tls-malformed`, one per problem, each with its frame.
pub fn wire_problems(problems: &[(u64, WireProblem<'_>)]) -> Vec<Finding> {
    problems.iter().map(|&(frame, p)| match p {
        WireProblem::NotTls(n) => {
            let f = Finding::new(FindingId::NotTls, n.message()).frame(frame);
            match n.looks_like {
                Some(p) => f.advice(format!("the peer speaks {p} here, not TLS: check the port, or whether TLS is terminated elsewhere")),
                None => f,
            }
        }
        WireProblem::Malformed(side, what) => Finding::new(
            FindingId::TlsMalformed,
            format!("{side} sent a TLS record or message that does not parse: {what}"),
        )
        .frame(frame),
    }).collect()
}

/// A certificate that does not parse, by its digest and the parser's complaint.
pub fn certificate_unparsable(sha256: &str, error: &str) -> Finding {
    Finding::new(
        FindingId::CertificateUnparsable,
        format!("certificate {sha256} does not parse: {error}"),
    )
}

/// The server asked for a client certificate and got an empty Certificate message.
pub fn client_certificate_missing(frame: u64) -> Finding {
    Finding::new(
        FindingId::ClientCertificateMissing,
        "the server asked for a client certificate and the client sent none (empty Certificate)",
    )
    .frame(frame)
    .advice("configure the client with a certificate and key the server accepts, or make client certificates optional on the server")
    .side(Side::Client)
}

/// What the negotiated version says, for the ServerHello in `frame`.
#[derive(Debug, Clone, Copy)]
pub struct Negotiated {
    pub frame: u64,
    pub version: u16,
    /// An abbreviated handshake: the server sent no certificate to judge.
    pub resumed: bool,
    /// TLS 1.3 and no certificate seen: it was encrypted.
    pub certificate_hidden: bool,
}

/// `deprecated-version`, then `resumed` or `certificate-not-visible`.
pub fn negotiated(n: Negotiated) -> Vec<Finding> {
    let mut out = Vec::new();
    if n.version <= 0x0302 {
        out.push(
            Finding::new(
                FindingId::DeprecatedVersion,
                format!(
                    "{} was negotiated; it is deprecated (RFC 8996)",
                    version_name(n.version)
                ),
            )
            .frame(n.frame)
            .advice("enable TLS 1.2 and 1.3 on both ends and disable older versions"),
        );
    }
    if n.resumed {
        out.push(
            Finding::new(
                FindingId::Resumed,
                "an abbreviated (resumed) handshake: the server sent no certificate, so there is none to judge on this connection",
            )
            .frame(n.frame),
        );
    } else if n.certificate_hidden {
        out.push(
            Finding::new(
                FindingId::CertificateNotVisible,
                "TLS 1.3 encrypts the certificates: they cannot be judged from the capture",
            )
            .frame(n.frame)
            .advice("to check the chain, connect with `openssl s_client -showcerts` or capture with the session keys"),
        );
    }
    out
}

/// The finding of a plaintext upgrade before TLS: refused, agreed but not followed, or done.
pub fn starttls(up: &Upgrade) -> Finding {
    let frames = up.command_frame.into_iter().chain(up.accepted_frame);
    let p = up.protocol;
    if let Some(r) = &up.refused {
        Finding::new(
            FindingId::StarttlsRefused,
            format!("the client asked to upgrade {p} to TLS and the server refused: {r}"),
        )
        .frames(frames)
        .advice("enable TLS on the server (certificate and key configured for this service)")
    } else if up.accepted_without_tls() {
        Finding::new(
            FindingId::StarttlsNotFollowed,
            format!("the server agreed to upgrade {p} to TLS but no TLS handshake followed in the capture"),
        )
        .frames(frames)
        .advice("check the client's TLS library and the server's TLS setup: one side gave up right after the upgrade")
    } else {
        Finding::new(
            FindingId::Starttls,
            format!(
                "TLS started after a plaintext {p} phase (upgrade asked in frame {}, accepted in frame {})",
                up.command_frame.map_or("?".into(), |f| f.to_string()),
                up.accepted_frame.map_or("?".into(), |f| f.to_string())
            ),
        )
        .frames(frames)
    }
}

/// What one side's stream lacked or had to give up.
#[derive(Debug, Clone, Copy, Default)]
pub struct SideQuality {
    pub packets: u64,
    pub missing_bytes: u64,
    pub gaps: u64,
    /// Out-of-order data outgrew the reassembly cap.
    pub cap_hit: bool,
    pub overlap_conflicts: u64,
    pub first_conflict_frame: Option<u64>,
    /// Payload bytes the snap length cut off.
    pub snaplen_missing: u64,
}

/// What the capture of one connection lacked.
#[derive(Debug, Clone)]
pub struct Quality<'a> {
    pub udp: bool,
    /// A TCP connection whose SYN and SYN-ACK were not seen.
    pub no_tcp_handshake: bool,
    pub first_frame: u64,
    pub client: SideQuality,
    pub server: SideQuality,
    pub end: EndReason,
    /// Why the capture file ended early, if it did.
    pub truncated: Option<&'a str>,
    /// What IP reassembly said about the connection's fragmented datagrams.
    pub fragmented: Fragmented,
}

impl Quality<'_> {
    pub fn one_sided(&self) -> bool {
        self.client.packets == 0 || self.server.packets == 0
    }

    pub fn mid_stream(&self) -> bool {
        !self.udp && self.no_tcp_handshake
    }

    fn truncated_here(&self) -> Option<&str> {
        self.truncated
            .filter(|_| self.end == EndReason::EndOfCapture)
    }

    /// The capture lacks packets to tell how the handshake ended.
    pub fn lacking(&self) -> bool {
        self.one_sided()
            || self.mid_stream()
            || self.client.missing_bytes > 0
            || self.server.missing_bytes > 0
            || self.truncated_here().is_some()
            || self.fragmented.lost > 0
    }
}

/// The capture-quality findings, in the README's order.
pub fn capture_quality(q: &Quality<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    if q.one_sided() {
        let silent = if q.client.packets == 0 {
            Side::Client
        } else {
            Side::Server
        };
        out.push(Finding::new(
            FindingId::OneSided,
            format!("no packet from the {silent} was captured: either it never answered or the capture saw one direction only"),
        ));
    }
    if q.mid_stream() {
        out.push(
            Finding::new(
                FindingId::MidStream,
                "the capture starts in the middle of this connection (no SYN or SYN-ACK seen)",
            )
            .frame(q.first_frame),
        );
    }
    for (st, who) in [(&q.client, Side::Client), (&q.server, Side::Server)] {
        if st.missing_bytes > 0 {
            out.push(Finding::new(
                FindingId::BytesMissing,
                format!("{} bytes from the {who} were never captured ({} gaps); anything in them is unknown", st.missing_bytes, st.gaps),
            ));
        }
        if st.cap_hit {
            out.push(Finding::new(
                FindingId::ReassemblyCap,
                format!("out-of-order data from the {who} exceeded the reassembly cap ({} KiB); the oldest hole was given up", MAX_PENDING_BYTES / 1024),
            ));
        }
        if st.overlap_conflicts > 0 {
            out.push(
                Finding::new(
                    FindingId::OverlapConflict,
                    format!("the {who} retransmitted {} overlapping segment(s) with different bytes; the first copy was kept", st.overlap_conflicts),
                )
                .frames(st.first_conflict_frame),
            );
        }
        if st.snaplen_missing > 0 {
            out.push(Finding::new(
                FindingId::SnaplenCut,
                format!(
                    "the capture's snap length cut {} payload bytes from the {who}",
                    st.snaplen_missing
                ),
            ));
        }
    }
    let f = &q.fragmented;
    if f.conflicts > 0 {
        out.push(
            Finding::new(
                FindingId::FragmentOverlapConflict,
                format!("{} IP datagram(s) of this connection came in fragments that overlap with different bytes; the first copy was kept, but a receiver may have kept the other (Linux drops such a datagram whole)", f.conflicts),
            )
            .frames(f.first_conflict)
            .advice("overlapping fragments with different contents are an evasion technique or a broken path; compare with a capture taken at the receiver"),
        );
    }
    if let Some((frame, why)) = f.first_lost {
        out.push(
            Finding::new(
                FindingId::FragmentsIncomplete,
                format!(
                    "{} IP datagram(s) of this connection were never completed from their fragments (the first: {}); their bytes are missing",
                    f.lost,
                    why.as_str()
                ),
            )
            .frame(frame)
            .evidence(vec![format!("reassembly holds at most {} KiB of fragments at once and waits 30 s for a datagram's fragments", MAX_HELD_BYTES / 1024)])
            .advice("fragments lost on the path (a firewall dropping non-first fragments, a small MTU): check the path MTU, or capture nearer the sender"),
        );
    }
    match q.end {
        EndReason::Evicted | EndReason::Forced | EndReason::Shed => {
            let why = match q.end {
                EndReason::Evicted => "the flow table was full".to_string(),
                EndReason::Shed => "the open connections held more than the run's memory budget (--max-memory) and this was among the oldest".to_string(),
                _ => format!("more than {MAX_WAITING} later connections were waiting behind this one to be reported in order"),
            };
            out.push(Finding::new(
                FindingId::FlowEvicted,
                format!("{why}, so this connection was reported before it ended; later packets may appear as a separate connection"),
            ));
        }
        EndReason::EndOfCapture | EndReason::Timeout | EndReason::Reused => {}
    }
    if let Some(t) = q.truncated_here() {
        out.push(Finding::new(
            FindingId::TruncatedCapture,
            format!("the capture file is cut short ({t}); this connection may have gone on"),
        ));
    }
    out
}

/// `hello-retry-request`, for the HelloRetryRequest in `frame`.
pub fn hello_retry_request(frame: u64) -> Finding {
    Finding::new(
        FindingId::HelloRetryRequest,
        "the server asked the client to retry with another key share (HelloRetryRequest)",
    )
    .frame(frame)
}

/// DH groups under this many bits are refused by current clients (OpenSSL 3 at its default
/// security level, Chrome, Firefox; RFC 7919 §1 on the Logjam attack).
pub const MIN_DH_BITS: u32 = 1024;
/// DH groups under this many bits are weak (NIST SP 800-57: 112-bit security).
pub const GOOD_DH_BITS: u32 = 2048;

/// `weak-dh`, for a DHE ServerKeyExchange in `frame` whose prime has `bits` bits: high under
/// [`MIN_DH_BITS`], low under [`GOOD_DH_BITS`], none above.
pub fn weak_dh(frame: u64, bits: u32) -> Option<Finding> {
    let (severity, why) = if bits < MIN_DH_BITS {
        (
            Severity::High,
            "current clients refuse it and end the handshake",
        )
    } else if bits < GOOD_DH_BITS {
        (Severity::Low, "it is weak; some clients already refuse it")
    } else {
        return None;
    };
    Some(
        Finding::new(
            FindingId::WeakDh,
            format!("the server's ServerKeyExchange offers a {bits}-bit Diffie-Hellman group: {why}"),
        )
        .severity(severity)
        .frame(frame)
        .advice("configure a DH group of 2048 bits or more (RFC 7919 ffdhe2048), or prefer ECDHE suites"),
    )
}

/// `client-certificate-requested`, for the CertificateRequest in `frame`.
pub fn client_certificate_requested(frame: u64) -> Finding {
    Finding::new(
        FindingId::ClientCertificateRequested,
        "the server asked for a client certificate (CertificateRequest)",
    )
    .frame(frame)
}

/// TLS 1.3: the client's only encrypted record after the server's flight, in `frame`, was
/// alert-sized.
/// Keys were given for this connection but did not open its records.
pub fn keys_do_not_decrypt(frame: u64, side: Side, why: &str) -> Finding {
    Finding::new(
        FindingId::KeysDoNotDecrypt,
        format!(
            "the {} side's protected records were not decrypted: {why}",
            side.as_str()
        ),
    )
    .frame(frame)
    .side(side)
    .advice(
        "check that the key log belongs to this capture (the same client run; SSLKEYLOGFILE is \
         appended to, so an old file can hold other sessions' keys) and that it has every \
         secret of the connection",
    )
}

pub fn client_rejected_likely(frame: u64) -> Finding {
    Finding::new(
        FindingId::ClientRejectedLikely,
        "the client answered the server's encrypted flight with one alert-sized encrypted record and nothing else: it most likely rejected the server's certificate (TLS 1.3 hides which)",
    )
    .frame(frame)
    .advice(CHECK_CHAIN)
    .side(Side::Server)
}

/// Whether the client's only encrypted record under TLS 1.3 is alert-sized (2-byte alert +
/// content type + 16-byte tag = 19, more with padding; under the 53 bytes of the smallest
/// Finished, 32 + 4 + 1 + 16).
pub fn alert_sized(length: u16) -> bool {
    length < 53
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(fs: &[Finding]) -> Vec<FindingId> {
        fs.iter().map(|f| f.id).collect()
    }

    fn quality() -> Quality<'static> {
        let side = SideQuality {
            packets: 5,
            ..SideQuality::default()
        };
        Quality {
            udp: false,
            no_tcp_handshake: false,
            first_frame: 1,
            client: side,
            server: side,
            end: EndReason::Timeout,
            truncated: None,
            fragmented: Fragmented::default(),
        }
    }

    #[test]
    fn a_clean_capture_has_no_quality_findings_and_lacks_nothing() {
        let q = quality();
        assert!(capture_quality(&q).is_empty());
        assert!(!q.lacking());
    }

    #[test]
    fn a_silent_side_is_one_sided_and_lacking() {
        let mut q = quality();
        q.server.packets = 0;
        let f = capture_quality(&q);
        assert_eq!(ids(&f), [FindingId::OneSided]);
        assert!(f[0].message.starts_with("no packet from the server"));
        assert!(q.lacking());
    }

    #[test]
    fn mid_stream_is_for_tcp_only() {
        let mut q = quality();
        q.no_tcp_handshake = true;
        assert_eq!(ids(&capture_quality(&q)), [FindingId::MidStream]);
        q.udp = true;
        assert!(capture_quality(&q).is_empty());
    }

    #[test]
    fn each_sides_stream_troubles_are_named_with_the_side() {
        let mut q = quality();
        q.client.missing_bytes = 100;
        q.client.gaps = 2;
        q.server.cap_hit = true;
        q.server.overlap_conflicts = 1;
        q.server.first_conflict_frame = Some(9);
        q.server.snaplen_missing = 40;
        let f = capture_quality(&q);
        assert_eq!(
            ids(&f),
            [
                FindingId::BytesMissing,
                FindingId::ReassemblyCap,
                FindingId::OverlapConflict,
                FindingId::SnaplenCut
            ]
        );
        assert!(f[0].message.contains("from the client"));
        assert_eq!(f[2].frames, vec![9]);
        assert!(q.lacking(), "missing bytes");
    }

    #[test]
    fn a_cut_short_file_concerns_only_the_connections_open_at_its_end() {
        let mut q = quality();
        q.truncated = Some("12 bytes into a packet");
        assert!(capture_quality(&q).is_empty());
        assert!(!q.lacking());
        q.end = EndReason::EndOfCapture;
        assert_eq!(ids(&capture_quality(&q)), [FindingId::TruncatedCapture]);
        assert!(q.lacking());
    }

    #[test]
    fn flows_reported_early_say_why() {
        let mut q = quality();
        q.end = EndReason::Evicted;
        let f = capture_quality(&q);
        assert!(f[0].message.starts_with("the flow table was full"));
        q.end = EndReason::Forced;
        let f = capture_quality(&q);
        assert_eq!(f[0].id, FindingId::FlowEvicted);
        assert!(f[0].message.contains("waiting behind this one"));
    }

    #[test]
    fn old_versions_are_deprecated_and_tls12_is_not() {
        let n = Negotiated {
            frame: 5,
            version: 0x0301,
            resumed: false,
            certificate_hidden: false,
        };
        let f = negotiated(n);
        assert_eq!(ids(&f), [FindingId::DeprecatedVersion]);
        assert!(f[0].message.starts_with("TLS 1.0"));
        assert!(negotiated(Negotiated {
            version: 0x0303,
            ..n
        })
        .is_empty());
    }

    #[test]
    fn resumption_says_there_is_no_chain_and_hides_nothing() {
        let n = Negotiated {
            frame: 5,
            version: 0x0304,
            resumed: true,
            certificate_hidden: true,
        };
        assert_eq!(ids(&negotiated(n)), [FindingId::Resumed]);
        let hidden = Negotiated {
            resumed: false,
            ..n
        };
        assert_eq!(ids(&negotiated(hidden)), [FindingId::CertificateNotVisible]);
    }

    #[test]
    fn plaintext_that_looks_like_a_protocol_says_which_and_what_to_check() {
        let head = b"SSH-2.0-OpenSSH_9.6";
        let p = [(
            7,
            WireProblem::NotTls(NotTls {
                side: Side::Server,
                frame: 7,
                head,
                looks_like: Some("SSH"),
            }),
        )];
        let f = wire_problems(&p);
        assert_eq!(ids(&f), [FindingId::NotTls]);
        assert!(f[0]
            .message
            .starts_with("the server sent bytes that are not TLS: \"SSH-2.0"));
        assert!(f[0].message.ends_with("(it looks like SSH)"));
        assert!(f[0]
            .advice
            .as_deref()
            .is_some_and(|a| a.contains("speaks SSH")));
        assert_eq!(f[0].frames, vec![7]);
    }

    #[test]
    fn a_finished_is_never_alert_sized() {
        assert!(alert_sized(19));
        assert!(alert_sized(52));
        assert!(!alert_sized(53));
    }

    #[test]
    fn severities_come_from_the_ids() {
        assert_eq!(client_certificate_missing(3).severity, Severity::Medium);
        assert_eq!(client_rejected_likely(3).severity, Severity::High);
        assert_eq!(hello_retry_request(3).severity, Severity::Info);
    }

    #[test]
    fn dh_groups_under_1024_bits_are_high_under_2048_low_and_above_nothing() {
        assert_eq!(
            weak_dh(7, 512).map(|f| (f.id, f.severity, f.frames)),
            Some((FindingId::WeakDh, Severity::High, vec![7]))
        );
        assert_eq!(weak_dh(7, 1024).map(|f| f.severity), Some(Severity::Low));
        assert!(weak_dh(7, 2048).is_none());
        assert!(weak_dh(7, 512).is_some_and(|f| f.message.contains("512-bit")));
    }
}
