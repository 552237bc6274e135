//! The certificate part of a diagnosis: runs the chain checks of the x509 stage on what each
//! side sent, at the capture's time and (when asked) at a later time, and turns them into
//! findings; says what TLS 1.3 hides and what an abbreviated handshake leaves to judge.

use crate::ids::Side;
use crate::proto::der::Der;
use crate::record::Finding;
use crate::x509::chain::{self, ChainInput, ChainReport, TrustStore};
use crate::x509::CertInfo;
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// What the certificate checks need from one connection.
pub(super) struct Sent<'a> {
    pub ders: &'a [Der],
    /// Frame and capture time (unix seconds) of the Certificate message.
    pub frame: u64,
    pub at: i64,
    /// Whose chain.
    pub side: Side,
    /// The SNI, checked against a server's leaf.
    pub host: Option<&'a str>,
    /// The OCSP response a server stapled.
    pub stapled: Option<&'a [u8]>,
}

/// A later moment to judge validity at (`--now`, `--at`): its label and unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Later {
    pub label: String,
    pub at: i64,
}

/// Judges one side's chain; fills the per-certificate details into `infos`.
/// Chain verdicts already computed by this worker: the same server sends the same chain to
/// thousands of clients, and judging one costs tens of microseconds of signature checks.
#[derive(Debug, Default)]
pub struct ChainCache {
    reports: FxHashMap<String, Rc<ChainReport>>,
}

/// Verdicts kept before the cache starts over.
const MAX_CACHED_CHAINS: usize = 4096;

/// Certificates this worker already described, by DER: the same few certificates arrive on
/// every connection to a server, and parsing one (names, serial, validity, SAN) costs several
/// microseconds where a copy costs a few hundred nanoseconds.
#[derive(Debug, Default)]
pub struct CertCache {
    /// Shared: every record of a certificate points at one description (records wait by the
    /// thousand, whole, for the HTML and Zeek reports).
    infos: rustc_hash::FxHashMap<Vec<u8>, Arc<CertInfo>>,
}

/// Certificates kept before the cache starts over.
const MAX_CACHED_CERTS: usize = 4096;

impl CertCache {
    /// What [`CertInfo::from_der`] says of `der`, computed once per distinct certificate.
    pub fn describe(&mut self, der: &[u8]) -> Arc<CertInfo> {
        if let Some(info) = self.infos.get(der) {
            return info.clone();
        }
        let info = Arc::new(CertInfo::from_der(der));
        if self.infos.len() >= MAX_CACHED_CERTS {
            self.infos.clear();
        }
        self.infos.insert(der.to_vec(), info.clone());
        info
    }
}

/// Everything `chain::analyze` reads: the certificates, the host, the server flag, the staple,
/// and — instead of the exact time, which would defeat the cache — where `at` falls against
/// each certificate's validity (the only time-dependent judgement). A certificate out of its
/// validity is reported with the time judged ("expired …, 3 days before <at>"), and a staple's
/// freshness depends on the exact time: such chains key on it, so that no connection reports
/// another's time (and any number of workers gives the same words).
fn cache_key(input: &ChainInput<'_>, infos: &[Arc<CertInfo>]) -> String {
    let mut key = String::with_capacity(80 * infos.len() + 64);
    let mut out_of_validity = false;
    for c in infos {
        let state = c.validity_secs.map_or(0, |(nb, na)| {
            u8::from(input.at < nb) | (u8::from(input.at > na) << 1)
        });
        out_of_validity |= state != 0;
        key.push_str(&c.sha256);
        key.push(char::from(b'0' + state));
    }
    key.push_str(if input.server { "|s|" } else { "|c|" });
    key.push_str(input.host.unwrap_or("-"));
    if let Some(st) = input.stapled_ocsp {
        key.push_str(&format!("|{}", crate::x509::sha256_hex(st)));
    }
    if out_of_validity || input.stapled_ocsp.is_some() {
        key.push_str(&format!("|@{}", input.at));
    }
    key
}

