//! The [`Engine`]: the connected peers, the peers that dialled us and whose session runs
//! before ours, the queue of peers waiting for a session, the one session that runs, the
//! requests in flight (sessions' and fetches'), their timeouts, the sync period and the
//! wants of missing references. It hands each reply to the session or the fetches that
//! asked for it and turns what they decide into [`Action`]s.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use registry_core::rng::SplitMix64;
use registry_core::EntryId;

use super::fetch::{Fetched, Fetches};
use super::session::Session;
use super::{
    random_peer, Action, Asked, Dialled, Flight, Ingested, LocalSet, RequestId, SessionError,
    SyncConfig,
};
use crate::offence::Offence;
use crate::protocol::{SyncResponse, MAX_IDS};

/// The sync state machine of one node. `P` names a peer.
#[derive(Debug)]
pub struct Engine<P> {
    config: SyncConfig,
    rng: SplitMix64,
    connected: BTreeSet<P>,
    /// Peers that dialled us, whose session with us runs before ours with them.
    deferred: BTreeMap<P, Deferral>,
    /// Peers waiting for a session, each at most once.
    queue: VecDeque<P>,
    session: Option<Session<P>>,
    flights: HashMap<RequestId, Flight<P>>,
    fetches: Fetches<P>,
    next_request: RequestId,
    next_batch: u64,
    next_period: Option<Instant>,
}

/// When a peer that dialled us connected, and when it last sent a sync request.
#[derive(Debug, Clone, Copy)]
struct Deferral {
    since: Instant,
    last_request: Option<Instant>,
}

impl<P: Copy + Eq + std::hash::Hash + Ord + std::fmt::Debug> Engine<P> {
    /// `seed` feeds the engine's own generator, which picks peers.
    pub fn new(config: SyncConfig, seed: u64) -> Engine<P> {
        let fetches = Fetches::new(config.max_fetches);
        Engine {
            config,
            rng: SplitMix64::new(seed),
            connected: BTreeSet::new(),
            deferred: BTreeMap::new(),
            queue: VecDeque::new(),
            session: None,
            flights: HashMap::new(),
            fetches,
            next_request: 0,
            next_batch: 0,
            next_period: None,
        }
    }

    /// A peer connected. If we dialled it, a session with it is queued now (at most one
    /// session runs at a time; others queue; no duplicates in the queue). If it dialled
    /// us, its session runs first: ours is queued by [`Engine::tick`] once the peer has
    /// been quiet for `defer_quiet` (see [`Engine::on_request`]) or connected for
    /// `defer_at_most`. Fetches by id may use the peer at once either way.
    pub fn peer_connected(&mut self, peer: P, dialled: Dialled, now: Instant) -> Vec<Action<P>> {
        let mut out = Vec::new();
        self.connected.insert(peer);
        match dialled {
            Dialled::ByUs => {
                self.deferred.remove(&peer);
                self.enqueue(peer);
            }
            Dialled::ByThem => {
                let deferral = Deferral {
                    since: now,
                    last_request: None,
                };
                self.deferred.insert(peer, deferral);
            }
        }
        self.start_next(now, &mut out);
        self.pump_fetches(now, &mut out);
        out
    }

    /// A peer disconnected: its session (if any) ends as failed, its queued entry is
    /// dropped, its in-flight requests are forgotten.
    pub fn peer_disconnected(&mut self, peer: P, now: Instant) -> Vec<Action<P>> {
        let mut out = Vec::new();
        self.connected.remove(&peer);
        self.deferred.remove(&peer);
        self.queue.retain(|p| *p != peer);
        if self.session.as_ref().is_some_and(|s| s.peer() == peer) {
            self.fail(SessionError::Disconnected, &mut out);
        }
        self.forget_flights_to(peer);
        self.fetches.forget_peer(peer);
        self.start_next(now, &mut out);
        self.pump_fetches(now, &mut out);
        out
    }

