//! One pull session with one peer: compare state roots, walk the peer's trie down the
//! prefixes whose hashes differ, and ask for the entries this node lacks. Every reply is
//! checked against the request it answers; one that does not answer it is a
//! [`Violation`], for which the engine penalises the peer and ends the session.

use std::collections::{HashSet, VecDeque};

use registry_core::hash::IdMap;
use registry_core::trie::{Prefix, MAX_DEPTH};
use registry_core::{EntryId, Hash, SignedEntry};

use super::fetch::requested_only;
use super::{kind, Asked, LocalSet, SessionError, SessionReport, DEPTH_FIRST_ABOVE, MAX_FRONTIER};
use crate::offence::Violation;
use crate::protocol::{
    ShortHash, Summary, SyncResponse, LEAF_IDS, MAX_ENTRIES, MAX_IDS, MAX_PREFIXES,
};

/// One pull session with one peer.
#[derive(Debug)]
pub(super) struct Session<P> {
    peer: P,
    /// The peer's root has arrived and the walk has begun.
    walking: bool,
    /// Prefixes to summarise with `Nodes`.
    nodes: VecDeque<Prefix>,
    /// Prefixes this node holds nothing under, to fetch whole with `Subtree`.
    subtrees: VecDeque<Prefix>,
    /// Ids to fetch with `Entries`.
    want: VecDeque<EntryId>,
    /// Every id ever put in `want`, with the peer's shortened leaf value for it, so a
    /// listed id is asked for once.
    wanted: IdMap<ShortHash>,
    in_flight: usize,
    /// `Nodes` and `Subtree` requests in flight: their replies may add more wanted ids.
    walks_in_flight: usize,
    ingesting: HashSet<u64>,
    fetched: u64,
    requests: u64,
}

impl<P: Copy> Session<P> {
    /// A session whose first request, `Root`, is being sent.
    pub(super) fn start(peer: P) -> Session<P> {
        Session {
            peer,
            walking: false,
            nodes: VecDeque::new(),
            subtrees: VecDeque::new(),
            want: VecDeque::new(),
            wanted: IdMap::default(),
            in_flight: 1,
            walks_in_flight: 0,
            ingesting: HashSet::new(),
            fetched: 0,
            requests: 1,
        }
    }

    pub(super) fn peer(&self) -> P {
        self.peer
    }

    /// Whether the walk has begun and the pipeline has room for one more request.
    pub(super) fn has_room(&self, pipeline: usize) -> bool {
        self.walking && self.in_flight + self.ingesting.len() < pipeline
    }

    /// Nothing left to walk, ask or ingest.
    pub(super) fn done(&self) -> bool {
        self.walking
            && self.nodes.is_empty()
            && self.subtrees.is_empty()
            && self.want.is_empty()
            && self.in_flight == 0
            && self.ingesting.is_empty()
    }

    /// `asked` goes out: it takes a pipeline slot.
    pub(super) fn sent(&mut self, asked: &Asked) {
        self.in_flight += 1;
        self.requests += 1;
        if asked.walks() {
            self.walks_in_flight += 1;
        }
    }

    /// The reply to `asked` arrived: its pipeline slot is free.
    pub(super) fn answered(&mut self, asked: &Asked) {
        self.in_flight -= 1;
        if asked.walks() {
            self.walks_in_flight -= 1;
        }
    }

    /// `count` received entries go to the registry as Ingest batch `batch`, which holds a
    /// pipeline slot until it is stored.
    pub(super) fn ingest(&mut self, batch: u64, count: usize) {
        self.fetched += count as u64;
        self.ingesting.insert(batch);
    }

    /// Ingest batch `batch` is stored (a batch of another session or a fetch is ignored).
    pub(super) fn ingested(&mut self, batch: u64) {
        self.ingesting.remove(&batch);
    }

    /// How the session went: completed unless it ended with `error`.
    pub(super) fn report(&self, error: Option<SessionError>) -> SessionReport {
        SessionReport {
            fetched: self.fetched,
            requests: self.requests,
            error,
        }
    }

    /// Queues `prefix` to walk: fetched whole if nothing is held under it here.
    fn visit(&mut self, prefix: Prefix, local: &dyn LocalSet) -> Result<(), SessionError> {
        if self.nodes.len() + self.subtrees.len() >= MAX_FRONTIER {
            return Err(SessionError::FrontierFull);
        }
        if local.count_under(&prefix) == 0 {
            self.subtrees.push_back(prefix);
        } else {
            self.nodes.push_back(prefix);
        }
        Ok(())
    }

