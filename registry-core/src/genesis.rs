//! The genesis of a registry: its authority id, root keys, threshold and depth limit.

use serde::{Deserialize, Serialize};

use crate::codec::{self, domain};
use crate::did::{DidKey, EntityId};
use crate::hash::RegistryId;
use crate::time::Timestamp;

/// The only genesis format version.
pub const GENESIS_VERSION: u16 = 1;
/// Most root keys a registry may have at any time.
pub const MAX_ROOTS: usize = 64;
/// Longest accreditation chain a genesis may allow.
pub const MAX_DEPTH_LIMIT: u8 = 16;
/// Longest registry name, in bytes.
pub const MAX_NAME_BYTES: usize = 256;

/// The definition of one registry (ecosystem). Its hash is the registry id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    pub version: u16,
    /// TRQP `authority_id` of the ecosystem, e.g. `did:web:edu.example`.
    pub authority_id: EntityId,
    pub name: String,
    pub created_at: Timestamp,
    /// did:key of the root authorities, sorted and unique.
    #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_ROOTS>")]
    pub roots: Vec<DidKey>,
    /// Root signatures needed for root actions.
    pub threshold: u16,
    /// Longest accreditation chain below the roots (a root-authored accreditation has
    /// depth 1).
    pub max_depth: u8,
}

/// A genesis that cannot define a registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    #[error("unsupported genesis version {0} (this software knows version {GENESIS_VERSION})")]
    Version(u16),
    #[error("registry name must be 1 to {MAX_NAME_BYTES} bytes")]
    Name,
    #[error("a registry needs 1 to {MAX_ROOTS} root keys, got {0}")]
    RootCount(usize),
    #[error("root keys must be sorted and unique")]
    RootsNotSorted,
    #[error("threshold {threshold} must be between 1 and the number of roots ({roots})")]
    Threshold { threshold: u16, roots: usize },
    #[error("max_depth {0} must be between 1 and {MAX_DEPTH_LIMIT}")]
    MaxDepth(u8),
}

impl Genesis {
    /// Builds a valid genesis, sorting and de-duplicating the roots.
    pub fn new(
        authority_id: EntityId,
        name: String,
        created_at: Timestamp,
        mut roots: Vec<DidKey>,
        threshold: u16,
        max_depth: u8,
    ) -> Result<Genesis, GenesisError> {
        roots.sort();
        roots.dedup();
        let g = Genesis {
            version: GENESIS_VERSION,
            authority_id,
            name,
            created_at,
            roots,
            threshold,
            max_depth,
        };
        g.validate()?;
        Ok(g)
    }

    pub fn validate(&self) -> Result<(), GenesisError> {
        if self.version != GENESIS_VERSION {
            return Err(GenesisError::Version(self.version));
        }
        if self.name.is_empty() || self.name.len() > MAX_NAME_BYTES {
            return Err(GenesisError::Name);
        }
        if self.roots.is_empty() || self.roots.len() > MAX_ROOTS {
            return Err(GenesisError::RootCount(self.roots.len()));
        }
        if !self.roots.windows(2).all(|w| w[0] < w[1]) {
            return Err(GenesisError::RootsNotSorted);
        }
        if self.threshold == 0 || usize::from(self.threshold) > self.roots.len() {
            return Err(GenesisError::Threshold {
                threshold: self.threshold,
                roots: self.roots.len(),
            });
        }
        if self.max_depth == 0 || self.max_depth > MAX_DEPTH_LIMIT {
            return Err(GenesisError::MaxDepth(self.max_depth));
        }
        Ok(())
    }

    /// `blake3(domain "trust-registry/genesis/v1" || encode(genesis))`.
    pub fn registry_id(&self) -> RegistryId {
        codec::hash_value(domain::GENESIS, self)
    }

    /// Parses and validates a genesis file's JSON.
    pub fn from_json(text: &str) -> Result<Genesis, GenesisFileError> {
        let g: Genesis =
            serde_json::from_str(text).map_err(|e| GenesisFileError::Json(e.to_string()))?;
        g.validate()?;
        Ok(g)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// A genesis file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenesisFileError {
    #[error("genesis is not valid JSON for a genesis: {0}")]
    Json(String),
    #[error(transparent)]
    Invalid(#[from] GenesisError),
}
