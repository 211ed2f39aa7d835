//! The checkpoint witnesses through the CLI against a real node: `witnesses set` signed
//! online, `entry draft set-witnesses` signed offline by two roots, and the refusals of a
//! bad set before anything is sent.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::node::{after_second, cli, cli_json, new_key, now_secs, stderr, Node};
use crate::support::{free_port, node_bin};

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// The witness set an accepted entry names, and whether it took effect.
fn accepted_set(url: &str, id: &str) -> (Vec<String>, u64) {
    let view = cli_json(url, &["entry", "get", id]);
    assert_eq!(view["status"], "accepted", "{view}");
    assert_eq!(view["effective_now"], true, "{view}");
    let set = &view["entry"]["body"]["op"]["governance"]["set_witnesses"];
    let keys = set["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("not a witness set: {view}"))
        .iter()
        .map(|k| k.as_str().unwrap_or_default().to_string())
        .collect();
    (keys, set["quorum"].as_u64().unwrap_or(0))
}

#[test]
fn witnesses_set_online_and_drafted_offline() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let offline = "http://127.0.0.1:9";
    let r1 = new_key(offline, Path::new(&p("r1.key")));
    let r2 = new_key(offline, Path::new(&p("r2.key")));
    let w: Vec<String> = (1..=3)
        .map(|i| new_key(offline, Path::new(&p(&format!("w{i}.key")))))
        .collect();
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
    assert!(init.status.success(), "{}", stderr(&init));
    let node = Node::start(&["run", "--data-dir", &p("node")], free_port());
    let url = node.url.as_str();
    let (k1, k2) = (p("r1.key"), p("r2.key"));
    let set = |witnesses: &[&str], quorum: &str, keys: &[&str]| {
        let mut args = vec!["--json", "witnesses", "set", "--quorum", quorum];
        for d in witnesses {
            args.extend(["--witness", d]);
        }
        args.push("--key");
        args.extend_from_slice(keys);
        cli(url, &args)
    };
    let refused = |out: &Output, says: &str| {
        let err = stderr(out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "expected {says:?} in: {err}");
    };

    refused(&set(&[&w[0], &w[0]], "1", &[&k1, &k2]), "named twice");
    refused(&set(&[&w[0], &w[1]], "0", &[&k1, &k2]), "at least 1");
    refused(
        &set(&[&w[0], &w[1]], "3", &[&k1, &k2]),
        "more signatures than there are witnesses",
    );
    let many: Vec<String> = (0..65)
        .map(|i| registry_core::testkit::key(9000 + i).did().to_string())
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    refused(&set(&many, "1", &[&k1, &k2]), "at most 64");
    refused(&set(&[&w[0], &w[1]], "2", &[&k1]), "threshold");

    // Online, signed by both roots at once.
    let out = set(&[&w[0], &w[1]], "2", &[&k1, &k2]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["status"], "accepted", "{}", stderr(&out));
    let id = json(&out)["id"].as_str().unwrap().to_string();
    assert_eq!(
        accepted_set(url, &id),
        (vec![w[0].clone(), w[1].clone()], 2)
    );
    after_second(now_secs());

    // Offline: drafted, signed by each root on its own, then submitted.
    let draft = p("witnesses.json");
    let drafted = cli_json(
        url,
        &[
            "entry",
            "draft",
            "set-witnesses",
            "--witness",
            &w[0],
            &w[1],
            &w[2],
            "--quorum",
            "2",
            "--genesis",
            &p("genesis.json"),
            "--out",
            &draft,
        ],
    );
    let id = drafted["id"].as_str().unwrap().to_string();
    let half = cli(url, &["entry", "submit", &draft]);
    assert_eq!(half.status.code(), Some(2), "unsigned: {}", stderr(&half));
    for k in [&k1, &k2] {
        let signed = cli(url, &["entry", "sign", &draft, "--key", k]);
        assert!(signed.status.success(), "{}", stderr(&signed));
    }
    let submitted = cli_json(url, &["entry", "submit", &draft]);
    assert_eq!(submitted["status"], "accepted", "{submitted}");
    assert_eq!(accepted_set(url, &id).1, 2);
    assert_eq!(accepted_set(url, &id).0.len(), 3);

    let bad_draft = cli(
        url,
        &[
            "entry",
            "draft",
            "set-witnesses",
            "--witness",
            &w[0],
            "--quorum",
            "2",
            "--genesis",
            &p("genesis.json"),
            "--out",
            &p("bad.json"),
        ],
    );
    assert_eq!(bad_draft.status.code(), Some(2));
    assert!(stderr(&bad_draft).contains("more signatures than there are witnesses"));
    assert!(!Path::new(&p("bad.json")).exists());
}
