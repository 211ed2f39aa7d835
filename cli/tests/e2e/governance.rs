//! Changes of the root set and threshold through the CLI, online and drafted offline.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::node::{after_second, cli, cli_json, new_key, now_secs, Node};
use crate::support::{free_port, node_bin};
use crate::trust;

fn accredit(url: &str, subject: &str, controller: &str, keys: &[&str]) -> Output {
    let mut args = vec![
        "--json",
        "accredit",
        "--subject",
        subject,
        "--grant",
        "issue:UniversityDegree",
        "--controller",
        controller,
        "--key",
    ];
    args.extend_from_slice(keys);
    cli(url, &args)
}

fn status_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// Governance through the CLI alone, on a registry of roots R1 and R2 at threshold 1: add
/// R3, raise the threshold to 2, remove R2. Each change applies to entries issued after
/// it: what was accredited before stays trusted, what is signed after it is judged by it.
#[test]
fn governance_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let offline = "http://127.0.0.1:9";
    let r1 = new_key(offline, Path::new(&p("r1.key")));
    let r2 = new_key(offline, Path::new(&p("r2.key")));
    let r3 = new_key(offline, Path::new(&p("r3.key")));
    let controller = new_key(offline, Path::new(&p("issuer.key")));
    let genesis = [
        "genesis",
        "new",
        "--authority-id",
        "did:web:edu.example",
        "--name",
        "Education",
        "--root",
        &r1,
        "--root",
        &r2,
        "--threshold",
        "1",
        "--out",
        &p("genesis.json"),
    ];
    assert!(cli(offline, &genesis).status.success());
    let init = Command::new(node_bin())
        .args([
            "init",
            "--data-dir",
            &p("node"),
            "--genesis",
            &p("genesis.json"),
        ])
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let node = Node::start(&["run", "--data-dir", &p("node")], free_port());
    let url = node.url.as_str();
    let (k1, k2, k3) = (p("r1.key"), p("r2.key"), p("r3.key"));
    let governance = |args: &[&str]| {
        let mut all = vec!["--json", "governance"];
        all.extend_from_slice(args);
        cli(url, &all)
    };
    let refused = |out: &Output, says: &str| {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "expected {says:?} in: {err}");
    };

    // Under threshold 1, one root signature accredits A.
    let a = accredit(url, "did:web:a.example", &controller, &[&k1]);
    assert_eq!(
        status_of(&a)["status"],
        "accepted",
        "{}",
        String::from_utf8_lossy(&a.stderr)
    );
    assert_eq!(trust(url, "did:web:a.example", None).0, 0);
    after_second(now_secs());

    // Add R3.
    refused(
        &governance(&["add-root", &r2, "--key", &k1]),
        "is already a root",
    );
    let added = governance(&["add-root", &r3, "--key", &k1]);
    assert_eq!(status_of(&added)["status"], "accepted");
    let st = cli_json(url, &["status"]);
    assert_eq!(st["roots"].as_array().map(Vec::len), Some(3));
    assert_eq!(st["governance"].as_array().map(Vec::len), Some(2));
    after_second(now_secs());

    // Raise the threshold to 2.
    refused(
        &governance(&["set-threshold", "4", "--key", &k1]),
        "more signatures than there are roots",
    );
    refused(
        &governance(&["set-threshold", "1", "--key", &k1]),
        "already 1",
    );
    let raised = governance(&["set-threshold", "2", "--key", &k1]);
    assert_eq!(status_of(&raised)["status"], "accepted");
    assert_eq!(cli_json(url, &["status"])["threshold"], 2);
    after_second(now_secs());

    // One root key no longer suffices; R1 with the new root R3 does. A, accredited under
    // threshold 1, is still trusted.
    refused(
        &accredit(url, "did:web:b.example", &controller, &[&k1]),
        "threshold",
    );
    let b = accredit(url, "did:web:b.example", &controller, &[&k1, &k3]);
    assert_eq!(status_of(&b)["status"], "accepted");
    assert_eq!(trust(url, "did:web:b.example", None).0, 0);
    assert_eq!(trust(url, "did:web:a.example", None).0, 0);

    // Remove R2, signed by R1 and R3; removing another root now would leave too few.
    let removed = governance(&["remove-root", &r2, "--key", &k1, &k3]);
    assert_eq!(status_of(&removed)["status"], "accepted");
    refused(
        &governance(&["remove-root", &r1, "--key", &k1, &k3]),
        "fewer than the threshold 2",
    );
    refused(
        &governance(&["remove-root", &r2, "--key", &k1, &k3]),
        "is not a root key",
    );
    let st = cli_json(url, &["status"]);
    let roots: Vec<&str> = st["roots"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let mut want = vec![r1.as_str(), r3.as_str()];
    want.sort();
    assert_eq!(roots, want);
    assert_eq!(st["governance"].as_array().map(Vec::len), Some(4));
    let text = cli(url, &["status"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("governance   3 change(s)"), "{text}");
    after_second(now_secs());

    // Signed by R1 and the removed R2 after the removal: the CLI says R2 does not count;
    // sent anyway, the entry is stored but its subject is not trusted (not entitled).
    let draft = p("c.json");
    let out = cli(
        url,
        &[
            "entry",
            "draft",
            "accredit",
            "--subject",
            "did:web:c.example",
            "--grant",
            "issue:UniversityDegree",
            "--controller",
            &controller,
            "--out",
            &draft,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(cli(offline, &["entry", "sign", &draft, "--key", &k1, &k2])
        .status
        .success());
    let out = cli(url, &["entry", "submit", &draft]);
    refused(&out, "has 1 of the 2 root signatures");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("which do not count: {r2}")));
    let sent = cli_json(url, &["entry", "submit", &draft, "--allow-pending"]);
    assert_eq!(sent["status"], "accepted");
    let (code, answer) = trust(url, "did:web:c.example", None);
    assert_eq!(
        (code, answer["reason"].as_str()),
        (1, Some("not_entitled")),
        "{answer}"
    );
}

/// A governance change drafted offline and signed on two machines, then submitted.
#[test]
fn governance_draft_offline() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let offline = "http://127.0.0.1:9";
    let r1 = new_key(offline, Path::new(&p("r1.key")));
    let r2 = new_key(offline, Path::new(&p("r2.key")));
    let genesis = [
        "genesis",
        "new",
        "--authority-id",
        "did:web:edu.example",
        "--name",
        "Education",
        "--root",
        &r1,
        "--root",
        &r2,
        "--threshold",
        "2",
        "--out",
        &p("genesis.json"),
    ];
    assert!(cli(offline, &genesis).status.success());
    let draft = p("t.json");
    let out = cli(
        offline,
        &[
            "entry",
            "draft",
            "set-threshold",
            "1",
            "--genesis",
            &p("genesis.json"),
            "--out",
            &draft,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(cli(
        offline,
        &["entry", "sign", &draft, "--key", &p("r1.key"), &p("r2.key")]
    )
    .status
    .success());
    let shown = cli(offline, &["entry", "show", &draft]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("op          set threshold 1"), "{shown}");
    let init = Command::new(node_bin())
        .args([
            "init",
            "--data-dir",
            &p("node"),
            "--genesis",
            &p("genesis.json"),
        ])
        .output()
        .unwrap();
    assert!(init.status.success());
    let node = Node::start(&["run", "--data-dir", &p("node")], free_port());
    let sent = cli_json(&node.url, &["entry", "submit", &draft]);
    assert_eq!(sent["status"], "accepted");
    assert_eq!(cli_json(&node.url, &["status"])["threshold"], 1);
}
