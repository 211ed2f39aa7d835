//! Tampered, malformed, oversized and foreign notes: every one refused or ignored as the
//! spec says, within bounded memory.

use ed25519_dalek::{Signature, VerifyingKey};

use super::*;

/// A mutated note must fail to parse, or no longer verify as both signers, and any
/// (checkpoint, signature) pair in it that verifies is one of the original's.
fn assert_refused(original: &SignedNote, keys: &[DidKey], bytes: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return false;
    };
    let Ok(note) = SignedNote::parse(text) else {
        return false;
    };
    assert_ne!(
        note.verified_signers(keys).ok().as_deref(),
        Some(keys),
        "{text}"
    );
    for s in &note.signatures {
        if note.verify_signature(s).is_some() {
            assert_eq!(note.checkpoint, original.checkpoint, "{text}");
            assert!(original.signatures.contains(s), "{text}");
        }
    }
    true
}

#[test]
fn every_bit_flip_and_truncation_is_refused() {
    let _l = lock();
    let (note, keys) = signed(golden_checkpoint(), &[1, 2]);
    let text = note.text();
    let (mut parsed, mut flips) = (0, 0);
    for i in 0..text.len() {
        for bit in 0..8 {
            let mut bytes = text.as_bytes().to_vec();
            bytes[i] ^= 1 << bit;
            parsed += usize::from(assert_refused(&note, &keys, &bytes));
            flips += 1;
        }
    }
    let mut cut = 0;
    for i in 0..text.len() {
        cut += usize::from(assert_refused(&note, &keys, &text.as_bytes()[..i]));
    }
    // The one truncation that parses is the note cut after its first signature line.
    assert_eq!(cut, 1);
    println!(
        "{flips} bit flips of a {}-byte note: {parsed} still parse, none verify",
        text.len()
    );
}

fn replace_line(text: &str, n: usize, with: &str) -> String {
    let mut lines: Vec<&str> = text.split('\n').collect();
    lines[n] = with;
    lines.join("\n")
}

#[test]
fn non_canonical_bodies_are_refused() {
    let _l = lock();
    let (note, _) = signed(golden_checkpoint(), &[1]);
    let text = note.text();
    let c = golden_checkpoint();
    let origin = format!("trust-registry/{}", c.registry);
    let commitment = text.lines().nth(2).unwrap();
    // Same 32 bytes' spelling with a non-zero unused bit.
    let last = commitment.as_bytes()[42];
    let loose = B64[B64.iter().position(|&a| a == last).unwrap() | 1];
    let loose = format!("{}{}=", &commitment[..42], char::from(loose));
    let set = format!("set {}", c.set_root);
    let cases: Vec<(usize, String)> = vec![
        (
            0,
            origin
                .to_uppercase()
                .replace("TRUST-REGISTRY", "trust-registry"),
        ),
        (0, origin[..origin.len() - 1].to_string()),
        (0, format!("{origin} ")),
        (0, format!("example.com/{}", c.registry)),
        (1, "01234".into()),
        (1, "+1234".into()),
        (1, " 1234".into()),
        (1, "1234 ".into()),
        (1, "18446744073709551616".into()),
        (1, "١٢٣٤".into()),
        (2, commitment.trim_end_matches('=').into()),
        (2, loose),
        (2, commitment.replace('+', "-").replace('/', "_") + "x"),
        (3, "slot 01767225600".into()),
        (3, "slot  1767225600".into()),
        (3, "Slot 1767225600".into()),
        (3, "slot 1767225600 ".into()),
        (4, set.to_uppercase().replace("SET", "set")),
        (4, format!("{set}0")),
        (4, format!("index {}", c.index_root)),
        (
            5,
            format!("index {}", c.index_root)
                .to_uppercase()
                .replace("INDEX", "index"),
        ),
    ];
    for (line, with) in cases {
        let bad = replace_line(&text, line, &with);
        match SignedNote::parse(&bad) {
            Err(NoteError::BadField { line: l, .. }) => assert_eq!(l, line + 1, "{with:?}"),
            other => panic!("{with:?} on line {}: {other:?}", line + 1),
        }
    }
    let body = c.body();
    let seven = body.clone() + "extra\n";
    assert_eq!(
        Checkpoint::parse_body(&seven),
        Err(NoteError::BodyLineCount { found: 7 })
    );
    let five: String = body.lines().take(5).map(|l| format!("{l}\n")).collect();
    assert_eq!(
        Checkpoint::parse_body(&five),
        Err(NoteError::BodyLineCount { found: 5 })
    );
    assert_eq!(
        Checkpoint::parse_body(body.trim_end()),
        Err(NoteError::BodyNotTerminated)
    );
    let crlf = text.replacen('\n', "\r\n", 1);
    assert!(matches!(
        SignedNote::parse(&crlf),
        Err(NoteError::ControlCharacter { .. })
    ));
}

