//! The keys of the index, their 256-bit paths, and the hash of a key's value.

use serde::{Deserialize, Serialize};

use crate::codec::{domain, hash_value, hash_with_domain};
use crate::entry::{Kind, Op, SignedEntry};
use crate::hash::{EntryId, Hash};

/// A key's position in the index: 256 bits, read most significant bit first.
pub type IndexPath = [u8; 32];

/// The first byte of every governance path.
pub const TAG_GOVERNANCE: u8 = 0;
/// The first byte of every revocations path.
pub const TAG_REVOCATIONS: u8 = 1;
/// The first byte of every subject path.
pub const TAG_SUBJECT: u8 = 2;

/// A key of the index: what a relying party asks the index about.
///
/// Its [`IndexKey::path`] is the namespace tag byte followed by the first 31 bytes of
/// `blake3(domain "trust-registry/index-key/v1" || name)`. The tag keeps each namespace in
/// its own subtree, so a proof about the single governance key or the few revoked
/// accreditations walks past the subjects in one sibling instead of descending as deep
/// as a million subjects would make it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "KeyRepr", into = "KeyRepr")]
pub enum IndexKey {
    /// `governance`: the ids of the governance entries.
    Governance,
    /// `revocations/<accreditation id hex>`: the ids of the revocations targeting it.
    Revocations(EntryId),
    /// `subject/<kind>/<entity_id>`: the ids of the entity's accreditations of that kind.
    /// The entity is kept as given (a query may name an entity id that does not parse,
    /// and its absence is still provable).
    Subject { kind: Kind, entity: String },
}

impl IndexKey {
    /// The key listing `entity`'s accreditations of `kind`.
    pub fn subject(kind: Kind, entity: &str) -> IndexKey {
        IndexKey::Subject {
            kind,
            entity: entity.to_string(),
        }
    }

    /// The key listing the revocations that target `target`.
    pub fn revocations(target: &EntryId) -> IndexKey {
        IndexKey::Revocations(*target)
    }

    /// The key listing the governance entries.
    pub fn governance() -> IndexKey {
        IndexKey::Governance
    }

    /// The key whose list names `entry`.
    pub fn of_entry(entry: &SignedEntry) -> IndexKey {
        match &entry.body.op {
            Op::Accredit(a) => IndexKey::subject(a.kind, a.subject.as_str()),
            Op::Revoke(r) => IndexKey::revocations(&r.target),
            Op::Governance(_) => IndexKey::governance(),
        }
    }

    /// The key as a relying party reads it, e.g. `subject/authorization/did:web:a.example`.
    pub fn name(&self) -> String {
        match self {
            IndexKey::Governance => "governance".to_string(),
            IndexKey::Revocations(target) => format!("revocations/{target}"),
            IndexKey::Subject { kind, entity } => format!("subject/{}/{entity}", kind_name(*kind)),
        }
    }

    /// The namespace tag byte that starts this key's path.
    pub fn tag(&self) -> u8 {
        match self {
            IndexKey::Governance => TAG_GOVERNANCE,
            IndexKey::Revocations(_) => TAG_REVOCATIONS,
            IndexKey::Subject { .. } => TAG_SUBJECT,
        }
    }

    /// The key's path: its tag byte, then 31 bytes of the domain-separated hash of its
    /// [`IndexKey::name`]. 248 bits of hash leave collisions between keys of one
    /// namespace as hard as any other 124-bit security level the registry relies on.
    pub fn path(&self) -> IndexPath {
        let digest = hash_with_domain(domain::INDEX_KEY, self.name().as_bytes());
        let mut path = [0u8; 32];
        path[0] = self.tag();
        path[1..].copy_from_slice(&digest.0[..31]);
        path
    }
}

impl std::fmt::Display for IndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Authorization => "authorization",
        Kind::Recognition => "recognition",
    }
}

/// The hash a key's value is committed by: `blake3(domain "trust-registry/index-value/v1"
/// || encode(pairs))`, each pair an entry id and the digest of that entry's signature set
/// (ids alone would let a proof strip signatures off a revocation or a governance entry,
/// and so hide it). The caller passes the pairs sorted by id and without duplicates (the
/// index cannot check a list it never sees); a key whose list would be empty is left out
/// of the index instead, so that "none" is proven by absence.
pub fn value_hash(pairs: &[(EntryId, Hash)]) -> Hash {
    hash_value(domain::INDEX_VALUE, pairs)
}

