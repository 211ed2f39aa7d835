//! The node as the network sees it: the [`p2p::Host`] over the shared registry and the
//! ledger writer, and the node key turned into the libp2p identity.

use std::sync::{Arc, RwLock};

use futures::future::{join_all, BoxFuture};
use p2p::{Host, HostError, Submission, WhenFull};
use registry_core::registry::{Registry, Source};
use registry_core::SignedEntry;

use crate::writer::{Origin, WriterError, WriterHandle};

/// Entries from peers go to the same writer as entries from the API: nothing reaches the
/// registry or the ledger another way. They are submitted as [`Origin::Peer`]: gossipsub
/// forwards them and sync spreads them, so the writer does not publish them again.
#[derive(Debug)]
pub struct NodeHost {
    pub registry: Arc<RwLock<Registry>>,
    pub writer: WriterHandle,
}

impl Host for NodeHost {
    fn registry(&self) -> &RwLock<Registry> {
        &self.registry
    }

    fn submit(
        &self,
        from: Source,
        entries: Vec<SignedEntry>,
        when_full: WhenFull,
    ) -> BoxFuture<'static, Vec<Submission>> {
        let writer = self.writer.clone();
        Box::pin(async move {
            let submissions = entries.into_iter().map(|entry| {
                let writer = writer.clone();
                async move {
                    let outcome = match when_full {
                        WhenFull::Wait => writer.submit_waiting(entry, from, Origin::Peer).await,
                        WhenFull::Refuse => writer.submit(entry, from, Origin::Peer).await,
                    };
                    outcome.map_err(host_error)
                }
            });
            join_all(submissions).await
        })
    }
}

/// The writer's failure as the network sees it: a full queue may clear; anything else
/// means the node cannot store entries now.
fn host_error(e: WriterError) -> HostError {
    match e {
        WriterError::Busy => HostError::Busy(e.to_string()),
        WriterError::Stopped
        | WriterError::Storage { .. }
        | WriterError::OutOfSpace { .. }
        | WriterError::Unavailable
        | WriterError::ForeignLedger
        | WriterError::Damaged(_) => HostError::Unavailable(e.to_string()),
    }
}
