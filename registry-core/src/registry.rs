//! Acceptance: which entries a node keeps (DESIGN section 5).
//!
//! [`Registry`] owns the accepted [`State`] and the bounded pending pool. Acceptance is
//! monotone: whether an entry is accepted depends only on which other entries are present,
//! never on arrival order, clocks or revocations. An entry whose reference is missing (or
//! a root-authored entry whose signers are not yet known as roots) waits in the pending
//! pool and is accepted the moment what it waits for arrives.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use crate::entry::{Author, EntryError, Governance, Op, SignedEntry};
use crate::genesis::Genesis;
use crate::hash::{EntryId, Hash, RegistryId};
use crate::state::State;
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
    /// Already accepted.
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
    /// Every entry accepted by this call, in acceptance order: offered entries and pending
    /// entries they released.
    pub accepted: Vec<Arc<SignedEntry>>,
    /// Pending entries that were re-examined after their reference arrived and turned out
    /// invalid.
    pub late_rejections: Vec<(EntryId, Rejection)>,
}

enum Check {
    Accept,
    Wait(Vec<EntryId>, bool),
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
    pending: PendingPool,
    verifier: Verifier,
}

impl Registry {
    pub fn new(genesis: Genesis, pending_capacity: usize) -> Registry {
        Registry {
            state: State::new(genesis),
            pending: PendingPool::new(pending_capacity),
            verifier: Verifier::new(),
        }
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn state_mut(&mut self) -> &mut State {
        &mut self.state
    }

    pub fn state_root(&mut self) -> Hash {
        self.state.state_root()
    }

    pub fn pending_len(&self) -> usize {
        self.pending.entries.len()
    }

    /// Pending entries dropped because the pool was full, since start.
    pub fn pending_dropped(&self) -> u64 {
        self.pending.dropped
    }

    pub fn pending_entry(&self, id: &EntryId) -> Option<&SignedEntry> {
        self.pending.entries.get(id).map(|p| &p.entry)
    }

    /// Ids that pending entries wait for, to ask peers for (at most `limit`).
    pub fn missing(&self, limit: usize) -> Vec<EntryId> {
        let mut ids: Vec<EntryId> = self.pending.waiting_on.keys().copied().collect();
        ids.sort();
        ids.truncate(limit);
        ids
    }

    /// Checks structure and signatures (in one batch) of each entry, then applies
    /// acceptance. Entries already accepted are not verified again.
    pub fn ingest(&mut self, entries: Vec<SignedEntry>) -> IngestReport {
        let registry = *self.state.registry_id();
        let (known, fresh): (Vec<_>, Vec<_>) = entries
            .into_iter()
            .map(|e| (e.id(), e))
            .partition(|(id, _)| self.state.contains(id));
        let mut checked = check_identified(&registry, &mut self.verifier, fresh);
        checked.extend(
            known
                .into_iter()
                .map(|(id, entry)| (id, Ok(Checked { id, entry }))),
        );
        self.admit(checked)
    }

    /// Applies acceptance to entries that went through [`check_batch`], in order. This is
    /// the only step that needs the registry's state, and it is cheap: a node runs
    /// `check_batch` outside its lock and holds the lock only for this.
    pub fn admit(&mut self, checked: Vec<(EntryId, Result<Checked, Rejection>)>) -> IngestReport {
        let mut report = IngestReport::default();
        for (id, result) in checked {
            let outcome = match result {
                Err(r) => Outcome::Rejected(r),
                Ok(c) => self.offer_identified(c.id, c.entry, &mut report),
            };
            report.outcomes.push((id, outcome));
        }
        report
    }

    /// Applies acceptance to an entry whose structure and signatures have been checked
    /// (by [`Registry::ingest`], or before it was written to a verified ledger).
    pub fn offer_checked(&mut self, entry: SignedEntry, report: &mut IngestReport) -> Outcome {
        self.offer_identified(entry.id(), entry, report)
    }

    /// [`Registry::offer_checked`] for an entry whose id (`entry.id()`) is already known.
    fn offer_identified(
        &mut self,
        id: EntryId,
        entry: SignedEntry,
        report: &mut IngestReport,
    ) -> Outcome {
        if self.state.contains(&id) {
            return Outcome::Duplicate;
        }
        if let Some(p) = self.pending.entries.get(&id) {
            // Another copy of the same body waits. A copy with more signatures replaces it
            // (a multi-signature entry submitted once partly signed, then fully signed);
            // the better copy may be acceptable at once.
            if entry.signatures.len() <= p.entry.signatures.len() {
                return Outcome::Pending {
                    missing: p.missing.clone(),
                };
            }
            self.pending.remove(&id);
        }
        match self.check(&entry) {
            Check::Reject(r) => Outcome::Rejected(r),
            Check::Wait(missing, needs_roots) => {
                self.pending.insert(id, entry, missing.clone(), needs_roots);
                Outcome::Pending { missing }
            }
            Check::Accept => {
                self.accept(id, Arc::new(entry), report);
                Outcome::Accepted
            }
        }
    }

    fn check(&self, entry: &SignedEntry) -> Check {
        let mut missing = Vec::new();
        let mut needs_roots = false;
        match entry.body.author {
            Author::Roots => needs_roots = !self.state.roots_may_have_signed(entry),
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
        if missing.is_empty() && !needs_roots {
            Check::Accept
        } else {
            Check::Wait(missing, needs_roots)
        }
    }

    /// Accepts `entry`, then every pending entry it releases, iteratively.
    fn accept(&mut self, id: EntryId, entry: Arc<SignedEntry>, report: &mut IngestReport) {
        let mut queue = VecDeque::from([(id, entry)]);
        while let Some((id, entry)) = queue.pop_front() {
            if !self.state.insert(id, entry.clone()) {
                continue;
            }
            let widens_roots = matches!(
                entry.body.op,
                Op::Governance(Governance::AddRoot(_) | Governance::SetThreshold(_))
            );
            report.accepted.push(entry);
            let mut woken = self.pending.take_waiting_on(&id);
            if widens_roots {
                woken.extend(self.pending.take_needing_roots());
            }
            for (wid, waiter) in woken {
                match self.check(&waiter.entry) {
                    Check::Accept => queue.push_back((wid, Arc::new(waiter.entry))),
                    Check::Reject(r) => report.late_rejections.push((wid, r)),
                    Check::Wait(missing, needs_roots) => {
                        self.pending.insert(wid, waiter.entry, missing, needs_roots);
                    }
                }
            }
        }
    }
}

#[derive(Debug)]
struct Waiting {
    entry: SignedEntry,
    missing: Vec<EntryId>,
    needs_roots: bool,
    seq: u64,
}

/// Entries waiting for a reference, bounded: when full, the oldest is dropped.
#[derive(Debug)]
struct PendingPool {
    capacity: usize,
    entries: HashMap<EntryId, Waiting>,
    /// Arrival order; may hold stale ids (left by entries that were accepted or dropped),
    /// which are skipped and compacted away.
    order: VecDeque<(u64, EntryId)>,
    waiting_on: HashMap<EntryId, Vec<EntryId>>,
    needing_roots: HashSet<EntryId>,
    next_seq: u64,
    dropped: u64,
}

impl PendingPool {
    fn new(capacity: usize) -> PendingPool {
        PendingPool {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: VecDeque::new(),
            waiting_on: HashMap::new(),
            needing_roots: HashSet::new(),
            next_seq: 0,
            dropped: 0,
        }
    }

    fn insert(
        &mut self,
        id: EntryId,
        entry: SignedEntry,
        missing: Vec<EntryId>,
        needs_roots: bool,
    ) {
        while self.entries.len() >= self.capacity {
            match self.order.pop_front() {
                Some((seq, old)) => {
                    if self.entries.get(&old).is_some_and(|w| w.seq == seq) {
                        self.remove(&old);
                        self.dropped += 1;
                    }
                }
                None => break,
            }
        }
        for m in &missing {
            self.waiting_on.entry(*m).or_default().push(id);
        }
        if needs_roots {
            self.needing_roots.insert(id);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.push_back((seq, id));
        self.entries.insert(
            id,
            Waiting {
                entry,
                missing,
                needs_roots,
                seq,
            },
        );
        if self.order.len() > 2 * self.capacity + 16 {
            let entries = &self.entries;
            self.order
                .retain(|(s, i)| entries.get(i).is_some_and(|w| w.seq == *s));
        }
    }

    fn remove(&mut self, id: &EntryId) -> Option<Waiting> {
        let w = self.entries.remove(id)?;
        for m in &w.missing {
            if let Some(list) = self.waiting_on.get_mut(m) {
                list.retain(|x| x != id);
                if list.is_empty() {
                    self.waiting_on.remove(m);
                }
            }
        }
        if w.needs_roots {
            self.needing_roots.remove(id);
        }
        Some(w)
    }

    fn take_waiting_on(&mut self, id: &EntryId) -> Vec<(EntryId, Waiting)> {
        let ids = self.waiting_on.remove(id).unwrap_or_default();
        ids.into_iter()
            .filter_map(|w| Some((w, self.remove(&w)?)))
            .collect()
    }

    fn take_needing_roots(&mut self) -> Vec<(EntryId, Waiting)> {
        let mut ids: Vec<EntryId> = self.needing_roots.iter().copied().collect();
        ids.sort();
        ids.into_iter()
            .filter_map(|w| Some((w, self.remove(&w)?)))
            .collect()
    }
}
