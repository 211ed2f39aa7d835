//! `registry-attacker`: a hostile libp2p peer that the `byzantine` scenario turns on a
//! testnet. It speaks the registry's transport (TCP + noise + yamux, identify, gossipsub on
//! the registry's topic, request-response on its sync protocol) but sends what an honest
//! node never would: random bytes, entries with broken signatures, entries of another
//! registry, entries no root signed, gossip over the size limit, sync frames that lie
//! about their length or never end, and floods of connections from fresh identities.
//!
//! Once a node has cut it off, it comes back under a fresh identity (a new key, so a new
//! peer id), as a real attacker would. At the end it prints one JSON line: what it sent,
//! the connections it tried, and how often it was disconnected.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{dummy, NetworkBehaviour, SwarmEvent};
use libp2p::{
    gossipsub, identify, noise, request_response, tcp, yamux, Multiaddr, PeerId, StreamProtocol,
    Swarm,
};
use p2p::network::{sync_protocol, topic};
use p2p::protocol::{SyncRequest, SyncResponse, MAX_IDS, MAX_RESPONSE_BYTES};
use registry_core::rng::SplitMix64;
use registry_core::testkit::{Draft, Fixture};
use registry_core::trie::Prefix;
use registry_core::{codec, EntityId, Genesis, Hash, RegistryId, SecretKey};
use serde_json::json;

/// What the attacker can do (`--attack`, repeatable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ValueEnum)]
enum Attack {
    /// Random bytes (and valid entries with random bytes overwritten) as gossip.
    GarbageGossip,
    /// Entries whose signature (or signed body) has a flipped byte.
    BadSignature,
    /// Well-formed entries no root signed, or by a holder whose accreditation does not
    /// exist (they wait in the pending pool; nodes ask the attacker for the reference).
    Unauthorized,
    /// Entries signed for another registry.
    WrongRegistry,
    /// Gossip messages of 70 KiB to 300 KiB.
    Oversized,
    /// Garbage sync requests, and garbage, endless or stalled answers to sync requests.
    SyncGarbage,
    /// Hundreds of connections from fresh identities, and silent TCP connections.
    ConnectionFlood,
    /// Every attack above.
    All,
}

impl Attack {
    const EVERY: [Attack; 7] = [
        Attack::GarbageGossip,
        Attack::BadSignature,
        Attack::Unauthorized,
        Attack::WrongRegistry,
        Attack::Oversized,
        Attack::SyncGarbage,
        Attack::ConnectionFlood,
    ];

    fn name(self) -> &'static str {
        match self {
            Attack::GarbageGossip => "garbage-gossip",
            Attack::BadSignature => "bad-signature",
            Attack::Unauthorized => "unauthorized",
            Attack::WrongRegistry => "wrong-registry",
            Attack::Oversized => "oversized",
            Attack::SyncGarbage => "sync-garbage",
            Attack::ConnectionFlood => "connection-flood",
            Attack::All => "all",
        }
    }

    fn is_gossip(self) -> bool {
        matches!(
            self,
            Attack::GarbageGossip
                | Attack::BadSignature
                | Attack::Unauthorized
                | Attack::WrongRegistry
                | Attack::Oversized
        )
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "registry-attacker",
    version,
    about = "A hostile peer for testing registry nodes"
)]
struct Args {
    /// The registry's genesis file (entries are forged for it).
    #[arg(long, value_name = "FILE")]
    genesis: PathBuf,
    /// The registry id, hex; checked against the genesis when given.
    #[arg(long, value_name = "HEX")]
    registry_id: Option<String>,
    /// A node to attack (`/ip4/127.0.0.1/tcp/PORT`); repeatable.
    #[arg(long = "target", value_name = "MULTIADDR", required = true)]
    targets: Vec<Multiaddr>,
    /// What to do; repeatable.
    #[arg(long = "attack", value_enum, default_value = "all")]
    attacks: Vec<Attack>,
    /// Seconds to attack for.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seed of the forged entries and the choice of garbage.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Gossip messages per second (over every target).
    #[arg(long, default_value_t = 100)]
    rate: u64,
}

