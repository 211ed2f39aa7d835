//! Tampered, incomplete, under-signed and stale bundles: each refused, naming the check.

use registry_core::entry::Kind;
use registry_core::eval::{Decision, Reason};
use registry_core::proof::{prove, verify, Bundle, ProvenQuery, VerifyError, VerifyOptions};
use registry_core::registry::Registry;
use registry_core::testkit::{entity, key, signed_checkpoint, witness_keys, Fixture};
use registry_core::{EntryId, SecretKey, SignedEntry, Timestamp};

use super::options;

const SLOT: u64 = 1_000;

/// A three-level chain (root → authority → university → department), a revocation of the
/// department's sibling, and a witness set of four with quorum three.
struct Chain {
    fx: Fixture,
    witnesses: Vec<SecretKey>,
    entries: Vec<SignedEntry>,
    /// The accreditation of `entity(3)` that the revocation targets.
    revoked: EntryId,
}

fn chain() -> Chain {
    let fx = Fixture::new(3, 2, 4);
    let witnesses = witness_keys(4);
    let top = fx
        .accredit(&entity(1))
        .grant("accredit", "*")
        .controller(key(11).did())
        .issued_at(10)
        .by_roots(&fx.root_keys(2));
    let mid = fx
        .accredit(&entity(2))
        .grant("accredit", "Degree")
        .controller(key(12).did())
        .issued_at(20)
        .by_holder(top.id(), &[&key(11)]);
    let leaf = fx
        .accredit(&entity(3))
        .grant("issue", "Degree")
        .controller(key(13).did())
        .issued_at(30)
        .by_holder(mid.id(), &[&key(12)]);
    let other = fx
        .accredit(&entity(4))
        .grant("issue", "Degree")
        .controller(key(14).did())
        .issued_at(31)
        .by_holder(mid.id(), &[&key(12)]);
    let revocation = fx
        .revoke(other.id(), 40)
        .issued_at(40)
        .by_holder(mid.id(), &[&key(12)]);
    let revoked = other.id();
    let entries = vec![
        fx.set_witnesses(&witnesses, 3, 0),
        top,
        mid,
        leaf,
        other,
        revocation,
    ];
    Chain {
        fx,
        witnesses,
        entries,
        revoked,
    }
}

impl Chain {
    fn registry(&self, extra: &[SignedEntry]) -> Registry {
        let mut reg = Registry::new(self.fx.genesis.clone(), 1000);
        reg.ingest(self.entries.iter().chain(extra).cloned().collect());
        reg.advance_checkpoint(Timestamp(SLOT - 5));
        reg
    }

    fn bundle(&self, reg: &Registry, who: u64, signers: &[&SecretKey]) -> (Bundle, Decision) {
        let state = reg.checkpoint().state();
        let note = signed_checkpoint(state, SLOT, signers);
        prove(state, &note, &query(who))
    }

    fn quorum(&self) -> Vec<&SecretKey> {
        self.witnesses.iter().take(3).collect()
    }
}

fn query(who: u64) -> ProvenQuery {
    ProvenQuery {
        entity: entity(who).as_str().to_string(),
        action: "issue".into(),
        resource: "Degree".into(),
        kind: Kind::Authorization,
        at: Timestamp(500),
    }
}

fn refused(bundle: &Bundle, options: &VerifyOptions) -> VerifyError {
    match verify(bundle, options) {
        Ok(v) => panic!("verified: {:?}", v.decision),
        Err(e) => e,
    }
}

#[test]
fn the_chain_and_the_revocation_verify() {
    let c = chain();
    let reg = c.registry(&[]);
    let (bundle, decision) = c.bundle(&reg, 3, &c.quorum());
    assert!(matches!(&decision, Decision::Authorized { chain } if chain.len() == 3));
    let v = verify(&bundle, &options(&c.fx, SLOT + 10)).unwrap();
    assert_eq!(v.decision, decision);
    assert_eq!(v.signers.len(), 3);
    assert_eq!(v.age, 10);
    let (bundle, decision) = c.bundle(&reg, 4, &c.quorum());
    assert!(matches!(
        decision,
        Decision::Denied { reason: Reason::Revoked, accreditation: Some(id) } if id == c.revoked
    ));
    assert_eq!(
        verify(&bundle, &options(&c.fx, SLOT)).unwrap().decision,
        decision
    );
}

#[test]
fn every_byte_flipped_is_refused_or_answers_another_question() {
    let c = chain();
    let reg = c.registry(&[]);
    let opts = options(&c.fx, SLOT);
    for who in [3, 4] {
        let (bundle, _) = c.bundle(&reg, who, &c.quorum());
        let bytes = bundle.encode();
        for i in 0..bytes.len() {
            for bit in [0x01u8, 0x80] {
                let mut flipped = bytes.clone();
                flipped[i] ^= bit;
                let Ok(b) = Bundle::decode(&flipped) else {
                    continue;
                };
                if let Ok(v) = verify(&b, &opts) {
                    // Nothing signs the question, so a flip inside it may ask another
                    // one, which the bundle then proves; it can never change the answer
                    // to the question asked.
                    assert_ne!(
                        b.query, bundle.query,
                        "byte {i} ^ {bit:#x} verified to {:?}",
                        v.decision
                    );
                }
            }
        }
    }
}

