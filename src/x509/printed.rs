//! printed: one certificate's DER in; its fields as OpenSSL prints them out, which is what
//! Zeek's `x509.log` holds (Zeek fills that log from OpenSSL): version, serial as uppercase hex,
//! subject and issuer in RFC 2253 order and escaping, validity in Unix seconds, key and
//! signature algorithm long names, key type, length, RSA exponent, EC curve short name, the
//! subjectAltName lists and basicConstraints.
//!
//! Guarantees: a function of the DER alone, computed on demand (nothing is added to the
//! connection record); a certificate that does not parse gives `None`, an extension that does
//! not parse counts as absent; no panic on any input.
//!
//! Deliberately not done: judging anything, and OpenSSL's names for every algorithm it knows:
//! an OID outside the tables here is printed dotted, as OpenSSL does for OIDs it does not know.

use std::net::IpAddr;
use x509_parser::extensions::GeneralName;
use x509_parser::objects::{oid2sn, oid_registry};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};
use x509_parser::public_key::PublicKey;

/// A certificate's fields as OpenSSL (and so Zeek) prints them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Printed {
    /// 1, 2 or 3.
    pub version: u32,
    /// Uppercase hex of the serial's value, without DER's leading zero byte (`i2a_ASN1_INTEGER`).
    pub serial: String,
    /// RFC 2253 (`XN_FLAG_RFC2253`): most specific RDN first, `,` between RDNs.
    pub subject: String,
    pub issuer: String,
    pub not_before: i64,
    pub not_after: i64,
    /// Long name of the key algorithm: `rsaEncryption`, `id-ecPublicKey`, …
    pub key_alg: String,
    /// Long name of the signature algorithm: `sha256WithRSAEncryption`, `ecdsa-with-SHA384`, …
    pub sig_alg: String,
    /// `rsa`, `dsa` or `ecdsa`, as Zeek names them; `None` for other keys.
    pub key_type: Option<&'static str>,
    /// RSA modulus bits, or the EC curve's size.
    pub key_length: Option<u32>,
    /// RSA public exponent in decimal.
    pub exponent: Option<String>,
    /// EC curve, OpenSSL's short name (`prime256v1`, `secp384r1`).
    pub curve: Option<String>,
    pub san_dns: Vec<String>,
    pub san_uri: Vec<String>,
    pub san_email: Vec<String>,
    pub san_ip: Vec<IpAddr>,
    /// basicConstraints: (cA, pathLenConstraint); `None` without the extension.
    pub basic_constraints: Option<(bool, Option<u32>)>,
}

impl Printed {
    /// The printed fields of `der`, or `None` when it does not parse as a certificate.
    pub fn from_der(der: &[u8]) -> Option<Printed> {
        let (_, c) = X509Certificate::from_der(der).ok()?;
        let v = c.validity();
        let mut p = Printed {
            version: c.version().0.saturating_add(1),
            serial: serial_hex(c.raw_serial()),
            subject: rfc2253(c.subject()),
            issuer: rfc2253(c.issuer()),
            not_before: v.not_before.timestamp(),
            not_after: v.not_after.timestamp(),
            sig_alg: long_name(&c.signature_algorithm.algorithm),
            ..Printed::default()
        };
        key(&c, &mut p);
        if let Ok(Some(san)) = c.subject_alternative_name() {
            for n in &san.value.general_names {
                match n {
                    GeneralName::DNSName(d) => p.san_dns.push(d.to_string()),
                    GeneralName::URI(u) => p.san_uri.push(u.to_string()),
                    GeneralName::RFC822Name(e) => p.san_email.push(e.to_string()),
                    GeneralName::IPAddress(b) => {
                        if let Ok(a) = <[u8; 4]>::try_from(*b) {
                            p.san_ip.push(IpAddr::from(a));
                        } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                            p.san_ip.push(IpAddr::from(a));
                        }
                    }
                    _ => {}
                }
            }
        }
        if let Ok(Some(bc)) = c.basic_constraints() {
            p.basic_constraints = Some((bc.value.ca, bc.value.path_len_constraint));
        }
        Some(p)
    }
}

/// The long name OpenSSL gives an algorithm OID (oid-registry's names are OpenSSL's long names
/// for the algorithms certificates use), or the dotted OID.
fn long_name(oid: &x509_parser::der_parser::oid::Oid<'_>) -> String {
    oid2sn(oid, oid_registry())
        .map(str::to_string)
        .unwrap_or_else(|_| oid.to_id_string())
}

/// Named curves: OID, OpenSSL short name, size in bits.
const CURVES: &[(&str, &str, u32)] = &[
    ("1.2.840.10045.3.1.7", "prime256v1", 256),
    ("1.3.132.0.34", "secp384r1", 384),
    ("1.3.132.0.35", "secp521r1", 521),
    ("1.3.132.0.10", "secp256k1", 256),
    ("1.3.132.0.33", "secp224r1", 224),
    ("1.2.840.10045.3.1.1", "prime192v1", 192),
    ("1.3.36.3.3.2.8.1.1.7", "brainpoolP256r1", 256),
    ("1.3.36.3.3.2.8.1.1.11", "brainpoolP384r1", 384),
    ("1.3.36.3.3.2.8.1.1.13", "brainpoolP512r1", 512),
];

