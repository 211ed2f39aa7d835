//! Entries for another registry, authors without authority, and entries acceptance keeps
//! that evaluation never trusts.

use super::*;

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
