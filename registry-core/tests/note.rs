//! Checkpoint notes: the C2SP signed-note format against external vectors, a golden note
//! that freezes our format, round trips, tampering, limits, unknown keys and merging.
//!
//! Allocation is measured with a counting global allocator, so every test takes one lock
//! and none counts another's allocations.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

use std::alloc::System;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use cap::Cap;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use registry_core::checkpoint::note::{
    key_id, render_note, signer_name, split_note, verify_ed25519, Checkpoint, NoteError,
    NoteSignature, SignedNote, MAX_NOTE_BYTES, MAX_NOTE_SIGNATURES,
};
use registry_core::testkit;
use registry_core::{DidKey, Hash, SecretKey, Timestamp};

// A test crate's root resolves modules beside itself; these live in `tests/note/`.
#[path = "note/hostile.rs"]
mod hostile;
#[path = "note/vectors.rs"]
mod vectors;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);
static SERIAL: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const REGENERATE_VAR: &str = "REGISTRY_REGENERATE_FIXTURES";
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn fixture(path: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A plain base64 decoder, independent of the one under test (padding ignored).
fn b64_decode(s: &str) -> Vec<u8> {
    let (mut acc, mut bits, mut out) = (0u32, 0, Vec::new());
    for c in s.trim_end_matches('=').bytes() {
        let v = B64.iter().position(|&a| a == c).unwrap() as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn b64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |a, &b| a << 8 | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            let c = B64[(n >> (18 - 6 * i) & 63) as usize];
            out.push(if i <= chunk.len() { char::from(c) } else { '=' });
        }
    }
    out
}

fn line(name: &str, raw: &[u8]) -> String {
    format!("\u{2014} {name} {}\n", b64_encode(raw))
}

fn hash_of(f: impl Fn(u8) -> u8) -> Hash {
    Hash(std::array::from_fn(|i| f(i as u8)))
}

fn golden_checkpoint() -> Checkpoint {
    Checkpoint {
        registry: hash_of(|i| i.wrapping_mul(7).wrapping_add(1)),
        count: 1234,
        set_root: hash_of(|i| 0x80 | i),
        index_root: hash_of(|i| 0xff - i),
        slot: Timestamp(1_767_225_600),
    }
}

fn signed(checkpoint: Checkpoint, seeds: &[u64]) -> (SignedNote, Vec<DidKey>) {
    let mut note = SignedNote::new(checkpoint);
    let mut keys = Vec::new();
    for &seed in seeds {
        let k = testkit::key(seed);
        assert!(note.merge(SignedNote::sign(&checkpoint, &k)));
        keys.push(k.did());
    }
    (note, keys)
}

/// Regenerating (`REGISTRY_REGENERATE_FIXTURES=1`) is a FORMAT CHANGE: every checkpoint
/// ever signed changes meaning. Only on purpose, in its own commit, never to go green.
#[test]
fn golden_checkpoint_note_is_frozen() {
    let _l = lock();
    let (note, keys) = signed(golden_checkpoint(), &[1, 2, 3]);
    let text = note.text();
    if std::env::var(REGENERATE_VAR).is_ok_and(|v| v == "1") {
        let p =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/checkpoint-note.txt");
        std::fs::write(p, &text).unwrap();
    }
    let stored = fixture("checkpoint-note.txt");
    assert_eq!(text, stored, "the checkpoint note format changed");
    let parsed = SignedNote::parse(&stored).unwrap();
    assert_eq!(parsed, note);
    let mut sorted = keys.clone();
    sorted.sort_by_key(signer_name);
    assert_eq!(parsed.verified_signers(&sorted).unwrap(), sorted);
}

/// 64 cases; seeds of past failures are kept beside this file, in
/// `note.proptest-regressions`.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

fn any_checkpoint() -> impl Strategy<Value = Checkpoint> {
    (
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
        any::<u64>(),
    )
        .prop_map(|(r, count, s, i, slot)| Checkpoint {
            registry: Hash(r),
            count,
            set_root: Hash(s),
            index_root: Hash(i),
            slot: Timestamp(slot),
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn text_parse_text_is_identical(c in any_checkpoint(), n in 1usize..5) {
        let _l = lock();
        let seeds: Vec<u64> = (10..10 + n as u64).collect();
        let (note, keys) = signed(c, &seeds);
        let text = note.text();
        let parsed = SignedNote::parse(&text).unwrap();
        prop_assert_eq!(&parsed, &note);
        prop_assert_eq!(parsed.text(), text);
        prop_assert_eq!(Checkpoint::parse_body(&c.body()), Ok(c));
        prop_assert_eq!(parsed.verified_signers(&keys).unwrap(), keys);
    }
}

#[test]
fn extreme_values_round_trip() {
    let _l = lock();
    for (count, slot) in [(0, 0), (u64::MAX, u64::MAX), (10, 1)] {
        let c = Checkpoint {
            count,
            slot: Timestamp(slot),
            ..golden_checkpoint()
        };
        let (note, _) = signed(c, &[1]);
        assert_eq!(SignedNote::parse(&note.text()).unwrap(), note);
    }
}

#[test]
fn merge_keeps_the_smaller_signature_per_key() {
    let _l = lock();
    let c = golden_checkpoint();
    let good = SignedNote::sign(&c, &testkit::key(1));
    let (mut low, mut high) = (good.clone(), good.clone());
    low.sig = [0; 64];
    high.sig = [0xff; 64];
    let mut n = SignedNote::new(c);
    assert!(n.merge(high.clone()));
    assert!(n.merge(good.clone()) == (good.sig < high.sig));
    assert!(n.merge(low.clone()));
    assert!(!n.merge(high) && !n.merge(good) && !n.merge(low.clone()));
    assert_eq!(n.signatures, vec![low]);
}

/// A few signers, each with its real signature and some bogus ones under the same name
/// and key id, and a foreign name.
fn signature_pool() -> impl Strategy<Value = Vec<NoteSignature>> {
    let c = golden_checkpoint();
    let one = (0u64..4, prop::option::of(any::<[u8; 64]>())).prop_map(move |(k, bogus)| {
        let mut s = SignedNote::sign(&c, &testkit::key(k));
        if k == 3 {
            s.name = "example.com/witness".into();
        }
        if let Some(b) = bogus {
            s.sig = b;
        }
        s
    });
    prop::collection::vec(one, 1..12)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn merge_commutes(
        (a, b) in signature_pool().prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle()))
    ) {
        let _l = lock();
        let (mut x, mut y) = (SignedNote::new(golden_checkpoint()), SignedNote::new(golden_checkpoint()));
        for s in &a {
            x.merge(s.clone());
        }
        for s in &b {
            y.merge(s.clone());
        }
        prop_assert_eq!(&x.signatures, &y.signatures);
        prop_assert_eq!(x.text(), y.text());
        for s in &a {
            prop_assert!(!x.merge(s.clone()), "merging again changes nothing");
        }
        prop_assert_eq!(SignedNote::parse(&x.text()).unwrap(), x);
    }
}
