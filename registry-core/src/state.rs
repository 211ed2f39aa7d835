//! The accepted set and the indexes that evaluation reads.
//!
//! [`State`] only grows: entries are added, never removed or changed, so everything derived
//! from it (the governance timeline, the state root) is a function of the set alone.

use std::borrow::Borrow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::did::{DidKey, EntityId};
use crate::entry::{Accreditation, Author, Governance, Op, SignedEntry, WitnessSet};
use crate::genesis::Genesis;
use crate::hash::{EntryId, Hash, IdMap, RegistryId};
use crate::index::{self, Index, IndexKey};
use crate::time::Timestamp;
use crate::trie::Trie;

impl Borrow<str> for EntityId {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

/// The root keys and threshold in force from one governance entry to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootEpoch {
    /// In force for entries issued at or after this time (genesis: 0).
    pub since: Timestamp,
    /// The governance entry that started this epoch (`None` for genesis).
    pub cause: Option<EntryId>,
    /// Sorted, unique.
    pub roots: Vec<DidKey>,
    pub threshold: u16,
    /// The checkpoint witnesses in force (keys sorted), once a `SetWitnesses` took effect.
    pub witnesses: Option<WitnessSet>,
}

impl RootEpoch {
    /// Whether these signers include at least `threshold` distinct roots of this epoch.
    pub fn authorizes<'a>(&self, signers: impl Iterator<Item = &'a DidKey>) -> bool {
        // Signers are unique (acceptance rule 1), so counting matches counts each once.
        let n = signers
            .filter(|s| self.roots.binary_search(s).is_ok())
            .count();
        n >= usize::from(self.threshold)
    }
}

/// Every accepted entry, indexed for evaluation.
#[derive(Debug)]
pub struct State {
    genesis: Genesis,
    registry_id: RegistryId,
    entries: IdMap<Arc<SignedEntry>>,
    by_subject: HashMap<EntityId, Vec<EntryId>>,
    revocations: IdMap<Vec<EntryId>>,
    /// Governance entries sorted by `(issued_at, id)`.
    governance: Vec<(Timestamp, EntryId)>,
    epochs: Vec<RootEpoch>,
    /// Keys that have ever been roots (genesis or any accepted AddRoot): acceptance rule 2.
    ever_roots: HashSet<DidKey>,
    /// The lowest threshold ever set (genesis or any accepted SetThreshold): acceptance rule 2.
    min_threshold: u16,
    trie: Trie,
    /// The authenticated map of section 12 over the same entries.
    index: Index,
    /// Keys whose value changed since the index was last brought up to date.
    dirty_keys: BTreeSet<IndexKey>,
}

