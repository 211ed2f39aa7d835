//! A JSON credential with a Data Integrity proof, parsed by `credential::json::parse` and
//! verified by `credential::di::verify` (what `credential::verify_signature` runs on a
//! JSON document). A credential that verifies yields its claims without the proof.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry_core::credential::{di, json, Format};

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = json::parse(data) else {
        return;
    };
    if let Ok(signed) = di::verify(&doc) {
        assert_eq!(signed.format, Format::DataIntegrity);
        assert!(signed.claims.get("proof").is_none());
        assert_eq!(
            signed.signed_at.is_some(),
            doc["proof"].get("created").is_some()
        );
    }
});
