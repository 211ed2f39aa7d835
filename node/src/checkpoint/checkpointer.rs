//! The checkpoint machinery of one node: at each slot, the note of its checkpoint state,
//! signed when this node is a witness in force; from peers, signatures merged on equal
//! bodies, held for slots not computed yet, and compared across bodies to catch
//! equivocations.
//!
//! Everything a peer sends is bounded before it is kept: only valid signatures of
//! witnesses in force, on slots within `max_skew_secs` of our clock, one body per
//! (slot, signer), and at most [`MAX_SEEN`] of those.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use p2p::protocol::CheckpointMessage;
use p2p::CheckpointVerdict;
use registry_core::checkpoint::note::{NoteSignature, SignedNote, MAX_NOTE_BYTES};
use registry_core::{DidKey, RegistryId, SecretKey, Timestamp, WitnessSet};
use tracing::{error, info, warn};

use super::equivocation::{Equivocation, Equivocations, StoredEquivocation};
use super::signed::{Refusal, SignLog};
use super::{CheckpointConfig, Notes, SlotNote};
use crate::writer::SlotState;

/// Most (slot, signer) bodies remembered for merging and equivocation detection.
pub const MAX_SEEN: usize = 4096;
/// Received notes whose slots are weighed for the clock-skew warning.
const SKEW_WINDOW: usize = 64;
/// Fewer observations than this never raise the warning.
const SKEW_MIN: usize = 8;

/// Counters of the checkpoint machinery, rendered by `/metrics`.
#[derive(Debug, Default)]
pub struct CheckpointCounters {
    pub slots_signed: AtomicU64,
    pub signatures_merged: AtomicU64,
    pub rejected: AtomicU64,
    /// Bodies this node refused to sign because it signed another for the slot.
    pub refused: AtomicU64,
    pub equivocations: AtomicU64,
}

/// Where the notes and proofs to gossip go (the network, once it runs).
pub type Publisher = Box<dyn Fn(&CheckpointMessage) + Send + Sync>;
/// The witnesses of the live state's current epoch, read when a message is judged.
pub type WitnessesNow = Box<dyn Fn() -> Option<WitnessSet> + Send + Sync>;
/// Our clock, unix seconds.
pub type Clock = Box<dyn Fn() -> u64 + Send + Sync>;

/// This node's checkpoints. Shared (`Arc`) by the slot task, the network's host and HTTP.
pub struct Checkpointer {
    config: CheckpointConfig,
    registry: RegistryId,
    key: SecretKey,
    me: DidKey,
    notes: Arc<Notes>,
    witnesses_now: WitnessesNow,
    clock: Clock,
    publisher: OnceLock<Publisher>,
    counters: CheckpointCounters,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Inner {
    log: SignLog,
    equivocations: Equivocations,
    /// Whether the last slot computed found this node a witness in force.
    witness: bool,
    /// The newest slot computed.
    latest: Option<u64>,
    /// Per (slot, signer), the first body seen signed (only that signature kept): what
    /// later signatures are merged from and compared with.
    seen: BTreeMap<(u64, DidKey), SignedNote>,
    /// Far (true) or near (false) slots of the last received notes.
    skew: VecDeque<bool>,
    skew_suspected: bool,
    /// Slots for which a lying build signed a second body (test only).
    #[cfg_attr(not(feature = "test-liar"), allow(dead_code))]
    lied: BTreeSet<u64>,
}

/// What `/v1/status` shows of the checkpoint machinery.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub witness: bool,
    pub last_signed_slot: Option<u64>,
    pub equivocations: Vec<StoredEquivocation>,
    pub clock_skew_suspected: bool,
}

