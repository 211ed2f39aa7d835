//! The libp2p side of the network: the behaviours a node runs and the transport (TCP,
//! noise, yamux) they run over.

use std::sync::Arc;
use std::time::Duration;

use libp2p::identity::Keypair;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::NetworkBehaviour;
use libp2p::{
    allow_block_list, connection_limits, gossipsub, identify, kad, mdns, noise, ping,
    request_response, tcp, yamux, Swarm,
};
use registry_core::RegistryId;

use super::ingress::StartError;
use super::{gossip, NetworkConfig, NetworkError};
use crate::codec::SyncCodec;
use crate::metrics::NetCounters;
use crate::protocol::{identify_protocol, kad_protocol, sync_protocol};

/// Every behaviour of a node, in the order libp2p polls them.
#[derive(NetworkBehaviour)]
pub(super) struct Behaviour {
    pub(super) limits: connection_limits::Behaviour,
    pub(super) deny: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    pub(super) identify: identify::Behaviour,
    pub(super) ping: ping::Behaviour,
    pub(super) kad: kad::Behaviour<kad::store::MemoryStore>,
    pub(super) mdns: Toggle<mdns::tokio::Behaviour>,
    pub(super) gossip: gossipsub::Behaviour,
    pub(super) sync: request_response::Behaviour<SyncCodec>,
}

/// The libp2p identity of a node from its ed25519 node key.
pub fn keypair_from_seed(seed: [u8; 32]) -> Result<Keypair, NetworkError> {
    let mut seed = seed;
    Keypair::ed25519_from_bytes(&mut seed)
        .map_err(|e| NetworkError::Start(StartError::Identity(Arc::new(e))))
}

/// The swarm of a node of `registry_id`, not yet listening.
pub(super) fn build_swarm(
    config: &NetworkConfig,
    keypair: Keypair,
    registry_id: &RegistryId,
    counters: Arc<NetCounters>,
) -> Result<Swarm<Behaviour>, StartError> {
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| StartError::Transport(Arc::new(e)))?
        .with_behaviour(|key| behaviour(key, config, registry_id, counters))
        .map_err(|e| StartError::Behaviour(Arc::new(e)))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build();
    Ok(swarm)
}

fn behaviour(
    key: &Keypair,
    config: &NetworkConfig,
    registry_id: &RegistryId,
    counters: Arc<NetCounters>,
) -> Result<Behaviour, Box<dyn std::error::Error + Send + Sync>> {
    let peer_id = key.public().to_peer_id();
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_established(Some(config.max_connections))
        .with_max_established_per_peer(Some(config.max_connections_per_peer))
        .with_max_pending_incoming(Some(config.max_pending_incoming));
    let mut kad_config = kad::Config::new(kad_protocol(registry_id));
    // The task refreshes the routing table itself, and only once it has a peer (a lone
    // node would otherwise warn about it every few minutes).
    kad_config.set_periodic_bootstrap_interval(None);
    let mut kad =
        kad::Behaviour::with_config(peer_id, kad::store::MemoryStore::new(peer_id), kad_config);
    // Nodes on private or loopback addresses never learn an external address, so
    // Kademlia would stay a client; every node serves the routing table.
    kad.set_mode(Some(kad::Mode::Server));
    let mdns = if config.mdns {
        Some(mdns::tokio::Behaviour::new(
            mdns::Config::default(),
            peer_id,
        )?)
    } else {
        None
    };
    let sync = request_response::Behaviour::with_codec(
        SyncCodec::new(counters),
        [(
            sync_protocol(registry_id),
            request_response::ProtocolSupport::Full,
        )],
        request_response::Config::default()
            .with_request_timeout(Duration::from_secs(30))
            .with_max_concurrent_streams(64),
    );
    Ok(Behaviour {
        limits: connection_limits::Behaviour::new(limits),
        deny: allow_block_list::Behaviour::default(),
        identify: identify::Behaviour::new(
            identify::Config::new(identify_protocol(registry_id), key.public())
                .with_agent_version(format!("registry-node/{}", env!("CARGO_PKG_VERSION"))),
        ),
        ping: ping::Behaviour::default(),
        kad,
        mdns: Toggle::from(mdns),
        gossip: gossip::build_gossip(registry_id, &config.colocation_whitelist)?,
        sync,
    })
}
