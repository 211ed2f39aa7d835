//! The head witness: a small file beside sled's own, naming the last block the ledger
//! made durable, so that a ledger that went back is detected.
//!
//! sled recovers from a damaged or truncated log by treating the first record whose
//! checksum fails as the end of the log: everything written after it disappears without
//! an error, and what remains is a consistent, older ledger (measured: a bit flipped in
//! the middle of `db`, or `db` truncated, opened as a shorter chain that verified). The
//! chain alone cannot tell such a ledger from a young one, so [`Ledger::append`] rewrites
//! this file after every flush and [`Ledger::open`] requires the block it names to be in
//! the chain with the hash it names. The file is written to a temporary name, synced and
//! renamed, so it is always one whole version; after a crash between sled's flush and the
//! rename it names the block before the head, which the check accepts (the ledger may be
//! ahead of its witness, never behind it).
//!
//! [`Ledger::append`]: super::Ledger::append
//! [`Ledger::open`]: super::Ledger::open

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::codec::{domain, hash_with_domain};
use crate::hash::Hash;

/// The file's name inside the ledger directory.
pub const WITNESS_FILE: &str = "head-witness";
const TEMP_FILE: &str = "head-witness.tmp";
const MAGIC: &[u8; 8] = b"TRHEADW1";
/// magic, height, block hash, entry count, checksum.
const LEN: usize = 8 + 8 + 32 + 8 + 32;

/// What the witness records: the head as it was after the last durable append.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Witness {
    pub height: u64,
    pub hash: Hash,
    pub entries: u64,
}

/// Why the witness file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error("{path} is missing")]
    Missing { path: PathBuf },
    #[error("cannot read {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} is damaged: {reason}")]
    Damaged { path: PathBuf, reason: String },
}

pub fn path(dir: &Path) -> PathBuf {
    dir.join(WITNESS_FILE)
}

impl Witness {
    fn encode(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        out[..8].copy_from_slice(MAGIC);
        out[8..16].copy_from_slice(&self.height.to_be_bytes());
        out[16..48].copy_from_slice(self.hash.as_bytes());
        out[48..56].copy_from_slice(&self.entries.to_be_bytes());
        let sum = hash_with_domain(domain::WITNESS, &out[..56]);
        out[56..].copy_from_slice(sum.as_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Result<Witness, String> {
        let bytes: &[u8; LEN] = bytes
            .try_into()
            .map_err(|_| format!("it holds {} bytes, a witness has {LEN}", bytes.len()))?;
        let (body, sum) = bytes.split_at(56);
        if hash_with_domain(domain::WITNESS, body).as_bytes()[..] != *sum {
            return Err("its checksum does not match its content".into());
        }
        if &body[..8] != MAGIC {
            return Err("it does not start with the witness magic".into());
        }
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&body[at..at + 8]);
            u64::from_be_bytes(b)
        };
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&body[16..48]);
        Ok(Witness {
            height: u64_at(8),
            hash: Hash(hash),
            entries: u64_at(48),
        })
    }
}

/// Replaces the witness in `dir` with `witness`: written to a temporary file, synced,
/// renamed over the old one.
pub fn write(dir: &Path, witness: &Witness) -> std::io::Result<()> {
    let temp = dir.join(TEMP_FILE);
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(&witness.encode())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, path(dir))
}

/// Reads the witness in `dir`.
pub fn read(dir: &Path) -> Result<Witness, WitnessError> {
    let path = path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(WitnessError::Missing { path })
        }
        Err(error) => return Err(WitnessError::Io { path, error }),
    };
    Witness::decode(&bytes).map_err(|reason| WitnessError::Damaged { path, reason })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_every_flipped_bit_is_caught() {
        let w = Witness {
            height: 7,
            hash: Hash([9; 32]),
            entries: 300,
        };
        let bytes = w.encode();
        assert_eq!(Witness::decode(&bytes), Ok(w));
        for bit in 0..LEN * 8 {
            let mut b = bytes;
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(Witness::decode(&b).is_err(), "bit {bit}");
        }
        assert!(Witness::decode(&bytes[..LEN - 1]).is_err());
    }
}
