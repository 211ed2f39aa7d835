//! Ed25519 arithmetic for building hostile keys and signatures: the group order, the
//! small-order points, forgeries for the identity key, and signing under a second
//! spelling of a key.

use super::*;

/// The group order l, little-endian.
pub(crate) const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Encodings of the points of order 2 and 8 (y = -1, and the four points of order 8).
const ORDER_2_AND_8: [&str; 5] = [
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
];

fn from_hex(s: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// Every encoding of a small-order point that is found by the searches below: the eight
/// torsion points, their sign-flipped spellings, and y + p spellings.
pub(crate) fn small_order_points() -> Vec<[u8; 32]> {
    let mut out: Vec<[u8; 32]> = ORDER_2_AND_8.iter().map(|h| from_hex(h)).collect();
    for b in &out {
        let p = CompressedEdwardsY(*b).decompress();
        assert!(p.is_some_and(|p| p.is_small_order()), "{b:x?}");
    }
    for y in 0u8..=255 {
        for high in [0u8, 0x80] {
            let mut b = [0u8; 32];
            b[0] = y;
            b[31] = high;
            if let Some(p) = CompressedEdwardsY(b).decompress() {
                if p.is_small_order() {
                    out.push(b);
                }
            }
        }
    }
    // The same points spelled with y + p (non-canonical y).
    let p_bytes = {
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        p
    };
    for extra in 0u8..19 {
        let mut b = p_bytes;
        b[0] = b[0].wrapping_add(extra);
        if let Some(pt) = CompressedEdwardsY(b).decompress() {
            if pt.is_small_order() {
                out.push(b);
            }
        }
    }
    out
}

/// A signature that verifies under cofactorless verification for any message when the
/// key is the identity: R = s·B.
pub(crate) fn identity_forgery(s: Scalar) -> [u8; 64] {
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice((s * ED25519_BASEPOINT_POINT).compress().as_bytes());
    sig[32..].copy_from_slice(s.as_bytes());
    sig
}

/// Adds two 32-byte little-endian numbers (no overflow for the values used here).
pub(crate) fn add_le(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    out
}

/// The secret scalar and nonce prefix of an RFC 8032 key.
pub(crate) fn expand(seed: [u8; 32]) -> (Scalar, [u8; 32]) {
    let h = Sha512::digest(seed);
    let mut a = [0u8; 32];
    a.copy_from_slice(&h[..32]);
    a[0] &= 248;
    a[31] &= 127;
    a[31] |= 64;
    let mut prefix = [0u8; 32];
    prefix.copy_from_slice(&h[32..]);
    (Scalar::from_bytes_mod_order(a), prefix)
}

fn wide_hash(parts: &[&[u8]]) -> Scalar {
    let mut h = Sha512::new();
    for p in parts {
        h.update(p);
    }
    let out = h.finalize();
    let mut w = [0u8; 64];
    w.copy_from_slice(&out);
    Scalar::from_bytes_mod_order_wide(&w)
}

/// An ed25519 signature by secret `a` that names `public` (any spelling) in its hash.
pub(crate) fn sign_as(
    a: Scalar,
    prefix: &[u8; 32],
    public: &[u8; 32],
    msg: &[u8],
) -> ([u8; 64], Scalar) {
    let r = wide_hash(&[prefix, msg]);
    let big_r = (r * ED25519_BASEPOINT_POINT).compress();
    let k = wide_hash(&[big_r.as_bytes(), public, msg]);
    let s = r + k * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(big_r.as_bytes());
    sig[32..].copy_from_slice(s.as_bytes());
    (sig, k)
}

pub(crate) fn order_eight_point() -> EdwardsPoint {
    for h in ORDER_2_AND_8 {
        if let Some(p) = CompressedEdwardsY(from_hex(h)).decompress() {
            if p.is_small_order() && !(p + p + p + p).is_identity() {
                return p;
            }
        }
    }
    panic!("no point of order 8 found")
}
