//! The precedence of reasons when several apply at once.

use super::*;

const DAY: u64 = 86_400;
/// "Now" in the precedence scenarios below.
const T: u64 = 1_000 * DAY;

fn denied(reg: &Registry, who: &EntityId, at: u64) -> (Reason, Option<EntryId>) {
    match ask(reg, who, "issue", DEGREE, at) {
        Decision::Denied {
            reason,
            accreditation,
        } => (reason, accreditation),
        d => panic!("expected a denial at {at}, got {d:?}"),
    }
}

/// Revoked from T-70 days, valid until T-50 days, asked at T-50 days: both `revoked` and
/// `expired` apply, and `revoked` ranks first.
#[test]
fn revoked_outranks_expired() {
    let fx = Fixture::new(1, 1, 4);
    let mut reg = registry(&fx);
    let issuer = entity(2);
    let x = fx
        .accredit(&issuer)
        .grant("issue", DEGREE)
        .controller(key(200).did())
        .valid(T - 400 * DAY, Some(T - 50 * DAY))
        .issued_at(T - 400 * DAY)
        .by_roots(&fx.root_keys(1));
    let rev = fx
        .revoke(x.id(), T - 70 * DAY)
        .issued_at(T - 60 * DAY)
        .by_roots(&fx.root_keys(1));
    accepted(&mut reg, &[&x, &rev]);
    assert_eq!(
        denied(&reg, &issuer, T - 50 * DAY),
        (Reason::Revoked, Some(x.id()))
    );
    assert_eq!(denied(&reg, &issuer, T), (Reason::Revoked, Some(x.id())));
    assert_eq!(
        reason(&ask(&reg, &issuer, "issue", DEGREE, T - 71 * DAY)),
        None
    );
}

/// Valid from T+30 days, revoked from T-10 days, asked now: `revoked`, not `not_yet_valid`.
#[test]
fn revoked_outranks_not_yet_valid() {
    let fx = Fixture::new(1, 1, 4);
    let mut reg = registry(&fx);
    let issuer = entity(2);
    let x = fx
        .accredit(&issuer)
        .grant("issue", DEGREE)
        .controller(key(200).did())
        .valid(T + 30 * DAY, None)
        .issued_at(T - 20 * DAY)
        .by_roots(&fx.root_keys(1));
    let rev = fx
        .revoke(x.id(), T - 10 * DAY)
        .issued_at(T - 5 * DAY)
        .by_roots(&fx.root_keys(1));
    accepted(&mut reg, &[&x]);
    assert_eq!(
        denied(&reg, &issuer, T),
        (Reason::NotYetValid, Some(x.id()))
    );
    accepted(&mut reg, &[&rev]);
    assert_eq!(denied(&reg, &issuer, T), (Reason::Revoked, Some(x.id())));
    assert_eq!(
        denied(&reg, &issuer, T + 31 * DAY),
        (Reason::Revoked, Some(x.id()))
    );
}

/// Two accreditations, both valid from T+30 days, one issued by an authority revoked
/// before it issued it: `issuer_revoked` (of that one) outranks `not_yet_valid` (of both),
/// whichever has the smaller id.
#[test]
fn issuer_revoked_outranks_not_yet_valid_across_accreditations() {
    let fx = Fixture::new(1, 1, 4);
    let roots = fx.root_keys(1);
    let issuer = entity(2);
    let authority = |n: u64| {
        fx.accredit(&entity(10 + n))
            .grant("accredit", DEGREE)
            .controller(key(100 + n).did())
            .valid(0, None)
            .issued_at(DAY)
            .by_roots(&roots)
    };
    let (good, bad) = (authority(0), authority(1));
    let by = |parent: &SignedEntry, n: u64| {
        fx.accredit(&issuer)
            .grant("issue", DEGREE)
            .controller(key(200).did())
            .valid(T + 30 * DAY, None)
            .issued_at(T - 20 * DAY)
            .by_holder(parent.id(), &[&key(100 + n)])
    };
    let (x_good, x_bad) = (by(&good, 0), by(&bad, 1));
    let rev = fx
        .revoke(bad.id(), T - 40 * DAY)
        .issued_at(T - 30 * DAY)
        .by_roots(&roots);
    let mut reg = registry(&fx);
    accepted(&mut reg, &[&good, &bad, &x_good, &x_bad]);
    let first = x_good.id().min(x_bad.id());
    assert_eq!(denied(&reg, &issuer, T), (Reason::NotYetValid, Some(first)));
    accepted(&mut reg, &[&rev]);
    assert_eq!(
        denied(&reg, &issuer, T),
        (Reason::IssuerRevoked, Some(x_bad.id()))
    );
    // Once valid, the accreditation from the good authority authorizes.
    assert_eq!(
        ask(&reg, &issuer, "issue", DEGREE, T + 30 * DAY),
        Decision::Authorized {
            chain: vec![x_good.id(), good.id()]
        }
    );
}
