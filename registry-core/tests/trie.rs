//! The incremental trie against the naive definition, and the sync walk it is built for.
//!
//! Random tests are proptests (which report the failing case and persist its seed) or use
//! a fixed seed that every assertion message prints. Test names start with `trie_` so that
//! `cargo test -p registry-core trie` selects them.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

use std::collections::BTreeSet;
use std::time::Instant;

use proptest::prelude::*;
use registry_core::codec::{self, hash_with_domain};
use registry_core::trie::{subtree_hash, InclusionProof, NodeView, Prefix, Trie};
use registry_core::{EntryId, Hash};

/// Id `i` of the deterministic sequence `seed`.
fn seeded_id(seed: u64, i: u64) -> EntryId {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..].copy_from_slice(&i.to_le_bytes());
    hash_with_domain("test/trie-ids", &bytes)
}

/// Sets with clusters: ids flagged `share` take their first `k` bytes (and, when `k` is odd,
/// a half byte more) from one base id, so long shared prefixes and deep chains of
/// one-child branches are common; `k = 32` yields duplicates.
fn id_lists(max: usize) -> impl Strategy<Value = Vec<EntryId>> {
    (
        0usize..=32,
        any::<[u8; 32]>(),
        prop::collection::vec((any::<[u8; 32]>(), any::<bool>()), 0..max),
    )
        .prop_map(|(k, base, raw)| {
            raw.into_iter()
                .map(|(mut bytes, share)| {
                    if share {
                        bytes[..k].copy_from_slice(&base[..k]);
                        if k % 2 == 1 && k < 32 {
                            bytes[k] = (base[k] & 0xf0) | (bytes[k] & 0x0f);
                        }
                    }
                    Hash(bytes)
                })
                .collect()
        })
}

/// The value each test id carries (in the registry: the digest of its signature set).
fn val(id: &EntryId) -> Hash {
    hash_with_domain("test/trie-values", id.as_bytes())
}

fn pairs(ids: &[EntryId]) -> Vec<(EntryId, Hash)> {
    ids.iter().map(|id| (*id, val(id))).collect()
}

