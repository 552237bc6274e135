//! Unit tests of the capture stage: pcap in every byte order and resolution, pcapng with
//! several sections, streamed and compressed input, truncation at every length, corruption,
//! and a table of malformed inputs. Captures are built byte by byte here, so each test says
//! exactly what it feeds in.

use super::input::{read_stream, INITIAL_BUFFER};
use super::pcapng::ts_units_per_sec;
use super::*;
use std::io::{Read, Write};

/// A frame copied out of the callback.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Got {
    number: u64,
    ts: i64,
    link_type: u32,
    orig_len: u32,
    data: Vec<u8>,
}

fn collect(bytes: &[u8]) -> (Result<CaptureSummary, Error>, Vec<Got>) {
    let mut got = Vec::new();
    let result = read_bytes("test", bytes, &mut |f| got.push(copy(f)));
    (result, got)
}

fn copy(f: &Frame<'_>) -> Got {
    Got {
        number: f.number,
        ts: f.ts.0,
        link_type: f.link_type,
        orig_len: f.orig_len,
        data: f.data.to_vec(),
    }
}

/// Streams `bytes` through a reader that hands out at most `chunk` bytes per read.
fn collect_streamed(bytes: &[u8], chunk: usize) -> (Result<CaptureSummary, Error>, Vec<Got>) {
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(self.1).min(out.len());
            let (now, later) = self.0.split_at(n);
            out[..n].copy_from_slice(now);
            self.0 = later;
            Ok(n)
        }
    }
    let mut got = Vec::new();
    let result = read_stream(
        Path::new("test"),
        &mut Trickle(bytes, chunk),
        None,
        &mut |f| got.push(copy(f)),
    );
    (result, got)
}

fn put16(v: &mut Vec<u8>, x: u16, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

fn put32(v: &mut Vec<u8>, x: u32, be: bool) {
    v.extend_from_slice(&if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

#[derive(Clone, Copy)]
struct PcapKind {
    be: bool,
    nano: bool,
    modified: bool,
}

const LE_MICRO: PcapKind = PcapKind {
    be: false,
    nano: false,
    modified: false,
};

/// A pcap file; each record is (seconds, fraction, original length, data).
fn pcap(kind: PcapKind, link_type: u32, records: &[(u32, u32, u32, &[u8])]) -> Vec<u8> {
    let magic = match (kind.modified, kind.nano) {
        (true, _) => 0xa1b2_cd34,
        (false, true) => 0xa1b2_3c4d,
        (false, false) => 0xa1b2_c3d4,
    };
    let mut v = Vec::new();
    put32(&mut v, magic, kind.be);
    put16(&mut v, 2, kind.be);
    put16(&mut v, 4, kind.be);
    put32(&mut v, 0, kind.be); // thiszone
    put32(&mut v, 0, kind.be); // sigfigs
    put32(&mut v, 65535, kind.be);
    put32(&mut v, link_type, kind.be);
    for &(sec, frac, orig_len, data) in records {
        put32(&mut v, sec, kind.be);
        put32(&mut v, frac, kind.be);
        put32(&mut v, data.len() as u32, kind.be);
        put32(&mut v, orig_len, kind.be);
        if kind.modified {
            v.extend_from_slice(&[0, 0, 0, 7, 0x08, 0x00, 0, 0]); // ifindex, proto, type
        }
        v.extend_from_slice(data);
    }
    v
}

fn pad4(v: &mut Vec<u8>) {
    while v.len() % 4 != 0 {
        v.push(0);
    }
}

fn block(be: bool, block_type: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    pad4(&mut body);
    let len = 12 + body.len() as u32;
    let mut v = Vec::new();
    put32(&mut v, block_type, be);
    put32(&mut v, len, be);
    v.extend_from_slice(&body);
    put32(&mut v, len, be);
    v
}

fn shb(be: bool) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, 0x1a2b_3c4d, be);
    put16(&mut b, 1, be);
    put16(&mut b, 0, be);
    b.extend_from_slice(&[0xff; 8]); // section length: unknown
    block(be, 0x0a0d_0d0a, &b)
}

fn idb(be: bool, link_type: u16, snaplen: u32, options: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut b = Vec::new();
    put16(&mut b, link_type, be);
    put16(&mut b, 0, be);
    put32(&mut b, snaplen, be);
    for (code, value) in options {
        put16(&mut b, *code, be);
        put16(&mut b, value.len() as u16, be);
        b.extend_from_slice(value);
        pad4(&mut b);
    }
    if !options.is_empty() {
        b.extend_from_slice(&[0; 4]); // opt_endofopt
    }
    block(be, 1, &b)
}

fn epb(be: bool, if_id: u32, ticks: u64, orig_len: u32, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, if_id, be);
    put32(&mut b, (ticks >> 32) as u32, be);
    put32(&mut b, ticks as u32, be);
    put32(&mut b, data.len() as u32, be);
    put32(&mut b, orig_len, be);
    b.extend_from_slice(data);
    block(be, 6, &b)
}

