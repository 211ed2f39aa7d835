//! Gossip of entries: gossipsub's settings and peer scoring, message ids, decoding, and
//! validation. The whole of validation is here: a message that does not decode, one past
//! the validation limit, and the writer's outcome for one that does each end in a
//! [`Verdict`], and [`Verdict::of`] is the one table from an outcome to a verdict.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use libp2p::{gossipsub, PeerId};
use registry_core::codec::{self, MAX_MESSAGE_BYTES};
use registry_core::registry::Outcome;
use registry_core::{EntryId, RegistryId, SignedEntry};
use tracing::debug;

use super::actor::{Done, Task};
use super::CheckpointVerdict;
use super::{peer_source, HostError, Submission, WhenFull};
use crate::offence::Offence;
use crate::protocol::{checkpoint_topic, topic, CheckpointMessage};

/// Slack over the 64 KiB entry limit for gossipsub's own framing of one message.
const GOSSIP_FRAME_SLACK: usize = 2 * 1024;

/// Message id = `blake3(domain "trust-registry/gossip-message/v1" || message bytes)`: it
/// covers the signatures, so a copy of an entry with more signatures is a new message
/// (one with none new is then ignored as a duplicate by validation), and any libp2p
/// implementation can compute it without decoding the entry.
fn message_id(message: &gossipsub::Message) -> gossipsub::MessageId {
    let id = codec::hash_with_domain(codec::domain::GOSSIP_MESSAGE, &message.data);
    gossipsub::MessageId::new(id.as_bytes())
}

/// Decodes a gossip payload into the entry it carries (at most 64 KiB, canonical, nothing
/// trailing): what the network task does with every gossiped message, for its message id
/// and before handing the entry to the host.
pub fn decode_gossip(data: &[u8]) -> Result<SignedEntry, codec::DecodeError> {
    codec::decode::<SignedEntry>(data, MAX_MESSAGE_BYTES)
}

/// Gossipsub for `registry`: anonymous messages, each held until validated, with peer
/// scoring on the registry's topic; subscribed to that topic.
pub(super) fn build_gossip(
    registry: &RegistryId,
    whitelist: &[IpAddr],
) -> Result<gossipsub::Behaviour, Box<dyn std::error::Error + Send + Sync>> {
    let config = gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .validate_messages()
        .message_id_fn(message_id)
        .max_transmit_size(MAX_MESSAGE_BYTES + GOSSIP_FRAME_SLACK)
        .duplicate_cache_time(Duration::from_secs(120))
        .build()?;
    let mut gossip = gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Anonymous, config)?;
    let mut params = gossipsub::PeerScoreParams {
        ip_colocation_factor_whitelist: whitelist.iter().copied().collect(),
        ..Default::default()
    };
    // A quiet registry sees few entries: penalising mesh peers for delivering few
    // messages (P3, P3b) would cut honest peers off. Invalid messages (P4) cost dearly
    // instead: honest nodes never forward one. Checkpoint messages are scored the same.
    let scoring = gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: -100.0,
        invalid_message_deliveries_decay: 0.9,
        ..Default::default()
    };
    params
        .topics
        .insert(topic(registry).hash(), scoring.clone());
    params
        .topics
        .insert(checkpoint_topic(registry).hash(), scoring);
    gossip.with_peer_score(params, gossipsub::PeerScoreThresholds::default())?;
    gossip.subscribe(&topic(registry))?;
    gossip.subscribe(&checkpoint_topic(registry))?;
    Ok(gossip)
}

/// What validating one gossiped message concluded.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Forwarded: a new entry, or a copy that brought signatures.
    Accept,
    /// Not forwarded, and nothing held against the sender: already held, over the
    /// validation limit, or not stored for a local reason.
    Ignore,
    /// Not forwarded; the entry waits for these references, fetched from the sender
    /// (which, having forwarded it, holds them).
    Wait(Vec<EntryId>),
    /// Not forwarded, and the sender is penalised for it.
    Reject(Offence),
}

impl Verdict {
    /// The writer's answer for a gossiped entry → the verdict.
    pub(super) fn of(result: Submission) -> Verdict {
        match result {
            Ok(Outcome::Accepted | Outcome::Merged) => Verdict::Accept,
            Ok(Outcome::Rejected(why)) => Verdict::Reject(Offence::InvalidGossip(why)),
            Ok(Outcome::Pending { missing }) => Verdict::Wait(missing),
            // A local failure is not the sender's fault.
            Ok(Outcome::Duplicate) | Err(HostError::Busy(_) | HostError::Unavailable(_)) => {
                Verdict::Ignore
            }
        }
    }

    fn acceptance(&self) -> gossipsub::MessageAcceptance {
        match self {
            Verdict::Accept => gossipsub::MessageAcceptance::Accept,
            Verdict::Ignore | Verdict::Wait(_) => gossipsub::MessageAcceptance::Ignore,
            Verdict::Reject(_) => gossipsub::MessageAcceptance::Reject,
        }
    }
}

