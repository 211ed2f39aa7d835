//! `POST /v1/entries`, `GET /v1/entries/{id}` and `GET /v1/entries?from_height=&max_blocks=`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::Json;
use registry_core::api::{
    BatchError, BatchOutcome, BatchSubmitted, DecisiveView, EntryPage, EntryStatus, EntryView,
    SubmitStatus, Submitted, MAX_BATCH_ENTRIES,
};
use registry_core::entry::Op;
use registry_core::eval::{self, Reason};
use registry_core::registry::{Outcome, Source};
use registry_core::state::State as RegistryState;
use registry_core::store::{Ledger, StoreError};
use registry_core::{EntryId, Hash, SignedEntry, Timestamp};
use serde::Deserialize;

use super::problem::{ApiError, ApiJson, ApiPath, ApiQuery};
use super::{writer_error, AppState};
use crate::metrics::Submission;
use crate::writer::Origin;

/// Most blocks in one page of `GET /v1/entries`.
const MAX_PAGE_BLOCKS: u64 = 64;
/// A page stops adding blocks once it holds this many entries (it always holds at least
/// one block).
const MAX_PAGE_ENTRIES: usize = 4096;

/// `POST /v1/entries`: 202 once the outcome is final (accepted entries are durable),
/// 400 with the reason for an invalid entry, 503 when the writer cannot take it. An
/// entry that waits counts against the pending pool's share of the client's address.
pub async fn submit(
    State(st): State<AppState>,
    client: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    ApiJson(entry): ApiJson<SignedEntry>,
) -> Result<(StatusCode, Json<Submitted>), ApiError> {
    let id = entry.id();
    // The server always records the client's address; a router driven without it (a
    // test calling it in-process) counts as the node itself.
    let source = client.map_or(Source::LOCAL, |c| Source::http(c.0 .0.ip()));
    // The writer hands the entry to the network once durable (or pending: peers may hold
    // what it waits for), never before.
    let outcome = st
        .writer
        .submit(entry, source, Origin::Client)
        .await
        .map_err(|e| {
            st.metrics.submission(Submission::Error);
            writer_error(e)
        })?;
    let (status, missing, metric) = match outcome {
        Outcome::Accepted => (SubmitStatus::Accepted, Vec::new(), Submission::Accepted),
        Outcome::Merged => (SubmitStatus::Merged, Vec::new(), Submission::Merged),
        Outcome::Duplicate => (SubmitStatus::Duplicate, Vec::new(), Submission::Duplicate),
        Outcome::Pending { missing } => (SubmitStatus::Pending, missing, Submission::Pending),
        Outcome::Rejected(r) => {
            st.metrics.submission(Submission::Rejected);
            return Err(ApiError::bad_request(r.code(), r.to_string()).titled("Entry rejected"));
        }
    };
    st.metrics.submission(metric);
    Ok((
        StatusCode::ACCEPTED,
        Json(Submitted {
            id,
            status,
            missing,
        }),
    ))
}

/// `POST /v1/entries/batch`: up to [`MAX_BATCH_ENTRIES`] entries (a JSON array), each
/// with the outcome a single submit would give, in order. The entries reach the writer in
/// the order sent, so an entry may refer to one before it in the same batch; the answer
/// (200) comes once every accepted entry is durable, usually after one or two group
/// commits. A full mailbox makes the batch wait for room rather than fail part-way.
pub async fn submit_batch(
    State(st): State<AppState>,
    client: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    ApiJson(entries): ApiJson<Vec<SignedEntry>>,
) -> Result<Json<BatchSubmitted>, ApiError> {
    if entries.is_empty() || entries.len() > MAX_BATCH_ENTRIES {
        return Err(ApiError::bad_request(
            "invalid_batch",
            format!(
                "a batch holds 1 to {MAX_BATCH_ENTRIES} entries, this one {}",
                entries.len()
            ),
        ));
    }
    let source = client.map_or(Source::LOCAL, |c| Source::http(c.0 .0.ip()));
    let mut waiting = Vec::with_capacity(entries.len());
    for entry in entries {
        let id = entry.id();
        let reply = st.writer.enqueue(entry, source, Origin::Client).await;
        waiting.push((id, reply));
    }
    let mut outcomes = Vec::with_capacity(waiting.len());
    for (id, reply) in waiting {
        let outcome = match reply {
            Ok(rx) => rx.await.unwrap_or(Err(crate::writer::WriterError::Stopped)),
            Err(e) => Err(e),
        };
        let (status, missing, error, metric) = match outcome {
            Ok(Outcome::Accepted) => (
                Some(SubmitStatus::Accepted),
                Vec::new(),
                None,
                Submission::Accepted,
            ),
            Ok(Outcome::Merged) => (
                Some(SubmitStatus::Merged),
                Vec::new(),
                None,
                Submission::Merged,
            ),
            Ok(Outcome::Duplicate) => (
                Some(SubmitStatus::Duplicate),
                Vec::new(),
                None,
                Submission::Duplicate,
            ),
            Ok(Outcome::Pending { missing }) => (
                Some(SubmitStatus::Pending),
                missing,
                None,
                Submission::Pending,
            ),
            Ok(Outcome::Rejected(r)) => (
                None,
                Vec::new(),
                Some(BatchError {
                    code: r.code().to_string(),
                    message: r.to_string(),
                }),
                Submission::Rejected,
            ),
            Err(e) => {
                st.metrics.submission(Submission::Error);
                return Err(writer_error(e));
            }
        };
        st.metrics.submission(metric);
        outcomes.push(BatchOutcome {
            id,
            status,
            missing,
            error,
        });
    }
    Ok(Json(BatchSubmitted { outcomes }))
}

