//! ids: every closed list the JSON contract names, as enums: finding ids (with each one's usual
//! severity, its family and whether it can explain a rejected handshake), verdict ids, who cut
//! a handshake, which side, how bad, which transport.
//!
//! Each id has one stable kebab-case spelling, written by `as_str` and serde alike and read
//! back by `FromStr`; `ALL` lists every value, so the README and the schema test can be
//! checked against the code. Adding a finding is one line in the `finding_ids!` table and one emitter.
//! This module is a leaf: every stage may use it, and it uses none.

use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// How bad a finding is; `--fail-on` compares against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Info,
    Low,
    Medium,
    High,
}

impl Severity {
    pub const ALL: &'static [Severity] = &[
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// The README's groups of finding ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// What the hellos, alerts, records and plaintext upgrades say.
    Handshake,
    /// A certificate chain as sent (findings carry a `side`).
    Certificate,
    /// What the network between the ends did: packets lost on the path, ICMP errors.
    Path,
    /// What the capture lacks or had to give up.
    Capture,
}

/// Which end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Client,
    Server,
}

impl Side {
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }

    pub const fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

/// Who sent the packet that cut a handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Culprit {
    Middlebox,
    Server,
    Client,
    Unknown,
}

impl Culprit {
    pub const ALL: &'static [Culprit] = &[
        Culprit::Middlebox,
        Culprit::Server,
        Culprit::Client,
        Culprit::Unknown,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Culprit::Middlebox => "middlebox",
            Culprit::Server => "server",
            Culprit::Client => "client",
            Culprit::Unknown => "unknown",
        }
    }
}

impl From<Side> for Culprit {
    fn from(s: Side) -> Culprit {
        match s {
            Side::Client => Culprit::Client,
            Side::Server => Culprit::Server,
        }
    }
}

/// The transport a connection ran over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    /// QUIC, DTLS or other UDP.
    Udp,
}

impl Transport {
    pub const fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// Where the secrets that opened a connection's protected records came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeySource {
    /// A `--keylog` file.
    Keylog,
    /// A Decryption Secrets Block of the capture (pcapng).
    Pcapng,
}

impl KeySource {
    pub const fn as_str(self) -> &'static str {
        match self {
            KeySource::Keylog => "keylog",
            KeySource::Pcapng => "pcapng",
        }
    }
}

