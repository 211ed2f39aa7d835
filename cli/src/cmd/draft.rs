//! Building entry bodies from command-line flags, shared by `accredit`, `revoke` and
//! `entry draft`: the flags, their defaults (times default to now, the nonce to a random
//! number), and the structural checks run before anything is signed or sent.

use anyhow::{bail, Result};
use clap::Args;
use registry_core::did::{DidKey, EntityId};
use registry_core::entry::{
    Accreditation, Author, EntryBody, Governance, Grant, Kind, Op, Revocation, Signature,
    SignedEntry,
};
use registry_core::hash::{EntryId, RegistryId};
use registry_core::time::Timestamp;

use crate::args;

/// What an accreditation says.
#[derive(Debug, Clone, Args)]
pub struct AccreditArgs {
    /// The entity accredited: any DID or an https URL.
    #[arg(long, value_name = "ENTITY", value_parser = args::entity)]
    pub subject: EntityId,
    /// A grant ACTION:RESOURCE (split at the first colon; RESOURCE `*` = any).
    #[arg(long = "grant", value_name = "ACTION:RESOURCE", required = true, num_args = 1.., value_parser = args::grant)]
    pub grants: Vec<Grant>,
    /// did:key allowed to act as the holder (a did:key subject is its own controller).
    #[arg(long = "controller", value_name = "DID", num_args = 1.., value_parser = args::did_key)]
    pub controllers: Vec<DidKey>,
    /// A recognition (TRQP /recognition) instead of an authorization.
    #[arg(long)]
    pub recognition: bool,
    /// Start of validity (RFC 3339 or unix seconds); default now.
    #[arg(long, value_name = "T", value_parser = args::time)]
    pub valid_from: Option<Timestamp>,
    /// End of validity (exclusive); default none.
    #[arg(long, value_name = "T", value_parser = args::time)]
    pub valid_until: Option<Timestamp>,
    /// Human name of the subject, e.g. "University of Example".
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,
    /// Distinguishes otherwise identical entries; default random.
    #[arg(long, value_name = "N")]
    pub nonce: Option<u64>,
}

/// What a revocation says.
#[derive(Debug, Clone, Args)]
pub struct RevokeArgs {
    /// The entry to revoke.
    #[arg(value_name = "ENTRY_ID", value_parser = args::entry_id)]
    pub target: EntryId,
    /// From when the target stops counting (may be in the past); default now.
    #[arg(long, value_name = "T", value_parser = args::time)]
    pub effective_at: Option<Timestamp>,
    /// Why (recorded in the ledger).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Distinguishes otherwise identical entries; default random.
    #[arg(long, value_name = "N")]
    pub nonce: Option<u64>,
}

/// A change of the root set or threshold (always authored by the roots at their
/// threshold).
#[derive(Debug, Clone, clap::Subcommand)]
pub enum GovernanceArgs {
    /// Make DID a root key.
    AddRoot {
        #[arg(value_name = "DID", value_parser = args::did_key)]
        did: DidKey,
        /// Distinguishes otherwise identical entries; default random.
        #[arg(long, value_name = "N")]
        nonce: Option<u64>,
    },
    /// Stop DID being a root key (for entries issued from now on).
    RemoveRoot {
        #[arg(value_name = "DID", value_parser = args::did_key)]
        did: DidKey,
        /// Distinguishes otherwise identical entries; default random.
        #[arg(long, value_name = "N")]
        nonce: Option<u64>,
    },
    /// Set how many root signatures a root action needs (for entries issued from now on).
    SetThreshold {
        #[arg(value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        threshold: u16,
        /// Distinguishes otherwise identical entries; default random.
        #[arg(long, value_name = "N")]
        nonce: Option<u64>,
    },
}

impl GovernanceArgs {
    pub fn governance(&self) -> Governance {
        match self {
            GovernanceArgs::AddRoot { did, .. } => Governance::AddRoot(*did),
            GovernanceArgs::RemoveRoot { did, .. } => Governance::RemoveRoot(*did),
            GovernanceArgs::SetThreshold { threshold, .. } => Governance::SetThreshold(*threshold),
        }
    }

    pub fn op(&self) -> Op {
        Op::Governance(self.governance())
    }

    pub fn nonce(&self) -> Option<u64> {
        match self {
            GovernanceArgs::AddRoot { nonce, .. }
            | GovernanceArgs::RemoveRoot { nonce, .. }
            | GovernanceArgs::SetThreshold { nonce, .. } => *nonce,
        }
    }
}

/// Whether `change` would change anything, given the roots and threshold in force:
/// the error says why not, and what to do instead.
pub fn check_governance(change: &Governance, roots: &[DidKey], threshold: u16) -> Result<()> {
    match change {
        Governance::AddRoot(did) if roots.contains(did) => {
            bail!("{did} is already a root key of this registry")
        }
        Governance::AddRoot(_) => Ok(()),
        Governance::RemoveRoot(did) if !roots.contains(did) => {
            bail!("{did} is not a root key of this registry, so it cannot be removed")
        }
        Governance::RemoveRoot(_) if roots.len() <= usize::from(threshold) => bail!(
            "removing a root would leave {} root(s), fewer than the threshold {threshold}: \
             no root action could be taken after it; lower the threshold first with \
             `registry governance set-threshold N`",
            roots.len() - 1
        ),
        Governance::RemoveRoot(_) => Ok(()),
        Governance::SetThreshold(n) if *n == threshold => {
            bail!("the threshold is already {threshold}")
        }
        Governance::SetThreshold(n) if usize::from(*n) > roots.len() => bail!(
            "a threshold of {n} needs more signatures than there are roots ({}): no root \
             action could be taken after it; add roots first with `registry governance add-root DID`",
            roots.len()
        ),
        Governance::SetThreshold(_) => Ok(()),
        // Checked by the entry's own structural rules (unique keys, 1 <= quorum <= keys).
        Governance::SetWitnesses(_) => Ok(()),
    }
}

