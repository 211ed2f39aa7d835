//! `registry ledger verify`: the full offline check of a node's ledger (hash chain, entry
//! ids, signatures, state roots, the head witness). Exits 1 naming the first bad block, or
//! the damaged file when sled cannot read its files, and 2 when the ledger cannot be
//! checked at all (in use, not a ledger).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use registry_core::store::{Ledger, StoreError, VerifyError};
use serde_json::json;

use super::Ctx;
use crate::out::outln;
use crate::report::Report;

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Re-hash the chain, check every entry and signature, recompute the state roots.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The node's data directory (its `ledger` subdirectory is checked), or the ledger
    /// directory itself. The node must not be running on it.
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
}

impl LedgerCommand {
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        match self {
            LedgerCommand::Verify(a) => verify(ctx, &a.data_dir),
        }
    }
}

/// `DIR/ledger` when it exists, else `DIR`.
pub fn ledger_dir(data_dir: &Path) -> PathBuf {
    let sub = data_dir.join("ledger");
    if sub.is_dir() {
        sub
    } else {
        data_dir.to_path_buf()
    }
}

fn verify(ctx: &Ctx, data_dir: &Path) -> Result<ExitCode> {
    let dir = ledger_dir(data_dir);
    let ledger = match Ledger::open(&dir) {
        Ok(l) => l,
        Err(StoreError::InUse { path }) => bail!(
            "the ledger in {} is in use: is registry-node running on {}? stop it first \
             (a running node verifies its ledger at start-up)",
            path.display(),
            data_dir.display()
        ),
        Err(StoreError::Damaged(e)) => return damaged(ctx, &dir, &e),
        Err(e @ (StoreError::Corrupt { .. } | StoreError::Unreadable { .. })) => {
            return unreadable(ctx, &dir, &e)
        }
        Err(e) => return Err(e.into()),
    };
    match ledger.verify() {
        Ok(r) => {
            let value = json!({
                "ok": true, "path": dir, "registry_id": ledger.registry_id(),
                "blocks": r.blocks, "entries": r.entries, "signatures": r.signatures,
                "state_root": r.state_root,
            });
            ctx.print(&value, || {
                outln!("ledger {} is intact", dir.display());
                outln!("  registry    {}", ledger.registry_id());
                outln!("  blocks      {}", r.blocks);
                outln!("  entries     {}", r.entries);
                outln!("  signatures  {} verified", r.signatures);
                outln!("  state root  {}", r.state_root);
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => damaged(ctx, &dir, &e),
    }
}

/// Damage found before any block could be checked: sled's files or the ledger's own
/// records outside the chain.
fn unreadable(ctx: &Ctx, dir: &Path, e: &StoreError) -> Result<ExitCode> {
    let value = json!({ "ok": false, "path": dir, "bad_block": null, "problem": e.to_string() });
    if ctx.json {
        outln!("{}", serde_json::to_string_pretty(&value)?);
    }
    Report::message(format!("ledger {} is damaged: {e}", dir.display()), 1).print();
    Ok(ExitCode::from(1))
}

fn damaged(ctx: &Ctx, dir: &Path, e: &VerifyError) -> Result<ExitCode> {
    let value = json!({
        "ok": false, "path": dir, "bad_block": e.height, "problem": e.problem.to_string(),
    });
    if ctx.json {
        outln!("{}", serde_json::to_string_pretty(&value)?);
    }
    let message = format!(
        "ledger {} is damaged at block {}: {}",
        dir.display(),
        e.height,
        e.problem
    );
    Report::message(message, 1).print();
    Ok(ExitCode::from(1))
}
