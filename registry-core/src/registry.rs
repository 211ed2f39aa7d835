//! Acceptance: which entries a node keeps (DESIGN section 5).
//!
//! [`Registry`] owns the accepted [`State`] and the bounded pending pool. Acceptance is
//! monotone: whether an entry is accepted depends only on which other entries are present,
//! never on arrival order, clocks or revocations. An entry whose reference is missing (or
//! a root-authored entry whose signers are not yet known as roots) waits in the pending
//! pool and is accepted the moment what it waits for arrives.
//!
//! # Signature sets
//!
//! Copies of one entry (same body, same id) may carry different signatures: an entry
//! submitted before every root signed it, then again fully signed. A node holds the
//! **union** of the valid signatures of every copy it has seen, in canonical form (sorted
//! by signer, each signer once, the smaller signature bytes when a signer signed twice),
//! so whatever order copies arrive in, every node ends with the same set; the state root
//! commits to it. An accepted entry keeps only the signatures that can count: by keys
//! that have ever been roots (root-authored) or by controllers of its author's
//! accreditation (holder-authored), at most `MAX_SIGNATURES`. Anyone can sign any entry
//! id with a key of their own, so keeping others would let anyone grow an entry, or push
//! real signatures out of a bounded set. A root-authored entry's other valid signatures
//! are kept aside in memory (bounded): when an `AddRoot` makes their signer a root they
//! join the entry, as they would on a node that learned the `AddRoot` first.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::checkpoint::trailing::Trailing;
use crate::did::DidKey;
use crate::entry::{
    merge_signature, Author, EntryError, Governance, Op, Signature, SignedEntry, MAX_SIGNATURES,
};
use crate::genesis::Genesis;
use crate::hash::{EntryId, Hash, RegistryId};
pub use crate::pending::{Evicted, Eviction, Evictions, Source};
use crate::pending::{PendingPool, Roots};
use crate::state::State;
use crate::time::Timestamp;
use crate::verify::{SignatureError, Verifier};

/// Default capacity of the pending pool.
pub const DEFAULT_PENDING_CAPACITY: usize = 10_000;

/// Why an entry was rejected. Every variant means the entry can never be accepted, so the
/// peer that sent it may be penalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error(transparent)]
    Structure(#[from] EntryError),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("author accreditation {0} is not an accreditation")]
    HolderNotAccreditation(EntryId),
    #[error("no signer is a controller of the author accreditation {0}")]
    NotAController(EntryId),
    #[error("revocation target {0} is not an accreditation (revocations and governance cannot be revoked)")]
    NotRevocable(EntryId),
}

impl Rejection {
    /// A short stable code for metrics and API errors.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Structure(EntryError::WrongRegistry { .. }) => "wrong_registry",
            Rejection::Structure(_) => "malformed",
            Rejection::Signature(_) => "bad_signature",
            Rejection::HolderNotAccreditation(_) | Rejection::NotAController(_) => "unauthorized",
            Rejection::NotRevocable(_) => "not_revocable",
        }
    }
}

/// What became of one offered entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    /// Already accepted, and this copy added signatures that count.
    Merged,
    /// Already accepted with every signature of this copy that counts.
    Duplicate,
    /// Waiting in the pending pool for these entries (empty: waiting for governance that
    /// makes its signers roots).
    Pending {
        missing: Vec<EntryId>,
    },
    Rejected(Rejection),
}

/// The result of one call to [`Registry::ingest`].
#[derive(Debug, Default)]
pub struct IngestReport {
    /// One outcome per offered entry, in the order offered.
    pub outcomes: Vec<(EntryId, Outcome)>,
    /// Every entry this call accepted, or whose signature set grew, in order: offered
    /// entries, pending entries they released, and merged copies (the whole entry with its
    /// new set). This is what must be written; a later copy of an id supersedes an earlier.
    pub accepted: Vec<Arc<SignedEntry>>,
    /// Pending entries that were re-examined after their reference arrived and turned out
    /// invalid.
    pub late_rejections: Vec<(EntryId, Rejection)>,
    /// Pending entries dropped because the pool was full.
    pub evicted: Vec<Evicted>,
}

enum Check {
    Accept,
    Wait(Vec<EntryId>, Roots),
    Reject(Rejection),
}

/// An entry that passed every check that needs nothing but the entry itself: structure
/// (acceptance rule 1) and signatures. Made only by [`check_batch`].
#[derive(Debug, Clone)]
pub struct Checked {
    id: EntryId,
    entry: SignedEntry,
}

