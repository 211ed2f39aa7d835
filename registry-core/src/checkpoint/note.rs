//! Checkpoints as C2SP signed notes (`c2sp.org/signed-note`), with a body in the
//! `tlog-checkpoint` shape, so that standard note tooling can read and check them.
//!
//! A note is its text (the body: lines each ending in `\n`), a blank line, then one line per
//! signature: `— <key name> <base64(4-byte key id || signature)>`. Our signers are ed25519
//! keys named by their `did:key` string; the key id is
//! `SHA-256(name || 0x0A || 0x01 || public key)[:4]` and the signature is over the body
//! bytes. The body is:
//!
//! ```text
//! trust-registry/<registry id hex>
//! <accepted entry count>
//! <base64 commitment>
//! slot <unix seconds>
//! set <set root hex>
//! index <index root hex>
//! ```
//!
//! where the commitment is blake3 under [`domain::CHECKPOINT`] of
//! `set root || index root || count (u64 BE) || slot (u64 BE)`. The third line is what a
//! generic checkpoint reader takes for the root hash; the commitment binds it to the
//! extension lines, and a body whose commitment disagrees with them is refused.
//!
//! Parsing is strict where the body is ours (one spelling per checkpoint) and follows the
//! spec where lines come from others: signatures by keys a verifier does not know are
//! ignored, whatever their name, key id or length.

use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::codec::{domain, hash_with_domain};
use crate::did::DidKey;
use crate::hash::{Hash, RegistryId};
use crate::keys::SecretKey;
use crate::time::Timestamp;

use base64::{base64_decode_into, base64_encode};

/// The notes' base64 (standard, padded, canonical), also what a proof's bundle text uses.
pub(crate) mod base64;

/// Largest note parsed: 100 did:key signatures and a body take 15,687 bytes.
pub const MAX_NOTE_BYTES: usize = 16 * 1024;
/// Most signature lines parsed (the spec asks verifiers to accept at least 16).
pub const MAX_NOTE_SIGNATURES: usize = 100;
/// The origin line is this followed by the registry id in lowercase hex.
pub const ORIGIN_PREFIX: &str = "trust-registry/";

/// The signed-note signature type byte of ed25519, hashed into the key id.
const ED25519_TYPE: u8 = 0x01;
/// Em dash (U+2014) and a space: the start of every signature line.
const SIGNATURE_PREFIX: &str = "\u{2014} ";
/// Base64 of a 4-byte key id and a 64-byte ed25519 signature.
const SIGNATURE_B64_LEN: usize = 92;
/// Lines of a checkpoint body.
const BODY_LINES: usize = 6;
/// Longest input quoted back in an error.
const QUOTE_CHARS: usize = 80;

/// Why a note, or one of its signatures, was refused. Each message names the fault so a
/// relying party can tell a malformed note from one that is well formed but unsigned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("note is {len} bytes, over the limit of {MAX_NOTE_BYTES}")]
    TooLarge { len: usize },
    #[error("note has control character U+{code:04X} at byte {offset} (only newline is allowed)")]
    ControlCharacter { offset: usize, code: u32 },
    #[error("note has no blank line separating its text from its signatures")]
    NoSeparator,
    #[error("note has no signature lines after its blank line")]
    NoSignatures,
    #[error("note does not end in a newline")]
    MissingFinalNewline,
    #[error("note has more than {MAX_NOTE_SIGNATURES} signature lines")]
    TooManySignatures,
    #[error("signature line {line} does not start with an em dash (U+2014) and a space")]
    BadSignaturePrefix { line: usize },
    #[error("signature line {line}: key name {name:?} is empty or has a space, '+' or control character")]
    BadKeyName { line: usize, name: String },
    #[error("signature line {line}: the signature is not canonical padded standard base64")]
    BadSignatureBase64 { line: usize },
    #[error("signature line {line}: {len} signature bytes; a key id (4 bytes) and a signature are needed")]
    ShortSignature { line: usize, len: usize },
    #[error("signature line {line}: {name} with its own ed25519 key id has {len} signature bytes, not 64")]
    BadEd25519Length {
        line: usize,
        name: String,
        len: usize,
    },
    #[error("two different signatures by key {name} (key id {key_id})")]
    ConflictingSignatures { name: String, key_id: String },
    #[error("checkpoint body does not end in a newline")]
    BodyNotTerminated,
    #[error("checkpoint body has {found} lines; it must have exactly {BODY_LINES}")]
    BodyLineCount { found: usize },
    #[error("checkpoint line {line} ({field}) is {found:?}: {why}")]
    BadField {
        line: usize,
        field: &'static str,
        found: String,
        why: &'static str,
    },
    #[error(
        "checkpoint commitment is {stated} but its set root, index root, count and slot give \
         {computed}"
    )]
    CommitmentMismatch { stated: Hash, computed: Hash },
    #[error("the signature by {signer}, a key the verifier knows, does not verify")]
    InvalidSignature { signer: DidKey },
    #[error("no signature by a key the verifier knows")]
    NoKnownSignature,
}

