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
//! [`Trie::root`] rehashes the dirty branches once, bottom-up, so a batch of inserts costs
//! one rehash per touched branch.
//!
//! For sync, [`Prefix`] names a subtree, [`Trie::node`] shows what the trie holds there
//! and [`Trie::ids_under`] lists it, so two nodes can descend only where their hashes
//! differ. [`InclusionProof`] proves that one id is under a root.

use std::fmt;
use std::str::FromStr;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::codec::{domain, hash_with_domain};
use crate::hash::{EntryId, Hash};

/// Ids are 32 bytes, so a path from the root is at most 64 nibbles long.
pub const MAX_DEPTH: usize = 64;

/// A path from the root: a sequence of at most 64 nibbles (each `0..16`).
///
/// Nibbles are packed two per byte, most significant first, as in [`Hash::nibble`]; the
/// nibbles past `len` are always zero, so equal paths are equal values.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Prefix {
    len: u8,
    packed: [u8; 32],
}

/// A prefix that could not be built or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("a prefix has at most 64 nibbles, got {len}")]
    TooLong { len: usize },
    #[error("not a nibble (0..16): {value}")]
    BadNibble { value: u32 },
    #[error("non-canonical prefix: nibbles past its length are not zero")]
    NonCanonical,
}

impl Prefix {
    /// The empty path: the whole trie.
    pub fn root() -> Prefix {
        Prefix::default()
    }

    /// This path extended by one nibble; `None` if `nibble >= 16` or the path is full.
    pub fn child(&self, nibble: u8) -> Option<Prefix> {
        let len = self.len();
        if nibble >= 16 || len >= MAX_DEPTH {
            return None;
        }
        let mut out = *self;
        out.packed[len / 2] |= if len.is_multiple_of(2) {
            nibble << 4
        } else {
            nibble
        };
        out.len += 1;
        Some(out)
    }

    /// The path without its last nibble; `None` at the root.
    pub fn parent(&self) -> Option<Prefix> {
        let len = self.len().checked_sub(1)?;
        Prefix::of_id(&Hash(self.packed), len)
    }

    /// The first `len` nibbles of `id`; `None` if `len > 64`.
    pub fn of_id(id: &EntryId, len: usize) -> Option<Prefix> {
        if len > MAX_DEPTH {
            return None;
        }
        let mut packed = [0u8; 32];
        packed[..len / 2].copy_from_slice(&id.as_bytes()[..len / 2]);
        if len % 2 == 1 {
            packed[len / 2] = id.as_bytes()[len / 2] & 0xf0;
        }
        Some(Prefix {
            len: len as u8,
            packed,
        })
    }

    /// The path with these nibbles, each of which must be below 16.
    pub fn from_nibbles(nibbles: &[u8]) -> Result<Prefix, PrefixError> {
        if nibbles.len() > MAX_DEPTH {
            return Err(PrefixError::TooLong { len: nibbles.len() });
        }
        let mut out = Prefix::root();
        for &n in nibbles {
            out = out.child(n).ok_or(PrefixError::BadNibble {
                value: u32::from(n),
            })?;
        }
        Ok(out)
    }

    /// Number of nibbles, `0..=64`.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True for the root (the empty path).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `i`-th nibble; zero for `len() <= i < 64`. Panics if `i >= 64`, like
    /// [`Hash::nibble`].
    pub fn nibble(&self, i: usize) -> u8 {
        Hash(self.packed).nibble(i)
    }

    /// True if `id` starts with this path.
    pub fn covers(&self, id: &EntryId) -> bool {
        let len = self.len();
        let whole = len / 2;
        id.as_bytes()[..whole] == self.packed[..whole]
            && (len.is_multiple_of(2) || id.as_bytes()[whole] >> 4 == self.packed[whole] >> 4)
    }

    /// Checks the invariants of a value read from outside.
    fn validated(len: u8, packed: [u8; 32]) -> Result<Prefix, PrefixError> {
        let n = usize::from(len);
        if n > MAX_DEPTH {
            return Err(PrefixError::TooLong { len: n });
        }
        let expected = Prefix::of_id(&Hash(packed), n).ok_or(PrefixError::TooLong { len: n })?;
        if expected.packed != packed {
            return Err(PrefixError::NonCanonical);
        }
        Ok(expected)
    }
}

/// Lowercase hex, one digit per nibble; the root is the empty string.
impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in 0..self.len() {
            write!(f, "{:x}", self.nibble(i))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Prefix({self:?})", self = self.to_string())
    }
}

impl FromStr for Prefix {
    type Err = PrefixError;
    fn from_str(s: &str) -> Result<Prefix, PrefixError> {
        // Checked before looking at the characters, so a huge input costs nothing.
        if s.len() > MAX_DEPTH {
            return Err(PrefixError::TooLong { len: s.len() });
        }
        let mut out = Prefix::root();
        for c in s.chars() {
            let value = c.to_digit(16).ok_or(PrefixError::BadNibble {
                value: u32::from(c),
            })?;
            out = out
                .child(value as u8)
                .ok_or(PrefixError::BadNibble { value })?;
        }
        Ok(out)
    }
}

