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
//! `authority::entries_without_authority_that_acceptance_keeps_are_never_trusted` checks
//! that.
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

mod authority;
mod curve;
mod keys;
mod signatures;

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