/// On whose authority the entry is made.
#[derive(Debug, Clone, Default, Args)]
pub struct AsArgs {
    /// Act as the holder of this accreditation (its controller key signs); without it,
    /// the author is the roots.
    #[arg(long = "as", value_name = "ACCREDITATION_ID", value_parser = args::entry_id)]
    pub accreditation: Option<EntryId>,
}

impl AsArgs {
    pub fn author(&self) -> Author {
        match self.accreditation {
            Some(accreditation) => Author::Holder { accreditation },
            None => Author::Roots,
        }
    }
}

impl AccreditArgs {
    /// The operation, with defaults filled in at `now`; an empty validity window is
    /// refused, saying where its start came from.
    pub fn op(&self, now: Timestamp) -> Result<Op> {
        if self.controllers.is_empty() && self.subject.as_did_key().is_none() {
            bail!(
                "subject {} is not a did:key, so it cannot sign as its own controller: \
                 name the key(s) that will act for it with --controller DID",
                self.subject
            );
        }
        let op = Op::Accredit(Accreditation {
            subject: self.subject.clone(),
            kind: if self.recognition {
                Kind::Recognition
            } else {
                Kind::Authorization
            },
            grants: self.grants.clone(),
            controllers: self.controllers.clone(),
            valid_from: self.valid_from.unwrap_or(now),
            valid_until: self.valid_until,
            label: self.label.clone(),
        });
        super::validity::check_window(&op, self.valid_from.is_some())?;
        Ok(op)
    }
}

impl RevokeArgs {
    pub fn op(&self, now: Timestamp) -> Op {
        Op::Revoke(Revocation {
            target: self.target,
            effective_at: self.effective_at.unwrap_or(now),
            reason: self.reason.clone(),
        })
    }
}

/// An unsigned body for `registry`, checked for everything but its signatures.
pub fn body(
    registry: RegistryId,
    author: Author,
    op: Op,
    now: Timestamp,
    nonce: Option<u64>,
) -> Result<EntryBody> {
    let nonce = match nonce {
        Some(n) => n,
        None => args::random_u64()?,
    };
    let body = EntryBody {
        registry,
        issued_at: now,
        author,
        op,
        nonce,
    };
    check_unsigned(&body)?;
    Ok(body)
}

/// Runs the structural checks of an entry on a body not yet signed. The checks need at
/// least one signature to be present but never look at it, so a placeholder stands in.
/// (registry-core could offer `EntryBody::check_structure` to make this unnecessary.)
pub fn check_unsigned(body: &EntryBody) -> Result<()> {
    let probe = SignedEntry {
        body: body.clone(),
        signatures: vec![Signature {
            signer: DidKey::from_public_key([0; 32]),
            sig: [0; 64],
        }],
    };
    probe
        .check_structure(&body.registry)
        .map_err(|e| anyhow::anyhow!("the entry would be invalid: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        a: AccreditArgs,
    }

    fn parse(argv: &[&str]) -> Result<AccreditArgs, clap::Error> {
        T::try_parse_from(std::iter::once("t").chain(argv.iter().copied())).map(|t| t.a)
    }

    #[test]
    fn a_did_web_subject_needs_a_controller() {
        let a = parse(&[
            "--subject",
            "did:web:uni.example",
            "--grant",
            "issue:Degree",
        ]);
        let a = a.unwrap();
        let e = a
            .op(Timestamp(5))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("--controller"), "{e}");
        let key = DidKey::from_public_key([3; 32]).to_string();
        let a = parse(&["--subject", &key, "--grant", "issue:Degree", "accredit:*"]);
        let a = a.unwrap();
        assert_eq!(a.grants.len(), 2);
        let op = a.op(Timestamp(5)).unwrap();
        let body = body(
            RegistryId::default(),
            Author::Roots,
            op,
            Timestamp(5),
            Some(1),
        );
        assert!(body.is_ok());
    }

    #[test]
    fn structural_problems_are_caught_before_signing() {
        let key = DidKey::from_public_key([3; 32]).to_string();
        let argv = ["--subject", &key, "--grant", "a:b", "--grant", "a:b"];
        let a = parse(&argv).unwrap();
        let op = a.op(Timestamp(5)).unwrap();
        let r = body(
            RegistryId::default(),
            Author::Roots,
            op,
            Timestamp(5),
            Some(1),
        );
        assert!(r
            .err()
            .is_some_and(|e| e.to_string().contains("listed twice")));
        let argv = [
            "--subject",
            &key,
            "--grant",
            "a:b",
            "--valid-from",
            "10",
            "--valid-until",
            "9",
        ];
        let a = parse(&argv).unwrap();
        // An empty window is refused when the operation is built, naming both ends.
        assert!(a
            .op(Timestamp(5))
            .err()
            .is_some_and(|e| e.to_string().contains("must be later than --valid-from")));
        assert!(parse(&["--subject", &key, "--grant", "nocolon"]).is_err());
        assert!(parse(&["--subject", "uni.example", "--grant", "a:b"]).is_err());
    }
}