/// In JSON, the hex digits of the path. In the binary encoding, the length in nibbles and
/// then only the packed bytes that hold them (`1 + ceil(len / 2)` bytes: the root is one
/// byte), since sync requests and replies carry many prefixes.
impl Serialize for Prefix {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            return s.serialize_str(&self.to_string());
        }
        use serde::ser::SerializeTuple;
        let used = self.len().div_ceil(2);
        let mut t = s.serialize_tuple(1 + used)?;
        t.serialize_element(&self.len)?;
        for b in &self.packed[..used] {
            t.serialize_element(b)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for Prefix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            return s.parse().map_err(de::Error::custom);
        }
        struct Packed;
        impl<'de> de::Visitor<'de> for Packed {
            type Value = Prefix;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a prefix: its length in nibbles, then its packed bytes")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Prefix, A::Error> {
                let len: u8 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let n = usize::from(len);
                if n > MAX_DEPTH {
                    return Err(de::Error::custom(PrefixError::TooLong { len: n }));
                }
                let mut packed = [0u8; 32];
                for (i, slot) in packed.iter_mut().take(n.div_ceil(2)).enumerate() {
                    *slot = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::invalid_length(i + 1, &self))?;
                }
                Prefix::validated(len, packed).map_err(de::Error::custom)
            }
        }
        // The longest encoding; the visitor reads only as many bytes as the length needs.
        d.deserialize_tuple(1 + MAX_DEPTH / 2, Packed)
    }
}

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
    siblings: Vec<[Hash; 15]>,
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
    /// present. Only marks the path dirty: hashing waits for [`Trie::root`].
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

    /// The Merkle root; rehashes only the branches inserted under since the last call.
    pub fn root(&mut self) -> Hash {
        self.hash_of(self.root)
    }

    /// What the trie holds at `prefix`: the node over exactly the ids starting with it.
    pub fn node(&mut self, prefix: &Prefix) -> NodeView {
        match self.locate(prefix).get() {
            Node::Empty => NodeView::Empty,
            Node::Leaf(l) => NodeView::Leaf(self.leaves[l], self.values[l]),
            Node::Branch(b) => {
                self.refresh(b);
                NodeView::Branch(self.child_hashes(b))
            }
        }
    }

    /// The hash of the subtree at `prefix`, equal to [`subtree_hash`] over the ids under it.
    pub fn hash_at(&mut self, prefix: &Prefix) -> Hash {
        let at = self.locate(prefix);
        self.hash_of(at)
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
    pub fn prove(&mut self, id: &EntryId) -> Option<InclusionProof> {
        self.root();
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

    fn hash_of(&mut self, at: Ref) -> Hash {
        match at.get() {
            Node::Empty => Hash::ZERO,
            Node::Leaf(l) => self.leaf_hash_at(l),
            Node::Branch(b) => {
                self.refresh(b);
                self.branches[b].hash
            }
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

    /// The 16 child hashes of branch `b`, whose child branches must be clean. Leaves under
    /// a clean branch are already hashed (`refresh` hashes new leaves first); the fallback
    /// only keeps this correct if that ever changes.
    fn child_hashes(&self, b: usize) -> [Hash; 16] {
        let mut out = [Hash::ZERO; 16];
        for (slot, child) in out.iter_mut().zip(self.branches[b].children) {
            *slot = match child.get() {
                Node::Empty => Hash::ZERO,
                Node::Leaf(l) => self.leaf_hash_at(l),
                Node::Branch(c) => self.branches[c].hash,
            };
        }
        out
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
fn branch_hash(children: &[Hash; 16]) -> Hash {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn id(bytes: &[u8]) -> EntryId {
        let mut out = [0u8; 32];
        out[..bytes.len()].copy_from_slice(bytes);
        Hash(out)
    }

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

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn prefix_constructors_and_covers() -> TestResult {
        let p = Prefix::from_nibbles(&[0xa, 0xb, 0xc])?;
        assert_eq!(p.len(), 3);
        assert_eq!(p.to_string(), "abc");
        assert_eq!("abc".parse::<Prefix>(), Ok(p));
        assert_eq!(p.nibble(2), 0xc);
        assert!(p.covers(&id(&[0xab, 0xcd])));
        assert!(!p.covers(&id(&[0xab, 0xdd])));
        assert_eq!(p.parent(), Prefix::from_nibbles(&[0xa, 0xb]).ok());
        assert_eq!(Prefix::root().parent(), None);
        assert_eq!(p.child(16), None);
        assert_eq!(Prefix::of_id(&id(&[0xab, 0xcd]), 3), Some(p));
        let full = Prefix::of_id(&Hash([7; 32]), 64).ok_or("64 nibbles")?;
        assert_eq!(full.child(0), None);
        assert!(full.covers(&Hash([7; 32])));
        assert!(Prefix::root().covers(&Hash([7; 32])));
        assert_eq!(
            Prefix::from_nibbles(&[3; 65]),
            Err(PrefixError::TooLong { len: 65 })
        );
        assert_eq!(
            Prefix::from_nibbles(&[16]),
            Err(PrefixError::BadNibble { value: 16 })
        );
        assert!("abg".parse::<Prefix>().is_err());
        assert!("a".repeat(65).parse::<Prefix>().is_err());
        Ok(())
    }

    #[test]
    fn prefix_serde_round_trips_and_rejects_bad_input() -> TestResult {
        let p = Prefix::from_nibbles(&[1, 2, 3])?;
        let json = serde_json::to_string(&p)?;
        assert_eq!(json, "\"123\"");
        assert_eq!(serde_json::from_str::<Prefix>(&json)?, p);
        let bytes = crate::codec::encode(&p);
        assert_eq!(crate::codec::decode::<Prefix>(&bytes, 64), Ok(p));
        // Length past 64, and a nibble set past the length.
        let mut long = bytes.clone();
        long[0] = 65;
        assert!(crate::codec::decode::<Prefix>(&long, 64).is_err());
        let mut stray = bytes.clone();
        stray[2] |= 0x0f;
        assert!(crate::codec::decode::<Prefix>(&stray, 64).is_err());
        Ok(())
    }
}
