//! The local ledger: a hash chain of blocks and the entries they hold, in sled.
//!
//! A [`Ledger`] is the one writer of its sled database. [`Ledger::append`] writes a block,
//! its entries and the new head in one atomic sled batch and flushes before returning, so
//! an appended block is durable once `append` returns (group commit: callers gather
//! entries into blocks of up to `MAX_BLOCK_ENTRIES`).
//!
//! # On-disk layout
//!
//! Everything lives in sled's default tree under a one-byte prefix, so that one
//! `sled::Batch` (atomic) carries a whole block and each entry costs one write:
//!
//! | key | value |
//! | --- | --- |
//! | `m` `format-version` | [`FORMAT_VERSION`], 4 bytes big-endian |
//! | `m` `genesis` | encoded [`Genesis`] |
//! | `m` `head` | encoded head record: height, last block hash, entry count |
//! | `b` height (8 bytes big-endian) | encoded [`Block`] |
//! | `e` entry id (32 bytes) | height of its first block (8 bytes big-endian) ++ encoded [`SignedEntry`] as first listed |
//! | `s` entry id ++ height | encoded signature set (`Vec<Signature>`) the entry has from that block on |
//! | `p` entry id | encoded [`SignedEntry`] acknowledged as pending, until accepted, rejected or evicted |
//! | `q` entry id | the [`Source`](crate::pending::Source) the pending entry `p` came from (17 bytes); written and removed with it |
//!
//! An entry whose signature set grows (another copy brought signatures that count) is
//! listed again by a later block, which records its whole new set under `s`; the `e`
//! record never changes. The entry's current copy is its body with the last set.
//!
//! Beside sled's files, `head-witness` records the last durable head (see [`witness`]).
//!
//! Big-endian heights make sled's key order the chain order. The head of an empty ledger
//! names height 0, the registry id and 0 entries. Every value read back is decoded with
//! the codec's limits, so a damaged file is an error, never a panic.
//!
//! # Start-up check ([`Ledger::open`])
//!
//! Reads a bounded amount (the metadata, at most three blocks and the head block's
//! entries), so it costs the same at a million entries as at ten:
//!
//! - the format version is present (else: not a ledger) and is [`FORMAT_VERSION`];
//! - the genesis decodes canonically and validates;
//! - the head record decodes; for an empty ledger it names the registry id and 0 entries;
//! - no block is stored just above the head (a head record that went back);
//! - the head block exists, decodes, has the head's height, lists 1..=`MAX_BLOCK_ENTRIES`
//!   ids and hashes to the hash the head record names;
//! - its `prev` is the hash of the block before it (which must exist and decode), or the
//!   registry id for block 1;
//! - the head record's entry count is possible for that many blocks;
//! - every entry the head block lists is stored, decodes, hashes to the listed id and was
//!   stored with the head's height;
//! - sled's `conf` passes its checksum (sled itself only warns), and the block the head
//!   witness file names (see [`witness`]) is in the chain with the hash it names: sled
//!   silently drops the tail of a damaged or truncated log, which only the witness shows.
//!
//! sled errors and panics while opening become [`StoreError::Unreadable`], naming the
//! file; a panic while verifying becomes [`Damage::Panicked`].
//!
//! Left to [`Ledger::verify`]: blocks below the head's parent, entries of earlier blocks,
//! signatures, state roots, the exact entry count, and entries that no block lists.
//!
//! # Full verification ([`Ledger::verify`])
//!
//! Walks every block in height order and stops at the first problem, naming its height.
//! For each block, in this order:
//!
//! 1. its key is well formed, is the next height (no gap), and is not above the head;
//! 2. it decodes (canonically, within the block limit), its `height` field is the height
//!    it is stored under, and it lists 1..=`MAX_BLOCK_ENTRIES` ids;
//! 3. its `prev` is the hash of the block before (block 1: the registry id);
//! 4. no id is listed twice in it;
//! 5. each listed entry is stored, decodes and hashes to the listed id; on its first
//!    listing it was stored with this block's height, on a later one a signature record
//!    for this height exists and differs from the set it had; as of this block it passes
//!    `SignedEntry::check_structure` (right registry, 1 to `MAX_SIGNATURES` distinct
//!    signers, well-formed operation);
//! 6. every signature verifies (strict checks, one batch per block);
//! 7. its `state_root` is the trie root over every id listed up to and including it, each
//!    with the digest of its signature set as of this block.
//!
//! Then: the head record names the last block's height and hash and the total entry
//! count, and no entry or signature record is stored that no block lists. Verification does not judge whether
//! the entries were acceptable (authority, references, depth): that is the registry's job
//! when it rebuilds its state from [`Ledger::entries`].
//!
//! # Modules
//!
//! `layout` (keys and values), `open` (sled's file lock and leftover files), `check` (the
//! start-up check), `verify` (full verification and [`Damage`]), `read` (every entry
//! back, for rebuilding state), `pending` (the pending records), `witness` (the head
//! witness file), `error` ([`StoreError`], [`BatchError`]).
//!
//! # Opening a ledger in use
//!
//! [`Ledger::open`] and [`Ledger::create`] answer [`StoreError::InUse`] at once when the
//! database's file lock is held, without waiting. sled lets go of the lock from a
//! background thread shortly after a ledger is dropped, so a caller that reopens a
//! ledger it has just closed retries on `InUse` for a moment itself.

