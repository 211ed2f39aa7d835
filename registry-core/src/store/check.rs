//! The cheap start-up check that [`Ledger::open`](super::Ledger::open) runs; what it
//! checks and what it leaves to full verification is listed in the `store` module
//! documentation.

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
