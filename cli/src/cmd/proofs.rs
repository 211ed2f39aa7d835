//! `registry proof` (fetch the proof of an answer from a node and keep it as a file) and
//! `registry verify-proof` (check such a file with no network, holding only the registry
//! id): section 12's verifiable answers.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use registry_core::api::TrustParams;
use registry_core::did::{DidKey, EntityId};
use registry_core::entry::{Kind, WitnessSet, MAX_WITNESSES};
use registry_core::eval::Decision;
use registry_core::hash::RegistryId;
use registry_core::proof::{verify, Bundle, VerifyOptions, MAX_BUNDLE_BYTES};
use registry_core::time::Timestamp;
use serde::Serialize;

use super::Ctx;
use crate::args;
use crate::files::{self, Overwrite};
use crate::out::outln;

/// The kind of question, as `--kind` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    Authorization,
    Recognition,
}

impl From<KindArg> for Kind {
    fn from(k: KindArg) -> Kind {
        match k {
            KindArg::Authorization => Kind::Authorization,
            KindArg::Recognition => Kind::Recognition,
        }
    }
}

#[derive(Debug, Args)]
pub struct ProofCommand {
    /// The entity asked about: any DID or an https URL.
    #[arg(value_name = "ENTITY", value_parser = args::entity)]
    pub entity: EntityId,
    /// The action, e.g. issue.
    #[arg(long, value_name = "A")]
    pub action: String,
    /// The resource, e.g. UniversityDegree.
    #[arg(long, value_name = "R")]
    pub resource: String,
    /// The kind of question.
    #[arg(long, value_enum, default_value = "authorization")]
    pub kind: KindArg,
    /// The time asked about (RFC 3339 or unix seconds); default now.
    #[arg(long, value_name = "T", value_parser = args::time)]
    pub at: Option<Timestamp>,
    /// Where to write the bundle (binary; replaced atomically if it exists).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// What `registry proof` reports.
#[derive(Debug, Serialize)]
struct Fetched<'a> {
    path: &'a Path,
    bytes: usize,
    slot: &'a str,
    knowledge_until: &'a str,
    authorized: bool,
    reason: Option<String>,
    signatures: usize,
    cosigned: bool,
}

impl ProofCommand {
    /// Exit 0 once the bundle is written, whatever it proves.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let kind = Kind::from(self.kind);
        let params = TrustParams {
            entity_id: self.entity.to_string(),
            action: self.action.clone(),
            resource: self.resource.clone(),
            at: self.at.map(Timestamp::to_rfc3339),
            kind: Some(kind),
        };
        let answer = ctx
            .client()?
            .trust_with(&params, true, None)
            .context("cannot get a proof from the node")?;
        let Some(view) = answer.proof else {
            bail!("the node answered without a proof (does it make checkpoints?)");
        };
        let bytes = view
            .bundle_bytes()
            .context("the node sent a bundle that is not base64")?;
        let bundle = Bundle::decode(&bytes).context("the node sent a malformed bundle")?;
        let q = &bundle.query;
        if (
            q.entity.as_str(),
            q.action.as_str(),
            q.resource.as_str(),
            q.kind,
        ) != (
            params.entity_id.as_str(),
            self.action.as_str(),
            self.resource.as_str(),
            kind,
        ) || self.at.is_some_and(|at| at != q.at)
        {
            bail!(
                "the node sent the proof of another question ({} {}:{})",
                q.entity,
                q.action,
                q.resource
            );
        }
        files::write_atomic(&self.out, &bytes, Overwrite::Replace)?;
        let fetched = Fetched {
            path: &self.out,
            bytes: bytes.len(),
            slot: &view.slot,
            knowledge_until: &view.knowledge_until,
            authorized: view.authorized,
            reason: view.reason.map(|r| r.to_string()),
            signatures: view.signatures,
            cosigned: view.cosigned,
        };
        ctx.print(&fetched, || {
            let decision = match (&fetched.reason, kind) {
                (None, Kind::Authorization) => "authorized".to_string(),
                (None, Kind::Recognition) => "recognized".to_string(),
                (Some(r), Kind::Authorization) => format!("not authorized: {r}"),
                (Some(r), Kind::Recognition) => format!("not recognized: {r}"),
            };
            outln!("{decision}");
            outln!(
                "  slot          {} (knowledge until {})",
                view.slot,
                view.knowledge_until
            );
            let cosigned = if view.cosigned {
                "cosigned"
            } else {
                "not cosigned yet"
            };
            outln!(
                "  signatures    {} witness(es), {cosigned}",
                view.signatures
            );
            outln!(
                "  wrote         {} ({} bytes)",
                self.out.display(),
                bytes.len()
            );
        })?;
        Ok(ExitCode::SUCCESS)
    }
}

#[derive(Debug, Args)]
pub struct VerifyProofCommand {
    /// The bundle file written by `registry proof`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The registry id (64 hex digits) the answer must be about: all a verifier pins.
    #[arg(long, value_name = "ID", value_parser = registry_id)]
    pub registry: RegistryId,
    /// Refuse a checkpoint whose slot is more than SECS before --now.
    #[arg(long, value_name = "SECS")]
    pub max_age: Option<u64>,
    /// Count these witnesses instead of the set in force in the proven governance: a
    /// JSON file {"keys": ["did:key:...", ...], "quorum": K}.
    #[arg(long, value_name = "FILE")]
    pub witnesses: Option<PathBuf>,
    /// The verifier's clock (RFC 3339 or unix seconds); default now.
    #[arg(long, value_name = "T", value_parser = args::time)]
    pub now: Option<Timestamp>,
}

