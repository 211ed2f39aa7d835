//! The registry's side of a credential (DESIGN section 13): which question a credential
//! asks, and the answer.
//!
//! - `entity_id` is the issuer (`issuer`, `issuer.id`, or `iss`), `action` is `issue`,
//!   each `resource` is one of the credential's types other than `VerifiableCredential`
//!   (or its `vct`), and `T` is when it was signed (`proof.created`, `iat`; else
//!   `validFrom`/`nbf`).
//! - The signing key must act for the issuer at `T`: it is the issuer's own `did:key`, or
//!   a controller of an accreditation of the issuer that grants `issue` on the type and is
//!   effective at `T`. The registry pins the keys that act for a subject, so no DID is
//!   ever resolved; a key that was never named, or was named only in an accreditation
//!   that no longer counted at `T` (revoked, even back-dated, or expired), signs nothing
//!   the registry vouches for.
//! - The credential is valid when, for every type, the key acts and the issuer is
//!   authorized at `T`, and the credential's own window (`validFrom`..`validUntil`,
//!   `nbf`..`exp`) holds at the time of checking. Whether the issuer is authorized at the
//!   time of checking is reported too.
//!
//! All of it runs over a [`View`]: the node's state, or the slice a proof bundle proves.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::jose::numeric_date;
use super::{CredentialError, Format, KeyBinding, Signed};
use crate::did::DidKey;
use crate::entry::Kind;
use crate::eval::{decisive, evaluate, status, Decision, Query, Reason, View};
use crate::hash::EntryId;
use crate::time::Timestamp;

/// The action every credential asks about.
pub const ISSUE_ACTION: &str = "issue";
/// The type every W3C credential carries, which names no kind of credential.
pub const BASE_TYPE: &str = "VerifiableCredential";
/// Most types one credential may ask about.
pub const MAX_TYPES: usize = 16;

/// The question a signed credential asks of the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub issuer: String,
    /// The resources: the credential's types (without `VerifiableCredential`) or `vct`.
    pub types: Vec<String>,
    /// The signing time `T`.
    #[serde(with = "crate::time::as_rfc3339")]
    pub signed_at: Timestamp,
    /// Which claim gave `T`: `proof.created`, `iat`, `validFrom` or `nbf`.
    pub signed_at_from: String,
    /// The credential's own window.
    #[serde(with = "crate::time::as_rfc3339_opt")]
    pub valid_from: Option<Timestamp>,
    #[serde(with = "crate::time::as_rfc3339_opt")]
    pub valid_until: Option<Timestamp>,
}

/// Reads the question out of a verified credential's claims.
pub fn question(signed: &Signed) -> Result<Question, CredentialError> {
    let claims = &signed.claims;
    let (issuer, types, valid_from, valid_until) = match signed.format {
        Format::DataIntegrity | Format::Jwt => (
            w3c_issuer(claims)?,
            w3c_types(claims)?,
            rfc3339_claim(claims, "validFrom")?,
            rfc3339_claim(claims, "validUntil")?,
        ),
        Format::SdJwt => {
            let iss = claims
                .get("iss")
                .and_then(Value::as_str)
                .ok_or(CredentialError::Missing("iss"))?;
            let vct = claims
                .get("vct")
                .and_then(Value::as_str)
                .ok_or(CredentialError::Missing("vct"))?;
            (iss.to_string(), vec![vct.to_string()], None, None)
        }
    };
    let (valid_from, valid_until) = match signed.format {
        Format::DataIntegrity => (valid_from, valid_until),
        Format::Jwt | Format::SdJwt => (
            valid_from.or(numeric_date(claims, "nbf")?),
            valid_until.or(numeric_date(claims, "exp")?),
        ),
    };
    let (signed_at, signed_at_from) = match (signed.signed_at, signed.format) {
        (Some(t), Format::DataIntegrity) => (t, "proof.created"),
        (Some(t), _) => (t, "iat"),
        (None, Format::DataIntegrity) => (
            valid_from.ok_or(CredentialError::Missing("proof.created or validFrom"))?,
            "validFrom",
        ),
        (None, _) => match (
            rfc3339_claim(claims, "validFrom")?,
            numeric_date(claims, "nbf")?,
        ) {
            (Some(t), _) => (t, "validFrom"),
            (None, Some(t)) => (t, "nbf"),
            (None, None) => return Err(CredentialError::Missing("iat, validFrom or nbf")),
        },
    };
    Ok(Question {
        issuer,
        types,
        signed_at,
        signed_at_from: signed_at_from.into(),
        valid_from,
        valid_until,
    })
}

fn w3c_issuer(claims: &Value) -> Result<String, CredentialError> {
    let issuer = match claims.get("issuer") {
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Object(o)) => o
            .get("id")
            .and_then(Value::as_str)
            .ok_or(CredentialError::Missing("issuer.id"))?,
        Some(_) => {
            return Err(CredentialError::Structure(
                "issuer must be a string or an object with an id".into(),
            ))
        }
        None => claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or(CredentialError::Missing("issuer"))?,
    };
    Ok(issuer.to_string())
}

