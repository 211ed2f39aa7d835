//! `catchup-load`: how much a node's trust queries slow down while it answers a late
//! joiner's catch-up.
//!
//! Node A (the testnet's only node) first holds `--entries` accreditations. Trust queries
//! about random issuers then go to A at a fixed rate (`--rate`, open loop: request `n` is
//! due at `start + n / rate` whatever happened to the earlier ones, so a stall shows as the
//! queue behind it). For `--idle-secs` A does nothing else: the idle latency. Then a fresh
//! node B starts with A as its only bootstrap peer and fetches every entry by sync; the
//! queries that were due from B's start until B holds as many entries as A are the busy
//! latency. The figure is busy p99 / idle p99 (the target is at most 2).
//!
//! A query's latency counts from its due time when its connection was still busy with the
//! previous answer then, and from its actual send otherwise: a stalled node cannot hide
//! the queue it caused, and a late pacer is not blamed on the node.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use registry_cli::Client;

use super::late_join::{load_network, sync_bytes};
use super::{install_authority, issuer_question, wait_converged, Params, Rng};
use crate::net::Testnet;
use crate::stats::{Percentiles, Report};

/// Connections (one blocking client thread each) that share the query rate. Enough that
/// a connection is free again long before its next turn at an idle node's latency.
const CONNECTIONS: usize = 16;
/// Below this many busy samples the p99 rests on fewer than ten of them.
const ENOUGH_SAMPLES: usize = 1_000;
/// Target of the figure: busy p99 at most this many times the idle p99.
const TARGET_RATIO: f64 = 2.0;

/// One trust query of the paced load.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// When it was due, after the start of the load.
    due: Duration,
    latency: Duration,
    /// Whether it was answered `authorized: true`.
    ok: bool,
}

/// Trust queries at a fixed rate to one node, from a pacer thread that releases each
/// query at its due time to the connection whose turn it is.
struct PacedLoad {
    start: Instant,
    stop: Arc<AtomicBool>,
    pacer: JoinHandle<()>,
    workers: Vec<JoinHandle<Vec<Sample>>>,
}

impl PacedLoad {
    /// Starts `rate` queries a second over `clients` about issuers `first..first + issuers`.
    fn start(clients: Vec<Client>, rate: f64, first: u64, issuers: usize, seed: u64) -> PacedLoad {
        let start = Instant::now() + Duration::from_millis(50);
        let stop = Arc::new(AtomicBool::new(false));
        let mut senders = Vec::new();
        let mut workers = Vec::new();
        for (k, client) in clients.into_iter().enumerate() {
            let (tx, rx) = mpsc::channel::<Instant>();
            senders.push(tx);
            let mut rng = Rng::new(seed ^ (k as u64 + 1).wrapping_mul(0x9e37_79b9));
            workers.push(std::thread::spawn(move || {
                let mut samples = Vec::new();
                let mut prev_done = start;
                for due in rx {
                    let q = issuer_question(first + rng.below(issuers.max(1)) as u64);
                    let origin = if prev_done <= due {
                        Instant::now()
                    } else {
                        due
                    };
                    let ok = client.trust(&q).is_ok_and(|a| a.authorized);
                    prev_done = Instant::now();
                    samples.push(Sample {
                        due: due.saturating_duration_since(start),
                        latency: prev_done.duration_since(origin),
                        ok,
                    });
                }
                samples
            }));
        }
        let pacer = {
            let stop = stop.clone();
            std::thread::spawn(move || pace(start, rate, &senders, &stop))
        };
        PacedLoad {
            start,
            stop,
            pacer,
            workers,
        }
    }

    /// How long after the start of the load `t` is.
    fn at(&self, t: Instant) -> Duration {
        t.saturating_duration_since(self.start)
    }

