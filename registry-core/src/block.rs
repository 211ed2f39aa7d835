//! Blocks of the local ledger: the node's own record of when it learned which entries.

use serde::{Deserialize, Serialize};

use crate::codec::{self, domain, DecodeError, MAX_BLOCK_BYTES};
use crate::hash::{EntryId, Hash};
use crate::time::Timestamp;

/// Most entries in one block (the group-commit batch size).
pub const MAX_BLOCK_ENTRIES: usize = 1024;

/// One link of the ledger's hash chain. Block heights start at 1; block 1's `prev` is the
/// registry id, which ties the chain to its genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Block {
    pub height: u64,
    pub prev: Hash,
    pub timestamp: Timestamp,
    /// Ids of the entries accepted in this block, in acceptance order.
    #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_BLOCK_ENTRIES>")]
    pub entries: Vec<EntryId>,
    /// State root over every entry accepted up to and including this block.
    pub state_root: Hash,
}

impl Block {
    /// `blake3(domain "trust-registry/block/v1" || encode(block))`.
    pub fn hash(&self) -> Hash {
        codec::hash_value(domain::BLOCK, self)
    }

    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<Block, DecodeError> {
        codec::decode(bytes, MAX_BLOCK_BYTES)
    }
}
