//! The admin listener against a real node: the deny-list's admin routes are served on a
//! 0600 Unix socket in the data directory (or a loopback TCP address with a bearer
//! token), never on the public API, whoever the public API's client is: a reverse proxy
//! on the node's machine (so the node sees a loopback peer) and a direct loopback client
//! both get 404. Through the socket, deny and allow take effect (visible in the public
//! `GET /v1/peers`), with the public API's protections (body limit, header deadline,
//! problem+json).
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use common::{free_port, run_cli, setup, Node, Reply};
use registry_cli::AdminClient;
use serde_json::json;

const ADMIN_ROUTES: [&str; 2] = ["/v1/admin/peers/deny", "/v1/admin/peers/allow"];

/// A peer id no node in the test has.
fn some_peer_id(seed: u8) -> String {
    p2p::keypair_from_seed([seed; 32])
        .map(|k| k.public().to_peer_id().to_string())
        .unwrap()
}

/// A reverse proxy on loopback, as an operator puts nginx or Caddy in front of the API
/// for TLS: every connection it accepts is forwarded, bytes unchanged, to `upstream`.
/// Returns its address.
fn loopback_proxy(upstream: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let pipe = |mut from: TcpStream, mut to: TcpStream| {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(Shutdown::Write);
                });
            };
            if let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) {
                pipe(client, s2);
                pipe(server, c2);
            }
        }
    });
    addr
}

/// One raw HTTP/1.1 request on a fresh TCP connection; the answer read to the close.
fn raw_request(addr: &str, method: &str, path: &str, extra: &str, body: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: registry.example\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse(&raw)
}

fn parse(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    Reply {
        status,
        content_type,
        text: body.to_string(),
    }
}

fn api_addr(node: &Node) -> String {
    node.base.trim_start_matches("http://").to_string()
}

fn denied(node: &Node) -> serde_json::Value {
    node.get("/v1/peers").json()["denied"].clone()
}

#[test]
fn admin_routes_answer_on_the_socket_only_never_on_the_public_api() {
    let s = setup();
    std::fs::write(
        s.dir.join("config.toml"),
        "[api]\nheader_read_timeout_secs = 2\n",
    )
    .unwrap();
    let node = Node::run(&s.dir);
    let proxy = loopback_proxy(api_addr(&node));
    let direct = api_addr(&node);
    let victim = some_peer_id(7);
    let body = serde_json::to_vec(&json!({ "peer_id": victim })).unwrap_or_default();

    // The proxy does forward: a public route answers through it.
    let r = raw_request(&proxy, "GET", "/v1/status", "", b"");
    assert_eq!(r.status, 200, "{r:?}");
    // Neither the proxy nor a direct loopback client reaches an admin route, whatever the
    // method or a forwarding header says.
    let paths = ADMIN_ROUTES
        .iter()
        .copied()
        .chain(["/v1/admin", "/v1/admin/peers"]);
    for path in paths {
        for via in [&proxy, &direct] {
            for method in ["POST", "GET", "PUT"] {
                for extra in ["", "X-Forwarded-For: 127.0.0.1\r\nX-Real-IP: 127.0.0.1\r\n"] {
                    let r = raw_request(via, method, path, extra, &body);
                    assert_eq!(r.problem(404), "not_found", "{method} {path} via {via}");
                }
            }
        }
    }
    assert_eq!(
        denied(&node),
        json!([]),
        "a refused request changed the deny-list"
    );

    // The socket: private to the node's user, and it serves the admin routes.
    let socket = node.admin_socket();
    let meta = std::fs::metadata(&socket).unwrap();
    assert!(meta.file_type().is_socket(), "{meta:?}");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(
        node.logs().contains(&socket.display().to_string()),
        "the log does not say where the admin socket is: {}",
        node.logs()
    );
    let r = node.admin_post("/v1/admin/peers/deny", &json!({ "peer_id": victim }));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["changed"], true, "{r:?}");
    assert_eq!(
        denied(&node),
        json!([{ "peer_id": victim, "source": "operator" }])
    );
    let again = node.admin_post("/v1/admin/peers/deny", &json!({ "peer_id": victim }));
    assert_eq!(again.json()["changed"], false, "{again:?}");
    let r = node.admin_post("/v1/admin/peers/allow", &json!({ "peer_id": victim }));
    assert_eq!(r.json()["changed"], true, "{r:?}");
    assert_eq!(denied(&node), json!([]));

    // The socket has the public API's protections: problems for bad input and unknown
    // routes, the body limit, and the header deadline.
    let r = node.admin_post("/v1/admin/peers/deny", &json!({ "peer_id": "nope" }));
    assert_eq!(r.problem(400), "invalid_peer_id");
    let r = node.admin_post("/v1/status", &json!({}));
    assert_eq!(r.problem(404), "not_found");
    let admin = AdminClient::socket(&socket);
    let big = vec![b' '; 300 * 1024];
    let r = admin
        .post("/v1/admin/peers/deny", "application/json", &big)
        .unwrap();
    assert_eq!(r.status, 413, "{r:?}");
    assert_eq!(r.content_type, "application/problem+json");
    assert_silent_socket_is_closed(&socket, Duration::from_secs(6));

    // A clean stop removes the socket.
    assert!(node.stop().success());
    assert!(!socket.exists(), "a clean stop left {}", socket.display());
}

