//! What decided an answer: the entry a denial rests on, and the window an authorization
//! holds in.
//!
//! [`evaluate`](super::evaluate) says *that* an accreditation does not count and which rule
//! applies; [`decisive`] says *which entry* makes it so (the revocation, with its
//! `effective_at` and reason; the accreditation whose window excludes the time; the entry
//! whose author was not entitled, and why), so a relying party can check it for itself.
//! It runs only for denials and walks the same bounded chain as the evaluation.

use crate::entry::Author;
use crate::hash::EntryId;
use crate::time::Timestamp;

use super::{revocation_in_effect, standing, Reason, View};

/// The entry a denial rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decisive {
    /// The deciding entry: a revocation, or an accreditation.
    pub entry: EntryId,
    /// The accreditation it concerns: the queried one, or (for `issuer_revoked` and an
    /// ancestor that does not count) the one above it in the chain.
    pub accreditation: EntryId,
    pub cause: Cause,
}

/// What about [`Decisive::entry`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// `entry` is an authorized revocation of `accreditation`, in effect at the time asked.
    Revocation {
        effective_at: Timestamp,
        reason: String,
    },
    /// The time asked is outside `accreditation`'s window (`entry` is the accreditation).
    Window {
        valid_from: Timestamp,
        valid_until: Option<Timestamp>,
    },
    /// `entry`'s author had no right to issue it.
    NotEntitled(Unentitled),
}

/// Why the author of an accreditation had no right to issue it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unentitled {
    /// Root-authored, but signed by `signed` roots of the epoch in force at its
    /// `issued_at`, which needed `threshold`.
    Threshold { signed: usize, threshold: u16 },
    /// Authored as the holder of an entry that is not an accepted accreditation.
    NoHolder { holder: EntryId },
    /// The holder's accreditation does not grant `accredit` on `resource` (or is a
    /// recognition).
    Grant { holder: EntryId, resource: String },
    /// The holder's accreditation did not count at `at` (its `issued_at` or the time asked).
    Holder {
        holder: EntryId,
        at: Timestamp,
        reason: Reason,
    },
    /// The chain is deeper than the genesis's `max_depth`.
    TooDeep { max_depth: u8 },
}

impl std::fmt::Display for Unentitled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unentitled::Threshold { signed, threshold } => write!(
                f,
                "signed by {signed} root(s) of the epoch in force when it was issued, which \
                 needed {threshold}"
            ),
            Unentitled::NoHolder { holder } => {
                write!(
                    f,
                    "its author's entry {holder} is not an accepted accreditation"
                )
            }
            Unentitled::Grant { holder, resource } => write!(
                f,
                "its author's accreditation {holder} does not grant accredit:{resource}"
            ),
            Unentitled::Holder { holder, at, reason } => write!(
                f,
                "its author's accreditation {holder} did not count at {at}: {reason}"
            ),
            Unentitled::TooDeep { max_depth } => {
                write!(
                    f,
                    "its chain is deeper than the registry's max depth {max_depth}"
                )
            }
        }
    }
}

impl std::fmt::Display for Decisive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.cause {
            Cause::Revocation {
                effective_at,
                reason,
            } => write!(
                f,
                "revocation {} of accreditation {}, effective {effective_at}: {reason}",
                self.entry, self.accreditation
            ),
            Cause::Window {
                valid_from,
                valid_until,
            } => match valid_until {
                Some(u) => write!(
                    f,
                    "accreditation {} is valid from {valid_from} until {u}",
                    self.entry
                ),
                None => write!(f, "accreditation {} is valid from {valid_from}", self.entry),
            },
            Cause::NotEntitled(why) => write!(f, "accreditation {}: {why}", self.entry),
        }
    }
}

/// The entry that decided a denial with `reason` of accreditation `id` at `at` (as
/// [`evaluate`](super::evaluate) reported them). `None` when there is none to name (no
/// accreditation) or the state does not show it.
pub fn decisive(
    state: &impl View,
    reason: Reason,
    id: &EntryId,
    at: Timestamp,
) -> Option<Decisive> {
    match reason {
        Reason::NoAccreditation => None,
        Reason::Revoked => revocation(state, id, at, 0),
        Reason::IssuerRevoked => revoked_ancestor(state, id, at),
        Reason::Expired | Reason::NotYetValid => {
            let (_, acc) = state.accreditation(id)?;
            Some(Decisive {
                entry: *id,
                accreditation: *id,
                cause: Cause::Window {
                    valid_from: acc.valid_from,
                    valid_until: acc.valid_until,
                },
            })
        }
        Reason::NotEntitled => unentitled(state, id, at),
    }
}