#[test]
fn commitment_mismatch_is_refused() {
    let _l = lock();
    let c = golden_checkpoint();
    let other = Checkpoint {
        count: c.count + 1,
        ..c
    };
    let (note, _) = signed(c, &[1]);
    let text = note.text();
    let other_commitment = other.body().lines().nth(2).unwrap().to_string();
    let moved_set = format!("set {}", hash_of(|i| i));
    for (line, with) in [(2, other_commitment.as_str()), (4, moved_set.as_str())] {
        let bad = replace_line(&text, line, with);
        let err = SignedNote::parse(&bad).unwrap_err();
        assert!(matches!(err, NoteError::CommitmentMismatch { .. }), "{err}");
    }
}

/// Whether an error is the one a case expects.
type Expect = fn(&NoteError) -> bool;

#[test]
fn malformed_signature_blocks_are_refused() {
    let _l = lock();
    let (note, _) = signed(golden_checkpoint(), &[1]);
    let text = note.text();
    let body = note.checkpoint.body();
    let k1 = &note.signatures[0];
    let mut raw = k1.key_id.to_vec();
    raw.extend_from_slice(&[7; 72]);
    let mut other = k1.clone();
    other.sig[0] ^= 1;
    let two = render_note(&body, &[k1.clone(), other]);
    let cases: Vec<(String, Expect)> = vec![
        (body.clone(), |e| matches!(e, NoteError::NoSeparator)),
        (body.clone() + "\n", |e| {
            matches!(e, NoteError::NoSignatures)
        }),
        (text.trim_end().into(), |e| {
            matches!(e, NoteError::MissingFinalNewline)
        }),
        (text.replace('\u{2014}', "-"), |e| {
            matches!(e, NoteError::BadSignaturePrefix { line: 1 })
        }),
        (text.replace("did:key", "did+key"), |e| {
            matches!(e, NoteError::BadKeyName { .. })
        }),
        (body.clone() + "\n" + &line("", &[1; 68]), |e| {
            matches!(e, NoteError::BadKeyName { .. })
        }),
        (body.clone() + "\n\u{2014} w AAAA\u{a0}\n", |e| {
            matches!(e, NoteError::BadSignatureBase64 { .. })
        }),
        (body.clone() + "\n" + &line("w", &[1; 4]), |e| {
            matches!(e, NoteError::ShortSignature { len: 4, .. })
        }),
        (body.clone() + "\n" + &line(&k1.name, &raw), |e| {
            matches!(e, NoteError::BadEd25519Length { len: 72, .. })
        }),
        (two, |e| {
            matches!(e, NoteError::ConflictingSignatures { .. })
        }),
        (text.replacen(' ', "\t", 1), |e| {
            matches!(e, NoteError::ControlCharacter { .. })
        }),
    ];
    for (bad, want) in cases {
        let err = SignedNote::parse(&bad).unwrap_err();
        assert!(want(&err), "{err} for {bad:?}");
    }
    let repeated = text.clone() + text.lines().last().unwrap() + "\n";
    assert_eq!(SignedNote::parse(&repeated).unwrap(), note);
}

