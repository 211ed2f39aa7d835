//! The HTTP routers driven in-process with `tower::ServiceExt::oneshot`: a node loaded
//! from a real data directory (sled in a temp directory) with its writer running and
//! networking off, no process and no socket.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Request, StatusCode};
use axum::Router;
use registry_core::testkit::{self, key, Fixture};
use registry_core::SignedEntry;
use registry_node::config::Config;
use registry_node::daemon::{self, Networking, Started};
use registry_node::http;
use registry_node::setup::{self, DataDir};
use serde_json::Value;
use tower::ServiceExt;

const UNI: &str = "did:web:uni.example";

/// A node with networking off over a fresh data directory of a one-root registry.
struct InProcess {
    _tmp: tempfile::TempDir,
    fx: Fixture,
    config: Config,
    node: Started,
}

impl InProcess {
    fn start() -> InProcess {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(&tmp.path().join("node"));
        let fx = Fixture::new(1, 1, 4);
        setup::init(&dir, &fx.genesis).unwrap();
        let config = Config::default();
        let loaded = daemon::load(&dir, &config).unwrap();
        let node = daemon::start(loaded, &config, Networking::Off).unwrap();
        InProcess {
            _tmp: tmp,
            fx,
            config,
            node,
        }
    }

    fn router(&self) -> Router {
        http::router(self.node.state.clone(), &self.config.api)
    }

    fn admin_router(&self) -> Router {
        http::admin_router(self.node.state.clone(), &self.config.api, None)
    }
}

/// A response's status, content type and body (as JSON when it is JSON).
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    content_type: String,
    body: Value,
}

async fn call(app: &Router, req: Request<Body>) -> Reply {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        content_type,
        body,
    }
}

async fn get(app: &Router, path: &str) -> Reply {
    call(app, Request::get(path).body(Body::empty()).unwrap()).await
}

async fn post(app: &Router, path: &str, body: impl Into<Body>) -> Reply {
    let req = Request::post(path)
        .header(CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap();
    call(app, req).await
}

async fn submit(app: &Router, entry: &SignedEntry) -> Reply {
    post(app, "/v1/entries", serde_json::to_vec(entry).unwrap()).await
}

/// Asserts a problem+json answer with this status and problem code.
fn assert_problem(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.content_type, "application/problem+json", "{r:?}");
    assert_eq!(
        r.body["type"],
        format!("urn:trust-registry:problem:{code}"),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitted_entry_is_stored_and_answers_trust_questions() {
    let n = InProcess::start();
    let app = n.router();
    let authority = testkit::authority(&n.fx);
    let uni_acc =
        n.fx.accredit(&registry_core::EntityId::parse(UNI).unwrap())
            .grant("issue", "UniversityDegree")
            .controller(key(20).did())
            .issued_at(1_700_000_000)
            .by_holder(authority.id(), &[&key(testkit::AUTHORITY_KEY_SEED)]);

    for entry in [&authority, &uni_acc] {
        let r = submit(&app, entry).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        assert_eq!(r.body["status"], "accepted", "{r:?}");
        assert_eq!(r.body["id"], entry.id().to_hex());
    }
    let r = submit(&app, &authority).await;
    assert_eq!(r.body["status"], "duplicate", "{r:?}");

    let view = get(&app, &format!("/v1/entries/{}", uni_acc.id())).await;
    assert_eq!(view.status, StatusCode::OK, "{view:?}");
    assert_eq!(view.body["status"], "accepted");
    assert_eq!(view.body["height"], 2, "durable once answered");

    let q = format!("/v1/trust?entity_id={UNI}&action=issue&resource=UniversityDegree");
    let t = get(&app, &q).await;
    assert_eq!(t.status, StatusCode::OK, "{t:?}");
    assert_eq!(t.body["authorized"], true, "{t:?}");
    assert_eq!(t.body["freshness"]["peers"], 0);

    let status = get(&app, "/v1/status").await;
    assert_eq!(status.body["entries"], 2, "{status:?}");
    assert_eq!(status.body["height"], 2);
    assert_eq!(status.body["peer_id"], Value::Null, "networking is off");
    assert_eq!(t.body["state_root"], status.body["state_root"]);
    n.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_are_answered_with_problem_json() {
    let n = InProcess::start();
    let app = n.router();
    let r = post(&app, "/v1/entries", "{not json").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
    assert_eq!(r.content_type, "application/problem+json", "{r:?}");

    let huge = vec![b' '; n.config.api.max_body_bytes + 1];
    let r = post(&app, "/v1/entries", huge).await;
    assert_problem(&r, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large");

    // Published by the authority, signed by a key that is not its controller.
    let authority = testkit::authority(&n.fx);
    assert_eq!(submit(&app, &authority).await.status, StatusCode::ACCEPTED);
    let forged = testkit::issuer(&n.fx, authority.id(), &key(999), 1);
    let r = submit(&app, &forged).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
    assert_eq!(r.content_type, "application/problem+json", "{r:?}");
    let unknown = get(&app, &format!("/v1/entries/{}", forged.id())).await;
    assert_problem(&unknown, StatusCode::NOT_FOUND, "unknown_entry");
    n.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_router_has_no_admin_routes() {
    let n = InProcess::start();
    let app = n.router();
    let body = r#"{"peer_id":"12D3KooWLRPJAA5o6UJJ5QjNV3vb6d2ZTEbD8HkKb1YBuxm9yJyH"}"#;
    for path in ["/v1/admin/peers/deny", "/v1/admin/peers/allow"] {
        let r = post(&app, path, body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {r:?}");
        assert_eq!(r.content_type, "application/problem+json", "{r:?}");
    }
    // The admin router serves them, and with networking off cannot change anything.
    let admin = n.admin_router();
    let r = post(&admin, "/v1/admin/peers/deny", body).await;
    assert_problem(&r, StatusCode::SERVICE_UNAVAILABLE, "network_off");
    let r = get(&admin, "/v1/status").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{r:?}");

    let req = Request::get("/metrics").body(Body::empty()).unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(text.to_vec()).unwrap();
    assert!(text.contains("registry_entries 0"), "{text}");
    assert!(
        !text.contains("registry_peers"),
        "no network section: {text}"
    );

    let peers = get(&app, "/v1/peers").await;
    assert_eq!(peers.status, StatusCode::OK, "{peers:?}");
    assert_eq!(peers.body["peers"], serde_json::json!([]));
    n.node.stop().await;
}
