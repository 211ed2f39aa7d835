//! Framing of sync messages on a libp2p stream: a 4-byte big-endian length, then the
//! message encoded by [`crate::protocol`]. A length over the limit is refused before
//! anything is read or allocated.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::request_response;
use libp2p::StreamProtocol;

use crate::metrics::NetCounters;
use crate::protocol::{SyncRequest, SyncResponse, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};

/// The request-response codec of the sync protocol; counts the bytes it reads and writes.
#[derive(Debug, Clone, Default)]
pub struct SyncCodec {
    counters: Arc<NetCounters>,
}

impl SyncCodec {
    pub fn new(counters: Arc<NetCounters>) -> SyncCodec {
        SyncCodec { counters }
    }

    fn read(&self, n: usize) {
        self.counters
            .sync_bytes_in
            .fetch_add(n as u64 + 4, Ordering::Relaxed);
    }

    fn wrote(&self, n: usize) {
        self.counters
            .sync_bytes_out
            .fetch_add(n as u64 + 4, Ordering::Relaxed);
    }
}

/// Bytes reserved for a frame before its bytes arrive.
const READ_CHUNK: usize = 64 * 1024;

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, limit: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > limit {
        return Err(invalid(format!(
            "sync message of {len} bytes exceeds the limit of {limit} bytes"
        )));
    }
    // The buffer grows with the bytes that arrive, not with the declared length, so a
    // peer that declares a large frame and sends little holds little memory.
    let mut buf = Vec::with_capacity(len.min(READ_CHUNK));
    (&mut *io).take(len as u64).read_to_end(&mut buf).await?;
    if buf.len() != len {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("sync message ended after {} of {len} bytes", buf.len()),
        ));
    }
    Ok(buf)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "sync message too large"))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(bytes).await?;
    io.close().await
}

/// The peer's bytes broke the protocol: a length over the limit, or a message that does
/// not decode. Only reads fail this way ([`broke_protocol`] relies on it).
fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// Our own message over the limit: a local fault, never the peer's.
fn too_large(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{what} over the limit"),
    )
}

/// Whether a sync stream failed because of what the peer sent (penalised), rather than a
/// timeout, a closed connection or a local fault, which honest peers meet too.
pub fn broke_protocol(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::InvalidData
}

impl request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = read_frame(io, MAX_REQUEST_BYTES).await?;
        self.read(bytes.len());
        SyncRequest::decode(&bytes).map_err(invalid)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<SyncResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = read_frame(io, MAX_RESPONSE_BYTES).await?;
        self.read(bytes.len());
        SyncResponse::decode(&bytes).map_err(invalid)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: SyncRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let bytes = request.encode();
        if bytes.len() > MAX_REQUEST_BYTES {
            return Err(too_large("sync request"));
        }
        self.wrote(bytes.len());
        write_frame(io, &bytes).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: SyncResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let bytes = response.encode();
        if bytes.len() > MAX_RESPONSE_BYTES {
            return Err(too_large("sync reply"));
        }
        self.wrote(bytes.len());
        write_frame(io, &bytes).await
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use futures::io::Cursor;
    use request_response::Codec;

    use super::*;

    fn read_reply(bytes: Vec<u8>) -> io::Result<SyncResponse> {
        let protocol = StreamProtocol::new("/test/sync/1");
        block_on(SyncCodec::default().read_response(&protocol, &mut Cursor::new(bytes)))
    }

    #[test]
    fn replies_that_break_the_protocol_are_told_apart_from_failures() {
        // A length prefix of 4 GiB is refused before anything is read or allocated.
        let mut huge = u32::MAX.to_be_bytes().to_vec();
        huge.extend_from_slice(&[0xa5; 64]);
        let e = read_reply(huge).map(|_| ()).err();
        assert!(e.as_ref().is_some_and(broke_protocol), "{e:?}");
        // A well-framed message that does not decode.
        let mut garbage = 3u32.to_be_bytes().to_vec();
        garbage.extend_from_slice(&[0xff, 0xff, 0xff]);
        let e = read_reply(garbage).map(|_| ()).err();
        assert!(e.as_ref().is_some_and(broke_protocol), "{e:?}");
        // A stream that ends early may be an honest peer going away: not penalised.
        let mut short = 100u32.to_be_bytes().to_vec();
        short.extend_from_slice(&[0; 10]);
        let e = read_reply(short).map(|_| ()).err();
        assert!(e.as_ref().is_some_and(|e| !broke_protocol(e)), "{e:?}");
        // A valid reply still reads.
        let ok = SyncResponse::TooLarge { count: 3 }.encode();
        let mut framed = (ok.len() as u32).to_be_bytes().to_vec();
        framed.extend_from_slice(&ok);
        assert_eq!(
            read_reply(framed).map_err(|e| e.to_string()),
            Ok(SyncResponse::TooLarge { count: 3 })
        );
    }
}
