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

mod support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use registry_core::SecretKey;
use support::{free_port, mode, node_bin};

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Everything any program printed or answered during the test, to be searched for
/// secrets.
#[derive(Default)]
struct Haystack {
    texts: Vec<(String, Vec<u8>)>,
    log_lines: usize,
}

impl Haystack {
    fn add(&mut self, what: impl Into<String>, bytes: &[u8]) {
        self.texts.push((what.into(), bytes.to_vec()));
    }

    fn add_output(&mut self, what: &str, out: &Output) {
        self.add(format!("{what} stdout"), &out.stdout);
        self.add(format!("{what} stderr"), &out.stderr);
    }
}

/// Every encoding of a secret key the project or its libraries use or could print.
struct Secret {
    name: String,
    raw: Vec<u8>,
    needles: Vec<String>,
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(bytes: &[u8], url: bool) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            let c = B64[((n >> (18 - 6 * i)) & 63) as usize];
            out.push(match (url, c) {
                (true, b'+') => '-',
                (true, b'/') => '_',
                (_, c) => c as char,
            });
        }
    }
    out
}

impl Secret {
    fn of_key_file(name: &str, path: &Path) -> Secret {
        let text = std::fs::read_to_string(path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let hex_seed = v["secret_key"].as_str().unwrap().to_string();
        let seed: [u8; 32] = hex::decode(&hex_seed).unwrap().try_into().unwrap();
        let key = SecretKey::from_seed(seed);
        let public = *key.did().public_key();
        let pair: Vec<u8> = seed.iter().chain(public.iter()).copied().collect();
        // libp2p's protobuf encoding of an ed25519 private key (type 1, 64 bytes).
        let proto: Vec<u8> = [0x08, 0x01, 0x12, 0x40]
            .iter()
            .chain(&pair)
            .copied()
            .collect();
        // Multibase base58btc of the multicodec ed25519-priv (0x1300) key.
        let multicodec: Vec<u8> = [0x80, 0x26].iter().chain(&seed).copied().collect();
        let decimal = seed[..8]
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let mut needles = vec![
            hex_seed.to_lowercase(),
            hex_seed.to_uppercase(),
            hex_seed[..16].to_lowercase(),
            hex::encode(&pair),
            bs58::encode(seed).into_string(),
            bs58::encode(&pair).into_string(),
            bs58::encode(&proto).into_string(),
            format!("z{}", bs58::encode(&multicodec).into_string()),
            decimal,
            text.trim().to_string(),
        ];
        for bytes in [&seed[..], &pair[..], &proto[..]] {
            for url in [false, true] {
                // Any 24-character stretch of the base64 text, from a 3-byte boundary,
                // whatever the padding of the full encoding.
                let full = base64(bytes, url);
                needles.push(full[..24].to_string());
            }
        }
        // The same secret's Debug output is checked by the caller; the seed's own Debug
        // form is the decimal list above.
        Secret {
            name: name.to_string(),
            raw: seed.to_vec(),
            needles,
        }
    }

    /// Where in `hay` this secret shows, if anywhere.
    fn find_in(&self, hay: &[u8]) -> Option<String> {
        if hay
            .windows(self.raw.len())
            .any(|w| w == self.raw.as_slice())
        {
            return Some("raw bytes".into());
        }
        let text = String::from_utf8_lossy(hay);
        let lower = text.to_lowercase();
        for n in &self.needles {
            let found = if n.chars().all(|c| c.is_ascii_hexdigit()) {
                lower.contains(&n.to_lowercase())
            } else {
                text.contains(n.as_str())
            };
            if found {
                return Some(format!("encoding {n:.20}…"));
            }
        }
        None
    }
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

/// A node process writing its stdout and stderr to files.
struct NodeProc {
    child: Child,
    url: String,
    out: PathBuf,
    err: PathBuf,
}

impl NodeProc {
    fn start(args: &[&str], logs: &Path, name: &str) -> NodeProc {
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
    fn stop(mut self, hay: &mut Haystack, name: &str) {
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
fn run_to_exit(cmd: &mut Command, dir: &Path) -> Output {
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

fn get(url: &str, path: &str) -> (u16, String) {
    match agent().get(format!("{url}{path}")).call() {
        Ok(mut r) => (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        ),
        Err(_) => (0, String::new()),
    }
}

fn post(url: &str, path: &str, body: &[u8]) -> (u16, String) {
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

#[test]
fn key_files_are_private_and_secrets_never_show() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let mut hay = Haystack::default();
    let mut cli_runs = 0usize;
    let mut run = |hay: &mut Haystack, url: &str, args: &[&str]| -> Output {
        let out = cli(t, url, args);
        cli_runs += 1;
        hay.add_output(&format!("registry {args:?}"), &out);
        out
    };

    // Creation: 0600, never seen wider or half-written.
    let watched = t.join("watched");
    std::fs::create_dir(&watched).unwrap();
    let (seen, temps) = watch_key_writes(&watched, 40, t);
    assert!(seen > 0, "the watcher saw no key file");

    // Keys of a registry: a root, an authority and an issuer; a genesis; a node.
    let no_node = "http://127.0.0.1:9";
    let mut dids = Vec::new();
    for name in ["root", "authority", "issuer", "stranger"] {
        let out = run(
            &mut hay,
            no_node,
            &["key", "new", "--out", &format!("{name}.key")],
        );
        assert!(out.status.success(), "{out:?}");
        assert_eq!(mode(&t.join(format!("{name}.key"))), 0o600);
        dids.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    let out = run(
        &mut hay,
        no_node,
        &[
            "genesis",
            "new",
            "--authority-id",
            "did:web:edu.example",
            "--name",
            "Edu",
            "--root",
            &dids[0],
            "--threshold",
            "1",
            "--out",
            "genesis.json",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let data = t.join("node");
    let init = Command::new(node_bin())
        .args(["init", "--data-dir", data.to_str().unwrap(), "--genesis"])
        .arg(t.join("genesis.json"))
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    assert!(init.status.success(), "{init:?}");
    hay.add_output("registry-node init", &init);
    assert_eq!(mode(&data.join("node.key")), 0o600);
    assert_eq!(mode(&data), 0o700);
    std::fs::write(
        data.join("config.toml"),
        "[log]\nformat = \"json\"\nlevel = \"trace\"\n",
    )
    .unwrap();

    // The node, with the most verbose JSON logs, through start-up, submissions, bad
    // requests and shutdown.
    let node = NodeProc::start(&["run", "--data-dir", data.to_str().unwrap()], t, "node");
    let url = node.url.clone();
    let since = "2020-01-01T00:00:00Z";
    let acc = run(
        &mut hay,
        &url,
        &[
            "--json",
            "accredit",
            "--subject",
            "did:web:acc.example",
            "--grant",
            "accredit:UniversityDegree",
            "--controller",
            &dids[1],
            "--valid-from",
            since,
            "--key",
            "root.key",
        ],
    );
    assert!(acc.status.success(), "{acc:?}");
    let acc: serde_json::Value = serde_json::from_slice(&acc.stdout).unwrap();
    let acc_id = acc["id"].as_str().unwrap().to_string();
    let iss = run(
        &mut hay,
        &url,
        &[
            "accredit",
            "--subject",
            "did:web:uni.example",
            "--grant",
            "issue:UniversityDegree",
            "--controller",
            &dids[2],
            "--valid-from",
            since,
            "--as",
            &acc_id,
            "--key",
            "authority.key",
        ],
    );
    assert!(iss.status.success(), "{iss:?}");
    // Offline: draft, sign, show, submit.
    let d = run(
        &mut hay,
        &url,
        &[
            "entry",
            "draft",
            "accredit",
            "--subject",
            "did:web:other.example",
            "--grant",
            "issue:X",
            "--controller",
            &dids[2],
            "--genesis",
            "genesis.json",
            "--out",
            "draft.json",
        ],
    );
    assert!(d.status.success(), "{d:?}");
    assert!(run(
        &mut hay,
        &url,
        &["entry", "sign", "draft.json", "--key", "root.key"]
    )
    .status
    .success());
    assert!(run(&mut hay, &url, &["entry", "show", "draft.json"])
        .status
        .success());
    assert!(run(&mut hay, &url, &["entry", "submit", "draft.json"])
        .status
        .success());
    for k in ["root.key", "authority.key", "issuer.key"] {
        assert!(run(&mut hay, &url, &["key", "show", k]).status.success());
    }

    // Failing commands that read keys.
    let mut failures = 0usize;
    let mut fail = |hay: &mut Haystack, args: &[&str], expect: &str| {
        let out = run(hay, &url, args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{args:?}: {err}");
        failures += 1;
    };
    // A key that is not the author's: a stranger signs as a root, or as the authority.
    fail(
        &mut hay,
        &[
            "accredit",
            "--subject",
            "did:web:x.example",
            "--grant",
            "issue:X",
            "--controller",
            &dids[2],
            "--key",
            "stranger.key",
        ],
        "root",
    );
    fail(
        &mut hay,
        &[
            "accredit",
            "--subject",
            "did:web:x.example",
            "--grant",
            "issue:UniversityDegree",
            "--controller",
            &dids[2],
            "--as",
            &acc_id,
            "--key",
            "stranger.key",
        ],
        "stranger.key",
    );
    fail(
        &mut hay,
        &["revoke", &acc_id, "--reason", "x", "--key", "issuer.key"],
        "root",
    );
    // Malformed key files made from a real secret.
    let root_text = std::fs::read_to_string(t.join("root.key")).unwrap();
    let root_json: serde_json::Value = serde_json::from_str(&root_text).unwrap();
    let root_hex = root_json["secret_key"].as_str().unwrap().to_string();
    let broken: Vec<(&str, String)> = vec![
        ("truncated", root_text[..root_text.len() / 2].to_string()),
        ("secret as field name", format!("{{\"{root_hex}\": true}}")),
        (
            "unknown field",
            format!(
                "{{\"did\":\"{}\",\"secret_key\":\"{root_hex}\",\"{root_hex}\":1}}",
                dids[0]
            ),
        ),
        (
            "wrong did",
            format!("{{\"did\":\"{}\",\"secret_key\":\"{root_hex}\"}}", dids[1]),
        ),
        (
            "secret as did",
            format!("{{\"did\":\"{root_hex}\",\"secret_key\":\"{root_hex}\"}}"),
        ),
        (
            "short secret",
            format!(
                "{{\"did\":\"{}\",\"secret_key\":\"{}\"}}",
                dids[0],
                &root_hex[2..]
            ),
        ),
        ("bare secret", format!("{root_hex}\n")),
        ("secret then garbage", format!("{root_text} {root_hex}")),
    ];
    for (i, (_, body)) in broken.iter().enumerate() {
        let name = format!("broken{i}.key");
        let mut f = std::fs::OpenOptions::new();
        std::os::unix::fs::OpenOptionsExt::mode(&mut f, 0o600);
        f.write(true)
            .create_new(true)
            .open(t.join(&name))
            .unwrap()
            .write_all(body.as_bytes())
            .unwrap();
        fail(&mut hay, &["key", "show", &name], &name);
        fail(
            &mut hay,
            &["entry", "sign", "draft.json", "--key", &name],
            &name,
        );
        fail(
            &mut hay,
            &[
                "accredit",
                "--subject",
                "did:web:y.example",
                "--grant",
                "issue:Y",
                "--controller",
                &dids[2],
                "--key",
                &name,
            ],
            &name,
        );
    }
    // Key files others can read: refused, naming the file and the fix.
    for (i, m) in [0o644u32, 0o640, 0o604, 0o660].into_iter().enumerate() {
        let name = format!("open{i}.key");
        std::fs::copy(t.join("root.key"), t.join(&name)).unwrap();
        chmod(&t.join(&name), m);
        let fix = format!("chmod 600 {name}");
        fail(&mut hay, &["key", "show", &name], &fix);
        fail(
            &mut hay,
            &["entry", "sign", "draft.json", "--key", &name],
            &fix,
        );
        fail(
            &mut hay,
            &[
                "accredit",
                "--subject",
                "did:web:z.example",
                "--grant",
                "issue:Z",
                "--controller",
                &dids[2],
                "--key",
                &name,
            ],
            &fix,
        );
        fail(
            &mut hay,
            &["revoke", &acc_id, "--reason", "r", "--key", &name],
            &fix,
        );
    }

    // Bad requests, and every API answer.
    let mut answers = 0usize;
    let mut api = |hay: &mut Haystack, what: &str, (status, body): (u16, String)| {
        assert!(status != 0 && status < 500, "{what}: {status} {body}");
        hay.add(format!("API {what}"), body.as_bytes());
        answers += 1;
    };
    api(
        &mut hay,
        "bad entry",
        post(&url, "/v1/entries", root_text.as_bytes()),
    );
    api(
        &mut hay,
        "bad json",
        post(&url, "/v1/entries", b"{\"secret_key\":"),
    );
    api(
        &mut hay,
        "bad trqp",
        post(&url, "/authorization", root_hex.as_bytes()),
    );
    for path in [
        "/v1/status",
        "/v1/entries",
        "/v1/blocks",
        "/v1/blocks/0",
        "/v1/blocks/1",
        "/v1/peers",
        "/metrics",
        "/v1/subjects/did:web:uni.example",
        "/v1/trust?entity_id=did:web:uni.example&action=issue&resource=UniversityDegree",
        &format!("/v1/entries/{acc_id}"),
        "/v1/nowhere",
        "/v1/entries/zz",
    ] {
        api(&mut hay, path, get(&url, path));
    }
    node.stop(&mut hay, "node");

    // The node refuses a node key others can read, naming the file and the fix.
    let node_key = data.join("node.key");
    for m in [0o644u32, 0o640] {
        chmod(&node_key, m);
        let out = run_to_exit(
            Command::new(node_bin())
                .args([
                    "run",
                    "--data-dir",
                    data.to_str().unwrap(),
                    "--api",
                    "127.0.0.1:0",
                ])
                .env("RUST_LOG", "trace"),
            t,
        );
        hay.add_output("registry-node run with an open key", &out);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        let fix = format!("chmod 600 {}", node_key.display());
        assert!(err.contains(&fix), "{err}");
    }
    chmod(&node_key, 0o600);

    // Dev mode creates its root and node keys 0600 and never prints them.
    let dev = t.join("dev");
    let dev_node = NodeProc::start(&["--dev", "--data-dir", dev.to_str().unwrap()], t, "dev");
    assert_eq!(mode(&dev.join("root.key")), 0o600);
    assert_eq!(mode(&dev.join("node.key")), 0o600);
    api(&mut hay, "dev status", get(&dev_node.url, "/v1/status"));
    dev_node.stop(&mut hay, "dev");
    // The secrets, and the search.
    let mut secrets = Vec::new();
    for name in ["root", "authority", "issuer", "stranger"] {
        secrets.push(Secret::of_key_file(name, &t.join(format!("{name}.key"))));
    }
    secrets.push(Secret::of_key_file("node", &node_key));
    secrets.push(Secret::of_key_file("dev root", &dev.join("root.key")));
    secrets.push(Secret::of_key_file("dev node", &dev.join("node.key")));
    // The search finds a secret where there is one: the key files themselves.
    for s in &secrets[..4] {
        let file = std::fs::read(t.join(format!("{}.key", s.name))).unwrap();
        assert!(s.find_in(&file).is_some(), "the search misses {}", s.name);
    }
    // Debug of the secret key types shows no secret.
    for (s, name) in secrets
        .iter()
        .zip(["root", "authority", "issuer", "stranger"])
    {
        let key = registry_core::keys::read_key_file(&t.join(format!("{name}.key"))).unwrap();
        let shown = format!("{key:?} {:?}", Some(&key));
        assert_eq!(
            s.find_in(shown.as_bytes()),
            None,
            "Debug of {name}: {shown}"
        );
    }
    assert!(
        hay.log_lines > 200,
        "too few log lines to mean anything: {}",
        hay.log_lines
    );
    let mut searched = 0usize;
    for (what, bytes) in &hay.texts {
        for s in &secrets {
            searched += 1;
            if let Some(how) = s.find_in(bytes) {
                panic!(
                    "the {} secret key shows ({how}) in {what}: {}",
                    s.name,
                    String::from_utf8_lossy(bytes)
                );
            }
        }
    }
    let encodings = secrets[0].needles.len() + 1;
    let _ = writeln!(
        std::io::stderr(),
        "key-secrecy: {} key writes watched ({seen} complete key files and {temps} temporary \
         files seen, all 0600); {failures} refused or failing key commands (0644/0640/0604/0660 \
         and 8 malformed files, wrong authors); {} secrets in {encodings} encodings each searched in {} \
         texts ({} node log lines at trace/JSON, {cli_runs} CLI runs, {answers} API answers): \
         0 found ({searched} searches)",
        40,
        secrets.len(),
        hay.texts.len(),
        hay.log_lines,
    );
}
