//! The sync engine and responder without sockets: what `answer` says, how the engine
//! treats replies that do not answer their request, convergence of several nodes over a
//! lossy network that delivers in random order, and the cost of a repair.
//!
//! Every random case is seeded; a failure names its seed.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use p2p::protocol::{
    ShortHash, Summary, SyncRequest, SyncResponse, LEAF_IDS, MAX_IDS, MAX_PREFIXES,
    REPLY_BUDGET_BYTES,
};
use p2p::sync::{answer, Action, Engine, LocalSet, RequestId, SessionReport, SyncConfig};
use registry_core::registry::{IngestReport, Registry};
use registry_core::rng::SplitMix64;
use registry_core::testkit::{entity, key, Fixture};
use registry_core::trie::Prefix;
use registry_core::{EntryId, Hash, SignedEntry};

/// splitmix64, so a seed fully determines a case.
type Rng = SplitMix64;

fn fixture() -> Fixture {
    Fixture::new(1, 1, 3)
}

/// `n` distinct root-signed accreditations, valid on their own.
fn plain_entries(fx: &Fixture, from: u64, n: u64) -> Vec<SignedEntry> {
    let roots = fx.root_keys(1);
    let controller = key(200).did();
    (from..from + n)
        .map(|i| {
            fx.accredit(&entity(i))
                .grant("issue", "R1")
                .controller(controller)
                .nonce(i)
                .by_roots(&roots)
        })
        .collect()
}

/// A registry holding `entries`, which this test signed itself (so signatures are not
/// checked again).
fn registry_of(fx: &Fixture, entries: &[SignedEntry]) -> Registry {
    let mut reg = Registry::new(fx.genesis.clone(), 100_000);
    let mut report = IngestReport::default();
    for e in entries {
        reg.offer_checked(e.clone(), &mut report);
    }
    reg.rehash();
    reg
}

fn now0() -> Instant {
    Instant::now()
}

fn sends<P>(actions: &[Action<P>]) -> Vec<(RequestId, SyncRequest)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { id, request, .. } => Some((*id, request.clone())),
            _ => None,
        })
        .collect()
}

fn finished<P>(actions: &[Action<P>]) -> Option<SessionReport> {
    actions.iter().find_map(|a| match a {
        Action::Finished { report, .. } => Some(report.clone()),
        _ => None,
    })
}

fn penalised<P>(actions: &[Action<P>]) -> Option<String> {
    actions.iter().find_map(|a| match a {
        Action::Penalise { reason, .. } => Some(reason.clone()),
        _ => None,
    })
}

// ---------------------------------------------------------------------------------------
// The responder.

#[test]
fn answer_summarises_prefixes_as_empty_ids_or_branch() {
    let fx = fixture();
    let entries = plain_entries(&fx, 0, 60);
    let mut reg = registry_of(&fx, &entries);
    let root = reg.state_root();
    assert_eq!(
        answer(&SyncRequest::Root, &mut reg),
        SyncResponse::Root { root, entries: 60 }
    );
    // A prefix with a few ids, and one with none: 60 ids over 256 two-nibble prefixes.
    let two: Vec<Prefix> = (0..=255u8)
        .filter_map(|b| Prefix::from_nibbles(&[b >> 4, b & 15]).ok())
        .collect();
    let few = two
        .iter()
        .copied()
        .find(|p| reg.count_under(p) >= 2)
        .unwrap_or_else(|| panic!("no two-nibble prefix with two ids"));
    let none = two
        .iter()
        .copied()
        .find(|p| reg.count_under(p) == 0)
        .unwrap_or_else(|| panic!("no empty two-nibble prefix"));
    let request = SyncRequest::Nodes {
        prefixes: vec![Prefix::root(), few, none],
    };
    let SyncResponse::Nodes { summaries } = answer(&request, &mut reg) else {
        panic!("Nodes must be answered with Nodes");
    };
    assert_eq!(summaries.len(), 3);
    let Summary::Branch { children } = &summaries[0] else {
        panic!("60 ids at the root make a branch: {:?}", summaries[0]);
    };
    for (nibble, short) in (0u8..).zip(children) {
        let child = Prefix::root()
            .child(nibble)
            .unwrap_or_else(|| panic!("nibble {nibble}"));
        let expected = ShortHash::of(&reg.hash_at(&child));
        assert_eq!(*short, expected, "child {nibble}");
        assert_eq!(
            *short == ShortHash::default(),
            reg.count_under(&child) == 0,
            "all-zero short hash exactly for empty children"
        );
    }
    let mut under: Vec<(EntryId, ShortHash)> = entries
        .iter()
        .map(|e| (e.id(), ShortHash::of(&e.signatures_digest())))
        .filter(|(id, _)| few.covers(id))
        .collect();
    under.sort_by_key(|(id, _)| *id);
    assert!(under.len() <= LEAF_IDS);
    let (ids, values) = under.into_iter().unzip();
    assert_eq!(summaries[1], Summary::Ids { ids, values });
    assert_eq!(summaries[2], Summary::Empty);
    // Over the list limit: refused, not answered partly.
    let over = SyncRequest::Nodes {
        prefixes: vec![Prefix::root(); MAX_PREFIXES + 1],
    };
    assert!(matches!(
        answer(&over, &mut reg),
        SyncResponse::Refused { .. }
    ));
}

