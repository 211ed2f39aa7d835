//! Every refusal of a Data Integrity credential, each with its exact code: the signed
//! vector with one thing changed, and hostile bytes (too large, too deep, a member twice,
//! trailing data). Nothing here may panic.

use registry_core::credential::{self, di, json, CredentialError, MAX_CREDENTIAL_BYTES};
use registry_core::{SecretKey, Timestamp};
use serde_json::{json, Value};

use super::eddsa_vectors::{signed, vector_key};
use super::vector_text;

/// The refusal's code for `doc`, which must be refused.
fn refusal(doc: &Value) -> &'static str {
    match di::verify(doc) {
        Ok(_) => panic!("accepted: {doc}"),
        Err(e) => e.code(),
    }
}

/// The signed vector with `change` applied.
fn tampered(change: impl FnOnce(&mut Value)) -> Value {
    let mut doc = signed();
    change(&mut doc);
    doc
}

/// The refusal's code for the bytes `input`, through the format-detecting entry point.
fn refusal_of_bytes(input: &[u8]) -> &'static str {
    match credential::verify_signature(input) {
        Ok(_) => panic!("accepted {} bytes", input.len()),
        Err(e) => e.code(),
    }
}

fn signed_text() -> String {
    vector_text("vc-di-eddsa/eddsa-jcs-2022/signedJCS.json")
}

#[test]
fn the_untampered_vector_verifies() {
    assert!(di::verify(&signed()).is_ok());
}

#[test]
fn every_claim_is_covered_by_the_signature() {
    let claims = signed();
    let names: Vec<String> = claims
        .as_object()
        .expect("an object")
        .keys()
        .filter(|name| *name != "proof")
        .cloned()
        .collect();
    assert_eq!(names.len(), 8);
    for name in &names {
        // Replacing any member with another valid value of its kind breaks the signature.
        let doc = tampered(|d| {
            let value = &mut d[name.as_str()];
            *value = match value.take() {
                Value::String(s) => Value::String(format!("{s}x")),
                Value::Array(mut items) => {
                    items.push(json!("Extra"));
                    Value::Array(items)
                }
                Value::Object(mut members) => {
                    members.insert("extra".into(), json!(true));
                    Value::Object(members)
                }
                other => panic!("unexpected {other}"),
            };
            if name == "@context" {
                d["proof"]["@context"] = d["@context"].clone();
            }
        });
        assert_eq!(refusal(&doc), "signature", "{name} changed");
        // Removing a member the data model does not require breaks it too.
        if !["@context", "type", "issuer"].contains(&name.as_str()) {
            let doc = tampered(|d| {
                d.as_object_mut().expect("an object").remove(name.as_str());
            });
            assert_eq!(refusal(&doc), "signature", "{name} removed");
        }
    }
    let doc = tampered(|d| d["credentialSubject"]["alumniOf"] = json!("Another School"));
    assert_eq!(refusal(&doc), "signature");
    let doc = tampered(|d| d["credentialSubject"]["id"] = json!("did:example:other"));
    assert_eq!(refusal(&doc), "signature");
    let doc = tampered(|d| d["issuer"] = json!("https://vc.example/issuers/5679"));
    assert_eq!(refusal(&doc), "signature");
    let doc = tampered(|d| d["validFrom"] = json!("2023-01-01T00:00:01Z"));
    assert_eq!(refusal(&doc), "signature");
    let doc = tampered(|d| d["type"] = json!(["VerifiableCredential"]));
    assert_eq!(refusal(&doc), "signature");
    let doc = tampered(|d| d["extra"] = json!(1));
    assert_eq!(refusal(&doc), "signature");
}

#[test]
fn the_data_model_is_checked() {
    let doc = tampered(|d| d["@context"][0] = json!("https://www.w3.org/2018/credentials/v1"));
    assert_eq!(
        refusal(&doc),
        "structure",
        "@context differs from the proof's"
    );
    let doc = tampered(|d| {
        d["@context"][0] = json!("https://www.w3.org/2018/credentials/v1");
        d["proof"]["@context"] = d["@context"].clone();
    });
    assert_eq!(refusal(&doc), "structure", "VC DM 1.1 context");
    let doc = tampered(|d| {
        d["@context"] = json!("https://www.w3.org/ns/credentials/v2");
        d["proof"]["@context"] = d["@context"].clone();
    });
    assert_eq!(refusal(&doc), "structure", "@context not an array");
    let doc = tampered(|d| {
        d.as_object_mut().expect("an object").remove("@context");
        d["proof"]
            .as_object_mut()
            .expect("an object")
            .remove("@context");
    });
    assert_eq!(refusal(&doc), "structure", "no @context");
    let doc = tampered(|d| d["type"] = json!(["AlumniCredential"]));
    assert_eq!(refusal(&doc), "structure", "not a VerifiableCredential");
    let doc = tampered(|d| d["type"] = json!(7));
    assert_eq!(refusal(&doc), "structure");
    let doc = tampered(|d| {
        d.as_object_mut().expect("an object").remove("type");
    });
    assert_eq!(refusal(&doc), "structure");
    for issuer in [
        json!(5),
        json!({"name": "no id"}),
        json!({"id": 5}),
        json!(null),
    ] {
        let doc = tampered(|d| d["issuer"] = issuer.clone());
        assert_eq!(refusal(&doc), "missing_claim", "issuer {issuer}");
    }
    let doc = tampered(|d| {
        d.as_object_mut().expect("an object").remove("issuer");
    });
    assert_eq!(refusal(&doc), "missing_claim");
    // An issuer object with an id is the data model's other spelling (the signature is
    // then wrong, the structure is not).
    let doc = tampered(|d| d["issuer"] = json!({"id": "https://vc.example/issuers/5678"}));
    assert_eq!(refusal(&doc), "signature");
}

