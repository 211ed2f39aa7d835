//! `load`: trust queries against every node while entries are written; throughput and
//! latency.
//!
//! The network first holds `--entries` accreditations. Then, for `--rounds` seconds, four
//! query threads per node ask `/v1/trust` about random issuers (closed loop, keep-alive
//! connections), while one writer submits new accreditations to random nodes. Every query
//! must succeed; the figures are the queries per second, their latency, and the writes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;

use super::late_join::load_network;
use super::{install_authority, issuer_question, wait_converged, Params, Rng};
use crate::net::Testnet;
use crate::stats::Report;

/// Query threads per node.
const THREADS_PER_NODE: usize = 4;

pub fn run(net: &mut Testnet, p: &Params, report: &mut Report) -> anyhow::Result<()> {
    let n = net.nodes.len();
    install_authority(net, report)?;
    let loaded = p.entries as u64;
    load_network(net, p, report, 1_000_000)?;
    let seconds = p.rounds.max(1) as u64;
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let mut queriers = Vec::new();
    for t in 0..n * THREADS_PER_NODE {
        let client = net.client(t % n)?;
        let (stop, errors) = (stop.clone(), errors.clone());
        let mut rng = Rng::new(p.seed ^ (t as u64 + 1));
        queriers.push(std::thread::spawn(move || {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let q = issuer_question(1_000_000 + rng.below(loaded.max(1) as usize) as u64);
                let started = Instant::now();
                match client.trust(&q) {
                    Ok(a) if a.authorized => latencies.push(started.elapsed()),
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    let writer = {
        let clients = net.clients()?;
        let (stop, eco) = (stop.clone(), net.eco.clone());
        let mut rng = Rng::new(p.seed ^ 0x3417e);
        std::thread::spawn(move || {
            let (mut k, mut acked) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                k += 1;
                if clients[rng.below(clients.len())]
                    .submit(&eco.issuer(2_000_000 + k))
                    .is_ok()
                {
                    acked += 1;
                }
            }
            acked
        })
    };
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let mut latencies = Vec::new();
    for q in queriers {
        match q.join() {
            Ok(l) => latencies.extend(l),
            Err(_) => bail!("a query thread panicked"),
        }
    }
    let writes = writer.join().unwrap_or(0);
    let errors = errors.load(Ordering::Relaxed);
    report.figure(
        "queries_per_s",
        latencies.len() as f64 / elapsed,
        format!(
            "{:.0} trust queries/s over {n} nodes ({} threads, {seconds} s, {} entries held)",
            latencies.len() as f64 / elapsed,
            n * THREADS_PER_NODE,
            loaded + 1
        ),
    );
    report.timing("query_latency", &latencies);
    report.figure(
        "writes_per_s",
        writes as f64 / elapsed,
        format!(
            "{:.0} entries/s written durably meanwhile ({writes} in all)",
            writes as f64 / elapsed
        ),
    );
    report.figure(
        "errors",
        errors,
        format!("{errors} failed or wrong answers"),
    );
    if errors > 0 {
        report.fail(format!("{errors} queries failed or answered wrongly"));
    }
    wait_converged(net, Duration::from_secs(120))?;
    Ok(())
}
