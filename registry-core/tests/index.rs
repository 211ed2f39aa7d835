//! The index against the naive definition of its root, and its proofs against forgery.
//!
//! Random tests are proptests (which report the failing case and persist its seed) or use
//! a fixed seed that every assertion message prints. Test names start with `index_` so
//! that `cargo test -p registry-core index` selects them.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

use std::collections::BTreeMap;
use std::time::Instant;

use proptest::prelude::*;
use registry_core::codec::{self, domain, hash_with_domain};
use registry_core::entry::Kind;
use registry_core::index::{
    value_hash, Index, IndexKey, IndexPath, IndexProof, IndexProofError, Terminal, MAX_PROOF_BYTES,
};
use registry_core::rng::SplitMix64 as Rng;
use registry_core::{EntryId, Hash};
use serde::Serialize;

/// Bit `i` of a path, most significant first.
fn bit(path: &IndexPath, i: usize) -> bool {
    path[i / 8] & (0x80 >> (i % 8)) != 0
}

/// The root by the definition, over pairs sorted by path that share their first `depth`
/// bits. Written from the definition with the domain constants, independently of the
/// index's own hash helpers.
fn oracle(pairs: &[(IndexPath, Hash)], depth: usize) -> Hash {
    match pairs {
        [] => Hash::ZERO,
        [(path, value)] => {
            hash_with_domain(domain::INDEX_LEAF, &[&path[..], &value.0[..]].concat())
        }
        _ => {
            let split = pairs.partition_point(|(p, _)| !bit(p, depth));
            let left = oracle(&pairs[..split], depth + 1);
            let right = oracle(&pairs[split..], depth + 1);
            hash_with_domain(domain::INDEX_BRANCH, &[left.0, right.0].concat())
        }
    }
}

fn oracle_root(map: &BTreeMap<IndexPath, Hash>) -> Hash {
    let pairs: Vec<(IndexPath, Hash)> = map.iter().map(|(p, v)| (*p, *v)).collect();
    oracle(&pairs, 0)
}

/// Path sets with clusters: paths flagged `share` take their first `k` bits from one base
/// path, so long shared prefixes (up to all 256 bits: duplicates) are common.
fn path_lists(max: usize) -> impl Strategy<Value = Vec<IndexPath>> {
    (
        0usize..=256,
        any::<[u8; 32]>(),
        prop::collection::vec((any::<[u8; 32]>(), any::<bool>()), 0..max),
    )
        .prop_map(|(k, base, raw)| {
            raw.into_iter()
                .map(|(mut bytes, share)| {
                    if share {
                        bytes[..k / 8].copy_from_slice(&base[..k / 8]);
                        if k % 8 != 0 {
                            let mask = 0xffu8 << (8 - k % 8);
                            bytes[k / 8] = (base[k / 8] & mask) | (bytes[k / 8] & !mask);
                        }
                    }
                    bytes
                })
                .collect()
        })
}

/// The value hash each test path carries in version `version`.
fn val(path: &IndexPath, version: u8) -> Hash {
    hash_with_domain("test/index-values", &[&path[..], &[version]].concat())
}

fn build(paths: &[IndexPath]) -> (Index, BTreeMap<IndexPath, Hash>) {
    let mut ix = Index::new();
    let mut map = BTreeMap::new();
    for p in paths {
        ix.set_path(*p, val(p, 0));
        map.insert(*p, val(p, 0));
    }
    (ix, map)
}

