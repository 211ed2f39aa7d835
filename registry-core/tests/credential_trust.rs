//! The registry's side of a credential (section 13), over signed credentials built by
//! hand (their signatures are the parsers' tests): which question a credential asks, the
//! key's standing, the answers then and now, every refusal with its code, and the same
//! verdict from proof bundles alone.
#![allow(clippy::unwrap_used)]

use registry_core::credential::offline::{self, OfflineError};
use registry_core::credential::trust::{check, question, KeyStanding, Report};
use registry_core::credential::{CredentialError, Format, Signed, Verdict};
use registry_core::did::EntityId;
use registry_core::eval::Reason;
use registry_core::proof::{prove, ProvenQuery, VerifyOptions};
use registry_core::registry::Registry;
use registry_core::testkit::{key, signed_checkpoint, witness_keys, Fixture};
use registry_core::{SecretKey, SignedEntry, Timestamp};
use serde_json::{json, Value};

const UNI: &str = "did:web:uni.example";
const DEGREE: &str = "UniversityDegree";

/// root -> authority (accredit:UniversityDegree, key 20) -> university (issue:
/// UniversityDegree, key 30, valid 1000..100000), and a second accreditation of the
/// university whose key 31 was only good until 1500.
struct World {
    fx: Fixture,
    authority: SignedEntry,
    uni: SignedEntry,
    entries: Vec<SignedEntry>,
}

fn world() -> World {
    let fx = Fixture::new(1, 1, 4);
    let authority = fx
        .accredit(&EntityId::parse("did:web:accreditation.example").unwrap())
        .grant("accredit", DEGREE)
        .controller(key(20).did())
        .issued_at(100)
        .by_roots(&fx.root_keys(1));
    let uni_id = EntityId::parse(UNI).unwrap();
    let uni = fx
        .accredit(&uni_id)
        .grant("issue", DEGREE)
        .controller(key(30).did())
        .valid(1000, Some(100_000))
        .issued_at(500)
        .by_holder(authority.id(), &[&key(20)]);
    let old = fx
        .accredit(&uni_id)
        .grant("issue", DEGREE)
        .controller(key(31).did())
        .valid(0, Some(1500))
        .issued_at(400)
        .nonce(1)
        .by_holder(authority.id(), &[&key(20)]);
    let entries = vec![authority.clone(), uni.clone(), old];
    World {
        fx,
        authority,
        uni,
        entries,
    }
}

fn registry(w: &World, more: &[SignedEntry]) -> Registry {
    let mut reg = Registry::new(w.fx.genesis.clone(), 1000);
    let mut all = w.entries.clone();
    all.extend_from_slice(more);
    let report = reg.ingest(all);
    assert_eq!(
        reg.state().len(),
        w.entries.len() + more.len(),
        "{report:?}"
    );
    reg
}

/// A W3C credential of `types` by `issuer`, as its parser hands it on: signed by `signer`
/// at `signed_at`.
fn w3c(issuer: &str, types: &[&str], signer: &SecretKey, signed_at: u64) -> Signed {
    let mut all = vec!["VerifiableCredential"];
    all.extend_from_slice(types);
    Signed {
        format: Format::DataIntegrity,
        key: signer.did(),
        verification_method: format!("{}#x", signer.did()),
        claims: json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": all,
            "issuer": {"id": issuer, "name": "University of Example"},
            "credentialSubject": {"id": "did:example:alice", "degree": "BSc"},
        }),
        signed_at: Some(Timestamp(signed_at)),
        disclosed: Vec::new(),
        key_binding: None,
    }
}

fn code(r: &Report) -> Option<&str> {
    r.refusal.as_ref().map(|f| f.code.as_str())
}

#[test]
fn a_controller_of_an_effective_accreditation_signs_a_valid_credential() {
    let w = world();
    let reg = registry(&w, &[]);
    let r = check(
        reg.state(),
        &w3c(UNI, &[DEGREE], &key(30), 2000),
        Timestamp(3000),
    )
    .unwrap();
    assert!(r.valid, "{r:?}");
    assert_eq!(r.issuer, UNI);
    assert_eq!(r.signed_at_from, "proof.created");
    let t = &r.types[0];
    assert_eq!(t.resource, DEGREE);
    assert_eq!(
        t.key,
        KeyStanding::Controller {
            accreditation: w.uni.id()
        }
    );
    assert!(t.then.authorized);
    assert_eq!(t.then.chain, vec![w.uni.id(), w.authority.id()]);
    assert!(t.now.as_ref().unwrap().authorized);
}

