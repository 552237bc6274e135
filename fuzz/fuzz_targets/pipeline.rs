//! The whole pipeline on a capture held in memory, as `tlsmortem` runs it on a file: capture
//! reader, decoding, flows, reassembly, TLS/QUIC/DTLS/STARTTLS, certificates, the judge, and
//! every report (JSON lines, text, summary, `certs` listing), which must parse (JSON) and be
//! safe on a terminal (text).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = tlsmortem_fuzz::analyze_and_report(data, 1, 0);
});
