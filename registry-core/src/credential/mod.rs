//! Credentials (section 13): the relying party's real question. A verifier holds a
//! credential, not a query; this module checks one end to end with no network and no DID
//! resolution:
//!
//! 1. the format's structure and its Ed25519 signature ([`di`] for W3C VC Data Model 2.0
//!    with an `eddsa-jcs-2022` Data Integrity proof, [`jose`] for VC-JOSE-COSE `vc+jwt`,
//!    [`sdjwt`] for SD-JWT VC `dc+sd-jwt` with its disclosures and optional key binding),
//!    which yields a [`Signed`] credential: its claims, the `did:key` that signed and when;
//! 2. the registry's answer ([`trust`]): the key acts for the issuer (it is the issuer's
//!    own `did:key`, or a controller of an accreditation of the issuer, effective at the
//!    signing time, for the type), and the issuer is authorized to `issue` each of the
//!    credential's types at the signing time, and now.
//!
//! Every input is untrusted: at most [`MAX_CREDENTIAL_BYTES`], JSON nested at most
//! [`MAX_DEPTH`] deep, no duplicate member names; every refusal is a [`CredentialError`]
//! whose [`code`](CredentialError::code) names it.

pub mod b64url;
pub mod di;
pub mod jcs;
pub mod jose;
pub mod json;
pub mod offline;
pub mod sdjwt;
pub mod trust;

use serde::{Deserialize, Serialize};

use crate::did::DidKey;
use crate::time::Timestamp;

/// Largest credential accepted, in bytes (the JSON document or the compact string).
pub const MAX_CREDENTIAL_BYTES: usize = 64 * 1024;
/// Deepest nesting of JSON arrays and objects accepted in a credential.
pub const MAX_DEPTH: usize = 32;
/// Most disclosures one SD-JWT carries.
pub const MAX_DISCLOSURES: usize = 256;

