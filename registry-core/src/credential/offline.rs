//! A credential checked with no node at all: the registry's answers come from proof
//! bundles (section 12), one per type, each proving the answer at the signing time.

use super::trust::{self, Question, Report, TypeAnswer};
use super::{CredentialError, Signed};
use crate::proof::{verify_with_slice, Bundle, Verified, VerifyError, VerifyOptions};
use crate::time::Timestamp;

/// Why the bundles cannot answer for a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfflineError {
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error(
        "no proof bundle answers whether {issuer} may issue {resource} at {at} (make one with \
         `registry proof --entity {issuer} --action issue --resource {resource} --at {at}`)"
    )]
    NoBundle {
        issuer: String,
        resource: String,
        at: Timestamp,
    },
    #[error("the proof bundle for {resource} does not verify: {error}")]
    Bundle {
        resource: String,
        error: Box<VerifyError>,
    },
}

/// The proven answers, per type, with the checkpoints they rest on.
#[derive(Debug, Clone)]
pub struct Offline {
    pub report: Report,
    /// The verified bundles, in the order of the report's types.
    pub proofs: Vec<Verified>,
}

/// Checks `signed` against `bundles` (each verified against `options`): the answer at the
/// signing time must be proven by a bundle whose query is exactly it; the answer at `now`
/// is evaluated over the same proven slice, and left out (`None`) when the slice does not
/// cover it.
pub fn check(
    bundles: &[Bundle],
    options: &VerifyOptions,
    signed: &Signed,
    now: Timestamp,
) -> Result<Offline, OfflineError> {
    let q = trust::question(signed)?;
    let mut types = Vec::with_capacity(q.types.len());
    let mut proofs = Vec::with_capacity(q.types.len());
    for resource in &q.types {
        let bundle = bundles
            .iter()
            .find(|b| answers(b, &q, resource))
            .ok_or_else(|| OfflineError::NoBundle {
                issuer: q.issuer.clone(),
                resource: resource.clone(),
                at: q.signed_at,
            })?;
        let (verified, slice) =
            verify_with_slice(bundle, options).map_err(|error| OfflineError::Bundle {
                resource: resource.clone(),
                error: Box::new(error),
            })?;
        let (key, then) = trust::answer_then(&slice, &q, &signed.key, resource);
        if let Some(what) = slice.take_missing() {
            return Err(OfflineError::Bundle {
                resource: resource.clone(),
                error: Box::new(VerifyError::Missing(what)),
            });
        }
        let at_now = trust::answer_at(&slice, &q, resource, now);
        let now_answer = slice.take_missing().is_none().then_some(at_now);
        types.push(TypeAnswer {
            resource: resource.clone(),
            key,
            then,
            now: now_answer,
        });
        proofs.push(verified);
    }
    Ok(Offline {
        report: trust::report(signed, q, now, types),
        proofs,
    })
}

fn answers(bundle: &Bundle, q: &Question, resource: &str) -> bool {
    let b = &bundle.query;
    b.entity == q.issuer
        && b.action == trust::ISSUE_ACTION
        && b.resource == resource
        && b.kind == crate::entry::Kind::Authorization
        && b.at == q.signed_at
}
