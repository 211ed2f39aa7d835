//! A simulated network of nodes, each an engine over a registry: it delivers requests
//! and replies in random order, loses some, fails some, and drops and restores
//! connections.

use super::*;

/// One world of valid entries with dependencies: authorities accredited by the root,
/// issuers accredited by authorities, revocations by the root and by authorities, and a
/// few entries whose reference never exists (pending forever).
pub(crate) fn world(fx: &Fixture, seed: u64) -> Vec<SignedEntry> {
    let mut rng = Rng::new(seed);
    let roots = fx.root_keys(1);
    let mut out = Vec::new();
    let authorities: Vec<(EntryId, u64)> = (0..5)
        .map(|i| {
            let e = fx
                .accredit(&entity(i))
                .grant("accredit", "*")
                .controller(key(100 + i).did())
                .nonce(seed ^ i)
                .by_roots(&roots);
            let id = e.id();
            out.push(e);
            (id, 100 + i)
        })
        .collect();
    let mut issuers = Vec::new();
    for j in 0..120u64 {
        let (auth, signer) = authorities[rng.below(authorities.len())];
        let e = fx
            .accredit(&entity(1000 + j))
            .grant("issue", "Degree")
            .controller(key(200 + j % 7).did())
            .nonce(seed ^ (j << 8))
            .by_holder(auth, &[&key(signer)]);
        issuers.push((e.id(), auth, signer));
        out.push(e);
    }
    for r in 0..40u64 {
        let (target, auth, signer) = issuers[rng.below(issuers.len())];
        let d = fx.revoke(target, 10 + r).nonce(seed ^ (r << 16));
        out.push(if rng.chance(50) {
            d.by_roots(&roots)
        } else {
            d.by_holder(auth, &[&key(signer)])
        });
    }
    for k in 0..3u64 {
        out.push(
            fx.accredit(&entity(9000 + k))
                .grant("issue", "Degree")
                .controller(key(300).did())
                .nonce(seed ^ (k << 24))
                .by_holder(Hash([k as u8 + 1; 32]), &[&key(300)]),
        );
    }
    out
}

enum Event {
    Request {
        from: usize,
        to: usize,
        id: RequestId,
        request: SyncRequest,
    },
    Response {
        from: usize,
        to: usize,
        id: RequestId,
        response: SyncResponse,
    },
    Failure {
        to: usize,
        from: usize,
        id: RequestId,
    },
    Ingest {
        node: usize,
        peer: usize,
        batch: u64,
        entries: Vec<SignedEntry>,
    },
}

pub(crate) struct Node {
    pub(crate) engine: Engine<usize>,
    pub(crate) registry: Registry,
}

/// A request one node sent another, and when.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub(crate) at: Instant,
    pub(crate) from: usize,
    pub(crate) to: usize,
    pub(crate) request: SyncRequest,
}

pub(crate) struct Sim {
    seed: u64,
    rng: Rng,
    pub(crate) nodes: Vec<Node>,
    events: Vec<Event>,
    pub(crate) now: Instant,
    pub(crate) completed: u64,
    pub(crate) failed: u64,
    /// Every request sent, in order.
    pub(crate) sent: Vec<Sent>,
    /// Percent of requests and replies lost, of requests failed in the transport, and of
    /// time steps in which a connection drops and comes back.
    pub(crate) loss: usize,
    pub(crate) transport_failures: usize,
    pub(crate) churn: usize,
}

impl Sim {
    fn take(&mut self, node: usize, actions: Vec<Action<usize>>) {
        for action in actions {
            match action {
                Action::Send { peer, id, request } => {
                    self.sent.push(Sent {
                        at: self.now,
                        from: node,
                        to: peer,
                        request: request.clone(),
                    });
                    self.events.push(Event::Request {
                        from: node,
                        to: peer,
                        id,
                        request,
                    });
                }
                Action::Ingest {
                    peer,
                    batch,
                    entries,
                } => self.events.push(Event::Ingest {
                    node,
                    peer,
                    batch,
                    entries,
                }),
                Action::Finished { report, .. } => {
                    if report.completed() {
                        self.completed += 1;
                    } else {
                        self.failed += 1;
                    }
                }
                Action::Penalise { peer, offence } => panic!(
                    "seed {}: node {node} penalised honest peer {peer}: {offence}",
                    self.seed
                ),
            }
        }
    }

