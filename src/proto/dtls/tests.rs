//! Unit tests of the DTLS conversation: hand-built records and handshake fragments in, the
//! events of [`DtlsConn`] checked. They cover a whole ClientHello, fragments out of order,
//! overlapping and duplicated, HelloVerifyRequest and the second ClientHello, several records
//! per datagram, epoch 1 and DTLS 1.3 unified headers, fatal alerts, certificates, sniffing
//! (DTLS against TLS, DNS and lies), malformed inputs and every truncation (findings, never
//! panics), the caps on buffering and events, and the pending ranges against a naive model.
//! The last test runs the DTLS captures of the shared corpus and compares the hellos with
//! tshark's readings.

use super::*;
use crate::capture::Timestamp;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

fn origin(frame: u64) -> Origin {
    Origin {
        frame,
        ts: Timestamp(0),
    }
}

fn record(ct: u8, epoch: u16, seq: u64, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ct, 0xfe, 0xfd];
    r.extend_from_slice(&epoch.to_be_bytes());
    r.extend_from_slice(&seq.to_be_bytes()[2..]);
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn u24b(v: usize) -> [u8; 3] {
    let b = (v as u32).to_be_bytes();
    [b[1], b[2], b[3]]
}

/// A handshake fragment: header + `msg[off..off + len]`.
fn fragment(t: u8, seq: u16, msg: &[u8], off: usize, len: usize) -> Vec<u8> {
    let mut f = vec![t];
    f.extend_from_slice(&u24b(msg.len()));
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&u24b(off));
    f.extend_from_slice(&u24b(len));
    f.extend_from_slice(&msg[off..off + len]);
    f
}

fn ext(t: u16, data: &[u8]) -> Vec<u8> {
    let mut e = t.to_be_bytes().to_vec();
    e.extend_from_slice(&(data.len() as u16).to_be_bytes());
    e.extend_from_slice(data);
    e
}

/// A DTLS ClientHello body with SNI, ALPN "webrtc" and supported_versions.
fn client_hello_body(cookie: &[u8]) -> Vec<u8> {
    let mut b = vec![0xfe, 0xfd];
    b.extend_from_slice(&[7; 32]);
    b.push(0); // session id
    b.push(cookie.len() as u8);
    b.extend_from_slice(cookie);
    b.extend_from_slice(&[0, 4, 0x13, 0x01, 0xc0, 0x2b]);
    b.extend_from_slice(&[1, 0]);
    let name = b"dtls.example";
    let mut sni = ((name.len() + 3) as u16).to_be_bytes().to_vec();
    sni.push(0);
    sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni.extend_from_slice(name);
    let mut exts = ext(0, &sni);
    exts.extend(ext(16, &[0, 7, 6, b'w', b'e', b'b', b'r', b't', b'c']));
    exts.extend(ext(43, &[4, 0xfe, 0xfc, 0xfe, 0xfd]));
    b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    b.extend(exts);
    b
}

fn server_hello_body() -> Vec<u8> {
    let mut b = vec![0xfe, 0xfd];
    b.extend_from_slice(&[9; 32]);
    b.push(0);
    b.extend_from_slice(&[0xc0, 0x2b, 0]);
    b.extend_from_slice(&[0, 0]);
    b
}

fn client_hellos(events: &[Located]) -> Vec<&tls::ClientHello> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::ClientHello(ch) => Some(&**ch),
            _ => None,
        })
        .collect()
}

