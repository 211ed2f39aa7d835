//! Start-up, serving and shutdown of a node.
//!
//! Start-up never serves from a damaged ledger: it opens the ledger (the store's cheap
//! start-up check), rebuilds the registry from every stored entry, and refuses to start
//! unless the rebuilt state root equals the head block's. Shutdown (SIGINT or SIGTERM)
//! stops accepting connections, lets in-flight requests finish, lets the writer drain its
//! mailbox and flush, and returns.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use registry_core::block::MAX_BLOCK_ENTRIES;
use registry_core::keys::read_key_file;
use registry_core::registry::{IngestReport, Outcome, Registry};
use registry_core::store::{Ledger, Signatures, StoreError};
use registry_core::trie::Trie;
use registry_core::{SecretKey, SignedEntry};
use tokio::sync::mpsc::Receiver;
use tokio::sync::Semaphore;
use tracing::{error, info, warn};

use crate::admin::AdminListener;
use crate::checkpoint::host::CheckpointHost;
use crate::checkpoint::Checkpointer;
use crate::config::Config;
use crate::http::server::{self, ConnLimits};
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::net::NodeHost;
use crate::setup::{read_genesis, DataDir};
use crate::writer::{self, Head, RootMismatch};

/// How long in-flight requests may take to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A node whose ledger is open and whose registry is rebuilt, ready to serve.
#[derive(Debug)]
pub struct Loaded {
    dir: DataDir,
    ledger: Ledger,
    registry: Registry,
    trie: Trie,
    head: Head,
    node_key: SecretKey,
    restored: crate::writer::Restored,
}

/// Opens and checks everything in the data directory. Blocking; runs before the runtime.
pub fn load(dir: &DataDir, config: &Config) -> anyhow::Result<Loaded> {
    let started = Instant::now();
    if !dir.ledger().exists() {
        bail!(
            "{} holds no ledger; create one with `registry-node init --data-dir {} --genesis FILE`",
            dir.path().display(),
            dir.path().display()
        );
    }
    let node_key = read_key_file(&dir.node_key()).context("cannot use the node key")?;
    let ledger = crate::rebuild::open_patiently(&dir.ledger(), crate::rebuild::REOPEN_PATIENCE)
        .map_err(|e| match e {
            StoreError::InUse { .. } | StoreError::Io { .. } => anyhow!("refusing to start: {e}"),
            damaged => refuse(dir, &damaged.to_string()),
        })?;
    if dir.genesis().exists() {
        let copy = read_genesis(&dir.genesis())?;
        if copy != *ledger.genesis() {
            bail!(
                "refusing to start: {} is not the genesis of the ledger in {}",
                dir.genesis().display(),
                dir.ledger().display()
            );
        }
    }
    // The whole chain, every entry and every state root, without public-key work.
    let (_, entries) = ledger
        .verify_and_load(Signatures::Skip)
        .map_err(|e| refuse(dir, &format!("ledger is damaged: {e}")))?;
    let damaged = |m: RootMismatch| anyhow!("refusing to start: the ledger is damaged: {m}");
    let trie = writer::ledger_trie(&ledger, &entries).map_err(damaged)?;
    let root = trie.root();
    let mut registry = rebuild(&ledger, entries, config.registry.pending_capacity)?;
    writer::check_root(&ledger, registry.state_root()).map_err(damaged)?;
    let restored = restore_pending(&ledger, &mut registry)?;
    let head = Head {
        height: ledger.height(),
        hash: ledger.head_hash(),
        state_root: root,
        entries: ledger.entry_count(),
    };
    info!(
        registry = %ledger.registry_id(),
        entries = head.entries,
        height = head.height,
        state_root = %root,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "ledger loaded"
    );
    #[cfg(feature = "unsafe-ack-before-flush")]
    error!(
        "built with the test-only feature unsafe-ack-before-flush: entries are acknowledged \
         before they are stored, and a crash loses them; never serve with this build"
    );
    #[cfg(feature = "test-liar")]
    error!(
        "built with the test-only feature test-liar: this node's checkpoints hide \
         revocations and it signs two bodies for a slot; never serve with this build"
    );
    Ok(Loaded {
        dir: dir.clone(),
        ledger,
        registry,
        trie,
        head,
        node_key,
        restored,
    })
}

