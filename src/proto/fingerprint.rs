//! fingerprint: parsed hellos in; JA3, JA3S and JA4 strings out.
//!
//! Takes a [`ClientHello`] or [`ServerHello`] from the `tls` stage (code points as sent, GREASE
//! kept, extensions in wire order) and gives:
//!
//! - JA3 and JA3S, the full string and its MD5, as tshark 4.0 computes them (`tls.handshake.ja3`,
//!   `tls.handshake.ja3s`): `version,ciphers,extensions,groups,point_formats` for the client,
//!   `version,cipher,extensions` for the server, decimal code points joined by `-`, GREASE left
//!   out of every list, the version being the legacy (record-era) field.
//! - JA4 (BSD 3-Clause, FoxIO technical_details/JA4.md), with `t`, `q` or `d` for TCP, QUIC or
//!   DTLS as the caller says.
//!
//! GREASE is exactly the sixteen RFC 8701 §2 values (0x0a0a, 0x1a1a, …, 0xfafa), not a mask on
//! the low nibbles. The functions are pure: no I/O, no clock, the same hello always gives the
//! same strings. JA4S, JA4X and the other FoxIO-licensed JA4+ methods are deliberately not here.

use crate::proto::tls::{ClientHello, ServerHello};
use crate::text::{hex, push_hex};
use md5::{Digest, Md5};
use rustc_hash::FxHashMap;
use sha2::Sha256;

/// What carried the hello; JA4's first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TLS over TCP: `t`.
    Tcp,
    /// TLS inside QUIC CRYPTO frames (RFC 9001): `q`.
    Quic,
    /// DTLS over UDP: `d`.
    Dtls,
}

impl Transport {
    fn marker(self) -> char {
        match self {
            Transport::Tcp => 't',
            Transport::Quic => 'q',
            Transport::Dtls => 'd',
        }
    }
}

/// A JA3 or JA3S fingerprint: the comma-separated string and its MD5 (32 lower-case hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ja3 {
    pub full: String,
    pub md5: String,
}

impl Ja3 {
    fn from_full(full: String) -> Self {
        let md5 = hex(&Md5::digest(full.as_bytes()));
        Ja3 { full, md5 }
    }
}

/// Fingerprints already computed by one worker, by everything they are computed from: the
/// clients and servers of a capture send a handful of distinct hellos thousands of times, and
/// building the strings and their hashes costs more than looking them up.
#[derive(Debug, Default)]
pub struct Cache {
    client: FxHashMap<Vec<u16>, (Option<Ja3>, String)>,
    server: FxHashMap<Vec<u16>, Option<Ja3>>,
}

/// Distinct hellos kept (per side) before the cache starts over.
const MAX_CACHED: usize = 4096;

impl Cache {
    /// [`ja3`] and [`ja4`] of a ClientHello.
    pub fn client(&mut self, ch: &ClientHello, transport: Transport) -> (Option<Ja3>, String) {
        let mut key = Vec::with_capacity(128);
        key.extend([transport as u16, ch.legacy_version, u16::from(ch.sslv2)]);
        for list in [
            &ch.cipher_suites,
            &ch.extensions,
            &ch.supported_groups,
            &ch.supported_versions,
            &ch.signature_algorithms,
        ] {
            push_list(&mut key, list.iter().copied());
        }
        push_list(&mut key, ch.ec_point_formats.iter().map(|&p| u16::from(p)));
        let alpn = first_alpn(ch).unwrap_or_default();
        push_list(&mut key, alpn.iter().map(|&b| u16::from(b)));
        cached(&mut self.client, key, || (ja3(ch), ja4(ch, transport)))
    }

    /// [`ja3s`] of a ServerHello.
    pub fn server(&mut self, sh: &ServerHello) -> Option<Ja3> {
        let mut key = Vec::with_capacity(32);
        let sslv2 = u16::from(!sh.sslv2_cipher_specs.is_empty());
        key.extend([sh.legacy_version, sh.cipher_suite, sslv2]);
        push_list(&mut key, sh.extensions.iter().copied());
        cached(&mut self.server, key, || ja3s(sh))
    }
}

/// A list's length, then its values: keys of different lists never run together.
fn push_list(key: &mut Vec<u16>, values: impl ExactSizeIterator<Item = u16>) {
    key.push(u16::try_from(values.len()).unwrap_or(u16::MAX));
    key.extend(values);
}

fn cached<V: Clone>(
    map: &mut FxHashMap<Vec<u16>, V>,
    key: Vec<u16>,
    make: impl FnOnce() -> V,
) -> V {
    if let Some(v) = map.get(&key) {
        return v.clone();
    }
    let v = make();
    if map.len() >= MAX_CACHED {
        map.clear();
    }
    map.insert(key, v.clone());
    v
}

