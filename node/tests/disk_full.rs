//! Disk full: a real node whose data directory sits on a small tmpfs, filled almost to the
//! brim by a ballast file, ingests from several submitters until the disk is full. It must
//! answer 507 with a problem document naming the storage problem, never acknowledge an
//! entry it could not store, keep serving reads, and resume ingest once the ballast is
//! deleted, without a restart. Then it is SIGKILLed and its ledger, read offline, must hold
//! every acknowledged entry, verify in full and carry the recomputed state root.
//!
//! Needs root to mount the tmpfs; without it the test prints that it was skipped.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Node, Reply};
use registry_core::store::Ledger;
use registry_core::testkit::{self, key, Fixture};
use registry_core::trie::Trie;
use registry_core::{EntryId, Hash, SignedEntry};

const TMPFS_SIZE: &str = "16m";
/// Room left free beside the ballast: a few thousand entries' worth.
const MARGIN: u64 = 2 << 20;
const SUBMITTERS: usize = 4;
/// The disk must fill within this time.
const FILL_DEADLINE: Duration = Duration::from_secs(120);
/// Ingest must resume within this time of the ballast being deleted.
const RESUME_DEADLINE: Duration = Duration::from_secs(30);
/// Entries posted while the disk is full, and after it has room again.
const WHILE_FULL: u64 = 20;
const AFTER_FREEING: u64 = 100;

/// A mounted tmpfs, unmounted (lazily, so a leftover open file cannot keep it) on drop.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path, size: &str) -> Option<Mount> {
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Mount(dir.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Writes zeros to `path` until the filesystem is full, then gives `margin` bytes back.
fn fill(path: &Path, margin: u64) -> u64 {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 << 10];
    let mut written = 0u64;
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
            Err(e) => panic!("writing the ballast: {e}"),
        }
    }
    let size = written.saturating_sub(margin);
    file.set_len(size).unwrap();
    size
}

/// How one submission went.
enum Answer {
    Acked,
    /// The disk is full: the answer, for its problem document.
    Full(Reply),
}

/// Posts `entry`; 202 `accepted` is an acknowledgement, 507 a full disk, 503 `busy` or
/// `overloaded` is retried; anything else fails the test.
fn submit(node: &Node, entry: &SignedEntry) -> Answer {
    loop {
        let r = node.post("/v1/entries", entry);
        match r.status {
            202 => {
                let status = r.json()["status"].clone();
                assert!(
                    status == "accepted" || status == "duplicate",
                    "202 for a valid entry: {r:?}"
                );
                return Answer::Acked;
            }
            507 => return Answer::Full(r),
            503 if r.json()["type"] == "urn:trust-registry:problem:storage_unavailable" => {
                return Answer::Full(r)
            }
            503 if matches!(
                r.json()["type"].as_str(),
                Some("urn:trust-registry:problem:busy" | "urn:trust-registry:problem:overloaded")
            ) =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => panic!("unexpected answer to a valid entry on a full disk: {r:?}"),
        }
    }
}

/// Checks a refusal for lack of space: a problem document, 507 `insufficient_storage`
/// naming the full disk or 503 `storage_unavailable` (the ledger could not be reopened
/// while the disk is full).
fn storage_problem(r: &Reply) {
    let detail = r.json()["detail"].as_str().unwrap_or_default().to_string();
    if r.status == 507 {
        assert_eq!(r.problem(507), "insufficient_storage");
        assert!(detail.contains("disk is full"), "{detail}");
    } else {
        assert_eq!(r.problem(503), "storage_unavailable");
    }
}