    /// Delivers one random event; requests and replies are lost `loss` percent of the
    /// time, and `transport_failures` percent of requests fail in the transport instead.
    pub(crate) fn deliver(&mut self) {
        if self.events.is_empty() {
            return;
        }
        let i = self.rng.below(self.events.len());
        let event = self.events.swap_remove(i);
        let lost = self.rng.chance(self.loss);
        match event {
            Event::Request {
                from,
                to,
                id,
                request,
            } => {
                if self.rng.chance(self.transport_failures) {
                    self.events.push(Event::Failure {
                        to: from,
                        from: to,
                        id,
                    });
                } else if !lost {
                    let n = &mut self.nodes[to];
                    n.engine.on_request(from, self.now);
                    let response = answer(&request, &n.registry);
                    self.events.push(Event::Response {
                        from: to,
                        to: from,
                        id,
                        response,
                    });
                }
            }
            Event::Response {
                from,
                to,
                id,
                response,
            } => {
                if !lost {
                    let n = &mut self.nodes[to];
                    let actions = n
                        .engine
                        .on_response(from, id, response, self.now, &n.registry);
                    self.take(to, actions);
                }
            }
            Event::Failure { to, from, id } => {
                let actions = self.nodes[to].engine.on_failure(from, id, self.now);
                self.take(to, actions);
            }
            Event::Ingest {
                node,
                peer,
                batch,
                entries,
            } => {
                let n = &mut self.nodes[node];
                let ingested = ingest(&mut n.registry, entries);
                let actions = n
                    .engine
                    .on_ingested(peer, batch, ingested, self.now, &n.registry);
                self.take(node, actions);
            }
        }
    }

    /// Delivers events until none is left, or `limit` were delivered.
    pub(crate) fn settle(&mut self, limit: usize) {
        for _ in 0..limit {
            if self.events.is_empty() {
                return;
            }
            self.deliver();
        }
    }

    /// Advances time: every node ticks (its engine wants the references its pending
    /// entries wait for itself); `churn` percent of the time a connection drops and comes
    /// back, redialled by one end.
    pub(crate) fn advance(&mut self, by: Duration) {
        self.now += by;
        for i in 0..self.nodes.len() {
            let n = &mut self.nodes[i];
            let actions = n.engine.tick(self.now, &n.registry);
            self.take(i, actions);
        }
        if self.nodes.len() > 1 && self.rng.chance(self.churn) {
            let a = self.rng.below(self.nodes.len());
            let b = (a + 1 + self.rng.below(self.nodes.len() - 1)) % self.nodes.len();
            for (x, y) in [(a, b), (b, a)] {
                let gone = self.nodes[x].engine.peer_disconnected(y, self.now);
                self.take(x, gone);
            }
            self.connect(a, b);
        }
    }

    /// `dialler` connects to `other`: each end is told who dialled.
    pub(crate) fn connect(&mut self, dialler: usize, other: usize) {
        let now = self.now;
        let ours = self.nodes[dialler]
            .engine
            .peer_connected(other, Dialled::ByUs, now);
        self.take(dialler, ours);
        let theirs = self.nodes[other]
            .engine
            .peer_connected(dialler, Dialled::ByThem, now);
        self.take(other, theirs);
    }
}

impl Sim {
    /// A network with the default faults: 15% loss, 3% transport failures, 2% churn.
    pub(crate) fn new(seed: u64) -> Sim {
        Sim {
            seed,
            rng: Rng::new(seed ^ 0x5eed),
            nodes: Vec::new(),
            events: Vec::new(),
            now: now0(),
            completed: 0,
            failed: 0,
            sent: Vec::new(),
            loss: 15,
            transport_failures: 3,
            churn: 2,
        }
    }

    /// Connects every pair of nodes, the lower-numbered one dialling.
    pub(crate) fn connect_all(&mut self) {
        let n = self.nodes.len();
        for i in 0..n {
            for j in i + 1..n {
                self.connect(i, j);
            }
        }
    }

    /// Runs the network until every node's state root is `target`; the number of steps
    /// that took, or `None` past `limit`.
    pub(crate) fn run_until(&mut self, target: Hash, limit: usize) -> Option<usize> {
        for step in 0..limit {
            if step % 8 == 0 || self.events.is_empty() {
                self.advance(Duration::from_millis(100));
                let done = self
                    .nodes
                    .iter_mut()
                    .all(|n| n.registry.state_root() == target);
                if done {
                    return Some(step);
                }
            }
            self.deliver();
        }
        None
    }
}
