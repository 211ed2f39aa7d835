//! Errors of the ledger: local failures, damage found on disk, and refused batches.

use std::path::PathBuf;

use crate::genesis::GenesisError;
use crate::hash::{EntryId, RegistryId};

use super::verify::VerifyError;

/// Why a ledger operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled reported a failure (I/O, or damage it detected itself).
    #[error("ledger storage failed: {0}")]
    Sled(#[from] sled::Error),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// sled could not read its own files (an error or a panic of sled's), or they hold
    /// less than the head witness records: `file` names the damaged one.
    #[error("{} is damaged: {detail}", path.join(file).display())]
    Unreadable {
        path: PathBuf,
        file: &'static str,
        detail: String,
    },
    #[error("the ledger in {path} is in use by another process")]
    InUse { path: PathBuf },
    #[error("a ledger (or another sled database) already exists in {path}")]
    AlreadyExists { path: PathBuf },
    #[error("{path} is not a ledger: {reason}")]
    NotALedger { path: PathBuf, reason: String },
    #[error(
        "ledger format version {found} is not supported (this software reads version \
         {supported}; version 1 ledgers predate state roots over signature sets): move it \
         aside and fetch the registry again from peers with `registry-node rebuild \
         --data-dir DIR --bootstrap MULTIADDR`"
    )]
    WrongFormatVersion { found: u32, supported: u32 },
    #[error("invalid genesis: {0}")]
    InvalidGenesis(#[from] GenesisError),
    /// A ledger record outside the chain (format version, genesis, head record) is damaged.
    #[error("ledger is corrupt: {what}")]
    Corrupt { what: String },
    /// The chain is damaged; found by the start-up check or while reading.
    #[error("ledger is damaged: {0}")]
    Damaged(VerifyError),
    #[error("entry {0} is already in the ledger")]
    Duplicate(EntryId),
    #[error("batch refused, nothing written: {0}")]
    BadBatch(#[from] BatchError),
    /// An earlier write or flush failed, so what is on disk is uncertain; reopen the
    /// ledger to find out.
    #[error("the ledger refuses writes after an earlier write failed ({0}); reopen it")]
    Failed(String),
}

/// Why a batch given to [`Ledger::append`](super::Ledger::append) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("a block needs at least one entry")]
    Empty,
    #[error("{count} entries is more than a block holds ({max})")]
    TooMany { count: usize, max: usize },
    #[error("entry {0} appears twice in the batch")]
    Repeated(EntryId),
    #[error("entry {id} is for registry {got}, this ledger is for {expected}")]
    WrongRegistry {
        id: EntryId,
        expected: RegistryId,
        got: RegistryId,
    },
    #[error("entry {id} encodes to {bytes} bytes, more than the {max} an entry may have")]
    EntryTooLarge {
        id: EntryId,
        bytes: usize,
        max: usize,
    },
}

impl StoreError {
    /// Whether the failure is the disk (or the user's quota) running out of space.
    pub fn is_out_of_space(&self) -> bool {
        use std::io::ErrorKind;
        let io = match self {
            StoreError::Sled(sled::Error::Io(io)) => io,
            StoreError::Io { source, .. } => source,
            _ => return false,
        };
        matches!(io.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
    }
}

impl From<VerifyError> for StoreError {
    fn from(e: VerifyError) -> StoreError {
        StoreError::Damaged(e)
    }
}

pub(super) fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt { what: what.into() }
}
