//! Certificates and chain judging: each item described as the record does, the chain built
//! and judged (issuer links, signatures, webpki's verdict, per-certificate checks, the stapled
//! OCSP response) as a server's or a client's, against Mozilla's roots, no roots, the chain's
//! own last certificate, or the test PKI's root, at several moments and for several names.
//!
//! Options byte: bit 0 server, bits 1–2 trust store, bits 3–4 moment, bits 5–6 host, bit 7 the
//! last item is a stapled OCSP response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tlsmortem::x509::chain::{self, dns_name_matches, parse_ocsp_response, ChainInput, TrustStore};
use tlsmortem::x509::CertInfo;
use tlsmortem_fuzz::CHAIN_STAPLED;

fn mozilla() -> &'static TrustStore {
    static S: OnceLock<TrustStore> = OnceLock::new();
    S.get_or_init(TrustStore::mozilla)
}

fn test_root() -> &'static TrustStore {
    static S: OnceLock<TrustStore> = OnceLock::new();
    S.get_or_init(|| {
        let mut s = TrustStore::empty();
        s.add_der(include_bytes!("../../tests/data/chain/root.der"))
            .expect("the test root parses");
        s
    })
}

fuzz_target!(|data: &[u8]| {
    let (options, mut items) = tlsmortem_fuzz::chain(data);
    let stapled = if options & CHAIN_STAPLED != 0 {
        items.pop()
    } else {
        None
    };
    if let Some(ocsp) = stapled {
        let _ = parse_ocsp_response(ocsp);
    }
    let infos: Vec<CertInfo> = items.iter().map(|d| CertInfo::from_der(d)).collect();
    for (info, der) in infos.iter().zip(&items) {
        assert_eq!(info.size, der.len());
        assert_eq!(info.sha256.len(), 64);
    }
    let certs: Vec<chain::Der> = items.iter().map(|d| chain::Der::from(*d)).collect();

    let own;
    let store = match (options >> 1) & 3 {
        0 => mozilla(),
        1 => test_root(),
        2 => {
            let mut s = TrustStore::empty();
            if let Some(last) = items.last() {
                let _ = s.add_der(last);
            }
            own = s;
            &own
        }
        _ => {
            own = TrustStore::empty();
            &own
        }
    };
    let leaf_validity = infos.first().and_then(|i| i.validity_secs);
    let at = match (options >> 3) & 3 {
        0 => 1_700_000_000,
        1 => leaf_validity.map_or(0, |(nb, na)| nb / 2 + na / 2),
        2 => leaf_validity.map_or(i64::MIN, |(_, na)| na.saturating_add(1)),
        _ => i64::MAX,
    };
    let san = infos.first().and_then(|i| i.san_dns.first()).cloned();
    let host = match (options >> 5) & 3 {
        0 => san.as_deref(),
        1 => Some("www.example.com"),
        2 => Some("\u{1b}[2J*.\u{0}例え.テスト"),
        _ => None,
    };
    if let (Some(san), Some(host)) = (&san, host) {
        let _ = dns_name_matches(san, host);
    }
    let input = ChainInput {
        certs: &certs,
        host,
        at,
        server: options & 1 != 0,
        stapled_ocsp: stapled,
    };
    let report = chain::analyze(&input, store);
    assert!(report.per_cert.len() <= certs.len().min(chain::MAX_CHAIN_CERTS));
    assert!(report.path.iter().all(|&i| i < certs.len()));
    for f in &report.findings {
        assert!(
            f.certs.iter().all(|&i| i < certs.len()),
            "{f:?} names a certificate not sent"
        );
    }
});
