//! Proofs of answers (section 12): over random registries every answer proves and
//! verifies to the node's own decision, and every way of tampering with a bundle is
//! refused, naming the check that failed.
#![allow(clippy::unwrap_used)]

mod tamper;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use registry_core::entry::Kind;
use registry_core::eval::{evaluate, Query};
use registry_core::proof::{prove, verify, Bundle, ProvenQuery, VerifyOptions};
use registry_core::registry::Registry;
use registry_core::testkit::{entity, signed_checkpoint, witness_keys, Fixture};
use registry_core::{SignedEntry, Timestamp};

#[path = "../world/mod.rs"]
mod world;
use world::{world, Rng, ACTIONS, ENTITIES};

/// Lag and a cutoff that leaves some of a world's entries (issued up to 1000) out.
const LAG: u64 = 5;

fn registry_of(fx: &Fixture, entries: &[SignedEntry]) -> Registry {
    let mut reg = Registry::new(fx.genesis.clone(), 10_000);
    reg.ingest(entries.to_vec());
    reg
}

fn options(fx: &Fixture, now: u64) -> VerifyOptions {
    VerifyOptions {
        registry: fx.registry_id,
        now: Timestamp(now),
        max_age: None,
        witnesses: None,
    }
}

/// Every query of a world at several times: the bundle verifies, and the verified
/// decision is the checkpoint state's.
fn check_world(seed: u64, size: usize, cutoff: u64) {
    let (fx, mut entries) = world(seed, size);
    let witnesses = witness_keys(4);
    entries.push(fx.set_witnesses(&witnesses, 3, 0));
    let mut reg = registry_of(&fx, &entries);
    reg.advance_checkpoint(Timestamp(cutoff));
    let state = reg.checkpoint().state();
    let slot = cutoff + LAG;
    let signers: Vec<_> = witnesses.iter().take(3).collect();
    let note = signed_checkpoint(state, slot, &signers);
    let mut proven = 0;
    for e in 0..ENTITIES {
        let who = entity(e);
        for action in ACTIONS {
            for resource in ["R1", "R2", "R3"] {
                for kind in [Kind::Authorization, Kind::Recognition] {
                    for at in (0..1700).step_by(331) {
                        let query = ProvenQuery {
                            entity: who.as_str().to_string(),
                            action: action.to_string(),
                            resource: resource.to_string(),
                            kind,
                            at: Timestamp(at),
                        };
                        let (bundle, decision) = prove(state, &note, &query);
                        let q = Query {
                            entity: who.as_str(),
                            action,
                            resource,
                            kind,
                        };
                        assert_eq!(decision, evaluate(state, &q, Timestamp(at)));
                        let bytes = bundle.encode();
                        let decoded = Bundle::decode(&bytes).unwrap();
                        assert_eq!(decoded, bundle);
                        let verified =
                            verify(&decoded, &options(&fx, slot + 1)).unwrap_or_else(|e| {
                                panic!("seed {seed}: {q:?} at {at}: {e} ({})", e.check())
                            });
                        assert_eq!(verified.decision, decision, "seed {seed}: {q:?} at {at}");
                        proven += 1;
                    }
                }
            }
        }
    }
    assert!(proven > 0);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 12,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    /// All of a world in the checkpoint state.
    #[test]
    fn every_answer_proves_to_the_nodes_decision(seed in any::<u64>()) {
        check_world(seed, 60, 2000);
    }

    /// A cutoff inside the world: the checkpoint state holds only part of it, closed
    /// under authorship.
    #[test]
    fn answers_prove_in_a_trailing_state(seed in any::<u64>()) {
        check_world(seed, 60, 500);
    }

    /// Shuffled arrival orders (and batchings) give the same index roots, live and
    /// trailing.
    #[test]
    fn shuffled_arrivals_give_the_same_index_root(seed in any::<u64>()) {
        let (fx, entries) = world(seed, 60);
        let mut roots = Vec::new();
        let mut rng = Rng(seed ^ 0xabcdef);
        for _ in 0..3 {
            let mut order = entries.clone();
            rng.shuffle(&mut order);
            let mut reg = Registry::new(fx.genesis.clone(), 10_000);
            for chunk in order.chunks(1 + rng.below(7) as usize) {
                reg.ingest(chunk.to_vec());
            }
            reg.advance_checkpoint(Timestamp(500));
            roots.push((
                reg.state().index_root(),
                reg.checkpoint().state().index_root(),
                reg.checkpoint().state().state_root(),
            ));
        }
        prop_assert!(roots.windows(2).all(|w| w[0] == w[1]), "{roots:?}");
    }
}
