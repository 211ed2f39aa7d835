//! Staying connected and keeping bad peers out: bootstrap dials, redialling peers whose
//! connection dropped, dials of peers known from Kademlia, penalties and bans.
//!
//! [`Peers`] is the bookkeeping (no swarm: it can be tested alone); the task's methods
//! below carry its decisions out on the swarm.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use tracing::{debug, warn};

use super::actor::Task;
use crate::offence::Offence;
use crate::sync::Dialled;

/// Penalties after which a peer is disconnected and refused.
pub const BAN_PENALTIES: u32 = 3;
/// Application score (before gossipsub's weight of 10) per penalty.
const PENALTY_SCORE: f64 = -10.0;
/// Peers remembered in the penalty table; past this the table is cleared.
const MAX_PENALISED: usize = 10_000;
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

/// The peer id at the end of an address (`.../p2p/12D3...`), if any.
pub fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        Protocol::P2p(peer) => Some(peer),
        _ => None,
    })
}

/// What the task knows of peers beyond the swarm's own state; every table is bounded.
#[derive(Debug, Default)]
pub(super) struct Peers {
    /// The configured bootstrap addresses.
    bootstrap: Vec<Multiaddr>,
    /// Penalties so far, per peer (at most [`MAX_PENALISED`] peers).
    penalties: HashMap<PeerId, u32>,
    /// Peers the operator denied.
    denied: HashSet<PeerId>,
    /// Remote addresses of connected peers.
    addresses: HashMap<PeerId, Vec<Multiaddr>>,
    /// Peers whose connection dropped: attempts so far and when to dial next (at most
    /// [`MAX_LOST`]).
    lost: HashMap<PeerId, (u32, Instant)>,
    /// The peer each bootstrap address led to, once a dial to it succeeded.
    bootstrap_peers: HashMap<Multiaddr, PeerId>,
    last_redial: Option<Instant>,
    last_kad: Option<Instant>,
}

impl Peers {
    pub(super) fn new(
        bootstrap: Vec<Multiaddr>,
        denied: impl IntoIterator<Item = PeerId>,
    ) -> Peers {
        Peers {
            bootstrap,
            denied: denied.into_iter().collect(),
            ..Peers::default()
        }
    }

    /// Whether `peer` broke the rules often enough to be refused.
    pub(super) fn banned(&self, peer: &PeerId) -> bool {
        self.penalties.get(peer).copied().unwrap_or(0) >= BAN_PENALTIES
    }

    pub(super) fn denied(&self, peer: &PeerId) -> bool {
        self.denied.contains(peer)
    }

    /// Counts one more penalty against `peer`; returns its count.
    fn penalise(&mut self, peer: PeerId) -> u32 {
        if self.penalties.len() >= MAX_PENALISED && !self.penalties.contains_key(&peer) {
            self.penalties.clear();
        }
        let count = self.penalties.entry(peer).or_insert(0);
        *count += 1;
        *count
    }

    pub(super) fn deny(&mut self, peer: PeerId) {
        self.denied.insert(peer);
    }

    /// Lifts a denial and forgets the peer's penalties.
    pub(super) fn allow(&mut self, peer: &PeerId) {
        self.denied.remove(peer);
        self.penalties.remove(peer);
    }

    /// A connection to `peer` at `addr` is up; one we dialled to a bootstrap address ties
    /// that address to the peer.
    pub(super) fn connected(&mut self, peer: PeerId, addr: Multiaddr, dialled: Dialled) {
        self.lost.remove(&peer);
        if dialled == Dialled::ByUs {
            let bare: Multiaddr = addr
                .iter()
                .filter(|p| !matches!(p, Protocol::P2p(_)))
                .collect();
            if self.bootstrap.contains(&bare) {
                self.bootstrap_peers.insert(bare, peer);
            }
        }
        let known = self.addresses.entry(peer).or_default();
        if !known.contains(&addr) {
            known.push(addr);
        }
    }

