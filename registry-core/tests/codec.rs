//! Tests of the canonical encoding (`registry_core::codec`): golden fixtures that freeze
//! the binary and JSON forms, round-trip properties, and hostile input (random and mutated
//! bytes, allocation bombs, over-long varints, trailing and oversized input).
//!
//! # Golden fixtures
//!
//! `tests/fixtures/<name>.hex` holds two lines: the hex of the canonical encoding, then the
//! hex of the value's id (entry id, registry id or block hash). `tests/fixtures/<name>.json`
//! holds the JSON form (what the HTTP API and the CLI's files carry). A missing or
//! different fixture fails the test.
//!
//! Regenerating the fixtures (`REGISTRY_REGENERATE_FIXTURES=1 cargo test -p registry-core
//! --test codec`) is a FORMAT CHANGE: every signature, entry id, registry id and ledger
//! ever written changes meaning. Do it only on purpose, in its own commit, with the
//! reason in the message; never to make a failing test pass.
#![allow(clippy::unwrap_used)]

use std::fmt::Debug;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use serde::de::DeserializeOwned;
use serde::Serialize;

use registry_core::block::Block;
use registry_core::codec::{self, domain, DecodeError, MAX_BLOCK_BYTES, MAX_MESSAGE_BYTES};
use registry_core::entry::{
    Accreditation, Author, EntryBody, Governance, Grant, Kind, Op, Revocation, Signature,
    SignedEntry,
};
use registry_core::genesis::Genesis;
use registry_core::verify::Verifier;
use registry_core::{DidKey, EntityId, Hash, SecretKey, Timestamp};

// ---------------------------------------------------------------------------------------
// Deterministic fixture values
// ---------------------------------------------------------------------------------------

fn key(n: u8) -> SecretKey {
    SecretKey::from_seed([n; 32])
}

/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600;

fn genesis() -> Genesis {
    Genesis::new(
        EntityId::parse("did:web:edu.example").unwrap(),
        "Example Education Registry".to_string(),
        Timestamp(T0),
        vec![key(1).did(), key(2).did(), key(3).did()],
        2,
        4,
    )
    .unwrap()
}

fn grants(specs: &[&str]) -> Vec<Grant> {
    specs.iter().map(|s| Grant::parse(s).unwrap()).collect()
}

/// Root-authored Authorization, two root signatures, label, end of validity.
fn accredit_authorization() -> SignedEntry {
    EntryBody {
        registry: genesis().registry_id(),
        issued_at: Timestamp(T0 + 3600),
        author: Author::Roots,
        op: Op::Accredit(Accreditation {
            subject: EntityId::parse("did:web:uni.example").unwrap(),
            kind: Kind::Authorization,
            grants: grants(&["issue:UniversityDegree", "issue:Transcript", "accredit:*"]),
            controllers: vec![key(4).did()],
            valid_from: Timestamp(T0),
            valid_until: Some(Timestamp(T0 + 5 * 365 * 86_400)),
            label: Some("University of Example".to_string()),
        }),
        nonce: 1,
    }
    .sign(&[&key(1), &key(2)])
}

/// Holder-authored Recognition of an https subject, no label, open-ended.
fn accredit_recognition() -> SignedEntry {
    EntryBody {
        registry: genesis().registry_id(),
        issued_at: Timestamp(T0 + 7200),
        author: Author::Holder {
            accreditation: accredit_authorization().id(),
        },
        op: Op::Accredit(Accreditation {
            subject: EntityId::parse("https://registry.other.example/trust").unwrap(),
            kind: Kind::Recognition,
            grants: grants(&["recognize:UniversityDegree"]),
            controllers: vec![key(6).did()],
            valid_from: Timestamp(T0 + 7200),
            valid_until: None,
            label: None,
        }),
        nonce: 2,
    }
    .sign(&[&key(4)])
}

