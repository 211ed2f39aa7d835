//! Credentials end to end (section 13) on a real dev node, as the README shows them: the
//! university issues a degree with `registry credential issue`, a verifier checks it
//! through the node and, with a proof bundle fetched from the node, fully offline (with
//! no network at all, and making no socket); the accreditation body's key is stolen and
//! revoked back-dated to the signing time; the same credential is then rejected.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::free_port;
use crate::support::node::{after_second, cli, cli_json, new_key, now_secs, stderr, stdout, Node};

const UNI: &str = "did:web:uni.example";

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `registry ARGS` with no node to talk to, wrapped in `wrapper` (e.g. strace) when given.
fn offline(wrapper: &[&str], args: &[&str]) -> std::io::Result<Output> {
    let bin = env!("CARGO_BIN_EXE_registry");
    let mut cmd = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    // A node that would answer if the CLI tried: it must not try.
    cmd.args(args)
        .env("REGISTRY_NODE", "http://192.0.2.1:7070")
        .output()
}

#[test]
fn a_degree_is_checked_online_offline_and_after_a_back_dated_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let data = p("dev");
    let node = Node::start(&["--dev", "--data-dir", path(&data)], free_port());
    let url = node.url.as_str();
    let root_key = data.join("root.key");
    // The node is the registry's one checkpoint witness, so its checkpoints are cosigned.
    let status = cli_json(url, &["status"]);
    let witness = status["checkpoint"]["witness_key"]
        .as_str()
        .unwrap()
        .to_string();
    let set = cli_json(
        url,
        &[
            "witnesses",
            "set",
            "--witness",
            &witness,
            "--quorum",
            "1",
            "--key",
            path(&root_key),
        ],
    );
    assert_eq!(set["status"], "accepted", "{set}");
    let authority_did = new_key(url, &p("authority.key"));
    let issuer_did = new_key(url, &p("issuer.key"));
    let since = registry_core::Timestamp(now_secs() - 3600).to_rfc3339();
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
            "--key",
            path(&root_key),
        ],
    );
    let authority_id = authority["id"].as_str().unwrap().to_string();
    let issuer = cli_json(
        url,
        &[
            "accredit",
            "--subject",
            UNI,
            "--grant",
            "issue:UniversityDegree",
            "--controller",
            &issuer_did,
            "--valid-from",
            &since,
            "--as",
            &authority_id,
            "--key",
            path(&p("authority.key")),
        ],
    );
    assert_eq!(issuer["status"], "accepted");

    // The university issues a degree.
    let out = cli(
        url,
        &[
            "credential",
            "issue",
            "--key",
            path(&p("issuer.key")),
            "--issuer",
            UNI,
            "--type",
            "UniversityDegree",
            "--subject",
            r#"{"id":"did:example:alice","degree":"BSc Physics"}"#,
            "--out",
            path(&p("degree.json")),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&std::fs::read(p("degree.json")).unwrap()).unwrap();
    let signed_at = doc["proof"]["created"].as_str().unwrap().to_string();

    // Checked through the node.
    let out = cli(url, &["verify-credential", path(&p("degree.json"))]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.starts_with("valid: did:web:uni.example was authorized"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "controller of accreditation {}",
            issuer["id"].as_str().unwrap()
        )),
        "{text}"
    );

    // The proof of the answer at the signing time, once a cosigned checkpoint covers it.
    let bundle = p("degree.bundle");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = cli(
            url,
            &[
                "--json",
                "proof",
                UNI,
                "--action",
                "issue",
                "--resource",
                "UniversityDegree",
                "--at",
                &signed_at,
                "--out",
                path(&bundle),
            ],
        );
        if out.status.success() {
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            if v["authorized"] == true && v["cosigned"] == true {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no cosigned proof of the university within 60 s: {}{}",
            stdout(&out),
            stderr(&out)
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let registry_id = status["registry_id"].as_str().unwrap().to_string();
    let degree = p("degree.json");
    let args = [
        "--json",
        "verify-credential",
        path(&degree),
        "--proof",
        path(&bundle),
        "--registry",
        &registry_id,
    ];
    let out = offline(&[], &args).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["proofs"][0]["resource"], "UniversityDegree", "{v}");

    // Offline means no socket at all: the system calls say so.
    let trace = p("trace");
    let out = offline(
        &[
            "strace",
            "-f",
            "-qq",
            "-e",
            "trace=socket,connect",
            "-o",
            path(&trace),
        ],
        &args,
    )
    .unwrap_or_else(|e| panic!("strace is needed for this test (apt-get install strace): {e}"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let calls = std::fs::read_to_string(&trace).unwrap();
    assert!(
        !calls.contains("socket(") && !calls.contains("connect("),
        "{calls}"
    );
    // And it works where there is no network: a namespace of its own, loopback down.
    match offline(&["unshare", "-rn"], &args) {
        Ok(out) if out.status.code() == Some(0) => {}
        Ok(out) if stderr(&out).contains("unshare") => {
            println!(
                "skipped the no-network run: unshare -rn is not permitted here: {}",
                stderr(&out)
            );
        }
        other => panic!("verify-credential without a network: {other:?}"),
    }

    // The body's key was stolen at the signing time: revoked, back-dated.
    after_second(now_secs());
    let rev = cli_json(
        url,
        &[
            "revoke",
            &authority_id,
            "--reason",
            "authority key stolen",
            "--effective-at",
            &signed_at,
            "--key",
            path(&root_key),
        ],
    );
    assert_eq!(rev["status"], "accepted", "{rev}");
    let out = cli(url, &["verify-credential", path(&p("degree.json"))]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(text.starts_with("not valid: not_authorized:"), "{text}");
    assert!(
        text.contains("issuer_revoked") && text.contains("authority key stolen"),
        "{text}"
    );

    // Malformed input is exit 2 with the reason; a tampered credential is exit 1.
    std::fs::write(p("bad.json"), "{\"a\":1,\"a\":2}").unwrap();
    let out = cli(url, &["verify-credential", path(&p("bad.json"))]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("duplicate_key"), "{}", stderr(&out));
    let tampered = std::fs::read_to_string(p("degree.json"))
        .unwrap()
        .replace("BSc", "PhD");
    std::fs::write(p("tampered.json"), tampered).unwrap();
    let out = offline(
        &[],
        &[
            "verify-credential",
            path(&p("tampered.json")),
            "--proof",
            path(&bundle),
            "--registry",
            &registry_id,
        ],
    )
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("invalid: signature:"),
        "{}",
        stdout(&out)
    );
    // --proof needs --registry.
    let out = offline(
        &[],
        &[
            "verify-credential",
            path(&p("degree.json")),
            "--proof",
            path(&bundle),
        ],
    )
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
