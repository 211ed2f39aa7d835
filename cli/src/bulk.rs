//! Submitting many entries at once, from several threads, so that a node's group commit
//! puts many of them in each flush. Used by `registry import` and by load tests.
//!
//! Entries go in batches (`POST /v1/entries/batch`, [`BATCH`] entries each, in input
//! order within a batch); against a node without the batch route, one request per entry.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};

use registry_core::api::SubmitStatus;
use registry_core::entry::SignedEntry;

use crate::client::Client;
use crate::error::ClientError;

/// How many rejection reasons a [`Summary`] keeps.
pub const KEPT_REJECTIONS: usize = 5;
/// Most worker threads.
pub const MAX_CONCURRENCY: usize = 1024;
/// Entries per batch request.
pub const BATCH: usize = 512;

/// One item to submit: its position in the input (e.g. a line number) and the entry, or
/// why the input at that position is not an entry.
pub type Item = (u64, Result<SignedEntry, String>);

/// Counts of what happened to each submitted item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub accepted: u64,
    pub duplicate: u64,
    /// Valid but waiting, at the time of submission, for an entry they refer to.
    pub pending: u64,
    /// Refused by the node or unreadable.
    pub rejected: u64,
    /// The first [`KEPT_REJECTIONS`] rejections: position and reason.
    pub first_rejections: Vec<(u64, String)>,
}

impl Summary {
    pub fn total(&self) -> u64 {
        self.accepted + self.duplicate + self.pending + self.rejected
    }

    fn reject(&mut self, position: u64, reason: String) {
        self.rejected += 1;
        if self.first_rejections.len() < KEPT_REJECTIONS {
            self.first_rejections.push((position, reason));
        }
    }

    fn record(&mut self, position: u64, outcome: Result<SubmitStatus, String>) {
        match outcome {
            Ok(SubmitStatus::Accepted | SubmitStatus::Merged) => self.accepted += 1,
            Ok(SubmitStatus::Duplicate) => self.duplicate += 1,
            Ok(SubmitStatus::Pending) => self.pending += 1,
            Err(reason) => self.reject(position, reason),
        }
    }
}

/// Submits every item with `concurrency` threads (clamped to 1..=[`MAX_CONCURRENCY`]),
/// calling `on_done` after each. Items the node refuses, and unreadable items, are
/// counted as rejected; the run stops early, returning the error, only when the node
/// cannot be reached.
pub fn submit_all<I>(
    client: &Client,
    items: I,
    concurrency: usize,
    on_done: &(dyn Fn(&Summary) + Sync),
) -> Result<Summary, ClientError>
where
    I: Iterator<Item = Item>,
{
    let workers = concurrency.clamp(1, MAX_CONCURRENCY);
    let summary = Mutex::new(Summary::default());
    let fatal: Mutex<Option<ClientError>> = Mutex::new(None);
    let stop = AtomicBool::new(false);
    let record = |position, outcome| {
        let mut s = summary.lock().unwrap_or_else(|p| p.into_inner());
        s.record(position, outcome);
        on_done(&s);
    };
    // Bounded: reading never runs far ahead of submitting.
    let (tx, rx) = mpsc::sync_channel::<Vec<(u64, SignedEntry)>>(workers * 2);
    let rx = Mutex::new(rx);
    let single = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let rx = &rx;
        let (stop, fatal, record, single) = (&stop, &fatal, &record, &single);
        let fail = move |e: ClientError| {
            stop.store(true, Ordering::Relaxed);
            let mut f = fatal.lock().unwrap_or_else(|p| p.into_inner());
            f.get_or_insert(e);
        };
        for _ in 0..workers {
            scope.spawn(move || loop {
                let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                let Ok(batch) = next else { break };
                if stop.load(Ordering::Relaxed) {
                    continue;
                }
                if !single.load(Ordering::Relaxed) {
                    let entries: Vec<SignedEntry> = batch.iter().map(|(_, e)| e.clone()).collect();
                    match client.submit_batch(&entries) {
                        Ok(answer) if answer.outcomes.len() == batch.len() => {
                            for ((position, _), o) in batch.iter().zip(answer.outcomes) {
                                let outcome = match (o.status, o.error) {
                                    (Some(s), _) => Ok(s),
                                    (None, Some(e)) => Err(e.message),
                                    (None, None) => Err("refused".to_string()),
                                };
                                record(*position, outcome);
                            }
                            continue;
                        }
                        Ok(answer) => {
                            fail(ClientError::BadResponse {
                                detail: format!(
                                    "the node answered {} outcomes for a batch of {}",
                                    answer.outcomes.len(),
                                    batch.len()
                                ),
                            });
                            continue;
                        }
                        // A node without the batch route: one request per entry from now.
                        Err(ClientError::NotFound) => single.store(true, Ordering::Relaxed),
                        Err(e) if e.is_unreachable() => {
                            fail(e);
                            continue;
                        }
                        Err(e) => {
                            for (position, _) in &batch {
                                record(*position, Err(rejection(&e)));
                            }
                            continue;
                        }
                    }
                }
                for (position, entry) in batch {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    match client.submit(&entry) {
                        Ok(s) => record(position, Ok(s.status)),
                        Err(e) if e.is_unreachable() => fail(e),
                        Err(e) => record(position, Err(rejection(&e))),
                    }
                }
            });
        }
        let mut batch = Vec::with_capacity(BATCH);
        for (position, item) in items {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            match item {
                Ok(entry) => {
                    batch.push((position, entry));
                    if batch.len() == BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        if tx.send(full).is_err() {
                            break;
                        }
                    }
                }
                Err(why) => record(position, Err(why)),
            }
        }
        if !batch.is_empty() && !stop.load(Ordering::Relaxed) {
            let _ = tx.send(batch);
        }
        drop(tx);
    });
    if let Some(e) = fatal.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(summary.into_inner().unwrap_or_else(|p| p.into_inner()))
}

/// The reason to report for a refused entry: the problem's detail when there is one.
fn rejection(e: &ClientError) -> String {
    match e {
        ClientError::Problem(p) if !p.detail.is_empty() => p.detail.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_and_keeps_first_reasons() {
        let mut s = Summary::default();
        s.record(1, Ok(SubmitStatus::Accepted));
        s.record(2, Ok(SubmitStatus::Duplicate));
        s.record(3, Ok(SubmitStatus::Pending));
        for i in 0..10 {
            s.record(10 + i, Err(format!("bad {i}")));
        }
        assert_eq!(
            (s.accepted, s.duplicate, s.pending, s.rejected),
            (1, 1, 1, 10)
        );
        assert_eq!(s.total(), 13);
        assert_eq!(s.first_rejections.len(), KEPT_REJECTIONS);
        assert_eq!(s.first_rejections[0], (10, "bad 0".to_string()));
    }

    #[test]
    fn unreadable_items_are_rejected_and_unreachable_node_stops() {
        let client = Client::new("http://127.0.0.1:9").unwrap();
        let items = vec![(1, Err("line 1: not JSON".to_string()))];
        let s = submit_all(&client, items.into_iter(), 4, &|_| {}).unwrap();
        assert_eq!(s.rejected, 1);
        let fx = registry_core::testkit::Fixture::new(1, 1, 4);
        let entry = registry_core::testkit::authority(&fx);
        let r = submit_all(&client, vec![(1, Ok(entry))].into_iter(), 4, &|_| {});
        assert!(matches!(r, Err(ClientError::Unreachable { .. })), "{r:?}");
    }
}
