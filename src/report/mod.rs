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

mod json;

use crate::ids::{Culprit, Side, VerdictId};
use crate::record::{Connection, EndpointOut, Severity};
use base64::Engine;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// What a reporter reads of each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// The record itself.
    pub record: bool,
    /// Its JSON line ([`json_line`]).
    pub json: bool,
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

impl Prepared {
    pub fn new(c: Connection, needs: Needs) -> Self {
        Prepared {
            worst: c.findings.iter().map(|f| f.severity).max(),
            json: needs.json.then(|| json_line(&c)),
            connection: needs.record.then(|| Box::new(c)),
        }
    }
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
        }
    }
    fn json_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.out.write_all(line)
    }
    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Failed connections described in full in the text report; the rest are counted.
pub const MAX_DETAILED: usize = 200;
/// Lines of the per-connection table in the text report; the rest are counted.
pub const MAX_TABLE_LINES: usize = 1000;
/// Rows of each summary table in the text report (the JSON records have them all).
pub const MAX_SUMMARY_ROWS: usize = 50;
/// Distinct server names tracked by [`Aggregates`]; later names are counted as "other".
pub const MAX_TRACKED_NAMES: usize = 10_000;
/// Distinct servers (IP, port) tracked by [`Aggregates`]; later ones are counted as "other".
pub const MAX_TRACKED_SERVERS: usize = 10_000;
/// (server, name) pairs tracked for [`Aggregates::sni_filtering`]; later pairs are not judged.
pub const MAX_TRACKED_PAIRS: usize = 20_000;

/// Handshakes cut after the ClientHello, by who most likely sent the RST or FIN
/// (`verdict.by`; absent counts as unknown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CutBy {
    pub middlebox: u64,
    pub server: u64,
    pub client: u64,
    pub unknown: u64,
}

impl CutBy {
    pub fn total(&self) -> u64 {
        self.middlebox + self.server + self.client + self.unknown
    }

    fn add(&mut self, by: Option<Culprit>) {
        match by {
            Some(Culprit::Middlebox) => self.middlebox += 1,
            Some(Culprit::Server) => self.server += 1,
            Some(Culprit::Client) => self.client += 1,
            Some(Culprit::Unknown) | None => self.unknown += 1,
        }
    }

    fn json(&self) -> Value {
        json!({
            "middlebox": self.middlebox,
            "server": self.server,
            "client": self.client,
            "unknown": self.unknown,
        })
    }
}

/// What happened to the handshakes of one name, one server or one (server, name) pair.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub handshakes: u64,
    /// Verdict `complete`.
    pub complete: u64,
    /// Verdicts `rst-after-client-hello` and `fin-after-client-hello`.
    pub cut: CutBy,
    /// Verdict `alert`.
    pub alert: u64,
    /// Every other verdict, by id (`no-server-response`, `connection-refused`, …). Verdict ids
    /// come from a closed list, so this map stays small.
    pub failed: BTreeMap<&'static str, u64>,
}

impl Counts {
    fn add(&mut self, c: &Connection) {
        self.handshakes += 1;
        match c.verdict.id {
            VerdictId::Complete => self.complete += 1,
            VerdictId::Alert => self.alert += 1,
            id if id.is_cut() => self.cut.add(c.verdict.by),
            // Keyed by the id's text, so that the map prints in the ids' alphabetical order.
            id => *self.failed.entry(id.as_str()).or_default() += 1,
        }
    }

    /// Share of handshakes that completed, 0 to 1.
    pub fn complete_rate(&self) -> f64 {
        if self.handshakes == 0 {
            return 0.0;
        }
        self.complete as f64 / self.handshakes as f64
    }

    /// Handshakes stopped the way name filtering stops them: cut after the ClientHello by
    /// anyone but the client itself, or a ClientHello never answered.
    pub fn blocked(&self) -> u64 {
        self.cut.total() - self.cut.client + self.no_response()
    }

    fn no_response(&self) -> u64 {
        self.failed
            .get("no-server-response")
            .copied()
            .unwrap_or_default()
    }

