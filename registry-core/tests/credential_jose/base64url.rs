//! base64url: canonical spellings only, any input answered without a panic.

use proptest::prelude::*;
use registry_core::credential::b64url::{decode, encode};

proptest! {
    #[test]
    fn bytes_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let text = encode(&bytes);
        prop_assert!(!text.contains('='));
        prop_assert!(text.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        prop_assert_eq!(decode(&text), Ok(bytes));
    }

    /// Whatever decodes re-encodes to the same text: each byte string has one spelling.
    #[test]
    fn what_decodes_is_canonical(text in "[A-Za-z0-9_=+/ -]{0,40}") {
        match decode(&text) {
            Ok(bytes) => prop_assert_eq!(encode(&bytes), text),
            Err(e) => prop_assert_eq!(e.code(), "malformed"),
        }
    }
}

#[test]
fn padding_other_alphabets_and_impossible_lengths_are_refused() {
    let good = encode(b"any carnal pleas");
    assert_eq!(decode(&good).unwrap(), b"any carnal pleas");
    for bad in [
        format!("{good}="),
        format!("{good}=="),
        "YW55+GNhcm5hbA".to_string(),
        "YW55/GNhcm5hbA".to_string(),
        "YW55IGNhcm5hbA.".to_string(),
        "YQ~".to_string(),
        "Y".to_string(),
        "YW55I".to_string(),
        // "a" is YQ; YR, YS... differ only in bits past the last byte.
        "YR".to_string(),
        "YWJ".to_string(),
        "\u{e9}Q".to_string(),
    ] {
        assert_eq!(decode(&bad).unwrap_err().code(), "malformed", "{bad:?}");
    }
}
