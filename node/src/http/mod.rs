//! The HTTP API (DESIGN section 9): native `/v1/*` endpoints, TRQP v2 and metrics.
//!
//! Handlers read the registry through a std `RwLock` held only for the synchronous part
//! of a request (never across `.await`), read the ledger through the writer's mailbox,
//! and submit entries to the writer, which decides what the network gossips: no handler
//! publishes. Layers: a body size limit, a concurrency cap with latency metrics, and a
//! final rewrite of any stray error into problem+json.
//!
//! The network is optional in [`AppState`] (networking off is a node mode of its own, and
//! a router driven in-process needs none): then status and `/v1/peers` show no peers,
//! `/metrics` has no network section, and the deny-list's admin routes answer 503
//! `network_off`.
//!
//! Two routers: [`router`], the public API, and [`admin_router`], the deny-list's
//! admin routes, served on a listener of their own (never on the public API, which
//! answers 404 for `/v1/admin/...`). Both get the same layers ([`protect`]).
//!
//! [`server::serve`] runs the server itself (hyper's HTTP/1 connection driver) on any
//! listener: a cap on open connections, a deadline for each request's headers (which also
//! closes idle keep-alive connections), a deadline on each write, and a deadline for each
//! request's body ([`read_body`]), so slow, silent or non-reading clients cannot hold
//! connections, tasks or memory for ever.
//!
//! Handlers by concern: `status` (status, metrics), `entries` (submit, look up, pages),
//! `trust` (trust questions, subjects), `trqp` (TRQP `/authorization`, `/recognition`),
//! `credentials` (a credential checked end to end), `blocks` (the local ledger's blocks), `peers` (peers and the deny-list); `admin` the
//! admin router's bearer token; `problem` holds errors and extractors.

pub mod admin;
mod blocks;
pub mod checkpoints;
mod credentials;
mod deadline;
mod entries;
mod peers;
pub mod problem;
pub mod server;
mod status;
mod trqp;
mod trust;

use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use axum::body::{Body, HttpBody};
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header::{CONNECTION, CONTENT_LENGTH};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use futures::StreamExt;
use registry_core::registry::Registry;
use registry_core::{Genesis, RegistryId};
use tokio::sync::Semaphore;

use p2p::NetworkHandle;

use crate::config::ApiConfig;
use crate::metrics::Metrics;
use crate::writer::{read_head, Head, SharedHead, WriterHandle};
use problem::ApiError;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub registry: Arc<RwLock<Registry>>,
    pub head: SharedHead,
    pub writer: WriterHandle,
    /// `None` with networking off: no peers, no sync, nothing gossiped.
    pub network: Option<NetworkHandle>,
    pub genesis: Arc<Genesis>,
    pub registry_id: RegistryId,
    pub metrics: Arc<Metrics>,
    pub limiter: Arc<Semaphore>,
    /// The deny-list's run-time changes, saved before an admin route answers.
    pub deny_list: Arc<std::sync::Mutex<crate::denylist::DenyList>>,
    /// The checkpoint notes of recent slots (section 12).
    pub checkpoints: Arc<crate::checkpoint::Notes>,
}

impl AppState {
    /// A read guard on the registry. Callers drop it before any `.await`.
    pub fn registry(&self) -> RwLockReadGuard<'_, Registry> {
        match self.registry.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub fn deny_list(&self) -> std::sync::MutexGuard<'_, crate::denylist::DenyList> {
        match self.deny_list.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub fn head(&self) -> Head {
        read_head(&self.head)
    }

    /// When this node last completed a sync, and how many peers it has (never, none with
    /// networking off).
    pub fn freshness(&self) -> (Option<std::time::SystemTime>, usize) {
        self.network
            .as_ref()
            .map_or((None, 0), NetworkHandle::freshness)
    }

    /// The network, or the error for a route that needs it while networking is off.
    pub fn network(&self) -> Result<&NetworkHandle, ApiError> {
        self.network
            .as_ref()
            .ok_or_else(|| ApiError::unavailable("network_off", "networking is off on this node"))
    }
}

/// The batch route, whose body limit is its own (`api.max_batch_body_bytes`).
const BATCH_PATH: &str = "/v1/entries/batch";

/// Every route of the public API, each template written once: the router and the latency
/// metrics' labels ([`route_templates`]) both come from here.
fn public_routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/v1/status", get(status::status)),
        ("/v1/entries", post(entries::submit).get(entries::page)),
        (
            BATCH_PATH,
            post(entries::submit_batch).layer(DefaultBodyLimit::max(usize::MAX)),
        ),
        ("/v1/entries/{id}", get(entries::get_entry)),
        ("/v1/trust", get(trust::trust)),
        ("/v1/subjects/{entity_id}", get(trust::subject)),
        ("/v1/blocks", get(blocks::list)),
        ("/v1/blocks/{height}", get(blocks::get_block)),
        ("/v1/peers", get(peers::list)),
        ("/v1/checkpoints/latest", get(checkpoints::latest)),
        ("/v1/checkpoints/{slot}", get(checkpoints::at_slot)),
        ("/metrics", get(status::metrics)),
        ("/v1/credentials/verify", post(credentials::verify)),
        ("/authorization", post(trqp::authorization)),
        ("/recognition", post(trqp::recognition)),
    ]
}

/// The admin listener's routes.
fn admin_routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/v1/admin/peers/deny", post(peers::deny)),
        ("/v1/admin/peers/allow", post(peers::allow)),
    ]
}