/// Accreditations of about 16 KiB each (64 long grants), to reach the reply budget with
/// few entries.
fn big_entries(fx: &Fixture, n: u64) -> Vec<SignedEntry> {
    let roots = fx.root_keys(1);
    let long = "r".repeat(240);
    let controller = key(200).did();
    (0..n)
        .map(|i| {
            let mut d = fx
                .accredit(&entity(50_000 + i))
                .controller(controller)
                .nonce(i);
            for g in 0..64 {
                d = d.grant("issue", &format!("{long}{g:03}"));
            }
            d.by_roots(&roots)
        })
        .collect()
}

#[test]
fn answer_subtree_returns_everything_under_the_prefix_or_too_large() {
    let fx = fixture();
    let entries = big_entries(&fx, 300);
    let size: usize = entries.iter().map(|e| e.encode().len()).sum();
    assert!(
        size > REPLY_BUDGET_BYTES,
        "the test needs more than one reply"
    );
    let mut reg = registry_of(&fx, &entries);
    assert_eq!(
        answer(
            &SyncRequest::Subtree {
                prefix: Prefix::root()
            },
            &mut reg
        ),
        SyncResponse::TooLarge { count: 300 }
    );
    let seven = Prefix::from_nibbles(&[7]).unwrap();
    let SyncResponse::Subtree { entries: got } =
        answer(&SyncRequest::Subtree { prefix: seven }, &mut reg)
    else {
        panic!("a sixteenth of the set fits in one reply");
    };
    let mut got: Vec<EntryId> = got.iter().map(|e| e.id()).collect();
    got.sort();
    let mut want: Vec<EntryId> = entries
        .iter()
        .map(|e| e.id())
        .filter(|id| seven.covers(id))
        .collect();
    want.sort();
    assert!(!want.is_empty());
    assert_eq!(got, want);
}

#[test]
fn answer_entries_returns_held_ones_once_within_the_budget() {
    let fx = fixture();
    let entries = big_entries(&fx, 300);
    let mut reg = registry_of(&fx, &entries);
    let a = entries[0].id();
    let b = entries[1].id();
    let request = SyncRequest::Entries {
        ids: vec![a, Hash([9; 32]), b, a],
    };
    let SyncResponse::Entries { entries: got } = answer(&request, &mut reg) else {
        panic!("Entries must be answered with Entries");
    };
    let got: Vec<EntryId> = got.iter().map(|e| e.id()).collect();
    assert_eq!(got, vec![a, b]);
    // All 300 (about 5 MB) do not fit: a prefix of them does, under the budget.
    let ids: Vec<EntryId> = entries.iter().map(|e| e.id()).collect();
    let SyncResponse::Entries { entries: got } =
        answer(&SyncRequest::Entries { ids: ids.clone() }, &mut reg)
    else {
        panic!("Entries must be answered with Entries");
    };
    let bytes: usize = got.iter().map(|e| e.encode().len()).sum();
    assert!(!got.is_empty() && got.len() < ids.len());
    assert!(bytes <= REPLY_BUDGET_BYTES);
    let prefix: Vec<EntryId> = got.iter().map(|e| e.id()).collect();
    assert_eq!(prefix, ids[..got.len()]);
    let over = SyncRequest::Entries {
        ids: vec![a; MAX_IDS + 1],
    };
    assert!(matches!(
        answer(&over, &mut reg),
        SyncResponse::Refused { .. }
    ));
}

// ---------------------------------------------------------------------------------------
// Replies that do not answer their request.

const PEER: u8 = 1;

/// An engine in a session with `PEER`, past the root exchange.
struct Probe {
    engine: Engine<u8>,
    local: Registry,
    now: Instant,
}

impl Probe {
    /// A session whose root reply differs from `local`'s root; returns the requests the
    /// walk sends first.
    fn walking(local: Registry) -> (Probe, Vec<(RequestId, SyncRequest)>) {
        let config = SyncConfig {
            pipeline: 32,
            ..SyncConfig::default()
        };
        let mut p = Probe {
            engine: Engine::new(config, 7),
            local,
            now: now0(),
        };
        let first = sends(&p.engine.peer_connected(PEER, p.now));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].1, SyncRequest::Root);
        let actions = p.reply(
            first[0].0,
            SyncResponse::Root {
                root: Hash([3; 32]),
                entries: 1000,
            },
        );
        (p, sends(&actions))
    }

    fn reply(&mut self, id: RequestId, response: SyncResponse) -> Vec<Action<u8>> {
        self.engine
            .on_response(PEER, id, response, self.now, &mut self.local)
    }

    /// Sends `response` to request `id` and checks that the peer is penalised and the
    /// session failed.
    fn expect_penalty(&mut self, id: RequestId, response: SyncResponse, case: &str) {
        let actions = self.reply(id, response);
        let reason = penalised(&actions);
        assert!(reason.is_some(), "{case}: not penalised: {actions:?}");
        let report = finished(&actions).unwrap_or_else(|| panic!("{case}: session not ended"));
        assert!(!report.completed, "{case}");
        assert!(report.error.is_some(), "{case}");
        assert!(!self.engine.busy(), "{case}");
    }
}

