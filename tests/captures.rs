//! Runs the `tlsmortem` binary with `--json` on every capture in `captures/` and checks the
//! JSON lines against `captures/truth.json`, the ground truth written by `captures/make.sh`
//! from how each capture was made (flags, PEM files served, rewrites), never from tlsmortem.
//!
//! Assertions are field-level (SNI, versions, cipher, ALPN, certificate hashes in wire order,
//! verdict ids, finding ids) so that adding a field to the output does not break them.

mod common;

use serde_json::Value;

use common::fixtures::{captures, captures_dir};
use common::json::{finding_ids, sha256_list, strings};
use common::run::{run, tlsmortem};
use common::truth::Truth;

/// Keys every connection object carries, per the JSON contract in the README.
const CONTRACT_KEYS: &[&str] = &[
    "capture",
    "transport",
    "client",
    "server",
    "start",
    "client_hello",
    "server_hello",
    "server_certificates",
    "client_certificates",
    "alerts",
    "tcp",
    "verdict",
    "findings",
];

/// Runs `tlsmortem --json captures/FILE`, requires exit code 0 or 1 (2 means it could not
/// run), and parses every non-empty stdout line as one JSON connection object.
fn run_json(file: &str) -> Vec<Value> {
    common::run::run_json(tlsmortem().arg("--json").arg(captures(file)))
}

/// Checks one connection object against one expected connection from truth.json.
fn assert_connection(file: &str, i: usize, got: &Value, want: &Value) {
    let ctx = format!("{file} connection #{i}");
    for key in CONTRACT_KEYS {
        assert!(
            got.get(*key).is_some(),
            "{ctx}: missing key `{key}` in {got}"
        );
    }
    assert_eq!(got["transport"], "tcp", "{ctx}: transport");
    assert_eq!(got["client"]["ip"], want["client_ip"], "{ctx}: client ip");
    assert_eq!(got["server"]["ip"], want["server_ip"], "{ctx}: server ip");
    assert_eq!(
        got["server"]["port"], want["server_port"],
        "{ctx}: server port"
    );
    if let Some(port) = want.get("client_port") {
        assert_eq!(&got["client"]["port"], port, "{ctx}: client port");
    }

    let ch = &got["client_hello"];
    assert!(ch.is_object(), "{ctx}: client_hello is {ch}");
    assert_eq!(ch["sni"], want["sni"], "{ctx}: SNI");
    assert_eq!(
        strings(&ch["alpn"]),
        strings(&want["alpn_offered"]),
        "{ctx}: ALPN offered"
    );

    let sh = &got["server_hello"];
    if want["version"].is_null() {
        assert!(sh.is_null(), "{ctx}: expected no ServerHello, got {sh}");
    } else {
        assert!(sh.is_object(), "{ctx}: server_hello is {sh}");
        assert_eq!(sh["version"], want["version"], "{ctx}: negotiated version");
        if !want["cipher_suite"].is_null() {
            assert_eq!(
                sh["cipher_suite"], want["cipher_suite"],
                "{ctx}: cipher suite"
            );
        }
        if want["alpn_negotiated_visible"] == Value::Bool(true) {
            assert_eq!(
                sh["alpn"], want["alpn_negotiated"],
                "{ctx}: ALPN chosen by the server"
            );
        } else {
            assert!(
                sh["alpn"].is_null(),
                "{ctx}: TLS 1.3 ALPN is encrypted, got {}",
                sh["alpn"]
            );
        }
        assert_eq!(
            sh["hello_retry_request"], false,
            "{ctx}: hello_retry_request"
        );
    }

    assert_eq!(
        sha256_list(&got["server_certificates"]),
        strings(&want["server_certificates_sha256"]),
        "{ctx}: server certificate SHA-256 list in wire order"
    );
    assert_eq!(
        sha256_list(&got["client_certificates"]),
        strings(&want["client_certificates_sha256"]),
        "{ctx}: client certificate SHA-256 list in wire order"
    );
}

/// Checks every connection of `file` against truth.json, verdicts included.
fn check_capture(file: &str) -> Vec<Value> {
    let got = run_json(file);
    let truth = Truth::of("");
    let want = truth.connections(file);
    assert_eq!(
        got.len(),
        want.len(),
        "{file}: connection count; got {got:#?}"
    );
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_connection(file, i, g, w);
        assert_eq!(
            g["verdict"]["id"], w["outcome"],
            "{file} connection #{i}: verdict id"
        );
    }
    got
}