/// A registry's accepted set at a slot: what a checkpoint note's body says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    pub registry: RegistryId,
    /// Accepted entries in the checkpoint state.
    pub count: u64,
    /// Root of the set trie over accepted ids.
    pub set_root: Hash,
    /// Root of the authenticated index derived from the accepted set.
    pub index_root: Hash,
    /// The slot boundary the state was taken at.
    pub slot: Timestamp,
}

impl Checkpoint {
    /// The body's third line: one hash over everything the extension lines state, so a
    /// reader that keeps only the root hash still commits to all of them.
    pub fn commitment(&self) -> Hash {
        let mut buf = [0u8; 80];
        buf[..32].copy_from_slice(self.set_root.as_bytes());
        buf[32..64].copy_from_slice(self.index_root.as_bytes());
        buf[64..72].copy_from_slice(&self.count.to_be_bytes());
        buf[72..].copy_from_slice(&self.slot.as_secs().to_be_bytes());
        hash_with_domain(domain::CHECKPOINT, &buf)
    }

    /// The note text that signers sign (every line ends in `\n`).
    pub fn body(&self) -> String {
        format!(
            "{ORIGIN_PREFIX}{}\n{}\n{}\nslot {}\nset {}\nindex {}\n",
            self.registry,
            self.count,
            base64_encode(self.commitment().as_bytes()),
            self.slot.as_secs(),
            self.set_root,
            self.index_root,
        )
    }

    /// Parses a body in its one canonical spelling (exactly six lines, single spaces,
    /// decimal without leading zeros, lowercase hex, padded base64) and refuses it unless
    /// its commitment matches the other lines.
    pub fn parse_body(text: &str) -> Result<Checkpoint, NoteError> {
        let rest = text
            .strip_suffix('\n')
            .ok_or(NoteError::BodyNotTerminated)?;
        let found = text.bytes().filter(|&b| b == b'\n').count();
        if found != BODY_LINES {
            return Err(NoteError::BodyLineCount { found });
        }
        let mut lines = rest.split('\n');
        let mut next = || lines.next().unwrap_or_default();
        let (origin, count, commitment) = (next(), next(), next());
        let (slot, set, index) = (next(), next(), next());

        let registry = field(1, "origin", origin, |s| {
            s.strip_prefix(ORIGIN_PREFIX)
                .and_then(lower_hex_hash)
                .ok_or("expected \"trust-registry/\" and 64 lowercase hex digits")
        })?;
        let count = field(2, "entry count", count, |s| {
            canonical_u64(s).ok_or("expected a decimal count without leading zeros")
        })?;
        let stated = field(3, "commitment", commitment, |s| {
            let mut out = [0u8; 32];
            match base64_decode_into(s, &mut out) {
                Some(32) => Ok(Hash(out)),
                _ => Err("expected the padded standard base64 of 32 bytes"),
            }
        })?;
        let slot = field(4, "slot", slot, |s| {
            s.strip_prefix("slot ")
                .and_then(canonical_u64)
                .ok_or("expected \"slot \" and unix seconds without leading zeros")
        })?;
        let set_root = field(5, "set root", set, |s| {
            s.strip_prefix("set ")
                .and_then(lower_hex_hash)
                .ok_or("expected \"set \" and 64 lowercase hex digits")
        })?;
        let index_root = field(6, "index root", index, |s| {
            s.strip_prefix("index ")
                .and_then(lower_hex_hash)
                .ok_or("expected \"index \" and 64 lowercase hex digits")
        })?;
        let checkpoint = Checkpoint {
            registry,
            count,
            set_root,
            index_root,
            slot: Timestamp(slot),
        };
        let computed = checkpoint.commitment();
        if computed != stated {
            return Err(NoteError::CommitmentMismatch { stated, computed });
        }
        Ok(checkpoint)
    }
}

