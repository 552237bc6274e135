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
pub mod diagnose;
pub mod error;
pub mod flow;
pub mod reassembly;
pub mod report;
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
}

/// Analyses one input; every reported connection goes to `sink` in first-packet order.
pub fn analyze_input(
    input: &Input,
    config: &Config,
    sink: &mut dyn FnMut(Connection),
) -> Result<InputStats, Error> {
    run(&input.name(), config, sink, |on_frame| {
        capture::read(input, on_frame)
    })
}

/// Analyses a capture held in memory (tests, benches, fuzzing).
pub fn analyze_bytes(
    name: &str,
    bytes: &[u8],
    config: &Config,
    sink: &mut dyn FnMut(Connection),
) -> Result<InputStats, Error> {
    run(name, config, sink, |on_frame| {
        capture::read_bytes(name, bytes, on_frame)
    })
}

fn run(
    name: &str,
    config: &Config,
    sink: &mut dyn FnMut(Connection),
    read: impl FnOnce(&mut dyn FnMut(&Frame<'_>)) -> Result<CaptureSummary, Error>,
) -> Result<InputStats, Error> {
    let mut table: FlowTable<Conversation> = FlowTable::new();
    let mut stats = InputStats::default();
    let mut facts = CaptureFacts {
        name: name.to_string(),
        truncated: None,
    };
    let mut emit = |flow: Flow<Conversation>, facts: &CaptureFacts, stats: &mut InputStats| {
        if config.all_flows || diagnose::is_interesting(&flow) {
            stats.connections += 1;
            sink(diagnose::connection(&flow, facts));
        }
    };
    let summary = read(
        &mut |frame: &Frame<'_>| match wire::decode(frame.link_type, frame.data) {
            Ok(pkt) => {
                stats.packets_decoded += 1;
                table.packet(&pkt, frame.number, frame.ts);
                table.drain_ready(&mut |f| emit(f, &facts, &mut stats));
            }
            Err(skip) => *stats.skipped.entry(format!("{skip:?}")).or_default() += 1,
        },
    )?;
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
