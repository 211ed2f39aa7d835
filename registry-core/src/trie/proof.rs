//! What the trie shows of itself to others: a [`NodeView`] of one subtree, an
//! [`InclusionProof`] of one id, and the hash definitions both are checked against
//! ([`leaf_hash`], the branch hash, and the naive [`subtree_hash`] oracle).

use serde::{Deserialize, Serialize};

use super::MAX_DEPTH;
use crate::codec::{domain, hash_with_domain};
use crate::hash::{EntryId, Hash};

/// What a trie holds at a prefix.
// A view is built to answer one request and sent at once, never stored in bulk, so boxing
// the branch would cost an allocation per answer and save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeView {
    /// No id starts with the prefix.
    Empty,
    /// Exactly one id starts with the prefix: it and its value.
    Leaf(EntryId, Hash),
    /// Two or more ids: the hashes of the 16 subtrees one nibble further down.
    Branch([Hash; 16]),
}

impl NodeView {
    /// The hash of the subtree this view shows, so a peer's answer can be checked against
    /// the hash it was asked about.
    pub fn hash(&self) -> Hash {
        match self {
            NodeView::Empty => Hash::ZERO,
            NodeView::Leaf(id, value) => leaf_hash(id, value),
            NodeView::Branch(children) => branch_hash(children),
        }
    }
}

/// A proof that an id is in the set under a root: for each branch on the path from the
/// root down to the id's leaf, the hashes of its 15 other children, in nibble order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    pub(super) siblings: Vec<[Hash; 15]>,
}

impl InclusionProof {
    /// Number of branches between the root and the leaf.
    pub fn depth(&self) -> usize {
        self.siblings.len()
    }

    /// True if this proof shows `id`, with `value`, under `root`.
    pub fn verify(&self, root: &Hash, id: &EntryId, value: &Hash) -> bool {
        // A proof comes from a peer: a path longer than an id cannot be walked.
        if self.siblings.len() > MAX_DEPTH {
            return false;
        }
        // The deepest branch holds another id besides this one, or the leaf would sit in
        // its place: rejecting that keeps one proof per (root, id).
        if let Some(last) = self.siblings.last() {
            if last.iter().all(|h| *h == Hash::ZERO) {
                return false;
            }
        }
        let mut h = leaf_hash(id, value);
        for (depth, siblings) in self.siblings.iter().enumerate().rev() {
            let on_path = usize::from(id.nibble(depth));
            let mut children = [Hash::ZERO; 16];
            let (before, after) = siblings.split_at(on_path);
            children[..on_path].copy_from_slice(before);
            children[on_path] = h;
            children[on_path + 1..].copy_from_slice(after);
            h = branch_hash(&children);
        }
        h == *root
    }
}

/// The leaf hash of one id and its value.
pub fn leaf_hash(id: &EntryId, value: &Hash) -> Hash {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(id.as_bytes());
    buf[32..].copy_from_slice(value.as_bytes());
    hash_with_domain(domain::TRIE_LEAF, &buf)
}

/// The hash of a branch from its 16 child hashes.
pub(super) fn branch_hash(children: &[Hash; 16]) -> Hash {
    let mut buf = [0u8; 16 * 32];
    for (chunk, h) in buf.chunks_exact_mut(32).zip(children) {
        chunk.copy_from_slice(h.as_bytes());
    }
    hash_with_domain(domain::TRIE_BRANCH, &buf)
}

/// Hash of the subtree over `ids` with their values (sorted by id, all sharing their first
/// `depth` nibbles).
pub fn subtree_hash(ids: &[(EntryId, Hash)], depth: usize) -> Hash {
    match ids {
        [] => Hash::ZERO,
        [(id, value)] => leaf_hash(id, value),
        _ => {
            let mut buf = [0u8; 16 * 32];
            let mut start = 0;
            for nib in 0..16u8 {
                let end = start
                    + ids[start..]
                        .iter()
                        .take_while(|(id, _)| id.nibble(depth) == nib)
                        .count();
                let h = subtree_hash(&ids[start..end], depth + 1);
                buf[usize::from(nib) * 32..usize::from(nib) * 32 + 32]
                    .copy_from_slice(h.as_bytes());
                start = end;
            }
            hash_with_domain(domain::TRIE_BRANCH, &buf)
        }
    }
}