/// How a key travels in the binary encoding: the entity's length is checked on decoding,
/// so a key from a proof bundle is never longer than an entity id may be.
#[derive(Serialize, Deserialize)]
enum KeyRepr {
    Governance,
    Revocations(EntryId),
    Subject { kind: Kind, entity: String },
}

impl From<IndexKey> for KeyRepr {
    fn from(k: IndexKey) -> KeyRepr {
        match k {
            IndexKey::Governance => KeyRepr::Governance,
            IndexKey::Revocations(t) => KeyRepr::Revocations(t),
            IndexKey::Subject { kind, entity } => KeyRepr::Subject { kind, entity },
        }
    }
}

impl TryFrom<KeyRepr> for IndexKey {
    type Error = String;
    fn try_from(k: KeyRepr) -> Result<IndexKey, String> {
        Ok(match k {
            KeyRepr::Governance => IndexKey::Governance,
            KeyRepr::Revocations(t) => IndexKey::Revocations(t),
            KeyRepr::Subject { kind, entity } => {
                if entity.len() > crate::did::MAX_ENTITY_ID_BYTES {
                    return Err(format!(
                        "index key entity is {} bytes, longer than the limit of {}",
                        entity.len(),
                        crate::did::MAX_ENTITY_ID_BYTES
                    ));
                }
                IndexKey::Subject { kind, entity }
            }
        })
    }
}

/// Bit `i` of `path`, most significant first; `i < 256`.
pub(super) fn bit(path: &IndexPath, i: usize) -> usize {
    usize::from((path[i / 8] >> (7 - i % 8)) & 1)
}

/// The first bit where `a` and `b` differ, or `None` if they are equal.
pub(super) fn first_difference(a: &IndexPath, b: &IndexPath) -> Option<usize> {
    let (i, (x, y)) = a.iter().zip(b).enumerate().find(|(_, (x, y))| x != y)?;
    Some(i * 8 + (x ^ y).leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_tags_and_paths() {
        let target = Hash([0xab; 32]);
        let keys = [
            IndexKey::governance(),
            IndexKey::revocations(&target),
            IndexKey::subject(Kind::Authorization, "did:web:a.example"),
            IndexKey::subject(Kind::Recognition, "did:web:a.example"),
        ];
        assert_eq!(keys[0].name(), "governance");
        assert_eq!(keys[1].name(), format!("revocations/{}", "ab".repeat(32)));
        assert_eq!(keys[2].name(), "subject/authorization/did:web:a.example");
        assert_eq!(keys[3].to_string(), "subject/recognition/did:web:a.example");
        for (k, tag) in keys.iter().zip([0, 1, 2, 2]) {
            let p = k.path();
            assert_eq!(p[0], tag);
            let digest = hash_with_domain(domain::INDEX_KEY, k.name().as_bytes());
            assert_eq!(p[1..], digest.0[..31]);
        }
        assert_ne!(keys[2].path(), keys[3].path());
    }

    #[test]
    fn bits_and_differences() {
        let mut a = [0u8; 32];
        a[0] = 0b1000_0000;
        a[31] = 1;
        assert_eq!(bit(&a, 0), 1);
        assert_eq!(bit(&a, 1), 0);
        assert_eq!(bit(&a, 255), 1);
        assert_eq!(first_difference(&a, &a), None);
        let mut b = a;
        b[31] = 0;
        assert_eq!(first_difference(&a, &b), Some(255));
        b[0] = 0b1010_0000;
        assert_eq!(first_difference(&a, &b), Some(2));
    }

    #[test]
    fn value_hash_is_the_encoded_list_under_its_domain() {
        let pairs = [
            (Hash([1; 32]), Hash([3; 32])),
            (Hash([2; 32]), Hash([4; 32])),
        ];
        let mut bytes = vec![2u8];
        for fill in [1, 3, 2, 4] {
            bytes.extend_from_slice(&[fill; 32]);
        }
        assert_eq!(
            value_hash(&pairs),
            hash_with_domain(domain::INDEX_VALUE, &bytes)
        );
        assert_ne!(value_hash(&pairs), value_hash(&pairs[..1]));
    }
}