fn spb(be: bool, orig_len: u32, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, orig_len, be);
    b.extend_from_slice(data);
    block(be, 3, &b)
}

fn obsolete_pb(be: bool, if_id: u16, ticks: u64, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    put16(&mut b, if_id, be);
    put16(&mut b, 0, be); // drops
    put32(&mut b, (ticks >> 32) as u32, be);
    put32(&mut b, ticks as u32, be);
    put32(&mut b, data.len() as u32, be);
    put32(&mut b, data.len() as u32, be);
    b.extend_from_slice(data);
    block(be, 2, &b)
}

const EPB_NS_TICKS: u64 = 1_700_000_000_123_456_789;
/// 1_700_000_000.5 s in 2^-20 s units.
const POW2_TICKS: u64 = (1_700_000_000u64 << 20) + (1 << 19);

/// Two sections: little-endian with two interfaces (Ethernet at 10^-9 s, raw IP at 2^-20 s
/// with a 100 s offset, snaplen 4 on interface 0), then big-endian with one Linux SLL
/// interface at the default microseconds and a -10 s offset.
fn two_section_pcapng() -> Vec<u8> {
    let mut v = shb(false);
    v.extend(idb(false, 1, 4, &[(9, vec![9])]));
    v.extend(idb(
        false,
        101,
        65535,
        &[(9, vec![0x80 | 20]), (14, 100i64.to_le_bytes().to_vec())],
    ));
    v.extend(epb(false, 0, EPB_NS_TICKS, 60, &[1, 2, 3, 4, 5]));
    v.extend(epb(false, 1, POW2_TICKS, 3, &[6, 7, 8]));
    v.extend(block(false, 0x99, &[0xde, 0xad, 0xbe, 0xef])); // unknown block type
    v.extend(spb(false, 6, &[9, 9, 9, 9, 9, 9]));
    v.extend(obsolete_pb(false, 1, POW2_TICKS + (1 << 20), &[0xaa, 0xbb]));
    v.extend(shb(true));
    v.extend(idb(true, 113, 0, &[(14, (-10i64).to_be_bytes().to_vec())]));
    v.extend(block(true, 0x0000_000a, &[0; 16])); // decryption secrets: skipped
    v.extend(epb(
        true,
        0,
        1_000_000_000_000_001,
        4,
        &[0xc0, 0xff, 0xee, 0x00],
    ));
    v.extend(epb(true, 1, 5, 1, &[0x01])); // interface 1 belonged to the first section
    v
}

fn two_section_expected() -> Vec<Got> {
    vec![
        Got {
            number: 1,
            ts: 1_700_000_000_123_456_789,
            link_type: 1,
            orig_len: 60,
            data: vec![1, 2, 3, 4, 5],
        },
        Got {
            number: 2,
            ts: 1_700_000_100_500_000_000,
            link_type: 101,
            orig_len: 3,
            data: vec![6, 7, 8],
        },
        Got {
            number: 3,
            ts: 1_700_000_100_500_000_000, // SPB: previous frame's time
            link_type: 1,
            orig_len: 6,
            data: vec![9, 9, 9, 9], // min(orig 6, snaplen 4, block 8)
        },
        Got {
            number: 4,
            ts: 1_700_000_101_500_000_000,
            link_type: 101,
            orig_len: 2,
            data: vec![0xaa, 0xbb],
        },
        Got {
            number: 5,
            ts: 1_000_000_000_000_001_000 - 10_000_000_000,
            link_type: 113,
            orig_len: 4,
            data: vec![0xc0, 0xff, 0xee, 0x00],
        },
    ]
}

fn two_record_pcap() -> Vec<u8> {
    pcap(
        LE_MICRO,
        1,
        &[
            (1_600_000_000, 123_456, 100, &[1, 2, 3]),
            (1_600_000_001, 999_999, 4, &[4, 5, 6, 7]),
        ],
    )
}

