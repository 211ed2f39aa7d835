//! `registry-node rebuild`: on the operator's request, replace a damaged ledger with one
//! fetched again from peers.
//!
//! DESIGN section 10 names `init`, `run` and `dump-config`; this adds `rebuild`, which
//! takes the flags of `run`. It is a command of its own rather than a flag of `run`
//! because it moves data, and a flag left in a service file would do that on every
//! start; and it refuses a ledger that verifies with entries in it, so it never throws
//! away a good one. Steps:
//!
//! 1. the node key must read, and the genesis copy must parse and validate (it says which
//!    registry to fetch); neither is touched;
//! 2. the ledger is checked in full (signatures too): intact and non-empty is refused; in
//!    use (a node running on it) is refused;
//! 3. `DIR/ledger` is renamed to `DIR/ledger.damaged-<unix seconds>` (kept for inspection,
//!    path printed), and an empty ledger is created from the genesis copy;
//! 4. the node runs as `run` does, serving its API only once a sync with a peer has
//!    completed (the sync engine fetches every entry the peers hold).

use std::path::PathBuf;

use anyhow::{bail, Context};
use registry_core::keys::read_key_file;
use registry_core::store::{Ledger, StoreError};

use crate::setup::{read_genesis, DataDir};

/// What was done to the data directory.
#[derive(Debug)]
pub struct Prepared {
    /// Where the damaged ledger now is; `None` when the ledger was intact and empty
    /// (a rebuild that stopped before catching up, run again).
    pub moved_to: Option<PathBuf>,
}

/// Steps 1 to 3. `has_peers`: the configuration names a way to find peers.
pub fn prepare(dir: &DataDir, has_peers: bool, now_unix: u64) -> anyhow::Result<Prepared> {
    if !has_peers {
        bail!("rebuild fetches the registry from peers: give at least one --bootstrap MULTIADDR (or --mdns)");
    }
    read_key_file(&dir.node_key()).with_context(|| {
        format!(
            "the node key {} cannot be used; rebuild keeps the node's identity, restore it first",
            dir.node_key().display()
        )
    })?;
    let genesis = read_genesis(&dir.genesis()).context(
        "the genesis copy names the registry to fetch; restore it (the file given to `init`) first",
    )?;
    let ledger_dir = dir.ledger();
    if ledger_dir.exists() {
        match Ledger::open(&ledger_dir) {
            Ok(ledger) => {
                if ledger.genesis() != &genesis {
                    bail!(
                        "{} is not the genesis of the ledger in {}; refusing to rebuild",
                        dir.genesis().display(),
                        ledger_dir.display()
                    );
                }
                match ledger.verify() {
                    Ok(r) if r.entries > 0 => bail!(
                        "the ledger in {} verifies ({} blocks, {} entries, state root {}); \
                         refusing to replace an intact ledger",
                        ledger_dir.display(),
                        r.blocks,
                        r.entries,
                        r.state_root
                    ),
                    Ok(_) => {
                        eprintln!("the ledger is intact and empty: catching up from peers");
                        return Ok(Prepared { moved_to: None });
                    }
                    Err(e) => eprintln!("ledger {} is damaged: {e}", ledger_dir.display()),
                }
            }
            Err(e @ StoreError::InUse { .. }) => {
                bail!("{e}: stop the node before rebuilding its ledger")
            }
            Err(e) => eprintln!("ledger {} is damaged: {e}", ledger_dir.display()),
        }
    }
    let moved_to = if ledger_dir.exists() {
        let target = aside_path(dir, now_unix);
        std::fs::rename(&ledger_dir, &target).with_context(|| {
            format!(
                "cannot move {} to {}",
                ledger_dir.display(),
                target.display()
            )
        })?;
        eprintln!(
            "moved the damaged ledger to {} (kept for inspection)",
            target.display()
        );
        Some(target)
    } else {
        None
    };
    Ledger::create(&ledger_dir, &genesis)
        .with_context(|| format!("cannot create a ledger in {}", ledger_dir.display()))?;
    eprintln!(
        "created an empty ledger in {}; catching up from peers",
        ledger_dir.display()
    );
    Ok(Prepared { moved_to })
}

/// `DIR/ledger.damaged-<now>`, with `-2`, `-3`... if that exists.
fn aside_path(dir: &DataDir, now_unix: u64) -> PathBuf {
    let base = dir.path().join(format!("ledger.damaged-{now_unix}"));
    let mut path = base.clone();
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = PathBuf::from(format!("{}-{n}", base.display()));
    }
    path
}
