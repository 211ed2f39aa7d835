//! Bad, misattributed and malleated signatures.

use super::curve::{add_le, small_order_points, L};
use super::*;

#[test]
fn bad_signatures_are_rejected() {
    let mut node = Node::new();
    let mut rng = SplitMix64::new(0xbad5);
    let mut class = Class::new("bad signature");
    for n in 0..160u64 {
        let mut e = node.issuer(n);
        match n % 4 {
            // Random bytes.
            0 => {
                for b in e.signatures[0].sig.iter_mut() {
                    *b = rng.next_u64() as u8;
                }
            }
            // One bit of R.
            1 => {
                let bit = rng.below(256);
                e.signatures[0].sig[bit / 8] ^= 1 << (bit % 8);
            }
            // One bit of S.
            2 => {
                let bit = 256 + rng.below(256);
                e.signatures[0].sig[bit / 8] ^= 1 << (bit % 8);
            }
            // One bit of the signed body (its id changes under the signature).
            _ => {
                let bit = rng.below(64);
                e.body.nonce ^= 1 << bit;
            }
        }
        class.offer(&mut node, e, |o| {
            matches!(
                signature_error(o),
                Some(SignatureError::Invalid(_) | SignatureError::NonCanonical(_))
            )
        });
    }
    class.finish(&mut node, "rejected (bad_signature)");
}

#[test]
fn signatures_by_another_key_are_rejected() {
    let mut node = Node::new();
    let mut class = Class::new("wrong signer");
    let controller = key(CONTROLLER_SEED).did();
    for n in 0..64u64 {
        // Signed by some key, presented as the controller's signature.
        let mut e = node.issuer(n);
        let id = e.id();
        e.signatures[0].sig = key(2000 + n).sign(id.as_bytes());
        e.signatures[0].signer = controller;
        class.offer(&mut node, e, |o| {
            signature_error(o) == Some(&SignatureError::Invalid(controller))
        });
        // Signed by the controller, presented as another key's signature.
        let mut e = node.issuer(1000 + n);
        let other = key(3000 + n).did();
        e.signatures[0].signer = other;
        class.offer(&mut node, e, |o| {
            signature_error(o) == Some(&SignatureError::Invalid(other))
        });
    }
    class.finish(&mut node, "rejected (bad_signature)");
}

#[test]
fn malleated_signatures_are_rejected() {
    let mut node = Node::new();
    let mut rng = SplitMix64::new(0x3a11);
    let mut class = Class::new("malleated signature");
    let controller = key(CONTROLLER_SEED).did();
    for n in 0..128u64 {
        let mut e = node.issuer(n);
        let sig = &mut e.signatures[0].sig;
        let mut s = [0u8; 32];
        s.copy_from_slice(&sig[32..]);
        match n % 4 {
            // S + L, S + 2L, ...: the same value mod L, a second valid-looking signature.
            0 | 1 => {
                let times = 1 + rng.below(14);
                for _ in 0..times {
                    s = add_le(&s, &L);
                }
                sig[32..].copy_from_slice(&s);
            }
            // S with its top bits set (non-canonical, beyond 2^253).
            2 => {
                sig[63] |= 0xe0;
            }
            // R replaced by a non-canonical encoding (y + p) or a small-order point.
            _ => {
                let weak = small_order_points();
                let r = weak[rng.below(weak.len())];
                sig[..32].copy_from_slice(&r);
            }
        }
        class.offer(&mut node, e, |o| {
            signature_error(o) == Some(&SignatureError::NonCanonical(controller))
        });
    }
    class.finish(&mut node, "rejected (bad_signature: non-canonical)");
}
