//! The command line: filters, exit codes, stdin and compressed input, checked against the
//! ground truth of the project's captures (`captures/netns/truth.json`).

mod common;

use std::io::Write;

use serde_json::Value;

use common::fixtures::{captures, root, TempDir};
use common::run::{run, run_with_stdin, tlsmortem};
use common::truth::Truth;

/// Every connection the netns truth lists for a capture taken at the client, with its file.
fn netns_truth() -> Vec<(String, Value)> {
    let t = Truth::of("netns");
    let mut out = Vec::new();
    for file in t.files().keys() {
        if file.ends_with(".client.pcap") {
            for c in t.connections(file) {
                out.push((file.clone(), c.clone()));
            }
        }
    }
    out
}

fn client_captures() -> Vec<String> {
    let mut files: Vec<String> = netns_truth()
        .into_iter()
        .map(|(f, _)| format!("captures/netns/{f}"))
        .collect();
    files.sort();
    files.dedup();
    files
}

#[test]
fn verdict_filter_keeps_exactly_the_connections_made_to_be_cut() {
    let got = run(tlsmortem()
        .args(["--json", "--verdict", "rst-after-client-hello"])
        .args(client_captures()))
    .connection_records();
    let want = netns_truth()
        .iter()
        .filter(|(_, c)| c["expected_verdict"] == "rst-after-client-hello")
        .count();
    assert_eq!(got.len(), want);
    assert!(got
        .iter()
        .all(|c| c["verdict"]["id"] == "rst-after-client-hello"));
}

#[test]
fn sni_glob_filter_matches_case_insensitively_and_drops_the_rest() {
    let got = run(tlsmortem()
        .args(["--json", "--sni", "BLOCKED.*"])
        .args(client_captures()))
    .connection_records();
    let want = netns_truth()
        .iter()
        .filter(|(_, c)| c["sni"].as_str().is_some_and(|s| s.starts_with("blocked.")))
        .count();
    assert!(want > 0);
    assert_eq!(got.len(), want);
}

#[test]
fn port_and_host_filters_select_the_nginx_connections() {
    // tls13-curl-nginx.pcap: two curl connections to nginx on 127.0.0.1:8443 (captures/truth.json).
    let got = run(tlsmortem().args([
        "--json",
        "--port",
        "8443",
        "--host",
        "127.0.0.1",
        "captures/tls13-curl-nginx.pcap",
        "captures/tls12-openssl.pcap",
    ]))
    .connection_records();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|c| c["server"]["port"] == 8443));
}

#[test]
fn fail_on_sets_the_exit_code_from_the_findings() {
    let injected = run(tlsmortem().args([
        "--json",
        "--fail-on",
        "high",
        "captures/netns/inject-single-rst.client.pcap",
    ]));
    assert_eq!(injected.code, Some(1), "an injected RST is a high finding");
    let normal = run(tlsmortem().args([
        "--json",
        "--fail-on",
        "high",
        "captures/netns/normal-openssl.client.pcap",
    ]));
    assert_eq!(normal.code, Some(0));
    let missing = run(tlsmortem().args(["--json", "captures/does-not-exist.pcap"]));
    assert_eq!(missing.code, Some(2));
    assert!(
        missing.stderr_text().contains("does-not-exist.pcap"),
        "the error names the file"
    );
}

