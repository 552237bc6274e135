//! Version and cipher mismatches between real openssl peers (captures/mismatch/make.sh):
//! a TLS 1.3-only server meeting a TLS 1.2-only client, and a server allowing only
//! AES128-SHA meeting a client offering only ECDHE-RSA-AES256-GCM-SHA384. The expected
//! verdicts come from how each capture was made.

mod common;

use serde_json::Value;

use common::fixtures::captures;
use common::run::{run, tlsmortem};

fn only_connection(file: &str) -> Value {
    let lines = run(tlsmortem()
        .arg("--json")
        .arg(captures(&format!("mismatch/{file}"))))
    .json_every_line();
    assert_eq!(lines.len(), 1, "{file}: one connection");
    lines.into_iter().next().unwrap_or_default()
}

#[test]
fn a_tls13_only_server_and_a_tls12_only_client_are_a_version_mismatch() {
    let c = only_connection("version-mismatch.pcap");
    assert_eq!(c["verdict"]["id"], "version-mismatch", "{}", c["verdict"]);
    assert!(c["server_hello"].is_null());
    assert_eq!(c["alerts"][0]["description"], 70);
    assert!(c["findings"].as_array().is_some_and(|f| f
        .iter()
        .any(|x| x["id"] == "version-mismatch" && x["severity"] == "high")));
}

#[test]
fn disjoint_cipher_suites_are_no_shared_cipher() {
    let c = only_connection("no-shared-cipher.pcap");
    assert_eq!(c["verdict"]["id"], "no-shared-cipher", "{}", c["verdict"]);
    // The client offered exactly the one suite it was given (0xc030).
    assert_eq!(
        c["client_hello"]["cipher_suites"]
            .as_array()
            .map(|v| v.contains(&Value::from(0xc030))),
        Some(true)
    );
    assert_eq!(c["alerts"][0]["description"], 40);
}
