//! Tamper evidence with the real `registry-node`: start-up refuses a damaged data
//! directory (sled files truncated, bits flipped, a block deleted, an entry replaced,
//! blocks swapped, the head witness damaged), naming the damage and the rebuild command;
//! and `registry-node rebuild` brings a damaged node of a three-node network back to its
//! peers' state root, keeping the damaged ledger aside.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{init, setup, Node, BIN};
use registry_core::rng::SplitMix64;
use registry_core::store::{open_raw_database, Ledger, Signatures};
use registry_core::testkit::{self, key, Fixture};
use registry_core::SignedEntry;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);
const FLIPS: u64 = 24;

/// Starts `registry-node run` on `dir` and expects it to exit non-zero before the
/// deadline; returns its stderr. A node still running at the deadline serves a damaged
/// ledger: the test fails.
fn refused(dir: &Path) -> String {
    let log = dir.with_extension("stderr");
    let file = std::fs::File::create(&log).unwrap();
    let d = dir.to_string_lossy();
    let mut child = Command::new(BIN)
        .args(["run", "--data-dir", &d, "--api", "127.0.0.1:0"])
        .args(["--listen", "/ip4/127.0.0.1/tcp/0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{d}: a damaged ledger was served: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let err = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!status.success(), "{d}: {err}");
    assert!(err.contains("refusing to start"), "{d}: {err}");
    assert!(
        err.contains("registry-node rebuild --data-dir"),
        "{d}: {err}"
    );
    assert!(!err.contains("panicked"), "{d}: {err}");
    // In plain words: none of the storage library's internals.
    for internal in ["backtrace", "offset None", "PLEASE REPORT"] {
        assert!(!err.contains(internal), "{d}: {err}");
    }
    err.lines().last().unwrap_or_default().to_string()
}

/// What a ledger holds, read in-process the way start-up reads it; `None` if damaged.
fn contents(ledger_dir: &Path) -> Option<(Vec<Vec<u8>>, String)> {
    let ledger = Ledger::open(ledger_dir).ok()?;
    let (report, entries) = ledger.verify_and_load(Signatures::Skip).ok()?;
    let bytes = entries.iter().map(SignedEntry::encode).collect();
    Some((bytes, report.state_root.to_string()))
}

fn block_key(height: u64) -> Vec<u8> {
    let mut k = vec![b'b'];
    k.extend_from_slice(&height.to_be_bytes());
    k
}

fn entry_key(e: &SignedEntry) -> Vec<u8> {
    let mut k = vec![b'e'];
    k.extend_from_slice(e.id().as_bytes());
    k
}

/// One way of damaging a ledger directory.
type Damage = Box<dyn Fn(&Path)>;

/// A change made through sled itself (the files stay valid for sled).
fn with_sled(change: impl Fn(&sled::Db)) -> impl Fn(&Path) {
    move |l: &Path| {
        let db = open_raw_database(l).unwrap();
        change(&db);
        db.flush().unwrap();
    }
}

/// A node given `n` entries one request at a time (one block each), then stopped.
fn filled(n: u64) -> (common::Setup, Vec<SignedEntry>) {
    let s = setup();
    let node = Node::run(&s.dir);
    let authority = testkit::authority(&s.fx);
    let signer = key(testkit::AUTHORITY_KEY_SEED);
    let mut all = vec![authority.clone()];
    all.extend((1..n).map(|i| testkit::issuer(&s.fx, authority.id(), &signer, i)));
    for e in &all {
        assert_eq!(node.post("/v1/entries", e).status, 202);
    }
    assert!(node.stop().success());
    (s, all)
}

#[test]
fn start_up_refuses_every_kind_of_damage_and_names_it() {
    let (s, all) = filled(12);
    let pristine = contents(&s.dir.join("ledger")).unwrap_or_else(|| panic!("not intact"));
    let work = tempfile::tempdir().unwrap();
    let mut case_no = 0;
    let mut case = |damage: &dyn Fn(&Path)| {
        case_no += 1;
        let dir = work.path().join(format!("case{case_no}"));
        testkit::copy_dir(&s.dir, &dir).unwrap();
        damage(&dir.join("ledger"));
        dir
    };
    let truncate = |file: &'static str, to: u64| {
        move |l: &Path| {
            std::fs::OpenOptions::new()
                .write(true)
                .open(l.join(file))
                .and_then(|f| f.set_len(to))
                .unwrap()
        }
    };
    let db_len = std::fs::metadata(s.dir.join("ledger/db")).map_or(0, |m| m.len());
    let mut named = Vec::new();
    let mut expect = |dir: PathBuf, what: &str, needle: &str| {
        let line = refused(&dir);
        assert!(
            line.contains(needle),
            "{what}: expected {needle:?} in {line}"
        );
        named.push(format!("{what}: {line}"));
    };
    expect(case(&truncate("db", 0)), "db emptied", "db is damaged");
    expect(case(&truncate("conf", 20)), "conf cut", "conf is damaged");
    expect(
        case(&truncate("head-witness", 10)),
        "witness cut",
        "head witness",
    );
    let remove_witness = |l: &Path| std::fs::remove_file(l.join("head-witness")).unwrap();
    expect(case(&remove_witness), "witness deleted", "head witness");
    let delete = with_sled(|db| {
        db.remove(block_key(5)).unwrap();
    });
    expect(
        case(&delete),
        "block 5 deleted",
        "block 5: block is missing",
    );
    let (k3, k4) = (entry_key(&all[3]), entry_key(&all[4]));
    let replace = with_sled(|db| {
        let other = db
            .get(&k4)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no entry"));
        db.insert(&k3, other).unwrap();
    });
    expect(case(&replace), "entry replaced", "hashes to another id");
    let swap = with_sled(|db| {
        let a = db
            .get(block_key(2))
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no block"));
        let b = db
            .get(block_key(4))
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no block"));
        db.insert(block_key(2), b).unwrap();
        db.insert(block_key(4), a).unwrap();
    });
    expect(
        case(&swap),
        "blocks 2 and 4 swapped",
        "block 2: block says it has height 4",
    );
    let fixed = named.len();

    // `db` cut at several lengths, and seeded bit flips in it: each one either leaves the
    // ledger exactly as it was (checked in-process; sled's log of a node that ran holds
    // old, dead segments) or makes start-up refuse.
    let seed = 0x51ed_0bad_u64;
    eprintln!("tamper-startup: flip seed {seed}");
    let mut rng = SplitMix64::new(seed);
    let (mut detected, mut harmless) = (0, 0);
    // sled's log file is mostly preallocated zeros: aim at the bytes that hold something.
    let db_bytes = std::fs::read(s.dir.join("ledger/db")).unwrap();
    let used: Vec<usize> = (0..db_bytes.len()).filter(|&i| db_bytes[i] != 0).collect();
    let end = used.last().map_or(db_len, |&i| i as u64 + 1);
    let cuts = [end / 8, end / 4, end / 2, end * 3 / 4, end - 1];
    let mut damages: Vec<Damage> = Vec::new();
    for cut in cuts {
        damages.push(Box::new(truncate("db", cut)));
    }
    for _ in 0..FLIPS {
        let (offset, bit) = (used[rng.below(used.len())], rng.below(8));
        damages.push(Box::new(move |l: &Path| {
            let mut bytes = std::fs::read(l.join("db")).unwrap();
            bytes[offset] ^= 1 << bit;
            std::fs::write(l.join("db"), bytes).unwrap();
        }));
    }
    for damage in &damages {
        let dir = case(damage.as_ref());
        // Judge a copy, since sled rewrites a log it recovers.
        let probe = dir.with_extension("probe");
        testkit::copy_dir(&dir, &probe).unwrap();
        if contents(&probe.join("ledger")).as_ref() == Some(&pristine) {
            harmless += 1;
            continue;
        }
        refused(&dir);
        detected += 1;
    }
    for n in &named {
        eprintln!("  {n}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "tamper-startup: {} cases ({fixed} kinds of damage, {} cuts of db, {FLIPS} bit \
         flips in db's used bytes), {} refused naming the damage, {harmless} harmless, missed=0",
        fixed + damages.len(),
        cuts.len(),
        fixed + detected
    );
}

fn first_listen_addr(node: &Node) -> String {
    let s = wait_until(node, "a listen address", |s| {
        s["listen_addrs"].as_array().is_some_and(|a| !a.is_empty())
    });
    s["listen_addrs"][0]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn wait_until(node: &Node, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let s = node.status();
        if check(&s) {
            return s;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "{} never saw {what}: {s} {}",
            node.base,
            node.logs()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn rebuild_from_peers_restores_a_damaged_node() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = Fixture::new(1, 1, 4);
    let start = |name: &str, verb: &str, boot: Option<&str>| {
        let dir = tmp.path().join(name).to_string_lossy().into_owned();
        let mut args = vec![verb, "--data-dir", &dir];
        if let Some(b) = boot {
            args.extend(["--bootstrap", b]);
        }
        if verb != "run" {
            args.extend(["--listen", "/ip4/127.0.0.1/tcp/0"]);
        }
        Node::spawn(&args, tmp.path())
    };
    for name in ["n1", "n2", "n3"] {
        init(&tmp.path().join(name), &fx.genesis);
    }
    let n1 = start("n1", "run", None);
    let boot = first_listen_addr(&n1);
    let n2 = start("n2", "run", Some(&boot));
    let n3 = start("n3", "run", Some(&boot));
    let authority = testkit::authority(&fx);
    let signer = key(testkit::AUTHORITY_KEY_SEED);
    let mut all = vec![authority.clone()];
    all.extend((1..40).map(|i| testkit::issuer(&fx, authority.id(), &signer, i)));
    for (i, e) in all.iter().enumerate() {
        let target = [&n1, &n2, &n3][i % 3];
        assert_eq!(target.post("/v1/entries", e).status, 202);
    }
    let want = all.len() as u64;
    for n in [&n1, &n2, &n3] {
        wait_until(n, "every entry", |s| s["entries"].as_u64() == Some(want));
    }
    let root = n1.status()["state_root"].clone();
    assert!(n3.stop().success());

    // Damage node 3: a block in the middle of its chain is gone. Start-up refuses,
    // naming the damage.
    let d3 = tmp.path().join("n3");
    with_sled(|db| {
        db.remove(block_key(5)).unwrap();
    })(&d3.join("ledger"));
    let line = refused(&d3);
    assert!(line.contains("block 5: block is missing"), "{line}");
    eprintln!("start-up refused: {line}");
    let key_before = std::fs::read(d3.join("node.key")).unwrap_or_default();

    // Rebuild from node 2: same state root and entry count as its peers.
    let boot2 = first_listen_addr(&n2);
    let n3 = start("n3", "rebuild", Some(&boot2));
    let s3 = wait_until(&n3, "its peers' state root", |s| s["state_root"] == root);
    assert_eq!(s3["entries"].as_u64(), Some(want), "{s3}");
    for n in [&n1, &n2] {
        assert_eq!(n.status()["state_root"], root);
        assert_eq!(n.status()["entries"].as_u64(), Some(want));
    }
    assert_eq!(
        std::fs::read(d3.join("node.key")).unwrap_or_default(),
        key_before
    );
    let printed = std::fs::read_to_string(&n3.stdout).unwrap_or_default();
    let aside = PathBuf::from(printed.trim());
    assert!(
        aside.starts_with(&d3)
            && aside
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("ledger.damaged-"))
            && aside.join("db").is_file(),
        "moved-aside copy not found at {printed:?}"
    );
    // The rebuilt ledger verifies in full once the node stops.
    assert!(n3.stop().success());
    let rebuilt = Ledger::open(&d3.join("ledger")).unwrap();
    let report = rebuilt.verify().unwrap();
    assert_eq!(report.entries, want);
    let _ = writeln!(
        std::io::stderr(),
        "tamper-rebuild: 3 nodes, {want} entries; damaged node refused to start, rebuilt from \
         a peer to {} entries, state root {} equal to its peers', damaged ledger kept at {}",
        report.entries,
        report.state_root,
        aside.display()
    );
}
