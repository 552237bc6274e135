//! report::export: connection records in; the `certs` listing out ([`ChainExport`]): per
//! server (IP, port, SNI), the first chain it sent, each certificate's subject, issuer,
//! validity and SHA-256, and the findings on the server's side judged at capture time (not
//! those for `--now` or `--at`). With `certs --export DIR`, also `NAME.chain.pem` per server
//! and, when a chain-gap finding says something is missing, `NAME.missing.txt` (what a full
//! chain needs, the advice and the AIA caIssuers URLs).
//!
//! Guarantees: a chain is written exactly as sent (wire order, each certificate's DER as PEM);
//! one entry per name ([`export_name`]), the first seen; file names hold only ASCII letters,
//! digits, `.`, `_` and `-`.
//!
//! Deliberately not done: completing, reordering or validating a chain (findings come from
//! the x509 and diagnose stages), and fetching missing issuers: the URLs are listed, not
//! downloaded.

use super::Reporter;
use crate::ids::Side;
use crate::record::Connection;
use base64::Engine;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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
