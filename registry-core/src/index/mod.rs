//! The index: an authenticated map from the questions relying parties ask (an entity's
//! accreditations, the revocations of an accreditation, the governance entries) to the
//! hash of the sorted entry ids that answer them, with proofs of presence and absence.
//!
//! The map is a binary sparse Merkle tree over 256-bit paths ([`IndexKey::path`]). The
//! hash of the subtree holding the set `S` of (path, value hash) pairs whose paths share
//! their first `d` bits:
//! - `S` empty: `Hash::ZERO`;
//! - `S = {(path, value)}`: `blake3(domain "trust-registry/index-leaf/v1" || path || value)`,
//!   whatever `d` is;
//! - otherwise: `blake3(domain "trust-registry/index-branch/v1" || left || right)`, where
//!   `left` and `right` are the hashes of the pairs in `S` whose bit `d` is 0 and 1.
//!
//! The root is a function of the pairs alone, whatever the order of the changes.
//!
//! [`Index`] stores the tree compressed: a branch exists only where both halves hold a
//! key, and records the bit it splits on, so `n` keys take `n` leaves and `n - 1`
//! branches. The levels a branch skips (where all its keys go one way) are hashed when
//! its parent is, as one-sided branches. To stay small, a branch stores its hash only
//! when both its children are branches (about a third of them in a random tree); the
//! others have a leaf child and are hashed when read, which costs a leaf hash or two.
//! Like the set trie, setting a key only marks the stored hashes above it stale, and
//! [`Index::rehash`] recomputes each stale one once; reads take `&self` and compute what
//! is stale without storing it, so they are always right and only slower.

mod key;
mod multi;
mod proof;

use std::fmt;

use crate::hash::Hash;

pub use key::{value_hash, IndexKey, IndexPath, TAG_GOVERNANCE, TAG_REVOCATIONS, TAG_SUBJECT};
pub use multi::{Claim, MultiProof, MultiProofError, MAX_MULTI_HASHES};
pub use proof::{
    branch_hash, leaf_hash, IndexProof, IndexProofError, Terminal, MAX_PROOF_BYTES, MAX_PROOF_DEPTH,
};

use key::{bit, first_difference};
use proof::lift;

/// A child reference packed in 4 bytes: 0 is empty (only ever the root of an empty
/// index), the high bit marks a leaf (the rest is its index), anything else is a branch
/// index plus one.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
struct Ref(u32);

const LEAF_BIT: u32 = 1 << 31;

/// [`Branch::cache`] of a branch that does not store its hash.
const NO_CACHE: u32 = u32::MAX;

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

/// An arena index as stored in a [`Ref`]. Two billion keys would need hundreds of GB, so
/// running out is a resource limit of this process, not something a peer can cause
/// cheaply: every key comes from a signed, accepted entry.
fn arena_index(index: usize) -> u32 {
    match u32::try_from(index) {
        Ok(i) if i < LEAF_BIT - 1 => i,
        _ => panic!("index arena full: more than 2^31 - 2 nodes"),
    }
}

/// A node where both halves hold keys: 16 bytes.
#[derive(Clone)]
struct Branch {
    /// The halves: paths with bit `bit` equal to 0, then 1. Never empty.
    children: [Ref; 2],
    /// The slot of this branch's stored hash in [`Index::hashes`], or [`NO_CACHE`] while
    /// a child is a leaf. Children only ever turn from leaves into branches, so a branch
    /// that stores its hash keeps storing it.
    cache: u32,
    /// The keys below share their first `bit` bits and differ at this one.
    bit: u8,
    /// A key below changed since the stored hash was computed (meaningful only for a
    /// branch that stores one). A clean branch has only clean branches below it.
    dirty: bool,
}

/// The authenticated map: each key's path and value hash, and the Merkle root over them.
#[derive(Clone)]
pub struct Index {
    root: Ref,
    /// The path of each leaf, in insertion order.
    paths: Vec<IndexPath>,
    /// `values[i]` is the value hash of `paths[i]`.
    values: Vec<Hash>,
    branches: Vec<Branch>,
    /// The stored hashes of the branches that keep one, each at its own depth (the
    /// levels it skips are not included).
    hashes: Vec<Hash>,
    /// The root as of the last [`Index::rehash`].
    root_hash: Hash,
    /// Nothing changed since the last [`Index::rehash`].
    current: bool,
}

