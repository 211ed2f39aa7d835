//! Checkpoints across real node processes: four witnesses on loopback cosign the
//! checkpoint that proves a revocation; with the liar build (`REGISTRY_LIAR_BIN`, set by
//! `scripts/liar.sh`) one of them hides the revocation and equivocates, its body never
//! reaches a quorum and the others record its equivocation; and a witness killed again and
//! again while it signs never signs two bodies for one slot.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

#[path = "../common/mod.rs"]
mod common;
mod proc;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{init, seed, BIN};
use proc::{configure, wait_for, Proc};
use registry_core::checkpoint::{checkpoint_of, Checkpoint, SignedNote, Trailing};
use registry_core::index::IndexKey;
use registry_core::keys::read_key_file;
use registry_core::rng::SplitMix64;
use registry_core::testkit::{self, key, Fixture};
use registry_core::{DidKey, EntityId, Governance, Hash, SignedEntry, WitnessSet};

const UNI: &str = "did:web:uni.example";
const PAST: u64 = 1_700_000_000;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn node_dir(tmp: &Path, fx: &Fixture, name: &str) -> std::path::PathBuf {
    let dir = tmp.join(name);
    init(&dir, &fx.genesis);
    configure(&dir);
    dir
}

fn node_key(dir: &Path) -> DidKey {
    read_key_file(&dir.join("node.key")).unwrap().did()
}

fn set_witnesses(fx: &Fixture, keys: Vec<DidKey>, quorum: u16) -> SignedEntry {
    fx.governance(Governance::SetWitnesses(WitnessSet { keys, quorum }))
        .issued_at(PAST + 1)
        .by_roots(&fx.root_keys(1))
}

/// The honest checkpoint state holding exactly `entries` (all issued long ago).
fn honest(fx: &Fixture, entries: &[&SignedEntry], slot: u64) -> (Checkpoint, Trailing) {
    let mut t = Trailing::new(fx.genesis.clone());
    for e in entries {
        t.offer(std::sync::Arc::new((*e).clone()));
    }
    t.advance(registry_core::Timestamp(u64::MAX));
    (checkpoint_of(t.state(), registry_core::Timestamp(slot)), t)
}

fn first_listen_addr(p: &Proc) -> String {
    wait_for("a listen address", &|| p.logs(), || {
        p.status()["listen_addrs"][0].as_str().map(str::to_string)
    })
}

#[test]
fn four_witnesses_cosign_the_revocation_and_a_liar_is_caught() {
    let liar_bin = std::env::var("REGISTRY_LIAR_BIN").ok();
    if liar_bin.is_none() {
        println!("no REGISTRY_LIAR_BIN: four honest witnesses (scripts/liar.sh runs the liar)");
    }
    let tmp = tempfile::tempdir().unwrap();
    let fx = Fixture::new(1, 1, 4);
    let dirs: Vec<_> = (0..4)
        .map(|i| node_dir(tmp.path(), &fx, &format!("n{i}")))
        .collect();
    let keys: Vec<DidKey> = dirs.iter().map(|d| node_key(d)).collect();
    let n0 = Proc::spawn(BIN, &dirs[0], None);
    let boot = first_listen_addr(&n0);
    let mut nodes = vec![n0];
    for (i, dir) in dirs.iter().enumerate().skip(1) {
        let bin = match (&liar_bin, i) {
            (Some(l), 3) => l.as_str(),
            _ => BIN,
        };
        nodes.push(Proc::spawn(bin, dir, Some(&boot)));
    }
    for n in &nodes {
        wait_for("three peers", &|| n.logs(), || {
            (n.status()["peers"].as_u64() >= Some(3)).then_some(())
        });
    }
    let authority = testkit::authority(&fx);
    let uni = fx
        .accredit(&EntityId::parse(UNI).unwrap())
        .grant("issue", "UniversityDegree")
        .controller(key(20).did())
        .issued_at(PAST)
        .by_holder(authority.id(), &[&key(testkit::AUTHORITY_KEY_SEED)]);
    let witnesses = set_witnesses(&fx, keys.clone(), 3);
    let revoke = fx
        .revoke(authority.id(), PAST + 2)
        .issued_at(PAST + 2)
        .by_roots(&fx.root_keys(1));
    for e in [&authority, &uni, &witnesses, &revoke] {
        assert_eq!(nodes[0].post("/v1/entries", e), 202);
    }
    let all = [&authority, &uni, &witnesses, &revoke];
    let honest_nodes = if liar_bin.is_some() { 3 } else { 4 };
    for n in &nodes[..honest_nodes] {
        let note = wait_for(
            "a cosigned note proving the revocation",
            &|| n.logs(),
            || {
                let note = n.latest()?;
                let signers = note.verified_signers(&keys).ok()?;
                let (expected, _) = honest(&fx, &all, note.checkpoint.slot.as_secs());
                (signers.len() >= 3 && note.checkpoint == expected).then_some(note)
            },
        );
        // The note's index root proves the revocation of the authority.
        let (_, state) = honest(&fx, &all, note.checkpoint.slot.as_secs());
        let ikey = IndexKey::revocations(&authority.id());
        assert!(state.state().index_value(&ikey).contains(&revoke.id()));
        let value = state.state().index().get(&ikey.path()).unwrap();
        let proof = state.state().index().prove(&ikey);
        proof
            .verify(&note.checkpoint.index_root, &ikey, Some(&value))
            .unwrap();
        let s = n.status();
        assert_eq!(s["checkpoint"]["witness"], true, "{s}");
        assert!(
            s["checkpoint"]["last_signed_slot"].as_u64().is_some(),
            "{s}"
        );
    }
    if liar_bin.is_none() {
        return;
    }
    // The liar: its own body hides the revocation and never gathers a quorum; every
    // honest node records its equivocation.
    let liar = &nodes[3];
    let liar_key = keys[3].to_string();
    for n in &nodes[..3] {
        wait_for("the liar's equivocation", &|| n.logs(), || {
            let s = n.status();
            let found = s["checkpoint"]["equivocations"]
                .as_array()?
                .iter()
                .any(|e| e["signer"] == liar_key.as_str());
            let metrics = n.get("/metrics").1;
            let counted = metrics.lines().any(|l| {
                l.starts_with("registry_checkpoint_equivocations_total ") && !l.ends_with(" 0")
            });
            (found && counted).then_some(())
        });
    }
    let slot = liar.latest().unwrap().checkpoint.slot.as_secs();
    for s in slot.saturating_sub(5)..=slot {
        let Some((200, text)) = liar.try_get(&format!("/v1/checkpoints/{s}")) else {
            continue;
        };
        let note = SignedNote::parse(&text).unwrap();
        let (expected, _) = honest(&fx, &all, s);
        if note.checkpoint != expected {
            let signers = note.verified_signers(&keys).map(|v| v.len()).unwrap_or(0);
            assert!(signers < 3, "a lying body gathered {signers} signatures");
        }
    }
}

