//! Checkpoints: signed statements of a registry's accepted set at a slot, which let a
//! relying party check an answer offline, holding nothing but the registry id.
//!
//! - [`note`]: the checkpoint body and its C2SP signed-note encoding, signing and
//!   verification.

pub mod note;
