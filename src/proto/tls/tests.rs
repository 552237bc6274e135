//! Unit tests of the TLS record layer and hello parsers: hand-built records and handshake
//! messages in, the events and parsed hellos of [`Direction`] and [`parse_client_hello`] /
//! [`parse_server_hello`] checked. They cover a full decode with GREASE kept, a bad extension
//! among good ones, a hello split across chunks and across records, plaintext and encrypted
//! alerts, HelloRetryRequest, the SSLv2-compatible hello, plaintext before TLS, and every
//! truncation of one record plus a table of malformed inputs, which must not panic. They read
//! no capture file.

use super::*;
use crate::flow::reassembly::Origin;

fn origin(frame: u64) -> Origin {
    Origin {
        frame,
        ts: Timestamp(0),
    }
}

/// A ClientHello handshake message with the given extensions (type, body).
fn client_hello_msg(exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[0x11; 32]);
    body.push(0); // session id
    body.extend_from_slice(&[0, 4, 0x13, 0x01, 0xc0, 0x2f]);
    body.extend_from_slice(&[1, 0]);
    let mut e = Vec::new();
    for (t, d) in exts {
        e.extend_from_slice(&t.to_be_bytes());
        e.extend_from_slice(&(d.len() as u16).to_be_bytes());
        e.extend_from_slice(d);
    }
    body.extend_from_slice(&(e.len() as u16).to_be_bytes());
    body.extend_from_slice(&e);
    let mut msg = vec![1];
    msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    msg.extend_from_slice(&body);
    msg
}

fn record(ct: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ct, 3, 1];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn sni_ext(name: &str) -> (u16, Vec<u8>) {
    let mut d = ((name.len() + 3) as u16).to_be_bytes().to_vec();
    d.push(0);
    d.extend_from_slice(&(name.len() as u16).to_be_bytes());
    d.extend_from_slice(name.as_bytes());
    (0, d)
}

fn client_hellos(d: &Direction) -> Vec<&ClientHello> {
    d.events
        .iter()
        .filter_map(|e| match &e.event {
            Event::ClientHello(c) => Some(c.as_ref()),
            _ => None,
        })
        .collect()
}

#[test]
fn client_hello_fields_are_read_in_wire_order_with_grease_kept() {
    let msg = client_hello_msg(&[
        (0x0a0a, vec![]),
        sni_ext("example.com"),
        (16, vec![0, 9, 2, b'h', b'2', 1, b'x', 0]),
        (43, vec![4, 0x3a, 0x3a, 0x03, 0x04]),
        (10, vec![0, 4, 0x00, 0x1d, 0x00, 0x17]),
        (51, vec![0, 6, 0x00, 0x1d, 0, 2, 9, 9]),
    ]);
    let ch = parse_client_hello(&msg[4..]).unwrap();
    assert_eq!(ch.extensions, vec![0x0a0a, 0, 16, 43, 10, 51]);
    assert_eq!(ch.sni.as_deref(), Some("example.com"));
    assert_eq!(ch.supported_versions, vec![0x3a3a, 0x0304]);
    assert_eq!(ch.supported_groups, vec![0x1d, 0x17]);
    assert_eq!(ch.key_share_groups, vec![0x1d]);
    assert_eq!(ch.cipher_suites, vec![0x1301, 0xc02f]);
    assert!(
        ch.bad_extensions.contains(&16),
        "ALPN with a truncated name is flagged"
    );
}

#[test]
fn a_bad_extension_does_not_hide_the_ones_after_it() {
    let msg = client_hello_msg(&[(10, vec![0, 9, 1]), sni_ext("after.example")]);
    let ch = parse_client_hello(&msg[4..]).unwrap();
    assert_eq!(ch.extensions, vec![10, 0]);
    assert_eq!(ch.sni.as_deref(), Some("after.example"));
    assert_eq!(ch.bad_extensions, vec![10]);
}

#[test]
fn client_hello_split_across_three_chunks_is_reassembled() {
    let rec = record(22, &client_hello_msg(&[sni_ext("split.example")]));
    let mut d = Direction::new();
    d.feed(&rec[..3], origin(1));
    d.feed(&rec[3..40], origin(2));
    d.feed(&rec[40..], origin(3));
    let chs = client_hellos(&d);
    assert_eq!(chs.len(), 1);
    assert_eq!(chs[0].sni.as_deref(), Some("split.example"));
    assert_eq!(d.events[0].frame, 3);
}

#[test]
fn handshake_message_fragmented_across_records_is_reassembled() {
    let msg = client_hello_msg(&[sni_ext("frag.example")]);
    let mut bytes = record(22, &msg[..10]);
    bytes.extend(record(22, &msg[10..]));
    let mut d = Direction::new();
    d.feed(&bytes, origin(1));
    assert_eq!(client_hellos(&d)[0].sni.as_deref(), Some("frag.example"));
}

