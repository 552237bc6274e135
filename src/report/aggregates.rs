//! report::aggregates: connection records in; per server name, per server (IP, port) and per
//! (server, name) pair, how many handshakes completed, were cut (and by whom) or failed
//! otherwise, out — as values, as the servers that complete for some names and cut others
//! ([`Aggregates::sni_filtering`]), and as the `--json --summary` records
//! ([`Aggregates::json_records`]).
//!
//! Guarantees: memory is bounded whatever the capture. At most [`MAX_TRACKED_NAMES`] names,
//! [`MAX_TRACKED_SERVERS`] servers and [`MAX_TRACKED_PAIRS`] pairs are tracked; later names and
//! servers are counted in an "other" bucket and later pairs are counted as not judged, so every
//! connection is in the totals. Rows come most handshakes first, ties in key order.
//!
//! Deliberately not done: writing text (the `summary` and `text` files do) or judging one
//! connection: verdicts and who cut a handshake come from the diagnose stage. The only
//! judgement here is statistical: a server that completes for one name and cuts another.

use crate::ids::{Culprit, VerdictId};
use crate::record::{Connection, EndpointOut};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Distinct server names tracked by [`Aggregates`]; later names are counted as "other".
pub const MAX_TRACKED_NAMES: usize = 10_000;
/// Distinct servers (IP, port) tracked by [`Aggregates`]; later ones are counted as "other".
pub const MAX_TRACKED_SERVERS: usize = 10_000;
/// (server, name) pairs tracked for [`Aggregates::sni_filtering`]; later pairs are not judged.
pub const MAX_TRACKED_PAIRS: usize = 20_000;

/// Handshakes cut after the ClientHello, by who most likely sent the RST or FIN
/// (`verdict.by`; absent counts as unknown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CutBy {
    pub middlebox: u64,
    pub server: u64,
    pub client: u64,
    pub unknown: u64,
}

impl CutBy {
    pub fn total(&self) -> u64 {
        self.middlebox + self.server + self.client + self.unknown
    }

    fn add(&mut self, by: Option<Culprit>) {
        match by {
            Some(Culprit::Middlebox) => self.middlebox += 1,
            Some(Culprit::Server) => self.server += 1,
            Some(Culprit::Client) => self.client += 1,
            Some(Culprit::Unknown) | None => self.unknown += 1,
        }
    }

    fn json(&self) -> Value {
        json!({
            "middlebox": self.middlebox,
            "server": self.server,
            "client": self.client,
            "unknown": self.unknown,
        })
    }
}

/// What happened to the handshakes of one name, one server or one (server, name) pair.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub handshakes: u64,
    /// Verdict `complete`.
    pub complete: u64,
    /// Verdicts `rst-after-client-hello` and `fin-after-client-hello`.
    pub cut: CutBy,
    /// Verdict `alert`.
    pub alert: u64,
    /// Every other verdict, by id (`no-server-response`, `connection-refused`, …). Verdict ids
    /// come from a closed list, so this map stays small.
    pub failed: BTreeMap<&'static str, u64>,
}

impl Counts {
    fn add(&mut self, c: &Connection) {
        self.handshakes += 1;
        match c.verdict.id {
            VerdictId::Complete => self.complete += 1,
            VerdictId::Alert => self.alert += 1,
            id if id.is_cut() => self.cut.add(c.verdict.by),
            // Keyed by the id's text, so that the map prints in the ids' alphabetical order.
            id => *self.failed.entry(id.as_str()).or_default() += 1,
        }
    }

    /// Share of handshakes that completed, 0 to 1.
    pub fn complete_rate(&self) -> f64 {
        if self.handshakes == 0 {
            return 0.0;
        }
        self.complete as f64 / self.handshakes as f64
    }

    /// Handshakes stopped the way name filtering stops them: cut after the ClientHello by
    /// anyone but the client itself, a ClientHello dropped on the path, or one never answered.
    pub fn blocked(&self) -> u64 {
        self.cut.total() - self.cut.client + self.dropped() + self.no_response()
    }

    /// ClientHellos dropped on the path (verdict `dropped-on-path`).
    pub fn dropped(&self) -> u64 {
        self.failed
            .get(VerdictId::DroppedOnPath.as_str())
            .copied()
            .unwrap_or_default()
    }

    pub(super) fn no_response(&self) -> u64 {
        self.failed
            .get("no-server-response")
            .copied()
            .unwrap_or_default()
    }

    /// Failures other than cuts, alerts included: `alert 2, no-server-response 40`.
    pub(super) fn other_failures(&self) -> String {
        let mut parts = Vec::new();
        if self.alert > 0 {
            parts.push(format!("alert {}", self.alert));
        }
        parts.extend(self.failed.iter().map(|(id, n)| format!("{id} {n}")));
        if parts.is_empty() {
            "-".into()
        } else {
            parts.join(", ")
        }
    }