/// Holder-authored revocation of the recognition.
fn revoke() -> SignedEntry {
    EntryBody {
        registry: genesis().registry_id(),
        issued_at: Timestamp(T0 + 10_800),
        author: Author::Holder {
            accreditation: accredit_authorization().id(),
        },
        op: Op::Revoke(Revocation {
            target: accredit_recognition().id(),
            effective_at: Timestamp(T0 + 9000),
            reason: "recognition agreement ended".to_string(),
        }),
        nonce: 3,
    }
    .sign(&[&key(4)])
}

fn governance(g: Governance, nonce: u64) -> SignedEntry {
    EntryBody {
        registry: genesis().registry_id(),
        issued_at: Timestamp(T0 + 86_400),
        author: Author::Roots,
        op: Op::Governance(g),
        nonce,
    }
    .sign(&[&key(1), &key(2)])
}

fn all_entries() -> Vec<(&'static str, SignedEntry)> {
    vec![
        ("entry_accredit_authorization", accredit_authorization()),
        ("entry_accredit_recognition", accredit_recognition()),
        ("entry_revoke", revoke()),
        (
            "entry_governance_add_root",
            governance(Governance::AddRoot(key(5).did()), 4),
        ),
        (
            "entry_governance_remove_root",
            governance(Governance::RemoveRoot(key(3).did()), 5),
        ),
        (
            "entry_governance_set_threshold",
            governance(Governance::SetThreshold(3), 6),
        ),
    ]
}

fn block() -> Block {
    Block {
        height: 1,
        prev: genesis().registry_id(),
        timestamp: Timestamp(T0 + 90_000),
        entries: all_entries().iter().map(|(_, e)| e.id()).collect(),
        state_root: codec::hash_with_domain("test/fixture-state-root", b"block fixture"),
    }
}

// ---------------------------------------------------------------------------------------
// Golden fixtures
// ---------------------------------------------------------------------------------------

const REGENERATE_VAR: &str = "REGISTRY_REGENERATE_FIXTURES";

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

fn regenerating() -> bool {
    std::env::var(REGENERATE_VAR).is_ok_and(|v| v == "1")
}

fn read_fixture(name: &str) -> String {
    let path = fixture_dir().join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "golden fixture {} is missing or unreadable ({e}). Fixtures are never created \
             implicitly: {REGENERATE_VAR}=1 writes them, and doing so is a format change.",
            path.display()
        )
    })
}

/// Compares `value`'s encoding, id and JSON form with the stored fixture `name`, and
/// decodes the stored forms back to `value`.
fn check_golden<T>(
    name: &str,
    value: &T,
    id: Hash,
    decode: impl Fn(&[u8]) -> Result<T, DecodeError>,
) where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let bytes = codec::encode(value);
    let json = serde_json::to_string_pretty(value).unwrap() + "\n";
    if regenerating() {
        // A format change: see the module documentation.
        fs::create_dir_all(fixture_dir()).unwrap();
        let hex_text = format!("{}\n{}\n", hex::encode(&bytes), id.to_hex());
        fs::write(fixture_dir().join(format!("{name}.hex")), hex_text).unwrap();
        fs::write(fixture_dir().join(format!("{name}.json")), &json).unwrap();
    }

    let stored = read_fixture(&format!("{name}.hex"));
    let mut lines = stored.lines();
    let stored_hex = lines.next().unwrap_or_default();
    let stored_id = lines.next().unwrap_or_default();
    assert_eq!(
        hex::encode(&bytes),
        stored_hex,
        "{name}: the canonical encoding changed (a format change)"
    );
    assert_eq!(
        id.to_hex(),
        stored_id,
        "{name}: the id changed (a format change)"
    );
    let stored_bytes = hex::decode(stored_hex).unwrap();
    assert_eq!(
        decode(&stored_bytes).as_ref(),
        Ok(value),
        "{name}: fixture does not decode"
    );

    let stored_json = read_fixture(&format!("{name}.json"));
    let want: serde_json::Value = serde_json::from_str(&stored_json).unwrap();
    assert_eq!(
        serde_json::to_value(value).unwrap(),
        want,
        "{name}: the JSON form changed"
    );
    let back: T = serde_json::from_str(&stored_json).unwrap();
    assert_eq!(
        &back, value,
        "{name}: JSON fixture does not decode to the value"
    );
}

