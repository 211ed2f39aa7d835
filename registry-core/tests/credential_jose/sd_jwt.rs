//! SD-JWT VC issued, presented (all, some or none of its disclosures, with or without key
//! binding) and verified; nested, array and recursive disclosures; decoys.

use proptest::prelude::*;
use registry_core::credential::{self, b64url, sdjwt, Format, KeyBinding};
use registry_core::Timestamp;
use serde_json::{json, Value};

use crate::support::*;

fn claims() -> Value {
    vc_claims(
        &issuer(),
        json!({
            "given_name": "Erika",
            "family_name": "Mustermann",
            "birthdate": "1963-08-12",
            "address": {"locality": "Berlin", "country": "DE"},
            "cnf": cnf(&holder()),
        }),
    )
}

const SELECTIVE: [&str; 4] = ["given_name", "family_name", "birthdate", "address"];

fn issued() -> String {
    sdjwt::issue(
        &claims(),
        &SELECTIVE,
        &issuer(),
        &kid(&issuer()),
        &mut counting_salts(),
    )
    .unwrap()
}

/// `sd_jwt` presenting only the disclosures whose claim name is in `names`.
fn keep(sd_jwt: &str, names: &[&str]) -> String {
    let parts: Vec<&str> = sd_jwt.split('~').collect();
    let mut out = format!("{}~", parts[0]);
    for d in &parts[1..parts.len() - 1] {
        let decoded: Value = serde_json::from_slice(&b64url::decode(d).unwrap()).unwrap();
        if names.contains(&decoded[1].as_str().unwrap()) {
            out.push_str(d);
            out.push('~');
        }
    }
    out
}

#[test]
fn an_issued_sd_jwt_verifies_with_every_claim_in_place() {
    let token = issued();
    assert!(token.ends_with('~'));
    let signed = sdjwt::verify(&token).unwrap();
    assert_eq!(signed.format, Format::SdJwt);
    assert_eq!(signed.key, issuer().did());
    assert_eq!(signed.verification_method, kid(&issuer()));
    assert_eq!(signed.claims, claims());
    assert_eq!(signed.signed_at, Some(Timestamp(1_700_000_000)));
    let mut disclosed = signed.disclosed.clone();
    disclosed.sort();
    let mut expected = SELECTIVE.to_vec();
    expected.sort();
    assert_eq!(disclosed, expected);
    assert_eq!(signed.key_binding, None);
    // The module's entry point routes a `~` token here.
    let routed = credential::verify_signature(token.as_bytes()).unwrap();
    assert_eq!((routed.format, routed.claims), (Format::SdJwt, claims()));
}

