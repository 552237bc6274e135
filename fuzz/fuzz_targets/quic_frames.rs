//! The decrypted payloads of QUIC Initial packets from both sides: PADDING, PING, ACK, CRYPTO
//! (at any offset, overlapping, out of order) and CONNECTION_CLOSE frames, the CRYPTO streams
//! put back together and the ClientHello / ServerHello they carry parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsmortem::proto::quic::QuicConn;
use tlsmortem_fuzz::{datagrams, origin};

fuzz_target!(|data: &[u8]| {
    let mut conn = QuicConn::default();
    for (n, (from_server, payload)) in datagrams(data).into_iter().enumerate() {
        conn.initial_payload(!from_server, n as u64, payload, origin(n));
    }
    if let Some(close) = &conn.connection_close {
        assert!(close.reason.len() <= 4 * tlsmortem::proto::quic::MAX_CLOSE_REASON);
    }
});
