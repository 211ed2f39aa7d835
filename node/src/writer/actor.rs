//! The writer's run loop: group commit of submissions into ledger blocks.
//!
//! One batch at a time:
//! 1. block for the first command, then take whatever else is already queued (up to
//!    `max_batch` submissions) without waiting: concurrent submitters share one flush;
//! 2. check structure and signatures with `check_batch`, holding no lock;
//! 3. take the registry's write lock only for `admit`, which leaves the trie's hashes
//!    current, so readers (queries, sync answers) need only the read lock;
//! 4. append the accepted entries (including pending ones they released) to the ledger,
//!    in blocks of at most `MAX_BLOCK_ENTRIES`; `append` flushes;
//! 5. only then answer each submitter, and hand the client submissions to gossip (see
//!    the module above).
//!
//! Accepted entries that could not be appended (disk full, I/O error) stay in a backlog
//! that the next batch appends first; their submitters get a storage error
//! ([`WriterError::OutOfSpace`] when the disk is full). While the backlog cannot be
//! written, new submissions are answered with that error without being admitted, so an
//! outage never grows the backlog (nor the registry) beyond the one batch that met it.
//! After a failed append the ledger is reopened, and the set of durable ids re-derived
//! from disk, before anything else is written; a read that finds the ledger closed
//! reopens it too.
//!
//! The cargo feature `unsafe-ack-before-flush` (test only, never on by default) answers
//! submitters before their batch is written: the negative control of the crash test
//! (`node/tests/crash.rs`), which must then find acknowledged entries missing after a
//! SIGKILL. A node built with it loses acknowledged entries and says so at start-up.
//!
//! Block state roots come from a trie of the ledger's own ids, kept here: the registry's
//! trie also holds entries not yet durable, and a batch may need several blocks, each of
//! which must carry the root over the ids up to and including it.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::Instant;

use registry_core::block::MAX_BLOCK_ENTRIES;
use registry_core::registry::{check_batch, Outcome, Registry, Source};
use registry_core::store::{Ledger, StoreError};
use registry_core::trie::Trie;
use registry_core::verify::Verifier;
use registry_core::{EntryId, Hash, RegistryId, SignedEntry};
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

use registry_core::checkpoint::checkpoint_of;

use super::{
    ledger_trie, CheckpointRequest, Command, Gossip, Head, Options, Origin, SharedHead, SlotState,
    WriteRequest, WriterError, WriterHandle,
};

/// How often the registry's state root is recomputed and compared with the ledger's.
const ROOT_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// What the writer starts from besides the ledger: accepted entries not yet in it (pending
/// entries restored at start-up whose reference was there), and the ids the ledger holds
/// as pending records.
#[derive(Debug, Default)]
pub struct Restored {
    pub backlog: Vec<Arc<SignedEntry>>,
    pub pending: HashSet<EntryId>,
}

/// Starts the writer thread. `trie` holds exactly the ids in `ledger`.
pub fn spawn(
    ledger: Ledger,
    ledger_dir: PathBuf,
    trie: Trie,
    registry: Arc<RwLock<Registry>>,
    head: SharedHead,
    restored: Restored,
    options: Options,
) -> std::io::Result<(WriterHandle, JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel(options.queue.max(1));
    let actor = Actor {
        rx,
        max_batch: options.max_batch.max(1),
        gossip: options.gossip,
        registry_id: ledger.registry_id(),
        ledger: Some(ledger),
        ledger_dir,
        trie: Some(trie),
        verifier: Verifier::new(),
        registry,
        head,
        backlog: restored.backlog,
        saved_pending: restored.pending,
        last_root_check: None,
        checkpoints: Vec::new(),
    };
    let thread = std::thread::Builder::new()
        .name("ledger-writer".into())
        .spawn(move || actor.run())?;
    Ok((WriterHandle { tx }, thread))
}

