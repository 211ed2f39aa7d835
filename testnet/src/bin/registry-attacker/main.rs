//! `registry-attacker`: a hostile libp2p peer that the `byzantine` scenario turns on a
//! testnet. It speaks the registry's transport (TCP + noise + yamux, identify, gossipsub on
//! the registry's topic, request-response on its sync protocol) but sends what an honest
//! node never would: random bytes, entries with broken signatures, entries of another
//! registry, entries no root signed, gossip over the size limit, sync frames that lie
//! about their length or never end, and floods of connections from fresh identities.
//!
//! Once a node has cut it off, it comes back under a fresh identity (a new key, so a new
//! peer id), as a real attacker would. At the end it prints one JSON line: what it sent,
//! the connections it tried, and how often it was disconnected.
//!
//! Modules: `swarm` (its libp2p peer), `wire` (raw sync frames and their codec), `forge`
//! (entries, garbage and lies from one seed), `session` (one identity's attack), `flood`
//! (the connection flood).

mod flood;
mod forge;
mod session;
mod swarm;
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use libp2p::Multiaddr;
use registry_core::rng::SplitMix64;
use registry_core::testkit::Fixture;
use registry_core::{codec, Genesis, Hash, SecretKey};
use serde_json::json;

use flood::{flood, FloodCounters};
use forge::{Forge, Rng};
use session::{Attacker, Tally};

/// What the attacker can do (`--attack`, repeatable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ValueEnum)]
pub(crate) enum Attack {
    /// Random bytes (and valid entries with random bytes overwritten) as gossip.
    GarbageGossip,
    /// Entries whose signature (or signed body) has a flipped byte.
    BadSignature,
    /// Well-formed entries no root signed, or by a holder whose accreditation does not
    /// exist (they wait in the pending pool; nodes ask the attacker for the reference).
    Unauthorized,
    /// Entries signed for another registry.
    WrongRegistry,
    /// Gossip messages of 70 KiB to 300 KiB.
    Oversized,
    /// Garbage sync requests, and garbage, endless or stalled answers to sync requests.
    SyncGarbage,
    /// Hundreds of connections from fresh identities, and silent TCP connections.
    ConnectionFlood,
    /// Every attack above.
    All,
}

impl Attack {
    const EVERY: [Attack; 7] = [
        Attack::GarbageGossip,
        Attack::BadSignature,
        Attack::Unauthorized,
        Attack::WrongRegistry,
        Attack::Oversized,
        Attack::SyncGarbage,
        Attack::ConnectionFlood,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Attack::GarbageGossip => "garbage-gossip",
            Attack::BadSignature => "bad-signature",
            Attack::Unauthorized => "unauthorized",
            Attack::WrongRegistry => "wrong-registry",
            Attack::Oversized => "oversized",
            Attack::SyncGarbage => "sync-garbage",
            Attack::ConnectionFlood => "connection-flood",
            Attack::All => "all",
        }
    }

    pub(crate) fn is_gossip(self) -> bool {
        matches!(
            self,
            Attack::GarbageGossip
                | Attack::BadSignature
                | Attack::Unauthorized
                | Attack::WrongRegistry
                | Attack::Oversized
        )
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "registry-attacker",
    version,
    about = "A hostile peer for testing registry nodes"
)]
struct Args {
    /// The registry's genesis file (entries are forged for it).
    #[arg(long, value_name = "FILE")]
    genesis: PathBuf,
    /// The registry id, hex; checked against the genesis when given.
    #[arg(long, value_name = "HEX")]
    registry_id: Option<String>,
    /// A node to attack (`/ip4/127.0.0.1/tcp/PORT`); repeatable.
    #[arg(long = "target", value_name = "MULTIADDR", required = true)]
    targets: Vec<Multiaddr>,
    /// What to do; repeatable.
    #[arg(long = "attack", value_enum, default_value = "all")]
    attacks: Vec<Attack>,
    /// Seconds to attack for.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seed of the forged entries and the choice of garbage.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Gossip messages per second (over every target).
    #[arg(long, default_value_t = 100)]
    rate: u64,
}

