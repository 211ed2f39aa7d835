//! Allocation bombs and malformed bytes against every decoder a peer or a file reaches:
//! signed entries (gossip payloads, sync replies, ledger values), genesis (ledger), blocks
//! (ledger). Each hand-written input must be rejected with a decode error, which happens
//! before any signature is looked at, and rejecting it must allocate less than 1 MiB.
//!
//! A counting global allocator (`cap`) measures each input: the growth of its running
//! sum of allocated bytes over one decode is at least the growth of the peak of live
//! memory during it, so bounding the former bounds the peak. Tests in this binary take
//! one lock so their allocations are not counted against each other.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

use std::alloc::System;
use std::sync::Mutex;

use cap::Cap;
use registry_core::block::MAX_BLOCK_ENTRIES;
use registry_core::codec::{self, MAX_MESSAGE_BYTES};
use registry_core::entry::{MAX_CONTROLLERS, MAX_GRANTS, MAX_SIGNATURES};
use registry_core::genesis::MAX_ROOTS;
use registry_core::testkit::bombs::{decode_kind, length_bombs, mutations, varint, Case, Tally};
use registry_core::testkit::{authority, entity, issuer, key, Fixture, AUTHORITY_KEY_SEED};
use registry_core::{
    Accreditation, Block, EntryBody, Genesis, Governance, Hash, Op, SignedEntry, Timestamp,
};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

static SERIAL: Mutex<()> = Mutex::new(());

fn allocated_total() -> usize {
    ALLOCATOR.total_allocated()
}

/// Decoding is the first thing done with bytes from outside, and its error type is
/// `DecodeError`: an input it rejects never reaches structure or signature checks.
fn entry_decoder(b: &[u8]) -> Option<&'static str> {
    SignedEntry::decode(b).err().as_ref().map(decode_kind)
}

/// Exactly what the network task runs on a gossip message's bytes.
fn gossip_decoder(b: &[u8]) -> Option<&'static str> {
    codec::decode::<SignedEntry>(b, MAX_MESSAGE_BYTES)
        .err()
        .as_ref()
        .map(decode_kind)
}

/// What opening a ledger runs on its stored genesis.
fn genesis_decoder(b: &[u8]) -> Option<&'static str> {
    codec::decode::<Genesis>(b, MAX_MESSAGE_BYTES)
        .err()
        .as_ref()
        .map(decode_kind)
}

fn block_decoder(b: &[u8]) -> Option<&'static str> {
    Block::decode(b).err().as_ref().map(decode_kind)
}

fn run_all(name: &str, cases: &[Case], decode: &dyn Fn(&[u8]) -> Option<&'static str>) {
    let mut tally = Tally::new(name);
    for c in cases {
        tally.run(&allocated_total, c, decode);
    }
    tally.finish();
}

fn lock() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn enc<T: serde::Serialize + ?Sized>(v: &T) -> Vec<u8> {
    codec::encode(v)
}

/// An accreditation with every optional part present, short strings (one-byte lengths)
/// and two signatures, authored by a holder.
fn full_entry(fx: &Fixture) -> SignedEntry {
    fx.accredit(&entity(5))
        .grant("issue", "Degree")
        .grant("accredit", "Degree")
        .controller(key(40).did())
        .controller(key(41).did())
        .valid(10, Some(20))
        .label("Uni")
        .issued_at(1_700_000_000)
        .nonce(9)
        .by_holder(Hash([3; 32]), &[&key(40), &key(41)])
}

fn revoke_entry(fx: &Fixture) -> SignedEntry {
    fx.revoke(Hash([4; 32]), 12).by_roots(&fx.root_keys(1))
}

fn governance_entry(fx: &Fixture) -> SignedEntry {
    fx.governance(Governance::AddRoot(key(50).did()))
        .by_roots(&fx.root_keys(1))
}

/// The encoding of an entry body up to (not including) its op's variant tag.
fn body_head(body: &EntryBody) -> Vec<u8> {
    let mut b = enc(&body.registry);
    b.extend(enc(&body.issued_at));
    b.extend(enc(&body.author));
    b
}

/// Every length field of an entry, each declaring 2^31, 2^32 - 1, 2^32, 2^40 and
/// u64::MAX, and nested lists declaring their maximum with an inner list declaring a
/// huge length.
fn entry_length_bombs(fx: &Fixture) -> Vec<Case> {
    let full = full_entry(fx);
    let Op::Accredit(a) = &full.body.op else {
        unreachable!("full_entry is an accreditation")
    };
    let a: &Accreditation = a;
    let head = body_head(&full.body);
    let mut acc = head.clone();
    acc.extend(varint(0)); // Op::Accredit
    let subject_at = acc.clone();
    acc.extend(enc(&a.subject));
    acc.extend(enc(&a.kind));
    let grants_at = acc.clone();
    let mut grant0 = grants_at.clone();
    grant0.extend(varint(1));
    let action_at = grant0.clone();
    grant0.extend(enc(&a.grants[0].action));
    let resource_at = grant0;
    let mut controllers_at = grants_at.clone();
    controllers_at.extend(enc(&a.grants));
    let mut label_at = controllers_at.clone();
    label_at.extend(enc(&a.controllers));
    label_at.extend(enc(&a.valid_from));
    label_at.extend(enc(&a.valid_until));
    label_at.push(1); // Some
    let signatures_at = enc(&full.body);

    let rev = revoke_entry(fx);
    let Op::Revoke(r) = &rev.body.op else {
        unreachable!("revoke_entry is a revocation")
    };
    let mut reason_at = body_head(&rev.body);
    reason_at.extend(varint(1)); // Op::Revoke
    reason_at.extend(enc(&r.target));
    reason_at.extend(enc(&r.effective_at));

    let tail = [0x41u8; 16];
    let mut cases = Vec::new();
    for (field, prefix) in [
        ("subject length", &subject_at),
        ("grants length", &grants_at),
        ("grant action length", &action_at),
        ("grant resource length", &resource_at),
        ("controllers length", &controllers_at),
        ("label length", &label_at),
        ("signatures length", &signatures_at),
        ("revocation reason length", &reason_at),
    ] {
        cases.extend(length_bombs(field, prefix, &tail));
    }
    // Nested: the outer list at its maximum, its first element's inner length huge.
    let mut nested = grants_at.clone();
    nested.extend(varint(MAX_GRANTS as u64));
    cases.extend(length_bombs(
        "grants at maximum, first action length",
        &nested,
        &tail,
    ));
    let mut nested = grants_at;
    nested.extend(varint(MAX_GRANTS as u64));
    nested.extend(enc("issue"));
    cases.extend(length_bombs(
        "grants at maximum, first resource length",
        &nested,
        &tail,
    ));
    // Lists one past their maximum, and at their maximum with nothing behind.
    for (field, prefix, max) in [
        ("grants", &acc, MAX_GRANTS),
        ("controllers", &controllers_at, MAX_CONTROLLERS),
        ("signatures", &signatures_at, MAX_SIGNATURES),
    ] {
        for n in [max + 1, max] {
            let mut b = prefix.clone();
            b.extend(varint(n as u64));
            cases.push(Case {
                what: format!("{field} declares {n} and holds none"),
                bytes: b,
            });
        }
    }
    cases
}

