//! `registry verify-proof` on good and tampered bundles (exit 0 authorized, 1 not, 2
//! invalid, naming the failed check), `registry proof` against a stand-in node that
//! serves a real bundle, and `registry trust --max-age` refused as stale.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

mod support;

use std::sync::{Arc, Mutex};

use registry_core::api::{Freshness, ProofView, TrustAnswer};
use registry_core::entry::Kind;
use registry_core::eval::Decision;
use registry_core::proof::{prove, Bundle, ProvenQuery};
use registry_core::registry::Registry;
use registry_core::testkit::{entity, key, signed_checkpoint, witness_keys, Fixture};
use registry_core::{SecretKey, SignedEntry, Timestamp};
use serde_json::Value;
use support::fake_node::FakeNode;
use support::{Run, Sandbox, TestResult};

const SLOT: u64 = 1_000;
const LAG: u64 = 5;

/// A registry with a witness set of four (quorum three), an authorized `entity(3)` and a
/// revoked `entity(4)`, its checkpoint state at `SLOT`.
struct World {
    fx: Fixture,
    witnesses: Vec<SecretKey>,
    reg: Registry,
}

fn world() -> World {
    let fx = Fixture::new(1, 1, 4);
    let witnesses = witness_keys(4);
    let top = fx
        .accredit(&entity(1))
        .grant("accredit", "*")
        .controller(key(11).did())
        .issued_at(10)
        .by_roots(&fx.root_keys(1));
    let leaf = |n: u64| {
        fx.accredit(&entity(n))
            .grant("issue", "Degree")
            .controller(key(10 + n).did())
            .issued_at(30)
            .by_holder(top.id(), &[&key(11)])
    };
    let (good, gone) = (leaf(3), leaf(4));
    let revocation = fx
        .revoke(gone.id(), 40)
        .issued_at(40)
        .by_holder(top.id(), &[&key(11)]);
    let entries: Vec<SignedEntry> = vec![
        fx.set_witnesses(&witnesses, 3, 0),
        top,
        good,
        gone,
        revocation,
    ];
    let mut reg = Registry::new(fx.genesis.clone(), 1000);
    reg.ingest(entries);
    reg.advance_checkpoint(Timestamp(SLOT - LAG));
    World { fx, witnesses, reg }
}

impl World {
    fn query(who: u64) -> ProvenQuery {
        ProvenQuery {
            entity: entity(who).as_str().to_string(),
            action: "issue".into(),
            resource: "Degree".into(),
            kind: Kind::Authorization,
            at: Timestamp(500),
        }
    }

    /// The bundle for `entity(who)` with its note signed by `signers`.
    fn bundle(&self, who: u64, signers: &[&SecretKey]) -> (Bundle, Decision) {
        let state = self.reg.checkpoint().state();
        let note = signed_checkpoint(state, SLOT, signers);
        prove(state, &note, &World::query(who))
    }

    fn witnesses(&self, n: usize) -> Vec<&SecretKey> {
        self.witnesses.iter().take(n).collect()
    }

    fn registry(&self) -> String {
        self.fx.registry_id.to_hex()
    }
}

/// Writes `bytes` as `name` in the sandbox and runs `verify-proof` on it with `extra`.
fn verify_file(sb: &Sandbox, w: &World, name: &str, bytes: &[u8], extra: &[&str]) -> Run {
    std::fs::write(sb.path(name), bytes).unwrap();
    let file = sb.path(name);
    let registry = w.registry();
    let mut args = vec![
        "verify-proof",
        file.to_str().unwrap(),
        "--registry",
        registry.as_str(),
        "--now",
        "1010",
    ];
    args.extend_from_slice(extra);
    sb.run(&args).unwrap()
}

/// Asserts exit 2 and that stderr names `check` (as `invalid proof: CHECK: ...`).
fn assert_invalid(run: &Run, check: &str, says: &str) {
    assert_eq!(run.code, Some(2), "{run:?}");
    let prefix = format!("invalid proof: {check}: ");
    assert!(run.stderr.contains(&prefix), "expected {prefix:?}: {run:?}");
    assert!(run.stderr.contains(says), "expected {says:?}: {run:?}");
}

