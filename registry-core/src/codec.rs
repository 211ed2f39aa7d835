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

/// bincode limit tiers below and above the two named limits.
const SMALL_LIMIT: usize = 4 * 1024;
const LARGE_LIMIT: usize = 16 * 1024 * 1024;

/// Why bytes could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("input of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge { len: usize, limit: usize },
    #[error("a length prefix declares more than the limit of {limit} bytes")]
    DeclaredTooLarge { limit: usize },
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
    // bincode's limit is a const parameter: use the smallest tier that admits `limit`, or
    // a smaller one that still admits all this input can claim. bincode allocates a
    // declared string before reading it, up to the limit, so the tier also bounds what a
    // short input can make it allocate. An input never claims more than 8 bytes per byte
    // (a one-byte varint claims the 8 bytes of a u64; the rest claims what it reads).
    let tier = tier_for(limit).min(tier_for(bytes.len().saturating_mul(8)));
    let (value, used) = match tier {
        0 => decode_limited::<SMALL_LIMIT, T>(bytes)?,
        1 => decode_limited::<MAX_MESSAGE_BYTES, T>(bytes)?,
        2 => decode_limited::<MAX_BLOCK_BYTES, T>(bytes)?,
        _ => decode_limited::<LARGE_LIMIT, T>(bytes)?,
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

/// The smallest limit tier (0 to 3) that admits `n` bytes.
fn tier_for(n: usize) -> u8 {
    if n <= SMALL_LIMIT {
        0
    } else if n <= MAX_MESSAGE_BYTES {
        1
    } else if n <= MAX_BLOCK_BYTES {
        2
    } else {
        3
    }
}

/// Runs bincode under a limit of `L` bytes of claimed memory: a length prefix that asks
/// for more is an error before anything is allocated.
fn decode_limited<const L: usize, T: DeserializeOwned>(
    bytes: &[u8],
) -> Result<(T, usize), DecodeError> {
    let cfg = bincode::config::standard().with_limit::<L>();
    bincode::serde::decode_from_slice(bytes, cfg).map_err(|e| classify(e, L))
}

fn classify(e: bincode::error::DecodeError, limit: usize) -> DecodeError {
    match e {
        bincode::error::DecodeError::LimitExceeded => DecodeError::DeclaredTooLarge { limit },
        bincode::error::DecodeError::OtherString(s) => DecodeError::Invalid(s),
        other => DecodeError::Malformed(other.to_string()),
    }
}

/// Most bytes [`bounded_vec`] reserves before the elements arrive.
const PREALLOC_BYTES: usize = 64 * 1024;

/// Deserializes a `Vec` of at most `N` elements. A longer declared length is refused
/// before anything is allocated: serde's own `Vec` visitor would pre-allocate up to
/// 1 MiB for whatever length the input declares, outside bincode's limit.
pub fn bounded_vec<'de, D, T, const N: usize>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    struct Bounded<T, const N: usize>(std::marker::PhantomData<T>);
    impl<'de, T: serde::Deserialize<'de>, const N: usize> serde::de::Visitor<'de> for Bounded<T, N> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a list of at most {N} elements")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let declared = seq.size_hint().unwrap_or(0);
            if declared > N {
                return Err(serde::de::Error::invalid_length(declared, &self));
            }
            // Reserve for the declared length only up to a small size: a short input may
            // declare many large elements it does not hold.
            let room = PREALLOC_BYTES / std::mem::size_of::<T>().max(1);
            let mut out = Vec::with_capacity(declared.min(room));
            while let Some(item) = seq.next_element()? {
                if out.len() == N {
                    return Err(serde::de::Error::invalid_length(N + 1, &self));
                }
                out.push(item);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Bounded::<T, N>(std::marker::PhantomData))
}

/// Hash domains: every hash the registry computes is separated by one of these, so a
/// value of one kind can never be mistaken for another.
pub mod domain {
    pub const GENESIS: &str = "trust-registry/genesis/v1";
    pub const ENTRY: &str = "trust-registry/entry/v1";
    pub const BLOCK: &str = "trust-registry/block/v1";
    /// A trie leaf commits to an entry id and the digest of its signature set (v1 hashed
    /// the id alone).
    pub const TRIE_LEAF: &str = "trust-registry/trie-leaf/v2";
    pub const TRIE_BRANCH: &str = "trust-registry/trie-branch/v1";
    /// The digest of an entry's canonical signature set.
    pub const SIGNATURES: &str = "trust-registry/signatures/v1";
    /// A gossip message id: the hash of the exact message bytes.
    pub const GOSSIP_MESSAGE: &str = "trust-registry/gossip-message/v1";
    /// The checksum of the ledger's head witness file (not part of any signed bytes).
    pub const WITNESS: &str = "trust-registry/witness/v1";
    /// A checkpoint's commitment to its set root, index root, entry count and slot.
    pub const CHECKPOINT: &str = "trust-registry/checkpoint/v1";
    /// The index ([`crate::index`]): a key's path is its namespace tag byte and 31 bytes
    /// of this hash of its name.
    pub const INDEX_KEY: &str = "trust-registry/index-key/v1";
    /// An index leaf: a key's path and the hash of its value.
    pub const INDEX_LEAF: &str = "trust-registry/index-leaf/v1";
    /// An index branch: the hashes of its two halves.
    pub const INDEX_BRANCH: &str = "trust-registry/index-branch/v1";
    /// The value of an index key: the encoded list of (entry id, signature-set digest)
    /// pairs, sorted by id.
    pub const INDEX_VALUE: &str = "trust-registry/index-value/v1";
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const DOMAINS: [&str; 7] = [
        domain::GENESIS,
        domain::ENTRY,
        domain::BLOCK,
        domain::TRIE_LEAF,
        domain::TRIE_BRANCH,
        domain::SIGNATURES,
        domain::GOSSIP_MESSAGE,
    ];

