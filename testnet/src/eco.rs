//! The ecosystem a testnet runs: a fresh genesis with one root key, an accrediting
//! authority, and issuers it accredits and revokes. Every key derives from the run's seed,
//! so a printed seed reproduces the run.

use registry_core::testkit::{Draft, Fixture};
use registry_core::{EntityId, EntryId, Genesis, SecretKey, SignedEntry, Timestamp};

/// The action and resource the scenarios' issuers are accredited for.
pub const ACTION: &str = "issue";
pub const RESOURCE: &str = "UniversityDegree";

/// Keys and builders of one testnet's entries.
#[derive(Debug, Clone)]
pub struct Ecosystem {
    pub fx: Fixture,
    pub authority_key: SecretKey,
    pub authority: SignedEntry,
    seed: u64,
}

/// A 32-byte key seed from the run's seed and a label (blake3 of both).
fn derive(seed: u64, label: &str) -> [u8; 32] {
    let mut input = seed.to_le_bytes().to_vec();
    input.extend_from_slice(label.as_bytes());
    registry_core::codec::hash_with_domain("trust-registry/testnet-key/v1", &input).0
}

fn now() -> u64 {
    registry_core::Timestamp::from_system_time(std::time::SystemTime::now()).as_secs()
}

impl Ecosystem {
    pub fn new(seed: u64) -> anyhow::Result<Ecosystem> {
        let root = SecretKey::from_seed(derive(seed, "root"));
        let genesis = Genesis::new(
            EntityId::parse("did:web:testnet.registry.example")?,
            format!("Testnet registry {seed:016x}"),
            Timestamp(0),
            vec![root.did()],
            1,
            4,
        )?;
        let fx = Fixture {
            registry_id: genesis.registry_id(),
            genesis,
            roots: vec![root],
        };
        let authority_key = SecretKey::from_seed(derive(seed, "authority"));
        let authority = fx
            .accredit(&EntityId::parse("did:web:authority.testnet.example")?)
            .grant("accredit", "*")
            .controller(authority_key.did())
            .issued_at(now())
            .nonce(seed)
            .by_roots(&fx.root_keys(1));
        Ok(Ecosystem {
            fx,
            authority_key,
            authority,
            seed,
        })
    }

    pub fn root_key(&self) -> &SecretKey {
        &self.fx.roots[0]
    }

    /// `did:web:issuer-<n>.testnet.example`.
    pub fn issuer_entity(n: u64) -> EntityId {
        EntityId::parse(&format!("did:web:issuer-{n}.testnet.example"))
            .unwrap_or_else(|e| panic!("a fixed DID pattern is valid: {e}"))
    }

    fn issuer_draft(&self, n: u64) -> Draft {
        self.fx
            .accredit(&Ecosystem::issuer_entity(n))
            .grant(ACTION, RESOURCE)
            .controller(SecretKey::from_seed(derive(self.seed ^ n, "issuer")).did())
            .valid(0, None)
            .label("Testnet issuer")
            .issued_at(now())
            .nonce(n)
    }

    /// The authority accredits issuer `n` for `issue:UniversityDegree`.
    pub fn issuer(&self, n: u64) -> SignedEntry {
        self.issuer_draft(n)
            .by_holder(self.authority.id(), &[&self.authority_key])
    }

    /// The roots accredit issuer `n` directly: a second accreditation of the same subject,
    /// which a revocation of the authority's does not touch.
    pub fn issuer_by_roots(&self, n: u64, nonce: u64) -> SignedEntry {
        self.issuer_draft(n)
            .nonce(nonce)
            .by_roots(&self.fx.root_keys(1))
    }

    /// The authority revokes accreditation `target` from now on.
    pub fn revoke(&self, target: EntryId, nonce: u64) -> SignedEntry {
        let t = now();
        self.fx
            .revoke(target, t)
            .issued_at(t)
            .nonce(nonce)
            .by_holder(self.authority.id(), &[&self.authority_key])
    }
}
