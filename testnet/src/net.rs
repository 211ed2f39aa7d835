//! A testnet: real `registry-node` processes on loopback, each in its own data directory
//! under the testnet's directory, with a state file (`testnet.json`) so that `testnet down`
//! (another process) can stop what `testnet up` started.
//!
//! Layout of DIR: `genesis.json`, `root.key` and `authority.key` (0600), `testnet.json`,
//! and one `node-<i>/` per node holding its ledger, `config.toml`, `node.log` and its
//! admin socket `admin.sock`.

use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use registry_cli::{AdminClient, Client};
use registry_core::api::SubmitStatus;
use registry_core::entry::Governance;
use registry_core::keys::{read_key_file, write_key_file};
use registry_core::{DidKey, SignedEntry, Timestamp, WitnessSet};
use serde::{Deserialize, Serialize};

use crate::eco::Ecosystem;

const STATE_FILE: &str = "testnet.json";
/// How long a node may take to start serving.
const READY_DEADLINE: Duration = Duration::from_secs(60);
/// How long a node may take to stop after SIGTERM before it is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(20);

/// One node of the testnet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeInfo {
    pub name: String,
    /// `http://127.0.0.1:PORT`.
    pub api: String,
    /// Its peer-to-peer TCP port on 127.0.0.1.
    pub p2p_port: u16,
    pub dir: PathBuf,
    /// The running process (0 when stopped).
    pub pid: u32,
    /// Nodes (indexes) it bootstraps from.
    pub bootstrap: Vec<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StateFile {
    seed: u64,
    sync_period_secs: u64,
    nodes: Vec<NodeInfo>,
}

/// A running (or stopped) testnet.
#[derive(Debug)]
pub struct Testnet {
    pub dir: PathBuf,
    pub eco: Ecosystem,
    pub seed: u64,
    pub nodes: Vec<NodeInfo>,
    sync_period_secs: u64,
    node_bin: PathBuf,
    /// Niceness each node's process starts with (absent: this process's own).
    niceness: std::collections::HashMap<usize, u8>,
    /// Processes this process started (so it reaps them); empty after [`Testnet::open`].
    children: Vec<Option<Child>>,
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `registry-node`: `$REGISTRY_NODE_BIN`, else beside this executable (cargo puts every
/// binary of the workspace in one directory), else on `PATH`.
fn node_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("REGISTRY_NODE_BIN") {
        return PathBuf::from(p);
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        let beside = dir.join("registry-node");
        if beside.is_file() {
            return beside;
        }
    }
    PathBuf::from("registry-node")
}

/// Whether a process is alive (not exited, not a zombie).
pub fn alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the field after the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

impl Testnet {
    /// Creates DIR (which must not hold a testnet) with a fresh genesis from `seed`, and
    /// starts `n` nodes. Node `i > 0` bootstraps from node 0 and node `i - 1`.
    pub fn create(
        dir: &Path,
        n: usize,
        seed: u64,
        sync_period_secs: u64,
    ) -> anyhow::Result<Testnet> {
        if n == 0 {
            bail!("a testnet needs at least one node");
        }
        if dir.join(STATE_FILE).exists() {
            bail!(
                "{} already holds a testnet; stop it with `testnet down --dir {}` or pick another directory",
                dir.display(),
                dir.display()
            );
        }
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let eco = Ecosystem::new(seed)?;
        fs::write(dir.join("genesis.json"), eco.fx.genesis.to_json())?;
        for (file, key) in [
            ("root.key", eco.root_key()),
            ("authority.key", &eco.authority_key),
        ] {
            let path = dir.join(file);
            if !path.exists() {
                write_key_file(&path, key)?;
            }
        }
        let mut net = Testnet {
            dir: dir.to_path_buf(),
            eco,
            seed,
            nodes: Vec::new(),
            sync_period_secs,
            node_bin: node_bin(),
            niceness: Default::default(),
            children: Vec::new(),
        };
        for i in 0..n {
            let bootstrap = match i {
                0 => vec![],
                1 => vec![0],
                _ => vec![0, i - 1],
            };
            net.init_node(bootstrap)?;
        }
        for i in 0..n {
            net.spawn(i)?;
        }
        net.save()?;
        for i in 0..n {
            net.wait_ready(i)?;
        }
        Ok(net)
    }