#[test]
fn plaintext_alert_and_encrypted_alert_are_told_apart() {
    let mut d = Direction::new();
    d.feed(&record(21, &[2, 40]), origin(1));
    assert!(matches!(
        d.events[0].event,
        Event::Alert {
            level: Some(2),
            description: Some(40),
            encrypted: false
        }
    ));
    let mut d = Direction::new();
    let mut b = record(20, &[1]);
    b.extend(record(22, &[0x55; 40]));
    b.extend(record(21, &[0x66; 26]));
    d.feed(&b, origin(1));
    assert!(d.done());
    let enc: Vec<_> = d
        .events
        .iter()
        .filter(|e| {
            matches!(
                e.event,
                Event::Alert {
                    encrypted: true,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(enc.len(), 1);
}

#[test]
fn hello_retry_request_is_detected_by_its_random() {
    let mut body = vec![3, 3];
    body.extend_from_slice(&HRR_RANDOM);
    body.extend_from_slice(&[0, 0x13, 0x01, 0, 0, 6, 0, 43, 0, 2, 3, 4]);
    let sh = parse_server_hello(&body).unwrap();
    assert!(sh.hello_retry_request);
    assert_eq!(sh.version, 0x0304);
    assert_eq!(sh.cipher_suite, 0x1301);
}

#[test]
fn tls13_server_direction_is_done_after_server_hello() {
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7; 32]);
    body.extend_from_slice(&[0, 0x13, 0x02, 0, 0, 6, 0, 43, 0, 2, 3, 4]);
    let mut msg = vec![2, 0, 0, body.len() as u8];
    msg.extend_from_slice(&body);
    let mut d = Direction::new();
    d.feed(&record(22, &msg), origin(1));
    assert!(d.done());
}

#[test]
fn sslv2_compatible_client_hello_is_parsed() {
    // length 0x801f: type 1, version 3.1, 6 bytes of specs, no session id, 16-byte challenge
    let mut b = vec![0x80, 0x1f, 1, 3, 1, 0, 6, 0, 0, 0, 16];
    b.extend_from_slice(&[0x00, 0x00, 0x39, 0x01, 0x00, 0x80]);
    b.extend_from_slice(&[0xaa; 16]);
    let mut d = Direction::new();
    d.feed(&b, origin(1));
    let chs = client_hellos(&d);
    assert_eq!(chs.len(), 1);
    assert!(chs[0].sslv2);
    assert_eq!(chs[0].legacy_version, 0x0301);
    assert_eq!(chs[0].sslv2_cipher_specs, vec![0x39, 0x010080]);
}

#[test]
fn plaintext_protocol_then_tls_is_found_at_a_chunk_start() {
    let mut d = Direction::new();
    d.feed(b"EHLO mail.example\r\n", origin(1));
    d.feed(b"STARTTLS\r\n", origin(2));
    d.feed(
        &record(22, &client_hello_msg(&[sni_ext("mail.example")])),
        origin(3),
    );
    assert!(matches!(d.events[0].event, Event::NotTls(_)));
    assert_eq!(client_hellos(&d)[0].sni.as_deref(), Some("mail.example"));
}

#[test]
fn truncated_and_garbage_inputs_never_panic() {
    let rec = record(
        22,
        &client_hello_msg(&[sni_ext("cut.example"), (43, vec![2, 3, 4])]),
    );
    for cut in 0..rec.len() {
        let mut d = Direction::new();
        d.feed(&rec[..cut], origin(1));
        let _ = parse_client_hello(rec.get(9..cut).unwrap_or_default());
        let _ = parse_server_hello(rec.get(9..cut).unwrap_or_default());
    }
    let table: &[&[u8]] = &[
        &[22, 3, 1, 0xff, 0xff],
        &[22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff],
        &[21, 3, 3, 0, 3, 2, 40, 1],
        &[0x80, 0x03, 1, 3, 1],
        &[22, 3, 3, 0, 4, 2, 0, 0, 0],
        &[22, 3, 3, 0, 4, 11, 0, 0, 0],
    ];
    for input in table {
        let mut d = Direction::new();
        d.feed(input, origin(1));
    }
}

#[test]
fn a_dhe_server_key_exchange_gives_the_size_of_its_prime_and_an_ecdhe_one_its_group() {
    use super::server_key_exchange;
    let mut dhe = vec![0, 64];
    dhe.extend([0xff; 64]);
    dhe.extend([0, 1, 2, 0, 1, 5]);
    let ske = |body: &[u8], suite| match server_key_exchange(body, suite) {
        Event::ServerKeyExchange { group, dh_bits } => (group, dh_bits),
        other => panic!("{other:?}"),
    };
    // DHE-RSA-AES128-GCM-SHA256.
    assert_eq!(ske(&dhe, Some(0x009e)), (None, Some(512)));
    // A prime written with a leading zero byte, and one whose top bit is clear.
    let mut padded = vec![0, 65, 0];
    padded.extend([0xff; 64]);
    assert_eq!(ske(&padded, Some(0x009e)), (None, Some(512)));
    let mut short_top = vec![0, 64, 0x7f];
    short_top.extend([0xff; 63]);
    assert_eq!(ske(&short_top, Some(0x009e)), (None, Some(511)));
    // ECDHE-RSA-AES128-GCM-SHA256 with x25519.
    assert_eq!(ske(&[3, 0, 29, 32], Some(0xc02f)), (Some(29), None));
    // Without a ServerHello, ECParameters are recognised; nothing else is guessed.
    assert_eq!(ske(&[3, 0, 23, 65], None), (Some(23), None));
    assert_eq!(ske(&dhe, None), (None, None));
    // A DHE body cut short, or a zero prime, says nothing.
    assert_eq!(ske(&[0, 64, 0xff], Some(0x009e)), (None, None));
    assert_eq!(ske(&[0, 2, 0, 0], Some(0x009e)), (None, None));
    assert_eq!(ske(&[], Some(0x009e)), (None, None));
}

#[test]
fn a_stream_seen_from_its_middle_that_starts_with_an_encrypted_alert_or_data_is_tls() {
    let origin = Origin {
        frame: 9,
        ts: crate::capture::Timestamp(0),
    };
    for (ct, len) in [(21u8, 26u16), (23, 40)] {
        let mut rec = vec![ct, 3, 3];
        rec.extend(len.to_be_bytes());
        rec.extend(vec![0xa5; usize::from(len)]);
        let mut d = Direction::default();
        d.feed(&rec, origin);
        assert!(d.saw_tls, "content type {ct}");
        assert!(
            !d.events
                .iter()
                .any(|e| matches!(e.event, Event::NotTls(_) | Event::Malformed(_))),
            "content type {ct}: {:?}",
            d.events
        );
        let alert = d.events.iter().any(|e| {
            matches!(
                e.event,
                Event::Alert {
                    encrypted: true,
                    ..
                }
            )
        });
        assert_eq!(alert, ct == 21, "content type {ct}");
    }
    // A plaintext alert is still read as one, and a short odd alert record is no encrypted one.
    let mut d = Direction::default();
    d.feed(&[21, 3, 3, 0, 2, 2, 40], origin);
    assert!(d.events.iter().any(|e| matches!(
        e.event,
        Event::Alert {
            level: Some(2),
            description: Some(40),
            encrypted: false
        }
    )));
    let mut d = Direction::default();
    d.feed(&[21, 3, 3, 0, 5, 2, 40, 1, 1, 1], origin);
    assert!(!d.saw_tls);
}

#[test]
fn a_handshake_header_split_across_records_that_completes_at_a_records_end_waits_for_the_next() {
    let origin = Origin {
        frame: 4,
        ts: crate::capture::Timestamp(0),
    };
    let mut d = Direction::default();
    // A ServerHello (type 2) of 42 bytes whose 4-byte header is split 2 + 2 over two records,
    // the second ending right after the header; the body follows in a third record.
    let mut body = vec![0x03, 0x03];
    body.extend([0x11; 32]);
    body.extend([0, 0x13, 0x01, 0]);
    body.extend([0, 2, 0xff, 0x01]);
    let len = u8::try_from(body.len()).expect("small");
    d.feed(&[22, 3, 3, 0, 2, 2, 0], origin);
    d.feed(&[22, 3, 3, 0, 2, 0, len], origin);
    let mut third = vec![22, 3, 3, 0, len];
    third.extend(&body);
    d.feed(&third, origin);
    assert!(
        d.events
            .iter()
            .any(|e| matches!(e.event, Event::ServerHello(_))),
        "{:?}",
        d.events
    );
}

#[test]
fn bytes_like_an_sslv2_hello_after_tls_records_are_not_a_record_and_do_not_loop() {
    // Found by the `tls` fuzz target (tests/data/fuzz/tls/): after a TLS record, a chunk whose
    // first bytes read as an SSLv2 ClientHello header (length with the high bit, type 1,
    // version 3.3) was taken for a record start, failed the TLS header check and was sniffed
    // again, for ever.
    let mut d = Direction::new();
    d.feed(&record(22, &[14, 0, 0, 0]), origin(1));
    d.feed(&[0xed, 3, 1, 3, 3, 0, 0x10], origin(2));
    assert!(d.saw_tls);
    assert_eq!(d.records, 1);
    assert!(client_hellos(&d).is_empty());
    assert!(
        matches!(d.events[0].event, Event::Handshake(14)),
        "{:?}",
        d.events
    );
}

#[test]
fn an_empty_record_whose_header_spans_chunks_is_read_once_and_what_follows_too() {
    // Found by the `tls` fuzz target (tests/data/fuzz/tls/): the header of a record of length
    // 0, cut after three bytes, was checked again and again once complete, for ever.
    let mut d = Direction::new();
    d.feed(&[21, 3, 3], origin(1));
    d.feed(&[0, 0], origin(2));
    d.feed(&record(22, &[14, 0, 0, 0]), origin(3));
    assert_eq!(d.records, 2);
    assert!(
        d.events
            .iter()
            .any(|e| matches!(e.event, Event::Handshake(14))),
        "{:?}",
        d.events
    );
}
