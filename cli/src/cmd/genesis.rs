//! `registry genesis new`: write a genesis file, which defines a registry, and print its id.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use registry_core::did::{DidKey, EntityId};
use registry_core::time::Timestamp;
use registry_core::Genesis;
use serde_json::json;

use super::Ctx;
use crate::args;
use crate::files::{write_atomic, Overwrite};
use crate::out::outln;

#[derive(Debug, Subcommand)]
pub enum GenesisCommand {
    /// Create a genesis file and print the registry id.
    New(NewArgs),
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The TRQP authority id of the ecosystem (a DID or https URL).
    #[arg(long, value_name = "ID", value_parser = args::entity)]
    pub authority_id: EntityId,
    /// Human name of the registry.
    #[arg(long)]
    pub name: String,
    /// did:key of a root authority (repeat, or list several).
    #[arg(long = "root", value_name = "DID", required = true, num_args = 1.., value_parser = args::did_key)]
    pub roots: Vec<DidKey>,
    /// Root signatures needed for root actions.
    #[arg(long, value_name = "N")]
    pub threshold: u16,
    /// Longest accreditation chain below the roots.
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub max_depth: u8,
    /// Creation time (RFC 3339 or unix seconds); default now.
    #[arg(long, value_name = "T", value_parser = args::time)]
    pub created_at: Option<Timestamp>,
    /// Where to write the genesis; an existing file is never overwritten.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

impl GenesisCommand {
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        match self {
            GenesisCommand::New(a) => new(ctx, a),
        }
    }
}

fn new(ctx: &Ctx, a: NewArgs) -> Result<ExitCode> {
    let count = a.roots.len();
    let mut unique = a.roots.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != count {
        anyhow::bail!("a root key is listed twice");
    }
    let genesis = Genesis::new(
        a.authority_id,
        a.name,
        a.created_at.unwrap_or_else(args::now),
        a.roots,
        a.threshold,
        a.max_depth,
    )?;
    let mut text = genesis.to_json();
    text.push('\n');
    write_atomic(&a.out, text.as_bytes(), Overwrite::Refuse)?;
    let id = genesis.registry_id().to_hex();
    ctx.print(&json!({ "registry_id": id, "path": a.out }), || {
        outln!("{id}")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Reads and validates a genesis file.
pub fn read(path: &std::path::Path) -> Result<Genesis> {
    let text = crate::files::read_bounded(path)?;
    Genesis::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}
