//! TRQP v2.0 HTTPS binding: `POST /authorization` and `POST /recognition`.
//!
//! `entity_id` is the accreditation's subject, `authority_id` must be the genesis's
//! (any other is 404: this node knows no such authority), `context.time` (RFC 3339, Z
//! only) is the time asked about. A known authority that does not authorize the entity is
//! an answer (200, `false`), not an error. The context is echoed back.
//!
//! Two context members of our own: `proof = "true"` adds the `proof` extension member
//! (the answer at the checkpoint and its bundle, as `/v1/trust?proof=true` gives it), and
//! `max_age = "SECS"` refuses (503 `stale`) to call an answer authorized on cosigned
//! knowledge older than that. Every answer carries the `freshness` extension member.

use axum::extract::State;
use axum::Json;
use registry_core::api::{Freshness, ProofView, TrqpAuthorization, TrqpRecognition, TrqpRequest};
use registry_core::entry::Kind;
use registry_core::eval::{Decision, Decisive, Query, Reason};
use registry_core::hash::EntryId;
use registry_core::Timestamp;

use super::problem::{parse_time, required, ApiError, ApiJson};
use super::AppState;
use crate::metrics::QueryApi;

/// A checked TRQP question and its answer.
struct Answered {
    req: TrqpRequest,
    yes: bool,
    time_requested: Option<Timestamp>,
    time_evaluated: Timestamp,
    message: String,
    reason: Option<Reason>,
    decisive_entry: Option<EntryId>,
    proof: Option<ProofView>,
    freshness: Freshness,
}

/// `context.proof`: `"true"` or `"false"` (absent: false).
fn context_proof(req: &TrqpRequest) -> Result<bool, ApiError> {
    match req.context.as_ref().and_then(|c| c.get("proof")) {
        None => Ok(false),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(_) => Err(ApiError::bad_request(
            "invalid_parameter",
            "context.proof must be \"true\" or \"false\"",
        )),
    }
}

/// `context.max_age`: whole seconds.
fn context_max_age(req: &TrqpRequest) -> Result<Option<u64>, ApiError> {
    req.context
        .as_ref()
        .and_then(|c| c.get("max_age"))
        .map(|v| {
            v.parse::<u64>().map_err(|_| {
                ApiError::bad_request(
                    "invalid_parameter",
                    "context.max_age must be a whole number of seconds",
                )
            })
        })
        .transpose()
}

fn answer(st: &AppState, req: TrqpRequest, kind: Kind) -> Result<Answered, ApiError> {
    required("entity_id", &req.entity_id)?;
    required("authority_id", &req.authority_id)?;
    required("action", &req.action)?;
    required("resource", &req.resource)?;
    if req.authority_id != st.genesis.authority_id.as_str() {
        let shown: String = req.authority_id.chars().take(200).collect();
        return Err(ApiError::not_found(
            "unknown_authority",
            format!(
                "this node serves authority {}, not {shown}",
                st.genesis.authority_id
            ),
        ));
    }
    let time_requested = match req.context.as_ref().and_then(|c| c.get("time")) {
        Some(t) => Some(parse_time("context.time", t)?),
        None => None,
    };
    let proof = context_proof(&req)?;
    let max_age = context_max_age(&req)?;
    let time_evaluated = crate::now();
    let at = time_requested.unwrap_or(time_evaluated);
    let query = Query {
        entity: &req.entity_id,
        action: &req.action,
        resource: &req.resource,
        kind,
    };
    let super::trust::Answer {
        ex,
        knowledge,
        proof,
    } = super::trust::answer(st, &query, at, time_evaluated, proof, max_age)?;
    let freshness = super::trust::freshness(st, &knowledge);
    let yes = ex.decision.is_authorized();
    let message = explain(&req, kind, &ex.decision, ex.decisive.as_ref());
    let reason = match ex.decision {
        Decision::Denied { reason, .. } => Some(reason),
        Decision::Authorized { .. } => None,
    };
    Ok(Answered {
        req,
        yes,
        time_requested,
        time_evaluated,
        message,
        reason,
        decisive_entry: ex.decisive.map(|d| d.entry),
        proof,
        freshness,
    })
}

/// A sentence for people: what was decided and why.
fn explain(
    req: &TrqpRequest,
    kind: Kind,
    decision: &Decision,
    decisive: Option<&Decisive>,
) -> String {
    let (verb, negative) = match kind {
        Kind::Authorization => ("is authorized", "is not authorized"),
        Kind::Recognition => ("is recognized", "is not recognized"),
    };
    let what = format!(
        "to {} {} under {}",
        req.action, req.resource, req.authority_id
    );
    match decision {
        Decision::Authorized { chain } => {
            let first = chain.first().map(|id| id.to_string()).unwrap_or_default();
            format!(
                "{} {verb} {what} (accreditation {first}, chain of {} accreditation(s))",
                req.entity_id,
                chain.len()
            )
        }
        Decision::Denied { reason, .. } => {
            let mut text = format!(
                "{} {negative} {what}: {reason} ({})",
                req.entity_id,
                reason_text(*reason)
            );
            if let Some(d) = decisive {
                text.push_str(&format!("; {d}"));
            }
            text
        }
    }
}

fn reason_text(reason: Reason) -> &'static str {
    match reason {
        Reason::Revoked => "its accreditation was revoked",
        Reason::IssuerRevoked => "an accreditation above it in its chain was revoked",
        Reason::Expired => "its accreditation has expired",
        Reason::NotYetValid => "its accreditation is not yet valid",
        Reason::NotEntitled => "the author of its accreditation was not entitled to issue it",
        Reason::NoAccreditation => "no accreditation grants this action on this resource",
    }
}

/// `POST /authorization`.
pub async fn authorization(
    State(st): State<AppState>,
    ApiJson(req): ApiJson<TrqpRequest>,
) -> Result<Json<TrqpAuthorization>, ApiError> {
    let a = answer(&st, req, Kind::Authorization)?;
    st.metrics.query(QueryApi::Authorization, a.yes);
    Ok(Json(TrqpAuthorization {
        entity_id: a.req.entity_id,
        authority_id: a.req.authority_id,
        action: a.req.action,
        resource: a.req.resource,
        authorized: a.yes,
        time_requested: a.time_requested.map(Timestamp::to_rfc3339),
        time_evaluated: a.time_evaluated.to_rfc3339(),
        message: Some(a.message),
        reason: a.reason,
        decisive_entry: a.decisive_entry,
        context: a.req.context,
        proof: a.proof,
        freshness: Some(a.freshness),
    }))
}

/// `POST /recognition`.
pub async fn recognition(
    State(st): State<AppState>,
    ApiJson(req): ApiJson<TrqpRequest>,
) -> Result<Json<TrqpRecognition>, ApiError> {
    let a = answer(&st, req, Kind::Recognition)?;
    st.metrics.query(QueryApi::Recognition, a.yes);
    Ok(Json(TrqpRecognition {
        entity_id: a.req.entity_id,
        authority_id: a.req.authority_id,
        action: a.req.action,
        resource: a.req.resource,
        recognized: a.yes,
        time_requested: a.time_requested.map(Timestamp::to_rfc3339),
        time_evaluated: a.time_evaluated.to_rfc3339(),
        message: Some(a.message),
        reason: a.reason,
        decisive_entry: a.decisive_entry,
        context: a.req.context,
        proof: a.proof,
        freshness: Some(a.freshness),
    }))
}
