//! report::text: connection records in; the readable report ([`Text`]) out, all written by
//! `finish`: the failed handshakes first (verdict in plain words, the evidence behind it, the
//! advice), then one line per connection, then the summary ([`write_summary`]) and a total
//! line. Verdict words are in ANSI colour when the caller asks for it. Under each failed
//! block, its plain-text ladder (`report::ladder`) when the run kept its packets.
//!
//! Guarantees: memory stays bounded whatever the capture: the report keeps pre-rendered
//! strings, at most [`MAX_DETAILED`] failed blocks and [`MAX_TABLE_LINES`] table lines, and
//! counts the rest (saying how many were left out), never the connections themselves. With
//! several inputs, each failed block names its input, since frame numbers are per input.
//!
//! Deliberately not done: deciding anything (verdicts, findings and advice come from the
//! diagnose stage), and telling whether the output is a terminal (the caller does).

use super::aggregates::Aggregates;
use super::summary::write_summary;
use super::{endpoint, percent, Needs, Reporter};
use crate::ids::{KeySource, VerdictId};
use crate::record::{Connection, Severity};
use crate::text::shown;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Failed connections described in full in the text report; the rest are counted.
pub const MAX_DETAILED: usize = 200;
/// Lines of the per-connection table in the text report; the rest are counted.
pub const MAX_TABLE_LINES: usize = 1000;

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

fn sni_of(c: &Connection) -> Option<&str> {
    c.client_hello.as_ref().and_then(|h| h.sni.as_deref())
}

/// The readable report: failed handshakes in detail, the per-connection table, the summaries
/// by name and by server, the name-filtering patterns and a total line, all written by
/// `finish`. Keeps strings and counters, never the connections.
pub struct Text<W: Write> {
    out: W,
    colour: bool,
    /// Draw a plain-text ladder under each failed block whose packets were kept.
    ladders: bool,
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
            ladders: true,
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

    /// Whether each failed block ends with its ladder (on by default; a ladder needs the
    /// packets the run kept, [`crate::Config::ladders`]).
    pub fn with_ladders(mut self, ladders: bool) -> Self {
        self.ladders = ladders;
        self
    }

    /// The aggregates counted so far.
    pub fn aggregates(&self) -> &Aggregates {
        &self.aggregates
    }

    fn table_line(&self, c: &Connection) -> String {
        let (version, cipher) = super::version_and_cipher(c);
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
            shown(sni_of(c).unwrap_or("-")),
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
            shown(sni_of(c).unwrap_or("(no SNI)")),
            verdict_word(v.id, self.colour),
            tag,
        );
        // Summaries, messages, evidence and advice quote what the wire said (a server name, a
        // subject): each is shown with its control characters escaped.
        let mut s = format!("  {}\n", shown(&v.summary));
        if let Some(k) = c.keys {
            let from = match k {
                KeySource::Keylog => "the --keylog file",
                KeySource::Pcapng => "the capture's Decryption Secrets Blocks",
            };
            let what = if c.decrypted.is_some() {
                "protected records decrypted"
            } else {
                "secrets found"
            };
            s.push_str(&format!("  ({what} with keys from {from})\n"));
        }
        for f in c.findings.iter().filter(|f| f.severity >= Severity::Low) {
            // The finding behind the verdict usually repeats its summary word for word.
            if f.message == v.summary {
                s.push_str(&format!("  - {}\n", f.id));
            } else {
                s.push_str(&format!("  - {}: {}\n", f.id, shown(&f.message)));
            }
            for e in &f.evidence {
                s.push_str(&format!("      {}\n", shown(e)));
            }
            if let Some(a) = &f.advice {
                s.push_str(&format!("    advice: {}\n", shown(a)));
            }
        }
        if self.ladders {
            super::ladder::write_text(&mut s, c);
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

impl<W: Write> Reporter for Text<W> {
    fn needs(&self) -> Needs {
        Needs::SLIM_RECORD
    }
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
                    writeln!(out, "{}  in {}", d.head, shown(&d.capture))?;
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
