//! The ledger writer's mailbox: the one owner of the [`Ledger`], on its own OS thread.
//!
//! Everything that touches sled goes through a bounded mailbox of [`Command`]s carrying
//! `oneshot` replies: submissions (grouped into one commit per batch, see [`actor`]) and
//! reads of blocks and stored entries (run on the writer thread between commits). The
//! registry itself is shared with readers as `Arc<RwLock<Registry>>`, and the writer
//! publishes a small [`Head`] snapshot after every append.

mod actor;

use std::sync::{Arc, RwLock};

use registry_core::registry::{Outcome, Source};
use registry_core::store::{Ledger, StoreError};
use registry_core::{Hash, SignedEntry};
use tokio::sync::{mpsc, oneshot};

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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriterError {
    #[error("the ledger writer's queue is full; retry shortly")]
    Busy,
    #[error("the ledger writer has stopped (the node is shutting down)")]
    Stopped,
    #[error("the ledger could not store the entry: {0}")]
    Storage(String),
    /// The disk holding the ledger is full: nothing more is stored (or acknowledged) until
    /// space is freed; the writer retries with the next submission.
    #[error("the ledger's disk is full; nothing was stored: {0}")]
    OutOfSpace(String),
}

impl WriterError {
    /// The error for a failed ledger operation: [`WriterError::OutOfSpace`] when the disk
    /// is full, [`WriterError::Storage`] otherwise.
    pub fn from_store(context: &str, e: &StoreError) -> WriterError {
        let detail = if context.is_empty() {
            e.to_string()
        } else {
            format!("{context}: {e}")
        };
        if e.is_out_of_space() {
            WriterError::OutOfSpace(detail)
        } else {
            WriterError::Storage(detail)
        }
    }
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
    pub reply: oneshot::Sender<Result<Outcome, WriterError>>,
}

/// What the writer's mailbox carries.
pub enum Command {
    /// Boxed: an entry is large, and reads and shutdowns share the mailbox.
    Write(Box<WriteRequest>),
    Read(ReadJob),
    /// Finish what is queued before this, flush, and stop.
    Shutdown,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Write(w) => write!(f, "Write({})", w.entry.id()),
            Command::Read(_) => f.write_str("Read"),
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
    pub async fn submit(&self, entry: SignedEntry, source: Source) -> Result<Outcome, WriterError> {
        let (reply, rx) = oneshot::channel();
        self.try_send(Command::Write(Box::new(WriteRequest {
            entry,
            source,
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
    ) -> Result<Outcome, WriterError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Write(Box::new(WriteRequest {
                entry,
                source,
                reply,
            })))
            .await
            .map_err(|_| WriterError::Stopped)?;
        rx.await.map_err(|_| WriterError::Stopped)?
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
                Some(l) => f(l).map_err(|e| WriterError::Storage(e.to_string())),
                None => Err(WriterError::Storage("the ledger is unavailable".into())),
            };
            let _ = tx.send(result);
        });
        self.try_send(Command::Read(job))?;
        rx.await.map_err(|_| WriterError::Stopped)?
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
