//! Node configuration: defaults, then a TOML file, then command-line flags.
//!
//! Every section and field has a default, so an empty file (or none) is a valid
//! configuration; unknown fields are errors, so a misspelt setting is never silently
//! ignored. `node/config.example.toml` documents every field and must equal the defaults.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use p2p::sync::SyncConfig;
use p2p::{Multiaddr, NetworkConfig, PeerId};
use registry_core::block::MAX_BLOCK_ENTRIES;
use serde::{Deserialize, Serialize};

/// The file read from the data directory when no `--config` is given.
pub const CONFIG_FILE: &str = "config.toml";
/// Largest configuration file read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The whole configuration of a node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The HTTP API (native and TRQP).
    pub api: ApiConfig,
    /// The admin API (the deny-list), on a listener of its own.
    pub admin: AdminConfig,
    /// Acceptance of entries.
    pub registry: RegistryConfig,
    /// The ledger writer (group commit).
    pub writer: WriterConfig,
    /// Peers: listening, discovery, gossip and sync.
    pub p2p: P2pConfig,
    /// Logging.
    pub log: LogConfig,
    /// Checkpoints: slots, lag, what is kept, clock skew.
    pub checkpoint: crate::checkpoint::CheckpointConfig,
}

/// `[p2p]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct P2pConfig {
    /// Multiaddrs to listen on for peers.
    pub listen: Vec<String>,
    /// Multiaddrs of peers to connect to at start (`/ip4/1.2.3.4/tcp/7071/p2p/12D3...`).
    pub bootstrap: Vec<String>,
    /// Find peers on the local network by mDNS.
    pub mdns: bool,
    /// Established connections in all, and per peer.
    pub max_connections: u32,
    pub max_connections_per_peer: u32,
    /// Peer ids refused from the start (the admin API adds and removes at run time).
    pub deny: Vec<String>,
    /// IP addresses exempt from gossipsub's IP-colocation penalty. A testnet of many
    /// nodes on one machine lists "127.0.0.1"; elsewhere, leave it empty.
    pub colocation_whitelist: Vec<IpAddr>,
    /// Seconds between syncs with a random connected peer.
    pub sync_period_secs: u64,
}

impl Default for P2pConfig {
    /// The network's own defaults (`p2p::NetworkConfig`), written once there, except the
    /// listen address: a node listens on the well-known port 7071.
    fn default() -> P2pConfig {
        let net = NetworkConfig::default();
        P2pConfig {
            listen: vec!["/ip4/127.0.0.1/tcp/7071".into()],
            bootstrap: Vec::new(),
            mdns: net.mdns,
            max_connections: net.max_connections,
            max_connections_per_peer: net.max_connections_per_peer,
            deny: Vec::new(),
            colocation_whitelist: net.colocation_whitelist,
            sync_period_secs: net.sync.period.as_secs(),
        }
    }
}

impl P2pConfig {
    /// The network's settings, with every address and peer id parsed.
    pub fn network(&self) -> anyhow::Result<NetworkConfig> {
        let addrs = |list: &[String], what: &str| -> anyhow::Result<Vec<Multiaddr>> {
            list.iter()
                .map(|a| {
                    a.parse::<Multiaddr>()
                        .with_context(|| format!("p2p.{what}: {a:?} is not a multiaddr"))
                })
                .collect()
        };
        let deny = self
            .deny
            .iter()
            .map(|p| {
                p.parse::<PeerId>()
                    .with_context(|| format!("p2p.deny: {p:?} is not a peer id"))
            })
            .collect::<anyhow::Result<Vec<PeerId>>>()?;
        let defaults = NetworkConfig::default();
        Ok(NetworkConfig {
            listen: addrs(&self.listen, "listen")?,
            bootstrap: addrs(&self.bootstrap, "bootstrap")?,
            mdns: self.mdns,
            max_connections: self.max_connections,
            max_connections_per_peer: self.max_connections_per_peer,
            deny,
            colocation_whitelist: self.colocation_whitelist.clone(),
            sync: SyncConfig {
                period: Duration::from_secs(self.sync_period_secs),
                ..defaults.sync.clone()
            },
            ..defaults
        })
    }
}

/// `[api]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Address the HTTP API listens on.
    pub addr: SocketAddr,
    /// Largest request body accepted, in bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Largest body of `POST /v1/entries/batch` (up to 1,024 entries), in bytes.
    pub max_batch_body_bytes: usize,
    /// Requests served at once; further requests get 503 until one finishes.
    pub max_concurrent_requests: usize,
    /// Open client connections; further connections wait in the listen backlog.
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers (and an idle keep-alive
    /// connection to start its next request) before the connection is closed.
    pub header_read_timeout_secs: u64,
    /// Seconds a client has to send a request's body; slower bodies get 408.
    pub body_read_timeout_secs: u64,
    /// Seconds a response may wait for the client to take more of it (a write that
    /// makes no progress for this long closes the connection).
    pub write_timeout_secs: u64,
}