#[test]
fn a_witness_killed_while_signing_never_signs_two_bodies_for_a_slot() {
    let rounds: usize = std::env::var("CHECKPOINT_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let s = seed("CHECKPOINT_SEED");
    println!("CHECKPOINT_SEED={s}");
    let mut rng = SplitMix64::new(s);
    let tmp = tempfile::tempdir().unwrap();
    let fx = Fixture::new(1, 1, 4);
    let dir = node_dir(tmp.path(), &fx, "witness");
    let me = node_key(&dir);
    // Signed bodies seen per slot: from the node's own notes, polled while it runs.
    let mut bodies: BTreeMap<u64, Vec<Hash>> = BTreeMap::new();
    let mut record = |note: &SignedNote| {
        if note.verified_signers(&[me]).is_ok() {
            let c = note.checkpoint.commitment();
            let seen = bodies.entry(note.checkpoint.slot.as_secs()).or_default();
            if !seen.contains(&c) {
                seen.push(c);
            }
        }
    };
    let mut nonce = 0u64;
    for round in 0..rounds {
        let p = Proc::spawn(BIN, &dir, None);
        if round == 0 {
            assert_eq!(p.post("/v1/entries", &set_witnesses(&fx, vec![me], 1)), 202);
            assert_eq!(p.post("/v1/entries", &testkit::authority(&fx)), 202);
        }
        // Entries back-dated to before the slot's cutoff keep arriving, so the body of a
        // slot recomputed after a restart differs from the one signed before the crash.
        let alive = Duration::from_millis(rng.below(2500) as u64 + 200);
        let started = Instant::now();
        while started.elapsed() < alive {
            nonce += 1;
            let back = fx
                .accredit(&testkit::entity(10_000 + nonce))
                .issued_at(now().saturating_sub(2))
                .nonce(nonce)
                .by_roots(&fx.root_keys(1));
            let _ = p.post("/v1/entries", &back);
            if let Some(n) = p.latest() {
                record(&n);
            }
            let slot = now();
            for s in slot.saturating_sub(3)..=slot {
                if let Some((200, text)) = p.try_get(&format!("/v1/checkpoints/{s}")) {
                    record(&SignedNote::parse(&text).unwrap());
                }
            }
        }
        p.kill();
    }
    let signed_slots = bodies.len();
    assert!(
        signed_slots >= rounds,
        "only {signed_slots} slots signed in {rounds} runs"
    );
    for (slot, seen) in &bodies {
        assert_eq!(
            seen.len(),
            1,
            "slot {slot}: the witness signed {} bodies",
            seen.len()
        );
    }
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("checkpoint-signed.json")).unwrap())
            .unwrap();
    let last = record["slot"].as_u64().unwrap();
    let newest = *bodies.keys().next_back().unwrap();
    assert!(
        last >= newest,
        "the record ({last}) is behind a published slot ({newest})"
    );
    if let Some(seen) = bodies.get(&last) {
        assert_eq!(
            record["commitment"].as_str(),
            Some(seen[0].to_hex().as_str())
        );
    }
    println!("checkpoint kills: {rounds} runs, {signed_slots} slots signed, one body each");
}