    /// The did:keys of the nodes (their node keys), in node order: the witnesses a
    /// testnet names.
    pub fn node_dids(&self) -> anyhow::Result<Vec<DidKey>> {
        self.nodes
            .iter()
            .map(|n| {
                let path = n.dir.join("node.key");
                Ok(read_key_file(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?
                    .did())
            })
            .collect()
    }

    /// Names every node a checkpoint witness, with a majority quorum, by a `SetWitnesses`
    /// the root signs, submitted to node 0 (gossip carries it to the others). Returns the
    /// entry and the quorum.
    pub fn name_witnesses(&self) -> anyhow::Result<(SignedEntry, u16)> {
        let keys = self.node_dids()?;
        let quorum = u16::try_from(keys.len() / 2 + 1).context("too many nodes to witness")?;
        let entry = self
            .eco
            .fx
            .governance(Governance::SetWitnesses(WitnessSet { keys, quorum }))
            .issued_at(Timestamp::from_system_time(std::time::SystemTime::now()).as_secs())
            .nonce(self.seed ^ 0x517e)
            .by_roots(&self.eco.fx.root_keys(1));
        let client = self.client(0)?;
        let submitted = client
            .submit(&entry)
            .context("cannot submit the witness set to node-0")?;
        if !matches!(
            submitted.status,
            SubmitStatus::Accepted | SubmitStatus::Duplicate
        ) {
            bail!(
                "node-0 did not accept the witness set: {:?}",
                submitted.status
            );
        }
        Ok((entry, quorum))
    }

    /// The testnet in DIR, as `testnet up` left it.
    pub fn open(dir: &Path) -> anyhow::Result<Testnet> {
        let path = dir.join(STATE_FILE);
        let text = fs::read_to_string(&path)
            .with_context(|| format!("{} holds no testnet (no {STATE_FILE})", dir.display()))?;
        let state: StateFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a testnet state file", path.display()))?;
        let n = state.nodes.len();
        Ok(Testnet {
            dir: dir.to_path_buf(),
            eco: Ecosystem::new(state.seed)?,
            seed: state.seed,
            nodes: state.nodes,
            sync_period_secs: state.sync_period_secs,
            node_bin: node_bin(),
            niceness: Default::default(),
            children: (0..n).map(|_| None).collect(),
        })
    }

    fn save(&self) -> anyhow::Result<()> {
        let state = StateFile {
            seed: self.seed,
            sync_period_secs: self.sync_period_secs,
            nodes: self.nodes.clone(),
        };
        let tmp = self.dir.join(format!("{STATE_FILE}.tmp"));
        fs::write(&tmp, serde_json::to_vec_pretty(&state)?)?;
        fs::rename(&tmp, self.dir.join(STATE_FILE))?;
        Ok(())
    }

    /// Creates the data directory and configuration of a new node (not started).
    pub fn init_node(&mut self, bootstrap: Vec<usize>) -> anyhow::Result<usize> {
        let i = self.nodes.len();
        let name = format!("node-{i}");
        let dir = self.dir.join(&name);
        let out = Command::new(&self.node_bin)
            .args(["init", "--data-dir"])
            .arg(&dir)
            .arg("--genesis")
            .arg(self.dir.join("genesis.json"))
            .output()
            .with_context(|| format!("cannot run {}", self.node_bin.display()))?;
        if !out.status.success() {
            bail!(
                "registry-node init failed for {name}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let info = NodeInfo {
            name,
            api: format!("http://127.0.0.1:{}", free_port()?),
            p2p_port: free_port()?,
            dir,
            pid: 0,
            bootstrap,
        };
        self.nodes.push(info);
        self.children.push(None);
        self.write_config(i)?;
        Ok(i)
    }

    /// Writes node `i`'s `config.toml` (its ports, bootstrap peers and the loopback
    /// whitelist for gossipsub's IP-colocation penalty: every node here shares 127.0.0.1).
    pub fn write_config(&self, i: usize) -> anyhow::Result<()> {
        let node = &self.nodes[i];
        let bootstrap: Vec<String> = node
            .bootstrap
            .iter()
            .filter_map(|b| self.nodes.get(*b))
            .map(|b| format!("\"/ip4/127.0.0.1/tcp/{}\"", b.p2p_port))
            .collect();
        let api = node.api.trim_start_matches("http://");
        let config = format!(
            "[api]\naddr = \"{api}\"\n\n[p2p]\nlisten = [\"/ip4/127.0.0.1/tcp/{}\"]\nbootstrap = [{}]\n\
             colocation_whitelist = [\"127.0.0.1\"]\nsync_period_secs = {}\n",
            node.p2p_port,
            bootstrap.join(", "),
            self.sync_period_secs
        );
        fs::write(node.dir.join("config.toml"), config)?;
        Ok(())
    }

    /// Starts node `i`'s process (in its own process group, so it outlives a Ctrl-C of
    /// `testnet up`), appending to its `node.log`.
    pub fn spawn(&mut self, i: usize) -> anyhow::Result<()> {
        let node = self.nodes.get(i).ok_or_else(|| anyhow!("no node {i}"))?;
        if alive(node.pid) {
            bail!("{} is already running (pid {})", node.name, node.pid);
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node.dir.join("node.log"))?;
        let mut command = match self.niceness.get(&i) {
            Some(n) => {
                let mut c = Command::new("nice");
                c.arg("-n").arg(n.to_string()).arg(&self.node_bin);
                c
            }
            None => Command::new(&self.node_bin),
        };
        let child = command
            .args(["run", "--data-dir"])
            .arg(&node.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {}", self.node_bin.display()))?;
        self.nodes[i].pid = child.id();
        self.children[i] = Some(child);
        Ok(())
    }

    /// Waits until node `i` answers `/v1/status`, failing with its log if it exits.
    pub fn wait_ready(&mut self, i: usize) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_DEADLINE;
        let client = self.client(i)?;
        loop {
            if client.status().is_ok() {
                return Ok(());
            }
            let exited = match self.children.get_mut(i).and_then(Option::as_mut) {
                Some(child) => child.try_wait()?.is_some(),
                None => !alive(self.nodes[i].pid),
            };
            if exited || Instant::now() > deadline {
                let log =
                    fs::read_to_string(self.nodes[i].dir.join("node.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(10).collect();
                bail!(
                    "{} did not start serving{}:\n{}",
                    self.nodes[i].name,
                    if exited { " (it exited)" } else { " in time" },
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs node `i`'s process at niceness `n` from its next start (`nice -n`).
    pub fn set_niceness(&mut self, i: usize, n: u8) {
        self.niceness.insert(i, n);
    }

    /// Starts node `i` and waits until it serves.
    pub fn start(&mut self, i: usize) -> anyhow::Result<()> {
        self.spawn(i)?;
        self.save()?;
        self.wait_ready(i)
    }

    /// Stops node `i`: SIGTERM (or SIGKILL with `kill`), then waits for the process to end.
    pub fn stop(&mut self, i: usize, kill: bool) -> anyhow::Result<()> {
        let pid = self.nodes.get(i).map(|n| n.pid).unwrap_or(0);
        if pid != 0 {
            signal(pid, if kill { "-KILL" } else { "-TERM" });
            let deadline = Instant::now() + STOP_DEADLINE;
            loop {
                let gone = match self.children.get_mut(i).and_then(Option::as_mut) {
                    Some(child) => child.try_wait()?.is_some(),
                    None => !alive(pid),
                };
                if gone {
                    break;
                }
                if Instant::now() > deadline {
                    signal(pid, "-KILL");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        if let Some(slot) = self.children.get_mut(i) {
            *slot = None;
        }
        if let Some(node) = self.nodes.get_mut(i) {
            node.pid = 0;
        }
        self.save()
    }

    /// Stops every node.
    pub fn down(&mut self) -> anyhow::Result<()> {
        for i in 0..self.nodes.len() {
            if self.nodes[i].pid != 0 {
                signal(self.nodes[i].pid, "-TERM");
            }
        }
        for i in 0..self.nodes.len() {
            self.stop(i, false)?;
        }
        Ok(())
    }

    /// A client of node `i`.
    pub fn client(&self, i: usize) -> anyhow::Result<Client> {
        let node = self.nodes.get(i).ok_or_else(|| anyhow!("no node {i}"))?;
        Ok(Client::with_timeout(&node.api, Duration::from_secs(30))?)
    }

    /// A client of node `i`'s admin listener (its data directory's `admin.sock`).
    pub fn admin(&self, i: usize) -> anyhow::Result<AdminClient> {
        let node = self.nodes.get(i).ok_or_else(|| anyhow!("no node {i}"))?;
        Ok(AdminClient::socket(
            &node.dir.join(registry_cli::admin::SOCKET_FILE),
        ))
    }

    /// Clients of every node, in order.
    pub fn clients(&self) -> anyhow::Result<Vec<Client>> {
        (0..self.nodes.len()).map(|i| self.client(i)).collect()
    }

    /// Waits until every running node has at least `min_peers` peers.
    pub fn wait_connected(&self, min_peers: usize, deadline: Duration) -> anyhow::Result<()> {
        let end = Instant::now() + deadline;
        for (i, node) in self.nodes.iter().enumerate() {
            if node.pid == 0 {
                continue;
            }
            let client = self.client(i)?;
            loop {
                let peers = client.status().map(|s| s.peers).unwrap_or(0);
                if peers >= min_peers {
                    break;
                }
                if Instant::now() > end {
                    bail!("{} has {peers} peers, wanted {min_peers}", node.name);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }
}

impl Drop for Testnet {
    /// Processes this process started are stopped with it (scenarios); `testnet up` hands
    /// its nodes over with [`Testnet::detach`] first.
    fn drop(&mut self) {
        if self.children.iter().any(Option::is_some) {
            let _ = self.down();
        }
    }
}

impl Testnet {
    /// The registry-node binary this testnet starts its nodes from.
    pub fn node_bin(&self) -> &Path {
        &self.node_bin
    }

    /// Leaves the nodes running after this process exits (`testnet up`).
    pub fn detach(&mut self) {
        for c in &mut self.children {
            *c = None;
        }
    }
}
