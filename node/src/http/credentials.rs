//! `POST /v1/credentials/verify` (DESIGN section 13): a credential checked end to end
//! against this node's registry, with no network and no DID resolution.
//!
//! The body is the credential: a JSON document with a Data Integrity proof
//! (`application/json`), or a compact `vc+jwt` / `dc+sd-jwt` (`text/plain`, or any type:
//! the content decides). The answer is a [`Verdict`]: 200 whether or not the credential is
//! valid (its `valid` says), problem+json 400 only for input that cannot be read at all
//! (too large, too deep, not JSON, no known format). The signature is checked before the
//! registry is locked, so the lock is held only for the lookups. `?at=T` (RFC 3339)
//! checks as of `T` instead of the node's clock: the credential's own window and the
//! issuer's standing "now" are judged at `T` (the answer at the signing time is the same).

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use registry_core::credential::{self, trust, Verdict};
use serde::Deserialize;

use super::problem::{parse_time, ApiError, ApiQuery};
use super::AppState;
use crate::metrics::QueryApi;

/// The query of `POST /v1/credentials/verify`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyParams {
    at: Option<String>,
}

pub async fn verify(
    State(st): State<AppState>,
    ApiQuery(params): ApiQuery<VerifyParams>,
    body: Bytes,
) -> Result<Json<Verdict>, ApiError> {
    let at = params.at.map(|t| parse_time("at", &t)).transpose()?;
    let verdict = match credential::verify_signature(&body) {
        Err(e) if e.is_malformed() => {
            return Err(
                ApiError::bad_request(e.code(), e.to_string()).titled("Malformed credential")
            )
        }
        Err(e) => Verdict::refused(&e),
        Ok(signed) => {
            let now = at.unwrap_or_else(crate::now);
            let checked = {
                let registry = st.registry();
                trust::check(registry.state(), &signed, now)
            };
            match checked {
                Ok(report) => Verdict::Checked(Box::new(report)),
                Err(e) if e.is_malformed() => {
                    return Err(ApiError::bad_request(e.code(), e.to_string())
                        .titled("Malformed credential"))
                }
                Err(e) => Verdict::refused(&e),
            }
        }
    };
    st.metrics.query(QueryApi::Credential, verdict.is_valid());
    Ok(Json(verdict))
}