struct Actor {
    rx: mpsc::Receiver<Command>,
    max_batch: usize,
    /// Where durable client submissions go for the network to publish.
    gossip: Option<Gossip>,
    registry_id: RegistryId,
    /// `None` after a failed write, until it is reopened.
    ledger: Option<Ledger>,
    ledger_dir: PathBuf,
    /// The ids in the ledger; `None` when a failed append left it uncertain.
    trie: Option<Trie>,
    verifier: Verifier,
    registry: Arc<RwLock<Registry>>,
    head: SharedHead,
    /// Accepted (in memory) but not yet durable, in acceptance order.
    backlog: Vec<Arc<SignedEntry>>,
    /// Ids of the pending records in the ledger: entries acknowledged as pending.
    saved_pending: HashSet<EntryId>,
    /// When the registry's root was last compared with the ledger's.
    last_root_check: Option<Instant>,
    /// Checkpoint requests taken with the current batch, served once it is admitted.
    checkpoints: Vec<CheckpointRequest>,
}

impl Actor {
    fn run(mut self) {
        // Restored entries accepted at start-up, and pending records that are pending no
        // more, are settled before anything else.
        if !self.backlog.is_empty() || !self.saved_pending.is_empty() {
            self.commit(Vec::new());
        }
        loop {
            let Some(first) = self.rx.blocking_recv() else {
                break;
            };
            let mut batch = Vec::new();
            let mut stop = self.take(first, &mut batch);
            while !stop && batch.len() < self.max_batch {
                match self.rx.try_recv() {
                    Ok(command) => stop = self.take(command, &mut batch),
                    Err(_) => break,
                }
            }
            if !batch.is_empty() || !self.backlog.is_empty() {
                self.commit(batch);
            }
            self.advance_checkpoints();
            if stop {
                break;
            }
        }
        self.finish();
    }

    /// Queues a submission into `batch` or serves a read at once; true for `Shutdown`.
    fn take(&mut self, command: Command, batch: &mut Vec<WriteRequest>) -> bool {
        match command {
            Command::Write(request) => batch.push(*request),
            Command::Read(job) => {
                if self.ledger.is_none() {
                    if let Err(e) = self.ensure_ledger() {
                        debug!(error = %e, "the ledger is still unavailable for reading");
                    }
                }
                job(self.ledger.as_ref())
            }
            Command::Checkpoint(request) => self.checkpoints.push(request),
            Command::Shutdown => return true,
        }
        false
    }

    /// Advances the checkpoint state for each slot asked, after the batch taken with the
    /// requests was admitted (so nothing submitted before a request is left out).
    fn advance_checkpoints(&mut self) {
        for request in std::mem::take(&mut self.checkpoints) {
            let slot_state = {
                let mut registry = match self.registry.write() {
                    Ok(g) => g,
                    Err(poisoned) => poisoned.into_inner(),
                };
                registry.advance_checkpoint(request.cutoff);
                let state = registry.checkpoint().state();
                SlotState {
                    checkpoint: checkpoint_of(state, request.slot),
                    witnesses: state.epoch_at(request.slot).witnesses.clone(),
                    live_witnesses: registry.state().current_epoch().witnesses.clone(),
                }
            };
            let _ = request.reply.send(slot_state);
        }
    }