/// Offers the entries recorded as pending (acknowledged as such before a stop or crash)
/// to the rebuilt registry. Those now acceptable (their reference reached the ledger
/// before the record was dropped) go to the writer's backlog, written before anything
/// else; the writer drops the records of entries that wait no more.
fn restore_pending(
    ledger: &Ledger,
    registry: &mut Registry,
) -> anyhow::Result<crate::writer::Restored> {
    let recorded = ledger
        .load_pending()
        .map_err(|e| anyhow!("refusing to start: the ledger's pending records are damaged: {e}"))?;
    let mut report = IngestReport::default();
    let mut ids = std::collections::HashSet::with_capacity(recorded.len());
    for (entry, source) in recorded {
        ids.insert(entry.id());
        if let Outcome::Rejected(why) =
            registry.offer_checked_from(entry.clone(), source, &mut report)
        {
            warn!(entry = %entry.id(), reason = %why, "a recorded pending entry is invalid; dropping it");
        }
    }
    registry.rehash();
    if !ids.is_empty() {
        info!(
            recorded = ids.len(),
            pending = registry.pending_len(),
            accepted = report.accepted.len(),
            "pending entries restored"
        );
    }
    Ok(crate::writer::Restored {
        backlog: report.accepted,
        pending: ids,
    })
}

/// The error that stops a node on a damaged ledger: what is wrong, and what to do.
pub fn refuse(dir: &DataDir, damage: &str) -> anyhow::Error {
    let d = dir.path().display();
    anyhow!(
        "refusing to start: {damage}. A node never serves from a damaged ledger. \
         `registry ledger verify --data-dir {d}` checks it in full; \
         `registry-node rebuild --data-dir {d} --bootstrap MULTIADDR` moves it aside and \
         fetches the registry again from peers"
    )
}

/// Rebuilds the registry from the ledger's entries (their signatures were checked before
/// they were written). Every stored entry must be accepted again: one that is not means
/// the ledger does not hold what the node wrote.
fn rebuild(
    ledger: &Ledger,
    entries: Vec<SignedEntry>,
    pending_capacity: usize,
) -> anyhow::Result<Registry> {
    // A block is read in id order, so an entry may wait for one later in its block: the
    // rebuild holds up to a block's worth pending, whatever the configured bound.
    let mut registry = Registry::new(
        ledger.genesis().clone(),
        pending_capacity.max(MAX_BLOCK_ENTRIES),
    );
    let mut report = IngestReport::default();
    for entry in entries {
        let id = entry.id();
        if let Outcome::Rejected(why) = registry.offer_checked(entry, &mut report) {
            bail!("refusing to start: the ledger holds entry {id}, which is invalid: {why}");
        }
    }
    if registry.pending_len() > 0 {
        bail!(
            "refusing to start: {} entries of the ledger refer to entries it does not hold",
            registry.pending_len()
        );
    }
    registry.set_pending_capacity(pending_capacity);
    registry.rehash();
    Ok(registry)
}

/// A loaded node with its writer running: the state every HTTP handler shares, without
/// networking (`state.network` is `None` until [`serve`] starts it). A router over this
/// state is a node with networking off, which tests drive in-process.
#[derive(Debug)]
pub struct Started {
    pub state: AppState,
    /// This node's checkpoints; [`crate::checkpoint::slots::drive`] makes a slot's note.
    pub checkpointer: Arc<Checkpointer>,
    dir: DataDir,
    node_key: SecretKey,
    writer_thread: std::thread::JoinHandle<()>,
    /// The writer's gossip stream, until the network takes it.
    outbox: Option<Receiver<Arc<SignedEntry>>>,
}

/// Whether the node will run the network, which decides whether the writer emits the
/// entries to publish at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Networking {
    On,
    Off,
}

