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

/// The `n`-th junk pending entry, as anyone can make without a key of the registry: an
/// accreditation authored as the holder of an id no entry has (derived from `n`), signed
/// by a key of its own. Valid in form, it waits in the pending pool for ever.
pub fn junk(fx: &Fixture, n: u64) -> SignedEntry {
    let absent = crate::hash::Hash(*blake3::hash(&n.to_le_bytes()).as_bytes());
    fx.accredit(&entity(1_000_000 + n))
        .grant("issue", "UniversityDegree")
        .controller(key(999).did())
        .nonce(n)
        .by_holder(absent, &[&key(999)])
}

/// Hand-written hostile inputs for decoders (huge length prefixes, over-long varints,
/// truncation, trailing bytes) and a tally that measures what rejecting each one
/// allocated. The caller supplies the allocation counter (a counting global allocator
/// lives in the test binary).
/// Asks whether `who` may take `action` on `resource` at time `at` (an authorization).
pub fn ask(
    reg: &crate::registry::Registry,
    who: &EntityId,
    action: &str,
    resource: &str,
    at: u64,
) -> crate::eval::Decision {
    let q = crate::eval::Query {
        entity: who.as_str(),
        action,
        resource,
        kind: crate::entry::Kind::Authorization,
    };
    crate::eval::evaluate(reg.state(), &q, Timestamp(at))
}

/// The reason of a denial; `None` when the decision authorizes.
pub fn reason(d: &crate::eval::Decision) -> Option<crate::eval::Reason> {
    match d {
        crate::eval::Decision::Authorized { .. } => None,
        crate::eval::Decision::Denied { reason, .. } => Some(*reason),
    }
}

/// Appends `entries` to `ledger` in blocks of the sizes `sizes` yields (the last block takes
/// what is left), each stamped `1_800_000_000` plus the index of its first entry and
/// carrying the state root over every id up to it. Returns the number of blocks and the
/// final root.
pub fn append_in_blocks(
    ledger: &mut crate::store::Ledger,
    entries: &[SignedEntry],
    sizes: impl IntoIterator<Item = usize>,
) -> Result<(u64, crate::hash::Hash), crate::store::StoreError> {
    let mut trie = crate::trie::Trie::new();
    let (mut at, mut blocks) = (0, 0);
    let mut sizes = sizes.into_iter();
    while at < entries.len() {
        let Some(size) = sizes.next() else { break };
        let block = &entries[at..(at + size).min(entries.len())];
        for e in block {
            trie.upsert(e.id(), e.signatures_digest());
        }
        ledger.append(block, Timestamp(1_800_000_000 + at as u64), trie.rehash())?;
        at += block.len();
        blocks += 1;
    }
    Ok((blocks, trie.rehash()))
}

/// Copies a directory tree (a data directory or a ledger, for damaging the copy).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let p = e?.path();
        let target = to.join(p.file_name().unwrap_or_default());
        if p.is_dir() {
            copy_dir(&p, &target)?;
        } else {
            std::fs::copy(&p, target)?;
        }
    }
    Ok(())
}

