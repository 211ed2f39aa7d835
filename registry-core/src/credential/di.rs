//! W3C VC Data Model 2.0 with a Data Integrity proof, cryptosuite `eddsa-jcs-2022`
//! (W3C vc-di-eddsa): the signature covers `SHA-256(JCS(proof configuration)) ||
//! SHA-256(JCS(document without its proof))`, and `proofValue` is the 64-byte Ed25519
//! signature in multibase base58btc (`z...`).

use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{jcs, key_of, CredentialError, Format, Signed};
use crate::keys::SecretKey;
use crate::time::Timestamp;

pub const CRYPTOSUITE: &str = "eddsa-jcs-2022";
pub const PROOF_TYPE: &str = "DataIntegrityProof";
/// The base context every VC Data Model 2.0 credential starts with.
pub const VC_V2_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";

/// The proof configuration the signature covers: the proof options without `proofValue`,
/// with the document's `@context` when the document has one.
pub fn proof_config(unsecured: &Value, proof_options: &Value) -> Value {
    let mut config = proof_options.as_object().cloned().unwrap_or_default();
    config.remove("proofValue");
    if let Some(ctx) = unsecured.get("@context") {
        config.insert("@context".into(), ctx.clone());
    }
    Value::Object(config)
}

/// What the signature signs: the SHA-256 of the canonical proof configuration, then that
/// of the canonical document.
pub fn hash_data(canonical_proof_config: &[u8], canonical_document: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&Sha256::digest(canonical_proof_config));
    out[32..].copy_from_slice(&Sha256::digest(canonical_document));
    out
}

fn str_field<'a>(
    proof: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, CredentialError> {
    match proof.get(field) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(CredentialError::Structure(format!(
            "proof.{field} must be a string"
        ))),
        None => Err(CredentialError::Missing(match field {
            "type" => "proof.type",
            "cryptosuite" => "proof.cryptosuite",
            "proofPurpose" => "proof.proofPurpose",
            "verificationMethod" => "proof.verificationMethod",
            _ => "proof.proofValue",
        })),
    }
}

/// The structure VC Data Model 2.0 requires of what the registry reads: the v2 context
/// first, the `VerifiableCredential` type, an issuer.
pub fn check_vc_v2(doc: &Value) -> Result<(), CredentialError> {
    let first = doc
        .get("@context")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str);
    if first != Some(VC_V2_CONTEXT) {
        return Err(CredentialError::Structure(format!(
            "@context must be an array starting with {VC_V2_CONTEXT:?} (VC Data Model 2.0)"
        )));
    }
    let typed = match doc.get("type") {
        Some(Value::String(s)) => s == "VerifiableCredential",
        Some(Value::Array(a)) => a.iter().any(|t| t == "VerifiableCredential"),
        _ => false,
    };
    if !typed {
        return Err(CredentialError::Structure(
            "type must include \"VerifiableCredential\"".into(),
        ));
    }
    match doc.get("issuer") {
        Some(Value::String(_)) => Ok(()),
        Some(Value::Object(o)) if o.get("id").is_some_and(Value::is_string) => Ok(()),
        Some(_) => Err(CredentialError::Structure(
            "issuer must be a string or an object with a string id".into(),
        )),
        None => Err(CredentialError::Missing("issuer")),
    }
}

