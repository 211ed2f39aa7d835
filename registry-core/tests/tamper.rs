//! Tamper evidence of the ledger on real files: sled's files truncated at several lengths,
//! random bits flipped (seeded), a block deleted, an entry replaced by another validly
//! signed one, blocks swapped. Every case must be detected, by the start-up path
//! (`Ledger::open` then `verify_and_load` without signatures) and by full verification
//! (`Ledger::open` then `verify`), or be provably harmless: the ledger still verifies and
//! holds exactly the same entries, byte for byte, and the same state root.
//!
//! Each test prints one summary line. `REGISTRY_SOAK=1` runs many more bit flips.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

use std::error::Error;
use std::io::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use registry_core::rng::SplitMix64;
use registry_core::store::{open_raw_database, Ledger, Signatures};
use registry_core::testkit::{self, copy_dir, key, Fixture};
use registry_core::{Hash, SignedEntry};

type TestResult = Result<(), Box<dyn Error>>;

/// Bit flips by default, and with `REGISTRY_SOAK=1`.
const FLIPS: u64 = 300;
const SOAK_FLIPS: u64 = 5_000;

/// A closed ledger and what it holds.
struct Pristine {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    entries: Vec<Vec<u8>>,
    root: Hash,
    blocks: u64,
}

/// A ledger of 240 entries in blocks of 1 to 7 entries.
fn pristine() -> Result<Pristine, Box<dyn Error>> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("ledger");
    let fx = Fixture::new(1, 1, 4);
    let authority = testkit::authority(&fx);
    let signer = key(testkit::AUTHORITY_KEY_SEED);
    let mut all = vec![authority.clone()];
    all.extend((1..240).map(|n| testkit::issuer(&fx, authority.id(), &signer, n)));
    let mut ledger = Ledger::create(&dir, &fx.genesis)?;
    let (blocks, root) = testkit::append_in_blocks(&mut ledger, &all, (1..=7).cycle())?;
    drop(ledger);
    Ok(Pristine {
        _tmp: tmp,
        dir,
        entries: all.iter().map(SignedEntry::encode).collect(),
        root,
        blocks,
    })
}

/// Every file under `dir`, relative to it, sorted.
fn files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                todo.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                out.push(rel.to_path_buf());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// What one path (start-up or full verification) made of a damaged copy.
#[derive(Debug)]
enum Verdict {
    Detected(String),
    Harmless,
    /// Opened and verified, but holds something else: a damaged ledger would be served.
    Missed(String),
}

impl Verdict {
    fn describe(&self) -> String {
        match self {
            Verdict::Detected(e) => format!("detected: {e}"),
            Verdict::Harmless => "harmless".into(),
            Verdict::Missed(e) => format!("MISSED: {e}"),
        }
    }
}

fn judge(dir: &Path, p: &Pristine, signatures: Signatures) -> Verdict {
    let run = || -> Verdict {
        let ledger = match Ledger::open(dir) {
            Ok(l) => l,
            Err(e) => return Verdict::Detected(e.to_string()),
        };
        let (report, entries) = match ledger.verify_and_load(signatures) {
            Ok(r) => r,
            Err(e) => return Verdict::Detected(e.to_string()),
        };
        let same = report.state_root == p.root
            && report.blocks == p.blocks
            && entries.len() == p.entries.len()
            && entries
                .iter()
                .zip(&p.entries)
                .all(|(e, b)| e.encode() == *b);
        match same {
            true => Verdict::Harmless,
            false => Verdict::Missed(format!("{report:?}")),
        }
    };
    catch_unwind(AssertUnwindSafe(run))
        .unwrap_or_else(|_| Verdict::Missed("a panic escaped the ledger".into()))
}

/// Counts of one test's cases.
#[derive(Default)]
struct Tally {
    cases: u64,
    detected: u64,
    harmless: u64,
    missed: Vec<String>,
}

impl Tally {
    /// Judges `dir` by both paths; both must agree on "harmless" for the case to count so.
    fn judge(&mut self, what: &str, dir: &Path, p: &Pristine) {
        self.cases += 1;
        let startup = judge(dir, p, Signatures::Skip);
        let full = judge(dir, p, Signatures::Check);
        match (&startup, &full) {
            (Verdict::Detected(_), Verdict::Detected(_)) => self.detected += 1,
            (Verdict::Harmless, Verdict::Harmless) => self.harmless += 1,
            _ => self.missed.push(format!(
                "{what}: start-up {}, full {}",
                startup.describe(),
                full.describe()
            )),
        }
    }

