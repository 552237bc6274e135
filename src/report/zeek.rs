//! zeek: connection records in; Zeek's `ssl.log` and `x509.log` out, in Zeek's TSV format
//! (`--format zeek`) or its JSON variant (`--format zeek-json`), so that pipelines that read
//! Zeek logs (SIEMs, Security Onion, zeek-cut) read ours.
//!
//! Contract:
//! - Field names, order and meanings are Zeek's (6.x base scripts, plus `ja3`/`ja3s` as the
//!   ja3 package and `ja4` as FoxIO's ja4 package log them); [`SSL_FIELDS`] and
//!   [`X509_FIELDS`] list them with their Zeek types. Three columns Zeek does not have follow
//!   in `ssl.log`: `tlsmortem_verdict` (the verdict id), `tlsmortem_by` (who most likely cut
//!   the handshake) and `tlsmortem_confidence`.
//! - TSV: Zeek's header lines (`#separator \x09`, `#set_separator ,`, `#empty_field (empty)`,
//!   `#unset_field -`, `#path`, `#open`, `#fields`, `#types`), one row per line, `#close` at
//!   the end. `#open` is the first row's time and `#close` the latest connection end seen,
//!   never the wall clock (`1970-01-01-00-00-00` for a log without rows), so the same captures
//!   give the same bytes. Strings from the wire are escaped as Zeek's ASCII writer does it:
//!   every byte outside printable ASCII and the backslash as `\xHH`, the set separator inside
//!   set elements, a value that reads as the unset mark (`-`) with its first byte escaped; an
//!   empty string or set is `(empty)`, an unset field `-`.
//! - JSON: one object per line, keys as the TSV's `#fields`, `ts` and times as epoch seconds,
//!   unset fields left out, sets as arrays (empty ones as `[]`), as Zeek's JSON writer does.
//! - `uid`: `C` and the base62 of 96 bits of SHA-256 over the flow key and the first packet's
//!   time: the same connection gets the same uid on every run (Zeek's are random).
//! - `ts` of an `x509.log` row is the connection's start (Zeek's is the moment the file
//!   analysis saw the certificate, a few packets later).
//! - `x509.log` logs a certificate once per (fingerprint, host_cert, client_cert), as Zeek 5+
//!   does; it remembers the last [`MAX_REMEMBERED_CERTS`] of them and forgets the oldest first
//!   (Zeek forgets after a day), so a long run may log a certificate again. A certificate that
//!   does not parse is neither logged nor in `cert_chain_fps`, as in Zeek.
//!
//! Streaming: each connection's rows are written as it arrives; nothing is kept but the set of
//! remembered certificates and two timestamps.
//!
//! Left out, on purpose: `ssl_history` (Zeek's letter per handshake message in order; the
//! record does not keep the order of every message, and a history that is only mostly right
//! would mislead), `ja4s` (not computed), `subject`/`issuer` of the old ssl.log (moved to
//! x509.log by Zeek itself), and Zeek's other logs (conn.log, files.log).

use super::Reporter;
use crate::ids::{FindingId, Side, VerdictId};
use crate::record::Connection;
use crate::x509::chain::dns_name_matches;
use crate::x509::printed::Printed;
use crate::x509::CertInfo;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

/// How many (fingerprint, host_cert, client_cert) keys `x509.log` remembers as logged.
pub const MAX_REMEMBERED_CERTS: usize = 65_536;

/// `ssl.log`'s fields and their Zeek types, in order.
pub const SSL_FIELDS: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("version", "string"),
    ("cipher", "string"),
    ("curve", "string"),
    ("server_name", "string"),
    ("resumed", "bool"),
    ("last_alert", "string"),
    ("next_protocol", "string"),
    ("established", "bool"),
    ("cert_chain_fps", "vector[string]"),
    ("client_cert_chain_fps", "vector[string]"),
    ("sni_matches_cert", "bool"),
    ("validation_status", "string"),
    ("ja3", "string"),
    ("ja3s", "string"),
    ("ja4", "string"),
    ("tlsmortem_verdict", "string"),
    ("tlsmortem_by", "string"),
    ("tlsmortem_confidence", "double"),
];

