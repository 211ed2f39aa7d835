//! The network: one tokio task (an actor), on a thread and runtime of its own, owns the
//! libp2p swarm and the sync engine.
//!
//! It talks to the rest of the node through two narrow doors: a [`Host`] (read the
//! registry; submit entries to the ledger writer and learn their outcome once durable),
//! and a [`NetworkHandle`] the node uses to publish, list peers and manage the deny-list.
//! No lock is held across an `.await`; the registry's lock is taken only for the short
//! synchronous steps of sync (comparing hashes, answering a request), and only for reading.
//!
//! - this module: the settings ([`NetworkConfig`]), the [`Host`] the task calls, and
//!   [`spawn`], which builds the swarm and starts the task;
//! - `ingress`: the handle and the commands it sends the task;
//! - `actor`: the task's run loop: it translates swarm events, commands, the writer's
//!   answers and the timer into calls of the sync engine and carries out the engine's
//!   actions. The sync policy itself (who runs first on a new connection, wanting the
//!   missing references of pending entries, timers, penalties for bad replies and invalid
//!   synced entries) is the engine's ([`crate::sync`]), where the simulation exercises it;
//! - `swarm`: the libp2p behaviours and the transport;
//! - `gossip`: gossipsub's settings and scoring, message ids, and gossip validation;
//! - `peers`: bootstrap, redialling, Kademlia dials, penalties and bans.
//!
//! Gossip: an entry arrives, is decoded under the 64 KiB limit, and goes to the writer
//! (`Host::submit`) while gossipsub holds it unforwarded. Its outcome decides the
//! validation result: accepted → Accept (forwarded), already held → Ignore, waiting for a
//! reference → Ignore and fetch the reference from the sender, invalid → Reject (the
//! sender's gossipsub score drops) and a penalty. At most `max_validations` messages are
//! validated at once; past that they are ignored (sync repairs what is lost).
//!
//! Penalties ([`crate::Offence`]: invalid gossip, a sync request or reply whose bytes
//! break the protocol, a sync reply that does not answer its request, an invalid entry in
//! a sync reply) lower the peer's application score in gossipsub; at [`BAN_PENALTIES`]
//! the peer is disconnected and refused while the node runs. The engine decides the
//! penalties of sync replies; the task those of gossip and of the codec.

mod actor;
mod gossip;
mod ingress;
mod peers;
mod swarm;

use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use futures::future::BoxFuture;
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use registry_core::registry::{Outcome, Registry, Source};
use registry_core::{RegistryId, SignedEntry};
use tokio::sync::mpsc;

pub use crate::metrics::NetCounters;
pub use crate::protocol::{checkpoint_topic, sync_protocol, topic, CheckpointMessage};
pub use gossip::decode_gossip;
pub use ingress::{NetInfo, NetworkError, NetworkHandle, PeerInfo, StartError};
pub use peers::{peer_of, BAN_PENALTIES};
pub use swarm::keypair_from_seed;

use crate::sync::SyncConfig;

/// Settings of the network (the node's `[p2p]` section, parsed).
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    pub listen: Vec<Multiaddr>,
    pub bootstrap: Vec<Multiaddr>,
    pub mdns: bool,
    /// Established connections in all, and per peer.
    pub max_connections: u32,
    pub max_connections_per_peer: u32,
    /// Incoming connections still in their handshake.
    pub max_pending_incoming: u32,
    /// Peers refused from the start.
    pub deny: Vec<PeerId>,
    /// Addresses exempt from gossipsub's IP-colocation penalty (a loopback testnet lists
    /// 127.0.0.1: there every honest node shares that address).
    pub colocation_whitelist: Vec<IpAddr>,
    /// Gossip messages validated at once.
    pub max_validations: usize,
    pub sync: SyncConfig,
}

impl Default for NetworkConfig {
    fn default() -> NetworkConfig {
        NetworkConfig {
            listen: vec!["/ip4/127.0.0.1/tcp/0"
                .parse()
                .expect("a literal TCP address on loopback parses")],
            bootstrap: Vec::new(),
            mdns: false,
            max_connections: 64,
            max_connections_per_peer: 2,
            max_pending_incoming: 32,
            deny: Vec::new(),
            colocation_whitelist: Vec::new(),
            max_validations: 4096,
            sync: SyncConfig::default(),
        }
    }
}

