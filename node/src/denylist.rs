//! The deny-list as the operator changes it at run time, kept across restarts.
//!
//! The config's `p2p.deny` is the base. `registry peers deny|allow` (the admin routes)
//! change it, and the changes are written to `DIR/denied-peers.json` before the answer:
//! `denied`, the peers denied at run time, and `allowed`, the config's peers allowed at
//! run time. At start-up the node refuses `(config - allowed) + denied`. The file is
//! written beside its target, fsynced and renamed into place, then the directory is
//! fsynced, so a crash leaves the old list or the new one, never a torn file; a file that
//! does not parse stops the node with its name, rather than silently letting peers in.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use p2p::PeerId;
use registry_core::file::{write_atomic, Existing};
use serde::{Deserialize, Serialize};

/// Most peers the file may name (each list); a longer file is refused.
const MAX_PEERS: usize = 10_000;
/// Largest file read.
const MAX_BYTES: u64 = 1 << 20;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    denied: Vec<String>,
    allowed: Vec<String>,
}

/// Where a denied peer's denial comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Config,
    Operator,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::Operator => "operator",
        }
    }
}

#[derive(Debug)]
pub struct DenyList {
    path: PathBuf,
    config: BTreeSet<PeerId>,
    denied: BTreeSet<PeerId>,
    allowed: BTreeSet<PeerId>,
}

impl DenyList {
    /// Reads `path` (absent: no run-time changes) on top of the config's list.
    pub fn load(path: &Path, config: &[PeerId]) -> anyhow::Result<DenyList> {
        let mut list = DenyList {
            path: path.to_path_buf(),
            config: config.iter().copied().collect(),
            denied: BTreeSet::new(),
            allowed: BTreeSet::new(),
        };
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(list),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let mut text = String::new();
        file.take(MAX_BYTES + 1)
            .read_to_string(&mut text)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if text.len() as u64 > MAX_BYTES {
            bail!("{} is larger than {MAX_BYTES} bytes", path.display());
        }
        let parsed: File = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} (the deny-list changes made at run time) does not parse; fix or delete it",
                path.display()
            )
        })?;
        let peers = |list: &[String], what: &str| -> anyhow::Result<BTreeSet<PeerId>> {
            if list.len() > MAX_PEERS {
                bail!(
                    "{}: {what} names more than {MAX_PEERS} peers",
                    path.display()
                );
            }
            list.iter()
                .map(|p| {
                    p.parse::<PeerId>().with_context(|| {
                        format!("{}: {what}: {p:?} is not a peer id", path.display())
                    })
                })
                .collect()
        };
        list.denied = peers(&parsed.denied, "denied")?;
        list.allowed = peers(&parsed.allowed, "allowed")?;
        Ok(list)
    }

    /// The peers to refuse.
    pub fn effective(&self) -> Vec<PeerId> {
        self.listed().into_iter().map(|(p, _)| p).collect()
    }

    /// The peers to refuse, and why, sorted.
    pub fn listed(&self) -> Vec<(PeerId, Source)> {
        let mut out: Vec<(PeerId, Source)> = self
            .denied
            .iter()
            .map(|p| (*p, Source::Operator))
            .chain(
                self.config
                    .iter()
                    .filter(|p| !self.allowed.contains(p) && !self.denied.contains(p))
                    .map(|p| (*p, Source::Config)),
            )
            .collect();
        out.sort_by_key(|(p, _)| *p);
        out
    }

    /// Records a deny and saves the list.
    pub fn deny(&mut self, peer: PeerId) -> anyhow::Result<()> {
        if self.denied.len() >= MAX_PEERS && !self.denied.contains(&peer) {
            bail!("the run-time deny-list holds {MAX_PEERS} peers already");
        }
        self.allowed.remove(&peer);
        if !self.config.contains(&peer) {
            self.denied.insert(peer);
        }
        self.save()
    }

    /// Records an allow and saves the list.
    pub fn allow(&mut self, peer: PeerId) -> anyhow::Result<()> {
        self.denied.remove(&peer);
        if self.config.contains(&peer) {
            self.allowed.insert(peer);
        }
        self.save()
    }

    fn save(&self) -> anyhow::Result<()> {
        let file = File {
            denied: self.denied.iter().map(ToString::to_string).collect(),
            allowed: self.allowed.iter().map(ToString::to_string).collect(),
        };
        let text = serde_json::to_string_pretty(&file)?;
        write_atomic(&self.path, text.as_bytes(), None, Existing::Replace)
            .with_context(|| format!("cannot save {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u8) -> PeerId {
        let key = p2p::keypair_from_seed([n; 32]).unwrap();
        key.public().to_peer_id()
    }

    #[test]
    fn changes_survive_a_reload_on_top_of_the_config() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("denied-peers.json");
        let (a, b, c) = (peer(1), peer(2), peer(3));
        let mut list = DenyList::load(&path, &[a])?;
        assert_eq!(list.effective(), vec![a]);
        list.deny(b)?;
        list.allow(a)?;
        let again = DenyList::load(&path, &[a, c])?;
        let mut want = vec![(b, Source::Operator), (c, Source::Config)];
        want.sort_by_key(|(p, _)| *p);
        assert_eq!(again.listed(), want);
        std::fs::write(&path, "{\"denied\": [\"nope\"], \"allowed\": []}")?;
        let e = DenyList::load(&path, &[]).err().map(|e| format!("{e:#}"));
        assert!(e.is_some_and(|e| e.contains("is not a peer id")));
        std::fs::write(&path, "{")?;
        assert!(DenyList::load(&path, &[]).is_err());
        Ok(())
    }
}