/// `x509.log`'s fields and their Zeek types, in order.
pub const X509_FIELDS: &[(&str, &str)] = &[
    ("ts", "time"),
    ("fingerprint", "string"),
    ("certificate.version", "count"),
    ("certificate.serial", "string"),
    ("certificate.subject", "string"),
    ("certificate.issuer", "string"),
    ("certificate.not_valid_before", "time"),
    ("certificate.not_valid_after", "time"),
    ("certificate.key_alg", "string"),
    ("certificate.sig_alg", "string"),
    ("certificate.key_type", "string"),
    ("certificate.key_length", "count"),
    ("certificate.exponent", "string"),
    ("certificate.curve", "string"),
    ("san.dns", "vector[string]"),
    ("san.uri", "vector[string]"),
    ("san.email", "vector[string]"),
    ("san.ip", "vector[addr]"),
    ("basic_constraints.ca", "bool"),
    ("basic_constraints.path_len", "count"),
    ("host_cert", "bool"),
    ("client_cert", "bool"),
];

/// Which of Zeek's two log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeekStyle {
    /// Tab-separated values with Zeek's header lines.
    Tsv,
    /// One JSON object per line (`LogAscii::use_json`).
    Json,
}

/// One field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Unset,
    Str(Cow<'a, str>),
    Count(u64),
    Port(u16),
    Addr(IpAddr),
    /// Nanoseconds since the Unix epoch.
    Time(i64),
    Bool(bool),
    Double(f64),
    Strs(Vec<Cow<'a, str>>),
    Addrs(Vec<IpAddr>),
}

fn opt_str<'a>(s: Option<impl Into<Cow<'a, str>>>) -> Value<'a> {
    s.map_or(Value::Unset, |s| Value::Str(s.into()))
}

/// One log file being written.
struct Log<W: Write> {
    out: W,
    path: &'static str,
    fields: &'static [(&'static str, &'static str)],
    /// The header is written with the first row (its `#open` is that row's time).
    started: bool,
    line: Vec<u8>,
}

impl<W: Write> Log<W> {
    fn new(out: W, path: &'static str, fields: &'static [(&'static str, &'static str)]) -> Self {
        Log {
            out,
            path,
            fields,
            started: false,
            line: Vec::with_capacity(1024),
        }
    }

    fn header(&mut self, open_ns: i64) -> io::Result<()> {
        let mut h = String::new();
        h.push_str("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n");
        h.push_str(&format!(
            "#path\t{}\n#open\t{}\n#fields",
            self.path,
            header_time(open_ns)
        ));
        for (name, _) in self.fields {
            h.push('\t');
            h.push_str(name);
        }
        h.push_str("\n#types");
        for (_, ty) in self.fields {
            h.push('\t');
            h.push_str(ty);
        }
        h.push('\n');
        self.out.write_all(h.as_bytes())
    }