    /// Failures other than cuts, alerts included: `alert 2, no-server-response 40`.
    fn other_failures(&self) -> String {
        let mut parts = Vec::new();
        if self.alert > 0 {
            parts.push(format!("alert {}", self.alert));
        }
        parts.extend(self.failed.iter().map(|(id, n)| format!("{id} {n}")));
        if parts.is_empty() {
            "-".into()
        } else {
            parts.join(", ")
        }
    }

    /// The counting keys shared by every summary record.
    fn json_into(&self, record: &mut serde_json::Map<String, Value>) {
        record.insert("handshakes".into(), self.handshakes.into());
        record.insert("complete".into(), self.complete.into());
        record.insert("cut".into(), self.cut.json());
        record.insert("alert".into(), self.alert.into());
        record.insert(
            "failed".into(),
            Value::Object(
                self.failed
                    .iter()
                    .map(|(id, n)| ((*id).to_string(), Value::from(*n)))
                    .collect(),
            ),
        );
        // Four decimals: enough to tell 98 % failure from 99.9 %, and stable in snapshots.
        let rate = (self.complete_rate() * 10_000.0).round() / 10_000.0;
        record.insert("complete_rate".into(), rate.into());
    }
}

/// One name's handshakes with one server, as [`SniFiltering`] reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct SniTally {
    pub sni: String,
    pub counts: Counts,
}

impl SniTally {
    fn json(&self) -> Value {
        let mut record = serde_json::Map::new();
        record.insert("sni".into(), self.sni.clone().into());
        self.counts.json_into(&mut record);
        Value::Object(record)
    }
}

/// One server that completes handshakes for some names and cuts (or never answers) others:
/// strong evidence of filtering by the SNI, on the path or at the server.
#[derive(Debug, Clone, PartialEq)]
pub struct SniFiltering {
    pub server: EndpointOut,
    /// Names for which most handshakes completed, most handshakes first.
    pub working: Vec<SniTally>,
    /// Names for which most handshakes were cut by a RST or FIN after the ClientHello (not by
    /// the client) or got no answer, most handshakes first.
    pub blocked: Vec<SniTally>,
    /// Who most of the blocked handshakes were cut by: the middlebox, the server, or unknown
    /// (silent drops and cuts nobody could be blamed for).
    pub cut_by: Culprit,
}

impl SniFiltering {
    /// What the pattern most likely means, in plain words.
    pub fn meaning(&self) -> &'static str {
        match self.cut_by {
            Culprit::Middlebox => "SNI filtering on the path is likely",
            Culprit::Server => "the server end refuses those names (a firewall at the server or the server's own name check): check its configuration",
            _ => "filtering by name is likely; the capture does not show where",
        }
    }
}

/// Per server name and per server (IP, port): how many handshakes, how many completed, how
/// many were cut and how. Memory is bounded (see the `MAX_TRACKED_*` constants).
#[derive(Debug, Clone, Default)]
pub struct Aggregates {
    total: Counts,
    names: BTreeMap<String, Counts>,
    no_sni: Counts,
    other_names: Counts,
    servers: BTreeMap<(IpAddr, u16), Counts>,
    other_servers: Counts,
    /// Per server, per name (connections with an SNI only): the input of `sni_filtering`.
    pairs: BTreeMap<(IpAddr, u16), BTreeMap<String, Counts>>,
    pair_count: usize,
    untracked_pairs: u64,
}

/// Counts `c` under `key` if it is tracked or there is room for it, else under `other`.
fn count_in<K: Ord>(
    map: &mut BTreeMap<K, Counts>,
    key: K,
    cap: usize,
    other: &mut Counts,
    c: &Connection,
) {
    let len = map.len();
    match map.entry(key) {
        std::collections::btree_map::Entry::Occupied(mut e) => e.get_mut().add(c),
        std::collections::btree_map::Entry::Vacant(e) if len < cap => {
            e.insert(Counts::default()).add(c)
        }
        std::collections::btree_map::Entry::Vacant(_) => other.add(c),
    }
}

