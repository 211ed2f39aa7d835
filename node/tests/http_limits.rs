//! The connection-level limits of a real node's HTTP server:
//!
//! - the write deadline (`api.write_timeout_secs`): a client that sends requests for
//!   large answers and never reads them loses its connection, so its slot serves another
//!   client, and a node without the deadline (the negative control: one of an hour)
//!   keeps it;
//! - request heads hyper refuses before any router runs, pinned as they are: over the
//!   node's own limits (target 8 KiB, headers 100 or 16 KiB) a problem+json 414 or 431;
//!   over hyper's (a 64 KiB head, 256 headers) or unparsable, hyper's bare 431 or 400.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{setup, Node, Setup};

/// Write deadline of the test node, in seconds.
const WRITE_TIMEOUT_SECS: u64 = 2;

/// A node with one connection slot and short deadlines.
fn one_slot_node(write_timeout_secs: u64) -> (Setup, Node, String) {
    let s = setup();
    let config = format!(
        "[api]\nmax_connections = 1\nheader_read_timeout_secs = 2\n\
         write_timeout_secs = {write_timeout_secs}\n"
    );
    std::fs::write(s.dir.join("config.toml"), config).unwrap();
    let node = Node::run(&s.dir);
    let addr = node.base.trim_start_matches("http://").to_string();
    (s, node, addr)
}

/// Sends `GET /v1/status` on a new connection and waits up to `limit` for the answer's
/// status line; `None` when none came.
fn status_within(addr: &str, limit: Duration) -> Option<(u16, Duration)> {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(limit)).ok()?;
    s.write_all(b"GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut buf = [0u8; 32];
    let n = s.read(&mut buf).ok()?;
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    let status = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, started.elapsed()))
}

/// A connection that asks for many `/metrics` pages (pipelined, from a thread) and never
/// reads them. Returns once the node has started answering on it (the first answer's
/// bytes are waiting, unread, in the socket).
fn stalled_reader(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    let mut w = s.try_clone().unwrap();
    std::thread::spawn(move || {
        let request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
        for _ in 0..20_000 {
            if w.write_all(request).is_err() {
                break;
            }
        }
    });
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut first = [0u8; 1];
    let peeked = s.peek(&mut first);
    assert!(
        matches!(peeked, Ok(1)),
        "the node never answered: {peeked:?}"
    );
    s
}

/// Waits (with a deadline) until a fresh client is served, so the harness's own
/// keep-alive connection no longer holds the one slot.
fn wait_for_free_slot(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while status_within(addr, Duration::from_secs(1)).is_none() {
        assert!(Instant::now() < deadline, "the node's slot never freed");
    }
}

#[test]
fn a_client_that_never_reads_loses_its_connection_to_the_write_deadline() {
    let (_s, mut node, addr) = one_slot_node(WRITE_TIMEOUT_SECS);
    let one_page = node.get("/metrics").text.len();
    wait_for_free_slot(&addr);
    let mut stalled = stalled_reader(&addr);
    let started = Instant::now();
    // The only slot is held by a connection whose answers nobody reads; another client
    // is served once the write deadline closes it.
    let served = status_within(&addr, Duration::from_secs(30));
    let (status, waited) = served.unwrap_or_else(|| panic!("never served: {}", node.logs()));
    assert_eq!(status, 200);
    assert!(
        waited >= Duration::from_secs(WRITE_TIMEOUT_SECS - 1),
        "served after {waited:?}: the stalled connection did not hold the slot"
    );
    assert!(
        waited < Duration::from_secs(WRITE_TIMEOUT_SECS + 10),
        "{waited:?}"
    );
    // The stalled connection was closed: what the node had written drains, then ends.
    let mut drained = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    let end = loop {
        match stalled.read(&mut buf) {
            Ok(0) => break "closed",
            Ok(n) => drained += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break "still open"
            }
            Err(_) => break "reset",
        }
    };
    assert_ne!(end, "still open", "after {drained} bytes");
    assert!(node.is_running());
    eprintln!(
        "write deadline {WRITE_TIMEOUT_SECS} s: slot freed after {} ms; the stalled client \
         had {} bytes unread ({} /metrics pages of {one_page} bytes), {:?} after the stall began",
        waited.as_millis(),
        drained,
        drained / one_page.max(1),
        started.elapsed(),
    );
}

