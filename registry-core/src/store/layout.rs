//! The on-disk layout of the ledger: keys, values and the head record in one sled tree.
//!
//! The table of keys and values is in the `store` module documentation.

use serde::{Deserialize, Serialize};

use crate::codec::{self, MAX_MESSAGE_BYTES};
use crate::entry::{Signature, SignedEntry};
use crate::hash::{EntryId, Hash};

/// The version of this layout. A ledger written with another version is refused.
/// Version 2: state roots commit to each entry's signature set, and an entry may be
/// listed again (with an `s` record) when it gains signatures.
pub const FORMAT_VERSION: u32 = 2;

pub(super) const VERSION_KEY: &[u8] = b"mformat-version";
pub(super) const GENESIS_KEY: &[u8] = b"mgenesis";
pub(super) const HEAD_KEY: &[u8] = b"mhead";
pub(super) const BLOCK_PREFIX: u8 = b'b';
pub(super) const ENTRY_PREFIX: u8 = b'e';
pub(super) const SIGNATURES_PREFIX: u8 = b's';
pub(super) const PENDING_PREFIX: u8 = b'p';
pub(super) const PENDING_SOURCE_PREFIX: u8 = b'q';

/// Largest encoded head record (three varints and a hash are well under this).
const HEAD_RECORD_LIMIT: usize = 128;

/// The ledger's tip, rewritten in the same batch as every block. It carries the entry
/// count so that opening a ledger does not have to count entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HeadRecord {
    /// Height of the last block; 0 when the ledger is empty.
    pub height: u64,
    /// Hash of the last block; the registry id when the ledger is empty.
    pub hash: Hash,
    /// Entries in all blocks.
    pub entries: u64,
}

impl HeadRecord {
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<HeadRecord, codec::DecodeError> {
        codec::decode(bytes, HEAD_RECORD_LIMIT)
    }
}

pub(super) fn version_value() -> [u8; 4] {
    FORMAT_VERSION.to_be_bytes()
}

/// The format version stored in `bytes`, or `None` if it is not 4 bytes.
pub(super) fn parse_version(bytes: &[u8]) -> Option<u32> {
    <[u8; 4]>::try_from(bytes).ok().map(u32::from_be_bytes)
}

pub(super) fn block_key(height: u64) -> [u8; 9] {
    let mut key = [BLOCK_PREFIX; 9];
    key[1..].copy_from_slice(&height.to_be_bytes());
    key
}

/// The height a block key names, or `None` if it is not a well-formed block key.
pub(super) fn block_key_height(key: &[u8]) -> Option<u64> {
    match key.split_first() {
        Some((&BLOCK_PREFIX, rest)) => <[u8; 8]>::try_from(rest).ok().map(u64::from_be_bytes),
        _ => None,
    }
}

pub(super) fn entry_key(id: &EntryId) -> [u8; 33] {
    let mut key = [ENTRY_PREFIX; 33];
    key[1..].copy_from_slice(id.as_bytes());
    key
}

/// `height ++ encoded entry`.
pub(super) fn entry_value(height: u64, encoded_entry: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(8 + encoded_entry.len());
    value.extend_from_slice(&height.to_be_bytes());
    value.extend_from_slice(encoded_entry);
    value
}

/// `p` ++ entry id: an entry acknowledged as pending (waiting for a reference or for
/// signatures), kept until it is accepted, rejected or evicted.
pub(super) fn pending_key(id: &EntryId) -> [u8; 33] {
    let mut key = [PENDING_PREFIX; 33];
    key[1..].copy_from_slice(id.as_bytes());
    key
}

/// `q` ++ entry id: the source of the pending entry recorded under the same id.
pub(super) fn pending_source_key(id: &EntryId) -> [u8; 33] {
    let mut key = [PENDING_SOURCE_PREFIX; 33];
    key[1..].copy_from_slice(id.as_bytes());
    key
}

/// `s` ++ entry id ++ height (8 bytes big-endian): the signature set an entry has from the
/// block at that height on, where it is listed again.
pub(super) fn signatures_key(id: &EntryId, height: u64) -> [u8; 41] {
    let mut key = [SIGNATURES_PREFIX; 41];
    key[1..33].copy_from_slice(id.as_bytes());
    key[33..].copy_from_slice(&height.to_be_bytes());
    key
}

/// `s` ++ entry id: the prefix of every signature record of one entry.
pub(super) fn signatures_prefix(id: &EntryId) -> [u8; 33] {
    let mut key = [SIGNATURES_PREFIX; 33];
    key[1..].copy_from_slice(id.as_bytes());
    key
}

/// The entry id and height a signature record's key names.
pub(super) fn parse_signatures_key(key: &[u8]) -> Option<(EntryId, u64)> {
    match key.split_first() {
        Some((&SIGNATURES_PREFIX, rest)) if rest.len() == 40 => {
            let id = <[u8; 32]>::try_from(&rest[..32]).ok()?;
            let height = <[u8; 8]>::try_from(&rest[32..]).ok()?;
            Some((Hash(id), u64::from_be_bytes(height)))
        }
        _ => None,
    }
}

pub(super) fn parse_signatures(value: &[u8]) -> Result<Vec<Signature>, String> {
    codec::decode(value, MAX_MESSAGE_BYTES).map_err(|e| e.to_string())
}

/// Splits a stored entry value into its height and entry, decoding under the entry limit.
pub(super) fn parse_entry_value(value: &[u8]) -> Result<(u64, SignedEntry), String> {
    let (height, encoded) = value.split_first_chunk::<8>().ok_or_else(|| {
        format!(
            "value of {} bytes is too short to hold a height",
            value.len()
        )
    })?;
    let entry = codec::decode(encoded, MAX_MESSAGE_BYTES).map_err(|e| e.to_string())?;
    Ok((u64::from_be_bytes(*height), entry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sort_by_height() {
        assert_eq!(block_key_height(&block_key(258)), Some(258));
        assert!(block_key(255) < block_key(256));
        assert_eq!(block_key_height(b"bshort"), None);
        assert_eq!(block_key_height(&entry_key(&Hash::ZERO)[..9]), None);
        assert_eq!(parse_version(&version_value()), Some(FORMAT_VERSION));
        assert_eq!(parse_version(b"v1"), None);
        assert!(parse_entry_value(b"1234567").is_err());
        assert!(parse_entry_value(b"12345678\xff\xff").is_err());
        let id = Hash([9; 32]);
        assert_eq!(parse_signatures_key(&signatures_key(&id, 7)), Some((id, 7)));
        assert!(signatures_key(&id, 255) < signatures_key(&id, 256));
        assert!(signatures_key(&id, 1).starts_with(&signatures_prefix(&id)));
        assert_eq!(parse_signatures_key(&entry_key(&id)), None);
    }
}