    fn row(&mut self, style: ZeekStyle, values: &[Value<'_>]) -> io::Result<()> {
        if !self.started && style == ZeekStyle::Tsv {
            let open = values
                .first()
                .and_then(|v| match v {
                    Value::Time(ns) => Some(*ns),
                    _ => None,
                })
                .unwrap_or(0);
            self.header(open)?;
        }
        self.started = true;
        self.line.clear();
        match style {
            ZeekStyle::Tsv => tsv_row(&mut self.line, values),
            ZeekStyle::Json => json_row(&mut self.line, self.fields, values),
        }
        self.line.push(b'\n');
        self.out.write_all(&self.line)
    }

    fn finish(&mut self, style: ZeekStyle, close_ns: i64) -> io::Result<()> {
        if style == ZeekStyle::Tsv {
            if !self.started {
                self.header(0)?;
                self.started = true;
            }
            writeln!(self.out, "#close\t{}", header_time(close_ns))?;
        }
        self.out.flush()
    }
}

/// Zeek's `ssl.log` and `x509.log`, written as connections arrive.
pub struct Zeek<W: Write> {
    style: ZeekStyle,
    ssl: Log<W>,
    x509: Log<W>,
    remembered: HashSet<(String, bool, bool)>,
    order: VecDeque<(String, bool, bool)>,
    /// The latest connection end seen, for `#close`.
    close_ns: i64,
}

impl Zeek<io::BufWriter<std::fs::File>> {
    /// Creates `dir` (and its parents) if missing, and `ssl.log` and `x509.log` in it.
    pub fn create(dir: &Path, style: ZeekStyle) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "-o {}: cannot create the folder: {e} (give a folder you can write to)",
                dir.display()
            )
        })?;
        let open = |name: &str| {
            let path = dir.join(name);
            std::fs::File::create(&path)
                .map(|f| io::BufWriter::with_capacity(256 * 1024, f))
                .map_err(|e| {
                    format!(
                        "-o {}: cannot create {}: {e} (give a folder you can write to)",
                        dir.display(),
                        path.display()
                    )
                })
        };
        Ok(Zeek::new(style, open("ssl.log")?, open("x509.log")?))
    }
}

impl<W: Write> Zeek<W> {
    /// Writes `ssl.log` to `ssl` and `x509.log` to `x509`.
    pub fn new(style: ZeekStyle, ssl: W, x509: W) -> Self {
        Zeek {
            style,
            ssl: Log::new(ssl, "ssl", SSL_FIELDS),
            x509: Log::new(x509, "x509", X509_FIELDS),
            remembered: HashSet::new(),
            order: VecDeque::new(),
            close_ns: 0,
        }
    }

    /// The writers of `ssl.log` and `x509.log`.
    pub fn writers(&self) -> (&W, &W) {
        (&self.ssl.out, &self.x509.out)
    }

    /// Whether this certificate key is new; remembers it, forgetting the oldest past the cap.
    fn first_time(&mut self, key: (String, bool, bool)) -> bool {
        if self.remembered.contains(&key) {
            return false;
        }
        if self.order.len() >= MAX_REMEMBERED_CERTS {
            if let Some(old) = self.order.pop_front() {
                self.remembered.remove(&old);
            }
        }
        self.remembered.insert(key.clone());
        self.order.push_back(key);
        true
    }
}

