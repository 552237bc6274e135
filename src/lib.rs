//! tlsmortem: a passive TLS handshake analyzer.
//!
//! ```text
//! capture  ->  wire  ->  flow / reassembly  ->  tls  ->  x509  ->  diagnose  ->  report
//! (frames)    (views)    (ordered bytes,       (handshake  (certs)   (verdicts,     (text, JSON
//!                         TCP events)           messages)             findings)      lines)
//! ```
//!
//! One module per stage, data flowing one way: a stage imports only stages to its left. This
//! file drives the loop: [`analyze_input`] reads one capture and hands every connection record
//! to a callback, in order of the connection's first packet. The CLI, tests and benches all use
//! it.
#![deny(unsafe_code)]

pub mod capture;
pub mod chain;
pub mod diagnose;
pub mod dtls;
pub mod error;
pub mod fingerprint;
pub mod flow;
pub mod forensics;
pub mod quic;
pub mod reassembly;
pub mod report;
pub mod starttls;
pub mod tls;
pub mod wire;
pub mod x509;

pub use capture::Input;
pub use diagnose::Connection;
pub use error::Error;

use capture::{CaptureSummary, Frame};
use diagnose::CaptureFacts;
use flow::{Flow, FlowTable};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tls::Conversation;

/// What to analyse and report.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Report every TCP flow, not only those that carried TLS or were aimed at a TLS port.
    pub all_flows: bool,
    /// Workers for one input; 0 means one per core. Results do not depend on it.
    pub threads: usize,
    /// Bytes of capture walked so far, for a progress display (worker 0 counts).
    pub progress: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    /// Trust anchors for certificate chains; `None` means Mozilla's (webpki-roots).
    pub trust: Option<std::sync::Arc<chain::TrustStore>>,
    /// Also judge certificate validity at this moment (`--now`, `--at`).
    pub later: Option<diagnose::Later>,
    /// Which connections to report.
    pub filter: Filter,
}

/// Which connections to report (`--sni`, `--host`, `--port`, `--verdict`); all when empty.
/// Each given criterion must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// SNI glob (`*.example.com`, case-insensitive); a connection without SNI never matches.
    pub sni: Option<globset::GlobMatcher>,
    /// Either end's address.
    pub host: Option<std::net::IpAddr>,
    /// Either end's port.
    pub port: Option<u16>,
    /// Verdict ids.
    pub verdicts: Vec<String>,
}

impl Filter {
    /// A filter on SNIs matching `glob`.
    pub fn sni_glob(glob: &str) -> Result<globset::GlobMatcher, String> {
        globset::GlobBuilder::new(glob)
            .case_insensitive(true)
            .literal_separator(false)
            .build()
            .map(|g| g.compile_matcher())
            .map_err(|e| format!("--sni {glob}: {e}"))
    }

    pub fn keeps(&self, c: &Connection) -> bool {
        let sni_ok = self.sni.as_ref().is_none_or(|g| {
            c.client_hello
                .as_ref()
                .and_then(|h| h.sni.as_deref())
                .is_some_and(|s| g.is_match(s))
        });
        let host_ok = self
            .host
            .is_none_or(|h| c.client.ip == h || c.server.ip == h);
        let port_ok = self
            .port
            .is_none_or(|p| c.client.port == p || c.server.port == p);
        let verdict_ok =
            self.verdicts.is_empty() || self.verdicts.iter().any(|v| v == c.verdict.id);
        sni_ok && host_ok && port_ok && verdict_ok
    }
}

/// Mozilla's roots, built once per process.
fn mozilla_roots() -> std::sync::Arc<chain::TrustStore> {
    static ROOTS: std::sync::OnceLock<std::sync::Arc<chain::TrustStore>> =
        std::sync::OnceLock::new();
    ROOTS
        .get_or_init(|| std::sync::Arc::new(chain::TrustStore::mozilla()))
        .clone()
}

