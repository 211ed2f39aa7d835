//! The ledger writer's mailbox: the one owner of the [`Ledger`], on its own OS thread.
//!
//! Everything that touches sled goes through a bounded mailbox of [`Command`]s carrying
//! `oneshot` replies: submissions (grouped into one commit per batch, see [`actor`]) and
//! reads of blocks and stored entries (run on the writer thread between commits). The
//! registry itself is shared with readers as `Arc<RwLock<Registry>>`, and the writer
//! publishes a small [`Head`] snapshot after every append.
//!
//! The writer also decides what the network gossips: once a batch is durable, each
//! submission of [`Origin::Client`] that was accepted, merged or left pending goes into
//! the [`Gossip`] stream as the copy the registry holds (the union of its signatures),
//! or as submitted while it waits. Entries from peers are never published again, and
//! duplicates are not published at all. The daemon wires the stream to the network; with
//! networking off there is no stream.

mod actor;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use registry_core::checkpoint::Checkpoint;
use registry_core::registry::{Outcome, Source};
use registry_core::store::{Ledger, StoreError};
use registry_core::trie::Trie;
use registry_core::{Hash, SignedEntry, Timestamp, WitnessSet};
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

pub use actor::{spawn, Restored};

/// The tip of the durable ledger, as readers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub height: u64,
    /// Hash of the last block (the registry id while the ledger is empty).
    pub hash: Hash,
    /// State root over every durable entry.
    pub state_root: Hash,
    /// Entries in the ledger.
    pub entries: u64,
}

/// The head snapshot shared between the writer (which sets it) and readers.
pub type SharedHead = Arc<RwLock<Head>>;

/// Reads the shared head, whatever a panicking thread may have left behind (a `Head` is
/// plain data, always consistent).
pub fn read_head(head: &SharedHead) -> Head {
    match head.read() {
        Ok(h) => *h,
        Err(poisoned) => *poisoned.into_inner(),
    }
}

/// Why the writer could not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriterError {
    #[error("the ledger writer's queue is full; retry shortly")]
    Busy,
    #[error("the ledger writer has stopped (the node is shutting down)")]
    Stopped,
    /// A ledger operation failed; `context` says which.
    #[error("the ledger could not store the entry: {context}: {source}")]
    Storage {
        context: &'static str,
        source: Arc<StoreError>,
    },
    /// The disk holding the ledger is full: nothing more is stored (or acknowledged) until
    /// space is freed; the writer retries with the next submission.
    #[error("the ledger's disk is full; nothing was stored: {context}: {source}")]
    OutOfSpace {
        context: &'static str,
        source: Arc<StoreError>,
    },
    /// The ledger was closed after a failed write and could not be reopened yet.
    #[error("the ledger could not store the entry: the ledger is unavailable")]
    Unavailable,
    /// The ledger reopened after a failure is not this registry's.
    #[error(
        "the ledger could not store the entry: the reopened ledger belongs to another registry"
    )]
    ForeignLedger,
    /// The ledger read back after a failure does not hash to its head block's root.
    #[error("the ledger could not store the entry: {0}")]
    Damaged(#[from] RootMismatch),
}

impl WriterError {
    /// The error for a failed ledger operation: [`WriterError::OutOfSpace`] when the disk
    /// is full, [`WriterError::Storage`] otherwise.
    pub fn from_store(context: &'static str, e: StoreError) -> WriterError {
        let source = Arc::new(e);
        if source.is_out_of_space() {
            WriterError::OutOfSpace { context, source }
        } else {
            WriterError::Storage { context, source }
        }
    }
}

/// The ledger's entries hash to another state root than its head block records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "its entries hash to state root {computed}, but its head block (height {height}) \
     records {recorded}"
)]
pub struct RootMismatch {
    pub computed: Hash,
    pub recorded: Hash,
    pub height: u64,
}

