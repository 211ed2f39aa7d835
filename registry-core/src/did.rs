//! Identifiers: `did:key` ed25519 author keys, and the entity ids (any DID or an
//! `https://` URL) that accreditations are about.
//!
//! Both are built only by parsing, so a value of these types is always well formed.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// Longest entity id (DID or URL), in bytes.
pub const MAX_ENTITY_ID_BYTES: usize = 512;

/// The multicodec prefix of an ed25519 public key (`0xed` as varint, `0x01`).
const ED25519_MULTICODEC: [u8; 2] = [0xed, 0x01];

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{input:?} is not a did:key (expected did:key:z6Mk... for an ed25519 key)")]
    NotDidKey { input: String },
    #[error("{input:?} is not an ed25519 did:key: {why}")]
    BadDidKey { input: String, why: &'static str },
    #[error("{input:?} is not a valid DID: {why}")]
    BadDid { input: String, why: &'static str },
    #[error("{input:?} is not a valid https URL: {why}")]
    BadUrl { input: String, why: &'static str },
    #[error("entity id is {len} bytes, longer than the limit of {MAX_ENTITY_ID_BYTES}")]
    TooLong { len: usize },
    #[error("{input:?} is neither a DID (did:method:id) nor an https:// URL")]
    NotEntityId { input: String },
}

fn shown(s: &str) -> String {
    s.chars().take(80).collect()
}

/// An ed25519 public key named by its `did:key`. In the binary encoding it is the 32 raw
/// key bytes; in JSON it is the `did:key:z6Mk...` string. Whether the bytes are a usable
/// (non-weak) curve point is checked when a signature is verified, where the decompressed
/// key is cached.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DidKey([u8; 32]);

impl DidKey {
    pub fn from_public_key(bytes: [u8; 32]) -> DidKey {
        DidKey(bytes)
    }

    pub fn public_key(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses `did:key:z<base58btc(0xed 0x01 || key)>`, accepting only the canonical spelling.
    pub fn parse(s: &str) -> Result<DidKey, IdError> {
        let rest = s
            .strip_prefix("did:key:")
            .ok_or_else(|| IdError::NotDidKey { input: shown(s) })?;
        let b58 = rest.strip_prefix('z').ok_or_else(|| IdError::BadDidKey {
            input: shown(s),
            why: "multibase must be base58btc ('z')",
        })?;
        if b58.len() > 64 {
            return Err(IdError::BadDidKey {
                input: shown(s),
                why: "too long",
            });
        }
        let raw = bs58::decode(b58)
            .into_vec()
            .map_err(|_| IdError::BadDidKey {
                input: shown(s),
                why: "invalid base58",
            })?;
        if raw.len() != 34 || raw[..2] != ED25519_MULTICODEC {
            return Err(IdError::BadDidKey {
                input: shown(s),
                why: "not an ed25519 public key (multicodec 0xed01, 32 bytes)",
            });
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(&raw[2..]);
        let did = DidKey(key);
        if did.to_string() != s {
            return Err(IdError::BadDidKey {
                input: shown(s),
                why: "non-canonical spelling",
            });
        }
        Ok(did)
    }
}

impl fmt::Display for DidKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = [0u8; 34];
        raw[..2].copy_from_slice(&ED25519_MULTICODEC);
        raw[2..].copy_from_slice(&self.0);
        write!(f, "did:key:z{}", bs58::encode(raw).into_string())
    }
}

impl fmt::Debug for DidKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.to_string();
        write!(f, "{}…", &s[..s.len().min(20)])
    }
}

impl std::str::FromStr for DidKey {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        DidKey::parse(s)
    }
}

impl Serialize for DidKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for DidKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            DidKey::parse(&s).map_err(de::Error::custom)
        } else {
            Ok(DidKey(<[u8; 32]>::deserialize(d)?))
        }
    }
}

/// Who an accreditation is about (TRQP `entity_id`): any W3C DID, or an `https://` URL.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntityId(String);

impl EntityId {
    pub fn parse(s: &str) -> Result<EntityId, IdError> {
        if s.len() > MAX_ENTITY_ID_BYTES {
            return Err(IdError::TooLong { len: s.len() });
        }
        if s.starts_with("did:") {
            check_did(s)?;
        } else if s.starts_with("https://") {
            check_https_url(s)?;
        } else {
            return Err(IdError::NotEntityId { input: shown(s) });
        }
        Ok(EntityId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The did:key this entity id names, if it is one.
    pub fn as_did_key(&self) -> Option<DidKey> {
        DidKey::parse(&self.0).ok()
    }
}

impl From<DidKey> for EntityId {
    fn from(k: DidKey) -> EntityId {
        EntityId(k.to_string())
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl std::str::FromStr for EntityId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        EntityId::parse(s)
    }
}

impl Serialize for EntityId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EntityId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        EntityId::parse(&s).map_err(de::Error::custom)
    }
}

