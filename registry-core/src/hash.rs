//! 32-byte blake3 hashes and the identifiers built on them.
//!
//! In JSON a hash is lowercase hex; in the binary encoding it is 32 raw bytes.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A 32-byte blake3 hash: entry ids, block hashes, registry ids, trie nodes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

/// The id of an entry: `blake3(domain "trust-registry/entry/v1" || encode(body))`.
pub type EntryId = Hash;
/// The id of a registry: `blake3(domain "trust-registry/genesis/v1" || encode(genesis))`.
pub type RegistryId = Hash;

impl Hash {
    pub const ZERO: Hash = Hash([0; 32]);

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        let mut buf = [0u8; 64];
        self.hex_into(&mut buf).to_string()
    }

    /// Writes the lowercase hex of the hash into `buf` without allocating (hashes are
    /// written into every API answer, so this is on the query path).
    pub fn hex_into<'a>(&self, buf: &'a mut [u8; 64]) -> &'a str {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        for (i, b) in self.0.iter().enumerate() {
            buf[2 * i] = DIGITS[usize::from(b >> 4)];
            buf[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
        }
        // Every byte written is an ASCII hex digit.
        std::str::from_utf8(buf).unwrap_or_default()
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(s: &str) -> Result<Hash, HashParseError> {
        if s.len() != 64 {
            return Err(HashParseError { input: truncate(s) });
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| HashParseError { input: truncate(s) })?;
        Ok(Hash(out))
    }

    /// The `i`-th 4-bit digit (nibble) of the hash, most significant first; `i < 64`.
    pub fn nibble(&self, i: usize) -> u8 {
        let byte = self.0[i / 2];
        if i.is_multiple_of(2) {
            byte >> 4
        } else {
            byte & 0x0f
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// A hasher for maps keyed by [`Hash`]: ids are blake3 outputs, already uniform, so their
/// first 8 bytes serve as the map hash. Nobody can make ids collide in a map without
/// breaking blake3, so SipHash's protection against chosen keys is not needed here (maps
/// keyed by strings a sender chooses keep the default hasher).
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // `Hash` hashes its 32 bytes in one call (after a length prefix, which arrives
        // through `write_usize` and is ignored).
        if let Some(first) = bytes.first_chunk::<8>() {
            self.0 ^= u64::from_le_bytes(*first);
        } else {
            for b in bytes {
                self.0 = self.0.rotate_left(8) ^ u64::from(*b);
            }
        }
    }

    fn write_usize(&mut self, _: usize) {}

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` keyed by ids, with [`IdHasher`].
pub type IdMap<V> = std::collections::HashMap<Hash, V, std::hash::BuildHasherDefault<IdHasher>>;

/// A string that is not 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a 32-byte hex hash (64 hex digits): {input:?}")]
pub struct HashParseError {
    pub input: String,
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hex_into(&mut [0u8; 64]))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", &self.to_hex()[..16])
    }
}

impl std::str::FromStr for Hash {
    type Err = HashParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Hash::from_hex(s)
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(self.hex_into(&mut [0u8; 64]))
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            Hash::from_hex(&s).map_err(de::Error::custom)
        } else {
            Ok(Hash(<[u8; 32]>::deserialize(d)?))
        }
    }
}

/// Serde for fixed 64-byte arrays (signatures): hex in JSON, raw bytes in binary.
pub(crate) mod bytes64 {
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&hex::encode(v))
        } else {
            use serde::ser::SerializeTuple;
            let mut t = s.serialize_tuple(64)?;
            for b in v {
                t.serialize_element(b)?;
            }
            t.end()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            let mut out = [0u8; 64];
            hex::decode_to_slice(&s, &mut out)
                .map_err(|_| de::Error::custom("signature must be 128 hex digits"))?;
            Ok(out)
        } else {
            struct V;
            impl<'de> de::Visitor<'de> for V {
                type Value = [u8; 64];
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("64 bytes")
                }
                fn visit_seq<A: de::SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> Result<[u8; 64], A::Error> {
                    let mut out = [0u8; 64];
                    for (i, slot) in out.iter_mut().enumerate() {
                        *slot = seq
                            .next_element()?
                            .ok_or_else(|| de::Error::invalid_length(i, &self))?;
                    }
                    Ok(out)
                }
            }
            d.deserialize_tuple(64, V)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_errors() {
        let h = Hash([0xab; 32]);
        assert_eq!(Hash::from_hex(&h.to_hex()), Ok(h));
        let mixed = Hash(std::array::from_fn(|i| (i * 37 + 5) as u8));
        assert_eq!(mixed.to_hex(), hex::encode(mixed.0));
        assert!(Hash::from_hex("abc").is_err());
        assert!(Hash::from_hex(&"zz".repeat(32)).is_err());
        assert_eq!(h.nibble(0), 0xa);
        assert_eq!(h.nibble(1), 0xb);
    }
}