    /// One connection to `peer`, at `addr`, closed, leaving `remaining` connections to
    /// it. After its last, the peer is redialled from `now` on (unless banned or denied,
    /// or too many are lost).
    pub(super) fn closed(&mut self, peer: PeerId, addr: &Multiaddr, remaining: u32, now: Instant) {
        if let Some(known) = self.addresses.get_mut(&peer) {
            known.retain(|a| a != addr);
        }
        if remaining > 0 {
            return;
        }
        self.addresses.remove(&peer);
        if !self.banned(&peer) && !self.denied(&peer) && self.lost.len() < MAX_LOST {
            self.lost.insert(peer, (0, now + REDIAL_LOST_FIRST));
        }
    }

    /// The remote addresses of a connected peer.
    pub(super) fn addresses(&self, peer: &PeerId) -> Vec<Multiaddr> {
        self.addresses.get(peer).cloned().unwrap_or_default()
    }

    /// The lost peers to dial now, each rescheduled with a doubled delay; peers that are
    /// `connected`, denied, or out of attempts are forgotten instead.
    fn due_redials(&mut self, now: Instant, connected: impl Fn(&PeerId) -> bool) -> Vec<PeerId> {
        let due: Vec<PeerId> = self
            .lost
            .iter()
            .filter(|(_, (_, next))| *next <= now)
            .map(|(p, _)| *p)
            .collect();
        let mut dial = Vec::new();
        for peer in due {
            let Some((attempts, _)) = self.lost.get(&peer).copied() else {
                continue;
            };
            if connected(&peer) || self.denied(&peer) || attempts >= REDIAL_LOST_ATTEMPTS {
                self.lost.remove(&peer);
                continue;
            }
            let delay = REDIAL_LOST_FIRST
                .saturating_mul(1 << attempts.min(16))
                .min(REDIAL_LOST_MAX);
            self.lost.insert(peer, (attempts + 1, now + delay));
            dial.push(peer);
        }
        dial
    }
}

