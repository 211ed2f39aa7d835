//! `registry export` and `registry import`: every accepted entry as JSON lines (one
//! `SignedEntry` per line, in ledger order), and back into a node.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use registry_cli::bulk::{self, Summary};
use registry_cli::jsonl::{self, BoundedLines, MAX_LINE_BYTES};
use registry_cli::Client;
use serde_json::json;

use super::Ctx;
use crate::files;
use crate::out::outln;

/// Blocks asked for per page of `GET /v1/entries`.
const PAGE_BLOCKS: u32 = 64;

#[derive(Debug, Args)]
pub struct ExportCommand {
    /// Write here (atomically, replacing the file) instead of to standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportCommand {
    /// JSON-lines file of entries (as `registry export` writes).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Parallel submissions (lets the node's group commit share flushes).
    #[arg(long, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
}

impl ExportCommand {
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let client = ctx.client()?;
        let count = match &self.out {
            None => write_all(&client, BufWriter::new(std::io::stdout().lock()))?,
            Some(path) => {
                // Written beside the target and renamed into place only when complete.
                let tmp = files::temp_path(path);
                let f = File::create(&tmp)
                    .with_context(|| format!("cannot write {}", tmp.display()))?;
                let written = write_all(&client, BufWriter::new(&f))
                    .and_then(|n| Ok(f.sync_all().map(|()| n)?))
                    .and_then(|n| {
                        std::fs::rename(&tmp, path)
                            .and_then(|()| registry_core::file::sync_parent(path))
                            .with_context(|| format!("cannot write {}", path.display()))?;
                        Ok(n)
                    });
                if written.is_err() {
                    let _ = std::fs::remove_file(&tmp);
                }
                written?
            }
        };
        let value = json!({ "entries": count, "path": self.out });
        if ctx.json && self.out.is_some() {
            outln!("{value}");
        } else if ctx.json {
            eprintln!("{value}");
        } else {
            eprintln!("exported {count} entries");
        }
        Ok(ExitCode::SUCCESS)
    }
}

/// Pages through the node's entries in ledger order, one JSON line each; returns how many.
fn write_all(client: &Client, mut out: impl Write) -> Result<u64> {
    let mut from = 1u64;
    let mut count = 0u64;
    loop {
        let page = client
            .entries_page(from, PAGE_BLOCKS)
            .with_context(|| format!("cannot read entries from height {from}"))?;
        for entry in &page.entries {
            serde_json::to_writer(&mut out, entry)?;
            out.write_all(b"\n")?;
            count += 1;
        }
        match page.next_height {
            Some(next) if next > from => from = next,
            Some(next) => bail!("the node sent next_height {next} after asking from {from}"),
            None => break,
        }
    }
    out.flush()?;
    Ok(count)
}

impl ImportCommand {
    pub fn run(self, ctx: &Ctx) -> Result<ExitCode> {
        let file = File::open(&self.file)
            .with_context(|| format!("cannot read {}", self.file.display()))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let client = ctx.client()?;
        // Fail fast, before reading anything, when no node answers.
        client
            .status()
            .context("cannot reach the node to import into")?;
        let bar = progress(ctx.json, size);
        let lines = BoundedLines::new(BufReader::new(file), MAX_LINE_BYTES);
        let items = lines.map(|line| {
            bar.inc(line.bytes);
            (line.number, jsonl::parse_entry(&line))
        });
        let on_done = |s: &Summary| {
            bar.set_message(format!(
                "{} accepted, {} duplicate, {} pending, {} rejected",
                s.accepted, s.duplicate, s.pending, s.rejected
            ))
        };
        let summary = bulk::submit_all(&client, items, usize::from(self.concurrency), &on_done);
        bar.finish_and_clear();
        let s = summary.context("import stopped")?;
        report(ctx, &s)?;
        Ok(if s.rejected > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }
}

fn progress(hidden: bool, size: u64) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(size);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {elapsed} {msg}")
    {
        bar.set_style(style);
    }
    bar
}

fn report(ctx: &Ctx, s: &Summary) -> Result<()> {
    let rejections: Vec<_> = s
        .first_rejections
        .iter()
        .map(|(line, why)| json!({ "line": line, "reason": why }))
        .collect();
    let value = json!({
        "total": s.total(), "accepted": s.accepted, "duplicate": s.duplicate,
        "pending": s.pending, "rejected": s.rejected, "first_rejections": rejections,
        "unlisted_rejections": s.rejected.saturating_sub(s.first_rejections.len() as u64),
    });
    ctx.print(&value, || {
        outln!(
            "{} entries: {} accepted, {} duplicate, {} pending, {} rejected",
            s.total(),
            s.accepted,
            s.duplicate,
            s.pending,
            s.rejected
        );
        if s.pending > 0 {
            outln!("  (pending entries wait for an entry they refer to; the node accepts them when it arrives)");
        }
        for (line, why) in &s.first_rejections {
            outln!("  rejected line {line}: {why}");
        }
        let unlisted = s.rejected.saturating_sub(s.first_rejections.len() as u64);
        if unlisted > 0 {
            outln!("  ... and {unlisted} more rejected (only the first {} are listed)", s.first_rejections.len());
        }
    })
}
