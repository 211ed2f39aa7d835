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
use super::witness;

/// sled's configuration file `conf` ends with a CRC-32 of the rest, which sled checks
/// only with a warning (it then parses the text, and a changed figure in it makes sled
/// refuse or misread the log). A `conf` of 8 bytes or less sled treats as absent and
/// writes anew, which is harmless.
pub(super) fn check_sled_conf(dir: &Path) -> Result<(), StoreError> {
    let path = dir.join("conf");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(StoreError::Io {
                path,
                error: source,
            })
        }
    };
    let Some((body, crc)) = bytes.split_last_chunk::<4>().filter(|_| bytes.len() > 8) else {
        return Ok(());
    };
    if crc32fast::hash(body) != u32::from_le_bytes(*crc) {
        return Err(StoreError::Unreadable {
            path: dir.to_path_buf(),
            file: "conf",
            detail: "sled's configuration fails its checksum".into(),
        });
    }
    Ok(())
}

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
    // Every block lists 1..=MAX_BLOCK_ENTRIES entries; a listing may be an entry listed
    // before with new signatures, so only the first block must add one.
    let least = 1;
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

/// Checks the chain against the head witness (see the `witness` module): the block it
/// names must be in the chain with the hash it names. The ledger may be ahead of its
/// witness (a crash between sled's flush and the witness's rename), never behind it.
pub(super) fn check_witness(
    db: &sled::Db,
    dir: &Path,
    head: &HeadRecord,
) -> Result<(), StoreError> {
    let witnessed =
        witness::read(dir).map_err(|e| damage(head.height, Damage::BadWitness(e.to_string())))?;
    if witnessed.height > head.height || witnessed.entries > head.entries {
        let problem = Damage::LostBlocks {
            witnessed: witnessed.height,
            witnessed_entries: witnessed.entries,
        };
        return Err(damage(head.height.saturating_add(1), problem).into());
    }
    let found = match witnessed.height {
        0 => head_zero_hash(db)?,
        h => read_block(db, h)?.1,
    };
    if found != witnessed.hash {
        let problem = Damage::WitnessMismatch {
            witnessed: witnessed.hash,
            found,
        };
        return Err(damage(witnessed.height, problem).into());
    }
    Ok(())
}

/// What an empty ledger's witness names: the registry id.
fn head_zero_hash(db: &sled::Db) -> Result<RegistryId, StoreError> {
    Ok(read_genesis(db)?.registry_id())
}
