//! `registry accredit` and `registry revoke`: build the entry, check locally that the
//! given keys can author it (current roots meeting the threshold, or controllers of the
//! `--as` accreditation), sign with every key, submit, and print the entry id.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use registry_cli::{Client, ClientError};
use registry_core::api::{EntryView, Status, SubmitStatus, Submitted};
use registry_core::entry::{Op, SignedEntry, ACCREDIT_ACTION};
use registry_core::eval::Reason;
use registry_core::hash::EntryId;
use registry_core::SecretKey;

use super::draft::{self, AccreditArgs, AsArgs, RevokeArgs};
use super::{keys, Ctx};
use crate::args;
use crate::out::outln;

#[derive(Debug, Args)]
pub struct AccreditCommand {
    #[command(flatten)]
    pub accreditation: AccreditArgs,
    /// Key file to sign with (repeat, or list several): root keys, or with --as a
    /// controller key of that accreditation.
    #[arg(long = "key", value_name = "FILE", required = true, num_args = 1..)]
    pub keys: Vec<PathBuf>,
    #[command(flatten)]
    pub author: AsArgs,
}

#[derive(Debug, Args)]
pub struct RevokeCommand {
    #[command(flatten)]
    pub revocation: RevokeArgs,
    /// Key file to sign with (repeat, or list several): root keys, or with --as a
    /// controller key of that accreditation.
    #[arg(long = "key", value_name = "FILE", required = true, num_args = 1..)]
    pub keys: Vec<PathBuf>,
    #[command(flatten)]
    pub author: AsArgs,
}

impl AccreditCommand {
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let now = args::now();
        let op = self.accreditation.op(now)?;
        let nonce = self.accreditation.nonce;
        sign_and_submit(ctx, &self.keys, &self.author, op, nonce, |_| Ok(()))
    }
}

impl RevokeCommand {
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let now = args::now();
        let op = self.revocation.op(now);
        let nonce = self.revocation.nonce;
        sign_and_submit(ctx, &self.keys, &self.author, op, nonce, |_| Ok(()))
    }
}

/// Loads the keys, checks they may author `op` (and runs `check` on the node's status),
/// signs and submits.
pub fn sign_and_submit(
    ctx: &Ctx,
    key_files: &[PathBuf],
    author: &AsArgs,
    op: Op,
    nonce: Option<u64>,
    check: impl FnOnce(&Status) -> Result<()>,
) -> Result<ExitCode> {
    let keys = keys::load_all(key_files)?;
    let named: Vec<(&Path, &SecretKey)> =
        key_files.iter().map(|p| p.as_path()).zip(&keys).collect();
    let client = ctx.client()?;
    let status = client
        .status()
        .context("cannot learn the registry id and roots from the node")?;
    match author.accreditation {
        None => check_roots(&named, &status)?,
        Some(id) => {
            let holder = check_holder(&client, id, &named)?;
            for warning in holder_warnings(&holder, &op) {
                eprintln!("warning: {warning}");
            }
        }
    }
    check(&status)?;
    if let Op::Revoke(r) = &op {
        known(&client, r.target, "the entry to revoke")?;
    }
    let body = draft::body(status.registry_id, author.author(), op, args::now(), nonce)?;
    let entry = body.sign(&keys.iter().collect::<Vec<_>>());
    submit(ctx, &client, &entry)
}

/// What will keep an entry authored as the holder of `holder` from counting, known before
/// signing: grants outside the holder's own rights, a holder that does not count now.
fn holder_warnings(holder: &EntryView, op: &Op) -> Vec<String> {
    let mut out = Vec::new();
    let Some(acc) = holder.entry.accreditation() else {
        return out;
    };
    if holder.effective_now == Some(false) {
        let why = match (&holder.decisive_now, holder.reason_now) {
            (Some(d), Some(r)) => format!("{r}: {}", d.detail),
            (None, Some(r)) => r.to_string(),
            _ => "not effective".to_string(),
        };
        out.push(format!(
            "the --as accreditation {} does not count now ({why}); what it authors will not be \
             effective",
            holder.id
        ));
    }
    if let Op::Accredit(new) = op {
        let rights: Vec<String> = acc
            .grants
            .iter()
            .filter(|g| g.action == ACCREDIT_ACTION)
            .map(|g| format!("{}:{}", g.action, g.resource))
            .collect();
        for g in &new.grants {
            if !acc.accredits(&g.resource) {
                out.push(format!(
                    "the --as accreditation {} does not grant accredit:{} (its accredit rights: \
                     {}), so the grant {}:{} will not be effective",
                    holder.id,
                    g.resource,
                    if rights.is_empty() {
                        "none".to_string()
                    } else {
                        rights.join(", ")
                    },
                    g.action,
                    g.resource
                ));
            }
        }
    }
    out
}

