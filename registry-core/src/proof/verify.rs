//! The offline verifier: checks a [`Bundle`] with nothing but the registry id (and,
//! optionally, the verifier's own witness list and freshness limit), then evaluates the
//! query over the proven slice.

use std::collections::BTreeSet;

use crate::checkpoint::note::{Checkpoint, NoteError, SignedNote};
use crate::did::DidKey;
use crate::entry::{EntryError, WitnessSet};
use crate::eval::{decisive, evaluate, Decision, Decisive, View};
use crate::hash::{EntryId, RegistryId};
use crate::index::{self, Claim, IndexKey, MultiProofError};
use crate::time::Timestamp;
use crate::verify::{SignatureError, Verifier};

use super::slice::{Slice, SliceError};
use super::Bundle;

/// What the verifier is told besides the bundle.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// The registry the answer must be about: all a verifier needs to pin.
    pub registry: RegistryId,
    /// The verifier's clock, for freshness.
    pub now: Timestamp,
    /// Refuse checkpoints older than this many seconds.
    pub max_age: Option<u64>,
    /// Count these witnesses instead of the set in force in the proven governance.
    pub witnesses: Option<WitnessSet>,
}

/// A bundle that checked out, and the answer it proves.
#[derive(Debug, Clone)]
pub struct Verified {
    pub decision: Decision,
    /// The entry a denial rests on, when there is one.
    pub decisive: Option<Decisive>,
    pub checkpoint: Checkpoint,
    /// The distinct witness keys whose signatures verified.
    pub signers: Vec<DidKey>,
    pub quorum: u16,
    /// `now - slot`, in seconds (0 for a slot in the future).
    pub age: u64,
}

/// Why a bundle proves nothing. [`VerifyError::check`] names the failed check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("malformed bundle: {0}")]
    Malformed(String),
    #[error("malformed checkpoint: {0}")]
    Note(#[from] NoteError),
    #[error("the bundle is for registry {got}, not {expected}")]
    Registry {
        expected: RegistryId,
        got: RegistryId,
    },
    #[error("entry {id} is invalid: {error}")]
    Entry { id: EntryId, error: EntryError },
    #[error("entry {id}: {error}")]
    EntrySignature { id: EntryId, error: SignatureError },
    #[error("no witness set is in force at slot {slot} (pass the witnesses to count)")]
    NoWitnesses { slot: Timestamp },
    #[error("the checkpoint carries {have} valid witness signatures, {need} are needed")]
    Quorum { have: usize, need: u16 },
    #[error("the checkpoint is {age} s old, more than the {max_age} s allowed")]
    Stale { age: u64, max_age: u64 },
    #[error("index proof: {0}")]
    IndexProof(MultiProofError),
    #[error("the proofs are inconsistent: {0}")]
    Inconsistent(#[from] SliceError),
    #[error("the bundle does not cover what evaluation read: {0}")]
    Missing(String),
}

impl VerifyError {
    /// The check that failed, in one word (what `registry verify-proof` prints).
    pub fn check(&self) -> &'static str {
        match self {
            VerifyError::Note(NoteError::InvalidSignature { .. }) => "signature",
            VerifyError::Note(NoteError::NoKnownSignature) => "quorum",
            VerifyError::Malformed(_) | VerifyError::Note(_) => "malformed",
            VerifyError::Registry { .. } => "registry",
            VerifyError::Entry { .. } | VerifyError::EntrySignature { .. } => "entry",
            VerifyError::NoWitnesses { .. } | VerifyError::Quorum { .. } => "quorum",
            VerifyError::Stale { .. } => "stale",
            VerifyError::IndexProof(_) | VerifyError::Inconsistent(_) => "index_proof",
            VerifyError::Missing(_) => "slice",
        }
    }
}

/// Checks `bundle` against `options` and evaluates its query over the proven slice.
///
/// In order: the genesis is the pinned registry's; the checkpoint note parses, is for that
/// registry, and its commitment matches; every entry is well formed for the registry and
/// all its signatures verify; every index key's ids, with their signature sets, hash to a
/// value its proof shows under the checkpoint's index root (or the key is proven absent);
/// `quorum` distinct witnesses in force at the slot signed the note; the note is fresh
/// enough; and evaluation read nothing the bundle lacks.
pub fn verify(bundle: &Bundle, options: &VerifyOptions) -> Result<Verified, VerifyError> {
    verify_with_slice(bundle, options).map(|(verified, _)| verified)
}

