//! keys: NSS key log text in (the `--keylog` files, and the TLS key logs of pcapng Decryption
//! Secrets Blocks); each connection's secrets out, looked up by its ClientHello random.
//!
//! The format is the one `SSLKEYLOGFILE` writes (curl, Python's `ssl`, Firefox, Chrome,
//! OpenSSL's `-keylogfile`, Go's `KeyLogWriter`): one `LABEL <client random hex> <secret hex>`
//! per line. The labels read are `CLIENT_RANDOM` (the TLS ≤ 1.2 master secret) and TLS 1.3's
//! `CLIENT_EARLY_TRAFFIC_SECRET`, `CLIENT_HANDSHAKE_TRAFFIC_SECRET`,
//! `SERVER_HANDSHAKE_TRAFFIC_SECRET`, `CLIENT_TRAFFIC_SECRET_0` and `SERVER_TRAFFIC_SECRET_0`.
//! Comment lines, blank lines, other labels (`EXPORTER_SECRET`, `RSA`, …) and lines that do
//! not parse are skipped and counted.
//!
//! Guarantees: the secrets embedded in a capture are capped ([`MAX_EMBEDDED_BYTES`]), since
//! the capture is untrusted; a key log the user names is read whole. It does not decide which
//! secret opens which record (that is `proto::crypto` and the parsers), and it keeps no key
//! material beyond the secrets as given.

pub use crate::ids::KeySource;
use rustc_hash::FxHashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Bytes of key log text taken from one capture's Decryption Secrets Blocks.
pub const MAX_EMBEDDED_BYTES: usize = 16 << 20;

/// Which secret a key log line gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// TLS ≤ 1.2 (and DTLS): the 48-byte master secret.
    ClientRandom,
    ClientEarly,
    ClientHandshake,
    ServerHandshake,
    ClientTraffic0,
    ServerTraffic0,
}

impl Label {
    pub fn parse(s: &str) -> Option<Label> {
        Some(match s {
            "CLIENT_RANDOM" => Label::ClientRandom,
            "CLIENT_EARLY_TRAFFIC_SECRET" => Label::ClientEarly,
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Label::ClientHandshake,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => Label::ServerHandshake,
            "CLIENT_TRAFFIC_SECRET_0" => Label::ClientTraffic0,
            "SERVER_TRAFFIC_SECRET_0" => Label::ServerTraffic0,
            _ => return None,
        })
    }
}

/// The secrets one ClientHello random has in the key logs.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    pub master: Option<Vec<u8>>,
    pub client_early: Option<Vec<u8>>,
    pub client_handshake: Option<Vec<u8>>,
    pub server_handshake: Option<Vec<u8>>,
    pub client_traffic0: Option<Vec<u8>>,
    pub server_traffic0: Option<Vec<u8>>,
}

impl std::fmt::Debug for Secrets {
    /// Secrets are not printed, only which ones are present.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("master", &self.master.is_some())
            .field("client_handshake", &self.client_handshake.is_some())
            .field("server_handshake", &self.server_handshake.is_some())
            .finish_non_exhaustive()
    }
}

impl Secrets {
    fn slot(&mut self, label: Label) -> &mut Option<Vec<u8>> {
        match label {
            Label::ClientRandom => &mut self.master,
            Label::ClientEarly => &mut self.client_early,
            Label::ClientHandshake => &mut self.client_handshake,
            Label::ServerHandshake => &mut self.server_handshake,
            Label::ClientTraffic0 => &mut self.client_traffic0,
            Label::ServerTraffic0 => &mut self.server_traffic0,
        }
    }

    fn merge(&mut self, other: &Secrets) {
        for label in [
            Label::ClientRandom,
            Label::ClientEarly,
            Label::ClientHandshake,
            Label::ServerHandshake,
            Label::ClientTraffic0,
            Label::ServerTraffic0,
        ] {
            if let Some(v) = other.clone().slot(label).take() {
                self.slot(label).get_or_insert(v);
            }
        }
    }
}

/// Secrets by ClientHello random.
#[derive(Debug, Default, Clone)]
pub struct KeyLog {
    map: FxHashMap<[u8; 32], Secrets>,
    /// Lines that were neither a known label nor blank or a comment.
    pub skipped_lines: u64,
}

