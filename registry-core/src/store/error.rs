//! Errors of the ledger: local failures, damage found on disk, and refused batches.

use std::path::PathBuf;

use crate::genesis::GenesisError;
use crate::hash::{EntryId, RegistryId};

use super::verify::VerifyError;

/// Why a ledger operation failed.
///
/// Each message carries its cause, so no variant also exposes it as
/// [`std::error::Error::source`] (a printer of the whole chain would say it twice).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled reported a failure (I/O, or damage it detected itself). The message says it
    /// in plain words ([`describe_sled`]); `Debug` keeps sled's own report.
    #[error("ledger storage failed: {}", describe_sled(.0))]
    Sled(sled::Error),
    #[error("cannot read {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
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
    InvalidGenesis(GenesisError),
    /// A ledger record outside the chain (format version, genesis, head record) is damaged.
    #[error("ledger is corrupt: {what}")]
    Corrupt { what: String },
    /// The chain is damaged; found by the start-up check or while reading.
    #[error("ledger is damaged: {0}")]
    Damaged(VerifyError),
    #[error("entry {0} is already in the ledger")]
    Duplicate(EntryId),
    #[error("batch refused, nothing written: {0}")]
    BadBatch(BatchError),
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
            StoreError::Io { error, .. } => error,
            _ => return false,
        };
        matches!(io.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> StoreError {
        StoreError::Sled(e)
    }
}

impl From<GenesisError> for StoreError {
    fn from(e: GenesisError) -> StoreError {
        StoreError::InvalidGenesis(e)
    }
}

impl From<BatchError> for StoreError {
    fn from(e: BatchError) -> StoreError {
        StoreError::BadBatch(e)
    }
}

/// A sled error in plain words. sled's own `Display` of damage reads "Read corrupted data
/// at file offset None backtrace ()", internals that tell an operator nothing; the
/// position, when sled knows it, is kept as a number.
pub fn describe_sled(e: &sled::Error) -> String {
    match e {
        sled::Error::Io(io) => format!("I/O error: {io}"),
        sled::Error::Corruption { at: Some(at), .. } => {
            format!(
                "its files hold damaged data (found at log position {})",
                at.lid()
            )
        }
        sled::Error::Corruption { at: None, .. } => "its files hold damaged data".into(),
        sled::Error::CollectionNotFound(_) => "a part of the database is missing".into(),
        sled::Error::Unsupported(why) => format!("the storage library refused: {why}"),
        sled::Error::ReportableBug(what) => format!("the storage library failed: {what}"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sled_errors_are_said_in_plain_words_and_once() {
        let damaged = StoreError::Sled(sled::Error::Corruption { at: None, bt: () });
        let shown = damaged.to_string();
        assert_eq!(shown, "ledger storage failed: its files hold damaged data");
        assert!(std::error::Error::source(&damaged).is_none());
        let io = StoreError::Sled(sled::Error::Io(std::io::Error::other("disk gone")));
        assert_eq!(
            io.to_string(),
            "ledger storage failed: I/O error: disk gone"
        );
        let read = StoreError::Io {
            path: PathBuf::from("/x"),
            error: std::io::Error::other("denied"),
        };
        assert_eq!(read.to_string(), "cannot read /x: denied");
        assert!(std::error::Error::source(&read).is_none());
    }
}
