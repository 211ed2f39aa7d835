//! What a peer can do wrong, typed: the [`Offence`]s the network penalises a peer for,
//! and the protocol [`Violation`]s of a sync reply that does not answer its request. A
//! local failure (a full queue, a timeout, a disconnect) is never one of these.

use registry_core::codec::DecodeError;
use registry_core::registry::Rejection;
use registry_core::trie::Prefix;
use registry_core::EntryId;

/// Why a peer is penalised. Each one is something an honest peer never does.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Offence {
    /// Gossiped bytes that do not decode as an entry.
    #[error("gossiped bytes that are not an entry: {0}")]
    GossipNotAnEntry(DecodeError),
    /// Gossiped an entry that can never be accepted.
    #[error("gossiped an invalid entry: {0}")]
    InvalidGossip(Rejection),
    /// Sent bytes on the sync protocol that are not a request (a frame over the limit, or
    /// one that does not decode); the codec's error text.
    #[error("sent a sync request that is not one: {0}")]
    MalformedRequest(String),
    /// Answered a sync request with bytes that are not a reply; the codec's error text.
    #[error("sent a sync reply that is not one: {0}")]
    MalformedReply(String),
    /// Sent a sync reply that does not answer the request it was sent for.
    #[error("protocol violation: {0}")]
    Unanswered(Violation),
    /// Gossiped a checkpoint message that is not valid: bytes that do not decode, a
    /// malformed or oversized note, another registry's, a bad signature, a signer that is
    /// not a witness in force, or an equivocation proof that proves nothing. The host's
    /// reason.
    #[error("gossiped an invalid checkpoint message: {0}")]
    InvalidCheckpoint(String),
    /// Sent an entry by sync that can never be accepted.
    #[error("sent an invalid entry by sync: {0}")]
    InvalidSyncEntry(Rejection),
}

/// How a sync reply fails to answer its request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// A reply of another kind than the request asks for.
    #[error("a {got} reply to a {asked} request")]
    WrongKind {
        asked: &'static str,
        got: &'static str,
    },
    /// A `Nodes` reply without one summary per prefix asked.
    #[error("{summaries} summaries for {prefixes} prefixes")]
    SummaryCount { summaries: usize, prefixes: usize },
    /// `TooLarge` for a prefix that holds at most one entry (one always fits a reply).
    #[error("TooLarge ({count} entries) under {prefix}")]
    FalseTooLarge { count: u64, prefix: Prefix },
    /// More ids listed under a prefix than a listing may hold.
    #[error("{count} ids listed under {prefix}")]
    TooManyIds { count: usize, prefix: Prefix },
    /// A listing without one value per id.
    #[error("{values} values for {ids} ids under {prefix}")]
    ValueCount {
        values: usize,
        ids: usize,
        prefix: Prefix,
    },
    #[error("ids under {prefix} not sorted")]
    UnsortedIds { prefix: Prefix },
    #[error("an id listed under {prefix} is not under it")]
    IdOutsidePrefix { prefix: Prefix },
    #[error("an entry not under the prefix {prefix}")]
    EntryOutsidePrefix { prefix: Prefix },
    /// A branch where the trie can only hold a leaf.
    #[error("a branch at the full-length prefix {prefix}")]
    BranchAtFullLength { prefix: Prefix },
    #[error("{count} entries in one reply (at most {max})")]
    TooManyEntries { count: usize, max: usize },
    /// An entry that was not asked for, or came twice.
    #[error("entry {id} was not requested (or came twice)")]
    Unrequested { id: EntryId },
}
