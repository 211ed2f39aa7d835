//! Hand-written hostile input: allocation bombs, over-long varints, trailing,
//! oversized and truncated input, invalid tags.

use super::*;

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