#[test]
fn a_dropped_entry_is_refused() {
    let c = chain();
    let reg = c.registry(&[]);
    let (bundle, _) = c.bundle(&reg, 3, &c.quorum());
    for i in 0..bundle.entries.len() {
        let mut b = bundle.clone();
        b.entries.remove(i);
        let e = refused(&b, &options(&c.fx, SLOT));
        assert!(matches!(e.check(), "index_proof" | "slice"), "{e}");
    }
}

#[test]
fn a_removed_revocation_is_refused() {
    let c = chain();
    let reg = c.registry(&[]);
    let (bundle, _) = c.bundle(&reg, 4, &c.quorum());
    let mut b = bundle.clone();
    let key = b
        .keys
        .iter_mut()
        .find(|k| k.key.name().starts_with("revocations/") && !k.ids.is_empty())
        .expect("the revocation's key is proven");
    let rid = key.ids.remove(0);
    b.entries.retain(|e| e.id() != rid);
    let e = refused(&b, &options(&c.fx, SLOT));
    assert_eq!(e.check(), "index_proof", "{e}");
}

#[test]
fn fewer_than_quorum_signatures_are_refused() {
    let c = chain();
    let reg = c.registry(&[]);
    let two: Vec<_> = c.witnesses.iter().take(2).collect();
    let (bundle, _) = c.bundle(&reg, 3, &two);
    let e = refused(&bundle, &options(&c.fx, SLOT));
    assert!(matches!(e, VerifyError::Quorum { have: 2, need: 3 }), "{e}");
    assert_eq!(e.check(), "quorum");
}

#[test]
fn signatures_of_non_witnesses_do_not_count() {
    let c = chain();
    let reg = c.registry(&[]);
    let strangers: Vec<SecretKey> = (0..4).map(|i| key(7000 + i)).collect();
    let mut signers: Vec<&SecretKey> = strangers.iter().collect();
    signers.push(&c.witnesses[0]);
    let (bundle, _) = c.bundle(&reg, 3, &signers);
    let e = refused(&bundle, &options(&c.fx, SLOT));
    assert!(matches!(e, VerifyError::Quorum { have: 1, .. }), "{e}");
}

#[test]
fn a_witness_removed_by_a_later_set_no_longer_counts() {
    let c = chain();
    // At 100, witnesses 2 and 3 are replaced by a fifth key; quorum stays three.
    let newer = vec![c.witnesses[0].clone(), c.witnesses[1].clone(), key(5100)];
    let later = c.fx.set_witnesses(&newer, 3, 100);
    let reg = c.registry(&[later]);
    let all: Vec<&SecretKey> = c.witnesses.iter().collect();
    let (bundle, _) = c.bundle(&reg, 3, &all);
    let e = refused(&bundle, &options(&c.fx, SLOT));
    assert!(matches!(e, VerifyError::Quorum { have: 2, need: 3 }), "{e}");
    // The new set signs it fine.
    let (bundle, _) = c.bundle(&reg, 3, &newer.iter().collect::<Vec<_>>());
    assert!(verify(&bundle, &options(&c.fx, SLOT)).is_ok());
}

#[test]
fn a_stale_checkpoint_is_refused_when_asked() {
    let c = chain();
    let reg = c.registry(&[]);
    let (bundle, _) = c.bundle(&reg, 3, &c.quorum());
    let mut opts = options(&c.fx, SLOT + 61);
    opts.max_age = Some(60);
    let e = refused(&bundle, &opts);
    assert!(
        matches!(
            e,
            VerifyError::Stale {
                age: 61,
                max_age: 60
            }
        ),
        "{e}"
    );
    assert_eq!(e.check(), "stale");
    opts.max_age = Some(61);
    assert!(verify(&bundle, &opts).is_ok());
}

#[test]
fn another_registry_is_refused() {
    let c = chain();
    let reg = c.registry(&[]);
    let (bundle, _) = c.bundle(&reg, 3, &c.quorum());
    let mut opts = options(&c.fx, SLOT);
    opts.registry = Fixture::new(2, 1, 3).registry_id;
    let e = refused(&bundle, &opts);
    assert_eq!(e.check(), "registry", "{e}");
}

#[test]
fn the_verifiers_own_witness_list_replaces_the_proven_one() {
    let c = chain();
    let reg = c.registry(&[]);
    let (bundle, _) = c.bundle(&reg, 3, &c.quorum());
    let mut opts = options(&c.fx, SLOT);
    opts.witnesses = Some(registry_core::WitnessSet {
        keys: vec![key(9000).did(), c.witnesses[0].did()],
        quorum: 2,
    });
    let e = refused(&bundle, &opts);
    assert!(matches!(e, VerifyError::Quorum { have: 1, need: 2 }), "{e}");
}
