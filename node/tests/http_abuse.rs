//! Abuse of a real node's HTTP API: oversized, lying and deeply nested bodies, malformed
//! JSON and content types, malformed queries and paths, slow clients, and hundreds of
//! concurrent clients. Throughout, an honest client keeps asking trust and status
//! questions: every one must succeed within a bounded latency, no answer may be a 5xx,
//! the node's memory must stay bounded, and slow or silent connections must be closed.
//!
//! Each test prints one summary line (cases, statuses seen, honest requests ok/total,
//! p99 and max latency, resident memory growth).
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

mod common;

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{setup, Node, Setup};
use registry_core::testkit::{self, key};
use registry_core::EntityId;

/// Body limit of the test node (the default).
const MAX_BODY: usize = 262_144;
/// Header and body deadlines of the test node, in seconds.
const TIMEOUT_SECS: u64 = 2;
/// Bound on an honest request's p99 latency while the node is being abused.
const HONEST_P99: Duration = Duration::from_millis(1000);
/// Bound on an honest request's worst latency.
const HONEST_MAX: Duration = Duration::from_millis(3000);
/// Bound on the node's resident memory growth during one test.
const RSS_GROWTH_BOUND_KIB: u64 = 256 * 1024;

const UNI: &str = "did:web:uni.example";
const TRUST_QUERY: &str =
    "/v1/trust?entity_id=did:web:uni.example&action=issue&resource=UniversityDegree";

/// The tests share one machine's CPU; they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// A node with short header and body deadlines and one accreditation to ask about.
struct Target {
    _setup: Setup,
    node: Node,
    addr: String,
}

fn target() -> Target {
    let s = setup();
    let config = format!(
        "[api]\nheader_read_timeout_secs = {TIMEOUT_SECS}\nbody_read_timeout_secs = {TIMEOUT_SECS}\n"
    );
    std::fs::write(s.dir.join("config.toml"), config).unwrap();
    let node = Node::run(&s.dir);
    let authority = testkit::authority(&s.fx);
    let uni = EntityId::parse(UNI).unwrap();
    let acc =
        s.fx.accredit(&uni)
            .grant("issue", "UniversityDegree")
            .controller(key(20).did())
            .issued_at(1_700_000_000)
            .by_holder(authority.id(), &[&key(testkit::AUTHORITY_KEY_SEED)]);
    for e in [&authority, &acc] {
        let r = node.post("/v1/entries", e);
        assert_eq!(r.status, 202, "{r:?}");
    }
    let r = node.get(TRUST_QUERY);
    assert_eq!(r.json()["authorized"], true, "{r:?}");
    let addr = node
        .base
        .strip_prefix("http://")
        .unwrap_or(&node.base)
        .to_string();
    Target {
        _setup: s,
        node,
        addr,
    }
}

// ---------------------------------------------------------------------------------------
// Raw HTTP/1.1 over TCP, so requests can be as malformed as a hostile client makes them.

/// What came back on a raw connection: status 0 when the connection closed without an
/// answer.
#[derive(Debug, Clone)]
struct Raw {
    status: u16,
    content_type: String,
    body: String,
}

impl Raw {
    fn is_problem(&self) -> bool {
        self.content_type == "application/problem+json"
            && serde_json::from_str::<serde_json::Value>(&self.body)
                .is_ok_and(|p| p["status"] == self.status)
    }
}

fn parse_reply(bytes: &[u8]) -> Raw {
    let text = String::from_utf8_lossy(bytes);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return Raw {
            status: 0,
            content_type: String::new(),
            body: text.into_owned(),
        };
    };
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut content_type = String::new();
    let mut chunked = false;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if name == "content-type" {
                content_type = value.to_string();
            }
            if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Raw {
        status,
        content_type,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s
}

/// Reads until the server closes the connection (or resets it).
fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    buf
}

/// Sends `head` then `body` (from another thread, so a server that answers early and
/// stops reading cannot block us) and reads the answer.
fn exchange(addr: &str, head: &[u8], body: Vec<u8>) -> Raw {
    let mut s = connect(addr);
    let _ = s.write_all(head);
    let writer = s.try_clone().map(|mut w| {
        std::thread::spawn(move || {
            let _ = w.write_all(&body);
        })
    });
    let reply = parse_reply(&read_to_close(&mut s));
    let _ = s.shutdown(Shutdown::Both);
    if let Ok(w) = writer {
        let _ = w.join();
    }
    reply
}

