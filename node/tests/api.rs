//! The HTTP API of a real node: submitting entries, trust questions over time, TRQP, and
//! bad requests answered with problem+json while the node keeps serving.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

mod common;

use common::{setup, Node};
use registry_core::testkit::{self, key, Fixture};
use registry_core::{EntityId, SignedEntry};
use serde_json::{json, Value};

const UNI: &str = "did:web:uni.example";
/// 2025-06-15T00:00:00Z: when the authority is revoked in these tests.
const REVOKED_AT: u64 = 1_749_945_600;

fn uni() -> EntityId {
    EntityId::parse(UNI).unwrap()
}

/// `issue:UniversityDegree` for did:web:uni.example, published by the test authority.
fn uni_accreditation(fx: &Fixture, authority: &SignedEntry) -> SignedEntry {
    fx.accredit(&uni())
        .grant("issue", "UniversityDegree")
        .controller(key(20).did())
        .issued_at(1_700_000_000)
        .by_holder(authority.id(), &[&key(testkit::AUTHORITY_KEY_SEED)])
}

fn submit(node: &Node, entry: &SignedEntry) -> Value {
    let r = node.post("/v1/entries", entry);
    assert_eq!(r.status, 202, "{r:?}");
    let v = r.json();
    assert_eq!(v["id"], entry.id().to_hex());
    v
}

fn trust(node: &Node, extra: &str) -> Value {
    let q = format!("/v1/trust?entity_id={UNI}&action=issue&resource=UniversityDegree{extra}");
    let r = node.get(&q);
    assert_eq!(r.status, 200, "{r:?}");
    r.json()
}

#[test]
fn trust_follows_accreditation_revocation_and_time() {
    let s = setup();
    let node = Node::run(&s.dir);
    let authority = testkit::authority(&s.fx);
    let uni_acc = uni_accreditation(&s.fx, &authority);

    // The holder-authored entry first: it waits for its author's accreditation.
    let v = submit(&node, &uni_acc);
    assert_eq!(v["status"], "pending");
    assert_eq!(v["missing"], json!([authority.id().to_hex()]));
    let pending = node.get(&format!("/v1/entries/{}", uni_acc.id()));
    assert_eq!(pending.json()["status"], "pending", "{pending:?}");
    assert_eq!(trust(&node, "")["reason"], "no_accreditation");

    assert_eq!(submit(&node, &authority)["status"], "accepted");
    assert_eq!(submit(&node, &authority)["status"], "duplicate");
    let view = node.get(&format!("/v1/entries/{}", uni_acc.id())).json();
    assert_eq!(view["status"], "accepted");
    assert_eq!(
        view["height"], 1,
        "released with its reference, in the same block"
    );
    assert_eq!(view["effective_now"], true);

    let t = trust(&node, "");
    assert_eq!(t["authorized"], true, "{t}");
    assert_eq!(
        t["chain"],
        json!([uni_acc.id().to_hex(), authority.id().to_hex()])
    );
    assert_eq!(t["accreditation"], uni_acc.id().to_hex());
    assert_eq!(t["time_requested"], Value::Null);
    assert_eq!(t["state_root"], node.status()["state_root"]);
    assert_eq!(t["freshness"]["peers"], 0);

    // The roots revoke the authority: its accreditations stop counting from then on.
    let revoke =
        s.fx.revoke(authority.id(), REVOKED_AT)
            .issued_at(REVOKED_AT)
            .by_roots(&s.fx.root_keys(1));
    assert_eq!(submit(&node, &revoke)["status"], "accepted");
    let t = trust(&node, "");
    assert_eq!(t["authorized"], false);
    assert_eq!(t["reason"], "issuer_revoked");
    let t = trust(&node, "&at=2025-01-01T00:00:00Z");
    assert_eq!(t["authorized"], true, "{t}");
    assert_eq!(t["time_requested"], "2025-01-01T00:00:00Z");
    let view = node.get(&format!("/v1/entries/{}", authority.id())).json();
    assert_eq!(view["reason_now"], "revoked");
    assert_eq!(view["revocations"], json!([revoke.id().to_hex()]));

    let subject = node.get(&format!("/v1/subjects/{UNI}")).json();
    let accs = subject["accreditations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(accs.len(), 1);
    assert_eq!(accs[0]["effective_now"], false);
    assert_eq!(accs[0]["reason_now"], "issuer_revoked");

    // Blocks and the export page list what was accepted, in ledger order.
    let blocks = node.get("/v1/blocks").json();
    assert_eq!(blocks["height"], 2);
    assert_eq!(
        node.get("/v1/blocks/2").json()["entries"],
        json!([revoke.id().to_hex()])
    );
    node.get("/v1/blocks/3").problem(404);
    let page = node.get("/v1/entries?from_height=1&max_blocks=1").json();
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(2));
    assert_eq!(page["next_height"], 2);
    let metrics = node.get("/metrics").text;
    assert!(metrics.contains("registry_entries 3\n"), "{metrics}");
    assert!(metrics.contains("registry_submissions_total{outcome=\"duplicate\"} 1\n"));
}

