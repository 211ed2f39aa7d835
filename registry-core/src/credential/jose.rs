//! VC-JOSE-COSE: a credential as a compact JWS (RFC 7515), `typ: vc+jwt`, `alg: EdDSA`
//! (RFC 8037, Ed25519 only). The payload is the credential itself; `iat`, when present,
//! is its signing time.

use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{Map, Value};

use super::di::check_vc_v2;
use super::{b64url, json, key_of, CredentialError, Format, Signed};
use crate::did::DidKey;
use crate::keys::SecretKey;
use crate::time::Timestamp;

pub const VC_JWT_TYP: &str = "vc+jwt";

/// A compact JWS split and decoded; its signature not yet checked.
#[derive(Debug, Clone)]
pub struct Compact {
    pub header: Map<String, Value>,
    pub payload: Map<String, Value>,
    /// `BASE64URL(header) '.' BASE64URL(payload)`: what the signature signs.
    pub signing_input: String,
    pub signature: [u8; 64],
}

fn object(part: &str, what: &str) -> Result<Map<String, Value>, CredentialError> {
    let bytes =
        b64url::decode(part).map_err(|e| CredentialError::Malformed(format!("the {what}: {e}")))?;
    match json::parse(&bytes)? {
        Value::Object(o) => Ok(o),
        _ => Err(CredentialError::Malformed(format!(
            "the {what} is not a JSON object"
        ))),
    }
}

/// Splits and decodes a compact JWS: three parts, a header object with `alg: EdDSA` (and
/// no `crit`), a payload object, a 64-byte signature.
pub fn parse_compact(token: &str) -> Result<Compact, CredentialError> {
    let parts: Vec<&str> = token.split('.').collect();
    let [h, p, s] = parts.as_slice() else {
        return Err(CredentialError::Malformed(format!(
            "a compact JWS has 3 parts separated by '.', this has {}",
            parts.len()
        )));
    };
    let header = object(h, "JWS header")?;
    match header.get("alg").and_then(Value::as_str) {
        Some(a) if a.eq_ignore_ascii_case("none") => return Err(CredentialError::AlgNone),
        Some("EdDSA") => {}
        Some(a) => {
            return Err(CredentialError::UnsupportedAlg(
                a.chars().take(40).collect(),
            ))
        }
        None => return Err(CredentialError::Missing("alg")),
    }
    if header.contains_key("crit") {
        return Err(CredentialError::Structure(
            "the JWS header lists critical extensions (crit), which this verifier does not know"
                .into(),
        ));
    }
    let payload = object(p, "JWS payload")?;
    let signature: [u8; 64] = b64url::decode(s)?
        .try_into()
        .map_err(|_| CredentialError::Malformed("the JWS signature is not 64 bytes".into()))?;
    Ok(Compact {
        header,
        payload,
        signing_input: format!("{h}.{p}"),
        signature,
    })
}

impl Compact {
    /// Checks `typ` and the signature by the header's `kid`; returns the key.
    pub fn verify(&self, typ: &'static str) -> Result<(DidKey, String), CredentialError> {
        match self.header.get("typ").and_then(Value::as_str) {
            Some(t) if t == typ => {}
            got => {
                return Err(CredentialError::WrongTyp {
                    expected: typ,
                    got: got.unwrap_or("(none)").chars().take(40).collect(),
                })
            }
        }
        let kid = self
            .header
            .get("kid")
            .and_then(Value::as_str)
            .ok_or(CredentialError::Missing("kid"))?;
        let key = key_of(kid)?;
        verify_ed25519(&key, self.signing_input.as_bytes(), &self.signature)?;
        Ok((key, kid.to_string()))
    }
}

/// Verifies an Ed25519 signature strictly (no malleable or small-order encodings).
pub fn verify_ed25519(key: &DidKey, message: &[u8], sig: &[u8; 64]) -> Result<(), CredentialError> {
    let vk = VerifyingKey::from_bytes(key.public_key())
        .map_err(|_| CredentialError::Key(key.to_string()))?;
    vk.verify_strict(message, &Signature::from_bytes(sig))
        .map_err(|_| CredentialError::Signature)
}

/// A NumericDate claim: absent, or a non-negative integer of seconds.
pub fn numeric_date(
    claims: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<Timestamp>, CredentialError> {
    match claims.get(field) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(|s| Some(Timestamp(s)))
            .ok_or(CredentialError::Time {
                field,
                why: "not a non-negative integer NumericDate".into(),
            }),
    }
}

/// Verifies a compact `vc+jwt`.
pub fn verify_vc_jwt(token: &str) -> Result<Signed, CredentialError> {
    let compact = parse_compact(token)?;
    let (key, kid) = compact.verify(VC_JWT_TYP)?;
    let claims = Value::Object(compact.payload);
    check_vc_v2(&claims)?;
    if let Some(iss) = claims.get("iss") {
        let issuer = match &claims["issuer"] {
            Value::Object(o) => o.get("id").cloned().unwrap_or(Value::Null),
            other => other.clone(),
        };
        if *iss != issuer {
            return Err(CredentialError::Structure(
                "the iss claim differs from the credential's issuer".into(),
            ));
        }
    }
    let Value::Object(map) = &claims else {
        return Err(CredentialError::Malformed(
            "the payload is not an object".into(),
        ));
    };
    let signed_at = numeric_date(map, "iat")?;
    numeric_date(map, "nbf")?;
    numeric_date(map, "exp")?;
    Ok(Signed {
        format: Format::Jwt,
        key,
        verification_method: kid,
        claims,
        signed_at,
        disclosed: Vec::new(),
        key_binding: None,
    })
}

/// `BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(Ed25519 signature)`.
pub fn sign_compact(header: &Value, payload: &[u8], key: &SecretKey) -> String {
    let h = b64url::encode(header.to_string().as_bytes());
    let p = b64url::encode(payload);
    let input = format!("{h}.{p}");
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", b64url::encode(&sig))
}

/// Secures `credential` as a compact `vc+jwt` signed by `key`, `kid` naming it.
pub fn issue_vc_jwt(credential: &Value, key: &SecretKey, kid: &str) -> String {
    let header = serde_json::json!({"alg": "EdDSA", "typ": VC_JWT_TYP, "kid": kid});
    sign_compact(&header, credential.to_string().as_bytes(), key)
}
