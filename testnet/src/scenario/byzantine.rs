//! `byzantine`: a hostile peer (`registry-attacker`) attacks every node while an honest
//! writer keeps submitting entries and asking trust questions.
//!
//! The attacker gossips garbage, entries with broken signatures, entries of another
//! registry, entries no root signed and messages over the size limit; it sends and
//! answers sync messages that lie about their length or never end; and it floods the
//! nodes with connections from fresh identities. It runs for `--rounds` seconds.
//!
//! Invariants: every node stays up and answers every trust question, the slowest in under
//! [`MAX_QUERY_MS`]; the nodes converge on one state root whose entry count is exactly what
//! the honest writer added (no forged entry was accepted); the attacker was penalised by
//! the nodes or disconnected by them; and no node's resident memory grew by more than
//! [`MAX_RSS_GROWTH_MIB`].

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use registry_cli::Client;

use super::{install_authority, issuer_question, wait_converged, Params, Rng};
use crate::net::{self, Testnet};
use crate::stats::Report;

/// Most growth of a node's resident memory over the attack (measured: under 45 MiB).
const MAX_RSS_GROWTH_MIB: f64 = 100.0;
/// Longest an honest trust question may take during the attack (measured: tens of ms).
const MAX_QUERY_MS: f64 = 1000.0;
/// Trust questions asked before the attack, for the baseline latency.
const BASELINE_QUERIES: usize = 200;
/// Trust questions asked after each entry submitted during the attack.
const QUERIES_PER_ENTRY: usize = 4;
/// How long past its duration the attacker may take to stop before it is killed.
const ATTACKER_GRACE: Duration = Duration::from_secs(60);

/// `registry-attacker`: `$REGISTRY_ATTACKER_BIN`, else beside this executable, else on
/// `PATH`.
fn attacker_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("REGISTRY_ATTACKER_BIN") {
        return PathBuf::from(p);
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        let beside = dir.join("registry-attacker");
        if beside.is_file() {
            return beside;
        }
    }
    PathBuf::from("registry-attacker")
}

/// Resident memory of a process, in KiB (`VmRSS` in `/proc/<pid>/status`).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The sum of a metric's samples whose line starts with `prefix` (name and labels).
fn metric(client: &Client, prefix: &str) -> u64 {
    let Ok(text) = client.metrics() else {
        return 0;
    };
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<u64>().ok()))
        .sum()
}

fn ask(clients: &[Client], rng: &mut Rng, issuers: u64, samples: &mut Vec<Duration>) -> bool {
    let at = rng.below(clients.len());
    let q = issuer_question(rng.below(issuers.max(1) as usize) as u64 + 1);
    let started = Instant::now();
    let answered = clients[at].trust(&q).is_ok();
    if answered {
        samples.push(started.elapsed());
    }
    answered
}

fn spawn_attacker(net: &Testnet, seconds: u64, seed: u64) -> anyhow::Result<Child> {
    let bin = attacker_bin();
    let log = std::fs::File::create(net.dir.join("attacker.log"))?;
    let mut cmd = Command::new(&bin);
    cmd.arg("--genesis")
        .arg(net.dir.join("genesis.json"))
        .args(["--registry-id", &net.eco.fx.registry_id.to_hex()])
        .args(["--attack", "all", "--duration", &seconds.to_string()])
        .args(["--seed", &seed.to_string()]);
    for n in &net.nodes {
        cmd.args(["--target", &format!("/ip4/127.0.0.1/tcp/{}", n.p2p_port)]);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))
}

/// What the honest writer did while the attack ran.
#[derive(Debug, Default)]
struct Honest {
    submitted: u64,
    submit_failures: Vec<String>,
    latencies: Vec<Duration>,
    unanswered: u64,
}

/// Submits entries and asks questions until the attacker exits (or overstays).
fn write_during_attack(
    net: &Testnet,
    clients: &[Client],
    attacker: &mut Child,
    seconds: u64,
    rng: &mut Rng,
    report: &mut Report,
) -> anyhow::Result<Honest> {
    let mut h = Honest::default();
    let started = Instant::now();
    while attacker.try_wait()?.is_none() {
        if started.elapsed() > Duration::from_secs(seconds) + ATTACKER_GRACE {
            let _ = attacker.kill();
            report.fail("the attacker did not stop in time".to_string());
            break;
        }
        let at = rng.below(clients.len());
        let entry = net.eco.issuer(h.submitted + 1);
        match clients[at].submit(&entry) {
            Ok(_) => h.submitted += 1,
            Err(e) => h.submit_failures.push(format!("node-{at}: {e}")),
        }
        for _ in 0..QUERIES_PER_ENTRY {
            if !ask(clients, rng, h.submitted, &mut h.latencies) {
                h.unanswered += 1;
            }
        }
        for n in &net.nodes {
            if !net::alive(n.pid) {
                return Err(anyhow!("{} exited during the attack", n.name));
            }
        }
    }
    Ok(h)
}

