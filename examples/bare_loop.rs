//! The baseline the benchmarks compare against: a bare pcap-parser loop that only walks the
//! frames of a little-endian pcap file (memory-mapped) and sums their lengths. Nothing is
//! decoded; tlsmortem's full analysis is measured as a multiple of this.
//!
//! `cargo run --release --example bare_loop -- FILE`

use pcap_parser::pcap::{parse_pcap_frame, parse_pcap_header};
use std::fs::File;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: bare_loop FILE.pcap")?;
    let file = File::open(&path)?;
    // SAFETY: read-only map of a file nobody is expected to modify while it is read.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::Mmap::map(&file)? };
    let (mut rest, _) = parse_pcap_header(&map).map_err(|e| format!("{path}: {e:?}"))?;
    let (mut frames, mut bytes) = (0u64, 0u64);
    while let Ok((r, block)) = parse_pcap_frame(rest) {
        frames += 1;
        bytes += block.data.len() as u64;
        rest = r;
    }
    println!("{frames} frames, {bytes} bytes");
    Ok(())
}