impl Default for ApiConfig {
    fn default() -> ApiConfig {
        ApiConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 7070)),
            max_body_bytes: 262_144,
            max_batch_body_bytes: 4_194_304,
            max_concurrent_requests: 1024,
            max_connections: 2048,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 10,
            write_timeout_secs: 10,
        }
    }
}

/// The admin token file's name in the data directory (`admin.token = true`).
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// `[admin]`: where the admin routes (`POST /v1/admin/peers/deny|allow`) are served.
/// Never on the public API: whoever can reach the admin listener can cut the node off
/// from its peers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// `unix` (a Unix socket, mode 0600) or `tcp` (a loopback address).
    pub listen: AdminListen,
    /// With `listen = "unix"`: the socket's path; a relative path is in the data directory.
    pub socket: PathBuf,
    /// With `listen = "tcp"`: the address, which must be a loopback address.
    pub addr: SocketAddr,
    /// With `listen = "tcp"`: require `Authorization: Bearer TOKEN`, TOKEN being the
    /// content of `DATA_DIR/admin.token` (0600; created at start when missing).
    pub token: bool,
    /// Open admin connections, apart from the public API's.
    pub max_connections: usize,
}

impl Default for AdminConfig {
    fn default() -> AdminConfig {
        AdminConfig {
            listen: AdminListen::Unix,
            socket: PathBuf::from("admin.sock"),
            addr: SocketAddr::from(([127, 0, 0, 1], 7072)),
            token: true,
            max_connections: 16,
        }
    }
}

impl AdminConfig {
    /// The socket's path for a node whose data directory is `data_dir`.
    pub fn socket_path(&self, data_dir: &Path) -> PathBuf {
        data_dir.join(&self.socket)
    }
}

/// The kind of listener the admin API is served on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdminListen {
    Unix,
    Tcp,
}

/// `[registry]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// Entries that may wait for a missing reference; the oldest is dropped past this.
    pub pending_capacity: usize,
}

impl Default for RegistryConfig {
    fn default() -> RegistryConfig {
        RegistryConfig {
            pending_capacity: registry_core::registry::DEFAULT_PENDING_CAPACITY,
        }
    }
}

/// `[writer]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WriterConfig {
    /// Most submissions checked, admitted and flushed together in one group commit.
    pub max_batch: usize,
    /// Capacity of the writer's mailbox; submissions beyond it get 503.
    pub queue: usize,
}

