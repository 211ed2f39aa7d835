//! A write deadline for a connection: hyper's HTTP/1 driver has none, so a client that
//! stops reading its response would hold the connection (and its slot) for ever once the
//! socket's buffers are full.
//!
//! [`WriteDeadline`] wraps the socket. Whenever a write (or flush, or shutdown) cannot
//! proceed, a timer is armed; any progress disarms it; if the timer fires while the
//! write is still blocked, the write fails with `TimedOut`, hyper drops the connection
//! and its slot is freed. A client that reads slowly but steadily is never cut off: the
//! deadline bounds a stall, not the time a whole response takes.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A socket whose writes fail when blocked for longer than `timeout`.
#[derive(Debug)]
pub struct WriteDeadline<S> {
    inner: S,
    timeout: Duration,
    timer: Pin<Box<Sleep>>,
    /// Whether `timer` measures a write that is blocked now.
    armed: bool,
}

impl<S> WriteDeadline<S> {
    pub fn new(inner: S, timeout: Duration) -> WriteDeadline<S> {
        WriteDeadline {
            inner,
            timeout,
            timer: Box::pin(tokio::time::sleep(timeout)),
            armed: false,
        }
    }

    /// Passes a finished write through (disarming the timer), or arms the timer on a
    /// blocked one and fails it once the timer has fired.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.armed = false;
            return polled;
        }
        if !self.armed {
            self.timer.as_mut().reset(Instant::now() + self.timeout);
            self.armed = true;
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.armed = false;
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the client took none of the response for {} s",
                        self.timeout.as_secs()
                    ),
                )))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.watch(cx, polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_blocked_write_fails_after_the_deadline_and_progress_resets_it() {
        let deadline = Duration::from_millis(600);
        let (client, server) = tokio::io::duplex(1024);
        let mut server = WriteDeadline::new(server, deadline);
        let mut client = client;
        // Fill the pipe; the next write blocks.
        let filled = server.write_all(&[0u8; 1024]).await;
        assert!(filled.is_ok(), "{filled:?}");
        // The reader takes some every 300 ms: slow, but faster than the deadline.
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 512];
            for _ in 0..4 {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let _ = client.read(&mut buf).await;
            }
            client
        });
        let started = Instant::now();
        let slow = server.write_all(&[1u8; 2048]).await;
        assert!(
            slow.is_ok(),
            "a slow but steady reader was cut off: {slow:?}"
        );
        assert!(started.elapsed() >= 2 * deadline, "{:?}", started.elapsed());
        let _client = reader.await;
        // Now nobody reads: the write fails once blocked for the deadline.
        let started = Instant::now();
        let err = server.write_all(&[2u8; 4096]).await.err();
        assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::TimedOut));
        let waited = started.elapsed();
        assert!(waited >= deadline && waited < deadline * 4, "{waited:?}");
    }
}