    /// A sync request of `peer` arrived (it is answered by [`super::answer`]): a peer that
    /// dialled us is still running its session, so ours with it waits.
    pub fn on_request(&mut self, peer: P, now: Instant) {
        if let Some(d) = self.deferred.get_mut(&peer) {
            d.last_request = Some(now);
        }
    }

    /// Time passes: queue the sessions with peers that dialled us whose deferral is over,
    /// time out requests older than `request_timeout` (a timed-out request fails its
    /// session), every `period` queue a session with a random connected peer, start the
    /// next queued session, and fetch the references pending entries wait for (from any
    /// peer).
    pub fn tick(&mut self, now: Instant, local: &dyn LocalSet) -> Vec<Action<P>> {
        let mut out = Vec::new();
        self.end_deferrals(now);
        self.time_out(now, &mut out);
        self.schedule_period(now);
        self.start_next(now, &mut out);
        self.fetches.want(local.missing(MAX_IDS), None, local);
        self.pump(now, local, &mut out);
        out
    }

    /// A reply arrived. Unknown ids (late replies after a timeout) are ignored, as are
    /// replies from a peer other than the one asked. A reply that does not answer its
    /// request gets the peer penalised and, in a session, ends it as failed.
    pub fn on_response(
        &mut self,
        peer: P,
        id: RequestId,
        response: SyncResponse,
        now: Instant,
        local: &dyn LocalSet,
    ) -> Vec<Action<P>> {
        let mut out = Vec::new();
        if self.flights.get(&id).is_none_or(|f| f.peer != peer) {
            return out;
        }
        let Some(flight) = self.flights.remove(&id) else {
            return out;
        };
        match flight.asked {
            Asked::Fetch(ids) => self.fetched(peer, ids, response, &mut out),
            asked => self.session_reply(peer, asked, response, local, &mut out),
        }
        self.start_next(now, &mut out);
        self.pump(now, local, &mut out);
        out
    }

    /// The request failed (transport error, timeout in the transport, peer closed).
    pub fn on_failure(&mut self, peer: P, id: RequestId, now: Instant) -> Vec<Action<P>> {
        let mut out = Vec::new();
        self.failed(peer, id, SessionError::RequestFailed, &mut out);
        self.start_next(now, &mut out);
        self.pump_fetches(now, &mut out);
        out
    }

    /// Ingest batch `batch`, received from `peer`, was stored, and `ingested` is what
    /// became of it: frees its pipeline slot and lets the session continue, penalises the
    /// peer for an invalid entry, and fetches from it the references the batch's pending
    /// entries wait for.
    pub fn on_ingested(
        &mut self,
        peer: P,
        batch: u64,
        ingested: Ingested,
        now: Instant,
        local: &dyn LocalSet,
    ) -> Vec<Action<P>> {
        let mut out = Vec::new();
        if let Some(why) = ingested.invalid {
            out.push(Action::Penalise {
                peer,
                offence: Offence::InvalidSyncEntry(why),
            });
        }
        if let Some(s) = self.session.as_mut() {
            s.ingested(batch);
        }
        self.fetches.ingested(batch);
        self.fetches.want(ingested.missing, Some(peer), local);
        self.pump(now, local, &mut out);
        out
    }

    /// Fetch these ids (references pending entries wait for) from `from`, or from a
    /// random connected peer when `None`; ids already known or already being fetched are
    /// skipped. Uses `Entries` requests of at most
    /// [`MAX_IDS`](crate::protocol::MAX_IDS) ids; replies produce Ingest actions (batch
    /// ids distinct from sessions') and no Finished. At most `max_fetches * MAX_IDS` ids
    /// wait at once; the rest are dropped, to be wanted again.
    pub fn want(
        &mut self,
        ids: Vec<EntryId>,
        from: Option<P>,
        now: Instant,
        local: &dyn LocalSet,
    ) -> Vec<Action<P>> {
        let mut out = Vec::new();
        self.fetches.want(ids, from, local);
        self.pump_fetches(now, &mut out);
        out
    }