impl Default for WriterConfig {
    fn default() -> WriterConfig {
        WriterConfig {
            max_batch: 1024,
            queue: 4096,
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `human` (readable lines) or `json` (one object per line).
    pub format: LogFormat,
    /// A tracing filter: a level (`info`) or directives (`info,registry_node=debug`);
    /// the `RUST_LOG` environment variable overrides it.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            format: LogFormat::Human,
            level: "info".into(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

/// Settings given on the command line; they win over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub api_addr: Option<SocketAddr>,
    pub log_format: Option<LogFormat>,
    /// `--listen`: replaces `p2p.listen` when given.
    pub listen: Vec<String>,
    /// `--bootstrap`: added to `p2p.bootstrap`.
    pub bootstrap: Vec<String>,
    /// `--mdns`: turns mDNS on.
    pub mdns: bool,
}

impl Config {
    /// Defaults, then `file` (or `DATA_DIR/config.toml` when it exists), then `overrides`.
    pub fn load(
        data_dir: &Path,
        file: Option<&Path>,
        overrides: &Overrides,
    ) -> anyhow::Result<Config> {
        let implicit = data_dir.join(CONFIG_FILE);
        let path: Option<PathBuf> = match file {
            Some(f) => Some(f.to_path_buf()),
            None => implicit.is_file().then_some(implicit),
        };
        let mut config = match path {
            Some(p) => Config::from_toml(&read_limited(&p)?)
                .with_context(|| format!("invalid configuration file {}", p.display()))?,
            None => Config::default(),
        };
        config.apply(overrides);
        config.validate()?;
        Ok(config)
    }

    pub fn from_toml(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    pub fn to_toml(&self) -> anyhow::Result<String> {
        toml::to_string(self).context("cannot write the configuration as TOML")
    }

    pub fn apply(&mut self, overrides: &Overrides) {
        if let Some(addr) = overrides.api_addr {
            self.api.addr = addr;
        }
        if let Some(format) = overrides.log_format {
            self.log.format = format;
        }
        if !overrides.listen.is_empty() {
            self.p2p.listen = overrides.listen.clone();
        }
        for addr in &overrides.bootstrap {
            if !self.p2p.bootstrap.contains(addr) {
                self.p2p.bootstrap.push(addr.clone());
            }
        }
        self.p2p.mdns |= overrides.mdns;
    }

    /// Refuses settings the node cannot run with.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.api.max_body_bytes < 1024 {
            bail!("api.max_body_bytes must be at least 1024");
        }
        if self.api.max_batch_body_bytes < self.api.max_body_bytes {
            bail!("api.max_batch_body_bytes must be at least api.max_body_bytes");
        }
        if self.api.max_concurrent_requests == 0 {
            bail!("api.max_concurrent_requests must be at least 1");
        }
        if self.api.max_connections == 0 {
            bail!("api.max_connections must be at least 1");
        }
        if !(1..=3600).contains(&self.api.header_read_timeout_secs)
            || !(1..=3600).contains(&self.api.body_read_timeout_secs)
        {
            bail!("api.header_read_timeout_secs and api.body_read_timeout_secs must be between 1 and 3600");
        }
        if !(1..=3600).contains(&self.api.write_timeout_secs) {
            bail!("api.write_timeout_secs must be between 1 and 3600");
        }
        self.validate_admin()?;
        // Rebuilding state at start-up can hold one block's worth of entries pending (a
        // block is read in id order, so an entry may come before one it refers to).
        if self.registry.pending_capacity < MAX_BLOCK_ENTRIES {
            bail!("registry.pending_capacity must be at least {MAX_BLOCK_ENTRIES}");
        }
        if !(1..=65_536).contains(&self.writer.max_batch) {
            bail!("writer.max_batch must be between 1 and 65536");
        }
        if !(1..=1_000_000).contains(&self.writer.queue) {
            bail!("writer.queue must be between 1 and 1000000");
        }
        if self.p2p.listen.is_empty() {
            bail!("p2p.listen must name at least one address");
        }
        if self.p2p.max_connections == 0 || self.p2p.max_connections_per_peer == 0 {
            bail!("p2p.max_connections and p2p.max_connections_per_peer must be at least 1");
        }
        if !(1..=86_400).contains(&self.p2p.sync_period_secs) {
            bail!("p2p.sync_period_secs must be between 1 and 86400");
        }
        self.p2p.network()?;
        self.checkpoint.validate()?;
        if self.log.level.trim().is_empty() {
            bail!("log.level must not be empty");
        }
        Ok(())
    }
}

impl Config {
    fn validate_admin(&self) -> anyhow::Result<()> {
        let admin = &self.admin;
        if !(1..=1024).contains(&admin.max_connections) {
            bail!("admin.max_connections must be between 1 and 1024");
        }
        match admin.listen {
            AdminListen::Unix => {
                if admin.socket.as_os_str().is_empty() {
                    bail!(
                        "admin.socket must name a path (relative paths are in the data directory)"
                    );
                }
            }
            AdminListen::Tcp => {
                if !admin.addr.ip().is_loopback() {
                    bail!(
                        "admin.addr {} is not a loopback address: the admin API must not be \
                         reachable from other machines; use 127.0.0.1 or [::1], or \
                         listen = \"unix\" (the default)",
                        admin.addr
                    );
                }
                if admin.addr == self.api.addr {
                    bail!(
                        "admin.addr {} is also api.addr: the admin API needs a listener of its own",
                        admin.addr
                    );
                }
            }
        }
        Ok(())
    }
}

fn read_limited(path: &Path) -> anyhow::Result<String> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read configuration file {}", path.display()))?;
    if meta.len() > MAX_CONFIG_BYTES {
        bail!(
            "configuration file {} is larger than {MAX_CONFIG_BYTES} bytes",
            path.display()
        );
    }
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read configuration file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Config {
        Config::from_toml(text).unwrap()
    }

    #[test]
    fn example_file_documents_the_defaults() {
        let example = parse(include_str!("../config.example.toml"));
        assert_eq!(example, Config::default());
        assert!(example.validate().is_ok());
    }

    #[test]
    fn empty_file_is_the_defaults_and_dump_round_trips() {
        assert_eq!(parse(""), Config::default());
        let dumped = Config::default().to_toml().unwrap_or_default();
        assert_eq!(parse(&dumped), Config::default());
    }

    #[test]
    fn file_overrides_defaults_and_flags_override_file() {
        let mut c = parse("[api]\naddr = \"127.0.0.1:9000\"\n[log]\nformat = \"json\"\n");
        assert_eq!(c.api.addr.port(), 9000);
        assert_eq!(c.api.max_body_bytes, ApiConfig::default().max_body_bytes);
        assert_eq!(c.log.format, LogFormat::Json);
        c.apply(&Overrides {
            api_addr: Some(SocketAddr::from(([127, 0, 0, 1], 9001))),
            listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
            bootstrap: vec!["/ip4/127.0.0.1/tcp/9".into()],
            mdns: true,
            ..Overrides::default()
        });
        assert_eq!(c.api.addr.port(), 9001);
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.p2p.listen, vec!["/ip4/127.0.0.1/tcp/0".to_string()]);
        assert_eq!(c.p2p.bootstrap, vec!["/ip4/127.0.0.1/tcp/9".to_string()]);
        assert!(c.p2p.mdns);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        assert!(Config::from_toml("[api]\nadr = \"127.0.0.1:1\"\n").is_err());
        assert!(Config::from_toml("[nope]\n").is_err());
        assert!(Config::from_toml("[log]\nformat = \"xml\"\n").is_err());
        let mut c = Config::default();
        c.writer.max_batch = 0;
        assert!(c.validate().is_err());
        let mut c = Config::default();
        c.registry.pending_capacity = 10;
        assert!(c.validate().is_err());
        for bad in [
            "[p2p]\nlisten = [\"tcp:7071\"]\n",
            "[p2p]\nbootstrap = [\"127.0.0.1:7071\"]\n",
            "[p2p]\ndeny = [\"not-a-peer\"]\n",
            "[p2p]\nlisten = []\n",
        ] {
            assert!(parse(bad).validate().is_err(), "{bad}");
        }
        assert!(Config::from_toml("[p2p]\ncolocation_whitelist = [\"nope\"]\n").is_err());
        assert!(parse("[api]\nwrite_timeout_secs = 0\n").validate().is_err());
    }

