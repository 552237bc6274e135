//! Decryption with key logs against the captures in `captures/keylog/`.
//!
//! Each capture was made by `captures/keylog/make.sh` from real software on loopback (openssl
//! s_server/s_client, gnutls-cli, curl and Python `ssl` against nginx, aioquic), each client
//! writing its own NSS key log (`NAME.keys` beside the capture; one pcapng carries its key log
//! in a Decryption Secrets Block instead). `captures/keylog/truth.json` holds, from how each was
//! made: the chain served (SHA-256 of the DER, wire order), the ALPN configured, the alerts the
//! programs were set up to send (frames and encryption read by tshark with the keys), the
//! verdict and finding ids with and without the keys. Nothing in it comes from tlsmortem.
//!
//! Every capture runs as `tlsmortem --json --ca-file CA --no-default-roots [--keylog KEYS]`,
//! CA being the trust store the client had. Assertions are on ids, code points and hashes; the
//! ALPN a TLS 1.3 server chose is read from `decrypted.alpn` (its EncryptedExtensions).

mod common;

use serde_json::Value;

use common::fixtures::captures;
use common::json::{finding_ids, sha256_list, strings};
use common::run::tlsmortem;
use common::truth::Truth;

const DIR: &str = "keylog";
const KEYS_DO_NOT_DECRYPT: &str = "keys-do-not-decrypt";
const TLS13: u64 = 0x0304;

/// Whether a run gets the capture's key log (`--keylog`; a pcapng with embedded secrets gets
/// nothing either way).
#[derive(Clone, Copy, PartialEq)]
enum Keys {
    Given,
    Withheld,
}

fn path(rel: &str) -> std::path::PathBuf {
    captures(&format!("{DIR}/{rel}"))
}

/// Runs tlsmortem on `file` with the client's trust store, and its key log when `keys` says so.
fn run_json(truth: &Truth, file: &str, keys: Keys) -> Vec<Value> {
    let entry = truth.file(file);
    let ca = entry["ca_file"].as_str().expect("truth names a ca_file");
    let mut cmd = tlsmortem();
    cmd.arg("--json")
        .arg("--ca-file")
        .arg(path(ca))
        .arg("--no-default-roots");
    if let (Keys::Given, Some(k)) = (keys, entry["keylog"].as_str()) {
        cmd.arg("--keylog").arg(path(k));
    }
    common::run::run_json(cmd.arg(path(file)))
}

/// The connections of `file` run with `keys`, paired with truth's, after checking the count
/// and that each pair is the same connection (server port, client port, transport).
fn pairs(truth: &Truth, file: &str, keys: Keys) -> Vec<(String, Value, Value)> {
    let want = truth.connections(file);
    let got = run_json(truth, file, keys);
    assert_eq!(
        got.len(),
        want.len(),
        "{file}: number of connections; got {got:#?}"
    );
    got.into_iter()
        .zip(want)
        .enumerate()
        .map(|(i, (g, w))| {
            let ctx = format!("{file} connection #{i} ({})", w["client"]);
            assert_eq!(g["transport"], w["transport"], "{ctx}: transport");
            assert_eq!(g["server"]["port"], w["server_port"], "{ctx}: server port");
            assert_eq!(g["client"]["port"], w["client_port"], "{ctx}: client port");
            (ctx, g, w.clone())
        })
        .collect()
}

/// The alert `got` reports at `frame` from `from`.
fn alert_at<'a>(got: &'a Value, frame: &Value, from: &Value) -> Option<&'a Value> {
    got["alerts"]
        .as_array()?
        .iter()
        .find(|a| &a["frame"] == frame && &a["from"] == from)
}

fn decrypted(alert: &Value) -> bool {
    alert["decrypted"] == true
}

/// The alerts as decrypted with working keys: every alert truth lists is there with its
/// sender, level and description, `encrypted` as tshark saw it and `decrypted: true` when it
/// was encrypted; one past the first record under TLS 1.3 application keys may stay
/// undecrypted (RFC 8446 records past it need not be), but if decoded it must be right. No
/// alert is reported that truth does not list.
fn assert_alerts_decrypted(ctx: &str, got: &Value, want: &Value) {
    for w in want["alerts"].as_array().into_iter().flatten() {
        let what = format!(
            "{ctx}: {} {} alert in frame {}",
            w["from"], w["name"], w["frame"]
        );
        let found = alert_at(got, &w["frame"], &w["from"]);
        if w["encrypted"] == true && w["must_decrypt"] == false {
            if let Some(a) = found.filter(|a| !a["description"].is_null()) {
                assert_eq!(a["description"], w["description"], "{what}: description");
                assert_eq!(a["level"], w["level"], "{what}: level");
                assert!(decrypted(a), "{what}: decoded, so `decrypted: true`: {a}");
            }
            continue;
        }
        let a = found.unwrap_or_else(|| panic!("{what} is missing; got {}", got["alerts"]));
        assert_eq!(a["description"], w["description"], "{what}: description");
        assert_eq!(a["level"], w["level"], "{what}: level");
        assert_eq!(a["encrypted"], w["encrypted"], "{what}: encrypted");
        assert_eq!(
            decrypted(a),
            w["encrypted"] == true,
            "{what}: `decrypted` is true exactly for an encrypted alert: {a}"
        );
    }
    assert_no_invented_alerts(ctx, got, want);
}

