//! The checkpointer in-process: merging, every verdict, held early signatures, the
//! persisted refusal to sign twice, equivocation proofs and bounded memory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use p2p::protocol::CheckpointMessage;
use p2p::CheckpointVerdict;
use registry_core::checkpoint::note::{SignedNote, MAX_NOTE_BYTES};
use registry_core::checkpoint::Checkpoint;
use registry_core::{Hash, SecretKey, Timestamp, WitnessSet};

use super::checkpointer::MAX_SEEN;
use super::{CheckpointConfig, Checkpointer, Notes};
use crate::writer::SlotState;

const REGISTRY: Hash = Hash([9; 32]);
const NOW: u64 = 1_700_000_000;

fn key(n: u8) -> SecretKey {
    SecretKey::from_seed([n; 32])
}

fn witnesses() -> WitnessSet {
    WitnessSet {
        keys: (1..=4).map(|n| key(n).did()).collect(),
        quorum: 3,
    }
    .sorted()
}

fn body(slot: u64, count: u64) -> Checkpoint {
    Checkpoint {
        registry: REGISTRY,
        count,
        set_root: Hash([count as u8; 32]),
        index_root: Hash([2; 32]),
        slot: Timestamp(slot),
    }
}

fn slot_state(slot: u64, count: u64) -> SlotState {
    SlotState {
        checkpoint: body(slot, count),
        witnesses: Some(witnesses()),
        live_witnesses: Some(witnesses()),
    }
}

/// A note of `checkpoint` signed by the keys of these seeds.
fn signed(checkpoint: &Checkpoint, by: &[u8]) -> String {
    let mut note = SignedNote::new(*checkpoint);
    for n in by {
        note.merge(SignedNote::sign(checkpoint, &key(*n)));
    }
    note.text()
}

struct Node {
    c: Arc<Checkpointer>,
    sent: Arc<Mutex<Vec<CheckpointMessage>>>,
    _dir: Option<tempfile::TempDir>,
}

fn node_in(dir: &std::path::Path, me: u8, clock: Arc<AtomicU64>) -> Node {
    let notes = Arc::new(Notes::new(8));
    let c = Arc::new(
        Checkpointer::new(
            CheckpointConfig::default(),
            REGISTRY,
            key(me),
            notes.clone(),
            dir,
            Box::new(|| Some(witnesses())),
            Box::new(move || clock.load(Ordering::Relaxed)),
        )
        .unwrap(),
    );
    notes.attach(&c);
    let sent = Arc::new(Mutex::new(Vec::new()));
    let out = sent.clone();
    c.set_publisher(Box::new(move |m| out.lock().unwrap().push(m.clone())));
    Node {
        c,
        sent,
        _dir: None,
    }
}

fn node(me: u8) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let mut n = node_in(dir.path(), me, Arc::new(AtomicU64::new(NOW)));
    n._dir = Some(dir);
    n
}

fn note(text: String) -> CheckpointMessage {
    CheckpointMessage::Note(text)
}

#[test]
fn signatures_on_our_body_are_merged_once() {
    let n = node(1);
    let own = n.c.on_slot(slot_state(NOW, 5));
    assert_eq!(own.witness_signatures(), 1, "a witness signs its own body");
    assert_eq!(n.sent.lock().unwrap().len(), 1, "and gossips it");
    let b = body(NOW, 5);
    assert_eq!(
        n.c.receive(note(signed(&b, &[2]))),
        CheckpointVerdict::Accept
    );
    assert_eq!(
        n.c.receive(note(signed(&b, &[2]))),
        CheckpointVerdict::Ignore
    );
    assert_eq!(
        n.c.receive(note(signed(&b, &[2, 3]))),
        CheckpointVerdict::Accept
    );
    let kept = n.c.notes().own(Timestamp(NOW)).unwrap();
    assert_eq!(kept.witness_signatures(), 3);
    assert!(kept.cosigned());
    assert_eq!(n.c.notes().cosigned_slot(), Some(Timestamp(NOW)));
    assert_eq!(n.c.counters().signatures_merged.load(Ordering::Relaxed), 2);
}