/// The route templates of both APIs, public first: the latency metrics' labels.
pub fn route_templates() -> Vec<&'static str> {
    public_routes()
        .into_iter()
        .chain(admin_routes())
        .map(|(path, _)| path)
        .collect()
}

fn routes(list: Vec<(&'static str, MethodRouter<AppState>)>) -> Router<AppState> {
    list.into_iter()
        .fold(Router::new(), |r, (path, method)| r.route(path, method))
}

/// The public API.
pub fn router(state: AppState, config: &ApiConfig) -> Router {
    protect(routes(public_routes()), state, config, None)
}

/// The admin API: `POST /v1/admin/peers/deny|allow`, for the admin listener only. With a
/// `token`, every request (unknown routes included) must carry it as a bearer token.
/// `state` should carry a concurrency limiter of its own, so a flood of the public API
/// cannot keep the operator out.
pub fn admin_router(
    state: AppState,
    config: &ApiConfig,
    token: Option<admin::AdminToken>,
) -> Router {
    protect(routes(admin_routes()), state, config, token)
}

/// The layers every router gets, innermost first: the body limit, the concurrency cap
/// with latency metrics, the body reader, the bearer token (when given), the limits on
/// the request head, and the rewrite of any stray error into problem+json.
fn protect(
    routes: Router<AppState>,
    state: AppState,
    config: &ApiConfig,
    token: Option<admin::AdminToken>,
) -> Router {
    let mut app = routes
        .fallback(problem::unknown_route)
        .method_not_allowed_fallback(problem::wrong_method)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(middleware::from_fn_with_state(
            BodyLimits::new(config),
            read_body,
        ));
    if let Some(token) = token {
        app = app.layer(middleware::from_fn_with_state(
            Arc::new(token),
            admin::require_token,
        ));
    }
    app.layer(middleware::from_fn(problem::head_limits))
        .layer(middleware::map_response(problem::ensure_problem))
        .with_state(state)
}

/// Caps concurrent requests (503 beyond the cap, at once: no unbounded queue) and
/// records each request's latency under its route template.
async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = state.metrics.route_index(
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

/// How much of a request body is read, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_bytes: usize,
    /// The limit of `POST /v1/entries/batch`.
    pub max_batch_bytes: usize,
    pub timeout: Duration,
}

impl BodyLimits {
    pub fn new(config: &ApiConfig) -> BodyLimits {
        BodyLimits {
            max_bytes: config.max_body_bytes,
            max_batch_bytes: config.max_batch_body_bytes,
            timeout: Duration::from_secs(config.body_read_timeout_secs),
        }
    }
}

/// How far past the limit a body is still read (and discarded) so that a client which
/// sends its whole body before reading the answer gets its 413 rather than a reset
/// connection. Bodies declared larger than this are refused at once.
const DRAIN_FACTOR: u64 = 4;

/// Why a body was not read.
enum BodyError {
    /// Over the limit; `drained` when the rest was read and discarded, so the connection
    /// can serve another request.
    TooLarge { drained: bool },
    /// The connection failed mid-body.
    Broken(String),
}

/// Reads the whole request body before anything else looks at it: at most
/// `max_bytes` (413, at once when the declared length is far larger), within `timeout`
/// (408, and the connection is closed). A request holds no concurrency permit while its
/// body is still arriving, and an oversized body is never held in memory beyond the limit.
async fn read_body(State(limits): State<BodyLimits>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    if body.size_hint().exact() == Some(0) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let max = if parts.uri.path() == BATCH_PATH {
        limits.max_batch_bytes
    } else {
        limits.max_bytes
    } as u64;
    let drain_cap = max.saturating_mul(DRAIN_FACTOR);
    let too_large = |drained: bool| {
        let resp = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than {max} bytes"),
        )
        .into_response();
        if drained {
            resp
        } else {
            closing(resp)
        }
    };
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > drain_cap) || body.size_hint().lower() > drain_cap {
        return too_large(false);
    }
    let collect = async {
        let mut stream = body.into_data_stream();
        let mut buf = Vec::new();
        let mut total = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| BodyError::Broken(e.to_string()))?;
            total = total.saturating_add(chunk.len() as u64);
            if total > drain_cap {
                return Err(BodyError::TooLarge { drained: false });
            }
            if total > max {
                buf = Vec::new();
            } else {
                buf.extend_from_slice(&chunk);
            }
        }
        if total > max {
            return Err(BodyError::TooLarge { drained: true });
        }
        Ok(buf)
    };
    match tokio::time::timeout(limits.timeout, collect).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(BodyError::TooLarge { drained })) => too_large(drained),
        Ok(Err(BodyError::Broken(why))) => closing(
            ApiError::bad_request(
                "invalid_body",
                format!("cannot read the request body: {why}"),
            )
            .into_response(),
        ),
        Err(_) => closing(
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "the request body did not arrive within {} s",
                    limits.timeout.as_secs()
                ),
            )
            .into_response(),
        ),
    }
}

/// Marks a response as the connection's last (its request body was not read to the end).
fn closing(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// Maps a writer failure to 507 when the ledger's disk is full, 503 otherwise.
pub fn writer_error(e: crate::writer::WriterError) -> ApiError {
    use crate::writer::WriterError;
    let code = match e {
        WriterError::Busy => "busy",
        WriterError::Stopped => "shutting_down",
        WriterError::Storage { .. }
        | WriterError::Unavailable
        | WriterError::ForeignLedger
        | WriterError::Damaged(_) => "storage_unavailable",
        WriterError::OutOfSpace { .. } => {
            return ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "insufficient_storage",
                e.to_string(),
            )
        }
    };
    ApiError::unavailable(code, e.to_string())
}
