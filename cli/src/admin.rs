//! A blocking client of a node's admin listener (`[admin]` in the node's config): the
//! deny-list's `POST /v1/admin/peers/deny|allow`, which the public API never serves.
//!
//! The listener is a Unix socket (the default: `DATA_DIR/admin.sock`, mode 0600) or a
//! loopback TCP address, optionally requiring a bearer token (the content of the node's
//! `DATA_DIR/admin.token`). Each call is one HTTP/1.1 request on a fresh connection
//! (`Connection: close`), with a deadline on every read and write and a bound on the
//! answer's size.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use registry_core::api::{PeerChange, PeerRequest, Problem};

use crate::error::ClientError;

/// The socket's name in a data directory (the node's default `admin.socket`).
pub const SOCKET_FILE: &str = "admin.sock";
/// Time limit of each read and write, and of connecting over TCP.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest answer read.
const MAX_REPLY_BYTES: u64 = 256 * 1024;
/// Largest token file read.
const MAX_TOKEN_FILE: u64 = 4096;

/// Where a node's admin listener is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminEndpoint {
    /// A Unix socket.
    Socket(PathBuf),
    /// A loopback TCP address, as given (`http://127.0.0.1:7072`) and resolved.
    Tcp { url: String, addrs: Vec<SocketAddr> },
}

/// A raw answer of the admin listener.
#[derive(Debug, Clone)]
pub struct AdminReply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A client of one node's admin listener.
#[derive(Clone)]
pub struct AdminClient {
    endpoint: AdminEndpoint,
    token: Option<String>,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .finish()
    }
}

impl AdminClient {
    /// `spec` is `http://127.0.0.1:PORT` (a TCP admin listener; the host must be a
    /// loopback address or `localhost`), a socket's path, or a data directory (its
    /// `admin.sock`).
    pub fn new(spec: &str) -> Result<AdminClient, ClientError> {
        let endpoint = if spec.contains("://") {
            parse_url(spec)?
        } else if spec.trim().is_empty() {
            return Err(ClientError::BadUrl {
                url: String::new(),
                why: "expected a socket path, a data directory or http://127.0.0.1:PORT",
            });
        } else {
            let path = PathBuf::from(spec);
            if path.is_dir() {
                AdminEndpoint::Socket(path.join(SOCKET_FILE))
            } else {
                AdminEndpoint::Socket(path)
            }
        };
        Ok(AdminClient {
            endpoint,
            token: None,
        })
    }

    /// A client of the Unix socket at `path`.
    pub fn socket(path: &Path) -> AdminClient {
        AdminClient {
            endpoint: AdminEndpoint::Socket(path.to_path_buf()),
            token: None,
        }
    }

    /// Sends `token` as `Authorization: Bearer TOKEN` with every request.
    pub fn with_token(mut self, token: String) -> AdminClient {
        self.token = Some(token);
        self
    }

    pub fn endpoint(&self) -> &AdminEndpoint {
        &self.endpoint
    }

    /// Where requests go: the socket's path or the URL.
    pub fn location(&self) -> String {
        match &self.endpoint {
            AdminEndpoint::Socket(p) => p.display().to_string(),
            AdminEndpoint::Tcp { url, .. } => url.clone(),
        }
    }

    /// `POST /v1/admin/peers/deny` (`deny`) or `/allow`.
    pub fn set_peer_denied(&self, peer_id: &str, deny: bool) -> Result<PeerChange, ClientError> {
        let path = if deny {
            "/v1/admin/peers/deny"
        } else {
            "/v1/admin/peers/allow"
        };
        let body = serde_json::to_vec(&PeerRequest {
            peer_id: peer_id.to_string(),
        })
        .map_err(|e| ClientError::BadResponse {
            detail: format!("cannot encode the request: {e}"),
        })?;
        let reply = self.post(path, "application/json", &body)?;
        if (200..300).contains(&reply.status) {
            return serde_json::from_slice(&reply.body).map_err(|e| ClientError::BadResponse {
                detail: format!("HTTP {}: {e}", reply.status),
            });
        }
        if reply.status == 404 {
            return Err(ClientError::BadResponse {
                detail: format!(
                    "{} answered 404 to {path}: it is not a node's admin listener (the public \
                     API does not serve admin routes)",
                    self.location()
                ),
            });
        }
        Err(problem(&reply))
    }