/// Largest message the attacker's own gossipsub lets it send.
const ATTACKER_MAX_TRANSMIT: usize = 1 << 20;
/// An identity is dropped for a fresh one after this long, or once every node has cut it.
/// Longer than a node's wait before it syncs with a peer that dialled it, so the nodes
/// also sync with the attacker (and meet its answers).
const SESSION: Duration = Duration::from_secs(8);
/// The attacker sends sync requests only this early in a session: a node syncs with a
/// peer that dialled it once that peer has been quiet for a moment.
const SYNC_PHASE: Duration = Duration::from_millis(1500);
/// The first gossip messages of a session are entries that wait for a missing reference
/// (ignored, not penalised): the nodes ask the attacker for it by sync. Once a node has
/// seen one invalid message from a peer, gossipsub ignores that peer.
const PENDING_FIRST: u64 = 4;
/// Invalid gossip messages a session sends before it answers the nodes' sync requests
/// with lies: one lying answer puts the attacker under gossipsub's graylist threshold at
/// once, and the nodes then ignore its gossip unseen, so the gossip attacks go first (or
/// no node would ever get to reject them). Until then it refuses sync honestly.
const GOSSIP_BEFORE_SYNC_LIES: u64 = PENDING_FIRST + 8;
/// A session with no connection after this long gives up (the nodes refuse it).
const SESSION_UNCONNECTED: Duration = Duration::from_secs(3);
/// Sync requests are sent on one gossip tick in this many.
const SYNC_EVERY: usize = 5;
/// Bytes an endless answer writes at most before it gives up.
const ENDLESS_CAP: usize = 16 << 20;
/// Connection flood: identities started per round, how long each holds its connections,
/// and silent TCP connections per target per round.
const FLOOD_BATCH: usize = 16;
const FLOOD_HOLD: Duration = Duration::from_secs(3);
const FLOOD_ROUND: Duration = Duration::from_millis(500);
const FLOOD_SILENT: usize = 4;

/// The seeded generator, with the attacker's own draws: a seed reproduces the garbage.
#[derive(Debug, Clone)]
struct Rng(SplitMix64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0.below(n)
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.0.next_u64() as u8).collect()
    }

    fn hash(&mut self) -> Hash {
        let mut h = [0u8; 32];
        for b in &mut h {
            *b = self.0.next_u64() as u8;
        }
        Hash(h)
    }
}

fn now_secs() -> u64 {
    registry_core::Timestamp::from_system_time(std::time::SystemTime::now()).as_secs()
}

/// What the attacker writes on a sync stream: bytes as they are (framing included, or
/// not), a length prefix of 4 GiB followed by bytes until the reader gives up, or a
/// plausible prefix followed by silence.
#[derive(Debug, Clone)]
enum Wire {
    Bytes(Vec<u8>),
    Endless,
    Stall { prefix: u32, secs: u64 },
}

fn framed(bytes: &[u8]) -> Wire {
    let mut out = (bytes.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    Wire::Bytes(out)
}

async fn write_wire<T: AsyncWrite + Unpin + Send>(io: &mut T, wire: Wire) -> io::Result<()> {
    match wire {
        Wire::Bytes(b) => io.write_all(&b).await?,
        Wire::Endless => {
            io.write_all(&u32::MAX.to_be_bytes()).await?;
            let chunk = vec![0xa5u8; 64 * 1024];
            let mut sent = 0;
            while sent < ENDLESS_CAP {
                io.write_all(&chunk).await?;
                sent += chunk.len();
            }
        }
        Wire::Stall { prefix, secs } => {
            io.write_all(&prefix.to_be_bytes()).await?;
            io.write_all(&[0u8; 16]).await?;
            io.flush().await?;
            tokio::time::sleep(Duration::from_secs(secs)).await;
        }
    }
    io.close().await
}

async fn read_all<T: AsyncRead + Unpin + Send>(io: &mut T, limit: u64) -> io::Result<Wire> {
    let mut buf = Vec::new();
    (&mut *io).take(limit).read_to_end(&mut buf).await?;
    Ok(Wire::Bytes(buf))
}

/// A codec that moves raw bytes, so the attacker can send and answer anything.
#[derive(Debug, Clone, Default)]
struct RawCodec;

impl request_response::Codec for RawCodec {
    type Protocol = StreamProtocol;
    type Request = Wire;
    type Response = Wire;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Wire>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_all(io, 1 << 20).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Wire>
    where
        T: AsyncRead + Unpin + Send,
    {
        read_all(io, 2 * MAX_RESPONSE_BYTES as u64).await
    }

    async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, w: Wire) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_wire(io, w).await
    }

    async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, w: Wire) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_wire(io, w).await
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    gossip: gossipsub::Behaviour,
    sync: request_response::Behaviour<RawCodec>,
}

