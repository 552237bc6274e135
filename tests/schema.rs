//! The JSON contract (README, "JSON contract"), pinned: every line `--json --summary --all-flows`
//! writes for every capture in `captures/` and in `../shared/corpus` is deserialized into mirrors
//! that deny unknown keys and require every key the contract always emits. Keys the code leaves
//! out when empty (`ja3?`, `by?`, a finding's `frames?`, …) are `#[serde(default)]`; keys whose
//! value may be `null` must still be present (`nullable`). Then a few invariants per line: the
//! transport, `start <= end`, verdict and finding ids from the README's lists, severities, and
//! certificate hashes.
//!
//! Adding a key to the output without documenting it here and in the README fails this test;
//! so does a new verdict or finding id.

// The mirrors exist to be deserialized; most of their fields are never read.
#![allow(dead_code)]

mod common;

use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use common::fixtures::root;
use common::run::{run, tlsmortem};

// ---------------------------------------------------------------------------------------------
// Field helpers
// ---------------------------------------------------------------------------------------------

/// A key that is always emitted but may be `null`. With `deserialize_with`, serde reports a
/// missing key as an error instead of quietly reading it as `None`.
fn nullable<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d)
}

/// A key the code leaves out when it has nothing to say (`skip_serializing_if = "Option::is_none"`):
/// absent is fine (with `#[serde(default)]`), `null` is not.
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

