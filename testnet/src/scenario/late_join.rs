//! `late-join`: a node joins a network that holds many entries and catches up; how long
//! it takes and how many bytes sync moved.
//!
//! The network's nodes receive `--entries` accreditations through node 0 (and by gossip
//! from it). Then a new node starts, bootstrapping from node 0. With `--preload P`, the new
//! node first receives P% of the entries while it is on its own, so the run measures the
//! repair of a difference instead of a catch-up from nothing.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use registry_cli::bulk::{submit_all, Item};
use registry_cli::Client;
use registry_core::{codec, SignedEntry};

use super::{install_authority, wait_converged, Params, Rng};
use crate::net::Testnet;
use crate::stats::Report;

/// Bytes of sync traffic a node has read and written, from its metrics.
pub fn sync_bytes(client: &Client) -> anyhow::Result<u64> {
    let text = client.metrics()?;
    let mut total = 0;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("registry_sync_bytes_total{") {
            let value = rest.rsplit(' ').next().unwrap_or("0");
            total += value.parse::<u64>().unwrap_or(0);
        }
    }
    Ok(total)
}

fn submit(client: &Client, entries: &[SignedEntry]) -> anyhow::Result<()> {
    let items = entries
        .iter()
        .enumerate()
        .map(|(i, e)| -> Item { (i as u64, Ok(e.clone())) });
    let summary = submit_all(client, items, 32, &|_| {})?;
    if summary.rejected > 0 {
        bail!(
            "{} entries were refused: {:?}",
            summary.rejected,
            summary.first_rejections
        );
    }
    Ok(())
}

/// Waits until node `i` holds `entries` entries.
fn wait_entries(client: &Client, entries: u64, deadline: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        let held = client.status().map(|s| s.entries).unwrap_or(0);
        if held >= entries {
            return Ok(started.elapsed());
        }
        if started.elapsed() > deadline {
            bail!(
                "{} holds {held} of {entries} entries after {deadline:?}",
                client.base_url()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Submits `p.entries` issuer accreditations (numbered from `first`) through node 0 and
/// waits until every node holds them; returns them.
pub fn load_network(
    net: &Testnet,
    p: &Params,
    report: &mut Report,
    first: u64,
) -> anyhow::Result<Vec<SignedEntry>> {
    let started = Instant::now();
    let entries: Vec<SignedEntry> = (0..p.entries as u64)
        .map(|k| net.eco.issuer(first + k))
        .collect();
    report.figure(
        "entries",
        p.entries,
        format!(
            "{} (signed in {:.1} s)",
            p.entries,
            started.elapsed().as_secs_f64()
        ),
    );
    let started = Instant::now();
    submit(&net.client(0)?, &entries).context("loading the network")?;
    let total = p.entries as u64 + 1;
    for i in 0..net.nodes.len() {
        wait_entries(&net.client(i)?, total, load_deadline(p))?;
    }
    report.figure(
        "network_loaded_s",
        started.elapsed().as_secs_f64(),
        format!(
            "{:.1} s until all {} nodes held every entry",
            started.elapsed().as_secs_f64(),
            net.nodes.len()
        ),
    );
    Ok(entries)
}

fn load_deadline(p: &Params) -> Duration {
    Duration::from_secs(120 + p.entries as u64 / 500)
}

pub fn run(net: &mut Testnet, p: &Params, report: &mut Report) -> anyhow::Result<()> {
    let mut rng = Rng::new(p.seed);
    install_authority(net, report)?;
    let entries = load_network(net, p, report, 1_000_000)?;
    let total = p.entries as u64 + 1;
    let deadline = load_deadline(p);

    // The new node, alone first when it is preloaded.
    let preload: Vec<&SignedEntry> = entries
        .iter()
        .filter(|_| rng.below(100) < usize::from(p.preload_percent))
        .collect();
    let joiner = if preload.is_empty() {
        net.init_node(vec![0])?
    } else {
        let j = net.init_node(vec![])?;
        net.start(j)?;
        let mut first = vec![net.eco.authority.clone()];
        first.extend(preload.iter().map(|e| (*e).clone()));
        submit(&net.client(j)?, &first).context("preloading the new node")?;
        net.stop(j, false)?;
        net.nodes[j].bootstrap = vec![0];
        net.write_config(j)?;
        j
    };
    let preloaded = if preload.is_empty() {
        0
    } else {
        preload.len() + 1
    };
    let mut held: std::collections::HashSet<_> = preload.iter().map(|e| e.id()).collect();
    if preloaded > 0 {
        held.insert(net.eco.authority.id());
    }
    let missing_bytes: usize = std::iter::once(&net.eco.authority)
        .chain(entries.iter())
        .filter(|e| !held.contains(&e.id()))
        .map(|e| codec::encode(e).len())
        .sum();
    let started = Instant::now();
    net.start(joiner)?;
    let ready = started.elapsed();
    let (_, caught_up) = wait_converged(net, deadline)?;
    let caught_up = ready + caught_up;
    let client = net.client(joiner)?;
    let bytes = sync_bytes(&client)?;
    let missing = total as usize - preloaded;
    report.figure(
        "preloaded",
        preloaded,
        format!("{preloaded} entries held by the new node before it joined"),
    );
    report.figure(
        "catch_up_s",
        caught_up.as_secs_f64(),
        format!(
            "{:.2} s from start to equal state roots ({:.2} s of it starting; {missing} entries, {:.0} entries/s)",
            caught_up.as_secs_f64(),
            ready.as_secs_f64(),
            missing as f64 / caught_up.as_secs_f64().max(1e-9)
        ),
    );
    report.figure(
        "sync_bytes",
        bytes,
        format!(
            "{bytes} bytes of sync traffic at the new node; the missing entries are {missing_bytes} bytes ({:.2}x)",
            bytes as f64 / missing_bytes.max(1) as f64
        ),
    );
    report.figure(
        "missing_entry_bytes",
        missing_bytes,
        format!("{missing_bytes}"),
    );
    if client.status()?.entries != total {
        report.fail("the new node does not hold every entry");
    }
    Ok(())
}
