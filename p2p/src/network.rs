//! The network task: one tokio task owns the libp2p swarm and the sync engine.
//!
//! It talks to the rest of the node through two narrow doors: a [`Host`] (read the
//! registry; submit entries to the ledger writer and learn their outcome once durable),
//! and a [`NetworkHandle`] the node uses to publish, list peers and manage the deny-list.
//! No lock is held across an `.await`; the registry's lock is taken only for the short
//! synchronous steps of sync (comparing hashes, answering a request).
//!
//! Gossip: an entry arrives, is decoded under the 64 KiB limit, and goes to the writer
//! (`Host::submit`) while gossipsub holds it unforwarded. Its outcome decides the
//! validation result: accepted → Accept (forwarded), already held → Ignore, waiting for a
//! reference → Ignore and fetch the reference from the sender, invalid → Reject (the
//! sender's gossipsub score drops) and a penalty. At most `max_validations` messages are
//! validated at once; past that they are ignored (sync repairs what is lost).
//!
//! Penalties (invalid gossip, a sync request or reply whose bytes break the protocol, a
//! sync reply that does not answer its request, an invalid entry in a sync reply) lower
//! the peer's application score in gossipsub; at [`BAN_PENALTIES`] the peer is
//! disconnected and refused while the node runs.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime};

use futures::future::BoxFuture;
use futures::StreamExt;
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    allow_block_list, connection_limits, gossipsub, identify, kad, mdns, noise, ping,
    request_response, tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm,
};
use registry_core::codec::{self, MAX_MESSAGE_BYTES};
use registry_core::registry::{Outcome, Registry, Source};
use registry_core::{EntryId, RegistryId, SignedEntry};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::codec::{broke_protocol, SyncCodec};
use crate::protocol::{SyncRequest, SyncResponse, MAX_IDS};
use crate::sync::{answer, Action, Engine, SyncConfig};

/// Penalties after which a peer is disconnected and refused.
pub const BAN_PENALTIES: u32 = 3;
/// Application score (before gossipsub's weight of 10) per penalty.
const PENALTY_SCORE: f64 = -10.0;
/// Peers remembered in the penalty table; past this the table is cleared.
const MAX_PENALISED: usize = 10_000;
/// How often the engine is ticked and pending references are looked for.
const TICK: Duration = Duration::from_millis(250);
/// How often bootstrap peers that are not connected are redialled (and, below
/// [`TARGET_PEERS`], peers known from Kademlia).
const REDIAL: Duration = Duration::from_secs(2);
const KAD_REFRESH: Duration = Duration::from_secs(30);
/// Below this many peers, the node dials peers it knows from Kademlia (every [`REDIAL`]),
/// so that losing some links (a partition, a crash) does not leave it cut off from peers
/// it could still reach.
const TARGET_PEERS: usize = 8;
/// Most such dials per round.
const DIALS_PER_ROUND: usize = 4;
/// A peer whose connection dropped (it crashed, restarted, or the network failed) is
/// redialled after 0.5 s, then with doubling delays up to 30 s, at most this many times.
const REDIAL_LOST_ATTEMPTS: u32 = 10;
const REDIAL_LOST_FIRST: Duration = Duration::from_millis(500);
const REDIAL_LOST_MAX: Duration = Duration::from_secs(30);
/// Most lost peers remembered for redialling.
const MAX_LOST: usize = 256;
/// A peer that dialled us gets to run its sync session first; ours with it starts once
/// it has sent no sync request for this long (or after [`DEFER_AT_MOST`]). After its
/// session, ours usually finds equal roots at once, so a repair costs one walk, not two.
const DEFER_QUIET: Duration = Duration::from_millis(300);
const DEFER_AT_MOST: Duration = Duration::from_secs(5);
/// Slack over the 64 KiB entry limit for gossipsub's own framing of one message.
const GOSSIP_FRAME_SLACK: usize = 2 * 1024;

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
                .unwrap_or_else(|_| Multiaddr::empty())],
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

/// What one submitted entry became, or why it could not be stored.
pub type Submission = Result<Outcome, String>;

/// The node as the network sees it.
pub trait Host: Send + Sync + 'static {
    /// The registry: sync reads it (and refreshes the trie's lazy hashes under its lock).
    fn registry(&self) -> &RwLock<Registry>;
    /// Stores entries received from a peer (`from`, the pending pool's share they count
    /// against: see [`peer_source`]); resolves with one result per entry once it is
    /// durable, pending or rejected. With `wait`, waits for room in the writer's queue;
    /// without, a full queue is an error at once.
    fn submit(
        &self,
        from: Source,
        entries: Vec<SignedEntry>,
        wait: bool,
    ) -> BoxFuture<'static, Vec<Submission>>;
}