fn key(c: &X509Certificate<'_>, p: &mut Printed) {
    let spki = c.public_key();
    p.key_alg = long_name(&spki.algorithm.algorithm);
    match spki.parsed() {
        Ok(PublicKey::RSA(k)) => {
            p.key_type = Some("rsa");
            p.key_length = Some(bit_len(k.modulus));
            p.exponent = decimal(k.exponent);
        }
        Ok(PublicKey::EC(_)) => {
            p.key_type = Some("ecdsa");
            let oid = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|a| a.as_oid().ok())
                .map(|o| o.to_id_string());
            if let Some(oid) = oid {
                match CURVES.iter().find(|(o, _, _)| *o == oid) {
                    Some((_, name, bits)) => {
                        p.curve = Some((*name).to_string());
                        p.key_length = Some(*bits);
                    }
                    None => p.curve = Some(oid),
                }
            }
        }
        // Zeek's DSA key length is the bits of p, which the SPKI's parameters hold and
        // x509-parser does not parse: left unset rather than guessed.
        Ok(PublicKey::DSA(_)) => p.key_type = Some("dsa"),
        _ => {}
    }
}

/// Bit length of a big-endian unsigned integer (leading zero bytes ignored).
fn bit_len(bytes: &[u8]) -> u32 {
    let Some(i) = bytes.iter().position(|&b| b != 0) else {
        return 0;
    };
    let first = bytes.get(i).copied().unwrap_or(0);
    let rest = u32::try_from(bytes.len() - i - 1).unwrap_or(u32::MAX / 16);
    rest.saturating_mul(8)
        .saturating_add(8 - first.leading_zeros())
}

/// A big-endian unsigned integer of at most 16 bytes in decimal (`None` when larger).
fn decimal(bytes: &[u8]) -> Option<String> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let digits = bytes.get(start..)?;
    if digits.len() > 16 {
        return None;
    }
    let n = digits.iter().fold(0u128, |n, &b| (n << 8) | u128::from(b));
    Some(n.to_string())
}

/// The serial as OpenSSL's `i2a_ASN1_INTEGER` writes it: uppercase hex of the value, a `-`
/// before a negative one, and `00` for zero.
fn serial_hex(raw: &[u8]) -> String {
    let negative = raw.first().is_some_and(|b| b & 0x80 != 0);
    let magnitude: Vec<u8> = if negative {
        // Two's complement: invert and add one.
        let mut m: Vec<u8> = raw.iter().map(|b| !b).collect();
        for b in m.iter_mut().rev() {
            let (v, carry) = b.overflowing_add(1);
            *b = v;
            if !carry {
                break;
            }
        }
        m
    } else {
        raw.to_vec()
    };
    let start = magnitude
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(magnitude.len());
    let digits = magnitude.get(start..).unwrap_or_default();
    let mut out = String::with_capacity(digits.len() * 2 + 1);
    if negative {
        out.push('-');
    }
    if digits.is_empty() {
        out.push_str("00");
    }
    for b in digits {
        out.push_str(&format!("{b:02X}"));
    }
    out
}

/// Attribute types: OID and OpenSSL's short name.
const ATTRIBUTES: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.4", "SN"),
    ("2.5.4.5", "serialNumber"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "street"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.12", "title"),
    ("2.5.4.13", "description"),
    ("2.5.4.15", "businessCategory"),
    ("2.5.4.17", "postalCode"),
    ("2.5.4.41", "name"),
    ("2.5.4.42", "GN"),
    ("2.5.4.43", "initials"),
    ("2.5.4.44", "generationQualifier"),
    ("2.5.4.46", "dnQualifier"),
    ("2.5.4.65", "pseudonym"),
    ("2.5.4.97", "organizationIdentifier"),
    ("1.2.840.113549.1.9.1", "emailAddress"),
    ("0.9.2342.19200300.100.1.1", "UID"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("1.3.6.1.4.1.311.60.2.1.1", "jurisdictionL"),
    ("1.3.6.1.4.1.311.60.2.1.2", "jurisdictionST"),
    ("1.3.6.1.4.1.311.60.2.1.3", "jurisdictionC"),
];

/// A name as OpenSSL's `X509_NAME_print_ex(…, XN_FLAG_RFC2253)` prints it: RDNs last to
/// first, joined by `,`, the values of a multi-valued RDN by `+`; RFC 2253 §2.4 escaping,
/// control characters and bytes above 0x7f as `\XX`; an attribute type OpenSSL would not
/// name (outside [`ATTRIBUTES`]) dotted, with its value as `#` and the DER in hex.
pub fn rfc2253(name: &X509Name<'_>) -> String {
    let mut out = String::new();
    for (i, rdn) in name
        .iter_rdn()
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        for (j, atv) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            let oid = atv.attr_type().to_id_string();
            match ATTRIBUTES.iter().find(|(o, _)| *o == oid) {
                Some((_, short)) => {
                    out.push_str(short);
                    out.push('=');
                    let any = atv.attr_value();
                    escape_value(&mut out, &utf8_of(any.tag().0, any.data));
                }
                None => {
                    out.push_str(&oid);
                    out.push_str("=#");
                    let any = atv.attr_value();
                    // The DER of the value: its header, then its content.
                    let mut der = Vec::with_capacity(any.data.len() + 4);
                    der.push(u8::try_from(any.tag().0).unwrap_or(0x1f));
                    let len = any.data.len();
                    if len < 0x80 {
                        der.push(len as u8);
                    } else {
                        let bytes = (len as u64).to_be_bytes();
                        let skip = bytes.iter().take_while(|&&b| b == 0).count();
                        let significant = bytes.get(skip..).unwrap_or_default();
                        der.push(0x80 | significant.len() as u8);
                        der.extend_from_slice(significant);
                    }
                    der.extend_from_slice(any.data);
                    out.push_str(&crate::text::hex(&der).to_ascii_uppercase());
                }
            }
        }
    }
    out
}

