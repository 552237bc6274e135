//! tlsmortem: a passive TLS handshake analyzer.
//!
//! ```text
//! capture -> net -> flow -> proto -> x509 -> judge -> report
//! (frames)  (IP/TCP/  (connections,  (TLS, QUIC,  (chains,  (facts, findings,  (text, JSON
//!            UDP       ordered bytes,  DTLS,        trust,    verdict, who     lines, summaries,
//!            headers)  TCP events)     STARTTLS)    OCSP)     cut it)          PEM export)
//! ```
//!
//! One folder per stage, data flowing one way: a stage imports only stages to its left, and
//! the leaves every stage may use ([`ids`], the closed lists of the JSON contract; [`text`],
//! how bytes and times are written; [`record`], the contract itself, built by the judge and
//! printed by the report). [`engine`] drives the loop: [`analyze_input`] reads one capture and
//! hands every connection record to a callback, in order of the connection's first packet, on
//! as many workers as [`Config::threads`] says; [`analyze_inputs`] does it for several inputs,
//! side by side where that is faster. The CLI, tests and benches all use them.
//!
//! [`cli`] is the command line (flags in; the inputs, the [`Config`] and the reporter they ask
//! for out), in the library so that the Python package takes the same options as the command.
//!
//! The library's surface, on purpose: the `analyze_*` functions, [`Config`] and [`Filter`],
//! [`InputStats`], [`Input`] and [`captures_in`], [`Error`], the record ([`Connection`] and
//! [`record`]), its ids ([`ids`]), and the reporters ([`report`]). The stage modules are public
//! too, so that the benches and fuzz targets can drive one stage at a time, but they are hidden
//! from the documentation and their items may change with any release.
#![deny(unsafe_code)]

#[doc(hidden)]
pub mod capture;
pub mod cli;
#[doc(hidden)]
pub mod engine;
pub mod error;
#[doc(hidden)]
pub mod flow;
pub mod ids;
#[doc(hidden)]
pub mod judge;
pub mod keys;
#[doc(hidden)]
pub mod net;
#[doc(hidden)]
pub mod proto;
pub mod record;
pub mod report;
pub mod text;
#[doc(hidden)]
pub mod x509;

pub use capture::{captures_in, captures_in_noting, Input, Walk};
pub use engine::Part;
pub use error::Error;
pub use judge::Later;
pub use record::Connection;
pub use x509::chain::TrustStore;

use capture::CaptureSummary;
use engine::{analyze_mapped, shared_by_workers, side_by_side};
use std::collections::BTreeMap;

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
    pub trust: Option<std::sync::Arc<x509::chain::TrustStore>>,
    /// Also judge certificate validity at this moment (`--now`, `--at`).
    pub later: Option<judge::Later>,
    /// Which connections to report.
    pub filter: Filter,
    /// Keep each failed handshake's first packets in its record ([`Connection::ladder`]) for
    /// the ladder diagrams (`--html`, the text report's ladders). Off, nothing is kept.
    pub ladders: bool,
    /// Bytes per chunk of capture; 0 means [`engine::CHUNK_BYTES`]. Tests set small values to
    /// exercise the chunk boundaries; records depend on it only through when old open flows
    /// are finished early for [`flow::MAX_WAITING`].
    pub chunk_bytes: usize,
    /// Secrets from `--keylog` files, to decrypt protected handshakes and alerts with (a
    /// capture's own Decryption Secrets Blocks are added per input).
    pub keylog: std::sync::Arc<keys::KeyLog>,
    /// The run's memory budget in bytes (`--max-memory`); 0 means [`default_max_memory`].
    /// Half of it is shared by the flow tables (each of the [`engine::SHARDS`] has its
    /// share): past its share a table finishes its oldest open flows, each with a
    /// `flow-evicted` finding. Records depend on it only then.
    pub max_memory: usize,
    /// Only the flows of this part of the capture (`--shard K/N`); all when `None`.
    pub part: Option<engine::Part>,
    /// [`analyze_inputs`] reads its inputs as one capture, one after the other (`--join`: the
    /// files of a rotated capture), so that a connection that runs on into the next file is
    /// one record.
    pub join: bool,
}

/// The smallest memory budget accepted: below it the flow tables could not hold the flows
/// of an ordinary capture.
pub const MIN_MAX_MEMORY: usize = 64 << 20;

/// The default memory budget: a quarter of the machine's memory (`MemTotal` in
/// `/proc/meminfo`), at most 4 GiB; 2 GiB where the total cannot be read.
pub fn default_max_memory() -> usize {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib.saturating_mul(1024))
    });
    match total {
        Some(t) => (t / 4).clamp(MIN_MAX_MEMORY, 4 << 30),
        None => 2 << 30,
    }
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
    pub verdicts: Vec<ids::VerdictId>,
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
        let verdict_ok = self.verdicts.is_empty() || self.verdicts.contains(&c.verdict.id);
        sni_ok && host_ok && port_ok && verdict_ok
    }
}