    /// The counting keys shared by every summary record.
    fn json_into(&self, record: &mut serde_json::Map<String, Value>) {
        record.insert("handshakes".into(), self.handshakes.into());
        record.insert("complete".into(), self.complete.into());
        record.insert("cut".into(), self.cut.json());
        record.insert("alert".into(), self.alert.into());
        record.insert(
            "failed".into(),
            Value::Object(
                self.failed
                    .iter()
                    .map(|(id, n)| ((*id).to_string(), Value::from(*n)))
                    .collect(),
            ),
        );
        // Four decimals: enough to tell 98 % failure from 99.9 %, and stable in snapshots.
        let rate = (self.complete_rate() * 10_000.0).round() / 10_000.0;
        record.insert("complete_rate".into(), rate.into());
    }
}

/// One name's handshakes with one server, as [`SniFiltering`] reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct SniTally {
    pub sni: String,
    pub counts: Counts,
}

impl SniTally {
    fn json(&self) -> Value {
        let mut record = serde_json::Map::new();
        record.insert("sni".into(), self.sni.clone().into());
        self.counts.json_into(&mut record);
        Value::Object(record)
    }
}

/// One server that completes handshakes for some names and cuts (or never answers) others:
/// strong evidence of filtering by the SNI, on the path or at the server.
#[derive(Debug, Clone, PartialEq)]
pub struct SniFiltering {
    pub server: EndpointOut,
    /// Names for which most handshakes completed, most handshakes first.
    pub working: Vec<SniTally>,
    /// Names for which most handshakes were cut by a RST or FIN after the ClientHello (not by
    /// the client) or got no answer, most handshakes first.
    pub blocked: Vec<SniTally>,
    /// Who most of the blocked handshakes were cut by: the middlebox, the server, or unknown
    /// (silent drops and cuts nobody could be blamed for).
    pub cut_by: Culprit,
}

impl SniFiltering {
    /// What the pattern most likely means, in plain words.
    pub fn meaning(&self) -> &'static str {
        match self.cut_by {
            Culprit::Middlebox => "SNI filtering on the path is likely",
            Culprit::Server => "the server end refuses those names (a firewall at the server or the server's own name check): check its configuration",
            _ => "filtering by name is likely; the capture does not show where",
        }
    }
}

/// Per server name and per server (IP, port): how many handshakes, how many completed, how
/// many were cut and how. Memory is bounded (see the `MAX_TRACKED_*` constants).
#[derive(Debug, Clone, Default)]
pub struct Aggregates {
    total: Counts,
    names: BTreeMap<String, Counts>,
    no_sni: Counts,
    other_names: Counts,
    servers: BTreeMap<(IpAddr, u16), Counts>,
    other_servers: Counts,
    /// Per server, per name (connections with an SNI only): the input of `sni_filtering`.
    pairs: BTreeMap<(IpAddr, u16), BTreeMap<String, Counts>>,
    pair_count: usize,
    untracked_pairs: u64,
}

/// Counts `c` under `key` if it is tracked or there is room for it, else under `other`.
fn count_in<K: Ord>(
    map: &mut BTreeMap<K, Counts>,
    key: K,
    cap: usize,
    other: &mut Counts,
    c: &Connection,
) {
    let len = map.len();
    match map.entry(key) {
        std::collections::btree_map::Entry::Occupied(mut e) => e.get_mut().add(c),
        std::collections::btree_map::Entry::Vacant(e) if len < cap => {
            e.insert(Counts::default()).add(c)
        }
        std::collections::btree_map::Entry::Vacant(_) => other.add(c),
    }
}

/// Rows sorted for reading: most handshakes first, then by key.
fn by_handshakes<K: Ord>(map: &BTreeMap<K, Counts>) -> Vec<(&K, &Counts)> {
    let mut rows: Vec<_> = map.iter().collect();
    // Stable sort over key order: ties stay sorted by key.
    rows.sort_by_key(|r| std::cmp::Reverse(r.1.handshakes));
    rows
}

impl Aggregates {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one connection.
    pub fn add(&mut self, c: &Connection) {
        self.total.add(c);
        let sni = c.client_hello.as_ref().and_then(|h| h.sni.as_deref());
        match sni {
            None => self.no_sni.add(c),
            // Look up by `&str` first: no allocation for a name already tracked.
            Some(name) => match self.names.get_mut(name) {
                Some(counts) => counts.add(c),
                None => count_in(
                    &mut self.names,
                    name.to_string(),
                    MAX_TRACKED_NAMES,
                    &mut self.other_names,
                    c,
                ),
            },
        }
        let server = (c.server.ip, c.server.port);
        count_in(
            &mut self.servers,
            server,
            MAX_TRACKED_SERVERS,
            &mut self.other_servers,
            c,
        );
        if let Some(name) = sni {
            if let Some(counts) = self.pairs.get_mut(&server).and_then(|m| m.get_mut(name)) {
                counts.add(c);
            } else if self.pair_count < MAX_TRACKED_PAIRS {
                self.pair_count += 1;
                self.pairs
                    .entry(server)
                    .or_default()
                    .entry(name.to_string())
                    .or_default()
                    .add(c);
            } else {
                self.untracked_pairs += 1;
            }
        }
    }

    /// Every connection counted.
    pub fn total(&self) -> &Counts {
        &self.total
    }