    #[test]
    fn admin_listener_is_a_socket_by_default_and_tcp_only_on_loopback() {
        let c = Config::default();
        assert_eq!(c.admin.listen, AdminListen::Unix);
        assert_eq!(
            c.admin.socket_path(Path::new("/d")),
            PathBuf::from("/d/admin.sock")
        );
        let abs = parse("[admin]\nsocket = \"/run/registry/admin.sock\"\n");
        assert_eq!(
            abs.admin.socket_path(Path::new("/d")),
            PathBuf::from("/run/registry/admin.sock")
        );
        for ok in [
            "[admin]\nlisten = \"tcp\"\naddr = \"127.0.0.1:9\"\n",
            "[admin]\nlisten = \"tcp\"\naddr = \"[::1]:9\"\ntoken = false\n",
            // Not listening on TCP: the address is not used.
            "[admin]\naddr = \"0.0.0.0:9\"\n",
        ] {
            assert!(parse(ok).validate().is_ok(), "{ok}");
        }
        for (bad, says) in [
            (
                "[admin]\nlisten = \"tcp\"\naddr = \"0.0.0.0:9\"\n",
                "not a loopback address",
            ),
            (
                "[admin]\nlisten = \"tcp\"\naddr = \"192.0.2.1:9\"\n",
                "not a loopback address",
            ),
            (
                "[admin]\nlisten = \"tcp\"\naddr = \"127.0.0.1:7070\"\n",
                "also api.addr",
            ),
            ("[admin]\nsocket = \"\"\n", "admin.socket"),
            ("[admin]\nmax_connections = 0\n", "admin.max_connections"),
        ] {
            let e = parse(bad).validate().err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|e| e.contains(says)),
                "{bad}: {e:?}"
            );
        }
        assert!(Config::from_toml("[admin]\nlisten = \"http\"\n").is_err());
    }

    #[test]
    fn load_reads_the_data_dir_file_unless_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let none = Config::load(dir.path(), None, &Overrides::default());
        assert_eq!(none.ok(), Some(Config::default()));
        std::fs::write(dir.path().join(CONFIG_FILE), "[writer]\nqueue = 7\n").unwrap_or(());
        let implicit = Config::load(dir.path(), None, &Overrides::default());
        assert_eq!(implicit.map(|c| c.writer.queue).ok(), Some(7));
        let named = dir.path().join("other.toml");
        std::fs::write(&named, "[writer]\nqueue = 9\n").unwrap_or(());
        let explicit = Config::load(dir.path(), Some(&named), &Overrides::default());
        assert_eq!(explicit.map(|c| c.writer.queue).ok(), Some(9));
        let missing = dir.path().join("missing.toml");
        assert!(Config::load(dir.path(), Some(&missing), &Overrides::default()).is_err());
    }
}
