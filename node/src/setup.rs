//! The data directory: its layout, `registry-node init`, and the dev registry of `--dev`.
//!
//! ```text
//! DIR/node.key       the node's own key (0600); its libp2p identity once networking lands
//! DIR/genesis.json   the registry's genesis (a copy; the ledger holds the authoritative one)
//! DIR/ledger/        the sled ledger
//! DIR/config.toml    optional configuration
//! DIR/root.key       dev mode only: the dev registry's root key (0600)
//! ```

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use registry_core::file::{sync_dir, sync_parent, write_atomic, Existing};
use registry_core::keys::{read_key_file, write_key_file};
use registry_core::store::Ledger;
use registry_core::{EntityId, Genesis, SecretKey};

/// Largest genesis file read.
const MAX_GENESIS_BYTES: u64 = 1 << 20;
/// The dev registry's authority id.
pub const DEV_AUTHORITY_ID: &str = "did:web:dev.registry.example";
/// The dev registry's name.
pub const DEV_NAME: &str = "Development registry";

/// Paths inside a node's data directory.
#[derive(Debug, Clone)]
pub struct DataDir(PathBuf);

impl DataDir {
    pub fn new(path: &Path) -> DataDir {
        DataDir(path.to_path_buf())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn ledger(&self) -> PathBuf {
        self.0.join("ledger")
    }

    pub fn genesis(&self) -> PathBuf {
        self.0.join("genesis.json")
    }

    /// The deny-list changes made at run time (see `denylist`).
    pub fn denied_peers(&self) -> PathBuf {
        self.0.join("denied-peers.json")
    }

    pub fn node_key(&self) -> PathBuf {
        self.0.join("node.key")
    }

    pub fn root_key(&self) -> PathBuf {
        self.0.join("root.key")
    }

    /// Whether the ledger directory exists and holds anything.
    pub fn has_ledger(&self) -> bool {
        std::fs::read_dir(self.ledger()).is_ok_and(|mut d| d.next().is_some())
    }
}

/// A new secret key from the operating system's randomness.
pub fn random_key() -> anyhow::Result<SecretKey> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness available: {e}"))?;
    Ok(SecretKey::from_seed(seed))
}

/// Reads and validates a genesis file.
pub fn read_genesis(path: &Path) -> anyhow::Result<Genesis> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read genesis file {}", path.display()))?;
    if meta.len() > MAX_GENESIS_BYTES {
        bail!(
            "genesis file {} is larger than {MAX_GENESIS_BYTES} bytes",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read genesis file {}", path.display()))?;
    Genesis::from_json(&text).with_context(|| format!("{} is not a valid genesis", path.display()))
}

/// `registry-node init`: node key, copy of the genesis, empty ledger. Refuses a data
/// directory that already holds a ledger.
///
/// Each step is atomic and durable, so an init stopped at any moment (a kill, a crash, a
/// power loss) leaves either a complete data directory or one that a second init (or
/// `--dev`) completes: the key and the genesis copy are written beside their place,
/// fsynced, linked into it and the directory fsynced; the ledger is created under
/// [`INIT_LEDGER`], flushed, then renamed to `ledger/` (and the directory fsynced), so a
/// `ledger/` directory is never a half-made one.
pub fn init(dir: &DataDir, genesis: &Genesis) -> anyhow::Result<()> {
    if dir.has_ledger() {
        bail!(
            "{} already holds a ledger; refusing to initialise it again",
            dir.path().display()
        );
    }
    create_private_dir(dir.path())?;
    let key_path = dir.node_key();
    if key_path.exists() {
        read_key_file(&key_path).context("the existing node key cannot be used")?;
    } else {
        write_key_file(&key_path, &random_key()?)?;
    }
    let genesis_path = dir.genesis();
    if genesis_path.exists() {
        let existing = read_genesis(&genesis_path)?;
        if existing != *genesis {
            bail!(
                "{} holds another registry's genesis; refusing to replace it",
                genesis_path.display()
            );
        }
    } else {
        let text = genesis.to_json() + "\n";
        write_atomic(&genesis_path, text.as_bytes(), None, Existing::Refuse)
            .with_context(|| format!("cannot write {}", genesis_path.display()))?;
    }
    create_ledger(dir, genesis)
}

/// Where `init` builds the ledger before renaming it to `ledger/`.
pub const INIT_LEDGER: &str = ".ledger.init";

/// Creates the empty ledger in `ledger/` all at once (see [`init`]).
fn create_ledger(dir: &DataDir, genesis: &Genesis) -> anyhow::Result<()> {
    let building = dir.path().join(INIT_LEDGER);
    // Left by an init that was stopped before the rename: never a ledger in use.
    if building.exists() {
        std::fs::remove_dir_all(&building)
            .with_context(|| format!("cannot remove {}", building.display()))?;
    }
    let ledger = Ledger::create(&building, genesis)
        .with_context(|| format!("cannot create the ledger in {}", building.display()))?;
    drop(ledger);
    let target = dir.ledger();
    std::fs::rename(&building, &target)
        .and_then(|()| sync_dir(dir.path()))
        .with_context(|| format!("cannot move the new ledger to {}", target.display()))
}

/// What `--dev` set up.
#[derive(Debug)]
pub struct DevRegistry {
    pub genesis: Genesis,
    pub root_key: PathBuf,
    /// True when this run created the registry.
    pub created: bool,
}

/// Creates the dev registry in `dir` on first use (root key, genesis, node key, ledger);
/// afterwards reuses it.
pub fn prepare_dev(dir: &DataDir) -> anyhow::Result<DevRegistry> {
    let root_key = dir.root_key();
    if dir.has_ledger() {
        let genesis = read_genesis(&dir.genesis())?;
        return Ok(DevRegistry {
            genesis,
            root_key,
            created: false,
        });
    }
    create_private_dir(dir.path())?;
    let root = if root_key.exists() {
        read_key_file(&root_key)?
    } else {
        let key = random_key()?;
        write_key_file(&root_key, &key)?;
        key
    };
    let genesis = match dir.genesis().exists() {
        true => read_genesis(&dir.genesis())?,
        false => Genesis::new(
            EntityId::parse(DEV_AUTHORITY_ID)?,
            DEV_NAME.into(),
            crate::now(),
            vec![root.did()],
            1,
            4,
        )?,
    };
    init(dir, &genesis)?;
    Ok(DevRegistry {
        genesis,
        root_key,
        created: true,
    })
}

fn create_private_dir(path: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(path)
        .and_then(|()| sync_parent(path))
        .with_context(|| format!("cannot create data directory {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_registry_is_created_once_then_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(&tmp.path().join("dev"));
        let first = prepare_dev(&dir).unwrap_or_else(|e| panic!("{e:#}"));
        assert!(first.created);
        assert_eq!(first.genesis.authority_id.as_str(), DEV_AUTHORITY_ID);
        let root = read_key_file(&first.root_key).unwrap();
        assert_eq!(first.genesis.roots, vec![root.did()]);
        assert!(read_key_file(&dir.node_key()).is_ok());
        let again = prepare_dev(&dir).unwrap_or_else(|e| panic!("{e:#}"));
        assert!(!again.created);
        assert_eq!(again.genesis, first.genesis);
        // A second init of the same directory is refused.
        assert!(init(&dir, &first.genesis).is_err());
    }
}
