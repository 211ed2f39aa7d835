//! Registry entries: what authorities sign, and the structural checks every entry passes
//! before anything else looks at it.

use serde::{Deserialize, Serialize};

use crate::codec::{self, domain, DecodeError, MAX_MESSAGE_BYTES};
use crate::did::{DidKey, EntityId};
use crate::hash::{bytes64, EntryId, RegistryId};
use crate::keys::SecretKey;
use crate::time::Timestamp;

/// Most signatures on one entry.
pub const MAX_SIGNATURES: usize = 32;
/// Most grants in one accreditation.
pub const MAX_GRANTS: usize = 64;
/// Most controller keys of one accreditation.
pub const MAX_CONTROLLERS: usize = 16;
/// Longest action name, in bytes.
pub const MAX_ACTION_BYTES: usize = 128;
/// Longest resource name, in bytes.
pub const MAX_RESOURCE_BYTES: usize = 256;
/// Longest label, in bytes.
pub const MAX_LABEL_BYTES: usize = 256;
/// Longest revocation reason, in bytes.
pub const MAX_REASON_BYTES: usize = 512;
/// Most witness keys in one witness set.
pub const MAX_WITNESSES: usize = 64;
/// The action that lets a holder accredit others for a resource.
pub const ACCREDIT_ACTION: &str = "accredit";
/// A grant resource that covers every resource.
pub const ANY_RESOURCE: &str = "*";

/// Adds `sig` to `set` (sorted by signer, each signer once); true if the set changed.
/// For a signer already present, the smaller signature bytes are kept: ed25519 lets a
/// key holder make many valid signatures of one message, and the smaller one is a choice
/// every node makes alike, so the merge of any copies in any order is the same set.
pub fn merge_signature(set: &mut Vec<Signature>, sig: &Signature) -> bool {
    match set.binary_search_by(|s| s.signer.cmp(&sig.signer)) {
        Ok(i) if sig.sig < set[i].sig => {
            set[i] = sig.clone();
            true
        }
        Ok(_) => false,
        Err(i) => {
            set.insert(i, sig.clone());
            true
        }
    }
}

/// An entry with its signatures. Each signature signs the 32-byte entry id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedEntry {
    pub body: EntryBody,
    #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_SIGNATURES>")]
    pub signatures: Vec<Signature>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    pub signer: DidKey,
    #[serde(with = "bytes64")]
    pub sig: [u8; 64],
}

/// The signed content of an entry; its hash is the entry id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryBody {
    pub registry: RegistryId,
    pub issued_at: Timestamp,
    pub author: Author,
    pub op: Op,
    /// Distinguishes otherwise identical entries.
    pub nonce: u64,
}

/// On whose authority an entry is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    /// Signed by at least `threshold` distinct root keys.
    Roots,
    /// Signed by a controller key of this accepted accreditation.
    Holder { accreditation: EntryId },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Accredit(Accreditation),
    Revoke(Revocation),
    /// Changes to the root set; only `Author::Roots` may make them.
    Governance(Governance),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    pub target: EntryId,
    /// From when the target stops counting; may be earlier than the revocation itself.
    pub effective_at: Timestamp,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Governance {
    AddRoot(DidKey),
    RemoveRoot(DidKey),
    SetThreshold(u16),
    /// Names the node keys whose checkpoint signatures count, and how many of them a
    /// checkpoint needs (section 12). A later set replaces an earlier one.
    SetWitnesses(WitnessSet),
}

/// The witnesses of checkpoints: `quorum` distinct keys of `keys` must sign one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessSet {
    /// Unique; at most [`MAX_WITNESSES`].
    #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_WITNESSES>")]
    pub keys: Vec<DidKey>,
    pub quorum: u16,
}

impl WitnessSet {
    /// The same set with its keys sorted, so lookups can binary-search.
    pub fn sorted(&self) -> WitnessSet {
        let mut keys = self.keys.clone();
        keys.sort();
        WitnessSet {
            keys,
            quorum: self.quorum,
        }
    }

    fn check(&self) -> Result<(), EntryError> {
        if self.keys.is_empty() || self.keys.len() > MAX_WITNESSES {
            return Err(EntryError::WitnessCount);
        }
        for (i, k) in self.keys.iter().enumerate() {
            if self.keys[..i].contains(k) {
                return Err(EntryError::DuplicateWitness(*k));
            }
        }
        if self.quorum == 0 || usize::from(self.quorum) > self.keys.len() {
            return Err(EntryError::Quorum {
                quorum: self.quorum,
                witnesses: self.keys.len(),
            });
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// TRQP `/authorization`: the subject may perform the granted actions.
    Authorization,
    /// TRQP `/recognition`: the author recognizes the subject for the granted actions.
    Recognition,
}

/// "Entity `subject` may do these actions on these resources", valid over a time range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accreditation {
    pub subject: EntityId,
    pub kind: Kind,
    #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_GRANTS>")]
    pub grants: Vec<Grant>,
    /// did:keys that may author entries as the holder of this accreditation.
    #[serde(deserialize_with = "codec::bounded_vec::<_, _, MAX_CONTROLLERS>")]
    pub controllers: Vec<DidKey>,
    pub valid_from: Timestamp,
    pub valid_until: Option<Timestamp>,
    pub label: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub action: String,
    /// A resource name, or `*` for any resource.
    pub resource: String,
}

impl Grant {
    /// Parses `ACTION:RESOURCE`, split at the first colon.
    pub fn parse(s: &str) -> Result<Grant, EntryError> {
        let (action, resource) = s
            .split_once(':')
            .ok_or_else(|| EntryError::Grant(format!("{s:?} is not ACTION:RESOURCE")))?;
        let g = Grant {
            action: action.to_string(),
            resource: resource.to_string(),
        };
        g.check()?;
        Ok(g)
    }