fn find<'a>(
    requests: &'a [(RequestId, SyncRequest)],
    what: &str,
    pick: impl Fn(&SyncRequest) -> bool,
) -> &'a (RequestId, SyncRequest) {
    requests
        .iter()
        .find(|(_, r)| pick(r))
        .unwrap_or_else(|| panic!("no {what} request among {requests:?}"))
}

fn populated() -> (Fixture, Vec<SignedEntry>, Registry) {
    let fx = fixture();
    let entries = plain_entries(&fx, 0, 40);
    let reg = registry_of(&fx, &entries);
    (fx, entries, reg)
}

#[test]
fn wrong_kind_and_wrong_count_of_summaries_are_penalised() {
    let (_, _, reg) = populated();
    let mut p = Probe {
        engine: Engine::new(SyncConfig::default(), 1),
        local: reg,
        now: now0(),
    };
    let root = sends(&p.engine.peer_connected(PEER, p.now));
    p.expect_penalty(
        root[0].0,
        SyncResponse::Entries {
            entries: Vec::new(),
        },
        "Entries for Root",
    );

    let (_, _, reg) = populated();
    let (mut p, first) = Probe::walking(reg);
    let (id, request) = &first[0];
    assert_eq!(
        *request,
        SyncRequest::Nodes {
            prefixes: vec![Prefix::root()]
        }
    );
    p.expect_penalty(
        *id,
        SyncResponse::Nodes {
            summaries: vec![Summary::Empty, Summary::Empty],
        },
        "two summaries for one prefix",
    );

    let (_, _, reg) = populated();
    let (mut p, first) = Probe::walking(reg);
    p.expect_penalty(
        first[0].0,
        SyncResponse::Root {
            root: Hash([1; 32]),
            entries: 1,
        },
        "Root for Nodes",
    );
}

/// A walk past the root: the root's branch says every child differs, so the engine asks
/// about the 16 one-nibble prefixes.
fn walking_below_root() -> (Probe, Vec<(RequestId, SyncRequest)>) {
    let (_, _, reg) = populated();
    let (mut p, first) = Probe::walking(reg);
    let actions = p.reply(
        first[0].0,
        SyncResponse::Nodes {
            summaries: vec![Summary::Branch {
                children: [ShortHash([1; 8]); 16],
            }],
        },
    );
    assert!(penalised(&actions).is_none());
    (p, sends(&actions))
}

fn nodes_request(requests: &[(RequestId, SyncRequest)]) -> (RequestId, Vec<Prefix>) {
    let (id, request) = find(
        requests,
        "Nodes",
        |r| matches!(r, SyncRequest::Nodes { prefixes } if !prefixes.is_empty()),
    );
    match request {
        SyncRequest::Nodes { prefixes } => (*id, prefixes.clone()),
        _ => unreachable!(),
    }
}

/// Sorted ids under `prefix` (made up: the engine only checks where they lie).
fn ids_under(prefix: &Prefix, n: u8) -> Vec<EntryId> {
    (0..n)
        .map(|i| {
            let mut id = Hash([0; 32]);
            for d in 0..prefix.len() {
                let nib = prefix.nibble(d);
                id.0[d / 2] |= if d % 2 == 0 { nib << 4 } else { nib };
            }
            id.0[31] = i + 1;
            id
        })
        .collect()
}

fn with_summary_at(prefixes: &[Prefix], at: usize, summary: Summary) -> SyncResponse {
    let mut summaries = vec![Summary::Empty; prefixes.len()];
    summaries[at] = summary;
    SyncResponse::Nodes { summaries }
}

#[test]
fn listed_ids_must_lie_under_the_prefix_be_sorted_and_few() {
    type Listing = fn(&Prefix) -> Vec<EntryId>;
    let cases: [(&str, Listing); 3] = [
        ("an id not under the prefix", |p| {
            let other = p
                .parent()
                .and_then(|parent| parent.child((p.nibble(p.len() - 1) + 1) % 16))
                .unwrap_or_else(|| panic!("a sibling of {p}"));
            ids_under(&other, 1)
        }),
        ("unsorted ids", |p| {
            let mut ids = ids_under(p, 3);
            ids.reverse();
            ids
        }),
        ("more than LEAF_IDS ids", |p| {
            ids_under(p, LEAF_IDS as u8 + 1)
        }),
    ];
    for (case, ids) in cases {
        let (mut p, requests) = walking_below_root();
        let (id, prefixes) = nodes_request(&requests);
        let ids = ids(&prefixes[0]);
        let values = vec![ShortHash::default(); ids.len()];
        let summary = Summary::Ids { ids, values };
        p.expect_penalty(id, with_summary_at(&prefixes, 0, summary), case);
    }
    // The same shapes, well formed, are accepted and lead to an Entries request.
    let (mut p, requests) = walking_below_root();
    let (id, prefixes) = nodes_request(&requests);
    let listed = ids_under(&prefixes[0], LEAF_IDS as u8);
    let response = with_summary_at(
        &prefixes,
        0,
        Summary::Ids {
            ids: listed.clone(),
            values: vec![ShortHash::default(); listed.len()],
        },
    );
    let mut actions = p.reply(id, response);
    // Answer the other walk requests (Subtree of empty local prefixes) with nothing.
    for (id, request) in &requests {
        if let SyncRequest::Subtree { .. } = request {
            actions.extend(p.reply(
                *id,
                SyncResponse::Subtree {
                    entries: Vec::new(),
                },
            ));
        }
    }
    assert!(penalised(&actions).is_none(), "{actions:?}");
    let entries = find(&sends(&actions), "Entries", |r| {
        matches!(r, SyncRequest::Entries { .. })
    })
    .1
    .clone();
    assert_eq!(entries, SyncRequest::Entries { ids: listed });
}

