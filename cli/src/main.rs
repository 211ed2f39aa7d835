//! `registry`: the operator and relying-party command line of the trust registry (DESIGN
//! section 10). It signs locally, talks to a node over HTTP, and never sends a private
//! key anywhere.
//!
//! Exit codes: 0 success; 1 a definite "no" (`trust`: not authorized; `ledger verify`:
//! damage found; `import`: some entries rejected; `entry submit`: the node holds the entry
//! pending); 2 usage or runtime error (including an entry refused before sending).

mod args;
mod cmd;
mod files;
mod out;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use registry_cli::ClientError;

use cmd::Ctx;

#[derive(Debug, Parser)]
#[command(
    name = "registry",
    version,
    about = "Trust registry: keys, genesis, signing, queries"
)]
struct Cli {
    #[command(flatten)]
    global: cmd::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create or inspect ed25519 key files.
    #[command(subcommand)]
    Key(cmd::keys::KeyCommand),
    /// Create a genesis file (defines a registry).
    #[command(subcommand)]
    Genesis(cmd::genesis::GenesisCommand),
    /// Accredit an entity: sign with root or holder keys and submit.
    Accredit(cmd::author::AccreditCommand),
    /// Revoke an entry: sign and submit.
    Revoke(cmd::author::RevokeCommand),
    /// Change the root keys or the threshold: sign with root keys and submit.
    Governance(cmd::governance::GovernanceCommand),
    /// Offline multi-signature: draft, sign, show and submit entry files.
    #[command(subcommand)]
    Entry(cmd::entry::EntryCommand),
    /// Is ENTITY authorized for ACTION on RESOURCE? Exit 0 yes, 1 no, 2 error.
    Trust(cmd::query::TrustCommand),
    /// Every accreditation of an entity, with its status now.
    Subject(cmd::query::SubjectCommand),
    /// The node's status.
    Status,
    /// The node's connected peers; `peers deny|allow PEER_ID --admin PATH|URL` edits its
    /// deny-list through the node's admin listener.
    Peers(cmd::peers::PeersCommand),
    /// Offline checks of a node's ledger.
    #[command(subcommand)]
    Ledger(cmd::ledger::LedgerCommand),
    /// Write every accepted entry as JSON lines.
    Export(cmd::transfer::ExportCommand),
    /// Submit entries from a JSON-lines file.
    Import(cmd::transfer::ImportCommand),
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let ctx = Ctx::new(cli.global);
    match cli.command {
        Command::Key(c) => c.run(&ctx),
        Command::Genesis(c) => c.run(&ctx),
        Command::Accredit(c) => c.run(&ctx),
        Command::Revoke(c) => c.run(&ctx),
        Command::Governance(c) => c.run(&ctx),
        Command::Entry(c) => c.run(&ctx),
        Command::Trust(c) => c.run(&ctx),
        Command::Subject(c) => c.run(&ctx),
        Command::Status => cmd::query::status(&ctx),
        Command::Peers(c) => c.run(&ctx),
        Command::Ledger(c) => c.run(&ctx),
        Command::Export(c) => c.run(&ctx),
        Command::Import(c) => c.run(&ctx),
    }
}

/// A hint for errors the user can fix by starting or naming a node.
fn hint(err: &anyhow::Error) -> Option<&'static str> {
    let unreachable = err.chain().any(|c| {
        c.downcast_ref::<ClientError>()
            .is_some_and(ClientError::is_unreachable)
    });
    unreachable.then_some(
        "is a node running? start one with `registry-node --dev`, or name another with --node URL (or REGISTRY_NODE)",
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            match hint(&err) {
                Some(h) => eprintln!("error: {err:#}; {h}"),
                None => eprintln!("error: {err:#}"),
            }
            ExitCode::from(2)
        }
    }
}