#[test]
fn little_endian_microsecond_pcap_yields_every_frame_in_order() {
    let (result, got) = collect(&two_record_pcap());
    let summary = result.unwrap();
    assert_eq!(summary.format, Some(Format::Pcap));
    assert_eq!(summary.compression, None);
    assert_eq!(summary.frames, 2);
    assert_eq!(summary.bytes, 24 + 16 + 3 + 16 + 4);
    assert_eq!(summary.truncated, None);
    assert!(summary.problems.is_empty());
    assert_eq!(
        got,
        vec![
            Got {
                number: 1,
                ts: 1_600_000_000_123_456_000,
                link_type: 1,
                orig_len: 100,
                data: vec![1, 2, 3]
            },
            Got {
                number: 2,
                ts: 1_600_000_001_999_999_000,
                link_type: 1,
                orig_len: 4,
                data: vec![4, 5, 6, 7]
            },
        ]
    );
}

#[test]
fn big_endian_nanosecond_pcap_yields_exact_timestamps() {
    let kind = PcapKind {
        be: true,
        nano: true,
        modified: false,
    };
    let bytes = pcap(kind, 105, &[(1_600_000_000, 123_456_789, 2, &[0xab, 0xcd])]);
    let (result, got) = collect(&bytes);
    assert_eq!(result.unwrap().frames, 1);
    assert_eq!(
        got,
        vec![Got {
            number: 1,
            ts: 1_600_000_000_123_456_789,
            link_type: 105,
            orig_len: 2,
            data: vec![0xab, 0xcd]
        }]
    );
}

#[test]
fn every_pcap_byte_order_and_resolution_decodes_the_same_frames() {
    for be in [false, true] {
        for (nano, modified) in [(false, false), (true, false), (false, true)] {
            let kind = PcapKind { be, nano, modified };
            let frac = if nano { 7_000 } else { 7 };
            let bytes = pcap(kind, 113, &[(42, frac, 9, &[1, 2]), (43, 0, 1, &[3])]);
            let (result, got) = collect(&bytes);
            let summary = result.unwrap();
            assert_eq!(summary.frames, 2, "be={be} nano={nano} modified={modified}");
            assert_eq!(got[0].ts, 42_000_007_000);
            assert_eq!(got[0].orig_len, 9);
            assert_eq!(got[0].data, vec![1, 2]);
            assert_eq!(got[1].ts, 43_000_000_000);
            assert_eq!(got[1].data, vec![3]);
            assert!(got.iter().all(|g| g.link_type == 113));
        }
    }
}

#[test]
fn pcap_link_type_drops_the_fcs_flag_bits() {
    let bytes = pcap(LE_MICRO, 0x0400_0001, &[(1, 0, 1, &[0])]);
    let (_, got) = collect(&bytes);
    assert_eq!(got[0].link_type, 1);
}

#[test]
fn pcapng_with_two_sections_of_different_byte_order_yields_exact_frames() {
    let (result, got) = collect(&two_section_pcapng());
    let summary = result.unwrap();
    assert_eq!(got, two_section_expected());
    assert_eq!(summary.format, Some(Format::PcapNg));
    assert_eq!(summary.frames, 5);
    assert_eq!(summary.truncated, None);
    assert_eq!(summary.bytes, two_section_pcapng().len() as u64);
    assert_eq!(summary.problems.len(), 1, "{:?}", summary.problems);
    assert!(summary.problems[0].contains("interface 1"));
}

#[test]
fn pcapng_frames_borrow_from_the_input_without_copying() {
    let bytes = two_section_pcapng();
    let range = bytes.as_ptr_range();
    let mut inside = 0;
    read_bytes("test", &bytes, &mut |f| {
        assert!(range.contains(&f.data.as_ptr()));
        inside += 1;
    })
    .unwrap();
    assert_eq!(inside, 5);
}

#[test]
fn streamed_input_in_tiny_reads_matches_the_mapped_parse() {
    for bytes in [two_section_pcapng(), two_record_pcap()] {
        for chunk in [1, 3, 7, 64, 1 << 20] {
            let (mapped, want) = collect(&bytes);
            let (streamed, got) = collect_streamed(&bytes, chunk);
            assert_eq!(got, want, "chunk {chunk}");
            assert_eq!(streamed.unwrap().bytes, mapped.unwrap().bytes);
        }
    }
}