    fn commit(&mut self, batch: Vec<WriteRequest>) {
        let started = Instant::now();
        let size = batch.len();
        let Unpacked {
            sources,
            submitted,
            entries,
            replies,
        } = unpack(batch, self.gossip.is_some());
        // What an earlier failed append left goes first. While it cannot be written, the
        // new submissions are refused unexamined: nothing is admitted that could not be
        // stored, so a full disk cannot make the backlog grow.
        if let Err(e) = self.append_backlog() {
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
            debug!(submitted = size, waiting = self.backlog.len(), error = %e,
                "batch refused: the backlog cannot be written");
            return;
        }
        // Signatures are the expensive part; they need no registry state.
        let checked = check_batch(&self.registry_id, &mut self.verifier, entries);
        // The write lock is held for `admit` alone, which leaves the trie's hashes current
        // (`Registry::rehash`), so every reader (queries, sync answers) needs only a read
        // lock. Readers wait while it is held, and on a busy machine a holder that gets
        // preempted makes them wait a whole time slice. The cross-check of the registry's
        // root against the ledger's runs at most once per second.
        let check_roots = self
            .last_root_check
            .is_none_or(|t| t.elapsed() >= ROOT_CHECK_INTERVAL);
        let (report, registry_root, pending, to_gossip) = {
            let mut registry = match self.registry.write() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            let report = registry.admit_from(sources.into_iter().zip(checked).collect());
            let root = check_roots.then(|| registry.state_root());
            let pending = pending_changes(&registry, &report.outcomes, &self.saved_pending);
            let to_gossip = gossip_copies(&registry, &report.outcomes, submitted);
            (report, root, pending, to_gossip)
        };
        for (id, why) in &report.late_rejections {
            debug!(entry = %id, reason = %why, "released pending entry turned out invalid");
        }
        let accepted = report.accepted.len();
        self.backlog.extend(report.accepted);
        // Negative control only: acknowledge before anything is written or flushed.
        #[cfg(feature = "unsafe-ack-before-flush")]
        let (outcomes, replies) = {
            answer(report.outcomes, replies, &Ok(()));
            (Vec::new(), Vec::new())
        };
        #[cfg(not(feature = "unsafe-ack-before-flush"))]
        let outcomes = report.outcomes;
        let durable = self.make_durable(pending, registry_root);
        // Handed to the network just before the submitters hear of it, so a submitter
        // that has its answer finds its entry on the way to peers.
        if let (Ok(()), Some(gossip)) = (&durable, &self.gossip) {
            for entry in to_gossip {
                gossip.send(entry);
            }
        }
        answer(outcomes, replies, &durable);
        debug!(submitted = size, accepted, elapsed = ?started.elapsed(), "batch committed");
    }

    /// Appends the backlog and records the pending changes, then compares the roots.
    fn make_durable(
        &mut self,
        pending: PendingChanges,
        registry_root: Option<Hash>,
    ) -> Result<(), WriterError> {
        self.append_backlog()?;
        // Pending entries are acknowledged only once recorded; records of entries accepted
        // (now in a block), rejected or evicted are dropped only after that block is.
        if !pending.is_empty() {
            self.save_pending(pending)?;
        }
        self.compare_roots(registry_root);
        Ok(())
    }

    /// Logs an error when the registry's root (when it was computed for this batch)
    /// differs from the ledger's.
    fn compare_roots(&mut self, registry_root: Option<Hash>) {
        let ledger_root = self.trie.as_mut().map(Trie::rehash);
        if let Some(registry_root) = registry_root {
            self.last_root_check = Some(Instant::now());
            if ledger_root.is_some_and(|r| r != registry_root) {
                error!(ledger = %ledger_root.unwrap_or_default(), registry = %registry_root,
                    "state root of the ledger differs from the registry's");
            }
        }
    }

    fn save_pending(&mut self, changes: PendingChanges) -> Result<(), WriterError> {
        let Some(ledger) = self.ledger.as_mut() else {
            return Err(WriterError::Unavailable);
        };
        match ledger.save_pending(&changes.put, &changes.gone) {
            Ok(()) => {
                for id in &changes.gone {
                    self.saved_pending.remove(id);
                }
                self.saved_pending
                    .extend(changes.put.iter().map(|(e, _)| e.id()));
                Ok(())
            }
            Err(e) => {
                error!(error = %e, "recording pending entries failed");
                self.ledger = None;
                self.trie = None;
                Err(WriterError::from_store("cannot record pending entries", e))
            }
        }
    }

