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

mod append;
mod model;
mod open;
mod startup;
mod verify;

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
