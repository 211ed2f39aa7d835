//! Queries and paths: malformed, oversized, with odd methods.

use crate::monitor::{summary, Honest, RssWatch, Tally};
use crate::raw::get_raw_target;
use crate::{assert_alive, target, SERIAL, TRUST_QUERY, UNI};

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
