//! `registry-node`: the trust registry daemon (DESIGN section 10).
//!
//! The command line only: every part of the node is in the library (`registry_node`,
//! `lib.rs`), which says what each module owns.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use registry_node::config::{Config, LogFormat, Overrides};
use registry_node::setup::DataDir;
use registry_node::{daemon, dev, now, rebuild, setup};

/// The data directory of `--dev` when none is given.
const DEV_DATA_DIR: &str = "./.registry-dev";

/// What `registry-node` exits with; the end of `registry-node --help`.
const EXIT_CODES: &str = "\
Exit codes:
  0  success; a running node exits 0 after a clean shutdown on SIGINT or SIGTERM
  1  error: a configuration, data directory or genesis that cannot be used, a damaged
     ledger refused at start-up, a failure while running (the message says which)
  2  usage error: unknown or missing flags (as `registry` exits 2 on any error)";

/// The trust registry daemon.
#[derive(Debug, Parser)]
#[command(
    name = "registry-node",
    version,
    about,
    args_conflicts_with_subcommands = true,
    arg_required_else_help = true,
    after_help = EXIT_CODES
)]
struct Cli {
    /// Run one node on an embedded development registry, created on first use.
    #[arg(long)]
    dev: bool,
    /// With --dev: the data directory [default: ./.registry-dev].
    #[arg(long, value_name = "DIR", requires = "dev")]
    data_dir: Option<PathBuf>,
    /// With --dev: the address the HTTP API listens on.
    #[arg(long, value_name = "ADDR", requires = "dev")]
    api: Option<SocketAddr>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a data directory: node key, copy of the genesis, empty ledger.
    Init {
        /// The data directory to create.
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// The registry's genesis file (JSON).
        #[arg(long, value_name = "FILE")]
        genesis: PathBuf,
    },
    /// Run a node from an initialised data directory.
    Run(RunArgs),
    /// Move a damaged ledger aside (kept, path printed), fetch the registry again from
    /// the peers given with --bootstrap, then serve. Refuses an intact ledger.
    Rebuild(RunArgs),
    /// Print the merged configuration (defaults, file, flags) as TOML.
    DumpConfig(RunArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The node's data directory (made by `init`).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// Configuration file [default: DIR/config.toml when present].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The address the HTTP API listens on.
    #[arg(long, value_name = "ADDR")]
    api: Option<SocketAddr>,
    /// Log format.
    #[arg(long, value_enum, value_name = "FORMAT")]
    log_format: Option<LogFormat>,
    /// A multiaddr to listen on for peers (repeatable; replaces p2p.listen).
    #[arg(long, value_name = "MULTIADDR")]
    listen: Vec<String>,
    /// A peer to connect to at start (repeatable; added to p2p.bootstrap).
    #[arg(long, value_name = "MULTIADDR")]
    bootstrap: Vec<String>,
    /// Find peers on the local network by mDNS.
    #[arg(long)]
    mdns: bool,
}

impl RunArgs {
    fn config(&self) -> anyhow::Result<Config> {
        let overrides = Overrides {
            api_addr: self.api,
            log_format: self.log_format,
            listen: self.listen.clone(),
            bootstrap: self.bootstrap.clone(),
            mdns: self.mdns,
        };
        Config::load(&self.data_dir, self.config.as_deref(), &overrides)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Init { data_dir, genesis }) => init(&data_dir, &genesis),
        Some(Command::Run(args)) => args
            .config()
            .and_then(|c| run(&args.data_dir, &c, None, None)),
        Some(Command::Rebuild(args)) => args.config().and_then(|c| rebuild(&args.data_dir, &c)),
        Some(Command::DumpConfig(args)) => existing_dir(&args.data_dir)
            .and_then(|()| args.config())
            .and_then(|c| c.to_toml())
            .map(|text| print!("{text}")),
        None => dev(cli.data_dir, cli.api),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Refuses a data directory that does not exist (or is not a directory), naming the fix.
fn existing_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => anyhow::bail!("data directory {} is not a directory", dir.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
            "data directory {} does not exist; create one with `registry-node init \
             --data-dir {} --genesis FILE`",
            dir.display(),
            dir.display()
        ),
        Err(e) => anyhow::bail!("cannot read data directory {}: {e}", dir.display()),
    }
}

fn init(data_dir: &std::path::Path, genesis_file: &std::path::Path) -> anyhow::Result<()> {
    let genesis = setup::read_genesis(genesis_file)?;
    setup::init(&DataDir::new(data_dir), &genesis)?;
    println!("{}", genesis.registry_id());
    eprintln!(
        "initialised {} for registry {:?} ({}); start it with `registry-node run --data-dir {}`",
        data_dir.display(),
        genesis.name,
        genesis.authority_id,
        data_dir.display()
    );
    Ok(())
}

fn dev(data_dir: Option<PathBuf>, api: Option<SocketAddr>) -> anyhow::Result<()> {
    let dir = DataDir::new(&data_dir.unwrap_or_else(|| PathBuf::from(DEV_DATA_DIR)));
    // A dev node is alone: it listens for peers on a free loopback port (shown by
    // `registry status`), so it never collides with a node already on the default port.
    let overrides = Overrides {
        api_addr: api,
        listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
        ..Overrides::default()
    };
    let config = Config::load(dir.path(), None, &overrides)?;
    let registry = setup::prepare_dev(&dir)?;
    let banner_dir = dir.clone();
    let banner: Banner =
        Box::new(move |addr, admin| dev::print_banner(&banner_dir, &registry, addr, admin));
    run(dir.path(), &config, Some(banner), None)
}

/// How long `rebuild` waits for a first completed sync before giving up.
const CATCH_UP_LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

fn rebuild(data_dir: &std::path::Path, config: &Config) -> anyhow::Result<()> {
    let dir = DataDir::new(data_dir);
    let has_peers = !config.p2p.bootstrap.is_empty() || config.p2p.mdns;
    let prepared = rebuild::prepare(&dir, has_peers, now().0)?;
    if let Some(path) = &prepared.moved_to {
        println!("{}", path.display());
    }
    run(data_dir, config, None, Some(CATCH_UP_LIMIT))
}

/// Runs once the API and admin listeners are bound, with the API's address and where
/// the admin listener is.
type Banner = Box<dyn FnOnce(SocketAddr, &str) + Send>;

fn run(
    data_dir: &std::path::Path,
    config: &Config,
    banner: Option<Banner>,
    catch_up: Option<std::time::Duration>,
) -> anyhow::Result<()> {
    init_logging(config)?;
    let loaded = daemon::load(&DataDir::new(data_dir), config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("registry-node")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(daemon::serve(loaded, config, catch_up, |addr, admin| {
        if let Some(banner) = banner {
            banner(addr, admin);
        }
    }))
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let directives = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => directives,
        _ => config.log.level.clone(),
    };
    let filter = EnvFilter::try_new(quiet_kademlia(&directives))
        .context("invalid log level (log.level or RUST_LOG)")?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let installed = match config.log.format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}

/// `directives` with Kademlia's behaviour limited to errors, unless they name `libp2p_kad`.
/// Its warnings are about what the node does not use: its own automatic bootstrap (which
/// warns "No known peers" on every node started before its peers, though the network task
/// refreshes the routing table itself once it has a peer) and record replication (the
/// node stores no records).
fn quiet_kademlia(directives: &str) -> String {
    if directives.contains("libp2p_kad") {
        directives.to_string()
    } else {
        format!("{directives},libp2p_kad::behaviour=error")
    }
}
