//! Verification of good ledgers, and of ledgers damaged below the head.

use super::*;

#[test]
fn store_verify_passes_on_good_ledger() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (fx, ledger, blocks) = ledger_with(dir.path(), &[1, 5, 3])?;
    let report = ledger.verify()?;
    assert_eq!((report.blocks, report.entries), (3, 9));
    assert_eq!(report.state_root, fx.root_with(&[]));
    assert_eq!(ledger.head(), blocks.last());
    assert!(ledger.size_on_disk()? > 0);
    drop(ledger);
    let ledger = open_patiently(dir.path())?;
    assert_eq!(ledger.verify()?, report);
    assert_eq!(ledger.genesis(), &fx.genesis);
    assert_eq!(ledger.registry_id(), fx.genesis.registry_id());

    let empty_dir = tempfile::tempdir()?;
    let empty = Ledger::create(empty_dir.path(), &fx.genesis)?;
    let report = empty.verify()?;
    assert_eq!(
        (report.blocks, report.entries, report.state_root),
        (0, 0, Hash::ZERO)
    );
    assert_eq!(empty.head_hash(), fx.genesis.registry_id());
    Ok(())
}

#[test]
fn store_verify_names_flipped_entry_bytes() -> TestResult {
    // (byte offset within the stored value, the damage expected, whether reading the
    // entries back notices it: `entries()` checks ids and heights, not signatures)
    type Offset = fn(usize) -> usize;
    type Expect = fn(&Damage, EntryId) -> bool;
    let cases: [(Offset, Expect, bool); 4] = [
        (
            |len| len - 1,
            |d, id| matches!(d, Damage::BadSignature(i, _) if *i == id),
            false,
        ),
        // Byte 8 starts the body, whose first field is the registry id.
        (
            |_| 8 + 5,
            |d, id| matches!(d, Damage::EntryIdMismatch(i) if *i == id),
            true,
        ),
        (
            |_| 7,
            |d, id| matches!(d, Damage::EntryHeightMismatch { id: i, .. } if *i == id),
            true,
        ),
        (
            |_| 8 + 32 + 12,
            |d, id| matches!(d, Damage::BadEntryEncoding(i, _) | Damage::EntryIdMismatch(i) if *i == id),
            true,
        ),
    ];
    for (at, expected, read_fails) in cases {
        let dir = tempfile::tempdir()?;
        let (_, ledger, blocks) = ledger_with(dir.path(), &[2, 3, 2])?;
        drop(ledger);
        let id = blocks[1].entries[1];
        tamper(dir.path(), |db| flip(db, &entry_key(&id), at))?;
        let ledger = open_patiently(dir.path())?; // damage below the head: open does not see it
        let err = verify_error(&ledger)?;
        assert_eq!(err.height, 2, "{err}");
        assert!(expected(&err.problem, id), "{err}");
        assert!(err.to_string().contains("block 2"), "{err}");
        assert_eq!(ledger.entries().any(|r| r.is_err()), read_fails, "{err}");
    }
    Ok(())
}

#[test]
fn store_verify_names_broken_link() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (_, ledger, blocks) = ledger_with(dir.path(), &[1, 2, 1, 1])?;
    drop(ledger);
    let mut bad = blocks[1].clone();
    bad.prev = Hash([7; 32]);
    tamper(dir.path(), |db| {
        db.insert(block_key(2), bad.encode()).map(drop)
    })?;
    let ledger = open_patiently(dir.path())?;
    let err = verify_error(&ledger)?;
    assert_eq!(err.height, 2);
    assert_eq!(
        err.problem,
        Damage::BrokenLink {
            expected: blocks[0].hash(),
            found: Hash([7; 32])
        }
    );
    Ok(())
}

#[test]
fn store_verify_names_missing_entry_block_and_extra_entries() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (_, ledger, blocks) = ledger_with(dir.path(), &[2, 2, 2])?;
    drop(ledger);
    let id = blocks[1].entries[0];
    tamper(dir.path(), |db| db.remove(entry_key(&id)).map(drop))?;
    let err = verify_error(&open_patiently(dir.path())?)?;
    assert_eq!((err.height, err.problem), (2, Damage::MissingEntry(id)));

    let dir = tempfile::tempdir()?;
    let (_, ledger, _) = ledger_with(dir.path(), &[1, 1, 1, 1])?;
    drop(ledger);
    tamper(dir.path(), |db| db.remove(block_key(2)).map(drop))?;
    let err = verify_error(&open_patiently(dir.path())?)?;
    assert_eq!((err.height, err.problem), (2, Damage::MissingBlock));

    let dir = tempfile::tempdir()?;
    let (mut fx, ledger, _) = ledger_with(dir.path(), &[1, 1])?;
    drop(ledger);
    let stray = fx.entry();
    let value = [&2u64.to_be_bytes()[..], &stray.encode()].concat();
    tamper(dir.path(), |db| {
        db.insert(entry_key(&stray.id()), value).map(drop)
    })?;
    let err = verify_error(&open_patiently(dir.path())?)?;
    assert_eq!(
        (err.height, err.problem),
        (
            2,
            Damage::UnlistedEntries {
                stored: 3,
                listed: 2
            }
        )
    );
    Ok(())
}

#[test]
fn store_verify_names_wrong_state_root() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut fx, mut ledger, _) = ledger_with(dir.path(), &[2])?;
    let entries = fx.entries(2);
    ledger.append(&entries, Timestamp(1_800_000_000), Hash([9; 32]))?;
    let err = verify_error(&ledger)?;
    assert_eq!(err.height, 2);
    assert!(
        matches!(err.problem, Damage::StateRootMismatch { stored, .. } if stored == Hash([9; 32]))
    );
    Ok(())
}