#[test]
fn each_invalid_message_is_rejected_with_its_reason() {
    let n = node(1);
    n.c.on_slot(slot_state(NOW, 5));
    let b = body(NOW, 5);
    let reject = |m: CheckpointMessage, why: &str| match n.c.receive(m) {
        CheckpointVerdict::Reject(r) => assert!(r.contains(why), "{r:?} lacks {why:?}"),
        v => panic!("{v:?} for a message with {why}"),
    };
    reject(note("not a note".into()), "malformed");
    reject(note("x".repeat(MAX_NOTE_BYTES + 1)), "bytes");
    let foreign = Checkpoint {
        registry: Hash([8; 32]),
        ..b
    };
    reject(note(signed(&foreign, &[2])), "another registry");
    // A valid signature by a key that is not a witness here is ignored, not penalised
    // (this node may be behind on governance).
    assert_eq!(
        n.c.receive(note(signed(&b, &[7]))),
        CheckpointVerdict::Ignore
    );
    // A signature line of witness 2 whose bytes were changed.
    let good = signed(&b, &[2]);
    let sig_line = good.lines().last().unwrap().to_string();
    let name = sig_line.split(' ').nth(1).unwrap();
    let mut bad = SignedNote::parse(&good).unwrap();
    bad.signatures[0].sig[0] ^= 1;
    assert!(bad.text().contains(name));
    reject(note(bad.text()), "bad signature");
    // An equivocation proof over one body, or by nobody who counts.
    reject(
        CheckpointMessage::Equivocation(signed(&b, &[2]), signed(&b, &[2])),
        "one body",
    );
    let other = body(NOW, 6);
    reject(
        CheckpointMessage::Equivocation(signed(&b, &[2]), signed(&other, &[3])),
        "no witness",
    );
    let later = body(NOW + 10, 6);
    reject(
        CheckpointMessage::Equivocation(signed(&b, &[2]), signed(&later, &[2])),
        "two slots",
    );
    assert_eq!(n.c.counters().rejected.load(Ordering::Relaxed), 7);
    // Far slots and other bodies are ignored, not held against the sender.
    let far = body(NOW + 3600, 5);
    assert_eq!(
        n.c.receive(note(signed(&far, &[2]))),
        CheckpointVerdict::Ignore
    );
    assert_eq!(
        n.c.receive(note(signed(&other, &[2]))),
        CheckpointVerdict::Ignore
    );
    assert_eq!(
        n.c.notes()
            .own(Timestamp(NOW))
            .unwrap()
            .witness_signatures(),
        1
    );
}

#[test]
fn signatures_ahead_of_our_slot_are_held_and_merged_when_it_comes() {
    let n = node(1);
    let b = body(NOW, 5);
    assert_eq!(
        n.c.receive(note(signed(&b, &[2, 3]))),
        CheckpointVerdict::Ignore
    );
    let own = n.c.on_slot(slot_state(NOW, 5));
    assert_eq!(own.witness_signatures(), 3);
    assert!(own.cosigned());
    // Held signatures on another body are not merged.
    let n = node(1);
    assert_eq!(
        n.c.receive(note(signed(&body(NOW, 6), &[2]))),
        CheckpointVerdict::Ignore
    );
    assert_eq!(n.c.on_slot(slot_state(NOW, 5)).witness_signatures(), 1);
}

#[test]
fn a_second_body_for_a_signed_slot_is_refused_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicU64::new(NOW));
    let n = node_in(dir.path(), 1, clock.clone());
    assert_eq!(n.c.on_slot(slot_state(NOW, 5)).witness_signatures(), 1);
    // The same slot again with another body (entries arrived late): not signed.
    assert_eq!(n.c.on_slot(slot_state(NOW, 6)).witness_signatures(), 0);
    assert_eq!(n.c.counters().refused.load(Ordering::Relaxed), 1);
    drop(n);
    let n = node_in(dir.path(), 1, clock);
    assert_eq!(n.c.snapshot().last_signed_slot, Some(NOW));
    assert_eq!(n.c.on_slot(slot_state(NOW, 6)).witness_signatures(), 0);
    // The body it did sign may be signed again (the same signature), and the next slot.
    assert_eq!(n.c.on_slot(slot_state(NOW, 5)).witness_signatures(), 1);
    assert_eq!(n.c.on_slot(slot_state(NOW + 10, 6)).witness_signatures(), 1);
    // A non-witness never signs.
    let n = node(7);
    assert_eq!(n.c.on_slot(slot_state(NOW, 5)).witness_signatures(), 0);
    assert!(!n.c.snapshot().witness);
    assert!(n.sent.lock().unwrap().is_empty());
}