/// The three formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Format {
    /// W3C VC Data Model 2.0 with a `DataIntegrityProof`, cryptosuite `eddsa-jcs-2022`.
    #[serde(rename = "vc-di-eddsa-jcs-2022")]
    DataIntegrity,
    /// VC-JOSE-COSE compact JWS, `typ: vc+jwt`, `alg: EdDSA`.
    #[serde(rename = "vc+jwt")]
    Jwt,
    /// SD-JWT VC, `typ: dc+sd-jwt`.
    #[serde(rename = "dc+sd-jwt")]
    SdJwt,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::DataIntegrity => "vc-di-eddsa-jcs-2022",
            Format::Jwt => "vc+jwt",
            Format::SdJwt => "dc+sd-jwt",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key-binding JWT that verified (SD-JWT only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyBinding {
    /// The holder key (`cnf.jwk`) that signed it, as a `did:key`.
    pub holder: DidKey,
    pub aud: String,
    pub nonce: String,
    #[serde(with = "crate::time::as_rfc3339")]
    pub iat: Timestamp,
}

/// A credential whose structure and signature verified: what the registry check reads.
#[derive(Debug, Clone)]
pub struct Signed {
    pub format: Format,
    /// The key that signed, named by `proof.verificationMethod` or the `kid` header
    /// (`did:key:z6Mk...`, optionally with its `#fragment`).
    pub key: DidKey,
    /// `verificationMethod` / `kid` as written.
    pub verification_method: String,
    /// The credential's claims: the document without its proof (Data Integrity), the JWT
    /// payload (VC-JOSE-COSE), or the payload with every disclosure put in place and `_sd`,
    /// `_sd_alg` and the `...` array placeholders removed (SD-JWT).
    pub claims: serde_json::Value,
    /// When it was signed, by the proof or the token: `proof.created`, `iat`. `None` when
    /// the format's own signing time is absent (the mapping then falls back to
    /// `validFrom`/`nbf`).
    pub signed_at: Option<Timestamp>,
    /// The names (or array paths) of the claims that were disclosed (SD-JWT).
    pub disclosed: Vec<String>,
    pub key_binding: Option<KeyBinding>,
}

/// Why a credential is refused before any registry lookup: it is malformed, or its
/// structure or signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("the credential is {len} bytes, more than the {MAX_CREDENTIAL_BYTES} allowed")]
    TooLarge { len: usize },
    #[error("the credential nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("malformed credential: {0}")]
    Malformed(String),
    #[error("the JSON member {0:?} appears twice in one object")]
    DuplicateKey(String),
    #[error("not a credential of a known format (a JSON VC with a Data Integrity proof, a vc+jwt, or a dc+sd-jwt)")]
    UnknownFormat,
    #[error("wrong typ {got:?} (expected {expected:?})")]
    WrongTyp { expected: &'static str, got: String },
    #[error("alg \"none\" is refused: an unsigned token proves nothing")]
    AlgNone,
    #[error("unsupported alg {0:?} (only EdDSA with Ed25519)")]
    UnsupportedAlg(String),
    #[error("unsupported proof type {0:?} (only DataIntegrityProof)")]
    ProofType(String),
    #[error("unknown cryptosuite {0:?} (only eddsa-jcs-2022)")]
    UnknownCryptosuite(String),
    #[error("proofPurpose is {0:?}, must be \"assertionMethod\"")]
    ProofPurpose(String),
    #[error("the signing key {0:?} is not an Ed25519 did:key")]
    Key(String),
    #[error("the signature does not verify")]
    Signature,
    #[error("the credential's structure is invalid: {0}")]
    Structure(String),
    #[error("a claim is missing: {0}")]
    Missing(&'static str),
    #[error("invalid time in {field}: {why}")]
    Time { field: &'static str, why: String },
    #[error("malformed disclosure: {0}")]
    Disclosure(String),
    #[error("a disclosure is not referenced by any digest of the token")]
    DisclosureNotReferenced,
    #[error("the digest {0} is used twice")]
    DuplicateDigest(String),
    #[error("unsupported _sd_alg {0:?} (only sha-256)")]
    SdAlg(String),
    #[error("the key-binding JWT does not verify: {0}")]
    KeyBinding(String),
}

impl CredentialError {
    /// The refusal, in one word (the `error` of the JSON answers, the CLI's `--json`).
    pub fn code(&self) -> &'static str {
        match self {
            CredentialError::TooLarge { .. } => "too_large",
            CredentialError::TooDeep => "too_deep",
            CredentialError::Malformed(_) => "malformed",
            CredentialError::DuplicateKey(_) => "duplicate_key",
            CredentialError::UnknownFormat => "unknown_format",
            CredentialError::WrongTyp { .. } => "wrong_typ",
            CredentialError::AlgNone => "alg_none",
            CredentialError::UnsupportedAlg(_) => "unsupported_alg",
            CredentialError::ProofType(_) => "proof_type",
            CredentialError::UnknownCryptosuite(_) => "unknown_cryptosuite",
            CredentialError::ProofPurpose(_) => "proof_purpose",
            CredentialError::Key(_) => "key",
            CredentialError::Signature => "signature",
            CredentialError::Structure(_) => "structure",
            CredentialError::Missing(_) => "missing_claim",
            CredentialError::Time { .. } => "time",
            CredentialError::Disclosure(_) => "disclosure",
            CredentialError::DisclosureNotReferenced => "disclosure_not_referenced",
            CredentialError::DuplicateDigest(_) => "duplicate_digest",
            CredentialError::SdAlg(_) => "sd_alg",
            CredentialError::KeyBinding(_) => "key_binding",
        }
    }

    /// Whether the input could not be read at all (exit 2, problem+json) rather than read
    /// and found invalid (exit 1).
    pub fn is_malformed(&self) -> bool {
        matches!(
            self,
            CredentialError::TooLarge { .. }
                | CredentialError::TooDeep
                | CredentialError::Malformed(_)
                | CredentialError::DuplicateKey(_)
                | CredentialError::UnknownFormat
        )
    }
}

/// Parses `input` (a JSON credential with a Data Integrity proof, or a compact `vc+jwt` or
/// `dc+sd-jwt` string, surrounding whitespace ignored) and verifies its structure and
/// signature.
pub fn verify_signature(input: &[u8]) -> Result<Signed, CredentialError> {
    if input.len() > MAX_CREDENTIAL_BYTES {
        return Err(CredentialError::TooLarge { len: input.len() });
    }
    let text = std::str::from_utf8(input)
        .map_err(|_| CredentialError::Malformed("not UTF-8".into()))?
        .trim();
    if text.starts_with('{') {
        let doc = json::parse(text.as_bytes())?;
        return di::verify(&doc);
    }
    if text.contains('~') {
        sdjwt::verify(text)
    } else if text.split('.').count() == 3 {
        jose::verify_vc_jwt(text)
    } else {
        Err(CredentialError::UnknownFormat)
    }
}

/// The Ed25519 key a `verificationMethod` or `kid` names: `did:key:z6Mk...`, optionally
/// followed by `#` and the same multibase key (the did:key method's one verification
/// method). Any other DID would need resolution, which this verifier never does.
pub fn key_of(verification_method: &str) -> Result<DidKey, CredentialError> {
    let bad = || CredentialError::Key(verification_method.chars().take(120).collect());
    let (did, fragment) = match verification_method.split_once('#') {
        Some((d, f)) => (d, Some(f)),
        None => (verification_method, None),
    };
    let key = DidKey::parse(did).map_err(|_| bad())?;
    if let Some(f) = fragment {
        if Some(f) != did.strip_prefix("did:key:") {
            return Err(bad());
        }
    }
    Ok(key)
}

/// The JSON answer about one credential (`POST /v1/credentials/verify`,
/// `registry verify-credential --json`): the whole report once the signature verified, or
/// the refusal of a credential that does not verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Verdict {
    Checked(Box<trust::Report>),
    Refused {
        valid: bool,
        refusal: trust::Refusal,
    },
}

impl Verdict {
    /// The refusal of a credential whose structure or signature does not verify.
    pub fn refused(error: &CredentialError) -> Verdict {
        Verdict::Refused {
            valid: false,
            refusal: trust::Refusal {
                code: error.code().into(),
                message: error.to_string(),
            },
        }
    }

    pub fn is_valid(&self) -> bool {
        matches!(self, Verdict::Checked(r) if r.valid)
    }

    pub fn refusal(&self) -> Option<&trust::Refusal> {
        match self {
            Verdict::Checked(r) => r.refusal.as_ref(),
            Verdict::Refused { refusal, .. } => Some(refusal),
        }
    }
}
