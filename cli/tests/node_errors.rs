//! Commands that need a node, run with none reachable, one that never answers, or a
//! wrong node URL: exit 2 and an error naming the address tried and what to do, in text
//! or, with `--json`, as a JSON object on stderr.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::fake_node::FakeNode;
use support::{Sandbox, TestResult, NO_NODE};

#[test]
fn unreachable_node_exits_2_and_names_the_address() -> TestResult {
    let sb = Sandbox::new()?;
    let did = sb.new_key("a.key")?;
    let cases: [&[&str]; 6] = [
        &["status"],
        &[
            "trust",
            "did:web:uni.example",
            "--action",
            "issue",
            "--resource",
            "Degree",
        ],
        &["subject", "did:web:uni.example"],
        &[
            "accredit",
            "--subject",
            &did,
            "--grant",
            "issue:Degree",
            "--key",
            "a.key",
        ],
        &["export"],
        &[
            "entry",
            "draft",
            "revoke",
            "00000000000000000000000000000000000000000000000000000000000000ff",
            "--reason",
            "r",
            "--out",
            "d.json",
        ],
    ];
    for args in cases {
        let r = sb.run(args)?;
        assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
        assert!(r.stderr.starts_with("error: "), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(NO_NODE), "{args:?}: {}", r.stderr);
        // Not the default URL: the node is someone's own, so no advice to start a dev one.
        assert!(
            r.stderr
                .contains("is the node running, and is this its API address?"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("--dev"), "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
    }
    Ok(())
}

#[test]
fn node_flag_works_before_and_after_the_subcommand() -> TestResult {
    let sb = Sandbox::new()?;
    let other = "http://127.0.0.1:1";
    for args in [
        &["--node", other, "status"][..],
        &["status", "--node", other][..],
    ] {
        let r = sb.run(args)?;
        assert_eq!(r.code, Some(2));
        assert!(r.stderr.contains(other), "{}", r.stderr);
    }
    let bad = sb.run(&["status", "--node", "127.0.0.1:7070"])?;
    assert_eq!(bad.code, Some(2));
    assert!(
        bad.stderr.contains("not a usable node URL"),
        "{}",
        bad.stderr
    );
    Ok(())
}

#[test]
fn trust_exits_2_when_no_node_answers() -> TestResult {
    let sb = Sandbox::new()?;
    let r = sb.run(&[
        "trust",
        "did:web:u",
        "--action",
        "a",
        "--resource",
        "b",
        "--json",
    ])?;
    assert_eq!(r.code, Some(2));
    assert!(r.stdout.is_empty());
    Ok(())
}

#[test]
fn import_of_a_missing_file_names_it() -> TestResult {
    let sb = Sandbox::new()?;
    let r = sb.run(&["import", "nope.jsonl"])?;
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("nope.jsonl"), "{}", r.stderr);
    Ok(())
}

/// A JSON error object read from stderr: its one line, parsed.
fn json_error(stderr: &str) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let lines: Vec<&str> = stderr.lines().collect();
    if lines.len() != 1 {
        return Err(format!("expected one line on stderr, got {stderr:?}").into());
    }
    Ok(serde_json::from_str(lines[0])?)
}

