//! The deny list of peers, changed through the node's admin listener.

use std::process::Command;

use serde_json::Value;

use crate::support::free_port;
use crate::support::node::{cli, cli_json, Node};

/// `registry peers deny|allow|denied` against a real node: deny and allow go to the
/// node's admin socket (`--admin` as a data directory, a socket path, `REGISTRY_ADMIN`,
/// or by default the dev node's socket in the working directory), never to the public
/// API; the node's own id is refused; a denial is listed and survives a restart.
#[test]
fn peers_deny_list_from_the_cli_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let other = Node::start(&["--dev", "--data-dir", &data("other")], free_port());
    let other_id = cli_json(&other.url, &["status"])["peer_id"]
        .as_str()
        .unwrap()
        .to_string();
    drop(other);
    let port = free_port();
    let dev = data(".registry-dev");
    let node = Node::start(&["--dev", "--data-dir", &dev], port);
    let url = node.url.clone();
    let socket = format!("{dev}/admin.sock");
    let own = cli_json(&url, &["status"])["peer_id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = cli(&url, &["peers", "deny", &own, "--admin", &dev]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("own peer id"));
    let none = cli(&url, &["peers", "denied"]);
    assert_eq!(
        String::from_utf8_lossy(&none.stdout).trim(),
        "no peers denied"
    );
    // The public API is no admin listener, and a missing socket is named with the fix.
    let out = cli(&url, &["peers", "deny", &other_id, "--admin", &url]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("not a node's admin listener"), "{err}");
    let missing = data("missing/admin.sock");
    let out = cli(&url, &["peers", "deny", &other_id, "--admin", &missing]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains(&missing) && err.contains("--admin DATA_DIR"),
        "{err}"
    );
    assert_eq!(cli_json(&url, &["peers", "denied"]), serde_json::json!([]));

    let out = cli(&url, &["peers", "deny", &other_id, "--admin", &socket]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("is now denied"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = cli_json(&url, &["peers", "denied"]);
    assert_eq!(
        listed,
        serde_json::json!([{ "peer_id": other_id, "source": "operator" }])
    );
    drop(node);
    let node = Node::start(&["--dev", "--data-dir", &dev], port);
    assert_eq!(cli_json(&node.url, &["peers", "denied"]), listed);
    let out = Command::new(env!("CARGO_BIN_EXE_registry"))
        .args(["--node", &node.url, "peers", "deny", &other_id])
        .env("REGISTRY_ADMIN", &socket)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("was already denied"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // No --admin: the dev node's socket, relative to the working directory.
    let out = Command::new(env!("CARGO_BIN_EXE_registry"))
        .args(["--node", &node.url, "--json", "peers", "allow", &other_id])
        .env_remove("REGISTRY_ADMIN")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let change: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(change["changed"], true, "{change}");
    assert_eq!(change["denied"], false, "{change}");
    assert_eq!(
        cli_json(&node.url, &["peers", "denied"]),
        serde_json::json!([])
    );
}

/// `registry peers deny --admin http://127.0.0.1:PORT` against a node whose admin
/// listener is on loopback TCP: refused without the token file, done with it.
#[test]
fn peers_deny_over_a_tcp_admin_listener_needs_the_token_file() {
    let dir = tempfile::tempdir().unwrap();
    let dev = dir.path().join("dev").to_str().unwrap().to_string();
    let port = free_port();
    drop(Node::start(&["--dev", "--data-dir", &dev], port));
    let admin_port = free_port();
    std::fs::write(
        format!("{dev}/config.toml"),
        format!("[admin]\nlisten = \"tcp\"\naddr = \"127.0.0.1:{admin_port}\"\n"),
    )
    .unwrap();
    let node = Node::start(&["--dev", "--data-dir", &dev], port);
    // A libp2p peer id: the identity multihash of an ed25519 public key (protobuf-framed).
    let mut id = vec![0x00, 0x24, 0x08, 0x01, 0x12, 0x20];
    id.extend([7u8; 32]);
    let peer = bs58::encode(id).into_string();
    let peer = peer.as_str();
    let admin = format!("http://127.0.0.1:{admin_port}");
    let token_file = format!("{dev}/admin.token");
    let out = cli(&node.url, &["peers", "deny", peer, "--admin", &admin]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("(401)") && err.contains(&token_file) && err.contains("--admin-token-file"),
        "{err}"
    );
    let out = cli(
        &node.url,
        &[
            "peers",
            "deny",
            peer,
            "--admin",
            &admin,
            "--admin-token-file",
            &token_file,
        ],
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("is now denied"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        cli_json(&node.url, &["peers", "denied"]),
        serde_json::json!([{ "peer_id": peer, "source": "operator" }])
    );
}