    /// Whether this grant covers `action` on `resource`.
    pub fn covers(&self, action: &str, resource: &str) -> bool {
        self.action == action && (self.resource == ANY_RESOURCE || self.resource == resource)
    }

    /// Whether this grant lets its holder accredit others for grants on `resource`.
    pub fn accredits(&self, resource: &str) -> bool {
        self.covers(ACCREDIT_ACTION, resource)
    }

    fn check(&self) -> Result<(), EntryError> {
        check_name("action", &self.action, MAX_ACTION_BYTES, true)?;
        // Only resources have a wildcard; an action "*" would look like one and match
        // nothing but the literal action "*", so it is refused rather than silently inert.
        if self.action == ANY_RESOURCE {
            return Err(EntryError::WildcardAction);
        }
        check_name("resource", &self.resource, MAX_RESOURCE_BYTES, false)
    }
}

/// Actions and resources: non-empty, bounded, printable, no whitespace; actions also
/// contain no ':' (so `ACTION:RESOURCE` is unambiguous).
pub fn check_name(what: &str, s: &str, max: usize, is_action: bool) -> Result<(), EntryError> {
    if s.is_empty() || s.len() > max {
        return Err(EntryError::Grant(format!(
            "{what} must be 1 to {max} bytes"
        )));
    }
    if s.chars()
        .any(|c| c.is_control() || c.is_whitespace() || (is_action && c == ':'))
    {
        return Err(EntryError::Grant(format!(
            "{what} {s:?} contains whitespace, control characters{}",
            if is_action { " or ':'" } else { "" }
        )));
    }
    Ok(())
}

/// A structurally invalid entry: rejected whatever else the registry holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("entry is for registry {got}, this registry is {expected}")]
    WrongRegistry {
        expected: RegistryId,
        got: RegistryId,
    },
    #[error("entry has no signatures")]
    Unsigned,
    #[error("entry has {0} signatures, more than {MAX_SIGNATURES}")]
    TooManySignatures(usize),
    #[error("signer {0} appears more than once")]
    DuplicateSigner(DidKey),
    #[error("invalid grant: {0}")]
    Grant(String),
    #[error("an accreditation needs 1 to {MAX_GRANTS} grants")]
    GrantCount,
    #[error(
        "action \"*\" is not a wildcard: actions are matched exactly, so grant each action \
         by name (only the resource may be \"*\")"
    )]
    WildcardAction,
    #[error("grant {0} is listed twice")]
    DuplicateGrant(String),
    #[error("an accreditation has at most {MAX_CONTROLLERS} unique controllers")]
    Controllers,
    #[error("an accreditation whose subject is not a did:key needs at least one controller")]
    NoController,
    #[error("valid_until {valid_until} must be later than valid_from {valid_from}")]
    EmptyValidity {
        valid_from: Timestamp,
        valid_until: Timestamp,
    },
    #[error("label must be at most {MAX_LABEL_BYTES} bytes")]
    Label,
    #[error("reason must be at most {MAX_REASON_BYTES} bytes")]
    Reason,
    #[error("governance entries must be authored by the roots")]
    GovernanceByHolder,
    #[error("threshold must be at least 1")]
    ZeroThreshold,
    #[error("a witness set names 1 to {MAX_WITNESSES} keys")]
    WitnessCount,
    #[error("witness {0} is listed twice")]
    DuplicateWitness(DidKey),
    #[error("quorum {quorum} must be 1 to the number of witnesses ({witnesses})")]
    Quorum { quorum: u16, witnesses: usize },
}

impl EntryBody {
    /// `blake3(domain "trust-registry/entry/v1" || encode(body))`.
    pub fn id(&self) -> EntryId {
        codec::hash_value(domain::ENTRY, self)
    }

    /// Signs the body with each key, in order.
    pub fn sign(self, keys: &[&SecretKey]) -> SignedEntry {
        let id = self.id();
        let signatures = keys
            .iter()
            .map(|k| Signature {
                signer: k.did(),
                sig: k.sign(id.as_bytes()),
            })
            .collect();
        SignedEntry {
            body: self,
            signatures,
        }
    }
}

