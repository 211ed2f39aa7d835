//! VC-JOSE-COSE `vc+jwt`: issued and verified, and every refusal by its code.

use registry_core::credential::{
    self, b64url, jose, sdjwt, CredentialError, Format, MAX_CREDENTIAL_BYTES, MAX_DEPTH,
};
use serde_json::{json, Value};

use crate::support::*;

fn issued() -> String {
    jose::issue_vc_jwt(&credential(&issuer()), &issuer(), &kid(&issuer()))
}

/// A `vc+jwt` of `claims` under `header`, signed by the issuer.
fn token(header: &Value, claims: &Value) -> String {
    jws(header, &claims.to_string(), &issuer())
}

fn verify_code(token: &str) -> &'static str {
    code(&jose::verify_vc_jwt(token))
}

#[test]
fn an_issued_credential_verifies() {
    let token = issued();
    let signed = jose::verify_vc_jwt(&token).unwrap();
    assert_eq!(signed.format, Format::Jwt);
    assert_eq!(signed.key, issuer().did());
    assert_eq!(signed.verification_method, kid(&issuer()));
    assert_eq!(signed.claims, credential(&issuer()));
    assert_eq!(
        signed.signed_at,
        Some(registry_core::Timestamp(1_700_000_000))
    );
    assert!(signed.disclosed.is_empty());
    assert_eq!(signed.key_binding, None);

    let header: Value = serde_json::from_slice(&part_bytes(&token, 0)).unwrap();
    assert_eq!(header, vc_header(&issuer()));
    // The module's entry point routes a compact JWS here.
    let routed = credential::verify_signature(format!(" {token}\n").as_bytes()).unwrap();
    assert_eq!(routed.format, Format::Jwt);
    assert_eq!(routed.claims, signed.claims);
}

#[test]
fn the_kid_may_be_the_bare_did_and_typ_any_spelling_of_the_media_type() {
    let did = issuer().did().to_string();
    let bare = json!({"alg": "EdDSA", "typ": "vc+jwt", "kid": did});
    assert_eq!(verify_code(&token(&bare, &credential(&issuer()))), "ok");
    for typ in ["application/vc+jwt", "VC+JWT", "Application/Vc+Jwt"] {
        let header = json!({"alg": "EdDSA", "typ": typ, "kid": kid(&issuer())});
        assert_eq!(
            verify_code(&token(&header, &credential(&issuer()))),
            "ok",
            "{typ}"
        );
    }
}

#[test]
fn the_issuer_may_be_an_object_and_iat_may_be_absent() {
    let mut vc = credential(&issuer());
    vc["issuer"] = json!({"id": issuer().did().to_string(), "name": "Example University"});
    vc.as_object_mut().unwrap().remove("iat");
    vc["iss"] = json!(issuer().did().to_string());
    vc["nbf"] = json!(1_600_000_000u64);
    vc["exp"] = json!(2_000_000_000u64);
    let signed = jose::verify_vc_jwt(&token(&vc_header(&issuer()), &vc)).unwrap();
    assert_eq!(signed.signed_at, None);
    assert_eq!(signed.claims, vc);
    assert_eq!(signed.key, issuer().did());
}

#[test]
fn alg_none_in_any_case_and_other_algs_are_refused() {
    let vc = credential(&issuer());
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": alg, "typ": "vc+jwt", "kid": kid(&issuer())});
        let unsigned = format!(
            "{}.{}.",
            b64url::encode(header.to_string().as_bytes()),
            b64url::encode(vc.to_string().as_bytes())
        );
        assert_eq!(verify_code(&unsigned), "alg_none", "{alg}");
        assert_eq!(verify_code(&token(&header, &vc)), "alg_none", "{alg}");
    }
    for alg in [
        json!("ES256"),
        json!("HS256"),
        json!("eddsa"),
        json!("Ed25519"),
        json!(5),
    ] {
        let header = json!({"alg": alg, "typ": "vc+jwt", "kid": kid(&issuer())});
        assert_eq!(
            verify_code(&token(&header, &vc)),
            "unsupported_alg",
            "{alg}"
        );
    }
    let header = json!({"typ": "vc+jwt", "kid": kid(&issuer())});
    assert_eq!(verify_code(&token(&header, &vc)), "missing_claim");
}

#[test]
fn typ_wrong_or_missing_is_refused() {
    let vc = credential(&issuer());
    for typ in [
        json!("JWT"),
        json!("dc+sd-jwt"),
        json!("vc+sd-jwt"),
        json!("text/vc+jwt"),
        json!(1),
    ] {
        let header = json!({"alg": "EdDSA", "typ": typ, "kid": kid(&issuer())});
        assert_eq!(verify_code(&token(&header, &vc)), "wrong_typ", "{typ}");
    }
    let header = json!({"alg": "EdDSA", "kid": kid(&issuer())});
    assert_eq!(verify_code(&token(&header, &vc)), "wrong_typ");
}

