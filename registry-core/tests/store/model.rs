//! A model test of appends, look-ups and restarts against what the ledger should hold.

use proptest::test_runner::FileFailurePersistence;

use super::*;

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
    // Seeds of past failures are kept beside this file, in `model.proptest-regressions`.
    #![proptest_config(ProptestConfig {
        cases: 32,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn store_agrees_with_model(actions in proptest::collection::vec(action(), 1..24)) {
        run_model(actions)?;
    }
}
