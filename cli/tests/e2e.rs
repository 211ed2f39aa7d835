//! End to end: a real `registry-node` process on a free port, driven by the `registry` CLI
//! as a process, exactly as the README's walk-through does it.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::node::{after_second, cli, cli_json, new_key, now_secs, Node};
use support::{free_port, node_bin};

fn now_rfc3339_minus(secs: u64) -> String {
    registry_core::Timestamp(now_secs() - secs).to_rfc3339()
}

fn trust(url: &str, entity: &str, at: Option<&str>) -> (i32, Value) {
    let mut args = vec![
        "--json",
        "trust",
        entity,
        "--action",
        "issue",
        "--resource",
        "UniversityDegree",
    ];
    if let Some(t) = at {
        args.extend(["--at", t]);
    }
    let out = cli(url, &args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), v)
}

/// The README walk-through: dev node; an accrediting authority; an issuer; trust; revoke
/// the authority; trust again (issuer_revoked); trust about the time before (authorized).
#[test]
fn readme_walkthrough_on_a_dev_node() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("dev");
    let node = Node::start(
        &["--dev", "--data-dir", data.to_str().unwrap()],
        free_port(),
    );
    let url = node.url.as_str();
    let root_key = data.join("root.key");
    let authority_key = dir.path().join("authority.key");
    let authority_did = new_key(url, &authority_key);
    let issuer_did = new_key(url, &dir.path().join("issuer.key"));
    let since = now_rfc3339_minus(3600);

    let authority = cli_json(
        url,
        &[
            "accredit",
            "--subject",
            "did:web:accreditation.example",
            "--grant",
            "accredit:UniversityDegree",
            "--controller",
            &authority_did,
            "--valid-from",
            &since,
            "--label",
            "Accreditation body",
            "--key",
            root_key.to_str().unwrap(),
        ],
    );
    let authority_id = authority["id"].as_str().unwrap().to_string();
    assert_eq!(authority["status"], "accepted");
    let issuer = cli_json(
        url,
        &[
            "accredit",
            "--subject",
            "did:web:uni.example",
            "--grant",
            "issue:UniversityDegree",
            "--controller",
            &issuer_did,
            "--valid-from",
            &since,
            "--as",
            &authority_id,
            "--key",
            authority_key.to_str().unwrap(),
        ],
    );
    assert_eq!(issuer["status"], "accepted");

    let (code, answer) = trust(url, "did:web:uni.example", None);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["authorized"], true);
    assert_eq!(answer["chain"].as_array().map(Vec::len), Some(2));

    // Revoke in a later second than the issuance: times have one-second resolution, and a
    // revocation effective in the very second the issuer was accredited would (rightly)
    // make that accreditation void from its start. Wait for the clock, with a deadline.
    let issued = now_secs();
    let deadline = Instant::now() + Duration::from_secs(5);
    while now_secs() <= issued {
        assert!(Instant::now() < deadline, "the clock did not advance");
        std::thread::yield_now();
    }
    let before = registry_core::Timestamp(issued).to_rfc3339();
    let rev = cli_json(
        url,
        &[
            "revoke",
            &authority_id,
            "--reason",
            "accreditation withdrawn",
            "--key",
            root_key.to_str().unwrap(),
        ],
    );
    assert_eq!(rev["status"], "accepted");

    let (code, answer) = trust(url, "did:web:uni.example", None);
    assert_eq!(code, 1, "{answer}");
    assert_eq!(answer["reason"], "issuer_revoked");
    let (code, answer) = trust(url, "did:web:uni.example", Some(&before));
    assert_eq!(code, 0, "{answer}");

    // A key that is not a root is refused by the CLI with a clear message.
    let out = cli(
        url,
        &[
            "accredit",
            "--subject",
            "did:web:x.example",
            "--grant",
            "issue:X",
            "--controller",
            &issuer_did,
            "--key",
            authority_key.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("root"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Threshold 2: an entry drafted offline, signed on two "machines", submitted; one
/// signature alone is not enough.
#[test]
fn offline_multisignature_with_threshold_two() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let offline = "http://127.0.0.1:9"; // never contacted by these commands
    let r1 = new_key(offline, Path::new(&p("r1.key")));
    let r2 = new_key(offline, Path::new(&p("r2.key")));
    let controller = new_key(offline, Path::new(&p("issuer.key")));
    let out = cli(
        offline,
        &[
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
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(node_bin())
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
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let node = Node::start(&["run", "--data-dir", &p("node")], free_port());
    let url = node.url.as_str();

    let draft = p("draft.json");
    let out = cli(
        offline,
        &[
            "entry",
            "draft",
            "accredit",
            "--subject",
            "did:web:uni.example",
            "--grant",
            "issue:UniversityDegree",
            "--controller",
            &controller,
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
    let out = cli(offline, &["entry", "sign", &draft, "--key", &p("r1.key")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // One root's signature: refused before sending, saying what is missing.
    let out = cli(url, &["entry", "submit", &draft]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has 1 of the 2 root signatures")
            && err.contains(&format!("roots who could still sign: {r2}"))
            && err.contains("--allow-pending"),
        "{err}"
    );
    // With --allow-pending it is sent, and the node keeps it waiting; the issuer is not
    // trusted.
    let partly = cli_json(url, &["entry", "submit", &draft, "--allow-pending"]);
    assert_eq!(partly["status"], "pending");
    assert_eq!(trust(url, "did:web:uni.example", None).0, 1);

    let out = cli(offline, &["entry", "sign", &draft, "--key", &p("r2.key")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fully = cli_json(url, &["entry", "submit", &draft]);
    assert_eq!(fully["status"], "accepted");
    assert_eq!(fully["id"], partly["id"]);
    let (code, answer) = trust(url, "did:web:uni.example", None);
    assert_eq!(code, 0, "{answer}");

    // `accredit` with one root key refuses before sending anything.
    let out = cli(
        url,
        &[
            "accredit",
            "--subject",
            "did:web:other.example",
            "--grant",
            "issue:X",
            "--controller",
            &controller,
            "--key",
            &p("r1.key"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
}

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

/// `registry peers deny|allow|denied` against a real node: deny and allow go to the
/// node's admin socket (`--admin` as a data directory, a socket path, `REGISTRY_ADMIN`,
/// or by default the dev node's socket in the working directory), never to the public
/// API; the node's own id is refused; a denial is listed and survives a restart.
#[test]
fn peers_deny_list_from_the_cli_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let other = Node::start(&["--dev", "--data-dir", &data("other")], free_port());
    let other_id = cli_json(&other.url, &["status"])["peer_id"]
        .as_str()
        .unwrap()
        .to_string();
    drop(other);
    let port = free_port();
    let dev = data(".registry-dev");
    let node = Node::start(&["--dev", "--data-dir", &dev], port);
    let url = node.url.clone();
    let socket = format!("{dev}/admin.sock");
    let own = cli_json(&url, &["status"])["peer_id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = cli(&url, &["peers", "deny", &own, "--admin", &dev]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("own peer id"));
    let none = cli(&url, &["peers", "denied"]);
    assert_eq!(
        String::from_utf8_lossy(&none.stdout).trim(),
        "no peers denied"
    );
    // The public API is no admin listener, and a missing socket is named with the fix.
    let out = cli(&url, &["peers", "deny", &other_id, "--admin", &url]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("not a node's admin listener"), "{err}");
    let missing = data("missing/admin.sock");
    let out = cli(&url, &["peers", "deny", &other_id, "--admin", &missing]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains(&missing) && err.contains("--admin DATA_DIR"),
        "{err}"
    );
    assert_eq!(cli_json(&url, &["peers", "denied"]), serde_json::json!([]));

    let out = cli(&url, &["peers", "deny", &other_id, "--admin", &socket]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("is now denied"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = cli_json(&url, &["peers", "denied"]);
    assert_eq!(
        listed,
        serde_json::json!([{ "peer_id": other_id, "source": "operator" }])
    );
    drop(node);
    let node = Node::start(&["--dev", "--data-dir", &dev], port);
    assert_eq!(cli_json(&node.url, &["peers", "denied"]), listed);
    let out = Command::new(env!("CARGO_BIN_EXE_registry"))
        .args(["--node", &node.url, "peers", "deny", &other_id])
        .env("REGISTRY_ADMIN", &socket)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("was already denied"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No --admin: the dev node's socket, relative to the working directory.
    let out = Command::new(env!("CARGO_BIN_EXE_registry"))
        .args(["--node", &node.url, "--json", "peers", "allow", &other_id])
        .env_remove("REGISTRY_ADMIN")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let change: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(change["changed"], true, "{change}");
    assert_eq!(change["denied"], false, "{change}");
    assert_eq!(
        cli_json(&node.url, &["peers", "denied"]),
        serde_json::json!([])
    );
}

/// `registry peers deny --admin http://127.0.0.1:PORT` against a node whose admin
/// listener is on loopback TCP: refused without the token file, done with it.
#[test]
fn peers_deny_over_a_tcp_admin_listener_needs_the_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let dev = dir.path().join("dev").to_str().unwrap().to_string();
    let port = free_port();
    drop(Node::start(&["--dev", "--data-dir", &dev], port));
    let admin_port = free_port();
    std::fs::write(
        format!("{dev}/config.toml"),
        format!("[admin]\nlisten = \"tcp\"\naddr = \"127.0.0.1:{admin_port}\"\n"),
    )
    .unwrap();
    let node = Node::start(&["--dev", "--data-dir", &dev], port);
    // A libp2p peer id: the identity multihash of an ed25519 public key (protobuf-framed).
    let mut id = vec![0x00, 0x24, 0x08, 0x01, 0x12, 0x20];
    id.extend([7u8; 32]);
    let peer = bs58::encode(id).into_string();
    let peer = peer.as_str();
    let admin = format!("http://127.0.0.1:{admin_port}");
    let token_file = format!("{dev}/admin.token");
    let out = cli(&node.url, &["peers", "deny", peer, "--admin", &admin]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("(401)") && err.contains(&token_file) && err.contains("--admin-token-file"),
        "{err}"
    );
    let out = cli(
        &node.url,
        &[
            "peers",
            "deny",
            peer,
            "--admin",
            &admin,
            "--admin-token-file",
            &token_file,
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("is now denied"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        cli_json(&node.url, &["peers", "denied"]),
        serde_json::json!([{ "peer_id": peer, "source": "operator" }])
    );
}
