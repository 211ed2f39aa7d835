//! What one sync session costs: two registries, the second missing `percent`% of the
//! first's entries (chosen at random, seeded), and one session in which the second pulls
//! from the first through [`Engine`] and [`answer`], in process.
//!
//! `cargo run --release -p registry-p2p --example sync_cost -- [n] [percent]`
//! (defaults: 100000 entries, 1%).

use std::time::Instant;

use p2p::sync::{answer, Action, Dialled, Engine, Ingested, SyncConfig};
use registry_core::registry::{IngestReport, Registry};
use registry_core::rng::SplitMix64;
use registry_core::testkit::{authority, issuer, key, Fixture, AUTHORITY_KEY_SEED};
use registry_core::SignedEntry;

fn arg<T: std::str::FromStr>(i: usize, default: T) -> Result<T, String> {
    match std::env::args().nth(i) {
        None => Ok(default),
        Some(s) => s
            .parse()
            .map_err(|_| format!("argument {i} ({s:?}) is not a number")),
    }
}

/// A registry holding `entries`, which this program signed itself (not verified again).
fn registry_of(fx: &Fixture, entries: &[SignedEntry]) -> Registry {
    let mut reg = Registry::new(fx.genesis.clone(), 10_000);
    let mut report = IngestReport::default();
    for e in entries {
        reg.offer_checked(e.clone(), &mut report);
    }
    reg.rehash();
    reg
}

fn main() -> Result<(), String> {
    let n: u64 = arg(1, 100_000)?;
    let percent: f64 = arg(2, 1.0)?;
    if !(0.0..=100.0).contains(&percent) {
        return Err(format!("percent must be 0 to 100, got {percent}"));
    }

    let started = Instant::now();
    let fx = Fixture::new(1, 1, 3);
    let auth = authority(&fx);
    let signer = key(AUTHORITY_KEY_SEED);
    let mut entries = vec![auth.clone()];
    entries.extend((0..n).map(|i| issuer(&fx, auth.id(), &signer, i)));
    // The authority stays, so every entry the second node receives can be accepted.
    let mut rng = SplitMix64::new(0x5eed);
    let threshold = (percent / 100.0 * u64::MAX as f64) as u64;
    let (mut missing, mut kept) = (Vec::new(), Vec::new());
    for (i, e) in entries.iter().enumerate() {
        if i > 0 && rng.next_u64() < threshold {
            missing.push(e.clone());
        } else {
            kept.push(e.clone());
        }
    }
    let full = registry_of(&fx, &entries);
    let mut behind = registry_of(&fx, &kept);
    let missing_bytes: usize = missing.iter().map(|e| e.encode().len()).sum();
    eprintln!(
        "set up {} + {} entries in {:.1?}",
        entries.len(),
        kept.len(),
        started.elapsed()
    );

    let started = Instant::now();
    let mut engine: Engine<u8> = Engine::new(SyncConfig::default(), 1);
    let now = Instant::now();
    let (mut request_bytes, mut reply_bytes) = (0usize, 0usize);
    let mut round_trips = 0u64;
    let mut wave: Vec<Action<u8>> = engine.peer_connected(0, Dialled::ByUs, now);
    let report = loop {
        // The requests of one wave are in flight together (up to the pipeline): one round
        // trip. Their replies and ingests make the next wave.
        if wave.iter().any(|a| matches!(a, Action::Send { .. })) {
            round_trips += 1;
        }
        let mut next = Vec::new();
        let mut done = None;
        for action in wave.drain(..) {
            match action {
                Action::Send { id, request, .. } => {
                    let response = answer(&request, &full);
                    request_bytes += request.encode().len();
                    reply_bytes += response.encode().len();
                    next.extend(engine.on_response(0, id, response, now, &behind));
                }
                Action::Ingest { batch, entries, .. } => {
                    let stored = behind.ingest(entries);
                    let ingested = Ingested::of(stored.outcomes.into_iter().map(|(_, o)| o));
                    next.extend(engine.on_ingested(0, batch, ingested, now, &behind));
                }
                Action::Finished { report, .. } => done = Some(report),
                Action::Penalise { offence, .. } => return Err(format!("penalised: {offence}")),
            }
        }
        if let Some(report) = done {
            break report;
        }
        if next.is_empty() {
            return Err("the session stalled".into());
        }
        wave = next;
    };
    let elapsed = started.elapsed();
    if !report.completed() || behind.state_root() != full.state_root() {
        return Err(format!("the session did not converge: {report:?}"));
    }

    let total = request_bytes + reply_bytes;
    println!("entries (n)            {n}");
    println!("missing entries        {}", missing.len());
    println!("missing entry bytes    {missing_bytes}");
    println!("request bytes          {request_bytes}");
    println!("reply bytes            {reply_bytes}");
    println!("total bytes exchanged  {total}");
    println!(
        "ratio                  {:.2}",
        total as f64 / missing_bytes.max(1) as f64
    );
    println!("requests               {}", report.requests);
    println!("round trips            {round_trips}");
    println!("entries fetched        {}", report.fetched);
    println!("time                   {elapsed:.1?}");
    Ok(())
}