    fn finish(self, name: &str) {
        let _ = writeln!(
            std::io::stderr(),
            "{name}: {} cases, {} detected, {} harmless, missed={}",
            self.cases,
            self.detected,
            self.harmless,
            self.missed.len()
        );
        assert!(self.missed.is_empty(), "missed: {:#?}", self.missed);
        assert!(self.detected > 0, "{name}: nothing was detected");
    }
}

#[test]
fn truncating_any_ledger_file_is_detected_or_harmless() -> TestResult {
    let p = pristine()?;
    let work = tempfile::tempdir()?;
    let mut tally = Tally::default();
    for (i, rel) in files(&p.dir)?.iter().enumerate() {
        let len = std::fs::metadata(p.dir.join(rel))?.len();
        let mut cuts = vec![0, 1, 8, 9, len / 4, len / 2, len * 3 / 4, len - 1];
        cuts.retain(|&c| c < len);
        cuts.dedup();
        for cut in cuts {
            let case = work.path().join(format!("t{i}-{cut}"));
            copy_dir(&p.dir, &case)?;
            std::fs::OpenOptions::new()
                .write(true)
                .open(case.join(rel))?
                .set_len(cut)?;
            tally.judge(&format!("{} cut to {cut}", rel.display()), &case, &p);
        }
    }
    tally.finish("tamper-truncate");
    Ok(())
}

#[test]
fn flipped_bits_are_detected_or_harmless() -> TestResult {
    let soak = std::env::var("REGISTRY_SOAK").is_ok_and(|v| v == "1");
    let flips = if soak { SOAK_FLIPS } else { FLIPS };
    let seed = std::env::var("TAMPER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7a3e_11d5_u64);
    eprintln!("tamper-flip: seed {seed} (TAMPER_SEED={seed} reruns it)");
    let p = pristine()?;
    let work = tempfile::tempdir()?;
    let files = files(&p.dir)?;
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(p.dir.join(f)).map(|m| m.len()))
        .collect::<Result<_, _>>()?;
    let mut rng = SplitMix64::new(seed);
    let mut tally = Tally::default();
    for case_no in 0..flips {
        // Half of the flips go to the log file `db`, which holds the data; the rest to
        // any file (conf, the head witness, db).
        let pick = match rng.chance(50) {
            true => files.iter().position(|f| f == Path::new("db")).unwrap_or(0),
            false => rng.below(files.len()),
        };
        let rel = &files[pick];
        if sizes[pick] == 0 {
            continue;
        }
        let offset = rng.below(sizes[pick] as usize);
        let bit = rng.below(8);
        let case = work.path().join(format!("f{case_no}"));
        copy_dir(&p.dir, &case)?;
        let mut bytes = std::fs::read(case.join(rel))?;
        bytes[offset] ^= 1 << bit;
        std::fs::write(case.join(rel), &bytes)?;
        let what = format!("case {case_no}: {} byte {offset} bit {bit}", rel.display());
        tally.judge(&what, &case, &p);
        std::fs::remove_dir_all(&case)?;
    }
    tally.finish("tamper-flip");
    Ok(())
}

/// Applies `change` to a copy of the ledger through sled itself (the files stay valid for
/// sled; only the ledger's own checks can see it) and returns the damage each path names.
fn tampered(
    p: &Pristine,
    name: &str,
    change: impl FnOnce(&sled::Db) -> Result<(), Box<dyn Error>>,
) -> Result<(String, String), Box<dyn Error>> {
    let work = apply(p, name, change)?;
    let mut tally = Tally::default();
    tally.judge(name, &work, p);
    assert_eq!(
        tally.detected, 1,
        "{name} was not detected: {:?}",
        tally.missed
    );
    Ok((
        named(&work, p, Signatures::Skip),
        named(&work, p, Signatures::Check),
    ))
}

/// What `judge` says, as text.
fn named(dir: &Path, p: &Pristine, signatures: Signatures) -> String {
    match judge(dir, p, signatures) {
        Verdict::Detected(e) => e,
        other => other.describe(),
    }
}

