//! Certificate-chain diagnosis against the captures in `captures/certs/`.
//!
//! Each capture was made by `captures/certs/make.sh` from a throwaway PKI served by openssl
//! s_server / nginx to openssl s_client, curl, Python and Java on loopback; the expected finding
//! ids, verdict ids, chains served (SHA-256 over DER, wire order), SNI and client alerts are in
//! `captures/certs/truth.json`, written from how each capture was made, never from tlsmortem.
//! `captures/certs/pki/root.pem` is the only trusted CA (`--ca-file … --no-default-roots`).
//!
//! Assertions are on ids and hashes, not on messages, so wording can change freely.

mod common;

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::Value;
use tlsmortem::x509::sha256_hex;

use common::fixtures::{captures, TempDir};
use common::json::{finding_ids, sha256_list, strings};
use common::run::{run, tlsmortem};
use common::truth::Truth;

/// Findings that say something is wrong with the served chain or its leaf. A good chain must
/// carry none of them.
const CHAIN_PROBLEMS: &[&str] = &[
    "incomplete-chain",
    "wrong-intermediate",
    "chain-out-of-order",
    "unnecessary-root-sent",
    "extra-certificate",
    "unknown-root",
    "unknown-issuer",
    "self-signed",
    "expired",
    "not-yet-valid",
    "hostname-mismatch",
    "weak-key",
    "weak-signature",
    "validity-too-long",
    "bad-signature",
    "ocsp-revoked",
    "client-rejected-likely",
    "certificate-not-visible",
];

/// Findings about the server's chain that must say `side: "server"`.
const SERVER_SIDE: &[&str] = &[
    "incomplete-chain",
    "wrong-intermediate",
    "chain-out-of-order",
    "unnecessary-root-sent",
    "self-signed",
    "expired",
    "not-yet-valid",
    "weak-key",
    "weak-signature",
];

const INTERMEDIATE_CN: &str = "tlsmortem Test Intermediate CA";
const AIA_URL: &str = "http://ca.example.test/intermediate.der";
const OCSP_URL: &str = "http://ocsp.example.test/";

fn root_pem() -> PathBuf {
    captures("certs/pki/root.pem")
}

/// Runs `tlsmortem --json --ca-file root.pem --no-default-roots EXTRA... FILE` and parses the
/// JSON lines. Exit code 0 or 1 (findings) is fine; 2 means it could not run.
fn run_json_with(file: &str, extra: &[&str]) -> Vec<Value> {
    common::run::run_json(
        tlsmortem()
            .arg("--json")
            .arg("--ca-file")
            .arg(root_pem())
            .arg("--no-default-roots")
            .args(extra)
            .arg(captures(&format!("certs/{file}"))),
    )
}

fn run_json(file: &str) -> Vec<Value> {
    run_json_with(file, &[])
}

fn findings_with_id<'a>(conn: &'a Value, id: &str) -> Vec<&'a Value> {
    conn["findings"]
        .as_array()
        .map(|a| a.iter().filter(|f| f["id"] == id).collect())
        .unwrap_or_default()
}

