//! JSON types of the node's HTTP API (DESIGN section 9), shared by the node and the CLI so
//! that both sides agree on every field.
//!
//! Times are RFC 3339 strings in UTC (`2026-01-31T12:00:00Z`); hashes are lowercase hex;
//! keys are did:key strings.
//!
//! Time semantics follow TRQP: `time_requested` is the time the caller asked about (absent
//! when it asked about "now"); `time_evaluated` is the node's clock when it answered. The
//! answer applies at `time_requested` when present, otherwise at `time_evaluated`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::block::Block;
use crate::did::DidKey;
use crate::entry::{Author, Grant, Kind, SignedEntry};
use crate::eval::{Cause, Decisive, Reason};
use crate::hash::{EntryId, Hash};
use crate::time::Timestamp;

/// `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub registry_id: Hash,
    pub authority_id: String,
    pub name: String,
    /// This node's libp2p peer id (absent while networking is off).
    pub peer_id: Option<String>,
    /// Addresses the node listens on for peers, usable as bootstrap addresses.
    pub listen_addrs: Vec<String>,
    /// Connected peers.
    pub peers: usize,
    /// Height and hash of the last block of the local ledger.
    pub height: u64,
    pub head: Hash,
    pub state_root: Hash,
    /// Accepted entries.
    pub entries: u64,
    /// Entries waiting for a reference.
    pub pending: usize,
    /// When this node last completed a sync with a peer.
    pub last_sync_at: Option<String>,
    /// Software version.
    pub version: String,
    /// The root keys and threshold in force now (after governance).
    pub roots: Vec<DidKey>,
    pub threshold: u16,
    pub max_depth: u8,
    /// Every root epoch, oldest first: the genesis roots, then one per accepted governance
    /// entry in `(issued_at, id)` order. The last is the one in force now.
    #[serde(default)]
    pub governance: Vec<RootEpochView>,
    /// Checkpoints (absent from nodes that predate them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<CheckpointStatus>,
}

/// The root keys and threshold in force for entries issued from `since` on, until the
/// next epoch's `since`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootEpochView {
    pub since: Timestamp,
    /// The governance entry that began it (absent for the genesis).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<EntryId>,
    pub roots: Vec<DidKey>,
    pub threshold: u16,
}

/// `GET /v1/entries?from_height=H&max_blocks=N`: accepted entries in ledger order, block
/// by block, for export. `next_height` is where the next page starts (absent at the end).
/// (An addition to DESIGN section 9: export needs a way to list entries without one
/// request per entry.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryPage {
    pub entries: Vec<SignedEntry>,
    pub next_height: Option<u64>,
}

/// Response to `POST /v1/entries` (202 Accepted once the entry is durable, or 202 when it
/// waits in the pending pool).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submitted {
    pub id: EntryId,
    pub status: SubmitStatus,
    /// For `pending`: the entries it waits for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<EntryId>,
}

/// Most entries in one `POST /v1/entries/batch`.
pub const MAX_BATCH_ENTRIES: usize = 1024;

/// One entry's outcome in the answer to `POST /v1/entries/batch`, in the order sent:
/// what `POST /v1/entries` would have answered for it alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchOutcome {
    pub id: EntryId,
    /// `None` when the entry was refused (see `error`).
    pub status: Option<SubmitStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<EntryId>,
    /// Why it was refused: the code and the message a single submit's problem carries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<BatchError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchError {
    pub code: String,
    pub message: String,
}

/// The answer to `POST /v1/entries/batch` (200 once every accepted entry is durable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchSubmitted {
    pub outcomes: Vec<BatchOutcome>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmitStatus {
    /// Accepted and durable in the ledger.
    Accepted,
    /// Was already accepted, and this copy brought signatures that count: the entry now
    /// holds them too (durable).
    Merged,
    /// Was already accepted with every signature of this copy that counts.
    Duplicate,
    /// Valid, waiting for the entries it refers to.
    Pending,
}