/// Applies `parse` to body line `line`, quoting the line in the error.
fn field<T>(
    line: usize,
    name: &'static str,
    text: &str,
    parse: impl FnOnce(&str) -> Result<T, &'static str>,
) -> Result<T, NoteError> {
    parse(text).map_err(|why| NoteError::BadField {
        line,
        field: name,
        found: text.chars().take(QUOTE_CHARS).collect(),
        why,
    })
}

/// Decimal digits without a leading zero (except `0` itself) that fit in a u64.
fn canonical_u64(s: &str) -> Option<u64> {
    let canonical = !s.is_empty()
        && s.len() <= 20
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

/// Exactly 64 lowercase hex digits.
fn lower_hex_hash(s: &str) -> Option<Hash> {
    let lower = s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    lower.then(|| Hash::from_hex(s).ok()).flatten()
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NoteSignature {
    /// The key name; for our signers, [`signer_name`] of their key.
    pub name: String,
    /// The key id: for ed25519, [`key_id`] of the name and key.
    pub key_id: [u8; 4],
    pub sig: [u8; 64],
}

impl NoteSignature {
    /// Bytes of this signature's line in a note, newline included.
    fn line_len(&self) -> usize {
        SIGNATURE_PREFIX.len() + self.name.len() + 1 + SIGNATURE_B64_LEN + 1
    }

    fn write_line(&self, out: &mut String) {
        let mut raw = [0u8; 68];
        raw[..4].copy_from_slice(&self.key_id);
        raw[4..].copy_from_slice(&self.sig);
        out.push_str(SIGNATURE_PREFIX);
        out.push_str(&self.name);
        out.push(' ');
        out.push_str(&base64_encode(&raw));
        out.push('\n');
    }
}

/// The key name our notes give a signer: its `did:key` string (which has no spaces or `+`).
pub fn signer_name(key: &DidKey) -> String {
    key.to_string()
}

/// The signed-note key id of an ed25519 key under `name`:
/// `SHA-256(name || 0x0A || 0x01 || public key)[:4]`.
pub fn key_id(name: &str, key: &DidKey) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', ED25519_TYPE])
        .chain_update(key.public_key())
        .finalize();
    let mut id = [0u8; 4];
    id.copy_from_slice(&digest[..4]);
    id
}

/// Whether a key name is one the spec allows: non-empty, with no Unicode space and no `+`
/// (and, as everywhere in a note, no control character).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c < ' ')
}

/// Checks an ed25519 signature as strictly as entry signatures are checked (see
/// [`crate::verify`]): the key must be the canonical encoding of a point in the
/// prime-order subgroup, so one secret has one spelling, and `verify_strict` refuses
/// malleable signatures and small-order points.
pub fn verify_ed25519(message: &[u8], key: &DidKey, sig: &[u8; 64]) -> bool {
    let Ok(vk) = VerifyingKey::from_bytes(key.public_key()) else {
        return false;
    };
    let point = vk.to_edwards();
    if vk.is_weak() || point.compress().0 != *key.public_key() || !point.is_torsion_free() {
        return false;
    }
    vk.verify_strict(message, &Signature::from_bytes(sig))
        .is_ok()
}

/// A signed note taken apart: its text and the signatures that can be ed25519 ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteParts<'a> {
    /// The signed text: everything before the last blank line, its final newline included.
    pub text: &'a str,
    /// Sorted by (name, key id), one per (name, key id).
    pub signatures: Vec<NoteSignature>,
}

