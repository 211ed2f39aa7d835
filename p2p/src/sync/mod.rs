//! The sync state machine and the responder's side of the sync protocol (see
//! [`crate::protocol`] for the messages and the walk they support).
//!
//! [`Engine`] owns no socket, clock or global randomness: the network task feeds it
//! connections, peers' requests, replies, failures, what the writer made of each ingest
//! and the time, and carries out the [`Action`]s it returns. It owns the whole policy of
//! sync, so a simulation that drives it exercises all of it:
//!
//! - who runs first: a peer that dialled this node runs its session first; this node's
//!   session with it starts once the peer has sent no request for
//!   [`SyncConfig::defer_quiet`], or [`SyncConfig::defer_at_most`] after it connected.
//!   After the peer's session, ours usually finds equal roots at once, so a repair costs
//!   one walk, not two;
//! - one pull session at a time (the requester fetches what one peer holds and it lacks;
//!   both ends of a connection run their own sessions, so together they converge), and
//!   every [`SyncConfig::period`] a session with a random connected peer;
//! - fetches by id of the references pending entries wait for: on every tick those the
//!   [`LocalSet`] lacks, and those of a fetched batch's pending entries from the peer that
//!   sent it ([`Ingested`]);
//! - penalties: for a reply that does not answer its request and for an invalid entry in
//!   a reply ([`Action::Penalise`] with its [`Offence`]).
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
//!
//! Layout:
//! - this file: the vocabulary every part shares: [`SyncConfig`] and its defaults, the
//!   [`LocalSet`] a node syncs from (implemented for [`Registry`]), who [`Dialled`], what
//!   the writer made of a batch ([`Ingested`]), the [`Action`]s and [`SessionReport`]s
//!   (with their [`SessionError`]) the engine hands out, and what a request in flight
//!   asked.
//! - `engine`: the [`Engine`]: connected peers, deferral to the dialling peer, the queue
//!   of peers waiting for a session, which session runs, requests in flight, timeouts,
//!   the sync period, and the wants of missing references.
//! - `session`: one pull session with one peer: the root comparison, the walk down the
//!   trie, the checks of each reply (a reply that fails them is a [`Violation`]).
//! - `fetch`: fetches by id outside sessions (the references pending entries wait for):
//!   grouping into `Entries` requests, the bound on ids waiting, the check of a reply.
//! - `responder`: [`answer`], a peer's request answered from the local set.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use registry_core::registry::{Outcome, Registry, Rejection};
use registry_core::rng::SplitMix64;
use registry_core::trie::{NodeView, Prefix};
use registry_core::{EntryId, Hash, SignedEntry};

use crate::offence::{Offence, Violation};
use crate::protocol::{SyncRequest, SyncResponse};

mod engine;
mod fetch;
mod responder;
mod session;

pub use engine::Engine;
pub use responder::answer;

/// Most prefixes a session keeps waiting to be walked; a walk that would need more fails.
/// Past [`DEPTH_FIRST_ABOVE`] the walk takes the deepest prefixes first, which drains
/// subtrees instead of widening, so an honest walk stays far below this.
pub const MAX_FRONTIER: usize = 1 << 20;
/// Frontier size above which the walk goes depth-first.
pub const DEPTH_FIRST_ABOVE: usize = 1 << 16;

/// What a node holds, as sync sees it. Implemented for [`Registry`].
pub trait LocalSet {
    /// State root over the accepted ids (the registry's trie).
    fn root(&self) -> Hash;
    /// Number of accepted entries.
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn count_under(&self, prefix: &Prefix) -> usize;
    fn node(&self, prefix: &Prefix) -> NodeView;
    fn hash_at(&self, prefix: &Prefix) -> Hash;
    fn ids_under(&self, prefix: &Prefix, limit: usize) -> Vec<EntryId>;
    /// The ids under `prefix` with their leaf values (signature-set digests), sorted.
    fn leaves_under(&self, prefix: &Prefix, limit: usize) -> Vec<(EntryId, Hash)>;
    /// The leaf value of an accepted entry: the digest of its signature set.
    fn value(&self, id: &EntryId) -> Option<Hash>;
    /// Accepted, or pending for a reason other than too few signatures: no need to fetch
    /// it by id.
    fn knows(&self, id: &EntryId) -> bool;
    /// An accepted entry, or else a pending copy (a requester may lack its signatures).
    fn entry(&self, id: &EntryId) -> Option<Arc<SignedEntry>>;
    /// At most `limit` references that pending entries wait for: the engine fetches them
    /// by id.
    fn missing(&self, limit: usize) -> Vec<EntryId>;
}

impl LocalSet for Registry {
    fn root(&self) -> Hash {
        self.state_root()
    }

    fn len(&self) -> u64 {
        self.state().len() as u64
    }

    fn count_under(&self, prefix: &Prefix) -> usize {
        self.state().trie().count_under(prefix)
    }

    fn node(&self, prefix: &Prefix) -> NodeView {
        self.state().trie().node(prefix)
    }

    fn hash_at(&self, prefix: &Prefix) -> Hash {
        self.state().trie().hash_at(prefix)
    }

    fn ids_under(&self, prefix: &Prefix, limit: usize) -> Vec<EntryId> {
        self.state().trie().ids_under(prefix, limit)
    }