/// `GET /v1/entries/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryView {
    pub id: EntryId,
    pub status: EntryStatus,
    /// Block of the local ledger holding it (accepted entries only).
    pub height: Option<u64>,
    pub entry: SignedEntry,
    /// For accreditations: whether effective now, and if not, why. For governance entries:
    /// whether the change took effect (started an epoch of the governance timeline; a
    /// change that would leave the roots unable to act is kept but changes nothing).
    pub effective_now: Option<bool>,
    pub reason_now: Option<Reason>,
    /// For an accreditation not effective now: the entry that decides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decisive_now: Option<DecisiveView>,
    /// Accepted revocations that target it.
    pub revocations: Vec<EntryId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    Accepted,
    Pending,
}

/// Query string of `GET /v1/trust`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustParams {
    pub entity_id: String,
    pub action: String,
    pub resource: String,
    /// RFC 3339 (UTC, Z); absent: now.
    pub at: Option<String>,
    /// `recognition` to ask a recognition question; default `authorization`.
    pub kind: Option<Kind>,
}

/// The whole query string `GET /v1/trust` accepts: the question ([`TrustParams`]) and
/// what section 12 adds to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustQuery {
    pub entity_id: String,
    pub action: String,
    pub resource: String,
    pub at: Option<String>,
    pub kind: Option<Kind>,
    /// `true`: add a [`ProofView`] of the answer at the checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<bool>,
    /// Refuse (503 `stale`) to call an answer authorized when the node's cosigned
    /// knowledge is older than this many seconds. A denial is never refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
}

/// How current a node's answer is: it answers from what it holds, even when cut off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freshness {
    /// When this node last completed a sync with a peer (never: absent).
    pub last_sync_at: Option<String>,
    /// Seconds since then.
    pub seconds_since_sync: Option<u64>,
    /// Peers connected now.
    pub peers: usize,
    /// The newest slot whose checkpoint a quorum of witnesses signed (none yet: null).
    #[serde(default)]
    pub checkpoint_slot: Option<String>,
    /// Seconds from what that checkpoint knows (its slot minus the lag) to now: how old
    /// the cosigned knowledge behind this answer is (none yet: null).
    #[serde(default)]
    pub knowledge_age_secs: Option<u64>,
}

/// The `proof` member of an answer asked with `proof=true`: the answer at the checkpoint
/// state, with the bundle that proves it offline (`registry verify-proof`).
///
/// The live answer beside it comes from the live state, the proof from the checkpoint
/// state, which trails it by the lag: when an entry arrived in between, `authorized`
/// here may differ from the live answer's. The proof states what a quorum of witnesses
/// vouches for; the live answer what this node holds now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofView {
    /// The checkpoint's slot.
    pub slot: String,
    /// Entries issued before this time are in the proven state (the slot minus the lag).
    pub knowledge_until: String,
    /// Signatures on the note by witnesses in force at the slot.
    pub signatures: usize,
    /// Whether those meet the witnesses' quorum (else the bundle verifies only against
    /// a verifier's own witness list).
    pub cosigned: bool,
    /// The decision the bundle proves.
    pub authorized: bool,
    /// Why not, when the proven decision is a denial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The checkpoint as a signed note (`c2sp.org/signed-note`).
    pub checkpoint: String,
    /// Padded standard base64 of the bundle's canonical encoding (`Bundle::encode`).
    pub bundle: String,
}

/// Why the `bundle` of a [`ProofView`] cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleTextError {
    #[error("the bundle is longer than {max} bytes")]
    TooLarge { max: usize },
    #[error("the bundle is not padded standard base64")]
    NotBase64,
}

impl ProofView {
    /// The base64 text of an encoded bundle, as the `bundle` member carries it.
    pub fn bundle_text(encoded: &[u8]) -> String {
        crate::checkpoint::note::base64::base64_encode(encoded)
    }

    /// The encoded bundle (still to be decoded with `Bundle::decode`). The text is
    /// checked against the bundle size limit before anything is allocated.
    pub fn bundle_bytes(&self) -> Result<Vec<u8>, BundleTextError> {
        let max = crate::proof::MAX_BUNDLE_BYTES;
        if self.bundle.len() > max.div_ceil(3) * 4 {
            return Err(BundleTextError::TooLarge { max });
        }
        let mut out = vec![0u8; self.bundle.len() / 4 * 3];
        let n = crate::checkpoint::note::base64::base64_decode_into(&self.bundle, &mut out)
            .ok_or(BundleTextError::NotBase64)?;
        out.truncate(n);
        Ok(out)
    }
}

