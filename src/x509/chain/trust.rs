//! trust: CA certificates in (Mozilla's roots from webpki-roots, PEM files, single DER
//! certificates); a [`TrustStore`] out, which hands rustls-webpki its anchors and lets the path
//! builder look anchors up by subject (DER bytes, else the printed name ignoring case) and by
//! subject and key together.
//!
//! Guarantees: an anchor is stored once however often it is added (same subject and key); a v1
//! certificate, which webpki refuses as an anchor, is still taken, from x509-parser's view; a
//! broken PEM block or a file without certificates is an error, never a panic.
//!
//! Deliberately not done: reading the operating system's store, distrust dates, CRLs, or the
//! trust settings a "TRUSTED CERTIFICATE" block carries (its certificate is taken as is).

use super::facts::ski;
use rustls_pki_types::{CertificateDer, TrustAnchor};
use std::collections::HashMap;
use std::path::Path;
use x509_parser::der_parser::asn1_rs::Any;
use x509_parser::pem::Pem;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

pub(super) struct Anchor {
    pub(super) ta: TrustAnchor<'static>,
    /// Full DER of the subject Name (webpki keeps only its contents).
    subject_der: Vec<u8>,
    /// Full DER of the SubjectPublicKeyInfo.
    pub(super) spki_der: Vec<u8>,
    pub(super) subject: String,
    /// Subject key identifier, when the anchor came from a certificate that has one.
    pub(super) key_id: Option<Vec<u8>>,
}

/// Trust anchors: Mozilla's (webpki-roots) and/or CAs from PEM files.
pub struct TrustStore {
    pub(super) anchors: Vec<Anchor>,
    by_subject: HashMap<Vec<u8>, Vec<usize>>,
    by_subject_text: HashMap<String, Vec<usize>>,
}

impl std::fmt::Debug for TrustStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustStore")
            .field("anchors", &self.anchors.len())
            .finish()
    }
}

impl TrustStore {
    /// No anchors (`--no-default-roots`).
    pub fn empty() -> Self {
        TrustStore {
            anchors: Vec::new(),
            by_subject: HashMap::new(),
            by_subject_text: HashMap::new(),
        }
    }

    /// Mozilla's root program, as shipped by webpki-roots.
    pub fn mozilla() -> Self {
        let mut s = Self::empty();
        for ta in webpki_roots::TLS_SERVER_ROOTS {
            s.push(ta.clone(), None);
        }
        s
    }

    /// Number of anchors.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }

    /// Adds every CERTIFICATE in a PEM file (`--ca-file`); returns how many.
    pub fn add_pem_file(&mut self, path: &Path) -> Result<usize, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        self.add_pem(&bytes)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Adds every CERTIFICATE block of a PEM buffer; an error if a block is broken or none is
    /// found.
    pub fn add_pem(&mut self, pem: &[u8]) -> Result<usize, String> {
        let mut n = 0;
        for (i, block) in Pem::iter_from_buffer(pem).enumerate() {
            let block = block.map_err(|e| format!("PEM block {}: {e}", i + 1))?;
            if block.label != "CERTIFICATE" && block.label != "TRUSTED CERTIFICATE" {
                continue;
            }
            self.add_der(&block.contents)
                .map_err(|e| format!("certificate {}: {e}", i + 1))?;
            n += 1;
        }
        if n == 0 {
            return Err("no CERTIFICATE block found".to_string());
        }
        Ok(n)
    }

    /// Adds one DER certificate as a trust anchor.
    pub fn add_der(&mut self, der: &[u8]) -> Result<(), String> {
        let (_, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
        let key_id = ski(&cert).map(<[u8]>::to_vec);
        let cd = CertificateDer::from(der);
        // webpki keeps the anchor's name constraints; it refuses v1 certificates, which some
        // private roots still are, so those are built from x509-parser's view instead.
        let ta = match webpki::anchor_from_trusted_cert(&cd) {
            Ok(ta) => ta.to_owned(),
            Err(_) => {
                let subject = der_contents(cert.subject().as_raw()).ok_or("bad subject")?;
                let spki = der_contents(cert.public_key().raw).ok_or("bad key")?;
                TrustAnchor {
                    subject: subject.to_vec().into(),
                    subject_public_key_info: spki.to_vec().into(),
                    name_constraints: None,
                }
            }
        };
        self.push(ta, key_id);
        Ok(())
    }

    fn push(&mut self, ta: TrustAnchor<'static>, key_id: Option<Vec<u8>>) {
        let subject_der = der_sequence(ta.subject.as_ref());
        let spki_der = der_sequence(ta.subject_public_key_info.as_ref());
        let subject = X509Name::from_der(&subject_der)
            .map(|(_, n)| n.to_string())
            .unwrap_or_default();
        if self
            .anchors
            .iter()
            .any(|a| a.subject_der == subject_der && a.spki_der == spki_der)
        {
            return;
        }
        let i = self.anchors.len();
        self.by_subject
            .entry(subject_der.clone())
            .or_default()
            .push(i);
        self.by_subject_text
            .entry(subject.to_lowercase())
            .or_default()
            .push(i);
        self.anchors.push(Anchor {
            ta,
            subject_der,
            spki_der,
            subject,
            key_id,
        });
    }

    /// Whether an anchor has this subject, as x509-parser prints names ("CN=…, O=…").
    pub fn contains_subject(&self, subject: &str) -> bool {
        self.by_subject_text.contains_key(&subject.to_lowercase())
    }

    /// Anchors whose subject is `name` (byte-equal DER, else equal text ignoring case).
    pub(super) fn named(&self, name: &X509Name<'_>) -> Vec<usize> {
        if let Some(v) = self.by_subject.get(name.as_raw()) {
            return v.clone();
        }
        self.by_subject_text
            .get(&name.to_string().to_lowercase())
            .cloned()
            .unwrap_or_default()
    }

    /// The anchor that *is* this certificate (same subject and key), if any.
    pub(super) fn same_as(&self, cert: &X509Certificate<'_>) -> Option<usize> {
        self.named(cert.subject()).into_iter().find(|&i| {
            self.anchors.get(i).map(|a| a.spki_der.as_slice()) == Some(cert.public_key().raw)
        })
    }
}

/// Contents of a DER TLV (drops tag and length).
pub(super) fn der_contents(der: &[u8]) -> Option<&[u8]> {
    Any::from_der(der).ok().map(|(_, a)| a.data)
}

/// Wraps contents in a DER SEQUENCE header.
pub(super) fn der_sequence(contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = Vec::with_capacity(len + 6);
    out.push(0x30);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(contents);
    out
}