#[test]
fn every_bit_of_the_signature_matters() {
    let value = signed()["proof"]["proofValue"]
        .as_str()
        .expect("a string")
        .to_string();
    let raw = bs58::decode(&value[1..]).into_vec().expect("base58");
    assert_eq!(raw.len(), 64);
    for bit in 0..512 {
        let mut flipped = raw.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let doc = tampered(|d| {
            d["proof"]["proofValue"] = json!(format!("z{}", bs58::encode(&flipped).into_string()))
        });
        assert_eq!(refusal(&doc), "signature", "bit {bit}");
    }
}

#[test]
fn a_malformed_proof_value_is_named() {
    let good = signed()["proof"]["proofValue"]
        .as_str()
        .expect("a string")
        .to_string();
    let cases = [
        json!(good[1..]),                               // no multibase prefix
        json!(format!("u{}", &good[1..])),              // another multibase
        json!(format!("{good}1")),                      // 65 bytes
        json!(&good[..good.len() - 2]),                 // too short
        json!(format!("{}0", &good[..good.len() - 1])), // '0' is not base58
        json!(format!("z{}", "1".repeat(5000))),        // far too long
        json!("z"),
        json!(12),
        json!(null),
    ];
    for case in cases {
        let doc = tampered(|d| d["proof"]["proofValue"] = case.clone());
        assert_eq!(refusal(&doc), "malformed", "{case}");
    }
    let doc = tampered(|d| {
        d["proof"]
            .as_object_mut()
            .expect("an object")
            .remove("proofValue");
    });
    assert_eq!(refusal(&doc), "malformed");
}

#[test]
fn the_proof_options_are_checked() {
    let set = |name: &'static str, value: Value| tampered(move |d| d["proof"][name] = value);
    assert_eq!(
        refusal(&set("type", json!("Ed25519Signature2020"))),
        "proof_type"
    );
    assert_eq!(
        refusal(&set("type", json!(["DataIntegrityProof"]))),
        "proof_type"
    );
    assert_eq!(
        refusal(&set("cryptosuite", json!("eddsa-rdfc-2022"))),
        "unknown_cryptosuite"
    );
    assert_eq!(
        refusal(&set("cryptosuite", json!(null))),
        "unknown_cryptosuite"
    );
    assert_eq!(
        refusal(&set("proofPurpose", json!("authentication"))),
        "proof_purpose"
    );
    assert_eq!(refusal(&set("proofPurpose", json!(1))), "proof_purpose");
    for method in [
        json!("did:web:vc.example#key-1"),
        json!("https://vc.example/issuers/5678#key-1"),
        json!("did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#key-1"),
        json!(42),
    ] {
        assert_eq!(
            refusal(&set("verificationMethod", method.clone())),
            "key",
            "{method}"
        );
    }
    // Another Ed25519 did:key: the signature is not that key's.
    let other = SecretKey::from_seed([9; 32]).did().to_string();
    assert_eq!(
        refusal(&set("verificationMethod", json!(other))),
        "signature"
    );
    for created in [json!("2023-02-24"), json!("yesterday"), json!(1677281798)] {
        assert_eq!(
            refusal(&set("created", created.clone())),
            "time",
            "{created}"
        );
    }
    assert_eq!(
        refusal(&set("created", json!("2023-02-24T23:36:39Z"))),
        "signature"
    );
    let doc = tampered(|d| {
        d["proof"]
            .as_object_mut()
            .expect("an object")
            .remove("created");
    });
    assert_eq!(refusal(&doc), "signature", "created is signed");
    assert_eq!(
        refusal(&set("expires", json!("2030-01-01T00:00:00Z"))),
        "signature"
    );
    let doc =
        tampered(|d| d["proof"]["@context"] = json!(["https://www.w3.org/ns/credentials/v2"]));
    assert_eq!(refusal(&doc), "structure");
}