#[test]
fn a_key_no_accreditation_names_does_not_act_for_the_issuer() {
    let w = world();
    let reg = registry(&w, &[]);
    let r = check(
        reg.state(),
        &w3c(UNI, &[DEGREE], &key(99), 2000),
        Timestamp(3000),
    )
    .unwrap();
    assert_eq!(code(&r), Some("key_not_for_issuer"));
    assert_eq!(r.types[0].key, KeyStanding::Unknown);
    assert!(r
        .refusal
        .unwrap()
        .message
        .contains("key does not act for the issuer"));
    // The authority's own key acts for the authority, not for the university.
    let r = check(
        reg.state(),
        &w3c(UNI, &[DEGREE], &key(20), 2000),
        Timestamp(3000),
    )
    .unwrap();
    assert_eq!(code(&r), Some("key_not_for_issuer"));
}

#[test]
fn a_key_named_only_by_a_lapsed_accreditation_does_not_act() {
    let w = world();
    let reg = registry(&w, &[]);
    // Key 31 was good until 1500: it signs at 1200, not at 2000.
    let r = check(
        reg.state(),
        &w3c(UNI, &[DEGREE], &key(31), 1200),
        Timestamp(3000),
    )
    .unwrap();
    assert!(r.valid, "{r:?}");
    let r = check(
        reg.state(),
        &w3c(UNI, &[DEGREE], &key(31), 2000),
        Timestamp(3000),
    )
    .unwrap();
    assert_eq!(code(&r), Some("key_not_for_issuer"));
    assert!(matches!(
        r.types[0].key,
        KeyStanding::Lapsed {
            reason: Reason::Expired,
            ..
        }
    ));
    assert!(r.refusal.unwrap().message.contains("did not count then"));
}

#[test]
fn a_signing_time_outside_the_accreditation_window_is_not_authorized() {
    let w = world();
    let reg = registry(&w, &[]);
    for at in [100_000, 200_000] {
        let r = check(
            reg.state(),
            &w3c(UNI, &[DEGREE], &key(30), at),
            Timestamp(at),
        )
        .unwrap();
        assert_eq!(code(&r), Some("not_authorized"), "{at}");
        assert_eq!(r.types[0].then.reason, Some(Reason::Expired));
    }
    // At 900 the university is authorized (by the accreditation of key 31), but key 30's
    // accreditation is not valid yet: that key does not act for it then.
    let r = check(
        reg.state(),
        &w3c(UNI, &[DEGREE], &key(30), 900),
        Timestamp(3000),
    )
    .unwrap();
    assert_eq!(code(&r), Some("key_not_for_issuer"));
    assert!(matches!(
        r.types[0].key,
        KeyStanding::Lapsed {
            reason: Reason::NotYetValid,
            ..
        }
    ));
}

#[test]
fn a_revocation_rejects_what_was_signed_after_it_took_effect() {
    let w = world();
    let revoke =
        w.fx.revoke(w.uni.id(), 3000)
            .issued_at(3000)
            .by_holder(w.authority.id(), &[&key(20)]);
    let reg = registry(&w, std::slice::from_ref(&revoke));
    let before = check(
        reg.state(),
        &w3c(UNI, &[DEGREE], &key(30), 2000),
        Timestamp(4000),
    )
    .unwrap();
    assert!(before.valid, "signed before the revocation: {before:?}");
    let now = before.types[0].now.as_ref().unwrap();
    assert!(!now.authorized);
    assert_eq!(now.reason, Some(Reason::Revoked));
    let after = check(
        reg.state(),
        &w3c(UNI, &[DEGREE], &key(30), 3500),
        Timestamp(4000),
    )
    .unwrap();
    assert_eq!(code(&after), Some("not_authorized"));
    assert_eq!(after.types[0].then.reason, Some(Reason::Revoked));
    let message = &after.refusal.as_ref().unwrap().message;
    assert!(message.contains(&revoke.id().to_string()), "{message}");
}

#[test]
fn a_back_dated_revocation_of_the_authority_rejects_credentials_signed_after_it() {
    let w = world();
    // Issued at 5000, effective from 1800: the authority's key was stolen then.
    let revoke =
        w.fx.revoke(w.authority.id(), 1800)
            .issued_at(5000)
            .by_roots(&w.fx.root_keys(1));
    let reg = registry(&w, &[revoke]);
    let early = check(
        reg.state(),
        &w3c(UNI, &[DEGREE], &key(30), 1700),
        Timestamp(6000),
    )
    .unwrap();
    assert!(early.valid, "{early:?}");
    let late = check(
        reg.state(),
        &w3c(UNI, &[DEGREE], &key(30), 2000),
        Timestamp(6000),
    )
    .unwrap();
    assert_eq!(code(&late), Some("not_authorized"));
    assert_eq!(late.types[0].then.reason, Some(Reason::IssuerRevoked));
}

