//! The shared corpus (`../shared/corpus`: Zeek, Suricata and FoxIO ja4 test captures), read in
//! place. Expected values come from tshark 4.0.17 and the source projects' own outputs, through
//! `../shared/tools/corpus_check.py`; the only disagreement allowed is one where the expected
//! value is shown wrong below.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::analyze;
use common::fixtures::{captures_dir, shared};

/// `../shared/corpus`.
fn corpus() -> PathBuf {
    shared("corpus")
}

fn corpus_check(only: Option<&str>) -> (String, Vec<String>) {
    let corpus = corpus();
    assert!(
        corpus.is_dir(),
        "{} is missing: the tests read the shared corpus beside the project",
        corpus.display()
    );
    let cmd = format!("{} --json {{}}", common::run::BIN);
    let out = Command::new("python3")
        .arg(shared("tools/corpus_check.py"))
        .args(["--fingerprints", "--show", "1000", "--cmd", &cmd])
        .arg(&corpus)
        .args(only.map(|o| ["--only", o]).into_iter().flatten())
        .output()
        .expect("python3 runs corpus_check.py");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let last = text.lines().last().unwrap_or_default().to_string();
    let mismatches = text
        .lines()
        .filter(|l| l.starts_with("MISMATCH"))
        .map(str::to_string)
        .collect();
    (last, mismatches)
}

/// tshark 4.0.17 reads the draft-14 ServerHello of this capture with the TLS 1.2 layout and so
/// reports cipher 0xacad. See `draft14_server_hello_has_no_session_id_field` for why 0xc02b is
/// right.
const KNOWN_WRONG: &[&str] = &[
    "tls__tls13-draft14__tls13_draft14.pcap [tcp 10.0.2.15:54049 > 52.32.149.186:443]: tcp.server_cipher: expected 44205, got 49195",
    // JA3S built from the same misread cipher ("772,44205," instead of "772,49195,40").
    "tls__tls13-draft14__tls13_draft14.pcap [tcp 10.0.2.15:54049 > 52.32.149.186:443]: tcp.ja3s: expected",
];

fn assert_agreement(only: Option<&str>) {
    let (last, mismatches) = corpus_check(only);
    let unexpected: Vec<&String> = mismatches
        .iter()
        .filter(|m| !KNOWN_WRONG.iter().any(|k| m.contains(k)))
        .collect();
    assert!(unexpected.is_empty(), "{last}\n{unexpected:#?}");
    assert!(last.contains("0 runs failed"), "{last}");
    assert_eq!(
        mismatches.len(),
        KNOWN_WRONG.len(),
        "a known-wrong expectation no longer shows: {last}"
    );
}

#[test]
fn draft14_server_hello_has_no_session_id_field() {
    let path = corpus()
        .join("suricata-verify/tls__tls13-draft14__tls13_draft14.pcap")
        .display()
        .to_string();
    let bytes = std::fs::read(&path).expect("corpus capture");
    let mut hellos = Vec::new();
    tlsmortem::analyze_bytes(&path, &bytes, &tlsmortem::Config::default(), &mut |c| {
        hellos.extend(c.server_hello)
    })
    .expect("analysis runs");
    let sh = hellos.first().expect("a ServerHello");
    // Frame 6 carries: 02 00 00 6f | 03 04 | 32 bytes random | c0 2b | 00 49 | 00 28 00 45 and
    // 69 bytes: one key_share extension (40 in the drafts). 2 + 32 + 2 + 2 + 73 = 111 = 0x6f,
    // the message length: the draft layout
    // (version, random, cipher_suite, extensions; draft-ietf-tls-tls13-14 §6.3.1.2) fits
    // exactly. Read with the TLS 1.2 layout, the byte after the random (0xc0 = 192) would be a
    // session id length, which RFC 5246 §7.4.1.3 caps at 32: that reading cannot be right.
    assert_eq!(sh.legacy_version, 0x0304);
    assert_eq!(sh.cipher_suite, 0xc02b);
    assert_eq!(sh.extensions, vec![40]);
}

#[test]
fn every_corpus_capture_is_read_without_a_run_error() {
    let mut n = 0;
    for dir in std::fs::read_dir(corpus()).expect("corpus").flatten() {
        for f in std::fs::read_dir(dir.path()).expect("source dir").flatten() {
            let p = f.path();
            if !p.is_file() || p.extension().is_some_and(|e| e == "md") {
                continue;
            }
            let bytes = std::fs::read(&p).expect("readable");
            let r = tlsmortem::analyze_bytes(
                &p.display().to_string(),
                &bytes,
                &tlsmortem::Config {
                    all_flows: true,
                    ..Default::default()
                },
                &mut |_| {},
            );
            let stats = r.unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert!(
                stats.capture.truncated.is_none(),
                "{}: {:?}",
                p.display(),
                stats.capture.truncated
            );
            n += 1;
        }
    }
    assert!(n >= 100, "only {n} corpus captures found");
}

/// Every connection record, serialized, and what the read said of the capture, for one worker
/// count and chunk size.
fn records(path: &Path, threads: usize, chunk_bytes: usize) -> (Vec<String>, String) {
    let bytes = std::fs::read(path).expect("readable");
    let config = tlsmortem::Config {
        all_flows: true,
        threads,
        chunk_bytes,
        ..Default::default()
    };
    analyze::records(&path.display().to_string(), &bytes, &config)
}

/// Capture files under `dir`, recursively.
fn capture_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for f in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = f.path();
        if p.is_dir() {
            capture_files(&p, out);
        } else if p
            .extension()
            .is_some_and(|e| ["pcap", "pcapng", "cap", "gz"].iter().any(|x| e == *x))
        {
            out.push(p);
        }
    }
}

#[test]
fn results_are_identical_whatever_the_number_of_workers_and_the_chunk_size() {
    let mut files = Vec::new();
    for dir in [corpus(), captures_dir()] {
        capture_files(&dir, &mut files);
    }
    files.sort();
    let mut connections = 0;
    for p in &files {
        let one = records(p, 1, 0);
        connections += one.0.len();
        // Chunks of 700 bytes leave many without a record start and cut most records;
        // 64 KiB ones hold several.
        for (threads, chunk) in [(1, 700), (2, 0), (2, 700), (3, 65536), (5, 4096)] {
            assert_eq!(
                one,
                records(p, threads, chunk),
                "{} with {threads} workers and chunks of {chunk} bytes",
                p.display()
            );
        }
    }
    assert!(connections > 300, "only {connections} connections compared");
}

#[test]
fn tcp_connections_agree_with_tshark_and_the_source_projects() {
    assert_agreement(Some("tcp"));
}

#[test]
fn every_transport_tcp_quic_and_dtls_agrees_with_tshark_and_the_source_projects() {
    assert_agreement(None);
}

#[test]
fn json_lines_are_byte_for_byte_what_serde_json_writes_for_every_connection() {
    let mut files = Vec::new();
    for dir in [corpus(), captures_dir()] {
        capture_files(&dir, &mut files);
    }
    let mut compared = 0;
    for p in &files {
        let bytes = std::fs::read(p).expect("readable");
        let config = tlsmortem::Config {
            all_flows: true,
            ..Default::default()
        };
        tlsmortem::analyze_bytes(&p.display().to_string(), &bytes, &config, &mut |c| {
            let mut want = serde_json::to_vec(&c).expect("serializable");
            want.push(b'\n');
            assert!(
                tlsmortem::report::json_line(&c) == want,
                "{} frame {}",
                p.display(),
                c.first_frame
            );
            compared += 1;
        })
        .expect("analysis runs");
    }
    assert!(compared > 300, "only {compared} connections compared");
}
