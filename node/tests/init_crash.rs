//! `registry-node init` and the first start of `--dev`, killed (SIGKILL) at random
//! moments: afterwards the data directory is either complete and valid, or incomplete in
//! a way the same command completes when run again. It never holds a truncated key or
//! genesis, nor a half-made ledger that makes the node refuse to start.
//!
//! What this shows is atomicity: no partial file or ledger is ever visible under its
//! final name. A SIGKILL does not lose what the kernel has already accepted (the page
//! cache survives the process), so it cannot show durability against a power loss; that
//! rests on the fsyncs (of each file before its link or rename, and of the directory
//! after) that `registry_core::file::write_atomic` and `init` do, which this test does
//! not exercise.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Node, BIN};
use registry_core::keys::read_key_file;
use registry_core::rng::SplitMix64;
use registry_core::store::Ledger;
use registry_core::testkit::Fixture;
use registry_core::Genesis;

const INIT_KILLS: usize = 40;
const DEV_KILLS: usize = 12;
const DEADLINE: Duration = Duration::from_secs(30);

fn seed() -> u64 {
    common::seed("INIT_CRASH_SEED")
}

fn spawn(args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"))
}

/// Waits for `child` to exit, with a deadline; true if it succeeded.
fn wait(child: &mut Child) -> bool {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status.success();
        }
        assert!(started.elapsed() < DEADLINE, "{BIN} did not exit");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Kills `child` `after` its start, unless it finished first; true if it ran to success.
