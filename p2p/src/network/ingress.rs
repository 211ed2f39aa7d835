//! The way into the network task: a cloneable [`NetworkHandle`] that sends it
//! [`Command`]s, and what it answers with.

use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use libp2p::{Multiaddr, PeerId};
use registry_core::codec;
use registry_core::SignedEntry;
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use crate::metrics::NetCounters;

/// What the node shows about its network (`/v1/status`, freshness of answers).
#[derive(Debug, Clone)]
pub struct NetInfo {
    pub peer_id: PeerId,
    pub listen_addrs: Vec<Multiaddr>,
    pub peers: usize,
    pub last_sync_at: Option<SystemTime>,
}

/// A connected peer (`/v1/peers`).
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub peer_id: PeerId,
    pub addresses: Vec<Multiaddr>,
    pub score: f64,
    /// Whether the peer has told us it subscribes to the registry's gossip topic.
    pub subscribed: bool,
}

/// Why the network could not start, or a command to its task failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NetworkError {
    #[error("the network task has stopped")]
    Stopped,
    #[error("cannot start the network: {0}")]
    Start(#[from] StartError),
}

/// An error source shared by clones of the error that carries it.
pub type ErrorSource = Arc<dyn std::error::Error + Send + Sync>;

/// Why the network could not start. Always local: the node's key, its libp2p stack, or
/// its listen addresses.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StartError {
    /// The network's own runtime (a thread, an event loop) could not be made.
    #[error("cannot start the network's runtime: {0}")]
    Runtime(ErrorSource),
    /// The node key is not an ed25519 secret key.
    #[error("the node key is not an ed25519 key: {0}")]
    Identity(ErrorSource),
    /// The transport (TCP, noise, yamux) could not be built.
    #[error("cannot build the transport: {0}")]
    Transport(ErrorSource),
    /// A behaviour (gossipsub, mDNS, ...) could not be built.
    #[error("cannot build the network behaviours: {0}")]
    Behaviour(ErrorSource),
    /// The node cannot listen on a configured address.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: Multiaddr,
        source: ErrorSource,
    },
}

/// What the handle asks of the task.
pub(super) enum Command {
    /// Gossip these bytes (an encoded entry) on the registry's topic.
    Publish(Vec<u8>),
    /// Gossip these bytes (an encoded checkpoint message) on the checkpoint topic.
    PublishCheckpoint(Vec<u8>),
    Deny(PeerId, oneshot::Sender<bool>),
    Allow(PeerId, oneshot::Sender<bool>),
    Peers(oneshot::Sender<Vec<PeerInfo>>),
    Shutdown,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Publish(_) => "Publish",
            Command::PublishCheckpoint(_) => "PublishCheckpoint",
            Command::Deny(..) => "Deny",
            Command::Allow(..) => "Allow",
            Command::Peers(_) => "Peers",
            Command::Shutdown => "Shutdown",
        })
    }
}

/// A cloneable handle to the network task.
#[derive(Debug, Clone)]
pub struct NetworkHandle {
    tx: mpsc::Sender<Command>,
    info: Arc<RwLock<NetInfo>>,
    counters: Arc<NetCounters>,
}

impl NetworkHandle {
    pub(super) fn new(
        tx: mpsc::Sender<Command>,
        info: Arc<RwLock<NetInfo>>,
        counters: Arc<NetCounters>,
    ) -> NetworkHandle {
        NetworkHandle { tx, info, counters }
    }

    /// Gossips a durable entry. Never waits: with the command queue full the entry is
    /// dropped here (sync delivers it).
    pub fn publish(&self, entry: &SignedEntry) {
        if self
            .tx
            .try_send(Command::Publish(codec::encode(entry)))
            .is_err()
        {
            debug!("network command queue full; the entry will spread by sync");
        }
    }

    /// Gossips a checkpoint note or equivocation proof. Never waits: with the command
    /// queue full it is dropped (the next slot's note supersedes it).
    pub fn publish_checkpoint(&self, message: &crate::protocol::CheckpointMessage) {
        if self
            .tx
            .try_send(Command::PublishCheckpoint(message.encode()))
            .is_err()
        {
            debug!("network command queue full; a checkpoint message was not gossiped");
        }
    }

    /// Disconnects and refuses `peer`; true if it was not denied before.
    pub async fn deny(&self, peer: PeerId) -> Result<bool, NetworkError> {
        self.ask(|tx| Command::Deny(peer, tx)).await
    }

    /// Undoes [`NetworkHandle::deny`]; true if the peer was denied.
    pub async fn allow(&self, peer: PeerId) -> Result<bool, NetworkError> {
        self.ask(|tx| Command::Allow(peer, tx)).await
    }

    pub async fn peers(&self) -> Result<Vec<PeerInfo>, NetworkError> {
        self.ask(Command::Peers).await
    }

    /// The peer id and listen addresses (kept by the task), with the freshness figures
    /// read from the counters, where the task keeps them.
    pub fn info(&self) -> NetInfo {
        let mut info = match self.info.read() {
            Ok(i) => i.clone(),
            Err(p) => p.into_inner().clone(),
        };
        (info.last_sync_at, info.peers) = self.freshness();
        info
    }

    /// When this node last completed a sync, and how many peers it has: cheap enough for
    /// every query.
    pub fn freshness(&self) -> (Option<SystemTime>, usize) {
        let ms = self.counters.last_sync_unix_ms.load(Ordering::Relaxed);
        let last = (ms > 0).then(|| SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
        (last, self.counters.peers.load(Ordering::Relaxed) as usize)
    }

    pub fn counters(&self) -> &NetCounters {
        &self.counters
    }

    /// Stops the task (it closes every connection).
    pub async fn shutdown(&self) {
        let _ = self.tx.send(Command::Shutdown).await;
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NetworkError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(make(tx))
            .await
            .map_err(|_| NetworkError::Stopped)?;
        rx.await.map_err(|_| NetworkError::Stopped)
    }
}