/// The trie of the ledger's ids built from its `entries` (a later copy of an id replaces
/// an earlier one: it carries the grown signature set), checked against the state root of
/// the head block. Start-up and the writer's recovery after a failed write both rest on it.
pub fn ledger_trie(ledger: &Ledger, entries: &[SignedEntry]) -> Result<Trie, RootMismatch> {
    let mut trie = Trie::new();
    for e in entries {
        trie.upsert(e.id(), e.signatures_digest());
    }
    check_root(ledger, trie.rehash())?;
    Ok(trie)
}

/// Whether `computed` is the state root the ledger's head block records.
pub fn check_root(ledger: &Ledger, computed: Hash) -> Result<(), RootMismatch> {
    let recorded = ledger.head().map(|b| b.state_root).unwrap_or(Hash::ZERO);
    if computed == recorded {
        Ok(())
    } else {
        Err(RootMismatch {
            computed,
            recorded,
            height: ledger.height(),
        })
    }
}

/// Where a submission comes from, which decides whether the network publishes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A client of the HTTP API: once durable (or pending), the entry is gossiped.
    Client,
    /// A peer, by gossip or sync: gossipsub forwards it and sync spreads it, so it is
    /// not published again.
    Peer,
}

/// How many entries may wait for the network to publish them.
pub const GOSSIP_QUEUE: usize = 1024;

/// The writer's end of the stream of entries the network publishes: a bounded channel the
/// writer never waits on. A full channel drops the entry (counted; sync delivers it).
#[derive(Debug, Clone)]
pub struct Gossip {
    tx: mpsc::Sender<Arc<SignedEntry>>,
    dropped: Arc<AtomicU64>,
}

impl Gossip {
    /// The stream's two ends, holding at most `capacity` entries; `dropped` counts the
    /// entries a full stream drops.
    pub fn channel(
        capacity: usize,
        dropped: Arc<AtomicU64>,
    ) -> (Gossip, mpsc::Receiver<Arc<SignedEntry>>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Gossip { tx, dropped }, rx)
    }

    /// Entries dropped so far because the stream was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Hands `entry` to the network without waiting.
    fn send(&self, entry: Arc<SignedEntry>) {
        match self.tx.try_send(entry) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(e)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                debug!(entry = %e.id(), "the gossip stream is full; the entry will spread by sync");
            }
            // The network has stopped: nobody publishes any more.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// How the writer runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Most submissions in one commit.
    pub max_batch: usize,
    /// Capacity of the mailbox.
    pub queue: usize,
    /// Where client submissions go once durable; `None` with networking off.
    pub gossip: Option<Gossip>,
}

/// A read of the ledger, run on the writer thread (`None`: the ledger is unavailable
/// after a storage failure).
type ReadJob = Box<dyn FnOnce(Option<&Ledger>) + Send>;

/// A submitted entry and where its outcome goes once it is durable.
#[derive(Debug)]
pub struct WriteRequest {
    pub entry: SignedEntry,
    /// Who sent it: the pending pool's share it counts against if it waits.
    pub source: Source,
    /// Whether the network publishes it once durable.
    pub origin: Origin,
    pub reply: oneshot::Sender<Result<Outcome, WriterError>>,
}

/// The checkpoint state at a slot boundary, as the writer left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotState {
    /// The checkpoint state's body for the slot.
    pub checkpoint: Checkpoint,
    /// The witnesses the checkpoint state holds in force at the slot: those a verifier of
    /// a proof at this slot counts.
    pub witnesses: Option<WitnessSet>,
    /// The witnesses of the live state's current epoch: whether this node signs now, and
    /// whose signatures it takes from peers.
    pub live_witnesses: Option<WitnessSet>,
}

/// Moves the checkpoint state to a slot boundary (see [`WriterHandle::checkpoint`]).
#[derive(Debug)]
pub struct CheckpointRequest {
    pub slot: Timestamp,
    /// Entries issued before this go in: `slot - lag`.
    pub cutoff: Timestamp,
    pub reply: oneshot::Sender<SlotState>,
}

