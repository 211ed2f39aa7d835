//! The JSON Canonicalization Scheme (RFC 8785), which `eddsa-jcs-2022` signs over:
//! members sorted by their names as UTF-16 code units, no whitespace, strings escaped as
//! ECMAScript's `JSON.stringify` does, and numbers as IEEE-754 doubles in ECMAScript's
//! `Number.prototype.toString` form.

use std::cmp::Ordering;
use std::fmt::Write;

use serde_json::{Map, Number, Value};

/// The RFC 8785 canonical form of `value`.
pub fn canonicalize(value: &Value) -> Vec<u8> {
    let mut out = String::new();
    write_value(&mut out, value);
    out.into_bytes()
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, v);
            }
            out.push(']');
        }
        Value::Object(members) => write_object(out, members),
    }
}

fn write_object(out: &mut String, members: &Map<String, Value>) {
    let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
    sorted.sort_by(|a, b| utf16_order(a.0, b.0));
    out.push('{');
    for (i, (name, v)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, name);
        out.push(':');
        write_value(out, v);
    }
    out.push('}');
}

/// The order of two member names as sequences of UTF-16 code units (RFC 8785 §3.2.3).
fn utf16_order(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON number as RFC 8785 writes it: through an IEEE-754 double, integers included.
fn number(n: &Number) -> String {
    // Every serde_json number converts to an f64 (large integers lose precision, as they
    // do in ECMAScript, which is what the scheme specifies).
    number_to_string(n.as_f64().unwrap_or(0.0))
}

/// ECMAScript's `Number.prototype.toString` of a finite double (ECMA-262 §6.1.6.1.20),
/// from the shortest digits that round-trip, as Rust's float formatting gives them.
pub fn number_to_string(f: f64) -> String {
    if f == 0.0 || !f.is_finite() {
        // -0 is "0"; non-finite numbers cannot come from JSON.
        return "0".into();
    }
    if f < 0.0 {
        return format!("-{}", number_to_string(-f));
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let k = digits.len() as i32;
    // The value is 0.DIGITS x 10^n.
    let n = exp + 1;
    if k <= n && n <= 21 {
        let mut s = digits;
        s.extend(std::iter::repeat_n('0', (n - k) as usize));
        s
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        format!("{int}.{frac}")
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let sign = if e > 0 { '+' } else { '-' };
        let (first, rest) = digits.split_at(1);
        if rest.is_empty() {
            format!("{first}e{sign}{}", e.abs())
        } else {
            format!("{first}.{rest}e{sign}{}", e.abs())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_ecmascript() {
        for (f, s) in [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (1.2345e-7, "1.2345e-7"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (9007199254740992.0, "9007199254740992"),
            (0.1, "0.1"),
            (333333333.3333333, "333333333.3333333"),
        ] {
            assert_eq!(number_to_string(f), s, "{f:e}");
        }
    }

    #[test]
    fn members_sort_by_utf16_and_strings_escape() {
        // U+1F600 (surrogates D83D DE00) sorts before U+E000 in UTF-16, after it in UTF-8.
        let v: Value =
            serde_json::from_str(r#"{"\ud83d\ude00":1,"\ue000":2,"a":"\u0001\n\"/\u2028"}"#)
                .unwrap_or_default();
        assert_eq!(
            String::from_utf8(canonicalize(&v)).unwrap_or_default(),
            "{\"a\":\"\\u0001\\n\\\"/\u{2028}\",\"\u{1f600}\":1,\"\u{e000}\":2}"
        );
    }
}