#[test]
fn subtree_replies_must_hold_only_entries_under_the_prefix() {
    // An empty local set: the walk asks for the whole root subtree, then its children.
    let fx = fixture();
    let theirs = plain_entries(&fx, 100, 40);
    let empty = registry_of(&fx, &[]);
    let (mut p, first) = Probe::walking(empty);
    assert_eq!(
        first[0].1,
        SyncRequest::Subtree {
            prefix: Prefix::root()
        }
    );
    let actions = p.reply(first[0].0, SyncResponse::TooLarge { count: 40 });
    let children = sends(&actions);
    assert_eq!(children.len(), 16, "TooLarge splits into 16 children");
    let (id, request) = &children[0];
    let SyncRequest::Subtree { prefix } = request else {
        panic!("children of a subtree are subtrees: {request:?}");
    };
    let stray: Vec<SignedEntry> = theirs
        .iter()
        .filter(|e| !prefix.covers(&e.id()))
        .take(1)
        .cloned()
        .collect();
    p.expect_penalty(
        *id,
        SyncResponse::Subtree { entries: stray },
        "an entry outside the subtree",
    );

    let empty = registry_of(&fx, &[]);
    let (mut p, first) = Probe::walking(empty);
    p.expect_penalty(
        first[0].0,
        SyncResponse::TooLarge { count: 1 },
        "TooLarge for one entry",
    );
}

#[test]
fn entries_replies_must_hold_only_requested_entries() {
    let fx = fixture();
    let theirs = plain_entries(&fx, 100, 3);
    let (mut p, requests) = walking_below_root();
    let (id, prefixes) = nodes_request(&requests);
    let listed: Vec<EntryId> = {
        let mut ids: Vec<EntryId> = ids_under(&prefixes[0], 2);
        ids.sort();
        ids
    };
    let mut actions = p.reply(
        id,
        with_summary_at(
            &prefixes,
            0,
            Summary::Ids {
                values: vec![ShortHash::default(); listed.len()],
                ids: listed,
            },
        ),
    );
    for (id, request) in &requests {
        if let SyncRequest::Subtree { .. } = request {
            actions.extend(p.reply(
                *id,
                SyncResponse::Subtree {
                    entries: Vec::new(),
                },
            ));
        }
    }
    let (id, _) = find(&sends(&actions), "Entries", |r| {
        matches!(r, SyncRequest::Entries { .. })
    })
    .clone();
    p.expect_penalty(
        id,
        SyncResponse::Entries {
            entries: theirs[..1].to_vec(),
        },
        "an entry that was not requested",
    );

    // Fetches by id: penalised, without ending any session.
    let mut engine: Engine<u8> = Engine::new(SyncConfig::default(), 3);
    let mut local = registry_of(&fx, &[]);
    let now = now0();
    engine.peer_connected(PEER, now);
    let wanted = vec![theirs[1].id()];
    let actions = engine.want(wanted.clone(), Some(PEER), now, &mut local);
    let (id, request) = sends(&actions)[0].clone();
    assert_eq!(request, SyncRequest::Entries { ids: wanted });
    let actions = engine.on_response(
        PEER,
        id,
        SyncResponse::Entries {
            entries: theirs[..1].to_vec(),
        },
        now,
        &mut local,
    );
    assert!(penalised(&actions).is_some(), "{actions:?}");
    assert!(!actions.iter().any(|a| matches!(a, Action::Ingest { .. })));
    assert!(finished(&actions).is_none());
}

// ---------------------------------------------------------------------------------------
// Engine behaviour without a network.

#[test]
fn sessions_queue_one_at_a_time_without_duplicates() {
    let fx = fixture();
    let mut local = registry_of(&fx, &plain_entries(&fx, 0, 5));
    let mut engine: Engine<u8> = Engine::new(SyncConfig::default(), 5);
    let now = now0();
    let a = sends(&engine.peer_connected(1, now));
    assert_eq!(a.len(), 1);
    assert!(sends(&engine.peer_connected(2, now)).is_empty());
    assert!(sends(&engine.peer_connected(2, now)).is_empty());
    assert_eq!(engine.connected(), 2);
    assert_eq!(engine.queued(), 1);
    // Equal roots end the session at once, and the queued peer's session starts.
    let root = local.root();
    let actions = engine.on_response(
        1,
        a[0].0,
        SyncResponse::Root { root, entries: 5 },
        now,
        &mut local,
    );
    let report = finished(&actions).unwrap_or_else(|| panic!("no Finished: {actions:?}"));
    assert!(report.completed);
    assert_eq!(report.requests, 1);
    let next = sends(&actions);
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].1, SyncRequest::Root);
    assert_eq!(engine.session_peer(), Some(2));
    assert_eq!(engine.queued(), 0);
}

