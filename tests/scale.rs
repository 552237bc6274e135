//! Bounded memory under hostile or huge input: a quarter of a million connections that never
//! close, and one flow sending endless out-of-order segments. The captures are built here,
//! packet by packet, so the expected numbers come from how they were made.

mod common;

use tlsmortem::{analyze_bytes, Config};

use common::analyze;
use common::pcap::{tcp, Pcap, ACK, RST, SYN};

/// `n` SYNs to port 443 from distinct clients, all within one second of capture time: none
/// of the connections can expire.
fn never_closing(n: u32) -> Pcap {
    let mut pcap = Pcap::default();
    for i in 0..n {
        let src = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        pcap.push(&tcp(
            u64::from(i) * 4,
            src,
            [192, 0, 2, 1],
            (40000, 443),
            i,
            SYN,
            &[],
        ));
    }
    pcap
}

/// Every record, as JSON, for one worker count and chunk size (only the flows that carried TLS
/// or were aimed at a TLS port, the default).
fn records(name: &str, pcap: &[u8], threads: usize, chunk_bytes: usize) -> Vec<String> {
    let config = Config {
        threads,
        chunk_bytes,
        ..Default::default()
    };
    analyze::records(name, pcap, &config).0
}

#[test]
fn a_quarter_million_open_connections_stay_within_the_flow_cap_and_say_so() {
    let n: u32 = 250_000;
    let pcap = never_closing(n);
    let mut reported = 0u64;
    let mut evicted = 0u64;
    let stats = analyze_bytes(
        "many.pcap",
        pcap.bytes(),
        &Config {
            threads: 1,
            ..Default::default()
        },
        &mut |c| {
            reported += 1;
            evicted += u64::from(c.findings.iter().any(|f| f.id.as_str() == "flow-evicted"));
        },
    )
    .expect("runs");
    assert_eq!(
        reported,
        u64::from(n),
        "every connection aimed at 443 is reported once"
    );
    assert!(
        stats.peak_open_flows <= tlsmortem::flow::MAX_OPEN_FLOWS,
        "peak {}",
        stats.peak_open_flows
    );
    assert!(
        evicted >= u64::from(n) - tlsmortem::flow::MAX_OPEN_FLOWS as u64,
        "{evicted} evicted"
    );
}

#[test]
fn endless_out_of_order_segments_hit_the_reassembly_cap_and_the_connection_is_still_reported() {
    let mut pcap = Pcap::default();
    let (c, s) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    pcap.push(&tcp(0, c, s, (50000, 443), 1000, SYN, &[]));
    // Every segment lies beyond a hole at the start of the stream that never fills.
    let chunk = [0x16u8; 1000];
    let segments = 4 * tlsmortem::flow::reassembly::MAX_PENDING_BYTES / chunk.len();
    for i in 0..segments {
        pcap.push(&tcp(
            10 + i as u64,
            c,
            s,
            (50000, 443),
            1001 + 100 + (i as u32) * 2000,
            ACK,
            &chunk,
        ));
    }
    let mut conns = Vec::new();
    analyze_bytes(
        "ooo.pcap",
        pcap.bytes(),
        &Config {
            threads: 1,
            ..Default::default()
        },
        &mut |c| conns.push(c),
    )
    .expect("runs");
    assert_eq!(conns.len(), 1);
    let ids: Vec<&str> = conns[0].findings.iter().map(|f| f.id.as_str()).collect();
    assert!(ids.contains(&"reassembly-cap"), "{ids:?}");
    assert!(ids.contains(&"bytes-missing"), "{ids:?}");
    // Every packet is counted even after the direction was given up and nothing is buffered.
    assert_eq!(conns[0].tcp.client_packets as usize, segments + 1);
    assert!(
        conns[0].tcp.out_of_order as usize * 1000 > tlsmortem::flow::reassembly::MAX_PENDING_BYTES
    );
}

#[test]
fn which_connections_the_flow_cap_evicts_does_not_depend_on_the_number_of_workers() {
    let n: u32 = 130_000;
    let pcap = never_closing(n);
    let one = records("cap.pcap", pcap.bytes(), 1, 0);
    assert_eq!(one.len(), n as usize);
    let evicted = one
        .iter()
        .filter(|r| r.contains("\"flow-evicted\""))
        .count();
    assert!(
        evicted >= (n as usize) - tlsmortem::flow::MAX_OPEN_FLOWS,
        "{evicted} evicted"
    );
    for threads in [2, 3] {
        assert!(
            one == records("cap.pcap", pcap.bytes(), threads, 0),
            "{threads} workers"
        );
    }
}

#[test]
fn a_connection_open_while_more_than_the_waiting_limit_finish_is_reported_early_the_same_way_on_any_number_of_workers(
) {
    let waiting = tlsmortem::flow::MAX_WAITING as u32;
    let short = waiting * 3 / 2;
    let (long_client, server) = ([10, 255, 0, 1], [192, 0, 2, 1]);
    let mut pcap = Pcap::default();
    pcap.push(&tcp(0, long_client, server, (50000, 443), 7, SYN, &[]));
    // Short connections, reset at once, over 60 s: each is finished 10 s after its reset,
    // and its record waits behind the long connection, which started first.
    for i in 0..short {
        let src = [10, (i >> 16) as u8, (i >> 8) as u8, i as u8];
        let t = 1 + u64::from(i) * 60_000_000 / u64::from(short);
        pcap.push(&tcp(t, src, server, (40000, 443), i, SYN, &[]));
        pcap.push(&tcp(t + 1, server, src, (443, 40000), 0, RST | ACK, &[]));
    }
    pcap.push(&tcp(
        61_000_000,
        long_client,
        server,
        (50000, 443),
        8,
        ACK,
        &[],
    ));
    // Decisions to finish old flows are taken between chunks: small ones, for a small file.
    let chunk = 64 * 1024;
    let one = records("waiting.pcap", pcap.bytes(), 1, chunk);
    // The long connection twice (reported early, then its last packet on its own), and every
    // short one.
    assert_eq!(one.len(), short as usize + 2);
    let long: Vec<&String> = one
        .iter()
        .filter(|r| r.contains("\"port\":50000"))
        .collect();
    assert_eq!(long.len(), 2, "{long:?}");
    assert!(long[0].contains("\"flow-evicted\""), "{}", long[0]);
    assert!(long[1].contains("\"mid-stream\""), "{}", long[1]);
    for threads in [2, 3] {
        assert!(
            one == records("waiting.pcap", pcap.bytes(), threads, chunk),
            "{threads} workers"
        );
    }
}