/// RFC 8701 §2: GREASE values are exactly 0x0a0a, 0x1a1a, …, 0xfafa — both bytes equal and
/// each of the form 0x?a. 0x0a0b or 0x0a1a are ordinary (unassigned) code points.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// JA3 of a ClientHello, as tshark 4.0 prints it. None for an SSLv2-format hello: it has no
/// extensions and 3-byte cipher specs, and tshark gives no JA3 for it.
pub fn ja3(ch: &ClientHello) -> Option<Ja3> {
    if ch.sslv2 {
        return None;
    }
    let mut full = String::with_capacity(256);
    push_decimal(&mut full, [ch.legacy_version]);
    full.push(',');
    push_decimal(&mut full, no_grease(&ch.cipher_suites));
    full.push(',');
    push_decimal(&mut full, no_grease(&ch.extensions));
    full.push(',');
    push_decimal(&mut full, no_grease(&ch.supported_groups));
    full.push(',');
    push_decimal(&mut full, ch.ec_point_formats.iter().copied());
    Some(Ja3::from_full(full))
}

/// JA3S of a ServerHello (a HelloRetryRequest included, as tshark does), as tshark 4.0 prints
/// it: the legacy version, not the supported_versions one. None for an SSLv2 SERVER-HELLO.
pub fn ja3s(sh: &ServerHello) -> Option<Ja3> {
    if sh.legacy_version == 0x0002 || !sh.sslv2_cipher_specs.is_empty() {
        return None;
    }
    let mut full = String::with_capacity(64);
    push_decimal(&mut full, [sh.legacy_version]);
    full.push(',');
    push_decimal(&mut full, [sh.cipher_suite]);
    full.push(',');
    push_decimal(&mut full, no_grease(&sh.extensions));
    Some(Ja3::from_full(full))
}

/// JA4 of a ClientHello: `{t|q|d}{version}{d|i}{ciphers:02}{extensions:02}{alpn}_{hash}_{hash}`.
///
/// Edge cases follow FoxIO's technical_details/JA4.md and its Rust tool:
/// - version: the highest non-GREASE supported_versions value when that extension is present,
///   else the legacy version; unknown versions (TLS 1.3 drafts included) are `00`. A
///   supported_versions extension with no usable value falls back to the legacy version (the
///   FoxIO tool gives no fingerprint at all there; a string is more useful than none).
/// - `d` when the SNI extension is present at all, even if its content does not parse.
/// - counts leave GREASE out, keep SNI and ALPN, and stop at 99.
/// - ALPN: the first and last characters of the first protocol (see `alpn_chars` below).
/// - an empty list hashes to `000000000000`; with no signature algorithms the extension
///   string has no trailing `_`.
///
/// An SSLv2-format hello has no cipher suites or extensions in this sense and comes out as
/// e.g. `t10i000000_000000000000_000000000000`.
pub fn ja4(ch: &ClientHello, transport: Transport) -> String {
    let ciphers: Vec<u16> = ch
        .cipher_suites
        .iter()
        .copied()
        .filter(|&c| !is_grease(c))
        .collect();
    let exts: Vec<u16> = ch
        .extensions
        .iter()
        .copied()
        .filter(|&e| !is_grease(e))
        .collect();
    let sni = if exts.contains(&EXT_SERVER_NAME) {
        'd'
    } else {
        'i'
    };
    let [a0, a1] = alpn_chars(first_alpn(ch));

    let mut sorted_ciphers = ciphers.clone();
    sorted_ciphers.sort_unstable();
    let mut sorted_exts: Vec<u16> = exts
        .iter()
        .copied()
        .filter(|&e| e != EXT_SERVER_NAME && e != EXT_ALPN)
        .collect();
    sorted_exts.sort_unstable();
    let sigs: Vec<u16> = ch
        .signature_algorithms
        .iter()
        .copied()
        .filter(|&s| !is_grease(s))
        .collect();
    let mut ext_part = join_hex(&sorted_exts);
    if !sigs.is_empty() {
        ext_part.push('_');
        ext_part.push_str(&join_hex(&sigs));
    }

    format!(
        "{}{}{}{:02}{:02}{}{}_{}_{}",
        transport.marker(),
        ja4_version(ch),
        sni,
        ciphers.len().min(99),
        exts.len().min(99),
        a0,
        a1,
        hash12(&join_hex(&sorted_ciphers)),
        hash12(&ext_part),
    )
}

