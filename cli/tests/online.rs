//! The online paths against a fake node: the root and threshold checks of `accredit`,
//! submission and the node's problems, and the exit codes of `trust`.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

mod support;

use std::sync::Arc;

use registry_core::api::{Freshness, Problem, Status, SubmitStatus, Submitted, TrustAnswer};
use registry_core::entry::{Kind, SignedEntry};
use registry_core::hash::Hash;
use registry_core::DidKey;
use support::fake_node::FakeNode;
use support::{Sandbox, TestResult};

fn status(roots: Vec<DidKey>, threshold: u16) -> Status {
    Status {
        registry_id: Hash([7; 32]),
        authority_id: "did:web:edu.example".into(),
        name: "Edu".into(),
        peer_id: None,
        listen_addrs: vec![],
        peers: 0,
        height: 0,
        head: Hash([7; 32]),
        state_root: Hash::ZERO,
        entries: 0,
        pending: 0,
        last_sync_at: None,
        version: "test".into(),
        roots,
        threshold,
        max_depth: 4,
        governance: vec![],
        checkpoint: None,
    }
}

fn answer(authorized: bool) -> TrustAnswer {
    TrustAnswer {
        authorized,
        entity_id: "did:web:uni.example".into(),
        action: "issue".into(),
        resource: "Degree".into(),
        kind: Kind::Authorization,
        time_requested: None,
        time_evaluated: "2026-01-01T00:00:00Z".into(),
        reason: (!authorized).then_some(registry_core::eval::Reason::Expired),
        accreditation: None,
        chain: if authorized {
            vec![Hash([1; 32])]
        } else {
            vec![]
        },
        links: vec![],
        valid_until: None,
        decisive: None,
        state_root: Hash::ZERO,
        height: 1,
        freshness: Freshness {
            last_sync_at: None,
            seconds_since_sync: None,
            peers: 0,
            checkpoint_slot: None,
            knowledge_age_secs: None,
        },
        proof: None,
    }
}

/// A node whose roots are `roots`, that accepts every entry signed by at least one key
/// and refuses unsigned ones, and says `did:web:uni.example` is authorized only for `issue`.
fn node(roots: Vec<DidKey>, threshold: u16) -> Result<FakeNode, std::io::Error> {
    let st = serde_json::to_string(&status(roots, threshold))?;
    FakeNode::start(Arc::new(move |method: &str, path: &str, body: &[u8]| {
        let json = |v: &dyn erased::Ser| (200, v.json());
        match (method, path) {
            ("GET", "/v1/status") => (200, st.clone()),
            ("POST", "/v1/entries") => match serde_json::from_slice::<SignedEntry>(body) {
                Ok(e) if !e.signatures.is_empty() => {
                    let s = Submitted {
                        id: e.id(),
                        status: SubmitStatus::Accepted,
                        missing: vec![],
                    };
                    (202, serde_json::to_string(&s).unwrap_or_default())
                }
                _ => {
                    let p = Problem::new(
                        400,
                        "invalid-entry",
                        "Invalid entry",
                        "entry has no signatures",
                    );
                    (400, serde_json::to_string(&p).unwrap_or_default())
                }
            },
            ("GET", p) if p.starts_with("/v1/trust?") => json(&answer(p.contains("action=issue"))),
            _ => (
                404,
                r#"{"type":"about:blank","title":"Not Found","status":404,"detail":"no"}"#.into(),
            ),
        }
    }))
}

/// Object-safe JSON serialisation for the handler's helper.
mod erased {
    pub trait Ser {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Ser for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap_or_default()
        }
    }
}

fn did(s: &str) -> Result<DidKey, Box<dyn std::error::Error>> {
    Ok(DidKey::parse(s)?)
}

#[test]
fn accredit_checks_root_keys_and_threshold_then_submits() -> TestResult {
    let sb = Sandbox::new()?;
    let (a, b, c) = (
        sb.new_key("a.key")?,
        sb.new_key("b.key")?,
        sb.new_key("c.key")?,
    );
    let fake = node(vec![did(&a)?, did(&b)?], 2)?;
    let base = [
        "--node",
        &fake.url,
        "accredit",
        "--subject",
        &c,
        "--grant",
        "issue:Degree",
    ];
    let run = |keys: &[&str]| {
        let mut args: Vec<&str> = base.to_vec();
        for k in keys {
            args.extend(["--key", k]);
        }
        sb.run(&args)
    };
    let r = run(&["c.key"])?;
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains(&c) && r.stderr.contains("not a current root") && r.stderr.contains(&a),
        "{}",
        r.stderr
    );
    let r = run(&["a.key"])?;
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("threshold"), "{}", r.stderr);
    let r = run(&["a.key", "b.key"])?;
    assert!(r.ok(), "{r:?}");
    assert_eq!(r.stdout.trim().len(), 64);
    assert!(r.stderr.contains("accepted"), "{}", r.stderr);
    Ok(())
}

