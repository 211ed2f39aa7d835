//! Proofs of answers (section 12): a [`Bundle`] carries a cosigned checkpoint and exactly
//! the slice of the checkpoint state that evaluating one query reads, so that anyone who
//! holds the registry id can check the answer offline with [`verify`].
//!
//! The node makes a bundle by evaluating over a [`record::Recorder`], which logs every
//! lookup; the verifier evaluates the same query with the same [`evaluate`] over a
//! [`slice::Slice`], which answers only from the bundle. So a proof can never say
//! something evaluation would not.

pub mod record;
pub mod slice;
pub mod verify;

use serde::{Deserialize, Serialize};

use crate::codec::{self, DecodeError};
use crate::entry::{Author, EntryBody, Kind, Op, Signature, SignedEntry, MAX_SIGNATURES};
use crate::eval::{decisive, evaluate, Decision, Query};
use crate::genesis::Genesis;
use crate::hash::EntryId;
use crate::index::{IndexKey, MultiProof};
use crate::state::State;
use crate::time::Timestamp;

pub use verify::{verify, verify_with_slice, Verified, VerifyError, VerifyOptions};

/// Largest encoded bundle accepted, in bytes.
pub const MAX_BUNDLE_BYTES: usize = 1024 * 1024;
/// Most entries one bundle carries.
pub const MAX_BUNDLE_ENTRIES: usize = 4096;
/// Most index keys one bundle proves.
pub const MAX_BUNDLE_KEYS: usize = 1024;
/// Most ids one proven key lists.
pub const MAX_KEY_IDS: usize = 4096;

/// The question a bundle answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenQuery {
    pub entity: String,
    pub action: String,
    pub resource: String,
    pub kind: Kind,
    pub at: Timestamp,
}

impl ProvenQuery {
    pub fn as_query(&self) -> Query<'_> {
        Query {
            entity: &self.entity,
            action: &self.action,
            resource: &self.resource,
            kind: self.kind,
        }
    }
}

/// One index key and the sorted ids it lists (empty: proven absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyClaim {
    pub key: IndexKey,
    #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_KEY_IDS>")]
    pub ids: Vec<EntryId>,
}

/// A self-contained proof of one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The checkpoint, as a signed note (`c2sp.org/signed-note`).
    pub note: String,
    /// The registry's definition: its hash is the registry id a verifier pins.
    pub genesis: Genesis,
    pub query: ProvenQuery,
    /// The entries of the slice, sorted by id.
    pub entries: Vec<SignedEntry>,
    /// The index keys the evaluation read, sorted; the governance key always.
    pub keys: Vec<KeyClaim>,
    /// One proof of every key's value (or absence) under the checkpoint's index root.
    pub index: MultiProof,
}

/// An entry as a bundle carries it: without its registry id, which is the genesis's.
#[derive(Serialize, Deserialize)]
struct CompactEntry {
    issued_at: Timestamp,
    author: Author,
    op: Op,
    nonce: u64,
    #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_SIGNATURES>")]
    signatures: Vec<Signature>,
}

/// How a bundle travels.
#[derive(Serialize, Deserialize)]
struct BundleRepr {
    note: String,
    genesis: Genesis,
    query: ProvenQuery,
    #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_BUNDLE_ENTRIES>")]
    entries: Vec<CompactEntry>,
    #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_BUNDLE_KEYS>")]
    keys: Vec<KeyClaim>,
    index: MultiProof,
}

impl Bundle {
    /// The canonical binary encoding (what `registry proof` writes). Entries go without
    /// their registry id: a bundle is about one registry, its genesis's.
    pub fn encode(&self) -> Vec<u8> {
        let entries = self
            .entries
            .iter()
            .map(|e| CompactEntry {
                issued_at: e.body.issued_at,
                author: e.body.author,
                op: e.body.op.clone(),
                nonce: e.body.nonce,
                signatures: e.signatures.clone(),
            })
            .collect();
        codec::encode(&BundleRepr {
            note: self.note.clone(),
            genesis: self.genesis.clone(),
            query: self.query.clone(),
            entries,
            keys: self.keys.clone(),
            index: self.index.clone(),
        })
    }

    /// Decodes untrusted bytes (at most [`MAX_BUNDLE_BYTES`], canonical, nothing trailing).
    pub fn decode(bytes: &[u8]) -> Result<Bundle, DecodeError> {
        let repr: BundleRepr = codec::decode(bytes, MAX_BUNDLE_BYTES)?;
        let registry = repr.genesis.registry_id();
        let entries = repr
            .entries
            .into_iter()
            .map(|e| SignedEntry {
                body: EntryBody {
                    registry,
                    issued_at: e.issued_at,
                    author: e.author,
                    op: e.op,
                    nonce: e.nonce,
                },
                signatures: e.signatures,
            })
            .collect();
        Ok(Bundle {
            note: repr.note,
            genesis: repr.genesis,
            query: repr.query,
            entries,
            keys: repr.keys,
            index: repr.index,
        })
    }
}

/// Proves the answer to `query` at `at` over `state`, which must be the checkpoint state
/// that `note` signs (the caller pairs them). Returns the bundle and the decision the
/// state gives, which is the decision the bundle verifies to.
pub fn prove(state: &State, note: &str, query: &ProvenQuery) -> (Bundle, Decision) {
    let recorder = record::Recorder::new(state);
    let at = query.at;
    let decision = evaluate(&recorder, &query.as_query(), at);
    // The verifier names the entry a denial rests on, so it reads what that needs too.
    if let Decision::Denied {
        reason,
        accreditation: Some(id),
    } = &decision
    {
        let _ = decisive(&recorder, *reason, id, at);
    }
    let mut lookups = recorder.into_lookups();
    // The witnesses in force come from governance, which every verification reads.
    lookups.keys.insert(IndexKey::governance());
    let mut wanted = lookups.entries;
    let keys: Vec<KeyClaim> = lookups
        .keys
        .into_iter()
        .map(|key| {
            let ids = state.index_value(&key);
            wanted.extend(ids.iter().copied());
            KeyClaim { key, ids }
        })
        .collect();
    let index_keys: Vec<IndexKey> = keys.iter().map(|k| k.key.clone()).collect();
    let (_, index) = state.index().prove_many(&index_keys);
    // Sorted by id (a BTreeSet); ids a lookup asked for but the state lacks are skipped.
    let entries = wanted
        .iter()
        .filter_map(|id| state.get(id).map(|e| SignedEntry::clone(e)))
        .collect();
    let bundle = Bundle {
        note: note.to_string(),
        genesis: state.genesis().clone(),
        query: query.clone(),
        entries,
        keys,
        index,
    };
    (bundle, decision)
}
