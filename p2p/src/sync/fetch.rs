//! Fetches by id outside sessions ([`super::Engine::want`]): the references pending
//! entries wait for, grouped into `Entries` requests of at most [`MAX_IDS`] ids, each for
//! one peer (or any). The ids waiting, in flight or being ingested are bounded and are not
//! fetched twice meanwhile.

use std::collections::{BTreeSet, HashMap, VecDeque};

use registry_core::hash::IdMap;
use registry_core::rng::SplitMix64;
use registry_core::{EntryId, SignedEntry};

use super::{kind, random_peer, LocalSet};
use crate::offence::Violation;
use crate::protocol::{SyncResponse, MAX_IDS};

/// The state of the fetches by id.
#[derive(Debug)]
pub(super) struct Fetches<P> {
    /// Groups of at most [`MAX_IDS`] ids, each for one peer (or any).
    queue: VecDeque<(Option<P>, Vec<EntryId>)>,
    queued: usize,
    /// Ids queued, in flight or being ingested: not fetched again meanwhile.
    active: IdMap<()>,
    in_flight: usize,
    /// Most fetch requests in flight at once.
    max_in_flight: usize,
    /// Ingest batches of fetched entries, with their ids.
    batches: HashMap<u64, Vec<EntryId>>,
}

/// What a reply to a fetch leads to.
#[derive(Debug)]
pub(super) enum Fetched {
    /// Nothing to ingest: the peer held none of the ids, or declined.
    Nothing,
    /// The reply does not answer the request: the peer is penalised for it.
    Violation(Violation),
    /// Entries to ingest; `ids` are the ones they answer, fetched again only once the
    /// batch is stored ([`Fetches::ingesting`]).
    Entries {
        ids: Vec<EntryId>,
        entries: Vec<SignedEntry>,
    },
}

impl<P: Copy + Ord> Fetches<P> {
    /// No fetches yet; at most `max_in_flight` (at least 1) requests at once.
    pub(super) fn new(max_in_flight: usize) -> Fetches<P> {
        Fetches {
            queue: VecDeque::new(),
            queued: 0,
            active: IdMap::default(),
            in_flight: 0,
            max_in_flight: max_in_flight.max(1),
            batches: HashMap::new(),
        }
    }

    /// Queues these ids for `from` (or any peer), skipping those known or already being
    /// fetched. At most `max_in_flight * MAX_IDS` ids wait at once; the rest are dropped,
    /// to be wanted again.
    pub(super) fn want(&mut self, ids: Vec<EntryId>, from: Option<P>, local: &dyn LocalSet) {
        let room = self.max_in_flight * MAX_IDS;
        for id in ids {
            if self.queued >= room {
                break;
            }
            if self.active.contains_key(&id) || local.knows(&id) {
                continue;
            }
            self.active.insert(id, ());
            self.queued += 1;
            match self.queue.back_mut() {
                Some((to, group)) if *to == from && group.len() < MAX_IDS => group.push(id),
                _ => self.queue.push_back((from, vec![id])),
            }
        }
    }

    /// The next group to send and the peer to send it to, while there is room in flight.
    /// A group for a peer no longer connected is dropped; one for any peer waits while
    /// none is connected.
    pub(super) fn next(
        &mut self,
        connected: &BTreeSet<P>,
        rng: &mut SplitMix64,
    ) -> Option<(P, Vec<EntryId>)> {
        while self.in_flight < self.max_in_flight {
            let (from, _) = self.queue.front()?;
            let peer = match *from {
                Some(p) if connected.contains(&p) => Some(p),
                Some(_) => None,
                None => Some(random_peer(rng, connected)?),
            };
            let (_, ids) = self.queue.pop_front()?;
            self.queued -= ids.len();
            match peer {
                Some(peer) => {
                    self.in_flight += 1;
                    return Some((peer, ids));
                }
                None => self.release(&ids),
            }
        }
        None
    }

    /// Checks the reply to a fetch of `ids` from `peer`. When a reply was cut short by the
    /// byte budget, the ids it left out go back to the front of the queue, for the same
    /// peer.
    pub(super) fn reply(&mut self, peer: P, ids: Vec<EntryId>, response: SyncResponse) -> Fetched {
        self.in_flight -= 1;
        let entries = match response {
            SyncResponse::Entries { entries } => entries,
            SyncResponse::Refused { .. } => {
                self.release(&ids);
                return Fetched::Nothing;
            }
            other => {
                self.release(&ids);
                return Fetched::Violation(Violation::WrongKind {
                    asked: "Entries",
                    got: kind(&other),
                });
            }
        };
        let rest = match requested_only(&ids, &entries) {
            Ok(rest) => rest,
            Err(violation) => {
                self.release(&ids);
                return Fetched::Violation(violation);
            }
        };
        if entries.is_empty() {
            self.release(&ids);
            return Fetched::Nothing;
        }
        if !rest.is_empty() {
            self.queued += rest.len();
            self.queue.push_front((Some(peer), rest.clone()));
        }
        let open: IdMap<()> = rest.iter().map(|id| (*id, ())).collect();
        let got: Vec<EntryId> = ids
            .into_iter()
            .filter(|id| !open.contains_key(id))
            .collect();
        Fetched::Entries { ids: got, entries }
    }

    /// The fetched `ids` went to the registry as Ingest batch `batch`.
    pub(super) fn ingesting(&mut self, batch: u64, ids: Vec<EntryId>) {
        self.batches.insert(batch, ids);
    }

    /// Ingest batch `batch` is stored: its ids may be fetched again (a session's batch is
    /// ignored).
    pub(super) fn ingested(&mut self, batch: u64) {
        if let Some(ids) = self.batches.remove(&batch) {
            self.release(&ids);
        }
    }

    /// A fetch of `ids` failed, timed out or lost its peer.
    pub(super) fn failed(&mut self, ids: &[EntryId]) {
        self.in_flight -= 1;
        self.release(ids);
    }

    /// `peer` disconnected: the groups queued for it are dropped.
    pub(super) fn forget_peer(&mut self, peer: P) {
        let (queued, active) = (&mut self.queued, &mut self.active);
        self.queue.retain(|(from, ids)| {
            let keep = *from != Some(peer);
            if !keep {
                *queued -= ids.len();
                for id in ids {
                    active.remove(id);
                }
            }
            keep
        });
    }

    fn release(&mut self, ids: &[EntryId]) {
        for id in ids {
            self.active.remove(id);
        }
    }
}

/// Checks that every entry was asked for (each once); returns the asked ids not returned,
/// in the order asked.
pub(super) fn requested_only(
    asked: &[EntryId],
    entries: &[SignedEntry],
) -> Result<Vec<EntryId>, Violation> {
    let mut open: IdMap<()> = asked.iter().map(|id| (*id, ())).collect();
    for entry in entries {
        if open.remove(&entry.id()).is_none() {
            return Err(Violation::Unrequested { id: entry.id() });
        }
    }
    Ok(asked
        .iter()
        .filter(|id| open.contains_key(*id))
        .copied()
        .collect())
}
