//! The QUIC captures of the shared corpus against tshark 4.0.17. Every capture in
//! `../shared/corpus` whose expected readings list a tshark QUIC stream with a ClientHello is
//! run through [`QuicConn`]s the way the pipeline does it (per 5-tuple, the sender of the first
//! Initial is the client, a client Initial of another connection starts a new one), and each
//! stream's SNI, ALPN, cipher suites and supported versions, and the server's version and
//! cipher unless its first hello is a HelloRetryRequest, are compared with tshark's. It needs
//! the corpus beside the repository and fails when no stream is found; it checks nothing
//! tshark did not decode.

use super::*;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

// ---- The shared corpus, against tshark 4.0.17. ----

type Key = (IpAddr, u16, IpAddr, u16);

struct Tracked {
    client: (IpAddr, u16),
    conn: QuicConn,
}

/// Runs every UDP datagram of a capture through `QuicConn`s the way the pipeline does:
/// per canonical 5-tuple, the sender of the first Initial is the client, a client Initial
/// of another connection starts a new `QuicConn`, and a done one is fed no more.
fn quic_connections(bytes: &[u8]) -> Vec<Tracked> {
    let mut by_tuple: HashMap<Key, Vec<usize>> = HashMap::new();
    let mut all: Vec<Tracked> = Vec::new();
    let _ = crate::capture::read_bytes("corpus", bytes, &mut |frame| {
        let Ok(pkt) = crate::net::decode(frame.link_type, frame.data) else {
            return;
        };
        let crate::net::Transport::Udp(udp) = pkt.transport else {
            return;
        };
        let a = (pkt.src, udp.src_port);
        let b = (pkt.dst, udp.dst_port);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let key = (lo.0, lo.1, hi.0, hi.1);
        let o = Origin {
            frame: frame.number,
            ts: frame.ts,
        };
        let list = by_tuple.entry(key).or_default();
        let current = list.last().copied();
        let start_new = match current {
            None => is_initial(udp.payload),
            Some(i) => {
                let t = &all[i];
                t.conn.is_other_connection(t.client == a, udp.payload)
            }
        };
        if start_new {
            list.push(all.len());
            all.push(Tracked {
                client: a,
                conn: QuicConn::default(),
            });
        }
        if let Some(&i) = list.last() {
            let t = &mut all[i];
            if !t.conn.done() {
                let from_client = t.client == a;
                t.conn.datagram(from_client, udp.payload, o);
            }
        }
    });
    all
}