impl Default for Index {
    fn default() -> Index {
        Index {
            root: Ref::EMPTY,
            paths: Vec::new(),
            values: Vec::new(),
            branches: Vec::new(),
            hashes: Vec::new(),
            root_hash: Hash::ZERO,
            current: true,
        }
    }
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Index")
            .field("len", &self.paths.len())
            .field("stored_hashes", &self.hashes.len())
            .finish()
    }
}

impl Index {
    /// An empty index, whose root is `Hash::ZERO`.
    pub fn new() -> Index {
        Index::default()
    }

    /// Gives `key` the value hash `value`, inserting the key if it is new; true if
    /// anything changed. Keys are never removed: the accepted set only grows. Only marks
    /// the path stale: hashing waits for [`Index::rehash`].
    ///
    /// # Panics
    /// If the index would exceed 2^31 - 2 keys.
    pub fn set(&mut self, key: &IndexKey, value: Hash) -> bool {
        self.set_path(key.path(), value)
    }

    /// [`Index::set`] for a key given by its path. Paths from [`IndexKey::path`] keep the
    /// namespaces apart; this is for callers (and tests) that hold paths already.
    pub fn set_path(&mut self, path: IndexPath, value: Hash) -> bool {
        let Some(closest) = self.closest_leaf(&path) else {
            self.root = self.push_leaf(path, value);
            self.current = false;
            return true;
        };
        let Some(fork) = first_difference(&self.paths[closest], &path) else {
            if self.values[closest] == value {
                return false;
            }
            self.values[closest] = value;
            self.mark_stale(&path, usize::MAX);
            self.current = false;
            return true;
        };
        // Every key under the branches with `bit < fork` on the path shares the new
        // path's first `fork` bits (the closest leaf does), so the new branch goes below
        // the last of them, above the first branch that splits later.
        let parent = self.mark_stale(&path, fork);
        let at = match parent {
            None => self.root,
            Some((p, side)) => self.branches[p].children[side],
        };
        let leaf = self.push_leaf(path, value);
        let mut children = [at; 2];
        children[bit(&path, fork)] = leaf;
        let new = self.push_branch(children, fork);
        match parent {
            None => self.root = new,
            Some((p, side)) => {
                self.branches[p].children[side] = new;
                if matches!(at.get(), Node::Leaf(_)) {
                    self.start_caching(p);
                }
            }
        }
        self.current = false;
        true
    }

