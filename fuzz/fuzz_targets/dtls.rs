//! DTLS datagrams of one UDP flow: several records per datagram, handshake messages in
//! fragments (any offset and length, repeated, overlapping), HelloVerifyRequest, alerts, the
//! start of encryption; then the same datagrams through the flow's conversation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tlsmortem::proto::dtls::DtlsConn;
use tlsmortem_fuzz::{datagrams, origin, udp_conversation};

fuzz_target!(|data: &[u8]| {
    let dgrams = datagrams(data);
    let mut conn = DtlsConn::default();
    for (n, &(from_server, payload)) in dgrams.iter().enumerate() {
        conn.datagram(!from_server, payload, origin(n));
    }
    let _ = conn.done();
    let cap = tlsmortem::proto::tls::MAX_EVENTS + 1;
    assert!(conn.client_events.len() <= cap && conn.server_events.len() <= cap);
    udp_conversation(&dgrams);
});
