//! The recording view: evaluation over a state that notes every lookup, so that what it
//! read is exactly what a proof must carry.

use std::cell::RefCell;
use std::collections::BTreeSet;

use crate::entry::{Kind, SignedEntry};
use crate::eval::View;
use crate::genesis::Genesis;
use crate::hash::EntryId;
use crate::index::IndexKey;
use crate::state::{RootEpoch, State};
use crate::time::Timestamp;

/// What an evaluation looked up: entries by id and index keys.
#[derive(Debug, Default)]
pub struct Lookups {
    pub entries: BTreeSet<EntryId>,
    pub keys: BTreeSet<IndexKey>,
}

/// A [`View`] of `state` that records each lookup.
#[derive(Debug)]
pub struct Recorder<'a> {
    state: &'a State,
    log: RefCell<Lookups>,
}

impl<'a> Recorder<'a> {
    pub fn new(state: &'a State) -> Recorder<'a> {
        Recorder {
            state,
            log: RefCell::default(),
        }
    }

    /// Everything looked up so far.
    pub fn into_lookups(self) -> Lookups {
        self.log.into_inner()
    }
}

impl View for Recorder<'_> {
    fn genesis(&self) -> &Genesis {
        self.state.genesis()
    }

    fn entry(&self, id: &EntryId) -> Option<&SignedEntry> {
        self.log.borrow_mut().entries.insert(*id);
        View::entry(self.state, id)
    }

    fn accreditations_of(&self, entity: &str, kind: Kind) -> &[EntryId] {
        self.log
            .borrow_mut()
            .keys
            .insert(IndexKey::subject(kind, entity));
        View::accreditations_of(self.state, entity, kind)
    }

    fn revocations_of(&self, target: &EntryId) -> &[EntryId] {
        self.log
            .borrow_mut()
            .keys
            .insert(IndexKey::revocations(target));
        View::revocations_of(self.state, target)
    }

    fn epoch_at(&self, t: Timestamp) -> &RootEpoch {
        self.log.borrow_mut().keys.insert(IndexKey::governance());
        View::epoch_at(self.state, t)
    }
}
