//! The JSON Canonicalization Scheme (RFC 8785).
//!
//! Object members are ordered by their names compared as sequences of UTF-16 code units,
//! strings are written with the fewest escapes JSON allows, and every number is the
//! IEEE-754 double it denotes, written as ECMAScript's `Number.prototype.toString` writes
//! it. No whitespace is emitted.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

/// The RFC 8785 canonical form of `value`.
pub fn canonicalize(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => out.extend_from_slice(number_of(n).as_bytes()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(members) => write_object(out, members),
    }
}

fn write_object(out: &mut Vec<u8>, members: &Map<String, Value>) {
    let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
    sorted.sort_by(|a, b| utf16_order(a.0, b.0));
    out.push(b'{');
    for (i, (name, value)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(out, name);
        out.push(b':');
        write_value(out, value);
    }
    out.push(b'}');
}

/// Compares two strings as sequences of UTF-16 code units (RFC 8785 section 3.2.3), which
/// differs from comparing code points when one side is above U+FFFF and the other is
/// between U+E000 and U+FFFF.
fn utf16_order(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Writes `s` quoted: `"` and `\` and the control characters escaped (the two-character
/// forms where JSON has them, `\u00xx` in lowercase hex otherwise), everything else as
/// its UTF-8 bytes.
fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\r' => out.extend_from_slice(b"\\r"),
            c if (c as u32) < 0x20 => {
                let b = c as u32 as u8;
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// A JSON number as the double it denotes: integers beyond 2^53 are rounded to the
/// nearest double, as an ECMAScript parser would.
fn number_of(n: &Number) -> String {
    let f = if let Some(u) = n.as_u64() {
        u as f64
    } else if let Some(i) = n.as_i64() {
        i as f64
    } else {
        n.as_f64().unwrap_or(f64::NAN)
    };
    number_to_string(f)
}

/// `f` as ECMAScript's `Number.prototype.toString` writes it (ECMA-262, Number::toString
/// with radix 10), which RFC 8785 section 3.2.2.3 adopts: the shortest digits that read
/// back as `f`, in plain notation for magnitudes from 1e-6 up to but excluding 1e21 and
/// in exponent notation (`1e+21`, `1.5e-7`) outside it; `-0` is `0`. JSON has no
/// spelling for NaN and the infinities: they are written `null`, as `JSON.stringify`
/// writes them (a parsed JSON value never holds one).
pub fn number_to_string(f: f64) -> String {
    if !f.is_finite() {
        return "null".to_string();
    }
    if f == 0.0 {
        return "0".to_string();
    }
    let formatted = shortest_closest(f.abs());
    let (mantissa, exponent) = formatted
        .split_once('e')
        .unwrap_or((formatted.as_str(), "0"));
    let mut digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    let exp: i32 = exponent.parse().unwrap_or(0);
    // In ECMA-262's terms: k digits s, and n such that the value is 0.s * 10^n.
    let k = digits.len() as i32;
    let n = exp + 1;
    let mut out = String::with_capacity(digits.len() + 8);
    if f < 0.0 {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.push_str(&"0".repeat((n - k) as usize));
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat((-n) as usize));
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        out.push('e');
        out.push(if n - 1 < 0 { '-' } else { '+' });
        out.push_str(&(n - 1).abs().to_string());
    }
    out
}

/// The digits ECMA-262 chooses for a positive finite `f`, as `d.ddde<exp>`: the fewest
/// digits that read back as `f`, and of those the decimal closest to `f`, the even one
/// when two are equally close (the Note 2 refinement of Number::toString, which ECMAScript
/// engines and RFC 8785 follow).
///
/// Rust's `{:e}` gives the fewest digits but may pick either of two equally close
/// decimals; `{:.N e}` rounds the exact binary value to N+1 digits, half to even, which is
/// the closest decimal of that length. That one is used whenever it reads back as `f`
/// (it cannot when `f` is a power of two whose lower neighbour is closer than its upper
/// one, where the shortest digits are taken as they are).
fn shortest_closest(f: f64) -> String {
    let shortest = format!("{f:e}");
    let digit_count = shortest
        .split('e')
        .next()
        .map_or(1, |m| m.bytes().filter(u8::is_ascii_digit).count());
    let closest = format!("{:.*e}", digit_count.saturating_sub(1), f);
    if closest.parse::<f64>() == Ok(f) {
        closest
    } else {
        shortest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_ecmascript() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (100.0, "100"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (1.25e-7, "1.25e-7"),
            (123.456, "123.456"),
            (9007199254740993.0, "9007199254740992"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            // Halfway between ...206.2 and ...206.3: the even digit.
            (f64::from_bits(0x4314_3ff3_c1cb_0959), "1424953923781206.2"),
            (f64::NAN, "null"),
        ];
        for (f, want) in cases {
            assert_eq!(number_to_string(*f), *want, "{f:e}");
        }
    }

    #[test]
    fn members_sort_by_utf16_code_units() {
        // U+1F600 is D83D DE00 in UTF-16, below U+FB33; in code points it is above.
        let v: Value = serde_json::json!({"\u{fb33}": 1, "\u{1f600}": 2, "a": 3});
        assert_eq!(
            String::from_utf8_lossy(&canonicalize(&v)),
            "{\"a\":3,\"\u{1f600}\":2,\"\u{fb33}\":1}"
        );
    }

    #[test]
    fn strings_escape_only_what_json_requires() {
        let v = Value::String("\u{1}\u{1f}\u{7f}\u{8}\u{c}/<\"\\é".into());
        assert_eq!(
            String::from_utf8_lossy(&canonicalize(&v)),
            "\"\\u0001\\u001f\u{7f}\\b\\f/<\\\"\\\\é\""
        );
    }

    #[test]
    fn large_integers_go_through_doubles() {
        let v: Value = serde_json::from_str("[18446744073709551615,-9223372036854775808]")
            .expect("valid JSON");
        assert_eq!(
            canonicalize(&v),
            b"[18446744073709552000,-9223372036854776000]".to_vec()
        );
    }
}
