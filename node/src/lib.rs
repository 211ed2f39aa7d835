//! `registry-node` as a library: everything the daemon is made of, so that other programs
//! (the fuzz targets, tests) use the very code the binary runs; `main.rs` only parses the
//! command line and calls into it.
//!
//! # Layout
//! - `config`: configuration; defaults, a TOML file, flags.
//! - `setup`: the data directory, `init`, and the dev registry of `--dev`.
//! - `dev`: what `--dev` prints for people trying the registry.
//! - `daemon`: start-up checks, the writer started over a loaded node (all a router
//!   driven in-process needs), serving with networking, and shutdown on SIGINT/SIGTERM.
//! - `admin`: the admin listener (Unix socket or loopback TCP) and its token file.
//! - `rebuild`: `registry-node rebuild`, a damaged ledger moved aside and fetched again.
//! - `writer`: the one owner of the ledger; group commit on its own thread, and the
//!   stream of durable client submissions that the network publishes.
//! - `http`: the HTTP API (native, TRQP v2, metrics) and its problem+json errors.
//! - `metrics`: Prometheus counters and histograms in atomics.
//! - `net`: the node as the network sees it (`p2p::Host`).
//! - `denylist`: the deny-list's run-time changes, saved in the data directory.

pub mod admin;
pub mod checkpoint;
pub mod config;
pub mod daemon;
pub mod denylist;
pub mod dev;
pub mod http;
pub mod metrics;
pub mod net;
pub mod rebuild;
pub mod setup;
pub mod writer;

use std::net::SocketAddr;

use registry_core::Timestamp;

/// The clock, read in one place: registry-core takes time as a parameter.
pub fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

/// Whether `addr` is the API address clients use when given no `--node`.
pub fn is_default_api(addr: SocketAddr) -> bool {
    addr == config::ApiConfig::default().addr
}
