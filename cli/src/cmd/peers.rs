//! `registry peers`: the node's connected peers, and its deny-list.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::Ctx;
use crate::out::outln;

#[derive(Debug, Args)]
pub struct PeersCommand {
    #[command(subcommand)]
    action: Option<PeersAction>,
}

#[derive(Debug, Subcommand)]
enum PeersAction {
    /// Disconnect a peer and refuse it (the node must be on this machine).
    Deny {
        /// The peer id (`12D3KooW...`).
        peer_id: String,
    },
    /// Undo `deny` and let the peer reconnect.
    Allow {
        /// The peer id (`12D3KooW...`).
        peer_id: String,
    },
    /// The peers the node refuses: from its config (`p2p.deny`) or denied by an operator
    /// (kept across restarts).
    Denied,
}

impl PeersCommand {
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let client = ctx.client()?;
        let (peer_id, deny) = match self.action {
            None => {
                let list = client.peers().context("cannot ask the node")?;
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
                return Ok(ExitCode::SUCCESS);
            }
            Some(PeersAction::Denied) => {
                let list = client.peers().context("cannot ask the node")?;
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
            Some(PeersAction::Deny { peer_id }) => (peer_id, true),
            Some(PeersAction::Allow { peer_id }) => (peer_id, false),
        };
        let change = client
            .set_peer_denied(&peer_id, deny)
            .context("the node did not change its deny-list")?;
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
