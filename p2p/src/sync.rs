//! The sync state machine and the responder's side of the sync protocol (see
//! [`crate::protocol`] for the messages and the walk they support).
//!
//! [`Engine`] owns no socket, clock or global randomness: the network task feeds it
//! connections, replies, failures, finished ingests and the time, and carries out the
//! [`Action`]s it returns. It runs one pull session at a time (the requester fetches what
//! one peer holds and it lacks; both ends of a connection run their own sessions, so
//! together they converge), plus fetches by id of the references pending entries wait for.
//!
//! A session compares state roots, then walks the peer's trie breadth-first, descending
//! only into children whose hashes differ from the local ones, so its cost grows with the
//! difference between the two sets, not with their size. Every reply is checked against
//! the request it answers; one that does not answer it ends the session and the peer is
//! penalised. Everything a session holds is bounded: at most `pipeline` requests and
//! unfinished ingests, and at most [`MAX_FRONTIER`] prefixes waiting to be walked.
//!
//! [`answer`] is the responder: it answers one request from any [`LocalSet`] within the
//! protocol's limits.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use registry_core::hash::IdMap;
use registry_core::registry::Registry;
use registry_core::rng::SplitMix64;
use registry_core::trie::{NodeView, Prefix, MAX_DEPTH};
use registry_core::{EntryId, Hash, SignedEntry};

use crate::protocol::{
    ShortHash, Summary, SyncRequest, SyncResponse, LEAF_IDS, MAX_ENTRIES, MAX_IDS, MAX_PREFIXES,
    REPLY_BUDGET_BYTES,
};

/// Most prefixes a session keeps waiting to be walked; a walk that would need more fails.
/// Past [`DEPTH_FIRST_ABOVE`] the walk takes the deepest prefixes first, which drains
/// subtrees instead of widening, so an honest walk stays far below this.
pub const MAX_FRONTIER: usize = 1 << 20;
/// Frontier size above which the walk goes depth-first.
pub const DEPTH_FIRST_ABOVE: usize = 1 << 16;

/// What a node holds, as sync sees it. Implemented for [`Registry`].
pub trait LocalSet {
    /// State root over the accepted ids (the registry's trie).
    fn root(&mut self) -> Hash;
    /// Number of accepted entries.
    fn len(&mut self) -> u64;
    fn is_empty(&mut self) -> bool {
        self.len() == 0
    }
    fn count_under(&mut self, prefix: &Prefix) -> usize;
    fn node(&mut self, prefix: &Prefix) -> NodeView;
    fn hash_at(&mut self, prefix: &Prefix) -> Hash;
    fn ids_under(&mut self, prefix: &Prefix, limit: usize) -> Vec<EntryId>;
    /// The ids under `prefix` with their leaf values (signature-set digests), sorted.
    fn leaves_under(&mut self, prefix: &Prefix, limit: usize) -> Vec<(EntryId, Hash)>;
    /// The leaf value of an accepted entry: the digest of its signature set.
    fn value(&mut self, id: &EntryId) -> Option<Hash>;
    /// Accepted, or pending for a reason other than too few signatures: no need to fetch
    /// it by id.
    fn knows(&mut self, id: &EntryId) -> bool;
    /// An accepted entry, or else a pending copy (a requester may lack its signatures).
    fn entry(&mut self, id: &EntryId) -> Option<Arc<SignedEntry>>;
}

impl LocalSet for Registry {
    fn root(&mut self) -> Hash {
        self.state_root()
    }

    fn len(&mut self) -> u64 {
        self.state().len() as u64
    }

    fn count_under(&mut self, prefix: &Prefix) -> usize {
        self.state_mut().trie().count_under(prefix)
    }

    fn node(&mut self, prefix: &Prefix) -> NodeView {
        self.state_mut().trie().node(prefix)
    }

    fn hash_at(&mut self, prefix: &Prefix) -> Hash {
        self.state_mut().trie().hash_at(prefix)
    }

    fn ids_under(&mut self, prefix: &Prefix, limit: usize) -> Vec<EntryId> {
        self.state_mut().trie().ids_under(prefix, limit)
    }