#[test]
fn timeouts_disconnects_and_late_replies_end_sessions_cleanly() {
    let fx = fixture();
    let mut local = registry_of(&fx, &plain_entries(&fx, 0, 5));
    let config = SyncConfig::default();
    let mut engine: Engine<u8> = Engine::new(config.clone(), 5);
    let t0 = now0();
    let first = sends(&engine.peer_connected(1, t0));
    engine.peer_connected(2, t0);
    // Not yet timed out.
    let actions = engine.tick(t0 + config.request_timeout / 2, &mut local);
    assert!(finished(&actions).is_none());
    let late = t0 + config.request_timeout;
    let actions = engine.tick(late, &mut local);
    let report = finished(&actions).unwrap_or_else(|| panic!("no timeout: {actions:?}"));
    assert!(!report.completed);
    // The next session started; the late reply of the first is ignored.
    let second = sends(&actions);
    assert_eq!(second.len(), 1);
    let ignored = engine.on_response(
        1,
        first[0].0,
        SyncResponse::Root {
            root: Hash([1; 32]),
            entries: 1,
        },
        late,
        &mut local,
    );
    assert!(ignored.is_empty(), "{ignored:?}");
    // A reply from a peer other than the one asked is ignored too.
    let ignored = engine.on_response(
        1,
        second[0].0,
        SyncResponse::Root {
            root: Hash([1; 32]),
            entries: 1,
        },
        late,
        &mut local,
    );
    assert!(ignored.is_empty(), "{ignored:?}");
    assert!(engine.busy());
    let actions = engine.peer_disconnected(2, late);
    let report = finished(&actions).unwrap_or_else(|| panic!("no Finished: {actions:?}"));
    assert!(!report.completed && report.error.is_some());
    assert!(!engine.busy());
    assert_eq!(engine.connected(), 1);
    assert_eq!(engine.in_flight(), 0);
    // A failed request fails its session.
    let mut engine: Engine<u8> = Engine::new(config, 5);
    let first = sends(&engine.peer_connected(1, t0));
    let actions = engine.on_failure(1, first[0].0, t0);
    assert!(finished(&actions).is_some_and(|r| !r.completed));
}

#[test]
fn periodic_sessions_pick_connected_peers() {
    let fx = fixture();
    let mut local = registry_of(&fx, &plain_entries(&fx, 0, 5));
    let root = local.root();
    let config = SyncConfig::default();
    let mut engine: Engine<u8> = Engine::new(config.clone(), 11);
    let mut now = now0();
    let mut picked = HashSet::new();
    let mut sessions = 0;
    let mut pending = Vec::new();
    for p in 1..=3 {
        pending.extend(engine.peer_connected(p, now));
    }
    for _ in 0..200 {
        now += config.period / 4;
        let mut actions = std::mem::take(&mut pending);
        actions.extend(engine.tick(now, &mut local));
        while let Some((id, _)) = sends(&actions).first().cloned() {
            let peer = engine
                .session_peer()
                .unwrap_or_else(|| panic!("a Root request outside a session"));
            picked.insert(peer);
            sessions += 1;
            actions = engine.on_response(
                peer,
                id,
                SyncResponse::Root { root, entries: 5 },
                now,
                &mut local,
            );
        }
    }
    // 200 quarter periods: 3 sessions on connect, then one per period.
    assert!((45..=60).contains(&sessions), "{sessions} sessions");
    assert_eq!(picked, HashSet::from([1, 2, 3]));
}