/// Takes any signed note apart, whatever its text, following `c2sp.org/signed-note`.
///
/// Signature lines of another length than an ed25519 one are checked for form and then
/// left out: they can be by no key we verify, and verifiers must ignore unknown keys. The
/// exception is a line naming a `did:key` under its own ed25519 key id: it claims to be
/// that key's signature and cannot be one, so the note is refused. A line repeated exactly
/// is kept once; two different signatures by one (name, key id) refuse the note, which
/// could otherwise be read two ways.
pub fn split_note(note: &str) -> Result<NoteParts<'_>, NoteError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(NoteError::TooLarge { len: note.len() });
    }
    if let Some((offset, c)) = note.char_indices().find(|&(_, c)| c < ' ' && c != '\n') {
        return Err(NoteError::ControlCharacter {
            offset,
            code: u32::from(c),
        });
    }
    let split = note.rfind("\n\n").ok_or(NoteError::NoSeparator)?;
    let (text, block) = (&note[..split + 1], &note[split + 2..]);
    if block.is_empty() {
        return Err(NoteError::NoSignatures);
    }
    let block = block
        .strip_suffix('\n')
        .ok_or(NoteError::MissingFinalNewline)?;
    let mut signatures = Vec::new();
    for (i, line) in block.split('\n').enumerate() {
        if i >= MAX_NOTE_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        if let Some(sig) = parse_signature_line(i + 1, line)? {
            signatures.push(sig);
        }
    }
    signatures.sort();
    signatures.dedup();
    if let Some(pair) = signatures
        .windows(2)
        .find(|w| (&w[0].name, w[0].key_id) == (&w[1].name, w[1].key_id))
    {
        return Err(NoteError::ConflictingSignatures {
            name: pair[0].name.chars().take(QUOTE_CHARS).collect(),
            key_id: hex::encode(pair[0].key_id),
        });
    }
    Ok(NoteParts { text, signatures })
}

/// One signature line (without its newline); `None` for a well-formed line that cannot be
/// an ed25519 signature.
fn parse_signature_line(line: usize, text: &str) -> Result<Option<NoteSignature>, NoteError> {
    let rest = text
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(NoteError::BadSignaturePrefix { line })?;
    let (name, b64) = rest.split_once(' ').unwrap_or((rest, ""));
    if !valid_name(name) {
        return Err(NoteError::BadKeyName {
            line,
            name: name.chars().take(QUOTE_CHARS).collect(),
        });
    }
    let mut raw = [0u8; 68];
    let len = base64_decode_into(b64, &mut raw).ok_or(NoteError::BadSignatureBase64 { line })?;
    if len < 5 {
        return Err(NoteError::ShortSignature { line, len });
    }
    let mut key_id_bytes = [0u8; 4];
    key_id_bytes.copy_from_slice(&raw[..4]);
    if len != raw.len() {
        if DidKey::parse(name).is_ok_and(|key| key_id(name, &key) == key_id_bytes) {
            return Err(NoteError::BadEd25519Length {
                line,
                name: name.to_string(),
                len: len - 4,
            });
        }
        return Ok(None);
    }
    let mut sig = [0u8; 64];
    sig.copy_from_slice(&raw[4..]);
    Ok(Some(NoteSignature {
        name: name.to_string(),
        key_id: key_id_bytes,
        sig,
    }))
}

/// Writes a note: `text` (which must end in a newline), a blank line, then the signature
/// lines sorted by (name, key id, signature), so equal sets render to equal bytes.
pub fn render_note(text: &str, signatures: &[NoteSignature]) -> String {
    let mut sorted: Vec<&NoteSignature> = signatures.iter().collect();
    sorted.sort();
    let len = text.len() + 1 + sorted.iter().map(|s| s.line_len()).sum::<usize>();
    let mut out = String::with_capacity(len);
    out.push_str(text);
    out.push('\n');
    for s in sorted {
        s.write_line(&mut out);
    }
    out
}