/// Every alert with a description is one truth lists (same frame, sender, description).
fn assert_no_invented_alerts(ctx: &str, got: &Value, want: &Value) {
    let listed = want["alerts"].as_array().cloned().unwrap_or_default();
    for a in got["alerts"].as_array().into_iter().flatten() {
        if a["description"].is_null() {
            continue;
        }
        assert!(
            listed.iter().any(|w| w["frame"] == a["frame"]
                && w["from"] == a["from"]
                && w["description"] == a["description"]),
            "{ctx}: alert {a} is not among the alerts sent: {listed:?}"
        );
    }
}

/// The alerts with no keys to read them: the plaintext ones decoded, the encrypted ones
/// without a description, none decrypted.
fn assert_alerts_undecrypted(ctx: &str, got: &Value, want: &Value) {
    for a in got["alerts"].as_array().into_iter().flatten() {
        assert!(!decrypted(a), "{ctx}: nothing can be decrypted: {a}");
    }
    for w in want["alerts"].as_array().into_iter().flatten() {
        let what = format!(
            "{ctx}: {} {} alert in frame {}",
            w["from"], w["name"], w["frame"]
        );
        let found = alert_at(got, &w["frame"], &w["from"]);
        if w["encrypted"] == true {
            if let Some(a) = found {
                assert!(
                    a["description"].is_null(),
                    "{what}: encrypted, no description: {a}"
                );
            }
        } else {
            let a = found.unwrap_or_else(|| panic!("{what} is missing; got {}", got["alerts"]));
            assert_eq!(a["description"], w["description"], "{what}: description");
            assert_eq!(a["encrypted"], false, "{what}: plaintext");
        }
    }
    assert_no_invented_alerts(ctx, got, want);
}

/// The ALPN the server chose, where the JSON contract puts it: the ServerHello's up to TLS 1.2;
/// under TLS 1.3 (and QUIC) the ServerHello has none (checked) and the EncryptedExtensions'
/// one is `decrypted.alpn`.
fn alpn_chosen<'a>(ctx: &str, got: &'a Value, want: &Value) -> &'a Value {
    if want["version"] != TLS13 {
        return &got["server_hello"]["alpn"];
    }
    assert!(
        got["server_hello"]["alpn"].is_null(),
        "{ctx}: a TLS 1.3 ServerHello carries no ALPN: {}",
        got["server_hello"]
    );
    &got["decrypted"]["alpn"]
}

fn assert_findings(ctx: &str, got: &Value, want: &Value) {
    let ids = finding_ids(got);
    for id in strings(&want["expected_findings"]) {
        assert!(
            ids.contains(&id),
            "{ctx}: finding `{id}` missing; got {ids:?}"
        );
    }
}

