//! Credentials (section 13), in process:
//! - `credential/signature/{di,jwt,sd-jwt}`: parsing and verifying one credential of
//!   about 1.5 KiB in each format (structure, canonicalization or disclosures, Ed25519);
//! - `credential/registry/100k`: the registry's side for a verified credential in a
//!   100,110-entry registry of 3-level chains (the key's standing and the answers at the
//!   signing time and now);
//! - `credential/end_to_end/di`: both, as `POST /v1/credentials/verify` runs them.
//!
//! Run: `cargo bench -p registry-core --bench credential`.
#![allow(clippy::unwrap_used)] // a benchmark that cannot set up has nothing to measure

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use registry_core::credential::{self, di, jose, sdjwt, trust};
use registry_core::registry::Registry;
use registry_core::testkit::{self, entity, key};
use registry_core::Timestamp;
use serde_json::{json, Map, Value};

/// Issuer 0 of [`testkit::three_level_entries`] is controlled by its sub-authority's key.
const ISSUER_KEY_SEED: u64 = 1_000_000_002;
const SIGNED_AT: u64 = 10_000;

fn subject() -> Value {
    let courses: Vec<Value> = (0..14)
        .map(|i| {
            json!({"code": format!("PHY-{i:03}"), "title": format!("Course number {i} of the programme"), "grade": "A"})
        })
        .collect();
    json!({
        "id": "did:example:alice",
        "name": "Alice Example",
        "degree": {"type": "BachelorDegree", "name": "Bachelor of Science and Arts", "field": "Physics"},
        "courses": courses,
    })
}

/// The same degree credential in each format.
fn credentials() -> Vec<(&'static str, String)> {
    let k = key(ISSUER_KEY_SEED);
    let did = k.did().to_string();
    let vm = format!("{did}#{}", did.trim_start_matches("did:key:"));
    let issuer = entity(0).to_string();
    let vc = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential", "UniversityDegree"],
        "issuer": issuer,
        "validFrom": Timestamp(SIGNED_AT).to_rfc3339(),
        "credentialSubject": subject(),
    });
    let signed = di::sign(&vc, &k, &vm, Timestamp(SIGNED_AT)).unwrap();
    let mut jwt_vc = vc.clone();
    jwt_vc["iat"] = json!(SIGNED_AT);
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(issuer));
    claims.insert("vct".into(), json!("UniversityDegree"));
    claims.insert("iat".into(), json!(SIGNED_AT));
    let Value::Object(fields) = subject() else {
        unreachable!()
    };
    let names: Vec<String> = fields.keys().cloned().collect();
    claims.extend(fields);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut n = 0u8;
    let mut salt = || {
        n += 1;
        [n; 16]
    };
    let sd = sdjwt::issue(&Value::Object(claims), &names, &k, &vm, &mut salt).unwrap();
    vec![
        ("di", serde_json::to_string(&signed).unwrap()),
        ("jwt", jose::issue_vc_jwt(&jwt_vc, &k, &vm)),
        ("sd-jwt", sd),
    ]
}

fn bench(c: &mut Criterion) {
    let creds = credentials();
    let mut group = c.benchmark_group("credential");
    for (name, text) in &creds {
        println!("{name}: {} bytes", text.len());
        credential::verify_signature(text.as_bytes()).unwrap();
        group.bench_with_input(BenchmarkId::new("signature", name), text, |b, text| {
            b.iter(|| credential::verify_signature(text.as_bytes()).unwrap())
        });
    }
    let (fx, entries, _) = testkit::three_level_entries(1000);
    let mut reg = Registry::new(fx.genesis.clone(), 10_000);
    for chunk in entries.chunks(8192) {
        reg.ingest(chunk.to_vec());
    }
    let state = reg.state();
    let di_text = &creds[0].1;
    let signed = credential::verify_signature(di_text.as_bytes()).unwrap();
    let now = Timestamp(SIGNED_AT + 1000);
    assert!(trust::check(state, &signed, now).unwrap().valid);
    group.bench_function(BenchmarkId::new("registry", "100k"), |b| {
        b.iter(|| trust::check(state, &signed, now).unwrap())
    });
    group.bench_function(BenchmarkId::new("end_to_end", "di"), |b| {
        b.iter(|| {
            let signed = credential::verify_signature(di_text.as_bytes()).unwrap();
            trust::check(state, &signed, now).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
