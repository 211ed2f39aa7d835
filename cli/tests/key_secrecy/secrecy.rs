//! Key files stay private and no secret key shows anywhere, across one long run.

use std::io::Write;
use std::process::{Command, Output};

use crate::node_proc::{get, post, run_to_exit, NodeProc};
use crate::secret::{Haystack, Secret};
use crate::support::{mode, node_bin};
use crate::{chmod, cli, watch_key_writes};

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