/// A copy of the ledger changed by `change` through sled.
fn apply(
    p: &Pristine,
    name: &str,
    change: impl FnOnce(&sled::Db) -> Result<(), Box<dyn Error>>,
) -> Result<PathBuf, Box<dyn Error>> {
    let work = p.dir.with_file_name(name);
    copy_dir(&p.dir, &work)?;
    let db = open_raw_database(&work)?;
    change(&db)?;
    db.flush()?;
    drop(db);
    Ok(work)
}

fn block_key(height: u64) -> Vec<u8> {
    let mut k = vec![b'b'];
    k.extend_from_slice(&height.to_be_bytes());
    k
}

#[test]
fn deleted_replaced_and_reordered_records_are_named() -> TestResult {
    let p = pristine()?;
    let mut names = Vec::new();

    // A block in the middle, and the head block.
    let (startup, full) = tampered(&p, "delete-middle", |db| {
        db.remove(block_key(10))?;
        Ok(())
    })?;
    assert!(startup.contains("block 10: block is missing"), "{startup}");
    assert!(full.contains("block 10: block is missing"), "{full}");
    names.push(startup);
    let head = p.blocks;
    let (startup, _) = tampered(&p, "delete-head", |db| {
        db.remove(block_key(head))?;
        Ok(())
    })?;
    assert!(startup.contains(&format!("block {head}")), "{startup}");
    names.push(startup);

    // Entry 7's record replaced by entry 8's (validly signed, stored under 7's id).
    let id_key = |n: usize| -> Result<Vec<u8>, Box<dyn Error>> {
        let e: SignedEntry = registry_core::codec::decode(&p.entries[n], 1 << 16)?;
        let mut k = vec![b'e'];
        k.extend_from_slice(e.id().as_bytes());
        Ok(k)
    };
    let (k7, k8) = (id_key(7)?, id_key(8)?);
    let (startup, full) = tampered(&p, "replace-entry", |db| {
        let other = db.get(&k8)?.ok_or("no entry 8")?;
        db.insert(&k7, other)?;
        Ok(())
    })?;
    assert!(startup.contains("hashes to another id"), "{startup}");
    assert!(full.contains("hashes to another id"), "{full}");
    names.push(startup);

    // Entry 7 removed and entry 8 listed in its place, block rewritten: the chain breaks.
    let (startup, _) = tampered(&p, "relist-entry", |db| {
        let (hk, block) = db
            .scan_prefix([b'b'])
            .filter_map(Result::ok)
            .find(|(_, v)| v.windows(32).any(|w| Some(w) == k7.get(1..)))
            .ok_or("no block lists entry 7")?;
        let mut bytes = block.to_vec();
        let at = bytes
            .windows(32)
            .position(|w| Some(w) == k7.get(1..))
            .ok_or("id not found")?;
        bytes[at..at + 32].copy_from_slice(&k8[1..]);
        db.insert(hk, bytes)?;
        db.remove(&k7)?;
        Ok(())
    })?;
    names.push(startup);

    // Two blocks swapped.
    let (startup, full) = tampered(&p, "swap-blocks", |db| {
        let (a, b) = (db.get(block_key(3))?, db.get(block_key(5))?);
        db.insert(block_key(3), b.ok_or("no block 5")?)?;
        db.insert(block_key(5), a.ok_or("no block 3")?)?;
        Ok(())
    })?;
    assert!(
        startup.contains("block 3: block says it has height 5"),
        "{startup}"
    );
    assert!(full.contains("block 3"), "{full}");
    names.push(startup);

    // A signature changed through sled (the id does not cover signatures): full
    // verification names it. Start-up does no public-key work, so it reads such an
    // entry as it is; sled's checksums keep bit rot from getting there (the flip test).
    let work = apply(&p, "bad-signature", |db| {
        let mut v = db.get(&k7)?.ok_or("no entry 7")?.to_vec();
        if let Some(b) = v.last_mut() {
            *b ^= 0x01;
        }
        db.insert(&k7, v)?;
        Ok(())
    })?;
    let full = named(&work, &p, Signatures::Check);
    assert!(full.contains("bad signature"), "{full}");
    names.push(full);
    for n in &names {
        eprintln!("  named: {n}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "tamper-records: {} cases (middle and head block deleted, entry replaced, entry \
         relisted, blocks swapped, signature changed), {} detected, missed=0",
        names.len(),
        names.len()
    );
    Ok(())
}