    /// Stops releasing queries, waits for the ones released, and returns every sample in
    /// the order they were due.
    fn finish(self) -> anyhow::Result<Vec<Sample>> {
        self.stop.store(true, Ordering::Relaxed);
        self.pacer
            .join()
            .map_err(|_| anyhow!("the pacer thread panicked"))?;
        let mut all = Vec::new();
        for w in self.workers {
            all.extend(w.join().map_err(|_| anyhow!("a query thread panicked"))?);
        }
        all.sort_by_key(|s| s.due);
        Ok(all)
    }
}

/// Releases query `n` at `start + n / rate` to connection `n % senders.len()` until `stop`.
fn pace(start: Instant, rate: f64, senders: &[mpsc::Sender<Instant>], stop: &AtomicBool) {
    let step = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let due = start + step.mul_f64(n as f64);
        let now = Instant::now();
        if due > now + Duration::from_micros(50) {
            std::thread::sleep(due - now);
        }
        let _ = senders[(n % senders.len() as u64) as usize].send(due);
        n += 1;
    }
}

/// The latencies of the samples due in `from..to`, and how many of them failed.
fn window(samples: &[Sample], from: Duration, to: Duration) -> (Vec<Duration>, usize) {
    let inside: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.due >= from && s.due < to)
        .collect();
    let failed = inside.iter().filter(|s| !s.ok).count();
    (inside.iter().map(|s| s.latency).collect(), failed)
}