mod check;
mod error;
mod layout;
mod open;
mod pending;
mod read;
mod verify;
pub mod witness;

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use crate::block::{Block, MAX_BLOCK_ENTRIES};
use crate::codec::{domain, hash_with_domain, MAX_MESSAGE_BYTES};
use crate::entry::SignedEntry;
use crate::genesis::Genesis;
use crate::hash::{EntryId, Hash, RegistryId};
use crate::time::Timestamp;

pub use error::{BatchError, StoreError};
pub use layout::FORMAT_VERSION;
#[cfg(any(test, feature = "test-utils"))]
pub use open::open_raw_database;
pub use verify::{Damage, Signatures, VerifyError, VerifyReport};

use error::corrupt;
use layout::HeadRecord;
use open::{has_sled_files, open_db};

/// An entry as stored, with the height of the block that holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    pub entry: SignedEntry,
    pub height: u64,
}

/// The hash-chained ledger of one registry, in one sled database.
#[derive(Debug)]
pub struct Ledger {
    db: sled::Db,
    /// The ledger directory (sled's files and the head witness).
    dir: PathBuf,
    genesis: Genesis,
    registry_id: RegistryId,
    head_record: HeadRecord,
    head: Option<Block>,
    /// Set when a write or flush failed: what is on disk is then uncertain.
    failed: Option<String>,
}

impl Ledger {
    /// Creates a new ledger in `dir` (created if missing) for `genesis`. Refuses a
    /// directory that already holds a ledger or any other sled database.
    pub fn create(dir: &Path, genesis: &Genesis) -> Result<Ledger, StoreError> {
        genesis.validate()?;
        if has_sled_files(dir) {
            return Err(StoreError::AlreadyExists {
                path: dir.to_path_buf(),
            });
        }
        let db = open_db(dir)?;
        if !db.is_empty() {
            return Err(StoreError::AlreadyExists {
                path: dir.to_path_buf(),
            });
        }
        let registry_id = genesis.registry_id();
        let head_record = HeadRecord {
            height: 0,
            hash: registry_id,
            entries: 0,
        };
        let mut batch = sled::Batch::default();
        batch.insert(layout::VERSION_KEY, &layout::version_value());
        batch.insert(layout::GENESIS_KEY, crate::codec::encode(genesis));
        batch.insert(layout::HEAD_KEY, head_record.encode());
        db.apply_batch(batch)?;
        db.flush()?;
        let empty = witness::Witness {
            height: 0,
            hash: registry_id,
            entries: 0,
        };
        witness::write(dir, &empty).map_err(|source| StoreError::Io {
            path: witness::path(dir),
            error: source,
        })?;
        Ok(Ledger {
            db,
            dir: dir.to_path_buf(),
            genesis: genesis.clone(),
            registry_id,
            head_record,
            head: None,
            failed: None,
        })
    }

