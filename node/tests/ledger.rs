//! The ledger behind a real node: concurrent submitters share flushes, a restart keeps
//! every acknowledged entry, and a damaged ledger is refused at start-up.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

mod common;

use std::sync::Arc;

use common::{run_cli, setup, Node};
use registry_core::testkit::{self, key};
use serde_json::Value;

const SUBMITTERS: u64 = 48;

#[test]
fn concurrent_submitters_share_flushes_and_a_restart_keeps_everything() {
    let s = setup();
    let node = Arc::new(Node::run(&s.dir));
    let authority = testkit::authority(&s.fx);
    assert_eq!(node.post("/v1/entries", &authority).status, 202);
    let before = node.status()["height"].as_u64().unwrap_or(0);

    let signer = key(testkit::AUTHORITY_KEY_SEED);
    let entries: Vec<_> = (0..SUBMITTERS)
        .map(|n| testkit::issuer(&s.fx, authority.id(), &signer, n + 1))
        .collect();
    let barrier = Arc::new(std::sync::Barrier::new(entries.len()));
    let threads: Vec<_> = entries
        .iter()
        .cloned()
        .map(|entry| {
            let (node, barrier) = (node.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                node.post("/v1/entries", &entry)
            })
        })
        .collect();
    for t in threads {
        let r = t.join().unwrap_or_else(|_| panic!("submitter panicked"));
        assert_eq!(r.status, 202, "{r:?}");
        assert_eq!(r.json()["status"], "accepted");
    }
    let status = node.status();
    let blocks = status["height"].as_u64().unwrap_or(0) - before;
    eprintln!("{SUBMITTERS} concurrent submissions: {blocks} blocks");
    assert!(
        (1..SUBMITTERS).contains(&blocks),
        "{SUBMITTERS} concurrent submissions took {blocks} blocks"
    );
    assert_eq!(status["entries"].as_u64(), Some(SUBMITTERS + 1));

    // Restart: every acknowledged entry is back, with the same state root and head.
    let node = Arc::try_unwrap(node).unwrap_or_else(|_| panic!("node still shared"));
    let exit = node.stop();
    assert!(exit.success(), "exit status {exit}");
    let node = Node::run(&s.dir);
    let again = node.status();
    for field in ["state_root", "head", "height", "entries", "registry_id"] {
        assert_eq!(
            again[field], status[field],
            "{field} changed across a restart"
        );
    }
    for entry in entries.iter().chain([&authority]) {
        let v: Value = node.get(&format!("/v1/entries/{}", entry.id())).json();
        assert_eq!(v["status"], "accepted", "{v}");
        assert!(v["height"].as_u64().is_some(), "{v}");
    }
    let t = node
        .get("/v1/trust?entity_id=did:web:e7.example&action=issue&resource=UniversityDegree")
        .json();
    assert_eq!(t["authorized"], true, "{t}");
    let exit = node.stop();
    assert!(exit.success());
}

/// Removes keys from the stopped node's sled database behind the ledger's back.
fn tamper(dir: &std::path::Path, keys: &[Vec<u8>]) {
    let db = sled::open(dir.join("ledger")).unwrap();
    for k in keys {
        let removed = db.remove(k).unwrap();
        assert!(removed.is_some(), "no key {k:?} to remove");
    }
    db.flush().unwrap();
}

fn refused(dir: &std::path::Path) -> String {
    let out = run_cli(&[
        "run",
        "--data-dir",
        &dir.to_string_lossy(),
        "--api",
        "127.0.0.1:0",
    ]);
    assert!(!out.status.success(), "a damaged ledger was served");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("start-up refused: {err}");
    err
}

fn filled_and_stopped() -> (common::Setup, Vec<registry_core::SignedEntry>) {
    let s = setup();
    let node = Node::run(&s.dir);
    let authority = testkit::authority(&s.fx);
    let issuer = testkit::issuer(&s.fx, authority.id(), &key(testkit::AUTHORITY_KEY_SEED), 1);
    for e in [&authority, &issuer] {
        assert_eq!(node.post("/v1/entries", e).status, 202);
    }
    assert!(node.stop().success());
    (s, vec![authority, issuer])
}

#[test]
fn a_ledger_missing_its_head_block_is_refused() {
    let (s, _) = filled_and_stopped();
    let mut head_block = vec![b'b'];
    head_block.extend_from_slice(&2u64.to_be_bytes());
    tamper(&s.dir, &[head_block]);
    let err = refused(&s.dir);
    assert!(err.contains("refusing to start"), "{err}");
    assert!(
        err.contains("block 2"),
        "the message names the damage: {err}"
    );
}

#[test]
fn a_ledger_missing_an_entry_is_refused() {
    let (s, entries) = filled_and_stopped();
    let mut entry_key = vec![b'e'];
    entry_key.extend_from_slice(entries[0].id().as_bytes());
    tamper(&s.dir, &[entry_key]);
    let err = refused(&s.dir);
    assert!(err.contains("refusing to start"), "{err}");
    let named = format!("block 1: entry {} is missing", entries[0].id());
    assert!(err.contains(&named), "the message names the damage: {err}");
}

/// A snapshot file that sled left unfinished (a write that hit a full disk) does not stop
/// the node from starting: sled would take it for its newest snapshot and call the
/// database corrupt; the ledger discards it and sled recovers from its log.
#[test]
fn an_unfinished_sled_snapshot_does_not_stop_a_restart() {
    let (s, entries) = filled_and_stopped();
    let partial = s
        .dir
        .join("ledger")
        .join("snap.7FFFFFFFFFFFFFFF.generating");
    std::fs::write(&partial, b"").unwrap();
    let node = Node::run(&s.dir);
    for e in &entries {
        let v: Value = node.get(&format!("/v1/entries/{}", e.id())).json();
        assert_eq!(v["status"], "accepted", "{v}");
    }
    assert!(!partial.exists());
    assert!(node.stop().success());
}