/// A deterministic permutation of `items` for `seed`.
fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut out = items.to_vec();
    Rng::new(seed).shuffle(&mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn index_root_is_the_definition_in_any_order(paths in path_lists(80), seed: u64) {
        let (mut a, map) = build(&paths);
        let expected = oracle_root(&map);
        prop_assert_eq!(a.len(), map.len());
        prop_assert_eq!(a.root(), expected);
        prop_assert_eq!(a.rehash(), expected);
        prop_assert!(a.is_current());
        let (mut b, _) = build(&shuffled(&paths, seed));
        prop_assert_eq!(b.root(), expected);
        prop_assert_eq!(b.rehash(), expected);
        for (p, v) in &map {
            prop_assert_eq!(a.get(p), Some(*v));
        }
    }

    #[test]
    fn index_incremental_rehash_matches_the_definition(
        paths in path_lists(60),
        ops in prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, any::<bool>()), 0..60),
    ) {
        // Random updates of present keys, interleaved with rehashes: after each step the
        // root, whether read while stale or after a rehash, is the definition's.
        let (mut ix, mut map) = build(&paths[..paths.len() / 2]);
        for (pick, version, rehash) in ops {
            if paths.is_empty() {
                break;
            }
            let p = *pick.get(&paths);
            let before = ix.root();
            let changed = ix.set_path(p, val(&p, version));
            let old = map.insert(p, val(&p, version));
            prop_assert_eq!(changed, old != Some(val(&p, version)));
            let expected = oracle_root(&map);
            prop_assert_eq!(changed, expected != before);
            prop_assert_eq!(ix.root(), expected);
            if rehash {
                prop_assert_eq!(ix.rehash(), expected);
                prop_assert!(ix.is_current());
            }
        }
        prop_assert_eq!(ix.rehash(), oracle_root(&map));
    }

    #[test]
    fn index_proofs_show_exactly_what_is_there(
        paths in path_lists(60),
        random in path_lists(20),
        flips in prop::collection::vec(0usize..256, 0..8),
    ) {
        let (mut ix, map) = build(&paths);
        // Absent paths near present ones too: a present path with one bit flipped leaves
        // the tree inside a skipped level, beside a leaf or at another key's leaf.
        let mut probes = random;
        for (p, i) in paths.iter().zip(&flips) {
            let mut q = *p;
            q[i / 8] ^= 0x80 >> (i % 8);
            probes.push(q);
        }
        let root = ix.rehash();
        for (p, v) in &map {
            let proof = round_trip(&ix.prove_path(p));
            prop_assert_eq!(proof.verify_path(&root, p, Some(v)), Ok(()));
            prop_assert_eq!(proof.proven_value(), Some(v));
            let other = val(p, 9);
            prop_assert_eq!(
                proof.verify_path(&root, p, Some(&other)),
                Err(IndexProofError::ValueMismatch { claimed: other, proven: *v })
            );
            prop_assert_eq!(
                proof.verify_path(&root, p, None),
                Err(IndexProofError::ShowsPresent { proven: *v })
            );
        }
        for p in probes.iter().filter(|p| !map.contains_key(*p)) {
            let proof = round_trip(&ix.prove_path(p));
            prop_assert_eq!(proof.verify_path(&root, p, None), Ok(()));
            prop_assert_eq!(
                proof.verify_path(&root, p, Some(&val(p, 0))),
                Err(IndexProofError::ShowsAbsent)
            );
            // Nor does an absence proof of one path serve for another key.
            if let Some((q, v)) = map.iter().next() {
                prop_assert!(proof.verify_path(&root, q, Some(v)).is_err());
            }
        }
    }
}

/// Encodes and decodes a proof, checking it comes back the same and within the limit.
fn round_trip(proof: &IndexProof) -> IndexProof {
    let bytes = proof.encode();
    assert_eq!(bytes.len(), proof.encoded_len());
    assert!(bytes.len() <= MAX_PROOF_BYTES);
    let back = IndexProof::decode(&bytes).unwrap();
    assert_eq!(&back, proof);
    back
}

/// Subject keys for entities `0..n`, alternating kinds.
fn subject_keys(n: usize) -> Vec<IndexKey> {
    (0..n)
        .map(|i| {
            let kind = if i % 2 == 0 {
                Kind::Authorization
            } else {
                Kind::Recognition
            };
            IndexKey::subject(kind, &format!("did:web:issuer-{i}.example"))
        })
        .collect()
}

fn entry_id(i: u64) -> EntryId {
    hash_with_domain("test/index-ids", &i.to_le_bytes())
}

/// An index shaped like a registry's: one governance key, a few revocation lists and
/// many subjects, each with the value hash of a short sorted id list.
fn registry_like(subjects: usize, revoked: u64) -> (Index, Vec<(IndexKey, Hash)>) {
    let mut keys = vec![(IndexKey::governance(), value_of(&[entry_id(0)]))];
    for i in 0..revoked {
        keys.push((
            IndexKey::revocations(&entry_id(i)),
            value_of(&[entry_id(i + 1)]),
        ));
    }
    for (i, k) in subject_keys(subjects).into_iter().enumerate() {
        let mut ids = [entry_id(i as u64), entry_id(i as u64 + 7)];
        ids.sort();
        keys.push((k, value_of(&ids)));
    }
    let mut ix = Index::new();
    for (k, v) in &keys {
        assert!(ix.set(k, *v));
    }
    (ix, keys)
}