#[test]
fn the_proof_itself_must_be_one_object() {
    let doc = tampered(|d| {
        d.as_object_mut().expect("an object").remove("proof");
    });
    assert_eq!(refusal(&doc), "missing_claim");
    let doc = tampered(|d| d["proof"] = json!([d["proof"].clone()]));
    assert_eq!(refusal(&doc), "structure");
    let doc = tampered(|d| d["proof"] = json!("z2HnF"));
    assert_eq!(refusal(&doc), "structure");
    for doc in [json!([]), json!("text"), json!(null), json!(1.5)] {
        assert_eq!(refusal(&doc), "structure", "{doc}");
    }
}

#[test]
fn signing_refuses_what_it_cannot_sign() {
    let (secret, did) = vector_key();
    let other = SecretKey::from_seed([3; 32]);
    let now = Timestamp(1_700_000_000);
    let unsigned = json!({"@context": ["https://www.w3.org/ns/credentials/v2"]});
    let code = |r: Result<Value, CredentialError>| r.map_err(|e| e.code()).err();
    assert_eq!(
        code(di::sign(&json!([]), &secret, &did.to_string(), now)),
        Some("structure")
    );
    assert_eq!(
        code(di::sign(&signed(), &secret, &did.to_string(), now)),
        Some("structure")
    );
    assert_eq!(
        code(di::sign(&unsigned, &other, &did.to_string(), now)),
        Some("key")
    );
    assert_eq!(
        code(di::sign(&unsigned, &secret, "did:web:x", now)),
        Some("key")
    );
}

#[test]
fn hostile_bytes_are_refused_by_name() {
    let text = signed_text();
    assert!(credential::verify_signature(text.as_bytes()).is_ok());

    // Larger than allowed, whatever the content.
    let mut big = text.clone();
    big.push_str(&" ".repeat(MAX_CREDENTIAL_BYTES + 1 - big.len()));
    assert_eq!(refusal_of_bytes(big.as_bytes()), "too_large");
    let padded = text.replacen(
        "\"name\": \"Alumni Credential\"",
        &format!("\"name\": \"{}\"", "A".repeat(MAX_CREDENTIAL_BYTES)),
        1,
    );
    assert_eq!(
        json::parse(padded.as_bytes()).map_err(|e| e.code()).err(),
        Some("too_large")
    );
    assert_eq!(refusal_of_bytes(padded.as_bytes()), "too_large");

    // Nested a thousand deep inside a claim.
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    let nested = text.replacen("\"The School of Examples\"", &deep, 1);
    assert_ne!(nested, text);
    assert_eq!(refusal_of_bytes(nested.as_bytes()), "too_deep");
    let objects = format!("{}1{}", "{\"a\":".repeat(1000), "}".repeat(1000));
    assert_eq!(
        json::parse(objects.as_bytes()),
        Err(CredentialError::TooDeep)
    );
    // 60 KiB of open brackets, unbalanced: refused by the scan, before any parsing.
    let open = "[".repeat(60 * 1024);
    assert_eq!(json::parse(open.as_bytes()), Err(CredentialError::TooDeep));

    // A member twice in one object.
    let twice = text.replacen(
        "\"issuer\":",
        "\"issuer\": \"https://evil.example\",\n  \"issuer\":",
        1,
    );
    assert_eq!(
        json::parse(twice.as_bytes()),
        Err(CredentialError::DuplicateKey("issuer".into()))
    );
    assert_eq!(refusal_of_bytes(twice.as_bytes()), "duplicate_key");
    let in_proof = text.replacen(
        "\"proofPurpose\":",
        "\"proofPurpose\": \"assertionMethod\", \"proofPurpose\":",
        1,
    );
    assert_eq!(refusal_of_bytes(in_proof.as_bytes()), "duplicate_key");

    // Anything after the document.
    for tail in ["x", "{}", "\"", ",", "]", "\u{0}"] {
        let trailing = format!("{text}{tail}");
        assert_eq!(
            refusal_of_bytes(trailing.as_bytes()),
            "malformed",
            "{tail:?}"
        );
    }
    // Not JSON, or not UTF-8.
    assert_eq!(refusal_of_bytes(b"{\"a\": }"), "malformed");
    assert_eq!(refusal_of_bytes(b"{\"a\": \"\xff\"}"), "malformed");
    assert_eq!(
        json::parse(b"{\"a\": \"\\ud800\"}")
            .map_err(|e| e.code())
            .err(),
        Some("malformed")
    );
    assert_eq!(
        json::parse(b"[1e999]").map_err(|e| e.code()).err(),
        Some("malformed")
    );
}