    /// The value hash of the key at `path`, if present.
    pub fn get(&self, path: &IndexPath) -> Option<Hash> {
        let l = self.closest_leaf(path)?;
        (self.paths[l] == *path).then(|| self.values[l])
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Whether no key is set.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Bytes allocated for the nodes, for metrics.
    pub fn heap_bytes(&self) -> usize {
        self.paths.capacity() * std::mem::size_of::<IndexPath>()
            + self.values.capacity() * std::mem::size_of::<Hash>()
            + self.branches.capacity() * std::mem::size_of::<Branch>()
            + self.hashes.capacity() * std::mem::size_of::<Hash>()
    }

    /// Whether every stored hash is current (nothing changed since [`Index::rehash`]),
    /// so [`Index::root`] is a lookup.
    pub fn is_current(&self) -> bool {
        self.current
    }

    /// Hashes what changed since the last call (each stale stored hash once, bottom-up)
    /// and returns the root.
    pub fn rehash(&mut self) -> Hash {
        if self.current {
            return self.root_hash;
        }
        let mut fresh = Vec::new();
        self.root_hash = match self.root.get() {
            Node::Branch(b) => {
                let h = self.fresh_hash(b, Some(&mut fresh));
                self.lift_branch(h, b, 0)
            }
            _ => self.hash_at(self.root, 0),
        };
        for (b, h) in fresh {
            let branch = &mut self.branches[b];
            branch.dirty = false;
            self.hashes[branch.cache as usize] = h;
        }
        self.current = true;
        self.root_hash
    }

    /// The Merkle root; computed on the fly (not stored) while the index is not current.
    pub fn root(&self) -> Hash {
        if self.current {
            self.root_hash
        } else {
            self.hash_at(self.root, 0)
        }
    }

    /// A proof that `key` is present with its value hash, or absent, against
    /// [`Index::root`].
    pub fn prove(&self, key: &IndexKey) -> IndexProof {
        self.prove_path(&key.path())
    }

    /// One proof about every key of `keys`, which shares what their paths share (see
    /// [`MultiProof`]). Returns the keys' paths, sorted (the order claims are checked in),
    /// with the proof.
    pub fn prove_many(&self, keys: &[IndexKey]) -> (Vec<IndexPath>, MultiProof) {
        let mut paths: Vec<IndexPath> = keys.iter().map(IndexKey::path).collect();
        paths.sort_unstable();
        paths.dedup();
        let proofs: Vec<IndexProof> = paths.iter().map(|p| self.prove_path(p)).collect();
        let proof = MultiProof::combine(&paths, &proofs);
        (paths, proof)
    }

    /// [`Index::prove`] for a key given by its path.
    pub fn prove_path(&self, path: &IndexPath) -> IndexProof {
        let mut bitmap = [0u8; MAX_PROOF_DEPTH / 8];
        let mut siblings = Vec::new();
        let Some(closest) = self.closest_leaf(path) else {
            return IndexProof::new(0, &bitmap, siblings, Terminal::Empty);
        };
        let near = &self.paths[closest];
        let fork = first_difference(near, path);
        let mut depth = 0;
        let mut at = self.root;
        while let Node::Branch(b) = at.get() {
            let split = usize::from(self.branches[b].bit);
            if let Some(f) = fork.filter(|&f| f < split) {
                // The path leaves this branch's keys at bit `f`, inside the levels the
                // branch skips: beside an empty subtree lie all of them.
                let h = self.node_hash(b);
                siblings.push(lift(h, near, f + 1, split));
                bitmap[f / 8] |= 0x80 >> (f % 8);
                return IndexProof::new(f + 1, &bitmap, siblings, Terminal::Empty);
            }
            let side = bit(path, split);
            let children = self.branches[b].children;
            siblings.push(self.hash_at(children[1 - side], split + 1));
            bitmap[split / 8] |= 0x80 >> (split % 8);
            at = children[side];
            depth = split + 1;
        }
        let terminal = match fork {
            None => Terminal::Present(self.values[closest]),
            Some(_) => Terminal::Leaf {
                path: *near,
                value: self.values[closest],
            },
        };
        IndexProof::new(depth, &bitmap, siblings, terminal)
    }

    /// The leaf reached by following `path`'s bits at each branch: the key whose path
    /// shares the longest prefix with `path`. `None` if the index is empty.
    fn closest_leaf(&self, path: &IndexPath) -> Option<usize> {
        let mut at = self.root;
        loop {
            match at.get() {
                Node::Empty => return None,
                Node::Leaf(l) => return Some(l),
                Node::Branch(b) => {
                    let branch = &self.branches[b];
                    at = branch.children[bit(path, usize::from(branch.bit))];
                }
            }
        }
    }

    /// Marks stale the branches on `path` that split before bit `limit`, and returns the
    /// last of them with the side the path takes there.
    fn mark_stale(&mut self, path: &IndexPath, limit: usize) -> Option<(usize, usize)> {
        let mut last = None;
        let mut at = self.root;
        while let Node::Branch(b) = at.get() {
            let branch = &mut self.branches[b];
            let split = usize::from(branch.bit);
            if split >= limit {
                break;
            }
            branch.dirty = true;
            let side = bit(path, split);
            last = Some((b, side));
            at = branch.children[side];
        }
        last
    }

    fn push_leaf(&mut self, path: IndexPath, value: Hash) -> Ref {
        self.paths.push(path);
        self.values.push(value);
        Ref::leaf(self.paths.len() - 1)
    }

    /// A new branch has a leaf child, so it does not store its hash.
    fn push_branch(&mut self, children: [Ref; 2], split: usize) -> Ref {
        self.branches.push(Branch {
            children,
            cache: NO_CACHE,
            bit: u8::try_from(split).expect("paths have 256 bits"),
            dirty: true,
        });
        Ref::branch(self.branches.len() - 1)
    }

    /// Gives branch `b` a stored hash once both its children are branches.
    fn start_caching(&mut self, b: usize) {
        let both = self.branches[b]
            .children
            .iter()
            .all(|c| matches!(c.get(), Node::Branch(_)));
        if both && self.branches[b].cache == NO_CACHE {
            let slot = u32::try_from(self.hashes.len()).expect("fewer stored hashes than keys");
            self.hashes.push(Hash::ZERO);
            let branch = &mut self.branches[b];
            branch.cache = slot;
            branch.dirty = true;
        }
    }

    /// The stored hash of branch `b`, if it keeps one and it is current.
    fn stored(&self, b: usize) -> Option<Hash> {
        let branch = &self.branches[b];
        (branch.cache != NO_CACHE && !branch.dirty).then(|| self.hashes[branch.cache as usize])
    }

    /// The hash of branch `b` at its own depth.
    fn node_hash(&self, b: usize) -> Hash {
        self.stored(b).unwrap_or_else(|| self.fresh_hash(b, None))
    }

    /// The hash at depth `depth` of the subtree whose top node is `at` (`depth` is at
    /// most the bit that node splits on).
    fn hash_at(&self, at: Ref, depth: usize) -> Hash {
        match at.get() {
            Node::Empty => Hash::ZERO,
            Node::Leaf(l) => leaf_hash(&self.paths[l], &self.values[l]),
            Node::Branch(b) => self.lift_branch(self.node_hash(b), b, depth),
        }
    }

    /// Branch `b`'s hash `h` as seen from depth `depth`: through the levels it skips.
    fn lift_branch(&self, h: Hash, b: usize, depth: usize) -> Hash {
        let split = usize::from(self.branches[b].bit);
        if split <= depth {
            return h;
        }
        // Every key below shares the skipped bits; any of them shows what they are.
        let mut at = self.branches[b].children[0];
        let path = loop {
            match at.get() {
                Node::Branch(c) => at = self.branches[c].children[0],
                Node::Leaf(l) => break &self.paths[l],
                Node::Empty => unreachable!("a branch's children are never empty"),
            }
        };
        lift(h, path, depth, split)
    }

    /// Computes branch `top`'s hash from the current hashes below it, descending into
    /// every branch without a current stored hash. With `fresh`, each stored hash so
    /// recomputed is recorded there for the caller to store. Iterative, with at most one
    /// frame per level of a 256-bit path.
    fn fresh_hash(&self, top: usize, mut fresh: Option<&mut Vec<(usize, Hash)>>) -> Hash {
        // Each frame is (branch, children pushed so far); `done` holds, for each open
        // frame, the hashes of its children computed so far.
        let mut frames: Vec<(usize, usize)> = Vec::with_capacity(16);
        let mut done: Vec<Hash> = Vec::with_capacity(32);
        frames.push((top, 0));
        while let Some(frame) = frames.last_mut() {
            let (b, next) = *frame;
            let split = usize::from(self.branches[b].bit);
            if next == 2 {
                let right = done.pop().expect("a finished frame has two child hashes");
                let left = done.pop().expect("a finished frame has two child hashes");
                let h = branch_hash(&left, &right);
                frames.pop();
                if let Some(fresh) = fresh.as_deref_mut() {
                    if self.branches[b].cache != NO_CACHE {
                        fresh.push((b, h));
                    }
                }
                match frames.last() {
                    None => return h,
                    Some(&(parent, _)) => {
                        let depth = usize::from(self.branches[parent].bit) + 1;
                        done.push(self.lift_branch(h, b, depth));
                    }
                }
                continue;
            }
            frame.1 += 1;
            let child = self.branches[b].children[next];
            match child.get() {
                Node::Branch(c) => match self.stored(c) {
                    Some(h) => done.push(self.lift_branch(h, c, split + 1)),
                    None => frames.push((c, 0)),
                },
                _ => done.push(self.hash_at(child, split + 1)),
            }
        }
        unreachable!("the top frame returns its hash")
    }
}

#[cfg(test)]
mod tests;