/// Starts the ledger writer over a loaded node.
pub fn start(loaded: Loaded, config: &Config, networking: Networking) -> anyhow::Result<Started> {
    let deny_list =
        crate::denylist::DenyList::load(&loaded.dir.denied_peers(), &config.p2p.network()?.deny)?;
    let genesis = Arc::new(loaded.ledger.genesis().clone());
    let registry_id = loaded.ledger.registry_id();
    let registry = Arc::new(RwLock::new(loaded.registry));
    let head = Arc::new(RwLock::new(loaded.head));
    let metrics = Arc::new(Metrics::new(crate::http::route_templates()));
    let (gossip, outbox) = match networking {
        Networking::On => {
            let (g, rx) = writer::Gossip::channel(writer::GOSSIP_QUEUE, metrics.gossip_dropped());
            (Some(g), Some(rx))
        }
        Networking::Off => (None, None),
    };
    let options = writer::Options {
        max_batch: config.writer.max_batch,
        queue: config.writer.queue,
        gossip,
    };
    let (writer, writer_thread) = writer::spawn(
        loaded.ledger,
        loaded.dir.ledger(),
        loaded.trie,
        registry.clone(),
        head.clone(),
        loaded.restored,
        options,
    )
    .context("cannot start the ledger writer thread")?;
    let checkpoints = Arc::new(crate::checkpoint::Notes::new(config.checkpoint.keep));
    let witnesses_of = registry.clone();
    let checkpointer = Arc::new(Checkpointer::new(
        config.checkpoint.clone(),
        registry_id,
        loaded.node_key.clone(),
        checkpoints.clone(),
        loaded.dir.path(),
        Box::new(move || {
            let registry = match witnesses_of.read() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            registry.state().current_epoch().witnesses.clone()
        }),
        Box::new(crate::checkpoint::slots::unix_now),
    )?);
    checkpoints.attach(&checkpointer);
    let state = AppState {
        registry,
        head,
        network: None,
        writer,
        genesis,
        registry_id,
        metrics,
        limiter: Arc::new(Semaphore::new(config.api.max_concurrent_requests)),
        deny_list: Arc::new(std::sync::Mutex::new(deny_list)),
        checkpoints,
    };
    Ok(Started {
        state,
        checkpointer,
        dir: loaded.dir,
        node_key: loaded.node_key,
        writer_thread,
        outbox,
    })
}

impl Started {
    /// Lets the writer finish what is queued, flush and stop.
    pub async fn stop(self) {
        self.state.writer.shutdown().await;
        let thread = self.writer_thread;
        match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(())) => {}
            _ => error!("the ledger writer thread panicked"),
        }
    }

    /// Starts the network over this node's registry and writer, and forwards the writer's
    /// gossip stream to it.
    fn start_network(
        &mut self,
        config: &Config,
    ) -> anyhow::Result<(p2p::NetworkHandle, tokio::task::JoinHandle<()>)> {
        let mut network_config = config.p2p.network()?;
        network_config.deny = self.state.deny_list().effective();
        let keypair = p2p::keypair_from_seed(self.node_key.to_seed())?;
        let host = Arc::new(CheckpointHost {
            node: NodeHost {
                registry: self.state.registry.clone(),
                writer: self.state.writer.clone(),
            },
            checkpointer: self.checkpointer.clone(),
        });
        let (network, task) = p2p::spawn(network_config, keypair, self.state.registry_id, host)?;
        let publisher = network.clone();
        self.checkpointer
            .set_publisher(Box::new(move |m| publisher.publish_checkpoint(m)));
        // Ends when the writer, the stream's one sender, stops.
        if let Some(mut outbox) = self.outbox.take() {
            let publisher = network.clone();
            tokio::spawn(async move {
                while let Some(entry) = outbox.recv().await {
                    publisher.publish(&entry);
                }
            });
        }
        Ok((network, task))
    }
}

