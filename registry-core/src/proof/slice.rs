//! The proven view: evaluation over only what a bundle shows, failing on any lookup it
//! does not cover.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::entry::{Kind, Op, SignedEntry};
use crate::eval::View;
use crate::genesis::Genesis;
use crate::hash::{EntryId, IdMap};
use crate::index::IndexKey;
use crate::state::{epoch_in, replay_governance, RootEpoch};
use crate::time::Timestamp;

/// Why a bundle's pieces do not fit together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SliceError {
    #[error("entry {id} is listed under {key} but the bundle does not carry it")]
    Unlisted { key: String, id: EntryId },
    #[error("entry {id} does not belong under {key}")]
    Misfiled { key: String, id: EntryId },
    #[error("the bundle carries no proof of the governance entries")]
    NoGovernance,
}

/// A [`View`] answering only from proven pieces. A lookup outside them answers "none" and
/// is remembered, so that the verifier can refuse the evaluation as incomplete.
#[derive(Debug)]
pub struct Slice {
    genesis: Genesis,
    entries: IdMap<SignedEntry>,
    subjects: HashMap<(Kind, String), Vec<EntryId>>,
    revocations: IdMap<Vec<EntryId>>,
    epochs: Vec<RootEpoch>,
    missing: RefCell<Option<String>>,
}

impl Slice {
    /// Builds the view from the bundle's entries and its proven index keys (each with the
    /// ids it lists; empty for a key proven absent). Entries count only if a proven key
    /// lists them or they author (as holders) an entry that counts: the checkpoint state
    /// is closed under authorship (see `crate::checkpoint::trailing`).
    pub fn build(
        genesis: Genesis,
        entries: Vec<SignedEntry>,
        keys: &[(IndexKey, Vec<EntryId>)],
    ) -> Result<Slice, SliceError> {
        let mut carried: IdMap<SignedEntry> = entries.into_iter().map(|e| (e.id(), e)).collect();
        let mut slice = Slice {
            genesis,
            entries: IdMap::default(),
            subjects: HashMap::new(),
            revocations: IdMap::default(),
            epochs: Vec::new(),
            missing: RefCell::new(None),
        };
        let mut governance: Option<Vec<EntryId>> = None;
        let mut frontier = Vec::new();
        for (key, ids) in keys {
            for id in ids {
                let entry = carried.get(id).ok_or_else(|| SliceError::Unlisted {
                    key: key.name(),
                    id: *id,
                })?;
                if !belongs(key, entry) {
                    return Err(SliceError::Misfiled {
                        key: key.name(),
                        id: *id,
                    });
                }
                frontier.push(*id);
            }
            match key {
                IndexKey::Subject { kind, entity } => {
                    slice
                        .subjects
                        .insert((*kind, entity.as_str().to_string()), ids.clone());
                }
                IndexKey::Revocations(target) => {
                    slice.revocations.insert(*target, ids.clone());
                }
                IndexKey::Governance => governance = Some(ids.clone()),
            }
        }
        // Entries reachable from the listed ones by authorship.
        while let Some(id) = frontier.pop() {
            let Some(entry) = carried.remove(&id) else {
                continue;
            };
            if let crate::entry::Author::Holder { accreditation } = entry.body.author {
                frontier.push(accreditation);
            }
            slice.entries.insert(id, entry);
        }
        let governance = governance.ok_or(SliceError::NoGovernance)?;
        let mut timeline: Vec<&SignedEntry> = governance
            .iter()
            .filter_map(|id| slice.entries.get(id))
            .collect();
        timeline.sort_by_key(|e| (e.body.issued_at, e.id()));
        slice.epochs = replay_governance(&slice.genesis, timeline.into_iter());
        Ok(slice)
    }

    /// The first lookup evaluation made that the bundle did not cover.
    pub fn missing(&self) -> Option<String> {
        self.missing.borrow().clone()
    }

    /// The first uncovered lookup since the last call, forgetting it: for evaluating a
    /// further question over the same slice.
    pub fn take_missing(&self) -> Option<String> {
        self.missing.borrow_mut().take()
    }

    fn miss(&self, what: String) {
        let mut m = self.missing.borrow_mut();
        if m.is_none() {
            *m = Some(what);
        }
    }
}

/// Whether `entry` is the kind of entry `key` lists.
fn belongs(key: &IndexKey, entry: &SignedEntry) -> bool {
    match (key, &entry.body.op) {
        (IndexKey::Subject { kind, entity }, Op::Accredit(a)) => {
            a.kind == *kind && a.subject.as_str() == entity.as_str()
        }
        (IndexKey::Revocations(target), Op::Revoke(r)) => r.target == *target,
        (IndexKey::Governance, Op::Governance(_)) => true,
        _ => false,
    }
}

impl View for Slice {
    fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    fn entry(&self, id: &EntryId) -> Option<&SignedEntry> {
        let found = self.entries.get(id);
        if found.is_none() {
            self.miss(format!("entry {id}"));
        }
        found
    }

    fn accreditations_of(&self, entity: &str, kind: Kind) -> &[EntryId] {
        match self.subjects.get(&(kind, entity.to_string())) {
            Some(ids) => ids,
            None => {
                self.miss(IndexKey::subject(kind, entity).name());
                &[]
            }
        }
    }

    fn revocations_of(&self, target: &EntryId) -> &[EntryId] {
        match self.revocations.get(target) {
            Some(ids) => ids,
            None => {
                self.miss(IndexKey::revocations(target).name());
                &[]
            }
        }
    }

    fn epoch_at(&self, t: Timestamp) -> &RootEpoch {
        epoch_in(&self.epochs, t)
    }
}
