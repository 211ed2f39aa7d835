//! Counters of the network, shared by the network task (which counts gossip, sync and
//! penalties), the sync codec (which counts bytes) and the node's metrics (which reads
//! them). A leaf module: it depends on nothing else in the crate.

use std::sync::atomic::AtomicU64;

/// Counters of the network, for metrics.
#[derive(Debug, Default)]
pub struct NetCounters {
    pub gossip_accepted: AtomicU64,
    pub gossip_ignored: AtomicU64,
    pub gossip_rejected: AtomicU64,
    pub sync_completed: AtomicU64,
    pub sync_failed: AtomicU64,
    pub sync_entries: AtomicU64,
    /// Bytes of sync messages read and written (frames included).
    pub sync_bytes_in: AtomicU64,
    pub sync_bytes_out: AtomicU64,
    pub penalties: AtomicU64,
    /// Connected peers now, and the last completed sync in unix milliseconds (0: never):
    /// read by every trust answer, so kept where a read costs two atomic loads.
    pub peers: AtomicU64,
    pub last_sync_unix_ms: AtomicU64,
}