fn malformed(events: &[Located]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Malformed(m) => Some(m.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn whole_client_hello_in_one_record_parses_like_tls() {
    let body = client_hello_body(&[]);
    let dg = record(22, 0, 0, &fragment(1, 0, &body, 0, body.len()));
    assert!(looks_like_dtls(&dg));
    let mut c = DtlsConn::default();
    c.datagram(true, &dg, origin(1));
    let chs = client_hellos(&c.client_events);
    assert_eq!(chs.len(), 1, "{:?}", c.client_events);
    let ch = chs[0];
    assert_eq!(ch.legacy_version, 0xfefd);
    assert_eq!(ch.sni.as_deref(), Some("dtls.example"));
    assert_eq!(ch.alpn, ["webrtc"]);
    assert_eq!(ch.cipher_suites, [0x1301, 0xc02b]);
    assert_eq!(ch.supported_versions, [0xfefc, 0xfefd]);
    assert_eq!(ch.extensions, [0, 16, 43]);
    assert!(!c.done());
}

#[test]
fn client_hello_in_three_fragments_out_of_order_is_reassembled() {
    let body = client_hello_body(&[]);
    let n = body.len();
    let (a, b) = (20, 50);
    let mut c = DtlsConn::default();
    c.datagram(
        true,
        &record(22, 0, 2, &fragment(1, 0, &body, b, n - b)),
        origin(1),
    );
    c.datagram(
        true,
        &record(22, 0, 0, &fragment(1, 0, &body, 0, a)),
        origin(2),
    );
    assert!(client_hellos(&c.client_events).is_empty());
    c.datagram(
        true,
        &record(22, 0, 1, &fragment(1, 0, &body, a, b - a)),
        origin(3),
    );
    let chs = client_hellos(&c.client_events);
    assert_eq!(chs.len(), 1);
    assert_eq!(chs[0].sni.as_deref(), Some("dtls.example"));
    assert_eq!(c.client_events[0].frame, 3);
    assert_eq!(c.client.buffered, 0);
    // A retransmitted fragment of the same message_seq is not a new ClientHello.
    c.datagram(
        true,
        &record(22, 0, 3, &fragment(1, 0, &body, 0, a)),
        origin(4),
    );
    assert_eq!(client_hellos(&c.client_events).len(), 1);
    assert_eq!(c.retransmitted_fragments, 1);
}

#[test]
fn overlapping_and_duplicated_fragments_are_reassembled() {
    let body = client_hello_body(b"cookie");
    let n = body.len();
    let mut c = DtlsConn::default();
    for (i, (off, len)) in [(10, 30), (0, 15), (10, 30), (35, n - 35 - 5), (n - 10, 10)]
        .into_iter()
        .enumerate()
    {
        assert!(client_hellos(&c.client_events).is_empty());
        c.datagram(
            true,
            &record(22, 0, i as u64, &fragment(1, 0, &body, off, len)),
            origin(i as u64),
        );
    }
    let chs = client_hellos(&c.client_events);
    assert_eq!(chs.len(), 1, "{:?}", c.client_events);
    assert_eq!(chs[0].alpn, ["webrtc"]);
}

#[test]
fn hello_verify_request_then_second_client_hello_reports_both() {
    let mut c = DtlsConn::default();
    let first = client_hello_body(&[]);
    c.datagram(
        true,
        &record(22, 0, 0, &fragment(1, 0, &first, 0, first.len())),
        origin(1),
    );
    let hvr = [0xfe, 0xff, 4, 1, 2, 3, 4];
    c.datagram(
        false,
        &record(22, 0, 0, &fragment(3, 0, &hvr, 0, hvr.len())),
        origin(2),
    );
    let second = client_hello_body(&[1, 2, 3, 4]);
    c.datagram(
        true,
        &record(22, 0, 1, &fragment(1, 1, &second, 0, second.len())),
        origin(3),
    );
    assert_eq!(c.hello_verify_requests, 1);
    assert_eq!(client_hellos(&c.client_events).len(), 2);
    assert!(c
        .server_events
        .iter()
        .any(|e| e.event == Event::Handshake(HELLO_VERIFY_REQUEST)));
}

#[test]
fn several_records_per_datagram_and_epoch_one_records() {
    let sh = server_hello_body();
    let mut dg = record(22, 0, 1, &fragment(2, 1, &sh, 0, sh.len()));
    dg.extend(record(22, 0, 2, &fragment(14, 2, &[], 0, 0)));
    dg.extend(record(20, 0, 3, &[1]));
    dg.extend(record(22, 1, 0, &[0xaa; 40]));
    dg.extend(record(21, 1, 1, &[0xbb; 26]));
    let mut c = DtlsConn::default();
    c.datagram(false, &dg, origin(5));
    assert_eq!(c.records, 5);
    let kinds: Vec<_> = c.server_events.iter().map(|e| &e.event).collect();
    assert!(matches!(kinds[0], Event::ServerHello(s) if s.cipher_suite == 0xc02b));
    assert_eq!(kinds[1], &Event::Handshake(14));
    assert_eq!(kinds[2], &Event::ChangeCipherSpec);
    assert_eq!(
        kinds[3],
        &Event::EncryptionStarted {
            content_type: 22,
            length: 40
        }
    );
    assert_eq!(
        kinds[4],
        &Event::Alert {
            level: None,
            description: None,
            encrypted: true
        }
    );
    assert_eq!(kinds.len(), 5);
    assert!(!c.done());
    c.datagram(true, &record(23, 1, 5, &[0; 30]), origin(6));
    assert!(c.done());
}

#[test]
fn plaintext_fatal_alert_ends_the_handshake() {
    let mut c = DtlsConn::default();
    c.datagram(false, &record(21, 0, 0, &[2, 40]), origin(1));
    assert_eq!(
        c.server_events[0].event,
        Event::Alert {
            level: Some(2),
            description: Some(40),
            encrypted: false
        }
    );
    assert!(c.done());
}

#[test]
fn dtls13_unified_header_records_start_encryption() {
    let mut c = DtlsConn::default();
    // 0x2e: no CID, 16-bit sequence number, length present, epoch 2.
    let mut dg = vec![0x2e, 0, 1, 0, 3, 1, 2, 3];
    dg.extend([0x2f, 0, 2, 0, 2, 9, 9]);
    c.datagram(false, &dg, origin(1));
    assert_eq!(c.records, 2);
    assert_eq!(
        c.server_events,
        [Located {
            frame: 1,
            ts: Timestamp(0),
            event: Event::EncryptionStarted {
                content_type: 23,
                length: 3
            }
        }]
    );
}

#[test]
fn certificate_message_gives_the_der_list() {
    let der = [0x30, 3, 1, 2, 3];
    let mut cert = u24b(3 + der.len()).to_vec();
    cert.extend_from_slice(&u24b(der.len()));
    cert.extend_from_slice(&der);
    let mut c = DtlsConn::default();
    c.datagram(
        false,
        &record(22, 0, 0, &fragment(11, 2, &cert, 0, cert.len())),
        origin(1),
    );
    assert_eq!(
        c.server_events[0].event,
        Event::Certificate(vec![der.into()])
    );
}

#[test]
fn sniffing_accepts_dtls_and_rejects_tls_dns_and_lies() {
    let body = client_hello_body(&[]);
    let ch = record(22, 0, 0, &fragment(1, 0, &body, 0, body.len()));
    assert!(looks_like_dtls(&ch));
    assert!(looks_like_dtls(&record(20, 0, 0, &[1])));
    assert!(looks_like_dtls(&record(23, 1, 0, &[0; 30])));
    assert!(
        !looks_like_dtls(&ch[..ch.len() - 1]),
        "record longer than datagram"
    );
    let mut tls = ch.clone();
    tls[1] = 3;
    tls[2] = 3;
    assert!(!looks_like_dtls(&tls));
    let mut bad_type = ch.clone();
    bad_type[0] = 27;
    assert!(!looks_like_dtls(&bad_type));
    assert!(
        !looks_like_dtls(&record(23, 0, 0, &[0; 30])),
        "epoch-0 app data"
    );
    assert!(
        !looks_like_dtls(&record(21, 0, 0, &[5, 0])),
        "alert level 5"
    );
    assert!(
        !looks_like_dtls(&record(
            22,
            0,
            0,
            &[1, 0, 0, 5, 0, 0, 0, 0, 3, 0, 0, 3, 1, 2, 3]
        )),
        "fragment past its message"
    );
    // A DNS query.
    assert!(!looks_like_dtls(&[
        0x27, 0x1a, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w'
    ]));
    assert!(!looks_like_dtls(&[]));
}

#[test]
fn malformed_inputs_are_findings_not_panics() {
    let body = client_hello_body(&[]);
    let table: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", vec![0x99; 40]),
        ("record longer than datagram", {
            let mut r = record(22, 0, 0, &fragment(1, 0, &body, 0, body.len()));
            r.truncate(r.len() - 3);
            r
        }),
        (
            "fragment longer than record",
            record(22, 0, 0, &[1, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 9, 1]),
        ),
        (
            "fragment past its message",
            record(22, 0, 0, &[1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 1, 2]),
        ),
        ("half a handshake header", record(22, 0, 0, &[1, 0, 0])),
        ("odd alert", record(21, 0, 0, &[2])),
        ("cookie longer than message", {
            let mut b = body.clone();
            b[35] = 200;
            record(22, 0, 0, &fragment(1, 0, &b, 0, b.len()))
        }),
        (
            "message beyond the cap",
            record(22, 0, 0, &[11, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0]),
        ),
    ];
    for (name, dg) in table {
        let mut c = DtlsConn::default();
        c.datagram(true, &dg, origin(1));
        assert!(
            !malformed(&c.client_events).is_empty(),
            "{name}: {:?}",
            c.client_events
        );
        assert!(client_hellos(&c.client_events).is_empty(), "{name}");
    }
}

#[test]
fn non_dtls_datagrams_make_a_direction_give_up() {
    let mut c = DtlsConn::default();
    for i in 0..20 {
        c.datagram(true, &[0x99; 20], origin(i));
        c.datagram(false, &[0x99; 20], origin(i));
    }
    assert!(c.done());
    assert!(c.client_events.len() <= MAX_BAD_DATAGRAMS as usize);
}

#[test]
fn buffering_is_capped_per_direction() {
    let mut c = DtlsConn::default();
    // Many large messages, each given only its first byte: nothing completes.
    for seq in 0..40u16 {
        let mut f = vec![11];
        f.extend_from_slice(&u24b(8000));
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&u24b(0));
        f.extend_from_slice(&u24b(1));
        f.push(0);
        c.datagram(false, &record(22, 0, u64::from(seq), &f), origin(1));
        assert!(c.server.buffered <= MAX_BUFFERED);
    }
    assert!(malformed(&c.server_events)
        .iter()
        .any(|m| m.contains("cap")));
}

