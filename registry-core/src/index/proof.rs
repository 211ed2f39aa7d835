//! Proofs that a key is in the index with a value, or is not in it at all, and the hash
//! definitions they are checked against ([`leaf_hash`], [`branch_hash`]).
//!
//! A proof walks the key's path from the root down to the first subtree that holds at
//! most one key. It sends the hash of the subtree beside the path at each level it
//! passes (the siblings) and what it finds at the bottom (the terminal): the key's own
//! leaf (presence), an empty subtree, or the leaf of the one other key whose path starts
//! like this one (both absence). Most siblings of a sparse tree are empty; a bitmap marks
//! the ones that are not, and only those are sent.
//!
//! One valid proof per (root, key): a proof is accepted only in its minimal shape (its
//! deepest sibling is never empty, empty siblings are never sent, the bitmap has no
//! spare bits) and the codec admits one encoding per proof. Two different accepted proofs
//! for one root would need two different preimages of some hash on the path, that is, a
//! blake3 collision. The one shape the verifier cannot rule out from hashes alone is an
//! empty terminal beside a sibling that holds a single key (the honest proof would stop
//! one level higher, at that key's leaf): such a proof recomputes a branch hash where the
//! tree has a leaf hash, so it never matches the root of a well-formed index.

use serde::{Deserialize, Serialize};

use super::key::{bit, first_difference, IndexKey, IndexPath};
use crate::codec::{self, domain, hash_with_domain};
use crate::hash::Hash;

/// Paths are 256 bits, so a proof passes at most 256 levels.
pub const MAX_PROOF_DEPTH: usize = 256;

/// The bitmap of a proof of the greatest depth: one bit per level.
const MAX_BITMAP_BYTES: usize = MAX_PROOF_DEPTH / 8;

/// The longest encoded proof: 256 siblings, a full bitmap, another key's leaf, and the
/// varints in front of them (at most 3 bytes each).
pub const MAX_PROOF_BYTES: usize = 3 + (1 + MAX_BITMAP_BYTES) + (3 + MAX_PROOF_DEPTH * 32) + 65;

/// What a proof finds where its walk ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Terminal {
    /// The key's own leaf, with its value hash: the key is present.
    Present(Hash),
    /// An empty subtree: no key starts like this one.
    Empty,
    /// The only key whose path starts like this one's, and its value hash: this key is
    /// absent.
    Leaf { path: IndexPath, value: Hash },
}

/// A proof about one key against an index root. Decoding checks its shape, so an
/// `IndexProof` that exists is minimal and consistent; [`IndexProof::verify`] checks the
/// hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ProofRepr", into = "ProofRepr")]
pub struct IndexProof {
    /// Number of levels walked; the terminal is the subtree at this depth.
    depth: u16,
    /// Bit `i` (most significant first in byte `i / 8`) is set when the sibling at level
    /// `i` is not empty; exactly `ceil(depth / 8)` bytes.
    bitmap: Vec<u8>,
    /// The non-empty siblings, from the root down.
    siblings: Vec<Hash>,
    terminal: Terminal,
}

/// Why a proof does not show what it was asked to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexProofError {
    #[error("the proof leads to index root {computed}, not to the expected root {expected}")]
    RootMismatch { expected: Hash, computed: Hash },
    #[error("the index holds value hash {proven} for this key, not the claimed {claimed}")]
    ValueMismatch { claimed: Hash, proven: Hash },
    #[error("the proof shows the key present (value hash {proven}), but it was claimed absent")]
    ShowsPresent { proven: Hash },
    #[error("the proof shows the key absent, but it was claimed present")]
    ShowsAbsent,
    #[error("the absence proof ends at the key's own leaf")]
    TerminalIsKey,
    #[error(
        "the proof ends at depth {depth} at another key's leaf, \
         but that key's path leaves this key's path at bit {fork}"
    )]
    TerminalOffPath { depth: usize, fork: usize },
    #[error("the proof walks {depth} levels, more than the {MAX_PROOF_DEPTH} bits of a path")]
    TooDeep { depth: usize },
    #[error("the sibling bitmap has {len} bytes, but a proof of depth {depth} needs {needed}")]
    BitmapLength {
        depth: usize,
        len: usize,
        needed: usize,
    },
    #[error("the sibling bitmap marks a level at or below the proof's depth {depth}")]
    BitmapPadding { depth: usize },
    #[error("the sibling bitmap marks {marked} non-empty siblings, but the proof sends {sent}")]
    SiblingCount { marked: usize, sent: usize },
    #[error("the sibling at level {level} is sent as the empty hash instead of left out")]
    EmptySiblingSent { level: usize },
    #[error(
        "the proof is not minimal: the subtree above its terminal at depth {depth} holds \
         at most one key, so the walk should have stopped higher"
    )]
    NotMinimal { depth: usize },
}