/// Mozilla's roots, built once per process.
pub(crate) fn mozilla_roots() -> std::sync::Arc<x509::chain::TrustStore> {
    static ROOTS: std::sync::OnceLock<std::sync::Arc<x509::chain::TrustStore>> =
        std::sync::OnceLock::new();
    ROOTS
        .get_or_init(|| std::sync::Arc::new(x509::chain::TrustStore::mozilla()))
        .clone()
}

impl Config {
    fn chunk_bytes(&self) -> usize {
        match self.chunk_bytes {
            0 => engine::CHUNK_BYTES,
            n => n,
        }
    }

    /// Each flow table's share of the memory budget.
    fn table_bytes(&self) -> usize {
        let budget = match self.max_memory {
            0 => default_max_memory(),
            n => n.max(MIN_MAX_MEMORY),
        };
        budget / 2 / engine::SHARDS
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
    /// Open flows finished early because their table was full (`flow-evicted`).
    pub evicted: u64,
    /// Open flows finished early because their table held more than its share of the memory
    /// budget (`flow-evicted`).
    pub shed: u64,
    /// The most bytes any one flow table's open flows held at once (`flow::Flow::cost`);
    /// never much above [`Config::max_memory`] / 2 / [`engine::SHARDS`].
    pub table_peak_bytes: usize,
    /// Workers that shared the input.
    pub workers: usize,
    /// Chunks walked before their start was known whose guessed start or state proved wrong,
    /// so that they were walked again (a cost, never a difference in results).
    pub chunks_rewalked: u64,
    /// IP fragments and what became of their datagrams.
    pub fragments: net::fragments::FragmentStats,
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
        self.evicted += other.evicted;
        self.shed += other.shed;
        self.table_peak_bytes = self.table_peak_bytes.max(other.table_peak_bytes);
        self.workers += other.workers;
        self.chunks_rewalked += other.chunks_rewalked;
        self.fragments.add(&other.fragments);
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
    engine::inline(&name, config, prepare, sink, |secrets, on_frame| {
        capture::read_keyed(input, Some(secrets), on_frame)
    })
}

/// Analyses several inputs, handing their records to `sink` input by input, in order, and
/// each input's outcome to `done` once its records are out; `done` returning false stops the
/// run (a closed output, say). With [`Config::join`] the inputs are one capture, read by one
/// worker: its records and outcome come as input 0's.
///
/// Large plain files are analysed one after the other, each by every worker. Runs of inputs
/// that one worker reads anyway — compressed files, standard input, files of a few chunks —
/// are analysed side by side, one worker each, and their records held back until the inputs
/// before them are out; a worker starts at most [`engine::SIDE_BY_SIDE_AHEAD`] inputs per worker
/// ahead of the one being written.
pub fn analyze_inputs<T: Send>(
    inputs: &[Input],
    config: &Config,
    prepare: &(dyn Fn(Connection) -> T + Sync),
    sink: &mut dyn FnMut(usize, T),
    done: &mut dyn FnMut(usize, Result<InputStats, Error>) -> bool,
) {
    if config.join && inputs.len() > 1 {
        let r = engine::inline(
            &joined_name(inputs),
            config,
            prepare,
            &mut |t| sink(0, t),
            |secrets, on_frame| capture::read_joined(inputs, Some(secrets), on_frame),
        );
        done(0, r);
        return;
    }
    let workers = config.workers();
    let alone: Vec<bool> = inputs
        .iter()
        .map(|i| workers == 1 || inputs.len() == 1 || shared_by_workers(i, config))
        .collect();
    let mut i = 0;
    while i < inputs.len() {
        if alone.get(i).copied().unwrap_or(true) {
            let Some(input) = inputs.get(i) else { break };
            let r = analyze_input_with(input, config, prepare, &mut |t| sink(i, t));
            if !done(i, r) {
                return;
            }
            i += 1;
            continue;
        }
        let end = (i..inputs.len())
            .find(|&j| alone.get(j).copied().unwrap_or(true))
            .unwrap_or(inputs.len());
        let run = inputs.get(i..end).unwrap_or_default();
        if !side_by_side(run, i, config, workers, prepare, sink, done) {
            return;
        }
        i = end;
    }
}

/// The name of inputs read as one capture: the first and the last, "a.pcap..z.pcap".
fn joined_name(inputs: &[Input]) -> String {
    match (inputs.first(), inputs.last()) {
        (Some(a), Some(z)) if inputs.len() > 1 => format!("{}..{}", a.name(), z.name()),
        (Some(a), _) => a.name(),
        _ => String::new(),
    }
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
    analyze_bytes_with(name, bytes, config, &|c| c, sink)
}

/// [`analyze_bytes`] with a `prepare` step on the workers, as [`analyze_input_with`].
pub fn analyze_bytes_with<T: Send>(
    name: &str,
    bytes: &[u8],
    config: &Config,
    prepare: &(dyn Fn(Connection) -> T + Sync),
    sink: &mut dyn FnMut(T),
) -> Result<InputStats, Error> {
    analyze_mapped(name, bytes, config, config.workers(), prepare, sink)
}
