//! Tests of the canonical encoding (`registry_core::codec`): golden fixtures that freeze
//! the binary and JSON forms, round-trip properties, and hostile input (random and mutated
//! bytes, allocation bombs, over-long varints, trailing and oversized input).
//!
//! This file holds the deterministic fixture values the other modules encode.
#![allow(clippy::unwrap_used)]

use std::fmt::Debug;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use serde::de::DeserializeOwned;
use serde::Serialize;

use registry_core::block::Block;
use registry_core::codec::{self, domain, DecodeError, MAX_BLOCK_BYTES, MAX_MESSAGE_BYTES};
use registry_core::entry::{
    Accreditation, Author, EntryBody, Governance, Grant, Kind, Op, Revocation, Signature,
    SignedEntry, WitnessSet,
};
use registry_core::genesis::Genesis;
use registry_core::verify::Verifier;
use registry_core::{DidKey, EntityId, Hash, SecretKey, Timestamp};

mod golden;
mod hostile;
mod properties;

fn key(n: u8) -> SecretKey {
    SecretKey::from_seed([n; 32])
}

/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600;

fn genesis() -> Genesis {
    Genesis::new(
        EntityId::parse("did:web:edu.example").unwrap(),
        "Example Education Registry".to_string(),
        Timestamp(T0),
        vec![key(1).did(), key(2).did(), key(3).did()],
        2,
        4,
    )
    .unwrap()
}

fn grants(specs: &[&str]) -> Vec<Grant> {
    specs.iter().map(|s| Grant::parse(s).unwrap()).collect()
}

/// Root-authored Authorization, two root signatures, label, end of validity.
fn accredit_authorization() -> SignedEntry {
    EntryBody {
        registry: genesis().registry_id(),
        issued_at: Timestamp(T0 + 3600),
        author: Author::Roots,
        op: Op::Accredit(Accreditation {
            subject: EntityId::parse("did:web:uni.example").unwrap(),
            kind: Kind::Authorization,
            grants: grants(&["issue:UniversityDegree", "issue:Transcript", "accredit:*"]),
            controllers: vec![key(4).did()],
            valid_from: Timestamp(T0),
            valid_until: Some(Timestamp(T0 + 5 * 365 * 86_400)),
            label: Some("University of Example".to_string()),
        }),
        nonce: 1,
    }
    .sign(&[&key(1), &key(2)])
}

/// Holder-authored Recognition of an https subject, no label, open-ended.
fn accredit_recognition() -> SignedEntry {
    EntryBody {
        registry: genesis().registry_id(),
        issued_at: Timestamp(T0 + 7200),
        author: Author::Holder {
            accreditation: accredit_authorization().id(),
        },
        op: Op::Accredit(Accreditation {
            subject: EntityId::parse("https://registry.other.example/trust").unwrap(),
            kind: Kind::Recognition,
            grants: grants(&["recognize:UniversityDegree"]),
            controllers: vec![key(6).did()],
            valid_from: Timestamp(T0 + 7200),
            valid_until: None,
            label: None,
        }),
        nonce: 2,
    }
    .sign(&[&key(4)])
}

/// Holder-authored revocation of the recognition.
fn revoke() -> SignedEntry {
    EntryBody {
        registry: genesis().registry_id(),
        issued_at: Timestamp(T0 + 10_800),
        author: Author::Holder {
            accreditation: accredit_authorization().id(),
        },
        op: Op::Revoke(Revocation {
            target: accredit_recognition().id(),
            effective_at: Timestamp(T0 + 9000),
            reason: "recognition agreement ended".to_string(),
        }),
        nonce: 3,
    }
    .sign(&[&key(4)])
}

fn governance(g: Governance, nonce: u64) -> SignedEntry {
    EntryBody {
        registry: genesis().registry_id(),
        issued_at: Timestamp(T0 + 86_400),
        author: Author::Roots,
        op: Op::Governance(g),
        nonce,
    }
    .sign(&[&key(1), &key(2)])
}

fn all_entries() -> Vec<(&'static str, SignedEntry)> {
    vec![
        ("entry_accredit_authorization", accredit_authorization()),
        ("entry_accredit_recognition", accredit_recognition()),
        ("entry_revoke", revoke()),
        (
            "entry_governance_add_root",
            governance(Governance::AddRoot(key(5).did()), 4),
        ),
        (
            "entry_governance_remove_root",
            governance(Governance::RemoveRoot(key(3).did()), 5),
        ),
        (
            "entry_governance_set_threshold",
            governance(Governance::SetThreshold(3), 6),
        ),
        // Added with checkpoints (section 12): a new op, so a new fixture; the ones above
        // are unchanged byte for byte.
        (
            "entry_governance_set_witnesses",
            governance(
                Governance::SetWitnesses(WitnessSet {
                    keys: vec![key(6).did(), key(7).did(), key(8).did()],
                    quorum: 2,
                }),
                7,
            ),
        ),
    ]
}

fn block() -> Block {
    Block {
        height: 1,
        prev: genesis().registry_id(),
        timestamp: Timestamp(T0 + 90_000),
        // The block fixture predates the witness-set entry and keeps the six it had.
        entries: all_entries().iter().take(6).map(|(_, e)| e.id()).collect(),
        state_root: codec::hash_with_domain("test/fixture-state-root", b"block fixture"),
    }
}
