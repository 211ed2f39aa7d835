//! Atomic, durable file writes: a temporary file beside the target, fsync, then a hard
//! link (when the target must not exist yet) or a rename (when it may be replaced), then
//! an fsync of the directory, so the new name itself survives a power loss. A crash never
//! leaves a half-written key, genesis or entry file, and a file that must be new is never
//! clobbered by one that appeared meanwhile. Every key, genesis and state file the
//! software writes goes through [`write_atomic`].

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// What to do when the target already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Fail with `io::ErrorKind::AlreadyExists`.
    Refuse,
    /// Replace it atomically.
    Replace,
}

/// `dir/.name.tmp-<pid>`, next to `path` so the final link or rename stays on one file
/// system.
pub fn temp_path(path: &Path) -> PathBuf {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes `contents` to `path` atomically and durably: once this returns, `path` holds
/// `contents` whatever happens next, and at no moment does it hold part of them. `mode`
/// (unix permission bits) applies from the moment the temporary file is created, so a
/// secret is never readable by others, even briefly.
pub fn write_atomic(
    path: &Path,
    contents: &[u8],
    mode: Option<u32>,
    existing: Existing,
) -> io::Result<()> {
    if existing == Existing::Refuse && path.exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} already exists", path.display()),
        ));
    }
    let tmp = temp_path(path);
    // Left by a process of the same id that was killed mid-write (ids are reused).
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        if let Some(mode) = mode {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut f = opts.open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        match existing {
            Existing::Refuse => {
                // A hard link fails if `path` appeared meanwhile, where rename would clobber it.
                fs::hard_link(&tmp, path)?;
                fs::remove_file(&tmp)?;
            }
            Existing::Replace => fs::rename(&tmp, path)?,
        }
        sync_parent(path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Fsyncs the directory holding `path`, making a name just created, linked or renamed
/// in it durable. A no-op where directories cannot be opened (not unix).
pub fn sync_parent(path: &Path) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    sync_dir(dir)
}

/// Fsyncs the directory `dir` itself (its list of names).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}
