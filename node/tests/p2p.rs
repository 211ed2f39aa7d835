//! Real `registry-node` processes on loopback forming one registry: an accreditation
//! submitted to node 1 becomes authorized on node 3, a node started afterwards catches up,
//! a revocation reaches every node, and the deny-list cuts a peer off and lets it back.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

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
    let tmp = tempfile::tempdir().unwrap();
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
    let uni = EntityId::parse(UNI).unwrap();
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
    // Answers come from the accepted set; `status` reports the durable head, which follows
    // within a group commit: wait (with the deadline) for the four heads to agree.
    wait_until(&n1, "equal state roots of 3 entries on every node", |_| {
        let all: Vec<Value> = [&n1, &n2, &n3, &n4].iter().map(|n| n.status()).collect();
        all.iter()
            .all(|s| s["state_root"] == all[0]["state_root"] && s["entries"] == 3)
            .then(|| json!(all))
    });
    let metrics = n3.get("/metrics").text;
    assert!(metrics.contains("registry_peers "), "{metrics}");
}

#[test]
fn the_deny_list_cuts_a_peer_off_and_allow_lets_it_back() {
    let tmp = tempfile::tempdir().unwrap();
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

    let r = a.admin_post("/v1/admin/peers/deny", &json!({ "peer_id": b_id }));
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
    a.admin_post("/v1/admin/peers/deny", &json!({ "peer_id": "not-a-peer" }))
        .problem(400);
    a.admin_post("/v1/admin/peers/deny", &json!({ "peer": b_id }))
        .problem(422);

    let r = a.admin_post("/v1/admin/peers/allow", &json!({ "peer_id": b_id }));
    assert_eq!(r.json()["changed"], true, "{r:?}");
    // B redials its bootstrap peer; the sync on connection brings the entry over.
    wait_until(&b, "the entry written while denied", |n| {
        let r = n.get(&view);
        (r.status == 200).then(|| r.json())
    });
}

/// `start` with a sync period of 60 s, so what converges sooner came by gossip.
fn start_slow_sync(tmp: &std::path::Path, fx: &Fixture, name: &str, boot: Option<&str>) -> Node {
    let dir = tmp.join(name);
    init(&dir, &fx.genesis);
    let config = tmp.join(format!("{name}.toml"));
    std::fs::write(&config, "[p2p]\nsync_period_secs = 60\n").unwrap();
    let (dir, config) = (dir.to_string_lossy(), config.to_string_lossy());
    let mut args = vec!["run", "--data-dir", &dir, "--config", &config];
    if let Some(b) = boot {
        args.extend(["--bootstrap", b]);
    }
    Node::spawn(&args, tmp)
}

fn entry_status(node: &Node, id: &registry_core::EntryId) -> Value {
    let r = node.get(&format!("/v1/entries/{id}"));
    if r.status == 200 {
        r.json()["status"].clone()
    } else {
        Value::Null
    }
}