impl Task {
    /// A gossiped message: refused if it is not an entry, ignored past the validation
    /// limit, else handed to the writer; [`Task::on_validated`] concludes.
    pub(super) fn on_gossip(
        &mut self,
        source: PeerId,
        message_id: gossipsub::MessageId,
        message: gossipsub::Message,
    ) {
        let entry = match decode_gossip(&message.data) {
            Ok(e) => e,
            Err(e) => {
                let offence = Offence::GossipNotAnEntry(e);
                return self.conclude(&message_id, source, Verdict::Reject(offence));
            }
        };
        if self.validating >= self.config.max_validations {
            return self.conclude(&message_id, source, Verdict::Ignore);
        }
        self.validating += 1;
        // Counted against the peer that forwarded it: gossip is anonymous, and the
        // forwarder is the one that chose to send it.
        let submitted = self
            .host
            .submit(peer_source(&source), vec![entry], WhenFull::Refuse);
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            let result = submitted.await.into_iter().next().unwrap_or_else(|| {
                Err(HostError::Unavailable(
                    "the node gave no outcome for the entry".into(),
                ))
            });
            let _ = done
                .send(Done::Validated {
                    message_id,
                    source,
                    result,
                })
                .await;
        });
    }

    /// The writer's answer for a message [`Task::on_gossip`] handed it.
    pub(super) fn on_validated(
        &mut self,
        message_id: gossipsub::MessageId,
        source: PeerId,
        result: Submission,
    ) {
        self.validating = self.validating.saturating_sub(1);
        self.conclude(&message_id, source, Verdict::of(result));
    }

    /// Counts the verdict, acts on it (penalise the sender, fetch missing references)
    /// and reports it to gossipsub, which forwards or drops the message.
    fn conclude(&mut self, message_id: &gossipsub::MessageId, source: PeerId, verdict: Verdict) {
        let acceptance = verdict.acceptance();
        match verdict {
            Verdict::Accept => {
                self.counters
                    .gossip_accepted
                    .fetch_add(1, Ordering::Relaxed);
            }
            Verdict::Ignore => {
                self.counters.gossip_ignored.fetch_add(1, Ordering::Relaxed);
            }
            Verdict::Wait(missing) => {
                self.counters.gossip_ignored.fetch_add(1, Ordering::Relaxed);
                self.want(missing, Some(source));
            }
            Verdict::Reject(offence) => {
                self.counters
                    .gossip_rejected
                    .fetch_add(1, Ordering::Relaxed);
                self.penalise(source, &offence);
            }
        }
        self.swarm
            .behaviour_mut()
            .gossip
            .report_message_validation_result(message_id, &source, acceptance);
    }

    /// A message of the checkpoint topic: decoded under its 16 KiB limit and judged by the
    /// host at once (parsing and signature checks, no I/O).
    pub(super) fn on_checkpoint_gossip(
        &mut self,
        source: PeerId,
        message_id: gossipsub::MessageId,
        message: gossipsub::Message,
    ) {
        let verdict = match CheckpointMessage::decode(&message.data) {
            Err(e) => Verdict::Reject(Offence::InvalidCheckpoint(format!(
                "bytes that are not a checkpoint message: {e}"
            ))),
            Ok(m) => match self.host.checkpoint(source, m) {
                CheckpointVerdict::Accept => Verdict::Accept,
                CheckpointVerdict::Ignore => Verdict::Ignore,
                CheckpointVerdict::Reject(why) => Verdict::Reject(Offence::InvalidCheckpoint(why)),
            },
        };
        self.conclude(&message_id, source, verdict);
    }

    /// Gossips an encoded checkpoint message on the checkpoint topic.
    pub(super) fn publish_checkpoint(&mut self, bytes: Vec<u8>) {
        let topic = self.checkpoint_topic.clone();
        if let Err(e) = self.swarm.behaviour_mut().gossip.publish(topic, bytes) {
            debug!(error = %e, "checkpoint message not gossiped");
        }
    }

    /// Gossips an encoded entry on the registry's topic.
    pub(super) fn publish(&mut self, bytes: Vec<u8>) {
        let topic = self.topic.clone();
        if let Err(e) = self.swarm.behaviour_mut().gossip.publish(topic, bytes) {
            debug!(error = %e, "entry not gossiped (it spreads by sync)");
        }
    }
}

#[cfg(test)]
mod tests {
    use registry_core::registry::Rejection;
    use registry_core::Hash;

    use super::*;

    #[test]
    fn each_outcome_has_one_verdict() {
        let id = Hash([7; 32]);
        let cases = [
            (Ok(Outcome::Accepted), Verdict::Accept),
            (Ok(Outcome::Merged), Verdict::Accept),
            (Ok(Outcome::Duplicate), Verdict::Ignore),
            (Err(HostError::Busy("queue full".into())), Verdict::Ignore),
            (
                Err(HostError::Unavailable("stopped".into())),
                Verdict::Ignore,
            ),
            (
                Ok(Outcome::Pending { missing: vec![id] }),
                Verdict::Wait(vec![id]),
            ),
            (
                Ok(Outcome::Rejected(Rejection::NotAController(id))),
                Verdict::Reject(Offence::InvalidGossip(Rejection::NotAController(id))),
            ),
        ];
        for (result, verdict) in cases {
            assert_eq!(Verdict::of(result), verdict);
        }
    }

    #[test]
    fn only_accepted_entries_are_forwarded_and_only_invalid_ones_rejected() {
        use gossipsub::MessageAcceptance as A;
        assert!(matches!(Verdict::Accept.acceptance(), A::Accept));
        assert!(matches!(Verdict::Ignore.acceptance(), A::Ignore));
        assert!(matches!(Verdict::Wait(Vec::new()).acceptance(), A::Ignore));
        let offence = Offence::InvalidGossip(Rejection::NotAController(Hash([7; 32])));
        assert!(matches!(Verdict::Reject(offence).acceptance(), A::Reject));
    }
}
