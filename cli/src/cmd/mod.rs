//! The subcommands of `registry`, one module per concern, and what they share: the global
//! flags, the flags of commands that talk to a node, and a context that hands out the
//! node client.
//!
//! - [`keys`]: `key new`, `key show`.
//! - [`genesis`]: `genesis new`.
//! - [`draft`]: building entry bodies from flags (shared by `accredit`, `revoke` and
//!   `entry draft`).
//! - [`author`]: `accredit`, `revoke` (sign locally, check the authority, submit).
//! - [`governance`]: `governance add-root|remove-root|set-threshold`.
//! - [`entry`]: `entry draft|sign|show|submit`, offline multi-signature.
//! - [`query`]: `trust`, `subject`, `status`.
//! - [`proofs`]: `proof`, `verify-proof` (section 12's verifiable answers).
//! - [`credentials`]: `verify-credential`, `credential issue` (section 13).
//! - [`witnesses`]: `witnesses set`, the checkpoint witnesses.
//! - [`ledger`]: `ledger verify`.
//! - [`transfer`]: `export`, `import`.
//! - [`validity`]: the validity window of an accreditation built from flags.

pub mod author;
pub mod credentials;
pub mod draft;
pub mod entry;
pub mod genesis;
pub mod governance;
pub mod keys;
pub mod ledger;
pub mod peers;
pub mod proofs;
pub mod query;
pub mod transfer;
pub mod validity;
pub mod witnesses;

use crate::out::outln;
use anyhow::Result;
use clap::Args;
use registry_cli::Client;
use serde::Serialize;
use std::time::Duration;

/// The node commands talk to when given no `--node` (and no `REGISTRY_NODE`): where
/// `registry-node --dev` serves.
pub const DEFAULT_NODE: &str = "http://127.0.0.1:7070";

/// What the `score` of `registry peers` means; the end of `registry peers --help`.
pub const PEER_SCORES: &str = "\
Score: the node's gossipsub (v1.1) score of the peer, which decides how much the node
trusts the peer's gossip. It is 0 when the peer connects and rises by 1 per millisecond
the peer spends in the node's gossip mesh (and for entries it is first to deliver), up to
3600: a healthy peer shows 3600 after its first few seconds (less, briefly, after the
mesh changes). It falls by 100 times the
square of the invalid entries the peer gossiped, and by 100 for each penalty the node gave
it (an invalid entry, or a sync message that breaks the protocol). Negative means the peer
sent something wrong: below -10 the node stops exchanging gossip metadata with it, below
-50 stops publishing to it, below -80 ignores all it sends, and at 3 penalties it
disconnects the peer, and again whenever it reconnects, until the node restarts. The
weight of invalid entries decays with time; penalties stay.";

/// Flags of `registry` itself, before the subcommand.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Base URL of the node's HTTP API, for the commands that talk to a node (which
    /// also take --node after their name) [default: http://127.0.0.1:7070].
    #[arg(long = "node", value_name = "URL", env = "REGISTRY_NODE")]
    pub node: Option<String>,
    /// Print machine-readable JSON instead of text: results on stdout, errors on stderr
    /// as {"error":{"message","causes","hint","exit"}}.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The flags of every command that talks to a node.
#[derive(Debug, Clone, Args)]
pub struct NodeArgs {
    /// Base URL of the node's HTTP API: scheme, host and port, with no /v1
    /// [env: REGISTRY_NODE] [default: http://127.0.0.1:7070].
    #[arg(long = "node", value_name = "URL", global = true)]
    pub node_url: Option<String>,
    /// Longest wait for one answer of the node, in seconds.
    #[arg(
        long,
        value_name = "SECS",
        global = true,
        default_value = "30",
        value_parser = timeout_secs
    )]
    pub timeout: Duration,
}

/// A timeout of 0.1 to 86400 seconds (fractions allowed).
fn timeout_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(0.1..=86_400.0).contains(&secs) {
        return Err(format!("{s} is outside 0.1 to 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// What every command may need.
#[derive(Debug)]
pub struct Ctx {
    /// The node's base URL: `--node` after the subcommand, else before it, else
    /// `REGISTRY_NODE`, else [`DEFAULT_NODE`].
    pub node: String,
    pub json: bool,
    /// The limit of one request to the node.
    pub timeout: Duration,
}

impl Ctx {
    /// The context of a command: `n` holds the flags of one that talks to a node.
    pub fn online(g: GlobalArgs, n: Option<NodeArgs>) -> Ctx {
        let (after, timeout) = match n {
            Some(n) => (n.node_url, n.timeout),
            None => (None, registry_cli::client::DEFAULT_TIMEOUT),
        };
        Ctx {
            node: after.or(g.node).unwrap_or_else(|| DEFAULT_NODE.to_string()),
            json: g.json,
            timeout,
        }
    }

    /// Whether the node URL is the default one (where `registry-node --dev` serves).
    pub fn default_node(&self) -> bool {
        self.node.trim().trim_end_matches('/') == DEFAULT_NODE
    }

    /// The client of the node named by `--node`.
    pub fn client(&self) -> Result<Client> {
        Ok(Client::with_timeout(&self.node, self.timeout)?)
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