/// Polls `client` until it holds `entries` entries; returns when it was first seen to.
fn wait_holding(client: &Client, entries: u64, deadline: Duration) -> anyhow::Result<Instant> {
    let started = Instant::now();
    loop {
        let held = client.status().map(|s| s.entries).unwrap_or(0);
        if held >= entries {
            return Ok(Instant::now());
        }
        if started.elapsed() > deadline {
            bail!(
                "{} holds {held} of {entries} entries after {deadline:?}",
                client.base_url()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn run(net: &mut Testnet, p: &Params, report: &mut Report) -> anyhow::Result<()> {
    if net.nodes.len() != 1 {
        bail!("catchup-load runs on one node (--nodes 1), node A; it adds the joiner itself");
    }
    if !(p.rate.is_finite() && p.rate > 0.0) {
        bail!("--rate must be a positive number of queries per second");
    }
    report.figure(
        "node_bin",
        net.node_bin().display().to_string(),
        net.node_bin().display().to_string(),
    );
    install_authority(net, report)?;
    let first = 1_000_000;
    load_network(net, p, report, first)?;
    let total = p.entries as u64 + 1;
    let joiner = net.init_node(vec![0])?;
    if p.joiner_nice > 0 {
        net.set_niceness(joiner, p.joiner_nice);
    }
    report.figure(
        "joiner_nice",
        p.joiner_nice,
        format!("the joiner runs at niceness {}", p.joiner_nice),
    );

    let clients = (0..CONNECTIONS)
        .map(|_| net.client(0))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let load = PacedLoad::start(clients, p.rate, first, p.entries, p.seed);
    // The idle window is a fixed span of the paced load: a measurement, not a wait.
    let idle = Duration::from_secs(p.idle_secs.max(1));
    std::thread::sleep((load.start + idle).saturating_duration_since(Instant::now()));
    let joined = load.at(Instant::now());
    let caught_up = net
        .start(joiner)
        .and_then(|()| wait_holding(&net.client(joiner)?, total, catch_up_deadline(p)))
        .map(|t| load.at(t));
    // The load stops whether or not the joiner caught up, so its threads never outlive
    // the run.
    let samples = load.finish()?;
    let caught_up = caught_up?;

    let (idle_lat, idle_failed) = window(&samples, Duration::ZERO, joined);
    let (busy_lat, busy_failed) = window(&samples, joined, caught_up);
    let catch_up = caught_up.saturating_sub(joined);
    report.figure(
        "rate",
        p.rate,
        format!(
            "{:.0} trust queries/s to node A, open loop, over {CONNECTIONS} connections",
            p.rate
        ),
    );
    let idle_p = report.timing("idle_trust", &idle_lat);
    let busy_p = report.timing("busy_trust", &busy_lat);
    report_ratio(report, &idle_p, &busy_p);
    report.figure(
        "catch_up_s",
        catch_up.as_secs_f64(),
        format!(
            "{:.2} s from the joiner's start until it held all {total} entries ({:.0} entries/s)",
            catch_up.as_secs_f64(),
            total as f64 / catch_up.as_secs_f64().max(1e-9)
        ),
    );
    let bytes = sync_bytes(&net.client(joiner)?)?;
    report.figure(
        "sync_bytes",
        bytes,
        format!("{bytes} bytes of sync traffic at the joiner"),
    );
    let failed = idle_failed + busy_failed;
    report.figure(
        "errors",
        failed,
        format!("{failed} trust queries failed or answered wrongly"),
    );
    if failed > 0 {
        report.fail(format!("{failed} trust queries failed or answered wrongly"));
    }
    wait_converged(net, Duration::from_secs(60))?;
    Ok(())
}

/// Adds busy p99 / idle p99 with its target, and says when the busy window held too few
/// queries for its p99 to rest on more than a handful of them.
fn report_ratio(report: &mut Report, idle: &Percentiles, busy: &Percentiles) {
    let ratio = busy.p99_ms / idle.p99_ms.max(1e-9);
    let verdict = if ratio <= TARGET_RATIO {
        "met"
    } else {
        "not met"
    };
    let mut text = format!(
        "busy p99 / idle p99 = {ratio:.2} (target <= {TARGET_RATIO}: {verdict}); p50 ratio {:.2}",
        busy.p50_ms / idle.p50_ms.max(1e-9)
    );
    if busy.n < ENOUGH_SAMPLES {
        text.push_str(&format!(
            "; only {} queries were due during the catch-up (fewer than {ENOUGH_SAMPLES}: \
             its p99 rests on its few slowest)",
            busy.n
        ));
    }
    report.figure("p99_ratio", ratio, text);
}

fn catch_up_deadline(p: &Params) -> Duration {
    Duration::from_secs(60 + p.entries as u64 / 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(due_ms: u64, latency_ms: u64, ok: bool) -> Sample {
        Sample {
            due: Duration::from_millis(due_ms),
            latency: Duration::from_millis(latency_ms),
            ok,
        }
    }

    #[test]
    fn a_window_holds_the_queries_due_in_it_and_counts_its_failures() {
        let samples = [
            sample(0, 1, true),
            sample(999, 2, false),
            sample(1_000, 30, true),
            sample(1_500, 40, false),
            sample(2_000, 5, true),
        ];
        let second = Duration::from_secs(1);
        let (idle, idle_failed) = window(&samples, Duration::ZERO, second);
        assert_eq!(idle, [Duration::from_millis(1), Duration::from_millis(2)]);
        assert_eq!(idle_failed, 1);
        let (busy, busy_failed) = window(&samples, second, 2 * second);
        assert_eq!(busy, [Duration::from_millis(30), Duration::from_millis(40)]);
        assert_eq!(busy_failed, 1);
    }

    #[test]
    fn the_pacer_releases_queries_at_the_rate_in_turn() {
        let (tx, rx): (Vec<_>, Vec<_>) = (0..2).map(|_| mpsc::channel::<Instant>()).unzip();
        let stop = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let pacer = {
            let stop = stop.clone();
            std::thread::spawn(move || pace(start, 1_000.0, &tx, &stop))
        };
        // Four releases, alternating between the two connections, 1 ms apart.
        let due: Vec<Instant> = (0..4).map(|k| rx[k % 2].recv().unwrap()).collect();
        stop.store(true, Ordering::Relaxed);
        pacer.join().unwrap();
        for (k, d) in due.iter().enumerate() {
            assert_eq!(d.duration_since(start), Duration::from_millis(k as u64));
        }
    }
}