    fn leaves_under(&mut self, prefix: &Prefix, limit: usize) -> Vec<(EntryId, Hash)> {
        self.state_mut().trie().leaves_under(prefix, limit)
    }

    fn value(&mut self, id: &EntryId) -> Option<Hash> {
        self.state_mut().trie().value(id)
    }

    fn knows(&mut self, id: &EntryId) -> bool {
        self.state().contains(id)
            || (self.pending_entry(id).is_some() && !self.awaits_signatures(id))
    }

    fn entry(&mut self, id: &EntryId) -> Option<Arc<SignedEntry>> {
        match self.state().get(id) {
            Some(e) => Some(e.clone()),
            None => self.pending_entry(id).cloned().map(Arc::new),
        }
    }
}

/// The responder: answers one request from the local set, within the limits of
/// [`crate::protocol`]. A request over the protocol's list limits (which decoding already
/// refuses) is answered with `Refused`.
pub fn answer(request: &SyncRequest, local: &mut dyn LocalSet) -> SyncResponse {
    match request {
        SyncRequest::Root => SyncResponse::Root {
            root: local.root(),
            entries: local.len(),
        },
        SyncRequest::Nodes { prefixes } if prefixes.len() > MAX_PREFIXES => refused("prefixes"),
        SyncRequest::Nodes { prefixes } => SyncResponse::Nodes {
            summaries: prefixes.iter().map(|p| summarise(p, local)).collect(),
        },
        SyncRequest::Subtree { prefix } => subtree(prefix, local),
        SyncRequest::Entries { ids } if ids.len() > MAX_IDS => refused("ids"),
        SyncRequest::Entries { ids } => entries_by_id(ids, local),
    }
}

fn refused(what: &str) -> SyncResponse {
    SyncResponse::Refused {
        reason: format!("too many {what} in one request"),
    }
}

/// What the local set holds under one prefix.
fn summarise(prefix: &Prefix, local: &mut dyn LocalSet) -> Summary {
    let count = local.count_under(prefix);
    if count == 0 {
        return Summary::Empty;
    }
    if count <= LEAF_IDS {
        return leaves(prefix, local);
    }
    match local.node(prefix) {
        NodeView::Branch(children) => Summary::Branch {
            children: children.map(|h| ShortHash::of(&h)),
        },
        // More than one id under a prefix is always a branch; listing the ids is the
        // honest answer should a set ever disagree with its own count.
        NodeView::Leaf(..) | NodeView::Empty => leaves(prefix, local),
    }
}

/// The ids under `prefix` (at most [`LEAF_IDS`]) with their shortened leaf values.
fn leaves(prefix: &Prefix, local: &mut dyn LocalSet) -> Summary {
    let (ids, values) = local
        .leaves_under(prefix, LEAF_IDS)
        .into_iter()
        .map(|(id, value)| (id, ShortHash::of(&value)))
        .unzip();
    Summary::Ids { ids, values }
}

/// Every entry under `prefix`, or `TooLarge` if they exceed the entry count or byte budget.
fn subtree(prefix: &Prefix, local: &mut dyn LocalSet) -> SyncResponse {
    let count = local.count_under(prefix);
    let too_large = SyncResponse::TooLarge {
        count: count as u64,
    };
    if count > MAX_ENTRIES {
        return too_large;
    }
    let mut entries = Vec::with_capacity(count);
    let mut bytes = 0;
    for id in local.ids_under(prefix, MAX_ENTRIES) {
        let Some(entry) = local.entry(&id) else {
            continue;
        };
        bytes += entry.encode().len();
        if bytes > REPLY_BUDGET_BYTES {
            return too_large;
        }
        entries.push(SignedEntry::clone(&entry));
    }
    SyncResponse::Subtree { entries }
}

/// The requested entries held here, each once, stopping before the byte budget.
fn entries_by_id(ids: &[EntryId], local: &mut dyn LocalSet) -> SyncResponse {
    let mut seen = IdMap::default();
    let mut entries = Vec::new();
    let mut bytes = 0;
    for id in ids {
        if seen.insert(*id, ()).is_some() {
            continue;
        }
        let Some(entry) = local.entry(id) else {
            continue;
        };
        let len = entry.encode().len();
        if bytes + len > REPLY_BUDGET_BYTES {
            break;
        }
        bytes += len;
        entries.push(SignedEntry::clone(&entry));
    }
    SyncResponse::Entries { entries }
}

