//! checks: the parsed certificates, the path built from them and the chain's input (time,
//! host, role, stapled OCSP) in; the findings about single certificates out: expired or not
//! yet valid at `ChainInput::at`, weak key, weak (MD2, MD5, SHA-1) signature, and on a server's
//! leaf only, the hostname (RFC 6125 §6.4), a lifetime over the CA/Browser Forum limit,
//! must-staple without a staple, and what the stapled OCSP response says.
//!
//! Guarantees: only certificates on the path are judged, at the given time, never the wall
//! clock; an IP address SNI is not checked against DNS names; a self-signed certificate's own
//! signature algorithm is not held against it.
//!
//! Deliberately not done: IP address SANs, name constraints, checking the OCSP response's
//! signature or its responder, fetching anything.

use super::facts::{
    date, is_self_signed, key_facts, must_staple, sig_name, subject_of, weak_signature,
};
use super::ocsp::{parse_ocsp_for, trim_int, CertStatus};
use super::{finding, ChainFinding, ChainInput};
use crate::ids::{FindingId, Severity};
use x509_parser::prelude::X509Certificate;

// ---------------------------------------------------------------------------------------------
// Hostname (RFC 6125 §6.4, with the CA/Browser Forum's stricter wildcard rules)

/// Whether a certificate DNS name (possibly `*.`-wildcarded) covers `host`. A wildcard is only
/// the whole leftmost label, matches exactly one label, and needs two labels after it.
pub fn dns_name_matches(pattern: &str, host: &str) -> bool {
    let p = pattern.trim_end_matches('.').to_ascii_lowercase();
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    if p.is_empty() || h.is_empty() {
        return false;
    }
    if !p.contains('*') {
        return p == h;
    }
    let Some(rest) = p.strip_prefix("*.") else {
        return false;
    };
    if rest.contains('*') || !rest.contains('.') || rest.split('.').any(str::is_empty) {
        return false;
    }
    match h.split_once('.') {
        Some((first, h_rest)) => !first.is_empty() && h_rest == rest,
        None => false,
    }
}

/// The names the leaf is valid for: SAN dNSNames, or the subject CNs when there is no SAN
/// dNSName (RFC 6125 §6.4.4).
fn leaf_names(c: &X509Certificate<'_>) -> (Vec<String>, bool) {
    let san: Vec<String> = match c.subject_alternative_name() {
        Ok(Some(s)) => crate::x509::dns_names(&s.value.general_names),
        _ => Vec::new(),
    };
    if !san.is_empty() {
        return (san, true);
    }
    let cn = c
        .subject()
        .iter_common_name()
        .filter_map(|a| a.as_str().ok().map(str::to_string))
        .collect();
    (cn, false)
}

// ---------------------------------------------------------------------------------------------
// Per-certificate checks