// `needs` is the default, the records whole: the certificates' DER is read for x509.log.
impl<W: Write> Reporter for Zeek<W> {
    fn connection(&mut self, c: &Connection) -> io::Result<()> {
        self.close_ns = self.close_ns.max(c.span_ns.1);
        let ts = c.span_ns.0;
        self.ssl.row(self.style, &ssl_row(c))?;
        for (client, certs) in [
            (false, &c.server_certificates),
            (true, &c.client_certificates),
        ] {
            for (i, ci) in certs.iter().enumerate() {
                let host = i == 0;
                // Parsed only the first time: most certificates repeat.
                if !parses(ci) || !self.first_time((ci.sha256.clone(), host, client)) {
                    continue;
                }
                let Some(p) = Printed::from_der(&ci.der) else {
                    continue;
                };
                self.x509
                    .row(self.style, &x509_row(ts, ci, &p, host, client))?;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.ssl.finish(self.style, self.close_ns)?;
        self.x509.finish(self.style, self.close_ns)
    }
}

/// A connection's `ssl.log` row, in [`SSL_FIELDS`] order.
pub fn ssl_row<'a>(c: &'a Connection) -> Vec<Value<'a>> {
    let sh = c.server_hello.as_ref();
    let ch = c.client_hello.as_ref();
    // Zeek's fields follow the last ServerHello it saw: after a HelloRetryRequest, the real
    // one (a DTLS 1.3 HelloRetryRequest may carry no key_share at all).
    let last = c
        .more_server_hellos
        .iter()
        .rev()
        .find(|h| !h.hello_retry_request)
        .or(sh);
    let version = last.map(|s| zeek_version(s.version));
    let cipher = last.map(|s| {
        s.cipher_suite_name.map_or_else(
            || Cow::Owned(format!("unknown-{}", s.cipher_suite)),
            Cow::Borrowed,
        )
    });
    // TLS 1.3 names its group in the ServerHello's key_share, TLS 1.2 in ServerKeyExchange.
    let group = last
        .and_then(|s| s.key_share_group)
        .or(sh.and_then(|s| s.key_share_group))
        .or(c.key_exchange_group);
    let sni = ch.and_then(|h| h.sni.as_deref());
    let resumed = c.findings.iter().any(|f| f.id == FindingId::Resumed);
    let last_alert = c.alerts.iter().rev().find_map(|a| a.description).map(|d| {
        crate::proto::codepoints::alert_name(d)
            .map_or_else(|| Cow::Owned(format!("unknown-{d}")), Cow::Borrowed)
    });
    let next_protocol = sh
        .and_then(|s| s.alpn.as_deref())
        .or_else(|| c.decrypted.as_ref().and_then(|d| d.alpn.as_deref()));
    let fps = |certs: &'a [Arc<CertInfo>]| -> Vec<Cow<'a, str>> {
        certs
            .iter()
            .filter(|ci| parses(ci))
            .map(|ci| Cow::Borrowed(ci.sha256.as_str()))
            .collect()
    };
    // Zeek sets both chains' fingerprints once it has seen a certificate, and neither before.
    let (chain, client_chain) =
        if c.server_certificates.is_empty() && c.client_certificates.is_empty() {
            (Value::Unset, Value::Unset)
        } else {
            (
                Value::Strs(fps(&c.server_certificates)),
                Value::Strs(fps(&c.client_certificates)),
            )
        };
    // The leaf's SAN dNSNames, or its subject CNs without them (RFC 6125 §6.4.4).
    let sni_matches = match (sni, c.server_certificates.first()) {
        (Some(host), Some(leaf)) if !host.is_empty() => {
            let names = if leaf.san_dns.is_empty() {
                Printed::from_der(&leaf.der)
                    .map(|p| common_names(&p.subject))
                    .unwrap_or_default()
            } else {
                leaf.san_dns.clone()
            };
            Value::Bool(names.iter().any(|n| dns_name_matches(n, host)))
        }
        _ => Value::Unset,
    };
    let validation = if c.server_certificates.is_empty() {
        Value::Unset
    } else {
        Value::Str(Cow::Borrowed(validation_status(c)))
    };
    vec![
        Value::Time(c.span_ns.0),
        Value::Str(Cow::Owned(uid(c))),
        Value::Addr(c.client.ip),
        Value::Port(c.client.port),
        Value::Addr(c.server.ip),
        Value::Port(c.server.port),
        opt_str(version),
        opt_str(cipher),
        opt_str(group.map(curve_name)),
        opt_str(sni),
        Value::Bool(resumed),
        opt_str(last_alert),
        opt_str(next_protocol),
        Value::Bool(c.verdict.id == VerdictId::Complete),
        chain,
        client_chain,
        sni_matches,
        validation,
        opt_str(ch.and_then(|h| h.ja3.as_deref())),
        opt_str(sh.and_then(|s| s.ja3s.as_deref())),
        opt_str(ch.map(|h| h.ja4.as_str()).filter(|s| !s.is_empty())),
        Value::Str(Cow::Borrowed(c.verdict.id.as_str())),
        opt_str(c.verdict.by.map(|b| b.as_str())),
        c.verdict.confidence.map_or(Value::Unset, Value::Double),
    ]
}

