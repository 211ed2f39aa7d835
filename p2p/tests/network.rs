//! Real libp2p nodes on loopback TCP, in one process: each with its own registry (no
//! ledger: the host ingests straight into the registry). Gossip reaches every node; an
//! invalid entry is rejected and its sender penalised; a node that missed entries catches
//! up by sync.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

use std::io::Write as _;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use p2p::{
    keypair_from_seed, spawn, Host, Multiaddr, NetworkConfig, NetworkHandle, Submission, WhenFull,
};
use registry_core::registry::{Registry, Source};
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
        from: Source,
        entries: Vec<SignedEntry>,
        _when_full: WhenFull,
    ) -> BoxFuture<'static, Vec<Submission>> {
        let report = match self.registry.write() {
            Ok(mut r) => r.ingest_from(from, entries),
            Err(p) => p.into_inner().ingest_from(from, entries),
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
        match self.host.registry.read() {
            Ok(r) => r.state_root(),
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
        addr.parse().unwrap()
    }
}

fn start(fx: &Fixture, seed: u8, bootstrap: Vec<Multiaddr>, sync_period: Duration) -> TestNode {
    let host = Arc::new(TestHost {
        registry: RwLock::new(Registry::new(fx.genesis.clone(), 10_000)),
    });
    let mut config = NetworkConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap,
        colocation_whitelist: vec!["127.0.0.1".parse().unwrap()],
        ..NetworkConfig::default()
    };
    config.sync.period = sync_period;
    let keypair = keypair_from_seed([seed; 32]).unwrap();
    let (net, _task) = spawn(config, keypair, fx.registry_id, host.clone()).unwrap();
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
        a.host
            .submit(Source::LOCAL, vec![e.clone()], WhenFull::Wait)
            .await;
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
    a.host
        .submit(Source::LOCAL, entries.clone(), WhenFull::Wait)
        .await;
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
    a.host.submit(Source::LOCAL, more, WhenFull::Wait).await;
    let want = a.root();
    wait_for("the periodic sync", || (b.root() == want).then_some(())).await;
    assert!(b.net.info().last_sync_at.is_some());
    assert!(entries.iter().all(|e| b.holds(&e.id())));
}

fn counter(n: &TestNode, f: impl Fn(&p2p::NetCounters) -> &std::sync::atomic::AtomicU64) -> u64 {
    f(n.net.counters()).load(std::sync::atomic::Ordering::Relaxed)
}

/// One invalid entry of each class, as an attacker would gossip it, with the outcome the
/// relaying node must give (rejected, or held pending and ignored).
fn invalid_entries(fx: &Fixture, auth: &SignedEntry) -> Vec<(&'static str, SignedEntry)> {
    use registry_core::entry::{Governance, Signature};
    use registry_core::testkit::entity;
    let signer = key(AUTHORITY_KEY_SEED);
    let fresh = |n: u64| issuer(fx, auth.id(), &signer, 10_000 + n);
    let mut out = Vec::new();
    let mut e = fresh(1);
    e.signatures[0].sig[40] ^= 4;
    out.push(("bad signature", e));
    let mut e = fresh(2);
    let id = e.id();
    e.signatures[0].sig = key(999).sign(id.as_bytes());
    out.push(("wrong signer", e));
    let mut e = fresh(3);
    e.signatures = vec![Signature {
        signer: registry_core::DidKey::from_public_key({
            let mut b = [0u8; 32];
            b[0] = 1;
            b
        }),
        sig: [0; 64],
    }];
    out.push(("weak key", e));
    let mut e = fresh(4);
    // S + L.
    let l: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (i, li) in l.iter().enumerate() {
        let v = u16::from(e.signatures[0].sig[32 + i]) + u16::from(*li) + carry;
        e.signatures[0].sig[32 + i] = v as u8;
        carry = v >> 8;
    }
    out.push(("malleated signature", e));
    let mut body = fresh(5).body;
    body.registry = Hash([0xee; 32]);
    out.push(("wrong registry", body.sign(&[&signer])));
    out.push((
        "unauthorized author",
        fx.accredit(&entity(77))
            .grant("issue", "Degree")
            .controller(key(9).did())
            .by_holder(auth.id(), &[&key(998)]),
    ));
    out.push((
        "governance by a holder",
        fx.governance(Governance::AddRoot(key(997).did()))
            .by_holder(auth.id(), &[&signer]),
    ));
    out.push((
        "duplicate signer",
        fx.accredit(&entity(78))
            .grant("accredit", "*")
            .controller(key(9).did())
            .by_roots(&[&fx.roots[0], &fx.roots[0]]),
    ));
    out.push((
        "roots entry by non-roots",
        fx.accredit(&entity(79))
            .grant("accredit", "*")
            .controller(key(9).did())
            .by_roots(&[&key(996), &key(995)]),
    ));
    out
}