impl State {
    pub fn new(genesis: Genesis) -> State {
        let registry_id = genesis.registry_id();
        let epoch = RootEpoch {
            since: Timestamp(0),
            cause: None,
            roots: genesis.roots.clone(),
            threshold: genesis.threshold,
            witnesses: None,
        };
        State {
            ever_roots: genesis.roots.iter().copied().collect(),
            min_threshold: genesis.threshold,
            genesis,
            registry_id,
            entries: IdMap::default(),
            by_subject: HashMap::new(),
            revocations: IdMap::default(),
            governance: Vec::new(),
            epochs: vec![epoch],
            trie: Trie::new(),
            index: Index::new(),
            dirty_keys: BTreeSet::new(),
        }
    }

    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    pub fn registry_id(&self) -> &RegistryId {
        &self.registry_id
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains(&self, id: &EntryId) -> bool {
        self.entries.contains_key(id)
    }

    pub fn get(&self, id: &EntryId) -> Option<&Arc<SignedEntry>> {
        self.entries.get(id)
    }

    /// The accepted accreditation with this id, if it is one.
    pub fn accreditation(&self, id: &EntryId) -> Option<(&SignedEntry, &Accreditation)> {
        let e = self.entries.get(id)?;
        e.accreditation().map(|a| (e.as_ref(), a))
    }

    /// Ids of the accepted accreditations (both kinds) of an entity, in arrival order.
    pub fn accreditations_of(&self, entity: &str) -> &[EntryId] {
        self.by_subject
            .get(entity)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Ids of the accepted revocations that target `id`, sorted.
    pub fn revocations_of(&self, id: &EntryId) -> &[EntryId] {
        self.revocations.get(id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The governance timeline: genesis, then one epoch per governance entry that took
    /// effect.
    pub fn epochs(&self) -> &[RootEpoch] {
        &self.epochs
    }

    /// The roots and threshold in force for an entry issued at `t`.
    pub fn epoch_at(&self, t: Timestamp) -> &RootEpoch {
        epoch_in(&self.epochs, t)
    }

    /// The current root keys and threshold (the latest epoch).
    pub fn current_epoch(&self) -> &RootEpoch {
        self.epoch_at(Timestamp(u64::MAX))
    }

    /// Acceptance rule 2 for `Author::Roots`: at least the lowest threshold ever in force
    /// of signers that have ever been roots. Monotone: both sets only grow.
    pub fn roots_may_have_signed(&self, entry: &SignedEntry) -> bool {
        let n = entry
            .signers()
            .filter(|s| self.ever_roots.contains(s))
            .count();
        n >= usize::from(self.min_threshold)
    }

    /// The state root over all accepted ids and their signature sets.
    pub fn state_root(&self) -> Hash {
        self.trie.root()
    }

    /// The trie of accepted ids and their signature-set digests, for reading.
    pub fn trie(&self) -> &Trie {
        &self.trie
    }

    /// Brings the trie's and the index's hashes up to date (see [`Trie::rehash`]); returns
    /// the state root.
    pub(crate) fn rehash(&mut self) -> Hash {
        for key in std::mem::take(&mut self.dirty_keys) {
            let ids = self.index_value(&key);
            let hash = index::value_hash(&self.index_pairs(&ids));
            self.index.set(&key, hash);
        }
        self.index.rehash();
        self.trie.rehash()
    }

    /// The root of the index. Current only after the state was rehashed, which every
    /// public path that changes a registry does before it returns.
    pub fn index_root(&self) -> Hash {
        debug_assert!(self.dirty_keys.is_empty(), "index read before rehash");
        self.index.root()
    }

    /// The index, for proofs. Current only after a rehash (see [`State::index_root`]).
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The value the index holds under `key`: the sorted ids it names (empty: absent).
    pub fn index_value(&self, key: &IndexKey) -> Vec<EntryId> {
        let mut ids: Vec<EntryId> = match key {
            IndexKey::Subject { kind, entity } => self
                .accreditations_of(entity.as_str())
                .iter()
                .filter(|id| self.accreditation(id).is_some_and(|(_, a)| a.kind == *kind))
                .copied()
                .collect(),
            IndexKey::Revocations(target) => self.revocations_of(target).to_vec(),
            IndexKey::Governance => self.governance.iter().map(|(_, id)| *id).collect(),
        };
        ids.sort_unstable();
        ids
    }

    /// The `(id, signature-set digest)` pairs the index's value hash commits to: ids alone
    /// would let a proof strip signatures off a revocation or a governance entry, and so
    /// hide it.
    fn index_pairs(&self, ids: &[EntryId]) -> Vec<(EntryId, Hash)> {
        ids.iter()
            .filter_map(|id| Some((*id, self.entries.get(id)?.signatures_digest())))
            .collect()
    }

    /// The ids of the governance entries (witness sets included), sorted by
    /// `(issued_at, id)`.
    pub fn governance_ids(&self) -> impl Iterator<Item = &EntryId> {
        self.governance.iter().map(|(_, id)| id)
    }

    /// Adds an entry (whose id is `id`) that passed acceptance. Returns false (and changes
    /// nothing) if it was already present.
    pub(crate) fn insert(&mut self, id: EntryId, entry: Arc<SignedEntry>) -> bool {
        if self.entries.contains_key(&id) {
            return false;
        }
        self.trie.insert(id, entry.signatures_digest());
        match &entry.body.op {
            Op::Accredit(a) => {
                self.dirty_keys
                    .insert(IndexKey::subject(a.kind, a.subject.as_str()));
                self.by_subject
                    .entry(a.subject.clone())
                    .or_default()
                    .push(id)
            }
            Op::Revoke(r) => {
                self.dirty_keys.insert(IndexKey::revocations(&r.target));
                // Sorted by id, as a proof's slice lists them: evaluation stops at the
                // first revocation in effect, so both must meet them in one order.
                let list = self.revocations.entry(r.target).or_default();
                let at = list.partition_point(|x| *x < id);
                list.insert(at, id)
            }
            Op::Governance(g) => {
                match g {
                    Governance::AddRoot(k) => {
                        self.ever_roots.insert(*k);
                    }
                    Governance::SetThreshold(t) => self.min_threshold = self.min_threshold.min(*t),
                    Governance::RemoveRoot(_) | Governance::SetWitnesses(_) => {}
                }
                self.dirty_keys.insert(IndexKey::governance());
                let key = (entry.body.issued_at, id);
                let at = self.governance.partition_point(|k| *k < key);
                self.governance.insert(at, key);
                self.entries.insert(id, entry);
                self.rebuild_epochs();
                return true;
            }
        }
        self.entries.insert(id, entry);
        true
    }

    /// Replaces the accepted entry `id` with a copy of the same body carrying a larger
    /// signature set (the caller merged it), updating its trie leaf and, for governance,
    /// the root epochs. False if `id` is not accepted.
    pub(crate) fn replace_signatures(&mut self, id: &EntryId, entry: Arc<SignedEntry>) -> bool {
        let Some(slot) = self.entries.get_mut(id) else {
            return false;
        };
        let governance = matches!(entry.body.op, Op::Governance(_));
        self.trie.update(id, entry.signatures_digest());
        self.dirty_keys.insert(IndexKey::of_entry(&entry));
        *slot = entry;
        if governance {
            self.rebuild_epochs();
        }
        true
    }

    /// Whether `key` has ever been a root (genesis or any accepted AddRoot): the signers
    /// whose signatures a root-authored entry keeps.
    pub fn has_been_root(&self, key: &DidKey) -> bool {
        self.ever_roots.contains(key)
    }

    fn rebuild_epochs(&mut self) {
        let entries = &self.entries;
        let governance = self
            .governance
            .iter()
            .filter_map(|(_, id)| entries.get(id).map(AsRef::as_ref));
        self.epochs = replay_governance(&self.genesis, governance);
    }
}

/// The epoch of `epochs` (a timeline from [`replay_governance`]) in force at `t`.
pub fn epoch_in(epochs: &[RootEpoch], t: Timestamp) -> &RootEpoch {
    let i = epochs.partition_point(|e| e.since <= t);
    // Epoch 0 starts at time 0 and every timeline has it, so `i >= 1`.
    &epochs[i.saturating_sub(1)]
}

/// The governance timeline of a registry: genesis, then one epoch per governance entry
/// that took effect, replaying `governance` (which must be sorted by `(issued_at, id)`).
/// An entry takes effect only if the roots in force when it was issued authorized it, and
/// only if the result can still act (at least one root, threshold no larger than the root
/// count); otherwise it is kept but has no effect. A pure function of the entries, so a
/// proof's slice replays it exactly as the node did.
pub fn replay_governance<'a>(
    genesis: &Genesis,
    governance: impl Iterator<Item = &'a SignedEntry>,
) -> Vec<RootEpoch> {
    let mut epochs = vec![RootEpoch {
        since: Timestamp(0),
        cause: None,
        roots: genesis.roots.clone(),
        threshold: genesis.threshold,
        witnesses: None,
    }];
    for entry in governance {
        let Op::Governance(g) = &entry.body.op else {
            continue;
        };
        let Some(current) = epochs.last() else {
            continue;
        };
        if !matches!(entry.body.author, Author::Roots) || !current.authorizes(entry.signers()) {
            continue;
        }
        let mut roots = current.roots.clone();
        let mut threshold = current.threshold;
        let mut witnesses = current.witnesses.clone();
        match g {
            Governance::AddRoot(k) => {
                if let Err(i) = roots.binary_search(k) {
                    roots.insert(i, *k);
                }
            }
            Governance::RemoveRoot(k) => roots.retain(|r| r != k),
            Governance::SetThreshold(t) => threshold = *t,
            Governance::SetWitnesses(w) => witnesses = Some(w.sorted()),
        }
        let workable = !roots.is_empty()
            && threshold >= 1
            && usize::from(threshold) <= roots.len()
            && roots.len() <= crate::genesis::MAX_ROOTS;
        if workable {
            epochs.push(RootEpoch {
                since: entry.body.issued_at,
                cause: Some(entry.id()),
                roots,
                threshold,
                witnesses,
            });
        }
    }
    epochs
}
