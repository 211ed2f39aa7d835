//! Opening the sled database behind a ledger: its file lock, and the files sled leaves
//! behind that it cannot recover from by itself.
//!
//! sled 0.34 takes an exclusive `flock` on `DIR/db` (through fs2's
//! `try_lock_exclusive`) and holds it for as long as the database lives. That lock is
//! per open file, so a second open of the same directory fails even within one process.
//! sled also releases it from a background thread shortly after the last `Db` handle is
//! dropped, so a ledger closed and reopened at once can find it still held: this module
//! answers [`StoreError::InUse`] at once, and callers that reopen a ledger they have just
//! closed retry for a moment themselves.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::path::Path;

use super::error::StoreError;

/// Whether `dir` holds sled's files (sled 0.34 writes `conf` and `db`).
pub(super) fn has_sled_files(dir: &Path) -> bool {
    dir.join("conf").exists() || dir.join("db").exists()
}

/// Opens the sled database in `dir`, or answers [`StoreError::InUse`] at once when
/// another handle (another process, or a `Db` of this one still alive or not yet
/// released) holds its file lock. The lock is probed before anything in `dir` is
/// touched, so a database in use is never modified.
pub(super) fn open_db(dir: &Path) -> Result<sled::Db, StoreError> {
    let in_use = || StoreError::InUse {
        path: dir.to_path_buf(),
    };
    if lock_is_held(dir)? {
        return Err(in_use());
    }
    remove_unfinished_snapshots(dir)?;
    match sled::open(dir) {
        Ok(db) => Ok(db),
        // The lock was taken between the probe and sled's own attempt. sled 0.34 does not
        // keep fs2's error: it reports any failure to lock as a new `ErrorKind::Other`
        // error whose only trace of the cause is its text (`Config::try_lock`). So an
        // `Other` error is taken for the lock only when a second probe finds the lock
        // held; any other failure keeps sled's own error.
        Err(sled::Error::Io(e)) if e.kind() == ErrorKind::Other => {
            if lock_is_held(dir)? {
                Err(in_use())
            } else {
                Err(sled::Error::Io(e).into())
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Tries the exclusive lock sled takes on `DIR/db`, on a handle of its own, and lets it
/// go again at once (closing the handle releases it). A missing `db` file is not locked.
fn lock_is_held(dir: &Path) -> Result<bool, StoreError> {
    let path = dir.join("db");
    let io = |error| StoreError::Io {
        path: path.clone(),
        error,
    };
    let file: File = match OpenOptions::new().read(true).open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(e)),
    };
    match fs2::FileExt::try_lock_exclusive(&file) {
        Ok(()) => Ok(false),
        Err(e) if e.kind() == fs2::lock_contended_error().kind() => Ok(true),
        Err(e) => Err(io(e)),
    }
}

/// Deletes sled's unfinished snapshot files (`snap.<lsn>.generating`). sled 0.34 writes
/// a snapshot under that name and renames it once complete; a write that fails (a full
/// disk) leaves the partial file behind, and sled's recovery then takes it for the newest
/// snapshot and refuses to open the database as corrupt, for good. Such a file never holds
/// a finished snapshot, so without it sled recovers from the previous one and its log.
fn remove_unfinished_snapshots(dir: &Path) -> Result<(), StoreError> {
    let io = |source| StoreError::Io {
        path: dir.to_path_buf(),
        error: source,
    };
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    for item in listing {
        let path = item.map_err(io)?.path();
        let unfinished = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("snap.") && n.ends_with(".generating"));
        if unfinished {
            std::fs::remove_file(&path).map_err(io)?;
        }
    }
    Ok(())
}

/// The ledger's raw sled database, for tests that damage a closed ledger on purpose.
/// Such a test opens it right after closing the ledger, so it retries while sled still
/// holds the lock, as [`testkit::open_patiently`](crate::testkit::open_patiently) does
/// (the retry loop lives in the test-only testkit).
#[cfg(any(test, feature = "test-utils"))]
pub fn open_raw_database(dir: &Path) -> Result<sled::Db, StoreError> {
    crate::testkit::patiently(|| open_db(dir))
}
