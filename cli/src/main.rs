//! `registry`: the operator and relying-party command line of the trust registry (DESIGN
//! section 10). It signs locally, talks to a node over HTTP, and never sends a private
//! key anywhere.
//!
//! Exit codes: see [`EXIT_CODES`].

mod args;
mod cmd;
mod files;
mod out;
mod report;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use registry_cli::ClientError;

use cmd::{Ctx, NodeArgs};
use report::Report;

/// What `registry` exits with; also the end of `registry --help`.
const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  a definite \"no\": `trust`: not authorized; `verify-proof`: a valid proof of \"not
     authorized\"; `verify-credential`: untrusted or invalid; `ledger verify`: damage
     found; `import`: some entries rejected; `entry submit`: the node holds the entry
     pending
  2  usage or runtime error (including an entry refused before sending; no node reachable;
     `trust --max-age`: refused as stale; `verify-proof`: invalid, stale or malformed;
     `verify-credential`: malformed credential, or proof bundles that cannot answer)

With --json, results go to stdout as JSON and errors to stderr as one line:
  {\"error\":{\"message\":\"...\",\"causes\":[\"...\"],\"hint\":\"...\"|null,\"exit\":2}}";

#[derive(Debug, Parser)]
#[command(
    name = "registry",
    version,
    about = "Trust registry: keys, genesis, signing, queries",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(flatten)]
    global: cmd::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// A command that talks to a node: its own flags and `--node`, `--timeout`.
#[derive(Debug, Args)]
struct Online<T: Args> {
    #[command(flatten)]
    command: T,
    #[command(flatten)]
    node: NodeArgs,
}

/// A group of subcommands that talk to a node (`entry`): `--node` and `--timeout` are
/// accepted after any of them.
#[derive(Debug, Args)]
struct OnlineGroup<T: Subcommand> {
    #[command(subcommand)]
    command: T,
    #[command(flatten)]
    node: NodeArgs,
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
    Accredit(Online<cmd::author::AccreditCommand>),
    /// Revoke an entry: sign and submit.
    Revoke(Online<cmd::author::RevokeCommand>),
    /// Change the root keys or the threshold: sign with root keys and submit.
    Governance(Online<cmd::governance::GovernanceCommand>),
    /// Offline multi-signature: draft, sign, show and submit entry files.
    Entry(OnlineGroup<cmd::entry::EntryCommand>),
    /// Is ENTITY authorized for ACTION on RESOURCE? Exit 0 yes, 1 no, 2 error.
    Trust(Online<cmd::query::TrustCommand>),
    /// Fetch the proof of an answer (at the node's checkpoint) and write it to a file.
    Proof(Online<cmd::proofs::ProofCommand>),
    /// Check a proof file offline, pinning only the registry id. Exit 0 authorized, 1
    /// not authorized, 2 invalid, stale or malformed (naming the failed check).
    VerifyProof(cmd::proofs::VerifyProofCommand),
    /// Check a credential end to end (signature, structure, and that its issuer was
    /// authorized for its type when it signed) by a node, or offline with --proof. Exit 0
    /// valid and trusted, 1 untrusted or invalid, 2 malformed or error.
    VerifyCredential(Online<cmd::credentials::VerifyCredentialCommand>),
    /// Make credentials for demos and tests: `credential issue`.
    #[command(subcommand)]
    Credential(cmd::credentials::CredentialCommand),
    /// The checkpoint witnesses: `witnesses set --witness DID... --quorum K --key FILE...`.
    Witnesses(OnlineGroup<cmd::witnesses::WitnessesCommand>),
    /// Every accreditation of an entity, with its status now.
    Subject(Online<cmd::query::SubjectCommand>),
    /// The node's status.
    Status(NodeArgs),
    /// The node's connected peers, with their gossip scores; `peers deny|allow PEER_ID
    /// --admin PATH|URL` edits its deny-list through the node's admin listener.
    #[command(after_help = cmd::PEER_SCORES)]
    Peers(Online<cmd::peers::PeersCommand>),
    /// Offline checks of a node's ledger.
    #[command(subcommand)]
    Ledger(cmd::ledger::LedgerCommand),
    /// Write every accepted entry as JSON lines.
    Export(Online<cmd::transfer::ExportCommand>),
    /// Submit entries from a JSON-lines file.
    Import(Online<cmd::transfer::ImportCommand>),
}

impl Command {
    /// The node flags of a command that talks to a node.
    fn node_args(&self) -> Option<NodeArgs> {
        match self {
            Command::Key(_)
            | Command::Genesis(_)
            | Command::Ledger(_)
            | Command::VerifyProof(_)
            | Command::Credential(_) => None,
            Command::VerifyCredential(c) => Some(c.node.clone()),
            Command::Proof(c) => Some(c.node.clone()),
            Command::Witnesses(c) => Some(c.node.clone()),
            Command::Accredit(c) => Some(c.node.clone()),
            Command::Revoke(c) => Some(c.node.clone()),
            Command::Governance(c) => Some(c.node.clone()),
            Command::Entry(c) => Some(c.node.clone()),
            Command::Trust(c) => Some(c.node.clone()),
            Command::Subject(c) => Some(c.node.clone()),
            Command::Status(n) => Some(n.clone()),
            Command::Peers(c) => Some(c.node.clone()),
            Command::Export(c) => Some(c.node.clone()),
            Command::Import(c) => Some(c.node.clone()),
        }
    }
}

