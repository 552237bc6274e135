//! The text report's plain-text ladder (`report::ladder`) against a golden file.
//!
//! `tests/data/ladder/inject-single-rst.client.txt` is the ladder under the one failed handshake
//! of `captures/netns/inject-single-rst.client.pcap`. It was not blessed from tlsmortem's output
//! alone: every column was compared with tshark's reading of the capture —
//!
//!   tshark -r captures/netns/inject-single-rst.client.pcap -o tcp.relative_sequence_numbers:TRUE \
//!     -T fields -e frame.number -e frame.time_relative -e ip.src -e tcp.flags.str -e tcp.seq \
//!     -e tcp.ack -e tcp.len -e ip.ttl -e ip.id -e tls.handshake.type -e tls.record.content_type
//!
//! — frame numbers, milliseconds since frame 1 (`frame.time_relative` × 1000), direction (the
//! client is 10.200.1.2), flags, relative seq and ack (ack shown only with the ACK flag, where
//! tshark prints 0), payload length, TTL and IP ID (tshark's hex converted) agree line for
//! line. The messages: tshark sees handshake type 1 in frame 4 (ClientHello) and type 2 in
//! frame 8 (ServerHello) followed by application-data records (lengths 23, 953, 281), which the
//! ladder calls "encrypted records"; the TLS 1.3 compatibility ChangeCipherSpec in frame 8 is
//! not named because the TLS stage stops naming the server's records after a TLS 1.3
//! ServerHello. The marks come from how the capture was made (`captures/netns/truth.json`):
//! frame 5 is the injector's RST (TTL 50, IP ID 0) and is the judged packet; the verdict cites
//! the ClientHello (frame 4) and the server's SYN-ACK it compared the RST with (frame 2, TTL
//! 63); the server's flight (frames 8, 10) raced the RST and the client answered it with RSTs
//! (frames 7, 9, 11), never an ACK, so its data is "never acknowledged". The RTT line is SYN
//! (0) to the completing ACK (30.881 ms), and the capture point is the client's, as truth's
//! `capture_point` says (TTL 64 unrouted, the server's packets arrive with 63).

mod common;

use common::fixtures::{captures, root};
use tlsmortem::report::{Prepared, Reporter, Text};
use tlsmortem::Config;

/// The text report of a capture under `captures/`, its packets kept for the ladders.
fn text_report(rel: &str, ladders: bool) -> String {
    let bytes = std::fs::read(captures(rel)).expect("capture is readable");
    let config = Config {
        ladders: true,
        ..Config::default()
    };
    let mut buf = Vec::new();
    {
        let mut r = Text::new(&mut buf).with_ladders(ladders);
        let needs = r.needs();
        tlsmortem::analyze_bytes(rel, &bytes, &config, &mut |c| {
            r.prepared(&Prepared::new(c, needs))
                .expect("write to memory");
        })
        .expect("analyses");
        r.finish().expect("write to memory");
    }
    String::from_utf8(buf).expect("UTF-8")
}

/// The ladder lines of a report: from "  ladder (" to the end of that block.
fn ladder_lines(report: &str) -> String {
    report
        .lines()
        .skip_while(|l| !l.starts_with("  ladder ("))
        .take_while(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn the_ladder_of_an_injected_rst_matches_the_golden_file_checked_against_tshark() {
    let report = text_report("netns/inject-single-rst.client.pcap", true);
    let golden =
        std::fs::read_to_string(root().join("tests/data/ladder/inject-single-rst.client.txt"))
            .expect("golden file");
    assert_eq!(ladder_lines(&report), golden, "{report}");
    // Under the failed block, before the connection table.
    let ladder = report.find("  ladder (").expect("ladder");
    assert!(report.find("frame 1  ").is_some_and(|b| b < ladder));
    assert!(report.find("\nConnections\n").is_some_and(|t| ladder < t));
}

#[test]
fn no_ladder_leaves_the_text_report_as_it_was() {
    let with = text_report("netns/inject-single-rst.client.pcap", true);
    let without = text_report("netns/inject-single-rst.client.pcap", false);
    assert!(!without.contains("  ladder ("));
    // Taking the ladder lines out of the one gives the other.
    assert_eq!(with.replace(&ladder_lines(&with), ""), without);
}

#[test]
fn a_complete_handshake_gets_no_ladder() {
    let report = text_report("tls12-openssl.pcap", true);
    assert!(report.starts_with("Failed handshakes: none\n"));
    assert!(!report.contains("  ladder ("));
}