#[test]
fn an_sd_jwt_is_not_a_vc_jwt_and_a_vc_jwt_is_not_an_sd_jwt() {
    let claims = vc_claims(&issuer(), json!({"given_name": "Erika"}));
    let sd = sdjwt::issue(
        &claims,
        &["given_name"],
        &issuer(),
        &kid(&issuer()),
        &mut counting_salts(),
    )
    .unwrap();
    let issuer_jwt = sd.split('~').next().unwrap();
    assert_eq!(
        jose::verify_vc_jwt(issuer_jwt).unwrap_err(),
        CredentialError::WrongTyp {
            expected: "vc+jwt",
            got: "dc+sd-jwt".into()
        }
    );
    assert_eq!(
        sdjwt::verify(&format!("{}~", issued())).unwrap_err(),
        CredentialError::WrongTyp {
            expected: "dc+sd-jwt",
            got: "vc+jwt".into()
        }
    );
}

#[test]
fn crit_is_refused() {
    let header = json!({"alg": "EdDSA", "typ": "vc+jwt", "kid": kid(&issuer()), "crit": ["exp"]});
    assert_eq!(
        verify_code(&token(&header, &credential(&issuer()))),
        "structure"
    );
    let b64 = json!({"alg": "EdDSA", "typ": "vc+jwt", "kid": kid(&issuer()), "b64": false, "crit": ["b64"]});
    assert_eq!(
        verify_code(&token(&b64, &credential(&issuer()))),
        "structure"
    );
}

#[test]
fn the_kid_must_be_a_did_key_whose_fragment_is_its_own() {
    let vc = credential(&issuer());
    let with_kid = |kid: Value| json!({"alg": "EdDSA", "typ": "vc+jwt", "kid": kid});
    assert_eq!(
        verify_code(&token(&json!({"alg": "EdDSA", "typ": "vc+jwt"}), &vc)),
        "missing_claim"
    );
    let did = issuer().did().to_string();
    let other_fragment = other().did().to_string().replace("did:key:", "");
    for kid in [
        json!("did:web:issuer.example.com#key-1"),
        json!("https://issuer.example.com/keys/1"),
        json!(format!("{did}#key-1")),
        json!(format!("{did}#{other_fragment}")),
        json!(format!("{did}#")),
        json!("did:key:z6MkInvalid"),
        json!(""),
        json!(7),
    ] {
        assert_eq!(
            verify_code(&token(&with_kid(kid.clone()), &vc)),
            "key",
            "{kid}"
        );
    }
    // A valid did:key that did not sign it.
    assert_eq!(
        verify_code(&token(&with_kid(json!(kid(&other()))), &vc)),
        "signature"
    );
}

#[test]
fn every_bit_of_the_signature_matters() {
    let token = issued();
    for byte in 0..64 {
        for bit in 0..8 {
            assert_eq!(
                verify_code(&flip(&token, 2, byte, bit)),
                "signature",
                "{byte}/{bit}"
            );
        }
    }
}

#[test]
fn bit_flips_in_the_header_and_payload_are_refused() {
    // A header member no check reads: a flip there changes nothing but the signed bytes.
    let mut header = vc_header(&issuer());
    header["x"] = json!("aaaaaaaaaaaaaaaa");
    let token = token(&header, &credential(&issuer()));
    assert_eq!(verify_code(&token), "ok");
    let in_header = find(&part_bytes(&token, 0), b"aaaaaaaaaaaaaaaa");
    let in_payload = find(&part_bytes(&token, 1), b"aaaaaaaaaaaaaaaa");
    for offset in 0..16 {
        // 'a' ^ 2 is 'c': still valid JSON, a different string.
        assert_eq!(
            verify_code(&flip(&token, 0, in_header + offset, 1)),
            "signature"
        );
        assert_eq!(
            verify_code(&flip(&token, 1, in_payload + offset, 1)),
            "signature"
        );
    }
    // Any other flip is refused too, as malformed or by a named check, never accepted.
    for part in [0, 1] {
        let len = part_bytes(&token, part).len();
        for byte in 0..len {
            for bit in 0..8 {
                assert_ne!(
                    verify_code(&flip(&token, part, byte, bit)),
                    "ok",
                    "{part} {byte}/{bit}"
                );
            }
        }
    }
}