fn build_swarm(registry: &RegistryId) -> anyhow::Result<Swarm<Behaviour>> {
    let registry = *registry;
    let swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_behaviour(|key| {
            let config = gossipsub::ConfigBuilder::default()
                .validation_mode(gossipsub::ValidationMode::Anonymous)
                .message_id_fn(|m: &gossipsub::Message| {
                    let h = codec::hash_with_domain("registry-attacker/message/v1", &m.data);
                    gossipsub::MessageId::new(h.as_bytes())
                })
                .max_transmit_size(ATTACKER_MAX_TRANSMIT)
                .build()?;
            let mut gossip =
                gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Anonymous, config)?;
            gossip.subscribe(&topic(&registry))?;
            let sync = request_response::Behaviour::with_codec(
                RawCodec,
                [(
                    sync_protocol(&registry),
                    request_response::ProtocolSupport::Full,
                )],
                request_response::Config::default()
                    .with_request_timeout(Duration::from_secs(15))
                    .with_max_concurrent_streams(256),
            );
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Behaviour {
                identify: identify::Behaviour::new(identify::Config::new(
                    format!("/trust-registry/{}/1", registry.to_hex()),
                    key.public(),
                )),
                gossip,
                sync,
            })
        })?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(30)))
        .build();
    Ok(swarm)
}

/// Forges the attacker's entries and garbage.
struct Forge {
    fx: Fixture,
    other: Fixture,
    key: SecretKey,
    rng: Rng,
    n: u64,
}

impl Forge {
    fn draft(&mut self, fx: &Fixture) -> Draft {
        self.n += 1;
        let subject = EntityId::parse(&format!("did:web:attacker-{}.example", self.n))
            .unwrap_or_else(|e| panic!("a fixed DID pattern is valid: {e}"));
        fx.accredit(&subject)
            .grant("issue", "UniversityDegree")
            .controller(self.key.did())
            .issued_at(now_secs())
            .nonce(self.rng.next_u64())
    }

    fn message(&mut self, attack: Attack) -> Vec<u8> {
        let fx = self.fx.clone();
        match attack {
            Attack::GarbageGossip => {
                if self.rng.below(2) == 0 {
                    let len = 1 + self.rng.below(4096);
                    self.rng.bytes(len)
                } else {
                    let mut bytes = codec::encode(&self.draft(&fx).by_roots(&[&self.key]));
                    for _ in 0..4 {
                        let at = self.rng.below(bytes.len());
                        bytes[at] = self.rng.next_u64() as u8;
                    }
                    bytes
                }
            }
            Attack::BadSignature => {
                let mut entry = self.draft(&fx).by_roots(&[&self.key]);
                if self.rng.below(2) == 0 {
                    if let Some(s) = entry.signatures.first_mut() {
                        let at = self.rng.below(64);
                        s.sig[at] ^= 0x01;
                    }
                } else {
                    // The body changes after signing: the signature no longer covers it.
                    entry.body.nonce ^= 1;
                }
                codec::encode(&entry)
            }
            Attack::Unauthorized => {
                let entry = if self.rng.below(2) == 0 {
                    self.draft(&fx).by_roots(&[&self.key])
                } else {
                    let missing = self.rng.hash();
                    self.draft(&fx).by_holder(missing, &[&self.key])
                };
                codec::encode(&entry)
            }
            Attack::WrongRegistry => {
                let other = self.other.clone();
                codec::encode(&self.draft(&other).by_roots(&[&self.key]))
            }
            Attack::Oversized => {
                let len = 70 * 1024 + self.rng.below(230 * 1024);
                self.rng.bytes(len)
            }
            Attack::SyncGarbage | Attack::ConnectionFlood | Attack::All => Vec::new(),
        }
    }

