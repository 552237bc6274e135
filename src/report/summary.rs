//! report::summary: [`Aggregates`] in; the summary out, as text ([`write_summary`]: the tables
//! by server name and by server, then the name-filtering lines) and through the two summary
//! reporters, [`SummaryText`] (`summary`) and [`SummaryJson`] (`--json --summary`, or
//! `summary --json` with only the aggregate records).
//!
//! Guarantees: each text table shows at most [`MAX_SUMMARY_ROWS`] rows and says how many rows
//! and handshakes it left out, then the untracked bucket; the JSON records list every row. Both
//! reporters keep the aggregates, never the connections, and write the summary in `finish`
//! (`SummaryJson` passes the connection lines through as they come).
//!
//! Deliberately not done: counting or finding the name-filtering patterns (the `aggregates`
//! file does), and the per-connection parts of the readable report (the `text` file).

use super::aggregates::{Aggregates, Counts, SniFiltering, SniTally, MAX_TRACKED_PAIRS};
use super::{endpoint, percent, Needs, Reporter};
use crate::record::Connection;
use crate::text::shown;
use std::io::{self, Write};

/// Rows of each summary table in the text report (the JSON records have them all).
pub const MAX_SUMMARY_ROWS: usize = 50;

/// `--json --summary`: the connection lines as [`JsonLines`](super::JsonLines) writes them,
/// then the [`Aggregates::json_records`], one per line.
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
            json: self.connections,
            ..Needs::SLIM_RECORD
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
    fn needs(&self) -> Needs {
        Needs::SLIM_RECORD
    }
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
        shown(name),
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
        .map(|t| {
            format!(
                "{} ({}/{})",
                shown(&t.sni),
                part(&t.counts),
                t.counts.handshakes
            )
        })
        .collect();
    if list.len() > NAMES_PER_LINE {
        s.push(format!("and {} more", list.len() - NAMES_PER_LINE));
    }
    s.join(", ")
}

/// One name-filtering pattern in words: "10.0.0.1:443 completes for a.example (40/40) but
/// cuts b.example (0/38): SNI filtering on the path is likely". Wire names are `shown`.
pub(super) fn filtering_line(f: &SniFiltering) -> String {
    let no_answer: u64 = f.blocked.iter().map(|t| t.counts.no_response()).sum();
    let cut: u64 = f.blocked.iter().map(|t| t.counts.cut.total()).sum();
    let verb = if no_answer > cut {
        "gets no answer for"
    } else {
        "cuts"
    };
    format!(
        "{} completes for {} but {verb} {}: {}",
        endpoint(&f.server.ip, f.server.port),
        name_list(&f.working, |c| c.complete),
        name_list(&f.blocked, |c| c.complete),
        f.meaning()
    )
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
        writeln!(out, "{}", filtering_line(f))?;
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
