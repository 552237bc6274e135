//! Inputs the fuzz targets (`fuzz/`) found crashing or hanging the analyzer, replayed as the
//! captures `tests/data/fuzz/make.py` writes: each the TCP connection that carries the input,
//! run through the whole pipeline. The expected values come from how each capture was made
//! (one connection, the payload bytes the script sent). A capture that made the analysis loop
//! for ever fails its test after a minute instead of hanging the run: the limit is there to
//! catch an analysis that never ends, not to measure speed (these take milliseconds).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;
use tlsmortem::{analyze_bytes, Config, Connection};

/// Every connection of `path`, or a panic if the analysis fails or does not end.
fn connections(path: &Path) -> Vec<Connection> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path.display().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let result = analyze_bytes(&name, &bytes, &Config::default(), &mut |c| out.push(c));
        let _ = tx.send(result.map(|_| out).map_err(|e| e.to_string()));
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => panic!("{e}"),
        Err(_) => panic!("{}: the analysis did not end", path.display()),
    }
}

fn capture(name: &str) -> PathBuf {
    Path::new("tests/data/fuzz").join(format!("{name}.pcap"))
}

/// The one connection of a regression capture: 10.0.0.1:40000 to 10.0.0.2:443, the client
/// having sent `client_bytes` bytes of payload.
fn one_connection(name: &str, client_bytes: u64) -> Connection {
    let mut cs = connections(&capture(name));
    assert_eq!(cs.len(), 1, "{name}: {cs:?}");
    let c = cs.remove(0);
    assert_eq!((c.client.port, c.server.port), (40000, 443));
    assert_eq!(c.tcp.client_bytes, client_bytes);
    c
}

#[test]
fn bytes_like_an_sslv2_hello_after_a_tls_record_do_not_stall_the_analysis() {
    let c = one_connection("sslv2-header-after-tls-record", 9 + 7);
    assert!(c.client_hello.is_none());
}

#[test]
fn an_empty_record_whose_header_spans_two_segments_does_not_stall_the_analysis() {
    let c = one_connection("empty-record-header-across-chunks", 3 + 2 + 9);
    assert!(c.alerts.is_empty(), "{:?}", c.alerts);
}

#[test]
fn every_regression_capture_is_analysed_to_the_end() {
    let mut n = 0;
    for entry in std::fs::read_dir("tests/data/fuzz").expect("tests/data/fuzz") {
        let path = entry.expect("readable folder").path();
        if path.extension().is_some_and(|e| e == "pcap") {
            connections(&path);
            n += 1;
        }
    }
    assert!(n >= 2, "only {n} regression captures found");
}

/// Found by the `pipeline` fuzz target: the lab capture of a RST injected after the ClientHello
/// (`captures/netns`), with the ClientHello's timestamp mutated to 1970 while the RST's stayed in
/// 2026. Judging the RST's timing multiplied the 56-year gap and overflowed (a panic with
/// overflow checks, a wrapped and wrong comparison without). The clock is the only change, so
/// the verdict is still the injected RST's.
#[test]
fn a_clock_that_jumps_back_decades_between_hello_and_cut_is_judged_without_overflow() {
    let cs = connections(Path::new(
        "tests/data/fuzz/pipeline/clock-jumps-back-decades",
    ));
    assert_eq!(cs.len(), 1, "{cs:?}");
    let c = &cs[0];
    assert_eq!((c.client.port, c.server.port), (52398, 443));
    assert_eq!(c.verdict.id.as_str(), "rst-after-client-hello");
}
