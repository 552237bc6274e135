//! ocsp: the DER of an OCSPResponse (as stapled in CertificateStatus) in; the status of one
//! certificate out (`OcspStatus`: good, revoked with time and reason, or unknown, with
//! thisUpdate, nextUpdate, producedAt and the serial it is about), per RFC 6960 §4.2.1.
//!
//! Guarantees: no panic on any input; a truncated, mis-tagged or unsuccessful response, or one
//! that is not a basic response, is `None`. Given a serial, the SingleResponse for it is taken,
//! else the first one.
//!
//! Deliberately not done: checking the response's signature or its responder's certificate,
//! matching the CertID's issuer name and key hashes, judging the status (that is `checks`).

use serde::Serialize;
use x509_parser::der_parser::asn1_rs::{Any, Class, Tag};
use x509_parser::prelude::FromDer;
use x509_parser::time::ASN1Time;

/// The status a stapled OCSP response gives for one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "status")]
pub enum CertStatus {
    Good,
    Revoked {
        /// Unix seconds.
        time: i64,
        /// CRLReason code, when given.
        reason: Option<u8>,
    },
    Unknown,
}

/// One SingleResponse of a successful BasicOCSPResponse (times in unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OcspStatus {
    pub status: CertStatus,
    pub this_update: i64,
    pub next_update: Option<i64>,
    pub produced_at: i64,
    /// Serial number of the certificate the response is about (CertID), big-endian.
    pub serial: Vec<u8>,
}

const OID_OCSP_BASIC: &str = "1.3.6.1.5.5.7.48.1.1";

fn tlv(i: &[u8]) -> Option<(&[u8], Any<'_>)> {
    Any::from_der(i).ok()
}

fn time_in(bytes: &[u8]) -> Option<i64> {
    ASN1Time::from_der(bytes).ok().map(|(_, t)| t.timestamp())
}

/// Parses an OCSPResponse; `None` unless it is a successful basic response with at least one
/// SingleResponse. Takes the response for `serial` when given and present, else the first.
pub fn parse_ocsp_response(der: &[u8]) -> Option<OcspStatus> {
    parse_ocsp_for(der, None)
}

pub(super) fn parse_ocsp_for(der: &[u8], serial: Option<&[u8]>) -> Option<OcspStatus> {
    // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] EXPLICIT .. }
    let (_, resp) = tlv(der)?;
    let (rest, status) = tlv(resp.data)?;
    if status.tag() != Tag::Enumerated || status.data != [0] {
        return None;
    }
    let (_, bytes_wrap) = tlv(rest)?;
    if bytes_wrap.class() != Class::ContextSpecific || bytes_wrap.tag() != Tag(0) {
        return None;
    }
    // ResponseBytes ::= SEQUENCE { responseType OID, response OCTET STRING }
    let (_, rb) = tlv(bytes_wrap.data)?;
    let (rest, rtype) = tlv(rb.data)?;
    let oid = rtype.as_oid().ok()?;
    if oid.to_id_string() != OID_OCSP_BASIC {
        return None;
    }
    let (_, octets) = tlv(rest)?;
    // BasicOCSPResponse ::= SEQUENCE { tbsResponseData ResponseData, .. }
    let (_, basic) = tlv(octets.data)?;
    let (_, rdata) = tlv(basic.data)?;
    // ResponseData ::= SEQUENCE { version [0] EXPLICIT DEFAULT v1, responderID, producedAt,
    //                             responses SEQUENCE OF SingleResponse, .. }
    let mut rest = rdata.data;
    let (r, mut item) = tlv(rest)?;
    rest = r;
    if item.class() == Class::ContextSpecific && item.tag() == Tag(0) {
        let (r, next) = tlv(rest)?;
        rest = r;
        item = next;
    }
    // `item` is the responderID ([1] byName or [2] byKey).
    if item.class() != Class::ContextSpecific {
        return None;
    }
    let produced_at = time_in(rest)?;
    let (r, _) = tlv(rest)?;
    let (_, responses) = tlv(r)?;
    let mut list = responses.data;
    let mut first = None;
    while let Some((r, single)) = tlv(list) {
        list = r;
        let Some(s) = parse_single(single.data, produced_at) else {
            continue;
        };
        match serial {
            Some(want) if trim_int(&s.serial) == trim_int(want) => return Some(s),
            _ => {
                if first.is_none() {
                    first = Some(s);
                }
            }
        }
    }
    first
}

/// Leading zero bytes of a DER INTEGER dropped.
pub(super) fn trim_int(b: &[u8]) -> &[u8] {
    let skip = b.iter().take_while(|&&x| x == 0).count();
    b.get(skip..).unwrap_or_default()
}

/// SingleResponse ::= SEQUENCE { certID, certStatus, thisUpdate, nextUpdate [0] EXPLICIT OPT, .. }
fn parse_single(data: &[u8], produced_at: i64) -> Option<OcspStatus> {
    let (rest, cert_id) = tlv(data)?;
    // CertID ::= SEQUENCE { hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber }
    let mut f = cert_id.data;
    for _ in 0..3 {
        f = tlv(f)?.0;
    }
    let (_, serial) = tlv(f)?;
    if serial.tag() != Tag::Integer {
        return None;
    }
    let (rest2, st) = tlv(rest)?;
    if st.class() != Class::ContextSpecific {
        return None;
    }
    let status = match st.tag().0 {
        0 => CertStatus::Good,
        1 => {
            // RevokedInfo ::= SEQUENCE { revocationTime, revocationReason [0] EXPLICIT OPT }
            let time = time_in(st.data)?;
            let (after, _) = tlv(st.data)?;
            let reason = tlv(after)
                .and_then(|(_, r)| tlv(r.data))
                .and_then(|(_, e)| e.data.first().copied());
            CertStatus::Revoked { time, reason }
        }
        2 => CertStatus::Unknown,
        _ => return None,
    };
    let this_update = time_in(rest2)?;
    let (rest3, _) = tlv(rest2)?;
    let next_update = match tlv(rest3) {
        Some((_, n)) if n.class() == Class::ContextSpecific && n.tag() == Tag(0) => {
            Some(time_in(n.data)?)
        }
        _ => None,
    };
    Some(OcspStatus {
        status,
        this_update,
        next_update,
        produced_at,
        serial: serial.data.to_vec(),
    })
}