// ---------------------------------------------------------------------------------------------
// Connection mirrors
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Connection {
    capture: String,
    transport: String,
    /// Left out for plain traffic; else the tunnel layers, outermost first.
    #[serde(default)]
    encapsulation: Vec<String>,
    client: Endpoint,
    server: Endpoint,
    start: String,
    end: String,
    first_frame: u64,
    #[serde(deserialize_with = "nullable")]
    client_hello: Option<ClientHello>,
    #[serde(deserialize_with = "nullable")]
    server_hello: Option<ServerHello>,
    more_client_hellos: Vec<ClientHello>,
    more_server_hellos: Vec<ServerHello>,
    server_certificates: Vec<Certificate>,
    client_certificates: Vec<Certificate>,
    alerts: Vec<Alert>,
    #[serde(deserialize_with = "nullable")]
    keys: Option<String>,
    #[serde(default, deserialize_with = "present")]
    decrypted: Option<Decrypted>,
    #[serde(deserialize_with = "nullable")]
    key_exchange_group: Option<u16>,
    #[serde(deserialize_with = "nullable")]
    quic: Option<Quic>,
    #[serde(deserialize_with = "nullable")]
    starttls: Option<Starttls>,
    tcp: Tcp,
    verdict: Verdict,
    findings: Vec<Finding>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Endpoint {
    ip: IpAddr,
    port: u16,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientHello {
    frame: u64,
    #[serde(deserialize_with = "nullable")]
    sni: Option<String>,
    alpn: Vec<String>,
    legacy_version: u16,
    cipher_suites: Vec<u16>,
    supported_versions: Vec<u16>,
    extensions: Vec<u16>,
    supported_groups: Vec<u16>,
    ec_point_formats: Vec<u8>,
    signature_algorithms: Vec<u16>,
    key_share_groups: Vec<u16>,
    compression_methods: Vec<u8>,
    session_id_length: usize,
    psk: bool,
    early_data: bool,
    ech: bool,
    sslv2: bool,
    /// Only for SSLv2-format hellos (left out when empty).
    #[serde(default)]
    sslv2_cipher_specs: Vec<u32>,
    #[serde(default, deserialize_with = "present")]
    ja3: Option<String>,
    #[serde(default, deserialize_with = "present")]
    ja3_full: Option<String>,
    ja4: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerHello {
    frame: u64,
    version: u16,
    version_name: String,
    legacy_version: u16,
    cipher_suite: u16,
    #[serde(deserialize_with = "nullable")]
    cipher_suite_name: Option<String>,
    #[serde(deserialize_with = "nullable")]
    alpn: Option<String>,
    extensions: Vec<u16>,
    #[serde(deserialize_with = "nullable")]
    key_share_group: Option<u16>,
    compression_method: u8,
    session_id_length: usize,
    hello_retry_request: bool,
    #[serde(default, deserialize_with = "present")]
    ja3s: Option<String>,
    #[serde(default, deserialize_with = "present")]
    ja3s_full: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Certificate {
    sha256: String,
    #[serde(deserialize_with = "nullable")]
    subject: Option<String>,
    #[serde(deserialize_with = "nullable")]
    issuer: Option<String>,
    #[serde(deserialize_with = "nullable")]
    serial: Option<String>,
    #[serde(deserialize_with = "nullable")]
    not_before: Option<String>,
    #[serde(deserialize_with = "nullable")]
    not_after: Option<String>,
    san_dns: Vec<String>,
    size: usize,
    #[serde(deserialize_with = "nullable")]
    key_type: Option<String>,
    #[serde(deserialize_with = "nullable")]
    key_bits: Option<u32>,
    #[serde(deserialize_with = "nullable")]
    signature_algorithm: Option<String>,
    aia_ca_issuers: Vec<String>,
    ocsp_urls: Vec<String>,
    #[serde(default, deserialize_with = "present")]
    parse_error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Alert {
    frame: u64,
    from: String,
    #[serde(deserialize_with = "nullable")]
    level: Option<u8>,
    #[serde(deserialize_with = "nullable")]
    description: Option<u8>,
    #[serde(deserialize_with = "nullable")]
    description_name: Option<String>,
    encrypted: bool,
    #[serde(default)]
    decrypted: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // the keys are the contract; their values are checked where it matters
struct Decrypted {
    #[serde(deserialize_with = "nullable")]
    encrypted_extensions: Option<Vec<u16>>,
    #[serde(deserialize_with = "nullable")]
    alpn: Option<String>,
    server_name_acknowledged: bool,
    early_data_accepted: bool,
    #[serde(deserialize_with = "nullable")]
    server_signature_scheme: Option<u16>,
    #[serde(deserialize_with = "nullable")]
    client_signature_scheme: Option<u16>,
    client_finished: bool,
    server_finished: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Quic {
    #[serde(deserialize_with = "nullable")]
    version: Option<u32>,
    dcid: String,
    client_scid: String,
    server_scid: String,
    retry: bool,
    #[serde(deserialize_with = "nullable")]
    version_negotiation: Option<Vec<u32>>,
    other_connection_packets: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Starttls {
    protocol: String,
    #[serde(deserialize_with = "nullable")]
    command_frame: Option<u64>,
    #[serde(deserialize_with = "nullable")]
    accepted_frame: Option<u64>,
    #[serde(deserialize_with = "nullable")]
    refused: Option<String>,
    tls_followed: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tcp {
    syn: bool,
    syn_ack: bool,
    #[serde(deserialize_with = "nullable")]
    rtt_ms: Option<f64>,
    #[serde(deserialize_with = "nullable")]
    syn_to_syn_ack_ms: Option<f64>,
    #[serde(deserialize_with = "nullable")]
    syn_ack_to_ack_ms: Option<f64>,
    #[serde(deserialize_with = "nullable")]
    client_syn: Option<TcpPacket>,
    #[serde(deserialize_with = "nullable")]
    server_syn_ack: Option<TcpPacket>,
    resets: Vec<TcpPacket>,
    fins: Vec<TcpPacket>,
    client_packets: u64,
    server_packets: u64,
    client_bytes: u64,
    server_bytes: u64,
    missing_bytes: u64,
    retransmissions: u64,
    out_of_order: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TcpPacket {
    frame: u64,
    time: String,
    from: String,
    flags: String,
    seq: u32,
    ack: u32,
    window: u16,
    ttl: u8,
    #[serde(deserialize_with = "nullable")]
    ip_id: Option<u16>,
    #[serde(deserialize_with = "nullable")]
    tsval: Option<u32>,
    #[serde(deserialize_with = "nullable")]
    tsecr: Option<u32>,
    payload_len: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Verdict {
    id: String,
    #[serde(default, deserialize_with = "present")]
    by: Option<String>,
    #[serde(default, deserialize_with = "present")]
    confidence: Option<f64>,
    summary: String,
    #[serde(default)]
    frames: Vec<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Finding {
    id: String,
    severity: String,
    message: String,
    #[serde(default)]
    frames: Vec<u64>,
    #[serde(default)]
    evidence: Vec<String>,
    #[serde(default, deserialize_with = "present")]
    advice: Option<String>,
    #[serde(default, deserialize_with = "present")]
    side: Option<String>,
    #[serde(default, deserialize_with = "present")]
    when: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Summary record mirrors (`--json --summary`, `report::Aggregates::json_records`)
// ---------------------------------------------------------------------------------------------

/// `cut`: handshakes cut by a RST or FIN after the ClientHello, by `verdict.by`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CutBy {
    middlebox: u64,
    server: u64,
    client: u64,
    unknown: u64,
}

/// The counts every summary record and every `working_sni` / `blocked_sni` entry carries.
#[derive(Debug)]
struct Counts<'a> {
    handshakes: u64,
    complete: u64,
    cut: &'a CutBy,
    alert: u64,
    failed: &'a BTreeMap<String, u64>,
    complete_rate: f64,
}

/// A mirror struct with the counts' keys after its own (`#[serde(flatten)]` does not work with
/// `deny_unknown_fields`).
macro_rules! counted {
    ($name:ident { $($(#[$meta:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct $name {
            $($(#[$meta])* $field: $ty,)*
            handshakes: u64,
            complete: u64,
            cut: CutBy,
            alert: u64,
            failed: BTreeMap<String, u64>,
            complete_rate: f64,
        }

        impl $name {
            fn counts(&self) -> Counts<'_> {
                Counts {
                    handshakes: self.handshakes,
                    complete: self.complete,
                    cut: &self.cut,
                    alert: self.alert,
                    failed: &self.failed,
                    complete_rate: self.complete_rate,
                }
            }
        }
    };
}

counted!(SniRecord {
    summary: String,
    /// `null`: the handshakes without an SNI.
    #[serde(deserialize_with = "nullable")]
    sni: Option<String>,
});

counted!(ServerRecord {
    summary: String,
    server: Endpoint,
});

// The "other" bucket of `sni` or `server` records, past the tracking caps.
counted!(UntrackedRecord {
    summary: String,
    untracked: bool,
});

counted!(SniTally { sni: String });

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SniFilteringRecord {
    summary: String,
    server: Endpoint,
    working_sni: Vec<SniTally>,
    blocked_sni: Vec<SniTally>,
    cut_by: String,
    meaning: String,
}

// ---------------------------------------------------------------------------------------------
// The README's lists
// ---------------------------------------------------------------------------------------------

/// The README's lists of ids, read from the README itself: the contract these records are
/// checked against (`src/ids.rs` checks the code's enums against the same lists).
struct ReadmeIds {
    /// "Verdict ids:", without the culprits and key names it mentions.
    verdicts: Vec<String>,
    /// "Finding ids:", by section (handshake, path, certificates, capture quality).
    findings: BTreeMap<String, Vec<String>>,
    severities: Vec<String>,
}

const SEVERITIES: &[&str] = &["info", "low", "medium", "high"];

/// `verdict.by` (README: with `rst-after-client-hello`, `fin-after-client-hello` and
/// `dropped-on-path`).
const CULPRITS: &[&str] = &["middlebox", "server", "client", "unknown"];
const VERDICTS_WITH_BY: &[&str] = &[
    "rst-after-client-hello",
    "fin-after-client-hello",
    "dropped-on-path",
];

/// The words in backticks.
fn quoted(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn readme_ids() -> &'static ReadmeIds {
    static IDS: std::sync::OnceLock<ReadmeIds> = std::sync::OnceLock::new();
    IDS.get_or_init(|| {
        let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
        let after = |label: &str| {
            let at = readme
                .find(label)
                .unwrap_or_else(|| panic!("README.md has no {label:?}"));
            readme.get(at + label.len()..).unwrap_or_default()
        };
        let paragraph = |label: &str| {
            after(label)
                .split("\n\n")
                .next()
                .unwrap_or_default()
                .to_string()
        };
        let verdicts = quoted(&paragraph("Verdict ids:"))
            .into_iter()
            .filter(|w| !CULPRITS.contains(&w.as_str()) && w != "by" && w != "confidence")
            .collect();
        let findings_text = after("Finding ids:")
            .split("Severities:")
            .next()
            .unwrap_or_default();
        let findings = findings_text
            .split(';')
            .filter_map(|section| {
                let (name, ids) = section.split_once('—')?;
                let name = name
                    .split('(')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                let ids = quoted(ids);
                (!ids.is_empty()).then_some((name, ids))
            })
            .collect();
        ReadmeIds {
            verdicts,
            findings,
            severities: quoted(&paragraph("Severities:")),
        }
    })
}

fn certificate_finding_ids() -> &'static [String] {
    readme_ids()
        .findings
        .get("certificates")
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn is_verdict_id(id: &str) -> bool {
    readme_ids().verdicts.iter().any(|v| v == id)
        || certificate_finding_ids().iter().any(|v| v == id)
}

fn is_finding_id(id: &str) -> bool {
    readme_ids().findings.values().flatten().any(|f| f == id)
}

// ---------------------------------------------------------------------------------------------
// Invariants
// ---------------------------------------------------------------------------------------------

/// An RFC 3339 UTC timestamp as the code writes it (`2026-11-23T19:57:39.32507Z`: trailing
/// zeros of the fraction dropped, so the strings do not sort): seconds part and nanoseconds.
fn utc(s: &str) -> Result<(String, u32), String> {
    let body = s
        .strip_suffix('Z')
        .ok_or_else(|| format!("{s:?} is not UTC with a Z"))?;
    let (secs, frac) = body.split_once('.').unwrap_or((body, ""));
    let shape_ok = secs.len() == 19
        && secs.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == 'T',
            13 | 16 => c == ':',
            _ => c.is_ascii_digit(),
        })
        && frac.len() <= 9
        && frac.chars().all(|c| c.is_ascii_digit())
        && !(body.contains('.') && frac.is_empty());
    if !shape_ok {
        return Err(format!(
            "{s:?} is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SS[.fraction]Z)"
        ));
    }
    let nanos = format!("{frac:0<9}")
        .parse::<u32>()
        .map_err(|e| e.to_string())?;
    Ok((secs.to_string(), nanos))
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The invariants of one connection line; each problem as one message.
fn check_connection(c: &Connection, inputs: &[&str]) -> Vec<String> {
    let mut bad = Vec::new();
    // The input as given, or a file found in a directory given.
    let from_input = inputs.iter().any(|i| {
        c.capture == *i
            || c.capture
                .strip_prefix(i)
                .is_some_and(|rest| rest.starts_with('/'))
    });
    if !from_input {
        bad.push(format!("capture is {:?}, not an input as given", c.capture));
    }
    if !matches!(c.transport.as_str(), "tcp" | "udp") {
        bad.push(format!(
            "transport {:?} is neither tcp nor udp",
            c.transport
        ));
    }
    for layer in &c.encapsulation {
        let (name, id) = layer.split_once(':').unwrap_or((layer, ""));
        let named = match name {
            "mpls" | "pppoe" | "vxlan" | "geneve" | "gtpu" | "erspan2" | "erspan3" => {
                id.parse::<u32>().is_ok()
            }
            "gre" => id.is_empty() || id.parse::<u32>().is_ok(),
            "erspan1" | "ipip" | "6in4" | "4in6" | "6in6" => id.is_empty(),
            _ => false,
        };
        if !named {
            bad.push(format!(
                "encapsulation layer {layer:?} is not in the README's list"
            ));
        }
    }
    match (utc(&c.start), utc(&c.end)) {
        (Ok(start), Ok(end)) => {
            if start > end {
                bad.push(format!("start {} is after end {}", c.start, c.end));
            }
        }
        (start, end) => bad.extend(start.err().into_iter().chain(end.err())),
    }
    if c.first_frame == 0 {
        bad.push("first_frame is 0 (frames are 1-based)".into());
    }
    if let Some(k) = &c.keys {
        if !matches!(k.as_str(), "keylog" | "pcapng") {
            bad.push(format!("keys {k:?} is neither keylog nor pcapng"));
        }
    }
    if c.decrypted.is_some() && c.keys.is_none() {
        bad.push("decrypted without keys".into());
    }
    for a in c.alerts.iter().filter(|a| a.decrypted) {
        if !a.encrypted || a.level.is_none() || a.description.is_none() || c.keys.is_none() {
            bad.push(format!(
                "decrypted alert in frame {} is not encrypted, lacks its level or description, \
                 or has no keys",
                a.frame
            ));
        }
    }

    let v = &c.verdict;
    if v.frames.windows(2).any(|w| w[0] >= w[1]) || v.frames.contains(&0) {
        bad.push(format!(
            "verdict.frames {:?} are not 1-based, ascending and each once",
            v.frames
        ));
    }
    if v.frames.iter().any(|&f| f < c.first_frame) {
        bad.push(format!(
            "verdict.frames {:?} start before the connection's first frame {}",
            v.frames, c.first_frame
        ));
    }
    if !is_verdict_id(&v.id) {
        bad.push(format!("verdict id {:?} is not in the README's list", v.id));
    }
    if let Some(by) = &v.by {
        if !CULPRITS.contains(&by.as_str()) {
            bad.push(format!("verdict.by {by:?} is not one of {CULPRITS:?}"));
        }
        if !VERDICTS_WITH_BY.contains(&v.id.as_str()) {
            bad.push(format!("verdict.by on a {:?} verdict", v.id));
        }
    }
    if let Some(confidence) = v.confidence {
        if !(0.0..=1.0).contains(&confidence) {
            bad.push(format!("verdict.confidence {confidence} is outside 0..=1"));
        }
        if v.by.is_none() {
            bad.push("verdict.confidence without verdict.by".into());
        }
    }

    for f in &c.findings {
        if !is_finding_id(&f.id) {
            bad.push(format!("finding id {:?} is not in the README's list", f.id));
        }
        if !SEVERITIES.contains(&f.severity.as_str()) {
            bad.push(format!(
                "finding {:?} has severity {:?}, not one of {SEVERITIES:?}",
                f.id, f.severity
            ));
        }
        if let Some(side) = &f.side {
            if !matches!(side.as_str(), "server" | "client") {
                bad.push(format!("finding {:?} has side {side:?}", f.id));
            }
        }
        if let Some(when) = &f.when {
            if let Err(e) = utc(when) {
                bad.push(format!("finding {:?} when: {e}", f.id));
            }
        }
    }

    for cert in c.server_certificates.iter().chain(&c.client_certificates) {
        if !is_sha256_hex(&cert.sha256) {
            bad.push(format!(
                "certificate sha256 {:?} is not 64 lowercase hex digits",
                cert.sha256
            ));
        }
    }

    for a in &c.alerts {
        if !matches!(a.from.as_str(), "client" | "server") {
            bad.push(format!("alert in frame {} is from {:?}", a.frame, a.from));
        }
        if a.encrypted && !a.decrypted && (a.level.is_some() || a.description.is_some()) {
            bad.push(format!(
                "encrypted alert in frame {} has a level or description",
                a.frame
            ));
        }
    }

    let packets = c.tcp.client_syn.iter().chain(&c.tcp.server_syn_ack);
    for p in packets.chain(&c.tcp.resets).chain(&c.tcp.fins) {
        if !matches!(p.from.as_str(), "client" | "server") {
            bad.push(format!(
                "TCP packet in frame {} is from {:?}",
                p.frame, p.from
            ));
        }
        if let Err(e) = utc(&p.time) {
            bad.push(format!("TCP packet in frame {}: {e}", p.frame));
        }
    }
    bad
}

/// Handshakes = complete + cut + alert + every other verdict, and the rate and verdict ids
/// that go with it.
fn check_counts(what: &str, n: &Counts<'_>) -> Vec<String> {
    let mut bad = Vec::new();
    let cut = n.cut.middlebox + n.cut.server + n.cut.client + n.cut.unknown;
    let failed: u64 = n.failed.values().sum();
    if n.complete + cut + n.alert + failed != n.handshakes {
        bad.push(format!(
            "{what}: complete {} + cut {cut} + alert {} + failed {failed} != handshakes {}",
            n.complete, n.alert, n.handshakes
        ));
    }
    if !(0.0..=1.0).contains(&n.complete_rate) {
        bad.push(format!(
            "{what}: complete_rate {} outside 0..=1",
            n.complete_rate
        ));
    }
    for id in n.failed.keys() {
        if !is_verdict_id(id)
            || matches!(
                id.as_str(),
                "complete" | "alert" | "rst-after-client-hello" | "fin-after-client-hello"
            )
        {
            bad.push(format!(
                "{what}: failed has verdict id {id:?}, which it should not"
            ));
        }
    }
    bad
}

/// One summary record: the mirror for its kind, then its counts.
fn check_summary(v: serde_json::Value) -> Result<Vec<String>, String> {
    let kind = v["summary"].as_str().unwrap_or_default().to_string();
    let untracked = v.get("untracked").is_some();
    let err = |e: serde_json::Error| format!("summary {kind:?} record: {e}");
    Ok(match (kind.as_str(), untracked) {
        ("sni" | "server", true) => {
            let r: UntrackedRecord = serde_json::from_value(v).map_err(err)?;
            let mut bad = check_counts(&format!("untracked {kind} record"), &r.counts());
            if !r.untracked {
                bad.push(format!("untracked {kind} record with untracked: false"));
            }
            bad
        }
        ("sni", false) => {
            let r: SniRecord = serde_json::from_value(v).map_err(err)?;
            check_counts(&format!("sni record {:?}", r.sni), &r.counts())
        }
        ("server", false) => {
            let r: ServerRecord = serde_json::from_value(v).map_err(err)?;
            let what = format!("server record {}:{}", r.server.ip, r.server.port);
            check_counts(&what, &r.counts())
        }
        ("sni-filtering", _) => {
            let r: SniFilteringRecord = serde_json::from_value(v).map_err(err)?;
            let what = format!("sni-filtering record {}:{}", r.server.ip, r.server.port);
            let mut bad = Vec::new();
            if !matches!(r.cut_by.as_str(), "middlebox" | "server" | "unknown") {
                bad.push(format!("{what}: cut_by {:?}", r.cut_by));
            }
            if r.working_sni.is_empty() || r.blocked_sni.is_empty() {
                bad.push(format!("{what}: needs working and blocked names"));
            }
            for t in r.working_sni.iter().chain(&r.blocked_sni) {
                bad.extend(check_counts(
                    &format!("{what}, name {:?}", t.sni),
                    &t.counts(),
                ));
            }
            bad
        }
        _ => return Err(format!("unknown summary kind {kind:?}")),
    })
}

// ---------------------------------------------------------------------------------------------
// The captures
// ---------------------------------------------------------------------------------------------

/// A capture file name as the CLI looks for them in directories: `*.pcap`, `*.pcapng`,
/// `*.cap`, optionally compressed.
fn is_capture_name(name: &str) -> bool {
    let name = [".gz", ".zst", ".xz"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(name);
    [".pcap", ".pcapng", ".cap"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// Files under `dir` (relative to the package), recursively, sorted, that `keep` accepts;
/// folders named in `skip_dirs` are not entered.
fn files_under(dir: &str, skip_dirs: &[&str], keep: &dyn Fn(&str) -> bool) -> Vec<String> {
    fn walk(
        abs: &Path,
        rel: &str,
        skip_dirs: &[&str],
        keep: &dyn Fn(&str) -> bool,
        out: &mut Vec<String>,
    ) {
        let entries = std::fs::read_dir(abs).unwrap_or_else(|e| panic!("{}: {e}", abs.display()));
        for entry in entries {
            let entry = entry.expect("directory entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("{rel}/{name}");
            let path: PathBuf = entry.path();
            if path.is_dir() {
                if !skip_dirs.contains(&name.as_str()) {
                    walk(&path, &rel, skip_dirs, keep, out);
                }
            } else if keep(&name) {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join(dir), dir, skip_dirs, keep, &mut out);
    out.sort();
    out
}

/// Every capture this test reads, with the extra options it needs.
fn inputs() -> Vec<(String, Vec<&'static str>)> {
    let mut out = Vec::new();
    let ours = files_under("captures", &[], &is_capture_name);
    for group in [
        "captures/netns/",
        "captures/certs/",
        "captures/quic/",
        "captures/starttls/",
    ] {
        assert!(
            ours.iter().any(|f| f.starts_with(group)),
            "no capture found under {group}"
        );
    }
    for f in ours {
        let extra = if f.starts_with("captures/certs/") {
            vec!["--ca-file", "captures/certs/pki/root.pem"]
        } else {
            vec![]
        };
        out.push((f, extra));
    }
    let corpus = files_under("../shared/corpus", &["expected"], &|name| {
        !name.ends_with(".md")
    });
    assert!(!corpus.is_empty(), "no capture in ../shared/corpus");
    out.extend(corpus.into_iter().map(|f| (f, vec![])));
    // Wireshark's decryption captures: the pcapng ones carry their secrets, the others are
    // read with their key logs, so that the decrypted keys are checked too.
    for (f, keys) in [
        ("tls12-dsb.pcapng", None),
        ("quic_follow_multistream.pcapng", None),
        ("dtls12-aes128ccm8-dsb.pcapng", None),
        (
            "tls13-rfc8446.pcap",
            Some("../shared/keylog/keys/tls13-rfc8446.keys"),
        ),
    ] {
        let extra = keys.map_or(vec![], |k| vec!["--keylog", k]);
        out.push((format!("../shared/keylog/captures/{f}"), extra));
    }
    out
}

/// What the runs yielded: lines checked, what they held, and problems found.
#[derive(Default)]
struct Tally {
    connections: usize,
    summaries: usize,
    /// Summary records by kind (`sni`, `server`, `sni-filtering`).
    kinds: BTreeMap<String, usize>,
    /// Findings judged at `--now` / `--at` (with `when`).
    later_findings: usize,
    problems: Vec<String>,
}

/// Runs `tlsmortem --json --summary --all-flows OPTIONS INPUTS` (paths relative to the package
/// root, the runner's working directory) and checks every line.
fn check_run(inputs: &[&str], options: &[&str], tally: &mut Tally) {
    let input = inputs.join(" ");
    let r = run(tlsmortem()
        .args(["--json", "--summary", "--all-flows"])
        .args(options)
        .args(inputs));
    if r.code != Some(0) {
        tally.problems.push(format!(
            "{input}: exit {:?}: {}",
            r.code,
            r.stderr_text().trim()
        ));
        return;
    }
    let stdout = String::from_utf8(r.stdout).expect("UTF-8 output");
    let mut summaries_began = false;
    for (n, line) in stdout.lines().enumerate() {
        let at = format!("{input} line {}", n + 1);
        let value: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                tally.problems.push(format!("{at}: not JSON ({e}): {line}"));
                continue;
            }
        };
        if let Some(kind) = value.get("summary") {
            summaries_began = true;
            tally.summaries += 1;
            let kind = kind.as_str().unwrap_or_default().to_string();
            *tally.kinds.entry(kind).or_default() += 1;
            match check_summary(value) {
                Ok(bad) => tally
                    .problems
                    .extend(bad.into_iter().map(|b| format!("{at}: {b}"))),
                Err(e) => tally.problems.push(format!("{at}: {e}")),
            }
            continue;
        }
        tally.connections += 1;
        if summaries_began {
            tally
                .problems
                .push(format!("{at}: a connection line after the summary records"));
        }
        match serde_json::from_str::<Connection>(line) {
            Ok(c) => {
                tally.later_findings += c.findings.iter().filter(|f| f.when.is_some()).count();
                let bad = check_connection(&c, inputs);
                tally
                    .problems
                    .extend(bad.into_iter().map(|b| format!("{at}: {b}")));
            }
            Err(e) => tally.problems.push(format!("{at}: connection: {e}")),
        }
    }
}

/// Fails with every problem found (the first 60 shown), each with its file and line.
fn assert_no_problems(tally: &Tally, runs: usize) {
    let shown: Vec<&str> = tally.problems.iter().take(60).map(String::as_str).collect();
    assert!(
        tally.problems.is_empty(),
        "{} problems in {runs} runs ({} connection lines, {} summary records); the first {}:\n{}",
        tally.problems.len(),
        tally.connections,
        tally.summaries,
        shown.len(),
        shown.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[test]
fn every_json_line_of_every_capture_matches_the_readme_contract() {
    let mut tally = Tally::default();
    let inputs = inputs();
    for (input, options) in &inputs {
        check_run(&[input], options, &mut tally);
    }
    assert_no_problems(&tally, inputs.len());
    let lines = tally.connections + tally.summaries;
    assert!(
        lines > 300,
        "only {lines} lines checked ({} connections, {} summary records) in {} captures",
        tally.connections,
        tally.summaries,
        inputs.len()
    );
    assert!(tally.summaries > 0, "no summary record checked");
}

/// One run over everything at once, judged at a later moment too: the summary sees the netns
/// captures together (a server that completes one name and cuts another: an `sni-filtering`
/// record), and certificate findings get `when`.
#[test]
fn one_run_over_all_captures_at_a_later_moment_matches_the_readme_contract() {
    let mut tally = Tally::default();
    let options = [
        "--ca-file",
        "captures/certs/pki/root.pem",
        "--at",
        "2040-01-01T00:00:00Z",
    ];
    check_run(&["captures", "../shared/corpus"], &options, &mut tally);
    assert_no_problems(&tally, 1);
    assert!(tally.connections > 300, "{} connections", tally.connections);
    for kind in ["sni", "server", "sni-filtering"] {
        assert!(
            tally.kinds.get(kind).is_some_and(|&n| n > 0),
            "no {kind:?} summary record checked: {:?}",
            tally.kinds
        );
    }
    assert!(tally.later_findings > 0, "no finding with `when` checked");
}

#[test]
fn the_mirrors_reject_an_unknown_key() {
    let e = serde_json::from_str::<Verdict>(r#"{"id":"complete","summary":"s","extra":1}"#)
        .expect_err("unknown key accepted");
    assert!(e.to_string().contains("unknown field `extra`"), "{e}");
    let e = serde_json::from_str::<CutBy>(
        r#"{"middlebox":0,"server":0,"client":0,"unknown":0,"other":0}"#,
    )
    .expect_err("unknown key accepted");
    assert!(e.to_string().contains("unknown field `other`"), "{e}");
}

#[test]
fn a_key_whose_value_may_be_null_must_still_be_present() {
    let full = r#"{"frame":1,"from":"client","level":null,"description":null,"description_name":null,"encrypted":true}"#;
    serde_json::from_str::<Alert>(full).expect("full alert");
    let short = r#"{"frame":1,"from":"client","level":null,"description":null,"encrypted":true}"#;
    let e = serde_json::from_str::<Alert>(short).expect_err("missing nullable key accepted");
    assert!(
        e.to_string().contains("missing field `description_name`"),
        "{e}"
    );
}

#[test]
fn a_key_left_out_when_empty_may_be_absent_but_not_null() {
    serde_json::from_str::<Verdict>(r#"{"id":"complete","summary":"s"}"#).expect("no by");
    serde_json::from_str::<Verdict>(r#"{"id":"complete","by":null,"summary":"s"}"#)
        .expect_err("by: null accepted");
    serde_json::from_str::<Verdict>(r#"{"id":"complete"}"#).expect_err("missing summary accepted");
}

#[test]
fn the_readme_lists_read_here_are_the_ones_the_contract_names() {
    let ids = readme_ids();
    let sections: Vec<&str> = ids.findings.keys().map(String::as_str).collect();
    assert_eq!(
        sections,
        ["capture quality", "certificates", "handshake", "path"],
        "the README's sections of finding ids"
    );
    assert!(ids.verdicts.iter().any(|v| v == "complete"));
    assert!(
        ids.verdicts.iter().all(|v| !v.contains(' ')),
        "{:?}",
        ids.verdicts
    );
    assert_eq!(ids.severities, SEVERITIES);
    for v in VERDICTS_WITH_BY {
        assert!(ids.verdicts.iter().any(|x| x == v), "{v}");
    }
}