/// [`verify`], also handing back the proven slice, over which other questions may be
/// evaluated (a lookup it does not cover shows in [`Slice::take_missing`]).
pub fn verify_with_slice(
    bundle: &Bundle,
    options: &VerifyOptions,
) -> Result<(Verified, Slice), VerifyError> {
    let got = bundle.genesis.registry_id();
    if got != options.registry {
        return Err(VerifyError::Registry {
            expected: options.registry,
            got,
        });
    }
    bundle
        .genesis
        .validate()
        .map_err(|e| VerifyError::Malformed(format!("genesis: {e}")))?;
    let note = SignedNote::parse(&bundle.note)?;
    let checkpoint = note.checkpoint;
    if checkpoint.registry != options.registry {
        return Err(VerifyError::Registry {
            expected: options.registry,
            got: checkpoint.registry,
        });
    }

    let mut ids = BTreeSet::new();
    for entry in &bundle.entries {
        let id = entry.id();
        if !ids.insert(id) {
            return Err(VerifyError::Malformed(format!("entry {id} appears twice")));
        }
        entry
            .check_structure(&options.registry)
            .map_err(|error| VerifyError::Entry { id, error })?;
    }
    let mut verifier = Verifier::new();
    for (entry, result) in bundle
        .entries
        .iter()
        .zip(verifier.verify_entries(&bundle.entries))
    {
        result.map_err(|error| VerifyError::EntrySignature {
            id: entry.id(),
            error,
        })?;
    }

    let by_id: std::collections::HashMap<EntryId, &crate::entry::SignedEntry> =
        bundle.entries.iter().map(|e| (e.id(), e)).collect();
    let mut keys: Vec<(IndexKey, Vec<EntryId>)> = Vec::with_capacity(bundle.keys.len());
    let mut claims: Vec<Claim> = Vec::with_capacity(bundle.keys.len());
    let mut seen = BTreeSet::new();
    for k in &bundle.keys {
        let name = k.key.name();
        if !seen.insert(k.key.clone()) {
            return Err(VerifyError::Malformed(format!(
                "key {name} is proven twice"
            )));
        }
        if k.ids.windows(2).any(|w| w[0] >= w[1]) {
            return Err(VerifyError::Malformed(format!(
                "the ids under {name} are not sorted and unique"
            )));
        }
        let value = if k.ids.is_empty() {
            None
        } else {
            let mut pairs = Vec::with_capacity(k.ids.len());
            for id in &k.ids {
                let entry = by_id.get(id).ok_or_else(|| {
                    VerifyError::Inconsistent(SliceError::Unlisted {
                        key: name.clone(),
                        id: *id,
                    })
                })?;
                pairs.push((*id, entry.signatures_digest()));
            }
            Some(index::value_hash(&pairs))
        };
        claims.push((k.key.path(), value));
        keys.push((k.key.clone(), k.ids.clone()));
    }
    claims.sort_by_key(|c| c.0);
    bundle
        .index
        .verify(&checkpoint.index_root, &claims)
        .map_err(VerifyError::IndexProof)?;
    let slice = Slice::build(bundle.genesis.clone(), bundle.entries.clone(), &keys)?;

    let witnesses =
        match &options.witnesses {
            Some(w) => w.sorted(),
            None => slice.epoch_at(checkpoint.slot).witnesses.clone().ok_or(
                VerifyError::NoWitnesses {
                    slot: checkpoint.slot,
                },
            )?,
        };
    let signers = note.verified_signers(&witnesses.keys)?;
    if signers.len() < usize::from(witnesses.quorum) {
        return Err(VerifyError::Quorum {
            have: signers.len(),
            need: witnesses.quorum,
        });
    }
    let age = options.now.0.saturating_sub(checkpoint.slot.0);
    if let Some(max_age) = options.max_age.filter(|m| age > *m) {
        return Err(VerifyError::Stale { age, max_age });
    }

    let query = bundle.query.as_query();
    let at = bundle.query.at;
    let decision = evaluate(&slice, &query, at);
    let decisive = match &decision {
        Decision::Denied {
            reason,
            accreditation: Some(id),
        } => decisive(&slice, *reason, id, at),
        _ => None,
    };
    if let Some(what) = slice.missing() {
        return Err(VerifyError::Missing(what));
    }
    Ok((
        Verified {
            decision,
            decisive,
            checkpoint,
            signers,
            quorum: witnesses.quorum,
            age,
        },
        slice,
    ))
}
