//! Proofs and fail-safe freshness over the HTTP API (section 12), driven in-process: a
//! node with networking off whose checkpoint state the test advances and whose notes it
//! fills with checkpoints signed by test witness keys (the checkpoint machinery that does
//! both at slot boundaries is not running here, so each test sets the exact case).
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{Request, StatusCode};
use axum::Router;
use registry_core::api::ProofView;
use registry_core::checkpoint::SignedNote;
use registry_core::entry::Kind;
use registry_core::eval::{Decision, Reason};
use registry_core::proof::{verify, Bundle, ProvenQuery, VerifyOptions};
use registry_core::testkit::{self, key, Fixture};
use registry_core::{EntityId, EntryId, SecretKey, SignedEntry, Timestamp, WitnessSet};
use registry_node::checkpoint::SlotNote;
use registry_node::config::Config;
use registry_node::daemon::{self, Networking, Started};
use registry_node::http;
use registry_node::setup::{self, DataDir};
use serde_json::Value;
use tower::ServiceExt;

const UNI: &str = "did:web:uni.example";
const GONE: &str = "did:web:gone.example";
/// The lag these tests advance the checkpoint state by (the default configuration's).
const LAG: u64 = 5;

/// A node with networking off over a fresh data directory of a one-root registry, with
/// three witnesses (quorum 2), an issuer `UNI` and a revoked issuer `GONE`.
struct InProcess {
    _tmp: tempfile::TempDir,
    fx: Fixture,
    config: Config,
    node: Started,
    witnesses: Vec<SecretKey>,
    revoked: EntryId,
}

impl InProcess {
    async fn start() -> InProcess {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(&tmp.path().join("node"));
        let fx = Fixture::new(1, 1, 4);
        setup::init(&dir, &fx.genesis).unwrap();
        let config = Config::default();
        let loaded = daemon::load(&dir, &config).unwrap();
        let node = daemon::start(loaded, &config, Networking::Off).unwrap();
        let witnesses = testkit::witness_keys(3);
        let authority = testkit::authority(&fx);
        let signer = key(testkit::AUTHORITY_KEY_SEED);
        let issuer = |who: &str, nonce: u64| {
            fx.accredit(&EntityId::parse(who).unwrap())
                .grant("issue", "UniversityDegree")
                .controller(key(20).did())
                .issued_at(1_700_000_000)
                .nonce(nonce)
                .by_holder(authority.id(), &[&signer])
        };
        let uni = issuer(UNI, 1);
        let gone = issuer(GONE, 2);
        let revocation = fx
            .revoke(gone.id(), 1_700_000_100)
            .issued_at(1_700_000_100)
            .by_roots(&fx.root_keys(1));
        let n = InProcess {
            _tmp: tmp,
            witnesses,
            revoked: gone.id(),
            fx,
            config,
            node,
        };
        let app = n.router();
        let set = n.fx.set_witnesses(&n.witnesses, 2, 1_000);
        for entry in [&authority, &set, &uni, &gone, &revocation] {
            let r = submit(&app, entry).await;
            assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        }
        n
    }

    fn router(&self) -> Router {
        http::router(self.node.state.clone(), &self.config.api)
    }

    fn witness_set(&self) -> WitnessSet {
        WitnessSet {
            keys: self.witnesses.iter().map(SecretKey::did).collect(),
            quorum: 2,
        }
        .sorted()
    }

    /// Moves the checkpoint state to `slot - LAG`, as a slot boundary does.
    fn advance(&self, slot: u64) {
        let mut registry = self.node.state.registry.write().unwrap();
        registry.advance_checkpoint(Timestamp(slot - LAG));
    }

    /// Advances to `slot` and records its note signed by the first `signers` witnesses.
    fn checkpoint(&self, slot: u64, signers: usize) {
        self.advance(slot);
        let text = {
            let registry = self.node.state.registry.read().unwrap();
            let keys: Vec<&SecretKey> = self.witnesses.iter().take(signers).collect();
            testkit::signed_checkpoint(registry.checkpoint().state(), slot, &keys)
        };
        self.node.state.checkpoints.set_own(SlotNote {
            note: SignedNote::parse(&text).unwrap(),
            witnesses: Some(self.witness_set()),
        });
    }

    fn options(&self, now: u64) -> VerifyOptions {
        VerifyOptions {
            registry: self.fx.registry_id,
            now: Timestamp(now),
            max_age: None,
            witnesses: None,
        }
    }
}