    /// `POST path` with `body`; any answer (error statuses included) is returned.
    pub fn post(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<AdminReply, ClientError> {
        let auth = self
            .token
            .as_ref()
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: registry-cli/{}\r\n\
             Content-Type: {content_type}\r\nContent-Length: {}\r\n{auth}Connection: close\r\n\r\n",
            env!("CARGO_PKG_VERSION"),
            body.len()
        );
        let unreachable = |e: std::io::Error| ClientError::Unreachable {
            url: self.location(),
            detail: e.to_string(),
        };
        let raw = match &self.endpoint {
            AdminEndpoint::Socket(p) => {
                let s = UnixStream::connect(p).map_err(unreachable)?;
                s.set_read_timeout(Some(ADMIN_TIMEOUT))
                    .map_err(unreachable)?;
                s.set_write_timeout(Some(ADMIN_TIMEOUT))
                    .map_err(unreachable)?;
                exchange(s, head.as_bytes(), body)
            }
            AdminEndpoint::Tcp { addrs, .. } => {
                let s = connect_tcp(addrs).map_err(unreachable)?;
                s.set_read_timeout(Some(ADMIN_TIMEOUT))
                    .map_err(unreachable)?;
                s.set_write_timeout(Some(ADMIN_TIMEOUT))
                    .map_err(unreachable)?;
                exchange(s, head.as_bytes(), body)
            }
        }
        .map_err(|e| ClientError::BadResponse {
            detail: format!("{}: {e}", self.location()),
        })?;
        parse_reply(&raw).map_err(|detail| ClientError::BadResponse {
            detail: format!("{}: {detail}", self.location()),
        })
    }
}

/// Reads a token file: one line; refused when group or others may read it (a token
/// others can read is no secret), as the node refuses its own.
pub fn read_token_file(path: &Path) -> anyhow::Result<String> {
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read the admin token file {shown}"))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "refusing to use the admin token file {shown}: its mode {mode:03o} lets group or \
             others read it (`chmod 600 {shown}`)"
        );
    }
    if meta.len() > MAX_TOKEN_FILE {
        bail!("the admin token file {shown} is larger than {MAX_TOKEN_FILE} bytes");
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the admin token file {shown}"))?;
    let token = text.trim();
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        bail!("the admin token file {shown} holds no token (one line, no spaces)");
    }
    Ok(token.to_string())
}

fn parse_url(spec: &str) -> Result<AdminEndpoint, ClientError> {
    let bad = |why| ClientError::BadUrl {
        url: spec.chars().take(200).collect(),
        why,
    };
    let trimmed = spec.trim().trim_end_matches('/');
    let Some(authority) = trimmed.strip_prefix("http://") else {
        return Err(bad(
            "expected http://127.0.0.1:PORT (a TCP admin listener), or a socket path",
        ));
    };
    if authority.contains(['/', '?', '#', '@']) {
        return Err(bad("an admin URL is http://HOST:PORT, nothing more"));
    }
    let addrs: Vec<SocketAddr> = authority
        .to_socket_addrs()
        .map_err(|_| bad("expected http://HOST:PORT with a loopback HOST"))?
        .collect();
    if addrs.is_empty() || !addrs.iter().all(|a| a.ip().is_loopback()) {
        return Err(bad(
            "a node serves its admin API on loopback only (127.0.0.1, [::1] or localhost)",
        ));
    }
    Ok(AdminEndpoint::Tcp {
        url: trimmed.to_string(),
        addrs,
    })
}

