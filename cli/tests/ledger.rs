//! `registry ledger verify` on a ledger built with registry-core: intact, tampered, in use.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

mod support;

use std::path::Path;

use registry_core::store::Ledger;
use registry_core::testkit::{self, Fixture, AUTHORITY_KEY_SEED};
use registry_core::SignedEntry;
use support::{Sandbox, TestResult};

/// A ledger in `dir` with three blocks (1, 2 and 3 entries); returns the entries.
fn build(dir: &Path) -> Result<Vec<SignedEntry>, Box<dyn std::error::Error>> {
    let fx = Fixture::new(2, 1, 4);
    let authority = testkit::authority(&fx);
    let signer = testkit::key(AUTHORITY_KEY_SEED);
    let mut all = vec![authority.clone()];
    all.extend((1..=5).map(|n| testkit::issuer(&fx, authority.id(), &signer, n)));
    let mut ledger = Ledger::create(dir, &fx.genesis)?;
    testkit::append_in_blocks(&mut ledger, &all, [1, 2, 3])?;
    Ok(all)
}

/// Opens the closed ledger's sled database (waiting for sled to release its lock) and
/// flips the last byte of `key`'s value.
fn flip_last_byte(dir: &Path, key: &[u8]) -> TestResult {
    let db = registry_core::store::open_raw_database(dir)?;
    let mut value = db.get(key)?.map(|v| v.to_vec()).ok_or("no such key")?;
    if let Some(b) = value.last_mut() {
        *b ^= 0x5a;
    }
    db.insert(key, value)?;
    db.flush()?;
    Ok(())
}

#[test]
fn verify_reports_an_intact_ledger() -> TestResult {
    let sb = Sandbox::new()?;
    let data = sb.path("node");
    let entries = build(&data.join("ledger"))?;
    let signatures: usize = entries.iter().map(|e| e.signatures.len()).sum();
    let r = sb.run(&["ledger", "verify", "--data-dir", "node"])?;
    assert!(r.ok(), "{r:?}");
    assert!(
        r.stdout.contains("blocks      3") && r.stdout.contains("entries     6"),
        "{r:?}"
    );
    // It says how many signatures it verified: every one of every entry.
    assert!(signatures >= entries.len());
    assert!(
        r.stdout
            .contains(&format!("signatures  {signatures} verified")),
        "{r:?}"
    );
    // The ledger directory itself works too, and --json gives the figures.
    let r = sb.run(&["ledger", "verify", "--data-dir", "node/ledger", "--json"])?;
    let v: serde_json::Value = serde_json::from_str(&r.stdout)?;
    assert_eq!(
        (
            v["ok"].as_bool(),
            v["blocks"].as_u64(),
            v["entries"].as_u64(),
            v["signatures"].as_u64()
        ),
        (Some(true), Some(3), Some(6), Some(signatures as u64))
    );
    Ok(())
}

#[test]
fn verify_names_the_first_bad_block() -> TestResult {
    let sb = Sandbox::new()?;
    let dir = sb.path("ledger");
    let entries = build(&dir)?;
    // The second entry is in block 2; its last byte is part of a signature.
    let key = [&b"e"[..], entries[1].id().as_bytes()].concat();
    flip_last_byte(&dir, &key)?;
    let r = sb.run(&["ledger", "verify", "--data-dir", "ledger"])?;
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("damaged at block 2"), "{}", r.stderr);
    assert!(r.stderr.contains(&entries[1].id().to_hex()), "{}", r.stderr);
    let r = sb.run(&["ledger", "verify", "--data-dir", "ledger", "--json"])?;
    let v: serde_json::Value = serde_json::from_str(&r.stdout)?;
    assert_eq!(v["bad_block"].as_u64(), Some(2));
    Ok(())
}

#[test]
fn verify_refuses_a_ledger_in_use_and_a_non_ledger() -> TestResult {
    let sb = Sandbox::new()?;
    let dir = sb.path("ledger");
    build(&dir)?;
    let open = Ledger::open(&dir)?;
    let r = sb.run(&["ledger", "verify", "--data-dir", "ledger"])?;
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(
        r.stderr.contains("in use") && r.stderr.contains("registry-node"),
        "{}",
        r.stderr
    );
    drop(open);
    std::fs::create_dir(sb.path("empty"))?;
    let r = sb.run(&["ledger", "verify", "--data-dir", "empty"])?;
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("not a ledger"), "{}", r.stderr);
    Ok(())
}