/// A POST with a Content-Length that matches the body.
fn post(addr: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> Raw {
    let ct = content_type
        .map(|c| format!("Content-Type: {c}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\n{ct}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    exchange(addr, head.as_bytes(), body.to_vec())
}

/// A request whose target is raw bytes (possibly not UTF-8).
fn get_raw_target(addr: &str, method: &str, target: &[u8]) -> Raw {
    let mut head = format!("{method} ").into_bytes();
    head.extend_from_slice(target);
    head.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    exchange(addr, &head, Vec::new())
}

// ---------------------------------------------------------------------------------------
// The honest client, the memory sampler, and the tally of answers.

/// Asks trust and status questions in a loop until stopped, timing each.
struct Honest {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(Vec<Duration>, Vec<String>)>,
}

impl Honest {
    fn start(base: &str) -> Honest {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let base = base.to_string();
        let handle = std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(10)))
                .build()
                .into();
            let mut latencies = Vec::new();
            let mut failures = Vec::new();
            let mut i = 0u64;
            while !flag.load(Ordering::Relaxed) || latencies.is_empty() {
                i += 1;
                let path = if i.is_multiple_of(2) {
                    TRUST_QUERY
                } else {
                    "/v1/status"
                };
                let started = Instant::now();
                let outcome = agent
                    .get(format!("{base}{path}"))
                    .call()
                    .map_err(|e| e.to_string())
                    .and_then(|mut r| {
                        let status = r.status().as_u16();
                        let text = r.body_mut().read_to_string().map_err(|e| e.to_string())?;
                        Ok((status, text))
                    });
                latencies.push(started.elapsed());
                match outcome {
                    Ok((200, text))
                        if path == "/v1/status" || text.contains("\"authorized\":true") => {}
                    Ok((status, text)) => failures.push(format!("{path}: {status} {text}")),
                    Err(e) => failures.push(format!("{path}: {e}")),
                }
                // An honest client asks about fifty questions a second.
                std::thread::sleep(Duration::from_millis(20));
            }
            (latencies, failures)
        });
        Honest { stop, handle }
    }

    /// Stops the client; asserts every answer was right and p99/max latency bounded.
    fn finish(self) -> HonestStats {
        self.stop.store(true, Ordering::Relaxed);
        let (mut lat, failures) = self
            .handle
            .join()
            .unwrap_or_else(|_| panic!("honest client panicked"));
        lat.sort();
        let total = lat.len();
        let p99 = lat[(total * 99).div_ceil(100).saturating_sub(1)];
        let max = lat[total - 1];
        assert!(failures.is_empty(), "honest requests failed: {failures:?}");
        assert!(p99 < HONEST_P99, "honest p99 {p99:?} over {HONEST_P99:?}");
        assert!(max < HONEST_MAX, "honest max {max:?} over {HONEST_MAX:?}");
        HonestStats {
            ok: total - failures.len(),
            total,
            p99,
            max,
        }
    }
}

struct HonestStats {
    ok: usize,
    total: usize,
    p99: Duration,
    max: Duration,
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Samples the node's resident memory every 50 ms, keeping the peak.
struct RssWatch {
    start: u64,
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
    pid: u32,
}

impl RssWatch {
    fn start(pid: u32) -> RssWatch {
        let start = rss_kib(pid);
        let peak = Arc::new(AtomicU64::new(start));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_kib(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        RssWatch {
            start,
            peak,
            stop,
            handle,
            pid,
        }
    }

    /// (start, peak, end) in KiB; asserts the peak growth is bounded.
    fn finish(self) -> (u64, u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.handle.join();
        let end = rss_kib(self.pid);
        let peak = self.peak.load(Ordering::Relaxed).max(end);
        assert!(self.start > 0, "cannot read the node's VmRSS");
        assert!(
            peak - self.start < RSS_GROWTH_BOUND_KIB,
            "resident memory grew from {} KiB to {peak} KiB",
            self.start
        );
        (self.start, peak, end)
    }
}

/// Statuses seen, by code.
#[derive(Default, Clone)]
struct Tally(Arc<Mutex<BTreeMap<u16, u64>>>);

impl Tally {
    fn add(&self, status: u16) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(status).or_default() += 1;
        }
    }

