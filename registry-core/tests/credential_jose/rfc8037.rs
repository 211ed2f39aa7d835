//! RFC 8037 appendix A (as transcribed in `tests/vectors/rfc8037/`, see SOURCE.md): the
//! Ed25519 JWK, and the A.4 JWS signed byte for byte and verified.

use registry_core::credential::{b64url, jose, json};
use registry_core::{DidKey, SecretKey};
use serde_json::Value;

const A1_CONFIG: &str = include_str!("../vectors/rfc8037/a.1.config");
const A1_JWK: &str = include_str!("../vectors/rfc8037/a.1.jwk+json");
const A2_JWK: &str = include_str!("../vectors/rfc8037/a.2.jwk+json");
const A4_CONFIG: &str = include_str!("../vectors/rfc8037/a.4.config");
const A5_CONFIG: &str = include_str!("../vectors/rfc8037/a.5.config");

/// The value named `name` in a file of `{"name", <<"value">>}.` terms.
fn term(config: &str, name: &str) -> String {
    let opening = format!("{{\"{name}\", <<\"");
    let start = config.find(&opening).unwrap() + opening.len();
    let end = start + config[start..].find("\">>}").unwrap();
    config[start..end].replace("\\\"", "\"")
}

fn hex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

fn jwk_field(jwk: &str, field: &str) -> Vec<u8> {
    let jwk: Value = serde_json::from_str(jwk).unwrap();
    b64url::decode(jwk[field].as_str().unwrap()).unwrap()
}

fn a1_key() -> SecretKey {
    SecretKey::from_seed(jwk_field(A1_JWK, "d").try_into().unwrap())
}

#[test]
fn a1_and_a2_the_jwk_decodes_to_the_key() {
    let d = jwk_field(A1_JWK, "d");
    let x = jwk_field(A1_JWK, "x");
    assert_eq!(d, hex(&term(A1_CONFIG, "a.1.secret")));
    assert_eq!(x, hex(&term(A1_CONFIG, "a.1.pk")));
    assert_eq!(jwk_field(A2_JWK, "x"), x);
    assert_eq!(a1_key().did().public_key().as_slice(), x.as_slice());
    let jwk: Value = serde_json::from_str(A2_JWK).unwrap();
    assert_eq!(
        (jwk["kty"].as_str(), jwk["crv"].as_str()),
        (Some("OKP"), Some("Ed25519"))
    );
    // Our encoder spells them as the JWK does.
    assert_eq!(b64url::encode(&x), jwk["x"].as_str().unwrap());
}

#[test]
fn a4_signing_reproduces_the_jws_byte_for_byte() {
    let header = json::parse(term(A4_CONFIG, "a.4.jws+json").as_bytes()).unwrap();
    let payload = term(A4_CONFIG, "a.4.txt");
    let compact = jose::sign_compact(&header, payload.as_bytes(), &a1_key());
    assert_eq!(compact, term(A4_CONFIG, "a.4.sig+compact"));

    let parts: Vec<&str> = compact.split('.').collect();
    assert_eq!(parts[0], term(A4_CONFIG, "a.4.jws+b64"));
    assert_eq!(parts[1], term(A4_CONFIG, "a.4.txt+b64"));
    assert_eq!(parts[2], term(A4_CONFIG, "a.4.sig+b64"));
    assert_eq!(
        b64url::decode(parts[2]).unwrap(),
        hex(&term(A4_CONFIG, "a.4.sig+hex"))
    );
    assert_eq!(
        b64url::encode(payload.as_bytes()),
        term(A4_CONFIG, "a.4.txt+b64")
    );
}

#[test]
fn a5_the_jws_parses_and_verifies_with_the_public_key() {
    let compact = term(A5_CONFIG, "a.5.sig+compact");
    assert_eq!(compact, term(A4_CONFIG, "a.4.sig+compact"));
    let jws = jose::parse_jws(&compact).unwrap();
    let header: Value = serde_json::from_str(&term(A5_CONFIG, "a.5.jws+json")).unwrap();
    assert_eq!(jws.header, header);
    assert_eq!(jws.payload, term(A5_CONFIG, "a.5.txt").into_bytes());
    assert_eq!(jws.signing_input, term(A4_CONFIG, "a.4.signing-input"));
    assert_eq!(jws.signature.to_vec(), hex(&term(A4_CONFIG, "a.4.sig+hex")));

    let public = DidKey::from_public_key(jwk_field(A2_JWK, "x").try_into().unwrap());
    assert_eq!(jose::verify_jws(&jws, &public), Ok(()));
    let stranger = SecretKey::from_seed([9; 32]).did();
    assert_eq!(
        jose::verify_jws(&jws, &stranger).unwrap_err().code(),
        "signature"
    );
}

#[test]
fn a4_is_a_jws_but_not_a_credential() {
    let compact = term(A4_CONFIG, "a.4.sig+compact");
    // Its payload is text, not a JWT claims set.
    assert_eq!(
        jose::parse_compact(&compact).unwrap_err().code(),
        "malformed"
    );
    let err = jose::verify_vc_jwt(&compact).unwrap_err();
    assert_eq!(err.code(), "wrong_typ");
    assert_eq!(
        err,
        registry_core::credential::CredentialError::WrongTyp {
            expected: "vc+jwt",
            got: String::new()
        }
    );
}
