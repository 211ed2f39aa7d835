//! `GET /v1/trust` (is E trusted for (action, resource) at T?) and
//! `GET /v1/subjects/{entity_id}` (every accreditation of an entity); [`proven`] adds the
//! checkpoint side: freshness of the cosigned knowledge, `max_age`, and `proof=true`.

pub mod proven;

use axum::extract::State;
use axum::Json;
use registry_core::api::{
    rfc3339, AccreditationView, ChainLink, DecisiveView, Freshness, ProofView, SubjectView,
    TrustAnswer, TrustQuery,
};
use registry_core::entry::Kind;
use registry_core::eval::{
    chain_of, chain_valid_until, decisive, evaluate, Decision, Decisive, Query,
};
use registry_core::proof::ProvenQuery;
use registry_core::registry::Registry;
use registry_core::Timestamp;

use proven::Knowledge;

use super::entries::effective_now;
use super::problem::{parse_time, required, ApiError, ApiPath, ApiQuery};
use super::AppState;
use crate::metrics::QueryApi;

/// How fresh this node's answers are: when it last completed a sync with a peer (after
/// which it held everything that peer held), how many peers it is connected to now, and
/// how old the knowledge of its newest cosigned checkpoint is.
pub fn freshness(st: &AppState, knowledge: &Knowledge) -> Freshness {
    let (last_sync_at, peers) = st.freshness();
    Freshness {
        last_sync_at: last_sync_at.map(|t| Timestamp::from_system_time(t).to_rfc3339()),
        seconds_since_sync: last_sync_at.map(|t| t.elapsed().map(|d| d.as_secs()).unwrap_or(0)),
        peers,
        checkpoint_slot: rfc3339(knowledge.cosigned_slot),
        knowledge_age_secs: knowledge.age,
    }
}

/// A decision with what decided it, read under one lock of the registry.
pub struct Explained {
    pub decision: Decision,
    /// For a denial of a matching accreditation: the entry it rests on.
    pub decisive: Option<Decisive>,
    /// For an authorization: the chain's accreditations.
    pub links: Vec<ChainLink>,
    /// For an authorization: the earliest `valid_until` of the chain.
    pub valid_until: Option<Timestamp>,
}

/// One answer, read under one lock of the registry: the live decision explained, the
/// checkpoint side, and (when asked) the proof at the checkpoint.
pub struct Answer {
    pub ex: Explained,
    pub knowledge: Knowledge,
    pub proof: Option<ProofView>,
}

/// Answers `query` at `at` (`now`: the node's clock). With `proof`, also proves the
/// answer at the checkpoint state, or fails with the 503 that says why it cannot yet.
/// With `max_age`, refuses (503 `stale`) an authorization on knowledge older than that.
pub fn answer(
    st: &AppState,
    query: &Query<'_>,
    at: Timestamp,
    now: Timestamp,
    proof: bool,
    max_age: Option<u64>,
) -> Result<Answer, ApiError> {
    let registry = st.registry();
    let ex = explained(&registry, query, at);
    let knowledge = proven::knowledge(st, &registry, now);
    knowledge.refuse_stale(ex.decision.is_authorized(), max_age)?;
    let proof = if proof {
        let asked = ProvenQuery {
            entity: query.entity.to_string(),
            action: query.action.to_string(),
            resource: query.resource.to_string(),
            kind: query.kind,
            at,
        };
        Some(knowledge.prove(&registry, &asked)?)
    } else {
        None
    };
    Ok(Answer {
        ex,
        knowledge,
        proof,
    })
}

