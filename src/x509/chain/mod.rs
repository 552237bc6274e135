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

use crate::ids::{FindingId, Severity};
use rustls_pki_types::{
    alg_id, AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm,
    TrustAnchor, UnixTime,
};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use x509_parser::der_parser::asn1_rs::{Any, Class, Tag};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::objects::{oid2sn, oid_registry};
use x509_parser::pem::Pem;
use x509_parser::prelude::{FromDer, X509Certificate, X509Error, X509Name};
use x509_parser::public_key::PublicKey;
use x509_parser::time::ASN1Time;
use x509_parser::x509::SubjectPublicKeyInfo;

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
    pub certs: &'a [Vec<u8>],
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
// Trust store

struct Anchor {
    ta: TrustAnchor<'static>,
    /// Full DER of the subject Name (webpki keeps only its contents).
    subject_der: Vec<u8>,
    /// Full DER of the SubjectPublicKeyInfo.
    spki_der: Vec<u8>,
    subject: String,
    /// Subject key identifier, when the anchor came from a certificate that has one.
    key_id: Option<Vec<u8>>,
}

/// Trust anchors: Mozilla's (webpki-roots) and/or CAs from PEM files.
pub struct TrustStore {
    anchors: Vec<Anchor>,
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
    fn named(&self, name: &X509Name<'_>) -> Vec<usize> {
        if let Some(v) = self.by_subject.get(name.as_raw()) {
            return v.clone();
        }
        self.by_subject_text
            .get(&name.to_string().to_lowercase())
            .cloned()
            .unwrap_or_default()
    }

    /// The anchor that *is* this certificate (same subject and key), if any.
    fn same_as(&self, cert: &X509Certificate<'_>) -> Option<usize> {
        self.named(cert.subject()).into_iter().find(|&i| {
            self.anchors.get(i).map(|a| a.spki_der.as_slice()) == Some(cert.public_key().raw)
        })
    }
}

/// Contents of a DER TLV (drops tag and length).
fn der_contents(der: &[u8]) -> Option<&[u8]> {
    Any::from_der(der).ok().map(|(_, a)| a.data)
}

/// Wraps contents in a DER SEQUENCE header.
fn der_sequence(contents: &[u8]) -> Vec<u8> {
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

// ---------------------------------------------------------------------------------------------
// Signature algorithms for rustls-webpki, backed by ring directly: the crate is built without
// its `ring` feature here, so its own algorithm table is empty.

#[derive(Debug)]
struct RingAlg {
    key: AlgorithmIdentifier,
    sig: AlgorithmIdentifier,
    ring: &'static dyn ring::signature::VerificationAlgorithm,
}

impl SignatureVerificationAlgorithm for RingAlg {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        ring::signature::UnparsedPublicKey::new(self.ring, public_key)
            .verify(message, signature)
            .map_err(|_| InvalidSignature)
    }
    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.key
    }
    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.sig
    }
}

macro_rules! ring_alg {
    ($name:ident, $key:ident, $sig:ident, $ring:ident) => {
        static $name: RingAlg = RingAlg {
            key: alg_id::$key,
            sig: alg_id::$sig,
            ring: &ring::signature::$ring,
        };
    };
}
ring_alg!(
    P256_SHA256,
    ECDSA_P256,
    ECDSA_SHA256,
    ECDSA_P256_SHA256_ASN1
);
ring_alg!(
    P256_SHA384,
    ECDSA_P256,
    ECDSA_SHA384,
    ECDSA_P256_SHA384_ASN1
);
ring_alg!(
    P384_SHA256,
    ECDSA_P384,
    ECDSA_SHA256,
    ECDSA_P384_SHA256_ASN1
);
ring_alg!(
    P384_SHA384,
    ECDSA_P384,
    ECDSA_SHA384,
    ECDSA_P384_SHA384_ASN1
);
ring_alg!(ED25519, ED25519, ED25519, ED25519);
ring_alg!(
    RSA_SHA256,
    RSA_ENCRYPTION,
    RSA_PKCS1_SHA256,
    RSA_PKCS1_2048_8192_SHA256
);
ring_alg!(
    RSA_SHA384,
    RSA_ENCRYPTION,
    RSA_PKCS1_SHA384,
    RSA_PKCS1_2048_8192_SHA384
);
ring_alg!(
    RSA_SHA512,
    RSA_ENCRYPTION,
    RSA_PKCS1_SHA512,
    RSA_PKCS1_2048_8192_SHA512
);
ring_alg!(
    PSS_SHA256,
    RSA_ENCRYPTION,
    RSA_PSS_SHA256,
    RSA_PSS_2048_8192_SHA256
);
ring_alg!(
    PSS_SHA384,
    RSA_ENCRYPTION,
    RSA_PSS_SHA384,
    RSA_PSS_2048_8192_SHA384
);
ring_alg!(
    PSS_SHA512,
    RSA_ENCRYPTION,
    RSA_PSS_SHA512,
    RSA_PSS_2048_8192_SHA512
);

static ALGS: &[&dyn SignatureVerificationAlgorithm] = &[
    &P256_SHA256,
    &P256_SHA384,
    &P384_SHA256,
    &P384_SHA384,
    &ED25519,
    &RSA_SHA256,
    &RSA_SHA384,
    &RSA_SHA512,
    &PSS_SHA256,
    &PSS_SHA384,
    &PSS_SHA512,
];

// ---------------------------------------------------------------------------------------------
// Certificate facts

fn ski<'a>(c: &X509Certificate<'a>) -> Option<&'a [u8]> {
    c.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0),
            _ => None,
        })
}

