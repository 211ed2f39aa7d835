//! The attacker's libp2p peer: the registry's transport and protocols, with the raw
//! sync codec.

use std::time::Duration;

use libp2p::swarm::NetworkBehaviour;
use libp2p::{gossipsub, identify, noise, request_response, tcp, yamux, Swarm};
use p2p::network::{sync_protocol, topic};
use registry_core::{codec, RegistryId};

use crate::wire::RawCodec;

/// Largest message the attacker's own gossipsub lets it send.
const ATTACKER_MAX_TRANSMIT: usize = 1 << 20;

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) identify: identify::Behaviour,
    pub(crate) gossip: gossipsub::Behaviour,
    pub(crate) sync: request_response::Behaviour<RawCodec>,
}

pub(crate) fn build_swarm(registry: &RegistryId) -> anyhow::Result<Swarm<Behaviour>> {
    let registry = *registry;
    let swarm = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_behaviour(|key| {
            let config = gossipsub::ConfigBuilder::default()
                .validation_mode(gossipsub::ValidationMode::Anonymous)
                .message_id_fn(|m: &gossipsub::Message| {
                    let h = codec::hash_with_domain("registry-attacker/message/v1", &m.data);
                    gossipsub::MessageId::new(h.as_bytes())
                })
                .max_transmit_size(ATTACKER_MAX_TRANSMIT)
                .build()?;
            let mut gossip =
                gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Anonymous, config)?;
            gossip.subscribe(&topic(&registry))?;
            let sync = request_response::Behaviour::with_codec(
                RawCodec,
                [(
                    sync_protocol(&registry),
                    request_response::ProtocolSupport::Full,
                )],
                request_response::Config::default()
                    .with_request_timeout(Duration::from_secs(15))
                    .with_max_concurrent_streams(256),
            );
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Behaviour {
                identify: identify::Behaviour::new(identify::Config::new(
                    format!("/trust-registry/{}/1", registry.to_hex()),
                    key.public(),
                )),
                gossip,
                sync,
            })
        })?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(30)))
        .build();
    Ok(swarm)
}