fn w3c_types(claims: &Value) -> Result<Vec<String>, CredentialError> {
    let listed: Vec<&Value> = match claims.get("type") {
        Some(Value::String(_)) => vec![&claims["type"]],
        Some(Value::Array(a)) => a.iter().collect(),
        Some(_) => {
            return Err(CredentialError::Structure(
                "type must be a string or an array".into(),
            ))
        }
        None => return Err(CredentialError::Missing("type")),
    };
    let mut types = Vec::new();
    for t in listed {
        let t = t
            .as_str()
            .ok_or_else(|| CredentialError::Structure("every type must be a string".into()))?;
        if t != BASE_TYPE && !types.iter().any(|s: &String| s == t) {
            types.push(t.to_string());
        }
    }
    if types.is_empty() {
        return Err(CredentialError::Missing(
            "a type other than VerifiableCredential",
        ));
    }
    if types.len() > MAX_TYPES {
        return Err(CredentialError::Structure(format!(
            "{} types, more than the {MAX_TYPES} allowed",
            types.len()
        )));
    }
    Ok(types)
}

fn rfc3339_claim(
    claims: &Value,
    field: &'static str,
) -> Result<Option<Timestamp>, CredentialError> {
    match claims.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => {
            Timestamp::parse_rfc3339(s)
                .map(Some)
                .map_err(|e| CredentialError::Time {
                    field,
                    why: e.to_string(),
                })
        }
        Some(_) => Err(CredentialError::Time {
            field,
            why: "not an RFC 3339 string".into(),
        }),
    }
}

/// How the signing key stands with the issuer, for one type at the signing time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "standing", rename_all = "snake_case")]
pub enum KeyStanding {
    /// The issuer is this `did:key`.
    Issuer,
    /// A controller of this accreditation of the issuer, effective at the signing time.
    Controller { accreditation: EntryId },
    /// A controller only of accreditations that did not count at the signing time (the
    /// smallest id, and why).
    Lapsed {
        accreditation: EntryId,
        reason: Reason,
    },
    /// Named by no accreditation of the issuer for the type.
    Unknown,
}

impl KeyStanding {
    pub fn acts(&self) -> bool {
        matches!(self, KeyStanding::Issuer | KeyStanding::Controller { .. })
    }
}

/// The registry's answer about one type at one time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    #[serde(with = "crate::time::as_rfc3339")]
    pub at: Timestamp,
    pub authorized: bool,
    /// Why not, when not.
    pub reason: Option<Reason>,
    /// From the matching accreditation up to the root-authored one (authorized), or the
    /// accreditation the reason is about.
    pub chain: Vec<EntryId>,
    /// The entry a denial rests on, in words.
    pub decisive: Option<String>,
}

/// The answers about one of the credential's types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeAnswer {
    pub resource: String,
    pub key: KeyStanding,
    /// At the signing time.
    pub then: Answer,
    /// At the time of checking; `None` when a proof bundle does not cover it.
    pub now: Option<Answer>,
}

/// Why a credential whose signature verified is still not valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// `key_not_for_issuer`, `not_authorized`, `credential_expired`,
    /// `credential_not_yet_valid`.
    pub code: String,
    pub message: String,
}

/// The whole verdict on one credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub valid: bool,
    pub refusal: Option<Refusal>,
    pub format: Format,
    pub issuer: String,
    pub key: DidKey,
    pub verification_method: String,
    #[serde(with = "crate::time::as_rfc3339")]
    pub signed_at: Timestamp,
    pub signed_at_from: String,
    #[serde(with = "crate::time::as_rfc3339")]
    pub checked_at: Timestamp,
    #[serde(with = "crate::time::as_rfc3339_opt")]
    pub valid_from: Option<Timestamp>,
    #[serde(with = "crate::time::as_rfc3339_opt")]
    pub valid_until: Option<Timestamp>,
    pub types: Vec<TypeAnswer>,
    pub disclosed: Vec<String>,
    pub key_binding: Option<KeyBinding>,
}

/// Answers one type's question over `view`: the key's standing and the answer at `T`.
pub fn answer_then(
    view: &impl View,
    q: &Question,
    key: &DidKey,
    resource: &str,
) -> (KeyStanding, Answer) {
    let query = Query {
        entity: &q.issuer,
        action: ISSUE_ACTION,
        resource,
        kind: Kind::Authorization,
    };
    (
        key_standing(view, &query, key, q.signed_at),
        answer(view, &query, q.signed_at),
    )
}

/// The answer about `resource` at `at` (the time of checking).
pub fn answer_at(view: &impl View, q: &Question, resource: &str, at: Timestamp) -> Answer {
    let query = Query {
        entity: &q.issuer,
        action: ISSUE_ACTION,
        resource,
        kind: Kind::Authorization,
    };
    answer(view, &query, at)
}