    /// Appends the backlog to the ledger in blocks; empties it on success.
    fn append_backlog(&mut self) -> Result<(), WriterError> {
        if self.backlog.is_empty() {
            return Ok(());
        }
        self.ensure_ledger()?;
        let (Some(ledger), Some(trie)) = (self.ledger.as_mut(), self.trie.as_mut()) else {
            return Err(WriterError::Unavailable);
        };
        while !self.backlog.is_empty() {
            let n = self.backlog.len().min(MAX_BLOCK_ENTRIES);
            let chunk = latest_copies(&self.backlog[..n]);
            for e in &chunk {
                trie.upsert(e.id(), e.signatures_digest());
            }
            let root = trie.rehash();
            match ledger.append(&chunk, crate::now(), root) {
                Ok(block) => {
                    self.backlog.drain(..n);
                    set_head(&self.head, ledger, block.hash(), root);
                }
                Err(e) => {
                    error!(error = %e, waiting = self.backlog.len(),
                        "ledger append failed; accepted entries wait for the next batch");
                    // The trie now holds ids that may not be on disk; what is there is
                    // re-derived from the reopened ledger before the next append.
                    self.trie = None;
                    if !matches!(e, StoreError::BadBatch(_) | StoreError::Duplicate(_)) {
                        self.ledger = None;
                    }
                    return Err(WriterError::from_store("cannot append a block", e));
                }
            }
        }
        Ok(())
    }

    /// Reopens the ledger after a failure and re-derives the durable ids, dropping from
    /// the backlog whatever reached the disk after all.
    fn ensure_ledger(&mut self) -> Result<(), WriterError> {
        if self.ledger.is_none() {
            let ledger =
                crate::rebuild::open_patiently(&self.ledger_dir, crate::rebuild::REOPEN_PATIENCE)
                    .map_err(|e| WriterError::from_store("cannot reopen the ledger", e))?;
            if ledger.registry_id() != self.registry_id {
                return Err(WriterError::ForeignLedger);
            }
            info!("ledger reopened after a storage failure");
            self.ledger = Some(ledger);
            self.trie = None;
        }
        if self.trie.is_some() {
            return Ok(());
        }
        let Some(ledger) = self.ledger.as_ref() else {
            return Err(WriterError::Unavailable);
        };
        let stored = ledger
            .load_all()
            .map_err(|e| WriterError::from_store("cannot read the ledger back", e))?;
        let mut trie = ledger_trie(ledger, &stored)?;
        let root = trie.rehash();
        let before = self.backlog.len();
        // Dropped: what is on disk with the same signatures.
        self.backlog.retain(|e| {
            !matches!(ledger.entry(&e.id()), Ok(Some(held)) if held.entry.signatures == e.signatures)
        });
        if self.backlog.len() != before {
            warn!(
                on_disk = before - self.backlog.len(),
                "entries of a failed append reached the disk"
            );
        }
        set_head(&self.head, ledger, ledger.head_hash(), root);
        self.trie = Some(trie);
        Ok(())
    }

    /// Appends what is left, flushes, and says how it went.
    fn finish(mut self) {
        if !self.backlog.is_empty() {
            if let Err(e) = self.append_backlog() {
                error!(error = %e, lost = self.backlog.len(),
                    "accepted entries could not be stored before exit (none was acknowledged)");
            }
        }
        if let Some(ledger) = self.ledger.take() {
            if let Err(e) = ledger.flush() {
                error!(error = %e, "final ledger flush failed");
            }
            let height = ledger.height();
            drop(ledger);
            info!(height, "ledger writer stopped");
        }
    }
}

/// A batch taken apart, in submission order.
struct Unpacked {
    sources: Vec<Source>,
    /// The copies the network may publish: client submissions, while gossip is wired.
    submitted: Vec<Option<SignedEntry>>,
    entries: Vec<SignedEntry>,
    replies: Vec<tokio::sync::oneshot::Sender<Result<Outcome, WriterError>>>,
}

fn unpack(batch: Vec<WriteRequest>, gossip: bool) -> Unpacked {
    let mut out = Unpacked {
        sources: Vec::with_capacity(batch.len()),
        submitted: Vec::with_capacity(batch.len()),
        entries: Vec::with_capacity(batch.len()),
        replies: Vec::with_capacity(batch.len()),
    };
    for r in batch {
        let publish = gossip && r.origin == Origin::Client;
        out.submitted.push(publish.then(|| r.entry.clone()));
        out.sources.push(r.source);
        out.entries.push(r.entry);
        out.replies.push(r.reply);
    }
    out
}

