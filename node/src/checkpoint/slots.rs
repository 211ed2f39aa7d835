//! The slot task: at each wall-clock multiple of `interval_secs`, the writer advances the
//! checkpoint state to `slot - lag` and the [`Checkpointer`] makes (and, as a witness,
//! signs) the slot's note.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use registry_core::Timestamp;
use tracing::{debug, warn};

use super::{Checkpointer, SlotNote};
use crate::writer::{WriterError, WriterHandle};

/// Unix seconds now (0 before 1970: a clock that broken is reported by the skew warning).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Makes the note of `slot`: the writer moves the checkpoint state to `slot - lag`, then
/// the checkpointer takes it.
pub async fn drive(
    checkpointer: &Checkpointer,
    writer: &WriterHandle,
    slot: u64,
) -> Result<SlotNote, WriterError> {
    let cutoff = slot.saturating_sub(checkpointer.config().lag_secs);
    let state = writer
        .checkpoint(Timestamp(slot), Timestamp(cutoff))
        .await?;
    Ok(checkpointer.on_slot(state))
}

/// Runs until the writer stops: the current slot at once, then every boundary of the
/// wall clock (recomputed each time, so a clock step or a slow slot never drifts the
/// schedule; a boundary missed while the node was busy is skipped, not replayed).
pub async fn run(checkpointer: Arc<Checkpointer>, writer: WriterHandle) {
    let interval = checkpointer.config().interval_secs.max(1);
    let mut last: Option<u64> = None;
    loop {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let slot = checkpointer.config().slot_at(now.as_secs());
        if last.is_none_or(|l| slot > l) {
            match drive(&checkpointer, &writer, slot).await {
                Ok(note) => debug!(
                    slot,
                    signatures = note.note.signatures.len(),
                    "checkpoint slot taken"
                ),
                Err(WriterError::Stopped) => return,
                Err(e) => warn!(slot, error = %e, "checkpoint slot skipped"),
            }
            last = Some(slot);
        }
        let next = Duration::from_secs(slot + interval);
        let wait = next.saturating_sub(now);
        tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
    }
}
