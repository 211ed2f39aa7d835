//! SD-JWT refusals, each by its code: the issuer-signed JWT, the disclosures and their
//! digests, the SD-JWT VC claims, the key-binding JWT, and the size and depth limits.

use registry_core::credential::{
    b64url, jose, sdjwt, CredentialError, MAX_CREDENTIAL_BYTES, MAX_DEPTH, MAX_DISCLOSURES,
};
use registry_core::Timestamp;
use serde_json::{json, Value};

use crate::support::*;

fn verify_code(token: &str) -> &'static str {
    code(&sdjwt::verify(token))
}

fn given_name() -> String {
    property("salt-given", "given_name", json!("Erika"))
}

/// Claims whose `_sd` holds `digests`.
fn with_sd(digests: Value) -> Value {
    vc_claims(&issuer(), json!({"_sd": digests, "_sd_alg": "sha-256"}))
}

fn digest(d: &str) -> String {
    sdjwt::disclosure_digest(d)
}

#[test]
fn the_issuer_signed_jwt_is_checked_like_any_jws() {
    let claims = with_sd(json!([digest(&given_name())]));
    let disclosures = [given_name()];
    let good = sd_jwt(&claims, &disclosures, &issuer());
    assert_eq!(verify_code(&good), "ok");
    let with_header = |header: Value| {
        let mut t = jws(&header, &claims.to_string(), &issuer());
        t.push('~');
        t.push_str(&disclosures[0]);
        t.push('~');
        t
    };
    let k = kid(&issuer());
    for alg in ["none", "None", "NONE"] {
        assert_eq!(
            verify_code(&with_header(
                json!({"alg": alg, "typ": "dc+sd-jwt", "kid": k})
            )),
            "alg_none"
        );
    }
    assert_eq!(
        verify_code(&with_header(
            json!({"alg": "ES256", "typ": "dc+sd-jwt", "kid": k})
        )),
        "unsupported_alg"
    );
    for typ in [
        json!("vc+jwt"),
        json!("vc+sd-jwt"),
        json!("JWT"),
        json!("kb+jwt"),
    ] {
        assert_eq!(
            verify_code(&with_header(json!({"alg": "EdDSA", "typ": typ, "kid": k}))),
            "wrong_typ"
        );
    }
    assert_eq!(
        verify_code(&with_header(json!({"alg": "EdDSA", "kid": k}))),
        "wrong_typ"
    );
    assert_eq!(
        verify_code(&with_header(json!({"alg": "EdDSA", "typ": "dc+sd-jwt"}))),
        "missing_claim"
    );
    assert_eq!(
        verify_code(&with_header(
            json!({"alg": "EdDSA", "typ": "dc+sd-jwt", "kid": "did:web:example.com"})
        )),
        "key"
    );
    assert_eq!(
        verify_code(&with_header(
            json!({"alg": "EdDSA", "typ": "dc+sd-jwt", "kid": k, "crit": ["x"], "x": 1})
        )),
        "structure"
    );
    let (jwt, rest) = good.split_once('~').unwrap();
    for byte in [0, 31, 63] {
        assert_eq!(
            verify_code(&format!("{}~{rest}", flip(jwt, 2, byte, 3))),
            "signature"
        );
    }
    let mut forged = claims.clone();
    forged["vct"] = json!("https://credentials.example.com/other");
    let forged_jwt = with_part(jwt, 1, &b64url::encode(forged.to_string().as_bytes()));
    assert_eq!(verify_code(&format!("{forged_jwt}~{rest}")), "signature");
    assert_eq!(verify_code(jwt), "malformed");
    assert_eq!(verify_code(&format!("{jwt}.x~")), "malformed");
}

