//! Hand-written scenarios for acceptance and for every evaluation reason.
#![allow(clippy::unwrap_used)]

use registry_core::entry::{EntryError, Governance, Grant, Kind};
use registry_core::eval::{evaluate, Decision, Query, Reason};
use registry_core::registry::{Outcome, Registry, Rejection};
use registry_core::testkit::{ask, entity, key, reason, Fixture};
use registry_core::verify::SignatureError;
use registry_core::{EntityId, EntryId, SignedEntry, Timestamp};

mod acceptance;
mod precedence;
mod reasons;
mod signatures;

const DEGREE: &str = "UniversityDegree";

fn registry(fx: &Fixture) -> Registry {
    Registry::new(fx.genesis.clone(), 100)
}

fn offer(reg: &mut Registry, entries: &[&SignedEntry]) -> Vec<Outcome> {
    let report = reg.ingest(entries.iter().map(|e| (*e).clone()).collect());
    report.outcomes.into_iter().map(|(_, o)| o).collect()
}

fn accepted(reg: &mut Registry, entries: &[&SignedEntry]) {
    for (e, o) in entries.iter().zip(offer(reg, entries)) {
        assert_eq!(o, Outcome::Accepted, "entry {} ({:?})", e.id(), e.body.op);
    }
}

/// Roots accredit authority A (may accredit degrees); A accredits issuer I.
struct Chain {
    fx: Fixture,
    reg: Registry,
    a: SignedEntry,
    i: SignedEntry,
    issuer: EntityId,
}

fn chain() -> Chain {
    let fx = Fixture::new(1, 1, 4);
    let mut reg = registry(&fx);
    let a = fx
        .accredit(&entity(1))
        .grant("accredit", DEGREE)
        .controller(key(100).did())
        .valid(10, None)
        .issued_at(10)
        .by_roots(&fx.root_keys(1));
    let issuer = entity(2);
    let i = fx
        .accredit(&issuer)
        .grant("issue", DEGREE)
        .controller(key(200).did())
        .valid(100, Some(5000))
        .issued_at(100)
        .by_holder(a.id(), &[&key(100)]);
    accepted(&mut reg, &[&a, &i]);
    Chain {
        fx,
        reg,
        a,
        i,
        issuer,
    }
}
