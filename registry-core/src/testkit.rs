//! Builders of keys, genesis and signed entries for tests and benchmarks (feature
//! `test-utils`). Everything is deterministic: keys come from numeric seeds.

use crate::did::{DidKey, EntityId};
use crate::entry::{
    Accreditation, Author, EntryBody, Governance, Grant, Kind, Op, Revocation, SignedEntry,
};
use crate::genesis::Genesis;
use crate::hash::{EntryId, RegistryId};
use crate::keys::SecretKey;
use crate::time::Timestamp;

/// The key derived from a numeric seed.
pub fn key(seed: u64) -> SecretKey {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s[31] = 0x5e;
    SecretKey::from_seed(s)
}

/// An entity id for tests: `did:web:e<n>.example`.
pub fn entity(n: u64) -> EntityId {
    EntityId::parse(&format!("did:web:e{n}.example")).unwrap_or_else(|e| panic!("{e}"))
}

/// A registry with `n_roots` root keys (seeds 1..=n_roots).
#[derive(Debug, Clone)]
pub struct Fixture {
    pub genesis: Genesis,
    pub roots: Vec<SecretKey>,
    pub registry_id: RegistryId,
}

impl Fixture {
    pub fn new(n_roots: u64, threshold: u16, max_depth: u8) -> Fixture {
        let roots: Vec<SecretKey> = (1..=n_roots).map(key).collect();
        let genesis = Genesis::new(
            EntityId::parse("did:web:registry.example").unwrap_or_else(|e| panic!("{e}")),
            "Test registry".into(),
            Timestamp(0),
            roots.iter().map(|k| k.did()).collect(),
            threshold,
            max_depth,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Fixture {
            registry_id: genesis.registry_id(),
            genesis,
            roots,
        }
    }

    /// The root keys, borrowed, first `n` of them.
    pub fn root_keys(&self, n: usize) -> Vec<&SecretKey> {
        self.roots.iter().take(n).collect()
    }

    pub fn accredit(&self, subject: &EntityId) -> Draft {
        Draft::new(
            self.registry_id,
            Op::Accredit(Accreditation {
                subject: subject.clone(),
                kind: Kind::Authorization,
                grants: Vec::new(),
                controllers: Vec::new(),
                valid_from: Timestamp(0),
                valid_until: None,
                label: None,
            }),
        )
    }

    pub fn revoke(&self, target: EntryId, effective_at: u64) -> Draft {
        Draft::new(
            self.registry_id,
            Op::Revoke(Revocation {
                target,
                effective_at: Timestamp(effective_at),
                reason: "test".into(),
            }),
        )
    }

    pub fn governance(&self, g: Governance) -> Draft {
        Draft::new(self.registry_id, Op::Governance(g))
    }
}

/// An entry being put together; finish with [`Draft::by_roots`] or [`Draft::by_holder`].
#[derive(Debug, Clone)]
pub struct Draft {
    body: EntryBody,
}

impl Draft {
    fn new(registry: RegistryId, op: Op) -> Draft {
        Draft {
            body: EntryBody {
                registry,
                issued_at: Timestamp(0),
                author: Author::Roots,
                op,
                nonce: 0,
            },
        }
    }

    fn acc(&mut self) -> Option<&mut Accreditation> {
        match &mut self.body.op {
            Op::Accredit(a) => Some(a),
            _ => None,
        }
    }

    pub fn grant(mut self, action: &str, resource: &str) -> Draft {
        if let Some(a) = self.acc() {
            a.grants.push(Grant {
                action: action.into(),
                resource: resource.into(),
            });
        }
        self
    }

    pub fn controller(mut self, did: DidKey) -> Draft {
        if let Some(a) = self.acc() {
            a.controllers.push(did);
        }
        self
    }

    pub fn recognition(mut self) -> Draft {
        if let Some(a) = self.acc() {
            a.kind = Kind::Recognition;
        }
        self
    }

    pub fn valid(mut self, from: u64, until: Option<u64>) -> Draft {
        if let Some(a) = self.acc() {
            a.valid_from = Timestamp(from);
            a.valid_until = until.map(Timestamp);
        }
        self
    }

    pub fn label(mut self, label: &str) -> Draft {
        if let Some(a) = self.acc() {
            a.label = Some(label.into());
        }
        self
    }

    pub fn issued_at(mut self, t: u64) -> Draft {
        self.body.issued_at = Timestamp(t);
        self
    }

    pub fn nonce(mut self, n: u64) -> Draft {
        self.body.nonce = n;
        self
    }

    pub fn body(&self) -> &EntryBody {
        &self.body
    }

    pub fn by_roots(mut self, keys: &[&SecretKey]) -> SignedEntry {
        self.body.author = Author::Roots;
        self.body.sign(keys)
    }

    pub fn by_holder(mut self, accreditation: EntryId, keys: &[&SecretKey]) -> SignedEntry {
        self.body.author = Author::Holder { accreditation };
        self.body.sign(keys)
    }
}

/// The controller key of [`authority`].
pub const AUTHORITY_KEY_SEED: u64 = 7;

/// An accrediting authority accredited by the first root for `accredit:*`, controlled by
/// `key(AUTHORITY_KEY_SEED)`.
pub fn authority(fx: &Fixture) -> SignedEntry {
    fx.accredit(&entity(0))
        .grant("accredit", "*")
        .controller(key(AUTHORITY_KEY_SEED).did())
        .by_roots(&fx.root_keys(1))
}

/// The `n`-th issuer accreditation published by [`authority`] (`issue:UniversityDegree`,
/// one signature by `signer`, which must be `key(AUTHORITY_KEY_SEED)` to be accepted):
/// the common shape of registry traffic, used by the benchmarks.
pub fn issuer(fx: &Fixture, authority: EntryId, signer: &SecretKey, n: u64) -> SignedEntry {
    fx.accredit(&entity(n))
        .grant("issue", "UniversityDegree")
        .controller(key(n % 64 + 100).did())
        .valid(0, Some(4_000_000_000))
        .label("Example University")
        .issued_at(1_700_000_000)
        .nonce(n)
        .by_holder(authority, &[signer])
}
