//! Throughput of each stage and of the whole pipeline, in bytes of capture per second.
//!
//! The capture comes from `TLSMORTEM_BENCH_CAPTURE` (default `bench-data/bench.pcap`, made by
//! `scripts/make-bench-capture.sh`); without it the benches run on the captures in
//! `captures/` so that `cargo bench` always has something to measure. The file is loaded into
//! memory before timing, so the figures are for data in page cache.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::io::Write;
use std::path::PathBuf;
use tlsmortem::capture;
use tlsmortem::engine;
use tlsmortem::flow::FlowTable;
use tlsmortem::proto::conversation::Conversation;
use tlsmortem::report::{Needs, Prepared, Slim};

// The command line's allocator, so that the figures are the command's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn inputs() -> Vec<(String, Vec<u8>)> {
    let path = std::env::var_os("TLSMORTEM_BENCH_CAPTURE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("bench-data/bench.pcap"));
    if let Ok(bytes) = std::fs::read(&path) {
        return vec![(path.display().to_string(), bytes)];
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("captures")
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    found.retain(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"));
    found.sort();
    found
        .into_iter()
        .filter_map(|p| Some((p.display().to_string(), std::fs::read(&p).ok()?)))
        .collect()
}

fn stages(c: &mut Criterion) {
    let inputs = inputs();
    let total: u64 = inputs.iter().map(|(_, b)| b.len() as u64).sum();
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Bytes(total));
    g.sample_size(10);
    g.bench_function("capture: walk frames", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for (name, bytes) in &inputs {
                let _ = capture::read_bytes(name, bytes, &mut |f| n += f.data.len() as u64);
            }
            n
        })
    });
    g.bench_function("capture+wire: decode headers", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for (name, bytes) in &inputs {
                let _ = capture::read_bytes(name, bytes, &mut |f| {
                    if tlsmortem::net::decode(f.link_type, f.data).is_ok() {
                        n += 1;
                    }
                });
            }
            n
        })
    });
    g.bench_function("capture+wire+flow+tls: streams and handshakes", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for (name, bytes) in &inputs {
                let mut tables: Vec<FlowTable<Conversation>> = (0..engine::SHARDS)
                    .map(|_| FlowTable::new(Default::default()))
                    .collect();
                let _ = capture::read_bytes(name, bytes, &mut |f| {
                    if let Ok(p) = tlsmortem::net::decode(f.link_type, f.data) {
                        if let Some(t) = tables.get_mut(engine::shard_of(&p)) {
                            t.packet(&p, f.number, f.ts);
                            t.drain_finished(&mut |_| n += 1);
                        }
                    }
                });
                for t in &mut tables {
                    t.finish_all(&mut |_| n += 1);
                }
            }
            n
        })
    });
    let needs = Needs {
        record: false,
        json: true,
        slim: Slim::No,
    };
    let prepare = |c| Prepared::new(c, needs);
    for workers in [1, 2] {
        let config = tlsmortem::Config {
            threads: workers,
            ..Default::default()
        };
        g.bench_function(
            format!("whole pipeline, {workers} worker(s): connection records"),
            |b| {
                b.iter(|| {
                    let mut n = 0u64;
                    for (name, bytes) in &inputs {
                        let _ = tlsmortem::analyze_bytes(name, bytes, &config, &mut |_| n += 1);
                    }
                    n
                })
            },
        );
        // As `tlsmortem --json` runs: lines rendered on the workers, written in order.
        g.bench_function(
            format!("whole pipeline, {workers} worker(s): JSON lines"),
            |b| {
                b.iter(|| {
                    let mut out = std::io::sink();
                    for (name, bytes) in &inputs {
                        let _ = tlsmortem::analyze_bytes_with(
                            name,
                            bytes,
                            &config,
                            &prepare,
                            &mut |p| {
                                if let Some(line) = &p.json {
                                    let _ = out.write_all(line);
                                }
                            },
                        );
                    }
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
