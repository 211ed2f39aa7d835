//! A flood of junk pending entries against two real nodes, A and B: ten times the pending
//! pool's capacity from one HTTP client (on its own loopback address, 127.0.0.2) and as
//! much from one gossip peer (a libp2p node of the `p2p` crate run by this test), while
//! an honest out-of-order child and parent are submitted from 127.0.0.1: the child first,
//! to B, mid-flood, the parent to A once the flood is over. Junk needs no key (an
//! accreditation authored as the holder of an id no entry has, signed by a key of its
//! own), so without per-source shares the junk would push the child out of every pool
//! and it would never be accepted anywhere.
//!
//! Shown: the child ends accepted on both nodes; each pool stays at or under its capacity
//! throughout (sampled), the junk's evictions are counted in /metrics, and the ledger
//! directories and resident memory stay within fixed bounds.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use p2p::{keypair_from_seed, Host, Multiaddr, NetworkConfig, NetworkHandle, Submission, WhenFull};
use registry_core::registry::{Registry, Source};
use registry_core::testkit::{authority, issuer, junk, key, Fixture, AUTHORITY_KEY_SEED};
use registry_core::SignedEntry;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use common::{init, Node};

/// The smallest bound the node accepts (a rebuild may hold a block's worth pending).
const CAPACITY: usize = 1024;
const JUNK: usize = 10 * CAPACITY;
const HTTP_CLIENTS: usize = 8;
const DEADLINE: Duration = Duration::from_secs(120);
/// The junk client's own address: the honest client is 127.0.0.1.
const JUNK_IP: &str = "127.0.0.2";
/// Bounds asserted after the flood.
const MAX_LEDGER_BYTES: u64 = 16 << 20;
const MAX_RSS_GROWTH_KIB: u64 = 96 << 10;

/// The gossip peer's side: a registry of its own, no ledger.
struct FloodHost {
    registry: RwLock<Registry>,
}

impl Host for FloodHost {
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

fn start(tmp: &Path, fx: &Fixture, name: &str, bootstrap: Option<&str>) -> Node {
    let dir = tmp.join(name);
    init(&dir, &fx.genesis);
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "[registry]\npending_capacity = {CAPACITY}\n\
             [p2p]\ncolocation_whitelist = [\"127.0.0.1\"]\nsync_period_secs = 5\n"
        ),
    )
    .unwrap();
    let dir = dir.to_string_lossy().into_owned();
    let mut args = vec!["run", "--data-dir", &dir];
    if let Some(b) = bootstrap {
        args.extend(["--bootstrap", b]);
    }
    Node::spawn(&args, tmp)
}