/// What the writer's mailbox carries.
pub enum Command {
    /// Boxed: an entry is large, and reads and shutdowns share the mailbox.
    Write(Box<WriteRequest>),
    Read(ReadJob),
    /// Advance the checkpoint state: the registry is written only on the writer thread.
    Checkpoint(CheckpointRequest),
    /// Finish what is queued before this, flush, and stop.
    Shutdown,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Write(w) => write!(f, "Write({})", w.entry.id()),
            Command::Read(_) => f.write_str("Read"),
            Command::Checkpoint(c) => write!(f, "Checkpoint({})", c.slot.as_secs()),
            Command::Shutdown => f.write_str("Shutdown"),
        }
    }
}

/// A cloneable handle to the writer's mailbox.
#[derive(Debug, Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Command>,
}

impl WriterHandle {
    /// Offers an entry; answers once its outcome is final (and, for accepted entries,
    /// durable). A full mailbox is [`WriterError::Busy`] at once: the caller sheds load
    /// instead of queueing without bound.
    pub async fn submit(
        &self,
        entry: SignedEntry,
        source: Source,
        origin: Origin,
    ) -> Result<Outcome, WriterError> {
        let (reply, rx) = oneshot::channel();
        self.try_send(Command::Write(Box::new(WriteRequest {
            entry,
            source,
            origin,
            reply,
        })))?;
        rx.await.map_err(|_| WriterError::Stopped)?
    }

    /// Like [`WriterHandle::submit`], but waits for room in a full mailbox instead of
    /// failing: for entries fetched by sync, which the network task paces by awaiting.
    pub async fn submit_waiting(
        &self,
        entry: SignedEntry,
        source: Source,
        origin: Origin,
    ) -> Result<Outcome, WriterError> {
        let rx = self.enqueue(entry, source, origin).await?;
        rx.await.map_err(|_| WriterError::Stopped)?
    }

    /// Puts an entry in the mailbox, waiting for room, and returns where its outcome will
    /// arrive: several entries enqueued one after another reach the writer in that order
    /// and share its group commits.
    pub async fn enqueue(
        &self,
        entry: SignedEntry,
        source: Source,
        origin: Origin,
    ) -> Result<oneshot::Receiver<Result<Outcome, WriterError>>, WriterError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Write(Box::new(WriteRequest {
                entry,
                source,
                origin,
                reply,
            })))
            .await
            .map_err(|_| WriterError::Stopped)?;
        Ok(rx)
    }

    /// Runs `f` against the ledger on the writer thread and returns its result.
    pub async fn read<T, F>(&self, f: F) -> Result<T, WriterError>
    where
        T: Send + 'static,
        F: FnOnce(&Ledger) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: ReadJob = Box::new(move |ledger| {
            let result = match ledger {
                Some(l) => f(l).map_err(|e| WriterError::from_store("cannot read the ledger", e)),
                None => Err(WriterError::Unavailable),
            };
            let _ = tx.send(result);
        });
        self.try_send(Command::Read(job))?;
        rx.await.map_err(|_| WriterError::Stopped)?
    }

    /// Moves the checkpoint state's cutoff to `cutoff` (on the writer thread, after the
    /// submissions queued before it) and returns its body for `slot` with the witnesses in
    /// force. Waits for room in a full mailbox: it comes once per slot.
    pub async fn checkpoint(
        &self,
        slot: Timestamp,
        cutoff: Timestamp,
    ) -> Result<SlotState, WriterError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Checkpoint(CheckpointRequest {
                slot,
                cutoff,
                reply,
            }))
            .await
            .map_err(|_| WriterError::Stopped)?;
        rx.await.map_err(|_| WriterError::Stopped)
    }

    /// Asks the writer to finish everything queued so far, flush and stop. Waits for room
    /// in the mailbox rather than failing.
    pub async fn shutdown(&self) {
        let _ = self.tx.send(Command::Shutdown).await;
    }

    fn try_send(&self, command: Command) -> Result<(), WriterError> {
        self.tx.try_send(command).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => WriterError::Busy,
            mpsc::error::TrySendError::Closed(_) => WriterError::Stopped,
        })
    }
}