    #[test]
    fn different_domains_give_different_hashes() {
        for bytes in [&b""[..], b"x", &[0u8; 32], &[0xff; 100]] {
            for (i, a) in DOMAINS.iter().enumerate() {
                for b in &DOMAINS[i + 1..] {
                    assert_ne!(
                        hash_with_domain(a, bytes),
                        hash_with_domain(b, bytes),
                        "{a} {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn moving_the_domain_bytes_boundary_does_not_collide() {
        // Every split of one byte string into (domain, bytes) hashes differently: the
        // length prefix fixes where the domain ends.
        let joined = "trust-registry/entry/v1\u{0}\u{17}abc";
        let hashes: Vec<Hash> = (0..=joined.len())
            .filter(|&i| joined.is_char_boundary(i))
            .map(|i| hash_with_domain(&joined[..i], &joined.as_bytes()[i..]))
            .collect();
        for (i, h) in hashes.iter().enumerate() {
            assert!(!hashes[i + 1..].contains(h), "split {i} collides");
        }
        // Nor can the bytes imitate a longer domain's length prefix.
        let d = "trust-registry/entry/v1";
        let mut forged = (d.len() as u64 + 1).to_le_bytes().to_vec();
        forged.extend_from_slice(d.as_bytes());
        assert_ne!(hash_with_domain(d, b"X"), hash_with_domain("", &forged));
        assert_ne!(hash_with_domain("ab", b"c"), hash_with_domain("a", b"bc"));
        assert_ne!(hash_with_domain("", b"abc"), hash_with_domain("abc", b""));
    }

    #[test]
    fn hash_with_domain_is_length_prefixed_blake3() {
        // Pins the construction itself (a format change if it moves).
        let d = domain::ENTRY;
        let mut input = (d.len() as u64).to_le_bytes().to_vec();
        input.extend_from_slice(d.as_bytes());
        input.extend_from_slice(b"payload");
        assert_eq!(
            hash_with_domain(d, b"payload").0,
            *blake3::hash(&input).as_bytes()
        );
        assert_eq!(
            hash_with_domain(domain::GENESIS, b"").to_hex(),
            "3aa080924d85a466d985e9fe9fb1e5929da009016801856bc7b82ac874f18413"
        );
        assert_eq!(hash_value(d, &7u64), hash_with_domain(d, &encode(&7u64)));
    }

    #[test]
    fn varint_widths_match_bincode_standard() {
        // Pins the configuration: little-endian, varints with markers 251/252/253.
        assert_eq!(encode(&250u64), [250]);
        assert_eq!(encode(&251u64), [0xfb, 251, 0]);
        assert_eq!(encode(&0xffffu64), [0xfb, 0xff, 0xff]);
        assert_eq!(encode(&0x1_0000u64), [0xfc, 0, 0, 1, 0]);
        assert_eq!(encode(&(1u64 << 32)), [0xfd, 0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(encode("ab"), [2, b'a', b'b']);
        assert_eq!(encode(&Some(1u8)), [1, 1]);
        assert_eq!(encode(&None::<u8>), [0]);
    }

    #[test]
    fn over_long_varints_are_non_canonical() {
        for bytes in [
            &[0xfb, 5, 0][..],
            &[0xfc, 5, 0, 0, 0],
            &[0xfd, 5, 0, 0, 0, 0, 0, 0, 0],
            &[0xfc, 0xff, 0xff, 0, 0],
            &[0xfd, 0, 0, 1, 0, 0, 0, 0, 0],
        ] {
            assert_eq!(
                decode::<u64>(bytes, 16),
                Err(DecodeError::NonCanonical),
                "{bytes:x?}"
            );
        }
        assert_eq!(decode::<u64>(&[0xfb, 0xfb, 0], 16), Ok(251));
        // An over-long string length.
        assert_eq!(
            decode::<String>(&[0xfb, 1, 0, b'a'], 16),
            Err(DecodeError::NonCanonical)
        );
        // Markers 254/255 (u128) for a u64, and a truncated marker, are malformed.
        assert!(matches!(
            decode::<u64>(&[0xfe; 17], 32),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            decode::<u64>(&[0xfd, 1], 16),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn limits_and_trailing_bytes() {
        assert_eq!(
            decode::<u8>(&[1, 2], 2),
            Err(DecodeError::TrailingBytes { extra: 1 })
        );
        assert_eq!(
            decode::<u8>(&[1, 2], 1),
            Err(DecodeError::TooLarge { len: 2, limit: 1 })
        );
        assert_eq!(
            decode::<u8>(&[], 1).map_err(|e| matches!(e, DecodeError::Malformed(_))),
            Err(true)
        );
        // A string that claims far more than the limit errors instead of allocating.
        let mut bomb = vec![0xfd];
        bomb.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(matches!(
            decode::<String>(&bomb, 64),
            Err(DecodeError::DeclaredTooLarge { .. })
        ));
        assert!(matches!(
            decode::<String>(&bomb, MAX_BLOCK_BYTES),
            Err(DecodeError::DeclaredTooLarge { .. })
        ));
    }
}