    /// A sync request no honest node sends (or a valid one that makes the node work).
    fn sync_request(&mut self, k: u64) -> Wire {
        match k % 6 {
            0 => {
                let len = 1 + self.rng.below(512);
                Wire::Bytes(self.rng.bytes(len))
            }
            1 => {
                let mut b = u32::MAX.to_be_bytes().to_vec();
                b.extend(self.rng.bytes(64));
                Wire::Bytes(b)
            }
            2 => {
                let len = 1 + self.rng.below(1024);
                framed(&self.rng.bytes(len))
            }
            3 => Wire::Stall {
                prefix: 64 * 1024,
                secs: 8,
            },
            4 => framed(
                &SyncRequest::Subtree {
                    prefix: Prefix::root(),
                }
                .encode(),
            ),
            _ => {
                let ids = (0..MAX_IDS).map(|_| self.rng.hash()).collect();
                framed(&SyncRequest::Entries { ids }.encode())
            }
        }
    }

    /// An answer to an honest node's sync request that does not answer it.
    fn sync_answer(&mut self, k: u64) -> Wire {
        match k % 6 {
            0 => {
                let len = 1 + self.rng.below(512);
                Wire::Bytes(self.rng.bytes(len))
            }
            1 => {
                let len = 1 + self.rng.below(4096);
                framed(&self.rng.bytes(len))
            }
            2 => Wire::Endless,
            3 => Wire::Stall {
                prefix: MAX_RESPONSE_BYTES as u32,
                secs: 10,
            },
            4 => framed(&SyncResponse::TooLarge { count: u64::MAX }.encode()),
            _ => framed(
                &SyncResponse::Root {
                    root: self.rng.hash(),
                    entries: u64::MAX,
                }
                .encode(),
            ),
        }
    }
}

/// What the attacker did, printed at the end.
#[derive(Debug, Default)]
struct Tally {
    gossip_sent: BTreeMap<&'static str, u64>,
    gossip_unsent: u64,
    sync_requests_sent: u64,
    sync_requests_answered: u64,
    sync_requests_failed: u64,
    sync_requests_received: u64,
    identities: u64,
    connections_attempted: u64,
    connections_established: u64,
    disconnected: u64,
    dial_failures: u64,
}

#[derive(Debug, Default)]
struct FloodCounters {
    identities: AtomicU64,
    attempted: AtomicU64,
    established: AtomicU64,
    failed: AtomicU64,
    silent_opened: AtomicU64,
}

struct Attacker {
    registry: RegistryId,
    targets: Vec<Multiaddr>,
    gossip: Vec<Attack>,
    sync: bool,
    period: Duration,
    forge: Forge,
    tally: Tally,
    k: u64,
    /// Gossip messages sent by the current identity.
    session_sent: u64,
}

impl Attacker {
    /// One identity: dial every target and attack until the nodes cut it off, the session
    /// ends or the deadline passes.
    async fn session(&mut self, deadline: Instant) -> anyhow::Result<()> {
        let mut swarm = build_swarm(&self.registry)?;
        self.tally.identities += 1;
        self.session_sent = 0;
        for t in &self.targets {
            self.tally.connections_attempted += 1;
            if swarm.dial(t.clone()).is_err() {
                self.tally.dial_failures += 1;
            }
        }
        let started = Instant::now();
        let mut connected: HashSet<PeerId> = HashSet::new();
        let mut ever = false;
        let mut tick = tokio::time::interval(self.period);
        loop {
            tokio::select! {
                event = swarm.select_next_some() => {
                    self.on_event(&mut swarm, event, &mut connected, &mut ever);
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    let age = now.duration_since(started);
                    if now >= deadline
                        || (ever && connected.is_empty())
                        || (!ever && age >= SESSION_UNCONNECTED)
                        || age >= SESSION
                    {
                        return Ok(());
                    }
                    self.attack_once(&mut swarm, &connected, age);
                }
            }
        }
    }

    fn attack_once(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        connected: &HashSet<PeerId>,
        age: Duration,
    ) {
        self.k += 1;
        let pick =
            if self.session_sent < PENDING_FIRST && self.gossip.contains(&Attack::Unauthorized) {
                Some(Attack::Unauthorized)
            } else {
                self.gossip
                    .get(self.k as usize % self.gossip.len().max(1))
                    .copied()
            };
        // An oversized message makes a node drop the gossip stream it came on, and what
        // follows on it unseen; early in a session, send what the nodes must validate.
        let pick = match pick {
            Some(Attack::Oversized) if self.session_sent < GOSSIP_BEFORE_SYNC_LIES => self
                .gossip
                .iter()
                .copied()
                .find(|a| !matches!(a, Attack::Oversized | Attack::Unauthorized))
                .or(pick),
            other => other,
        };
        if let Some(attack) = pick {
            let data = self.forge.message(attack);
            match swarm
                .behaviour_mut()
                .gossip
                .publish(topic(&self.registry), data)
            {
                Ok(_) => {
                    self.session_sent += 1;
                    *self.tally.gossip_sent.entry(attack.name()).or_insert(0) += 1;
                }
                Err(_) => self.tally.gossip_unsent += 1,
            }
        }
        if self.sync && age < SYNC_PHASE && (self.k as usize).is_multiple_of(SYNC_EVERY) {
            for peer in connected {
                let request = self.forge.sync_request(self.k / SYNC_EVERY as u64);
                swarm.behaviour_mut().sync.send_request(peer, request);
                self.tally.sync_requests_sent += 1;
            }
        }
    }