/// Counters of the network, for metrics.
#[derive(Debug, Default)]
pub struct NetCounters {
    pub gossip_accepted: AtomicU64,
    pub gossip_ignored: AtomicU64,
    pub gossip_rejected: AtomicU64,
    pub sync_completed: AtomicU64,
    pub sync_failed: AtomicU64,
    pub sync_entries: AtomicU64,
    /// Bytes of sync messages read and written (frames included).
    pub sync_bytes_in: AtomicU64,
    pub sync_bytes_out: AtomicU64,
    pub penalties: AtomicU64,
    /// Connected peers now, and the last completed sync in unix milliseconds (0: never):
    /// read by every trust answer, so kept where a read costs two atomic loads.
    pub peers: AtomicU64,
    pub last_sync_unix_ms: AtomicU64,
}

/// What the node shows about its network (`/v1/status`, freshness of answers).
#[derive(Debug, Clone)]
pub struct NetInfo {
    pub peer_id: PeerId,
    pub listen_addrs: Vec<Multiaddr>,
    pub peers: usize,
    pub last_sync_at: Option<SystemTime>,
}

/// A connected peer (`/v1/peers`).
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub peer_id: PeerId,
    pub addresses: Vec<Multiaddr>,
    pub score: f64,
    /// Whether the peer has told us it subscribes to the registry's gossip topic.
    pub subscribed: bool,
}

/// Why a command to the network task failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    #[error("the network task has stopped")]
    Stopped,
    #[error("cannot start the network: {0}")]
    Start(String),
}

enum Command {
    Publish(Vec<u8>),
    Deny(PeerId, oneshot::Sender<bool>),
    Allow(PeerId, oneshot::Sender<bool>),
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    Shutdown,
}

/// A cloneable handle to the network task.
#[derive(Debug, Clone)]
pub struct NetworkHandle {
    tx: mpsc::Sender<Command>,
    info: Arc<RwLock<NetInfo>>,
    counters: Arc<NetCounters>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Publish(_) => "Publish",
            Command::Deny(..) => "Deny",
            Command::Allow(..) => "Allow",
            Command::Peers(_) => "Peers",
            Command::Shutdown => "Shutdown",
        })
    }
}

impl NetworkHandle {
    /// Gossips a durable entry. Never waits: with the command queue full the entry is
    /// dropped here (sync delivers it).
    pub fn publish(&self, entry: &SignedEntry) {
        if self
            .tx
            .try_send(Command::Publish(codec::encode(entry)))
            .is_err()
        {
            debug!("network command queue full; the entry will spread by sync");
        }
    }

    /// Disconnects and refuses `peer`; true if it was not denied before.
    pub async fn deny(&self, peer: PeerId) -> Result<bool, NetworkError> {
        self.ask(|tx| Command::Deny(peer, tx)).await
    }

    /// Undoes [`NetworkHandle::deny`]; true if the peer was denied.
    pub async fn allow(&self, peer: PeerId) -> Result<bool, NetworkError> {
        self.ask(|tx| Command::Allow(peer, tx)).await
    }

    pub async fn peers(&self) -> Result<Vec<PeerInfo>, NetworkError> {
        self.ask(Command::Peers).await
    }

    /// The peer id and listen addresses (kept by the task), with the freshness figures
    /// read from the counters, where the task keeps them.
    pub fn info(&self) -> NetInfo {
        let mut info = match self.info.read() {
            Ok(i) => i.clone(),
            Err(p) => p.into_inner().clone(),
        };
        (info.last_sync_at, info.peers) = self.freshness();
        info
    }

