//! `registry peers`: the node's connected peers, and its deny-list. Listing asks the
//! public API (`--node`); `deny` and `allow` go to the node's admin listener (`--admin`),
//! which the public API never serves.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand};
use registry_cli::admin::{read_token_file, AdminEndpoint};
use registry_cli::AdminClient;

use super::Ctx;
use crate::out::outln;

#[derive(Debug, Args)]
pub struct PeersCommand {
    #[command(subcommand)]
    action: Option<PeersAction>,
}

#[derive(Debug, Subcommand)]
enum PeersAction {
    /// Disconnect a peer and refuse it (kept across restarts), through the node's admin
    /// listener.
    Deny {
        /// The peer id (`12D3KooW...`).
        peer_id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Undo `deny` and let the peer reconnect, through the node's admin listener.
    Allow {
        /// The peer id (`12D3KooW...`).
        peer_id: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// The peers the node refuses: from its config (`p2p.deny`) or denied by an operator
    /// (kept across restarts).
    Denied,
}

/// Where the node's admin listener is.
#[derive(Debug, Args)]
struct AdminArgs {
    /// The node's admin listener: its Unix socket (DATA_DIR/admin.sock unless the node's
    /// admin.socket says otherwise), the node's data directory (meaning its admin.sock),
    /// or http://127.0.0.1:PORT when the node sets admin.listen = "tcp". The default is
    /// the socket of the dev node (`registry-node --dev`) started in this directory.
    #[arg(
        long,
        value_name = "PATH|URL",
        env = "REGISTRY_ADMIN",
        default_value = "./.registry-dev/admin.sock"
    )]
    admin: String,
    /// With an http:// --admin: the node's token file (DATA_DIR/admin.token, mode 0600),
    /// sent as a bearer token.
    #[arg(long, value_name = "FILE", env = "REGISTRY_ADMIN_TOKEN_FILE")]
    admin_token_file: Option<PathBuf>,
}

impl AdminArgs {
    fn client(&self) -> Result<AdminClient> {
        let client = AdminClient::new(&self.admin)?;
        match &self.admin_token_file {
            Some(file) => Ok(client.with_token(read_token_file(file)?)),
            None => Ok(client),
        }
    }
}

impl PeersCommand {
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let (peer_id, deny, admin) = match self.action {
            Some(PeersAction::Deny { peer_id, admin }) => (peer_id, true, admin),
            Some(PeersAction::Allow { peer_id, admin }) => (peer_id, false, admin),
            listing => return list(ctx, listing.is_some()),
        };
        let client = admin.client()?;
        let change = client.set_peer_denied(&peer_id, deny).map_err(|e| {
            if !e.is_unreachable() {
                return anyhow!(e).context("the node did not change its deny-list");
            }
            let hint = match client.endpoint() {
                AdminEndpoint::Socket(_) => {
                    "is the node running, and is this its admin socket? name it with --admin \
                     DATA_DIR/admin.sock (or --admin DATA_DIR, or REGISTRY_ADMIN); the default \
                     is the dev node's"
                }
                AdminEndpoint::Tcp { .. } => {
                    "is the node running with admin.listen = \"tcp\" on this address?"
                }
            };
            // Not a ClientError any more: the hint for an unreachable public API does not apply.
            anyhow!("{e}; {hint}")
        })?;
        ctx.print(&change, || {
            let state = if change.denied { "denied" } else { "allowed" };
            if change.changed {
                outln!("{} is now {state}", change.peer_id);
            } else {
                outln!("{} was already {state}", change.peer_id);
            }
        })?;
        Ok(ExitCode::SUCCESS)
    }
}

/// `registry peers` (`denied` false) or `registry peers denied`, from the public API.
fn list(ctx: &Ctx, denied: bool) -> Result<ExitCode> {
    let client = ctx.client()?;
    let list = client.peers().context("cannot ask the node")?;
    if denied {
        ctx.print(&list.denied, || {
            if list.denied.is_empty() {
                outln!("no peers denied");
            }
            for p in &list.denied {
                outln!("{}  ({})", p.peer_id, p.source);
            }
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    ctx.print(&list, || {
        if list.peers.is_empty() {
            outln!("no peers connected");
        }
        for p in &list.peers {
            outln!("{}  score {:.1}", p.peer_id, p.score);
            for a in &p.addresses {
                outln!("  {a}");
            }
        }
        if !list.denied.is_empty() {
            outln!(
                "{} peer(s) denied: `registry peers denied` lists them",
                list.denied.len()
            );
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
