//! Throughput of the registry's two hot paths:
//! - `ingest_durable`: decode entries from bytes, check structure, verify signatures in a
//!   batch, accept, and append them durably to the sled ledger (one block and one flush per
//!   1,024 entries: group commit);
//! - `evaluate`: answer a trust query against a 100,000-entry registry of 3-level chains;
//! - `index`: the authenticated index: setting fresh keys (rehashed per 1,024, as ingest
//!   does), and proving and verifying a key among 100,000.
//!
//! Run: `cargo bench -p registry-core --bench core`.
#![allow(clippy::unwrap_used)] // a benchmark that cannot set up has nothing to measure

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use registry_core::block::MAX_BLOCK_ENTRIES;
use registry_core::entry::Kind;
use registry_core::eval::{evaluate, Query};
use registry_core::index::{value_hash, Index, IndexKey};
use registry_core::registry::Registry;
use registry_core::store::Ledger;
use registry_core::testkit::{self, entity, key, Fixture};
use registry_core::{Hash, SignedEntry, Timestamp};

/// Holder-authored accreditations, as an accrediting authority publishes them: one
/// signature each, signed by the authority's controller key.
struct Feed {
    fx: Fixture,
    authority: SignedEntry,
    next: u64,
}

impl Feed {
    fn new() -> Feed {
        let fx = Fixture::new(1, 1, 4);
        let authority = testkit::authority(&fx);
        Feed {
            fx,
            authority,
            next: 1,
        }
    }

    fn block(&mut self, n: usize) -> Vec<Vec<u8>> {
        let signer = key(testkit::AUTHORITY_KEY_SEED);
        let authority = self.authority.id();
        (0..n)
            .map(|_| {
                self.next += 1;
                testkit::issuer(&self.fx, authority, &signer, self.next).encode()
            })
            .collect()
    }
}

fn ingest_durable(c: &mut Criterion) {
    let mut group = c.benchmark_group("ingest_durable");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(MAX_BLOCK_ENTRIES as u64));
    // `checkpointed`: the checkpoint state also takes in each block, as it takes in
    // everything ingested between two slots; with it, each entry costs its index key in
    // the live state and its trie leaf and index key in the checkpoint state.
    for checkpointed in [false, true] {
        let name = if checkpointed {
            format!("{MAX_BLOCK_ENTRIES}_checkpointed")
        } else {
            MAX_BLOCK_ENTRIES.to_string()
        };
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            let dir = tempfile::tempdir().unwrap();
            let mut feed = Feed::new();
            let mut ledger = Ledger::create(dir.path(), &feed.fx.genesis).unwrap();
            let mut registry = Registry::new(feed.fx.genesis.clone(), 10_000);
            let first = registry.ingest(vec![feed.authority.clone()]);
            let root = registry.state_root();
            let accepted: Vec<SignedEntry> = first.accepted.iter().map(|e| (**e).clone()).collect();
            ledger.append(&accepted, Timestamp(1), root).unwrap();
            b.iter_custom(|iters| {
                let blocks: Vec<Vec<Vec<u8>>> =
                    (0..iters).map(|_| feed.block(MAX_BLOCK_ENTRIES)).collect();
                let start = Instant::now();
                for block in blocks {
                    let entries: Vec<SignedEntry> = block
                        .iter()
                        .filter_map(|b| SignedEntry::decode(b).ok())
                        .collect();
                    let report = registry.ingest(entries);
                    assert_eq!(report.accepted.len(), MAX_BLOCK_ENTRIES);
                    let root = registry.state_root();
                    let accepted: Vec<SignedEntry> =
                        report.accepted.iter().map(|e| (**e).clone()).collect();
                    ledger.append(&accepted, Timestamp(2), root).unwrap();
                    if checkpointed {
                        registry.advance_checkpoint(Timestamp(u64::MAX));
                    }
                }
                start.elapsed()
            });
        });
    }
    group.finish();
}

/// The 100,110-accreditation registry of 3-level chains (see
/// [`testkit::three_level_entries`]), 1% of issuers revoked.
fn three_level_registry() -> (Registry, u64) {
    let (fx, entries, issuers) = testkit::three_level_entries(1000);
    let mut reg = Registry::new(fx.genesis.clone(), 10_000);
    for chunk in entries.chunks(4096) {
        reg.ingest(chunk.to_vec());
    }
    assert_eq!(reg.state().len(), entries.len());
    (reg, issuers)
}

fn evaluate_query(c: &mut Criterion) {
    let (reg, issuers) = three_level_registry();
    let names: Vec<String> = (0..issuers).map(|i| entity(i).to_string()).collect();
    let mut group = c.benchmark_group("evaluate");
    group.sample_size(50);
    group.bench_function("100k_entries_3_levels", |b| {
        let mut i = 0usize;
        b.iter(|| {
            // Stride through the issuers so each query touches different entries.
            i = (i + 7919) % names.len();
            let q = Query {
                entity: &names[i],
                action: "issue",
                resource: "UniversityDegree",
                kind: Kind::Authorization,
            };
            evaluate(reg.state(), &q, Timestamp(10_000))
        })
    });
    group.bench_function("100k_entries_no_accreditation", |b| {
        b.iter(|| {
            let q = Query {
                entity: "did:web:unknown.example",
                action: "issue",
                resource: "UniversityDegree",
                kind: Kind::Authorization,
            };
            evaluate(reg.state(), &q, Timestamp(10_000))
        })
    });
    group.finish();
}

/// `n` subject keys with the value hash of a one-id list each.
fn index_keys(n: usize, salt: &str) -> Vec<(IndexKey, Hash)> {
    (0..n)
        .map(|i| {
            let key =
                IndexKey::subject(Kind::Authorization, &format!("did:web:{salt}-{i}.example"));
            let id = registry_core::codec::hash_with_domain("bench/index", &i.to_le_bytes());
            (key, value_of(&[id]))
        })
        .collect()
}

fn index(c: &mut Criterion) {
    const N: usize = 100_000;
    let mut group = c.benchmark_group("index");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N as u64));
    let fresh = index_keys(N, "fresh");
    group.bench_function(BenchmarkId::new("set", N), |b| {
        b.iter(|| {
            let mut ix = Index::new();
            for chunk in fresh.chunks(MAX_BLOCK_ENTRIES) {
                for (k, v) in chunk {
                    ix.set(k, *v);
                }
                ix.rehash();
            }
            ix
        })
    });
    let mut ix = Index::new();
    for (k, v) in &fresh {
        ix.set(k, *v);
    }
    let root = ix.rehash();
    group.sample_size(50);
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::new("prove", N), |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 7919) % N;
            ix.prove(&fresh[i].0)
        })
    });
    let proofs: Vec<_> = fresh.iter().step_by(97).map(|(k, _)| ix.prove(k)).collect();
    let keys: Vec<_> = fresh.iter().step_by(97).collect();
    group.bench_function(BenchmarkId::new("verify", N), |b| {
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 1) % proofs.len();
            let (k, v) = keys[i];
            proofs[i].verify(&root, k, Some(v)).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, ingest_durable, evaluate_query, index);
criterion_main!(benches);

/// The value hash of a list of ids (with a zero signature digest each: the index does not
/// look inside values).
fn value_of(ids: &[registry_core::EntryId]) -> registry_core::Hash {
    let pairs: Vec<_> = ids
        .iter()
        .map(|id| (*id, registry_core::Hash::ZERO))
        .collect();
    value_hash(&pairs)
}