#[test]
fn index_keys_prove_present_and_absent_by_namespace() {
    let (mut ix, keys) = registry_like(2_000, 20);
    let root = ix.rehash();
    for (k, v) in &keys {
        let proof = round_trip(&ix.prove(k));
        assert_eq!(proof.verify(&root, k, Some(v)), Ok(()), "{k}");
        assert_eq!(ix.get(&k.path()), Some(*v), "{k}");
    }
    // The namespaces sit in separate subtrees: the lone governance key is proven by the
    // two subtrees beside its tag (subjects, revocations) and nothing else.
    let gov = ix.prove(&IndexKey::governance());
    assert_eq!(gov.siblings().len(), 2);
    assert_eq!(gov.depth(), 8);
    let absent = [
        IndexKey::subject(Kind::Authorization, "did:web:nobody.example"),
        IndexKey::subject(Kind::Recognition, "did:web:issuer-0.example"),
        IndexKey::revocations(&entry_id(1_000)),
    ];
    for k in &absent {
        let proof = round_trip(&ix.prove(k));
        assert_eq!(proof.verify(&root, k, None), Ok(()), "{k}");
        assert!(proof.verify(&root, k, Some(&value_of(&[]))).is_err());
    }
    // An empty index proves every key absent, with nothing to send.
    let empty = Index::new().prove(&absent[0]);
    assert_eq!(empty.verify(&Hash::ZERO, &absent[0], None), Ok(()));
    assert_eq!(empty.depth(), 0);
}

#[test]
fn index_proofs_against_a_stale_root_fail_after_an_update() {
    let (mut ix, keys) = registry_like(500, 5);
    let old_root = ix.rehash();
    for (i, (k, v)) in keys.iter().enumerate().step_by(37) {
        let old_proof = ix.prove(k);
        let new_value = value_of(&[entry_id(10_000 + i as u64)]);
        assert!(ix.set(k, new_value));
        assert!(!ix.set(k, new_value));
        let new_root = ix.rehash();
        assert_ne!(new_root, old_root);
        let new_proof = ix.prove(k);
        assert_eq!(new_proof.verify(&new_root, k, Some(&new_value)), Ok(()));
        assert!(matches!(
            new_proof.verify(&old_root, k, Some(&new_value)),
            Err(IndexProofError::RootMismatch { .. })
        ));
        assert!(matches!(
            old_proof.verify(&new_root, k, Some(v)),
            Err(IndexProofError::RootMismatch { .. })
        ));
        ix.set(k, *v);
        assert_eq!(ix.rehash(), old_root);
    }
}

#[test]
fn index_root_while_stale_equals_rehash() {
    let (mut ix, _) = registry_like(300, 3);
    let mut last = ix.rehash();
    for i in 0..200u64 {
        let k = IndexKey::revocations(&entry_id(50_000 + i));
        ix.set(&k, value_of(&[entry_id(i)]));
        assert!(!ix.is_current());
        let stale = ix.root();
        assert_ne!(stale, last, "a new key changes the root (step {i})");
        if i % 3 == 0 {
            assert_eq!(ix.rehash(), stale, "step {i}");
            assert!(ix.is_current());
        }
        last = stale;
    }
}

/// The three proofs of one index to attack: a present key, an absent key whose path
/// ends in an empty subtree, and an absent key whose path ends at another key's leaf.
fn three_proofs() -> (Hash, Vec<(IndexPath, Option<Hash>, IndexProof)>) {
    let mut rng = Rng::new(0x1dec5);
    let paths: Vec<IndexPath> = (0..300).map(|_| random_path(&mut rng)).collect();
    let (mut ix, map) = build(&paths);
    let root = ix.rehash();
    let mut out = vec![(
        paths[7],
        map.get(&paths[7]).copied(),
        ix.prove_path(&paths[7]),
    )];
    let mut found = [false; 2];
    while found != [true; 2] {
        let p = random_path(&mut rng);
        let proof = ix.prove_path(&p);
        let slot = usize::from(matches!(proof.terminal(), Terminal::Leaf { .. }));
        if !found[slot] {
            found[slot] = true;
            out.push((p, None, proof));
        }
    }
    (root, out)
}

fn random_path(rng: &mut Rng) -> IndexPath {
    let mut out = [0u8; 32];
    for chunk in out.chunks_exact_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    out
}

#[test]
fn index_every_byte_flip_and_truncation_of_a_proof_fails() {
    let (root, proofs) = three_proofs();
    for (path, claim, proof) in &proofs {
        assert_eq!(proof.verify_path(&root, path, claim.as_ref()), Ok(()));
        let bytes = proof.encode();
        for i in 0..bytes.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bad = bytes.clone();
                bad[i] ^= mask;
                if let Ok(p) = IndexProof::decode(&bad) {
                    assert!(
                        p.verify_path(&root, path, claim.as_ref()).is_err(),
                        "flip {mask:#x} at byte {i} of {:?} still verifies",
                        proof.terminal()
                    );
                }
            }
        }
        for len in 0..bytes.len() {
            assert!(
                IndexProof::decode(&bytes[..len]).is_err(),
                "prefix of {len} bytes"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(IndexProof::decode(&longer).is_err());
    }
}

