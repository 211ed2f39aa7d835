//! Evaluation: "is entity E authorized (or recognized) for (action, resource) at time T?"
//!
//! [`evaluate`] is a pure function of the accepted set and `T`: the same set and the same
//! `T` give the same [`Decision`] on every node, whatever the order in which entries
//! arrived. Every choice below that could depend on order (which of several
//! accreditations to report) is made by a fixed rule over entry ids.
//!
//! An accreditation `X` is *effective at T* when
//! - `valid_from <= T < valid_until`;
//! - no authorized revocation of `X` has `effective_at <= T`;
//! - its author was entitled: the roots in force at `X.issued_at` (threshold met), or a
//!   holder whose own accreditation was effective both at `X.issued_at` and at `T`, grants
//!   `accredit` on every resource `X` grants, and sits within `max_depth`.
//!
//! Evaluation reads the accepted set only through [`View`]: the node's [`State`] is one
//! view, and a proof's slice is another (`crate::proof`), so a verifier runs this same code
//! over only what a proof shows.
//!
//! [`State`]: crate::state::State
//!
//! Chains are walked upward only, and never more than `max_depth` levels, so the work per
//! query is bounded however the accepted entries are arranged.

pub mod explain;
pub mod view;

use serde::{Deserialize, Serialize};

use crate::entry::{Accreditation, Author, Kind, Op, Revocation, SignedEntry};
use crate::hash::EntryId;
use crate::time::Timestamp;

pub use explain::{chain_valid_until, decisive, Cause, Decisive, Unentitled};
pub use view::View;

/// A question to the registry.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub entity: &'a str,
    pub action: &'a str,
    pub resource: &'a str,
    pub kind: Kind,
}