/// A response's status, `Retry-After` and body (as JSON when it is JSON).
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    content_type: String,
    retry_after: Option<String>,
    body: Value,
}

async fn call(app: &Router, req: Request<Body>) -> Reply {
    let resp = app.clone().oneshot(req).await.unwrap();
    let header = |name| {
        resp.headers()
            .get(name)
            .map(|v: &axum::http::HeaderValue| v.to_str().unwrap().to_string())
    };
    let (content_type, retry_after) = (
        header(CONTENT_TYPE).unwrap_or_default(),
        header(RETRY_AFTER),
    );
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    Reply {
        status,
        content_type,
        retry_after,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

async fn get(app: &Router, path: &str) -> Reply {
    call(app, Request::get(path).body(Body::empty()).unwrap()).await
}

async fn post_json(app: &Router, path: &str, body: &Value) -> Reply {
    let req = Request::post(path)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    call(app, req).await
}

async fn submit(app: &Router, entry: &SignedEntry) -> Reply {
    let req = Request::post("/v1/entries")
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(entry).unwrap()))
        .unwrap();
    call(app, req).await
}

fn trust_path(entity: &str, extra: &str) -> String {
    format!("/v1/trust?entity_id={entity}&action=issue&resource=UniversityDegree{extra}")
}

fn assert_problem(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.content_type, "application/problem+json", "{r:?}");
    assert_eq!(
        r.body["type"],
        format!("urn:trust-registry:problem:{code}"),
        "{r:?}"
    );
}

/// The current slot of a 10-second interval: a whole multiple of 10 not after now.
fn current_slot() -> u64 {
    let now = registry_node::now().0;
    now - now % 10
}

