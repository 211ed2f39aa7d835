//! [`Prefix`]: a path from the trie's root, naming the subtree sync compares or lists.

use std::fmt;
use std::str::FromStr;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use super::MAX_DEPTH;
use crate::hash::{EntryId, Hash};

/// A path from the root: a sequence of at most 64 nibbles (each `0..16`).
///
/// Nibbles are packed two per byte, most significant first, as in [`Hash::nibble`]; the
/// nibbles past `len` are always zero, so equal paths are equal values.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Prefix {
    len: u8,
    packed: [u8; 32],
}

/// A prefix that could not be built or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    #[error("a prefix has at most 64 nibbles, got {len}")]
    TooLong { len: usize },
    #[error("not a nibble (0..16): {value}")]
    BadNibble { value: u32 },
    #[error("non-canonical prefix: nibbles past its length are not zero")]
    NonCanonical,
}

impl Prefix {
    /// The empty path: the whole trie.
    pub fn root() -> Prefix {
        Prefix::default()
    }

    /// This path extended by one nibble; `None` if `nibble >= 16` or the path is full.
    pub fn child(&self, nibble: u8) -> Option<Prefix> {
        let len = self.len();
        if nibble >= 16 || len >= MAX_DEPTH {
            return None;
        }
        let mut out = *self;
        out.packed[len / 2] |= if len.is_multiple_of(2) {
            nibble << 4
        } else {
            nibble
        };
        out.len += 1;
        Some(out)
    }

    /// The path without its last nibble; `None` at the root.
    pub fn parent(&self) -> Option<Prefix> {
        let len = self.len().checked_sub(1)?;
        Prefix::of_id(&Hash(self.packed), len)
    }

    /// The first `len` nibbles of `id`; `None` if `len > 64`.
    pub fn of_id(id: &EntryId, len: usize) -> Option<Prefix> {
        if len > MAX_DEPTH {
            return None;
        }
        let mut packed = [0u8; 32];
        packed[..len / 2].copy_from_slice(&id.as_bytes()[..len / 2]);
        if len % 2 == 1 {
            packed[len / 2] = id.as_bytes()[len / 2] & 0xf0;
        }
        Some(Prefix {
            len: len as u8,
            packed,
        })
    }

    /// The path with these nibbles, each of which must be below 16.
    pub fn from_nibbles(nibbles: &[u8]) -> Result<Prefix, PrefixError> {
        if nibbles.len() > MAX_DEPTH {
            return Err(PrefixError::TooLong { len: nibbles.len() });
        }
        let mut out = Prefix::root();
        for &n in nibbles {
            out = out.child(n).ok_or(PrefixError::BadNibble {
                value: u32::from(n),
            })?;
        }
        Ok(out)
    }

    /// Number of nibbles, `0..=64`.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True for the root (the empty path).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `i`-th nibble; zero for `len() <= i < 64`. Panics if `i >= 64`, like
    /// [`Hash::nibble`].
    pub fn nibble(&self, i: usize) -> u8 {
        Hash(self.packed).nibble(i)
    }

    /// True if `id` starts with this path.
    pub fn covers(&self, id: &EntryId) -> bool {
        let len = self.len();
        let whole = len / 2;
        id.as_bytes()[..whole] == self.packed[..whole]
            && (len.is_multiple_of(2) || id.as_bytes()[whole] >> 4 == self.packed[whole] >> 4)
    }

    /// Checks the invariants of a value read from outside.
    fn validated(len: u8, packed: [u8; 32]) -> Result<Prefix, PrefixError> {
        let n = usize::from(len);
        if n > MAX_DEPTH {
            return Err(PrefixError::TooLong { len: n });
        }
        let expected = Prefix::of_id(&Hash(packed), n).ok_or(PrefixError::TooLong { len: n })?;
        if expected.packed != packed {
            return Err(PrefixError::NonCanonical);
        }
        Ok(expected)
    }
}

/// Lowercase hex, one digit per nibble; the root is the empty string.
impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in 0..self.len() {
            write!(f, "{:x}", self.nibble(i))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Prefix({self:?})", self = self.to_string())
    }
}

