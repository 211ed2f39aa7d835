//! What evaluation reads, as a trait: the accepted set of a node, or the slice of it that a
//! proof carries.

use crate::entry::{Accreditation, Kind, SignedEntry};
use crate::genesis::Genesis;
use crate::hash::EntryId;
use crate::state::{RootEpoch, State};
use crate::time::Timestamp;

/// The lookups [`evaluate`](super::evaluate) and [`decisive`](super::decisive) make. Each
/// is one piece of the state; a proof must cover every lookup an evaluation makes.
pub trait View {
    fn genesis(&self) -> &Genesis;

    /// The accepted entry with this id.
    fn entry(&self, id: &EntryId) -> Option<&SignedEntry>;

    /// Ids of the accepted accreditations of `entity`: at least all of those of `kind`
    /// (a view may return other kinds too; callers filter).
    fn accreditations_of(&self, entity: &str, kind: Kind) -> &[EntryId];

    /// Ids of the accepted revocations that target `target`, sorted: evaluation stops at
    /// the first one in effect, so every view must list them in the same order for a proof
    /// to cover the lookups the node made.
    fn revocations_of(&self, target: &EntryId) -> &[EntryId];

    /// The roots, threshold and witnesses in force for an entry issued at `t`.
    fn epoch_at(&self, t: Timestamp) -> &RootEpoch;

    /// The accepted accreditation with this id, if it is one.
    fn accreditation(&self, id: &EntryId) -> Option<(&SignedEntry, &Accreditation)> {
        let e = self.entry(id)?;
        e.accreditation().map(|a| (e, a))
    }
}

impl View for State {
    fn genesis(&self) -> &Genesis {
        State::genesis(self)
    }

    fn entry(&self, id: &EntryId) -> Option<&SignedEntry> {
        self.get(id).map(AsRef::as_ref)
    }

    fn accreditations_of(&self, entity: &str, _kind: Kind) -> &[EntryId] {
        State::accreditations_of(self, entity)
    }

    fn revocations_of(&self, target: &EntryId) -> &[EntryId] {
        State::revocations_of(self, target)
    }

    fn epoch_at(&self, t: Timestamp) -> &RootEpoch {
        State::epoch_at(self, t)
    }
}