fn connect_tcp(addrs: &[SocketAddr]) -> std::io::Result<TcpStream> {
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    for a in addrs {
        match TcpStream::connect_timeout(a, ADMIN_TIMEOUT) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Writes the request, then reads until the node closes the connection.
fn exchange<S: Read + Write>(mut s: S, head: &[u8], body: &[u8]) -> std::io::Result<Vec<u8>> {
    s.write_all(head)?;
    s.write_all(body)?;
    s.flush()?;
    let mut raw = Vec::new();
    (&mut s).take(MAX_REPLY_BYTES + 1).read_to_end(&mut raw)?;
    if raw.len() as u64 > MAX_REPLY_BYTES {
        return Err(std::io::Error::other(format!(
            "the answer is larger than {MAX_REPLY_BYTES} bytes"
        )));
    }
    Ok(raw)
}

/// Parses an HTTP/1.1 answer read to the end of the connection.
fn parse_reply(raw: &[u8]) -> Result<AdminReply, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("the connection closed mid-answer".into()),
        Err(e) => return Err(format!("not an HTTP answer: {e}")),
    };
    let status = resp.code.unwrap_or(0);
    let header = |name: &str| {
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    let content_type = header("content-type").unwrap_or_default();
    let rest = &raw[head_len..];
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(len) = header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| format!("bad Content-Length {len:?}"))?;
        rest.get(..len)
            .ok_or("the connection closed mid-body")?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(AdminReply {
        status,
        content_type,
        body,
    })
}

fn dechunk(mut s: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = s
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a truncated chunked body")?;
        let size = std::str::from_utf8(&s[..eol]).unwrap_or("");
        let size = size.split(';').next().unwrap_or("").trim();
        let n = usize::from_str_radix(size, 16).map_err(|_| format!("bad chunk size {size:?}"))?;
        s = &s[eol + 2..];
        if n == 0 {
            return Ok(out);
        }
        let chunk = s.get(..n).ok_or("a truncated chunk")?;
        out.extend_from_slice(chunk);
        s = s.get(n + 2..).ok_or("a truncated chunk")?;
    }
}

/// The node's problem document, or one made up from whatever else it sent.
fn problem(reply: &AdminReply) -> ClientError {
    let text = String::from_utf8_lossy(&reply.body);
    match serde_json::from_str::<Problem>(&text) {
        Ok(p) => ClientError::Problem(p),
        Err(_) => ClientError::Problem(Problem {
            kind: "about:blank".into(),
            title: "error".into(),
            status: reply.status,
            detail: text
                .chars()
                .take(200)
                .collect::<String>()
                .trim()
                .to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_sockets_data_directories_or_loopback_urls() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_string_lossy().into_owned();
        let c = AdminClient::new(&d).unwrap();
        assert_eq!(
            c.endpoint(),
            &AdminEndpoint::Socket(dir.path().join(SOCKET_FILE))
        );
        let c = AdminClient::new("/run/x.sock").unwrap();
        assert_eq!(c.location(), "/run/x.sock");
        let c = AdminClient::new("http://127.0.0.1:7072/").unwrap();
        assert_eq!(c.location(), "http://127.0.0.1:7072");
        assert!(AdminClient::new("http://[::1]:7072").is_ok());
        for bad in [
            "",
            "http://192.0.2.1:7072",
            "http://127.0.0.1:7072/v1",
            "https://127.0.0.1:7072",
            "http://127.0.0.1",
        ] {
            assert!(AdminClient::new(bad).is_err(), "{bad}");
        }
        assert!(!format!("{:?}", c.with_token("sekrit".into())).contains("sekrit"));
    }

    #[test]
    fn answers_are_parsed_with_lengths_or_chunks() {
        let r = parse_reply(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}xx",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
        let r = parse_reply(b"HTTP/1.1 401 Unauthorized\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n")
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (401, &b"abcd"[..]));
        assert!(parse_reply(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nab").is_err());
        assert!(parse_reply(b"garbage").is_err());
    }

    #[test]
    fn token_files_readable_by_others_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("admin.token");
        std::fs::write(&f, "abcdef0123456789\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_token_file(&f).err().map(|e| e.to_string());
        assert!(
            e.as_deref().is_some_and(|e| e.contains("mode 644")),
            "{e:?}"
        );
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            read_token_file(&f).ok().as_deref(),
            Some("abcdef0123456789")
        );
    }
}