/// Rows sorted for reading: most handshakes first, then by key.
fn by_handshakes<K: Ord>(map: &BTreeMap<K, Counts>) -> Vec<(&K, &Counts)> {
    let mut rows: Vec<_> = map.iter().collect();
    // Stable sort over key order: ties stay sorted by key.
    rows.sort_by_key(|r| std::cmp::Reverse(r.1.handshakes));
    rows
}

impl Aggregates {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one connection.
    pub fn add(&mut self, c: &Connection) {
        self.total.add(c);
        let sni = c.client_hello.as_ref().and_then(|h| h.sni.as_deref());
        match sni {
            None => self.no_sni.add(c),
            // Look up by `&str` first: no allocation for a name already tracked.
            Some(name) => match self.names.get_mut(name) {
                Some(counts) => counts.add(c),
                None => count_in(
                    &mut self.names,
                    name.to_string(),
                    MAX_TRACKED_NAMES,
                    &mut self.other_names,
                    c,
                ),
            },
        }
        let server = (c.server.ip, c.server.port);
        count_in(
            &mut self.servers,
            server,
            MAX_TRACKED_SERVERS,
            &mut self.other_servers,
            c,
        );
        if let Some(name) = sni {
            if let Some(counts) = self.pairs.get_mut(&server).and_then(|m| m.get_mut(name)) {
                counts.add(c);
            } else if self.pair_count < MAX_TRACKED_PAIRS {
                self.pair_count += 1;
                self.pairs
                    .entry(server)
                    .or_default()
                    .entry(name.to_string())
                    .or_default()
                    .add(c);
            } else {
                self.untracked_pairs += 1;
            }
        }
    }

    /// Every connection counted.
    pub fn total(&self) -> &Counts {
        &self.total
    }

    /// Per server name, most handshakes first; `None` is the connections without an SNI (or
    /// without a ClientHello). Names past [`MAX_TRACKED_NAMES`] are in [`Self::other_names`].
    pub fn sni_rows(&self) -> Vec<(Option<&str>, &Counts)> {
        let mut rows: Vec<(Option<&str>, &Counts)> = by_handshakes(&self.names)
            .into_iter()
            .map(|(k, v)| (Some(k.as_str()), v))
            .collect();
        if self.no_sni.handshakes > 0 {
            let at = rows.partition_point(|r| r.1.handshakes >= self.no_sni.handshakes);
            rows.insert(at, (None, &self.no_sni));
        }
        rows
    }

    /// Connections whose name came after [`MAX_TRACKED_NAMES`] others.
    pub fn other_names(&self) -> &Counts {
        &self.other_names
    }

    /// Per server (IP, port), most handshakes first.
    pub fn server_rows(&self) -> Vec<(EndpointOut, &Counts)> {
        by_handshakes(&self.servers)
            .into_iter()
            .map(|(&(ip, port), v)| (EndpointOut { ip, port }, v))
            .collect()
    }

    /// Connections whose server came after [`MAX_TRACKED_SERVERS`] others.
    pub fn other_servers(&self) -> &Counts {
        &self.other_servers
    }

    /// Connections with an SNI whose (server, name) pair came after [`MAX_TRACKED_PAIRS`]
    /// others: [`Self::sni_filtering`] did not see them.
    pub fn untracked_pairs(&self) -> u64 {
        self.untracked_pairs
    }

    /// Servers where at least one name mostly completes and another is mostly cut after the
    /// ClientHello (by anyone but the client) or never answered, in server order.
    pub fn sni_filtering(&self) -> Vec<SniFiltering> {
        let mut found = Vec::new();
        for (&(ip, port), names) in &self.pairs {
            let mut working = Vec::new();
            let mut blocked = Vec::new();
            for (sni, counts) in names {
                let tally = || SniTally {
                    sni: sni.clone(),
                    counts: counts.clone(),
                };
                // "Mostly": more than half, so a name is never both.
                if counts.complete * 2 > counts.handshakes {
                    working.push(tally());
                } else if counts.blocked() * 2 > counts.handshakes {
                    blocked.push(tally());
                }
            }
            if working.is_empty() || blocked.is_empty() {
                continue;
            }
            for list in [&mut working, &mut blocked] {
                list.sort_by_key(|t| std::cmp::Reverse(t.counts.handshakes));
            }
            let sum = |f: fn(&Counts) -> u64| blocked.iter().map(|t| f(&t.counts)).sum::<u64>();
            let middlebox = sum(|c| c.cut.middlebox);
            let server = sum(|c| c.cut.server);
            let all = sum(Counts::blocked);
            let cut_by = if middlebox * 2 > all {
                Culprit::Middlebox
            } else if server * 2 > all {
                Culprit::Server
            } else {
                Culprit::Unknown
            };
            found.push(SniFiltering {
                server: EndpointOut { ip, port },
                working,
                blocked,
                cut_by,
            });
        }
        found
    }

