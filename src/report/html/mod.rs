//! report::html: connection records in; one self-contained HTML page out ([`Html`], `--html
//! FILE`): inline CSS, SVG and a little JavaScript, nothing fetched, printable.
//!
//! The page: an overview (inputs, time span, totals, completion rate, the servers that
//! complete for some names and cut others, with the advice the diagnosis gave for them, and
//! the verdicts as a bar chart), a timeline of handshakes over capture time coloured by
//! verdict, the tables by server name and by server (sortable, filterable by text and
//! verdict), each failed handshake in detail (a ladder diagram of its packets with the judged
//! packet and its evidence, the other findings, the certificate chain as cards), the chains
//! with problems, and a table of connections.
//!
//! Guarantees: memory and the page's size are bounded whatever the capture. Only the first
//! `detail` failures of each verdict ([`DEFAULT_HTML_DETAIL`] unless set) and the first
//! [`MAX_CHAINS`] distinct problem chains are drawn in full, pre-rendered as they arrive; the
//! rest is counted (the aggregates and a time histogram of at most [`MAX_TIME_BINS`] bins). The
//! connection table keeps [`MAX_TABLE_ROWS`] rows. Everything that came from the wire is
//! written through [`esc`]: control characters shown as `\u{..}` (as on the terminal), then
//! HTML-escaped for text and attribute contexts alike; links are made only of http(s) URLs.
//! The page does not depend on the wall clock: "now" on a validity bar is drawn by the page's
//! script when it is opened.
//!
//! Deliberately not done: deciding anything (verdicts, evidence, advice and which packet was
//! judged come from the diagnose stage), and fetching anything (missing intermediates are
//! named with their URLs).

mod detail;
mod page;

use super::aggregates::Aggregates;
use super::{Needs, Reporter, Slim};
use crate::ids::{Culprit, VerdictId};
use crate::record::Connection;
use crate::text::shown;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::IpAddr;

/// Failures of each verdict drawn in full by default (`--html-detail`).
pub const DEFAULT_HTML_DETAIL: usize = 20;
/// Distinct certificate chains with problems drawn as cards.
pub const MAX_CHAINS: usize = 20;
/// Rows of the connection table.
pub const MAX_TABLE_ROWS: usize = 1000;
/// Time bins the timeline keeps before it doubles their width.
pub const MAX_TIME_BINS: usize = 4096;
/// Inputs named in the overview.
const MAX_INPUTS_NAMED: usize = 100;
/// Servers whose blocking advice is remembered for the name-filtering patterns.
const MAX_ADVICE_SERVERS: usize = 10_000;

/// Whether the page may draw `c` in full (a failed handshake, or a chain with problems), and
/// so reads its record whole; the overview, timeline and tables read only what a slimmed
/// record keeps.
pub fn drawn_in_full(c: &Connection) -> bool {
    c.verdict.id != VerdictId::Complete || detail::problem_chain_key(c).is_some()
}

/// `s` from the wire, safe in HTML text and in a quoted attribute: control and
/// text-reordering characters shown as `\u{..}`, then `& < > " '` escaped.
pub fn esc(s: &str) -> String {
    let s = shown(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The colour group a verdict is drawn in: complete, cut by a middlebox, cut by an end, no
/// answer, refused by TLS, or anything else. Only a palette: the verdicts say what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Colour {
    Complete,
    CutByMiddlebox,
    CutByEnd,
    NoAnswer,
    TlsRefused,
    Other,
}

impl Colour {
    pub const ALL: [Colour; 6] = [
        Colour::Complete,
        Colour::CutByMiddlebox,
        Colour::CutByEnd,
        Colour::NoAnswer,
        Colour::TlsRefused,
        Colour::Other,
    ];

    pub fn of(c: &Connection) -> Colour {
        match c.verdict.id {
            VerdictId::Complete => Colour::Complete,
            id if id.is_cut() && c.verdict.by == Some(Culprit::Middlebox) => Colour::CutByMiddlebox,
            VerdictId::DroppedOnPath => Colour::CutByMiddlebox,
            id if id.is_cut() => Colour::CutByEnd,
            VerdictId::ConnectionRefused => Colour::CutByEnd,
            VerdictId::NoServerResponse => Colour::NoAnswer,
            VerdictId::Alert
            | VerdictId::Rejected(_)
            | VerdictId::VersionMismatch
            | VerdictId::NoSharedCipher
            | VerdictId::ClientRejectedLikely
            | VerdictId::WeakDh
            | VerdictId::NotTls => Colour::TlsRefused,
            _ => Colour::Other,
        }
    }

    /// The CSS class (and legend key).
    pub fn class(self) -> &'static str {
        match self {
            Colour::Complete => "k0",
            Colour::CutByMiddlebox => "k1",
            Colour::CutByEnd => "k2",
            Colour::NoAnswer => "k3",
            Colour::TlsRefused => "k4",
            Colour::Other => "k5",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Colour::Complete => "complete",
            Colour::CutByMiddlebox => "cut or dropped on the path",
            Colour::CutByEnd => "cut by an end (or unknown)",
            Colour::NoAnswer => "no answer",
            Colour::TlsRefused => "refused in TLS",
            Colour::Other => "other",
        }
    }
}