/// Verifies a secured document's `proof` (one `DataIntegrityProof`, `eddsa-jcs-2022`,
/// `assertionMethod`, by a `did:key`).
pub fn verify(doc: &Value) -> Result<Signed, CredentialError> {
    let Value::Object(members) = doc else {
        return Err(CredentialError::UnknownFormat);
    };
    let proof = match members.get("proof") {
        Some(Value::Object(p)) => p,
        Some(Value::Array(_)) => {
            return Err(CredentialError::Structure(
                "a set of proofs is not supported: exactly one proof".into(),
            ))
        }
        Some(_) => return Err(CredentialError::Structure("proof must be an object".into())),
        None => return Err(CredentialError::Missing("proof")),
    };
    let kind = str_field(proof, "type")?;
    if kind != PROOF_TYPE {
        return Err(CredentialError::ProofType(kind.chars().take(80).collect()));
    }
    let suite = str_field(proof, "cryptosuite")?;
    if suite != CRYPTOSUITE {
        return Err(CredentialError::UnknownCryptosuite(
            suite.chars().take(80).collect(),
        ));
    }
    let purpose = str_field(proof, "proofPurpose")?;
    if purpose != "assertionMethod" {
        return Err(CredentialError::ProofPurpose(
            purpose.chars().take(80).collect(),
        ));
    }
    let vm = str_field(proof, "verificationMethod")?;
    let key = key_of(vm)?;
    let signed_at = match proof.get("created") {
        None => None,
        Some(Value::String(s)) => {
            Some(
                Timestamp::parse_rfc3339(s).map_err(|e| CredentialError::Time {
                    field: "proof.created",
                    why: e.to_string(),
                })?,
            )
        }
        Some(_) => {
            return Err(CredentialError::Time {
                field: "proof.created",
                why: "not an RFC 3339 string".into(),
            })
        }
    };
    let signature = proof_value(str_field(proof, "proofValue")?)?;
    let mut unsecured = members.clone();
    unsecured.remove("proof");
    let unsecured = Value::Object(unsecured);
    if let Some(ctx) = proof.get("@context") {
        if Some(ctx) != unsecured.get("@context") {
            return Err(CredentialError::Structure(
                "proof.@context differs from the document's @context".into(),
            ));
        }
    }
    check_vc_v2(&unsecured)?;
    let config = proof_config(&unsecured, &Value::Object(proof.clone()));
    let data = hash_data(&jcs::canonicalize(&config), &jcs::canonicalize(&unsecured));
    let vk = VerifyingKey::from_bytes(key.public_key())
        .map_err(|_| CredentialError::Key(vm.chars().take(120).collect()))?;
    vk.verify_strict(&data, &Signature::from_bytes(&signature))
        .map_err(|_| CredentialError::Signature)?;
    Ok(Signed {
        format: Format::DataIntegrity,
        key,
        verification_method: vm.to_string(),
        claims: unsecured,
        signed_at,
        disclosed: Vec::new(),
        key_binding: None,
    })
}

/// Decodes `z<base58btc of 64 bytes>`.
fn proof_value(s: &str) -> Result<[u8; 64], CredentialError> {
    let bad = |why: &str| CredentialError::Malformed(format!("proofValue: {why}"));
    let b58 = s
        .strip_prefix('z')
        .ok_or_else(|| bad("multibase must be base58btc ('z')"))?;
    if b58.len() > 100 {
        return Err(bad("too long for a 64-byte signature"));
    }
    let raw = bs58::decode(b58)
        .into_vec()
        .map_err(|_| bad("invalid base58"))?;
    raw.try_into().map_err(|_| bad("not a 64-byte signature"))
}

/// Adds an `eddsa-jcs-2022` proof made with `key` to `unsecured` (which must be a VC Data
/// Model 2.0 credential without a proof), naming `verification_method`.
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
            "the credential already has a proof".into(),
        ));
    }
    check_vc_v2(unsecured)?;
    if key_of(verification_method)? != key.did() {
        return Err(CredentialError::Key(
            verification_method.chars().take(120).collect(),
        ));
    }
    let mut options = Map::new();
    options.insert("type".into(), Value::from(PROOF_TYPE));
    options.insert("cryptosuite".into(), Value::from(CRYPTOSUITE));
    options.insert("created".into(), Value::from(created.to_rfc3339()));
    options.insert(
        "verificationMethod".into(),
        Value::from(verification_method),
    );
    options.insert("proofPurpose".into(), Value::from("assertionMethod"));
    let config = proof_config(unsecured, &Value::Object(options));
    let data = hash_data(&jcs::canonicalize(&config), &jcs::canonicalize(unsecured));
    let signature = key.sign(&data);
    let mut proof = config.as_object().cloned().unwrap_or_default();
    proof.insert(
        "proofValue".into(),
        Value::from(format!("z{}", bs58::encode(signature).into_string())),
    );
    let mut secured = members.clone();
    secured.insert("proof".into(), Value::Object(proof));
    Ok(Value::Object(secured))
}