    /// The aggregates as JSON objects, none with a `client` key: one per name
    /// (`"summary": "sni"`, `"sni": null` for no SNI), one per server (`"summary": "server"`),
    /// one for each "other" bucket that is not empty (`"untracked": true`), and one per
    /// filtering pattern (`"summary": "sni-filtering"`).
    pub fn json_records(&self) -> Vec<Value> {
        let record = |kind: &str, key: &str, value: Value, counts: &Counts| {
            let mut r = serde_json::Map::new();
            r.insert("summary".into(), kind.into());
            r.insert(key.into(), value);
            counts.json_into(&mut r);
            Value::Object(r)
        };
        let mut out = Vec::new();
        for (sni, counts) in self.sni_rows() {
            out.push(record(
                "sni",
                "sni",
                sni.map_or(Value::Null, Value::from),
                counts,
            ));
        }
        if self.other_names.handshakes > 0 {
            out.push(record("sni", "untracked", true.into(), &self.other_names));
        }
        for (server, counts) in self.server_rows() {
            out.push(record("server", "server", endpoint_json(&server), counts));
        }
        if self.other_servers.handshakes > 0 {
            out.push(record(
                "server",
                "untracked",
                true.into(),
                &self.other_servers,
            ));
        }
        for f in self.sni_filtering() {
            out.push(json!({
                "summary": "sni-filtering",
                "server": endpoint_json(&f.server),
                "working_sni": f.working.iter().map(SniTally::json).collect::<Vec<_>>(),
                "blocked_sni": f.blocked.iter().map(SniTally::json).collect::<Vec<_>>(),
                "cut_by": f.cut_by,
                "meaning": f.meaning(),
            }));
        }
        out
    }
}

fn endpoint_json(e: &EndpointOut) -> Value {
    json!({ "ip": e.ip.to_string(), "port": e.port })
}

/// `--json --summary`: the connection lines as [`JsonLines`] writes them, then the
/// [`Aggregates::json_records`], one per line.
pub struct SummaryJson<W: Write> {
    out: W,
    aggregates: Aggregates,
    /// Write the connection lines too (`--json --summary`), or only the records (`summary --json`).
    connections: bool,
}

impl<W: Write> SummaryJson<W> {
    pub fn new(out: W) -> Self {
        SummaryJson {
            out,
            aggregates: Aggregates::new(),
            connections: true,
        }
    }

    /// Only the summary records.
    pub fn summary_only(out: W) -> Self {
        SummaryJson {
            connections: false,
            ..Self::new(out)
        }
    }
}

impl<W: Write> Reporter for SummaryJson<W> {
    fn needs(&self) -> Needs {
        Needs {
            record: true,
            json: self.connections,
        }
    }
    fn connection(&mut self, c: &Connection) -> io::Result<()> {
        self.aggregates.add(c);
        Ok(())
    }
    fn json_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.out.write_all(line)
    }
    fn finish(&mut self) -> io::Result<()> {
        for r in self.aggregates.json_records() {
            serde_json::to_writer(&mut self.out, &r)?;
            self.out.write_all(b"\n")?;
        }
        self.out.flush()
    }
}

/// `summary`: only the aggregates (tables by name and by server, name-filtering lines) and the
/// total line, written by `finish`.
pub struct SummaryText<W: Write> {
    out: W,
    aggregates: Aggregates,
}

