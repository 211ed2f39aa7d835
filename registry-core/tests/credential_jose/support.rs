//! Keys, credentials and token surgery shared by the test modules.

use registry_core::credential::{b64url, jose, CredentialError, Signed};
use registry_core::SecretKey;
use serde_json::{json, Value};

pub fn issuer() -> SecretKey {
    SecretKey::from_seed([0x11; 32])
}

pub fn holder() -> SecretKey {
    SecretKey::from_seed([0x22; 32])
}

pub fn other() -> SecretKey {
    SecretKey::from_seed([0x33; 32])
}

/// `did:key:z6Mk...#z6Mk...`, the did:key method's one verification method.
pub fn kid(key: &SecretKey) -> String {
    let did = key.did().to_string();
    let fragment = did.strip_prefix("did:key:").unwrap().to_string();
    format!("{did}#{fragment}")
}

/// A VC Data Model 2.0 credential issued by `key`'s did:key.
pub fn credential(key: &SecretKey) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
        "type": ["VerifiableCredential", "ExampleDegreeCredential"],
        "issuer": key.did().to_string(),
        "validFrom": "2024-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:subject", "name": "aaaaaaaaaaaaaaaa"},
        "iat": 1_700_000_000u64,
    })
}

/// The refusal's code, or `"ok"`.
pub fn code(result: &Result<Signed, CredentialError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

/// A compact JWS of any header and payload text, signed by `key`.
pub fn jws(header: &Value, payload: &str, key: &SecretKey) -> String {
    jose::sign_compact(header, payload.as_bytes(), key)
}

/// The `vc+jwt` header naming `key`.
pub fn vc_header(key: &SecretKey) -> Value {
    json!({"alg": "EdDSA", "typ": "vc+jwt", "kid": kid(key)})
}

/// The `dc+sd-jwt` header naming `key`.
pub fn sd_header(key: &SecretKey) -> Value {
    json!({"alg": "EdDSA", "typ": "dc+sd-jwt", "kid": kid(key)})
}

/// `token` with its dot-separated part `index` replaced by `part`.
pub fn with_part(token: &str, index: usize, part: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    parts[index] = part;
    parts.join(".")
}

/// The decoded bytes of the dot-separated part `index` of `token`.
pub fn part_bytes(token: &str, index: usize) -> Vec<u8> {
    b64url::decode(token.split('.').nth(index).unwrap()).unwrap()
}

/// `token` with bit `bit` of byte `byte` of its decoded part `index` flipped.
pub fn flip(token: &str, index: usize, byte: usize, bit: u8) -> String {
    let mut bytes = part_bytes(token, index);
    bytes[byte] ^= 1 << bit;
    with_part(token, index, &b64url::encode(&bytes))
}

/// Where `needle` starts in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap()
}

/// A disclosure of an object property.
pub fn property(salt: &str, name: &str, value: Value) -> String {
    b64url::encode(json!([salt, name, value]).to_string().as_bytes())
}

/// A disclosure of an array element.
pub fn element(salt: &str, value: Value) -> String {
    b64url::encode(json!([salt, value]).to_string().as_bytes())
}

/// An SD-JWT of `payload` signed by `key`, with `disclosures`, no key binding.
pub fn sd_jwt(payload: &Value, disclosures: &[String], key: &SecretKey) -> String {
    let mut out = jws(&sd_header(key), &payload.to_string(), key);
    out.push('~');
    for d in disclosures {
        out.push_str(d);
        out.push('~');
    }
    out
}

/// SD-JWT VC claims with the registered claims an issuer must include.
pub fn vc_claims(key: &SecretKey, extra: Value) -> Value {
    let mut claims = json!({
        "iss": key.did().to_string(),
        "vct": "https://credentials.example.com/identity_credential",
        "iat": 1_700_000_000u64,
        "exp": 1_900_000_000u64,
    });
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    claims
}

/// The Ed25519 JWK of `key` for `cnf`.
pub fn cnf(key: &SecretKey) -> Value {
    json!({"jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64url::encode(key.did().public_key())}})
}

/// Salts 0, 1, 2... as 16 bytes each.
pub fn counting_salts() -> impl FnMut() -> [u8; 16] {
    let mut n = 0u8;
    move || {
        n += 1;
        [n; 16]
    }
}
