//! report: connection records in; JSON lines or a readable table out.
//!
//! JSON: one object per connection, keys as the README's contract says, written as soon as the
//! connection is known (connections arrive in order of their first packet). Text: one line per
//! connection (client → server, SNI, version, cipher, verdict) and a summary line at the end.
//! It does not decide anything: verdicts and findings come from the diagnose stage.

use crate::diagnose::{Connection, Severity};
use base64::Engine;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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

/// Findings that mean the chain as sent is not what a client needs.
const CHAIN_GAPS: &[&str] = &[
    "incomplete-chain",
    "wrong-intermediate",
    "unknown-issuer",
    "chain-out-of-order",
    "unknown-root",
    "self-signed",
];

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
            .filter(|f| f.side == Some("server") && f.when.is_none())
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
        let missing: Vec<_> = gaps.iter().filter(|f| CHAIN_GAPS.contains(&f.id)).collect();
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
