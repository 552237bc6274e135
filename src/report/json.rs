//! The JSON lines writer: a record in (anything `Serialize`); the bytes `serde_json` would
//! write for it out, faster.
//!
//! Wraps serde_json where it falls short: it writes every string, keys included, through a
//! byte-at-a-time escape loop and several small copies, and a record is a few hundred short
//! strings, so that rendering the JSON cost more than analysing the capture. Here a string
//! with nothing to escape (nearly all of them) is checked in one pass and copied once.
//! Whatever this writer does not do itself it hands to serde_json — strings that need
//! escaping, floats, and a whole record it cannot write (a map whose keys are neither strings
//! nor integers) — so the output is serde_json's byte for byte (the tests compare the two on
//! every record of every capture).
//!
//! The record's shape (field names, order, skipped fields) still comes from its
//! `#[derive(Serialize)]`; only the writing is done here.

use serde::ser::{self, Impossible, Serialize};
use std::fmt::Display;

/// Appends `value` as compact JSON to `out`, exactly as `serde_json::to_writer` would.
pub fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let start = out.len();
    if value.serialize(&mut Writer { out: &mut *out }).is_err() {
        out.truncate(start);
        // Only a map with non-string keys could fail there too, and the records have none.
        if serde_json::to_writer(&mut *out, value).is_err() {
            out.truncate(start);
        }
    }
}

/// Why this writer gave a value back to serde_json.
#[derive(Debug)]
pub struct Unsupported(String);

impl Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<M: Display>(msg: M) -> Self {
        Unsupported(msg.to_string())
    }
}

type Result<T = ()> = std::result::Result<T, Unsupported>;

struct Writer<'o> {
    out: &'o mut Vec<u8>,
}

impl Writer<'_> {
    fn int<I: itoa::Integer>(&mut self, i: I) {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
    }

    fn str(&mut self, s: &str) {
        if needs_escape(s.as_bytes()) {
            // A string is never an error for serde_json.
            let _ = serde_json::to_writer(&mut *self.out, s);
        } else {
            self.out.reserve(s.len() + 2);
            self.out.push(b'"');
            self.out.extend_from_slice(s.as_bytes());
            self.out.push(b'"');
        }
    }

    fn float<F: Serialize>(&mut self, f: F) {
        // serde_json's own float formatting (and `null` for NaN and infinities).
        let _ = serde_json::to_writer(&mut *self.out, &f);
    }
}

/// The bytes JSON escapes: control characters, the quote and the backslash.
const ESCAPED: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Whether JSON needs any of these bytes escaped: a control character, a quote or a
/// backslash. Short strings (keys, most values) by a table; longer ones eight bytes at a time.
fn needs_escape(bytes: &[u8]) -> bool {
    if bytes.len() < 16 {
        return bytes.iter().any(|&b| ESCAPED[usize::from(b)]);
    }
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Non-zero exactly when some byte of `x` is below `n` (n <= 128), or zero: "Bit Twiddling
    // Hacks", hasless and haszero.
    fn below(x: u64, n: u64) -> u64 {
        x.wrapping_sub(ONES * n) & !x & HIGH
    }
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        let x = u64::from_le_bytes(word);
        let special = below(x, 0x20)
            | below(x ^ (ONES * u64::from(b'"')), 1)
            | below(x ^ (ONES * u64::from(b'\\')), 1);
        if special != 0 {
            return true;
        }
    }
    words.remainder().iter().any(|&b| ESCAPED[usize::from(b)])
}

/// An array or object being written; `variant`: inside `{"variant": …}`, one more brace to
/// close.
pub struct Compound<'a, 'o> {
    w: &'a mut Writer<'o>,
    first: bool,
    variant: bool,
}

impl<'a, 'o> Compound<'a, 'o> {
    fn open(w: &'a mut Writer<'o>, variant: Option<&str>, bracket: u8) -> Self {
        if let Some(v) = variant {
            w.out.push(b'{');
            w.str(v);
            w.out.push(b':');
        }
        w.out.push(bracket);
        Compound {
            w,
            first: true,
            variant: variant.is_some(),
        }
    }

