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
//!
//! Step 4 opens the ledger steps 2 and 3 have just closed, which is why the node's
//! patient open ([`open_patiently`]) lives here.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use registry_core::keys::read_key_file;
use registry_core::store::{Ledger, StoreError};

use crate::setup::{read_genesis, DataDir};

/// How long a ledger this process has just closed may stay locked: sled releases its
/// file lock from a background thread shortly after the ledger is dropped. A lock held
/// longer belongs to another process.
pub const REOPEN_PATIENCE: Duration = Duration::from_secs(3);

/// How often [`open_patiently`] tries again while the ledger is in use.
const REOPEN_POLL: Duration = Duration::from_millis(10);

/// Opens the ledger in `dir`, trying again while it is in use ([`StoreError::InUse`])
/// for up to `patience`; any other answer is returned at once. For the node's callers
/// that reopen a ledger this process may have just closed: the writer restarting after
/// a failed append, and start-up after `rebuild` or `dev` prepared the ledger. The
/// ledger itself answers `InUse` without waiting, since only the caller knows whether a
/// held lock may be its own.
pub fn open_patiently(dir: &Path, patience: Duration) -> Result<Ledger, StoreError> {
    let deadline = Instant::now() + patience;
    loop {
        match Ledger::open(dir) {
            Err(StoreError::InUse { .. }) if Instant::now() < deadline => {
                std::thread::sleep(REOPEN_POLL);
            }
            answer => return answer,
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use registry_core::testkit::Fixture;

    #[test]
    fn open_patiently_gives_up_on_a_ledger_held_open_and_opens_it_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let fx = Fixture::new(1, 1, 3);
        let held = Ledger::create(dir.path(), &fx.genesis).unwrap();
        let patience = Duration::from_millis(100);
        let started = Instant::now();
        let refused = open_patiently(dir.path(), patience);
        assert!(
            matches!(refused, Err(StoreError::InUse { .. })),
            "{refused:?}"
        );
        assert!(started.elapsed() >= patience, "gave up before its patience");
        drop(held);
        let ledger = open_patiently(dir.path(), REOPEN_PATIENCE).unwrap();
        assert_eq!(ledger.registry_id(), fx.registry_id);
    }
}
