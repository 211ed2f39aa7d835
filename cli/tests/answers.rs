//! What a relying party and an authority see, against a real dev node: answers name the
//! chain with labels and its end, denials name the entry they rest on (text, JSON and
//! TRQP), `entry get` shows an entry whole, and an authority is warned before signing and
//! told after submitting when an entry is kept but changes nothing.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use registry_core::Timestamp;
use serde_json::{json, Value};
use support::free_port;
use support::node::{after_second, cli, cli_json, new_key, now_secs, stderr, stdout, Node};

const DAY: u64 = 86_400;

fn dev_node(dir: &Path) -> Node {
    let data = dir.join("dev");
    Node::start(
        &["--dev", "--data-dir", data.to_str().unwrap()],
        free_port(),
    )
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// `registry accredit ...` with `--json`; returns the entry id.
fn accredit(url: &str, args: &[&str]) -> String {
    let mut all = vec!["accredit"];
    all.extend_from_slice(args);
    let v = cli_json(url, &all);
    assert_eq!(v["status"], "accepted", "{v}");
    v["id"].as_str().unwrap().to_string()
}

fn trust_json(url: &str, entity: &str, resource: &str, at: Option<&str>) -> (i32, Value) {
    let mut args = vec![
        "--json",
        "trust",
        entity,
        "--action",
        "issue",
        "--resource",
        resource,
    ];
    if let Some(t) = at {
        args.extend(["--at", t]);
    }
    let out = cli(url, &args);
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), v)
}

fn trqp(url: &str, entity: &str, authority: &str) -> Value {
    let body = json!({
        "entity_id": entity,
        "authority_id": authority,
        "action": "issue",
        "resource": "UniversityDegree",
    });
    let mut resp = ureq::post(&format!("{url}/authorization"))
        .send_json(&body)
        .unwrap();
    resp.body_mut().read_json().unwrap()
}

