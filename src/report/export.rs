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
use crate::text::shown;
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

/// Bytes of an export name, under the 255 most file systems allow once `.chain.pem` and
/// `.missing.txt` are added.
const MAX_EXPORT_NAME: usize = 200;

/// `<ip>_<port>_<sni or "nosni">`, with anything unsafe in a file name replaced. A name longer
/// than [`MAX_EXPORT_NAME`] (a 300-character SNI) is cut and ends with a hash of the whole, so
/// that two long names stay apart.
pub fn export_name(c: &Connection) -> String {
    let sni = c
        .client_hello
        .as_ref()
        .and_then(|h| h.sni.clone())
        .unwrap_or_else(|| "nosni".into());
    file_name(&format!("{}_{}_{}", c.server.ip, c.server.port, sni))
}

/// `full` with anything unsafe in a file name replaced, cut to [`MAX_EXPORT_NAME`] bytes with a
/// hash of the whole when longer.
fn file_name(full: &str) -> String {
    let safe: String = full
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-') {
                ch
            } else {
                '_'
            }
        })
        .collect();
    if safe.len() <= MAX_EXPORT_NAME {
        return safe;
    }
    let digest = crate::x509::sha256_hex(full.as_bytes());
    let keep = MAX_EXPORT_NAME - 17;
    format!(
        "{}-{}",
        safe.get(..keep).unwrap_or_default(),
        digest.get(..16).unwrap_or_default()
    )
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
                shown(cert.subject.as_deref().unwrap_or("(unparsable)")),
                shown(cert.issuer.as_deref().unwrap_or("-")),
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
            writeln!(
                self.out,
                "  {} [{:?}]: {}",
                f.id,
                f.severity,
                shown(&f.message)
            )?;
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
                text.push_str(&format!("{}: {}\n", f.id, shown(&f.message)));
                if let Some(a) = &f.advice {
                    text.push_str(&format!("  fix: {}\n", shown(a)));
                }
            }
            let urls: Vec<&String> = c
                .server_certificates
                .iter()
                .flat_map(|cert| &cert.aia_ca_issuers)
                .collect();
            for u in urls {
                text.push_str(&format!(
                    "AIA caIssuers (download the issuer here): {}\n",
                    shown(u)
                ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_names_are_safe_and_short_and_long_ones_stay_apart() {
        assert_eq!(
            file_name("10.0.0.1_443_www.example.com"),
            "10.0.0.1_443_www.example.com"
        );
        assert_eq!(file_name("::1_443_a/../b\n"), "__1_443_a_.._b_");
        let long = |c: char| format!("10.0.0.1_443_{}.example", c.to_string().repeat(300));
        let (a, b) = (file_name(&long('a')), file_name(&long('b')));
        assert_eq!(a.len(), MAX_EXPORT_NAME);
        assert_ne!(a, b);
        let c = file_name(&(long('a') + "x"));
        assert_ne!(a, c, "same first 183 bytes, other names");
    }
}
