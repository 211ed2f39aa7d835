//! `POST /v1/credentials/verify` against a real node (section 13): credentials in the three
//! formats checked end to end, before and after a back-dated revocation; refusals with
//! their codes; malformed input as problem+json; and all of it on a node whose peers and
//! DNS are unreachable, since verification needs no network and resolves no DID.
#![allow(clippy::unwrap_used)]

mod common;

use common::{init, Node};
use registry_core::credential::{b64url, di, jose, sdjwt};
use registry_core::testkit::{key, Fixture};
use registry_core::{EntityId, SecretKey, SignedEntry, Timestamp};
use serde_json::{json, Map, Value};

const UNI: &str = "did:web:uni.example";
const PATH: &str = "/v1/credentials/verify";
/// The university's controller key.
const UNI_KEY: u64 = 30;
/// When the authority's key was stolen (the back-dated revocation's `effective_at`).
const STOLEN_AT: u64 = 1_700_002_000;

fn vm(k: &SecretKey) -> String {
    let did = k.did().to_string();
    format!("{did}#{}", did.trim_start_matches("did:key:"))
}

fn vc(signed_at: u64) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential", "UniversityDegree"],
        "issuer": UNI,
        "validFrom": Timestamp(signed_at).to_rfc3339(),
        "credentialSubject": {"id": "did:example:alice", "degree": "BSc Physics"},
    })
}

fn di_credential(k: &SecretKey, signed_at: u64) -> String {
    serde_json::to_string(&di::sign(&vc(signed_at), k, &vm(k), Timestamp(signed_at)).unwrap())
        .unwrap()
}

fn jwt_credential(k: &SecretKey, signed_at: u64) -> String {
    let mut v = vc(signed_at);
    v["iat"] = json!(signed_at);
    jose::issue_vc_jwt(&v, k, &vm(k))
}

fn sd_jwt_credential(k: &SecretKey, signed_at: u64) -> String {
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(UNI));
    claims.insert("vct".into(), json!("UniversityDegree"));
    claims.insert("iat".into(), json!(signed_at));
    claims.insert("degree".into(), json!("BSc Physics"));
    claims.insert("name".into(), json!("Alice"));
    let mut n = 0u8;
    let mut salt = || {
        n += 1;
        [n; 16]
    };
    sdjwt::issue(
        &Value::Object(claims),
        &["degree", "name"],
        k,
        &vm(k),
        &mut salt,
    )
    .unwrap()
}

/// A node whose only bootstrap peers are a name that does not resolve and an address that
/// routes nowhere, holding root -> authority -> university.
struct World {
    _tmp: tempfile::TempDir,
    fx: Fixture,
    node: Node,
    authority: SignedEntry,
}

fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let fx = Fixture::new(1, 1, 4);
    let dir = tmp.path().join("node");
    init(&dir, &fx.genesis);
    let dir = dir.to_string_lossy().into_owned();
    let node = Node::spawn(
        &[
            "run",
            "--data-dir",
            &dir,
            "--bootstrap",
            "/dns4/peer.unresolvable.invalid/tcp/4001",
            "--bootstrap",
            "/ip4/192.0.2.1/tcp/4001",
        ],
        tmp.path(),
    );
    let authority = fx
        .accredit(&EntityId::parse("did:web:accreditation.example").unwrap())
        .grant("accredit", "UniversityDegree")
        .controller(key(20).did())
        .issued_at(1_700_000_000)
        .by_roots(&fx.root_keys(1));
    let uni = fx
        .accredit(&EntityId::parse(UNI).unwrap())
        .grant("issue", "UniversityDegree")
        .controller(key(UNI_KEY).did())
        .issued_at(1_700_000_100)
        .by_holder(authority.id(), &[&key(20)]);
    for e in [&authority, &uni] {
        let r = node.post("/v1/entries", e);
        assert_eq!(r.status, 202, "{r:?}");
    }
    World {
        _tmp: tmp,
        fx,
        node,
        authority,
    }
}

fn verify(node: &Node, text: &str) -> Value {
    let ct = if text.starts_with('{') {
        "application/json"
    } else {
        "text/plain"
    };
    let r = node.post_raw(PATH, Some(ct), text.as_bytes());
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.content_type, "application/json", "{r:?}");
    r.json()
}

