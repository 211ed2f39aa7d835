//! `registry ledger verify` on damaged ledgers: each kind of damage is named with exit
//! 1; `db` cut at several lengths and seeded bit flips in sled's files are each named or
//! provably harmless (the ledger verifies in-process with exactly the same entries).
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

mod support;

use std::error::Error;
use std::io::Write as _;
use std::path::Path;

use registry_core::rng::SplitMix64;
use registry_core::store::{open_raw_database, Ledger, Signatures};
use registry_core::testkit::{self, copy_dir, Fixture, AUTHORITY_KEY_SEED};
use registry_core::SignedEntry;
use support::{Sandbox, TestResult};

const FLIPS: u64 = 40;

/// One way of damaging a ledger directory.
type Damage = Box<dyn Fn(&Path) -> TestResult>;

/// A ledger of 30 entries in blocks of 1 to 4.
fn build(dir: &Path) -> Result<Vec<SignedEntry>, Box<dyn Error>> {
    let fx = Fixture::new(1, 1, 4);
    let authority = testkit::authority(&fx);
    let signer = testkit::key(AUTHORITY_KEY_SEED);
    let mut all = vec![authority.clone()];
    all.extend((1..30).map(|n| testkit::issuer(&fx, authority.id(), &signer, n)));
    let mut ledger = Ledger::create(dir, &fx.genesis)?;
    testkit::append_in_blocks(&mut ledger, &all, (1..=4).cycle())?;
    Ok(all)
}

/// What a full in-process verification finds: the entries' bytes, or `None` if damaged.
fn contents(dir: &Path) -> Option<Vec<Vec<u8>>> {
    let ledger = Ledger::open(dir).ok()?;
    let (_, entries) = ledger.verify_and_load(Signatures::Check).ok()?;
    Some(entries.iter().map(SignedEntry::encode).collect())
}

/// Runs `registry ledger verify` on `name` and expects exit 1 naming damage.
fn named(sb: &Sandbox, name: &str) -> Result<String, Box<dyn Error>> {
    let r = sb.run(&["ledger", "verify", "--data-dir", name])?;
    assert_eq!(r.code, Some(1), "{name}: {r:?}");
    assert!(r.stderr.contains("is damaged"), "{name}: {}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{name}: {}", r.stderr);
    // In plain words: none of the storage library's internals (its `Display` of damage
    // reads "Read corrupted data at file offset None backtrace ()").
    for internal in ["backtrace", "offset None", "PLEASE REPORT"] {
        assert!(!r.stderr.contains(internal), "{name}: {}", r.stderr);
    }
    Ok(r.stderr.trim().to_string())
}

fn key(prefix: u8, rest: &[u8]) -> Vec<u8> {
    [&[prefix][..], rest].concat()
}

