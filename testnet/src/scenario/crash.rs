//! `crash`: kill -9 random nodes while entries are being written, restart them; no
//! acknowledged entry is lost, every ledger verifies, and all nodes converge.
//!
//! A writer thread submits accreditations to random running nodes and records which node
//! acknowledged which entry (a 202 means durable on that node). The main thread kills a
//! random node at random moments (50-400 ms apart) with SIGKILL. Before the node is
//! restarted its ledger is opened offline and every entry it acknowledged must be in it:
//! checked then, sync cannot have put it back. At the end every node is stopped and its
//! ledger fully verified (chain, ids, signatures, state roots).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use registry_core::store::Ledger;
use registry_core::EntryId;

use super::{install_authority, wait_converged, Params, Rng};
use crate::net::Testnet;
use crate::stats::Report;

pub fn run(net: &mut Testnet, p: &Params, report: &mut Report) -> anyhow::Result<()> {
    let n = net.nodes.len();
    let kills = p.rounds;
    let mut rng = Rng::new(p.seed);
    install_authority(net, report)?;
    let clients = net.clients()?;
    let running: Arc<Vec<AtomicBool>> = Arc::new((0..n).map(|_| AtomicBool::new(true)).collect());
    let acked: Arc<Mutex<HashMap<usize, Vec<EntryId>>>> = Arc::new(Mutex::new(HashMap::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (running, acked, stop, eco) = (
            running.clone(),
            acked.clone(),
            stop.clone(),
            net.eco.clone(),
        );
        let mut rng = Rng::new(p.seed ^ 0x5eed);
        std::thread::spawn(move || {
            let mut k = 0u64;
            let (mut refused, mut sent) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let i = rng.below(clients.len());
                if !running[i].load(Ordering::Relaxed) {
                    continue;
                }
                k += 1;
                let entry = eco.issuer(10_000 + k);
                sent += 1;
                match clients[i].submit(&entry) {
                    Ok(_) => acked
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .entry(i)
                        .or_default()
                        .push(entry.id()),
                    Err(_) => refused += 1,
                }
            }
            (sent, refused)
        })
    };

    let mut lost = 0usize;
    let mut checked = 0usize;
    for kill in 0..kills {
        std::thread::sleep(Duration::from_millis(50 + rng.below(351) as u64));
        let i = rng.below(n);
        running[i].store(false, Ordering::Relaxed);
        net.stop(i, true)
            .with_context(|| format!("kill {kill}: stopping node-{i}"))?;
        let ledger_dir = net.nodes[i].dir.join("ledger");
        {
            let ledger = Ledger::open(&ledger_dir)
                .with_context(|| format!("kill {kill}: node-{i}'s ledger does not open"))?;
            let mine = acked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&i)
                .cloned()
                .unwrap_or_default();
            for id in &mine {
                checked += 1;
                if !ledger.contains(id).unwrap_or(false) {
                    lost += 1;
                    report.fail(format!(
                        "kill {kill}: node-{i} acknowledged {id} but lost it"
                    ));
                }
            }
        }
        net.start(i)
            .with_context(|| format!("kill {kill}: restarting node-{i}"))?;
        running[i].store(true, Ordering::Relaxed);
    }
    stop.store(true, Ordering::Relaxed);
    let (sent, refused) = writer.join().unwrap_or((0, 0));
    let acknowledged: usize = acked
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .map(Vec::len)
        .sum();
    report.figure(
        "kills",
        kills,
        format!("{kills} SIGKILLs, each node restarted"),
    );
    report.figure(
        "writes",
        acknowledged,
        format!(
            "{acknowledged} acknowledged of {sent} sent ({refused} refused or cut off by a kill)"
        ),
    );
    report.figure(
        "lost",
        lost,
        format!(
            "{lost} acknowledged entries missing from a killed node's ledger ({checked} checked)"
        ),
    );
    let (root, took) = wait_converged(net, Duration::from_secs(120))?;
    report.figure(
        "converged_ms",
        took.as_secs_f64() * 1e3,
        format!(
            "{:.0} ms after the last restart, root {}",
            took.as_secs_f64() * 1e3,
            &root.to_hex()[..16]
        ),
    );
    let held = net.client(0)?.status()?.entries as usize;
    if held != acknowledged + 1 {
        // Entries refused mid-kill may have been stored anyway (the answer was lost), so
        // more is possible; fewer is a loss.
        if held < acknowledged + 1 {
            report.fail(format!(
                "nodes hold {held} entries, {} were acknowledged",
                acknowledged + 1
            ));
        }
    }
    net.down()?;
    for (i, node) in net.nodes.iter().enumerate() {
        let ledger = Ledger::open(&node.dir.join("ledger"))?;
        match ledger.verify() {
            Ok(v) if v.state_root == root => {}
            Ok(v) => report.fail(format!(
                "node-{i}'s ledger verifies but ends at root {}, not {}",
                v.state_root, root
            )),
            Err(e) => report.fail(format!("node-{i}'s ledger does not verify: {e}")),
        }
    }
    report.figure(
        "ledgers_verified",
        n,
        format!("{n} ledgers fully verified, all at the common root"),
    );
    Ok(())
}
