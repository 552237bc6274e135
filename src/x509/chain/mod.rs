//! chain: the certificates a peer sent (DER, wire order), the SNI, a time and a trust store in;
//! what is wrong with that chain out, as findings with stable ids, evidence and a one-line fix.
//!
//! The path is built from what was sent: each certificate is linked to its issuer by name
//! (RFC 5280 §4.1.2.4), key identifiers (§4.2.1.1, §4.2.1.2) and signature (x509-parser with
//! ring), and anchored in a [`TrustStore`] (Mozilla's roots from webpki-roots, plus PEM files).
//! rustls-webpki gives the final verdict ([`ChainReport::trusted`]); our own path explains *why*
//! a chain is not trusted, which webpki folds into `UnknownIssuer`: issuer not sent
//! (`incomplete-chain`), the wrong intermediate sent, an unknown root, a self-signed leaf.
//!
//! Guarantees: no panic on any input (certificates that do not parse are findings); a chain
//! whose top sent certificate is issued by a trust anchor (name, key id, signature) is never
//! called incomplete, and when webpki accepts a chain no finding claims otherwise. Validity is
//! judged at [`ChainInput::at`] only; callers wanting `--now` call [`analyze`] again.
//!
//! Deliberately not done: fetching anything (AIA, OCSP, CRL), checking the OCSP response's
//! signature, name constraints and policies beyond what webpki checks, CT.
//!
//! Layout: this file holds the public types and [`analyze`], a short driver over helpers that
//! work out what the path means (its top, a missing issuer, extra certificates, a rejection
//! nothing else explains); `trust` is the store, `facts` what one certificate says about itself,
//! `path` the issuer links and webpki's verdict, `checks` the per-certificate findings, `ocsp`
//! the stapled response parser; the unit tests are in `tests.rs`.

mod checks;
mod facts;
mod ocsp;
mod path;
mod trust;

pub use checks::dns_name_matches;
pub use ocsp::{parse_ocsp_response, CertStatus, OcspStatus};
pub use trust::TrustStore;

use crate::ids::{FindingId, Severity};
pub use crate::proto::der::Der;
use checks::cert_checks;
pub(crate) use facts::{aia, key_facts, sig_name};
use facts::{details, is_self_signed, subject_of, Sig};
use path::{
    attach_sent_root, build_path, order_findings, pick_leaf, webpki_candidates, webpki_verdict,
    AnchorLink,
};
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};

/// Certificates looked at per chain; the rest are ignored with a finding. Real chains have
/// 2–5; the cap bounds the pairwise issuer search.
pub const MAX_CHAIN_CERTS: usize = 32;

/// One thing wrong with (or worth knowing about) a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainFinding {
    /// Stable kebab-case id.
    pub id: FindingId,
    pub level: Severity,
    /// What was seen, with the evidence (names, dates, sizes).
    pub message: String,
    /// One line: what to change.
    pub fix: String,
    /// Wire indexes of the certificates concerned.
    pub certs: Vec<usize>,
}

/// What one chain is made of and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub findings: Vec<ChainFinding>,
    /// Wire indexes from the leaf up to the last sent certificate of the path.
    pub path: Vec<usize>,
    /// Subject of the trust anchor the path ends in, when it ends in one.
    pub anchored_by: Option<String>,
    /// Issuer of the top of the path when neither sent nor in the store.
    pub missing_issuer: Option<String>,
    /// AIA caIssuers URLs of the certificate whose issuer is missing.
    pub aia_ca_issuers: Vec<String>,
    /// rustls-webpki accepted the chain at `at` for the role (server or client auth).
    pub trusted: bool,
    /// webpki's reason when it did not accept the chain.
    pub webpki_error: Option<String>,
    /// One per sent certificate (up to [`MAX_CHAIN_CERTS`]), wire order.
    pub per_cert: Vec<CertDetails>,
}

