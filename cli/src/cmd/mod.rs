//! The subcommands of `registry`, one module per concern, and what they share: the global
//! flags and a context that hands out the node client.
//!
//! - [`keys`]: `key new`, `key show`.
//! - [`genesis`]: `genesis new`.
//! - [`draft`]: building entry bodies from flags (shared by `accredit`, `revoke` and
//!   `entry draft`).
//! - [`author`]: `accredit`, `revoke` (sign locally, check the authority, submit).
//! - [`governance`]: `governance add-root|remove-root|set-threshold`.
//! - [`entry`]: `entry draft|sign|show|submit`, offline multi-signature.
//! - [`query`]: `trust`, `subject`, `status`.
//! - [`ledger`]: `ledger verify`.
//! - [`transfer`]: `export`, `import`.

pub mod author;
pub mod draft;
pub mod entry;
pub mod genesis;
pub mod governance;
pub mod keys;
pub mod ledger;
pub mod peers;
pub mod query;
pub mod transfer;

use crate::out::outln;
use anyhow::Result;
use clap::Args;
use registry_cli::Client;
use serde::Serialize;

/// Flags accepted before or after any subcommand.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Base URL of the node's HTTP API.
    #[arg(
        long,
        global = true,
        env = "REGISTRY_NODE",
        default_value = "http://127.0.0.1:7070"
    )]
    pub node: String,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// What every command may need.
#[derive(Debug)]
pub struct Ctx {
    pub node: String,
    pub json: bool,
}

impl Ctx {
    pub fn new(g: GlobalArgs) -> Ctx {
        Ctx {
            node: g.node,
            json: g.json,
        }
    }

    /// The client of the node named by `--node`.
    pub fn client(&self) -> Result<Client> {
        Ok(Client::new(&self.node)?)
    }

    /// Prints `value` as JSON (with `--json`) or runs `human` to print text.
    pub fn print<T: Serialize>(&self, value: &T, human: impl FnOnce()) -> Result<()> {
        if self.json {
            outln!("{}", serde_json::to_string_pretty(value)?);
        } else {
            human();
        }
        Ok(())
    }
}
