//! The registry CLI as a library: a blocking client of a node's HTTP API, bulk
//! submission, and bounded reading of JSON-lines entry files. The `registry` binary is
//! built on it, and the multi-node testnet reuses it to drive real nodes.
//!
//! # Layout
//! - [`client`]: [`Client`], one typed method per endpoint of the node's API.
//! - [`admin`]: [`AdminClient`], the node's admin listener (a Unix socket or loopback TCP).
//! - [`error`]: [`ClientError`], what went wrong talking to a node.
//! - [`bulk`]: [`bulk::submit_all`], many entries from many threads, with a [`bulk::Summary`].
//! - [`jsonl`]: [`jsonl::BoundedLines`], JSON lines read with a per-line size limit.

pub mod admin;
pub mod bulk;
pub mod client;
pub mod error;
pub mod jsonl;

pub use admin::AdminClient;
pub use client::Client;
pub use error::ClientError;