#[test]
fn as_an_unknown_accreditation_is_a_clear_error() -> TestResult {
    let sb = Sandbox::new()?;
    let a = sb.new_key("a.key")?;
    let fake = node(vec![did(&a)?], 1)?;
    let id = "cd".repeat(32);
    let r = sb.run(&[
        "accredit",
        "--node",
        &fake.url,
        "--subject",
        &a,
        "--grant",
        "issue:D",
        "--key",
        "a.key",
        "--as",
        &id,
    ])?;
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains(&id) && r.stderr.contains("not known to the node"),
        "{}",
        r.stderr
    );
    Ok(())
}

#[test]
fn submitting_an_unsigned_draft_is_refused_and_the_problem_shown() -> TestResult {
    let sb = Sandbox::new()?;
    let a = sb.new_key("a.key")?;
    let fake = node(vec![did(&a)?], 1)?;
    let d = sb.run(&[
        "entry",
        "draft",
        "accredit",
        "--node",
        &fake.url,
        "--subject",
        &a,
        "--grant",
        "issue:D",
        "--out",
        "d.json",
    ])?;
    assert!(d.ok(), "{d:?}");
    let r = sb.run(&["entry", "submit", "d.json", "--node", &fake.url])?;
    assert!(
        r.stderr.contains("no signatures") && r.stderr.contains("entry sign"),
        "{}",
        r.stderr
    );
    assert!(sb.run(&["entry", "sign", "d.json", "--key", "a.key"])?.ok());
    let r = sb.run(&["entry", "submit", "d.json", "--node", &fake.url, "--json"])?;
    assert!(r.ok(), "{r:?}");
    let s: Submitted = serde_json::from_str(&r.stdout)?;
    assert_eq!(s.status, SubmitStatus::Accepted);
    Ok(())
}

#[test]
fn trust_exit_codes_follow_the_answer() -> TestResult {
    let sb = Sandbox::new()?;
    let a = sb.new_key("a.key")?;
    let fake = node(vec![did(&a)?], 1)?;
    let yes = sb.run(&[
        "trust",
        "did:web:uni.example",
        "--action",
        "issue",
        "--resource",
        "Degree",
        "--node",
        &fake.url,
    ])?;
    assert_eq!(yes.code, Some(0), "{yes:?}");
    assert!(yes.stdout.starts_with("authorized"), "{}", yes.stdout);
    let no = sb.run(&[
        "trust",
        "did:web:uni.example",
        "--action",
        "sign",
        "--resource",
        "Degree",
        "--node",
        &fake.url,
    ])?;
    assert_eq!(no.code, Some(1), "{no:?}");
    assert!(
        no.stdout.starts_with("not authorized: expired"),
        "{}",
        no.stdout
    );
    let json = sb.run(&[
        "trust",
        "did:web:uni.example",
        "--action",
        "sign",
        "--resource",
        "D",
        "--json",
        "--node",
        &fake.url,
    ])?;
    assert_eq!(json.code, Some(1));
    let parsed: TrustAnswer = serde_json::from_str(&json.stdout)?;
    assert!(!parsed.authorized);
    // `registry trust ... | head`, head gone: exit 2, not a panic.
    for json in [false, true] {
        let mut args = vec![
            "trust",
            "did:web:uni.example",
            "--action",
            "issue",
            "--resource",
            "Degree",
            "--node",
            &fake.url,
        ];
        if json {
            args.push("--json");
        }
        let closed = sb.run_closed_stdout(&args)?;
        assert_eq!(closed.code, Some(2), "{closed:?}");
        assert!(
            closed.stderr.contains("cannot write to standard output")
                && !closed.stderr.contains("panicked"),
            "{closed:?}"
        );
    }
    Ok(())
}