/// A proof's wire shape, to forge proofs that `prove` never builds.
#[derive(Serialize)]
struct Forged {
    depth: u16,
    bitmap: Vec<u8>,
    siblings: Vec<Hash>,
    terminal: Terminal,
}

fn forged_error(f: &Forged) -> codec::DecodeError {
    IndexProof::decode(&codec::encode(f)).unwrap_err()
}

#[test]
fn index_malformed_and_non_minimal_proofs_are_refused() {
    let s = Hash([5; 32]);
    // 257 siblings, or a walk of 257 levels, are more than a path has.
    let too_many = Forged {
        depth: 256,
        bitmap: vec![0xff; 32],
        siblings: vec![s; 257],
        terminal: Terminal::Empty,
    };
    assert!(codec::encode(&too_many).len() <= MAX_PROOF_BYTES + 64);
    assert!(matches!(
        forged_error(&too_many),
        codec::DecodeError::Invalid(_)
    ));
    let too_deep = Forged {
        depth: 257,
        bitmap: vec![0xff; 33],
        siblings: vec![s; 256],
        terminal: Terminal::Empty,
    };
    assert!(IndexProof::decode(&codec::encode(&too_deep)).is_err());
    let too_deep = Forged {
        bitmap: vec![0xff; 32],
        ..too_deep
    };
    assert!(forged_error(&too_deep)
        .to_string()
        .contains("more than the 256 bits"));
    // The bitmap must match the depth and the siblings sent.
    let cases = [
        (3, vec![0xe0, 0], 3, "needs 1"),
        (3, vec![0xf0], 4, "at or below"),
        (3, vec![0xe0], 2, "marks 3"),
        (0, vec![], 1, "marks 0"),
    ];
    for (depth, bitmap, n, says) in cases {
        let f = Forged {
            depth,
            bitmap,
            siblings: vec![s; n],
            terminal: Terminal::Empty,
        };
        let e = forged_error(&f).to_string();
        assert!(e.contains(says), "{e}");
    }
    // An empty sibling is left out, never sent.
    let f = Forged {
        depth: 2,
        bitmap: vec![0xc0],
        siblings: vec![s, Hash::ZERO],
        terminal: Terminal::Empty,
    };
    assert!(forged_error(&f).to_string().contains("level 1"));
    // A terminal beside an empty subtree would sit one level higher.
    for terminal in [Terminal::Empty, Terminal::Present(s)] {
        let f = Forged {
            depth: 2,
            bitmap: vec![0x80],
            siblings: vec![s],
            terminal,
        };
        assert!(forged_error(&f).to_string().contains("not minimal"));
    }
    let f = Forged {
        depth: 256,
        bitmap: vec![0xff; 32],
        siblings: vec![s; 256],
        terminal: Terminal::Empty,
    };
    assert!(forged_error(&f).to_string().contains("not minimal"));
}