/// supported_versions (RFC 8446 §4.2.1).
const EXT_SUPPORTED_VERSIONS: u16 = 43;
/// server_name (RFC 6066 §3).
const EXT_SERVER_NAME: u16 = 0;
/// application_layer_protocol_negotiation (RFC 7301 §3.1).
const EXT_ALPN: u16 = 16;

fn ja4_version(ch: &ClientHello) -> &'static str {
    let offered = ch
        .extensions
        .contains(&EXT_SUPPORTED_VERSIONS)
        .then(|| {
            ch.supported_versions
                .iter()
                .copied()
                .filter(|&v| !is_grease(v))
                .max()
        })
        .flatten();
    match offered.unwrap_or(ch.legacy_version) {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// The first ALPN protocol name's bytes as sent (those of the lossy name when a hello was
/// built without them).
fn first_alpn(ch: &ClientHello) -> Option<&[u8]> {
    ch.alpn_first
        .as_deref()
        .or_else(|| ch.alpn.first().map(String::as_bytes))
}

/// JA4's two ALPN characters from the first protocol name (JA4.md, "ALPN Extension Value"):
/// `00` when there is no ALPN or the first name is empty; the first and last bytes when both
/// are ASCII alphanumeric (a one-byte name gives that byte twice); otherwise the first and
/// last characters of the name's lower-case hex (`0x30 0xAB` gives `3b`).
///
/// The bytes are the name as sent ([`ClientHello::alpn_first`]), not the lossy UTF-8 the
/// record shows: a name such as `0xab 0xcd` gives `ad`, not the hex of U+FFFD.
fn alpn_chars(first: Option<&[u8]>) -> [char; 2] {
    let Some((&head, rest)) = first.and_then(<[u8]>::split_first) else {
        return ['0', '0'];
    };
    let tail = rest.last().copied().unwrap_or(head);
    if head.is_ascii_alphanumeric() && tail.is_ascii_alphanumeric() {
        return [char::from(head), char::from(tail)];
    }
    [nibble(head >> 4), nibble(tail & 0x0f)]
}

fn nibble(n: u8) -> char {
    char::from_digit(u32::from(n & 0x0f), 16).unwrap_or('0')
}

/// First 12 hex characters of SHA-256, or twelve zeros for an empty list (JA4.md: "rather than
/// running a sha256 hash of nothing").
fn hash12(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".to_string();
    }
    let mut h = hex(&Sha256::digest(s.as_bytes()));
    h.truncate(12);
    h
}

/// The values that are not GREASE, in order.
fn no_grease(values: &[u16]) -> impl Iterator<Item = u16> + '_ {
    values.iter().copied().filter(|&v| !is_grease(v))
}

/// Appends the values in decimal joined by `-`, as JA3 writes its lists.
fn push_decimal<T: itoa::Integer>(out: &mut String, values: impl IntoIterator<Item = T>) {
    let mut digits = itoa::Buffer::new();
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        out.push_str(digits.format(v));
    }
}