    /// When this node last completed a sync, and how many peers it has: cheap enough for
    /// every query.
    pub fn freshness(&self) -> (Option<SystemTime>, usize) {
        let ms = self.counters.last_sync_unix_ms.load(Ordering::Relaxed);
        let last = (ms > 0).then(|| SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
        (last, self.counters.peers.load(Ordering::Relaxed) as usize)
    }

    pub fn counters(&self) -> &NetCounters {
        &self.counters
    }

    /// Stops the task (it closes every connection).
    pub async fn shutdown(&self) {
        let _ = self.tx.send(Command::Shutdown).await;
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NetworkError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
            .await
            .map_err(|_| NetworkError::Stopped)?;
        rx.await.map_err(|_| NetworkError::Stopped)
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    limits: connection_limits::Behaviour,
    deny: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    mdns: Toggle<mdns::tokio::Behaviour>,
    gossip: gossipsub::Behaviour,
    sync: request_response::Behaviour<SyncCodec>,
}

/// The gossip topic of a registry.
pub fn topic(registry: &RegistryId) -> gossipsub::IdentTopic {
    gossipsub::IdentTopic::new(format!("/trust-registry/{}/entries/1", registry.to_hex()))
}

/// The sync protocol of a registry.
pub fn sync_protocol(registry: &RegistryId) -> StreamProtocol {
    StreamProtocol::try_from_owned(format!("/trust-registry/{}/sync/2", registry.to_hex()))
        .unwrap_or(StreamProtocol::new("/trust-registry/sync/2"))
}

/// Message id = `blake3(domain "trust-registry/gossip-message/v1" || message bytes)`: it
/// covers the signatures, so a copy of an entry with more signatures is a new message
/// (one with none new is then ignored as a duplicate by validation), and any libp2p
/// implementation can compute it without decoding the entry.
fn message_id(message: &gossipsub::Message) -> gossipsub::MessageId {
    let id = codec::hash_with_domain(codec::domain::GOSSIP_MESSAGE, &message.data);
    gossipsub::MessageId::new(id.as_bytes())
}

/// Decodes a gossip payload into the entry it carries (at most 64 KiB, canonical, nothing
/// trailing): what the network task does with every gossiped message, for its message id
/// and before handing the entry to the host.
pub fn decode_gossip(data: &[u8]) -> Result<SignedEntry, codec::DecodeError> {
    codec::decode::<SignedEntry>(data, MAX_MESSAGE_BYTES)
}

fn build_gossip(
    key: &Keypair,
    registry: &RegistryId,
    whitelist: &[IpAddr],
) -> Result<gossipsub::Behaviour, String> {
    let _ = key;
    let config = gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .validate_messages()
        .message_id_fn(message_id)
        .max_transmit_size(MAX_MESSAGE_BYTES + GOSSIP_FRAME_SLACK)
        .duplicate_cache_time(Duration::from_secs(120))
        .build()
        .map_err(|e| e.to_string())?;
    let mut gossip = gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Anonymous, config)
        .map_err(str::to_owned)?;
    let mut params = gossipsub::PeerScoreParams {
        ip_colocation_factor_whitelist: whitelist.iter().copied().collect(),
        ..Default::default()
    };
    params.topics.insert(
        topic(registry).hash(),
        gossipsub::TopicScoreParams {
            topic_weight: 1.0,
            // A quiet registry sees few entries: penalising mesh peers for delivering
            // few messages (P3, P3b) would cut honest peers off. Invalid messages (P4)
            // cost dearly instead: honest nodes never forward one.
            mesh_message_deliveries_weight: 0.0,
            mesh_failure_penalty_weight: 0.0,
            invalid_message_deliveries_weight: -100.0,
            invalid_message_deliveries_decay: 0.9,
            ..Default::default()
        },
    );
    gossip.with_peer_score(params, gossipsub::PeerScoreThresholds::default())?;
    gossip
        .subscribe(&topic(registry))
        .map_err(|e| e.to_string())?;
    Ok(gossip)
}

/// Completions of work done off the task.
enum Done {
    Validated {
        message_id: gossipsub::MessageId,
        source: PeerId,
        result: Submission,
    },
    Ingested {
        peer: PeerId,
        batch: u64,
        results: Vec<Submission>,
    },
}

/// Starts the network task on the current tokio runtime.
pub fn spawn(
    config: NetworkConfig,
    keypair: Keypair,
    registry_id: RegistryId,
    host: Arc<dyn Host>,
) -> Result<(NetworkHandle, tokio::task::JoinHandle<()>), NetworkError> {
    let counters = Arc::new(NetCounters::default());
    let mut swarm = build_swarm(&config, keypair, &registry_id, counters.clone())
        .map_err(NetworkError::Start)?;
    for addr in &config.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| NetworkError::Start(format!("cannot listen on {addr}: {e}")))?;
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
    let (done_tx, done_rx) = mpsc::channel(1024);
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let task = Task {
        engine: Engine::new(config.sync.clone(), seed),
        denied: config.deny.iter().copied().collect(),
        config,
        swarm,
        host,
        info: info.clone(),
        counters: counters.clone(),
        topic: topic(&registry_id),
        commands: rx,
        done_tx,
        done_rx,
        outbound: HashMap::new(),
        validating: 0,
        penalties: HashMap::new(),
        addresses: HashMap::new(),
        last_redial: None,
        last_kad: None,
        deferred: HashMap::new(),
        lost: HashMap::new(),
        bootstrap_peers: HashMap::new(),
    };
    let handle = NetworkHandle { tx, info, counters };
    Ok((handle, tokio::spawn(task.run())))
}

