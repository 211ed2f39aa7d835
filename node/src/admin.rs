//! The admin listener (`[admin]`): where the deny-list's admin routes are served, apart
//! from the public API.
//!
//! By default a Unix socket in the data directory, mode 0600, so only the node's user
//! (and root) can connect. It is bound inside a fresh 0700 directory, made 0600, then
//! renamed into place, so no other user can connect to it in between. A socket file left
//! by a node that was killed is replaced at start (once a connection to it is refused,
//! which shows nothing serves it); a file that is not a socket, or a socket something
//! still answers on, is never touched. A clean stop removes the socket.
//!
//! Optionally a loopback TCP address (config validation refuses any other), with a bearer
//! token by default: the content of `DATA_DIR/admin.token`, created at start (random,
//! 0600) when missing; a token file that group or others may read is refused.

use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use tokio::net::{TcpListener, UnixListener};
use tracing::info;

use crate::config::{AdminConfig, AdminListen, ADMIN_TOKEN_FILE};
use crate::http::admin::AdminToken;

/// Longest socket path the kernel takes (`sun_path` is 108 bytes, NUL included).
const MAX_SOCKET_PATH: usize = 107;
/// Largest token file read.
const MAX_TOKEN_FILE: u64 = 4096;
/// Shortest token accepted from a token file.
const MIN_TOKEN_LEN: usize = 16;

/// A bound admin listener.
#[derive(Debug)]
pub enum AdminListener {
    Unix {
        listener: UnixListener,
        /// Removes the socket file when dropped.
        socket: SocketFile,
    },
    Tcp {
        listener: TcpListener,
        token: Option<AdminToken>,
    },
}

impl AdminListener {
    /// Where the listener is, as an operator passes it to `registry peers --admin`.
    pub fn location(&self) -> String {
        match self {
            AdminListener::Unix { socket, .. } => socket.path.display().to_string(),
            AdminListener::Tcp { listener, .. } => match listener.local_addr() {
                Ok(addr) => format!("http://{addr}"),
                Err(_) => "http://(unknown address)".into(),
            },
        }
    }
}

/// The socket file this node created; dropping it removes the file, unless something
/// else has replaced it since.
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    identity: (u64, u64),
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let ours = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| (m.dev(), m.ino()) == self.identity);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Binds the admin listener `config` describes, for the node in `data_dir`. Needs the
/// tokio runtime.
pub async fn bind(data_dir: &Path, config: &AdminConfig) -> anyhow::Result<AdminListener> {
    match config.listen {
        AdminListen::Unix => bind_socket(&config.socket_path(data_dir)),
        AdminListen::Tcp => {
            let listener = TcpListener::bind(config.addr)
                .await
                .with_context(|| format!("cannot listen on admin.addr {}", config.addr))?;
            let token = if config.token {
                let file = data_dir.join(ADMIN_TOKEN_FILE);
                Some(AdminToken::new(&load_or_create_token(&file)?, &file))
            } else {
                None
            };
            Ok(AdminListener::Tcp { listener, token })
        }
    }
}

fn bind_socket(path: &Path) -> anyhow::Result<AdminListener> {
    let shown = path.display();
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let private = parent.join(format!(".adm{}", std::process::id()));
    let staged = private.join("s");
    for p in [path, staged.as_path()] {
        if p.as_os_str().len() > MAX_SOCKET_PATH {
            bail!(
                "cannot serve the admin socket at {shown}: the path {} is longer than the \
                 {MAX_SOCKET_PATH} bytes a Unix socket path may have; set admin.socket to a \
                 shorter (absolute) path",
                p.display()
            );
        }
    }
    remove_stale(path)?;
    if private.exists() {
        // Left by an earlier run that had this process id and was killed mid-bind.
        std::fs::remove_dir_all(&private)
            .with_context(|| format!("cannot remove {}", private.display()))?;
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .with_context(|| format!("cannot create {}", private.display()))?;
    let placed = place_socket(&staged, path);
    let _ = std::fs::remove_dir_all(&private);
    let std_listener =
        placed.with_context(|| format!("cannot serve the admin socket at {shown}"))?;
    let meta = std::fs::symlink_metadata(path)
        .with_context(|| format!("cannot read the admin socket {shown}"))?;
    let socket = SocketFile {
        path: path.to_path_buf(),
        identity: (meta.dev(), meta.ino()),
    };
    std_listener
        .set_nonblocking(true)
        .context("cannot make the admin socket non-blocking")?;
    let listener = UnixListener::from_std(std_listener).context("cannot use the admin socket")?;
    Ok(AdminListener::Unix { listener, socket })
}

/// Binds at `staged` (inside a 0700 directory), makes the socket 0600 and renames it to
/// `path`.
fn place_socket(staged: &Path, path: &Path) -> anyhow::Result<std::os::unix::net::UnixListener> {
    let listener = std::os::unix::net::UnixListener::bind(staged)?;
    std::fs::set_permissions(staged, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(staged, path)?;
    Ok(listener)
}

/// Removes a socket file nothing serves any more; refuses anything else at `path`.
fn remove_stale(path: &Path) -> anyhow::Result<()> {
    let shown = path.display();
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => bail!("cannot check {shown}: {e}"),
    };
    if !meta.file_type().is_socket() {
        bail!(
            "{shown} exists and is not a socket; refusing to replace it with the admin socket \
             (move it away, or set admin.socket)"
        );
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => bail!(
            "the admin socket {shown} is served by another process (another node with this \
             data directory or admin.socket?); refusing to take it over"
        ),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            std::fs::remove_file(path)
                .with_context(|| format!("cannot remove the stale admin socket {shown}"))?;
            info!(socket = %shown, "removed the admin socket left by an earlier run");
            Ok(())
        }
        Err(e) => bail!("cannot check whether {shown} is still served: {e}"),
    }
}

