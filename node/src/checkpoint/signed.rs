//! The one rule a witness must never break: two signatures on different bodies for one
//! slot. Before a signature leaves the node, the slot and the body's commitment are written
//! to `DATA_DIR/checkpoint-signed.json` (atomically, fsynced), and a body for a slot at or
//! before the recorded one is signed only if it is the recorded body itself (ed25519 is
//! deterministic, so signing it again yields the same signature). A crash between the write
//! and the signature leaves the record ahead of what was published, never behind it.

use std::path::{Path, PathBuf};

use anyhow::Context;
use registry_core::checkpoint::Checkpoint;
use registry_core::file::{write_atomic, Existing};
use registry_core::{Hash, Timestamp};
use serde::{Deserialize, Serialize};

/// The record's file name in the data directory.
pub const SIGNED_FILE: &str = "checkpoint-signed.json";
/// Largest record read (a slot and a hash: far less).
const MAX_RECORD_BYTES: u64 = 4096;

/// The last slot signed and the commitment of the body signed for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRecord {
    pub slot: u64,
    pub commitment: Hash,
}

/// Why a body was not signed.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Another body was already signed for this slot, or a later slot was signed (a clock
    /// that went back): signing would equivocate.
    #[error(
        "refusing to sign slot {slot} (commitment {commitment}): slot {} was already signed \
         with commitment {}", .last.slot, .last.commitment
    )]
    WouldEquivocate {
        slot: u64,
        commitment: Hash,
        last: SignedRecord,
    },
    /// The record could not be written: nothing is signed without it.
    #[error("cannot record the signed slot in {path}: {source}")]
    Unrecorded {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The persisted record of what this node signed, and the check made before each
/// signature.
#[derive(Debug)]
pub struct SignLog {
    path: PathBuf,
    last: Option<SignedRecord>,
}

impl SignLog {
    /// Reads the record in `dir` (none yet: nothing was signed). A record that cannot be
    /// read or parsed stops the node: guessing could sign twice.
    pub fn open(dir: &Path) -> anyhow::Result<SignLog> {
        let path = dir.join(SIGNED_FILE);
        let last = match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
            Ok(meta) => {
                anyhow::ensure!(
                    meta.len() <= MAX_RECORD_BYTES,
                    "{} is larger than {MAX_RECORD_BYTES} bytes",
                    path.display()
                );
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let record: SignedRecord = serde_json::from_str(&text).with_context(|| {
                    format!(
                        "{} is damaged; refusing to sign checkpoints without knowing what \
                         was signed",
                        path.display()
                    )
                })?;
                Some(record)
            }
        };
        Ok(SignLog { path, last })
    }

    /// The last slot signed and its body's commitment.
    pub fn last(&self) -> Option<SignedRecord> {
        self.last
    }

    /// Allows signing `checkpoint`: for a new slot, records it durably first; for the
    /// recorded slot, only its recorded body; for an earlier slot, never (only the last
    /// one is remembered, so an earlier slot's body cannot be checked).
    pub fn permit(&mut self, checkpoint: &Checkpoint) -> Result<(), Refusal> {
        let slot = checkpoint.slot.as_secs();
        let commitment = checkpoint.commitment();
        if let Some(last) = self.last {
            if slot < last.slot || (slot == last.slot && commitment != last.commitment) {
                return Err(Refusal::WouldEquivocate {
                    slot,
                    commitment,
                    last,
                });
            }
            if slot == last.slot {
                return Ok(());
            }
        }
        let record = SignedRecord { slot, commitment };
        let bytes = serde_json::to_vec(&record).unwrap_or_default();
        write_atomic(&self.path, &bytes, None, Existing::Replace).map_err(|source| {
            Refusal::Unrecorded {
                path: self.path.clone(),
                source,
            }
        })?;
        self.last = Some(record);
        Ok(())
    }

    /// Whether `slot` is at or before the last one signed.
    pub fn signed_through(&self, slot: Timestamp) -> bool {
        self.last.is_some_and(|l| slot.as_secs() <= l.slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(slot: u64, count: u64) -> Checkpoint {
        Checkpoint {
            registry: Hash([1; 32]),
            count,
            set_root: Hash([2; 32]),
            index_root: Hash([3; 32]),
            slot: Timestamp(slot),
        }
    }

    #[test]
    fn one_body_per_slot_across_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = SignLog::open(dir.path()).unwrap();
        assert_eq!(log.last(), None);
        log.permit(&body(10, 1)).unwrap();
        // The same body again is fine; another body for the slot is not.
        log.permit(&body(10, 1)).unwrap();
        assert!(matches!(
            log.permit(&body(10, 2)),
            Err(Refusal::WouldEquivocate { .. })
        ));
        // A restart remembers.
        let mut log = SignLog::open(dir.path()).unwrap();
        assert_eq!(log.last().map(|l| l.slot), Some(10));
        assert!(log.permit(&body(10, 2)).is_err());
        log.permit(&body(10, 1)).unwrap();
        // An earlier slot is refused whatever its body; a later one is recorded.
        assert!(log.permit(&body(5, 1)).is_err());
        log.permit(&body(20, 2)).unwrap();
        let log = SignLog::open(dir.path()).unwrap();
        assert_eq!(
            log.last(),
            Some(SignedRecord {
                slot: 20,
                commitment: body(20, 2).commitment()
            })
        );
        assert!(log.signed_through(Timestamp(20)));
        assert!(!log.signed_through(Timestamp(21)));
    }

    #[test]
    fn a_damaged_record_stops_the_node() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SIGNED_FILE), b"{\"slot\": 1").unwrap();
        assert!(SignLog::open(dir.path()).is_err());
    }
}
