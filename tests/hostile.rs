//! Hostile input, class by class (issue 13): each capture is built here from how the attack
//! works, and each test asserts the bound the analysis must stay under, measured by counting
//! the heap this test binary allocates (a counting global allocator) and the library's own
//! counters: never by timing.
//!
//! `TLSMORTEM_HOSTILE_DIR=DIR cargo test --release --test hostile -- --ignored` writes the
//! full-size captures of each class into DIR, to measure the binary on them (README, "Worst
//! cases").

mod common;

use common::hostile::{self, chain_connections, pem_der, same_named_chain};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tlsmortem::{analyze_bytes, Config};

/// The system allocator, counting the bytes live now and the most live since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call goes straight to the system allocator; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        System.dealloc(p, l)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The tests of this file one at a time: the counters are process-wide.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `f` and returns what it returned and the most heap it held above what was live before.
fn peak_heap<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let r = f();
    (r, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

const MIB: usize = 1 << 20;

fn one_worker() -> Config {
    Config {
        threads: 1,
        ..Default::default()
    }
}

/// The chain of issue 13: a leaf and 31 CA certificates that share one name, another for
/// each `salt`.
fn hostile_chain(salt: u32) -> Vec<Vec<u8>> {
    let read = |f: &str| std::fs::read_to_string(common::fixtures::captures(f)).expect("pki");
    same_named_chain(
        &pem_der(&read("pki/leaf.pem")),
        &pem_der(&read("pki/root.pem")),
        31,
        salt as u16,
    )
}

#[test]
#[ignore = "writes the full-size captures for measuring the binary; needs TLSMORTEM_HOSTILE_DIR"]
fn write_full_size_hostile_captures() {
    use std::io::Write;
    let dir = std::path::PathBuf::from(
        std::env::var_os("TLSMORTEM_HOSTILE_DIR").expect("TLSMORTEM_HOSTILE_DIR"),
    );
    std::fs::create_dir_all(&dir).expect("dir");
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).expect("write");
    write(
        "dtls-claims.pcap",
        &hostile::dtls_claims(20_000, 65_535, 100),
    );
    write(
        "quic-far-offsets.pcap",
        &hostile::quic_far_offsets(20_000, 65_400),
    );
    write("syn-flood.pcap", &hostile::syn_flood(1_000_000));
    write(
        "same-named-chains.pcap",
        &chain_connections(150, hostile_chain),
    );
    // ~1 GB of Interface Description Blocks, compressed as they are written.
    let file = std::fs::File::create(dir.join("idb-flood.pcapng.gz")).expect("create");
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut v = Vec::new();
    common::pcap::shb(&mut v, false);
    gz.write_all(&v).expect("write");
    v.clear();
    for _ in 0..100_000 {
        common::pcap::idb(&mut v, 101, false);
    }
    for _ in 0..500 {
        gz.write_all(&v).expect("write");
    }
    gz.write_all(&hostile::idb_flood(0)[28..]).expect("write");
    gz.finish().expect("finish");
}

/// Each connection a record, counted; the run's stats.
fn analyse(name: &str, bytes: &[u8], config: &Config) -> (u64, tlsmortem::InputStats) {
    let mut n = 0u64;
    let stats = analyze_bytes(name, bytes, config, &mut |_| n += 1).expect("a capture");
    (n, stats)
}

#[test]
fn dtls_fragments_claiming_64_kib_messages_hold_only_the_bytes_sent() {
    let _one = ONE_AT_A_TIME.lock();
    // 2000 flows, each a fragment of 100 bytes of a message that claims 65,535: a buffer of
    // the claimed size per flow would be 128 MiB.
    let pcap = hostile::dtls_claims(2000, 65_535, 100);
    let ((_, stats), peak) = peak_heap(|| analyse("dtls.pcap", &pcap, &one_worker()));
    assert_eq!(stats.flows, 2000);
    assert!(
        peak < 24 * MIB,
        "{} MiB for 2000 flows of 100 bytes each",
        peak / MIB
    );
}