/// Defines [`FindingId`] from one table: variant, id, family, usual severity, and for the
/// findings that can explain a client's rejection of a chain, their rank (lower: more telling).
macro_rules! finding_ids {
    ($( $(#[$doc:meta])* $v:ident = $id:literal, $family:ident, $sev:ident $(, rejects $rank:literal)? ;)*) => {
        /// A finding's stable id.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum FindingId {
            $( $(#[$doc])* $v, )*
        }

        impl FindingId {
            /// Every finding id, in the README's order.
            pub const ALL: &'static [FindingId] = &[$(FindingId::$v),*];

            pub const fn as_str(self) -> &'static str {
                match self { $(FindingId::$v => $id,)* }
            }

            pub const fn family(self) -> Family {
                match self { $(FindingId::$v => Family::$family,)* }
            }

            /// The usual severity. A few findings raise or lower it with what they saw (a
            /// cut by a middlebox is high, by an end medium; a self-signed root sent is info,
            /// a self-signed leaf high); the finding then says so itself.
            pub const fn severity(self) -> Severity {
                match self { $(FindingId::$v => Severity::$sev,)* }
            }

            /// For a chain finding that can explain why a client rejected the chain, its rank
            /// among such causes (0 is the most telling); `None` for the rest.
            pub const fn rejection_rank(self) -> Option<u8> {
                match self { $(FindingId::$v => finding_ids!(@rank $($rank)?),)* }
            }
        }
    };
    (@rank $rank:literal) => { Some($rank) };
    (@rank) => { None };
}

finding_ids! {
    // Handshake.
    NotTls = "not-tls", Handshake, Medium;
    TlsMalformed = "tls-malformed", Handshake, Low;
    HelloRetryRequest = "hello-retry-request", Handshake, Info;
    Resumed = "resumed", Handshake, Info;
    DeprecatedVersion = "deprecated-version", Handshake, Medium;
    VersionMismatch = "version-mismatch", Handshake, High;
    NoSharedCipher = "no-shared-cipher", Handshake, High;
    ClientCertificateRequested = "client-certificate-requested", Handshake, Info;
    ClientCertificateMissing = "client-certificate-missing", Handshake, Medium;
    CertificateNotVisible = "certificate-not-visible", Handshake, Info;
    ClientRejectedLikely = "client-rejected-likely", Handshake, High;
    WeakDh = "weak-dh", Handshake, High;
    Starttls = "starttls", Handshake, Info;
    StarttlsRefused = "starttls-refused", Handshake, Medium;
    StarttlsNotFollowed = "starttls-not-followed", Handshake, Medium;
    RstAfterClientHello = "rst-after-client-hello", Handshake, Medium;
    FinAfterClientHello = "fin-after-client-hello", Handshake, Medium;
    KeysDoNotDecrypt = "keys-do-not-decrypt", Handshake, Medium;
    // The path.
    ClientHelloDropped = "client-hello-dropped", Path, High;
    PathMtuBlackHole = "path-mtu-black-hole", Path, High;
    IcmpTimeExceeded = "icmp-time-exceeded", Path, Medium;
    IcmpUnreachable = "icmp-unreachable", Path, Medium;
    IcmpTooBig = "icmp-too-big", Path, Low;
    // Certificates.
    IncompleteChain = "incomplete-chain", Certificate, High, rejects 0;
    WrongIntermediate = "wrong-intermediate", Certificate, High, rejects 1;
    ChainOutOfOrder = "chain-out-of-order", Certificate, High, rejects 10;
    UnnecessaryRootSent = "unnecessary-root-sent", Certificate, Info;
    ExtraCertificate = "extra-certificate", Certificate, Low;
    UnknownRoot = "unknown-root", Certificate, High, rejects 3;
    UnknownIssuer = "unknown-issuer", Certificate, High, rejects 2;
    SelfSigned = "self-signed", Certificate, High, rejects 4;
    Expired = "expired", Certificate, High, rejects 5;
    NotYetValid = "not-yet-valid", Certificate, High, rejects 6;
    HostnameMismatch = "hostname-mismatch", Certificate, High, rejects 7;
    WeakKey = "weak-key", Certificate, High, rejects 12;
    WeakSignature = "weak-signature", Certificate, High, rejects 11;
    ValidityTooLong = "validity-too-long", Certificate, Low;
    BadSignature = "bad-signature", Certificate, High, rejects 8;
    ChainRejected = "chain-rejected", Certificate, High, rejects 13;
    OcspStapled = "ocsp-stapled", Certificate, Medium;
    OcspRevoked = "ocsp-revoked", Certificate, High, rejects 9;
    OcspStale = "ocsp-stale", Certificate, Medium;
    MustStapleMissing = "must-staple-missing", Certificate, High;
    MalformedCertificate = "malformed-certificate", Certificate, High;
    NoCertificate = "no-certificate", Certificate, High;
    TooManyCertificates = "too-many-certificates", Certificate, Low;
    CertificateUnparsable = "certificate-unparsable", Certificate, Low;
    ChainSearchCapped = "chain-search-capped", Certificate, Low;
    // Capture quality.
    OneSided = "one-sided", Capture, Info;
    MidStream = "mid-stream", Capture, Info;
    BytesMissing = "bytes-missing", Capture, Low;
    ReassemblyCap = "reassembly-cap", Capture, Low;
    OverlapConflict = "overlap-conflict", Capture, Medium;
    FragmentOverlapConflict = "fragment-overlap-conflict", Capture, Medium;
    FragmentsIncomplete = "fragments-incomplete", Capture, Low;
    SnaplenCut = "snaplen-cut", Capture, Low;
    FlowEvicted = "flow-evicted", Capture, Low;
    TruncatedCapture = "truncated-capture", Capture, Low;
}

impl FindingId {
    /// Findings that mean the chain as sent is not what a client needs (`certs --export`
    /// says what a full chain lacks).
    pub const fn is_chain_gap(self) -> bool {
        matches!(
            self,
            FindingId::IncompleteChain
                | FindingId::WrongIntermediate
                | FindingId::UnknownIssuer
                | FindingId::ChainOutOfOrder
                | FindingId::UnknownRoot
                | FindingId::SelfSigned
        )
    }

    /// Validity findings: the only ones that change with the moment of judgement.
    pub const fn is_validity(self) -> bool {
        matches!(
            self,
            FindingId::Expired | FindingId::NotYetValid | FindingId::OcspStale
        )
    }
}

/// A verdict's id: what happened to the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VerdictId {
    Complete,
    Alert,
    RstAfterClientHello,
    FinAfterClientHello,
    NoServerResponse,
    ConnectionRefused,
    NoClientHello,
    NotTls,
    VersionMismatch,
    NoSharedCipher,
    ClientRejectedLikely,
    /// The ClientHello never reached the server: lost on the path.
    DroppedOnPath,
    /// The client refused the server's too small Diffie-Hellman group.
    WeakDh,
    /// The client rejected the chain, and this chain finding says why.
    Rejected(FindingId),
    Incomplete,
    Inconclusive,
}

impl VerdictId {
    /// Every verdict id but [`VerdictId::Rejected`], whose ids are the chain findings that
    /// have a [`FindingId::rejection_rank`].
    pub const FIXED: &'static [VerdictId] = &[
        VerdictId::Complete,
        VerdictId::Alert,
        VerdictId::RstAfterClientHello,
        VerdictId::FinAfterClientHello,
        VerdictId::NoServerResponse,
        VerdictId::ConnectionRefused,
        VerdictId::NoClientHello,
        VerdictId::NotTls,
        VerdictId::VersionMismatch,
        VerdictId::NoSharedCipher,
        VerdictId::ClientRejectedLikely,
        VerdictId::DroppedOnPath,
        VerdictId::WeakDh,
        VerdictId::Incomplete,
        VerdictId::Inconclusive,
    ];

    /// Every verdict id, the rejection causes included.
    pub fn all() -> impl Iterator<Item = VerdictId> {
        VerdictId::FIXED.iter().copied().chain(
            FindingId::ALL
                .iter()
                .filter(|f| f.rejection_rank().is_some())
                .map(|&f| VerdictId::Rejected(f)),
        )
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            VerdictId::Complete => "complete",
            VerdictId::Alert => "alert",
            VerdictId::RstAfterClientHello => "rst-after-client-hello",
            VerdictId::FinAfterClientHello => "fin-after-client-hello",
            VerdictId::NoServerResponse => "no-server-response",
            VerdictId::ConnectionRefused => "connection-refused",
            VerdictId::NoClientHello => "no-client-hello",
            VerdictId::NotTls => "not-tls",
            VerdictId::VersionMismatch => "version-mismatch",
            VerdictId::NoSharedCipher => "no-shared-cipher",
            VerdictId::ClientRejectedLikely => "client-rejected-likely",
            VerdictId::DroppedOnPath => "dropped-on-path",
            VerdictId::WeakDh => "weak-dh",
            VerdictId::Rejected(f) => f.as_str(),
            VerdictId::Incomplete => "incomplete",
            VerdictId::Inconclusive => "inconclusive",
        }
    }

    /// A handshake cut by a RST or FIN: the verdicts that name who cut it.
    pub const fn is_cut(self) -> bool {
        matches!(
            self,
            VerdictId::RstAfterClientHello | VerdictId::FinAfterClientHello
        )
    }
}