/// Checks every connection of `file` run with its key log against truth: where the keys came
/// from, the hellos, the server and client chains and the ALPN (decrypted when the keys work,
/// as without keys when they do not), the alerts, renegotiation hellos, findings and verdict.
fn check_with_keys(file: &str) -> Vec<Value> {
    let truth = Truth::of(DIR);
    let mut out = Vec::new();
    for (ctx, g, w) in pairs(&truth, file, Keys::Given) {
        assert_eq!(g["keys"], w["keys"], "{ctx}: where the keys came from");
        let sh = &g["server_hello"];
        assert_eq!(sh["version"], w["version"], "{ctx}: version");
        assert_eq!(sh["cipher_suite"], w["cipher_suite"], "{ctx}: cipher suite");
        assert_eq!(g["client_hello"]["sni"], w["sni"], "{ctx}: SNI");
        assert_eq!(
            strings(&g["client_hello"]["alpn"]),
            strings(&w["alpn_offered"]),
            "{ctx}: ALPN offered"
        );
        let works = w["keys_decrypt"] == true;
        let hidden = !works && w["version"] == TLS13;
        let chain = |key: &str| {
            if hidden {
                Vec::new()
            } else {
                strings(&w[key])
            }
        };
        assert_eq!(
            sha256_list(&g["server_certificates"]),
            chain("server_certificates_sha256"),
            "{ctx}: server chain in wire order = {:?}",
            strings(&w["served_pem"])
        );
        assert_eq!(
            sha256_list(&g["client_certificates"]),
            chain("client_certificates_sha256"),
            "{ctx}: client chain in wire order = {:?}",
            strings(&w["client_pem"])
        );
        let alpn = if hidden {
            &Value::Null
        } else {
            &w["alpn_negotiated"]
        };
        assert_eq!(
            alpn_chosen(&ctx, &g, &w),
            alpn,
            "{ctx}: ALPN chosen by the server"
        );
        if works {
            assert_alerts_decrypted(&ctx, &g, &w);
            assert!(
                !finding_ids(&g).contains(KEYS_DO_NOT_DECRYPT),
                "{ctx}: the keys work: {}",
                g["findings"]
            );
        } else {
            assert_alerts_undecrypted(&ctx, &g, &w);
        }
        let more: Vec<&Value> = g["more_client_hellos"]
            .as_array()
            .map(|a| a.iter().map(|h| &h["frame"]).collect())
            .unwrap_or_default();
        for frame in w["renegotiation_client_hello_frames"]
            .as_array()
            .into_iter()
            .flatten()
        {
            assert!(
                more.contains(&frame),
                "{ctx}: the encrypted renegotiation ClientHello in frame {frame} is decrypted; more_client_hellos frames {more:?}"
            );
        }
        assert_findings(&ctx, &g, &w);
        assert_eq!(
            g["verdict"]["id"],
            w["expected_verdict"],
            "{ctx}: verdict; findings {:?}",
            finding_ids(&g)
        );
        out.push(g);
    }
    out
}

/// The same capture without its key log reads as if keys did not exist: no key source, no
/// decrypted alert, no TLS 1.3 chain, no `keys-do-not-decrypt`, and the verdict truth states
/// for that case.
fn check_without_keys(file: &str) {
    let truth = Truth::of(DIR);
    for (ctx, g, w) in pairs(&truth, file, Keys::Withheld) {
        assert!(g["keys"].is_null(), "{ctx}: no keys given: {}", g["keys"]);
        if w["version"] == TLS13 {
            assert!(
                sha256_list(&g["server_certificates"]).is_empty(),
                "{ctx}: TLS 1.3 certificates are encrypted"
            );
            assert!(
                alpn_chosen(&ctx, &g, &w).is_null(),
                "{ctx}: TLS 1.3 ALPN is encrypted"
            );
        }
        assert_alerts_undecrypted(&ctx, &g, &w);
        assert!(
            !finding_ids(&g).contains(KEYS_DO_NOT_DECRYPT),
            "{ctx}: no keys, nothing to fail: {}",
            g["findings"]
        );
        if !w["expected_verdict_without_keys"].is_null() {
            assert_eq!(
                g["verdict"]["id"], w["expected_verdict_without_keys"],
                "{ctx}: verdict without keys"
            );
        }
    }
}

#[test]
fn tls13_leaf_sent_without_its_intermediate_is_named_incomplete_chain_with_the_key_log() {
    let got = check_with_keys("tls13-missing-intermediate.pcap");
    // OpenSSL's client logged only the server's handshake secret (it failed before deriving
    // its own); GnuTLS's alert is encrypted under the client handshake secret.
    assert_eq!(got.len(), 2);
}

#[test]
fn tls13_expired_leaf_is_named_expired_with_the_key_log() {
    check_with_keys("tls13-expired.pcap");
}

#[test]
fn pcapng_decryption_secrets_block_decrypts_without_a_keylog_flag() {
    let truth = Truth::of(DIR);
    assert!(truth.file("tls13-expired-embedded-secrets.pcapng")["keylog"].is_null());
    let got = check_with_keys("tls13-expired-embedded-secrets.pcapng");
    assert!(got.iter().all(|c| c["keys"] == "pcapng"));
}

#[test]
fn tls13_client_trusting_another_root_rejects_a_chain_of_unknown_issuer() {
    check_with_keys("tls13-unknown-ca.pcap");
}

#[test]
fn tls13_host_name_mismatch_is_named_from_the_decrypted_leaf() {
    check_with_keys("tls13-hostname-mismatch.pcap");
}

#[test]
fn tls13_client_chain_and_certificate_required_alert_are_decrypted() {
    check_with_keys("tls13-client-certificate.pcap");
}

#[test]
fn tls13_hello_retry_request_still_decrypts_with_the_first_client_random() {
    check_with_keys("tls13-hello-retry.pcap");
}

#[test]
fn tls13_chacha20_and_aes256_handshakes_are_decrypted() {
    check_with_keys("tls13-chacha20-aes256.pcap");
}

#[test]
fn tls12_refused_renegotiation_decrypts_its_hello_warning_and_fatal_alert() {
    check_with_keys("tls12-renegotiation-refused.pcap");
}

