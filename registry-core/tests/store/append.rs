//! Appends: atomic batches, ledger order, and entries listed again with new signatures.

use super::*;

/// Asserts that the ledger still holds exactly `blocks`, and none of `absent`.
fn assert_unchanged(
    ledger: &Ledger,
    blocks: &[Block],
    count: u64,
    absent: &[SignedEntry],
) -> TestResult {
    assert_eq!(ledger.height(), blocks.len() as u64);
    assert_eq!(ledger.head(), blocks.last());
    assert_eq!(ledger.entry_count(), count);
    for e in absent {
        assert!(!ledger.contains(&e.id())?);
    }
    assert_eq!(ledger.verify()?.entries, count);
    Ok(())
}

#[test]
fn store_append_is_atomic() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (mut fx, mut ledger, blocks) = ledger_with(dir.path(), &[3])?;
    let stored = ledger.entries().collect::<Result<Vec<_>, _>>()?;
    let fresh = fx.entries(2);

    let batch = [fresh[0].clone(), fresh[1].clone(), fresh[0].clone()];
    let r = fx.append(&mut ledger, &batch);
    assert!(
        matches!(r, Err(StoreError::BadBatch(BatchError::Repeated(id))) if id == fresh[0].id())
    );
    assert_unchanged(&ledger, &blocks, 3, &fresh)?;

    let batch = [fresh[0].clone(), stored[1].clone(), fresh[1].clone()];
    let r = fx.append(&mut ledger, &batch);
    assert!(matches!(r, Err(StoreError::Duplicate(id)) if id == stored[1].id()));
    assert_unchanged(&ledger, &blocks, 3, &fresh)?;

    assert!(matches!(
        fx.append(&mut ledger, &[]),
        Err(StoreError::BadBatch(BatchError::Empty))
    ));
    let too_many = vec![fresh[0].clone(); MAX_BLOCK_ENTRIES + 1];
    let r = fx.append(&mut ledger, &too_many);
    assert!(matches!(
        r,
        Err(StoreError::BadBatch(BatchError::TooMany {
            count: 1025,
            ..
        }))
    ));
    let mut foreign = fresh[1].clone();
    foreign.body.registry = Hash([3; 32]);
    let r = fx.append(&mut ledger, &[fresh[0].clone(), foreign]);
    assert!(matches!(
        r,
        Err(StoreError::BadBatch(BatchError::WrongRegistry { .. }))
    ));
    assert_unchanged(&ledger, &blocks, 3, &fresh)?;

    drop(ledger);
    let mut ledger = open_patiently(dir.path())?;
    assert_unchanged(&ledger, &blocks, 3, &fresh)?;
    // The refused entries can still be appended, and the chain continues.
    let block = fx.append(&mut ledger, &fresh)?;
    assert_eq!((block.height, block.prev), (2, blocks[0].hash()));
    assert_eq!(ledger.entry(&fresh[1].id())?.map(|s| s.height), Some(2));
    Ok(())
}

#[test]
fn store_entries_come_in_ledger_order() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (_, ledger, blocks) = ledger_with(dir.path(), &[3, 1, 4])?;
    let ids: Vec<EntryId> = ledger
        .entries()
        .map(|r| r.map(|e| e.id()))
        .collect::<Result<_, _>>()?;
    let listed: Vec<EntryId> = blocks.iter().flat_map(|b| b.entries.clone()).collect();
    assert_eq!(ids, listed);
    assert_eq!(ledger.blocks(0, 10)?, blocks);
    assert_eq!(ledger.blocks(2, 1)?, blocks[1..2]);
    assert_eq!(ledger.blocks(4, 10)?, vec![]);
    assert_eq!(ledger.blocks(1, 0)?, vec![]);
    Ok(())
}

#[test]
fn store_load_all_refuses_an_entry_under_the_wrong_key() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (_, ledger, blocks) = ledger_with(dir.path(), &[3, 2])?;
    drop(ledger);
    let (a, b) = (blocks[0].entries[0], blocks[0].entries[1]);
    tamper(dir.path(), |db| {
        let value = db.get(entry_key(&b))?.unwrap_or_default();
        db.insert(entry_key(&a), value)?;
        Ok(())
    })?;
    let ledger = open_patiently(dir.path())?;
    let err = ledger
        .load_all()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("has id"), "{err}");
    Ok(())
}

/// An entry that gains signatures is listed again with its whole new set: reading,
/// loading, the ledger-order iterator and verification see it; appending the same set
/// again is refused; a lost signature record is named.
#[test]
fn store_an_entry_listed_again_with_new_signatures() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut fx = Fixture::new()?;
    let mut ledger = Ledger::create(dir.path(), &fx.genesis)?;
    let first = fx.entry();
    let other = fx.entry();
    fx.append(&mut ledger, &[first.clone(), other])?;
    let mut merged = first.clone();
    let extra = SecretKey::from_seed([3; 32]);
    merged.signatures.push(registry_core::entry::Signature {
        signer: extra.did(),
        sig: extra.sign(first.id().as_bytes()),
    });
    merged.signatures.sort_by_key(|s| s.signer);
    fx.append(&mut ledger, &[merged.clone()])?;
    assert_eq!(
        ledger.entry_count(),
        2,
        "a listing again is not a new entry"
    );
    assert_eq!(ledger.height(), 2);
    let held = ledger.entry(&first.id())?.ok_or("entry missing")?;
    assert_eq!((held.entry.signatures.len(), held.height), (2, 1));
    let loaded = ledger.load_all()?;
    assert!(loaded.contains(&merged) && !loaded.contains(&first));
    let listings: Vec<SignedEntry> = ledger.entries().collect::<Result<_, _>>()?;
    assert_eq!(listings.len(), 3);
    assert_eq!(listings[2], merged);
    let report = ledger.verify()?;
    assert_eq!(report.entries, 2);
    assert!(matches!(
        fx.append(&mut ledger, &[merged.clone()]),
        Err(StoreError::Duplicate(id)) if id == first.id()
    ));
    drop(ledger);
    tamper(dir.path(), |db| {
        let mut key = vec![b's'];
        key.extend_from_slice(first.id().as_bytes());
        key.extend_from_slice(&2u64.to_be_bytes());
        db.remove(key).map(drop)
    })?;
    let ledger = open_patiently(dir.path());
    let e = match ledger {
        Err(e) => e.to_string(),
        Ok(l) => verify_error(&l)?.to_string(),
    };
    assert!(e.contains("signature record"), "{e}");
    Ok(())
}