#[test]
fn a_did_key_issuer_signs_for_itself() {
    let fx = Fixture::new(1, 1, 4);
    let k = key(40);
    let issuer = EntityId::parse(&k.did().to_string()).unwrap();
    let acc = fx
        .accredit(&issuer)
        .grant("issue", DEGREE)
        .by_roots(&fx.root_keys(1));
    let mut reg = Registry::new(fx.genesis.clone(), 10);
    reg.ingest(vec![acc]);
    let r = check(
        reg.state(),
        &w3c(issuer.as_str(), &[DEGREE], &k, 10),
        Timestamp(20),
    )
    .unwrap();
    assert!(r.valid, "{r:?}");
    assert_eq!(r.types[0].key, KeyStanding::Issuer);
    let other = check(
        reg.state(),
        &w3c(issuer.as_str(), &[DEGREE], &key(41), 10),
        Timestamp(20),
    )
    .unwrap();
    assert_eq!(code(&other), Some("key_not_for_issuer"));
}

#[test]
fn every_type_must_be_authorized() {
    let w = world();
    let reg = registry(&w, &[]);
    let r = check(
        reg.state(),
        &w3c(UNI, &[DEGREE, "DriversLicence"], &key(30), 2000),
        Timestamp(3000),
    )
    .unwrap();
    assert_eq!(r.types.len(), 2);
    // The key is named for UniversityDegree only.
    assert_eq!(code(&r), Some("key_not_for_issuer"));
    assert!(r.refusal.unwrap().message.contains("DriversLicence"));
}

#[test]
fn the_credentials_own_window_is_judged_at_the_time_of_checking() {
    let w = world();
    let reg = registry(&w, &[]);
    let mut s = w3c(UNI, &[DEGREE], &key(30), 2000);
    s.claims["validFrom"] = json!("1970-01-01T00:50:00Z");
    s.claims["validUntil"] = json!("1970-01-01T01:00:00Z");
    let ok = check(reg.state(), &s, Timestamp(3599)).unwrap();
    assert!(ok.valid, "{ok:?}");
    let expired = check(reg.state(), &s, Timestamp(3600)).unwrap();
    assert_eq!(code(&expired), Some("credential_expired"));
    let early = check(reg.state(), &s, Timestamp(2999)).unwrap();
    assert_eq!(code(&early), Some("credential_not_yet_valid"));
}

#[test]
fn the_signing_time_falls_back_to_valid_from_and_nbf() {
    let mut s = w3c(UNI, &[DEGREE], &key(30), 0);
    s.signed_at = None;
    assert_eq!(
        question(&s).unwrap_err(),
        CredentialError::Missing("proof.created or validFrom")
    );
    s.claims["validFrom"] = json!("1970-01-01T00:33:20Z");
    let q = question(&s).unwrap();
    assert_eq!(
        (q.signed_at, q.signed_at_from),
        (Timestamp(2000), "validFrom".into())
    );
    s.format = Format::Jwt;
    s.claims.as_object_mut().unwrap().remove("validFrom");
    s.claims["nbf"] = json!(2100);
    let q = question(&s).unwrap();
    assert_eq!(
        (q.signed_at, q.signed_at_from),
        (Timestamp(2100), "nbf".into())
    );
    s.claims["nbf"] = json!("soon");
    assert_eq!(question(&s).unwrap_err().code(), "time");
}

#[test]
fn the_question_needs_an_issuer_and_a_type() {
    let mut s = w3c(UNI, &[], &key(30), 2000);
    assert_eq!(question(&s).unwrap_err().code(), "missing_claim");
    s.claims["type"] = json!(["VerifiableCredential", DEGREE, DEGREE]);
    assert_eq!(question(&s).unwrap().types, vec![DEGREE.to_string()]);
    s.claims["type"] = json!(["VerifiableCredential", 7]);
    assert_eq!(question(&s).unwrap_err().code(), "structure");
    s.claims["type"] = json!([DEGREE]);
    s.claims.as_object_mut().unwrap().remove("issuer");
    assert_eq!(
        question(&s).unwrap_err(),
        CredentialError::Missing("issuer")
    );
    s.claims["issuer"] = json!({"name": "no id"});
    assert_eq!(
        question(&s).unwrap_err(),
        CredentialError::Missing("issuer.id")
    );
    s.claims["issuer"] = json!(12);
    assert_eq!(question(&s).unwrap_err().code(), "structure");
    let many: Vec<String> = (0..17).map(|i| format!("T{i}")).collect();
    s.claims["issuer"] = json!(UNI);
    s.claims["type"] = json!(many);
    assert_eq!(question(&s).unwrap_err().code(), "structure");
}

