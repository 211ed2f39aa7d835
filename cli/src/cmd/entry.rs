//! `registry entry draft|sign|show|submit`: offline multi-signature. A draft is the JSON
//! of a `SignedEntry` with no signatures; each key holder adds a signature on their own
//! machine (no node needed), and anyone submits the result.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use registry_cli::ClientError;
use registry_core::api::{EntryStatus, SubmitStatus};
use registry_core::did::DidKey;
use registry_core::entry::{Author, Governance, Op, Signature, SignedEntry, MAX_SIGNATURES};
use registry_core::hash::{EntryId, RegistryId};
use registry_core::verify::Verifier;
use serde_json::json;

use super::draft::{self, AccreditArgs, AsArgs, RevokeArgs};
use super::{author, genesis, keys, Ctx};
use crate::args;
use crate::files::{self, Overwrite};
use crate::out::outln;

#[derive(Debug, Subcommand)]
pub enum EntryCommand {
    /// Write an unsigned entry to a file.
    #[command(subcommand)]
    Draft(DraftCommand),
    /// Add a signature to an entry file, in place.
    Sign(SignArgs),
    /// Print an entry file whole and check its signatures; with --genesis or --online,
    /// also whether its signers can author it.
    Show(ShowArgs),
    /// Fetch an entry from the node and print it whole, with its status, the revocations
    /// that target it and whether it counts now (and, if not, the entry that decides it).
    Get(GetArgs),
    /// Submit a signed entry file to the node. Refuses a root-authored entry that lacks
    /// the signatures the roots in force need, and exits 1 when the node holds the entry
    /// pending, unless --allow-pending.
    Submit(SubmitArgs),
}

#[derive(Debug, Subcommand)]
pub enum DraftCommand {
    /// Draft an accreditation (same flags as `registry accredit`, without --key).
    Accredit {
        #[command(flatten)]
        accreditation: AccreditArgs,
        #[command(flatten)]
        author: AsArgs,
        #[command(flatten)]
        target: DraftTarget,
    },
    /// Draft a revocation (same flags as `registry revoke`, without --key).
    Revoke {
        #[command(flatten)]
        revocation: RevokeArgs,
        #[command(flatten)]
        author: AsArgs,
        #[command(flatten)]
        target: DraftTarget,
    },
    /// Draft making DID a root key (signed by the roots at their threshold).
    AddRoot {
        #[arg(value_name = "DID", value_parser = args::did_key)]
        did: DidKey,
        #[command(flatten)]
        target: GovernanceTarget,
    },
    /// Draft removing the root key DID (signed by the roots at their threshold).
    RemoveRoot {
        #[arg(value_name = "DID", value_parser = args::did_key)]
        did: DidKey,
        #[command(flatten)]
        target: GovernanceTarget,
    },
    /// Draft a new threshold of root signatures (signed by the roots at their threshold).
    SetThreshold {
        #[arg(value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        threshold: u16,
        #[command(flatten)]
        target: GovernanceTarget,
    },
    /// Draft a new set of checkpoint witnesses (signed by the roots at their threshold).
    SetWitnesses {
        #[command(flatten)]
        set: super::witnesses::WitnessArgs,
        #[command(flatten)]
        target: GovernanceTarget,
    },
}

/// The nonce and destination of a governance draft.
#[derive(Debug, Args)]
pub struct GovernanceTarget {
    /// Distinguishes otherwise identical entries; default random.
    #[arg(long, value_name = "N")]
    pub nonce: Option<u64>,
    #[command(flatten)]
    pub target: DraftTarget,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The entry file (JSON).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Submit even if the entry cannot count yet (too few root signatures, or a reference
    /// the node lacks), to wait at the node; exit 0 when it is held pending.
    #[arg(long)]
    pub allow_pending: bool,
}

/// Where the registry id comes from, and where the draft goes.
#[derive(Debug, Args)]
pub struct DraftTarget {
    /// Take the registry id from this genesis file (works offline); else ask the node.
    #[arg(long, value_name = "FILE")]
    pub genesis: Option<PathBuf>,
    /// Where to write the draft; an existing file is never overwritten.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The entry file, changed in place.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Key file to sign with (repeat, or list several).
    #[arg(long = "key", value_name = "KEY_FILE", required = true, num_args = 1..)]
    pub keys: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The entry file (JSON).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Check a root-authored entry's signers against this genesis's roots and threshold
    /// (works offline; governance accepted since genesis is not seen).
    #[arg(long, value_name = "FILE", conflicts_with = "online")]
    pub genesis: Option<PathBuf>,
    /// Check the signers against what the node (--node) holds: the roots and threshold in
    /// force, or the controllers of the --as accreditation.
    #[arg(long)]
    pub online: bool,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The entry id (64 hex digits).
    #[arg(value_name = "ID", value_parser = args::entry_id)]
    pub id: EntryId,
}

impl EntryCommand {
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        match self {
            EntryCommand::Draft(d) => d.run(ctx),
            EntryCommand::Sign(a) => sign(ctx, a),
            EntryCommand::Show(a) => show(ctx, a),
            EntryCommand::Get(a) => get(ctx, a),
            EntryCommand::Submit(a) => submit(ctx, a),
        }
    }
}