#[test]
fn events_are_capped_with_one_note() {
    let mut c = DtlsConn::default();
    for seq in 0..(MAX_EVENTS as u64 + 50) {
        c.datagram(false, &record(21, 0, seq, &[1, 0]), origin(seq));
    }
    assert_eq!(c.server_events.len(), MAX_EVENTS + 1);
    assert!(matches!(
        c.server_events.last().map(|e| &e.event),
        Some(Event::Malformed(m)) if m.contains("dropped")
    ));
}

#[test]
fn truncated_datagrams_at_every_length_do_not_panic() {
    let ch = client_hello_body(b"abc");
    let sh = server_hello_body();
    let mut dg = record(22, 0, 0, &fragment(1, 0, &ch, 0, 40));
    dg.extend(record(22, 0, 1, &fragment(1, 0, &ch, 40, ch.len() - 40)));
    dg.extend(record(22, 0, 2, &fragment(2, 1, &sh, 0, sh.len())));
    dg.extend(record(21, 0, 3, &[1, 0]));
    dg.extend(record(20, 0, 4, &[1]));
    dg.extend(record(22, 1, 0, &[0; 20]));
    dg.extend([0x2e, 0, 1, 0, 2, 1, 2]);
    for cut in 0..=dg.len() {
        let mut c = DtlsConn::default();
        let _ = looks_like_dtls(&dg[..cut]);
        c.datagram(true, &dg[..cut], origin(1));
        c.datagram(false, &dg[..cut], origin(2));
        let _ = c.done();
        // Every cut inside the header of the first byte also as a bit-flipped copy.
        let mut flipped = dg.clone();
        if let Some(b) = flipped.get_mut(cut) {
            *b ^= 0xff;
        }
        c.datagram(true, &flipped, origin(3));
    }
    let mut c = DtlsConn::default();
    c.datagram(true, &dg, origin(1));
    assert_eq!(client_hellos(&c.client_events).len(), 1);
}

