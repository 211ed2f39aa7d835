//! The cheap start-up check that [`Ledger::open`](super::Ledger::open) runs.
//!
//! It reads a bounded amount (the metadata, at most three blocks and the head block's
//! entries), so opening costs the same at a million entries as at ten. It checks:
//!
//! - the format version key is present (else: not a ledger) and is [`FORMAT_VERSION`];
//! - the genesis decodes canonically and validates;
//! - the head record decodes; if the ledger is empty it names the registry id and zero
//!   entries;
//! - no block is stored just above the head (a head record rolled back);
//! - the head block exists, decodes, has the head's height, lists 1..=`MAX_BLOCK_ENTRIES`
//!   ids and hashes to the hash the head record names;
//! - its `prev` is the hash of the block before it (which must exist and decode), or the
//!   registry id for block 1;
//! - the head record's entry count is possible for that many blocks;
//! - every entry the head block lists is stored, decodes, has the listed id and was stored
//!   with the head's height.
//!
//! Left to [`verify`](super::Ledger::verify): blocks below the head's parent, entries of
//! earlier blocks, signatures, state roots, the exact entry count, and entries no block
//! lists.
//!
//! [`FORMAT_VERSION`]: super::FORMAT_VERSION

use std::path::Path;

use crate::block::{Block, MAX_BLOCK_ENTRIES};
use crate::codec::{self, MAX_MESSAGE_BYTES};
use crate::genesis::Genesis;
use crate::hash::RegistryId;

use super::error::{corrupt, StoreError};
use super::layout::{self, HeadRecord, FORMAT_VERSION, GENESIS_KEY, HEAD_KEY, VERSION_KEY};
use super::verify::{damage, read_block, read_listed_entry, Damage};

/// Checks the format version; a sled database without one is not a ledger.
pub(super) fn check_version(db: &sled::Db, dir: &Path) -> Result<(), StoreError> {
    let Some(bytes) = db.get(VERSION_KEY)? else {
        return Err(StoreError::NotALedger {
            path: dir.to_path_buf(),
            reason: "the sled database there holds no ledger format version".into(),
        });
    };
    match layout::parse_version(&bytes) {
        Some(FORMAT_VERSION) => Ok(()),
        Some(found) => Err(StoreError::WrongFormatVersion {
            found,
            supported: FORMAT_VERSION,
        }),
        None => Err(corrupt(format!(
            "format version record is {} bytes, not 4",
            bytes.len()
        ))),
    }
}

pub(super) fn read_genesis(db: &sled::Db) -> Result<Genesis, StoreError> {
    let bytes = db
        .get(GENESIS_KEY)?
        .ok_or_else(|| corrupt("genesis record is missing"))?;
    let genesis: Genesis = codec::decode(&bytes, MAX_MESSAGE_BYTES)
        .map_err(|e| corrupt(format!("genesis record does not decode: {e}")))?;
    genesis
        .validate()
        .map_err(|e| corrupt(format!("stored genesis is invalid: {e}")))?;
    Ok(genesis)
}

pub(super) fn read_head_record(db: &sled::Db) -> Result<HeadRecord, StoreError> {
    let bytes = db
        .get(HEAD_KEY)?
        .ok_or_else(|| corrupt("head record is missing"))?;
    HeadRecord::decode(&bytes).map_err(|e| corrupt(format!("head record does not decode: {e}")))
}

/// Checks the tip of the chain against the head record; returns the head block.
pub(super) fn check_head(
    db: &sled::Db,
    registry_id: RegistryId,
    head: &HeadRecord,
) -> Result<Option<Block>, StoreError> {
    let above = head
        .height
        .checked_add(1)
        .ok_or_else(|| corrupt("head height overflows"))?;
    if db.contains_key(layout::block_key(above))? {
        return Err(damage(above, Damage::BlockBeyondHead).into());
    }
    if head.height == 0 {
        if head.hash != registry_id || head.entries != 0 {
            return Err(corrupt(format!(
                "head record of an empty ledger names hash {} and {} entries \
                 (expected the registry id {registry_id} and 0)",
                head.hash, head.entries
            )));
        }
        return Ok(None);
    }
    let (block, hash) = read_block(db, head.height)?;
    let mismatch = |what: String| damage(head.height, Damage::HeadMismatch(what));
    if hash != head.hash {
        let what = format!(
            "it names block hash {}, the block hashes to {hash}",
            head.hash
        );
        return Err(mismatch(what).into());
    }
    let expected_prev = match head.height {
        1 => registry_id,
        h => read_block(db, h - 1)?.1,
    };
    if block.prev != expected_prev {
        let problem = Damage::BrokenLink {
            expected: expected_prev,
            found: block.prev,
        };
        return Err(damage(head.height, problem).into());
    }
    // Every block holds 1..=MAX_BLOCK_ENTRIES entries.
    let least = (head.height - 1).saturating_add(block.entries.len() as u64);
    let most = head.height.saturating_mul(MAX_BLOCK_ENTRIES as u64);
    if head.entries < least || head.entries > most {
        let what = format!(
            "it counts {} entries, impossible for {} blocks",
            head.entries, head.height
        );
        return Err(mismatch(what).into());
    }
    for id in &block.entries {
        read_listed_entry(db, head.height, id)?;
    }
    Ok(Some(block))
}
