//! W3C VC Data Model 2.0 with a Data Integrity proof, cryptosuite `eddsa-jcs-2022`
//! (W3C Data Integrity EdDSA Cryptosuites v1.0, section 3.3).
//!
//! The signed bytes are `SHA-256(JCS(proof configuration)) || SHA-256(JCS(document))`,
//! where the proof configuration is the proof without its `proofValue` and with the
//! document's `@context`, and the document is the credential without its `proof`. The
//! signature is Ed25519 over those 64 bytes, written as multibase base58btc (`z...`).
//!
//! One proof is accepted (a set or chain of proofs is refused), with purpose
//! `assertionMethod`, made by a `did:key` (the verifier resolves nothing). A proof that
//! carries its own `@context` must carry exactly the document's (the specification asks
//! only that the document's begin with it; a shorter one would change what is hashed).

use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::jcs::canonicalize;
use super::{key_of, CredentialError, Format, Signed};
use crate::keys::SecretKey;
use crate::time::Timestamp;

/// The cryptosuite this module implements.
pub const CRYPTOSUITE: &str = "eddsa-jcs-2022";
/// The only proof type accepted.
pub const PROOF_TYPE: &str = "DataIntegrityProof";
/// The only proof purpose accepted: the issuer asserting the claims.
pub const PROOF_PURPOSE: &str = "assertionMethod";
/// The first `@context` item of every VC Data Model 2.0 credential.
pub const VC_V2_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
/// The type every verifiable credential has.
pub const VC_TYPE: &str = "VerifiableCredential";

/// Longest base58btc spelling of a 64-byte signature is 88 characters; anything much
/// longer is refused before decoding (base58 decoding is quadratic in the length).
const MAX_PROOF_VALUE_CHARS: usize = 96;

/// Verifies a secured document's `proof` (one `DataIntegrityProof`, cryptosuite
/// `eddsa-jcs-2022`, purpose `assertionMethod`, by a `did:key`) and that the document is
/// a VC Data Model 2.0 credential, and returns its claims (the document without `proof`).
pub fn verify(doc: &Value) -> Result<Signed, CredentialError> {
    let Value::Object(members) = doc else {
        return Err(CredentialError::Structure(
            "a credential is a JSON object".into(),
        ));
    };
    let proof = match members.get("proof") {
        None => return Err(CredentialError::Missing("proof")),
        Some(Value::Object(proof)) => proof,
        Some(Value::Array(_)) => {
            return Err(CredentialError::Structure(
                "a set of proofs is not accepted: the proof must be one object".into(),
            ))
        }
        Some(_) => {
            return Err(CredentialError::Structure(
                "the proof must be a JSON object".into(),
            ))
        }
    };
    let member = |name: &str| proof.get(name).map(shown).unwrap_or_default();
    if proof.get("type").and_then(Value::as_str) != Some(PROOF_TYPE) {
        return Err(CredentialError::ProofType(member("type")));
    }
    if proof.get("cryptosuite").and_then(Value::as_str) != Some(CRYPTOSUITE) {
        return Err(CredentialError::UnknownCryptosuite(member("cryptosuite")));
    }
    if proof.get("proofPurpose").and_then(Value::as_str) != Some(PROOF_PURPOSE) {
        return Err(CredentialError::ProofPurpose(member("proofPurpose")));
    }
    let verification_method = proof
        .get("verificationMethod")
        .and_then(Value::as_str)
        .ok_or_else(|| CredentialError::Key(member("verificationMethod")))?;
    let key = key_of(verification_method)?;
    let signed_at = created(proof.get("created"))?;
    let signature = proof_value(proof.get("proofValue"))?;
    if let Some(context) = proof.get("@context") {
        if members.get("@context") != Some(context) {
            return Err(CredentialError::Structure(
                "the proof's @context differs from the document's".into(),
            ));
        }
    }
    check_data_model(members)?;

    let claims: Map<String, Value> = members
        .iter()
        .filter(|(name, _)| name.as_str() != "proof")
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let claims = Value::Object(claims);
    let config = proof_config(&claims, &Value::Object(proof.clone()));
    let hash = hash_data(&canonicalize(&config), &canonicalize(&claims));
    let verifying = VerifyingKey::from_bytes(key.public_key())
        .map_err(|_| CredentialError::Key(shown_str(verification_method)))?;
    verifying
        .verify_strict(&hash, &Signature::from_bytes(&signature))
        .map_err(|_| CredentialError::Signature)?;
    Ok(Signed {
        format: Format::DataIntegrity,
        key,
        verification_method: verification_method.to_string(),
        claims,
        signed_at,
        disclosed: vec![],
        key_binding: None,
    })
}