impl FromStr for Prefix {
    type Err = PrefixError;
    fn from_str(s: &str) -> Result<Prefix, PrefixError> {
        // Checked before looking at the characters, so a huge input costs nothing.
        if s.len() > MAX_DEPTH {
            return Err(PrefixError::TooLong { len: s.len() });
        }
        let mut out = Prefix::root();
        for c in s.chars() {
            let value = c.to_digit(16).ok_or(PrefixError::BadNibble {
                value: u32::from(c),
            })?;
            out = out
                .child(value as u8)
                .ok_or(PrefixError::BadNibble { value })?;
        }
        Ok(out)
    }
}

/// In JSON, the hex digits of the path. In the binary encoding, the length in nibbles and
/// then only the packed bytes that hold them (`1 + ceil(len / 2)` bytes: the root is one
/// byte), since sync requests and replies carry many prefixes.
impl Serialize for Prefix {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            return s.serialize_str(&self.to_string());
        }
        use serde::ser::SerializeTuple;
        let used = self.len().div_ceil(2);
        let mut t = s.serialize_tuple(1 + used)?;
        t.serialize_element(&self.len)?;
        for b in &self.packed[..used] {
            t.serialize_element(b)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for Prefix {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            return s.parse().map_err(de::Error::custom);
        }
        struct Packed;
        impl<'de> de::Visitor<'de> for Packed {
            type Value = Prefix;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a prefix: its length in nibbles, then its packed bytes")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Prefix, A::Error> {
                let len: u8 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let n = usize::from(len);
                if n > MAX_DEPTH {
                    return Err(de::Error::custom(PrefixError::TooLong { len: n }));
                }
                let mut packed = [0u8; 32];
                for (i, slot) in packed.iter_mut().take(n.div_ceil(2)).enumerate() {
                    *slot = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::invalid_length(i + 1, &self))?;
                }
                Prefix::validated(len, packed).map_err(de::Error::custom)
            }
        }
        // The longest encoding; the visitor reads only as many bytes as the length needs.
        d.deserialize_tuple(1 + MAX_DEPTH / 2, Packed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::trie::test_id as id;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn prefix_constructors_and_covers() -> TestResult {
        let p = Prefix::from_nibbles(&[0xa, 0xb, 0xc])?;
        assert_eq!(p.len(), 3);
        assert_eq!(p.to_string(), "abc");
        assert_eq!("abc".parse::<Prefix>(), Ok(p));
        assert_eq!(p.nibble(2), 0xc);
        assert!(p.covers(&id(&[0xab, 0xcd])));
        assert!(!p.covers(&id(&[0xab, 0xdd])));
        assert_eq!(p.parent(), Prefix::from_nibbles(&[0xa, 0xb]).ok());
        assert_eq!(Prefix::root().parent(), None);
        assert_eq!(p.child(16), None);
        assert_eq!(Prefix::of_id(&id(&[0xab, 0xcd]), 3), Some(p));
        let full = Prefix::of_id(&Hash([7; 32]), 64).ok_or("64 nibbles")?;
        assert_eq!(full.child(0), None);
        assert!(full.covers(&Hash([7; 32])));
        assert!(Prefix::root().covers(&Hash([7; 32])));
        assert_eq!(
            Prefix::from_nibbles(&[3; 65]),
            Err(PrefixError::TooLong { len: 65 })
        );
        assert_eq!(
            Prefix::from_nibbles(&[16]),
            Err(PrefixError::BadNibble { value: 16 })
        );
        assert!("abg".parse::<Prefix>().is_err());
        assert!("a".repeat(65).parse::<Prefix>().is_err());
        Ok(())
    }

    #[test]
    fn prefix_serde_round_trips_and_rejects_bad_input() -> TestResult {
        let p = Prefix::from_nibbles(&[1, 2, 3])?;
        let json = serde_json::to_string(&p)?;
        assert_eq!(json, "\"123\"");
        assert_eq!(serde_json::from_str::<Prefix>(&json)?, p);
        let bytes = crate::codec::encode(&p);
        assert_eq!(crate::codec::decode::<Prefix>(&bytes, 64), Ok(p));
        // Length past 64, and a nibble set past the length.
        let mut long = bytes.clone();
        long[0] = 65;
        assert!(crate::codec::decode::<Prefix>(&long, 64).is_err());
        let mut stray = bytes.clone();
        stray[2] |= 0x0f;
        assert!(crate::codec::decode::<Prefix>(&stray, 64).is_err());
        Ok(())
    }
}