fn sorted(ids: &[EntryId]) -> Vec<EntryId> {
    ids.iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn build(ids: &[EntryId]) -> Trie {
    let mut t = Trie::new();
    for id in ids {
        t.insert(*id, val(id));
    }
    t
}

/// Every prefix worth checking for `ids`: each id's prefixes at every depth, plus their
/// 16 children (most of which are empty or hold one id).
fn interesting_prefixes(ids: &[EntryId]) -> BTreeSet<Prefix> {
    let mut out = BTreeSet::new();
    for id in ids.iter().take(8) {
        for d in 0..=64 {
            let Some(p) = Prefix::of_id(id, d) else {
                continue;
            };
            out.insert(p);
            for n in 0..16 {
                out.extend(p.child(n));
            }
        }
    }
    out
}

fn check_prefix(trie: &mut Trie, all: &[EntryId], p: &Prefix) {
    let under: Vec<EntryId> = all.iter().copied().filter(|id| p.covers(id)).collect();
    let expected = subtree_hash(&pairs(&under), p.len());
    assert_eq!(trie.hash_at(p), expected, "hash_at {p}");
    assert_eq!(trie.count_under(p), under.len(), "count_under {p}");
    assert_eq!(trie.ids_under(p, usize::MAX), under, "ids_under {p}");
    assert_eq!(
        trie.ids_under(p, 1),
        under.iter().copied().take(1).collect::<Vec<_>>()
    );
    let node = trie.node(p);
    assert_eq!(node.hash(), expected, "node hash {p}");
    match (&node, under.as_slice()) {
        (NodeView::Empty, []) => {}
        (NodeView::Leaf(id, value), [one]) => assert_eq!((id, value), (one, &val(one))),
        (NodeView::Branch(children), [_, _, ..]) => {
            for (n, child) in children.iter().enumerate() {
                let Some(cp) = p.child(n as u8) else {
                    panic!("branch at full depth {p}")
                };
                let below: Vec<EntryId> =
                    under.iter().copied().filter(|id| cp.covers(id)).collect();
                assert_eq!(
                    *child,
                    subtree_hash(&pairs(&below), cp.len()),
                    "child {n} of {p}"
                );
            }
        }
        _ => panic!("node {node:?} at {p} for {} ids", under.len()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn trie_root_matches_the_naive_definition(ids in id_lists(200), chunk in 1usize..50) {
        let mut trie = Trie::new();
        let mut seen = BTreeSet::new();
        // root() between chunks: lazy rehashing must not depend on when it is asked for.
        for part in ids.chunks(chunk) {
            for id in part {
                prop_assert_eq!(trie.insert(*id, val(id)), seen.insert(*id));
            }
            let all: Vec<EntryId> = seen.iter().copied().collect();
            prop_assert_eq!(trie.root(), subtree_hash(&pairs(&all), 0));
            prop_assert_eq!(trie.len(), all.len());
        }
        for id in &ids {
            prop_assert!(trie.contains(id));
        }
        prop_assert_eq!(trie.is_empty(), ids.is_empty());
    }

    #[test]
    fn trie_reads_before_and_after_rehash_agree(ids in id_lists(150), chunk in 1usize..40) {
        // Reads of a trie changed since its last rehash hash what changed on the fly and
        // store nothing; after rehash they are lookups. Both must give the definition's
        // hashes, and a read must never make the trie current by itself.
        let mut trie = Trie::new();
        let mut seen = BTreeSet::new();
        for (i, part) in ids.chunks(chunk).enumerate() {
            let mut changed = false;
            for id in part {
                changed |= trie.insert(*id, val(id));
                seen.insert(*id);
            }
            let all: Vec<EntryId> = seen.iter().copied().collect();
            let expected = subtree_hash(&pairs(&all), 0);
            if changed {
                prop_assert!(!trie.is_current());
            }
            prop_assert_eq!(trie.root(), expected);
            for p in interesting_prefixes(&all).iter().take(8) {
                let under: Vec<EntryId> = all.iter().copied().filter(|id| p.covers(id)).collect();
                prop_assert_eq!(trie.hash_at(p), subtree_hash(&pairs(&under), p.len()));
            }
            if changed {
                prop_assert!(!trie.is_current(), "a read stored hashes");
            }
            if i % 2 == 0 {
                prop_assert_eq!(trie.rehash(), expected);
                prop_assert!(trie.is_current());
                prop_assert_eq!(trie.root(), expected);
            }
        }
    }

    #[test]
    fn trie_value_updates_match_the_naive_definition(
        ids in id_lists(120), picks in prop::collection::vec((any::<prop::sample::Index>(), any::<[u8; 32]>()), 0..40)
    ) {
        let mut trie = build(&ids);
        let all = sorted(&ids);
        let mut values: std::collections::BTreeMap<EntryId, Hash> =
            all.iter().map(|id| (*id, val(id))).collect();
        for (i, (pick, raw)) in picks.iter().enumerate() {
            if all.is_empty() {
                break;
            }
            let id = all[pick.index(all.len())];
            let value = Hash(*raw);
            prop_assert_eq!(trie.update(&id, value), values[&id] != value);
            values.insert(id, value);
            // root() only now and then: updates between reads must all be hashed.
            if i % 3 == 0 {
                let expected: Vec<(EntryId, Hash)> = values.iter().map(|(k, v)| (*k, *v)).collect();
                prop_assert_eq!(trie.root(), subtree_hash(&expected, 0));
            }
        }
        let expected: Vec<(EntryId, Hash)> = values.iter().map(|(k, v)| (*k, *v)).collect();
        prop_assert_eq!(trie.root(), subtree_hash(&expected, 0));
        prop_assert_eq!(trie.len(), all.len());
        for (id, v) in &values {
            prop_assert_eq!(trie.value(id), Some(*v));
        }
        // A fresh trie built with the final values has the same root.
        let mut fresh = Trie::new();
        for (id, v) in &values {
            fresh.insert(*id, *v);
        }
        prop_assert_eq!(fresh.root(), trie.root());
    }

    #[test]
    fn trie_insertion_order_does_not_change_the_root(
        (ids, shuffled) in id_lists(150).prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle()))
    ) {
        prop_assert_eq!(build(&ids).root(), build(&shuffled).root());
    }

    #[test]
    fn trie_duplicate_inserts_change_nothing(ids in id_lists(100)) {
        let mut trie = build(&ids);
        let root = trie.root();
        let len = trie.len();
        for id in &ids {
            prop_assert!(!trie.insert(*id, val(id)));
        }
        prop_assert_eq!(trie.len(), len);
        prop_assert_eq!(trie.root(), root);
    }

    #[test]
    fn trie_absent_ids_are_not_contained(ids in id_lists(100), other in any::<[u8; 32]>()) {
        let trie = build(&ids);
        prop_assert_eq!(trie.contains(&Hash(other)), ids.contains(&Hash(other)));
    }

    #[test]
    fn trie_nodes_agree_with_the_naive_definition_at_every_depth(ids in id_lists(60)) {
        // No root() first: node and hash_at must rehash what they need themselves.
        let mut trie = build(&ids);
        let all = sorted(&ids);
        for p in interesting_prefixes(&ids) {
            check_prefix(&mut trie, &all, &p);
        }
        check_prefix(&mut trie, &all, &Prefix::root());
    }

    #[test]
    fn trie_inclusion_proofs_verify_only_what_they_prove(ids in id_lists(80), absent in any::<[u8; 32]>()) {
        let trie = build(&ids);
        let root = trie.root();
        let absent = Hash(absent);
        let wrong_root = hash_with_domain("test/wrong-root", root.as_bytes());
        for id in &ids {
            let Some(proof) = trie.prove(id) else { panic!("no proof for a present id") };
            prop_assert!(proof.verify(&root, id, &val(id)));
            prop_assert!(!proof.verify(&wrong_root, id, &val(id)));
            if !ids.contains(&absent) {
                prop_assert!(!proof.verify(&root, &absent, &val(&absent)));
            }
            if let Some(other) = ids.iter().find(|o| *o != id) {
                prop_assert!(!proof.verify(&root, other, &val(other)));
            }
            let bytes = codec::encode(&proof);
            let back: InclusionProof = codec::decode(&bytes, codec::MAX_MESSAGE_BYTES)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(back.verify(&root, id, &val(id)));
            // The proof binds the value too.
            prop_assert!(!proof.verify(&root, id, &Hash::ZERO));
        }
        if !ids.contains(&absent) {
            prop_assert!(trie.prove(&absent).is_none());
        }
    }

    #[test]
    fn trie_reconciliation_finds_exactly_the_difference(
        common in id_lists(120), only_a in id_lists(20), only_b in id_lists(20)
    ) {
        let mut a = build(&common);
        let mut b = build(&common);
        for id in &only_a { a.insert(*id, val(id)); }
        for id in &only_b { b.insert(*id, val(id)); }
        let sa: BTreeSet<_> = a.ids_under(&Prefix::root(), usize::MAX).into_iter().collect();
        let sb: BTreeSet<_> = b.ids_under(&Prefix::root(), usize::MAX).into_iter().collect();
        let (found_a, found_b, _) = reconcile(&mut a, &mut b, 8);
        prop_assert_eq!(found_a, sa.difference(&sb).copied().collect::<BTreeSet<_>>());
        prop_assert_eq!(found_b, sb.difference(&sa).copied().collect::<BTreeSet<_>>());
    }

    #[test]
    fn trie_prefix_decoding_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..40), s in ".{0,70}") {
        if let Ok(p) = codec::decode::<Prefix>(&bytes, 64) {
            prop_assert!(p.len() <= 64);
            prop_assert_eq!(codec::encode(&p), bytes);
        }
        if let Ok(p) = serde_json::from_value::<Prefix>(serde_json::Value::String(s.clone())) {
            prop_assert_eq!(p.to_string(), s.to_lowercase());
        }
    }
}

