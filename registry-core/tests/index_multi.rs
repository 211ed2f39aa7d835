//! Proofs about several index keys at once (`index::MultiProof`): they verify exactly the
//! claims the index supports, in every mix of present and absent keys, and every altered
//! byte or claim is refused.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use registry_core::codec::{self, hash_with_domain};
use registry_core::entry::Kind;
use registry_core::index::{value_hash, Claim, Index, IndexKey, MultiProof};
use registry_core::Hash;

fn value(i: u64) -> Hash {
    value_hash(&[(hash_with_domain("test/multi", &i.to_le_bytes()), Hash::ZERO)])
}

fn key(i: u64) -> IndexKey {
    match i % 5 {
        0 => IndexKey::revocations(&hash_with_domain("test/multi-target", &i.to_le_bytes())),
        1 if i < 5 => IndexKey::governance(),
        2 => IndexKey::subject(Kind::Recognition, &format!("did:web:m{i}.example")),
        _ => IndexKey::subject(Kind::Authorization, &format!("did:web:m{i}.example")),
    }
}

/// An index of keys `0..n`, each with `value(i)`.
fn index(n: u64) -> Index {
    let mut ix = Index::new();
    for i in 0..n {
        ix.set(&key(i), value(i));
    }
    ix.rehash();
    ix
}

/// The true claims about `asked` (present keys are those below `n`).
fn claims(paths: &[[u8; 32]], asked: &[u64], n: u64) -> Vec<Claim> {
    paths
        .iter()
        .map(|p| {
            let i = asked
                .iter()
                .copied()
                .find(|i| key(*i).path() == *p)
                .unwrap();
            (*p, (i < n).then(|| value(i)))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn true_claims_verify_and_false_ones_do_not(
        n in 0u64..400,
        asked in proptest::collection::vec(0u64..600, 1..8),
    ) {
        let ix = index(n);
        let root = ix.root();
        let keys: Vec<IndexKey> = asked.iter().map(|i| key(*i)).collect();
        let (paths, proof) = ix.prove_many(&keys);
        let truth = claims(&paths, &asked, n);
        prop_assert_eq!(proof.verify(&root, &truth), Ok(()));
        let decoded: MultiProof = codec::decode(&codec::encode(&proof), 1 << 20).unwrap();
        prop_assert_eq!(&decoded, &proof);
        // Each claim turned around (present ↔ absent, or another value) is refused.
        for i in 0..truth.len() {
            let mut lie = truth.clone();
            lie[i].1 = match lie[i].1 {
                Some(_) => None,
                None => Some(value(9999)),
            };
            prop_assert!(proof.verify(&root, &lie).is_err());
            if truth[i].1.is_some() {
                lie[i].1 = Some(value(9999));
                prop_assert!(proof.verify(&root, &lie).is_err());
            }
        }
        // The proof against another root is refused.
        let mut other = ix.clone();
        other.set(&key(7777), value(7777));
        prop_assert!(proof.verify(&other.rehash(), &truth).is_err());
    }
}

#[test]
fn every_byte_flipped_is_refused() {
    let ix = index(300);
    let root = ix.root();
    let asked = [0u64, 1, 3, 250, 301, 402, 555];
    let keys: Vec<IndexKey> = asked.iter().map(|i| key(*i)).collect();
    let (paths, proof) = ix.prove_many(&keys);
    let truth = claims(&paths, &asked, 300);
    assert_eq!(proof.verify(&root, &truth), Ok(()));
    let bytes = codec::encode(&proof);
    let mut decoded = 0;
    for i in 0..bytes.len() {
        for mask in [0x01u8, 0x10, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= mask;
            if let Ok(p) = codec::decode::<MultiProof>(&b, 1 << 20) {
                decoded += 1;
                assert!(p.verify(&root, &truth).is_err(), "byte {i} ^ {mask:#x}");
            }
        }
    }
    assert!(decoded > 0);
    for len in 0..bytes.len() {
        let ok = codec::decode::<MultiProof>(&bytes[..len], 1 << 20)
            .is_ok_and(|p| p.verify(&root, &truth).is_ok());
        assert!(!ok, "truncated to {len}");
    }
}

#[test]
fn shared_paths_make_it_smaller_than_single_proofs() {
    let ix = index(10_000);
    let keys: Vec<IndexKey> = [0u64, 1, 5, 10, 12].iter().map(|i| key(*i)).collect();
    let (_, multi) = ix.prove_many(&keys);
    let singles: usize = keys.iter().map(|k| ix.prove(k).encoded_len()).sum();
    assert!(
        multi.encoded_len() < singles,
        "{} >= {singles}",
        multi.encoded_len()
    );
}
