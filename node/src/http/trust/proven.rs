//! The checkpoint side of a trust answer: how old the node's cosigned knowledge is (every
//! answer's freshness, and `max_age`), and the proof of the answer at the checkpoint state
//! (`proof=true`).
//!
//! The checkpoint state's slot is `cutoff + lag`. The lag is node configuration the
//! handlers do not hold, so the slot is found from the notes: the earliest kept slot from
//! the cutoff on whose note signs exactly the checkpoint state. With the lag shorter than
//! the slot interval (as configured by default) that is the state's own slot; otherwise it
//! may be an earlier slot whose note signs the same body, which proves the same answer at
//! an older slot (a verifier then sees an older checkpoint, never a wrong one).

use registry_core::api::ProofView;
use registry_core::checkpoint::checkpoint_of;
use registry_core::eval::{Decision, Reason};
use registry_core::proof::{prove, ProvenQuery};
use registry_core::registry::Registry;
use registry_core::Timestamp;

use crate::checkpoint::SlotNote;
use crate::http::problem::ApiError;
use crate::http::AppState;

/// The longest lag searched for: slots further than this past the cutoff are not looked at.
const MAX_LAG_SECS: u64 = 86_400;

/// The checkpoint state's note, if it is there, and what follows from it for freshness.
#[derive(Debug, Clone)]
pub struct Knowledge {
    /// The note that signs the checkpoint state (absent: none made yet, or still pending).
    pub located: Option<SlotNote>,
    /// The checkpoint state's cutoff (0 when it never advanced).
    pub cutoff: Timestamp,
    /// The newest slot a quorum of witnesses signed.
    pub cosigned_slot: Option<Timestamp>,
    /// Seconds from what that slot knows (the slot minus the lag) to now.
    pub age: Option<u64>,
}

/// Reads the checkpoint side under the caller's registry lock (so it matches the state
/// the caller proves against).
pub fn knowledge(st: &AppState, registry: &Registry, now: Timestamp) -> Knowledge {
    let trailing = registry.checkpoint();
    let cutoff = trailing.cutoff();
    let located = if cutoff.0 == 0 {
        None
    } else {
        let last = now.0.min(cutoff.0.saturating_add(MAX_LAG_SECS));
        (cutoff.0..=last).find_map(|slot| {
            let note = st.checkpoints.own(Timestamp(slot))?;
            (note.note.checkpoint == checkpoint_of(trailing.state(), Timestamp(slot)))
                .then_some(note)
        })
    };
    let cosigned_slot = st.checkpoints.cosigned_slot();
    // The lag is exact once the state's note is located; until then (its note is still
    // being made) the time since the cutoff bounds it from above, which can only make
    // the knowledge look older than it is: the safe side.
    let lag = match &located {
        Some(n) => n.slot().0.saturating_sub(cutoff.0),
        None => now.0.saturating_sub(cutoff.0),
    };
    let age = cosigned_slot.map(|c| now.0.saturating_sub(c.0.saturating_sub(lag)));
    Knowledge {
        located,
        cutoff,
        cosigned_slot,
        age,
    }
}

impl Knowledge {
    /// Refuses to call an answer authorized on knowledge older than `max_age` seconds
    /// (or on no cosigned knowledge at all). A denial always passes: denying is safe.
    pub fn refuse_stale(&self, authorized: bool, max_age: Option<u64>) -> Result<(), ApiError> {
        let Some(max_age) = max_age.filter(|_| authorized) else {
            return Ok(());
        };
        match self.age {
            Some(age) if age <= max_age => Ok(()),
            Some(age) => Err(ApiError::unavailable(
                "stale",
                format!(
                    "the answer would be authorized, but this node's cosigned knowledge is \
                     {age} s old, more than the {max_age} s allowed"
                ),
            )),
            None => Err(ApiError::unavailable(
                "stale",
                format!(
                    "the answer would be authorized, but no checkpoint of this node is \
                     cosigned yet, so its knowledge cannot be shown to be within {max_age} s"
                ),
            )),
        }
    }

    /// The proof of `query` at the checkpoint state: 503 `no_checkpoint` before the first
    /// checkpoint, 503 `checkpoint_pending` while the state's note is being made.
    pub fn prove(&self, registry: &Registry, query: &ProvenQuery) -> Result<ProofView, ApiError> {
        let Some(located) = &self.located else {
            return Err(if self.cutoff.0 == 0 {
                ApiError::unavailable("no_checkpoint", "this node has made no checkpoint yet")
            } else {
                ApiError::unavailable(
                    "checkpoint_pending",
                    format!(
                        "the note of the checkpoint state (entries issued before {}) is not \
                         made yet; retry in a moment",
                        self.cutoff.to_rfc3339()
                    ),
                )
            });
        };
        let text = located.note.text();
        let (bundle, decision) = prove(registry.checkpoint().state(), &text, query);
        let reason: Option<Reason> = match decision {
            Decision::Denied { reason, .. } => Some(reason),
            Decision::Authorized { .. } => None,
        };
        Ok(ProofView {
            slot: located.slot().to_rfc3339(),
            knowledge_until: self.cutoff.to_rfc3339(),
            signatures: located.witness_signatures(),
            cosigned: located.cosigned(),
            authorized: reason.is_none(),
            reason,
            checkpoint: text,
            bundle: ProofView::bundle_text(&bundle.encode()),
        })
    }
}