#[test]
fn answers_show_the_chain_and_denials_name_the_deciding_entry() {
    let dir = tempfile::tempdir().unwrap();
    let node = dev_node(dir.path());
    let url = node.url.as_str();
    let root = path(&dir.path().join("dev/root.key"));
    let body_key = dir.path().join("body.key");
    let body_did = new_key(url, &body_key);
    let uni_did = new_key(url, &dir.path().join("uni.key"));
    let since = Timestamp(now_secs() - 3600).to_rfc3339();
    let body_end = Timestamp(now_secs() + 10 * DAY - 60).to_rfc3339();
    let body = accredit(
        url,
        &[
            "--subject",
            "did:web:accreditation.example",
            "--grant",
            "accredit:UniversityDegree",
            "--controller",
            &body_did,
            "--valid-from",
            &since,
            "--valid-until",
            &body_end,
            "--label",
            "Accreditation body",
            "--key",
            &root,
        ],
    );
    let uni = accredit(
        url,
        &[
            "--subject",
            "did:web:uni.example",
            "--grant",
            "issue:UniversityDegree",
            "--controller",
            &uni_did,
            "--valid-from",
            &since,
            "--label",
            "Example University",
            "--as",
            &body,
            "--key",
            &path(&body_key),
        ],
    );

    // Authorized: the chain with subjects and labels, and the chain's end, near: a warning.
    let out = cli(
        url,
        &[
            "trust",
            "did:web:uni.example",
            "--action",
            "issue",
            "--resource",
            "UniversityDegree",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for needle in [
        format!("accreditation {uni}"),
        "did:web:uni.example \"Example University\"".to_string(),
        format!("issued by     {body}"),
        "did:web:accreditation.example \"Accreditation body\"".to_string(),
        format!("valid until   {body_end} (the chain's earliest end)"),
    ] {
        assert!(text.contains(&needle), "{needle:?} not in:\n{text}");
    }
    assert!(
        stderr(&out).contains(&format!(
            "warning: this chain ends in 9 day(s), at {body_end}"
        )),
        "{}",
        stderr(&out)
    );
    let (code, v) = trust_json(url, "did:web:uni.example", "UniversityDegree", None);
    assert_eq!(code, 0);
    assert_eq!(v["valid_until"], body_end.as_str());
    assert_eq!(v["links"][0]["id"], uni.as_str());
    assert_eq!(v["links"][1]["label"], "Accreditation body");
    assert!(v.get("decisive").is_none(), "{v}");

    // Expired, asked about a time after the body's end: the window decides.
    let later = Timestamp(now_secs() + 11 * DAY).to_rfc3339();
    let (code, v) = trust_json(
        url,
        "did:web:accreditation.example",
        "UniversityDegree",
        Some(&later),
    );
    assert_eq!(code, 1, "{v}");
    // The body's own grant is accredit, not issue: ask for what it grants.
    assert_eq!(v["reason"], "no_accreditation", "{v}");
    let out = cli(
        url,
        &[
            "--json",
            "trust",
            "did:web:accreditation.example",
            "--action",
            "accredit",
            "--resource",
            "UniversityDegree",
            "--at",
            &later,
        ],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reason"], "expired", "{v}");
    assert_eq!(v["decisive"]["cause"], "window");
    assert_eq!(v["decisive"]["entry"], body.as_str());
    assert_eq!(v["decisive"]["valid_until"], body_end.as_str());

    // Revoke the body: the university's denial names the revocation, its time and reason.
    after_second(now_secs());
    let rev = cli_json(
        url,
        &[
            "revoke",
            &body,
            "--reason",
            "accreditation withdrawn",
            "--key",
            &root,
        ],
    );
    let rev = rev["id"].as_str().unwrap().to_string();
    let (code, v) = trust_json(url, "did:web:uni.example", "UniversityDegree", None);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["reason"], "issuer_revoked");
    let d = &v["decisive"];
    assert_eq!(d["entry"], rev.as_str(), "{v}");
    assert_eq!(d["accreditation"], body.as_str());
    assert_eq!(d["cause"], "revocation");
    assert_eq!(d["revocation_reason"], "accreditation withdrawn");
    assert!(
        d["effective_at"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{v}"
    );
    let out = cli(
        url,
        &[
            "trust",
            "did:web:uni.example",
            "--action",
            "issue",
            "--resource",
            "UniversityDegree",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("not authorized: issuer_revoked"), "{text}");
    assert!(
        text.contains(&format!(
            "decided by    revocation {rev} of accreditation {body}, effective "
        )),
        "{text}"
    );
    assert!(text.contains(": accreditation withdrawn"), "{text}");

    // TRQP carries the same reason code and entry beside the message.
    let status = cli_json(url, &["status"]);
    let t = trqp(
        url,
        "did:web:uni.example",
        status["authority_id"].as_str().unwrap(),
    );
    assert_eq!(t["authorized"], false, "{t}");
    assert_eq!(t["reason"], "issuer_revoked", "{t}");
    assert_eq!(t["decisive_entry"], rev.as_str(), "{t}");
    assert!(t["message"].as_str().unwrap().contains(&rev), "{t}");

    // `entry get`: the revocation whole, and the body with what decides it now.
    let out = cli(url, &["entry", "get", &rev]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("op          revoke {body}")),
        "{text}"
    );
    assert!(
        text.contains("reason      accreditation withdrawn"),
        "{text}"
    );
    assert!(text.contains("status      accepted, block "), "{text}");
    let out = cli(url, &["entry", "get", &body]);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("counts now  no: revoked (revocation {rev}")),
        "{text}"
    );
    assert!(text.contains(&format!("revoked by  {rev}")), "{text}");
    assert!(
        text.contains(&format!("  controller  {body_did}")),
        "{text}"
    );
    let v = cli_json(url, &["entry", "get", &body]);
    assert_eq!(v["decisive_now"]["entry"], rev.as_str(), "{v}");
    let unknown = "ab".repeat(32);
    let out = cli(url, &["entry", "get", &unknown]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("holds no accepted or pending entry {unknown}")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_authority_is_told_what_will_not_count() {
    let dir = tempfile::tempdir().unwrap();
    let node = dev_node(dir.path());
    let url = node.url.as_str();
    let root = path(&dir.path().join("dev/root.key"));
    let body_key = dir.path().join("body.key");
    let body_did = new_key(url, &body_key);
    let other_key = dir.path().join("other.key");
    let other_did = new_key(url, &other_key);
    let since = Timestamp(now_secs() - 3600).to_rfc3339();
    let body = accredit(
        url,
        &[
            "--subject",
            "did:web:body.example",
            "--grant",
            "accredit:UniversityDegree",
            "--controller",
            &body_did,
            "--valid-from",
            &since,
            "--key",
            &root,
        ],
    );
    let other = accredit(
        url,
        &[
            "--subject",
            "did:web:other.example",
            "--grant",
            "accredit:Diploma",
            "--controller",
            &other_did,
            "--valid-from",
            &since,
            "--key",
            &root,
        ],
    );

    // A grant outside the holder's rights: warned before signing, told after submitting.
    let out = cli(
        url,
        &[
            "accredit",
            "--subject",
            "did:web:dmv.example",
            "--grant",
            "issue:DriversLicense",
            "--controller",
            &other_did,
            "--as",
            &body,
            "--key",
            &path(&body_key),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "warning: the --as accreditation {body} does not grant accredit:DriversLicense \
             (its accredit rights: accredit:UniversityDegree)"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "accepted but not effective: not_entitled: accreditation {}: its author's \
             accreditation {body} does not grant accredit:DriversLicense",
            stdout(&out).trim()
        )),
        "{err}"
    );

    // A grant inside the rights draws neither.
    let out = cli(
        url,
        &[
            "accredit",
            "--subject",
            "did:web:uni.example",
            "--grant",
            "issue:UniversityDegree",
            "--controller",
            &other_did,
            "--valid-from",
            &since,
            "--as",
            &body,
            "--key",
            &path(&body_key),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("not effective"), "{}", stderr(&out));
    let uni = stdout(&out).trim().to_string();

    // A revocation by a holder who is not above the target revokes nothing.
    let out = cli(
        url,
        &[
            "revoke",
            &uni,
            "--reason",
            "not ours",
            "--as",
            &other,
            "--key",
            &path(&other_key),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "accepted but not effective: accreditation {uni} is not revoked by it"
        )),
        "{}",
        stderr(&out)
    );

    // A revoked holder: warned that nothing it authors will count.
    after_second(now_secs());
    cli_json(
        url,
        &["revoke", &body, "--reason", "withdrawn", "--key", &root],
    );
    let out = cli(
        url,
        &[
            "accredit",
            "--subject",
            "did:web:late.example",
            "--grant",
            "issue:UniversityDegree",
            "--controller",
            &other_did,
            "--as",
            &body,
            "--key",
            &path(&body_key),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "warning: the --as accreditation {body} does not count now (revoked: revocation "
        )),
        "{err}"
    );
    assert!(err.contains("accepted but not effective: "), "{err}");

    // Governance that is kept but changes nothing: a threshold above the number of roots,
    // drafted and submitted (the `governance` command refuses it before signing).
    let genesis = path(&dir.path().join("dev/genesis.json"));
    let draft = path(&dir.path().join("t9.json"));
    cli_json(
        url,
        &[
            "entry",
            "draft",
            "set-threshold",
            "9",
            "--genesis",
            &genesis,
            "--out",
            &draft,
        ],
    );
    cli_json(url, &["entry", "sign", &draft, "--key", &root]);
    let out = cli(url, &["entry", "submit", &draft]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("accepted but not effective: the roots and threshold after this change"),
        "{}",
        stderr(&out)
    );
    let v = cli_json(url, &["entry", "get", stdout(&out).trim()]);
    assert_eq!(v["effective_now"], false, "{v}");
}

#[test]
fn entry_show_prints_whole_values_and_checks_the_signers() {
    let dir = tempfile::tempdir().unwrap();
    let node = dev_node(dir.path());
    let url = node.url.as_str();
    let root = path(&dir.path().join("dev/root.key"));
    let genesis = path(&dir.path().join("dev/genesis.json"));
    let new_root = new_key(url, &dir.path().join("new-root.key"));
    let draft = path(&dir.path().join("add.json"));
    cli_json(
        url,
        &[
            "entry",
            "draft",
            "add-root",
            &new_root,
            "--genesis",
            &genesis,
            "--out",
            &draft,
        ],
    );

    let out = cli(url, &["entry", "show", &draft, "--genesis", &genesis]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("op          add root {new_root}")),
        "{text}"
    );
    assert!(!text.contains('…'), "{text}");
    assert!(
        text.contains("authority   not enough under the genesis's roots: entry ")
            && text.contains("has 0 of the 1 root signatures"),
        "{text}"
    );

    cli_json(url, &["entry", "sign", &draft, "--key", &root]);
    let out = cli(url, &["entry", "show", &draft, "--genesis", &genesis]);
    assert!(
        stdout(&out)
            .contains("authority   enough: signed by 1 of the genesis's 1 root(s), threshold 1"),
        "{}",
        stdout(&out)
    );
    let v = cli_json(url, &["entry", "show", &draft, "--online"]);
    assert_eq!(v["authority"]["enough"], true, "{v}");
    assert!(
        v["authority"]["detail"]
            .as_str()
            .unwrap()
            .contains("the node's 1 root(s)"),
        "{v}"
    );

    // Signed by a key that is not a root: not enough, and the signer is named.
    let stranger = dir.path().join("stranger.key");
    let stranger_did = new_key(url, &stranger);
    let draft2 = path(&dir.path().join("add2.json"));
    cli_json(
        url,
        &[
            "entry",
            "draft",
            "add-root",
            &new_root,
            "--genesis",
            &genesis,
            "--out",
            &draft2,
        ],
    );
    cli_json(url, &["entry", "sign", &draft2, "--key", &path(&stranger)]);
    let v = cli_json(url, &["entry", "show", &draft2, "--online"]);
    assert_eq!(v["authority"]["enough"], false, "{v}");
    let detail = v["authority"]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!(
            "other signers, which do not count: {stranger_did}"
        )),
        "{v}"
    );

    // Another registry's genesis is refused by name.
    let other_genesis = path(&dir.path().join("other-genesis.json"));
    let other_root = new_key(url, &dir.path().join("other-root.key"));
    let r = cli(
        url,
        &[
            "genesis",
            "new",
            "--name",
            "other",
            "--authority-id",
            "did:web:other.example",
            "--root",
            &other_root,
            "--threshold",
            "1",
            "--out",
            &other_genesis,
        ],
    );
    assert!(r.status.success(), "{}", stderr(&r));
    let out = cli(url, &["entry", "show", &draft, "--genesis", &other_genesis]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is an entry of registry"),
        "{}",
        stderr(&out)
    );
}
