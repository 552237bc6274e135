//! hello: the body of one complete ClientHello or ServerHello in (or of an SSLv2-format
//! CLIENT-HELLO / SERVER-HELLO); a parsed [`ClientHello`] / [`ServerHello`] out.
//!
//! The fixed fields of a ClientHello go to tls-parser; the extensions of both hellos are walked
//! here as raw TLVs, in wire order, GREASE kept, and each is parsed on its own, so a bad one is
//! listed in `bad_extensions` and cannot hide the ones after it. A ServerHello's fixed fields
//! are read here for every version, TLS 1.3 drafts included. The TCP record layer, QUIC (from
//! CRYPTO frames) and DTLS (once the cookie is taken out) all hand their hellos to these
//! functions, so every path reads a hello the same way.
//!
//! These are pure functions over borrowed bytes: no state, and no panic on any input (every
//! read is checked). They do not reassemble (the caller hands one whole message body), do not
//! parse the other handshake messages, and do not judge what they read: versions, suites and
//! extensions are kept as sent.

use super::{ClientHello, ServerHello, HRR_RANDOM};
use tls_parser::{
    parse_tls_extension_alpn_content, parse_tls_extension_ec_point_formats_content,
    parse_tls_extension_elliptic_curves_content, parse_tls_extension_signature_algorithms_content,
    parse_tls_extension_sni_content, parse_tls_handshake_client_hello, TlsCipherKx,
    TlsCipherSuiteID, TlsExtension,
};

fn u16s(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect()
}

/// Walks extension TLVs in wire order: (type, body).
fn walk_extensions(mut b: &[u8]) -> (Vec<(u16, &[u8])>, bool) {
    let mut out = Vec::new();
    while let [t1, t2, l1, l2, rest @ ..] = b {
        let len = usize::from(u16::from_be_bytes([*l1, *l2]));
        let Some(body) = rest.get(..len) else {
            return (out, false);
        };
        out.push((u16::from_be_bytes([*t1, *t2]), body));
        b = rest.get(len..).unwrap_or_default();
    }
    (out, b.is_empty())
}

/// Extensions block after the fixed fields: u16 length then TLVs; absent is fine.
fn extensions_block(rest: &[u8]) -> &[u8] {
    match rest {
        [a, b, tail @ ..] => {
            let len = usize::from(u16::from_be_bytes([*a, *b]));
            tail.get(..len).unwrap_or(tail)
        }
        _ => &[],
    }
}

pub fn parse_client_hello(body: &[u8]) -> Result<ClientHello, &'static str> {
    let (_, raw) =
        parse_tls_handshake_client_hello(body).map_err(|_| "fixed fields do not parse")?;
    let mut ch = ClientHello {
        legacy_version: raw.version.0,
        random: raw.random.to_vec(),
        session_id: raw.session_id.unwrap_or_default().to_vec(),
        cipher_suites: raw.ciphers.iter().map(|c| c.0).collect(),
        compression_methods: raw.comp.iter().map(|c| c.0).collect(),
        ..Default::default()
    };
    // tls-parser stops at the first extension it cannot parse; walk the raw TLVs ourselves.
    let ext = raw.ext.unwrap_or_default();
    let (exts, _complete) = walk_extensions(ext);
    for (t, data) in exts {
        ch.extensions.push(t);
        let ok = match t {
            0 => match parse_tls_extension_sni_content(data) {
                Ok((_, TlsExtension::SNI(names))) => {
                    ch.sni = names
                        .iter()
                        .find(|(ty, _)| ty.0 == 0)
                        .map(|(_, n)| String::from_utf8_lossy(n).into_owned());
                    true
                }
                _ => false,
            },
            10 => match parse_tls_extension_elliptic_curves_content(data) {
                Ok((_, TlsExtension::EllipticCurves(g))) => {
                    ch.supported_groups = g.iter().map(|g| g.0).collect();
                    true
                }
                _ => false,
            },
            11 => match parse_tls_extension_ec_point_formats_content(data) {
                Ok((_, TlsExtension::EcPointFormats(f))) => {
                    ch.ec_point_formats = f.to_vec();
                    true
                }
                _ => false,
            },
            13 => match parse_tls_extension_signature_algorithms_content(data) {
                Ok((_, TlsExtension::SignatureAlgorithms(s))) => {
                    ch.signature_algorithms = s;
                    true
                }
                _ => false,
            },
            16 => match parse_tls_extension_alpn_content(data) {
                Ok((_, TlsExtension::ALPN(p))) => {
                    ch.alpn = p
                        .iter()
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                        .collect();
                    ch.alpn_first = p.first().map(|p| p.to_vec());
                    true
                }
                _ => false,
            },
            // supported_versions: u8 length, then u16 versions (RFC 8446 §4.2.1).
            43 => match data.split_first() {
                Some((&n, list)) if usize::from(n) == list.len() && n % 2 == 0 => {
                    ch.supported_versions = u16s(list);
                    true
                }
                _ => false,
            },
            // key_share (RFC 8446 §4.2.8): u16 length, then (group, u16 key length, key)*.
            // Draft 23 and earlier used 40 for key_share.
            51 | 40 => match data {
                [a, b, list @ ..] if usize::from(u16::from_be_bytes([*a, *b])) == list.len() => {
                    let mut rest: &[u8] = list;
                    while let [g1, g2, k1, k2, tail @ ..] = rest {
                        ch.key_share_groups.push(u16::from_be_bytes([*g1, *g2]));
                        let klen = usize::from(u16::from_be_bytes([*k1, *k2]));
                        rest = tail.get(klen..).unwrap_or_default();
                    }
                    true
                }
                _ => t == 40,
            },
            41 => {
                ch.psk = true;
                true
            }
            42 => {
                ch.early_data = true;
                true
            }
            0xfe0d => {
                ch.ech = true;
                true
            }
            _ => true,
        };
        if !ok {
            ch.bad_extensions.push(t);
        }
    }
    Ok(ch)
}

