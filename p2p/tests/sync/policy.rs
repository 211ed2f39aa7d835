//! The policy the engine owns: who runs first on a new connection, fetching the
//! references of pending entries by id, and the penalty for an invalid fetched entry.

use p2p::offence::Offence;
use registry_core::registry::Rejection;

use super::sim::{Node, Sim};
use super::*;

/// A network that loses nothing, so that only the policy decides what happens when.
fn reliable(seed: u64) -> Sim {
    let mut sim = Sim::new(seed);
    sim.loss = 0;
    sim.transport_failures = 0;
    sim.churn = 0;
    sim
}

/// When `node` sent its first `Root` request (the start of its first session), if it did.
fn first_session(sim: &Sim, node: usize) -> Option<Instant> {
    sim.sent
        .iter()
        .find(|s| s.from == node && s.request == SyncRequest::Root)
        .map(|s| s.at)
}

#[test]
fn the_dialler_syncs_first_and_the_other_end_after_the_quiet_period() {
    let fx = fixture();
    let config = SyncConfig::default();
    let mut sim = reliable(1);
    for (i, entries) in [plain_entries(&fx, 0, 40), plain_entries(&fx, 1000, 40)]
        .iter()
        .enumerate()
    {
        sim.nodes.push(Node {
            engine: Engine::new(config.clone(), i as u64),
            registry: registry_of(&fx, entries),
        });
    }
    let t0 = sim.now;
    sim.connect(0, 1);
    assert_eq!(
        first_session(&sim, 0),
        Some(t0),
        "the dialler starts at once"
    );
    assert_eq!(first_session(&sim, 1), None, "the dialled end waits");
    assert_eq!(sim.nodes[1].engine.deferred(), 1);
    // The dialler's session runs to the end; the other end asks nothing meanwhile.
    sim.settle(10_000);
    assert_eq!(sim.completed, 1);
    assert_eq!(sim.nodes[0].registry.state().len(), 80);
    assert!(
        sim.sent.iter().all(|s| (s.from, s.to) == (0, 1)),
        "{:?}",
        sim.sent
    );
    let last_request = sim.sent.last().unwrap().at;
    // Time passes in small steps: the other end's session starts once the dialler has
    // been quiet for `defer_quiet`, and finds what it lacks.
    let step = Duration::from_millis(50);
    while first_session(&sim, 1).is_none() && sim.now < t0 + config.defer_at_most {
        sim.advance(step);
    }
    let started = first_session(&sim, 1).unwrap();
    let quiet = started - last_request;
    assert!(
        quiet >= config.defer_quiet && quiet < config.defer_quiet + step,
        "started {quiet:?} after the dialler's last request"
    );
    sim.settle(10_000);
    assert_eq!(sim.completed, 2);
    let root = sim.nodes[0].registry.state_root();
    assert_eq!(sim.nodes[1].registry.state_root(), root);
}

#[test]
fn the_dialled_end_waits_for_quiet_or_at_most_the_bound() {
    let fx = fixture();
    let local = registry_of(&fx, &plain_entries(&fx, 0, 3));
    let config = SyncConfig::default();
    let t0 = now0();
    // A request resets the quiet period, however long the peer has been connected.
    let mut engine: Engine<u8> = Engine::new(config.clone(), 3);
    assert!(sends(&engine.peer_connected(PEER, Dialled::ByThem, t0)).is_empty());
    let asked = t0 + config.defer_quiet - Duration::from_millis(100);
    engine.on_request(PEER, asked);
    let before = asked + config.defer_quiet - Duration::from_millis(1);
    assert!(sends(&engine.tick(before, &local)).is_empty());
    let ours = sends(&engine.tick(asked + config.defer_quiet, &local));
    assert_eq!(ours.len(), 1, "{ours:?}");
    assert_eq!(ours[0].1, SyncRequest::Root);
    assert_eq!(engine.deferred(), 0);
    // A peer that never stops asking delays ours by at most `defer_at_most`.
    let mut engine: Engine<u8> = Engine::new(config.clone(), 4);
    engine.peer_connected(PEER, Dialled::ByThem, t0);
    let step = Duration::from_millis(100);
    let mut t = t0;
    let started = loop {
        t += step;
        assert!(
            t <= t0 + 2 * config.defer_at_most,
            "our session never started"
        );
        engine.on_request(PEER, t);
        let sent = sends(&engine.tick(t, &local));
        if let Some((_, request)) = sent.first() {
            assert_eq!(*request, SyncRequest::Root);
            break t;
        }
    };
    assert_eq!(started - t0, config.defer_at_most);
    // A peer that leaves while deferred is forgotten.
    let mut engine: Engine<u8> = Engine::new(config.clone(), 5);
    engine.peer_connected(PEER, Dialled::ByThem, t0);
    engine.peer_disconnected(PEER, t0);
    assert_eq!(engine.deferred(), 0);
    assert!(sends(&engine.tick(t0 + config.defer_at_most, &local)).is_empty());
}

/// An authority accredited by the root and an issuer it accredits: the issuer waits for
/// the authority where the authority is not held.
fn chain(fx: &Fixture) -> (SignedEntry, SignedEntry) {
    let authority = fx
        .accredit(&entity(1))
        .grant("accredit", "*")
        .controller(key(100).did())
        .nonce(1)
        .by_roots(&fx.root_keys(1));
    let issuer = fx
        .accredit(&entity(2))
        .grant("issue", "Degree")
        .controller(key(200).did())
        .nonce(2)
        .by_holder(authority.id(), &[&key(100)]);
    (authority, issuer)
}

