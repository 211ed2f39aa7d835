//! Tests of the ledger: a model test with restarts, verification of good and damaged
//! ledgers, the start-up check, atomic appends, and refusing what is not a ledger.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

use std::error::Error;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use registry_core::block::MAX_BLOCK_ENTRIES;
use registry_core::did::EntityId;
use registry_core::store::{BatchError, Damage, Ledger, StoreError, StoredEntry, VerifyError};
use registry_core::testkit::open_patiently;
use registry_core::trie::Trie;
use registry_core::{
    Accreditation, Author, Block, EntryBody, EntryId, Genesis, Grant, Hash, Kind, Op, SecretKey,
    SignedEntry, Timestamp,
};

type TestResult = Result<(), Box<dyn Error>>;

/// A registry with one root key that signs root-authored accreditations, and the ids it
/// has appended (for state roots).
struct Fixture {
    root: SecretKey,
    genesis: Genesis,
    /// The recorded entries' ids with their signature digests (their trie leaves).
    ids: Vec<(EntryId, Hash)>,
    nonce: u64,
}

impl Fixture {
    fn new() -> Result<Fixture, Box<dyn Error>> {
        let root = SecretKey::from_seed([1; 32]);
        let genesis = Genesis::new(
            EntityId::parse("did:web:edu.example")?,
            "Education".into(),
            Timestamp(1_700_000_000),
            vec![root.did()],
            1,
            3,
        )?;
        Ok(Fixture {
            root,
            genesis,
            ids: Vec::new(),
            nonce: 0,
        })
    }

    /// `n` fresh signed entries, all different.
    fn entries(&mut self, n: usize) -> Vec<SignedEntry> {
        (0..n).map(|_| self.entry()).collect()
    }

    fn entry(&mut self) -> SignedEntry {
        self.nonce += 1;
        let subject = SecretKey::from_seed([2; 32]).did();
        EntryBody {
            registry: self.genesis.registry_id(),
            issued_at: Timestamp(1_700_000_000 + self.nonce),
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
                label: None,
            }),
            nonce: self.nonce,
        }
        .sign(&[&self.root])
    }

    /// The state root after adding `entries`, without recording them (a fresh trie each
    /// time: independent of how the ledger or the trie computes it incrementally).
    fn root_with(&self, entries: &[SignedEntry]) -> Hash {
        let mut trie = Trie::new();
        let added = entries.iter().map(|e| (e.id(), e.signatures_digest()));
        for (id, digest) in self.ids.iter().copied().chain(added) {
            trie.upsert(id, digest);
        }
        trie.rehash()
    }

    /// Appends `entries` with the right state root; records them only on success.
    fn append(
        &mut self,
        ledger: &mut Ledger,
        entries: &[SignedEntry],
    ) -> Result<Block, StoreError> {
        let root = self.root_with(entries);
        let block = ledger.append(entries, Timestamp(1_800_000_000 + ledger.height()), root)?;
        self.ids
            .extend(entries.iter().map(|e| (e.id(), e.signatures_digest())));
        Ok(block)
    }
}

/// A ledger in a fresh directory with blocks of the given sizes.
fn ledger_with(
    dir: &Path,
    sizes: &[usize],
) -> Result<(Fixture, Ledger, Vec<Block>), Box<dyn Error>> {
    let mut fx = Fixture::new()?;
    let mut ledger = Ledger::create(dir, &fx.genesis)?;
    let mut blocks = Vec::new();
    for &n in sizes {
        let entries = fx.entries(n);
        blocks.push(fx.append(&mut ledger, &entries)?);
    }
    Ok((fx, ledger, blocks))
}

/// Opens the closed ledger's sled database directly (waiting for sled's lock as
/// `Ledger::open` does), lets `f` change it, flushes.
fn tamper(dir: &Path, f: impl FnOnce(&sled::Db) -> Result<(), sled::Error>) -> TestResult {
    let db = registry_core::store::open_raw_database(dir)?;
    f(&db)?;
    db.flush()?;
    Ok(())
}