#[test]
fn a_tampered_payload_or_header_is_refused() {
    let token = issued();
    let mut vc = credential(&issuer());
    vc["credentialSubject"]["name"] = json!("Mallory");
    let forged = with_part(&token, 1, &b64url::encode(vc.to_string().as_bytes()));
    assert_eq!(verify_code(&forged), "signature");
    let mut header = vc_header(&issuer());
    header["cty"] = json!("vc");
    let forged = with_part(&token, 0, &b64url::encode(header.to_string().as_bytes()));
    assert_eq!(verify_code(&forged), "signature");
}

#[test]
fn bad_base64url_and_part_counts_are_malformed() {
    let token = issued();
    let parts: Vec<&str> = token.split('.').collect();
    let mut plus = parts[0].to_string();
    plus.replace_range(3..4, "+");
    let mut slash = parts[1].to_string();
    slash.replace_range(5..6, "/");
    for bad in [
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}==.{}", parts[0], parts[1], parts[2]),
        format!("{token}=="),
        format!("{plus}.{}.{}", parts[1], parts[2]),
        format!("{}.{slash}.{}", parts[0], parts[2]),
        format!("{}.{}", parts[0], parts[1]),
        format!("{token}.{}", parts[2]),
        format!("{token}..x.y"),
        format!("{}.{}.{}", parts[0], parts[1], &parts[2][..20]),
        format!("{}.{}.", parts[0], parts[1]),
        format!("{}.{}.{}", b64url::encode(b"not json"), parts[1], parts[2]),
        format!("{}.{}.{}", b64url::encode(b"[\"alg\"]"), parts[1], parts[2]),
        String::new(),
        "..".into(),
    ] {
        assert_eq!(verify_code(&bad), "malformed", "{bad}");
    }
}

#[test]
fn the_payload_must_be_a_json_object() {
    for payload in ["[1,2]", "\"vc\"", "null", "{\"a\":1} x", "{"] {
        let token = jws(&vc_header(&issuer()), payload, &issuer());
        assert_eq!(verify_code(&token), "malformed", "{payload}");
    }
}

#[test]
fn the_credential_shape_is_checked() {
    let header = vc_header(&issuer());
    let cases: [(&str, Value, &str); 10] = [
        ("@context", json!(null), "structure"),
        (
            "@context",
            json!("https://www.w3.org/ns/credentials/v2"),
            "structure",
        ),
        (
            "@context",
            json!(["https://www.w3.org/2018/credentials/v1"]),
            "structure",
        ),
        ("type", json!(null), "structure"),
        ("type", json!(["ExampleDegreeCredential"]), "structure"),
        ("issuer", json!(null), "missing_claim"),
        ("issuer", json!({"name": "no id"}), "missing_claim"),
        ("issuer", json!(42), "missing_claim"),
        ("iss", json!("did:example:someone-else"), "structure"),
        ("iss", json!(7), "structure"),
    ];
    for (field, value, expected) in cases {
        let mut vc = credential(&issuer());
        if value.is_null() {
            vc.as_object_mut().unwrap().remove(field);
        } else {
            vc[field] = value.clone();
        }
        assert_eq!(
            verify_code(&token(&header, &vc)),
            expected,
            "{field}: {value}"
        );
    }
    let mut single = credential(&issuer());
    single["type"] = json!("VerifiableCredential");
    assert_eq!(verify_code(&token(&header, &single)), "ok");
}

#[test]
fn numeric_dates_must_be_non_negative_integers() {
    let header = vc_header(&issuer());
    for field in ["iat", "nbf", "exp"] {
        for value in [
            json!("1700000000"),
            json!(-1),
            json!(1.5),
            json!(1e10),
            json!(null),
        ] {
            let mut vc = credential(&issuer());
            vc[field] = value.clone();
            let result = jose::verify_vc_jwt(&token(&header, &vc));
            assert_eq!(code(&result), "time", "{field}: {value}");
            assert!(matches!(result, Err(CredentialError::Time { field: f, .. }) if f == field));
        }
    }
}

#[test]
fn too_deep_and_too_large_are_refused() {
    let mut vc = credential(&issuer());
    let mut deep = json!("bottom");
    for _ in 0..MAX_DEPTH + 8 {
        deep = json!([deep]);
    }
    vc["credentialSubject"]["deep"] = deep;
    assert_eq!(verify_code(&token(&vc_header(&issuer()), &vc)), "too_deep");

    let mut vc = credential(&issuer());
    vc["credentialSubject"]["padding"] = json!("p".repeat(MAX_CREDENTIAL_BYTES));
    let big = token(&vc_header(&issuer()), &vc);
    assert!(big.len() > MAX_CREDENTIAL_BYTES);
    assert_eq!(verify_code(&big), "too_large");
    assert_eq!(
        code(&credential::verify_signature(big.as_bytes())),
        "too_large"
    );
}
