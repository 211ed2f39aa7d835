//! `registry trust`, `registry subject` and `registry status`: questions to a node.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use registry_cli::ClientError;
use registry_core::api::{Freshness, TrustAnswer, TrustParams};
use registry_core::did::EntityId;
use registry_core::entry::Kind;
use registry_core::time::Timestamp;

use super::Ctx;
use crate::args;
use crate::out::outln;

#[derive(Debug, Args)]
pub struct TrustCommand {
    /// The entity asked about: any DID or an https URL.
    #[arg(value_name = "ENTITY", value_parser = args::entity)]
    pub entity: EntityId,
    /// The action, e.g. issue.
    #[arg(long, value_name = "A")]
    pub action: String,
    /// The resource, e.g. UniversityDegree.
    #[arg(long, value_name = "R")]
    pub resource: String,
    /// The time asked about (RFC 3339 or unix seconds); default now.
    #[arg(long, value_name = "T", value_parser = args::time)]
    pub at: Option<Timestamp>,
    /// Ask a recognition question instead of an authorization one.
    #[arg(long)]
    pub recognition: bool,
    /// Fail safe: refuse (exit 2) an "authorized" resting on cosigned knowledge older
    /// than SECS (or on none); a "not authorized" is always given.
    #[arg(long, value_name = "SECS")]
    pub max_age: Option<u64>,
}

#[derive(Debug, Args)]
pub struct SubjectCommand {
    /// The entity: any DID or an https URL.
    #[arg(value_name = "ENTITY", value_parser = args::entity)]
    pub entity: EntityId,
}

impl TrustCommand {
    /// Exit 0 when authorized, 1 when not; errors (exit 2) come back as `Err`.
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let params = TrustParams {
            entity_id: self.entity.to_string(),
            action: self.action,
            resource: self.resource,
            at: self.at.map(Timestamp::to_rfc3339),
            kind: self.recognition.then_some(Kind::Recognition),
        };
        let answer = match ctx.client()?.trust_with(&params, false, self.max_age) {
            Err(ClientError::Problem(p)) if p.kind == STALE => {
                bail!("refused as stale: {}", p.detail)
            }
            other => other.context("cannot ask the node")?,
        };
        ctx.print(&answer, || print_answer(&answer))?;
        Ok(if answer.authorized {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    }
}

/// The problem type of a refusal under `--max-age`.
const STALE: &str = "urn:trust-registry:problem:stale";

/// An authorization whose chain ends within this many days draws a warning.
const NEAR_END_DAYS: u64 = 30;

fn print_answer(a: &TrustAnswer) {
    let verb = match a.kind {
        Kind::Authorization => "authorized",
        Kind::Recognition => "recognized",
    };
    let at = a.time_requested.as_deref().unwrap_or(&a.time_evaluated);
    if a.authorized {
        outln!("{verb}");
        for (i, id) in a.chain.iter().enumerate() {
            let role = if i == 0 { "accreditation" } else { "issued by" };
            match a.links.iter().find(|l| l.id == *id) {
                Some(l) => {
                    let label = l
                        .label
                        .as_deref()
                        .map(|t| format!(" \"{t}\""))
                        .unwrap_or_default();
                    let until = l.valid_until.as_deref().unwrap_or("(no end)");
                    outln!("  {role:<13} {id}");
                    outln!(
                        "    {}{label}, valid {} .. {until}",
                        l.subject,
                        l.valid_from
                    );
                }
                None => outln!("  {role:<13} {id}"),
            }
        }
        match &a.valid_until {
            Some(until) => {
                outln!("  valid until   {until} (the chain's earliest end)");
                if let Some(days) = days_left(at, until) {
                    if days < NEAR_END_DAYS {
                        let what = if a.chain.len() > 1 {
                            "chain"
                        } else {
                            "accreditation"
                        };
                        eprintln!("warning: this {what} ends in {days} day(s), at {until}");
                    }
                }
            }
            None => outln!("  valid until   (no end)"),
        }
    } else {
        let reason = a
            .reason
            .map_or("no reason given".to_string(), |r| r.to_string());
        outln!("not {verb}: {reason}");
        if let Some(id) = a.accreditation {
            outln!("  accreditation {id}");
        }
        if let Some(d) = &a.decisive {
            outln!("  decided by    {}", d.detail);
        }
    }
    outln!("  at            {at}");
    outln!("  height        {} (state root {})", a.height, a.state_root);
    outln!("  freshness     {}", freshness(&a.freshness));
}

/// Whole days from `at` to `until` (both RFC 3339); `None` if either does not parse.
fn days_left(at: &str, until: &str) -> Option<u64> {
    let at = Timestamp::parse_rfc3339(at).ok()?;
    let until = Timestamp::parse_rfc3339(until).ok()?;
    Some(until.as_secs().saturating_sub(at.as_secs()) / 86_400)
}

fn freshness(f: &Freshness) -> String {
    let sync = match (&f.last_sync_at, f.seconds_since_sync) {
        (Some(t), Some(s)) => format!("last sync {t} ({s} s ago), {} peer(s)", f.peers),
        _ => format!("never synced, {} peer(s)", f.peers),
    };
    match (&f.checkpoint_slot, f.knowledge_age_secs) {
        (Some(slot), Some(age)) => {
            format!("{sync}; cosigned checkpoint {slot} ({age} s old knowledge)")
        }
        _ => format!("{sync}; no cosigned checkpoint"),
    }
}

impl SubjectCommand {
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let client = ctx.client()?;
        let view = match client.subject(self.entity.as_str()) {
            Err(ClientError::NotFound) => anyhow::bail!(
                "the node at {} knows no accreditation of {}",
                client.base_url(),
                self.entity
            ),
            other => other.context("cannot ask the node")?,
        };
        ctx.print(&view, || {
            outln!(
                "{} ({} accreditation(s))",
                view.entity_id,
                view.accreditations.len()
            );
            for a in &view.accreditations {
                let state = match (a.effective_now, a.reason_now) {
                    (true, _) => "effective".to_string(),
                    (false, Some(r)) => format!("not effective: {r}"),
                    (false, None) => "not effective".to_string(),
                };
                outln!("{}  {:?}  {state}", a.id, a.kind);
                let grants: Vec<String> = a
                    .grants
                    .iter()
                    .map(|g| format!("{}:{}", g.action, g.resource))
                    .collect();
                outln!("  grants    {}", grants.join(" "));
                if let Some(l) = &a.label {
                    outln!("  label     {l}");
                }
                let until = a.valid_until.as_deref().unwrap_or("(no end)");
                outln!("  valid     {} .. {until}", a.valid_from);
                for r in &a.revocations {
                    outln!("  revoked by {r}");
                }
            }
        })?;
        Ok(ExitCode::SUCCESS)
    }
}

