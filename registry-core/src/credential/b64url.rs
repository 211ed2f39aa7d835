//! base64url without padding (RFC 4648 section 5), as JOSE spells every part.

use super::CredentialError;

pub fn encode(bytes: &[u8]) -> String {
    let _ = bytes;
    String::new()
}

/// Decodes the canonical spelling only (no padding, no other alphabet, unused bits zero).
pub fn decode(s: &str) -> Result<Vec<u8>, CredentialError> {
    let _ = s;
    Err(CredentialError::Malformed("b64url is not built yet".into()))
}
