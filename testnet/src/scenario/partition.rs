//! `partition`: split the nodes into two groups with deny-lists, write on both sides
//! (including conflicting revocations and re-accreditations), heal, and measure the time
//! until every node holds the same state and gives the same answers.
//!
//! Before the split, issuers 1..=6 are accredited by the authority. During it:
//! - side A revokes issuer 1 and issuer 3, and accredits issuers 101..=103;
//! - side B re-accredits issuer 1 through the roots, revokes issuer 2, revokes issuer 3
//!   too (a second, different revocation), and accredits issuers 201..=203.
//!
//! After healing, every node must answer: issuer 1 authorized (the roots' accreditation
//! stands), 2 and 3 not authorized, 4..=6 and every new issuer authorized.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::bail;
use registry_cli::Client;
use registry_core::SignedEntry;

use super::{authorized, install_authority, issuer_question, wait_converged, Params, Rng};
use crate::net::Testnet;
use crate::stats::Report;

const DEADLINE: Duration = Duration::from_secs(30);

/// Waits until every node of `group` reports no connected peer from `others`.
fn wait_cut(clients: &[Client], group: &[usize], others: &HashSet<String>) -> anyhow::Result<()> {
    let started = Instant::now();
    for &i in group {
        loop {
            let peers = clients[i].peers()?;
            if !peers.peers.iter().any(|p| others.contains(&p.peer_id)) {
                break;
            }
            if started.elapsed() > DEADLINE {
                bail!("node-{i} is still connected across the partition");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(())
}

/// Waits until every node of `group` has the same state root, and returns it.
fn wait_group(clients: &[Client], group: &[usize], entries: u64) -> anyhow::Result<String> {
    let started = Instant::now();
    loop {
        let st: Vec<_> = group
            .iter()
            .filter_map(|&i| clients[i].status().ok())
            .collect();
        if st.len() == group.len()
            && st
                .iter()
                .all(|s| s.state_root == st[0].state_root && s.entries == entries)
        {
            return Ok(st[0].state_root.to_hex());
        }
        if started.elapsed() > DEADLINE {
            let seen: Vec<String> = st
                .iter()
                .map(|s| format!("{} entries, {} pending", s.entries, s.pending))
                .collect();
            bail!(
                "side {group:?} did not converge on its own writes ({entries} entries expected; {})",
                seen.join("; ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn run(net: &mut Testnet, p: &Params, report: &mut Report) -> anyhow::Result<()> {
    let n = net.nodes.len();
    if n < 2 {
        bail!("partition needs at least 2 nodes");
    }
    let mut rng = Rng::new(p.seed);
    install_authority(net, report)?;
    let clients = net.clients()?;
    let eco = net.eco.clone();

    // Before: issuers 1..=6, through random nodes.
    let before: Vec<SignedEntry> = (1..=6).map(|k| eco.issuer(k)).collect();
    for e in &before {
        clients[rng.below(n)].submit(e)?;
    }
    let mut total = 1 + before.len() as u64;
    wait_converged(net, DEADLINE)?;
    // Each side must be able to reach its own members once cut: wait for the full mesh
    // (discovery through Kademlia), as a network that has run for a while has it.
    let started = Instant::now();
    net.wait_connected(n - 1, Duration::from_secs(60))?;
    report.figure(
        "full_mesh_ms",
        started.elapsed().as_secs_f64() * 1e3,
        format!(
            "{:.0} ms more until every node was connected to every other",
            started.elapsed().as_secs_f64() * 1e3
        ),
    );

    // Split: a random half against the rest.
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let (a, b) = order.split_at(n / 2);
    let (a, b) = (a.to_vec(), b.to_vec());
    let ids: Vec<String> = clients
        .iter()
        .map(|c| c.status().map(|s| s.peer_id.unwrap_or_default()))
        .collect::<Result<_, _>>()?;
    let admins = (0..n)
        .map(|i| net.admin(i))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let started = Instant::now();
    for (side, other) in [(&a, &b), (&b, &a)] {
        for &i in side.iter() {
            for &j in other.iter() {
                admins[i].set_peer_denied(&ids[j], true)?;
            }
        }
    }
    let ids_of = |g: &[usize]| g.iter().map(|&i| ids[i].clone()).collect::<HashSet<_>>();
    wait_cut(&clients, &a, &ids_of(&b))?;
    wait_cut(&clients, &b, &ids_of(&a))?;
    report.figure(
        "split",
        format!("{a:?} | {b:?}"),
        format!(
            "nodes {a:?} | {b:?} (cut in {:.0} ms)",
            started.elapsed().as_secs_f64() * 1e3
        ),
    );

    // Writes on both sides, some of them in conflict.
    let side_a: Vec<SignedEntry> = vec![
        eco.revoke(before[0].id(), 1),
        eco.revoke(before[2].id(), 3),
        eco.issuer(101),
        eco.issuer(102),
        eco.issuer(103),
    ];
    let side_b: Vec<SignedEntry> = vec![
        eco.issuer_by_roots(1, 1_001),
        eco.revoke(before[1].id(), 2),
        eco.revoke(before[2].id(), 3_003),
        eco.issuer(201),
        eco.issuer(202),
        eco.issuer(203),
    ];
    for e in &side_a {
        clients[a[rng.below(a.len())]].submit(e)?;
    }
    for e in &side_b {
        clients[b[rng.below(b.len())]].submit(e)?;
    }
    let root_a = wait_group(&clients, &a, total + side_a.len() as u64)?;
    let root_b = wait_group(&clients, &b, total + side_b.len() as u64)?;
    if root_a == root_b {
        report.fail("the two sides hold the same state while split: the partition leaked");
    }
    // While split, each side answers from what it holds.
    let q1 = issuer_question(1);
    if authorized(&clients[a[0]], &q1) != Some(false) {
        report.fail("side A does not see its own revocation of issuer 1");
    }
    total += (side_a.len() + side_b.len()) as u64;

    // Heal.
    let started = Instant::now();
    for (side, other) in [(&a, &b), (&b, &a)] {
        for &i in side.iter() {
            for &j in other.iter() {
                admins[i].set_peer_denied(&ids[j], false)?;
            }
        }
    }
    let (root, _) = wait_converged(net, DEADLINE)?;
    let healed = started.elapsed();
    report.figure(
        "converge_after_heal_ms",
        healed.as_secs_f64() * 1e3,
        format!(
            "{:.0} ms from the first allow to equal state roots on all {n} nodes",
            healed.as_secs_f64() * 1e3
        ),
    );
    let held = clients[0].status()?.entries;
    if held != total {
        report.fail(format!("nodes hold {held} entries, {total} were written"));
    }
    report.figure(
        "entries",
        held,
        format!("{held} (state root {})", &root.to_hex()[..16]),
    );

    // Every node gives the same, expected answer to every question.
    let expected: Vec<(u64, bool)> = [
        (1, true),
        (2, false),
        (3, false),
        (4, true),
        (5, true),
        (6, true),
    ]
    .into_iter()
    .chain([101, 102, 103, 201, 202, 203].map(|k| (k, true)))
    .collect();
    let mut asked = 0;
    for (k, want) in &expected {
        let q = issuer_question(*k);
        for (i, c) in clients.iter().enumerate() {
            asked += 1;
            let got = c.trust(&q)?;
            if got.authorized != *want {
                report.fail(format!(
                    "node-{i} answers issuer {k}: authorized={} ({:?}), expected {want}",
                    got.authorized, got.reason
                ));
            }
        }
    }
    report.figure(
        "answers_checked",
        asked,
        format!("{asked} answers (every issuer on every node) compared with the expected ones"),
    );
    Ok(())
}
