//! The node as the network sees it: the [`p2p::Host`] over the shared registry and the
//! ledger writer, and the node key turned into the libp2p identity.

use std::sync::{Arc, RwLock};

use futures::future::{join_all, BoxFuture};
use p2p::{Host, Submission};
use registry_core::registry::{Registry, Source};
use registry_core::SignedEntry;

use crate::writer::WriterHandle;

/// Entries from peers go to the same writer as entries from the API: nothing reaches the
/// registry or the ledger another way.
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
        wait: bool,
    ) -> BoxFuture<'static, Vec<Submission>> {
        let writer = self.writer.clone();
        Box::pin(async move {
            let submissions = entries.into_iter().map(|entry| {
                let writer = writer.clone();
                async move {
                    let outcome = if wait {
                        writer.submit_waiting(entry, from).await
                    } else {
                        writer.submit(entry, from).await
                    };
                    outcome.map_err(|e| e.to_string())
                }
            });
            join_all(submissions).await
        })
    }
}
