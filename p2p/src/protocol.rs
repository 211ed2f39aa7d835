//! The sync protocol's messages (DESIGN section 8), request-response on
//! `/trust-registry/<registry_id hex>/sync/2`.
//!
//! A requester pulls what it lacks from one peer:
//! 1. `Root`: the peer's state root and entry count; equal roots end the session.
//! 2. `Nodes`: for a batch of prefixes, what the peer holds under each: nothing, the ids
//!    themselves with their shortened leaf values (the digest of each entry's signature
//!    set) when there are few ([`LEAF_IDS`]), or the 16 child hashes shortened to
//!    [`SHORT_HASH_BYTES`] bytes. The requester descends only where its own child hashes
//!    differ, so the walk visits the prefixes along differing paths, not the whole trie.
//! 3. `Subtree`: every entry under a prefix the requester holds nothing under (an empty or
//!    far-behind node), in one reply if they fit, else `TooLarge` and the requester splits
//!    the prefix into its 16 children.
//! 4. `Entries`: entries by id (ids learnt in step 2 that the requester lacks or holds
//!    with other signatures, or references that pending entries wait for).
//!
//! Version 2 (`sync/2`): leaves carry signature-set digests, so copies of one entry with
//! different signatures are found and repaired; version 1 compared ids alone.
//!
//! Every message is encoded with [`registry_core::codec`] and framed with a 4-byte
//! big-endian length; requests are at most [`MAX_REQUEST_BYTES`] and replies at most
//! [`MAX_RESPONSE_BYTES`], and every list has a maximum length checked while decoding,
//! before anything is allocated. Replies are validated against the request they answer
//! (see `sync`): a peer that answers with what was not asked is penalised.
//!
//! Shortened child hashes only steer the walk. Two different subtrees with equal 8-byte
//! prefixes of their hashes (probability 2^-64 for honest peers) would hide a difference
//! from one walk; the full state roots still differ, so nodes never report being in sync
//! when they are not.
//!
//! The wire names of a registry's network (gossip topic, sync, Kademlia and identify
//! protocols) are defined here too, once: the node and the test network's hostile peer
//! speak them from the same definitions.

use libp2p::{gossipsub, StreamProtocol};
use registry_core::codec::{self, DecodeError};
use registry_core::trie::Prefix;
use registry_core::{EntryId, Hash, RegistryId, SignedEntry};
use serde::{Deserialize, Serialize};

/// The gossip topic of a registry.
pub fn topic(registry: &RegistryId) -> gossipsub::IdentTopic {
    gossipsub::IdentTopic::new(format!("/trust-registry/{}/entries/1", registry.to_hex()))
}

/// The checkpoint topic of a registry: signed checkpoint notes and equivocation proofs
/// ([`CheckpointMessage`]).
pub fn checkpoint_topic(registry: &RegistryId) -> gossipsub::IdentTopic {
    gossipsub::IdentTopic::new(format!(
        "/trust-registry/{}/checkpoints/1",
        registry.to_hex()
    ))
}

/// Largest encoded checkpoint message: a note is at most 16 KiB, and an equivocation
/// proof carries two notes of one signature each, far smaller.
pub const MAX_CHECKPOINT_MESSAGE_BYTES: usize = 16 * 1024;

/// What the checkpoint topic carries. Notes travel as text (C2SP signed notes), parsed and
/// checked by the host; the decoder only bounds the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckpointMessage {
    /// A checkpoint note with one or more signatures.
    Note(String),
    /// Two notes for one slot, each signed by the same witness key, on different bodies:
    /// a self-contained proof that the key signed two checkpoints for one slot.
    Equivocation(String, String),
}

impl CheckpointMessage {
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes at most [`MAX_CHECKPOINT_MESSAGE_BYTES`]: nothing larger is allocated.
    pub fn decode(bytes: &[u8]) -> Result<CheckpointMessage, DecodeError> {
        codec::decode(bytes, MAX_CHECKPOINT_MESSAGE_BYTES)
    }
}

/// The sync protocol of a registry.
pub fn sync_protocol(registry: &RegistryId) -> StreamProtocol {
    registry_protocol(registry, "sync/2")
}

