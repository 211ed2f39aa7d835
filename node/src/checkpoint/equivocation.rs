//! Equivocation proofs: two valid signatures of one witness key on different bodies for
//! one slot. Each is self-contained (both notes, each with that key's signature), so
//! anyone can check it with nothing but the key; this node keeps the ones it found or
//! received in `DATA_DIR/equivocations.json`, at most [`MAX_EQUIVOCATIONS`].

use std::path::{Path, PathBuf};

use anyhow::Context;
use registry_core::checkpoint::note::{NoteSignature, SignedNote, MAX_NOTE_BYTES};
use registry_core::file::{write_atomic, Existing};
use registry_core::{DidKey, Hash, RegistryId, Timestamp};
use serde::{Deserialize, Serialize};

/// The store's file name in the data directory.
pub const EQUIVOCATIONS_FILE: &str = "equivocations.json";
/// Most proofs kept (the oldest slots are dropped past it).
pub const MAX_EQUIVOCATIONS: usize = 100;
/// Largest store read: each proof is two small notes.
const MAX_STORE_BYTES: u64 = (MAX_EQUIVOCATIONS as u64 + 1) * 4 * MAX_NOTE_BYTES as u64;

/// One key's two signatures on different bodies for one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equivocation {
    pub signer: DidKey,
    pub slot: Timestamp,
    /// The two notes, each carrying only `signer`'s signature, the smaller commitment
    /// first (so both sides of a proof build the same one).
    pub notes: [SignedNote; 2],
}

/// A proof as it is stored and shown: the signer, the slot, both commitments, and both
/// notes' text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredEquivocation {
    pub signer: DidKey,
    pub slot: u64,
    pub commitments: [Hash; 2],
    pub notes: [String; 2],
}

impl Equivocation {
    /// The proof formed by `signer`'s signatures `a` on `body_a` and `b` on `body_b`, if
    /// both verify and the bodies are for one slot of one registry and differ.
    pub fn of(
        signer: DidKey,
        (body_a, a): (&SignedNote, &NoteSignature),
        (body_b, b): (&SignedNote, &NoteSignature),
    ) -> Option<Equivocation> {
        let (ca, cb) = (&body_a.checkpoint, &body_b.checkpoint);
        if ca.slot != cb.slot || ca.registry != cb.registry || ca.commitment() == cb.commitment() {
            return None;
        }
        if body_a.verify_signature(a) != Some(signer) || body_b.verify_signature(b) != Some(signer)
        {
            return None;
        }
        let one = |body: &SignedNote, sig: &NoteSignature| SignedNote {
            checkpoint: body.checkpoint,
            signatures: vec![sig.clone()],
        };
        let mut notes = [one(body_a, a), one(body_b, b)];
        notes.sort_by_key(|n| n.checkpoint.commitment());
        Some(Equivocation {
            signer,
            slot: ca.slot,
            notes,
        })
    }

    /// Checks a received proof: two notes of `registry`, for one slot, different bodies,
    /// and a key whose signatures on both verify and for which `counts` holds at the slot (a
    /// witness).
    pub fn check(
        registry: &RegistryId,
        a: &str,
        b: &str,
        counts: impl Fn(&DidKey, Timestamp) -> bool,
    ) -> Result<Equivocation, String> {
        let parse = |text: &str| {
            if text.len() > MAX_NOTE_BYTES {
                return Err(format!("a note of {} bytes", text.len()));
            }
            SignedNote::parse(text).map_err(|e| format!("a malformed note: {e}"))
        };
        let (na, nb) = (parse(a)?, parse(b)?);
        if na.checkpoint.registry != *registry || nb.checkpoint.registry != *registry {
            return Err("an equivocation proof of another registry".into());
        }
        if na.checkpoint.slot != nb.checkpoint.slot {
            return Err("an equivocation proof over two slots".into());
        }
        if na.checkpoint.commitment() == nb.checkpoint.commitment() {
            return Err("an equivocation proof over one body".into());
        }
        for sa in &na.signatures {
            let Some(signer) = na.verify_signature(sa) else {
                continue;
            };
            if !counts(&signer, na.checkpoint.slot) {
                continue;
            }
            let found = nb
                .signatures
                .iter()
                .find_map(|sb| Equivocation::of(signer, (&na, sa), (&nb, sb)));
            if let Some(e) = found {
                return Ok(e);
            }
        }
        Err("an equivocation proof with no witness signing both notes".into())
    }

    /// The proof as stored and shown.
    pub fn stored(&self) -> StoredEquivocation {
        StoredEquivocation {
            signer: self.signer,
            slot: self.slot.as_secs(),
            commitments: [
                self.notes[0].checkpoint.commitment(),
                self.notes[1].checkpoint.commitment(),
            ],
            notes: [self.notes[0].text(), self.notes[1].text()],
        }
    }
}

/// The equivocations this node knows of, persisted.
#[derive(Debug)]
pub struct Equivocations {
    path: PathBuf,
    kept: Vec<StoredEquivocation>,
}

impl Equivocations {
    /// Reads the store in `dir` (absent: none known).
    pub fn open(dir: &Path) -> anyhow::Result<Equivocations> {
        let path = dir.join(EQUIVOCATIONS_FILE);
        let kept = match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
            Ok(meta) => {
                anyhow::ensure!(
                    meta.len() <= MAX_STORE_BYTES,
                    "{} is larger than {MAX_STORE_BYTES} bytes",
                    path.display()
                );
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let mut kept: Vec<StoredEquivocation> = serde_json::from_str(&text)
                    .with_context(|| format!("{} is damaged", path.display()))?;
                kept.truncate(MAX_EQUIVOCATIONS);
                kept
            }
        };
        Ok(Equivocations { path, kept })
    }

    /// Whether a proof against `signer` at `slot` is kept.
    pub fn knows(&self, signer: &DidKey, slot: Timestamp) -> bool {
        self.kept
            .iter()
            .any(|e| e.signer == *signer && e.slot == slot.as_secs())
    }

    /// Keeps a new proof (one per signer and slot), dropping the oldest slot past the
    /// bound, and writes the store. Returns whether it was new.
    pub fn add(&mut self, e: &Equivocation) -> std::io::Result<bool> {
        if self.knows(&e.signer, e.slot) {
            return Ok(false);
        }
        self.kept.push(e.stored());
        self.kept.sort_by_key(|e| e.slot);
        while self.kept.len() > MAX_EQUIVOCATIONS {
            self.kept.remove(0);
        }
        let bytes = serde_json::to_vec_pretty(&self.kept).unwrap_or_default();
        write_atomic(&self.path, &bytes, None, Existing::Replace)?;
        Ok(true)
    }

    /// The proofs kept, oldest slot first.
    pub fn all(&self) -> &[StoredEquivocation] {
        &self.kept
    }
}