/// Answers each submitter of a batch: its outcome, or the storage error for entries that
/// needed the failed write (accepted ones, and duplicates of entries not yet durable).
fn answer(
    outcomes: Vec<(EntryId, Outcome)>,
    replies: Vec<tokio::sync::oneshot::Sender<Result<Outcome, WriterError>>>,
    durable: &Result<(), WriterError>,
) {
    for ((_, outcome), reply) in outcomes.into_iter().zip(replies) {
        let answer = match (durable, outcome) {
            (
                Err(e),
                Outcome::Accepted | Outcome::Merged | Outcome::Duplicate | Outcome::Pending { .. },
            ) => Err(e.clone()),
            (_, outcome) => Ok(outcome),
        };
        let _ = reply.send(answer);
    }
}

/// What the network publishes of a batch, read under the lock: for each submission with
/// a copy in `submitted` (a client's) that was accepted, merged or left pending, the copy
/// the registry holds (every signature it has), or the submitted copy while it waits.
fn gossip_copies(
    registry: &Registry,
    outcomes: &[(EntryId, Outcome)],
    submitted: Vec<Option<SignedEntry>>,
) -> Vec<Arc<SignedEntry>> {
    outcomes
        .iter()
        .zip(submitted)
        .filter_map(|((id, outcome), copy)| {
            let copy = copy?;
            match outcome {
                Outcome::Accepted | Outcome::Merged | Outcome::Pending { .. } => Some(
                    registry
                        .state()
                        .get(id)
                        .cloned()
                        .unwrap_or_else(|| Arc::new(copy)),
                ),
                Outcome::Duplicate | Outcome::Rejected(_) => None,
            }
        })
        .collect()
}

/// Changes to the ledger's pending records after one batch.
#[derive(Debug, Default)]
struct PendingChanges {
    /// Offered entries that wait now, as held (the union of their copies), with the
    /// source they are filed under.
    put: Vec<(SignedEntry, Source)>,
    /// Recorded entries that wait no more.
    gone: Vec<EntryId>,
}

impl PendingChanges {
    fn is_empty(&self) -> bool {
        self.put.is_empty() && self.gone.is_empty()
    }
}

/// What the batch with these outcomes changed in the pending set, read under the lock.
fn pending_changes(
    registry: &Registry,
    outcomes: &[(EntryId, Outcome)],
    saved: &HashSet<EntryId>,
) -> PendingChanges {
    let mut put: registry_core::hash::IdMap<(SignedEntry, Source)> = Default::default();
    for (id, outcome) in outcomes {
        if matches!(outcome, Outcome::Pending { .. }) {
            if let (Some(e), Some(source)) =
                (registry.pending_entry(id), registry.pending_source(id))
            {
                put.insert(*id, (e.clone(), source));
            }
        }
    }
    let gone = saved
        .iter()
        .filter(|id| registry.pending_entry(id).is_none())
        .copied()
        .collect();
    PendingChanges {
        put: put.into_values().collect(),
        gone,
    }
}

/// The entries of one block: each id once, at its first place in `backlog`, as its last
/// copy there (a later copy of an id is the same entry with a larger signature set).
fn latest_copies(backlog: &[Arc<SignedEntry>]) -> Vec<SignedEntry> {
    let mut at: registry_core::hash::IdMap<usize> = Default::default();
    let mut out: Vec<SignedEntry> = Vec::with_capacity(backlog.len());
    for e in backlog {
        let id = e.id();
        match at.get(&id) {
            Some(&i) => out[i] = SignedEntry::clone(e),
            None => {
                at.insert(id, out.len());
                out.push(SignedEntry::clone(e));
            }
        }
    }
    out
}

fn set_head(head: &SharedHead, ledger: &Ledger, hash: Hash, state_root: Hash) {
    let next = Head {
        height: ledger.height(),
        hash,
        state_root,
        entries: ledger.entry_count(),
    };
    match head.write() {
        Ok(mut h) => *h = next,
        Err(poisoned) => *poisoned.into_inner() = next,
    }
}