/// The authorized revocation of `target` in effect at `at` with the smallest id.
fn revocation(state: &impl View, target: &EntryId, at: Timestamp, level: u8) -> Option<Decisive> {
    let mut ids: Vec<&EntryId> = state.revocations_of(target).iter().collect();
    ids.sort();
    ids.into_iter().find_map(|rid| {
        let r = revocation_in_effect(state, rid, target, at, level)?;
        Some(Decisive {
            entry: *rid,
            accreditation: *target,
            cause: Cause::Revocation {
                effective_at: r.effective_at,
                reason: r.reason.clone(),
            },
        })
    })
}

/// The nearest ancestor of `id` revoked at the time asked, or when the accreditation
/// below it was issued.
fn revoked_ancestor(state: &impl View, id: &EntryId, at: Timestamp) -> Option<Decisive> {
    let mut current = *id;
    for level in 1..=state.genesis().max_depth {
        let entry = state.entry(&current)?;
        let Author::Holder { accreditation } = entry.body.author else {
            return None;
        };
        let issued = entry.body.issued_at;
        if let Some(d) = revocation(state, &accreditation, at, level)
            .or_else(|| revocation(state, &accreditation, issued, level))
        {
            return Some(d);
        }
        current = accreditation;
    }
    None
}

/// Why the author of `id` (or of an accreditation above it) had no right to issue it.
fn unentitled(state: &impl View, id: &EntryId, at: Timestamp) -> Option<Decisive> {
    let max_depth = state.genesis().max_depth;
    let mut current = *id;
    let mut at = at;
    for level in 0..max_depth {
        let (entry, acc) = state.accreditation(&current)?;
        let issued = entry.body.issued_at;
        let found = |why| Decisive {
            entry: current,
            accreditation: current,
            cause: Cause::NotEntitled(why),
        };
        let holder = match entry.body.author {
            Author::Roots => {
                let epoch = state.epoch_at(issued);
                if epoch.authorizes(entry.signers()) {
                    return None;
                }
                let signed = entry
                    .signers()
                    .filter(|s| epoch.roots.binary_search(s).is_ok())
                    .count();
                return Some(found(Unentitled::Threshold {
                    signed,
                    threshold: epoch.threshold,
                }));
            }
            Author::Holder { accreditation } => accreditation,
        };
        let Some((_, parent)) = state.accreditation(&holder) else {
            return Some(found(Unentitled::NoHolder { holder }));
        };
        let lacking = acc.grants.iter().find(|g| !parent.accredits(&g.resource));
        if let Some(g) = lacking {
            return Some(found(Unentitled::Grant {
                holder,
                resource: g.resource.clone(),
            }));
        }
        if level + 1 >= max_depth {
            return Some(found(Unentitled::TooDeep { max_depth }));
        }
        // The holder must count at `issued` and at `at`; name the first time it does not,
        // and if the holder's own failure is not-entitled, go up to find the entry behind it.
        let failed = [issued, at].into_iter().find_map(|t| {
            standing(state, &holder, t, level + 1)
                .err()
                .map(|reason| (t, reason))
        });
        match failed {
            None => return None,
            Some((t, Reason::NotEntitled)) => {
                current = holder;
                at = t;
            }
            Some((t, reason)) => {
                return Some(found(Unentitled::Holder {
                    holder,
                    at: t,
                    reason,
                }))
            }
        }
    }
    None
}

/// The last moment of the window in which every accreditation of `chain` is valid: the
/// earliest `valid_until` among them (`None`: no end).
pub fn chain_valid_until(state: &impl View, chain: &[EntryId]) -> Option<Timestamp> {
    chain
        .iter()
        .filter_map(|id| state.accreditation(id).and_then(|(_, a)| a.valid_until))
        .min()
}