/// `GET /v1/trust`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustAnswer {
    pub authorized: bool,
    pub entity_id: String,
    pub action: String,
    pub resource: String,
    pub kind: Kind,
    pub time_requested: Option<String>,
    pub time_evaluated: String,
    /// Why not, when not authorized.
    pub reason: Option<Reason>,
    /// The matching accreditation the answer rests on.
    pub accreditation: Option<EntryId>,
    /// Accreditation ids from the matching one up to the root-authored one.
    pub chain: Vec<EntryId>,
    /// When authorized: each accreditation of `chain`, in the same order, with its subject,
    /// label and window.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<ChainLink>,
    /// When authorized: the end of the window in which every accreditation of the chain is
    /// valid (the earliest `valid_until`; absent when none of them ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// When not authorized and an accreditation matched: the entry the denial rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decisive: Option<DecisiveView>,
    pub state_root: Hash,
    pub height: u64,
    pub freshness: Freshness,
    /// With `proof=true`: the answer at the checkpoint and its proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<ProofView>,
}

/// One accreditation of a chain in a [`TrustAnswer`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    pub id: EntryId,
    pub subject: String,
    pub label: Option<String>,
    pub valid_from: String,
    pub valid_until: Option<String>,
}

/// The kind of entry a denial rests on ([`DecisiveView::cause`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisiveCause {
    /// `entry` is a revocation of `accreditation` in effect at the time asked.
    Revocation,
    /// The time asked is outside the window of `entry`, an accreditation.
    Window,
    /// The author of `entry`, an accreditation, had no right to issue it.
    NotEntitled,
}

/// The entry a denial rests on, with what decided: the revocation's `effective_at` and
/// reason, the accreditation's window, or why its author was not entitled (`detail`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisiveView {
    pub entry: EntryId,
    /// The accreditation the entry concerns: the queried one, or one above it in its chain.
    pub accreditation: EntryId,
    pub cause: DecisiveCause,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// The same, as a sentence.
    pub detail: String,
}

impl From<&Decisive> for DecisiveView {
    fn from(d: &Decisive) -> DecisiveView {
        let mut view = DecisiveView {
            entry: d.entry,
            accreditation: d.accreditation,
            cause: DecisiveCause::NotEntitled,
            effective_at: None,
            revocation_reason: None,
            valid_from: None,
            valid_until: None,
            detail: d.to_string(),
        };
        match &d.cause {
            Cause::Revocation {
                effective_at,
                reason,
            } => {
                view.cause = DecisiveCause::Revocation;
                view.effective_at = Some(effective_at.to_rfc3339());
                view.revocation_reason = Some(reason.clone());
            }
            Cause::Window {
                valid_from,
                valid_until,
            } => {
                view.cause = DecisiveCause::Window;
                view.valid_from = Some(valid_from.to_rfc3339());
                view.valid_until = rfc3339(*valid_until);
            }
            Cause::NotEntitled(_) => {}
        }
        view
    }
}

/// One accreditation of an entity, with its status now (`GET /v1/subjects/{entity_id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccreditationView {
    pub id: EntryId,
    pub kind: Kind,
    pub grants: Vec<Grant>,
    pub author: Author,
    pub label: Option<String>,
    pub issued_at: String,
    pub valid_from: String,
    pub valid_until: Option<String>,
    pub effective_now: bool,
    pub reason_now: Option<Reason>,
    pub chain: Vec<EntryId>,
    pub revocations: Vec<EntryId>,
}

/// `GET /v1/subjects/{entity_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectView {
    pub entity_id: String,
    pub time_evaluated: String,
    pub accreditations: Vec<AccreditationView>,
}

/// A block as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockView {
    pub height: u64,
    pub hash: Hash,
    pub prev: Hash,
    pub timestamp: String,
    pub entries: Vec<EntryId>,
    pub state_root: Hash,
}

impl From<&Block> for BlockView {
    fn from(b: &Block) -> BlockView {
        BlockView {
            height: b.height,
            hash: b.hash(),
            prev: b.prev,
            timestamp: b.timestamp.to_rfc3339(),
            entries: b.entries.clone(),
            state_root: b.state_root,
        }
    }
}

/// `GET /v1/blocks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockList {
    pub blocks: Vec<BlockView>,
    pub height: u64,
}

