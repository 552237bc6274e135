//! The capture reader on any bytes: pcap, pcapng, or gzip of either, read in place.
//!
//! Besides "no panic", two oracles: the same bytes gzip-compressed (streamed through the
//! decoder and the bounded buffer) give the same frames, and one walker walking the capture in
//! consecutive chunks gives the frames of one read. The engine's guesses of where a chunk's
//! first record starts (`Walker::resync`) run on every chunk boundary too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Write;
use std::path::Path;
use tlsmortem::capture::{self, Frame, Walker};

/// A frame, owned, to compare two reads.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    number: u64,
    ts: i64,
    link_type: u32,
    orig_len: u32,
    offset: u64,
    data: Vec<u8>,
}

impl Seen {
    fn of(f: &Frame<'_>) -> Seen {
        Seen {
            number: f.number,
            ts: f.ts.0,
            link_type: f.link_type,
            orig_len: f.orig_len,
            offset: f.offset,
            data: f.data.to_vec(),
        }
    }
}

fn read(name: &str, bytes: &[u8]) -> (bool, Vec<Seen>, Option<(u64, bool)>) {
    let mut seen = Vec::new();
    let r = capture::read_bytes(name, bytes, &mut |f| seen.push(Seen::of(f)));
    let summary = r.as_ref().ok().map(|s| (s.frames, s.truncated.is_some()));
    (r.is_ok(), seen, summary)
}

fuzz_target!(|data: &[u8]| {
    let (ok, frames, summary) = read("fuzz.pcap", data);
    if capture::is_compressed(data) {
        return;
    }

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).expect("writing to memory");
    let gz = gz.finish().expect("writing to memory");
    let (gz_ok, gz_frames, gz_summary) = read("fuzz.pcap.gz", &gz);
    assert_eq!(
        ok, gz_ok,
        "read in place and through gzip disagree on success"
    );
    assert_eq!(
        frames, gz_frames,
        "read in place and through gzip give other frames"
    );
    if ok {
        assert_eq!(
            summary, gz_summary,
            "read in place and through gzip end differently"
        );
    }

    // One walker over consecutive chunks.
    let path = Path::new("fuzz.pcap");
    let step = 1 + usize::from(data.last().copied().unwrap_or(0)) * 4;
    let mut walker = Walker::new(path);
    let mut walked = Vec::new();
    let mut pos = 0;
    let mut walk_ok = true;
    while !walker.stopped() {
        let until = (pos + step).min(data.len());
        match walker.walk(data, pos, until, &mut |f| walked.push(Seen::of(f))) {
            Ok(next) => pos = next,
            Err(_) => {
                walk_ok = false;
                break;
            }
        }
        if pos >= data.len() {
            break;
        }
    }
    assert_eq!(ok, walk_ok, "chunked walk and one read disagree on success");
    if ok {
        assert_eq!(
            frames, walked,
            "chunked walk and one read give other frames"
        );
    }

    // The engine's guesses at chunk starts, from the leading blocks' state.
    if let Ok(template) = Walker::template(path, data) {
        let mut from = 0;
        while from < data.len() {
            let until = (from + step).min(data.len());
            if let Some(at) = template.resync(data, from, until) {
                let mut guess = template.successor(0);
                let _ = guess.walk(data, at, until, &mut |_| {});
                let _ = guess.continues(&template, &walker);
            }
            from = until;
        }
    }
});
