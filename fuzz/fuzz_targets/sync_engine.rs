//! The sync engine fed replies a peer chose. The input is a script of events: honest
//! replies (what `answer` says over a peer registry), honest replies with bytes flipped
//! or cut, raw bytes as a reply, request failures, time passing, ingests finishing,
//! peers coming and going, and wanted ids. Whatever the replies, the engine must not
//! panic, must keep its requests within the protocol's limits and its in-flight work
//! bounded, and must only hand entries to ingest that decode from what the peer sent.
#![no_main]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use p2p::protocol::{SyncRequest, SyncResponse, MAX_ENTRIES, MAX_REQUEST_BYTES};
use p2p::sync::{answer, Action, Dialled, Engine, Ingested, RequestId, SyncConfig};
use registry_core::registry::Registry;
use registry_core::SignedEntry;
use registry_fuzz::{registry_of, world, ENTRIES};

/// Events per input, so one input cannot run for long.
const MAX_EVENTS: usize = 512;

/// What the driver holds for the engine: requests sent and not yet answered, ingests
/// not yet finished.
#[derive(Default)]
struct Pending {
    sent: VecDeque<(u8, RequestId, SyncRequest)>,
    ingests: VecDeque<(u8, u64, Vec<SignedEntry>)>,
}

impl Pending {
    fn absorb(&mut self, actions: Vec<Action<u8>>, config: &SyncConfig, engine: &Engine<u8>) {
        for action in actions {
            match action {
                Action::Send { peer, id, request } => {
                    let bytes = request.encode();
                    assert!(
                        bytes.len() <= MAX_REQUEST_BYTES,
                        "request of {} bytes",
                        bytes.len()
                    );
                    assert_eq!(SyncRequest::decode(&bytes).as_ref(), Ok(&request));
                    self.sent.push_back((peer, id, request));
                }
                Action::Ingest {
                    peer,
                    batch,
                    entries,
                } => {
                    assert!(entries.len() <= MAX_ENTRIES);
                    self.ingests.push_back((peer, batch, entries));
                }
                Action::Finished { .. } | Action::Penalise { .. } => {}
            }
        }
        let bound = config.pipeline + config.max_fetches;
        assert!(
            engine.in_flight() <= bound,
            "{} requests in flight",
            engine.in_flight()
        );
        assert!(engine.connected() <= 4);
    }
}

/// Takes `n` bytes off the front of the script (fewer at its end).
fn take<'a>(script: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, tail) = script.split_at(n.min(script.len()));
    *script = tail;
    head
}

fn byte(script: &mut &[u8]) -> u8 {
    take(script, 1).first().copied().unwrap_or(0)
}

fuzz_target!(|data: &[u8]| {
    let entries = &world().entries;
    // The peer holds every entry; this node a third of them, so sessions have work.
    let mut peer_set: Registry = registry_of(entries);
    let mut local: Registry = registry_of(&entries[..(ENTRIES / 3) as usize]);
    let config = SyncConfig::default();
    let mut engine: Engine<u8> = Engine::new(config.clone(), 7);
    let mut now = Instant::now();
    let mut pending = Pending::default();
    let actions = engine.peer_connected(1, Dialled::ByUs, now);
    pending.absorb(actions, &config, &engine);

    let mut script = data;
    for _ in 0..MAX_EVENTS {
        if script.is_empty() {
            break;
        }
        let op = byte(&mut script);
        let actions = match op % 9 {
            // An honest reply to the oldest request, possibly with one byte flipped or
            // cut short.
            0..=2 => {
                let Some((peer, id, request)) = pending.sent.pop_front() else {
                    continue;
                };
                let mut bytes = answer(&request, &mut peer_set).encode();
                if op % 9 == 1 && !bytes.is_empty() {
                    let at =
                        usize::from(u16::from_le_bytes([byte(&mut script), byte(&mut script)]));
                    let len = bytes.len();
                    bytes[at % len] ^= byte(&mut script) | 1;
                } else if op % 9 == 2 {
                    let keep = usize::from(byte(&mut script)) * bytes.len() / 256;
                    bytes.truncate(keep);
                }
                match SyncResponse::decode(&bytes) {
                    Ok(reply) => engine.on_response(peer, id, reply, now, &mut local),
                    // The codec refuses what does not decode; the engine sees a failure.
                    Err(_) => engine.on_failure(peer, id, now),
                }
            }
            // Raw bytes as the reply to the oldest request.
            3 => {
                let Some((peer, id, _)) = pending.sent.pop_front() else {
                    continue;
                };
                let len = usize::from(byte(&mut script)) * 4;
                match SyncResponse::decode(take(&mut script, len)) {
                    Ok(reply) => engine.on_response(peer, id, reply, now, &mut local),
                    Err(_) => engine.on_failure(peer, id, now),
                }
            }
            4 => match pending.sent.pop_front() {
                Some((peer, id, _)) => engine.on_failure(peer, id, now),
                None => continue,
            },
            5 => {
                now += Duration::from_millis(u64::from(byte(&mut script)) * 100);
                engine.tick(now, &mut local)
            }
            // The oldest ingest is stored the way the node stores synced entries.
            6 => {
                let Some((peer, batch, batch_entries)) = pending.ingests.pop_front() else {
                    continue;
                };
                let stored = local.ingest(batch_entries);
                let ingested = Ingested::of(stored.outcomes.into_iter().map(|(_, o)| o));
                engine.on_ingested(peer, batch, ingested, now, &mut local)
            }
            7 => {
                let peer = byte(&mut script) % 4;
                let how = byte(&mut script);
                if how & 1 == 0 {
                    let dialled = if how & 2 == 0 {
                        Dialled::ByUs
                    } else {
                        Dialled::ByThem
                    };
                    engine.peer_connected(peer, dialled, now)
                } else {
                    pending.sent.retain(|(p, _, _)| *p != peer);
                    engine.peer_disconnected(peer, now)
                }
            }
            _ => {
                let from = byte(&mut script) % 5;
                let ids = local.missing(64);
                engine.want(ids, (from < 4).then_some(from), now, &mut local)
            }
        };
        pending.absorb(actions, &config, &engine);
    }
    // Nothing this node holds came from anywhere but the signed entries of the world.
    assert!(local.state().len() <= entries.len());
});
