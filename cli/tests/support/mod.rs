//! Helpers shared by the CLI's integration tests: running the `registry` binary in a
//! temporary directory and reading what it printed.

#![allow(dead_code)]

pub mod fake_node;
pub mod node;

use std::path::{Path, PathBuf};
use std::process::Command;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// An address where no node listens (port 9, discard, on loopback).
pub const NO_NODE: &str = "http://127.0.0.1:9";

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

/// A temporary working directory for one test.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Result<Sandbox, std::io::Error> {
        Ok(Sandbox {
            dir: tempfile::tempdir()?,
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `registry` with `args` in the sandbox, pointing it at no node by default.
    pub fn run(&self, args: &[&str]) -> Result<Run, std::io::Error> {
        let out = Command::new(env!("CARGO_BIN_EXE_registry"))
            .args(args)
            .current_dir(self.dir.path())
            .env("REGISTRY_NODE", NO_NODE)
            .output()?;
        Ok(Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Runs `registry` with `args` whose stdout is a pipe with no reader (as in
    /// `registry ... | head` once head has exited): every write to it fails.
    pub fn run_closed_stdout(&self, args: &[&str]) -> Result<Run, std::io::Error> {
        let (reader, writer) = std::io::pipe()?;
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_registry"))
            .args(args)
            .current_dir(self.dir.path())
            .env("REGISTRY_NODE", NO_NODE)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()?;
        Ok(Run {
            code: out.status.code(),
            stdout: String::new(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// `registry key new --out NAME`, returning the did it printed.
    pub fn new_key(&self, name: &str) -> Result<String, Box<dyn std::error::Error>> {
        let r = self.run(&["key", "new", "--out", name])?;
        if !r.ok() {
            return Err(format!("key new failed: {r:?}").into());
        }
        Ok(r.stdout.trim().to_string())
    }
}

/// The permission bits of a file.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0)
}

/// The `registry-node` binary, built next to the test's own binary by `cargo test
/// --workspace` (or `cargo build --release -p registry-node`).
pub fn node_bin() -> PathBuf {
    let dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().and_then(Path::parent).map(Path::to_path_buf))
        .unwrap_or_default();
    let bin = dir.join("registry-node");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --release -p registry-node` (or the workspace's tests)",
        bin.display()
    );
    bin
}

/// A TCP port on loopback that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port on loopback: {e}"))
}