#[test]
fn tls12_cbc_ccm_and_chacha20_suites_decrypt_their_close_notify_alerts() {
    let got = check_with_keys("tls12-suites.pcap");
    let truth = Truth::of(DIR);
    let macs: Vec<String> = truth
        .connections("tls12-suites.pcap")
        .iter()
        .map(|c| c["mac"].as_str().unwrap_or_default().to_owned())
        .collect();
    for kind in ["etm", "no_etm", "aead"] {
        assert!(
            macs.iter().any(|m| m == kind),
            "the capture has a {kind} suite"
        );
    }
    assert_eq!(got.len(), macs.len());
}

#[test]
fn curl_python_and_nginx_key_logs_reveal_the_chain_and_the_alpn() {
    check_with_keys("tls13-curl-nginx-python.pcap");
}

#[test]
fn quic_handshake_packets_show_the_chain_and_alpn_with_the_key_log() {
    check_with_keys("quic-h3.pcap");
}

#[test]
fn quic_client_rejection_in_a_handshake_packet_is_decrypted_and_named() {
    check_with_keys("quic-rejected.pcap");
}

#[test]
fn a_key_log_with_the_wrong_secrets_is_reported_and_decrypts_nothing() {
    let truth = Truth::of(DIR);
    assert!(truth
        .connections("tls13-wrong-keys.pcap")
        .iter()
        .all(|c| c["keys_decrypt"] == false
            && strings(&c["expected_findings"]).contains(&KEYS_DO_NOT_DECRYPT.to_owned())));
    check_with_keys("tls13-wrong-keys.pcap");
}

#[test]
fn every_capture_without_its_key_log_reads_as_without_keys() {
    let truth = Truth::of(DIR);
    for (file, entry) in truth.files() {
        // A pcapng with a Decryption Secrets Block always carries its keys.
        if entry["keylog"].is_string() {
            check_without_keys(file);
        }
    }
}

/// Adding a capture adds a check: every capture in the folder is in truth.json, each has its
/// key log beside it or embedded, and each is under 1 MiB.
#[test]
fn every_capture_in_the_folder_is_in_truth_json_with_its_key_log_and_small() {
    let truth = Truth::of(DIR);
    let mut files = 0;
    for e in std::fs::read_dir(path("")).expect("captures/keylog is readable") {
        let p = e.expect("directory entry").path();
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if !(name.ends_with(".pcap") || name.ends_with(".pcapng")) {
            continue;
        }
        files += 1;
        let entry = truth.file(&name);
        match entry["keylog"].as_str() {
            Some(k) => assert!(path(k).is_file(), "{name}: key log {k} is missing"),
            None => assert_eq!(entry["keys"], "pcapng", "{name}: keys embedded"),
        }
        let n = std::fs::metadata(&p).expect("metadata").len();
        assert!(n < 1 << 20, "{name} is {n} bytes");
        assert_eq!(entry["bytes"], n, "{name}: the file truth.json describes");
    }
    assert_eq!(
        files,
        truth.files().len(),
        "truth.json lists only files that exist"
    );
}

/// truth.json is made from how the captures were made; tshark's decrypted reading, stored
/// beside it, must agree. This guards truth.json itself and needs no tlsmortem.
#[test]
fn truth_json_agrees_with_tsharks_decrypted_reading() {
    let truth = Truth::of(DIR);
    for (name, entry) in truth.files() {
        let want = truth.connections(name);
        let shark = entry["tshark"].as_array().expect("tshark list");
        assert_eq!(shark.len(), want.len(), "{name}: tshark's connection count");
        for (w, s) in want.iter().zip(shark) {
            let ctx = format!("{name} ({})", w["client"]);
            assert_eq!(s["client_port"], w["client_port"], "{ctx}: client port");
            assert_eq!(s["sni"], w["sni"], "{ctx}: SNI");
            assert_eq!(s["server_hello_version"], w["version"], "{ctx}: version");
            assert_eq!(s["server_hello_cipher"], w["cipher_suite"], "{ctx}: cipher");
            assert_eq!(s["alpn_negotiated"], w["alpn_negotiated"], "{ctx}: ALPN");
            assert_eq!(
                s["server_certificates_sha256"], w["server_certificates_sha256"],
                "{ctx}: server chain"
            );
            assert_eq!(
                s["client_certificates_sha256"], w["client_certificates_sha256"],
                "{ctx}: client chain"
            );
            let alerts = |v: &Value| -> Vec<(Value, Value, Value)> {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| {
                        (
                            a["frame"].clone(),
                            a["from"].clone(),
                            a["description"].clone(),
                        )
                    })
                    .collect()
            };
            assert_eq!(alerts(&s["alerts"]), alerts(&w["alerts"]), "{ctx}: alerts");
        }
    }
}