pub fn run(net: &mut Testnet, p: &Params, report: &mut Report) -> anyhow::Result<()> {
    let mut rng = Rng::new(p.seed);
    install_authority(net, report)?;
    let clients = net.clients()?;
    wait_converged(net, Duration::from_secs(30))?;
    let entries_before = clients[0].status()?.entries;
    let rss_before: Vec<Option<u64>> = net.nodes.iter().map(|n| rss_kib(n.pid)).collect();

    let mut baseline = Vec::new();
    for _ in 0..BASELINE_QUERIES {
        ask(&clients, &mut rng, 1, &mut baseline);
    }
    let before = report.timing("query_before_attack", &baseline);

    let seconds = p.rounds.max(1) as u64;
    report.figure(
        "attack_seconds",
        seconds,
        format!("{seconds} s (every attack kind)"),
    );
    let mut attacker = spawn_attacker(net, seconds, p.seed)?;
    let honest = write_during_attack(net, &clients, &mut attacker, seconds, &mut rng, report);
    let _ = attacker.kill();
    let _ = attacker.wait();
    let mut summary = String::new();
    if let Some(mut out) = attacker.stdout.take() {
        let _ = out.read_to_string(&mut summary);
    }
    let honest = honest?;

    let during = report.timing("query_during_attack", &honest.latencies);
    if during.max_ms > MAX_QUERY_MS {
        report.fail(format!(
            "a trust question took {:.0} ms during the attack (limit {MAX_QUERY_MS} ms)",
            during.max_ms
        ));
    }
    if honest.unanswered > 0 {
        report.fail(format!(
            "{} trust questions went unanswered during the attack",
            honest.unanswered
        ));
    }
    report.figure(
        "query_p99_slowdown",
        during.p99_ms / before.p99_ms.max(1e-3),
        format!(
            "p99 x{:.1} during the attack ({} questions unanswered)",
            during.p99_ms / before.p99_ms.max(1e-3),
            honest.unanswered
        ),
    );
    report.figure(
        "honest_entries",
        honest.submitted,
        format!(
            "{} submitted during the attack ({} refused)",
            honest.submitted,
            honest.submit_failures.len()
        ),
    );
    if let Some(first) = honest.submit_failures.first() {
        report.fail(format!(
            "{} honest submissions failed during the attack, first: {first}",
            honest.submit_failures.len()
        ));
    }
    let mut disconnected = 0;
    match serde_json::from_str::<serde_json::Value>(summary.trim()) {
        Ok(v) => {
            disconnected = v["disconnected"].as_u64().unwrap_or(0);
            let text = format!(
                "{} gossip messages sent, {} sync requests sent, {} sync requests answered \
                 with garbage, {} identities, {} disconnections, {} flood connections",
                v["gossip_sent_total"],
                v["sync_requests_sent"],
                v["sync_requests_received"],
                v["identities"],
                v["disconnected"],
                v["flood"]["connections_attempted"]
            );
            report.figure("attacker", v, text);
        }
        Err(_) => report.fail(format!(
            "the attacker printed no summary (see {})",
            net.dir.join("attacker.log").display()
        )),
    }

    check_nodes(net, &clients, entries_before + honest.submitted, report)?;
    check_noticed(&clients, disconnected, report);
    check_memory(net, &rss_before, report);
    Ok(())
}

/// Every node is up, answers, and holds exactly the honest entries.
fn check_nodes(
    net: &Testnet,
    clients: &[Client],
    expected: u64,
    report: &mut Report,
) -> anyhow::Result<()> {
    for (i, n) in net.nodes.iter().enumerate() {
        if !net::alive(n.pid) {
            report.fail(format!("{} (pid {}) is no longer running", n.name, n.pid));
        } else if let Err(e) = clients[i].status() {
            report.fail(format!("{} does not answer: {e}", n.name));
        }
    }
    match wait_converged(net, Duration::from_secs(60)) {
        Ok((root, t)) => {
            report.figure(
                "state_root",
                root.to_hex(),
                format!(
                    "{} (equal on every node {:.1} s after the attack)",
                    root.to_hex(),
                    t.as_secs_f64()
                ),
            );
            for (i, c) in clients.iter().enumerate() {
                let held = c.status()?.entries;
                if held != expected {
                    report.fail(format!(
                        "node-{i} holds {held} entries; the honest writer made {expected}"
                    ));
                }
            }
            report.figure("entries", expected, format!("{expected} on every node"));
        }
        Err(e) => report.fail(e.to_string()),
    }
    Ok(())
}

/// The nodes rejected the attacker's gossip, and penalised or disconnected it.
fn check_noticed(clients: &[Client], disconnected: u64, report: &mut Report) {
    let rejected: u64 = clients
        .iter()
        .map(|c| metric(c, "registry_gossip_messages_total{result=\"rejected\"}"))
        .sum();
    let penalties: u64 = clients
        .iter()
        .map(|c| metric(c, "registry_peer_penalties_total "))
        .sum();
    report.figure(
        "nodes_rejected_gossip",
        rejected,
        format!("{rejected} gossip messages rejected (all nodes)"),
    );
    report.figure(
        "nodes_penalties",
        penalties,
        format!("{penalties} penalties given (all nodes)"),
    );
    if rejected == 0 {
        report.fail("no node rejected the attacker's gossip".to_string());
    }
    if penalties == 0 && disconnected == 0 {
        report.fail("no node penalised or disconnected the attacker".to_string());
    }
}

/// No node's resident memory grew by more than [`MAX_RSS_GROWTH_MIB`].
fn check_memory(net: &Testnet, before: &[Option<u64>], report: &mut Report) {
    let mut worst = 0.0f64;
    let mut shown = Vec::new();
    for (n, b) in net.nodes.iter().zip(before) {
        let (Some(b), Some(a)) = (*b, rss_kib(n.pid)) else {
            continue;
        };
        let growth = (a as f64 - b as f64) / 1024.0;
        worst = worst.max(growth);
        shown.push(format!("{:.0}→{:.0}", b as f64 / 1024.0, a as f64 / 1024.0));
        if growth > MAX_RSS_GROWTH_MIB {
            report.fail(format!(
                "{}'s resident memory grew by {growth:.0} MiB (limit {MAX_RSS_GROWTH_MIB} MiB)",
                n.name
            ));
        }
    }
    report.figure(
        "rss_growth_mib",
        worst,
        format!(
            "{worst:.1} MiB at most (MiB per node: {})",
            shown.join(", ")
        ),
    );
}
