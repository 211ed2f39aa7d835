//! One identity of the attacker at a time: a session that dials every target, gossips
//! and lies on sync until the nodes cut it off.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::swarm::SwarmEvent;
use libp2p::{request_response, Multiaddr, PeerId, Swarm};
use p2p::network::topic;
use p2p::protocol::SyncResponse;
use registry_core::RegistryId;

use crate::forge::Forge;
use crate::swarm::{build_swarm, Behaviour, BehaviourEvent};
use crate::wire::{framed, Wire};
use crate::Attack;

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

/// What the attacker did, printed at the end.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) gossip_sent: BTreeMap<&'static str, u64>,
    pub(crate) gossip_unsent: u64,
    pub(crate) sync_requests_sent: u64,
    pub(crate) sync_requests_answered: u64,
    pub(crate) sync_requests_failed: u64,
    pub(crate) sync_requests_received: u64,
    pub(crate) identities: u64,
    pub(crate) connections_attempted: u64,
    pub(crate) connections_established: u64,
    pub(crate) disconnected: u64,
    pub(crate) dial_failures: u64,
}

pub(crate) struct Attacker {
    pub(crate) registry: RegistryId,
    pub(crate) targets: Vec<Multiaddr>,
    pub(crate) gossip: Vec<Attack>,
    pub(crate) sync: bool,
    pub(crate) period: Duration,
    pub(crate) forge: Forge,
    pub(crate) tally: Tally,
    pub(crate) k: u64,
    /// Gossip messages sent by the current identity.
    pub(crate) session_sent: u64,
}

impl Attacker {
    /// One identity: dial every target and attack until the nodes cut it off, the session
    /// ends or the deadline passes.
    pub(crate) async fn session(&mut self, deadline: Instant) -> anyhow::Result<()> {
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

    /// The answer to a node's sync request: an honest refusal while the session's gossip
    /// attacks go first, a lie after that, or, when sync attacks are off, an answer too
    /// large to take.
    fn sync_answer(&mut self) -> Wire {
        let gossip_first = !self.gossip.is_empty() && self.session_sent < GOSSIP_BEFORE_SYNC_LIES;
        if self.sync && gossip_first {
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
                    let answer = self.sync_answer();
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