/// `registry status`.
pub fn status(ctx: &Ctx) -> Result<ExitCode> {
    let s = ctx.client()?.status().context("cannot ask the node")?;
    ctx.print(&s, || {
        outln!("registry     {} ({})", s.registry_id, s.name);
        outln!("authority    {}", s.authority_id);
        outln!("height       {} (head {})", s.height, s.head);
        outln!("state root   {}", s.state_root);
        outln!("entries      {} accepted, {} pending", s.entries, s.pending);
        outln!(
            "roots        {} in force, threshold {} (max depth {})",
            s.roots.len(),
            s.threshold,
            s.max_depth
        );
        for r in &s.roots {
            outln!("  {r}");
        }
        if s.governance.len() > 1 {
            outln!(
                "governance   {} change(s), oldest first",
                s.governance.len() - 1
            );
            for e in &s.governance {
                let cause = e
                    .cause
                    .map_or("genesis".to_string(), |id| format!("entry {id}"));
                outln!(
                    "  from {}  {} root(s), threshold {}  ({cause})",
                    e.since,
                    e.roots.len(),
                    e.threshold
                );
            }
        }
        outln!(
            "peer id      {}",
            s.peer_id.as_deref().unwrap_or("(networking off)")
        );
        outln!("peers        {}", s.peers);
        for a in &s.listen_addrs {
            outln!("  listen     {a}");
        }
        outln!(
            "last sync    {}",
            s.last_sync_at.as_deref().unwrap_or("never")
        );
        outln!("version      {}", s.version);
    })?;
    Ok(ExitCode::SUCCESS)
}