/// A registry id: 64 hex digits.
pub fn registry_id(s: &str) -> Result<RegistryId, String> {
    RegistryId::from_hex(s.trim()).map_err(|_| {
        let shown: String = s.chars().take(80).collect();
        format!("{shown:?} is not a registry id (expected 64 hex digits)")
    })
}

/// The machine-readable result of `registry verify-proof --json`.
#[derive(Debug, Serialize)]
struct Outcome {
    valid: bool,
    /// The failed check, when not valid.
    check: Option<&'static str>,
    error: Option<String>,
    authorized: Option<bool>,
    reason: Option<String>,
    slot: Option<String>,
    /// Seconds from the slot to --now.
    age: Option<u64>,
    signers: Vec<DidKey>,
    quorum: Option<u16>,
    query: Option<registry_core::proof::ProvenQuery>,
}

impl VerifyProofCommand {
    /// Exit 0 when the proof is valid and authorizes, 1 when valid and it does not, 2
    /// when invalid, stale or malformed (the failed check named).
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let witnesses = self.witnesses.as_deref().map(read_witnesses).transpose()?;
        let bytes = read_bundle(&self.file)?;
        let options = VerifyOptions {
            registry: self.registry,
            now: self.now.unwrap_or_else(args::now),
            max_age: self.max_age,
            witnesses,
        };
        let mut outcome = Outcome {
            valid: false,
            check: None,
            error: None,
            authorized: None,
            reason: None,
            slot: None,
            age: None,
            signers: Vec::new(),
            quorum: None,
            query: None,
        };
        let verified = match Bundle::decode(&bytes) {
            Err(e) => Err(("malformed", format!("the file is not a bundle: {e}"))),
            Ok(bundle) => {
                outcome.query = Some(bundle.query.clone());
                verify(&bundle, &options).map_err(|e| (e.check(), e.to_string()))
            }
        };
        let code = match verified {
            Err((check, error)) => {
                outcome.check = Some(check);
                outcome.error = Some(error);
                2
            }
            Ok(v) => {
                outcome.valid = true;
                let authorized = v.decision.is_authorized();
                outcome.authorized = Some(authorized);
                if let Decision::Denied { reason, .. } = &v.decision {
                    let mut text = reason.to_string();
                    if let Some(d) = &v.decisive {
                        text.push_str(&format!(" ({d})"));
                    }
                    outcome.reason = Some(text);
                }
                outcome.slot = Some(v.checkpoint.slot.to_rfc3339());
                outcome.age = Some(v.age);
                outcome.signers = v.signers;
                outcome.quorum = Some(v.quorum);
                u8::from(!authorized)
            }
        };
        if ctx.json {
            ctx.print(&outcome, || {})?;
        } else {
            print_outcome(&outcome);
        }
        Ok(ExitCode::from(code))
    }
}

fn print_outcome(o: &Outcome) {
    if let (Some(check), Some(error)) = (o.check, &o.error) {
        eprintln!("invalid proof: {check}: {error}");
        return;
    }
    let recognition = o
        .query
        .as_ref()
        .is_some_and(|q| q.kind == Kind::Recognition);
    let verb = if recognition {
        "recognized"
    } else {
        "authorized"
    };
    match &o.reason {
        None => outln!("{verb} (valid proof)"),
        Some(r) => outln!("not {verb}: {r} (valid proof)"),
    }
    if let Some(q) = &o.query {
        outln!(
            "  question      {} {}:{} at {}",
            q.entity,
            q.action,
            q.resource,
            q.at
        );
    }
    if let (Some(slot), Some(age)) = (&o.slot, o.age) {
        outln!("  checkpoint    slot {slot} ({age} s old)");
    }
    outln!(
        "  signed by     {} witness(es), quorum {}",
        o.signers.len(),
        o.quorum.unwrap_or(0)
    );
    for s in &o.signers {
        outln!("    {s}");
    }
}

/// Reads a bundle file of at most [`MAX_BUNDLE_BYTES`].
pub fn read_bundle(path: &Path) -> Result<Vec<u8>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_BUNDLE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() > MAX_BUNDLE_BYTES {
        bail!(
            "{} is larger than {MAX_BUNDLE_BYTES} bytes, the largest bundle",
            path.display()
        );
    }
    Ok(bytes)
}

/// Reads a verifier's own witness list, checked as a `SetWitnesses` would be.
pub fn read_witnesses(path: &Path) -> Result<WitnessSet> {
    let text = files::read_bounded(path)?;
    let set: WitnessSet = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a witness list (expected {{\"keys\": [\"did:key:...\"], \"quorum\": K}})",
            path.display()
        )
    })?;
    check_witnesses(&set.keys, set.quorum)
        .with_context(|| format!("{} is not a usable witness list", path.display()))?;
    Ok(set)
}

/// The rules of a witness set, each with its own message: 1 to [`MAX_WITNESSES`] distinct
/// keys and a quorum from 1 to their number.
pub fn check_witnesses(keys: &[DidKey], quorum: u16) -> Result<()> {
    if keys.is_empty() {
        bail!("name at least one witness");
    }
    if keys.len() > MAX_WITNESSES {
        bail!(
            "{} witnesses are named; at most {MAX_WITNESSES} are allowed",
            keys.len()
        );
    }
    for (i, k) in keys.iter().enumerate() {
        if keys[..i].contains(k) {
            bail!("witness {k} is named twice");
        }
    }
    if quorum == 0 {
        bail!("a quorum of 0 would make every checkpoint valid; it must be at least 1");
    }
    if usize::from(quorum) > keys.len() {
        bail!(
            "a quorum of {quorum} needs more signatures than there are witnesses ({})",
            keys.len()
        );
    }
    Ok(())
}