/// Key, signature and extension facts of one sent certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CertDetails {
    /// "RSA", "EC", "Ed25519", "Ed448", "DSA", or the key algorithm OID; empty if unparsable.
    pub key_type: String,
    pub key_bits: Option<u32>,
    /// Short name, e.g. "sha256WithRSAEncryption", "ecdsa-with-SHA256", or the OID.
    pub signature_algorithm: String,
    pub aia_ca_issuers: Vec<String>,
    pub ocsp_urls: Vec<String>,
    pub is_ca: bool,
    pub self_signed: bool,
    /// TLS Feature extension (RFC 7633) asks for status_request.
    pub must_staple: bool,
}

/// One chain to judge.
#[derive(Debug, Clone, Copy)]
pub struct ChainInput<'a> {
    /// DER certificates in wire order.
    pub certs: &'a [Der],
    /// The SNI the client asked for; checked against the leaf only when `server`.
    pub host: Option<&'a str>,
    /// Unix seconds at which validity is judged.
    pub at: i64,
    /// The chain is a server's (server auth, hostname, must-staple); else a client's.
    pub server: bool,
    /// The CertificateStatus (OCSP response DER) the server stapled, if any.
    pub stapled_ocsp: Option<&'a [u8]>,
}

// ---------------------------------------------------------------------------------------------
// Analysis

fn finding(
    id: FindingId,
    level: Severity,
    certs: Vec<usize>,
    message: String,
    fix: impl Into<String>,
) -> ChainFinding {
    ChainFinding {
        id,
        level,
        message,
        fix: fix.into(),
        certs,
    }
}

/// Judges one chain. Never panics; anything odd in the input is a finding.
pub fn analyze(input: &ChainInput<'_>, store: &TrustStore) -> ChainReport {
    let mut findings = Vec::new();
    let certs = capped(input.certs, &mut findings);
    let parsed = parse_all(certs);
    malformed_findings(certs, &parsed, &mut findings);
    let mut report = empty_report(&parsed);
    if certs.is_empty() {
        findings.push(no_certificate(input.server));
        report.findings = findings;
        return report;
    }

    // The leaf is the first certificate (RFC 8446 §4.4.2, RFC 5246 §7.4.2), unless the first is
    // a CA and a non-CA certificate was sent later: then the order is wrong.
    let leaf = pick_leaf(&parsed);
    let (mut path, top_issuer) = build_path(leaf, &parsed, store, &mut findings);
    attach_sent_root(&parsed, store, top_issuer, &mut path);
    let top = path.last().copied().unwrap_or(leaf);

    // webpki's verdict, the reference for `trusted`.
    let candidates = webpki_candidates(&parsed, leaf, &path);
    let verdict = webpki_verdict(certs, leaf, &candidates, input, store);
    // Clients take the first certificate as the leaf: a chain that only verifies from a later
    // one is not trusted in practice.
    report.trusted = verdict.is_ok() && leaf == 0;
    let anchored = adopt_verdict(verdict, top_issuer, store, &mut path, &mut report);
    let top = path.last().copied().unwrap_or(top);

    order_findings(leaf, &path, &mut findings);
    let mut explained = vec![false; certs.len()];
    mark_explained(&mut explained, &path);
    let top_cert = parsed.get(top).and_then(Option::as_ref);
    let top_self_signed = report.per_cert.get(top).is_some_and(|d| d.self_signed);

    // What the end of the path means.
    if anchored {
        findings.extend(anchored_top(top, top_cert, top_self_signed, path.len()));
    } else if let Some(AnchorLink(a, Sig::Invalid)) = top_issuer {
        findings.push(anchor_signature_invalid(store, a, top));
    } else if top_self_signed {
        findings.push(untrusted_self_signed(top, top_cert, path.len()));
    } else if let Some(c) = top_cert {
        report.missing_issuer = Some(c.issuer().to_string());
        report.aia_ca_issuers = aia(c).0;
        let stray = stray_intermediates(&parsed, &path);
        mark_explained(&mut explained, &stray);
        findings.push(missing_issuer(
            c,
            top,
            &stray,
            &parsed,
            store,
            &report.aia_ca_issuers,
        ));
    }

    extra_cert_findings(certs, &parsed, &explained, store, &mut findings);
    cert_checks(input, &parsed, &path, leaf, anchored, &mut findings);
    let rejected = unexplained_rejection(&findings, &report, leaf);
    findings.extend(rejected);
    report.path = path;
    report.findings = findings;
    report
}