/// Handshakes over capture time, by colour: bins of a width that doubles whenever more than
/// [`MAX_TIME_BINS`] would be needed, so that memory stays bounded for any span.
#[derive(Debug, Default)]
pub struct TimeBins {
    /// Bin width in nanoseconds (one second at first).
    width: i64,
    bins: BTreeMap<i64, [u64; 6]>,
}

impl TimeBins {
    fn add(&mut self, ns: i64, colour: Colour) {
        if self.width == 0 {
            self.width = 1_000_000_000;
        }
        let slot = colour as usize;
        let bin = self.bins.entry(ns.div_euclid(self.width)).or_default();
        if let Some(n) = bin.get_mut(slot) {
            *n += 1;
        }
        while self.bins.len() > MAX_TIME_BINS {
            self.width = self.width.saturating_mul(2);
            let old = std::mem::take(&mut self.bins);
            for (k, v) in old {
                let merged = self.bins.entry(k.div_euclid(2)).or_default();
                for (m, x) in merged.iter_mut().zip(v) {
                    *m += x;
                }
            }
        }
    }

    /// `(start ns, counts)` per bin, in time order, with the bin width.
    pub fn bins(&self) -> (i64, Vec<(i64, [u64; 6])>) {
        let w = self.width.max(1);
        (
            w,
            self.bins
                .iter()
                .map(|(&k, &v)| (k.saturating_mul(w), v))
                .collect(),
        )
    }
}

/// Per verdict: connections, and how many are drawn in full.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    count: u64,
    detailed: usize,
    colour: Option<Colour>,
}

/// A certificate chain with problems, drawn once with the names it was sent for.
struct ChainSeen {
    html: String,
    names: Vec<String>,
    more_names: u64,
    connections: u64,
    /// Of those, the connections drawn in full (with this chain) among the failures.
    in_details: u64,
}

/// Told one line when the page is written.
pub type Note = Box<dyn FnMut(&str)>;

/// Names listed under a chain card set.
const NAMES_PER_CHAIN: usize = 10;

/// The HTML report, written to `out` by `finish`. Keeps pre-rendered sections and counters,
/// never the connections.
pub struct Html<W: Write> {
    out: W,
    detail: usize,
    inputs: Vec<(String, u64)>,
    more_inputs: u64,
    total: u64,
    span: Option<(i64, i64)>,
    verdicts: BTreeMap<VerdictId, Tally>,
    colours: [u64; 6],
    time: TimeBins,
    aggregates: Aggregates,
    /// Per server, the advice of the first handshake to it that was cut or dropped (an index
    /// into `advice`): the name-filtering patterns quote it.
    blocked_advice: BTreeMap<(IpAddr, u16), usize>,
    advice: Vec<String>,
    /// Pre-rendered detail sections, in arrival order.
    details: Vec<String>,
    chains: BTreeMap<String, ChainSeen>,
    chain_order: Vec<String>,
    more_chains: u64,
    table: Vec<String>,
    /// Said when the page is written: its size and what was left out.
    note: Option<Note>,
}

impl<W: Write> Html<W> {
    /// A report drawing the first `detail` failures of each verdict in full.
    pub fn new(out: W, detail: usize) -> Self {
        Html {
            out,
            detail,
            inputs: Vec::new(),
            more_inputs: 0,
            total: 0,
            span: None,
            verdicts: BTreeMap::new(),
            colours: [0; 6],
            time: TimeBins::default(),
            aggregates: Aggregates::new(),
            blocked_advice: BTreeMap::new(),
            advice: Vec::new(),
            details: Vec::new(),
            chains: BTreeMap::new(),
            chain_order: Vec::new(),
            more_chains: 0,
            table: Vec::new(),
            note: None,
        }
    }

    /// Calls `note` once the page is written, with one line: its size and what it left out.
    pub fn with_note(mut self, note: Note) -> Self {
        self.note = Some(note);
        self
    }

    fn count_input(&mut self, name: &str) {
        if let Some((last, n)) = self.inputs.last_mut() {
            if last == name {
                *n += 1;
                return;
            }
        }
        if self.inputs.len() < MAX_INPUTS_NAMED {
            self.inputs.push((name.to_string(), 1));
        } else {
            self.more_inputs += 1;
        }
    }

