//! Forging the attacker's entries, gossip garbage and lying sync frames from one seed.

use p2p::protocol::{SyncRequest, SyncResponse, MAX_IDS, MAX_RESPONSE_BYTES};
use registry_core::rng::SplitMix64;
use registry_core::testkit::{Draft, Fixture};
use registry_core::trie::Prefix;
use registry_core::{codec, EntityId, Hash, SecretKey};

use crate::wire::{framed, Wire};
use crate::Attack;

/// The seeded generator, with the attacker's own draws: a seed reproduces the garbage.
#[derive(Debug, Clone)]
pub(crate) struct Rng(pub(crate) SplitMix64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0.below(n)
    }

    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.0.next_u64() as u8).collect()
    }

    fn hash(&mut self) -> Hash {
        let mut h = [0u8; 32];
        for b in &mut h {
            *b = self.0.next_u64() as u8;
        }
        Hash(h)
    }
}

fn now_secs() -> u64 {
    registry_core::Timestamp::from_system_time(std::time::SystemTime::now()).as_secs()
}

/// Forges the attacker's entries and garbage.
pub(crate) struct Forge {
    pub(crate) fx: Fixture,
    pub(crate) other: Fixture,
    pub(crate) key: SecretKey,
    pub(crate) rng: Rng,
    pub(crate) n: u64,
}

impl Forge {
    fn draft(&mut self, fx: &Fixture) -> Draft {
        self.n += 1;
        let subject = EntityId::parse(&format!("did:web:attacker-{}.example", self.n))
            .unwrap_or_else(|e| panic!("a fixed DID pattern is valid: {e}"));
        fx.accredit(&subject)
            .grant("issue", "UniversityDegree")
            .controller(self.key.did())
            .issued_at(now_secs())
            .nonce(self.rng.next_u64())
    }

    pub(crate) fn message(&mut self, attack: Attack) -> Vec<u8> {
        let fx = self.fx.clone();
        match attack {
            Attack::GarbageGossip => {
                if self.rng.below(2) == 0 {
                    let len = 1 + self.rng.below(4096);
                    self.rng.bytes(len)
                } else {
                    let mut bytes = codec::encode(&self.draft(&fx).by_roots(&[&self.key]));
                    for _ in 0..4 {
                        let at = self.rng.below(bytes.len());
                        bytes[at] = self.rng.next_u64() as u8;
                    }
                    bytes
                }
            }
            Attack::BadSignature => {
                let mut entry = self.draft(&fx).by_roots(&[&self.key]);
                if self.rng.below(2) == 0 {
                    if let Some(s) = entry.signatures.first_mut() {
                        let at = self.rng.below(64);
                        s.sig[at] ^= 0x01;
                    }
                } else {
                    // The body changes after signing: the signature no longer covers it.
                    entry.body.nonce ^= 1;
                }
                codec::encode(&entry)
            }
            Attack::Unauthorized => {
                let entry = if self.rng.below(2) == 0 {
                    self.draft(&fx).by_roots(&[&self.key])
                } else {
                    let missing = self.rng.hash();
                    self.draft(&fx).by_holder(missing, &[&self.key])
                };
                codec::encode(&entry)
            }
            Attack::WrongRegistry => {
                let other = self.other.clone();
                codec::encode(&self.draft(&other).by_roots(&[&self.key]))
            }
            Attack::Oversized => {
                let len = 70 * 1024 + self.rng.below(230 * 1024);
                self.rng.bytes(len)
            }
            Attack::SyncGarbage | Attack::ConnectionFlood | Attack::All => Vec::new(),
        }
    }

    /// A sync request no honest node sends (or a valid one that makes the node work).
    pub(crate) fn sync_request(&mut self, k: u64) -> Wire {
        match k % 6 {
            0 => {
                let len = 1 + self.rng.below(512);
                Wire::Bytes(self.rng.bytes(len))
            }
            1 => {
                let mut b = u32::MAX.to_be_bytes().to_vec();
                b.extend(self.rng.bytes(64));
                Wire::Bytes(b)
            }
            2 => {
                let len = 1 + self.rng.below(1024);
                framed(&self.rng.bytes(len))
            }
            3 => Wire::Stall {
                prefix: 64 * 1024,
                secs: 8,
            },
            4 => framed(
                &SyncRequest::Subtree {
                    prefix: Prefix::root(),
                }
                .encode(),
            ),
            _ => {
                let ids = (0..MAX_IDS).map(|_| self.rng.hash()).collect();
                framed(&SyncRequest::Entries { ids }.encode())
            }
        }
    }

    /// An answer to an honest node's sync request that does not answer it.
    pub(crate) fn sync_answer(&mut self, k: u64) -> Wire {
        match k % 6 {
            0 => {
                let len = 1 + self.rng.below(512);
                Wire::Bytes(self.rng.bytes(len))
            }
            1 => {
                let len = 1 + self.rng.below(4096);
                framed(&self.rng.bytes(len))
            }
            2 => Wire::Endless,
            3 => Wire::Stall {
                prefix: MAX_RESPONSE_BYTES as u32,
                secs: 10,
            },
            4 => framed(&SyncResponse::TooLarge { count: u64::MAX }.encode()),
            _ => framed(
                &SyncResponse::Root {
                    root: self.rng.hash(),
                    entries: u64::MAX,
                }
                .encode(),
            ),
        }
    }
}