/// Serves the API and the admin API until SIGINT or SIGTERM, then shuts down cleanly.
/// `on_bound` runs once both listeners are bound, with the API's address and where the
/// admin listener is (dev mode prints its banner there).
///
/// With `catch_up`, the API is served only once a sync with a peer has completed (a
/// rebuilt, empty ledger would otherwise answer "not authorized" for what its peers
/// know), failing after that long.
pub async fn serve(
    loaded: Loaded,
    config: &Config,
    catch_up: Option<Duration>,
    on_bound: impl FnOnce(SocketAddr, &str),
) -> anyhow::Result<()> {
    let mut node = start(loaded, config, Networking::On)?;
    let (network, network_task) = match node.start_network(config) {
        Ok(n) => n,
        Err(e) => {
            node.stop().await;
            return Err(e);
        }
    };
    info!(peer_id = %network.info().peer_id, "networking started");
    node.state.network = Some(network.clone());
    let slot_task = tokio::spawn(crate::checkpoint::slots::run(
        node.checkpointer.clone(),
        node.state.writer.clone(),
    ));
    let admin_state = AppState {
        limiter: Arc::new(Semaphore::new(config.admin.max_connections)),
        ..node.state.clone()
    };
    let app = http::router(node.state.clone(), &config.api);
    let caught_up = match catch_up {
        Some(limit) => wait_for_sync(&network, limit).await,
        None => Ok(()),
    };
    let served = match caught_up {
        Err(e) => Err(e),
        Ok(()) => serve_api(&node.dir, config, app, admin_state, on_bound).await,
    };
    // Whatever happened to the server: stop taking slots and the network (no more entries
    // from peers), then let the writer finish what it acknowledged.
    slot_task.abort();
    network.shutdown().await;
    if network_task.await.is_err() {
        error!("the network task panicked");
    }
    node.stop().await;
    served?;
    info!("stopped");
    Ok(())
}

/// Binds the admin listener, then the API (so a node that answers on its API serves its
/// admin API too), and serves both.
async fn serve_api(
    dir: &DataDir,
    config: &Config,
    app: axum::Router,
    admin_state: AppState,
    on_bound: impl FnOnce(SocketAddr, &str),
) -> anyhow::Result<()> {
    let admin = crate::admin::bind(dir.path(), &config.admin).await?;
    let listener = tokio::net::TcpListener::bind(config.api.addr)
        .await
        .map_err(|e| anyhow!("cannot listen on {}: {e}", config.api.addr))?;
    let addr = listener.local_addr().unwrap_or(config.api.addr);
    let location = admin.location();
    info!(api = %format!("http://{addr}"), "serving the HTTP API");
    info!(admin = %location, "serving the admin API (registry peers deny|allow --admin {location})");
    on_bound(addr, &location);
    run_servers(listener, app, admin, admin_state, config).await
}

/// Waits until a sync with a peer completes, or a shutdown signal, or `limit`.
async fn wait_for_sync(network: &p2p::NetworkHandle, limit: Duration) -> anyhow::Result<()> {
    info!("catching up from peers before serving");
    let deadline = tokio::time::Instant::now() + limit;
    let mut signal = std::pin::pin!(shutdown_signal());
    loop {
        if network.freshness().0.is_some() {
            info!("caught up with a peer");
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "no peer completed a sync within {} s; the ledger was rebuilt empty: \
                 run `registry-node rebuild` again with reachable --bootstrap peers",
                limit.as_secs()
            );
        }
        tokio::select! {
            s = &mut signal => bail!("stopped by {s} while catching up"),
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
}

/// Runs the public and the admin server until a shutdown signal, then lets both finish
/// their requests in flight (for at most [`DRAIN_TIMEOUT`]). The admin socket file is
/// removed once its server is done.
async fn run_servers(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    admin: AdminListener,
    admin_state: AppState,
    config: &Config,
) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let limits = ConnLimits::new(&config.api);
    let admin_limits = ConnLimits {
        max_connections: config.admin.max_connections,
        ..limits
    };
    let public = server::serve(listener, app, limits, stopped(stop_rx.clone()));
    let admin_stop = stopped(stop_rx);
    let admin = async move {
        match admin {
            AdminListener::Unix { listener, socket } => {
                let app = http::admin_router(admin_state, &config.api, None);
                server::serve(listener, app, admin_limits, admin_stop).await;
                drop(socket);
            }
            AdminListener::Tcp { listener, token } => {
                let app = http::admin_router(admin_state, &config.api, token);
                server::serve(listener, app, admin_limits, admin_stop).await;
            }
        }
    };
    let both = futures::future::join(public, admin);
    let mut both = std::pin::pin!(both);
    tokio::select! {
        _ = &mut both => return Ok(()),
        signal = shutdown_signal() => info!(signal, "shutting down: finishing in-flight requests"),
    }
    let _ = stop_tx.send(true);
    if tokio::time::timeout(DRAIN_TIMEOUT, both).await.is_err() {
        warn!("in-flight requests did not finish in time; closing them");
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM, naming which.
async fn shutdown_signal() -> &'static str {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => "SIGINT",
        _ = terminate => "SIGTERM",
    }
}