impl Checkpointer {
    /// The checkpointer of the node whose key is `key`, with its persisted record of
    /// signed slots and equivocations from `dir`.
    pub fn new(
        config: CheckpointConfig,
        registry: RegistryId,
        key: SecretKey,
        notes: Arc<Notes>,
        dir: &std::path::Path,
        witnesses_now: WitnessesNow,
        clock: Clock,
    ) -> anyhow::Result<Checkpointer> {
        let log = SignLog::open(dir)?;
        let equivocations = Equivocations::open(dir)?;
        let counters = CheckpointCounters::default();
        counters
            .equivocations
            .store(equivocations.all().len() as u64, Ordering::Relaxed);
        Ok(Checkpointer {
            me: key.did(),
            config,
            registry,
            key,
            notes,
            witnesses_now,
            clock,
            publisher: OnceLock::new(),
            counters,
            inner: Mutex::new(Inner {
                log,
                equivocations,
                witness: false,
                latest: None,
                seen: BTreeMap::new(),
                skew: VecDeque::new(),
                skew_suspected: false,
                lied: BTreeSet::new(),
            }),
        })
    }

    /// Sends the notes and proofs this node gossips to `publisher` (set once).
    pub fn set_publisher(&self, publisher: Publisher) {
        let _ = self.publisher.set(publisher);
    }

    pub fn config(&self) -> &CheckpointConfig {
        &self.config
    }

    pub fn notes(&self) -> &Arc<Notes> {
        &self.notes
    }

    pub fn counters(&self) -> &CheckpointCounters {
        &self.counters
    }