/// Adds an `eddsa-jcs-2022` proof made with `key` to `unsecured`: a `DataIntegrityProof`
/// with purpose `assertionMethod`, the given `verificationMethod` (a `did:key` of `key`)
/// and `created` time, and the document's `@context` when it has one.
pub fn sign(
    unsecured: &Value,
    key: &SecretKey,
    verification_method: &str,
    created: Timestamp,
) -> Result<Value, CredentialError> {
    let Value::Object(members) = unsecured else {
        return Err(CredentialError::Structure(
            "a credential is a JSON object".into(),
        ));
    };
    if members.contains_key("proof") {
        return Err(CredentialError::Structure(
            "the document already has a proof".into(),
        ));
    }
    if key_of(verification_method)? != key.did() {
        return Err(CredentialError::Key(shown_str(verification_method)));
    }
    let mut options = Map::new();
    options.insert("type".into(), PROOF_TYPE.into());
    options.insert("cryptosuite".into(), CRYPTOSUITE.into());
    options.insert("created".into(), created.to_rfc3339().into());
    options.insert("verificationMethod".into(), verification_method.into());
    options.insert("proofPurpose".into(), PROOF_PURPOSE.into());
    let mut proof = config_of(unsecured, &options);
    let hash = hash_data(
        &canonicalize(&Value::Object(proof.clone())),
        &canonicalize(unsecured),
    );
    let signature = key.sign(&hash);
    proof.insert(
        "proofValue".into(),
        format!("z{}", bs58::encode(signature).into_string()).into(),
    );
    let mut secured = members.clone();
    secured.insert("proof".into(), Value::Object(proof));
    Ok(Value::Object(secured))
}

/// The proof configuration (section 3.3.5): `proof_options` without `proofValue`, with
/// `@context` set to the document's `@context` when the document has one. Options that
/// are not an object are returned unchanged.
pub fn proof_config(unsecured: &Value, proof_options: &Value) -> Value {
    match proof_options {
        Value::Object(options) => Value::Object(config_of(unsecured, options)),
        other => other.clone(),
    }
}

fn config_of(unsecured: &Value, options: &Map<String, Value>) -> Map<String, Value> {
    let mut config: Map<String, Value> = options
        .iter()
        .filter(|(name, _)| name.as_str() != "proofValue")
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    if let Some(context) = unsecured.get("@context") {
        config.insert("@context".into(), context.clone());
    }
    config
}

/// The bytes signed (section 3.3.4): `SHA-256(canonical proof configuration)` followed by
/// `SHA-256(canonical document)`.
pub fn hash_data(canonical_proof_config: &[u8], canonical_document: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&Sha256::digest(canonical_proof_config));
    out[32..].copy_from_slice(&Sha256::digest(canonical_document));
    out
}

/// `proof.created`, when present: an RFC 3339 date-time.
fn created(value: Option<&Value>) -> Result<Option<Timestamp>, CredentialError> {
    let bad = |why: String| CredentialError::Time {
        field: "proof.created",
        why,
    };
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Timestamp::parse_rfc3339(s)
            .map(Some)
            .map_err(|e| bad(e.to_string())),
        Some(other) => Err(bad(format!("{} is not a string", shown(other)))),
    }
}

/// `proof.proofValue`: multibase base58btc (`z`) of a 64-byte Ed25519 signature.
fn proof_value(value: Option<&Value>) -> Result<[u8; 64], CredentialError> {
    let malformed = |why: &str| CredentialError::Malformed(format!("proof.proofValue {why}"));
    let text = match value {
        None => return Err(malformed("is missing")),
        Some(Value::String(s)) => s,
        Some(_) => return Err(malformed("is not a string")),
    };
    let b58 = text
        .strip_prefix('z')
        .ok_or_else(|| malformed("is not multibase base58btc (it must begin with 'z')"))?;
    if b58.len() > MAX_PROOF_VALUE_CHARS {
        return Err(malformed("is too long for an Ed25519 signature"));
    }
    let raw = bs58::decode(b58)
        .into_vec()
        .map_err(|_| malformed("is not valid base58"))?;
    <[u8; 64]>::try_from(raw.as_slice())
        .map_err(|_| malformed(&format!("is {} bytes, not 64", raw.len())))
}

/// The VC Data Model 2.0 shape the registry reads: `@context` an array whose first item
/// is the v2 context, `type` including `VerifiableCredential`, and an `issuer` that is a
/// URL or an object with a string `id`.
/// The VC Data Model 2.0 structure the registry reads, of any secured form's claims (the
/// JWT payload of a `vc+jwt` too): the v2 context first, the `VerifiableCredential` type,
/// an issuer.
pub fn check_vc_v2(doc: &Value) -> Result<(), CredentialError> {
    match doc {
        Value::Object(members) => check_data_model(members),
        _ => Err(CredentialError::Structure(
            "a credential is a JSON object".into(),
        )),
    }
}

fn check_data_model(members: &Map<String, Value>) -> Result<(), CredentialError> {
    let first_context = match members.get("@context") {
        Some(Value::Array(items)) => items.first().and_then(Value::as_str),
        _ => None,
    };
    if first_context != Some(VC_V2_CONTEXT) {
        return Err(CredentialError::Structure(format!(
            "@context must be an array whose first item is {VC_V2_CONTEXT:?} (VC Data Model 2.0)"
        )));
    }
    let is_credential = match members.get("type") {
        Some(Value::String(t)) => t == VC_TYPE,
        Some(Value::Array(types)) => types.iter().any(|t| t.as_str() == Some(VC_TYPE)),
        _ => false,
    };
    if !is_credential {
        return Err(CredentialError::Structure(format!(
            "type must include {VC_TYPE:?}"
        )));
    }
    match members.get("issuer") {
        Some(Value::String(_)) => Ok(()),
        Some(Value::Object(issuer)) if issuer.get("id").is_some_and(Value::is_string) => Ok(()),
        _ => Err(CredentialError::Missing("issuer")),
    }
}

/// A member's value as shown in an error: the string itself, or the JSON text, cut short.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => shown_str(s),
        other => shown_str(&other.to_string()),
    }
}

fn shown_str(s: &str) -> String {
    s.chars().take(120).collect()
}