#[test]
fn a_full_disk_is_507_loses_nothing_and_ingest_resumes_once_space_is_freed() {
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let Some(mount) = Mount::tmpfs(&mnt, TMPFS_SIZE) else {
        let _ = writeln!(
            std::io::stderr(),
            "disk-full: skipped: needs root to mount tmpfs"
        );
        return;
    };
    let dir = mnt.join("node");
    let fx = Arc::new(Fixture::new(1, 1, 4));
    common::init(&dir, &fx.genesis);
    // Logs live outside the tmpfs, so a full disk cannot silence them.
    let node = Arc::new(Node::spawn(
        &["run", "--data-dir", &dir.to_string_lossy()],
        tmp.path(),
    ));
    let authority = testkit::authority(&fx);
    assert!(matches!(submit(&node, &authority), Answer::Acked));
    let ballast = mnt.join("ballast");
    let ballast_bytes = fill(&ballast, MARGIN);

    // Fill the disk: each submitter posts until the node says it is full.
    let next = Arc::new(AtomicU64::new(1));
    let timed_out = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..SUBMITTERS)
        .map(|_| {
            let (node, fx, next, timed_out) =
                (node.clone(), fx.clone(), next.clone(), timed_out.clone());
            let authority = authority.id();
            std::thread::spawn(move || {
                let signer = key(testkit::AUTHORITY_KEY_SEED);
                let mut acked = Vec::new();
                loop {
                    if started.elapsed() > FILL_DEADLINE {
                        timed_out.store(true, Ordering::Relaxed);
                        return (acked, None);
                    }
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let entry = testkit::issuer(&fx, authority, &signer, n);
                    match submit(&node, &entry) {
                        Answer::Acked => acked.push(entry.id()),
                        Answer::Full(r) => return (acked, Some((entry, r))),
                    }
                }
            })
        })
        .collect();
    let mut acked: Vec<EntryId> = vec![authority.id()];
    let mut refused: Vec<SignedEntry> = Vec::new();
    let mut full_answers: Vec<Reply> = Vec::new();
    for t in threads {
        let (ids, full) = t.join().unwrap_or_else(|_| panic!("a submitter panicked"));
        acked.extend(ids);
        if let Some((entry, reply)) = full {
            refused.push(entry);
            full_answers.push(reply);
        }
    }
    assert!(
        !timed_out.load(Ordering::Relaxed),
        "the disk did not fill within {FILL_DEADLINE:?} ({} acknowledged): {}",
        acked.len(),
        node.logs()
    );
    let filled_after = acked.len();
    for r in &full_answers {
        storage_problem(r);
    }
    eprintln!(
        "disk full after {filled_after} acknowledged entries: {}",
        full_answers[0].text
    );

    // While the disk is full the node keeps serving, and acknowledges nothing it cannot
    // store (an entry acknowledged now must be durable like any other).
    let signer = key(testkit::AUTHORITY_KEY_SEED);
    let mut n = next.load(Ordering::Relaxed) + 1_000;
    let mut acked_while_full = 0;
    for _ in 0..WHILE_FULL {
        let entry = testkit::issuer(&fx, authority.id(), &signer, n);
        n += 1;
        match submit(&node, &entry) {
            Answer::Acked => {
                acked.push(entry.id());
                acked_while_full += 1;
            }
            Answer::Full(r) => {
                storage_problem(&r);
                full_answers.push(r);
                refused.push(entry);
            }
        }
    }
    let status = node.status();
    let durable = status["entries"].as_u64().unwrap_or(0);
    assert!(
        durable >= acked.len() as u64,
        "{} acknowledged, {durable} durable: {status}",
        acked.len()
    );
    // Reads of the ledger answer, or say clearly that it cannot be reopened until there
    // is space (sled cannot recover a database on a full disk).
    let r = node.get(&format!("/v1/entries/{}", acked[1]));
    if r.status == 200 {
        assert_eq!(r.json()["status"], "accepted", "{r:?}");
    } else {
        assert_eq!(r.problem(503), "storage_unavailable");
    }
    let reads_while_full = r.status;

    // Space returns: ingest resumes without a restart.
    std::fs::remove_file(&ballast).unwrap();
    let deadline = Instant::now() + RESUME_DEADLINE;
    loop {
        let entry = testkit::issuer(&fx, authority.id(), &signer, n);
        n += 1;
        match submit(&node, &entry) {
            Answer::Acked => {
                acked.push(entry.id());
                break;
            }
            Answer::Full(_) => assert!(
                Instant::now() < deadline,
                "ingest did not resume within {RESUME_DEADLINE:?} of freeing space: {}",
                node.logs()
            ),
        }
    }
    for _ in 0..AFTER_FREEING {
        let entry = testkit::issuer(&fx, authority.id(), &signer, n);
        n += 1;
        assert!(
            matches!(submit(&node, &entry), Answer::Acked),
            "refused after space returned"
        );
        acked.push(entry.id());
    }
    // Entries refused while the disk was full are taken now (some already are durable,
    // from the backlog of the batch that met the full disk: those are duplicates).
    for entry in &refused {
        assert!(
            matches!(submit(&node, entry), Answer::Acked),
            "a refused entry is refused again after space returned"
        );
        acked.push(entry.id());
    }

    // Crash it: everything acknowledged must be on disk, the ledger intact.
    let node = Arc::try_unwrap(node).unwrap_or_else(|_| panic!("node still shared"));
    let logs = node.logs();
    node.kill();
    assert!(!logs.contains("panicked"), "the node panicked: {logs}");
    let ledger = Ledger::open(&dir.join("ledger")).unwrap();
    let report = ledger
        .verify()
        .unwrap_or_else(|e| panic!("the ledger does not verify after a full disk: {e}"));
    let entries = ledger.load_all().unwrap();
    let stored: HashSet<EntryId> = entries.iter().map(SignedEntry::id).collect();
    let mut trie = Trie::new();
    for e in &entries {
        trie.insert(e.id(), e.signatures_digest());
    }
    let root = trie.rehash();
    assert_eq!(
        Some(root),
        ledger.head().map(|b| b.state_root).or(Some(Hash::ZERO))
    );
    assert_eq!(report.state_root, root);
    let lost = acked.iter().filter(|id| !stored.contains(id)).count();
    drop(ledger);
    drop(mount);
    let (answers_507, answers_503) = (
        full_answers.iter().filter(|r| r.status == 507).count(),
        full_answers.iter().filter(|r| r.status == 503).count(),
    );
    let _ = writeln!(std::io::stderr(),
        "disk-full: {TMPFS_SIZE} tmpfs ({} MiB ballast), {filled_after} entries acknowledged \
         before it filled, {} refused ({answers_507} answers 507 insufficient_storage, \
         {answers_503} 503 storage_unavailable; {acked_while_full} acknowledged while full; \
         a ledger read answered {reads_while_full}), {} acknowledged in all, {lost} lost, ledger verified \
         ({} entries), ingest resumed without restart ({} more acknowledged)",
        ballast_bytes >> 20,
        refused.len(),
        acked.len(),
        report.entries,
        AFTER_FREEING + 1 + refused.len() as u64,
    );
    assert_eq!(lost, 0, "acknowledged entries missing from the ledger");
    assert!(answers_507 > 0, "a full disk was never answered with 507");
}
