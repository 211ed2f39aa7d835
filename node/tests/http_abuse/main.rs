//! Abuse of a real node's HTTP API: oversized, lying and deeply nested bodies, malformed
//! JSON and content types, malformed queries and paths, slow clients, and hundreds of
//! concurrent clients. Throughout, an honest client keeps asking trust and status
//! questions: every one must succeed within a bounded latency, no answer may be a 5xx,
//! the node's memory must stay bounded, and slow or silent connections must be closed.
//!
//! Each test prints one summary line (cases, statuses seen, honest requests ok/total,
//! p99 and max latency, resident memory growth).
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

#[path = "../common/mod.rs"]
mod common;

mod bodies;
mod clients;
mod monitor;
mod queries;
mod raw;

use std::sync::Mutex;
use std::time::Duration;

use common::{setup, Node, Setup};
use registry_core::testkit::{self, key};
use registry_core::EntityId;

/// Body limit of the test node (the default).
const MAX_BODY: usize = 262_144;
/// Header and body deadlines of the test node, in seconds.
const TIMEOUT_SECS: u64 = 2;
/// Bound on an honest request's p99 latency while the node is being abused.
const HONEST_P99: Duration = Duration::from_millis(1000);
/// Bound on an honest request's worst latency.
const HONEST_MAX: Duration = Duration::from_millis(3000);
/// Bound on the node's resident memory growth during one test.
const RSS_GROWTH_BOUND_KIB: u64 = 256 * 1024;

const UNI: &str = "did:web:uni.example";
const TRUST_QUERY: &str =
    "/v1/trust?entity_id=did:web:uni.example&action=issue&resource=UniversityDegree";

/// The tests share one machine's CPU; they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// A node with short header and body deadlines and one accreditation to ask about.
struct Target {
    _setup: Setup,
    node: Node,
    addr: String,
}

fn target() -> Target {
    let s = setup();
    let config = format!(
        "[api]\nheader_read_timeout_secs = {TIMEOUT_SECS}\nbody_read_timeout_secs = {TIMEOUT_SECS}\n"
    );
    std::fs::write(s.dir.join("config.toml"), config).unwrap();
    let node = Node::run(&s.dir);
    let authority = testkit::authority(&s.fx);
    let uni = EntityId::parse(UNI).unwrap();
    let acc =
        s.fx.accredit(&uni)
            .grant("issue", "UniversityDegree")
            .controller(key(20).did())
            .issued_at(1_700_000_000)
            .by_holder(authority.id(), &[&key(testkit::AUTHORITY_KEY_SEED)]);
    for e in [&authority, &acc] {
        let r = node.post("/v1/entries", e);
        assert_eq!(r.status, 202, "{r:?}");
    }
    let r = node.get(TRUST_QUERY);
    assert_eq!(r.json()["authorized"], true, "{r:?}");
    let addr = node
        .base
        .strip_prefix("http://")
        .unwrap_or(&node.base)
        .to_string();
    Target {
        _setup: s,
        node,
        addr,
    }
}

/// Asserts the node is still running and logged no panic.
fn assert_alive(t: &mut Target) {
    assert!(t.node.is_running(), "node died: {}", t.node.logs());
    let logs = t.node.logs();
    assert!(!logs.contains("panicked"), "node panicked: {logs}");
    assert_eq!(t.node.get("/v1/status").status, 200);
}
