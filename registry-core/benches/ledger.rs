//! Ledger size and start-up cost: bytes on disk per entry, time to open a ledger of
//! `LEDGER_BENCH_ENTRIES` entries (default 1,000,000) and run its start-up check, and time
//! to rebuild the in-memory registry from it.
//!
//! Run: `cargo bench -p registry-core --bench ledger` (set `LEDGER_BENCH_ENTRIES` to
//! change the size; `LEDGER_BENCH_DIR` to keep the ledger somewhere other than a
//! temporary directory).
#![allow(clippy::unwrap_used)] // a benchmark that cannot set up has nothing to measure

use std::time::Instant;

use registry_core::block::MAX_BLOCK_ENTRIES;
use registry_core::registry::{IngestReport, Registry};
use registry_core::store::Ledger;
use registry_core::testkit::{self, key, Fixture};
use registry_core::trie::Trie;
use registry_core::{SignedEntry, Timestamp};

fn main() {
    // `cargo bench` passes `--bench`; this harness takes no arguments of its own.
    let n: usize = std::env::var("LEDGER_BENCH_ENTRIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var("LEDGER_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| tmp.path().join("ledger"));
    let fx = Fixture::new(1, 1, 4);
    let authority = testkit::authority(&fx);

    if Ledger::open(&dir).is_ok() {
        println!("reusing the ledger in {}", dir.display());
    } else {
        build(&dir, n, &fx, &authority);
    }
    measure(&dir, n);
}

/// Writes `n` entries (one block per 1,024) and reports the time and the size on disk.
fn build(dir: &std::path::Path, n: usize, fx: &Fixture, authority: &SignedEntry) {
    let signer = key(testkit::AUTHORITY_KEY_SEED);
    let start = Instant::now();
    let mut ledger = Ledger::create(dir, &fx.genesis).unwrap();
    let mut trie = Trie::new();
    let mut raw_bytes = 0u64;
    let mut pending = vec![authority.clone()];
    let mut made = 1usize;
    while made < n || !pending.is_empty() {
        while pending.len() < MAX_BLOCK_ENTRIES && made < n {
            made += 1;
            pending.push(testkit::issuer(fx, authority.id(), &signer, made as u64));
        }
        for e in &pending {
            trie.insert(e.id(), e.signatures_digest());
            raw_bytes += e.encode().len() as u64;
        }
        ledger
            .append(&pending, Timestamp(1_700_000_000), trie.rehash())
            .unwrap();
        pending.clear();
    }
    let write_secs = start.elapsed().as_secs_f64();
    ledger.flush().unwrap();
    let disk = ledger.size_on_disk().unwrap();
    drop(ledger);
    println!("entries: {n}, built (sign + append) in {write_secs:.1} s");
    println!(
        "disk: {disk} bytes, {:.0} bytes/entry (encoded entry: {:.0} bytes/entry)",
        disk as f64 / n as f64,
        raw_bytes as f64 / n as f64
    );
}

/// Times opening (with the start-up check) and rebuilding the in-memory registry.
fn measure(dir: &std::path::Path, n: usize) {
    let start = Instant::now();
    let ledger = Ledger::open(dir).unwrap();
    let open_first = start.elapsed();
    drop(ledger);
    let start = Instant::now();
    let ledger = Ledger::open(dir).unwrap();
    let open_again = start.elapsed();
    println!(
        "open + start-up check: first after the writer closed {:.3} s, again {:.3} s",
        open_first.as_secs_f64(),
        open_again.as_secs_f64()
    );

    // Rebuilding the in-memory registry at node start-up: the ledger's entries passed
    // verification when written, so only acceptance runs (no signature checks).
    let start = Instant::now();
    let entries = ledger.load_all().unwrap();
    let read = start.elapsed();
    let mut registry = Registry::new(ledger.genesis().clone(), 10_000);
    let mut report = IngestReport::default();
    for e in entries {
        registry.offer_checked(e, &mut report);
        report.accepted.clear();
    }
    let root = registry.rehash();
    let load = start.elapsed();
    assert_eq!(registry.state().len(), n);
    assert_eq!(Some(root), ledger.head().map(|b| b.state_root));
    println!(
        "rebuild in-memory registry from the ledger: {:.2} s (of which reading {:.2} s)",
        load.as_secs_f64(),
        read.as_secs_f64()
    );
    let start = Instant::now();
    let report = ledger.verify().unwrap();
    println!(
        "full verification (chain, ids, signatures, state roots): {:.1} s for {} entries",
        start.elapsed().as_secs_f64(),
        report.entries
    );
}