impl IndexProof {
    /// A proof from its parts; `prove` builds only well-shaped proofs.
    pub(super) fn new(
        depth: usize,
        bitmap: &[u8; MAX_BITMAP_BYTES],
        siblings: Vec<Hash>,
        terminal: Terminal,
    ) -> IndexProof {
        let proof = IndexProof {
            depth: u16::try_from(depth).expect("a walk never passes more than 256 levels"),
            bitmap: bitmap[..depth.div_ceil(8)].to_vec(),
            siblings,
            terminal,
        };
        debug_assert_eq!(proof.shape_error(), None, "prove built a malformed proof");
        proof
    }

    /// Checks that `key` has value hash `value` (`Some`) or is absent (`None`) in the
    /// index whose root is `root`.
    pub fn verify(
        &self,
        root: &Hash,
        key: &IndexKey,
        value: Option<&Hash>,
    ) -> Result<(), IndexProofError> {
        self.verify_path(root, &key.path(), value)
    }

    /// [`IndexProof::verify`] for a key given by its path.
    pub fn verify_path(
        &self,
        root: &Hash,
        path: &IndexPath,
        value: Option<&Hash>,
    ) -> Result<(), IndexProofError> {
        let depth = self.depth();
        let bottom = match &self.terminal {
            Terminal::Present(v) => leaf_hash(path, v),
            Terminal::Empty => Hash::ZERO,
            Terminal::Leaf { path: other, value } => match first_difference(other, path) {
                None => return Err(IndexProofError::TerminalIsKey),
                Some(fork) if fork < depth => {
                    return Err(IndexProofError::TerminalOffPath { depth, fork })
                }
                Some(_) => leaf_hash(other, value),
            },
        };
        let computed = self.fold(path, bottom);
        if computed != *root {
            return Err(IndexProofError::RootMismatch {
                expected: *root,
                computed,
            });
        }
        match (&self.terminal, value) {
            (Terminal::Present(proven), Some(claimed)) if proven == claimed => Ok(()),
            (Terminal::Present(proven), Some(claimed)) => Err(IndexProofError::ValueMismatch {
                claimed: *claimed,
                proven: *proven,
            }),
            (Terminal::Present(proven), None) => {
                Err(IndexProofError::ShowsPresent { proven: *proven })
            }
            (_, Some(_)) => Err(IndexProofError::ShowsAbsent),
            (_, None) => Ok(()),
        }
    }

    /// The key's value hash this proof shows (`None`: it shows the key absent), to be
    /// checked with [`IndexProof::verify`].
    pub fn proven_value(&self) -> Option<&Hash> {
        match &self.terminal {
            Terminal::Present(v) => Some(v),
            Terminal::Empty | Terminal::Leaf { .. } => None,
        }
    }

    /// What the walk found at its end.
    pub fn terminal(&self) -> &Terminal {
        &self.terminal
    }

    /// Number of levels between the root and the terminal.
    pub fn depth(&self) -> usize {
        usize::from(self.depth)
    }

    /// The non-empty siblings, from the root down.
    pub fn siblings(&self) -> &[Hash] {
        &self.siblings
    }

    /// The sibling at `level` (`Hash::ZERO` when empty); `level < depth`.
    pub fn sibling_at(&self, level: usize) -> Hash {
        if !self.marks(level) {
            return Hash::ZERO;
        }
        let before = (0..level).filter(|&l| self.marks(l)).count();
        self.siblings.get(before).copied().unwrap_or(Hash::ZERO)
    }

    /// The proof's canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes a proof from untrusted bytes: at most [`MAX_PROOF_BYTES`], canonical, and
    /// of a minimal, consistent shape.
    pub fn decode(bytes: &[u8]) -> Result<IndexProof, codec::DecodeError> {
        codec::decode(bytes, MAX_PROOF_BYTES)
    }

    /// Bytes of the proof's canonical encoding.
    pub fn encoded_len(&self) -> usize {
        codec::encode(self).len()
    }

    /// Bytes the same proof would take with all 256 siblings of a path sent as they are,
    /// empty or not: what the bitmap and the early terminal save.
    pub fn full_len(&self) -> usize {
        MAX_PROOF_DEPTH * 32 + codec::encode(&self.terminal).len()
    }

