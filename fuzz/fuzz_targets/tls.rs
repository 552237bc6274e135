//! The TLS record layer and handshake parsers on one direction's ordered bytes, delivered in
//! chunks (records and messages spanning chunks, gaps that lose sync), and the fingerprints of
//! every hello found.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsmortem::proto::fingerprint::{self, Transport};
use tlsmortem::proto::tls::{negotiated_suite, Direction, Event};
use tlsmortem_fuzz::{chunks, origin, Chunk};

fuzz_target!(|data: &[u8]| {
    let mut dir = Direction::new();
    for (n, chunk) in chunks(data).into_iter().enumerate() {
        match chunk {
            Chunk::Data(bytes) => dir.feed(bytes, origin(n)),
            Chunk::Gap => dir.gap(),
        }
    }
    assert!(dir.events.len() <= tlsmortem::proto::tls::MAX_EVENTS);
    assert!(dir.plaintext.len() <= tlsmortem::proto::tls::MAX_PLAINTEXT);
    let _ = negotiated_suite(&dir.events);
    for e in &dir.events {
        match &e.event {
            Event::ClientHello(ch) => {
                let _ = fingerprint::ja3(ch);
                for t in [Transport::Tcp, Transport::Quic, Transport::Dtls] {
                    let ja4 = fingerprint::ja4(ch, t);
                    assert!(ja4.is_ascii(), "JA4 {ja4:?} is not ASCII");
                }
            }
            Event::ServerHello(sh) => {
                let _ = fingerprint::ja3s(sh);
            }
            _ => {}
        }
    }
});