#[test]
fn golden_genesis() {
    let g = genesis();
    g.validate().unwrap();
    assert_eq!(g.roots.len(), 3);
    // The registry id is the domain-separated hash of exactly the fixture bytes.
    assert_eq!(
        g.registry_id(),
        codec::hash_with_domain(domain::GENESIS, &codec::encode(&g))
    );
    assert_eq!(Genesis::from_json(&g.to_json()), Ok(g.clone()));
    check_golden("genesis", &g, g.registry_id(), |b| {
        codec::decode(b, MAX_MESSAGE_BYTES)
    });
}

#[test]
fn golden_entries() {
    let registry = genesis().registry_id();
    let mut verifier = Verifier::new();
    for (name, entry) in all_entries() {
        // The fixtures are entries a node would accept structurally, with good signatures.
        entry
            .check_structure(&registry)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        verifier
            .verify_entry(&entry)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let body_id = codec::hash_with_domain(domain::ENTRY, &codec::encode(&entry.body));
        assert_eq!(entry.id(), body_id, "{name}");
        assert_eq!(entry.encode(), codec::encode(&entry), "{name}");
        check_golden(name, &entry, entry.id(), SignedEntry::decode);
    }
}

#[test]
fn golden_block() {
    let b = block();
    assert_eq!(
        b.hash(),
        codec::hash_with_domain(domain::BLOCK, &b.encode())
    );
    check_golden("block", &b, b.hash(), Block::decode);
}

#[test]
fn fixture_entries_cover_every_op_kind() {
    let entries = all_entries();
    let has = |f: &dyn Fn(&SignedEntry) -> bool| entries.iter().any(|(_, e)| f(e));
    let accr = |e: &SignedEntry, kind, roots: bool| {
        e.accreditation().is_some_and(|a| a.kind == kind)
            && (e.body.author == Author::Roots) == roots
    };
    assert!(has(
        &|e| accr(e, Kind::Authorization, true) && e.signatures.len() == 2
    ));
    assert!(has(&|e| accr(e, Kind::Recognition, false)));
    assert!(has(
        &|e| matches!(e.body.op, Op::Revoke(_)) && matches!(e.body.author, Author::Holder { .. })
    ));
    assert!(has(&|e| matches!(
        e.body.op,
        Op::Governance(Governance::AddRoot(_))
    )));
    assert!(has(&|e| matches!(
        e.body.op,
        Op::Governance(Governance::RemoveRoot(_))
    )));
    assert!(has(&|e| matches!(
        e.body.op,
        Op::Governance(Governance::SetThreshold(_))
    )));
    let a = accredit_authorization();
    let a = a.accreditation().unwrap();
    assert!(a.label.is_some() && a.valid_until.is_some());
    assert!(a
        .grants
        .iter()
        .any(|g| g.action == "accredit" && g.resource == "*"));
}

// ---------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------

fn hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash)
}

fn did_key() -> impl Strategy<Value = DidKey> {
    any::<[u8; 32]>().prop_map(DidKey::from_public_key)
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    // Mix small values (one-byte varints) with the full range (every varint width).
    prop_oneof![0u64..300, 60_000u64..70_000, any::<u64>()].prop_map(Timestamp)
}

fn entity_id() -> impl Strategy<Value = EntityId> {
    prop_oneof![
        "did:[a-z0-9]{1,8}:[A-Za-z0-9._-]{1,40}(:[A-Za-z0-9._-]{1,16}){0,2}",
        "https://[a-z0-9]{1,16}(\\.[a-z]{2,6}){1,2}(:[0-9]{1,4})?(/[a-zA-Z0-9._~-]{0,12}){0,3}",
    ]
    .prop_map(|s| EntityId::parse(&s).unwrap())
    .boxed()
    .prop_union(did_key().prop_map(EntityId::from).boxed())
}

/// Any string (control characters included) of at most `max_chars` characters: the
/// codec must carry strings the structural checks would reject, too.
fn text(max_chars: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::string::string_regex(&format!("[a-zA-Z0-9:*._-]{{0,{max_chars}}}")).unwrap(),
        proptest::collection::vec(any::<char>(), 0..=max_chars)
            .prop_map(|cs| cs.into_iter().collect::<String>()),
    ]
}

