//! Signature verification of entries: strict (no weak keys, no malleable signatures) and
//! batched.
//!
//! A signer key must be the canonical encoding of a point in the prime-order subgroup:
//! `verify_strict` itself refuses only small-order keys, which leaves two ways for one
//! secret to appear under several 32-byte spellings (a non-canonical encoding of the
//! same point, or the key plus a small-order point, for which one signature in eight
//! verifies). Signers are told apart by their bytes, so each of those spellings would
//! count as another signer toward a threshold; refusing them keeps one key, one spelling.
//!
//! A batch of signatures is checked with one multi-scalar multiplication
//! (`verify_batch`); only if the batch fails is each signature checked on its own to find
//! the bad ones. Batch verification alone accepts some signatures that `verify_strict`
//! refuses, so each signature also passes the strict checks cheaply beforehand: the key
//! is not of small order, `s` is canonical, and `R` is a canonical encoding of a point that
//! is not of small order. The decompressed keys are cached, because the same few
//! controller and root keys sign most entries.

use std::collections::HashMap;

use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature as DalekSignature, VerifyingKey};

use crate::did::DidKey;
use crate::entry::SignedEntry;
use crate::hash::EntryId;

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signer {0} is not a valid ed25519 public key")]
    InvalidKey(DidKey),
    #[error("signer {0} is a weak (small-order) key")]
    WeakKey(DidKey),
    #[error("signer {0} is not the canonical encoding of a prime-order-subgroup key")]
    NonCanonicalKey(DidKey),
    #[error("signature by {0} is not in canonical form (malleable)")]
    NonCanonical(DidKey),
    #[error("signature by {0} does not verify")]
    Invalid(DidKey),
}

/// Most keys kept decompressed; past this the cache is cleared (keys are cheap to redo).
const KEY_CACHE_LIMIT: usize = 16_384;

/// Verifies entry signatures, caching decompressed keys.
#[derive(Debug, Default)]
pub struct Verifier {
    keys: HashMap<[u8; 32], Result<VerifyingKey, KeyFault>>,
}

/// Why 32 bytes are not a usable signer key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyFault {
    /// Not the encoding of a curve point.
    Invalid,
    /// A point of small order (the identity among them).
    Weak,
    /// A non-canonical encoding, or a point with a small-order component.
    NonCanonical,
}

/// Decompresses a signer key and applies the key checks (see the module documentation).
fn classify_key(bytes: &[u8; 32]) -> Result<VerifyingKey, KeyFault> {
    let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyFault::Invalid)?;
    if key.is_weak() {
        return Err(KeyFault::Weak);
    }
    let point = key.to_edwards();
    if point.compress().0 != *bytes || !point.is_torsion_free() {
        return Err(KeyFault::NonCanonical);
    }
    Ok(key)
}

impl Verifier {
    pub fn new() -> Verifier {
        Verifier::default()
    }

    fn key(&mut self, did: &DidKey) -> Result<VerifyingKey, SignatureError> {
        if self.keys.len() >= KEY_CACHE_LIMIT {
            self.keys.clear();
        }
        let cached = self
            .keys
            .entry(*did.public_key())
            .or_insert_with(|| classify_key(did.public_key()));
        match cached {
            Ok(k) => Ok(*k),
            Err(KeyFault::Invalid) => Err(SignatureError::InvalidKey(*did)),
            Err(KeyFault::Weak) => Err(SignatureError::WeakKey(*did)),
            Err(KeyFault::NonCanonical) => Err(SignatureError::NonCanonicalKey(*did)),
        }
    }

    /// Checks every signature of one entry with `verify_strict`.
    pub fn verify_entry(&mut self, entry: &SignedEntry) -> Result<(), SignatureError> {
        let id = entry.id();
        for s in &entry.signatures {
            let key = self.key(&s.signer)?;
            key.verify_strict(id.as_bytes(), &DalekSignature::from_bytes(&s.sig))
                .map_err(|_| SignatureError::Invalid(s.signer))?;
        }
        Ok(())
    }

    /// Checks every signature of every entry, in one batch where possible. The result has
    /// one element per entry, in order.
    pub fn verify_entries(&mut self, entries: &[SignedEntry]) -> Vec<Result<(), SignatureError>> {
        let ids: Vec<EntryId> = entries.iter().map(|e| e.id()).collect();
        self.verify_entries_with_ids(entries, &ids)
    }

    /// [`Verifier::verify_entries`] for callers that already hold each entry's id
    /// (`ids[i]` must be `entries[i].id()`).
    pub fn verify_entries_with_ids(
        &mut self,
        entries: &[SignedEntry],
        ids: &[EntryId],
    ) -> Vec<Result<(), SignatureError>> {
        let mut results: Vec<Result<(), SignatureError>> = Vec::with_capacity(entries.len());
        let mut msgs: Vec<&[u8]> = Vec::new();
        let mut sigs = Vec::new();
        let mut keys = Vec::new();
        for (entry, id) in entries.iter().zip(ids) {
            let mut r = Ok(());
            for s in &entry.signatures {
                let checked = self.key(&s.signer).and_then(|k| {
                    strict_form(&s.sig)
                        .map(|_| k)
                        .map_err(|_| SignatureError::NonCanonical(s.signer))
                });
                match checked {
                    Ok(k) => {
                        msgs.push(id.as_bytes());
                        sigs.push(DalekSignature::from_bytes(&s.sig));
                        keys.push(k);
                    }
                    Err(e) => {
                        r = Err(e);
                        break;
                    }
                }
            }
            results.push(r);
        }
        if sigs.is_empty() || ed25519_dalek::verify_batch(&msgs, &sigs, &keys).is_ok() {
            // Entries that failed the pre-checks keep their error; the rest verified (the
            // batch included signatures of entries that failed a pre-check only before the
            // failing signature, so a passing batch vouches for every other entry).
            return results;
        }
        for (i, entry) in entries.iter().enumerate() {
            if results[i].is_ok() {
                results[i] = self.verify_entry(entry);
            }
        }
        results
    }
}

/// The cheap parts of `verify_strict` that `verify_batch` does not do: `s < l`, and `R` a
/// canonical encoding of a point outside the small-order subgroup.
fn strict_form(sig: &[u8; 64]) -> Result<(), ()> {
    let mut r = [0u8; 32];
    r.copy_from_slice(&sig[..32]);
    let mut s = [0u8; 32];
    s.copy_from_slice(&sig[32..]);
    if Option::<Scalar>::from(Scalar::from_canonical_bytes(s)).is_none() {
        return Err(());
    }
    let point = CompressedEdwardsY(r).decompress().ok_or(())?;
    if point.is_small_order() || point.compress().0 != r {
        return Err(());
    }
    Ok(())
}
