//! Clients that are slow, silent, or many at once.

use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use registry_core::testkit;

use crate::monitor::{summary, Honest, RssWatch, Tally};
use crate::raw::{connect, get_raw_target, parse_reply, post};
use crate::{assert_alive, target, SERIAL, TIMEOUT_SECS, TRUST_QUERY};

/// Slow and silent clients: connections that send their headers or their body a byte at
/// a time, and connections that send nothing. Each is closed by the node within its
/// deadline, while an honest client keeps being served.
#[test]
fn slow_clients_are_cut_off() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut t = target();
    let rss = RssWatch::start(t.node.pid());
    let honest = Honest::start(&t.node.base);
    let tally = Tally::default();
    const SLOW_HEADERS: usize = 80;
    const SLOW_BODIES: usize = 60;
    const SILENT: usize = 40;
    // A connection the node should close after about TIMEOUT_SECS must be closed by then.
    let bound = Duration::from_secs(TIMEOUT_SECS + 10);

    let mut handles = Vec::new();
    for i in 0..(SLOW_HEADERS + SLOW_BODIES + SILENT) {
        let a = t.addr.clone();
        let tally = tally.clone();
        handles.push(std::thread::spawn(move || -> Duration {
            let mut s = connect(&a);
            let started = Instant::now();
            let (head, drip): (Vec<u8>, &[u8]) = if i < SLOW_HEADERS {
                // Headers that never end, one byte at a time.
                (b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_vec(), b"a")
            } else if i < SLOW_HEADERS + SLOW_BODIES {
                // A body, one byte at a time.
                (
                    b"POST /v1/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
                        .to_vec(),
                    b" ",
                )
            } else {
                (Vec::new(), b"")
            };
            // Slow headers drip from their first byte; a slow body's headers go at once.
            let mut pending: Vec<u8> = head;
            if i >= SLOW_HEADERS && s.write_all(&std::mem::take(&mut pending)).is_err() {
                return started.elapsed();
            }
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let mut got = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                assert!(started.elapsed() < bound, "slow connection {i} still open after {bound:?}");
                if !drip.is_empty() {
                    let byte: Vec<u8> = if pending.is_empty() {
                        drip.to_vec()
                    } else {
                        vec![pending.remove(0)]
                    };
                    if s.write_all(&byte).is_err() {
                        break;
                    }
                }
                // Waiting for the node's answer paces the drip (one byte per 100 ms).
                match s.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => got.extend_from_slice(&chunk[..n]),
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(_) => break,
                }
            }
            let closed_after = started.elapsed();
            let r = parse_reply(&got);
            if r.status != 0 {
                tally.add(r.status);
                assert!(r.status == 408 && r.is_problem(), "slow connection {i}: {r:?}");
            }
            closed_after
        }));
    }
    let mut closed: Vec<Duration> = handles
        .into_iter()
        .map(|h| h.join().unwrap_or_else(|_| panic!("a slow client failed")))
        .collect();
    closed.sort();
    let slowest = closed[closed.len() - 1];
    let fastest = closed[0];
    // None was cut off before its deadline.
    assert!(
        fastest >= Duration::from_secs(TIMEOUT_SECS) - Duration::from_millis(200),
        "a slow connection was closed after only {fastest:?}"
    );
    // Every slow body was answered 408.
    let answered = tally.cases();
    assert_eq!(answered, SLOW_BODIES as u64, "408s: {}", tally.describe());

    // The node has let go of all of them: as many fresh connections are served at once.
    let fresh: Vec<_> = (0..(SLOW_HEADERS + SLOW_BODIES + SILENT))
        .map(|_| {
            let a = t.addr.clone();
            std::thread::spawn(move || get_raw_target(&a, "GET", b"/v1/status").status)
        })
        .collect();
    for h in fresh {
        let status = h.join().unwrap_or(0);
        tally.add(status);
        assert_eq!(status, 200);
    }
    let stats = honest.finish();
    let rss = rss.finish();
    assert_alive(&mut t);
    summary(
        "slow-clients",
        &tally,
        stats,
        rss,
        &format!(
            ", {SLOW_HEADERS} slow-header + {SLOW_BODIES} slow-body + {SILENT} silent \
             connections closed after {:.1}-{:.1} s (deadline {TIMEOUT_SECS} s)",
            fastest.as_secs_f64(),
            slowest.as_secs_f64()
        ),
    );
}

/// Hundreds of concurrent clients, with and without keep-alive, mixing questions,
/// submissions and bad requests.
#[test]
fn hundreds_of_concurrent_clients() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut t = target();
    let rss = RssWatch::start(t.node.pid());
    let honest = Honest::start(&t.node.base);
    let tally = Tally::default();
    const CLIENTS: usize = 300;
    const REQUESTS: usize = 40;
    let authority = serde_json::to_vec(&testkit::authority(&t._setup.fx)).unwrap();
    let authority = Arc::new(authority);
    let start = Arc::new(std::sync::Barrier::new(CLIENTS));
    let handles: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (a, base, tally, authority, start) = (
                t.addr.clone(),
                t.node.base.clone(),
                tally.clone(),
                authority.clone(),
                start.clone(),
            );
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(60)))
                    .build()
                    .into();
                start.wait();
                for r in 0..REQUESTS {
                    let pick = (c + r) % 5;
                    let status = if c.is_multiple_of(2) {
                        // Keep-alive: one connection for all this client's requests.
                        let resp = match pick {
                            0 => agent.get(format!("{base}{TRUST_QUERY}")).call(),
                            1 => agent.get(format!("{base}/v1/status")).call(),
                            2 => agent
                                .post(format!("{base}/v1/entries"))
                                .content_type("application/json")
                                .send(&authority[..]),
                            3 => agent
                                .post(format!("{base}/v1/entries"))
                                .content_type("application/json")
                                .send(&b"{\"not\":\"an entry\"}"[..]),
                            _ => agent.get(format!("{base}/v1/trust?entity_id=%zz")).call(),
                        };
                        resp.map(|mut r| {
                            let _ = r.body_mut().read_to_string();
                            r.status().as_u16()
                        })
                        .unwrap_or(0)
                    } else {
                        // A new connection per request.
                        match pick {
                            0 => get_raw_target(&a, "GET", TRUST_QUERY.as_bytes()).status,
                            1 => get_raw_target(&a, "GET", b"/v1/blocks?limit=5").status,
                            2 => {
                                post(&a, "/v1/entries", Some("application/json"), &authority).status
                            }
                            3 => {
                                post(&a, "/authorization", Some("application/json"), b"[[[[").status
                            }
                            _ => {
                                get_raw_target(&a, "GET", b"/v1/subjects/did:web:uni.example")
                                    .status
                            }
                        }
                    };
                    tally.add(status);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap_or_else(|_| panic!("a client failed"));
    }
    let seen = tally.0.lock().map(|m| m.clone()).unwrap_or_default();
    assert!(
        !seen.contains_key(&0),
        "requests without an answer: {seen:?}"
    );
    assert_eq!(tally.cases(), (CLIENTS * REQUESTS) as u64);
    let stats = honest.finish();
    let rss = rss.finish();
    assert_alive(&mut t);
    summary(
        "concurrent",
        &tally,
        stats,
        rss,
        &format!(", {CLIENTS} clients x {REQUESTS} requests, half keep-alive"),
    );
}