impl Task {
    /// Dials every bootstrap address whose peer is not connected now. The peer behind an
    /// address without `/p2p/<id>` is learnt when a dial to it succeeds; until then the
    /// address is dialled on every round, whatever other peers the node has (a bootstrap
    /// peer that started after this node is found once it is up).
    pub(super) fn dial_bootstrap(&mut self) {
        for addr in self.peers.bootstrap.clone() {
            let known = self.peers.bootstrap_peers.get(&addr).copied();
            if let Some(peer) = peer_of(&addr).or(known) {
                if self.swarm.is_connected(&peer) || self.peers.denied(&peer) {
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

    /// Redials peers whose connection dropped, with backoff.
    pub(super) fn redial_lost(&mut self, now: Instant) {
        let swarm = &self.swarm;
        let due = self.peers.due_redials(now, |p| swarm.is_connected(p));
        for peer in due {
            let _ = self.swarm.dial(peer);
        }
    }

    /// Every [`REDIAL`], dials the bootstrap peers that are not connected and, below
    /// [`TARGET_PEERS`], a few peers known from Kademlia; every [`KAD_REFRESH`] with a
    /// peer, refreshes the Kademlia routing table.
    pub(super) fn keep_connected(&mut self, now: Instant) {
        let peers = self.swarm.connected_peers().count();
        if self
            .peers
            .last_redial
            .is_none_or(|t| now.duration_since(t) >= REDIAL)
        {
            self.peers.last_redial = Some(now);
            self.dial_bootstrap();
            if peers < TARGET_PEERS {
                self.dial_known_peers();
            }
        }
        if peers > 0
            && self
                .peers
                .last_kad
                .is_none_or(|t| now.duration_since(t) >= KAD_REFRESH)
        {
            self.peers.last_kad = Some(now);
            let _ = self.swarm.behaviour_mut().kad.bootstrap();
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
            .filter(|p| !self.swarm.is_connected(p) && !self.peers.denied(p))
            .filter(|p| !self.peers.banned(p))
            .take(DIALS_PER_ROUND)
            .collect();
        for peer in candidates {
            let _ = self.swarm.dial(peer);
        }
    }

    /// Counts a penalty against `peer`, lowers its gossipsub score, and disconnects it
    /// at [`BAN_PENALTIES`].
    pub(super) fn penalise(&mut self, peer: PeerId, offence: &Offence) {
        self.counters.penalties.fetch_add(1, Ordering::Relaxed);
        let count = self.peers.penalise(peer);
        warn!(%peer, penalties = count, reason = %offence, "peer penalised");
        self.swarm
            .behaviour_mut()
            .gossip
            .set_application_score(&peer, PENALTY_SCORE * f64::from(count));
        if count >= BAN_PENALTIES {
            warn!(%peer, "disconnecting a peer that broke the rules {count} times");
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> PeerId {
        PeerId::random()
    }

    fn addr(port: u16) -> Multiaddr {
        Multiaddr::empty()
            .with(Protocol::Ip4(std::net::Ipv4Addr::LOCALHOST))
            .with(Protocol::Tcp(port))
    }

    #[test]
    fn a_peer_is_banned_at_the_penalty_limit_and_allow_forgives_it() {
        let mut peers = Peers::default();
        let p = peer();
        for n in 1..BAN_PENALTIES {
            assert_eq!(peers.penalise(p), n);
            assert!(!peers.banned(&p));
        }
        assert_eq!(peers.penalise(p), BAN_PENALTIES);
        assert!(peers.banned(&p));
        peers.allow(&p);
        assert!(!peers.banned(&p));
    }

    #[test]
    fn the_penalty_table_is_cleared_when_full() {
        let mut peers = Peers::default();
        let first = peer();
        peers.penalise(first);
        for _ in 1..MAX_PENALISED {
            peers.penalise(peer());
        }
        assert_eq!(peers.penalties.len(), MAX_PENALISED);
        // A peer already in a full table is counted without clearing it.
        assert_eq!(peers.penalise(first), 2);
        assert_eq!(peers.penalties.len(), MAX_PENALISED);
        // A new one clears it first.
        peers.penalise(peer());
        assert_eq!(peers.penalties.len(), 1);
    }

    #[test]
    fn a_lost_peer_is_redialled_with_doubling_delays_then_given_up() {
        let mut peers = Peers::default();
        let p = peer();
        let start = Instant::now();
        peers.connected(p, addr(1), Dialled::ByUs);
        peers.closed(p, &addr(1), 0, start);
        assert!(peers.due_redials(start, |_| false).is_empty());
        let mut now = start + REDIAL_LOST_FIRST;
        let mut delays = Vec::new();
        loop {
            let due = peers.due_redials(now, |_| false);
            if due.is_empty() {
                break;
            }
            assert_eq!(due, vec![p]);
            let (_, next) = peers.lost[&p];
            delays.push(next - now);
            now = next;
        }
        assert_eq!(delays.len(), REDIAL_LOST_ATTEMPTS as usize);
        assert_eq!(delays[0], REDIAL_LOST_FIRST);
        assert_eq!(delays[1], REDIAL_LOST_FIRST * 2);
        assert_eq!(delays.last(), Some(&REDIAL_LOST_MAX));
        assert!(peers.lost.is_empty(), "given up after the last attempt");
    }

    #[test]
    fn banned_denied_and_reconnected_peers_are_not_redialled() {
        let mut peers = Peers::default();
        let (banned, denied, back) = (peer(), peer(), peer());
        let now = Instant::now();
        for _ in 0..BAN_PENALTIES {
            peers.penalise(banned);
        }
        peers.deny(denied);
        for p in [banned, denied, back] {
            peers.closed(p, &addr(1), 0, now);
        }
        assert_eq!(
            peers.lost.len(),
            1,
            "only the peer in good standing is remembered"
        );
        let later = now + REDIAL_LOST_MAX;
        assert!(peers.due_redials(later, |p| *p == back).is_empty());
        assert!(peers.lost.is_empty());
    }

    #[test]
    fn a_dialled_bootstrap_address_is_tied_to_its_peer() {
        let boot = addr(4001);
        let mut peers = Peers::new(vec![boot.clone()], []);
        let p = peer();
        let with_id = boot.clone().with(Protocol::P2p(p));
        peers.connected(p, with_id.clone(), Dialled::ByUs);
        assert_eq!(peers.bootstrap_peers.get(&boot), Some(&p));
        assert_eq!(peers.addresses(&p), vec![with_id.clone()]);
        // A peer that dialled us from another address is not a bootstrap peer.
        let other = peer();
        peers.connected(other, addr(5000), Dialled::ByThem);
        assert_eq!(peers.bootstrap_peers.len(), 1);
        peers.closed(p, &with_id, 0, Instant::now());
        assert!(peers.addresses(&p).is_empty());
    }
}