/// Whether the accreditation `id` is effective at `now`, and why not (`None, None` for
/// entries that are not accreditations).
pub fn effective_now(
    state: &RegistryState,
    id: &EntryId,
    entry: &SignedEntry,
    now: Timestamp,
) -> (Option<bool>, Option<Reason>) {
    if entry.accreditation().is_none() {
        return (None, None);
    }
    match eval::status(state, id, now) {
        Ok(_) => (Some(true), None),
        Err(reason) => (Some(false), Some(reason)),
    }
}

/// Parses an entry id from a path segment.
pub fn parse_id(raw: &str) -> Result<EntryId, ApiError> {
    Hash::from_hex(raw).map_err(|e| ApiError::bad_request("invalid_id", e.to_string()))
}

/// `GET /v1/entries/{id}`: an accepted or pending entry; 404 if unknown.
pub async fn get_entry(
    State(st): State<AppState>,
    ApiPath(raw): ApiPath<String>,
) -> Result<Json<EntryView>, ApiError> {
    let id = parse_id(&raw)?;
    let now = crate::now();
    let found = {
        let registry = st.registry();
        if let Some(entry) = registry.state().get(&id) {
            let state = registry.state();
            let (mut effective, reason) = effective_now(state, &id, entry, now);
            let decisive_now = reason
                .and_then(|r| eval::decisive(state, r, &id, now))
                .as_ref()
                .map(DecisiveView::from);
            if let Op::Governance(_) = entry.body.op {
                effective = Some(state.epochs().iter().any(|e| e.cause == Some(id)));
            }
            let view = EntryView {
                id,
                status: EntryStatus::Accepted,
                height: None,
                entry: (**entry).clone(),
                effective_now: effective,
                reason_now: reason,
                decisive_now,
                revocations: state.revocations_of(&id).to_vec(),
            };
            Some(view)
        } else {
            registry.pending_entry(&id).map(|entry| EntryView {
                id,
                status: EntryStatus::Pending,
                height: None,
                entry: entry.clone(),
                effective_now: None,
                reason_now: None,
                decisive_now: None,
                revocations: Vec::new(),
            })
        }
    };
    let Some(mut view) = found else {
        return Err(ApiError::not_found(
            "unknown_entry",
            format!("no accepted or pending entry {id}"),
        ));
    };
    if view.status == EntryStatus::Accepted {
        // Absent while the entry is accepted but its block is not yet durable.
        view.height = st
            .writer
            .read(move |l| Ok(l.entry(&id)?.map(|s| s.height)))
            .await
            .map_err(writer_error)?;
    }
    Ok(Json(view))
}

/// Query of `GET /v1/entries`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// First block to include (default 1).
    from_height: Option<u64>,
    /// Most blocks to include (default and cap 64).
    max_blocks: Option<u64>,
}

/// `GET /v1/entries?from_height=H&max_blocks=N`: entries of blocks H.. in ledger order.
pub async fn page(
    State(st): State<AppState>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> Result<Json<EntryPage>, ApiError> {
    let from = p.from_height.unwrap_or(1).max(1);
    let max = p
        .max_blocks
        .unwrap_or(MAX_PAGE_BLOCKS)
        .clamp(1, MAX_PAGE_BLOCKS);
    let page = st
        .writer
        .read(move |l| read_page(l, from, max))
        .await
        .map_err(writer_error)?;
    Ok(Json(page))
}

fn read_page(ledger: &Ledger, from: u64, max_blocks: u64) -> Result<EntryPage, StoreError> {
    let blocks = ledger.blocks(from, usize::try_from(max_blocks).unwrap_or(1))?;
    let mut entries = Vec::new();
    let mut next = from;
    for block in blocks {
        if !entries.is_empty() && entries.len() + block.entries.len() > MAX_PAGE_ENTRIES {
            break;
        }
        for id in &block.entries {
            let stored = ledger.entry(id)?.ok_or_else(|| StoreError::Corrupt {
                what: format!("entry {id} listed in block {} is missing", block.height),
            })?;
            entries.push(stored.entry);
        }
        next = block.height + 1;
    }
    let next_height = (next <= ledger.height()).then_some(next);
    Ok(EntryPage {
        entries,
        next_height,
    })
}
