//! `registry witnesses set`: name the node keys whose checkpoint signatures count, and how
//! many of them a checkpoint needs (a `SetWitnesses` governance entry, signed by the roots
//! at their threshold). To gather the root signatures on several machines instead, use
//! `registry entry draft set-witnesses`, then `entry sign` and `entry submit`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use registry_core::did::DidKey;
use registry_core::entry::{Governance, Op, WitnessSet};

use super::author;
use super::draft::AsArgs;
use super::Ctx;
use crate::args;

/// The witness set a command names.
#[derive(Debug, Clone, Args)]
pub struct WitnessArgs {
    /// did:key of a node whose checkpoint signatures count (repeat, or list several).
    #[arg(long = "witness", value_name = "DID", required = true, num_args = 1.., value_parser = args::did_key)]
    pub witnesses: Vec<DidKey>,
    /// How many distinct witnesses must sign a checkpoint for it to be valid.
    #[arg(long, value_name = "K")]
    pub quorum: u16,
}

impl WitnessArgs {
    /// The governance change, refused with a precise message unless its keys are
    /// distinct, at most `MAX_WITNESSES`, and the quorum is 1 to their number.
    pub fn governance(&self) -> Result<Governance> {
        super::proofs::check_witnesses(&self.witnesses, self.quorum)?;
        Ok(Governance::SetWitnesses(WitnessSet {
            keys: self.witnesses.clone(),
            quorum: self.quorum,
        }))
    }
}

#[derive(Debug, Subcommand)]
pub enum WitnessesCommand {
    /// Replace the witness set: sign with root keys and submit.
    Set(SetArgs),
}

#[derive(Debug, Args)]
pub struct SetArgs {
    #[command(flatten)]
    pub set: WitnessArgs,
    /// Root key file to sign with (repeat, or list several); together they must meet the
    /// threshold in force.
    #[arg(long = "key", value_name = "FILE", num_args = 1..)]
    pub keys: Vec<PathBuf>,
    /// Distinguishes otherwise identical entries; default random.
    #[arg(long, value_name = "N")]
    pub nonce: Option<u64>,
}

impl WitnessesCommand {
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        match self {
            WitnessesCommand::Set(a) => {
                let change = a.set.governance()?;
                if a.keys.is_empty() {
                    bail!("name the root key files that sign this change with --key FILE...");
                }
                author::sign_and_submit(
                    ctx,
                    &a.keys,
                    &AsArgs::default(),
                    Op::Governance(change),
                    a.nonce,
                    |_| Ok(()),
                )
            }
        }
    }
}