#[test]
fn every_disclosure_must_be_referenced_once() {
    let given = given_name();
    let family = property("salt-family", "family_name", json!("Mustermann"));
    let claims = with_sd(json!([digest(&given)]));
    assert_eq!(
        verify_code(&sd_jwt(
            &claims,
            &[given.clone(), family.clone()],
            &issuer()
        )),
        "disclosure_not_referenced"
    );
    // The same disclosure twice.
    let twice = sd_jwt(&claims, &[given.clone(), given.clone()], &issuer());
    assert_eq!(
        sdjwt::verify(&twice).unwrap_err(),
        CredentialError::DuplicateDigest(digest(&given))
    );
    // A digest listed twice, with or without its disclosure.
    let listed_twice = with_sd(json!([digest(&given), digest(&given)]));
    assert_eq!(
        verify_code(&sd_jwt(
            &listed_twice,
            std::slice::from_ref(&given),
            &issuer()
        )),
        "duplicate_digest"
    );
    assert_eq!(
        verify_code(&sd_jwt(&listed_twice, &[], &issuer())),
        "duplicate_digest"
    );
    // A digest in `_sd` and in an array, or in two objects.
    let mut both = with_sd(json!([digest(&given)]));
    both["list"] = json!([{"...": digest(&given)}]);
    assert_eq!(
        verify_code(&sd_jwt(&both, std::slice::from_ref(&given), &issuer())),
        "duplicate_digest"
    );
    let mut nested = with_sd(json!([digest(&given)]));
    nested["address"] = json!({"_sd": [digest(&given)]});
    assert_eq!(
        verify_code(&sd_jwt(&nested, &[], &issuer())),
        "duplicate_digest"
    );
    // A digest inside a disclosed value that repeats one outside it.
    let inner = property("salt-inner", "address", json!({"_sd": [digest(&given)]}));
    let recursive = with_sd(json!([digest(&given), digest(&inner)]));
    assert_eq!(
        verify_code(&sd_jwt(&recursive, &[inner, given], &issuer())),
        "duplicate_digest"
    );
}

#[test]
fn a_disclosure_must_fit_where_it_is_referred_to() {
    let fr = element("salt-fr", json!("FR"));
    let given = given_name();
    let element_in_sd = with_sd(json!([digest(&fr)]));
    assert_eq!(
        verify_code(&sd_jwt(
            &element_in_sd,
            std::slice::from_ref(&fr),
            &issuer()
        )),
        "disclosure"
    );
    let mut property_in_array = with_sd(json!([]));
    property_in_array["nationalities"] = json!([{"...": digest(&given)}]);
    assert_eq!(
        verify_code(&sd_jwt(
            &property_in_array,
            std::slice::from_ref(&given),
            &issuer()
        )),
        "disclosure"
    );
    // A disclosed name that the object already has in the clear, or twice.
    let mut clash = with_sd(json!([digest(&given)]));
    clash["given_name"] = json!("Max");
    assert_eq!(
        verify_code(&sd_jwt(&clash, std::slice::from_ref(&given), &issuer())),
        "disclosure"
    );
    let other_given = property("salt-other", "given_name", json!("Max"));
    let two = with_sd(json!([digest(&given), digest(&other_given)]));
    assert_eq!(
        verify_code(&sd_jwt(&two, &[given, other_given], &issuer())),
        "disclosure"
    );
}

#[test]
fn malformed_disclosures_are_refused() {
    let b64 = |v: Value| b64url::encode(v.to_string().as_bytes());
    let bad = [
        property("s", "_sd", json!(["x"])),
        property("s", "...", json!("x")),
        b64(json!(["s"])),
        b64(json!(["s", "a", "b", "c"])),
        b64(json!([])),
        b64(json!([1, "name", "value"])),
        b64(json!(["s", 2, "value"])),
        b64(json!({"salt": "s"})),
        b64(json!("s")),
        b64url::encode(b"[\"s\", \"a\""),
        "WyJzIiwgImEiXQ==".to_string(),
        "WyJzIiwg+mEiXQ".to_string(),
        String::new(),
    ];
    for d in bad {
        let claims = with_sd(json!([digest(&d)]));
        assert_eq!(
            verify_code(&sd_jwt(&claims, std::slice::from_ref(&d), &issuer())),
            "disclosure",
            "{d:?}"
        );
    }
}

#[test]
fn the_digest_placeholders_must_be_well_formed() {
    let fr = element("salt-fr", json!("FR"));
    let cases = [
        json!({"_sd": "not an array"}),
        json!({"_sd": [1]}),
        json!({"list": [{"...": digest(&fr), "extra": 1}]}),
        json!({"list": [{"...": 5}]}),
        json!({"obj": {"...": digest(&fr)}}),
    ];
    for extra in cases {
        let claims = vc_claims(&issuer(), extra.clone());
        assert_eq!(
            verify_code(&sd_jwt(&claims, &[], &issuer())),
            "structure",
            "{extra}"
        );
    }
}

#[test]
fn only_sha_256_digests_are_understood() {
    for alg in [
        json!("sha-512"),
        json!("SHA-256"),
        json!("sha-384"),
        json!(256),
    ] {
        let mut claims = with_sd(json!([digest(&given_name())]));
        claims["_sd_alg"] = alg.clone();
        assert_eq!(
            verify_code(&sd_jwt(&claims, &[given_name()], &issuer())),
            "sd_alg",
            "{alg}"
        );
    }
}

