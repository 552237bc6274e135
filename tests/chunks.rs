//! A capture read in chunks by several workers gives exactly what one walk from the start
//! gives: the same records, frame numbers, problems and truncation, whatever the chunk size,
//! in every container layout (pcap either byte order and resolution, pcapng with sections of
//! either byte order, interfaces described midway, Simple Packet Blocks, unknown and malformed
//! blocks), with runs of zeros that look like records, a corrupt record midway and a cut end.
//! The captures are built here, packet by packet; the single sequential walk is the reference.

mod common;

use tlsmortem::{analyze_bytes, Config};

use common::analyze::records;
use common::pcap::{block, epb, idb, pcap, shb, spb, tcp, Packet, ACK, FIN_ACK, PSH_ACK, RST, SYN};

/// Capture time of the first packet, in microseconds since the Unix epoch (November 2023).
const T0: u64 = 1_700_000_000 * 1_000_000;

/// `n` interleaved connections to port 443: handshake, a TLS-looking record from the client
/// (some padded with long runs of zeros, as a ClientHello padding extension is), an answer,
/// and a FIN or a RST. Time runs over several seconds so that idle sweeps happen midway.
fn conversation(n: u32) -> Vec<Packet> {
    let mut out = Vec::new();
    let server = [192, 0, 2, 1];
    for i in 0..n {
        let client = [10, 1, (i >> 8) as u8, i as u8];
        let ports = (40000 + (i % 2000) as u16, 443);
        let back = (ports.1, ports.0);
        let t = T0 + u64::from(i) * 21_000;
        let mut hello = vec![0x16, 0x03, 0x01, 0, 0];
        let body = 60 + (i as usize * 37) % 700;
        hello[3..5].copy_from_slice(&(body as u16).to_be_bytes());
        hello.extend((0..body).map(|k| {
            if i % 3 == 0 && k > 20 {
                0
            } else {
                (k * 7 + i as usize) as u8
            }
        }));
        let answer: Vec<u8> = (0..(i as usize * 53) % 1400)
            .map(|k| (k as u8) ^ 0x5a)
            .collect();
        out.push(tcp(t, client, server, ports, 1000, SYN, &[]));
        out.push(tcp(t + 500, server, client, back, 5000, SYN | ACK, &[]));
        out.push(tcp(t + 900, client, server, ports, 1001, ACK, &[]));
        out.push(tcp(t + 1000, client, server, ports, 1001, PSH_ACK, &hello));
        if i % 7 == 3 {
            out.push(tcp(t + 1200, server, client, back, 5001, RST, &[]));
        } else {
            out.push(tcp(t + 1500, server, client, back, 5001, PSH_ACK, &answer));
            out.push(tcp(
                t + 2000,
                client,
                server,
                ports,
                1001 + hello.len() as u32,
                FIN_ACK,
                &[],
            ));
        }
    }
    out.sort_by_key(|p| p.usec);
    out
}

/// pcapng: a little-endian section whose second interface is described midway, with Simple
/// Packet Blocks, unknown blocks and packets naming an interface that does not exist; then a
/// big-endian section.
fn pcapng(packets: &[Packet]) -> Vec<u8> {
    let mut v = Vec::new();
    let half = packets.len() / 2;
    shb(&mut v, false);
    idb(&mut v, 101, false);
    for (i, p) in packets[..half].iter().enumerate() {
        match i % 50 {
            10 => spb(&mut v, p, false),
            20 => {
                block(&mut v, 0x99, &[1, 2, 3, 4], false);
                epb(&mut v, 0, p, false);
            }
            // Interface 7 is never described: a problem, and the frame is skipped.
            30 => epb(&mut v, 7, p, false),
            _ => epb(&mut v, u32::from(i > half / 2), p, false),
        }
        if i == half / 2 {
            idb(&mut v, 101, false);
        }
    }
    shb(&mut v, true);
    idb(&mut v, 101, true);
    for p in &packets[half..] {
        epb(&mut v, 0, p, true);
    }
    v
}

/// Records (as JSON) and what the read said, for one way of reading, with every flow reported
/// (`all_flows`).
fn run(bytes: &[u8], threads: usize, chunk_bytes: usize) -> (Vec<String>, String) {
    let config = Config {
        all_flows: true,
        threads,
        chunk_bytes,
        ..Default::default()
    };
    records("chunks.pcap", bytes, &config)
}