/// One certificate's `x509.log` row, in [`X509_FIELDS`] order.
pub fn x509_row<'a>(
    ts: i64,
    ci: &'a CertInfo,
    p: &'a Printed,
    host: bool,
    client: bool,
) -> Vec<Value<'a>> {
    let strs = |v: &'a [String]| {
        if v.is_empty() {
            Value::Unset
        } else {
            Value::Strs(v.iter().map(|s| Cow::Borrowed(s.as_str())).collect())
        }
    };
    vec![
        Value::Time(ts),
        Value::Str(Cow::Borrowed(&ci.sha256)),
        Value::Count(u64::from(p.version)),
        Value::Str(Cow::Borrowed(&p.serial)),
        Value::Str(Cow::Borrowed(&p.subject)),
        Value::Str(Cow::Borrowed(&p.issuer)),
        Value::Time(p.not_before.saturating_mul(1_000_000_000)),
        Value::Time(p.not_after.saturating_mul(1_000_000_000)),
        Value::Str(Cow::Borrowed(&p.key_alg)),
        Value::Str(Cow::Borrowed(&p.sig_alg)),
        opt_str(p.key_type),
        p.key_length
            .map_or(Value::Unset, |n| Value::Count(u64::from(n))),
        opt_str(p.exponent.as_deref()),
        opt_str(p.curve.as_deref()),
        strs(&p.san_dns),
        strs(&p.san_uri),
        strs(&p.san_email),
        if p.san_ip.is_empty() {
            Value::Unset
        } else {
            Value::Addrs(p.san_ip.clone())
        },
        p.basic_constraints
            .map_or(Value::Unset, |(ca, _)| Value::Bool(ca)),
        p.basic_constraints
            .and_then(|(_, len)| len)
            .map_or(Value::Unset, |n| Value::Count(u64::from(n))),
        Value::Bool(host),
        Value::Bool(client),
    ]
}

/// Whether the certificate parsed (x509 sets its subject then): Zeek logs only those.
fn parses(ci: &CertInfo) -> bool {
    ci.subject.is_some()
}

/// The CN values of an RFC 2253 name as [`Printed`] writes it (escaped commas kept).
fn common_names(rfc2253: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut part = String::new();
    let mut chars = rfc2253.chars();
    let mut flush = |part: &mut String| {
        if let Some(v) = part.strip_prefix("CN=") {
            out.push(v.to_string());
        }
        part.clear();
    };
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                if let Some(n) = chars.next() {
                    part.push(n);
                }
            }
            ',' | '+' => flush(&mut part),
            _ => part.push(ch),
        }
    }
    flush(&mut part);
    out
}

/// The version as Zeek's `SSL::version_strings` names it.
pub fn zeek_version(v: u16) -> Cow<'static, str> {
    Cow::Borrowed(match v {
        0x0002 => "SSLv2",
        0x0300 => "SSLv3",
        0x0301 => "TLSv10",
        0x0302 => "TLSv11",
        0x0303 => "TLSv12",
        0x0304 => "TLSv13",
        0xfeff => "DTLSv10",
        0xfefd => "DTLSv12",
        0xfefc => "DTLSv13",
        v if v >> 8 == 0x7f => return Cow::Owned(format!("TLSv13-draft{}", v & 0xff)),
        v => return Cow::Owned(format!("unknown-{v}")),
    })
}