    fn remember_advice(&mut self, c: &Connection) {
        let blocked = c.verdict.id.is_cut() || c.verdict.id == VerdictId::DroppedOnPath;
        let key = (c.server.ip, c.server.port);
        if !blocked
            || self.blocked_advice.contains_key(&key)
            || self.blocked_advice.len() >= MAX_ADVICE_SERVERS
        {
            return;
        }
        let Some(advice) = super::ladder::verdict_finding(c).and_then(|f| f.advice.as_deref())
        else {
            return;
        };
        let i = match self.advice.iter().position(|a| a == advice) {
            Some(i) => i,
            None => {
                self.advice.push(advice.to_string());
                self.advice.len() - 1
            }
        };
        self.blocked_advice.insert(key, i);
    }

    /// Counts `c`'s server chain when it has problems; `drawn`: `c` has a detail section.
    fn remember_chain(&mut self, c: &Connection, drawn: bool) {
        let Some(key) = detail::problem_chain_key(c) else {
            return;
        };
        let sni = c.client_hello.as_ref().and_then(|h| h.sni.as_deref());
        if let Some(seen) = self.chains.get_mut(&key) {
            seen.connections += 1;
            seen.in_details += u64::from(drawn);
            match sni {
                Some(n) if seen.names.iter().any(|x| x == n) => {}
                Some(n) if seen.names.len() < NAMES_PER_CHAIN => seen.names.push(n.to_string()),
                Some(_) => seen.more_names += 1,
                None => {}
            }
            return;
        }
        if self.chains.len() >= MAX_CHAINS {
            self.more_chains += 1;
            return;
        }
        self.chain_order.push(key.clone());
        self.chains.insert(
            key,
            ChainSeen {
                html: detail::chain_cards(c),
                names: sni.map(str::to_string).into_iter().collect(),
                more_names: 0,
                connections: 1,
                in_details: u64::from(drawn),
            },
        );
    }
}

impl<W: Write> Reporter for Html<W> {
    fn needs(&self) -> Needs {
        Needs {
            record: true,
            json: false,
            // Chain cards and ladders read what a slimmed record leaves out; the rest of the
            // page reads only what it keeps.
            slim: Slim::UnlessDrawn,
        }
    }

    fn connection(&mut self, c: &Connection) -> io::Result<()> {
        self.total += 1;
        self.count_input(&c.capture);
        let (start, end) = c.span_ns;
        self.span = Some(match self.span {
            None => (start, end),
            Some((a, b)) => (a.min(start), b.max(end)),
        });
        let colour = Colour::of(c);
        self.colours[colour as usize] += 1;
        self.time.add(start, colour);
        self.aggregates.add(c);
        self.remember_advice(c);
        let tally = self.verdicts.entry(c.verdict.id).or_default();
        tally.count += 1;
        tally.colour.get_or_insert(colour);
        let drawn = c.verdict.id != VerdictId::Complete && tally.detailed < self.detail;
        if drawn {
            tally.detailed += 1;
            let id = self.details.len();
            self.details
                .push(detail::section(c, id, tally.detailed == 1));
        }
        self.remember_chain(c, drawn);
        if self.table.len() < MAX_TABLE_ROWS {
            let anchor = drawn.then(|| self.details.len() - 1);
            self.table.push(page::table_row(c, anchor));
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        let mut page =
            String::with_capacity(64 * 1024 + self.details.iter().map(String::len).sum::<usize>());
        page::write(&mut page, self);
        self.out.write_all(page.as_bytes())?;
        self.out.flush()?;
        let failed: u64 = self
            .verdicts
            .iter()
            .filter(|(id, _)| **id != VerdictId::Complete)
            .map(|(_, t)| t.count)
            .sum();
        let line = format!(
            "HTML report: {} bytes ({} KiB); {} of {failed} failed handshakes drawn in full (at most {} per verdict, --html-detail), {} connections in all",
            page.len(),
            page.len().div_ceil(1024),
            self.details.len(),
            self.detail,
            self.total
        );
        if let Some(note) = self.note.as_mut() {
            note(&line);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_text_is_escaped_for_text_and_attributes_and_loses_its_control_characters() {
        assert_eq!(
            esc("<script>alert('x')</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
        );
        assert_eq!(esc("a\" onmouseover=\"x"), "a&quot; onmouseover=&quot;x");
        assert_eq!(esc("a&b"), "a&amp;b");
        assert_eq!(
            esc("evil\u{1b}[2J\n\u{202e}"),
            "evil\\u{1b}[2J\\u{a}\\u{202e}"
        );
        assert_eq!(esc("bücher.de"), "bücher.de");
    }

    #[test]
    fn time_bins_double_their_width_and_keep_every_count() {
        let mut t = TimeBins::default();
        let n = MAX_TIME_BINS as i64 * 3;
        for s in 0..n {
            t.add(s * 1_000_000_000, Colour::Complete);
        }
        let (width, bins) = t.bins();
        assert!(bins.len() <= MAX_TIME_BINS);
        assert_eq!(
            width, 4_000_000_000,
            "two doublings for three times the cap"
        );
        let sum: u64 = bins.iter().map(|(_, c)| c[0]).sum();
        assert_eq!(sum, n as u64);
        assert!(bins.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