#[test]
fn at_most_max_disclosures() {
    let disclosures: Vec<String> = (0..=MAX_DISCLOSURES)
        .map(|i| property(&format!("s{i}"), &format!("c{i}"), json!(i)))
        .collect();
    let digests: Vec<String> = disclosures.iter().map(|d| digest(d)).collect();
    let claims = with_sd(json!(digests));
    let token = sd_jwt(&claims, &disclosures, &issuer());
    assert!(token.len() < MAX_CREDENTIAL_BYTES);
    assert_eq!(verify_code(&token), "disclosure");
    let fewer = sd_jwt(&claims, &disclosures[..MAX_DISCLOSURES], &issuer());
    assert_eq!(verify_code(&fewer), "ok");
}

#[test]
fn the_sd_jwt_vc_claims_are_checked() {
    let base = with_sd(json!([]));
    let cases: [(&str, Value, &str); 7] = [
        ("iss", json!(null), "missing_claim"),
        ("iss", json!(5), "missing_claim"),
        ("vct", json!(null), "missing_claim"),
        ("vct", json!(["a"]), "missing_claim"),
        ("iat", json!("1700000000"), "time"),
        ("nbf", json!(-5), "time"),
        ("exp", json!(1.25), "time"),
    ];
    for (field, value, expected) in cases {
        let mut claims = base.clone();
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(field);
        } else {
            claims[field] = value.clone();
        }
        assert_eq!(
            verify_code(&sd_jwt(&claims, &[], &issuer())),
            expected,
            "{field}: {value}"
        );
    }
    // iss, vct and the validity claims may not hide behind a disclosure.
    for name in ["iss", "vct", "exp", "nbf", "cnf"] {
        let value = base[name].clone();
        let value = if value.is_null() {
            json!(1_800_000_000u64)
        } else {
            value
        };
        let d = property("salt", name, value);
        let mut claims = with_sd(json!([digest(&d)]));
        claims.as_object_mut().unwrap().remove(name);
        assert_eq!(
            verify_code(&sd_jwt(&claims, &[d], &issuer())),
            "disclosure",
            "{name}"
        );
    }
    let claims = vc_claims(&issuer(), json!({"a": 1}));
    let refused = sdjwt::issue(
        &claims,
        &["vct"],
        &issuer(),
        &kid(&issuer()),
        &mut counting_salts(),
    );
    assert_eq!(refused.unwrap_err().code(), "disclosure");
    let refused = sdjwt::issue(
        &claims,
        &["absent"],
        &issuer(),
        &kid(&issuer()),
        &mut counting_salts(),
    );
    assert_eq!(refused.unwrap_err().code(), "structure");
}

/// An SD-JWT with a `cnf` naming `bound`, presenting its one disclosure.
fn bound_to(bound: Option<Value>) -> String {
    let given = given_name();
    let mut claims = with_sd(json!([digest(&given)]));
    if let Some(cnf) = bound {
        claims["cnf"] = cnf;
    }
    sd_jwt(&claims, &[given], &issuer())
}

/// A KB-JWT over `presented` with `header` and claims changed by `edit`, signed by `key`.
fn kb_jwt(
    presented: &str,
    header: Value,
    key: &registry_core::SecretKey,
    edit: impl Fn(&mut Value),
) -> String {
    let mut claims = json!({
        "iat": 1_750_000_000u64,
        "aud": "https://verifier.example.org",
        "nonce": "abc",
        "sd_hash": sdjwt::sd_hash(presented),
    });
    edit(&mut claims);
    format!(
        "{presented}{}",
        jose::sign_compact(&header, claims.to_string().as_bytes(), key)
    )
}