#[test]
fn prefixes_encode_in_one_byte_plus_their_packed_nibbles() {
    let id = Hash([0xab; 32]);
    for len in 0..=64 {
        let p = Prefix::of_id(&id, len).unwrap_or_else(|| panic!("prefix of length {len}"));
        let bytes = codec::encode(&p);
        assert_eq!(bytes.len(), 1 + len.div_ceil(2), "length {len}");
        assert_eq!(codec::decode::<Prefix>(&bytes, 64), Ok(p));
    }
    // A nibble past the length, a length over 64, and missing bytes are refused.
    assert!(codec::decode::<Prefix>(&[1, 0xab], 64).is_err());
    assert!(codec::decode::<Prefix>(&[65], 64).is_err());
    assert!(codec::decode::<Prefix>(&[4, 0xab], 64).is_err());
}

/// The sync walk between two nodes, simulated: from the root, compare hashes; descend
/// only where they differ; where either side is a leaf or empty, or both hold at most
/// `small` ids, exchange the ids. Returns the ids only in `a`, only in `b`, and the number
/// of prefixes compared.
fn reconcile(
    a: &mut Trie,
    b: &mut Trie,
    small: usize,
) -> (BTreeSet<EntryId>, BTreeSet<EntryId>, usize) {
    let (mut only_a, mut only_b, mut visited) = (BTreeSet::new(), BTreeSet::new(), 0);
    let mut todo = vec![Prefix::root()];
    while let Some(p) = todo.pop() {
        visited += 1;
        let (na, nb) = (a.node(&p), b.node(&p));
        assert_eq!(na.hash(), a.hash_at(&p));
        if na.hash() == nb.hash() {
            continue;
        }
        let both_big = a.count_under(&p) > small && b.count_under(&p) > small;
        match (&na, &nb) {
            (NodeView::Branch(ca), NodeView::Branch(cb)) if both_big => {
                for n in 0..16u8 {
                    if ca[usize::from(n)] != cb[usize::from(n)] {
                        todo.extend(p.child(n));
                    }
                }
            }
            _ => {
                let ia: BTreeSet<_> = a.ids_under(&p, usize::MAX).into_iter().collect();
                let ib: BTreeSet<_> = b.ids_under(&p, usize::MAX).into_iter().collect();
                only_a.extend(ia.difference(&ib));
                only_b.extend(ib.difference(&ia));
            }
        }
    }
    (only_a, only_b, visited)
}

