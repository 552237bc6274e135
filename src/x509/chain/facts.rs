//! facts: one parsed certificate in; what it says about itself out: key type and size,
//! signature algorithm, key identifiers, AIA URLs, must-staple, whether it is self-signed and
//! whether a given key verifies its signature (`Sig`), gathered for the report as
//! `CertDetails`.
//!
//! Guarantees: functions of the certificate alone, no panic on odd extensions (what does not
//! parse counts as absent); a signature ring cannot check because the issuer's RSA key is under
//! 2048 bits is `Unchecked`, not `Invalid`, so weak-key reports it rather than a forgery.
//!
//! Deliberately not done: judging (the findings are made in `checks` and `analyze`), or linking
//! a certificate to its issuer (that is `path`).

use super::CertDetails;
use x509_parser::der_parser::asn1_rs::{Any, Tag};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::objects::{oid2sn, oid_registry};
use x509_parser::prelude::{FromDer, X509Certificate, X509Error, X509Name};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

pub(super) fn ski<'a>(c: &X509Certificate<'a>) -> Option<&'a [u8]> {
    c.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0),
            _ => None,
        })
}

pub(super) fn aki<'a>(c: &X509Certificate<'a>) -> Option<&'a [u8]> {
    c.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => a.key_identifier.as_ref().map(|k| k.0),
            _ => None,
        })
}

const OID_CA_ISSUERS: &str = "1.3.6.1.5.5.7.48.2";
const OID_OCSP: &str = "1.3.6.1.5.5.7.48.1";
const OID_TLS_FEATURE: &str = "1.3.6.1.5.5.7.1.24";

/// (caIssuers URLs, OCSP URLs) from Authority Information Access (RFC 5280 §4.2.2.1).
pub(crate) fn aia(c: &X509Certificate<'_>) -> (Vec<String>, Vec<String>) {
    let mut issuers = Vec::new();
    let mut ocsp = Vec::new();
    for e in c.extensions() {
        if let ParsedExtension::AuthorityInfoAccess(a) = e.parsed_extension() {
            for d in a.iter() {
                if let GeneralName::URI(u) = d.access_location {
                    let m = d.access_method.to_id_string();
                    if m == OID_CA_ISSUERS {
                        issuers.push(u.to_string());
                    } else if m == OID_OCSP {
                        ocsp.push(u.to_string());
                    }
                }
            }
        }
    }
    (issuers, ocsp)
}

/// RFC 7633: Features ::= SEQUENCE OF INTEGER; status_request is 5.
pub(super) fn must_staple(c: &X509Certificate<'_>) -> bool {
    c.extensions()
        .iter()
        .filter(|e| e.oid.to_id_string() == OID_TLS_FEATURE)
        .any(|e| {
            let Ok((_, seq)) = Any::from_der(e.value) else {
                return false;
            };
            let mut rest = seq.data;
            while let Ok((r, item)) = Any::from_der(rest) {
                if item.tag() == Tag::Integer && item.data == [5] {
                    return true;
                }
                rest = r;
            }
            false
        })
}

/// Bit length of a big-endian unsigned integer (leading zero bytes ignored).
fn bit_len(bytes: &[u8]) -> u32 {
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    match bytes.get(skip..) {
        Some([first, rest @ ..]) => rest.len() as u32 * 8 + (8 - first.leading_zeros()),
        _ => 0,
    }
}

pub(crate) fn key_facts(spki: &SubjectPublicKeyInfo<'_>) -> (String, Option<u32>) {
    let oid = spki.algorithm.algorithm.to_id_string();
    match oid.as_str() {
        "1.3.101.112" => return ("Ed25519".into(), Some(256)),
        "1.3.101.113" => return ("Ed448".into(), Some(456)),
        _ => {}
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(k)) => ("RSA".into(), Some(bit_len(k.modulus))),
        Ok(PublicKey::EC(p)) => ("EC".into(), Some(p.key_size() as u32).filter(|&b| b > 0)),
        Ok(PublicKey::DSA(y)) => ("DSA".into(), Some(bit_len(y))),
        _ => (oid, None),
    }
}

pub(crate) fn sig_name(c: &X509Certificate<'_>) -> String {
    let oid = &c.signature_algorithm.algorithm;
    oid2sn(oid, oid_registry())
        .map(str::to_string)
        .unwrap_or_else(|_| oid.to_id_string())
}

/// MD2, MD5 and SHA-1 based signature algorithms.
pub(super) fn weak_signature(c: &X509Certificate<'_>) -> Option<&'static str> {
    match c.signature_algorithm.algorithm.to_id_string().as_str() {
        "1.2.840.113549.1.1.2" => Some("MD2"),
        "1.2.840.113549.1.1.4" => Some("MD5"),
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" | "1.2.840.10045.4.1" | "1.2.840.10040.4.3" => {
            Some("SHA-1")
        }
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Sig {
    /// The signature does not verify with the key.
    Invalid,
    /// ring cannot check this algorithm/key (e.g. P-521, RSA < 2048 issuer key).
    Unchecked,
    Valid,
}

pub(super) fn check_sig(child: &X509Certificate<'_>, key: &SubjectPublicKeyInfo<'_>) -> Sig {
    match child.verify_signature(Some(key)) {
        Ok(()) => Sig::Valid,
        Err(X509Error::SignatureUnsupportedAlgorithm) => Sig::Unchecked,
        Err(_) => match key_facts(key) {
            // ring refuses RSA keys under 2048 bits for SHA-2: weak-key says so, not a forgery.
            (t, Some(bits)) if t == "RSA" && bits < 2048 => Sig::Unchecked,
            _ => Sig::Invalid,
        },
    }
}

pub(super) fn names_equal(a: &X509Name<'_>, b: &X509Name<'_>) -> bool {
    a.as_raw() == b.as_raw() || a.to_string().eq_ignore_ascii_case(&b.to_string())
}

/// Key identifiers only rule a link out when both are present and differ.
pub(super) fn key_ids_compatible(child_aki: Option<&[u8]>, issuer_ski: Option<&[u8]>) -> bool {
    match (child_aki, issuer_ski) {
        (Some(a), Some(s)) => a == s,
        _ => true,
    }
}

pub(super) fn is_self_signed(c: &X509Certificate<'_>) -> bool {
    names_equal(c.subject(), c.issuer())
        && key_ids_compatible(aki(c), ski(c))
        && check_sig(c, c.public_key()) != Sig::Invalid
}

pub(super) fn details(c: &X509Certificate<'_>) -> CertDetails {
    let (key_type, key_bits) = key_facts(c.public_key());
    let (aia_ca_issuers, ocsp_urls) = aia(c);
    CertDetails {
        key_type,
        key_bits,
        signature_algorithm: sig_name(c),
        aia_ca_issuers,
        ocsp_urls,
        is_ca: c.is_ca(),
        self_signed: is_self_signed(c),
        must_staple: must_staple(c),
    }
}

pub(super) fn subject_of(c: &X509Certificate<'_>) -> String {
    c.subject().to_string()
}

pub(super) fn date(secs: i64) -> String {
    crate::text::rfc3339_secs(secs).unwrap_or_else(|| format!("@{secs}"))
}
