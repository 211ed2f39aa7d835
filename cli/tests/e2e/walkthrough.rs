//! The README walk-through on a dev node, and an entry signed offline by two roots.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::node::{cli, cli_json, new_key, now_secs, Node};
use crate::support::{free_port, node_bin};
use crate::trust;

fn now_rfc3339_minus(secs: u64) -> String {
    registry_core::Timestamp(now_secs() - secs).to_rfc3339()
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
