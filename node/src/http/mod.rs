//! The HTTP API (DESIGN section 9): native `/v1/*` endpoints, TRQP v2 and metrics.
//!
//! Handlers read the registry through a std `RwLock` held only for the synchronous part
//! of a request (never across `.await`), read the ledger through the writer's mailbox,
//! and submit entries to the writer. Layers: a body size limit, a concurrency cap with
//! latency metrics, and a final rewrite of any stray error into problem+json.
//!
//! Handlers by concern: `status` (status, metrics), `entries` (submit, look up, pages),
//! `trust` (trust questions, subjects), `trqp` (TRQP `/authorization`, `/recognition`),
//! `blocks` (the local ledger's blocks), `peers` (peers and the deny-list); `problem`
//! holds errors and extractors.

mod blocks;
mod entries;
mod peers;
pub mod problem;
mod status;
mod trqp;
mod trust;

use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use registry_core::eval::{evaluate, Decision, Query};
use registry_core::registry::Registry;
use registry_core::{Genesis, Kind, RegistryId, Timestamp};
use tokio::sync::Semaphore;

use p2p::NetworkHandle;

use crate::metrics::Metrics;
use crate::writer::{read_head, Head, SharedHead, WriterHandle};
use problem::ApiError;
use registry_node::config::ApiConfig;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub registry: Arc<RwLock<Registry>>,
    pub head: SharedHead,
    pub writer: WriterHandle,
    pub network: NetworkHandle,
    pub genesis: Arc<Genesis>,
    pub registry_id: RegistryId,
    pub metrics: Arc<Metrics>,
    pub limiter: Arc<Semaphore>,
}

impl AppState {
    /// A read guard on the registry. Callers drop it before any `.await`.
    pub fn registry(&self) -> RwLockReadGuard<'_, Registry> {
        match self.registry.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub fn head(&self) -> Head {
        read_head(&self.head)
    }

    /// Answers a trust question at `at` from the accepted set.
    pub fn evaluate(
        &self,
        entity: &str,
        action: &str,
        resource: &str,
        kind: Kind,
        at: Timestamp,
    ) -> Decision {
        let query = Query {
            entity,
            action,
            resource,
            kind,
        };
        evaluate(self.registry().state(), &query, at)
    }
}

/// The whole API.
pub fn router(state: AppState, config: &ApiConfig) -> Router {
    Router::new()
        .route("/v1/status", get(status::status))
        .route("/v1/entries", post(entries::submit).get(entries::page))
        .route("/v1/entries/{id}", get(entries::get_entry))
        .route("/v1/trust", get(trust::trust))
        .route("/v1/subjects/{entity_id}", get(trust::subject))
        .route("/v1/blocks", get(blocks::list))
        .route("/v1/blocks/{height}", get(blocks::get_block))
        .route("/v1/peers", get(peers::list))
        .route("/v1/admin/peers/deny", post(peers::deny))
        .route("/v1/admin/peers/allow", post(peers::allow))
        .route("/metrics", get(status::metrics))
        .route("/authorization", post(trqp::authorization))
        .route("/recognition", post(trqp::recognition))
        .fallback(problem::unknown_route)
        .method_not_allowed_fallback(problem::wrong_method)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(middleware::map_response(problem::ensure_problem))
        .with_state(state)
}

/// Caps concurrent requests (503 beyond the cap, at once: no unbounded queue) and
/// records each request's latency under its route template.
async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = Metrics::route_index(
        req.extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
    );
    let Ok(_permit) = state.limiter.clone().try_acquire_owned() else {
        return ApiError::unavailable("overloaded", "too many requests in flight; retry shortly")
            .into_response();
    };
    let started = Instant::now();
    let resp = next.run(req).await;
    state.metrics.observe_index(route, started.elapsed());
    resp
}

/// Maps a writer failure to 507 when the ledger's disk is full, 503 otherwise.
pub fn writer_error(e: crate::writer::WriterError) -> ApiError {
    use crate::writer::WriterError;
    let code = match e {
        WriterError::Busy => "busy",
        WriterError::Stopped => "shutting_down",
        WriterError::Storage(_) => "storage_unavailable",
        WriterError::OutOfSpace(_) => {
            return ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "insufficient_storage",
                e.to_string(),
            )
        }
    };
    ApiError::unavailable(code, e.to_string())
}
