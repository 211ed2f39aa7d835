//! Weak and non-canonical keys, and one signer counted twice toward a threshold.

use super::curve::{expand, identity_forgery, order_eight_point, sign_as, small_order_points};
use super::*;

#[test]
fn weak_and_non_canonical_keys_are_rejected() {
    let mut rng = SplitMix64::new(0x3ea4);
    let weak = small_order_points();
    assert!(weak.len() >= 8, "{} small-order encodings", weak.len());
    // Weak keys as controllers of an accepted authority, so that only the key check
    // stands between a forgery and acceptance.
    let fx = Fixture::new(3, 2, 4);
    let mut node = Node::with(fx.clone());
    let mut owned = fx.accredit(&entity(1));
    owned = owned.grant("accredit", "*");
    for w in weak.iter().take(16) {
        owned = owned.controller(DidKey::from_public_key(*w));
    }
    let owned = owned.by_roots(&fx.root_keys(2));
    assert_eq!(node.offer(vec![owned.clone()]), vec![Outcome::Accepted]);
    let base = node.snapshot();
    let mut class = Class::new("weak key");
    for n in 0..96u64 {
        let w = weak[(n as usize) % weak.len()];
        let signer = DidKey::from_public_key(w);
        let mut wide = [0u8; 64];
        for b in wide.iter_mut() {
            *b = rng.next_u64() as u8;
        }
        let sig = if n % 2 == 0 {
            identity_forgery(Scalar::from_bytes_mod_order_wide(&wide))
        } else {
            wide
        };
        let mut e = fx
            .accredit(&entity(5000 + n))
            .grant("issue", "Degree")
            .controller(key(9).did())
            .nonce(n)
            .by_holder(owned.id(), &[]);
        e.signatures = vec![Signature { signer, sig }];
        class.offer(&mut node, e, |o| {
            matches!(
                signature_error(o),
                Some(SignatureError::WeakKey(_) | SignatureError::InvalidKey(_))
            )
        });
    }
    // The all-zero key (a point of order 4) and the identity, named explicitly.
    for bytes in [[0u8; 32], {
        let mut b = [0u8; 32];
        b[0] = 1;
        b
    }] {
        let signer = DidKey::from_public_key(bytes);
        let mut e = node.issuer(9000);
        e.signatures = vec![Signature {
            signer,
            sig: identity_forgery(Scalar::from(7u64)),
        }];
        class.offer(&mut node, e, |o| {
            signature_error(o) == Some(&SignatureError::WeakKey(signer))
        });
    }
    assert_eq!(node.snapshot(), base);
    let stored = node.snapshot().entries - 2;
    let _ = writeln!(std::io::stderr(),
        "validation/{}: {} cases, {} rejected (bad_signature: weak or invalid key), stored={stored}",
        class.name, class.cases, class.rejected
    );
    assert_eq!(class.rejected, class.cases);
}

#[test]
fn one_signer_never_counts_twice_toward_a_threshold() {
    let mut class = Class::new("duplicate signer");
    // The same key twice.
    let mut node = Node::new();
    for n in 0..32u64 {
        let r = &node.fx.roots[(n % 3) as usize];
        let e = node
            .fx
            .accredit(&entity(100 + n))
            .grant("accredit", "*")
            .controller(key(9).did())
            .nonce(n)
            .by_roots(&[r, r]);
        let signer = r.did();
        class.offer(&mut node, e, |o| {
            o == &Outcome::Rejected(Rejection::Structure(EntryError::DuplicateSigner(signer)))
        });
    }
    // The same key under two did:key spellings: the parser accepts only the canonical
    // one, so a second spelling never names a key.
    let canonical = key(1).did().to_string();
    let b58 = &canonical["did:key:z".len()..];
    for other in [
        format!("did:key:z1{b58}"),
        format!("did:key:Z{b58}"),
        format!("did:key:z{b58} "),
        format!("DID:key:z{b58}"),
        format!("did:key:f{}", hex_of(&key(1).did())),
    ] {
        assert!(DidKey::parse(&other).is_err(), "{other}");
    }
    // The same secret under a second 32-byte spelling: the key plus a point of order 8.
    // One signature in eight by the secret verifies under it (cofactorless check). A
    // genesis that lists both spellings as roots with threshold 2 would let one secret
    // act alone; the key check refuses the second spelling.
    let seed = [0x42u8; 32];
    let secret = SecretKey::from_seed(seed);
    let (a, prefix) = expand(seed);
    assert_eq!(
        (a * ED25519_BASEPOINT_POINT).compress().0,
        *secret.did().public_key()
    );
    let t = order_eight_point();
    let shifted = (a * ED25519_BASEPOINT_POINT + t).compress().0;
    let twin = DidKey::from_public_key(shifted);
    let genesis = Genesis::new(
        EntityId::parse("did:web:registry.example").unwrap(),
        "Two spellings".into(),
        Timestamp(0),
        vec![secret.did(), twin],
        2,
        4,
    )
    .unwrap();
    let fx = Fixture {
        registry_id: genesis.registry_id(),
        genesis,
        roots: vec![secret.clone()],
    };
    let mut twins = Node::with(fx);
    let mut n = 0u64;
    let mut made = 0;
    while made < 32 {
        n += 1;
        let draft = twins
            .fx
            .accredit(&entity(200 + n))
            .grant("accredit", "*")
            .controller(key(9).did())
            .nonce(n);
        let mut e = draft.by_roots(&[&secret]);
        let id = e.id();
        let (sig, k) = sign_as(a, &prefix, &shifted, id.as_bytes());
        if !(k * t).is_identity() {
            continue;
        }
        // The second signature really verifies under the shifted key, cofactorless.
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&shifted).unwrap();
        assert!(vk
            .verify_strict(id.as_bytes(), &ed25519_dalek::Signature::from_bytes(&sig))
            .is_ok());
        e.signatures.push(Signature { signer: twin, sig });
        class.offer(&mut twins, e, |o| {
            signature_error(o) == Some(&SignatureError::NonCanonicalKey(twin))
        });
        made += 1;
    }
    let stored = node.snapshot().entries - 1 + twins.snapshot().entries;
    let line = format!(
        "validation/{}: {} cases ({} same key twice, {made} one secret under two key spellings; 5 other did:key spellings refused by the parser), {} rejected, stored={stored}",
        class.name,
        class.cases,
        class.cases - made,
        class.rejected
    );
    let _ = writeln!(std::io::stderr(), "{line}");
    assert_eq!(class.rejected, class.cases);
    assert_eq!(stored, 0);
}

fn hex_of(k: &DidKey) -> String {
    k.public_key().iter().map(|b| format!("{b:02x}")).collect()
}
