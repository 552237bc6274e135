//! Unit tests of chain analysis: the test CA's chains in tests/data/chain/ (made by its
//! make.sh) go through `analyze` for every finding it makes, plus the wildcard table, the OCSP
//! parser on good, revoked, truncated and corrupted responses, PEM loading and DER headers.
//!
//! They judge at fixed times, never the wall clock. Not here by default: chains from real
//! captures, which `corpus_chains_never_panic` reads only when `CHAIN_HEX_DIR` is set.

use super::ocsp::trim_int;
use super::trust::{der_contents, der_sequence};
use super::*;
use std::path::Path;

macro_rules! cert {
    ($name:literal) => {
        Der::from(&include_bytes!(concat!("../../../tests/data/chain/", $name, ".der"))[..])
    };
}

/// 2025-06-01T00:00:00Z: inside the 2025 test leaves' validity.
const AT: i64 = 1_748_736_000;

fn test_store() -> TrustStore {
    let mut s = TrustStore::empty();
    s.add_der(&cert!("root")).unwrap();
    s
}

fn run(certs: &[Der], host: &str, at: i64, store: &TrustStore) -> ChainReport {
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
    let mut leaf = cert!("leaf").to_vec();
    if let Some(b) = leaf.last_mut() {
        *b ^= 0x01;
    }
    let r = run(
        &[leaf.into(), cert!("inter")],
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
        let mut d = der.to_vec();
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
            &[leaf[..cut].into(), cert!("inter")],
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
    let garbage: Vec<Der> = vec![
        [0x30, 0x82, 0xff][..].into(),
        b"hello"[..].into(),
        Der::from([]),
    ];
    let r = run(&garbage, "x", AT, &store);
    assert_eq!(r.per_cert.len(), 3);
    let many: Vec<Der> = std::iter::repeat_n(cert!("inter"), MAX_CHAIN_CERTS + 3).collect();
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
            let certs: Vec<Der> = hexes
                .split(',')
                .map(|h| {
                    (0..h.len() / 2)
                        .filter_map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
                        .collect::<Vec<u8>>()
                        .into()
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