/// Checks every connection of `file` against truth.json: count, server port, SNI, the chain in
/// wire order (or no certificates for TLS 1.3), client certificates, the client's alert, the
/// expected finding ids (present) and verdict id, and `side` on server-chain findings.
/// Returns the connections for further checks.
fn check_file(file: &str) -> Vec<Value> {
    let truth = Truth::of("certs");
    let want = truth.connections(file);
    let got = run_json(file);
    assert_eq!(
        got.len(),
        want.len(),
        "{file}: number of connections; got {got:#?}"
    );
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ctx = format!("{file} connection #{i} ({})", w["client"]);
        assert_eq!(g["server"]["port"], w["server_port"], "{ctx}: server port");
        assert_eq!(g["client_hello"]["sni"], w["sni"], "{ctx}: SNI");
        let served = strings(&w["server_certificates_served_sha256"]);
        if w["certificates_visible"] == true {
            assert_eq!(
                sha256_list(&g["server_certificates"]),
                served,
                "{ctx}: server chain (wire order) = {:?}",
                strings(&w["served_pem"])
            );
            assert_eq!(
                sha256_list(&g["client_certificates"]),
                strings(&w["client_certificates_served_sha256"]),
                "{ctx}: client certificates (wire order)"
            );
        } else {
            assert!(
                sha256_list(&g["server_certificates"]).is_empty(),
                "{ctx}: TLS 1.3 certificates are encrypted, none can be visible"
            );
        }
        let alert = &w["alert"];
        if alert.is_object() && alert["encrypted"] == false {
            let alerts = g["alerts"].as_array().cloned().unwrap_or_default();
            assert!(
                alerts.iter().any(|a| a["from"] == alert["from"]
                    && a["level"] == 2
                    && a["description"] == alert["description"]),
                "{ctx}: expected fatal alert {} ({}) from the {}; got {alerts:?}",
                alert["description"],
                alert["name"],
                alert["from"]
            );
        }
        let ids = finding_ids(g);
        for id in strings(&w["expected_findings"]) {
            assert!(
                ids.contains(&id),
                "{ctx}: finding `{id}` missing; got {ids:?}"
            );
        }
        for f in g["findings"].as_array().into_iter().flatten() {
            let id = f["id"].as_str().unwrap_or("");
            if SERVER_SIDE.contains(&id) && w["certificates_visible"] == true {
                assert_eq!(
                    f["side"], "server",
                    "{ctx}: `{id}` must say side=server: {f}"
                );
            }
        }
        assert_eq!(
            g["verdict"]["id"], w["expected_verdict"],
            "{ctx}: verdict; findings {ids:?}"
        );
    }
    got
}

fn assert_none_of(file: &str, conns: &[Value], forbidden: &[&str]) {
    for (i, c) in conns.iter().enumerate() {
        let ids = finding_ids(c);
        for id in forbidden {
            assert!(
                !ids.contains(*id),
                "{file} connection #{i}: unexpected finding `{id}`: {}",
                c["findings"]
            );
        }
    }
}

/// Findings of `id` judged at capture time (no `when`) must exist; none may carry `when`.
fn assert_judged_at_capture_time(file: &str, conns: &[Value], id: &str) {
    for (i, c) in conns.iter().enumerate() {
        let f = findings_with_id(c, id);
        assert!(!f.is_empty(), "{file} #{i}: no `{id}` finding");
        assert!(
            f.iter().any(|f| f.get("when").is_none_or(Value::is_null)),
            "{file} #{i}: `{id}` judged at capture time must have no `when`: {f:?}"
        );
    }
}

// ------------------------------------------------------------------ PEM helpers for --export

/// Base64 bodies (whitespace removed) of the CERTIFICATE blocks of a PEM text, in order.
fn pem_bodies(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            cur = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            out.push(cur.take().expect("END without BEGIN"));
        } else if let Some(body) = cur.as_mut() {
            body.extend(line.chars().filter(|c| !c.is_whitespace()));
        }
    }
    assert!(cur.is_none(), "unterminated PEM block");
    out
}

fn base64_decode(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_else(|e| panic!("not base64 ({e}): {s}"))
}