/// The Prometheus samples of `/metrics`, by series (name and labels).
fn metrics(node: &Node) -> HashMap<String, f64> {
    let r = node.get("/metrics");
    assert_eq!(r.status, 200, "{r:?}");
    r.text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

fn metric(m: &HashMap<String, f64>, series: &str) -> u64 {
    m.get(series)
        .copied()
        .unwrap_or_else(|| panic!("no {series} in /metrics")) as u64
}

fn gossip_received(node: &Node) -> u64 {
    let m = metrics(node);
    ["accepted", "ignored", "rejected"]
        .iter()
        .map(|r| {
            metric(
                &m,
                &format!("registry_gossip_messages_total{{result=\"{r}\"}}"),
            )
        })
        .sum()
}

fn wait_until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(started.elapsed() < DEADLINE, "never saw {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn entry_status(node: &Node, entry: &SignedEntry) -> String {
    let r = node.get(&format!("/v1/entries/{}", entry.id().to_hex()));
    match r.status {
        200 => r.json()["status"].as_str().unwrap_or_default().to_string(),
        404 => "unknown".into(),
        other => panic!("GET entry: {other} {}", r.text),
    }
}

fn dir_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|d| {
            d.flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// One keep-alive HTTP/1.1 connection from `JUNK_IP` posting `entries`; every one must
/// be answered 202 `pending` (a 503 from a full writer queue is retried).
async fn post_junk(api: SocketAddr, entries: Vec<SignedEntry>) -> usize {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    let local: IpAddr = JUNK_IP.parse().unwrap();
    socket
        .bind(SocketAddr::new(local, 0))
        .unwrap_or_else(|e| panic!("cannot bind {JUNK_IP}: {e}"));
    let stream = socket.connect(api).await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut pending = 0;
    for entry in entries {
        loop {
            let body = serde_json::to_vec(&entry).unwrap();
            let head = format!(
                "POST /v1/entries HTTP/1.1\r\nHost: {api}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n",
                body.len()
            );
            write
                .write_all(&[head.as_bytes(), &body].concat())
                .await
                .unwrap();
            let mut status_line = String::new();
            read.read_line(&mut status_line).await.unwrap();
            let status: u16 = status_line
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                read.read_line(&mut line).await.unwrap();
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut answer = vec![0u8; length];
            read.read_exact(&mut answer).await.unwrap();
            let answer = String::from_utf8_lossy(&answer);
            if status == 503 {
                continue;
            }
            assert_eq!(status, 202, "{answer}");
            assert!(answer.contains("\"pending\""), "{answer}");
            pending += 1;
            break;
        }
    }
    pending
}

/// Publishes `entries` from the gossip peer in chunks, each once `node` has received the
/// one before (so the peer's own queues never drop them); returns how many `node` got.
fn publish_paced(net: &NetworkHandle, node: &Node, entries: &[SignedEntry]) -> u64 {
    let before = gossip_received(node);
    let mut sent = 0u64;
    for chunk in entries.chunks(128) {
        for e in chunk {
            net.publish(e);
        }
        sent += chunk.len() as u64;
        let started = Instant::now();
        loop {
            let got = gossip_received(node) - before;
            // The node counts every message it receives, whatever becomes of it.
            if got >= sent || started.elapsed() > Duration::from_secs(5) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    gossip_received(node) - before
}

#[test]
fn a_junk_flood_from_a_client_and_a_peer_does_not_push_an_honest_child_out() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = Fixture::new(1, 1, 4);
    let a = start(tmp.path(), &fx, "a", None);
    let boot = wait_until("a listen address of A", || {
        let s = a.status();
        s["listen_addrs"][0].as_str().map(str::to_string)
    });
    let b = start(tmp.path(), &fx, "b", Some(&boot));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    let host = Arc::new(FloodHost {
        registry: RwLock::new(Registry::new(fx.genesis.clone(), CAPACITY)),
    });
    let config = NetworkConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap: vec![boot.parse::<Multiaddr>().unwrap()],
        colocation_whitelist: vec!["127.0.0.1".parse().unwrap()],
        ..NetworkConfig::default()
    };
    let keypair = keypair_from_seed([42; 32]).unwrap();
    let (net, task) = p2p::spawn(config, keypair, fx.registry_id, host).unwrap();
    wait_until("A connected to B and the gossip peer", || {
        (a.status()["peers"].as_u64() >= Some(2)).then_some(())
    });
    wait_until("B connected to A", || {
        (b.status()["peers"].as_u64() >= Some(1)).then_some(())
    });
    // The gossip peer's messages reach A once A is in its view of the topic.
    let mut probe = 0u64;
    wait_until("A receiving the gossip peer's messages", || {
        let before = gossip_received(&a);
        net.publish(&junk(&fx, 5_000_000 + probe));
        probe += 1;
        std::thread::sleep(Duration::from_millis(200));
        (gossip_received(&a) > before).then_some(())
    });

    let rss_before = (rss_kib(a.pid()), rss_kib(b.pid()));
    let api_a: SocketAddr = a.base.trim_start_matches("http://").parse().unwrap();
    let http_junk: Vec<SignedEntry> = (0..JUNK as u64).map(|n| junk(&fx, n)).collect();
    let gossip_junk: Vec<SignedEntry> =
        (0..JUNK as u64).map(|n| junk(&fx, 1_000_000 + n)).collect();

    // Pool sizes sampled through the whole flood.
    let sampling = Arc::new(AtomicBool::new(true));
    let max_pending = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let sampler = {
        let (sampling, max_pending) = (sampling.clone(), max_pending.clone());
        let bases = [a.base.clone(), b.base.clone()];
        std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            while sampling.load(Ordering::Relaxed) {
                for (i, base) in bases.iter().enumerate() {
                    let text = agent
                        .get(format!("{base}/metrics"))
                        .call()
                        .ok()
                        .and_then(|mut r| r.body_mut().read_to_string().ok())
                        .unwrap_or_default();
                    if let Some(n) = text
                        .lines()
                        .find_map(|l| l.strip_prefix("registry_pending "))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                    {
                        max_pending[i].fetch_max(n, Ordering::Relaxed);
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };

    let parent = authority(&fx);
    let child = issuer(&fx, parent.id(), &key(AUTHORITY_KEY_SEED), 1);
    let started = Instant::now();
    let mut http_pending = 0;
    let mut gossip_got = 0;
    for half in [0, 1] {
        let range = half * JUNK / 2..(half + 1) * JUNK / 2;
        let per = range.len().div_ceil(HTTP_CLIENTS);
        let clients: Vec<_> = http_junk[range.clone()]
            .chunks(per)
            .map(|c| rt.spawn(post_junk(api_a, c.to_vec())))
            .collect();
        gossip_got += publish_paced(&net, &a, &gossip_junk[range]);
        for c in clients {
            http_pending += rt.block_on(c).unwrap();
        }
        if half == 0 {
            // The honest child, mid-flood, to the other node: it waits there, and B
            // gossips it to A, where it waits too.
            let r = b.post("/v1/entries", &child);
            assert_eq!(r.status, 202, "{r:?}");
            assert_eq!(r.json()["status"], "pending");
            wait_until("the child pending on A", || {
                (entry_status(&a, &child) == "pending").then_some(())
            });
        }
    }
    let flood_time = started.elapsed();
    // Everything sent has been handled: A's pool is full of junk, and the child is still
    // waiting on both nodes.
    for n in [&a, &b] {
        assert_eq!(entry_status(n, &child), "pending", "{}", n.base);
    }
    let r = a.post("/v1/entries", &parent);
    assert_eq!(r.status, 202, "{r:?}");
    assert_eq!(r.json()["status"], "accepted");
    for n in [&a, &b] {
        wait_until("the child accepted", || {
            (entry_status(n, &child) == "accepted").then_some(())
        });
    }
    sampling.store(false, Ordering::Relaxed);
    sampler
        .join()
        .unwrap_or_else(|_| panic!("the sampler panicked"));

    let rss_after = (rss_kib(a.pid()), rss_kib(b.pid()));
    let mut figures = Vec::new();
    for (name, node, i) in [("A", &a, 0), ("B", &b, 1)] {
        let m = metrics(node);
        let pending = metric(&m, "registry_pending");
        let dropped = metric(&m, "registry_pending_dropped_total");
        let same = metric(&m, "registry_pending_evicted_total{reason=\"same_source\"}");
        let largest = metric(
            &m,
            "registry_pending_evicted_total{reason=\"largest_source\"}",
        );
        assert_eq!(metric(&m, "registry_pending_capacity"), CAPACITY as u64);
        assert!(pending <= CAPACITY as u64, "{name}: {pending} pending");
        let sampled = max_pending[i].load(Ordering::Relaxed);
        assert!(
            sampled <= CAPACITY,
            "{name}: {sampled} pending at one point"
        );
        assert_eq!(dropped, same + largest);
        let ledger = dir_bytes(&tmp.path().join(name.to_lowercase()).join("ledger"));
        assert!(ledger <= MAX_LEDGER_BYTES, "{name}: ledger {ledger} bytes");
        figures.push(format!(
            "{name}: max pending {sampled}/{CAPACITY}, evicted {dropped} ({same} same source, \
             {largest} largest source), {} sources left, ledger {:.1} MiB",
            metric(&m, "registry_pending_sources"),
            ledger as f64 / (1 << 20) as f64
        ));
    }
    // A was sent 10 x capacity by HTTP alone: at least that much less one pool was dropped.
    let dropped_a = metric(&metrics(&a), "registry_pending_dropped_total");
    assert_eq!(http_pending, JUNK);
    assert!(
        dropped_a >= (JUNK - CAPACITY) as u64,
        "A dropped only {dropped_a}"
    );
    assert!(
        gossip_got >= JUNK as u64 * 9 / 10,
        "A received only {gossip_got} of the peer's {JUNK} messages"
    );
    let growth = (
        rss_after.0.saturating_sub(rss_before.0),
        rss_after.1.saturating_sub(rss_before.1),
    );
    assert!(
        growth.0 <= MAX_RSS_GROWTH_KIB && growth.1 <= MAX_RSS_GROWTH_KIB,
        "resident memory grew {growth:?} KiB"
    );
    eprintln!(
        "flood: {JUNK} junk by HTTP from {JUNK_IP} (all 202 pending) and {JUNK} by gossip \
         ({gossip_got} received by A) in {:.1} s, capacity {CAPACITY}; the honest child \
         (to B mid-flood, parent to A after) accepted on both; {}; resident memory +{} / +{} MiB",
        flood_time.as_secs_f64(),
        figures.join("; "),
        growth.0 >> 10,
        growth.1 >> 10
    );
    rt.block_on(net.shutdown());
    let _ = rt.block_on(task);
    a.stop();
    b.stop();
}
