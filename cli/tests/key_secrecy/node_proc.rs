//! Node processes with their output in files, and plain HTTP requests to them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::secret::Haystack;
use crate::support::{free_port, node_bin};

/// A node process writing its stdout and stderr to files.
pub(crate) struct NodeProc {
    child: Child,
    pub(crate) url: String,
    out: PathBuf,
    err: PathBuf,
}

impl NodeProc {
    pub(crate) fn start(args: &[&str], logs: &Path, name: &str) -> NodeProc {
        let port = free_port();
        let api = format!("127.0.0.1:{port}");
        let out = logs.join(format!("{name}.stdout"));
        let err = logs.join(format!("{name}.stderr"));
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--api", &api]);
        if args.first() == Some(&"run") {
            all.extend(["--listen", "/ip4/127.0.0.1/tcp/0"]);
        }
        let child = Command::new(node_bin())
            .args(&all)
            .env("RUST_LOG", "trace")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        let mut node = NodeProc {
            child,
            url: format!("http://{api}"),
            out,
            err,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = node.child.try_wait() {
                panic!("node exited ({status}): {}", node.stderr());
            }
            if get(&node.url, "/v1/status").0 == 200 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node not ready: {}",
                node.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        node
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// SIGTERM, wait (with a deadline), and hand back what it printed.
    pub(crate) fn stop(mut self, hay: &mut Haystack, name: &str) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !matches!(self.child.try_wait(), Ok(Some(_))) {
            assert!(Instant::now() < deadline, "node did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        let err = std::fs::read(&self.err).unwrap();
        let out = std::fs::read(&self.out).unwrap();
        hay.log_lines += err.split(|b| *b == b'\n').count() + out.split(|b| *b == b'\n').count();
        hay.add(format!("{name} stderr"), &err);
        hay.add(format!("{name} stdout"), &out);
    }
}

/// Runs `cmd` to its exit (within a deadline: a node that does not refuse would serve for
/// ever), its output going through files.
pub(crate) fn run_to_exit(cmd: &mut Command, dir: &Path) -> Output {
    let (out, err) = (dir.join("run.stdout"), dir.join("run.stderr"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "still running after 30 s: {}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: std::fs::read(&out).unwrap(),
        stderr: std::fs::read(&err).unwrap(),
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

pub(crate) fn get(url: &str, path: &str) -> (u16, String) {
    match agent().get(format!("{url}{path}")).call() {
        Ok(mut r) => (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        ),
        Err(_) => (0, String::new()),
    }
}

pub(crate) fn post(url: &str, path: &str, body: &[u8]) -> (u16, String) {
    match agent()
        .post(format!("{url}{path}"))
        .content_type("application/json")
        .send(body)
    {
        Ok(mut r) => (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        ),
        Err(_) => (0, String::new()),
    }
}