fn pki_body(name: &str) -> String {
    let path = captures(&format!("certs/pki/{name}.pem"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut b = pem_bodies(&text);
    assert_eq!(b.len(), 1, "{}: one certificate", path.display());
    b.remove(0)
}

/// Runs `tlsmortem certs FILE --export DIR --ca-file root.pem` and returns the temp dir.
fn export(file: &str, tag: &str) -> TempDir {
    let dir = TempDir::new(&format!("certs-{tag}"));
    run(tlsmortem()
        .arg("certs")
        .arg(captures(&format!("certs/{file}")))
        .arg("--export")
        .arg(dir.path())
        .arg("--ca-file")
        .arg(root_pem()))
    .expect_ran();
    dir
}

/// The exported `NAME.chain.pem` holds exactly the served certificates, in wire order, and
/// every block decodes to the DER whose SHA-256 truth.json records.
fn assert_exported_chain(file: &str, dir: &Path, name: &str) {
    let truth = Truth::of("certs");
    let want = &truth.connections(file)[0];
    let path = dir.join(format!("{name}.chain.pem"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{file}: no {} ({e}); the export dir holds {:?}",
            path.display(),
            std::fs::read_dir(dir)
                .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
                .unwrap_or_default()
        )
    });
    let got = pem_bodies(&text);
    let served: Vec<String> = strings(&want["served_pem"])
        .iter()
        .map(|n| pki_body(n))
        .collect();
    assert_eq!(
        got, served,
        "{file}: exported chain differs from the PEM files served ({:?}, wire order)",
        want["served_pem"]
    );
    let hashes: Vec<String> = got.iter().map(|b| sha256_hex(&base64_decode(b))).collect();
    assert_eq!(
        hashes,
        strings(&want["server_certificates_served_sha256"]),
        "{file}: exported PEM blocks decode to other certificates"
    );
}

/// NAME.missing.txt exists and names the intermediate the chain lacks and its AIA URL.
fn assert_missing_names_the_intermediate(file: &str, dir: &Path, name: &str) {
    let missing =
        missing_txt(dir, name).unwrap_or_else(|| panic!("{file}: {name}.missing.txt not written"));
    assert!(
        missing.contains(INTERMEDIATE_CN),
        "missing.txt must name the issuer: {missing}"
    );
    assert!(
        missing.contains(AIA_URL),
        "missing.txt must give the AIA URL: {missing}"
    );
}

fn missing_txt(dir: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(format!("{name}.missing.txt"))).ok()
}

// ------------------------------------------------------------------ one test per scenario

#[test]
fn a_good_full_chain_from_nginx_is_complete_and_has_no_chain_problem() {
    let file = "chain-good.pcap";
    let conns = check_file(file);
    assert_none_of(file, &conns, CHAIN_PROBLEMS);
}

#[test]
fn a_leaf_only_chain_is_incomplete_whether_the_client_rejects_it_or_has_the_intermediate() {
    let file = "chain-leaf-only.pcap";
    let conns = check_file(file);
    // The second client had the intermediate and completed: same finding, verdict complete.
    assert_eq!(conns[1]["verdict"]["id"], "complete");
    assert!(finding_ids(&conns[1]).contains("incomplete-chain"));
    assert_none_of(
        file,
        &conns,
        &["wrong-intermediate", "self-signed", "expired"],
    );
}

#[test]
fn a_leaf_only_chain_from_nginx_is_rejected_by_curl_and_python_as_incomplete() {
    let file = "chain-leaf-only-nginx.pcap";
    let conns = check_file(file);
    assert_none_of(file, &conns, &["wrong-intermediate", "self-signed"]);
}

#[test]
fn a_chain_that_includes_the_root_is_complete_but_sends_an_unnecessary_root() {
    let file = "chain-with-root.pcap";
    let conns = check_file(file);
    assert_none_of(
        file,
        &conns,
        &["incomplete-chain", "wrong-intermediate", "self-signed"],
    );
}

#[test]
fn a_leaf_sent_with_an_intermediate_that_did_not_issue_it_is_a_wrong_intermediate() {
    let file = "chain-wrong-intermediate.pcap";
    let conns = check_file(file);
    assert_none_of(
        file,
        &conns,
        &["self-signed", "expired", "chain-out-of-order"],
    );
}

#[test]
fn a_chain_sent_out_of_order_is_flagged_although_the_client_accepts_it() {
    let file = "chain-out-of-order.pcap";
    let conns = check_file(file);
    assert_none_of(
        file,
        &conns,
        &["incomplete-chain", "wrong-intermediate", "self-signed"],
    );
}

#[test]
fn a_self_signed_server_certificate_is_rejected_as_self_signed() {
    let file = "chain-self-signed.pcap";
    let conns = check_file(file);
    assert_none_of(file, &conns, &["expired", "hostname-mismatch"]);
}

#[test]
fn an_expired_leaf_is_expired_at_capture_time_and_rejected_with_certificate_expired() {
    let file = "chain-expired.pcap";
    let conns = check_file(file);
    assert_judged_at_capture_time(file, &conns, "expired");
    assert_none_of(
        file,
        &conns,
        &["incomplete-chain", "not-yet-valid", "hostname-mismatch"],
    );
}

