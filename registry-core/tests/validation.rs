//! Classes of invalid entries, each with many generated (seeded) cases, offered the way a
//! node's writer offers them: `check_batch` (structure and signatures), then `admit`, then
//! a ledger append of whatever was accepted. Every case must be refused with the error of
//! its class, and nothing may be stored: the state root, the entry count and the ledger on
//! disk (height, head, entry count) stay as they were.
//!
//! Acceptance is monotone (DESIGN section 5): it never depends on revocations, on clocks
//! or on when a root was removed. Entries by an issuer that may not accredit, by a revoked
//! authority, or by a removed root are therefore stored when their signatures and
//! references are right; what makes them harmless is evaluation, which never trusts them.
//! The last test checks that.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::IsIdentity;
use registry_core::did::DidKey;
use registry_core::entry::{EntryError, Governance, Signature};
use registry_core::eval::Reason;
use registry_core::genesis::Genesis;
use registry_core::registry::{check_batch, Outcome, Registry, Rejection};
use registry_core::rng::SplitMix64;
use registry_core::store::Ledger;
use registry_core::testkit::{ask, entity, key, reason, Fixture};
use registry_core::verify::{SignatureError, Verifier};
use registry_core::{EntityId, Hash, SecretKey, SignedEntry, Timestamp};
use sha2::{Digest, Sha512};
use std::io::Write as _;

/// The group order l, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

const CONTROLLER_SEED: u64 = 7;

/// A registry with three roots (threshold 2), an accepted authority controlled by
/// `key(7)` that may accredit anything, and its ledger on disk.
struct Node {
    fx: Fixture,
    reg: Registry,
    ledger: Ledger,
    verifier: Verifier,
    authority: SignedEntry,
    _dir: tempfile::TempDir,
}

#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    root: Hash,
    entries: usize,
    height: u64,
    head: Hash,
    ledger_entries: u64,
}

impl Node {
    fn new() -> Node {
        Node::with(Fixture::new(3, 2, 4))
    }

    fn with(fx: Fixture) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::create(dir.path(), &fx.genesis).unwrap();
        let authority = fx
            .accredit(&entity(0))
            .grant("accredit", "*")
            .controller(key(CONTROLLER_SEED).did())
            .by_roots(&fx.root_keys(2));
        let mut node = Node {
            reg: Registry::new(fx.genesis.clone(), 10_000),
            fx,
            ledger,
            verifier: Verifier::new(),
            authority: authority.clone(),
            _dir: dir,
        };
        // A registry whose root secrets are not all known here starts empty.
        if node.fx.roots.len() >= usize::from(node.fx.genesis.threshold) {
            assert_eq!(node.offer(vec![authority]), vec![Outcome::Accepted]);
        }
        node
    }

    /// Offers entries as the node's writer does and appends what was accepted.
    fn offer(&mut self, entries: Vec<SignedEntry>) -> Vec<Outcome> {
        let id = self.fx.registry_id;
        let checked = check_batch(&id, &mut self.verifier, entries);
        let report = self.reg.admit(checked);
        let accepted: Vec<SignedEntry> = report.accepted.iter().map(|e| (**e).clone()).collect();
        if !accepted.is_empty() {
            let root = self.reg.state_root();
            self.ledger
                .append(&accepted, Timestamp(1_800_000_000), root)
                .unwrap();
        }
        report.outcomes.into_iter().map(|(_, o)| o).collect()
    }

    fn snapshot(&mut self) -> Snapshot {
        Snapshot {
            root: self.reg.state_root(),
            entries: self.reg.state().len(),
            height: self.ledger.height(),
            head: self.ledger.head_hash(),
            ledger_entries: self.ledger.entry_count(),
        }
    }

    /// A fresh, valid issuer accreditation by the authority (not yet offered).
    fn issuer(&self, n: u64) -> SignedEntry {
        self.fx
            .accredit(&entity(1000 + n))
            .grant("issue", "Degree")
            .controller(key(500 + n % 50).did())
            .nonce(n)
            .by_holder(self.authority.id(), &[&key(CONTROLLER_SEED)])
    }
}

/// One class: offers each case on its own and checks the outcome.
struct Class {
    name: &'static str,
    cases: usize,
    rejected: usize,
}

impl Class {
    fn new(name: &'static str) -> Class {
        Class {
            name,
            cases: 0,
            rejected: 0,
        }
    }

