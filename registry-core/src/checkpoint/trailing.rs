//! The checkpoint state: the accepted entries issued before a cutoff, which trails the live
//! state so that nodes holding the same entries sign the same checkpoint even while new
//! entries are still propagating (section 12).
//!
//! It changes only when [`Trailing::advance`] moves the cutoff (at a slot boundary):
//! everything held by then that qualifies goes in at once, late back-dated arrivals
//! included. An entry qualifies when it was issued before the cutoff and, if a holder
//! authored it, the holder's accreditation is in the checkpoint state too. That closure
//! makes the set a function of the accepted set and the cutoff alone, and means every
//! entry evaluation reaches from an entry of the checkpoint state is in it as well, which is
//! what lets a proof name an issuer's accreditation without proving it separately.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::entry::{Author, SignedEntry};
use crate::genesis::Genesis;
use crate::hash::{EntryId, Hash};
use crate::state::State;
use crate::time::Timestamp;

/// The checkpoint state and the accepted entries waiting to enter it.
#[derive(Debug)]
pub struct Trailing {
    state: State,
    cutoff: Timestamp,
    /// Accepted entries not yet in `state`, or in it with a smaller signature set than
    /// accepted since, by `(issued_at, id)`.
    waiting: BTreeMap<(Timestamp, EntryId), Arc<SignedEntry>>,
}

impl Trailing {
    pub fn new(genesis: Genesis) -> Trailing {
        Trailing {
            state: State::new(genesis),
            cutoff: Timestamp(0),
            waiting: BTreeMap::new(),
        }
    }

    /// The checkpoint state as of the last [`Trailing::advance`].
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Entries issued before this time (and closed under authorship) are in the state.
    pub fn cutoff(&self) -> Timestamp {
        self.cutoff
    }

    /// Entries accepted but not yet in the checkpoint state (or with newer signatures).
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Notes an entry the live state accepted, or a larger signature set it merged for an
    /// accepted entry. Nothing changes until the next [`Trailing::advance`].
    pub fn offer(&mut self, entry: Arc<SignedEntry>) {
        // TEST ONLY: a lying node's checkpoint state, which hides every revocation.
        #[cfg(feature = "test-hide-revocations")]
        if matches!(entry.body.op, crate::entry::Op::Revoke(_)) {
            return;
        }
        self.waiting
            .insert((entry.body.issued_at, entry.id()), entry);
    }

    /// Moves the cutoff to `cutoff` (never backwards) and brings in every waiting entry
    /// that now qualifies. Returns whether the checkpoint state changed. Hashes are current
    /// when it returns.
    pub fn advance(&mut self, cutoff: Timestamp) -> bool {
        self.cutoff = self.cutoff.max(cutoff);
        let mut changed = false;
        // An entry can be issued before the accreditation of its author (back-dated), so
        // an entry whose author is not in yet is retried after each pass that added any.
        loop {
            let mut progress = false;
            let due: Vec<(Timestamp, EntryId)> = self
                .waiting
                .range(..(self.cutoff, Hash::ZERO))
                .map(|(k, _)| *k)
                .collect();
            for key in due {
                let Some(entry) = self.waiting.get(&key) else {
                    continue;
                };
                let id = key.1;
                if self.state.contains(&id) {
                    let entry = entry.clone();
                    self.waiting.remove(&key);
                    changed |= self.state.replace_signatures(&id, entry);
                    continue;
                }
                let author_in = match entry.body.author {
                    Author::Roots => true,
                    Author::Holder { accreditation } => self.state.contains(&accreditation),
                };
                if author_in {
                    let entry = entry.clone();
                    self.waiting.remove(&key);
                    self.state.insert(id, entry);
                    changed = true;
                    progress = true;
                }
            }
            if !progress {
                break;
            }
        }
        self.state.rehash();
        changed
    }
}
