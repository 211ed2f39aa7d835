//! The network task's run loop: one tokio task owns the swarm and the sync engine and
//! reacts, one at a time, to swarm events, commands from the handle, completions of
//! work handed to the writer, and a timer. Gossip is handled in `gossip`, peer
//! bookkeeping in `peers`; what stays here is connections and the translation of sync
//! events into calls of the engine, which decides the whole sync policy, and of its
//! actions into requests, submissions and penalties.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use libp2p::core::ConnectedPoint;
use libp2p::swarm::SwarmEvent;
use libp2p::{gossipsub, identify, kad, mdns, request_response, PeerId, Swarm};
use registry_core::registry::Registry;
use registry_core::EntryId;
use tokio::sync::mpsc;
use tracing::{debug, info};

use super::ingress::{Command, NetInfo, PeerInfo};
use super::peers::Peers;
use super::swarm::{Behaviour, BehaviourEvent};
use super::{peer_source, Host, HostError, NetworkConfig, Submission, WhenFull};
use crate::codec::broke_protocol;
use crate::metrics::NetCounters;
use crate::offence::Offence;
use crate::protocol::{SyncRequest, SyncResponse};
use crate::sync::{answer, Action, Dialled, Engine, Ingested, SessionReport};

/// How often the engine is ticked (its timers: deferrals, timeouts, the sync period, and
/// the wants of missing references).
const TICK: Duration = Duration::from_millis(250);

/// Completions of work done off the task.
pub(super) enum Done {
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

/// The network task's state.
pub(super) struct Task {
    pub(super) config: NetworkConfig,
    pub(super) swarm: Swarm<Behaviour>,
    pub(super) host: Arc<dyn Host>,
    pub(super) counters: Arc<NetCounters>,
    pub(super) topic: gossipsub::IdentTopic,
    pub(super) checkpoint_topic: gossipsub::IdentTopic,
    pub(super) done_tx: mpsc::Sender<Done>,
    /// Gossip messages handed to the writer and not yet concluded.
    pub(super) validating: usize,
    pub(super) peers: Peers,
    engine: Engine<PeerId>,
    info: Arc<RwLock<NetInfo>>,
    commands: mpsc::Receiver<Command>,
    done_rx: mpsc::Receiver<Done>,
    /// Sync requests in flight: libp2p's id → the engine's.
    outbound: HashMap<request_response::OutboundRequestId, (PeerId, u64)>,
}

impl Task {
    pub(super) fn new(
        config: NetworkConfig,
        swarm: Swarm<Behaviour>,
        host: Arc<dyn Host>,
        info: Arc<RwLock<NetInfo>>,
        counters: Arc<NetCounters>,
        registry_id: registry_core::RegistryId,
        commands: mpsc::Receiver<Command>,
    ) -> Task {
        let (done_tx, done_rx) = mpsc::channel(1024);
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Task {
            engine: Engine::new(config.sync.clone(), seed),
            peers: Peers::new(config.bootstrap.clone(), config.deny.iter().copied()),
            config,
            swarm,
            host,
            info,
            counters,
            checkpoint_topic: crate::protocol::checkpoint_topic(&registry_id),
            topic: crate::protocol::topic(&registry_id),
            commands,
            done_tx,
            done_rx,
            outbound: HashMap::new(),
            validating: 0,
        }
    }

    pub(super) async fn run(mut self) {
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

    fn registry(&self) -> RwLockReadGuard<'_, Registry> {
        read_registry(self.host.as_ref())
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        self.redial_lost(now);
        let actions = {
            let registry = read_registry(self.host.as_ref());
            self.engine.tick(now, &*registry)
        };
        self.apply(actions);
        self.keep_connected(now);
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish(bytes) => self.publish(bytes),
            Command::PublishCheckpoint(bytes) => self.publish_checkpoint(bytes),
            Command::Deny(peer, reply) => {
                self.peers.deny(peer);
                let fresh = self.swarm.behaviour_mut().deny.block_peer(peer);
                info!(%peer, "peer denied");
                let _ = reply.send(fresh);
            }
            Command::Allow(peer, reply) => {
                self.peers.allow(&peer);
                let was = self.swarm.behaviour_mut().deny.unblock_peer(peer);
                if was {
                    info!(%peer, "peer allowed again");
                    let _ = self.swarm.dial(peer);
                }
                let _ = reply.send(was);
            }
            Command::Peers(reply) => {
                let _ = reply.send(self.peer_list());
            }
            Command::Shutdown => {}
        }
    }