#[test]
fn with_json_errors_are_json_objects_on_stderr() -> TestResult {
    let sb = Sandbox::new()?;
    let r = sb.run(&["status", "--json"])?;
    assert_eq!(r.code, Some(2));
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    let e = json_error(&r.stderr)?;
    let err = &e["error"];
    assert_eq!(err["message"], "cannot ask the node", "{e}");
    let causes = err["causes"].as_array().cloned().unwrap_or_default();
    assert!(
        causes
            .first()
            .and_then(|c| c.as_str())
            .is_some_and(|c| c.contains(NO_NODE)),
        "{e}"
    );
    assert!(
        err["hint"].as_str().is_some_and(|h| h.contains("--node")),
        "{e}"
    );
    assert_eq!(err["exit"], 2, "{e}");
    // Exactly these four members: the shape is documented as stable.
    assert_eq!(err.as_object().map(|o| o.len()), Some(4), "{e}");

    // An offline error, and a usage error caught by the flag parser, take the same shape.
    let r = sb.run(&["--json", "key", "show", "nonexistent.key"])?;
    assert_eq!(r.code, Some(2));
    let e = json_error(&r.stderr)?;
    assert!(
        e["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("nonexistent.key")),
        "{e}"
    );
    assert_eq!(e["error"]["hint"], serde_json::Value::Null, "{e}");
    let r = sb.run(&["trust", "not-an-id", "--json"])?;
    assert_eq!(r.code, Some(2));
    let e = json_error(&r.stderr)?;
    assert!(
        e["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("neither a DID")),
        "{e}"
    );
    assert_eq!(e["error"]["exit"], 2, "{e}");
    // Without --json the same error is one line of text.
    let r = sb.run(&["trust", "not-an-id"])?;
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    Ok(())
}

#[test]
fn a_node_url_with_a_path_gets_a_hint_on_not_found() -> TestResult {
    // Answers /v1/... only: as a real node does.
    let fake = FakeNode::start(Arc::new(|_: &str, path: &str, _: &[u8]| {
        if path.starts_with("/v1/v1/") {
            (
                404,
                r#"{"type":"about:blank","title":"Not Found","status":404,"detail":""}"#.into(),
            )
        } else {
            (
                500,
                r#"{"type":"about:blank","title":"x","status":500,"detail":"x"}"#.into(),
            )
        }
    }))?;
    let sb = Sandbox::new()?;
    let url = format!("{}/v1", fake.url);
    let r = sb.run(&["status", "--node", &url])?;
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("not found on the node"), "{}", r.stderr);
    assert!(
        r.stderr.contains("--node is the node's base URL") && r.stderr.contains("/v1"),
        "{}",
        r.stderr
    );
    // A URL with no path gets no such hint for a 404.
    let fake = FakeNode::start(Arc::new(|_: &str, _: &str, _: &[u8]| {
        (
            404,
            r#"{"type":"about:blank","title":"Not Found","status":404,"detail":""}"#.into(),
        )
    }))?;
    let r = sb.run(&["status", "--node", &fake.url])?;
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(!r.stderr.contains("base URL"), "{}", r.stderr);
    Ok(())
}

#[test]
fn a_node_that_never_answers_is_named_with_the_request_and_the_wait() -> TestResult {
    // The kernel accepts connections into the backlog; nothing ever reads or answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    let sb = Sandbox::new()?;
    let started = Instant::now();
    let r = sb.run(&["status", "--node", &url, "--timeout", "1"])?;
    let took = started.elapsed();
    assert_eq!(r.code, Some(2), "{r:?}");
    for part in [
        url.as_str(),
        "GET /v1/status",
        "within 1 s",
        "--timeout SECS",
    ] {
        assert!(r.stderr.contains(part), "{part}: {}", r.stderr);
    }
    assert!(!r.stderr.contains("timeout: global"), "{}", r.stderr);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let bad = sb.run(&["status", "--timeout", "0"])?;
    assert_eq!(bad.code, Some(2));
    assert!(bad.stderr.contains("0.1 to 86400"), "{}", bad.stderr);
    drop(listener);
    Ok(())
}

#[test]
fn node_flags_appear_only_on_commands_that_talk_to_a_node() -> TestResult {
    let sb = Sandbox::new()?;
    for offline in [
        &["key", "new", "--help"][..],
        &["key", "show", "--help"][..],
        &["genesis", "new", "--help"][..],
        &["ledger", "verify", "--help"][..],
    ] {
        let r = sb.run(offline)?;
        assert!(r.ok(), "{offline:?}: {r:?}");
        assert!(!r.stdout.contains("--node"), "{offline:?}: {}", r.stdout);
        assert!(!r.stdout.contains("--timeout"), "{offline:?}: {}", r.stdout);
        assert!(r.stdout.contains("--json"), "{offline:?}: {}", r.stdout);
    }
    for online in [
        &["trust", "--help"][..],
        &["status", "--help"][..],
        &["accredit", "--help"][..],
        &["revoke", "--help"][..],
        &["subject", "--help"][..],
        &["peers", "--help"][..],
        &["export", "--help"][..],
        &["import", "--help"][..],
        &["entry", "submit", "--help"][..],
    ] {
        let r = sb.run(online)?;
        assert!(r.ok(), "{online:?}: {r:?}");
        assert!(
            r.stdout.contains("--node <URL>"),
            "{online:?}: {}",
            r.stdout
        );
        assert!(
            r.stdout.contains("--timeout <SECS>"),
            "{online:?}: {}",
            r.stdout
        );
    }
    // `--node` before the subcommand still works for every command (scripts use it so),
    // and the one after the subcommand wins.
    let r = sb.run(&[
        "--node",
        "http://127.0.0.1:1",
        "key",
        "new",
        "--out",
        "k.key",
    ])?;
    assert!(r.ok(), "{r:?}");
    let r = sb.run(&["--node", "http://127.0.0.1:1", "status", "--node", NO_NODE])?;
    assert!(r.stderr.contains(NO_NODE), "{}", r.stderr);
    // An offline command refuses --node after its name.
    let r = sb.run(&["key", "new", "--out", "j.key", "--node", NO_NODE])?;
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("--node"), "{}", r.stderr);
    // The help explains the exit codes, and the peers help what a score means.
    let r = sb.run(&["--help"])?;
    assert!(r.stdout.contains("Exit codes:"), "{}", r.stdout);
    let r = sb.run(&["peers", "--help"])?;
    assert!(
        r.stdout.contains("gossipsub") && r.stdout.contains("-80"),
        "{}",
        r.stdout
    );
    Ok(())
}

#[test]
fn import_says_how_many_rejections_it_did_not_list() -> TestResult {
    use registry_core::api::Status;
    use registry_core::hash::Hash;
    let status = Status {
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
        roots: vec![],
        threshold: 1,
        max_depth: 4,
        governance: vec![],
        checkpoint: None,
    };
    let body = serde_json::to_string(&status)?;
    let fake = FakeNode::start(Arc::new(move |_: &str, path: &str, _: &[u8]| {
        if path == "/v1/status" {
            (200, body.clone())
        } else {
            (
                500,
                r#"{"type":"about:blank","title":"x","status":500,"detail":"x"}"#.into(),
            )
        }
    }))?;
    let sb = Sandbox::new()?;
    let bad = 13;
    let lines: String = (0..bad).map(|i| format!("not an entry {i}\n")).collect();
    std::fs::write(sb.path("bad.jsonl"), lines)?;
    let r = sb.run(&["import", "bad.jsonl", "--node", &fake.url])?;
    assert_eq!(r.code, Some(1), "{r:?}");
    let listed = r.stdout.matches("rejected line").count();
    assert!(listed > 0 && listed < bad, "{}", r.stdout);
    let more = format!("... and {} more rejected", bad - listed);
    assert!(r.stdout.contains(&more), "{more}: {}", r.stdout);
    let r = sb.run(&["import", "bad.jsonl", "--node", &fake.url, "--json"])?;
    let v: serde_json::Value = serde_json::from_str(&r.stdout)?;
    let shown = v["first_rejections"].as_array().map_or(0, Vec::len);
    assert_eq!(
        v["unlisted_rejections"].as_u64(),
        Some((bad - shown) as u64),
        "{v}"
    );
    Ok(())
}
