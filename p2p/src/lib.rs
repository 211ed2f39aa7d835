//! p2p: how registry nodes find each other, gossip entries and converge (DESIGN section 8).
//!
//! - [`protocol`]: the sync protocol's messages, limits and encoding, and the wire names
//!   (gossip topic, protocol names) of a registry's network.
//! - [`sync`]: the sync state machine (messages and time in, actions out; no sockets),
//!   which owns the whole sync policy (who runs first, sessions, fetches of missing
//!   references, timers, penalties), and the responder's side, over any
//!   [`sync::LocalSet`].
//! - [`offence`]: what a peer is penalised for ([`Offence`]), typed.
//! - [`codec`]: framing of sync messages on libp2p streams.
//! - [`metrics`]: the network's counters.
//! - [`network`]: the libp2p swarm (TCP + noise + yamux, identify, ping, Kademlia, mDNS,
//!   gossipsub, sync, connection limits, deny-list) and the task (an actor) that drives
//!   it, reached through a [`NetworkHandle`].

pub mod codec;
pub mod metrics;
pub mod network;
pub mod offence;
pub mod protocol;
pub mod sync;

pub use libp2p::{Multiaddr, PeerId};
pub use metrics::NetCounters;
pub use network::{
    keypair_from_seed, peer_source, spawn, CheckpointVerdict, Host, HostError, NetInfo,
    NetworkConfig, NetworkError, NetworkHandle, PeerInfo, StartError, Submission, WhenFull,
};
pub use offence::Offence;