fn entry_key(id: &EntryId) -> Vec<u8> {
    [&b"e"[..], id.as_bytes()].concat()
}

fn block_key(height: u64) -> Vec<u8> {
    [&b"b"[..], &height.to_be_bytes()].concat()
}

/// Flips one byte of a stored value.
fn flip(db: &sled::Db, key: &[u8], at: impl FnOnce(usize) -> usize) -> Result<(), sled::Error> {
    let mut value = db.get(key)?.map(|v| v.to_vec()).unwrap_or_default();
    let i = at(value.len());
    if let Some(b) = value.get_mut(i) {
        *b ^= 0x5a;
    }
    db.insert(key, value)?;
    Ok(())
}

fn verify_error(ledger: &Ledger) -> Result<VerifyError, Box<dyn Error>> {
    match ledger.verify() {
        Ok(report) => Err(format!("verify passed on a damaged ledger: {report:?}").into()),
        Err(e) => Ok(e),
    }
}

fn open_error(dir: &Path) -> Result<StoreError, Box<dyn Error>> {
    match open_patiently(dir) {
        Ok(_) => Err("open accepted a damaged ledger".into()),
        Err(e) => Ok(e),
    }
}

// ---------------------------------------------------------------------------------------
// Model test

#[derive(Clone, Debug)]
enum Action {
    /// Append a block of this many fresh entries.
    Append(usize),
    /// Append a stored entry (picked by index) with a fresh one: must fail, change nothing.
    AppendStored(usize),
    /// Drop the ledger and reopen it.
    Restart,
    /// Look up a stored entry (picked by index) if `true`, else an id never stored.
    Get(usize, bool),
    Blocks(u64, usize),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (1usize..=4).prop_map(Action::Append),
        1 => any::<usize>().prop_map(Action::AppendStored),
        1 => Just(Action::Restart),
        2 => (any::<usize>(), any::<bool>()).prop_map(|(i, p)| Action::Get(i, p)),
        2 => (0u64..12, 0usize..6).prop_map(|(f, l)| Action::Blocks(f, l)),
    ]
}

/// What the ledger should hold.
#[derive(Default)]
struct Model {
    blocks: Vec<Block>,
    /// Entries in ledger order, with their heights.
    entries: Vec<(SignedEntry, u64)>,
}

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

fn check_agrees(ledger: &Ledger, model: &Model, registry: Hash) -> Result<(), TestCaseError> {
    prop_assert_eq!(ledger.height(), model.blocks.len() as u64);
    prop_assert_eq!(ledger.head(), model.blocks.last());
    prop_assert_eq!(
        ledger.head_hash(),
        model.blocks.last().map_or(registry, Block::hash)
    );
    prop_assert_eq!(ledger.entry_count(), model.entries.len() as u64);
    let stored: Vec<SignedEntry> = ledger.entries().collect::<Result<_, _>>().map_err(fail)?;
    let expected: Vec<SignedEntry> = model.entries.iter().map(|(e, _)| e.clone()).collect();
    prop_assert_eq!(&stored, &expected);
    // The fast start-up path holds the same entries, grouped by block in chain order.
    let loaded = ledger.load_all().map_err(fail)?;
    let height_of = |e: &SignedEntry| ledger.entry(&e.id()).ok().flatten().map(|s| s.height);
    let mut by_id = loaded.clone();
    by_id.sort_by_key(SignedEntry::id);
    let mut want = expected;
    want.sort_by_key(SignedEntry::id);
    prop_assert_eq!(by_id, want);
    let heights: Vec<Option<u64>> = loaded.iter().map(height_of).collect();
    prop_assert!(
        heights.windows(2).all(|w| w[0] <= w[1]),
        "load_all out of block order"
    );
    for h in 0..=model.blocks.len() as u64 + 1 {
        let expected = h
            .checked_sub(1)
            .and_then(|i| model.blocks.get(i as usize))
            .cloned();
        prop_assert_eq!(ledger.block(h).map_err(fail)?, expected);
    }
    Ok(())
}

