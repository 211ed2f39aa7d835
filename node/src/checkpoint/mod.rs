//! Checkpoints (DESIGN section 12): the notes this node keeps and serves.

pub mod notes;

pub use notes::{Notes, SlotNote};
