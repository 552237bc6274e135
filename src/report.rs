//! report: connection records in; JSON lines or a readable table out.
//!
//! JSON: one object per connection, keys as the README's contract says, written as soon as the
//! connection is known (connections arrive in order of their first packet). Text: one line per
//! connection (client → server, SNI, version, cipher, verdict) and a summary line at the end.
//! It does not decide anything: verdicts and findings come from the diagnose stage.

use crate::diagnose::{Connection, Severity};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Where records go.
pub trait Reporter {
    fn connection(&mut self, c: &Connection) -> io::Result<()>;
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
    fn connection(&mut self, c: &Connection) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, c)?;
        self.out.write_all(b"\n")
    }
    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The human table.
pub struct Text<W: Write> {
    out: W,
    verdicts: BTreeMap<&'static str, u64>,
    total: u64,
    header_done: bool,
}

impl<W: Write> Text<W> {
    pub fn new(out: W) -> Self {
        Text {
            out,
            verdicts: BTreeMap::new(),
            total: 0,
            header_done: false,
        }
    }
}

fn endpoint(ip: &std::net::IpAddr, port: u16) -> String {
    match ip {
        std::net::IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        std::net::IpAddr::V4(v4) => format!("{v4}:{port}"),
    }
}

impl<W: Write> Reporter for Text<W> {
    fn connection(&mut self, c: &Connection) -> io::Result<()> {
        if !self.header_done {
            self.header_done = true;
            writeln!(
                self.out,
                "{:<7} {:<47} {:<28} {:<9} {:<32} verdict",
                "frame", "client -> server", "SNI", "version", "cipher"
            )?;
        }
        self.total += 1;
        *self.verdicts.entry(c.verdict.id).or_default() += 1;
        let sni = c
            .client_hello
            .as_ref()
            .and_then(|h| h.sni.clone())
            .unwrap_or_else(|| "-".into());
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
            .filter(|f| f.severity >= Severity::Medium)
            .map(|f| f.id)
            .collect::<Vec<_>>();
        let extra = if worst.is_empty() {
            String::new()
        } else {
            format!(" [{}]", worst.join(", "))
        };
        writeln!(
            self.out,
            "{:<7} {:<47} {:<28} {:<9} {:<32} {}{}",
            c.first_frame,
            format!(
                "{} -> {}",
                endpoint(&c.client.ip, c.client.port),
                endpoint(&c.server.ip, c.server.port)
            ),
            sni,
            version,
            cipher,
            c.verdict.id,
            extra
        )
    }

    fn finish(&mut self) -> io::Result<()> {
        let parts: Vec<String> = self
            .verdicts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        writeln!(
            self.out,
            "{} connections: {}",
            self.total,
            if parts.is_empty() {
                "none".into()
            } else {
                parts.join(", ")
            }
        )?;
        self.out.flush()
    }
}
