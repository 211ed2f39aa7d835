//! registry-core: everything deterministic about the trust registry.
//!
//! A pure library: no async runtime, no network, no clock and no randomness (time and
//! seeds are parameters). sled appears only inside [`store`].
//!
//! # Layout
//! - [`codec`]: the one canonical binary encoding, domain-separated hashing, bounded decoding.
//! - [`hash`]: 32-byte hashes, entry and registry ids.
//! - [`time`]: unix-second timestamps and their RFC 3339 spelling.
//! - [`did`]: `did:key` author keys and entity ids (any DID or an https URL).
//! - [`file`]: atomic file writes (temporary file, fsync, link or rename).
//! - [`keys`]: ed25519 signing keys and 0600 key files.
//! - [`genesis`]: the definition of a registry and its id.
//! - [`entry`]: signed entries and their structural checks.
//! - [`verify`]: strict, batched signature verification.
//! - [`registry`]: acceptance of entries, with the pending pool for missing references.
//! - [`rng`]: a seeded deterministic generator (splitmix64) for reproducible choices.
//! - [`state`]: the indexes over accepted entries that evaluation reads.
//! - [`eval`]: "is E trusted for (action, resource) at T?", a pure function.
//! - [`trie`]: the state root, a Merkle radix-16 trie over accepted ids.
//! - [`checkpoint`]: signed checkpoints (C2SP signed notes) that let answers be checked offline.
//! - [`index`]: an authenticated map from queries to the ids answering them, with proofs.
//! - [`block`]: blocks of the local ledger.
//! - [`store`]: the hash-chained ledger in sled, with group commit and verification
//!   (feature `store`, on by default).
//! - [`proof`]: proofs of answers against cosigned checkpoints, and their offline verifier.
//! - [`api`]: JSON types of the node's HTTP API, shared by the node and the CLI.

pub mod api;
pub mod block;
pub mod checkpoint;
pub mod codec;
pub mod credential;
pub mod did;
pub mod entry;
pub mod eval;
pub mod file;
pub mod genesis;
pub mod hash;
pub mod index;
pub mod keys;
pub mod pending;
pub mod proof;
pub mod registry;
pub mod rng;
pub mod state;
#[cfg(feature = "store")]
pub mod store;
#[cfg(any(test, feature = "test-utils"))]
pub mod testkit;
pub mod time;
pub mod trie;
pub mod verify;

pub use block::Block;
pub use did::{DidKey, EntityId};
pub use entry::{
    Accreditation, Author, EntryBody, Governance, Grant, Kind, Op, Revocation, SignedEntry,
    WitnessSet,
};
pub use genesis::Genesis;
pub use hash::{EntryId, Hash, RegistryId};
pub use keys::SecretKey;
pub use time::Timestamp;