#[test]
fn pcapng_block_larger_than_the_initial_buffer_is_streamed_and_skipped() {
    let mut bytes = shb(false);
    bytes.extend(idb(false, 1, 0, &[]));
    bytes.extend(block(false, 0x99, &vec![0x55; 3 * INITIAL_BUFFER]));
    bytes.extend(epb(false, 0, 1, 1, &[7]));
    let (result, got) = collect_streamed(&bytes, 1 << 16);
    let summary = result.unwrap();
    assert_eq!(summary.truncated, None);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, vec![7]);
}

#[test]
fn pcapng_block_length_over_the_cap_stops_with_frames_before_kept() {
    let mut bytes = shb(false);
    bytes.extend(idb(false, 1, 0, &[]));
    bytes.extend(epb(false, 0, 1, 1, &[7]));
    let mut huge = Vec::new();
    put32(&mut huge, 0x99, false);
    put32(&mut huge, 100 << 20, false);
    put32(&mut huge, 0, false);
    bytes.extend(huge);
    for (result, got) in [collect(&bytes), collect_streamed(&bytes, 4096)] {
        let summary = result.unwrap();
        assert_eq!(got.len(), 1);
        assert!(summary.truncated.unwrap().contains("MiB limit"));
    }
}

#[test]
fn pcapng_block_length_not_a_multiple_of_four_is_corruption() {
    let mut bytes = shb(false);
    bytes.extend(idb(false, 1, 0, &[]));
    bytes.extend(epb(false, 0, 1, 1, &[7]));
    let mut bad = epb(false, 0, 2, 1, &[8]);
    bad[4] = 0x21;
    bytes.extend(bad);
    let (result, got) = collect(&bytes);
    assert_eq!(got.len(), 1);
    assert!(result.unwrap().truncated.unwrap().contains("impossible"));
}

#[test]
fn malformed_enhanced_packet_block_is_skipped_and_reading_goes_on() {
    let mut bytes = shb(false);
    bytes.extend(idb(false, 1, 0, &[]));
    let mut bad = epb(false, 0, 1, 4, &[1, 2, 3, 4]);
    bad[20] = 200; // captured length 200 in a 36-byte block
    bytes.extend(bad);
    bytes.extend(epb(false, 0, 2, 1, &[9]));
    let (result, got) = collect(&bytes);
    let summary = result.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].number, 1);
    assert_eq!(got[0].data, vec![9]);
    assert_eq!(summary.truncated, None);
    assert_eq!(summary.problems.len(), 1);
    assert!(summary.problems[0].contains("malformed"));
}

#[test]
fn problems_list_is_capped() {
    let mut bytes = shb(false);
    for _ in 0..250 {
        bytes.extend(epb(false, 3, 1, 1, &[1])); // no such interface
    }
    let (result, got) = collect(&bytes);
    let summary = result.unwrap();
    assert!(got.is_empty());
    assert_eq!(summary.problems.len(), MAX_PROBLEMS);
    assert_eq!(
        summary.problems.last().unwrap(),
        "151 more problems not listed"
    );
}

#[test]
fn pcap_cut_in_a_record_header_keeps_the_frames_before() {
    let full = two_record_pcap();
    let cut = &full[..24 + 16 + 3 + 10];
    let (result, got) = collect(cut);
    let summary = result.unwrap();
    assert_eq!(got.len(), 1);
    let why = summary.truncated.unwrap();
    assert!(why.contains("frame 2"), "{why}");
    assert!(
        why.contains("record header cut after 10 of 16 bytes"),
        "{why}"
    );
    assert_eq!(summary.bytes, cut.len() as u64);
}

#[test]
fn pcap_cut_in_a_record_body_keeps_the_frames_before() {
    let full = two_record_pcap();
    let (result, got) = collect(&full[..full.len() - 1]);
    let summary = result.unwrap();
    assert_eq!(got.len(), 1);
    let why = summary.truncated.unwrap();
    assert!(why.contains("frame 2"), "{why}");
    assert!(why.contains("says 4 bytes, only 3 present"), "{why}");
}

#[test]
fn pcap_record_with_an_absurd_captured_length_stops_reading() {
    let mut bytes = two_record_pcap();
    let second = 24 + 16 + 3;
    bytes[second + 8..second + 12].copy_from_slice(&300_000u32.to_le_bytes());
    let (result, got) = collect(&bytes);
    let summary = result.unwrap();
    assert_eq!(got.len(), 1);
    let why = summary.truncated.unwrap();
    assert!(why.contains("300000 captured bytes"), "{why}");
    assert!(why.contains("corrupt"), "{why}");
}

