//! The one canonical binary encoding of everything that is hashed or signed.
//!
//! Every byte that goes into a hash, a signature, the ledger or the network passes through
//! this module, so the format can be changed in exactly one place. The format is bincode
//! 2.0.1 (standard configuration: little-endian, variable-length integers) over the serde
//! data model. Decoding untrusted bytes:
//!
//! - always runs under a byte limit, so a short input that declares a huge length is an
//!   error instead of an allocation;
//! - rejects trailing bytes;
//! - rejects non-canonical input (`encode(decode(b)) != b`, e.g. over-long varints), so one
//!   value has exactly one encoding and hashes over encodings are well defined.

use serde::{de::DeserializeOwned, Serialize};

use crate::hash::Hash;

/// Largest encoded entry, genesis or sync message accepted from outside (64 KiB, the
/// gossip message limit).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Largest encoded block accepted when reading the ledger (a block lists at most
/// `MAX_BLOCK_ENTRIES` ids of 32 bytes plus a small header).
pub const MAX_BLOCK_BYTES: usize = 1024 * 1024;

/// Why bytes could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("input of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge { len: usize, limit: usize },
    #[error("malformed encoding: {0}")]
    Malformed(String),
    #[error("{extra} trailing bytes after the encoded value")]
    TrailingBytes { extra: usize },
    #[error("non-canonical encoding (re-encoding gives different bytes)")]
    NonCanonical,
    #[error("invalid value: {0}")]
    Invalid(String),
}

fn config() -> impl bincode::config::Config {
    bincode::config::standard()
}

/// Encodes a value canonically. Encoding our own types cannot fail (no maps with
/// non-string keys, no unsized sequences), so this returns bytes directly.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    match bincode::serde::encode_to_vec(value, config()) {
        Ok(bytes) => bytes,
        // Only reachable through a Serialize impl that reports a custom error; none of the
        // registry's types do.
        Err(e) => panic!("encoding a registry value cannot fail: {e}"),
    }
}

/// Decodes untrusted bytes of at most `limit` bytes into a `T`, rejecting trailing and
/// non-canonical bytes.
pub fn decode<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
    limit: usize,
) -> Result<T, DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    let (value, used) = if limit <= MAX_MESSAGE_BYTES {
        decode_limited::<MAX_MESSAGE_BYTES, T>(bytes)?
    } else {
        decode_limited::<MAX_BLOCK_BYTES, T>(bytes)?
    };
    if used != bytes.len() {
        return Err(DecodeError::TrailingBytes {
            extra: bytes.len() - used,
        });
    }
    if encode(&value) != bytes {
        return Err(DecodeError::NonCanonical);
    }
    Ok(value)
}

/// Runs bincode under a limit of `L` bytes of claimed memory: a length prefix that asks
/// for more is an error before anything is allocated.
fn decode_limited<const L: usize, T: DeserializeOwned>(
    bytes: &[u8],
) -> Result<(T, usize), DecodeError> {
    let cfg = bincode::config::standard().with_limit::<L>();
    bincode::serde::decode_from_slice(bytes, cfg).map_err(|e| classify(e, bytes.len(), L))
}

fn classify(e: bincode::error::DecodeError, len: usize, limit: usize) -> DecodeError {
    match e {
        bincode::error::DecodeError::LimitExceeded => DecodeError::TooLarge { len, limit },
        bincode::error::DecodeError::OtherString(s) => DecodeError::Invalid(s),
        other => DecodeError::Malformed(other.to_string()),
    }
}

/// Hash domains: every hash the registry computes is separated by one of these, so a
/// value of one kind can never be mistaken for another.
pub mod domain {
    pub const GENESIS: &str = "trust-registry/genesis/v1";
    pub const ENTRY: &str = "trust-registry/entry/v1";
    pub const BLOCK: &str = "trust-registry/block/v1";
    pub const TRIE_LEAF: &str = "trust-registry/trie-leaf/v1";
    pub const TRIE_BRANCH: &str = "trust-registry/trie-branch/v1";
}

/// `blake3(domain || bytes)`, with the domain length-prefixed so that no two
/// (domain, bytes) pairs collide.
pub fn hash_with_domain(domain: &str, bytes: &[u8]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(&(domain.len() as u64).to_le_bytes());
    h.update(domain.as_bytes());
    h.update(bytes);
    Hash(*h.finalize().as_bytes())
}

/// Hashes the canonical encoding of `value` under `domain`.
pub fn hash_value<T: Serialize + ?Sized>(domain: &str, value: &T) -> Hash {
    hash_with_domain(domain, &encode(value))
}