    /// Peers connected now (as told by `peer_connected` and `peer_disconnected`).
    pub fn connected(&self) -> usize {
        self.connected.len()
    }

    /// Peers that dialled us whose session with us still runs before ours with them.
    pub fn deferred(&self) -> usize {
        self.deferred.len()
    }

    /// Whether a session is running.
    pub fn busy(&self) -> bool {
        self.session.is_some()
    }

    /// The peer of the running session, if any.
    pub fn session_peer(&self) -> Option<P> {
        self.session.as_ref().map(|s| s.peer())
    }

    /// Peers waiting for a session.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Requests in flight (sessions' and fetches').
    pub fn in_flight(&self) -> usize {
        self.flights.len()
    }

    /// Queues a session with `peer`, unless one runs or is queued, or the peer's own
    /// session still runs first (ours is queued when that deferral ends).
    fn enqueue(&mut self, peer: P) {
        let running = self.session.as_ref().is_some_and(|s| s.peer() == peer);
        let deferred = self.deferred.contains_key(&peer);
        if !running && !deferred && !self.queue.contains(&peer) {
            self.queue.push_back(peer);
        }
    }

    /// Queues our session with each peer that dialled us and has sent no request for
    /// `defer_quiet`, or connected `defer_at_most` ago; in peer order.
    fn end_deferrals(&mut self, now: Instant) {
        let (quiet, at_most) = (self.config.defer_quiet, self.config.defer_at_most);
        let ready: Vec<P> = self
            .deferred
            .iter()
            .filter(|(_, d)| {
                let quiet_since = d.last_request.map_or(d.since, |l| l.max(d.since));
                now.saturating_duration_since(quiet_since) >= quiet
                    || now.saturating_duration_since(d.since) >= at_most
            })
            .map(|(p, _)| *p)
            .collect();
        for peer in ready {
            self.deferred.remove(&peer);
            self.enqueue(peer);
        }
    }

    /// Fails the requests older than `request_timeout`, oldest id first.
    fn time_out(&mut self, now: Instant, out: &mut Vec<Action<P>>) {
        let timeout = self.config.request_timeout;
        let mut late: Vec<(RequestId, P)> = self
            .flights
            .iter()
            .filter(|(_, f)| now.saturating_duration_since(f.sent) >= timeout)
            .map(|(id, f)| (*id, f.peer))
            .collect();
        late.sort();
        for (id, peer) in late {
            self.failed(peer, id, SessionError::TimedOut, out);
        }
    }

    /// Every `period` (the first one starting at the first tick), queues a session with a
    /// random connected peer.
    fn schedule_period(&mut self, now: Instant) {
        match self.next_period {
            Some(at) if now < at => {}
            Some(_) => {
                self.next_period = Some(now + self.config.period);
                if let Some(peer) = random_peer(&mut self.rng, &self.connected) {
                    self.enqueue(peer);
                }
            }
            None => self.next_period = Some(now + self.config.period),
        }
    }

    fn send(&mut self, peer: P, asked: Asked, now: Instant, out: &mut Vec<Action<P>>) {
        let id = self.next_request;
        self.next_request += 1;
        out.push(Action::Send {
            peer,
            id,
            request: asked.request(),
        });
        self.flights.insert(
            id,
            Flight {
                peer,
                sent: now,
                asked,
            },
        );
    }

    fn start_next(&mut self, now: Instant, out: &mut Vec<Action<P>>) {
        if self.session.is_some() {
            return;
        }
        while let Some(peer) = self.queue.pop_front() {
            if self.connected.contains(&peer) {
                self.session = Some(Session::start(peer));
                self.send(peer, Asked::Root, now, out);
                return;
            }
        }
    }