#[test]
fn the_key_binding_jwt_is_checked() {
    let presented = bound_to(Some(cnf(&holder())));
    let kb = json!({"alg": "EdDSA", "typ": "kb+jwt"});
    assert_eq!(
        verify_code(&kb_jwt(&presented, kb.clone(), &holder(), |_| {})),
        "ok"
    );
    let refused = |token: String| match sdjwt::verify(&token) {
        Err(CredentialError::KeyBinding(why)) => why,
        other => panic!("{:?} for {token}", other.map(|s| s.claims)),
    };
    // Wrong sd_hash: made for another presentation, or the disclosures changed after.
    refused(kb_jwt(&presented, kb.clone(), &holder(), |c| {
        c["sd_hash"] = json!(sdjwt::sd_hash("other~"))
    }));
    let full = sdjwt::present_with_key_binding(&presented, &holder(), "aud", "n", Timestamp(1));
    let (jwt, _) = presented.split_once('~').unwrap();
    let kb_part = full.rsplit('~').next().unwrap();
    refused(format!("{jwt}~{kb_part}"));
    // Signed by another key, or tampered.
    refused(kb_jwt(&presented, kb.clone(), &other(), |_| {}));
    refused(flip(&full, 4, 10, 0));
    let mut kb_claims: Value = serde_json::from_slice(&part_bytes(&full, 3)).unwrap();
    kb_claims["nonce"] = json!("another nonce");
    refused(with_part(
        &full,
        3,
        &b64url::encode(kb_claims.to_string().as_bytes()),
    ));
    // Wrong typ or alg.
    for header in [
        json!({"alg": "EdDSA", "typ": "JWT"}),
        json!({"alg": "EdDSA"}),
        json!({"alg": "EdDSA", "typ": "dc+sd-jwt"}),
        json!({"alg": "none", "typ": "kb+jwt"}),
        json!({"alg": "ES256", "typ": "kb+jwt"}),
    ] {
        refused(kb_jwt(&presented, header, &holder(), |_| {}));
    }
    // Missing or mistyped claims.
    for claim in ["iat", "aud", "nonce", "sd_hash"] {
        refused(kb_jwt(&presented, kb.clone(), &holder(), |c| {
            c.as_object_mut().unwrap().remove(claim);
        }));
        refused(kb_jwt(&presented, kb.clone(), &holder(), |c| {
            c[claim] = json!([1])
        }));
    }
    refused(format!("{presented}not-a-jwt"));
}

#[test]
fn key_binding_needs_an_ed25519_cnf_key() {
    let kb = json!({"alg": "EdDSA", "typ": "kb+jwt"});
    let x = b64url::encode(holder().did().public_key());
    for bound in [
        None,
        Some(json!({"kid": "holder-key"})),
        Some(json!({"jwk": {"kty": "EC", "crv": "P-256", "x": x, "y": x}})),
        Some(json!({"jwk": {"kty": "OKP", "crv": "Ed448", "x": x}})),
        Some(json!({"jwk": {"kty": "OKP", "crv": "Ed25519"}})),
        Some(json!({"jwk": {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}})),
        Some(json!({"jwk": {"kty": "OKP", "crv": "Ed25519", "x": format!("{x}=")}})),
        Some(json!({"jwk": {"kty": "OKP", "crv": "Ed25519", "x": x, "d": x}})),
    ] {
        let presented = bound_to(bound.clone());
        // Without a KB-JWT the credential itself is fine.
        assert_eq!(verify_code(&presented), "ok", "{bound:?}");
        let token = kb_jwt(&presented, kb.clone(), &holder(), |_| {});
        assert_eq!(verify_code(&token), "key_binding", "{bound:?}");
    }
}

#[test]
fn too_deep_and_too_large_are_refused() {
    let mut deep = json!("bottom");
    for _ in 0..MAX_DEPTH + 8 {
        deep = json!({"d": deep});
    }
    let claims = vc_claims(&issuer(), json!({"deep": deep}));
    assert_eq!(verify_code(&sd_jwt(&claims, &[], &issuer())), "too_deep");

    // Each piece shallow enough on its own, too deep once the disclosures are in place.
    let mut disclosures = Vec::new();
    let mut inner = json!("bottom");
    for i in 0..=MAX_DEPTH {
        let d = property(&format!("s{i}"), "level", inner);
        inner = json!({"_sd": [digest(&d)]});
        disclosures.push(d);
    }
    let claims = vc_claims(&issuer(), json!({"_sd": inner["_sd"]}));
    assert_eq!(
        verify_code(&sd_jwt(&claims, &disclosures, &issuer())),
        "too_deep"
    );
    let deep_disclosure = property("s", "deep", deep_value());
    let claims = with_sd(json!([digest(&deep_disclosure)]));
    assert_eq!(
        verify_code(&sd_jwt(&claims, &[deep_disclosure], &issuer())),
        "too_deep"
    );

    let big = property("s", "padding", json!("p".repeat(MAX_CREDENTIAL_BYTES)));
    let claims = with_sd(json!([digest(&big)]));
    let token = sd_jwt(&claims, &[big], &issuer());
    assert_eq!(verify_code(&token), "too_large");
    let claims = vc_claims(
        &issuer(),
        json!({"padding": "p".repeat(MAX_CREDENTIAL_BYTES)}),
    );
    let refused = sdjwt::issue(
        &claims,
        &[],
        &issuer(),
        &kid(&issuer()),
        &mut counting_salts(),
    );
    assert_eq!(refused.unwrap_err().code(), "too_large");
}

fn deep_value() -> Value {
    let mut deep = json!(1);
    for _ in 0..MAX_DEPTH + 1 {
        deep = json!([deep]);
    }
    deep
}
