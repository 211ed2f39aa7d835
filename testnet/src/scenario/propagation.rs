//! `propagation`: accreditations and revocations submitted at random nodes; the time
//! until every node answers accordingly.
//!
//! Each round accredits a fresh issuer through a random node and polls every node's
//! `/v1/trust` until all answer authorized, then revokes it through another random node
//! and polls until all answer not authorized. A round's figure is the slowest node's time,
//! measured from just before the submitting request (which returns once the entry is
//! durable on the first node).

use std::time::{Duration, Instant};

use anyhow::Context;
use registry_cli::Client;

use super::{
    authorized, install_authority, issuer_question, slowest, wait_all, wait_converged, Params, Rng,
};
use crate::net::Testnet;
use crate::stats::Report;

/// How long one entry may take to reach every node before the run fails.
const ROUND_DEADLINE: Duration = Duration::from_secs(15);

pub fn run(net: &mut Testnet, p: &Params, report: &mut Report) -> anyhow::Result<()> {
    let mut rng = Rng::new(p.seed);
    install_authority(net, report)?;
    let clients = net.clients()?;
    let refs: Vec<&Client> = clients.iter().collect();
    let (mut accredit, mut revoke, mut per_node) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..p.rounds {
        let n = round as u64 + 1;
        let q = issuer_question(n);
        let entry = net.eco.issuer(n);
        let at = rng.below(clients.len());
        let started = Instant::now();
        clients[at]
            .submit(&entry)
            .with_context(|| format!("round {round}: node-{at} refused the accreditation"))?;
        let times = wait_all(&refs, started, ROUND_DEADLINE, |c| {
            authorized(c, &q) == Some(true)
        });
        match slowest(&times, &format!("issuer {n}'s accreditation")) {
            Ok(t) => accredit.push(t),
            Err(e) => {
                report.fail(format!("round {round}: {e}"));
                break;
            }
        }
        per_node.extend(times.iter().flatten().copied());

        let revocation = net.eco.revoke(entry.id(), n);
        let at = rng.below(clients.len());
        let started = Instant::now();
        clients[at]
            .submit(&revocation)
            .with_context(|| format!("round {round}: node-{at} refused the revocation"))?;
        let times = wait_all(&refs, started, ROUND_DEADLINE, |c| {
            authorized(c, &q) == Some(false)
        });
        match slowest(&times, &format!("issuer {n}'s revocation")) {
            Ok(t) => revoke.push(t),
            Err(e) => {
                report.fail(format!("round {round}: {e}"));
                break;
            }
        }
        per_node.extend(times.iter().flatten().copied());
    }
    report.figure("rounds", p.rounds, format!("{}", p.rounds));
    report.timing("accredit_all_nodes", &accredit);
    report.timing("revoke_all_nodes", &revoke);
    report.timing("any_node", &per_node);
    match wait_converged(net, Duration::from_secs(30)) {
        Ok((root, _)) => report.figure(
            "state_root",
            root.to_hex(),
            format!("{} (equal on every node)", root.to_hex()),
        ),
        Err(e) => report.fail(e.to_string()),
    }
    Ok(())
}