#[test]
fn index_terminal_leaves_must_lie_on_the_path() {
    let mut ix = Index::new();
    let a = [0x00; 32];
    let mut b = [0x00; 32];
    b[0] = 0x80;
    let mut c = b;
    c[0] = 0xc0;
    ix.set_path(a, val(&a, 0));
    ix.set_path(b, val(&b, 0));
    ix.set_path(c, val(&c, 0));
    let root = ix.rehash();
    // Path 0x40.. is absent: its walk ends at depth 1 at `a`'s leaf.
    let mut absent = [0u8; 32];
    absent[0] = 0x40;
    let proof = ix.prove_path(&absent);
    assert_eq!(proof.depth(), 1);
    assert!(matches!(proof.terminal(), Terminal::Leaf { path, .. } if *path == a));
    assert_eq!(proof.verify_path(&root, &absent, None), Ok(()));
    // The same proof for `a` itself: it ends at the key's own leaf.
    assert_eq!(
        proof.verify_path(&root, &a, None),
        Err(IndexProofError::TerminalIsKey)
    );
    // `b`'s leaf shown as the terminal of `a`'s side, where it cannot be.
    let bc = hash_with_domain(
        domain::INDEX_BRANCH,
        &[
            hash_with_domain(domain::INDEX_LEAF, &[&b[..], &val(&b, 0).0[..]].concat()).0,
            hash_with_domain(domain::INDEX_LEAF, &[&c[..], &val(&c, 0).0[..]].concat()).0,
        ]
        .concat(),
    );
    let off = Forged {
        depth: 1,
        bitmap: vec![0x80],
        siblings: vec![bc],
        terminal: Terminal::Leaf {
            path: b,
            value: val(&b, 0),
        },
    };
    let off = IndexProof::decode(&codec::encode(&off)).unwrap();
    assert_eq!(
        off.verify_path(&root, &absent, None),
        Err(IndexProofError::TerminalOffPath { depth: 1, fork: 0 })
    );
    // Hiding `a`: the left half shown empty.
    let hidden = Forged {
        depth: 1,
        bitmap: vec![0x80],
        siblings: vec![bc],
        terminal: Terminal::Empty,
    };
    let hidden = IndexProof::decode(&codec::encode(&hidden)).unwrap();
    assert!(matches!(
        hidden.verify_path(&root, &absent, None),
        Err(IndexProofError::RootMismatch { .. })
    ));
    // An empty terminal beside a subtree of one key (`a`'s leaf) is the shape the verifier
    // cannot refuse from hashes alone (the honest walk stops one level higher, at that
    // leaf); it recomputes a branch where the tree has a leaf, so it never matches.
    let leaf_a = hash_with_domain(domain::INDEX_LEAF, &[&a[..], &val(&a, 0).0[..]].concat());
    let deeper = Forged {
        depth: 2,
        bitmap: vec![0xc0],
        siblings: vec![bc, leaf_a],
        terminal: Terminal::Empty,
    };
    let deeper = IndexProof::decode(&codec::encode(&deeper)).unwrap();
    assert!(matches!(
        deeper.verify_path(&root, &absent, None),
        Err(IndexProofError::RootMismatch { .. })
    ));
}

#[test]
fn index_keys_decode_within_bounds() {
    let k = IndexKey::subject(Kind::Recognition, "did:web:a.example");
    let bytes = codec::encode(&k);
    assert_eq!(codec::decode::<IndexKey>(&bytes, 1024), Ok(k));
    let long = IndexKey::subject(Kind::Authorization, &"x".repeat(513));
    let e = codec::decode::<IndexKey>(&codec::encode(&long), 4096).unwrap_err();
    assert!(e.to_string().contains("longer than the limit"), "{e}");
    let json = serde_json::to_string(&IndexKey::revocations(&entry_id(1))).unwrap();
    assert_eq!(
        serde_json::from_str::<IndexKey>(&json).unwrap(),
        IndexKey::revocations(&entry_id(1))
    );
}

/// Proof sizes and memory at registry sizes, printed for the benchmark notes:
/// `cargo test -p registry-core --release --test index -- --ignored --nocapture`.
#[test]
#[ignore = "builds a million keys; run by hand for the figures"]
fn index_sizes_at_100k_and_1m_subjects() {
    for n in [100_000usize, 1_000_000] {
        let start = Instant::now();
        let (mut ix, keys) = registry_like(n, 1_000);
        let root = ix.rehash();
        let built = start.elapsed();
        let mut total = 0usize;
        let mut longest = 0usize;
        let mut full = 0usize;
        let probes: Vec<&(IndexKey, Hash)> = keys.iter().skip(1_001).step_by(n / 1_000).collect();
        let start = Instant::now();
        for (k, v) in &probes {
            let proof = ix.prove(k);
            assert_eq!(proof.verify(&root, k, Some(v)), Ok(()));
            total += proof.encoded_len();
            longest = longest.max(proof.encoded_len());
            full = proof.full_len();
        }
        let per_proof = start.elapsed() / probes.len() as u32;
        let gov = ix.prove(&IndexKey::governance()).encoded_len();
        let rev = ix.prove(&keys[500].0).encoded_len();
        let absent = ix
            .prove(&IndexKey::subject(
                Kind::Authorization,
                "did:web:absent.example",
            ))
            .encoded_len();
        println!(
            "{n} subjects (+1,001 other keys): built and hashed in {built:?}, {:.1} heap bytes/key; \
             subject proof {} bytes mean, {longest} max (uncompressed {full}), absent subject \
             {absent}, revocations {rev}, governance {gov}; prove+verify {per_proof:?}",
            ix.heap_bytes() as f64 / ix.len() as f64,
            total / probes.len(),
        );
    }
}

/// The value hash of a list of ids (with a zero signature digest each: the index does not
/// look inside values).
fn value_of(ids: &[registry_core::EntryId]) -> registry_core::Hash {
    let pairs: Vec<_> = ids
        .iter()
        .map(|id| (*id, registry_core::Hash::ZERO))
        .collect();
    value_hash(&pairs)
}