#[test]
fn verify_proof_exit_codes_name_the_decision_or_the_failed_check() -> TestResult {
    let sb = Sandbox::new()?;
    let w = world();
    let (good, decision) = w.bundle(3, &w.witnesses(3));
    assert!(decision.is_authorized());
    let run = verify_file(&sb, &w, "good.proof", &good.encode(), &[]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.starts_with("authorized (valid proof)"),
        "{run:?}"
    );
    assert!(run.stdout.contains("3 witness(es), quorum 3"), "{run:?}");

    let (denied, _) = w.bundle(4, &w.witnesses(3));
    let run = verify_file(&sb, &w, "denied.proof", &denied.encode(), &[]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("not authorized: revoked"), "{run:?}");

    // A flipped byte inside an entry's signature.
    let mut bytes = good.encode();
    let sig = good.entries[0].signatures[0].sig;
    let at = bytes.windows(64).position(|win| win == sig).unwrap();
    bytes[at + 7] ^= 0x01;
    let run = verify_file(&sb, &w, "flipped.proof", &bytes, &[]);
    assert_invalid(&run, "entry", "signature");

    // Each entry of the slice dropped in turn.
    for i in 0..good.entries.len() {
        let mut b = good.clone();
        b.entries.remove(i);
        let run = verify_file(&sb, &w, "dropped.proof", &b.encode(), &[]);
        assert_eq!(run.code, Some(2), "entry {i}: {run:?}");
        assert!(
            run.stderr.contains("invalid proof: index_proof: ")
                || run.stderr.contains("invalid proof: slice: "),
            "entry {i}: {run:?}"
        );
    }

    let (under, _) = w.bundle(3, &w.witnesses(2));
    let run = verify_file(&sb, &w, "under.proof", &under.encode(), &[]);
    assert_invalid(
        &run,
        "quorum",
        "the checkpoint carries 2 valid witness signatures, 3 are needed",
    );

    let strangers: Vec<SecretKey> = (0..3).map(|i| key(7000 + i)).collect();
    let (foreign, _) = w.bundle(3, &strangers.iter().collect::<Vec<_>>());
    let run = verify_file(&sb, &w, "foreign.proof", &foreign.encode(), &[]);
    assert_invalid(&run, "quorum", "");

    let run = verify_file(&sb, &w, "good.proof", &good.encode(), &["--max-age", "5"]);
    assert_invalid(&run, "stale", "10 s old, more than the 5 s allowed");
    let run = verify_file(&sb, &w, "good.proof", &good.encode(), &["--max-age", "10"]);
    assert_eq!(run.code, Some(0), "{run:?}");

    let other = Fixture::new(2, 1, 4).registry_id.to_hex();
    let file = sb.path("good.proof");
    let run = sb.run(&[
        "verify-proof",
        file.to_str().unwrap(),
        "--registry",
        &other,
        "--now",
        "1010",
    ])?;
    assert_invalid(&run, "registry", &other);

    let run = verify_file(&sb, &w, "junk.proof", b"not a bundle", &[]);
    assert_invalid(&run, "malformed", "not a bundle");
    Ok(())
}

#[test]
fn a_verifier_may_count_its_own_witnesses() -> TestResult {
    let sb = Sandbox::new()?;
    let w = world();
    let strangers: Vec<SecretKey> = (0..3).map(|i| key(7000 + i)).collect();
    let (foreign, _) = w.bundle(3, &strangers.iter().collect::<Vec<_>>());
    let list = |keys: &[&SecretKey], quorum: u16| {
        let keys: Vec<String> = keys.iter().map(|k| k.did().to_string()).collect();
        serde_json::json!({ "keys": keys, "quorum": quorum }).to_string()
    };
    let path = sb.path("mine.json");
    let mine = path.to_str().unwrap();
    std::fs::write(&path, list(&strangers.iter().collect::<Vec<_>>(), 3))?;
    let run = verify_file(
        &sb,
        &w,
        "foreign.proof",
        &foreign.encode(),
        &["--witnesses", mine],
    );
    assert_eq!(run.code, Some(0), "{run:?}");

    // The registry's own witnesses, counted under a quorum of 4, are too few.
    let (good, _) = w.bundle(3, &w.witnesses(3));
    std::fs::write(&path, list(&w.witnesses(4), 4))?;
    let run = verify_file(
        &sb,
        &w,
        "good.proof",
        &good.encode(),
        &["--witnesses", mine],
    );
    assert_invalid(&run, "quorum", "3 valid witness signatures, 4 are needed");

    for (text, says) in [
        (list(&[&strangers[0], &strangers[0]], 1), "named twice"),
        (list(&w.witnesses(2), 0), "at least 1"),
        (
            list(&w.witnesses(2), 3),
            "more signatures than there are witnesses",
        ),
        ("{\"keys\": 3}".to_string(), "is not a witness list"),
    ] {
        std::fs::write(&path, &text)?;
        let run = verify_file(
            &sb,
            &w,
            "good.proof",
            &good.encode(),
            &["--witnesses", mine],
        );
        assert_eq!(run.code, Some(2), "{text}: {run:?}");
        assert!(
            run.stderr.contains(says),
            "{text}: expected {says:?}: {run:?}"
        );
    }
    Ok(())
}

