//! One connection built packet by packet (TCP or UDP, IPv4 or IPv6, either direction, any
//! flags, sequence and acknowledgement numbers, TTLs, timing and payloads), written as a raw-IP
//! pcap and run through the whole analysis: flow tracking, TCP reassembly of both directions,
//! the protocol parsers, the judge and every report.
//!
//! The pipeline target reaches the same code from capture bytes, but here the fuzzer edits the
//! fields that matter to a connection directly instead of finding them inside a pcap.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((header, packets)) = tlsmortem_fuzz::flow(data) else {
        return;
    };
    let pcap = tlsmortem_fuzz::flow_pcap(&header, &packets);
    let lines = tlsmortem_fuzz::analyze_and_report(&pcap, 1, 0);
    assert!(lines.is_some(), "a well-formed pcap was refused");
});