fn aki<'a>(c: &X509Certificate<'a>) -> Option<&'a [u8]> {
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
fn aia(c: &X509Certificate<'_>) -> (Vec<String>, Vec<String>) {
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
fn must_staple(c: &X509Certificate<'_>) -> bool {
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

fn key_facts(spki: &SubjectPublicKeyInfo<'_>) -> (String, Option<u32>) {
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

fn sig_name(c: &X509Certificate<'_>) -> String {
    let oid = &c.signature_algorithm.algorithm;
    oid2sn(oid, oid_registry())
        .map(str::to_string)
        .unwrap_or_else(|_| oid.to_id_string())
}

/// MD2, MD5 and SHA-1 based signature algorithms.
fn weak_signature(c: &X509Certificate<'_>) -> Option<&'static str> {
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
enum Sig {
    /// The signature does not verify with the key.
    Invalid,
    /// ring cannot check this algorithm/key (e.g. P-521, RSA < 2048 issuer key).
    Unchecked,
    Valid,
}

fn check_sig(child: &X509Certificate<'_>, key: &SubjectPublicKeyInfo<'_>) -> Sig {
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

fn names_equal(a: &X509Name<'_>, b: &X509Name<'_>) -> bool {
    a.as_raw() == b.as_raw() || a.to_string().eq_ignore_ascii_case(&b.to_string())
}

/// Key identifiers only rule a link out when both are present and differ.
fn key_ids_compatible(child_aki: Option<&[u8]>, issuer_ski: Option<&[u8]>) -> bool {
    match (child_aki, issuer_ski) {
        (Some(a), Some(s)) => a == s,
        _ => true,
    }
}

fn is_self_signed(c: &X509Certificate<'_>) -> bool {
    names_equal(c.subject(), c.issuer())
        && key_ids_compatible(aki(c), ski(c))
        && check_sig(c, c.public_key()) != Sig::Invalid
}

fn details(c: &X509Certificate<'_>) -> CertDetails {
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

fn subject_of(c: &X509Certificate<'_>) -> String {
    c.subject().to_string()
}

fn date(secs: i64) -> String {
    crate::text::rfc3339_secs(secs).unwrap_or_else(|| format!("@{secs}"))
}

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
// OCSP (RFC 6960 §4.2.1)

/// The status a stapled OCSP response gives for one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "status")]
pub enum CertStatus {
    Good,
    Revoked {
        /// Unix seconds.
        time: i64,
        /// CRLReason code, when given.
        reason: Option<u8>,
    },
    Unknown,
}

/// One SingleResponse of a successful BasicOCSPResponse (times in unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OcspStatus {
    pub status: CertStatus,
    pub this_update: i64,
    pub next_update: Option<i64>,
    pub produced_at: i64,
    /// Serial number of the certificate the response is about (CertID), big-endian.
    pub serial: Vec<u8>,
}

const OID_OCSP_BASIC: &str = "1.3.6.1.5.5.7.48.1.1";

fn tlv(i: &[u8]) -> Option<(&[u8], Any<'_>)> {
    Any::from_der(i).ok()
}

fn time_in(bytes: &[u8]) -> Option<i64> {
    ASN1Time::from_der(bytes).ok().map(|(_, t)| t.timestamp())
}

/// Parses an OCSPResponse; `None` unless it is a successful basic response with at least one
/// SingleResponse. Takes the response for `serial` when given and present, else the first.
pub fn parse_ocsp_response(der: &[u8]) -> Option<OcspStatus> {
    parse_ocsp_for(der, None)
}

fn parse_ocsp_for(der: &[u8], serial: Option<&[u8]>) -> Option<OcspStatus> {
    // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] EXPLICIT .. }
    let (_, resp) = tlv(der)?;
    let (rest, status) = tlv(resp.data)?;
    if status.tag() != Tag::Enumerated || status.data != [0] {
        return None;
    }
    let (_, bytes_wrap) = tlv(rest)?;
    if bytes_wrap.class() != Class::ContextSpecific || bytes_wrap.tag() != Tag(0) {
        return None;
    }
    // ResponseBytes ::= SEQUENCE { responseType OID, response OCTET STRING }
    let (_, rb) = tlv(bytes_wrap.data)?;
    let (rest, rtype) = tlv(rb.data)?;
    let oid = rtype.as_oid().ok()?;
    if oid.to_id_string() != OID_OCSP_BASIC {
        return None;
    }
    let (_, octets) = tlv(rest)?;
    // BasicOCSPResponse ::= SEQUENCE { tbsResponseData ResponseData, .. }
    let (_, basic) = tlv(octets.data)?;
    let (_, rdata) = tlv(basic.data)?;
    // ResponseData ::= SEQUENCE { version [0] EXPLICIT DEFAULT v1, responderID, producedAt,
    //                             responses SEQUENCE OF SingleResponse, .. }
    let mut rest = rdata.data;
    let (r, mut item) = tlv(rest)?;
    rest = r;
    if item.class() == Class::ContextSpecific && item.tag() == Tag(0) {
        let (r, next) = tlv(rest)?;
        rest = r;
        item = next;
    }
    // `item` is the responderID ([1] byName or [2] byKey).
    if item.class() != Class::ContextSpecific {
        return None;
    }
    let produced_at = time_in(rest)?;
    let (r, _) = tlv(rest)?;
    let (_, responses) = tlv(r)?;
    let mut list = responses.data;
    let mut first = None;
    while let Some((r, single)) = tlv(list) {
        list = r;
        let Some(s) = parse_single(single.data, produced_at) else {
            continue;
        };
        match serial {
            Some(want) if trim_int(&s.serial) == trim_int(want) => return Some(s),
            _ => {
                if first.is_none() {
                    first = Some(s);
                }
            }
        }
    }
    first
}

/// Leading zero bytes of a DER INTEGER dropped.
fn trim_int(b: &[u8]) -> &[u8] {
    let skip = b.iter().take_while(|&&x| x == 0).count();
    b.get(skip..).unwrap_or_default()
}

/// SingleResponse ::= SEQUENCE { certID, certStatus, thisUpdate, nextUpdate [0] EXPLICIT OPT, .. }
fn parse_single(data: &[u8], produced_at: i64) -> Option<OcspStatus> {
    let (rest, cert_id) = tlv(data)?;
    // CertID ::= SEQUENCE { hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber }
    let mut f = cert_id.data;
    for _ in 0..3 {
        f = tlv(f)?.0;
    }
    let (_, serial) = tlv(f)?;
    if serial.tag() != Tag::Integer {
        return None;
    }
    let (rest2, st) = tlv(rest)?;
    if st.class() != Class::ContextSpecific {
        return None;
    }
    let status = match st.tag().0 {
        0 => CertStatus::Good,
        1 => {
            // RevokedInfo ::= SEQUENCE { revocationTime, revocationReason [0] EXPLICIT OPT }
            let time = time_in(st.data)?;
            let (after, _) = tlv(st.data)?;
            let reason = tlv(after)
                .and_then(|(_, r)| tlv(r.data))
                .and_then(|(_, e)| e.data.first().copied());
            CertStatus::Revoked { time, reason }
        }
        2 => CertStatus::Unknown,
        _ => return None,
    };
    let this_update = time_in(rest2)?;
    let (rest3, _) = tlv(rest2)?;
    let next_update = match tlv(rest3) {
        Some((_, n)) if n.class() == Class::ContextSpecific && n.tag() == Tag(0) => {
            Some(time_in(n.data)?)
        }
        _ => None,
    };
    Some(OcspStatus {
        status,
        this_update,
        next_update,
        produced_at,
        serial: serial.data.to_vec(),
    })
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

/// The trust anchor (index in the store) that issued the top of the path, with how its
/// signature checked.
#[derive(Debug, Clone, Copy)]
struct AnchorLink(usize, Sig);

/// Judges one chain. Never panics; anything odd in the input is a finding.
pub fn analyze(input: &ChainInput<'_>, store: &TrustStore) -> ChainReport {
    let mut findings = Vec::new();
    let all = input.certs;
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
    let parsed: Vec<Option<X509Certificate<'_>>> = certs
        .iter()
        .map(|d| X509Certificate::from_der(d).ok().map(|(_, c)| c))
        .collect();
    let per_cert: Vec<CertDetails> = parsed
        .iter()
        .map(|c| c.as_ref().map(details).unwrap_or_default())
        .collect();
    for (i, c) in parsed.iter().enumerate() {
        if c.is_none() {
            findings.push(finding(
                FindingId::MalformedCertificate,
                Severity::High,
                vec![i],
                format!(
                    "certificate #{i} ({} bytes) does not parse as X.509",
                    certs.get(i).map_or(0, Vec::len)
                ),
                "re-export the certificate file; the server is sending damaged data",
            ));
        }
    }
    let mut report = ChainReport {
        findings: Vec::new(),
        path: Vec::new(),
        anchored_by: None,
        missing_issuer: None,
        aia_ca_issuers: Vec::new(),
        trusted: false,
        webpki_error: None,
        per_cert,
    };
    if certs.is_empty() {
        findings.push(finding(
            FindingId::NoCertificate,
            Severity::High,
            vec![],
            "the Certificate message was empty".to_string(),
            if input.server {
                "configure a certificate on the server"
            } else {
                "configure a client certificate, or do not request one"
            },
        ));
        report.findings = findings;
        return report;
    }

    // The leaf is the first certificate (RFC 8446 §4.4.2, RFC 5246 §7.4.2), unless the first is
    // a CA and a non-CA certificate was sent later: then the order is wrong.
    let leaf = pick_leaf(&parsed);
    let (mut path, top_issuer) = build_path(leaf, &parsed, store, &mut findings);
    // A sent copy of the anchor's self-signed root belongs at the top of the path (and is then
    // `unnecessary-root-sent`); a cross-signed copy stays an extra certificate.
    if let Some(AnchorLink(a, s)) = top_issuer {
        let root = parsed.iter().enumerate().position(|(i, c)| {
            !path.contains(&i)
                && c.as_ref()
                    .is_some_and(|c| store.same_as(c) == Some(a) && is_self_signed(c))
        });
        if let (Some(i), true) = (root, s != Sig::Invalid) {
            path.push(i);
        }
    }
    let top = path.last().copied().unwrap_or(leaf);

    // webpki's verdict, the reference for `trusted`.
    let verdict = webpki_verdict(certs, leaf, input, store);
    // Clients take the first certificate as the leaf: a chain that only verifies from a later
    // one is not trusted in practice.
    report.trusted = verdict.is_ok() && leaf == 0;

    let mut anchored = matches!(top_issuer, Some(AnchorLink(_, s)) if s != Sig::Invalid);
    match &verdict {
        Ok((vpath, anchor_subject)) => {
            // webpki found a path: it wins over our own when they differ, so nothing below
            // can call a trusted chain incomplete.
            if !anchored {
                path = vpath.clone();
                anchored = true;
            }
            report.anchored_by = Some(anchor_subject.clone());
        }
        Err(e) => report.webpki_error = Some(e.clone()),
    }
    if report.anchored_by.is_none() {
        if let Some(AnchorLink(a, s)) = &top_issuer {
            if *s != Sig::Invalid {
                report.anchored_by = store.anchors.get(*a).map(|a| a.subject.clone());
            }
        }
    }
    let top = path.last().copied().unwrap_or(top);

    order_findings(leaf, &path, &mut findings);
    let mut explained = vec![false; certs.len()];
    for &i in &path {
        if let Some(e) = explained.get_mut(i) {
            *e = true;
        }
    }
    let top_cert = parsed.get(top).and_then(Option::as_ref);
    let top_self_signed = report.per_cert.get(top).is_some_and(|d| d.self_signed);

    if anchored {
        if top_self_signed && path.len() > 1 {
            findings.push(finding(
                FindingId::UnnecessaryRootSent,
                Severity::Info,
                vec![top],
                format!(
                    "the root \"{}\" was sent; clients use their own copy, so it only adds bytes",
                    top_cert.map(subject_of).unwrap_or_default()
                ),
                "leave the root out of the chain file",
            ));
        } else if top_self_signed && path.len() == 1 {
            findings.push(finding(
                FindingId::SelfSigned,
                Severity::Info,
                vec![top],
                "the certificate is self-signed and trusted only because the store holds it"
                    .to_string(),
                "fine for private use; use a CA-issued certificate for public clients",
            ));
        }
    } else if let Some(AnchorLink(a, Sig::Invalid)) = &top_issuer {
        let name = store
            .anchors
            .get(*a)
            .map(|a| a.subject.clone())
            .unwrap_or_default();
        findings.push(finding(
            FindingId::BadSignature,
            Severity::High,
            vec![top],
            format!("certificate #{top} names \"{name}\" as issuer, but its signature does not verify with that trust anchor's key"),
            "the certificate is forged or damaged; get it reissued by the CA",
        ));
    } else if top_self_signed {
        let subject = top_cert.map(subject_of).unwrap_or_default();
        if path.len() == 1 {
            findings.push(finding(
                FindingId::SelfSigned,
                Severity::High,
                vec![top],
                format!("the leaf \"{subject}\" is self-signed and not in the trust store"),
                "use a certificate from a public CA, or add this one to the clients' trust store (--ca-file)",
            ));
        } else {
            findings.push(finding(
                FindingId::UnknownRoot,
                Severity::High,
                vec![top],
                format!("the chain is complete up to the root \"{subject}\", which is not in the trust store"),
                "use a CA whose root clients trust, or add this root to their trust store (--ca-file)",
            ));
        }
    } else if let Some(c) = top_cert {
        let issuer = c.issuer().to_string();
        let (urls, _) = aia(c);
        report.missing_issuer = Some(issuer.clone());
        report.aia_ca_issuers = urls.clone();
        let url_text = match urls.first() {
            Some(u) => format!(" (its caIssuers URL is {u})"),
            None => " (the certificate has no AIA caIssuers URL)".to_string(),
        };
        // CA certificates that were sent but do not continue the path.
        let stray: Vec<usize> = parsed
            .iter()
            .enumerate()
            .filter(|(i, c)| {
                !path.contains(i) && c.as_ref().is_some_and(|c| c.is_ca() && !is_self_signed(c))
            })
            .map(|(i, _)| i)
            .collect();
        if !stray.is_empty() {
            let names: Vec<String> = stray
                .iter()
                .filter_map(|&i| parsed.get(i).and_then(Option::as_ref).map(subject_of))
                .collect();
            findings.push(finding(
                FindingId::WrongIntermediate,
                Severity::High,
                stray.clone(),
                format!(
                    "certificate #{top} \"{}\" was issued by \"{issuer}\", but the server sent \"{}\" instead{url_text}",
                    subject_of(c),
                    names.join("\", \"")
                ),
                format!("replace the intermediate with \"{issuer}\" in the chain file"),
            ));
            for i in stray {
                if let Some(e) = explained.get_mut(i) {
                    *e = true;
                }
            }
        } else {
            let in_store_by_name = !store.named(c.issuer()).is_empty();
            if c.is_ca() && !in_store_by_name {
                // The top sent certificate is an intermediate: its issuer is usually a root, one
                // this store lacks (private, removed like Baltimore or DST Root CA X3, or newer
                // than webpki-roots). Calling that "incomplete" would blame the server wrongly.
                findings.push(finding(
                    FindingId::UnknownIssuer,
                    Severity::High,
                    vec![top],
                    format!(
                        "certificate #{top} \"{}\" was issued by \"{issuer}\", which was not sent and is not in the trust store{url_text}: a root these clients do not trust, or a missing intermediate",
                        subject_of(c)
                    ),
                    format!("if \"{issuer}\" is a root, clients must trust it (--ca-file) or the certificate must come from a trusted CA; if it is an intermediate, send it"),
                ));
            } else {
                let hint = if in_store_by_name {
                    " A trust anchor has that name but not the key that signed it."
                } else {
                    ""
                };
                findings.push(finding(
                    FindingId::IncompleteChain,
                    Severity::High,
                    vec![top],
                    format!(
                        "the issuer \"{issuer}\" of certificate #{top} \"{}\" was not sent and is not a trusted root{url_text}.{hint} Browsers may fetch it; Android, Java, Python and curl will not",
                        subject_of(c)
                    ),
                    format!("append the intermediate \"{issuer}\" after the certificate in the chain file (fullchain.pem)"),
                ));
            }
        }
    }

    // Sent but unused.
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

    cert_checks(input, &parsed, &path, leaf, anchored, &mut findings);

    // webpki said no, and nothing above says why (EKU, basic constraints, name constraints…).
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
    if !report.trusted && !explained {
        let why = report.webpki_error.clone().unwrap_or_default();
        findings.push(finding(
            FindingId::ChainRejected,
            Severity::High,
            vec![leaf],
            format!("rustls-webpki rejects the chain: {why}"),
            "check the certificate's extensions (key usage, EKU, basic constraints) and the chain",
        ));
    }
    report.path = path;
    report.findings = findings;
    report
}

fn pick_leaf(parsed: &[Option<X509Certificate<'_>>]) -> usize {
    match parsed.first() {
        Some(Some(c)) if c.is_ca() => {
            // A non-CA certificate further on that is not anyone's issuer is the real leaf.
            parsed
                .iter()
                .enumerate()
                .skip(1)
                .find(|(_, c)| c.as_ref().is_some_and(|c| !c.is_ca()))
                .map_or(0, |(i, _)| i)
        }
        _ => 0,
    }
}

/// Follows issuers from the leaf through the sent certificates. Returns the path and where the
/// issuer of its last certificate was found (None: self-signed top, or issuer missing).
fn build_path(
    leaf: usize,
    parsed: &[Option<X509Certificate<'_>>],
    store: &TrustStore,
    findings: &mut Vec<ChainFinding>,
) -> (Vec<usize>, Option<AnchorLink>) {
    let mut path = vec![leaf];
    loop {
        let cur = path.last().copied().unwrap_or(leaf);
        let Some(c) = parsed.get(cur).and_then(Option::as_ref) else {
            return (path, None);
        };
        // The certificate is itself a trust anchor (root sent, or a store holding it).
        if let Some(a) = store.same_as(c) {
            return (path, Some(AnchorLink(a, Sig::Valid)));
        }
        if is_self_signed(c) {
            return (path, None);
        }
        let child_aki = aki(c);
        // Trust anchors first: a sent cross-signed copy of a trusted root is then not needed.
        let best_anchor = store
            .named(c.issuer())
            .into_iter()
            .filter_map(|a| {
                let anchor = store.anchors.get(a)?;
                if !key_ids_compatible(child_aki, anchor.key_id.as_deref()) {
                    return None;
                }
                let (_, spki) = SubjectPublicKeyInfo::from_der(&anchor.spki_der).ok()?;
                Some((check_sig(c, &spki), a))
            })
            .max();
        if let Some((s, a)) = best_anchor {
            if s != Sig::Invalid {
                return (path, Some(AnchorLink(a, s)));
            }
        }
        let best_sent = parsed
            .iter()
            .enumerate()
            .filter(|(i, _)| !path.contains(i))
            .filter_map(|(i, p)| {
                let p = p.as_ref()?;
                if !names_equal(c.issuer(), p.subject()) || !key_ids_compatible(child_aki, ski(p)) {
                    return None;
                }
                Some((check_sig(c, p.public_key()), std::cmp::Reverse(i)))
            })
            .max();
        match best_sent {
            Some((s, std::cmp::Reverse(i))) => {
                if s == Sig::Invalid {
                    findings.push(finding(
                        FindingId::BadSignature,
                        Severity::High,
                        vec![cur, i],
                        format!(
                            "certificate #{cur}'s signature does not verify with the key of certificate #{i} \"{}\", its issuer by name",
                            parsed.get(i).and_then(Option::as_ref).map(subject_of).unwrap_or_default()
                        ),
                        "the intermediate does not belong to this certificate (re-keyed CA?); send the one that signed it",
                    ));
                }
                path.push(i);
            }
            None => return (path, best_anchor.map(|(s, a)| AnchorLink(a, s))),
        }
    }
}

fn order_findings(leaf: usize, path: &[usize], findings: &mut Vec<ChainFinding>) {
    if leaf != 0 {
        findings.push(finding(
            FindingId::ChainOutOfOrder,
            Severity::High,
            vec![0, leaf],
            format!("the first certificate sent is a CA certificate; the leaf came as #{leaf}. Clients take the first certificate as the server's"),
            "put the server certificate first, then its issuer, then the next one up",
        ));
    } else if path.windows(2).any(|w| matches!(w, [a, b] if b < a)) {
        let order: Vec<String> = path.iter().map(usize::to_string).collect();
        findings.push(finding(
            FindingId::ChainOutOfOrder,
            Severity::Low,
            path.to_vec(),
            format!(
                "the certificates are not in issuing order (path by wire index: {}); TLS 1.2 requires it (RFC 5246 §7.4.2), TLS 1.3 clients tolerate it",
                order.join(" → ")
            ),
            "order the chain file leaf first, each certificate followed by its issuer",
        ));
    }
}

fn webpki_verdict(
    certs: &[Vec<u8>],
    leaf: usize,
    input: &ChainInput<'_>,
    store: &TrustStore,
) -> Result<(Vec<usize>, String), String> {
    let leaf_der = CertificateDer::from(certs.get(leaf).map(Vec::as_slice).unwrap_or_default());
    let ee = webpki::EndEntityCert::try_from(&leaf_der).map_err(|e| format!("{e:?}"))?;
    let inter: Vec<CertificateDer<'_>> = certs
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != leaf)
        .map(|(_, d)| CertificateDer::from(d.as_slice()))
        .collect();
    let anchors: Vec<TrustAnchor<'_>> = store.anchors.iter().map(|a| a.ta.clone()).collect();
    let time = UnixTime::since_unix_epoch(Duration::from_secs(input.at.max(0) as u64));
    let usage = if input.server {
        webpki::KeyUsage::server_auth()
    } else {
        webpki::KeyUsage::client_auth()
    };
    let verified = ee
        .verify_for_usage(ALGS, &anchors, &inter, time, usage, None, None)
        .map_err(|e| format!("{e:?}"))?;
    let mut path = vec![leaf];
    for c in verified.intermediate_certificates() {
        let der = c.der();
        if let Some(i) = certs.iter().position(|d| d.as_slice() == der.as_ref()) {
            path.push(i);
        }
    }
    let anchor = verified.anchor();
    let subject = X509Name::from_der(&der_sequence(anchor.subject.as_ref()))
        .map(|(_, n)| n.to_string())
        .unwrap_or_default();
    Ok((path, subject))
}

/// Per-certificate checks on the path: validity at `at`, key and signature strength, and on a
/// server leaf the hostname, lifetime, must-staple and stapled OCSP.
fn cert_checks(
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
        let v = c.validity();
        let (nb, na) = (v.not_before.timestamp(), v.not_after.timestamp());
        if at > na {
            findings.push(finding(
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
            ));
        } else if at < nb {
            findings.push(finding(
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
            ));
        }
        let (kt, bits) = key_facts(c.public_key());
        let weak = match (kt.as_str(), bits) {
            ("RSA" | "DSA", Some(b)) if b < 2048 => Some(2048),
            ("EC", Some(b)) if b < 256 => Some(256),
            _ => None,
        };
        if let (Some(min), Some(b)) = (weak, bits) {
            findings.push(finding(
                FindingId::WeakKey,
                Severity::High,
                vec![i],
                format!(
                    "{what} \"{}\" has a {b}-bit {kt} key; at least {min} bits are required",
                    subject_of(c)
                ),
                "reissue with an RSA-2048+ or EC P-256+ key",
            ));
        }
        let self_signed = is_self_signed(c);
        if let (Some(h), false) = (weak_signature(c), self_signed) {
            findings.push(finding(
                FindingId::WeakSignature,
                Severity::High,
                vec![i],
                format!(
                    "{what} \"{}\" is signed with {} ({h}); clients reject {h} certificate signatures",
                    subject_of(c),
                    sig_name(c)
                ),
                "reissue the certificate with a SHA-256 signature",
            ));
        }
    }

    if !input.server {
        return;
    }
    let Some(c) = parsed.get(leaf).and_then(Option::as_ref) else {
        return;
    };
    if let Some(host) = input.host.filter(|h| !h.is_empty()) {
        if host.parse::<std::net::IpAddr>().is_err() {
            let (names, from_san) = leaf_names(c);
            if !names.iter().any(|n| dns_name_matches(n, host)) {
                let source = if from_san {
                    "subjectAltName"
                } else {
                    "subject CN (no SAN)"
                };
                findings.push(finding(
                    FindingId::HostnameMismatch,
                    Severity::High,
                    vec![leaf],
                    format!(
                        "the client asked for \"{host}\" but the leaf's {source} covers only [{}]",
                        names.join(", ")
                    ),
                    format!("serve a certificate whose subjectAltName includes {host}"),
                ));
            }
        }
    }

    let v = c.validity();
    let (nb, na) = (v.not_before.timestamp(), v.not_after.timestamp());
    let lifetime = na.saturating_sub(nb);
    // CA/Browser Forum Baseline Requirements §6.3.2: 398 days from 2020-09-01, 825 from
    // 2018-03-01. Apple enforces these for every TLS server certificate.
    const SEPT_2020: i64 = 1_598_918_400;
    const MARCH_2018: i64 = 1_519_862_400;
    let limit = if nb >= SEPT_2020 {
        Some(398)
    } else if nb >= MARCH_2018 {
        Some(825)
    } else {
        None
    };
    if let Some(days) = limit {
        if lifetime > days * 86_400 {
            findings.push(finding(
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
            ));
        }
    }

    let staple_wanted = must_staple(c);
    match input.stapled_ocsp {
        None if staple_wanted => findings.push(finding(
            FindingId::MustStapleMissing,
            Severity::High,
            vec![leaf],
            "the leaf has the TLS Feature status_request (OCSP must-staple, RFC 7633) but no OCSP response was stapled; Firefox refuses the connection".to_string(),
            "enable OCSP stapling on the server (e.g. nginx ssl_stapling on) or reissue without must-staple",
        )),
        None => {}
        Some(der) => ocsp_findings(der, c, leaf, at, findings),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! cert {
        ($name:literal) => {
            include_bytes!(concat!("../../../tests/data/chain/", $name, ".der")).to_vec()
        };
    }

    /// 2025-06-01T00:00:00Z: inside the 2025 test leaves' validity.
    const AT: i64 = 1_748_736_000;

    fn test_store() -> TrustStore {
        let mut s = TrustStore::empty();
        s.add_der(&cert!("root")).unwrap();
        s
    }

    fn run(certs: &[Vec<u8>], host: &str, at: i64, store: &TrustStore) -> ChainReport {
        analyze(
            &ChainInput {
                certs,
                host: Some(host),
                at,
                server: true,
                stapled_ocsp: None,
            },
            store,
        )
    }

    fn ids(r: &ChainReport) -> Vec<FindingId> {
        r.findings.iter().map(|f| f.id).collect()
    }

    fn get(r: &ChainReport, id: FindingId) -> &ChainFinding {
        r.findings
            .iter()
            .find(|f| f.id == id)
            .unwrap_or_else(|| panic!("no {id} in {:#?}", r.findings))
    }

    #[test]
    fn full_chain_with_root_in_store_has_no_finding_and_is_trusted() {
        let r = run(
            &[cert!("leaf"), cert!("inter")],
            "www.example.test",
            AT,
            &test_store(),
        );
        assert!(r.findings.is_empty(), "{:#?}", r.findings);
        assert!(r.trusted, "{:?}", r.webpki_error);
        assert_eq!(r.path, vec![0, 1]);
        assert_eq!(
            r.anchored_by.as_deref(),
            Some("CN=Test Root CA, O=tlsmortem tests")
        );
        assert_eq!(r.missing_issuer, None);
    }

    #[test]
    fn leaf_only_is_incomplete_chain_naming_the_intermediate_and_its_aia_url() {
        let r = run(&[cert!("leaf")], "www.example.test", AT, &test_store());
        assert_eq!(ids(&r), vec![FindingId::IncompleteChain]);
        let f = get(&r, FindingId::IncompleteChain);
        assert_eq!(f.level, Severity::High);
        assert!(
            f.message
                .contains("CN=Test Intermediate CA, O=tlsmortem tests"),
            "{}",
            f.message
        );
        assert!(
            f.message.contains("http://ca.example.test/inter.der"),
            "{}",
            f.message
        );
        assert_eq!(
            r.missing_issuer.as_deref(),
            Some("CN=Test Intermediate CA, O=tlsmortem tests")
        );
        assert_eq!(r.aia_ca_issuers, vec!["http://ca.example.test/inter.der"]);
        assert!(!r.trusted);
    }

    #[test]
    fn unrelated_intermediate_is_wrong_intermediate_not_extra() {
        let r = run(
            &[cert!("leaf"), cert!("other-inter")],
            "www.example.test",
            AT,
            &test_store(),
        );
        assert_eq!(ids(&r), vec![FindingId::WrongIntermediate]);
        let f = get(&r, FindingId::WrongIntermediate);
        assert_eq!(f.certs, vec![1]);
        assert!(
            f.message.contains("Test Other Intermediate"),
            "{}",
            f.message
        );
        assert!(f.message.contains("Test Intermediate CA"), "{}", f.message);
        assert!(!r.trusted);
    }

    #[test]
    fn intermediate_sent_before_the_leaf_is_chain_out_of_order() {
        let r = run(
            &[cert!("inter"), cert!("leaf")],
            "www.example.test",
            AT,
            &test_store(),
        );
        assert_eq!(ids(&r), vec![FindingId::ChainOutOfOrder]);
        assert_eq!(get(&r, FindingId::ChainOutOfOrder).level, Severity::High);
        assert_eq!(r.path, vec![1, 0]);
        // Clients take the first certificate as the leaf, so this does not pass.
        assert!(!r.trusted);
    }

    #[test]
    fn shuffled_intermediates_are_out_of_order_with_low_severity() {
        let r = run(
            &[cert!("leaf"), cert!("root"), cert!("inter")],
            "www.example.test",
            AT,
            &test_store(),
        );
        assert_eq!(
            ids(&r),
            vec![FindingId::ChainOutOfOrder, FindingId::UnnecessaryRootSent]
        );
        assert_eq!(get(&r, FindingId::ChainOutOfOrder).level, Severity::Low);
        assert_eq!(r.path, vec![0, 2, 1]);
        assert!(r.trusted);
    }

    #[test]
    fn trusted_root_sent_is_unnecessary_root_sent() {
        let r = run(
            &[cert!("leaf"), cert!("inter"), cert!("root")],
            "www.example.test",
            AT,
            &test_store(),
        );
        assert_eq!(ids(&r), vec![FindingId::UnnecessaryRootSent]);
        let f = get(&r, FindingId::UnnecessaryRootSent);
        assert_eq!((f.level, f.certs.clone()), (Severity::Info, vec![2]));
        assert!(r.trusted);
    }

    #[test]
    fn certificate_outside_the_path_is_extra_certificate() {
        let r = run(
            &[cert!("leaf"), cert!("inter"), cert!("other-inter")],
            "www.example.test",
            AT,
            &test_store(),
        );
        assert_eq!(ids(&r), vec![FindingId::ExtraCertificate]);
        assert_eq!(get(&r, FindingId::ExtraCertificate).certs, vec![2]);
        assert!(r.trusted);
        let dup = run(
            &[cert!("leaf"), cert!("inter"), cert!("inter")],
            "www.example.test",
            AT,
            &test_store(),
        );
        assert_eq!(ids(&dup), vec![FindingId::ExtraCertificate]);
        assert!(get(&dup, FindingId::ExtraCertificate)
            .message
            .contains("copy of certificate #1"));
    }

    #[test]
    fn complete_chain_to_a_root_not_in_the_store_is_unknown_root() {
        let r = run(
            &[cert!("leaf"), cert!("inter"), cert!("root")],
            "www.example.test",
            AT,
            &TrustStore::empty(),
        );
        assert_eq!(ids(&r), vec![FindingId::UnknownRoot]);
        assert!(get(&r, FindingId::UnknownRoot)
            .message
            .contains("Test Root CA"));
        assert_eq!(r.path, vec![0, 1, 2]);
        assert!(!r.trusted);
        assert_eq!(r.anchored_by, None);
    }

    #[test]
    fn chain_stopping_below_an_unknown_root_is_unknown_issuer_not_incomplete() {
        let r = run(
            &[cert!("leaf"), cert!("inter")],
            "www.example.test",
            AT,
            &TrustStore::empty(),
        );
        assert_eq!(ids(&r), vec![FindingId::UnknownIssuer]);
        assert_eq!(
            r.missing_issuer.as_deref(),
            Some("CN=Test Root CA, O=tlsmortem tests")
        );
    }

    #[test]
    fn top_sent_certificate_issued_by_a_store_intermediate_is_complete() {
        let mut store = TrustStore::empty();
        store.add_der(&cert!("inter")).unwrap();
        let r = run(&[cert!("leaf")], "www.example.test", AT, &store);
        assert!(r.findings.is_empty(), "{:#?}", r.findings);
        assert!(r.trusted, "{:?}", r.webpki_error);
    }

    #[test]
    fn mozilla_store_does_not_anchor_the_test_ca() {
        let store = TrustStore::mozilla();
        assert!(store.len() > 100);
        assert!(store.contains_subject("C=US, O=Internet Security Research Group, CN=ISRG Root X1"));
        let r = run(
            &[cert!("leaf"), cert!("inter")],
            "www.example.test",
            AT,
            &store,
        );
        assert_eq!(ids(&r), vec![FindingId::UnknownIssuer]);
        let r = run(&[cert!("leaf")], "www.example.test", AT, &store);
        assert_eq!(ids(&r), vec![FindingId::IncompleteChain]);
    }

    #[test]
    fn self_signed_leaf_is_self_signed_unless_the_store_holds_it() {
        let ss = cert!("self-signed");
        let (_, c) = X509Certificate::from_der(&ss).unwrap();
        let at = c.validity().not_before.timestamp() + 60;
        let r = run(
            std::slice::from_ref(&ss),
            "www.example.test",
            at,
            &TrustStore::mozilla(),
        );
        assert_eq!(ids(&r), vec![FindingId::SelfSigned]);
        assert_eq!(get(&r, FindingId::SelfSigned).level, Severity::High);
        assert!(r.per_cert[0].self_signed);
        let mut store = TrustStore::empty();
        store.add_der(&ss).unwrap();
        let r = run(std::slice::from_ref(&ss), "www.example.test", at, &store);
        assert_eq!(ids(&r), vec![FindingId::SelfSigned]);
        assert_eq!(get(&r, FindingId::SelfSigned).level, Severity::Info);
    }

    #[test]
    fn expiry_is_judged_at_the_given_time_only() {
        let store = test_store();
        let r = run(
            &[cert!("expired"), cert!("inter")],
            "www.example.test",
            AT,
            &store,
        );
        assert_eq!(ids(&r), vec![FindingId::Expired]);
        assert!(get(&r, FindingId::Expired)
            .message
            .contains("2021-01-01T00:00:00Z"));
        assert!(!r.trusted);
        // 2020-06-01: inside its validity.
        let r = run(
            &[cert!("expired"), cert!("inter")],
            "www.example.test",
            1_590_969_600,
            &store,
        );
        assert!(r.findings.is_empty(), "{:#?}", r.findings);
        assert!(r.trusted);
        let r = run(
            &[cert!("future"), cert!("inter")],
            "www.example.test",
            AT,
            &store,
        );
        assert_eq!(ids(&r), vec![FindingId::NotYetValid]);
        assert!(get(&r, FindingId::NotYetValid)
            .message
            .contains("2040-01-01T00:00:00Z"));
        // The good leaf, judged a year later (as --now would).
        let r = run(
            &[cert!("leaf"), cert!("inter")],
            "www.example.test",
            AT + 365 * 86_400,
            &store,
        );
        assert_eq!(ids(&r), vec![FindingId::Expired]);
    }

    #[test]
    fn hostname_is_checked_against_san_with_rfc6125_wildcards() {
        let store = test_store();
        let leaf = [cert!("leaf"), cert!("inter")];
        for ok in ["www.example.test", "EXAMPLE.test", "www.example.test."] {
            assert!(run(&leaf, ok, AT, &store).findings.is_empty(), "{ok}");
        }
        let r = run(&leaf, "api.example.test", AT, &store);
        assert_eq!(ids(&r), vec![FindingId::HostnameMismatch]);
        assert!(get(&r, FindingId::HostnameMismatch)
            .message
            .contains("www.example.test, example.test"));
        // An IP address SNI is not a DNS name: no check.
        assert!(run(&leaf, "192.0.2.1", AT, &store).findings.is_empty());
        let wild = [cert!("wildcard"), cert!("inter")];
        assert!(run(&wild, "a.example.test", AT, &store).findings.is_empty());
        for bad in ["example.test", "a.b.example.test", "example.test.evil"] {
            assert_eq!(
                ids(&run(&wild, bad, AT, &store)),
                vec![FindingId::HostnameMismatch],
                "{bad}"
            );
        }
    }

    #[test]
    fn wildcard_rules_table() {
        let cases = [
            ("*.example.test", "a.example.test", true),
            ("*.EXAMPLE.test", "A.example.TEST", true),
            ("*.example.test", "example.test", false),
            ("*.example.test", ".example.test", false),
            ("*.example.test", "a.b.example.test", false),
            ("f*o.example.test", "foo.example.test", false),
            ("*o.example.test", "foo.example.test", false),
            ("a.*.example.test", "a.b.example.test", false),
            ("*.*.example.test", "a.b.example.test", false),
            ("*.test", "a.test", false),
            ("*", "a", false),
            ("", "", false),
            ("www.example.test", "www.example.test", true),
            ("www.example.test.", "www.example.test", true),
        ];
        for (pattern, host, want) in cases {
            assert_eq!(dns_name_matches(pattern, host), want, "{pattern} vs {host}");
        }
    }

    #[test]
    fn rsa_1024_leaf_is_weak_key() {
        let r = run(
            &[cert!("rsa1024"), cert!("inter")],
            "www.example.test",
            AT,
            &test_store(),
        );
        assert_eq!(ids(&r), vec![FindingId::WeakKey]);
        assert!(get(&r, FindingId::WeakKey).message.contains("1024-bit RSA"));
        assert_eq!(r.per_cert[0].key_type, "RSA");
        assert_eq!(r.per_cert[0].key_bits, Some(1024));
    }

    #[test]
    fn sha1_signed_leaf_is_weak_signature() {
        let r = run(
            &[cert!("sha1"), cert!("inter")],
            "www.example.test",
            AT,
            &test_store(),
        );
        assert_eq!(ids(&r), vec![FindingId::WeakSignature]);
        assert_eq!(r.per_cert[0].signature_algorithm, "sha1WithRSAEncryption");
        // The path is still built (x509-parser checks SHA-1 RSA); webpki refuses it.
        assert_eq!(r.path, vec![0, 1]);
        assert!(!r.trusted);
    }

    #[test]
    fn tampered_signature_is_bad_signature() {
        let mut leaf = cert!("leaf");
        if let Some(b) = leaf.last_mut() {
            *b ^= 0x01;
        }
        let r = run(
            &[leaf, cert!("inter")],
            "www.example.test",
            AT,
            &test_store(),
        );
        assert!(
            ids(&r).contains(&FindingId::BadSignature),
            "{:#?}",
            r.findings
        );
        assert_eq!(get(&r, FindingId::BadSignature).certs, vec![0, 1]);
        assert!(!ids(&r).contains(&FindingId::IncompleteChain));
        assert!(!r.trusted);
    }

    #[test]
    fn must_staple_leaf_without_staple_is_must_staple_missing() {
        let chain = [cert!("must-staple"), cert!("inter")];
        let r = run(&chain, "www.example.test", AT, &test_store());
        assert_eq!(ids(&r), vec![FindingId::MustStapleMissing]);
        assert!(r.per_cert[0].must_staple);
        assert!(!r.per_cert[1].must_staple);
        let ocsp = cert!("ocsp-good");
        let r = analyze(
            &ChainInput {
                certs: &chain,
                host: Some("www.example.test"),
                at: AT,
                server: true,
                stapled_ocsp: Some(&ocsp),
            },
            &test_store(),
        );
        assert!(!ids(&r).contains(&FindingId::MustStapleMissing));
        // The test staple is for leaf.der, not this certificate.
        assert_eq!(get(&r, FindingId::OcspStapled).level, Severity::Medium);
    }

    #[test]
    fn client_chain_skips_server_only_checks_but_needs_client_auth() {
        // leaf.der has EKU serverAuth+clientAuth; must-staple.der only serverAuth.
        let chain = [cert!("leaf"), cert!("inter")];
        let r = analyze(
            &ChainInput {
                certs: &chain,
                host: None,
                at: AT,
                server: false,
                stapled_ocsp: None,
            },
            &test_store(),
        );
        assert!(r.findings.is_empty(), "{:#?}", r.findings);
        assert!(r.trusted);
        let chain = [cert!("must-staple"), cert!("inter")];
        let r = analyze(
            &ChainInput {
                certs: &chain,
                host: None,
                at: AT,
                server: false,
                stapled_ocsp: None,
            },
            &test_store(),
        );
        assert_eq!(ids(&r), vec![FindingId::ChainRejected]);
        assert!(get(&r, FindingId::ChainRejected)
            .message
            .contains("RequiredEkuNotFound"));
    }

    #[test]
    fn long_lived_leaf_is_validity_too_long() {
        let r = run(
            &[cert!("long"), cert!("inter")],
            "www.example.test",
            AT,
            &test_store(),
        );
        assert_eq!(ids(&r), vec![FindingId::ValidityTooLong]);
        assert!(get(&r, FindingId::ValidityTooLong)
            .message
            .contains("730 days"));
    }

    #[test]
    fn ocsp_good_response_parses_with_its_times_and_serial() {
        let s = parse_ocsp_response(&cert!("ocsp-good")).unwrap();
        assert_eq!(s.status, CertStatus::Good);
        // make.sh uses -ndays 7.
        assert_eq!(s.next_update, Some(s.this_update + 7 * 86_400));
        assert!((s.produced_at - s.this_update).abs() < 60);
        let leaf = cert!("leaf");
        let (_, c) = X509Certificate::from_der(&leaf).unwrap();
        assert_eq!(trim_int(&s.serial), trim_int(c.raw_serial()));
    }

    #[test]
    fn ocsp_revoked_response_parses_and_is_ocsp_revoked_on_its_leaf() {
        let der = cert!("ocsp-revoked");
        let s = parse_ocsp_response(&der).unwrap();
        let CertStatus::Revoked { time, reason } = s.status else {
            panic!("{s:?}");
        };
        // keyCompromise, revoked when make.sh ran (after the leaf was issued, before the response).
        assert_eq!(reason, Some(1));
        assert!(time > 1_735_689_600 && time <= s.this_update);
        let chain = [cert!("revoked"), cert!("inter")];
        let r = analyze(
            &ChainInput {
                certs: &chain,
                host: Some("revoked.example.test"),
                at: AT,
                server: true,
                stapled_ocsp: Some(&der),
            },
            &test_store(),
        );
        assert_eq!(
            ids(&r),
            vec![FindingId::OcspStapled, FindingId::OcspRevoked]
        );
        assert_eq!(get(&r, FindingId::OcspStapled).level, Severity::Info);
    }

    #[test]
    fn staple_past_its_next_update_is_ocsp_stale() {
        let der = cert!("ocsp-good");
        let s = parse_ocsp_response(&der).unwrap();
        let chain = [cert!("leaf"), cert!("inter")];
        let at = s.next_update.unwrap() + 1;
        let r = analyze(
            &ChainInput {
                certs: &chain,
                host: Some("www.example.test"),
                at,
                server: true,
                stapled_ocsp: Some(&der),
            },
            &test_store(),
        );
        assert!(ids(&r).contains(&FindingId::OcspStale), "{:#?}", r.findings);
        assert!(get(&r, FindingId::OcspStapled).message.contains("good"));
    }

    #[test]
    fn malformed_ocsp_responses_are_none_without_panic() {
        let der = cert!("ocsp-good");
        for cut in 0..der.len() {
            assert_eq!(parse_ocsp_response(&der[..cut]), None, "cut at {cut}");
        }
        let table: &[&[u8]] = &[
            b"",
            &[0x30],
            &[0x30, 0x03, 0x0a, 0x01, 0x01], // malformedRequest, no responseBytes
            &[0x30, 0x03, 0x0a, 0x01, 0x00], // successful but no responseBytes
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x0a], // impossible length
            &[0x30, 0x05, 0x0a, 0x01, 0x00, 0xa0, 0x00],
        ];
        for t in table {
            assert_eq!(parse_ocsp_response(t), None, "{t:02x?}");
        }
        // Flipping any single byte must not panic.
        for i in 0..der.len() {
            let mut d = der.clone();
            d[i] ^= 0xff;
            let _ = parse_ocsp_response(&d);
        }
    }

    #[test]
    fn per_cert_details_describe_keys_signatures_and_extensions() {
        let r = run(
            &[cert!("leaf"), cert!("inter"), cert!("root")],
            "www.example.test",
            AT,
            &test_store(),
        );
        let [leaf, inter, root] = &r.per_cert[..] else {
            panic!("{:?}", r.per_cert);
        };
        assert_eq!((leaf.key_type.as_str(), leaf.key_bits), ("EC", Some(256)));
        assert_eq!(leaf.signature_algorithm, "sha256WithRSAEncryption");
        assert_eq!(
            leaf.aia_ca_issuers,
            vec!["http://ca.example.test/inter.der"]
        );
        assert_eq!(leaf.ocsp_urls, vec!["http://ocsp.example.test/"]);
        assert!(!leaf.is_ca && !leaf.self_signed && !leaf.must_staple);
        assert_eq!(
            (inter.key_type.as_str(), inter.key_bits),
            ("RSA", Some(2048))
        );
        assert!(inter.is_ca && !inter.self_signed);
        assert_eq!(root.signature_algorithm, "ecdsa-with-SHA256");
        assert!(root.is_ca && root.self_signed);
    }

    #[test]
    fn broken_and_empty_chains_are_findings_not_panics() {
        let store = test_store();
        assert_eq!(
            ids(&run(&[], "www.example.test", AT, &store)),
            vec![FindingId::NoCertificate]
        );
        let leaf = cert!("leaf");
        for cut in 0..leaf.len() {
            let r = run(
                &[leaf[..cut].to_vec(), cert!("inter")],
                "www.example.test",
                AT,
                &store,
            );
            assert!(
                ids(&r).contains(&FindingId::MalformedCertificate),
                "cut {cut}"
            );
            assert!(!r.trusted);
        }
        let garbage = vec![vec![0x30, 0x82, 0xff], b"hello".to_vec(), Vec::new()];
        let r = run(&garbage, "x", AT, &store);
        assert_eq!(r.per_cert.len(), 3);
        let many: Vec<Vec<u8>> = std::iter::repeat_n(cert!("inter"), MAX_CHAIN_CERTS + 3).collect();
        let r = run(&many, "x", AT, &store);
        assert!(ids(&r).contains(&FindingId::TooManyCertificates));
        assert_eq!(r.per_cert.len(), MAX_CHAIN_CERTS);
    }

    #[test]
    fn pem_store_loading_counts_certificates_and_rejects_garbage() {
        let pem = include_bytes!("../../../tests/data/chain/root.pem");
        let mut s = TrustStore::empty();
        assert_eq!(s.add_pem(pem), Ok(1));
        assert!(s.contains_subject("CN=Test Root CA, O=tlsmortem tests"));
        // Same root twice is stored once.
        let mut two = pem.to_vec();
        two.extend_from_slice(pem);
        assert_eq!(s.add_pem(&two), Ok(2));
        assert_eq!(s.len(), 1);
        assert!(TrustStore::empty().add_pem(b"not pem").is_err());
        assert!(TrustStore::empty()
            .add_pem_file(Path::new("/nonexistent/ca.pem"))
            .is_err());
    }

    #[test]
    fn der_sequence_header_lengths_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![0u8; len];
            let wrapped = der_sequence(&content);
            assert_eq!(der_contents(&wrapped).map(<[u8]>::len), Some(len));
        }
    }

    /// Chains from real captures: `CHAIN_HEX_DIR` holds files with one chain per line, DER
    /// certificates in hex separated by commas (tshark's `-e tls.handshake.certificate`).
    #[test]
    #[ignore = "needs CHAIN_HEX_DIR, made from the corpus with tshark"]
    fn corpus_chains_never_panic() {
        let Ok(dir) = std::env::var("CHAIN_HEX_DIR") else {
            return;
        };
        // CHAIN_CA_FILE replaces Mozilla's roots, e.g. with an older bundle for old captures.
        let store = match std::env::var("CHAIN_CA_FILE") {
            Ok(f) => {
                let mut s = TrustStore::empty();
                s.add_pem_file(Path::new(&f)).unwrap();
                s
            }
            Err(_) => TrustStore::mozilla(),
        };
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            let text = std::fs::read_to_string(&p).unwrap();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let (at, rest) = line.split_once(' ').unwrap_or(("0", line));
                let (host, hexes) = rest.split_once(' ').unwrap_or(("", rest));
                let certs: Vec<Vec<u8>> = hexes
                    .split(',')
                    .map(|h| {
                        (0..h.len() / 2)
                            .filter_map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
                            .collect()
                    })
                    .collect();
                let at: i64 = at.parse().unwrap_or(0);
                let r = run(&certs, host, at, &store);
                let subj: Vec<String> = certs
                    .iter()
                    .map(|d| {
                        X509Certificate::from_der(d)
                            .map(|(_, c)| c.subject().to_string())
                            .unwrap_or_else(|_| "?".into())
                    })
                    .collect();
                println!(
                    "{} at={at} host={host} certs={} path={:?} trusted={} anchor={:?} ids={:?} subjects={subj:?}",
                    p.file_name().unwrap().to_string_lossy(),
                    certs.len(),
                    r.path,
                    r.trusted,
                    r.anchored_by,
                    ids(&r)
                );
            }
        }
    }
}