/// Timing and limits of sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfig {
    /// How often a node syncs with a random connected peer (default 10 s).
    pub period: Duration,
    /// How long a request may wait for its reply before it counts as failed (default 10 s).
    pub request_timeout: Duration,
    /// Requests plus ingest batches in flight per session (default 4).
    pub pipeline: usize,
    /// Most outstanding `want` fetches (missing references) at once (default 4).
    pub max_fetches: usize,
}

impl Default for SyncConfig {
    fn default() -> SyncConfig {
        SyncConfig {
            period: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            pipeline: 4,
            max_fetches: 4,
        }
    }
}

/// Names one request, so its reply or failure can be matched to it.
pub type RequestId = u64;

/// What the caller must do.
#[derive(Debug)]
pub enum Action<P> {
    /// Send this request to `peer`; its reply (or failure) comes back with the same id.
    Send {
        peer: P,
        id: RequestId,
        request: SyncRequest,
    },
    /// Offer these entries (received from `peer`) to the registry; call
    /// [`Engine::on_ingested`] with `batch` once they are stored (accepted, pending or
    /// rejected).
    Ingest {
        peer: P,
        batch: u64,
        entries: Vec<SignedEntry>,
    },
    /// A session with `peer` ended.
    Finished { peer: P, report: SessionReport },
    /// `peer` broke the protocol (a reply that does not answer the request); the caller
    /// lowers its score.
    Penalise { peer: P, reason: String },
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionReport {
    /// True when the session compared roots and fetched everything the peer had that this
    /// node lacked (a completed sync); false when it failed.
    pub completed: bool,
    /// Entries received and handed to Ingest.
    pub fetched: u64,
    /// Requests sent.
    pub requests: u64,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// What a request in flight asked, kept to check its reply.
#[derive(Debug)]
enum Asked {
    Root,
    Nodes(Vec<Prefix>),
    Subtree(Prefix),
    Entries(Vec<EntryId>),
    /// Entries asked for by [`Engine::want`], outside any session.
    Fetch(Vec<EntryId>),
}

impl Asked {
    fn request(&self) -> SyncRequest {
        match self {
            Asked::Root => SyncRequest::Root,
            Asked::Nodes(prefixes) => SyncRequest::Nodes {
                prefixes: prefixes.clone(),
            },
            Asked::Subtree(prefix) => SyncRequest::Subtree { prefix: *prefix },
            Asked::Entries(ids) | Asked::Fetch(ids) => SyncRequest::Entries { ids: ids.clone() },
        }
    }

    fn walks(&self) -> bool {
        matches!(self, Asked::Nodes(_) | Asked::Subtree(_))
    }
}

#[derive(Debug)]
struct Flight<P> {
    peer: P,
    sent: Instant,
    asked: Asked,
}

/// Why a session stopped early.
#[derive(Debug)]
enum Fault {
    /// The peer answered with something that does not answer the request: penalise it.
    Protocol(String),
    /// The peer declined, or the walk outgrew its bounds: stop without blame.
    Stopped(String),
}

fn protocol<T>(reason: impl Into<String>) -> Result<T, Fault> {
    Err(Fault::Protocol(reason.into()))
}

fn kind(response: &SyncResponse) -> &'static str {
    match response {
        SyncResponse::Root { .. } => "Root",
        SyncResponse::Nodes { .. } => "Nodes",
        SyncResponse::Subtree { .. } => "Subtree",
        SyncResponse::TooLarge { .. } => "TooLarge",
        SyncResponse::Entries { .. } => "Entries",
        SyncResponse::Refused { .. } => "Refused",
    }
}

/// One pull session with one peer.
#[derive(Debug)]
struct Session<P> {
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

impl<P> Session<P> {
    fn new(peer: P) -> Session<P> {
        Session {
            peer,
            walking: false,
            nodes: VecDeque::new(),
            subtrees: VecDeque::new(),
            want: VecDeque::new(),
            wanted: IdMap::default(),
            in_flight: 0,
            walks_in_flight: 0,
            ingesting: HashSet::new(),
            fetched: 0,
            requests: 0,
        }
    }