/// Why an entity is not authorized. Listed in order of precedence: of all the reasons that
/// apply to every matching accreditation (its window, its own revocations, its author's
/// entitlement and ancestors, depth), the answer names the first in this order, and
/// among accreditations with that reason the one with the smallest id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The accreditation itself was revoked by an authorized revocation.
    Revoked,
    /// An accreditation above it in its chain was revoked.
    IssuerRevoked,
    /// `T` is at or after `valid_until`.
    Expired,
    /// `T` is before `valid_from`.
    NotYetValid,
    /// Its author had no right to issue it (threshold not met, accrediting holder not
    /// effective or lacking `accredit` on the resource, chain deeper than `max_depth`).
    NotEntitled,
    /// No accepted accreditation of this kind grants the action on the resource.
    NoAccreditation,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Revoked => "revoked",
            Reason::IssuerRevoked => "issuer_revoked",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::NotEntitled => "not_entitled",
            Reason::NoAccreditation => "no_accreditation",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer to a [`Query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// `chain` runs from the matching accreditation up to the root-authored one.
    Authorized { chain: Vec<EntryId> },
    /// `accreditation` is the matching accreditation the reason is about (none for
    /// `NoAccreditation`).
    Denied {
        reason: Reason,
        accreditation: Option<EntryId>,
    },
}

impl Decision {
    pub fn is_authorized(&self) -> bool {
        matches!(self, Decision::Authorized { .. })
    }
}

/// Answers a query at time `at`.
pub fn evaluate(state: &impl View, query: &Query<'_>, at: Timestamp) -> Decision {
    let mut best_ok: Option<EntryId> = None;
    let mut best_denied: Option<(Reason, EntryId)> = None;
    for id in state.accreditations_of(query.entity, query.kind) {
        let Some((_, acc)) = state.accreditation(id) else {
            continue;
        };
        if acc.kind != query.kind
            || !acc
                .grants
                .iter()
                .any(|g| g.covers(query.action, query.resource))
        {
            continue;
        }
        match standing(state, id, at, 0) {
            Ok(_) => {
                if best_ok.is_none_or(|b| *id < b) {
                    best_ok = Some(*id);
                }
            }
            Err(reason) => {
                if best_denied.is_none_or(|b| (reason, *id) < b) {
                    best_denied = Some((reason, *id));
                }
            }
        }
    }
    if let Some(id) = best_ok {
        return Decision::Authorized {
            chain: chain_of(state, id),
        };
    }
    match best_denied {
        Some((reason, id)) => Decision::Denied {
            reason,
            accreditation: Some(id),
        },
        None => Decision::Denied {
            reason: Reason::NoAccreditation,
            accreditation: None,
        },
    }
}

/// Whether the accepted accreditation `id` is effective at `at`: its depth in the chain
/// (1 for a root-authored accreditation) or why not.
pub fn status(state: &impl View, id: &EntryId, at: Timestamp) -> Result<u8, Reason> {
    standing(state, id, at, 0)
}

/// The accreditation ids from `id` up to the root-authored one (bounded by `max_depth`).
pub fn chain_of(state: &impl View, id: EntryId) -> Vec<EntryId> {
    let mut chain = vec![id];
    let mut current = id;
    for _ in 0..state.genesis().max_depth {
        let Some(entry) = state.entry(&current) else {
            break;
        };
        match entry.body.author {
            Author::Holder { accreditation } => {
                chain.push(accreditation);
                current = accreditation;
            }
            Author::Roots => break,
        }
    }
    chain
}

/// The first applicable reason by precedence: the smaller [`Reason`].
fn first(a: Option<Reason>, b: Reason) -> Reason {
    a.map_or(b, |a| a.min(b))
}

/// `level` counts how far above the queried accreditation this one sits; every recursive
/// call moves strictly upward, and nothing above `max_depth` levels is looked at.
///
/// Every check runs (its window, its own revocations, both ancestor checks, depth) and the
/// error is the first reason by precedence among all that apply, not the first check that
/// fails; a check is skipped only when a reason of higher rank is already known.
fn standing(state: &impl View, id: &EntryId, at: Timestamp, level: u8) -> Result<u8, Reason> {
    let max_depth = state.genesis().max_depth;
    if level >= max_depth {
        return Err(Reason::NotEntitled);
    }
    let Some((entry, acc)) = state.accreditation(id) else {
        return Err(Reason::NotEntitled);
    };
    // `Revoked` ranks first: nothing else can change the answer.
    if is_revoked(state, id, at, level) {
        return Err(Reason::Revoked);
    }
    let mut found: Option<Reason> = None;
    if at < acc.valid_from {
        found = Some(first(found, Reason::NotYetValid));
    }
    if acc.valid_until.is_some_and(|u| at >= u) {
        found = Some(first(found, Reason::Expired));
    }
    match (entitled(state, entry, acc, at, level), found) {
        (Ok(depth), None) => Ok(depth),
        (Ok(_), Some(reason)) => Err(reason),
        (Err(reason), found) => Err(first(found, reason)),
    }
}

/// Whether the author of `entry` had the right to issue it, judged at its `issued_at` and
/// (for a holder) still at `at`. Returns the entry's depth, or the first reason by
/// precedence among those that apply: `issuer_revoked` for an ancestor that is revoked
/// (or itself `issuer_revoked`), `not_entitled` for anything else.
fn entitled(
    state: &impl View,
    entry: &SignedEntry,
    acc: &Accreditation,
    at: Timestamp,
    level: u8,
) -> Result<u8, Reason> {
    let issued = entry.body.issued_at;
    let parent = match entry.body.author {
        Author::Roots => {
            return if state.epoch_at(issued).authorizes(entry.signers()) {
                Ok(1)
            } else {
                Err(Reason::NotEntitled)
            };
        }
        Author::Holder { accreditation } => accreditation,
    };
    let Some((_, parent_acc)) = state.accreditation(&parent) else {
        return Err(Reason::NotEntitled);
    };
    let mut found: Option<Reason> = None;
    let grants_ok = acc.grants.iter().all(|g| parent_acc.accredits(&g.resource));
    if !grants_ok {
        found = Some(Reason::NotEntitled);
    }
    let upstream = |r: Reason| match r {
        Reason::Revoked | Reason::IssuerRevoked => Reason::IssuerRevoked,
        _ => Reason::NotEntitled,
    };
    let mut depth = 0;
    match standing(state, &parent, issued, level + 1) {
        Ok(d) if d >= state.genesis().max_depth => found = Some(first(found, Reason::NotEntitled)),
        Ok(d) => depth = d,
        Err(r) => found = Some(first(found, upstream(r))),
    }
    // `issuer_revoked` is the best an ancestor can give; the check at `at` is then moot.
    if at != issued && found != Some(Reason::IssuerRevoked) {
        if let Err(r) = standing(state, &parent, at, level + 1) {
            found = Some(first(found, upstream(r)));
        }
    }
    match found {
        None => Ok(depth + 1),
        Some(reason) => Err(reason),
    }
}

/// Whether an authorized revocation of accreditation `target` is in effect at `at`.
fn is_revoked(state: &impl View, target: &EntryId, at: Timestamp, level: u8) -> bool {
    state
        .revocations_of(target)
        .iter()
        .any(|rid| revocation_in_effect(state, rid, target, at, level).is_some())
}

/// The accepted entry `rid` as a revocation of `target` that counts and is in effect at
/// `at`, or `None`.
fn revocation_in_effect<'s>(
    state: &'s impl View,
    rid: &EntryId,
    target: &EntryId,
    at: Timestamp,
    level: u8,
) -> Option<&'s Revocation> {
    let rev = state.entry(rid)?;
    let Op::Revoke(r) = &rev.body.op else {
        return None;
    };
    (r.effective_at <= at && revocation_authorized(state, rev, target, level)).then_some(r)
}

/// A revocation counts if the roots in force when it was issued signed it, if it is a
/// self-revocation, or if its author holds an ancestor of the target that was effective
/// when the revocation was issued.
fn revocation_authorized(
    state: &impl View,
    rev: &SignedEntry,
    target: &EntryId,
    level: u8,
) -> bool {
    let holder = match rev.body.author {
        Author::Roots => return state.epoch_at(rev.body.issued_at).authorizes(rev.signers()),
        Author::Holder { accreditation } => accreditation,
    };
    if holder == *target {
        return true;
    }
    // Walk up from the target's issuer; the holder must be one of its ancestors.
    let mut current = *target;
    for up in 1..=state.genesis().max_depth {
        let Some(entry) = state.entry(&current) else {
            return false;
        };
        let Author::Holder {
            accreditation: parent,
        } = entry.body.author
        else {
            return false;
        };
        if parent == holder {
            return standing(state, &holder, rev.body.issued_at, level.saturating_add(up)).is_ok();
        }
        current = parent;
    }
    false
}