/// A string value's bytes as UTF-8, as OpenSSL's UTF8_CONVERT makes them: BMPString is
/// UTF-16, UniversalString UTF-32, T61String Latin-1; the other string types as they are.
fn utf8_of(tag: u32, data: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let from_chars = |chars: &mut dyn Iterator<Item = u32>| -> Vec<u8> {
        chars
            .map(|c| char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect::<String>()
            .into_bytes()
    };
    match tag {
        0x1e => {
            let units = data.chunks_exact(2).map(|p| {
                u16::from_be_bytes([
                    p.first().copied().unwrap_or(0),
                    p.get(1).copied().unwrap_or(0),
                ])
            });
            let s: String = char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect();
            std::borrow::Cow::Owned(s.into_bytes())
        }
        0x1c => std::borrow::Cow::Owned(from_chars(
            &mut data
                .chunks_exact(4)
                .map(|q| q.iter().fold(0u32, |n, &b| (n << 8) | u32::from(b))),
        )),
        0x14 => std::borrow::Cow::Owned(from_chars(&mut data.iter().map(|&b| u32::from(b)))),
        _ => std::borrow::Cow::Borrowed(data),
    }
}

/// One attribute value with RFC 2253 §2.4 escaping, as OpenSSL's `do_esc_char` does it.
fn escape_value(out: &mut String, data: &[u8]) {
    let n = data.len();
    for (i, &b) in data.iter().enumerate() {
        let special = matches!(b, b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';')
            || (i == 0 && (b == b'#' || b == b' '))
            || (i + 1 == n && b == b' ');
        if special {
            out.push('\\');
            out.push(b as char);
        } else if !(0x20..0x7f).contains(&b) {
            out.push_str(&format!("\\{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_print_as_openssl_does() {
        assert_eq!(serial_hex(&[0x00, 0x99, 0xfa]), "99FA");
        assert_eq!(serial_hex(&[0x01]), "01");
        assert_eq!(serial_hex(&[0x02, 0x3a, 0x69]), "023A69");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[]), "00");
        assert_eq!(serial_hex(&[0xff]), "-01");
    }

    #[test]
    fn exponents_and_bit_lengths() {
        assert_eq!(decimal(&[0x01, 0x00, 0x01]).as_deref(), Some("65537"));
        assert_eq!(decimal(&[0; 20]).as_deref(), Some("0"));
        assert_eq!(decimal(&[1; 17]), None);
        assert_eq!(bit_len(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_len(&[]), 0);
    }

    #[test]
    fn values_are_escaped_as_rfc_2253_says() {
        let mut s = String::new();
        escape_value(&mut s, b"#a, b+c\\ ");
        assert_eq!(s, "\\#a\\, b\\+c\\\\\\ ");
        let mut s = String::new();
        escape_value(&mut s, "é\n".as_bytes());
        assert_eq!(s, "\\C3\\A9\\0A");
        assert_eq!(&*utf8_of(0x1e, &[0x00, 0xe9, 0x00, 0x41]), "éA".as_bytes());
        assert_eq!(&*utf8_of(0x14, &[0xe9]), "é".as_bytes());
    }

    #[test]
    fn the_test_leaf_prints_as_openssl_prints_it() {
        let der = include_bytes!("../../tests/data/leaf.der");
        let p = Printed::from_der(der).expect("the test leaf parses");
        assert_eq!(p.subject, "CN=www.example.test");
        assert_eq!(p.version, 3);
        assert_eq!(p.san_dns, vec!["www.example.test", "example.test"]);
        for cut in 0..der.len() {
            let _ = Printed::from_der(der.get(..cut).unwrap_or_default());
        }
    }
}
