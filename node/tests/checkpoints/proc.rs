//! Node processes for the checkpoint tests: like the shared harness, but with the binary
//! chosen per node (the liar runs another build) and a checkpoint configuration.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use registry_core::checkpoint::SignedNote;
use serde_json::Value;

use crate::common::free_port;

pub const DEADLINE: Duration = Duration::from_secs(60);

/// A running node process.
pub struct Proc {
    child: Child,
    pub base: String,
    pub log: PathBuf,
    agent: ureq::Agent,
}

/// Writes the checkpoint test's configuration (1 s slots, 1 s lag) into `dir`.
pub fn configure(dir: &Path) {
    let config = "[checkpoint]\ninterval_secs = 1\nlag_secs = 1\n\
                  [p2p]\ncolocation_whitelist = [\"127.0.0.1\"]\nsync_period_secs = 1\n";
    std::fs::write(dir.join("config.toml"), config).unwrap();
}

impl Proc {
    /// `bin run --data-dir DIR` on free ports, waiting until it serves.
    pub fn spawn(bin: &str, dir: &Path, bootstrap: Option<&str>) -> Proc {
        let api = format!("127.0.0.1:{}", free_port());
        let n = std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
        let log = dir.join(format!("node-{n}.stderr"));
        let mut cmd = Command::new(bin);
        cmd.args(["run", "--data-dir", &dir.to_string_lossy(), "--api", &api])
            .args(["--listen", "/ip4/127.0.0.1/tcp/0"]);
        if let Some(b) = bootstrap {
            cmd.args(["--bootstrap", b]);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let mut p = Proc {
            child,
            base: format!("http://{api}"),
            log,
            agent,
        };
        let started = Instant::now();
        while p.try_get("/v1/status").map(|r| r.0) != Some(200) {
            if let Ok(Some(s)) = p.child.try_wait() {
                panic!("node exited early ({s}): {}", p.logs());
            }
            assert!(started.elapsed() < DEADLINE, "not ready: {}", p.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
        p
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Status and body of `GET path`, or `None` if the node does not answer.
    pub fn try_get(&self, path: &str) -> Option<(u16, String)> {
        let mut r = self.agent.get(format!("{}{path}", self.base)).call().ok()?;
        let status = r.status().as_u16();
        Some((status, r.body_mut().read_to_string().ok()?))
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        self.try_get(path)
            .unwrap_or_else(|| panic!("GET {path} failed: {}", self.logs()))
    }

    pub fn status(&self) -> Value {
        serde_json::from_str(&self.get("/v1/status").1).unwrap()
    }

    pub fn post(&self, path: &str, body: &impl serde::Serialize) -> u16 {
        let url = format!("{}{path}", self.base);
        let r = self.agent.post(url).send_json(body).unwrap();
        r.status().as_u16()
    }

    /// The note served as the latest, if any.
    pub fn latest(&self) -> Option<SignedNote> {
        match self.try_get("/v1/checkpoints/latest")? {
            (200, text) => Some(SignedNote::parse(&text).unwrap_or_else(|e| {
                panic!(
                    "GET /v1/checkpoints/latest served a note that does not parse ({e}): {text:?}"
                )
            })),
            _ => None,
        }
    }

    /// SIGKILL, and reap.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it gives a value, failing after [`DEADLINE`] with `what`.
pub fn wait_for<T>(what: &str, logs: &dyn Fn() -> String, check: impl Fn() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(started.elapsed() < DEADLINE, "never saw {what}: {}", logs());
        std::thread::sleep(Duration::from_millis(50));
    }
}