#[test]
fn unknown_signatures_are_ignored_and_known_ones_must_verify() {
    let _l = lock();
    let c = golden_checkpoint();
    let (note, keys) = signed(c, &[1]);
    let (k1, k2) = (keys[0], testkit::key(2).did());
    let mut foreign = vec![
        NoteSignature {
            name: "example.com/witness".into(),
            key_id: [1, 2, 3, 4],
            sig: [9; 64],
        },
        // k2's name under another key id, and k1's key id under another name.
        NoteSignature {
            name: signer_name(&k2),
            key_id: [0; 4],
            sig: [9; 64],
        },
        NoteSignature {
            name: "example.com/x".into(),
            key_id: note.signatures[0].key_id,
            sig: [9; 64],
        },
    ];
    foreign.push(note.signatures[0].clone());
    let mut cosig = vec![4, 3, 2, 1];
    cosig.extend_from_slice(&[5; 72]);
    let text = render_note(&c.body(), &foreign) + &line("example.com/cosigner", &cosig);
    let parsed = SignedNote::parse(&text).unwrap();
    assert_eq!(
        parsed.signatures.len(),
        4,
        "the 76-byte cosignature is not kept"
    );
    assert_eq!(parsed.verified_signers(&[k2, k1, k1]), Ok(vec![k1]));
    assert_eq!(
        parsed.verified_signers(&[k2]),
        Err(NoteError::NoKnownSignature)
    );
    for s in &foreign[..3] {
        assert_eq!(parsed.verify_signature(s), None);
    }
    assert_eq!(parsed.verify_signature(&note.signatures[0]), Some(k1));

    // A known key's bad signature spoils the note, even beside a good one.
    let (mut two, _) = signed(c, &[1, 2]);
    let bad = two
        .signatures
        .iter_mut()
        .find(|s| s.name == signer_name(&k2))
        .unwrap();
    bad.sig[10] ^= 0x40;
    let bad = bad.clone();
    let reparsed = SignedNote::parse(&two.text()).unwrap();
    assert_eq!(
        reparsed.verified_signers(&[k1, k2]),
        Err(NoteError::InvalidSignature { signer: k2 })
    );
    assert_eq!(reparsed.verify_signature(&bad), None);
    // A signature made for another checkpoint does not verify on this one.
    let moved = SignedNote::sign(
        &Checkpoint {
            slot: Timestamp(1),
            ..c
        },
        &testkit::key(1),
    );
    assert_eq!(note.verify_signature(&moved), None);
}

#[test]
fn malleable_signatures_and_weak_keys_do_not_verify() {
    let _l = lock();
    let (note, keys) = signed(golden_checkpoint(), &[1]);
    // s + l (the group order) verifies under lax checks; strict ones refuse it.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut m = note.clone();
    let sig = &mut m.signatures[0].sig;
    let mut carry = 0u16;
    for (b, l) in sig[32..].iter_mut().zip(L) {
        let v = u16::from(*b) + u16::from(l) + carry;
        *b = v as u8;
        carry = v >> 8;
    }
    assert_eq!(m.verify_signature(&m.signatures[0]), None);
    assert_eq!(
        m.verified_signers(&keys),
        Err(NoteError::InvalidSignature { signer: keys[0] })
    );

    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = DidKey::from_public_key(identity);
    let name = signer_name(&weak);
    let s = NoteSignature {
        key_id: key_id(&name, &weak),
        name,
        sig: [0; 64],
    };
    let mut n = SignedNote::new(note.checkpoint);
    assert!(n.merge(s));
    let n = SignedNote::parse(&n.text()).unwrap();
    assert_eq!(
        n.verified_signers(&[weak]),
        Err(NoteError::InvalidSignature { signer: weak })
    );
}