#[test]
fn trie_reconciliation_cost_grows_with_the_difference_not_the_size() {
    let seed = 0x5eed_7e1e;
    for size in [10_000u64, 100_000] {
        let mut a = Trie::new();
        let mut b = Trie::new();
        for i in 0..size {
            let id = seeded_id(seed, i);
            a.insert(id, val(&id));
            b.insert(id, val(&id));
        }
        let extra_a: BTreeSet<_> = (0..5).map(|i| seeded_id(seed + 1, i)).collect();
        let extra_b: BTreeSet<_> = (0..5).map(|i| seeded_id(seed + 2, i)).collect();
        for id in &extra_a {
            a.insert(*id, val(id));
        }
        for id in &extra_b {
            b.insert(*id, val(id));
        }
        let (only_a, only_b, visited) = reconcile(&mut a, &mut b, 8);
        println!("seed {seed:#x}: size {size}, difference 10, {visited} prefixes compared");
        assert_eq!(only_a, extra_a, "seed {seed:#x}, size {size}");
        assert_eq!(only_b, extra_b, "seed {seed:#x}, size {size}");
        assert!(
            visited <= 10 * 20,
            "seed {seed:#x}, size {size}: {visited} prefixes compared"
        );
        let (none_a, none_b, same) = reconcile(&mut a.clone(), &mut a, 8);
        assert!(
            none_a.is_empty() && none_b.is_empty() && same == 1,
            "seed {seed:#x}"
        );
    }
}

#[test]
fn trie_proofs_fail_when_tampered() {
    let seed = 0x9a0f;
    let mut trie = Trie::new();
    for i in 0..1000 {
        let id = seeded_id(seed, i);
        trie.insert(id, val(&id));
    }
    let root = trie.root();
    let id = seeded_id(seed, 17);
    let Some(proof) = trie.prove(&id) else {
        panic!("seed {seed:#x}: no proof")
    };
    assert!(proof.verify(&root, &id, &val(&id)), "seed {seed:#x}");
    let mut bytes = codec::encode(&proof);
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered: InclusionProof = match codec::decode(&bytes, codec::MAX_MESSAGE_BYTES) {
        Ok(p) => p,
        Err(e) => panic!("seed {seed:#x}: {e}"),
    };
    assert!(!tampered.verify(&root, &id, &val(&id)), "seed {seed:#x}");
    // A proof of a leaf higher up than it really is: drop the deepest level.
    let json = serde_json::to_value(&proof).unwrap_or_default();
    let mut levels = json["siblings"].as_array().cloned().unwrap_or_default();
    levels.pop();
    let short: InclusionProof =
        serde_json::from_value(serde_json::json!({ "siblings": levels })).unwrap_or(proof);
    assert!(!short.verify(&root, &id, &val(&id)), "seed {seed:#x}");
}

/// Throughput of insert + root over 1,000,000 ids in blocks of 1,024, as the ledger does.
/// `cargo test -p registry-core --release --test trie -- --ignored --nocapture trie_throughput`
#[test]
#[ignore = "a measurement, run in release mode"]
fn trie_throughput_one_million_ids_in_blocks() {
    let seed = 0x7e57;
    let ids: Vec<EntryId> = (0..1_000_000).map(|i| seeded_id(seed, i)).collect();
    let mut trie = Trie::new();
    let start = Instant::now();
    let mut root = Hash::ZERO;
    for block in ids.chunks(1024) {
        for id in block {
            trie.insert(*id, val(id));
        }
        root = trie.rehash();
    }
    let elapsed = start.elapsed();
    println!(
        "seed {seed:#x}: {} ids in {:.2?} ({:.0} ids/s), {} bytes of nodes ({:.1} per id)",
        trie.len(),
        elapsed,
        trie.len() as f64 / elapsed.as_secs_f64(),
        trie.heap_bytes(),
        trie.heap_bytes() as f64 / trie.len() as f64,
    );
    let all = sorted(&ids);
    assert_eq!(root, subtree_hash(&pairs(&all), 0), "seed {seed:#x}");
}
