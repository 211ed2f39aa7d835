//! A real `registry-node` process on a free port, and the `registry` binary run against it
//! as a process, as the README's walk-through does.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::node_bin;

/// A node process, stopped with SIGTERM when dropped.
pub struct Node {
    pub child: Child,
    pub url: String,
}

impl Node {
    /// Starts `registry-node ARGS --api 127.0.0.1:PORT` and waits until it answers.
    pub fn start(args: &[&str], port: u16) -> Node {
        let api = format!("127.0.0.1:{port}");
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--api", &api]);
        if args.first() == Some(&"run") {
            all.extend(["--listen", "/ip4/127.0.0.1/tcp/0"]);
        }
        let child = Command::new(node_bin())
            .args(&all)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start registry-node: {e}"));
        let node = Node {
            child,
            url: format!("http://{api}"),
        };
        node.wait_ready();
        node
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if cli(&self.url, &["status"]).status.success() {
                return;
            }
            std::thread::yield_now();
        }
        panic!("node at {} did not become ready in 30 s", self.url);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Runs `registry --node URL ARGS`.
pub fn cli(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_registry"))
        .arg("--node")
        .arg(url)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run registry: {e}"))
}

/// Runs the CLI with `--json`, requires success, returns the parsed output.
pub fn cli_json(url: &str, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = cli(url, &all);
    assert!(
        out.status.success(),
        "registry {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "registry {args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// `registry key new --out PATH`, returning the did.
pub fn new_key(url: &str, path: &Path) -> String {
    let v = cli_json(url, &["key", "new", "--out", &path.display().to_string()]);
    v["did"].as_str().unwrap_or_default().to_string()
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Waits (with a deadline) until the clock is in a later second than `t`: times have
/// one-second resolution.
pub fn after_second(t: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while now_secs() <= t {
        assert!(Instant::now() < deadline, "the clock did not advance");
        std::thread::yield_now();
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