    /// The root hash from the terminal's hash up through the siblings.
    fn fold(&self, path: &IndexPath, bottom: Hash) -> Hash {
        let mut h = bottom;
        let mut sent = self.siblings.iter().rev();
        for level in (0..self.depth()).rev() {
            let sibling = if self.marks(level) {
                *sent
                    .next()
                    .expect("the bitmap marks exactly the siblings sent")
            } else {
                Hash::ZERO
            };
            h = if bit(path, level) == 0 {
                branch_hash(&h, &sibling)
            } else {
                branch_hash(&sibling, &h)
            };
        }
        h
    }

    fn marks(&self, level: usize) -> bool {
        self.bitmap
            .get(level / 8)
            .is_some_and(|b| b & (0x80 >> (level % 8)) != 0)
    }

    /// Why the parts do not form a minimal, consistent proof, if they do not.
    fn shape_error(&self) -> Option<IndexProofError> {
        let depth = self.depth();
        if depth > MAX_PROOF_DEPTH {
            return Some(IndexProofError::TooDeep { depth });
        }
        let needed = depth.div_ceil(8);
        if self.bitmap.len() != needed {
            return Some(IndexProofError::BitmapLength {
                depth,
                len: self.bitmap.len(),
                needed,
            });
        }
        if !depth.is_multiple_of(8) && self.bitmap[needed - 1] & (0xff >> (depth % 8)) != 0 {
            return Some(IndexProofError::BitmapPadding { depth });
        }
        let marked = self.bitmap.iter().map(|b| b.count_ones() as usize).sum();
        if marked != self.siblings.len() {
            return Some(IndexProofError::SiblingCount {
                marked,
                sent: self.siblings.len(),
            });
        }
        if let Some(i) = self.siblings.iter().position(|h| *h == Hash::ZERO) {
            let level = (0..depth).filter(|&l| self.marks(l)).nth(i).unwrap_or(i);
            return Some(IndexProofError::EmptySiblingSent { level });
        }
        // Beside the terminal there must be a non-empty subtree, or the terminal's
        // parent holds at most the terminal's one key and the walk ends there. Nor can a
        // subtree at depth 256 be empty beside a non-empty one: their parent would hold a
        // single key.
        let deepest_empty = depth > 0 && !self.marks(depth - 1);
        let empty_at_bottom = depth == MAX_PROOF_DEPTH && self.terminal == Terminal::Empty;
        if deepest_empty || empty_at_bottom {
            return Some(IndexProofError::NotMinimal { depth });
        }
        None
    }
}

/// How a proof travels: the same fields, with the lists bounded before anything is
/// allocated; decoding then checks the shape.
#[derive(Serialize, Deserialize)]
struct ProofRepr {
    depth: u16,
    #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_BITMAP_BYTES>")]
    bitmap: Vec<u8>,
    #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_PROOF_DEPTH>")]
    siblings: Vec<Hash>,
    terminal: Terminal,
}

impl From<IndexProof> for ProofRepr {
    fn from(p: IndexProof) -> ProofRepr {
        ProofRepr {
            depth: p.depth,
            bitmap: p.bitmap,
            siblings: p.siblings,
            terminal: p.terminal,
        }
    }
}

impl TryFrom<ProofRepr> for IndexProof {
    type Error = IndexProofError;
    fn try_from(r: ProofRepr) -> Result<IndexProof, IndexProofError> {
        let proof = IndexProof {
            depth: r.depth,
            bitmap: r.bitmap,
            siblings: r.siblings,
            terminal: r.terminal,
        };
        match proof.shape_error() {
            Some(e) => Err(e),
            None => Ok(proof),
        }
    }
}

/// The hash of a subtree holding exactly one key: it commits to the whole path, so it
/// is the same at whatever depth the key sits.
pub fn leaf_hash(path: &IndexPath, value: &Hash) -> Hash {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(path);
    buf[32..].copy_from_slice(value.as_bytes());
    hash_with_domain(domain::INDEX_LEAF, &buf)
}

/// The hash of a subtree holding two or more keys, from the hashes of its halves (the
/// keys whose next bit is 0, then those whose next bit is 1).
pub fn branch_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(left.as_bytes());
    buf[32..].copy_from_slice(right.as_bytes());
    hash_with_domain(domain::INDEX_BRANCH, &buf)
}

/// The hash at depth `from` of a subtree whose keys all share `path`'s bits `from..to`
/// and whose hash at depth `to` is `h`: one branch per level with an empty other half.
pub(super) fn lift(mut h: Hash, path: &IndexPath, from: usize, to: usize) -> Hash {
    for level in (from..to).rev() {
        h = if bit(path, level) == 0 {
            branch_hash(&h, &Hash::ZERO)
        } else {
            branch_hash(&Hash::ZERO, &h)
        };
    }
    h
}
