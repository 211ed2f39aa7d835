//! Scenarios: each starts a fresh testnet, does its work, checks its invariants, and
//! returns a [`Report`]. They wait on conditions with deadlines (polling the nodes' HTTP
//! APIs); none sleeps in the hope that something has happened.

pub mod byzantine;
pub mod catchup_load;
pub mod checkpoint;
pub mod crash;
pub mod late_join;
pub mod load;
pub mod partition;
pub mod propagation;

use std::time::{Duration, Instant};

use anyhow::bail;
use registry_cli::Client;
use registry_core::api::TrustParams;
use registry_core::Hash;

use crate::eco::{ACTION, RESOURCE};
use crate::net::Testnet;
use crate::stats::Report;

/// Settings shared by every scenario (`testnet run` flags).
#[derive(Debug, Clone)]
pub struct Params {
    pub seed: u64,
    pub rounds: usize,
    pub entries: usize,
    pub preload_percent: u8,
    /// Trust queries per second of the paced load (catchup-load).
    pub rate: f64,
    /// Seconds of the idle window (catchup-load).
    pub idle_secs: u64,
    /// Niceness of the joiner's process (catchup-load).
    pub joiner_nice: u8,
}

/// The scenarios' generator: the seed reproduces a run's choices.
pub use registry_core::rng::SplitMix64 as Rng;

/// The trust question of the scenarios about issuer `n`.
pub fn issuer_question(n: u64) -> TrustParams {
    TrustParams {
        entity_id: crate::eco::Ecosystem::issuer_entity(n).to_string(),
        action: ACTION.into(),
        resource: RESOURCE.into(),
        at: None,
        kind: None,
    }
}

pub fn authorized(client: &Client, q: &TrustParams) -> Option<bool> {
    client.trust(q).ok().map(|a| a.authorized)
}

/// Polls the nodes (one request at a time, round robin, so the poller itself loads the
/// machine little) until `check` holds on each, or `deadline` passes. Returns, per node,
/// how long after `since` it was first seen to hold; `None` for nodes that never did.
pub fn wait_all(
    clients: &[&Client],
    since: Instant,
    deadline: Duration,
    check: impl Fn(&Client) -> bool,
) -> Vec<Option<Duration>> {
    let mut seen: Vec<Option<Duration>> = vec![None; clients.len()];
    let end = since + deadline;
    while seen.iter().any(Option::is_none) && Instant::now() < end {
        for (i, c) in clients.iter().enumerate() {
            if seen[i].is_none() && check(c) {
                seen[i] = Some(since.elapsed());
            }
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    seen
}

/// The slowest node's time, or an error naming how many never got there.
pub fn slowest(times: &[Option<Duration>], what: &str) -> anyhow::Result<Duration> {
    let missing = times.iter().filter(|t| t.is_none()).count();
    if missing > 0 {
        bail!("{missing} of {} nodes never saw {what}", times.len());
    }
    Ok(times.iter().flatten().copied().max().unwrap_or_default())
}

/// Waits until every running node reports the same state root; returns it and the time.
pub fn wait_converged(net: &Testnet, deadline: Duration) -> anyhow::Result<(Hash, Duration)> {
    let started = Instant::now();
    let clients: Vec<(usize, Client)> = net
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.pid != 0)
        .map(|(i, _)| net.client(i).map(|c| (i, c)))
        .collect::<anyhow::Result<_>>()?;
    loop {
        let roots: Vec<Option<(Hash, u64)>> = clients
            .iter()
            .map(|(_, c)| c.status().ok().map(|s| (s.state_root, s.entries)))
            .collect();
        if let Some(Some(first)) = roots.first() {
            if roots
                .iter()
                .all(|r| r.as_ref().map(|r| r.0) == Some(first.0))
            {
                return Ok((first.0, started.elapsed()));
            }
        }
        if started.elapsed() > deadline {
            let shown: Vec<String> = clients
                .iter()
                .zip(&roots)
                .map(|((i, _), r)| match r {
                    Some((root, n)) => {
                        format!("node-{i}: {n} entries, root {}", &root.to_hex()[..12])
                    }
                    None => format!("node-{i}: no answer"),
                })
                .collect();
            bail!(
                "state roots did not converge in {deadline:?}: {}",
                shown.join("; ")
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Submits the ecosystem's authority through node 0 and waits until every node holds it.
pub fn install_authority(net: &Testnet, report: &mut Report) -> anyhow::Result<()> {
    let clients = net.clients()?;
    let started = Instant::now();
    clients[0].submit(&net.eco.authority)?;
    let id = net.eco.authority.id();
    let refs: Vec<&Client> = clients.iter().collect();
    let times = wait_all(&refs, started, Duration::from_secs(30), |c| {
        c.entry(&id).is_ok_and(|v| v.height.is_some())
    });
    let t = slowest(&times, "the authority's accreditation")?;
    report.figure(
        "setup_authority_ms",
        t.as_secs_f64() * 1e3,
        format!(
            "{:.1} ms until every node held the authority",
            t.as_secs_f64() * 1e3
        ),
    );
    Ok(())
}