pub fn parse_server_hello(body: &[u8]) -> Result<ServerHello, &'static str> {
    let legacy_version = match body {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => return Err("too short"),
    };
    let random = body.get(2..34).ok_or("too short for the random")?;
    let mut sh = ServerHello {
        legacy_version,
        version: legacy_version,
        random: random.to_vec(),
        ..Default::default()
    };
    let rest = body.get(34..).unwrap_or_default();
    // Drafts up to 21 (0x7fXX in the version field) have no session id and no compression
    // (draft-ietf-tls-tls13-18 §4.1.3); tls-parser knows only draft 18, so the fixed fields are
    // read here for every version.
    // A legacy_version of 0x0304 only appears in early drafts, which use the same layout
    // (the final RFC 8446 ServerHello always says 0x0303).
    let ext = if legacy_version >> 8 == 0x7f || legacy_version == 0x0304 {
        match rest {
            [c1, c2, tail @ ..] => {
                sh.cipher_suite = u16::from_be_bytes([*c1, *c2]);
                extensions_block(tail)
            }
            _ => return Err("too short for the cipher suite"),
        }
    } else {
        let (&sid_len, tail) = rest.split_first().ok_or("too short for the session id")?;
        let sid = tail
            .get(..usize::from(sid_len))
            .ok_or("session id longer than the message")?;
        sh.session_id = sid.to_vec();
        match tail.get(usize::from(sid_len)..).unwrap_or_default() {
            [c1, c2, comp, tail @ ..] => {
                sh.cipher_suite = u16::from_be_bytes([*c1, *c2]);
                sh.compression_method = *comp;
                extensions_block(tail)
            }
            _ => return Err("too short for the cipher suite"),
        }
    };
    sh.hello_retry_request = random == HRR_RANDOM;
    let (exts, _) = walk_extensions(ext);
    for (t, data) in exts {
        sh.extensions.push(t);
        match t {
            16 => match parse_tls_extension_alpn_content(data) {
                Ok((_, TlsExtension::ALPN(p))) => {
                    sh.alpn = p.first().map(|p| String::from_utf8_lossy(p).into_owned());
                }
                _ => sh.bad_extensions.push(t),
            },
            43 => match data {
                [a, b] => sh.version = u16::from_be_bytes([*a, *b]),
                _ => sh.bad_extensions.push(t),
            },
            51 | 40 => match data {
                [a, b, ..] => sh.key_share_group = Some(u16::from_be_bytes([*a, *b])),
                _ => sh.bad_extensions.push(t),
            },
            _ => {}
        }
    }
    Ok(sh)
}

/// SSLv2 SERVER-HELLO body after the 2-byte length: msg type 4, session-id-hit, certificate
/// type, version, certificate/specs/connection-id lengths, then the data (SSL 2.0 draft §2.6).
pub(super) fn parse_sslv2_server_hello(msg: &[u8]) -> Option<(ServerHello, Option<Vec<u8>>)> {
    let [4, _hit, cert_type, v1, v2, a1, a2, s1, s2, _i1, _i2, rest @ ..] = msg else {
        return None;
    };
    let cert_len = usize::from(u16::from_be_bytes([*a1, *a2]));
    let spec_len = usize::from(u16::from_be_bytes([*s1, *s2]));
    let cert = rest.get(..cert_len)?;
    let specs = rest.get(cert_len..cert_len + spec_len)?;
    let version = u16::from_be_bytes([*v1, *v2]);
    let sh = ServerHello {
        legacy_version: version,
        version,
        sslv2_cipher_specs: specs
            .chunks_exact(3)
            .map(|c| u32::from_be_bytes([0, c[0], c[1], c[2]]))
            .collect(),
        ..Default::default()
    };
    // Certificate type 1 is X.509; an empty certificate comes with a session-id hit.
    Some((
        sh,
        (*cert_type == 1 && !cert.is_empty()).then(|| cert.to_vec()),
    ))
}