fn grant() -> impl Strategy<Value = Grant> {
    (text(32), text(64)).prop_map(|(action, resource)| Grant { action, resource })
}

fn accreditation() -> impl Strategy<Value = Accreditation> {
    (
        entity_id(),
        prop_oneof![Just(Kind::Authorization), Just(Kind::Recognition)],
        proptest::collection::vec(grant(), 0..6),
        proptest::collection::vec(did_key(), 0..4),
        timestamp(),
        proptest::option::of(timestamp()),
        proptest::option::of(text(64)),
    )
        .prop_map(
            |(subject, kind, grants, controllers, valid_from, valid_until, label)| Accreditation {
                subject,
                kind,
                grants,
                controllers,
                valid_from,
                valid_until,
                label,
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        accreditation().prop_map(Op::Accredit),
        (hash(), timestamp(), text(128)).prop_map(|(target, effective_at, reason)| {
            Op::Revoke(Revocation {
                target,
                effective_at,
                reason,
            })
        }),
        did_key().prop_map(|k| Op::Governance(Governance::AddRoot(k))),
        did_key().prop_map(|k| Op::Governance(Governance::RemoveRoot(k))),
        any::<u16>().prop_map(|t| Op::Governance(Governance::SetThreshold(t))),
    ]
}

fn author() -> impl Strategy<Value = Author> {
    prop_oneof![
        Just(Author::Roots),
        hash().prop_map(|accreditation| Author::Holder { accreditation })
    ]
}

fn signed_entry() -> impl Strategy<Value = SignedEntry> {
    let sig = (did_key(), any::<[u8; 64]>()).prop_map(|(signer, sig)| Signature { signer, sig });
    (
        hash(),
        timestamp(),
        author(),
        op(),
        any::<u64>(),
        proptest::collection::vec(sig, 0..5),
    )
        .prop_map(
            |(registry, issued_at, author, op, nonce, signatures)| SignedEntry {
                body: EntryBody {
                    registry,
                    issued_at,
                    author,
                    op,
                    nonce,
                },
                signatures,
            },
        )
}

fn genesis_value() -> impl Strategy<Value = Genesis> {
    (
        any::<u16>(),
        entity_id(),
        text(64),
        timestamp(),
        proptest::collection::vec(did_key(), 0..6),
        any::<u16>(),
        any::<u8>(),
    )
        .prop_map(
            |(version, authority_id, name, created_at, roots, threshold, max_depth)| Genesis {
                version,
                authority_id,
                name,
                created_at,
                roots,
                threshold,
                max_depth,
            },
        )
}

fn block_value() -> impl Strategy<Value = Block> {
    (
        any::<u64>(),
        hash(),
        timestamp(),
        proptest::collection::vec(hash(), 0..40),
        hash(),
    )
        .prop_map(|(height, prev, timestamp, entries, state_root)| Block {
            height,
            prev,
            timestamp,
            entries,
            state_root,
        })
}

/// One damage done to an encoding. Positions are `Index`es, resolved against the
/// current length so they always land inside the buffer.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    /// Overwrites a byte with a varint marker or extreme value (0, 0xFA..=0xFF).
    Marker(Index, u8),
    Truncate(Index),
    Extend(Vec<u8>),
    Splice {
        at: Index,
        remove: usize,
        insert: Vec<u8>,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let bytes = proptest::collection::vec(any::<u8>(), 0..12);
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        2 => (any::<Index>(), prop::sample::select(vec![0u8, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff]))
            .prop_map(|(i, b)| Mutation::Marker(i, b)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => bytes.clone().prop_map(Mutation::Extend),
        2 => (any::<Index>(), 0usize..8, bytes)
            .prop_map(|(at, remove, insert)| Mutation::Splice { at, remove, insert }),
    ]
}

fn mutate(mut b: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        match m {
            Mutation::FlipBit(i, bit) if !b.is_empty() => {
                let at = i.index(b.len());
                b[at] ^= 1 << bit;
            }
            Mutation::Marker(i, v) if !b.is_empty() => {
                let at = i.index(b.len());
                b[at] = *v;
            }
            Mutation::Truncate(i) => b.truncate(i.index(b.len() + 1)),
            Mutation::Extend(extra) => b.extend_from_slice(extra),
            Mutation::Splice { at, remove, insert } => {
                let at = at.index(b.len() + 1);
                let end = (at + remove).min(b.len());
                b.splice(at..end, insert.iter().copied());
            }
            Mutation::FlipBit(..) | Mutation::Marker(..) => {}
        }
    }
    b
}

