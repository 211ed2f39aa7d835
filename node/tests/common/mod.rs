//! Test harness: runs the real `registry-node` binary on a free loopback port in a temp
//! data directory, waits for readiness with a deadline, and talks to it with ureq (the
//! public API) and the CLI's admin client (the admin socket in its data directory).

#![allow(dead_code)]

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use registry_core::testkit::Fixture;
use registry_core::Genesis;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_registry-node");
const READY_DEADLINE: Duration = Duration::from_secs(30);

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

pub fn run_cli(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"))
}

/// Writes `genesis` to a file next to `data_dir` and runs `registry-node init`.
pub fn init(data_dir: &Path, genesis: &Genesis) -> Output {
    let file = data_dir.with_extension("genesis.json");
    std::fs::write(&file, genesis.to_json()).unwrap();
    let out = run_cli(&[
        "init",
        "--data-dir",
        &data_dir.to_string_lossy(),
        "--genesis",
        &file.to_string_lossy(),
    ]);
    assert!(
        out.status.success(),
        "init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A temp directory with an initialised data directory for a one-root fixture.
pub struct Setup {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub fx: Fixture,
}

pub fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let fx = Fixture::new(1, 1, 4);
    init(&dir, &fx.genesis);
    Setup { tmp, dir, fx }
}

/// A running node.
pub struct Node {
    child: Child,
    pub base: String,
    /// The node's data directory (`--data-dir`).
    pub dir: PathBuf,
    pub log: PathBuf,
    pub stdout: PathBuf,
    agent: ureq::Agent,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    /// Asserts this is an RFC 7807 problem with `status` and returns its type's code.
    pub fn problem(&self, status: u16) -> String {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.content_type, "application/problem+json", "{self:?}");
        let p = self.json();
        assert_eq!(p["status"], status, "{self:?}");
        assert!(
            p["title"].as_str().is_some_and(|t| !t.is_empty()),
            "{self:?}"
        );
        assert!(p["detail"].as_str().is_some(), "{self:?}");
        let kind = p["type"].as_str().unwrap_or_default();
        kind.strip_prefix("urn:trust-registry:problem:")
            .unwrap_or_else(|| panic!("unexpected problem type {kind}"))
            .to_string()
    }
}

impl Node {
    /// `registry-node <args>` with `--api` on a free port; waits until it serves.
    pub fn spawn(args: &[&str], log_dir: &Path) -> Node {
        let port = free_port();
        let api = format!("127.0.0.1:{port}");
        let n = std::fs::read_dir(log_dir).map(|d| d.count()).unwrap_or(0);
        let log = log_dir.join(format!("node-{n}.stderr"));
        let stdout = log_dir.join(format!("node-{n}.stdout"));
        // Every test node listens for peers on a port of its own.
        let listen: &[&str] = if args.first() == Some(&"run") {
            &["--listen", "/ip4/127.0.0.1/tcp/0"]
        } else {
            &[]
        };
        let child = Command::new(BIN)
            .args(args)
            .args(["--api", &api])
            .args(listen)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).unwrap())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {BIN}: {e}"));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let dir = args
            .iter()
            .position(|a| *a == "--data-dir")
            .and_then(|i| args.get(i + 1))
            .map_or_else(|| PathBuf::from(".registry-dev"), PathBuf::from);
        let mut node = Node {
            child,
            base: format!("http://{api}"),
            dir,
            log,
            stdout,
            agent,
        };
        node.wait_ready();
        node
    }

    /// `registry-node run --data-dir DIR`.
    pub fn run(dir: &Path) -> Node {
        let log_dir = dir.parent().unwrap_or(dir);
        Node::spawn(&["run", "--data-dir", &dir.to_string_lossy()], log_dir)
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("node exited early ({status}): {}", self.logs());
            }
            if let Ok(r) = self.try_get("/v1/status") {
                if r.status == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "node not ready: {}", self.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The node's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the node process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn reply(
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Reply, ureq::Error> {
        let mut resp = resp?;
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        Ok(Reply {
            status: resp.status().as_u16(),
            content_type,
            text: resp.body_mut().read_to_string()?,
        })
    }

    fn try_get(&self, path: &str) -> Result<Reply, ureq::Error> {
        Node::reply(self.agent.get(format!("{}{path}", self.base)).call())
    }

    pub fn get(&self, path: &str) -> Reply {
        self.try_get(path)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub fn post(&self, path: &str, body: &impl serde::Serialize) -> Reply {
        let url = format!("{}{path}", self.base);
        Node::reply(self.agent.post(url).send_json(body))
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    pub fn post_raw(&self, path: &str, content_type: Option<&str>, body: &[u8]) -> Reply {
        let url = format!("{}{path}", self.base);
        let mut req = self.agent.post(url);
        if let Some(ct) = content_type {
            req = req.content_type(ct);
        }
        Node::reply(req.send(body)).unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    pub fn request(&self, method: &str, path: &str) -> Reply {
        let url = format!("{}{path}", self.base);
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .body(())
            .unwrap();
        Node::reply(self.agent.run(req)).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// The node's admin socket (the default `admin.socket`).
    pub fn admin_socket(&self) -> PathBuf {
        self.dir.join(registry_cli::admin::SOCKET_FILE)
    }

    /// `POST path` with a JSON body on the node's admin socket.
    pub fn admin_post(&self, path: &str, body: &impl serde::Serialize) -> Reply {
        let body = serde_json::to_vec(body).unwrap();
        let client = registry_cli::AdminClient::socket(&self.admin_socket());
        let r = client
            .post(path, "application/json", &body)
            .unwrap_or_else(|e| panic!("POST {path} on the admin socket: {e}"));
        Reply {
            status: r.status,
            content_type: r.content_type,
            text: String::from_utf8_lossy(&r.body).into_owned(),
        }
    }

    pub fn status(&self) -> Value {
        let r = self.get("/v1/status");
        assert_eq!(r.status, 200, "{r:?}");
        r.json()
    }

    /// SIGTERM, then waits for exit (with a deadline).
    pub fn stop(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "node did not stop: {}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Node {
    /// SIGKILL (`Child::kill`), then reaps the process: a crash at an arbitrary moment.
    pub fn kill(mut self) {
        self.child
            .kill()
            .unwrap_or_else(|e| panic!("cannot kill the node: {e}"));
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A test's random seed: the environment variable `var` when it is set (to replay a run),
/// else one from the clock.
pub fn seed(var: &str) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}
