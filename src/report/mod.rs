//! report: connection records in; JSON lines, a readable report or per-name and per-server
//! aggregates out.
//!
//! JSON: one object per connection, keys as the README's contract says, written as soon as the
//! connection is known (connections arrive in order of their first packet); with
//! [`SummaryJson`] the aggregate records follow at the end. Text ([`Text`]): at the end of the
//! run, the failed handshakes first (verdict in plain words, the evidence behind it, the
//! advice), then one line per connection, then the tables by server name and by server, the
//! name-filtering patterns ([`Aggregates::sni_filtering`]) and a total line.
//!
//! Memory stays bounded whatever the capture: the text report keeps pre-rendered strings up to
//! [`MAX_DETAILED`] failed blocks and [`MAX_TABLE_LINES`] table lines, never the connections
//! themselves, and [`Aggregates`] tracks at most [`MAX_TRACKED_NAMES`] names,
//! [`MAX_TRACKED_SERVERS`] servers and [`MAX_TRACKED_PAIRS`] (server, name) pairs, counting the
//! rest as "other".
//!
//! It does not decide anything: verdicts, who cut a handshake, findings and advice come from
//! the diagnose stage. The only judgement here is statistical: a server that completes for one
//! name and cuts another.
//!
//! Layout: this file holds the [`Reporter`] trait, what a reporter reads of a connection
//! ([`Needs`], [`Prepared`], [`json_line`]), the JSON lines reporter and the helpers the others
//! share. `json` writes the JSON lines; `aggregates` counts per name and per server and finds
//! the name-filtering patterns; `summary` writes the aggregates (`summary`, `--json
//! --summary`); `text` is the readable report; `ladder` turns a failed connection's packets
//! into the rows of a ladder diagram (and the text report's plain-text ladder); `html` is the
//! self-contained HTML page (`--html`); `export` lists and exports certificate chains
//! (`certs`); `columnar` decodes the JSON lines into Arrow record batches for Parquet
//! (`--format parquet`) and the Python package; `spool` keeps the records that wait for their
//! turn, past a budget in a temporary file; `zeek` writes Zeek's `ssl.log` and `x509.log`
//! (`--format zeek`, `zeek-json`). Everything public is re-exported here.

mod aggregates;
#[cfg(feature = "columnar")]
pub mod columnar;
mod export;
mod html;
mod json;
pub mod ladder;
mod spool;
mod summary;
mod text;
mod zeek;

pub use aggregates::{
    Aggregates, Counts, CutBy, SniFiltering, SniTally, MAX_TRACKED_NAMES, MAX_TRACKED_PAIRS,
    MAX_TRACKED_SERVERS,
};
#[cfg(feature = "columnar")]
pub use columnar::Parquet;
pub use export::{export_name, ChainExport};
pub use html::{Html, DEFAULT_HTML_DETAIL};
pub use spool::{Spool, Waiting, SPOOL_MEMORY};
pub use summary::{write_summary, SummaryJson, SummaryText, MAX_SUMMARY_ROWS};
pub use text::{Text, MAX_DETAILED, MAX_TABLE_LINES};
pub use zeek::{
    curve_name, json_row, push_tsv_str, ssl_row, tsv_row, uid, validation_status, x509_row,
    zeek_version, Value, Zeek, ZeekStyle, MAX_REMEMBERED_CERTS, SSL_FIELDS, X509_FIELDS,
};

use crate::record::{Connection, Severity};
use std::io::{self, Write};
use std::net::IpAddr;

/// What a reporter reads of each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// The record itself.
    pub record: bool,
    /// Its JSON line ([`json_line`]).
    pub json: bool,
    /// Which records may be slimmed ([`slimmed`]): records wait by the thousand to be
    /// reported in order.
    pub slim: Slim,
}

/// Which records a reporter reads whole. Ordered: the least slim of several reporters wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Slim {
    /// Every record whole.
    No,
    /// Whole only the records the HTML page may draw in full ([`html::drawn_in_full`]).
    UnlessDrawn,
    /// Every record slimmed: what the readable report and the summaries read.
    Yes,
}

impl Needs {
    /// The record, slimmed: what [`Text`], [`SummaryText`] and [`SummaryJson`] read.
    pub const SLIM_RECORD: Needs = Needs {
        record: true,
        json: false,
        slim: Slim::Yes,
    };
}

/// One connection made ready for a reporter on the worker that built it (see
/// `tlsmortem::analyze_input_with`): its JSON line rendered there, the record kept only when the
/// reporter reads it, so that rendering and freeing records run on every core.
#[derive(Debug)]
pub struct Prepared {
    /// Boxed: prepared records are moved several times on their way to the reporter.
    pub connection: Option<Box<Connection>>,
    pub json: Option<Vec<u8>>,
    /// The most severe finding's severity (for `--fail-on`).
    pub worst: Option<Severity>,
}

impl Needs {
    fn slims(&self, c: &Connection) -> bool {
        match self.slim {
            Slim::No => false,
            Slim::UnlessDrawn => !html::drawn_in_full(c),
            Slim::Yes => true,
        }
    }
}

impl Prepared {
    pub fn new(c: Connection, needs: Needs) -> Self {
        Prepared {
            worst: c.findings.iter().map(|f| f.severity).max(),
            json: needs.json.then(|| json_line(&c)),
            connection: needs
                .record
                .then(|| Box::new(if needs.slims(&c) { slimmed(c) } else { c })),
        }
    }
}

