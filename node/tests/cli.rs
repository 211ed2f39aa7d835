//! The command line: `--dev`, `init`, `run` and `dump-config`.

mod common;

use common::{init, run_cli, Node};
use registry_core::testkit::Fixture;

#[test]
fn dev_mode_creates_a_registry_once_and_prints_what_to_try() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
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
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
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
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
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
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = run_cli(&["run", "--data-dir", &tmp.path().to_string_lossy()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("registry-node init"));
}
