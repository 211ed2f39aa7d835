//! Signature sets: copies of one entry with different signatures, and signatures by a
//! key that becomes a root later.

use super::*;

/// Copies of one root-authored entry with different signatures: the node holds the union
/// (pending until it meets the threshold, then accepted, then merged), a copy with nothing
/// new is a duplicate, and a stranger's signature is never held.
#[test]
fn copies_with_different_signatures_merge_into_one_set() {
    let fx = Fixture::new(3, 2, 4);
    let copy = |keys: &[usize]| {
        let signers: Vec<&registry_core::SecretKey> = keys.iter().map(|&i| &fx.roots[i]).collect();
        fx.accredit(&entity(2))
            .grant("issue", DEGREE)
            .controller(key(200).did())
            .issued_at(50)
            .nonce(7)
            .by_roots(&signers)
    };
    let (r0, r1, r2) = (copy(&[0]), copy(&[1]), copy(&[2]));
    assert_eq!(r0.id(), r1.id());
    let mut reg = registry(&fx);
    assert_eq!(
        offer(&mut reg, &[&r0]),
        vec![Outcome::Pending { missing: vec![] }]
    );
    assert_eq!(
        offer(&mut reg, &[&r0]),
        vec![Outcome::Pending { missing: vec![] }]
    );
    // r1's copy makes two of three: the union is accepted.
    assert_eq!(offer(&mut reg, &[&r1]), vec![Outcome::Accepted]);
    assert_eq!(reg.pending_len(), 0);
    let held = |reg: &Registry| {
        let e = reg
            .state()
            .get(&r0.id())
            .map(|e| e.signers().copied().collect::<Vec<_>>());
        e.unwrap_or_default()
    };
    assert_eq!(held(&reg).len(), 2);
    let two_root = reg.state_root();
    // r2's copy adds the third; its own again, or a copy with a stranger's signature
    // added, changes nothing.
    let report = reg.ingest(vec![r2.clone()]);
    assert_eq!(report.outcomes[0].1, Outcome::Merged);
    assert_eq!(
        report.accepted.len(),
        1,
        "the merged entry is reported for writing"
    );
    assert_eq!(report.accepted[0].signatures.len(), 3);
    assert_eq!(offer(&mut reg, &[&r2]), vec![Outcome::Duplicate]);
    let mut strange = r2.clone();
    let stranger = key(999);
    strange.signatures.push(registry_core::entry::Signature {
        signer: stranger.did(),
        sig: stranger.sign(r2.id().as_bytes()),
    });
    assert_eq!(offer(&mut reg, &[&strange]), vec![Outcome::Duplicate]);
    let mut signers = held(&reg);
    assert_eq!(signers.len(), 3);
    let sorted = {
        signers.sort();
        signers
    };
    assert_eq!(held(&reg), sorted, "signatures are held sorted by signer");
    let full_root = reg.state_root();
    assert_ne!(
        full_root, two_root,
        "the state root commits to the signature set"
    );
    // A copy with a forged signature by a root is rejected, not merged.
    let mut forged = copy(&[0, 1, 2]);
    forged.signatures[2].sig[0] ^= 1;
    assert!(matches!(
        offer(&mut reg, &[&forged])[0],
        Outcome::Rejected(_)
    ));
    // Any other order of the same copies gives the same root.
    let mut other = registry(&fx);
    offer(&mut other, &[&strange, &r1, &r0]);
    assert_eq!(other.state_root(), full_root);
}

/// A signature by a key that becomes a root later counts, whether the `AddRoot` arrives
/// before or after the entry: it is kept aside until then.
#[test]
fn a_signature_by_a_later_root_joins_its_entry() {
    let fx = Fixture::new(2, 1, 4);
    let later = key(500);
    let add = fx
        .governance(Governance::AddRoot(later.did()))
        .issued_at(10)
        .by_roots(&fx.root_keys(1));
    let e = fx
        .accredit(&entity(2))
        .grant("issue", DEGREE)
        .controller(key(200).did())
        .issued_at(20)
        .by_roots(&[&fx.roots[0], &later]);
    let mut first = registry(&fx);
    accepted(&mut first, &[&add, &e]);
    let mut second = registry(&fx);
    accepted(&mut second, &[&e]);
    assert_eq!(
        second.state().get(&e.id()).map(|h| h.signatures.len()),
        Some(1),
        "not a root yet: kept aside"
    );
    let report = second.ingest(vec![add.clone()]);
    assert_eq!(report.outcomes[0].1, Outcome::Accepted);
    assert_eq!(
        report.accepted.len(),
        2,
        "the AddRoot and the entry it completed"
    );
    assert_eq!(
        second.state().get(&e.id()).map(|h| h.signatures.len()),
        Some(2)
    );
    assert_eq!(first.state_root(), second.state_root());
}