/// A named group as Zeek's `SSL::ec_curves` names it.
pub fn curve_name(g: u16) -> Cow<'static, str> {
    Cow::Borrowed(match g {
        1 => "sect163k1",
        2 => "sect163r1",
        3 => "sect163r2",
        4 => "sect193r1",
        5 => "sect193r2",
        6 => "sect233k1",
        7 => "sect233r1",
        8 => "sect239k1",
        9 => "sect283k1",
        10 => "sect283r1",
        11 => "sect409k1",
        12 => "sect409r1",
        13 => "sect571k1",
        14 => "sect571r1",
        15 => "secp160k1",
        16 => "secp160r1",
        17 => "secp160r2",
        18 => "secp192k1",
        19 => "secp192r1",
        20 => "secp224k1",
        21 => "secp224r1",
        22 => "secp256k1",
        23 => "secp256r1",
        24 => "secp384r1",
        25 => "secp521r1",
        26 => "brainpoolP256r1",
        27 => "brainpoolP384r1",
        28 => "brainpoolP512r1",
        29 => "x25519",
        30 => "x448",
        31 => "brainpoolP256r1tls13",
        32 => "brainpoolP384r1tls13",
        33 => "brainpoolP512r1tls13",
        256 => "ffdhe2048",
        257 => "ffdhe3072",
        258 => "ffdhe4096",
        259 => "ffdhe6144",
        260 => "ffdhe8192",
        0x11eb => "SecP256r1MLKEM768",
        0x11ec => "X25519MLKEM768",
        0x11ed => "SecP384r1MLKEM1024",
        0x6399 => "X25519Kyber768Draft00",
        0xff01 => "arbitrary_explicit_prime_curves",
        0xff02 => "arbitrary_explicit_char2_curves",
        g => return Cow::Owned(format!("unknown-{g}")),
    })
}

/// Zeek's `validation_status` (OpenSSL's `X509_verify_cert_error_string` of the first error
/// verification meets) from the server chain's findings at capture time: issuer problems
/// first (OpenSSL builds the chain before it checks anything), then signatures, then
/// validity. Findings OpenSSL does not make (hostname, weak signatures, OCSP, lifetimes) leave
/// it "ok". Spelled as OpenSSL 3, which Zeek 6 links.
pub fn validation_status(c: &Connection) -> &'static str {
    let has = |id: FindingId| {
        c.findings
            .iter()
            .any(|f| f.id == id && f.side != Some(Side::Client) && f.when.is_none())
    };
    if has(FindingId::UnknownIssuer)
        || has(FindingId::IncompleteChain)
        || has(FindingId::WrongIntermediate)
    {
        "unable to get local issuer certificate"
    } else if has(FindingId::SelfSigned) {
        if c.server_certificates.len() == 1 {
            "self-signed certificate"
        } else {
            "self-signed certificate in certificate chain"
        }
    } else if has(FindingId::UnknownRoot) {
        "self-signed certificate in certificate chain"
    } else if has(FindingId::BadSignature) {
        "certificate signature failure"
    } else if has(FindingId::NotYetValid) {
        "certificate is not yet valid"
    } else if has(FindingId::Expired) {
        "certificate has expired"
    } else {
        "ok"
    }
}

