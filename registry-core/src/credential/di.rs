//! W3C VC Data Model 2.0 with a Data Integrity proof, cryptosuite `eddsa-jcs-2022`.

use serde_json::Value;

use super::{CredentialError, Signed};
use crate::keys::SecretKey;
use crate::time::Timestamp;

pub const CRYPTOSUITE: &str = "eddsa-jcs-2022";

/// Verifies a secured document's `proof` (one `DataIntegrityProof`).
pub fn verify(doc: &Value) -> Result<Signed, CredentialError> {
    let _ = doc;
    Err(CredentialError::UnknownFormat)
}

/// Adds an `eddsa-jcs-2022` proof made with `key` to `unsecured`.
pub fn sign(
    unsecured: &Value,
    key: &SecretKey,
    verification_method: &str,
    created: Timestamp,
) -> Result<Value, CredentialError> {
    let _ = (unsecured, key, verification_method, created);
    Err(CredentialError::UnknownFormat)
}