impl<W: Write> SummaryText<W> {
    pub fn new(out: W) -> Self {
        SummaryText {
            out,
            aggregates: Aggregates::new(),
        }
    }
}

impl<W: Write> Reporter for SummaryText<W> {
    fn connection(&mut self, c: &Connection) -> io::Result<()> {
        self.aggregates.add(c);
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        write_summary(&mut self.out, &self.aggregates)?;
        writeln!(self.out)?;
        let t = self.aggregates.total();
        writeln!(
            self.out,
            "{} connections: {} complete ({}), {} cut after the ClientHello, {} other failures",
            t.handshakes,
            t.complete,
            percent(t.complete, t.handshakes),
            t.cut.total(),
            t.alert + t.failed.values().sum::<u64>()
        )?;
        self.out.flush()
    }
}

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const RESET: &str = "\x1b[0m";

/// The verdict id, in red (failure) or green (complete) when `colour` is on.
fn verdict_word(id: VerdictId, colour: bool) -> String {
    match (colour, id) {
        (false, _) => id.to_string(),
        (true, VerdictId::Complete) => format!("{GREEN}{id}{RESET}"),
        (true, _) => format!("{RED}{id}{RESET}"),
    }
}

fn endpoint(ip: &IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        IpAddr::V4(v4) => format!("{v4}:{port}"),
    }
}

fn sni_of(c: &Connection) -> Option<&str> {
    c.client_hello.as_ref().and_then(|h| h.sni.as_deref())
}

/// The readable report: failed handshakes in detail, the per-connection table, the summaries
/// by name and by server, the name-filtering patterns and a total line, all written by
/// `finish`. Keeps strings and counters, never the connections.
pub struct Text<W: Write> {
    out: W,
    colour: bool,
    /// Pre-rendered failed-connection blocks, up to [`MAX_DETAILED`].
    detailed: Vec<Detailed>,
    /// The first input's name, and whether others followed: frame numbers are per input, so
    /// with several inputs each block names its own.
    first_capture: Option<String>,
    many_captures: bool,
    failed: u64,
    /// Pre-rendered table lines, up to [`MAX_TABLE_LINES`].
    table: Vec<String>,
    verdicts: BTreeMap<&'static str, u64>,
    total: u64,
    aggregates: Aggregates,
}

impl<W: Write> Text<W> {
    /// No colour.
    pub fn new(out: W) -> Self {
        Self::with_colour(out, false)
    }

    /// ANSI colour on the verdict words when `colour` is set (for a terminal).
    pub fn with_colour(out: W, colour: bool) -> Self {
        Text {
            out,
            colour,
            detailed: Vec::new(),
            first_capture: None,
            many_captures: false,
            failed: 0,
            table: Vec::new(),
            verdicts: BTreeMap::new(),
            total: 0,
            aggregates: Aggregates::new(),
        }
    }

    /// The aggregates counted so far.
    pub fn aggregates(&self) -> &Aggregates {
        &self.aggregates
    }