#[test]
fn a_leaf_valid_only_from_2040_is_not_yet_valid_at_capture_time() {
    let file = "chain-not-yet-valid.pcap";
    let conns = check_file(file);
    assert_judged_at_capture_time(file, &conns, "not-yet-valid");
    assert_none_of(file, &conns, &["incomplete-chain", "expired"]);
    // Judged again in 2040 it is valid: no not-yet-valid finding for that time.
    let at = "2040-06-01T00:00:00Z";
    for c in run_json_with(file, &["--at", at]) {
        assert!(
            !findings_with_id(&c, "not-yet-valid")
                .iter()
                .any(|f| f["when"] == at),
            "{file}: not-yet-valid judged at {at}: {}",
            c["findings"]
        );
    }
}

#[test]
fn a_certificate_for_www_fetched_as_api_is_a_hostname_mismatch() {
    let file = "chain-hostname-mismatch.pcap";
    let conns = check_file(file);
    assert_none_of(
        file,
        &conns,
        &["incomplete-chain", "expired", "self-signed"],
    );
}

#[test]
fn mutual_tls_with_a_client_certificate_completes_and_shows_both_chains() {
    let file = "mtls-with-client-cert.pcap";
    let conns = check_file(file);
    assert_none_of(
        file,
        &conns,
        &["client-certificate-missing", "incomplete-chain"],
    );
}

#[test]
fn mutual_tls_without_a_client_certificate_is_ended_by_the_server_and_says_it_is_missing() {
    let file = "mtls-without-client-cert.pcap";
    let conns = check_file(file);
    assert!(
        sha256_list(&conns[0]["client_certificates"]).is_empty(),
        "{file}: the client sent an empty Certificate"
    );
    assert_none_of(file, &conns, &["incomplete-chain"]);
}

#[test]
fn a_stapled_good_ocsp_response_is_reported_and_not_as_revoked() {
    let file = "ocsp-stapled-good.pcap";
    let conns = check_file(file);
    assert_none_of(
        file,
        &conns,
        &["ocsp-revoked", "must-staple-missing", "incomplete-chain"],
    );
}

#[test]
fn a_stapled_ocsp_response_saying_revoked_is_reported_as_revoked() {
    let file = "ocsp-stapled-revoked.pcap";
    check_file(file);
}

#[test]
fn a_1024_bit_rsa_leaf_is_a_weak_key_rejected_at_the_default_security_level() {
    let file = "chain-weak-key.pcap";
    let conns = check_file(file);
    for c in &conns {
        assert_eq!(
            c["server_certificates"][0]["key_bits"], 1024,
            "{file}: leaf key_bits"
        );
    }
    assert_none_of(file, &conns, &["incomplete-chain", "weak-signature"]);
}

#[test]
fn a_sha1_signed_leaf_is_a_weak_signature_rejected_at_the_default_security_level() {
    let file = "chain-sha1.pcap";
    let conns = check_file(file);
    for c in &conns {
        let alg = c["server_certificates"][0]["signature_algorithm"]
            .as_str()
            .unwrap_or("")
            .to_ascii_lowercase();
        assert!(
            alg.contains("sha1"),
            "{file}: leaf signature_algorithm {alg:?}"
        );
    }
    assert_none_of(file, &conns, &["incomplete-chain", "weak-key"]);
}

#[test]
fn a_tls13_rejection_with_encrypted_certificates_is_a_likely_client_rejection() {
    let file = "tls13-rejected.pcap";
    let conns = check_file(file);
    assert_none_of(file, &conns, &["incomplete-chain", "self-signed"]);
}

// ------------------------------------------------------------------ certificate facts, --at

