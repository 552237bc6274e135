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
pub mod engine;
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

use capture::CaptureSummary;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What to analyse and report.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Report every TCP flow, not only those that carried TLS or were aimed at a TLS port.
    pub all_flows: bool,
    /// Workers for one input; 0 means one per core (at most [`engine::SHARDS`]). Results do
    /// not depend on it.
    pub threads: usize,
    /// Bytes of capture walked so far, for a progress display.
    pub progress: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    /// Trust anchors for certificate chains; `None` means Mozilla's (webpki-roots).
    pub trust: Option<std::sync::Arc<chain::TrustStore>>,
    /// Also judge certificate validity at this moment (`--now`, `--at`).
    pub later: Option<diagnose::Later>,
    /// Which connections to report.
    pub filter: Filter,
    /// Bytes per chunk of capture; 0 means [`engine::CHUNK_BYTES`]. Tests set small values to
    /// exercise the chunk boundaries; records depend on it only through when old open flows
    /// are finished early for [`engine::MAX_WAITING`].
    pub chunk_bytes: usize,
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
pub(crate) fn mozilla_roots() -> std::sync::Arc<chain::TrustStore> {
    static ROOTS: std::sync::OnceLock<std::sync::Arc<chain::TrustStore>> =
        std::sync::OnceLock::new();
    ROOTS
        .get_or_init(|| std::sync::Arc::new(chain::TrustStore::mozilla()))
        .clone()
}

impl Config {
    fn chunk_bytes(&self) -> usize {
        match self.chunk_bytes {
            0 => engine::CHUNK_BYTES,
            n => n,
        }
    }

    fn workers(&self) -> usize {
        let n = match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        n.min(engine::SHARDS)
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
    /// Chunks walked before their start was known whose guessed start or state proved wrong,
    /// so that they were walked again (a cost, never a difference in results).
    pub chunks_rewalked: u64,
}

impl InputStats {
    pub(crate) fn add(&mut self, other: InputStats) {
        self.packets_decoded += other.packets_decoded;
        for (k, v) in other.skipped {
            *self.skipped.entry(k).or_default() += v;
        }
        self.flows += other.flows;
        self.connections += other.connections;
        self.peak_open_flows += other.peak_open_flows;
        self.workers += other.workers;
        self.chunks_rewalked += other.chunks_rewalked;
    }
}

/// Analyses one input; every reported connection goes to `sink` in first-packet order.
///
/// A plain capture file is memory-mapped and shared by [`Config::threads`] workers, each
/// walking chunks of it and owning a fixed share of the flows ([`engine`]); streamed inputs
/// (stdin, compressed files) are read by one worker. The records are the same for any number
/// of workers.
pub fn analyze_input(
    input: &Input,
    config: &Config,
    sink: &mut dyn FnMut(Connection),
) -> Result<InputStats, Error> {
    analyze_input_with(input, config, &|c| c, sink)
}

/// [`analyze_input`], with each record passed through `prepare` on the worker that made it
/// (rendering it as JSON there, say), before the results are put back in order for `sink`.
pub fn analyze_input_with<T: Send>(
    input: &Input,
    config: &Config,
    prepare: &(dyn Fn(Connection) -> T + Sync),
    sink: &mut dyn FnMut(T),
) -> Result<InputStats, Error> {
    let name = input.name();
    let workers = config.workers();
    if workers > 1 {
        if let Some(map) = capture::map_plain(input)? {
            return analyze_mapped(&name, &map, config, workers, prepare, sink);
        }
    }
    engine::inline(&name, config, prepare, sink, |on_frame| {
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
    analyze_mapped(name, bytes, config, config.workers(), &|c| c, sink)
}

fn analyze_mapped<T: Send>(
    name: &str,
    bytes: &[u8],
    config: &Config,
    workers: usize,
    prepare: &(dyn Fn(Connection) -> T + Sync),
    sink: &mut dyn FnMut(T),
) -> Result<InputStats, Error> {
    // Compressed bytes are streamed through a decoder, by one worker.
    if workers > 1 && !capture::is_compressed(bytes) {
        return engine::sharded(name, bytes, config, workers, prepare, sink);
    }
    engine::inline(name, config, prepare, sink, |on_frame| {
        capture::read_bytes(name, bytes, on_frame)
    })
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