fn trqp(fx: &Fixture, extra: Value) -> Value {
    let mut body = json!({
        "entity_id": UNI,
        "authority_id": fx.genesis.authority_id.as_str(),
        "action": "issue",
        "resource": "UniversityDegree",
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    body
}

#[test]
fn trqp_authorization_and_recognition() {
    let s = setup();
    let node = Node::run(&s.dir);
    let authority = testkit::authority(&s.fx);
    submit(&node, &authority);
    submit(&node, &uni_accreditation(&s.fx, &authority));
    let recognized =
        s.fx.accredit(&uni())
            .recognition()
            .grant("issue", "UniversityDegree")
            .controller(key(21).did())
            .by_roots(&s.fx.root_keys(1));
    submit(&node, &recognized);

    let r = node.post("/authorization", &trqp(&s.fx, json!({})));
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (200, "application/json")
    );
    let a = r.json();
    assert_eq!(a["entity_id"], UNI);
    assert_eq!(a["authority_id"], "did:web:registry.example");
    assert_eq!(a["action"], "issue");
    assert_eq!(a["resource"], "UniversityDegree");
    assert_eq!(a["authorized"], true);
    assert!(a.get("time_requested").is_none(), "{a}");
    assert!(a["time_evaluated"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert!(a["message"]
        .as_str()
        .is_some_and(|m| m.contains("is authorized")));

    // Another action: a known authority that does not authorize is 200 with false.
    let ctx = json!({"context": {"time": "2025-01-01T00:00:00Z", "purpose": "test"}});
    let mut body = trqp(&s.fx, ctx);
    body["action"] = json!("revoke");
    let a = node.post("/authorization", &body).json();
    assert_eq!(a["authorized"], false);
    assert_eq!(a["time_requested"], "2025-01-01T00:00:00Z");
    assert_eq!(
        a["context"],
        json!({"time": "2025-01-01T00:00:00Z", "purpose": "test"})
    );
    assert!(
        a["message"]
            .as_str()
            .is_some_and(|m| m.contains("no_accreditation")),
        "{a}"
    );

    let r = node.post("/recognition", &trqp(&s.fx, json!({})));
    let a = r.json();
    assert_eq!(a["recognized"], true, "{a}");
    assert!(a.get("authorized").is_none());
    // At a time before the recognition's validity? It is valid from 0: still recognized.
    let a = node
        .post(
            "/recognition",
            &trqp(&s.fx, json!({"context": {"time": "1971-01-01T00:00:00Z"}})),
        )
        .json();
    assert_eq!(a["recognized"], true, "{a}");

    let r = node.post(
        "/authorization",
        &trqp(&s.fx, json!({"authority_id": "did:web:other.example"})),
    );
    assert_eq!(r.problem(404), "unknown_authority");
    let bad_time = json!({"context": {"time": "2025-01-01T01:00:00+01:00"}});
    let r = node.post("/authorization", &trqp(&s.fx, bad_time));
    assert_eq!(r.problem(400), "invalid_time");
    let r = node.post(
        "/recognition",
        &trqp(&s.fx, json!({"context": {"time": "soon"}})),
    );
    assert_eq!(r.problem(400), "invalid_time");
    let r = node.post(
        "/authorization",
        &json!({"entity_id": UNI, "action": "issue"}),
    );
    assert_eq!(r.problem(422), "invalid_body");
    let r = node.post(
        "/authorization",
        &trqp(&s.fx, json!({"context": {"time": 5}})),
    );
    assert_eq!(r.problem(422), "invalid_body");
    let r = node.post("/authorization", &trqp(&s.fx, json!({"action": ""})));
    assert_eq!(r.problem(400), "missing_parameter");
    let metrics = node.get("/metrics").text;
    let line = "registry_queries_total{api=\"recognition\",outcome=\"authorized\"} 2\n";
    assert!(metrics.contains(line), "{metrics}");
}

#[test]
fn bad_requests_get_problems_and_the_node_keeps_serving() {
    let s = setup();
    let node = Node::run(&s.dir);
    let good = testkit::authority(&s.fx);

    let r = node.post_raw("/v1/entries", Some("application/json"), b"{not json");
    assert_eq!(r.problem(400), "invalid_json");
    let r = node.post("/v1/entries", &json!({"body": {}}));
    assert_eq!(r.problem(422), "invalid_body");
    let r = node.post("/v1/entries", &json!({"body": 5, "signatures": "x"}));
    assert_eq!(r.problem(422), "invalid_body");
    let json_body = serde_json::to_vec(&good).unwrap_or_default();
    let r = node.post_raw("/v1/entries", Some("text/plain"), &json_body);
    assert_eq!(r.problem(415), "unsupported_media_type");
    let r = node.post_raw("/v1/entries", None, &json_body);
    assert_eq!(r.problem(415), "unsupported_media_type");
    let huge = vec![b' '; 300_000];
    let r = node.post_raw("/v1/entries", Some("application/json"), &huge);
    assert_eq!(r.problem(413), "body_too_large");

    let mut forged = good.clone();
    forged.body.nonce += 1; // the signature no longer matches the entry id
    let r = node.post("/v1/entries", &forged);
    assert_eq!(r.problem(400), "bad_signature");
    assert!(
        r.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("does not verify")),
        "{r:?}"
    );
    let other = Fixture::new(2, 1, 4);
    let r = node.post("/v1/entries", &testkit::authority(&other));
    assert_eq!(r.problem(400), "wrong_registry");
    let mut unsigned = good.clone();
    unsigned.signatures.clear();
    assert_eq!(
        node.post("/v1/entries", &unsigned).problem(400),
        "malformed"
    );

    assert_eq!(node.get("/v1/nowhere").problem(404), "not_found");
    assert_eq!(
        node.request("DELETE", "/v1/status").problem(405),
        "method_not_allowed"
    );
    assert_eq!(
        node.request("PUT", "/authorization").problem(405),
        "method_not_allowed"
    );
    assert_eq!(node.get("/v1/entries/xyz").problem(400), "invalid_id");
    let unknown = format!("/v1/entries/{}", good.id());
    assert_eq!(node.get(&unknown).problem(404), "unknown_entry");
    assert_eq!(node.get("/v1/blocks/-1").problem(400), "invalid_height");
    assert_eq!(
        node.get("/v1/blocks?limit=many").problem(400),
        "invalid_query"
    );
    assert_eq!(
        node.get("/v1/trust?entity_id=x&action=a").problem(400),
        "invalid_query"
    );
    let extra = "/v1/trust?entity_id=x&action=a&resource=r&color=red";
    assert_eq!(node.get(extra).problem(400), "invalid_query");
    let offset = "/v1/trust?entity_id=x&action=a&resource=r&at=2025-01-01T00:00:00%2B02:00";
    assert_eq!(node.get(offset).problem(400), "invalid_time");

    // Still serving, and the good entry is still accepted.
    assert_eq!(submit(&node, &good)["status"], "accepted");
    assert_eq!(node.status()["entries"], 1);
    let metrics = node.get("/metrics").text;
    assert!(
        metrics.contains("registry_submissions_total{outcome=\"rejected\"} 3\n"),
        "{metrics}"
    );
}

/// An accreditation that expired after it was revoked: every API names the revocation,
/// the first reason by the documented precedence, not the expiry.
#[test]
fn a_revoked_and_expired_accreditation_is_revoked_in_every_answer() {
    let s = setup();
    let node = Node::run(&s.dir);
    let day = 86_400;
    let acc =
        s.fx.accredit(&uni())
            .grant("issue", "UniversityDegree")
            .controller(key(20).did())
            .valid(REVOKED_AT - 400 * day, Some(REVOKED_AT - 50 * day))
            .issued_at(REVOKED_AT - 400 * day)
            .by_roots(&s.fx.root_keys(1));
    let revoke =
        s.fx.revoke(acc.id(), REVOKED_AT - 70 * day)
            .issued_at(REVOKED_AT - 60 * day)
            .by_roots(&s.fx.root_keys(1));
    submit(&node, &acc);
    submit(&node, &revoke);
    let t = trust(&node, "");
    assert_eq!(
        (t["authorized"].clone(), t["reason"].clone()),
        (json!(false), json!("revoked")),
        "{t}"
    );
    assert_eq!(t["accreditation"], acc.id().to_hex());
    let subject = node.get(&format!("/v1/subjects/{UNI}")).json();
    assert_eq!(
        subject["accreditations"][0]["reason_now"], "revoked",
        "{subject}"
    );
    let view = node.get(&format!("/v1/entries/{}", acc.id())).json();
    assert_eq!(view["reason_now"], "revoked", "{view}");
    let a = node.post("/authorization", &trqp(&s.fx, json!({}))).json();
    assert_eq!(a["authorized"], false);
    assert!(
        a["message"]
            .as_str()
            .is_some_and(|m| m.contains("revoked") && !m.contains("expired")),
        "{a}"
    );
}

/// An entry acknowledged as pending is kept across a restart and accepted when its
/// reference arrives; its record is then dropped.
#[test]
fn a_pending_entry_survives_a_restart_and_is_accepted_when_its_reference_arrives() {
    let s = setup();
    let node = Node::run(&s.dir);
    let authority = testkit::authority(&s.fx);
    let child = uni_accreditation(&s.fx, &authority);
    let r = submit(&node, &child);
    assert_eq!(r["status"], "pending", "{r}");
    assert!(node.stop().success());

    let node = Node::run(&s.dir);
    let view = node.get(&format!("/v1/entries/{}", child.id()));
    assert_eq!(view.status, 200, "{view:?}");
    assert_eq!(view.json()["status"], "pending");
    assert_eq!(node.status()["pending"], 1);
    assert_eq!(submit(&node, &authority)["status"], "accepted");
    let view = node.get(&format!("/v1/entries/{}", child.id())).json();
    assert_eq!(view["status"], "accepted", "{view}");
    assert_eq!(trust(&node, "")["authorized"], true);
    assert!(node.stop().success());

    let node = Node::run(&s.dir);
    let status = node.status();
    assert_eq!(
        (status["pending"].clone(), status["entries"].clone()),
        (json!(0), json!(2)),
        "{status}"
    );
    assert!(node.stop().success());
}