/// The token in `path`, or a new random one written there (0600) when the file is missing.
fn load_or_create_token(path: &Path) -> anyhow::Result<String> {
    let shown = path.display();
    match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            if !meta.is_file() {
                bail!("the admin token file {shown} is not a regular file");
            }
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                bail!(
                    "refusing to use the admin token file {shown}: its mode {mode:03o} lets \
                     group or others read it; `chmod 600 {shown}`, or delete it to have a new \
                     token made at start"
                );
            }
            if meta.len() > MAX_TOKEN_FILE {
                bail!("the admin token file {shown} is larger than {MAX_TOKEN_FILE} bytes");
            }
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the admin token file {shown}"))?;
            let token = text.trim();
            if token.len() < MIN_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
                bail!(
                    "the admin token file {shown} holds no usable token: one line of at least \
                     {MIN_TOKEN_LEN} printable characters, no spaces"
                );
            }
            Ok(token.to_string())
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|e| {
                anyhow::anyhow!("no randomness from the OS for the admin token: {e}")
            })?;
            let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("cannot create the admin token file {shown}"))?;
            file.write_all(format!("{token}\n").as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write the admin token file {shown}"))?;
            if let Some(dir) = path.parent() {
                let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
            }
            info!(file = %shown, "created the admin token file");
            Ok(token)
        }
        Err(e) => bail!("cannot check the admin token file {shown}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_socket_is_private_replaces_a_stale_one_and_is_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let config = AdminConfig::default();
        let path = config.socket_path(dir.path());
        // A stale socket: bound, then its listener closed.
        drop(std::os::unix::net::UnixListener::bind(&path));
        assert!(path.exists());
        let bound = bind(dir.path(), &config).await;
        let bound = bound.unwrap_or_else(|e| panic!("{e:#}"));
        let meta = std::fs::metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        // Only the socket is left in the directory (no staging directory).
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert_eq!(names, vec![std::ffi::OsString::from("admin.sock")]);
        // A live socket is never taken over.
        let second = bind(dir.path(), &config).await;
        let e = second.err().map(|e| format!("{e:#}")).unwrap_or_default();
        assert!(e.contains("served by another process"), "{e}");
        assert_eq!(bound.location(), path.display().to_string());
        drop(bound);
        assert!(!path.exists());
        // Nor is a file that is not a socket.
        std::fs::write(&path, "x").unwrap();
        let e = bind(dir.path(), &config).await.err();
        let e = e.map(|e| format!("{e:#}")).unwrap_or_default();
        assert!(e.contains("is not a socket"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).ok().as_deref(), Some("x"));
    }

    #[test]
    fn token_files_are_created_private_and_refused_when_shared() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(ADMIN_TOKEN_FILE);
        let made = load_or_create_token(&file).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(made.len(), 64);
        let mode = std::fs::metadata(&file).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600));
        assert_eq!(load_or_create_token(&file).ok(), Some(made));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = load_or_create_token(&file).err().map(|e| e.to_string());
        assert!(
            e.as_deref().is_some_and(|e| e.contains("mode 640")),
            "{e:?}"
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&file, "short\n").unwrap();
        assert!(load_or_create_token(&file).is_err());
    }
}