/// The Kademlia protocol of a registry: nodes of other registries keep out of its table.
pub fn kad_protocol(registry: &RegistryId) -> StreamProtocol {
    registry_protocol(registry, "kad/1")
}

/// The protocol version a node announces with identify.
pub fn identify_protocol(registry: &RegistryId) -> String {
    format!("/trust-registry/{}/1", registry.to_hex())
}

fn registry_protocol(registry: &RegistryId, name: &str) -> StreamProtocol {
    StreamProtocol::try_from_owned(format!("/trust-registry/{}/{name}", registry.to_hex()))
        .expect("a name that starts with '/' is a valid protocol name")
}

/// Largest encoded request.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// Largest encoded reply. A responder stops adding entries before a reply would pass
/// [`REPLY_BUDGET_BYTES`]; one entry is at most 64 KiB, so a reply that respects the
/// budget always fits.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;
/// What a responder aims to stay under when it fills a reply with entries.
pub const REPLY_BUDGET_BYTES: usize = MAX_RESPONSE_BYTES - 2 * codec::MAX_MESSAGE_BYTES;
/// Most prefixes in one `Nodes` request (and summaries in its reply).
pub const MAX_PREFIXES: usize = 256;
/// Most ids in one `Entries` request.
pub const MAX_IDS: usize = 1024;
/// Most entries in one reply.
pub const MAX_ENTRIES: usize = 16_384;
/// A prefix with at most this many ids is summarised by listing them.
pub const LEAF_IDS: usize = 8;
/// Bytes kept of each child hash in a branch summary.
pub const SHORT_HASH_BYTES: usize = 8;

/// The first [`SHORT_HASH_BYTES`] bytes of a subtree hash; all zero for an empty subtree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct ShortHash(pub [u8; SHORT_HASH_BYTES]);

impl ShortHash {
    pub fn of(hash: &Hash) -> ShortHash {
        let mut out = [0u8; SHORT_HASH_BYTES];
        out.copy_from_slice(&hash.as_bytes()[..SHORT_HASH_BYTES]);
        ShortHash(out)
    }
}

/// A request of the sync protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncRequest {
    /// The responder's state root and entry count.
    Root,
    /// A summary of what the responder holds under each prefix, in order.
    Nodes {
        #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_PREFIXES>")]
        prefixes: Vec<Prefix>,
    },
    /// Every entry under `prefix`, if they fit in one reply.
    Subtree { prefix: Prefix },
    /// These entries (the responder returns those it holds, within the reply budget).
    Entries {
        #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_IDS>")]
        ids: Vec<EntryId>,
    },
}

/// What a responder holds under one prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Summary {
    /// No id starts with the prefix.
    Empty,
    /// At most [`LEAF_IDS`] ids start with it: all of them, sorted, and in `values` the
    /// shortened digest of each one's signature set, in the same order.
    Ids {
        #[serde(deserialize_with = "codec::bounded_vec::<_, _, LEAF_IDS>")]
        ids: Vec<EntryId>,
        #[serde(deserialize_with = "codec::bounded_vec::<_, _, LEAF_IDS>")]
        values: Vec<ShortHash>,
    },
    /// More: the shortened hashes of the 16 subtrees one nibble further down.
    Branch { children: [ShortHash; 16] },
}

/// A reply of the sync protocol; each kind answers the request of the same name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncResponse {
    Root {
        root: Hash,
        entries: u64,
    },
    /// One summary per requested prefix, in the order asked.
    Nodes {
        #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_PREFIXES>")]
        summaries: Vec<Summary>,
    },
    /// Every entry under the prefix.
    Subtree {
        #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_ENTRIES>")]
        entries: Vec<SignedEntry>,
    },
    /// The entries under the prefix do not fit in one reply; `count` of them.
    TooLarge {
        count: u64,
    },
    /// The requested entries the responder holds (a subset, possibly shortened to fit the
    /// budget: the requester asks again for the rest).
    Entries {
        #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_ENTRIES>")]
        entries: Vec<SignedEntry>,
    },
    /// The responder will not answer now (overloaded, or the request was refused).
    Refused {
        reason: String,
    },
}

