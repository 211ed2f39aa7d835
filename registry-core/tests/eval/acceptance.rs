//! Acceptance: thresholds, rejections, late references and the bounded pending pool.

use super::*;

#[test]
fn threshold_two_one_root_cannot_act_and_duplicates_count_once() {
    let fx = Fixture::new(3, 2, 4);
    let mut reg = registry(&fx);
    let r1 = &fx.roots[0];
    let one = fx
        .accredit(&entity(1))
        .grant("issue", DEGREE)
        .controller(key(9).did())
        .by_roots(&[r1]);
    assert_eq!(
        offer(&mut reg, &[&one]),
        vec![Outcome::Pending { missing: vec![] }]
    );
    assert_eq!(
        reason(&ask(&reg, &entity(1), "issue", DEGREE, 5)),
        Some(Reason::NoAccreditation)
    );
    // The same signer twice is refused outright.
    let twice = fx
        .accredit(&entity(2))
        .grant("issue", DEGREE)
        .controller(key(9).did())
        .by_roots(&[r1, r1]);
    let dup = r1.did();
    assert_eq!(
        offer(&mut reg, &[&twice]),
        vec![Outcome::Rejected(Rejection::Structure(
            EntryError::DuplicateSigner(dup)
        ))]
    );
    let two = fx
        .accredit(&entity(3))
        .grant("issue", DEGREE)
        .controller(key(9).did())
        .by_roots(&fx.root_keys(2));
    accepted(&mut reg, &[&two]);
    assert!(ask(&reg, &entity(3), "issue", DEGREE, 5).is_authorized());
}

#[test]
fn a_fully_signed_copy_replaces_a_partly_signed_pending_one() {
    let fx = Fixture::new(3, 2, 4);
    let mut reg = registry(&fx);
    let draft = fx
        .accredit(&entity(1))
        .grant("issue", DEGREE)
        .controller(key(9).did());
    let partly = draft.clone().by_roots(&fx.root_keys(1));
    let fully = draft.by_roots(&fx.root_keys(2));
    assert_eq!(partly.id(), fully.id());
    assert_eq!(
        offer(&mut reg, &[&partly]),
        vec![Outcome::Pending { missing: vec![] }]
    );
    // A copy with no more signatures leaves the waiting one in place.
    assert_eq!(
        offer(&mut reg, &[&partly]),
        vec![Outcome::Pending { missing: vec![] }]
    );
    assert_eq!(offer(&mut reg, &[&fully]), vec![Outcome::Accepted]);
    assert_eq!(reg.pending_len(), 0);
    assert!(ask(&reg, &entity(1), "issue", DEGREE, 5).is_authorized());
}

#[test]
fn acceptance_rejections() {
    let c = chain();
    let mut reg = registry(&c.fx);
    accepted(&mut reg, &[&c.a]);
    // Wrong registry.
    let other = Fixture::new(2, 1, 4);
    let foreign = other
        .accredit(&entity(1))
        .grant("issue", DEGREE)
        .controller(key(1).did())
        .by_roots(&other.root_keys(1));
    assert!(matches!(
        offer(&mut reg, &[&foreign])[0],
        Outcome::Rejected(Rejection::Structure(EntryError::WrongRegistry { .. }))
    ));
    // Tampered signature.
    let mut bad = c.i.clone();
    bad.signatures[0].sig[5] ^= 1;
    assert!(matches!(
        offer(&mut reg, &[&bad])[0],
        Outcome::Rejected(Rejection::Signature(_))
    ));
    // Signature over a changed body.
    let mut changed = c.i.clone();
    changed.body.nonce += 1;
    assert_eq!(
        offer(&mut reg, &[&changed]),
        vec![Outcome::Rejected(Rejection::Signature(
            SignatureError::Invalid(key(100).did())
        ))]
    );
    // Signed by someone who is not a controller of the author's accreditation.
    let intruder =
        c.fx.accredit(&entity(7))
            .grant("issue", DEGREE)
            .controller(key(7).did())
            .by_holder(c.a.id(), &[&key(7)]);
    assert_eq!(
        offer(&mut reg, &[&intruder]),
        vec![Outcome::Rejected(Rejection::NotAController(c.a.id()))]
    );
    // A revocation of a revocation.
    let rev = c.fx.revoke(c.a.id(), 5).by_roots(&c.fx.root_keys(1));
    let rev2 = c.fx.revoke(rev.id(), 5).by_roots(&c.fx.root_keys(1));
    accepted(&mut reg, &[&rev]);
    assert_eq!(
        offer(&mut reg, &[&rev2]),
        vec![Outcome::Rejected(Rejection::NotRevocable(rev.id()))]
    );
    assert_eq!(offer(&mut reg, &[&c.a]), vec![Outcome::Duplicate]);
}

/// An action "*" would read as a wildcard but match only the literal action "*": it is
/// refused when parsed and when offered.
#[test]
fn wildcard_action_is_refused() {
    assert_eq!(Grant::parse("*:R1"), Err(EntryError::WildcardAction));
    assert!(Grant::parse("issue:*").is_ok());
    let c = chain();
    let mut reg = registry(&c.fx);
    let e =
        c.fx.accredit(&entity(3))
            .grant("*", DEGREE)
            .controller(key(3).did())
            .by_roots(&c.fx.root_keys(1));
    assert_eq!(
        offer(&mut reg, &[&e]),
        vec![Outcome::Rejected(Rejection::Structure(
            EntryError::WildcardAction
        ))]
    );
}

#[test]
fn late_references_wait_then_cascade() {
    let c = chain();
    let mut reg = registry(&c.fx);
    let rev =
        c.fx.revoke(c.i.id(), 1000)
            .issued_at(1000)
            .by_holder(c.i.id(), &[&key(200)]);
    let out = offer(&mut reg, &[&rev, &c.i]);
    assert_eq!(
        out[0],
        Outcome::Pending {
            missing: vec![c.i.id()]
        }
    );
    assert_eq!(
        out[1],
        Outcome::Pending {
            missing: vec![c.a.id()]
        }
    );
    let mut expect_missing = vec![c.a.id(), c.i.id()];
    expect_missing.sort();
    assert_eq!(reg.missing(10), expect_missing);
    let report = reg.ingest(vec![c.a.clone()]);
    let order: Vec<EntryId> = report.accepted.iter().map(|e| e.id()).collect();
    assert_eq!(order, vec![c.a.id(), c.i.id(), rev.id()]);
    assert_eq!(reg.pending_len(), 0);
    assert_eq!(
        reason(&ask(&reg, &c.issuer, "issue", DEGREE, 1000)),
        Some(Reason::Revoked)
    );
}

#[test]
fn pending_pool_is_bounded_oldest_dropped() {
    let fx = Fixture::new(1, 1, 4);
    let mut reg = Registry::new(fx.genesis.clone(), 3);
    let orphans: Vec<SignedEntry> = (0..5u64)
        .map(|n| {
            fx.accredit(&entity(n))
                .grant("issue", DEGREE)
                .controller(key(1).did())
                .nonce(n)
                .by_holder(EntryId::default(), &[&key(1)])
        })
        .collect();
    reg.ingest(orphans.clone());
    assert_eq!(reg.pending_len(), 3);
    assert_eq!(reg.pending_dropped(), 2);
    assert!(reg.pending_entry(&orphans[0].id()).is_none());
    assert!(reg.pending_entry(&orphans[4].id()).is_some());
}