fn build_swarm(
    config: &NetworkConfig,
    keypair: Keypair,
    registry_id: &RegistryId,
    counters: Arc<NetCounters>,
) -> Result<Swarm<Behaviour>, String> {
    let registry_id = *registry_id;
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_established(Some(config.max_connections))
        .with_max_established_per_peer(Some(config.max_connections_per_peer))
        .with_max_pending_incoming(Some(config.max_pending_incoming));
    let mdns_on = config.mdns;
    let whitelist = config.colocation_whitelist.clone();
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| e.to_string())?
        .with_behaviour(|key| {
            let peer_id = key.public().to_peer_id();
            let kad_protocol = StreamProtocol::try_from_owned(format!(
                "/trust-registry/{}/kad/1",
                registry_id.to_hex()
            ))
            .map_err(|e| e.to_string())?;
            let mut kad_config = kad::Config::new(kad_protocol);
            // The task refreshes the routing table itself, and only once it has a peer (a
            // lone node would otherwise warn about it every few minutes).
            kad_config.set_periodic_bootstrap_interval(None);
            let mut kad = kad::Behaviour::with_config(
                peer_id,
                kad::store::MemoryStore::new(peer_id),
                kad_config,
            );
            // Nodes on private or loopback addresses never learn an external address, so
            // Kademlia would stay a client; every node serves the routing table.
            kad.set_mode(Some(kad::Mode::Server));
            let mdns = if mdns_on {
                Some(
                    mdns::tokio::Behaviour::new(mdns::Config::default(), peer_id)
                        .map_err(|e| e.to_string())?,
                )
            } else {
                None
            };
            let sync = request_response::Behaviour::with_codec(
                SyncCodec::new(counters),
                [(
                    sync_protocol(&registry_id),
                    request_response::ProtocolSupport::Full,
                )],
                request_response::Config::default()
                    .with_request_timeout(Duration::from_secs(30))
                    .with_max_concurrent_streams(64),
            );
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Behaviour {
                limits: connection_limits::Behaviour::new(limits),
                deny: allow_block_list::Behaviour::default(),
                identify: identify::Behaviour::new(
                    identify::Config::new(
                        format!("/trust-registry/{}/1", registry_id.to_hex()),
                        key.public(),
                    )
                    .with_agent_version(format!("registry-node/{}", env!("CARGO_PKG_VERSION"))),
                ),
                ping: ping::Behaviour::default(),
                kad,
                mdns: Toggle::from(mdns),
                gossip: build_gossip(key, &registry_id, &whitelist)?,
                sync,
            })
        })
        .map_err(|e| e.to_string())?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build();
    Ok(swarm)
}

struct Task {
    config: NetworkConfig,
    swarm: Swarm<Behaviour>,
    host: Arc<dyn Host>,
    engine: Engine<PeerId>,
    info: Arc<RwLock<NetInfo>>,
    counters: Arc<NetCounters>,
    topic: gossipsub::IdentTopic,
    commands: mpsc::Receiver<Command>,
    done_tx: mpsc::Sender<Done>,
    done_rx: mpsc::Receiver<Done>,
    /// Sync requests in flight: libp2p's id → the engine's.
    outbound: HashMap<request_response::OutboundRequestId, (PeerId, u64)>,
    validating: usize,
    penalties: HashMap<PeerId, u32>,
    denied: HashSet<PeerId>,
    /// Remote addresses of connected peers.
    addresses: HashMap<PeerId, Vec<Multiaddr>>,
    last_redial: Option<Instant>,
    last_kad: Option<Instant>,
    /// Peers that dialled us, whose sync with us runs before ours with them: when they
    /// connected, and their last sync request.
    deferred: HashMap<PeerId, (Instant, Option<Instant>)>,
    /// Peers whose connection dropped: attempts so far and when to dial next.
    lost: HashMap<PeerId, (u32, Instant)>,
    /// The peer each bootstrap address led to, once a dial to it succeeded.
    bootstrap_peers: HashMap<Multiaddr, PeerId>,
}