    fn comma(&mut self) {
        if self.first {
            self.first = false;
        } else {
            self.w.out.push(b',');
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.comma();
        value.serialize(&mut *self.w)
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result {
        self.comma();
        self.w.str(key);
        self.w.out.push(b':');
        value.serialize(&mut *self.w)
    }

    fn close(self, bracket: u8) -> Result {
        self.w.out.push(bracket);
        if self.variant {
            self.w.out.push(b'}');
        }
        Ok(())
    }
}

impl<'a, 'o> ser::Serializer for &'a mut Writer<'o> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'a, 'o>;
    type SerializeTuple = Compound<'a, 'o>;
    type SerializeTupleStruct = Compound<'a, 'o>;
    type SerializeTupleVariant = Compound<'a, 'o>;
    type SerializeMap = Compound<'a, 'o>;
    type SerializeStruct = Compound<'a, 'o>;
    type SerializeStructVariant = Compound<'a, 'o>;

    fn serialize_bool(self, v: bool) -> Result {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result {
        self.int(v);
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> Result {
        self.int(v);
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> Result {
        self.int(v);
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> Result {
        self.int(v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Result {
        self.int(v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result {
        self.int(v);
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> Result {
        self.int(v);
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> Result {
        self.int(v);
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> Result {
        self.int(v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Result {
        self.int(v);
        Ok(())
    }
    fn serialize_f32(self, v: f32) -> Result {
        self.float(v);
        Ok(())
    }
    fn serialize_f64(self, v: f64) -> Result {
        self.float(v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Result {
        self.str(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result {
        self.str(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result {
        // As serde_json: an array of numbers.
        let mut seq = Compound::open(self, None, b'[');
        for b in v {
            seq.element(b)?;
        }
        seq.close(b']')
    }
    fn serialize_none(self) -> Result {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _name: &'static str, _i: u32, variant: &'static str) -> Result {
        self.str(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        value: &T,
    ) -> Result {
        self.out.push(b'{');
        self.str(variant);
        self.out.push(b':');
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq> {
        Ok(Compound::open(self, None, b'['))
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple> {
        Ok(Compound::open(self, None, b'['))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Ok(Compound::open(self, None, b'['))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Ok(Compound::open(self, Some(variant), b'['))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap> {
        Ok(Compound::open(self, None, b'{'))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct> {
        Ok(Compound::open(self, None, b'{'))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Ok(Compound::open(self, Some(variant), b'{'))
    }
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result {
        self.str(&value.to_string());
        Ok(())
    }
}

/// The array-like compounds: elements, then `]`.
macro_rules! array_like {
    ($($trait:ident::$method:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Unsupported;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
                self.element(value)
            }
            fn end(self) -> Result {
                self.close(b']')
            }
        }
    )*};
}

array_like!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        self.comma();
        key.serialize(KeyWriter(&mut *self.w))?;
        self.w.out.push(b':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        value.serialize(&mut *self.w)
    }
    fn end(self) -> Result {
        self.close(b'}')
    }
}

/// The object-like compounds: fields, then `}`.
macro_rules! object_like {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Unsupported;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result {
                self.field(key, value)
            }
            fn end(self) -> Result {
                self.close(b'}')
            }
        }
    )*};
}

object_like!(SerializeStruct, SerializeStructVariant);

/// A map key: strings as they are, integers quoted (as serde_json writes them); anything else
/// gives the whole record back to serde_json.
struct KeyWriter<'a, 'o>(&'a mut Writer<'o>);

fn unsupported() -> Unsupported {
    Unsupported("map key that is neither a string nor an integer".into())
}

macro_rules! quoted_int_keys {
    ($($f:ident: $t:ty),*) => {$(
        fn $f(self, v: $t) -> Result {
            self.0.out.push(b'"');
            self.0.int(v);
            self.0.out.push(b'"');
            Ok(())
        }
    )*};
}

macro_rules! unsupported_keys {
    ($($f:ident($($a:ty),*) -> $r:ty),*) => {$(
        fn $f(self, $(_: $a),*) -> Result<$r> {
            Err(unsupported())
        }
    )*};
}

impl ser::Serializer for KeyWriter<'_, '_> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Impossible<(), Unsupported>;
    type SerializeTuple = Impossible<(), Unsupported>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Impossible<(), Unsupported>;
    type SerializeStruct = Impossible<(), Unsupported>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    quoted_int_keys!(
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_u128: u128
    );
    unsupported_keys!(
        serialize_bool(bool) -> (),
        serialize_f32(f32) -> (),
        serialize_f64(f64) -> (),
        serialize_bytes(&[u8]) -> (),
        serialize_none() -> (),
        serialize_unit() -> (),
        serialize_unit_struct(&'static str) -> (),
        serialize_seq(Option<usize>) -> Self::SerializeSeq,
        serialize_tuple(usize) -> Self::SerializeTuple,
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct,
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant,
        serialize_map(Option<usize>) -> Self::SerializeMap,
        serialize_struct(&'static str, usize) -> Self::SerializeStruct,
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant
    );
    fn serialize_char(self, v: char) -> Result {
        self.0.str(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result {
        self.0.str(v);
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result {
        Err(unsupported())
    }
    fn serialize_unit_variant(self, _name: &'static str, _i: u32, variant: &'static str) -> Result {
        self.0.str(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _i: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result {
        Err(unsupported())
    }
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result {
        self.0.str(&value.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn both<T: Serialize>(v: &T) -> (String, String) {
        let mut ours = Vec::new();
        write(&mut ours, v);
        let theirs = serde_json::to_vec(v).expect("serializable");
        (
            String::from_utf8(ours).expect("UTF-8"),
            String::from_utf8(theirs).expect("UTF-8"),
        )
    }

    #[derive(serde::Serialize)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Plain,
        Wrapped(u8),
        Pair(u8, i64),
        Shaped { a: bool, b: Option<String> },
    }

    #[derive(serde::Serialize)]
    struct Record {
        text: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        absent: Option<u8>,
        none: Option<u8>,
        floats: Vec<f64>,
        small: f32,
        kinds: Vec<Kind>,
        ip: std::net::IpAddr,
        bytes: serde_bytes_like::Bytes,
        ints: (i8, u16, i32, u64, i128),
        map: BTreeMap<String, u8>,
        int_keys: BTreeMap<u16, &'static str>,
        ch: char,
        unit: (),
    }

    mod serde_bytes_like {
        pub struct Bytes(pub Vec<u8>);
        impl serde::Serialize for Bytes {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }
    }

    #[test]
    fn every_kind_of_value_is_written_as_serde_json_writes_it() {
        let r = Record {
            text: "quote \" backslash \\ tab \t newline \n bell \u{7} del \u{7f} é 漢 \u{1f600}"
                .into(),
            absent: None,
            none: None,
            floats: vec![
                0.0,
                -0.0,
                1.0,
                0.1,
                1e-7,
                1e21,
                123.456,
                f64::NAN,
                f64::INFINITY,
            ],
            small: 0.3,
            kinds: vec![
                Kind::Plain,
                Kind::Wrapped(7),
                Kind::Pair(1, -2),
                Kind::Shaped {
                    a: true,
                    b: Some("x\"y".into()),
                },
            ],
            ip: "2001:db8::1".parse().expect("address"),
            bytes: serde_bytes_like::Bytes(vec![0, 127, 255]),
            ints: (i8::MIN, u16::MAX, -1, u64::MAX, i128::MIN),
            map: [("a\nb".to_string(), 1), ("".to_string(), 2)].into(),
            int_keys: [(443, "https"), (0, "zero")].into(),
            ch: '"',
            unit: (),
        };
        let (ours, theirs) = both(&r);
        assert_eq!(ours, theirs);
    }

    #[test]
    fn a_map_with_keys_serde_json_would_reject_is_left_to_serde_json() {
        let m: BTreeMap<bool, u8> = [(true, 1)].into();
        let mut ours = Vec::new();
        write(&mut ours, &m);
        // serde_json writes bool keys as strings since 1.0.1xx, or fails; either way, the same.
        let theirs = serde_json::to_vec(&m).unwrap_or_default();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn the_word_at_a_time_check_finds_exactly_the_bytes_that_need_escaping() {
        // Bytes around every boundary the check compares against, at every position.
        let alphabet = [
            0u8, 1, 0x1f, 0x20, 0x21, b'"', b'#', b'[', b'\\', b']', 0x7f, 0x80, 0xff,
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for len in 0..40 {
            for _ in 0..500 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        // Mostly plain bytes, so that both answers are common.
                        if x % 16 == 0 {
                            alphabet[(x >> 8) as usize % alphabet.len()]
                        } else {
                            b'a' + (x >> 8) as u8 % 26
                        }
                    })
                    .collect();
                let naive = bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
                assert_eq!(needs_escape(&bytes), naive, "{bytes:?}");
            }
        }
    }

    #[test]
    fn control_characters_and_quotes_are_escaped_like_serde_json_at_any_position() {
        for s in [
            "",
            "\"",
            "\\",
            "\u{0}",
            "\u{1f}",
            "a\u{1}b",
            "\u{8}\u{c}\r",
            "plain text",
        ] {
            let (ours, theirs) = both(&s);
            assert_eq!(ours, theirs, "{s:?}");
        }
    }
}