/// One line: its label, client random and secret, or None for anything else.
fn parse_line(line: &str) -> Option<(Label, [u8; 32], Vec<u8>)> {
    let mut parts = line.split_ascii_whitespace();
    let label = Label::parse(parts.next()?)?;
    let random: [u8; 32] = hex(parts.next()?)?.try_into().ok()?;
    // Some writers end lines with a stray character (a backslash before the newline is seen
    // in real files); like Wireshark, read the hex digits the secret starts with.
    let token = parts.next()?;
    let digits = token
        .find(|c: char| !c.is_ascii_hexdigit())
        .unwrap_or(token.len());
    let secret = hex(token.get(..digits)?)?;
    // A master secret is 48 bytes; a TLS 1.3 secret is the hash's size (32 or 48).
    matches!(secret.len(), 32 | 48 | 64).then_some((label, random, secret))
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

impl KeyLog {
    /// Adds the lines of `text` (NSS key log format).
    pub fn add_text(&mut self, text: &[u8]) {
        for line in text.split(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(line);
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_line(line) {
                Some((label, random, secret)) => {
                    self.map
                        .entry(random)
                        .or_default()
                        .slot(label)
                        .get_or_insert(secret);
                }
                None => self.skipped_lines += 1,
            }
        }
    }

    /// Reads a key log file; the error names the file and what to do.
    pub fn read_file(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read(path).map_err(|e| {
            format!(
                "--keylog {}: {e}; give the file SSLKEYLOGFILE (or -keylogfile) wrote",
                path.display()
            )
        })?;
        let before = self.map.len();
        self.add_text(&text);
        if self.map.len() == before && !text.is_empty() {
            return Err(format!(
                "--keylog {}: no key log lines in it (expected lines like \
                 `CLIENT_RANDOM <64 hex> <96 hex>` or `CLIENT_HANDSHAKE_TRAFFIC_SECRET …`)",
                path.display()
            ));
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn get(&self, random: &[u8]) -> Option<&Secrets> {
        self.map.get(<&[u8; 32]>::try_from(random).ok()?)
    }
}

/// The secrets of one run: the `--keylog` files, and those a capture carries in its
/// Decryption Secrets Blocks (added while the capture is read, before its first packet).
#[derive(Debug, Default)]
pub struct KeyStore {
    given: std::sync::Arc<KeyLog>,
    embedded: Mutex<(KeyLog, usize)>,
    /// Some secret is known: read without a lock for every new flow.
    any: AtomicBool,
}

impl KeyStore {
    pub fn new(given: std::sync::Arc<KeyLog>) -> KeyStore {
        KeyStore {
            any: AtomicBool::new(!given.is_empty()),
            given,
            embedded: Mutex::default(),
        }
    }

    /// Adds the key log text of a Decryption Secrets Block; false when the cap was reached.
    pub fn add_embedded(&self, text: &[u8]) -> bool {
        let mut g = self.embedded.lock().unwrap_or_else(|p| p.into_inner());
        let (log, bytes) = &mut *g;
        if bytes.saturating_add(text.len()) > MAX_EMBEDDED_BYTES {
            return false;
        }
        *bytes += text.len();
        log.add_text(text);
        self.any
            .store(!log.is_empty() || !self.given.is_empty(), Ordering::Release);
        true
    }

    /// Whether any secret is known (so that flows look them up at all).
    pub fn has_any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// The secrets for a ClientHello random, with where they came from (the key log files
    /// first; a capture's own secrets fill what they lack).
    pub fn lookup(&self, random: &[u8]) -> Option<(Secrets, KeySource)> {
        let given = self.given.get(random);
        let g = self.embedded.lock().unwrap_or_else(|p| p.into_inner());
        match (given, g.0.get(random)) {
            (Some(a), Some(b)) => {
                let mut s = a.clone();
                s.merge(b);
                Some((s, KeySource::Keylog))
            }
            (Some(a), None) => Some((a.clone(), KeySource::Keylog)),
            (None, Some(b)) => Some((b.clone(), KeySource::Pcapng)),
            (None, None) => None,
        }
    }
}

impl crate::capture::SecretsSink for KeyStore {
    fn secrets(&self, key_log: &[u8]) {
        // Past the cap the rest is dropped: a capture cannot make the run hold more.
        let _ = self.add_embedded(key_log);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "2635fafc16c49a3e997ef714c303806dc8dbf634a2005b0e0186521c4ad6f9df";

    #[test]
    fn reads_labels_and_skips_the_rest() {
        let mut log = KeyLog::default();
        let text = format!(
            "# comment\n\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {R} {}\nEXPORTER_SECRET {R} {}\r\n\
             CLIENT_RANDOM {R} {}\\\nCLIENT_RANDOM zz 00\n",
            "11".repeat(32),
            "22".repeat(32),
            "33".repeat(48)
        );
        log.add_text(text.as_bytes());
        let s = log.get(&hex(R).unwrap()).unwrap();
        assert_eq!(s.client_handshake.as_deref(), Some(&[0x11; 32][..]));
        assert_eq!(s.master.as_deref(), Some(&[0x33; 48][..]));
        assert!(s.server_handshake.is_none());
        assert_eq!(log.skipped_lines, 2);
        assert_eq!(log.len(), 1);
    }

    #[test]
    fn store_names_the_source_and_caps_embedded_text() {
        let mut given = KeyLog::default();
        given.add_text(format!("CLIENT_RANDOM {R} {}\n", "44".repeat(48)).as_bytes());
        let store = KeyStore::new(std::sync::Arc::new(given));
        let other = "ab".repeat(32);
        assert!(store.add_embedded(
            format!(
                "SERVER_HANDSHAKE_TRAFFIC_SECRET {other} {}\n",
                "55".repeat(32)
            )
            .as_bytes()
        ));
        assert_eq!(
            store.lookup(&hex(R).unwrap()).map(|s| s.1),
            Some(KeySource::Keylog)
        );
        assert_eq!(
            store.lookup(&hex(&other).unwrap()).map(|s| s.1),
            Some(KeySource::Pcapng)
        );
        assert!(store.lookup(&[0; 32]).is_none());
        assert!(!store.add_embedded(&vec![b'#'; MAX_EMBEDDED_BYTES]));
    }
}
