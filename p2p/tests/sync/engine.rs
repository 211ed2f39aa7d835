//! Engine behaviour without a network: the session queue, timeouts, the sync period,
//! and the bounds on fetches by id.

use super::*;

#[test]
fn sessions_queue_one_at_a_time_without_duplicates() {
    let fx = fixture();
    let local = registry_of(&fx, &plain_entries(&fx, 0, 5));
    let mut engine: Engine<u8> = Engine::new(SyncConfig::default(), 5);
    let now = now0();
    let a = sends(&engine.peer_connected(1, Dialled::ByUs, now));
    assert_eq!(a.len(), 1);
    assert!(sends(&engine.peer_connected(2, Dialled::ByUs, now)).is_empty());
    assert!(sends(&engine.peer_connected(2, Dialled::ByUs, now)).is_empty());
    assert_eq!(engine.connected(), 2);
    assert_eq!(engine.queued(), 1);
    // Equal roots end the session at once, and the queued peer's session starts.
    let root = local.root();
    let actions = engine.on_response(
        1,
        a[0].0,
        SyncResponse::Root { root, entries: 5 },
        now,
        &local,
    );
    let report = finished(&actions).unwrap_or_else(|| panic!("no Finished: {actions:?}"));
    assert!(report.completed());
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
    let local = registry_of(&fx, &plain_entries(&fx, 0, 5));
    let config = SyncConfig::default();
    let mut engine: Engine<u8> = Engine::new(config.clone(), 5);
    let t0 = now0();
    let first = sends(&engine.peer_connected(1, Dialled::ByUs, t0));
    engine.peer_connected(2, Dialled::ByUs, t0);
    // Not yet timed out.
    let actions = engine.tick(t0 + config.request_timeout / 2, &local);
    assert!(finished(&actions).is_none());
    let late = t0 + config.request_timeout;
    let actions = engine.tick(late, &local);
    let report = finished(&actions).unwrap_or_else(|| panic!("no timeout: {actions:?}"));
    assert!(!report.completed());
    assert_eq!(report.error, Some(SessionError::TimedOut));
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
        &local,
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
        &local,
    );
    assert!(ignored.is_empty(), "{ignored:?}");
    assert!(engine.busy());
    let actions = engine.peer_disconnected(2, late);
    let report = finished(&actions).unwrap_or_else(|| panic!("no Finished: {actions:?}"));
    assert!(!report.completed() && report.error.is_some());
    assert_eq!(report.error, Some(SessionError::Disconnected));
    assert!(!engine.busy());
    assert_eq!(engine.connected(), 1);
    assert_eq!(engine.in_flight(), 0);
    // A failed request fails its session.
    let mut engine: Engine<u8> = Engine::new(config, 5);
    let first = sends(&engine.peer_connected(1, Dialled::ByUs, t0));
    let actions = engine.on_failure(1, first[0].0, t0);
    assert!(finished(&actions).is_some_and(|r| !r.completed()));
    let report = finished(&actions).unwrap();
    assert_eq!(report.error, Some(SessionError::RequestFailed));
    assert!(!SessionError::RequestFailed.peer_fault());
}

#[test]
fn periodic_sessions_pick_connected_peers() {
    let fx = fixture();
    let local = registry_of(&fx, &plain_entries(&fx, 0, 5));
    let root = local.root();
    let config = SyncConfig::default();
    let mut engine: Engine<u8> = Engine::new(config.clone(), 11);
    let mut now = now0();
    let mut picked = HashSet::new();
    let mut sessions = 0;
    let mut pending = Vec::new();
    for p in 1..=3 {
        pending.extend(engine.peer_connected(p, Dialled::ByUs, now));
    }
    for _ in 0..200 {
        now += config.period / 4;
        let mut actions = std::mem::take(&mut pending);
        actions.extend(engine.tick(now, &local));
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
                &local,
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
    let local = registry_of(&fx, &held);
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
    assert!(engine.want(asked, None, now, &local).is_empty());
    let actions = engine.peer_connected(PEER, Dialled::ByUs, now);
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
    assert!(sends(&engine.want(ids[..10].to_vec(), None, now, &local)).is_empty());
    assert!(sends(&engine.want(ids[2 * MAX_IDS..].to_vec(), None, now, &local)).is_empty());
    // An empty reply frees a slot: the waiting ids go out; no session ends.
    let actions = engine.on_response(
        PEER,
        fetches[0].0,
        SyncResponse::Entries {
            entries: Vec::new(),
        },
        now,
        &local,
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
    let again = engine.want(ids[..10].to_vec(), Some(PEER), now, &local);
    assert!(sends(&again).is_empty(), "both fetch slots are busy");
    assert_eq!(engine.in_flight(), 3, "the session's Root and two fetches");
}
