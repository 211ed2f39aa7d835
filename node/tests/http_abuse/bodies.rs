//! Bodies: oversized, lying about their length, chunked, nested, malformed, mistyped.

use std::time::{Duration, Instant};

use crate::monitor::{summary, Honest, RssWatch, Tally};
use crate::raw::{exchange, post, Raw};
use crate::{assert_alive, target, MAX_BODY, SERIAL, TIMEOUT_SECS};

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