fn hexnum(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::String(s) => u64::from_str_radix(s.trim_start_matches("0x"), 16).ok(),
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn grease(v: u64) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

#[test]
fn quic_captures_of_the_corpus_agree_with_tshark() {
    let corpus = Path::new("../shared/corpus");
    assert!(corpus.is_dir(), "the shared corpus is missing");
    let mut checks = 0usize;
    let mut mismatches: Vec<String> = Vec::new();
    let mut streams = 0usize;
    let (mut retries, mut undecryptable, mut other) = (0usize, 0u64, 0u64);
    let mut versions = std::collections::BTreeSet::new();
    let mut expected_files: Vec<_> = std::fs::read_dir(corpus)
        .unwrap()
        .flatten()
        .filter_map(|d| std::fs::read_dir(d.path().join("expected")).ok())
        .flat_map(|rd| rd.flatten().map(|e| e.path()))
        .collect();
    expected_files.sort();
    for ef in expected_files {
        let exp: serde_json::Value = serde_json::from_slice(&std::fs::read(&ef).unwrap()).unwrap();
        let wanted: Vec<&serde_json::Value> = exp["expected"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["tool"].as_str().is_some_and(|t| t.starts_with("tshark")))
            .flat_map(|e| e["streams"].as_array().into_iter().flatten())
            .filter(|s| s["protocols"][0] == "quic")
            .filter(|s| !s["client_hellos"][0]["via"].is_null())
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let cap = corpus.join(exp["capture"].as_str().unwrap());
        let conns = quic_connections(&std::fs::read(&cap).unwrap());
        for t in &conns {
            retries += usize::from(t.conn.retry);
            undecryptable += t.conn.undecryptable_packets;
            other += t.conn.other_connection_packets;
            versions.insert(t.conn.version);
        }
        let name = exp["capture"].as_str().unwrap_or_default();
        if name.contains("retry") {
            assert!(
                conns.iter().any(|t| t.conn.retry),
                "{name}: no Retry followed"
            );
        }
        if name.contains("quicv2") {
            assert!(
                conns.iter().any(|t| t.conn.version == Some(version::V2)),
                "{name}"
            );
        }
        for s in wanted {
            streams += 1;
            let client: (IpAddr, u16) = (
                s["client_ip"].as_str().unwrap().parse().unwrap(),
                s["client_port"].as_u64().unwrap() as u16,
            );
            let where_ = format!(
                "{} [{}:{}]",
                exp["capture"].as_str().unwrap(),
                client.0,
                client.1
            );
            let mut check = |field: &str, good: bool, want: String, got: String| {
                checks += 1;
                if !good {
                    mismatches.push(format!("{where_}: {field}: expected {want}, got {got}"));
                }
            };
            let found = conns.iter().find(|t| t.client == client);
            let ch = found
                .and_then(|t| client_hello(&t.conn.client_events))
                .map(|c| c.0);
            let want = &s["client_hellos"][0];
            check(
                "connection+client_hello",
                ch.is_some(),
                "present".into(),
                "absent".into(),
            );
            let Some(ch) = ch else {
                continue;
            };
            let wsni = want["sni"].as_str().map(str::to_string);
            check(
                "sni",
                ch.sni == wsni,
                format!("{wsni:?}"),
                format!("{:?}", ch.sni),
            );
            let walpn: Vec<String> = want["alpn"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect();
            check(
                "alpn",
                ch.alpn == walpn,
                format!("{walpn:?}"),
                format!("{:?}", ch.alpn),
            );
            let wcs: Vec<u64> = want["cipher_suites"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(hexnum)
                .collect();
            let gcs: Vec<u64> = ch.cipher_suites.iter().map(|&c| u64::from(c)).collect();
            check(
                "cipher_suites",
                gcs == wcs,
                format!("{wcs:?}"),
                format!("{gcs:?}"),
            );
            let mut wsv: Vec<u64> = want["supported_versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(hexnum)
                .filter(|&v| !grease(v))
                .collect();
            wsv.sort();
            let mut gsv: Vec<u64> = ch
                .supported_versions
                .iter()
                .map(|&v| u64::from(v))
                .filter(|&v| !grease(v))
                .collect();
            gsv.sort();
            check(
                "supported_versions",
                gsv == wsv,
                format!("{wsv:?}"),
                format!("{gsv:?}"),
            );
            let Some(ws) = s["server_hellos"].as_array().and_then(|a| a.first()) else {
                continue;
            };
            if ws["hello_retry_request"].as_bool() == Some(true) {
                continue;
            }
            let sh = found
                .and_then(|t| server_hello(&t.conn.server_events))
                .map(|s| s.0);
            let wver = hexnum(&ws["selected_version"]).or_else(|| hexnum(&ws["legacy_version"]));
            let wcs = hexnum(&ws["cipher_suite"]);
            check(
                "server_version",
                sh.map(|s| u64::from(s.version)) == wver,
                format!("{wver:?}"),
                format!("{:?}", sh.map(|s| s.version)),
            );
            check(
                "server_cipher",
                sh.map(|s| u64::from(s.cipher_suite)) == wcs,
                format!("{wcs:?}"),
                format!("{:?}", sh.map(|s| s.cipher_suite)),
            );
        }
    }
    println!(
        "quic corpus: {}/{checks} checks agree over {streams} tshark QUIC streams",
        checks - mismatches.len()
    );
    println!(
        "quic corpus: versions {versions:x?}, {retries} Retry followed, {undecryptable} \
         Initials undecryptable, {other} Initials of other connections"
    );
    assert!(streams > 0);
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}
