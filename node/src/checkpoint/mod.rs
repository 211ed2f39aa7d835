//! Checkpoints (DESIGN section 12): the notes this node keeps and serves, signs as a
//! witness, and exchanges with peers.
//!
//! - [`config`]: the `[checkpoint]` settings;
//! - [`notes`]: the notes of recent slots, shared with the HTTP API;
//! - [`signed`]: the persisted record that keeps a witness from signing two bodies for a
//!   slot, across crashes;
//! - [`equivocation`]: proofs that a witness did, and their bounded store;
//! - [`checkpointer`]: slots, signing, and the judging of peers' messages;
//! - [`slots`]: the task that drives slots from the wall clock;
//! - [`host`]: the network's host, with the checkpoint topic.

pub mod checkpointer;
pub mod config;
pub mod equivocation;
pub mod host;
pub mod notes;
pub mod signed;
pub mod slots;

#[cfg(test)]
mod tests;

pub use checkpointer::{Checkpointer, Snapshot};
pub use config::CheckpointConfig;
pub use notes::{Notes, SlotNote};