    fn on_event(
        &mut self,
        swarm: &mut Swarm<Behaviour>,
        event: SwarmEvent<BehaviourEvent>,
        connected: &mut HashSet<PeerId>,
        ever: &mut bool,
    ) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                num_established,
                ..
            } if num_established.get() == 1 => {
                connected.insert(peer_id);
                *ever = true;
                self.tally.connections_established += 1;
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                connected.remove(&peer_id);
                self.tally.disconnected += 1;
            }
            SwarmEvent::OutgoingConnectionError { .. } => self.tally.dial_failures += 1,
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => match event {
                request_response::Event::Message {
                    message: request_response::Message::Request { channel, .. },
                    ..
                } => {
                    self.tally.sync_requests_received += 1;
                    let gossip_first =
                        !self.gossip.is_empty() && self.session_sent < GOSSIP_BEFORE_SYNC_LIES;
                    let answer = if self.sync && gossip_first {
                        framed(
                            &SyncResponse::Refused {
                                reason: "busy".into(),
                            }
                            .encode(),
                        )
                    } else if self.sync {
                        self.k += 1;
                        self.forge.sync_answer(self.k)
                    } else {
                        framed(&SyncResponse::TooLarge { count: u64::MAX }.encode())
                    };
                    let _ = swarm.behaviour_mut().sync.send_response(channel, answer);
                }
                request_response::Event::Message {
                    message: request_response::Message::Response { .. },
                    ..
                } => self.tally.sync_requests_answered += 1,
                request_response::Event::OutboundFailure { .. } => {
                    self.tally.sync_requests_failed += 1;
                }
                _ => {}
            },
            _ => {}
        }
    }
}

fn socket_addr(addr: &Multiaddr) -> Option<SocketAddr> {
    let mut ip = None;
    let mut port = None;
    for p in addr.iter() {
        match p {
            Protocol::Ip4(a) => ip = Some(std::net::IpAddr::V4(a)),
            Protocol::Ip6(a) => ip = Some(std::net::IpAddr::V6(a)),
            Protocol::Tcp(p) => port = Some(p),
            _ => {}
        }
    }
    Some(SocketAddr::new(ip?, port?))
}

