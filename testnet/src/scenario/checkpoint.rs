//! `checkpoint`: how long a revocation takes to become provable on every node, that is,
//! until each node answers with a proof, cosigned by a quorum of witnesses, that shows
//! the issuer revoked (section 12), with the nodes' default checkpoint interval and lag.
//!
//! The testnet names every node a witness (majority quorum). Issuers are accredited up
//! front; each round revokes one through a random node and polls every node's
//! `/v1/trust?proof=true` until its proof is cosigned, verifies offline (with
//! `registry_core::proof::verify`, holding only the registry id) and proves the denial
//! `revoked`. A round's figure is the slowest node's time, from just before the revoking
//! request. Every proof a node serves along the way must verify or name its check; one
//! that verifies to a decision its `proof` member did not state fails the run.

use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use registry_cli::Client;
use registry_core::api::TrustAnswer;
use registry_core::eval::{Decision, Reason};
use registry_core::proof::{verify, Bundle, VerifyOptions};
use registry_core::{RegistryId, Timestamp};

use super::{authorized, install_authority, issuer_question, slowest, wait_all, Params, Rng};
use crate::net::Testnet;
use crate::stats::Report;

/// How long a revocation may take to be provable everywhere before the run fails: two
/// default intervals past the lag, and slack for a slow machine.
const ROUND_DEADLINE: Duration = Duration::from_secs(60);

/// The verified decision of an answer's proof, if it has a cosigned one that verifies.
fn proven(answer: &TrustAnswer, registry: &RegistryId) -> Option<Decision> {
    let proof = answer.proof.as_ref()?;
    if !proof.cosigned {
        return None;
    }
    let bytes = proof.bundle_bytes().ok()?;
    let bundle = Bundle::decode(&bytes).ok()?;
    let options = VerifyOptions {
        registry: *registry,
        now: Timestamp::from_system_time(SystemTime::now()),
        max_age: None,
        witnesses: None,
    };
    verify(&bundle, &options).ok().map(|v| v.decision)
}

pub fn run(net: &mut Testnet, p: &Params, report: &mut Report) -> anyhow::Result<()> {
    let mut rng = Rng::new(p.seed);
    let (_, quorum) = net.name_witnesses()?;
    report.figure(
        "quorum",
        quorum,
        format!("{quorum} of {} nodes", net.nodes.len()),
    );
    install_authority(net, report)?;
    let clients = net.clients()?;
    let refs: Vec<&Client> = clients.iter().collect();
    let registry = net.eco.fx.registry_id;
    let issuers: Vec<u64> = (1..=p.rounds as u64).collect();
    // Built once: an issuer's accreditation carries the time it was made.
    let accreditations: Vec<_> = issuers.iter().map(|n| net.eco.issuer(*n)).collect();
    for (n, entry) in issuers.iter().zip(&accreditations) {
        clients[0]
            .submit(entry)
            .with_context(|| format!("node-0 refused issuer {n}"))?;
    }
    // Every node proves the last issuer authorized: the witness set and the issuers are
    // in a cosigned checkpoint everywhere.
    let last = issuer_question(*issuers.last().unwrap_or(&1));
    let started = Instant::now();
    let ready = wait_all(&refs, started, ROUND_DEADLINE * 2, |c| {
        c.trust_with(&last, true, None)
            .ok()
            .and_then(|a| proven(&a, &registry))
            .is_some_and(|d| d.is_authorized())
    });
    let warmup = slowest(&ready, "a cosigned checkpoint holding the issuers")?;
    report.figure(
        "first_cosigned_secs",
        warmup.as_secs_f64(),
        format!(
            "{:.1} s until every node proved the issuers",
            warmup.as_secs_f64()
        ),
    );

    let mut all_nodes = Vec::new();
    let mut per_node = Vec::new();
    for (round, (n, entry)) in issuers.iter().zip(&accreditations).enumerate() {
        let q = issuer_question(*n);
        let accreditation = entry.id();
        let revocation = net.eco.revoke(accreditation, *n);
        let at = rng.below(clients.len());
        let started = Instant::now();
        clients[at]
            .submit(&revocation)
            .with_context(|| format!("round {round}: node-{at} refused the revocation"))?;
        let times = wait_all(&refs, started, ROUND_DEADLINE, |c| {
            let Ok(answer) = c.trust_with(&q, true, None) else {
                return false;
            };
            matches!(
                proven(&answer, &registry),
                Some(Decision::Denied {
                    reason: Reason::Revoked,
                    accreditation: Some(id),
                }) if id == accreditation
            )
        });
        match slowest(&times, &format!("a proof of issuer {n}'s revocation")) {
            Ok(t) => all_nodes.push(t),
            Err(e) => {
                report.fail(format!("round {round}: {e}"));
                break;
            }
        }
        per_node.extend(times.iter().flatten().copied());
        if authorized(&clients[at], &q) != Some(false) {
            bail!("round {round}: node-{at} still answers issuer {n} authorized");
        }
    }
    report.figure("rounds", p.rounds, format!("{}", p.rounds));
    report.timing("revocation_provable_all_nodes", &all_nodes);
    report.timing("revocation_provable_any_node", &per_node);
    Ok(())
}