/// The facts that must not depend on the container format: everything but the file name,
/// with the start instant normalized (a nanosecond source may print more zero digits).
fn facts(conn: &Value) -> Value {
    let mut v = conn.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("capture");
        if let Some(Value::String(s)) = o.get("start").cloned() {
            o.insert("start".into(), Value::String(normalize_rfc3339(&s)));
        }
    }
    v
}

/// "2026-01-02T03:04:05.123400000Z" → "2026-01-02T03:04:05.1234Z".
fn normalize_rfc3339(s: &str) -> String {
    let Some((head, frac)) = s.split_once('.') else {
        return s.to_owned();
    };
    let digits_end = frac
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(frac.len());
    let (digits, zone) = frac.split_at(digits_end);
    let digits = digits.trim_end_matches('0');
    if digits.is_empty() {
        format!("{head}{zone}")
    } else {
        format!("{head}.{digits}{zone}")
    }
}

/// Handshake facts two captures of the same setup share (ports and times differ).
fn handshake_facts(conn: &Value) -> Value {
    serde_json::json!({
        "sni": conn["client_hello"]["sni"],
        "alpn": conn["client_hello"]["alpn"],
        "version": conn["server_hello"]["version"],
        "cipher": conn["server_hello"]["cipher_suite"],
        "server_certificates": sha256_list(&conn["server_certificates"]),
        "client_certificates": sha256_list(&conn["client_certificates"]),
        "verdict": conn["verdict"]["id"],
    })
}

