//! Checkpoints: signed statements of a registry's accepted set at a slot, which let a
//! relying party check an answer offline, holding nothing but the registry id.
//!
//! - [`note`]: the checkpoint body and its C2SP signed-note encoding, signing and
//!   verification.
//! - [`trailing`]: the checkpoint state, which trails the live state by the lag and is
//!   what a slot's checkpoint signs and proofs are made against.

pub mod note;
pub mod trailing;

use crate::state::State;
use crate::time::Timestamp;

pub use note::{Checkpoint, NoteSignature, SignedNote};
pub use trailing::Trailing;

/// The checkpoint body of `state` at `slot`: its registry, entry count, set root and index
/// root. `state` must be current (rehashed), as the registry's states always are.
pub fn checkpoint_of(state: &State, slot: Timestamp) -> Checkpoint {
    Checkpoint {
        registry: *state.registry_id(),
        count: state.len() as u64,
        set_root: state.state_root(),
        index_root: state.index_root(),
        slot,
    }
}