/// Caps the chain at [`MAX_CHAIN_CERTS`], with a finding when certificates were left out.
fn capped<'a>(all: &'a [Der], findings: &mut Vec<ChainFinding>) -> &'a [Der] {
    let certs = all.get(..MAX_CHAIN_CERTS).unwrap_or(all);
    if all.len() > certs.len() {
        findings.push(finding(
            FindingId::TooManyCertificates,
            Severity::Low,
            vec![],
            format!(
                "{} certificates sent; only the first {MAX_CHAIN_CERTS} were examined",
                all.len()
            ),
            "send only the leaf and the intermediates leading to a trusted root",
        ));
    }
    certs
}

/// Parses each certificate; `None` for one that is not X.509.
fn parse_all(certs: &[Der]) -> Vec<Option<X509Certificate<'_>>> {
    certs
        .iter()
        .map(|d| X509Certificate::from_der(d).ok().map(|(_, c)| c))
        .collect()
}

/// Flags each sent certificate that does not parse as X.509.
fn malformed_findings(
    certs: &[Der],
    parsed: &[Option<X509Certificate<'_>>],
    findings: &mut Vec<ChainFinding>,
) {
    for (i, c) in parsed.iter().enumerate() {
        if c.is_none() {
            findings.push(finding(
                FindingId::MalformedCertificate,
                Severity::High,
                vec![i],
                format!(
                    "certificate #{i} ({} bytes) does not parse as X.509",
                    certs.get(i).map_or(0, |d| d.len())
                ),
                "re-export the certificate file; the server is sending damaged data",
            ));
        }
    }
}

/// A report with each certificate's facts and nothing judged yet.
fn empty_report(parsed: &[Option<X509Certificate<'_>>]) -> ChainReport {
    let per_cert = parsed
        .iter()
        .map(|c| c.as_ref().map(details).unwrap_or_default())
        .collect();
    ChainReport {
        findings: Vec::new(),
        path: Vec::new(),
        anchored_by: None,
        missing_issuer: None,
        aia_ca_issuers: Vec::new(),
        trusted: false,
        webpki_error: None,
        per_cert,
    }
}

/// Flags an empty Certificate message.
fn no_certificate(server: bool) -> ChainFinding {
    finding(
        FindingId::NoCertificate,
        Severity::High,
        vec![],
        "the Certificate message was empty".to_string(),
        if server {
            "configure a certificate on the server"
        } else {
            "configure a client certificate, or do not request one"
        },
    )
}

/// Takes webpki's verdict into the report and path; returns whether the path is anchored.
fn adopt_verdict(
    verdict: Result<(Vec<usize>, String), String>,
    top_issuer: Option<AnchorLink>,
    store: &TrustStore,
    path: &mut Vec<usize>,
    report: &mut ChainReport,
) -> bool {
    let mut anchored = matches!(top_issuer, Some(AnchorLink(_, s)) if s != Sig::Invalid);
    match verdict {
        Ok((vpath, anchor_subject)) => {
            // webpki found a path: it wins over our own when they differ, so nothing below
            // can call a trusted chain incomplete.
            if !anchored {
                *path = vpath;
                anchored = true;
            }
            report.anchored_by = Some(anchor_subject);
        }
        Err(e) => report.webpki_error = Some(e),
    }
    if report.anchored_by.is_none() {
        if let Some(AnchorLink(a, s)) = top_issuer {
            if s != Sig::Invalid {
                report.anchored_by = store.anchors.get(a).map(|a| a.subject.clone());
            }
        }
    }
    anchored
}

/// Marks the given wire indexes as accounted for (on the path, or named by a finding).
fn mark_explained(explained: &mut [bool], indexes: &[usize]) {
    for &i in indexes {
        if let Some(e) = explained.get_mut(i) {
            *e = true;
        }
    }
}

/// On an anchored path, flags a self-signed top: a needless root, or a trusted self-signed leaf.
fn anchored_top(
    top: usize,
    top_cert: Option<&X509Certificate<'_>>,
    top_self_signed: bool,
    path_len: usize,
) -> Option<ChainFinding> {
    if top_self_signed && path_len > 1 {
        Some(finding(
            FindingId::UnnecessaryRootSent,
            Severity::Info,
            vec![top],
            format!(
                "the root \"{}\" was sent; clients use their own copy, so it only adds bytes",
                top_cert.map(subject_of).unwrap_or_default()
            ),
            "leave the root out of the chain file",
        ))
    } else if top_self_signed && path_len == 1 {
        Some(finding(
            FindingId::SelfSigned,
            Severity::Info,
            vec![top],
            "the certificate is self-signed and trusted only because the store holds it"
                .to_string(),
            "fine for private use; use a CA-issued certificate for public clients",
        ))
    } else {
        None
    }
}

/// Flags a top certificate whose signature does not verify with the trust anchor that names it.
fn anchor_signature_invalid(store: &TrustStore, anchor: usize, top: usize) -> ChainFinding {
    let name = store
        .anchors
        .get(anchor)
        .map(|a| a.subject.clone())
        .unwrap_or_default();
    finding(
        FindingId::BadSignature,
        Severity::High,
        vec![top],
        format!("certificate #{top} names \"{name}\" as issuer, but its signature does not verify with that trust anchor's key"),
        "the certificate is forged or damaged; get it reissued by the CA",
    )
}

/// Flags an untrusted self-signed top: a self-signed leaf, or a complete chain to an unknown root.
fn untrusted_self_signed(
    top: usize,
    top_cert: Option<&X509Certificate<'_>>,
    path_len: usize,
) -> ChainFinding {
    let subject = top_cert.map(subject_of).unwrap_or_default();
    if path_len == 1 {
        finding(
            FindingId::SelfSigned,
            Severity::High,
            vec![top],
            format!("the leaf \"{subject}\" is self-signed and not in the trust store"),
            "use a certificate from a public CA, or add this one to the clients' trust store (--ca-file)",
        )
    } else {
        finding(
            FindingId::UnknownRoot,
            Severity::High,
            vec![top],
            format!("the chain is complete up to the root \"{subject}\", which is not in the trust store"),
            "use a CA whose root clients trust, or add this root to their trust store (--ca-file)",
        )
    }
}

/// CA certificates that were sent but do not continue the path.
fn stray_intermediates(parsed: &[Option<X509Certificate<'_>>], path: &[usize]) -> Vec<usize> {
    parsed
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            !path.contains(i) && c.as_ref().is_some_and(|c| c.is_ca() && !is_self_signed(c))
        })
        .map(|(i, _)| i)
        .collect()
}

/// Flags the top's missing issuer: wrong intermediate, unknown issuer or incomplete chain.
fn missing_issuer(
    c: &X509Certificate<'_>,
    top: usize,
    stray: &[usize],
    parsed: &[Option<X509Certificate<'_>>],
    store: &TrustStore,
    urls: &[String],
) -> ChainFinding {
    let issuer = c.issuer().to_string();
    let url_text = match urls.first() {
        Some(u) => format!(" (its caIssuers URL is {u})"),
        None => " (the certificate has no AIA caIssuers URL)".to_string(),
    };
    if !stray.is_empty() {
        let names: Vec<String> = stray
            .iter()
            .filter_map(|&i| parsed.get(i).and_then(Option::as_ref).map(subject_of))
            .collect();
        return finding(
            FindingId::WrongIntermediate,
            Severity::High,
            stray.to_vec(),
            format!(
                "certificate #{top} \"{}\" was issued by \"{issuer}\", but the server sent \"{}\" instead{url_text}",
                subject_of(c),
                names.join("\", \"")
            ),
            format!("replace the intermediate with \"{issuer}\" in the chain file"),
        );
    }
    let in_store_by_name = !store.named(c.issuer()).is_empty();
    if c.is_ca() && !in_store_by_name {
        // The top sent certificate is an intermediate: its issuer is usually a root, one
        // this store lacks (private, removed like Baltimore or DST Root CA X3, or newer
        // than webpki-roots). Calling that "incomplete" would blame the server wrongly.
        return finding(
            FindingId::UnknownIssuer,
            Severity::High,
            vec![top],
            format!(
                "certificate #{top} \"{}\" was issued by \"{issuer}\", which was not sent and is not in the trust store{url_text}: a root these clients do not trust, or a missing intermediate",
                subject_of(c)
            ),
            format!("if \"{issuer}\" is a root, clients must trust it (--ca-file) or the certificate must come from a trusted CA; if it is an intermediate, send it"),
        );
    }
    let hint = if in_store_by_name {
        " A trust anchor has that name but not the key that signed it."
    } else {
        ""
    };
    finding(
        FindingId::IncompleteChain,
        Severity::High,
        vec![top],
        format!(
            "the issuer \"{issuer}\" of certificate #{top} \"{}\" was not sent and is not a trusted root{url_text}.{hint} Browsers may fetch it; Android, Java, Python and curl will not",
            subject_of(c)
        ),
        format!("append the intermediate \"{issuer}\" after the certificate in the chain file (fullchain.pem)"),
    )
}

/// Flags certificates sent but unused: copies, cross-signed trusted roots, or off the path.
fn extra_cert_findings(
    certs: &[Der],
    parsed: &[Option<X509Certificate<'_>>],
    explained: &[bool],
    store: &TrustStore,
    findings: &mut Vec<ChainFinding>,
) {
    for (i, d) in certs.iter().enumerate() {
        if explained.get(i).copied().unwrap_or(true) {
            continue;
        }
        let Some(c) = parsed.get(i).and_then(Option::as_ref) else {
            continue;
        };
        let dup = certs.iter().take(i).position(|e| e == d);
        let (level, why) = if let Some(j) = dup {
            (Severity::Low, format!("it is a copy of certificate #{j}"))
        } else if store.same_as(c).is_some() {
            (
                Severity::Info,
                "it is another copy (e.g. cross-signed) of a trusted root; only old clients may need it"
                    .to_string(),
            )
        } else {
            (
                Severity::Low,
                "it is not part of the path from the leaf".to_string(),
            )
        };
        findings.push(finding(
            FindingId::ExtraCertificate,
            level,
            vec![i],
            format!("certificate #{i} \"{}\" was sent but {why}", subject_of(c)),
            "remove it from the chain file",
        ));
    }
}

/// Flags webpki's rejection when no high finding already says why (EKU, basic constraints…).
fn unexplained_rejection(
    findings: &[ChainFinding],
    report: &ChainReport,
    leaf: usize,
) -> Option<ChainFinding> {
    let explained_by = [
        FindingId::IncompleteChain,
        FindingId::UnknownIssuer,
        FindingId::WrongIntermediate,
        FindingId::UnknownRoot,
        FindingId::SelfSigned,
        FindingId::Expired,
        FindingId::NotYetValid,
        FindingId::WeakKey,
        FindingId::WeakSignature,
        FindingId::BadSignature,
        FindingId::MalformedCertificate,
        FindingId::ChainOutOfOrder,
    ];
    let explained = findings
        .iter()
        .any(|f| f.level == Severity::High && explained_by.contains(&f.id));
    if report.trusted || explained {
        return None;
    }
    let why = report.webpki_error.clone().unwrap_or_default();
    Some(finding(
        FindingId::ChainRejected,
        Severity::High,
        vec![leaf],
        format!("rustls-webpki rejects the chain: {why}"),
        "check the certificate's extensions (key usage, EKU, basic constraints) and the chain",
    ))
}

#[cfg(test)]
mod tests;