/// `C` and the base62 of 96 bits of SHA-256 over the flow key and its first packet's time.
pub fn uid(c: &Connection) -> String {
    let mut h = Sha256::new();
    h.update(c.transport.as_str().as_bytes());
    for (ip, port) in [(c.client.ip, c.client.port), (c.server.ip, c.server.port)] {
        match ip {
            IpAddr::V4(a) => h.update(a.octets()),
            IpAddr::V6(a) => h.update(a.octets()),
        }
        h.update(port.to_be_bytes());
    }
    h.update(c.span_ns.0.to_be_bytes());
    let digest = h.finalize();
    let mut n = digest
        .iter()
        .take(12)
        .fold(0u128, |n, &b| (n << 8) | u128::from(b));
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut s = Vec::with_capacity(18);
    while n > 0 {
        s.push(DIGITS.get((n % 62) as usize).copied().unwrap_or(b'0'));
        n /= 62;
    }
    s.push(b'C');
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// `#open`/`#close` time: `%Y-%m-%d-%H-%M-%S`, UTC.
fn header_time(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let t =
        time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}-{:02}-{:02}-{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Epoch seconds with six decimals, as Zeek writes times.
fn push_time(out: &mut Vec<u8>, ns: i64) {
    let abs = i128::from(ns).abs();
    let (secs, micros) = (abs / 1_000_000_000, abs % 1_000_000_000 / 1000);
    let sign = if ns < 0 { "-" } else { "" };
    let _ = write!(out, "{sign}{secs}.{micros:06}");
}

/// A double as Zeek writes it: at most six decimals, trailing zeros dropped, one kept.
fn push_double(out: &mut Vec<u8>, d: f64) {
    if !d.is_finite() {
        out.extend_from_slice(if d.is_nan() {
            b"nan"
        } else if d > 0.0 {
            b"inf"
        } else {
            b"-inf"
        });
        return;
    }
    let s = format!("{d:.6}");
    let t = s.trim_end_matches('0');
    out.extend_from_slice(t.as_bytes());
    if t.ends_with('.') {
        out.push(b'0');
    }
}

/// Appends `s` escaped as Zeek's ASCII writer escapes a string: bytes outside printable ASCII
/// and the backslash as `\xHH`, and inside a set element the set separator too. An empty string
/// is written `(empty)`, one that reads as the unset mark `-` has its first byte escaped.
pub fn push_tsv_str(out: &mut Vec<u8>, s: &str, in_set: bool) {
    if s.is_empty() {
        out.extend_from_slice(b"(empty)");
        return;
    }
    let bytes = s.as_bytes();
    let mut rest = bytes;
    if s == "-" {
        out.extend_from_slice(b"\\x2d");
        rest = &[];
    }
    for &b in rest {
        if (0x20..0x7f).contains(&b) && b != b'\\' && !(in_set && b == b',') {
            out.push(b);
        } else {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
}

/// One TSV row, without its newline.
pub fn tsv_row(out: &mut Vec<u8>, values: &[Value<'_>]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match v {
            Value::Unset => out.push(b'-'),
            Value::Str(s) => push_tsv_str(out, s, false),
            Value::Count(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Port(p) => {
                let _ = write!(out, "{p}");
            }
            Value::Addr(a) => {
                let _ = write!(out, "{a}");
            }
            Value::Time(ns) => push_time(out, *ns),
            Value::Bool(b) => out.push(if *b { b'T' } else { b'F' }),
            Value::Double(d) => push_double(out, *d),
            Value::Strs(v) if v.is_empty() => out.extend_from_slice(b"(empty)"),
            Value::Strs(v) => {
                for (j, s) in v.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    push_tsv_str(out, s, true);
                }
            }
            Value::Addrs(v) if v.is_empty() => out.extend_from_slice(b"(empty)"),
            Value::Addrs(v) => {
                for (j, a) in v.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    let _ = write!(out, "{a}");
                }
            }
        }
    }
}

fn push_json_str(out: &mut Vec<u8>, s: &str) {
    if serde_json::to_writer(&mut *out, s).is_err() {
        out.extend_from_slice(b"\"\"");
    }
}

/// One JSON object, without its newline; unset fields left out.
pub fn json_row(out: &mut Vec<u8>, fields: &[(&str, &str)], values: &[Value<'_>]) {
    out.push(b'{');
    let mut first = true;
    for ((name, _), v) in fields.iter().zip(values) {
        if *v == Value::Unset {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        push_json_str(out, name);
        out.push(b':');
        match v {
            Value::Unset => {}
            Value::Str(s) => push_json_str(out, s),
            Value::Count(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Port(p) => {
                let _ = write!(out, "{p}");
            }
            Value::Addr(a) => push_json_str(out, &a.to_string()),
            Value::Time(ns) => push_time(out, *ns),
            Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Double(d) if d.is_finite() => push_double(out, *d),
            Value::Double(_) => out.extend_from_slice(b"null"),
            Value::Strs(v) => {
                out.push(b'[');
                for (j, s) in v.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    push_json_str(out, s);
                }
                out.push(b']');
            }
            Value::Addrs(v) => {
                out.push(b'[');
                for (j, a) in v.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    push_json_str(out, &a.to_string());
                }
                out.push(b']');
            }
        }
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tsv(s: &str, in_set: bool) -> String {
        let mut out = Vec::new();
        push_tsv_str(&mut out, s, in_set);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn wire_strings_are_escaped_as_zeek_escapes_them() {
        assert_eq!(tsv("www.example.com", false), "www.example.com");
        assert_eq!(tsv("a\tb", false), "a\\x09b");
        assert_eq!(tsv("a\\b", false), "a\\x5cb");
        assert_eq!(tsv("a\nb\u{7f}", false), "a\\x0ab\\x7f");
        assert_eq!(tsv("é", false), "\\xc3\\xa9");
        assert_eq!(tsv("a,b", false), "a,b");
        assert_eq!(tsv("a,b", true), "a\\x2cb");
        assert_eq!(tsv("-", false), "\\x2d");
        assert_eq!(tsv("-x", false), "-x");
        assert_eq!(tsv("", false), "(empty)");
    }

    #[test]
    fn rows_write_unset_empty_sets_times_and_doubles_as_zeek_does() {
        let mut out = Vec::new();
        tsv_row(
            &mut out,
            &[
                Value::Time(1_357_328_848_512_314_000),
                Value::Unset,
                Value::Strs(Vec::new()),
                Value::Strs(vec!["a".into(), "b,c".into()]),
                Value::Bool(true),
                Value::Double(0.9),
                Value::Double(1.0),
                Value::Time(-1),
            ],
        );
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            "1357328848.512314\t-\t(empty)\ta,b\\x2cc\tT\t0.9\t1.0\t-0.000000"
        );
    }

    #[test]
    fn json_rows_leave_unset_fields_out() {
        let mut out = Vec::new();
        json_row(
            &mut out,
            &[
                ("ts", "time"),
                ("a", "string"),
                ("b", "vector[string]"),
                ("id.orig_p", "port"),
            ],
            &[
                Value::Time(1_500_000_000_000_000_000),
                Value::Unset,
                Value::Strs(Vec::new()),
                Value::Port(443),
            ],
        );
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            r#"{"ts":1500000000.000000,"b":[],"id.orig_p":443}"#
        );
    }

    #[test]
    fn headers_are_zeeks_and_close_is_written_without_rows() {
        let mut z = Zeek::new(ZeekStyle::Tsv, Vec::new(), Vec::new());
        assert!(z.finish().is_ok());
        let (ssl, x509) = z.writers();
        let ssl = String::from_utf8(ssl.clone()).unwrap_or_default();
        let lines: Vec<&str> = ssl.lines().collect();
        assert_eq!(
            lines.get(..6).unwrap_or_default(),
            [
                "#separator \\x09",
                "#set_separator\t,",
                "#empty_field\t(empty)",
                "#unset_field\t-",
                "#path\tssl",
                "#open\t1970-01-01-00-00-00",
            ]
        );
        assert!(lines
            .get(6)
            .is_some_and(|l| l.starts_with("#fields\tts\tuid\tid.orig_h")));
        assert!(lines
            .get(7)
            .is_some_and(|l| l.starts_with("#types\ttime\tstring\taddr")));
        assert_eq!(lines.get(8), Some(&"#close\t1970-01-01-00-00-00"));
        assert!(String::from_utf8_lossy(x509).contains("#path\tx509\n"));
        assert_eq!(
            header_time(1_357_328_848_512_314_000),
            "2013-01-04-19-47-28"
        );
    }

    #[test]
    fn names_and_versions_are_zeeks() {
        assert_eq!(zeek_version(0x0303), "TLSv12");
        assert_eq!(zeek_version(0xfeff), "DTLSv10");
        assert_eq!(zeek_version(0x7f0e), "TLSv13-draft14");
        assert_eq!(zeek_version(0x1234), "unknown-4660");
        assert_eq!(curve_name(23), "secp256r1");
        assert_eq!(curve_name(0x11ec), "X25519MLKEM768");
        assert_eq!(curve_name(0x0a0a), "unknown-2570");
        assert_eq!(common_names("CN=a\\,b,O=x+CN=c"), vec!["a,b", "c"]);
    }
}
