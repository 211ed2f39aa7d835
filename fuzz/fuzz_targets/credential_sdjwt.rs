//! An SD-JWT as a verifier receives it (`sdjwt::verify`, which
//! `credential::verify_signature` calls on a token with a `~`), and, so that the
//! disclosure processing and key binding past the issuer signature are reached,
//! `<payload>~<disclosure>~...` from the input with the payload signed here: in the
//! payload, the string `"#i"` stands for the digest of the i-th disclosure and `"#cnf"`
//! for the holder's `cnf`, and a key-binding JWT by the holder may be appended. Nothing
//! panics; whatever is accepted has every presented disclosure put in place once and no
//! `_sd`, `_sd_alg` or `...` left.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry_core::credential::{b64url, jose, sdjwt, Format, MAX_DISCLOSURES};
use registry_core::{SecretKey, Timestamp};
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    let Some((&form, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let holder = SecretKey::from_seed([2; 32]);
    let token = if form & 1 == 0 {
        text.to_string()
    } else {
        signed_here(text, &holder, form & 2 != 0)
    };
    match sdjwt::verify(&token) {
        Ok(signed) => {
            assert_eq!(signed.format, Format::SdJwt);
            assert!(signed.claims.get("_sd_alg").is_none());
            assert!(!has_placeholders(&signed.claims));
            let parts = token.split('~').count();
            assert_eq!(signed.disclosed.len(), parts - 2);
            if form & 3 == 3 {
                let binding = signed.key_binding.expect("the appended key-binding JWT");
                assert_eq!(binding.holder, holder.did());
            }
        }
        Err(e) => assert!(!e.code().is_empty()),
    }
});

/// `<payload>~<disclosures>~` with the payload's digest markers filled in and signed by
/// the issuer key its `kid` names; with a key-binding JWT by `holder` when `bind`.
fn signed_here(text: &str, holder: &SecretKey, bind: bool) -> String {
    let issuer = SecretKey::from_seed([1; 32]);
    let (payload, rest) = text.split_once('~').unwrap_or((text, ""));
    let cnf = json!({"jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64url::encode(holder.did().public_key())}});
    let mut payload = payload.replace("\"#cnf\"", &cnf.to_string());
    for (i, d) in rest.split('~').take(MAX_DISCLOSURES + 1).enumerate() {
        let digest = format!("\"{}\"", sdjwt::disclosure_digest(d));
        payload = payload.replace(&format!("\"#{i}\""), &digest);
    }
    let header = json!({"alg": "EdDSA", "typ": "dc+sd-jwt", "kid": issuer.did().to_string()});
    let token = format!(
        "{}~{rest}",
        jose::sign_compact(&header, payload.as_bytes(), &issuer)
    );
    if bind {
        sdjwt::present_with_key_binding(&token, holder, "aud", "nonce", Timestamp(1))
    } else {
        token
    }
}

/// Whether `_sd` or a `{"...": ...}` placeholder is left anywhere in `value`.
fn has_placeholders(value: &Value) -> bool {
    match value {
        Value::Object(o) => {
            o.contains_key("_sd") || o.contains_key("...") || o.values().any(has_placeholders)
        }
        Value::Array(items) => items.iter().any(has_placeholders),
        _ => false,
    }
}
