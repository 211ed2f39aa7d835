//! The state root: a Merkle radix-16 trie over the accepted entries, keyed by id. Each
//! key carries a 32-byte value: for the registry, the digest of the entry's signature set,
//! so two nodes holding the same entries with different signatures have different roots.
//!
//! The hash of the subtree holding the set `S` of (id, value) pairs whose ids' first `d`
//! nibbles are fixed:
//! - `S` empty: `Hash::ZERO`;
//! - `S = {(id, value)}`: `blake3(domain "trust-registry/trie-leaf/v2" || id || value)`;
//! - otherwise: `blake3(domain "trust-registry/trie-branch/v1" || h0 || ... || h15)`, where
//!   `hi` is the hash of the pairs in `S` whose id's nibble `d` is `i`.
//!
//! The root is a function of the pairs alone, whatever the order of insertion and updates.
//!
//! [`subtree_hash`] computes that definition naively and is the oracle; [`Trie`] computes
//! the same hashes incrementally. A [`Trie`] keeps its nodes in arenas (ids with their
//! leaf hashes, and branches of 16 packed child references), so a million random ids take
//! about 120 bytes each. Inserting only marks the branches on the path dirty;
//! [`Trie::rehash`] rehashes the dirty branches once, bottom-up, so a batch of inserts
//! costs one rehash per touched branch.
//!
//! Reads take `&self`: the owner of a trie rehashes after each batch of changes and then
//! shares it for reading (the registry's writer does, under its lock), so readers never
//! need exclusive access. A read that meets a branch changed since the last rehash hashes
//! it without storing the result: always right, only slower.
//!
//! For sync, [`Prefix`] names a subtree, [`Trie::node`] shows what the trie holds there
//! and [`Trie::ids_under`] lists it, so two nodes can descend only where their hashes
//! differ. [`InclusionProof`] proves that one id is under a root.

mod prefix;
mod proof;

use std::fmt;

use crate::hash::{EntryId, Hash};

pub use prefix::{Prefix, PrefixError};
pub use proof::{leaf_hash, subtree_hash, InclusionProof, NodeView};

use proof::branch_hash;

/// Ids are 32 bytes, so a path from the root is at most 64 nibbles long.
pub const MAX_DEPTH: usize = 64;

/// A child reference packed in 4 bytes, to keep branches small: 0 is empty, the high bit
/// marks a leaf (the rest is its index), anything else is a branch index plus one.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
struct Ref(u32);

const LEAF_BIT: u32 = 1 << 31;

enum Node {
    Empty,
    Leaf(usize),
    Branch(usize),
}

impl Ref {
    const EMPTY: Ref = Ref(0);

    fn leaf(index: usize) -> Ref {
        Ref(LEAF_BIT | arena_index(index))
    }

    fn branch(index: usize) -> Ref {
        Ref(arena_index(index) + 1)
    }

    fn get(self) -> Node {
        if self.0 == 0 {
            Node::Empty
        } else if self.0 & LEAF_BIT != 0 {
            Node::Leaf((self.0 & !LEAF_BIT) as usize)
        } else {
            Node::Branch((self.0 - 1) as usize)
        }
    }
}

/// An arena index as stored in a [`Ref`]. Two billion ids would need over 100 GB, so
/// running out is a resource limit of this process, not something a peer can cause
/// cheaply: every id is a signed, accepted entry.
fn arena_index(index: usize) -> u32 {
    match u32::try_from(index) {
        Ok(i) if i < LEAF_BIT - 1 => i,
        _ => panic!("trie arena full: more than 2^31 - 2 nodes"),
    }
}

#[derive(Clone)]
struct Branch {
    children: [Ref; 16],
    /// Valid only when `dirty` is false.
    hash: Hash,
    /// Ids in this subtree (always at least two).
    count: u32,
    /// Some id was inserted below since `hash` was computed. A clean branch has only clean
    /// branches below it, which is what lets `root` stop at the first clean one.
    dirty: bool,
}

/// The accepted ids with their values, and the Merkle root.
#[derive(Clone, Default)]
pub struct Trie {
    root: Ref,
    /// Every id, in insertion order; leaves refer to them by index.
    leaves: Vec<EntryId>,
    /// `values[i]` is the value of `leaves[i]`.
    values: Vec<Hash>,
    /// `leaf_hashes[i]` is the leaf hash of `leaves[i]`, for the first `leaf_hashes.len()`
    /// ids; the rest are hashed on the next read, so `insert` never hashes.
    leaf_hashes: Vec<Hash>,
    branches: Vec<Branch>,
}

impl fmt::Debug for Trie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trie")
            .field("len", &self.leaves.len())
            .field("branches", &self.branches.len())
            .finish()
    }
}

impl Trie {
    pub fn new() -> Trie {
        Trie::default()
    }

