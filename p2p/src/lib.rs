//! p2p: how registry nodes find each other, gossip entries and converge (DESIGN section 8).
//!
//! - [`protocol`]: the sync protocol's messages, limits and encoding.
//! - [`sync`]: the sync state machine (messages and time in, actions out; no sockets) and
//!   the responder's side, over any [`sync::LocalSet`].

pub mod protocol;
pub mod sync;
