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
    write("dtls-claims.pcap", &hostile::dtls_claims(20_000, 65_535, 100));
    write("quic-far-offsets.pcap", &hostile::quic_far_offsets(20_000, 65_400));
    write("syn-flood.pcap", &hostile::syn_flood(1_000_000));
    write("same-named-chains.pcap", &chain_connections(150, hostile_chain));
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
