//! The sync engine and responder without sockets: what `answer` says, how the engine
//! treats replies that do not answer their request, its policy (who runs first, fetches
//! of missing references, penalties for invalid entries), convergence of several nodes
//! over a lossy network that delivers in random order, and the cost of a repair.
//!
//! Every random case is seeded; a failure names its seed.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use p2p::protocol::{
    ShortHash, Summary, SyncRequest, SyncResponse, LEAF_IDS, MAX_IDS, MAX_PREFIXES,
    REPLY_BUDGET_BYTES,
};
use p2p::sync::{
    answer, Action, Dialled, Engine, Ingested, LocalSet, RequestId, SessionError, SessionReport,
    SyncConfig,
};
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

/// Stores `entries` in `registry` the way the node stores synced ones; what became of
/// them, for [`Engine::on_ingested`].
fn ingest(registry: &mut Registry, entries: Vec<SignedEntry>) -> Ingested {
    let report = registry.ingest(entries);
    Ingested::of(report.outcomes.into_iter().map(|(_, outcome)| outcome))
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
        Action::Penalise { offence, .. } => Some(offence.to_string()),
        _ => None,
    })
}

const PEER: u8 = 1;

mod converge;
mod cost;
mod engine;
mod policy;
mod replies;
mod responder;
mod sim;
