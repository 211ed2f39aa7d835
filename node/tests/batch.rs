//! `POST /v1/entries/batch` on a real node: one outcome per entry in the order sent (an
//! entry may refer to one before it in the batch), refusals named per entry, the limits
//! of a batch, and every accepted entry still there after a restart.
#![allow(clippy::unwrap_used)]

mod common;

use common::{setup, Node};
use registry_core::testkit::{self, key};
use registry_core::{EntityId, SignedEntry};
use serde_json::{json, Value};

fn outcomes(r: &common::Reply) -> Vec<Value> {
    assert_eq!(r.status, 200, "{r:?}");
    r.json()["outcomes"].as_array().unwrap().clone()
}

#[test]
fn a_batch_answers_each_entry_in_order_and_keeps_what_it_accepted() {
    let s = setup();
    let node = Node::run(&s.dir);
    let authority = testkit::authority(&s.fx);
    let signer = key(testkit::AUTHORITY_KEY_SEED);
    let issuer = |n: u64| testkit::issuer(&s.fx, authority.id(), &signer, n);
    let mut forged = issuer(2);
    forged.signatures[0].sig[0] ^= 1;
    let orphan =
        s.fx.accredit(&EntityId::parse("did:web:orphan.example").unwrap())
            .grant("issue", "X")
            .controller(key(9).did())
            .by_holder(issuer(99).id(), &[&key(99 % 64 + 100)]);
    let batch: Vec<SignedEntry> = vec![authority.clone(), issuer(1), forged, issuer(1), orphan];
    let r = node.post("/v1/entries/batch", &batch);
    let got = outcomes(&r);
    assert_eq!(got.len(), 5, "{got:?}");
    for (o, e) in got.iter().zip(&batch) {
        assert_eq!(o["id"], json!(e.id().to_hex()));
    }
    assert_eq!(got[0]["status"], "accepted", "{got:?}");
    assert_eq!(got[1]["status"], "accepted", "{got:?}");
    assert_eq!(got[2]["status"], Value::Null, "{got:?}");
    assert_eq!(got[2]["error"]["code"], "bad_signature", "{got:?}");
    assert_eq!(got[3]["status"], "duplicate", "{got:?}");
    assert_eq!(got[4]["status"], "pending", "{got:?}");
    assert_eq!(got[4]["missing"], json!([issuer(99).id().to_hex()]));

    // Limits: empty, more than 1,024 entries, a body over the batch limit.
    assert_eq!(
        node.post("/v1/entries/batch", &Vec::<SignedEntry>::new())
            .problem(400),
        "invalid_batch"
    );
    let many: Vec<SignedEntry> = (0..1025).map(|n| issuer(1000 + n)).collect();
    assert_eq!(
        node.post("/v1/entries/batch", &many).problem(400),
        "invalid_batch"
    );
    let huge = vec![b' '; 5 * 1024 * 1024];
    let r = node.post_raw("/v1/entries/batch", Some("application/json"), &huge);
    assert_eq!(r.problem(413), "body_too_large");
    // A single submit keeps its own, smaller limit.
    let r = node.post_raw(
        "/v1/entries",
        Some("application/json"),
        &vec![b' '; 300 * 1024],
    );
    assert_eq!(r.problem(413), "body_too_large");
    // 1,024 is a batch.
    let full: Vec<SignedEntry> = (0..1024).map(|n| issuer(2000 + n)).collect();
    let got = outcomes(&node.post("/v1/entries/batch", &full));
    assert!(got.iter().all(|o| o["status"] == "accepted"), "{got:?}");

    let entries = node.status()["entries"].as_u64().unwrap();
    assert_eq!(entries, 2 + 1024);
    assert!(node.stop().success());
    let node = Node::run(&s.dir);
    assert_eq!(node.status()["entries"].as_u64().unwrap(), entries);
}