/// One connected peer (`GET /v1/peers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerView {
    pub peer_id: String,
    pub addresses: Vec<String>,
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerList {
    pub peers: Vec<PeerView>,
    /// The peers this node refuses, and whether the config (`p2p.deny`) or an operator
    /// (`registry peers deny`, kept across restarts) denied them.
    #[serde(default)]
    pub denied: Vec<DeniedPeer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeniedPeer {
    pub peer_id: String,
    /// `config` or `operator`.
    pub source: String,
}

/// Body of `POST /v1/admin/peers/deny` and `/allow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerRequest {
    pub peer_id: String,
}

/// The answer of `POST /v1/admin/peers/deny` and `/allow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerChange {
    pub peer_id: String,
    /// Whether this request changed the deny-list (false: it already said so).
    pub changed: bool,
    /// Whether the peer is denied now.
    pub denied: bool,
}

/// RFC 7807 problem details, the body of every error (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

impl Problem {
    /// A problem whose type is `urn:trust-registry:problem:<code>`.
    pub fn new(status: u16, code: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("urn:trust-registry:problem:{code}"),
            title: title.to_string(),
            status,
            detail: detail.into(),
        }
    }
}

/// TRQP v2 `context`: string values; `time` (RFC 3339, Z) is the time asked about.
pub type TrqpContext = BTreeMap<String, String>;

/// TRQP v2 `POST /authorization` and `POST /recognition` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrqpRequest {
    pub entity_id: String,
    pub authority_id: String,
    pub action: String,
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<TrqpContext>,
}

/// TRQP v2 `POST /authorization` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrqpAuthorization {
    pub entity_id: String,
    pub authority_id: String,
    pub action: String,
    pub resource: String,
    pub authorized: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_requested: Option<String>,
    pub time_evaluated: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Extension member (the schema allows members it does not name): the reason code of a
    /// negative answer, as `/v1/trust` gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// Extension member: the id of the entry a negative answer rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decisive_entry: Option<EntryId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<TrqpContext>,
    /// Extension member, with `context.proof = "true"`: the answer at the checkpoint and
    /// its proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<ProofView>,
    /// Extension member: how fresh the answer is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<Freshness>,
}

/// TRQP v2 `POST /recognition` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrqpRecognition {
    pub entity_id: String,
    pub authority_id: String,
    pub action: String,
    pub resource: String,
    pub recognized: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_requested: Option<String>,
    pub time_evaluated: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Extension member (the schema allows members it does not name): the reason code of a
    /// negative answer, as `/v1/trust` gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// Extension member: the id of the entry a negative answer rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decisive_entry: Option<EntryId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<TrqpContext>,
    /// Extension member, with `context.proof = "true"`: the answer at the checkpoint and
    /// its proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<ProofView>,
    /// Extension member: how fresh the answer is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<Freshness>,
}

/// Formats an optional timestamp as RFC 3339.
pub fn rfc3339(t: Option<Timestamp>) -> Option<String> {
    t.map(Timestamp::to_rfc3339)
}

/// The `checkpoint` member of `GET /v1/status`: this node's checkpoints and witness role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointStatus {
    pub interval_secs: u64,
    pub lag_secs: u64,
    /// The slot of the note served as the latest (absent before the first slot).
    pub latest_slot: Option<u64>,
    /// Signatures of witnesses in force on that note.
    pub latest_signatures: usize,
    /// Signatures a note needs (absent while no witness set is in force for it).
    pub quorum: Option<u16>,
    /// Whether the latest note has its quorum.
    pub cosigned: bool,
    /// Whether this node is a witness in force (and so signs).
    pub witness: bool,
    /// This node's witness id: the did:key of its node key.
    pub witness_key: DidKey,
    /// The last slot this node signed.
    pub last_signed_slot: Option<u64>,
    /// Witnesses caught signing two bodies for one slot.
    pub equivocations: Vec<EquivocationView>,
    /// Most checkpoint signatures from peers are for slots far from this node's clock.
    pub clock_skew_suspected: bool,
}

/// One equivocation: the signer, the slot, and the commitments of the two bodies it signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EquivocationView {
    pub signer: DidKey,
    pub slot: u64,
    pub commitments: [Hash; 2],
}