#[test]
fn an_sd_jwt_asks_about_its_vct() {
    let w = world();
    let reg = registry(&w, &[]);
    let s = Signed {
        format: Format::SdJwt,
        key: key(30).did(),
        verification_method: key(30).did().to_string(),
        claims: json!({"iss": UNI, "vct": DEGREE, "iat": 2000, "exp": 5000}),
        signed_at: Some(Timestamp(2000)),
        disclosed: vec!["degree".into()],
        key_binding: None,
    };
    let r = check(reg.state(), &s, Timestamp(3000)).unwrap();
    assert!(r.valid, "{r:?}");
    assert_eq!(r.signed_at_from, "iat");
    assert_eq!(r.valid_until, Some(Timestamp(5000)));
    let r = check(reg.state(), &s, Timestamp(5000)).unwrap();
    assert_eq!(code(&r), Some("credential_expired"));
    let mut no_vct = s.clone();
    no_vct.claims.as_object_mut().unwrap().remove("vct");
    assert_eq!(
        question(&no_vct).unwrap_err(),
        CredentialError::Missing("vct")
    );
}

#[test]
fn the_verdict_round_trips_through_json() {
    let w = world();
    let reg = registry(&w, &[]);
    let r = check(
        reg.state(),
        &w3c(UNI, &[DEGREE], &key(30), 2000),
        Timestamp(3000),
    )
    .unwrap();
    let verdict = Verdict::Checked(Box::new(r));
    let text = serde_json::to_string(&verdict).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["valid"], json!(true));
    assert_eq!(value["signed_at"], json!("1970-01-01T00:33:20Z"));
    assert_eq!(value["types"][0]["key"]["standing"], json!("controller"));
    assert_eq!(serde_json::from_str::<Verdict>(&text).unwrap(), verdict);
    let refused = Verdict::refused(&CredentialError::Signature);
    let text = serde_json::to_string(&refused).unwrap();
    assert_eq!(
        serde_json::from_value::<Value>(serde_json::from_str(&text).unwrap()).unwrap(),
        json!({"valid": false, "refusal": {"code": "signature", "message": "the signature does not verify"}})
    );
    assert_eq!(serde_json::from_str::<Verdict>(&text).unwrap(), refused);
}

/// The world with witnesses, checkpointed at `cutoff`, and a signed note of it.
fn checkpointed(w: &World, more: &[SignedEntry], cutoff: u64) -> (Registry, String, u64) {
    let witnesses = witness_keys(3);
    let mut all = more.to_vec();
    all.push(w.fx.set_witnesses(&witnesses, 2, 50));
    let mut reg = registry(w, &all);
    reg.advance_checkpoint(Timestamp(cutoff));
    let slot = cutoff + 5;
    let signers: Vec<_> = witnesses.iter().take(2).collect();
    let note = signed_checkpoint(reg.checkpoint().state(), slot, &signers);
    (reg, note, slot)
}

fn bundle_for(reg: &Registry, note: &str, resource: &str, at: u64) -> registry_core::proof::Bundle {
    let q = ProvenQuery {
        entity: UNI.into(),
        action: "issue".into(),
        resource: resource.into(),
        kind: registry_core::entry::Kind::Authorization,
        at: Timestamp(at),
    };
    prove(reg.checkpoint().state(), note, &q).0
}

fn options(w: &World, now: u64) -> VerifyOptions {
    VerifyOptions {
        registry: w.fx.registry_id,
        now: Timestamp(now),
        max_age: None,
        witnesses: None,
    }
}