/// A connection on the socket that sends nothing is closed by the header deadline,
/// within `bound`.
fn assert_silent_socket_is_closed(socket: &std::path::Path, bound: Duration) {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(bound)).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf);
    let closed = match &n {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    };
    assert!(
        closed,
        "a silent admin connection was not closed within {bound:?}: {n:?}"
    );
    assert!(started.elapsed() < bound, "{:?}", started.elapsed());
}

#[test]
fn a_socket_left_by_a_killed_node_is_replaced_and_the_cli_is_refused_by_the_public_api() {
    let s = setup();
    let node = Node::run(&s.dir);
    let socket = node.admin_socket();
    node.kill();
    assert!(socket.exists(), "a killed node cannot remove its socket");
    let node = Node::run(&s.dir);
    assert!(node
        .logs()
        .contains("removed the admin socket left by an earlier run"));
    let victim = some_peer_id(8);
    let r = node.admin_post("/v1/admin/peers/deny", &json!({ "peer_id": victim }));
    assert_eq!(r.status, 200, "{r:?}");
    // The admin client pointed at the public API is told it is not an admin listener.
    let wrong = AdminClient::new(&node.base).unwrap();
    let e = wrong.set_peer_denied(&victim, false).err();
    let e = e.map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("not a node's admin listener"), "{e}");
    assert_eq!(denied(&node).as_array().map(Vec::len), Some(1));
}

#[test]
fn a_tcp_admin_listener_requires_its_token() {
    let s = setup();
    let port = free_port();
    std::fs::write(
        s.dir.join("config.toml"),
        format!("[admin]\nlisten = \"tcp\"\naddr = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let node = Node::run(&s.dir);
    let admin = format!("127.0.0.1:{port}");
    let token_file = s.dir.join("admin.token");
    let mode = std::fs::metadata(&token_file).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode.ok(), Some(0o600));
    let token = std::fs::read_to_string(&token_file).unwrap_or_default();
    let token = token.trim();
    assert_eq!(token.len(), 64, "{token:?}");
    assert!(!node.admin_socket().exists());
    let victim = some_peer_id(9);
    let body = serde_json::to_vec(&json!({ "peer_id": victim })).unwrap_or_default();

    let wrong = format!("Bearer {}0", &token[..63]);
    let shorter = format!("Bearer {}", &token[..63]);
    for auth in [
        None,
        Some("Bearer "),
        Some(wrong.as_str()),
        Some(shorter.as_str()),
        Some("Basic YTpi"),
    ] {
        let extra = auth
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        for path in ADMIN_ROUTES
            .iter()
            .chain(&["/v1/admin/unknown", "/v1/status"])
        {
            let r = raw_request(&admin, "POST", path, &extra, &body);
            assert_eq!(r.problem(401), "admin_token_required", "{auth:?} {path}");
        }
    }
    assert_eq!(denied(&node), json!([]));
    let extra = format!("Authorization: Bearer {token}\r\n");
    let r = raw_request(&admin, "POST", ADMIN_ROUTES[0], &extra, &body);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(denied(&node).as_array().map(Vec::len), Some(1));
    // The public API still does not serve it, token or not.
    let r = raw_request(&api_addr(&node), "POST", ADMIN_ROUTES[1], &extra, &body);
    assert_eq!(r.problem(404), "not_found");
    // The CLI's admin client, with the token.
    let client = AdminClient::new(&format!("http://{admin}"))
        .unwrap()
        .with_token(token.to_string());
    let change = client.set_peer_denied(&victim, false);
    assert_eq!(change.map(|c| c.changed).ok(), Some(true));
    assert_eq!(denied(&node), json!([]));
    assert!(node.stop().success());

    // A token file that others may read is refused at start, with the fix.
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let api = format!("127.0.0.1:{}", free_port());
    let dir = s.dir.to_string_lossy().into_owned();
    let out = run_cli(&[
        "run",
        "--data-dir",
        &dir,
        "--api",
        &api,
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("lets group or others read it") && err.contains("chmod 600"),
        "{err}"
    );

    // A non-loopback admin address is refused by configuration checks.
    std::fs::write(
        s.dir.join("config.toml"),
        "[admin]\nlisten = \"tcp\"\naddr = \"0.0.0.0:7072\"\n",
    )
    .unwrap();
    let out = run_cli(&["dump-config", "--data-dir", &dir]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("is not a loopback address"), "{err}");
}