    fn leaves_under(&self, prefix: &Prefix, limit: usize) -> Vec<(EntryId, Hash)> {
        self.state().trie().leaves_under(prefix, limit)
    }

    fn value(&self, id: &EntryId) -> Option<Hash> {
        self.state().trie().value(id)
    }

    fn knows(&self, id: &EntryId) -> bool {
        self.state().contains(id)
            || (self.pending_entry(id).is_some() && !self.awaits_signatures(id))
    }

    fn entry(&self, id: &EntryId) -> Option<Arc<SignedEntry>> {
        match self.state().get(id) {
            Some(e) => Some(e.clone()),
            None => self.pending_entry(id).cloned().map(Arc::new),
        }
    }

    fn missing(&self, limit: usize) -> Vec<EntryId> {
        if self.pending_len() == 0 {
            return Vec::new();
        }
        Registry::missing(self, limit)
    }
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
    /// A peer that dialled this node runs its session first; ours with it starts once it
    /// has sent no sync request for this long (default 300 ms)...
    pub defer_quiet: Duration,
    /// ...or this long after it connected, whatever it sends (default 5 s).
    pub defer_at_most: Duration,
}

impl Default for SyncConfig {
    fn default() -> SyncConfig {
        SyncConfig {
            period: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
            pipeline: 4,
            max_fetches: 4,
            defer_quiet: Duration::from_millis(300),
            defer_at_most: Duration::from_secs(5),
        }
    }
}

/// Who opened a connection: it decides whose session runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialled {
    /// This node dialled the peer: its session starts at once.
    ByUs,
    /// The peer dialled this node: the peer's session runs first.
    ByThem,
}

/// What the writer made of one Ingest batch, as far as sync cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ingested {
    /// The references the batch's pending entries wait for: fetched from the peer that
    /// sent the batch (which, holding the entries, should hold them too).
    pub missing: Vec<EntryId>,
    /// Why an entry of the batch can never be accepted, if one cannot: the peer is
    /// penalised once for the batch.
    pub invalid: Option<Rejection>,
}

impl Ingested {
    /// The summary of a batch's outcomes (an entry the node could not take for a local
    /// reason has no outcome here: that is not the peer's doing).
    pub fn of(outcomes: impl IntoIterator<Item = Outcome>) -> Ingested {
        let mut summary = Ingested::default();
        for outcome in outcomes {
            match outcome {
                Outcome::Pending { missing } => summary.missing.extend(missing),
                Outcome::Rejected(why) => summary.invalid = Some(why),
                Outcome::Accepted | Outcome::Merged | Outcome::Duplicate => {}
            }
        }
        summary
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
    /// [`Engine::on_ingested`] with `batch` and what became of them once they are stored
    /// (accepted, pending or rejected).
    Ingest {
        peer: P,
        batch: u64,
        entries: Vec<SignedEntry>,
    },
    /// A session with `peer` ended.
    Finished { peer: P, report: SessionReport },
    /// `peer` did what an honest peer never does (a reply that does not answer its
    /// request, an invalid entry in a reply); the caller lowers its score.
    Penalise { peer: P, offence: Offence },
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionReport {
    /// Entries received and handed to Ingest.
    pub fetched: u64,
    /// Requests sent.
    pub requests: u64,
    /// Why it failed; `None` when it compared roots and fetched everything the peer had
    /// that this node lacked (a completed sync).
    pub error: Option<SessionError>,
}

impl SessionReport {
    /// Whether the session is a completed sync.
    pub fn completed(&self) -> bool {
        self.error.is_none()
    }
}

/// Why a session ended before it completed: the peer's fault, or a neutral end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The peer's reply did not answer its request (the peer is penalised too).
    #[error("protocol violation: {0}")]
    Violation(#[from] Violation),
    /// The peer declined a request, with its reason.
    #[error("the peer refused: {0}")]
    Refused(String),
    /// The walk outgrew [`MAX_FRONTIER`] prefixes.
    #[error("the walk outgrew {MAX_FRONTIER} prefixes")]
    FrontierFull,
    /// A request got no reply within [`SyncConfig::request_timeout`].
    #[error("a request timed out")]
    TimedOut,
    /// The transport failed a request (a stream error, the peer closed it).
    #[error("a request failed")]
    RequestFailed,
    /// The peer disconnected.
    #[error("the peer disconnected")]
    Disconnected,
}

impl SessionError {
    /// Whether the peer is to blame (anything else is a neutral or local end).
    pub fn peer_fault(&self) -> bool {
        matches!(self, SessionError::Violation(_))
    }
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

    /// The name of the request kind asked.
    fn kind(&self) -> &'static str {
        match self {
            Asked::Root => "Root",
            Asked::Nodes(_) => "Nodes",
            Asked::Subtree(_) => "Subtree",
            Asked::Entries(_) | Asked::Fetch(_) => "Entries",
        }
    }
}

/// A request in flight: who was asked, when, and what.
#[derive(Debug)]
struct Flight<P> {
    peer: P,
    sent: Instant,
    asked: Asked,
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

/// A peer picked from `peers` with `rng` (which advances even when `peers` is empty).
fn random_peer<P: Copy>(rng: &mut SplitMix64, peers: &BTreeSet<P>) -> Option<P> {
    let i = rng.below(peers.len());
    peers.iter().nth(i).copied()
}