#[test]
fn pcap_with_only_part_of_the_file_header_is_truncated_not_an_error() {
    let (result, got) = collect(&two_record_pcap()[..10]);
    let summary = result.unwrap();
    assert!(got.is_empty());
    assert_eq!(summary.format, Some(Format::Pcap));
    assert!(summary.truncated.unwrap().contains("file header"));
}

#[test]
fn garbage_magic_is_not_a_capture() {
    let (result, got) = collect(b"<!DOCTYPE html><html>");
    assert!(got.is_empty());
    match result {
        Err(Error::NotACapture { what, hint, .. }) => {
            assert!(what.contains("3c 21 44 4f"), "{what}");
            assert!(hint.contains("text"), "{hint}");
        }
        other => panic!("expected NotACapture, got {other:?}"),
    }
    match collect(&[0x00, 0x01, 0x02, 0x03, 0x04]).0 {
        Err(Error::NotACapture { hint, .. }) => assert_eq!(hint, ""),
        other => panic!("expected NotACapture, got {other:?}"),
    }
}

#[test]
fn empty_input_is_not_a_capture() {
    for (result, _) in [collect(&[]), collect_streamed(&[], 1)] {
        match result {
            Err(Error::NotACapture { what, .. }) => assert_eq!(what, "empty file"),
            other => panic!("expected NotACapture, got {other:?}"),
        }
    }
}

#[test]
fn empty_file_on_disk_is_not_a_capture() {
    let path = std::env::temp_dir().join(format!("tlsmortem-empty-{}.pcap", std::process::id()));
    std::fs::write(&path, b"").unwrap();
    let result = read(&Input::Path(path.clone()), &mut |_| {});
    std::fs::remove_file(&path).unwrap();
    assert!(
        matches!(result, Err(Error::NotACapture { .. })),
        "{result:?}"
    );
}

#[test]
fn file_on_disk_is_mapped_and_read() {
    let path = std::env::temp_dir().join(format!("tlsmortem-two-{}.pcapng", std::process::id()));
    std::fs::write(&path, two_section_pcapng()).unwrap();
    let mut got = Vec::new();
    let result = read(&Input::Path(path.clone()), &mut |f| got.push(copy(f)));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(result.unwrap().frames, 5);
    assert_eq!(got, two_section_expected());
}

#[test]
fn missing_file_is_an_open_error() {
    let result = read(&Input::Path("/nonexistent/x.pcap".into()), &mut |_| {});
    assert!(matches!(result, Err(Error::Open { .. })), "{result:?}");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn gzip_compressed_pcap_is_decompressed_while_streaming() {
    let plain = two_section_pcapng();
    let (result, got) = collect(&gzip(&plain));
    let summary = result.unwrap();
    assert_eq!(summary.compression, Some("gzip"));
    assert_eq!(summary.bytes, plain.len() as u64);
    assert_eq!(got, two_section_expected());
    let (streamed, got) = collect_streamed(&gzip(&plain), 5);
    assert_eq!(streamed.unwrap().compression, Some("gzip"));
    assert_eq!(got, two_section_expected());
}

#[test]
fn concatenated_gzip_members_are_read_as_one_capture() {
    let plain = two_record_pcap();
    let (a, b) = plain.split_at(30);
    let mut both = gzip(a);
    both.extend(gzip(b));
    let (result, got) = collect(&both);
    assert_eq!(result.unwrap().frames, 2);
    assert_eq!(got[1].data, vec![4, 5, 6, 7]);
}

#[test]
fn cut_gzip_stream_keeps_the_frames_before_the_cut() {
    let mut plain = two_record_pcap();
    for _ in 0..200 {
        plain.extend_from_within(24..24 + 16 + 3);
    }
    let gz = gzip(&plain);
    let (result, got) = collect(&gz[..gz.len() * 3 / 4]);
    let summary = result.unwrap();
    assert!(summary.truncated.is_some());
    assert!(!got.is_empty());
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, g)| g.number == i as u64 + 1));
}

#[cfg(feature = "zstd")]
#[test]
fn zstd_compressed_pcapng_is_decompressed_while_streaming() {
    let packed = zstd::encode_all(&two_section_pcapng()[..], 3).unwrap();
    let (result, got) = collect(&packed);
    assert_eq!(result.unwrap().compression, Some("zstd"));
    assert_eq!(got, two_section_expected());
}

