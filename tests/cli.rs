//! The command line: filters, exit codes, stdin and compressed input, checked against the
//! ground truth of the project's captures (`captures/netns/truth.json`).

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tlsmortem"))
}

fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .filter(|v: &Value| v.get("client").is_some())
        .collect()
}

fn netns_truth() -> Vec<(String, Value)> {
    let t: Value =
        serde_json::from_str(&std::fs::read_to_string("captures/netns/truth.json").expect("truth"))
            .expect("json");
    let mut out = Vec::new();
    for (file, facts) in t["files"].as_object().expect("files") {
        if file.ends_with(".client.pcap") {
            for c in facts["connections"].as_array().expect("connections") {
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
    let out = bin()
        .args(["--json", "--verdict", "rst-after-client-hello"])
        .args(client_captures())
        .output()
        .expect("runs");
    let got = json_lines(&out.stdout);
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
    let out = bin()
        .args(["--json", "--sni", "BLOCKED.*"])
        .args(client_captures())
        .output()
        .expect("runs");
    let got = json_lines(&out.stdout);
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
    let out = bin()
        .args([
            "--json",
            "--port",
            "8443",
            "--host",
            "127.0.0.1",
            "captures/tls13-curl-nginx.pcap",
            "captures/tls12-openssl.pcap",
        ])
        .output()
        .expect("runs");
    let got = json_lines(&out.stdout);
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|c| c["server"]["port"] == 8443));
}

#[test]
fn fail_on_sets_the_exit_code_from_the_findings() {
    let injected = bin()
        .args([
            "--json",
            "--fail-on",
            "high",
            "captures/netns/inject-single-rst.client.pcap",
        ])
        .output()
        .expect("runs");
    assert_eq!(
        injected.status.code(),
        Some(1),
        "an injected RST is a high finding"
    );
    let normal = bin()
        .args([
            "--json",
            "--fail-on",
            "high",
            "captures/netns/normal-openssl.client.pcap",
        ])
        .output()
        .expect("runs");
    assert_eq!(normal.status.code(), Some(0));
    let missing = bin()
        .args(["--json", "captures/does-not-exist.pcap"])
        .output()
        .expect("runs");
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("does-not-exist.pcap"),
        "the error names the file"
    );
}

#[test]
fn stdin_and_gzip_input_give_the_same_records_as_the_file() {
    let file = "captures/long-chain-many-segments.pcap";
    let bytes = std::fs::read(file).expect("capture");
    let direct = json_lines(&bin().args(["--json", file]).output().expect("runs").stdout);
    let mut child = bin()
        .args(["--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&bytes)
        .expect("write");
    let piped = json_lines(&child.wait_with_output().expect("wait").stdout);
    let gz = std::env::temp_dir().join(format!("tlsmortem-cli-{}.pcap.gz", std::process::id()));
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&bytes).expect("gzip");
    std::fs::write(&gz, enc.finish().expect("gzip")).expect("write gz");
    let zipped = json_lines(
        &bin()
            .args(["--json"])
            .arg(&gz)
            .output()
            .expect("runs")
            .stdout,
    );
    let _ = std::fs::remove_file(&gz);
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
    let dir = std::env::temp_dir().join(format!("tlsmortem-side-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let gz = dir.join("tls13.pcapng.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&std::fs::read("captures/tls13.pcapng").expect("capture"))
        .expect("gzip");
    std::fs::write(&gz, enc.finish().expect("gzip")).expect("write");
    let run = |threads: &str| {
        let out = bin()
            .args([
                "--json",
                "--threads",
                threads,
                "captures/certs",
                "captures/netns",
            ])
            .arg(&gz)
            .arg("captures/tls12-openssl.pcap")
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let one = run("1");
    let lines = json_lines(&one);
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
        assert!(one == run(threads), "{threads} workers");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