/// Attackers (one per class, so that no penalty from one class keeps another from being
/// validated) and a clean publisher hang off B; C is connected to B alone and refuses
/// everyone else, so whatever reaches C went through B. B must validate and drop every
/// invalid entry; the valid entry published after them must reach C.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_forwards_no_invalid_entry_of_any_class() {
    let fx = Fixture::new(2, 1, 4);
    let b = start(&fx, 31, vec![], NO_PERIODIC_SYNC);
    let b_addr = b.address().await;
    let c = start(&fx, 32, vec![b_addr.clone()], NO_PERIODIC_SYNC);
    let auth = authority(&fx);
    let invalid = invalid_entries(&fx, &auth);
    let mut attackers = Vec::new();
    for i in 0..invalid.len() {
        attackers.push(start(
            &fx,
            40 + i as u8,
            vec![b_addr.clone()],
            NO_PERIODIC_SYNC,
        ));
    }
    let publisher = start(&fx, 39, vec![b_addr.clone()], NO_PERIODIC_SYNC);
    for n in attackers.iter().chain([&publisher]) {
        let peer = n.net.info().peer_id;
        let _ = c.net.deny(peer).await;
    }
    wait_subscribed(&c, 1).await;
    wait_subscribed(&b, attackers.len() + 2).await;
    for n in attackers.iter().chain([&publisher]) {
        wait_subscribed(n, 1).await;
    }
    // Everyone holds the authority (published by the clean publisher).
    publisher
        .host
        .submit(Source::LOCAL, vec![auth.clone()], WhenFull::Wait)
        .await;
    publisher.net.publish(&auth);
    wait_for("the authority at C", || c.holds(&auth.id()).then_some(())).await;
    for a in &attackers {
        a.host
            .submit(Source::LOCAL, vec![auth.clone()], WhenFull::Wait)
            .await;
    }
    let b_seen = counter(&b, |k| &k.gossip_rejected) + counter(&b, |k| &k.gossip_ignored);
    let c_before = (
        counter(&c, |k| &k.gossip_rejected),
        counter(&c, |k| &k.gossip_ignored),
    );
    let root_before = c.root();

    for (attacker, (_, e)) in attackers.iter().zip(&invalid) {
        attacker.net.publish(e);
    }
    wait_for("B to validate every invalid entry", || {
        let seen = counter(&b, |k| &k.gossip_rejected) + counter(&b, |k| &k.gossip_ignored);
        (seen >= b_seen + invalid.len() as u64).then_some(())
    })
    .await;
    let valid = issuer(&fx, auth.id(), &key(AUTHORITY_KEY_SEED), 1);
    publisher
        .host
        .submit(Source::LOCAL, vec![valid.clone()], WhenFull::Wait)
        .await;
    publisher.net.publish(&valid);
    wait_for("the valid entry at C", || {
        c.holds(&valid.id()).then_some(())
    })
    .await;

    let forwarded = invalid.iter().filter(|(_, e)| c.holds(&e.id())).count() as u64
        + counter(&c, |k| &k.gossip_rejected)
        - c_before.0
        + counter(&c, |k| &k.gossip_ignored)
        - c_before.1;
    let stored_b = invalid.iter().filter(|(_, e)| b.holds(&e.id())).count();
    let pending_c = c.host.registry.read().map(|r| r.pending_len()).unwrap_or(0);
    let classes: Vec<&str> = invalid.iter().map(|(name, _)| *name).collect();
    let rejected_b = counter(&b, |k| &k.gossip_rejected);
    let _ = writeln!(std::io::stderr(),
        "network/relay: {} classes ({}), {} invalid entries published, B rejected {rejected_b} and stored {stored_b}, forwarded={forwarded} (C saw none), valid entry published after them reached C",
        classes.len(),
        classes.join(", "),
        invalid.len(),
    );
    assert_eq!(forwarded, 0);
    assert_eq!(stored_b, 0);
    assert_eq!(pending_c, 0);
    assert_ne!(c.root(), root_before);
    assert_eq!(c.root(), b.root());
}
