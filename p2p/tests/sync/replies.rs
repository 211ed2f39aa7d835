//! How the engine treats replies that do not answer their request: the peer is
//! penalised and a session ends.

use super::*;

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
        let first = sends(&p.engine.peer_connected(PEER, Dialled::ByUs, p.now));
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
            .on_response(PEER, id, response, self.now, &self.local)
    }

    /// Sends `response` to request `id` and checks that the peer is penalised and the
    /// session failed.
    fn expect_penalty(&mut self, id: RequestId, response: SyncResponse, case: &str) {
        let actions = self.reply(id, response);
        let reason = penalised(&actions);
        assert!(reason.is_some(), "{case}: not penalised: {actions:?}");
        let report = finished(&actions).unwrap_or_else(|| panic!("{case}: session not ended"));
        assert!(!report.completed(), "{case}");
        assert!(report.error.is_some(), "{case}");
        assert!(
            report.error.as_ref().is_some_and(SessionError::peer_fault),
            "{case}: {report:?}"
        );
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
    let root = sends(&p.engine.peer_connected(PEER, Dialled::ByUs, p.now));
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
    let local = registry_of(&fx, &[]);
    let now = now0();
    engine.peer_connected(PEER, Dialled::ByUs, now);
    let wanted = vec![theirs[1].id()];
    let actions = engine.want(wanted.clone(), Some(PEER), now, &local);
    let (id, request) = sends(&actions)[0].clone();
    assert_eq!(request, SyncRequest::Entries { ids: wanted });
    let actions = engine.on_response(
        PEER,
        id,
        SyncResponse::Entries {
            entries: theirs[..1].to_vec(),
        },
        now,
        &local,
    );
    assert!(penalised(&actions).is_some(), "{actions:?}");
    assert!(!actions.iter().any(|a| matches!(a, Action::Ingest { .. })));
    assert!(finished(&actions).is_none());
}