/// A checkpoint and the signatures gathered on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    pub checkpoint: Checkpoint,
    /// Kept sorted by (name, key id) by [`SignedNote::merge`] and [`SignedNote::parse`].
    pub signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// A note with no signatures yet.
    pub fn new(checkpoint: Checkpoint) -> SignedNote {
        SignedNote {
            checkpoint,
            signatures: Vec::new(),
        }
    }

    /// `key`'s signature on the checkpoint's body, under its did:key name.
    pub fn sign(checkpoint: &Checkpoint, key: &SecretKey) -> NoteSignature {
        let did = key.did();
        let name = signer_name(&did);
        NoteSignature {
            key_id: key_id(&name, &did),
            sig: key.sign(checkpoint.body().as_bytes()),
            name,
        }
    }

    /// The note text, signatures sorted so that equal signature sets render equally.
    pub fn text(&self) -> String {
        render_note(&self.checkpoint.body(), &self.signatures)
    }

    /// Parses a note (see [`split_note`]) whose text is a checkpoint body (see
    /// [`Checkpoint::parse_body`]). Signatures are not verified here: which keys count is
    /// the verifier's choice ([`SignedNote::verified_signers`]).
    pub fn parse(text: &str) -> Result<SignedNote, NoteError> {
        let parts = split_note(text)?;
        Ok(SignedNote {
            checkpoint: Checkpoint::parse_body(parts.text)?,
            signatures: parts.signatures,
        })
    }

    /// Adds a signature, keeping one per (name, key id): for two, the smaller signature
    /// bytes, so merges in any order end equal. Returns whether the note changed.
    ///
    /// A signature with an invalid name is refused, and so is a new signer once the note
    /// has [`MAX_NOTE_SIGNATURES`] or would pass [`MAX_NOTE_BYTES`], so that every merged
    /// note parses again. Past that cap which signers are kept depends on arrival order:
    /// callers merge only signatures of keys that count (verified first with
    /// [`SignedNote::verify_signature`]).
    pub fn merge(&mut self, sig: NoteSignature) -> bool {
        if !valid_name(&sig.name) {
            return false;
        }
        let found = self.signatures.binary_search_by(|s| {
            (s.name.as_str(), s.key_id).cmp(&(sig.name.as_str(), sig.key_id))
        });
        match found {
            Ok(i) if sig.sig < self.signatures[i].sig => {
                self.signatures[i] = sig;
                true
            }
            Ok(_) => false,
            Err(i) => {
                let len = self.checkpoint.body().len()
                    + 1
                    + self.signatures.iter().map(|s| s.line_len()).sum::<usize>();
                if self.signatures.len() >= MAX_NOTE_SIGNATURES
                    || len + sig.line_len() > MAX_NOTE_BYTES
                {
                    return false;
                }
                self.signatures.insert(i, sig);
                true
            }
        }
    }

    /// The distinct keys among `candidates` that signed this checkpoint, in candidate
    /// order, following the spec's rules for known keys: a line whose name and key id are
    /// those of a candidate must verify, or the whole note is refused
    /// ([`NoteError::InvalidSignature`]); lines of other keys are ignored; and a note no
    /// candidate signed is refused ([`NoteError::NoKnownSignature`]).
    pub fn verified_signers(&self, candidates: &[DidKey]) -> Result<Vec<DidKey>, NoteError> {
        let body = self.checkpoint.body();
        let mut signers: Vec<DidKey> = Vec::new();
        for candidate in candidates {
            if signers.contains(candidate) {
                continue;
            }
            let name = signer_name(candidate);
            let id = key_id(&name, candidate);
            let mut signed = false;
            for s in self
                .signatures
                .iter()
                .filter(|s| s.name == name && s.key_id == id)
            {
                if !verify_ed25519(body.as_bytes(), candidate, &s.sig) {
                    return Err(NoteError::InvalidSignature { signer: *candidate });
                }
                signed = true;
            }
            if signed {
                signers.push(*candidate);
            }
        }
        if signers.is_empty() {
            return Err(NoteError::NoKnownSignature);
        }
        Ok(signers)
    }

    /// The key that made `sig` on this checkpoint, if it is a valid signature by the
    /// `did:key` it names under that key's own key id (how gossip decides whether a
    /// signature it received is worth merging).
    pub fn verify_signature(&self, sig: &NoteSignature) -> Option<DidKey> {
        let key = DidKey::parse(&sig.name).ok()?;
        if key_id(&sig.name, &key) != sig.key_id {
            return None;
        }
        verify_ed25519(self.checkpoint.body().as_bytes(), &key, &sig.sig).then_some(key)
    }
}
