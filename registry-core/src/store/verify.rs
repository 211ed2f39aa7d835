//! Full verification of a ledger, and the [`Damage`] it reports. The checks, in order, are
//! listed in the `store` module documentation.

use std::fmt;

use crate::block::{Block, MAX_BLOCK_ENTRIES};
use crate::codec::{domain, hash_with_domain};
use crate::entry::SignedEntry;
use crate::hash::{EntryId, Hash, RegistryId};
use crate::trie::Trie;
use crate::verify::Verifier;

use super::layout::{self, HeadRecord, BLOCK_PREFIX, ENTRY_PREFIX, SIGNATURES_PREFIX};

/// What a successful verification covered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Blocks checked (the ledger's height).
    pub blocks: u64,
    /// Entries checked.
    pub entries: u64,
    /// Signatures verified: every signature of every listing, counted once per block that
    /// lists it (0 when signatures were skipped).
    pub signatures: u64,
    /// The state root after the last block (`Hash::ZERO` when empty).
    pub state_root: Hash,
}

/// The first damage found, and the height of the block it is in (or, for problems with
/// the head record, the height the head record names).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("block {height}: {problem}")]
pub struct VerifyError {
    pub height: u64,
    pub problem: Damage,
}

/// A way in which a ledger can be damaged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Damage {
    /// Reading from sled failed.
    Storage(String),
    /// A key with the block prefix is not prefix + 8-byte height.
    BadBlockKey,
    /// No block is stored at this height although the head is at or above it.
    MissingBlock,
    /// A block is stored above the head.
    BlockBeyondHead,
    BadBlockEncoding(String),
    /// The block stored under this height says it has another height.
    WrongHeight {
        found: u64,
    },
    /// The block's `prev` is not the hash of the block before it.
    BrokenLink {
        expected: Hash,
        found: Hash,
    },
    /// The block lists no entries, or more than a block may hold.
    BadEntryCount(usize),
    /// The block lists an id twice, or lists again an id an earlier block listed without
    /// a signature set that differs from the one it had.
    RepeatedEntry(EntryId),
    /// The block lists again an entry an earlier block listed, but no signature record
    /// for this block is stored.
    MissingSignatures(EntryId),
    MissingEntry(EntryId),
    BadEntryEncoding(EntryId, String),
    /// The stored entry's body hashes to another id than the one it is stored and listed under.
    EntryIdMismatch(EntryId),
    /// The entry was stored with another block's height.
    EntryHeightMismatch {
        id: EntryId,
        stored: u64,
    },
    /// The entry fails the structural checks every accepted entry passes.
    InvalidEntry(EntryId, String),
    BadSignature(EntryId, String),
    /// The block's state root is not the root over the ids up to it.
    StateRootMismatch {
        stored: Hash,
        computed: Hash,
    },
    /// The head record disagrees with the chain.
    HeadMismatch(String),
    /// Entries are stored that no block lists.
    UnlistedEntries {
        stored: u64,
        listed: u64,
    },
    /// The chain ends below the block the head witness records: sled dropped the tail of
    /// its log after a damaged or truncated record.
    LostBlocks {
        witnessed: u64,
        witnessed_entries: u64,
    },
    /// The block at the witnessed height hashes to another hash than the witness records.
    WitnessMismatch {
        witnessed: Hash,
        found: Hash,
    },
    /// The head witness file is missing or damaged.
    BadWitness(String),
    /// sled panicked while the ledger was read.
    Panicked(String),
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::Storage(e) => write!(f, "reading the ledger failed: {e}"),
            Damage::BadBlockKey => write!(f, "malformed block key"),
            Damage::MissingBlock => write!(f, "block is missing"),
            Damage::BlockBeyondHead => write!(f, "block is stored above the head"),
            Damage::BadBlockEncoding(e) => write!(f, "block does not decode: {e}"),
            Damage::WrongHeight { found } => write!(f, "block says it has height {found}"),
            Damage::BrokenLink { expected, found } => {
                write!(
                    f,
                    "broken link: prev is {found}, the block before hashes to {expected}"
                )
            }
            Damage::BadEntryCount(n) => {
                write!(
                    f,
                    "block lists {n} entries (must be 1 to {MAX_BLOCK_ENTRIES})"
                )
            }
            Damage::RepeatedEntry(id) => write!(
                f,
                "entry {id} is listed twice in the block, or again without new signatures"
            ),
            Damage::MissingSignatures(id) => write!(
                f,
                "entry {id} is listed again but its signature record for this block is missing"
            ),
            Damage::MissingEntry(id) => write!(f, "entry {id} is missing"),
            Damage::BadEntryEncoding(id, e) => write!(f, "entry {id} does not decode: {e}"),
            Damage::EntryIdMismatch(id) => {
                write!(
                    f,
                    "entry stored as {id} hashes to another id (its content changed)"
                )
            }
            Damage::EntryHeightMismatch { id, stored } => {
                write!(f, "entry {id} is stored with height {stored}")
            }
            Damage::InvalidEntry(id, e) => write!(f, "entry {id} is invalid: {e}"),
            Damage::BadSignature(id, e) => write!(f, "entry {id} has a bad signature: {e}"),
            Damage::StateRootMismatch { stored, computed } => {
                write!(
                    f,
                    "state root is {stored}, the entries up to this block give {computed}"
                )
            }
            Damage::HeadMismatch(e) => write!(f, "head record disagrees with the chain: {e}"),
            Damage::UnlistedEntries { stored, listed } => {
                write!(
                    f,
                    "{stored} entries and signature records are stored but blocks list {listed}"
                )
            }
            Damage::LostBlocks {
                witnessed,
                witnessed_entries,
            } => write!(
                f,
                "block is missing: the head witness records {witnessed} blocks and \
                 {witnessed_entries} entries, the ledger holds fewer (sled dropped what \
                 followed a damaged or truncated record in its log file `db`)"
            ),
            Damage::WitnessMismatch { witnessed, found } => write!(
                f,
                "the head witness records block hash {witnessed}, the block hashes to {found}"
            ),
            Damage::BadWitness(e) => write!(f, "head witness: {e}"),
            Damage::Panicked(e) => write!(f, "sled failed reading its files: {e}"),
        }
    }
}