fn run_model(actions: Vec<Action>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().map_err(fail)?;
    let mut fx = Fixture::new().map_err(fail)?;
    let registry = fx.genesis.registry_id();
    let mut ledger = Some(Ledger::create(dir.path(), &fx.genesis).map_err(fail)?);
    let mut model = Model::default();
    for action in actions {
        let l = ledger.as_mut().ok_or_else(|| fail("no ledger"))?;
        match action {
            Action::Append(n) => {
                let entries = fx.entries(n);
                let root = fx.root_with(&entries);
                let expected = Block {
                    height: model.blocks.len() as u64 + 1,
                    prev: model.blocks.last().map_or(registry, Block::hash),
                    timestamp: Timestamp(1_800_000_000 + l.height()),
                    entries: entries.iter().map(SignedEntry::id).collect(),
                    state_root: root,
                };
                let block = fx.append(l, &entries).map_err(fail)?;
                prop_assert_eq!(&block, &expected);
                model
                    .entries
                    .extend(entries.into_iter().map(|e| (e, expected.height)));
                model.blocks.push(expected);
            }
            Action::AppendStored(i) => {
                if model.entries.is_empty() {
                    continue;
                }
                let old = model.entries[i % model.entries.len()].0.clone();
                let fresh = fx.entry();
                let r = fx.append(l, &[fresh.clone(), old.clone()]);
                prop_assert!(matches!(r, Err(StoreError::Duplicate(id)) if id == old.id()));
                prop_assert!(!l.contains(&fresh.id()).map_err(fail)?);
            }
            Action::Restart => {
                drop(ledger.take());
                ledger = Some(open_patiently(dir.path()).map_err(fail)?);
            }
            Action::Get(i, present) => {
                if present && !model.entries.is_empty() {
                    let (entry, height) = model.entries[i % model.entries.len()].clone();
                    let id = entry.id();
                    prop_assert!(l.contains(&id).map_err(fail)?);
                    prop_assert_eq!(
                        l.entry(&id).map_err(fail)?,
                        Some(StoredEntry { entry, height })
                    );
                } else {
                    let id = Hash(*blake3::hash(&i.to_le_bytes()).as_bytes());
                    prop_assert!(!l.contains(&id).map_err(fail)?);
                    prop_assert_eq!(l.entry(&id).map_err(fail)?, None);
                }
            }
            Action::Blocks(from, limit) => {
                let expected: Vec<Block> = model
                    .blocks
                    .iter()
                    .filter(|b| b.height >= from)
                    .take(limit)
                    .cloned()
                    .collect();
                prop_assert_eq!(l.blocks(from, limit).map_err(fail)?, expected);
            }
        }
        let l = ledger.as_ref().ok_or_else(|| fail("no ledger"))?;
        check_agrees(l, &model, registry)?;
    }
    let l = ledger.as_ref().ok_or_else(|| fail("no ledger"))?;
    let report = l.verify().map_err(fail)?;
    prop_assert_eq!(report.blocks, model.blocks.len() as u64);
    prop_assert_eq!(report.entries, model.entries.len() as u64);
    prop_assert_eq!(
        report.state_root,
        model.blocks.last().map_or(Hash::ZERO, |b| b.state_root)
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn store_agrees_with_model(actions in proptest::collection::vec(action(), 1..24)) {
        run_model(actions)?;
    }
}

// ---------------------------------------------------------------------------------------
// Verification

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

// ---------------------------------------------------------------------------------------
// The start-up check

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

// ---------------------------------------------------------------------------------------
// Appends

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

// ---------------------------------------------------------------------------------------
// Creating and opening

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
