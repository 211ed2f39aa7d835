//! Real `registry-node` processes on loopback forming one registry: an accreditation
//! submitted to node 1 becomes authorized on node 3, a node started afterwards catches up,
//! a revocation reaches every node, and the deny-list cuts a peer off and lets it back.

mod common;

use std::time::{Duration, Instant};

use common::{init, Node};
use registry_core::testkit::{self, key, Fixture};
use registry_core::{EntityId, SignedEntry};
use serde_json::{json, Value};

const UNI: &str = "did:web:uni.example";
const REVOKED_AT: u64 = 1_749_945_600;
const DEADLINE: Duration = Duration::from_secs(30);

fn start(tmp: &std::path::Path, fx: &Fixture, name: &str, bootstrap: Option<&str>) -> Node {
    let dir = tmp.join(name);
    init(&dir, &fx.genesis);
    let dir = dir.to_string_lossy().into_owned();
    let mut args = vec!["run", "--data-dir", &dir];
    if let Some(b) = bootstrap {
        args.extend(["--bootstrap", b]);
    }
    Node::spawn(&args, tmp)
}

fn submit(node: &Node, entry: &SignedEntry) {
    let r = node.post("/v1/entries", entry);
    assert_eq!(r.status, 202, "{r:?}");
}

fn trust(node: &Node) -> Value {
    let q = format!("/v1/trust?entity_id={UNI}&action=issue&resource=UniversityDegree");
    node.get(&q).json()
}

/// Polls `check` on `node` until it holds, failing after the deadline with the last
/// answer and the node's log.
fn wait_until(node: &Node, what: &str, check: impl Fn(&Node) -> Option<Value>) -> Value {
    let started = Instant::now();
    loop {
        if let Some(v) = check(node) {
            return v;
        }
        if started.elapsed() > DEADLINE {
            panic!("{} never saw {what}: {}", node.base, node.logs());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn first_listen_addr(node: &Node) -> String {
    let status = wait_until(node, "a listen address", |n| {
        let s = n.status();
        s["listen_addrs"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
            .then_some(s)
    });
    status["listen_addrs"][0]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn three_processes_converge_and_a_late_node_catches_up() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fx = Fixture::new(1, 1, 4);
    let n1 = start(tmp.path(), &fx, "n1", None);
    let boot = first_listen_addr(&n1);
    let n2 = start(tmp.path(), &fx, "n2", Some(&boot));
    let n3 = start(tmp.path(), &fx, "n3", Some(&boot));
    for n in [&n1, &n2, &n3] {
        wait_until(n, "two peers", |n| {
            let s = n.status();
            (s["peers"].as_u64() >= Some(2)).then_some(s)
        });
    }

    // Accredit an authority and, as it, a university, both through node 1.
    let authority = testkit::authority(&fx);
    let uni = EntityId::parse(UNI).unwrap_or_else(|e| panic!("{e}"));
    let uni_acc = fx
        .accredit(&uni)
        .grant("issue", "UniversityDegree")
        .controller(key(20).did())
        .issued_at(1_700_000_000)
        .by_holder(authority.id(), &[&key(testkit::AUTHORITY_KEY_SEED)]);
    submit(&n1, &authority);
    submit(&n1, &uni_acc);
    let answer = wait_until(&n3, "the accreditation", |n| {
        let t = trust(n);
        (t["authorized"] == true).then_some(t)
    });
    assert_eq!(
        answer["chain"],
        json!([uni_acc.id().to_hex(), authority.id().to_hex()])
    );
    assert!(answer["freshness"]["peers"].as_u64() >= Some(2), "{answer}");

    // A node started afterwards, bootstrapping from node 2, catches up by sync.
    let n4 = start(tmp.path(), &fx, "n4", Some(&first_listen_addr(&n2)));
    let root = n1.status()["state_root"].clone();
    wait_until(&n4, "node 1's state root", |n| {
        let s = n.status();
        (s["state_root"] == root).then_some(s)
    });
    let s4 = n4.status();
    assert_eq!(s4["entries"], 2);
    assert!(s4["last_sync_at"].is_string(), "{s4}");
    assert_eq!(trust(&n4)["authorized"], true);

    // The roots revoke the authority through node 2: every node answers issuer_revoked,
    // and still authorizes a question about a time before the revocation.
    let revoke = fx
        .revoke(authority.id(), REVOKED_AT)
        .issued_at(REVOKED_AT)
        .by_roots(&fx.root_keys(1));
    submit(&n2, &revoke);
    for n in [&n1, &n2, &n3, &n4] {
        let t = wait_until(n, "the revocation", |n| {
            let t = trust(n);
            (t["authorized"] == false).then_some(t)
        });
        assert_eq!(t["reason"], "issuer_revoked", "{t}");
        let q = format!(
            "/v1/trust?entity_id={UNI}&action=issue&resource=UniversityDegree&at=2025-01-01T00:00:00Z"
        );
        assert_eq!(n.get(&q).json()["authorized"], true);
    }
    let roots: Vec<Value> = [&n1, &n2, &n3, &n4]
        .iter()
        .map(|n| n.status()["state_root"].clone())
        .collect();
    assert!(roots.iter().all(|r| *r == roots[0]), "{roots:?}");
    let metrics = n3.get("/metrics").text;
    assert!(metrics.contains("registry_peers "), "{metrics}");
}

#[test]
fn the_deny_list_cuts_a_peer_off_and_allow_lets_it_back() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fx = Fixture::new(1, 1, 4);
    let a = start(tmp.path(), &fx, "a", None);
    let b = start(tmp.path(), &fx, "b", Some(&first_listen_addr(&a)));
    wait_until(&a, "a peer", |n| {
        let s = n.status();
        (s["peers"] == 1).then_some(s)
    });
    let b_id = b.status()["peer_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let peers = a.get("/v1/peers").json();
    assert_eq!(peers["peers"][0]["peer_id"], b_id.as_str(), "{peers}");

    let r = a.post("/v1/admin/peers/deny", &json!({ "peer_id": b_id }));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["changed"], true);
    wait_until(&a, "no peers", |n| {
        let s = n.status();
        (s["peers"] == 0).then_some(s)
    });
    // While denied, an entry written at A does not reach B.
    let authority = testkit::authority(&fx);
    submit(&a, &authority);
    let view = format!("/v1/entries/{}", authority.id());
    assert_eq!(b.get(&view).status, 404);
    assert_eq!(b.status()["peers"], 0);

    // Bad requests get problems.
    a.post("/v1/admin/peers/deny", &json!({ "peer_id": "not-a-peer" }))
        .problem(400);
    a.post("/v1/admin/peers/deny", &json!({ "peer": b_id }))
        .problem(422);

    let r = a.post("/v1/admin/peers/allow", &json!({ "peer_id": b_id }));
    assert_eq!(r.json()["changed"], true, "{r:?}");
    // B redials its bootstrap peer; the sync on connection brings the entry over.
    wait_until(&b, "the entry written while denied", |n| {
        let r = n.get(&view);
        (r.status == 200).then(|| r.json())
    });
}
