//! VC-JOSE-COSE: a credential as a compact JWS, `typ: vc+jwt`, `alg: EdDSA`.
//!
//! A compact JWS (RFC 7515 section 7.1) is `base64url(header).base64url(payload).
//! base64url(signature)`; the signature is Ed25519 (RFC 8037) over the ASCII of the first
//! two parts joined by the dot. Only `alg: EdDSA` is accepted, `none` in any spelling is
//! refused by name, and a `crit` header is refused (no extension is understood here).
//!
//! A `vc+jwt` (W3C VC-JOSE-COSE section 3.1.1) carries the credential itself as the JWT
//! claims set: `@context`, `type`, `issuer` and the rest at the top level, with the
//! registered claims `iss`, `iat`, `nbf` and `exp` alongside when the issuer adds them.

use ed25519_dalek::{Signature as DalekSignature, VerifyingKey};
use serde_json::{json, Map, Value};

use super::{b64url, json, key_of, CredentialError, Format, Signed, MAX_CREDENTIAL_BYTES};
use crate::did::DidKey;
use crate::keys::SecretKey;
use crate::time::Timestamp;

/// The `@context` every VC Data Model 2.0 credential starts with.
pub const VC_V2_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
/// The `typ` of a VC-JOSE-COSE credential.
pub const TYP_VC_JWT: &str = "vc+jwt";

/// A compact JWS read apart, its payload left as bytes: any JWS, whether or not its
/// payload is JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jws {
    /// The protected header, a JSON object whose `alg` is `EdDSA` and with no `crit`.
    pub header: Value,
    /// The decoded payload.
    pub payload: Vec<u8>,
    /// The first two parts and the dot between them, as the signature covers them.
    pub signing_input: String,
    pub signature: [u8; 64],
}

/// A compact JWS whose payload is a JSON object (a JWT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compact {
    pub header: Value,
    pub payload: Value,
    pub signing_input: String,
    pub signature: [u8; 64],
}

/// Reads a compact JWS: three parts, a header object with `alg: EdDSA` and no `crit`, a
/// 64-byte signature. The signature is not checked here ([`verify_jws`] does).
pub fn parse_jws(token: &str) -> Result<Jws, CredentialError> {
    if token.len() > MAX_CREDENTIAL_BYTES {
        return Err(CredentialError::TooLarge { len: token.len() });
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [header_part, payload_part, signature_part] = parts[..] else {
        return Err(CredentialError::Malformed(format!(
            "a compact JWS has 3 parts separated by dots, not {}",
            parts.len()
        )));
    };
    let header = json::parse(&b64url::decode(header_part)?)?;
    let Some(fields) = header.as_object() else {
        return Err(CredentialError::Malformed(
            "the JWS header is not a JSON object".into(),
        ));
    };
    check_alg(fields)?;
    if fields.contains_key("crit") {
        return Err(CredentialError::Structure(
            "the JWS header has crit: no header extension is understood".into(),
        ));
    }
    let signature: [u8; 64] =
        b64url::decode(signature_part)?
            .try_into()
            .map_err(|s: Vec<u8>| {
                CredentialError::Malformed(format!(
                    "an Ed25519 signature is 64 bytes, not {}",
                    s.len()
                ))
            })?;
    let payload = b64url::decode(payload_part)?;
    let signing_input = token[..header_part.len() + 1 + payload_part.len()].to_string();
    Ok(Jws {
        header,
        payload,
        signing_input,
        signature,
    })
}

/// `alg` must be `EdDSA`; `none` in any case is refused as such.
fn check_alg(header: &Map<String, Value>) -> Result<(), CredentialError> {
    match header.get("alg") {
        None => Err(CredentialError::Missing("alg")),
        Some(Value::String(alg)) if alg.eq_ignore_ascii_case("none") => {
            Err(CredentialError::AlgNone)
        }
        Some(Value::String(alg)) if alg == "EdDSA" => Ok(()),
        Some(Value::String(alg)) => Err(CredentialError::UnsupportedAlg(short(alg))),
        Some(other) => Err(CredentialError::UnsupportedAlg(short(&other.to_string()))),
    }
}

/// At most 120 characters of untrusted text, for an error message.
pub(crate) fn short(text: &str) -> String {
    text.chars().take(120).collect()
}

/// Reads a compact JWS whose payload is a JSON object (see [`parse_jws`]).
pub fn parse_compact(token: &str) -> Result<Compact, CredentialError> {
    let jws = parse_jws(token)?;
    let payload = payload_object(&jws.payload)?;
    Ok(Compact {
        header: jws.header,
        payload,
        signing_input: jws.signing_input,
        signature: jws.signature,
    })
}

/// The payload parsed as JSON, which must be an object (a JWT claims set).
pub(crate) fn payload_object(payload: &[u8]) -> Result<Value, CredentialError> {
    let value = json::parse(payload)?;
    if !value.is_object() {
        return Err(CredentialError::Malformed(
            "the JWT payload is not a JSON object".into(),
        ));
    }
    Ok(value)
}

/// Checks the Ed25519 signature of `jws` by `key` (`verify_strict`: canonical `s`, no
/// small-order key or `R`).
pub fn verify_jws(jws: &Jws, key: &DidKey) -> Result<(), CredentialError> {
    verify_ed25519(key, jws.signing_input.as_bytes(), &jws.signature)
}

pub(crate) fn verify_ed25519(
    key: &DidKey,
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), CredentialError> {
    let verifying = VerifyingKey::from_bytes(key.public_key())
        .map_err(|_| CredentialError::Key(key.to_string()))?;
    verifying
        .verify_strict(message, &DalekSignature::from_bytes(signature))
        .map_err(|_| CredentialError::Signature)
}

/// Signs `payload` under `header` (serialized compactly, members in name order) as a
/// compact JWS.
pub fn sign_compact(header: &Value, payload: &[u8], key: &SecretKey) -> String {
    let signing_input = format!(
        "{}.{}",
        b64url::encode(header.to_string().as_bytes()),
        b64url::encode(payload)
    );
    let signature = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", b64url::encode(&signature))
}

/// Whether the header's `typ` names the media type `expected`. Media type names are
/// case-insensitive, and a `typ` without a `/` stands for `application/<typ>`
/// (RFC 7515 section 4.1.9), so `application/vc+jwt` is `vc+jwt` too.
pub(crate) fn check_typ(header: &Value, expected: &'static str) -> Result<(), CredentialError> {
    let typ = header.get("typ");
    if let Some(Value::String(t)) = typ {
        let bare = match t.split_once('/') {
            Some((top, sub)) if top.eq_ignore_ascii_case("application") => sub,
            Some(_) => t.as_str(),
            None => t.as_str(),
        };
        if bare.eq_ignore_ascii_case(expected) {
            return Ok(());
        }
    }
    let got = match typ {
        None => String::new(),
        Some(Value::String(t)) => short(t),
        Some(other) => short(&other.to_string()),
    };
    Err(CredentialError::WrongTyp { expected, got })
}

/// The signing key the header's `kid` names (a `did:key`, optionally with its fragment),
/// and the `kid` as written.
pub(crate) fn kid_key(header: &Value) -> Result<(DidKey, String), CredentialError> {
    match header.get("kid") {
        None => Err(CredentialError::Missing("kid")),
        Some(Value::String(kid)) => Ok((key_of(kid)?, kid.clone())),
        Some(other) => Err(CredentialError::Key(short(&other.to_string()))),
    }
}

/// A NumericDate claim (RFC 7519 section 2), accepted as a non-negative integer number of
/// seconds: `None` when absent.
pub(crate) fn numeric_date(
    claims: &Value,
    field: &'static str,
) -> Result<Option<Timestamp>, CredentialError> {
    match claims.get(field) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .map(|s| Some(Timestamp(s)))
            .ok_or_else(|| CredentialError::Time {
                field,
                why: format!(
                    "{} is not a non-negative whole number of seconds",
                    short(&v.to_string())
                ),
            }),
    }
}