fn sends_to<P: Copy>(actions: &[Action<P>]) -> Vec<(P, RequestId, SyncRequest)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { peer, id, request } => Some((*peer, *id, request.clone())),
            _ => None,
        })
        .collect()
}

fn ingests<P>(actions: Vec<Action<P>>) -> Vec<(u64, Vec<SignedEntry>)> {
    actions
        .into_iter()
        .filter_map(|a| match a {
            Action::Ingest { batch, entries, .. } => Some((batch, entries)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_pending_entrys_reference_is_fetched_by_id_without_a_session() {
    let fx = fixture();
    let (authority, issuer) = chain(&fx);
    let holder = registry_of(&fx, &[authority.clone(), issuer.clone()]);
    assert_eq!(holder.state().len(), 2);
    let mut local = Registry::new(fx.genesis.clone(), 1_000);
    local.ingest(vec![issuer.clone()]);
    assert_eq!(local.pending_len(), 1);
    // The peer dialled us: no session of ours for now, but the tick wants the reference.
    let mut engine: Engine<u8> = Engine::new(SyncConfig::default(), 7);
    let t0 = now0();
    assert!(engine.peer_connected(PEER, Dialled::ByThem, t0).is_empty());
    let sent = sends_to(&engine.tick(t0, &local));
    let want = SyncRequest::Entries {
        ids: vec![authority.id()],
    };
    assert_eq!(sent, vec![(PEER, 0, want.clone())]);
    let reply = answer(&want, &holder);
    let actions = engine.on_response(PEER, 0, reply, t0, &local);
    assert!(finished(&actions).is_none(), "{actions:?}");
    let batches = ingests(actions);
    assert_eq!(batches.len(), 1);
    let (batch, entries) = batches.into_iter().next().unwrap();
    let ingested = ingest(&mut local, entries);
    let actions = engine.on_ingested(PEER, batch, ingested, t0, &local);
    assert!(actions.is_empty(), "{actions:?}");
    assert!(local.state().contains(&authority.id()));
    assert!(
        local.state().contains(&issuer.id()),
        "the pending entry was released"
    );
    assert_eq!(local.pending_len(), 0);
    assert!(!engine.busy());
    assert_eq!(engine.in_flight(), 0);
}

#[test]
fn references_of_a_fetched_pending_entry_are_fetched_from_its_sender() {
    let fx = fixture();
    let (authority, issuer) = chain(&fx);
    let holder = registry_of(&fx, &[authority.clone(), issuer.clone()]);
    // With two peers connected, the reference is asked of the one that sent the entry
    // every time (a random pick would choose the other half of the time).
    for seed in 0..16 {
        let mut local = Registry::new(fx.genesis.clone(), 1_000);
        let mut engine: Engine<u8> = Engine::new(SyncConfig::default(), seed);
        let t0 = now0();
        for peer in [1, 2] {
            engine.peer_connected(peer, Dialled::ByThem, t0);
        }
        let sent = sends_to(&engine.want(vec![issuer.id()], Some(2), t0, &local));
        let [(2, id, request)] = sent.as_slice() else {
            panic!("seed {seed}: {sent:?}");
        };
        let reply = answer(request, &holder);
        let (batch, entries) = ingests(engine.on_response(2, *id, reply, t0, &local))
            .pop()
            .unwrap();
        let ingested = ingest(&mut local, entries);
        assert_eq!(ingested.missing, vec![authority.id()], "seed {seed}");
        let sent = sends_to(&engine.on_ingested(2, batch, ingested, t0, &local));
        let want = SyncRequest::Entries {
            ids: vec![authority.id()],
        };
        assert!(
            matches!(sent.as_slice(), [(2, _, r)] if *r == want),
            "seed {seed}: {sent:?}"
        );
    }
}

#[test]
fn an_invalid_fetched_entry_gets_its_sender_penalised() {
    let fx = fixture();
    let entries = plain_entries(&fx, 0, 2);
    // The first entry under the root's signature of the second: same id, and a
    // signature that does not verify.
    let mut forged = entries[0].clone();
    forged.signatures = entries[1].signatures.clone();
    assert_eq!(forged.id(), entries[0].id());
    let mut local = Registry::new(fx.genesis.clone(), 1_000);
    let mut engine: Engine<u8> = Engine::new(SyncConfig::default(), 8);
    let t0 = now0();
    engine.peer_connected(PEER, Dialled::ByThem, t0);
    let sent = sends(&engine.want(vec![forged.id()], Some(PEER), t0, &local));
    assert_eq!(sent.len(), 1);
    let reply = SyncResponse::Entries {
        entries: vec![forged.clone()],
    };
    let actions = engine.on_response(PEER, sent[0].0, reply, t0, &local);
    assert!(
        penalised(&actions).is_none(),
        "the reply answers its request"
    );
    let (batch, entries) = ingests(actions).pop().unwrap();
    let ingested = ingest(&mut local, entries);
    let actions = engine.on_ingested(PEER, batch, ingested, t0, &local);
    let offences: Vec<&Offence> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Penalise { peer, offence } if *peer == PEER => Some(offence),
            _ => None,
        })
        .collect();
    assert!(
        matches!(
            offences.as_slice(),
            [Offence::InvalidSyncEntry(Rejection::Signature(_))]
        ),
        "{actions:?}"
    );
    assert!(!local.state().contains(&forged.id()));
    // A batch with nothing invalid costs the peer nothing.
    let ok = engine.on_ingested(PEER, batch + 1, Ingested::default(), t0, &local);
    assert!(penalised(&ok).is_none(), "{ok:?}");
}