#[test]
fn wants_skip_known_and_fetching_ids_and_stay_bounded() {
    let fx = fixture();
    let held = plain_entries(&fx, 0, 3);
    let mut local = registry_of(&fx, &held);
    let config = SyncConfig {
        max_fetches: 2,
        ..SyncConfig::default()
    };
    let mut engine: Engine<u8> = Engine::new(config, 9);
    let now = now0();
    let ids: Vec<EntryId> = (0..2 * MAX_IDS as u32 + 10)
        .map(|i| {
            let mut h = Hash([0; 32]);
            h.0[..4].copy_from_slice(&i.to_be_bytes());
            h.0[31] = 1;
            h
        })
        .collect();
    let mut asked = vec![held[0].id()];
    asked.extend(ids.iter().copied());
    // No peer yet: nothing is sent; the ids wait, at most max_fetches * MAX_IDS of them.
    assert!(engine.want(asked, None, now, &mut local).is_empty());
    let actions = engine.peer_connected(PEER, now);
    let fetches: Vec<(RequestId, Vec<EntryId>)> = sends(&actions)
        .into_iter()
        .filter_map(|(id, r)| match r {
            SyncRequest::Entries { ids } => Some((id, ids)),
            _ => None,
        })
        .collect();
    assert_eq!(fetches.len(), 2, "{fetches:?}");
    let sent: Vec<EntryId> = fetches.iter().flat_map(|(_, ids)| ids.clone()).collect();
    assert_eq!(
        sent,
        ids[..2 * MAX_IDS],
        "known ids skipped, the overflow dropped"
    );
    // Asking again for ids being fetched sends nothing; max_fetches are in flight.
    assert!(sends(&engine.want(ids[..10].to_vec(), None, now, &mut local)).is_empty());
    assert!(sends(&engine.want(ids[2 * MAX_IDS..].to_vec(), None, now, &mut local)).is_empty());
    // An empty reply frees a slot: the waiting ids go out; no session ends.
    let actions = engine.on_response(
        PEER,
        fetches[0].0,
        SyncResponse::Entries {
            entries: Vec::new(),
        },
        now,
        &mut local,
    );
    assert!(finished(&actions).is_none());
    let next: Vec<SyncRequest> = sends(&actions).into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        next,
        vec![SyncRequest::Entries {
            ids: ids[2 * MAX_IDS..].to_vec()
        }]
    );
    // The ids the peer did not have may be wanted again.
    let again = engine.want(ids[..10].to_vec(), Some(PEER), now, &mut local);
    assert!(sends(&again).is_empty(), "both fetch slots are busy");
    assert_eq!(engine.in_flight(), 3, "the session's Root and two fetches");
}

// ---------------------------------------------------------------------------------------
// Convergence over a simulated network.