#[test]
fn verify_names_each_kind_of_damage_and_every_harmful_flip() -> TestResult {
    let sb = Sandbox::new()?;
    let pristine = sb.path("pristine");
    let all = build(&pristine)?;
    let expected = contents(&pristine).ok_or("the pristine ledger does not verify")?;
    let mut n = 0;
    let mut case = |damage: &dyn Fn(&Path) -> TestResult| -> Result<String, Box<dyn Error>> {
        n += 1;
        let name = format!("case{n}");
        copy_dir(&pristine, &sb.path(&name))?;
        damage(&sb.path(&name))?;
        Ok(name)
    };
    let truncate = |file: &'static str, to: u64| {
        move |d: &Path| -> TestResult {
            std::fs::OpenOptions::new()
                .write(true)
                .open(d.join(file))?
                .set_len(to)?;
            Ok(())
        }
    };
    let b = |h: u64| key(b'b', &h.to_be_bytes());
    let (e3, e4) = (
        key(b'e', all[3].id().as_bytes()),
        key(b'e', all[4].id().as_bytes()),
    );
    let mut kinds: Vec<(&str, String, &str)> = Vec::new();
    kinds.push(("db emptied", case(&truncate("db", 0))?, "db is damaged"));
    kinds.push(("conf cut", case(&truncate("conf", 20))?, "conf is damaged"));
    let no_witness = |d: &Path| -> TestResult { Ok(std::fs::remove_file(d.join("head-witness"))?) };
    kinds.push(("witness deleted", case(&no_witness)?, "head witness"));
    let delete = |d: &Path| -> TestResult {
        let db = open_raw_database(d)?;
        db.remove(b(4))?;
        db.flush()?;
        Ok(())
    };
    kinds.push((
        "block 4 deleted",
        case(&delete)?,
        "damaged at block 4: block is missing",
    ));
    let replace = |d: &Path| -> TestResult {
        let db = open_raw_database(d)?;
        db.insert(&e3, db.get(&e4)?.ok_or("no entry")?)?;
        db.flush()?;
        Ok(())
    };
    kinds.push(("entry replaced", case(&replace)?, "hashes to another id"));
    let swap = |d: &Path| -> TestResult {
        let db = open_raw_database(d)?;
        let (x, y) = (
            db.get(b(2))?.ok_or("no block")?,
            db.get(b(5))?.ok_or("no block")?,
        );
        db.insert(b(2), y)?;
        db.insert(b(5), x)?;
        db.flush()?;
        Ok(())
    };
    kinds.push((
        "blocks 2 and 5 swapped",
        case(&swap)?,
        "block 2: block says it has height 5",
    ));
    let resign = |d: &Path| -> TestResult {
        let db = open_raw_database(d)?;
        let mut v = db.get(&e3)?.ok_or("no entry")?.to_vec();
        if let Some(last) = v.last_mut() {
            *last ^= 1;
        }
        db.insert(&e3, v)?;
        db.flush()?;
        Ok(())
    };
    kinds.push(("signature changed", case(&resign)?, "bad signature"));
    for (what, name, needle) in &kinds {
        let line = named(&sb, name)?;
        assert!(
            line.contains(needle),
            "{what}: expected {needle:?} in {line}"
        );
        eprintln!("  {what}: {line}");
    }

    // `db` cut at several lengths and bits flipped in sled's files, aimed at the bytes
    // that hold something (the log is mostly preallocated zeros).
    let seed = 0xc11_7a3e_u64;
    eprintln!("tamper-cli: seed {seed}");
    let mut rng = SplitMix64::new(seed);
    let files = ["db", "conf", "head-witness"];
    let bytes: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(pristine.join(f)))
        .collect::<Result<_, _>>()?;
    let used: Vec<Vec<usize>> = bytes
        .iter()
        .map(|b| (0..b.len()).filter(|&i| b[i] != 0).collect())
        .collect();
    let end = used[0].last().map_or(0, |&i| i as u64 + 1);
    let mut damages: Vec<Damage> = Vec::new();
    for cut in [end / 8, end / 4, end / 2, end * 3 / 4, end - 1] {
        damages.push(Box::new(truncate("db", cut)));
    }
    for _ in 0..FLIPS {
        let f = if rng.chance(70) { 0 } else { 1 + rng.below(2) };
        let (offset, bit) = (used[f][rng.below(used[f].len())], rng.below(8));
        let file = files[f];
        damages.push(Box::new(move |d: &Path| -> TestResult {
            let mut b = std::fs::read(d.join(file))?;
            b[offset] ^= 1 << bit;
            Ok(std::fs::write(d.join(file), b)?)
        }));
    }
    let (mut detected, mut harmless) = (kinds.len(), 0);
    for damage in &damages {
        let name = case(damage.as_ref())?;
        let probe = sb.path(&format!("{name}-probe"));
        copy_dir(&sb.path(&name), &probe)?;
        if contents(&probe).as_ref() == Some(&expected) {
            harmless += 1;
            continue;
        }
        named(&sb, &name)?;
        detected += 1;
    }
    let _ =
        writeln!(std::io::stderr(),
        "tamper-cli: {} cases ({} kinds of damage, 5 cuts of db, {FLIPS} bit flips), {detected} \
         named with exit 1, {harmless} harmless, missed=0",
        kinds.len() + damages.len(),
        kinds.len()
    );
    Ok(())
}