#[test]
fn a_fragment_claiming_a_large_message_holds_only_its_own_bytes() {
    let mut c = DtlsConn::default();
    let mut f = vec![1];
    f.extend_from_slice(&u24b(65_535));
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&u24b(0));
    f.extend_from_slice(&u24b(100));
    f.extend_from_slice(&[0x41; 100]);
    c.datagram(true, &record(22, 0, 0, &f), origin(1));
    assert_eq!(
        c.client.pending.len(),
        1,
        "the message waits for its other fragments"
    );
    assert_eq!(c.client.buffered, 100);
    assert_eq!(c.client.pending[0].pieces.held(), 100);
}

// ---- The shared corpus, against tshark 4.0.17. ----

type Key = (IpAddr, u16, IpAddr, u16);

struct Tracked {
    client: (IpAddr, u16),
    conn: DtlsConn,
}

/// Runs every UDP datagram of a capture through `DtlsConn`s: per canonical 5-tuple, the
/// sender of the first datagram that looks like a DTLS ClientHello is the client.
fn dtls_connections(bytes: &[u8]) -> Vec<Tracked> {
    let mut by_tuple: HashMap<Key, usize> = HashMap::new();
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
        let i = match by_tuple.get(&key) {
            Some(&i) => i,
            None => {
                let is_ch = looks_like_dtls(udp.payload)
                    && udp.payload.get(13) == Some(&hs::CLIENT_HELLO)
                    && udp.payload.first() == Some(&content::HANDSHAKE);
                if !is_ch {
                    return;
                }
                by_tuple.insert(key, all.len());
                all.push(Tracked {
                    client: a,
                    conn: DtlsConn::default(),
                });
                all.len() - 1
            }
        };
        let t = &mut all[i];
        // Fed past done() so that encrypted alerts are seen too.
        t.conn.datagram(t.client == a, udp.payload, o);
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

#[test]
fn dtls_captures_of_the_corpus_agree_with_tshark() {
    let corpus = Path::new("../shared/corpus");
    assert!(corpus.is_dir(), "the shared corpus is missing");
    let captures = [
        "ja4/dtls-udp.notest.cap",
        "zeek/tls__dtls1_0.pcap",
        "zeek/tls__dtls-sequence-number-jumps.pcap",
        "zeek/tls__dtls13-wolfssl.pcap",
    ];
    let mut checks = 0usize;
    let mut streams = 0usize;
    let mut mismatches: Vec<String> = Vec::new();
    for name in captures {
        let (dir, file) = name.split_once('/').unwrap();
        let ef = corpus
            .join(dir)
            .join("expected")
            .join(format!("{file}.json"));
        let exp: serde_json::Value = serde_json::from_slice(&std::fs::read(&ef).unwrap()).unwrap();
        let conns = dtls_connections(&std::fs::read(corpus.join(name)).unwrap());
        let wanted: Vec<&serde_json::Value> = exp["expected"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["tool"].as_str().is_some_and(|t| t.starts_with("tshark")))
            .flat_map(|e| e["streams"].as_array().into_iter().flatten())
            .filter(|s| s["protocols"] == serde_json::json!(["dtls"]))
            .collect();
        assert!(!wanted.is_empty(), "{name}: no tshark DTLS stream");
        assert_eq!(conns.len(), wanted.len(), "{name}: conversations");
        for s in wanted {
            streams += 1;
            let client: (IpAddr, u16) = (
                s["client_ip"].as_str().unwrap().parse().unwrap(),
                s["client_port"].as_u64().unwrap() as u16,
            );
            let w = format!("{name} [{}:{}]", client.0, client.1);
            let mut check = |field: &str, good: bool, want: String, got: String| {
                checks += 1;
                if !good {
                    mismatches.push(format!("{w}: {field}: expected {want}, got {got}"));
                }
            };
            let found = conns.iter().find(|t| t.client == client);
            check(
                "connection",
                found.is_some(),
                "present".into(),
                "absent".into(),
            );
            let Some(t) = found else { continue };
            let chs = client_hellos(&t.conn.client_events);
            let wchs = s["client_hellos"].as_array().cloned().unwrap_or_default();
            check(
                "client_hello count",
                chs.len() == wchs.len(),
                wchs.len().to_string(),
                chs.len().to_string(),
            );
            for (want, ch) in wchs.iter().zip(&chs) {
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
                    .collect();
                wsv.sort();
                let mut gsv: Vec<u64> = ch
                    .supported_versions
                    .iter()
                    .map(|&v| u64::from(v))
                    .collect();
                gsv.sort();
                check(
                    "supported_versions",
                    gsv == wsv,
                    format!("{wsv:?}"),
                    format!("{gsv:?}"),
                );
                let wext: Vec<u64> = want["extensions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(hexnum)
                    .collect();
                let gext: Vec<u64> = ch.extensions.iter().map(|&e| u64::from(e)).collect();
                check(
                    "extensions",
                    gext == wext,
                    format!("{wext:?}"),
                    format!("{gext:?}"),
                );
                let wframe = want["frame"].as_u64();
                let gframe = t
                    .conn
                    .client_events
                    .iter()
                    .find(|e| matches!(&e.event, Event::ClientHello(c) if std::ptr::eq(&**c, *ch)))
                    .map(|e| e.frame);
                check(
                    "client_hello frame",
                    gframe == wframe,
                    format!("{wframe:?}"),
                    format!("{gframe:?}"),
                );
            }
            let shs: Vec<(&tls::ServerHello, u64)> = t
                .conn
                .server_events
                .iter()
                .filter_map(|e| match &e.event {
                    Event::ServerHello(sh) => Some((&**sh, e.frame)),
                    _ => None,
                })
                .collect();
            let wshs = s["server_hellos"].as_array().cloned().unwrap_or_default();
            check(
                "server_hello count",
                shs.len() == wshs.len(),
                wshs.len().to_string(),
                shs.len().to_string(),
            );
            for (ws, (sh, frame)) in wshs.iter().zip(&shs) {
                let wver =
                    hexnum(&ws["selected_version"]).or_else(|| hexnum(&ws["legacy_version"]));
                check(
                    "server_version",
                    Some(u64::from(sh.version)) == wver,
                    format!("{wver:?}"),
                    format!("{:#x}", sh.version),
                );
                let wcs = hexnum(&ws["cipher_suite"]);
                check(
                    "server_cipher",
                    Some(u64::from(sh.cipher_suite)) == wcs,
                    format!("{wcs:?}"),
                    format!("{:#x}", sh.cipher_suite),
                );
                let whrr = ws["hello_retry_request"].as_bool().unwrap_or(false);
                check(
                    "hello_retry_request",
                    sh.hello_retry_request == whrr,
                    whrr.to_string(),
                    sh.hello_retry_request.to_string(),
                );
                check(
                    "server_hello frame",
                    ws["frame"].as_u64() == Some(*frame),
                    format!("{:?}", ws["frame"]),
                    frame.to_string(),
                );
            }
            let wcerts: Vec<String> = s["server_certificates"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["sha256"].as_str().map(str::to_lowercase))
                .collect();
            let gcerts: Vec<String> = t
                .conn
                .server_events
                .iter()
                .find_map(|e| match &e.event {
                    Event::Certificate(c) => {
                        Some(c.iter().map(|d| crate::x509::sha256_hex(d)).collect())
                    }
                    _ => None,
                })
                .unwrap_or_default();
            check(
                "server_certificates",
                gcerts == wcerts,
                format!("{wcerts:?}"),
                format!("{gcerts:?}"),
            );
            // Handshake messages tshark saw in the clear, by type and sender.
            let wmsgs: Vec<(String, u64)> = s["handshake_messages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| Some((m["from"].as_str()?.to_string(), m["type"].as_u64()?)))
                .collect();
            let ty = |e: &Event| match e {
                Event::ClientHello(_) => Some(1),
                Event::ServerHello(_) => Some(2),
                Event::Certificate(_) => Some(11),
                Event::ServerKeyExchange { .. } => Some(12),
                Event::CertificateRequest { .. } => Some(13),
                Event::CertificateStatus { .. } => Some(22),
                Event::Handshake(t) => Some(u64::from(*t)),
                _ => None,
            };
            let mut gmsgs: Vec<(String, u64, u64)> = Vec::new();
            for (from, evs) in [
                ("client", &t.conn.client_events),
                ("server", &t.conn.server_events),
            ] {
                for e in evs {
                    if let Some(n) = ty(&e.event) {
                        gmsgs.push((from.to_string(), e.frame, n));
                    }
                }
            }
            gmsgs.sort_by_key(|m| m.1);
            let gmsgs: Vec<(String, u64)> = gmsgs.into_iter().map(|(f, _, t)| (f, t)).collect();
            check(
                "handshake_messages",
                gmsgs == wmsgs,
                format!("{wmsgs:?}"),
                format!("{gmsgs:?}"),
            );
            let wenc_alerts = s["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["encrypted"].as_bool() == Some(true))
                .count();
            let genc_alerts = t
                .conn
                .client_events
                .iter()
                .chain(&t.conn.server_events)
                .filter(|e| {
                    matches!(
                        e.event,
                        Event::Alert {
                            encrypted: true,
                            ..
                        }
                    )
                })
                .count();
            check(
                "encrypted alerts",
                genc_alerts == wenc_alerts,
                wenc_alerts.to_string(),
                genc_alerts.to_string(),
            );
            check(
                "no malformed",
                malformed(&t.conn.client_events).is_empty()
                    && malformed(&t.conn.server_events).is_empty(),
                "[]".into(),
                format!(
                    "{:?} {:?}",
                    malformed(&t.conn.client_events),
                    malformed(&t.conn.server_events)
                ),
            );
            // That capture ends after ServerHello: neither side ever encrypts.
            let wdone = !name.contains("sequence-number-jumps");
            check(
                "done",
                t.conn.done() == wdone,
                wdone.to_string(),
                t.conn.done().to_string(),
            );
        }
    }
    println!(
        "dtls corpus: {}/{checks} checks agree over {streams} tshark DTLS streams",
        checks - mismatches.len()
    );
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}