    /// The next request to send, if one is ready. Full `Entries` batches go first (they
    /// bound the want list), then the walk; a partial batch waits until no walk reply
    /// could add to it.
    pub(super) fn next_request(&mut self, local: &dyn LocalSet) -> Option<Asked> {
        // Ids that arrived meanwhile with the peer's signatures (by gossip, another reply
        // or a fetch) are not asked.
        if self.want.len() >= MAX_IDS {
            let wanted = &self.wanted;
            self.want.retain(|id| !matches_peer(wanted, id, local));
        }
        if self.want.len() >= MAX_IDS {
            return Some(Asked::Entries(self.want.drain(..MAX_IDS).collect()));
        }
        if let Some(prefix) = take_one(&mut self.subtrees) {
            return Some(Asked::Subtree(prefix));
        }
        if !self.nodes.is_empty() {
            return Some(Asked::Nodes(take_batch(&mut self.nodes, MAX_PREFIXES)));
        }
        if !self.want.is_empty() && self.walks_in_flight == 0 {
            let wanted = &self.wanted;
            let ids: Vec<EntryId> = self
                .want
                .drain(..)
                .filter(|id| !matches_peer(wanted, id, local))
                .collect();
            if !ids.is_empty() {
                return Some(Asked::Entries(ids));
            }
        }
        None
    }

    /// Checks a reply against what was asked and folds it into the walk; returns the
    /// entries to ingest.
    pub(super) fn absorb(
        &mut self,
        asked: Asked,
        response: SyncResponse,
        local: &dyn LocalSet,
    ) -> Result<Vec<SignedEntry>, SessionError> {
        match (asked, response) {
            (_, SyncResponse::Refused { reason }) => Err(SessionError::Refused(reason)),
            (Asked::Root, SyncResponse::Root { root, entries }) => {
                self.compare_roots(root, entries, local)?;
                Ok(Vec::new())
            }
            (Asked::Nodes(prefixes), SyncResponse::Nodes { summaries }) => {
                self.walk_all(prefixes, summaries, local)?;
                Ok(Vec::new())
            }
            (Asked::Subtree(prefix), SyncResponse::Subtree { entries }) => {
                check_subtree(&prefix, &entries)?;
                Ok(entries)
            }
            (Asked::Subtree(prefix), SyncResponse::TooLarge { count }) => {
                self.split(prefix, count, local)?;
                Ok(Vec::new())
            }
            (Asked::Entries(ids), SyncResponse::Entries { entries }) => {
                self.ask_again(&ids, &entries)?;
                Ok(entries)
            }
            (asked, response) => Err(Violation::WrongKind {
                asked: asked.kind(),
                got: kind(&response),
            }
            .into()),
        }
    }

    /// The peer's root arrived: the walk begins, at the top if the roots differ.
    fn compare_roots(
        &mut self,
        root: Hash,
        entries: u64,
        local: &dyn LocalSet,
    ) -> Result<(), SessionError> {
        self.walking = true;
        if entries > 0 && root != local.root() {
            self.visit(Prefix::root(), local)?;
        }
        Ok(())
    }

    /// Folds one summary per prefix asked into the walk.
    fn walk_all(
        &mut self,
        prefixes: Vec<Prefix>,
        summaries: Vec<Summary>,
        local: &dyn LocalSet,
    ) -> Result<(), SessionError> {
        if summaries.len() != prefixes.len() {
            return Err(Violation::SummaryCount {
                summaries: summaries.len(),
                prefixes: prefixes.len(),
            }
            .into());
        }
        for (prefix, summary) in prefixes.into_iter().zip(summaries) {
            self.walk(prefix, summary, local)?;
        }
        Ok(())
    }

    /// The entries under `prefix` do not fit one reply: walk its 16 children instead.
    fn split(
        &mut self,
        prefix: Prefix,
        count: u64,
        local: &dyn LocalSet,
    ) -> Result<(), SessionError> {
        // A single entry always fits in a reply, and a full-length prefix holds at most
        // one.
        if count <= 1 || prefix.len() >= MAX_DEPTH {
            return Err(Violation::FalseTooLarge { count, prefix }.into());
        }
        for nibble in 0..16 {
            if let Some(child) = prefix.child(nibble) {
                self.visit(child, local)?;
            }
        }
        Ok(())
    }