#[test]
fn credentials_verify_before_and_after_a_back_dated_revocation_with_no_network() {
    let w = world();
    let k = key(UNI_KEY);
    let signed_at = STOLEN_AT + 100;
    let creds = [
        ("vc-di-eddsa-jcs-2022", di_credential(&k, signed_at)),
        ("vc+jwt", jwt_credential(&k, signed_at)),
        ("dc+sd-jwt", sd_jwt_credential(&k, signed_at)),
    ];
    let early = di_credential(&k, STOLEN_AT - 100);
    for (format, text) in &creds {
        let v = verify(&w.node, text);
        assert_eq!(v["valid"], json!(true), "{format}: {v}");
        assert_eq!(v["format"], json!(format));
        assert_eq!(v["issuer"], json!(UNI));
        assert_eq!(v["key"], json!(k.did().to_string()));
        assert_eq!(v["types"][0]["resource"], json!("UniversityDegree"));
        assert_eq!(v["types"][0]["key"]["standing"], json!("controller"));
        assert_eq!(v["types"][0]["then"]["chain"].as_array().unwrap().len(), 2);
    }
    let v = verify(&w.node, &creds[2].1);
    assert_eq!(v["disclosed"], json!(["degree", "name"]), "{v}");

    // The authority's key was stolen: the root revokes it, back-dated.
    let revocation =
        w.fx.revoke(w.authority.id(), STOLEN_AT)
            .issued_at(STOLEN_AT + 500)
            .by_roots(&w.fx.root_keys(1));
    let r = w.node.post("/v1/entries", &revocation);
    assert_eq!(r.status, 202, "{r:?}");
    for (format, text) in &creds {
        let v = verify(&w.node, text);
        assert_eq!(v["valid"], json!(false), "{format}: {v}");
        assert_eq!(
            v["refusal"]["code"],
            json!("not_authorized"),
            "{format}: {v}"
        );
        assert_eq!(v["types"][0]["then"]["reason"], json!("issuer_revoked"));
        let message = v["refusal"]["message"].as_str().unwrap();
        assert!(message.contains(&revocation.id().to_hex()), "{message}");
    }
    // Signed before the key was stolen: still valid, though not authorized now.
    let v = verify(&w.node, &early);
    assert_eq!(v["valid"], json!(true), "{v}");
    assert_eq!(v["types"][0]["now"]["authorized"], json!(false));
    assert_eq!(v["types"][0]["now"]["reason"], json!("issuer_revoked"));

    // The node never connected to anyone: its peers and DNS were unreachable throughout.
    let status = w.node.status();
    assert_eq!(status["peers"], json!(0), "{status}");
    let metrics = w.node.get("/metrics").text;
    assert!(
        metrics.contains("registry_queries_total{api=\"credential\",outcome=\"authorized\"} 5\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("registry_queries_total{api=\"credential\",outcome=\"denied\"} 3\n"),
        "{metrics}"
    );
}

#[test]
fn refusals_are_answers_and_unreadable_input_is_a_problem() {
    let w = world();
    let k = key(UNI_KEY);
    let t = 1_700_000_500;
    // A key the registry never named.
    let v = verify(&w.node, &di_credential(&key(99), t));
    assert_eq!(v["refusal"]["code"], json!("key_not_for_issuer"), "{v}");
    assert!(v["refusal"]["message"]
        .as_str()
        .unwrap()
        .contains("key does not act for the issuer"));
    // A flipped bit in the signed document.
    let tampered = di_credential(&k, t).replace("BSc Physics", "PhD Physics");
    let v = verify(&w.node, &tampered);
    assert_eq!(
        v,
        json!({"valid": false, "refusal": {"code": "signature", "message": "the signature does not verify"}})
    );
    // A JWS with alg none.
    let jwt = jwt_credential(&k, t);
    let payload = jwt.split('.').nth(1).unwrap();
    let header = b64url::encode(br#"{"alg":"none","typ":"vc+jwt"}"#);
    let none = format!("{header}.{payload}.");
    let v = verify(&w.node, &none);
    assert_eq!(v["refusal"]["code"], json!("alg_none"), "{v}");
    // As of a time after the credential's window: expired.
    let mut short = vc(t);
    short["validUntil"] = json!(Timestamp(t + 10).to_rfc3339());
    let text =
        serde_json::to_string(&di::sign(&short, &k, &vm(&k), Timestamp(t)).unwrap()).unwrap();
    let at = Timestamp(t + 10).to_rfc3339();
    let r = w.node.post_raw(
        &format!("{PATH}?at={at}"),
        Some("application/json"),
        text.as_bytes(),
    );
    assert_eq!(
        r.json()["refusal"]["code"],
        json!("credential_expired"),
        "{r:?}"
    );

    for (body, code) in [
        (b"{\"a\":1,\"a\":2}".to_vec(), "duplicate_key"),
        (b"not a credential".to_vec(), "unknown_format"),
        (b"{\"truncated\":".to_vec(), "malformed"),
        (
            [&b"{\"a\":"[..], &b"[".repeat(100), &b"]".repeat(100), b"}"].concat(),
            "too_deep",
        ),
        (vec![b' '; 70 * 1024], "too_large"),
    ] {
        let r = w.node.post_raw(PATH, Some("application/json"), &body);
        assert_eq!(r.problem(400), code, "{r:?}");
    }
    let r = w.node.post_raw(
        &format!("{PATH}?at=yesterday"),
        Some("text/plain"),
        jwt.as_bytes(),
    );
    assert_eq!(r.status, 400, "{r:?}");
    // The node is still up and answering.
    assert_eq!(verify(&w.node, &jwt)["valid"], json!(true));
}
