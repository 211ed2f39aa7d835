//! Parsers of command-line values into registry-core's types, for clap's `value_parser`.
//! Each error message says what is accepted, so a mistyped argument gets a precise answer.

use registry_core::did::{DidKey, EntityId};
use registry_core::entry::Grant;
use registry_core::hash::EntryId;
use registry_core::time::Timestamp;

/// `ACTION:RESOURCE`, split at the first colon (`issue:UniversityDegree`, `accredit:*`).
pub fn grant(s: &str) -> Result<Grant, String> {
    Grant::parse(s)
        .map_err(|e| format!("{e} (expected ACTION:RESOURCE, e.g. issue:UniversityDegree)"))
}

/// RFC 3339 (`2026-01-31T12:00:00Z`, any offset) or unix seconds.
pub fn time(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse_human(s).map_err(|e| e.to_string())
}

/// An entity id: any DID (`did:web:uni.example`) or an `https://` URL.
pub fn entity(s: &str) -> Result<EntityId, String> {
    EntityId::parse(s).map_err(|e| e.to_string())
}

/// An ed25519 `did:key` (`did:key:z6Mk...`).
pub fn did_key(s: &str) -> Result<DidKey, String> {
    DidKey::parse(s).map_err(|e| e.to_string())
}

/// An entry id: 64 hex digits.
pub fn entry_id(s: &str) -> Result<EntryId, String> {
    EntryId::from_hex(s.trim()).map_err(|_| {
        let shown: String = s.chars().take(80).collect();
        format!("{shown:?} is not an entry id (expected 64 hex digits)")
    })
}

/// The current time, from the system clock (registry-core never reads a clock).
pub fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

/// A random u64 from the operating system (for entry nonces).
pub fn random_u64() -> anyhow::Result<u64> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    Ok(u64::from_le_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_split_at_the_first_colon() {
        let g = grant("issue:urn:cred:Degree").unwrap();
        assert_eq!(
            (g.action.as_str(), g.resource.as_str()),
            ("issue", "urn:cred:Degree")
        );
        assert!(grant("accredit:*").is_ok());
        for bad in ["issue", ":x", "issue:", "is sue:x"] {
            let e = grant(bad).err().unwrap_or_default();
            assert!(e.contains("ACTION:RESOURCE"), "{bad}: {e}");
        }
    }

    #[test]
    fn times_are_rfc3339_or_unix_seconds() {
        assert_eq!(time("1700000000"), Ok(Timestamp(1_700_000_000)));
        assert_eq!(time("2023-11-14T22:13:20Z"), Ok(Timestamp(1_700_000_000)));
        let e = time("tomorrow").err().unwrap_or_default();
        assert!(e.contains("RFC 3339") && e.contains("unix seconds"), "{e}");
    }

    #[test]
    fn ids_and_dids() {
        assert!(entity("did:web:uni.example").is_ok());
        assert!(entity("https://uni.example").is_ok());
        let e = entity("uni.example").err().unwrap_or_default();
        assert!(e.contains("neither a DID"), "{e}");
        assert!(did_key("did:web:uni.example").is_err());
        let k = registry_core::DidKey::from_public_key([1; 32]).to_string();
        assert!(did_key(&k).is_ok());
        assert!(entry_id(&"ab".repeat(32)).is_ok());
        let e = entry_id("abc").err().unwrap_or_default();
        assert!(e.contains("64 hex digits"), "{e}");
    }

    #[test]
    fn nonces_differ() {
        let (a, b) = (random_u64().ok(), random_u64().ok());
        assert!(a.is_some() && a != b);
    }
}
