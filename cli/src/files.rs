//! File handling of the CLI: bounded reads and atomic writes (temporary file in the same
//! directory, fsync, rename), so a crash never leaves a half-written entry or genesis.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use registry_core::entry::SignedEntry;
use registry_core::file::{write_atomic as write_atomic_file, Existing};

/// Largest entry or genesis file read.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Reads a whole text file of at most `MAX_FILE_BYTES`.
pub fn read_bounded(path: &Path) -> Result<String> {
    let file = fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {} as text", path.display()))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        bail!("{} is larger than {MAX_FILE_BYTES} bytes", path.display());
    }
    Ok(text)
}

/// Reads a signed (or unsigned draft) entry from a JSON file.
pub fn read_entry(path: &Path) -> Result<SignedEntry> {
    let text = read_bounded(path)?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a registry entry (JSON)", path.display()))
}

/// Whether to replace an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    Refuse,
    Replace,
}

/// Writes `contents` to `path` atomically.
pub fn write_atomic(path: &Path, contents: &[u8], overwrite: Overwrite) -> Result<()> {
    if overwrite == Overwrite::Refuse && path.exists() {
        bail!(
            "{} already exists; refusing to overwrite it",
            path.display()
        );
    }
    let existing = match overwrite {
        Overwrite::Refuse => Existing::Refuse,
        Overwrite::Replace => Existing::Replace,
    };
    write_atomic_file(path, contents, None, existing)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Writes an entry as pretty JSON.
pub fn write_entry(path: &Path, entry: &SignedEntry, overwrite: Overwrite) -> Result<()> {
    let mut text = serde_json::to_string_pretty(entry).context("cannot encode the entry")?;
    text.push('\n');
    write_atomic(path, text.as_bytes(), overwrite)
}

/// The temporary file used while writing `path` (see `registry_core::file`).
pub fn temp_path(path: &Path) -> PathBuf {
    registry_core::file::temp_path(path)
}
