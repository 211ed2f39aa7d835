//! Round-trip properties and random or mutated input, over generated values.

use proptest::test_runner::FileFailurePersistence;

use super::*;

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
        (proptest::collection::vec(did_key(), 0..5), any::<u16>()).prop_map(|(keys, quorum)| {
            Op::Governance(Governance::SetWitnesses(WitnessSet { keys, quorum }))
        }),
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

proptest! {
    // Seeds of past failures are kept beside this file, in `properties.proptest-regressions`.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    })]

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
