//! Convergence of several nodes over the simulated network.

use super::sim::{world, Node, Sim};
use super::*;

fn converge(nodes: usize, seed: u64) {
    let fx = fixture();
    let all = world(&fx, seed);
    let mut rng = Rng::new(seed.wrapping_mul(31) ^ 0xabcd);
    let mut union = HashSet::new();
    let mut sim = Sim::new(seed);
    let config = SyncConfig {
        period: Duration::from_secs(2),
        request_timeout: Duration::from_secs(1),
        pipeline: 1 + rng.below(4),
        max_fetches: 1 + rng.below(4),
        ..SyncConfig::default()
    };
    for i in 0..nodes {
        let share = 20 + rng.below(50);
        let mut held: Vec<SignedEntry> =
            all.iter().filter(|_| rng.chance(share)).cloned().collect();
        rng.shuffle(&mut held);
        union.extend(held.iter().map(|e| e.id()));
        let mut registry = Registry::new(fx.genesis.clone(), 10_000);
        for chunk in held.chunks(1 + rng.below(20)) {
            registry.ingest(chunk.to_vec());
        }
        sim.nodes.push(Node {
            engine: Engine::new(config.clone(), seed ^ i as u64),
            registry,
        });
    }
    let mut closure = Registry::new(fx.genesis.clone(), 10_000);
    closure.ingest(
        all.iter()
            .filter(|e| union.contains(&e.id()))
            .cloned()
            .collect(),
    );
    let target = closure.state_root();
    let initial: Vec<usize> = sim.nodes.iter().map(|n| n.registry.state().len()).collect();
    sim.connect_all();
    let limit = 20_000;
    if let Some(step) = sim.run_until(target, limit) {
        eprintln!(
            "seed {seed}: {nodes} nodes {initial:?} -> {} accepted in {step} steps, \
             {} sessions completed, {} failed",
            closure.state().len(),
            sim.completed,
            sim.failed
        );
        assert!(sim.completed > 0, "seed {seed}");
        return;
    }
    let roots: Vec<(usize, usize)> = sim
        .nodes
        .iter()
        .map(|n| (n.registry.state().len(), n.registry.pending_len()))
        .collect();
    panic!(
        "seed {seed}: {nodes} nodes did not converge in {limit} steps: (accepted, pending) \
         {roots:?}, target {} accepted",
        closure.state().len()
    );
}

#[test]
fn two_nodes_converge() {
    for seed in 0..6 {
        converge(2, seed);
    }
}

#[test]
fn three_nodes_converge() {
    for seed in 100..106 {
        converge(3, seed);
    }
}

#[test]
fn five_nodes_converge() {
    for seed in 200..204 {
        converge(5, seed);
    }
}

/// Root-authored entries on a registry of 3 roots at threshold 2, each node holding a
/// random subset of each entry's signatures (one signature alone leaves it pending
/// there): sync brings every node to the union of what the nodes hold, each entry
/// accepted everywhere with every signature any node had, as soon as that makes two.
fn converge_signatures(nodes: usize, seed: u64) {
    let fx = Fixture::new(3, 2, 3);
    let mut rng = Rng::new(seed.wrapping_mul(17) ^ 0x51c5);
    let full: Vec<SignedEntry> = (0..40)
        .map(|i| {
            fx.accredit(&entity(i))
                .grant("issue", "R1")
                .controller(key(200).did())
                .nonce(i)
                .by_roots(&fx.root_keys(3))
        })
        .collect();
    let mut sim = Sim::new(seed);
    let config = SyncConfig {
        period: Duration::from_secs(2),
        request_timeout: Duration::from_secs(1),
        pipeline: 1 + rng.below(4),
        max_fetches: 1 + rng.below(4),
        ..SyncConfig::default()
    };
    let mut given = Vec::new();
    for i in 0..nodes {
        let mut registry = Registry::new(fx.genesis.clone(), 10_000);
        let copies: Vec<SignedEntry> = full
            .iter()
            .map(|e| {
                let mut copy = e.clone();
                let keep = rng.below(3);
                copy.signatures.retain(|_| rng.chance(40));
                if copy.signatures.is_empty() {
                    copy.signatures.push(e.signatures[keep].clone());
                }
                copy
            })
            .collect();
        given.extend(copies.iter().cloned());
        registry.ingest(copies);
        sim.nodes.push(Node {
            engine: Engine::new(config.clone(), seed ^ i as u64),
            registry,
        });
    }
    // What one node holding every copy would hold.
    let mut closure = Registry::new(fx.genesis.clone(), 10_000);
    closure.ingest(given);
    let target = closure.state_root();
    let merged = full
        .iter()
        .filter(|e| {
            let copies = sim
                .nodes
                .iter()
                .filter(|n| n.registry.state().contains(&e.id()));
            copies.count() < nodes && closure.state().contains(&e.id())
        })
        .count();
    let before: Vec<(usize, usize)> = sim
        .nodes
        .iter()
        .map(|n| (n.registry.state().len(), n.registry.pending_len()))
        .collect();
    sim.connect_all();
    let Some(steps) = sim.run_until(target, 20_000) else {
        let held: Vec<(usize, usize, Vec<usize>)> = sim
            .nodes
            .iter()
            .map(|n| {
                let sigs = full
                    .iter()
                    .map(|e| {
                        n.registry
                            .state()
                            .get(&e.id())
                            .map_or(0, |h| h.signatures.len())
                    })
                    .collect();
                (n.registry.state().len(), n.registry.pending_len(), sigs)
            })
            .collect();
        panic!(
            "seed {seed}: {nodes} nodes with signature subsets did not converge: (accepted, \
             pending, signatures held of each entry) {held:?}"
        );
    };
    for (i, n) in sim.nodes.iter().enumerate() {
        for e in &full {
            let held = n
                .registry
                .state()
                .get(&e.id())
                .map(|h| h.signatures.clone());
            let want = closure.state().get(&e.id()).map(|h| h.signatures.clone());
            assert_eq!(held, want, "seed {seed}: node {i}, entry {}", e.id());
        }
    }
    assert!(
        merged > 0,
        "seed {seed}: no entry needed another node's signatures"
    );
    eprintln!(
        "seed {seed}: {nodes} nodes (accepted, pending) {before:?} -> {} accepted with the \
         union of their signatures ({merged} not accepted everywhere before) in {steps} steps",
        closure.state().len()
    );
}

#[test]
fn nodes_with_different_signature_subsets_converge_to_the_union() {
    for (nodes, seed) in [(2, 300), (3, 301), (3, 302), (5, 303)] {
        converge_signatures(nodes, seed);
    }
}