    /// This node's witness id.
    pub fn key(&self) -> &DidKey {
        &self.me
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn publish(&self, message: CheckpointMessage) {
        if let Some(p) = self.publisher.get() {
            p(&message);
        }
    }

    /// (slot, signer) bodies remembered: bounded by [`MAX_SEEN`].
    pub fn seen_len(&self) -> usize {
        self.lock().seen.len()
    }

    /// What the status shows.
    pub fn snapshot(&self) -> Snapshot {
        let inner = self.lock();
        Snapshot {
            witness: inner.witness,
            last_signed_slot: inner.log.last().map(|l| l.slot),
            equivocations: inner.equivocations.all().to_vec(),
            clock_skew_suspected: inner.skew_suspected,
        }
    }

    /// A slot boundary: the checkpoint state the writer took for it becomes our note,
    /// signed if this node is a witness in force (and never on a second body for a slot
    /// it signed), with the signatures peers sent for it ahead of us merged. Returns the
    /// note kept.
    pub fn on_slot(&self, state: SlotState) -> SlotNote {
        let slot = state.checkpoint.slot;
        let mut note = SlotNote {
            note: SignedNote::new(state.checkpoint),
            witnesses: state.witnesses,
        };
        let mut inner = self.lock();
        let witness = state
            .live_witnesses
            .as_ref()
            .is_some_and(|w| w.keys.contains(&self.me));
        inner.witness = witness;
        inner.latest = Some(
            inner
                .latest
                .map_or(slot.as_secs(), |l| l.max(slot.as_secs())),
        );
        let mut signed = false;
        if witness {
            match inner.log.permit(&state.checkpoint) {
                Ok(()) => {
                    let sig = SignedNote::sign(&state.checkpoint, &self.key);
                    note.note.merge(sig.clone());
                    self.observe(&mut inner, &note.note, self.me, &sig);
                    signed = true;
                    self.counters.slots_signed.fetch_add(1, Ordering::Relaxed);
                }
                Err(e @ Refusal::WouldEquivocate { .. }) => {
                    self.counters.refused.fetch_add(1, Ordering::Relaxed);
                    error!(error = %e, "checkpoint not signed");
                }
                Err(e) => error!(error = %e, "checkpoint not signed"),
            }
        }
        // Signatures that came before our body: merged if on it.
        let commitment = state.checkpoint.commitment();
        let s = slot.as_secs();
        let held = inner.seen.iter().filter(|((at, _), _)| *at == s);
        for (_, held) in held {
            if held.checkpoint.commitment() == commitment {
                for sig in &held.signatures {
                    if note.note.merge(sig.clone()) {
                        self.counters
                            .signatures_merged
                            .fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        self.prune(&mut inner);
        drop(inner);
        self.notes.set_own(note.clone());
        if signed {
            self.publish(CheckpointMessage::Note(note.note.text()));
        }
        note
    }

    /// Forgets what is too old to matter: bodies of slots past the skew window.
    fn prune(&self, inner: &mut Inner) {
        let now = (self.clock)();
        let oldest = now.saturating_sub(self.config.max_skew_secs);
        inner.seen.retain(|(slot, _), _| *slot >= oldest);
        inner.lied.retain(|slot| *slot >= oldest);
    }

    /// Records that `signer` signed `body` (`sig`, verified): the first body per (slot,
    /// signer) is kept; a second, different one is an equivocation, kept and gossiped.
    /// Returns whether that was a new equivocation.
    fn observe(
        &self,
        inner: &mut Inner,
        body: &SignedNote,
        signer: DidKey,
        sig: &NoteSignature,
    ) -> bool {
        let key = (body.checkpoint.slot.as_secs(), signer);
        let Some(first) = inner.seen.get(&key) else {
            if inner.seen.len() >= MAX_SEEN {
                // The oldest slot goes first: the newest are the ones still being signed.
                inner.seen.pop_first();
            }
            inner.seen.insert(
                key,
                SignedNote {
                    checkpoint: body.checkpoint,
                    signatures: vec![sig.clone()],
                },
            );
            return false;
        };
        if first.checkpoint.commitment() == body.checkpoint.commitment() {
            return false;
        }
        let Some(first_sig) = first.signatures.first() else {
            return false;
        };
        let Some(proof) = Equivocation::of(signer, (first, first_sig), (body, sig)) else {
            return false;
        };
        self.keep_equivocation(inner, &proof)
    }

    /// Keeps a valid proof; if it is new, counts, logs and gossips it.
    fn keep_equivocation(&self, inner: &mut Inner, proof: &Equivocation) -> bool {
        if inner.equivocations.knows(&proof.signer, proof.slot) {
            return false;
        }
        match inner.equivocations.add(proof) {
            Ok(_) => {}
            Err(e) => error!(error = %e, "cannot persist an equivocation proof"),
        }
        self.counters.equivocations.fetch_add(1, Ordering::Relaxed);
        warn!(signer = %proof.signer, slot = proof.slot.as_secs(),
            "equivocation: a witness signed two checkpoints for one slot");
        self.publish(CheckpointMessage::Equivocation(
            proof.notes[0].text(),
            proof.notes[1].text(),
        ));
        true
    }

    /// Whether `key` counts as a witness for `slot`: in force now, or in force at the slot
    /// in the checkpoint state we computed for it.
    fn counts(&self, key: &DidKey, now_set: &Option<WitnessSet>, slot: Timestamp) -> bool {
        if now_set.as_ref().is_some_and(|w| w.keys.contains(key)) {
            return true;
        }
        self.notes
            .own(slot)
            .and_then(|n| n.witnesses)
            .is_some_and(|w| w.keys.contains(key))
    }

    /// Judges a message of the checkpoint topic and keeps what it teaches.
    pub fn receive(&self, message: CheckpointMessage) -> CheckpointVerdict {
        let verdict = match message {
            CheckpointMessage::Note(text) => self.receive_note(&text),
            CheckpointMessage::Equivocation(a, b) => self.receive_proof(&a, &b),
        };
        if matches!(verdict, CheckpointVerdict::Reject(_)) {
            self.counters.rejected.fetch_add(1, Ordering::Relaxed);
        }
        verdict
    }

    fn receive_note(&self, text: &str) -> CheckpointVerdict {
        if text.len() > MAX_NOTE_BYTES {
            return CheckpointVerdict::Reject(format!("a note of {} bytes", text.len()));
        }
        let note = match SignedNote::parse(text) {
            Ok(n) => n,
            Err(e) => return CheckpointVerdict::Reject(format!("a malformed note: {e}")),
        };
        if note.checkpoint.registry != self.registry {
            return CheckpointVerdict::Reject("a note of another registry".into());
        }
        let slot = note.checkpoint.slot;
        let now_set = (self.witnesses_now)();
        let mut signers = Vec::with_capacity(note.signatures.len());
        for sig in &note.signatures {
            let Some(key) = note.verify_signature(sig) else {
                return CheckpointVerdict::Reject(format!("a bad signature by {}", sig.name));
            };
            // A valid signature by a key that is not a witness in force here is left
            // out, not penalised: a node still catching up on governance (or a moment
            // behind a new witness set) would otherwise punish honest witnesses, and ban
            // the peers it needs to catch up from.
            if self.counts(&key, &now_set, slot) {
                signers.push((key, sig));
            }
        }
        if signers.is_empty() {
            return CheckpointVerdict::Ignore;
        }
        let mut inner = self.lock();
        let now = (self.clock)();
        let far = slot.as_secs().abs_diff(now) > self.config.max_skew_secs;
        self.weigh_skew(&mut inner, far);
        if far {
            return CheckpointVerdict::Ignore;
        }
        let mut new = false;
        for (key, sig) in &signers {
            new |= self.observe(&mut inner, &note, *key, sig);
        }
        #[cfg(feature = "test-liar")]
        self.lie(&mut inner, &note);
        drop(inner);
        let commitment = note.checkpoint.commitment();
        let merged = self.notes.update(slot, |own| {
            if own.note.checkpoint.commitment() != commitment {
                return 0;
            }
            signers
                .iter()
                .filter(|(_, sig)| own.note.merge((*sig).clone()))
                .count()
        });
        let merged = merged.unwrap_or(0);
        self.counters
            .signatures_merged
            .fetch_add(merged as u64, Ordering::Relaxed);
        if merged > 0 || new {
            CheckpointVerdict::Accept
        } else {
            CheckpointVerdict::Ignore
        }
    }

    fn receive_proof(&self, a: &str, b: &str) -> CheckpointVerdict {
        let now_set = (self.witnesses_now)();
        let checked = Equivocation::check(&self.registry, a, b, |k, slot| {
            self.counts(k, &now_set, slot)
        });
        match checked {
            Err(why) => CheckpointVerdict::Reject(why),
            Ok(proof) => {
                let mut inner = self.lock();
                if self.keep_equivocation(&mut inner, &proof) {
                    CheckpointVerdict::Accept
                } else {
                    CheckpointVerdict::Ignore
                }
            }
        }
    }

    /// Weighs one received slot for the clock-skew warning: most recent notes far from
    /// our clock means ours is the clock that is off.
    fn weigh_skew(&self, inner: &mut Inner, far: bool) {
        if inner.skew.len() >= SKEW_WINDOW {
            inner.skew.pop_front();
        }
        inner.skew.push_back(far);
        let n_far = inner.skew.iter().filter(|f| **f).count();
        let suspected = inner.skew.len() >= SKEW_MIN && n_far * 2 > inner.skew.len();
        if suspected != inner.skew_suspected {
            if suspected {
                warn!(
                    far = n_far,
                    of = inner.skew.len(),
                    max_skew_secs = self.config.max_skew_secs,
                    "most checkpoint signatures from peers are for slots far from this \
                     node's clock: check the system clock"
                );
            } else {
                info!("checkpoint slots from peers agree with this node's clock again");
            }
            inner.skew_suspected = suspected;
        }
    }

    /// TEST ONLY (feature `test-liar`): having seen another body than ours for a slot we
    /// computed, sign it too, bypassing the record that forbids it: an equivocating
    /// witness, for the tests that must catch one.
    #[cfg(feature = "test-liar")]
    fn lie(&self, inner: &mut Inner, note: &SignedNote) {
        let slot = note.checkpoint.slot;
        let Some(own) = self.notes.own(slot) else {
            return;
        };
        if own.note.checkpoint.commitment() == note.checkpoint.commitment()
            || !inner.witness
            || !inner.lied.insert(slot.as_secs())
        {
            return;
        }
        let mut lie = note.clone();
        lie.merge(SignedNote::sign(&note.checkpoint, &self.key));
        warn!(
            slot = slot.as_secs(),
            "test-liar: signing a second body for the slot"
        );
        self.publish(CheckpointMessage::Note(lie.text()));
    }
}
