//! Unit tests of the index's arena: small trees checked against the hash definition, and
//! which branches store their hash.

use super::*;
use crate::codec::{domain, hash_with_domain};

/// A path that starts with `bytes` and is zero after them.
fn path(bytes: &[u8]) -> IndexPath {
    let mut out = [0u8; 32];
    out[..bytes.len()].copy_from_slice(bytes);
    out
}

fn v(n: u8) -> Hash {
    Hash([n; 32])
}

#[test]
fn branches_are_small() {
    assert_eq!(std::mem::size_of::<Branch>(), 16);
}

#[test]
fn empty_single_and_pair_match_the_definition() {
    let mut ix = Index::new();
    assert_eq!(ix.root(), Hash::ZERO);
    assert!(ix.is_current());
    let (a, b) = (path(&[0b0100_0000]), path(&[0b0110_0000]));
    assert!(ix.set_path(a, v(1)));
    assert!(!ix.is_current());
    assert_eq!(ix.root(), leaf_hash(&a, &v(1)));
    assert_eq!(ix.rehash(), leaf_hash(&a, &v(1)));
    assert!(ix.set_path(b, v(2)));
    assert!(!ix.set_path(b, v(2)));
    // Bits 0 and 1 are shared (two one-sided levels), bit 2 splits.
    let split = branch_hash(&leaf_hash(&a, &v(1)), &leaf_hash(&b, &v(2)));
    let expected = branch_hash(&branch_hash(&Hash::ZERO, &split), &Hash::ZERO);
    assert_eq!(ix.root(), expected);
    assert_eq!(ix.rehash(), expected);
    assert_eq!(ix.get(&a), Some(v(1)));
    assert_eq!(ix.get(&path(&[0b0101_0000])), None);
    assert_eq!(ix.len(), 2);
    // The hash functions are the documented ones.
    let mut buf = a.to_vec();
    buf.extend_from_slice(&[1; 32]);
    assert_eq!(
        leaf_hash(&a, &v(1)),
        hash_with_domain(domain::INDEX_LEAF, &buf)
    );
    let both = [[7u8; 32], [9u8; 32]].concat();
    assert_eq!(
        branch_hash(&Hash([7; 32]), &Hash([9; 32])),
        hash_with_domain(domain::INDEX_BRANCH, &both)
    );
}

#[test]
fn paths_differing_only_in_the_last_bit() {
    let mut ix = Index::new();
    let a = [0xff; 32];
    let mut b = a;
    b[31] = 0xfe;
    ix.set_path(a, v(1));
    ix.set_path(b, v(2));
    let mut h = branch_hash(&leaf_hash(&b, &v(2)), &leaf_hash(&a, &v(1)));
    for _ in 0..255 {
        h = branch_hash(&Hash::ZERO, &h);
    }
    assert_eq!(ix.root(), h);
    assert_eq!(ix.rehash(), h);
    let proof = ix.prove_path(&a);
    assert_eq!(proof.depth(), 256);
    assert_eq!(proof.siblings().len(), 1);
    assert_eq!(proof.verify_path(&h, &a, Some(&v(1))), Ok(()));
}

#[test]
fn a_branch_stores_its_hash_once_both_children_are_branches() {
    let mut ix = Index::new();
    // Root splits on bit 0; then each half splits on bit 1.
    ix.set_path(path(&[0x00]), v(1));
    ix.set_path(path(&[0x80]), v(2));
    assert_eq!(ix.hashes.len(), 0);
    ix.set_path(path(&[0x40]), v(3));
    assert_eq!(ix.hashes.len(), 0, "the root still has a leaf child");
    ix.set_path(path(&[0xc0]), v(4));
    assert_eq!(
        ix.hashes.len(),
        1,
        "now both of the root's children are branches"
    );
    let root = ix.rehash();
    let Node::Branch(r) = ix.root.get() else {
        panic!("four keys make a branch")
    };
    assert_eq!(ix.stored(r).map(|h| ix.lift_branch(h, r, 0)), Some(root));
    // Updating a value stales the stored hash; rehash restores it.
    ix.set_path(path(&[0x40]), v(9));
    assert_eq!(ix.stored(r), None);
    let updated = ix.rehash();
    assert_ne!(updated, root);
    assert_eq!(ix.stored(r), Some(updated));
}

#[test]
fn a_key_above_the_root_makes_a_new_root() {
    let mut ix = Index::new();
    ix.set_path(path(&[0x00, 0x00]), v(1));
    ix.set_path(path(&[0x00, 0x01]), v(2));
    ix.set_path(path(&[0x00, 0x02]), v(3));
    ix.set_path(path(&[0x00, 0x03]), v(4));
    let before = ix.rehash();
    // Splits at bit 0, above the old root (which splits at bit 14).
    ix.set_path(path(&[0x80]), v(5));
    let Node::Branch(r) = ix.root.get() else {
        panic!("five keys make a branch")
    };
    assert_eq!(ix.branches[r].bit, 0);
    let Node::Branch(o) = ix.branches[r].children[0].get() else {
        panic!("the old root is a branch")
    };
    // The old keys' subtree, seen from depth 1, is what the root was with one
    // one-sided level fewer.
    let old_at_1 = ix.lift_branch(ix.node_hash(o), o, 1);
    assert_eq!(branch_hash(&old_at_1, &Hash::ZERO), before);
    let expected = branch_hash(&old_at_1, &leaf_hash(&path(&[0x80]), &v(5)));
    assert_eq!(ix.root(), expected);
    assert_eq!(ix.rehash(), expected);
}