/// How long [`patiently`] keeps retrying an open that finds the ledger in use.
pub const REOPEN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `open` until it answers anything but [`StoreError::InUse`], for at most
/// [`REOPEN_PATIENCE`], and returns that answer (the last `InUse` when time runs out).
/// sled releases a ledger's file lock from a background thread shortly after the ledger
/// is dropped, so a test that closes a ledger and reopens it at once can find it still
/// held. This is a retry loop with a clock and sleeps, which the ledger itself does
/// without; it is here because the testkit is only built for tests (`test-utils`).
///
/// [`StoreError::InUse`]: crate::store::StoreError::InUse
pub fn patiently<T>(
    mut open: impl FnMut() -> Result<T, crate::store::StoreError>,
) -> Result<T, crate::store::StoreError> {
    let deadline = std::time::Instant::now() + REOPEN_PATIENCE;
    loop {
        match open() {
            Err(crate::store::StoreError::InUse { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            answer => return answer,
        }
    }
}

/// [`Ledger::open`](crate::store::Ledger::open) for a ledger this process may have just
/// closed: retries while sled still holds its lock (see [`patiently`]).
pub fn open_patiently(
    dir: &std::path::Path,
) -> Result<crate::store::Ledger, crate::store::StoreError> {
    patiently(|| crate::store::Ledger::open(dir))
}

pub mod bombs {
    use std::collections::BTreeMap;
    use std::io::Write as _;

    use crate::codec::DecodeError;

    /// A short name for the kind of a decode error, for tallies of rejected inputs.
    pub fn decode_kind(e: &DecodeError) -> &'static str {
        match e {
            DecodeError::TooLarge { .. } => "too_large",
            DecodeError::DeclaredTooLarge { .. } => "declared_too_large",
            DecodeError::Malformed(_) => "malformed",
            DecodeError::TrailingBytes { .. } => "trailing",
            DecodeError::NonCanonical => "non_canonical",
            DecodeError::Invalid(_) => "invalid",
        }
    }

    /// Declared lengths far past every limit: 2^31, 2^32 - 1, 2^32, 2^40 and u64::MAX.
    pub const HUGE: [u64; 5] = [1 << 31, (1 << 32) - 1, 1 << 32, 1 << 40, u64::MAX];

    /// Most bytes one rejected input may allocate.
    pub const MAX_GROWTH: usize = 1024 * 1024;

    /// The canonical (shortest) bincode varint of `n`.
    pub fn varint(n: u64) -> Vec<u8> {
        let mut v = Vec::with_capacity(9);
        if n < 251 {
            v.push(n as u8);
        } else if n <= 0xffff {
            v.push(251);
            v.extend_from_slice(&(n as u16).to_le_bytes());
        } else if n <= 0xffff_ffff {
            v.push(252);
            v.extend_from_slice(&(n as u32).to_le_bytes());
        } else {
            v.push(253);
            v.extend_from_slice(&n.to_le_bytes());
        }
        v
    }

    /// One hostile input and what it tries.
    #[derive(Debug, Clone)]
    pub struct Case {
        pub what: String,
        pub bytes: Vec<u8>,
    }

    fn case(what: String, bytes: Vec<u8>) -> Case {
        Case { what, bytes }
    }

    /// `prefix` (the encoding of everything before a length field) followed by each of
    /// [`HUGE`] and then by `tail` (what little a sender would put after it), plus the same
    /// lengths in an over-long 9-byte form.
    pub fn length_bombs(field: &str, prefix: &[u8], tail: &[u8]) -> Vec<Case> {
        let mut out = Vec::new();
        for n in HUGE {
            let mut b = prefix.to_vec();
            b.extend(varint(n));
            b.extend_from_slice(tail);
            out.push(case(format!("{field} declares {n}"), b));
            let mut b = prefix.to_vec();
            b.push(253);
            b.extend_from_slice(&n.to_le_bytes());
            b.extend_from_slice(tail);
            out.push(case(format!("{field} declares {n} (9-byte varint)"), b));
        }
        out
    }

    /// Inputs derived from a valid encoding: at every structural offset (a length, tag or
    /// varint marker: changing its byte makes the input undecodable, as `decodes` tells),
    /// the byte replaced by huge lengths; at every offset holding a byte under 251, the
    /// byte replaced by over-long varint spellings of itself (3, 5 and 9 bytes); every
    /// truncation; and trailing bytes. Offsets inside keys, hashes, signatures, strings and
    /// numbers are content: a huge value there is just another value, not a bomb.
    pub fn mutations(name: &str, valid: &[u8], decodes: &dyn Fn(&[u8]) -> bool) -> Vec<Case> {
        let mut out = Vec::new();
        for i in 0..valid.len() {
            let (head, rest) = valid.split_at(i);
            let tail = &rest[1..];
            let v = rest[0];
            let mut flipped = valid.to_vec();
            flipped[i] ^= 1;
            let structural = !decodes(&flipped);
            let mut spliced = |what: String, mid: &[u8]| {
                let mut b = head.to_vec();
                b.extend_from_slice(mid);
                b.extend_from_slice(tail);
                out.push(case(format!("{name}: {what} at offset {i}"), b));
            };
            if structural {
                for n in [1u64 << 32, 1 << 40, u64::MAX] {
                    spliced(format!("length {n}"), &varint(n));
                }
                spliced(
                    "u128 marker".into(),
                    &[254, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                );
            }
            if v < 251 {
                spliced(format!("over-long {v} (3 bytes)"), &[251, v, 0]);
                spliced(format!("over-long {v} (5 bytes)"), &[252, v, 0, 0, 0]);
                spliced(
                    format!("over-long {v} (9 bytes)"),
                    &[253, v, 0, 0, 0, 0, 0, 0, 0],
                );
            }
        }
        for n in 0..valid.len() {
            out.push(case(
                format!("{name}: truncated to {n} of {} bytes", valid.len()),
                valid[..n].to_vec(),
            ));
        }
        for extra in [&[0u8][..], &[0; 7], &[0xff; 64], valid] {
            let mut b = valid.to_vec();
            b.extend_from_slice(extra);
            out.push(case(format!("{name}: {} trailing bytes", extra.len()), b));
        }
        out
    }

    /// Runs hostile inputs through one decoder, measuring the allocation of each.
    #[derive(Debug)]
    pub struct Tally {
        name: String,
        pub cases: usize,
        pub rejected: usize,
        /// The most bytes allocated while rejecting one input, and that input.
        pub largest: usize,
        largest_what: String,
        kinds: BTreeMap<&'static str, usize>,
        accepted: Vec<String>,
    }

    impl Tally {
        pub fn new(name: &str) -> Tally {
            Tally {
                name: name.to_string(),
                cases: 0,
                rejected: 0,
                largest: 0,
                largest_what: String::new(),
                kinds: BTreeMap::new(),
                accepted: Vec::new(),
            }
        }

        /// Decodes `case` with `decode`, which gives the kind of error it was rejected
        /// with, or `None` if it was accepted. `allocated_total` reads the allocator's
        /// running sum of bytes ever allocated: its growth over one decode bounds the
        /// growth of the peak of live memory during it.
        pub fn run(
            &mut self,
            allocated_total: &dyn Fn() -> usize,
            case: &Case,
            decode: &dyn Fn(&[u8]) -> Option<&'static str>,
        ) {
            self.cases += 1;
            let before = allocated_total();
            let verdict = decode(&case.bytes);
            let grown = allocated_total().saturating_sub(before);
            if grown > self.largest {
                self.largest = grown;
                self.largest_what = case.what.clone();
            }
            match verdict {
                Some(kind) => {
                    self.rejected += 1;
                    *self.kinds.entry(kind).or_default() += 1;
                }
                None => self.accepted.push(case.what.clone()),
            }
        }

        /// Prints the summary line and fails unless every input was rejected within
        /// [`MAX_GROWTH`].
        pub fn finish(&self) {
            let kinds: Vec<String> = self.kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
            let line = format!(
                "bombs/{}: {} cases, {} rejected ({}), largest allocation for one input {} bytes ({})",
                self.name,
                self.cases,
                self.rejected,
                kinds.join(", "),
                self.largest,
                self.largest_what,
            );
            let _ = writeln!(std::io::stderr(), "{line}");
            assert!(
                self.accepted.is_empty(),
                "{}: accepted {} hostile inputs, e.g. {:?}",
                self.name,
                self.accepted.len(),
                &self.accepted[..self.accepted.len().min(5)]
            );
            assert_eq!(self.rejected, self.cases);
            assert!(
                self.largest < MAX_GROWTH,
                "{}: {} bytes allocated for {}",
                self.name,
                self.largest,
                self.largest_what
            );
        }
    }
}

/// The `n` witness keys of the proof tests (seeds 5000..).
pub fn witness_keys(n: u64) -> Vec<SecretKey> {
    (0..n).map(|i| key(5000 + i)).collect()
}

impl Fixture {
    /// A `SetWitnesses` naming `witnesses` with `quorum`, issued at `at` and signed by
    /// every root (so in force from `at` while the genesis roots are).
    pub fn set_witnesses(&self, witnesses: &[SecretKey], quorum: u16, at: u64) -> SignedEntry {
        self.governance(Governance::SetWitnesses(crate::entry::WitnessSet {
            keys: witnesses.iter().map(|k| k.did()).collect(),
            quorum,
        }))
        .issued_at(at)
        .nonce(at ^ 0x5e7)
        .by_roots(&self.root_keys(self.roots.len()))
    }
}

/// The checkpoint note of `state` at `slot`, signed by `signers`.
pub fn signed_checkpoint(state: &crate::state::State, slot: u64, signers: &[&SecretKey]) -> String {
    let checkpoint = crate::checkpoint::checkpoint_of(state, Timestamp(slot));
    let mut note = crate::checkpoint::note::SignedNote {
        checkpoint,
        signatures: Vec::new(),
    };
    for k in signers {
        let sig = crate::checkpoint::note::SignedNote::sign(&note.checkpoint, k);
        note.merge(sig);
    }
    note.text()
}

/// A registry of 3-level chains, the shape the benchmarks measure: 10 root-accredited
/// authorities (`accredit:*`), each accrediting 10 sub-authorities
/// (`accredit:UniversityDegree`), each accrediting `per_sub` issuers
/// (`issue:UniversityDegree`, issuer `i` is `entity(i)`), with 1% of issuers revoked.
/// Returns the fixture (one root, threshold 1, depth 4), the entries in an order they
/// can be ingested in, and the number of issuers.
pub fn three_level_entries(per_sub: u64) -> (Fixture, Vec<SignedEntry>, u64) {
    let fx = Fixture::new(1, 1, 4);
    let roots = fx.root_keys(1);
    let mut batch = Vec::new();
    let mut n = 1_000_000_000u64;
    let mut issuers = 0u64;
    for _ in 0..10u64 {
        n += 1;
        let ka = key(n);
        let acc_a = fx
            .accredit(&entity(n))
            .grant("accredit", "*")
            .controller(ka.did())
            .nonce(n)
            .by_roots(&roots);
        batch.push(acc_a.clone());
        for _ in 0..10u64 {
            n += 1;
            let kb = key(n);
            let acc_b = fx
                .accredit(&entity(n))
                .grant("accredit", "UniversityDegree")
                .controller(kb.did())
                .nonce(n)
                .by_holder(acc_a.id(), &[&ka]);
            batch.push(acc_b.clone());
            for _ in 0..per_sub {
                let i = issuers;
                issuers += 1;
                let acc_i = fx
                    .accredit(&entity(i))
                    .grant("issue", "UniversityDegree")
                    .controller(kb.did())
                    .valid(0, Some(4_000_000_000))
                    .issued_at(1000)
                    .nonce(i)
                    .by_holder(acc_b.id(), &[&kb]);
                if i % 100 == 7 {
                    batch.push(
                        fx.revoke(acc_i.id(), 5000)
                            .issued_at(5000)
                            .nonce(i)
                            .by_holder(acc_b.id(), &[&kb]),
                    );
                }
                batch.push(acc_i);
            }
        }
    }
    (fx, batch, issuers)
}