    /// Opens an existing ledger and runs the cheap start-up check (see the [module
    /// documentation](self)): a ledger that fails it is an error naming the damage
    /// ([`StoreError::Damaged`] for the chain, [`StoreError::Corrupt`] for metadata), never
    /// repaired. Refuses a directory that holds no ledger without creating anything in it.
    pub fn open(dir: &Path) -> Result<Ledger, StoreError> {
        let not_a_ledger = |reason: &str| StoreError::NotALedger {
            path: dir.to_path_buf(),
            reason: reason.to_string(),
        };
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(not_a_ledger("it is not a directory")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(not_a_ledger("no such directory"))
            }
            Err(source) => {
                return Err(StoreError::Io {
                    path: dir.to_path_buf(),
                    error: source,
                })
            }
        }
        if !has_sled_files(dir) {
            return Err(not_a_ledger("it holds no sled database"));
        }
        // sled may panic on files damaged in ways its checksums do not cover; that is a
        // damaged ledger to name, not a crash.
        check::check_sled_conf(dir)?;
        let unreadable = |detail: String| StoreError::Unreadable {
            path: dir.to_path_buf(),
            file: "db",
            detail,
        };
        match catch_unwind(AssertUnwindSafe(|| Ledger::open_checked(dir))) {
            Ok(Err(StoreError::Sled(e))) => Err(unreadable(format!(
                "sled cannot read it: {}",
                error::describe_sled(&e)
            ))),
            // sled answers an emptied or replaced log with an empty database; the witness
            // says whether this directory held a ledger.
            Ok(Err(StoreError::NotALedger { .. })) if witness::path(dir).exists() => {
                Err(unreadable(
                    "sled finds no ledger in it, but the head witness beside it records one \
                     (the log was truncated, emptied or replaced)"
                        .into(),
                ))
            }
            Ok(result) => result,
            Err(panic) => Err(unreadable(format!(
                "sled panicked reading it: {}",
                panic_message(&panic)
            ))),
        }
    }

    fn open_checked(dir: &Path) -> Result<Ledger, StoreError> {
        let db = open_db(dir)?;
        check::check_version(&db, dir)?;
        let genesis = check::read_genesis(&db)?;
        let registry_id = genesis.registry_id();
        let head_record = check::read_head_record(&db)?;
        let head = check::check_head(&db, registry_id, &head_record)?;
        check::check_witness(&db, dir, &head_record)?;
        Ok(Ledger {
            db,
            dir: dir.to_path_buf(),
            genesis,
            registry_id,
            head_record,
            head,
            failed: None,
        })
    }

    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    pub fn registry_id(&self) -> RegistryId {
        self.registry_id
    }

    /// Appends one block holding `entries` (already accepted by the caller, in acceptance
    /// order; 1..=`MAX_BLOCK_ENTRIES` of them) with the given timestamp and state root.
    /// An entry already stored is listed again with its new signature set (the caller
    /// merged it). Entries, block and head go to disk in one atomic sled batch, then a
    /// flush; returns only once the block is durable. Refuses (writing nothing) a batch
    /// that is empty, too large, repeats an id, holds an entry already stored with the same
    /// signatures, an entry of another registry or one that encodes to more than an entry
    /// may have.
    ///
    /// After a failed write or flush the ledger refuses further appends
    /// ([`StoreError::Failed`]): reopen it to learn what reached the disk.
    pub fn append(
        &mut self,
        entries: &[SignedEntry],
        timestamp: Timestamp,
        state_root: Hash,
    ) -> Result<Block, StoreError> {
        if let Some(why) = &self.failed {
            return Err(StoreError::Failed(why.clone()));
        }
        if entries.is_empty() {
            return Err(BatchError::Empty.into());
        }
        if entries.len() > MAX_BLOCK_ENTRIES {
            let e = BatchError::TooMany {
                count: entries.len(),
                max: MAX_BLOCK_ENTRIES,
            };
            return Err(e.into());
        }
        let height = self
            .head_record
            .height
            .checked_add(1)
            .ok_or_else(|| corrupt("height overflow"))?;
        let mut batch = sled::Batch::default();
        let mut ids = Vec::with_capacity(entries.len());
        let mut seen = HashSet::with_capacity(entries.len());
        let mut new_entries: u64 = 0;
        for entry in entries {
            let id = entry.id();
            if entry.body.registry != self.registry_id {
                let (expected, got) = (self.registry_id, entry.body.registry);
                return Err(BatchError::WrongRegistry { id, expected, got }.into());
            }
            if !seen.insert(id) {
                return Err(BatchError::Repeated(id).into());
            }
            let encoded = entry.encode();
            if encoded.len() > MAX_MESSAGE_BYTES {
                let (bytes, max) = (encoded.len(), MAX_MESSAGE_BYTES);
                return Err(BatchError::EntryTooLarge { id, bytes, max }.into());
            }
            match self.entry(&id)? {
                Some(held) if held.entry.signatures == entry.signatures => {
                    return Err(StoreError::Duplicate(id));
                }
                Some(_) => batch.insert(
                    &layout::signatures_key(&id, height)[..],
                    crate::codec::encode(&entry.signatures),
                ),
                None => {
                    let key = layout::entry_key(&id);
                    batch.insert(&key[..], layout::entry_value(height, &encoded));
                    new_entries += 1;
                }
            }
            ids.push(id);
        }
        let block = Block {
            height,
            prev: self.head_record.hash,
            timestamp,
            entries: ids,
            state_root,
        };
        let encoded = block.encode();
        let head_record = HeadRecord {
            height,
            hash: hash_with_domain(domain::BLOCK, &encoded),
            entries: self.head_record.entries.saturating_add(new_entries),
        };
        batch.insert(&layout::block_key(height)[..], encoded);
        batch.insert(layout::HEAD_KEY, head_record.encode());
        if let Err(e) = self.db.apply_batch(batch) {
            self.failed = Some(e.to_string());
            return Err(e.into());
        }
        // The batch is in sled's view now; keep memory in step with it even if the flush
        // fails, so reads agree with the database.
        self.head_record = head_record;
        self.head = Some(block.clone());
        if let Err(e) = self.db.flush() {
            self.failed = Some(e.to_string());
            return Err(e.into());
        }
        let witnessed = witness::Witness {
            height,
            hash: head_record.hash,
            entries: head_record.entries,
        };
        if let Err(source) = witness::write(&self.dir, &witnessed) {
            // The block is durable, but unwitnessed; reopening accepts a ledger one block
            // ahead of its witness.
            self.failed = Some(format!("writing the head witness failed: {source}"));
            return Err(StoreError::Io {
                path: witness::path(&self.dir),
                error: source,
            });
        }
        Ok(block)
    }

    /// Height of the last block; 0 when the ledger is empty.
    pub fn height(&self) -> u64 {
        self.head_record.height
    }

    /// The last block.
    pub fn head(&self) -> Option<&Block> {
        self.head.as_ref()
    }

    /// Hash of the last block; the registry id when the ledger is empty.
    pub fn head_hash(&self) -> Hash {
        self.head_record.hash
    }

    /// Distinct entries in all blocks.
    pub fn entry_count(&self) -> u64 {
        self.head_record.entries
    }

    /// The block at `height` (`None` for 0 or above the head). A block that is missing
    /// or damaged below the head is an error.
    pub fn block(&self, height: u64) -> Result<Option<Block>, StoreError> {
        if height == 0 || height > self.height() {
            return Ok(None);
        }
        Ok(Some(verify::read_block(&self.db, height)?.0))
    }

    /// Up to `limit` consecutive blocks starting at height `from` (height 0 reads as 1).
    pub fn blocks(&self, from: u64, limit: usize) -> Result<Vec<Block>, StoreError> {
        let from = from.max(1);
        let mut out = Vec::new();
        if from > self.height() || limit == 0 {
            return Ok(out);
        }
        let range = layout::block_key(from)..=layout::block_key(self.height());
        for (expected, item) in (from..).zip(self.db.range(range).take(limit)) {
            let (key, bytes) = item?;
            if layout::block_key_height(&key) != Some(expected) {
                return Err(verify::damage(expected, Damage::MissingBlock).into());
            }
            out.push(verify::decode_block(expected, &bytes)?.0);
        }
        let wanted = (self.height() - from + 1).min(limit as u64);
        if (out.len() as u64) < wanted {
            let missing = from + out.len() as u64;
            return Err(verify::damage(missing, Damage::MissingBlock).into());
        }
        Ok(out)
    }

    /// The stored entry with this id, with its latest signature set, and the height of
    /// the block that first listed it.
    pub fn entry(&self, id: &EntryId) -> Result<Option<StoredEntry>, StoreError> {
        let Some(value) = self.db.get(layout::entry_key(id))? else {
            return Ok(None);
        };
        let (height, mut entry) = layout::parse_entry_value(&value)
            .map_err(|e| corrupt(format!("entry {id} does not decode: {e}")))?;
        if entry.id() != *id {
            return Err(corrupt(format!(
                "entry stored as {id} hashes to another id"
            )));
        }
        if let Some(item) = self.db.scan_prefix(layout::signatures_prefix(id)).last() {
            let (_, value) = item?;
            entry.signatures = layout::parse_signatures(&value)
                .map_err(|e| corrupt(format!("signatures of entry {id} do not decode: {e}")))?;
        }
        Ok(Some(StoredEntry { entry, height }))
    }

    pub fn contains(&self, id: &EntryId) -> Result<bool, StoreError> {
        Ok(self.db.contains_key(layout::entry_key(id))?)
    }

    /// Full verification (see the [module documentation](self)): re-hashes the chain, checks every entry, its
    /// signatures and every state root, and names the first bad block.
    pub fn verify(&self) -> Result<VerifyReport, VerifyError> {
        self.walk(Signatures::Check, false)
            .map(|(report, _)| report)
    }

    /// Full verification that also returns every entry in ledger order (block by block,
    /// each in block order): what a node runs at start-up before rebuilding its state
    /// from the entries. With [`Signatures::Skip`] it checks everything but signatures
    /// (they were checked before the entries were written; sled's checksums and the
    /// entry ids cover the bytes since), which keeps start-up free of public-key work.
    pub fn verify_and_load(
        &self,
        signatures: Signatures,
    ) -> Result<(VerifyReport, Vec<SignedEntry>), VerifyError> {
        self.walk(signatures, true)
    }

    fn walk(
        &self,
        signatures: Signatures,
        keep: bool,
    ) -> Result<(VerifyReport, Vec<SignedEntry>), VerifyError> {
        let run = || {
            verify::verify_chain(
                &self.db,
                self.registry_id,
                &self.head_record,
                signatures,
                keep,
            )
        };
        catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|panic| {
            Err(verify::damage(
                1,
                Damage::Panicked(panic_message(&panic).to_string()),
            ))
        })
    }

    /// The ledger directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Flushes sled's buffers (appends already flush; this is for callers that want it
    /// before exiting).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// Bytes the database occupies on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }
}

/// The text of a caught panic.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}