fn peer_id(node: &Node) -> String {
    node.status()["peer_id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Roots R1 and R2 at threshold 2, three nodes. An accreditation signed by R1 alone is
/// submitted to node 0 and waits, pending, on every node; the copy signed by both is then
/// submitted to node 0. Every node accepts it, with equal state roots and answers, within
/// a sync period (by gossip: the fuller copy is a new message). With node 1 cut off by the
/// deny-list before the fuller copy arrives, it catches up by sync once let back.
#[test]
fn copies_with_more_signatures_reach_every_node_by_gossip_and_by_sync() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = Fixture::new(2, 2, 4);
    let n0 = start_slow_sync(tmp.path(), &fx, "n0", None);
    let boot = first_listen_addr(&n0);
    let n1 = start_slow_sync(tmp.path(), &fx, "n1", Some(&boot));
    let n2 = start_slow_sync(tmp.path(), &fx, "n2", Some(&boot));
    let nodes = [&n0, &n1, &n2];
    for n in nodes {
        wait_until(n, "two peers", |n| {
            let s = n.status();
            (s["peers"].as_u64() >= Some(2)).then_some(s)
        });
    }
    let uni = EntityId::parse(UNI).unwrap();
    let draft = |nonce: u64| {
        fx.accredit(&uni)
            .grant("issue", "UniversityDegree")
            .controller(key(20).did())
            .issued_at(1_700_000_000)
            .valid(1_700_000_000, None)
            .nonce(nonce)
    };
    let (r1, r2) = (&fx.roots[0], &fx.roots[1]);

    // Gossip: partly signed, pending everywhere; fully signed, accepted everywhere.
    let partly = draft(1).by_roots(&[r1]);
    let fully = draft(1).by_roots(&[r1, r2]);
    let r = n0.post("/v1/entries", &partly);
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (202, json!("pending"))
    );
    for n in nodes {
        wait_until(n, "the partly signed copy, pending", |n| {
            (entry_status(n, &partly.id()) == "pending").then_some(Value::Null)
        });
        assert_eq!(trust(n)["authorized"], false);
    }
    let sent = Instant::now();
    let r = n0.post("/v1/entries", &fully);
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (202, json!("accepted"))
    );
    for n in nodes {
        wait_until(n, "the fully signed copy, accepted", |n| {
            let t = trust(n);
            (t["authorized"] == true).then_some(t)
        });
    }
    let took = sent.elapsed();
    assert!(
        took < Duration::from_secs(60),
        "took {took:?}: not by gossip"
    );
    // The state root in /v1/status is the ledger's, written just after the answers change.
    let root = wait_until(&n0, "a state root", |n| {
        let s = n.status();
        (s["entries"] == 1).then(|| s["state_root"].clone())
    });
    for n in nodes {
        wait_until(n, "node 0's state root", |n| {
            let s = n.status();
            (s["state_root"] == root).then_some(s)
        });
    }

    // Sync: node 1 holds the partly signed copy of a second entry, then is cut off.
    let partly = draft(2).by_roots(&[r1]);
    let fully = draft(2).by_roots(&[r1, r2]);
    submit(&n0, &partly);
    wait_until(&n1, "the second partly signed copy", |n| {
        (entry_status(n, &partly.id()) == "pending").then_some(Value::Null)
    });
    for other in [peer_id(&n0), peer_id(&n2)] {
        let r = n1.admin_post("/v1/admin/peers/deny", &json!({ "peer_id": other }));
        assert_eq!(r.status, 200, "{r:?}");
    }
    wait_until(&n1, "no peers", |n| {
        let s = n.status();
        (s["peers"] == 0).then_some(s)
    });
    submit(&n0, &fully);
    wait_until(&n2, "the second entry, accepted", |n| {
        (entry_status(n, &fully.id()) == "accepted").then_some(Value::Null)
    });
    assert_eq!(entry_status(&n1, &fully.id()), "pending");
    assert_ne!(n1.status()["state_root"], n0.status()["state_root"]);
    for other in [peer_id(&n0), peer_id(&n2)] {
        let r = n1.admin_post("/v1/admin/peers/allow", &json!({ "peer_id": other }));
        assert_eq!(r.status, 200, "{r:?}");
    }
    let root = n0.status()["state_root"].clone();
    wait_until(&n1, "node 0's state root after the heal", |n| {
        let s = n.status();
        (s["state_root"] == root).then_some(s)
    });
    assert_eq!(entry_status(&n1, &fully.id()), "accepted");
    let view = n1.get(&format!("/v1/entries/{}", fully.id())).json();
    assert_eq!(
        view["entry"]["signatures"].as_array().map(Vec::len),
        Some(2),
        "{view}"
    );
}

/// A peer denied at run time stays denied after the node restarts (listed as the
/// operator's, and denying it again changes nothing) until it is allowed; a node refuses
/// to deny its own peer id.
#[test]
fn the_deny_list_survives_a_restart_and_a_node_cannot_deny_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = Fixture::new(1, 1, 4);
    let b = start(tmp.path(), &fx, "b", None);
    let b_addr = first_listen_addr(&b);
    let a = start(tmp.path(), &fx, "a", Some(&b_addr));
    wait_until(&a, "a peer", |n| {
        let s = n.status();
        (s["peers"] == 1).then_some(s)
    });
    let (a_id, b_id) = (peer_id(&a), peer_id(&b));
    let own = a.admin_post("/v1/admin/peers/deny", &json!({ "peer_id": a_id }));
    assert_eq!(own.problem(400), "own_peer_id");
    assert!(own.text.contains("own peer id"), "{own:?}");
    let r = a.admin_post("/v1/admin/peers/deny", &json!({ "peer_id": b_id }));
    assert_eq!(r.json()["changed"], true, "{r:?}");
    let denied = json!([{ "peer_id": b_id, "source": "operator" }]);
    assert_eq!(a.get("/v1/peers").json()["denied"], denied);

    let dir = tmp.path().join("a").to_string_lossy().into_owned();
    let restart = |a: Node| {
        assert!(a.stop().success());
        Node::spawn(
            &["run", "--data-dir", &dir, "--bootstrap", &b_addr],
            tmp.path(),
        )
    };
    let a = restart(a);
    assert_eq!(a.get("/v1/peers").json()["denied"], denied);
    let again = a.admin_post("/v1/admin/peers/deny", &json!({ "peer_id": b_id }));
    assert_eq!(again.json()["changed"], false, "{again:?}");
    assert_eq!(a.status()["peers"], 0);

    // Allowed, it connects (the bootstrap address names it), and stays allowed.
    let r = a.admin_post("/v1/admin/peers/allow", &json!({ "peer_id": b_id }));
    assert_eq!(r.json()["changed"], true, "{r:?}");
    wait_until(&a, "the allowed peer", |n| {
        let s = n.status();
        (s["peers"] == 1).then_some(s)
    });
    let a = restart(a);
    assert_eq!(a.get("/v1/peers").json()["denied"], json!([]));
    wait_until(&a, "the allowed peer after a restart", |n| {
        let s = n.status();
        (s["peers"] == 1).then_some(s)
    });
}
