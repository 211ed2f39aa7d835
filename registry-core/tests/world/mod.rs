//! The random registries of the order-independence test, shared with the proof tests:
//! a seed fully determines a world (several levels of accreditation, recognitions,
//! revocations including back-dated ones and revocations by holders, expiries, governance
//! changes, invalid and unauthorized entries, references that arrive late or never).
#![allow(dead_code)]

use registry_core::entry::Governance;
use registry_core::testkit::{entity, key, Fixture};
use registry_core::{EntryId, Hash, SecretKey, SignedEntry};

/// splitmix64: a tiny deterministic generator, so a seed fully determines a case.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

pub const ACTIONS: [&str; 3] = ["issue", "accredit", "verify"];
pub const RESOURCES: [&str; 3] = ["R1", "R2", "*"];
pub const ENTITIES: u64 = 6;
pub const HOLDER_KEYS: u64 = 6;

struct Acc {
    id: EntryId,
    controller: u64,
}

/// Generates a random registry's entries from `seed`.
pub fn world(seed: u64, size: usize) -> (Fixture, Vec<SignedEntry>) {
    let mut rng = Rng(seed);
    let fx = Fixture::new(3, 2, 3);
    let holder = |i: u64| key(1000 + i);
    let extra_roots: Vec<SecretKey> = (0..2).map(|i| key(2000 + i)).collect();
    let mut accs: Vec<Acc> = Vec::new();
    let mut all: Vec<SignedEntry> = Vec::new();
    let time = |rng: &mut Rng| rng.below(1000);
    for n in 0..size as u64 {
        let roll = rng.below(100);
        // Root signer sets: sometimes too few, sometimes including not-yet-added roots.
        let mut signers: Vec<&SecretKey> = Vec::new();
        for k in fx.roots.iter().chain(&extra_roots) {
            if rng.chance(45) {
                signers.push(k);
            }
        }
        if signers.is_empty() {
            signers.push(&fx.roots[0]);
        }
        let entry = if roll < 8 {
            let g = match rng.below(3) {
                0 => Governance::AddRoot(rng.pick(&extra_roots).did()),
                1 => Governance::RemoveRoot(rng.pick(&fx.roots).did()),
                _ => Governance::SetThreshold(1 + rng.below(2) as u16),
            };
            fx.governance(g)
                .issued_at(time(&mut rng))
                .nonce(n)
                .by_roots(&signers)
        } else if roll < 60 {
            let mut d = fx.accredit(&entity(rng.below(ENTITIES)));
            for _ in 0..1 + rng.below(2) {
                let (action, resource) = (*rng.pick(&ACTIONS), *rng.pick(&RESOURCES));
                d = d.grant(action, resource);
            }
            let controller = rng.below(HOLDER_KEYS);
            d = d.controller(holder(controller).did());
            if rng.chance(20) {
                d = d.recognition();
            }
            if rng.chance(40) {
                // Accrediting authorities make deeper chains possible.
                d = d.grant("accredit", "*");
            }
            let from = rng.below(400);
            let until = rng.chance(40).then(|| from + 1 + rng.below(600));
            d = d.valid(from, until).issued_at(time(&mut rng)).nonce(n);
            let e = if accs.is_empty() || rng.chance(35) {
                d.by_roots(&signers)
            } else {
                let parent = rng.pick(&accs);
                // Sometimes signed by a key that is not the parent's controller.
                let signer = if rng.chance(90) {
                    parent.controller
                } else {
                    rng.below(HOLDER_KEYS)
                };
                d.by_holder(parent.id, &[&holder(signer)])
            };
            accs.push(Acc {
                id: e.id(),
                controller,
            });
            e
        } else if roll < 88 && !all.is_empty() {
            let target = if rng.chance(85) && !accs.is_empty() {
                rng.pick(&accs).id
            } else {
                rng.pick(&all).id()
            };
            let d = fx
                .revoke(target, time(&mut rng))
                .issued_at(time(&mut rng))
                .nonce(n);
            if accs.is_empty() || rng.chance(40) {
                d.by_roots(&signers)
            } else {
                let by = rng.pick(&accs);
                d.by_holder(by.id, &[&holder(by.controller)])
            }
        } else if roll < 94 {
            // Refers to an accreditation that never arrives.
            fx.accredit(&entity(0))
                .grant("issue", "R1")
                .controller(holder(0).did())
                .nonce(n)
                .by_holder(Hash([n as u8; 32]), &[&holder(0)])
        } else {
            // Invalid: tampered signature or a duplicated signer.
            let mut e = fx
                .accredit(&entity(1))
                .grant("issue", "R1")
                .controller(holder(1).did())
                .nonce(n)
                .by_roots(&signers);
            if rng.chance(50) {
                e.signatures[0].sig[0] ^= 0x40;
            } else {
                let first = e.signatures[0].clone();
                e.signatures.push(first);
            }
            e
        };
        // Copies of one entry with different signature subsets (an entry submitted before
        // every root signed it), and copies carrying signatures that can never count (a
        // stranger's key on any entry): every node must hold the same union.
        if entry.signatures.len() >= 2 && rng.chance(40) {
            for _ in 0..1 + rng.below(3) {
                let mut copy = entry.clone();
                copy.signatures.retain(|_| rng.chance(50));
                if copy.signatures.is_empty() {
                    copy.signatures.push(entry.signatures[0].clone());
                }
                all.push(copy);
            }
        }
        if rng.chance(10) {
            let mut copy = entry.clone();
            let stranger = key(3000 + rng.below(3));
            copy.signatures.push(registry_core::entry::Signature {
                signer: stranger.did(),
                sig: stranger.sign(entry.id().as_bytes()),
            });
            all.push(copy);
        }
        all.push(entry);
    }
    (fx, all)
}