fn run(ctx: &Ctx, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Key(c) => c.run(ctx),
        Command::Genesis(c) => c.run(ctx),
        Command::Accredit(c) => c.command.run(ctx),
        Command::Revoke(c) => c.command.run(ctx),
        Command::Governance(c) => c.command.run(ctx),
        Command::Entry(c) => c.command.run(ctx),
        Command::Trust(c) => c.command.run(ctx),
        Command::Proof(c) => c.command.run(ctx),
        Command::VerifyProof(c) => c.run(ctx),
        Command::VerifyCredential(c) => c.command.run(ctx),
        Command::Credential(c) => c.run(ctx),
        Command::Witnesses(c) => c.command.run(ctx),
        Command::Subject(c) => c.command.run(ctx),
        Command::Status(_) => cmd::query::status(ctx),
        Command::Peers(c) => c.command.run(ctx),
        Command::Ledger(c) => c.run(ctx),
        Command::Export(c) => c.command.run(ctx),
        Command::Import(c) => c.command.run(ctx),
    }
}

/// What the user can do about `err`, if anything is known.
fn hint(ctx: &Ctx, err: &anyhow::Error) -> Option<String> {
    let client = err.chain().find_map(|c| c.downcast_ref::<ClientError>())?;
    match client {
        ClientError::Unreachable { .. } if ctx.default_node() => Some(
            "is a node running? start one with `registry-node --dev`, or name another with \
             --node URL (or REGISTRY_NODE)"
                .into(),
        ),
        ClientError::Unreachable { .. } => Some(
            "is the node running, and is this its API address? name another with --node URL \
             (or REGISTRY_NODE)"
                .into(),
        ),
        ClientError::TimedOut { .. } => Some(
            "the node may be overloaded or stuck; check it, or wait longer with --timeout SECS"
                .into(),
        ),
        ClientError::NotFound => url_path(&ctx.node).map(|path| {
            format!(
                "--node is the node's base URL without a path (http://HOST:PORT, not ...{path}): \
                 the CLI adds /v1/... itself"
            )
        }),
        _ => None,
    }
}

/// The path of a node URL after its host and port, when it has one (`/v1`).
fn url_path(url: &str) -> Option<&str> {
    let rest = url.trim().trim_end_matches('/').strip_prefix("http://")?;
    rest.find('/').map(|i| &rest[i..])
}

/// Parses the command line; with `--json`, a usage error is reported as a JSON error.
fn parse() -> Cli {
    match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() && std::env::args_os().any(|a| a == "--json") => {
            let text = e.render().to_string();
            let mut lines = text.lines().filter(|l| !l.trim().is_empty());
            let first = lines.next().unwrap_or("invalid usage");
            let message = first.strip_prefix("error: ").unwrap_or(first).to_string();
            let rest: Vec<String> = lines.map(|l| l.trim().to_string()).collect();
            Report::message(message, 2)
                .with_hint((!rest.is_empty()).then(|| rest.join(" ")))
                .print_json();
            std::process::exit(2)
        }
        Err(e) => e.exit(),
    }
}

fn main() -> ExitCode {
    let cli = parse();
    report::use_json(cli.global.json);
    let node = cli.command.node_args();
    let ctx = Ctx::online(cli.global, node);
    match run(&ctx, cli.command) {
        Ok(code) => code,
        Err(err) => {
            Report::of(&err, 2).with_hint(hint(&ctx, &err)).print();
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(node: &str) -> Ctx {
        Ctx {
            node: node.into(),
            json: false,
            timeout: registry_cli::client::DEFAULT_TIMEOUT,
        }
    }

    fn unreachable(url: &str) -> anyhow::Error {
        anyhow::Error::new(ClientError::Unreachable {
            url: url.into(),
            detail: "refused".into(),
        })
        .context("cannot ask the node")
    }

    #[test]
    fn only_the_default_url_suggests_a_dev_node() {
        for default in [cmd::DEFAULT_NODE, "http://127.0.0.1:7070/"] {
            let h = hint(&ctx(default), &unreachable(default)).unwrap_or_default();
            assert!(h.contains("registry-node --dev"), "{default}: {h}");
        }
        let own = "http://10.0.0.5:7070";
        let h = hint(&ctx(own), &unreachable(own)).unwrap_or_default();
        assert!(!h.contains("--dev") && h.contains("--node URL"), "{h}");
    }

    #[test]
    fn not_found_hints_at_the_base_url_only_for_a_url_with_a_path() {
        let nf = || anyhow::Error::new(ClientError::NotFound);
        let h = hint(&ctx("http://127.0.0.1:17070/v1"), &nf()).unwrap_or_default();
        assert!(h.contains("base URL") && h.contains("/v1"), "{h}");
        assert_eq!(hint(&ctx("http://127.0.0.1:17070"), &nf()), None);
        assert_eq!(url_path("http://h:1/v1/"), Some("/v1"));
        assert_eq!(url_path("http://h:1/"), None);
    }
}