    fn table_line(&self, c: &Connection) -> String {
        let (version, cipher) = match &c.server_hello {
            Some(sh) => (
                sh.version_name.to_string(),
                sh.cipher_suite_name
                    .map_or_else(|| format!("0x{:04x}", sh.cipher_suite), str::to_string),
            ),
            None => ("-".into(), "-".into()),
        };
        let worst = c
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Medium && f.id.as_str() != c.verdict.id.as_str())
            .map(|f| f.id.as_str())
            .collect::<Vec<_>>();
        let extra = if worst.is_empty() {
            String::new()
        } else {
            format!(" [{}]", worst.join(", "))
        };
        format!(
            "{:<7} {:<47} {:<28} {:<9} {:<32} {}{}",
            c.first_frame,
            format!(
                "{} -> {}",
                endpoint(&c.client.ip, c.client.port),
                endpoint(&c.server.ip, c.server.port)
            ),
            sni_of(c).unwrap_or("-"),
            version,
            cipher,
            verdict_word(c.verdict.id, self.colour),
            extra
        )
    }

    /// One failed connection: who, what, the evidence and what to do.
    fn failed_block(&self, c: &Connection) -> Detailed {
        let v = &c.verdict;
        let tag = match (v.by, v.confidence) {
            (Some(by), Some(conf)) => format!(" [{by}, {conf:.2}]"),
            (Some(by), None) => format!(" [{by}]"),
            (None, _) => String::new(),
        };
        let head = format!(
            "frame {}  {} -> {}  {}  {}{}",
            c.first_frame,
            endpoint(&c.client.ip, c.client.port),
            endpoint(&c.server.ip, c.server.port),
            sni_of(c).unwrap_or("(no SNI)"),
            verdict_word(v.id, self.colour),
            tag,
        );
        let mut s = format!("  {}\n", v.summary);
        for f in c.findings.iter().filter(|f| f.severity >= Severity::Low) {
            // The finding behind the verdict usually repeats its summary word for word.
            if f.message == v.summary {
                s.push_str(&format!("  - {}\n", f.id));
            } else {
                s.push_str(&format!("  - {}: {}\n", f.id, f.message));
            }
            for e in &f.evidence {
                s.push_str(&format!("      {e}\n"));
            }
            if let Some(a) = &f.advice {
                s.push_str(&format!("    advice: {a}\n"));
            }
        }
        Detailed {
            capture: c.capture.clone(),
            head,
            body: s,
        }
    }
}

/// One failed connection, rendered: its first line (the input's name is added when there are
/// several) and the rest.
struct Detailed {
    capture: String,
    head: String,
    body: String,
}

/// "12.3%" of `part` in `whole`, rounded down so that 99.96 % never reads as 100 %.
fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    let tenths = part.saturating_mul(1000) / whole;
    format!("{}.{}%", tenths / 10, tenths % 10)
}

fn summary_header(first: &str) -> String {
    format!(
        "{:<40} {:>10} {:>8} {:>10} {:>13} {:>10} {:>10} {:>11}  other failures",
        first,
        "handshakes",
        "complete",
        "complete %",
        "cut:middlebox",
        "cut:server",
        "cut:client",
        "cut:unknown"
    )
}

fn summary_row(name: &str, c: &Counts) -> String {
    format!(
        "{:<40} {:>10} {:>8} {:>10} {:>13} {:>10} {:>10} {:>11}  {}",
        name,
        c.handshakes,
        c.complete,
        percent(c.complete, c.handshakes),
        c.cut.middlebox,
        c.cut.server,
        c.cut.client,
        c.cut.unknown,
        c.other_failures()
    )
}

/// A summary table, at most [`MAX_SUMMARY_ROWS`] rows, then the count of rows left out and the
/// untracked bucket.
fn write_table<W: Write>(
    out: &mut W,
    title: &str,
    first: &str,
    rows: &[(String, &Counts)],
    other: &Counts,
    other_label: &str,
) -> io::Result<()> {
    writeln!(out, "{title}")?;
    writeln!(out, "{}", summary_header(first))?;
    for (name, counts) in rows.iter().take(MAX_SUMMARY_ROWS) {
        writeln!(out, "{}", summary_row(name, counts))?;
    }
    if rows.len() > MAX_SUMMARY_ROWS {
        let left: u64 = rows
            .iter()
            .skip(MAX_SUMMARY_ROWS)
            .map(|r| r.1.handshakes)
            .sum();
        writeln!(
            out,
            "… {} more rows ({left} handshakes); --json --summary lists them all",
            rows.len() - MAX_SUMMARY_ROWS
        )?;
    }
    if other.handshakes > 0 {
        writeln!(out, "{}", summary_row(other_label, other))?;
    }
    Ok(())
}

/// Names listed on one filtering line before "and N more".
const NAMES_PER_LINE: usize = 10;

fn name_list(list: &[SniTally], part: fn(&Counts) -> u64) -> String {
    let mut s: Vec<String> = list
        .iter()
        .take(NAMES_PER_LINE)
        .map(|t| format!("{} ({}/{})", t.sni, part(&t.counts), t.counts.handshakes))
        .collect();
    if list.len() > NAMES_PER_LINE {
        s.push(format!("and {} more", list.len() - NAMES_PER_LINE));
    }
    s.join(", ")
}

