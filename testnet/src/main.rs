//! `testnet`: a real registry network on this machine.
//!
//! ```text
//! testnet up --nodes N --dir DIR [--seed S]     start N registry-node processes, print their APIs
//! testnet status --dir DIR                      each node's process, peers, entries and root
//! testnet down --dir DIR                        stop them
//! testnet run SCENARIO [--nodes N] [--seed S] [--json] ...
//! ```
//! Scenarios: propagation, partition, crash, late-join, byzantine, load, catchup-load,
//! checkpoint (see
//! `scenario`).
//! Each prints what it measured and its seed, and exits 1 when an invariant broke.

mod eco;
mod net;
mod scenario;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use net::Testnet;
use scenario::Params;
use stats::Report;

#[derive(Debug, Parser)]
#[command(
    name = "testnet",
    version,
    about = "A real trust-registry network on this machine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start N nodes with a fresh genesis in DIR; they run until `testnet down`.
    Up {
        /// How many registry-node processes to start.
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// Where the testnet lives (created if missing; refused if it holds a running
        /// testnet): genesis.json, root.key, authority.key, and a data directory and log per
        /// node. `testnet status|down --dir DIR` find the nodes there.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Seed of the genesis and keys [default: random].
        #[arg(long)]
        seed: Option<u64>,
        /// Seconds between each node's periodic syncs.
        #[arg(long, default_value_t = 5)]
        sync_period: u64,
    },
    /// Show each node of the testnet in DIR.
    Status {
        /// The directory given to `testnet up --dir`.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Stop every node of the testnet in DIR.
    Down {
        /// The directory given to `testnet up --dir`.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Run a scenario on a fresh testnet and print what it measured.
    Run(RunArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ScenarioName {
    Propagation,
    Partition,
    Crash,
    LateJoin,
    Load,
    Byzantine,
    CatchupLoad,
    Checkpoint,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    scenario: ScenarioName,
    #[arg(long, default_value_t = 5)]
    nodes: usize,
    /// Seed of every random choice [default: random; printed].
    #[arg(long)]
    seed: Option<u64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Rounds (propagation, checkpoint), kills (crash), seconds of load (load) or of
    /// attack (byzantine).
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Entries the network holds (late-join, load, catchup-load).
    #[arg(long, default_value_t = 10_000)]
    entries: usize,
    /// Percentage of the entries the joining node holds before it joins (late-join).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    preload: u8,
    /// Where the testnet lives [default: a new directory under the system's temp dir,
    /// removed afterwards unless --keep].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Keep the testnet's directory (logs, ledgers) after the run.
    #[arg(long)]
    keep: bool,
    /// Seconds between each node's periodic syncs.
    #[arg(long, default_value_t = 5)]
    sync_period: u64,
    /// Trust queries per second sent to the node that answers the catch-up, open loop
    /// (catchup-load).
    #[arg(long, default_value_t = 500.0)]
    rate: f64,
    /// Seconds the paced queries run on the idle node before the joiner starts
    /// (catchup-load).
    #[arg(long, default_value_t = 10)]
    idle_secs: u64,
    /// Niceness (0-19) of the joiner's process (catchup-load): 19 leaves the shared CPU to
    /// the node under measurement first, as if the joiner were another machine.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=19))]
    joiner_nice: u8,
    /// The registry-node binary every node of the run executes, e.g. an older build to
    /// compare with [default: $REGISTRY_NODE_BIN, else the one beside this executable,
    /// else registry-node on PATH].
    #[arg(long, value_name = "PATH")]
    node_bin: Option<PathBuf>,
}

fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Up {
            nodes,
            dir,
            seed,
            sync_period,
        } => {
            let seed = seed.unwrap_or_else(random_seed);
            let mut net = Testnet::create(&dir, nodes, seed, sync_period)?;
            net.wait_connected(
                nodes.saturating_sub(1).min(1),
                std::time::Duration::from_secs(30),
            )?;
            let (witnesses, quorum) = net.name_witnesses()?;
            net.detach();
            println!(
                "testnet of {nodes} nodes in {} (seed {seed})",
                dir.display()
            );
            println!(
                "checkpoint witnesses: every node, quorum {quorum} of {nodes} (entry {})",
                witnesses.id()
            );
            println!("registry {}", net.eco.fx.registry_id);
            for n in &net.nodes {
                println!("  {}  {}  pid {}", n.name, n.api, n.pid);
            }
            println!(
                "root key {}; try: registry --node {} status",
                dir.join("root.key").display(),
                net.nodes[0].api
            );
            println!("stop it with: testnet down --dir {}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { dir } => {
            let net = Testnet::open(&dir)?;
            for (i, n) in net.nodes.iter().enumerate() {
                let line = match net.client(i)?.status() {
                    Ok(s) => format!(
                        "peers {}  entries {}  pending {}  root {}",
                        s.peers,
                        s.entries,
                        s.pending,
                        &s.state_root.to_hex()[..16]
                    ),
                    Err(_) if net::alive(n.pid) => "not answering".into(),
                    Err(_) => "stopped".into(),
                };
                println!("{}  {}  {line}", n.name, n.api);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Down { dir } => {
            let mut net = Testnet::open(&dir)?;
            net.down()?;
            println!("stopped {} nodes in {}", net.nodes.len(), dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => run_scenario(args),
    }
}

fn run_scenario(args: RunArgs) -> anyhow::Result<ExitCode> {
    let seed = args.seed.unwrap_or_else(random_seed);
    let name = match args.scenario {
        ScenarioName::Propagation => "propagation",
        ScenarioName::Partition => "partition",
        ScenarioName::Crash => "crash",
        ScenarioName::LateJoin => "late-join",
        ScenarioName::Load => "load",
        ScenarioName::Byzantine => "byzantine",
        ScenarioName::CatchupLoad => "catchup-load",
        ScenarioName::Checkpoint => "checkpoint",
    };
    if let Some(bin) = &args.node_bin {
        if !bin.is_file() {
            anyhow::bail!("--node-bin {}: no such file", bin.display());
        }
        // Absolute, so the report names the binary that ran wherever it was started from.
        let bin =
            std::fs::canonicalize(bin).with_context(|| format!("--node-bin {}", bin.display()))?;
        // The testnet starts its nodes from $REGISTRY_NODE_BIN; this process has started
        // no threads yet, so setting it here races with nothing.
        std::env::set_var("REGISTRY_NODE_BIN", bin);
    }
    let (dir, temporary) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("testnet-{name}-{}-{seed:016x}", std::process::id())),
            true,
        ),
    };
    if !args.json {
        eprintln!(
            "{name}: {} nodes, seed {seed}, in {}",
            args.nodes,
            dir.display()
        );
    }
    let params = Params {
        seed,
        rounds: args.rounds,
        entries: args.entries,
        preload_percent: args.preload,
        rate: args.rate,
        idle_secs: args.idle_secs,
        joiner_nice: args.joiner_nice,
    };
    let mut report = Report::new(name, seed, args.nodes);
    let outcome = (|| -> anyhow::Result<()> {
        let mut net = Testnet::create(&dir, args.nodes, seed, args.sync_period)
            .context("cannot start the testnet")?;
        net.wait_connected(
            args.nodes.saturating_sub(1).min(2),
            std::time::Duration::from_secs(30),
        )?;
        let result = match args.scenario {
            ScenarioName::Propagation => scenario::propagation::run(&mut net, &params, &mut report),
            ScenarioName::Partition => scenario::partition::run(&mut net, &params, &mut report),
            ScenarioName::Crash => scenario::crash::run(&mut net, &params, &mut report),
            ScenarioName::LateJoin => scenario::late_join::run(&mut net, &params, &mut report),
            ScenarioName::Load => scenario::load::run(&mut net, &params, &mut report),
            ScenarioName::Byzantine => scenario::byzantine::run(&mut net, &params, &mut report),
            ScenarioName::CatchupLoad => {
                scenario::catchup_load::run(&mut net, &params, &mut report)
            }
            ScenarioName::Checkpoint => scenario::checkpoint::run(&mut net, &params, &mut report),
        };
        net.down()?;
        result
    })();
    if let Err(e) = outcome {
        report.fail(format!("{e:#}"));
    }
    if temporary && !args.keep && report.passed() {
        let _ = std::fs::remove_dir_all(&dir);
    } else if !args.json {
        eprintln!(
            "the testnet's files (logs, ledgers) are in {}",
            dir.display()
        );
    }
    report.print(args.json);
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
