//! Proofs of answers (section 12):
//! - `proof/prove/100k`: making the bundle for one query in a 100,110-entry registry of
//!   3-level chains (evaluation over the recording view, the index proofs, the entries);
//! - `proof/verify/1m`: checking a bundle for a 3-level chain in a 1,000,000-entry
//!   registry, with nothing but the registry id: every entry signature, four witness
//!   signatures on the checkpoint, five index proofs, and the evaluation over the slice.
//!
//! It also prints the bundle's size for that query (encoded, and with every index proof
//! uncompressed, i.e. all 256 siblings of each path sent).
//!
//! Run: `cargo bench -p registry-core --bench proof` (building the 1,000,000-entry
//! registry takes about a minute).
#![allow(clippy::unwrap_used)] // a benchmark that cannot set up has nothing to measure

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use registry_core::entry::Kind;
use registry_core::proof::{prove, verify, Bundle, ProvenQuery, VerifyOptions};
use registry_core::registry::Registry;
use registry_core::state::State;
use registry_core::testkit::{self, entity, signed_checkpoint, witness_keys};
use registry_core::Timestamp;

const SLOT: u64 = 1_000_000;

/// The registry of [`testkit::three_level_entries`] with `per_sub` issuers under each of
/// its 100 sub-authorities, a witness set of four (quorum three), and its checkpoint
/// state advanced past every entry; with the checkpoint note signed by all four.
fn checkpointed(per_sub: u64) -> (Registry, String, u64) {
    let (fx, mut entries, issuers) = testkit::three_level_entries(per_sub);
    let witnesses = witness_keys(4);
    entries.insert(0, fx.set_witnesses(&witnesses, 3, 0));
    let mut reg = Registry::new(fx.genesis.clone(), 10_000);
    for chunk in entries.chunks(8192) {
        reg.ingest(chunk.to_vec());
    }
    assert_eq!(reg.state().len(), entries.len());
    reg.advance_checkpoint(Timestamp(SLOT - 5));
    let signers: Vec<_> = witnesses.iter().collect();
    let note = signed_checkpoint(reg.checkpoint().state(), SLOT, &signers);
    (reg, note, issuers)
}

fn query(issuer: u64) -> ProvenQuery {
    ProvenQuery {
        entity: entity(issuer).to_string(),
        action: "issue".into(),
        resource: "UniversityDegree".into(),
        kind: Kind::Authorization,
        at: Timestamp(10_000),
    }
}

/// The encoded size of `bundle`, and its size were each key proven on its own with all
/// 256 siblings of its path sent (no compression of empty siblings, nothing shared).
fn sizes(state: &State, bundle: &Bundle) -> (usize, usize) {
    let encoded = bundle.encode().len();
    let full = encoded - bundle.index.encoded_len()
        + bundle
            .keys
            .iter()
            .map(|k| state.index().prove(&k.key).full_len())
            .sum::<usize>();
    (encoded, full)
}

fn prove_100k(c: &mut Criterion) {
    let (reg, note, issuers) = checkpointed(1000);
    let state = reg.checkpoint().state();
    let mut group = c.benchmark_group("proof");
    group.bench_function(BenchmarkId::new("prove", "100k"), |b| {
        let mut i = 0u64;
        b.iter(|| {
            // Stride through the issuers so each query touches different entries.
            i = (i + 7919) % issuers;
            prove(state, &note, &query(i))
        })
    });
    group.finish();
}

fn verify_1m(c: &mut Criterion) {
    let (reg, note, issuers) = checkpointed(10_000);
    let state = reg.checkpoint().state();
    // Issuer 8 is not revoked (every hundredth from 7 is).
    let (bundle, decision) = prove(state, &note, &query(8));
    assert!(decision.is_authorized());
    let options = VerifyOptions {
        registry: *state.registry_id(),
        now: Timestamp(SLOT + 1),
        max_age: Some(60),
        witnesses: None,
    };
    let verified = verify(&bundle, &options).unwrap();
    assert_eq!(verified.decision, decision);
    assert_eq!(verified.signers.len(), 4);
    let (encoded, full) = sizes(state, &bundle);
    let revoked = prove(state, &note, &query(7)).0;
    let (revoked_encoded, _) = sizes(state, &revoked);
    println!(
        "bundle for a 3-level chain among {} entries ({issuers} issuers): {encoded} bytes \
         ({} entries, {} index keys in one proof of {} bytes; note {} bytes); with each key \
         proven alone and uncompressed: {full} bytes; a revoked issuer's bundle: \
         {revoked_encoded} bytes",
        state.len(),
        bundle.entries.len(),
        bundle.keys.len(),
        bundle.index.encoded_len(),
        bundle.note.len(),
    );
    let mut group = c.benchmark_group("proof");
    group.bench_function(BenchmarkId::new("verify", "1m"), |b| {
        b.iter(|| verify(&bundle, &options).unwrap())
    });
    group.finish();
}

criterion_group!(benches, prove_100k, verify_1m);
criterion_main!(benches);
