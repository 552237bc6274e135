//! x509: DER certificates in; the facts a diagnosis and the output need out.
//!
//! Each certificate keeps the SHA-256 of its DER whatever happens; the rest (subject, issuer,
//! serial, validity, SAN DNS names, key and signature) comes from x509-parser. A certificate
//! that does not parse is kept with its hash and the parse error, never dropped.
//!
//! This file describes each certificate as sent ([`CertInfo`]); [`chain`] builds the path from
//! the leaf to a trust anchor, checks it at a given moment, and says what is wrong with it;
//! [`printed`] gives a certificate's fields as OpenSSL prints them, on demand, for Zeek's
//! `x509.log`.

pub mod chain;
pub mod printed;

use serde::Serialize;
use sha2::{Digest, Sha256};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// One certificate as the peer sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    /// Serial number, lowercase hex with colons as openssl prints it.
    pub serial: Option<String>,
    /// RFC 3339 UTC.
    pub not_before: Option<String>,
    pub not_after: Option<String>,
    /// Unix seconds of the validity bounds, for diagnoses.
    #[serde(skip)]
    pub validity_secs: Option<(i64, i64)>,
    pub san_dns: Vec<String>,
    /// DER length in bytes.
    pub size: usize,
    /// The certificate as sent (for `certs --export`); not in JSON.
    #[serde(skip)]
    pub der: Vec<u8>,
    /// Key type ("RSA", "EC", …), key size, signature algorithm, AIA caIssuers and OCSP URLs:
    /// the certificate's own facts, worded as the chain checks word them.
    pub key_type: Option<String>,
    pub key_bits: Option<u32>,
    pub signature_algorithm: Option<String>,
    pub aia_ca_issuers: Vec<String>,
    pub ocsp_urls: Vec<String>,
    /// Why the certificate did not parse, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
}

/// The dNSName entries of a subjectAltName, in order.
pub fn dns_names(names: &[GeneralName<'_>]) -> Vec<String> {
    names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(d.to_string()),
            _ => None,
        })
        .collect()
}

/// Hex of a SHA-256 digest.
pub fn sha256_hex(der: &[u8]) -> String {
    crate::text::hex(&Sha256::digest(der))
}

impl CertInfo {
    pub fn from_der(der: &[u8]) -> CertInfo {
        let mut info = CertInfo {
            sha256: sha256_hex(der),
            subject: None,
            issuer: None,
            serial: None,
            not_before: None,
            not_after: None,
            validity_secs: None,
            san_dns: Vec::new(),
            size: der.len(),
            der: der.to_vec(),
            key_type: None,
            key_bits: None,
            signature_algorithm: None,
            aia_ca_issuers: Vec::new(),
            ocsp_urls: Vec::new(),
            parse_error: None,
        };
        match X509Certificate::from_der(der) {
            Ok((_, cert)) => {
                info.subject = Some(cert.subject().to_string());
                info.issuer = Some(cert.issuer().to_string());
                info.serial = Some(cert.raw_serial_as_string());
                let v = cert.validity();
                let (nb, na) = (v.not_before.timestamp(), v.not_after.timestamp());
                info.not_before = crate::text::rfc3339_secs(nb);
                info.not_after = crate::text::rfc3339_secs(na);
                info.validity_secs = Some((nb, na));
                let (key_type, key_bits) = chain::key_facts(cert.public_key());
                info.key_type = Some(key_type).filter(|k| !k.is_empty());
                info.key_bits = key_bits;
                info.signature_algorithm = Some(chain::sig_name(&cert)).filter(|a| !a.is_empty());
                (info.aia_ca_issuers, info.ocsp_urls) = chain::aia(&cert);
                match cert.subject_alternative_name() {
                    Ok(Some(san)) => info.san_dns = dns_names(&san.value.general_names),
                    Ok(None) => {}
                    Err(e) => info.parse_error = Some(format!("subjectAltName: {e}")),
                }
            }
            Err(e) => info.parse_error = Some(e.to_string()),
        }
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_keeps_its_hash_and_an_error() {
        let c = CertInfo::from_der(b"not a certificate");
        // sha256("not a certificate") from coreutils sha256sum
        assert_eq!(
            c.sha256,
            "47209c9b7af839de69e9a9cd625e9182c1ad63dae79ed88a2dd680fe34218620"
        );
        assert!(c.parse_error.is_some());
        assert!(c.subject.is_none());
    }

    #[test]
    fn a_certificate_describes_its_own_key_and_signature() {
        // `openssl x509 -inform der -text` on the same file: id-ecPublicKey, 256 bit,
        // ecdsa-with-SHA256, no Authority Information Access.
        let c = CertInfo::from_der(include_bytes!("../../tests/data/leaf.der"));
        assert_eq!(c.key_type.as_deref(), Some("EC"));
        assert_eq!(c.key_bits, Some(256));
        assert_eq!(c.signature_algorithm.as_deref(), Some("ecdsa-with-SHA256"));
        assert!(c.aia_ca_issuers.is_empty() && c.ocsp_urls.is_empty());
        let garbage = CertInfo::from_der(b"not a certificate");
        assert!(garbage.key_type.is_none() && garbage.signature_algorithm.is_none());
    }

    #[test]
    fn every_prefix_of_a_certificate_is_handled_without_panic() {
        let der = include_bytes!("../../tests/data/leaf.der");
        for cut in 0..der.len() {
            let c = CertInfo::from_der(&der[..cut]);
            assert_eq!(c.size, cut);
        }
        let full = CertInfo::from_der(der);
        assert!(full.parse_error.is_none(), "{:?}", full.parse_error);
        // Values from `openssl x509 -inform der -noout -fingerprint -sha256 -dates`.
        assert_eq!(
            full.sha256,
            "c561bc47817ccebeeb18b0e7478fd44570f383ee532fa75b1dc37333b5fc796c"
        );
        assert_eq!(full.not_before.as_deref(), Some("2026-11-23T19:40:03Z"));
        assert_eq!(full.not_after.as_deref(), Some("2036-11-20T19:40:03Z"));
        assert_eq!(full.san_dns, vec!["www.example.test", "example.test"]);
        assert_eq!(full.subject.as_deref(), Some("CN=www.example.test"));
    }
}