    /// The connected peers, sorted by id.
    fn peer_list(&self) -> Vec<PeerInfo> {
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
                addresses: self.peers.addresses(p),
                score: gossip.peer_score(p).unwrap_or(0.0),
                subscribed: subscribed.contains(p),
            })
            .collect();
        peers.sort_by_key(|p| p.peer_id);
        peers
    }

    fn on_done(&mut self, done: Done) {
        match done {
            Done::Validated {
                message_id,
                source,
                result,
            } => self.on_validated(message_id, source, result),
            Done::Ingested {
                peer,
                batch,
                results,
            } => self.on_ingested(peer, batch, results),
        }
    }

    /// The writer's answers for a batch of entries sync fetched, handed to the engine
    /// (which penalises an invalid entry and fetches what pending ones wait for). An entry
    /// the node could not take for a local reason is not the peer's doing: a later
    /// session asks for it again.
    fn on_ingested(&mut self, peer: PeerId, batch: u64, results: Vec<Submission>) {
        let outcomes = results.into_iter().filter_map(|r| match r {
            Ok(outcome) => Some(outcome),
            Err(e @ (HostError::Busy(_) | HostError::Unavailable(_))) => {
                debug!(%peer, error = %e, "a synced entry was not stored");
                None
            }
        });
        let ingested = Ingested::of(outcomes);
        let now = Instant::now();
        let actions = {
            let registry = read_registry(self.host.as_ref());
            self.engine
                .on_ingested(peer, batch, ingested, now, &*registry)
        };
        self.apply(actions);
    }

    /// Asks the sync engine for `ids` (from `from` first, if given).
    pub(super) fn want(&mut self, ids: Vec<EntryId>, from: Option<PeerId>) {
        if ids.is_empty() {
            return;
        }
        let now = Instant::now();
        let actions = {
            let registry = read_registry(self.host.as_ref());
            self.engine.want(ids, from, now, &*registry)
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
                    let submitted = self
                        .host
                        .submit(peer_source(&peer), entries, WhenFull::Wait);
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
                Action::Finished { peer, report } => self.finished(peer, report),
                Action::Penalise { peer, offence } => self.penalise(peer, &offence),
            }
        }
    }

    /// A sync session ended: counted, and a completed one is the node's freshness.
    fn finished(&mut self, peer: PeerId, report: SessionReport) {
        if report.completed() {
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
            if let Some(e) = &report.error {
                debug!(%peer, error = %e, peer_fault = e.peer_fault(), "sync failed");
            }
        }
    }

    fn set_info(&self, f: impl FnOnce(&mut NetInfo)) {
        match self.info.write() {
            Ok(mut i) => f(&mut i),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    fn count_peers(&self) {
        let peers = self.swarm.connected_peers().count();
        self.counters.peers.store(peers as u64, Ordering::Relaxed);
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
            } => self.on_connected(peer_id, &endpoint, num_established.get()),
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                endpoint,
                ..
            } => self.on_closed(peer_id, &endpoint, num_established),
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event),
            _ => {}
        }
    }

    /// A connection is up (`established`: the peer's connections now). A banned peer is
    /// cut off; a new peer's sync starts now if we dialled it, else after its own.
    fn on_connected(&mut self, peer: PeerId, endpoint: &ConnectedPoint, established: u32) {
        if self.peers.banned(&peer) {
            let _ = self.swarm.disconnect_peer_id(peer);
            return;
        }
        let addr = endpoint.get_remote_address().clone();
        let dialled = if endpoint.is_dialer() {
            Dialled::ByUs
        } else {
            Dialled::ByThem
        };
        self.peers.connected(peer, addr, dialled);
        if established == 1 {
            debug!(%peer, "peer connected");
            self.count_peers();
            let actions = self.engine.peer_connected(peer, dialled, Instant::now());
            self.apply(actions);
        }
    }

    /// A connection closed (`established`: the peer's connections left).
    fn on_closed(&mut self, peer: PeerId, endpoint: &ConnectedPoint, established: u32) {
        let now = Instant::now();
        self.peers
            .closed(peer, endpoint.get_remote_address(), established, now);
        if established == 0 {
            debug!(%peer, "peer disconnected");
            self.count_peers();
            let actions = self.engine.peer_disconnected(peer, now);
            self.apply(actions);
        }
    }

    fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Gossip(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            }) if message.topic == self.checkpoint_topic.hash() => {
                self.on_checkpoint_gossip(propagation_source, message_id, message)
            }
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
                if below_limit && !self.swarm.is_connected(&peer) && !self.peers.denied(&peer) {
                    let _ = self.swarm.dial(peer);
                }
            }
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                for (peer, addr) in found {
                    if self.peers.denied(&peer) {
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

    fn on_sync_event(&mut self, event: request_response::Event<SyncRequest, SyncResponse>) {
        let now = Instant::now();
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    self.engine.on_request(peer, now);
                    let response = answer(&request, &*self.registry());
                    let _ = self
                        .swarm
                        .behaviour_mut()
                        .sync
                        .send_response(channel, response);
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => self.on_sync_response(peer, request_id, response, now),
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
                            self.penalise(peer, &Offence::MalformedReply(e.to_string()));
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
                        self.penalise(peer, &Offence::MalformedRequest(e.to_string()));
                    }
                }
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    /// A reply to one of our sync requests: handed to the engine.
    fn on_sync_response(
        &mut self,
        peer: PeerId,
        request_id: request_response::OutboundRequestId,
        response: SyncResponse,
        now: Instant,
    ) {
        let Some((peer_id, id)) = self.outbound.remove(&request_id) else {
            return;
        };
        debug_assert_eq!(peer_id, peer);
        let actions = {
            let registry = read_registry(self.host.as_ref());
            self.engine.on_response(peer, id, response, now, &*registry)
        };
        self.apply(actions);
    }
}

/// The registry's read lock, whatever a panicking thread left behind: the registry's own
/// invariants hold between calls. Sync only reads (the writer leaves the trie's hashes
/// current), so queries never wait for a sync walk. Taken as a free function so the task
/// can hold it beside `&mut self.engine`.
fn read_registry(host: &dyn Host) -> RwLockReadGuard<'_, Registry> {
    match host.registry().read() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}