pub(super) fn damage(height: u64, problem: Damage) -> VerifyError {
    VerifyError { height, problem }
}

fn storage(height: u64, e: sled::Error) -> VerifyError {
    damage(height, Damage::Storage(super::error::describe_sled(&e)))
}

/// Decodes the block stored under `height` and checks its height field and entry count.
/// Returns the block and its hash.
pub(super) fn decode_block(height: u64, bytes: &[u8]) -> Result<(Block, Hash), VerifyError> {
    let block = Block::decode(bytes)
        .map_err(|e| damage(height, Damage::BadBlockEncoding(e.to_string())))?;
    if block.height != height {
        return Err(damage(
            height,
            Damage::WrongHeight {
                found: block.height,
            },
        ));
    }
    if block.entries.is_empty() || block.entries.len() > MAX_BLOCK_ENTRIES {
        return Err(damage(height, Damage::BadEntryCount(block.entries.len())));
    }
    // The block decoded canonically, so these bytes are its encoding.
    Ok((block, hash_with_domain(domain::BLOCK, bytes)))
}

/// Reads and decodes the block at `height`; a missing block is damage.
pub(super) fn read_block(db: &sled::Db, height: u64) -> Result<(Block, Hash), VerifyError> {
    match db.get(layout::block_key(height)) {
        Ok(Some(bytes)) => decode_block(height, &bytes),
        Ok(None) => Err(damage(height, Damage::MissingBlock)),
        Err(e) => Err(storage(height, e)),
    }
}

/// Reads the entry `id` listed in the block at `height`, checking that it is stored,
/// decodes and has that id. The first listing of an entry is the height it was stored
/// with; a later listing (the entry gained signatures) takes the signature set recorded
/// for that height. Returns the entry as of that block and the height of its first
/// listing (equal to `height` when this is it).
pub(super) fn read_listed_entry(
    db: &sled::Db,
    height: u64,
    id: &EntryId,
) -> Result<(SignedEntry, u64), VerifyError> {
    let value = match db.get(layout::entry_key(id)) {
        Ok(Some(v)) => v,
        Ok(None) => return Err(damage(height, Damage::MissingEntry(*id))),
        Err(e) => return Err(storage(height, e)),
    };
    let (stored, mut entry) = layout::parse_entry_value(&value)
        .map_err(|e| damage(height, Damage::BadEntryEncoding(*id, e)))?;
    if entry.id() != *id {
        return Err(damage(height, Damage::EntryIdMismatch(*id)));
    }
    if stored == height {
        return Ok((entry, stored));
    }
    if stored > height {
        return Err(damage(
            height,
            Damage::EntryHeightMismatch { id: *id, stored },
        ));
    }
    let sigs = match db.get(layout::signatures_key(id, height)) {
        Ok(Some(v)) => v,
        Ok(None) => return Err(damage(height, Damage::MissingSignatures(*id))),
        Err(e) => return Err(storage(height, e)),
    };
    entry.signatures = layout::parse_signatures(&sigs)
        .map_err(|e| damage(height, Damage::BadEntryEncoding(*id, e)))?;
    Ok((entry, stored))
}

/// The running state of a verification between blocks.
struct Walk<'a> {
    db: &'a sled::Db,
    registry_id: RegistryId,
    trie: Trie,
    verifier: Verifier,
    prev_hash: Hash,
    entries: u64,
    /// Listings of entries listed before (each has a signature record).
    relistings: u64,
    /// Signatures verified so far.
    verified: u64,
    state_root: Hash,
    signatures: Signatures,
    /// The entries read, in ledger order, when the caller asked for them.
    kept: Option<Vec<SignedEntry>>,
}

/// Whether a verification checks signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signatures {
    Check,
    /// Everything but signatures: hashing and decoding only, no public-key work.
    Skip,
}

