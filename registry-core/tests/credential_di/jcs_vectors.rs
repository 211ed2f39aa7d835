//! RFC 8785 canonicalization against the cyberphone/json-canonicalization test data:
//! every input canonicalizes to its output byte for byte, the outputs match their
//! hexadecimal spelling, and canonical text is a fixed point.

use registry_core::credential::{jcs, json};

use super::{vector, vector_names, vector_text};

/// The bytes written as whitespace-separated two-digit hex in an `outhex` file.
fn from_hex_text(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|pair| u8::from_str_radix(pair, 16).unwrap_or_else(|e| panic!("{pair:?}: {e}")))
        .collect()
}

#[test]
fn every_input_canonicalizes_to_its_output() {
    let names = vector_names("jcs/input");
    assert_eq!(
        names,
        [
            "arrays.json",
            "french.json",
            "structures.json",
            "unicode.json",
            "values.json",
            "weird.json"
        ]
    );
    for name in &names {
        let input = vector(&format!("jcs/input/{name}"));
        let want = vector(&format!("jcs/output/{name}"));
        let parsed = json::parse(&input).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = jcs::canonicalize(&parsed);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "{name}"
        );
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn outputs_match_their_hex_spelling() {
    let names = vector_names("jcs/outhex");
    assert_eq!(names.len(), 6);
    for name in &names {
        let stem = name.strip_suffix(".txt").expect("a .txt file");
        let hex = from_hex_text(&vector_text(&format!("jcs/outhex/{name}")));
        assert!(!hex.is_empty(), "{name}");
        assert_eq!(hex, vector(&format!("jcs/output/{stem}.json")), "{name}");
    }
}

#[test]
fn canonical_text_is_a_fixed_point() {
    for name in vector_names("jcs/output") {
        let canonical = vector(&format!("jcs/output/{name}"));
        let parsed = json::parse(&canonical).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(jcs::canonicalize(&parsed), canonical, "{name}");
    }
}

/// The text of the first fenced block after `heading` in `markdown`.
pub fn block_after<'a>(markdown: &'a str, heading: &str) -> &'a str {
    let start = markdown
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?}"));
    let rest = &markdown[start..];
    let open = rest.find("```").expect("an opening fence");
    let body = &rest[open..];
    let body = &body[body.find('\n').expect("a fence line") + 1..];
    &body[..body.find("```").expect("a closing fence")]
}

#[test]
fn the_readme_sample_canonicalizes_as_shown() {
    let readme = vector_text("jcs/root/README.md");
    let input = block_after(&readme, "### Sample Input:");
    let output = block_after(&readme, "### Expected Output:").trim_end();
    let hex = from_hex_text(block_after(&readme, "converted to UTF-8"));
    let parsed = json::parse(input.as_bytes()).expect("the sample input parses");
    let got = jcs::canonicalize(&parsed);
    assert_eq!(String::from_utf8_lossy(&got), output);
    assert_eq!(got, hex);
}

/// Any JSON value: strings of any characters, any finite double, integers of both signs
/// and sizes, nested arrays and objects.
fn any_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest::proptest! {
    /// The canonical form reads back (through the untrusted-JSON reader, whose numbers are
    /// rounded correctly) as a value with the same canonical form.
    #[test]
    fn canonical_form_is_idempotent(value in any_json()) {
        let canonical = jcs::canonicalize(&value);
        let again = json::parse(&canonical).expect("canonical JSON parses");
        proptest::prop_assert_eq!(jcs::canonicalize(&again), canonical.clone());
    }
}
