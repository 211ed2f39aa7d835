//! The start-up check: `open` refuses a damaged head and damaged metadata.

use super::*;

/// Builds a 3-block ledger, applies `damage`, and returns what `open` says.
fn open_after(
    damage: impl FnOnce(&sled::Db, &[Block]) -> Result<(), sled::Error>,
) -> Result<StoreError, Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let (_, ledger, blocks) = ledger_with(dir.path(), &[2, 2, 2])?;
    drop(ledger);
    tamper(dir.path(), |db| damage(db, &blocks))?;
    open_error(dir.path())
}

fn damaged_at(e: &StoreError, height: u64) -> Option<&Damage> {
    match e {
        StoreError::Damaged(VerifyError { height: h, problem }) if *h == height => Some(problem),
        _ => None,
    }
}

#[test]
fn store_open_refuses_damaged_head() -> TestResult {
    // A flipped byte in the head block (its state root): it no longer hashes to the head.
    let e = open_after(|db, _| flip(db, &block_key(3), |len| len - 1))?;
    assert!(
        matches!(damaged_at(&e, 3), Some(Damage::HeadMismatch(_))),
        "{e}"
    );
    // A truncated head block.
    let e = open_after(|db, _| db.insert(block_key(3), &b"\x03"[..]).map(drop))?;
    assert!(
        matches!(damaged_at(&e, 3), Some(Damage::BadBlockEncoding(_))),
        "{e}"
    );
    // The head block gone.
    let e = open_after(|db, _| db.remove(block_key(3)).map(drop))?;
    assert_eq!(damaged_at(&e, 3), Some(&Damage::MissingBlock), "{e}");
    // An entry of the head block gone, or flipped.
    let e = open_after(|db, b| db.remove(entry_key(&b[2].entries[1])).map(drop))?;
    assert!(
        matches!(damaged_at(&e, 3), Some(Damage::MissingEntry(_))),
        "{e}"
    );
    let e = open_after(|db, b| flip(db, &entry_key(&b[2].entries[0]), |_| 20))?;
    assert!(
        matches!(damaged_at(&e, 3), Some(Damage::EntryIdMismatch(_))),
        "{e}"
    );
    // The block before the head rewritten: the head's link breaks.
    let e = open_after(|db, b| {
        let mut bad = b[1].clone();
        bad.timestamp = Timestamp(1);
        db.insert(block_key(2), bad.encode()).map(drop)
    })?;
    assert!(
        matches!(damaged_at(&e, 3), Some(Damage::BrokenLink { .. })),
        "{e}"
    );
    // A block stored above the head (the head record rolled back).
    let e = open_after(|db, b| db.insert(block_key(4), b[2].encode()).map(drop))?;
    assert_eq!(damaged_at(&e, 4), Some(&Damage::BlockBeyondHead), "{e}");
    Ok(())
}

#[test]
fn store_open_refuses_damaged_metadata() -> TestResult {
    let e = open_after(|db, _| db.insert(b"mhead", &b"\xff\xff"[..]).map(drop))?;
    assert!(
        matches!(&e, StoreError::Corrupt { what } if what.contains("head record")),
        "{e}"
    );
    let e = open_after(|db, _| db.remove(b"mhead").map(drop))?;
    assert!(
        matches!(&e, StoreError::Corrupt { what } if what.contains("head record")),
        "{e}"
    );
    let e = open_after(|db, _| flip(db, b"mgenesis", |_| 3))?;
    assert!(
        matches!(&e, StoreError::Corrupt { what } if what.contains("genesis")),
        "{e}"
    );
    let e = open_after(|db, _| {
        db.insert(b"mformat-version", &1u32.to_be_bytes()[..])
            .map(drop)
    })?;
    assert!(
        matches!(
            e,
            StoreError::WrongFormatVersion {
                found: 1,
                supported: 2
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().contains("registry-node rebuild"),
        "an old ledger's error says how to move on: {e}"
    );
    Ok(())
}