    /// Per server name, most handshakes first; `None` is the connections without an SNI (or
    /// without a ClientHello). Names past [`MAX_TRACKED_NAMES`] are in [`Self::other_names`].
    pub fn sni_rows(&self) -> Vec<(Option<&str>, &Counts)> {
        let mut rows: Vec<(Option<&str>, &Counts)> = by_handshakes(&self.names)
            .into_iter()
            .map(|(k, v)| (Some(k.as_str()), v))
            .collect();
        if self.no_sni.handshakes > 0 {
            let at = rows.partition_point(|r| r.1.handshakes >= self.no_sni.handshakes);
            rows.insert(at, (None, &self.no_sni));
        }
        rows
    }

    /// Connections whose name came after [`MAX_TRACKED_NAMES`] others.
    pub fn other_names(&self) -> &Counts {
        &self.other_names
    }

    /// Per server (IP, port), most handshakes first.
    pub fn server_rows(&self) -> Vec<(EndpointOut, &Counts)> {
        by_handshakes(&self.servers)
            .into_iter()
            .map(|(&(ip, port), v)| (EndpointOut { ip, port }, v))
            .collect()
    }

    /// Connections whose server came after [`MAX_TRACKED_SERVERS`] others.
    pub fn other_servers(&self) -> &Counts {
        &self.other_servers
    }

    /// Connections with an SNI whose (server, name) pair came after [`MAX_TRACKED_PAIRS`]
    /// others: [`Self::sni_filtering`] did not see them.
    pub fn untracked_pairs(&self) -> u64 {
        self.untracked_pairs
    }

    /// Servers where at least one name mostly completes and another is mostly cut after the
    /// ClientHello (by anyone but the client) or never answered, in server order.
    pub fn sni_filtering(&self) -> Vec<SniFiltering> {
        let mut found = Vec::new();
        for (&(ip, port), names) in &self.pairs {
            let mut working = Vec::new();
            let mut blocked = Vec::new();
            for (sni, counts) in names {
                let tally = || SniTally {
                    sni: sni.clone(),
                    counts: counts.clone(),
                };
                // "Mostly": more than half, so a name is never both.
                if counts.complete * 2 > counts.handshakes {
                    working.push(tally());
                } else if counts.blocked() * 2 > counts.handshakes {
                    blocked.push(tally());
                }
            }
            if working.is_empty() || blocked.is_empty() {
                continue;
            }
            for list in [&mut working, &mut blocked] {
                list.sort_by_key(|t| std::cmp::Reverse(t.counts.handshakes));
            }
            let sum = |f: fn(&Counts) -> u64| blocked.iter().map(|t| f(&t.counts)).sum::<u64>();
            // A ClientHello dropped on the path was stopped by a device there, like a forged RST.
            let middlebox = sum(|c| c.cut.middlebox + c.dropped());
            let server = sum(|c| c.cut.server);
            let all = sum(Counts::blocked);
            let cut_by = if middlebox * 2 > all {
                Culprit::Middlebox
            } else if server * 2 > all {
                Culprit::Server
            } else {
                Culprit::Unknown
            };
            found.push(SniFiltering {
                server: EndpointOut { ip, port },
                working,
                blocked,
                cut_by,
            });
        }
        found
    }

    /// The aggregates as JSON objects, none with a `client` key: one per name
    /// (`"summary": "sni"`, `"sni": null` for no SNI), one per server (`"summary": "server"`),
    /// one for each "other" bucket that is not empty (`"untracked": true`), and one per
    /// filtering pattern (`"summary": "sni-filtering"`).
    pub fn json_records(&self) -> Vec<Value> {
        let record = |kind: &str, key: &str, value: Value, counts: &Counts| {
            let mut r = serde_json::Map::new();
            r.insert("summary".into(), kind.into());
            r.insert(key.into(), value);
            counts.json_into(&mut r);
            Value::Object(r)
        };
        let mut out = Vec::new();
        for (sni, counts) in self.sni_rows() {
            out.push(record(
                "sni",
                "sni",
                sni.map_or(Value::Null, Value::from),
                counts,
            ));
        }
        if self.other_names.handshakes > 0 {
            out.push(record("sni", "untracked", true.into(), &self.other_names));
        }
        for (server, counts) in self.server_rows() {
            out.push(record("server", "server", endpoint_json(&server), counts));
        }
        if self.other_servers.handshakes > 0 {
            out.push(record(
                "server",
                "untracked",
                true.into(),
                &self.other_servers,
            ));
        }
        for f in self.sni_filtering() {
            out.push(json!({
                "summary": "sni-filtering",
                "server": endpoint_json(&f.server),
                "working_sni": f.working.iter().map(SniTally::json).collect::<Vec<_>>(),
                "blocked_sni": f.blocked.iter().map(SniTally::json).collect::<Vec<_>>(),
                "cut_by": f.cut_by,
                "meaning": f.meaning(),
            }));
        }
        out
    }
}

fn endpoint_json(e: &EndpointOut) -> Value {
    json!({ "ip": e.ip.to_string(), "port": e.port })
}