/// The proof member of an answer, decoded to its bundle.
fn bundle_of(body: &Value) -> (ProofView, Bundle) {
    let view: ProofView = serde_json::from_value(body["proof"].clone()).unwrap();
    let bundle = Bundle::decode(&view.bundle_bytes().unwrap()).unwrap();
    (view, bundle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_verify_offline_to_the_decision_they_state() {
    let n = InProcess::start().await;
    let app = n.router();
    let slot = current_slot();
    n.checkpoint(slot, 2);

    let t = get(&app, &trust_path(UNI, "&proof=true")).await;
    assert_eq!(t.status, StatusCode::OK, "{t:?}");
    assert_eq!(t.body["authorized"], true, "{t:?}");
    let (view, bundle) = bundle_of(&t.body);
    assert_eq!(view.slot, Timestamp(slot).to_rfc3339());
    assert_eq!(view.knowledge_until, Timestamp(slot - LAG).to_rfc3339());
    assert_eq!(
        (view.signatures, view.cosigned, view.authorized),
        (2, true, true)
    );
    assert_eq!(
        view.checkpoint, bundle.note,
        "the note shown is the one proven"
    );
    let at = Timestamp::parse_rfc3339(t.body["time_evaluated"].as_str().unwrap()).unwrap();
    let asked = ProvenQuery {
        entity: UNI.into(),
        action: "issue".into(),
        resource: "UniversityDegree".into(),
        kind: Kind::Authorization,
        at,
    };
    assert_eq!(bundle.query, asked, "the question proven is the one asked");
    let verified = verify(&bundle, &n.options(at.0)).unwrap();
    assert!(verified.decision.is_authorized(), "{verified:?}");
    assert_eq!(verified.signers.len(), 2);
    assert_eq!(verified.checkpoint.slot, Timestamp(slot));

    // The freshness of every answer names the cosigned slot and the knowledge's age.
    let f = &t.body["freshness"];
    assert_eq!(f["checkpoint_slot"], Timestamp(slot).to_rfc3339(), "{f}");
    let age = f["knowledge_age_secs"].as_u64().unwrap();
    assert_eq!(age, at.0 - (slot - LAG), "{f}");

    // A denial is proven too, with the revocation it rests on.
    let t = get(&app, &trust_path(GONE, "&proof=true")).await;
    assert_eq!(t.body["authorized"], false, "{t:?}");
    let (view, bundle) = bundle_of(&t.body);
    assert_eq!(
        (view.authorized, view.reason),
        (false, Some(Reason::Revoked))
    );
    let verified = verify(&bundle, &n.options(at.0)).unwrap();
    assert!(
        matches!(
            verified.decision,
            Decision::Denied { reason: Reason::Revoked, accreditation: Some(id) } if id == n.revoked
        ),
        "{verified:?}"
    );

    // An entry newer than the checkpoint state changes the live answer, not the proof.
    let new_entity = "did:web:new.example";
    let authority = testkit::authority(&n.fx);
    let fresh =
        n.fx.accredit(&EntityId::parse(new_entity).unwrap())
            .grant("issue", "UniversityDegree")
            .controller(key(21).did())
            .issued_at(at.0)
            .by_holder(authority.id(), &[&key(testkit::AUTHORITY_KEY_SEED)]);
    assert_eq!(submit(&app, &fresh).await.status, StatusCode::ACCEPTED);
    let t = get(&app, &trust_path(new_entity, "&proof=true")).await;
    assert_eq!(t.body["authorized"], true, "the live state holds it: {t:?}");
    let (view, bundle) = bundle_of(&t.body);
    assert_eq!(
        (view.authorized, view.reason),
        (false, Some(Reason::NoAccreditation)),
        "the checkpoint state does not"
    );
    let verified = verify(&bundle, &n.options(at.0)).unwrap();
    assert!(!verified.decision.is_authorized(), "{verified:?}");

    // Without proof=true there is no proof member.
    let t = get(&app, &trust_path(UNI, "")).await;
    assert_eq!(t.body.get("proof"), None, "{t:?}");
    n.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trqp_context_proof_adds_a_verifiable_proof() {
    let n = InProcess::start().await;
    let app = n.router();
    let slot = current_slot();
    n.checkpoint(slot, 3);
    let authority_id = n.fx.genesis.authority_id.to_string();
    let ask = |context: Value| {
        serde_json::json!({
            "entity_id": UNI, "authority_id": authority_id, "action": "issue",
            "resource": "UniversityDegree", "context": context,
        })
    };

    let r = post_json(
        &app,
        "/authorization",
        &ask(serde_json::json!({"proof": "true"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["authorized"], true, "{r:?}");
    assert_eq!(r.body["context"]["proof"], "true", "the context is echoed");
    assert_eq!(
        r.body["freshness"]["checkpoint_slot"],
        Timestamp(slot).to_rfc3339()
    );
    let (view, bundle) = bundle_of(&r.body);
    assert_eq!((view.signatures, view.authorized), (3, true));
    let now = registry_node::now().0;
    assert!(verify(&bundle, &n.options(now))
        .unwrap()
        .decision
        .is_authorized());

    // A recognition question is proven as one: nothing recognizes UNI.
    let r = post_json(
        &app,
        "/recognition",
        &ask(serde_json::json!({"proof": "true"})),
    )
    .await;
    assert_eq!(r.body["recognized"], false, "{r:?}");
    let (view, bundle) = bundle_of(&r.body);
    assert_eq!(bundle.query.kind, Kind::Recognition);
    assert!(!view.authorized);
    assert!(!verify(&bundle, &n.options(now))
        .unwrap()
        .decision
        .is_authorized());

    let r = post_json(
        &app,
        "/authorization",
        &ask(serde_json::json!({"proof": "false"})),
    )
    .await;
    assert_eq!(r.body.get("proof"), None, "{r:?}");
    let r = post_json(
        &app,
        "/authorization",
        &ask(serde_json::json!({"proof": "yes"})),
    )
    .await;
    assert_problem(&r, StatusCode::BAD_REQUEST, "invalid_parameter");
    n.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_wait_for_the_checkpoint_state_s_note() {
    let n = InProcess::start().await;
    let app = n.router();
    let t = get(&app, &trust_path(UNI, "&proof=true")).await;
    assert_problem(&t, StatusCode::SERVICE_UNAVAILABLE, "no_checkpoint");
    assert_eq!(t.retry_after.as_deref(), Some("1"));
    let t = get(&app, &trust_path(UNI, "")).await;
    assert_eq!(
        t.status,
        StatusCode::OK,
        "the live answer needs no checkpoint"
    );
    assert_eq!(t.body["freshness"]["checkpoint_slot"], Value::Null);
    assert_eq!(t.body["freshness"]["knowledge_age_secs"], Value::Null);

    // An earlier slot's note, then an entry issued before the next cutoff: the state
    // advances past it and changes, and its note is not made yet.
    let slot = current_slot();
    n.checkpoint(slot - 20, 2);
    let t = get(&app, &trust_path(UNI, "&proof=true")).await;
    assert_eq!(t.status, StatusCode::OK, "{t:?}");
    let late =
        n.fx.accredit(&EntityId::parse("did:web:late.example").unwrap())
            .grant("issue", "UniversityDegree")
            .controller(key(22).did())
            .issued_at(slot - 10)
            .by_roots(&n.fx.root_keys(1));
    assert_eq!(submit(&app, &late).await.status, StatusCode::ACCEPTED);
    n.advance(slot);
    let t = get(&app, &trust_path(UNI, "&proof=true")).await;
    assert_problem(&t, StatusCode::SERVICE_UNAVAILABLE, "checkpoint_pending");
    assert_eq!(t.retry_after.as_deref(), Some("1"));
    let r = post_json(
        &app,
        "/authorization",
        &serde_json::json!({
            "entity_id": UNI, "authority_id": n.fx.genesis.authority_id.to_string(),
            "action": "issue", "resource": "UniversityDegree", "context": {"proof": "true"},
        }),
    )
    .await;
    assert_problem(&r, StatusCode::SERVICE_UNAVAILABLE, "checkpoint_pending");
    n.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_age_refuses_stale_authorizations_only() {
    let n = InProcess::start().await;
    let app = n.router();
    let trqp = |entity: &str, max_age: &str| {
        serde_json::json!({
            "entity_id": entity, "authority_id": n.fx.genesis.authority_id.to_string(),
            "action": "issue", "resource": "UniversityDegree", "context": {"max_age": max_age},
        })
    };
    // No cosigned checkpoint: no authorization under any max_age; denials pass.
    let t = get(&app, &trust_path(UNI, "&max_age=3600")).await;
    assert_problem(&t, StatusCode::SERVICE_UNAVAILABLE, "stale");
    let t = get(&app, &trust_path(GONE, "&max_age=3600")).await;
    assert_eq!(
        (t.status, &t.body["authorized"]),
        (StatusCode::OK, &Value::Bool(false))
    );
    let t = get(&app, &trust_path(UNI, "")).await;
    assert_eq!(
        t.body["authorized"], true,
        "without max_age the answer stays available"
    );

    // One signature of a quorum of two is not cosigned knowledge.
    let old = current_slot() - 100;
    n.checkpoint(old, 1);
    let t = get(&app, &trust_path(UNI, "&max_age=3600")).await;
    assert_problem(&t, StatusCode::SERVICE_UNAVAILABLE, "stale");

    // Cosigned at a slot 100 s ago: knowledge about 105 s old.
    n.checkpoint(old, 2);
    let t = get(&app, &trust_path(UNI, "&max_age=60")).await;
    assert_problem(&t, StatusCode::SERVICE_UNAVAILABLE, "stale");
    assert!(
        t.body["detail"].as_str().unwrap().contains("60 s allowed"),
        "{t:?}"
    );
    let t = get(&app, &trust_path(GONE, "&max_age=60")).await;
    assert_eq!(
        t.body["authorized"], false,
        "a denial is never stale: {t:?}"
    );
    let t = get(&app, &trust_path(UNI, "&max_age=3600")).await;
    assert_eq!(t.body["authorized"], true, "{t:?}");
    let age = t.body["freshness"]["knowledge_age_secs"].as_u64().unwrap();
    assert!((100 + LAG..100 + LAG + 30).contains(&age), "{age}");

    let r = post_json(&app, "/authorization", &trqp(UNI, "60")).await;
    assert_problem(&r, StatusCode::SERVICE_UNAVAILABLE, "stale");
    let r = post_json(&app, "/authorization", &trqp(GONE, "60")).await;
    assert_eq!(r.body["authorized"], false, "{r:?}");
    let r = post_json(&app, "/authorization", &trqp(UNI, "3600")).await;
    assert_eq!(r.body["authorized"], true, "{r:?}");
    let r = post_json(&app, "/authorization", &trqp(UNI, "soon")).await;
    assert_problem(&r, StatusCode::BAD_REQUEST, "invalid_parameter");
    let t = get(&app, &trust_path(UNI, "&max_age=-1")).await;
    assert_eq!(t.status, StatusCode::BAD_REQUEST, "{t:?}");
    n.node.stop().await;
}