/// Per-certificate checks on the path: validity at `at`, key and signature strength, and on a
/// server leaf the hostname, lifetime, must-staple and stapled OCSP.
pub(super) fn cert_checks(
    input: &ChainInput<'_>,
    parsed: &[Option<X509Certificate<'_>>],
    path: &[usize],
    leaf: usize,
    anchored: bool,
    findings: &mut Vec<ChainFinding>,
) {
    let at = input.at;
    for &i in path {
        let Some(c) = parsed.get(i).and_then(Option::as_ref) else {
            continue;
        };
        let what = if i == leaf {
            "the leaf".to_string()
        } else {
            format!("certificate #{i}")
        };
        findings.extend(validity_finding(c, i, &what, at));
        findings.extend(weak_key_finding(c, i, &what));
        findings.extend(weak_signature_finding(c, i, &what));
    }

    if !input.server {
        return;
    }
    let Some(c) = parsed.get(leaf).and_then(Option::as_ref) else {
        return;
    };
    findings.extend(hostname_finding(c, leaf, input.host));
    findings.extend(lifetime_finding(c, leaf, anchored));
    match input.stapled_ocsp {
        None => findings.extend(must_staple_finding(c, leaf)),
        Some(der) => ocsp_findings(der, c, leaf, at, findings),
    }
}

/// Flags a certificate expired or not yet valid at `at`.
fn validity_finding(
    c: &X509Certificate<'_>,
    i: usize,
    what: &str,
    at: i64,
) -> Option<ChainFinding> {
    let v = c.validity();
    let (nb, na) = (v.not_before.timestamp(), v.not_after.timestamp());
    if at > na {
        Some(finding(
            FindingId::Expired,
            Severity::High,
            vec![i],
            format!(
                "{what} \"{}\" expired {} (notAfter), {} days before {}",
                subject_of(c),
                date(na),
                (at - na) / 86_400,
                date(at)
            ),
            "renew the certificate and reload the server",
        ))
    } else if at < nb {
        Some(finding(
            FindingId::NotYetValid,
            Severity::High,
            vec![i],
            format!(
                "{what} \"{}\" is valid only from {} (notBefore); the time judged is {}",
                subject_of(c),
                date(nb),
                date(at)
            ),
            "check the clock of the client (and the issuing system)",
        ))
    } else {
        None
    }
}

/// Flags an RSA or DSA key under 2048 bits, or an EC key under 256 bits.
fn weak_key_finding(c: &X509Certificate<'_>, i: usize, what: &str) -> Option<ChainFinding> {
    let (kt, bits) = key_facts(c.public_key());
    let weak = match (kt.as_str(), bits) {
        ("RSA" | "DSA", Some(b)) if b < 2048 => Some(2048),
        ("EC", Some(b)) if b < 256 => Some(256),
        _ => None,
    };
    let (Some(min), Some(b)) = (weak, bits) else {
        return None;
    };
    Some(finding(
        FindingId::WeakKey,
        Severity::High,
        vec![i],
        format!(
            "{what} \"{}\" has a {b}-bit {kt} key; at least {min} bits are required",
            subject_of(c)
        ),
        "reissue with an RSA-2048+ or EC P-256+ key",
    ))
}

/// Flags an MD2, MD5 or SHA-1 signature on a certificate that is not self-signed.
fn weak_signature_finding(c: &X509Certificate<'_>, i: usize, what: &str) -> Option<ChainFinding> {
    let self_signed = is_self_signed(c);
    let (Some(h), false) = (weak_signature(c), self_signed) else {
        return None;
    };
    Some(finding(
        FindingId::WeakSignature,
        Severity::High,
        vec![i],
        format!(
            "{what} \"{}\" is signed with {} ({h}); clients reject {h} certificate signatures",
            subject_of(c),
            sig_name(c)
        ),
        "reissue the certificate with a SHA-256 signature",
    ))
}

/// Flags a server leaf whose names do not cover the SNI (DNS names only, not IP addresses).
fn hostname_finding(
    c: &X509Certificate<'_>,
    leaf: usize,
    host: Option<&str>,
) -> Option<ChainFinding> {
    let host = host.filter(|h| !h.is_empty())?;
    if host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let (names, from_san) = leaf_names(c);
    if names.iter().any(|n| dns_name_matches(n, host)) {
        return None;
    }
    let source = if from_san {
        "subjectAltName"
    } else {
        "subject CN (no SAN)"
    };
    Some(finding(
        FindingId::HostnameMismatch,
        Severity::High,
        vec![leaf],
        format!(
            "the client asked for \"{host}\" but the leaf's {source} covers only [{}]",
            names.join(", ")
        ),
        format!("serve a certificate whose subjectAltName includes {host}"),
    ))
}

/// Flags a server leaf valid for longer than the CA/Browser Forum allows at its issue date.
fn lifetime_finding(c: &X509Certificate<'_>, leaf: usize, anchored: bool) -> Option<ChainFinding> {
    let v = c.validity();
    let (nb, na) = (v.not_before.timestamp(), v.not_after.timestamp());
    let lifetime = na.saturating_sub(nb);
    // CA/Browser Forum Baseline Requirements §6.3.2: 398 days from 2020-09-01, 825 from
    // 2018-03-01. Apple enforces these for every TLS server certificate.
    const SEPT_2020: i64 = 1_598_918_400;
    const MARCH_2018: i64 = 1_519_862_400;
    let days = if nb >= SEPT_2020 {
        398
    } else if nb >= MARCH_2018 {
        825
    } else {
        return None;
    };
    if lifetime <= days * 86_400 {
        return None;
    }
    Some(finding(
        FindingId::ValidityTooLong,
        if anchored { Severity::Medium } else { Severity::Low },
        vec![leaf],
        format!(
            "the leaf is valid for {} days ({} to {}); certificates issued after {} may last at most {days} days",
            lifetime / 86_400,
            date(nb),
            date(na),
            if days == 398 { "2020-09-01" } else { "2018-03-01" }
        ),
        format!("reissue with a lifetime of {days} days or less"),
    ))
}

/// Flags a server leaf that asks for OCSP must-staple (RFC 7633) when nothing was stapled.
fn must_staple_finding(c: &X509Certificate<'_>, leaf: usize) -> Option<ChainFinding> {
    if !must_staple(c) {
        return None;
    }
    Some(finding(
        FindingId::MustStapleMissing,
        Severity::High,
        vec![leaf],
        "the leaf has the TLS Feature status_request (OCSP must-staple, RFC 7633) but no OCSP response was stapled; Firefox refuses the connection".to_string(),
        "enable OCSP stapling on the server (e.g. nginx ssl_stapling on) or reissue without must-staple",
    ))
}

/// Reports what the stapled OCSP response says about the leaf: its status, revocation, staleness.
fn ocsp_findings(
    der: &[u8],
    leaf_cert: &X509Certificate<'_>,
    leaf: usize,
    at: i64,
    findings: &mut Vec<ChainFinding>,
) {
    let serial = leaf_cert.raw_serial();
    let Some(st) = parse_ocsp_for(der, Some(serial)) else {
        findings.push(finding(
            FindingId::OcspStapled,
            Severity::Medium,
            vec![leaf],
            format!("an OCSP response of {} bytes was stapled but is not a successful basic OCSP response", der.len()),
            "check the server's OCSP stapling configuration and its responder",
        ));
        return;
    };
    let about_leaf = trim_int(&st.serial) == trim_int(serial);
    let status = match &st.status {
        CertStatus::Good => "good".to_string(),
        CertStatus::Revoked { time, .. } => format!("revoked at {}", date(*time)),
        CertStatus::Unknown => "unknown".to_string(),
    };
    let next = st.next_update.map_or("none".to_string(), date);
    findings.push(finding(
        FindingId::OcspStapled,
        if about_leaf {
            Severity::Info
        } else {
            Severity::Medium
        },
        vec![leaf],
        format!(
            "OCSP response stapled: {status}, thisUpdate {}, nextUpdate {next}{}",
            date(st.this_update),
            if about_leaf {
                ""
            } else {
                "; it is about another certificate (serial differs from the leaf's)"
            }
        ),
        if about_leaf {
            "nothing to do"
        } else {
            "the server staples a response for a different certificate; restart stapling"
        },
    ));
    if about_leaf {
        if let CertStatus::Revoked { time, reason } = st.status {
            findings.push(finding(
                FindingId::OcspRevoked,
                Severity::High,
                vec![leaf],
                format!(
                    "the stapled OCSP response says the leaf was revoked at {}{}",
                    date(time),
                    reason.map_or(String::new(), |r| format!(" (CRLReason {r})"))
                ),
                "replace the certificate (and its key, if it was compromised)",
            ));
        }
    }
    if let Some(n) = st.next_update.filter(|&n| at > n) {
        findings.push(finding(
            FindingId::OcspStale,
            Severity::Medium,
            vec![leaf],
            format!(
                "the stapled OCSP response expired at {} (nextUpdate), before {}",
                date(n),
                date(at)
            ),
            "the server is not refreshing its staple; check it can reach the OCSP responder",
        ));
    }
}