#[test]
fn the_issued_form_is_as_specified() {
    let token = issued();
    let parts: Vec<&str> = token.split('~').collect();
    assert_eq!(parts.len(), SELECTIVE.len() + 2);
    let jwt = parts[0];
    let header: Value = serde_json::from_slice(&part_bytes(jwt, 0)).unwrap();
    assert_eq!(header, sd_header(&issuer()));
    let payload: Value = serde_json::from_slice(&part_bytes(jwt, 1)).unwrap();
    assert_eq!(payload["_sd_alg"], "sha-256");
    for name in SELECTIVE {
        assert!(payload.get(name).is_none(), "{name} is in the clear");
    }
    let digests: Vec<&str> = payload["_sd"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    let mut sorted = digests.clone();
    sorted.sort();
    assert_eq!(digests, sorted);
    let mut salts = counting_salts();
    for (d, name) in parts[1..parts.len() - 1].iter().zip(SELECTIVE) {
        assert!(digests.contains(&sdjwt::disclosure_digest(d).as_str()));
        let decoded: Value = serde_json::from_slice(&b64url::decode(d).unwrap()).unwrap();
        assert_eq!(
            decoded,
            json!([b64url::encode(&salts()), name, claims()[name]])
        );
    }
}

#[test]
fn a_holder_presents_some_or_none_of_the_disclosures() {
    let token = issued();
    let some = sdjwt::verify(&keep(&token, &["given_name", "address"])).unwrap();
    let mut expected = claims();
    for hidden in ["family_name", "birthdate"] {
        expected.as_object_mut().unwrap().remove(hidden);
    }
    assert_eq!(some.claims, expected);
    let none = sdjwt::verify(&keep(&token, &[])).unwrap();
    assert!(none.disclosed.is_empty());
    assert_eq!(none.claims["iss"], claims()["iss"]);
    assert!(none.claims.get("given_name").is_none() && none.claims.get("_sd").is_none());
    // Reordered disclosures verify the same.
    let parts: Vec<&str> = token.split('~').collect();
    let mut reordered = parts[1..parts.len() - 1].to_vec();
    reordered.reverse();
    let reordered = format!("{}~{}~", parts[0], reordered.join("~"));
    assert_eq!(sdjwt::verify(&reordered).unwrap().claims, claims());
}

#[test]
fn key_binding_names_the_holder_audience_nonce_and_time() {
    let presented = keep(&issued(), &["birthdate"]);
    let aud = "https://verifier.example.org";
    let token = sdjwt::present_with_key_binding(
        &presented,
        &holder(),
        aud,
        "n-0S6_WzA2Mj",
        Timestamp(1_750_000_000),
    );
    let signed = sdjwt::verify(&token).unwrap();
    assert_eq!(
        signed.key_binding,
        Some(KeyBinding {
            holder: holder().did(),
            aud: aud.to_string(),
            nonce: "n-0S6_WzA2Mj".to_string(),
            iat: Timestamp(1_750_000_000),
        })
    );
    assert_eq!(signed.disclosed, ["birthdate"]);
    let kb_jwt = token.rsplit('~').next().unwrap();
    let header: Value = serde_json::from_slice(&part_bytes(kb_jwt, 0)).unwrap();
    assert_eq!(header, json!({"alg": "EdDSA", "typ": "kb+jwt"}));
    let kb: Value = serde_json::from_slice(&part_bytes(kb_jwt, 1)).unwrap();
    assert_eq!(kb["sd_hash"], sdjwt::sd_hash(&presented));
    // A final `~` is added when missing.
    let without = presented.trim_end_matches('~');
    let again = sdjwt::present_with_key_binding(without, &holder(), aud, "n", Timestamp(1));
    assert_eq!(code(&sdjwt::verify(&again)), "ok");
}

#[test]
fn nested_array_and_recursive_disclosures_are_put_in_place() {
    let de = element("s-de", json!("DE"));
    let fr = element("s-fr", json!("FR"));
    let street = property("s-street", "street_address", json!("Schulstr. 12"));
    let nationalities = property(
        "s-nat",
        "nationalities",
        json!([{"...": sdjwt::disclosure_digest(&de)}, "US", {"...": sdjwt::disclosure_digest(&fr)}, {"...": "decoy-digest-array"}]),
    );
    let payload = vc_claims(
        &issuer(),
        json!({
            "_sd": [sdjwt::disclosure_digest(&nationalities), "decoy-digest-top"],
            "_sd_alg": "sha-256",
            "address": {"_sd": [sdjwt::disclosure_digest(&street), "decoy-digest-nested"], "country": "DE"},
            "list": [[{"...": sdjwt::disclosure_digest(&element("s-x", json!({"k": 1})))}]],
        }),
    );
    let x = element("s-x", json!({"k": 1}));
    let token = sd_jwt(
        &payload,
        &[
            street.clone(),
            fr.clone(),
            nationalities.clone(),
            de.clone(),
            x,
        ],
        &issuer(),
    );
    let signed = sdjwt::verify(&token).unwrap();
    let expected = vc_claims(
        &issuer(),
        json!({
            "address": {"street_address": "Schulstr. 12", "country": "DE"},
            "nationalities": ["DE", "US", "FR"],
            "list": [[{"k": 1}]],
        }),
    );
    assert_eq!(signed.claims, expected);
    let mut disclosed = signed.disclosed.clone();
    disclosed.sort();
    assert_eq!(
        disclosed,
        [
            "list[0][0]",
            "nationalities",
            "nationalities[0]",
            "nationalities[2]",
            "street_address"
        ]
    );

    // Withholding the FR element drops it (and the decoy) from the array.
    let token = sd_jwt(&payload, &[nationalities, de], &issuer());
    let signed = sdjwt::verify(&token).unwrap();
    assert_eq!(signed.claims["nationalities"], json!(["DE", "US"]));
    assert_eq!(signed.claims["address"], json!({"country": "DE"}));
}

#[test]
fn an_empty_sd_and_an_absent_sd_alg_are_accepted() {
    let payload = vc_claims(&issuer(), json!({"_sd": [], "nested": {"_sd": []}}));
    let signed = sdjwt::verify(&sd_jwt(&payload, &[], &issuer())).unwrap();
    assert_eq!(signed.claims, vc_claims(&issuer(), json!({"nested": {}})));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any one character of a presentation with key binding changed, it no longer
    /// verifies (and nothing panics).
    #[test]
    fn any_single_character_changed_is_refused(at in any::<prop::sample::Index>(), c in prop::char::range('!', '~')) {
        let presented = keep(&issued(), &["given_name", "address"]);
        let token = sdjwt::present_with_key_binding(&presented, &holder(), "aud", "nonce", Timestamp(5));
        let mut chars: Vec<char> = token.chars().collect();
        let i = at.index(chars.len());
        prop_assume!(chars[i] != c);
        chars[i] = c;
        let changed: String = chars.into_iter().collect();
        prop_assert_ne!(code(&sdjwt::verify(&changed)), "ok");
    }
}
