//! `registry governance add-root|remove-root|set-threshold`: change the root set or the
//! threshold, signed by root keys that meet the threshold in force, with the same checks
//! as `accredit` plus a refusal of changes that would change nothing or leave the
//! registry unable to act.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;

use super::author;
use super::draft::{AsArgs, GovernanceArgs};
use super::Ctx;

#[derive(Debug, Args)]
pub struct GovernanceCommand {
    #[command(subcommand)]
    pub change: GovernanceArgs,
    /// Root key file to sign with (repeat, or list several); together they must meet the
    /// threshold in force. To gather signatures on several machines instead, use
    /// `registry entry draft add-root|remove-root|set-threshold`.
    #[arg(long = "key", value_name = "FILE", num_args = 1.., global = true)]
    pub keys: Vec<PathBuf>,
}

impl GovernanceCommand {
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        if self.keys.is_empty() {
            bail!("name the root key files that sign this change with --key FILE...");
        }
        let change = self.change.governance();
        author::sign_and_submit(
            ctx,
            &self.keys,
            &AsArgs::default(),
            self.change.op(),
            self.change.nonce(),
            |status| super::draft::check_governance(&change, &status.roots, status.threshold),
        )
    }
}
