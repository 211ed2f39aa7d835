//! Creating and opening: reopening at once, refusing a second user, an existing ledger,
//! and what is not a ledger.

use super::*;

#[test]
fn store_reopen_right_after_close_and_refuse_a_second_user() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (_, ledger, _) = ledger_with(dir.path(), &[2])?;
    // Closing and reopening at once, many times: the caller waits for the lock sled
    // releases in the background.
    drop(ledger);
    for _ in 0..20 {
        let l = open_patiently(dir.path())?;
        assert_eq!(l.height(), 1);
    }
    // While one handle is open, a second open is refused with a clear error.
    let held = open_patiently(dir.path())?;
    let err = Ledger::open(dir.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("in use by another process"), "{err}");
    drop(held);
    Ok(())
}

#[test]
fn store_second_open_of_a_live_ledger_is_refused_at_once_naming_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (_, held, _) = ledger_with(dir.path(), &[1])?;
    // A leftover sled would have removed on open; a refused open must not touch it.
    let leftover = dir.path().join("snap.00000000000000AA.generating");
    std::fs::write(&leftover, b"partial")?;
    // The probe of the file lock fails while `held` lives: no waiting for it to go.
    let started = std::time::Instant::now();
    let opened = Ledger::open(dir.path());
    let took = started.elapsed();
    for e in [opened.err(), Ledger::open(dir.path()).err()] {
        let shown = e.as_ref().map(ToString::to_string).unwrap_or_default();
        match e {
            Some(StoreError::InUse { path }) => assert_eq!(path, dir.path()),
            other => panic!("expected InUse, got {other:?}"),
        }
        assert!(shown.contains(&dir.path().display().to_string()), "{shown}");
    }
    assert!(
        took < std::time::Duration::from_secs(1),
        "refusing a ledger in use took {took:?}"
    );
    assert!(
        leftover.exists(),
        "a refused open removed a file of a ledger in use"
    );
    // The refused opens changed nothing: once released, the ledger opens as it was.
    drop(held);
    let reopened = open_patiently(dir.path())?;
    assert_eq!((reopened.height(), reopened.entry_count()), (1, 1));
    Ok(())
}

#[test]
fn store_create_refuses_existing_ledger() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (fx, ledger, _) = ledger_with(dir.path(), &[1])?;
    drop(ledger);
    let e = Ledger::create(dir.path(), &fx.genesis).err();
    assert!(matches!(e, Some(StoreError::AlreadyExists { .. })), "{e:?}");
    assert_eq!(open_patiently(dir.path())?.entry_count(), 1);
    Ok(())
}

#[test]
fn store_open_refuses_what_is_not_a_ledger() -> TestResult {
    let dir = tempfile::tempdir()?;
    let e = open_error(dir.path())?;
    assert!(matches!(&e, StoreError::NotALedger { .. }), "{e}");
    assert!(e.to_string().contains("not a ledger"), "{e}");
    assert_eq!(
        std::fs::read_dir(dir.path())?.count(),
        0,
        "open wrote into an empty directory"
    );

    let e = open_error(&dir.path().join("missing"))?;
    assert!(
        matches!(&e, StoreError::NotALedger { reason, .. } if reason.contains("no such")),
        "{e}"
    );
    assert!(!dir.path().join("missing").exists());

    let file = dir.path().join("file");
    std::fs::write(&file, b"hello")?;
    let e = open_error(&file)?;
    assert!(matches!(&e, StoreError::NotALedger { .. }), "{e}");
    let e = open_error(dir.path())?;
    assert!(matches!(&e, StoreError::NotALedger { .. }), "{e}");

    let other = tempfile::tempdir()?;
    tamper(other.path(), |db| db.insert(b"k", &b"v"[..]).map(drop))?;
    let e = open_error(other.path())?;
    assert!(
        matches!(&e, StoreError::NotALedger { reason, .. } if reason.contains("format")),
        "{e}"
    );
    Ok(())
}