async fn attack(args: Args) -> anyhow::Result<serde_json::Value> {
    let attacks = chosen(&args.attacks);
    let mut attacker = attacker(&args, &attacks)?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration);
    let counters = Arc::new(FloodCounters::default());
    let flooding = attacks
        .contains(&Attack::ConnectionFlood)
        .then(|| tokio::spawn(flood(args.targets.clone(), deadline, counters.clone())));
    if !attacker.gossip.is_empty() || attacker.sync {
        while Instant::now() < deadline {
            attacker.session(deadline).await?;
        }
    } else {
        tokio::time::sleep(deadline.saturating_duration_since(Instant::now())).await;
    }
    if let Some(f) = flooding {
        let _ = f.await;
    }
    Ok(summary(&attacks, started, &attacker.tally, &counters))
}

/// The attacks asked for, `all` expanded, each once, in a fixed order.
fn chosen(asked: &[Attack]) -> Vec<Attack> {
    let mut attacks: Vec<Attack> = asked.to_vec();
    if attacks.contains(&Attack::All) {
        attacks = Attack::EVERY.to_vec();
    }
    attacks.sort();
    attacks.dedup();
    attacks
}

/// The attacker for the registry of `--genesis`, with its forge seeded from `--seed`.
fn attacker(args: &Args, attacks: &[Attack]) -> anyhow::Result<Attacker> {
    let text = std::fs::read_to_string(&args.genesis)
        .with_context(|| format!("cannot read {}", args.genesis.display()))?;
    let genesis = Genesis::from_json(&text)
        .with_context(|| format!("{} is not a genesis file", args.genesis.display()))?;
    let registry = genesis.registry_id();
    if let Some(hex) = &args.registry_id {
        let given = Hash::from_hex(hex).context("--registry-id is not a hex hash")?;
        if given != registry {
            bail!("--registry-id {hex} is not the id of the genesis ({registry})");
        }
    }
    let seed_key = codec::hash_with_domain("registry-attacker/key/v1", &args.seed.to_le_bytes());
    let fx = Fixture {
        genesis: genesis.clone(),
        roots: Vec::new(),
        registry_id: registry,
    };
    let other = Fixture {
        registry_id: codec::hash_with_domain(
            "registry-attacker/other-registry/v1",
            registry.as_bytes(),
        ),
        ..fx.clone()
    };
    Ok(Attacker {
        registry,
        targets: args.targets.clone(),
        gossip: attacks.iter().copied().filter(|a| a.is_gossip()).collect(),
        sync: attacks.contains(&Attack::SyncGarbage),
        period: Duration::from_micros(1_000_000 / args.rate.max(1)),
        forge: Forge {
            fx,
            other,
            key: SecretKey::from_seed(seed_key.0),
            rng: Rng(SplitMix64::new(args.seed)),
            n: 0,
        },
        tally: Tally::default(),
        k: 0,
        session_sent: 0,
    })
}

/// The one JSON line printed at the end: what was sent, tried and cut off.
fn summary(
    attacks: &[Attack],
    started: Instant,
    t: &Tally,
    counters: &FloodCounters,
) -> serde_json::Value {
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    json!({
        "attacks": attacks.iter().map(|a| a.name()).collect::<Vec<_>>(),
        "seconds": started.elapsed().as_secs_f64(),
        "gossip_sent": t.gossip_sent,
        "gossip_sent_total": t.gossip_sent.values().sum::<u64>(),
        "gossip_unsent": t.gossip_unsent,
        "sync_requests_sent": t.sync_requests_sent,
        "sync_requests_answered": t.sync_requests_answered,
        "sync_requests_failed": t.sync_requests_failed,
        "sync_requests_received": t.sync_requests_received,
        "identities": t.identities,
        "connections_attempted": t.connections_attempted,
        "connections_established": t.connections_established,
        "disconnected": t.disconnected,
        "dial_failures": t.dial_failures,
        "flood": {
            "identities": load(&counters.identities),
            "connections_attempted": load(&counters.attempted),
            "connections_established": load(&counters.established),
            "connections_failed": load(&counters.failed),
            "silent_tcp_opened": load(&counters.silent_opened),
        },
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    match attack(Args::parse()).await {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