#[test]
fn server_certificates_carry_key_signature_aia_and_ocsp_facts() {
    let file = "chain-good.pcap";
    let conns = run_json(file);
    assert!(!conns.is_empty(), "{file}: no connection");
    let leaf = &conns[0]["server_certificates"][0];
    assert!(
        leaf["key_type"]
            .as_str()
            .unwrap_or("")
            .to_ascii_lowercase()
            .contains("rsa"),
        "leaf key_type: {leaf}"
    );
    assert_eq!(leaf["key_bits"], 2048, "leaf key_bits: {leaf}");
    assert!(
        leaf["signature_algorithm"]
            .as_str()
            .unwrap_or("")
            .to_ascii_lowercase()
            .contains("sha256"),
        "leaf signature_algorithm: {leaf}"
    );
    assert_eq!(
        strings(&leaf["aia_ca_issuers"]),
        vec![AIA_URL],
        "leaf aia_ca_issuers"
    );
    assert_eq!(
        strings(&leaf["ocsp_urls"]),
        vec![OCSP_URL],
        "leaf ocsp_urls"
    );
    assert_eq!(
        strings(&leaf["san_dns"]),
        vec!["www.example.test"],
        "leaf san_dns"
    );
    // Name formatting (order, separators) is the output's business; the CN must be there.
    let cn = format!("CN={INTERMEDIATE_CN}");
    assert!(
        leaf["issuer"].as_str().unwrap_or("").contains(&cn),
        "leaf issuer: {}",
        leaf["issuer"]
    );
    let inter = &conns[0]["server_certificates"][1];
    assert!(
        inter["subject"].as_str().unwrap_or("").contains(&cn),
        "intermediate subject: {}",
        inter["subject"]
    );
}

#[test]
fn a_good_chain_judged_in_2030_is_expired_then_but_not_at_capture_time() {
    let file = "chain-good.pcap";
    let at = "2030-01-01T00:00:00Z";
    let conns = run_json_with(file, &["--at", at]);
    assert!(!conns.is_empty(), "{file}: no connection");
    for (i, c) in conns.iter().enumerate() {
        let expired = findings_with_id(c, "expired");
        assert!(
            expired.iter().any(|f| f["when"] == at),
            "{file} #{i}: leaf (397 days from the capture) must be expired at {at}: {}",
            c["findings"]
        );
        assert!(
            expired.iter().all(|f| f["when"] == at),
            "{file} #{i}: the leaf was valid at capture time: {}",
            c["findings"]
        );
        assert_eq!(
            c["verdict"]["id"], "complete",
            "{file} #{i}: --at does not change the verdict"
        );
    }
}

// ------------------------------------------------------------------ certs --export

#[test]
fn exporting_a_good_chain_writes_it_as_sent_and_nothing_missing() {
    let file = "chain-good.pcap";
    let dir = export(file, "good");
    let name = "127.0.0.1_4451_www.example.test";
    assert_exported_chain(file, &dir.0, name);
    assert!(
        missing_txt(&dir.0, name).is_none(),
        "{file}: nothing is missing, no missing.txt expected"
    );
}

#[test]
fn exporting_a_leaf_only_chain_names_the_missing_intermediate_and_where_to_get_it() {
    let file = "chain-leaf-only.pcap";
    let dir = export(file, "leafonly");
    let name = "127.0.0.1_4454_www.example.test";
    assert_exported_chain(file, &dir.0, name);
    assert_missing_names_the_intermediate(file, &dir.0, name);
}

#[test]
fn exporting_a_wrong_intermediate_chain_names_the_real_issuer() {
    let file = "chain-wrong-intermediate.pcap";
    let dir = export(file, "wronginter");
    let name = "127.0.0.1_4455_www.example.test";
    assert_exported_chain(file, &dir.0, name);
    assert_missing_names_the_intermediate(file, &dir.0, name);
}

#[test]
fn exporting_an_out_of_order_chain_keeps_the_wire_order() {
    let file = "chain-out-of-order.pcap";
    let dir = export(file, "ooo");
    assert_exported_chain(file, &dir.0, "127.0.0.1_4456_www.example.test");
}

#[test]
fn the_pem_helpers_of_this_file_decode_the_served_pki() {
    // Guards the PEM helpers the export tests rely on.
    let t = Truth::of("certs");
    for name in ["root", "inter", "leaf", "leaf-weak", "selfsigned"] {
        let der = base64_decode(&pki_body(name));
        assert_eq!(
            sha256_hex(&der),
            t["pki"][name]["sha256"].as_str().unwrap_or(""),
            "pki/{name}.pem"
        );
    }
}