    /// Ends the running session as failed, forgetting its requests in flight.
    fn fail(&mut self, error: SessionError, out: &mut Vec<Action<P>>) {
        self.flights
            .retain(|_, f| matches!(f.asked, Asked::Fetch(_)));
        if let Some(s) = self.session.take() {
            out.push(Action::Finished {
                peer: s.peer(),
                report: s.report(Some(error)),
            });
        }
    }

    /// A request of this node failed or timed out.
    fn failed(&mut self, peer: P, id: RequestId, why: SessionError, out: &mut Vec<Action<P>>) {
        if self.flights.get(&id).is_none_or(|f| f.peer != peer) {
            return;
        }
        match self.flights.remove(&id).map(|f| f.asked) {
            Some(Asked::Fetch(ids)) => self.fetches.failed(&ids),
            Some(_) => self.fail(why, out),
            None => {}
        }
    }

    /// Forgets the requests in flight to `peer`, which disconnected.
    fn forget_flights_to(&mut self, peer: P) {
        let gone: Vec<RequestId> = self
            .flights
            .iter()
            .filter(|(_, f)| f.peer == peer)
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if let Some(Flight {
                asked: Asked::Fetch(ids),
                ..
            }) = self.flights.remove(&id)
            {
                self.fetches.failed(&ids);
            }
        }
    }

    fn session_reply(
        &mut self,
        peer: P,
        asked: Asked,
        response: SyncResponse,
        local: &dyn LocalSet,
        out: &mut Vec<Action<P>>,
    ) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        s.answered(&asked);
        match s.absorb(asked, response, local) {
            Ok(entries) if entries.is_empty() => {}
            Ok(entries) => {
                let batch = self.next_batch;
                self.next_batch += 1;
                s.ingest(batch, entries.len());
                out.push(Action::Ingest {
                    peer,
                    batch,
                    entries,
                });
            }
            Err(SessionError::Violation(violation)) => {
                out.push(Action::Penalise {
                    peer,
                    offence: Offence::Unanswered(violation.clone()),
                });
                self.fail(SessionError::Violation(violation), out);
            }
            Err(stopped) => self.fail(stopped, out),
        }
    }

    fn fetched(
        &mut self,
        peer: P,
        ids: Vec<EntryId>,
        response: SyncResponse,
        out: &mut Vec<Action<P>>,
    ) {
        match self.fetches.reply(peer, ids, response) {
            Fetched::Nothing => {}
            Fetched::Violation(violation) => out.push(Action::Penalise {
                peer,
                offence: Offence::Unanswered(violation),
            }),
            Fetched::Entries { ids, entries } => {
                let batch = self.next_batch;
                self.next_batch += 1;
                self.fetches.ingesting(batch, ids);
                out.push(Action::Ingest {
                    peer,
                    batch,
                    entries,
                });
            }
        }
    }

    /// Sends what the session and the fetches are ready to send, and ends the session if
    /// it is done.
    fn pump(&mut self, now: Instant, local: &dyn LocalSet, out: &mut Vec<Action<P>>) {
        self.pump_fetches(now, out);
        let pipeline = self.config.pipeline.max(1);
        loop {
            let Some(s) = self.session.as_mut() else {
                return;
            };
            if !s.has_room(pipeline) {
                break;
            }
            let Some(asked) = s.next_request(local) else {
                break;
            };
            s.sent(&asked);
            let peer = s.peer();
            self.send(peer, asked, now, out);
        }
        if let Some(s) = self.session.take_if(|s| s.done()) {
            out.push(Action::Finished {
                peer: s.peer(),
                report: s.report(None),
            });
            self.start_next(now, out);
        }
    }

    fn pump_fetches(&mut self, now: Instant, out: &mut Vec<Action<P>>) {
        while let Some((peer, ids)) = self.fetches.next(&self.connected, &mut self.rng) {
            self.send(peer, Asked::Fetch(ids), now, out);
        }
    }
}