#[test]
fn quic_crypto_frames_far_into_the_stream_hold_only_the_bytes_sent() {
    let _one = ONE_AT_A_TIME.lock();
    // 2000 Initials, each one CRYPTO frame of 100 bytes at offset 65,400: a buffer reaching
    // the frame would be 64 KiB per flow, 128 MiB in all.
    let pcap = hostile::quic_far_offsets(2000, 65_400);
    let ((n, stats), peak) = peak_heap(|| analyse("quic.pcap", &pcap, &one_worker()));
    assert_eq!(stats.flows, 2000);
    assert_eq!(
        n, 2000,
        "each Initial decrypted to a QUIC connection, reported"
    );
    assert!(peak < 32 * MIB, "{} MiB for 2000 Initials", peak / MIB);
}

#[test]
fn a_flood_of_interface_blocks_keeps_the_interface_cap_and_says_so() {
    let _one = ONE_AT_A_TIME.lock();
    // 400,000 interfaces (8 MB of blocks, gzip'd to a few KiB): 32 bytes each kept would be
    // 12 MiB; the cap keeps 4096.
    let gz = hostile::gzip(&hostile::idb_flood(400_000));
    let ((n, stats), peak) = peak_heap(|| analyse("idb.pcapng.gz", &gz, &one_worker()));
    assert_eq!(n, 1, "the one packet, on interface 0, is still analysed");
    assert!(
        stats
            .capture
            .problems
            .iter()
            .any(|p| p.contains(&tlsmortem::capture::MAX_INTERFACES.to_string())),
        "{:?}",
        stats.capture.problems
    );
    assert!(peak < 8 * MIB, "{} MiB", peak / MIB);
}

#[test]
fn a_syn_flood_with_one_timestamp_stays_under_the_memory_budget_in_text_mode_too() {
    use tlsmortem::report::{Prepared, Reporter, Text};
    let _one = ONE_AT_A_TIME.lock();
    // 300,000 SYNs that never close, at one instant; a budget of 64 MiB gives each flow
    // table 128 KiB.
    let pcap = hostile::syn_flood(300_000);
    let config = Config {
        threads: 1,
        max_memory: 64 * MIB,
        ..Default::default()
    };
    let ((n, stats), peak) = peak_heap(|| {
        let mut text = Text::new(std::io::sink());
        let needs = text.needs();
        let mut n = 0u64;
        let stats = tlsmortem::analyze_bytes_with(
            "syn.pcap",
            &pcap,
            &config,
            &|c| Prepared::new(c, needs),
            &mut |p| {
                n += 1;
                text.prepared(&p).expect("sink");
            },
        )
        .expect("a capture");
        text.finish().expect("sink");
        (n, stats)
    });
    assert_eq!(
        n, 300_000,
        "every SYN to 443 is a connection, reported once"
    );
    let table_share = 64 * MIB / 2 / tlsmortem::engine::SHARDS;
    // One flow's growth past the share is counted before shedding brings it back.
    assert!(
        stats.table_peak_bytes <= table_share + 8 * 1024,
        "a table held {} bytes, its share is {table_share}",
        stats.table_peak_bytes
    );
    assert!(stats.shed > 0, "the budget was reached and flows were shed");
    // The flow tables' 32 MiB, and the records of the flows finished within two 2 MiB
    // chunks of 56-byte SYNs (75,000 slimmed records of about 2 KiB) waiting for the chunk's
    // end. Without the budget and with whole records it was over 700 MiB.
    assert!(
        peak < 256 * MIB,
        "{} MiB for 300,000 open flows and their records",
        peak / MIB
    );
}

#[test]
fn a_chain_of_same_named_certificates_costs_a_bounded_search() {
    let _one = ONE_AT_A_TIME.lock();
    // 10 connections, each with its own chain: a leaf and 31 CA certificates sharing one
    // name. The path search stops at its signature budget and says so; webpki sees three
    // candidates per name, not 31.
    let pcap = chain_connections(10, hostile_chain);
    let mut capped = 0;
    let mut reported = 0;
    analyze_bytes("chains.pcap", &pcap, &one_worker(), &mut |c| {
        reported += 1;
        assert_eq!(c.server_certificates.len(), 32, "the whole chain was read");
        capped += c
            .findings
            .iter()
            .filter(|f| f.id.as_str() == "chain-search-capped")
            .count();
    })
    .expect("a capture");
    assert_eq!(reported, 10);
    assert_eq!(capped, 10, "one chain-search-capped per connection");
}