#[test]
fn limits_are_enforced_without_large_allocations() {
    let _l = lock();
    let c = golden_checkpoint();
    let body = c.body();
    let lines = |n: usize| -> String {
        (0..n)
            .map(|i| line(&format!("w{i}"), &[i as u8; 68]))
            .collect()
    };
    let at_limit = body.clone() + "\n" + &lines(MAX_NOTE_SIGNATURES);
    assert_eq!(
        SignedNote::parse(&at_limit).unwrap().signatures.len(),
        MAX_NOTE_SIGNATURES
    );
    let over = body.clone() + "\n" + &lines(MAX_NOTE_SIGNATURES + 1);
    assert_eq!(SignedNote::parse(&over), Err(NoteError::TooManySignatures));
    let long = body.clone() + "\n" + &line(&"n".repeat(MAX_NOTE_BYTES), &[1; 68]);
    assert_eq!(
        SignedNote::parse(&long),
        Err(NoteError::TooLarge { len: long.len() })
    );

    let huge = "a".repeat(64 << 20);
    let before = ALLOCATOR.total_allocated();
    assert!(matches!(
        SignedNote::parse(&huge),
        Err(NoteError::TooLarge { .. })
    ));
    assert_eq!(
        ALLOCATOR.total_allocated() - before,
        0,
        "refused before allocating"
    );
    let before = ALLOCATOR.total_allocated();
    assert_eq!(SignedNote::parse(&over), Err(NoteError::TooManySignatures));
    let spent = ALLOCATOR.total_allocated() - before;
    assert!(
        spent < 64 * 1024,
        "{spent} bytes allocated refusing {} bytes",
        over.len()
    );

    // A note merged up to the cap of did:key signers still fits and parses.
    let seeds: Vec<u64> = (100..100 + MAX_NOTE_SIGNATURES as u64).collect();
    let (mut full, keys) = signed(c, &seeds);
    assert!(
        !full.merge(SignedNote::sign(&c, &testkit::key(1))),
        "past the cap"
    );
    let text = full.text();
    assert!(text.len() <= MAX_NOTE_BYTES);
    let before = ALLOCATOR.total_allocated();
    let parsed = SignedNote::parse(&text).unwrap();
    let spent = ALLOCATOR.total_allocated() - before;
    assert_eq!(
        parsed.verified_signers(&keys).unwrap().len(),
        MAX_NOTE_SIGNATURES
    );
    println!(
        "{} signers: {} bytes of note, {spent} bytes allocated parsing it",
        keys.len(),
        text.len()
    );
    let long_name = NoteSignature {
        name: "n".repeat(MAX_NOTE_BYTES),
        key_id: [0; 4],
        sig: [0; 64],
    };
    assert!(
        !SignedNote::new(c).merge(long_name),
        "a line past the byte limit"
    );
    let spaced = NoteSignature {
        name: "a b".into(),
        key_id: [0; 4],
        sig: [0; 64],
    };
    assert!(!SignedNote::new(c).merge(spaced), "an invalid name");
}

/// A key plus a point of order 2 passes `verify_strict` for about half of all messages, so
/// one secret would sign under two spellings and count twice; the extra key checks refuse
/// it.
#[test]
fn keys_with_a_torsion_component_do_not_verify() {
    use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use curve25519_dalek::scalar::Scalar;
    use sha2::{Digest, Sha512};
    let _l = lock();
    let wide = |parts: &[&[u8]]| {
        let mut h = Sha512::new();
        for p in parts {
            h.update(p);
        }
        let mut w = [0u8; 64];
        w.copy_from_slice(&h.finalize());
        Scalar::from_bytes_mod_order_wide(&w)
    };
    let a = wide(&[b"secret"]);
    let mut order_two = [0xffu8; 32]; // y = -1
    order_two[0] = 0xec;
    order_two[31] = 0x7f;
    let t = CompressedEdwardsY(order_two).decompress().unwrap();
    let public = (a * B + t).compress().to_bytes();
    let (key, dalek) = (
        DidKey::from_public_key(public),
        VerifyingKey::from_bytes(&public).unwrap(),
    );
    let mut passes_strict = 0;
    for count in 0..32 {
        let c = Checkpoint {
            count,
            ..golden_checkpoint()
        };
        let body = c.body();
        let r = wide(&[b"nonce", body.as_bytes()]);
        let big_r = (r * B).compress().to_bytes();
        let k = wide(&[&big_r, &public, body.as_bytes()]);
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&big_r);
        sig[32..].copy_from_slice((r + k * a).as_bytes());
        if dalek
            .verify_strict(body.as_bytes(), &Signature::from_bytes(&sig))
            .is_ok()
        {
            passes_strict += 1;
            assert!(!verify_ed25519(body.as_bytes(), &key, &sig));
            let name = signer_name(&key);
            let mut n = SignedNote::new(c);
            assert!(n.merge(NoteSignature {
                key_id: key_id(&name, &key),
                name,
                sig
            }));
            let err = n.verified_signers(&[key]).unwrap_err();
            assert_eq!(err, NoteError::InvalidSignature { signer: key });
        }
    }
    assert!(
        passes_strict > 0,
        "no message let the torsion key through verify_strict"
    );
}