impl Checked {
    pub fn entry(&self) -> &SignedEntry {
        &self.entry
    }
}

/// Structure and signature checks of a batch, with one batch signature verification. Needs
/// no registry state, so it can run while others read the registry.
pub fn check_batch(
    registry: &RegistryId,
    verifier: &mut Verifier,
    entries: Vec<SignedEntry>,
) -> Vec<(EntryId, Result<Checked, Rejection>)> {
    let identified = entries.into_iter().map(|e| (e.id(), e)).collect();
    check_identified(registry, verifier, identified)
}

fn check_identified(
    registry: &RegistryId,
    verifier: &mut Verifier,
    entries: Vec<(EntryId, SignedEntry)>,
) -> Vec<(EntryId, Result<Checked, Rejection>)> {
    let mut out: Vec<(EntryId, Result<Checked, Rejection>)> = Vec::with_capacity(entries.len());
    let mut to_verify = Vec::with_capacity(entries.len());
    let mut ids = Vec::with_capacity(entries.len());
    let mut slots = Vec::with_capacity(entries.len());
    for (id, entry) in entries {
        match entry.check_structure(registry) {
            Err(e) => out.push((id, Err(e.into()))),
            Ok(()) => {
                slots.push(out.len());
                out.push((id, Err(Rejection::Structure(EntryError::Unsigned))));
                to_verify.push(entry);
                ids.push(id);
            }
        }
    }
    let verdicts = verifier.verify_entries_with_ids(&to_verify, &ids);
    for (((entry, id), verdict), slot) in to_verify.into_iter().zip(ids).zip(verdicts).zip(slots) {
        out[slot].1 = match verdict {
            Ok(()) => Ok(Checked { id, entry }),
            Err(e) => Err(e.into()),
        };
    }
    out
}

/// The accepted set plus the pending pool.
#[derive(Debug)]
pub struct Registry {
    state: State,
    /// The checkpoint state, trailing this one (section 12).
    checkpoint: Trailing,
    pending: PendingPool,
    verifier: Verifier,
    /// Valid signatures of accepted root-authored entries by keys that are not (yet)
    /// roots; see the module documentation.
    dormant: Dormant,
}

