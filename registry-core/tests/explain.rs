//! The entry a denial rests on (`eval::decisive`) for every reason, and the chain's end.
#![allow(clippy::unwrap_used)]

use registry_core::eval::{
    chain_valid_until, decisive, Cause, Decision, Decisive, Reason, Unentitled,
};
use registry_core::registry::{Outcome, Registry};
use registry_core::testkit::{ask, entity, key, Fixture};
use registry_core::{SignedEntry, Timestamp};

const DEGREE: &str = "UniversityDegree";

fn accepted(reg: &mut Registry, entries: &[&SignedEntry]) {
    let report = reg.ingest(entries.iter().map(|e| (*e).clone()).collect());
    for (id, o) in report.outcomes {
        assert_eq!(o, Outcome::Accepted, "entry {id}");
    }
}

/// The denial of `who` at `at`, explained.
fn explained(reg: &Registry, who: u64, at: u64) -> (Reason, Option<Decisive>) {
    match ask(reg, &entity(who), "issue", DEGREE, at) {
        Decision::Denied {
            reason,
            accreditation,
        } => {
            let d = accreditation.and_then(|id| decisive(reg.state(), reason, &id, Timestamp(at)));
            (reason, d)
        }
        other => panic!("expected a denial, got {other:?}"),
    }
}

/// Roots (2 of 3) accredit body A (accredit degrees, until 4000); A accredits issuer I
/// (issue degrees, 100..5000).
struct World {
    fx: Fixture,
    reg: Registry,
    a: SignedEntry,
    i: SignedEntry,
}

fn world() -> World {
    let fx = Fixture::new(3, 2, 4);
    let mut reg = Registry::new(fx.genesis.clone(), 100);
    let a = fx
        .accredit(&entity(1))
        .grant("accredit", DEGREE)
        .controller(key(100).did())
        .valid(10, Some(4000))
        .issued_at(10)
        .by_roots(&fx.root_keys(2));
    let i = fx
        .accredit(&entity(2))
        .grant("issue", DEGREE)
        .controller(key(200).did())
        .valid(100, Some(5000))
        .issued_at(100)
        .by_holder(a.id(), &[&key(100)]);
    accepted(&mut reg, &[&a, &i]);
    World { fx, reg, a, i }
}

#[test]
fn a_revocation_is_named_with_its_time_and_reason() {
    let mut w = world();
    let rev =
        w.fx.revoke(w.i.id(), 300)
            .issued_at(250)
            .by_holder(w.a.id(), &[&key(100)]);
    accepted(&mut w.reg, &[&rev]);
    let (reason, d) = explained(&w.reg, 2, 400);
    assert_eq!(reason, Reason::Revoked);
    assert_eq!(
        d,
        Some(Decisive {
            entry: rev.id(),
            accreditation: w.i.id(),
            cause: Cause::Revocation {
                effective_at: Timestamp(300),
                reason: "test".into()
            }
        })
    );
    // Before it takes effect there is nothing to name: authorized.
    assert!(ask(&w.reg, &entity(2), "issue", DEGREE, 299).is_authorized());
}

#[test]
fn an_ancestor_revocation_is_named_for_issuer_revoked() {
    let mut w = world();
    // A self-revocation of I by its own holder, in effect later, is not the one named.
    let own =
        w.fx.revoke(w.i.id(), 900)
            .issued_at(120)
            .by_holder(w.i.id(), &[&key(200)]);
    let rev =
        w.fx.revoke(w.a.id(), 200)
            .issued_at(200)
            .by_roots(&w.fx.root_keys(2));
    accepted(&mut w.reg, &[&own, &rev]);
    let (reason, d) = explained(&w.reg, 2, 300);
    assert_eq!(reason, Reason::IssuerRevoked);
    let d = d.unwrap();
    assert_eq!(d.entry, rev.id());
    assert_eq!(d.accreditation, w.a.id());
    assert!(
        d.to_string().starts_with(&format!(
            "revocation {} of accreditation {}, effective ",
            rev.id(),
            w.a.id()
        )),
        "{d}"
    );
}

#[test]
fn a_window_is_named_for_expired_and_not_yet_valid() {
    let w = world();
    // At 4500 A has expired, so I's author no longer counts: not_entitled, naming A's end.
    let (reason, d) = explained(&w.reg, 2, 4500);
    assert_eq!(reason, Reason::NotEntitled);
    assert_eq!(
        d.unwrap().cause,
        Cause::NotEntitled(Unentitled::Holder {
            holder: w.a.id(),
            at: Timestamp(4500),
            reason: Reason::Expired
        })
    );
    // At 50, I is not yet valid (from 100): its own window.
    let (reason, d) = explained(&w.reg, 2, 50);
    assert_eq!(reason, Reason::NotYetValid);
    assert_eq!(
        d.unwrap(),
        Decisive {
            entry: w.i.id(),
            accreditation: w.i.id(),
            cause: Cause::Window {
                valid_from: Timestamp(100),
                valid_until: Some(Timestamp(5000))
            }
        }
    );
    // The chain's end is the earliest of its ends: A's.
    assert_eq!(
        chain_valid_until(w.reg.state(), &[w.i.id(), w.a.id()]),
        Some(Timestamp(4000))
    );
}

#[test]
fn not_entitled_says_why() {
    let mut w = world();
    // A grant outside the holder's rights.
    let dmv =
        w.fx.accredit(&entity(3))
            .grant("issue", "DriversLicense")
            .controller(key(300).did())
            .valid(100, None)
            .issued_at(100)
            .by_holder(w.a.id(), &[&key(100)]);
    accepted(&mut w.reg, &[&dmv]);

    let why = |who: u64, resource: &str| match ask(&w.reg, &entity(who), "issue", resource, 200) {
        Decision::Denied {
            reason: Reason::NotEntitled,
            accreditation: Some(id),
        } => match decisive(w.reg.state(), Reason::NotEntitled, &id, Timestamp(200)) {
            Some(Decisive {
                cause: Cause::NotEntitled(u),
                entry,
                ..
            }) => (entry, u),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    assert_eq!(
        why(3, "DriversLicense"),
        (
            dmv.id(),
            Unentitled::Grant {
                holder: w.a.id(),
                resource: "DriversLicense".into()
            }
        )
    );
}

#[test]
fn not_entitled_far_up_the_chain_names_the_entry_behind_it() {
    let mut w = world();
    // J is authored as the holder of I, which may only issue: J is not entitled, and K
    // below J is not entitled because of J; K's denial names J and why.
    let j =
        w.fx.accredit(&entity(6))
            .grant("accredit", DEGREE)
            .controller(key(600).did())
            .valid(100, None)
            .issued_at(150)
            .by_holder(w.i.id(), &[&key(200)]);
    let k =
        w.fx.accredit(&entity(7))
            .grant("issue", DEGREE)
            .controller(key(700).did())
            .valid(100, None)
            .issued_at(160)
            .by_holder(j.id(), &[&key(600)]);
    accepted(&mut w.reg, &[&j, &k]);
    let (reason, d) = explained(&w.reg, 7, 200);
    assert_eq!(reason, Reason::NotEntitled);
    let d = d.unwrap();
    assert_eq!(d.entry, j.id(), "{d}");
    assert_eq!(
        d.cause,
        Cause::NotEntitled(Unentitled::Grant {
            holder: w.i.id(),
            resource: DEGREE.into()
        })
    );
}