/// The values as four lower-case hex digits each, joined by `,`, as JA4 hashes its lists.
fn join_hex(values: &[u16]) -> String {
    let mut out = String::with_capacity(values.len() * 5);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_hex(&mut out, &v.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ClientHello of FoxIO's JA4.md example (Chrome, 15 ciphers, 16 extensions).
    fn foxio_example() -> ClientHello {
        ClientHello {
            legacy_version: 0x0303,
            cipher_suites: vec![
                0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
                0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ],
            extensions: vec![
                0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023,
                0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
            ],
            sni: Some("example.com".into()),
            alpn: vec!["h2".into(), "http/1.1".into()],
            supported_versions: vec![0x0304, 0x0303],
            signature_algorithms: vec![
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
            ],
            ..Default::default()
        }
    }

    /// The same hello with GREASE where Chrome puts it.
    fn greased(mut ch: ClientHello) -> ClientHello {
        ch.cipher_suites.insert(0, 0x2a2a);
        ch.extensions.insert(0, 0x8a8a);
        ch.extensions.push(0xdada);
        ch.supported_versions.insert(0, 0x7a7a);
        ch.supported_groups.insert(0, 0x4a4a);
        ch.signature_algorithms.insert(0, 0xfafa);
        ch
    }

    #[test]
    fn the_cache_gives_what_the_functions_give_and_tells_hellos_apart() {
        let mut cache = Cache::default();
        let base = foxio_example();
        let mut other_sni = base.clone();
        other_sni.sni = Some("elsewhere.example".into());
        other_sni.session_id = vec![7; 32];
        let mut other_cipher = base.clone();
        other_cipher.cipher_suites.pop();
        let mut other_alpn = base.clone();
        other_alpn.alpn = vec!["http/1.1".into()];
        let mut moved = base.clone();
        // The same values in other lists must not make the same key.
        moved.supported_groups = moved.signature_algorithms.clone();
        moved.signature_algorithms = base.supported_groups.clone();
        for (ch, t) in [
            (&base, Transport::Tcp),
            (&other_sni, Transport::Tcp),
            (&other_cipher, Transport::Tcp),
            (&other_alpn, Transport::Tcp),
            (&moved, Transport::Tcp),
            (&base, Transport::Quic),
        ] {
            assert_eq!(cache.client(ch, t), (ja3(ch), ja4(ch, t)));
        }
        // The SNI and session id are not part of any fingerprint: one entry serves both.
        assert_eq!(cache.client.len(), 5);
    }

    #[test]
    fn grease_is_exactly_the_sixteen_rfc_8701_values() {
        let all: Vec<u16> = (0..=u16::MAX).filter(|&v| is_grease(v)).collect();
        let expected: Vec<u16> = (0..16u16)
            .map(|i| (i << 12) | 0x0a00 | (i << 4) | 0x0a)
            .collect();
        assert_eq!(all, expected);
        assert_eq!(all.first(), Some(&0x0a0a));
        assert_eq!(all.last(), Some(&0xfafa));
        for not in [
            0x0a0b, 0x0b0a, 0x0a1a, 0x1a0a, 0xaaab, 0x0000, 0xffff, 0xcaba,
        ] {
            assert!(!is_grease(not), "{not:#06x} is not GREASE");
        }
    }

    #[test]
    fn ja4_matches_the_foxio_specification_example() {
        assert_eq!(
            ja4(&foxio_example(), Transport::Tcp),
            "t13d1516h2_8daaf6152771_e5627efa2ab1"
        );
    }

    #[test]
    fn ja4_ignores_grease_everywhere_but_not_near_grease_values() {
        assert_eq!(
            ja4(&greased(foxio_example()), Transport::Tcp),
            "t13d1516h2_8daaf6152771_e5627efa2ab1"
        );
        let mut ch = foxio_example();
        ch.cipher_suites.push(0x0a0b);
        assert!(ja4(&ch, Transport::Tcp).starts_with("t13d1616h2_"));
    }

    #[test]
    fn ja4_marks_quic_and_dtls_transports() {
        let ch = foxio_example();
        assert!(ja4(&ch, Transport::Quic).starts_with("q13d1516h2_"));
        let mut dtls = foxio_example();
        dtls.legacy_version = 0xfefd;
        dtls.extensions.retain(|&e| e != 43);
        assert!(ja4(&dtls, Transport::Dtls).starts_with("dd2d1515h2_"));
    }

    #[test]
    fn ja4_version_comes_from_supported_versions_only_when_the_extension_is_there() {
        let mut ch = foxio_example();
        ch.supported_versions = vec![0x3a3a, 0x0302, 0x0303];
        assert!(ja4(&ch, Transport::Tcp).starts_with("t12"));
        ch.extensions.retain(|&e| e != 43);
        ch.legacy_version = 0x0301;
        assert!(ja4(&ch, Transport::Tcp).starts_with("t10"));
        // Only GREASE offered: fall back to the legacy version.
        ch.extensions.push(43);
        ch.supported_versions = vec![0x3a3a];
        assert!(ja4(&ch, Transport::Tcp).starts_with("t10"));
        // A TLS 1.3 draft is not a version JA4 names.
        ch.supported_versions = vec![0x7f17, 0x0303];
        assert!(ja4(&ch, Transport::Tcp).starts_with("t00"));
        for (v, s) in [
            (0x0300, "s3"),
            (0x0002, "s2"),
            (0xfeff, "d1"),
            (0xfefc, "d3"),
        ] {
            let ch = ClientHello {
                legacy_version: v,
                ..Default::default()
            };
            assert_eq!(&ja4(&ch, Transport::Tcp)[1..3], s);
        }
    }

    #[test]
    fn ja4_of_an_empty_hello_uses_zero_hashes() {
        let ch = ClientHello {
            legacy_version: 0x0301,
            ..Default::default()
        };
        assert_eq!(
            ja4(&ch, Transport::Tcp),
            "t10i000000_000000000000_000000000000"
        );
        // Only SNI and ALPN: both are counted, neither is hashed.
        let ch = ClientHello {
            legacy_version: 0x0303,
            cipher_suites: vec![0x0a0a],
            extensions: vec![0, 16],
            alpn: vec!["h2".into()],
            ..Default::default()
        };
        assert_eq!(
            ja4(&ch, Transport::Tcp),
            "t12d0002h2_000000000000_000000000000"
        );
    }

    #[test]
    fn ja4_without_signature_algorithms_has_no_trailing_underscore() {
        let mut ch = foxio_example();
        ch.signature_algorithms.clear();
        // JA4.md: "0005,000a,…,ff01 = 6d807ffa2a79".
        assert_eq!(
            ja4(&ch, Transport::Tcp),
            "t13d1516h2_8daaf6152771_6d807ffa2a79"
        );
    }

    #[test]
    fn ja4_counts_stop_at_99() {
        let ch = ClientHello {
            legacy_version: 0x0303,
            cipher_suites: (1..=150).collect(),
            extensions: (100..=250).collect(),
            ..Default::default()
        };
        assert!(ja4(&ch, Transport::Tcp).starts_with("t12i999900_"));
    }

    #[test]
    fn alpn_characters_follow_the_alphanumeric_and_hex_rules() {
        let cases: &[(Option<&[u8]>, &str)] = &[
            (None, "00"),
            (Some(b""), "00"),
            (Some(b"h2"), "h2"),
            (Some(b"http/1.1"), "h1"),
            (Some(b"h"), "hh"),
            (Some(b"h3-29"), "h9"),
            // JA4.md examples of the hex rule.
            (Some(&[0xab]), "ab"),
            (Some(&[0xab, 0xcd]), "ad"),
            (Some(&[0x30, 0xab]), "3b"),
            (Some(&[0x30, 0x31, 0xab, 0xcd]), "3d"),
            (Some(&[0x30, 0xab, 0xcd, 0x31]), "01"),
            // Printable but not alphanumeric.
            (Some(b"/x"), "28"),
            (Some(b"x/"), "7f"),
            (Some(b"-"), "2d"),
        ];
        for (input, want) in cases {
            let got: String = alpn_chars(*input).iter().collect();
            assert_eq!(&got, want, "ALPN {input:?}");
        }
    }

    #[test]
    fn ja4_alpn_of_a_non_ascii_name_uses_the_bytes_sent() {
        let mut ch = foxio_example();
        ch.alpn = vec![String::from_utf8_lossy(&[0xab, 0xcd]).into_owned()];
        ch.alpn_first = Some(vec![0xab, 0xcd]);
        let j = ja4(&ch, Transport::Tcp);
        assert_eq!(&j[8..10], "ad", "{j}");
    }

    #[test]
    fn ja4_alpn_is_the_first_protocol_and_00_without_alpn() {
        let mut ch = foxio_example();
        ch.alpn = vec!["http/1.1".into(), "h2".into()];
        assert!(ja4(&ch, Transport::Tcp).starts_with("t13d1516h1_"));
        ch.alpn.clear();
        ch.extensions.retain(|&e| e != 16);
        assert!(ja4(&ch, Transport::Tcp).starts_with("t13d151500_"));
    }

    #[test]
    fn ja3_leaves_grease_out_of_every_list() {
        let ch = ClientHello {
            legacy_version: 0x0303,
            cipher_suites: vec![0x1a1a, 0x1301, 0x0a0b],
            extensions: vec![0x2a2a, 0, 10, 11, 0x3a3a],
            supported_groups: vec![0x4a4a, 29, 23],
            ec_point_formats: vec![0],
            ..Default::default()
        };
        let j = ja3(&ch).unwrap();
        assert_eq!(j.full, "771,4865-2571,0-10-11,29-23,0");
        assert_eq!(j.md5.len(), 32);
        assert_eq!(j.md5, hex(&Md5::digest(j.full.as_bytes())));
    }

    #[test]
    fn ja3_of_a_hello_without_extensions_keeps_empty_fields() {
        let ch = ClientHello {
            legacy_version: 0x0301,
            cipher_suites: vec![5, 47, 53, 10, 255],
            extensions: vec![0, 35],
            ..Default::default()
        };
        assert_eq!(ja3(&ch).unwrap().full, "769,5-47-53-10-255,0-35,,");
        let bare = ClientHello::default();
        assert_eq!(ja3(&bare).unwrap().full, "0,,,,");
    }

    #[test]
    fn ja3_matches_a_known_md5() {
        // tshark 4.0.17 on FoxIO's pcap/tls12.pcap.
        let ch = ClientHello {
            legacy_version: 0x0303,
            cipher_suites: vec![
                4865, 4867, 4866, 49195, 49199, 52393, 52392, 49196, 49200, 49162, 49161, 49171,
                49172, 156, 157, 47, 53,
            ],
            extensions: vec![0, 23, 65281, 10, 11, 35, 16, 5, 34, 51, 43, 13, 45, 28, 21],
            supported_groups: vec![29, 23, 24, 25, 256, 257],
            ec_point_formats: vec![0],
            ..Default::default()
        };
        assert_eq!(ja3(&ch).unwrap().md5, "579ccef312d18482fc42e2b822ca2430");
    }

    #[test]
    fn sslv2_hellos_have_no_ja3_or_ja3s() {
        let ch = ClientHello {
            legacy_version: 0x0301,
            sslv2: true,
            sslv2_cipher_specs: vec![0x010080, 0x39],
            ..Default::default()
        };
        assert_eq!(ja3(&ch), None);
        assert_eq!(
            ja4(&ch, Transport::Tcp),
            "t10i000000_000000000000_000000000000"
        );
        let sh = ServerHello {
            legacy_version: 0x0002,
            version: 0x0002,
            sslv2_cipher_specs: vec![0x010080],
            ..Default::default()
        };
        assert_eq!(ja3s(&sh), None);
    }

    #[test]
    fn ja3s_uses_the_legacy_version_and_drops_grease_extensions() {
        let sh = ServerHello {
            legacy_version: 0x0303,
            version: 0x0304,
            cipher_suite: 0x1301,
            extensions: vec![51, 0x0a0a, 43],
            ..Default::default()
        };
        let j = ja3s(&sh).unwrap();
        assert_eq!(j.full, "771,4865,51-43");
        assert_eq!(j.md5, "eb1d94daa7e0344597e756a1fb6e7054");
    }

    /// The corpus walk lives in its own module: it is long and needs JSON.
    mod corpus {
        use super::super::*;
        use crate::capture;
        use crate::flow::{FlowApp, FlowTable};
        use crate::net;
        use crate::proto::conversation::Conversation;
        use crate::proto::tls::Event;
        use serde_json::Value;
        use std::collections::BTreeMap;
        use std::path::{Path, PathBuf};

        /// (client ip, client port, server ip, server port), as text.
        type Key = (String, u16, String, u16);

        /// One TCP connection as this crate saw it.
        struct Seen {
            client_hellos: Vec<ClientHello>,
            server_hellos: Vec<ServerHello>,
            /// The server side's events in short form, to explain a missing hello.
            server_events: Vec<String>,
        }

        /// Expected values shown to be wrong: (capture, client->server, field, why). Each
        /// was checked against the capture bytes.
        const KNOWN_WRONG: &[(&str, &str, &str, &str)] = &[
            (
                "suricata-verify/tls__tls13-draft14__tls13_draft14.pcap",
                "10.0.2.15:54049->52.32.149.186:443",
                "ja3s",
                "the ServerHello says 0x0304 and uses the draft-14 layout (no session id, \
                 draft-ietf-tls-tls13-14 §6.3.1.3); tshark 4.0 reads the cipher's first byte \
                 0xc0 as a 192-byte session id in a 111-byte message and prints cipher 0xacad \
                 (random bytes) with no extensions. The bytes say cipher 0xc02b, one \
                 extension: key_share (40), so 772,49195,40",
            ),
            (
                "suricata-verify/tls__tls13-draft14__tls13_draft14.pcap",
                "10.0.2.15:54049->52.32.149.186:443",
                "ja3s md5",
                "the MD5 of the misread string above",
            ),
        ];

        fn corpus_dir() -> PathBuf {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
        }

        fn connections(bytes: &[u8], name: &str) -> BTreeMap<Key, Vec<Seen>> {
            let mut table: FlowTable<Conversation> = FlowTable::new(Default::default());
            let mut flows = Vec::new();
            let read = capture::read_bytes(name, bytes, &mut |frame| {
                if let Ok(pkt) = net::decode(frame.link_type, frame.data) {
                    table.packet(&pkt, frame.number, frame.ts);
                    table.drain_finished(&mut |f| flows.push(*f));
                }
            });
            if let Err(e) = read {
                panic!("{name}: {e}");
            }
            table.finish_all(&mut |f| flows.push(*f));
            flows.sort_by_key(|f| f.first_frame);
            let mut out: BTreeMap<Key, Vec<Seen>> = BTreeMap::new();
            for f in flows {
                let Some(c) = f.app.client_side() else {
                    continue;
                };
                let s = 1 - c;
                let hellos = |side: usize| f.app.dirs[side].events.iter().map(|e| &e.event);
                let seen = Seen {
                    client_hellos: hellos(c)
                        .filter_map(|e| match e {
                            Event::ClientHello(ch) => Some(ch.as_ref().clone()),
                            _ => None,
                        })
                        .collect(),
                    server_hellos: hellos(s)
                        .filter_map(|e| match e {
                            Event::ServerHello(sh) => Some(sh.as_ref().clone()),
                            _ => None,
                        })
                        .collect(),
                    server_events: hellos(s).map(short).collect(),
                };
                let (ce, se) = (&f.sides[c].endpoint, &f.sides[s].endpoint);
                out.entry((ce.ip.to_string(), ce.port, se.ip.to_string(), se.port))
                    .or_default()
                    .push(seen);
            }
            out
        }

        fn short(e: &Event) -> String {
            match e {
                Event::ClientHello(_) => "ClientHello".into(),
                Event::ServerHello(sh) if sh.hello_retry_request => "HelloRetryRequest".into(),
                Event::ServerHello(_) => "ServerHello".into(),
                Event::EncryptionStarted { content_type, .. } => {
                    format!("EncryptionStarted({content_type})")
                }
                Event::Malformed(m) => format!("Malformed({m})"),
                other => format!("{other:?}").chars().take(24).collect(),
            }
        }

        fn port(v: &Value) -> u16 {
            match v {
                Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()).unwrap_or(0),
                Value::String(s) => s.parse().unwrap_or(0),
                _ => 0,
            }
        }

        fn text(v: &Value) -> String {
            v.as_str().unwrap_or_default().to_string()
        }

        #[derive(Default)]
        struct Tally {
            compared: usize,
            matched: usize,
            known_wrong: usize,
        }

        struct Check<'a> {
            capture: &'a str,
            failures: Vec<String>,
            tallies: BTreeMap<&'static str, Tally>,
        }

        impl Check<'_> {
            fn compare(
                &mut self,
                what: &'static str,
                key: &Key,
                want: Option<&str>,
                got: Option<&str>,
            ) {
                let t = self.tallies.entry(what).or_default();
                t.compared += 1;
                if want == got {
                    t.matched += 1;
                    return;
                }
                let k = format!("{}:{}->{}:{}", key.0, key.1, key.2, key.3);
                if let Some((.., why)) = KNOWN_WRONG
                    .iter()
                    .find(|(c, kk, w, _)| *c == self.capture && *kk == k && *w == what)
                {
                    eprintln!(
                        "expected value known wrong: {} {k} {what}: {why}",
                        self.capture
                    );
                    t.known_wrong += 1;
                    return;
                }
                self.failures.push(format!(
                    "{} {k} {what}: expected {want:?}, got {got:?}",
                    self.capture
                ));
            }
        }

        #[test]
        fn ja3_ja3s_and_ja4_match_tshark_and_foxio_on_every_tcp_hello_of_the_corpus() {
            let dir = corpus_dir();
            let Ok(mut files) = std::fs::read_dir(&dir).map(|rd| {
                rd.flatten()
                    .map(|e| e.path().join("expected"))
                    .filter(|p| p.is_dir())
                    .flat_map(|p| std::fs::read_dir(p).into_iter().flatten().flatten())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "json"))
                    .collect::<Vec<_>>()
            }) else {
                eprintln!("no corpus at {}; skipped", dir.display());
                return;
            };
            files.sort();
            let mut failures = Vec::new();
            let mut tallies: BTreeMap<&'static str, Tally> = BTreeMap::new();
            for file in &files {
                let doc: Value = serde_json::from_slice(&std::fs::read(file).unwrap_or_default())
                    .unwrap_or(Value::Null);
                let capture = text(&doc["capture"]);
                let Ok(bytes) = std::fs::read(dir.join(&capture)) else {
                    failures.push(format!("{capture}: capture missing"));
                    continue;
                };
                let seen = connections(&bytes, &capture);
                let mut check = Check {
                    capture: &capture,
                    failures: Vec::new(),
                    tallies: BTreeMap::new(),
                };
                for exp in doc["expected"].as_array().into_iter().flatten() {
                    match exp["tool"].as_str() {
                        Some("tshark-4.0.17") => tshark(exp, &seen, &mut check),
                        Some("ja4-expected") => foxio(exp, &seen, &mut check),
                        _ => {}
                    }
                }
                failures.append(&mut check.failures);
                for (k, t) in check.tallies {
                    let all = tallies.entry(k).or_default();
                    all.compared += t.compared;
                    all.matched += t.matched;
                    all.known_wrong += t.known_wrong;
                }
            }
            for (what, t) in &tallies {
                eprintln!(
                    "{what}: {} compared, {} matched, {} listed as wrong expectations",
                    t.compared, t.matched, t.known_wrong
                );
            }
            for f in &failures {
                eprintln!("MISMATCH {f}");
            }
            let ja3 = tallies.get("ja3").map_or(0, |t| t.compared);
            assert!(ja3 > 100, "only {ja3} JA3 values compared");
            assert!(failures.is_empty(), "{} mismatches", failures.len());
        }

        /// tshark streams: JA3 per ClientHello, JA3S per ServerHello, in stream order.
        fn tshark(exp: &Value, seen: &BTreeMap<Key, Vec<Seen>>, check: &mut Check<'_>) {
            let mut occurrence: BTreeMap<Key, usize> = BTreeMap::new();
            for st in exp["streams"].as_array().into_iter().flatten() {
                if st["transport"] != "tcp" || st["protocols"] != serde_json::json!(["tls"]) {
                    continue;
                }
                let key = (
                    text(&st["client_ip"]),
                    port(&st["client_port"]),
                    text(&st["server_ip"]),
                    port(&st["server_port"]),
                );
                let n = occurrence.entry(key.clone()).or_default();
                let conn = seen.get(&key).and_then(|v| v.get(*n));
                *n += 1;
                for (i, want) in st["client_hellos"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let got = conn.and_then(|c| c.client_hellos.get(i)).and_then(ja3);
                    let w = (want["ja3_full"].as_str(), want["ja3"].as_str());
                    check.compare("ja3", &key, w.0, got.as_ref().map(|j| j.full.as_str()));
                    check.compare("ja3 md5", &key, w.1, got.as_ref().map(|j| j.md5.as_str()));
                }
                for (i, want) in st["server_hellos"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    if let Some(c) = conn.filter(|c| c.server_hellos.len() <= i) {
                        check.failures.push(format!(
                            "{} {}:{}->{}:{} ja3s: tshark has ServerHello #{} (frame {}), the \
                             tls stage gave {}; server events: {}",
                            check.capture,
                            key.0,
                            key.1,
                            key.2,
                            key.3,
                            i + 1,
                            want["frame"],
                            c.server_hellos.len(),
                            c.server_events.join(", ")
                        ));
                        continue;
                    }
                    let got = conn.and_then(|c| c.server_hellos.get(i)).and_then(ja3s);
                    let w = (want["ja3s_full"].as_str(), want["ja3s"].as_str());
                    check.compare("ja3s", &key, w.0, got.as_ref().map(|j| j.full.as_str()));
                    check.compare("ja3s md5", &key, w.1, got.as_ref().map(|j| j.md5.as_str()));
                }
            }
        }

        /// FoxIO outputs: the Rust CLI (first ClientHello per stream), the Python script
        /// (`JA4.1`, `JA4.2`, … per ClientHello) and the Zeek package (ssl.log `ja4`).
        fn foxio(exp: &Value, seen: &BTreeMap<Key, Vec<Seen>>, check: &mut Check<'_>) {
            let rows = exp["flows"]
                .as_array()
                .or_else(|| exp["records"].as_array())
                .into_iter()
                .flatten();
            // Rows of one key, by stream number where there is one.
            let mut by_key: BTreeMap<Key, Vec<&Value>> = BTreeMap::new();
            for row in rows {
                let key = if row.get("id.orig_h").is_some() {
                    (
                        text(&row["id.orig_h"]),
                        port(&row["id.orig_p"]),
                        text(&row["id.resp_h"]),
                        port(&row["id.resp_p"]),
                    )
                } else {
                    let sp = row.get("src_port").unwrap_or(&row["srcport"]);
                    let dp = row.get("dst_port").unwrap_or(&row["dstport"]);
                    (text(&row["src"]), port(sp), text(&row["dst"]), port(dp))
                };
                by_key.entry(key).or_default().push(row);
            }
            for (key, mut rows) in by_key {
                rows.sort_by_key(|r| r["stream"].as_u64());
                for (n, row) in rows.into_iter().enumerate() {
                    let conn = seen.get(&key).and_then(|v| v.get(n));
                    let mut wants: Vec<(usize, &str)> = Vec::new();
                    if let Some(w) = row["ja4"].as_str() {
                        wants.push((0, w));
                    }
                    for i in 1.. {
                        match row[format!("JA4.{i}").as_str()].as_str() {
                            Some(w) => wants.push((i - 1, w)),
                            None => break,
                        }
                    }
                    for (i, want) in wants {
                        if row["transport"].as_str().is_some_and(|t| t != "tcp")
                            || !want.starts_with('t')
                        {
                            continue;
                        }
                        let got = conn
                            .and_then(|c| c.client_hellos.get(i))
                            .map(|ch| ja4(ch, Transport::Tcp));
                        check.compare("ja4", &key, Some(want), got.as_deref());
                    }
                }
            }
        }
    }
}