impl Task {
    async fn run(mut self) {
        self.dial_bootstrap();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(c) => self.on_command(c),
                },
                Some(done) = self.done_rx.recv() => self.on_done(done),
                _ = tick.tick() => self.on_tick(),
            }
        }
        info!("network stopped");
    }

    fn registry(&self) -> RwLockWriteGuard<'_, Registry> {
        write_registry(self.host.as_ref())
    }

    /// Dials every bootstrap address whose peer is not connected now. The peer behind an
    /// address without `/p2p/<id>` is learnt when a dial to it succeeds; until then the
    /// address is dialled on every round, whatever other peers the node has (a bootstrap
    /// peer that started after this node is found once it is up).
    fn dial_bootstrap(&mut self) {
        for addr in self.config.bootstrap.clone() {
            let peer = peer_of(&addr).or_else(|| self.bootstrap_peers.get(&addr).copied());
            if let Some(peer) = peer {
                if self.swarm.is_connected(&peer) || self.denied.contains(&peer) {
                    continue;
                }
                self.swarm
                    .behaviour_mut()
                    .kad
                    .add_address(&peer, addr.clone());
            }
            if let Err(e) = self.swarm.dial(addr.clone()) {
                debug!(%addr, error = %e, "cannot dial bootstrap peer");
            }
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        let ready: Vec<PeerId> = self
            .deferred
            .iter()
            .filter(|(_, (since, last))| {
                let quiet_since = last.map_or(*since, |l| l.max(*since));
                now.duration_since(quiet_since) >= DEFER_QUIET
                    || now.duration_since(*since) >= DEFER_AT_MOST
            })
            .map(|(p, _)| *p)
            .collect();
        for peer in ready {
            self.deferred.remove(&peer);
            let actions = self.engine.peer_connected(peer, now);
            self.apply(actions);
        }
        self.redial_lost(now);
        let actions = {
            let mut registry = write_registry(self.host.as_ref());
            let mut actions = self.engine.tick(now, &mut *registry);
            if registry.pending_len() > 0 {
                let missing = registry.missing(MAX_IDS);
                if !missing.is_empty() {
                    actions.extend(self.engine.want(missing, None, now, &mut *registry));
                }
            }
            actions
        };
        self.apply(actions);
        let peers = self.swarm.connected_peers().count();
        if self
            .last_redial
            .is_none_or(|t| now.duration_since(t) >= REDIAL)
        {
            self.last_redial = Some(now);
            self.dial_bootstrap();
            if peers < TARGET_PEERS {
                self.dial_known_peers();
            }
        }
        if peers > 0
            && self
                .last_kad
                .is_none_or(|t| now.duration_since(t) >= KAD_REFRESH)
        {
            self.last_kad = Some(now);
            let _ = self.swarm.behaviour_mut().kad.bootstrap();
        }
    }

    /// Redials peers whose connection dropped, with backoff.
    fn redial_lost(&mut self, now: Instant) {
        let due: Vec<PeerId> = self
            .lost
            .iter()
            .filter(|(_, (_, next))| *next <= now)
            .map(|(p, _)| *p)
            .collect();
        for peer in due {
            let Some((attempts, _)) = self.lost.get(&peer).copied() else {
                continue;
            };
            if self.swarm.is_connected(&peer)
                || self.denied.contains(&peer)
                || attempts >= REDIAL_LOST_ATTEMPTS
            {
                self.lost.remove(&peer);
                continue;
            }
            let delay = REDIAL_LOST_FIRST
                .saturating_mul(1 << attempts.min(16))
                .min(REDIAL_LOST_MAX);
            self.lost.insert(peer, (attempts + 1, now + delay));
            let _ = self.swarm.dial(peer);
        }
    }

    /// Dials a few peers of the Kademlia routing table that are neither connected nor
    /// denied.
    fn dial_known_peers(&mut self) {
        let mut known: Vec<PeerId> = Vec::new();
        for bucket in self.swarm.behaviour_mut().kad.kbuckets() {
            for entry in bucket.iter() {
                known.push(*entry.node.key.preimage());
            }
        }
        let candidates: Vec<PeerId> = known
            .into_iter()
            .filter(|p| !self.swarm.is_connected(p) && !self.denied.contains(p))
            .filter(|p| self.penalties.get(p).copied().unwrap_or(0) < BAN_PENALTIES)
            .take(DIALS_PER_ROUND)
            .collect();
        for peer in candidates {
            let _ = self.swarm.dial(peer);
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish(bytes) => {
                let topic = self.topic.clone();
                if let Err(e) = self.swarm.behaviour_mut().gossip.publish(topic, bytes) {
                    debug!(error = %e, "entry not gossiped (it spreads by sync)");
                }
            }
            Command::Deny(peer, reply) => {
                self.denied.insert(peer);
                let fresh = self.swarm.behaviour_mut().deny.block_peer(peer);
                info!(%peer, "peer denied");
                let _ = reply.send(fresh);
            }
            Command::Allow(peer, reply) => {
                self.denied.remove(&peer);
                self.penalties.remove(&peer);
                let was = self.swarm.behaviour_mut().deny.unblock_peer(peer);
                if was {
                    info!(%peer, "peer allowed again");
                    let _ = self.swarm.dial(peer);
                }
                let _ = reply.send(was);
            }
            Command::Peers(reply) => {
                let gossip = &self.swarm.behaviour().gossip;
                let topic = self.topic.hash();
                let subscribed: HashSet<PeerId> = gossip
                    .all_peers()
                    .filter(|(_, topics)| topics.contains(&&topic))
                    .map(|(p, _)| *p)
                    .collect();
                let mut peers: Vec<PeerInfo> = self
                    .swarm
                    .connected_peers()
                    .map(|p| PeerInfo {
                        peer_id: *p,
                        addresses: self.addresses.get(p).cloned().unwrap_or_default(),
                        score: gossip.peer_score(p).unwrap_or(0.0),
                        subscribed: subscribed.contains(p),
                    })
                    .collect();
                peers.sort_by_key(|p| p.peer_id);
                let _ = reply.send(peers);
            }
            Command::Shutdown => {}
        }
    }

    fn on_done(&mut self, done: Done) {
        match done {
            Done::Validated {
                message_id,
                source,
                result,
            } => {
                self.validating = self.validating.saturating_sub(1);
                let acceptance = match result {
                    // A copy that brought signatures is forwarded like a new entry.
                    Ok(Outcome::Accepted | Outcome::Merged) => {
                        self.counters
                            .gossip_accepted
                            .fetch_add(1, Ordering::Relaxed);
                        gossipsub::MessageAcceptance::Accept
                    }
                    Ok(Outcome::Rejected(why)) => {
                        self.counters
                            .gossip_rejected
                            .fetch_add(1, Ordering::Relaxed);
                        self.penalise(source, &format!("gossiped an invalid entry: {why}"));
                        gossipsub::MessageAcceptance::Reject
                    }
                    Ok(Outcome::Pending { missing }) => {
                        self.counters.gossip_ignored.fetch_add(1, Ordering::Relaxed);
                        self.want(missing, Some(source));
                        gossipsub::MessageAcceptance::Ignore
                    }
                    Ok(Outcome::Duplicate) | Err(_) => {
                        self.counters.gossip_ignored.fetch_add(1, Ordering::Relaxed);
                        gossipsub::MessageAcceptance::Ignore
                    }
                };
                self.swarm
                    .behaviour_mut()
                    .gossip
                    .report_message_validation_result(&message_id, &source, acceptance);
            }
            Done::Ingested {
                peer,
                batch,
                results,
            } => {
                let mut missing = Vec::new();
                let mut invalid = None;
                for r in results {
                    match r {
                        Ok(Outcome::Pending { missing: m }) => missing.extend(m),
                        Ok(Outcome::Rejected(why)) => invalid = Some(why),
                        _ => {}
                    }
                }
                if let Some(why) = invalid {
                    self.penalise(peer, &format!("sent an invalid entry by sync: {why}"));
                }
                let now = Instant::now();
                let actions = {
                    let mut registry = write_registry(self.host.as_ref());
                    let mut actions = self.engine.on_ingested(peer, batch, now, &mut *registry);
                    if !missing.is_empty() {
                        actions.extend(self.engine.want(missing, Some(peer), now, &mut *registry));
                    }
                    actions
                };
                self.apply(actions);
            }
        }
    }

    fn want(&mut self, ids: Vec<EntryId>, from: Option<PeerId>) {
        if ids.is_empty() {
            return;
        }
        let now = Instant::now();
        let actions = {
            let mut registry = write_registry(self.host.as_ref());
            self.engine.want(ids, from, now, &mut *registry)
        };
        self.apply(actions);
    }

    /// Carries out what the sync engine asked for.
    fn apply(&mut self, actions: Vec<Action<PeerId>>) {
        for action in actions {
            match action {
                Action::Send { peer, id, request } => {
                    let rid = self.swarm.behaviour_mut().sync.send_request(&peer, request);
                    self.outbound.insert(rid, (peer, id));
                }
                Action::Ingest {
                    peer,
                    batch,
                    entries,
                } => {
                    self.counters
                        .sync_entries
                        .fetch_add(entries.len() as u64, Ordering::Relaxed);
                    let submitted = self.host.submit(peer_source(&peer), entries, true);
                    let done = self.done_tx.clone();
                    tokio::spawn(async move {
                        let results = submitted.await;
                        let _ = done
                            .send(Done::Ingested {
                                peer,
                                batch,
                                results,
                            })
                            .await;
                    });
                }
                Action::Finished { peer, report } => {
                    if report.completed {
                        self.counters.sync_completed.fetch_add(1, Ordering::Relaxed);
                        let ms = SystemTime::now()
                            .duration_since(SystemTime::UNIX_EPOCH)
                            .map(|d| d.as_millis() as u64)
                            .unwrap_or(1);
                        self.counters.last_sync_unix_ms.store(ms, Ordering::Relaxed);
                        if report.fetched > 0 {
                            info!(%peer, fetched = report.fetched, requests = report.requests,
                                "sync completed");
                        } else {
                            debug!(%peer, requests = report.requests, "sync completed");
                        }
                    } else {
                        self.counters.sync_failed.fetch_add(1, Ordering::Relaxed);
                        debug!(%peer, error = ?report.error, "sync failed");
                    }
                }
                Action::Penalise { peer, reason } => self.penalise(peer, &reason),
            }
        }
    }

    fn penalise(&mut self, peer: PeerId, reason: &str) {
        self.counters.penalties.fetch_add(1, Ordering::Relaxed);
        if self.penalties.len() >= MAX_PENALISED && !self.penalties.contains_key(&peer) {
            self.penalties.clear();
        }
        let count = self.penalties.entry(peer).or_insert(0);
        *count += 1;
        let count = *count;
        warn!(%peer, penalties = count, reason, "peer penalised");
        self.swarm
            .behaviour_mut()
            .gossip
            .set_application_score(&peer, PENALTY_SCORE * f64::from(count));
        if count >= BAN_PENALTIES {
            warn!(%peer, "disconnecting a peer that broke the rules {count} times");
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    fn set_info(&self, f: impl FnOnce(&mut NetInfo)) {
        match self.info.write() {
            Ok(mut i) => f(&mut i),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { address, .. } => {
                info!(%address, "listening for peers");
                self.set_info(|i| i.listen_addrs.push(address));
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.set_info(|i| i.listen_addrs.retain(|a| *a != address));
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } => {
                if self.penalties.get(&peer_id).copied().unwrap_or(0) >= BAN_PENALTIES {
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                }
                self.lost.remove(&peer_id);
                let addr = endpoint.get_remote_address().clone();
                if endpoint.is_dialer() {
                    let bare: Multiaddr = addr
                        .iter()
                        .filter(|p| !matches!(p, Protocol::P2p(_)))
                        .collect();
                    if self.config.bootstrap.contains(&bare) {
                        self.bootstrap_peers.insert(bare, peer_id);
                    }
                }
                let known = self.addresses.entry(peer_id).or_default();
                if !known.contains(&addr) {
                    known.push(addr);
                }
                if num_established.get() == 1 {
                    debug!(peer = %peer_id, "peer connected");
                    let peers = self.swarm.connected_peers().count();
                    self.counters.peers.store(peers as u64, Ordering::Relaxed);
                    if endpoint.is_dialer() {
                        let actions = self.engine.peer_connected(peer_id, Instant::now());
                        self.apply(actions);
                    } else {
                        self.deferred.insert(peer_id, (Instant::now(), None));
                    }
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                endpoint,
                ..
            } => {
                if let Some(known) = self.addresses.get_mut(&peer_id) {
                    known.retain(|a| a != endpoint.get_remote_address());
                }
                if num_established == 0 {
                    debug!(peer = %peer_id, "peer disconnected");
                    self.addresses.remove(&peer_id);
                    self.deferred.remove(&peer_id);
                    let banned =
                        self.penalties.get(&peer_id).copied().unwrap_or(0) >= BAN_PENALTIES;
                    if !banned && !self.denied.contains(&peer_id) && self.lost.len() < MAX_LOST {
                        self.lost
                            .insert(peer_id, (0, Instant::now() + REDIAL_LOST_FIRST));
                    }
                    let peers = self.swarm.connected_peers().count();
                    self.counters.peers.store(peers as u64, Ordering::Relaxed);
                    let actions = self.engine.peer_disconnected(peer_id, Instant::now());
                    self.apply(actions);
                }
            }
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            _ => {}
        }
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Gossip(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            }) => self.on_gossip(propagation_source, message_id, message),
            BehaviourEvent::Sync(event) => self.on_sync_event(event),
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                for addr in info.listen_addrs {
                    self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                }
            }
            BehaviourEvent::Kad(kad::Event::RoutingUpdated { peer, .. }) => {
                let below_limit =
                    (self.swarm.connected_peers().count() as u32) < self.config.max_connections / 2;
                if below_limit && !self.swarm.is_connected(&peer) && !self.denied.contains(&peer) {
                    let _ = self.swarm.dial(peer);
                }
            }
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                for (peer, addr) in found {
                    if self.denied.contains(&peer) {
                        continue;
                    }
                    self.swarm.behaviour_mut().kad.add_address(&peer, addr);
                    if !self.swarm.is_connected(&peer) {
                        let _ = self.swarm.dial(peer);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_gossip(
        &mut self,
        source: PeerId,
        message_id: gossipsub::MessageId,
        message: gossipsub::Message,
    ) {
        let reject = |task: &mut Task, why: String| {
            task.counters
                .gossip_rejected
                .fetch_add(1, Ordering::Relaxed);
            task.penalise(source, &why);
            task.swarm
                .behaviour_mut()
                .gossip
                .report_message_validation_result(
                    &message_id,
                    &source,
                    gossipsub::MessageAcceptance::Reject,
                );
        };
        let entry = match decode_gossip(&message.data) {
            Ok(e) => e,
            Err(e) => return reject(self, format!("gossiped bytes that are not an entry: {e}")),
        };
        if self.validating >= self.config.max_validations {
            self.counters.gossip_ignored.fetch_add(1, Ordering::Relaxed);
            self.swarm
                .behaviour_mut()
                .gossip
                .report_message_validation_result(
                    &message_id,
                    &source,
                    gossipsub::MessageAcceptance::Ignore,
                );
            return;
        }
        self.validating += 1;
        // Counted against the peer that forwarded it: gossip is anonymous, and the
        // forwarder is the one that chose to send it.
        let submitted = self.host.submit(peer_source(&source), vec![entry], false);
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            let result = submitted
                .await
                .into_iter()
                .next()
                .unwrap_or_else(|| Err("no outcome".into()));
            let _ = done
                .send(Done::Validated {
                    message_id,
                    source,
                    result,
                })
                .await;
        });
    }

    fn on_sync_event(&mut self, event: request_response::Event<SyncRequest, SyncResponse>) {
        let now = Instant::now();
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    if let Some((_, last)) = self.deferred.get_mut(&peer) {
                        *last = Some(now);
                    }
                    let response = answer(&request, &mut *self.registry());
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .sync
                        .send_response(channel, response);
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    let Some((peer_id, id)) = self.outbound.remove(&request_id) else {
                        return;
                    };
                    debug_assert_eq!(peer_id, peer);
                    let actions = {
                        let mut registry = write_registry(self.host.as_ref());
                        self.engine
                            .on_response(peer, id, response, now, &mut *registry)
                    };
                    self.apply(actions);
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some((_, id)) = self.outbound.remove(&request_id) {
                    debug!(%peer, %error, "sync request failed");
                    if let request_response::OutboundFailure::Io(e) = &error {
                        if broke_protocol(e) {
                            self.penalise(peer, &format!("sent a sync reply that is not one: {e}"));
                        }
                    }
                    let actions = self.engine.on_failure(peer, id, now);
                    self.apply(actions);
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "could not answer a sync request");
                if let request_response::InboundFailure::Io(e) = &error {
                    if broke_protocol(e) {
                        self.penalise(peer, &format!("sent a sync request that is not one: {e}"));
                    }
                }
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }
}

/// The registry's write lock (the trie rehashes lazily, so even reads of sync need it),
/// whatever a panicking thread left behind: the registry's own invariants hold between
/// calls. Taken as a free function so the task can hold it beside `&mut self.engine`.
fn write_registry(host: &dyn Host) -> RwLockWriteGuard<'_, Registry> {
    match host.registry().write() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// The pending pool's source for entries a peer sent (gossip or sync).
pub fn peer_source(peer: &PeerId) -> Source {
    Source::peer(&peer.to_bytes())
}

/// The peer id at the end of an address (`.../p2p/12D3...`), if any.
pub fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        Protocol::P2p(peer) => Some(peer),
        _ => None,
    })
}

/// The libp2p identity of a node from its ed25519 node key.
pub fn keypair_from_seed(seed: [u8; 32]) -> Result<Keypair, NetworkError> {
    let mut seed = seed;
    Keypair::ed25519_from_bytes(&mut seed).map_err(|e| NetworkError::Start(e.to_string()))
}