impl Config {
    fn workers(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

/// What one input held besides connections.
#[derive(Debug, Clone, Default)]
pub struct InputStats {
    pub capture: CaptureSummary,
    pub packets_decoded: u64,
    /// Frames that gave no TCP/UDP packet, by reason.
    pub skipped: BTreeMap<String, u64>,
    pub flows: u64,
    pub connections: u64,
    pub peak_open_flows: usize,
    /// Workers that shared the input.
    pub workers: usize,
}

impl InputStats {
    fn add(&mut self, other: InputStats) {
        self.packets_decoded += other.packets_decoded;
        for (k, v) in other.skipped {
            *self.skipped.entry(k).or_default() += v;
        }
        self.flows += other.flows;
        self.connections += other.connections;
        self.peak_open_flows += other.peak_open_flows;
        self.workers += other.workers;
    }
}

/// Analyses one input; every reported connection goes to `sink` in first-packet order.
///
/// A plain capture file is shared by [`Config::threads`] workers: each walks the whole
/// memory-mapped file and owns the flows whose symmetric hash falls on it
/// ([`wire::flow_hash`]), so no flow state is shared and nothing is locked on the hot path.
/// Their records are merged back into first-packet order. Streamed inputs (stdin, compressed)
/// use one worker.
pub fn analyze_input(
    input: &Input,
    config: &Config,
    sink: &mut dyn FnMut(Connection),
) -> Result<InputStats, Error> {
    let name = input.name();
    let workers = config.workers();
    if workers > 1 {
        if let Some(map) = capture::map_plain(input)? {
            return sharded(&name, &map, config, workers, sink);
        }
    }
    work(&name, config, Shard::ALL, sink, |on_frame| {
        capture::read(input, on_frame)
    })
}

/// Analyses a capture held in memory (tests, benches, fuzzing).
///
/// ```
/// // A pcap holding only its file header: a valid capture with no connection in it.
/// let mut pcap = Vec::new();
/// pcap.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
/// pcap.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0]);
/// let mut connections = Vec::new();
/// let stats = tlsmortem::analyze_bytes("empty.pcap", &pcap, &Default::default(), &mut |c| {
///     connections.push(c)
/// })
/// .unwrap();
/// assert!(connections.is_empty());
/// assert_eq!(stats.capture.frames, 0);
/// assert!(stats.capture.truncated.is_none());
/// ```
pub fn analyze_bytes(
    name: &str,
    bytes: &[u8],
    config: &Config,
    sink: &mut dyn FnMut(Connection),
) -> Result<InputStats, Error> {
    let workers = config.workers();
    if workers > 1 {
        return sharded(name, bytes, config, workers, sink);
    }
    work(name, config, Shard::ALL, sink, |on_frame| {
        capture::read_bytes(name, bytes, on_frame)
    })
}

/// Which flows a worker owns.
#[derive(Debug, Clone, Copy)]
struct Shard {
    index: u64,
    count: u64,
}

impl Shard {
    const ALL: Shard = Shard { index: 0, count: 1 };
}

/// Records a worker may hand to the merger before it waits: bounds memory when one worker
/// runs ahead.
const MERGE_QUEUE: usize = 1024;

fn sharded(
    name: &str,
    bytes: &[u8],
    config: &Config,
    workers: usize,
    sink: &mut dyn FnMut(Connection),
) -> Result<InputStats, Error> {
    std::thread::scope(|scope| {
        let mut receivers = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for index in 0..workers {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Connection>(MERGE_QUEUE);
            receivers.push(rx);
            let shard = Shard {
                index: index as u64,
                count: workers as u64,
            };
            handles.push(scope.spawn(move || {
                let mut send = |c: Connection| {
                    // The merger only stops listening when the run is over.
                    let _ = tx.send(c);
                };
                work(name, config, shard, &mut send, |on_frame| {
                    capture::read_bytes(name, bytes, on_frame)
                })
            }));
        }
        // k-way merge: each worker's records are already in first-packet order.
        let mut heads: Vec<Option<Connection>> = receivers.iter().map(|r| r.recv().ok()).collect();
        loop {
            let next = heads
                .iter()
                .enumerate()
                .filter_map(|(i, h)| Some((h.as_ref()?.first_frame, i)))
                .min();
            let Some((_, i)) = next else { break };
            if let (Some(head), Some(rx)) = (heads.get_mut(i), receivers.get(i)) {
                if let Some(c) = std::mem::replace(head, rx.recv().ok()) {
                    sink(c);
                }
            }
        }
        let mut total = InputStats::default();
        for (i, h) in handles.into_iter().enumerate() {
            let stats = h
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            if i == 0 {
                total.capture = stats.capture.clone();
            }
            total.add(stats);
        }
        Ok(total)
    })
}

/// One worker: walks every frame, analyses the flows of its shard.
fn work(
    name: &str,
    config: &Config,
    shard: Shard,
    sink: &mut dyn FnMut(Connection),
    read: impl FnOnce(&mut dyn FnMut(&Frame<'_>)) -> Result<CaptureSummary, Error>,
) -> Result<InputStats, Error> {
    let mut table: FlowTable<Conversation> = FlowTable::with_share(shard.count as usize);
    let mut stats = InputStats {
        workers: 1,
        ..Default::default()
    };
    let mut facts = CaptureFacts {
        name: name.to_string(),
        truncated: None,
        trust: config.trust.clone().unwrap_or_else(mozilla_roots),
        later: config.later.clone(),
        chains: Default::default(),
    };
    let mut emit = |flow: Flow<Conversation>, facts: &CaptureFacts, stats: &mut InputStats| {
        if config.all_flows || diagnose::is_interesting(&flow) {
            let c = diagnose::connection(&flow, facts);
            if config.filter.keeps(&c) {
                stats.connections += 1;
                sink(c);
            }
        }
    };
    let progress = config.progress.as_ref().filter(|_| shard.index == 0);
    let mut unreported = 0u64;
    let summary = read(&mut |frame: &Frame<'_>| {
        if let Some(p) = progress {
            // Record header + captured bytes; published in batches to keep the hot path cheap.
            unreported += 16 + frame.data.len() as u64;
            if unreported > 1 << 20 {
                p.fetch_add(unreported, std::sync::atomic::Ordering::Relaxed);
                unreported = 0;
            }
        }
        if shard.count > 1 {
            // Frames without a flow are counted by worker 0 alone.
            let owner = wire::flow_hash(frame.link_type, frame.data).map_or(0, |h| h % shard.count);
            if owner != shard.index {
                table.tick(frame.ts, &mut |f| emit(f, &facts, &mut stats));
                return;
            }
        }
        match wire::decode(frame.link_type, frame.data) {
            Ok(pkt) => {
                stats.packets_decoded += 1;
                table.packet(&pkt, frame.number, frame.ts);
                table.drain_ready(&mut |f| emit(f, &facts, &mut stats));
            }
            Err(skip) => *stats.skipped.entry(format!("{skip:?}")).or_default() += 1,
        }
    })?;
    facts.truncated = summary.truncated.clone();
    table.finish_all(&mut |f| emit(f, &facts, &mut stats));
    stats.flows = table.stats.flows;
    stats.peak_open_flows = table.stats.peak_open;
    stats.capture = summary;
    Ok(stats)
}

/// Capture files found under a directory (recursively, sorted), by extension.
pub fn captures_in(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| Error::Open {
            path: d.clone(),
            source: e,
        })?;
        for entry in rd.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if is_capture_name(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn is_capture_name(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let name = name
        .trim_end_matches(".gz")
        .trim_end_matches(".zst")
        .trim_end_matches(".xz");
    [".pcap", ".pcapng", ".cap", ".ntar", ".dmp"]
        .iter()
        .any(|e| name.ends_with(e))
}