/// One world of valid entries with dependencies: authorities accredited by the root,
/// issuers accredited by authorities, revocations by the root and by authorities, and a
/// few entries whose reference never exists (pending forever).
fn world(fx: &Fixture, seed: u64) -> Vec<SignedEntry> {
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

struct Node {
    engine: Engine<usize>,
    registry: Registry,
}

struct Sim {
    seed: u64,
    rng: Rng,
    nodes: Vec<Node>,
    events: Vec<Event>,
    now: Instant,
    completed: u64,
    failed: u64,
}

impl Sim {
    fn take(&mut self, node: usize, actions: Vec<Action<usize>>) {
        for action in actions {
            match action {
                Action::Send { peer, id, request } => self.events.push(Event::Request {
                    from: node,
                    to: peer,
                    id,
                    request,
                }),
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
                    if report.completed {
                        self.completed += 1;
                    } else {
                        self.failed += 1;
                    }
                }
                Action::Penalise { peer, reason } => panic!(
                    "seed {}: node {node} penalised honest peer {peer}: {reason}",
                    self.seed
                ),
            }
        }
    }

    /// Delivers one random event; requests and replies are lost 15% of the time, and a
    /// few requests fail in the transport instead.
    fn deliver(&mut self) {
        if self.events.is_empty() {
            return;
        }
        let i = self.rng.below(self.events.len());
        let event = self.events.swap_remove(i);
        let lost = self.rng.chance(15);
        match event {
            Event::Request {
                from,
                to,
                id,
                request,
            } => {
                if self.rng.chance(3) {
                    self.events.push(Event::Failure {
                        to: from,
                        from: to,
                        id,
                    });
                } else if !lost {
                    let response = answer(&request, &mut self.nodes[to].registry);
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
                    let actions =
                        n.engine
                            .on_response(from, id, response, self.now, &mut n.registry);
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
                n.registry.ingest(entries);
                let actions = n.engine.on_ingested(peer, batch, self.now, &mut n.registry);
                self.take(node, actions);
            }
        }
    }

    /// Advances time: every node ticks and wants the references its pending entries wait
    /// for; now and then a connection drops and comes back.
    fn advance(&mut self, by: Duration) {
        self.now += by;
        for i in 0..self.nodes.len() {
            let n = &mut self.nodes[i];
            let mut actions = n.engine.tick(self.now, &mut n.registry);
            let missing = n.registry.missing(64);
            actions.extend(n.engine.want(missing, None, self.now, &mut n.registry));
            self.take(i, actions);
        }
        if self.nodes.len() > 1 && self.rng.chance(2) {
            let a = self.rng.below(self.nodes.len());
            let b = (a + 1 + self.rng.below(self.nodes.len() - 1)) % self.nodes.len();
            for (x, y) in [(a, b), (b, a)] {
                let gone = self.nodes[x].engine.peer_disconnected(y, self.now);
                self.take(x, gone);
            }
            for (x, y) in [(a, b), (b, a)] {
                let back = self.nodes[x].engine.peer_connected(y, self.now);
                self.take(x, back);
            }
        }
    }
}

impl Sim {
    fn new(seed: u64) -> Sim {
        Sim {
            seed,
            rng: Rng::new(seed ^ 0x5eed),
            nodes: Vec::new(),
            events: Vec::new(),
            now: now0(),
            completed: 0,
            failed: 0,
        }
    }

    fn connect_all(&mut self) {
        let n = self.nodes.len();
        for i in 0..n {
            for j in (0..n).filter(|&j| j != i) {
                let actions = self.nodes[i].engine.peer_connected(j, self.now);
                self.take(i, actions);
            }
        }
    }

    /// Runs the network until every node's state root is `target`; the number of steps
    /// that took, or `None` past `limit`.
    fn run_until(&mut self, target: Hash, limit: usize) -> Option<usize> {
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

/// Builds `nodes` nodes holding random subsets of one world, connects them all, and runs
/// the network until every state root equals the root of the union's closure.
fn converge(nodes: usize, seed: u64) {
    let fx = fixture();
    let all = world(&fx, seed);
    let mut rng = Rng::new(seed.wrapping_mul(31) ^ 0xabcd);
    let mut union = HashSet::new();
    let mut sim = Sim::new(seed);
    let config = SyncConfig {
        period: Duration::from_secs(2),
        request_timeout: Duration::from_secs(1),
        pipeline: 1 + rng.below(4),
        max_fetches: 1 + rng.below(4),
    };
    for i in 0..nodes {
        let share = 20 + rng.below(50);
        let mut held: Vec<SignedEntry> =
            all.iter().filter(|_| rng.chance(share)).cloned().collect();
        rng.shuffle(&mut held);
        union.extend(held.iter().map(|e| e.id()));
        let mut registry = Registry::new(fx.genesis.clone(), 10_000);
        for chunk in held.chunks(1 + rng.below(20)) {
            registry.ingest(chunk.to_vec());
        }
        sim.nodes.push(Node {
            engine: Engine::new(config.clone(), seed ^ i as u64),
            registry,
        });
    }
    let mut closure = Registry::new(fx.genesis.clone(), 10_000);
    closure.ingest(
        all.iter()
            .filter(|e| union.contains(&e.id()))
            .cloned()
            .collect(),
    );
    let target = closure.state_root();
    let initial: Vec<usize> = sim.nodes.iter().map(|n| n.registry.state().len()).collect();
    sim.connect_all();
    let limit = 20_000;
    if let Some(step) = sim.run_until(target, limit) {
        eprintln!(
            "seed {seed}: {nodes} nodes {initial:?} -> {} accepted in {step} steps, \
             {} sessions completed, {} failed",
            closure.state().len(),
            sim.completed,
            sim.failed
        );
        assert!(sim.completed > 0, "seed {seed}");
        return;
    }
    let roots: Vec<(usize, usize)> = sim
        .nodes
        .iter()
        .map(|n| (n.registry.state().len(), n.registry.pending_len()))
        .collect();
    panic!(
        "seed {seed}: {nodes} nodes did not converge in {limit} steps: (accepted, pending) \
         {roots:?}, target {} accepted",
        closure.state().len()
    );
}

#[test]
fn two_nodes_converge() {
    for seed in 0..6 {
        converge(2, seed);
    }
}

#[test]
fn three_nodes_converge() {
    for seed in 100..106 {
        converge(3, seed);
    }
}

#[test]
fn five_nodes_converge() {
    for seed in 200..204 {
        converge(5, seed);
    }
}

/// Root-authored entries on a registry of 3 roots at threshold 2, each node holding a
/// random subset of each entry's signatures (one signature alone leaves it pending
/// there): sync brings every node to the union of what the nodes hold, each entry
/// accepted everywhere with every signature any node had, as soon as that makes two.
fn converge_signatures(nodes: usize, seed: u64) {
    let fx = Fixture::new(3, 2, 3);
    let mut rng = Rng::new(seed.wrapping_mul(17) ^ 0x51c5);
    let full: Vec<SignedEntry> = (0..40)
        .map(|i| {
            fx.accredit(&entity(i))
                .grant("issue", "R1")
                .controller(key(200).did())
                .nonce(i)
                .by_roots(&fx.root_keys(3))
        })
        .collect();
    let mut sim = Sim::new(seed);
    let config = SyncConfig {
        period: Duration::from_secs(2),
        request_timeout: Duration::from_secs(1),
        pipeline: 1 + rng.below(4),
        max_fetches: 1 + rng.below(4),
    };
    let mut given = Vec::new();
    for i in 0..nodes {
        let mut registry = Registry::new(fx.genesis.clone(), 10_000);
        let copies: Vec<SignedEntry> = full
            .iter()
            .map(|e| {
                let mut copy = e.clone();
                let keep = rng.below(3);
                copy.signatures.retain(|_| rng.chance(40));
                if copy.signatures.is_empty() {
                    copy.signatures.push(e.signatures[keep].clone());
                }
                copy
            })
            .collect();
        given.extend(copies.iter().cloned());
        registry.ingest(copies);
        sim.nodes.push(Node {
            engine: Engine::new(config.clone(), seed ^ i as u64),
            registry,
        });
    }
    // What one node holding every copy would hold.
    let mut closure = Registry::new(fx.genesis.clone(), 10_000);
    closure.ingest(given);
    let target = closure.state_root();
    let merged = full
        .iter()
        .filter(|e| {
            let copies = sim
                .nodes
                .iter()
                .filter(|n| n.registry.state().contains(&e.id()));
            copies.count() < nodes && closure.state().contains(&e.id())
        })
        .count();
    let before: Vec<(usize, usize)> = sim
        .nodes
        .iter()
        .map(|n| (n.registry.state().len(), n.registry.pending_len()))
        .collect();
    sim.connect_all();
    let Some(steps) = sim.run_until(target, 20_000) else {
        let held: Vec<(usize, usize, Vec<usize>)> = sim
            .nodes
            .iter()
            .map(|n| {
                let sigs = full
                    .iter()
                    .map(|e| {
                        n.registry
                            .state()
                            .get(&e.id())
                            .map_or(0, |h| h.signatures.len())
                    })
                    .collect();
                (n.registry.state().len(), n.registry.pending_len(), sigs)
            })
            .collect();
        panic!(
            "seed {seed}: {nodes} nodes with signature subsets did not converge: (accepted, \
             pending, signatures held of each entry) {held:?}"
        );
    };
    for (i, n) in sim.nodes.iter().enumerate() {
        for e in &full {
            let held = n
                .registry
                .state()
                .get(&e.id())
                .map(|h| h.signatures.clone());
            let want = closure.state().get(&e.id()).map(|h| h.signatures.clone());
            assert_eq!(held, want, "seed {seed}: node {i}, entry {}", e.id());
        }
    }
    assert!(
        merged > 0,
        "seed {seed}: no entry needed another node's signatures"
    );
    eprintln!(
        "seed {seed}: {nodes} nodes (accepted, pending) {before:?} -> {} accepted with the \
         union of their signatures ({merged} not accepted everywhere before) in {steps} steps",
        closure.state().len()
    );
}

#[test]
fn nodes_with_different_signature_subsets_converge_to_the_union() {
    for (nodes, seed) in [(2, 300), (3, 301), (3, 302), (5, 303)] {
        converge_signatures(nodes, seed);
    }
}

// ---------------------------------------------------------------------------------------
// Cost.

/// Bytes, requests and entries of one session in which `into` pulls from `from`.
#[derive(Debug, Clone, Copy)]
struct Traffic {
    bytes: usize,
    requests: u64,
    fetched: u64,
}

fn pull(from: &mut Registry, into: &mut Registry) -> Traffic {
    let mut engine: Engine<u8> = Engine::new(SyncConfig::default(), 1);
    let now = now0();
    let mut bytes = 0;
    let mut queue: std::collections::VecDeque<Action<u8>> = engine.peer_connected(PEER, now).into();
    while let Some(action) = queue.pop_front() {
        let more = match action {
            Action::Send { id, request, .. } => {
                let response = answer(&request, from);
                bytes += request.encode().len() + response.encode().len();
                engine.on_response(PEER, id, response, now, into)
            }
            Action::Ingest { batch, entries, .. } => {
                into.ingest(entries);
                engine.on_ingested(PEER, batch, now, into)
            }
            Action::Finished { report, .. } => {
                assert!(report.completed, "{report:?}");
                return Traffic {
                    bytes,
                    requests: report.requests,
                    fetched: report.fetched,
                };
            }
            Action::Penalise { reason, .. } => panic!("honest peer penalised: {reason}"),
        };
        queue.extend(more);
    }
    panic!("the session never finished");
}

#[test]
fn repair_cost_grows_with_the_difference_not_the_size() {
    let fx = fixture();
    let all = plain_entries(&fx, 0, 20_000);
    let mut rng = Rng::new(42);
    let mut measure = |n: usize, k: usize| {
        let mut missing: HashMap<EntryId, ()> = HashMap::new();
        while missing.len() < k {
            missing.insert(all[rng.below(n)].id(), ());
        }
        let mut full = registry_of(&fx, &all[..n]);
        let kept: Vec<SignedEntry> = all[..n]
            .iter()
            .filter(|e| !missing.contains_key(&e.id()))
            .cloned()
            .collect();
        let mut behind = registry_of(&fx, &kept);
        let t = pull(&mut full, &mut behind);
        assert_eq!(
            behind.state_root(),
            full.state_root(),
            "n={n} k={k}: {t:?}, {} vs {} entries",
            behind.state().len(),
            full.state().len()
        );
        assert_eq!(t.fetched, k as u64, "n={n} k={k}: fetched {t:?}");
        let missing_bytes: usize = all[..n]
            .iter()
            .filter(|e| missing.contains_key(&e.id()))
            .map(|e| e.encode().len())
            .sum();
        eprintln!(
            "n={n} k={k}: {} bytes ({:.2}x the missing {missing_bytes}), {} requests",
            t.bytes,
            t.bytes as f64 / missing_bytes as f64,
            t.requests
        );
        t
    };
    let small = measure(2_000, 50);
    let large = measure(20_000, 50);
    let more = measure(20_000, 500);
    assert!(
        large.bytes as f64 <= 1.5 * small.bytes as f64,
        "10x the entries cost {} bytes vs {}",
        large.bytes,
        small.bytes
    );
    assert!(
        more.bytes as f64 >= 4.0 * large.bytes as f64,
        "10x the difference cost only {} bytes vs {}",
        more.bytes,
        large.bytes
    );
    // In sync already: one round trip.
    let mut a = registry_of(&fx, &all[..2_000]);
    let mut b = registry_of(&fx, &all[..2_000]);
    let same = pull(&mut a, &mut b);
    assert_eq!((same.requests, same.fetched), (1, 0));
}