/// One flood identity: dials every target, holds what it gets for a while, then leaves.
async fn flood_one(targets: Vec<Multiaddr>, c: Arc<FloodCounters>) {
    let built = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map(|b| b.with_behaviour(|_| dummy::Behaviour));
    let Ok(Ok(builder)) = built else {
        return;
    };
    let mut swarm = builder
        .with_swarm_config(|s| s.with_idle_connection_timeout(FLOOD_HOLD))
        .build();
    c.identities.fetch_add(1, Ordering::Relaxed);
    for t in targets {
        c.attempted.fetch_add(1, Ordering::Relaxed);
        if swarm.dial(t).is_err() {
            c.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
    let hold = tokio::time::sleep(FLOOD_HOLD);
    tokio::pin!(hold);
    loop {
        tokio::select! {
            event = swarm.select_next_some() => match event {
                SwarmEvent::ConnectionEstablished { .. } => {
                    c.established.fetch_add(1, Ordering::Relaxed);
                }
                SwarmEvent::OutgoingConnectionError { .. } => {
                    c.failed.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            },
            _ = &mut hold => break,
        }
    }
}

/// Opens connections from fresh identities, and TCP connections that never say a word,
/// until the deadline.
async fn flood(targets: Vec<Multiaddr>, deadline: Instant, c: Arc<FloodCounters>) {
    let sockets: Vec<SocketAddr> = targets.iter().filter_map(socket_addr).collect();
    let mut tasks = Vec::new();
    while Instant::now() < deadline {
        for _ in 0..FLOOD_BATCH {
            tasks.push(tokio::spawn(flood_one(targets.clone(), c.clone())));
        }
        for addr in &sockets {
            for _ in 0..FLOOD_SILENT {
                let c = c.clone();
                let addr = *addr;
                tasks.push(tokio::spawn(async move {
                    if let Ok(Ok(stream)) = tokio::time::timeout(
                        Duration::from_secs(1),
                        tokio::net::TcpStream::connect(addr),
                    )
                    .await
                    {
                        c.silent_opened.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(FLOOD_HOLD).await;
                        drop(stream);
                    }
                }));
            }
        }
        tasks.retain(|t| !t.is_finished());
        tokio::time::sleep(FLOOD_ROUND).await;
    }
    for t in tasks {
        let _ = t.await;
    }
}

async fn attack(args: Args) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(&args.genesis)
        .with_context(|| format!("cannot read {}", args.genesis.display()))?;
    let genesis = Genesis::from_json(&text)
        .with_context(|| format!("{} is not a genesis file", args.genesis.display()))?;
    let registry = genesis.registry_id();
    if let Some(hex) = &args.registry_id {
        let given = Hash::from_hex(hex).context("--registry-id is not a hex hash")?;
        if given != registry {
            bail!("--registry-id {hex} is not the id of the genesis ({registry})");
        }
    }
    let mut attacks: Vec<Attack> = args.attacks.clone();
    if attacks.contains(&Attack::All) {
        attacks = Attack::EVERY.to_vec();
    }
    attacks.sort();
    attacks.dedup();
    let seed_key = codec::hash_with_domain("registry-attacker/key/v1", &args.seed.to_le_bytes());
    let fx = Fixture {
        genesis: genesis.clone(),
        roots: Vec::new(),
        registry_id: registry,
    };
    let other = Fixture {
        registry_id: codec::hash_with_domain(
            "registry-attacker/other-registry/v1",
            registry.as_bytes(),
        ),
        ..fx.clone()
    };
    let mut attacker = Attacker {
        registry,
        targets: args.targets.clone(),
        gossip: attacks.iter().copied().filter(|a| a.is_gossip()).collect(),
        sync: attacks.contains(&Attack::SyncGarbage),
        period: Duration::from_micros(1_000_000 / args.rate.max(1)),
        forge: Forge {
            fx,
            other,
            key: SecretKey::from_seed(seed_key.0),
            rng: Rng(SplitMix64::new(args.seed)),
            n: 0,
        },
        tally: Tally::default(),
        k: 0,
        session_sent: 0,
    };
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let counters = Arc::new(FloodCounters::default());
    let flooding = attacks
        .contains(&Attack::ConnectionFlood)
        .then(|| tokio::spawn(flood(args.targets.clone(), deadline, counters.clone())));
    if !attacker.gossip.is_empty() || attacker.sync {
        while Instant::now() < deadline {
            attacker.session(deadline).await?;
        }
    } else {
        tokio::time::sleep(deadline.saturating_duration_since(Instant::now())).await;
    }
    if let Some(f) = flooding {
        let _ = f.await;
    }
    let t = &attacker.tally;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Ok(json!({
        "attacks": attacks.iter().map(|a| a.name()).collect::<Vec<_>>(),
        "seconds": started.elapsed().as_secs_f64(),
        "gossip_sent": t.gossip_sent,
        "gossip_sent_total": t.gossip_sent.values().sum::<u64>(),
        "gossip_unsent": t.gossip_unsent,
        "sync_requests_sent": t.sync_requests_sent,
        "sync_requests_answered": t.sync_requests_answered,
        "sync_requests_failed": t.sync_requests_failed,
        "sync_requests_received": t.sync_requests_received,
        "identities": t.identities,
        "connections_attempted": t.connections_attempted,
        "connections_established": t.connections_established,
        "disconnected": t.disconnected,
        "dial_failures": t.dial_failures,
        "flood": {
            "identities": load(&counters.identities),
            "connections_attempted": load(&counters.attempted),
            "connections_established": load(&counters.established),
            "connections_failed": load(&counters.failed),
            "silent_tcp_opened": load(&counters.silent_opened),
        },
    }))
}

#[tokio::main]
async fn main() -> ExitCode {
    match attack(Args::parse()).await {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