impl Accreditation {
    /// Whether `key` may author entries as the holder of this accreditation: a listed
    /// controller, or the subject itself when it is a did:key.
    pub fn is_controller(&self, key: &DidKey) -> bool {
        self.controllers.contains(key) || self.subject.as_did_key().as_ref() == Some(key)
    }

    /// Whether its holder may accredit others for grants on `resource`: an authorization
    /// with a grant of `accredit` on it (or on `*`).
    pub fn accredits(&self, resource: &str) -> bool {
        self.kind == Kind::Authorization && self.grants.iter().any(|p| p.accredits(resource))
    }

    fn check(&self) -> Result<(), EntryError> {
        if self.grants.is_empty() || self.grants.len() > MAX_GRANTS {
            return Err(EntryError::GrantCount);
        }
        for (i, g) in self.grants.iter().enumerate() {
            g.check()?;
            if self.grants[..i].contains(g) {
                return Err(EntryError::DuplicateGrant(format!(
                    "{}:{}",
                    g.action, g.resource
                )));
            }
        }
        if self.controllers.len() > MAX_CONTROLLERS {
            return Err(EntryError::Controllers);
        }
        for (i, c) in self.controllers.iter().enumerate() {
            if self.controllers[..i].contains(c) {
                return Err(EntryError::Controllers);
            }
        }
        if self.controllers.is_empty() && self.subject.as_did_key().is_none() {
            return Err(EntryError::NoController);
        }
        if let Some(valid_until) = self.valid_until.filter(|u| *u <= self.valid_from) {
            return Err(EntryError::EmptyValidity {
                valid_from: self.valid_from,
                valid_until,
            });
        }
        if self
            .label
            .as_ref()
            .is_some_and(|l| l.len() > MAX_LABEL_BYTES)
        {
            return Err(EntryError::Label);
        }
        Ok(())
    }
}

impl SignedEntry {
    pub fn id(&self) -> EntryId {
        self.body.id()
    }

    /// The canonical binary encoding (what gossip carries and the ledger stores).
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes untrusted bytes (at most 64 KiB, canonical, nothing trailing).
    pub fn decode(bytes: &[u8]) -> Result<SignedEntry, DecodeError> {
        codec::decode(bytes, MAX_MESSAGE_BYTES)
    }

    /// The structural checks of acceptance rule 1 that need nothing but the entry itself
    /// and the registry id (signatures are checked separately, in batches).
    pub fn check_structure(&self, registry: &RegistryId) -> Result<(), EntryError> {
        if self.body.registry != *registry {
            return Err(EntryError::WrongRegistry {
                expected: *registry,
                got: self.body.registry,
            });
        }
        if self.signatures.is_empty() {
            return Err(EntryError::Unsigned);
        }
        if self.signatures.len() > MAX_SIGNATURES {
            return Err(EntryError::TooManySignatures(self.signatures.len()));
        }
        for (i, s) in self.signatures.iter().enumerate() {
            if self.signatures[..i].iter().any(|o| o.signer == s.signer) {
                return Err(EntryError::DuplicateSigner(s.signer));
            }
        }
        match (&self.body.op, &self.body.author) {
            (Op::Accredit(a), _) => a.check(),
            (Op::Revoke(r), _) => {
                if r.reason.len() > MAX_REASON_BYTES {
                    return Err(EntryError::Reason);
                }
                Ok(())
            }
            (Op::Governance(_), Author::Holder { .. }) => Err(EntryError::GovernanceByHolder),
            (Op::Governance(Governance::SetThreshold(0)), Author::Roots) => {
                Err(EntryError::ZeroThreshold)
            }
            (Op::Governance(Governance::SetWitnesses(w)), Author::Roots) => w.check(),
            (Op::Governance(_), Author::Roots) => Ok(()),
        }
    }

    /// The distinct signer keys.
    pub fn signers(&self) -> impl Iterator<Item = &DidKey> {
        self.signatures.iter().map(|s| &s.signer)
    }

    /// The digest of the signature set as held (an accepted entry holds its signatures in
    /// canonical order: sorted by signer, each signer once): the value of the entry's leaf
    /// in the state trie, so equal roots mean equal signatures.
    pub fn signatures_digest(&self) -> crate::hash::Hash {
        codec::hash_value(codec::domain::SIGNATURES, &self.signatures)
    }

    pub fn accreditation(&self) -> Option<&Accreditation> {
        match &self.body.op {
            Op::Accredit(a) => Some(a),
            _ => None,
        }
    }

    /// The entries this one refers to, which must be accepted before it can be: the
    /// author's accreditation and the target of a revocation.
    pub fn references(&self) -> impl Iterator<Item = EntryId> {
        let holder = match self.body.author {
            Author::Holder { accreditation } => Some(accreditation),
            Author::Roots => None,
        };
        let target = match &self.body.op {
            Op::Revoke(r) => Some(r.target),
            _ => None,
        };
        holder.into_iter().chain(target)
    }
}
