//! The command line: `--dev`, `init`, `run` and `dump-config`.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions unwrap too

mod common;

use std::time::{Duration, Instant};

use common::{init, run_cli, Node};
use registry_core::testkit::Fixture;

#[test]
fn dev_mode_creates_a_registry_once_and_prints_what_to_try() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("dev");
    let dir_arg = dir.to_string_lossy().into_owned();
    let node = Node::spawn(&["--dev", "--data-dir", &dir_arg], tmp.path());
    let status = node.status();
    assert_eq!(status["authority_id"], "did:web:dev.registry.example");
    assert_eq!(status["name"], "Development registry");
    assert_eq!(status["threshold"], 1);
    assert_eq!(status["max_depth"], 4);
    // Networking is on even for a lone dev node: it has a peer id and a loopback address.
    assert!(
        status["peer_id"]
            .as_str()
            .is_some_and(|p| p.starts_with("12D3")),
        "{status}"
    );
    assert!(
        status["listen_addrs"][0]
            .as_str()
            .is_some_and(|a| a.starts_with("/ip4/127.0.0.1/tcp/")),
        "{status}"
    );
    let root = registry_core::keys::read_key_file(&dir.join("root.key"))
        .unwrap_or_else(|e| panic!("the root key must be a 0600 key file: {e}"));
    assert_eq!(status["roots"], serde_json::json!([root.did().to_string()]));
    let banner = std::fs::read_to_string(&node.stdout).unwrap_or_default();
    assert!(banner.contains(&node.base), "{banner}");
    assert!(banner.contains("registry --node"), "{banner}");
    assert!(banner.contains("root.key"), "{banner}");
    assert!(
        banner.contains("trust did:web:uni.example --action issue"),
        "{banner}"
    );
    let registry_id = status["registry_id"].clone();
    assert!(node.stop().success());

    // A second run reuses the same registry.
    let node = Node::spawn(&["--dev", "--data-dir", &dir_arg], tmp.path());
    assert_eq!(node.status()["registry_id"], registry_id);
    assert!(node.stop().success());
}

#[test]
fn init_validates_the_genesis_and_refuses_to_run_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let fx = Fixture::new(3, 2, 3);
    let out = init(&dir, &fx.genesis);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(printed.trim(), fx.registry_id.to_hex());
    assert!(registry_core::keys::read_key_file(&dir.join("node.key")).is_ok());
    assert!(dir.join("genesis.json").is_file());

    let genesis = tmp.path().join("node.genesis.json");
    let again = run_cli(&[
        "init",
        "--data-dir",
        &dir.to_string_lossy(),
        "--genesis",
        &genesis.to_string_lossy(),
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a ledger"));

    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, r#"{"version": 1}"#).unwrap_or(());
    let other = tmp.path().join("other");
    let out = run_cli(&[
        "init",
        "--data-dir",
        &other.to_string_lossy(),
        "--genesis",
        &bad.to_string_lossy(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid genesis"));
    assert!(!other.exists(), "nothing is created for an invalid genesis");

    let dir_arg = dir.to_string_lossy().into_owned();
    let node = Node::spawn(
        &["run", "--data-dir", &dir_arg, "--log-format", "json"],
        tmp.path(),
    );
    let status = node.status();
    assert_eq!(status["threshold"], 2);
    let logs = node.logs();
    let first = logs.lines().next().unwrap_or_default();
    let line: serde_json::Value = serde_json::from_str(first)
        .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {first}"));
    assert_eq!(line["level"], "INFO", "{line}");
    assert_eq!(status["roots"].as_array().map(Vec::len), Some(3));
    assert!(node.stop().success());
}

#[test]
fn dump_config_merges_defaults_file_and_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_string_lossy().into_owned();
    let out = run_cli(&["dump-config", "--data-dir", &dir]);
    assert!(out.status.success());
    let defaults = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(defaults.contains("addr = \"127.0.0.1:7070\""), "{defaults}");
    assert!(defaults.contains("max_batch = 1024"), "{defaults}");

    std::fs::write(
        tmp.path().join("config.toml"),
        "[api]\naddr = \"127.0.0.1:9000\"\n[writer]\nqueue = 8\n",
    )
    .unwrap_or(());
    let out = run_cli(&[
        "dump-config",
        "--data-dir",
        &dir,
        "--api",
        "127.0.0.1:9001",
        "--log-format",
        "json",
    ]);
    let merged = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(merged.contains("addr = \"127.0.0.1:9001\""), "{merged}");
    assert!(merged.contains("queue = 8"), "{merged}");
    assert!(merged.contains("format = \"json\""), "{merged}");

    std::fs::write(tmp.path().join("config.toml"), "[api]\nport = 1\n").unwrap_or(());
    let out = run_cli(&["dump-config", "--data-dir", &dir]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field"));
}

#[test]
fn usage_errors() {
    assert!(!run_cli(&[]).status.success());
    let out = run_cli(&["--data-dir", "x"]);
    assert!(
        !out.status.success(),
        "--data-dir without --dev or a subcommand"
    );
    let out = run_cli(&["run"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--data-dir"));
    let tmp = tempfile::tempdir().unwrap();
    let out = run_cli(&["run", "--data-dir", &tmp.path().to_string_lossy()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("registry-node init"));
}

#[test]
fn dump_config_of_a_missing_directory_is_an_error_and_help_lists_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("does-not-exist");
    let out = run_cli(&["dump-config", "--data-dir", &missing.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("does not exist") && err.contains("registry-node init"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "nothing is dumped");
    // A usage error is 2, as the help says.
    let out = run_cli(&["dump-config"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run_cli(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for code in ["Exit codes:", "  0  ", "  1  ", "  2  usage error"] {
        assert!(help.contains(code), "{code}: {help}");
    }
}

/// Waits until `node`'s log has a WARN line, up to `limit`; returns when it appeared.
fn first_warning(node: &Node, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if node.logs().contains(" WARN ") {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn a_lone_first_node_logs_no_warnings() {
    let tmp = tempfile::tempdir().unwrap();
    let fx = Fixture::new(1, 1, 4);
    // Control: a filter that names libp2p_kad shows Kademlia's own warning that it has no
    // peers to bootstrap from; it shows how long after start-up that warning comes.
    let loud = tmp.path().join("loud");
    assert!(init(&loud, &fx.genesis).status.success());
    std::fs::write(
        loud.join("config.toml"),
        "[log]\nlevel = \"info,libp2p_kad=warn\"\n",
    )
    .unwrap_or(());
    let node = Node::run(&loud);
    let after = first_warning(&node, Duration::from_secs(20));
    let logs = node.logs();
    assert!(node.stop().success());
    let after = after.unwrap_or_else(|| panic!("the control saw no warning: {logs}"));
    assert!(logs.contains("Failed to trigger bootstrap"), "{logs}");

    // The default filter: a node alone, as the first node of a registry always is, says
    // nothing is wrong. An absence can only be watched for a while: four times as long as
    // the control took to warn, and at least 2 s.
    let quiet = tmp.path().join("quiet");
    assert!(init(&quiet, &fx.genesis).status.success());
    let node = Node::run(&quiet);
    let window = (after * 4).max(Duration::from_secs(2));
    let warned = first_warning(&node, window);
    let logs = node.logs();
    assert!(node.stop().success());
    assert_eq!(warned, None, "{logs}");
    assert!(!logs.contains("WARN"), "{logs}");
}