#[test]
fn verify_proof_json_is_machine_readable() -> TestResult {
    let sb = Sandbox::new()?;
    let w = world();
    let (good, _) = w.bundle(3, &w.witnesses(3));
    let run = verify_file(&sb, &w, "good.proof", &good.encode(), &["--json"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let v: Value = serde_json::from_str(&run.stdout)?;
    assert_eq!(v["valid"], true);
    assert_eq!(v["authorized"], true);
    assert_eq!(v["check"], Value::Null);
    assert_eq!(v["slot"], Timestamp(SLOT).to_rfc3339());
    assert_eq!(v["age"], 10);
    assert_eq!(v["signers"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["query"]["entity"], entity(3).as_str());

    let (under, _) = w.bundle(3, &w.witnesses(1));
    let run = verify_file(&sb, &w, "under.proof", &under.encode(), &["--json"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    let v: Value = serde_json::from_str(&run.stdout)?;
    assert_eq!(
        (&v["valid"], &v["check"]),
        (&Value::Bool(false), &Value::from("quorum"))
    );
    assert!(v["error"].as_str().unwrap().contains("3 are needed"), "{v}");
    Ok(())
}

/// A stand-in node whose `/v1/trust` answers with `reply`; it records the paths asked.
fn node(
    reply: impl Fn(&str) -> (u16, String) + Send + Sync + 'static,
) -> (FakeNode, Arc<Mutex<Vec<String>>>) {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    let fake = FakeNode::start(Arc::new(move |_: &str, path: &str, _: &[u8]| {
        log.lock().unwrap().push(path.to_string());
        reply(path)
    }))
    .unwrap();
    (fake, asked)
}

fn answer(w: &World, who: u64, proof: Option<ProofView>) -> String {
    let q = World::query(who);
    let a = TrustAnswer {
        authorized: true,
        entity_id: q.entity,
        action: q.action,
        resource: q.resource,
        kind: q.kind,
        time_requested: Some(q.at.to_rfc3339()),
        time_evaluated: Timestamp(SLOT + 10).to_rfc3339(),
        reason: None,
        accreditation: None,
        chain: vec![],
        links: vec![],
        valid_until: None,
        decisive: None,
        state_root: w.reg.state().state_root(),
        height: 5,
        freshness: Freshness {
            last_sync_at: None,
            seconds_since_sync: None,
            peers: 0,
            checkpoint_slot: Some(Timestamp(SLOT).to_rfc3339()),
            knowledge_age_secs: Some(15),
        },
        proof,
    };
    serde_json::to_string(&a).unwrap()
}

#[test]
fn proof_fetches_a_bundle_that_verifies_offline() -> TestResult {
    let sb = Sandbox::new()?;
    let w = world();
    let (bundle, _) = w.bundle(3, &w.witnesses(3));
    let view = ProofView {
        slot: Timestamp(SLOT).to_rfc3339(),
        knowledge_until: Timestamp(SLOT - LAG).to_rfc3339(),
        signatures: 3,
        cosigned: true,
        authorized: true,
        reason: None,
        checkpoint: bundle.note.clone(),
        bundle: ProofView::bundle_text(&bundle.encode()),
    };
    let body = answer(&w, 3, Some(view));
    let (fake, asked) = node(move |_| (200, body.clone()));
    let out = sb.path("answer.proof");
    let run = sb.run(&[
        "proof",
        entity(3).as_str(),
        "--action",
        "issue",
        "--resource",
        "Degree",
        "--at",
        "500",
        "--out",
        out.to_str().unwrap(),
        "--node",
        &fake.url,
    ])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.starts_with("authorized"), "{run:?}");
    assert!(
        run.stdout.contains(&Timestamp(SLOT).to_rfc3339()),
        "{run:?}"
    );
    let size = bundle.encode().len();
    assert!(run.stdout.contains(&format!("({size} bytes)")), "{run:?}");
    assert_eq!(std::fs::read(&out)?, bundle.encode(), "the binary bundle");
    let path = asked.lock().unwrap()[0].clone();
    assert!(
        path.contains("proof=true") && path.contains("kind=authorization"),
        "{path}"
    );

    let run = sb.run(&[
        "verify-proof",
        out.to_str().unwrap(),
        "--registry",
        &w.registry(),
        "--now",
        "1010",
    ])?;
    assert_eq!(run.code, Some(0), "{run:?}");

    // A node that proves another question than the one asked is refused.
    let (fake, _) = node({
        let (b4, _) = w.bundle(4, &w.witnesses(3));
        let view = ProofView {
            slot: Timestamp(SLOT).to_rfc3339(),
            knowledge_until: Timestamp(SLOT - LAG).to_rfc3339(),
            signatures: 3,
            cosigned: true,
            authorized: false,
            reason: None,
            checkpoint: b4.note.clone(),
            bundle: ProofView::bundle_text(&b4.encode()),
        };
        let body = answer(&w, 3, Some(view));
        move |_| (200, body.clone())
    });
    let other = sb.path("other.proof");
    let run = sb.run(&[
        "proof",
        entity(3).as_str(),
        "--action",
        "issue",
        "--resource",
        "Degree",
        "--at",
        "500",
        "--out",
        other.to_str().unwrap(),
        "--node",
        &fake.url,
    ])?;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("another question"), "{run:?}");
    assert!(!other.exists(), "nothing written");

    // Not yet: the node's 503 is the message, exit 2.
    let pending = r#"{"type":"urn:trust-registry:problem:checkpoint_pending","title":"Service Unavailable","status":503,"detail":"the note of the checkpoint state is not made yet"}"#;
    let (fake, _) = node(move |_| (503, pending.to_string()));
    let run = sb.run(&[
        "proof",
        entity(3).as_str(),
        "--action",
        "issue",
        "--resource",
        "Degree",
        "--out",
        other.to_str().unwrap(),
        "--node",
        &fake.url,
    ])?;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("is not made yet"), "{run:?}");

    let body = answer(&w, 3, None);
    let (fake, _) = node(move |_| (200, body.clone()));
    let run = sb.run(&[
        "proof",
        entity(3).as_str(),
        "--action",
        "issue",
        "--resource",
        "Degree",
        "--out",
        other.to_str().unwrap(),
        "--node",
        &fake.url,
    ])?;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("without a proof"), "{run:?}");
    Ok(())
}

#[test]
fn trust_max_age_refused_as_stale_exits_2_with_the_node_s_message() -> TestResult {
    let sb = Sandbox::new()?;
    let w = world();
    let stale = r#"{"type":"urn:trust-registry:problem:stale","title":"Service Unavailable","status":503,"detail":"the answer would be authorized, but this node's cosigned knowledge is 120 s old, more than the 60 s allowed"}"#;
    let body = answer(&w, 3, None);
    let (fake, asked) = node(move |path| {
        if path.contains("max_age=") {
            (503, stale.to_string())
        } else {
            (200, body.clone())
        }
    });
    let trust = |extra: &[&str]| {
        let who = entity(3);
        let mut args = vec![
            "trust",
            who.as_str(),
            "--action",
            "issue",
            "--resource",
            "Degree",
            "--node",
            &fake.url,
        ];
        args.extend_from_slice(extra);
        sb.run(&args).unwrap()
    };
    let run = trust(&["--max-age", "60"]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("refused as stale"), "{run:?}");
    assert!(
        run.stderr.contains("120 s old, more than the 60 s allowed"),
        "{run:?}"
    );
    assert!(asked.lock().unwrap()[0].contains("max_age=60"));

    let run = trust(&[]);
    assert_eq!(
        run.code,
        Some(0),
        "without --max-age the answer is given: {run:?}"
    );
    assert!(run.stdout.contains("cosigned checkpoint"), "{run:?}");
    Ok(())
}