fn entry_cases(fx: &Fixture) -> Vec<Case> {
    let mut cases = entry_length_bombs(fx);
    let auth = authority(fx);
    let iss = issuer(fx, auth.id(), &key(AUTHORITY_KEY_SEED), 1);
    for (name, e) in [
        ("accreditation", full_entry(fx)),
        ("issuer", iss),
        ("revocation", revoke_entry(fx)),
        ("governance", governance_entry(fx)),
    ] {
        cases.extend(mutations(name, &e.encode(), &|b| {
            entry_decoder(b).is_none()
        }));
    }
    cases
}

#[test]
fn entry_bombs_are_rejected_by_decoding_within_a_mebibyte() {
    let _serial = lock();
    let fx = Fixture::new(2, 1, 4);
    // The samples themselves decode: the mutations start from valid bytes.
    for e in [full_entry(&fx), revoke_entry(&fx), governance_entry(&fx)] {
        assert_eq!(SignedEntry::decode(&e.encode()), Ok(e));
    }
    run_all("signed entry", &entry_cases(&fx), &entry_decoder);
}

#[test]
fn gossip_payload_bombs_are_rejected_by_decoding_within_a_mebibyte() {
    let _serial = lock();
    let fx = Fixture::new(2, 1, 4);
    let mut cases = entry_cases(&fx);
    // Larger than a gossip message may be.
    cases.push(Case {
        what: "65 KiB payload".into(),
        bytes: vec![0; MAX_MESSAGE_BYTES + 1024],
    });
    run_all("gossip payload", &cases, &gossip_decoder);
}

fn genesis_cases(fx: &Fixture) -> Vec<Case> {
    let g = &fx.genesis;
    let authority_at = enc(&g.version);
    let mut name_at = authority_at.clone();
    name_at.extend(enc(&g.authority_id));
    let mut roots_at = name_at.clone();
    roots_at.extend(enc(&g.name));
    roots_at.extend(enc(&g.created_at));
    let tail = [0x41u8; 16];
    let mut cases = Vec::new();
    for (field, prefix) in [
        ("authority_id length", &authority_at),
        ("name length", &name_at),
        ("roots length", &roots_at),
    ] {
        cases.extend(length_bombs(field, prefix, &tail));
    }
    for n in [MAX_ROOTS + 1, MAX_ROOTS] {
        let mut b = roots_at.clone();
        b.extend(varint(n as u64));
        cases.push(Case {
            what: format!("roots declares {n} and holds none"),
            bytes: b,
        });
    }
    cases.extend(mutations("genesis", &enc(g), &|b| {
        genesis_decoder(b).is_none()
    }));
    cases
}

#[test]
fn genesis_bombs_are_rejected_by_decoding_within_a_mebibyte() {
    let _serial = lock();
    let fx = Fixture::new(3, 2, 4);
    assert_eq!(
        codec::decode::<Genesis>(&enc(&fx.genesis), MAX_MESSAGE_BYTES),
        Ok(fx.genesis.clone())
    );
    run_all("genesis", &genesis_cases(&fx), &genesis_decoder);
}

#[test]
fn block_bombs_are_rejected_by_decoding_within_a_mebibyte() {
    let _serial = lock();
    let block = Block {
        height: 7,
        prev: Hash([1; 32]),
        timestamp: Timestamp(1_800_000_000),
        entries: vec![Hash([2; 32]), Hash([3; 32])],
        state_root: Hash([4; 32]),
    };
    assert_eq!(Block::decode(&block.encode()), Ok(block.clone()));
    let mut entries_at = enc(&block.height);
    entries_at.extend(enc(&block.prev));
    entries_at.extend(enc(&block.timestamp));
    let mut cases = length_bombs("entries length", &entries_at, &[0x41; 16]);
    for n in [MAX_BLOCK_ENTRIES + 1, MAX_BLOCK_ENTRIES] {
        let mut b = entries_at.clone();
        b.extend(varint(n as u64));
        cases.push(Case {
            what: format!("entries declares {n} and holds none"),
            bytes: b,
        });
    }
    cases.extend(mutations("block", &block.encode(), &|b| {
        block_decoder(b).is_none()
    }));
    run_all("block", &cases, &block_decoder);
}
