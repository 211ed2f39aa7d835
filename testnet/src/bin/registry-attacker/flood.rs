//! The connection flood: fresh identities that dial and hold, and TCP connections that
//! never say a word.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{dummy, SwarmEvent};
use libp2p::{noise, tcp, yamux, Multiaddr};

/// Connection flood: identities started per round, how long each holds its connections,
/// and silent TCP connections per target per round.
const FLOOD_BATCH: usize = 16;
const FLOOD_HOLD: Duration = Duration::from_secs(3);
const FLOOD_ROUND: Duration = Duration::from_millis(500);
const FLOOD_SILENT: usize = 4;

#[derive(Debug, Default)]
pub(crate) struct FloodCounters {
    pub(crate) identities: AtomicU64,
    pub(crate) attempted: AtomicU64,
    pub(crate) established: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) silent_opened: AtomicU64,
}

fn socket_addr(addr: &Multiaddr) -> Option<SocketAddr> {
    let mut ip = None;
    let mut port = None;
    for p in addr.iter() {
        match p {
            Protocol::Ip4(a) => ip = Some(std::net::IpAddr::V4(a)),
            Protocol::Ip6(a) => ip = Some(std::net::IpAddr::V6(a)),
            Protocol::Tcp(p) => port = Some(p),
            _ => {}
        }
    }
    Some(SocketAddr::new(ip?, port?))
}

/// One flood identity: dials every target, holds what it gets for a while, then leaves.
async fn flood_one(targets: Vec<Multiaddr>, c: Arc<FloodCounters>) {
    let built = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map(|b| b.with_behaviour(|_| dummy::Behaviour));
    let Ok(Ok(builder)) = built else {
        return;
    };
    let mut swarm = builder
        .with_swarm_config(|s| s.with_idle_connection_timeout(FLOOD_HOLD))
        .build();
    c.identities.fetch_add(1, Ordering::Relaxed);
    for t in targets {
        c.attempted.fetch_add(1, Ordering::Relaxed);
        if swarm.dial(t).is_err() {
            c.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
    let hold = tokio::time::sleep(FLOOD_HOLD);
    tokio::pin!(hold);
    loop {
        tokio::select! {
            event = swarm.select_next_some() => match event {
                SwarmEvent::ConnectionEstablished { .. } => {
                    c.established.fetch_add(1, Ordering::Relaxed);
                }
                SwarmEvent::OutgoingConnectionError { .. } => {
                    c.failed.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            },
            _ = &mut hold => break,
        }
    }
}

/// Opens connections from fresh identities, and TCP connections that never say a word,
/// until the deadline.
pub(crate) async fn flood(targets: Vec<Multiaddr>, deadline: Instant, c: Arc<FloodCounters>) {
    let sockets: Vec<SocketAddr> = targets.iter().filter_map(socket_addr).collect();
    let mut tasks = Vec::new();
    while Instant::now() < deadline {
        for _ in 0..FLOOD_BATCH {
            tasks.push(tokio::spawn(flood_one(targets.clone(), c.clone())));
        }
        for addr in &sockets {
            for _ in 0..FLOOD_SILENT {
                let c = c.clone();
                let addr = *addr;
                tasks.push(tokio::spawn(async move {
                    if let Ok(Ok(stream)) = tokio::time::timeout(
                        Duration::from_secs(1),
                        tokio::net::TcpStream::connect(addr),
                    )
                    .await
                    {
                        c.silent_opened.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(FLOOD_HOLD).await;
                        drop(stream);
                    }
                }));
            }
        }
        tasks.retain(|t| !t.is_finished());
        tokio::time::sleep(FLOOD_ROUND).await;
    }
    for t in tasks {
        let _ = t.await;
    }
}