#[test]
fn stdin_and_gzip_input_give_the_same_records_as_the_file() {
    let file = "captures/long-chain-many-segments.pcap";
    let bytes = std::fs::read(root().join(file)).expect("capture");
    let direct = run(tlsmortem().args(["--json", file])).connection_records();
    let piped = run_with_stdin(tlsmortem().args(["--json", "-"]), &bytes).connection_records();
    let dir = TempDir::new("cli");
    let gz = dir.path().join("long-chain-many-segments.pcap.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&bytes).expect("gzip");
    std::fs::write(&gz, enc.finish().expect("gzip")).expect("write gz");
    let zipped = run(tlsmortem().arg("--json").arg(&gz)).connection_records();
    assert_eq!(direct.len(), 1);
    // Only the capture name differs.
    let strip = |v: &[Value]| {
        v.iter()
            .map(|c| {
                let mut c = c.clone();
                c["capture"] = Value::Null;
                c
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&direct), strip(&piped));
    assert_eq!(strip(&direct), strip(&zipped));
}

#[test]
fn several_inputs_side_by_side_give_the_records_of_one_at_a_time_in_input_order() {
    // Small captures and a gzip-compressed one: read side by side, one worker each.
    let dir = TempDir::new("side");
    let gz = dir.path().join("tls13.pcapng.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&std::fs::read(captures("tls13.pcapng")).expect("capture"))
        .expect("gzip");
    std::fs::write(&gz, enc.finish().expect("gzip")).expect("write");
    let run_threads = |threads: &str| {
        let r = run(tlsmortem()
            .args([
                "--json",
                "--threads",
                threads,
                "captures/certs",
                "captures/netns",
            ])
            .arg(&gz)
            .arg("captures/tls12-openssl.pcap"));
        assert!(r.code == Some(0), "{}", r.stderr_text());
        r
    };
    let one = run_threads("1");
    let lines = one.connection_records();
    // Input order: the directories' files sorted, then the gzip file, then the last capture.
    let captures: Vec<&str> = lines
        .iter()
        .map(|v| v["capture"].as_str().expect("capture"))
        .collect();
    let mut order = captures.clone();
    order.dedup();
    assert!(
        order
            .first()
            .is_some_and(|c| c.starts_with("captures/certs/")),
        "{order:?}"
    );
    assert_eq!(order.last(), Some(&"captures/tls12-openssl.pcap"));
    assert!(order.iter().any(|c| c.ends_with("tls13.pcapng.gz")));
    let mut sorted_dirs: Vec<&str> = order
        .iter()
        .copied()
        .filter(|c| c.starts_with("captures/"))
        .collect();
    sorted_dirs.pop();
    let mut expect = sorted_dirs.clone();
    expect.sort();
    assert_eq!(sorted_dirs, expect);
    for threads in ["2", "4"] {
        assert!(
            one.stdout == run_threads(threads).stdout,
            "{threads} workers"
        );
    }
}

#[test]
fn html_writes_the_page_beside_unchanged_json_and_reports_its_size() {
    let dir = TempDir::new("cli-html");
    let page = dir.path().join("report.html");
    let file = "captures/netns/inject-single-rst.client.pcap";
    let plain = run(tlsmortem().args(["--json", file]));
    let with =
        run(tlsmortem()
            .args(["--json", "--html"])
            .arg(&page)
            .args(["--html-detail", "3", file]));
    assert_eq!(with.code, Some(0), "{}", with.stderr_text());
    assert_eq!(
        with.stdout, plain.stdout,
        "JSON lines do not change with --html"
    );
    let size = std::fs::metadata(&page)
        .expect("the page was written")
        .len();
    let err = with.stderr_text();
    assert!(err.contains(&format!("HTML report: {size} bytes")), "{err}");
    assert!(
        err.contains("1 of 1 failed handshakes drawn in full (at most 3 per verdict"),
        "{err}"
    );
    let html = std::fs::read_to_string(&page).expect("UTF-8 page");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg class=\"ladder\"").count(), 1);
}

#[test]
fn html_into_a_missing_folder_cannot_run_and_says_which_path() {
    let out = run(tlsmortem().args([
        "--html",
        "/nonexistent-folder/r.html",
        "captures/tls12-openssl.pcap",
    ]));
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr_text().contains("/nonexistent-folder/r.html"),
        "{}",
        out.stderr_text()
    );
}

#[test]
fn the_text_report_draws_a_ladder_unless_told_not_to() {
    let file = "captures/netns/inject-single-rst.client.pcap";
    let with = run(tlsmortem().args(["-q", file])).stdout_text();
    let without = run(tlsmortem().args(["-q", "--no-ladder", file])).stdout_text();
    assert!(
        with.contains("  ladder (ms since the first packet"),
        "{with}"
    );
    assert!(!without.contains("  ladder ("), "{without}");
    assert!(with.len() > without.len());
}
