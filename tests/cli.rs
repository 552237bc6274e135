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

/// A small real capture, for the input checks below.
fn small_capture() -> Vec<u8> {
    std::fs::read(captures("client-hello-two-segments.pcap")).expect("capture")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("in memory");
    e.finish().expect("in memory")
}

#[test]
fn an_empty_folder_says_so_and_exits_2() {
    let dir = TempDir::new("empty-folder");
    let r = run(tlsmortem().arg(dir.path()));
    assert_eq!(r.code, Some(2), "{}", r.stderr_text());
    assert!(
        r.stderr_text().contains("no capture files"),
        "{}",
        r.stderr_text()
    );
    assert!(r.stdout.is_empty(), "no report: {}", r.stdout_text());
}

#[test]
fn a_capture_header_followed_by_text_is_an_error_not_an_empty_report() {
    let dir = TempDir::new("header-then-text");
    let path = dir.path().join("text.pcap");
    let mut bytes = small_capture()[..24].to_vec();
    bytes.extend_from_slice(b"this is a text file, not packets; it goes on for a while\n");
    std::fs::write(&path, bytes).expect("write");
    let r = run(tlsmortem().arg(&path));
    assert_eq!(r.code, Some(2), "{}", r.stderr_text());
    assert!(
        r.stderr_text().contains("no frame could be read"),
        "{}",
        r.stderr_text()
    );
}

#[test]
fn gzip_padded_with_zeros_reads_whole_and_a_double_gzip_says_so() {
    let dir = TempDir::new("gzip-odd");
    let plain = run(tlsmortem()
        .arg("--json")
        .arg(captures("client-hello-two-segments.pcap")))
    .expect_ran();
    let padded = dir.path().join("padded.pcap.gz");
    let mut gz = gzip(&small_capture());
    gz.extend_from_slice(&[0; 4096]);
    std::fs::write(&padded, &gz).expect("write");
    let r = run(tlsmortem().arg("--json").arg(&padded)).expect_ran();
    assert!(
        !r.stderr_text().contains("cut short"),
        "{}",
        r.stderr_text()
    );
    assert_eq!(
        r.stdout_text().lines().count(),
        plain.stdout_text().lines().count(),
        "the same connections as the plain file"
    );
    let twice = dir.path().join("twice.pcap.gz");
    std::fs::write(&twice, gzip(&gzip(&small_capture()))).expect("write");
    let r = run(tlsmortem().arg(&twice));
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr_text().contains("decompressed once"),
        "{}",
        r.stderr_text()
    );
}

#[test]
fn a_missing_input_prints_the_error_and_no_empty_report() {
    let r = run(tlsmortem().arg("no-such-file.pcap"));
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr_text().contains("cannot open"),
        "{}",
        r.stderr_text()
    );
    assert!(r.stdout.is_empty(), "{}", r.stdout_text());
}

#[test]
fn summary_json_as_the_readme_writes_it_is_accepted() {
    let r = run(tlsmortem()
        .args(["summary", "--json"])
        .arg(captures("client-hello-two-segments.pcap")))
    .expect_ran();
    for line in r.stdout_text().lines() {
        let v: Value = serde_json::from_str(line).expect("JSON lines");
        assert!(v.get("summary").is_some(), "{line}");
    }
    assert!(r.stdout_text().lines().count() >= 2);
}

#[test]
fn an_unsupported_link_type_is_named() {
    let dir = TempDir::new("link-105");
    let path = dir.path().join("wifi.pcap");
    let mut bytes = small_capture();
    // LINKTYPE_IEEE802_11 (105) in the file header's link type field.
    bytes[20..24].copy_from_slice(&105u32.to_le_bytes());
    std::fs::write(&path, bytes).expect("write");
    let r = run(tlsmortem().arg(&path)).expect_ran();
    assert!(
        r.stderr_text().contains("link type 105"),
        "{}",
        r.stderr_text()
    );
}

#[test]
fn max_memory_takes_sizes_and_refuses_nonsense() {
    let ok = run(tlsmortem()
        .args(["--json", "--max-memory", "256M"])
        .arg(captures("client-hello-two-segments.pcap")))
    .expect_ran();
    assert_eq!(ok.stdout_text().lines().count(), 1);
    for bad in ["lots", "1M"] {
        let r = run(tlsmortem()
            .args(["--max-memory", bad])
            .arg(captures("client-hello-two-segments.pcap")));
        assert_eq!(r.code, Some(2), "--max-memory {bad}: {}", r.stderr_text());
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