/// The summary part of the text report: the tables by name and by server, then the
/// name-filtering lines. Also usable on its own (a `summary` command).
pub fn write_summary<W: Write>(out: &mut W, agg: &Aggregates) -> io::Result<()> {
    let names: Vec<(String, &Counts)> = agg
        .sni_rows()
        .into_iter()
        .map(|(n, c)| (n.unwrap_or("(no SNI)").to_string(), c))
        .collect();
    write_table(
        out,
        "Summary by server name",
        "server name",
        &names,
        agg.other_names(),
        "(other names, not tracked)",
    )?;
    writeln!(out)?;
    let servers: Vec<(String, &Counts)> = agg
        .server_rows()
        .into_iter()
        .map(|(e, c)| (endpoint(&e.ip, e.port), c))
        .collect();
    write_table(
        out,
        "Summary by server",
        "server",
        &servers,
        agg.other_servers(),
        "(other servers, not tracked)",
    )?;
    let filtering = agg.sni_filtering();
    if !filtering.is_empty() {
        writeln!(out)?;
        writeln!(out, "Same server, different names")?;
    }
    for f in &filtering {
        let no_answer: u64 = f.blocked.iter().map(|t| t.counts.no_response()).sum();
        let cut: u64 = f.blocked.iter().map(|t| t.counts.cut.total()).sum();
        let verb = if no_answer > cut {
            "gets no answer for"
        } else {
            "cuts"
        };
        writeln!(
            out,
            "{} completes for {} but {verb} {}: {}",
            endpoint(&f.server.ip, f.server.port),
            name_list(&f.working, |c| c.complete),
            name_list(&f.blocked, |c| c.complete),
            f.meaning()
        )?;
    }
    if agg.untracked_pairs() > 0 {
        writeln!(
            out,
            "({} connections with names past the first {MAX_TRACKED_PAIRS} (server, name) pairs were not checked for name filtering)",
            agg.untracked_pairs()
        )?;
    }
    Ok(())
}

impl<W: Write> Reporter for Text<W> {
    fn connection(&mut self, c: &Connection) -> io::Result<()> {
        self.total += 1;
        *self.verdicts.entry(c.verdict.id.as_str()).or_default() += 1;
        self.aggregates.add(c);
        match &self.first_capture {
            None => self.first_capture = Some(c.capture.clone()),
            Some(first) => self.many_captures |= *first != c.capture,
        }
        if c.verdict.id != VerdictId::Complete {
            self.failed += 1;
            if self.detailed.len() < MAX_DETAILED {
                let block = self.failed_block(c);
                self.detailed.push(block);
            }
        }
        if self.table.len() < MAX_TABLE_LINES {
            let line = self.table_line(c);
            self.table.push(line);
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        let out = &mut self.out;
        if self.failed == 0 {
            writeln!(out, "Failed handshakes: none")?;
        } else {
            writeln!(out, "Failed handshakes ({})", self.failed)?;
            for d in &self.detailed {
                writeln!(out)?;
                if self.many_captures {
                    writeln!(out, "{}  in {}", d.head, d.capture)?;
                } else {
                    writeln!(out, "{}", d.head)?;
                }
                write!(out, "{}", d.body)?;
            }
            let more = self.failed - self.detailed.len() as u64;
            if more > 0 {
                writeln!(out)?;
                writeln!(
                    out,
                    "… {more} more failed handshakes (in the table below and with --json)"
                )?;
            }
        }
        writeln!(out)?;
        writeln!(out, "Connections")?;
        writeln!(
            out,
            "{:<7} {:<47} {:<28} {:<9} {:<32} verdict",
            "frame", "client -> server", "SNI", "version", "cipher"
        )?;
        for line in &self.table {
            writeln!(out, "{line}")?;
        }
        let more = self.total - self.table.len() as u64;
        if more > 0 {
            writeln!(out, "… {more} more connections (all of them with --json)")?;
        }
        writeln!(out)?;
        write_summary(out, &self.aggregates)?;
        writeln!(out)?;
        let parts: Vec<String> = self
            .verdicts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        if parts.is_empty() {
            writeln!(out, "0 connections: none")?;
        } else {
            writeln!(
                out,
                "{} connections: {}; {} complete",
                self.total,
                parts.join(", "),
                percent(self.aggregates.total().complete, self.total)
            )?;
        }
        out.flush()
    }
}

/// `certs --export DIR`: per server (IP, port, SNI), the first chain it sent, exactly as sent
/// (wire order) as `NAME.chain.pem`, and `NAME.missing.txt` saying what a full chain needs and
/// where to get it when something is missing. Also a readable listing on `out`.
pub struct ChainExport<W: Write> {
    dir: Option<PathBuf>,
    out: W,
    seen: std::collections::BTreeSet<String>,
}

impl<W: Write> ChainExport<W> {
    pub fn new(dir: Option<&Path>, out: W) -> io::Result<Self> {
        if let Some(d) = dir {
            std::fs::create_dir_all(d)?;
        }
        Ok(ChainExport {
            dir: dir.map(Path::to_path_buf),
            out,
            seen: Default::default(),
        })
    }
}

/// `<ip>_<port>_<sni or "nosni">`, with anything unsafe in a file name replaced.
pub fn export_name(c: &Connection) -> String {
    let sni = c
        .client_hello
        .as_ref()
        .and_then(|h| h.sni.clone())
        .unwrap_or_else(|| "nosni".into());
    format!("{}_{}_{}", c.server.ip, c.server.port, sni)
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-') {
                ch
            } else {
                '_'
            }
        })
        .collect()
}

fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        s.push_str(&String::from_utf8_lossy(line));
        s.push('\n');
    }
    s.push_str("-----END CERTIFICATE-----\n");
    s
}

impl<W: Write> Reporter for ChainExport<W> {
    fn connection(&mut self, c: &Connection) -> io::Result<()> {
        if c.server_certificates.is_empty() {
            return Ok(());
        }
        let name = export_name(c);
        if !self.seen.insert(name.clone()) {
            return Ok(());
        }
        writeln!(self.out, "{name}")?;
        for (i, cert) in c.server_certificates.iter().enumerate() {
            writeln!(
                self.out,
                "  #{i} {}\n     issuer {}\n     valid {} .. {}  sha256 {}",
                cert.subject.as_deref().unwrap_or("(unparsable)"),
                cert.issuer.as_deref().unwrap_or("-"),
                cert.not_before.as_deref().unwrap_or("-"),
                cert.not_after.as_deref().unwrap_or("-"),
                cert.sha256
            )?;
        }
        let gaps: Vec<_> = c
            .findings
            .iter()
            .filter(|f| f.side == Some(Side::Server) && f.when.is_none())
            .collect();
        for f in &gaps {
            writeln!(self.out, "  {} [{:?}]: {}", f.id, f.severity, f.message)?;
        }
        let Some(dir) = &self.dir else { return Ok(()) };
        let chain: String = c
            .server_certificates
            .iter()
            .map(|cert| pem(&cert.der))
            .collect();
        std::fs::write(dir.join(format!("{name}.chain.pem")), chain)?;
        let missing: Vec<_> = gaps.iter().filter(|f| f.id.is_chain_gap()).collect();
        if !missing.is_empty() {
            let mut text = format!("What the chain sent by {name} lacks, and where to get it:\n\n");
            for f in missing {
                text.push_str(&format!("{}: {}\n", f.id, f.message));
                if let Some(a) = &f.advice {
                    text.push_str(&format!("  fix: {a}\n"));
                }
            }
            let urls: Vec<&String> = c
                .server_certificates
                .iter()
                .flat_map(|cert| &cert.aia_ca_issuers)
                .collect();
            for u in urls {
                text.push_str(&format!("AIA caIssuers (download the issuer here): {u}\n"));
            }
            text.push_str("\nServe the leaf followed by every intermediate up to (not including) the root, e.g. nginx `ssl_certificate fullchain.pem`.\n");
            std::fs::write(dir.join(format!("{name}.missing.txt")), text)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
