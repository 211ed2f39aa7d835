//! `registry key new|show`: ed25519 key files (JSON, mode 0600, never overwritten).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use registry_core::keys::{read_key_file, write_key_file};
use registry_core::SecretKey;
use serde_json::json;

use super::Ctx;
use crate::out::outln;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a new key file (mode 0600) and print its did:key.
    New(NewArgs),
    /// Print the did:key of a key file.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// Where to write the key; an existing file is never overwritten.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The key file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

impl KeyCommand {
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        match self {
            KeyCommand::New(a) => new(ctx, a),
            KeyCommand::Show(a) => show(ctx, a),
        }
    }
}

fn new(ctx: &Ctx, a: NewArgs) -> Result<ExitCode> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    let key = SecretKey::from_seed(seed);
    write_key_file(&a.out, &key)?;
    let did = key.did().to_string();
    ctx.print(&json!({ "did": did, "path": a.out }), || outln!("{did}"))?;
    Ok(ExitCode::SUCCESS)
}

fn show(ctx: &Ctx, a: ShowArgs) -> Result<ExitCode> {
    let did = load(&a.file)?.did().to_string();
    ctx.print(&json!({ "did": did, "path": a.file }), || outln!("{did}"))?;
    Ok(ExitCode::SUCCESS)
}

/// Reads a key file; the error names the file and, for a file others can read, the
/// `chmod 600` that fixes it.
pub fn load(path: &std::path::Path) -> Result<SecretKey> {
    Ok(read_key_file(path)?)
}

/// Reads several key files, refusing the same key twice.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<SecretKey>> {
    let mut keys: Vec<SecretKey> = Vec::with_capacity(paths.len());
    for p in paths {
        let k = load(p)?;
        if keys.iter().any(|o| o.did() == k.did()) {
            return Err(anyhow::anyhow!("key {} is given twice", k.did()))
                .with_context(|| format!("in {}", p.display()));
        }
        keys.push(k);
    }
    Ok(keys)
}