/// An id that is not in the list it was looked up in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownId(pub String);

impl fmt::Display for UnknownId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown id '{}'", self.0)
    }
}

impl std::error::Error for UnknownId {}

/// `Display`, `Serialize` (as the id string) and `FromStr` (by searching `$all`) for an id type.
macro_rules! id_text {
    ($t:ty, $all:expr) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $t {
            type Err = UnknownId;
            fn from_str(s: &str) -> Result<Self, UnknownId> {
                $all.find(|v| v.as_str() == s)
                    .ok_or_else(|| UnknownId(s.to_string()))
            }
        }
    };
}

id_text!(FindingId, FindingId::ALL.iter().copied());
id_text!(VerdictId, VerdictId::all());
id_text!(Severity, Severity::ALL.iter().copied());
id_text!(Culprit, Culprit::ALL.iter().copied());
id_text!(Side, [Side::Client, Side::Server].into_iter());
id_text!(Transport, [Transport::Tcp, Transport::Udp].into_iter());

impl Serialize for FindingId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Serialize for VerdictId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn kebab(s: &str) -> bool {
        !s.is_empty()
            && s.split('-').all(|w| {
                !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
    }

    #[test]
    fn every_finding_id_is_kebab_case_unique_and_read_back_as_itself() {
        let mut seen = HashSet::new();
        for &f in FindingId::ALL {
            assert!(kebab(f.as_str()), "{}", f.as_str());
            assert!(seen.insert(f.as_str()), "{} twice", f.as_str());
            assert_eq!(f.as_str().parse::<FindingId>(), Ok(f));
            assert_eq!(
                serde_json::to_string(&f).ok(),
                Some(format!("\"{}\"", f.as_str()))
            );
        }
    }

    #[test]
    fn every_verdict_id_is_unique_and_read_back_as_itself() {
        let mut seen = HashSet::new();
        for v in VerdictId::all() {
            assert!(kebab(v.as_str()), "{}", v.as_str());
            assert!(seen.insert(v.as_str()), "{} twice", v.as_str());
            assert_eq!(v.as_str().parse::<VerdictId>(), Ok(v));
        }
        assert!("tls-malformed".parse::<VerdictId>().is_err());
    }

    #[test]
    fn only_chain_findings_can_explain_a_rejection_and_each_rank_is_given_once() {
        let mut ranks = HashSet::new();
        for &f in FindingId::ALL {
            if let Some(r) = f.rejection_rank() {
                assert_eq!(f.family(), Family::Certificate, "{f}");
                assert!(ranks.insert(r), "rank {r} twice");
            }
        }
        // The ranks run 0..n without a hole, so "most telling first" is a total order.
        assert_eq!(
            ranks.len(),
            usize::from(*ranks.iter().max().unwrap_or(&0)) + 1
        );
    }

    #[test]
    fn severities_and_culprits_serialize_as_their_names() {
        for &s in Severity::ALL {
            assert_eq!(
                serde_json::to_string(&s).ok(),
                Some(format!("\"{}\"", s.as_str()))
            );
        }
        for &c in Culprit::ALL {
            assert_eq!(
                serde_json::to_string(&c).ok(),
                Some(format!("\"{}\"", c.as_str()))
            );
        }
    }

    /// The README's paragraph that starts with `label`, up to the next blank line.
    fn readme_paragraph(label: &str) -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).unwrap_or_default();
        let start = readme
            .find(label)
            .unwrap_or_else(|| panic!("README.md has no paragraph starting with {label:?}"));
        let rest = readme.get(start..).unwrap_or_default();
        let end = rest.find("\n\n").unwrap_or(rest.len());
        let paragraph = rest.get(..end).unwrap_or_default();
        // "Severities:" follows the finding ids without a blank line.
        let end = paragraph
            .find("Severities:")
            .filter(|&i| i > 0)
            .unwrap_or(paragraph.len());
        paragraph.get(..end).unwrap_or_default().to_string()
    }

    /// The words in backticks.
    fn quoted(text: &str) -> Vec<String> {
        text.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_readme_lists_every_finding_id_and_no_other() {
        // `side` is the key chain findings carry, not an id.
        let listed: HashSet<String> = quoted(&readme_paragraph("Finding ids:"))
            .into_iter()
            .filter(|w| w != "side")
            .collect();
        let known: HashSet<String> = FindingId::ALL.iter().map(|f| f.to_string()).collect();
        let mut missing: Vec<_> = known.difference(&listed).collect();
        let mut unknown: Vec<_> = listed.difference(&known).collect();
        missing.sort();
        unknown.sort();
        assert!(
            missing.is_empty() && unknown.is_empty(),
            "README.md's finding ids: missing {missing:?}, not in FindingId {unknown:?}"
        );
    }

    #[test]
    fn the_readme_lists_every_verdict_id_and_culprit() {
        let listed = quoted(&readme_paragraph("Verdict ids:"));
        for v in VerdictId::FIXED {
            assert!(
                listed.contains(&v.to_string()),
                "README.md lacks verdict {v}"
            );
        }
        for c in Culprit::ALL {
            assert!(
                listed.contains(&c.to_string()),
                "README.md lacks culprit {c}"
            );
        }
        // `by` and `confidence` are the keys a cut's verdict carries, not ids.
        for word in listed.iter().filter(|w| *w != "by" && *w != "confidence") {
            assert!(
                word.parse::<VerdictId>().is_ok() || word.parse::<Culprit>().is_ok(),
                "README.md names verdict {word:?}, which VerdictId does not have"
            );
        }
        let severities = quoted(&readme_paragraph("Severities:"));
        let known: Vec<String> = Severity::ALL.iter().map(|s| s.to_string()).collect();
        assert_eq!(severities, known, "README.md's severities");
    }
}