impl DraftCommand {
    fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let now = args::now();
        let (op, nonce, author, target) = match self {
            DraftCommand::Accredit {
                accreditation,
                author,
                target,
            } => (accreditation.op(now)?, accreditation.nonce, author, target),
            DraftCommand::Revoke {
                revocation,
                author,
                target,
            } => (revocation.op(now), revocation.nonce, author, target),
            DraftCommand::AddRoot { did, target } => governance(Governance::AddRoot(did), target),
            DraftCommand::RemoveRoot { did, target } => {
                governance(Governance::RemoveRoot(did), target)
            }
            DraftCommand::SetThreshold { threshold, target } => {
                governance(Governance::SetThreshold(threshold), target)
            }
            DraftCommand::SetWitnesses { set, target } => governance(set.governance()?, target),
        };
        let registry = registry_id(ctx, &target)?;
        let body = draft::body(registry, author.author(), op, now, nonce)?;
        let entry = SignedEntry {
            body,
            signatures: Vec::new(),
        };
        files::write_entry(&target.out, &entry, Overwrite::Refuse)?;
        let id = entry.id().to_hex();
        ctx.print(&json!({ "id": id, "path": target.out }), || {
            outln!("{id}");
            eprintln!(
                "wrote {}; sign it with `registry entry sign {} --key KEY_FILE`",
                target.out.display(),
                target.out.display()
            );
        })?;
        Ok(ExitCode::SUCCESS)
    }
}

/// The parts of a governance draft: always authored by the roots.
fn governance(change: Governance, t: GovernanceTarget) -> (Op, Option<u64>, AsArgs, DraftTarget) {
    (Op::Governance(change), t.nonce, AsArgs::default(), t.target)
}

fn registry_id(ctx: &Ctx, target: &DraftTarget) -> Result<RegistryId> {
    match &target.genesis {
        Some(path) => Ok(genesis::read(path)?.registry_id()),
        None => Ok(ctx
            .client()?
            .status()
            .context("cannot learn the registry id from the node (or pass --genesis FILE)")?
            .registry_id),
    }
}

/// Verifies every signature present; the error names the signer whose signature fails.
fn verify_present(entry: &SignedEntry, file: &std::path::Path) -> Result<()> {
    Verifier::new().verify_entry(entry).with_context(|| {
        format!(
            "{}: an existing signature does not match the entry (was it changed after signing?)",
            file.display()
        )
    })
}