#[test]
fn two_bodies_signed_by_one_witness_are_an_equivocation() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(AtomicU64::new(NOW));
    let n = node_in(dir.path(), 1, clock.clone());
    n.c.on_slot(slot_state(NOW, 5));
    let (honest, lie) = (body(NOW, 5), body(NOW, 6));
    assert_eq!(
        n.c.receive(note(signed(&lie, &[4]))),
        CheckpointVerdict::Ignore
    );
    assert_eq!(
        n.c.receive(note(signed(&honest, &[4]))),
        CheckpointVerdict::Accept
    );
    let snap = n.c.snapshot();
    assert_eq!(snap.equivocations.len(), 1);
    let e = &snap.equivocations[0];
    assert_eq!((e.signer, e.slot), (key(4).did(), NOW));
    assert_ne!(e.commitments[0], e.commitments[1]);
    assert_eq!(n.c.counters().equivocations.load(Ordering::Relaxed), 1);
    // It was gossiped, and a node that receives it checks and keeps it once.
    let proof = n
        .sent
        .lock()
        .unwrap()
        .iter()
        .find(|m| matches!(m, CheckpointMessage::Equivocation(..)))
        .cloned()
        .unwrap();
    let other = node(2);
    assert_eq!(other.c.receive(proof.clone()), CheckpointVerdict::Accept);
    assert_eq!(other.c.receive(proof), CheckpointVerdict::Ignore);
    assert_eq!(other.c.snapshot().equivocations.len(), 1);
    // Kept across a restart.
    drop(n);
    let n = node_in(dir.path(), 1, clock);
    assert_eq!(n.c.snapshot().equivocations.len(), 1);
    assert_eq!(n.c.counters().equivocations.load(Ordering::Relaxed), 1);
}

#[test]
fn floods_of_far_or_foreign_signatures_stay_bounded() {
    let n = node(1);
    n.c.on_slot(slot_state(NOW, 5));
    // Far slots: ignored without being kept.
    for i in 0..200u64 {
        let far = body(NOW + 1000 + i, 5);
        assert_eq!(
            n.c.receive(note(signed(&far, &[2]))),
            CheckpointVerdict::Ignore
        );
    }
    assert_eq!(n.c.seen_len(), 1, "only our own signature is kept");
    assert!(
        n.c.snapshot().clock_skew_suspected,
        "most slots seen are far"
    );
    // Foreign bodies within the window: one per (slot, signer), so a witness sending
    // many bodies for one slot adds one entry; many slots are capped.
    for count in 0..100u64 {
        n.c.receive(note(signed(&body(NOW + 1, count + 100), &[3])));
    }
    assert_eq!(n.c.seen_len(), 2);
    // Every slot of the window, each witness with two bodies: one kept per (slot,
    // signer), far below the hard cap.
    for s in 0..122u64 {
        for w in 2..=4u8 {
            let slot = NOW - 30 + s % 61;
            n.c.receive(note(signed(&body(slot, s), &[w])));
        }
    }
    assert!(n.c.seen_len() <= 61 * 4);
    assert!(n.c.seen_len() <= MAX_SEEN);
    assert!(n.c.snapshot().equivocations.len() <= super::equivocation::MAX_EQUIVOCATIONS);
    // Near slots again clear the skew warning.
    for _ in 0..64 {
        n.c.receive(note(signed(&body(NOW, 5), &[2])));
    }
    assert!(!n.c.snapshot().clock_skew_suspected);
}