#[cfg(feature = "xz")]
#[test]
fn xz_compressed_pcapng_is_decompressed_while_streaming() {
    let mut enc = xz2::write::XzEncoder::new(Vec::new(), 6);
    enc.write_all(&two_section_pcapng()).unwrap();
    let (result, got) = collect(&enc.finish().unwrap());
    assert_eq!(result.unwrap().compression, Some("xz"));
    assert_eq!(got, two_section_expected());
}

#[cfg(not(feature = "zstd"))]
#[test]
fn zstd_input_without_the_feature_names_the_feature() {
    match collect(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]).0 {
        Err(Error::Unsupported { what, .. }) => assert!(what.contains("--features zstd")),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[cfg(not(feature = "xz"))]
#[test]
fn xz_input_without_the_feature_names_the_feature() {
    match collect(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0]).0 {
        Err(Error::Unsupported { what, .. }) => assert!(what.contains("--features xz")),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn pcapng_timestamps_saturate_instead_of_overflowing() {
    let mut bytes = shb(false);
    bytes.extend(idb(
        false,
        1,
        0,
        &[(9, vec![0]), (14, i64::MAX.to_le_bytes().to_vec())],
    ));
    bytes.extend(epb(false, 0, u64::MAX, 1, &[1]));
    bytes.extend(idb(
        false,
        1,
        0,
        &[(9, vec![0]), (14, i64::MIN.to_le_bytes().to_vec())],
    ));
    bytes.extend(epb(false, 1, 0, 1, &[1]));
    let (_, got) = collect(&bytes);
    assert_eq!(got[0].ts, i64::MAX);
    assert_eq!(got[1].ts, i64::MIN);
}

#[test]
fn unrepresentable_tsresol_falls_back_to_microseconds_with_a_problem() {
    let mut bytes = shb(false);
    bytes.extend(idb(false, 1, 0, &[(9, vec![20])]));
    bytes.extend(epb(false, 0, 1_500_000, 1, &[1]));
    let (result, got) = collect(&bytes);
    assert_eq!(got[0].ts, 1_500_000_000);
    assert_eq!(result.unwrap().problems.len(), 1);
}

#[test]
fn tsresol_units_cover_decimal_and_power_of_two() {
    assert_eq!(ts_units_per_sec(6), Some(1_000_000));
    assert_eq!(ts_units_per_sec(9), Some(1_000_000_000));
    assert_eq!(ts_units_per_sec(19), Some(10_000_000_000_000_000_000));
    assert_eq!(ts_units_per_sec(20), None);
    assert_eq!(ts_units_per_sec(0x80 | 20), Some(1 << 20));
    assert_eq!(ts_units_per_sec(0x80 | 63), Some(1 << 63));
    assert_eq!(ts_units_per_sec(0x80 | 64), None);
    assert_eq!(ts_units_per_sec(0xff), None);
}

/// Frames wholly inside the first `n` bytes, given where each unit ends.
fn frames_before(ends: &[(usize, bool)], n: usize) -> usize {
    ends.iter()
        .filter(|&&(end, is_frame)| is_frame && end <= n)
        .count()
}

/// (end offset, carries a frame) for each unit of `two_section_pcapng()`.
fn two_section_units() -> Vec<(usize, bool)> {
    let parts: Vec<(Vec<u8>, bool)> = vec![
        (shb(false), false),
        (idb(false, 1, 4, &[(9, vec![9])]), false),
        (
            idb(
                false,
                101,
                65535,
                &[(9, vec![0x80 | 20]), (14, 100i64.to_le_bytes().to_vec())],
            ),
            false,
        ),
        (epb(false, 0, EPB_NS_TICKS, 60, &[1, 2, 3, 4, 5]), true),
        (epb(false, 1, POW2_TICKS, 3, &[6, 7, 8]), true),
        (block(false, 0x99, &[0xde, 0xad, 0xbe, 0xef]), false),
        (spb(false, 6, &[9, 9, 9, 9, 9, 9]), true),
        (
            obsolete_pb(false, 1, POW2_TICKS + (1 << 20), &[0xaa, 0xbb]),
            true,
        ),
        (shb(true), false),
        (
            idb(true, 113, 0, &[(14, (-10i64).to_be_bytes().to_vec())]),
            false,
        ),
        (block(true, 0x0000_000a, &[0; 16]), false),
        (
            epb(true, 0, 1_000_000_000_000_001, 4, &[0xc0, 0xff, 0xee, 0x00]),
            true,
        ),
        (epb(true, 1, 5, 1, &[0x01]), false),
    ];
    let mut end = 0;
    parts
        .into_iter()
        .map(|(p, frame)| {
            end += p.len();
            (end, frame)
        })
        .collect()
}

#[test]
fn capture_cut_at_every_length_keeps_the_frames_before_the_cut() {
    let ng = two_section_pcapng();
    let ng_units = two_section_units();
    assert_eq!(ng_units.last().unwrap().0, ng.len());
    let pc = two_record_pcap();
    let pc_units = vec![(24, false), (24 + 19, true), (pc.len(), true)];
    for (full, units) in [(&ng, &ng_units), (&pc, &pc_units)] {
        for n in 0..full.len() {
            let (result, got) = collect(&full[..n]);
            let (streamed, got_streamed) = collect_streamed(&full[..n], 5);
            assert_eq!(got, got_streamed, "cut at {n}");
            if n < 4 {
                assert!(result.is_err() && streamed.is_err(), "cut at {n}");
                continue;
            }
            let summary = result.unwrap();
            assert_eq!(got.len(), frames_before(units, n), "cut at {n}");
            assert_eq!(summary.frames, got.len() as u64);
            let at_boundary = units.iter().any(|&(end, _)| end == n);
            assert_eq!(summary.truncated.is_some(), !at_boundary, "cut at {n}");
            assert_eq!(summary.bytes, n as u64, "cut at {n}");
        }
    }
}

#[test]
fn malformed_inputs_never_panic() {
    let base = two_section_pcapng();
    let pc = two_record_pcap();
    // Flip every byte of both captures, one at a time, to a few bad values.
    for full in [&base, &pc] {
        for i in 0..full.len() {
            for v in [0x00, 0xff, 0x7f, 0x80] {
                let mut bad = full.clone();
                bad[i] = v;
                let _ = collect(&bad);
            }
        }
    }
    let table: &[&[u8]] = &[
        &[0x0a, 0x0d, 0x0d, 0x0a],
        &[
            0x0a, 0x0d, 0x0d, 0x0a, 0xff, 0xff, 0xff, 0xff, 0x4d, 0x3c, 0x2b, 0x1a,
        ],
        &[
            0x0a, 0x0d, 0x0d, 0x0a, 0x0c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a,
        ],
        &[0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0, 0, 0, 0],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        &[0x1f, 0x8b],
        &[0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff, 0xde, 0xad],
    ];
    for input in table {
        let _ = collect(input);
        let _ = collect_streamed(input, 1);
    }
}

/// Compares frame counts with `capinfos -c` on the shared corpus; run with
/// `cargo test --lib capture -- --ignored`.
#[test]
#[ignore = "needs the shared corpus and capinfos"]
fn frame_counts_match_capinfos_on_the_corpus() {
    let Ok(dirs) = std::fs::read_dir("/work/shared/corpus") else {
        return;
    };
    let mut checked = 0;
    for dir in dirs.flatten() {
        let Ok(files) = std::fs::read_dir(dir.path()) else {
            continue;
        };
        for file in files.flatten() {
            let path = file.path();
            let name = path.display().to_string();
            if !(name.ends_with(".pcap") || name.ends_with(".pcapng") || name.ends_with(".cap")) {
                continue;
            }
            let out = std::process::Command::new("capinfos")
                .args(["-c", "-M", "-T", "-r"])
                .arg(&path)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let want: u64 = text
                .split('\t')
                .nth(1)
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(u64::MAX);
            let summary = read(&Input::Path(path.clone()), &mut |_| {}).unwrap();
            eprintln!(
                "{name}: ours {} capinfos {want} truncated {:?} problems {:?}",
                summary.frames, summary.truncated, summary.problems
            );
            assert_eq!(summary.frames, want, "{name}");
            checked += 1;
        }
    }
    assert!(checked > 0);
}

#[test]
fn a_folder_walk_reads_each_regular_file_once_follows_no_link_to_a_folder_and_says_so() {
    let dir = std::env::temp_dir().join(format!("tlsmortem-walk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).expect("temp folder");
    std::fs::write(dir.join("a.pcap"), b"x").expect("file");
    std::fs::write(dir.join("sub/b.pcapng"), b"x").expect("file");
    std::fs::write(dir.join("notes.txt"), b"x").expect("file");
    std::os::unix::fs::symlink(".", dir.join("loop")).expect("link");
    std::os::unix::fs::symlink("..", dir.join("sub/up")).expect("link");
    std::os::unix::fs::symlink("a.pcap", dir.join("c.pcap")).expect("link");
    std::os::unix::fs::symlink("a.pcap", dir.join("0.pcap")).expect("link");
    std::os::unix::fs::symlink("gone.pcap", dir.join("dangling.pcap")).expect("link");
    std::fs::hard_link(dir.join("sub/b.pcapng"), dir.join("sub/d.pcapng")).expect("hard link");
    let fifo = std::process::Command::new("mkfifo")
        .arg(dir.join("fifo.pcap"))
        .status()
        .is_ok_and(|s| s.success());
    let walk = captures_in_noting(&dir).expect("walk");
    let rel = |p: &std::path::Path| p.strip_prefix(&dir).map(|p| p.display().to_string());
    let found: Vec<String> = walk.found.iter().filter_map(|p| rel(p).ok()).collect();
    let skipped: Vec<String> = walk
        .skipped
        .iter()
        .map(|s| s.replace(&format!("{}/", dir.display()), ""))
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(fifo, "mkfifo is needed for this test");
    // 0.pcap and c.pcap are links to a.pcap, d.pcapng a hard link of b.pcapng: each file is
    // read once, under its own name before a link's, else the first in sorted order.
    assert_eq!(found, ["a.pcap", "sub/b.pcapng"]);
    assert_eq!(skipped.len(), 6, "{skipped:?}");
    let says = |name: &str, what: &str| {
        assert!(
            skipped
                .iter()
                .any(|s| s.starts_with(name) && s.contains(what)),
            "{name}: {what} in {skipped:?}"
        )
    };
    says("0.pcap:", "the same file as a.pcap");
    says("c.pcap:", "the same file as a.pcap");
    says("sub/d.pcapng:", "the same file as sub/b.pcapng");
    says("fifo.pcap:", "a FIFO");
    says("loop:", "a link to a folder");
    says("sub/up:", "a link to a folder");
    assert!(walk.unreadable.is_empty());
}

/// A sink that keeps what it is given.
#[derive(Debug, Default)]
struct Kept(std::sync::Mutex<Vec<Vec<u8>>>);

impl super::SecretsSink for Kept {
    fn secrets(&self, key_log: &[u8]) {
        self.0.lock().unwrap().push(key_log.to_vec());
    }
}

/// A Decryption Secrets Block of type "TLSK" (or another type).
fn dsb(be: bool, secrets_type: u32, text: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    put32(&mut b, secrets_type, be);
    put32(&mut b, text.len() as u32, be);
    b.extend_from_slice(text);
    block(be, 0x0a, &b)
}

/// Both sections' byte orders, a DSB before and after packets, and one of another protocol:
/// the scan of a mapped file and a streamed read hand over the same TLS key logs, in order.
#[test]
fn decryption_secrets_blocks_are_found_anywhere_by_scan_and_by_stream() {
    let mut bytes = shb(false);
    bytes.extend(idb(false, 1, 0, &[]));
    bytes.extend(dsb(false, 0x544c_534b, b"CLIENT_RANDOM a b\n"));
    bytes.extend(epb(false, 0, 1, 4, &[1, 2, 3, 4]));
    bytes.extend(dsb(false, 0x5747_4b4c, b"wireguard"));
    bytes.extend(shb(true));
    bytes.extend(idb(true, 1, 0, &[]));
    bytes.extend(epb(true, 0, 2, 4, &[1, 2, 3, 4]));
    bytes.extend(dsb(
        true,
        0x544c_534b,
        b"SERVER_HANDSHAKE_TRAFFIC_SECRET c d\n",
    ));
    let want = vec![
        b"CLIENT_RANDOM a b\n".to_vec(),
        b"SERVER_HANDSHAKE_TRAFFIC_SECRET c d\n".to_vec(),
    ];
    let scanned = Kept::default();
    super::secrets_in(&bytes, &scanned);
    assert_eq!(*scanned.0.lock().unwrap(), want);
    let streamed = Kept::default();
    let mut frames = 0;
    let summary = read_stream(
        Path::new("test"),
        &mut bytes.as_slice(),
        Some(&streamed),
        &mut |_| frames += 1,
    )
    .unwrap();
    assert_eq!(*streamed.0.lock().unwrap(), want);
    assert_eq!((frames, summary.frames), (2, 2));
    // A pcap has no such blocks; a cut pcapng stops the scan without a panic.
    let none = Kept::default();
    super::secrets_in(&bytes[..bytes.len() - 3], &none);
    assert_eq!(none.0.lock().unwrap().len(), 1);
}