impl SyncRequest {
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<SyncRequest, DecodeError> {
        codec::decode(bytes, MAX_REQUEST_BYTES)
    }
}

impl SyncResponse {
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<SyncResponse, DecodeError> {
        codec::decode(bytes, MAX_RESPONSE_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_carry_the_registry_id() {
        let registry = Hash([0xab; 32]);
        let hex = "ab".repeat(32);
        assert_eq!(
            topic(&registry).to_string(),
            format!("/trust-registry/{hex}/entries/1")
        );
        assert_eq!(
            checkpoint_topic(&registry).to_string(),
            format!("/trust-registry/{hex}/checkpoints/1")
        );
        assert_eq!(
            sync_protocol(&registry).as_ref(),
            format!("/trust-registry/{hex}/sync/2")
        );
        assert_eq!(
            kad_protocol(&registry).as_ref(),
            format!("/trust-registry/{hex}/kad/1")
        );
        assert_eq!(
            identify_protocol(&registry),
            format!("/trust-registry/{hex}/1")
        );
    }

    #[test]
    fn messages_round_trip() {
        let p = Prefix::from_nibbles(&[1, 2, 3]).unwrap_or_default();
        let requests = [
            SyncRequest::Root,
            SyncRequest::Nodes {
                prefixes: vec![Prefix::root(), p],
            },
            SyncRequest::Subtree { prefix: p },
            SyncRequest::Entries {
                ids: vec![Hash([7; 32])],
            },
        ];
        for r in requests {
            assert_eq!(SyncRequest::decode(&r.encode()), Ok(r));
        }
        let replies = [
            SyncResponse::Root {
                root: Hash([1; 32]),
                entries: 5,
            },
            SyncResponse::Nodes {
                summaries: vec![
                    Summary::Empty,
                    Summary::Ids {
                        ids: vec![Hash([2; 32])],
                        values: vec![ShortHash([4; 8])],
                    },
                    Summary::Branch {
                        children: [ShortHash([3; 8]); 16],
                    },
                ],
            },
            SyncResponse::TooLarge { count: 9 },
            SyncResponse::Refused {
                reason: "busy".into(),
            },
        ];
        for r in replies {
            assert_eq!(SyncResponse::decode(&r.encode()), Ok(r));
        }
    }

    #[test]
    fn checkpoint_messages_round_trip_and_are_bounded() {
        let messages = [
            CheckpointMessage::Note("a note\n".into()),
            CheckpointMessage::Equivocation("one".into(), "two".into()),
        ];
        for m in messages {
            assert_eq!(CheckpointMessage::decode(&m.encode()), Ok(m));
        }
        let big = CheckpointMessage::Note("x".repeat(MAX_CHECKPOINT_MESSAGE_BYTES));
        assert!(CheckpointMessage::decode(&big.encode()).is_err());
        // A declared string length of 2^32 in a few bytes is refused before allocating.
        assert!(CheckpointMessage::decode(&[0u8, 0xfc, 0, 0, 0, 0]).is_err());
        assert!(CheckpointMessage::decode(&[9u8]).is_err());
    }

    #[test]
    fn declared_lengths_over_the_maximum_are_refused_before_allocating() {
        // Variant 1 (Nodes) declaring 2^32 prefixes: a 5-byte varint after the tag.
        let bomb = [1u8, 0xfc, 0, 0, 0, 0];
        assert!(SyncRequest::decode(&bomb).is_err());
        // Summary::Ids declaring LEAF_IDS + 1 ids.
        let reply = SyncResponse::Nodes {
            summaries: vec![Summary::Ids {
                ids: vec![Hash([0; 32]); LEAF_IDS + 1],
                values: vec![ShortHash::default(); LEAF_IDS + 1],
            }],
        };
        assert!(SyncResponse::decode(&reply.encode()).is_err());
        let over = SyncRequest::Nodes {
            prefixes: vec![Prefix::root(); MAX_PREFIXES + 1],
        };
        assert!(SyncRequest::decode(&over.encode()).is_err());
    }
}