fn sign(ctx: &Ctx, a: SignArgs) -> Result<ExitCode> {
    let mut entry = files::read_entry(&a.file)?;
    verify_present(&entry, &a.file)?;
    draft::check_unsigned(&entry.body)?;
    let id = entry.id();
    for key in keys::load_all(&a.keys)? {
        let did = key.did();
        if entry.signers().any(|s| *s == did) {
            bail!("{} is already signed by {did}", a.file.display());
        }
        if entry.signatures.len() >= MAX_SIGNATURES {
            bail!("an entry carries at most {MAX_SIGNATURES} signatures");
        }
        entry.signatures.push(Signature {
            signer: did,
            sig: key.sign(id.as_bytes()),
        });
    }
    files::write_entry(&a.file, &entry, Overwrite::Replace)?;
    let signers: Vec<String> = entry.signers().map(ToString::to_string).collect();
    ctx.print(&json!({ "id": id, "signers": signers }), || {
        outln!("{id}");
        eprintln!("{} signature(s): {}", signers.len(), signers.join(", "));
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Each signature of `entry` and whether it verifies.
fn signature_checks(entry: &SignedEntry) -> Vec<(String, bool)> {
    let mut verifier = Verifier::new();
    entry
        .signatures
        .iter()
        .map(|s| {
            let one = SignedEntry {
                body: entry.body.clone(),
                signatures: vec![s.clone()],
            };
            (s.signer.to_string(), verifier.verify_entry(&one).is_ok())
        })
        .collect()
}

fn show(ctx: &Ctx, a: ShowArgs) -> Result<ExitCode> {
    let entry = files::read_entry(&a.file)?;
    let id = entry.id();
    let checks = signature_checks(&entry);
    let authority = match (&a.genesis, a.online) {
        (Some(path), _) => {
            let g = genesis::read(path)?;
            if g.registry_id() != entry.body.registry {
                bail!(
                    "{} is an entry of registry {}, not of {} ({})",
                    a.file.display(),
                    entry.body.registry,
                    g.registry_id(),
                    path.display()
                );
            }
            Some(signer_check(&entry, &g.roots, g.threshold, "the genesis's"))
        }
        (None, true) => Some(online_signer_check(ctx, &entry)?),
        (None, false) => None,
    };
    let sigs: Vec<_> = checks
        .iter()
        .map(|(s, ok)| json!({ "signer": s, "valid": ok }))
        .collect();
    let mut value = json!({ "id": id, "entry": entry, "signatures": sigs });
    if let Some(c) = &authority {
        value["authority"] = json!({ "enough": c.enough, "detail": c.detail });
    }
    ctx.print(&value, || {
        print_entry(&entry, &checks);
        if let Some(c) = &authority {
            outln!("authority   {}", c.detail);
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Whether the signers of an entry can author it, and the sentence that says so.
struct SignerCheck {
    enough: bool,
    detail: String,
}

/// For a root-authored entry: how many of `roots` signed, against `threshold`.
fn signer_check(entry: &SignedEntry, roots: &[DidKey], threshold: u16, whose: &str) -> SignerCheck {
    if let Author::Holder { accreditation } = entry.body.author {
        return SignerCheck {
            enough: false,
            detail: format!(
                "authored as the holder of {accreditation}: its controllers are known only to a \
                 node (use --online)"
            ),
        };
    }
    match under_signed(entry, roots, threshold) {
        None => SignerCheck {
            enough: true,
            detail: format!(
                "enough: signed by {} of {whose} {} root(s), threshold {threshold}",
                entry.signers().filter(|s| roots.contains(s)).count(),
                roots.len()
            ),
        },
        Some(why) => SignerCheck {
            enough: false,
            detail: format!("not enough under {whose} roots: {why}"),
        },
    }
}

/// The signers against what the node holds: the roots in force, or the holder's
/// controllers.
fn online_signer_check(ctx: &Ctx, entry: &SignedEntry) -> Result<SignerCheck> {
    let client = ctx.client()?;
    match entry.body.author {
        Author::Roots => {
            let status = client
                .status()
                .context("cannot learn the roots in force from the node")?;
            if status.registry_id != entry.body.registry {
                bail!(
                    "the entry is of registry {}, but the node at {} serves {}",
                    entry.body.registry,
                    client.base_url(),
                    status.registry_id
                );
            }
            Ok(signer_check(
                entry,
                &status.roots,
                status.threshold,
                "the node's",
            ))
        }
        Author::Holder { accreditation } => {
            let view = client.entry(&accreditation).with_context(|| {
                format!("cannot fetch the author's accreditation {accreditation}")
            })?;
            let Some(acc) = view.entry.accreditation() else {
                return Ok(SignerCheck {
                    enough: false,
                    detail: format!("the author's entry {accreditation} is not an accreditation"),
                });
            };
            let strangers: Vec<String> = entry
                .signers()
                .filter(|s| !acc.is_controller(s))
                .map(ToString::to_string)
                .collect();
            let controllers = entry.signers().filter(|s| acc.is_controller(s)).count();
            Ok(if controllers == 0 {
                SignerCheck {
                    enough: false,
                    detail: format!(
                        "no signer is a controller of {accreditation} (subject {})",
                        acc.subject
                    ),
                }
            } else if !strangers.is_empty() {
                SignerCheck {
                    enough: false,
                    detail: format!(
                        "signers that are not controllers of {accreditation}: {}",
                        strangers.join(", ")
                    ),
                }
            } else {
                SignerCheck {
                    enough: true,
                    detail: format!(
                        "enough: signed by {controllers} controller(s) of {accreditation} \
                         (subject {})",
                        acc.subject
                    ),
                }
            })
        }
    }
}

fn get(ctx: &Ctx, a: GetArgs) -> Result<ExitCode> {
    let client = ctx.client()?;
    let view = match client.entry(&a.id) {
        Err(ClientError::NotFound) => bail!(
            "the node at {} holds no accepted or pending entry {}",
            client.base_url(),
            a.id
        ),
        other => other.with_context(|| format!("cannot fetch entry {}", a.id))?,
    };
    let checks = signature_checks(&view.entry);
    ctx.print(&view, || {
        let status = match (view.status, view.height) {
            (EntryStatus::Accepted, Some(h)) => format!("accepted, block {h}"),
            (EntryStatus::Accepted, None) => "accepted (its block is being written)".to_string(),
            (EntryStatus::Pending, _) => "pending".to_string(),
        };
        outln!("status      {status}");
        match (view.effective_now, view.reason_now, &view.decisive_now) {
            (Some(true), _, _) => outln!("counts now  yes"),
            (Some(false), Some(r), Some(d)) => outln!("counts now  no: {r} ({})", d.detail),
            (Some(false), Some(r), None) => outln!("counts now  no: {r}"),
            (Some(false), None, _) => outln!("counts now  no: it changes nothing"),
            (None, _, _) => {}
        }
        print_entry(&view.entry, &checks);
        for r in &view.revocations {
            outln!("revoked by  {r}");
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

fn print_entry(entry: &SignedEntry, checks: &[(String, bool)]) {
    let b = &entry.body;
    outln!("id          {}", entry.id());
    outln!("registry    {}", b.registry);
    outln!("issued_at   {}", b.issued_at);
    match b.author {
        Author::Roots => outln!("author      roots"),
        Author::Holder { accreditation } => outln!("author      holder of {accreditation}"),
    }
    match &b.op {
        Op::Accredit(a) => {
            outln!("op          accredit {} ({:?})", a.subject, a.kind);
            for g in &a.grants {
                outln!("  grant       {}:{}", g.action, g.resource);
            }
            for c in &a.controllers {
                outln!("  controller  {c}");
            }
            let until = a
                .valid_until
                .map_or("(no end)".to_string(), |t| t.to_string());
            outln!("  valid       {} .. {until}", a.valid_from);
            if let Some(l) = &a.label {
                outln!("  label       {l}");
            }
        }
        Op::Revoke(r) => {
            outln!("op          revoke {}", r.target);
            outln!("  effective   {}", r.effective_at);
            outln!("  reason      {}", r.reason);
        }
        Op::Governance(Governance::AddRoot(did)) => outln!("op          add root {did}"),
        Op::Governance(Governance::RemoveRoot(did)) => {
            outln!("op          remove root {did}")
        }
        Op::Governance(Governance::SetThreshold(n)) => outln!("op          set threshold {n}"),
        Op::Governance(Governance::SetWitnesses(w)) => {
            outln!(
                "op          set witnesses, quorum {} of {}",
                w.quorum,
                w.keys.len()
            );
            for k in &w.keys {
                outln!("  witness     {k}");
            }
        }
    }
    outln!("nonce       {}", b.nonce);
    outln!("signatures  {}", checks.len());
    for (signer, ok) in checks {
        outln!("  {signer}  {}", if *ok { "valid" } else { "INVALID" });
    }
}

fn submit(ctx: &Ctx, a: SubmitArgs) -> Result<ExitCode> {
    let entry = files::read_entry(&a.file)?;
    if entry.signatures.is_empty() {
        bail!(
            "{} has no signatures; sign it first with `registry entry sign {} --key KEY_FILE`",
            a.file.display(),
            a.file.display()
        );
    }
    verify_present(&entry, &a.file)?;
    let client = ctx.client()?;
    if entry.body.author == Author::Roots && !a.allow_pending {
        let status = client
            .status()
            .context("cannot learn the roots in force from the node")?;
        if let Some(why) = under_signed(&entry, &status.roots, status.threshold) {
            bail!(
                "{why}; not submitted: add signatures with `registry entry sign {} --key \
                 KEY_FILE`, or pass --allow-pending to leave it waiting at the node",
                a.file.display()
            );
        }
    }
    let submitted = client
        .submit(&entry)
        .with_context(|| format!("entry {} was not accepted", entry.id()))?;
    author::print_submitted(ctx, &submitted)?;
    author::report_effect(&client, &entry, &submitted);
    if submitted.status == SubmitStatus::Pending && !a.allow_pending {
        eprintln!(
            "the entry does not count yet: the node holds it pending (pass --allow-pending to \
             treat that as success)"
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Why a root-authored entry cannot count under the roots in force: which signatures it
/// has, how many are needed, who could still sign. `None` when it has enough.
fn under_signed(entry: &SignedEntry, roots: &[DidKey], threshold: u16) -> Option<String> {
    let signed: Vec<&DidKey> = entry.signers().filter(|s| roots.contains(s)).collect();
    if signed.len() >= usize::from(threshold) {
        return None;
    }
    let list = |keys: &mut dyn Iterator<Item = &DidKey>| {
        let names: Vec<String> = keys.map(ToString::to_string).collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    let others = list(&mut entry.signers().filter(|s| !roots.contains(s)));
    let could = list(&mut roots.iter().filter(|r| !entry.signers().any(|s| s == *r)));
    Some(format!(
        "entry {} has {} of the {threshold} root signatures the roots need (root signers: {}; \
         other signers, which do not count: {others}; roots who could still sign: {could})",
        entry.id(),
        signed.len(),
        list(&mut signed.into_iter()),
    ))
}