fn kill_after(mut child: Child, after: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < after {
        if let Ok(Some(status)) = child.try_wait() {
            return status.success();
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// What a killed run left.
#[derive(Debug, Default)]
struct Left {
    nothing: usize,
    partial: usize,
    complete: usize,
}

/// Every file under its final name is whole and valid; returns whether the directory
/// holds a ledger (which then opens, empty, with `genesis` when given).
fn check_visible(dir: &Path, genesis: Option<&Genesis>, dev: bool) -> (bool, usize) {
    let mut files = 0;
    if dir.join("node.key").exists() {
        read_key_file(&dir.join("node.key"))
            .unwrap_or_else(|e| panic!("a killed run left a bad node key: {e}"));
        files += 1;
    }
    let root = dir.join("root.key").exists().then(|| {
        read_key_file(&dir.join("root.key"))
            .unwrap_or_else(|e| panic!("a killed run left a bad root key: {e}"))
    });
    files += usize::from(root.is_some());
    let copy = dir.join("genesis.json").exists().then(|| {
        let text = std::fs::read_to_string(dir.join("genesis.json")).unwrap();
        Genesis::from_json(&text)
            .unwrap_or_else(|e| panic!("a killed run left a bad genesis copy ({e}): {text:?}"))
    });
    if let Some(copy) = &copy {
        files += 1;
        if let Some(g) = genesis {
            assert_eq!(copy, g);
        }
        if dev {
            let root = root
                .as_ref()
                .unwrap_or_else(|| panic!("the dev genesis was written before its root key"));
            assert_eq!(copy.roots, vec![root.did()]);
        }
    }
    let has_ledger = dir.join("ledger").exists();
    if has_ledger {
        let ledger = Ledger::open(&dir.join("ledger"))
            .unwrap_or_else(|e| panic!("a killed run left a ledger that does not open: {e}"));
        assert_eq!(ledger.height(), 0);
        let expected = copy.as_ref().or(genesis);
        assert_eq!(
            Some(ledger.genesis()),
            expected,
            "ledger of another genesis"
        );
        files += 1;
    }
    (has_ledger, files)
}

#[test]
fn init_killed_at_random_moments_is_complete_or_completed_by_a_rerun() {
    let seed = seed();
    eprintln!("init-crash: seed {seed} (replay with INIT_CRASH_SEED={seed})");
    let mut rng = SplitMix64::new(seed);
    let tmp = tempfile::tempdir().unwrap();
    let fx = Fixture::new(1, 1, 4);
    let genesis_file = tmp.path().join("genesis.json");
    std::fs::write(&genesis_file, fx.genesis.to_json()).unwrap();
    let genesis_arg = genesis_file.to_string_lossy().into_owned();
    let init = |dir: &Path| {
        spawn(&[
            "init",
            "--data-dir",
            &dir.to_string_lossy(),
            "--genesis",
            &genesis_arg,
        ])
    };
    // How long an uninterrupted init takes here: kills land anywhere in it.
    let started = Instant::now();
    assert!(wait(&mut init(&tmp.path().join("timing"))));
    let span = started.elapsed().mul_f64(1.3).max(Duration::from_millis(2));
    let mut left = Left::default();
    let mut recovered = None;
    for i in 0..INIT_KILLS {
        let dir = tmp.path().join(format!("n{i}"));
        let after = span.mul_f64(rng.below(1000) as f64 / 1000.0);
        let finished = kill_after(init(&dir), after);
        let (has_ledger, files) = check_visible(&dir, Some(&fx.genesis), false);
        // Run again: completes what was left, or refuses a directory already complete.
        let mut again = init(&dir);
        let ok = wait(&mut again);
        let stderr = again
            .stderr
            .take()
            .map(|mut s| {
                let mut text = String::new();
                let _ = std::io::Read::read_to_string(&mut s, &mut text);
                text
            })
            .unwrap_or_default();
        if has_ledger {
            assert!(!ok && stderr.contains("already holds a ledger"), "{stderr}");
            left.complete += 1;
        } else {
            assert!(ok, "init after a kill {after:?} in failed: {stderr}");
            assert!(!finished, "a finished init left no ledger");
            if files == 0 {
                left.nothing += 1;
            } else {
                left.partial += 1;
                recovered.get_or_insert(dir.clone());
            }
        }
        let (has_ledger, files) = check_visible(&dir, Some(&fx.genesis), false);
        assert!(has_ledger && files == 3, "incomplete after the rerun");
    }
    // A directory completed by a rerun serves.
    let dir = recovered.unwrap_or_else(|| tmp.path().join("n0"));
    let node = Node::run(&dir);
    assert_eq!(
        node.status()["registry_id"],
        fx.genesis.registry_id().to_string()
    );
    node.stop();
    eprintln!(
        "init-crash: {INIT_KILLS} kills within {span:?} of `registry-node init`: {} left nothing, \
         {} partial (completed by a rerun), {} complete; 0 truncated files, 0 half-made ledgers",
        left.nothing, left.partial, left.complete
    );
    assert!(left.partial + left.nothing + left.complete == INIT_KILLS);
}

#[test]
fn the_first_dev_start_killed_at_random_moments_starts_when_run_again() {
    let seed = seed();
    eprintln!("dev-crash: seed {seed} (replay with INIT_CRASH_SEED={seed})");
    let mut rng = SplitMix64::new(seed ^ 0xde7);
    let tmp = tempfile::tempdir().unwrap();
    // How long a first start takes until its data directory is complete.
    let timing = tmp.path().join("timing");
    let started = Instant::now();
    let mut first = Node::spawn(
        &["--dev", "--data-dir", &timing.to_string_lossy()],
        tmp.path(),
    );
    let span = started.elapsed().max(Duration::from_millis(5));
    assert!(first.is_running());
    first.stop();
    let mut left = Left::default();
    for i in 0..DEV_KILLS {
        let dir = tmp.path().join(format!("d{i}"));
        let dir_arg = dir.to_string_lossy().into_owned();
        let after = span.mul_f64(rng.below(1000) as f64 / 1000.0);
        let finished = kill_after(
            spawn(&["--dev", "--data-dir", &dir_arg, "--api", "127.0.0.1:0"]),
            after,
        );
        assert!(!finished, "a dev node exited by itself");
        let (has_ledger, files) = check_visible(&dir, None, true);
        match (has_ledger, files) {
            (true, _) => left.complete += 1,
            (false, 0) => left.nothing += 1,
            (false, _) => left.partial += 1,
        }
        let genesis_before =
            has_ledger.then(|| std::fs::read_to_string(dir.join("genesis.json")).unwrap());
        // Run again: it must start and serve the registry its directory names.
        let node = Node::spawn(&["--dev", "--data-dir", &dir_arg], tmp.path());
        let text = std::fs::read_to_string(dir.join("genesis.json")).unwrap();
        if let Some(before) = genesis_before {
            assert_eq!(before, text, "a complete dev registry was replaced");
        }
        let genesis = Genesis::from_json(&text).unwrap();
        assert_eq!(
            node.status()["registry_id"],
            genesis.registry_id().to_string()
        );
        node.stop();
        let (has_ledger, files) = check_visible(&dir, None, true);
        assert!(has_ledger && files == 4, "incomplete after a second start");
    }
    eprintln!(
        "dev-crash: {DEV_KILLS} kills within {span:?} of a first `registry-node --dev`: {} left \
         nothing, {} partial, {} complete; every one started when run again, 0 truncated files",
        left.nothing, left.partial, left.complete
    );
}
