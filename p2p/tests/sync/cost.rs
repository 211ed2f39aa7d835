//! The cost of a repair.

use super::*;

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
    let mut queue: std::collections::VecDeque<Action<u8>> =
        engine.peer_connected(PEER, Dialled::ByUs, now).into();
    while let Some(action) = queue.pop_front() {
        let more = match action {
            Action::Send { id, request, .. } => {
                let response = answer(&request, from);
                bytes += request.encode().len() + response.encode().len();
                engine.on_response(PEER, id, response, now, into)
            }
            Action::Ingest { batch, entries, .. } => {
                let ingested = ingest(into, entries);
                engine.on_ingested(PEER, batch, ingested, now, into)
            }
            Action::Finished { report, .. } => {
                assert!(report.completed(), "{report:?}");
                return Traffic {
                    bytes,
                    requests: report.requests,
                    fetched: report.fetched,
                };
            }
            Action::Penalise { offence, .. } => panic!("honest peer penalised: {offence}"),
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