fn answer(view: &impl View, query: &Query<'_>, at: Timestamp) -> Answer {
    match evaluate(view, query, at) {
        Decision::Authorized { chain } => Answer {
            at,
            authorized: true,
            reason: None,
            chain,
            decisive: None,
        },
        Decision::Denied {
            reason,
            accreditation,
        } => Answer {
            at,
            authorized: false,
            reason: Some(reason),
            decisive: accreditation
                .and_then(|id| decisive(view, reason, &id, at))
                .map(|d| d.to_string()),
            chain: accreditation.into_iter().collect(),
        },
    }
}

/// How `key` stands with the query's entity at `at`: it is the entity, or a controller of
/// one of the entity's accreditations that grants the query and is effective at `at` (the
/// smallest such id is named), or of only ones that are not.
fn key_standing(view: &impl View, query: &Query<'_>, key: &DidKey, at: Timestamp) -> KeyStanding {
    if DidKey::parse(query.entity).is_ok_and(|d| d == *key) {
        return KeyStanding::Issuer;
    }
    let mut acting: Option<EntryId> = None;
    let mut lapsed: Option<(EntryId, Reason)> = None;
    for id in view.accreditations_of(query.entity, query.kind) {
        let Some((_, acc)) = view.accreditation(id) else {
            continue;
        };
        if acc.kind != query.kind
            || !acc.controllers.contains(key)
            || !acc
                .grants
                .iter()
                .any(|g| g.covers(query.action, query.resource))
        {
            continue;
        }
        match status(view, id, at) {
            Ok(_) => {
                if acting.is_none_or(|b| *id < b) {
                    acting = Some(*id);
                }
            }
            Err(reason) => {
                if lapsed.is_none_or(|(b, _)| *id < b) {
                    lapsed = Some((*id, reason));
                }
            }
        }
    }
    match (acting, lapsed) {
        (Some(accreditation), _) => KeyStanding::Controller { accreditation },
        (None, Some((accreditation, reason))) => KeyStanding::Lapsed {
            accreditation,
            reason,
        },
        (None, None) => KeyStanding::Unknown,
    }
}

/// Puts the verdict together from the per-type answers.
pub fn report(
    signed: &Signed,
    q: Question,
    checked_at: Timestamp,
    types: Vec<TypeAnswer>,
) -> Report {
    let refusal = refusal(signed, &q, checked_at, &types);
    Report {
        valid: refusal.is_none(),
        refusal,
        format: signed.format,
        issuer: q.issuer,
        key: signed.key,
        verification_method: signed.verification_method.clone(),
        signed_at: q.signed_at,
        signed_at_from: q.signed_at_from,
        checked_at,
        valid_from: q.valid_from,
        valid_until: q.valid_until,
        types,
        disclosed: signed.disclosed.clone(),
        key_binding: signed.key_binding.clone(),
    }
}

fn refusal(signed: &Signed, q: &Question, now: Timestamp, types: &[TypeAnswer]) -> Option<Refusal> {
    let not_for_issuer = |t: &TypeAnswer, why: String| Refusal {
        code: "key_not_for_issuer".into(),
        message: format!(
            "key does not act for the issuer: {} is neither {} nor a controller of an \
             accreditation of it for {ISSUE_ACTION}:{} effective at {}{why}",
            signed.key, q.issuer, t.resource, q.signed_at
        ),
    };
    for t in types {
        if t.key == KeyStanding::Unknown {
            return Some(not_for_issuer(t, String::new()));
        }
        if !t.then.authorized {
            let reason = t.then.reason.unwrap_or(Reason::NoAccreditation);
            let because = t
                .then
                .decisive
                .as_ref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            return Some(Refusal {
                code: "not_authorized".into(),
                message: format!(
                    "{} was not authorized to {ISSUE_ACTION} {} when it signed, at {}: \
                     {reason}{because}",
                    q.issuer, t.resource, q.signed_at
                ),
            });
        }
        if let KeyStanding::Lapsed {
            accreditation,
            reason,
        } = &t.key
        {
            return Some(not_for_issuer(
                t,
                format!(" (it controls only {accreditation}, which did not count then: {reason})"),
            ));
        }
    }
    if let Some(from) = q.valid_from.filter(|f| now < *f) {
        return Some(Refusal {
            code: "credential_not_yet_valid".into(),
            message: format!("the credential is valid from {from}, checked at {now}"),
        });
    }
    if let Some(until) = q.valid_until.filter(|u| now >= *u) {
        return Some(Refusal {
            code: "credential_expired".into(),
            message: format!("the credential expired at {until}, checked at {now}"),
        });
    }
    None
}

/// Checks a verified credential against `view` (the node's state), at `now`.
pub fn check(view: &impl View, signed: &Signed, now: Timestamp) -> Result<Report, CredentialError> {
    let q = question(signed)?;
    let types = q
        .types
        .iter()
        .map(|resource| {
            let (key, then) = answer_then(view, &q, &signed.key, resource);
            TypeAnswer {
                resource: resource.clone(),
                key,
                then,
                now: Some(answer_at(view, &q, resource, now)),
            }
        })
        .collect();
    Ok(report(signed, q, now, types))
}
