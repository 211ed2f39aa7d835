//! The checkpoint notes a node keeps: for each recent slot, the body of its own checkpoint
//! state with every valid signature merged on it so far. Shared by the checkpoint
//! machinery (which writes) and the HTTP API (which serves notes and makes proofs
//! against them).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, RwLock, Weak};

use registry_core::checkpoint::note::{signer_name, SignedNote};
use registry_core::{Timestamp, WitnessSet};

/// One slot's note and the witness set in force for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotNote {
    /// Our own body for the slot, with the signatures merged on it.
    pub note: SignedNote,
    /// The witnesses in force at the slot (keys sorted), if any set took effect.
    pub witnesses: Option<WitnessSet>,
}

impl SlotNote {
    /// The slot this note is for.
    pub fn slot(&self) -> Timestamp {
        self.note.checkpoint.slot
    }

    /// Signatures on the note by witnesses in force (merged signatures were verified
    /// before they were merged).
    pub fn witness_signatures(&self) -> usize {
        let Some(w) = &self.witnesses else {
            return 0;
        };
        w.keys
            .iter()
            .filter(|k| {
                let name = signer_name(k);
                self.note.signatures.iter().any(|s| s.name == name)
            })
            .count()
    }

    /// Whether a quorum of the witnesses in force signed it.
    pub fn cosigned(&self) -> bool {
        self.witnesses
            .as_ref()
            .is_some_and(|w| self.witness_signatures() >= usize::from(w.quorum))
    }
}

/// The notes of the last `keep` slots.
#[derive(Debug)]
pub struct Notes {
    keep: usize,
    slots: RwLock<BTreeMap<Timestamp, SlotNote>>,
    /// The machinery that fills these notes, for status and metrics (weak: it holds the
    /// notes itself).
    checkpointer: OnceLock<Weak<super::Checkpointer>>,
}

impl Notes {
    pub fn new(keep: usize) -> Notes {
        Notes {
            keep: keep.max(1),
            slots: RwLock::new(BTreeMap::new()),
            checkpointer: OnceLock::new(),
        }
    }

    /// Names the checkpointer that fills these notes (once).
    pub fn attach(&self, checkpointer: &Arc<super::Checkpointer>) {
        let _ = self.checkpointer.set(Arc::downgrade(checkpointer));
    }

    /// The checkpointer that fills these notes, if one runs.
    pub fn checkpointer(&self) -> Option<Arc<super::Checkpointer>> {
        self.checkpointer.get().and_then(Weak::upgrade)
    }

    /// Slots kept at most.
    pub fn keep(&self) -> usize {
        self.keep
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Timestamp, SlotNote>> {
        match self.slots.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<Timestamp, SlotNote>> {
        match self.slots.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Records our own body for its slot (replacing what was there: a body is computed
    /// once per slot), dropping the oldest slots past `keep`.
    pub fn set_own(&self, note: SlotNote) {
        let mut slots = self.write();
        slots.insert(note.slot(), note);
        while slots.len() > self.keep {
            slots.pop_first();
        }
    }

    /// Applies `f` to the note of `slot`, if kept; returns what `f` returned.
    pub fn update<R>(&self, slot: Timestamp, f: impl FnOnce(&mut SlotNote) -> R) -> Option<R> {
        self.write().get_mut(&slot).map(f)
    }

    /// Our note for `slot`: what proofs against the checkpoint state of that slot carry.
    pub fn own(&self, slot: Timestamp) -> Option<SlotNote> {
        self.read().get(&slot).cloned()
    }

    /// The same as [`Notes::own`]: the note served for `slot`.
    pub fn at(&self, slot: Timestamp) -> Option<SlotNote> {
        self.own(slot)
    }

    /// The note to serve as the latest: the newest cosigned slot's, else the newest.
    pub fn latest(&self) -> Option<SlotNote> {
        let slots = self.read();
        slots
            .values()
            .rev()
            .find(|n| n.cosigned())
            .or_else(|| slots.values().next_back())
            .cloned()
    }

    /// The newest slot whose note a quorum of witnesses signed.
    pub fn cosigned_slot(&self) -> Option<Timestamp> {
        self.read()
            .values()
            .rev()
            .find(|n| n.cosigned())
            .map(SlotNote::slot)
    }

    /// Slots kept.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }
}
