//! Untrusted JSON read by `credential::json::parse` (what every JSON credential goes
//! through) and canonicalized (RFC 8785): reading the canonical form back and
//! canonicalizing again gives the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry_core::credential::{jcs, json, CredentialError, MAX_CREDENTIAL_BYTES};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = json::parse(data) else {
        return;
    };
    let canonical = jcs::canonicalize(&value);
    match json::parse(&canonical) {
        Ok(again) => assert_eq!(jcs::canonicalize(&again), canonical),
        // Numbers may be longer in canonical form ("1e20" is written out in full).
        Err(CredentialError::TooLarge { .. }) => {
            assert!(canonical.len() > MAX_CREDENTIAL_BYTES)
        }
        Err(e) => panic!("the canonical form of a parsed document is refused: {e}"),
    }
});