/// Evaluates the question at `at` over the live state and explains the answer.
pub fn explained(registry: &Registry, query: &Query<'_>, at: Timestamp) -> Explained {
    let state = registry.state();
    let decision = evaluate(state, query, at);
    let (mut links, mut valid_until, mut decided) = (Vec::new(), None, None);
    match &decision {
        Decision::Authorized { chain } => {
            links = chain
                .iter()
                .filter_map(|id| {
                    let (_, a) = state.accreditation(id)?;
                    Some(ChainLink {
                        id: *id,
                        subject: a.subject.to_string(),
                        label: a.label.clone(),
                        valid_from: a.valid_from.to_rfc3339(),
                        valid_until: rfc3339(a.valid_until),
                    })
                })
                .collect();
            valid_until = chain_valid_until(state, chain);
        }
        Decision::Denied {
            reason,
            accreditation: Some(id),
        } => decided = decisive(state, *reason, id, at),
        Decision::Denied { .. } => {}
    }
    Explained {
        decision,
        decisive: decided,
        links,
        valid_until,
    }
}

/// `GET /v1/trust?entity_id=&action=&resource=[&at=RFC3339][&kind=recognition]`
/// `[&proof=true][&max_age=SECS]`.
pub async fn trust(
    State(st): State<AppState>,
    ApiQuery(p): ApiQuery<TrustQuery>,
) -> Result<Json<TrustAnswer>, ApiError> {
    required("entity_id", &p.entity_id)?;
    required("action", &p.action)?;
    required("resource", &p.resource)?;
    let now = crate::now();
    let at = p.at.as_deref().map(|s| parse_time("at", s)).transpose()?;
    let kind = p.kind.unwrap_or(Kind::Authorization);
    let query = Query {
        entity: &p.entity_id,
        action: &p.action,
        resource: &p.resource,
        kind,
    };
    let Answer {
        ex,
        knowledge,
        proof,
    } = answer(
        &st,
        &query,
        at.unwrap_or(now),
        now,
        p.proof.unwrap_or(false),
        p.max_age,
    )?;
    let head = st.head();
    let (authorized, reason, accreditation, chain) = match ex.decision {
        Decision::Authorized { chain } => (true, None, chain.first().copied(), chain),
        Decision::Denied {
            reason,
            accreditation,
        } => (false, Some(reason), accreditation, Vec::new()),
    };
    st.metrics.query(QueryApi::Trust, authorized);
    Ok(Json(TrustAnswer {
        authorized,
        entity_id: p.entity_id,
        action: p.action,
        resource: p.resource,
        kind,
        time_requested: rfc3339(at),
        time_evaluated: now.to_rfc3339(),
        reason,
        accreditation,
        chain,
        links: ex.links,
        valid_until: rfc3339(ex.valid_until),
        decisive: ex.decisive.as_ref().map(DecisiveView::from),
        state_root: head.state_root,
        height: head.height,
        freshness: freshness(&st, &knowledge),
        proof,
    }))
}

/// `GET /v1/subjects/{entity_id}`: every accepted accreditation of the entity, with its
/// status now (an unknown entity has none; that is not an error).
pub async fn subject(
    State(st): State<AppState>,
    ApiPath(entity_id): ApiPath<String>,
) -> Result<Json<SubjectView>, ApiError> {
    required("entity_id", &entity_id)?;
    let now = crate::now();
    let registry = st.registry();
    let state = registry.state();
    let mut accreditations = Vec::new();
    for id in state.accreditations_of(&entity_id) {
        let Some((entry, acc)) = state.accreditation(id) else {
            continue;
        };
        let (effective, reason) = effective_now(state, id, entry, now);
        accreditations.push(AccreditationView {
            id: *id,
            kind: acc.kind,
            grants: acc.grants.clone(),
            author: entry.body.author,
            label: acc.label.clone(),
            issued_at: entry.body.issued_at.to_rfc3339(),
            valid_from: acc.valid_from.to_rfc3339(),
            valid_until: rfc3339(acc.valid_until),
            effective_now: effective.unwrap_or(false),
            reason_now: reason,
            chain: chain_of(state, *id),
            revocations: state.revocations_of(id).to_vec(),
        });
    }
    drop(registry);
    Ok(Json(SubjectView {
        entity_id,
        time_evaluated: now.to_rfc3339(),
        accreditations,
    }))
}
