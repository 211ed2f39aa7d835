//! `eddsa-jcs-2022` against the W3C vc-di-eddsa test vectors: every intermediate value of
//! the specification's example (canonical proof configuration and its hash, canonical
//! document and its hash, the combined hash, the signature), verification of the signed
//! credential, and signing that reproduces it byte for byte (Ed25519 is deterministic).

use registry_core::credential::{self, di, jcs, json, Format};
use registry_core::{DidKey, SecretKey, Timestamp};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{vector, vector_text};

const DIR: &str = "vc-di-eddsa/eddsa-jcs-2022";

fn file(name: &str) -> Vec<u8> {
    vector(&format!("{DIR}/{name}"))
}

fn text(name: &str) -> String {
    vector_text(&format!("{DIR}/{name}"))
}

fn parsed(path: &str) -> Value {
    json::parse(&vector(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The vector's key pair: the secret key (multicodec ed25519-priv 0x8026, then the
/// 32-byte RFC 8032 secret) and the public key's did:key.
pub fn vector_key() -> (SecretKey, DidKey) {
    let pair = parsed("vc-di-eddsa/keyPair.json");
    let multibase = |name: &str| {
        let text = pair[name].as_str().expect("a string");
        let b58 = text.strip_prefix('z').expect("base58btc");
        bs58::decode(b58).into_vec().expect("base58")
    };
    let private = multibase("privateKeyMultibase");
    assert_eq!(private.len(), 34);
    assert_eq!(private[..2], [0x80, 0x26]);
    let seed: [u8; 32] = private[2..].try_into().expect("32 bytes");
    let public = format!(
        "did:key:{}",
        pair["publicKeyMultibase"].as_str().expect("a string")
    );
    let did = DidKey::parse(&public).expect("an Ed25519 did:key");
    (SecretKey::from_seed(seed), did)
}

/// The signed credential of the vectors, parsed.
pub fn signed() -> Value {
    parsed(&format!("{DIR}/signedJCS.json"))
}

#[test]
fn the_key_pair_is_one_key() {
    let (secret, did) = vector_key();
    assert_eq!(secret.did(), did);
}

#[test]
fn the_canonical_document_and_its_hash() {
    let unsigned = parsed("vc-di-eddsa/unsigned.json");
    let canonical = jcs::canonicalize(&unsigned);
    assert_eq!(canonical, file("canonDocJCS.txt"));
    assert_eq!(
        hex::encode(Sha256::digest(&canonical)),
        text("docHashJCS.txt")
    );
    // The signed credential without its proof is the unsigned one.
    let mut without = signed();
    without.as_object_mut().expect("an object").remove("proof");
    assert_eq!(jcs::canonicalize(&without), canonical);
}

#[test]
fn the_proof_configuration_and_its_hash() {
    let unsigned = parsed("vc-di-eddsa/unsigned.json");
    let published = parsed(&format!("{DIR}/proofConfigJCS.json"));
    let canonical = jcs::canonicalize(&published);
    assert_eq!(canonical, file("proofCanonJCS.txt"));
    assert_eq!(
        hex::encode(Sha256::digest(&canonical)),
        text("proofHashJCS.txt")
    );
    // Built from the signed proof (its proofValue dropped) or from the bare options (the
    // document's @context added), the configuration is the published one.
    let proof = signed()["proof"].clone();
    assert_eq!(di::proof_config(&unsigned, &proof), published);
    let mut options = proof.clone();
    let members = options.as_object_mut().expect("an object");
    members.remove("@context");
    members.remove("proofValue");
    assert_eq!(di::proof_config(&unsigned, &options), published);
}

#[test]
fn the_combined_hash_and_the_signature() {
    let (secret, did) = vector_key();
    let hash = di::hash_data(&file("proofCanonJCS.txt"), &file("canonDocJCS.txt"));
    assert_eq!(hex::encode(hash), text("combinedHashJCS.txt"));
    let signature = secret.sign(&hash);
    assert_eq!(hex::encode(signature), text("sigHexJCS.txt"));
    let multibase = format!("z{}", bs58::encode(signature).into_string());
    assert_eq!(multibase, text("sigBTC58JCS.txt"));
    assert_eq!(
        signed()["proof"]["proofValue"].as_str(),
        Some(multibase.as_str())
    );
    let key = ed25519_dalek::VerifyingKey::from_bytes(did.public_key()).expect("a key");
    key.verify_strict(&hash, &ed25519_dalek::Signature::from_bytes(&signature))
        .expect("the vector's signature verifies");
}

#[test]
fn the_signed_credential_verifies() {
    let (_, did) = vector_key();
    let signed = signed();
    let ok = di::verify(&signed).expect("the vector verifies");
    assert_eq!(ok.format, Format::DataIntegrity);
    assert_eq!(ok.key, did);
    assert_eq!(
        ok.verification_method,
        signed["proof"]["verificationMethod"]
            .as_str()
            .expect("a string")
    );
    assert_eq!(ok.claims, parsed("vc-di-eddsa/unsigned.json"));
    assert_eq!(
        ok.signed_at,
        Some(Timestamp::parse_rfc3339("2023-02-24T23:36:38Z").expect("a time"))
    );
    assert!(ok.disclosed.is_empty());
    assert!(ok.key_binding.is_none());

    // The same through the format-detecting entry point, from the file's bytes.
    let bytes = vector(&format!("{DIR}/signedJCS.json"));
    let again = credential::verify_signature(&bytes).expect("the file verifies");
    assert_eq!(again.claims, ok.claims);
    assert_eq!(again.key, did);
}

#[test]
fn signing_reproduces_the_signed_credential() {
    let (secret, _) = vector_key();
    let unsigned = parsed("vc-di-eddsa/unsigned.json");
    let signed = signed();
    let method = signed["proof"]["verificationMethod"]
        .as_str()
        .expect("a string");
    let created = Timestamp::parse_rfc3339("2023-02-24T23:36:38Z").expect("a time");
    let made = di::sign(&unsigned, &secret, method, created).expect("signing succeeds");
    assert_eq!(
        made["proof"]["proofValue"].as_str(),
        Some(text("sigBTC58JCS.txt").as_str())
    );
    assert_eq!(made, signed);
    assert_eq!(jcs::canonicalize(&made), jcs::canonicalize(&signed));
}

#[test]
fn a_fresh_credential_round_trips() {
    let secret = SecretKey::from_seed([7; 32]);
    let did = secret.did().to_string();
    let method = format!("{did}#{}", did.strip_prefix("did:key:").expect("did:key"));
    let unsigned = serde_json::json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": "VerifiableCredential",
        "issuer": {"id": did, "name": "Ünïcødé \u{1f600}"},
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:x", "score": 0.1, "n": 1e21, "big": 9007199254740993u64}
    });
    for vm in [did.as_str(), method.as_str()] {
        let made = di::sign(&unsigned, &secret, vm, Timestamp(1_800_000_000)).expect("signed");
        let ok = di::verify(&made).expect("verifies");
        assert_eq!(ok.claims, unsigned);
        assert_eq!(ok.signed_at, Some(Timestamp(1_800_000_000)));
        assert_eq!(ok.key, secret.did());
        assert_eq!(ok.verification_method, vm);
        // The canonical text of the signed document parses back to the same proof.
        let text = jcs::canonicalize(&made);
        let back = json::parse(&text).expect("canonical JSON parses");
        assert!(di::verify(&back).is_ok());
    }
}

#[test]
fn a_data_model_1_1_credential_is_refused_though_correctly_signed() {
    // The vectors carry no 1.1 credential for this suite: one is signed here, so that
    // only the data model is wrong.
    let (secret, did) = vector_key();
    let mut v1 = parsed("vc-di-eddsa/unsigned.json");
    v1["@context"] = serde_json::json!([
        "https://www.w3.org/2018/credentials/v1",
        "https://www.w3.org/2018/credentials/examples/v1"
    ]);
    let members = v1.as_object_mut().expect("an object");
    let from = members.remove("validFrom").expect("validFrom");
    members.insert("issuanceDate".into(), from);
    let made = di::sign(&v1, &secret, &did.to_string(), Timestamp(1_700_000_000))
        .expect("signing is format-neutral");
    let err = di::verify(&made).expect_err("VC DM 1.1 is refused");
    assert_eq!(err.code(), "structure", "{err}");
    // Its intermediate values are still the suite's.
    let config = di::proof_config(&v1, &made["proof"]);
    assert_eq!(config["@context"], v1["@context"]);
    assert!(config.get("proofValue").is_none());
    let hash = di::hash_data(&jcs::canonicalize(&config), &jcs::canonicalize(&v1));
    assert_eq!(hash[..32], Sha256::digest(jcs::canonicalize(&config))[..]);
    let value = made["proof"]["proofValue"].as_str().expect("a string");
    assert_eq!(
        value,
        format!("z{}", bs58::encode(secret.sign(&hash)).into_string())
    );
}