#[test]
fn tls12_openssl_capture_yields_one_complete_connection_with_forced_cipher() {
    let got = check_capture("tls12-openssl.pcap");
    let c = &got[0];
    assert_eq!(c["server_hello"]["cipher_suite"], 0xC02F);
    assert_eq!(c["server_hello"]["version"], 0x0303);
    assert_eq!(c["tcp"]["syn"], true, "the capture starts before the SYN");
    assert_eq!(c["tcp"]["syn_ack"], true);
    assert!(
        c["tcp"]["rtt_ms"].is_number(),
        "SYN and SYN-ACK seen, so an RTT: {}",
        c["tcp"]
    );
    assert_eq!(
        c["tcp"]["resets"].as_array().map(Vec::len),
        Some(0),
        "no RST in a clean close"
    );
    let certs = c["server_certificates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(certs.len(), 2);
    assert_eq!(
        strings(&certs[0]["san_dns"]),
        ["www.example.test", "example.test"]
    );
}

#[test]
fn tls13_curl_nginx_capture_yields_two_connections_with_the_offered_alpn() {
    let got = check_capture("tls13-curl-nginx.pcap");
    assert_eq!(strings(&got[0]["client_hello"]["alpn"]), ["h2", "http/1.1"]);
    assert_eq!(strings(&got[1]["client_hello"]["alpn"]), ["http/1.1"]);
    for c in &got {
        assert!(
            string_list_u64(&c["client_hello"]["supported_versions"]).contains(&0x0304),
            "curl --tlsv1.3 offers TLS 1.3 in supported_versions: {}",
            c["client_hello"]
        );
        assert_eq!(c["server_hello"]["cipher_suite"], 0x1302);
    }
}

fn string_list_u64(v: &Value) -> Vec<u64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

#[test]
fn tls10_openssl_capture_negotiates_tls_1_0_with_the_server_forced_cipher() {
    let got = check_capture("tls10-openssl.pcap");
    assert_eq!(got[0]["server_hello"]["version"], 0x0301);
    assert_eq!(got[0]["server_hello"]["cipher_suite"], 0xC013);
}

#[test]
fn client_hello_split_inside_the_sni_across_two_segments_is_reassembled() {
    let truth = Truth::of("");
    let t = truth.file("client-hello-two-segments.pcap");
    assert_eq!(t["client_hello_segments"], 2);
    let got = check_capture("client-hello-two-segments.pcap");
    assert_eq!(got[0]["client_hello"]["sni"], "www.example.test");
    assert_eq!(got[0]["server_hello"]["cipher_suite"], 0xC030);
}

#[test]
fn long_chain_spread_over_many_segments_yields_four_certificates_in_wire_order() {
    let got = check_capture("long-chain-many-segments.pcap");
    let certs = got[0]["server_certificates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(certs.len(), 4, "leaf + 3 intermediates");
    let t = Truth::of("");
    let pki = &t["pki"];
    let order = ["longleaf", "long3", "long2", "long1"];
    for (cert, name) in certs.iter().zip(order) {
        assert_eq!(cert["sha256"], pki[name]["sha256"], "{name} in wire order");
    }
}

#[test]
fn reordered_and_retransmitted_segments_yield_the_same_chain_as_the_original() {
    let truth = Truth::of("");
    let t = truth.file("reordered-retransmitted.pcap");
    assert_eq!(t["derived_from"], "long-chain-many-segments.pcap");
    let got = check_capture("reordered-retransmitted.pcap");
    let original = run_json("long-chain-many-segments.pcap");
    assert_eq!(original.len(), 1);
    assert_eq!(
        sha256_list(&got[0]["server_certificates"]),
        sha256_list(&original[0]["server_certificates"]),
        "reordering and retransmissions must not change the reassembled chain"
    );
    assert_eq!(handshake_facts(&got[0]), handshake_facts(&original[0]));
}

#[test]
fn rst_right_after_client_hello_is_the_verdict_and_no_server_hello_is_reported() {
    let got = check_capture("rst-after-client-hello.pcap");
    let c = &got[0];
    assert_eq!(c["client_hello"]["sni"], "blocked.example.test");
    assert!(c["server_hello"].is_null());
    assert_eq!(c["verdict"]["id"], "rst-after-client-hello");
    let resets = c["tcp"]["resets"].as_array().map(Vec::len).unwrap_or(0);
    assert!(resets >= 1, "the server's RST is recorded: {}", c["tcp"]);
}

#[test]
fn truncated_capture_keeps_its_connection_and_reports_truncated_capture() {
    let truth = Truth::of("");
    let t = truth.file("truncated.pcap");
    assert_eq!(t["truncation"]["frames_kept"], t["frames"]);
    let r = run(tlsmortem().arg("--json").arg(captures("truncated.pcap")));
    assert!(
        r.ran(),
        "a truncated file is analyzed, not a run error: exit {:?}, stderr:\n{}",
        r.code,
        r.stderr_text()
    );
    let got = r.json_lines();
    let want = truth.connections("truncated.pcap");
    assert_eq!(
        got.len(),
        want.len(),
        "the frames before the cut keep their connection"
    );
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_connection("truncated.pcap", i, g, w);
    }
    assert!(
        got.iter()
            .any(|c| finding_ids(c).contains("truncated-capture")),
        "some connection carries a truncated-capture finding: {got:#?}"
    );
}

#[test]
fn big_endian_nanosecond_pcap_gives_the_same_connection_facts_and_instants_as_its_source() {
    let truth = Truth::of("");
    let t = truth.file("tls12-bigendian-nanosecond.pcap");
    assert_eq!(t["rewrite"]["magic"], "0xa1b23c4d");
    let got = check_capture("tls12-bigendian-nanosecond.pcap");
    let source = run_json("tls12-openssl.pcap");
    assert_eq!(got.len(), source.len());
    for (g, s) in got.iter().zip(&source) {
        assert_eq!(
            facts(g),
            facts(s),
            "byte order and timestamp resolution change nothing"
        );
    }
}

#[test]
fn pcapng_with_two_interfaces_of_different_resolutions_yields_the_tls13_connection() {
    let truth = Truth::of("");
    let t = truth.file("tls13.pcapng");
    assert_eq!(t["format"], "pcapng");
    let got = check_capture("tls13.pcapng");
    let c = &got[0];
    assert_eq!(c["server_hello"]["version"], 0x0304);
    assert_eq!(c["server_hello"]["cipher_suite"], 0x1302);
    assert_eq!(c["tcp"]["syn"], true);
    assert_eq!(c["tcp"]["syn_ack"], true);
    // SYN is on the microsecond interface and SYN-ACK on the nanosecond one; on loopback the
    // RTT is well under a second, so a resolution mix-up (×1000) would show here.
    let rtt = c["tcp"]["rtt_ms"].as_f64().unwrap_or(f64::NAN);
    assert!(
        (0.0..100.0).contains(&rtt),
        "loopback RTT in ms, got {}",
        c["tcp"]["rtt_ms"]
    );
}

#[test]
fn sll2_capture_gives_the_same_connection_facts_as_the_ethernet_one() {
    let truth = Truth::of("");
    let t = truth.file("tls12-sll2.pcap");
    assert_eq!(t["link_type"], 276);
    let got = check_capture("tls12-sll2.pcap");
    let ethernet = run_json("tls12-openssl.pcap");
    assert_eq!(got.len(), ethernet.len());
    for (g, e) in got.iter().zip(&ethernet) {
        assert_eq!(handshake_facts(g), handshake_facts(e));
    }
}

#[test]
fn mtls_capture_shows_the_client_certificate_chain_in_wire_order() {
    let got = check_capture("mtls-openssl.pcap");
    let t = Truth::of("");
    assert_eq!(
        sha256_list(&got[0]["client_certificates"]),
        [
            t["pki"]["client"]["sha256"].as_str().unwrap_or_default(),
            t["pki"]["inter"]["sha256"].as_str().unwrap_or_default()
        ]
    );
}

#[test]
fn text_mode_exits_zero_and_prints_the_sni() {
    let r = run(tlsmortem().arg(captures("tls12-openssl.pcap")));
    assert_eq!(r.code, Some(0), "stderr:\n{}", r.stderr_text());
    let stdout = r.stdout_text();
    assert!(
        stdout.contains("www.example.test"),
        "text output names the SNI:\n{stdout}"
    );
}

/// Adding a capture adds a check: every file in captures/ is described in truth.json and
/// tlsmortem finds exactly the connections it lists.
#[test]
fn every_capture_in_the_directory_is_in_truth_json_and_yields_its_connection_count() {
    let t = Truth::of("");
    let mut files: Vec<String> = std::fs::read_dir(captures_dir())
        .expect("captures/ is readable")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 12,
        "captures/ holds the generated captures: {files:?}"
    );
    let mut failures = Vec::new();
    for f in &files {
        let want = &t["files"][f.as_str()]["connections"];
        let Some(want) = want.as_array() else {
            failures.push(format!("{f}: not in truth.json"));
            continue;
        };
        let r = run(tlsmortem().arg("--json").arg(captures(f)));
        if !r.ran() {
            failures.push(format!(
                "{f}: exit {:?}: {}",
                r.code,
                r.stderr_text().trim()
            ));
            continue;
        }
        let got = r
            .stdout_text()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count();
        if got != want.len() {
            failures.push(format!(
                "{f}: {got} JSON lines, truth.json lists {}",
                want.len()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// truth.json is made from how the captures were made; tshark's independent reading, stored
/// next to it, must agree. This guards truth.json itself and needs no tlsmortem.
#[test]
fn truth_json_agrees_with_tsharks_reading_of_every_capture() {
    let t = Truth::of("");
    let files = t["files"].as_object().expect("truth.json has files");
    for (name, entry) in files {
        let want = entry["connections"].as_array().expect("connections list");
        let shark = entry["tshark"].as_array().expect("tshark list");
        assert_eq!(shark.len(), want.len(), "{name}: tshark's TCP stream count");
        for (w, s) in want.iter().zip(shark) {
            assert_eq!(s["sni"], w["sni"], "{name}: SNI");
            assert_eq!(
                strings(&s["alpn_offered"]),
                strings(&w["alpn_offered"]),
                "{name}"
            );
            assert_eq!(s["server_hello_version"], w["version"], "{name}: version");
            assert_eq!(
                s["server_hello_cipher"], w["cipher_suite"],
                "{name}: cipher"
            );
            assert_eq!(
                s["server_certificates_sha256"], w["server_certificates_sha256"],
                "{name}: server chain"
            );
            assert_eq!(
                s["client_certificates_sha256"], w["client_certificates_sha256"],
                "{name}: client chain"
            );
        }
    }
}

#[test]
fn rfc3339_normalization_drops_trailing_fraction_zeros_only() {
    assert_eq!(
        normalize_rfc3339("2026-01-02T03:04:05.123400000Z"),
        "2026-01-02T03:04:05.1234Z"
    );
    assert_eq!(
        normalize_rfc3339("2026-01-02T03:04:05.000000Z"),
        "2026-01-02T03:04:05Z"
    );
    assert_eq!(
        normalize_rfc3339("2026-01-02T03:04:05Z"),
        "2026-01-02T03:04:05Z"
    );
}
