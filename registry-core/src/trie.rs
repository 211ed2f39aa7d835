//! The state root: a Merkle radix-16 trie over the ids of accepted entries.
//!
//! The hash of the subtree holding the set `S` of ids whose first `d` nibbles are fixed:
//! - `S` empty: `Hash::ZERO`;
//! - `S = {id}`: `blake3(domain "trust-registry/trie-leaf/v1" || id)`;
//! - otherwise: `blake3(domain "trust-registry/trie-branch/v1" || h0 || ... || h15)`, where
//!   `hi` is the hash of the ids in `S` whose nibble `d` is `i`.
//!
//! The root is a function of the set alone, whatever the order of insertion.

use std::collections::BTreeSet;

use crate::codec::{domain, hash_with_domain};
use crate::hash::{EntryId, Hash};

/// The set of accepted ids and its Merkle root.
#[derive(Debug, Default, Clone)]
pub struct Trie {
    ids: BTreeSet<EntryId>,
}

impl Trie {
    pub fn new() -> Trie {
        Trie::default()
    }

    /// Adds an id; false if it was already present.
    pub fn insert(&mut self, id: EntryId) -> bool {
        self.ids.insert(id)
    }

    pub fn contains(&self, id: &EntryId) -> bool {
        self.ids.contains(id)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn root(&mut self) -> Hash {
        let all: Vec<EntryId> = self.ids.iter().copied().collect();
        subtree_hash(&all, 0)
    }
}

/// The leaf hash of one id.
pub fn leaf_hash(id: &EntryId) -> Hash {
    hash_with_domain(domain::TRIE_LEAF, id.as_bytes())
}

/// Hash of the subtree over `ids` (sorted, all sharing their first `depth` nibbles).
pub fn subtree_hash(ids: &[EntryId], depth: usize) -> Hash {
    match ids {
        [] => Hash::ZERO,
        [one] => leaf_hash(one),
        _ => {
            let mut buf = [0u8; 16 * 32];
            let mut start = 0;
            for nib in 0..16u8 {
                let end = start
                    + ids[start..]
                        .iter()
                        .take_while(|id| id.nibble(depth) == nib)
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