/// What one submitted entry became, or why the node could not take it.
pub type Submission = Result<Outcome, HostError>;

/// Why the node could not take an entry a peer sent. Always a local condition, never the
/// peer's fault: the network neither penalises nor forwards for it (gossip: ignored; a
/// sync fetch: the entry is asked for again by a later session).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The node's queue is full; the entry may be taken later.
    #[error("the node is busy: {0}")]
    Busy(String),
    /// The node cannot store entries now (shutting down, storage failing, disk full).
    #[error("the node cannot store entries now: {0}")]
    Unavailable(String),
}

/// What [`Host::submit`] does when the node's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Answer [`HostError::Busy`] at once (gossip: the next copy will come).
    Refuse,
    /// Wait for room (a sync session's fetched batch: the peer answered a request).
    Wait,
}

/// The node as the network sees it.
pub trait Host: Send + Sync + 'static {
    /// The registry, which sync only reads (under the read lock; the node's writer keeps
    /// the trie's hashes current, see `Registry::rehash`).
    fn registry(&self) -> &RwLock<Registry>;
    /// Stores entries received from a peer (`from`, the pending pool's share they count
    /// against: see [`peer_source`]); resolves with one result per entry once it is
    /// durable, pending or rejected. `when_full` says what a full queue does.
    fn submit(
        &self,
        from: Source,
        entries: Vec<SignedEntry>,
        when_full: WhenFull,
    ) -> BoxFuture<'static, Vec<Submission>>;
    /// Judges a message of the checkpoint topic (synchronous: parsing and a few signature
    /// checks), keeping what it learns from it. A host that keeps no checkpoints ignores
    /// them all, neither forwarding nor penalising.
    fn checkpoint(&self, from: PeerId, message: CheckpointMessage) -> CheckpointVerdict {
        let _ = (from, message);
        CheckpointVerdict::Ignore
    }
}

/// What the host concluded of a checkpoint message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointVerdict {
    /// Valid and new to us (it brought a signature, or a new equivocation): forwarded.
    Accept,
    /// Not forwarded, nothing held against the sender: already known, another body than
    /// ours, a slot too far from our clock, or not judged for a local reason.
    Ignore,
    /// Invalid: not forwarded, and the sender is penalised. The reason.
    Reject(String),
}

/// The pending pool's source for entries a peer sent (gossip or sync).
pub fn peer_source(peer: &PeerId) -> Source {
    Source::peer(&peer.to_bytes())
}

/// Starts the network task on a thread of its own, with a single-threaded tokio runtime
/// that also runs every connection's tasks (noise, yamux, the codec): the work of
/// answering peers, a catch-up's megabytes of replies included, never queues on the
/// caller's runtime, where the node answers queries. The returned handle (from the
/// caller's blocking pool) resolves when the task ends: on `shutdown`, or once every
/// [`NetworkHandle`] is dropped.
pub fn spawn(
    config: NetworkConfig,
    keypair: Keypair,
    registry_id: RegistryId,
    host: Arc<dyn Host>,
) -> Result<(NetworkHandle, tokio::task::JoinHandle<()>), NetworkError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StartError::Runtime(Arc::new(e)))?;
    // The swarm's listeners and timers belong to the runtime that will poll them.
    let entered = runtime.enter();
    let counters = Arc::new(NetCounters::default());
    let mut swarm = swarm::build_swarm(&config, keypair, &registry_id, counters.clone())?;
    for addr in &config.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| StartError::Listen {
                addr: addr.clone(),
                source: Arc::new(e),
            })?;
    }
    for peer in &config.deny {
        swarm.behaviour_mut().deny.block_peer(*peer);
    }
    let info = Arc::new(RwLock::new(NetInfo {
        peer_id: *swarm.local_peer_id(),
        listen_addrs: Vec::new(),
        // Filled from the counters by `NetworkHandle::info`.
        peers: 0,
        last_sync_at: None,
    }));
    let (tx, rx) = mpsc::channel(1024);
    let task = actor::Task::new(
        config,
        swarm,
        host,
        info.clone(),
        counters.clone(),
        registry_id,
        rx,
    );
    let handle = NetworkHandle::new(tx, info, counters);
    drop(entered);
    let thread = tokio::task::spawn_blocking(move || runtime.block_on(task.run()));
    Ok((handle, thread))
}