/// SSLv2 CLIENT-HELLO body after the 2-byte length: msg type, version, spec/session/challenge
/// lengths, then the data (RFC 5246 Appendix E.2).
pub(super) fn parse_sslv2_client_hello(msg: &[u8]) -> Option<ClientHello> {
    let [1, v1, v2, s1, s2, i1, i2, c1, c2, rest @ ..] = msg else {
        return None;
    };
    let spec_len = usize::from(u16::from_be_bytes([*s1, *s2]));
    let sid_len = usize::from(u16::from_be_bytes([*i1, *i2]));
    let chal_len = usize::from(u16::from_be_bytes([*c1, *c2]));
    if spec_len % 3 != 0 {
        return None;
    }
    let specs = rest.get(..spec_len)?;
    let sid = rest.get(spec_len..spec_len + sid_len)?;
    let challenge = rest.get(spec_len + sid_len..spec_len + sid_len + chal_len)?;
    Some(ClientHello {
        legacy_version: u16::from_be_bytes([*v1, *v2]),
        random: challenge.to_vec(),
        session_id: sid.to_vec(),
        sslv2: true,
        sslv2_cipher_specs: specs
            .chunks_exact(3)
            .map(|c| u32::from_be_bytes([0, c[0], c[1], c[2]]))
            .collect(),
        ..Default::default()
    })
}

/// A ServerKeyExchange (RFC 5246 §7.4.3): the named group of an ECDHE one (RFC 8422 §5.4), or
/// the size in bits of the prime of a DHE one; which it is, the negotiated cipher suite says.
/// With no ServerHello seen, a body that starts like ECParameters is taken as ECDHE.
pub fn server_key_exchange(body: &[u8], suite: Option<u16>) -> super::Event {
    let kx = suite.and_then(|s| TlsCipherSuiteID(s).get_ciphersuite().map(|c| c.kx));
    let dhe = matches!(kx, Some(TlsCipherKx::Dhe | TlsCipherKx::Dh));
    let group = match body {
        [3, a, b, ..] if !dhe => Some(u16::from_be_bytes([*a, *b])),
        _ => None,
    };
    super::Event::ServerKeyExchange {
        group,
        dh_bits: if dhe { dh_prime_bits(body) } else { None },
    }
}

/// The bit length of `dh_p`, the first field of ServerDHParams (an opaque `<1..2^16-1>`).
fn dh_prime_bits(body: &[u8]) -> Option<u32> {
    let (len, rest) = body.split_first_chunk::<2>()?;
    let p = rest.get(..usize::from(u16::from_be_bytes(*len)))?;
    let start = p.iter().position(|&b| b != 0)?;
    let p = p.get(start..)?;
    let top = p.first()?;
    Some(u32::try_from(p.len()).ok()? * 8 - top.leading_zeros())
}

/// The cipher suite of the last ServerHello among `events`.
pub fn negotiated_suite(events: &[super::Located]) -> Option<u16> {
    events.iter().rev().find_map(|e| match &e.event {
        super::Event::ServerHello(sh) => Some(sh.cipher_suite),
        _ => None,
    })
}

/// EncryptedExtensions (RFC 8446 §4.3.1), seen once decrypted: the extension types in wire
/// order and the ALPN protocol the server chose.
pub fn parse_encrypted_extensions(body: &[u8]) -> Option<(Vec<u16>, Option<String>)> {
    let [a, b, rest @ ..] = body else {
        return None;
    };
    let block = rest.get(..usize::from(u16::from_be_bytes([*a, *b])))?;
    let (exts, complete) = walk_extensions(block);
    if !complete {
        return None;
    }
    let alpn = exts.iter().find(|(t, _)| *t == 16).and_then(|(_, data)| {
        match parse_tls_extension_alpn_content(data) {
            Ok((_, TlsExtension::ALPN(p))) => {
                p.first().map(|p| String::from_utf8_lossy(p).into_owned())
            }
            _ => None,
        }
    });
    Some((exts.iter().map(|(t, _)| *t).collect(), alpn))
}

/// A TLS 1.3 CertificateRequest (RFC 8446 §4.3.2): the distinguished names of its
/// certificate_authorities extension (DER), if any.
pub fn parse_tls13_certificate_request(body: &[u8]) -> Option<Vec<Vec<u8>>> {
    let (&ctx_len, rest) = body.split_first()?;
    let rest = rest.get(usize::from(ctx_len)..)?;
    let (exts, complete) = walk_extensions(extensions_block(rest));
    if !complete {
        return None;
    }
    let mut names = Vec::new();
    if let Some((_, [a, b, list @ ..])) = exts.iter().find(|(t, _)| *t == 47) {
        let mut list: &[u8] = list.get(..usize::from(u16::from_be_bytes([*a, *b])))?;
        while let [l1, l2, tail @ ..] = list {
            let len = usize::from(u16::from_be_bytes([*l1, *l2]));
            names.push(tail.get(..len)?.to_vec());
            list = tail.get(len..)?;
        }
    }
    Some(names)
}
