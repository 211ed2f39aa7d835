//! One proof about several keys: a single walk over the union of their paths, so the
//! levels they share are sent once and a key's sibling that another proven key's
//! subtree gives is not sent at all. A bundle proves all the keys one evaluation read
//! with one [`MultiProof`].
//!
//! The walk visits, from the root, every subtree that contains a proven path. For each it
//! records one bit: branch (two or more keys below) or terminal (at most one). A terminal
//! records whether it is empty, and otherwise whether it is the leaf of the one proven
//! path in it (whose value the verifier is claiming, so it is not sent) or another key's
//! leaf (its path and value hash are sent). At a branch the proven paths split on the
//! subtree's next bit; a half that holds none of them is a sibling, recorded as one bit
//! (empty or not) and, when not empty, its hash. Bits and hashes are consumed in that one
//! order, and a proof with anything left over is refused, so there is one encoding per
//! walk.

use serde::{Deserialize, Serialize};

use super::key::{bit, first_difference, IndexPath};
use super::proof::{branch_hash, leaf_hash, IndexProof, Terminal, MAX_PROOF_DEPTH};
use crate::codec;
use crate::hash::Hash;

/// Most hashes or leaves one multi-proof carries (bounded before allocating).
pub const MAX_MULTI_HASHES: usize = 64 * 1024;

/// A proof about several keys against one index root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultiProof {
    /// The walk's bits, most significant first; unused bits of the last byte are zero.
    #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_MULTI_HASHES>")]
    bits: Vec<u8>,
    /// The non-empty siblings, in walk order.
    #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_MULTI_HASHES>")]
    hashes: Vec<Hash>,
    /// The other keys' leaves met at terminals, in walk order.
    #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_MULTI_HASHES>")]
    leaves: Vec<(IndexPath, Hash)>,
}

/// Why a multi-proof does not show what it was asked to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultiProofError {
    #[error("the claims are not sorted by path, or name a path twice")]
    Claims,
    #[error("the proof leads to index root {computed}, not to the expected root {expected}")]
    RootMismatch { expected: Hash, computed: Hash },
    #[error("the index holds value hash {proven} for {path}, not the claimed {claimed}")]
    ValueMismatch {
        path: String,
        claimed: Hash,
        proven: Hash,
    },
    #[error("the proof shows {path} present, but it was claimed absent")]
    ShowsPresent { path: String },
    #[error("the proof shows {path} absent, but it was claimed present")]
    ShowsAbsent { path: String },
    #[error("the proof ends at depth {depth} at a leaf whose path leaves the walked one")]
    TerminalOffPath { depth: usize },
    #[error("the proof is not minimal at depth {depth}: a branch there holds at most one key")]
    NotMinimal { depth: usize },
    #[error("the proof walks deeper than the {MAX_PROOF_DEPTH} bits of a path")]
    TooDeep,
    #[error("the proof ends early: it has too few bits, hashes or leaves")]
    Truncated,
    #[error("the proof has bits, hashes or leaves left over, or a hash sent for an empty subtree")]
    Surplus,
}

/// One claim: a path and its value hash (`None`: absent).
pub type Claim = (IndexPath, Option<Hash>);

fn hex(path: &IndexPath) -> String {
    Hash(*path).to_hex()
}

/// What a walked subtree turned out to be, for the minimality rule.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Empty,
    Leaf,
    /// Two or more keys, or a sibling whose contents the proof does not show.
    Many,
}

impl MultiProof {
    /// Combines single proofs of the same root, one per path of `paths` (sorted, unique),
    /// into one walk.
    pub(super) fn combine(paths: &[IndexPath], proofs: &[IndexProof]) -> MultiProof {
        let mut out = MultiProof {
            bits: Vec::new(),
            hashes: Vec::new(),
            leaves: Vec::new(),
        };
        let mut nbits = 0usize;
        let items: Vec<(&IndexPath, &IndexProof)> = paths.iter().zip(proofs).collect();
        out.build(0, &items, &mut nbits);
        out
    }

    fn push_bit(&mut self, nbits: &mut usize, one: bool) {
        if nbits.is_multiple_of(8) {
            self.bits.push(0);
        }
        if one {
            if let Some(last) = self.bits.last_mut() {
                *last |= 0x80 >> (*nbits % 8);
            }
        }
        *nbits += 1;
    }

    fn build(&mut self, depth: usize, items: &[(&IndexPath, &IndexProof)], nbits: &mut usize) {
        let Some((path, proof)) = items.first() else {
            return;
        };
        if proof.depth() <= depth {
            self.push_bit(nbits, false);
            match proof.terminal() {
                Terminal::Empty => self.push_bit(nbits, false),
                Terminal::Present(_) if items.len() == 1 => {
                    self.push_bit(nbits, true);
                    self.push_bit(nbits, true);
                }
                Terminal::Present(value) => {
                    self.push_bit(nbits, true);
                    self.leaves.push((**path, *value));
                }
                Terminal::Leaf { path, value } => {
                    self.push_bit(nbits, true);
                    if items.len() == 1 {
                        self.push_bit(nbits, false);
                    }
                    self.leaves.push((*path, *value));
                }
            }
            return;
        }
        self.push_bit(nbits, true);
        let split = items.partition_point(|(p, _)| bit(p, depth) == 0);
        let (left, right) = items.split_at(split);
        for side in [left, right] {
            if side.is_empty() {
                let sibling = proof.sibling_at(depth);
                self.push_bit(nbits, sibling != Hash::ZERO);
                if sibling != Hash::ZERO {
                    self.hashes.push(sibling);
                }
            } else {
                self.build(depth + 1, side, nbits);
            }
        }
    }

