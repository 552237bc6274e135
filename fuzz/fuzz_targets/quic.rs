//! QUIC datagrams of one UDP flow as they come off the wire: coalesced long-header packets,
//! Initial packets decrypted with the keys of their Destination Connection ID (RFC 9001 §5.2),
//! Retry and Version Negotiation, other connections on the same 5-tuple; then the same
//! datagrams through the flow's conversation, which must recognise them first.
//!
//! Mutated packets rarely decrypt, so the frames inside are fuzzed by `quic_frames`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsmortem::proto::quic::QuicConn;
use tlsmortem_fuzz::{datagrams, origin, udp_conversation};

fuzz_target!(|data: &[u8]| {
    let dgrams = datagrams(data);
    let mut conn = QuicConn::default();
    for (n, &(from_server, payload)) in dgrams.iter().enumerate() {
        if !conn.is_other_connection(!from_server, payload) {
            conn.datagram(!from_server, payload, origin(n));
        }
    }
    let _ = conn.done();
    udp_conversation(&dgrams);
});