    /// Adds an id with its value; false (and nothing changed) if the id was already
    /// present. Only marks the path dirty: hashing waits for [`Trie::rehash`].
    ///
    /// # Panics
    /// If the trie would exceed 2^31 - 2 ids or branches.
    pub fn insert(&mut self, id: EntryId, value: Hash) -> bool {
        let mut path = [0usize; MAX_DEPTH];
        let mut depth = 0;
        let mut at = self.root;
        let new = loop {
            match at.get() {
                Node::Empty => {
                    self.leaves.push(id);
                    self.values.push(value);
                    break Ref::leaf(self.leaves.len() - 1);
                }
                Node::Leaf(l) if self.leaves[l] == id => return false,
                Node::Leaf(l) => break self.split(l, id, value, depth),
                Node::Branch(b) => {
                    // A branch at depth 63 has only leaves below it, so depth stays < 64.
                    path[depth] = b;
                    at = self.branches[b].children[usize::from(id.nibble(depth))];
                    depth += 1;
                }
            }
        };
        match depth.checked_sub(1) {
            None => self.root = new,
            Some(parent) => {
                let slot = usize::from(id.nibble(parent));
                self.branches[path[parent]].children[slot] = new;
            }
        }
        for &b in &path[..depth] {
            let branch = &mut self.branches[b];
            branch.count += 1;
            branch.dirty = true;
        }
        true
    }

    /// Replaces the leaf `l` at `depth` by branches down to the first nibble where its id
    /// and `id` differ, with both leaves there; returns the top branch.
    fn split(&mut self, l: usize, id: EntryId, value: Hash, depth: usize) -> Ref {
        let other = self.leaves[l];
        // Both ids were routed here by their first `depth` nibbles and they differ, so they
        // differ at some nibble in `depth..64`; the fallback is never taken.
        let fork = (depth..MAX_DEPTH)
            .find(|&d| other.nibble(d) != id.nibble(d))
            .unwrap_or(MAX_DEPTH - 1);
        self.leaves.push(id);
        self.values.push(value);
        let mut children = [Ref::EMPTY; 16];
        children[usize::from(other.nibble(fork))] = Ref::leaf(l);
        children[usize::from(id.nibble(fork))] = Ref::leaf(self.leaves.len() - 1);
        let mut top = self.push_branch(children);
        for d in (depth..fork).rev() {
            let mut children = [Ref::EMPTY; 16];
            children[usize::from(id.nibble(d))] = top;
            top = self.push_branch(children);
        }
        top
    }

    fn push_branch(&mut self, children: [Ref; 16]) -> Ref {
        self.branches.push(Branch {
            children,
            hash: Hash::ZERO,
            count: 2,
            dirty: true,
        });
        Ref::branch(self.branches.len() - 1)
    }

    /// Either inserts `id` with `value` or, if present, replaces its value. True if
    /// anything changed.
    pub fn upsert(&mut self, id: EntryId, value: Hash) -> bool {
        self.insert(id, value) || self.update(&id, value)
    }

    /// Replaces the value of a present id and marks its path dirty; false if the id is
    /// absent or already has this value.
    pub fn update(&mut self, id: &EntryId, value: Hash) -> bool {
        let mut path = [0usize; MAX_DEPTH];
        let mut depth = 0;
        let mut at = self.root;
        while let Node::Branch(b) = at.get() {
            path[depth] = b;
            at = self.branches[b].children[usize::from(id.nibble(depth))];
            depth += 1;
        }
        let Node::Leaf(l) = at.get() else {
            return false;
        };
        if self.leaves[l] != *id || self.values[l] == value {
            return false;
        }
        self.values[l] = value;
        if let Some(h) = self.leaf_hashes.get_mut(l) {
            *h = leaf_hash(id, &value);
        }
        for &b in &path[..depth] {
            self.branches[b].dirty = true;
        }
        true
    }

    pub fn contains(&self, id: &EntryId) -> bool {
        self.value(id).is_some()
    }

