//! Untrusted JSON: bounded size and depth, no duplicate member names.
//!
//! The depth is checked by a scan of the bytes before any parser recurses, so a 64 KiB
//! run of `[` costs one pass and no stack. Duplicate member names are refused rather than
//! resolved (serde_json keeps the last one): a signature over one reading of a document
//! must not be presented as a signature over another.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{CredentialError, MAX_CREDENTIAL_BYTES, MAX_DEPTH};

/// Parses untrusted JSON: at most [`MAX_CREDENTIAL_BYTES`], nested at most [`MAX_DEPTH`]
/// deep, no member name twice in one object, nothing trailing.
pub fn parse(bytes: &[u8]) -> Result<Value, CredentialError> {
    if bytes.len() > MAX_CREDENTIAL_BYTES {
        return Err(CredentialError::TooLarge { len: bytes.len() });
    }
    if depth(bytes) > MAX_DEPTH {
        return Err(CredentialError::TooDeep);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict.deserialize(&mut de).map_err(classify)?;
    de.end().map_err(classify)?;
    Ok(value)
}

/// The deepest nesting of arrays and objects, counted outside strings.
fn depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
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
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The marker the visitor puts in a serde error for a duplicate member.
const DUPLICATE: &str = "duplicate member ";

fn classify(e: serde_json::Error) -> CredentialError {
    let text = e.to_string();
    match text.strip_prefix(DUPLICATE) {
        Some(rest) => {
            // "NAME at line L column C": the name is JSON-quoted by the visitor.
            let name = rest
                .rsplit_once(" at line ")
                .map_or(rest, |(n, _)| n)
                .to_string();
            let name = serde_json::from_str::<String>(&name).unwrap_or(name);
            CredentialError::DuplicateKey(name.chars().take(120).collect())
        }
        None => CredentialError::Malformed(text.chars().take(300).collect()),
    }
}

/// Builds a [`Value`] like serde_json's own, refusing a member name seen twice.
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(Strict)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value_seed(Strict)?;
            if members.contains_key(&name) {
                let quoted = serde_json::to_string(&name).unwrap_or_default();
                return Err(de::Error::custom(format!("{DUPLICATE}{quoted}")));
            }
            members.insert(name, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_only_outside_strings() {
        assert_eq!(depth(br#"{"a":[1,{"b":"[[[[\"[["}]}"#), 3);
        assert_eq!(depth(b"[]"), 1);
        assert_eq!(depth(b"7"), 0);
    }

    #[test]
    fn refusals_are_named() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(parse(deep.as_bytes()), Err(CredentialError::TooDeep));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(ok.as_bytes()).is_ok());
        assert_eq!(
            parse(br#"{"a":1,"b":{"c":2,"c":3}}"#),
            Err(CredentialError::DuplicateKey("c".into()))
        );
        assert_eq!(
            parse(br#"{"a\"b":1,"a\"b":2}"#),
            Err(CredentialError::DuplicateKey("a\"b".into()))
        );
        assert!(matches!(parse(b"{} x"), Err(CredentialError::Malformed(_))));
        assert!(matches!(
            parse(b"{\"a\":1e400}"),
            Err(CredentialError::Malformed(_))
        ));
        assert!(matches!(parse(b"\xff"), Err(CredentialError::Malformed(_))));
        let big = vec![b' '; MAX_CREDENTIAL_BYTES + 1];
        assert_eq!(
            parse(&big),
            Err(CredentialError::TooLarge {
                len: MAX_CREDENTIAL_BYTES + 1
            })
        );
        assert_eq!(
            parse(br#"{"a":[1,2.5,"x",null,true]}"#).unwrap(),
            serde_json::json!({"a":[1,2.5,"x",null,true]})
        );
    }
}
