//! The HTTP server itself (hyper's HTTP/1 connection driver), for any listener: the
//! public API's TCP listener and the admin API's Unix socket or loopback TCP listener
//! are served by the same code, with the same protections.
//!
//! Per listener: a cap on open connections (further ones wait in the listen backlog); a
//! deadline for each request's headers, which also closes idle keep-alive connections;
//! a deadline on every write ([`WriteDeadline`]), so a client that stops reading its
//! response loses the connection; a bound on the request head hyper buffers. Request
//! bodies are bounded and timed by the router's `read_body` layer.

use std::fmt::Debug;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;
use tracing::{trace, warn};

use super::deadline::WriteDeadline;
use crate::config::ApiConfig;

/// Most bytes of a request head (request line and headers) hyper parses; a larger head
/// gets hyper's bare 431 (see `problem::head_limits` for the limits answered as
/// problems, which are lower). Also the read buffer's target size (hyper may read a
/// little past it).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most headers hyper parses in one request; more get its bare 431.
pub const MAX_PARSED_HEADERS: usize = 256;

/// Pause after a failed `accept` (out of file descriptors, say) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A listener [`serve`] can take connections from.
pub trait Accept: Send + Sync + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The client's address, given to handlers as `ConnectInfo<Peer>`.
    type Peer: Clone + Debug + Send + Sync + 'static;

    fn accept(&self) -> impl Future<Output = io::Result<(Self::Io, Self::Peer)>> + Send;
}

impl Accept for TcpListener {
    type Io = TcpStream;
    type Peer = SocketAddr;

    async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = TcpListener::accept(self).await?;
        let _ = stream.set_nodelay(true);
        Ok((stream, peer))
    }
}

impl Accept for UnixListener {
    type Io = UnixStream;
    type Peer = tokio::net::unix::SocketAddr;

    async fn accept(&self) -> io::Result<(UnixStream, Self::Peer)> {
        UnixListener::accept(self).await
    }
}

/// The limits [`serve`] applies to each connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub write_timeout: Duration,
}

impl ConnLimits {
    pub fn new(config: &ApiConfig) -> ConnLimits {
        ConnLimits {
            max_connections: config.max_connections,
            header_timeout: Duration::from_secs(config.header_read_timeout_secs),
            write_timeout: Duration::from_secs(config.write_timeout_secs),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets every open connection
/// finish its request in flight and returns once all are closed (callers bound that
/// wait). At most `limits.max_connections` connections are open at once; each must send
/// a request's headers within `limits.header_timeout` (idle keep-alive connections
/// included), and each write must make progress within `limits.write_timeout`, or the
/// connection is closed. Each request carries the peer's address as `ConnectInfo`.
pub async fn serve<L: Accept>(
    listener: L,
    app: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a receiver; `closed()` resolves when the last is gone.
    let (open_tx, open_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    warn!(error = %e, "cannot accept an HTTP connection; retrying shortly");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let tagged = peer.clone();
        let service = app
            .clone()
            .map_request(move |req: axum::http::Request<Incoming>| {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(ConnectInfo(tagged.clone()));
                req
            });
        let mut stop = stop_rx.clone();
        let open = open_rx.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(MAX_HEAD_BYTES)
                .max_header_size(MAX_HEAD_BYTES)
                .max_headers(MAX_PARSED_HEADERS)
                .keep_alive(true);
            let io = TokioIo::new(WriteDeadline::new(stream, limits.write_timeout));
            let conn = builder.serve_connection(io, TowerToHyperService::new(service));
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        trace!(?peer, error = %e, "HTTP connection ended");
                    }
                }
                () = async { let _ = stop.wait_for(|stop| *stop).await; } => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                }
            }
            drop(slot);
            drop(open);
        });
    }
    let _ = stop_tx.send(true);
    drop(open_rx);
    open_tx.closed().await;
}
