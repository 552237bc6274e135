//! text: how facts from the wire are written as text, in one place: hex, bytes shown as
//! printable characters, RFC 3339 times and milliseconds. Every stage may use it; it uses only
//! the capture's timestamp type.

use crate::capture::Timestamp;

/// Lowercase hex of bytes (connection IDs, digests), no separators.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    push_hex(&mut s, bytes);
    s
}

/// Appends the lower-case hex of `bytes` to `out`.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

/// RFC 3339 UTC with the capture's sub-second precision (nanoseconds, trailing zeros trimmed),
/// as `time`'s `Rfc3339` format writes it. The calendar comes from `time`; the digits are
/// written here because its general-purpose formatter costs more than the rest of a record's
/// timestamps together.
pub fn rfc3339(ts: Timestamp) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts.0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let (year, month, day) = t.to_calendar_date();
    let (hour, minute, second, nanos) = t.to_hms_nano();
    // Nanoseconds in an i64 reach from year 1677 to 2262: always four digits.
    let year = year.unsigned_abs();
    let mut out = String::with_capacity(30);
    for (n, width, after) in [
        (year, 4, '-'),
        (u32::from(u8::from(month)), 2, '-'),
        (u32::from(day), 2, 'T'),
        (u32::from(hour), 2, ':'),
        (u32::from(minute), 2, ':'),
        (u32::from(second), 2, '.'),
    ] {
        push_padded(&mut out, n, width);
        out.push(after);
    }
    if nanos == 0 {
        out.pop();
    } else {
        let (mut frac, mut width) = (nanos, 9);
        while frac % 10 == 0 {
            frac /= 10;
            width -= 1;
        }
        push_padded(&mut out, frac, width);
    }
    out.push('Z');
    out
}

/// Appends `n` in decimal, zero-padded to `width` digits.
fn push_padded(out: &mut String, n: u32, width: usize) {
    let mut digits = itoa::Buffer::new();
    let d = digits.format(n);
    for _ in d.len()..width {
        out.push('0');
    }
    out.push_str(d);
}

/// RFC 3339 UTC with a `Z`, seconds precision.
pub fn rfc3339_secs(secs: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(secs).ok()?;
    t.format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// Nanoseconds as milliseconds, rounded to two decimals.
pub fn ms(ns: i64) -> f64 {
    (ns as f64 / 1e4).round() / 100.0
}

/// A string from the wire (a server name, a subject, a message quoting one) made safe to show
/// on a terminal: control characters (C0, DEL, C1: escape sequences, newlines, carriage
/// returns) and the Unicode controls that reorder text are written as `\u{..}`, so whoever
/// sends a ClientHello cannot rewrite or hide what the analyst reads. Borrowed when clean.
pub fn shown(s: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Nanoseconds as seconds, with at most three decimals and no trailing zeros ("1.2", "15").
pub fn secs(ns: i64) -> String {
    let s = format!("{:.3}", ns as f64 / 1e9);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Bytes as text with anything unprintable shown as `.`, then the first eight bytes in hex.
pub fn printable(b: &[u8]) -> String {
    let text: String = b
        .iter()
        .map(|&c| {
            if (0x20..0x7f).contains(&c) {
                c as char
            } else {
                '.'
            }
        })
        .collect();
    let hex: Vec<String> = b.iter().take(8).map(|c| format!("{c:02x}")).collect();
    format!("\"{text}\" ({})", hex.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Timestamp;

    /// What `time`'s own RFC 3339 formatter writes, or "" where it cannot.
    fn by_time(ns: i64) -> String {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    }

    #[test]
    fn timestamps_are_written_as_the_time_crate_writes_rfc_3339() {
        let mut cases = vec![
            0,
            1,
            -1,
            999_999_999,
            1_000_000_000,
            1_700_000_000_123_456_789,
            1_700_000_000_100_000_000,
            1_700_000_000_000_000_010,
            // Nanoseconds in an i64 reach from 1677 to 2262.
            i64::MAX,
            i64::MIN,
        ];
        // A spread over the whole range, with every sub-second precision.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ns = x as i64;
            cases.push(ns);
            cases.push(ns / 1_000 * 1_000);
            cases.push(ns / 1_000_000_000 * 1_000_000_000);
        }
        for ns in cases {
            assert_eq!(rfc3339(Timestamp(ns)), by_time(ns), "{ns}");
        }
    }

    #[test]
    fn wire_strings_lose_their_power_over_the_terminal_and_clean_ones_are_untouched() {
        assert!(matches!(
            shown("www.example.com"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(shown("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(shown("evil.com\nframe 1  ok"), "evil.com\\u{a}frame 1  ok");
        assert_eq!(shown("x\ry\u{85}z\u{7f}"), "x\\u{d}y\\u{85}z\\u{7f}");
        assert_eq!(shown("moc.\u{202e}lapyap"), "moc.\\u{202e}lapyap");
        assert_eq!(shown("bücher.de ✓"), "bücher.de ✓");
    }
}