    fn offer(&mut self, node: &mut Node, entry: SignedEntry, expected: impl Fn(&Outcome) -> bool) {
        self.cases += 1;
        let before = node.snapshot();
        let outcomes = node.offer(vec![entry]);
        assert!(
            outcomes.len() == 1 && expected(&outcomes[0]),
            "{}: case {} gave {outcomes:?}",
            self.name,
            self.cases
        );
        if matches!(outcomes[0], Outcome::Rejected(_)) {
            self.rejected += 1;
        }
        assert_eq!(
            node.snapshot(),
            before,
            "{}: something was stored",
            self.name
        );
    }

    fn finish(&self, node: &mut Node, not_accepted_as: &str) {
        let stored = node.snapshot().entries - 1;
        let line = format!(
            "validation/{}: {} cases, {} {not_accepted_as}, stored={stored}, forwarded: see p2p tests/network.rs",
            self.name, self.cases, self.rejected
        );
        let _ = writeln!(std::io::stderr(), "{line}");
        assert!(self.cases >= 32);
        assert_eq!(stored, 0);
        node.ledger.verify().unwrap();
    }
}

fn signature_error(o: &Outcome) -> Option<&SignatureError> {
    match o {
        Outcome::Rejected(Rejection::Signature(e)) => Some(e),
        _ => None,
    }
}

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
fn small_order_points() -> Vec<[u8; 32]> {
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
fn identity_forgery(s: Scalar) -> [u8; 64] {
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice((s * ED25519_BASEPOINT_POINT).compress().as_bytes());
    sig[32..].copy_from_slice(s.as_bytes());
    sig
}

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

/// Adds two 32-byte little-endian numbers (no overflow for the values used here).
fn add_le(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    out
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

#[test]
fn entries_for_another_registry_are_rejected() {
    let mut node = Node::new();
    let mut rng = SplitMix64::new(0x0e61);
    let mut class = Class::new("wrong registry");
    for n in 0..64u64 {
        let mut other = [0u8; 32];
        for b in other.iter_mut() {
            *b = rng.next_u64() as u8;
        }
        let mut body = node.issuer(n).body;
        body.registry = Hash(other);
        // Correctly signed for the other registry.
        let e = body.sign(&[&key(CONTROLLER_SEED)]);
        class.offer(&mut node, e, |o| {
            matches!(
                o,
                Outcome::Rejected(Rejection::Structure(EntryError::WrongRegistry { .. }))
            )
        });
    }
    // Another registry's genuine genesis, signed by its own roots.
    let other = Fixture::new(2, 1, 3);
    for n in 0..16u64 {
        let e = other
            .accredit(&entity(n))
            .grant("issue", "Degree")
            .nonce(n)
            .controller(key(1).did())
            .by_roots(&other.root_keys(1));
        class.offer(&mut node, e, |o| {
            matches!(
                o,
                Outcome::Rejected(Rejection::Structure(EntryError::WrongRegistry { .. }))
            )
        });
    }
    class.finish(&mut node, "rejected (wrong_registry)");
}

#[test]
fn authors_without_authority_are_refused() {
    let mut node = Node::new();
    let mut class = Class::new("unauthorized author");
    let auth = node.authority.id();
    for n in 0..48u64 {
        // A key that controls nothing, writing as the authority.
        let e = node
            .fx
            .accredit(&entity(7000 + n))
            .grant("issue", "Degree")
            .controller(key(9).did())
            .nonce(n)
            .by_holder(auth, &[&key(4000 + n)]);
        class.offer(&mut node, e, |o| {
            o == &Outcome::Rejected(Rejection::NotAController(auth))
        });
        // Governance written by a holder.
        let e = node
            .fx
            .governance(Governance::AddRoot(key(4000 + n).did()))
            .nonce(n)
            .by_holder(auth, &[&key(CONTROLLER_SEED)]);
        class.offer(&mut node, e, |o| {
            o == &Outcome::Rejected(Rejection::Structure(EntryError::GovernanceByHolder))
        });
    }
    // Root-authored entries signed by keys that are not roots, or by too few roots: they
    // wait for governance that would make the signers roots, and are never stored.
    let mut waiting = 0;
    for n in 0..48u64 {
        let signers: Vec<SecretKey> = if n % 2 == 0 {
            vec![key(4000 + n), key(4100 + n)]
        } else {
            vec![key(1), key(4100 + n)]
        };
        let refs: Vec<&SecretKey> = signers.iter().collect();
        let e = node
            .fx
            .accredit(&entity(8000 + n))
            .grant("accredit", "*")
            .controller(key(9).did())
            .nonce(n)
            .by_roots(&refs);
        class.offer(
            &mut node,
            e,
            |o| matches!(o, Outcome::Pending { missing } if missing.is_empty()),
        );
        waiting += 1;
    }
    class.finish(
        &mut node,
        &format!("rejected (unauthorized/malformed), {waiting} held pending (not roots)"),
    );
}

/// The secret scalar and nonce prefix of an RFC 8032 key.
fn expand(seed: [u8; 32]) -> (Scalar, [u8; 32]) {
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
fn sign_as(a: Scalar, prefix: &[u8; 32], public: &[u8; 32], msg: &[u8]) -> ([u8; 64], Scalar) {
    let r = wide_hash(&[prefix, msg]);
    let big_r = (r * ED25519_BASEPOINT_POINT).compress();
    let k = wide_hash(&[big_r.as_bytes(), public, msg]);
    let s = r + k * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(big_r.as_bytes());
    sig[32..].copy_from_slice(s.as_bytes());
    (sig, k)
}

fn order_eight_point() -> EdwardsPoint {
    for h in ORDER_2_AND_8 {
        if let Some(p) = CompressedEdwardsY(from_hex(h)).decompress() {
            if p.is_small_order() && !(p + p + p + p).is_identity() {
                return p;
            }
        }
    }
    panic!("no point of order 8 found")
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

#[test]
fn entries_without_authority_that_acceptance_keeps_are_never_trusted() {
    let mut node = Node::new();
    let fx = node.fx.clone();
    let auth = node.authority.clone();
    // An issuer (may issue, may not accredit), a revoked authority, a removed root.
    let iss = fx
        .accredit(&entity(1))
        .grant("issue", "Degree")
        .controller(key(20).did())
        .by_holder(auth.id(), &[&key(CONTROLLER_SEED)]);
    let revoked = fx
        .accredit(&entity(2))
        .grant("accredit", "*")
        .controller(key(21).did())
        .by_roots(&fx.root_keys(2));
    let revocation = fx.revoke(revoked.id(), 100).by_roots(&fx.root_keys(2));
    let removal = fx
        .governance(Governance::RemoveRoot(fx.roots[2].did()))
        .issued_at(100)
        .by_roots(&fx.root_keys(2));
    let setup = vec![iss.clone(), revoked.clone(), revocation, removal];
    assert!(node.offer(setup).iter().all(|o| o == &Outcome::Accepted));
    let mut cases = 0;
    let mut untrusted = 0;
    for n in 0..32u64 {
        let by_issuer = fx
            .accredit(&entity(300 + n))
            .grant("issue", "Degree")
            .controller(key(9).did())
            .issued_at(200)
            .nonce(n)
            .by_holder(iss.id(), &[&key(20)]);
        let by_revoked = fx
            .accredit(&entity(400 + n))
            .grant("issue", "Degree")
            .controller(key(9).did())
            .issued_at(200)
            .nonce(n)
            .by_holder(revoked.id(), &[&key(21)]);
        let by_removed = fx
            .accredit(&entity(500 + n))
            .grant("issue", "Degree")
            .controller(key(9).did())
            .issued_at(200)
            .nonce(n)
            .by_roots(&[&fx.roots[0], &fx.roots[2]]);
        for (e, subject, want) in [
            (by_issuer, entity(300 + n), Reason::NotEntitled),
            (by_revoked, entity(400 + n), Reason::IssuerRevoked),
            (by_removed, entity(500 + n), Reason::NotEntitled),
        ] {
            cases += 1;
            assert_eq!(node.offer(vec![e]), vec![Outcome::Accepted]);
            let d = ask(&node.reg, &subject, "issue", "Degree", 300);
            assert_eq!(reason(&d), Some(want), "{d:?}");
            untrusted += 1;
        }
    }
    let line = format!(
        "validation/kept-but-untrusted (issuer accrediting, revoked authority, removed root): {cases} cases, stored={cases} (acceptance is monotone, DESIGN 5), trusted=0, denied={untrusted}"
    );
    let _ = writeln!(std::io::stderr(), "{line}");
    assert_eq!(untrusted, cases);
}