/// `c` without what the readable report and the summaries never read (certificate lists,
/// later hellos, alerts, QUIC and STARTTLS facts, TCP packets, the hello's lists and
/// fingerprints): the record of a SYN-only flow or of a handshake with a long chain shrinks to
/// its names, verdict and findings.
pub fn slimmed(mut c: Connection) -> Connection {
    c.server_certificates = Vec::new();
    c.client_certificates = Vec::new();
    c.more_client_hellos = Vec::new();
    c.more_server_hellos = Vec::new();
    c.alerts = Vec::new();
    c.quic = None;
    c.starttls = None;
    c.tcp.client_syn = None;
    c.tcp.server_syn_ack = None;
    c.tcp.resets = Vec::new();
    c.tcp.fins = Vec::new();
    if let Some(h) = &mut c.client_hello {
        h.alpn = Vec::new();
        h.cipher_suites = Vec::new();
        h.supported_versions = Vec::new();
        h.extensions = Vec::new();
        h.supported_groups = Vec::new();
        h.ec_point_formats = Vec::new();
        h.signature_algorithms = Vec::new();
        h.key_share_groups = Vec::new();
        h.compression_methods = Vec::new();
        h.sslv2_cipher_specs = Vec::new();
        h.ja3 = None;
        h.ja3_full = None;
        h.ja4 = String::new();
    }
    if let Some(h) = &mut c.server_hello {
        h.alpn = None;
        h.extensions = Vec::new();
        h.ja3s = None;
        h.ja3s_full = None;
    }
    c
}

/// A connection as one JSON line (the README's contract), newline included, in a buffer of
/// its exact size: lines may wait by the thousand to be written in order.
pub fn json_line(c: &Connection) -> Vec<u8> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(8192));
    }
    SCRATCH.with_borrow_mut(|line| {
        line.clear();
        json::write(line, c);
        line.push(b'\n');
        line.as_slice().to_vec()
    })
}

/// Where records go. Drivers hand each connection to [`Reporter::prepared`], prepared for
/// [`Reporter::needs`], then call [`Reporter::finish`] once.
pub trait Reporter {
    /// What this reporter reads of each connection.
    fn needs(&self) -> Needs {
        Needs {
            record: true,
            json: false,
            slim: Slim::No,
        }
    }
    /// One connection's record.
    fn connection(&mut self, c: &Connection) -> io::Result<()> {
        let _ = c;
        Ok(())
    }
    /// One connection's JSON line, after its record.
    fn json_line(&mut self, line: &[u8]) -> io::Result<()> {
        let _ = line;
        Ok(())
    }
    /// One prepared connection: its record and its line, as far as they were prepared.
    fn prepared(&mut self, p: &Prepared) -> io::Result<()> {
        if let Some(c) = &p.connection {
            self.connection(c)?;
        }
        match &p.json {
            Some(line) => self.json_line(line),
            None => Ok(()),
        }
    }
    fn finish(&mut self) -> io::Result<()>;
}

/// Two reporters fed the same connections: the report on standard output and `--html FILE`.
/// Each connection is prepared once for what either needs; `finish` finishes the first, then
/// the second.
pub struct Both(pub Box<dyn Reporter>, pub Box<dyn Reporter>);

impl Reporter for Both {
    fn needs(&self) -> Needs {
        let (a, b) = (self.0.needs(), self.1.needs());
        Needs {
            record: a.record || b.record,
            json: a.json || b.json,
            // Slimmed only as far as every reporter that reads the record reads it slimmed.
            slim: match (a.record, b.record) {
                (true, true) => a.slim.min(b.slim),
                (true, false) => a.slim,
                (false, _) => b.slim,
            },
        }
    }
    fn prepared(&mut self, p: &Prepared) -> io::Result<()> {
        self.0.prepared(p)?;
        self.1.prepared(p)
    }
    fn finish(&mut self) -> io::Result<()> {
        self.0.finish()?;
        self.1.finish()
    }
}

/// JSON lines.
pub struct JsonLines<W: Write> {
    out: W,
}

impl<W: Write> JsonLines<W> {
    pub fn new(out: W) -> Self {
        JsonLines { out }
    }
}

impl<W: Write> Reporter for JsonLines<W> {
    fn needs(&self) -> Needs {
        Needs {
            record: false,
            json: true,
            slim: Slim::No,
        }
    }
    fn json_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.out.write_all(line)
    }
    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The negotiated version's name and the cipher suite's (its code point when unnamed), or
/// "-" for both without a ServerHello: the tables of the text and HTML reports show them.
fn version_and_cipher(c: &Connection) -> (String, String) {
    match &c.server_hello {
        Some(sh) => (
            sh.version_name.to_string(),
            sh.cipher_suite_name
                .map_or_else(|| format!("0x{:04x}", sh.cipher_suite), str::to_string),
        ),
        None => ("-".into(), "-".into()),
    }
}

fn endpoint(ip: &IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        IpAddr::V4(v4) => format!("{v4}:{port}"),
    }
}

/// "12.3%" of `part` in `whole`, rounded down so that 99.96 % never reads as 100 %.
fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    let tenths = part.saturating_mul(1000) / whole;
    format!("{}.{}%", tenths / 10, tenths % 10)
}