    fn cases(&self) -> u64 {
        self.0.lock().map(|m| m.values().sum()).unwrap_or(0)
    }

    fn describe(&self) -> String {
        self.0
            .lock()
            .map(|m| {
                m.iter()
                    .map(|(s, n)| format!("{s}x{n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    }

    fn assert_no_5xx(&self) {
        let m = self.0.lock().map(|m| m.clone()).unwrap_or_default();
        assert!(m.keys().all(|s| *s < 500), "a 5xx answer was seen: {m:?}");
    }
}

/// Everything an abuse test reports at its end.
fn summary(name: &str, tally: &Tally, honest: HonestStats, rss: (u64, u64, u64), extra: &str) {
    tally.assert_no_5xx();
    let (start, peak, end) = rss;
    // Written to the stderr handle rather than with eprintln!, so the line shows even
    // when the test harness captures output.
    let _ = writeln!(
        std::io::stderr(),
        "http-abuse {name}: {} cases, statuses {{{}}}, honest {}/{} ok, p99 {} ms, max {} ms, \
         RSS {} MiB -> peak {} MiB (+{} MiB), end {} MiB{extra}",
        tally.cases(),
        tally.describe(),
        honest.ok,
        honest.total,
        honest.p99.as_millis(),
        honest.max.as_millis(),
        start / 1024,
        peak / 1024,
        (peak - start) / 1024,
        end / 1024,
    );
}

/// Asserts the node is still running and logged no panic.
fn assert_alive(t: &mut Target) {
    assert!(t.node.is_running(), "node died: {}", t.node.logs());
    let logs = t.node.logs();
    assert!(!logs.contains("panicked"), "node panicked: {logs}");
    assert_eq!(t.node.get("/v1/status").status, 200);
}

// ---------------------------------------------------------------------------------------

/// The public API's routes that take a body. (The admin routes are served on the admin
/// listener only; `tests/admin.rs` abuses them there.)
const BODY_ROUTES: [&str; 3] = ["/v1/entries", "/authorization", "/recognition"];

/// Bodies over the limit, lying or missing lengths, chunked bodies, deeply nested and
/// malformed JSON, and wrong content types, on every route that takes a body.
#[test]
fn bodies_oversized_nested_malformed() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut t = target();
    let rss = RssWatch::start(t.node.pid());
    let honest = Honest::start(&t.node.base);
    let tally = Tally::default();
    let a = t.addr.clone();
    let json = Some("application/json");
    let check = |what: &str, r: &Raw, allowed: &[u16]| {
        tally.add(r.status);
        assert!(
            allowed.contains(&r.status) && r.is_problem(),
            "{what}: expected a problem with status in {allowed:?}, got {r:?}"
        );
    };

    for route in BODY_ROUTES {
        // Over the limit with an honest length, sent in full.
        let big = vec![b'['; MAX_BODY + 1];
        check("oversized", &post(&a, route, json, &big), &[413]);
        // Twice the limit from a client that writes its whole body before reading: it
        // gets its 413 (the node reads and discards the rest), not a reset connection.
        let r = t.node.post_raw(route, json, &vec![b' '; 2 * MAX_BODY]);
        tally.add(r.status);
        assert_eq!(r.problem(413), "body_too_large");
        // Far over: 64 MiB, of which the node must read at most its limit.
        let head = format!(
            "POST {route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            64 << 20
        );
        let r = exchange(&a, head.as_bytes(), vec![b' '; 4 << 20]);
        check("64 MiB body", &r, &[413]);
        // A lying Content-Length: claims a terabyte, sends nothing.
        let head = format!(
            "POST {route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 1000000000000\r\nConnection: close\r\n\r\n"
        );
        check(
            "terabyte claimed",
            &exchange(&a, head.as_bytes(), Vec::new()),
            &[413],
        );
        // Chunked, with no length at all, growing past the limit.
        let head = format!(
            "POST {route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        let mut body = Vec::new();
        for _ in 0..(2 * MAX_BODY / 16_384) {
            body.extend_from_slice(format!("{:x}\r\n", 16_384).as_bytes());
            body.extend_from_slice(&[b' '; 16_384]);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"0\r\n\r\n");
        check(
            "chunked oversized",
            &exchange(&a, head.as_bytes(), body),
            &[413],
        );
        // Chunked and small: read like any other body.
        let r = exchange(
            &a,
            head.as_bytes(),
            b"5\r\n{\"a\":\r\n1\r\n}\r\n0\r\n\r\n".to_vec(),
        );
        check("chunked small", &r, &[400, 422]);
        // A Content-Length that claims more than is sent: the node waits for its body
        // deadline, answers 408 and closes.
        let head = format!(
            "POST {route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 5000\r\nConnection: close\r\n\r\n"
        );
        let started = Instant::now();
        check(
            "short body",
            &exchange(&a, head.as_bytes(), b"{\"a\":1".to_vec()),
            &[408],
        );
        assert!(started.elapsed() < Duration::from_secs(TIMEOUT_SECS + 8));
        // A Content-Length smaller than the body: the node reads what was declared.
        let head = format!(
            "POST {route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 3\r\nConnection: close\r\n\r\n"
        );
        let r = exchange(&a, head.as_bytes(), b"{\"a\": 1, \"b\": 2}".to_vec());
        check("long body", &r, &[400, 422]);
        // No Content-Length and not chunked: an empty body.
        let head = format!(
            "POST {route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Connection: close\r\n\r\n"
        );
        check(
            "no length",
            &exchange(&a, head.as_bytes(), Vec::new()),
            &[400, 422],
        );

        // Deeply nested JSON, in several shapes, all within the size limit.
        let depth = 100_000;
        let nested: Vec<(&str, Vec<u8>)> = vec![
            ("[[[", "[".repeat(depth).into_bytes()),
            ("{{{", "{\"a\":".repeat(depth / 5).into_bytes()),
            (
                "closed [[[]]]",
                format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes(),
            ),
            (
                "nested in a field",
                format!("{{\"kind\":{}", "[{\"x\":".repeat(depth / 8)).into_bytes(),
            ),
            ("[{[{", "[{\"a\":".repeat(depth / 6).into_bytes()),
        ];
        for (shape, body) in &nested {
            assert!(body.len() <= MAX_BODY);
            check(
                &format!("nested {shape}"),
                &post(&a, route, json, body),
                &[400, 422],
            );
        }

        // Malformed JSON of many shapes.
        let mut malformed: Vec<Vec<u8>> = [
            "",
            " ",
            "null",
            "true",
            "1",
            "-0",
            "1e999999",
            "\"text\"",
            "[]",
            "{}",
            "{",
            "}",
            "[",
            "]",
            "{\"a\":}",
            "{\"a\" 1}",
            "{a:1}",
            "{'a':1}",
            "{\"a\":1,}",
            "[1,]",
            "{\"a\":1}{\"b\":2}",
            "{\"a\":1} trailing",
            "NaN",
            "Infinity",
            "{\"a\":NaN}",
            "\"\\ud800\"",
            "\"\\u00\"",
            "{\"a\":\"\\x41\"}",
            "{\"a\":1,\"a\":2}",
            "{\"\":0}",
            "[\"a\",\"b\"",
            "{\"a\":[1,2,}",
            "{\"id\":123,\"kind\":[],\"signatures\":{}}",
            "{\"type\":\"authorization\",\"entity_id\":1,\"authority_id\":null}",
            "{\"entity_id\":\"\",\"authority_id\":\"\",\"action\":\"\",\"resource\":\"\"}",
            "{\"entity_id\":\"did:web:x\",\"authority_id\":\"did:web:y\",\"action\":\"a\",\
             \"resource\":\"r\",\"context\":{\"time\":\"tomorrow\"}}",
            "{\"peer_id\":\"not a peer id\"}",
            "{\"peer_id\":12}",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        malformed.push(vec![0xff, 0xfe, b'{', 0, b'}', 0]);
        malformed.push(b"\xef\xbb\xbf{\"a\":1}".to_vec());
        malformed.push(b"{\"a\":\"\xc3\x28\"}".to_vec());
        malformed.push(vec![0u8; 1000]);
        malformed.push(format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_BODY - 100)).into_bytes());
        malformed.push(format!("[{}1]", "1,".repeat(MAX_BODY / 3)).into_bytes());
        malformed.push(format!("{{\"n\":{}}}", "9".repeat(100_000)).into_bytes());
        for body in &malformed {
            let r = post(&a, route, json, body);
            let what = format!(
                "malformed {:?}",
                String::from_utf8_lossy(&body[..body.len().min(60)])
            );
            check(&what, &r, &[400, 403, 404, 413, 415, 422]);
        }

        // Wrong content types.
        let body = b"{\"a\":1}";
        for ct in [
            None,
            Some("text/plain"),
            Some("application/xml"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonx"),
            Some("json"),
            Some(""),
            Some("application/json; charset=utf-16"),
            Some("application/json-seq"),
            Some("text/json"),
        ] {
            let r = post(&a, route, ct, body);
            check(&format!("content type {ct:?}"), &r, &[400, 403, 415, 422]);
        }
        // Control bytes in the header: refused by the HTTP parser, before routing.
        for ct in ["application/json; charset=\u{7f}", "\u{1}\u{2}"] {
            let r = post(&a, route, Some(ct), body);
            tally.add(r.status);
            assert_eq!((r.status, r.body.as_str()), (400, ""), "{ct:?}: {r:?}");
        }
    }
    let stats = honest.finish();
    let rss = rss.finish();
    assert_alive(&mut t);
    summary("bodies", &tally, stats, rss, "");
}

/// Malformed queries and paths: bad DIDs, bad percent-encoding, invalid UTF-8, huge query
/// strings, unknown parameters, bad times and heights, odd methods.
#[test]
fn queries_and_paths_malformed() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut t = target();
    let rss = RssWatch::start(t.node.pid());
    let honest = Honest::start(&t.node.base);
    let tally = Tally::default();
    let a = t.addr.clone();
    let mut hyper_level = 0u64;

    let q = |extra: &str| format!("/v1/trust?action=issue&resource=UniversityDegree{extra}");
    let mut targets: Vec<Vec<u8>> = Vec::new();
    let mut add = |s: String| targets.push(s.into_bytes());
    for did in [
        "",
        "x",
        "did:",
        "did:key:",
        "did:key:zzz",
        "did:key:z6Mk",
        "did:web:",
        "did::::",
        "did:key:z0OIl",
        "%00",
        "did%3Aweb%3Auni.example",
        "did:web:uni.example%00",
        "did:web:%2e%2e%2f%2e%2e",
        "%F0%9F%92%A9",
    ] {
        add(q(&format!("&entity_id={did}")));
        add(format!(
            "/v1/subjects/{}",
            if did.is_empty() { "%20" } else { did }
        ));
        add(format!("/v1/trust?entity_id={did}"));
    }
    add(q(&format!("&entity_id=did:web:{}", "a".repeat(10_000))));
    add(format!("/v1/subjects/did:web:{}", "a".repeat(10_000)));
    for bad in [
        "%",
        "%z",
        "%zz",
        "%%",
        "%C3%28",
        "%FF",
        "%ED%A0%80",
        "%C0%AF",
        "%00%00",
    ] {
        add(q(&format!("&entity_id={bad}")));
        add(format!("/v1/subjects/{bad}"));
        add(format!("/v1/entries/{bad}"));
        add(format!("/v1/blocks/{bad}"));
        add(format!("/v1/entries?after={bad}&limit={bad}"));
    }
    for time in [
        "tomorrow",
        "2026-13-45T00:00:00Z",
        "2026-01-01T00:00:00+01:00",
        "2026-01-01",
        "99999-01-01T00:00:00Z",
        "-0001-01-01T00:00:00Z",
        "1e9",
        "-1",
        "",
        "%00",
        "2026-01-01T25:61:61Z",
        "0000-00-00T00:00:00Z",
    ] {
        add(q(&format!("&entity_id={UNI}&at={time}")));
    }
    for kind in ["bogus", "", "%00", "Authorization", "recognition%20"] {
        add(q(&format!("&entity_id={UNI}&kind={kind}")));
    }
    for extra in [
        "&entity_id=a&entity_id=b",
        "&entity_id=did:web:uni.example&unknown=1",
        "&entity_id=did:web:uni.example&&&&==&=",
        "&entity_id[]=x",
        "&entity_id=did:web:uni.example&action=again",
        "&entity_id=did:web:uni.example#fragment",
    ] {
        add(q(extra));
    }
    for (len, count) in [(1_000, 1), (8_000, 8), (60_000, 60), (200_000, 1)] {
        add(q(&format!("&entity_id={}", "a".repeat(len))));
        let params: String = (0..count)
            .map(|i| format!("&p{i}={}", "b".repeat(1000)))
            .collect();
        add(q(&format!("&entity_id={UNI}{params}")));
    }
    for path in [
        "/v1/entries/xyz",
        "/v1/entries/00",
        &format!("/v1/entries/{}", "f".repeat(65)),
        &format!("/v1/entries/{}", "0".repeat(64)),
        "/v1/blocks/-1",
        "/v1/blocks/99999999999999999999999",
        "/v1/blocks/1.5",
        "/v1/blocks/0x10",
        "/v1/blocks?limit=-1",
        "/v1/blocks?limit=99999999999999999999",
        "/v1/blocks?from=x",
        "/v1/entries?limit=0",
        "/v1/entries?limit=1000000",
        "/v1/entries?after=zz",
        "/v1/entries?status=what",
        "/v1/peers?x=1",
        "/metrics?x=%zz",
        "/v1/status?x",
        "/v1/../v1/status",
        "/v1//status",
        "//v1/status",
        "/v1/status/",
        "/v1/./status",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/v1/status%00",
        "/v1/entries/%2F%2F",
        "*",
        "/v1/subjects/",
        "/v1/subjects//",
        "/v1/trust/extra",
        "/authorization?x=1",
        "http://other.example/v1/status",
        "/v1/status?%",
        "/?",
    ] {
        add(path.to_string());
    }
    add(format!("/{}", "x/".repeat(20_000)));
    let mut raw_targets: Vec<Vec<u8>> = vec![
        b"/v1/subjects/\xff\xfe".to_vec(),
        b"/v1/trust?entity_id=\xc3\x28&action=a&resource=r".to_vec(),
        b"/v1/status\x00".to_vec(),
        b"/v1/status\x7f".to_vec(),
        b"/v1/st atus".to_vec(),
        b"".to_vec(),
        b"v1/status".to_vec(),
    ];
    targets.append(&mut raw_targets);

    let methods = [
        "GET", "HEAD", "OPTIONS", "DELETE", "PUT", "PATCH", "TRACE", "CONNECT", "BREW",
    ];
    // Ten rounds, so the honest client asks its questions throughout.
    let rounds = targets.len() * 10;
    for (i, target) in targets.iter().cycle().take(rounds).enumerate() {
        let method = if i % 7 == 3 {
            methods[i % methods.len()]
        } else {
            "GET"
        };
        let r = get_raw_target(&a, method, target);
        tally.add(r.status);
        let shown = String::from_utf8_lossy(&target[..target.len().min(80)]).into_owned();
        assert!(r.status != 0, "{method} {shown}: no answer");
        assert!(r.status < 500, "{method} {shown}: {r:?}");
        if r.status >= 400 && method != "HEAD" {
            if r.is_problem() {
                continue;
            }
            // Requests hyper refuses before routing (unparsable request line, URI or
            // headers too long) get its bare 400/414/431 and a closed connection.
            assert!(
                [400, 414, 431].contains(&r.status) && r.body.is_empty(),
                "{method} {shown}: not a problem document: {r:?}"
            );
            hyper_level += 1;
        }
    }
    // The questions above that name the real entity and a valid time still answer.
    let r = get_raw_target(
        &a,
        "GET",
        format!("{TRUST_QUERY}&at=2026-01-01T00:00:00Z").as_bytes(),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let stats = honest.finish();
    let rss = rss.finish();
    assert_alive(&mut t);
    summary(
        "queries",
        &tally,
        stats,
        rss,
        &format!(", {hyper_level} refused by the HTTP parser before routing"),
    );
}

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