/// Verifies a compact `vc+jwt`: `typ`, the `kid` key and its signature, then the
/// credential's shape (`@context`, `type`, `issuer`, `iss` agreeing with it) and the
/// NumericDate claims.
pub fn verify_vc_jwt(token: &str) -> Result<Signed, CredentialError> {
    let jws = parse_jws(token)?;
    check_typ(&jws.header, TYP_VC_JWT)?;
    let (key, kid) = kid_key(&jws.header)?;
    verify_jws(&jws, &key)?;
    let claims = payload_object(&jws.payload)?;
    check_credential(&claims)?;
    let signed_at = numeric_date(&claims, "iat")?;
    numeric_date(&claims, "nbf")?;
    numeric_date(&claims, "exp")?;
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

/// The VC Data Model 2.0 shape a `vc+jwt` payload must have.
fn check_credential(claims: &Value) -> Result<(), CredentialError> {
    let first_context = claims
        .get("@context")
        .and_then(Value::as_array)
        .and_then(|c| c.first());
    if first_context.and_then(Value::as_str) != Some(VC_V2_CONTEXT) {
        return Err(CredentialError::Structure(format!(
            "@context must be an array whose first item is {VC_V2_CONTEXT:?}"
        )));
    }
    let is_vc = |t: &Value| t.as_str() == Some("VerifiableCredential");
    let typed = match claims.get("type") {
        Some(Value::Array(types)) => types.iter().any(is_vc),
        Some(t) => is_vc(t),
        None => false,
    };
    if !typed {
        return Err(CredentialError::Structure(
            "type must include \"VerifiableCredential\"".into(),
        ));
    }
    let issuer = match claims.get("issuer") {
        Some(Value::String(id)) => id,
        Some(Value::Object(o)) => match o.get("id") {
            Some(Value::String(id)) => id,
            _ => return Err(CredentialError::Missing("issuer")),
        },
        _ => return Err(CredentialError::Missing("issuer")),
    };
    if let Some(iss) = claims.get("iss") {
        if iss.as_str() != Some(issuer.as_str()) {
            return Err(CredentialError::Structure(format!(
                "the iss claim {} is not the issuer {:?}",
                short(&iss.to_string()),
                short(issuer)
            )));
        }
    }
    Ok(())
}

/// Secures `credential` as a compact `vc+jwt` signed by `key`, `kid` naming it.
pub fn issue_vc_jwt(credential: &Value, key: &SecretKey, kid: &str) -> String {
    let header = json!({"alg": "EdDSA", "typ": TYP_VC_JWT, "kid": kid});
    sign_compact(&header, credential.to_string().as_bytes(), key)
}