    /// Checks every claim (sorted by path, unique) against the index whose root is
    /// `root`: `Some(value)` present with that value hash, `None` absent.
    pub fn verify(&self, root: &Hash, claims: &[Claim]) -> Result<(), MultiProofError> {
        if claims.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(MultiProofError::Claims);
        }
        let mut walk = Walk {
            proof: self,
            bit: 0,
            hash: 0,
            leaf: 0,
        };
        let computed = if claims.is_empty() {
            *root
        } else {
            walk.node(0, claims)?.0
        };
        let used_bytes = walk.bit.div_ceil(8);
        let padding_clear = self
            .bits
            .get(walk.bit / 8)
            .is_none_or(|b| walk.bit.is_multiple_of(8) || b & (0xff >> (walk.bit % 8)) == 0);
        if used_bytes != self.bits.len()
            || !padding_clear
            || walk.hash != self.hashes.len()
            || walk.leaf != self.leaves.len()
        {
            return Err(MultiProofError::Surplus);
        }
        if computed != *root {
            return Err(MultiProofError::RootMismatch {
                expected: *root,
                computed,
            });
        }
        Ok(())
    }

    /// Bytes of the canonical encoding.
    pub fn encoded_len(&self) -> usize {
        codec::encode(self).len()
    }
}

/// A verifier's position in the proof's three streams.
struct Walk<'a> {
    proof: &'a MultiProof,
    bit: usize,
    hash: usize,
    leaf: usize,
}

impl Walk<'_> {
    fn next_bit(&mut self) -> Result<bool, MultiProofError> {
        let byte = self
            .proof
            .bits
            .get(self.bit / 8)
            .ok_or(MultiProofError::Truncated)?;
        let one = byte & (0x80 >> (self.bit % 8)) != 0;
        self.bit += 1;
        Ok(one)
    }

    fn next_hash(&mut self) -> Result<Hash, MultiProofError> {
        let h = *self
            .proof
            .hashes
            .get(self.hash)
            .ok_or(MultiProofError::Truncated)?;
        self.hash += 1;
        if h == Hash::ZERO {
            return Err(MultiProofError::Surplus);
        }
        Ok(h)
    }

    fn next_leaf(&mut self) -> Result<(IndexPath, Hash), MultiProofError> {
        let l = *self
            .proof
            .leaves
            .get(self.leaf)
            .ok_or(MultiProofError::Truncated)?;
        self.leaf += 1;
        Ok(l)
    }

    /// The hash and shape of the subtree at `depth` holding `claims` (non-empty, sorted,
    /// all sharing their first `depth` bits).
    fn node(&mut self, depth: usize, claims: &[Claim]) -> Result<(Hash, Shape), MultiProofError> {
        if depth > MAX_PROOF_DEPTH {
            return Err(MultiProofError::TooDeep);
        }
        let branch = self.next_bit()?;
        if !branch {
            return self.terminal(depth, claims);
        }
        if depth == MAX_PROOF_DEPTH {
            return Err(MultiProofError::TooDeep);
        }
        let split = claims.partition_point(|(p, _)| bit(p, depth) == 0);
        let (left, right) = claims.split_at(split);
        let mut halves = [(Hash::ZERO, Shape::Empty); 2];
        for (i, side) in [left, right].into_iter().enumerate() {
            halves[i] = if side.is_empty() {
                if self.next_bit()? {
                    (self.next_hash()?, Shape::Many)
                } else {
                    (Hash::ZERO, Shape::Empty)
                }
            } else {
                self.node(depth + 1, side)?
            };
        }
        let [(l, ls), (r, rs)] = halves;
        // A branch holds two keys or more: an empty half beside a terminal (empty or one
        // leaf) means the walk should have stopped here.
        let lone = |a: Shape, b: Shape| a == Shape::Empty && b != Shape::Many;
        if lone(ls, rs) || lone(rs, ls) {
            return Err(MultiProofError::NotMinimal { depth });
        }
        Ok((branch_hash(&l, &r), Shape::Many))
    }

    fn terminal(
        &mut self,
        depth: usize,
        claims: &[Claim],
    ) -> Result<(Hash, Shape), MultiProofError> {
        if !self.next_bit()? {
            if let Some((path, Some(_))) = claims.iter().find(|(_, v)| v.is_some()) {
                return Err(MultiProofError::ShowsAbsent { path: hex(path) });
            }
            return Ok((Hash::ZERO, Shape::Empty));
        }
        let (leaf_path, leaf_value) = match claims {
            [(path, claim)] if self.next_bit()? => {
                let value =
                    claim.ok_or_else(|| MultiProofError::ShowsPresent { path: hex(path) })?;
                return Ok((leaf_hash(path, &value), Shape::Leaf));
            }
            _ => self.next_leaf()?,
        };
        // The leaf lies in this subtree: its path starts with the walked bits.
        let walked = &claims[0].0;
        if first_difference(&leaf_path, walked).is_some_and(|f| f < depth) {
            return Err(MultiProofError::TerminalOffPath { depth });
        }
        for (path, claim) in claims {
            match (leaf_path == *path, claim) {
                (true, Some(v)) if *v == leaf_value => {}
                (true, Some(v)) => {
                    return Err(MultiProofError::ValueMismatch {
                        path: hex(path),
                        claimed: *v,
                        proven: leaf_value,
                    })
                }
                (true, None) => return Err(MultiProofError::ShowsPresent { path: hex(path) }),
                (false, Some(_)) => return Err(MultiProofError::ShowsAbsent { path: hex(path) }),
                (false, None) => {}
            }
        }
        // A lone proven key's own leaf is sent as the one-bit form, never explicitly.
        if claims.len() == 1 && leaf_path == claims[0].0 {
            return Err(MultiProofError::Surplus);
        }
        Ok((leaf_hash(&leaf_path, &leaf_value), Shape::Leaf))
    }
}