    fn done(&self) -> bool {
        self.walking
            && self.nodes.is_empty()
            && self.subtrees.is_empty()
            && self.want.is_empty()
            && self.in_flight == 0
            && self.ingesting.is_empty()
    }

    /// Queues `prefix` to walk: fetched whole if nothing is held under it here.
    fn visit(&mut self, prefix: Prefix, local: &mut dyn LocalSet) -> Result<(), Fault> {
        if self.nodes.len() + self.subtrees.len() >= MAX_FRONTIER {
            return Err(Fault::Stopped(format!(
                "the walk outgrew {MAX_FRONTIER} prefixes"
            )));
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
    fn next_request(&mut self, local: &mut dyn LocalSet) -> Option<Asked> {
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
    fn absorb(
        &mut self,
        asked: Asked,
        response: SyncResponse,
        local: &mut dyn LocalSet,
    ) -> Result<Vec<SignedEntry>, Fault> {
        match (asked, response) {
            (_, SyncResponse::Refused { reason }) => {
                Err(Fault::Stopped(format!("the peer refused: {reason}")))
            }
            (Asked::Root, SyncResponse::Root { root, entries }) => {
                self.walking = true;
                if entries > 0 && root != local.root() {
                    self.visit(Prefix::root(), local)?;
                }
                Ok(Vec::new())
            }
            (Asked::Nodes(prefixes), SyncResponse::Nodes { summaries }) => {
                if summaries.len() != prefixes.len() {
                    return protocol(format!(
                        "{} summaries for {} prefixes",
                        summaries.len(),
                        prefixes.len()
                    ));
                }
                for (prefix, summary) in prefixes.into_iter().zip(summaries) {
                    self.walk(prefix, summary, local)?;
                }
                Ok(Vec::new())
            }
            (Asked::Subtree(prefix), SyncResponse::Subtree { entries }) => {
                check_count(entries.len(), MAX_ENTRIES)?;
                if entries.iter().any(|e| !prefix.covers(&e.id())) {
                    return protocol(format!("an entry not under the prefix {prefix}"));
                }
                Ok(entries)
            }
            (Asked::Subtree(prefix), SyncResponse::TooLarge { count }) => {
                // A single entry always fits in a reply, and a full-length prefix holds at
                // most one.
                if count <= 1 || prefix.len() >= MAX_DEPTH {
                    return protocol(format!("TooLarge ({count} entries) under {prefix}"));
                }
                for nibble in 0..16 {
                    if let Some(child) = prefix.child(nibble) {
                        self.visit(child, local)?;
                    }
                }
                Ok(Vec::new())
            }
            (Asked::Entries(ids), SyncResponse::Entries { entries }) => {
                let rest = requested_only(&ids, &entries)?;
                // A reply cut short by the byte budget: ask again for the rest. One with
                // none of them: the peer does not hold them.
                if !entries.is_empty() {
                    for id in rest.into_iter().rev() {
                        self.want.push_front(id);
                    }
                }
                Ok(entries)
            }
            (asked, response) => protocol(format!(
                "a {} reply to a {} request",
                kind(&response),
                match asked {
                    Asked::Root => "Root",
                    Asked::Nodes(_) => "Nodes",
                    Asked::Subtree(_) => "Subtree",
                    Asked::Entries(_) | Asked::Fetch(_) => "Entries",
                }
            )),
        }
    }

    /// Folds the peer's summary of `prefix` into the walk.
    fn walk(
        &mut self,
        prefix: Prefix,
        summary: Summary,
        local: &mut dyn LocalSet,
    ) -> Result<(), Fault> {
        match summary {
            Summary::Empty => Ok(()),
            Summary::Ids { ids, values } => {
                if ids.len() > LEAF_IDS {
                    return protocol(format!("{} ids listed under {prefix}", ids.len()));
                }
                if values.len() != ids.len() {
                    return protocol(format!(
                        "{} values for {} ids under {prefix}",
                        values.len(),
                        ids.len()
                    ));
                }
                if ids.windows(2).any(|w| w[0] >= w[1]) {
                    return protocol(format!("ids under {prefix} not sorted"));
                }
                if ids.iter().any(|id| !prefix.covers(id)) {
                    return protocol(format!("an id listed under {prefix} is not under it"));
                }
                // Wanted: ids not accepted here (pending ones included: the peer's copy
                // may carry the signatures they lack) or held with other signatures.
                for (id, value) in ids.into_iter().zip(values) {
                    let differs = local.value(&id).map(|v| ShortHash::of(&v)) != Some(value);
                    if differs && self.wanted.insert(id, value).is_none() {
                        self.want.push_back(id);
                    }
                }
                Ok(())
            }
            Summary::Branch { children } => {
                if prefix.len() >= MAX_DEPTH {
                    return protocol(format!("a branch at the full-length prefix {prefix}"));
                }
                for (nibble, remote) in (0u8..).zip(children) {
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
    }
}

/// Whether the local copy of `id` has the signature set the peer listed for it.
fn matches_peer(wanted: &IdMap<ShortHash>, id: &EntryId, local: &mut dyn LocalSet) -> bool {
    let local = local.value(id).map(|v| ShortHash::of(&v));
    local.is_some() && local == wanted.get(id).copied()
}

fn check_count(len: usize, max: usize) -> Result<(), Fault> {
    if len > max {
        return protocol(format!("{len} entries in one reply (at most {max})"));
    }
    Ok(())
}

/// Checks that every entry was asked for (each once); returns the asked ids not returned,
/// in the order asked.
fn requested_only(asked: &[EntryId], entries: &[SignedEntry]) -> Result<Vec<EntryId>, Fault> {
    let mut open: IdMap<()> = asked.iter().map(|id| (*id, ())).collect();
    for entry in entries {
        if open.remove(&entry.id()).is_none() {
            return protocol(format!(
                "entry {} was not requested (or came twice)",
                entry.id()
            ));
        }
    }
    Ok(asked
        .iter()
        .filter(|id| open.contains_key(*id))
        .copied()
        .collect())
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

/// Fetches by id outside sessions ([`Engine::want`]).
#[derive(Debug)]
struct Fetches<P> {
    /// Groups of at most [`MAX_IDS`] ids, each for one peer (or any).
    queue: VecDeque<(Option<P>, Vec<EntryId>)>,
    queued: usize,
    /// Ids queued, in flight or being ingested: not fetched again meanwhile.
    active: IdMap<()>,
    in_flight: usize,
    /// Ingest batches of fetched entries, with their ids.
    batches: HashMap<u64, Vec<EntryId>>,
}

impl<P> Fetches<P> {
    fn release(&mut self, ids: &[EntryId]) {
        for id in ids {
            self.active.remove(id);
        }
    }
}

/// The sync state machine of one node. `P` names a peer.
#[derive(Debug)]
pub struct Engine<P> {
    config: SyncConfig,
    rng: SplitMix64,
    connected: BTreeSet<P>,
    /// Peers waiting for a session, each at most once.
    queue: VecDeque<P>,
    session: Option<Session<P>>,
    flights: HashMap<RequestId, Flight<P>>,
    fetches: Fetches<P>,
    next_request: RequestId,
    next_batch: u64,
    next_period: Option<Instant>,
}

impl<P: Copy + Eq + std::hash::Hash + Ord + std::fmt::Debug> Engine<P> {
    /// `seed` feeds the engine's own generator, which picks peers.
    pub fn new(config: SyncConfig, seed: u64) -> Engine<P> {
        Engine {
            config,
            rng: SplitMix64::new(seed),
            connected: BTreeSet::new(),
            queue: VecDeque::new(),
            session: None,
            flights: HashMap::new(),
            fetches: Fetches {
                queue: VecDeque::new(),
                queued: 0,
                active: IdMap::default(),
                in_flight: 0,
                batches: HashMap::new(),
            },
            next_request: 0,
            next_batch: 0,
            next_period: None,
        }
    }

    /// A peer connected: queue a session with it (at most one session runs at a time;
    /// others queue; no duplicates in the queue).
    pub fn peer_connected(&mut self, peer: P, now: Instant) -> Vec<Action<P>> {
        let mut out = Vec::new();
        self.connected.insert(peer);
        self.enqueue(peer);
        self.start_next(now, &mut out);
        self.pump_fetches(now, &mut out);
        out
    }

    /// A peer disconnected: its session (if any) ends as failed, its queued entry is
    /// dropped, its in-flight requests are forgotten.
    pub fn peer_disconnected(&mut self, peer: P, now: Instant) -> Vec<Action<P>> {
        let mut out = Vec::new();
        self.connected.remove(&peer);
        self.queue.retain(|p| *p != peer);
        if self.session.as_ref().is_some_and(|s| s.peer == peer) {
            self.fail("the peer disconnected".into(), &mut out);
        }
        let gone: Vec<RequestId> = self
            .flights
            .iter()
            .filter(|(_, f)| f.peer == peer)
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if let Some(Flight {
                asked: Asked::Fetch(ids),
                ..
            }) = self.flights.remove(&id)
            {
                self.fetches.in_flight -= 1;
                self.fetches.release(&ids);
            }
        }
        let fetches = &mut self.fetches;
        fetches.queue.retain(|(from, ids)| {
            let keep = *from != Some(peer);
            if !keep {
                fetches.queued -= ids.len();
                for id in ids {
                    fetches.active.remove(id);
                }
            }
            keep
        });
        self.start_next(now, &mut out);
        self.pump_fetches(now, &mut out);
        out
    }

    /// Time passes: time out requests older than `request_timeout` (a timed-out request
    /// fails its session), start the next queued session, and every `period` queue a
    /// session with a random connected peer.
    pub fn tick(&mut self, now: Instant, local: &mut dyn LocalSet) -> Vec<Action<P>> {
        let mut out = Vec::new();
        let timeout = self.config.request_timeout;
        let mut late: Vec<(RequestId, P)> = self
            .flights
            .iter()
            .filter(|(_, f)| now.saturating_duration_since(f.sent) >= timeout)
            .map(|(id, f)| (*id, f.peer))
            .collect();
        late.sort();
        for (id, peer) in late {
            self.failed(peer, id, "a request timed out", &mut out);
        }
        match self.next_period {
            Some(at) if now < at => {}
            Some(_) => {
                self.next_period = Some(now + self.config.period);
                if let Some(peer) = self.random_peer() {
                    self.enqueue(peer);
                }
            }
            None => self.next_period = Some(now + self.config.period),
        }
        self.start_next(now, &mut out);
        self.pump(now, local, &mut out);
        out
    }

    /// A reply arrived. Unknown ids (late replies after a timeout) are ignored, as are
    /// replies from a peer other than the one asked. A reply that does not answer its
    /// request gets the peer penalised and, in a session, ends it as failed.
    pub fn on_response(
        &mut self,
        peer: P,
        id: RequestId,
        response: SyncResponse,
        now: Instant,
        local: &mut dyn LocalSet,
    ) -> Vec<Action<P>> {
        let mut out = Vec::new();
        if self.flights.get(&id).is_none_or(|f| f.peer != peer) {
            return out;
        }
        let Some(flight) = self.flights.remove(&id) else {
            return out;
        };
        match flight.asked {
            Asked::Fetch(ids) => self.fetched(peer, ids, response, &mut out),
            asked => self.session_reply(peer, asked, response, local, &mut out),
        }
        self.start_next(now, &mut out);
        self.pump(now, local, &mut out);
        out
    }

    /// The request failed (transport error, timeout in the transport, peer closed).
    pub fn on_failure(&mut self, peer: P, id: RequestId, now: Instant) -> Vec<Action<P>> {
        let mut out = Vec::new();
        self.failed(peer, id, "a request failed", &mut out);
        self.start_next(now, &mut out);
        self.pump_fetches(now, &mut out);
        out
    }

    /// An Ingest batch was stored; frees its pipeline slot and lets the session continue.
    pub fn on_ingested(
        &mut self,
        _peer: P,
        batch: u64,
        now: Instant,
        local: &mut dyn LocalSet,
    ) -> Vec<Action<P>> {
        let mut out = Vec::new();
        if let Some(s) = self.session.as_mut() {
            s.ingesting.remove(&batch);
        }
        if let Some(ids) = self.fetches.batches.remove(&batch) {
            self.fetches.release(&ids);
        }
        self.pump(now, local, &mut out);
        out
    }

    /// Fetch these ids (references pending entries wait for) from `from`, or from a
    /// random connected peer when `None`; ids already known or already being fetched are
    /// skipped. Uses `Entries` requests of at most [`MAX_IDS`] ids; replies produce
    /// Ingest actions (batch ids distinct from sessions') and no Finished. At most
    /// `max_fetches * MAX_IDS` ids wait at once; the rest are dropped, to be wanted again.
    pub fn want(
        &mut self,
        ids: Vec<EntryId>,
        from: Option<P>,
        now: Instant,
        local: &mut dyn LocalSet,
    ) -> Vec<Action<P>> {
        let mut out = Vec::new();
        let room = self.config.max_fetches.max(1) * MAX_IDS;
        for id in ids {
            if self.fetches.queued >= room {
                break;
            }
            if self.fetches.active.contains_key(&id) || local.knows(&id) {
                continue;
            }
            self.fetches.active.insert(id, ());
            self.fetches.queued += 1;
            match self.fetches.queue.back_mut() {
                Some((to, group)) if *to == from && group.len() < MAX_IDS => group.push(id),
                _ => self.fetches.queue.push_back((from, vec![id])),
            }
        }
        self.pump_fetches(now, &mut out);
        out
    }

    /// Peers connected now (as told by `peer_connected` and `peer_disconnected`).
    pub fn connected(&self) -> usize {
        self.connected.len()
    }

    /// Whether a session is running.
    pub fn busy(&self) -> bool {
        self.session.is_some()
    }

    /// The peer of the running session, if any.
    pub fn session_peer(&self) -> Option<P> {
        self.session.as_ref().map(|s| s.peer)
    }

    /// Peers waiting for a session.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Requests in flight (sessions' and fetches').
    pub fn in_flight(&self) -> usize {
        self.flights.len()
    }

    fn enqueue(&mut self, peer: P) {
        let running = self.session.as_ref().is_some_and(|s| s.peer == peer);
        if !running && !self.queue.contains(&peer) {
            self.queue.push_back(peer);
        }
    }

    fn random_peer(&mut self) -> Option<P> {
        let i = self.rng.below(self.connected.len());
        self.connected.iter().nth(i).copied()
    }

    fn send(&mut self, peer: P, asked: Asked, now: Instant, out: &mut Vec<Action<P>>) {
        let id = self.next_request;
        self.next_request += 1;
        out.push(Action::Send {
            peer,
            id,
            request: asked.request(),
        });
        self.flights.insert(
            id,
            Flight {
                peer,
                sent: now,
                asked,
            },
        );
    }

    fn start_next(&mut self, now: Instant, out: &mut Vec<Action<P>>) {
        if self.session.is_some() {
            return;
        }
        while let Some(peer) = self.queue.pop_front() {
            if self.connected.contains(&peer) {
                let mut session = Session::new(peer);
                session.in_flight = 1;
                session.requests = 1;
                self.session = Some(session);
                self.send(peer, Asked::Root, now, out);
                return;
            }
        }
    }

    /// Ends the running session as failed, forgetting its requests in flight.
    fn fail(&mut self, error: String, out: &mut Vec<Action<P>>) {
        self.flights
            .retain(|_, f| matches!(f.asked, Asked::Fetch(_)));
        if let Some(s) = self.session.take() {
            out.push(Action::Finished {
                peer: s.peer,
                report: SessionReport {
                    completed: false,
                    fetched: s.fetched,
                    requests: s.requests,
                    error: Some(error),
                },
            });
        }
    }

    /// A request of this node failed or timed out.
    fn failed(&mut self, peer: P, id: RequestId, why: &str, out: &mut Vec<Action<P>>) {
        if self.flights.get(&id).is_none_or(|f| f.peer != peer) {
            return;
        }
        match self.flights.remove(&id).map(|f| f.asked) {
            Some(Asked::Fetch(ids)) => {
                self.fetches.in_flight -= 1;
                self.fetches.release(&ids);
            }
            Some(_) => self.fail(why.into(), out),
            None => {}
        }
    }

    fn session_reply(
        &mut self,
        peer: P,
        asked: Asked,
        response: SyncResponse,
        local: &mut dyn LocalSet,
        out: &mut Vec<Action<P>>,
    ) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        s.in_flight -= 1;
        if asked.walks() {
            s.walks_in_flight -= 1;
        }
        match s.absorb(asked, response, local) {
            Ok(entries) if entries.is_empty() => {}
            Ok(entries) => {
                let batch = self.next_batch;
                self.next_batch += 1;
                s.fetched += entries.len() as u64;
                s.ingesting.insert(batch);
                out.push(Action::Ingest {
                    peer,
                    batch,
                    entries,
                });
            }
            Err(Fault::Protocol(reason)) => {
                out.push(Action::Penalise {
                    peer,
                    reason: reason.clone(),
                });
                self.fail(format!("protocol violation: {reason}"), out);
            }
            Err(Fault::Stopped(reason)) => self.fail(reason, out),
        }
    }

    fn fetched(
        &mut self,
        peer: P,
        ids: Vec<EntryId>,
        response: SyncResponse,
        out: &mut Vec<Action<P>>,
    ) {
        self.fetches.in_flight -= 1;
        let entries = match response {
            SyncResponse::Entries { entries } => entries,
            SyncResponse::Refused { .. } => Vec::new(),
            other => {
                out.push(Action::Penalise {
                    peer,
                    reason: format!("a {} reply to an Entries request", kind(&other)),
                });
                Vec::new()
            }
        };
        let rest = match requested_only(&ids, &entries) {
            Ok(rest) => rest,
            Err(Fault::Protocol(reason) | Fault::Stopped(reason)) => {
                out.push(Action::Penalise { peer, reason });
                self.fetches.release(&ids);
                return;
            }
        };
        if entries.is_empty() {
            self.fetches.release(&ids);
            return;
        }
        // Cut short by the byte budget: the rest go back to the front, for the same peer.
        if !rest.is_empty() {
            self.fetches.queued += rest.len();
            self.fetches.queue.push_front((Some(peer), rest.clone()));
        }
        let open: IdMap<()> = rest.iter().map(|id| (*id, ())).collect();
        let got: Vec<EntryId> = ids
            .into_iter()
            .filter(|id| !open.contains_key(id))
            .collect();
        let batch = self.next_batch;
        self.next_batch += 1;
        self.fetches.batches.insert(batch, got);
        out.push(Action::Ingest {
            peer,
            batch,
            entries,
        });
    }

    /// Sends what the session and the fetches are ready to send, and ends the session if
    /// it is done.
    fn pump(&mut self, now: Instant, local: &mut dyn LocalSet, out: &mut Vec<Action<P>>) {
        self.pump_fetches(now, out);
        let pipeline = self.config.pipeline.max(1);
        loop {
            let Some(s) = self.session.as_mut() else {
                return;
            };
            if !s.walking || s.in_flight + s.ingesting.len() >= pipeline {
                break;
            }
            let Some(asked) = s.next_request(local) else {
                break;
            };
            s.in_flight += 1;
            s.requests += 1;
            if asked.walks() {
                s.walks_in_flight += 1;
            }
            let peer = s.peer;
            self.send(peer, asked, now, out);
        }
        if let Some(s) = self.session.take_if(|s| s.done()) {
            out.push(Action::Finished {
                peer: s.peer,
                report: SessionReport {
                    completed: true,
                    fetched: s.fetched,
                    requests: s.requests,
                    error: None,
                },
            });
            self.start_next(now, out);
        }
    }

    fn pump_fetches(&mut self, now: Instant, out: &mut Vec<Action<P>>) {
        while self.fetches.in_flight < self.config.max_fetches.max(1) {
            let Some((from, _)) = self.fetches.queue.front() else {
                return;
            };
            let peer = match *from {
                Some(p) if self.connected.contains(&p) => Some(p),
                Some(_) => None,
                None => match self.random_peer() {
                    Some(p) => Some(p),
                    None => return,
                },
            };
            let Some((_, ids)) = self.fetches.queue.pop_front() else {
                return;
            };
            self.fetches.queued -= ids.len();
            match peer {
                Some(peer) => {
                    self.fetches.in_flight += 1;
                    self.send(peer, Asked::Fetch(ids), now, out);
                }
                None => self.fetches.release(&ids),
            }
        }
    }
}