/// W3C DID syntax: `did:` method-name `:` method-specific-id, where method-name is
/// lowercase letters and digits and the id is idchars (`ALPHA DIGIT . - _ %XX`) in
/// colon-separated segments, the last one non-empty.
fn check_did(s: &str) -> Result<(), IdError> {
    let bad = |why| IdError::BadDid {
        input: shown(s),
        why,
    };
    let rest = s
        .strip_prefix("did:")
        .ok_or_else(|| bad("must start with did:"))?;
    let (method, id) = rest
        .split_once(':')
        .ok_or_else(|| bad("missing method-specific id"))?;
    if method.is_empty()
        || !method
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err(bad("method name must be lowercase letters and digits"));
    }
    if id.is_empty() || id.ends_with(':') {
        return Err(bad("method-specific id must not be empty or end with ':'"));
    }
    let b = id.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b':' => i += 1,
            b'%' => {
                let ok =
                    b.len() > i + 2 && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit();
                if !ok {
                    return Err(bad("'%' must be followed by two hex digits"));
                }
                i += 3;
            }
            _ => return Err(bad("character not allowed in a DID")),
        }
    }
    Ok(())
}

/// An absolute `https://host[:port][/path][?query]` URL without user info or fragment.
fn check_https_url(s: &str) -> Result<(), IdError> {
    let bad = |why| IdError::BadUrl {
        input: shown(s),
        why,
    };
    let rest = s
        .strip_prefix("https://")
        .ok_or_else(|| bad("must start with https://"))?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (h, Some(p)),
        _ => (authority, None),
    };
    if host.is_empty() {
        return Err(bad("missing host"));
    }
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !v6.is_empty()
            && v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        host.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            && !host.starts_with('.')
            && !host.starts_with('-')
    };
    if !host_ok {
        return Err(bad(
            "host must be a DNS name or an IP address (no user info)",
        ));
    }
    if let Some(p) = port {
        if p.is_empty()
            || p.len() > 5
            || !p.bytes().all(|b| b.is_ascii_digit())
            || p.parse::<u32>().map_or(true, |n| n > 65535)
        {
            return Err(bad("port must be a number up to 65535"));
        }
    }
    for (i, c) in tail.bytes().enumerate() {
        let ok = c.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&c);
        if !ok {
            return Err(bad(if c == b'#' {
                "fragments are not allowed"
            } else {
                "character not allowed in a URL"
            }));
        }
        if c == b'%' {
            let t = tail.as_bytes();
            let hex =
                t.len() > i + 2 && t[i + 1].is_ascii_hexdigit() && t[i + 2].is_ascii_hexdigit();
            if !hex {
                return Err(bad("'%' must be followed by two hex digits"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_key_round_trip_matches_known_vector() {
        // The all-zero key spelled by the did:key specification's multibase rules.
        let k = DidKey::from_public_key([0u8; 32]);
        let s = k.to_string();
        assert!(s.starts_with("did:key:z6Mk"), "{s}");
        assert_eq!(DidKey::parse(&s), Ok(k));
        // The W3C did:key test vector.
        let v = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp";
        assert_eq!(DidKey::parse(v).map(|k| k.to_string()).as_deref(), Ok(v));
    }

    #[test]
    fn did_key_rejects_other_spellings() {
        assert!(DidKey::parse("did:web:example.com").is_err());
        assert!(DidKey::parse("did:key:6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp").is_err());
        assert!(DidKey::parse("did:key:z0OIl").is_err());
        // secp256k1 multicodec prefix (0xe7 0x01) is not ed25519
        let mut raw = vec![0xe7, 0x01];
        raw.extend([1u8; 32]);
        let s = format!("did:key:z{}", bs58::encode(raw).into_string());
        assert!(DidKey::parse(&s).is_err());
        // leading '1' adds a zero byte: same key bytes can't be smuggled in
        let k = DidKey::from_public_key([7u8; 32]).to_string();
        let padded = k.replacen("did:key:z", "did:key:z1", 1);
        assert!(DidKey::parse(&padded).is_err());
    }

    #[test]
    fn entity_ids() {
        for ok in [
            "did:web:uni.example",
            "did:web:uni.example:dept%3Acs",
            "did:example:123456789abcdefghi",
            "https://issuer.example",
            "https://issuer.example:8443/path/to?x=1",
            "https://[::1]:443/x",
        ] {
            assert!(EntityId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "uni.example",
            "did:",
            "did:web",
            "did:web:",
            "did:Web:x",
            "did:web:a b",
            "did:web:x%zz",
            "did:web:x:",
            "http://issuer.example",
            "https://",
            "https://user@host",
            "https://host:99999",
            "https://host/a#frag",
            "https://ho st/",
        ] {
            assert!(EntityId::parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(
            EntityId::parse(&format!("did:web:{}", "a".repeat(600))),
            Err(IdError::TooLong { .. })
        ));
    }
}