#[test]
fn bundles_alone_give_the_nodes_verdict() {
    let w = world();
    let revoke =
        w.fx.revoke(w.authority.id(), 1800)
            .issued_at(5000)
            .by_roots(&w.fx.root_keys(1));
    let (reg, note, slot) = checkpointed(&w, &[revoke], 10_000);
    for (signer, at) in [(30, 1700), (30, 2000), (99, 1700), (31, 1200), (31, 1600)] {
        let s = w3c(UNI, &[DEGREE], &key(signer), at);
        let online = check(reg.checkpoint().state(), &s, Timestamp(slot)).unwrap();
        let bundle = bundle_for(&reg, &note, DEGREE, at);
        let off = offline::check(&[bundle], &options(&w, slot), &s, Timestamp(slot)).unwrap();
        assert_eq!(off.report, online, "key {signer} at {at}");
        assert_eq!(off.proofs.len(), 1);
    }
    let s = w3c(UNI, &[DEGREE], &key(30), 2000);
    let off = offline::check(
        &[bundle_for(&reg, &note, DEGREE, 2000)],
        &options(&w, slot),
        &s,
        Timestamp(slot),
    )
    .unwrap();
    assert_eq!(code(&off.report), Some("not_authorized"));
    assert_eq!(off.report.types[0].then.reason, Some(Reason::IssuerRevoked));
}

#[test]
fn bundles_must_answer_exactly_the_credentials_question() {
    let w = world();
    let (reg, note, slot) = checkpointed(&w, &[], 10_000);
    let s = w3c(UNI, &[DEGREE], &key(30), 2000);
    // Another time, another type.
    for bundle in [
        bundle_for(&reg, &note, DEGREE, 2001),
        bundle_for(&reg, &note, "DriversLicence", 2000),
    ] {
        let e = offline::check(&[bundle], &options(&w, slot), &s, Timestamp(slot)).unwrap_err();
        assert!(matches!(e, OfflineError::NoBundle { .. }), "{e}");
        assert!(e
            .to_string()
            .contains("registry proof --entity did:web:uni.example"));
    }
    // A bundle for another registry does not verify.
    let mut other = options(&w, slot);
    other.registry = Fixture::new(2, 1, 4).registry_id;
    let e = offline::check(
        &[bundle_for(&reg, &note, DEGREE, 2000)],
        &other,
        &s,
        Timestamp(slot),
    )
    .unwrap_err();
    assert!(
        matches!(e, OfflineError::Bundle { ref error, .. } if error.check() == "registry"),
        "{e}"
    );
    // A tampered entry in the bundle does not verify.
    let mut bundle = bundle_for(&reg, &note, DEGREE, 2000);
    bundle.entries[0].signatures[0].sig[0] ^= 1;
    let e = offline::check(&[bundle], &options(&w, slot), &s, Timestamp(slot)).unwrap_err();
    assert!(
        matches!(e, OfflineError::Bundle { ref error, .. } if error.check() == "entry"),
        "{e}"
    );
    // Stale.
    let mut stale = options(&w, slot + 100);
    stale.max_age = Some(10);
    let e = offline::check(
        &[bundle_for(&reg, &note, DEGREE, 2000)],
        &stale,
        &s,
        Timestamp(slot),
    )
    .unwrap_err();
    assert!(
        matches!(e, OfflineError::Bundle { ref error, .. } if error.check() == "stale"),
        "{e}"
    );
}

/// W3C vc-di-eddsa's signed credential verifies, but its signing key is not its issuer
/// and no registry named it: refused as a key that does not act for the issuer, whether
/// the issuer is accredited (with its own controller key) or unknown.
#[test]
fn the_w3c_vector_verifies_and_its_key_does_not_act_for_its_issuer() {
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/vc-di-eddsa/eddsa-jcs-2022/signedJCS.json"
    ))
    .unwrap();
    let signed = registry_core::credential::verify_signature(&text).unwrap();
    let issuer = "https://vc.example/issuers/5678";
    let fx = Fixture::new(1, 1, 4);
    let acc = fx
        .accredit(&EntityId::parse(issuer).unwrap())
        .grant("issue", "AlumniCredential")
        .controller(key(50).did())
        .by_roots(&fx.root_keys(1));
    let mut reg = Registry::new(fx.genesis.clone(), 10);
    let empty = check(reg.state(), &signed, Timestamp(1_700_000_000)).unwrap();
    reg.ingest(vec![acc]);
    let accredited = check(reg.state(), &signed, Timestamp(1_700_000_000)).unwrap();
    for r in [empty, accredited] {
        assert_eq!(r.issuer, issuer);
        assert_eq!(code(&r), Some("key_not_for_issuer"), "{r:?}");
        assert_eq!(r.types[0].key, KeyStanding::Unknown);
        assert!(r
            .refusal
            .unwrap()
            .message
            .starts_with("key does not act for the issuer"));
    }
}
