//! Throughput of durable appends and the cost of opening a large ledger. Ignored by
//! default; run in release:
//!
//! `STORE_PERF_ENTRIES=1000000 cargo test --release -p registry-core --test store_perf -- --ignored --nocapture`
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

use std::error::Error;
use std::time::Instant;

use registry_core::block::MAX_BLOCK_ENTRIES;
use registry_core::did::EntityId;
use registry_core::entry::Signature;
use registry_core::store::Ledger;
use registry_core::{
    Accreditation, Author, EntryBody, Genesis, Grant, Hash, Kind, Op, SecretKey, SignedEntry,
    Timestamp,
};

#[test]
#[ignore = "performance measurement; run in release with --ignored"]
fn store_perf_append_and_open() -> Result<(), Box<dyn Error>> {
    let total: u64 = std::env::var("STORE_PERF_ENTRIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let root = SecretKey::from_seed([1; 32]);
    let genesis = Genesis::new(
        EntityId::parse("did:web:edu.example")?,
        "Education".into(),
        Timestamp(1_700_000_000),
        vec![root.did()],
        1,
        3,
    )?;
    let registry = genesis.registry_id();
    let subject = SecretKey::from_seed([2; 32]).did();
    // The store does not check signatures, so one (invalid) signature serves every entry:
    // this measures the store, not signing.
    let sig = Signature {
        signer: root.did(),
        sig: root.sign(b"perf"),
    };
    let entry = |nonce: u64| SignedEntry {
        body: EntryBody {
            registry,
            issued_at: Timestamp(1_700_000_000 + nonce),
            author: Author::Roots,
            op: Op::Accredit(Accreditation {
                subject: EntityId::from(subject),
                kind: Kind::Authorization,
                grants: vec![Grant {
                    action: "issue".into(),
                    resource: "Degree".into(),
                }],
                controllers: vec![subject],
                valid_from: Timestamp(1_700_000_000),
                valid_until: None,
                label: Some(format!("University number {nonce}")),
            }),
            nonce,
        },
        signatures: vec![sig.clone()],
    };
    println!("entry size: {} bytes", entry(0).encode().len());

    let dir = tempfile::tempdir()?;
    let mut ledger = Ledger::create(dir.path(), &genesis)?;
    let mut in_append = std::time::Duration::ZERO;
    let start = Instant::now();
    let mut nonce = 0;
    while nonce < total {
        let n = (total - nonce).min(MAX_BLOCK_ENTRIES as u64);
        let batch: Vec<SignedEntry> = (nonce..nonce + n).map(entry).collect();
        nonce += n;
        let t = Instant::now();
        ledger.append(&batch, Timestamp(1_800_000_000), Hash::ZERO)?;
        in_append += t.elapsed();
    }
    let elapsed = start.elapsed();
    println!(
        "appended {total} entries in {} blocks: {:.1} s overall, {:.0} entries/s inside append",
        ledger.height(),
        elapsed.as_secs_f64(),
        total as f64 / in_append.as_secs_f64()
    );
    println!("size on disk: {} MB", ledger.size_on_disk()? / 1_000_000);
    drop(ledger);

    for run in ["first open after the writer closed", "second open"] {
        let t = Instant::now();
        let ledger = Ledger::open(dir.path())?;
        println!(
            "{run}: {:.3} s (height {})",
            t.elapsed().as_secs_f64(),
            ledger.height()
        );
    }
    let ledger = Ledger::open(dir.path())?;
    let t = Instant::now();
    let n = ledger.entries().try_fold(0u64, |n, r| r.map(|_| n + 1))?;
    println!(
        "read back {n} entries in ledger order: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
