//! Key files and key secrecy, end to end with the real binaries.
//!
//! - Every key file the software creates (`registry key new`, `registry-node init`,
//!   `registry-node --dev`) has mode 0600, and no observer of the directory ever sees a
//!   key file with wider permissions or half-written.
//! - Key files that group or others can access are refused by the node and by every CLI
//!   command that reads a key, with an error naming the file and `chmod 600 FILE`.
//! - No secret key appears in any log line of a node run with `RUST_LOG=trace` and JSON
//!   logs (start-up, submissions, bad requests, shutdown), in any output or error of the
//!   CLI commands that read keys (failing ones included), or in any API answer: neither as
//!   hex, base58, multibase, base64, decimal bytes, raw bytes, nor the key file's text.
//!
//! Needs the `registry-node` binary next to this test's (`cargo test --workspace`, or
//! `cargo build --release -p registry-node` first).
#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod node_proc;
mod secrecy;
mod secret;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use support::mode;

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The `registry` CLI against `url`.
fn cli(dir: &Path, url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_registry"))
        .arg("--node")
        .arg(url)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Watches `dir` while keys are written into it: every file ever seen must have mode
/// 0600, and every key file seen under its final name must be complete.
fn watch_key_writes(dir: &Path, writes: usize, cli_dir: &Path) -> (usize, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let watched = dir.to_path_buf();
    let watcher = std::thread::spawn(move || {
        let (mut files_seen, mut temps_seen) = (0usize, 0usize);
        while !flag.load(Ordering::Relaxed) {
            let Ok(entries) = std::fs::read_dir(&watched) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                let Ok(meta) = std::fs::symlink_metadata(&path) else {
                    continue; // renamed or removed meanwhile
                };
                let name = e.file_name().to_string_lossy().into_owned();
                let m = meta.permissions().mode() & 0o777;
                assert_eq!(m, 0o600, "{name} seen with mode {m:o}");
                if name.starts_with('.') {
                    temps_seen += 1;
                } else if let Ok(text) = std::fs::read_to_string(&path) {
                    files_seen += 1;
                    let v: serde_json::Value = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("{name} seen half-written ({e}): {text:?}"));
                    assert!(v["secret_key"].as_str().is_some_and(|s| s.len() == 64));
                }
            }
        }
        (files_seen, temps_seen)
    });
    for i in 0..writes {
        let out = dir.join(format!("k{i}.key"));
        let r = cli(
            cli_dir,
            "http://127.0.0.1:9",
            &["key", "new", "--out", out.to_str().unwrap()],
        );
        assert!(r.status.success(), "{r:?}");
        assert_eq!(mode(&out), 0o600);
    }
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap()
}