/// Every worker count and chunk size gives what one walk from the start gives.
fn assert_same_every_way(name: &str, bytes: &[u8]) -> (Vec<String>, String) {
    let one = run(bytes, 1, 0);
    for (threads, chunk) in [
        (1, 333),
        (2, 0),
        (2, 97),
        (2, 1024),
        (3, 333),
        (4, 4096),
        (4, 50_000),
    ] {
        let other = run(bytes, threads, chunk);
        assert_eq!(
            one.1, other.1,
            "{name}: {threads} workers, chunks of {chunk}"
        );
        assert_eq!(
            one.0, other.0,
            "{name}: {threads} workers, chunks of {chunk}"
        );
    }
    one
}

#[test]
fn pcap_of_either_byte_order_and_resolution_reads_the_same_in_chunks() {
    let packets = conversation(400);
    for (be, nano) in [(false, false), (true, false), (false, true), (true, true)] {
        let bytes = pcap(&packets, be, nano);
        let (records, read) = assert_same_every_way(&format!("pcap be={be} nano={nano}"), &bytes);
        assert_eq!(records.len(), 400, "every connection reported");
        assert!(
            read.contains(&format!("frames: {}", packets.len())),
            "{read}"
        );
    }
}

#[test]
fn pcapng_sections_interfaces_and_odd_blocks_read_the_same_in_chunks() {
    let packets = conversation(300);
    let bytes = pcapng(&packets);
    let (records, read) = assert_same_every_way("pcapng", &bytes);
    // Packets naming interface 7 are skipped, one in fifty of the first half.
    let skipped = (0..packets.len() / 2).filter(|i| i % 50 == 30).count();
    assert!(
        read.contains(&format!("frames: {}", packets.len() - skipped)),
        "{read}"
    );
    assert!(read.contains("names interface 7"), "{read}");
    assert!(!records.is_empty());
}

#[test]
fn more_problems_than_are_listed_are_counted_the_same_in_chunks() {
    let packets = conversation(60);
    let mut v = Vec::new();
    shb(&mut v, false);
    idb(&mut v, 101, false);
    for p in &packets {
        epb(&mut v, 3, p, false);
        epb(&mut v, 0, p, false);
    }
    let (_, read) = assert_same_every_way("many problems", &v);
    assert!(read.contains("more problems not listed"), "{read}");
}

#[test]
fn a_corrupt_record_midway_stops_the_read_there_in_chunks_too() {
    let packets = conversation(200);
    let mut bytes = pcap(&packets, false, false);
    // The caplen of the record at about two thirds: larger than any capture tool writes.
    let mut pos = 24;
    let mut n = 0;
    while pos < bytes.len() * 2 / 3 {
        let caplen = u32::from_le_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()) as usize;
        pos += 16 + caplen;
        n += 1;
    }
    bytes[pos + 8..pos + 12].copy_from_slice(&0x00ff_ffffu32.to_le_bytes());
    let (_, read) = assert_same_every_way("corrupt record", &bytes);
    assert!(read.contains(&format!("frames: {n}")), "{read}");
    assert!(read.contains("corrupt record"), "{read}");
}

#[test]
fn a_capture_cut_anywhere_reads_the_same_in_chunks() {
    let packets = conversation(40);
    let whole = pcap(&packets, false, false);
    for cut in [whole.len() - 1, whole.len() - 17, whole.len() / 2 + 5, 30] {
        let (_, read) = assert_same_every_way(&format!("cut at {cut}"), &whole[..cut]);
        assert!(read.contains("truncated: Some"), "cut at {cut}: {read}");
    }
    let ng = pcapng(&packets);
    let (_, read) = assert_same_every_way("pcapng cut", &ng[..ng.len() - 6]);
    assert!(read.contains("truncated: Some"), "{read}");
}

#[test]
fn guessed_chunk_starts_are_right_on_a_sound_capture() {
    let bytes = pcap(&conversation(400), false, false);
    let config = Config {
        threads: 3,
        chunk_bytes: 1024,
        ..Default::default()
    };
    let stats = analyze_bytes("chunks.pcap", &bytes, &config, &mut |_| {}).expect("a capture");
    // Zero padding inside the hellos must not be taken for records.
    assert_eq!(stats.chunks_rewalked, 0);
}
