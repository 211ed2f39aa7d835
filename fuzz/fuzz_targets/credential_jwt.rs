//! A `vc+jwt` as a verifier receives it (`jose::verify_vc_jwt`, which
//! `credential::verify_signature` calls on a compact JWS), and, so that the checks past
//! the signature are reached, a header and payload from the input signed here by the key
//! the default header's `kid` names. Nothing panics; whatever is accepted is a credential
//! whose claims are a JSON object, and the module's entry point accepts it the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry_core::credential::{jose, verify_signature, Format};
use registry_core::SecretKey;
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    let Some((&form, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let token = if form & 1 == 0 {
        text.to_string()
    } else {
        // `<header JSON>\n<payload>`, or the payload alone under the default header.
        let key = SecretKey::from_seed([7; 32]);
        let default = json!({"alg": "EdDSA", "typ": "vc+jwt", "kid": key.did().to_string()});
        let (header, payload) = match text.split_once('\n') {
            Some((h, p)) => (serde_json::from_str::<Value>(h).unwrap_or(default), p),
            None => (default, text),
        };
        jose::sign_compact(&header, payload.as_bytes(), &key)
    };
    match jose::verify_vc_jwt(&token) {
        Ok(signed) => {
            assert_eq!(signed.format, Format::Jwt);
            assert!(signed.claims.is_object());
            assert!(signed.disclosed.is_empty() && signed.key_binding.is_none());
            let again = verify_signature(token.as_bytes());
            assert_eq!(again.map(|s| s.claims).ok(), Some(signed.claims));
        }
        Err(e) => assert!(!e.code().is_empty()),
    }
});