    /// The value of `id`, if present.
    pub fn value(&self, id: &EntryId) -> Option<Hash> {
        let mut at = self.root;
        for depth in 0..MAX_DEPTH {
            match at.get() {
                Node::Branch(b) => at = self.branches[b].children[usize::from(id.nibble(depth))],
                _ => break,
            }
        }
        match at.get() {
            Node::Leaf(l) if self.leaves[l] == *id => Some(self.values[l]),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// Bytes allocated for the nodes, for metrics.
    pub fn heap_bytes(&self) -> usize {
        self.leaves.capacity() * std::mem::size_of::<EntryId>()
            + self.values.capacity() * std::mem::size_of::<Hash>()
            + self.leaf_hashes.capacity() * std::mem::size_of::<Hash>()
            + self.branches.capacity() * std::mem::size_of::<Branch>()
    }

    /// Hashes what changed since the last call (the ids inserted or updated, and the
    /// branches on their paths, each once, bottom-up) and returns the root. Afterwards
    /// every read is a lookup.
    pub fn rehash(&mut self) -> Hash {
        if let Node::Branch(b) = self.root.get() {
            self.refresh(b);
        } else {
            self.hash_new_leaves();
        }
        self.root()
    }

    /// Whether every hash is current (nothing changed since [`Trie::rehash`]), so reads
    /// cost lookups only.
    pub fn is_current(&self) -> bool {
        let leaves_hashed = self.leaf_hashes.len() == self.leaves.len();
        leaves_hashed
            && match self.root.get() {
                Node::Branch(b) => !self.branches[b].dirty,
                Node::Empty | Node::Leaf(_) => true,
            }
    }

    /// The Merkle root.
    pub fn root(&self) -> Hash {
        self.hash_of(self.root)
    }

    /// What the trie holds at `prefix`: the node over exactly the ids starting with it.
    pub fn node(&self, prefix: &Prefix) -> NodeView {
        match self.locate(prefix).get() {
            Node::Empty => NodeView::Empty,
            Node::Leaf(l) => NodeView::Leaf(self.leaves[l], self.values[l]),
            Node::Branch(b) => NodeView::Branch(self.child_hashes(b)),
        }
    }

    /// The hash of the subtree at `prefix`, equal to [`subtree_hash`] over the ids under it.
    pub fn hash_at(&self, prefix: &Prefix) -> Hash {
        self.hash_of(self.locate(prefix))
    }

    /// The ids starting with `prefix`, sorted, at most `limit` of them.
    pub fn ids_under(&self, prefix: &Prefix, limit: usize) -> Vec<EntryId> {
        self.leaves_under(prefix, limit)
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    }

    /// The ids starting with `prefix` with their values, sorted by id, at most `limit`.
    pub fn leaves_under(&self, prefix: &Prefix, limit: usize) -> Vec<(EntryId, Hash)> {
        let mut out = Vec::with_capacity(limit.min(self.count_under(prefix)));
        let top = match self.locate(prefix).get() {
            Node::Empty => return out,
            Node::Leaf(l) => {
                if limit > 0 {
                    out.push((self.leaves[l], self.values[l]));
                }
                return out;
            }
            Node::Branch(b) => b,
        };
        // Depth-first in nibble order is sorted order. Each frame is (branch, next child).
        let mut stack: Vec<(usize, usize)> = Vec::with_capacity(MAX_DEPTH);
        stack.push((top, 0));
        while let Some(frame) = stack.last_mut() {
            if out.len() >= limit {
                break;
            }
            let (b, next) = *frame;
            if next == 16 {
                stack.pop();
                continue;
            }
            frame.1 += 1;
            match self.branches[b].children[next].get() {
                Node::Empty => {}
                Node::Leaf(l) => out.push((self.leaves[l], self.values[l])),
                Node::Branch(c) => stack.push((c, 0)),
            }
        }
        out
    }

    /// Number of ids starting with `prefix`.
    pub fn count_under(&self, prefix: &Prefix) -> usize {
        match self.locate(prefix).get() {
            Node::Empty => 0,
            Node::Leaf(_) => 1,
            Node::Branch(b) => self.branches[b].count as usize,
        }
    }

    /// An inclusion proof of `id` against the current [`Trie::root`]; `None` if absent.
    pub fn prove(&self, id: &EntryId) -> Option<InclusionProof> {
        let mut siblings = Vec::new();
        let mut at = self.root;
        for depth in 0..MAX_DEPTH {
            match at.get() {
                Node::Empty | Node::Leaf(_) => break,
                Node::Branch(b) => {
                    let on_path = usize::from(id.nibble(depth));
                    let children = self.child_hashes(b);
                    let mut level = [Hash::ZERO; 15];
                    level[..on_path].copy_from_slice(&children[..on_path]);
                    level[on_path..].copy_from_slice(&children[on_path + 1..]);
                    siblings.push(level);
                    at = self.branches[b].children[on_path];
                }
            }
        }
        match at.get() {
            Node::Leaf(l) if self.leaves[l] == *id => Some(InclusionProof { siblings }),
            _ => None,
        }
    }

    /// The node holding exactly the ids under `prefix`: `Ref::EMPTY` if there are none,
    /// a leaf (possibly higher up than `prefix`) if there is one.
    fn locate(&self, prefix: &Prefix) -> Ref {
        let mut at = self.root;
        for depth in 0..prefix.len() {
            match at.get() {
                Node::Empty => return Ref::EMPTY,
                Node::Leaf(l) => {
                    return if prefix.covers(&self.leaves[l]) {
                        at
                    } else {
                        Ref::EMPTY
                    };
                }
                Node::Branch(b) => {
                    at = self.branches[b].children[usize::from(prefix.nibble(depth))];
                }
            }
        }
        at
    }

    /// The hash of the subtree at `at`: a lookup when it is current; a branch changed since
    /// [`Trie::rehash`] is hashed here without being stored, so a read is always right and
    /// the writer's `rehash` is what makes it cheap.
    fn hash_of(&self, at: Ref) -> Hash {
        match at.get() {
            Node::Empty => Hash::ZERO,
            Node::Leaf(l) => self.leaf_hash_at(l),
            Node::Branch(b) if self.branches[b].dirty => branch_hash(&self.child_hashes(b)),
            Node::Branch(b) => self.branches[b].hash,
        }
    }

    /// Rehashes the dirty branches under `top`, children before parents. Iterative, with
    /// at most 64 frames, one per level.
    fn refresh(&mut self, top: usize) {
        if !self.branches[top].dirty {
            return;
        }
        self.hash_new_leaves();
        let mut stack: Vec<(usize, usize)> = Vec::with_capacity(MAX_DEPTH);
        stack.push((top, 0));
        while let Some(frame) = stack.last_mut() {
            let (b, next) = *frame;
            if next == 16 {
                let hash = branch_hash(&self.child_hashes(b));
                let branch = &mut self.branches[b];
                branch.hash = hash;
                branch.dirty = false;
                stack.pop();
                continue;
            }
            frame.1 += 1;
            if let Node::Branch(c) = self.branches[b].children[next].get() {
                if self.branches[c].dirty {
                    stack.push((c, 0));
                }
            }
        }
    }

    /// Hashes the ids inserted since the last call, all at once rather than in `insert`,
    /// which is then a walk and a few writes.
    fn hash_new_leaves(&mut self) {
        let done = self.leaf_hashes.len();
        let fresh = self.leaves[done..].iter().zip(&self.values[done..]);
        self.leaf_hashes
            .extend(fresh.map(|(id, value)| leaf_hash(id, value)));
    }

    fn leaf_hash_at(&self, l: usize) -> Hash {
        match self.leaf_hashes.get(l) {
            Some(h) => *h,
            None => leaf_hash(&self.leaves[l], &self.values[l]),
        }
    }

    /// The 16 child hashes of branch `b`.
    fn child_hashes(&self, b: usize) -> [Hash; 16] {
        let mut out = [Hash::ZERO; 16];
        for (slot, child) in out.iter_mut().zip(self.branches[b].children) {
            *slot = self.hash_of(child);
        }
        out
    }
}

/// An id that starts with `bytes` and is zero after them, for the unit tests of the
/// trie's modules.
#[cfg(test)]
fn test_id(bytes: &[u8]) -> EntryId {
    let mut out = [0u8; 32];
    out[..bytes.len()].copy_from_slice(bytes);
    Hash(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_id as id;

    #[test]
    fn empty_single_and_pair_match_the_definition() {
        let mut t = Trie::new();
        assert_eq!(t.root(), Hash::ZERO);
        let a = id(&[0x12, 0x34]);
        let b = id(&[0x12, 0x35]);
        let (va, vb) = (Hash([1; 32]), Hash([2; 32]));
        assert!(t.insert(a, va));
        assert_eq!(t.root(), leaf_hash(&a, &va));
        assert!(t.insert(b, vb));
        assert!(!t.insert(b, va));
        assert_eq!(t.len(), 2);
        assert_eq!(t.root(), subtree_hash(&[(a, va), (b, vb)], 0));
        assert!(t.contains(&a) && t.contains(&b) && !t.contains(&id(&[0x12])));
        // A new value changes the root exactly as the definition says; the same value
        // again changes nothing.
        assert!(t.update(&a, vb));
        assert!(!t.update(&a, vb));
        assert!(!t.update(&id(&[0x12]), va));
        assert_eq!(t.value(&a), Some(vb));
        assert_eq!(t.root(), subtree_hash(&[(a, vb), (b, vb)], 0));
    }

    #[test]
    fn ids_differing_only_in_the_last_nibble() {
        let mut t = Trie::new();
        let a = Hash([0xff; 32]);
        let mut b = a;
        b.0[31] = 0xf0;
        t.insert(a, Hash::ZERO);
        t.insert(b, Hash::ZERO);
        assert_eq!(
            t.root(),
            subtree_hash(&[(b, Hash::ZERO), (a, Hash::ZERO)], 0)
        );
        assert_eq!(t.branches.len(), 64);
        let proof = t.prove(&a);
        assert!(proof
            .as_ref()
            .is_some_and(|p| p.depth() == 64 && p.verify(&t.root(), &a, &Hash::ZERO)));
        assert!(proof.is_some_and(|p| !p.verify(&t.root(), &a, &Hash([1; 32]))));
    }
}
