//! Real libp2p nodes on loopback TCP, in one process: each with its own registry (no
//! ledger: the host ingests straight into the registry). Gossip reaches every node; an
//! invalid entry is rejected and its sender penalised; a node that missed entries catches
//! up by sync.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use p2p::{keypair_from_seed, spawn, Host, Multiaddr, NetworkConfig, NetworkHandle, Submission};
use registry_core::registry::Registry;
use registry_core::testkit::{authority, issuer, key, Fixture, AUTHORITY_KEY_SEED};
use registry_core::{Hash, SignedEntry};

struct TestHost {
    registry: RwLock<Registry>,
}

impl Host for TestHost {
    fn registry(&self) -> &RwLock<Registry> {
        &self.registry
    }

    fn submit(
        &self,
        entries: Vec<SignedEntry>,
        _wait: bool,
    ) -> BoxFuture<'static, Vec<Submission>> {
        let report = match self.registry.write() {
            Ok(mut r) => r.ingest(entries),
            Err(p) => p.into_inner().ingest(entries),
        };
        let out: Vec<Submission> = report.outcomes.into_iter().map(|(_, o)| Ok(o)).collect();
        Box::pin(async move { out })
    }
}

struct TestNode {
    host: Arc<TestHost>,
    net: NetworkHandle,
}

impl TestNode {
    fn root(&self) -> Hash {
        match self.host.registry.write() {
            Ok(mut r) => r.state_root(),
            Err(p) => p.into_inner().state_root(),
        }
    }

    fn holds(&self, id: &Hash) -> bool {
        match self.host.registry.read() {
            Ok(r) => r.state().contains(id),
            Err(p) => p.into_inner().state().contains(id),
        }
    }

    async fn address(&self) -> Multiaddr {
        let info = wait_for("a listen address", || {
            let info = self.net.info();
            (!info.listen_addrs.is_empty()).then_some(info)
        })
        .await;
        let addr = format!("{}/p2p/{}", info.listen_addrs[0], info.peer_id);
        addr.parse().unwrap_or_else(|e| panic!("{e}"))
    }
}

fn start(fx: &Fixture, seed: u8, bootstrap: Vec<Multiaddr>, sync_period: Duration) -> TestNode {
    let host = Arc::new(TestHost {
        registry: RwLock::new(Registry::new(fx.genesis.clone(), 10_000)),
    });
    let mut config = NetworkConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"))],
        bootstrap,
        colocation_whitelist: vec!["127.0.0.1".parse().unwrap_or_else(|e| panic!("{e}"))],
        ..NetworkConfig::default()
    };
    config.sync.period = sync_period;
    let keypair = keypair_from_seed([seed; 32]).unwrap_or_else(|e| panic!("{e}"));
    let (net, _task) =
        spawn(config, keypair, fx.registry_id, host.clone()).unwrap_or_else(|e| panic!("{e}"));
    TestNode { host, net }
}

/// Polls `f` until it gives a value, for at most 20 s.
async fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_subscribed(node: &TestNode, peers: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = node.net.peers().await.unwrap_or_default();
        if list.iter().filter(|p| p.subscribed).count() >= peers {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "peers did not subscribe: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const NO_PERIODIC_SYNC: Duration = Duration::from_secs(3600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gossip_reaches_every_node_and_invalid_entries_are_rejected() {
    let fx = Fixture::new(1, 1, 4);
    let a = start(&fx, 1, vec![], NO_PERIODIC_SYNC);
    let first = a.address().await;
    let b = start(&fx, 2, vec![first.clone()], NO_PERIODIC_SYNC);
    let c = start(&fx, 3, vec![first], NO_PERIODIC_SYNC);
    for n in [&a, &b, &c] {
        wait_subscribed(n, 2).await;
    }

    // A valid entry published by one node is accepted and forwarded to all.
    let auth = authority(&fx);
    let signer = key(AUTHORITY_KEY_SEED);
    let iss = issuer(&fx, auth.id(), &signer, 1);
    for e in [&auth, &iss] {
        a.host.submit(vec![e.clone()], true).await;
        a.net.publish(e);
    }
    for n in [&b, &c] {
        wait_for("gossip to arrive", || n.holds(&iss.id()).then_some(())).await;
    }
    assert_eq!(a.root(), b.root());
    assert_eq!(a.root(), c.root());
    let accepted: u64 = [&b, &c]
        .iter()
        .map(|n| {
            n.net
                .counters()
                .gossip_accepted
                .load(std::sync::atomic::Ordering::Relaxed)
        })
        .sum();
    assert!(accepted >= 2, "entries arrived by gossip: {accepted}");

    // An entry with a broken signature, published by C (which does not check what it
    // publishes itself): A and B reject it, store nothing, and penalise C.
    let mut bad = issuer(&fx, auth.id(), &signer, 2);
    bad.signatures[0].sig[0] ^= 1;
    let root_before = a.root();
    c.net.publish(&bad);
    let c_id = c.net.info().peer_id;
    for n in [&a, &b] {
        wait_for("the rejection", || {
            let rejected = n
                .net
                .counters()
                .gossip_rejected
                .load(std::sync::atomic::Ordering::Relaxed);
            (rejected >= 1).then_some(())
        })
        .await;
        assert!(!n.holds(&bad.id()));
        let peers = n.net.peers().await.unwrap_or_default();
        let score = peers
            .iter()
            .find(|p| p.peer_id == c_id)
            .map(|p| p.score)
            .unwrap_or(0.0);
        assert!(score < 0.0, "the sender's score is {score}");
    }
    assert_eq!(a.root(), root_before);
    assert_eq!(a.root(), b.root());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_missed_entries_catches_up_by_sync() {
    let fx = Fixture::new(1, 1, 4);
    let a = start(&fx, 11, vec![], Duration::from_secs(1));
    let first = a.address().await;
    // Entries A holds that were never gossiped.
    let auth = authority(&fx);
    let signer = key(AUTHORITY_KEY_SEED);
    let mut entries = vec![auth.clone()];
    entries.extend((0..300).map(|n| issuer(&fx, auth.id(), &signer, n)));
    a.host.submit(entries.clone(), true).await;
    assert_eq!(
        a.host.registry.read().map(|r| r.state().len()).unwrap_or(0),
        301
    );

    // A node that connects later gets them by the sync on connection.
    let b = start(&fx, 12, vec![first.clone()], Duration::from_secs(1));
    let want = a.root();
    wait_for("B to catch up", || (b.root() == want).then_some(())).await;

    // More entries written at A only reach B by the periodic sync.
    let more: Vec<SignedEntry> = (300..400)
        .map(|n| issuer(&fx, auth.id(), &signer, n))
        .collect();
    a.host.submit(more, true).await;
    let want = a.root();
    wait_for("the periodic sync", || (b.root() == want).then_some(())).await;
    assert!(b.net.info().last_sync_at.is_some());
    assert!(entries.iter().all(|e| b.holds(&e.id())));
}