/// The negative control: with a deadline of an hour, the stalled connection keeps the
/// slot, and the other client is not served.
#[test]
fn without_a_short_write_deadline_the_stalled_client_keeps_the_slot() {
    let (_s, node, addr) = one_slot_node(3600);
    wait_for_free_slot(&addr);
    let _stalled = stalled_reader(&addr);
    let limit = Duration::from_secs(3 * WRITE_TIMEOUT_SECS + 2);
    assert_eq!(status_within(&addr, limit), None, "{}", node.logs());
}

/// Sends `head` raw on a fresh connection and reads the answer to the close:
/// (status, content type, body).
fn raw(addr: &str, head: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = s.write_all(head);
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    (status, content_type, body.to_string())
}

fn get_with(target: &str, headers: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n").into_bytes()
}

#[test]
fn oversized_and_malformed_heads_get_problems_where_the_router_runs_else_bare_errors() {
    let s = setup();
    let node = Node::run(&s.dir);
    let addr = node.base.trim_start_matches("http://").to_string();
    let problem = |(status, ct, body): (u16, String, String), want: u16, code: &str| {
        assert_eq!(
            (status, ct.as_str()),
            (want, "application/problem+json"),
            "{body}"
        );
        let p: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(p["status"], want, "{body}");
        assert_eq!(
            p["type"].as_str(),
            Some(format!("urn:trust-registry:problem:{code}").as_str()),
            "{body}"
        );
    };
    let bare = |(status, ct, body): (u16, String, String), want: u16, what: &str| {
        assert_eq!(
            (status, ct.as_str(), body.as_str()),
            (want, "", ""),
            "{what}"
        );
    };
    let long_target = |n: usize| format!("/v1/subjects/{}", "a".repeat(n));
    let many = |n: usize, size: usize| -> String {
        (0..n)
            .map(|i| format!("X-H{i}: {}\r\n", "v".repeat(size)))
            .collect()
    };

    // Under the node's limits: answered normally.
    let (status, _, _) = raw(&addr, &get_with(&long_target(4000), ""));
    assert_eq!(status, 200);
    let (status, _, _) = raw(&addr, &get_with("/v1/status", &many(90, 100)));
    assert_eq!(status, 200);
    // Over the node's limits, within hyper's: problems.
    problem(
        raw(&addr, &get_with(&long_target(9000), "")),
        414,
        "uri_too_long",
    );
    problem(
        raw(&addr, &get_with(&long_target(60_000), "")),
        414,
        "uri_too_long",
    );
    problem(
        raw(&addr, &get_with("/v1/status", &many(150, 10))),
        431,
        "headers_too_large",
    );
    problem(
        raw(&addr, &get_with("/v1/status", &many(30, 1000))),
        431,
        "headers_too_large",
    );
    // Over hyper's: its bare answers, before any router runs.
    bare(
        raw(&addr, &get_with(&long_target(70_000), "")),
        431,
        "a 70 KB target",
    );
    bare(
        raw(&addr, &get_with("/v1/status", &many(300, 10))),
        431,
        "300 headers",
    );
    bare(
        raw(&addr, &get_with("/v1/status", &many(1, 70_000))),
        431,
        "a 70 KB header",
    );
    bare(
        raw(&addr, b"NOT A REQUEST\r\n\r\n"),
        400,
        "a bad request line",
    );
    bare(
        raw(&addr, b"GET /v1/status HTTP/1.1\r\nno colon here\r\n\r\n"),
        400,
        "a bad header",
    );
    bare(
        raw(&addr, b"GET /v1/st\x01tus HTTP/1.1\r\nHost: x\r\n\r\n"),
        400,
        "a control byte",
    );
    assert!(node.get("/v1/status").status == 200);
}
