//! path: the parsed certificates a peer sent, the trust store and the role in; the chain's
//! path out, twice: our own (the leaf, then each certificate's issuer among those sent, linked
//! by name, key identifiers and signature, until a trust anchor or a dead end, then a sent copy
//! of that anchor's self-signed root) and rustls-webpki's verdict on the same certificates,
//! with the ring-backed signature algorithms webpki needs.
//!
//! Guarantees: the path never repeats a certificate, so building it ends; trust anchors are
//! tried before sent certificates, so a sent cross-signed copy of a trusted root is not needed;
//! a link whose signature does not verify is still followed and reported (`bad-signature`), and
//! so is a chain sent out of order (`chain-out-of-order`).
//!
//! Deliberately not done: deciding what the path means (missing issuer, unknown root: that is
//! `analyze`), fetching issuers from AIA URLs, or verifying with algorithms ring lacks here
//! (P-521, RSA keys under 2048 bits).

use super::facts::{
    aki, check_sig, is_self_signed, key_ids_compatible, names_equal, ski, subject_of, Sig,
};
use super::trust::{der_sequence, TrustStore};
use super::{finding, ChainFinding, ChainInput, Der};
use crate::ids::{FindingId, Severity};
use rustls_pki_types::{
    alg_id, AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm,
    TrustAnchor, UnixTime,
};
use std::time::Duration;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};
use x509_parser::x509::SubjectPublicKeyInfo;

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
// Path building

/// The trust anchor (index in the store) that issued the top of the path, with how its
/// signature checked.
#[derive(Debug, Clone, Copy)]
pub(super) struct AnchorLink(pub(super) usize, pub(super) Sig);

pub(super) fn pick_leaf(parsed: &[Option<X509Certificate<'_>>]) -> usize {
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
///
/// Each certificate is tried once as each path member's issuer, and at most
/// [`MAX_SIGNATURE_CHECKS`] signatures are checked in all: past that, links are made by name
/// and key identifier alone (`Sig::Unchecked`), with a `chain-search-capped` finding. A chain
/// of 32 certificates sharing one name would otherwise cost 32 × 32 signature checks.
pub(super) fn build_path(
    leaf: usize,
    parsed: &[Option<X509Certificate<'_>>],
    store: &TrustStore,
    findings: &mut Vec<ChainFinding>,
) -> (Vec<usize>, Option<AnchorLink>) {
    let mut checks = 0usize;
    let mut sig = |c: &X509Certificate<'_>, key: &SubjectPublicKeyInfo<'_>| {
        checks += 1;
        if checks <= MAX_SIGNATURE_CHECKS {
            check_sig(c, key)
        } else {
            Sig::Unchecked
        }
    };
    let (path, top) = follow_issuers(leaf, parsed, store, findings, &mut sig);
    if checks > MAX_SIGNATURE_CHECKS {
        findings.push(finding(
            FindingId::ChainSearchCapped,
            Severity::Low,
            Vec::new(),
            format!(
                "building the chain's path took more than {MAX_SIGNATURE_CHECKS} signature checks ({checks} candidate links); the rest were linked by name and key identifier only"
            ),
            "send only the certificates of one path: leaf, then each issuer once",
        ));
    }
    (path, top)
}

/// Signatures checked per chain while building its path.
pub const MAX_SIGNATURE_CHECKS: usize = 96;

fn follow_issuers(
    leaf: usize,
    parsed: &[Option<X509Certificate<'_>>],
    store: &TrustStore,
    findings: &mut Vec<ChainFinding>,
    sig: &mut dyn FnMut(&X509Certificate<'_>, &SubjectPublicKeyInfo<'_>) -> Sig,
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
                Some((sig(c, &spki), a))
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
                Some((sig(c, p.public_key()), std::cmp::Reverse(i)))
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

/// Puts a sent copy of the anchor's self-signed root at the top of the path.
pub(super) fn attach_sent_root(
    parsed: &[Option<X509Certificate<'_>>],
    store: &TrustStore,
    top_issuer: Option<AnchorLink>,
    path: &mut Vec<usize>,
) {
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
}

pub(super) fn order_findings(leaf: usize, path: &[usize], findings: &mut Vec<ChainFinding>) {
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

/// Sent certificates of one subject name handed to webpki as candidate intermediates.
/// Real chains have one, two for a cross-signed CA; webpki tries every candidate of a name at
/// every level of its search (up to six CAs deep), so a chain of 31 certificates sharing a
/// name is hundreds of thousands of tries. With three a name, a search is at most 3^6 tries.
pub const MAX_CANDIDATES_PER_NAME: usize = 3;

/// The certificates webpki gets as intermediates (wire indexes): every sent one but the leaf,
/// at most [`MAX_CANDIDATES_PER_NAME`] per subject name, those on our own `path` first; in wire
/// order, the order webpki tries them in, so an ordinary chain is handed over unchanged.
/// Certificates that do not parse are all kept: webpki cannot parse them either, and no search
/// goes through them.
pub(super) fn webpki_candidates(
    parsed: &[Option<X509Certificate<'_>>],
    leaf: usize,
    path: &[usize],
) -> Vec<usize> {
    let mut per_name: Vec<(&[u8], usize)> = Vec::new();
    let mut keep = vec![false; parsed.len()];
    let on_path = path.iter().copied().filter(|&i| i != leaf);
    let others = (0..parsed.len()).filter(|i| *i != leaf && !path.contains(i));
    for i in on_path.chain(others) {
        let name = parsed
            .get(i)
            .and_then(Option::as_ref)
            .map(|c| c.subject().as_raw());
        let kept = match (name, per_name.iter_mut().find(|(n, _)| Some(*n) == name)) {
            (None, _) => true,
            (Some(_), Some((_, k))) if *k >= MAX_CANDIDATES_PER_NAME => false,
            (Some(_), Some((_, k))) => {
                *k += 1;
                true
            }
            (Some(n), None) => {
                per_name.push((n, 1));
                true
            }
        };
        if let Some(k) = keep.get_mut(i) {
            *k = kept;
        }
    }
    (0..parsed.len())
        .filter(|&i| keep.get(i) == Some(&true))
        .collect()
}

/// rustls-webpki's verdict on the leaf with the intermediates `inter` (indexes into `certs`):
/// the path it verified (wire indexes) and its anchor's subject.
pub(super) fn webpki_verdict(
    certs: &[Der],
    leaf: usize,
    inter: &[usize],
    input: &ChainInput<'_>,
    store: &TrustStore,
) -> Result<(Vec<usize>, String), String> {
    let leaf_der = CertificateDer::from(certs.get(leaf).map(|d| &d[..]).unwrap_or_default());
    let ee = webpki::EndEntityCert::try_from(&leaf_der).map_err(|e| format!("{e:?}"))?;
    let inter: Vec<CertificateDer<'_>> = inter
        .iter()
        .filter_map(|&i| certs.get(i))
        .map(|d| CertificateDer::from(&d[..]))
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
        if let Some(i) = certs.iter().position(|d| d[..] == *der.as_ref()) {
            path.push(i);
        }
    }
    let anchor = verified.anchor();
    let subject = X509Name::from_der(&der_sequence(anchor.subject.as_ref()))
        .map(|(_, n)| n.to_string())
        .unwrap_or_default();
    Ok((path, subject))
}
