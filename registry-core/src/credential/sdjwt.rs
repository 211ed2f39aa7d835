//! SD-JWT VC (`typ: dc+sd-jwt`): selective disclosure (RFC 9901) and key binding.

use serde_json::Value;

use super::{CredentialError, Signed};
use crate::keys::SecretKey;

/// Verifies an SD-JWT (`<jwt>~<disclosure>~...~[<kb-jwt>]`).
pub fn verify(token: &str) -> Result<Signed, CredentialError> {
    let _ = token;
    Err(CredentialError::UnknownFormat)
}

/// Issues an SD-JWT VC of `claims` (an object with `iss`, `vct`, `iat`...), signed by
/// `key` (`kid` naming it), the top-level claims named in `selective` made selectively
/// disclosable with salts from `salt`; all disclosures appended.
pub fn issue(
    claims: &Value,
    selective: &[&str],
    key: &SecretKey,
    kid: &str,
    salt: &mut dyn FnMut() -> [u8; 16],
) -> Result<String, CredentialError> {
    let _ = (claims, selective, key, kid, salt);
    Err(CredentialError::UnknownFormat)
}