/// Every key is a current root, and there are at least `threshold` of them.
fn check_roots(keys: &[(&Path, &SecretKey)], status: &Status) -> Result<()> {
    let roots = || {
        let list: Vec<String> = status.roots.iter().map(ToString::to_string).collect();
        list.join(", ")
    };
    for (path, key) in keys {
        if !status.roots.contains(&key.did()) {
            bail!(
                "key {} ({}) is not a current root key of this registry (roots: {}); \
                 to act as an accredited holder, pass --as ACCREDITATION_ID",
                key.did(),
                path.display(),
                roots()
            );
        }
    }
    if keys.len() < usize::from(status.threshold) {
        bail!(
            "{} root key(s) given but this registry needs {} root signatures (threshold); \
             add more --key, or collect signatures offline with `registry entry draft`",
            keys.len(),
            status.threshold
        );
    }
    Ok(())
}

/// The accreditation exists and every key is one of its controllers; returns its view.
fn check_holder(client: &Client, id: EntryId, keys: &[(&Path, &SecretKey)]) -> Result<EntryView> {
    let view = known(client, id, "the --as accreditation")?;
    let acc = view.entry.accreditation().ok_or_else(|| {
        anyhow!("entry {id} is not an accreditation, so no one can act as its holder (--as)")
    })?;
    for (path, key) in keys {
        if !acc.is_controller(&key.did()) {
            let list: Vec<String> = acc.controllers.iter().map(ToString::to_string).collect();
            bail!(
                "key {} ({}) is not a controller of accreditation {id} (subject {}; controllers: {})",
                key.did(),
                path.display(),
                acc.subject,
                if list.is_empty() { "none".to_string() } else { list.join(", ") }
            );
        }
    }
    Ok(view)
}

/// Fetches an entry, with a clear error when the node does not know it.
fn known(client: &Client, id: EntryId, what: &str) -> Result<registry_core::api::EntryView> {
    match client.entry(&id) {
        Ok(v) => Ok(v),
        Err(ClientError::NotFound) => bail!(
            "{what}, entry {id}, is not known to the node at {}",
            client.base_url()
        ),
        Err(e) => Err(e).with_context(|| format!("cannot fetch entry {id}")),
    }
}

/// Submits a signed entry and prints its id (stdout) and status (stderr, or all as JSON),
/// then whether it counts.
pub fn submit(ctx: &Ctx, client: &Client, entry: &SignedEntry) -> Result<ExitCode> {
    let submitted = client
        .submit(entry)
        .with_context(|| format!("entry {} was not accepted", entry.id()))?;
    print_submitted(ctx, &submitted)?;
    report_effect(client, entry, &submitted);
    Ok(ExitCode::SUCCESS)
}

/// After an entry is accepted: says on stderr when it is kept but changes nothing (an
/// accreditation that is not effective, a revocation that revokes nothing, a governance
/// change that starts no epoch). Asking is best effort: the entry is accepted either way.
pub fn report_effect(client: &Client, entry: &SignedEntry, submitted: &Submitted) {
    if submitted.status == SubmitStatus::Pending {
        return;
    }
    if let Some(why) = not_effective(client, entry) {
        eprintln!("accepted but not effective: {why}");
    }
}

fn not_effective(client: &Client, entry: &SignedEntry) -> Option<String> {
    let id = entry.id();
    match &entry.body.op {
        Op::Accredit(_) => {
            let view = client.entry(&id).ok()?;
            if view.effective_now != Some(false) {
                return None;
            }
            let reason = view.reason_now?;
            Some(match view.decisive_now {
                Some(d) => format!("{reason}: {}", d.detail),
                None => reason.to_string(),
            })
        }
        Op::Revoke(r) => {
            if r.effective_at > args::now() {
                return None;
            }
            let target = client.entry(&r.target).ok()?;
            target.entry.accreditation()?;
            if target.reason_now == Some(Reason::Revoked) {
                return None;
            }
            Some(format!(
                "accreditation {} is not revoked by it: a revocation counts when the roots in \
                 force sign it, when the accreditation's own holder does, or when the holder of \
                 an accreditation above it in its chain does while that accreditation counts",
                r.target
            ))
        }
        Op::Governance(_) => {
            let view = client.entry(&id).ok()?;
            if view.effective_now != Some(false) {
                return None;
            }
            Some(
                "the roots and threshold after this change would leave the roots unable to act \
                 (no roots, or a threshold above their number), so it starts no governance epoch"
                    .to_string(),
            )
        }
    }
}

pub fn print_submitted(ctx: &Ctx, s: &Submitted) -> Result<()> {
    ctx.print(s, || {
        outln!("{}", s.id);
        match s.status {
            SubmitStatus::Accepted => eprintln!("accepted"),
            SubmitStatus::Merged => {
                eprintln!("accepted: the node held the entry, and added this copy's new signatures")
            }
            SubmitStatus::Duplicate => eprintln!("duplicate (the node already had it)"),
            SubmitStatus::Pending => {
                let missing: Vec<String> = s.missing.iter().map(ToString::to_string).collect();
                eprintln!("pending: waits for {}", missing.join(", "));
            }
        }
    })
}