    /// Checks an `Entries` reply; the ids it left out, when it was cut short by the byte
    /// budget, are asked again. A reply with none of them: the peer does not hold them.
    fn ask_again(&mut self, ids: &[EntryId], entries: &[SignedEntry]) -> Result<(), SessionError> {
        let rest = requested_only(ids, entries)?;
        if !entries.is_empty() {
            for id in rest.into_iter().rev() {
                self.want.push_front(id);
            }
        }
        Ok(())
    }

    /// Folds the peer's summary of `prefix` into the walk.
    fn walk(
        &mut self,
        prefix: Prefix,
        summary: Summary,
        local: &dyn LocalSet,
    ) -> Result<(), SessionError> {
        match summary {
            Summary::Empty => Ok(()),
            Summary::Ids { ids, values } => {
                check_ids(&prefix, &ids, &values)?;
                self.want_differing(ids, values, local);
                Ok(())
            }
            Summary::Branch { children } => self.descend(prefix, &children, local),
        }
    }

    /// Wanted: ids not accepted here (pending ones included: the peer's copy may carry the
    /// signatures they lack) or held with other signatures.
    fn want_differing(&mut self, ids: Vec<EntryId>, values: Vec<ShortHash>, local: &dyn LocalSet) {
        for (id, value) in ids.into_iter().zip(values) {
            let differs = local.value(&id).map(|v| ShortHash::of(&v)) != Some(value);
            if differs && self.wanted.insert(id, value).is_none() {
                self.want.push_back(id);
            }
        }
    }

    /// Queues the children of `prefix` whose hashes differ from the local ones.
    fn descend(
        &mut self,
        prefix: Prefix,
        children: &[ShortHash; 16],
        local: &dyn LocalSet,
    ) -> Result<(), SessionError> {
        if prefix.len() >= MAX_DEPTH {
            return Err(Violation::BranchAtFullLength { prefix }.into());
        }
        for (nibble, remote) in (0u8..).zip(children.iter().copied()) {
            if remote == ShortHash::default() {
                continue;
            }
            let Some(child) = prefix.child(nibble) else {
                continue;
            };
            if ShortHash::of(&local.hash_at(&child)) != remote {
                self.visit(child, local)?;
            }
        }
        Ok(())
    }
}

/// Checks a listing of the ids under `prefix`: within the limit, one value per id, sorted,
/// each under the prefix.
fn check_ids(prefix: &Prefix, ids: &[EntryId], values: &[ShortHash]) -> Result<(), Violation> {
    let prefix = *prefix;
    if ids.len() > LEAF_IDS {
        return Err(Violation::TooManyIds {
            count: ids.len(),
            prefix,
        });
    }
    if values.len() != ids.len() {
        return Err(Violation::ValueCount {
            values: values.len(),
            ids: ids.len(),
            prefix,
        });
    }
    if ids.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Violation::UnsortedIds { prefix });
    }
    if ids.iter().any(|id| !prefix.covers(id)) {
        return Err(Violation::IdOutsidePrefix { prefix });
    }
    Ok(())
}

/// Checks a `Subtree` reply: within the entry limit, every entry under the prefix.
fn check_subtree(prefix: &Prefix, entries: &[SignedEntry]) -> Result<(), Violation> {
    if entries.len() > MAX_ENTRIES {
        return Err(Violation::TooManyEntries {
            count: entries.len(),
            max: MAX_ENTRIES,
        });
    }
    if entries.iter().any(|e| !prefix.covers(&e.id())) {
        return Err(Violation::EntryOutsidePrefix { prefix: *prefix });
    }
    Ok(())
}

/// Whether the local copy of `id` has the signature set the peer listed for it.
fn matches_peer(wanted: &IdMap<ShortHash>, id: &EntryId, local: &dyn LocalSet) -> bool {
    let local = local.value(id).map(|v| ShortHash::of(&v));
    local.is_some() && local == wanted.get(id).copied()
}

/// The next prefix, oldest first while the frontier is small (breadth-first), newest first
/// past [`DEPTH_FIRST_ABOVE`].
fn take_one(frontier: &mut VecDeque<Prefix>) -> Option<Prefix> {
    if frontier.len() > DEPTH_FIRST_ABOVE {
        frontier.pop_back()
    } else {
        frontier.pop_front()
    }
}

fn take_batch(frontier: &mut VecDeque<Prefix>, max: usize) -> Vec<Prefix> {
    let n = max.min(frontier.len());
    if frontier.len() > DEPTH_FIRST_ABOVE {
        frontier.split_off(frontier.len() - n).into()
    } else {
        frontier.drain(..n).collect()
    }
}
