//! The network's host with checkpoints: the node's [`NodeHost`] for entries, and the
//! [`Checkpointer`] for the checkpoint topic.

use std::sync::{Arc, RwLock};

use futures::future::BoxFuture;
use p2p::protocol::CheckpointMessage;
use p2p::{CheckpointVerdict, Host, PeerId, Submission, WhenFull};
use registry_core::registry::{Registry, Source};
use registry_core::SignedEntry;

use super::Checkpointer;
use crate::net::NodeHost;

/// Entries go to the writer as [`NodeHost`] sends them; checkpoint messages are judged by
/// the checkpointer.
#[derive(Debug)]
pub struct CheckpointHost {
    pub node: NodeHost,
    pub checkpointer: Arc<Checkpointer>,
}

impl Host for CheckpointHost {
    fn registry(&self) -> &RwLock<Registry> {
        self.node.registry()
    }

    fn submit(
        &self,
        from: Source,
        entries: Vec<SignedEntry>,
        when_full: WhenFull,
    ) -> BoxFuture<'static, Vec<Submission>> {
        self.node.submit(from, entries, when_full)
    }

    fn checkpoint(&self, _from: PeerId, message: CheckpointMessage) -> CheckpointVerdict {
        self.checkpointer.receive(message)
    }
}