/// Decodes `bytes` as each top-level type. Never panics (a panic fails the property);
/// whatever decodes must be exactly the canonical encoding of its value.
fn decode_all_ways(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(e) = SignedEntry::decode(bytes) {
        prop_assert_eq!(e.encode(), bytes);
    }
    if let Ok(b) = Block::decode(bytes) {
        prop_assert_eq!(b.encode(), bytes);
    }
    if let Ok(g) = codec::decode::<Genesis>(bytes, MAX_MESSAGE_BYTES) {
        prop_assert_eq!(codec::encode(&g), bytes);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn entry_round_trips(entry in signed_entry()) {
        let bytes = entry.encode();
        prop_assert!(bytes.len() <= MAX_MESSAGE_BYTES);
        let back = SignedEntry::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &entry);
        prop_assert_eq!(back.id(), entry.id());
        let json = serde_json::to_string(&entry).unwrap();
        let from_json: SignedEntry = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&from_json, &entry);
        // Pretty JSON (the CLI's files) reads back the same.
        let pretty = serde_json::to_string_pretty(&entry).unwrap();
        prop_assert_eq!(serde_json::from_str::<SignedEntry>(&pretty).unwrap(), entry);
    }

    #[test]
    fn genesis_and_block_round_trip(g in genesis_value(), b in block_value()) {
        let gb = codec::encode(&g);
        prop_assert_eq!(codec::decode::<Genesis>(&gb, MAX_MESSAGE_BYTES).unwrap(), g.clone());
        let gj: Genesis = serde_json::from_str(&serde_json::to_string(&g).unwrap()).unwrap();
        prop_assert_eq!(gj, g);
        prop_assert_eq!(Block::decode(&b.encode()).unwrap(), b.clone());
        let bj: Block = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
        prop_assert_eq!(bj, b);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        decode_all_ways(&bytes)?;
    }

    #[test]
    fn mutated_entries_never_panic(
        entry in signed_entry(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        decode_all_ways(&mutate(entry.encode(), &mutations))?;
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in any::<Index>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let mut valid: Vec<Vec<u8>> = all_entries().iter().map(|(_, e)| e.encode()).collect();
        valid.push(codec::encode(&genesis()));
        valid.push(block().encode());
        let original = valid.swap_remove(which.index(valid.len()));
        decode_all_ways(&mutate(original, &mutations))?;
    }

    #[test]
    fn mutated_genesis_and_blocks_never_panic(
        g in genesis_value(),
        b in block_value(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        decode_all_ways(&mutate(codec::encode(&g), &mutations))?;
        decode_all_ways(&mutate(b.encode(), &mutations))?;
    }
}

// ---------------------------------------------------------------------------------------
// Hand-written hostile input
// ---------------------------------------------------------------------------------------

/// bincode 2 standard varint of a u64: < 251 one byte, else a marker then LE bytes.
fn varint(v: u64) -> Vec<u8> {
    codec::encode(&v)
}

fn u64_marker(v: u64) -> Vec<u8> {
    let mut b = vec![0xfd];
    b.extend_from_slice(&v.to_le_bytes());
    b
}

/// Decodes and requires a quick error (an allocation bomb that "succeeds" by allocating
/// would take far longer, or abort the process).
fn assert_quick_err<T: Debug>(
    what: &str,
    f: impl FnOnce() -> Result<T, DecodeError>,
) -> DecodeError {
    let start = Instant::now();
    let result = f();
    let took = start.elapsed();
    assert!(took < Duration::from_secs(2), "{what}: took {took:?}");
    match result {
        Ok(v) => panic!("{what}: decoded to {v:?}"),
        Err(e) => e,
    }
}

/// The encoding of an authorization entry up to (not including) its subject string.
fn prefix_before_subject() -> Vec<u8> {
    let e = accredit_authorization();
    let mut b = codec::encode(&(e.body.registry, e.body.issued_at, e.body.author));
    b.push(0); // Op::Accredit
    b
}

#[test]
fn prefix_helper_matches_the_real_encoding() {
    let e = accredit_authorization();
    let a = e.accreditation().unwrap();
    let mut b = prefix_before_subject();
    b.extend(codec::encode(&a.subject));
    b.extend(codec::encode(&a.kind));
    b.extend(codec::encode(&a.grants));
    assert!(e.encode().starts_with(&b));
}

#[test]
fn huge_string_length_is_refused_before_allocating() {
    for len in [u64::from(u32::MAX), 1 << 32, 1 << 40, u64::MAX] {
        let mut b = prefix_before_subject();
        b.extend(varint(len));
        b.extend_from_slice(b"did:web:x");
        let err = assert_quick_err("string bomb", || SignedEntry::decode(&b));
        // bincode's claimed-memory limit trips before the allocation.
        assert!(
            matches!(err, DecodeError::DeclaredTooLarge { .. }),
            "len {len}: {err:?}"
        );
    }
}

/// Every list field is decoded by `codec::bounded_vec`, which refuses a declared length
/// above the field's maximum before allocating (serde's own `Vec` visitor would
/// pre-allocate up to 1 MiB for any declared length, outside bincode's limit).
#[test]
fn huge_vec_lengths_error_quickly() {
    let e = accredit_authorization();
    let a = e.accreditation().unwrap();
    let mut before_grants = prefix_before_subject();
    before_grants.extend(codec::encode(&a.subject));
    before_grants.extend(codec::encode(&a.kind));
    for len in [1u64 << 32, 1 << 40, u64::MAX] {
        // grants: Vec<Grant>
        let mut b = before_grants.clone();
        b.extend(varint(len));
        assert_quick_err("grants bomb", || SignedEntry::decode(&b));
        // nested: grants of huge length whose first grant declares a huge action string
        let mut b = before_grants.clone();
        b.extend(varint(len));
        b.extend(varint(len));
        b.extend_from_slice(b"issue");
        assert_quick_err("nested grants bomb", || SignedEntry::decode(&b));
        // nested: a valid first grant, then a second whose resource is huge
        let mut b = before_grants.clone();
        b.extend(varint(len));
        b.extend(codec::encode(&a.grants[0]));
        b.extend(codec::encode("issue"));
        b.extend(varint(len));
        assert_quick_err("second grant bomb", || SignedEntry::decode(&b));
        // signatures: Vec<Signature> after a complete body
        let mut b = codec::encode(&e.body);
        b.extend(varint(len));
        b.extend_from_slice(&[7; 40]);
        assert_quick_err("signatures bomb", || SignedEntry::decode(&b));
        // block entries: Vec<Hash>
        let blk = block();
        let mut b = codec::encode(&(blk.height, blk.prev, blk.timestamp));
        b.extend(varint(len));
        b.extend_from_slice(&[1; 64]);
        assert_quick_err("block entries bomb", || Block::decode(&b));
        // genesis roots: Vec<DidKey>, and the name string
        let g = genesis();
        let mut b = codec::encode(&(g.version, &g.authority_id, &g.name, g.created_at));
        b.extend(varint(len));
        assert_quick_err("genesis roots bomb", || {
            codec::decode::<Genesis>(&b, MAX_MESSAGE_BYTES)
        });
        let mut b = codec::encode(&(g.version, &g.authority_id));
        b.extend(varint(len));
        let err = assert_quick_err("genesis name bomb", || {
            codec::decode::<Genesis>(&b, MAX_MESSAGE_BYTES)
        });
        assert!(
            matches!(err, DecodeError::DeclaredTooLarge { .. }),
            "{err:?}"
        );
    }
}

#[test]
fn block_entries_bomb_filling_the_whole_limit_errors() {
    // The largest input Block::decode reads, declaring 2^40 entries and supplying ~1 MiB.
    let blk = block();
    let mut b = codec::encode(&(blk.height, blk.prev, blk.timestamp));
    b.extend(varint(1 << 40));
    b.resize(MAX_BLOCK_BYTES, 0xab);
    assert_quick_err("full-size block bomb", || Block::decode(&b));
}

#[test]
fn over_long_varints_are_non_canonical() {
    let e = accredit_authorization();
    let canonical = e.encode();
    assert_eq!(SignedEntry::decode(&canonical), Ok(e.clone()));
    let registry = codec::encode(&e.body.registry);
    let issued = varint(e.body.issued_at.0);
    assert_eq!(
        issued[0], 0xfc,
        "issued_at is a u32-width varint in the fixture"
    );

    // issued_at as 0xfd + 8 bytes where 0xfc + 4 bytes is canonical.
    let mut b = registry.clone();
    b.extend(u64_marker(e.body.issued_at.0));
    b.extend_from_slice(&canonical[registry.len() + issued.len()..]);
    assert_eq!(SignedEntry::decode(&b), Err(DecodeError::NonCanonical));

    // nonce = 1 (the body's last byte) as 0xfb/0xfc/0xfd + wider bytes.
    let body = codec::encode(&e.body);
    assert_eq!(body.last(), Some(&1));
    let sigs = codec::encode(&e.signatures);
    for wide in [vec![0xfb, 1, 0], vec![0xfc, 1, 0, 0, 0], u64_marker(1)] {
        let mut b = body[..body.len() - 1].to_vec();
        b.extend(&wide);
        b.extend(&sigs);
        assert_eq!(
            SignedEntry::decode(&b),
            Err(DecodeError::NonCanonical),
            "{wide:x?}"
        );
    }

    // The signatures' length (2) as 0xfb 0x02 0x00.
    let mut b = body.clone();
    b.extend([0xfb, 2, 0]);
    b.extend_from_slice(&sigs[1..]);
    assert_eq!(SignedEntry::decode(&b), Err(DecodeError::NonCanonical));

    // An enum variant index (Author::Roots = 0) as 0xfb 0x00 0x00.
    let mut b = registry.clone();
    b.extend(&issued);
    b.extend([0xfb, 0, 0]);
    b.extend_from_slice(&canonical[registry.len() + issued.len() + 1..]);
    assert_eq!(SignedEntry::decode(&b), Err(DecodeError::NonCanonical));

    // A genesis threshold (u16 = 2) as 0xfb 0x02 0x00.
    let g = genesis();
    let gb = codec::encode(&g);
    assert_eq!(&gb[gb.len() - 2..], &[2, 4]);
    let mut b = gb[..gb.len() - 2].to_vec();
    b.extend([0xfb, 2, 0, 4]);
    assert_eq!(
        codec::decode::<Genesis>(&b, MAX_MESSAGE_BYTES),
        Err(DecodeError::NonCanonical)
    );

    // A block height (1) as 0xfd + 8 bytes.
    let blk = block().encode();
    let mut b = u64_marker(1);
    b.extend_from_slice(&blk[1..]);
    assert_eq!(Block::decode(&b), Err(DecodeError::NonCanonical));
}

#[test]
fn trailing_bytes_are_rejected() {
    let e = accredit_authorization().encode();
    for extra in [1usize, 2, 100] {
        let mut b = e.clone();
        b.resize(e.len() + extra, 0);
        assert_eq!(
            SignedEntry::decode(&b),
            Err(DecodeError::TrailingBytes { extra })
        );
    }
    let mut b = block().encode();
    b.push(0);
    assert_eq!(
        Block::decode(&b),
        Err(DecodeError::TrailingBytes { extra: 1 })
    );
    let mut b = codec::encode(&genesis());
    b.extend([1, 2, 3]);
    assert_eq!(
        codec::decode::<Genesis>(&b, MAX_MESSAGE_BYTES),
        Err(DecodeError::TrailingBytes { extra: 3 })
    );
}

#[test]
fn oversized_input_is_rejected_before_decoding() {
    // A valid entry padded past the limit: TooLarge (not TrailingBytes), so the length
    // check runs before any decoding.
    let mut b = accredit_authorization().encode();
    b.resize(MAX_MESSAGE_BYTES + 1, 0);
    assert_eq!(
        SignedEntry::decode(&b),
        Err(DecodeError::TooLarge {
            len: MAX_MESSAGE_BYTES + 1,
            limit: MAX_MESSAGE_BYTES
        })
    );
    let mut b = block().encode();
    b.resize(MAX_BLOCK_BYTES + 1, 0);
    assert_eq!(
        Block::decode(&b),
        Err(DecodeError::TooLarge {
            len: MAX_BLOCK_BYTES + 1,
            limit: MAX_BLOCK_BYTES
        })
    );
    // The caller's limit is honoured exactly.
    let e = accredit_authorization();
    let b = e.encode();
    assert_eq!(codec::decode::<SignedEntry>(&b, b.len()), Ok(e));
    assert_eq!(
        codec::decode::<SignedEntry>(&b, b.len() - 1),
        Err(DecodeError::TooLarge {
            len: b.len(),
            limit: b.len() - 1
        })
    );
}

#[test]
fn every_truncation_of_every_fixture_is_an_error() {
    let mut valid: Vec<Vec<u8>> = all_entries().iter().map(|(_, e)| e.encode()).collect();
    valid.push(codec::encode(&genesis()));
    valid.push(block().encode());
    for bytes in valid {
        for cut in 0..bytes.len() {
            let b = &bytes[..cut];
            assert!(SignedEntry::decode(b).is_err(), "cut {cut}");
            assert!(Block::decode(b).is_err(), "cut {cut}");
            assert!(
                codec::decode::<Genesis>(b, MAX_MESSAGE_BYTES).is_err(),
                "cut {cut}"
            );
        }
    }
}

#[test]
fn invalid_tags_and_ids_are_errors() {
    let e = accredit_authorization();
    let registry = codec::encode(&e.body.registry);
    let issued = varint(e.body.issued_at.0);
    let canonical = e.encode();
    let author_at = registry.len() + issued.len();
    // Author variant 2 does not exist; Op variant 3 does not exist.
    for (at, v) in [(author_at, 2u8), (author_at + 1, 3)] {
        let mut b = canonical.clone();
        b[at] = v;
        assert!(SignedEntry::decode(&b).is_err(), "variant {v} at {at}");
    }
    // A subject that is not an entity id is refused while decoding.
    let mut b = prefix_before_subject();
    b.extend(codec::encode("not a did"));
    let subject_len = codec::encode(&e.accreditation().unwrap().subject).len();
    b.extend_from_slice(&canonical[prefix_before_subject().len() + subject_len..]);
    assert!(
        matches!(SignedEntry::decode(&b), Err(DecodeError::Invalid(_))),
        "{:?}",
        SignedEntry::decode(&b)
    );
    // Option tag 2 for valid_until.
    let a = e.accreditation().unwrap();
    let mut b = prefix_before_subject();
    b.extend(codec::encode(&(
        &a.subject,
        a.kind,
        &a.grants,
        &a.controllers,
        a.valid_from,
    )));
    let at = b.len();
    let mut bad = canonical.clone();
    assert_eq!(bad[at], 1, "valid_until is Some");
    bad[at] = 2;
    assert!(SignedEntry::decode(&bad).is_err());
}

/// A declared list length above the field's maximum is refused by name, before any
/// element is read.
#[test]
fn list_lengths_above_field_maximum_are_refused_before_reading() {
    let blk = block();
    let mut b = codec::encode(&(blk.height, blk.prev, blk.timestamp));
    b.extend(varint(1025));
    let err = Block::decode(&b).unwrap_err();
    assert!(err.to_string().contains("at most 1024"), "{err}");
    let e = accredit_authorization();
    let mut b = codec::encode(&e.body);
    b.extend(varint(33));
    let err = SignedEntry::decode(&b).unwrap_err();
    assert!(err.to_string().contains("at most 32"), "{err}");
}