fn analyze_cached(
    cache: &RefCell<ChainCache>,
    input: &ChainInput<'_>,
    infos: &[Arc<CertInfo>],
    trust: &TrustStore,
) -> Rc<ChainReport> {
    let key = cache_key(input, infos);
    if let Some(r) = cache.borrow().reports.get(&key) {
        return Rc::clone(r);
    }
    let report = Rc::new(chain::analyze(input, trust));
    let mut c = cache.borrow_mut();
    if c.reports.len() >= MAX_CACHED_CHAINS {
        c.reports.clear();
    }
    c.reports.insert(key, Rc::clone(&report));
    report
}

pub(super) fn judge_chain(
    sent: &Sent<'_>,
    trust: &TrustStore,
    cache: &RefCell<ChainCache>,
    later: Option<&Later>,
    infos: &[Arc<CertInfo>],
    findings: &mut Vec<Finding>,
) {
    let input = ChainInput {
        certs: sent.ders,
        host: sent.host,
        at: sent.at,
        server: sent.side == Side::Server,
        stapled_ocsp: sent.stapled,
    };
    let report = analyze_cached(cache, &input, infos, trust);
    for f in &report.findings {
        findings.push(finding(f, sent.side, sent.frame, None));
    }
    if let Some(later) = later {
        // Only validity changes with time; the rest was said above.
        let again = analyze_cached(
            cache,
            &ChainInput {
                at: later.at,
                ..input
            },
            infos,
            trust,
        );
        for f in again.findings.iter().filter(|f| f.id.is_validity()) {
            findings.push(finding(f, sent.side, sent.frame, Some(later.label.clone())));
        }
    }
}

fn finding(f: &chain::ChainFinding, side: Side, frame: u64, when: Option<String>) -> Finding {
    let at = when
        .as_deref()
        .map(|w| format!(" (judged at {w})"))
        .unwrap_or_default();
    Finding {
        id: f.id,
        severity: f.level,
        message: format!("{side} chain: {}{at}", f.message),
        frames: vec![frame],
        evidence: f
            .certs
            .iter()
            .map(|i| format!("certificate #{i} in wire order"))
            .collect(),
        advice: Some(f.fix.clone()),
        side: Some(side),
        when,
        certs: f.certs.clone(),
    }
}

/// Of a chain's findings judged at capture time, the index of the one that best explains a
/// client's rejection: the lowest [`crate::ids::FindingId::rejection_rank`], the first of equals.
pub(super) fn rejection_cause(findings: &[Finding]) -> Option<usize> {
    findings
        .iter()
        .enumerate()
        .filter(|(_, f)| f.when.is_none())
        .filter_map(|(i, f)| Some((f.id.rejection_rank()?, i)))
        .min()
        .map(|(_, i)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_at(at: i64, infos: &[Arc<CertInfo>]) -> String {
        let der: &[u8] = include_bytes!("../../tests/data/leaf.der");
        let input = ChainInput {
            certs: &[Der::from(der)],
            host: Some("www.example.test"),
            at,
            server: true,
            stapled_ocsp: None,
        };
        cache_key(&input, infos)
    }

    #[test]
    fn a_chain_judged_out_of_its_validity_is_cached_per_moment_and_a_valid_one_is_not() {
        let info = CertInfo::from_der(include_bytes!("../../tests/data/leaf.der"));
        let (nb, na) = info.validity_secs.expect("the test leaf has a validity");
        let infos = [Arc::new(info)];
        // Inside the validity: one entry for any moment.
        assert_eq!(key_at(nb + 10, &infos), key_at(nb + 20, &infos));
        // Expired: the message names the moment, so each moment is its own entry.
        assert_ne!(key_at(na + 86_400, &infos), key_at(na + 2 * 86_400, &infos));
        assert_ne!(key_at(nb - 5, &infos), key_at(nb - 6, &infos));
    }
}