impl Registry {
    pub fn new(genesis: Genesis, pending_capacity: usize) -> Registry {
        Registry {
            checkpoint: Trailing::new(genesis.clone()),
            state: State::new(genesis),
            pending: PendingPool::new(pending_capacity),
            verifier: Verifier::new(),
            dormant: Dormant::new(pending_capacity),
        }
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn state_mut(&mut self) -> &mut State {
        &mut self.state
    }

    /// The checkpoint state: the accepted entries issued before its cutoff (see
    /// [`Trailing`]), what checkpoints sign and proofs are made against.
    pub fn checkpoint(&self) -> &Trailing {
        &self.checkpoint
    }

    /// Moves the checkpoint state's cutoff (at a slot boundary: `slot - lag`). Returns
    /// whether the checkpoint state changed.
    pub fn advance_checkpoint(&mut self, cutoff: Timestamp) -> bool {
        self.checkpoint.advance(cutoff)
    }

    /// The state root over the accepted entries and their signature sets.
    pub fn state_root(&self) -> Hash {
        self.state.state_root()
    }

    /// Brings the state trie's hashes up to date. The batch operations ([`Registry::ingest`],
    /// [`Registry::admit`]) do it before they return; a caller of the per-entry
    /// [`Registry::offer_checked`] calls it once after its loop. Reads are right either
    /// way; with current hashes they are lookups, which is what lets the owner share the
    /// registry behind a read lock (see [`crate::trie`]). Returns the state root.
    pub fn rehash(&mut self) -> Hash {
        self.state.rehash()
    }

    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// The pending pool's bound.
    pub fn pending_capacity(&self) -> usize {
        self.pending.capacity()
    }

    /// Sets the pending pool's bound; entries past it are dropped, from the largest
    /// sources first.
    pub fn set_pending_capacity(&mut self, capacity: usize) -> Vec<Evicted> {
        self.pending.set_capacity(capacity)
    }

    /// Pending entries dropped because the pool was full, since start.
    pub fn pending_dropped(&self) -> u64 {
        self.pending.evictions().total()
    }

    /// [`Registry::pending_dropped`] by reason.
    pub fn pending_evictions(&self) -> Evictions {
        self.pending.evictions()
    }

    /// Sources holding pending entries now.
    pub fn pending_sources(&self) -> usize {
        self.pending.sources()
    }

    /// Pending entries held for `source` now.
    pub fn pending_held_by(&self, source: &Source) -> usize {
        self.pending.held_by(source)
    }

    /// The most pending entries one source holds now.
    pub fn pending_largest_share(&self) -> usize {
        self.pending.largest_share()
    }

    pub fn pending_entry(&self, id: &EntryId) -> Option<&SignedEntry> {
        self.pending.get(id).map(|p| &p.entry)
    }

    /// The source a pending entry is filed under (the first that sent it).
    pub fn pending_source(&self, id: &EntryId) -> Option<Source> {
        self.pending.get(id).map(|p| p.source)
    }

    /// Ids to ask peers for (at most `limit`): the references pending entries wait for,
    /// and root-authored pending entries whose signers are not enough, since a peer may
    /// hold a copy with the signatures they lack.
    pub fn missing(&self, limit: usize) -> Vec<EntryId> {
        let mut ids: Vec<EntryId> = self.pending.waiting_on.keys().copied().collect();
        ids.extend(self.pending.needing_roots.iter().copied());
        ids.sort();
        ids.dedup();
        ids.truncate(limit);
        ids
    }

    /// A pending root-authored entry whose signers do not yet count as enough roots: a
    /// copy with more signatures could make it acceptable.
    pub fn awaits_signatures(&self, id: &EntryId) -> bool {
        self.pending.needing_roots.contains(id)
    }

    /// [`Registry::ingest_from`] the node itself ([`Source::LOCAL`]).
    pub fn ingest(&mut self, entries: Vec<SignedEntry>) -> IngestReport {
        self.ingest_from(Source::LOCAL, entries)
    }

    /// Checks structure and signatures (in one batch) of each entry, then applies
    /// acceptance; entries that wait are filed under `source`. Entries already accepted
    /// are not verified again.
    pub fn ingest_from(&mut self, source: Source, entries: Vec<SignedEntry>) -> IngestReport {
        let registry = *self.state.registry_id();
        // A copy whose every signature is already held needs no verification.
        let (known, fresh): (Vec<_>, Vec<_>) =
            entries
                .into_iter()
                .map(|e| (e.id(), e))
                .partition(|(id, e)| {
                    self.state.get(id).is_some_and(|held| {
                        e.signatures.iter().all(|s| held.signatures.contains(s))
                    })
                });
        let mut checked = check_identified(&registry, &mut self.verifier, fresh);
        checked.extend(
            known
                .into_iter()
                .map(|(id, entry)| (id, Ok(Checked { id, entry }))),
        );
        self.admit_from(checked.into_iter().map(|c| (source, c)).collect())
    }

    /// Applies acceptance to entries that went through [`check_batch`], in order. This is
    /// the only step that needs the registry's state, and it is cheap: a node runs
    /// `check_batch` outside its lock and holds the lock only for this.
    pub fn admit(&mut self, checked: Vec<(EntryId, Result<Checked, Rejection>)>) -> IngestReport {
        self.admit_from(checked.into_iter().map(|c| (Source::LOCAL, c)).collect())
    }

    /// [`Registry::admit`] with the source of each entry: those that wait are filed under
    /// it (see [`crate::pending`]).
    #[allow(clippy::type_complexity)]
    pub fn admit_from(
        &mut self,
        checked: Vec<(Source, (EntryId, Result<Checked, Rejection>))>,
    ) -> IngestReport {
        let mut report = IngestReport::default();
        for (source, (id, result)) in checked {
            let outcome = match result {
                Err(r) => Outcome::Rejected(r),
                Ok(c) => self.offer_identified(c.id, c.entry, source, &mut report),
            };
            report.outcomes.push((id, outcome));
        }
        self.state.rehash();
        report
    }

    /// Applies acceptance to an entry whose structure and signatures have been checked
    /// (by [`Registry::ingest`], or before it was written to a verified ledger).
    pub fn offer_checked(&mut self, entry: SignedEntry, report: &mut IngestReport) -> Outcome {
        self.offer_checked_from(entry, Source::LOCAL, report)
    }

    /// [`Registry::offer_checked`] from `source`.
    pub fn offer_checked_from(
        &mut self,
        entry: SignedEntry,
        source: Source,
        report: &mut IngestReport,
    ) -> Outcome {
        self.offer_identified(entry.id(), entry, source, report)
    }

    /// [`Registry::offer_checked`] for an entry whose id (`entry.id()`) is already known.
    fn offer_identified(
        &mut self,
        id: EntryId,
        mut entry: SignedEntry,
        mut source: Source,
        report: &mut IngestReport,
    ) -> Outcome {
        if let Some(held) = self.state.get(&id).cloned() {
            return self.merge_accepted(id, &held, &entry.signatures, report);
        }
        entry.signatures.sort_by_key(|s| s.signer);
        if let Some(p) = self.pending.get(&id) {
            // Another copy of the same body waits: hold the union of both (bounded, first
            // come), which may be acceptable at once. It stays filed under the source
            // that sent it first, counted once.
            let mut union = p.entry.signatures.clone();
            let mut changed = false;
            for s in &entry.signatures {
                changed |= add_bounded(&mut union, s);
            }
            if !changed {
                return Outcome::Pending {
                    missing: p.missing.clone(),
                };
            }
            entry.signatures = union;
            source = p.source;
            self.pending.remove(&id);
        }
        match self.check(&entry) {
            Check::Reject(r) => Outcome::Rejected(r),
            Check::Wait(missing, roots) => {
                let dropped = self
                    .pending
                    .insert(id, entry, missing.clone(), roots, source);
                report.evicted.extend(dropped);
                Outcome::Pending { missing }
            }
            Check::Accept => {
                self.accept(id, Arc::new(entry), report);
                Outcome::Accepted
            }
        }
    }

    /// Folds the signatures of another copy of the accepted entry `held` into it.
    fn merge_accepted(
        &mut self,
        id: EntryId,
        held: &SignedEntry,
        copy: &[Signature],
        report: &mut IngestReport,
    ) -> Outcome {
        let mut set = held.signatures.clone();
        let mut changed = false;
        for s in copy {
            if self.counts(held, &s.signer) {
                changed |= add_bounded(&mut set, s);
            } else if held.body.author == Author::Roots {
                self.dormant.keep(id, s);
            }
        }
        if !changed {
            return Outcome::Duplicate;
        }
        let merged = Arc::new(SignedEntry {
            body: held.body.clone(),
            signatures: set,
        });
        self.state.replace_signatures(&id, merged.clone());
        self.checkpoint.offer(merged.clone());
        report.accepted.push(merged);
        Outcome::Merged
    }

    /// Whether a signature by `signer` on the accepted (or being accepted) `entry` can
    /// count: a key that has ever been a root for a root-authored entry, a controller of
    /// the author's accreditation for a holder-authored one.
    fn counts(&self, entry: &SignedEntry, signer: &DidKey) -> bool {
        match entry.body.author {
            Author::Roots => self.state.has_been_root(signer),
            Author::Holder { accreditation } => self
                .state
                .accreditation(&accreditation)
                .is_some_and(|(_, acc)| acc.is_controller(signer)),
        }
    }

    /// The copy of `entry` to hold once accepted: only signatures that can count (the
    /// others of a root-authored entry are kept aside).
    fn keep_counting(&mut self, id: EntryId, entry: Arc<SignedEntry>) -> Arc<SignedEntry> {
        if entry.signers().all(|s| self.counts(&entry, s)) {
            return entry;
        }
        let mut kept = SignedEntry {
            body: entry.body.clone(),
            signatures: Vec::with_capacity(entry.signatures.len()),
        };
        for s in &entry.signatures {
            if self.counts(&entry, &s.signer) {
                kept.signatures.push(s.clone());
            } else if entry.body.author == Author::Roots {
                self.dormant.keep(id, s);
            }
        }
        Arc::new(kept)
    }

    /// After `key` became a root: the signatures it made that were kept aside join their
    /// entries.
    fn promote(&mut self, key: &DidKey, report: &mut IngestReport) {
        for (id, sig) in self.dormant.take_by(key) {
            let Some(held) = self.state.get(&id).cloned() else {
                continue;
            };
            let _ = self.merge_accepted(id, &held, std::slice::from_ref(&sig), report);
        }
    }

    fn check(&self, entry: &SignedEntry) -> Check {
        let mut missing = Vec::new();
        let mut roots = Roots::Enough;
        match entry.body.author {
            Author::Roots if !self.state.roots_may_have_signed(entry) => roots = Roots::Lacking,
            Author::Roots => {}
            Author::Holder { accreditation } => match self.state.get(&accreditation) {
                None => missing.push(accreditation),
                Some(holder) => match holder.accreditation() {
                    None => return Check::Reject(Rejection::HolderNotAccreditation(accreditation)),
                    Some(acc) => {
                        if !entry.signers().any(|s| acc.is_controller(s)) {
                            return Check::Reject(Rejection::NotAController(accreditation));
                        }
                    }
                },
            },
        }
        if let Op::Revoke(r) = &entry.body.op {
            match self.state.get(&r.target) {
                None => {
                    if !missing.contains(&r.target) {
                        missing.push(r.target);
                    }
                }
                Some(target) if target.accreditation().is_none() => {
                    return Check::Reject(Rejection::NotRevocable(r.target));
                }
                Some(_) => {}
            }
        }
        if missing.is_empty() && roots == Roots::Enough {
            Check::Accept
        } else {
            Check::Wait(missing, roots)
        }
    }

    /// Accepts `entry`, then every pending entry it releases, iteratively.
    fn accept(&mut self, id: EntryId, entry: Arc<SignedEntry>, report: &mut IngestReport) {
        let mut queue = VecDeque::from([(id, entry)]);
        while let Some((id, entry)) = queue.pop_front() {
            if self.state.contains(&id) {
                continue;
            }
            let entry = self.keep_counting(id, entry);
            self.state.insert(id, entry.clone());
            self.checkpoint.offer(entry.clone());
            let widens_roots = matches!(
                entry.body.op,
                Op::Governance(Governance::AddRoot(_) | Governance::SetThreshold(_))
            );
            report.accepted.push(entry.clone());
            if let Op::Governance(Governance::AddRoot(key)) = &entry.body.op {
                self.promote(key, report);
            }
            let mut woken = self.pending.take_waiting_on(&id);
            if widens_roots {
                woken.extend(self.pending.take_needing_roots());
            }
            for (wid, waiter) in woken {
                match self.check(&waiter.entry) {
                    Check::Accept => queue.push_back((wid, Arc::new(waiter.entry))),
                    Check::Reject(r) => report.late_rejections.push((wid, r)),
                    Check::Wait(missing, roots) => {
                        let dropped =
                            self.pending
                                .insert(wid, waiter.entry, missing, roots, waiter.source);
                        report.evicted.extend(dropped);
                    }
                }
            }
        }
    }
}

/// Adds `sig` to the canonical set `set`, which holds at most `MAX_SIGNATURES`: a new
/// signer past that is not added (first come), a signer already present may get the
/// smaller of its two signatures. True if the set changed.
fn add_bounded(set: &mut Vec<Signature>, sig: &Signature) -> bool {
    let present = set.iter().any(|s| s.signer == sig.signer);
    if !present && set.len() >= MAX_SIGNATURES {
        return false;
    }
    merge_signature(set, sig)
}

/// Valid signatures on accepted root-authored entries by keys not (yet) roots, bounded:
/// at most `MAX_SIGNATURES` per entry and `capacity` entries; past that, new ones are not
/// kept (first come), and counted.
#[derive(Debug)]
struct Dormant {
    capacity: usize,
    by_entry: HashMap<EntryId, Vec<Signature>>,
    dropped: u64,
}

impl Dormant {
    fn new(capacity: usize) -> Dormant {
        Dormant {
            capacity: capacity.max(1),
            by_entry: HashMap::new(),
            dropped: 0,
        }
    }

    fn keep(&mut self, id: EntryId, sig: &Signature) {
        if !self.by_entry.contains_key(&id) && self.by_entry.len() >= self.capacity {
            self.dropped += 1;
            return;
        }
        let set = self.by_entry.entry(id).or_default();
        if !add_bounded(set, sig) && !set.contains(sig) {
            self.dropped += 1;
        }
    }

    /// Removes and returns every kept signature by `key`, by entry id.
    fn take_by(&mut self, key: &DidKey) -> Vec<(EntryId, Signature)> {
        let mut out = Vec::new();
        for (id, set) in self.by_entry.iter_mut() {
            if let Some(i) = set.iter().position(|s| s.signer == *key) {
                out.push((*id, set.remove(i)));
            }
        }
        self.by_entry.retain(|_, set| !set.is_empty());
        out.sort_by_key(|(id, _)| *id);
        out
    }
}
