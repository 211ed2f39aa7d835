//! Untrusted JSON: bounded size and depth, no duplicate member names.
//!
//! One scan of the bytes comes before any parsing: it measures the nesting depth, so a
//! document of thousands of nested brackets is refused without recursion, and it notes
//! where each number is written. The document is then read by a visitor that builds the
//! [`Value`] itself, refusing a member name seen twice in one object (serde_json's own
//! `Value` keeps the last one silently), and reading each non-integer number from its
//! text with correct rounding (serde_json's default float parser may land one unit in
//! the last place away, which would change the canonical form and break signatures).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::{CredentialError, MAX_CREDENTIAL_BYTES, MAX_DEPTH};

/// Parses untrusted JSON: at most [`super::MAX_CREDENTIAL_BYTES`], nested at most
/// [`super::MAX_DEPTH`] deep, no member name twice in one object, nothing trailing.
pub fn parse(bytes: &[u8]) -> Result<Value, CredentialError> {
    if bytes.len() > MAX_CREDENTIAL_BYTES {
        return Err(CredentialError::TooLarge { len: bytes.len() });
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| CredentialError::Malformed(format!("not UTF-8: {e}")))?;
    let scan = scan(text.as_bytes());
    if scan.depth > MAX_DEPTH {
        return Err(CredentialError::TooDeep);
    }
    let context = Context {
        text,
        numbers: scan.numbers,
        next_number: Cell::new(0),
        duplicate: RefCell::new(None),
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = Strict { cx: &context }
        .deserialize(&mut de)
        .and_then(|value| de.end().map(|()| value));
    match parsed {
        Ok(value) => Ok(value),
        Err(e) => match context.duplicate.into_inner() {
            Some(name) => Err(CredentialError::DuplicateKey(name)),
            None => Err(CredentialError::Malformed(e.to_string())),
        },
    }
}

/// What the scan before parsing found.
struct Scan {
    /// The deepest nesting of arrays and objects, brackets inside strings not counted.
    depth: usize,
    /// Where each number outside strings is written, in document order.
    numbers: Vec<Range<usize>>,
}

/// Scans `bytes` once, skipping strings (and the escaped quotes inside them). Unbalanced
/// or otherwise invalid input gives some answer; the parser that runs afterwards refuses
/// it. In valid JSON every number starts with `-` or a digit outside a string and runs
/// over digits, `.`, `e`, `E`, `+` and `-`, characters no other token outside a string
/// contains, so the numbers found are the parser's numbers, in the parser's order.
fn scan(bytes: &[u8]) -> Scan {
    let mut found = Scan {
        depth: 0,
        numbers: Vec::new(),
    };
    let mut current = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut number_start: Option<usize> = None;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        let in_number = matches!(b, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-');
        match (number_start, in_number) {
            (None, true) if b == b'-' || b.is_ascii_digit() => number_start = Some(i),
            (Some(start), false) => {
                found.numbers.push(start..i);
                number_start = None;
            }
            _ => {}
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                current += 1;
                found.depth = found.depth.max(current);
            }
            b']' | b'}' => current = current.saturating_sub(1),
            _ => {}
        }
    }
    if let Some(start) = number_start {
        found.numbers.push(start..bytes.len());
    }
    found
}

/// What the visitor reads beside the parser: the text and its numbers, and where it
/// records the first member name that appears twice in an object.
struct Context<'t> {
    text: &'t str,
    numbers: Vec<Range<usize>>,
    next_number: Cell<usize>,
    duplicate: RefCell<Option<String>>,
}

impl Context<'_> {
    /// The text of the next number of the document.
    fn next_number(&self) -> Option<&str> {
        let i = self.next_number.get();
        self.next_number.set(i + 1);
        self.numbers.get(i).and_then(|r| self.text.get(r.clone()))
    }
}

/// Builds a [`Value`] from the parser's events.
#[derive(Clone, Copy)]
struct Strict<'a> {
    cx: &'a Context<'a>,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.cx.next_number();
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.cx.next_number();
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        // The correctly rounded double of the number as written (Rust's parser rounds
        // exactly), or the parser's own if the text cannot be read that way.
        let exact = self
            .cx
            .next_number()
            .and_then(|text| text.parse::<f64>().ok())
            .filter(|f| f.is_finite())
            .unwrap_or(v);
        Number::from_f64(exact)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                let message = format!("duplicate member name {name:?}");
                *self.cx.duplicate.borrow_mut() = Some(name);
                return Err(de::Error::custom(message));
            }
            let value = map.next_value_seed(self)?;
            members.insert(name, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scan_ignores_strings() {
        assert_eq!(scan(br#"{"a":"[[[[\"[[[-1"}"#).depth, 1);
        assert_eq!(scan(br#"[[1],[[2]]]"#).depth, 3);
        let text = br#"{"a-1":[-1.5e+3,0,"2",true,null,7]}"#;
        let found = scan(text);
        assert_eq!(found.depth, 2);
        let numbers: Vec<&[u8]> = found.numbers.iter().map(|r| &text[r.clone()]).collect();
        assert_eq!(numbers, [&b"-1.5e+3"[..], b"0", b"7"]);
        assert_eq!(scan(b"42").numbers, vec![Range { start: 0, end: 2 }]);
    }

    #[test]
    fn numbers_are_rounded_correctly() {
        // serde_json's default parser reads this one unit in the last place low.
        let v = parse(b"[333333333.33333329, 1E30, 4.50, 2e-3, 1e-27, -0.0, 18446744073709551616]")
            .expect("valid JSON");
        let want = [
            333333333.3333333,
            1e30,
            4.5,
            0.002,
            1e-27,
            -0.0,
            18446744073709551616.0,
        ];
        let got: Vec<f64> = v
            .as_array()
            .expect("an array")
            .iter()
            .map(|n| n.as_f64().expect("a number"))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn refusals_are_named() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(deep.as_bytes()), Err(CredentialError::TooDeep));
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
        assert_eq!(
            parse(br#"{"a":1,"b":{"c":2,"c":3}}"#),
            Err(CredentialError::DuplicateKey("c".into()))
        );
        assert_eq!(parse(b"{} x").map_err(|e| e.code()), Err("malformed"));
        assert_eq!(parse(b"\xff").map_err(|e| e.code()), Err("malformed"));
        assert_eq!(
            parse(&vec![b' '; MAX_CREDENTIAL_BYTES + 1]),
            Err(CredentialError::TooLarge {
                len: MAX_CREDENTIAL_BYTES + 1
            })
        );
    }

    #[test]
    fn escaped_names_are_compared_decoded() {
        assert_eq!(
            parse(br#"{"a":1,"\u0061":2}"#),
            Err(CredentialError::DuplicateKey("a".into()))
        );
    }
}