impl Walk<'_> {
    fn check_block(&mut self, height: u64, bytes: &[u8]) -> Result<(), VerifyError> {
        let (block, hash) = decode_block(height, bytes)?;
        if block.prev != self.prev_hash {
            let problem = Damage::BrokenLink {
                expected: self.prev_hash,
                found: block.prev,
            };
            return Err(damage(height, problem));
        }
        let mut loaded = Vec::with_capacity(block.entries.len());
        let mut in_block = std::collections::HashSet::with_capacity(block.entries.len());
        let mut first_listings = 0;
        for id in &block.entries {
            if !in_block.insert(*id) {
                return Err(damage(height, Damage::RepeatedEntry(*id)));
            }
            let (entry, stored) = read_listed_entry(self.db, height, id)?;
            let first = stored == height;
            if first == self.trie.contains(id) {
                // Stored with this height yet listed before, or listed again with no
                // earlier listing: the entry record and the chain disagree.
                return Err(damage(
                    height,
                    Damage::EntryHeightMismatch { id: *id, stored },
                ));
            }
            entry
                .check_structure(&self.registry_id)
                .map_err(|e| damage(height, Damage::InvalidEntry(*id, e.to_string())))?;
            let digest = entry.signatures_digest();
            if first {
                self.trie.insert(*id, digest);
                first_listings += 1;
            } else if !self.trie.update(id, digest) {
                return Err(damage(height, Damage::RepeatedEntry(*id)));
            }
            loaded.push(entry);
        }
        if self.signatures == Signatures::Check {
            let results = self.verifier.verify_entries(&loaded);
            for (id, result) in block.entries.iter().zip(results) {
                result.map_err(|e| damage(height, Damage::BadSignature(*id, e.to_string())))?;
            }
            let signatures: usize = loaded.iter().map(|e| e.signatures.len()).sum();
            self.verified += signatures as u64;
        }
        let computed = self.trie.rehash();
        if computed != block.state_root {
            let problem = Damage::StateRootMismatch {
                stored: block.state_root,
                computed,
            };
            return Err(damage(height, problem));
        }
        self.prev_hash = hash;
        self.entries += first_listings;
        self.relistings += block.entries.len() as u64 - first_listings;
        self.state_root = computed;
        if let Some(kept) = &mut self.kept {
            kept.extend(loaded);
        }
        Ok(())
    }
}

/// Verifies the whole ledger against its registry id and head record (see the module
/// documentation for what is checked, in which order).
/// With `keep`, also returns every entry in ledger order.
pub(super) fn verify_chain(
    db: &sled::Db,
    registry_id: RegistryId,
    head: &HeadRecord,
    signatures: Signatures,
    keep: bool,
) -> Result<(VerifyReport, Vec<SignedEntry>), VerifyError> {
    let mut walk = Walk {
        db,
        registry_id,
        trie: Trie::new(),
        verifier: Verifier::new(),
        prev_hash: registry_id,
        entries: 0,
        relistings: 0,
        verified: 0,
        state_root: Hash::ZERO,
        signatures,
        kept: keep.then(|| Vec::with_capacity(head.entries.min(1 << 24) as usize)),
    };
    let mut expected: u64 = 1;
    for item in db.scan_prefix([BLOCK_PREFIX]) {
        let (key, bytes) = item.map_err(|e| storage(expected, e))?;
        let height =
            layout::block_key_height(&key).ok_or_else(|| damage(expected, Damage::BadBlockKey))?;
        if height > head.height {
            return Err(damage(height, Damage::BlockBeyondHead));
        }
        if height != expected {
            return Err(damage(expected, Damage::MissingBlock));
        }
        walk.check_block(height, &bytes)?;
        expected = expected.saturating_add(1);
    }
    let blocks = expected - 1;
    if blocks != head.height {
        return Err(damage(expected, Damage::MissingBlock));
    }
    let mismatch = |what: String| damage(head.height, Damage::HeadMismatch(what));
    if walk.prev_hash != head.hash {
        return Err(mismatch(format!(
            "it names block hash {}, the last block hashes to {}",
            head.hash, walk.prev_hash
        )));
    }
    if walk.entries != head.entries {
        return Err(mismatch(format!(
            "it counts {} entries, the blocks list {}",
            head.entries, walk.entries
        )));
    }
    let mut stored: u64 = 0;
    for prefix in [ENTRY_PREFIX, SIGNATURES_PREFIX] {
        for item in db.scan_prefix([prefix]) {
            item.map_err(|e| storage(head.height, e))?;
            stored += 1;
        }
    }
    let listed = walk.entries + walk.relistings;
    if stored != listed {
        let problem = Damage::UnlistedEntries { stored, listed };
        return Err(damage(head.height, problem));
    }
    let report = VerifyReport {
        blocks,
        entries: walk.entries,
        signatures: walk.verified,
        state_root: walk.state_root,
    };
    Ok((report, walk.kept.unwrap_or_default()))
}
